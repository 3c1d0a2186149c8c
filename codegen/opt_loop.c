/* farjit codegen — LOOP: close loop traces by peeling one iteration (LuaJIT's lj_opt_loop).
 *
 * The IR built for an END_LOOP trace is one iteration.  This pass emits LOOP and then copies
 * the iteration once more through the folding engine with every operand substituted by its
 * copy.  A copied instruction whose operands are all loop-invariant CSEs to its pre-roll
 * original, so invariant loads, arithmetic and checks stay in the pre-roll (executed once) and
 * the body keeps only what varies.  The entry values (RIN of registers and of the budget) are
 * substituted by the values at the back edge (ir->loop_snap).  A body reference to a pre-roll
 * ref x whose copy differs (subst[x] != x) is a loop-carried value: PHI x, subst[x], typed like
 * x.  Copies keep their types, and every 32-bit fact the pre-roll folded with (a guard, the
 * entry speculation's guard) is checked again by the copy of its guard before the back edge,
 * so an I32 x has a 32-bit subst[x]; should it not be known to fit, a guard at the back edge
 * checks it (exit: the back edge's state) rather than the next iteration assuming it.
 *
 * Required for END_LOOP traces even without optimizations (it is what makes them loop); with
 * FJ_IR_NOFOLD the copy is raw and nothing is hoisted.  If the copy proves that the second
 * iteration always leaves (a guard folds to false), the IR is rolled back to the pre-roll and
 * ir->loop stays FJ_REF_NONE: the end of the IR then leaves through ir->loop_snap.
 *
 * Equality-bounded counters (codegen/README.md, "32-bit knowledge").  A register whose value at
 * the back edge is y = x + t (x its entry value, t > 0 a power of two) with a guard y != n (n a
 * constant below 2^32): `k += 4; if (k == 64) break`.  The iteration gives no bound on y, but
 * the loop does: if y <u n and t divides n - y when the body is entered, every iteration's
 * counter lies in [y, n - t] (it steps by t and leaves when it reaches n, before it could pass
 * it), so it fits 32 bits.  Those two guards go at the end of the pre-roll (not copied into
 * the body; exit: the loop snapshot as a GUARD, the interpreter runs the loop itself), then
 * z = ZEXT 32 y, and the body reads z as the register's value: fold's loop-counter rule (the
 * guard y <u n bounds z, here by induction rather than by a copy of the guard in the body)
 * makes z + t an I32 ADD, its guard an I32 NE, and PHI z (z + t) an I32 PHI.  Counting down
 * (y = x - t, `n -= 1; if (n == 0) break`) the guards are n + t <= y <= 0xffffffff and t | y - n
 * (the counter stays in [n + t, y]); fold's lower-bound rule makes z - t an I32 ADD.  Tried
 * only where the trace header says r_k was below 2^32 when recording began: else the guards
 * would most likely fail on every entry (a loop counting down from 2^40 runs interpreted).
 */
#include <setjmp.h>
#include <string.h>

#include "codegen/ir.h"
#include "codegen/opt.h"
#include "codegen/snap.h"
#include "farjit/trace.h"

typedef struct lctx {
  fj_ir *ir;
  fj_ref lend;     /* one past the last pre-roll instruction */
  fj_ref *subst;   /* subst[r - FJ_REF_BIAS] for pre-roll refs */
  uint8_t *used;   /* pre-roll refs referenced from the body */
  /* Stack slots carried from one iteration to the next in a register (see carried_slots):
   * body exits name their previous-iteration value, so fj_opt_mem can sink their stores. */
  fj_snap_slot carried[FJ_SNAP_MAX_SLOTS];
  uint32_t ncarried;
  /* refs [lend, pend) were added to the pre-roll after the iteration (counter guards, not
   * copied); cur[k] is register k's value in the body while the iteration has not changed it
   * (the loop snapshot's, or a counter's z) */
  fj_ref pend;
  fj_ref cur[FJ_NREGS];
  fj_ref cnt_y[FJ_NREGS], cnt_z[FJ_NREGS];  /* equality-bounded counters: y, z (or 0) */
} lctx;

static fj_ref S(const lctx *c, fj_ref r) {
  if (r < FJ_REF_BIAS || r >= c->lend) return r;
  return c->subst[r - FJ_REF_BIAS];
}


