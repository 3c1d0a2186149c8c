/* farjit codegen — folding engine: constant folding, algebraic simplification, division by
 * constants, CSE; applied to every instruction as it is emitted (like LuaJIT's lj_opt_fold).
 *
 * Rules keep exact eBPF semantics (fj_ir_arith is the reference).  Folding may emit further
 * instructions (through fj_ir_emit, so they are folded too).  Loads are CSE'd only up to the
 * last instruction that may write what they read (calls, stores to the same region); stack
 * slot and memory forwarding is delegated to codegen/opt_mem.c.
 */
#include <string.h>

#include "codegen/ir.h"
#include "codegen/opt.h"
#include "codegen/opt_mem.h"

static bool is_k(fj_ref r) { return fj_ir_is_k(r); }

/* Is the value of r known to be zero-extended from 32 bits? */
static bool known32(const fj_ir *ir, fj_ref r) {
  if (is_k(r)) return fj_ir_kval(ir, r) <= 0xffffffffu;
  return fj_ir_at(ir, r)->type == FJ_IRT_I32;
}

/* r itself as a value of type t (no instruction needed)?  I32 requires 32-bit knowledge. */
static bool same_as(const fj_ir *ir, fj_ref r, uint8_t t) {
  return t != FJ_IRT_I32 || known32(ir, r);
}

static fj_ref kt(fj_ir *ir, uint8_t t, uint64_t v) { return fj_ir_kint(ir, (enum fj_irt)t, v); }

/* x retyped to t: x itself when possible, else ZEXT 32. */
static fj_ref as_type(fj_ir *ir, fj_ref x, uint8_t t) {
  if (same_as(ir, x, t)) return x;
  return fj_ir_op1(ir, FJ_IR_ZEXT, FJ_IRT_I32, x, 32);
}

static unsigned width_bits(uint8_t t) { return t == FJ_IRT_I32 ? 32 : 64; }
static uint64_t width_mask(uint8_t t) { return t == FJ_IRT_I32 ? 0xffffffffu : ~0ull; }
static bool is_pow2(uint64_t v) { return v && !(v & (v - 1)); }
static unsigned log2u(uint64_t v) { return 63u - (unsigned)__builtin_clzll(v); }

/* ---- CSE ---------------------------------------------------------------------------------- */

static fj_ref max_ref(fj_ref a, fj_ref b) { return a > b ? a : b; }

/* The newest instruction that may change what load `ins` reads (0 if none). */
static fj_ref load_barrier(const fj_ir *ir, const fj_ir_ins *ins) {
  fj_ref lim = max_ref(ir->chain[FJ_IR_CALL], ir->chain[FJ_IR_CALLL]);
  if (ins->op == FJ_IR_SLD || ins->op == FJ_IR_HLD) return lim;
  return max_ref(lim, fj_mem_store_barrier(ir, ins));
}

static bool same_ins(const fj_ir_ins *x, const fj_ir_ins *y) {
  return x->op == y->op && x->type == y->type && x->aux == y->aux && x->a == y->a &&
         x->b == y->b && x->lit == y->lit;
}

static fj_ref cse(fj_ir *ir, const fj_ir_ins *ins) {
  unsigned fl = fj_ir_op_table[ins->op].flags;
  fj_ref lim;
  if (fl & (FJ_IRF_PURE | FJ_IRF_GUARD)) {
    lim = max_ref(ins->a, ins->b);
  } else if (fl & FJ_IRF_LOAD && !(fl & FJ_IRF_EFFECT)) {
    lim = max_ref(max_ref(ins->a, ins->b), load_barrier(ir, ins));
  } else {
    return FJ_REF_NONE;
  }
  for (fj_ref r = ir->chain[ins->op]; r > lim; r = fj_ir_at(ir, r)->prev)
    if (same_ins(fj_ir_at(ir, r), ins)) return r;
  return FJ_REF_NONE;
}

/* ---- division by constants (Granlund-Montgomery / Hacker's Delight 10) --------------------- */

typedef unsigned __int128 u128;

