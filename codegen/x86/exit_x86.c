/* farjit codegen — x86-64 backend: state sync, exit stubs, calls and the loop back edge
 * (duties in codegen/snap.h and codegen/PORTING.md). */
#include "codegen/x86/asm_x86.h"

#include "farjit/jit.h"

/* rax = the trace's own frame pointer (ir->fp0).  When the front half removed fp0 as unused
 * (only snapshots refer to it), st->r[10] still holds it unless a call synced another r10. */
static void load_fp0(fj_x86 *x) {
  fj_ir *ir = x->ir;
  if (fj_ra_loc(&x->cg->ra, ir->fp0).kind != FJ_LOC_NONE || fj_ir_is_k(ir->fp0)) {
    fj_x86_load(x, FJ_X86_RAX, ir->fp0);
    return;
  }
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) {
    const fj_ir_ins *in = fj_ir_at(ir, r);
    if ((in->op == FJ_IR_CALL || in->op == FJ_IR_CALLL) && fj_snap_get(ir, in->snap)->regs[FJ_REG_FP])
      fj_ir_abort(ir, FJ_ABORT_BACKEND, "x86: fp0 has no value after a call changed r10");
  }
  fj_x86_mov_rm(x->mc, 8, FJ_X86_RAX, X86_ST, (int32_t)FJ_JIT_OFF_R(FJ_REG_FP));
}

static bool in_rcx(fj_x86 *x, fj_ref r) {
  fj_loc l = fj_ra_loc(&x->cg->ra, r);
  return l.kind == FJ_LOC_REG && l.reg == FJ_X86_RCX;
}

/* Write snapshot `snap` into st and the eBPF stack: frames, stack slots, registers, budget. */
void fj_x86_sync(fj_x86 *x, uint32_t snap) {
  const fj_snap *s = fj_snap_get(x->ir, snap);
  const fj_snap_frame *fr = fj_snap_frames(x->ir, s);
  for (uint32_t f = 0; f < s->nframes; f++) {
    int32_t base = (int32_t)(FJ_JIT_OFF_FRAMES + f * sizeof(fj_jit_frame));
    for (unsigned j = 0; j < 4; j++) fj_x86_store_val(x, X86_ST, base + 8 * (int32_t)j, fr[f].saved[j]);
    fj_x86_store_val(x, X86_ST, base + 32, fr[f].fp);
    fj_x86_mov_mi(x->mc, 4, X86_ST, base + 40, (int32_t)fr[f].ret_pc);
  }
  fj_x86_mov_mi(x->mc, 4, X86_ST, FJ_JIT_OFF_NFRAMES, s->nframes);
  if (s->nslots) {
    const fj_snap_slot *sl = fj_snap_slots(x->ir, s);
    /* Slot values go through rcx: if the allocator put a value this sync still reads there,
     * push it; fj_x86_load then reads it from [rsp] (and slots 8 bytes further). */
    bool save = in_rcx(x, x->ir->fp0);
    for (uint32_t k = 0; k < s->nslots; k++) save |= in_rcx(x, sl[k].ref);
    for (unsigned k = 0; k < FJ_NREGS; k++) save |= in_rcx(x, s->regs[k]);
    save |= in_rcx(x, s->budget);
    if (save) {
      fj_x86_push_r(x->mc, FJ_X86_RCX);
      x->rcx_pushed = true;
    }
    load_fp0(x);
    for (uint32_t k = 0; k < s->nslots; k++)
      fj_x86_store_narrow(x, sl[k].width, FJ_X86_RAX, sl[k].off, sl[k].ref);  /* value: rcx */
  }
  for (unsigned k = 0; k < FJ_NREGS; k++) {
    /* FJ_REF_NONE: st->r[k] already holds the value (codegen/README.md, "Registers after
     * calls"), also after a call's sync wrote it. */
    if (s->regs[k] != FJ_REF_NONE) fj_x86_store_val(x, X86_ST, (int32_t)FJ_JIT_OFF_R(k), s->regs[k]);
  }
  if (s->budget != FJ_REF_NONE) {
    fj_x86_load(x, FJ_X86_RAX, s->budget);
    if (s->budget_adj) fj_x86_add_ri(x->mc, 8, FJ_X86_RAX, s->budget_adj);
    fj_x86_mov_mr(x->mc, 8, X86_ST, FJ_JIT_OFF_BUDGET, FJ_X86_RAX);
  } else if (s->budget_adj) {
    fj_x86_add_mi(x->mc, 8, X86_ST, FJ_JIT_OFF_BUDGET, s->budget_adj);
  }
  if (x->rcx_pushed) {
    fj_x86_pop_r(x->mc, FJ_X86_RCX);
    x->rcx_pushed = false;
  }
}

