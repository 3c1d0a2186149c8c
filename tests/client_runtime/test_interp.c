/* The interpreter, one instruction class at a time, with RFC 9669's edge cases: division and
 * modulo by zero and by -1, INT_MIN, shift amounts masked to 63/31, ALU32 zero extension,
 * movsx, byte swaps, all jump conditions against a C reference, loads/stores of every width
 * with sign extension, atomics with and without fetch, lddw, local calls.
 * Built twice: computed goto (test_interp) and -DFJ_NO_COMPUTED_GOTO (test_interp_switch). */
#include "tests/client_runtime/vm_test_util.h"

bool fj_interp_is_threaded(void);  /* client_runtime/vm_internal.h */

#define I64MIN ((uint64_t)INT64_MIN)

/* r0 = a op b, with a and b loaded as 64-bit values. */
static uint64_t alu_rr(enum fj_op op, uint64_t a, uint64_t b) {
  const fj_insn p[] = {LDDW(0, a), LDDW(1, b), X(op, 0, 1, 0, 0), EXIT()};
  return tu_run(p, NINSN(p));
}
/* r0 = a op imm. */
static uint64_t alu_ri(enum fj_op op, uint64_t a, int32_t imm) {
  const fj_insn p[] = {LDDW(0, a), X(op, 0, 0, 0, imm), EXIT()};
  return tu_run(p, NINSN(p));
}

static void test_alu64_basic(void **state) {
  (void)state;
  assert_int_equal(alu_rr(FJ_OP_ADD64_REG, 5, 7), 12);
  assert_int_equal(alu_rr(FJ_OP_ADD64_REG, UINT64_MAX, 2), 1);
  assert_int_equal(alu_ri(FJ_OP_ADD64_IMM, 5, -6), UINT64_MAX);  /* imm sign-extended */
  assert_int_equal(alu_rr(FJ_OP_SUB64_REG, 5, 7), (uint64_t)-2);
  assert_int_equal(alu_ri(FJ_OP_SUB64_IMM, 0, 1), UINT64_MAX);
  assert_int_equal(alu_rr(FJ_OP_MUL64_REG, 0x100000000ull, 0x100000000ull), 0);
  assert_int_equal(alu_ri(FJ_OP_MUL64_IMM, 3, -1), (uint64_t)-3);
  assert_int_equal(alu_rr(FJ_OP_OR64_REG, 0xf0, 0x0f), 0xff);
  assert_int_equal(alu_rr(FJ_OP_AND64_REG, 0xf0f0, 0xff00), 0xf000);
  assert_int_equal(alu_ri(FJ_OP_AND64_IMM, UINT64_MAX, -2), UINT64_MAX - 1);
  assert_int_equal(alu_rr(FJ_OP_XOR64_REG, 0xff, 0x0f), 0xf0);
  assert_int_equal(alu_ri(FJ_OP_XOR64_IMM, 0, -1), UINT64_MAX);
  assert_int_equal(alu_ri(FJ_OP_MOV64_IMM, 123, -1), UINT64_MAX);
  assert_int_equal(alu_rr(FJ_OP_MOV64_REG, 1, 0x123456789ull), 0x123456789ull);
  assert_int_equal(RUN(LDDW(0, I64MIN), X(FJ_OP_NEG64, 0, 0, 0, 0), EXIT()), I64MIN);
  assert_int_equal(RUN(ALUI(MOV64_IMM, 0, 5), X(FJ_OP_NEG64, 0, 0, 0, 0), EXIT()), (uint64_t)-5);
}

