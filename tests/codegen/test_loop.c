/* LOOP: peeling one iteration hoists invariant loads, arithmetic and bounds checks into the
 * pre-roll; loop-carried registers, stack values and the budget become PHIs. */
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
#include "codegen/snap.h"
#include "tests/codegen/cg_util.h"

/* r4 = *r6 and r7 * 3 are invariant; r0 and r1 vary. */
static const char *k_invariant =
    "loop:\n"
    "ldxdw %r4, [%r6+0]\n"
    "add %r0, %r4\n"
    "mov %r5, %r7\n"
    "mul %r5, 3\n"
    "add %r0, %r5\n"
    "add %r1, 1\n"
    "jlt %r1, %r8, loop\n"
    "exit\n";

static const char *k_preroll =
    "0000   i64 RIN    r10\n"
    "0001   i64 RIN    budget\n"
    "0002   i64 ADD    0001 #-7\n"
    "0003 > i64 GE     0001 #7  snap 0\n"
    "0004   i64 RIN    r6\n"
    "0005   i64 SLD    regions\n"
    "0006   i32 HLD    0005 +40\n"
    "0007 > i32 TEST   0006 #1  snap 1\n"
    "0008   i64 HLD    0005 +24\n"
    "0009   i64 HLD    0005 +32\n"
    "0010 > i64 UGE    0009 #8  snap 1\n"
    "0011   i64 ADD    0009 #-8\n"
    "0012   i64 SUB    0004 0008\n"
    "0014 > i64 ULE    0012 0011  snap 1\n"
    "0015   i64 LOAD   0004 w8 reg1\n"
    "0016   i64 RIN    r0\n"
    "0017   i64 ADD    0016 0015\n"
    "0018   i64 RIN    r7\n"
    "0019   i64 MUL    0018 #3\n"
    "0020   i64 ADD    0017 0019\n"
    "0021   i64 RIN    r1\n"
    "0022   i64 ADD    0021 #1\n"
    "0023   i64 RIN    r8\n"
    "0024 > i64 ULT    0022 0023  snap 2\n"
    "0025 > i64 GE     0002 #7  snap 3\n"   /* the next iteration is charged at the back edge */
    "0026   i64 ADD    0002 #-7\n";

static void test_hoisting(void **st) {
  (void)st;
  fj_ir ir;
  cu_build_text(k_invariant, "t", 0, &ir);
  char *before = cu_dump(&ir);
  assert_string_equal(before, k_preroll);  /* one iteration, no LOOP yet */
  assert_int_equal(setjmp(ir.abort_jb), 0);
  fj_opt_run(&ir);
  char *after = cu_dump(&ir);
  char want[4096];
  snprintf(want, sizeof want, "%s%s", k_preroll,
           "0027       LOOP   \n"
           "0028   i64 ADD    0020 0015\n"         /* the load and r7 * 3 come from the pre-roll */
           "0029   i64 ADD    0028 0019\n"
           "0030   i64 ADD    0022 #1\n"
           "0031 > i64 ULT    0030 0023  snap 9\n"
           "0032 > i64 GE     0026 #7  snap 10\n"  /* one budget guard per iteration */
           "0033   i64 ADD    0026 #-7\n"          /* and one decrement */
           "0034   i64 PHI    0020 0029\n"
           "0035   i64 PHI    0022 0030\n"
           "0036   i64 PHI    0026 0033\n");
  assert_string_equal(after, want);
  /* The budget exit at the back edge resumes at the loop start with the values the iteration
   * computed (no PHI needed for them), the invariant ones from the pre-roll. */
  char line[256];
  fj_snap_format(&ir, 10, line, sizeof line);
  assert_string_equal(line, "snap 10 budget pc 0 [r0=0029 r1=0030 r4=0015 r5=0019] budget 0026+0");
  free(before);
  free(after);
  fj_ir_free(&ir);
}

/* The loop of test_trace_read: a load that moves with r3, a stack store, a counter. */
static const char *k_sum =
    "loop:\n"
    "ldxw %r2, [%r3+0]\n"
    "add %r0, %r2\n"
    "stxdw [%r10-8], %r0\n"
    "add %r1, 1\n"
    "add %r3, 4\n"
    "jlt %r1, 100, loop\n"
    "exit\n";

