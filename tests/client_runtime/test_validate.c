/* The load-time validator: every rejection, with its message (pc and rule) checked, and the
 * guarantee that a rejected load leaves the previous program in place. */
#include "tests/client_runtime/vm_test_util.h"

/* Load p expecting failure code want; check the message names the pc and contains what. */
static void reject(const fj_insn *p, size_t n, int want, int64_t pc, const char *what) {
  fj_vm *vm = tu_vm();
  int rc = fj_vm_load(vm, p, n * sizeof *p);
  if (rc != want)
    fail_msg("load: want %s, got %s (%s)", fj_err_name(want), fj_err_name(rc), fj_vm_errmsg(vm));
  if (pc >= 0) {
    char pcs[32];
    snprintf(pcs, sizeof pcs, "pc %lld", (long long)pc);
    assert_contains(fj_vm_errmsg(vm), pcs);
    assert_int_equal(fj_vm_error_pc(vm), pc);
  }
  assert_contains(fj_vm_errmsg(vm), what);
  fj_vm_destroy(vm);
}
#define REJECT(want, pc, what, ...)                     \
  do {                                                  \
    const fj_insn p_[] = {__VA_ARGS__};                 \
    reject(p_, NINSN(p_), want, pc, what);              \
  } while (0)

static void test_empty_and_length(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  assert_int_equal(fj_vm_load(vm, NULL, 0), FJ_EBADPROG);
  assert_contains(fj_vm_errmsg(vm), "empty program");
  const fj_insn p[] = {EXIT()};
  assert_int_equal(fj_vm_load(vm, p, 7), FJ_EBADPROG);
  assert_contains(fj_vm_errmsg(vm), "not a multiple of 8");
  fj_vm_destroy(vm);
}

static void test_unknown_opcode(void **state) {
  (void)state;
  REJECT(FJ_EBADPROG, 1, "unknown opcode 0xff", ALUI(MOV64_IMM, 0, 0), fj_insn_make(0xff, 0, 0, 0, 0), EXIT());
  REJECT(FJ_EBADPROG, 0, "unknown opcode 0x0", fj_insn_make(0x00, 0, 0, 0, 0), EXIT());
  /* known opcode, bad discriminator: div with offset 2, bswap 8, atomic op 3, lddw src 2 */
  REJECT(FJ_EBADPROG, 0, "opcode 0x37 (div) with offset 2", fj_insn_make(0x37, 0, 0, 2, 1), EXIT());
  REJECT(FJ_EBADPROG, 0, "immediate 8", fj_insn_make(0xd7, 0, 0, 0, 8), EXIT());
  REJECT(FJ_EBADPROG, 0, "immediate 3", fj_insn_make(0xdb, 1, 2, 0, 3), EXIT());
  REJECT(FJ_EBADPROG, 0, "source register 2", fj_insn_make(0x18, 0, 2, 0, 0), fj_insn_make(0, 0, 0, 0, 0), EXIT());
  REJECT(FJ_EBADPROG, 0, "source register 3", fj_insn_make(0x85, 0, 3, 0, 5), EXIT());
  /* movsx with an unknown width */
  REJECT(FJ_EBADPROG, 0, "offset 24", fj_insn_make(0xbf, 0, 1, 24, 0), EXIT());
}

static void test_bad_registers(void **state) {
  (void)state;
  REJECT(FJ_EBADPROG, 0, "invalid destination register r11", X(FJ_OP_MOV64_IMM, 11, 0, 0, 1), EXIT());
  REJECT(FJ_EBADPROG, 1, "invalid source register r15", ALUI(MOV64_IMM, 0, 0), X(FJ_OP_ADD64_REG, 0, 15, 0, 0), EXIT());
  REJECT(FJ_EBADPROG, 0, "invalid source register r12", X(FJ_OP_LDXW, 0, 12, 0, 0), EXIT());
}

