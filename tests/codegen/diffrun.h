/* tests/codegen — differential execution: interpreter vs compiled trace, from the same state.
 *
 * fj_diff_run_with loads a program into a fresh VM and runs it in the interpreter with a JIT
 * hook.  At the chosen hot spot it snapshots the complete state S0 (registers, pc, frames,
 * budget, stack, context memory, ELF data sections), records a trace there with the client's
 * recorder, and for each compile variant (FJ_CG_NO_OPT, then optimized):
 *   1. compiles the trace for the runner's target, requires the client's validator
 *      (fj_blob_check) to accept the blob, loads it with the runner, restores S0 and runs it;
 *      the exit gives S1: st->r[], frames, budget, memory, and exits[id].pc;
 *   2. restores S0 and single-steps the interpreter exactly (budget(S0) - budget(S1))
 *      instructions (the exit state's budget is exact, so this is the same path);
 *   3. requires pc, registers, frames, depth, stack, context memory and data to be identical.
 * With cfg->bridges, when the compiled code left through a side exit, a bridge trace
 * (FJ_TRACE_BRIDGE) is recorded at that exit from the now identical state and checked the same
 * way.  The program then finishes in the interpreter.  Traces the compiler rejects are counted per
 * abort reason, not failed (the caller decides how many it tolerates).
 *
 * Everything target-specific is a runner (fj_diff_runner): where the VM, the run memory and the
 * jit state live (a Thumb guest must see them at their host addresses), how a blob is loaded and
 * run, how its code is disassembled.  diffrun_x86.c runs blobs natively, diffrun_thumb.c as a
 * Cortex-M4 in Unicorn.
 */
#ifndef FJ_TESTS_CODEGEN_DIFFRUN_H
#define FJ_TESTS_CODEGEN_DIFFRUN_H

#include <stddef.h>
#include <stdint.h>

#include "codegen/abort.h"
#include "farjit/codegen.h"
#include "farjit/ebpf.h"
#include "farjit/jit.h"
#include "farjit/vm.h"

struct fj_exec;  /* client_runtime/vm_internal.h */

enum { FJ_DIFF_ANY_PC = 0xffffffffu, FJ_DIFF_MAX_MEM = 4096 };

typedef struct fj_diff_cfg {
  uint32_t entry;       /* entry pc of the run (ELF programs: ignored, their default entry) */
  uint32_t at_pc;       /* hot spot to trace (FJ_DIFF_ANY_PC: the first that gets hot) */
  uint16_t threshold;   /* hot counter threshold (>= 1) */
  uint32_t max_recs;    /* recorder limit (0: 1024) */
  int verbose;          /* print IR dumps and code */
  uint32_t variants;    /* bit 0: FJ_CG_NO_OPT, bit 1: optimized (0 = both) */
  uint64_t insn_limit;  /* the run's instruction budget (0: the VM's default) */
  int bridges;          /* after a side exit, also record and check a bridge trace there */
  int ret_point;        /* instead of at_pc: at the first hot local-function entry, step the
                           interpreter until that call returns and trace from the return point
                           (the runtime's return-point ENTRY traces); at_pc is then ignored */
} fj_diff_cfg;

typedef struct fj_diff_result {
  int failed;           /* a mismatch or crash-free error: message says what */
  char message[512];
  int traced;           /* a trace was recorded */
  int compiled;         /* variants that compiled (0..2) */
  int ran_native;       /* variants whose compiled code ran and matched */
  uint32_t aborts[FJ_ABORT__COUNT];  /* compile aborts by reason, both variants */
  uint32_t exit_kinds[8];            /* exits taken by enum fj_exit_kind */
  uint32_t frame_exits;              /* exits taken with inlined call frames */
  uint32_t spilled;                  /* compiled variants that used spill slots */
  uint32_t bridges;                  /* bridge traces recorded (and checked) */
  uint64_t native_insns;             /* eBPF instructions the compiled code executed */
  uint64_t guest_insns;              /* target instructions that took (runners that count) */
  /* Bounds checks fj_opt_mem hoisted in front of LOOP (seen in the optimized IR of each trace;
   * runs from widened entries not counted): */
  uint32_t hoisted_traces;           /* traces (and bridges) with hoisted checks */
  uint32_t hoisted_guards;           /* the guards hoisted in them */
  uint32_t hoisted_runs;             /* optimized runs of such traces that matched */
  uint32_t hoisted_failed;           /* ... that left through a hoisted check */
  uint32_t ret_points;               /* traces recorded at a return point (cfg->ret_point) */
  int run_status;       /* fj_vm_run's return */
  uint64_t r0;
} fj_diff_result;

