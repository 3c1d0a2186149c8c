/* Memory safety: every access is checked against the region table.  Out of bounds just below
 * and just above each region (stack, run memory, host regions), writes to read-only regions,
 * accesses crossing a region's end, misaligned atomics, and the message format. */
#include "tests/client_runtime/vm_test_util.h"

/* r0 = *(u<size> *)(base + off) via lddw, so any address can be probed. */
static int probe(fj_vm *vm, uint64_t base, int16_t off, enum fj_op op, void *mem, size_t len) {
  const fj_insn p[] = {LDDW(1, base), X(op, 0, 1, off, 0), EXIT()};
  tu_load(vm, p, NINSN(p));
  uint64_t r0;
  return fj_vm_run(vm, 0, mem, len, &r0);
}
static int poke(fj_vm *vm, uint64_t base, int16_t off, enum fj_op op, void *mem, size_t len) {
  const fj_insn p[] = {LDDW(1, base), X(op, 1, 0, off, 1), ALUI(MOV64_IMM, 0, 0), EXIT()};
  tu_load(vm, p, NINSN(p));
  uint64_t r0;
  return fj_vm_run(vm, 0, mem, len, &r0);
}

static void test_stack_bounds(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  /* top of frame 0 is the end of the stack: [r10-8] ok, [r10] and [r10-4 .. +4) not */
  const fj_insn ok[] = {ST(STDW, 10, -8, 5), LDX(LDXDW, 0, 10, -8), EXIT()};
  assert_int_equal(tu_run_mem(vm, ok, NINSN(ok), NULL, 0), 5);
  const fj_insn above[] = {LDX(LDXB, 0, 10, 0), EXIT()};
  const char *msg = tu_run_fail(vm, above, NINSN(above), NULL, 0, FJ_EOOB);
  assert_contains(msg, "pc 0 (ldxb): memory access out of bounds: 1-byte read at 0x");
  assert_contains(msg, "not in any region");
  const fj_insn cross[] = {LDX(LDXW, 0, 10, -2), EXIT()};
  assert_contains(tu_run_fail(vm, cross, NINSN(cross), NULL, 0, FJ_EOOB), "crosses the end of region 0");
  /* the whole stack (all frames) is addressable from frame 0; one byte below it is not */
  const int16_t depth = FJ_MAX_CALL_DEPTH * FJ_STACK_SIZE;
  const fj_insn bottom[] = {ST(STB, 10, (int16_t)-depth, 1), LDX(LDXB, 0, 10, (int16_t)-depth), EXIT()};
  assert_int_equal(tu_run_mem(vm, bottom, NINSN(bottom), NULL, 0), 1);
  const fj_insn below[] = {ST(STB, 10, (int16_t)(-depth - 1), 1), EXIT()};
  msg = tu_run_fail(vm, below, NINSN(below), NULL, 0, FJ_EOOB);
  assert_contains(msg, "pc 0 (stb): memory access out of bounds: 1-byte write at 0x");
  assert_int_equal(fj_vm_error_pc(vm), 0);
  fj_vm_destroy(vm);
}

static void test_run_memory_bounds(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  uint8_t *buf = calloc(1, 64);
  uint8_t *mem = buf + 16;  /* 32 bytes of run memory inside a bigger buffer */
  uint64_t base = (uint64_t)(uintptr_t)mem;
  assert_int_equal(probe(vm, base, 0, FJ_OP_LDXB, mem, 32), 0);
  assert_int_equal(probe(vm, base, 24, FJ_OP_LDXDW, mem, 32), 0);
  assert_int_equal(probe(vm, base, 25, FJ_OP_LDXDW, mem, 32), FJ_EOOB);
  assert_contains(fj_vm_errmsg(vm), "crosses the end of region 1");
  assert_int_equal(probe(vm, base, 32, FJ_OP_LDXB, mem, 32), FJ_EOOB);
  assert_int_equal(probe(vm, base, -1, FJ_OP_LDXB, mem, 32), FJ_EOOB);
  assert_contains(fj_vm_errmsg(vm), "not in any region");
  assert_int_equal(poke(vm, base, -1, FJ_OP_STB, mem, 32), FJ_EOOB);
  assert_int_equal(poke(vm, base, 31, FJ_OP_STB, mem, 32), 0);
  assert_int_equal(poke(vm, base, 30, FJ_OP_STW, mem, 32), FJ_EOOB);
  assert_int_equal(buf[15], 0);  /* nothing written outside */
  assert_int_equal(buf[48], 0);
  assert_int_equal(buf[47], 1);
  /* run memory is only valid during its run */
  assert_int_equal(probe(vm, base, 0, FJ_OP_LDXB, NULL, 0), FJ_EOOB);
  /* addresses near 0 and near 2^64 wrap safely */
  assert_int_equal(probe(vm, 0, 0, FJ_OP_LDXB, mem, 32), FJ_EOOB);
  assert_int_equal(probe(vm, UINT64_MAX, 0, FJ_OP_LDXDW, mem, 32), FJ_EOOB);
  assert_int_equal(probe(vm, UINT64_MAX - 2, 0, FJ_OP_LDXDW, mem, 32), FJ_EOOB);
  assert_int_equal(probe(vm, base, INT16_MIN, FJ_OP_LDXB, mem, 32), FJ_EOOB);
  fj_vm_stats st;
  fj_vm_get_stats(vm, &st);
  assert_true(st.errors >= 10);
  free(buf);
  fj_vm_destroy(vm);
}

