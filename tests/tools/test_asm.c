/* Tests for tools/asm.c: encodings of every syntax form, every FJ_OPS row through
 * disassembly and back, every shared conformance program, and error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "farjit/error.h"
#include "tests/conformance/data_file.h"
#include "tools/asm.h"
#include "tools/disasm.h"

static fj_insn *assemble_ok(const char *text, size_t *n) {
  fj_insn *code = NULL;
  char err[256];
  int rc = fj_asm(text, &code, n, err, sizeof err);
  if (rc) print_error("assembling:\n%s\nfailed: %s\n", text, err);
  assert_int_equal(rc, 0);
  return code;
}

static void expect_one(const char *text, uint8_t code, unsigned dst, unsigned src, int16_t off,
                       int32_t imm) {
  size_t n;
  fj_insn *c = assemble_ok(text, &n);
  assert_int_equal(n, 1);
  fj_insn want = fj_insn_make(code, dst, src, off, imm);
  if (memcmp(&want, c, sizeof want) != 0)
    print_error("'%s': got code %02x regs %02x off %d imm %d\n", text, c->code, c->regs, c->off, c->imm);
  assert_memory_equal(&want, c, sizeof want);
  free(c);
}

static void test_encodings(void **state) {
  (void)state;
  expect_one("mov %r0, 1", 0xb7, 0, 0, 0, 1);
  expect_one("mov32 %r1, -1", 0xb4, 1, 0, 0, -1);
  expect_one("mov %r9, 0xffffffff", 0xb7, 9, 0, 0, -1);
  expect_one("mov %r9, 0x80000000", 0xb7, 9, 0, 0, INT32_MIN);
  expect_one("mov %r9, -0x80000000", 0xb7, 9, 0, 0, INT32_MIN);
  expect_one("add32 %r1, %r2", 0x0c, 1, 2, 0, 0);
  expect_one("sdiv %r3, 7", 0x37, 3, 0, 1, 7);
  expect_one("smod32 %r3, %r4", 0x9c, 3, 4, 1, 0);
  expect_one("movsx832 %r0, %r1", 0xbc, 0, 1, 8, 0);
  expect_one("movsx3264 %r0, %r1", 0xbf, 0, 1, 32, 0);
  expect_one("neg %r4", 0x87, 4, 0, 0, 0);
  expect_one("be16 %r0", 0xdc, 0, 0, 0, 16);
  expect_one("le64 %r0", 0xd4, 0, 0, 0, 64);
  expect_one("bswap32 %r0", 0xd7, 0, 0, 0, 32);
  expect_one("swap16 %r0", 0xd7, 0, 0, 0, 16);
  expect_one("ldxdw %r0, [%r1+2]", 0x79, 0, 1, 2, 0);
  expect_one("ldxsb %r0, [%r1]", 0x91, 0, 1, 0, 0);
  expect_one("ldxw %r0, [%r1 + 0x10]", 0x61, 0, 1, 16, 0);
  expect_one("stxdw [%r10-8], %r0", 0x7b, 10, 0, -8, 0);
  expect_one("stw [%r1+4], 7", 0x62, 1, 0, 4, 7);
  expect_one("sth [%r1-32768], -1", 0x6a, 1, 0, INT16_MIN, -1);
  expect_one("lock add [%r10-8], %r1", 0xdb, 10, 1, -8, 0);
  expect_one("lock fetch add32 [%r1+4], %r2", 0xc3, 1, 2, 4, 1);
  expect_one("lock xchg [%r10-8], %r1", 0xdb, 10, 1, -8, 0xe1);
  expect_one("lock cmpxchg32 [%r10-8], %r1", 0xc3, 10, 1, -8, 0xf1);
  expect_one("jeq %r0, 5, +3", 0x15, 0, 0, 3, 5);
  expect_one("jne32 %r1, %r2, -1", 0x5e, 1, 2, -1, 0);
  expect_one("jset %r1, 0x80000000, +1", 0x45, 1, 0, 1, INT32_MIN);
  expect_one("ja +0", 0x05, 0, 0, 0, 0);
  expect_one("ja32 -70000", 0x06, 0, 0, 0, -70000);
  expect_one("call 5", 0x85, 0, 0, 0, 5);
  expect_one("call %r2", 0x8d, 2, 0, 0, 0);
  expect_one("callx %r3", 0x8d, 3, 0, 0, 0);
  expect_one("call local -1", 0x85, 0, 1, 0, -1);
  expect_one("exit", 0x95, 0, 0, 0, 0);
  expect_one("  exit   # trailing comment", 0x95, 0, 0, 0, 0);
  expect_one(".raw 0x0000000000000095", 0x95, 0, 0, 0, 0);
  expect_one(".raw 0x12345678fffe21ab", 0xab, 1, 2, -2, 0x12345678);
}

static void test_lddw(void **state) {
  (void)state;
  size_t n;
  fj_insn *c = assemble_ok("lddw %r0, 0x1122334455667788", &n);
  assert_int_equal(n, 2);
  assert_int_equal(c[0].code, 0x18);
  assert_int_equal((uint32_t)c[0].imm, 0x55667788u);
  assert_int_equal(c[1].code, 0);
  assert_int_equal((uint32_t)c[1].imm, 0x11223344u);
  free(c);
  c = assemble_ok("lddw %r3, -1", &n);
  assert_int_equal(c[0].imm, -1);
  assert_int_equal(c[1].imm, -1);
  assert_int_equal(fj_insn_dst(c[0]), 3);
  free(c);
  c = assemble_ok("lddw %r0, 18446744073709551615\nlddw %r1, 2147483648", &n);
  assert_int_equal(n, 4);
  assert_int_equal(c[1].imm, -1);
  assert_int_equal((uint32_t)c[2].imm, 0x80000000u);
  assert_int_equal(c[3].imm, 0);
  free(c);
}

static void test_labels(void **state) {
  (void)state;
  size_t n;
  /* Forward and backward jumps, lddw counting two slots, a label sharing a line. */
  fj_insn *c = assemble_ok("start: mov %r0, 0\n"
                           "lddw %r1, 5\n"
                           "jne %r0, %r1, out   # forward\n"
                           "ja start\n"
                           "ja32 out\n"
                           "out:\n"
                           "exit\n",
                           &n);
  assert_int_equal(n, 7);
  assert_int_equal(c[3].off, 2);  /* pc 3 -> 6 */
  assert_int_equal(c[4].off, -5); /* pc 4 -> 0 */
  assert_int_equal(c[5].imm, 0);  /* pc 5 -> 6 */
  free(c);

  /* call local / lddw of a function: pc-relative imm, src 1 / 4. */
  c = assemble_ok("lddw %r2, f\ncall local f\nexit\nf:\nmov %r0, 1\nexit", &n);
  assert_int_equal(c[0].code, 0x18);
  assert_int_equal(fj_insn_src(c[0]), FJ_PSEUDO_FUNC);
  assert_int_equal(fj_insn_dst(c[0]), 2);
  assert_int_equal(c[0].imm, 3); /* 0 + 3 + 1 = 4 */
  assert_int_equal(c[1].imm, 0);
  assert_int_equal(fj_insn_src(c[2]), FJ_PSEUDO_CALL);
  assert_int_equal(c[2].imm, 1);
  free(c);

  /* `exit` without a label of that name means the first exit instruction... */
  c = assemble_ok("jeq %r0, 0, exit\nmov %r0, 1\nexit\nmov %r0, 2\nexit", &n);
  assert_int_equal(c[0].off, 1);
  free(c);
  /* ...but an explicit label wins. */
  c = assemble_ok("jeq %r0, 0, exit\nexit\nexit:\nexit", &n);
  assert_int_equal(c[0].off, 1);
  free(c);

  fj_asm_prog p;
  char err[128];
  assert_int_equal(fj_asm_prog_build("a: exit\nb:\nmov %r0, 1\nexit\nend:", &p, err, sizeof err), 0);
  assert_int_equal(p.nlabels, 3);
  assert_int_equal(fj_asm_prog_label(&p, "a"), 0);
  assert_int_equal(fj_asm_prog_label(&p, "b"), 1);
  assert_int_equal(fj_asm_prog_label(&p, "end"), 3);
  assert_int_equal(fj_asm_prog_label(&p, "nope"), -1);
  fj_asm_prog_free(&p);
}

