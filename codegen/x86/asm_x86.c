/* farjit codegen — x86-64 backend: lowering IR instructions (contract in codegen/target.h,
 * codegen/PORTING.md; register roles in asm_x86.h).
 *
 * Each instruction computes into its allocated register, or into rax when its value lives in a
 * slot (then stored) or is unused.  Operands are used in place when the instruction form allows
 * (register, [rsp + slot], imm32), otherwise materialized in a scratch register.
 */
#include "codegen/x86/asm_x86.h"

#include <string.h>

#include "farjit/jit.h"

/* ---- operands ----------------------------------------------------------------------------- */

static int32_t slot_disp(unsigned slot) { return (int32_t)(8 * slot); }

void fj_x86_load(fj_x86 *x, unsigned r, fj_ref ref) {
  if (fj_ir_is_k(ref)) {
    fj_x86_mov_imm(x->mc, r, fj_ir_kval(x->ir, ref));
    return;
  }
  fj_loc l = fj_ra_loc(&x->cg->ra, ref);
  if (l.kind == FJ_LOC_REG && l.reg == FJ_X86_RCX && x->rcx_pushed) {
    fj_x86_mov_rm(x->mc, 8, r, FJ_X86_RSP, 0);  /* saved by fj_x86_sync */
  } else if (l.kind == FJ_LOC_REG) {
    if (l.reg != r) fj_x86_mov_rr(x->mc, 8, r, l.reg);
  } else if (l.kind == FJ_LOC_SLOT) {
    fj_x86_mov_rm(x->mc, 8, r, FJ_X86_RSP, slot_disp(l.slot) + (x->rcx_pushed ? 8 : 0));
  } else {
    fj_ir_abort(x->ir, FJ_ABORT_BACKEND, "x86: ir %04u used but has no location",
                ref - FJ_REF_BIAS);
  }
}

unsigned fj_x86_reg_of(fj_x86 *x, fj_ref ref, unsigned scratch) {
  fj_loc l = fj_ra_loc(&x->cg->ra, ref);
  if (l.kind == FJ_LOC_REG && !(l.reg == FJ_X86_RCX && x->rcx_pushed)) return l.reg;
  fj_x86_load(x, scratch, ref);
  return scratch;
}

void fj_x86_store_val(fj_x86 *x, unsigned base, int32_t disp, fj_ref ref) {
  if (fj_ir_is_k(ref) && fj_x86_is_imm32((int64_t)fj_ir_kval(x->ir, ref))) {
    fj_x86_mov_mi(x->mc, 8, base, disp, (int32_t)fj_ir_kval(x->ir, ref));
    return;
  }
  unsigned r = fj_x86_reg_of(x, ref, FJ_X86_RAX);
  fj_x86_mov_mr(x->mc, 8, base, disp, r);
}

void fj_x86_store_narrow(fj_x86 *x, unsigned w, unsigned base, int32_t disp, fj_ref ref) {
  if (fj_ir_is_k(ref)) {
    uint64_t k = fj_ir_kval(x->ir, ref);
    if (w < 8 || fj_x86_is_imm32((int64_t)k)) {
      fj_x86_mov_mi(x->mc, w, base, disp, (int32_t)(uint32_t)k);
      return;
    }
  }
  unsigned r = fj_x86_reg_of(x, ref, FJ_X86_RCX);
  fj_x86_mov_mr(x->mc, w, base, disp, r);
}

/* Destination register of ins (its own, or rax) and the write-back. */
static unsigned dst_reg(fj_x86 *x, fj_ref ref) {
  fj_loc l = fj_ra_loc(&x->cg->ra, ref);
  return l.kind == FJ_LOC_REG ? l.reg : FJ_X86_RAX;
}
static void put_result(fj_x86 *x, fj_ref ref, unsigned r) {
  fj_loc l = fj_ra_loc(&x->cg->ra, ref);
  if (l.kind == FJ_LOC_REG && l.reg != r) fj_x86_mov_rr(x->mc, 8, l.reg, r);
  else if (l.kind == FJ_LOC_SLOT) fj_x86_mov_mr(x->mc, 8, FJ_X86_RSP, slot_disp(l.slot), r);
}

/* Can constant k be the imm32 of an operation of width w? */
static bool imm_fits(uint64_t k, unsigned w) { return w == 4 || fj_x86_is_imm32((int64_t)k); }

static unsigned width_of(const fj_ir_ins *in) { return in->type == FJ_IRT_I32 ? 4 : 8; }

/* A local label bound later, and jumps to it. */
static void jcc_label(fj_x86 *x, enum fj_x86_cc cc, uint32_t label) {
  uint32_t at = fj_x86_jcc_rel32(x->mc, cc, 0);
  fj_fixup_label(x->mc, at, FJ_RELOC_REL32, label);
}
static void jmp_label(fj_x86 *x, uint32_t label) {
  uint32_t at = fj_x86_jmp_rel32(x->mc, 0);
  fj_fixup_label(x->mc, at, FJ_RELOC_REL32, label);
}

/* ---- arithmetic --------------------------------------------------------------------------- */

typedef void (*alu_rr_fn)(fj_mcode *, unsigned, unsigned, unsigned);
typedef void (*alu_ri_fn)(fj_mcode *, unsigned, unsigned, int32_t);
typedef void (*alu_rm_fn)(fj_mcode *, unsigned, unsigned, unsigned, int32_t);

/* OR (SHL v, k) (SHR v, w - k) in either order, all of one type: the shifted value v when it
 * is still in its location at the OR (so the rotate can read it), else FJ_REF_NONE. */
