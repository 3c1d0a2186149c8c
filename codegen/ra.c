/* farjit codegen — linear-scan register allocation (contract in ra.h). */
#include "codegen/ra.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/snap.h"
#include "codegen/target.h"
#include "farjit/trace.h"

/* Does the instruction produce a value that needs a location? */
static bool has_value(const fj_ir_ins *in) {
  switch (in->op) {
  case FJ_IR_NOP: case FJ_IR_KINT: case FJ_IR_LOOP: case FJ_IR_PHI: case FJ_IR_PAIR:
  case FJ_IR_STORE: case FJ_IR_SSTORE: case FJ_IR_EXIT:
    return false;
  default:
    return !fj_ir_is_guard(in->op) && in->type != FJ_IRT_NONE;
  }
}

typedef struct live_ctx {
  fj_ra *ra;
  const fj_ir *ir;
  uint32_t at;  /* index of the using instruction */
  uint32_t w;   /* spill cost of this use: 0 in snapshots (exit stubs are cold), 1 once, 8 per
                   loop iteration */
  bool phi;     /* the use is a PHI's destination (not counted in last_use) */
  bool hi;      /* the use reads the high word (targets with widths) */
} live_ctx;

static void use_at(live_ctx *c, fj_ref r) {
  if (r < FJ_REF_BIAS || r >= c->ir->top) return;
  const fj_ir_ins *in = fj_ir_at(c->ir, r);
  if (in->op == FJ_IR_PAIR) {  /* no code of its own: its operands are used by the consumer */
    use_at(c, in->a);
    use_at(c, in->b);
    return;
  }
  uint32_t i = r - FJ_REF_BIAS;
  if (c->ra->end[i] < c->at) c->ra->end[i] = c->at;
  if (!c->phi && c->ra->last_use[i] < c->at) c->ra->last_use[i] = c->at;
  if (c->hi && c->ra->hi_end && c->ra->hi_end[i] < c->at) c->ra->hi_end[i] = c->at;
  c->ra->weight[i] += c->w;
}

static void snap_use(void *ud, fj_ref *ref) { use_at(ud, *ref); }

/* Does `in` read the high word of its operand a (b: false) or b (true)?  What a 32-bit lowering
 * needs (ra.h): addresses, shift counts and the source of ZEXT/SEXT are low words; stores and
 * atomics read a value's high word when 8 bytes wide; BSWAP when it swaps 64 bits; ops whose low
 * result word depends only on low operand words (fj_ra_low_only) when their own high word is
 * read (hi_used); everything else when the instruction itself is I64. */
static bool reads_hi(const fj_ir_ins *in, bool b, bool hi_used) {
  if (fj_ra_low_only(in) && !hi_used) return false;
  switch (in->op) {
  case FJ_IR_LOAD: case FJ_IR_SLOAD: case FJ_IR_HLD: case FJ_IR_ZEXT: case FJ_IR_SEXT:
    return false;
  case FJ_IR_STORE: case FJ_IR_SSTORE: case FJ_IR_ATOMIC: case FJ_IR_CMPXCHG:
    return b && fj_mem_width(in->aux) == 8;
  case FJ_IR_SHL: case FJ_IR_SHR: case FJ_IR_SAR:
    return !b && in->type == FJ_IRT_I64;
  case FJ_IR_BSWAP:
    return in->aux == 64;
  default:
    return in->type == FJ_IRT_I64;
  }
}

static void mark_hi(uint8_t *used, const fj_ir *ir, fj_ref r, bool *changed) {
  if (r < FJ_REF_BIAS || r >= ir->top) return;
  const fj_ir_ins *in = fj_ir_at(ir, r);
  if (in->op == FJ_IR_PAIR) {
    mark_hi(used, ir, in->a, changed);
    mark_hi(used, ir, in->b, changed);
    return;
  }
  if (!used[r - FJ_REF_BIAS]) *changed = true;
  used[r - FJ_REF_BIAS] = 1;
}
static void snap_hi(void *ud, fj_ref *ref) {
  void **u = ud;
  mark_hi(u[0], u[1], *ref, u[2]);
}

/* used[i]: does anything read value i's high word (reads_hi; snapshots always do; a PHI's b when
 * its a's is)?  Backwards, repeated until no PHI adds a use. */
static void high_words_used(const fj_ir *ir, uint32_t n, uint8_t *used) {
  bool changed = true;
  for (unsigned round = 0; changed && round <= n; round++) {
    changed = false;
    for (uint32_t i = n; i-- > 0;) {
      const fj_ir_ins *in = &ir->buf[FJ_REF_BIAS - ir->lo + i];
      if (in->op == FJ_IR_NOP || in->op == FJ_IR_PAIR) continue;
      if (in->op == FJ_IR_PHI) {
        if (in->a >= FJ_REF_BIAS && in->a < ir->top && used[in->a - FJ_REF_BIAS])
          mark_hi(used, ir, in->b, &changed);
        continue;
      }
      if (fj_ir_op_table[in->op].mode_a == FJ_IRM_R && reads_hi(in, false, used[i]))
        mark_hi(used, ir, in->a, &changed);
      if (fj_ir_op_table[in->op].mode_b == FJ_IRM_R && reads_hi(in, true, used[i]))
        mark_hi(used, ir, in->b, &changed);
      if (fj_ir_has_snap(in->op) && in->snap < ir->nsnaps) {
        void *u[3] = {used, (void *)ir, &changed};
        fj_snap_foreach_ref((fj_ir *)ir, in->snap, snap_hi, u);
      }
    }
    if (ir->loop == FJ_REF_NONE && ir->end == FJ_TRACE_END_LOOP && ir->loop_snap < ir->nsnaps) {
      void *u[3] = {used, (void *)ir, &changed};
      fj_snap_foreach_ref((fj_ir *)ir, ir->loop_snap, snap_hi, u);
    }
  }
}

