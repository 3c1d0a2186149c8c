/* farjit codegen — narrowing by demanded bits: 64-bit arithmetic whose users read only the low
 * 32 bits becomes I32.
 *
 * clang -target bpf computes C's uint32_t arithmetic in 64-bit registers and cuts the result
 * where it matters (a 32-bit store, an AND with a 32-bit mask, a 32-bit compare), so the IR is
 * full of I64 ADD/SUB/MUL/NEG/AND/OR/XOR/SHL whose upper half nobody reads.  The low half of
 * those ops (SHL by a constant below 32) depends only on the low halves of their operands: if
 * every use of such an instruction reads only its low 32 bits, retyping it I32 (upper half
 * zero instead of whatever) changes nothing anyone sees, and its own operands are then read
 * only in their low halves too.
 *
 * Low-half readers: operands of I32 arithmetic (shift counts too), ZEXT/SEXT/BSWAP of at most
 * 32 bits, I32 guards, the value of a store of at most 4 bytes, a snapshot's stack-slot entry
 * of at most 4 bytes (the exit writes the low `width` bytes, codegen/snap.h), and with
 * FJ_IR_ADDR32 the address of LOAD/STORE/ATOMIC/CMPXCHG (a 32-bit target addresses memory with
 * the low word; the bounds checks that read the address in full keep it).  Everything else
 * reads all 64 bits: snapshot registers, frames and budget, addresses, HLD, calls, I64 ops and
 * guards, PHIs that stay I64.
 *
 * PHI a b (a := b at the back edge) narrows only as a whole: a, b and the PHI become I32
 * together (a backend keeps a and b in one place, and an I32 a must hold a zero-extended value
 * after the copy), which needs each of a and b to be known 32-bit already or narrowed.  The
 * PHIs start optimistic (narrowable); a sweep computes what is demanded, a PHI whose a or b
 * cannot be narrowed is then given up (reading both in full), and the sweep repeats until no
 * PHI changes (each round gives up at least one: at most #PHI + 1 sweeps).
 *
 * Afterwards, value-preserving forward retyping: an I64 op whose result is now provably below
 * 2^32 (AND with an I32 operand, OR/XOR of two, right shift or unsigned division of I32 values)
 * becomes I32 without changing its value, and ZEXT 32 of an I32 value is replaced by the value.
 */
#include <string.h>

#include "codegen/ir.h"
#include "codegen/opt.h"
#include "codegen/snap.h"
#include "farjit/trace.h"

typedef struct nctx {
  fj_ir *ir;
  uint8_t *need;     /* need[i]: some use reads the upper half of instruction i */
  uint8_t *narrow;   /* narrow[i]: instruction i becomes I32 */
  uint8_t *phi_ok;   /* phi_ok[i]: the PHI at i may still narrow with its operands */
} nctx;

static bool is_ins(const fj_ir *ir, fj_ref r) { return r >= FJ_REF_BIAS && r < ir->top; }

static void demand(nctx *c, fj_ref r) {
  if (is_ins(c->ir, r)) c->need[r - FJ_REF_BIAS] = 1;
}

static bool known32(const fj_ir *ir, fj_ref r) {
  if (fj_ir_is_k(r)) return fj_ir_kval(ir, r) <= 0xffffffffu;
  return fj_ir_at(ir, r)->type == FJ_IRT_I32;
}

/* An I64 op whose low half depends only on the low halves of its operands. */
static bool low_op(const fj_ir *ir, const fj_ir_ins *i) {
  if (i->type != FJ_IRT_I64) return false;
  switch (i->op) {
  case FJ_IR_ADD: case FJ_IR_SUB: case FJ_IR_MUL: case FJ_IR_NEG:
  case FJ_IR_AND: case FJ_IR_OR: case FJ_IR_XOR:
    return true;
  case FJ_IR_SHL:
    return fj_ir_is_k(i->b) && fj_ir_kval(ir, i->b) < 32;
  default:
    return false;
  }
}

/* Does instruction i (not narrowed) read only the low 32 bits of its operands? */
static bool reads_low(const fj_ir_ins *i) {
  unsigned fl = fj_ir_op_table[i->op].flags;
  if (i->op == FJ_IR_ZEXT || i->op == FJ_IR_SEXT || i->op == FJ_IR_BSWAP) return i->aux <= 32;
  if ((fl & FJ_IRF_PURE) && i->op != FJ_IR_RIN) return i->type == FJ_IRT_I32;
  if (fj_ir_is_guard(i->op)) return i->type == FJ_IRT_I32;
  return false;
}