static fj_ref rotate_of(const fj_x86 *x, fj_ref ref, const fj_ir_ins *in, unsigned *k) {
  if (in->op != FJ_IR_OR || fj_ir_is_k(in->a) || fj_ir_is_k(in->b) || in->a < FJ_REF_BIAS ||
      in->b < FJ_REF_BIAS)
    return FJ_REF_NONE;
  const fj_ir_ins *l = fj_ir_at(x->ir, in->a), *r = fj_ir_at(x->ir, in->b);
  if (l->op == FJ_IR_SHR) {
    const fj_ir_ins *t = l;
    l = r;
    r = t;
  }
  unsigned bits = in->type == FJ_IRT_I32 ? 32 : 64;
  if (l->op != FJ_IR_SHL || r->op != FJ_IR_SHR || l->a != r->a || l->type != in->type ||
      r->type != in->type || !fj_ir_is_k(l->b) || !fj_ir_is_k(r->b) || fj_ir_is_k(l->a))
    return FJ_REF_NONE;
  uint64_t kl = fj_ir_kval(x->ir, l->b), kr = fj_ir_kval(x->ir, r->b);
  if (kl == 0 || kl >= bits || kl + kr != bits) return FJ_REF_NONE;
  if (!fj_ra_live_after(&x->cg->ra, l->a, ref - 1)) return FJ_REF_NONE;  /* v gone by the OR */
  *k = (unsigned)kl;
  return l->a;
}

/* A constant shift whose only use is an OR emitted as a rotate needs no code. */
static bool shift_in_rotate(const fj_x86 *x, fj_ref ref) {
  if (!x->cg->uses || x->cg->uses[ref - FJ_REF_BIAS] != 1) return false;
  /* The one use ends the range (a pre-roll value used in the loop ends at the loop's end). */
  fj_ref r = (fj_ref)(x->cg->ra.end[ref - FJ_REF_BIAS] + FJ_REF_BIAS);
  const fj_ir_ins *u = fj_ir_at(x->ir, r);
  unsigned k;
  return r > ref && (u->a == ref || u->b == ref) && rotate_of(x, r, u, &k) != FJ_REF_NONE;
}

/* MUL by 3, 5, 9 (lea; times 2^s: then shl) or 2^n -/+ 1 (mov, shl, sub/add): a shorter
 * dependency chain than imul's 3 cycles, as compilers do.  a must be in a register. */
static bool mul_by_shift(fj_x86 *x, fj_ref ref, const fj_ir_ins *in, unsigned d, unsigned w) {
  fj_loc la = fj_ra_loc(&x->cg->ra, in->a);
  if (in->op != FJ_IR_MUL || !fj_ir_is_k(in->b) || la.kind != FJ_LOC_REG) return false;
  uint64_t k = fj_ir_kval(x->ir, in->b) & (w == 4 ? 0xffffffffu : ~0ull);
  unsigned sh = 0;  /* k = m << sh with m = 3, 5, 9: lea, then shl */
  while (sh < 8 && k && !(k >> sh & 1)) sh++;
  uint64_t m = k >> sh;
  if ((m == 3 || m == 5 || m == 9) && m << sh == k) {
    fj_x86_lea_bis(x->mc, w, d, la.reg, la.reg, m == 3 ? 1 : m == 5 ? 2 : 3);
    if (sh) fj_x86_shl_ri(x->mc, w, d, (uint8_t)sh);
    put_result(x, ref, d);
    return true;
  }
  unsigned bits = w * 8, n = 2;
  while (n < bits && (1ull << n) + 1 != k && (1ull << n) - 1 != k) n++;
  if (n >= bits) return false;  /* also k = 2^bits - 1 (= -1) */
  bool minus = (1ull << n) - 1 == k;
  unsigned a = la.reg;
  if (d == a) {  /* in place: keep a copy of a in rax */
    a = FJ_X86_RAX;
    fj_x86_mov_rr(x->mc, 8, a, d);
  } else {
    fj_x86_mov_rr(x->mc, w, d, a);
  }
  fj_x86_shl_ri(x->mc, w, d, (uint8_t)n);
  if (minus) fj_x86_sub_rr(x->mc, w, d, a);
  else fj_x86_add_rr(x->mc, w, d, a);
  put_result(x, ref, d);
  return true;
}

