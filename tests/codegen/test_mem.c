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
#include "farjit/jit.h"
#include "farjit/vm.h"
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

/* ---- bounds checks out of loop bodies ------------------------------------------------------ */

/* Body guards (between LOOP and the PHIs) with op, and guards before LOOP with op. */
static unsigned body_count(const fj_ir *ir, enum fj_ir_op op) {
  unsigned n = 0;
  for (fj_ref r = ir->loop + 1; ir->loop && r < ir->top; r++) n += fj_ir_at(ir, r)->op == op;
  return n;
}
/* An invariant address: the body copy of its check CSEs to the pre-roll's (no work left for
 * fj_opt_mem), as do the region loads. */
static void test_invariant_check_leaves_body(void **st) {
  (void)st;
  fj_ir ir;
  cu_build_text("loop:\nldxw %r4, [%r6+8]\nadd %r0, %r4\nstxw [%r6+8], %r0\nadd %r1, 1\n"
                "jlt %r1, %r8, loop\nexit\n", "t", 0, &ir);
  assert_int_equal(setjmp(ir.abort_jb), 0);
  fj_opt_run(&ir);
  assert_true(ir.loop != FJ_REF_NONE);
  assert_int_equal(body_count(&ir, FJ_IR_ULE) + body_count(&ir, FJ_IR_UGE), 0);
  assert_int_equal(body_count(&ir, FJ_IR_HLD) + body_count(&ir, FJ_IR_SLD), 0);
  assert_int_equal(body_count(&ir, FJ_IR_TEST), 0);
  fj_ir_free(&ir);
}

/* A helper may change the region table: with a call in the body the body re-reads the table
 * and checks the region's flags and size again, so the address check stays there too. */
static void test_call_keeps_checks(void **st) {
  (void)st;
  fj_ir ir;
  cu_build_text("loop:\nmov %r3, %r6\nadd %r3, %r7\nldxb %r4, [%r3+0]\ncall 5\nadd %r7, 1\n"
                "jlt %r7, %r8, loop\nexit\n", "t", 0, &ir);
  assert_int_equal(setjmp(ir.abort_jb), 0);
  fj_opt_run(&ir);
  assert_true(ir.loop != FJ_REF_NONE);
  assert_int_equal(body_count(&ir, FJ_IR_ULE), 1);
  assert_int_equal(cu_count(&ir, FJ_IR_ULE), 2);  /* the pre-roll's own, nothing hoisted */
  fj_ir_free(&ir);
}

/* p[i], i += 1 while i < n: the byte check goes in front of the loop as "the first and the
 * last byte fit" (x_0 <= L, n - 1 - i_0 <= L - x_0); the body keeps load, add and exit guard. */
static const char *k_iv_loop =
    "loop:\n"
    "mov %r3, %r1\n"
    "add %r3, %r2\n"
    "ldxb %r4, [%r3+0]\n"
    "add %r0, %r4\n"
    "add %r2, 1\n"
    "jlt %r2, %r5, loop\n"
    "exit\n";

