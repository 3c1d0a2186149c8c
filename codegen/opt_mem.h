/* farjit codegen — memory optimizations (codegen/opt_mem.c), used by fold and the builder.
 *
 * Alias model: eBPF stack slots (SLOAD/SSTORE, fp0-relative constant offsets) are region 0;
 * LOAD/STORE/ATOMIC/CMPXCHG name the region their bounds check proved; distinct regions never
 * overlap (the VM owns the stack; hosts do not register overlapping regions).  CALL/CALLL may
 * read or write anything (helpers get pointers; the interpreter runs callees).
 *
 * fj_opt_mem (codegen/opt.h) first takes bounds checks out of loop bodies, then removes dead
 * stores.  A check whose address is loop-invariant never reaches the body (its copy CSEs to
 * the pre-roll's).  A check on an address linear in induction variables (p + i * 2^k + c,
 * pointer increments, 64-bit or I32 counters, either direction) of a loop bounded by a guard
 * on an induction variable (<, <=, != against an invariant, signed or unsigned) becomes a few
 * guards in front of LOOP that the whole range the loop can reach fits; they exit through a
 * GUARD copy of the loop snapshot (the interpreter then runs the loop and faults where it
 * would have).  Loops that leave on loaded data keep their checks (entries are short there).
 */
#ifndef FJ_CODEGEN_OPT_MEM_H
#define FJ_CODEGEN_OPT_MEM_H

#include <stdint.h>

#include "codegen/ir.h"

/* Newest instruction that may write what LOAD/SLOAD `ins` reads, other than calls (0 if none). */
fj_ref fj_mem_store_barrier(const fj_ir *ir, const fj_ir_ins *ins);

/* Store-to-load forwarding / load CSE for LOAD and SLOAD: the ref holding the value, or
 * FJ_REF_NONE (then the load must be emitted). */
fj_ref fj_mem_fwd(fj_ir *ir, const fj_ir_ins *ins);

/* Bounds checks with widening: the builder asks for "[p + lo, p + lo + w) within region k" and
 * gets guards; a later check on the same p and region widens the earlier guards instead of
 * emitting new ones (an earlier exit is always safe: the interpreter re-executes from there).
 * Region info loads are ordinary IR (SLD/HLD), hoistable by LOOP. */
#define FJ_BCHK_MAX 8
#define FJ_BCHK_MAX_SPAN 4096
typedef struct fj_bchk {
  fj_ref p;
  uint8_t region;
  uint8_t write;
  int64_t lo, hi;
  fj_ref add, lim, g1;    /* raw instructions widened in place */
} fj_bchk;
typedef struct fj_bchk_set {
  fj_bchk e[FJ_BCHK_MAX];
  unsigned n, next;
} fj_bchk_set;

/* Forget every check (after calls: the region table may change). */
static inline void fj_bchk_reset(fj_bchk_set *s) { s->n = s->next = 0; }
/* Emit (or widen) the check; `snap` is the exit snapshot for a failure. */
void fj_mem_bounds(fj_ir *ir, fj_bchk_set *s, fj_ref p, int64_t lo, unsigned w, unsigned region,
                   bool write, uint32_t snap);

#endif /* FJ_CODEGEN_OPT_MEM_H */
