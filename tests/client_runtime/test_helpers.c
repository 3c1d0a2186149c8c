/* The standard helpers: clock, prandom, memcpy/memcmp/memset with range checks, loop with
 * callbacks (nested runs), trace_printk formatting through the platform's print. */
#include "tests/client_runtime/vm_test_util.h"

static void test_ktime(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  const fj_insn p[] = {CALL(FJ_HELPER_KTIME_GET_NS), ALUR(MOV64_REG, 6, 0), CALL(FJ_HELPER_KTIME_GET_NS),
                       ALUR(SUB64_REG, 0, 6), EXIT()};
  assert_int_equal(tu_run_mem(vm, p, NINSN(p), NULL, 0), 7);  /* tu_clock ticks by 7 */
  fj_vm_destroy(vm);
  /* without a platform clock: 0 */
  fj_platform noclock = tu_platform;
  noclock.clock_ns = NULL;
  vm = fj_vm_create(&noclock);
  assert_int_equal(fj_vm_register_std_helpers(vm), 0);
  const fj_insn q[] = {CALL(FJ_HELPER_KTIME_GET_NS), EXIT()};
  assert_int_equal(tu_run_mem(vm, q, NINSN(q), NULL, 0), 0);
  fj_vm_destroy(vm);
}

static void test_prandom(void **state) {
  (void)state;
  const fj_insn p[] = {CALL(FJ_HELPER_GET_PRANDOM_U32), ALUR(MOV64_REG, 6, 0),
                       CALL(FJ_HELPER_GET_PRANDOM_U32), ALUI(LSH64_IMM, 6, 32), ALUR(OR64_REG, 0, 6), EXIT()};
  fj_vm *a = tu_vm(), *b = tu_vm();
  uint64_t x1 = tu_run_mem(a, p, NINSN(p), NULL, 0), x2 = tu_run_mem(a, p, NINSN(p), NULL, 0);
  uint64_t y1 = tu_run_mem(b, p, NINSN(p), NULL, 0);
  assert_int_equal(x1, y1);  /* deterministic per VM */
  assert_int_not_equal(x1, x2);
  assert_int_not_equal(x1 >> 32, x1 & 0xffffffff);
  fj_vm_destroy(a);
  fj_vm_destroy(b);
}

static void test_memcpy_memset_memcmp(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  uint8_t mem[64];
  for (int i = 0; i < 64; i++) mem[i] = (uint8_t)i;
  /* memcpy(mem+32, mem, 16); memset(mem+48, 0xab, 8); r0 = memcmp(mem, mem+32, 16) */
  const fj_insn p[] = {
    ALUR(MOV64_REG, 6, 1),
    ALUR(MOV64_REG, 1, 6), ALUI(ADD64_IMM, 1, 32), ALUR(MOV64_REG, 2, 6), ALUI(MOV64_IMM, 3, 16),
    CALL(FJ_HELPER_MEMCPY),
    ALUR(MOV64_REG, 1, 6), ALUI(ADD64_IMM, 1, 48), ALUI(MOV64_IMM, 2, 0x1ab), ALUI(MOV64_IMM, 3, 8),
    CALL(FJ_HELPER_MEMSET),
    ALUR(MOV64_REG, 1, 6), ALUR(MOV64_REG, 2, 6), ALUI(ADD64_IMM, 2, 32), ALUI(MOV64_IMM, 3, 16),
    CALL(FJ_HELPER_MEMCMP), EXIT(),
  };
  assert_int_equal(tu_run_mem(vm, p, NINSN(p), mem, sizeof mem), 0);
  for (int i = 0; i < 16; i++) assert_int_equal(mem[32 + i], i);
  for (int i = 0; i < 8; i++) assert_int_equal(mem[48 + i], 0xab);
  assert_int_equal(mem[56], 56);
  /* memcmp sign */
  const fj_insn c[] = {ALUR(MOV64_REG, 2, 1), ALUI(ADD64_IMM, 2, 1), ALUI(MOV64_IMM, 3, 4),
                       CALL(FJ_HELPER_MEMCMP), EXIT()};
  mem[0] = 5;
  mem[1] = 6;
  assert_int_equal(tu_run_mem(vm, c, NINSN(c), mem, sizeof mem), (uint64_t)-1);
  mem[0] = 7;
  assert_int_equal(tu_run_mem(vm, c, NINSN(c), mem, sizeof mem), 1);
  /* to and from the stack */
  const fj_insn s[] = {ALUR(MOV64_REG, 2, 1), ALUR(MOV64_REG, 1, 10), ALUI(ADD64_IMM, 1, -16),
                       ALUI(MOV64_IMM, 3, 16), CALL(FJ_HELPER_MEMCPY), LDX(LDXDW, 0, 10, -8), EXIT()};
  uint64_t want;
  memcpy(&want, mem + 8, 8);
  assert_int_equal(tu_run_mem(vm, s, NINSN(s), mem, sizeof mem), want);
  fj_vm_destroy(vm);
}

