/* farjit codegen — memory optimizations: store-to-load forwarding and load CSE (called by fold
 * as loads are emitted), bounds-check widening (called by the builder), bounds checks out of
 * loop bodies -- with the budget guard of such counted loops and, on 32-bit-address targets,
 * their pointer induction variables narrowed -- and dead-store elimination (fj_opt_mem pass).
 * Alias model in codegen/opt_mem.h. */
#include "codegen/opt_mem.h"

#include <stdlib.h>
#include <string.h>

#include "codegen/opt.h"
#include "codegen/snap.h"
#include "farjit/jit.h"
#include "farjit/vm.h"

static fj_ref max_ref(fj_ref a, fj_ref b) { return a > b ? a : b; }

static bool overlap(int64_t o1, unsigned w1, int64_t o2, unsigned w2) {
  return o1 < o2 + (int64_t)w2 && o2 < o1 + (int64_t)w1;
}

/* Newest STORE to region k (0 if none). */
static fj_ref last_store_region(const fj_ir *ir, unsigned k) {
  for (fj_ref r = ir->chain[FJ_IR_STORE]; r; r = fj_ir_at(ir, r)->prev)
    if (fj_mem_region(fj_ir_at(ir, r)->aux) == k) return r;
  return 0;
}

/* Newest SSTORE overlapping [off, off + w). */
static fj_ref last_sstore_overlap(const fj_ir *ir, int64_t off, unsigned w) {
  for (fj_ref r = ir->chain[FJ_IR_SSTORE]; r; r = fj_ir_at(ir, r)->prev) {
    const fj_ir_ins *s = fj_ir_at(ir, r);
    if (overlap(s->lit, fj_mem_width(s->aux), off, w)) return r;
  }
  return 0;
}

fj_ref fj_mem_store_barrier(const fj_ir *ir, const fj_ir_ins *ins) {
  fj_ref b = max_ref(ir->chain[FJ_IR_ATOMIC], ir->chain[FJ_IR_CMPXCHG]);
  if (ins->op == FJ_IR_SLOAD) {
    b = max_ref(b, last_store_region(ir, 0));
    return max_ref(b, last_sstore_overlap(ir, ins->lit, fj_mem_width(ins->aux)));
  }
  unsigned k = fj_mem_region(ins->aux);
  b = max_ref(b, last_store_region(ir, k));
  if (k == 0) b = max_ref(b, ir->chain[FJ_IR_SSTORE]);
  return b;
}

/* The value a load of width w (signed?) reads back from a store of v with the same width. */
static fj_ref reload_value(fj_ir *ir, fj_ref v, unsigned w, bool sign) {
  if (w == 8) return v;
  if (sign) return fj_ir_op1(ir, FJ_IR_SEXT, FJ_IRT_I64, v, (uint16_t)(8 * w));
  return fj_ir_op1(ir, FJ_IR_ZEXT, FJ_IRT_I32, v, (uint16_t)(8 * w));
}

fj_ref fj_mem_fwd(fj_ir *ir, const fj_ir_ins *ins) {
  fj_ref bar = max_ref(max_ref(ir->chain[FJ_IR_CALL], ir->chain[FJ_IR_CALLL]),
                       max_ref(ir->chain[FJ_IR_ATOMIC], ir->chain[FJ_IR_CMPXCHG]));
  unsigned w = fj_mem_width(ins->aux);
  bool sign = (ins->aux & FJ_MEM_SIGNED) != 0;
  if (ins->op == FJ_IR_SLOAD) {
    bar = max_ref(bar, last_store_region(ir, 0));
    for (fj_ref r = ir->chain[FJ_IR_SSTORE]; r > bar; r = fj_ir_at(ir, r)->prev) {
      const fj_ir_ins *s = fj_ir_at(ir, r);
      unsigned sw = fj_mem_width(s->aux);
      if (!overlap(s->lit, sw, ins->lit, w)) continue;
      if (s->lit == ins->lit && sw == w) return reload_value(ir, s->b, w, sign);
      return FJ_REF_NONE;
    }
    return FJ_REF_NONE;
  }
  if (ins->op == FJ_IR_LOAD) {
    unsigned k = fj_mem_region(ins->aux);
    if (k == 0) bar = max_ref(bar, ir->chain[FJ_IR_SSTORE]);
    for (fj_ref r = ir->chain[FJ_IR_STORE]; r > bar; r = fj_ir_at(ir, r)->prev) {
      const fj_ir_ins *s = fj_ir_at(ir, r);
      if (fj_mem_region(s->aux) != k) continue;
      if (s->a == ins->a && fj_mem_width(s->aux) == w) return reload_value(ir, s->b, w, sign);
      return FJ_REF_NONE;
    }
  }
  return FJ_REF_NONE;
}

/* ---- bounds checks ------------------------------------------------------------------------ */

static fj_ref emit_raw2(fj_ir *ir, enum fj_ir_op op, enum fj_irt t, fj_ref a, fj_ref b,
                        uint32_t snap) {
  fj_ir_ins ins = {.op = (uint8_t)op, .type = (uint8_t)t, .a = a, .b = b};
  ins.snap = snap;
  return fj_ir_emit_raw(ir, &ins);
}

static fj_ref state_load(fj_ir *ir, int32_t off, unsigned w) {
  fj_ir_ins ins = {.op = FJ_IR_SLD, .type = w == 8 ? FJ_IRT_I64 : FJ_IRT_I32, .aux = (uint16_t)w};
  ins.lit = off;
  return fj_ir_emit(ir, &ins);
}

static fj_ref host_load(fj_ir *ir, fj_ref p, int32_t off, unsigned w) {
  fj_ir_ins ins = {.op = FJ_IR_HLD, .type = w == 8 ? FJ_IRT_I64 : FJ_IRT_I32, .aux = (uint16_t)w,
                   .a = p};
  ins.lit = off;
  return fj_ir_emit(ir, &ins);
}