static void compute_ranges(fj_ra *ra, fj_ir *ir, const uint8_t *hi_used) {
  uint32_t n = ra->nins;
  for (uint32_t i = 0; i < n; i++) ra->end[i] = ra->last_use[i] = i;
  for (uint32_t i = 0; i < n && ra->hi_end; i++) ra->hi_end[i] = i;
  live_ctx c = {ra, ir, 0, 0, false, false};
  uint32_t lp = ir->loop != FJ_REF_NONE ? ir->loop - FJ_REF_BIAS : n;
  for (uint32_t i = 0; i < n; i++) {
    const fj_ir_ins *in = &ir->buf[FJ_REF_BIAS - ir->lo + i];
    if (in->op == FJ_IR_NOP || in->op == FJ_IR_PAIR) continue;
    c.at = i;
    c.w = i > lp ? 8 : 1;
    c.phi = in->op == FJ_IR_PHI;  /* a PHI's a is the copy's destination, not a read */
    bool used = hi_used && hi_used[i];
    c.hi = !c.phi && reads_hi(in, false, used);
    if (fj_ir_op_table[in->op].mode_a == FJ_IRM_R) use_at(&c, in->a);
    c.phi = false;  /* its b is read at the back edge, after the whole body */
    /* A PHI copies b's high word iff the body reads a's (ra.h: word moves). */
    c.hi = in->op == FJ_IR_PHI ? ra->hi_end && in->a >= FJ_REF_BIAS && in->a < ir->top &&
                                     ra->hi_end[in->a - FJ_REF_BIAS] > lp
                               : reads_hi(in, true, used);
    if (fj_ir_op_table[in->op].mode_b == FJ_IRM_R) use_at(&c, in->b);
    c.w = 0;
    c.hi = true;  /* snapshots store whole registers (fp0: an address, read by its low word) */
    if (fj_ir_has_snap(in->op)) {
      if (in->snap >= ir->nsnaps)
        fj_ir_abort(ir, FJ_ABORT_BACKEND, "ir %04u: bad snapshot %u", i, in->snap);
      fj_snap_foreach_ref(ir, in->snap, snap_use, &c);
      c.hi = false;
      if (ir->snaps[in->snap].nslots) use_at(&c, ir->fp0);
    }
  }
  if (ir->loop == FJ_REF_NONE && ir->end == FJ_TRACE_END_LOOP && ir->loop_snap < ir->nsnaps && n) {
    /* The end of the IR leaves through the loop snapshot (target.h, tail_snap). */
    c.at = n - 1;
    c.hi = true;
    fj_snap_foreach_ref(ir, ir->loop_snap, snap_use, &c);
    c.hi = false;
    if (ir->snaps[ir->loop_snap].nslots) use_at(&c, ir->fp0);
  }
  if (ir->loop != FJ_REF_NONE) {
    /* Pre-roll values used in the body are needed by every iteration (so is a high word the
     * body reads). */
    uint32_t lp = ir->loop - FJ_REF_BIAS;
    for (uint32_t i = 0; i < lp; i++) {
      if (ra->end[i] > lp) ra->end[i] = n - 1;
      if (ra->hi_end && ra->hi_end[i] > lp) ra->hi_end[i] = n - 1;
    }
  }
  /* A two-word value whose high word nothing reads takes one register (its instruction may
   * still compute the high half, into scratch). */
  for (uint32_t i = 0; i < n && ra->words; i++)
    if (ra->words[i] == 2 && ra->hi_end[i] == i) ra->words[i] = 1;
}

/* Is `ins` a two-address operation whose first operand is a (and only the first)?  Every
 * backend computes those as "result = a; result op= b", so the result may reuse a's register
 * when this is a's last read: the loop counter i = i + 1 then needs no back-edge copy.  On
 * targets with regs->commute, a commutative one (ADD AND OR XOR MUL) may reuse its second
 * operand's register the same way (result = b op a). */
static bool two_address_on(const fj_ir_ins *ins, fj_ref a, bool commute) {
  switch (ins->op) {
  case FJ_IR_ADD: case FJ_IR_AND: case FJ_IR_OR: case FJ_IR_XOR: case FJ_IR_MUL:
    if (commute && ins->b == a && ins->a != a) return true;
    return ins->a == a && ins->b != a;
  case FJ_IR_SUB: case FJ_IR_SHL: case FJ_IR_SHR: case FJ_IR_SAR:
    return ins->a == a && ins->b != a;
  case FJ_IR_NEG: case FJ_IR_ZEXT: case FJ_IR_SEXT: case FJ_IR_BSWAP:
    return ins->a == a;
  default:
    return false;
  }
}

/* What keeping value i in a register is worth per instruction of its range and per register
 * it takes: weighted uses over length and width, so short busy values beat long idle ones and
 * a one-word value used as often as a two-word one keeps its single register (exit-only values
 * cost nothing). */
static uint64_t spill_cost(const fj_ra *ra, uint32_t i) {
  /* a value split at the loop competes in the body with the body's part of its range */
  uint32_t from = ra->loc_body && i < ra->loop_at && ra->loc_body[i].kind != FJ_LOC_NONE
                      ? ra->loop_at : i;
  uint64_t words = ra->words ? ra->words[i] : 1;
  return ((uint64_t)ra->weight[i] + 1) * 4096 / ((uint64_t)(ra->end[i] - from + 1) * words);
}

/* Where value j is while instruction i runs: a pre-roll value split at the loop (split_loop
 * targets) has its own location in the body, from the LOOP instruction on. */
static fj_loc *locp(const fj_ra *ra, uint32_t j, uint32_t i) {
  return ra->loc_body && i >= ra->loop_at && ra->loc_body[j].kind != FJ_LOC_NONE
             ? &ra->loc_body[j] : &ra->loc[j];
}

/* Give value j a slot for the rest of its life as seen from instruction i (its whole life, or
 * the loop body's part of a split value), the first one free from there on; false when all
 * regs->max_slots are taken. */
