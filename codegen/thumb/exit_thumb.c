/* farjit codegen — Thumb-2 backend: prologue, state sync, calls, exit stubs and the loop back
 * edge (duties in codegen/snap.h and codegen/PORTING.md; frame in thumb.h). */
#include "codegen/thumb/thumb.h"

#include "farjit/jit.h"

/* push {r4-r11, lr}; sub sp, #N; st and the code base into the frame. */
void thm_prologue(fj_thm *x) {
  fj_thm_buf *b = &x->b;
  fj_cg *cg = x->cg;
  if (cg->ra.nslots > THM_MAX_SLOTS)
    fj_ir_abort(x->ir, FJ_ABORT_SPILL_LIMIT, "thumb: %u spill slots (at most %u)", cg->ra.nslots,
                THM_MAX_SLOTS);
  x->frame_n = THM_FR_SPILL + 8 * cg->ra.nslots + 4;
  fj_thm_align4(b);
  cg->entry_off = b->pos;
  cg->frame_size = 36 + x->frame_n;
  fj_thm_push(b, 0x4ff0);
  fj_thm_sub_imm(b, FJ_THM_SP, FJ_THM_SP, x->frame_n);
  fj_thm_str(b, 0, FJ_THM_SP, THM_FR_ST);
  uint32_t at = b->pos;
  fj_thm_mov(b, 2, FJ_THM_PC);  /* reads as its own address + 4 */
  fj_thm_sub_imm(b, 2, 2, at + 4);
  fj_thm_str(b, 2, FJ_THM_SP, THM_FR_BASE);
  thm_check(x);
}

/* The trace's own frame pointer (ir->fp0) in a register.  When the front half removed fp0 as
 * unused (only snapshots refer to it), st->r[10] (st in r3) still holds it unless a call
 * synced another r10. */
static unsigned load_fp0(fj_thm *x, unsigned scratch) {
  fj_ir *ir = x->ir;
  if (fj_ra_loc_at(&x->cg->ra, ir->fp0, x->cur).kind != FJ_LOC_NONE || fj_ir_is_k(ir->fp0)) {
    thm_opd fp = thm_fetch(x, ir->fp0, scratch, scratch, false);
    return thm_reg(x, fp.lo, scratch);
  }
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) {
    const fj_ir_ins *in = fj_ir_at(ir, r);
    if ((in->op == FJ_IR_CALL || in->op == FJ_IR_CALLL) && fj_snap_get(ir, in->snap)->regs[FJ_REG_FP])
      fj_ir_abort(ir, FJ_ABORT_BACKEND, "thumb: fp0 has no value after a call changed r10");
  }
  fj_thm_ldr(&x->b, scratch, THM_B1, (int32_t)FJ_JIT_OFF_R(FJ_REG_FP));
  return scratch;
}

/* [r3 + off] = the 64-bit value of ref (through r0:r1).  A known-zero upper half (I32 values,
 * small constants) comes from r2, zeroed once (*zero) while nothing else needs r2. */
static void store64(fj_thm *x, int32_t off, fj_ref ref, bool *zero) {
  thm_opd o = thm_fetch(x, ref, THM_A0, THM_A1, true);
  unsigned lo = thm_reg(x, o.lo, THM_A0), hi;
  if (o.hi.k && o.hi.v == 0) {
    if (!*zero) fj_thm_mov_imm(&x->b, THM_B0, 0);
    *zero = true;
    hi = THM_B0;
  } else {
    hi = o.hi.k && o.lo.k && o.hi.v == o.lo.v ? lo : thm_reg(x, o.hi, THM_A1);
  }
  fj_thm_strd(&x->b, lo, hi, THM_B1, off);
}

/* Write snapshot `snap` into st (left in r3) and the eBPF stack: frames, stack slots,
 * registers, budget.  Uses every scratch register. */
