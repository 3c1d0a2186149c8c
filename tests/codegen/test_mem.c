/* Memory optimizations: stack store-to-load forwarding, memory forwarding, bounds-check
 * widening, call barriers, dead-store elimination with stores sunk into exit snapshots. */
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

static const char *k_prog =
    "stxdw [%r10-8], %r1\n"
    "ldxdw %r2, [%r10-8]\n"   /* forwarded: r2 = r1 */
    "stxw [%r10-16], %r1\n"
    "ldxw %r3, [%r10-16]\n"   /* forwarded through a 4-byte slot: r3 = zext32(r1) */
    "stxdw [%r10-8], %r3\n"   /* kills the first store */
    "ldxw %r4, [%r1+0]\n"     /* one widened bounds check covers the three loads */
    "ldxw %r5, [%r1+4]\n"
    "ldxw %r6, [%r1+8]\n"
    "stxdw [%r1+16], %r5\n"
    "ldxdw %r7, [%r1+16]\n"   /* forwarded from the store: r7 = r5 */
    "exit\n";

static void test_forwarding_and_widening(void **st) {
  (void)st;
  fj_ir raw, ir;
  cu_build_text(k_prog, "", FJ_IR_NOFOLD, &raw);
  assert_int_equal(cu_count(&raw, FJ_IR_SLOAD), 2);
  assert_int_equal(cu_count(&raw, FJ_IR_LOAD), 4);
  assert_int_equal(cu_count(&raw, FJ_IR_ULE), 5);   /* one bounds check per access */
  assert_int_equal(cu_count(&raw, FJ_IR_HLD), 15);  /* flags, base, size per access */
  fj_ir_free(&raw);

  cu_build_text(k_prog, "", 0, &ir);
  char *after = cu_dump(&ir);
  assert_string_equal(after,
                      "0000   i64 RIN    r10\n"
                      "0001   i64 RIN    budget\n"
                      "0002   i64 ADD    0001 #-11\n"
                      "0003 > i64 GE     0001 #11  snap 0\n"
                      "0004   i64 RIN    r1\n"
                      "0005       SSTORE [-8] 0004 w8\n"
                      "0006       SSTORE [-16] 0004 w4\n"
                      "0007   i32 ZEXT   0004 32\n"
                      "0008       SSTORE [-8] 0007 w8\n"
                      "0009   i64 SLD    regions\n"
                      "0010   i32 HLD    0009 +40\n"
                      "0011 > i32 TEST   0010 #1  snap 1\n"
                      "0012   i64 HLD    0009 +24\n"
                      "0013   i64 HLD    0009 +32\n"
                      "0014 > i64 UGE    0013 #24  snap 1\n"   /* widened to [r1, r1 + 24) */
                      "0015   i64 ADD    0013 #-24\n"
                      "0016   i64 SUB    0004 0012\n"
                      "0018 > i64 ULE    0016 0015  snap 1\n"
                      "0019   i32 LOAD   0004 w4 reg1\n"
                      "0020   i64 ADD    0004 #4\n"
                      "0021   i32 LOAD   0020 w4 reg1\n"
                      "0022   i64 ADD    0004 #8\n"
                      "0023   i32 LOAD   0022 w4 reg1\n"
                      "0024 > i32 TEST   0010 #2  snap 4\n"   /* writes check their own flag */
                      "0025 > i64 UGE    0013 #8  snap 4\n"
                      "0026   i64 ADD    0013 #-8\n"
                      "0027   i64 ADD    0016 #16\n"
                      "0028 > i64 ULE    0027 0026  snap 4\n"
                      "0029   i64 ADD    0004 #16\n"
                      "0030       STORE  0029 0021 w8 reg1\n"
                      "0031       EXIT   kind 3  snap 6\n");
  free(after);
  /* the exit state names the forwarded values */
  const fj_snap *s6 = fj_snap_get(&ir, 6);
  assert_int_equal(s6->regs[2], FJ_REF_BIAS + 4);
  assert_int_equal(s6->regs[3], FJ_REF_BIAS + 7);
  assert_int_equal(s6->regs[7], FJ_REF_BIAS + 21);
  fj_ir_free(&ir);
}

static void test_dead_stores(void **st) {
  (void)st;
  fj_ir ir;
  cu_build_text(k_prog, "", 0, &ir);
  assert_int_equal(cu_count(&ir, FJ_IR_SSTORE), 3);
  assert_int_equal(setjmp(ir.abort_jb), 0);
  fj_opt_mem(&ir);
  /* [-8] is stored twice with no reader between: the first store is dead; the others reach the
   * end of a non-loop trace, whose exits all write the slots back from their snapshots. */
  assert_int_equal(cu_count(&ir, FJ_IR_SSTORE), 0);
  assert_int_equal(cu_count(&ir, FJ_IR_STORE), 1);  /* memory stores are never sunk */
  char line[256];
  fj_snap_format(&ir, 6, line, sizeof line);
  assert_string_equal(line, "snap 6 stop pc 10 [r2=0004 r3=0007 r4=0019 r5=0021 r6=0023 r7=0021] "
                            "{-16:4=0004 -8:8=0007} budget 0002+1");
  fj_ir_free(&ir);
}

static const char *k_call =
    "mov %r2, %r10\n"
    "add %r2, -24\n"
    "stxdw [%r2+8], %r1\n"     /* a stack slot through a copy of r10: [-16] */
    "call 5\n"                 /* the helper may read and write the stack */
    "ldxdw %r3, [%r10-16]\n"   /* not forwarded across the call */
    "stxdw [%r10-16], %r0\n"
    "stxdw [%r10-16], %r3\n"
    "exit\n";