void fj_mem_bounds(fj_ir *ir, fj_bchk_set *s, fj_ref p, int64_t lo, unsigned w, unsigned region,
                   bool write, uint32_t snap) {
  int64_t hi = lo + (int64_t)w;
  for (unsigned i = 0; i < s->n && !(ir->flags & FJ_IR_NOFOLD); i++) {
    fj_bchk *c = &s->e[i];
    if (c->p != p || c->region != region || c->write != write) continue;
    if (lo >= c->lo && hi <= c->hi) return;  /* covered */
    int64_t nlo = lo < c->lo ? lo : c->lo, nhi = hi > c->hi ? hi : c->hi;
    if (nhi - nlo > FJ_BCHK_MAX_SPAN) continue;
    c->lo = nlo;
    c->hi = nhi;
    /* Intern first: a new constant may move the buffer under fj_ir_at's pointer. */
    fj_ref klo = fj_ir_k64(ir, (uint64_t)nlo), klim = fj_ir_k64(ir, (uint64_t)-(nhi - nlo));
    fj_ref kspan = fj_ir_k64(ir, (uint64_t)(nhi - nlo));
    fj_ir_at(ir, c->add)->b = klo;
    fj_ir_at(ir, c->lim)->b = klim;
    fj_ir_at(ir, c->g1)->b = kspan;
    return;
  }
  fj_ref tab = state_load(ir, FJ_JIT_OFF_REGIONS, 8);
  if (region >= 2) {
    fj_ref n = state_load(ir, FJ_JIT_OFF_NREGIONS, 4);
    fj_ir_guard(ir, FJ_IR_UGT, FJ_IRT_I32, n, fj_ir_kint(ir, FJ_IRT_I32, region), snap);
  }
  int32_t roff = (int32_t)(region * FJ_REGION_SIZEOF);
  fj_ref flags = host_load(ir, tab, roff + 16, 4);
  fj_ir_guard(ir, FJ_IR_TEST, FJ_IRT_I32, flags,
              fj_ir_kint(ir, FJ_IRT_I32, write ? FJ_REGION_WRITE : FJ_REGION_READ), snap);
  fj_ref base = host_load(ir, tab, roff + FJ_REGION_OFF_BASE, 8);
  fj_ref size = host_load(ir, tab, roff + FJ_REGION_OFF_SIZE, 8);
  /* size >= span; (p - base + lo) <= size - span  (unsigned: also catches p + lo < base) */
  fj_bchk c = {.p = p, .region = (uint8_t)region, .write = write, .lo = lo, .hi = hi};
  c.g1 = emit_raw2(ir, FJ_IR_UGE, FJ_IRT_I64, size, fj_ir_k64(ir, w), snap);
  c.lim = emit_raw2(ir, FJ_IR_ADD, FJ_IRT_I64, size, fj_ir_k64(ir, (uint64_t)-(int64_t)w), 0);
  fj_ref off = fj_ir_op2(ir, FJ_IR_SUB, FJ_IRT_I64, p, base);
  c.add = emit_raw2(ir, FJ_IR_ADD, FJ_IRT_I64, off, fj_ir_k64(ir, (uint64_t)lo), 0);
  emit_raw2(ir, FJ_IR_ULE, FJ_IRT_I64, c.add, c.lim, snap);
  if (s->n < FJ_BCHK_MAX) s->e[s->n++] = c;
  else { s->e[s->next] = c; s->next = (s->next + 1) % FJ_BCHK_MAX; }
}

/* ---- bounds checks out of loop bodies ------------------------------------------------------ */
/* After fj_opt_loop the body copy of an invariant check CSEs to its pre-roll original, so the
 * checks left in the body are those whose address varies.  Values linear in the induction
 * variables (PHI a b with b = a + step) -- ADD, SUB, NEG, and SHL/MUL by constants, all at 64
 * bits, i.e. arithmetic mod 2^64 -- advance by a constant D per iteration: on the j-th body
 * iteration x_j = x_0 + D * j, x_0 being the same expression over the pre-roll refs.  A body
 * guard comparing an induction variable's next value b with an invariant n bounds the body
 * iterations that can run: j <= J, with J computed at the end of the pre-roll from a and n
 * (guards there exclude wraparound and signed/unsigned disagreement; an I32 variable counts
 * only where that guard also keeps it from wrapping at 2^32).  A bounds check "x_j <= L"
 * (L = region size - span, invariant) then holds on every iteration iff
 *   x_0 <= L  and  |D| * J <= L - x_0 (D > 0)  or  |D| * J <= x_0 (D < 0),
 * which is checked once before LOOP, and the body's check goes.  The new guards exit through a
 * copy of the loop snapshot (kind GUARD): the state at the pre-roll's back edge, where the
 * interpreter runs the loop itself and faults -- or leaves earlier -- exactly as it would have.
 * Anything else (I32 arithmetic in the address, loads in it, steps that are not powers of
 * two, no bound guard, a loop that leaves on loaded data) keeps its check. */

enum {
  HX_MAX_IV = 32,
  HX_MAX_NEW = 512,     /* new pre-roll instructions per loop */
  HX_MAX_NODES = 16,    /* body instructions in one check's address */
  HX_MAX_CHECKS = 64,
  HX_SNAP = 0xffffffffu /* placeholder snapshot of the new guards until commit */
};

typedef struct hx_iv {
  fj_ref a, b;     /* PHI a b, b = ADD a #step */
  uint64_t step;   /* sign-extended for I32 */
  bool w32;        /* I32: wraps at 2^32, linear only where the bound guard rules that out */
} hx_iv;

typedef struct hx {
  fj_ir *ir;
  fj_ref loop, phi0;                /* LOOP, first PHI */
  hx_iv iv[HX_MAX_IV];
  unsigned niv;
  fj_ir_ins add[HX_MAX_NEW];        /* new pre-roll instructions, add[i] at ref loop + i */
  unsigned nadd;
  fj_ref memo_from[HX_MAX_NEW], memo_to[HX_MAX_NEW];  /* body ref -> its pre-roll clone */
  unsigned nmemo;
  bool no;                          /* a guard folded to "always fails": drop what was added */
  fj_ref kill[HX_MAX_CHECKS];       /* body checks made redundant */
  unsigned nkill;
} hx;

static bool hx_pow2(uint64_t v) { return v && !(v & (v - 1)); }
static unsigned hx_log2(uint64_t v) { return 63u - (unsigned)__builtin_clzll(v); }

/* Is pre-roll ref r a loop-carried value (the a of a PHI)? */
static bool hx_variant(const hx *h, fj_ref r) {
  for (fj_ref q = h->phi0; q < h->ir->top; q++) {
    const fj_ir_ins *i = fj_ir_at(h->ir, q);
    if (i->op == FJ_IR_PHI && i->a == r) return true;
  }
  return false;
}

/* Same value on every iteration: a constant or a pre-roll ref that no PHI carries. */
static bool hx_invariant(const hx *h, fj_ref r) {
  if (fj_ir_is_k(r)) return true;
  return r >= FJ_REF_BIAS && r < h->loop && !hx_variant(h, r);
}

static const hx_iv *hx_iv_of(const hx *h, fj_ref a) {
  for (unsigned k = 0; k < h->niv; k++)
    if (h->iv[k].a == a) return &h->iv[k];
  return NULL;
}

static void hx_find_ivs(hx *h) {
  const fj_ir *ir = h->ir;
  for (fj_ref q = h->phi0; q < ir->top && h->niv < HX_MAX_IV; q++) {
    const fj_ir_ins *p = fj_ir_at(ir, q);
    if (p->op != FJ_IR_PHI || p->b <= h->loop) continue;
    const fj_ir_ins *b = fj_ir_at(ir, p->b);
    if (b->op != FJ_IR_ADD || b->type != p->type || fj_ir_at(ir, p->a)->type != p->type)
      continue;
    fj_ref k = b->a == p->a ? b->b : b->b == p->a ? b->a : FJ_REF_NONE;
    if (!fj_ir_is_k(k)) continue;
    bool w32 = p->type == FJ_IRT_I32;
    uint64_t s = fj_ir_kval(ir, k);
    if (w32) s = (uint64_t)(int64_t)(int32_t)(uint32_t)s;
    if (s == 0) continue;
    h->iv[h->niv++] = (hx_iv){p->a, p->b, s, w32};
  }
}

/* Per-iteration increment of x (mod 2^64) if x is linear in the induction variables; *nodes
 * counts the body instructions visited, *m32 collects the I32 induction variables x uses (bit
 * k: a, bit 32 + k: b), linear only while they do not wrap. */