/* st->exit_code = the code base (rip-relative, so the blob stays position independent). */
static void store_exit_code(fj_x86 *x) {
  uint32_t at = fj_x86_lea_rip(x->mc, FJ_X86_RAX, 0);
  fj_fixup_label(x->mc, at, FJ_RELOC_REL32, x->l_base);
  fj_x86_mov_mr(x->mc, 8, X86_ST, FJ_JIT_OFF_EXIT_CODE, FJ_X86_RAX);
}

static uint32_t exit_of(fj_x86 *x, uint32_t snap) {
  uint32_t e = snap < x->ir->nsnaps ? x->cg->snap_exit[snap] : FJ_EXIT_NONE;
  if (e == FJ_EXIT_NONE) fj_ir_abort(x->ir, FJ_ABORT_BACKEND, "x86: snapshot %u has no exit", snap);
  return e;
}

/* CALL (helper lit) and CALLL (local function at pc lit, run by the interpreter) through the
 * runtime's FJ_RT_CALL trampoline, after syncing the state the call's exit describes. */
void fj_x86_call(fj_x86 *x, fj_ref ref) {
  const fj_ir_ins *in = fj_ir_at(x->ir, ref);
  uint32_t e = exit_of(x, in->snap);
  fj_x86_sync(x, in->snap);
  fj_x86_mov_mi(x->mc, 4, X86_ST, FJ_JIT_OFF_CALL_EXIT, (int32_t)e);
  store_exit_code(x);
  uint32_t at = fj_x86_movabs(x->mc, FJ_X86_RAX, 0);
  if (in->op == FJ_IR_CALL) {
    fj_fixup_sym(x->mc, at, FJ_RELOC_ABS64, FJ_SYM_HELPER, (uint32_t)in->lit, 0);
    static const uint8_t args[5] = {FJ_X86_RDI, FJ_X86_RSI, FJ_X86_RDX, FJ_X86_RCX, FJ_X86_R8};
    for (unsigned k = 0; k < 5; k++)
      fj_x86_mov_rm(x->mc, 8, args[k], X86_ST, (int32_t)FJ_JIT_OFF_R(k + 1));
    fj_x86_mov_rm(x->mc, 8, FJ_X86_R9, X86_ST, FJ_JIT_OFF_VM);
  } else {
    fj_fixup_sym(x->mc, at, FJ_RELOC_ABS64, FJ_SYM_RUNTIME, FJ_RT_CALL_LOCAL, 0);
    fj_x86_mov_rr(x->mc, 8, FJ_X86_RDI, X86_ST);
    fj_x86_mov_ri32(x->mc, FJ_X86_RSI, (uint32_t)in->lit);
  }
  at = fj_x86_call_rel32(x->mc, 0);
  fj_fixup_sym(x->mc, at, FJ_RELOC_REL32, FJ_SYM_RUNTIME, FJ_RT_CALL, 0);
  fj_loc l = fj_ra_loc(&x->cg->ra, ref);
  if (l.kind == FJ_LOC_REG) fj_x86_mov_rr(x->mc, 8, l.reg, FJ_X86_RAX);
  else if (l.kind == FJ_LOC_SLOT) fj_x86_mov_mr(x->mc, 8, FJ_X86_RSP, (int32_t)(8 * l.slot), FJ_X86_RAX);
}

/* One stub per exit that is not a call's: sync, exit id and code, tear down the frame (st in
 * rdi for a linked trace), then the patchable jmp rel32 to the shared return. */