static void test_write_r10(void **state) {
  (void)state;
  REJECT(FJ_EBADPROG, 0, "write to read-only frame pointer r10", ALUI(MOV64_IMM, 10, 0), EXIT());
  REJECT(FJ_EBADPROG, 0, "(add): write to read-only frame pointer", ALUI(ADD64_IMM, 10, 8), EXIT());
  REJECT(FJ_EBADPROG, 0, "frame pointer", LDX(LDXDW, 10, 1, 0), EXIT());
  REJECT(FJ_EBADPROG, 0, "frame pointer", LDDW(10, 1), EXIT());
  REJECT(FJ_EBADPROG, 0, "frame pointer", X(FJ_OP_BE16, 10, 0, 0, 0), EXIT());
  REJECT(FJ_EBADPROG, 0, "frame pointer", X(FJ_OP_NEG64, 10, 0, 0, 0), EXIT());
  REJECT(FJ_EBADPROG, 0, "frame pointer", AT(AT_FETCH_ADD64, 1, 10, 0), EXIT());
  /* Stores through r10, reading r10 and atomics without fetch are fine. */
  fj_vm *vm = tu_vm();
  const fj_insn ok[] = {ST(STDW, 10, -8, 1), STX(STXDW, 10, 10, -16), ALUR(MOV64_REG, 1, 10),
                        AT(AT_ADD64, 10, 1, -8), JR(JEQ64_REG, 10, 1, 0), EXIT()};
  assert_int_equal(fj_vm_load(vm, ok, sizeof ok), 0);
  fj_vm_destroy(vm);
}

static void test_jumps(void **state) {
  (void)state;
  REJECT(FJ_EBADPROG, 0, "jump target 10 out of range (program has 2 instructions)", JA(9), EXIT());
  REJECT(FJ_EBADPROG, 1, "(jeq): jump target -1 out of range", ALUI(MOV64_IMM, 0, 0), JI(JEQ64_IMM, 0, 0, -3), EXIT());
  REJECT(FJ_EBADPROG, 0, "(ja32): jump target 100001 out of range", X(FJ_OP_JA32, 0, 0, 0, 100000), EXIT());
  REJECT(FJ_EBADPROG, 0, "jump target 2 is the second slot of the lddw at pc 1", JA(1), LDDW(0, 1), EXIT());
  REJECT(FJ_EBADPROG, 0, "local call target 5 out of range", CALL_LOCAL(4), EXIT());
  REJECT(FJ_EBADPROG, 0, "local call target -1", CALL_LOCAL(-2), EXIT());
  REJECT(FJ_EBADPROG, 0, "(lddw): function target 8 out of range", LDDW_FUNC(1, 7), EXIT());
  REJECT(FJ_EBADPROG, 0, "second slot of the lddw at pc 1", CALL_LOCAL(1), LDDW(0, 1), EXIT());
}

static void test_lddw_shape(void **state) {
  (void)state;
  REJECT(FJ_EBADPROG, 1, "truncated", EXIT(), X(FJ_OP_LDDW, 0, 0, 0, 1));
  REJECT(FJ_EBADPROG, 0, "second slot must have opcode, registers and offset 0",
         X(FJ_OP_LDDW, 0, 0, 0, 1), fj_insn_make(0, 1, 0, 0, 0), EXIT());
  REJECT(FJ_EBADPROG, 0, "second slot must have opcode",
         X(FJ_OP_LDDW, 0, 0, 0, 1), fj_insn_make(0, 0, 0, 3, 0), EXIT());
  REJECT(FJ_EBADPROG, 0, "second slot must be all zero",
         X(FJ_OP_LDDW_FUNC, 0, 0, 0, 1), fj_insn_make(0, 0, 0, 0, 5), EXIT(), EXIT());
}

