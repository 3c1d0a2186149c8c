/* farjit codegen — Thumb-2 backend: operands and lowering of IR instructions (register model
 * and frame in thumb.h; contract in codegen/target.h and codegen/PORTING.md).
 *
 * Each instruction reads its operands where they live (registers, slot -> scratch A/B,
 * constant -> immediate when an encoding takes it), computes into its own registers or D and
 * stores D back when the value lives in a slot.  64-bit operations work on halves with carries (adds/adc,
 * subs/sbc), shifts combine both halves, multiplication uses umull + mla, 64-bit division calls
 * the runtime's leaf routines.  I32 values take one register and one instruction.
 */
#include "codegen/thumb/thumb.h"

#include <string.h>

#include "farjit/jit.h"

/* ---- buffer ------------------------------------------------------------------------------- */

void thm_ensure(fj_thm *x, uint32_t n) {
  fj_thm_buf *b = &x->b;
  if (b->cap - b->pos >= n || b->overflow) return;
  x->mc->len = b->pos;
  if (!fj_mcode_reserve(x->mc, n < 4096 ? 4096 : n)) {
    b->overflow = true;
    fj_ir_abort(x->ir, FJ_ABORT_CODE_LIMIT, "thumb: machine code too large (%u bytes)", b->pos);
  }
  b->p = x->mc->p;
  b->cap = x->mc->cap;
}

void thm_bind(fj_thm *x, uint32_t label) {
  x->fwd.pos = x->st_pos = UINT32_MAX;  /* another path arrives here */
  x->mc->len = x->b.pos;
  fj_label_bind(x->mc, label);
}

void thm_check(fj_thm *x) {
  if (x->b.bad)
    fj_ir_abort(x->ir, FJ_ABORT_BACKEND, "thumb: ir %04u (%s): operand not encodable",
                x->cur - FJ_REF_BIAS, fj_ir_op_name(fj_ir_at(x->ir, x->cur)->op));
  if (x->b.overflow) fj_ir_abort(x->ir, FJ_ABORT_CODE_LIMIT, "thumb: machine code too large");
}

void thm_jump(fj_thm *x, uint32_t label) {
  fj_fixup_label(x->mc, x->b.pos, FJ_RELOC_THM_JUMP24, label);
  fj_thm_b_w(&x->b, 0);
}

void thm_jcc(fj_thm *x, enum fj_thm_cond c, uint32_t label) {
  x->jcc.pos = x->b.pos, x->jcc.fix = x->mc->nfix, x->jcc.label = label, x->jcc.cond = c;
  fj_fixup_label(x->mc, x->b.pos, THM_FIX_BCOND, label);
  fj_thm_bcond_w(&x->b, c, 0);
}

uint32_t thm_exit_of(fj_thm *x, uint32_t snap) {
  uint32_t e = snap < x->ir->nsnaps ? x->cg->snap_exit[snap] : FJ_EXIT_NONE;
  if (e == FJ_EXIT_NONE) fj_ir_abort(x->ir, FJ_ABORT_BACKEND, "thumb: snapshot %u has no exit", snap);
  return e;
}
uint32_t thm_exit_label(fj_thm *x, uint32_t snap) { return x->l_exit0 + thm_exit_of(x, snap); }

/* A 16-bit forward b<c> whose target is patched once known (short local skips). */
static uint32_t skip_begin(fj_thm *x, enum fj_thm_cond c) {
  uint32_t at = x->b.pos;
  fj_thm_bcond16(&x->b, c, 0);
  return at;
}
static void skip_end(fj_thm *x, uint32_t at) {
  if (x->b.pos > x->skip_to) x->skip_to = x->b.pos;
  int32_t off = (int32_t)x->b.pos - (int32_t)(at + 4);
  if (off > 254) { x->b.bad = true; return; }
  if (!x->b.overflow) x->b.p[at] = (uint8_t)(off >> 1);
}

/* ---- operands ----------------------------------------------------------------------------- */

int32_t thm_slot_off(unsigned slot) { return (int32_t)(THM_FR_SPILL + 8 * slot); }
int32_t thm_slot_at(const fj_thm *x, unsigned slot) { return thm_slot_off(slot) + x->sp_bias; }

/* Registers a location takes (both words of a two-word value). */
static uint32_t loc_regs(const fj_ra *ra, fj_ref r, fj_loc l) {
  if (l.kind != FJ_LOC_REG) return 0;
  return 1u << l.reg | (fj_ra_words(ra, r) == 2 ? 1u << l.reg_hi : 0);
}

/* x->live: for every instruction, the allocatable registers some value's location names while
 * it runs: every register of every value whose range [definition, last use] contains it, both
 * its pre-roll and its loop-body location, its high register for the whole range.  A superset
 * of what is live, so a register outside it is free for temporaries. */
static void live_masks(fj_thm *x) {
  const fj_ra *ra = &x->cg->ra;
  uint32_t n = ra->nins;
  uint32_t *live = fj_ir_scratch(x->ir, (size_t)(n + 1) * sizeof *live);
  int32_t *cnt = fj_ir_scratch(x->ir, (size_t)(n + 1) * 16 * sizeof *cnt);
  for (uint32_t j = 0; j < n; j++) {
    fj_ref r = (fj_ref)(j + FJ_REF_BIAS);
    uint32_t m = loc_regs(ra, r, ra->loc[j]);
    if (ra->loc_body) m |= loc_regs(ra, r, ra->loc_body[j]);
    if (ra->words && ra->words[j] == 1) {  /* a trimmed high word may still name a register */
      if (ra->loc[j].kind == FJ_LOC_REG) m |= 1u << ra->loc[j].reg_hi;
      if (ra->loc_body && ra->loc_body[j].kind == FJ_LOC_REG) m |= 1u << ra->loc_body[j].reg_hi;
    }
    m &= THM_ALLOC_MASK;
    uint32_t e = ra->end[j] < n ? ra->end[j] : n - 1;
    for (unsigned k = 0; k < 16; k++) {
      if (!(m >> k & 1)) continue;
      cnt[(size_t)j * 16 + k]++;
      cnt[(size_t)(e + 1) * 16 + k]--;
    }
  }
  int32_t run[16] = {0};
  for (uint32_t i = 0; i < n; i++) {
    uint32_t m = 0;
    for (unsigned k = 0; k < 16; k++) {
      run[k] += cnt[(size_t)i * 16 + k];
      if (run[k] > 0) m |= 1u << k;
    }
    live[i] = m;
  }
  x->live = live;
}

static bool loc_same(fj_loc a, fj_loc b) {
  return a.kind == b.kind && (a.kind != FJ_LOC_REG || (a.reg == b.reg && a.reg_hi == b.reg_hi)) &&
         (a.kind != FJ_LOC_SLOT || a.slot == b.slot);
}

/* Is value v in the same place at instruction `at` as at `from` and still live there? */
static bool kept_until(const fj_thm *x, fj_ref v, fj_ref from, fj_ref at) {
  const fj_ra *ra = &x->cg->ra;
  if (fj_ir_is_k(v)) return true;
  if (v < FJ_REF_BIAS || v >= x->ir->top || ra->end[v - FJ_REF_BIAS] < at - FJ_REF_BIAS) return false;
  fj_loc l = fj_ra_loc_at(ra, v, at);
  return l.kind != FJ_LOC_NONE && loc_same(l, fj_ra_loc_at(ra, v, from));
}

/* x->afold: an ADD whose only use (operands and snapshots: cg->uses) is the address of a LOAD
 * or STORE, of a value and a constant (any width) or of two values (loads/stores of up to 4
 * bytes) that are still where they were when the access runs: the access adds them itself. */
static void addr_folds(fj_thm *x) {
  const fj_ra *ra = &x->cg->ra;
  x->afold = fj_ir_scratch(x->ir, ra->nins + 1);
  if (!x->cg->uses || x->wide) return;
  for (fj_ref r = FJ_REF_BIAS; r < x->ir->top; r++) {
    const fj_ir_ins *in = fj_ir_at(x->ir, r);
    if (in->op != FJ_IR_LOAD && in->op != FJ_IR_STORE) continue;
    fj_ref ad = in->a;
    if (fj_ir_is_k(ad) || ad < FJ_REF_BIAS || ad >= r || (in->op == FJ_IR_STORE && in->b == ad))
      continue;
    const fj_ir_ins *ai = fj_ir_at(x->ir, ad);
    if (ai->op != FJ_IR_ADD || x->cg->uses[ad - FJ_REF_BIAS] != 1 ||
        ra->end[ad - FJ_REF_BIAS] != r - FJ_REF_BIAS)
      continue;
    fj_ref p = ai->a, q = ai->b;
    if (fj_ir_is_k(p)) { fj_ref t = p; p = q; q = t; }
    if (fj_ir_is_k(p) || !kept_until(x, p, ad, r)) continue;
    if (!fj_ir_is_k(q) && (fj_mem_width(in->aux) >= 8 || !kept_until(x, q, ad, r))) continue;
    x->afold[ad - FJ_REF_BIAS] = 1;
  }
}

/* The address of a LOAD/STORE as base register + offset, or base + index register (*idx; 0xff:
 * none), with an ADD x->afold left to it; the base in A0, the index in A1 when not in registers. */
static unsigned addr_base(fj_thm *x, fj_ref ad, int32_t *off, unsigned *idx) {
  *idx = 0xff;
  if (fj_ir_is_k(ad) || !x->afold[ad - FJ_REF_BIAS]) {
    thm_opd a = thm_fetch(x, ad, THM_A0, THM_A1, false);
    return thm_reg(x, a.lo, THM_A0);
  }
  const fj_ir_ins *ai = fj_ir_at(x->ir, ad);
  fj_ref p = ai->a, q = ai->b;
  if (fj_ir_is_k(p)) { fj_ref t = p; p = q; q = t; }
  thm_opd a = thm_fetch(x, p, THM_A0, THM_A1, false);
  unsigned base = thm_reg(x, a.lo, THM_A0);
  if (fj_ir_is_k(q)) {
    *off += (int32_t)(uint32_t)fj_ir_kval(x->ir, q);  /* addresses wrap at 32 bits */
  } else {
    thm_opd o = thm_fetch(x, q, THM_A1, THM_A1, false);
    *idx = thm_reg(x, o.lo, THM_A1);
  }
  return base;
}

/* Registers of the operands and result of the instruction being lowered (PAIRs looked through). */
static uint32_t own_regs(const fj_thm *x) {
  const fj_ra *ra = &x->cg->ra;
  const fj_ir_ins *in = fj_ir_at(x->ir, x->cur);
  fj_ref ops[5] = {x->cur, FJ_REF_NONE, FJ_REF_NONE, FJ_REF_NONE, FJ_REF_NONE};
  unsigned n = 1;
  if (fj_ir_op_table[in->op].mode_a == FJ_IRM_R) ops[n++] = in->a;
  if (fj_ir_op_table[in->op].mode_b == FJ_IRM_R) {
    if (in->b >= FJ_REF_BIAS && in->b < x->ir->top && fj_ir_at(x->ir, in->b)->op == FJ_IR_PAIR) {
      ops[n++] = fj_ir_at(x->ir, in->b)->a;
      ops[n++] = fj_ir_at(x->ir, in->b)->b;
    } else {
      ops[n++] = in->b;
    }
  }
  uint32_t m = 0;
  for (unsigned k = 0; k < n; k++) {
    fj_ref r = ops[k];
    if (r < FJ_REF_BIAS || r >= x->ir->top) continue;
    m |= loc_regs(ra, r, fj_ra_loc_at(ra, r, x->cur));
  }
  return m;
}

