/* farjit codegen — memory optimizations: store-to-load forwarding and load CSE (called by fold
 * as loads are emitted), bounds-check widening (called by the builder), dead-store elimination
 * (fj_opt_mem pass).  Alias model in codegen/opt_mem.h. */
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
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) {
    fj_ir_ins *i = fj_ir_at(ir, r);
    bool dead = (i->op == FJ_IR_SSTORE && sstore_dead(ir, r)) ||
                (i->op == FJ_IR_STORE && store_dead(ir, r));
    if (dead) fj_ir_kill(ir, r);
  }
}