static void test_variant_load(void **st) {
  (void)st;
  char *txt = cu_ir_text(k_sum, "t", true, false);
  const char *body = strstr(txt, "LOOP");
  assert_non_null(body);
  /* Region info and the size checks are invariant: only in the pre-roll. */
  assert_null(strstr(body, "HLD"));
  assert_null(strstr(body, "TEST"));
  assert_null(strstr(body, "UGE"));
  /* The address moves with r3, but the loop's bound (r1 < 100) bounds it: opt_mem checks the
   * whole range before LOOP, the body keeps only the load. */
  assert_null(strstr(body, "ULE"));
  assert_non_null(strstr(body, "0038   i32 LOAD   0021 w4 reg1\n"));
  /* The trip count works on 0020 (= ZEXT 0023's value, below 100 by 0022): 0022 is the
   * range check's own guard, not repeated before LOOP.  Past it 100 - 0020 is 1 .. 100, so
   * J = 100 - 0020 - 1 is I32 work on 0023 (before: I64 SUB #100 0020, ADD #-1). */
  assert_non_null(strstr(txt, "0026   i32 SUB    #100 0023\n"
                              "0027   i32 SUB    0026 #1\n"));
  assert_null(strstr(txt, "ULT    0023"));
  /* The trip count also covers the budget: b_0 >= 6 * J before LOOP, and the body only
   * decrements it (the exits still restore it exactly).  J is I32: no J <= 0xffffffff guard
   * for the product (before: one). */
  assert_non_null(strstr(txt, "0032 > i64 ULE    0027 0031  snap 11\n"
                              "0033   i64 MUL    0027 #6\n"
                              "0034 > i64 GE     0025 0033  snap 11\n"
                              "0035       LOOP   \n"));
  assert_null(strstr(body, "GE "));
  assert_non_null(strstr(body, "0045   i64 ADD    0025 #-6\n"));
  assert_non_null(strstr(body, "0046   i32 PHI    0015 0038\n"));  /* r2 keeps 32-bit type */
  assert_non_null(strstr(body, "0048   i64 PHI    0021 0042\n"));
  /* r1 < 100 makes r1 (ZEXT 0023 in the pre-roll) 32-bit: the body's r1 + 1 and its compare
   * are I32, and so is the counter's PHI. */
  assert_non_null(strstr(txt, "0022 > i64 ULT    0020 #100  snap 2\n"
                              "0023   i32 ZEXT   0020 32\n"));
  assert_non_null(strstr(body, "0041   i32 ADD    0023 #1\n"));
  assert_non_null(strstr(body, "0043 > i32 ULT    0041 #100  snap 9\n"));
  assert_non_null(strstr(body, "0049   i32 PHI    0023 0041\n"));
  free(txt);
}

static void test_stack_carried(void **st) {
  (void)st;
  /* A value carried through a stack slot: the body's load is forwarded from the previous
   * iteration's store, which becomes a PHI; no SLOAD remains in the body. */
  char *txt = cu_ir_text("loop:\nldxdw %r2, [%r10-8]\nadd %r2, 1\nstxdw [%r10-8], %r2\n"
                         "jlt %r2, 100, loop\nexit\n", "t", true, false);
  const char *body = strstr(txt, "LOOP");
  assert_non_null(body);
  assert_non_null(strstr(txt, "SLOAD  [-8] w8"));  /* the first iteration reads memory */
  assert_null(strstr(body, "SLOAD"));
  assert_non_null(strstr(body, "PHI"));
  /* and its stores are sunk: every exit writes the slot back from its snapshot */
  assert_null(strstr(txt, "SSTORE"));
  free(txt);
  fj_ir ir;
  cu_build_text("loop:\nldxdw %r2, [%r10-8]\nadd %r2, 1\nstxdw [%r10-8], %r2\n"
                "jlt %r2, 100, loop\nexit\n", "t", 0, &ir);
  assert_int_equal(setjmp(ir.abort_jb), 0);
  fj_opt_run(&ir);
  for (fj_ref r = ir.loop; r < ir.top; r++) {
    const fj_ir_ins *i = fj_ir_at(&ir, r);
    if (!fj_ir_is_guard(i->op)) continue;
    const fj_snap *s = fj_snap_get(&ir, i->snap);
    assert_int_equal(s->nslots, 1);
    assert_int_equal(fj_snap_slots(&ir, s)->off, -8);
  }
  fj_ir_free(&ir);
  /* a helper could read the slot: the store stays */
  txt = cu_ir_text("loop:\nldxdw %r2, [%r10-8]\nadd %r2, 1\nstxdw [%r10-8], %r2\ncall 7\n"
                   "jlt %r2, 100, loop\nexit\n", "t", true, false);
  assert_non_null(strstr(strstr(txt, "LOOP"), "SSTORE"));
  free(txt);
}

