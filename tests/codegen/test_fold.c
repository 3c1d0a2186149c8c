/* Folding engine: constant folding, algebraic simplification, CSE, guard folding, division by
 * constants (checked against the reference semantics on many values). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codegen/ir.h"
#include "codegen/opt.h"
#include "tests/codegen/cg_util.h"

static const char *k_prog =
    "mov %r0, 5\n"
    "add %r0, 3\n"          /* constant folding: r0 = #8, no instruction */
    "mov %r2, %r1\n"
    "mul %r2, 8\n"          /* strength reduction: SHL */
    "add %r2, 0\n"          /* identity */
    "sub %r3, %r3\n"        /* x - x = 0 */
    "and %r4, 0xffffffff\n" /* imm sign-extends: AND with -1 is the identity */
    "add32 %r4, 1\n"
    "div %r5, 7\n"          /* division by a constant: multiply-high and shifts */
    "mov %r6, %r1\n"
    "mul %r6, 8\n"          /* CSE: same as r2 */
    "exit\n";

static void test_fold_before_after(void **st) {
  (void)st;
  char *before = cu_ir_text_flags(k_prog, "", false, false, FJ_IR_NOFOLD);
  assert_string_equal(before,
                      "0000   i64 RIN    r10\n"
                      "0001   i64 RIN    budget\n"
                      "0002   i64 SUB    0001 #12\n"
                      "0003 > i64 GE     0001 #12  snap 0\n"
                      "0004   i64 ADD    #5 #3\n"
                      "0005   i64 RIN    r1\n"
                      "0006   i64 MUL    0005 #8\n"
                      "0007   i64 ADD    0006 #0\n"
                      "0008   i64 RIN    r3\n"
                      "0009   i64 SUB    0008 0008\n"
                      "0010   i64 RIN    r4\n"
                      "0011   i64 AND    0010 #-1\n"
                      "0012   i32 ADD    0011 #1\n"
                      "0013   i64 RIN    r5\n"
                      "0014   i64 UDIV   0013 #7\n"
                      "0015   i64 MUL    0005 #8\n"
                      "0016       EXIT   kind 3  snap 1\n");
  char *after = cu_ir_text_flags(k_prog, "", false, false, 0);
  assert_string_equal(after,
                      "0000   i64 RIN    r10\n"
                      "0001   i64 RIN    budget\n"
                      "0002   i64 ADD    0001 #-12\n"
                      "0003 > i64 GE     0001 #12  snap 0\n"
                      "0004   i64 RIN    r1\n"
                      "0005   i64 SHL    0004 #3\n"
                      "0006   i64 RIN    r3\n"
                      "0007   i64 RIN    r4\n"
                      "0008   i32 ADD    0007 #1\n"
                      "0009   i64 RIN    r5\n"
                      "0010   i64 MULHU  0009 #0x2492492492492493\n"
                      "0011   i64 SUB    0009 0010\n"
                      "0012   i64 SHR    0011 #1\n"
                      "0013   i64 ADD    0012 0010\n"
                      "0014   i64 SHR    0013 #2\n"
                      "0015       EXIT   kind 3  snap 1\n");
  free(before);
  free(after);
}

/* ---- direct emission ------------------------------------------------------------------------ */

typedef struct env {
  fj_ir ir;
  fj_ref x, y;  /* RIN r1, RIN r2 */
} env;

static void env_init(env *e) {
  fj_ir_init(&e->ir, 0);
  fj_ir_ins rin = {.op = FJ_IR_RIN, .type = FJ_IRT_I64};
  rin.lit = 1;
  e->x = fj_ir_emit(&e->ir, &rin);
  rin.lit = 2;
  e->y = fj_ir_emit(&e->ir, &rin);
}