static void test_iv_check_hoisted(void **st) {
  (void)st;
  fj_ir ir;
  cu_build_text(k_iv_loop, "t", 0, &ir);
  assert_int_equal(setjmp(ir.abort_jb), 0);
  fj_opt_loop(&ir);
  /* before: the body checks p + i against the region on every iteration */
  assert_int_equal(body_count(&ir, FJ_IR_ULE), 1);
  fj_opt_mem(&ir);
  fj_opt_dce(&ir);
  char *after = cu_dump_snaps(&ir);
  assert_string_equal(after,
                      "0000   i64 RIN    r10\n"
                      "0001   i64 RIN    budget\n"
                      "0002   i64 ADD    0001 #-6\n"
                      "0003 > i64 GE     0001 #6  snap 0\n"
                      "0004   i64 RIN    r1\n"
                      "0005   i64 RIN    r2\n"
                      "0006   i64 ADD    0004 0005\n"
                      "0007   i64 SLD    regions\n"
                      "0008   i32 HLD    0007 +40\n"
                      "0009 > i32 TEST   0008 #1  snap 1\n"
                      "0010   i64 HLD    0007 +24\n"
                      "0011   i64 HLD    0007 +32\n"
                      "0012 > i64 UGE    0011 #1  snap 1\n"
                      "0013   i64 ADD    0011 #-1\n"
                      "0014   i64 SUB    0006 0010\n"
                      "0016 > i64 ULE    0014 0013  snap 1\n"
                      "0017   i32 LOAD   0006 w1 reg1\n"
                      "0018   i64 RIN    r0\n"
                      "0019   i64 ADD    0018 0017\n"
                      "0020   i64 ADD    0005 #1\n"
                      "0021   i64 RIN    r5\n"
                      "0022 > i64 ULT    0020 0021  snap 2\n"
                      "0023 > i64 GE     0002 #6  snap 3\n"
                      "0024   i64 ADD    0002 #-6\n"
                      /* hoisted: i_0 < n was the pre-roll's own exit guard; J = n - 1 - i_0 */
                      "0025   i64 SUB    0021 0020\n"
                      "0026   i64 ADD    0025 #-1\n"
                      "0027   i64 ADD    0004 0020\n"
                      "0028   i64 SUB    0027 0010\n"
                      "0029 > i64 ULE    0028 0013  snap 11\n"   /* first byte */
                      "0030   i64 SUB    0013 0028\n"
                      "0031 > i64 ULE    0026 0030  snap 11\n"   /* J more bytes fit after it */
                      /* the budget guard of iterations 0 .. J - 1: b_0 >= 6 * J */
                      "0032 > i64 ULE    0026 #0xffffffff  snap 11\n"
                      "0033   i64 MUL    0026 #6\n"
                      "0034 > i64 GE     0024 0033  snap 11\n"
                      "0035       LOOP   \n"
                      "0036   i64 ADD    0004 0020\n"
                      "0039   i32 LOAD   0036 w1 reg1\n"
                      "0040   i64 ADD    0019 0039\n"
                      "0041   i64 ADD    0020 #1\n"
                      "0042 > i64 ULT    0041 0021  snap 9\n"
                      "0044   i64 ADD    0024 #-6\n"      /* the budget stays exact */
                      "0045   i32 PHI    0017 0039\n"
                      "0046   i64 PHI    0019 0040\n"
                      "0047   i64 PHI    0020 0041\n"
                      "0048   i64 PHI    0024 0044\n"
                      "snap 0 budget pc 0 [] budget 0002+6\n"
                      "snap 1 guard pc 2 [r3=0006] budget 0002+4\n"
                      "snap 2 guard pc 6 [r0=0019 r2=0020 r3=0006 r4=0017] budget 0002+0\n"
                      "snap 3 budget pc 0 [r0=0019 r2=0020 r3=0006 r4=0017] budget 0002+0\n"
                      "snap 4 link pc 0 [r0=0019 r2=0020 r3=0006 r4=0017] budget 0002+0\n"
                      "snap 5 budget pc 0 [r0=0019 r2=0020 r3=0006 r4=0017] budget 0024+6\n"
                      "snap 6 guard pc 2 [r0=0019 r2=0020 r3=0036 r4=0017] budget 0024+4\n"
                      "snap 7 guard pc 2 [r0=0019 r2=0020 r3=0036 r4=0017] budget 0024+4\n"
                      "snap 8 guard pc 2 [r0=0019 r2=0020 r3=0036 r4=0017] budget 0024+4\n"
                      "snap 9 guard pc 6 [r0=0040 r2=0041 r3=0036 r4=0039] budget 0024+0\n"
                      "snap 10 budget pc 0 [r0=0040 r2=0041 r3=0036 r4=0039] budget 0024+0\n"
                      /* the hoisted guards leave with the loop snapshot's state */
                      "snap 11 guard pc 0 [r0=0019 r2=0020 r3=0006 r4=0017] budget 0002+0\n");
  free(after);
  char vmsg[160];
  assert_int_equal(fj_ir_verify(&ir, vmsg, sizeof vmsg), 0);
  fj_ir_free(&ir);
}