static bool known32(const fj_ir *ir, fj_ref r) {
  if (fj_ir_is_k(r)) return fj_ir_kval(ir, r) <= 0xffffffffu;
  return fj_ir_at(ir, r)->type == FJ_IRT_I32;
}

static void mark_ref(void *ud, fj_ref *r) {
  lctx *c = ud;
  if (*r >= FJ_REF_BIAS && *r < c->pend) c->used[*r - FJ_REF_BIAS] = 1;
}

static fj_ref raw2(fj_ir *ir, enum fj_ir_op op, enum fj_irt t, fj_ref a, fj_ref b, uint32_t sn) {
  fj_ir_ins ins = {.op = (uint8_t)op, .type = (uint8_t)t, .a = a, .b = b};
  ins.snap = sn;
  return fj_ir_emit_raw(ir, &ins);
}

/* The equality-bounded counters described at the top: guards and z appended to the pre-roll
 * (raw, in the form fj_opt_mem's trip bound uses, so that its guards find them). */
static void eq_counters(lctx *c, const fj_snap *ls) {
  fj_ir *ir = c->ir;
  uint32_t sn = UINT32_MAX;
  for (unsigned k = 0; k < FJ_REG_FP; k++) {
    fj_ref y = ls->regs[k];
    /* Only where the recording began with r_k below 2^32: a counter that did not (a loop
     * counting down from 2^40, a counter wrapping around) would fail the guards on every
     * entry and run interpreted. */
    if (!y || fj_ir_is_k(y) || !(ir->entry_narrow >> k & 1)) continue;
    const fj_ir_ins yi = *fj_ir_at(ir, y);
    if (yi.op != FJ_IR_ADD || yi.type != FJ_IRT_I64 || !fj_ir_is_k(yi.b) || fj_ir_is_k(yi.a))
      continue;
    const fj_ir_ins xi = *fj_ir_at(ir, yi.a);
    uint64_t t = fj_ir_kval(ir, yi.b);
    const bool down = (int64_t)t < 0;
    if (down) t = 0 - t;
    if (xi.op != FJ_IR_RIN || xi.lit != (int32_t)k || !t || (t & (t - 1)) || t > (1u << 30))
      continue;
    fj_ref n = FJ_REF_NONE;
    for (fj_ref r = ir->chain[FJ_IR_NE]; r && !n; r = fj_ir_at(ir, r)->prev) {
      const fj_ir_ins *g = fj_ir_at(ir, r);
      if (g->type == FJ_IRT_I64 && g->a == y && fj_ir_is_k(g->b) &&
          fj_ir_kval(ir, g->b) <= 0xffffffffu - (down ? t : 0))
        n = g->b;
    }
    if (!n) continue;
    const uint64_t nv = fj_ir_kval(ir, n);
    if (sn == UINT32_MAX) {
      fj_snap s = *ls;
      fj_snap_slot slots[FJ_SNAP_MAX_SLOTS];
      fj_snap_frame frames[FJ_MAX_CALL_DEPTH];
      if (s.nslots > FJ_SNAP_MAX_SLOTS || s.nframes > FJ_MAX_CALL_DEPTH) return;
      memcpy(slots, &ir->slots[s.slot0], s.nslots * sizeof *slots);
      memcpy(frames, &ir->frames[s.frame0], s.nframes * sizeof *frames);
      s.kind = FJ_EXIT_GUARD;
      s.ref = ir->top;
      sn = fj_snap_add(ir, &s, slots, frames);
    }
    /* The I64 guards first: past them y < 2^32, so z = y and the distance between n and y
     * (1 .. 0xffffffff) is exact as an I32 SUB on z (two instructions less on a 32-bit
     * target, and fj_opt_mem's trip bound shares it). */
    if (!down) {  /* y <u n, t | n - y: the counter stays in [y, n - t] */
      raw2(ir, FJ_IR_ULT, FJ_IRT_I64, y, n, sn);
    } else {      /* n + t <= y <= 0xffffffff, t | y - n: it stays in [n + t, y] */
      raw2(ir, FJ_IR_ULE, FJ_IRT_I64, y, fj_ir_k64(ir, 0xffffffffu), sn);
      if (t == 1) raw2(ir, FJ_IR_UGT, FJ_IRT_I64, y, n, sn);
      else raw2(ir, FJ_IR_UGE, FJ_IRT_I64, y, fj_ir_k64(ir, nv + t), sn);
    }
    fj_ir_ins zi = {.op = FJ_IR_ZEXT, .type = FJ_IRT_I32, .aux = 32, .a = y};
    const fj_ref z = fj_ir_emit_raw(ir, &zi);
    fj_ref d = down ? raw2(ir, FJ_IR_SUB, FJ_IRT_I32, z, n, 0)
                    : raw2(ir, FJ_IR_SUB, FJ_IRT_I32, n, z, 0);
    if (t > 1) raw2(ir, FJ_IR_NTEST, FJ_IRT_I32, d, fj_ir_k64(ir, t - 1), sn);
    c->cnt_y[k] = y;
    c->cnt_z[k] = c->cur[k] = z;
  }
}