static bool to_slot(fj_ra *ra, const fj_target_regs *regs, uint32_t *slot_end, uint32_t j,
                    uint32_t i) {
  fj_loc *l = locp(ra, j, i);
  if (l == &ra->loc[j] && ra->phi_a && ra->phi_a[j]) {
    /* PHI a b (phi_slots): b takes a's slot (a's body location) when a is done by b's
     * definition — read for the last time before it or by b itself, whose code writes the slot
     * after reading its operands.  The slot is a's until the end of the loop (slot_end), so
     * only a and b ever hold it; the back edge copies nothing. */
    uint32_t a = ra->phi_a[j] - 1;
    fj_loc la = *locp(ra, a, j);
    if (la.kind == FJ_LOC_SLOT && slot_end[la.slot] >= ra->end[j] + 1) {
      *l = la;
      ra->nspilled++;
      return true;
    }
  }
  uint32_t from = l == &ra->loc[j] ? j : ra->loop_at;
  uint32_t s = 0;
  if (l != &ra->loc[j] && ra->loc[j].kind == FJ_LOC_SLOT &&
      slot_end[ra->loc[j].slot] <= ra->loop_at + 1) {
    /* the body part of a split value whose pre-roll part was in a slot, released at LOOP and
     * taken by nothing since: back into it (no slot-to-slot move at LOOP) */
    s = ra->loc[j].slot;
    slot_end[s] = ra->end[j] + 1;
    *l = (fj_loc){FJ_LOC_SLOT, 0, (uint16_t)s, 0, 0};
    ra->nspilled++;
    return true;
  }
  while (s < regs->max_slots && slot_end[s] > from) s++;
  if (s >= regs->max_slots) return false;
  slot_end[s] = ra->end[j] + 1;
  if (s + 1 > ra->nslots) ra->nslots = s + 1;
  *l = (fj_loc){FJ_LOC_SLOT, 0, (uint16_t)s, 0, 0};
  ra->nspilled++;
  return true;
}

/* Registers value j holds while instruction i runs (mask): its register, and a two-word value's
 * high one until the last instruction that reads the high word. */
static uint32_t loc_mask(const fj_ra *ra, uint32_t j, uint32_t i) {
  fj_loc l = *locp(ra, j, i);
  if (l.kind != FJ_LOC_REG) return 0;
  return 1u << l.reg | (ra->words && ra->words[j] == 2 && ra->hi_end[j] >= i ? 1u << l.reg_hi : 0);
}

static unsigned popcount32(uint32_t m) {
  unsigned n = 0;
  for (; m; m &= m - 1) n++;
  return n;
}

/* Is victim j cheaper to spill than keeping i (spill_cost; among equals the longer one)? */
static bool cheaper(const fj_ra *ra, uint32_t j, uint32_t i) {
  return spill_cost(ra, j) < spill_cost(ra, i) ||
         (spill_cost(ra, j) == spill_cost(ra, i) && ra->end[j] > ra->end[i]);
}

/* PHI a b: when the body is done with a before b is defined, b may take a's register and the
 * back edge needs no copy (hint[b] = a + 1). */
static void phi_hints(fj_ra *ra, fj_ir *ir, const fj_target_regs *regs) {
  uint32_t n = ra->nins;
  for (fj_ref r = ir->loop; ir->loop != FJ_REF_NONE && r < ir->top; r++) {
    const fj_ir_ins *in = fj_ir_at(ir, r);
    if (in->op != FJ_IR_PHI || in->a < FJ_REF_BIAS || in->b < FJ_REF_BIAS) continue;
    uint32_t a = in->a - FJ_REF_BIAS, b = in->b - FJ_REF_BIAS;
    if (in->a >= ir->loop || in->b <= ir->loop || b >= n) continue;
    /* A chain of two-address ops from a to b (c1 = a op x, c2 = c1 op y, ..., b = ck op z),
     * each link the last use of the one before: the whole chain works in a's register.  With
     * regs->commute a link may continue through either operand of a commutative op (a itself
     * first, else the first operand that qualifies). */
    uint32_t c = b, len = 0, path[64];
    bool chain = false;
    while (regs->two_address && len < 64) {
      path[len++] = c;
      const fj_ir_ins *ci = fj_ir_at(ir, (fj_ref)(c + FJ_REF_BIAS));
      fj_ref cand[2] = {ci->a, regs->commute ? ci->b : FJ_REF_NONE};
      uint32_t next = UINT32_MAX;
      for (unsigned k = 0; k < 2 && !chain; k++) {
        fj_ref o = cand[k];
        if (o < FJ_REF_BIAS || o >= ir->top || !two_address_on(ci, o, regs->commute)) continue;
        uint32_t t = o - FJ_REF_BIAS;
        if (ra->last_use[t] != c) continue;
        if (t == a) chain = true;
        else if (next == UINT32_MAX && o > ir->loop && !ra->hint[t] && ra->end[t] == c) next = t;
      }
      if (chain || next == UINT32_MAX) break;
      c = next;
    }
    if (chain) {
      for (uint32_t k = 0; k < len; k++) ra->hint[path[k]] = a + 1;
    } else if (ra->last_use[a] < b) {
      ra->hint[b] = a + 1;
    }
  }
}

/* phi_a[b] = a + 1 for PHI a b (phi_slots targets) when b may take a's slot: a is done by b's
 * definition (its last read comes before b or is b itself: the emitter writes a slot result
 * after reading operands and snapshot) and a is no other PHI's destination. */
static void phi_slot_pairs(fj_ra *ra, fj_ir *ir) {
  uint32_t n = ra->nins;
  ra->phi_a = calloc(n ? n : 1, sizeof *ra->phi_a);
  uint8_t *dst = calloc(n ? n : 1, 1);
  if (!ra->phi_a || !dst) {
    free(dst);
    fj_ir_abort(ir, FJ_ABORT_NOMEM, "register allocation: out of memory");
  }
  for (fj_ref r = ir->loop; r < ir->top; r++) {
    const fj_ir_ins *in = fj_ir_at(ir, r);
    if (in->op == FJ_IR_PHI && in->a >= FJ_REF_BIAS && in->a < ir->top && dst[in->a - FJ_REF_BIAS] < 2)
      dst[in->a - FJ_REF_BIAS]++;
  }
  for (fj_ref r = ir->loop; r < ir->top; r++) {
    const fj_ir_ins *in = fj_ir_at(ir, r);
    if (in->op != FJ_IR_PHI || in->a < FJ_REF_BIAS || in->b < FJ_REF_BIAS) continue;
    if (in->a >= ir->loop || in->b <= ir->loop || in->b >= ir->top) continue;
    uint32_t a = in->a - FJ_REF_BIAS, b = in->b - FJ_REF_BIAS;
    if (dst[a] != 1 || ra->phi_a[b]) continue;
    if (ra->last_use[a] <= b) ra->phi_a[b] = a + 1;
  }
  free(dst);
}

