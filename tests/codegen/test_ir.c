/* The IR: constants, emission, reference semantics (eBPF rules), conditions, use counts,
 * printer, aborts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codegen/ir.h"
#include "codegen/snap.h"

static void test_constants(void **st) {
  (void)st;
  fj_ir ir;
  fj_ir_init(&ir, 0);
  assert_int_equal(setjmp(ir.abort_jb), 0);
  fj_ref a = fj_ir_k64(&ir, 5), b = fj_ir_k64(&ir, 5), c = fj_ir_kint(&ir, FJ_IRT_I32, 5);
  assert_int_equal(a, b);
  assert_int_not_equal(a, c);                  /* typed */
  assert_true(fj_ir_is_k(a) && a < FJ_REF_BIAS);
  fj_ref d = fj_ir_kint(&ir, FJ_IRT_I32, 0x100000005ull);  /* truncated to 32 bits */
  assert_int_equal(d, c);
  /* many constants: the buffer grows downwards without moving refs' meaning */
  fj_ref first = fj_ir_k64(&ir, 1000);
  for (uint64_t v = 0; v < 3000; v++) fj_ir_k64(&ir, v * 7 + 1);
  assert_int_equal(fj_ir_kval(&ir, first), 1000);
  assert_int_equal(fj_ir_kval(&ir, a), 5);
  fj_ir_free(&ir);
}

static void test_emit_and_print(void **st) {
  (void)st;
  fj_ir ir;
  fj_ir_init(&ir, FJ_IR_NOFOLD);
  assert_int_equal(setjmp(ir.abort_jb), 0);
  fj_ir_ins rin = {.op = FJ_IR_RIN, .type = FJ_IRT_I64};
  rin.lit = 1;
  fj_ref x = fj_ir_emit(&ir, &rin);
  fj_ref y = fj_ir_op2(&ir, FJ_IR_ADD, FJ_IRT_I64, x, fj_ir_k64(&ir, 0x12345678));
  fj_ref z = fj_ir_op2(&ir, FJ_IR_ADD, FJ_IRT_I64, x, fj_ir_k64(&ir, 0x12345678));
  assert_int_not_equal(y, z);  /* NOFOLD: no CSE */
  fj_ir_op2(&ir, FJ_IR_SUB, FJ_IRT_I32, z, fj_ir_k64(&ir, (uint64_t)-3));
  fj_snap sn = {.pc = 7, .kind = FJ_EXIT_GUARD, .budget = x, .budget_adj = 2};
  sn.regs[3] = y;
  fj_snap_slot sl = {.off = -8, .width = 8, .ref = z};
  sn.nslots = 1;
  uint32_t s = fj_snap_add(&ir, &sn, &sl, NULL);
  fj_ir_guard(&ir, FJ_IR_ULT, FJ_IRT_I32, y, fj_ir_kint(&ir, FJ_IRT_I32, 16), s);
  char *txt = fj_ir_dump(&ir, true);
  assert_string_equal(txt,
                      "0000   i64 RIN    r1\n"
                      "0001   i64 ADD    0000 #0x12345678\n"
                      "0002   i64 ADD    0000 #0x12345678\n"
                      "0003   i32 SUB    0002 #-3\n"
                      "0004 > i32 ULT    0001 #16  snap 0\n"
                      "snap 0 guard pc 7 [r3=0001] {-8:8=0002} budget 0000+2\n");
  /* bounded printing: truncated but NUL-terminated, full length returned */
  char small[10];
  size_t n = fj_ir_print(&ir, small, sizeof small, true);
  assert_int_equal(n, strlen(txt));
  assert_int_equal(strlen(small), sizeof small - 1);
  free(txt);
  /* use counts */
  uint32_t uses[8];
  fj_ir_use_counts(&ir, uses, false);
  assert_int_equal(uses[0], 2);
  assert_int_equal(uses[1], 1);
  assert_int_equal(uses[2], 1);
  fj_ir_use_counts(&ir, uses, true);
  assert_int_equal(uses[0], 3);  /* + budget of snap 0 */
  assert_int_equal(uses[2], 2);  /* + slot entry */
  /* kill + rechain */

  fj_ir_kill(&ir, FJ_REF_BIAS + 3);
  assert_int_equal(fj_ir_at(&ir, FJ_REF_BIAS + 3)->op, FJ_IR_NOP);
  assert_int_equal(ir.chain[FJ_IR_SUB], FJ_REF_NONE);
  fj_ir_rechain(&ir);
  assert_int_equal(ir.chain[FJ_IR_ADD], FJ_REF_BIAS + 2);
  assert_int_equal(fj_ir_at(&ir, FJ_REF_BIAS + 2)->prev, FJ_REF_BIAS + 1);
  fj_ir_free(&ir);
}