void fj_x86_exit_stubs(fj_x86 *x) {
  fj_cg *cg = x->cg;
  for (uint32_t e = 0; e < cg->nexits; e++) {
    fj_blob_exit *ex = &cg->exits[e];
    if (ex->kind == FJ_EXIT_CALL) continue;
    fj_mcode_align(x->mc, 4, 0xcc);
    fj_label_bind(x->mc, x->l_exit0 + e);
    fj_x86_sync(x, ex->snap);
    fj_x86_mov_mi(x->mc, 4, X86_ST, FJ_JIT_OFF_EXIT_ID, (int32_t)e);
    store_exit_code(x);
    fj_x86_mov_ri32(x->mc, FJ_X86_RAX, e);
    fj_x86_mov_rr(x->mc, 8, FJ_X86_RDI, X86_ST);
    fj_x86_epilogue(x);
    fj_x86_align_jmp_field(x->mc);
    uint32_t at = fj_x86_jmp_rel32(x->mc, 0);
    if (ex->kind == FJ_EXIT_LINK) fj_fixup_trace(x->mc, at, FJ_RELOC_REL32, ex->pc, x->l_ret);
    else fj_fixup_label(x->mc, at, FJ_RELOC_REL32, x->l_ret);
    ex->patch_off = at;
  }
}

/* ---- the back edge: PHI copies (emitted in front of the loop body) ----------------------- */

static void phi_move(void *ud, fj_loc dst, fj_loc src, fj_ref ref) {
  fj_x86 *x = ud;
  int32_t dd = (int32_t)(8 * dst.slot), sd = (int32_t)(8 * src.slot);
  if (src.kind == FJ_LOC_NONE) {
    if (!fj_ir_is_k(ref))
      fj_ir_abort(x->ir, FJ_ABORT_BACKEND, "x86: PHI source %04u has no location", ref - FJ_REF_BIAS);
    uint64_t k = fj_ir_kval(x->ir, ref);
    if (dst.kind == FJ_LOC_REG) {
      fj_x86_mov_imm(x->mc, dst.reg, k);
    } else if (fj_x86_is_imm32((int64_t)k)) {
      fj_x86_mov_mi(x->mc, 8, FJ_X86_RSP, dd, (int32_t)k);
    } else {  /* two halves: rax may be the cycle temporary */
      fj_x86_mov_mi(x->mc, 4, FJ_X86_RSP, dd, (int32_t)(uint32_t)k);
      fj_x86_mov_mi(x->mc, 4, FJ_X86_RSP, dd + 4, (int32_t)(uint32_t)(k >> 32));
    }
  } else if (src.kind == FJ_LOC_REG) {
    if (dst.kind == FJ_LOC_REG) fj_x86_mov_rr(x->mc, 8, dst.reg, src.reg);
    else fj_x86_mov_mr(x->mc, 8, FJ_X86_RSP, dd, src.reg);
  } else if (dst.kind == FJ_LOC_REG) {
    fj_x86_mov_rm(x->mc, 8, dst.reg, FJ_X86_RSP, sd);
  } else {  /* slot to slot without a register (rcx may hold a value) */
    fj_x86_push_m(x->mc, FJ_X86_RSP, sd);
    fj_x86_pop_m(x->mc, FJ_X86_RSP, dd);
  }
}

static void phi_count(void *ud, fj_loc dst, fj_loc src, fj_ref ref) {
  (void)dst, (void)src, (void)ref;
  (*(uint32_t *)ud)++;
}

uint32_t fj_x86_phi_moves_count(fj_x86 *x) {
  uint32_t n = 0;
  fj_loc tmp = {FJ_LOC_REG, FJ_X86_RAX, 0, 0, 0};
  fj_ra_phi_moves(&x->cg->ra, x->ir, tmp, phi_count, &n);
  return n;
}

void fj_x86_phi_moves(fj_x86 *x) {
  fj_loc tmp = {FJ_LOC_REG, FJ_X86_RAX, 0, 0, 0};
  fj_ra_phi_moves(&x->cg->ra, x->ir, tmp, phi_move, x);
}