static void test_read_only_region(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  static uint64_t ro[2] = {11, 22};
  int idx = fj_vm_region_add(vm, ro, sizeof ro, FJ_REGION_READ);
  assert_int_equal(idx, 2);
  uint64_t base = (uint64_t)(uintptr_t)ro;
  assert_int_equal(probe(vm, base, 8, FJ_OP_LDXDW, NULL, 0), 0);
  assert_int_equal(poke(vm, base, 8, FJ_OP_STDW, NULL, 0), FJ_EOOB);
  assert_contains(fj_vm_errmsg(vm), "pc 2 (stdw): memory access out of bounds: 8-byte write at 0x");
  assert_contains(fj_vm_errmsg(vm), "region 2 is read-only");
  assert_int_equal(ro[1], 22);
  /* atomics need write permission */
  const fj_insn at[] = {LDDW(1, base), ALUI(MOV64_IMM, 2, 1), AT(AT_ADD64, 1, 2, 0), EXIT()};
  assert_contains(tu_run_fail(vm, at, NINSN(at), NULL, 0, FJ_EOOB), "read-only");
  assert_int_equal(ro[0], 11);
  /* edges of a host region */
  assert_int_equal(probe(vm, base, -1, FJ_OP_LDXB, NULL, 0), FJ_EOOB);
  assert_int_equal(probe(vm, base, 16, FJ_OP_LDXB, NULL, 0), FJ_EOOB);
  assert_int_equal(probe(vm, base, 15, FJ_OP_LDXB, NULL, 0), 0);
  /* a write-only region cannot be read */
  static uint8_t wo[8];
  assert_true(fj_vm_region_add(vm, wo, sizeof wo, FJ_REGION_WRITE) > 2);
  assert_int_equal(poke(vm, (uint64_t)(uintptr_t)wo, 0, FJ_OP_STB, NULL, 0), 0);
  assert_int_equal(wo[0], 1);
  assert_int_equal(probe(vm, (uint64_t)(uintptr_t)wo, 0, FJ_OP_LDXB, NULL, 0), FJ_EOOB);
  assert_contains(fj_vm_errmsg(vm), "is not readable");
  fj_vm_destroy(vm);
}

static void test_region_table_full(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  static uint8_t cells[FJ_MAX_REGIONS];
  int last = 0;
  for (int i = 2; i < FJ_MAX_REGIONS; i++) last = fj_vm_region_add(vm, &cells[i], 1, FJ_REGION_READ);
  assert_int_equal(last, FJ_MAX_REGIONS - 1);
  assert_int_equal(fj_vm_region_add(vm, &cells[0], 1, FJ_REGION_READ), FJ_ENOSPC);
  /* the last one is reachable (slow path past 30 other regions) */
  assert_int_equal(probe(vm, (uint64_t)(uintptr_t)&cells[FJ_MAX_REGIONS - 1], 0, FJ_OP_LDXB, NULL, 0), 0);
  fj_vm_destroy(vm);
}

static void test_misaligned_atomic(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  uint64_t m[2] = {0, 0};
  const fj_insn p[] = {ALUI(MOV64_IMM, 2, 1), AT(AT_ADD64, 1, 2, 4), EXIT()};
  assert_contains(tu_run_fail(vm, p, NINSN(p), m, sizeof m, FJ_EOOB), "pc 1 (lock add): memory access out of bounds: misaligned atomic access");
  const fj_insn q[] = {ALUI(MOV64_IMM, 2, 1), AT(AT_ADD32, 1, 2, 4), ALUI(MOV64_IMM, 0, 0), EXIT()};
  assert_int_equal(tu_run_mem(vm, q, NINSN(q), m, sizeof m), 0);  /* 4-aligned 32-bit is fine */
  assert_int_equal(m[0], 1ull << 32);
  const fj_insn o[] = {ALUI(MOV64_IMM, 2, 1), AT(AT_ADD64, 1, 2, 16), EXIT()};
  assert_contains(tu_run_fail(vm, o, NINSN(o), m, sizeof m, FJ_EOOB), "not in any region");
  fj_vm_destroy(vm);
}

/* Alternating stack and memory accesses exercise both region caches. */
static void test_cache_switching(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  uint64_t m[4] = {1, 2, 3, 4};
  const fj_insn p[] = {
    LDX(LDXDW, 2, 1, 0), STX(STXDW, 10, 2, -8), LDX(LDXDW, 3, 1, 8), STX(STXDW, 10, 3, -16),
    LDX(LDXDW, 4, 10, -8), LDX(LDXDW, 5, 10, -16), ALUR(ADD64_REG, 4, 5), STX(STXDW, 1, 4, 24),
    LDX(LDXDW, 0, 1, 24), EXIT(),
  };
  assert_int_equal(tu_run_mem(vm, p, NINSN(p), m, sizeof m), 3);
  assert_int_equal(m[3], 3);
  /* after a fault the next run starts clean */
  assert_int_equal(probe(vm, 8, 0, FJ_OP_LDXB, m, sizeof m), FJ_EOOB);
  assert_int_equal(tu_run_mem(vm, p, NINSN(p), m, sizeof m), 3);
  fj_vm_destroy(vm);
}