static void expect_error(const char *text, const char *msg) {
  fj_insn *code = (fj_insn *)1;
  size_t n = 99;
  char err[256];
  int rc = fj_asm(text, &code, &n, err, sizeof err);
  assert_int_equal(rc, FJ_EINVAL);
  assert_null(code);
  assert_int_equal(n, 0);
  if (!strstr(err, msg)) print_error("for:\n%.200s\nwant '%s', got '%s'\n", text, msg, err);
  assert_non_null(strstr(err, msg));
}

/* "JUMP far", 40000 exits, "far: exit" */
static char *far_program(const char *jump) {
  char *big = malloc(5 * 40000 + 64);
  assert_non_null(big);
  char *p = big + sprintf(big, "%s far\n", jump);
  for (int k = 0; k < 40000; k++) p += sprintf(p, "exit\n");
  strcpy(p, "far: exit\n");
  return big;
}

static void test_errors(void **state) {
  (void)state;
  expect_error("mov %r0, 1\n\n\nmovv %r0, 1", "line 4: unknown mnemonic 'movv'");
  expect_error("# c\n\n\n\njne %r0, 1, fail\nexit", "line 5: undefined label 'fail'");
  expect_error("mov %r11x, 1", "line 1: bad register '%r11x'");
  expect_error("mov %r16, 1", "line 1: bad register '%r16'");
  expect_error("mov %r0, 0x100000000", "line 1: immediate 0x100000000 out of range");
  expect_error("mov %r0, -2147483649", "line 1: immediate -2147483649 out of range");
  expect_error("lddw %r0, 0x10000000000000000", "line 1: bad number");
  expect_error("ldxw %r0, [%r1+32768]", "line 1: offset +32768 out of range");
  expect_error("ldxw %r0, %r1", "line 1: bad operands for 'ldxw': expected 'ldxw %rD, [%rS+OFF]'");
  expect_error("add %r0", "expected 'add %rD, IMM' or 'add %rD, %rS'");
  expect_error("exit %r0", "line 1: bad operands for 'exit'");
  expect_error("ja +40000", "line 1: jump offset +40000 out of range");
  expect_error("a:\na:\nexit", "line 2: duplicate label 'a' (first defined on line 1)");
  expect_error("mov %r0, 1,", "line 1: empty operand");
  expect_error("lock %r0", "unknown mnemonic 'lock'");
  expect_error("ldxw %r0, [%r1+x]", "bad memory offset");

  /* A label too far for a 16-bit offset; ja32 reaches it. */
  char *big = far_program("ja");
  expect_error(big, "line 1: offset out of range: 'far' is 40000 instructions away");
  free(big);
  big = far_program("ja32");
  size_t n;
  fj_insn *c = assemble_ok(big, &n);
  assert_int_equal(c[0].imm, 40000);
  free(c);
  free(big);
}