void thm_sync(fj_thm *x, uint32_t snap) {
  fj_thm_buf *b = &x->b;
  const fj_snap *s = fj_snap_get(x->ir, snap);
  const fj_snap_frame *fr = fj_snap_frames(x->ir, s);
  bool zero = false;
  thm_ensure(x, 256);
  thm_load_st(x, THM_B1);
  for (uint32_t f = 0; f < s->nframes; f++) {
    int32_t base = (int32_t)(FJ_JIT_OFF_FRAMES + f * sizeof(fj_jit_frame));
    thm_ensure(x, 256);
    for (unsigned j = 0; j < 4; j++) store64(x, base + 8 * (int32_t)j, fr[f].saved[j], &zero);
    store64(x, base + 32, fr[f].fp, &zero);
    fj_thm_mov_imm(b, THM_A0, fr[f].ret_pc);
    fj_thm_str(b, THM_A0, THM_B1, base + 40);
  }
  fj_thm_mov_imm(b, THM_A0, s->nframes);
  fj_thm_str(b, THM_A0, THM_B1, FJ_JIT_OFF_NFRAMES);
  if (s->nslots) {
    /* [fp0 + off] through a base register: fp0's own, or r2 = fp0 + bias, moved along when an
     * offset is out of reach (a sync may use r0-r3 only: every other register may hold a value
     * it still has to read) */
    const fj_snap_slot *sl = fj_snap_slots(x->ir, s);
    unsigned fpr = load_fp0(x, THM_B0);
    int32_t bias = 0;
    zero = false;  /* r2 is the base now */
    for (uint32_t k = 0; k < s->nslots; k++) {
      thm_ensure(x, 64);
      unsigned w = sl[k].width;
      thm_opd v = thm_fetch(x, sl[k].ref, THM_A0, THM_A1, w == 8);
      unsigned vl = thm_reg(x, v.lo, THM_A0);
      enum fj_thm_ldst op = w == 1 ? FJ_THM_STRB : w == 2 ? FJ_THM_STRH : FJ_THM_STR;
      int32_t off = sl[k].off;
      if (!fj_thm_ldst_off_fits(off - bias) || (w == 8 && !fj_thm_ldst_off_fits(off + 4 - bias))) {
        if (fpr != THM_B0) fj_thm_mov(b, THM_B0, fpr);
        fpr = THM_B0;
        while (bias != off) {
          int32_t d = off - bias;
          uint32_t step = (uint32_t)(d < 0 ? -d : d) > 4095u ? 4095u : (uint32_t)(d < 0 ? -d : d);
          if (d < 0) fj_thm_sub_imm(b, THM_B0, THM_B0, step), bias -= (int32_t)step;
          else fj_thm_add_imm(b, THM_B0, THM_B0, step), bias += (int32_t)step;
        }
      }
      fj_thm_ldst(b, op, vl, fpr, off - bias);
      if (w == 8) fj_thm_str(b, thm_reg(x, v.hi, THM_A1), fpr, off + 4 - bias);
    }
  }
  for (unsigned k = 0; k < FJ_NREGS; k++) {
    thm_ensure(x, 64);
    /* FJ_REF_NONE: st->r[k] is already right, also after a call's sync (codegen/README.md) */
    if (s->regs[k] != FJ_REF_NONE) store64(x, (int32_t)FJ_JIT_OFF_R(k), s->regs[k], &zero);
  }
  if (s->budget != FJ_REF_NONE || s->budget_adj) {
    /* st->budget = value(budget) + adj, computed from wherever the value is into r0:r1 */
    unsigned lo = THM_A0, hi = THM_A1;
    if (s->budget != FJ_REF_NONE) {
      thm_opd o = thm_fetch(x, s->budget, THM_A0, THM_A1, true);
      lo = thm_reg(x, o.lo, THM_A0), hi = thm_reg(x, o.hi, THM_A1);
    } else {
      fj_thm_ldrd(b, THM_A0, THM_A1, THM_B1, FJ_JIT_OFF_BUDGET);
    }
    if (s->budget_adj) {
      uint32_t adj = (uint32_t)s->budget_adj, ahi = s->budget_adj < 0 ? 0xffffffffu : 0;
      if (fj_thm_modimm(adj) < 0) {
        fj_thm_mov_imm(b, THM_B0, adj);
        fj_thm_adds(b, THM_A0, lo, THM_B0);
      } else {
        fj_thm_adds_imm(b, THM_A0, lo, adj);
      }
      bool saved = b->flags_free;
      b->flags_free = false;
      fj_thm_adc_imm(b, THM_A1, hi, ahi);
      b->flags_free = saved;
      lo = THM_A0, hi = THM_A1;
    }
    fj_thm_strd(b, lo, hi, THM_B1, FJ_JIT_OFF_BUDGET);
  }
  thm_check(x);
}