static bool hx_deriv(const hx *h, fj_ref x, unsigned *nodes, uint64_t *m32, uint32_t *mall,
                     uint64_t *d) {
  const fj_ir *ir = h->ir;
  if (fj_ir_is_k(x)) { *d = 0; return true; }
  if (x < FJ_REF_BIAS) return false;
  for (unsigned k = 0; k < h->niv; k++) {
    const hx_iv *v = &h->iv[k];
    if (x != v->a && !(v->w32 && x == v->b)) continue;
    if (v->w32) *m32 |= 1ull << (x == v->a ? k : 32 + k);
    *mall |= 1u << k;
    *d = v->step;
    return true;
  }
  if (x < h->loop) {
    *d = 0;
    return !hx_variant(h, x);
  }
  if (x >= h->phi0 || ++*nodes > HX_MAX_NODES) return false;
  const fj_ir_ins *i = fj_ir_at(ir, x);
  if (i->type != FJ_IRT_I64) return false;
  uint64_t da = 0, db = 0;
  switch (i->op) {
  case FJ_IR_ADD: case FJ_IR_SUB: case FJ_IR_MUL: case FJ_IR_SHL:
    if (!hx_deriv(h, i->b, nodes, m32, mall, &db)) return false;
    /* fall through */
  case FJ_IR_NEG:
    if (!hx_deriv(h, i->a, nodes, m32, mall, &da)) return false;
    break;
  default:
    return false;
  }
  switch (i->op) {
  case FJ_IR_ADD: *d = da + db; return true;
  case FJ_IR_SUB: *d = da - db; return true;
  case FJ_IR_NEG: *d = 0 - da; return true;
  case FJ_IR_SHL:
    if (!da && !db) { *d = 0; return true; }
    if (db || !fj_ir_is_k(i->b)) return false;
    *d = da << (fj_ir_kval(ir, i->b) & 63);
    return true;
  default: /* MUL */
    if (!da && !db) *d = 0;
    else if (fj_ir_is_k(i->b)) *d = da * fj_ir_kval(ir, i->b);
    else if (fj_ir_is_k(i->a)) *d = db * fj_ir_kval(ir, i->a);
    else return false;
    return true;
  }
}

/* A bounds check's limit: size - span of a region (fj_mem_bounds), loaded in the pre-roll. */
static bool hx_is_limit(const hx *h, fj_ref l) {
  if (!hx_invariant(h, l) || fj_ir_is_k(l)) return false;
  const fj_ir_ins *i = fj_ir_at(h->ir, l);
  if (i->op != FJ_IR_ADD || i->type != FJ_IRT_I64 || !fj_ir_is_k(i->b) || fj_ir_is_k(i->a))
    return false;
  const fj_ir_ins *s = fj_ir_at(h->ir, i->a);
  return s->op == FJ_IR_HLD && s->aux == 8 &&
         s->lit % FJ_REGION_SIZEOF == FJ_REGION_OFF_SIZE;
}

/* ---- the new pre-roll code (refs loop + i once inserted) ---- */

/* Is r (a constant, a pre-roll ref or a new one) known to fit 32 bits? */
static bool hx_known32(const hx *h, fj_ref r) {
  if (fj_ir_is_k(r)) return fj_ir_kval(h->ir, r) <= 0xffffffffu;
  if (r < h->loop) return fj_ir_at(h->ir, r)->type == FJ_IRT_I32;
  return r - h->loop < h->nadd && h->add[r - h->loop].type == FJ_IRT_I32;
}

static fj_ref hx_put_t(hx *h, enum fj_ir_op op, enum fj_irt ty, fj_ref a, fj_ref b) {
  /* the same value at 32 bits: a shift right (by < 32) or mask of a value below 2^32 */
  if (ty == FJ_IRT_I64 &&
      ((op == FJ_IR_SHR && hx_known32(h, a) && fj_ir_is_k(b) && fj_ir_kval(h->ir, b) < 32) ||
       (op == FJ_IR_AND && (hx_known32(h, a) || hx_known32(h, b)))))
    ty = FJ_IRT_I32;
  if (!fj_ir_is_guard(op)) {  /* the same value computed in the pre-roll (fj_opt_loop's) */
    for (fj_ref r = h->ir->chain[op]; r; r = fj_ir_at(h->ir, r)->prev) {
      const fj_ir_ins *i = fj_ir_at(h->ir, r);
      if (r < h->loop && i->type == ty && i->a == a && i->b == b) return r;
    }
  }
  if (h->nadd >= HX_MAX_NEW) {
    h->no = true;
    return a;
  }
  fj_ir_ins ins = {.op = (uint8_t)op, .type = (uint8_t)ty, .a = a, .b = b};
  if (fj_ir_is_guard(op)) ins.snap = HX_SNAP;
  h->add[h->nadd] = ins;
  return h->loop + h->nadd++;
}

static fj_ref hx_put(hx *h, enum fj_ir_op op, fj_ref a, fj_ref b) {
  return hx_put_t(h, op, FJ_IRT_I64, a, b);
}

static fj_ref hx_k(hx *h, uint64_t v) { return fj_ir_k64(h->ir, v); }

static fj_ref hx_op(hx *h, enum fj_ir_op op, fj_ref a, fj_ref b) {
  if (fj_ir_is_k(a) && (op == FJ_IR_NEG || fj_ir_is_k(b)))
    return hx_k(h, fj_ir_arith(op, FJ_IRT_I64, 0, fj_ir_kval(h->ir, a),
                               op == FJ_IR_NEG ? 0 : fj_ir_kval(h->ir, b)));
  if ((op == FJ_IR_ADD || op == FJ_IR_SUB || op == FJ_IR_SHR) && fj_ir_is_kval(h->ir, b, 0))
    return a;
  return hx_put(h, op, a, b);
}

static void hx_guard_t(hx *h, enum fj_ir_op cond, enum fj_irt ty, fj_ref a, fj_ref b) {
  if (fj_ir_is_k(a) && fj_ir_is_k(b)) {
    if (!fj_ir_cond(cond, ty, fj_ir_kval(h->ir, a), fj_ir_kval(h->ir, b))) h->no = true;
    return;
  }
  /* a value below 2^32 (e.g. a trip bound J computed at 32 bits) is <= 0xffffffff */
  if (ty == FJ_IRT_I64 && (cond == FJ_IR_ULE || cond == FJ_IR_ULT) && hx_known32(h, a) &&
      fj_ir_is_k(b) &&
      fj_ir_kval(h->ir, b) >= 0xffffffffu + (uint64_t)(cond == FJ_IR_ULT))
    return;
  /* unsigned order and equality of two values below 2^32 are the same at 32 bits (one
   * compare instead of two on a 32-bit target); signed order is not */
  const bool same32 =
      ty == FJ_IRT_I64 && hx_known32(h, a) && hx_known32(h, b) &&
      (cond == FJ_IR_ULT || cond == FJ_IR_ULE || cond == FJ_IR_UGT || cond == FJ_IR_UGE ||
       cond == FJ_IR_EQ || cond == FJ_IR_NE || cond == FJ_IR_TEST || cond == FJ_IR_NTEST);
  if (same32) ty = FJ_IRT_I32;
  /* the pre-roll's own exit guard often is one of these (either way round): it has passed */
  for (int swap = 0; swap < 2; swap++) {
    enum fj_ir_op c = swap ? fj_ir_cond_swap(cond) : cond;
    fj_ref x = swap ? b : a, y = swap ? a : b;
    for (fj_ref r = h->ir->chain[c]; r; r = fj_ir_at(h->ir, r)->prev) {
      const fj_ir_ins *g = fj_ir_at(h->ir, r);
      if (r < h->loop && (g->type == ty || (same32 && g->type == FJ_IRT_I64)) && g->a == x &&
          g->b == y)
        return;
    }
  }
  for (unsigned i = 0; i < h->nadd; i++) {
    const fj_ir_ins *g = &h->add[i];
    if (g->op == cond && g->type == ty && g->a == a && g->b == b) return;
  }
  hx_put_t(h, cond, ty, a, b);
}

static void hx_guard(hx *h, enum fj_ir_op cond, fj_ref a, fj_ref b) {
  hx_guard_t(h, cond, FJ_IRT_I64, a, b);
}