static void test_abort(void **st) {
  (void)st;
  fj_ir ir;
  fj_ir_init(&ir, 0);
  volatile int reached = 0;
  if (setjmp(ir.abort_jb) == 0) {
    fj_ir_scratch(&ir, 100);  /* freed by fj_ir_free even though we longjmp */
    fj_ir_abort(&ir, FJ_ABORT_GUARD_FAIL, "rec %d", 17);
    reached = 1;
  }
  assert_int_equal(reached, 0);
  assert_int_equal(ir.reason, FJ_ABORT_GUARD_FAIL);
  assert_string_equal(ir.msg, "rec 17");
  assert_string_equal(fj_abort_name(FJ_ABORT_GUARD_FAIL), "GUARD_FAIL");
  assert_string_equal(fj_abort_text(999), "unknown abort reason");
  fj_ir_free(&ir);
}

static void test_semantics(void **st) {
  (void)st;
  const uint64_t M64 = 0x8000000000000000ull;
  /* division rules of RFC 9669 */
  assert_int_equal(fj_ir_arith(FJ_IR_UDIV, FJ_IRT_I64, 0, 7, 0), 0);
  assert_int_equal(fj_ir_arith(FJ_IR_UMOD, FJ_IRT_I64, 0, 7, 0), 7);
  assert_int_equal(fj_ir_arith(FJ_IR_UMOD, FJ_IRT_I32, 0, 0x100000007ull, 0), 7);
  assert_int_equal(fj_ir_arith(FJ_IR_SDIV, FJ_IRT_I64, 0, M64, (uint64_t)-1), M64);
  assert_int_equal(fj_ir_arith(FJ_IR_SMOD, FJ_IRT_I64, 0, M64, (uint64_t)-1), 0);
  assert_int_equal(fj_ir_arith(FJ_IR_SDIV, FJ_IRT_I32, 0, 0x80000000u, 0xffffffffu), 0x80000000u);
  assert_int_equal(fj_ir_arith(FJ_IR_SDIV, FJ_IRT_I64, 0, (uint64_t)-7, 2), (uint64_t)-3);
  assert_int_equal(fj_ir_arith(FJ_IR_SMOD, FJ_IRT_I64, 0, (uint64_t)-7, 2), (uint64_t)-1);
  assert_int_equal(fj_ir_arith(FJ_IR_SMOD, FJ_IRT_I32, 0, (uint32_t)-7, 2), 0xffffffffu);
  assert_int_equal(fj_ir_arith(FJ_IR_SDIV, FJ_IRT_I32, 0, 0xfffffff9u, 0), 0);
  /* shifts mask their count */
  assert_int_equal(fj_ir_arith(FJ_IR_SHL, FJ_IRT_I64, 0, 1, 65), 2);
  assert_int_equal(fj_ir_arith(FJ_IR_SHL, FJ_IRT_I32, 0, 1, 33), 2);
  assert_int_equal(fj_ir_arith(FJ_IR_SAR, FJ_IRT_I32, 0, 0x80000000u, 31), 0xffffffffu);
  assert_int_equal(fj_ir_arith(FJ_IR_SAR, FJ_IRT_I64, 0, M64, 63), ~0ull);
  assert_int_equal(fj_ir_arith(FJ_IR_SHR, FJ_IRT_I32, 0, 0xffffffff00000010ull, 4), 1);
  /* I32 results are zero-extended */
  assert_int_equal(fj_ir_arith(FJ_IR_SUB, FJ_IRT_I32, 0, 0, 1), 0xffffffffu);
  assert_int_equal(fj_ir_arith(FJ_IR_NEG, FJ_IRT_I32, 0, 1, 0), 0xffffffffu);
  assert_int_equal(fj_ir_arith(FJ_IR_MUL, FJ_IRT_I32, 0, 0x10000, 0x10000), 0);
  /* high multiplies at both widths */
  assert_int_equal(fj_ir_arith(FJ_IR_MULHU, FJ_IRT_I64, 0, ~0ull, ~0ull), ~0ull - 1);
  assert_int_equal(fj_ir_arith(FJ_IR_MULHS, FJ_IRT_I64, 0, ~0ull, ~0ull), 0);
  assert_int_equal(fj_ir_arith(FJ_IR_MULHU, FJ_IRT_I32, 0, 0xffffffffu, 0xffffffffu), 0xfffffffeu);
  assert_int_equal(fj_ir_arith(FJ_IR_MULHS, FJ_IRT_I32, 0, 0xffffffffu, 2), 0xffffffffu);
  /* conversions */
  assert_int_equal(fj_ir_arith(FJ_IR_SEXT, FJ_IRT_I64, 8, 0x80, 0), 0xffffffffffffff80ull);
  assert_int_equal(fj_ir_arith(FJ_IR_SEXT, FJ_IRT_I32, 16, 0x8000, 0), 0xffff8000u);
  assert_int_equal(fj_ir_arith(FJ_IR_ZEXT, FJ_IRT_I32, 16, 0x12345678, 0), 0x5678);
  assert_int_equal(fj_ir_arith(FJ_IR_BSWAP, FJ_IRT_I32, 16, 0x12345678, 0), 0x7856);
  assert_int_equal(fj_ir_arith(FJ_IR_BSWAP, FJ_IRT_I32, 32, 0x12345678, 0), 0x78563412);
  assert_int_equal(fj_ir_arith(FJ_IR_BSWAP, FJ_IRT_I64, 64, 0x0102030405060708ull, 0),
                   0x0807060504030201ull);
}

