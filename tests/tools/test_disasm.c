/* Tests for tools/disasm.c: exact text of each format, labels, raw fallback, and the
 * round-trip property fj_asm(fj_disasm(x)) == x over random instruction streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "farjit/error.h"
#include "tools/asm.h"
#include "tools/disasm.h"

static void expect_line(fj_insn i, const char *want) {
  fj_insn prog[2] = {i, fj_insn_make(0, 0, 0, 0, 0)};
  char buf[128];
  int used = fj_disasm_insn(prog, 2, 0, buf, sizeof buf);
  assert_true(used >= 1);
  if (strcmp(buf, want) != 0) print_error("want '%s', got '%s'\n", want, buf);
  assert_string_equal(buf, want);
}

static void test_formats(void **state) {
  (void)state;
  expect_line(fj_asm_encode(FJ_OP_MOV64_IMM, 0, 0, 0, 1), "mov %r0, 1");
  expect_line(fj_asm_encode(FJ_OP_MOV32_IMM, 1, 0, 0, -1), "mov32 %r1, -1");
  expect_line(fj_asm_encode(FJ_OP_MOV64_IMM, 1, 0, 0, 0x12345678), "mov %r1, 0x12345678");
  expect_line(fj_asm_encode(FJ_OP_MOV64_IMM, 1, 0, 0, INT32_MIN), "mov %r1, -0x80000000");
  expect_line(fj_asm_encode(FJ_OP_ADD32_REG, 1, 2, 0, 0), "add32 %r1, %r2");
  expect_line(fj_asm_encode(FJ_OP_SDIV64_IMM, 1, 0, 0, 3), "sdiv %r1, 3");
  expect_line(fj_asm_encode(FJ_OP_MOVSX16_32, 1, 2, 0, 0), "movsx1632 %r1, %r2");
  expect_line(fj_asm_encode(FJ_OP_NEG32, 5, 0, 0, 0), "neg32 %r5");
  expect_line(fj_asm_encode(FJ_OP_BE16, 0, 0, 0, 0), "be16 %r0");
  expect_line(fj_asm_encode(FJ_OP_BSWAP64, 0, 0, 0, 0), "bswap64 %r0");
  expect_line(fj_asm_encode(FJ_OP_LDXDW, 0, 1, 2, 0), "ldxdw %r0, [%r1+2]");
  expect_line(fj_asm_encode(FJ_OP_LDXSH, 0, 1, 0, 0), "ldxsh %r0, [%r1]");
  expect_line(fj_asm_encode(FJ_OP_STXDW, 10, 0, -8, 0), "stxdw [%r10-8], %r0");
  expect_line(fj_asm_encode(FJ_OP_STW, 1, 0, 4, 7), "stw [%r1+4], 7");
  expect_line(fj_asm_encode(FJ_OP_AT_ADD64, 10, 1, -8, 0), "lock add [%r10-8], %r1");
  expect_line(fj_asm_encode(FJ_OP_AT_FETCH_ADD32, 10, 1, -8, 0), "lock fetch add32 [%r10-8], %r1");
  expect_line(fj_asm_encode(FJ_OP_AT_CMPXCHG64, 10, 1, -8, 0), "lock cmpxchg [%r10-8], %r1");
  expect_line(fj_asm_encode(FJ_OP_JEQ64_IMM, 0, 0, 3, 5), "jeq %r0, 5, +3");
  expect_line(fj_asm_encode(FJ_OP_JNE32_REG, 0, 1, -2, 0), "jne32 %r0, %r1, -2");
  expect_line(fj_asm_encode(FJ_OP_JA, 0, 0, 0, 0), "ja +0");
  expect_line(fj_asm_encode(FJ_OP_JA32, 0, 0, 0, -7), "ja32 -7");
  expect_line(fj_asm_encode(FJ_OP_CALL, 0, 0, 0, 5), "call 5");
  expect_line(fj_asm_encode(FJ_OP_CALL_LOCAL, 0, 0, 0, 4), "call local +4");
  expect_line(fj_asm_encode(FJ_OP_CALLX, 2, 0, 0, 0), "call %r2");
  expect_line(fj_asm_encode(FJ_OP_EXIT, 0, 0, 0, 0), "exit");
  expect_line(fj_asm_encode(FJ_OP_LDDW_FUNC, 2, 0, 0, 3), "lddw %r2, <fn +3>");
  fj_insn lddw[2] = {fj_asm_encode(FJ_OP_LDDW, 0, 0, 0, 0x55667788), fj_insn_make(0, 0, 0, 0, 0x11223344)};
  char buf[64];
  assert_int_equal(fj_disasm_insn(lddw, 2, 0, buf, sizeof buf), 2);
  assert_string_equal(buf, "lddw %r0, 0x1122334455667788");
  /* Truncated lddw, unknown opcode, stray bits: raw words. */
  assert_int_equal(fj_disasm_insn(lddw, 1, 0, buf, sizeof buf), 1);
  assert_string_equal(buf, ".raw 0x5566778800000018");
  expect_line(fj_insn_make(0xff, 1, 2, 3, 4), ".raw 0x00000004000321ff");
  expect_line(fj_insn_make(0x95, 1, 0, 0, 0), ".raw 0x0000000000000195");          /* exit with dst */
  expect_line(fj_insn_make(0x07, 1, 2, 0, 9), ".raw 0x0000000900002107");          /* add imm with src */
  expect_line(fj_insn_make(0x3f, 1, 2, 2, 0), ".raw 0x000000000002213f");          /* div off 2 */
  /* Out of range pc. */
  assert_int_equal(fj_disasm_insn(lddw, 2, 2, buf, sizeof buf), FJ_EINVAL);
  /* Truncation behaves like snprintf. */
  char small[8];
  fj_insn mov = fj_asm_encode(FJ_OP_MOV64_IMM, 0, 0, 0, 1);
  assert_int_equal(fj_disasm_insn(&mov, 1, 0, small, sizeof small), 1);
  assert_string_equal(small, "mov %r0");
}