/* x over the pre-roll refs: the body instructions of x copied in front of LOOP. */
static fj_ref hx_clone(hx *h, fj_ref x) {
  if (fj_ir_is_k(x) || x < h->loop) return x;
  for (unsigned k = 0; k < h->nmemo; k++)
    if (h->memo_from[k] == x) return h->memo_to[k];
  fj_ir_ins ins = *fj_ir_at(h->ir, x);
  fj_ref a = hx_clone(h, ins.a);
  fj_ref b = ins.op == FJ_IR_NEG ? FJ_REF_NONE : hx_clone(h, ins.b);
  if (h->nadd >= HX_MAX_NEW || h->nmemo >= HX_MAX_NEW) { h->no = true; return x; }
  ins.a = a;
  ins.b = b;
  ins.prev = FJ_REF_NONE;
  h->add[h->nadd] = ins;
  fj_ref r = h->loop + h->nadd++;
  h->memo_from[h->nmemo] = x;
  h->memo_to[h->nmemo++] = r;
  return r;
}

/* J from d = J * t + (0 .. t - 1). */
static fj_ref hx_trips(hx *h, fj_ref d, uint64_t t) {
  return t > 1 ? hx_op(h, FJ_IR_SHR, d, hx_k(h, hx_log2(t))) : d;
}

/* Does a pre-roll guard keep y below 2^32 (y < n, y <= n, y == n, n > y, n >= y, n a value
 * below 2^32)? */
static bool hx_below32(const hx *h, fj_ref y) {
  static const uint8_t ops[] = {FJ_IR_ULT, FJ_IR_ULE, FJ_IR_EQ, FJ_IR_UGT, FJ_IR_UGE};
  const fj_ir *ir = h->ir;
  for (unsigned o = 0; o < sizeof ops; o++) {
    bool rev = ops[o] == FJ_IR_UGT || ops[o] == FJ_IR_UGE;
    for (fj_ref r = ir->chain[ops[o]]; r > y; r = fj_ir_at(ir, r)->prev) {
      const fj_ir_ins *g = fj_ir_at(ir, r);
      fj_ref n = rev ? g->a : g->b;
      bool n32 = fj_ir_is_k(n) ? fj_ir_kval(ir, n) <= 0xffffffffu
                               : fj_ir_at(ir, n)->type == FJ_IRT_I32;
      if (r < h->loop && g->type == FJ_IRT_I64 && (rev ? g->b : g->a) == y && n32) return true;
    }
  }
  return false;
}

/* Bound on the body iterations from guard g (cond(a, b) with one side an induction variable's
 * next value, the other invariant): emits the guards that make it exact and returns J (every
 * body iteration that can run has j <= J) and in *ivx the variable's index, or FJ_REF_NONE if
 * g does not bound the loop.  An I32 variable is worked on as its zero-extended value, and
 * also kept from wrapping around 2^32 (then it is linear too). */
static fj_ref hx_trip_bound(hx *h, fj_ref g, uint64_t used32, unsigned *ivx) {
  const fj_ir_ins gi = *fj_ir_at(h->ir, g);
  enum fj_ir_op op = (enum fj_ir_op)gi.op;
  fj_ref n = gi.b;
  unsigned vi = h->niv;
  for (unsigned k = 0; k < h->niv && vi == h->niv; k++)
    if (h->iv[k].b == gi.a) vi = k;
  if (vi == h->niv) {
    for (unsigned k = 0; k < h->niv && vi == h->niv; k++)
      if (h->iv[k].b == gi.b) vi = k;
    if (vi == h->niv) return FJ_REF_NONE;
    op = fj_ir_cond_swap(op);
    n = gi.a;
  }
  const hx_iv *v = &h->iv[vi];
  if (gi.type != (v->w32 ? FJ_IRT_I32 : FJ_IRT_I64) || !hx_invariant(h, n)) return FJ_REF_NONE;
  *ivx = vi;
  /* continue while op(a + s, n): the values a takes on body iterations */
  const uint64_t s = v->step, t = (int64_t)s > 0 ? s : 0 - s;
  const uint64_t top = v->w32 ? 0xffffffffu : ~0ull;  /* a's range is [0, top] */
  if (!hx_pow2(t) || t > (1u << 30)) return FJ_REF_NONE;
  fj_ref a = v->a;
  if (v->w32) {  /* a counter's z = ZEXT 32 y after a guard keeps y below 2^32 (build.c,
                    fj_opt_loop): y is the same value, and the guards on y are then shared */
    const fj_ir_ins *ai = fj_ir_at(h->ir, a);
    if (ai->op == FJ_IR_ZEXT && ai->aux == 32 && !fj_ir_is_k(ai->a) &&
        fj_ir_at(h->ir, ai->a)->type == FJ_IRT_I64 && hx_below32(h, ai->a))
      a = ai->a;
  }
  const fj_ref kt = hx_k(h, t), kmask = hx_k(h, 0xffffffffu);
  if (v->w32 && fj_ir_is_k(n)) n = hx_k(h, fj_ir_kval(h->ir, n) & 0xffffffffu);
  else if (v->w32 && fj_ir_at(h->ir, n)->type != FJ_IRT_I32)
    n = hx_op(h, FJ_IR_AND, n, kmask);  /* an I32 guard reads the low half */
  /* Signed order is the unsigned order of the values plus 2^(w-1): bias a and n and go on
   * with the unsigned compare (the variable steps by s either way). */
  const bool sgn = op == FJ_IR_LT || op == FJ_IR_LE || op == FJ_IR_GT || op == FJ_IR_GE;
  if (sgn) {
    fj_ref bias = hx_k(h, top / 2 + 1);
    a = hx_op(h, FJ_IR_ADD, a, bias);
    n = hx_op(h, FJ_IR_ADD, n, bias);
    if (v->w32) {
      a = hx_op(h, FJ_IR_AND, a, kmask);
      n = hx_op(h, FJ_IR_AND, n, kmask);
    }
    op = op == FJ_IR_LT ? FJ_IR_ULT : op == FJ_IR_LE ? FJ_IR_ULE
       : op == FJ_IR_GT ? FJ_IR_UGT : FJ_IR_UGE;
  }
  fj_ref d;  /* J * t */
  const bool up = (int64_t)s > 0;
  /* a is z = v->a (or the I64 value z zero-extends, below 2^32 by a pre-roll guard) and n
   * fits 32 bits: past the order guard below, n - a (up) or a - n (down) lies in
   * [0, 0xffffffff] and is exact as an I32 SUB on z (fj_opt_loop's counters compute it so),
   * and so is everything from it up to J */
  const fj_ref z = v->a;
  const bool z32 = v->w32 && !sgn && !fj_ir_is_k(z) && fj_ir_at(h->ir, z)->type == FJ_IRT_I32 &&
                   hx_known32(h, n);
  fj_ref dist = FJ_REF_NONE;
  switch (up ? op : fj_ir_cond_swap(op)) {
  case FJ_IR_ULT:  /* up: a_0 <= a <= n - 1; down: n + 1 <= a <= a_0 */
    hx_guard(h, FJ_IR_ULT, up ? a : n, up ? n : a);
    if (z32) {  /* dist >= 1 */
      dist = hx_put_t(h, FJ_IR_SUB, FJ_IRT_I32, up ? n : z, up ? z : n);
      d = hx_put_t(h, FJ_IR_SUB, FJ_IRT_I32, dist, hx_k(h, 1));
    } else {
      d = hx_op(h, FJ_IR_ADD, up ? hx_op(h, FJ_IR_SUB, n, a) : hx_op(h, FJ_IR_SUB, a, n),
                hx_k(h, (uint64_t)-1));
    }
    break;
  case FJ_IR_ULE:  /* up: a_0 <= a <= n; down: n <= a <= a_0 */
    hx_guard(h, FJ_IR_ULE, up ? a : n, up ? n : a);
    if (z32) d = hx_put_t(h, FJ_IR_SUB, FJ_IRT_I32, up ? n : z, up ? z : n);
    else d = up ? hx_op(h, FJ_IR_SUB, n, a) : hx_op(h, FJ_IR_SUB, a, n);
    break;
  case FJ_IR_NE: {
    /* a reaches n after (n - a) / s steps mod 2^64, wrapping or not; at 32 bits it must not
     * wrap: n on a's side of a_0 */
    if (v->w32) hx_guard(h, FJ_IR_ULT, up ? a : n, up ? n : a);
    else hx_guard(h, FJ_IR_NE, a, n);
    if (z32) {  /* dist >= 1, and once t | dist, dist - t does not wrap */
      dist = hx_put_t(h, FJ_IR_SUB, FJ_IRT_I32, up ? n : z, up ? z : n);
      if (t > 1) hx_guard_t(h, FJ_IR_NTEST, FJ_IRT_I32, dist, hx_k(h, t - 1));
      return hx_trips(h, hx_put_t(h, FJ_IR_SUB, FJ_IRT_I32, dist, kt), t);
    }
    fj_ref dist = up ? hx_op(h, FJ_IR_SUB, n, a) : hx_op(h, FJ_IR_SUB, a, n);
    if (t > 1) hx_guard(h, FJ_IR_NTEST, dist, hx_k(h, t - 1));
    return hx_trips(h, hx_op(h, FJ_IR_SUB, dist, kt), t);
  }
  default:
    return FJ_REF_NONE;
  }
  /* The last value the bound lets through, a_0 +- (d rounded down to a multiple of t), must
   * step on without wrapping around (else a would run on past the bound); a signed I32 one
   * must not cross 2^32 unbiased either (its zero-extended value would jump), also after the
   * step if an address uses b. */
  fj_ref run = t > 1 ? hx_op(h, FJ_IR_AND, d, hx_k(h, 0 - t)) : d;
  if (t > 1 || op == (up ? FJ_IR_ULE : FJ_IR_UGE)) {
    if (up) hx_guard(h, FJ_IR_ULE, hx_op(h, FJ_IR_ADD, a, run), hx_k(h, top - t));
    else hx_guard(h, FJ_IR_ULE, hx_op(h, FJ_IR_ADD, run, kt), a);  /* a - run >= t */
  }
  if (v->w32 && sgn) {
    uint64_t tb = (used32 >> (32 + vi) & 1) ? t : 0;
    if (up) hx_guard(h, FJ_IR_ULE, hx_op(h, FJ_IR_ADD, v->a, run), hx_k(h, top - tb));
    else hx_guard(h, FJ_IR_ULE, hx_op(h, FJ_IR_ADD, run, hx_k(h, tb)), v->a);
  }
  return hx_trips(h, d, t);
}