/* st->exit_code = this blob's code base (kept in the frame); st in r3, clobbers r0 and r2 (r1
 * is the exit id the shared return passes on). */
static void store_exit_code(fj_thm *x) {
  fj_thm_ldr(&x->b, THM_B0, FJ_THM_SP, THM_FR_BASE);
  fj_thm_mov_imm(&x->b, THM_A0, 0);
  fj_thm_strd(&x->b, THM_B0, THM_A0, THM_B1, FJ_JIT_OFF_EXIT_CODE);
}
_Static_assert(FJ_JIT_OFF_EXIT_CODE % 4 == 0 && FJ_JIT_OFF_EXIT_CODE < 1024, "strd reaches it");

/* CALL (helper lit) and CALLL (local function pc lit, run by the interpreter) through the
 * runtime's FJ_RT_CALL trampoline, after syncing the state the call's exit describes.
 * AAPCS: helper(r1, r2, r3, r4, r5, vm) = r0:r1, r2:r3, then [sp], [sp+8], [sp+16], [sp+24]. */
void thm_call(fj_thm *x, fj_ref ref) {
  fj_thm_buf *b = &x->b;
  const fj_ir_ins *in = fj_ir_at(x->ir, ref);
  uint32_t e = thm_exit_of(x, in->snap);
  thm_sync(x, in->snap);
  thm_ensure(x, 128);
  fj_thm_mov_imm(b, THM_A0, e);
  fj_thm_str(b, THM_A0, THM_B1, FJ_JIT_OFF_CALL_EXIT);
  store_exit_code(x);
  if (in->op == FJ_IR_CALL) {
    for (int k = 0; k < 3; k++) {
      fj_thm_ldrd(b, THM_A0, THM_A1, THM_B1, (int32_t)FJ_JIT_OFF_R(3 + k));
      fj_thm_strd(b, THM_A0, THM_A1, FJ_THM_SP, 8 * k);
    }
    fj_thm_ldr(b, THM_A0, THM_B1, FJ_JIT_OFF_VM);
    fj_thm_str(b, THM_A0, FJ_THM_SP, THM_FR_VM);
    fj_fixup_sym(x->mc, b->pos, FJ_RELOC_THM_MOVW_MOVT, FJ_SYM_HELPER, (uint32_t)in->lit, 0);
    fj_thm_movw_movt(b, THM_IP, 0);
    fj_thm_ldrd(b, THM_A0, THM_A1, THM_B1, (int32_t)FJ_JIT_OFF_R(1));
    fj_thm_ldrd(b, THM_B0, THM_B1, THM_B1, (int32_t)FJ_JIT_OFF_R(2));
  } else {
    fj_fixup_sym(x->mc, b->pos, FJ_RELOC_THM_MOVW_MOVT, FJ_SYM_RUNTIME, FJ_RT_CALL_LOCAL, 0);
    fj_thm_movw_movt(b, THM_IP, 0);
    fj_thm_mov(b, THM_A0, THM_B1);
    fj_thm_mov_imm(b, THM_A1, (uint32_t)in->lit);
  }
  fj_fixup_sym(x->mc, b->pos, FJ_RELOC_THM_CALL, FJ_SYM_RUNTIME, FJ_RT_CALL, 0);
  fj_thm_bl(b, 0);
  fj_loc l = fj_ra_loc_at(&x->cg->ra, ref, x->cur);
  if (l.kind == FJ_LOC_REG) {
    fj_thm_mov(b, l.reg, THM_A0);
    if (fj_ra_words(&x->cg->ra, ref) == 2) fj_thm_mov(b, l.reg_hi, THM_A1);
  } else if (l.kind == FJ_LOC_SLOT) {
    fj_thm_strd(b, THM_A0, THM_A1, FJ_THM_SP, thm_slot_off(l.slot));
  }
  thm_check(x);
}