/* An IR evaluator for the loop traces below: one region (index 1) at MEM_BASE, accesses that
 * a check should have stopped fail the test. */
enum { MEM_BASE = 0x10000, MEM_SIZE = 64, TAB = 0x7000, EV_MAX_STEPS = 200000 };

typedef struct ev_out {
  uint32_t pc, kind;
  uint64_t r[11];
  int64_t budget;
  uint8_t mem[MEM_SIZE];
  fj_ref guard;              /* the guard or EXIT that left */
  bool at_loop;              /* state when LOOP was first reached (loop snapshot) */
  uint64_t loop_r[11];
  int64_t loop_budget;
  uint8_t loop_mem[MEM_SIZE];
} ev_out;

static const char *ev_case = "";  /* for messages */

static uint64_t ev_val(const fj_ir *ir, const uint64_t *v, fj_ref r) {
  return fj_ir_is_k(r) ? fj_ir_kval(ir, r) : v[r - FJ_REF_BIAS];
}

static void ev_snap(const fj_ir *ir, const uint64_t *v, uint32_t sn, const uint64_t in[11],
                    uint64_t r[11], int64_t *budget) {
  const fj_snap *s = fj_snap_get(ir, sn);
  for (unsigned k = 0; k < 11; k++) r[k] = s->regs[k] ? ev_val(ir, v, s->regs[k]) : in[k];
  *budget = (int64_t)ev_val(ir, v, s->budget) + s->budget_adj;
  assert_int_equal(s->nslots, 0);
  assert_int_equal(s->nframes, 0);
}

static void ev_run(const fj_ir *ir, const uint64_t in[11], int64_t budget,
                   const uint8_t mem0[MEM_SIZE], ev_out *o) {
  uint64_t *v = calloc(fj_ir_nins(ir) + 1, sizeof *v);
  uint64_t rin[16] = {0};
  memcpy(rin, in, 11 * sizeof *in);
  rin[FJ_RIN_BUDGET] = (uint64_t)budget;
  memset(o, 0, sizeof *o);
  memcpy(o->mem, mem0, MEM_SIZE);
  fj_ref r = FJ_REF_BIAS;
  for (unsigned steps = 0;; steps++) {
    assert_true(steps < EV_MAX_STEPS);
    const fj_ir_ins *i = fj_ir_at(ir, r);
    uint64_t a = i->a ? ev_val(ir, v, i->a) : 0, b = i->b ? ev_val(ir, v, i->b) : 0, res = 0;
    unsigned w = fj_mem_width(i->aux);
    if (r == ir->top || i->op == FJ_IR_PHI) {  /* back edge: all PHIs at once */
      assert_true(ir->loop != FJ_REF_NONE);
      uint64_t nv[64];
      unsigned n = 0;
      for (fj_ref q = r; q < ir->top; q++)
        if (fj_ir_at(ir, q)->op == FJ_IR_PHI) nv[n++] = ev_val(ir, v, fj_ir_at(ir, q)->b);
      n = 0;
      for (fj_ref q = r; q < ir->top; q++)
        if (fj_ir_at(ir, q)->op == FJ_IR_PHI) v[fj_ir_at(ir, q)->a - FJ_REF_BIAS] = nv[n++];
      r = ir->loop + 1;
      continue;
    }
    switch (i->op) {
    case FJ_IR_NOP:
      break;
    case FJ_IR_LOOP:
      if (!o->at_loop) {
        o->at_loop = true;
        ev_snap(ir, v, ir->loop_snap, in, o->loop_r, &o->loop_budget);
        memcpy(o->loop_mem, o->mem, MEM_SIZE);
      }
      break;
    case FJ_IR_RIN:
      res = rin[i->lit & 15];
      break;
    case FJ_IR_SLD:
      assert_true(i->lit == FJ_JIT_OFF_REGIONS || i->lit == FJ_JIT_OFF_NREGIONS);
      res = i->lit == FJ_JIT_OFF_REGIONS ? TAB : 4;
      break;
    case FJ_IR_HLD:
      assert_int_equal(a, TAB);
      if (i->lit / FJ_REGION_SIZEOF == 1) {
        unsigned f = (unsigned)(i->lit % FJ_REGION_SIZEOF);
        res = f == FJ_REGION_OFF_BASE ? MEM_BASE : f == FJ_REGION_OFF_SIZE ? MEM_SIZE
                                                      : FJ_REGION_READ | FJ_REGION_WRITE;
      }
      break;
    case FJ_IR_LOAD:
    case FJ_IR_STORE:
      if (a < MEM_BASE || a - MEM_BASE > MEM_SIZE - w)
        fail_msg("%s: ir %04u: %u-byte access at base%+lld passed its checks", ev_case,
                 r - FJ_REF_BIAS, w, (long long)(a - MEM_BASE));
      if (i->op == FJ_IR_STORE) {
        for (unsigned k = 0; k < w; k++) o->mem[a - MEM_BASE + k] = (uint8_t)(b >> (8 * k));
        break;
      }
      for (unsigned k = 0; k < w; k++) res |= (uint64_t)o->mem[a - MEM_BASE + k] << (8 * k);
      if ((i->aux & FJ_MEM_SIGNED) && w < 8 && (res >> (8 * w - 1) & 1)) res |= ~0ull << (8 * w);
      break;
    case FJ_IR_EXIT:
      o->guard = r;
      goto out;
    default:
      if (fj_ir_is_guard(i->op)) {
        if (fj_ir_cond((enum fj_ir_op)i->op, (enum fj_irt)i->type, a, b)) break;
        o->guard = r;
        goto out;
      }
      assert_true(fj_ir_op_table[i->op].flags & FJ_IRF_PURE);
      res = fj_ir_arith((enum fj_ir_op)i->op, (enum fj_irt)i->type, i->aux, a, b);
    }
    v[r - FJ_REF_BIAS] = res;
    r++;
  }
out:;
  const fj_ir_ins *g = fj_ir_at(ir, o->guard);
  const fj_snap *s = fj_snap_get(ir, g->snap);
  o->pc = s->pc;
  o->kind = s->kind;
  ev_snap(ir, v, g->snap, in, o->r, &o->budget);
  free(v);
}