static void asm_alu(fj_x86 *x, fj_ref ref, const fj_ir_ins *in) {
  unsigned w = width_of(in), d = dst_reg(x, ref);
  if (mul_by_shift(x, ref, in, d, w)) return;
  unsigned rk;
  fj_ref rv = rotate_of(x, ref, in, &rk);
  if (rv != FJ_REF_NONE) {  /* v << k | v >> (w - k) */
    fj_x86_load(x, d, rv);
    fj_x86_rol_ri(x->mc, w, d, (uint8_t)rk);
    put_result(x, ref, d);
    return;
  }
  alu_rr_fn rr = NULL;
  alu_ri_fn ri = NULL;
  alu_rm_fn rm = NULL;
  switch (in->op) {
  case FJ_IR_ADD: rr = fj_x86_add_rr; ri = fj_x86_add_ri; rm = fj_x86_add_rm; break;
  case FJ_IR_SUB: rr = fj_x86_sub_rr; ri = fj_x86_sub_ri; rm = fj_x86_sub_rm; break;
  case FJ_IR_AND: rr = fj_x86_and_rr; ri = fj_x86_and_ri; rm = fj_x86_and_rm; break;
  case FJ_IR_OR: rr = fj_x86_or_rr; ri = fj_x86_or_ri; rm = fj_x86_or_rm; break;
  case FJ_IR_XOR: rr = fj_x86_xor_rr; ri = fj_x86_xor_ri; rm = fj_x86_xor_rm; break;
  default: rr = fj_x86_imul_rr; rm = fj_x86_imul_rm; break;  /* MUL */
  }
  /* Three-operand forms when a stays in its own register: lea for 64-bit add (and subtract of
   * a constant), imul r, r, imm. */
  fj_loc la = fj_ra_loc(&x->cg->ra, in->a);
  if (la.kind == FJ_LOC_REG && la.reg != d) {
    fj_loc lb0 = fj_ra_loc(&x->cg->ra, in->b);
    bool kb = fj_ir_is_k(in->b);
    int64_t k = kb ? (int64_t)fj_ir_kval(x->ir, in->b) : 0;
    if (w == 8 && in->op == FJ_IR_ADD && kb && fj_x86_is_imm32(k)) {
      fj_x86_lea(x->mc, d, la.reg, (int32_t)k);
      put_result(x, ref, d);
      return;
    }
    if (w == 8 && in->op == FJ_IR_SUB && kb && k != INT64_MIN && fj_x86_is_imm32(-k)) {
      fj_x86_lea(x->mc, d, la.reg, (int32_t)-k);
      put_result(x, ref, d);
      return;
    }
    if (w == 8 && in->op == FJ_IR_ADD && lb0.kind == FJ_LOC_REG) {
      fj_x86_lea_bi(x->mc, d, la.reg, lb0.reg);
      put_result(x, ref, d);
      return;
    }
    if (in->op == FJ_IR_MUL && kb && imm_fits((uint64_t)k, w)) {
      fj_x86_imul_rri(x->mc, w, d, la.reg, (int32_t)(uint32_t)k);
      put_result(x, ref, d);
      return;
    }
  }
  fj_loc lb = fj_ra_loc(&x->cg->ra, in->b);
  if (fj_ir_is_k(in->b) && !imm_fits(fj_ir_kval(x->ir, in->b), w)) {
    /* A constant without imm32 form goes through rax (rcx may hold a value: x86_clobbers). */
    if (d != FJ_X86_RAX) {
      fj_x86_load(x, FJ_X86_RAX, in->b);
      fj_x86_load(x, d, in->a);
      rr(x->mc, w, d, FJ_X86_RAX);
    } else {  /* result in rax: rax = k op a (SUB: -(k - a)) */
      fj_x86_load(x, FJ_X86_RAX, in->b);
      fj_loc la2 = fj_ra_loc(&x->cg->ra, in->a);
      alu_rr_fn op = in->op == FJ_IR_SUB ? fj_x86_sub_rr : rr;
      alu_rm_fn opm = in->op == FJ_IR_SUB ? fj_x86_sub_rm : rm;
      if (fj_ir_is_k(in->a))  /* unfolded (FJ_CG_NO_OPT): the value is known */
        fj_x86_mov_imm(x->mc, FJ_X86_RAX,
                       fj_ir_arith((enum fj_ir_op)in->op, (enum fj_irt)in->type, in->aux,
                                   fj_ir_kval(x->ir, in->a), fj_ir_kval(x->ir, in->b)));
      else if (la2.kind == FJ_LOC_REG) op(x->mc, w, FJ_X86_RAX, la2.reg);
      else opm(x->mc, w, FJ_X86_RAX, FJ_X86_RSP, slot_disp(la2.slot));
      if (in->op == FJ_IR_SUB && !fj_ir_is_k(in->a)) fj_x86_neg_r(x->mc, w, FJ_X86_RAX);
    }
    put_result(x, ref, d);
    return;
  }
  fj_x86_load(x, d, in->a);
  if (fj_ir_is_k(in->b)) {
    int32_t k = (int32_t)(uint32_t)fj_ir_kval(x->ir, in->b);
    if (ri) ri(x->mc, w, d, k);
    else fj_x86_imul_rri(x->mc, w, d, d, k);
  } else if (lb.kind == FJ_LOC_REG) {
    rr(x->mc, w, d, lb.reg);
  } else if (lb.kind == FJ_LOC_SLOT) {
    rm(x->mc, w, d, FJ_X86_RSP, slot_disp(lb.slot));
  } else {
    fj_ir_abort(x->ir, FJ_ABORT_BACKEND, "x86: ir %04u used but has no location",
                in->b - FJ_REF_BIAS);
  }
  put_result(x, ref, d);
}

static void asm_shift(fj_x86 *x, fj_ref ref, const fj_ir_ins *in) {
  unsigned w = width_of(in), d = dst_reg(x, ref);
  if (in->op != FJ_IR_SAR && fj_ir_is_k(in->b) && shift_in_rotate(x, ref)) return;
  if (fj_ir_is_k(in->b)) {
    uint8_t n = (uint8_t)(fj_ir_kval(x->ir, in->b) & (w * 8 - 1));
    fj_x86_load(x, d, in->a);
    if (in->op == FJ_IR_SHL) fj_x86_shl_ri(x->mc, w, d, n);
    else if (in->op == FJ_IR_SHR) fj_x86_shr_ri(x->mc, w, d, n);
    else fj_x86_sar_ri(x->mc, w, d, n);
    if (n == 0 && w == 4) fj_x86_mov_rr(x->mc, 4, d, d);  /* shift by 0 leaves the top alone */
  } else {
    if (d == FJ_X86_RCX) d = FJ_X86_RAX;  /* the count needs cl */
    fj_x86_load(x, FJ_X86_RCX, in->b);
    fj_x86_load(x, d, in->a);
    if (in->op == FJ_IR_SHL) fj_x86_shl_rcl(x->mc, w, d);
    else if (in->op == FJ_IR_SHR) fj_x86_shr_rcl(x->mc, w, d);
    else fj_x86_sar_rcl(x->mc, w, d);
    /* A 32-bit shift by a count that is 0 mod 32 does not write the register: zero-extend. */
    if (w == 4) fj_x86_mov_rr(x->mc, 4, d, d);
  }
  put_result(x, ref, d);
}

static void asm_unary(fj_x86 *x, fj_ref ref, const fj_ir_ins *in) {
  unsigned w = width_of(in), d = dst_reg(x, ref);
  /* Extensions read their operand's register directly (movzx/movsx/mov r32 copy as they
   * extend); the other ops work in place on d. */
  fj_loc la = fj_ra_loc(&x->cg->ra, in->a);
  bool ext = (in->op == FJ_IR_ZEXT && (in->aux == 8 || in->aux == 16 || in->aux == 32)) ||
             (in->op == FJ_IR_SEXT && in->aux < 64);
  unsigned s = ext && la.kind == FJ_LOC_REG ? la.reg : d;
  if (s == d) fj_x86_load(x, d, in->a);
  switch (in->op) {
  case FJ_IR_NEG:
    fj_x86_neg_r(x->mc, w, d);
    break;
  case FJ_IR_ZEXT:
    if (in->aux == 8) fj_x86_movzx_rr(x->mc, 1, d, s);
    else if (in->aux == 16) fj_x86_movzx_rr(x->mc, 2, d, s);
    else if (in->aux == 32) fj_x86_mov_rr(x->mc, 4, d, s);
    break;
  case FJ_IR_SEXT:
    if (in->aux < 64) fj_x86_movsx_rr(x->mc, in->aux / 8, d, s);
    if (in->type == FJ_IRT_I32) fj_x86_mov_rr(x->mc, 4, d, d);
    break;
  case FJ_IR_BSWAP:
    if (in->aux == 16) {
      fj_x86_rol_ri(x->mc, 2, d, 8);
      fj_x86_movzx_rr(x->mc, 2, d, d);
    } else {
      fj_x86_bswap_r(x->mc, in->aux == 32 ? 4 : 8, d);
    }
    break;
  default:
    break;
  }
  put_result(x, ref, d);
}