/* q = x / d unsigned, d > 1 not a power of two, at width t. */
static fj_ref udiv_const(fj_ir *ir, uint8_t t, fj_ref x, uint64_t d) {
  unsigned w = width_bits(t), l = log2u(d);
  u128 num = (u128)1 << (w + l);
  uint64_t m = (uint64_t)(num / d), rem = (uint64_t)(num % d);
  uint64_t e = d - rem;
  if (e < (1ull << l)) {
    /* m + 1 fits in w bits: q = mulhi(x, m + 1) >> l */
    fj_ref q = fj_ir_op2(ir, FJ_IR_MULHU, t, x, kt(ir, t, m + 1));
    return fj_ir_op2(ir, FJ_IR_SHR, t, q, kt(ir, t, l));
  }
  /* (w+1)-bit magic 2^w + M: q = (((x - hi) >> 1) + hi) >> l with hi = mulhi(x, M) */
  uint64_t m2 = 2 * m, twice = 2 * rem;
  if (w == 32) { m2 &= 0xffffffffu; }
  if (twice >= d || (w == 64 && twice < rem)) m2 += 1;
  uint64_t M = (m2 + 1) & width_mask(t);
  fj_ref hi = fj_ir_op2(ir, FJ_IR_MULHU, t, x, kt(ir, t, M));
  fj_ref s = fj_ir_op2(ir, FJ_IR_SUB, t, x, hi);
  s = fj_ir_op2(ir, FJ_IR_SHR, t, s, kt(ir, t, 1));
  s = fj_ir_op2(ir, FJ_IR_ADD, t, s, hi);
  return fj_ir_op2(ir, FJ_IR_SHR, t, s, kt(ir, t, l));
}

/* q = x / d unsigned for d with the top bit set: q is x >= d, computed without a branch as
 * (x & ~(x - d)) >> (w - 1) (Hacker's Delight 9-3). */
static fj_ref udiv_big(fj_ir *ir, uint8_t t, fj_ref x, uint64_t d) {
  fj_ref diff = fj_ir_op2(ir, FJ_IR_SUB, t, x, kt(ir, t, d));
  fj_ref nd = fj_ir_op2(ir, FJ_IR_XOR, t, diff, kt(ir, t, width_mask(t)));
  fj_ref a = fj_ir_op2(ir, FJ_IR_AND, t, x, nd);
  return fj_ir_op2(ir, FJ_IR_SHR, t, a, kt(ir, t, width_bits(t) - 1));
}

/* q = x / d signed, |d| >= 2 not a power of two, at width t (Hacker's Delight figure 10-1). */
static fj_ref sdiv_const(fj_ir *ir, uint8_t t, fj_ref x, int64_t d) {
  unsigned w = width_bits(t);
  u128 two = (u128)1 << (w - 1);
  u128 ad = d < 0 ? (u128)(0 - (uint64_t)d) : (u128)d;
  if (w == 32) ad &= 0xffffffffu;
  u128 tt = two + (d < 0 ? 1 : 0);
  u128 anc = tt - 1 - tt % ad;
  unsigned p = w - 1;
  u128 q1 = two / anc, r1 = two - q1 * anc, q2 = two / ad, r2 = two - q2 * ad, delta;
  do {
    p++;
    q1 *= 2; r1 *= 2;
    if (r1 >= anc) { q1++; r1 -= anc; }
    q2 *= 2; r2 *= 2;
    if (r2 >= ad) { q2++; r2 -= ad; }
    delta = ad - r2;
  } while (q1 < delta || (q1 == delta && r1 == 0));
  uint64_t M = (uint64_t)(q2 + 1);
  if (d < 0) M = 0 - M;
  M &= width_mask(t);
  unsigned s = p - w;
  bool mneg = (M >> (w - 1)) & 1;
  fj_ref q = fj_ir_op2(ir, FJ_IR_MULHS, t, x, kt(ir, t, M));
  if (d > 0 && mneg) q = fj_ir_op2(ir, FJ_IR_ADD, t, q, x);
  if (d < 0 && !mneg) q = fj_ir_op2(ir, FJ_IR_SUB, t, q, x);
  if (s) q = fj_ir_op2(ir, FJ_IR_SAR, t, q, kt(ir, t, s));
  fj_ref sign = fj_ir_op2(ir, FJ_IR_SHR, t, q, kt(ir, t, w - 1));
  return fj_ir_op2(ir, FJ_IR_ADD, t, q, sign);
}

/* x / d signed for d = +-2^k, k >= 1. */
static fj_ref sdiv_pow2(fj_ir *ir, uint8_t t, fj_ref x, unsigned k, bool neg) {
  unsigned w = width_bits(t);
  fj_ref bias = fj_ir_op2(ir, FJ_IR_SAR, t, x, kt(ir, t, k - 1));
  bias = fj_ir_op2(ir, FJ_IR_SHR, t, bias, kt(ir, t, w - k));
  fj_ref q = fj_ir_op2(ir, FJ_IR_ADD, t, x, bias);
  q = fj_ir_op2(ir, FJ_IR_SAR, t, q, kt(ir, t, k));
  return neg ? fj_ir_op2(ir, FJ_IR_NEG, t, q, FJ_REF_NONE) : q;
}