static void test_reserved_fields(void **state) {
  (void)state;
  REJECT(FJ_EBADPROG, 0, "(add): reserved field src must be 0 (is 3)", X(FJ_OP_ADD64_IMM, 0, 3, 0, 1), EXIT());
  REJECT(FJ_EBADPROG, 0, "(add): reserved field imm must be 0 (is 7)", X(FJ_OP_ADD64_REG, 0, 1, 0, 7), EXIT());
  REJECT(FJ_EBADPROG, 0, "(neg): reserved field offset must be 0 (is 1)", X(FJ_OP_NEG64, 0, 0, 1, 0), EXIT());
  REJECT(FJ_EBADPROG, 0, "(neg): reserved field imm", X(FJ_OP_NEG64, 0, 0, 0, 1), EXIT());
  REJECT(FJ_EBADPROG, 0, "(exit): reserved field dst must be 0 (is 1)", X(FJ_OP_EXIT, 1, 0, 0, 0));
  REJECT(FJ_EBADPROG, 0, "(exit): reserved field imm", X(FJ_OP_EXIT, 0, 0, 0, 1));
  REJECT(FJ_EBADPROG, 0, "(ja): reserved field imm", X(FJ_OP_JA, 0, 0, 0, 1), EXIT());
  REJECT(FJ_EBADPROG, 0, "(ja32): reserved field offset", X(FJ_OP_JA32, 0, 0, 1, 0), EXIT(), EXIT());
  REJECT(FJ_EBADPROG, 0, "(ldxw): reserved field imm", X(FJ_OP_LDXW, 0, 1, 0, 1), EXIT());
  REJECT(FJ_EBADPROG, 0, "(stw): reserved field src", X(FJ_OP_STW, 1, 2, 0, 1), EXIT());
  REJECT(FJ_EBADPROG, 0, "(stxw): reserved field imm", X(FJ_OP_STXW, 1, 2, 0, 1), EXIT());
  REJECT(FJ_EBADPROG, 0, "(call): reserved field offset", X(FJ_OP_CALL, 0, 0, 1, 5), EXIT());
  REJECT(FJ_EBADPROG, 0, "(call): reserved field dst", X(FJ_OP_CALL_LOCAL, 1, 0, 0, 0), EXIT());
  REJECT(FJ_EBADPROG, 0, "(call): reserved field imm", X(FJ_OP_CALLX, 1, 0, 0, 5), EXIT());
  REJECT(FJ_EBADPROG, 0, "(jeq): reserved field imm", X(FJ_OP_JEQ64_REG, 0, 1, 0, 1), EXIT());
  REJECT(FJ_EBADPROG, 0, "(jeq): reserved field src", X(FJ_OP_JEQ64_IMM, 0, 1, 0, 1), EXIT());
  REJECT(FJ_EBADPROG, 0, "(le16): reserved field src", X(FJ_OP_LE16, 0, 1, 0, 0), EXIT());
}

static void test_unknown_helper(void **state) {
  (void)state;
  REJECT(FJ_EHELPER, 1, "(call): unknown helper 4242", ALUI(MOV64_IMM, 0, 0), CALL(4242), EXIT());
  /* Registered helpers are accepted; callx is checked at run time only. */
  fj_vm *vm = tu_vm();
  const fj_insn ok[] = {CALL(FJ_HELPER_KTIME_GET_NS), ALUI(MOV64_IMM, 1, 4242), X(FJ_OP_CALLX, 1, 0, 0, 0), EXIT()};
  assert_int_equal(fj_vm_load(vm, ok, sizeof ok), 0);
  fj_vm_destroy(vm);
}

static void test_must_end_in_exit(void **state) {
  (void)state;
  REJECT(FJ_EBADPROG, 1, "does not end with exit or ja", ALUI(MOV64_IMM, 0, 0), ALUI(MOV64_IMM, 0, 0));
  REJECT(FJ_EBADPROG, 1, "(jeq): program does not end", EXIT(), JI(JEQ64_IMM, 0, 0, -2));
  REJECT(FJ_EBADPROG, 1, "(lddw): program does not end", EXIT(), LDDW(0, 1));
  /* ending in ja is fine */
  fj_vm *vm = tu_vm();
  const fj_insn ok[] = {EXIT(), JA(-2)};
  assert_int_equal(fj_vm_load(vm, ok, sizeof ok), 0);
  fj_vm_destroy(vm);
}