/* The compile step (fj_codegen_compile's signature; tests may substitute a counting one). */
typedef int (*fj_diff_compile_fn)(const void *trace, size_t len, enum fj_target target,
                                  const fj_codegen_opts *opts, fj_codegen_result *res);

/* A target's way of running blobs.  One run at a time per runner (self holds its state). */
typedef struct fj_diff_runner {
  const char *name;       /* "x86_64", "thumbv7em" */
  enum fj_target target;
  int cs_arch, cs_mode;   /* capstone, for verbose dumps */
  fj_diff_compile_fn compile;
  /* Create the VM and the places for the run memory (mem_len bytes, at least 1) and for the
   * jit state, all where the compiled code can address them.  0, or nonzero with err. */
  int (*open)(void *self, fj_vm **vm, uint8_t **mem, size_t mem_len, fj_jit_state **st, char *err,
              size_t errlen);
  void (*close)(void *self, fj_vm *vm);
  /* A host pointer as the compiled code sees it (st->vm, st->regions). */
  uint64_t (*addr)(const void *p);
  /* Link the blob (already accepted by fj_blob_check); *code_base is what the code stores in
   * st->exit_code.  0, or nonzero with err.  Unloaded by run (or by the next load). */
  int (*load)(void *self, fj_vm *vm, const uint8_t *blob, size_t len, uint64_t *code_base,
              char *err, size_t errlen);
  /* Run the loaded blob on st (ex: the interpreter's state st was taken from); *exit_id is the
   * exit the code returned, *guest_insns the target instructions it took (0 if not counted).
   * 0, or nonzero with err (fault, limit, a helper misused). */
  int (*run)(void *self, fj_vm *vm, struct fj_exec *ex, fj_jit_state *st, uint32_t *exit_id,
             uint64_t *guest_insns, char *err, size_t errlen);
  void *self;
} fj_diff_runner;

/* A program: raw instructions, or an ELF object (elf != NULL). */
typedef struct fj_diff_prog {
  const fj_insn *code;
  size_t n;
  const void *elf;
  size_t elf_len;
} fj_diff_prog;

/* Runs the procedure above.  mem (mem_len <= FJ_DIFF_MAX_MEM) is copied to the runner's run
 * memory for the run and back after it.  Returns 0 if the comparison could be made and matched
 * (or nothing was traced/compiled), 1 on a mismatch (res->message), negative FJ_E* if the
 * program itself failed to load. */
int fj_diff_run_with(const fj_diff_runner *rn, const fj_diff_prog *prog, void *mem, size_t mem_len,
                     const fj_diff_cfg *cfg, fj_diff_result *res);

/* The x86-64 runner (diffrun_x86.c): blobs loaded by jitload.h and run natively. */
const fj_diff_runner *fj_diff_x86_runner(void);
/* fj_diff_run_with(fj_diff_x86_runner(), raw instructions). */
int fj_diff_run(const fj_insn *code, size_t n, void *mem, size_t mem_len, const fj_diff_cfg *cfg,
                fj_diff_result *res);

/* Loop headers (targets of backward jumps: FJ_XF_LOOP) of a program, at most max, into pcs. */
uint32_t fj_diff_loop_headers(const fj_diff_prog *prog, uint32_t *pcs, uint32_t max);

#endif /* FJ_TESTS_CODEGEN_DIFFRUN_H */