/* The first free register of the preference order for the low word (unless *reg is already
 * chosen), and for a high word the last one: high words are mostly adc/sbc/orr.w operands,
 * while low words and one-word values keep the registers with short encodings. */
static void pick_regs(const fj_target_regs *regs, uint32_t avail, unsigned need, int *reg,
                      int *reg_hi) {
  for (unsigned k = 0; k < regs->nalloc && *reg < 0; k++)
    if (avail >> regs->alloc[k] & 1) *reg = regs->alloc[k];
  for (unsigned k = regs->nalloc; k-- > 0 && need == 2 && *reg_hi < 0;)
    if ((avail >> regs->alloc[k] & 1) && regs->alloc[k] != *reg) *reg_hi = regs->alloc[k];
}

typedef struct span_ctx { uint8_t *mark; const fj_ir *ir; } span_ctx;
static void span_mark(void *ud, fj_ref *ref) {
  span_ctx *c = ud;
  if (*ref >= FJ_REF_BIAS && *ref < c->ir->top) c->mark[*ref - FJ_REF_BIAS] = 0;
}

/* split_ok[j]: pre-roll value j lives into the loop body and may have a body location of its
 * own.  Not when a snapshot its exit stub reads is used on both sides of LOOP (one stub, one
 * location).  snap_at[s]: the first instruction using snapshot s (the side its stub reads). */
static void split_candidates(fj_ra *ra, fj_ir *ir, uint8_t *split_ok) {
  uint32_t lp = ra->loop_at, n = ra->nins;
  for (uint32_t s = 0; s < ir->nsnaps; s++) ra->snap_at[s] = UINT32_MAX;
  for (uint32_t j = 0; j < lp; j++) split_ok[j] = ra->end[j] > lp;
  uint32_t *last = calloc(ir->nsnaps ? ir->nsnaps : 1, sizeof *last);
  if (!last) {
    free(split_ok);
    fj_ir_abort(ir, FJ_ABORT_NOMEM, "register allocation: out of memory");
  }
  for (uint32_t i = 0; i < n; i++) {
    const fj_ir_ins *in = &ir->buf[FJ_REF_BIAS - ir->lo + i];
    if (in->op == FJ_IR_NOP || in->op == FJ_IR_PAIR || !fj_ir_has_snap(in->op)) continue;
    if (ra->snap_at[in->snap] == UINT32_MAX) ra->snap_at[in->snap] = i;
    last[in->snap] = i;
  }
  span_ctx c = {split_ok, ir};
  for (uint32_t s = 0; s < ir->nsnaps; s++) {
    if (ra->snap_at[s] == UINT32_MAX || !(ra->snap_at[s] < lp && last[s] > lp)) continue;
    fj_snap_foreach_ref(ir, s, span_mark, &c);
    if (ir->snaps[s].nslots && ir->fp0 >= FJ_REF_BIAS && ir->fp0 < ir->top)
      split_ok[ir->fp0 - FJ_REF_BIAS] = 0;
  }
  free(last);
}