static void test_program_labels(void **state) {
  (void)state;
  const char *src = "mov %r0, 0\n"
                    "jeq %r1, 0, +2\n"
                    "call local +3\n"
                    "ja -3\n"
                    "exit\n"
                    "mov %r0, 1\n"
                    "exit\n";
  fj_insn *code;
  size_t n;
  char err[128];
  assert_int_equal(fj_asm(src, &code, &n, err, sizeof err), 0);
  char *text;
  int len = fj_disasm(code, n, NULL, 0, 0, &text);
  assert_int_equal(len, (int)strlen(text));
  assert_string_equal(text,
                      "mov %r0, 0\n"
                      "L1:\n"
                      "jeq %r1, 0, L4\n"
                      "call local L6\n"
                      "ja L1\n"
                      "L4:\n"
                      "exit\n"
                      "mov %r0, 1\n"
                      "L6:\n"
                      "exit\n");
  free(text);
  /* Names given by the caller (ELF symbols) replace generated labels and also label entries
   * nothing jumps to; invalid identifiers and duplicates are ignored. */
  fj_disasm_label names[] = {{"main", 0}, {"helper", 6}, {"bad name", 4}, {"main", 5}};
  assert_true(fj_disasm(code, n, names, 4, FJ_DISASM_PC, &text) > 0);
  assert_non_null(strstr(text, "main:\nmov %r0, 0"));
  assert_non_null(strstr(text, "call local helper"));
  assert_non_null(strstr(text, "L4:\n"));
  assert_null(strstr(text, "bad name"));
  assert_non_null(strstr(text, "# 6\n"));
  fj_insn *back;
  size_t n2;
  assert_int_equal(fj_asm(text, &back, &n2, err, sizeof err), 0);
  assert_int_equal(n2, n);
  assert_memory_equal(back, code, n * sizeof *code);
  free(back);
  free(text);
  free(code);

  /* Empty program: an empty string. */
  assert_int_equal(fj_disasm(NULL, 0, NULL, 0, 0, &text), 0);
  assert_string_equal(text, "");
  free(text);
}

/* A jump to the end of the program, to the middle of lddw, and out of range. */
static void test_odd_targets(void **state) {
  (void)state;
  fj_insn code[5] = {
    fj_asm_encode(FJ_OP_JA, 0, 0, 4, 0),     /* -> 5 (end) */
    fj_asm_encode(FJ_OP_JA, 0, 0, 1, 0),     /* -> 3 (middle of lddw) */
    fj_asm_encode(FJ_OP_LDDW, 1, 0, 0, 1), fj_insn_make(0, 0, 0, 0, 2),
    fj_asm_encode(FJ_OP_JA, 0, 0, -100, 0),  /* out of range */
  };
  char *text, err[128];
  assert_true(fj_disasm(code, 5, NULL, 0, 0, &text) > 0);
  assert_string_equal(text, "ja L5\nja +1\nlddw %r1, 0x200000001\nja -100\nL5:\n");
  fj_insn *back;
  size_t n;
  assert_int_equal(fj_asm(text, &back, &n, err, sizeof err), 0);
  assert_int_equal(n, 5);
  assert_memory_equal(back, code, sizeof code);
  free(back);
  free(text);
}

/* Random slots, biased toward valid opcodes: whatever the bytes, disassembly re-assembles to
 * them exactly. */
static void test_random_roundtrip(void **state) {
  (void)state;
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  enum { N = 64, ROUNDS = 3000 };
  fj_insn code[N];
  int printed_ops = 0;
  for (int round = 0; round < ROUNDS; round++) {
    for (int k = 0; k < N; k++) {
      seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
      uint64_t r = seed;
      int op = 1 + (int)(r % (FJ_OP__COUNT - 1));
      int16_t off = (int16_t)((r >> 8) % 2 ? (int)((r >> 16) % (2 * N)) - N : (int16_t)(r >> 16));
      int32_t imm = (int32_t)((r >> 32) % 4 ? (int64_t)((r >> 40) % (2 * N)) - N : (int32_t)(r >> 32));
      switch ((r >> 60) & 3) {
      case 0: /* arbitrary bits */
        code[k] = fj_insn_make((uint8_t)(r >> 1), (r >> 9) & 15, (r >> 13) & 15, off, imm);
        break;
      default:
        code[k] = fj_asm_encode((enum fj_op)op, (r >> 9) & 15, (r >> 13) & 15, off, imm);
        break;
      }
    }
    char *text, err[256];
    assert_true(fj_disasm(code, N, NULL, 0, round & 1 ? FJ_DISASM_PC : 0, &text) > 0);
    fj_insn *back;
    size_t n;
    int rc = fj_asm(text, &back, &n, err, sizeof err);
    if (rc) print_error("%s\n----\n%s\n", err, text);
    assert_int_equal(rc, 0);
    assert_int_equal(n, N);
    if (memcmp(back, code, sizeof code) != 0) print_error("round %d differs:\n%s\n", round, text);
    assert_memory_equal(back, code, sizeof code);
    for (const char *p = text; (p = strchr(p, '\n')); p++)
      if (p[1] && p[1] != '.' && p[1] != 'L') printed_ops++;
    free(back);
    free(text);
  }
  /* Most valid encodings print as mnemonics, not raw words. */
  assert_true(printed_ops > ROUNDS * N / 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_formats),
    cmocka_unit_test(test_program_labels),
    cmocka_unit_test(test_odd_targets),
    cmocka_unit_test(test_random_roundtrip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