unsigned thm_tmp(fj_thm *x, uint32_t avoid) {
  avoid |= x->claimed | own_regs(x);
  static const uint8_t scratch[] = {THM_A0, THM_A1, THM_B0, THM_B1};
  for (unsigned k = 0; k < sizeof scratch; k++) {
    if (avoid >> scratch[k] & 1) continue;
    x->claimed |= 1u << scratch[k];
    return scratch[k];
  }
  /* a register no value is live in here; else save one of r4-r11 around the instruction */
  static const uint8_t order[] = {12, 14, 4, 5, 6, 7, 8, 9, 10, 11};
  uint32_t live = x->live ? x->live[x->cur - FJ_REF_BIAS] : THM_ALLOC_MASK;
  for (unsigned k = 0; k < sizeof order; k++) {
    if ((avoid | live) >> order[k] & 1) continue;
    x->claimed |= 1u << order[k];
    return order[k];
  }
  for (unsigned r = 4; r <= 11 && x->nborrow < sizeof x->borrow; r++) {
    if (avoid >> r & 1) continue;
    fj_thm_push(&x->b, 1u << r);
    x->claimed |= 1u << r;
    x->borrow[x->nborrow++] = (uint8_t)r;
    x->sp_bias += 4;
    return r;
  }
  fj_ir_abort(x->ir, FJ_ABORT_BACKEND, "thumb: ir %04u: no temporary register",
              x->cur - FJ_REF_BIAS);
}

void thm_tmp_release(fj_thm *x) {
  while (x->nborrow) {
    fj_thm_pop(&x->b, 1u << x->borrow[--x->nborrow]);
    x->sp_bias -= 4;
  }
  x->claimed = 0;
}

static bool is_i32(const fj_thm *x, fj_ref ref) {
  return !fj_ir_is_k(ref) && fj_ir_at(x->ir, ref)->type == FJ_IRT_I32;
}

bool thm_hi_zero(const fj_thm *x, fj_ref ref) {
  if (fj_ir_is_k(ref)) return fj_ir_kval(x->ir, ref) >> 32 == 0;
  return !x->wide && is_i32(x, ref);
}

void thm_load_st(fj_thm *x, unsigned r) { fj_thm_ldr(&x->b, r, FJ_THM_SP, THM_FR_ST); }

void thm_mem(fj_thm *x, enum fj_thm_ldst op, unsigned rt, unsigned base, int32_t off, unsigned tmp) {
  if (!fj_thm_ldst_off_fits(off)) {
    fj_thm_mov_imm(&x->b, tmp, (uint32_t)off);
    fj_thm_add(&x->b, tmp, tmp, base);
    base = tmp;
    off = 0;
  }
  fj_thm_ldst(&x->b, op, rt, base, off);
}

/* Does ref's high register still hold its high word at the instruction being lowered (ra.h:
 * a two-word value's high register is free after the last instruction that reads it)?  Exit
 * stubs read snapshots, which the allocator counts as reads at every guard. */
bool thm_hi_live(const fj_thm *x, fj_ref ref) {
  const fj_ra *ra = &x->cg->ra;
  if (fj_ra_words(ra, ref) != 2) return false;
  return x->in_stub || ra->hi_end[ref - FJ_REF_BIAS] >= x->cur - FJ_REF_BIAS;
}

void thm_hi_dead(fj_thm *x, fj_ref ref) {
  fj_ir_abort(x->ir, FJ_ABORT_BACKEND, "thumb: ir %04u: high word of %04u read but not kept",
              x->cur - FJ_REF_BIAS, ref - FJ_REF_BIAS);
}

thm_opd thm_fetch(fj_thm *x, fj_ref ref, unsigned slo, unsigned shi, bool need_hi) {
  thm_opd o;
  memset(&o, 0, sizeof o);
  if (fj_ir_is_k(ref)) {
    uint64_t k = fj_ir_kval(x->ir, ref);
    o.lo = (thm_half){true, 0, (uint32_t)k};
    o.hi = (thm_half){true, 0, (uint32_t)(k >> 32)};
    return o;
  }
  fj_loc l = fj_ra_loc_at(&x->cg->ra, ref, x->cur);
  bool hz = thm_hi_zero(x, ref);
  if (l.kind == FJ_LOC_REG) {
    o.lo = (thm_half){false, l.reg, 0};
    if (hz) o.hi = (thm_half){true, 0, 0};
    else if (thm_hi_live(x, ref)) o.hi = (thm_half){false, l.reg_hi, 0};
    else if (need_hi) thm_hi_dead(x, ref);
    else o.hi = (thm_half){false, 0xff, 0}; /* not available */
  } else if (l.kind == FJ_LOC_SLOT) {
    int32_t off = thm_slot_at(x, l.slot);
    /* the previous instruction stored it from these very registers, nothing emitted since */
    bool fwd = x->fwd.pos == x->b.pos && x->fwd.slot == l.slot && x->fwd.lo == slo &&
               (hz || !need_hi || (x->fwd.two && x->fwd.hi == shi));
    if (fwd) {
      o.lo = (thm_half){false, (uint8_t)slo, 0};
      o.hi = hz ? (thm_half){true, 0, 0}
           : need_hi ? (thm_half){false, (uint8_t)shi, 0} : (thm_half){false, 0xff, 0};
      return o;
    }
    if (!hz && need_hi) {
      fj_thm_ldrd(&x->b, slo, shi, FJ_THM_SP, off);
      o.hi = (thm_half){false, (uint8_t)shi, 0};
    } else {
      fj_thm_ldr(&x->b, slo, FJ_THM_SP, off);
      o.hi = hz ? (thm_half){true, 0, 0} : (thm_half){false, 0xff, 0}; /* 0xff: not loaded */
    }
    o.lo = (thm_half){false, (uint8_t)slo, 0};
  } else {
    fj_ir_abort(x->ir, FJ_ABORT_BACKEND, "thumb: ir %04u used but has no location",
                ref - FJ_REF_BIAS);
  }
  return o;
}

unsigned thm_reg(fj_thm *x, thm_half h, unsigned scratch) {
  if (!h.k) return h.r;
  fj_thm_mov_imm(&x->b, scratch, h.v);
  return scratch;
}

void thm_dst(fj_thm *x, fj_ref ref, unsigned *lo, unsigned *hi, unsigned slo, unsigned shi) {
  fj_loc l = fj_ra_loc_at(&x->cg->ra, ref, x->cur);
  if (l.kind == FJ_LOC_REG) {
    /* a one-word (I32) result's high half, which some sequences write, goes to scratch */
    *lo = l.reg;
    *hi = fj_ra_words(&x->cg->ra, ref) == 2 ? l.reg_hi : shi;
  } else {
    *lo = slo;
    *hi = shi;
  }
}

void thm_put(fj_thm *x, fj_ref ref, unsigned lo, unsigned hi) {
  /* a one-word value's slot holds its low word only: nothing reads the other (ra.h) */
  bool two = fj_ra_words(&x->cg->ra, ref) == 2;
  if (two && is_i32(x, ref) && x->wide) fj_thm_mov_imm(&x->b, hi, 0); /* wide: zero-extend */
  fj_loc l = fj_ra_loc_at(&x->cg->ra, ref, x->cur);
  if (l.kind != FJ_LOC_SLOT) return;
  if (!two) fj_thm_str(&x->b, lo, FJ_THM_SP, thm_slot_at(x, l.slot));
  else fj_thm_strd(&x->b, lo, hi, FJ_THM_SP, thm_slot_at(x, l.slot));
  x->fwd.pos = x->b.pos, x->fwd.slot = l.slot, x->fwd.lo = (uint8_t)lo, x->fwd.hi = (uint8_t)hi;
  x->fwd.two = two;
}

/* Is ref computed as 64 bits?  An I64 value whose high word nothing reads takes one register
 * (ra.h); for ops whose low word depends only on low words, and for loads, only that word is
 * computed. */
static bool wide_op(const fj_thm *x, fj_ref ref, const fj_ir_ins *in) {
  if (in->type != FJ_IRT_I64) return false;
  if (fj_ra_words(&x->cg->ra, ref) == 2) return true;
  bool load = in->op == FJ_IR_RIN || in->op == FJ_IR_SLD || in->op == FJ_IR_HLD ||
              in->op == FJ_IR_LOAD || in->op == FJ_IR_SLOAD;
  return !fj_ra_low_only(in) && !load;
}

/* ---- arithmetic --------------------------------------------------------------------------- */

/* Can and/orr/eor take v as an immediate (directly or as the complement with bic/orn)? */
static bool logic_imm_fits(unsigned op, uint32_t v) {
  if (v == 0 || v == 0xffffffffu || fj_thm_modimm(v) >= 0) return true;
  return op != FJ_IR_XOR && fj_thm_modimm(~v) >= 0;
}

/* In-place 64-bit multiply by a constant k (the result's low register is a's): with k' = k - 1,
 * a * k = a + a * k', so `mla dh, ah, k'l, ah` (+ `mla dh, al, k'h, dh`) then
 * `umlal dl, dh, al, k'l` adds al * k'l to dh:al.  Three instructions where the product into
 * a temporary takes four (mul, mla, umull, add); two when k'h is 0 (x * 3).  The constant
 * halves go to the scratch pair B, which no operand or result uses here. */
static bool mul_k_in_place(fj_thm *x, thm_opd a, thm_opd o, unsigned dl, unsigned dh,
                           unsigned al) {
  if (!o.lo.k || !o.hi.k || a.hi.k || dl != al || dl == dh) return false;
  unsigned ah = a.hi.r;
  if (dl == THM_B0 || dl == THM_B1 || dh == THM_B0 || dh == THM_B1 || ah == THM_B0 ||
      ah == THM_B1 || ah == 0xff || ah == al || dh == al)
    return false;
  uint64_t k1 = ((uint64_t)o.hi.v << 32 | o.lo.v) - 1;
  fj_thm_buf *b = &x->b;
  unsigned t = thm_reg(x, (thm_half){true, 0, (uint32_t)k1}, THM_B0);
  fj_thm_mla(b, dh, ah, t, ah);                       /* dh = ah * k'l + ah */
  if (k1 >> 32) {
    unsigned u = thm_reg(x, (thm_half){true, 0, (uint32_t)(k1 >> 32)}, THM_B1);
    fj_thm_mla(b, dh, al, u, dh);                     /* dh += al * k'h */
  }
  fj_thm_umlal(b, dl, dh, al, t);                     /* dh:dl = dh:al + al * k'l */
  return true;
}

