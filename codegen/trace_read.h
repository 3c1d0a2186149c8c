/* farjit codegen — reading and verifying trace bytes (farjit/trace.h).
 *
 * fj_trace_read decodes the wire format into an aligned copy and checks every rule of the
 * normative comment in farjit/trace.h; a trace that breaks one is rejected with FJ_EBADTRACE
 * and a message "trace rec 17 (pc 42): <rule>" ("trace header: <rule>" for header rules).
 * Safe on any input: bounded time (linear in len), never reads outside [bytes, bytes + len),
 * never crashes (fuzzed).  No I/O, no globals.
 *
 * What the compiler may assume of a trace that passed: see the checks in trace_read.c; in short
 * every rec has a valid op and pc < prog_ninsns, consecutive recs are connected as the recorded
 * control flow says, depths move by exactly one at inlined calls/returns and stay below
 * FJ_MAX_CALL_DEPTH, memory recs name a region < nregions, the end kind fits the last rec.
 */
#ifndef FJ_CODEGEN_TRACE_READ_H
#define FJ_CODEGEN_TRACE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "farjit/trace.h"

typedef struct fj_trace {
  fj_trace_header h;
  fj_trace_rec *recs;  /* h.nrecs records, malloc'd */
  uint8_t *ops;        /* enum fj_op of each rec, malloc'd */
  uint32_t nrecs;
} fj_trace;

/* 0, or FJ_EBADTRACE / FJ_ENOMEM with msg filled.  max_recs 0 = FJ_TRACE_MAX_RECS.  On error
 * *t holds nothing to release (fj_trace_release is still safe). */
int fj_trace_read(const void *bytes, size_t len, uint32_t max_recs, fj_trace *t, char *msg,
                  size_t msgcap);
void fj_trace_release(fj_trace *t);

/* Where control goes after rec i by the trace's own record (fall-through, taken branch, jump,
 * call, return pc from the frame stack is not known here: returns UINT32_MAX for `exit`). */
uint32_t fj_trace_next_pc(const fj_trace_rec *r, uint8_t op);

#endif /* FJ_CODEGEN_TRACE_READ_H */