static void test_call_barrier(void **st) {
  (void)st;
  fj_ir ir;
  cu_build_text(k_call, "", 0, &ir);
  assert_int_equal(setjmp(ir.abort_jb), 0);
  char *before = cu_dump_snaps(&ir);
  assert_string_equal(before,
                      "0000   i64 RIN    r10\n"
                      "0001   i64 RIN    budget\n"
                      "0002   i64 ADD    0001 #-8\n"
                      "0003 > i64 GE     0001 #8  snap 0\n"
                      "0004   i64 ADD    0000 #-24\n"
                      "0005   i64 RIN    r1\n"
                      "0006       SSTORE [-16] 0005 w8\n"
                      "0007   i64 CALL   helper 5  snap 1\n"
                      "0008   i64 SLD    budget\n"
                      "0009   i64 ADD    0008 #-4\n"
                      "0010 > i64 GE     0008 #4  snap 2\n"
                      "0011   i64 SLOAD  [-16] w8\n"
                      "0012       SSTORE [-16] 0007 w8\n"
                      "0013       SSTORE [-16] 0011 w8\n"
                      "0014       EXIT   kind 3  snap 3\n"
                      "snap 0 budget pc 0 [] budget 0002+8\n"
                      "snap 1 call pc 4 [r2=0004] {-16:8=0005} budget 0002+4\n"
                      "snap 2 budget pc 4 [r0=0007 r2=0004] budget 0009+4\n"
                      "snap 3 stop pc 7 [r0=0007 r2=0004 r3=0011] {-16:8=0011} budget 0009+1\n");
  free(before);
  fj_opt_mem(&ir);
  assert_int_equal(fj_ir_at(&ir, FJ_REF_BIAS + 6)->op, FJ_IR_SSTORE);  /* read by the call */
  assert_int_equal(fj_ir_at(&ir, FJ_REF_BIAS + 12)->op, FJ_IR_NOP);    /* overwritten */
  assert_int_equal(fj_ir_at(&ir, FJ_REF_BIAS + 13)->op, FJ_IR_NOP);    /* sunk into snap 3 */
  fj_ir_free(&ir);
}

static const char *k_alias =
    "stxdw [%r10-8], %r1\n"
    "stxdw [%r2+0], %r3\n"     /* region 0 through an unknown pointer: may alias [-8] */
    "ldxdw %r4, [%r10-8]\n"
    "stxdw [%r1+0], %r5\n"
    "stxdw [%r1+8], %r6\n"     /* same region, other address: blocks forwarding */
    "ldxdw %r7, [%r1+0]\n"
    "exit\n";

static void test_aliasing(void **st) {
  (void)st;
  uint32_t n;
  fj_insn *p = cu_asm(k_alias, &n);
  size_t len;
  uint8_t *b = cu_trace(p, n, 0, "", 1, 100, &len);
  fj_trace_rec *r = (fj_trace_rec *)(b + sizeof(fj_trace_header));
  r[1].region = 0;  /* the store through r2 hit the stack */
  fj_ir ir;
  assert_int_equal(cu_build(b, len, 0, true, &ir), 0);
  assert_int_equal(cu_count(&ir, FJ_IR_SLOAD), 1);
  assert_int_equal(cu_count(&ir, FJ_IR_LOAD), 1);
  /* the stack store before the aliasing store is not sunk: the later exit cannot restore it */
  assert_int_equal(cu_count(&ir, FJ_IR_SSTORE), 1);
  const fj_snap *last = fj_snap_get(&ir, ir.nsnaps - 1);
  assert_int_equal(last->nslots, 0);
  fj_ir_free(&ir);
  free(b);
  free(p);
}

static void test_shared_checks(void **st) {
  (void)st;
  /* Two pointers into one region: each gets its own range check, but the region loads, the
   * size check and the limit are shared once the build is done. */
  fj_ir ir;
  cu_build_text("ldxw %r3, [%r1+0]\nldxw %r4, [%r2+0]\nadd %r3, %r4\nexit\n", "", 0, &ir);
  char *txt = cu_dump(&ir);
  assert_string_equal(txt,
                      "0000   i64 RIN    r10\n"
                      "0001   i64 RIN    budget\n"
                      "0002   i64 ADD    0001 #-4\n"
                      "0003 > i64 GE     0001 #4  snap 0\n"
                      "0004   i64 RIN    r1\n"
                      "0005   i64 SLD    regions\n"
                      "0006   i32 HLD    0005 +40\n"
                      "0007 > i32 TEST   0006 #1  snap 1\n"
                      "0008   i64 HLD    0005 +24\n"
                      "0009   i64 HLD    0005 +32\n"
                      "0010 > i64 UGE    0009 #4  snap 1\n"
                      "0011   i64 ADD    0009 #-4\n"
                      "0012   i64 SUB    0004 0008\n"
                      "0014 > i64 ULE    0012 0011  snap 1\n"
                      "0015   i32 LOAD   0004 w4 reg1\n"
                      "0016   i64 RIN    r2\n"
                      "0019   i64 SUB    0016 0008\n"
                      "0021 > i64 ULE    0019 0011  snap 2\n"
                      "0022   i32 LOAD   0016 w4 reg1\n"
                      "0023   i64 ADD    0015 0022\n"
                      "0024       EXIT   kind 3  snap 3\n");
  free(txt);
  fj_ir_free(&ir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forwarding_and_widening),
      cmocka_unit_test(test_dead_stores),
      cmocka_unit_test(test_call_barrier),
      cmocka_unit_test(test_aliasing),
      cmocka_unit_test(test_shared_checks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
