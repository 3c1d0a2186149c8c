/* Snapshots: resume pcs for both branch directions, inlined frames, stack slots, exact budget
 * adjustments, call resumption points, sharing between guards. */
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
#include "farjit/blob.h"
#include "tests/codegen/cg_util.h"

static const char *k_prog =
    "mov %r6, 7\n"            /* 0 */
    "ldxdw %r1, [%r2+0]\n"    /* 1 */
    "call local fn\n"         /* 2: inlined, depth 1 */
    "add %r0, %r6\n"          /* 3: r6 restored to 7 */
    "jeq %r0, 10, done\n"     /* 4: recorded not taken: exit to 6 when r0 == 10 */
    "mov %r0, 1\n"            /* 5 */
    "done:\n"
    "exit\n"                  /* 6 */
    "fn:\n"
    "mov %r6, %r1\n"          /* 7 */
    "mul %r6, %r6\n"          /* 8 */
    "stxdw [%r10-8], %r6\n"   /* 9: the callee's frame: fp0 - 520 */
    "jgt %r6, 5, big\n"       /* 10: recorded taken: exit to 11 otherwise */
    "mov %r0, 0\n"            /* 11 */
    "exit\n"                  /* 12 */
    "big:\n"
    "mov %r0, %r6\n"          /* 13 */
    "exit\n";                 /* 14 */

static void test_snapshots(void **st) {
  (void)st;
  fj_ir ir;
  cu_build_text(k_prog, "tn", 0, &ir);
  char line[512];
  const char *want[] = {
      "snap 0 budget pc 0 [] budget 0002+13",
      "snap 1 guard pc 1 [r6=#7] budget 0002+12",
      "snap 2 guard pc 2 [r1=0015 r6=#7] budget 0002+11",
      "snap 3 guard pc 11 f1 [r1=0015 r6=0023 r10=0022] {-520:8=0023} "
      "(ret 3: #7 0019 0020 0021 fp 0000) budget 0002+6",
      "snap 4 guard pc 6 [r0=0026 r1=0015 r6=#7] {-520:8=0023} budget 0002+2",
      "snap 5 stop pc 6 [r0=#1 r1=0015 r6=#7] {-520:8=0023} budget 0002+1",
  };
  assert_int_equal(ir.nsnaps, 6);
  for (uint32_t i = 0; i < ir.nsnaps; i++) {
    fj_snap_format(&ir, i, line, sizeof line);
    assert_string_equal(line, want[i]);
  }
  /* The three guards of the bounds check share snapshot 1; the depth guard has its own. */
  unsigned uses1 = 0;
  for (fj_ref r = FJ_REF_BIAS; r < ir.top; r++) {
    const fj_ir_ins *i = fj_ir_at(&ir, r);
    if (fj_ir_is_guard(i->op) && i->snap == 1) uses1++;
  }
  assert_int_equal(uses1, 3);
  /* Frames: accessor and the "never NONE" rule. */
  const fj_snap *s3 = fj_snap_get(&ir, 3);
  const fj_snap_frame *f = fj_snap_frames(&ir, s3);
  assert_int_equal(s3->nframes, 1);
  assert_int_equal(f->ret_pc, 3);
  for (unsigned j = 0; j < 4; j++) assert_int_not_equal(f->saved[j], FJ_REF_NONE);
  assert_int_equal(f->fp, ir.fp0);
  assert_int_equal(fj_snap_slots(&ir, s3)->off, -520);
  /* Every ref in a snapshot precedes the snapshot's instruction. */
  for (uint32_t i = 0; i < ir.nsnaps; i++) {
    const fj_snap *s = fj_snap_get(&ir, i);
    for (unsigned k = 0; k < FJ_NREGS; k++) assert_true(s->regs[k] < s->ref);
  }
  fj_ir_free(&ir);
}

static void test_call_snapshots(void **st) {
  (void)st;
  fj_ir ir;
  cu_build_text("mov %r1, 4\nmov %r0, 9\ncall 7\nadd %r0, 1\nmov %r2, %r0\nexit\n", "", 0, &ir);
  char line[256];
  /* The call resumes after itself, with the state it synced; r0 then comes from the call. */
  fj_snap_format(&ir, 1, line, sizeof line);
  assert_string_equal(line, "snap 1 call pc 3 [r0=#9 r1=#4] budget 0002+3");
  const fj_ir_ins *c = fj_ir_at(&ir, fj_snap_get(&ir, 1)->ref);
  assert_int_equal(c->op, FJ_IR_CALL);
  assert_int_equal(c->lit, 7);
  /* After the call the budget is reloaded and the rest of the trace must fit. */
  fj_snap_format(&ir, 2, line, sizeof line);
  assert_string_equal(line, "snap 2 budget pc 3 [r0=0004 r1=#4] budget 0006+3");
  fj_snap_format(&ir, 3, line, sizeof line);
  assert_string_equal(line, "snap 3 stop pc 5 [r0=0008 r1=#4 r2=0008] budget 0006+1");
  char *txt = cu_dump(&ir);
  if (!strstr(txt, "0004   i64 CALL   helper 7  snap 1\n"
                   "0005   i64 SLD    budget\n"
                   "0006   i64 ADD    0005 #-3\n"
                   "0007 > i64 GE     0005 #3  snap 2\n"
                   "0008   i64 ADD    0004 #1\n"))
    fail_msg("%s", txt);
  free(txt);
  fj_ir_free(&ir);
}

static void test_interp_call(void **st) {
  (void)st;
  /* CALL_INTERP: a runtime call; r1-r5 are reloaded from the state afterwards. */
  uint32_t n;
  fj_insn *p = cu_asm("call local fn\nmov %r6, %r1\nexit\nfn:\nmov %r0, 1\nexit\n", &n);
  size_t len;
  uint8_t *b = cu_trace(p, n, 0, "", 1, 100, &len);
  fj_trace_header *h = (fj_trace_header *)b;
  fj_trace_rec *r = (fj_trace_rec *)(b + sizeof *h);
  /* rewrite as: call (interp), mov, exit */
  r[0].flags = FJ_REC_CALL_INTERP;
  r[1] = r[3];
  r[2] = r[4];
  h->nrecs = 3;
  len = fj_trace_size(3);
  fj_ir ir;
  assert_int_equal(cu_build(b, len, 0, false, &ir), 0);
  assert_int_equal(cu_count(&ir, FJ_IR_CALLL), 1);
  char *txt = cu_dump(&ir);
  assert_non_null(strstr(txt, "CALLL  pc 3"));
  assert_non_null(strstr(txt, "SLD    r1\n"));
  assert_non_null(strstr(txt, "SLD    r5\n"));
  const fj_snap *last = fj_snap_get(&ir, ir.nsnaps - 1);
  assert_int_equal(fj_ir_at(&ir, last->regs[6])->op, FJ_IR_SLD);
  free(txt);
  fj_ir_free(&ir);
  free(b);
  free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_snapshots),
      cmocka_unit_test(test_call_snapshots),
      cmocka_unit_test(test_interp_call),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