/* For every FJ_OPS row: build an instruction with non-zero operands, disassemble the program,
 * check the row's mnemonic was printed (not .raw), re-assemble and compare bytes. */
static void test_every_op_roundtrip(void **state) {
  (void)state;
  for (int op = 1; op < FJ_OP__COUNT; op++) {
    fj_insn prog[8];
    size_t n = 0;
    prog[n++] = fj_asm_encode((enum fj_op)op, 3, 7, 2, fj_op_is_lddw((enum fj_op)op) ? 3 : 0x1234);
    if (fj_op_table[op].fmt == FJ_FMT_JA32 || fj_op_table[op].fmt == FJ_FMT_CALL_LOCAL) prog[0].imm = 2;
    if (op == FJ_OP_LDDW) prog[0].imm = -5;
    if (fj_op_is_lddw((enum fj_op)op)) prog[n++] = fj_insn_make(0, 0, 0, 0, op == FJ_OP_LDDW ? 0x7eadbeef : 0);
    while (n < 6) prog[n++] = fj_insn_make(0x95, 0, 0, 0, 0);
    assert_int_equal(fj_op_decode(prog[0]), op);

    char *text;
    assert_true(fj_disasm(prog, n, NULL, 0, 0, &text) > 0);
    if (strstr(text, ".raw") || strncmp(text, fj_op_table[op].mnem, strlen(fj_op_table[op].mnem)) != 0)
      print_error("%s printed as:\n%s", fj_op_table[op].name, text);
    assert_null(strstr(text, ".raw"));

    size_t n2;
    fj_insn *back = assemble_ok(text, &n2);
    assert_int_equal(n2, n);
    if (memcmp(back, prog, n * sizeof *prog) != 0) print_error("%s: re-assembly differs\n%s", fj_op_table[op].name, text);
    assert_memory_equal(back, prog, n * sizeof *prog);

    /* The single-instruction form starts with the mnemonic too. */
    char line[128];
    int used = fj_disasm_insn(prog, n, 0, line, sizeof line);
    assert_int_equal(used, fj_op_is_lddw((enum fj_op)op) ? 2 : 1);
    assert_memory_equal(line, fj_op_table[op].mnem, strlen(fj_op_table[op].mnem));
    free(back);
    free(text);
  }
}

