/* farjit codegen — the front half's passes (trace -> optimized IR).
 *
 * Order used by the compile driver (codegen/compile.c; fj_opt_run is in opt_dce.c):
 *   fj_trace_read   (codegen/trace_read.h)  verify the bytes
 *   fj_ir_build     IR, with folding, CSE, store-to-load forwarding and bounds-check widening
 *                   applied as each instruction is emitted (fj_fold_emit, codegen/opt_mem.h)
 *   fj_opt_run:
 *     fj_opt_loop   END_LOOP traces: peel one iteration, hoist invariants, PHIs (mandatory:
 *                   it closes the loop, so it runs even with FJ_IR_NOFOLD); with folding it
 *                   also makes equality-bounded counters (`k += 4` until k == 64) I32 behind
 *                   pre-roll guards
 *     fj_opt_mem    bounds checks on induction-variable addresses leave the loop body (one
 *                   check of the whole range before LOOP; with FJ_IR_ADDR32 their pointer
 *                   induction variables become I32 behind guards); dead-store elimination
 *                   (stack stores sink into exit snapshots)
 *     fj_opt_dce    remove instructions nobody uses
 *     fj_opt_narrow I64 arithmetic whose users read only the low 32 bits becomes I32 (demanded
 *                   bits, PHIs narrowed as a whole; with FJ_IR_ADDR32 memory addresses are
 *                   read in their low half); it needs DCE'd IR (dead users would
 *                   demand upper halves) and leaves redundant ZEXTs to
 *     fj_opt_dce    once more
 * Every pass aborts through fj_ir_abort on failure and keeps the IR valid (SSA, refs
 * backwards, snapshots consistent).  With FJ_IR_NOFOLD (FJ_CG_NO_OPT) instructions are
 * emitted raw and fj_opt_run only closes loops.
 */
#ifndef FJ_CODEGEN_OPT_H
#define FJ_CODEGEN_OPT_H

#include <stdbool.h>
#include <stddef.h>

#include "codegen/ir.h"
#include "codegen/trace_read.h"

/* Build IR for a verified trace into ir (initialized with fj_ir_init). */
void fj_ir_build(fj_ir *ir, const fj_trace *t);

/* Fold, simplify and CSE one instruction, emitting what remains (codegen/fold.c).  The
 * engine behind fj_ir_emit. */
fj_ref fj_fold_emit(fj_ir *ir, const fj_ir_ins *ins);

void fj_opt_mem(fj_ir *ir);
void fj_opt_loop(fj_ir *ir);
void fj_opt_dce(fj_ir *ir);
void fj_opt_narrow(fj_ir *ir);

/* All optimizations in order (nothing if ir->flags & FJ_IR_NOFOLD). */
void fj_opt_run(fj_ir *ir);

#endif /* FJ_CODEGEN_OPT_H */