static void test_alu64_div_mod(void **state) {
  (void)state;
  assert_int_equal(alu_rr(FJ_OP_DIV64_REG, 100, 7), 14);
  assert_int_equal(alu_rr(FJ_OP_DIV64_REG, 100, 0), 0);            /* div by 0 -> 0 */
  assert_int_equal(alu_ri(FJ_OP_DIV64_IMM, 100, 0), 0);
  assert_int_equal(alu_ri(FJ_OP_DIV64_IMM, UINT64_MAX, -1), 1);    /* unsigned: imm sext'd */
  assert_int_equal(alu_rr(FJ_OP_MOD64_REG, 100, 7), 2);
  assert_int_equal(alu_rr(FJ_OP_MOD64_REG, 100, 0), 100);          /* mod by 0 -> unchanged */
  assert_int_equal(alu_ri(FJ_OP_MOD64_IMM, UINT64_MAX, 0), UINT64_MAX);
  assert_int_equal(alu_rr(FJ_OP_SDIV64_REG, (uint64_t)-100, 7), (uint64_t)-14);
  assert_int_equal(alu_rr(FJ_OP_SDIV64_REG, I64MIN, UINT64_MAX), I64MIN);  /* INT64_MIN / -1 */
  assert_int_equal(alu_ri(FJ_OP_SDIV64_IMM, I64MIN, -1), I64MIN);
  assert_int_equal(alu_rr(FJ_OP_SDIV64_REG, 5, 0), 0);
  assert_int_equal(alu_ri(FJ_OP_SDIV64_IMM, 100, -3), (uint64_t)-33);
  assert_int_equal(alu_rr(FJ_OP_SMOD64_REG, (uint64_t)-100, 7), (uint64_t)-2);  /* sign of dividend */
  assert_int_equal(alu_rr(FJ_OP_SMOD64_REG, 100, (uint64_t)-7), 2);
  assert_int_equal(alu_rr(FJ_OP_SMOD64_REG, I64MIN, UINT64_MAX), 0);
  assert_int_equal(alu_rr(FJ_OP_SMOD64_REG, (uint64_t)-5, 0), (uint64_t)-5);
  assert_int_equal(alu_ri(FJ_OP_SMOD64_IMM, (uint64_t)-100, -7), (uint64_t)-2);
}

static void test_alu64_shifts(void **state) {
  (void)state;
  assert_int_equal(alu_ri(FJ_OP_LSH64_IMM, 1, 63), I64MIN);
  assert_int_equal(alu_rr(FJ_OP_LSH64_REG, 1, 64), 1);   /* masked to 0 */
  assert_int_equal(alu_rr(FJ_OP_LSH64_REG, 1, 65), 2);
  assert_int_equal(alu_rr(FJ_OP_RSH64_REG, I64MIN, 63), 1);
  assert_int_equal(alu_rr(FJ_OP_RSH64_REG, I64MIN, 64), I64MIN);
  assert_int_equal(alu_ri(FJ_OP_RSH64_IMM, UINT64_MAX, 60), 0xf);
  assert_int_equal(alu_ri(FJ_OP_ARSH64_IMM, I64MIN, 63), UINT64_MAX);
  assert_int_equal(alu_rr(FJ_OP_ARSH64_REG, (uint64_t)-16, 2), (uint64_t)-4);
  assert_int_equal(alu_rr(FJ_OP_ARSH64_REG, (uint64_t)-16, 66), (uint64_t)-4);
  assert_int_equal(alu_rr(FJ_OP_ARSH64_REG, 16, 2), 4);
}