/* Stack slots the loop reads and writes only as whole slots (same offset and width), with no
 * call, atomic or pointer access to the stack that could see memory: the body's load of such
 * a slot is forwarded from the previous iteration's store, so the value is in a register
 * anyway, and the store is needed only by exits.  Listed with the back-edge value (ls). */
static void carried_slots(lctx *c, const fj_snap *ls) {
  fj_ir *ir = c->ir;
  c->ncarried = 0;
  for (fj_ref r = FJ_REF_BIAS; r < c->lend; r++) {
    const fj_ir_ins *i = fj_ir_at(ir, r);
    if (i->op == FJ_IR_CALL || i->op == FJ_IR_CALLL || i->op == FJ_IR_ATOMIC ||
        i->op == FJ_IR_CMPXCHG || ((i->op == FJ_IR_LOAD || i->op == FJ_IR_STORE) &&
                                   fj_mem_region(i->aux) == 0))
      return;
  }
  const fj_snap_slot *lsl = fj_snap_slots(ir, ls);
  for (uint32_t k = 0; k < ls->nslots; k++) {
    int32_t off = lsl[k].off;
    unsigned w = lsl[k].width;
    bool read = false, exact = true;
    for (fj_ref r = FJ_REF_BIAS; r < c->lend && exact; r++) {
      const fj_ir_ins *i = fj_ir_at(ir, r);
      if (i->op != FJ_IR_SLOAD && i->op != FJ_IR_SSTORE) continue;
      unsigned w2 = fj_mem_width(i->aux);
      if (i->lit < off + (int32_t)w && off < i->lit + (int32_t)w2) {
        if (i->lit != off || w2 != w) exact = false;
        else if (i->op == FJ_IR_SLOAD) read = true;
      }
    }
    if (exact && read) c->carried[c->ncarried++] = lsl[k];
  }
}

static uint32_t copy_snap(lctx *c, uint32_t sn, const fj_snap *ls) {
  fj_ir *ir = c->ir;
  fj_snap s = ir->snaps[sn];
  /* fj_snap_add may move ir->slots/frames: copy the variable parts out first. */
  fj_snap_slot slots[FJ_SNAP_MAX_SLOTS];
  fj_snap_frame frames[FJ_MAX_CALL_DEPTH];
  if (s.nslots > FJ_SNAP_MAX_SLOTS || s.nframes > FJ_MAX_CALL_DEPTH)
    fj_ir_abort(ir, FJ_ABORT_INTERNAL, "loop: snapshot %u too large", sn);
  memcpy(slots, &ir->slots[s.slot0], s.nslots * sizeof *slots);
  memcpy(frames, &ir->frames[s.frame0], s.nframes * sizeof *frames);
  for (unsigned k = 0; k < FJ_NREGS; k++) s.regs[k] = S(c, s.regs[k]);
  for (uint32_t k = 0; k < s.nslots; k++) slots[k].ref = S(c, slots[k].ref);
  for (uint32_t k = 0; k < s.nframes; k++) {
    for (unsigned j = 0; j < 4; j++) frames[k].saved[j] = S(c, frames[k].saved[j]);
    frames[k].fp = S(c, frames[k].fp);
  }
  s.budget = S(c, s.budget);
  /* A register unchanged since entry in the pre-roll holds, in the body, the value it had at
   * the back edge (a pre-roll ref: the value of the current iteration). */
  for (unsigned k = 0; k < FJ_NREGS; k++)
    if (!ir->snaps[sn].regs[k] && ls->regs[k]) s.regs[k] = c->cur[k];
  /* Likewise a carried slot not yet stored in this iteration holds the previous iteration's
   * value; such entries go first (this iteration's stores come later and win). */
  uint32_t add = 0;
  fj_snap_slot pre[FJ_SNAP_MAX_SLOTS];
  for (uint32_t k = 0; k < c->ncarried; k++) {
    bool have = false;
    for (uint32_t j = 0; j < s.nslots && !have; j++)
      have = slots[j].off == c->carried[k].off && slots[j].width == c->carried[k].width;
    if (!have) pre[add++] = c->carried[k];
  }
  if (add && s.nslots + add <= FJ_SNAP_MAX_SLOTS) {
    memmove(&slots[add], &slots[0], s.nslots * sizeof *slots);
    memcpy(&slots[0], pre, add * sizeof *pre);
    s.nslots += add;
  }
  return fj_snap_add(ir, &s, slots, frames);
}