/* A failed load keeps the previous program; a good load replaces it. */
static void test_failed_load_keeps_program(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  const fj_insn good[] = {ALUI(MOV64_IMM, 0, 7), EXIT()};
  const fj_insn bad[] = {ALUI(MOV64_IMM, 10, 7), EXIT()};
  const fj_insn good2[] = {ALUI(MOV64_IMM, 0, 8), EXIT()};
  assert_int_equal(fj_vm_load(vm, good, sizeof good), 0);
  assert_int_equal(fj_vm_load(vm, bad, sizeof bad), FJ_EBADPROG);
  uint64_t r0 = 0;
  assert_int_equal(fj_vm_run(vm, 0, NULL, 0, &r0), 0);
  assert_int_equal(r0, 7);
  assert_int_equal(fj_vm_load(vm, good2, sizeof good2), 0);
  assert_int_equal(fj_vm_run(vm, 0, NULL, 0, &r0), 0);
  assert_int_equal(r0, 8);
  uint32_t n = 0;
  const fj_insn *code = fj_vm_code(vm, &n);
  assert_int_equal(n, 2);
  assert_memory_equal(code, good2, sizeof good2);
  fj_vm_destroy(vm);
}

/* Every op of FJ_OPS, built in its canonical shape, is accepted. */
static void test_every_op_accepted(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  int n = 0;
  for (int op = 1; op < FJ_OP__COUNT; op++) {
    uint8_t fmt = fj_op_table[op].fmt;
    fj_insn p[4];
    size_t k = 0;
    switch (fmt) {
    case FJ_FMT_ALU_IMM: p[k++] = X((enum fj_op)op, 1, 0, 0, 3); break;
    case FJ_FMT_ALU_REG: p[k++] = X((enum fj_op)op, 1, 2, 0, 0); break;
    case FJ_FMT_ALU_UNARY: case FJ_FMT_END: p[k++] = X((enum fj_op)op, 1, 0, 0, 0); break;
    case FJ_FMT_JA: p[k++] = X((enum fj_op)op, 0, 0, 0, 0); break;
    case FJ_FMT_JA32: p[k++] = X((enum fj_op)op, 0, 0, 0, 0); break;
    case FJ_FMT_JCOND_IMM: p[k++] = X((enum fj_op)op, 1, 0, 0, 5); break;
    case FJ_FMT_JCOND_REG: p[k++] = X((enum fj_op)op, 1, 2, 0, 0); break;
    case FJ_FMT_CALL: p[k++] = X((enum fj_op)op, 0, 0, 0, FJ_HELPER_MEMCPY); break;
    case FJ_FMT_CALL_LOCAL: p[k++] = X((enum fj_op)op, 0, 0, 0, 0); break;
    case FJ_FMT_CALLX: p[k++] = X((enum fj_op)op, 1, 0, 0, 0); break;
    case FJ_FMT_EXIT: break;
    case FJ_FMT_LDDW: case FJ_FMT_LDDW_FUNC:
      p[k++] = X((enum fj_op)op, 1, 0, 0, fmt == FJ_FMT_LDDW_FUNC ? 1 : 0);
      p[k++] = fj_insn_make(0, 0, 0, 0, 0);
      break;
    case FJ_FMT_LDX: p[k++] = X((enum fj_op)op, 1, 2, -4, 0); break;
    case FJ_FMT_ST: p[k++] = X((enum fj_op)op, 10, 0, -8, 1); break;
    case FJ_FMT_STX: case FJ_FMT_ATOMIC: p[k++] = X((enum fj_op)op, 10, 2, -8, 0); break;
    default: fail_msg("format %d not covered", fmt);
    }
    p[k++] = EXIT();
    int rc = fj_vm_load(vm, p, k * sizeof p[0]);
    if (rc) fail_msg("%s rejected: %s", fj_op_table[op].name, fj_vm_errmsg(vm));
    assert_int_equal(fj_op_decode(p[0]), k == 1 ? FJ_OP_EXIT : (enum fj_op)op);
    n++;
  }
  assert_int_equal(n, FJ_OP__COUNT - 1);
  fj_vm_destroy(vm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_empty_and_length),   cmocka_unit_test(test_unknown_opcode),
    cmocka_unit_test(test_bad_registers),      cmocka_unit_test(test_write_r10),
    cmocka_unit_test(test_jumps),              cmocka_unit_test(test_lddw_shape),
    cmocka_unit_test(test_reserved_fields),    cmocka_unit_test(test_unknown_helper),
    cmocka_unit_test(test_must_end_in_exit),   cmocka_unit_test(test_failed_load_keeps_program),
    cmocka_unit_test(test_every_op_accepted),
  };
  return tu_no_leaks(cmocka_run_group_tests(tests, NULL, NULL));
}
