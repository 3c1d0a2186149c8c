/* Dead-code elimination: unused values go, guards/effects/snapshot refs stay, PHIs live only
 * while their value is used. */
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
    "mov %r2, %r1\n"
    "mul %r2, 3\n"           /* overwritten: dead */
    "mov %r2, 5\n"
    "ldxdw %r3, [%r1+0]\n"   /* value dead, but its bounds check must stay */
    "mov %r3, 0\n"
    "lsh %r4, 2\n"
    "xor %r4, %r4\n"         /* folds to 0: the shift is dead */
    "exit\n";

static void test_dce_before_after(void **st) {
  (void)st;
  fj_ir ir;
  cu_build_text(k_prog, "", 0, &ir);
  char *before = cu_dump(&ir);
  assert_string_equal(before,
                      "0000   i64 RIN    r10\n"
                      "0001   i64 RIN    budget\n"
                      "0002   i64 ADD    0001 #-8\n"
                      "0003 > i64 GE     0001 #8  snap 0\n"
                      "0004   i64 RIN    r1\n"
                      "0005   i64 MUL    0004 #3\n"
                      "0006   i64 SLD    regions\n"
                      "0007   i32 HLD    0006 +40\n"
                      "0008 > i32 TEST   0007 #1  snap 1\n"
                      "0009   i64 HLD    0006 +24\n"
                      "0010   i64 HLD    0006 +32\n"
                      "0011 > i64 UGE    0010 #8  snap 1\n"
                      "0012   i64 ADD    0010 #-8\n"
                      "0013   i64 SUB    0004 0009\n"
                      "0015 > i64 ULE    0013 0012  snap 1\n"
                      "0016   i64 LOAD   0004 w8 reg1\n"
                      "0017   i64 RIN    r4\n"
                      "0018   i64 SHL    0017 #2\n"
                      "0019       EXIT   kind 3  snap 2\n");
  assert_int_equal(setjmp(ir.abort_jb), 0);
  fj_opt_dce(&ir);
  char *after = cu_dump_snaps(&ir);
  assert_string_equal(after,
                      "0000   i64 RIN    r10\n"
                      "0001   i64 RIN    budget\n"
                      "0002   i64 ADD    0001 #-8\n"
                      "0003 > i64 GE     0001 #8  snap 0\n"
                      "0004   i64 RIN    r1\n"
                      "0006   i64 SLD    regions\n"
                      "0007   i32 HLD    0006 +40\n"
                      "0008 > i32 TEST   0007 #1  snap 1\n"
                      "0009   i64 HLD    0006 +24\n"
                      "0010   i64 HLD    0006 +32\n"
                      "0011 > i64 UGE    0010 #8  snap 1\n"
                      "0012   i64 ADD    0010 #-8\n"
                      "0013   i64 SUB    0004 0009\n"
                      "0015 > i64 ULE    0013 0012  snap 1\n"
                      "0019       EXIT   kind 3  snap 2\n"
                      "snap 0 budget pc 0 [] budget 0002+8\n"
                      "snap 1 guard pc 3 [r2=#5] budget 0002+5\n"
                      "snap 2 stop pc 7 [r2=#5 r3=#0 r4=#0] budget 0002+1\n");
  /* chains were rebuilt: the dead MUL is not found by CSE any more */
  assert_int_equal(ir.chain[FJ_IR_MUL], FJ_REF_NONE);
  assert_int_equal(ir.chain[FJ_IR_LOAD], FJ_REF_NONE);
  free(before);
  free(after);
  fj_ir_free(&ir);
}

static void test_dce_phis(void **st) {
  (void)st;
  /* r5 is loop-carried but only feeds itself and no exit reads it... except the snapshots,
   * which do: so its PHI stays.  r0's value is used by the exits too. */
  fj_ir ir;
  cu_build_text("loop:\nadd %r5, 1\nadd %r1, 1\njlt %r1, 10, loop\nexit\n", "t", 0, &ir);
  assert_int_equal(setjmp(ir.abort_jb), 0);
  fj_opt_loop(&ir);
  unsigned phis = cu_count(&ir, FJ_IR_PHI);
  assert_int_equal(phis, 3);  /* budget, r5, r1 */
  fj_opt_dce(&ir);
  assert_int_equal(cu_count(&ir, FJ_IR_PHI), 3);
  /* a PHI whose value nothing reads dies: drop every snapshot use by hand and re-run */
  for (uint32_t i = 0; i < ir.nsnaps; i++) ir.snaps[i].regs[5] = FJ_REF_NONE;
  fj_opt_dce(&ir);
  assert_int_equal(cu_count(&ir, FJ_IR_PHI), 2);
  fj_ir_free(&ir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dce_before_after),
      cmocka_unit_test(test_dce_phis),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