/* One stub per exit that is not a call's: sync (st left in r3), r1 = exit id, BL to the shared
 * exit tail, which stores exit_id and exit_code, sets r0 = st (for a linked trace), tears the
 * frame down and returns into the stub, right onto the stub's patchable B.W (4-byte aligned).
 * Sharing the tail saves ~16 bytes per exit; leaving costs one BL and one BX more. */
void thm_exit_stubs(fj_thm *x) {
  fj_thm_buf *b = &x->b;
  fj_cg *cg = x->cg;
  uint32_t l_tail = fj_label_new(x->mc);
  bool any = false;
  x->in_stub = true;
  for (uint32_t e = 0; e < cg->nexits; e++) {
    fj_blob_exit *ex = &cg->exits[e];
    if (ex->kind == FJ_EXIT_CALL) continue;
    any = true;
    /* locations as of the first instruction using the snapshot (ra.h snap_at: a stub of a
     * snapshot used on both sides of LOOP reads values that are not split) */
    const fj_ra *ra = &cg->ra;
    x->cur = ra->snap_at && ra->snap_at[ex->snap] != UINT32_MAX
                 ? (fj_ref)(ra->snap_at[ex->snap] + FJ_REF_BIAS)
                 : fj_snap_get(x->ir, ex->snap)->ref;
    thm_ensure(x, 256);
    thm_bind(x, x->l_exit0 + e);
    thm_sync(x, ex->snap);
    thm_ensure(x, 64);
    fj_thm_mov_imm(b, THM_A1, e);
    if ((b->pos + 4) & 2) fj_thm_nop(b); /* the B.W after the BL must be 4-byte aligned */
    fj_fixup_label(x->mc, b->pos, FJ_RELOC_THM_CALL, l_tail);
    fj_thm_bl(b, 0);
    uint32_t at = b->pos;
    if (ex->kind == FJ_EXIT_LINK) fj_fixup_trace(x->mc, at, FJ_RELOC_THM_JUMP24, ex->pc, x->l_ret);
    else fj_fixup_label(x->mc, at, FJ_RELOC_THM_JUMP24, x->l_ret);
    fj_thm_b_w(b, 0);
    ex->patch_off = at;
    thm_check(x);
  }
  if (!any) return;
  /* the tail: r1 = exit id, r3 = st, lr = the stub's B.W (Thumb bit set) */
  thm_ensure(x, 64);
  thm_bind(x, l_tail);
  fj_thm_str(b, THM_A1, THM_B1, FJ_JIT_OFF_EXIT_ID);
  store_exit_code(x);
  fj_thm_mov(b, THM_A0, THM_B1);
  fj_thm_mov(b, THM_B0, FJ_THM_LR);
  fj_thm_add_imm(b, FJ_THM_SP, FJ_THM_SP, x->frame_n);
  fj_thm_pop(b, 0x4ff0);
  fj_thm_bx(b, THM_B0);
  thm_check(x);
}

/* ---- the back edge: PHI copies, then jump to the loop body ------------------------------- */

/* The register holding word src of a parallel move: its register, or scratch loaded from its
 * slot / set to the constant's word (0: the high word of a one-word value). */