/* High half of the 2w-bit product: one-operand mul/imul leaves it in rdx (edx zero-extends). */
static void asm_mulh(fj_x86 *x, fj_ref ref, const fj_ir_ins *in) {
  unsigned w = width_of(in);
  /* The constant (if any) goes into rax; the other operand is read where it lives. */
  fj_ref k = fj_ir_is_k(in->b) ? in->b : in->a, v = k == in->b ? in->a : in->b;
  fj_x86_load(x, FJ_X86_RAX, k);
  unsigned r = fj_x86_reg_of(x, v, FJ_X86_RCX);
  if (in->op == FJ_IR_MULHU) fj_x86_mul_r(x->mc, w, r);
  else fj_x86_imul_r(x->mc, w, r);
  put_result(x, ref, FJ_X86_RDX);
}

/* eBPF division: by 0 gives 0 (div) or the dividend (mod); signed MIN / -1 = MIN, MIN % -1 = 0
 * (x86 would trap on both).  Result in rax. */
static void asm_div(fj_x86 *x, fj_ref ref, const fj_ir_ins *in) {
  unsigned w = width_of(in);
  bool is_mod = in->op == FJ_IR_UMOD || in->op == FJ_IR_SMOD;
  bool is_signed = in->op == FJ_IR_SDIV || in->op == FJ_IR_SMOD;
  fj_x86_load(x, FJ_X86_RAX, in->a);
  fj_x86_load(x, FJ_X86_RCX, in->b);
  if (w == 4) fj_x86_mov_rr(x->mc, 4, FJ_X86_RAX, FJ_X86_RAX);  /* I32: low half only */
  uint64_t kb = fj_ir_is_k(in->b) ? fj_ir_kval(x->ir, in->b) : 1;
  uint64_t mask = w == 4 ? UINT32_MAX : UINT64_MAX;
  bool may_zero = !fj_ir_is_k(in->b) || (kb & mask) == 0;
  bool may_m1 = is_signed && (!fj_ir_is_k(in->b) || (kb & mask) == mask);
  uint32_t l_done = fj_label_new(x->mc), l_zero = fj_label_new(x->mc), l_m1 = fj_label_new(x->mc);
  if (may_zero) {
    fj_x86_test_rr(x->mc, w, FJ_X86_RCX, FJ_X86_RCX);
    jcc_label(x, FJ_X86_CC_E, l_zero);
  }
  if (may_m1) {
    fj_x86_cmp_ri(x->mc, w, FJ_X86_RCX, -1);
    jcc_label(x, FJ_X86_CC_E, l_m1);
  }
  if (is_signed) {
    if (w == 8) fj_x86_cqo(x->mc);
    else fj_x86_cdq(x->mc);
    fj_x86_idiv_r(x->mc, w, FJ_X86_RCX);
  } else {
    fj_x86_mov_ri32(x->mc, FJ_X86_RDX, 0);
    fj_x86_div_r(x->mc, w, FJ_X86_RCX);
  }
  if (is_mod) fj_x86_mov_rr(x->mc, 8, FJ_X86_RAX, FJ_X86_RDX);
  if (may_zero || may_m1) jmp_label(x, l_done);
  fj_label_bind(x->mc, l_zero);
  if (may_zero && !is_mod) fj_x86_mov_ri32(x->mc, FJ_X86_RAX, 0);  /* mod: rax = dividend */
  if (may_zero && may_m1) jmp_label(x, l_done);
  fj_label_bind(x->mc, l_m1);
  if (may_m1) {
    if (is_mod) fj_x86_mov_ri32(x->mc, FJ_X86_RAX, 0);
    else fj_x86_neg_r(x->mc, w, FJ_X86_RAX);
  }
  fj_label_bind(x->mc, l_done);
  put_result(x, ref, FJ_X86_RAX);
}

/* ---- state and memory --------------------------------------------------------------------- */

static void asm_load(fj_x86 *x, fj_ref ref, const fj_ir_ins *in) {
  unsigned d = dst_reg(x, ref);
  unsigned base = X86_ST, w = 8;
  int32_t disp = 0;
  bool sx = false;
  switch (in->op) {
  case FJ_IR_RIN:
    if (in->lit == FJ_RIN_BUDGET) disp = FJ_JIT_OFF_BUDGET;
    else if (in->lit >= 0 && in->lit < FJ_NREGS) disp = (int32_t)FJ_JIT_OFF_R(in->lit);
    else fj_ir_abort(x->ir, FJ_ABORT_BACKEND, "x86: ir %04u: RIN %d", ref - FJ_REF_BIAS, in->lit);
    break;
  case FJ_IR_SLD: disp = in->lit; w = in->aux; break;
  case FJ_IR_HLD: base = fj_x86_reg_of(x, in->a, FJ_X86_RAX); disp = in->lit; w = in->aux; break;
  case FJ_IR_SLOAD: disp = in->lit; /* fall through */
  default:  /* LOAD */
    base = fj_x86_reg_of(x, in->a, FJ_X86_RAX);
    w = fj_mem_width(in->aux);
    sx = (in->aux & FJ_MEM_SIGNED) && w < 8;
    break;
  }
  if (w != 1 && w != 2 && w != 4 && w != 8)
    fj_ir_abort(x->ir, FJ_ABORT_BACKEND, "x86: ir %04u: load width %u", ref - FJ_REF_BIAS, w);
  if (sx) fj_x86_movsx_rm(x->mc, w, d, base, disp);
  else fj_x86_mov_rm(x->mc, w, d, base, disp);
  put_result(x, ref, d);
}