static void test_conditions(void **st) {
  (void)st;
  const uint64_t vals[] = {0, 1, 2, 0x7fffffff, 0x80000000u, 0xffffffffu, 0x100000000ull,
                           0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull};
  for (int c = FJ_IR_EQ; c <= FJ_IR_NTEST; c++)
    for (int t = FJ_IRT_I32; t <= FJ_IRT_I64; t++)
      for (size_t i = 0; i < 10; i++)
        for (size_t j = 0; j < 10; j++) {
          uint64_t a = vals[i], b = vals[j];
          bool v = fj_ir_cond((enum fj_ir_op)c, (enum fj_irt)t, a, b);
          assert_int_equal(!v, fj_ir_cond(fj_ir_cond_invert((enum fj_ir_op)c), (enum fj_irt)t, a, b));
          assert_int_equal(v, fj_ir_cond(fj_ir_cond_swap((enum fj_ir_op)c), (enum fj_irt)t, b, a));
        }
  assert_true(fj_ir_cond(FJ_IR_LT, FJ_IRT_I32, 0xffffffffu, 0));       /* -1 < 0 at 32 bits */
  assert_false(fj_ir_cond(FJ_IR_LT, FJ_IRT_I64, 0xffffffffu, 0));
  assert_true(fj_ir_cond(FJ_IR_EQ, FJ_IRT_I32, 0x100000001ull, 1));    /* low halves */
  assert_true(fj_ir_cond(FJ_IR_TEST, FJ_IRT_I64, 0x100000000ull, 0x100000000ull));
  assert_false(fj_ir_cond(FJ_IR_TEST, FJ_IRT_I32, 0x100000000ull, 0x100000000ull));
}

static void test_op_table(void **st) {
  (void)st;
  for (int op = 0; op < FJ_IR__COUNT; op++) {
    assert_non_null(fj_ir_op_table[op].name);
    bool g = (fj_ir_op_table[op].flags & FJ_IRF_GUARD) != 0;
    assert_int_equal(g, fj_ir_is_guard((unsigned)op));
  }
  assert_string_equal(fj_ir_op_name(FJ_IR_CMPXCHG), "CMPXCHG");
  assert_string_equal(fj_ir_op_name(200), "?");
}

static void test_verify(void **st) {
  (void)st;
  fj_ir ir;
  fj_ir_init(&ir, FJ_IR_NOFOLD);
  assert_int_equal(setjmp(ir.abort_jb), 0);
  fj_ir_ins rin = {.op = FJ_IR_RIN, .type = FJ_IRT_I64};
  rin.lit = 1;
  fj_ref x = fj_ir_emit(&ir, &rin);
  fj_ref y = fj_ir_op2(&ir, FJ_IR_ADD, FJ_IRT_I64, x, fj_ir_k64(&ir, 1));
  fj_snap sn = {.pc = 1, .kind = FJ_EXIT_GUARD, .budget = x};
  uint32_t s = fj_snap_add(&ir, &sn, NULL, NULL);
  fj_ref g = fj_ir_guard(&ir, FJ_IR_NE, FJ_IRT_I64, y, fj_ir_k64(&ir, 0), s);
  char msg[160];
  assert_int_equal(fj_ir_verify(&ir, msg, sizeof msg), 0);
  fj_ir_at(&ir, y)->a = g;  /* a forward ref */
  assert_int_equal(fj_ir_verify(&ir, msg, sizeof msg), -1);
  assert_string_equal(msg, "ir 0001: ADD operand a is not an earlier value");
  fj_ir_at(&ir, y)->a = x;
  ir.snaps[s].regs[2] = y;
  fj_ir_at(&ir, y)->op = FJ_IR_NOP;  /* the snapshot names a removed value */
  fj_ir_at(&ir, g)->a = x;
  assert_int_equal(fj_ir_verify(&ir, msg, sizeof msg), -1);
  assert_non_null(strstr(msg, "snapshot 0 names a dead or bad ref"));
  fj_ir_free(&ir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_constants),  cmocka_unit_test(test_emit_and_print),
      cmocka_unit_test(test_abort),      cmocka_unit_test(test_semantics),
      cmocka_unit_test(test_conditions), cmocka_unit_test(test_op_table),
      cmocka_unit_test(test_verify),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