static unsigned move_src(fj_thm *x, fj_loc src, fj_ref ref, unsigned scratch) {
  fj_thm_buf *b = &x->b;
  if (src.kind == FJ_LOC_REG) return src.reg;
  if (src.kind == FJ_LOC_SLOT) {
    fj_thm_ldr(b, scratch, FJ_THM_SP, thm_slot_off(src.slot) + (src.word == 2 ? 4 : 0));
  } else if (fj_ir_is_k(ref)) {
    uint64_t k = fj_ir_kval(x->ir, ref);
    fj_thm_mov_imm(b, scratch, (uint32_t)(src.word == 2 ? k >> 32 : k));
  } else if (src.word == 2) {
    fj_thm_mov_imm(b, scratch, 0);  /* the high word of a one-word (I32) value */
  } else {
    fj_ir_abort(x->ir, FJ_ABORT_BACKEND, "thumb: PHI source %04u has no location", ref - FJ_REF_BIAS);
  }
  return scratch;
}

/* One word move, emitted now. */
static void move_word(fj_thm *x, fj_loc dst, fj_loc src, fj_ref ref) {
  fj_thm_buf *b = &x->b;
  unsigned v = move_src(x, src, ref, dst.kind == FJ_LOC_REG ? dst.reg : THM_A0);
  if (dst.kind == FJ_LOC_REG && dst.reg != v) fj_thm_mov(b, dst.reg, v);
  if (dst.kind == FJ_LOC_SLOT) fj_thm_str(b, v, FJ_THM_SP, thm_slot_off(dst.slot) + (dst.word == 2 ? 4 : 0));
}

/* Emit a held-back low-word move. */
static void move_flush(fj_thm *x) {
  if (!x->pm.on) return;
  x->pm.on = false;
  thm_ensure(x, 64);
  move_word(x, x->pm.dst, x->pm.src, x->pm.ref);
}

/* One word of a parallel move at LOOP or the back edge (ra.h: every location names one word).
 * A slot's low word is held back: when the very next move writes the same slot's high word,
 * both go out as one strd (two words of one slot as ldrd/strd) — the next move cannot read the
 * low word it would have followed (a slot's other word, or a register).  Likewise a slot's
 * two words into two registers are one ldrd. */
static void phi_move(void *ud, fj_loc dst, fj_loc src, fj_ref ref) {
  fj_thm *x = ud;
  fj_thm_buf *b = &x->b;
  if (x->pm.on && x->pm.dst.kind == FJ_LOC_REG && dst.kind == FJ_LOC_REG && src.kind == FJ_LOC_SLOT &&
      src.word == 2 && src.slot == x->pm.src.slot && dst.reg != x->pm.dst.reg) {
    /* both words of a slot into two registers: one ldrd */
    x->pm.on = false;
    thm_ensure(x, 64);
    fj_thm_ldrd(b, x->pm.dst.reg, dst.reg, FJ_THM_SP, thm_slot_off(src.slot));
    return;
  }
  if (x->pm.on && x->pm.dst.kind == FJ_LOC_SLOT && dst.kind == FJ_LOC_SLOT && dst.word == 2 &&
      dst.slot == x->pm.dst.slot) {
    x->pm.on = false;
    thm_ensure(x, 64);
    fj_loc s1 = x->pm.src;
    int32_t off = thm_slot_off(dst.slot);
    if (s1.kind == FJ_LOC_SLOT && src.kind == FJ_LOC_SLOT && s1.slot == src.slot && s1.word == 1 &&
        src.word == 2) {
      fj_thm_ldrd(b, THM_A0, THM_A1, FJ_THM_SP, thm_slot_off(src.slot));
      fj_thm_strd(b, THM_A0, THM_A1, FJ_THM_SP, off);
      return;
    }
    unsigned v1 = move_src(x, s1, x->pm.ref, THM_A0);
    unsigned v2 = move_src(x, src, ref, THM_A1);
    fj_thm_strd(b, v1, v2, FJ_THM_SP, off);
    return;
  }
  move_flush(x);
  /* A register loaded from a slot's low word is held back too (in case the high word goes to
   * another register next): a move emitted later never reads the register it writes (the
   * parallel move reads old values, so such a reader came first), except the cycle temporary,
   * which is never held. */
  if ((dst.kind == FJ_LOC_SLOT && dst.word == 1) ||
      (dst.kind == FJ_LOC_REG && dst.reg != THM_B0 && src.kind == FJ_LOC_SLOT && src.word == 1)) {
    x->pm.on = true;
    x->pm.dst = dst, x->pm.src = src, x->pm.ref = ref;
    return;
  }
  thm_ensure(x, 64);
  move_word(x, dst, src, ref);
}