/* Does guard g check a region bound (what fj_mem_bounds emits)? */
static bool is_bounds_guard(const fj_ir *ir, fj_ref g) {
  const fj_ir_ins *i = fj_ir_at(ir, g);
  if (i->op != FJ_IR_ULE || fj_ir_is_k(i->b)) return false;
  const fj_ir_ins *l = fj_ir_at(ir, i->b);
  return l->op == FJ_IR_ADD && !fj_ir_is_k(l->a) && fj_ir_at(ir, l->a)->op == FJ_IR_HLD;
}

/* The reference: the loop closed, every check left where the builder put it. */
static void build_loop_only(const uint8_t *b, size_t len, fj_ir *ir) {
  assert_int_equal(cu_build(b, len, 0, false, ir), 0);
  assert_int_equal(setjmp(ir->abort_jb), 0);
  fj_opt_loop(ir);
}

typedef struct iv_case {
  const char *name, *text;
  bool hoists;            /* the body loses every check */
  bool early;             /* the loop may leave before its bound through another guard */
} iv_case;

/* r1 = p, r2 = i, r5 = n; the loop header is pc 0.  Out-of-range ends, both directions,
 * signed and unsigned bounds, != bounds with steps that may skip n, bounds near 2^63/2^64,
 * pointer IVs and strides that are not powers of two. */