static void test_alu32(void **state) {
  (void)state;
  /* Results zero-extend: the upper half of dst is cleared. */
  assert_int_equal(alu_rr(FJ_OP_ADD32_REG, 0xffffffff00000001ull, 1), 2);
  assert_int_equal(alu_ri(FJ_OP_ADD32_IMM, 0xffffffff, 1), 0);
  assert_int_equal(alu_ri(FJ_OP_SUB32_IMM, 0, 1), 0xffffffffu);
  assert_int_equal(alu_rr(FJ_OP_MUL32_REG, 0x10000, 0x10000), 0);
  assert_int_equal(alu_ri(FJ_OP_MOV32_IMM, UINT64_MAX, -1), 0xffffffffu);
  assert_int_equal(alu_rr(FJ_OP_MOV32_REG, 0, 0xaaaaaaaa55555555ull), 0x55555555u);
  assert_int_equal(alu_rr(FJ_OP_OR32_REG, 0xff00000000ull, 1), 1);
  assert_int_equal(alu_rr(FJ_OP_AND32_REG, UINT64_MAX, UINT64_MAX), 0xffffffffu);
  assert_int_equal(alu_rr(FJ_OP_XOR32_REG, 0x1ffffffffull, 1), 0xfffffffeu);
  assert_int_equal(RUN(LDDW(0, 0x1ffffffffull), X(FJ_OP_NEG32, 0, 0, 0, 0), EXIT()), 1);
  /* division */
  assert_int_equal(alu_rr(FJ_OP_DIV32_REG, 0x100000064ull, 0x100000000ull), 0);  /* by 0 (low half) */
  assert_int_equal(alu_rr(FJ_OP_DIV32_REG, 100, 7), 14);
  assert_int_equal(alu_ri(FJ_OP_DIV32_IMM, 0xffffffff, -1), 1);
  assert_int_equal(alu_rr(FJ_OP_MOD32_REG, 0xffffffff00000064ull, 0), 100);  /* unchanged, zero-extended */
  assert_int_equal(alu_rr(FJ_OP_MOD32_REG, 100, 7), 2);
  assert_int_equal(alu_rr(FJ_OP_SDIV32_REG, 0x80000000, 0xffffffff), 0x80000000u);  /* INT32_MIN/-1 */
  assert_int_equal(alu_ri(FJ_OP_SDIV32_IMM, (uint32_t)-100, 7), (uint32_t)-14);
  assert_int_equal(alu_ri(FJ_OP_SDIV32_IMM, 7, 0), 0);
  assert_int_equal(alu_rr(FJ_OP_SMOD32_REG, 0x80000000, 0xffffffff), 0);
  assert_int_equal(alu_ri(FJ_OP_SMOD32_IMM, (uint32_t)-100, 7), (uint32_t)-2);
  assert_int_equal(alu_rr(FJ_OP_SMOD32_REG, 0xffffffff80000000ull, 0), 0x80000000u);
  /* shifts masked to 31 */
  assert_int_equal(alu_ri(FJ_OP_LSH32_IMM, 1, 31), 0x80000000u);
  assert_int_equal(alu_rr(FJ_OP_LSH32_REG, 1, 32), 1);
  assert_int_equal(alu_rr(FJ_OP_LSH32_REG, 0x80000000u, 1), 0);  /* no carry into bit 32 */
  assert_int_equal(alu_rr(FJ_OP_RSH32_REG, 0x100000000ull, 1), 0);
  assert_int_equal(alu_rr(FJ_OP_RSH32_REG, 0x80000000u, 33), 0x40000000u);
  assert_int_equal(alu_ri(FJ_OP_ARSH32_IMM, 0x80000000u, 31), 0xffffffffu);
  assert_int_equal(alu_rr(FJ_OP_ARSH32_REG, 0xfffffff0u, 36), 0xffffffffu);
}

static void test_movsx(void **state) {
  (void)state;
  assert_int_equal(alu_rr(FJ_OP_MOVSX8_64, 0, 0x180), 0xffffffffffffff80ull);
  assert_int_equal(alu_rr(FJ_OP_MOVSX8_64, 0, 0x17f), 0x7f);
  assert_int_equal(alu_rr(FJ_OP_MOVSX16_64, 0, 0x18000), 0xffffffffffff8000ull);
  assert_int_equal(alu_rr(FJ_OP_MOVSX32_64, 0, 0x180000000ull), 0xffffffff80000000ull);
  assert_int_equal(alu_rr(FJ_OP_MOVSX8_32, 0, 0x80), 0xffffff80u);
  assert_int_equal(alu_rr(FJ_OP_MOVSX16_32, 0, 0xffff8000ull), 0xffff8000u);
  assert_int_equal(alu_rr(FJ_OP_MOVSX16_32, 0, 0x7fff), 0x7fff);
}

static uint64_t end_op(enum fj_op op, uint64_t v) {
  const fj_insn p[] = {LDDW(0, v), X(op, 0, 0, 0, 0), EXIT()};
  return tu_run(p, NINSN(p));
}

static void test_byteswap(void **state) {
  (void)state;
  const uint64_t v = 0x0123456789abcdefull;
  assert_int_equal(end_op(FJ_OP_BSWAP16, v), 0xefcd);
  assert_int_equal(end_op(FJ_OP_BSWAP32, v), 0xefcdab89u);
  assert_int_equal(end_op(FJ_OP_BSWAP64, v), 0xefcdab8967452301ull);
  /* The test host is little-endian: le truncates, be swaps. */
  assert_int_equal(end_op(FJ_OP_LE16, v), 0xcdef);
  assert_int_equal(end_op(FJ_OP_LE32, v), 0x89abcdefu);
  assert_int_equal(end_op(FJ_OP_LE64, v), v);
  assert_int_equal(end_op(FJ_OP_BE16, v), 0xefcd);
  assert_int_equal(end_op(FJ_OP_BE32, v), 0xefcdab89u);
  assert_int_equal(end_op(FJ_OP_BE64, v), 0xefcdab8967452301ull);
}