static void test_algebra(void **st) {
  (void)st;
  env e;
  env_init(&e);
  fj_ir *ir = &e.ir;
  assert_int_equal(setjmp(ir->abort_jb), 0);
  fj_ref k3 = fj_ir_k64(ir, 3);
  fj_ref a = fj_ir_op2(ir, FJ_IR_ADD, FJ_IRT_I64, e.x, k3);
  fj_ref b = fj_ir_op2(ir, FJ_IR_ADD, FJ_IRT_I64, k3, e.x);  /* commutative: CSE */
  assert_int_equal(a, b);
  fj_ref c = fj_ir_op2(ir, FJ_IR_ADD, FJ_IRT_I64, a, fj_ir_k64(ir, 4));  /* (x+3)+4 = x+7 */
  assert_int_equal(fj_ir_at(ir, c)->a, e.x);
  assert_int_equal(fj_ir_kval(ir, fj_ir_at(ir, c)->b), 7);
  fj_ref d = fj_ir_op2(ir, FJ_IR_SUB, FJ_IRT_I64, e.x, fj_ir_k64(ir, 7));  /* x-7 = x+(-7) */
  assert_int_equal(fj_ir_at(ir, d)->op, FJ_IR_ADD);
  assert_int_equal(fj_ir_op2(ir, FJ_IR_ADD, FJ_IRT_I64, d, fj_ir_k64(ir, 7)), e.x);
  assert_int_equal(fj_ir_op2(ir, FJ_IR_XOR, FJ_IRT_I64, e.y, e.y), fj_ir_k64(ir, 0));
  assert_int_equal(fj_ir_op2(ir, FJ_IR_OR, FJ_IRT_I64, e.y, e.y), e.y);
  /* 32-bit knowledge: AND with 0xffffffff becomes ZEXT 32 (I32); an I32 op does not need it */
  fj_ref z = fj_ir_op2(ir, FJ_IR_AND, FJ_IRT_I64, e.x, fj_ir_k64(ir, 0xffffffffu));
  assert_int_equal(fj_ir_at(ir, z)->op, FJ_IR_ZEXT);
  assert_int_equal(fj_ir_at(ir, z)->type, FJ_IRT_I32);
  fj_ref z2 = fj_ir_op2(ir, FJ_IR_ADD, FJ_IRT_I32, z, fj_ir_kint(ir, FJ_IRT_I32, 1));
  assert_int_equal(fj_ir_at(ir, z2)->a, e.x);
  assert_int_equal(fj_ir_op1(ir, FJ_IR_ZEXT, FJ_IRT_I32, z2, 32), z2);
  fj_ref m = fj_ir_op2(ir, FJ_IR_AND, FJ_IRT_I64, e.x, fj_ir_k64(ir, 0xff));
  assert_int_equal(fj_ir_at(ir, m)->op, FJ_IR_ZEXT);
  assert_int_equal(fj_ir_at(ir, m)->aux, 8);
  /* shift counts are masked at fold time too */
  fj_ref s = fj_ir_op2(ir, FJ_IR_SHL, FJ_IRT_I32, e.x, fj_ir_kint(ir, FJ_IRT_I32, 33));
  assert_int_equal(fj_ir_kval(ir, fj_ir_at(ir, s)->b), 1);
  assert_int_equal(fj_ir_op2(ir, FJ_IR_SHL, FJ_IRT_I64, e.x, fj_ir_k64(ir, 64)), e.x);
  /* clang's extension idioms */
  fj_ref sh = fj_ir_op2(ir, FJ_IR_SHL, FJ_IRT_I64, e.y, fj_ir_k64(ir, 32));
  fj_ref ze = fj_ir_op2(ir, FJ_IR_SHR, FJ_IRT_I64, sh, fj_ir_k64(ir, 32));
  assert_int_equal(fj_ir_at(ir, ze)->op, FJ_IR_ZEXT);
  assert_int_equal(fj_ir_at(ir, ze)->type, FJ_IRT_I32);
  fj_ref sh48 = fj_ir_op2(ir, FJ_IR_SHL, FJ_IRT_I64, e.y, fj_ir_k64(ir, 48));
  fj_ref se = fj_ir_op2(ir, FJ_IR_SAR, FJ_IRT_I64, sh48, fj_ir_k64(ir, 48));
  assert_int_equal(fj_ir_at(ir, se)->op, FJ_IR_SEXT);
  assert_int_equal(fj_ir_at(ir, se)->aux, 16);
  uint64_t in[16] = {0};
  in[2] = 0x123456789abcdef0ull;
  assert_int_equal(cu_eval(ir, ze, in), 0x9abcdef0ull);
  assert_int_equal(cu_eval(ir, se, in), 0xffffffffffffdef0ull);
  /* NEG NEG x = x */
  fj_ref n = fj_ir_op2(ir, FJ_IR_NEG, FJ_IRT_I64, e.x, 0);
  assert_int_equal(fj_ir_op2(ir, FJ_IR_NEG, FJ_IRT_I64, n, 0), e.x);
  /* constants fold with exact semantics */
  assert_int_equal(fj_ir_op2(ir, FJ_IR_SDIV, FJ_IRT_I32, fj_ir_kint(ir, FJ_IRT_I32, 0x80000000u),
                             fj_ir_kint(ir, FJ_IRT_I32, 0xffffffffu)),
                   fj_ir_kint(ir, FJ_IRT_I32, 0x80000000u));
  assert_int_equal(fj_ir_op2(ir, FJ_IR_UMOD, FJ_IRT_I64, e.x, fj_ir_k64(ir, 0)), e.x);
  assert_int_equal(fj_ir_op2(ir, FJ_IR_UDIV, FJ_IRT_I64, e.x, fj_ir_k64(ir, 0)), fj_ir_k64(ir, 0));
  fj_ir_free(ir);
}