static void test_mem_helpers_range_checks(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  uint8_t mem[64] = {0};
  /* memcpy(mem + 60, mem, 8): destination overruns */
  const fj_insn p[] = {ALUR(MOV64_REG, 2, 1), ALUI(ADD64_IMM, 1, 60), ALUI(MOV64_IMM, 3, 8),
                       CALL(FJ_HELPER_MEMCPY), ALUI(MOV64_IMM, 0, 0), EXIT()};
  const char *msg = tu_run_fail(vm, p, NINSN(p), mem, sizeof mem, FJ_EOOB);
  assert_contains(msg, "pc 3 (call memcpy): memory access out of bounds: memcpy: 8-byte destination");
  /* source overruns */
  const fj_insn q[] = {ALUR(MOV64_REG, 2, 1), ALUI(ADD64_IMM, 2, 1), ALUI(MOV64_IMM, 3, 64),
                       CALL(FJ_HELPER_MEMCPY), EXIT()};
  assert_contains(tu_run_fail(vm, q, NINSN(q), mem, sizeof mem, FJ_EOOB), "64-byte source");
  /* a range spanning stack and memory is rejected even if both ends are valid */
  const fj_insn big[] = {ALUI(MOV64_IMM, 3, 4096), ALUR(MOV64_REG, 1, 10), ALUI(ADD64_IMM, 1, -4096),
                         ALUI(MOV64_IMM, 2, 0), ALUI(MOV64_IMM, 3, 4097), CALL(FJ_HELPER_MEMSET), EXIT()};
  assert_contains(tu_run_fail(vm, big, NINSN(big), mem, sizeof mem, FJ_EOOB), "memset: 4097-byte destination");
  /* memcmp of a wild pointer */
  const fj_insn w[] = {LDDW(2, 0x10), ALUI(MOV64_IMM, 3, 1), CALL(FJ_HELPER_MEMCMP), EXIT()};
  assert_contains(tu_run_fail(vm, w, NINSN(w), mem, sizeof mem, FJ_EOOB), "memcmp: 1-byte second operand at 0x10");
  /* n == 0 touches nothing: fine even with NULL */
  const fj_insn z[] = {ALUI(MOV64_IMM, 1, 0), ALUI(MOV64_IMM, 2, 0), ALUI(MOV64_IMM, 3, 0),
                       CALL(FJ_HELPER_MEMCPY), EXIT()};
  assert_int_equal(tu_run_mem(vm, z, NINSN(z), mem, sizeof mem), 0);
  /* the whole stack in one go is fine */
  const fj_insn all[] = {ALUR(MOV64_REG, 1, 10), ALUI(ADD64_IMM, 1, -4096), ALUI(MOV64_IMM, 2, 0),
                         ALUI(MOV64_IMM, 3, 4096), CALL(FJ_HELPER_MEMSET), ALUI(MOV64_IMM, 0, 1), EXIT()};
  assert_int_equal(tu_run_mem(vm, all, NINSN(all), mem, sizeof mem), 1);
  fj_vm_destroy(vm);
}