void fj_ra_run(fj_ra *ra, fj_ir *ir, const fj_target_regs *regs) {
  memset(ra, 0, sizeof *ra);
  uint32_t n = fj_ir_nins(ir);
  ra->nins = n;
  ra->loc = calloc(n ? n : 1, sizeof *ra->loc);
  ra->end = calloc(n ? n : 1, sizeof *ra->end);
  ra->weight = calloc(n ? n : 1, sizeof *ra->weight);
  ra->last_use = calloc(n ? n : 1, sizeof *ra->last_use);
  ra->hint = calloc(n ? n : 1, sizeof *ra->hint);
  if (regs->words) {
    ra->words = calloc(n ? n : 1, 1);
    ra->hi_end = calloc(n ? n : 1, sizeof *ra->hi_end);
  }
  if (!ra->loc || !ra->end || !ra->weight || !ra->last_use || !ra->hint ||
      (regs->words && (!ra->words || !ra->hi_end)))
    fj_ir_abort(ir, FJ_ABORT_NOMEM, "register allocation: out of memory");
  for (uint32_t i = 0; i < n && ra->words; i++) {
    const fj_ir_ins *in = &ir->buf[FJ_REF_BIAS - ir->lo + i];
    ra->words[i] = has_value(in) && regs->words(ir, (fj_ref)(i + FJ_REF_BIAS)) == 2 ? 2 : 1;
  }
  for (uint32_t i = 0; i < n; i++) {  /* the one abort of compute_ranges, before hi_used exists */
    const fj_ir_ins *in = &ir->buf[FJ_REF_BIAS - ir->lo + i];
    if (in->op != FJ_IR_NOP && in->op != FJ_IR_PAIR && fj_ir_has_snap(in->op) &&
        in->snap >= ir->nsnaps)
      fj_ir_abort(ir, FJ_ABORT_BACKEND, "ir %04u: bad snapshot %u", i, in->snap);
  }
  uint8_t *hi_used = ra->words ? calloc(n ? n : 1, 1) : NULL;
  if (ra->words && !hi_used) fj_ir_abort(ir, FJ_ABORT_NOMEM, "register allocation: out of memory");
  if (hi_used) high_words_used(ir, n, hi_used);
  compute_ranges(ra, ir, hi_used);
  free(hi_used);
  phi_hints(ra, ir, regs);
  if (regs->phi_slots && ir->loop != FJ_REF_NONE) phi_slot_pairs(ra, ir);
  uint8_t *split_ok = NULL;
  if (regs->split_loop && ir->loop != FJ_REF_NONE) {
    ra->loop_at = ir->loop - FJ_REF_BIAS;
    ra->loc_body = calloc(n ? n : 1, sizeof *ra->loc_body);
    ra->snap_at = calloc(ir->nsnaps ? ir->nsnaps : 1, sizeof *ra->snap_at);
    split_ok = calloc(n ? n : 1, 1);
    if (!ra->loc_body || !ra->snap_at || !split_ok) {
      free(split_ok);
      fj_ir_abort(ir, FJ_ABORT_NOMEM, "register allocation: out of memory");
    }
    split_candidates(ra, ir, split_ok);
  } else {
    ra->loop_at = n;
  }
  uint32_t *next_call = calloc(n + 1, sizeof *next_call);
  uint32_t *active = calloc(n ? n : 1, sizeof *active);
  /* slot_end[s]: one past the last use of the values given slot s so far (0: never used).  A
   * value whose range starts at d may take s iff slot_end[s] <= d: a value moved to a slot when
   * it is evicted lives there from its definition, not from the eviction. */
  uint32_t *slot_end = calloc(regs->max_slots ? regs->max_slots : 1, sizeof *slot_end);
  uint8_t *pinned = calloc(n ? n : 1, 1);
  if (!next_call || !active || !slot_end || !pinned) {
    free(next_call); free(active); free(slot_end); free(pinned); free(split_ok);
    fj_ir_abort(ir, FJ_ABORT_NOMEM, "register allocation: out of memory");
  }
  next_call[n] = UINT32_MAX;
  for (uint32_t i = n; i-- > 0;) {
    uint8_t op = ir->buf[FJ_REF_BIAS - ir->lo + i].op;
    next_call[i] = (fj_ir_op_table[op].flags & FJ_IRF_CALL) ? i : next_call[i + 1];
  }
  /* Clobbered registers: next_clob[k][i] = first instruction >= i that writes register
   * clob_reg[k] besides its result (regs->clobbers). */
  uint32_t *clob_mask = regs->clobbers ? calloc(n ? n : 1, sizeof *clob_mask) : NULL;
  uint32_t *next_clob[8] = {NULL};
  unsigned clob_reg[8], nclob = 0;
  bool clob_nomem = regs->clobbers && !clob_mask;
  if (clob_mask) {
    uint32_t all = 0;
    for (uint32_t i = 0; i < n; i++) {
      const fj_ir_ins *ci = &ir->buf[FJ_REF_BIAS - ir->lo + i];
      if (ci->op != FJ_IR_NOP) clob_mask[i] = regs->clobbers(ir, (fj_ref)(i + FJ_REF_BIAS));
      all |= clob_mask[i];
    }
    for (unsigned r = 0; r < 32 && !clob_nomem; r++) {
      if (!(all >> r & 1)) continue;
      if (nclob == 8 || !(next_clob[nclob] = calloc(n + 1, sizeof **next_clob))) {
        clob_nomem = true;
        break;
      }
      uint32_t *nx = next_clob[nclob];
      nx[n] = UINT32_MAX;
      for (uint32_t i = n; i-- > 0;) nx[i] = (clob_mask[i] >> r & 1) ? i : nx[i + 1];
      clob_reg[nclob++] = r;
    }
  }
  if (clob_nomem) {
    free(clob_mask);
    for (unsigned k = 0; k < 8; k++) free(next_clob[k]);
    free(next_call); free(active); free(slot_end); free(pinned); free(split_ok);
    fj_ir_abort(ir, FJ_ABORT_NOMEM, "register allocation: out of memory");
  }

  uint32_t nactive = 0;
  uint32_t free_regs = 0;
  for (unsigned k = 0; k < regs->nalloc; k++) free_regs |= 1u << regs->alloc[k];
  int abort_reason = 0;
  uint32_t abort_at = 0;

  for (uint32_t i = 0; i < n && !abort_reason; i++) {
    /* Expire ranges that ended before i. */
    for (uint32_t k = 0; k < nactive;) {
      uint32_t j = active[k];
      if (ra->end[j] < i) {
        active[k] = active[--nactive];
        /* PHI chains share registers among several active values: free them with the last. */
        uint32_t mj = loc_mask(ra, j, i - 1);
        for (uint32_t m = 0; m < nactive && mj; m++) mj &= ~loc_mask(ra, active[m], i);
        free_regs |= mj;
      } else {
        /* A high word nothing reads any more frees its register. */
        uint32_t mj = loc_mask(ra, j, i - 1) & ~loc_mask(ra, j, i);
        for (uint32_t m = 0; m < nactive && mj; m++)
          if (m != k) mj &= ~loc_mask(ra, active[m], i);
        free_regs |= mj;
        k++;
      }
    }
    if (ra->loc_body && i == ra->loop_at && i < n) {
      /* Split every pre-roll value the body uses (split_ok): the body part starts where the
       * pre-roll part is; one that had to go to a slot in the pre-roll gets free registers
       * for the body if there are any (most valuable first), its slot then ends here. */
      for (uint32_t k = 0; k < nactive; k++)
        if (split_ok[active[k]]) ra->loc_body[active[k]] = ra->loc[active[k]];
      for (;;) {
        int best = -1;
        for (uint32_t k = 0; k < nactive; k++) {
          uint32_t j = active[k];
          if (!split_ok[j] || ra->loc[j].kind != FJ_LOC_SLOT ||
              ra->loc_body[j].kind != FJ_LOC_SLOT || ra->loc_body[j].word)
            continue;
          if (best < 0 || spill_cost(ra, j) > spill_cost(ra, active[best])) best = (int)k;
        }
        if (best < 0) break;
        uint32_t j = active[best];
        ra->loc_body[j].word = 1;  /* tried (reset below) */
        unsigned need = ra->words && ra->words[j] == 2 && ra->hi_end[j] > i ? 2 : 1;
        uint32_t ok = i + 1 < n && next_call[i + 1] < ra->end[j] ? regs->callee_saved : ~0u;
        for (unsigned k = 0; k < nclob; k++)
          if (next_clob[k][i + 1] <= ra->end[j]) ok &= ~(1u << clob_reg[k]);
        uint32_t avail = free_regs & ok;
        if (popcount32(avail) < need) continue;
        int reg = -1, reg_hi = -1;
        pick_regs(regs, avail, need, &reg, &reg_hi);
        uint32_t m = 1u << reg | (need == 2 ? 1u << reg_hi : 0);
        free_regs &= ~m;
        ra->used_regs |= m;
        slot_end[ra->loc[j].slot] = i + 1;
        ra->loc_body[j] = (fj_loc){FJ_LOC_REG, (uint8_t)reg, 0, need == 2 ? (uint8_t)reg_hi : 0, 0};
      }
      for (uint32_t k = 0; k < nactive; k++) ra->loc_body[active[k]].word = 0;
    }
    const fj_ir_ins *in = &ir->buf[FJ_REF_BIAS - ir->lo + i];
    if (!has_value(in) || ra->end[i] == i) continue;  /* unused results need no location */
    unsigned need = ra->words ? ra->words[i] : 1;
    bool crosses = i + 1 < n && next_call[i + 1] < ra->end[i];
    uint32_t ok = crosses ? regs->callee_saved : ~0u;
    if (regs->pair64 && in->type == FJ_IRT_I64) ok = 0;  /* 32-bit target: I64 values in slots */
    for (unsigned k = 0; k < nclob; k++)  /* written by an instruction in (i, end] */
      if (next_clob[k][i + 1] <= ra->end[i]) ok &= ~(1u << clob_reg[k]);
    if (ra->phi_a && ra->phi_a[i] && ra->weight[i] <= 8 && ra->words &&
        ra->words[ra->phi_a[i] - 1] == 2 && ra->hi_end[ra->phi_a[i] - 1] > ra->loop_at &&
        locp(ra, ra->phi_a[i] - 1, i)->kind == FJ_LOC_SLOT) {
      /* Nothing but the back edge reads b (weight: the PHI's 8) and a lives in a slot whose
       * both words the copy would write: a register would only cost two stores there, the
       * slot one strd (a one-word copy is one str either way). */
      if (!to_slot(ra, regs, slot_end, i, i)) {
        abort_reason = FJ_ABORT_SPILL_LIMIT;
        abort_at = i;
        break;
      }
      active[nactive++] = i;
      continue;
    }
    if (ra->hint[i] && ok) {
      uint32_t a = ra->hint[i] - 1;
      uint32_t ma = loc_mask(ra, a, i);
      if (ma && (ma & ok) == ma && popcount32(ma) == need) {
        /* Share a's register(s): a is dead in the body from here on.  Both stay put (never
         * evicted), so the registers are never handed out twice. */
        ra->loc[i] = *locp(ra, a, i);
        pinned[i] = pinned[a] = 1;
        active[nactive++] = i;
        continue;
      }
      if (ma && need == 2 && popcount32(ma) == 1 && (ma & ok) == ma &&
          ma == 1u << locp(ra, a, i)->reg) {
        /* a holds one word here (its body location is one register, or its high register is
         * already free) and b two: b's low word shares a's register, its high word gets a
         * free one (the back edge then copies at most that word). */
        int reg = locp(ra, a, i)->reg, reg_hi = -1;
        /* preferably the high register of a two-word first operand of a two-address op that
         * dies here (the high half then stays in place; its expiry keeps what b holds) */
        const fj_ir_ins *ins = &ir->buf[FJ_REF_BIAS - ir->lo + i];
        uint32_t o = ins->a >= FJ_REF_BIAS && ins->a < ir->top ? ins->a - FJ_REF_BIAS : UINT32_MAX;
        if (regs->two_address && o < i && two_address_on(ins, ins->a, false) && ra->end[o] == i &&
            !pinned[o] && ra->words[o] == 2 && ra->hi_end[o] >= i &&
            locp(ra, o, i)->kind == FJ_LOC_REG && (ok >> locp(ra, o, i)->reg_hi & 1) &&
            !(ma >> locp(ra, o, i)->reg_hi & 1))
          reg_hi = locp(ra, o, i)->reg_hi;
        else
          pick_regs(regs, free_regs & ok & ~ma, 2, &reg, &reg_hi);
        if (reg_hi >= 0) {
          free_regs &= ~(1u << reg_hi);
          ra->used_regs |= 1u << reg_hi;
          ra->loc[i] = (fj_loc){FJ_LOC_REG, (uint8_t)reg, 0, (uint8_t)reg_hi, 0};
          pinned[i] = pinned[a] = 1;
          active[nactive++] = i;
          continue;
        }
      }
    }
    /* Two-address form whose first operand dies here: take over its register(s) (x = x op y);
     * a one-word result takes a two-word a's low register and frees the high one.  With
     * regs->commute, a commutative op's second operand likewise (x = y op x). */
    bool took = false;
    for (unsigned side = 0; side < 2 && ok && regs->two_address && !took; side++) {
      const fj_ir_ins *ins = &ir->buf[FJ_REF_BIAS - ir->lo + i];
      fj_ref o = side ? ins->b : ins->a;
      if (side && (!regs->commute || fj_ir_op_table[ins->op].mode_b != FJ_IRM_R)) break;
      uint32_t a = o >= FJ_REF_BIAS && o < ir->top ? o - FJ_REF_BIAS : UINT32_MAX;
      unsigned wa = a < i && ra->words ? ra->words[a] : 1;
      if (a < i && ra->end[a] == i && locp(ra, a, i)->kind == FJ_LOC_REG && !pinned[a] &&
          wa >= need && two_address_on(ins, o, regs->commute)) {
        fj_loc la = *locp(ra, a, i);
        uint32_t take = need == 2 ? loc_mask(ra, a, i) : 1u << la.reg;
        if ((take & ok) == take && popcount32(take) == need) {
          for (uint32_t k = 0; k < nactive; k++) {
            if (active[k] == a) {  /* a's range ends here: i inherits the register, no free */
              active[k] = active[--nactive];
              break;
            }
          }
          free_regs |= loc_mask(ra, a, i) & ~take;
          ra->loc[i] = la;
          active[nactive++] = i;
          took = true;
        }
      }
    }
    if (took) continue;
    /* Registers free for i, and (when short) the victims that free enough of them: each one
     * cheaper than i (spill_cost; among equals the one that lives longest). */
    uint32_t avail = free_regs & ok;
    if (popcount32(avail) < need && ok) {
      uint32_t chosen[2], nch = 0, gain = 0;
      while (popcount32(avail | gain) < need && nch < 2) {
        int victim = -1;
        for (uint32_t k = 0; k < nactive; k++) {
          uint32_t j = active[k];
          if (locp(ra, j, i)->kind != FJ_LOC_REG || !(loc_mask(ra, j, i) & ok) || pinned[j])
            continue;
          if (nch && chosen[0] == k) continue;
          uint32_t v = victim < 0 ? 0 : active[victim];
          if (victim < 0 || spill_cost(ra, j) < spill_cost(ra, v) ||
              (spill_cost(ra, j) == spill_cost(ra, v) && ra->end[j] > ra->end[v]))
            victim = (int)k;
        }
        if (victim < 0 || !cheaper(ra, active[victim], i)) break;
        chosen[nch++] = (uint32_t)victim;
        gain |= loc_mask(ra, active[victim], i) & ok;
      }
      if (popcount32(avail | gain) >= need) {
        for (uint32_t c = 0; c < nch && !abort_reason; c++) {
          uint32_t j = active[chosen[c]];
          uint32_t mj = loc_mask(ra, j, i);
          if (!to_slot(ra, regs, slot_end, j, i)) {
            abort_reason = FJ_ABORT_SPILL_LIMIT;
            abort_at = i;
          }
          free_regs |= mj;
        }
        if (abort_reason) break;
        avail = free_regs & ok;
      }
    }
    int reg = -1, reg_hi = -1;
    if (popcount32(avail) >= need) {
      /* The register the instruction's code leaves its result in, if free (result_pref). */
      uint32_t own = regs->result_pref ? regs->result_pref(ir, (fj_ref)(i + FJ_REF_BIAS)) & avail : 0;
      for (unsigned k = 0; k < regs->nalloc && own; k++)
        if (own >> regs->alloc[k] & 1) { reg = regs->alloc[k]; break; }
      pick_regs(regs, avail, need, &reg, &reg_hi);
    }
    if (reg >= 0 && (need == 1 || reg_hi >= 0)) {
      uint32_t m = 1u << reg | (need == 2 ? 1u << reg_hi : 0);
      free_regs &= ~m;
      ra->used_regs |= m;
      ra->loc[i] = (fj_loc){FJ_LOC_REG, (uint8_t)reg, 0, need == 2 ? (uint8_t)reg_hi : 0, 0};
    } else if (!to_slot(ra, regs, slot_end, i, i)) {
      abort_reason = FJ_ABORT_SPILL_LIMIT;
      abort_at = i;
      break;
    }
    active[nactive++] = i;
  }
  free(next_call);
  free(active);
  free(slot_end);
  free(pinned);
  free(split_ok);
  for (unsigned k = 0; k < nclob; k++) free(next_clob[k]);
  free(clob_mask);
  if (abort_reason)
    fj_ir_abort(ir, abort_reason, "ir %04u: more than %u spill slots live at once", abort_at,
                regs->max_slots);
}