/* Add/sub/logic: op on the low halves, then the high halves (with the carry for add/sub). */
static void asm_alu(fj_thm *x, fj_ref ref, const fj_ir_ins *in) {
  fj_thm_buf *b = &x->b;
  bool w = wide_op(x, ref, in);
  fj_ref ra = in->a, rb = in->b;
  /* Commutative ops: keep a constant (or a known-zero upper half) on the right. */
  if ((fj_ir_op_table[in->op].flags & FJ_IRF_COMM) &&
      (fj_ir_is_k(ra) || (w && thm_hi_zero(x, ra) && !thm_hi_zero(x, rb)))) {
    fj_ref t = ra; ra = rb; rb = t;
  }
  thm_opd a = thm_fetch(x, ra, THM_A0, THM_A1, w);
  thm_opd o = thm_fetch(x, rb, THM_B0, THM_B1, w);
  unsigned dl, dh;
  thm_dst(x, ref, &dl, &dh, THM_A0, THM_A1);  /* a slot result: "A = a; A op= b" */
  unsigned al = thm_reg(x, a.lo, THM_A0);
  if (in->op == FJ_IR_MUL) {
    if (w && mul_k_in_place(x, a, o, dl, dh, al)) {
      thm_put(x, ref, dl, dh);
      return;
    }
    unsigned bl = thm_reg(x, o.lo, THM_B0);
    if (!w) {
      fj_thm_mul(b, dl, al, bl);
    } else {
      /* lo:hi = al * bl; hi += al * bh + ah * bl.  The result may share an operand's registers
       * (two-address, a slot result in A, swapped operands): then the cross terms go first,
       * into a temporary no operand or result uses, and umull (which reads al and bl before it
       * writes dl and dh) comes last. */
      unsigned bh = o.hi.k && o.hi.v == 0 ? 0xff : thm_reg(x, o.hi, THM_B1);
      unsigned ah = a.hi.k && a.hi.v == 0 ? 0xff : thm_reg(x, a.hi, THM_A1);
      bool alias = dl == al || dl == ah || dh == al || dh == ah || dl == bl || dh == bl ||
                   dl == bh || dh == bh;
      if (alias && (ah != 0xff || bh != 0xff)) {
        uint32_t busy = 1u << al | 1u << bl | 1u << dl | 1u << dh;
        if (ah != 0xff) busy |= 1u << ah;
        if (bh != 0xff) busy |= 1u << bh;
        unsigned t = thm_tmp(x, busy);
        if (ah != 0xff) fj_thm_mul(b, t, ah, bl);
        if (bh != 0xff && ah != 0xff) fj_thm_mla(b, t, al, bh, t);
        else if (bh != 0xff) fj_thm_mul(b, t, al, bh);
        fj_thm_umull(b, dl, dh, al, bl);
        fj_thm_add(b, dh, dh, t);
        thm_put(x, ref, dl, dh);
        return;
      }
      fj_thm_umull(b, dl, dh, al, bl);  /* alias without cross terms: umull reads first */
      if (bh != 0xff) fj_thm_mla(b, dh, al, bh, dh);
      if (ah != 0xff) fj_thm_mla(b, dh, ah, bl, dh);
    }
    thm_put(x, ref, dl, dh);
    return;
  }
  bool carry = in->op == FJ_IR_ADD || in->op == FJ_IR_SUB;
  enum fj_ir_op op = (enum fj_ir_op)in->op;
  if (carry && w && o.lo.k && o.hi.k) {
    /* a + k = a - (-k): take the form whose low word is an immediate, or a short one
     * (budget: add -n; counters: add -1 becomes subs #1) */
    uint64_t k = (uint64_t)o.hi.v << 32 | o.lo.v, nk = 0 - k;
    uint32_t nlo = (uint32_t)nk;
    if ((fj_thm_modimm(o.lo.v) < 0 && fj_thm_modimm(nlo) >= 0) || (o.lo.v >= 256 && nlo < 256)) {
      op = op == FJ_IR_ADD ? FJ_IR_SUB : FJ_IR_ADD;
      o.lo.v = (uint32_t)nk, o.hi.v = (uint32_t)(nk >> 32);
    }
  }
  /* Immediates the flag-setting / logical forms cannot take go to registers first. */
  if (o.lo.k) {
    bool fits = carry ? (w ? fj_thm_modimm(o.lo.v) >= 0 : fj_thm_add_imm_fits(o.lo.v))
                      : logic_imm_fits(in->op, o.lo.v);
    if (!fits) o.lo = (thm_half){false, (uint8_t)thm_reg(x, o.lo, THM_B0), 0};
  }
  unsigned ah = 0;
  if (w) {
    if (carry || !(a.hi.k)) ah = thm_reg(x, a.hi, THM_A1);
    if (o.hi.k && carry && fj_thm_modimm(o.hi.v) < 0 && fj_thm_modimm(~o.hi.v) < 0)
      o.hi = (thm_half){false, (uint8_t)thm_reg(x, o.hi, THM_B1), 0};
    if (o.hi.k && !carry && !logic_imm_fits(in->op, o.hi.v))
      o.hi = (thm_half){false, (uint8_t)thm_reg(x, o.hi, THM_B1), 0};
  }
  bool saved = b->flags_free;
  if (w && carry) b->flags_free = false;
  switch (op) {
  case FJ_IR_ADD:
  case FJ_IR_SUB: {
    bool sub = op == FJ_IR_SUB;
    if (!w) {
      if (o.lo.k) { if (sub) fj_thm_sub_imm(b, dl, al, o.lo.v); else fj_thm_add_imm(b, dl, al, o.lo.v); }
      else if (sub) fj_thm_sub(b, dl, al, o.lo.r);
      else fj_thm_add(b, dl, al, o.lo.r);
      break;
    }
    if (o.lo.k) { if (sub) fj_thm_subs_imm(b, dl, al, o.lo.v); else fj_thm_adds_imm(b, dl, al, o.lo.v); }
    else if (sub) fj_thm_subs(b, dl, al, o.lo.r);
    else fj_thm_adds(b, dl, al, o.lo.r);
    if (o.hi.k) { if (sub) fj_thm_sbc_imm(b, dh, ah, o.hi.v); else fj_thm_adc_imm(b, dh, ah, o.hi.v); }
    else if (sub) fj_thm_sbc(b, dh, ah, o.hi.r);
    else fj_thm_adc(b, dh, ah, o.hi.r);
    break;
  }
  default: { /* AND, OR, XOR: halves are independent */
    for (int half = 0; half < (w ? 2 : 1); half++) {
      unsigned d = half ? dh : dl;
      thm_half s = half ? a.hi : a.lo, t = half ? o.hi : o.lo;
      unsigned sr = half ? ah : al;
      if (half && s.k) { /* a's upper half is a constant (0): fold */
        uint32_t av = s.v;
        if (t.k) {
          uint32_t v = in->op == FJ_IR_AND ? av & t.v : in->op == FJ_IR_OR ? av | t.v : av ^ t.v;
          fj_thm_mov_imm(b, d, v);
          continue;
        }
        if (av == 0) {
          if (in->op == FJ_IR_AND) fj_thm_mov_imm(b, d, 0);
          else fj_thm_mov(b, d, t.r);
          continue;
        }
        sr = thm_reg(x, s, THM_A1);
      }
      if (t.k) {
        if (t.v == 0 && in->op != FJ_IR_AND) { if (d != sr) fj_thm_mov(b, d, sr); continue; }
        if (t.v == 0) { fj_thm_mov_imm(b, d, 0); continue; }
        if (t.v == 0xffffffffu && in->op == FJ_IR_AND) { if (d != sr) fj_thm_mov(b, d, sr); continue; }
        if (in->op == FJ_IR_AND) fj_thm_and_imm(b, d, sr, t.v);
        else if (in->op == FJ_IR_OR) fj_thm_orr_imm(b, d, sr, t.v);
        else fj_thm_eor_imm(b, d, sr, t.v);
      } else {
        if (in->op == FJ_IR_AND) fj_thm_and(b, d, sr, t.r);
        else if (in->op == FJ_IR_OR) fj_thm_orr(b, d, sr, t.r);
        else fj_thm_eor(b, d, sr, t.r);
      }
    }
    break;
  }
  }
  b->flags_free = saved;
  thm_put(x, ref, dl, dh);
}

/* The next instruction after ref that is not a NOP (FJ_REF_NONE at the end). */
static fj_ref next_ins(const fj_thm *x, fj_ref ref) {
  for (fj_ref r = ref + 1; r < x->ir->top; r++)
    if (fj_ir_at(x->ir, r)->op != FJ_IR_NOP) return r;
  return FJ_REF_NONE;
}

/* `add = m + z` (I64) where m = x * y is the instruction right before it, of two values whose
 * upper halves are zero (a 32x32 -> 64-bit product), read by this add only, and add's result
 * shares z's two registers: one `umlal zl, zh, x, y` computes both (the multiply emits
 * nothing: x and y are still in their places, nothing runs in between). */
static bool umlal_pair(const fj_thm *x, fj_ref add, fj_ref *mul, fj_ref *z) {
  if (add == FJ_REF_NONE || x->wide || !x->cg->uses) return false;
  const fj_ra *ra = &x->cg->ra;
  const fj_ir_ins *in = fj_ir_at(x->ir, add);
  if (in->op != FJ_IR_ADD || in->type != FJ_IRT_I64 || fj_ra_words(ra, add) != 2) return false;
  for (int side = 0; side < 2; side++) {
    fj_ref m = side ? in->b : in->a, o = side ? in->a : in->b;
    if (fj_ir_is_k(m) || fj_ir_is_k(o) || m == o || m >= add) continue;
    const fj_ir_ins *mi = fj_ir_at(x->ir, m);
    if (mi->op != FJ_IR_MUL || mi->type != FJ_IRT_I64 || next_ins(x, m) != add ||
        x->cg->uses[m - FJ_REF_BIAS] != 1 || ra->end[m - FJ_REF_BIAS] != add - FJ_REF_BIAS ||
        !thm_hi_zero(x, mi->a) || !thm_hi_zero(x, mi->b))
      continue;
    fj_loc ld = fj_ra_loc_at(ra, add, add), lz = fj_ra_loc_at(ra, o, add);
    if (ld.kind != FJ_LOC_REG || lz.kind != FJ_LOC_REG || fj_ra_words(ra, o) != 2 ||
        ld.reg != lz.reg || ld.reg_hi != lz.reg_hi || ra->hi_end[o - FJ_REF_BIAS] < add - FJ_REF_BIAS)
      continue;
    *mul = m, *z = o;
    return true;
  }
  return false;
}

static void asm_umlal(fj_thm *x, fj_ref add, fj_ref mul) {
  const fj_ir_ins *mi = fj_ir_at(x->ir, mul);
  fj_loc ld = fj_ra_loc_at(&x->cg->ra, add, add);
  thm_opd a = thm_fetch(x, mi->a, THM_A0, THM_A1, false), o = thm_fetch(x, mi->b, THM_B0, THM_B1, false);
  fj_thm_umlal(&x->b, ld.reg, ld.reg_hi, thm_reg(x, a.lo, THM_A0), thm_reg(x, o.lo, THM_B0));
}