/* Reference for every conditional jump. */
static int jref(enum fj_op op, uint64_t a, uint64_t b) {
  const char *m = fj_op_table[op].mnem;
  bool is32 = strstr(m, "32") != NULL;
  uint64_t ua = is32 ? (uint32_t)a : a, ub = is32 ? (uint32_t)b : b;
  int64_t sa = is32 ? (int32_t)a : (int64_t)a, sb = is32 ? (int32_t)b : (int64_t)b;
  size_t n = strcspn(m, "3");
  if (!strncmp(m, "jeq", n) && n == 3) return ua == ub;
  if (!strncmp(m, "jne", n) && n == 3) return ua != ub;
  if (!strncmp(m, "jgt", n) && n == 3) return ua > ub;
  if (!strncmp(m, "jge", n) && n == 3) return ua >= ub;
  if (!strncmp(m, "jlt", n) && n == 3) return ua < ub;
  if (!strncmp(m, "jle", n) && n == 3) return ua <= ub;
  if (!strncmp(m, "jset", n) && n == 4) return (ua & ub) != 0;
  if (!strncmp(m, "jsgt", n) && n == 4) return sa > sb;
  if (!strncmp(m, "jsge", n) && n == 4) return sa >= sb;
  if (!strncmp(m, "jslt", n) && n == 4) return sa < sb;
  if (!strncmp(m, "jsle", n) && n == 4) return sa <= sb;
  fail_msg("no reference for %s", m);
  return -1;
}

static void test_jumps_all_conditions(void **state) {
  (void)state;
  static const uint64_t vals[] = {0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ull,
                                  0x1ffffffffull, (uint64_t)INT64_MAX, I64MIN, UINT64_MAX,
                                  (uint64_t)-2};
  static const int32_t imms[] = {0, 1, -1, 2, INT32_MIN, INT32_MAX, -2};
  fj_vm *vm = tu_vm();
  int checked = 0;
  for (int op = 1; op < FJ_OP__COUNT; op++) {
    uint8_t fmt = fj_op_table[op].fmt;
    if (fmt != FJ_FMT_JCOND_IMM && fmt != FJ_FMT_JCOND_REG) continue;
    for (size_t i = 0; i < NINSN(vals); i++) {
      size_t nb = fmt == FJ_FMT_JCOND_REG ? NINSN(vals) : NINSN(imms);
      for (size_t j = 0; j < nb; j++) {
        uint64_t b = fmt == FJ_FMT_JCOND_REG ? vals[j] : (uint64_t)(int64_t)imms[j];
        /* r0 = 1 if taken else 0 */
        const fj_insn p[] = {LDDW(1, vals[i]), LDDW(2, b), ALUI(MOV64_IMM, 0, 1),
                             X((enum fj_op)op, 1, fmt == FJ_FMT_JCOND_REG ? 2 : 0, 1,
                               fmt == FJ_FMT_JCOND_REG ? 0 : imms[j]),
                             ALUI(MOV64_IMM, 0, 0), EXIT()};
        uint64_t r0 = tu_run_mem(vm, p, NINSN(p), NULL, 0);
        if ((int)r0 != jref((enum fj_op)op, vals[i], b))
          fail_msg("%s %#llx, %#llx: got %d", fj_op_table[op].name, (unsigned long long)vals[i],
                   (unsigned long long)b, (int)r0);
        checked++;
      }
    }
  }
  assert_true(checked > 1000);
  fj_vm_destroy(vm);
}

static void test_ja_and_ja32(void **state) {
  (void)state;
  assert_int_equal(RUN(ALUI(MOV64_IMM, 0, 1), JA(1), ALUI(MOV64_IMM, 0, 2), EXIT()), 1);
  assert_int_equal(RUN(ALUI(MOV64_IMM, 0, 1), X(FJ_OP_JA32, 0, 0, 0, 1), ALUI(MOV64_IMM, 0, 2), EXIT()), 1);
  /* backward ja32: count to 3 */
  assert_int_equal(RUN(ALUI(MOV64_IMM, 0, 0), JA(1), EXIT(), ALUI(ADD64_IMM, 0, 1),
                       JI(JGE64_IMM, 0, 3, 1), X(FJ_OP_JA32, 0, 0, 0, -3), JA(-5)),
                   3);
}