/* Division/modulo by the constant d (already masked to the width).  Returns NONE if no rule. */
static fj_ref fold_div(fj_ir *ir, const fj_ir_ins *ins, fj_ref x, uint64_t d) {
  uint8_t t = ins->type;
  /* Unsigned 64-bit division of a value known to fit 32 bits by a divisor that does: the 32-bit
   * division gives the same zero-extended quotient and remainder, with a 32-bit magic number. */
  if (t == FJ_IRT_I64 && (ins->op == FJ_IR_UDIV || ins->op == FJ_IR_UMOD) && known32(ir, x) &&
      d <= 0xffffffffu)
    t = FJ_IRT_I32;
  unsigned w = width_bits(t);
  switch (ins->op) {
  case FJ_IR_UDIV:
    if (d == 0) return kt(ir, t, 0);
    if (d == 1) return as_type(ir, x, t);
    if (is_pow2(d)) return fj_ir_op2(ir, FJ_IR_SHR, t, x, kt(ir, t, log2u(d)));
    if (d > (width_mask(t) >> 1)) return udiv_big(ir, t, x, d);
    return udiv_const(ir, t, x, d);
  case FJ_IR_UMOD: {
    if (d == 0) return as_type(ir, x, t);
    if (d == 1) return kt(ir, t, 0);
    if (is_pow2(d)) return fj_ir_op2(ir, FJ_IR_AND, t, x, kt(ir, t, d - 1));
    if (d > (width_mask(t) >> 1)) {
      /* x - (q ? d : 0) with q = 0 or 1 */
      fj_ref q = udiv_big(ir, t, x, d);
      fj_ref m = fj_ir_op2(ir, FJ_IR_NEG, t, q, FJ_REF_NONE);
      return fj_ir_op2(ir, FJ_IR_SUB, t, x, fj_ir_op2(ir, FJ_IR_AND, t, m, kt(ir, t, d)));
    }
    fj_ref q = udiv_const(ir, t, x, d);
    fj_ref p = fj_ir_op2(ir, FJ_IR_MUL, t, q, kt(ir, t, d));
    return fj_ir_op2(ir, FJ_IR_SUB, t, x, p);
  }
  case FJ_IR_SDIV:
  case FJ_IR_SMOD: {
    int64_t sd = w == 32 ? (int64_t)(int32_t)d : (int64_t)d;
    bool div = ins->op == FJ_IR_SDIV;
    if (sd == 0) return div ? kt(ir, t, 0) : as_type(ir, x, t);
    if (sd == 1) return div ? as_type(ir, x, t) : kt(ir, t, 0);
    if (sd == -1) return div ? fj_ir_op2(ir, FJ_IR_NEG, t, x, FJ_REF_NONE) : kt(ir, t, 0);
    uint64_t ad = sd < 0 ? (0 - (uint64_t)sd) & width_mask(t) : (uint64_t)sd;
    fj_ref q = is_pow2(ad) ? sdiv_pow2(ir, t, x, log2u(ad), sd < 0) : sdiv_const(ir, t, x, sd);
    if (div) return q;
    fj_ref p = fj_ir_op2(ir, FJ_IR_MUL, t, q, kt(ir, t, d));
    return fj_ir_op2(ir, FJ_IR_SUB, t, x, p);
  }
  default:
    return FJ_REF_NONE;
  }
}

/* ---- rules -------------------------------------------------------------------------------- */

/* May a rule look through operand instruction d (ref r)?  Not from the loop body into the
 * pre-roll: that would make the body use pre-roll values that vary, costing extra PHIs. */
static bool can_look_through(const fj_ir *ir, fj_ref r) {
  return ir->loop == FJ_REF_NONE || r > ir->loop;
}

/* Strip operand wrappers an I32 op does not need: ZEXT 32 of y reads as y in the low half
 * (not from the loop body into the pre-roll: y would need a PHI of its own). */
static fj_ref low32(const fj_ir *ir, fj_ref r) {
  if (!is_k(r) && can_look_through(ir, r)) {
    const fj_ir_ins *d = fj_ir_at(ir, r);
    if (d->op == FJ_IR_ZEXT && d->aux == 32) return d->a;
  }
  return r;
}

#define NOFOLD ((fj_ref)~0u)

/* The largest value x can have here by earlier 64-bit guards comparing it unsigned with a
 * value below 2^32 (x < n, x <= n, x == n, n > x, n >= x), or UINT64_MAX.  In the loop body a
 * pre-roll guard on a pre-roll x also bounds x's current value: the body's copy of the guard
 * checked it before the back edge. */