static void asm_store(fj_x86 *x, const fj_ir_ins *in) {
  unsigned base = fj_x86_reg_of(x, in->a, FJ_X86_RAX);  /* the value goes through rcx */
  fj_x86_store_narrow(x, fj_mem_width(in->aux), base, in->op == FJ_IR_SSTORE ? in->lit : 0, in->b);
}

/* Atomics use rax, rcx and rdx, so an address that is not in a register borrows r11 (pushed
 * around the sequence: the slot is 8 bytes further from rsp meanwhile).  Operands go into rax
 * and rcx before, results are written back after atomic_base_done. */
static unsigned atomic_base(fj_x86 *x, fj_ref a) {
  fj_loc l = fj_ra_loc(&x->cg->ra, a);
  if (l.kind == FJ_LOC_REG) return l.reg;
  fj_x86_push_r(x->mc, FJ_X86_R11);
  if (l.kind == FJ_LOC_SLOT) fj_x86_mov_rm(x->mc, 8, FJ_X86_R11, FJ_X86_RSP, slot_disp(l.slot) + 8);
  else fj_x86_load(x, FJ_X86_R11, a);  /* a constant */
  return FJ_X86_R11;
}
static void atomic_base_done(fj_x86 *x, fj_ref a) {
  if (fj_ra_loc(&x->cg->ra, a).kind != FJ_LOC_REG) fj_x86_pop_r(x->mc, FJ_X86_R11);
}

static void asm_atomic(fj_x86 *x, fj_ref ref, const fj_ir_ins *in) {
  unsigned w = fj_mem_width(in->aux);
  if (w != 4 && w != 8)
    fj_ir_abort(x->ir, FJ_ABORT_BACKEND, "x86: ir %04u: atomic width %u", ref - FJ_REF_BIAS, w);
  if (in->op == FJ_IR_CMPXCHG) {
    const fj_ir_ins *pair = fj_ir_at(x->ir, in->b);
    fj_x86_load(x, FJ_X86_RAX, pair->b);  /* expected */
    if (w == 4) fj_x86_mov_rr(x->mc, 4, FJ_X86_RAX, FJ_X86_RAX);
    fj_x86_load(x, FJ_X86_RCX, pair->a);  /* new */
    unsigned base = atomic_base(x, in->a);
    fj_x86_lock_cmpxchg_mr(x->mc, w, base, 0, FJ_X86_RCX);
    atomic_base_done(x, in->a);
    put_result(x, ref, FJ_X86_RAX);
    return;
  }
  fj_x86_load(x, FJ_X86_RCX, in->b);
  unsigned base = atomic_base(x, in->a);
  int32_t op = in->lit;
  bool fetch = op & FJ_ATOMIC_FETCH;
  uint8_t opc = 0;
  switch (op & ~FJ_ATOMIC_FETCH) {
  case 0x00: opc = 0x01; break;  /* add */
  case 0x40: opc = 0x09; break;  /* or */
  case 0x50: opc = 0x21; break;  /* and */
  case 0xa0: opc = 0x31; break;  /* xor */
  case 0xe0: /* xchg (0xe1) */
    fj_x86_xchg_mr(x->mc, w, base, 0, FJ_X86_RCX);
    atomic_base_done(x, in->a);
    put_result(x, ref, FJ_X86_RCX);
    return;
  default:
    fj_ir_abort(x->ir, FJ_ABORT_UNSUPPORTED, "x86: atomic op 0x%x", (unsigned)op);
  }
  if (!fetch) {
    fj_x86_lock_alu_mr(x->mc, opc, w, base, 0, FJ_X86_RCX);
    atomic_base_done(x, in->a);
  } else if (opc == 0x01) {
    fj_x86_lock_xadd_mr(x->mc, w, base, 0, FJ_X86_RCX);
    atomic_base_done(x, in->a);
    put_result(x, ref, FJ_X86_RCX);
  } else {
    /* rax = old; retry { rdx = old op val; cmpxchg } until no one raced us. */
    fj_x86_mov_rm(x->mc, w, FJ_X86_RAX, base, 0);
    uint32_t l_retry = fj_label_new(x->mc);
    fj_label_bind(x->mc, l_retry);
    fj_x86_mov_rr(x->mc, 8, FJ_X86_RDX, FJ_X86_RAX);
    if (opc == 0x09) fj_x86_or_rr(x->mc, w, FJ_X86_RDX, FJ_X86_RCX);
    else if (opc == 0x21) fj_x86_and_rr(x->mc, w, FJ_X86_RDX, FJ_X86_RCX);
    else fj_x86_xor_rr(x->mc, w, FJ_X86_RDX, FJ_X86_RCX);
    fj_x86_lock_cmpxchg_mr(x->mc, w, base, 0, FJ_X86_RDX);
    jcc_label(x, FJ_X86_CC_NE, l_retry);
    atomic_base_done(x, in->a);
    put_result(x, ref, FJ_X86_RAX);
  }
}

/* ---- guards ------------------------------------------------------------------------------- */

static enum fj_x86_cc guard_cc(unsigned op) {
  switch (op) {
  case FJ_IR_EQ: return FJ_X86_CC_E;
  case FJ_IR_NE: return FJ_X86_CC_NE;
  case FJ_IR_ULT: return FJ_X86_CC_B;
  case FJ_IR_UGE: return FJ_X86_CC_AE;
  case FJ_IR_ULE: return FJ_X86_CC_BE;
  case FJ_IR_UGT: return FJ_X86_CC_A;
  case FJ_IR_LT: return FJ_X86_CC_L;
  case FJ_IR_GE: return FJ_X86_CC_GE;
  case FJ_IR_LE: return FJ_X86_CC_LE;
  case FJ_IR_GT: return FJ_X86_CC_G;
  case FJ_IR_TEST: return FJ_X86_CC_NE;
  default: return FJ_X86_CC_E;  /* NTEST */
  }
}