/* Every program of the shared conformance suite assembles; lddw.data's asm equals its raw. */
static void test_conformance_programs(void **state) {
  (void)state;
  const char *dir = fj_data_dir();
  if (!dir) {
    fprintf(stderr, "SKIP: shared conformance data not found (../shared/conformance or $FJ_SHARED)\n");
    skip();
  }
  char **paths;
  int n = fj_data_list(dir, &paths);
  assert_true(n > 0);
  int with_raw = 0;
  for (int k = 0; k < n; k++) {
    fj_data_case c;
    char err[512];
    if (fj_data_case_load(paths[k], &c, err, sizeof err)) print_error("%s\n", err);
    assert_non_null(c.asm_text);
    fj_insn *code;
    size_t ninsns;
    int rc = fj_asm(c.asm_text, &code, &ninsns, err, sizeof err);
    if (rc) print_error("%s: %s\n", paths[k], err);
    assert_int_equal(rc, 0);
    assert_true(ninsns > 0);
    if (c.raw) {
      with_raw++;
      assert_int_equal(ninsns, c.nraw);
      assert_memory_equal(code, c.raw, ninsns * sizeof *code);
    }
    /* And the disassembly of each program re-assembles to the same bytes. */
    char *text;
    assert_true(fj_disasm(code, ninsns, NULL, 0, FJ_DISASM_PC, &text) > 0);
    fj_insn *again;
    size_t n2;
    assert_int_equal(fj_asm(text, &again, &n2, err, sizeof err), 0);
    assert_int_equal(n2, ninsns);
    assert_memory_equal(again, code, ninsns * sizeof *code);
    free(again);
    free(text);
    free(code);
    fj_data_case_free(&c);
  }
  assert_true(with_raw >= 1);
  fj_data_list_free(paths, n);
}

/* Mutated programs: the assembler either succeeds or names a line, and never crashes (this
 * test earns its keep under SAN=1). */
static void test_mutations(void **state) {
  (void)state;
  static const char base[] = "start: mov %r0, 0x10\n"
                             "lddw %r1, -0x8000000000000000 # c\n"
                             "ldxdw %r2, [%r10-8]\n"
                             "lock fetch add32 [%r1+4], %r2\n"
                             "jne %r0, %r1, start\n"
                             "call local f\n"
                             "ja32 +1\n"
                             "f: stw [%r1-2], 0xffffffff\n"
                             "exit\n";
  static const char alphabet[] = "%r0123456789abcdefx[]+-,:# \n\tlmovjexitlockfetch.";
  uint64_t seed = 42;
  int ok = 0;
  for (int round = 0; round < 20000; round++) {
    char text[sizeof base + 8];
    memcpy(text, base, sizeof base);
    int edits = 1 + round % 4;
    for (int e = 0; e < edits; e++) {
      seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
      size_t at = (size_t)(seed % (sizeof base - 1));
      text[at] = alphabet[(seed >> 20) % (sizeof alphabet - 1)];
    }
    fj_insn *code;
    size_t n;
    char err[160];
    int rc = fj_asm(text, &code, &n, err, sizeof err);
    if (rc == 0) {
      ok++;
      free(code);
    } else {
      assert_int_equal(rc, FJ_EINVAL);
      if (strncmp(err, "line ", 5) != 0) print_error("message without a line: '%s'\n", err);
      assert_memory_equal(err, "line ", 5);
    }
  }
  assert_true(ok > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_encodings),
    cmocka_unit_test(test_lddw),
    cmocka_unit_test(test_labels),
    cmocka_unit_test(test_errors),
    cmocka_unit_test(test_every_op_roundtrip),
    cmocka_unit_test(test_conformance_programs),
    cmocka_unit_test(test_mutations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