static uint64_t guard_bound(const fj_ir *ir, fj_ref x) {
  static const uint8_t ops[] = {FJ_IR_ULT, FJ_IR_ULE, FJ_IR_EQ, FJ_IR_UGT, FJ_IR_UGE};
  uint64_t best = UINT64_MAX;
  for (unsigned o = 0; o < sizeof ops; o++) {
    for (fj_ref r = ir->chain[ops[o]]; r > x; r = fj_ir_at(ir, r)->prev) {
      const fj_ir_ins *g = fj_ir_at(ir, r);
      bool rev = ops[o] == FJ_IR_UGT || ops[o] == FJ_IR_UGE;  /* n > x, n >= x */
      fj_ref n = rev ? g->a : g->b;
      if (g->type != FJ_IRT_I64 || (rev ? g->b : g->a) != x || !known32(ir, n)) continue;
      bool strict = ops[o] == FJ_IR_ULT || ops[o] == FJ_IR_UGT;
      uint64_t hi = is_k(n) ? fj_ir_kval(ir, n) : 0xffffffffu;
      if (strict && hi == 0) continue;  /* never holds: the guard always exits */
      if (strict) hi--;
      if (hi < best) best = hi;
    }
  }
  return best;
}

/* The smallest value x can have here by earlier 64-bit guards comparing it unsigned with a
 * constant (x > k, x >= k, x == k, k < x, k <= x), or 0; in the loop body as guard_bound. */
static uint64_t guard_lower(const fj_ir *ir, fj_ref x) {
  static const uint8_t ops[] = {FJ_IR_UGT, FJ_IR_UGE, FJ_IR_EQ, FJ_IR_ULT, FJ_IR_ULE};
  uint64_t best = 0;
  for (unsigned o = 0; o < sizeof ops; o++) {
    for (fj_ref r = ir->chain[ops[o]]; r > x; r = fj_ir_at(ir, r)->prev) {
      const fj_ir_ins *g = fj_ir_at(ir, r);
      bool rev = ops[o] == FJ_IR_ULT || ops[o] == FJ_IR_ULE;  /* k < x, k <= x */
      fj_ref k = rev ? g->a : g->b;
      if (g->type != FJ_IRT_I64 || (rev ? g->b : g->a) != x || !is_k(k)) continue;
      uint64_t lo = fj_ir_kval(ir, k);
      bool strict = ops[o] == FJ_IR_UGT || ops[o] == FJ_IR_ULT;
      if (strict && lo == UINT64_MAX) continue;  /* never holds: the guard always exits */
      if (strict) lo++;
      if (lo > best) best = lo;
    }
  }
  return best;
}

/* Emit *ins (an I64 op whose result provably fits 32 bits) as the I32 op of the same name:
 * constant operands re-interned truncated, ZEXT 32 wrappers stripped by the I32 rules. */
static fj_ref retype32(fj_ir *ir, fj_ir_ins *ins) {
  ins->type = FJ_IRT_I32;
  if (is_k(ins->a)) ins->a = kt(ir, FJ_IRT_I32, fj_ir_kval(ir, ins->a));
  if (ins->b && is_k(ins->b)) ins->b = kt(ir, FJ_IRT_I32, fj_ir_kval(ir, ins->b));
  return fj_ir_emit(ir, ins);
}

/* Returns a replacement ref, NOFOLD to emit *ins (possibly rewritten), or FJ_REF_NONE for a
 * guard that always holds. */