static uint32_t exit_label(fj_x86 *x, uint32_t snap) {
  uint32_t e = snap < x->ir->nsnaps ? x->cg->snap_exit[snap] : FJ_EXIT_NONE;
  if (e == FJ_EXIT_NONE) fj_ir_abort(x->ir, FJ_ABORT_BACKEND, "x86: snapshot %u has no exit", snap);
  return x->l_exit0 + e;
}

/* The next instruction after ref that is not a NOP (FJ_REF_NONE at the end). */
static fj_ref next_ins(const fj_x86 *x, fj_ref ref) {
  for (fj_ref r = ref + 1; r < x->ir->top; r++)
    if (fj_ir_at(x->ir, r)->op != FJ_IR_NOP) return r;
  return FJ_REF_NONE;
}

/* A loop's last guard branches back (to the PHI copies, which sit in front of the body) on
 * success and falls through to its exit: no jmp per iteration.  `fix` (a pre-trampoline's
 * adjustment) is then done inline on the exit path. */
static bool guard_rotates(const fj_x86 *x, fj_ref ref) {
  return x->ir->loop != FJ_REF_NONE && ref > x->ir->loop &&
         (ref == x->last || x->skip == x->last);  /* skip: the fused subtract after ref */
}
static void guard_branch(fj_x86 *x, fj_ref ref, enum fj_x86_cc ok, uint32_t target, int fix_reg,
                         int32_t fix_n) {
  if (guard_rotates(x, ref)) {
    jcc_label(x, ok, x->l_back);
    if (fix_reg >= 0) fj_x86_add_ri(x->mc, 8, (unsigned)fix_reg, fix_n);
    jmp_label(x, target);
    x->rotated = true;
    return;
  }
  if (fix_reg >= 0) {
    uint32_t l = fj_label_new(x->mc);
    x->pre[x->npre].label = l;
    x->pre[x->npre].exit_label = target;
    x->pre[x->npre].reg = (uint8_t)fix_reg;
    x->pre[x->npre++].n = fix_n;
    target = l;
  }
  jcc_label(x, fj_x86_cc_invert(ok), target);
}

/* Budget check `GE b, #N` followed by `b' = b - N` in b's own register: `sub r, N; jl` sets
 * the flags `cmp r, N` would, and the exit path adds N back before the stub reads b. */
static bool asm_guard_sub(fj_x86 *x, fj_ref ref, const fj_ir_ins *in, uint32_t target) {
  if (in->op != FJ_IR_GE || in->type != FJ_IRT_I64 || !fj_ir_is_k(in->b) ||
      x->npre >= sizeof x->pre / sizeof x->pre[0])
    return false;
  int64_t n = (int64_t)fj_ir_kval(x->ir, in->b);
  if (n <= 0 || n > INT32_MAX) return false;
  fj_ref nx = next_ins(x, ref);
  if (nx == FJ_REF_NONE) return false;
  const fj_ir_ins *nin = fj_ir_at(x->ir, nx);
  if (nin->a != in->a || nin->type != FJ_IRT_I64 || !fj_ir_is_k(nin->b)) return false;
  int64_t kb = (int64_t)fj_ir_kval(x->ir, nin->b);
  if (!((nin->op == FJ_IR_ADD && kb == -n) || (nin->op == FJ_IR_SUB && kb == n))) return false;
  fj_loc la = fj_ra_loc(&x->cg->ra, in->a), ln = fj_ra_loc(&x->cg->ra, nx);
  if (la.kind != FJ_LOC_REG || ln.kind != FJ_LOC_REG || la.reg != ln.reg) return false;
  fj_x86_sub_ri(x->mc, 8, la.reg, (int32_t)n);
  x->skip = nx;
  guard_branch(x, ref, FJ_X86_CC_GE, target, la.reg, (int32_t)n);
  return true;
}

/* ULE.I64 x, #0xffffffff or UGT.I64 x, #0xffffffff (constant already in b). */
static bool is_hi_zero_guard(const fj_ir *ir, unsigned op, unsigned type, fj_ref b) {
  return type == FJ_IRT_I64 && (op == FJ_IR_ULE || op == FJ_IR_UGT) &&
         fj_ir_is_kval(ir, b, 0xffffffffu);
}

static void asm_guard(fj_x86 *x, fj_ref ref, const fj_ir_ins *in) {
  unsigned w = in->type == FJ_IRT_I32 ? 4 : 8;
  unsigned op = in->op;
  fj_ref a = in->a, b = in->b;
  uint32_t target = exit_label(x, in->snap);
  if (asm_guard_sub(x, ref, in, target)) return;
  if (fj_ir_is_k(a) && fj_ir_is_k(b)) {
    if (!fj_ir_cond(op, in->type, fj_ir_kval(x->ir, a), fj_ir_kval(x->ir, b))) jmp_label(x, target);
    return;
  }
  if (fj_ir_is_k(a)) {
    fj_ref t = a;
    a = b;
    b = t;
    op = fj_ir_cond_swap(op);
  }
  if (is_hi_zero_guard(x->ir, op, in->type, b)) {
    /* x <= 0xffffffff (codegen/build.c's entry speculation) or x > 0xffffffff: the upper half
     * is zero or not; shifted out in rax, without the wide constant in rcx. */
    unsigned rs = fj_x86_reg_of(x, a, FJ_X86_RAX);
    if (rs != FJ_X86_RAX) fj_x86_mov_rr(x->mc, 8, FJ_X86_RAX, rs);
    fj_x86_shr_ri(x->mc, 8, FJ_X86_RAX, 32);
    guard_branch(x, ref, op == FJ_IR_ULE ? FJ_X86_CC_E : FJ_X86_CC_NE, target, -1, 0);
    return;
  }
  unsigned ra = fj_x86_reg_of(x, a, FJ_X86_RAX);
  fj_loc lb = fj_ra_loc(&x->cg->ra, b);
  bool test = op == FJ_IR_TEST || op == FJ_IR_NTEST;
  if (fj_ir_is_k(b) && imm_fits(fj_ir_kval(x->ir, b), w)) {
    int32_t k = (int32_t)(uint32_t)fj_ir_kval(x->ir, b);
    if (test) fj_x86_test_ri(x->mc, w, ra, k);
    else if (k == 0 && (op == FJ_IR_EQ || op == FJ_IR_NE)) fj_x86_test_rr(x->mc, w, ra, ra);
    else fj_x86_cmp_ri(x->mc, w, ra, k);
  } else if (lb.kind == FJ_LOC_REG) {
    if (test) fj_x86_test_rr(x->mc, w, ra, lb.reg);
    else fj_x86_cmp_rr(x->mc, w, ra, lb.reg);
  } else if (lb.kind == FJ_LOC_SLOT && !test) {
    fj_x86_cmp_rm(x->mc, w, ra, FJ_X86_RSP, slot_disp(lb.slot));
  } else {
    fj_x86_load(x, FJ_X86_RCX, b);
    if (test) fj_x86_test_rr(x->mc, w, ra, FJ_X86_RCX);
    else fj_x86_cmp_rr(x->mc, w, ra, FJ_X86_RCX);
  }
  guard_branch(x, ref, guard_cc(op), target, -1, 0);
}