/* loop(nr, cb, ctx, 0): cb(i, ctx) adds i to *ctx and stops when i == stop_at. */
#define LOOP_PROG \
  /* pc 0: r6 = ctx (mem); loop(10, cb, ctx, 0); r0 = calls << 32 | *ctx */ \
  ALUR(MOV64_REG, 6, 1), ALUR(MOV64_REG, 3, 1), ALUI(MOV64_IMM, 1, 10), LDDW_FUNC(2, 7), \
  ALUI(MOV64_IMM, 4, 0), CALL(FJ_HELPER_LOOP), \
  ALUI(LSH64_IMM, 0, 32), LDX(LDXW, 1, 6, 0), ALUR(OR64_REG, 0, 1), EXIT(), \
  /* pc 11: cb(i, ctx): *ctx += i; return i == *(ctx + 4) */ \
  LDX(LDXW, 3, 2, 0), ALUR(ADD64_REG, 3, 1), STX(STXW, 2, 3, 0), LDX(LDXW, 4, 2, 4), \
  ALUI(MOV64_IMM, 0, 0), JR(JNE64_REG, 1, 4, 1), ALUI(MOV64_IMM, 0, 1), EXIT(),


static void test_loop(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  const fj_insn loop_prog[] = {LOOP_PROG};
  uint32_t ctx[2] = {0, 99};
  uint64_t r0 = tu_run_mem(vm, loop_prog, NINSN(loop_prog), ctx, sizeof ctx);
  assert_int_equal(r0 >> 32, 10);
  assert_int_equal(r0 & 0xffffffff, 45);
  fj_vm_stats st;
  fj_vm_get_stats(vm, &st);
  assert_int_equal(st.callbacks, 10);
  /* early stop: cb returns 1 at i == 3 -> 4 calls, sum 0+1+2+3 */
  ctx[0] = 0;
  ctx[1] = 3;
  r0 = tu_run_mem(vm, loop_prog, NINSN(loop_prog), ctx, sizeof ctx);
  assert_int_equal(r0 >> 32, 4);
  assert_int_equal(r0 & 0xffffffff, 6);
  fj_vm_destroy(vm);
}

static void test_loop_errors(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  const fj_insn loop_prog[] = {LOOP_PROG};
  /* flags != 0 -> -EINVAL returned to the program */
  uint32_t ctx[2] = {0, 99};
  const fj_insn q[] = {ALUR(MOV64_REG, 3, 1), ALUI(MOV64_IMM, 1, 10), LDDW_FUNC(2, 4),
                       ALUI(MOV64_IMM, 4, 1), CALL(FJ_HELPER_LOOP), EXIT(), ALUI(MOV64_IMM, 0, 0), EXIT()};
  assert_int_equal(tu_run_mem(vm, q, NINSN(q), ctx, sizeof ctx), (uint64_t)(int64_t)FJ_EINVAL);
  /* a callback that faults stops the whole run with its own pc */
  const fj_insn f[] = {ALUI(MOV64_IMM, 1, 3), LDDW_FUNC(2, 5), ALUI(MOV64_IMM, 3, 0), ALUI(MOV64_IMM, 4, 0),
                       CALL(FJ_HELPER_LOOP), EXIT(),
                       /* pc 7: cb: *(u64 *)ctx (NULL) */
                       LDX(LDXDW, 0, 2, 0), EXIT()};
  const char *msg = tu_run_fail(vm, f, NINSN(f), NULL, 0, FJ_EOOB);
  assert_contains(msg, "pc 7 (ldxdw): memory access out of bounds: 8-byte read at 0x0 not in any region");
  assert_int_equal(fj_vm_error_pc(vm), 7);
  /* a callback handle that is not a function */
  const fj_insn g[] = {ALUI(MOV64_IMM, 1, 3), ALUI(MOV64_IMM, 2, 1), ALUI(MOV64_IMM, 3, 0),
                       ALUI(MOV64_IMM, 4, 0), CALL(FJ_HELPER_LOOP), EXIT()};
  assert_contains(tu_run_fail(vm, g, NINSN(g), NULL, 0, FJ_EINVAL), "callback target is not a function");
  /* budget counts callback instructions */
  fj_vm_set_insn_limit(vm, 50);
  tu_run_fail(vm, loop_prog, NINSN(loop_prog), ctx, sizeof ctx, FJ_EBUDGET);
  fj_vm_destroy(vm);
}