static void test_guards(void **st) {
  (void)st;
  env e;
  env_init(&e);
  fj_ir *ir = &e.ir;
  if (setjmp(ir->abort_jb) == 0) {
    fj_ref k1 = fj_ir_k64(ir, 1), k2 = fj_ir_k64(ir, 2);
    assert_int_equal(fj_ir_guard(ir, FJ_IR_ULT, FJ_IRT_I64, k1, k2, 0), FJ_REF_NONE);
    assert_int_equal(fj_ir_guard(ir, FJ_IR_UGE, FJ_IRT_I64, e.x, fj_ir_k64(ir, 0), 0), FJ_REF_NONE);
    assert_int_equal(fj_ir_guard(ir, FJ_IR_EQ, FJ_IRT_I64, e.x, e.x, 0), FJ_REF_NONE);
    fj_ref g = fj_ir_guard(ir, FJ_IR_UGT, FJ_IRT_I64, k1, e.x, 0);  /* const left: swapped */
    assert_int_equal(fj_ir_at(ir, g)->op, FJ_IR_ULT);
    assert_int_equal(fj_ir_at(ir, g)->a, e.x);
    assert_int_equal(fj_ir_guard(ir, FJ_IR_ULT, FJ_IRT_I64, e.x, k1, 5), FJ_REF_NONE); /* implied */
    /* unsigned 64-bit compare of two 32-bit values narrows to I32 */
    fj_ref z = fj_ir_op1(ir, FJ_IR_ZEXT, FJ_IRT_I32, e.y, 32);
    fj_ref g2 = fj_ir_guard(ir, FJ_IR_ULT, FJ_IRT_I64, z, fj_ir_k64(ir, 10), 0);
    assert_int_equal(fj_ir_at(ir, g2)->type, FJ_IRT_I32);
    assert_int_equal(fj_ir_at(ir, g2)->a, e.y);  /* and the ZEXT is not needed */
    /* and + jeq 0 is a test */
    fj_ref m3 = fj_ir_op2(ir, FJ_IR_AND, FJ_IRT_I64, e.x, e.y);
    fj_ref g3 = fj_ir_guard(ir, FJ_IR_EQ, FJ_IRT_I64, m3, fj_ir_k64(ir, 0), 0);
    assert_int_equal(fj_ir_at(ir, g3)->op, FJ_IR_NTEST);
    assert_int_equal(fj_ir_at(ir, g3)->a, e.x);
    assert_int_equal(fj_ir_at(ir, g3)->b, e.y);
    /* implied guards: x < 100 makes x < 200 and x <= 150 redundant, not x < 50 */
    fj_ref gl = fj_ir_guard(ir, FJ_IR_ULT, FJ_IRT_I64, e.y, fj_ir_k64(ir, 100), 0);
    assert_int_not_equal(gl, FJ_REF_NONE);
    assert_int_equal(fj_ir_guard(ir, FJ_IR_ULT, FJ_IRT_I64, e.y, fj_ir_k64(ir, 200), 0), FJ_REF_NONE);
    assert_int_equal(fj_ir_guard(ir, FJ_IR_ULE, FJ_IRT_I64, e.y, fj_ir_k64(ir, 150), 0), FJ_REF_NONE);
    assert_int_not_equal(fj_ir_guard(ir, FJ_IR_ULT, FJ_IRT_I64, e.y, fj_ir_k64(ir, 50), 0),
                         FJ_REF_NONE);
    /* signed: x > -5 implies x >= -5 but says nothing unsigned */
    fj_ref m5 = fj_ir_k64(ir, (uint64_t)-5);
    assert_int_not_equal(fj_ir_guard(ir, FJ_IR_GT, FJ_IRT_I64, e.x, m5, 0), FJ_REF_NONE);
    assert_int_equal(fj_ir_guard(ir, FJ_IR_GE, FJ_IRT_I64, e.x, m5, 0), FJ_REF_NONE);
    assert_int_not_equal(fj_ir_guard(ir, FJ_IR_UGE, FJ_IRT_I64, e.x, m5, 0), FJ_REF_NONE);
    fj_ir_guard(ir, FJ_IR_GT, FJ_IRT_I64, k1, k2, 3);  /* always fails: abort */
    fail_msg("no abort");
  }
  assert_int_equal(ir->reason, FJ_ABORT_GUARD_FAIL);
  assert_non_null(strstr(ir->msg, "snap 3"));
  fj_ir_free(ir);
}

