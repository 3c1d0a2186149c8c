/* tests/codegen — a minimal in-process blob loader for the compiler's tests (x86-64 host).
 *
 * Not the client's linker (that is client_runtime/, with full validation and a code cache):
 * just enough to run what fj_codegen_compile produced.  It checks the header, CRC and that
 * every part and relocation lies inside the blob, maps the code RW, applies relocations
 * (helpers through the table the test gives, runtime entry points to test routines including
 * an FJ_RT_CALL trampoline built with the x86 encoders, TRACE relocations left unlinked or
 * bound to another loaded trace), then flips the mapping to RX.
 */
#ifndef FJ_TESTS_CODEGEN_JITLOAD_H
#define FJ_TESTS_CODEGEN_JITLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "farjit/blob.h"
#include "farjit/jit.h"

/* Helper id -> address (NULL if unknown). */
typedef void *(*fj_jl_helper_fn)(void *ud, uint32_t id);
/* Runtime FJ_RT_CALL_LOCAL: run local function pc in the interpreter. */
typedef uint64_t (*fj_jl_call_local_fn)(fj_jit_state *st, uint32_t pc);

typedef struct fj_jl_env {
  fj_jl_helper_fn helper;
  void *helper_ud;
  fj_jl_call_local_fn call_local;  /* may be NULL: then relocating one fails */
  /* TRACE relocations: entry address of the trace starting at pc, or NULL (leave unlinked). */
  void *(*trace_at)(void *ud, uint32_t pc);
  void *trace_ud;
} fj_jl_env;

typedef struct fj_jl_trace {
  uint8_t *map;          /* mmap'd code (+ trampoline island) */
  size_t map_size;
  uint8_t *code;         /* code base (st->exit_code of this trace) */
  fj_trace_fn entry;
  fj_blob_header h;
  fj_blob_exit *exits;   /* copy of the exit table */
} fj_jl_trace;

/* Load blob[0..len).  Returns 0, or a negative FJ_E* with a reason in err. */
int fj_jl_load(const void *blob, size_t len, const fj_jl_env *env, fj_jl_trace *t, char *err,
               size_t errlen);
void fj_jl_unload(fj_jl_trace *t);
/* Run the trace on st; returns the exit id (also in st->exit_id). */
uint32_t fj_jl_run(fj_jl_trace *t, fj_jit_state *st);

#endif /* FJ_TESTS_CODEGEN_JITLOAD_H */
