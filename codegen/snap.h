/* farjit codegen — snapshots: the interpreter state at an exit, as IR refs.
 *
 * Every guard, CALL/CALLL and EXIT names a snapshot (ins->snap).  Its exit stub writes, in this
 * order (farjit/jit.h):
 *   1. frames[0..nframes) into st->frames[] (outermost first) and st->nframes = nframes;
 *   2. stack slots: for each slot entry in order, the low `width` bytes of value(ref) at
 *      eBPF address value(ir->fp0) + off (stores the code kept in registers or sank; entries are
 *      in store order, so a later entry wins where two overlap);
 *   3. registers: st->r[k] = value(regs[k]) for every k with regs[k] != FJ_REF_NONE
 *      (FJ_REF_NONE: st->r[k] already holds the right value: unchanged since trace entry and
 *      never overwritten by a call's sync: once a sync wrote r[k], later snapshots name it);
 *   4. st->budget = value(budget) + budget_adj (exact remaining instruction budget);
 *   5. st->exit_id / st->exit_code (backend) and returns.
 * then the interpreter resumes at pc with the frames pushed.  A CALL's snapshot is the state
 * the call syncs before calling (r0 is then the call's result, written by the deopt path).
 *
 * A ref in a snapshot may be a constant, an instruction before the snapshot point, or (in the
 * loop body) a pre-roll ref; the backend materializes it in the exit stub.  Snapshots are
 * stored in ir->snaps; their variable parts in ir->slots / ir->frames.
 */
#ifndef FJ_CODEGEN_SNAP_H
#define FJ_CODEGEN_SNAP_H

#include <stdint.h>

#include "codegen/ir.h"
#include "farjit/blob.h"
#include "farjit/ebpf.h"

#define FJ_SNAP_MAX 0x10000u        /* snapshots per trace (abort SNAP_LIMIT) */
#define FJ_SNAP_MAX_SLOTS 128u      /* slot entries per snapshot: older entries are dropped
                                       (their stores are then never sunk) */

struct fj_snap_slot {
  int32_t off;       /* byte offset from fp0 (the trace's own r10); negative */
  uint8_t width;     /* 1, 2, 4, 8 */
  uint8_t _pad[3];
  fj_ref ref;        /* value whose low `width` bytes the slot holds */
};

struct fj_snap_frame {
  uint32_t ret_pc;   /* pc after the call */
  fj_ref saved[4];   /* caller's r6-r9 (never FJ_REF_NONE) */
  fj_ref fp;         /* caller's r10 (never FJ_REF_NONE) */
};

struct fj_snap {
  fj_ref ref;                /* instruction the snapshot belongs to (guard, call, exit) */
  uint32_t pc;               /* where the interpreter resumes */
  uint16_t kind;             /* enum fj_exit_kind */
  uint8_t nframes;           /* inlined frames live at the exit */
  uint8_t _pad;
  fj_ref regs[FJ_NREGS];     /* FJ_REF_NONE = unchanged */
  fj_ref budget;             /* st->budget = value(budget) + budget_adj */
  int32_t budget_adj;
  uint32_t slot0, nslots;    /* ir->slots[slot0 .. slot0 + nslots) */
  uint32_t frame0;           /* ir->frames[frame0 .. frame0 + nframes) */
};

static inline const fj_snap *fj_snap_get(const fj_ir *ir, uint32_t i) { return &ir->snaps[i]; }
static inline const fj_snap_slot *fj_snap_slots(const fj_ir *ir, const fj_snap *s) {
  return &ir->slots[s->slot0];
}
static inline const fj_snap_frame *fj_snap_frames(const fj_ir *ir, const fj_snap *s) {
  return &ir->frames[s->frame0];
}

/* Append a snapshot: copies *s (slot0/frame0 are ignored) and its nslots slot entries and
 * nframes frames (aborts SNAP_LIMIT).  Returns the index. */
uint32_t fj_snap_add(fj_ir *ir, const fj_snap *s, const fj_snap_slot *slots,
                     const fj_snap_frame *frames);

/* Calls fn(ud, &ref) for every ref in snapshot i (registers, slots, frames, budget), so a pass
 * can count or rewrite them. */
void fj_snap_foreach_ref(fj_ir *ir, uint32_t i, void (*fn)(void *ud, fj_ref *ref), void *ud);

/* One line: "snap 3 guard pc 12 f1 [r0=0005 r3=#7] {-8:8=0009} (ret 9: 0002 0003 - - fp 0001)
 * budget 0004+5".  Returns strlen of the full line. */
size_t fj_snap_format(const fj_ir *ir, uint32_t i, char *buf, size_t cap);

#endif /* FJ_CODEGEN_SNAP_H */