static void test_nofold_loop(void **st) {
  (void)st;
  /* Without folding the loop is still closed, just not optimized. */
  fj_ir ir;
  cu_build_text(k_sum, "t", FJ_IR_NOFOLD, &ir);
  assert_int_equal(setjmp(ir.abort_jb), 0);
  fj_opt_run(&ir);
  assert_int_not_equal(ir.loop, FJ_REF_NONE);
  unsigned hld_body = 0;
  for (fj_ref r = ir.loop; r < ir.top; r++) hld_body += fj_ir_at(&ir, r)->op == FJ_IR_HLD;
  assert_int_equal(hld_body, 3);
  assert_int_equal(cu_count(&ir, FJ_IR_PHI), 5);
  fj_ir_free(&ir);
}

static void test_call_in_loop(void **st) {
  (void)st;
  /* A helper call in the body: budget reloaded after it, loads after it are not hoisted
   * across it, region info re-read after it. */
  char *txt = cu_ir_text("loop:\nldxdw %r2, [%r6+0]\ncall 5\nadd %r7, %r0\nadd %r7, %r2\n"
                         "jlt %r7, 1000, loop\nexit\n", "t", true, false);
  const char *body = strstr(txt, "LOOP");
  assert_non_null(body);
  assert_non_null(strstr(body, "CALL   helper 5"));
  assert_non_null(strstr(body, "SLD    budget"));
  assert_non_null(strstr(body, "LOAD"));  /* the call may have changed *r6 */
  assert_non_null(strstr(body, "HLD"));   /* and the region table */
  free(txt);
}


/* cu_build_text with header.entry_narrow = narrow (the recorder saw those registers below
 * 2^32), then the whole pipeline. */
static void build_narrow_opt(const char *text, uint32_t narrow, fj_ir *ir) {
  uint32_t n;
  fj_insn *p = cu_asm(text, &n);
  size_t len;
  uint8_t *b = cu_trace_narrow(p, n, 0, "t", 1, 4096, narrow, &len);
  int rc = cu_build(b, len, 0, false, ir);
  free(b);
  free(p);
  if (rc) fail_msg("build: %s: %s", fj_abort_name(rc), ir->msg);
  if (setjmp(ir->abort_jb)) fail_msg("opt: %s", ir->msg);
  fj_opt_run(ir);
}

/* Equality-bounded counters (opt_loop.c): `r1 += 4` until r1 == 64.  With a bound >= 2^32, or
 * when r1 was not below 2^32 at recording, the counter stays I64 (before); with 64, guards at the end of the pre-roll (r1 <u 64 and 4
 * dividing 64 - r1, exit: the loop snapshot as a GUARD) bound every iteration's counter, and
 * the body reads ZEXT 32 of it: I32 step, I32 compare, I32 PHI (after). */