/* Shifts: counts are masked to the width (eBPF); 64-bit shifts combine both halves. */
static void asm_shift(fj_thm *x, fj_ref ref, const fj_ir_ins *in) {
  fj_thm_buf *b = &x->b;
  bool w = wide_op(x, ref, in);
  unsigned dl, dh;
  thm_dst(x, ref, &dl, &dh, THM_A0, THM_A1);  /* a slot result: "A = a; A op= b" */
  /* a from a slot straight into the result's low register (two-address; the count is read
   * after a's low word is loaded: not from dl, which is no operand's) */
  thm_opd a = thm_fetch(x, in->a, dl, THM_A1, w);
  unsigned al = thm_reg(x, a.lo, THM_A0);
  /* the count's mask is the type's width; an I64 SHL computing its low word only (wide_op)
   * gives 0 for counts 32-63 */
  bool t64 = in->type == FJ_IRT_I64;
  if (fj_ir_is_k(in->b)) {
    unsigned n = (unsigned)(fj_ir_kval(x->ir, in->b) & (t64 ? 63 : 31));
    if (!w) {
      if (n >= 32) fj_thm_mov_imm(b, dl, 0);
      else if (n == 0) { if (dl != al) fj_thm_mov(b, dl, al); }
      else if (in->op == FJ_IR_SHL) fj_thm_lsl_imm(b, dl, al, n);
      else if (in->op == FJ_IR_SHR) fj_thm_lsr_imm(b, dl, al, n);
      else fj_thm_asr_imm(b, dl, al, n);
      thm_put(x, ref, dl, dh);
      return;
    }
    unsigned ah = thm_reg(x, a.hi, THM_A1);
    bool need_dh = fj_ra_words(&x->cg->ra, ref) == 2; /* is the high word read? (ra.h) */
    if (n == 0) {
      fj_thm_mov(b, dl, al);
      if (need_dh) fj_thm_mov(b, dh, ah);
    } else if (in->op == FJ_IR_SHL) {
      if (n < 32) {
        fj_thm_lsl_imm(b, dh, ah, n);
        fj_thm_dp_shifted(b, FJ_THM_OP_ORR, false, dh, dh, al, FJ_THM_LSR, 32 - n);
        fj_thm_lsl_imm(b, dl, al, n);
      } else {
        fj_thm_lsl_imm(b, dh, al, n - 32); /* n == 32: a move */
        fj_thm_mov_imm(b, dl, 0);
      }
    } else {
      bool sar = in->op == FJ_IR_SAR;
      if (n < 32) {
        fj_thm_lsr_imm(b, dl, al, n);
        fj_thm_dp_shifted(b, FJ_THM_OP_ORR, false, dl, dl, ah, FJ_THM_LSL, 32 - n);
        if (need_dh) {
          if (sar) fj_thm_asr_imm(b, dh, ah, n); else fj_thm_lsr_imm(b, dh, ah, n);
        }
      } else {
        if (n == 32) fj_thm_mov(b, dl, ah);
        else if (sar) fj_thm_asr_imm(b, dl, ah, n - 32);
        else fj_thm_lsr_imm(b, dl, ah, n - 32);
        if (need_dh && sar) fj_thm_asr_imm(b, dh, ah, 31);
        else if (need_dh) fj_thm_mov_imm(b, dh, 0);
      }
    }
    thm_put(x, ref, dl, dh);
    return;
  }
  /* Register count: n = b & mask in r3, r2 free for the cross-half terms. */
  thm_opd c = thm_fetch(x, in->b, THM_B0, THM_B1, false);
  fj_thm_and_imm(b, THM_B1, c.lo.r, t64 ? 63 : 31);
  const unsigned n = THM_B1, t = THM_B0;
  if (!w) {
    if (in->op == FJ_IR_SHL) fj_thm_lsl(b, dl, al, n);
    else if (in->op == FJ_IR_SHR) fj_thm_lsr(b, dl, al, n);
    else fj_thm_asr(b, dl, al, n);
    thm_put(x, ref, dl, dh);
    return;
  }
  unsigned ah = thm_reg(x, a.hi, THM_A1);
  bool need_dh = fj_ra_words(&x->cg->ra, ref) == 2; /* is the high word read? (ra.h) */
  /* Thumb register shifts by >= 32 (bottom byte, so negative counts too) give 0 (lsl/lsr) or
   * the sign (asr): each cross-half term vanishes outside its range of n. */
  if (in->op == FJ_IR_SHL) {
    fj_thm_lsl(b, dh, ah, n);            /* n < 32 part */
    fj_thm_rsb_imm(b, t, n, 32);
    fj_thm_lsr(b, t, al, t);             /* al >> (32 - n): 0 when n == 0 or n > 32 */
    fj_thm_orr(b, dh, dh, t);
    fj_thm_sub_imm(b, t, n, 32);
    fj_thm_lsl(b, t, al, t);             /* al << (n - 32): 0 when n < 32 */
    fj_thm_orr(b, dh, dh, t);
    fj_thm_lsl(b, dl, al, n);
  } else {
    fj_thm_lsr(b, dl, al, n);
    fj_thm_rsb_imm(b, t, n, 32);
    fj_thm_lsl(b, t, ah, t);             /* ah << (32 - n) */
    fj_thm_orr(b, dl, dl, t);
    if (in->op == FJ_IR_SHR) {
      fj_thm_sub_imm(b, t, n, 32);
      fj_thm_lsr(b, t, ah, t);           /* ah >> (n - 32) */
      fj_thm_orr(b, dl, dl, t);
      if (need_dh) fj_thm_lsr(b, dh, ah, n);
    } else {
      fj_thm_subs_imm(b, t, n, 32);      /* n >= 32: dl = ah asr (n - 32) */
      fj_thm_it1(b, FJ_THM_PL);
      fj_thm_asr(b, dl, ah, t);
      if (need_dh) fj_thm_asr(b, dh, ah, n);
    }
  }
  thm_put(x, ref, dl, dh);
}

static void asm_unary(fj_thm *x, fj_ref ref, const fj_ir_ins *in) {
  fj_thm_buf *b = &x->b;
  bool w = wide_op(x, ref, in);
  unsigned dl, dh;
  thm_dst(x, ref, &dl, &dh, THM_A0, THM_A1);  /* a slot result: "A = a; A op= a" */
  bool need_hi = (in->op == FJ_IR_NEG && w) || (in->op == FJ_IR_BSWAP && in->aux == 64);
  /* a from a slot straight into the result's low register (the lowering is two-address) */
  thm_opd a = thm_fetch(x, in->a, dl, THM_A1, need_hi);
  unsigned al = thm_reg(x, a.lo, THM_A0);
  bool hi_done = false;  /* I64 results: was the high half written? */
  switch (in->op) {
  case FJ_IR_NEG: {
    if (!w) { fj_thm_rsb_imm(b, dl, al, 0); break; }
    bool zero_hi = a.hi.k && a.hi.v == 0;  /* an I32 operand: hi = -borrow */
    unsigned ah = zero_hi ? 0 : thm_reg(x, a.hi, THM_A1); /* before the flags are set */
    bool saved = b->flags_free;
    fj_thm_rsbs_imm(b, dl, al, 0);
    b->flags_free = false;
    /* hi = 0 - ah - borrow = ah - 2 * ah - !C; with ah = 0: dh - dh - !C */
    if (zero_hi) fj_thm_sbc(b, dh, dh, dh);
    else fj_thm_dp_shifted(b, FJ_THM_OP_SBC, false, dh, ah, ah, FJ_THM_LSL, 1);
    b->flags_free = saved;
    hi_done = true;
    break;
  }
  case FJ_IR_ZEXT:
    if (in->aux == 8) fj_thm_uxtb(b, dl, al);
    else if (in->aux == 16) fj_thm_uxth(b, dl, al);
    else if (dl != al) fj_thm_mov(b, dl, al);
    break;
  case FJ_IR_SEXT:
    if (in->aux == 8) fj_thm_sxtb(b, dl, al);
    else if (in->aux == 16) fj_thm_sxth(b, dl, al);
    else if (dl != al) fj_thm_mov(b, dl, al);
    if (w) { fj_thm_asr_imm(b, dh, dl, 31); hi_done = true; }
    break;
  case FJ_IR_BSWAP:
    if (in->aux == 16) {
      fj_thm_rev16(b, dl, al);
      fj_thm_uxth(b, dl, dl);
    } else if (in->aux == 32) {
      fj_thm_rev(b, dl, al);
    } else {
      unsigned ah = thm_reg(x, a.hi, THM_A1);
      bool need_dh = fj_ra_words(&x->cg->ra, ref) == 2;
      if (dl == al && need_dh) { /* in place (two-address): keep al until it is read; B is free */
        fj_thm_rev(b, THM_B0, ah);
        fj_thm_rev(b, dh, al);
        fj_thm_mov(b, dl, THM_B0);
      } else {
        fj_thm_rev(b, dl, ah);
        if (need_dh) fj_thm_rev(b, dh, al);
      }
      hi_done = true;
    }
    break;
  default:
    break;
  }
  if (w && !hi_done) fj_thm_mov_imm(b, dh, 0);
  thm_put(x, ref, dl, dh);
}

/* High half of a product.  I32: umull/smull.  I64: the top 64 bits of the 128-bit product
 * from umull + umlal + umaal (Cortex-M4 has UMAAL), corrected for signs for MULHS. */
static void asm_mulh(fj_thm *x, fj_ref ref, const fj_ir_ins *in) {
  fj_thm_buf *b = &x->b;
  bool w = wide_op(x, ref, in);
  thm_opd a = thm_fetch(x, in->a, THM_A0, THM_A1, w), o = thm_fetch(x, in->b, THM_B0, THM_B1, w);
  unsigned al = thm_reg(x, a.lo, THM_A0), bl = thm_reg(x, o.lo, THM_B0);
  unsigned dl, dh;
  if (!w) {
    /* umull reads before it writes: a slot result may take A0; the low product goes to A1,
     * which a one-word operand never uses */
    thm_dst(x, ref, &dl, &dh, THM_A0, THM_A1);
    if (in->op == FJ_IR_MULHU) fj_thm_umull(b, dh, dl, al, bl);
    else fj_thm_smull(b, dh, dl, al, bl);
    thm_put(x, ref, dl, dh);
    return;
  }
  unsigned ah = thm_reg(x, a.hi, THM_A1), bh = thm_reg(x, o.hi, THM_B1);
  /* dl, dh and t are written while operands are still read: all distinct from them (an own
   * result register is: MULH is no two-address op); the rest are temporaries (thm_tmp) */
  uint32_t busy = 1u << al | 1u << ah | 1u << bl | 1u << bh;
  fj_loc l = fj_ra_loc_at(&x->cg->ra, ref, x->cur);
  if (l.kind == FJ_LOC_REG) {
    dl = l.reg;
    dh = fj_ra_words(&x->cg->ra, ref) == 2 ? l.reg_hi : thm_tmp(x, busy | 1u << dl);
  } else {
    dl = thm_tmp(x, busy);
    dh = thm_tmp(x, busy | 1u << dl);
  }
  busy |= 1u << dl | 1u << dh;
  unsigned t = thm_tmp(x, busy);
  fj_thm_umull(b, dl, t, al, bl);        /* t = hi(al * bl) */
  fj_thm_mov_imm(b, dl, 0);
  fj_thm_umlal(b, t, dl, ah, bl);        /* dl:t = ah * bl + t */
  fj_thm_mov_imm(b, dh, 0);
  fj_thm_umlal(b, t, dh, al, bh);        /* dh:t = al * bh + t */
  fj_thm_umaal(b, dl, dh, ah, bh);       /* dh:dl = ah * bh + dl + dh */
  if (in->op == FJ_IR_MULHS) {
    bool saved = b->flags_free;
    fj_thm_cmp_imm(b, ah, 0);
    uint32_t s1 = skip_begin(x, FJ_THM_GE);
    b->flags_free = false;
    fj_thm_subs(b, dl, dl, bl);
    fj_thm_sbc(b, dh, dh, bh);
    b->flags_free = saved;
    skip_end(x, s1);
    fj_thm_cmp_imm(b, bh, 0);
    uint32_t s2 = skip_begin(x, FJ_THM_GE);
    b->flags_free = false;
    fj_thm_subs(b, dl, dl, al);
    fj_thm_sbc(b, dh, dh, ah);
    b->flags_free = saved;
    skip_end(x, s2);
  }
  thm_put(x, ref, dl, dh);  /* before thm_tmp_release pops anything */
}