/* ---- division by constants ------------------------------------------------------------------ */

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void check_div(enum fj_ir_op op, enum fj_irt t, uint64_t d, unsigned *no_div) {
  env e;
  env_init(&e);
  fj_ir *ir = &e.ir;
  assert_int_equal(setjmp(ir->abort_jb), 0);
  fj_ref q = fj_ir_op2(ir, op, t, e.x, fj_ir_kint(ir, t, d));
  bool divides = false;
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) {
    uint8_t o = fj_ir_at(ir, r)->op;
    divides |= o == FJ_IR_UDIV || o == FJ_IR_SDIV || o == FJ_IR_UMOD || o == FJ_IR_SMOD;
  }
  *no_div += !divides;
  if (t == FJ_IRT_I32 && !fj_ir_is_k(q)) assert_int_equal(fj_ir_at(ir, q)->type == FJ_IRT_I32 ||
                                                           q == e.x, 1);
  const uint64_t edge[] = {0, 1, 2, 3, 6, 7, 0x7fffffff, 0x80000000u, 0xfffffffe, 0xffffffffu,
                           0x100000000ull, 0x7fffffffffffffffull, 0x8000000000000000ull,
                           0x8000000000000001ull, ~0ull, ~0ull - 1, d, d - 1, d + 1, 2 * d,
                           0 - d};
  uint64_t in[16] = {0};
  for (unsigned i = 0; i < 300; i++) {
    uint64_t x = i < sizeof edge / sizeof edge[0] ? edge[i] : rnd() >> (rnd() % 64);
    if (t == FJ_IRT_I32 && i % 3 == 0) x |= 0xabcd000000000000ull;  /* junk in the high half */
    in[1] = x;
    uint64_t want = fj_ir_arith(op, t, 0, x, d);
    uint64_t got = cu_eval(ir, q, in);
    if (got != want)
      fail_msg("%s.%s x=%#llx d=%#llx: got %#llx want %#llx", fj_ir_op_name(op),
               t == FJ_IRT_I32 ? "i32" : "i64", (unsigned long long)x, (unsigned long long)d,
               (unsigned long long)got, (unsigned long long)want);
  }
  fj_ir_free(ir);
}

static void test_div_const(void **st) {
  (void)st;
  const uint64_t ds[] = {1, 2, 3, 5, 6, 7, 9, 10, 12, 25, 60, 100, 125, 641, 1000, 1024, 3600,
                         86400, 1000000007, 0x7fffffff, 0x80000000u, 0xfffffffe, 0xffffffffu,
                         0x100000001ull, 0x7fffffffffffffffull, 0x8000000000000000ull,
                         0x8000000000000001ull, ~0ull, ~0ull - 6, (uint64_t)-1, (uint64_t)-2,
                         (uint64_t)-3, (uint64_t)-7, (uint64_t)-10, (uint64_t)-1000, 0};
  const enum fj_ir_op ops[] = {FJ_IR_UDIV, FJ_IR_UMOD, FJ_IR_SDIV, FJ_IR_SMOD};
  unsigned no_div = 0, total = 0;
  for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++)
    for (size_t o = 0; o < 4; o++)
      for (int t = FJ_IRT_I32; t <= FJ_IRT_I64; t++) {
        uint64_t d = t == FJ_IRT_I32 ? (uint32_t)ds[i] : ds[i];
        check_div(ops[o], (enum fj_irt)t, d, &no_div);
        total++;
      }
  for (unsigned i = 0; i < 400; i++) {
    uint64_t d = rnd() >> (rnd() % 64);
    for (size_t o = 0; o < 4; o++) {
      check_div(ops[o], FJ_IRT_I64, d, &no_div);
      check_div(ops[o], FJ_IRT_I32, (uint32_t)d, &no_div);
      total += 2;
    }
  }
  /* Every constant divisor avoids a hardware division. */
  assert_int_equal(no_div, total);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fold_before_after),
      cmocka_unit_test(test_algebra),
      cmocka_unit_test(test_guards),
      cmocka_unit_test(test_div_const),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
