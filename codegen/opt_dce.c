/* farjit codegen — dead-code elimination, and fj_opt_run (the pass order).
 *
 * Roots: instructions with effects (stores, calls, atomics, LOOP, EXIT) and guards; a guard or
 * call keeps alive every ref its snapshot names (the exit stub needs them).  A PHI is alive
 * when its pre-roll value is used by something alive.  Everything else unreachable from the
 * roots becomes NOP; CSE chains are rebuilt afterwards.  ir->fp0 always stays (snapshot slot
 * entries are addressed from it).
 */
#include <string.h>

#include "codegen/ir.h"
#include "codegen/opt.h"
#include "codegen/snap.h"

typedef struct dctx {
  fj_ir *ir;
  uint8_t *live;
} dctx;

static void mark(dctx *c, fj_ref r) {
  if (r >= FJ_REF_BIAS && r < c->ir->top) c->live[r - FJ_REF_BIAS] = 1;
}

static void mark_snap_ref(void *ud, fj_ref *r) { mark(ud, *r); }

/* One backward sweep; returns true if a PHI became alive (needs another sweep). */
static bool sweep(dctx *c) {
  fj_ir *ir = c->ir;
  bool more = false;
  for (fj_ref r = ir->top; r-- > FJ_REF_BIAS;) {
    const fj_ir_ins *i = fj_ir_at(ir, r);
    uint32_t x = r - FJ_REF_BIAS;
    if (i->op == FJ_IR_NOP) continue;
    unsigned fl = fj_ir_op_table[i->op].flags;
    if (i->op == FJ_IR_PHI) {
      /* alive iff its pre-roll value is; decided on the next sweep */
      if (!c->live[x] && i->a >= FJ_REF_BIAS && c->live[i->a - FJ_REF_BIAS]) {
        c->live[x] = 1;
        more = true;
      }
      if (c->live[x]) mark(c, i->b);
      continue;
    }
    if ((fl & (FJ_IRF_EFFECT | FJ_IRF_GUARD | FJ_IRF_CALL)) || i->op == FJ_IR_LOOP) c->live[x] = 1;
    if (!c->live[x]) continue;
    mark(c, i->a);
    mark(c, i->b);
    if (fj_ir_has_snap(i->op) && i->snap < ir->nsnaps)
      fj_snap_foreach_ref(ir, i->snap, mark_snap_ref, c);
  }
  return more;
}

void fj_opt_dce(fj_ir *ir) {
  uint32_t n = fj_ir_nins(ir);
  if (!n) return;
  dctx c = {ir, fj_ir_scratch(ir, n)};
  mark(&c, ir->fp0);  /* exit stubs address stack slots from it */
  /* PHIs sit at the end and are decided on the sweep after their values were marked; every
   * further sweep is caused by a PHI turning alive: at most one per PHI. */
  sweep(&c);
  for (uint32_t guard = 0; sweep(&c) && guard <= n; guard++) {}
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) {
    fj_ir_ins *i = fj_ir_at(ir, r);
    if (c.live[r - FJ_REF_BIAS] || i->op == FJ_IR_NOP) continue;
    i->op = FJ_IR_NOP;
    i->type = FJ_IRT_NONE;
    i->aux = 0;
    i->a = i->b = FJ_REF_NONE;
    i->k = 0;
  }
  fj_ir_rechain(ir);
}

void fj_opt_run(fj_ir *ir) {
  fj_opt_loop(ir);  /* always: it closes loop traces */
  if (ir->flags & FJ_IR_NOFOLD) return;
  fj_opt_mem(ir);
  fj_opt_dce(ir);
  /* Demanded bits need the final uses (dead users would demand upper halves); the ZEXTs it
   * makes redundant go in a second DCE. */
  fj_opt_narrow(ir);
  fj_opt_dce(ir);
}