static const iv_case k_iv_cases[] = {
    {"up ult", "loop:\nmov %r3, %r1\nadd %r3, %r2\nldxb %r4, [%r3+0]\nadd %r0, %r4\n"
               "stxb [%r3+0], %r2\nadd %r2, 1\njlt %r2, %r5, loop\nexit\n", true, false},
    {"up ult step 8", "loop:\nmov %r3, %r1\nadd %r3, %r2\nldxb %r4, [%r3+0]\nadd %r0, %r4\n"
                      "add %r2, 8\njlt %r2, %r5, loop\nexit\n", true, false},
    {"up ule step 2", "loop:\nmov %r3, %r1\nadd %r3, %r2\nldxh %r4, [%r3+2]\nadd %r0, %r4\n"
                      "add %r2, 2\njle %r2, %r5, loop\nexit\n", true, false},
    {"up ne step 4", "loop:\nmov %r3, %r1\nadd %r3, %r2\nldxw %r4, [%r3+0]\nadd %r0, %r4\n"
                     "add %r2, 4\njne %r2, %r5, loop\nexit\n", true, false},
    {"up n > i (swapped)", "loop:\nmov %r3, %r2\nlsh %r3, 3\nadd %r3, %r1\nldxdw %r4, [%r3-8]\n"
                           "add %r0, %r4\nadd %r2, 1\njgt %r5, %r2, loop\nexit\n", true, false},
    {"up signed lt step 8", "loop:\nmov %r3, %r1\nadd %r3, %r2\nldxb %r4, [%r3+0]\n"
                            "add %r0, %r4\nadd %r2, 8\njslt %r2, %r5, loop\nexit\n", true, false},
    {"up signed le", "loop:\nmov %r3, %r1\nadd %r3, %r2\nldxb %r4, [%r3+0]\nadd %r0, %r4\n"
                     "add %r2, 1\njsle %r2, %r5, loop\nexit\n", true, false},
    {"down ugt", "loop:\nmov %r3, %r1\nadd %r3, %r2\nldxb %r4, [%r3-8]\nadd %r0, %r4\n"
                 "add %r2, -1\njgt %r2, %r5, loop\nexit\n", true, false},
    {"down uge step 2", "loop:\nmov %r3, %r1\nadd %r3, %r2\nldxh %r4, [%r3+0]\nadd %r0, %r4\n"
                        "add %r2, -2\njge %r2, %r5, loop\nexit\n", true, false},
    {"down ne step 4", "loop:\nmov %r3, %r1\nsub %r3, %r2\nldxw %r4, [%r3+60]\nadd %r0, %r4\n"
                       "add %r2, -4\njne %r2, %r5, loop\nexit\n", true, false},
    {"down signed gt", "loop:\nmov %r3, %r1\nadd %r3, %r2\nldxb %r4, [%r3+0]\nadd %r0, %r4\n"
                       "add %r2, -1\njsgt %r2, %r5, loop\nexit\n", true, false},
    {"down signed ge step 2", "loop:\nmov %r3, %r1\nadd %r3, %r2\nldxb %r4, [%r3+0]\n"
                              "add %r0, %r4\nadd %r2, -2\njsge %r2, %r5, loop\nexit\n", true, false},
    {"pointer iv", "loop:\nldxh %r4, [%r1+0]\nadd %r0, %r4\nadd %r1, 2\n"
                   "jlt %r1, %r5, loop\nexit\n", true, false},
    {"stride 12, counter bound", "loop:\nldxw %r4, [%r1+0]\nadd %r0, %r4\nadd %r1, 12\n"
                                 "add %r2, 1\njlt %r2, %r5, loop\nexit\n", true, false},
    {"stride -12, counter bound", "loop:\nldxw %r4, [%r1+0]\nadd %r0, %r4\nadd %r1, -12\n"
                                  "add %r2, 1\njlt %r2, %r5, loop\nexit\n", true, false},
    {"early data exit (kept)", "loop:\nmov %r3, %r1\nadd %r3, %r2\nldxb %r4, [%r3+0]\n"
                        "jne %r4, 0, out\nadd %r2, 1\njlt %r2, %r5, loop\nout:\nexit\n", false, true},
    {"i32 up ult", "loop:\nmov %r3, %r1\nadd %r3, %r2\nldxb %r4, [%r3+0]\nadd %r0, %r4\n"
                   "add32 %r2, 1\njlt32 %r2, %r5, loop\nexit\n", true, false},
    {"i32 up ne step 4", "loop:\nmov %r3, %r1\nadd %r3, %r2\nldxw %r4, [%r3+0]\n"
                         "add %r0, %r4\nadd32 %r2, 4\njne32 %r2, %r5, loop\nexit\n", true, false},
    {"i32 down signed ge", "loop:\nmov %r3, %r1\nadd %r3, %r2\nldxb %r4, [%r3+0]\n"
                           "add %r0, %r4\nadd32 %r2, -1\njsge32 %r2, %r5, loop\nexit\n", true, false},
    {"i32 up signed lt step 2, next value", "loop:\nadd32 %r2, 2\nmov %r3, %r1\nadd %r3, %r2\n"
                                           "ldxh %r4, [%r3-2]\nadd %r0, %r4\n"
                                           "jslt32 %r2, %r5, loop\nexit\n", true, false},
    {"check after the bound guard", "loop:\nadd %r2, 1\njge %r2, %r5, out\nmov %r3, %r1\n"
                                    "add %r3, %r2\nldxb %r4, [%r3+0]\nadd %r0, %r4\nja loop\n"
                                    "out:\nexit\n", true, false},
    {"step 3 (kept)", "loop:\nmov %r3, %r1\nadd %r3, %r2\nldxb %r4, [%r3+0]\nadd %r0, %r4\n"
                      "add %r2, 3\njlt %r2, %r5, loop\nexit\n", false, false},
    {"masked index (kept)", "loop:\nmov %r3, %r2\nand %r3, 63\nadd %r3, %r1\n"
                            "ldxb %r4, [%r3+0]\nadd %r0, %r4\nadd %r2, 1\n"
                            "jlt %r2, %r5, loop\nexit\n", false, false},
};