static void test_lddw(void **state) {
  (void)state;
  assert_int_equal(RUN(LDDW(0, 0x1122334455667788ull), EXIT()), 0x1122334455667788ull);
  assert_int_equal(RUN(LDDW(0, 0xffffffff00000000ull), EXIT()), 0xffffffff00000000ull);
  /* lddw of a function yields its absolute pc */
  assert_int_equal(RUN(LDDW_FUNC(0, 2), EXIT(), EXIT(), EXIT()), 3);
}

/* The host-order value of a size-byte word at p (as the VM's stores wrote it). */
static uint64_t mem_at(const uint8_t *p, unsigned size) {
  uint8_t v1;
  uint16_t v2;
  uint32_t v4;
  uint64_t v8;
  switch (size) {
  case 1: memcpy(&v1, p, 1); return v1;
  case 2: memcpy(&v2, p, 2); return v2;
  case 4: memcpy(&v4, p, 4); return v4;
  default: memcpy(&v8, p, 8); return v8;
  }
}

static void test_load_store_widths(void **state) {
  (void)state;
  uint8_t mem[32];
  for (int i = 0; i < 32; i++) mem[i] = (uint8_t)(0x80 + i);
  fj_vm *vm = tu_vm();
  const struct { enum fj_op op; uint64_t want; } loads[] = {
    {FJ_OP_LDXB, 0x81},
    {FJ_OP_LDXH, 0x8281},
    {FJ_OP_LDXW, 0x84838281},
    {FJ_OP_LDXDW, 0x8887868584838281ull},
    {FJ_OP_LDXSB, 0xffffffffffffff81ull},
    {FJ_OP_LDXSH, 0xffffffffffff8281ull},
    {FJ_OP_LDXSW, 0xffffffff84838281ull},
  };
  for (size_t i = 0; i < NINSN(loads); i++) {
    const fj_insn p[] = {X(loads[i].op, 0, 1, 1, 0), EXIT()};  /* unaligned on purpose */
    assert_int_equal(tu_run_mem(vm, p, NINSN(p), mem, sizeof mem), loads[i].want);
  }
  memset(mem, 0, sizeof mem);
  const fj_insn st[] = {
    ST(STB, 1, 0, 0x1ff), ST(STH, 1, 2, 0x12345), ST(STW, 1, 4, -2), ST(STDW, 1, 8, -3),
    LDDW(2, 0x1122334455667788ull), STX(STXB, 1, 2, 16), STX(STXH, 1, 2, 18), STX(STXW, 1, 2, 20),
    STX(STXDW, 1, 2, 24), ALUI(MOV64_IMM, 0, 0), EXIT(),
  };
  tu_run_mem(vm, st, NINSN(st), mem, sizeof mem);
  const struct {
    unsigned off, size;
    uint64_t want;
  } stored[] = {
    {0, 1, 0xff},  {2, 2, 0x2345},  {4, 4, 0xfffffffeu},  {8, 8, (uint64_t)-3},  /* stdw sign-extends */
    {16, 1, 0x88}, {18, 2, 0x7788}, {20, 4, 0x55667788u}, {24, 8, 0x1122334455667788ull},
  };
  for (size_t i = 0; i < NINSN(stored); i++)
    assert_int_equal(mem_at(mem + stored[i].off, stored[i].size), stored[i].want);
  /* stack through r10, negative offsets */
  const fj_insn stk[] = {ST(STDW, 10, -8, 42), LDX(LDXDW, 0, 10, -8), EXIT()};
  assert_int_equal(tu_run_mem(vm, stk, NINSN(stk), NULL, 0), 42);
  fj_vm_destroy(vm);
}