/* Hoist body check "x <= lim" (x advancing by dx per iteration) given the trip bound j.  A
 * check after the bound guard does not run on the last iteration (the guard leaves first):
 * there `last` is j - 1 and `on` all ones, or both 0 when j = 0 (then the check never runs,
 * and x_0 is taken as 0, which fits). */
static void hx_check(hx *h, fj_ref x, fj_ref lim, uint64_t dx, fj_ref last, fj_ref on) {
  fj_ref x0 = hx_clone(h, x);
  if (on) x0 = hx_op(h, FJ_IR_AND, x0, on);
  hx_guard(h, FJ_IR_ULE, x0, lim);
  if (!dx) return;
  bool down = (int64_t)dx < 0;
  uint64_t e = down ? 0 - dx : dx;
  if (!last || e > 0xffffffffu) {
    h->no = true;
    return;
  }
  fj_ref room = down ? x0 : hx_op(h, FJ_IR_SUB, lim, x0);  /* what the range may grow */
  if (hx_pow2(e)) {
    hx_guard(h, FJ_IR_ULE, last, hx_op(h, FJ_IR_SHR, room, hx_k(h, hx_log2(e))));
  } else {  /* last * e cannot wrap once last < 2^32 */
    hx_guard(h, FJ_IR_ULE, last, hx_k(h, 0xffffffffu));
    hx_guard(h, FJ_IR_ULE, hx_op(h, FJ_IR_MUL, last, hx_k(h, e)), room);
  }
}

static fj_ref hx_shift(fj_ref r, fj_ref loop, uint32_t k) { return r >= loop ? r + k : r; }

/* Put h->add in front of LOOP (every ref from LOOP on moves up by nadd) and turn the checks
 * in h->kill into NOPs.  The new guards share one snapshot: the loop snapshot as a GUARD. */
/* A GUARD copy of the loop snapshot that pre-roll guards already use (fj_opt_loop's counter
 * guards): the new guards share its exit stub.  UINT32_MAX if none. */
static uint32_t hx_same_snap(const fj_ir *ir, const fj_snap *s, fj_ref loop) {
  const fj_snap_slot *sl = &ir->slots[s->slot0];
  const fj_snap_frame *fr = &ir->frames[s->frame0];
  for (uint32_t q = 0; q < ir->nsnaps; q++) {
    const fj_snap *o = &ir->snaps[q];
    if (q == ir->loop_snap || o->kind != FJ_EXIT_GUARD || o->ref < FJ_REF_BIAS || o->ref >= loop ||
        !fj_ir_is_guard(fj_ir_at(ir, o->ref)->op) || fj_ir_at(ir, o->ref)->snap != q ||
        o->pc != s->pc || o->budget != s->budget || o->budget_adj != s->budget_adj ||
        o->nslots != s->nslots || o->nframes != s->nframes ||
        memcmp(o->regs, s->regs, sizeof o->regs) != 0 ||
        memcmp(&ir->slots[o->slot0], sl, o->nslots * sizeof *sl) != 0 ||
        memcmp(&ir->frames[o->frame0], fr, o->nframes * sizeof *fr) != 0)
      continue;
    return q;
  }
  return UINT32_MAX;
}