void fj_opt_loop(fj_ir *ir) {
  if (ir->end != FJ_TRACE_END_LOOP || ir->loop != FJ_REF_NONE) return;
  if (ir->loop_snap >= ir->nsnaps)
    fj_ir_abort(ir, FJ_ABORT_INTERNAL, "loop trace without a loop snapshot");
  lctx c;
  memset(&c, 0, sizeof c);
  c.ir = ir;
  c.lend = ir->top;
  const fj_snap ls = ir->snaps[ir->loop_snap];
  memcpy(c.cur, ls.regs, sizeof c.cur);
  if (!(ir->flags & FJ_IR_NOFOLD)) carried_slots(&c, &ls);
  const uint32_t nsnaps0 = ir->nsnaps, nslots0 = ir->nslots, nframes0 = ir->nframes;
  if (!(ir->flags & FJ_IR_NOFOLD)) eq_counters(&c, &ls);
  c.pend = ir->top;
  uint32_t n = ir->top - FJ_REF_BIAS;
  c.subst = fj_ir_scratch(ir, (size_t)(n ? n : 1) * sizeof *c.subst);
  c.used = fj_ir_scratch(ir, n ? n : 1);
  fj_ref *subst = c.subst;
  uint8_t *used = c.used;
  for (uint32_t i = 0; i < n; i++) subst[i] = FJ_REF_BIAS + i;

  /* A copied guard may fold to "always fails" (the second iteration provably leaves).  Then
   * the trace stays unlooped: roll back to the pre-roll, whose end leaves through the loop
   * snapshot (a LINK to the trace's own start, codegen/PORTING.md). */
  jmp_buf outer;
  memcpy(&outer, &ir->abort_jb, sizeof outer);
  if (setjmp(ir->abort_jb)) {
    memcpy(&ir->abort_jb, &outer, sizeof outer);
    if (ir->reason != FJ_ABORT_GUARD_FAIL) longjmp(ir->abort_jb, 1);
    ir->top = c.lend;
    ir->loop = FJ_REF_NONE;
    ir->nsnaps = nsnaps0;
    ir->nslots = nslots0;
    ir->nframes = nframes0;
    ir->reason = FJ_ABORT_NONE;
    ir->msg[0] = 0;
    fj_ir_rechain(ir);
    return;
  }

  fj_ir_ins lp = {.op = FJ_IR_LOOP, .type = FJ_IRT_NONE};
  fj_ir_emit_raw(ir, &lp);
  fj_ref body0 = ir->top;

  for (fj_ref r = FJ_REF_BIAS; r < c.lend; r++) {
    fj_ir_ins ins = *fj_ir_at(ir, r);
    if (ins.op == FJ_IR_NOP) continue;
    if (ins.op == FJ_IR_RIN) {
      fj_ref e = FJ_REF_NONE;
      if (ins.lit >= 0 && ins.lit < FJ_NREGS) e = c.cur[ins.lit];
      else if (ins.lit == FJ_RIN_BUDGET && ls.budget_adj == 0) e = ls.budget;
      else if (ins.lit == FJ_RIN_BUDGET)
        e = fj_ir_op2(ir, FJ_IR_ADD, FJ_IRT_I64, ls.budget, fj_ir_k64(ir, (uint64_t)(int64_t)ls.budget_adj));
      if (e) subst[r - FJ_REF_BIAS] = e;
      continue;
    }
    ins.a = S(&c, ins.a);
    ins.b = S(&c, ins.b);
    ins.prev = FJ_REF_NONE;
    if (fj_ir_has_snap(ins.op)) ins.snap = copy_snap(&c, ins.snap, &ls);
    fj_ref nr;
    if (ins.op == FJ_IR_PAIR || ins.op == FJ_IR_EXIT) nr = fj_ir_emit_raw(ir, &ins);
    else nr = fj_ir_emit(ir, &ins);
    if (fj_ir_has_snap(ins.op) && nr >= body0) ir->snaps[ins.snap].ref = nr;
    subst[r - FJ_REF_BIAS] = nr;
  }

  /* A counter's z carries the counter's next value. */
  for (unsigned k = 0; k < FJ_REG_FP; k++)
    if (c.cnt_z[k]) subst[c.cnt_z[k] - FJ_REF_BIAS] = S(&c, c.cnt_y[k]);

  /* Which pre-roll refs does the body use? */
  for (fj_ref r = body0; r < ir->top; r++) {
    const fj_ir_ins *i = fj_ir_at(ir, r);
    if (i->op == FJ_IR_NOP) continue;
    if (i->a >= FJ_REF_BIAS && i->a < c.pend) used[i->a - FJ_REF_BIAS] = 1;
    if (i->b >= FJ_REF_BIAS && i->b < c.pend) used[i->b - FJ_REF_BIAS] = 1;
    if (fj_ir_has_snap(i->op)) fj_snap_foreach_ref(ir, i->snap, mark_ref, &c);
  }
  /* PHIs may need more PHIs: b of a PHI can itself be a variant pre-roll ref (a copy that
   * CSE'd to another pre-roll instruction), earlier or later than a. */
  for (bool more = true; more;) {
    more = false;
    for (fj_ref r = FJ_REF_BIAS; r < c.pend; r++) {
      uint32_t i = r - FJ_REF_BIAS;
      if (used[i] && subst[i] != r && subst[i] >= FJ_REF_BIAS && subst[i] < c.pend &&
          !used[subst[i] - FJ_REF_BIAS]) {
        used[subst[i] - FJ_REF_BIAS] = 1;
        more = true;
      }
    }
  }
  /* A PHI whose pre-roll value is I32 but whose next value is not known to fit 32 bits: the
   * body was folded with 32-bit knowledge of the current value (e.g. a speculated entry
   * register, codegen/build.c), which the next iteration needs too.  Check it at the back
   * edge: if it does not fit, leave with the state of the back edge (the interpreter resumes
   * at the loop's start, where a hot exit gets a bridge).  Guards first: PHIs end the IR. */
  uint32_t wsnap = UINT32_MAX;
  for (fj_ref r = FJ_REF_BIAS; r < c.pend; r++) {
    uint32_t i = r - FJ_REF_BIAS;
    if (!used[i] || subst[i] == r || subst[i] == FJ_REF_NONE) continue;
    if (fj_ir_at(ir, r)->type != FJ_IRT_I32 || known32(ir, subst[i])) continue;
    if (wsnap == UINT32_MAX) {
      wsnap = copy_snap(&c, ir->loop_snap, &ls);
      ir->snaps[wsnap].kind = FJ_EXIT_GUARD;
    }
    fj_ref g = fj_ir_guard(ir, FJ_IR_ULE, FJ_IRT_I64, subst[i], fj_ir_k64(ir, 0xffffffffu), wsnap);
    if (g >= body0) ir->snaps[wsnap].ref = g;
  }
  for (fj_ref r = FJ_REF_BIAS; r < c.pend; r++) {
    uint32_t i = r - FJ_REF_BIAS;
    if (!used[i] || subst[i] == r || subst[i] == FJ_REF_NONE) continue;
    fj_ir_ins phi = {.op = FJ_IR_PHI, .type = fj_ir_at(ir, r)->type, .a = r, .b = subst[i]};
    fj_ir_emit_raw(ir, &phi);
  }
  memcpy(&ir->abort_jb, &outer, sizeof outer);
}
