/* farjit — the trace compiler's entry point (library libfj_codegen, used by farjitd and tools).
 *
 * Host-side code (not part of the client).  Pure: no I/O, no global state, thread-safe (the
 * server calls it from worker threads).  Input: trace bytes (farjit/trace.h).  Output: a blob
 * (farjit/blob.h) in memory the caller frees with fj_codegen_result_free.
 */
#ifndef FARJIT_CODEGEN_H
#define FARJIT_CODEGEN_H

#include <stddef.h>
#include <stdint.h>

#include "farjit/target.h"

#define FJ_COMPILER_VERSION 1  /* bump when generated code may change: part of the cache key */

enum {
  FJ_CG_NO_OPT = 1u << 0,    /* skip optimization passes (debugging, differential testing) */
  FJ_CG_DUMP = 1u << 1,      /* put IR before/after optimization and snapshots in blob meta */
};

typedef struct fj_codegen_opts {
  uint32_t flags;            /* FJ_CG_* */
  uint32_t max_recs;         /* reject longer traces; 0 = FJ_TRACE_MAX_RECS */
} fj_codegen_opts;

typedef struct fj_codegen_stats {
  uint32_t nrecs;            /* trace records in */
  uint32_t ir_before;        /* IR instructions after recording, before optimization */
  uint32_t ir_after;         /* after optimization */
  uint32_t nexits;
  uint32_t nspills;          /* spill slots used */
  uint32_t code_size;        /* bytes of machine code */
} fj_codegen_stats;

typedef struct fj_codegen_result {
  int status;                /* 0, or a negative FJ_E* code (FJ_EBADTRACE, FJ_ETARGET, FJ_ECOMPILE) */
  int abort_reason;          /* FJ_ECOMPILE: the compiler's abort reason (codegen/abort.h) */
  char message[192];         /* why, when status != 0: "trace rec 17 (pc 42): ..." */
  uint8_t *blob;             /* on success: the blob, malloc'd */
  size_t blob_size;
  fj_codegen_stats stats;
} fj_codegen_result;

/* Compile trace[0..len) for target.  Always fills *res; returns res->status. */
int fj_codegen_compile(const void *trace, size_t len, enum fj_target target,
                       const fj_codegen_opts *opts, fj_codegen_result *res);
void fj_codegen_result_free(fj_codegen_result *res);

/* Is target supported by this build of the compiler? */
int fj_codegen_supports(enum fj_target target);

#endif /* FARJIT_CODEGEN_H */