/* Division.  I32: udiv/sdiv, with b == 0 handled explicitly (the M4 traps on it when
 * CCR.DIV_0_TRP is set); sdiv already gives INT_MIN for INT_MIN / -1 and mls then 0 for the
 * remainder.  I64: the runtime's leaf routines (a in r0:r1, b in r2:r3, result in r0:r1). */
static void asm_div(fj_thm *x, fj_ref ref, const fj_ir_ins *in) {
  fj_thm_buf *b = &x->b;
  bool w = wide_op(x, ref, in);
  bool mod = in->op == FJ_IR_UMOD || in->op == FJ_IR_SMOD;
  bool sgn = in->op == FJ_IR_SDIV || in->op == FJ_IR_SMOD;
  unsigned dl, dh;
  if (w) {
    thm_dst(x, ref, &dl, &dh, THM_A0, THM_A1);  /* where the routine leaves it */
    /* operands into r0:r1 / r2:r3 exactly (b first: a's scratch may hold nothing of b) */
    thm_opd o = thm_fetch(x, in->b, THM_B0, THM_B1, true);
    unsigned bl = thm_reg(x, o.lo, THM_B0);
    if (bl != THM_B0) fj_thm_mov(b, THM_B0, bl);
    unsigned bh = thm_reg(x, o.hi, THM_B1);
    if (bh != THM_B1) fj_thm_mov(b, THM_B1, bh);
    thm_opd a = thm_fetch(x, in->a, THM_A0, THM_A1, true);
    unsigned al = thm_reg(x, a.lo, THM_A0);
    if (al != THM_A0) fj_thm_mov(b, THM_A0, al);
    unsigned ah = thm_reg(x, a.hi, THM_A1);
    if (ah != THM_A1) fj_thm_mov(b, THM_A1, ah);
    enum fj_rt rt = in->op == FJ_IR_UDIV ? FJ_RT_UDIV64 : in->op == FJ_IR_UMOD ? FJ_RT_UMOD64
                  : in->op == FJ_IR_SDIV ? FJ_RT_SDIV64 : FJ_RT_SMOD64;
    fj_fixup_sym(x->mc, b->pos, FJ_RELOC_THM_CALL, FJ_SYM_RUNTIME, rt, 0);
    fj_thm_bl(b, 0);  /* clobbers r12 and lr too: the allocator keeps values out (thm_clobbers) */
    if (dl != THM_A0) fj_thm_mov(b, dl, THM_A0);
    if (dh != THM_A1) fj_thm_mov(b, dh, THM_A1);
    thm_put(x, ref, dl, dh);
    return;
  }
  /* udiv then mls reads al after dl is written: a slot result goes to A1 (one-word operands
   * use A0 and B0 only) */
  thm_dst(x, ref, &dl, &dh, THM_A1, THM_B1);
  thm_opd a = thm_fetch(x, in->a, THM_A0, THM_A1, false), o = thm_fetch(x, in->b, THM_B0, THM_B1, false);
  unsigned al = thm_reg(x, a.lo, THM_A0);
  bool kb = o.lo.k;
  unsigned bl = thm_reg(x, o.lo, THM_B0);
  if (kb && o.lo.v == 0) { /* eBPF: x / 0 = 0, x % 0 = x */
    if (mod) fj_thm_mov(b, dl, al); else fj_thm_mov_imm(b, dl, 0);
    thm_put(x, ref, dl, dh);
    return;
  }
  bool check = !kb;
  if (check) {
    fj_thm_cmp_imm(b, bl, 0);
    fj_thm_it(b, FJ_THM_EQ, mod ? 3 : 2, (const bool[]){false, false});
    if (mod) fj_thm_mov(b, dl, al); else fj_thm_mov_imm(b, dl, 0);
  }
  if (sgn) fj_thm_sdiv(b, dl, al, bl); else fj_thm_udiv(b, dl, al, bl);
  if (mod) fj_thm_mls(b, dl, dl, bl, al);
  thm_put(x, ref, dl, dh);
}

/* ---- state and memory --------------------------------------------------------------------- */

static void load_width(fj_thm *x, unsigned w, bool sx, unsigned dl, unsigned dh, unsigned base,
                       int32_t off, bool result64, bool aligned8) {
  fj_thm_buf *b = &x->b;
  enum fj_thm_ldst op = w == 1 ? (sx ? FJ_THM_LDRSB : FJ_THM_LDRB)
                      : w == 2 ? (sx ? FJ_THM_LDRSH : FJ_THM_LDRH) : FJ_THM_LDR;
  if (w == 8) {
    if (aligned8 && fj_thm_ldrd_off_fits(off) && base != dl) {
      fj_thm_ldrd(b, dl, dh, base, off);
      return;
    }
    /* eBPF memory may be unaligned: LDRD would fault on the M4, LDR does not */
    if (!fj_thm_ldst_off_fits(off) || !fj_thm_ldst_off_fits(off + 4)) {
      fj_thm_mov_imm(b, dh, (uint32_t)off);
      fj_thm_add(b, dh, dh, base);
      base = dh;
      off = 0;
    }
    if (base == dl) {
      fj_thm_ldr(b, dh, base, off + 4);
      fj_thm_ldr(b, dl, base, off);
    } else {
      fj_thm_ldr(b, dl, base, off);
      fj_thm_ldr(b, dh, base, off + 4);
    }
    return;
  }
  thm_mem(x, op, dl, base, off, dh);
  if (result64) {
    if (sx) fj_thm_asr_imm(b, dh, dl, 31);
    else fj_thm_mov_imm(b, dh, 0);
  }
}

static void asm_load(fj_thm *x, fj_ref ref, const fj_ir_ins *in) {
  unsigned dl, dh;
  thm_dst(x, ref, &dl, &dh, THM_B0, THM_B1);  /* the address is in A0 or a register */
  bool r64 = wide_op(x, ref, in);
  unsigned w, base;
  int32_t off = 0;
  bool sx = false, state = false;
  switch (in->op) {
  case FJ_IR_RIN:
    if (x->st_pos != x->b.pos) thm_load_st(x, THM_A0);  /* else the last state load's */
    base = THM_A0, off = (int32_t)FJ_JIT_OFF_R(in->lit), w = r64 ? 8 : 4, state = true;
    break;
  case FJ_IR_SLD:
    if (x->st_pos != x->b.pos) thm_load_st(x, THM_A0);
    base = THM_A0, off = in->lit, w = in->aux, state = true;
    break;
  case FJ_IR_HLD: {
    thm_opd a = thm_fetch(x, in->a, THM_A0, THM_A1, false);
    base = thm_reg(x, a.lo, THM_A0), off = in->lit, w = in->aux, state = true;
    break;
  }
  default: { /* LOAD, SLOAD: eBPF addresses are 32-bit on this target */
    off = in->op == FJ_IR_SLOAD ? in->lit : 0;
    unsigned idx;
    base = addr_base(x, in->a, &off, &idx);
    w = fj_mem_width(in->aux);
    sx = (in->aux & FJ_MEM_SIGNED) && w < 8;
    if (idx != 0xff) { /* [base, idx] (addr_folds: at most 4 bytes) */
      enum fj_thm_ldst op = w == 1 ? (sx ? FJ_THM_LDRSB : FJ_THM_LDRB)
                          : w == 2 ? (sx ? FJ_THM_LDRSH : FJ_THM_LDRH) : FJ_THM_LDR;
      fj_thm_ldst_reg(&x->b, op, dl, base, idx);
      if (r64) {
        if (sx) fj_thm_asr_imm(&x->b, dh, dl, 31);
        else fj_thm_mov_imm(&x->b, dh, 0);
      }
      thm_put(x, ref, dl, dh);
      return;
    }
    break;
  }
  }
  if (w != 1 && w != 2 && w != 4 && w != 8)
    fj_ir_abort(x->ir, FJ_ABORT_BACKEND, "thumb: ir %04u: load width %u", ref - FJ_REF_BIAS, w);
  if (w == 8 && !r64) w = 4; /* an I32 view of a 64-bit field: the low word */
  load_width(x, w, sx, dl, dh, base, off, r64 && w < 8, state);
  thm_put(x, ref, dl, dh);
  /* RIN/SLD leave st in A0: the result is in B or its own registers, and state offsets need
   * no temporary */
  if (in->op == FJ_IR_RIN || in->op == FJ_IR_SLD) x->st_pos = x->b.pos;
}

static void asm_store(fj_thm *x, const fj_ir_ins *in) {
  fj_thm_buf *b = &x->b;
  unsigned w = fj_mem_width(in->aux);
  int32_t off = in->op == FJ_IR_SSTORE ? in->lit : 0;
  unsigned idx;
  unsigned base = addr_base(x, in->a, &off, &idx);
  thm_opd v = thm_fetch(x, in->b, THM_B0, THM_B1, w == 8);
  unsigned vl = thm_reg(x, v.lo, THM_B0);
  if (idx != 0xff) { /* [base, idx] (addr_folds: at most 4 bytes) */
    fj_thm_ldst_reg(b, w == 1 ? FJ_THM_STRB : w == 2 ? FJ_THM_STRH : FJ_THM_STR, vl, base, idx);
    return;
  }
  if (w == 8) {
    unsigned vh = thm_reg(x, v.hi, THM_B1);
    if (!fj_thm_ldst_off_fits(off) || !fj_thm_ldst_off_fits(off + 4)) {
      fj_thm_mov_imm(b, THM_A1, (uint32_t)off);  /* A1: the address takes A0 only */
      fj_thm_add(b, THM_A1, THM_A1, base);
      base = THM_A1;
      off = 0;
    }
    fj_thm_str(b, vl, base, off);
    fj_thm_str(b, vh, base, off + 4);
    return;
  }
  enum fj_thm_ldst op = w == 1 ? FJ_THM_STRB : w == 2 ? FJ_THM_STRH : FJ_THM_STR;
  thm_mem(x, op, vl, base, off, THM_A1);
}

/* Atomics.  The M4 is single-core: 32-bit ones use an ldrex/strex loop (atomic even against
 * interrupt handlers); there is no LDREXD, so 64-bit ones are plain load/op/store sequences,
 * atomic with respect to other eBPF code of the same VM (which runs on this one thread). */
static void alu32(fj_thm_buf *b, int32_t op, unsigned d, unsigned s, unsigned v) {
  switch (op & ~FJ_ATOMIC_FETCH) {
  case 0x00: fj_thm_add(b, d, s, v); break;
  case 0x40: fj_thm_orr(b, d, s, v); break;
  case 0x50: fj_thm_and(b, d, s, v); break;
  default: fj_thm_eor(b, d, s, v); break;
  }
}