static uint64_t xs(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* A value around the interesting points: region ends (relative to i's start), 2^63, 2^64. */
static uint64_t pick(uint64_t *s, uint64_t near) {
  static const uint64_t far[] = {0, 1, 2, 0x7ffffffffffffff0ull, 0x8000000000000000ull,
                                 0xfffffffffffffff0ull, 0xffffffffffffffffull, 0x7ffffff0,
                                 0xfffffff0, 0x1fffffff0ull};
  switch (xs(s) % 4) {
  case 0: return far[xs(s) % 10] + xs(s) % 24;
  default: return near + xs(s) % 96 - 32;
  }
}

/* Every case, many entry states: the optimized IR (checks hoisted) leaves exactly as the IR
 * with a check per iteration (fj_opt_loop only), or -- only where that one fails a bounds
 * check -- through the hoisted guards with the state at the pre-roll's back edge. */
static void test_iv_checks_exact(void **st) {
  (void)st;
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  unsigned hoisted_exits = 0, same = 0, budget_exits = 0;
  for (size_t c = 0; c < sizeof k_iv_cases / sizeof k_iv_cases[0]; c++) {
    const iv_case *ic = &k_iv_cases[c];
    ev_case = ic->name;
    uint32_t n;
    fj_insn *p = cu_asm(ic->text, &n);
    size_t len;
    const char *path = ic->early ? "nt" : strstr(ic->text, "jge %r2, %r5, out") ? "n" : "t";
    uint8_t *b = cu_trace(p, n, 0, path, 1, 4096, &len);
    fj_ir ref, opt;
    build_loop_only(b, len, &ref);
    assert_int_equal(cu_build(b, len, 0, true, &opt), 0);
    assert_true(ref.loop != FJ_REF_NONE && opt.loop != FJ_REF_NONE);
    unsigned body_checks = 0;
    for (fj_ref r = opt.loop + 1; r < opt.top; r++) body_checks += is_bounds_guard(&opt, r);
    if (ic->hoists && body_checks) fail_msg("%s: %u checks left in the body", ic->name, body_checks);
    if (!ic->hoists && !body_checks) fail_msg("%s: the body lost its check", ic->name);
    for (unsigned k = 0; k < 3000; k++) {
      uint64_t in[11] = {0};
      uint8_t mem[MEM_SIZE];
      for (unsigned j = 0; j < MEM_SIZE; j++) mem[j] = (uint8_t)(xs(&seed) % 4 ? 0 : xs(&seed));
      uint64_t i0 = pick(&seed, 8);
      in[1] = MEM_BASE + xs(&seed) % 80 - 8;
      in[2] = i0;
      in[5] = xs(&seed) % 3 ? pick(&seed, i0 + 32) : in[1] + xs(&seed) % 96;
      /* a third of the runs have a budget that may end inside the loop */
      int64_t budget = xs(&seed) % 3 ? 100000 : (int64_t)(xs(&seed) % 400);
      ev_out ro, oo;
      ev_run(&ref, in, budget, mem, &ro);
      ev_run(&opt, in, budget, mem, &oo);
      bool eq = ro.pc == oo.pc && ro.kind == oo.kind && ro.budget == oo.budget &&
                !memcmp(ro.r, oo.r, sizeof ro.r) && !memcmp(ro.mem, oo.mem, MEM_SIZE);
      if (eq) {
        same++;
        continue;
      }
      /* a hoisted exit: the pre-roll's back-edge state, with the exact budget, and the loop
       * would have faulted, run out of budget (the budget guard before LOOP) or, where the
       * loop has other exits, left before its bound */
      bool early = oo.guard < opt.loop && oo.kind == FJ_EXIT_GUARD && oo.pc == 0 &&
                   ro.at_loop && oo.budget == ro.loop_budget &&
                   !memcmp(oo.r, ro.loop_r, sizeof oo.r) && !memcmp(oo.mem, ro.loop_mem, MEM_SIZE) &&
                   (is_bounds_guard(&ref, ro.guard) || ro.kind == FJ_EXIT_BUDGET || ic->early) &&
                   ro.guard > ref.loop;
      budget_exits += early && ro.kind == FJ_EXIT_BUDGET;
      if (!early)
        fail_msg("%s: p=base%+lld i=0x%llx n=0x%llx: optimized exits at pc %u (ir %04u) with "
                 "r0=0x%llx, per-iteration checks at pc %u (ir %04u) with r0=0x%llx", ic->name,
                 (long long)(in[1] - MEM_BASE), (unsigned long long)in[2],
                 (unsigned long long)in[5], oo.pc, oo.guard - FJ_REF_BIAS,
                 (unsigned long long)oo.r[0], ro.pc, ro.guard - FJ_REF_BIAS,
                 (unsigned long long)ro.r[0]);
      hoisted_exits++;
    }
    fj_ir_free(&ref);
    fj_ir_free(&opt);
    free(b);
    free(p);
  }
  assert_true(hoisted_exits > 100);
  assert_true(budget_exits > 10);
  assert_true(same > 1000);
}


/* Pointer induction variables on a 32-bit-address target (FJ_IR_ADDR32, opt_mem.c): after the
 * range check left the body, guards before LOOP keep every value the pointer takes (the last
 * step included) below 2^32, and the body reads it as ZEXT 32: I32 step, I32 PHI, and the
 * address p + 8 (read only by the load) an I32 ADD.  Without the flag (x86-64) all stay I64. */
static const char *k_ptr_loop =
    "loop:\n"
    "ldxw %r2, [%r3+8]\n"
    "add %r0, %r2\n"
    "add %r1, 1\n"
    "add %r3, 4\n"
    "jlt %r1, 100, loop\n"
    "exit\n";

static char *ptr_loop_text(uint32_t flags, fj_ir *ir) {
  cu_build_text(k_ptr_loop, "t", flags, ir);
  if (setjmp(ir->abort_jb)) fail_msg("opt: %s", ir->msg);
  fj_opt_run(ir);
  return cu_dump(ir);
}

static fj_ref find_line(const fj_ir *ir, const char *text) {
  char line[128];
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) {
    if (fj_ir_at(ir, r)->op == FJ_IR_NOP) continue;
    fj_ir_format(ir, r, line, sizeof line);
    if (strstr(line, text)) return r;
  }
  fail_msg("no line with %s", text);
  return FJ_REF_NONE;
}

static void test_ptr_iv_addr32(void **st) {
  (void)st;
  fj_ir wide_ir, ir;
  char *wide = ptr_loop_text(0, &wide_ir);
  const char *wb = strstr(wide, "LOOP");
  assert_non_null(wb);
  assert_non_null(strstr(wb, "   i64 ADD    0021 #8\n"));
  assert_non_null(strstr(wb, "   i64 PHI    0021 "));
  assert_null(strstr(wide, "ZEXT   0021"));
  char *t = ptr_loop_text(FJ_IR_ADDR32, &ir);
  /* J = 100 - r1' - 1 (0027) and the room 0xffffffff - a_0 are I32 work past the guards that
   * keep them in range (r1' < 100 at 0022, a_0 <= 0xffffffff at 0034), and the compare of the
   * two is then an I32 guard (before: I64 SUB, ADD, SUB, SHR and an I64 ULT). */
  assert_non_null(strstr(t, "0026   i32 SUB    #100 0023\n"
                            "0027   i32 SUB    0026 #1\n"));
  assert_non_null(strstr(t, "0033 > i64 ULE    0027 0032  snap 11\n"  /* the range check */
                            "0034 > i64 ULE    0021 #0xffffffff  snap 11\n"
                            "0035   i32 ZEXT   0021 32\n"
                            "0036   i32 SUB    #0xffffffff 0035\n"
                            "0037   i32 SHR    0036 #2\n"
                            "0038 > i32 ULT    0027 0037  snap 11\n"  /* J < room / 4 */
                            /* the budget's (J < 2^32: I32) */
                            "0039   i64 MUL    0027 #5\n"
                            "0040 > i64 GE     0025 0039  snap 11\n"
                            "0041       LOOP   \n"));
  const char *body = strstr(t, "LOOP");
  assert_non_null(strstr(body, "0045   i32 ADD    0035 #8\n"
                               "0046   i32 LOAD   0045 w4 reg1\n"));
  assert_non_null(strstr(body, "0049   i32 ADD    0035 #4\n"));
  assert_non_null(strstr(body, "0055   i32 PHI    0035 0049\n"));
  assert_null(strstr(body, "0021"));  /* the body reads only the ZEXT */
  /* The guard J < room / 4 with r1 = 0 (J = 98): a pointer whose 99 steps of 4 stay below
   * 2^32 passes; one whose last step reaches 2^32 leaves before LOOP. */
  fj_ref g = find_line(&ir, "> i32 ULT    0027 0037");
  const fj_ir_ins *gi = fj_ir_at(&ir, g);
  uint64_t in[16] = {0};
  in[3] = 0x40000000u;
  assert_true(fj_ir_cond(FJ_IR_ULT, FJ_IRT_I32, cu_eval(&ir, gi->a, in), cu_eval(&ir, gi->b, in)));
  in[3] = 0xffffffffu - 4 - 99 * 4;  /* a_0 = r3 + 4, the last b = a_0 + 396 = 0xffffffff */
  assert_true(fj_ir_cond(FJ_IR_ULT, FJ_IRT_I32, cu_eval(&ir, gi->a, in), cu_eval(&ir, gi->b, in)));
  in[3]++;                           /* ... = 2^32 */
  assert_false(fj_ir_cond(FJ_IR_ULT, FJ_IRT_I32, cu_eval(&ir, gi->a, in), cu_eval(&ir, gi->b, in)));
  free(wide);
  free(t);
  fj_ir_free(&wide_ir);
  fj_ir_free(&ir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forwarding_and_widening),
      cmocka_unit_test(test_dead_stores),
      cmocka_unit_test(test_call_barrier),
      cmocka_unit_test(test_aliasing),
      cmocka_unit_test(test_shared_checks),
      cmocka_unit_test(test_invariant_check_leaves_body),
      cmocka_unit_test(test_call_keeps_checks),
      cmocka_unit_test(test_iv_check_hoisted),
      cmocka_unit_test(test_iv_checks_exact),
      cmocka_unit_test(test_ptr_iv_addr32),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