/* ---- the driver --------------------------------------------------------------------------- */

static void asm_ins(fj_x86 *x, fj_ref ref) {
  const fj_ir_ins *in = fj_ir_at(x->ir, ref);
  if (ref == x->skip) return;
  /* A value nobody uses needs no code unless computing it has an effect. */
  if (fj_ra_loc(&x->cg->ra, ref).kind == FJ_LOC_NONE &&
      (fj_ir_op_table[in->op].flags & (FJ_IRF_PURE | FJ_IRF_LOAD)) &&
      !(fj_ir_op_table[in->op].flags & (FJ_IRF_EFFECT | FJ_IRF_GUARD | FJ_IRF_CALL)))
    return;
  switch (in->op) {
  case FJ_IR_NOP: case FJ_IR_PHI: case FJ_IR_PAIR: case FJ_IR_KINT:
    return;
  case FJ_IR_LOOP:
    /* The back edge's PHI copies go in front of the body (entered past them), so that the
     * last guard can branch to them. */
    if (x->l_back != x->l_loop) {
      jmp_label(x, x->l_loop);
      fj_label_bind(x->mc, x->l_back);
      fj_x86_phi_moves(x);
    }
    fj_label_bind(x->mc, x->l_loop);
    return;
  case FJ_IR_ADD: case FJ_IR_SUB: case FJ_IR_MUL: case FJ_IR_AND: case FJ_IR_OR: case FJ_IR_XOR:
    asm_alu(x, ref, in);
    return;
  case FJ_IR_SHL: case FJ_IR_SHR: case FJ_IR_SAR:
    asm_shift(x, ref, in);
    return;
  case FJ_IR_NEG: case FJ_IR_ZEXT: case FJ_IR_SEXT: case FJ_IR_BSWAP:
    asm_unary(x, ref, in);
    return;
  case FJ_IR_MULHU: case FJ_IR_MULHS:
    asm_mulh(x, ref, in);
    return;
  case FJ_IR_UDIV: case FJ_IR_UMOD: case FJ_IR_SDIV: case FJ_IR_SMOD:
    asm_div(x, ref, in);
    return;
  case FJ_IR_RIN: case FJ_IR_SLD: case FJ_IR_HLD: case FJ_IR_LOAD: case FJ_IR_SLOAD:
    asm_load(x, ref, in);
    return;
  case FJ_IR_STORE: case FJ_IR_SSTORE:
    asm_store(x, in);
    return;
  case FJ_IR_ATOMIC: case FJ_IR_CMPXCHG:
    asm_atomic(x, ref, in);
    return;
  case FJ_IR_CALL: case FJ_IR_CALLL:
    fj_x86_call(x, ref);
    return;
  case FJ_IR_EXIT:
    jmp_label(x, exit_label(x, in->snap));
    return;
  default:
    if (fj_ir_is_guard(in->op)) {
      asm_guard(x, ref, in);
      return;
    }
    fj_ir_abort(x->ir, FJ_ABORT_UNSUPPORTED, "x86: ir %04u: op %s", ref - FJ_REF_BIAS,
                fj_ir_op_name(in->op));
  }
}

static void prologue(fj_x86 *x) {
  fj_mcode *mc = x->mc;
  uint32_t spill = (x->cg->ra.nslots * 8 + 15) & ~15u;
  uint32_t frame = 8 + spill;  /* 8 + 48 pushed + return address keeps rsp 16-aligned */
  fj_x86_push_r(mc, FJ_X86_RBP);
  fj_x86_mov_rr(mc, 8, FJ_X86_RBP, FJ_X86_RSP);
  fj_x86_push_r(mc, FJ_X86_RBX);
  fj_x86_push_r(mc, FJ_X86_R12);
  fj_x86_push_r(mc, FJ_X86_R13);
  fj_x86_push_r(mc, FJ_X86_R14);
  fj_x86_push_r(mc, FJ_X86_R15);
  fj_x86_sub_ri(mc, 8, FJ_X86_RSP, (int32_t)frame);
  fj_x86_mov_rr(mc, 8, X86_ST, FJ_X86_RDI);
  x->cg->frame_size = 8 + X86_PUSHED + frame;
}

void fj_x86_epilogue(fj_x86 *x) {
  fj_x86_lea(x->mc, FJ_X86_RSP, FJ_X86_RBP, -(X86_PUSHED - 8));
  fj_x86_pop_r(x->mc, FJ_X86_R15);
  fj_x86_pop_r(x->mc, FJ_X86_R14);
  fj_x86_pop_r(x->mc, FJ_X86_R13);
  fj_x86_pop_r(x->mc, FJ_X86_R12);
  fj_x86_pop_r(x->mc, FJ_X86_RBX);
  fj_x86_pop_r(x->mc, FJ_X86_RBP);
}