static void asm_atomic(fj_thm *x, fj_ref ref, const fj_ir_ins *in) {
  fj_thm_buf *b = &x->b;
  unsigned w = fj_mem_width(in->aux);
  if (w != 4 && w != 8)
    fj_ir_abort(x->ir, FJ_ABORT_BACKEND, "thumb: ir %04u: atomic width %u", ref - FJ_REF_BIAS, w);
  int32_t op = in->lit;
  unsigned kind = (unsigned)op & ~FJ_ATOMIC_FETCH;
  if (in->op == FJ_IR_ATOMIC && kind != 0x00 && kind != 0x40 && kind != 0x50 && kind != 0xa0 &&
      kind != 0xe0)
    fj_ir_abort(x->ir, FJ_ABORT_UNSUPPORTED, "thumb: atomic op 0x%x", (unsigned)op);
  fj_loc lr = fj_ra_loc_at(&x->cg->ra, ref, x->cur);
  bool used = lr.kind != FJ_LOC_NONE;
  bool r64 = in->type == FJ_IRT_I64;
  thm_opd a = thm_fetch(x, in->a, THM_A0, THM_A1, false);
  unsigned base = thm_reg(x, a.lo, THM_A0);
  uint32_t busy = 1u << base;
  /* operands: CMPXCHG's new value in B (or its registers), the expected one compared through
   * A1; the others' value in B */
  const fj_ir_ins *pair = in->op == FJ_IR_CMPXCHG ? fj_ir_at(x->ir, in->b) : NULL;
  thm_opd v = thm_fetch(x, pair ? pair->a : in->b, THM_B0, THM_B1, w == 8);
  unsigned vl = thm_reg(x, v.lo, THM_B0), vh = w == 8 ? thm_reg(x, v.hi, THM_B1) : vl;
  busy |= 1u << vl | 1u << vh;
  unsigned el = 0;
  if (pair) {
    busy |= 1u << THM_A1;
    if (w == 4) {
      thm_opd e = thm_fetch(x, pair->b, THM_A1, THM_A1, false);
      el = thm_reg(x, e.lo, THM_A1);
      busy |= 1u << el;
    }
  }
  /* the old value: the result's registers (distinct from the operands': no two-address op),
   * else temporaries; its high word only where it is loaded or read */
  unsigned dl, dh = 0xff;
  bool need_dh = w == 8 || (used && fj_ra_words(&x->cg->ra, ref) == 2);
  if (lr.kind == FJ_LOC_REG) {
    dl = lr.reg;
    if (fj_ra_words(&x->cg->ra, ref) == 2) dh = lr.reg_hi;
    else if (need_dh) dh = thm_tmp(x, busy | 1u << dl);
  } else {
    dl = thm_tmp(x, busy);
    if (need_dh) dh = thm_tmp(x, busy | 1u << dl);
  }
  busy |= 1u << dl | (dh != 0xff ? 1u << dh : 0);
  if (pair) {
    unsigned nl = vl, nh = vh;
    if (w == 4) {
      unsigned t = thm_tmp(x, busy);
      uint32_t top = b->pos;
      fj_thm_ldrex(b, dl, base);
      fj_thm_cmp(b, dl, el);
      uint32_t s = skip_begin(x, FJ_THM_NE);
      fj_thm_strex(b, t, nl, base);
      fj_thm_cmp_imm(b, t, 0);
      fj_thm_bcond16(b, FJ_THM_NE, (int32_t)top - (int32_t)(b->pos + 4));
      skip_end(x, s);
      if (r64 && dh != 0xff) fj_thm_mov_imm(b, dh, 0);
    } else {
      fj_thm_ldr(b, dl, base, 0);
      fj_thm_ldr(b, dh, base, 4);
      thm_opd e = thm_fetch(x, pair->b, THM_A1, THM_A1, false);
      fj_thm_cmp(b, dl, thm_reg(x, e.lo, THM_A1));
      uint32_t s1 = skip_begin(x, FJ_THM_NE);
      if (thm_hi_zero(x, pair->b) && !fj_ir_is_k(pair->b)) {
        fj_thm_cmp_imm(b, dh, 0);
      } else if (fj_ir_is_k(pair->b)) {
        fj_thm_mov_imm(b, THM_A1, (uint32_t)(fj_ir_kval(x->ir, pair->b) >> 32));
        fj_thm_cmp(b, dh, THM_A1);
      } else {
        fj_loc le = fj_ra_loc_at(&x->cg->ra, pair->b, x->cur);
        if (le.kind == FJ_LOC_REG && !thm_hi_live(x, pair->b)) thm_hi_dead(x, pair->b);
        if (le.kind == FJ_LOC_REG) fj_thm_cmp(b, dh, le.reg_hi);
        else {
          fj_thm_ldr(b, THM_A1, FJ_THM_SP, thm_slot_at(x, le.slot) + 4);
          fj_thm_cmp(b, dh, THM_A1);
        }
      }
      uint32_t s2 = skip_begin(x, FJ_THM_NE);
      fj_thm_str(b, nl, base, 0);
      fj_thm_str(b, nh, base, 4);
      skip_end(x, s1);
      skip_end(x, s2);
    }
    if (used) thm_put(x, ref, dl, dh);
    return;
  }
  if (w == 4) {
    /* old in dl, new in nw, status in st */
    unsigned nw = kind == 0xe0 ? vl : thm_tmp(x, busy);
    unsigned st = thm_tmp(x, busy | 1u << nw);
    uint32_t top = b->pos;
    fj_thm_ldrex(b, dl, base);
    if (kind != 0xe0) alu32(b, op, nw, dl, vl);
    fj_thm_strex(b, st, nw, base);
    fj_thm_cmp_imm(b, st, 0);
    fj_thm_bcond16(b, FJ_THM_NE, (int32_t)top - (int32_t)(b->pos + 4));
    if (r64 && dh != 0xff) fj_thm_mov_imm(b, dh, 0);
  } else {
    unsigned t = thm_tmp(x, busy);
    fj_thm_ldr(b, dl, base, 0);
    fj_thm_ldr(b, dh, base, 4);
    if (kind == 0xe0) {
      fj_thm_str(b, vl, base, 0);
      fj_thm_str(b, vh, base, 4);
    } else if (kind == 0x00) {
      bool saved = b->flags_free;
      fj_thm_adds(b, t, dl, vl);
      b->flags_free = false;
      fj_thm_str(b, t, base, 0);
      fj_thm_adc(b, t, dh, vh);
      b->flags_free = saved;
      fj_thm_str(b, t, base, 4);
    } else {
      alu32(b, op, t, dl, vl);
      fj_thm_str(b, t, base, 0);
      alu32(b, op, t, dh, vh);
      fj_thm_str(b, t, base, 4);
    }
  }
  if (used && (op & FJ_ATOMIC_FETCH || kind == 0xe0)) thm_put(x, ref, dl, dh);
}

/* ---- guards ------------------------------------------------------------------------------- */

static enum fj_thm_cond guard_cond(unsigned op) {
  switch (op) {
  case FJ_IR_EQ: return FJ_THM_EQ;
  case FJ_IR_NE: return FJ_THM_NE;
  case FJ_IR_ULT: return FJ_THM_LO;
  case FJ_IR_UGE: return FJ_THM_HS;
  case FJ_IR_ULE: return FJ_THM_LS;
  case FJ_IR_UGT: return FJ_THM_HI;
  case FJ_IR_LT: return FJ_THM_LT;
  case FJ_IR_GE: return FJ_THM_GE;
  case FJ_IR_LE: return FJ_THM_LE;
  case FJ_IR_GT: return FJ_THM_GT;
  case FJ_IR_TEST: return FJ_THM_NE;
  default: return FJ_THM_EQ; /* NTEST */
  }
}
static unsigned unsigned_of(unsigned op) {
  switch (op) {
  case FJ_IR_LT: return FJ_IR_ULT;
  case FJ_IR_GE: return FJ_IR_UGE;
  case FJ_IR_LE: return FJ_IR_ULE;
  case FJ_IR_GT: return FJ_IR_UGT;
  default: return op;
  }
}

/* cmp/tst r, half (immediate when it fits). */
static void cmp_half(fj_thm *x, bool test, unsigned r, thm_half h) {
  if (test) {
    if (h.k) fj_thm_tst_imm(&x->b, r, h.v);
    else fj_thm_tst(&x->b, r, h.r);
  } else {
    if (h.k) fj_thm_cmp_imm(&x->b, r, h.v);
    else fj_thm_cmp(&x->b, r, h.r);
  }
}
static bool half_fits(thm_half h, bool test) {
  return !h.k || (test ? fj_thm_modimm(h.v) >= 0 : fj_thm_cmp_imm_fits(h.v));
}

/* Budget check `GE.I64 b, #n` followed by `b' = b - n` in b's own two registers (PHI sharing,
 * two-address): `subs lo, #n; sbcs hi, #0` sets N and V as `cmp lo, #n; sbcs _, hi, #0` would,
 * and an out-of-line restore adds n back before the exit stub reads b (x86 does the same).
 * With b in a slot the same pair computes b' into scratch, and nothing needs restoring. */
static bool asm_guard_sub(fj_thm *x, fj_ref ref, const fj_ir_ins *in, uint32_t target) {
  fj_thm_buf *b = &x->b;
  if (in->op != FJ_IR_GE || in->type != FJ_IRT_I64 || fj_ir_is_k(in->a) || !fj_ir_is_k(in->b) ||
      x->npre >= sizeof x->pre / sizeof x->pre[0])
    return false;
  uint64_t n = fj_ir_kval(x->ir, in->b);
  if (n == 0 || n > 0xffffffu || fj_thm_modimm((uint32_t)n) < 0) return false;
  fj_ref nx = next_ins(x, ref);
  if (nx == FJ_REF_NONE) return false;
  const fj_ir_ins *nin = fj_ir_at(x->ir, nx);
  if (nin->a != in->a || nin->type != FJ_IRT_I64 || !fj_ir_is_k(nin->b)) return false;
  uint64_t kb = fj_ir_kval(x->ir, nin->b);
  if (!((nin->op == FJ_IR_ADD && kb == 0 - n) || (nin->op == FJ_IR_SUB && kb == n))) return false;
  const fj_ra *ra = &x->cg->ra;
  fj_loc la = fj_ra_loc_at(ra, in->a, ref), ln = fj_ra_loc_at(ra, nx, nx);
  if (la.kind == FJ_LOC_SLOT && ln.kind != FJ_LOC_NONE && fj_ra_words(ra, in->a) == 2 &&
      fj_ra_words(ra, nx) == 2) {
    /* b in a slot: `subs`/`sbcs` on the loaded copy in A, branch straight to the exit (b's
     * slot is intact), then b' to its location (its slot may be b's: PHI slot sharing). */
    int32_t off = thm_slot_at(x, la.slot);
    fj_thm_ldrd(b, THM_A0, THM_A1, FJ_THM_SP, off);
    bool saved = b->flags_free;
    fj_thm_subs_imm(b, THM_A0, THM_A0, (uint32_t)n);
    b->flags_free = false;
    fj_thm_sbcs_imm(b, THM_A1, THM_A1, 0);
    b->flags_free = saved;
    thm_jcc(x, FJ_THM_LT, target);
    x->cur = nx;
    unsigned dl, dh;
    thm_dst(x, nx, &dl, &dh, THM_A0, THM_A1);
    if (ln.kind == FJ_LOC_REG) {
      fj_thm_mov(b, dl, THM_A0);
      fj_thm_mov(b, dh, THM_A1);
    } else {
      thm_put(x, nx, THM_A0, THM_A1);
    }
    x->cur = ref;
    x->skip = nx;
    return true;
  }
  if (la.kind != FJ_LOC_REG || ln.kind != FJ_LOC_REG || la.reg != ln.reg ||
      fj_ra_words(ra, in->a) != 2 || fj_ra_words(ra, nx) != 2 || la.reg_hi != ln.reg_hi ||
      !thm_hi_live(x, in->a))
    return false;
  bool saved = b->flags_free;
  fj_thm_subs_imm(b, la.reg, la.reg, (uint32_t)n);
  b->flags_free = false;
  fj_thm_sbcs_imm(b, la.reg_hi, la.reg_hi, 0);
  b->flags_free = saved;
  uint32_t l = fj_label_new(x->mc);
  if (x->mc->oom) fj_ir_abort(x->ir, FJ_ABORT_NOMEM, "thumb: out of memory");
  x->pre[x->npre].label = l;
  x->pre[x->npre].exit_label = target;
  x->pre[x->npre].lo = la.reg;
  x->pre[x->npre].hi = la.reg_hi;
  x->pre[x->npre++].n = (uint32_t)n;
  thm_jcc(x, FJ_THM_LT, l);
  x->skip = nx;
  return true;
}