static fj_ref fold_pure(fj_ir *ir, fj_ir_ins *ins) {
  uint8_t t = ins->type;
  uint64_t mask = width_mask(t);
  unsigned fl = fj_ir_op_table[ins->op].flags;
  if (t == FJ_IRT_I32 && ins->op != FJ_IR_ZEXT && ins->op != FJ_IR_SEXT &&
      ins->op != FJ_IR_BSWAP) {
    if (ins->a) ins->a = low32(ir, ins->a);
    if (ins->b) ins->b = low32(ir, ins->b);
  }
  if ((fl & FJ_IRF_COMM) && is_k(ins->a) && !is_k(ins->b)) {
    fj_ref x = ins->a; ins->a = ins->b; ins->b = x;
  }
  fj_ref a = ins->a, b = ins->b;
  bool ka = is_k(a), kb = b && is_k(b);
  uint64_t va = ka ? fj_ir_kval(ir, a) : 0, vb = kb ? fj_ir_kval(ir, b) & mask : 0;

  if (ka && (kb || fj_ir_op_table[ins->op].mode_b == FJ_IRM_N))
    return kt(ir, t, fj_ir_arith((enum fj_ir_op)ins->op, (enum fj_irt)t, ins->aux, va, vb));

  switch (ins->op) {
  case FJ_IR_ADD:
    if (kb && vb == 0) return as_type(ir, a, t);
    /* (ZEXT 32 of x) + k where guards bound x so that the sum fits 32 bits: an I32 ADD (a loop
     * counter i + 1 after i < n with n below 2^32, codegen/build.c's jcond knowledge). */
    if (kb && t == FJ_IRT_I64 && vb <= 0xffffffffu) {
      const fj_ir_ins *d = fj_ir_at(ir, a);
      if (d->op == FJ_IR_ZEXT && d->aux == 32 && !is_k(d->a)) {
        uint64_t hi = guard_bound(ir, d->a);
        if (hi <= 0xffffffffu && vb <= 0xffffffffu - hi) return retype32(ir, ins);
      }
    }
    /* (ZEXT 32 of x) - k with guards keeping x in [k, 2^32): an I32 ADD (a counter n - 1 down
     * to 0, fj_opt_loop's equality-bounded counters) */
    if (kb && t == FJ_IRT_I64 && 0 - vb <= 0xffffffffu) {
      const fj_ir_ins *d = fj_ir_at(ir, a);
      if (d->op == FJ_IR_ZEXT && d->aux == 32 && !is_k(d->a) &&
          guard_bound(ir, d->a) <= 0xffffffffu && guard_lower(ir, d->a) >= 0 - vb)
        return retype32(ir, ins);
    }
    if (kb) {
      /* (y + k1) + k2 -> y + (k1 + k2) */
      const fj_ir_ins *d = fj_ir_at(ir, a);
      if (d->op == FJ_IR_ADD && d->type == t && is_k(d->b) && can_look_through(ir, a)) {
        ins->a = d->a;
        ins->b = kt(ir, t, fj_ir_kval(ir, d->b) + vb);
        return fj_ir_emit(ir, ins);
      }
    }
    break;
  case FJ_IR_SUB:
    if (a == b) return kt(ir, t, 0);
    if (kb) {
      if (vb == 0) return as_type(ir, a, t);
      ins->op = FJ_IR_ADD;
      ins->b = kt(ir, t, 0 - vb);
      return fj_ir_emit(ir, ins);
    }
    if (ka && va == 0) return fj_ir_op2(ir, FJ_IR_NEG, (enum fj_irt)t, b, FJ_REF_NONE);
    break;
  case FJ_IR_MUL:
    if (kb) {
      if (vb == 0) return kt(ir, t, 0);
      if (vb == 1) return as_type(ir, a, t);
      if (is_pow2(vb)) return fj_ir_op2(ir, FJ_IR_SHL, (enum fj_irt)t, a, kt(ir, t, log2u(vb)));
    }
    break;
  case FJ_IR_MULHU:
  case FJ_IR_MULHS:
    if (kb && vb == 0) return kt(ir, t, 0);
    break;
  case FJ_IR_UDIV:
  case FJ_IR_UMOD:
  case FJ_IR_SDIV:
  case FJ_IR_SMOD:
    if (kb) {
      fj_ref r = fold_div(ir, ins, a, vb);
      if (r) return r;
    }
    if (a == b && (ins->op == FJ_IR_UMOD || ins->op == FJ_IR_SMOD)) return kt(ir, t, 0);
    /* Unsigned 64-bit division of two values below 2^32 is the 32-bit one (x / 0 = 0 and
     * x % 0 = x at both widths). */
    if (t == FJ_IRT_I64 && (ins->op == FJ_IR_UDIV || ins->op == FJ_IR_UMOD) && known32(ir, a) &&
        known32(ir, b))
      return retype32(ir, ins);
    break;
  case FJ_IR_AND:
    if (a == b) return as_type(ir, a, t);
    if (kb) {
      if (vb == 0) return kt(ir, t, 0);
      if (vb == mask) return as_type(ir, a, t);
      if (vb == 0xffffffffu && t == FJ_IRT_I64) return as_type(ir, a, FJ_IRT_I32);
      if (vb == 0xff || vb == 0xffff) {
        ins->op = FJ_IR_ZEXT;
        ins->type = FJ_IRT_I32;
        ins->aux = vb == 0xff ? 8 : 16;
        ins->b = FJ_REF_NONE;
        return fj_ir_emit(ir, ins);
      }
      /* (y & k1) & k2 -> y & (k1 & k2) */
      const fj_ir_ins *d = fj_ir_at(ir, a);
      if (d->op == FJ_IR_AND && d->type == t && is_k(d->b) && can_look_through(ir, a)) {
        ins->a = d->a;
        ins->b = kt(ir, t, fj_ir_kval(ir, d->b) & vb);
        return fj_ir_emit(ir, ins);
      }
      /* A 64-bit AND with a mask below 2^32 has a 32-bit result. */
      if (t == FJ_IRT_I64 && vb <= 0xffffffffu) {
        ins->type = FJ_IRT_I32;
        ins->b = kt(ir, FJ_IRT_I32, vb);
        return fj_ir_emit(ir, ins);
      }
    }
    /* ... and so does one with any operand known to fit 32 bits (the other's upper half is
     * cleared anyway): the I32 AND reads the low halves. */
    if (t == FJ_IRT_I64 && (known32(ir, a) || known32(ir, b))) return retype32(ir, ins);
    break;
  case FJ_IR_OR:
    if (a == b) return as_type(ir, a, t);
    if (kb && vb == 0) return as_type(ir, a, t);
    if (kb && vb == mask) return kt(ir, t, mask);
    if (t == FJ_IRT_I64 && known32(ir, a) && known32(ir, b)) return retype32(ir, ins);
    break;
  case FJ_IR_XOR:
    if (a == b) return kt(ir, t, 0);
    if (kb && vb == 0) return as_type(ir, a, t);
    if (t == FJ_IRT_I64 && known32(ir, a) && known32(ir, b)) return retype32(ir, ins);
    break;
  case FJ_IR_SHL:
  case FJ_IR_SHR:
  case FJ_IR_SAR:
    if (kb) {
      uint64_t c = vb & (width_bits(t) - 1);
      if (c == 0) return as_type(ir, a, t);
      if (c != vb) { ins->b = kt(ir, t, c); return fj_ir_emit(ir, ins); }
      /* (x << c) >> c with c = 32/48/56: the zero- or sign-extension idiom clang emits */
      if (t == FJ_IRT_I64 && ins->op != FJ_IR_SHL && (c == 32 || c == 48 || c == 56) &&
          can_look_through(ir, a)) {
        const fj_ir_ins *d = fj_ir_at(ir, a);
        if (d->op == FJ_IR_SHL && d->type == FJ_IRT_I64 && fj_ir_is_kval(ir, d->b, c)) {
          if (ins->op == FJ_IR_SHR)
            return fj_ir_op1(ir, FJ_IR_ZEXT, FJ_IRT_I32, d->a, (uint16_t)(64 - c));
          return fj_ir_op1(ir, FJ_IR_SEXT, FJ_IRT_I64, d->a, (uint16_t)(64 - c));
        }
      }
      /* A 64-bit right shift of a value below 2^32 (sign bit clear, so SAR = SHR): by 32 or
       * more it is 0, by less a 32-bit SHR. */
      if (t == FJ_IRT_I64 && ins->op != FJ_IR_SHL && known32(ir, a)) {
        if (c >= 32) return kt(ir, FJ_IRT_I32, 0);
        ins->op = FJ_IR_SHR;
        return retype32(ir, ins);
      }
    }
    if (ka && va == 0) return kt(ir, t, 0);
    break;
  case FJ_IR_NEG: {
    const fj_ir_ins *d = fj_ir_at(ir, a);
    if (d->op == FJ_IR_NEG && d->type == t) return as_type(ir, d->a, t);
    break;
  }
  case FJ_IR_ZEXT:
    if (ins->aux >= 64) return a;
    if (ins->aux == 32 && known32(ir, a)) return a;
    ins->type = FJ_IRT_I32;
    if (!is_k(a)) {
      const fj_ir_ins *d = fj_ir_at(ir, a);
      /* zext of a narrower zext or of a narrow load/bswap: nothing to do */
      if (d->op == FJ_IR_ZEXT && d->aux <= ins->aux) return a;
      if (d->op == FJ_IR_LOAD && !(d->aux & FJ_MEM_SIGNED) && fj_mem_width(d->aux) * 8 <= ins->aux)
        return a;
      if (d->op == FJ_IR_ZEXT && d->aux > ins->aux) { ins->a = d->a; return fj_ir_emit(ir, ins); }
    }
    break;
  case FJ_IR_SEXT:
    if (ins->aux >= width_bits(t)) return as_type(ir, a, t);
    break;
  default:
    break;
  }
  return NOFOLD;
}