/* Snapshot sn: registers, frames and budget in full; slot entries by width. */
static void demand_snap(nctx *c, uint32_t sn) {
  fj_ir *ir = c->ir;
  if (sn >= ir->nsnaps) return;
  const fj_snap *s = fj_snap_get(ir, sn);
  for (unsigned k = 0; k < FJ_NREGS; k++) demand(c, s->regs[k]);
  demand(c, s->budget);
  const fj_snap_frame *fr = &ir->frames[s->frame0];
  for (uint32_t d = 0; d < s->nframes; d++) {
    for (unsigned j = 0; j < 4; j++) demand(c, fr[d].saved[j]);
    demand(c, fr[d].fp);
  }
  const fj_snap_slot *sl = fj_snap_slots(ir, s);
  for (uint32_t k = 0; k < s->nslots; k++)
    if (sl[k].width > 4) demand(c, sl[k].ref);
}

/* One backward sweep: need[] and narrow[] from the current phi_ok[]. */
static void sweep(nctx *c) {
  fj_ir *ir = c->ir;
  uint32_t n = fj_ir_nins(ir);
  memset(c->need, 0, n);
  memset(c->narrow, 0, n);
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) {
    const fj_ir_ins *i = fj_ir_at(ir, r);
    if (fj_ir_has_snap(i->op)) demand_snap(c, i->snap);
    if (i->op == FJ_IR_PHI && !c->phi_ok[r - FJ_REF_BIAS]) {
      /* an I64 PHI copies all of b into a's place; an I32 one only what fits (b is I32 or
       * checked below 2^32 by fj_opt_loop, and that guard reads it in full) */
      if (i->type != FJ_IRT_I32) demand(c, i->b);
      demand(c, i->a);
    }
  }
  /* An END_LOOP trace left unlooped leaves through the loop snapshot at its end. */
  if (ir->end == FJ_TRACE_END_LOOP && ir->loop == FJ_REF_NONE) demand_snap(c, ir->loop_snap);
  for (fj_ref r = ir->top; r-- > FJ_REF_BIAS;) {
    const fj_ir_ins *i = fj_ir_at(ir, r);
    uint32_t x = r - FJ_REF_BIAS;
    if (i->op == FJ_IR_NOP || i->op == FJ_IR_PHI || i->op == FJ_IR_KINT) continue;
    if (low_op(ir, i) && !c->need[x]) {
      c->narrow[x] = 1;
      continue;  /* an I32 op reads the low halves */
    }
    if (reads_low(i)) continue;
    /* With 32-bit addresses (FJ_IR_ADDR32) memory is addressed by the low word */
    bool addr_low = (ir->flags & FJ_IR_ADDR32) &&
                    (i->op == FJ_IR_LOAD || i->op == FJ_IR_STORE || i->op == FJ_IR_ATOMIC ||
                     i->op == FJ_IR_CMPXCHG);
    if (!addr_low) demand(c, i->a);
    if (i->op == FJ_IR_LOAD) continue;
    if ((i->op == FJ_IR_STORE || i->op == FJ_IR_SSTORE) && fj_mem_width(i->aux) <= 4) continue;
    if (i->op == FJ_IR_ATOMIC || i->op == FJ_IR_CMPXCHG) {
      demand(c, i->b);
      continue;
    }
    if (fj_ir_op_table[i->op].mode_b == FJ_IRM_R) demand(c, i->b);
  }
}

static bool fits(const nctx *c, fj_ref r) {
  return known32(c->ir, r) || (is_ins(c->ir, r) && c->narrow[r - FJ_REF_BIAS]);
}

static void remap_ref(void *ud, fj_ref *r) {
  const fj_ref *map = ud;
  if (*r >= FJ_REF_BIAS && map[*r - FJ_REF_BIAS]) *r = map[*r - FJ_REF_BIAS];
}

/* Constant operand k of an op now I32: the interned I32 constant (truncated). */
static fj_ref k32(fj_ir *ir, fj_ref r) {
  return fj_ir_is_k(r) ? fj_ir_kint(ir, FJ_IRT_I32, fj_ir_kval(ir, r)) : r;
}