/* The entry's budget charge `b' = b - n` followed by its check `GE.I64 b, #n`: `subs; sbcs`
 * into b' sets the flags the check's `cmp; sbcs` would, so b' is computed (and stored, when it
 * lives in a slot: str does not touch the flags) and the check is one `blt` (its exit reads
 * b or b', both in place). */
static bool asm_sub_guard(fj_thm *x, fj_ref ref, const fj_ir_ins *in) {
  fj_thm_buf *b = &x->b;
  if (in->type != FJ_IRT_I64 || fj_ir_is_k(in->a) || !fj_ir_is_k(in->b) ||
      fj_ra_words(&x->cg->ra, ref) != 2)
    return false;
  uint64_t kb = fj_ir_kval(x->ir, in->b), n = in->op == FJ_IR_ADD ? 0 - kb : kb;
  if (n == 0 || n > 0xffffffu || fj_thm_modimm((uint32_t)n) < 0) return false;
  fj_ref nx = next_ins(x, ref);
  if (nx == FJ_REF_NONE) return false;
  const fj_ir_ins *g = fj_ir_at(x->ir, nx);
  if (g->op != FJ_IR_GE || g->type != FJ_IRT_I64 || g->a != in->a || !fj_ir_is_k(g->b) ||
      fj_ir_kval(x->ir, g->b) != n)
    return false;
  uint32_t target = thm_exit_label(x, g->snap);
  thm_opd a = thm_fetch(x, in->a, THM_A0, THM_A1, true);
  unsigned dl, dh;
  thm_dst(x, ref, &dl, &dh, THM_A0, THM_A1);
  unsigned al = thm_reg(x, a.lo, THM_A0), ah = thm_reg(x, a.hi, THM_A1);
  bool saved = b->flags_free;
  fj_thm_subs_imm(b, dl, al, (uint32_t)n);
  b->flags_free = false;
  fj_thm_sbcs_imm(b, dh, ah, 0);
  thm_put(x, ref, dl, dh);
  b->flags_free = saved;
  thm_jcc(x, FJ_THM_LT, target);
  x->skip = nx;
  return true;
}

/* The restores of fused budget checks (asm_guard_sub), out of line after the body. */
static void thm_pre_stubs(fj_thm *x) {
  fj_thm_buf *b = &x->b;
  for (uint32_t k = 0; k < x->npre; k++) {
    thm_ensure(x, 32);
    thm_bind(x, x->pre[k].label);
    fj_thm_adds_imm(b, x->pre[k].lo, x->pre[k].lo, x->pre[k].n);
    bool saved = b->flags_free;
    b->flags_free = false;
    fj_thm_adc_imm(b, x->pre[k].hi, x->pre[k].hi, 0);
    b->flags_free = saved;
    thm_jump(x, x->pre[k].exit_label);
    thm_check(x);
  }
}

/* A loop body whose last instructions are a guard G and the budget's `b' = b - n` in b's own
 * registers (the charge of the next iteration, checked before LOOP): the subtraction goes in
 * front of G and G's exit restores b first (out of line, like asm_guard_sub's), so G is the
 * last instruction and the back edge turns its branch into the loop's (no b.w per
 * iteration).  G reads neither b nor the flags the subtraction sets. */
static void count_move(void *ud, fj_loc dst, fj_loc src, fj_ref ref) {
  (void)dst, (void)src, (void)ref;
  ++*(unsigned *)ud;
}
static void asm_tail_charge(fj_thm *x, fj_ref ref, const fj_ir_ins *g) {
  fj_thm_buf *b = &x->b;
  const fj_ra *ra = &x->cg->ra;
  if (x->ir->loop == FJ_REF_NONE || ref < x->ir->loop || x->npre >= sizeof x->pre / sizeof x->pre[0])
    return;
  fj_ref s = next_ins(x, ref);
  if (s == FJ_REF_NONE) return;
  const fj_ir_ins *in = fj_ir_at(x->ir, s);
  if ((in->op != FJ_IR_ADD && in->op != FJ_IR_SUB) || in->type != FJ_IRT_I64 ||
      fj_ir_is_k(in->a) || !fj_ir_is_k(in->b) || g->a == in->a || g->b == in->a)
    return;
  for (fj_ref r = next_ins(x, s); r != FJ_REF_NONE; r = next_ins(x, r))
    if (fj_ir_at(x->ir, r)->op != FJ_IR_PHI) return;  /* s must be the body's last */
  uint64_t kb = fj_ir_kval(x->ir, in->b), n = in->op == FJ_IR_ADD ? 0 - kb : kb;
  if (n == 0 || n > 0xffffffu || fj_thm_modimm((uint32_t)n) < 0) return;
  unsigned moves = 0;  /* back-edge copies would follow the guard: nothing to gain */
  fj_ra_phi_moves(ra, x->ir, (fj_loc){FJ_LOC_REG, THM_B0, 0, 0, 1}, count_move, &moves);
  if (moves) return;
  fj_loc la = fj_ra_loc_at(ra, in->a, s), ls = fj_ra_loc_at(ra, s, s);
  if (la.kind != FJ_LOC_REG || ls.kind != FJ_LOC_REG || la.reg != ls.reg || la.reg_hi != ls.reg_hi ||
      fj_ra_words(ra, in->a) != 2 || fj_ra_words(ra, s) != 2 || !thm_hi_live(x, in->a))
    return;
  uint32_t l = fj_label_new(x->mc);
  if (x->mc->oom) fj_ir_abort(x->ir, FJ_ABORT_NOMEM, "thumb: out of memory");
  fj_thm_subs_imm(b, la.reg, la.reg, (uint32_t)n);
  bool saved = b->flags_free;
  b->flags_free = false;
  fj_thm_sbc_imm(b, la.reg_hi, la.reg_hi, 0);
  b->flags_free = saved;
  x->pre[x->npre].label = l;
  x->pre[x->npre].exit_label = thm_exit_label(x, g->snap);
  x->pre[x->npre].lo = la.reg;
  x->pre[x->npre].hi = la.reg_hi;
  x->pre[x->npre++].n = (uint32_t)n;
  x->redirect = l;
  x->skip = s;
}

static void asm_guard(fj_thm *x, fj_ref ref, const fj_ir_ins *in) {
  fj_thm_buf *b = &x->b;
  unsigned op = in->op;
  fj_ref ra = in->a, rb = in->b;
  uint32_t target = x->redirect != FJ_LABEL_NONE ? x->redirect : thm_exit_label(x, in->snap);
  if (x->redirect == FJ_LABEL_NONE && asm_guard_sub(x, ref, in, target)) return;
  if (fj_ir_is_k(ra) && fj_ir_is_k(rb)) {
    if (!fj_ir_cond(op, in->type, fj_ir_kval(x->ir, ra), fj_ir_kval(x->ir, rb))) thm_jump(x, target);
    return;
  }
  if (fj_ir_is_k(ra)) {
    fj_ref t = ra; ra = rb; rb = t;
    op = fj_ir_cond_swap(op);
  }
  bool test = op == FJ_IR_TEST || op == FJ_IR_NTEST;
  bool w = in->type == FJ_IRT_I64;
  thm_opd a = thm_fetch(x, ra, THM_A0, THM_A1, w), o = thm_fetch(x, rb, THM_B0, THM_B1, w);
  if (w && a.hi.k && o.hi.k) {
    /* both upper halves known (zero-extended values, constants) */
    if (test) {
      if ((a.hi.v & o.hi.v) == 0) w = false;
    } else if (a.hi.v == o.hi.v) {
      w = false;
      op = unsigned_of(op); /* equal upper halves: the low halves decide, unsigned */
    }
  }
  if (w && !test && o.lo.k && o.hi.k && half_fits(o.hi, false) &&
      (((op == FJ_IR_ULE || op == FJ_IR_UGT) && o.lo.v == 0xffffffffu) ||
       ((op == FJ_IR_ULT || op == FJ_IR_UGE) && o.lo.v == 0))) {
    /* a <= H:ffffffff iff a.hi <= H (and so on): the high words decide (x <= 0xffffffff is
     * "the upper word is 0") */
    cmp_half(x, false, thm_reg(x, a.hi, THM_A1), o.hi);
    thm_jcc(x, fj_thm_cond_invert(guard_cond(op)), target);
    return;
  }
  unsigned al = thm_reg(x, a.lo, THM_A0);
  if (!half_fits(o.lo, test)) o.lo = (thm_half){false, (uint8_t)thm_reg(x, o.lo, THM_B0), 0};
  if (!w) {
    cmp_half(x, test, al, o.lo);
    thm_jcc(x, fj_thm_cond_invert(guard_cond(op)), target);
    return;
  }
  unsigned ah = thm_reg(x, a.hi, THM_A1);
  if (!half_fits(o.hi, test)) o.hi = (thm_half){false, (uint8_t)thm_reg(x, o.hi, THM_B1), 0};
  switch (op) {
  case FJ_IR_EQ: case FJ_IR_NE: case FJ_IR_TEST: case FJ_IR_NTEST:
    if (!test && o.lo.k && o.hi.k && o.lo.v == 0 && o.hi.v == 0) {
      fj_thm_orrs(b, THM_B0, al, ah); /* a == 0: Z of lo | hi (b is #0: B is free) */
      break;
    }
    if (!test && o.lo.k && o.hi.k && (o.lo.v == 0 || o.hi.v == 0)) {
      /* a == k with one half of k zero: Z of (a's other half ^ k's) | the zero half's word, two
       * instructions for cmp, it, cmp (collatz's x != 1).  B is free: k is in no register. */
      bool lo0 = o.lo.v == 0;
      uint32_t v = lo0 ? o.hi.v : o.lo.v;
      if (fj_thm_modimm(v) >= 0) {
        fj_thm_eor_imm(b, THM_B0, lo0 ? ah : al, v);
        fj_thm_orrs(b, THM_B0, THM_B0, lo0 ? al : ah);
        break;
      }
    }
    cmp_half(x, test, al, o.lo);
    fj_thm_it1(b, FJ_THM_EQ);
    cmp_half(x, test, ah, o.hi);
    break;
  case FJ_IR_ULT: case FJ_IR_UGE: case FJ_IR_ULE: case FJ_IR_UGT:
    cmp_half(x, false, ah, o.hi);
    fj_thm_it1(b, FJ_THM_EQ);
    cmp_half(x, false, al, o.lo);
    break;
  default: { /* signed: a - b with borrow gives N and V for LT/GE; GT/LE swap the operands */
    if (op == FJ_IR_GT || op == FJ_IR_LE) {
      unsigned bl = thm_reg(x, o.lo, THM_B0), bh = thm_reg(x, o.hi, THM_B1);
      fj_thm_cmp(b, bl, al);
      bool saved = b->flags_free;
      b->flags_free = false;
      fj_thm_sbcs(b, THM_B1, bh, ah);  /* B1: free, or bh itself (read first) */
      b->flags_free = saved;
      op = op == FJ_IR_GT ? FJ_IR_LT : FJ_IR_GE;
    } else {
      if (o.hi.k && fj_thm_modimm(o.hi.v) < 0)
        o.hi = (thm_half){false, (uint8_t)thm_reg(x, o.hi, THM_B1), 0};
      cmp_half(x, false, al, o.lo);
      bool saved = b->flags_free;
      b->flags_free = false;
      if (o.hi.k) fj_thm_sbcs_imm(b, THM_B1, ah, o.hi.v);  /* B1: free, or o.hi (read first) */
      else fj_thm_sbcs(b, THM_B1, ah, o.hi.r);
      b->flags_free = saved;
    }
    break;
  }
  }
  thm_jcc(x, fj_thm_cond_invert(guard_cond(op)), target);
}