static void test_atomics(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  uint64_t m[4];
  uint64_t r0;
  /* 64-bit: add without fetch leaves src alone, fetch variants return the old value in src */
  m[0] = 10;
  const fj_insn add[] = {ALUI(MOV64_IMM, 2, 5), AT(AT_ADD64, 1, 2, 0), ALUR(MOV64_REG, 0, 2), EXIT()};
  assert_int_equal(tu_run_mem(vm, add, NINSN(add), m, sizeof m), 5);
  assert_int_equal(m[0], 15);
  const fj_insn fadd[] = {ALUI(MOV64_IMM, 2, 5), AT(AT_FETCH_ADD64, 1, 2, 8), ALUR(MOV64_REG, 0, 2), EXIT()};
  m[1] = 100;
  assert_int_equal(tu_run_mem(vm, fadd, NINSN(fadd), m, sizeof m), 100);
  assert_int_equal(m[1], 105);
  const struct { enum fj_op op; uint64_t init, src, want_mem, want_src; } cases[] = {
    {FJ_OP_AT_OR64, 0xf0, 0x0f, 0xff, 0x0f},
    {FJ_OP_AT_FETCH_OR64, 0xf0, 0x0f, 0xff, 0xf0},
    {FJ_OP_AT_AND64, 0xff, 0x0f, 0x0f, 0x0f},
    {FJ_OP_AT_FETCH_AND64, 0xff, 0x0f, 0x0f, 0xff},
    {FJ_OP_AT_XOR64, 0xff, 0x0f, 0xf0, 0x0f},
    {FJ_OP_AT_FETCH_XOR64, 0xff, 0x0f, 0xf0, 0xff},
    {FJ_OP_AT_XCHG64, 0x1234, 0x5678, 0x5678, 0x1234},
    {FJ_OP_AT_ADD32, 0xffffffffull, 1, 0, 1},                            /* wraps in 32 bits */
    {FJ_OP_AT_FETCH_ADD32, 0xffffffff00000005ull, 0x1000000001ull, 0xffffffff00000006ull, 5},
    {FJ_OP_AT_OR32, 1, 2, 3, 2},
    {FJ_OP_AT_FETCH_OR32, 1, 2, 3, 1},
    {FJ_OP_AT_AND32, 3, 2, 2, 2},
    {FJ_OP_AT_FETCH_AND32, 3, 2, 2, 3},
    {FJ_OP_AT_XOR32, 3, 1, 2, 1},
    {FJ_OP_AT_FETCH_XOR32, 3, 1, 2, 3},
    {FJ_OP_AT_XCHG32, 0xaaaaaaaa11111111ull, 0xffffffff22222222ull, 0xaaaaaaaa22222222ull, 0x11111111},
  };
  for (size_t i = 0; i < NINSN(cases); i++) {
    m[2] = cases[i].init;
    const fj_insn p[] = {LDDW(2, cases[i].src), X(cases[i].op, 1, 2, 16, 0), ALUR(MOV64_REG, 0, 2), EXIT()};
    r0 = tu_run_mem(vm, p, NINSN(p), m, sizeof m);
    if (m[2] != cases[i].want_mem || r0 != cases[i].want_src)
      fail_msg("%s: mem %#llx src %#llx", fj_op_table[cases[i].op].name, (unsigned long long)m[2],
               (unsigned long long)r0);
  }
  /* cmpxchg: r0 = old; store only when equal */
  m[3] = 7;
  const fj_insn cx[] = {ALUI(MOV64_IMM, 0, 7), ALUI(MOV64_IMM, 2, 9), AT(AT_CMPXCHG64, 1, 2, 24), EXIT()};
  assert_int_equal(tu_run_mem(vm, cx, NINSN(cx), m, sizeof m), 7);
  assert_int_equal(m[3], 9);
  assert_int_equal(tu_run_mem(vm, cx, NINSN(cx), m, sizeof m), 9);  /* 7 != 9: no store */
  assert_int_equal(m[3], 9);
  m[3] = 0xffffffff00000007ull;
  const fj_insn cx32[] = {LDDW(0, 0x5500000007ull), ALUI(MOV64_IMM, 2, 9), AT(AT_CMPXCHG32, 1, 2, 24), EXIT()};
  assert_int_equal(tu_run_mem(vm, cx32, NINSN(cx32), m, sizeof m), 7);  /* zero-extended old */
  assert_int_equal(m[3], 0xffffffff00000009ull);
  fj_vm_destroy(vm);
}