/* The values of x for which "x cond k" holds, as an interval of unsigned numbers; signed
 * conditions are mapped to unsigned order by flipping the sign bit (*flip).  False when the
 * set is not an interval (NE, TEST, NTEST) or is empty. */
static bool cond_interval(enum fj_ir_op c, uint8_t t, uint64_t k, bool *flip, uint64_t *lo,
                          uint64_t *hi) {
  uint64_t max = width_mask(t), sbit = (max >> 1) + 1;
  *flip = c == FJ_IR_LT || c == FJ_IR_LE || c == FJ_IR_GT || c == FJ_IR_GE;
  if (*flip) k ^= sbit;
  switch (c) {
  case FJ_IR_EQ: *lo = *hi = k; return true;
  case FJ_IR_ULT: case FJ_IR_LT: if (k == 0) return false; *lo = 0; *hi = k - 1; return true;
  case FJ_IR_ULE: case FJ_IR_LE: *lo = 0; *hi = k; return true;
  case FJ_IR_UGT: case FJ_IR_GT: if (k == max) return false; *lo = k + 1; *hi = max; return true;
  case FJ_IR_UGE: case FJ_IR_GE: *lo = k; *hi = max; return true;
  default: return false;
  }
}

/* Does an earlier guard on the same value and a constant imply "a cond kb"?  Returns 1 if
 * implied, -1 if contradicted (an earlier EQ says it fails), 0 if unknown. */