/* ---- the driver --------------------------------------------------------------------------- */

static void asm_ins(fj_thm *x, fj_ref ref) {
  const fj_ir_ins *in = fj_ir_at(x->ir, ref);
  x->cur = ref;
  thm_ensure(x, 256);
  if (ref == x->skip) return;  /* computed by a fused budget check (asm_guard_sub) */
  switch (in->op) {
  case FJ_IR_NOP: case FJ_IR_PHI: case FJ_IR_PAIR: case FJ_IR_KINT:
    return;
  case FJ_IR_LOOP:
    thm_loop_entry(x);  /* split values to their body locations, then the loop label */
    return;
  case FJ_IR_ADD: case FJ_IR_SUB: case FJ_IR_MUL: case FJ_IR_AND: case FJ_IR_OR: case FJ_IR_XOR: {
    if (fj_ra_loc_at(&x->cg->ra, ref, x->cur).kind == FJ_LOC_NONE) return; /* unused */
    if (x->afold[ref - FJ_REF_BIAS]) return;  /* its LOAD/STORE adds it (addr_folds) */
    fj_ref m, z;
    if (in->op == FJ_IR_MUL && umlal_pair(x, next_ins(x, ref), &m, &z) && m == ref) return;
    if (in->op == FJ_IR_ADD && umlal_pair(x, ref, &m, &z)) asm_umlal(x, ref, m);
    else if ((in->op == FJ_IR_ADD || in->op == FJ_IR_SUB) && asm_sub_guard(x, ref, in)) break;
    else asm_alu(x, ref, in);
    break;
  }
  case FJ_IR_SHL: case FJ_IR_SHR: case FJ_IR_SAR:
    if (fj_ra_loc_at(&x->cg->ra, ref, x->cur).kind == FJ_LOC_NONE) return;
    asm_shift(x, ref, in);
    break;
  case FJ_IR_NEG: case FJ_IR_ZEXT: case FJ_IR_SEXT: case FJ_IR_BSWAP:
    if (fj_ra_loc_at(&x->cg->ra, ref, x->cur).kind == FJ_LOC_NONE) return;
    asm_unary(x, ref, in);
    break;
  case FJ_IR_MULHU: case FJ_IR_MULHS:
    if (fj_ra_loc_at(&x->cg->ra, ref, x->cur).kind == FJ_LOC_NONE) return;
    asm_mulh(x, ref, in);
    break;
  case FJ_IR_UDIV: case FJ_IR_UMOD: case FJ_IR_SDIV: case FJ_IR_SMOD:
    if (fj_ra_loc_at(&x->cg->ra, ref, x->cur).kind == FJ_LOC_NONE) return;
    asm_div(x, ref, in);
    break;
  case FJ_IR_RIN: case FJ_IR_SLD: case FJ_IR_HLD: case FJ_IR_LOAD: case FJ_IR_SLOAD:
    if (fj_ra_loc_at(&x->cg->ra, ref, x->cur).kind == FJ_LOC_NONE) return;
    asm_load(x, ref, in);
    break;
  case FJ_IR_STORE: case FJ_IR_SSTORE:
    asm_store(x, in);
    break;
  case FJ_IR_ATOMIC: case FJ_IR_CMPXCHG:
    asm_atomic(x, ref, in);
    break;
  case FJ_IR_CALL: case FJ_IR_CALLL:
    thm_call(x, ref);
    break;
  case FJ_IR_EXIT:
    thm_jump(x, thm_exit_label(x, in->snap));
    break;
  default:
    if (fj_ir_is_guard(in->op)) {
      if (x->nborrow) /* an exit stub expects the frame as the prologue left it */
        fj_ir_abort(x->ir, FJ_ABORT_BACKEND, "thumb: ir %04u: guard with registers pushed",
                    ref - FJ_REF_BIAS);
      asm_tail_charge(x, ref, in);
      asm_guard(x, ref, in);
      x->redirect = FJ_LABEL_NONE;
      break;
    }
    fj_ir_abort(x->ir, FJ_ABORT_UNSUPPORTED, "thumb: ir %04u: op %s", ref - FJ_REF_BIAS,
                fj_ir_op_name(in->op));
  }
  thm_tmp_release(x);
  thm_check(x);
}

void fj_thm_emit_trace(fj_cg *cg, bool wide) {
  fj_thm x;
  memset(&x, 0, sizeof x);
  x.cg = cg;
  x.ir = cg->ir;
  x.mc = &cg->mc;
  x.wide = wide;
  x.skip = FJ_REF_NONE;
  x.jcc.pos = x.fwd.pos = x.st_pos = UINT32_MAX;
  x.redirect = FJ_LABEL_NONE;
  fj_thm_buf_init(&x.b, x.mc->p, x.mc->cap);
  x.b.pos = x.mc->len;
  x.l_ret = fj_label_new(x.mc);
  x.l_loop = fj_label_new(x.mc);
  x.l_exit0 = x.mc->nlabels; /* labels are dense: exit e is l_exit0 + e */
  for (uint32_t e = 0; e < cg->nexits; e++) fj_label_new(x.mc);
  if (x.mc->oom) fj_ir_abort(x.ir, FJ_ABORT_NOMEM, "thumb: out of memory");
  x.cur = FJ_REF_BIAS;
  live_masks(&x);
  addr_folds(&x);
  thm_ensure(&x, 256);
  /* offset 0: the shared return every unpatched exit branches to (r1 = exit id) */
  thm_bind(&x, x.l_ret);
  fj_thm_mov(&x.b, 0, 1);
  fj_thm_bx(&x.b, FJ_THM_LR);
  thm_prologue(&x);
  fj_ref last = FJ_REF_NONE;
  for (fj_ref r = FJ_REF_BIAS; r < x.ir->top; r++) {
    uint8_t op = fj_ir_at(x.ir, r)->op;
    if (op != FJ_IR_NOP && op != FJ_IR_PHI) last = r;
    asm_ins(&x, r);
  }
  if (x.ir->loop != FJ_REF_NONE) {
    thm_back_edge(&x);
  } else if (cg->tail_snap != FJ_EXIT_NONE) {
    thm_ensure(&x, 16);
    thm_jump(&x, thm_exit_label(&x, cg->tail_snap));
  } else if (last == FJ_REF_NONE || fj_ir_at(x.ir, last)->op != FJ_IR_EXIT) {
    fj_ir_abort(x.ir, FJ_ABORT_BACKEND, "thumb: trace without a loop does not end in EXIT");
  }
  thm_pre_stubs(&x);
  thm_exit_stubs(&x);
  thm_check(&x);
  x.mc->len = x.b.pos;
}

static void thm_emit(fj_cg *cg) { fj_thm_emit_trace(cg, false); }
static void thm_emit_wide(fj_cg *cg) { fj_thm_emit_trace(cg, true); }

static const char *const thm_reg_names[16] = {
  "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "sp", "lr", "pc"};

/* Registers per value: an I64 value takes two (any two of r4-r11: low and high word), an I32
 * value one.  Without 32-bit knowledge (the measuring variant) every value takes two. */
static unsigned thm_words(const fj_ir *ir, fj_ref ref) {
  return fj_ir_at(ir, ref)->type == FJ_IRT_I64 ? 2 : 1;
}
static unsigned thm_words_wide(const fj_ir *ir, fj_ref ref) {
  (void)ir, (void)ref;
  return 2;
}

/* Registers the code of ref writes besides its result: a 64-bit division's BL clobbers r12 and
 * lr (the leaf routine and a linker veneer may use r12).  Helper calls need no entry: every
 * value live across a call is in a callee-saved register (ra.h). */
static uint32_t thm_clobbers(const fj_ir *ir, fj_ref ref) {
  const fj_ir_ins *in = fj_ir_at(ir, ref);
  switch (in->op) {
  case FJ_IR_UDIV: case FJ_IR_UMOD: case FJ_IR_SDIV: case FJ_IR_SMOD:
    return in->type == FJ_IRT_I64 ? THM_CALLER_MASK : 0;
  default:
    return 0;
  }
}

/* The allocator hands out single registers r4-r11 (callee-saved: r4-r7 first, they have 16-bit
 * encodings), then r12 and lr (call-clobbered: only values no helper call or 64-bit division
 * lies inside of), and splits pre-roll values at the loop (a location of their own in the body,
 * moved there at LOOP).  The lowering reads every half of a before writing the same half of
 * the result (or builds the result elsewhere), so a two-address result may take over its first
 * operand's registers. */
#define THM_REGS(words_fn)                                                        \
  {                                                                               \
    .nalloc = 10, .alloc = {4, 5, 6, 7, 8, 9, 10, 11, 12, 14},                    \
    .callee_saved = 0xff0u, .max_slots = THM_MAX_SLOTS, .pair64 = false,          \
    .words = words_fn, .split_loop = true, .two_address = true, .commute = true,  \
    .phi_slots = true, .clobbers = thm_clobbers,                                  \
  }
_Static_assert((THM_ALLOC_MASK & ~THM_CALLER_MASK) == 0xff0u, "r4-r11 are the callee-saved ones");

const fj_backend fj_backend_thumbv7em = {
  .target = FJ_TARGET_THUMBV7EM,
  .name = "thumbv7em",
  .reg_names = thm_reg_names,
  .regs = THM_REGS(thm_words),
  .fill = 0,
  .emit = thm_emit,
  .patch = thm_patch,
};

/* The same target without 32-bit knowledge (every value two registers): only for measuring. */
const fj_backend fj_backend_thumbv7em_wide = {
  .target = FJ_TARGET_THUMBV7EM,
  .name = "thumbv7em-wide",
  .reg_names = thm_reg_names,
  .regs = THM_REGS(thm_words_wide),
  .fill = 0,
  .emit = thm_emit_wide,
  .patch = thm_patch,
};