static bool hx_commit(hx *h) {
  fj_ir *ir = h->ir;
  const fj_ref loop = h->loop;
  const uint32_t k = h->nadd;
  fj_snap s = ir->snaps[ir->loop_snap];
  fj_snap_slot slots[FJ_SNAP_MAX_SLOTS];
  fj_snap_frame frames[FJ_MAX_CALL_DEPTH];
  if (s.nslots > FJ_SNAP_MAX_SLOTS || s.nframes > FJ_MAX_CALL_DEPTH ||
      fj_ir_nins(ir) + k >= FJ_IR_MAX_INS)
    return false;  /* keep the checks rather than abort the trace */
  memcpy(slots, &ir->slots[s.slot0], s.nslots * sizeof *slots);
  memcpy(frames, &ir->frames[s.frame0], s.nframes * sizeof *frames);
  s.kind = FJ_EXIT_GUARD;
  uint32_t sn = hx_same_snap(ir, &s, loop);
  const bool fresh = sn == UINT32_MAX;
  if (fresh) sn = fj_snap_add(ir, &s, slots, frames);

  for (unsigned i = 0; i < h->nkill; i++) fj_ir_kill(ir, h->kill[i]);
  const fj_ref old_top = ir->top;
  fj_ir_ins nop = {.op = FJ_IR_NOP};
  for (uint32_t i = 0; i < k; i++) fj_ir_emit_raw(ir, &nop);
  memmove(fj_ir_at(ir, loop + k), fj_ir_at(ir, loop), (old_top - loop) * sizeof(fj_ir_ins));
  for (fj_ref r = loop + k; r < ir->top; r++) {
    fj_ir_ins *i = fj_ir_at(ir, r);
    if (fj_ir_op_table[i->op].mode_a == FJ_IRM_R) i->a = hx_shift(i->a, loop, k);
    if (fj_ir_op_table[i->op].mode_b == FJ_IRM_R) i->b = hx_shift(i->b, loop, k);
  }
  for (uint32_t q = 0; q < ir->nsnaps; q++) {
    fj_snap *p = &ir->snaps[q];
    for (unsigned g = 0; g < FJ_NREGS; g++) p->regs[g] = hx_shift(p->regs[g], loop, k);
    p->budget = hx_shift(p->budget, loop, k);
    p->ref = hx_shift(p->ref, loop, k);
  }
  for (uint32_t q = 0; q < ir->nslots; q++) ir->slots[q].ref = hx_shift(ir->slots[q].ref, loop, k);
  for (uint32_t q = 0; q < ir->nframes; q++) {
    fj_snap_frame *f = &ir->frames[q];
    for (unsigned g = 0; g < 4; g++) f->saved[g] = hx_shift(f->saved[g], loop, k);
    f->fp = hx_shift(f->fp, loop, k);
  }
  fj_ref first = FJ_REF_NONE;
  for (uint32_t i = 0; i < k; i++) {
    fj_ir_ins ins = h->add[i];
    if (fj_ir_is_guard(ins.op)) {
      ins.snap = sn;
      if (!first) first = loop + i;
    }
    *fj_ir_at(ir, loop + i) = ins;
  }
  if (fresh) ir->snaps[sn].ref = first;
  ir->loop = loop + k;
  fj_ir_rechain(ir);
  return true;
}

/* ---- pointer induction variables on a 32-bit-address target ---------------------------------
 * With FJ_IR_ADDR32 every address that passed a bounds check is below 2^32, so an induction
 * variable whose checks left the body (a pointer p += D) would fit 32 bits -- but its value after
 * the last iteration's step is checked by nothing (one past a row may be 2^32 and more), and a
 * value near 2^32 must not wrap.  So the range is made explicit: with J the trip bound (every
 * body iteration has j <= J), the values the PHI's a and b take lie between a_0 and
 * a_0 + D * (J + 1); guards a_0 <= 0xffffffff and |D| * (J + 1) <= room (0xffffffff - a_0 up,
 * a_0 down) before LOOP put all of them in [0, 2^32).  Then z = ZEXT 32 a_0 replaces a in the
 * body, b = z + D becomes an I32 ADD and the PHI an I32 PHI (one register on Thumb instead of
 * two, no carries).  On a 64-bit target the guards would fail on real addresses: never tried. */

typedef struct hx_nar {
  fj_ref from[HX_MAX_IV], to[HX_MAX_IV];
  unsigned n;
} hx_nar;

static void hx_nar_ref(void *ud, fj_ref *r) {
  const hx_nar *m = ud;
  for (unsigned k = 0; k < m->n; k++)
    if (*r == m->from[k]) *r = m->to[k];
}

/* The guards and z for induction variable v (pre-roll code); false (nothing added) if v does
 * not qualify. */
static bool hx_narrow_iv(hx *h, const hx_iv *v, fj_ref j, fj_ref *z) {
  uint64_t e = (int64_t)v->step > 0 ? v->step : 0 - v->step;
  if (v->w32 || !hx_pow2(e) || e > (1u << 30)) return false;
  unsigned nadd = h->nadd, nmemo = h->nmemo;
  const fj_ref kmax = hx_k(h, 0xffffffffu);
  hx_guard(h, FJ_IR_ULE, v->a, kmax);
  if (!h->no && h->nadd < HX_MAX_NEW) {
    fj_ir_ins ins = {.op = FJ_IR_ZEXT, .type = FJ_IRT_I32, .aux = 32, .a = v->a};
    h->add[h->nadd] = ins;
    *z = h->loop + h->nadd++;
    /* past the guard z = a_0, and the room is exact at 32 bits */
    fj_ref room = (int64_t)v->step > 0 ? hx_put_t(h, FJ_IR_SUB, FJ_IRT_I32, kmax, *z) : *z;
    hx_guard(h, FJ_IR_ULT, j, hx_op(h, FJ_IR_SHR, room, hx_k(h, hx_log2(e))));
    if (!h->no) return true;
  }
  h->no = false;
  h->nadd = nadd;
  h->nmemo = nmemo;
  return false;
}

/* After hx_commit (body refs moved up by `shift`): the body reads m->to[k] for m->from[k], the
 * PHIs of those become I32 with their steps b. */
static void hx_narrow_apply(fj_ir *ir, const hx_nar *m, const fj_ref *bs, uint32_t shift) {
  uint8_t *seen = fj_ir_scratch(ir, ir->nsnaps ? ir->nsnaps : 1);
  for (fj_ref r = ir->loop + 1; r < ir->top; r++) {
    fj_ir_ins *i = fj_ir_at(ir, r);
    if (i->op == FJ_IR_NOP) continue;
    if (i->op == FJ_IR_PHI) {
      for (unsigned k = 0; k < m->n; k++)
        if (i->a == m->from[k]) {
          i->a = m->to[k];
          i->type = FJ_IRT_I32;
        }
      hx_nar_ref((void *)m, &i->b);  /* a PHI carrying the current value on */
      continue;
    }
    if (fj_ir_op_table[i->op].mode_a == FJ_IRM_R) hx_nar_ref((void *)m, &i->a);
    if (fj_ir_op_table[i->op].mode_b == FJ_IRM_R) hx_nar_ref((void *)m, &i->b);
    if (fj_ir_has_snap(i->op) && i->snap < ir->nsnaps && !seen[i->snap]) {
      seen[i->snap] = 1;
      fj_snap_foreach_ref(ir, i->snap, hx_nar_ref, (void *)m);
    }
  }
  for (unsigned k = 0; k < m->n; k++) {
    fj_ref b = bs[k] + shift;
    fj_ir_ins bi = *fj_ir_at(ir, b);
    fj_ref *kp = fj_ir_is_k(bi.a) ? &bi.a : &bi.b;
    *kp = fj_ir_kint(ir, FJ_IRT_I32, fj_ir_kval(ir, *kp));
    bi.type = FJ_IRT_I32;
    *fj_ir_at(ir, b) = bi;
  }
}

/* Does the body leave on data: a guard (other than budget and bounds checks) on a value that
 * depends on memory, a call, or a loop-carried value other than an induction variable?  Such a
 * loop often runs a few iterations per entry (a search, an insertion sort's inner loop, a
 * bridge linking back to its start), where the checks before LOOP cost more than they save --
 * and may fail for a bound beyond the region that the loop never reaches. */