static void x86_emit(fj_cg *cg) {
  fj_x86 x;
  memset(&x, 0, sizeof x);
  x.cg = cg;
  x.ir = cg->ir;
  x.mc = &cg->mc;
  x.l_base = fj_label_new(x.mc);
  x.l_ret = fj_label_new(x.mc);
  x.l_loop = fj_label_new(x.mc);
  x.l_exit0 = x.mc->nlabels;  /* labels are dense: exit e is l_exit0 + e */
  for (uint32_t e = 0; e < cg->nexits; e++) fj_label_new(x.mc);
  fj_label_bind(x.mc, x.l_base);
  cg->entry_off = 0;
  prologue(&x);
  fj_ref last = FJ_REF_NONE;
  for (fj_ref r = FJ_REF_BIAS; r < x.ir->top; r++) {
    uint8_t op = fj_ir_at(x.ir, r)->op;
    if (op != FJ_IR_NOP && op != FJ_IR_PHI) last = r;
  }
  x.last = last;
  x.skip = FJ_REF_NONE;
  bool moves = x.ir->loop != FJ_REF_NONE && fj_x86_phi_moves_count(&x) != 0;
  x.l_back = moves ? fj_label_new(x.mc) : x.l_loop;
  for (fj_ref r = FJ_REF_BIAS; r < x.ir->top; r++) asm_ins(&x, r);
  if (x.ir->loop != FJ_REF_NONE) {
    if (!x.rotated) jmp_label(&x, x.l_back);
  } else if (cg->tail_snap != FJ_EXIT_NONE) {
    jmp_label(&x, exit_label(&x, cg->tail_snap));
  } else if (last == FJ_REF_NONE || fj_ir_at(x.ir, last)->op != FJ_IR_EXIT) {
    fj_ir_abort(x.ir, FJ_ABORT_BACKEND, "x86: trace without a loop does not end in EXIT");
  }
  for (uint32_t i = 0; i < x.npre; i++) {
    fj_label_bind(x.mc, x.pre[i].label);
    fj_x86_add_ri(x.mc, 8, x.pre[i].reg, x.pre[i].n);
    jmp_label(&x, x.pre[i].exit_label);
  }
  fj_x86_exit_stubs(&x);
  fj_mcode_align(x.mc, 16, 0xcc);
  fj_label_bind(x.mc, x.l_ret);
  fj_x86_ret(x.mc);
  if (x.mc->oom) fj_ir_abort(x.ir, FJ_ABORT_CODE_LIMIT, "x86: machine code too large");
}

/* rdx and rcx are allocatable except across (and as operands of) the instructions whose
 * sequences write them: rdx for mul-high, division, atomics; rcx also for shifts by a register
 * and where an operand may go through it (stores of a value that may live in a slot, guards
 * with a wide constant or a TEST of a value).  Exit syncs save rcx themselves (fj_x86_sync). */
static bool wide_k(const fj_ir *ir, fj_ref r, unsigned w) {
  return fj_ir_is_k(r) && !imm_fits(fj_ir_kval(ir, r), w);
}
static uint32_t x86_clobbers(const fj_ir *ir, fj_ref ref) {
  const fj_ir_ins *in = fj_ir_at(ir, ref);
  const uint32_t rcx = 1u << FJ_X86_RCX, rdx = 1u << FJ_X86_RDX;
  switch (in->op) {
  case FJ_IR_MULHU: case FJ_IR_MULHS: case FJ_IR_UDIV: case FJ_IR_UMOD: case FJ_IR_SDIV:
  case FJ_IR_SMOD: case FJ_IR_ATOMIC: case FJ_IR_CMPXCHG:
    return rcx | rdx;
  case FJ_IR_SHL: case FJ_IR_SHR: case FJ_IR_SAR:
    return fj_ir_is_k(in->b) ? 0 : rcx;
  case FJ_IR_STORE: case FJ_IR_SSTORE: {
    unsigned sw = fj_mem_width(in->aux);
    return fj_ir_is_k(in->b) && (sw < 8 || !wide_k(ir, in->b, 8)) ? 0 : rcx;
  }
  default:
    if (fj_ir_is_guard(in->op)) {
      if (fj_ir_is_k(in->a) && fj_ir_is_k(in->b)) return 0;
      fj_ref b = fj_ir_is_k(in->a) ? in->a : in->b;  /* asm_guard swaps a constant into b */
      unsigned gop = fj_ir_is_k(in->a) ? fj_ir_cond_swap(in->op) : in->op;
      if (is_hi_zero_guard(ir, gop, in->type, b)) return 0;
      unsigned gw = in->type == FJ_IRT_I32 ? 4 : 8;
      bool test = in->op == FJ_IR_TEST || in->op == FJ_IR_NTEST;
      return wide_k(ir, b, gw) || (test && !fj_ir_is_k(b)) ? rcx : 0;
    }
    return 0;
  }
}

/* mul-high leaves its result in rdx. */
static uint32_t x86_result_pref(const fj_ir *ir, fj_ref ref) {
  uint8_t op = fj_ir_at(ir, ref)->op;
  return op == FJ_IR_MULHU || op == FJ_IR_MULHS ? 1u << FJ_X86_RDX : 0;
}

static const char *const x86_reg_names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi",
                                              "rdi", "r8",  "r9",  "r10", "r11", "r12", "r13",
                                              "r14", "r15"};

const fj_backend fj_backend_x86_64 = {
  .target = FJ_TARGET_X86_64,
  .name = "x86_64",
  .reg_names = x86_reg_names,
  .regs = {
    .nalloc = 12,
    .alloc = {FJ_X86_RSI, FJ_X86_RDI, FJ_X86_R8, FJ_X86_R9, FJ_X86_R10, FJ_X86_R11, FJ_X86_R12,
              FJ_X86_R13, FJ_X86_R14, FJ_X86_R15, FJ_X86_RDX, FJ_X86_RCX},
    .callee_saved = 1u << FJ_X86_R12 | 1u << FJ_X86_R13 | 1u << FJ_X86_R14 | 1u << FJ_X86_R15,
    .max_slots = 4096,
    .pair64 = false,
    .two_address = true,
    .clobbers = x86_clobbers,
    .result_pref = x86_result_pref,
  },
  .fill = 0xcc,
  .emit = x86_emit,
  .patch = NULL,
};