/* Random programs: whatever the validator accepts must run to some result without touching
 * memory outside the regions (ASan in SAN=1 builds checks the host side). */
static uint64_t rng_state = 0x12345678abcdefull;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)rng_state;
}
static void test_random_programs(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  fj_vm_set_insn_limit(vm, 2000);
  uint8_t mem[64];
  static const int32_t imms[] = {0, 1, -1, 8, 63, 64, 4096, INT32_MIN, INT32_MAX, FJ_HELPER_MEMCPY,
                                 FJ_HELPER_GET_PRANDOM_U32};
  int loaded = 0, ran = 0;
  for (int iter = 0; iter < 30000; iter++) {
    fj_insn p[12];
    uint32_t n = 2 + rnd() % 10;
    for (uint32_t i = 0; i < n; i++) {
      enum fj_op op = (enum fj_op)(1 + rnd() % (FJ_OP__COUNT - 1));
      int16_t off = (int16_t)((rnd() % 2) ? (int16_t)(rnd() % 9) - 4 : -(int16_t)(rnd() % 600));
      int16_t rel = (int16_t)((int)(rnd() % 8) - 4);
      unsigned d = rnd() % 10, s = rnd() % 11;
      int32_t imm = imms[rnd() % NINSN(imms)];
      switch (fj_op_table[op].fmt) {
      case FJ_FMT_ALU_IMM: p[i] = X(op, d, 0, 0, imm); break;
      case FJ_FMT_ALU_REG: p[i] = X(op, d, s, 0, 0); break;
      case FJ_FMT_ALU_UNARY: case FJ_FMT_END: p[i] = X(op, d, 0, 0, 0); break;
      case FJ_FMT_JA: p[i] = X(op, 0, 0, rel, 0); break;
      case FJ_FMT_JA32: case FJ_FMT_CALL_LOCAL: p[i] = X(op, 0, 0, 0, rel); break;
      case FJ_FMT_JCOND_IMM: p[i] = X(op, s, 0, rel, imm); break;
      case FJ_FMT_JCOND_REG: p[i] = X(op, d, s, rel, 0); break;
      case FJ_FMT_CALL: p[i] = X(op, 0, 0, 0, (rnd() % 2) ? FJ_HELPER_MEMSET : FJ_HELPER_LOOP); break;
      case FJ_FMT_CALLX: p[i] = X(op, s, 0, 0, 0); break;
      case FJ_FMT_EXIT: p[i] = EXIT(); break;
      case FJ_FMT_LDX: p[i] = X(op, d, s, off, 0); break;
      case FJ_FMT_ST: p[i] = X(op, s, 0, off, imm); break;
      case FJ_FMT_STX: case FJ_FMT_ATOMIC: p[i] = X(op, s, rnd() % 11, off, 0); break;
      case FJ_FMT_LDDW: case FJ_FMT_LDDW_FUNC:
        if (i + 2 >= n) { p[i] = EXIT(); break; }
        if (fj_op_table[op].fmt == FJ_FMT_LDDW_FUNC) {
          p[i] = X(op, d, 0, 0, rel);
          p[++i] = fj_insn_make(0, 0, 0, 0, 0);
        } else {
          uint64_t v = (uint64_t)(uintptr_t)mem + (rnd() % 80);
          p[i] = X(op, d, 0, 0, (int32_t)(uint32_t)v);
          p[++i] = fj_insn_make(0, 0, 0, 0, (int32_t)(uint32_t)(v >> 32));
        }
        break;
      default: p[i] = EXIT(); break;
      }
    }
    p[n - 1] = EXIT();
    if (fj_vm_load(vm, p, n * sizeof p[0]) != 0) continue;
    loaded++;
    memset(mem, 0, sizeof mem);
    uint64_t r0;
    int rc = fj_vm_run(vm, 0, mem, sizeof mem, &r0);
    if (rc == 0) ran++;
    else assert_true(fj_vm_errmsg(vm)[0] != '\0' && rc < 0);
  }
  printf("random programs: %d loaded, %d ran to completion\n", loaded, ran);
  assert_true(loaded > 1000);
  assert_true(ran > 100);
  fj_vm_destroy(vm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_stack_bounds),      cmocka_unit_test(test_run_memory_bounds),
    cmocka_unit_test(test_read_only_region),  cmocka_unit_test(test_region_table_full),
    cmocka_unit_test(test_misaligned_atomic), cmocka_unit_test(test_cache_switching),
    cmocka_unit_test(test_random_programs),
  };
  return tu_no_leaks(cmocka_run_group_tests(tests, NULL, NULL));
}