void fj_ra_free(fj_ra *ra) {
  free(ra->loc);
  free(ra->end);
  free(ra->weight);
  free(ra->last_use);
  free(ra->hint);
  free(ra->words);
  free(ra->hi_end);
  free(ra->loc_body);
  free(ra->snap_at);
  free(ra->phi_a);
  memset(ra, 0, sizeof *ra);
}

/* ---- parallel moves at the back edge ------------------------------------------------------- */

/* Same storage: a register (whichever word it holds), or a slot (the same word of it). */
static bool loc_eq(fj_loc a, fj_loc b) {
  return a.kind == b.kind && a.kind != FJ_LOC_NONE &&
         (a.kind == FJ_LOC_REG ? a.reg == b.reg : a.slot == b.slot && a.word == b.word);
}

typedef struct pmove {
  fj_loc dst, src;  /* src.kind NONE: materialize ref */
  fj_ref ref;
  bool done;
} pmove;

/* Word w (1 = low, 2 = high) of value r's location at instruction `at`, as one-word location
 * (registers: the word's own register; slots: the slot and the word).  NONE for a one-word
 * value's high word. */
static fj_loc word_loc(const fj_ra *ra, fj_ref r, fj_ref at, unsigned w) {
  fj_loc l = fj_ra_loc_at(ra, r, at);
  if (l.kind == FJ_LOC_NONE || (w == 2 && fj_ra_words(ra, r) == 1))
    return (fj_loc){FJ_LOC_NONE, 0, 0, 0, (uint8_t)w};
  if (l.kind == FJ_LOC_REG && w == 2) l.reg = l.reg_hi;
  l.reg_hi = 0;
  l.word = (uint8_t)w;
  return l;
}