static bool hx_data_exit(hx *h) {
  fj_ir *ir = h->ir;
  uint8_t *taint = fj_ir_scratch(ir, h->phi0 - h->loop);
  for (fj_ref r = h->loop + 1; r < h->phi0; r++) {
    const fj_ir_ins *i = fj_ir_at(ir, r);
    const fj_ir_op_info *oi = &fj_ir_op_table[i->op];
    bool t = (oi->flags & (FJ_IRF_LOAD | FJ_IRF_CALL)) != 0;
    fj_ref ops[2] = {oi->mode_a == FJ_IRM_R ? i->a : FJ_REF_NONE,
                     oi->mode_b == FJ_IRM_R ? i->b : FJ_REF_NONE};
    for (unsigned k = 0; k < 2 && !t; k++) {
      fj_ref o = ops[k];
      if (o > h->loop && o < r) t = taint[o - h->loop];
      else if (o >= FJ_REF_BIAS && o < h->loop) t = hx_variant(h, o) && !hx_iv_of(h, o);
    }
    taint[r - h->loop] = t;
    if (!t || !fj_ir_is_guard(i->op) || fj_snap_get(ir, i->snap)->kind == FJ_EXIT_BUDGET)
      continue;
    if ((i->op == FJ_IR_ULE && hx_is_limit(h, i->b)) || (i->op == FJ_IR_UGE && hx_is_limit(h, i->a)))
      continue;  /* a bounds check on a loaded address is not an exit a loop is written for */
    return true;
  }
  return false;
}

/* ---- the budget guard of counted loops ------------------------------------------------------
 * Every iteration ends with `GE b #N` (BUDGET exit) and b' = b - N, PHI b b' (codegen/build.c):
 * on the j-th body iteration b = b_0 - N * j.  With a trip bound J that guard holds on every
 * iteration it runs if b_0 >= N * J, which is checked once before LOOP (exit: the loop snapshot,
 * with the exact budget; the interpreter then spends the rest).  The decrement stays, so every
 * snapshot's budget is exact as before.  A call in the body reloads the budget: then b is not
 * b_0 - N * j and nothing is done.  Done only where bounds checks left the body too (see
 * hx_run): then J is bounded by a region, and the guard fails only when the budget is nearly
 * spent, where the interpreter finishes the loop (up to the budget) instead of the trace. */
static fj_ref hx_budget_guard(const hx *h) {
  const fj_ir *ir = h->ir;
  fj_ref bg = FJ_REF_NONE;
  for (fj_ref r = h->loop + 1; r < h->phi0; r++) {
    const fj_ir_ins *i = fj_ir_at(ir, r);
    if (i->op == FJ_IR_CALL || i->op == FJ_IR_CALLL) return FJ_REF_NONE;
    if (i->op == FJ_IR_GE && i->type == FJ_IRT_I64 && fj_ir_is_k(i->b) &&
        fj_snap_get(ir, i->snap)->kind == FJ_EXIT_BUDGET)
      bg = r;
  }
  if (!bg) return FJ_REF_NONE;
  const fj_ir_ins *g = fj_ir_at(ir, bg);
  uint64_t nb = fj_ir_kval(ir, g->b);
  if (g->a < FJ_REF_BIAS || g->a >= h->loop || !nb || nb > 0xffffu) return FJ_REF_NONE;
  for (fj_ref q = h->phi0; q < ir->top; q++) {
    const fj_ir_ins *p = fj_ir_at(ir, q);
    if (p->op != FJ_IR_PHI || p->a != g->a) continue;
    const fj_ir_ins *d = fj_ir_at(ir, p->b);
    if (p->b > h->loop && d->op == FJ_IR_ADD && d->type == FJ_IRT_I64 && d->a == g->a &&
        fj_ir_is_kval(ir, d->b, 0 - nb))
      return bg;
  }
  return FJ_REF_NONE;
}

/* Bounds checks out of the body of ir's loop (no-op without LOOP). */
static void hx_run(fj_ir *ir) {
  if (ir->loop == FJ_REF_NONE || ir->loop_snap >= ir->nsnaps) return;
  hx *h = fj_ir_scratch(ir, sizeof *h);
  h->ir = ir;
  h->loop = ir->loop;
  h->phi0 = ir->top;
  while (h->phi0 > ir->loop + 1) {
    uint8_t op = fj_ir_at(ir, h->phi0 - 1)->op;
    if (op != FJ_IR_PHI && op != FJ_IR_NOP) break;
    h->phi0--;
  }
  hx_find_ivs(h);
  if (hx_data_exit(h)) return;

  /* candidates: body checks "x <= lim" whose x is linear in the induction variables */
  struct { fj_ref g, x, lim; uint64_t dx, m32; uint32_t mall; } c[HX_MAX_CHECKS];
  unsigned nc = 0;
  bool moving = false;
  uint64_t used32 = 0;
  for (fj_ref r = ir->loop + 1; r < h->phi0 && nc < HX_MAX_CHECKS; r++) {
    const fj_ir_ins *i = fj_ir_at(ir, r);
    if ((i->op != FJ_IR_ULE && i->op != FJ_IR_UGE) || i->type != FJ_IRT_I64) continue;
    fj_ref x = i->op == FJ_IR_ULE ? i->a : i->b, lim = i->op == FJ_IR_ULE ? i->b : i->a;
    unsigned nodes = 0;
    uint64_t m32 = 0, dx;
    uint32_t mall = 0;
    if (!hx_is_limit(h, lim) || !hx_deriv(h, x, &nodes, &m32, &mall, &dx)) continue;
    c[nc].m32 = m32;
    c[nc].mall = mall;
    used32 |= m32;
    c[nc].g = r;
    c[nc].x = x;
    c[nc].lim = lim;
    c[nc++].dx = dx;
    moving |= dx != 0;
  }
  fj_ref bg = hx_budget_guard(h);
  if (!nc && !bg) return;

  /* the trip bound: the first guard that gives one, preferring </<= over != */
  fj_ref j = FJ_REF_NONE, jg = FJ_REF_NONE;
  unsigned jv = 0;
  for (int pass = 0; pass < 2 && (moving || bg) && !j; pass++) {
    for (fj_ref r = ir->loop + 1; r < h->phi0 && !j; r++) {
      uint8_t op = fj_ir_at(ir, r)->op;
      if (!fj_ir_is_guard(op) || op == FJ_IR_EQ || op == FJ_IR_TEST || op == FJ_IR_NTEST ||
          (op == FJ_IR_NE) != (pass == 1))
        continue;
      j = hx_trip_bound(h, r, used32, &jv);
      jg = r;
      if (h->no || !j) {
        j = FJ_REF_NONE;
        h->no = false;
        h->nadd = 0;
        h->nmemo = 0;
      }
    }
  }

  /* for checks after the bound guard: nz = (j != 0), on = -nz, j - nz */
  fj_ref on = FJ_REF_NONE, jm1 = FJ_REF_NONE;
  for (unsigned k = 0; k < nc && j && !on; k++) {
    if (c[k].g < jg) continue;
    fj_ref nz = hx_op(h, FJ_IR_SHR, hx_op(h, FJ_IR_OR, j, hx_op(h, FJ_IR_NEG, j, FJ_REF_NONE)),
                      hx_k(h, 63));
    on = hx_op(h, FJ_IR_NEG, nz, FJ_REF_NONE);
    jm1 = hx_op(h, FJ_IR_SUB, j, nz);
  }
  if (h->no) return;
  uint32_t ptr_ivs = 0;
  for (unsigned k = 0; k < nc; k++) {
    unsigned nadd = h->nadd, nmemo = h->nmemo;
    if (c[k].m32 & ~(j ? 0x100000001ull << jv : 0)) continue;  /* an I32 one that may wrap */
    bool after = j && c[k].g > jg;
    hx_check(h, c[k].x, c[k].lim, c[k].dx, after ? jm1 : j, after ? on : FJ_REF_NONE);
    if (h->no) {
      h->no = false;
      h->nadd = nadd;
      h->nmemo = nmemo;
      continue;
    }
    h->kill[h->nkill++] = c[k].g;
    ptr_ivs |= c[k].mall;
  }
  if (!h->nkill) return;
  /* 32-bit addresses: the induction variables of the checks that left the body */
  hx_nar m = {.n = 0};
  fj_ref bs[HX_MAX_IV];
  for (unsigned k = 0; k < h->niv && j && (ir->flags & FJ_IR_ADDR32); k++) {
    fj_ref z;
    if ((ptr_ivs >> k & 1) && hx_narrow_iv(h, &h->iv[k], j, &z)) {
      m.from[m.n] = h->iv[k].a;
      m.to[m.n] = z;
      bs[m.n++] = h->iv[k].b;
    }
  }
  if (bg && j && bg > jg) {
    /* the budget guard runs on iterations j <= J - 1 (the bound guard leaves at J first) and
     * sees b_0 - N * j there: b_0 >= N * J before LOOP covers them all.  Only where a moving
     * check left the body: J is then bounded by its region (a loop with a huge J that leaves
     * early would otherwise fail the guard on every entry and run interpreted) */
    unsigned nadd = h->nadd, nmemo = h->nmemo;
    const fj_ir_ins *gi = fj_ir_at(ir, bg);
    fj_ref b0 = gi->a;
    uint64_t nb = fj_ir_kval(ir, gi->b);
    if (!m.n)  /* a pointer's guard J < room / |D| keeps J below 2^32 already */
      hx_guard(h, FJ_IR_ULE, j, hx_k(h, 0xffffffffu));  /* N * J < 2^63: a signed compare */
    fj_ref spend = hx_pow2(nb) ? hx_op(h, FJ_IR_SHL, j, hx_k(h, hx_log2(nb)))
                               : hx_op(h, FJ_IR_MUL, j, hx_k(h, nb));
    hx_guard(h, FJ_IR_GE, b0, spend);
    if (h->no || h->nkill >= HX_MAX_CHECKS) {
      h->no = false;
      h->nadd = nadd;
      h->nmemo = nmemo;
    } else {
      h->kill[h->nkill++] = bg;
    }
  }
  uint32_t shift = h->nadd;
  if (hx_commit(h) && m.n) hx_narrow_apply(ir, &m, bs, shift);
}