/* The forward retyping described at the top; phi_a[i]: i is a PHI's a (its type is the PHI's). */
static void forward(fj_ir *ir, const uint8_t *phi_a, fj_ref *map) {
  bool any = false;
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) {
    fj_ir_ins *i = fj_ir_at(ir, r);
    if (i->op == FJ_IR_NOP || i->op == FJ_IR_PHI) continue;
    if (i->a >= FJ_REF_BIAS && map[i->a - FJ_REF_BIAS]) i->a = map[i->a - FJ_REF_BIAS];
    if (i->b >= FJ_REF_BIAS && map[i->b - FJ_REF_BIAS]) i->b = map[i->b - FJ_REF_BIAS];
    if (i->op == FJ_IR_ZEXT && i->aux == 32 && known32(ir, i->a) && !phi_a[r - FJ_REF_BIAS]) {
      map[r - FJ_REF_BIAS] = i->a;
      any = true;
      continue;
    }
    if (i->type != FJ_IRT_I64 || phi_a[r - FJ_REF_BIAS]) continue;
    bool ka = i->a && known32(ir, i->a), kb = i->b && known32(ir, i->b);
    bool to32 = false;
    switch (i->op) {
    case FJ_IR_AND: to32 = ka || kb; break;
    case FJ_IR_OR: case FJ_IR_XOR: case FJ_IR_UDIV: case FJ_IR_UMOD: to32 = ka && kb; break;
    case FJ_IR_SHR: case FJ_IR_SAR:
      /* by a constant below 32 (the I32 shift masks counts to 31) */
      to32 = ka && fj_ir_is_k(i->b) && fj_ir_kval(ir, i->b) < 32;
      break;
    default: break;
    }
    if (!to32) continue;
    fj_ref a0 = i->a, b0 = i->b;  /* k32 may move the buffer: i is stale after it */
    fj_ref a = k32(ir, a0), b = b0 ? k32(ir, b0) : FJ_REF_NONE;
    i = fj_ir_at(ir, r);
    if (i->op == FJ_IR_SAR) i->op = FJ_IR_SHR;  /* the sign bit of a zero-extended value is 0 */
    i->type = FJ_IRT_I32;
    i->a = a;
    i->b = b;
  }
  if (!any) return;
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) {
    fj_ir_ins *i = fj_ir_at(ir, r);
    if (i->op != FJ_IR_PHI) continue;
    if (i->b >= FJ_REF_BIAS && map[i->b - FJ_REF_BIAS]) i->b = map[i->b - FJ_REF_BIAS];
  }
  for (uint32_t k = 0; k < ir->nsnaps; k++) fj_snap_foreach_ref(ir, k, remap_ref, map);
}

void fj_opt_narrow(fj_ir *ir) {
  uint32_t n = fj_ir_nins(ir);
  if (!n || (ir->flags & FJ_IR_NOFOLD)) return;
  nctx c = {ir, fj_ir_scratch(ir, n), fj_ir_scratch(ir, n), fj_ir_scratch(ir, n)};
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) {
    const fj_ir_ins *i = fj_ir_at(ir, r);
    /* optimistic: an I64 PHI whose a is an instruction may narrow (I32 PHIs already are) */
    c.phi_ok[r - FJ_REF_BIAS] = i->op == FJ_IR_PHI && i->type == FJ_IRT_I64 && is_ins(ir, i->a);
  }
  for (uint32_t round = 0; round <= n; round++) {
    sweep(&c);
    bool changed = false;
    for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) {
      const fj_ir_ins *i = fj_ir_at(ir, r);
      if (!c.phi_ok[r - FJ_REF_BIAS] || (fits(&c, i->a) && fits(&c, i->b))) continue;
      c.phi_ok[r - FJ_REF_BIAS] = 0;
      changed = true;
    }
    if (!changed) break;
  }
  uint8_t *phi_a = fj_ir_scratch(ir, n);
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) {
    uint32_t x = r - FJ_REF_BIAS;
    fj_ir_ins *i = fj_ir_at(ir, r);
    if (i->op == FJ_IR_PHI) {
      if (c.phi_ok[x]) i->type = FJ_IRT_I32;
      if (is_ins(ir, i->a)) phi_a[i->a - FJ_REF_BIAS] = 1;
      continue;
    }
    if (!c.narrow[x]) continue;
    fj_ref a0 = i->a, b0 = i->b;  /* k32 may move the buffer: i is stale after it */
    fj_ref a = k32(ir, a0), b = b0 ? k32(ir, b0) : FJ_REF_NONE;
    i = fj_ir_at(ir, r);
    i->type = FJ_IRT_I32;
    i->a = a;
    i->b = b;
  }
  fj_ref *map = fj_ir_scratch(ir, (size_t)n * sizeof *map);
  forward(ir, phi_a, map);
}