/* Emit the parallel move m[0..n) in a safe order (frees m). */
static void sequentialize(pmove *m, uint32_t n, fj_loc tmp, fj_ra_move_fn fn, void *ud) {
  uint32_t left = n;
  while (left) {
    bool progress = false;
    for (uint32_t i = 0; i < n; i++) {
      if (m[i].done) continue;
      bool blocked = false;  /* is dst still to be read by another pending move? */
      for (uint32_t j = 0; j < n && !blocked; j++)
        blocked = j != i && !m[j].done && loc_eq(m[j].src, m[i].dst);
      if (blocked) continue;
      fn(ud, m[i].dst, m[i].src, m[i].ref);
      m[i].done = true;
      left--;
      progress = true;
    }
    if (progress || !left) continue;
    /* Stuck: every pending dst is still to be read.  Walk "dst is read by" edges n times from
     * any pending move to land on a cycle, park that move's source in tmp; the cycle then
     * unwinds completely before anything needs tmp again. */
    uint32_t i = 0;
    while (m[i].done) i++;
    for (uint32_t step = 0; step < n; step++) {
      for (uint32_t j = 0; j < n; j++) {
        if (j != i && !m[j].done && loc_eq(m[j].src, m[i].dst)) {
          i = j;
          break;
        }
      }
    }
    fj_loc s = m[i].src;
    fn(ud, tmp, s, m[i].ref);
    for (uint32_t j = 0; j < n; j++)
      if (!m[j].done && loc_eq(m[j].src, s)) m[j].src = tmp;
  }
  free(m);
}