static int implied(const fj_ir *ir, enum fj_ir_op c, uint8_t t, fj_ref a, uint64_t kb) {
  bool fn;
  uint64_t lo, hi;
  bool have = cond_interval(c, t, kb, &fn, &lo, &hi);
  for (unsigned op = FJ_IR_EQ; op <= FJ_IR_GT; op++) {
    if (op == FJ_IR_NE) continue;
    for (fj_ref r = ir->chain[op]; r > a; r = fj_ir_at(ir, r)->prev) {
      const fj_ir_ins *g = fj_ir_at(ir, r);
      if (g->a != a || !is_k(g->b) || g->type != t) continue;
      uint64_t kg = fj_ir_kval(ir, g->b) & width_mask(t);
      if (op == FJ_IR_EQ) return fj_ir_cond(c, (enum fj_irt)t, kg, kb) ? 1 : -1;
      bool fg;
      uint64_t glo, ghi;
      if (have && cond_interval((enum fj_ir_op)op, t, kg, &fg, &glo, &ghi) && fg == fn &&
          glo >= lo && ghi <= hi)
        return 1;
    }
  }
  return 0;
}

static fj_ref fold_guard(fj_ir *ir, fj_ir_ins *ins) {
  uint8_t t = ins->type;
  if (t == FJ_IRT_I32) {
    ins->a = low32(ir, ins->a);
    ins->b = low32(ir, ins->b);
  }
  if (is_k(ins->a) && !is_k(ins->b)) {
    fj_ref x = ins->a; ins->a = ins->b; ins->b = x;
    ins->op = (uint8_t)fj_ir_cond_swap((enum fj_ir_op)ins->op);
  }
  fj_ref a = ins->a, b = ins->b;
  if (is_k(a) && is_k(b)) {
    if (fj_ir_cond((enum fj_ir_op)ins->op, (enum fj_irt)t, fj_ir_kval(ir, a), fj_ir_kval(ir, b)))
      return FJ_REF_NONE;
    fj_ir_abort(ir, FJ_ABORT_GUARD_FAIL, "guard %s on constants always fails (snap %u)",
                fj_ir_op_name(ins->op), ins->snap);
  }
  /* 64-bit compares of a value below 2^32: against another such value they are 32-bit compares
   * (both are non-negative as signed 64-bit numbers, so signed order is unsigned order too);
   * against a constant above the range their outcome is known. */
  if (t == FJ_IRT_I64 && known32(ir, a) && ins->op <= FJ_IR_GT) {
    if (known32(ir, b)) {
      static const uint8_t to_unsigned[] = {[FJ_IR_LT] = FJ_IR_ULT, [FJ_IR_GE] = FJ_IR_UGE,
                                            [FJ_IR_LE] = FJ_IR_ULE, [FJ_IR_GT] = FJ_IR_UGT};
      if (ins->op >= FJ_IR_LT) ins->op = to_unsigned[ins->op];
      ins->type = t = FJ_IRT_I32;
      ins->a = a = low32(ir, a);
      ins->b = b = is_k(b) ? fj_ir_kint(ir, FJ_IRT_I32, fj_ir_kval(ir, b)) : low32(ir, b);
    } else if (is_k(b)) {
      /* a in [0, 2^32) and k outside it: k > a unsigned; signed, k > a unless k is negative */
      bool kneg = (int64_t)fj_ir_kval(ir, b) < 0, holds;
      switch (ins->op) {
      case FJ_IR_NE: case FJ_IR_ULT: case FJ_IR_ULE: holds = true; break;
      case FJ_IR_EQ: case FJ_IR_UGT: case FJ_IR_UGE: holds = false; break;
      case FJ_IR_LT: case FJ_IR_LE: holds = !kneg; break;
      default: holds = kneg; break;  /* GT, GE */
      }
      if (holds) return FJ_REF_NONE;
      fj_ir_abort(ir, FJ_ABORT_GUARD_FAIL, "guard %s of a 32-bit value against %#llx always "
                  "fails (snap %u)", fj_ir_op_name(ins->op),
                  (unsigned long long)fj_ir_kval(ir, b), ins->snap);
    }
  }
  enum fj_ir_op op = (enum fj_ir_op)ins->op;
  if (a == b) {
    switch (op) {
    case FJ_IR_EQ: case FJ_IR_UGE: case FJ_IR_ULE: case FJ_IR_GE: case FJ_IR_LE:
      return FJ_REF_NONE;
    case FJ_IR_NE: case FJ_IR_ULT: case FJ_IR_UGT: case FJ_IR_LT: case FJ_IR_GT:
      fj_ir_abort(ir, FJ_ABORT_GUARD_FAIL, "guard %s x, x always fails (snap %u)",
                  fj_ir_op_name(op), ins->snap);
    default:
      break;
    }
  }
  if (is_k(b)) {
    uint64_t v = fj_ir_kval(ir, b) & width_mask(t);
    if (v == 0 && op == FJ_IR_UGE) return FJ_REF_NONE;
    if (v == 0 && op == FJ_IR_ULT)
      fj_ir_abort(ir, FJ_ABORT_GUARD_FAIL, "guard ULT x, 0 always fails (snap %u)", ins->snap);
    if (v == 0 && (op == FJ_IR_TEST))
      fj_ir_abort(ir, FJ_ABORT_GUARD_FAIL, "guard TEST x, 0 always fails (snap %u)", ins->snap);
    if (v == 0 && op == FJ_IR_NTEST) return FJ_REF_NONE;
    if (v == width_mask(t) && op == FJ_IR_ULE) return FJ_REF_NONE;
  }
  /* (x & y) == 0  ->  NTEST x, y;  != 0  ->  TEST (JSET written as and + jeq/jne) */
  if ((op == FJ_IR_EQ || op == FJ_IR_NE) && fj_ir_is_kval(ir, b, 0) && !is_k(a) &&
      can_look_through(ir, a)) {
    const fj_ir_ins *d = fj_ir_at(ir, a);
    if (d->op == FJ_IR_AND || (d->op == FJ_IR_ZEXT && d->aux < 32)) {
      fj_ref x = d->a, y = d->op == FJ_IR_AND ? d->b
                                               : fj_ir_kint(ir, FJ_IRT_I32, (1u << d->aux) - 1);
      ins->op = op == FJ_IR_EQ ? FJ_IR_NTEST : FJ_IR_TEST;
      ins->type = (t == FJ_IRT_I32 || fj_ir_at(ir, a)->type == FJ_IRT_I32) ? FJ_IRT_I32
                                                                          : FJ_IRT_I64;
      ins->a = x;
      ins->b = y;
      return fj_ir_emit(ir, ins);
    }
  }
  if (is_k(ins->b) && !is_k(ins->a) && ins->op >= FJ_IR_EQ && ins->op <= FJ_IR_GT) {
    int imp = implied(ir, (enum fj_ir_op)ins->op, ins->type, ins->a,
                      fj_ir_kval(ir, ins->b) & width_mask(ins->type));
    if (imp > 0) return FJ_REF_NONE;
    if (imp < 0)
      fj_ir_abort(ir, FJ_ABORT_GUARD_FAIL, "guard %s contradicts an earlier EQ (snap %u)",
                  fj_ir_op_name(ins->op), ins->snap);
  }
  if (op == FJ_IR_TEST || op == FJ_IR_NTEST) {
    if (t == FJ_IRT_I64 && is_k(b) && fj_ir_kval(ir, b) <= 0xffffffffu) {
      ins->type = FJ_IRT_I32;
      ins->b = fj_ir_kint(ir, FJ_IRT_I32, fj_ir_kval(ir, b));
      ins->a = low32(ir, ins->a);
    }
  }
  return NOFOLD;
}

fj_ref fj_fold_emit(fj_ir *ir, const fj_ir_ins *in) {
  fj_ir_ins ins = *in;
  unsigned fl = fj_ir_op_table[ins.op].flags;
  fj_ref r = NOFOLD;
  if (fl & FJ_IRF_PURE) {
    if (ins.type != FJ_IRT_I32) ins.type = FJ_IRT_I64;
    r = fold_pure(ir, &ins);
  } else if (fl & FJ_IRF_GUARD) {
    if (ins.type != FJ_IRT_I32) ins.type = FJ_IRT_I64;
    r = fold_guard(ir, &ins);
  } else if (ins.op == FJ_IR_SLOAD || ins.op == FJ_IR_LOAD) {
    r = fj_mem_fwd(ir, &ins);
    if (r == FJ_REF_NONE) r = NOFOLD;
  }
  if (r != NOFOLD) return r;
  fj_ref c = cse(ir, &ins);
  if (c) return c;
  return fj_ir_emit_raw(ir, &ins);
}