static void test_eq_counter(void **st) {
  (void)st;
  char *before = cu_ir_text("loop:\nadd %r0, 1\nadd %r1, 4\njne %r1, -4, loop\nexit\n", "t",
                            true, false);
  assert_non_null(strstr(before, "0013   i64 ADD    0007 #4\n"
                                 "0014 > i64 NE     0013 #-4  snap 5\n"));
  assert_non_null(strstr(before, "0018   i64 PHI    0007 0013\n"));
  assert_null(strstr(before, "ZEXT"));
  fj_ir ir;
  /* r1 was not below 2^32 when recording began: the guards would likely fail, nothing done */
  build_narrow_opt("loop:\nadd %r0, 1\nadd %r1, 4\njne %r1, 64, loop\nexit\n", 0, &ir);
  char *unknown = cu_dump(&ir);
  assert_null(strstr(unknown, "ZEXT"));
  assert_non_null(strstr(unknown, "i64 PHI    0007 "));
  free(unknown);
  fj_ir_free(&ir);
  build_narrow_opt("loop:\nadd %r0, 1\nadd %r1, 4\njne %r1, 64, loop\nexit\n", 1u << 1, &ir);
  char *after = cu_dump(&ir);
  assert_string_equal(after,
                      "0000   i64 RIN    r10\n"
                      "0001   i64 RIN    budget\n"
                      "0002   i64 ADD    0001 #-3\n"
                      "0003 > i64 GE     0001 #3  snap 0\n"
                      "0004   i64 RIN    r0\n"
                      "0005   i64 ADD    0004 #1\n"
                      "0006   i64 RIN    r1\n"
                      "0007   i64 ADD    0006 #4\n"
                      "0008 > i64 NE     0007 #64  snap 1\n"
                      "0009 > i64 GE     0002 #3  snap 2\n"
                      "0010   i64 ADD    0002 #-3\n"
                      "0011 > i64 ULT    0007 #64  snap 4\n"
                      "0012   i32 ZEXT   0007 32\n"
                      "0013   i32 SUB    #64 0012\n"
                      "0014 > i32 NTEST  0013 #3  snap 4\n"
                      "0015       LOOP   \n"
                      "0016   i64 ADD    0005 #1\n"
                      "0017   i32 ADD    0012 #4\n"
                      "0018 > i32 NE     0017 #64  snap 6\n"
                      "0019 > i64 GE     0010 #3  snap 7\n"
                      "0020   i64 ADD    0010 #-3\n"
                      "0021   i64 PHI    0005 0016\n"
                      "0022   i64 PHI    0010 0020\n"
                      "0023   i32 PHI    0012 0017\n");
  char line[256];
  fj_snap_format(&ir, 4, line, sizeof line);  /* the back edge's state, resuming at the top */
  assert_string_equal(line, "snap 4 guard pc 0 [r0=0005 r1=0007] budget 0002+0");
  /* The guards on entry values of r1: 0 and 56 enter the loop; 2 (4 does not divide 62: the
   * counter would step past 64), 60 (r1 + 4 = 64: left by 0008 already, and 0011 too) and 100
   * and 2^63 (above the bound: they would wrap around 2^64) leave before LOOP. */
  static const struct { uint64_t r1; bool ok; } cases[] = {
      {0, true}, {56, true}, {UINT64_MAX - 3, true} /* r1 + 4 = 0 */, {2, false}, {60, false},
      {100, false}, {1ull << 63, false}};
  for (unsigned k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    uint64_t in[16] = {0};
    in[1] = cases[k].r1;
    bool ok = true;
    for (fj_ref r = FJ_REF_BIAS + 11; r <= FJ_REF_BIAS + 14 && ok; r += 3) {
      const fj_ir_ins *g = fj_ir_at(&ir, r);  /* the I32 NTEST only runs past the I64 guard */
      ok &= fj_ir_cond((enum fj_ir_op)g->op, (enum fj_irt)g->type, cu_eval(&ir, g->a, in),
                       cu_eval(&ir, g->b, in));
    }
    if (ok != cases[k].ok) fail_msg("r1 = %llu", (unsigned long long)cases[k].r1);
  }
  free(before);
  free(after);
  fj_ir_free(&ir);

  /* Counting down by 4 to 8: 12 <= r1 - 4 <= 0xffffffff and 4 | r1 - 4 - 8; fold's lower-bound
   * rule makes the body's step an I32 ADD of -4. */
  build_narrow_opt("loop:\nadd %r0, 1\nadd %r1, -4\njne %r1, 8, loop\nexit\n", 1u << 1, &ir);
  char *down = cu_dump(&ir);
  assert_non_null(strstr(down, "0011 > i64 ULE    0007 #0xffffffff  snap 4\n"
                               "0012 > i64 UGE    0007 #12  snap 4\n"
                               "0013   i32 ZEXT   0007 32\n"
                               "0014   i32 SUB    0013 #8\n"
                               "0015 > i32 NTEST  0014 #3  snap 4\n"
                               "0016       LOOP   \n"));
  assert_non_null(strstr(down, "0018   i32 ADD    0013 #0xfffffffc\n"
                               "0019 > i32 NE     0018 #8  snap 6\n"));
  assert_non_null(strstr(down, "0024   i32 PHI    0013 0018\n"));
  static const struct { uint64_t r1; bool ok; } dcases[] = {
      {16, true}, {20, true}, {0x100000000ull, true}, {14, false}, {18, false}, {12, false},
      {0x100000004ull, false}, {2, false}};
  for (unsigned k = 0; k < sizeof dcases / sizeof dcases[0]; k++) {
    uint64_t in[16] = {0};
    in[1] = dcases[k].r1;
    bool ok = true;
    for (fj_ref r = FJ_REF_BIAS + 11; r <= FJ_REF_BIAS + 15 && ok; r++) {
      const fj_ir_ins *g = fj_ir_at(&ir, r);
      if (!fj_ir_is_guard(g->op)) continue;
      ok &= fj_ir_cond((enum fj_ir_op)g->op, (enum fj_irt)g->type, cu_eval(&ir, g->a, in),
                       cu_eval(&ir, g->b, in));
    }
    if (ok != dcases[k].ok) fail_msg("down: r1 = %llu", (unsigned long long)dcases[k].r1);
  }
  free(down);
  fj_ir_free(&ir);

  /* With a load through the counter, fj_opt_mem's range check before LOOP shares the counter
   * guards' exit (one stub): every guard after the pre-roll's budget charge uses one snapshot. */
  build_narrow_opt("loop:\nldxw %r2, [%r1+0]\nadd %r0, %r2\nadd %r1, 4\njne %r1, 64, loop\n"
                   "exit\n", 1u << 1, &ir);
  uint32_t sn = UINT32_MAX;
  unsigned shared = 0;
  for (fj_ref r = FJ_REF_BIAS + 22; r < ir.loop; r++) {
    const fj_ir_ins *g = fj_ir_at(&ir, r);
    if (!fj_ir_is_guard(g->op)) continue;
    if (sn == UINT32_MAX) sn = g->snap;
    assert_int_equal(g->snap, sn);
    shared++;
  }
  assert_true(shared >= 4);  /* counter: ULT, NTEST; range: first and last element */
  assert_int_equal(fj_snap_get(&ir, sn)->kind, FJ_EXIT_GUARD);
  /* The trip bound J = (64 - z - 4) >> 2 is I32 work on the counter guards' distance (an I32
   * SUB on z = ZEXT 32 of the counter past its I64 guard), and needs no J <= 0xffffffff guard
   * for the budget's J * 4 (before: I64 SUB #64 y, NTEST, SUB, SHR and that guard). */
  char *ld = cu_dump(&ir);
  assert_non_null(strstr(ld, "0022 > i64 ULT    0018 #64  snap 5\n"
                             "0023   i32 ZEXT   0018 32\n"
                             "0024   i32 SUB    #64 0023\n"
                             "0025 > i32 NTEST  0024 #3  snap 5\n"
                             "0026   i32 SUB    0024 #4\n"
                             "0027   i32 SHR    0026 #2\n"));
  assert_non_null(strstr(ld, "0032 > i64 ULE    0027 0031  snap 5\n"
                             "0033   i64 SHL    0027 #2\n"
                             "0034 > i64 GE     0021 0033  snap 5\n"
                             "0035       LOOP   \n"));
  assert_null(strstr(ld, "#0xffffffff"));
  free(ld);
  fj_ir_free(&ir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hoisting),     cmocka_unit_test(test_variant_load),
      cmocka_unit_test(test_stack_carried), cmocka_unit_test(test_nofold_loop),
      cmocka_unit_test(test_call_in_loop),  cmocka_unit_test(test_eq_counter),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