/* ---- dead-store elimination --------------------------------------------------------------- */

enum { DSE_WINDOW = 4096 };  /* instructions scanned after a store: keeps the pass linear */

static bool snap_has_slot(const fj_ir *ir, uint32_t sn, int32_t off, unsigned w, fj_ref v) {
  const fj_snap *s = fj_snap_get(ir, sn);
  const fj_snap_slot *sl = fj_snap_slots(ir, s);
  for (uint32_t i = 0; i < s->nslots; i++)
    if (sl[i].off == off && sl[i].width == w && sl[i].ref == v) return true;
  return false;
}

/* The pre-roll ref a with PHI a, b (the value b had one iteration earlier), or FJ_REF_NONE. */
static fj_ref phi_source(const fj_ir *ir, fj_ref b) {
  for (fj_ref r = ir->top; r-- > FJ_REF_BIAS;) {
    const fj_ir_ins *i = fj_ir_at(ir, r);
    if (i->op == FJ_IR_NOP) continue;
    if (i->op != FJ_IR_PHI) break;
    if (i->b == b) return i->a;
  }
  return FJ_REF_NONE;
}

/* Is SSTORE r dead: overwritten (or the trace ends) before anything can read it, and every exit
 * in between writes it back from its snapshot?  In a loop the scan may cross LOOP (a pre-roll
 * store overwritten in the body) and wrap around the back edge (a body store overwritten by
 * itself one iteration later; exits before it name the PHI that carries its value). */
static bool sstore_dead(const fj_ir *ir, fj_ref r) {
  const fj_ir_ins *st = fj_ir_at(ir, r);
  int32_t off = st->lit;
  unsigned w = fj_mem_width(st->aux);
  fj_ref v = st->b, carried = FJ_REF_NONE;
  bool wrapped = false;
  fj_ref q = r + 1;
  for (uint32_t steps = 0; steps < DSE_WINDOW; steps++, q++) {
    if (q >= ir->top || fj_ir_at(ir, q)->op == FJ_IR_PHI) {
      /* the end of the IR: a non-loop trace ended in EXIT (handled below); a loop goes on with
       * the next iteration of the body, where this store's value is carried by a PHI */
      if (ir->loop == FJ_REF_NONE || wrapped || r < ir->loop) return false;
      carried = phi_source(ir, v);
      if (!carried) return false;
      wrapped = true;
      q = ir->loop;  /* q++ -> first body instruction */
      continue;
    }
    if (wrapped && q == r) return true;  /* overwritten by itself */
    const fj_ir_ins *i = fj_ir_at(ir, q);
    fj_ref want = wrapped ? carried : v;
    switch (i->op) {
    case FJ_IR_NOP:
    case FJ_IR_LOOP:
      continue;
    case FJ_IR_CALL:
    case FJ_IR_CALLL:
    case FJ_IR_ATOMIC:
    case FJ_IR_CMPXCHG:
      return false;
    case FJ_IR_SLOAD:
      if (overlap(i->lit, fj_mem_width(i->aux), off, w)) return false;
      continue;
    case FJ_IR_LOAD:
      if (fj_mem_region(i->aux) == 0) return false;
      continue;
    case FJ_IR_STORE:
      if (fj_mem_region(i->aux) == 0) return false;
      continue;
    case FJ_IR_SSTORE: {
      unsigned w2 = fj_mem_width(i->aux);
      if (i->lit <= off && i->lit + (int64_t)w2 >= off + (int64_t)w) return true;  /* covers */
      if (overlap(i->lit, w2, off, w)) return false;
      continue;
    }
    case FJ_IR_EXIT:
      if (!snap_has_slot(ir, i->snap, off, w, want)) return false;
      return ir->loop == FJ_REF_NONE;
    default:
      if (fj_ir_is_guard(i->op) && !snap_has_slot(ir, i->snap, off, w, want)) return false;
      continue;
    }
  }
  return false;
}

/* Is STORE r dead: the same address/width/region is stored again before any read, call or
 * exit (exits do not write back non-stack memory)? */
static bool store_dead(const fj_ir *ir, fj_ref r) {
  const fj_ir_ins *st = fj_ir_at(ir, r);
  unsigned k = fj_mem_region(st->aux);
  for (fj_ref q = r + 1; q < ir->top && q - r < DSE_WINDOW; q++) {
    const fj_ir_ins *i = fj_ir_at(ir, q);
    if (i->op == FJ_IR_NOP) continue;
    if (fj_ir_has_snap(i->op) || i->op == FJ_IR_LOOP || i->op == FJ_IR_PHI ||
        i->op == FJ_IR_ATOMIC || i->op == FJ_IR_CMPXCHG)
      return false;
    if (i->op == FJ_IR_LOAD && fj_mem_region(i->aux) == k) return false;
    if (i->op == FJ_IR_SLOAD && k == 0) return false;
    if (i->op == FJ_IR_STORE && fj_mem_region(i->aux) == k) {
      if (i->a == st->a && fj_mem_width(i->aux) >= fj_mem_width(st->aux)) return true;
    }
  }
  return false;
}

void fj_opt_mem(fj_ir *ir) {
  hx_run(ir);
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) {
    fj_ir_ins *i = fj_ir_at(ir, r);
    bool dead = (i->op == FJ_IR_SSTORE && sstore_dead(ir, r)) ||
                (i->op == FJ_IR_STORE && store_dead(ir, r));
    if (dead) fj_ir_kill(ir, r);
  }
}