void fj_ra_phi_moves(const fj_ra *ra, fj_ir *ir, fj_loc tmp, fj_ra_move_fn fn, void *ud) {
  uint32_t nphi = 0;
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++)
    if (fj_ir_at(ir, r)->op == FJ_IR_PHI) nphi++;
  if (!nphi) return;
  pmove *m = calloc(2 * nphi, sizeof *m);
  if (!m) fj_ir_abort(ir, FJ_ABORT_NOMEM, "phi moves: out of memory");
  uint32_t n = 0;
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) {
    const fj_ir_ins *in = fj_ir_at(ir, r);
    if (in->op != FJ_IR_PHI) continue;
    fj_loc d = fj_ra_loc_at(ra, in->a, r);
    if (d.kind == FJ_LOC_NONE) {
      free(m);
      fj_ir_abort(ir, FJ_ABORT_BACKEND, "PHI %04u: left operand has no location",
                  r - FJ_REF_BIAS);
    }
    if (!ra->words) {
      fj_loc s = fj_ra_loc_at(ra, in->b, r);
      if (loc_eq(d, s)) continue;
      m[n++] = (pmove){d, s, in->b, false};
      continue;
    }
    /* Words: as many as the destination has; a one-word source's high word is 0. */
    unsigned nw = fj_ra_words(ra, in->a) == 2 && ra->hi_end[in->a - FJ_REF_BIAS] >= r - FJ_REF_BIAS
                      ? 2 : 1;
    for (unsigned w = 1; w <= nw; w++) {
      fj_loc dw = word_loc(ra, in->a, r, w), sw = word_loc(ra, in->b, r, w);
      if (loc_eq(dw, sw)) continue;
      m[n++] = (pmove){dw, sw, in->b, false};
    }
  }
  sequentialize(m, n, tmp, fn, ud);
}

void fj_ra_loop_moves(const fj_ra *ra, fj_ir *ir, fj_loc tmp, fj_ra_move_fn fn, void *ud) {
  if (!ra->loc_body || ir->loop == FJ_REF_NONE) return;
  uint32_t lp = ra->loop_at;
  pmove *m = calloc(2 * (size_t)lp + 1, sizeof *m);
  if (!m) fj_ir_abort(ir, FJ_ABORT_NOMEM, "loop moves: out of memory");
  uint32_t n = 0;
  for (uint32_t j = 0; j < lp; j++) {
    if (ra->loc_body[j].kind == FJ_LOC_NONE) continue;
    fj_ref r = (fj_ref)(j + FJ_REF_BIAS), pre = ir->loop - 1, body = ir->loop + 1;
    unsigned nw = !ra->words ? 0 : ra->words[j] == 2 && ra->hi_end[j] > lp ? 2 : 1;
    for (unsigned w = nw ? 1 : 0; w <= nw; w++) {
      fj_loc dw = nw ? word_loc(ra, r, body, w) : ra->loc_body[j];
      fj_loc sw = nw ? word_loc(ra, r, pre, w) : ra->loc[j];
      if (!loc_eq(dw, sw)) m[n++] = (pmove){dw, sw, r, false};
    }
  }
  sequentialize(m, n, tmp, fn, ud);
}

char *fj_ra_dump(const fj_ra *ra, const fj_ir *ir, const char *const *reg_names) {
  size_t cap = 64 + (size_t)ra->nins * 80, len = 0;
  char *s = malloc(cap);
  if (!s) return NULL;
  len += (size_t)snprintf(s + len, cap - len, "regalloc: %u slots, %u spilled\n", ra->nslots,
                          ra->nspilled);
  for (uint32_t i = 0; i < ra->nins && len < cap; i++) {
    fj_loc l = ra->loc[i];
    if (l.kind == FJ_LOC_NONE) continue;
    if (l.kind == FJ_LOC_REG && ra->words && ra->words[i] == 2)
      len += (size_t)snprintf(s + len, cap - len, "%04u %s:%s live to %04u\n", i,
                              reg_names ? reg_names[l.reg] : "r?",
                              reg_names ? reg_names[l.reg_hi] : "r?", ra->end[i]);
    else if (l.kind == FJ_LOC_REG)
      len += (size_t)snprintf(s + len, cap - len, "%04u %-4s live to %04u\n", i,
                              reg_names ? reg_names[l.reg] : "r?", ra->end[i]);
    else
      len += (size_t)snprintf(s + len, cap - len, "%04u [s%u] live to %04u\n", i, l.slot,
                              ra->end[i]);
    if (len >= cap || !ra->loc_body || ra->loc_body[i].kind == FJ_LOC_NONE) continue;
    fj_loc lb = ra->loc_body[i];  /* split at the loop: the body's location */
    bool two = ra->words && ra->words[i] == 2 && ra->hi_end[i] > ra->loop_at;
    if (lb.kind == FJ_LOC_REG)
      len += (size_t)snprintf(s + len, cap - len, "     in the loop: %s%s%s\n",
                              reg_names ? reg_names[lb.reg] : "r?", two ? ":" : "",
                              two ? (reg_names ? reg_names[lb.reg_hi] : "r?") : "");
    else
      len += (size_t)snprintf(s + len, cap - len, "     in the loop: [s%u]\n", lb.slot);
  }
  (void)ir;
  return s;
}