/* printk(fmt, size, a, b, c) with fmt in run memory. */
static uint64_t printk(fj_vm *vm, const char *fmt, uint64_t a, uint64_t b, uint64_t c, char *mem) {
  size_t n = strlen(fmt) + 1;
  memcpy(mem, fmt, n);
  const fj_insn p[] = {ALUR(MOV64_REG, 6, 1), ALUI(MOV64_IMM, 2, (int32_t)n), LDDW(3, a), LDDW(4, b),
                       LDDW(5, c), CALL(FJ_HELPER_TRACE_PRINTK), EXIT()};
  tu_printed_len = 0;
  tu_printed[0] = '\0';
  return tu_run_mem(vm, p, NINSN(p), mem, 256);
}

static void test_trace_printk(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  char mem[256];
  uint64_t n = printk(vm, "x=%d u=%u h=%x", (uint64_t)-5, 0xffffffff, 0xbeef, mem);
  assert_string_equal(tu_printed, "x=-5 u=4294967295 h=beef");
  assert_int_equal(n, strlen(tu_printed));
  printk(vm, "%lld %llu %llx %%", (uint64_t)INT64_MIN, UINT64_MAX, 0x123456789abcull, mem);
  assert_string_equal(tu_printed, "-9223372036854775808 18446744073709551615 123456789abc %");
  printk(vm, "%d|%ld", 0x1ffffffffull, 0x1ffffffffull, 0, mem);
  assert_string_equal(tu_printed, "-1|8589934591");
  /* %s reads a string from run memory, %c a char */
  strcpy(mem + 200, "hello");
  printk(vm, "[%s]%c", (uint64_t)(uintptr_t)(mem + 200), 'Z', 0, mem);
  assert_string_equal(tu_printed, "[hello]Z");
  /* errors returned to the program: unknown conversion, too many arguments */
  assert_int_equal(printk(vm, "%q", 0, 0, 0, mem), (uint64_t)(int64_t)FJ_EINVAL);
  assert_int_equal(printk(vm, "%d %d %d %d", 1, 2, 3, mem), (uint64_t)(int64_t)FJ_EINVAL);
  /* a bad %s pointer or format range stops the run */
  const char *fmt = "%s";
  memcpy(mem, fmt, 3);
  const fj_insn p[] = {ALUI(MOV64_IMM, 2, 3), ALUI(MOV64_IMM, 3, 16), CALL(FJ_HELPER_TRACE_PRINTK), EXIT()};
  assert_contains(tu_run_fail(vm, p, NINSN(p), mem, 256, FJ_EOOB), "trace_printk: 1-byte string at 0x10");
  const fj_insn q[] = {ALUI(MOV64_IMM, 2, 300), CALL(FJ_HELPER_TRACE_PRINTK), EXIT()};
  assert_contains(tu_run_fail(vm, q, NINSN(q), mem, 256, FJ_EOOB), "trace_printk: 300-byte format");
  /* long output is truncated to the buffer, never overflowing */
  memset(mem, 'a', 250);
  mem[250] = '\0';
  const fj_insn l[] = {ALUI(MOV64_IMM, 2, 251), CALL(FJ_HELPER_TRACE_PRINTK), EXIT()};
  tu_printed_len = 0;
  assert_int_equal(tu_run_mem(vm, l, NINSN(l), mem, 256), 250);
  fj_vm_destroy(vm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_ktime),          cmocka_unit_test(test_prandom),
    cmocka_unit_test(test_memcpy_memset_memcmp), cmocka_unit_test(test_mem_helpers_range_checks),
    cmocka_unit_test(test_loop),           cmocka_unit_test(test_loop_errors),
    cmocka_unit_test(test_trace_printk),
  };
  return tu_no_leaks(cmocka_run_group_tests(tests, NULL, NULL));
}