/* Local calls: own frame, r1-r5 passed, r6-r9 and r10 restored on return. */
static void test_local_calls(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  const fj_insn p[] = {
    ALUI(MOV64_IMM, 6, 60), ALUI(MOV64_IMM, 9, 90), ALUR(MOV64_REG, 7, 10),
    ST(STDW, 10, -8, 1111),
    ALUI(MOV64_IMM, 1, 3), ALUI(MOV64_IMM, 2, 4),
    CALL_LOCAL(8),                                  /* pc 6 -> 15 */
    JR(JNE64_REG, 7, 10, 5),                        /* r10 restored */
    JI(JNE64_IMM, 6, 60, 4), JI(JNE64_IMM, 9, 90, 3),
    LDX(LDXDW, 3, 10, -8), JI(JNE64_IMM, 3, 1111, 1), /* caller frame untouched */
    EXIT(),
    ALUI(MOV64_IMM, 0, -1), EXIT(),
    /* callee pc 15: r0 = r1 * r2, clobbers r6, r9 and its own stack */
    ALUR(MOV64_REG, 0, 1), ALUR(MUL64_REG, 0, 2), ALUI(MOV64_IMM, 6, 0), ALUI(MOV64_IMM, 9, 0),
    ST(STDW, 10, -8, 2222), JR(JEQ64_REG, 10, 7, 1), EXIT(), ALUI(MOV64_IMM, 0, -2), EXIT(),
  };
  assert_int_equal(tu_run_mem(vm, p, NINSN(p), NULL, 0), 12);
  fj_vm_stats st;
  fj_vm_get_stats(vm, &st);
  assert_int_equal(st.local_calls, 1);
  fj_vm_destroy(vm);
}

/* Recursion up to the depth limit: the entry frame plus 7 nested frames. */
static void test_recursion_depth_ok(void **state) {
  (void)state;
  /* f(n) = n == 0 ? 0 : n + f(n - 1), called with n = 6: frames 1..7 */
  const fj_insn p[] = {
    ALUI(MOV64_IMM, 1, 6), CALL_LOCAL(1), EXIT(),
    JI(JNE64_IMM, 1, 0, 2), ALUI(MOV64_IMM, 0, 0), EXIT(),
    ALUR(MOV64_REG, 6, 1), ALUI(SUB64_IMM, 1, 1), CALL_LOCAL(-6), ALUR(ADD64_REG, 0, 6), EXIT(),
  };
  assert_int_equal(tu_run(p, NINSN(p)), 21);
}

static void test_insn_count(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  const fj_insn p[] = {ALUI(MOV64_IMM, 0, 0), ALUI(MOV64_IMM, 1, 10), ALUI(ADD64_IMM, 0, 2),
                       ALUI(SUB64_IMM, 1, 1), JI(JNE64_IMM, 1, 0, -3), EXIT()};
  assert_int_equal(tu_run_mem(vm, p, NINSN(p), NULL, 0), 20);
  fj_vm_stats st;
  fj_vm_get_stats(vm, &st);
  assert_int_equal(st.insns_interp, 2 + 10 * 3 + 1);
  assert_int_equal(st.runs, 1);
  fj_vm_destroy(vm);
}

int main(int argc, char **argv) {
  (void)argc;
  bool want_threaded = strstr(argv[0], "switch") == NULL;
  printf("dispatch: %s\n", fj_interp_is_threaded() ? "computed goto" : "switch");
  if (fj_interp_is_threaded() != want_threaded) {
    printf("0 passed, 1 failed (wrong dispatch linked)\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_alu64_basic),       cmocka_unit_test(test_alu64_div_mod),
    cmocka_unit_test(test_alu64_shifts),      cmocka_unit_test(test_alu32),
    cmocka_unit_test(test_movsx),             cmocka_unit_test(test_byteswap),
    cmocka_unit_test(test_jumps_all_conditions), cmocka_unit_test(test_ja_and_ja32),
    cmocka_unit_test(test_lddw),              cmocka_unit_test(test_load_store_widths),
    cmocka_unit_test(test_atomics),           cmocka_unit_test(test_local_calls),
    cmocka_unit_test(test_recursion_depth_ok), cmocka_unit_test(test_insn_count),
  };
  return tu_no_leaks(cmocka_run_group_tests(tests, NULL, NULL));
}
