/* farjit — the trace recorder (client core, freestanding).
 *
 * The recorder follows the interpreter one instruction at a time (fj_interp_step) from a hot
 * spot and writes the path it takes as trace bytes, exactly as include/farjit/trace.h defines
 * them: a header and one fj_trace_rec per executed instruction, with the branch direction, the
 * inlined call depth and the memory region each access hit.  An lddw the ELF loader relocated
 * to a data section is recorded as that section's region and the offset in it
 * (FJ_REC_LDDW_REGION), so a trace holds no client address.  The interpreter does all the work;
 * the recorder only observes, so recording never changes what the program computes.
 *
 * Recording ends
 *   END_LOOP  the path came back to start_pc in the trace's own frame;
 *   END_LINK  the path reached (in the trace's own frame) a pc where `trace_at` says a trace
 *             starts (installed or being compiled);
 *   END_STOP  `exit` of the trace's own frame: that exit is the last rec and end_pc is its pc
 *             (it is not executed: the interpreter runs it after the trace);
 * A loop header (target of a backward jump) other than start_pc reached in the trace's own frame
 * ends it with END_LINK only when the path already went through that header (its loop is
 * repeating: loops are traced from their own header, never unrolled into another trace) or the
 * trace has FJ_REC_HEADER_SPAN records already.  Otherwise recording goes on through it: clang
 * places loop bodies before their header and reaches them with backward jumps, and such a loop
 * must still become one LOOP trace rather than fragments linked to each other.  Recording aborts with an fj_rec_abort reason (too long, interpreter error,
 * program stopped inside a helper, a backward jump inside an inlined call: `bad_callee` then
 * names the function, which the caller should stop inlining).  Local calls are inlined (callee
 * recs at depth + 1), also when the callee has a trace of its own (calling it from machine code
 * would cost an exit and an entry per call), unless `no_inline` says so or the inline depth
 * limit is reached: then the call rec gets FJ_REC_CALL_INTERP and the callee runs unrecorded, as a
 * nested interpreter run at full speed (its hot hooks may fire and run machine code).
 *
 * Memory: the caller provides the output buffer (fj_trace_size(max_recs) bytes).  The recorder
 * never allocates.  The recorder is not re-entrant per object; helper callbacks that run nested
 * interpreter loops during a recorded step are fine (they are one recorded instruction).
 */
#ifndef FJ_CLIENT_RECORD_H
#define FJ_CLIENT_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client_runtime/vm_internal.h"
#include "farjit/trace.h"

/* _(NAME, "text") */
#define FJ_REC_ABORTS(_)                                                   \
  _(NONE,      "none")                                                     \
  _(TOO_LONG,  "trace too long")                                           \
  _(ERROR,     "interpreter error while recording")                        \
  _(STOPPED,   "program ended inside the recorded path (helper unwind)")   \
  _(NO_SPACE,  "output buffer too small")                                  \
  _(INNER_LOOP, "loop inside an inlined call")

enum fj_rec_abort {
#define FJ_REC_ABORT_ENUM(name, text) FJ_REC_ABORT_##name,
  FJ_REC_ABORTS(FJ_REC_ABORT_ENUM)
#undef FJ_REC_ABORT_ENUM
  FJ_REC_ABORT__COUNT
};
_Static_assert(FJ_REC_ABORT__COUNT == 6, "update fj_rec_abort_name users");

const char *fj_rec_abort_name(int reason);

/* Past this many records a trace stops at the next loop header it reaches. */
#define FJ_REC_HEADER_SPAN 100u

/* Does a trace start at pc (installed or pending)?  Used for END_LINK (and, as the same
 * signature, for no_inline). */
typedef bool (*fj_rec_trace_at_fn)(void *ud, uint32_t pc);

typedef struct fj_recorder {
  uint8_t *buf;           /* header + records */
  uint32_t max_recs;      /* records that fit (and the length limit) */
  uint32_t nrecs;
  uint32_t base;          /* ex->depth when recording started (the trace's own frame) */
  uint32_t max_depth;     /* deepest inline depth reached */
  uint32_t inline_limit;  /* deepest inline depth allowed (<= FJ_MAX_CALL_DEPTH - 1) */
  int abort;              /* enum fj_rec_abort when fj_rec_run returned FJ_REC_ABORTED */
  fj_rec_trace_at_fn trace_at;
  void *trace_at_ud;
  fj_rec_trace_at_fn no_inline;  /* set after fj_rec_begin; NULL: inline every callee */
  uint32_t bad_callee;           /* FJ_REC_ABORT_INNER_LOOP: the function holding the loop */
  uint32_t callee[FJ_MAX_CALL_DEPTH];  /* callee[d]: function running at inline depth d + 1 */
} fj_recorder;

enum {
  FJ_REC_DONE = 0,     /* trace complete: fj_rec_bytes() */
  FJ_REC_ABORTED = 1,  /* no trace; ex is consistent, keep interpreting */
  FJ_REC_FINISHED = 2, /* no trace; the run's base frame exited during recording (r0 in ex) */
};

/* Start a trace at ex->pc.  buf must hold fj_trace_size(max_recs) bytes, max_recs >= 1 (it is
 * clamped to FJ_TRACE_MAX_RECS).  Returns 0 or FJ_EINVAL. */
int fj_rec_begin(fj_recorder *r, void *buf, size_t cap, uint32_t max_recs, const fj_vm *vm,
                 const fj_exec *ex, enum fj_trace_kind kind, uint32_t parent_id,
                 uint32_t parent_exit, fj_rec_trace_at_fn trace_at, void *ud);

/* Step the interpreter and record until the trace ends or aborts.  Returns FJ_REC_DONE,
 * FJ_REC_ABORTED, FJ_REC_FINISHED, FJ_EUNWIND (a helper unwound the program: vm->stop is set,
 * the unwind's r0 is in ex->r[0]; aborted with FJ_REC_ABORT_STOPPED), or another negative FJ_E*
 * the interpreter reported (the VM holds the message; aborted with FJ_REC_ABORT_ERROR). */
int fj_rec_run(fj_recorder *r, fj_vm *vm, fj_exec *ex);

/* The finished trace: pointer to the buffer and its size (fj_trace_size(nrecs)). */
static inline const uint8_t *fj_rec_bytes(const fj_recorder *r, size_t *len) {
  *len = fj_trace_size(r->nrecs);
  return r->buf;
}

/* Region index containing [addr, addr+len), or -1. */
int fj_rec_region_of(const fj_vm *vm, uint64_t addr, uint64_t len);

/* Convenience for tools and tests (C2's differential tests): run entry_pc with mem as
 * fj_vm_run does, and record the first spot whose hot counter fires (threshold `threshold`
 * events, >= 1) at pc at_pc (FJ_REC_ANY_PC: any spot) into buf.  The program then runs to the
 * end in the interpreter.  Returns
 * FJ_REC_DONE with *len set, FJ_REC_ABORTED / FJ_REC_FINISHED if no trace was produced (also
 * when nothing got hot: *len = 0), or a negative FJ_E* (the run failed; fj_vm_errmsg). */
#define FJ_REC_ANY_PC 0xffffffffu
int fj_rec_first_hot(fj_vm *vm, uint32_t entry_pc, void *mem, size_t mem_len, uint16_t threshold,
                     uint32_t at_pc, void *buf, size_t cap, size_t *len, uint64_t *r0);

#endif /* FJ_CLIENT_RECORD_H */