/* LOOP: pre-roll values split at the loop move to their body locations (one parallel move),
 * then the label the back edge jumps to. */
void thm_loop_entry(fj_thm *x) {
  fj_loc tmp = {FJ_LOC_REG, THM_B0, 0, 0, 1};  /* phi_move's scratch is A */
  fj_ra_loop_moves(&x->cg->ra, x->ir, tmp, phi_move, x);
  move_flush(x);
  thm_bind(x, x->l_loop);
}

void thm_back_edge(fj_thm *x) {
  fj_loc tmp = {FJ_LOC_REG, THM_B0, 0, 0, 1};  /* phi_move's scratch is A */
  uint32_t at = x->b.pos;
  fj_ra_phi_moves(&x->cg->ra, x->ir, tmp, phi_move, x);
  move_flush(x);
  thm_ensure(x, 16);
  uint32_t head = fj_label_offset(x->mc, x->l_loop);
  if (x->b.pos == at && x->jcc.pos != UINT32_MAX && x->jcc.pos + 4 == at && !x->b.overflow &&
      x->jcc.fix + 1 == x->mc->nfix && head != FJ_LABEL_NONE && head <= x->jcc.pos &&
      x->skip_to <= x->jcc.pos) {
    /* No copies, and the body ends in a guard's exit branch: that branch becomes the loop's
     * (inverted condition, to the loop label) and the exit falls through to a b.w, so an
     * iteration runs no unconditional branch (x86 does the same). */
    fj_fixup *f = &x->mc->fix[x->jcc.fix];
    if (f->offset == x->jcc.pos && f->kind == THM_FIX_BCOND && f->sym == 0 &&
        f->target == x->jcc.label) {
      x->b.pos = x->jcc.pos;
      fj_thm_bcond_w(&x->b, fj_thm_cond_invert(x->jcc.cond), 0);
      f->target = x->l_loop;
      /* a fused budget check's restore (emitted next, thm_pre_stubs) goes first: fall into it */
      for (uint32_t k = 0; k < x->npre; k++) {
        if (x->pre[k].label != x->jcc.label) continue;
        if (k) {
          struct thm_pre t = x->pre[0];
          x->pre[0] = x->pre[k], x->pre[k] = t;
        }
        thm_check(x);
        return;
      }
      thm_jump(x, x->jcc.label);
      thm_check(x);
      return;
    }
  }
  thm_jump(x, x->l_loop);
  thm_check(x);
}

/* Label fixups: B.W / BL (public kinds used inside the blob) and b<c>.w. */
bool thm_patch(uint8_t *code, const fj_fixup *f, uint32_t to) {
  int64_t off = (int64_t)to + f->addend - ((int64_t)f->offset + 4);
  if (off < INT32_MIN || off > INT32_MAX) return false;
  switch (f->kind) {
  case FJ_RELOC_THM_JUMP24:
  case FJ_RELOC_THM_CALL: return fj_thm_t4_patch(code + f->offset, (int32_t)off);
  case THM_FIX_BCOND: return fj_thm_bcondw_patch(code + f->offset, (int32_t)off);
  default: return false;
  }
}
