/* tests/codegen — differential execution: interpreter vs compiled trace, from the same state.
 *
 * fj_diff_run loads a program into a fresh VM and runs it in the interpreter with a JIT hook.
 * At the chosen hot spot it snapshots the complete state S0 (registers, pc, frames, budget,
 * stack, context memory), records a trace there with the client's recorder, and for each
 * compile variant (FJ_CG_NO_OPT, then optimized):
 *   1. restores S0, compiles the trace (fj_codegen_compile), loads it (jitload) and runs it;
 *      the exit gives S1: st->r[], frames, budget, memory, and exits[id].pc;
 *   2. restores S0 and single-steps the interpreter exactly (budget(S0) - budget(S1))
 *      instructions (the exit state's budget is exact, so this is the same path);
 *   3. requires pc, registers, frames, depth, stack and context memory to be identical.
 * With cfg->bridges, when the compiled code left through a side exit, a bridge trace
 * (FJ_TRACE_BRIDGE) is recorded at that exit from the now identical state and checked the same
 * way.  The program then finishes in the interpreter.  Traces the compiler rejects are counted per
 * abort reason, not failed (the caller decides how many it tolerates).
 */
#ifndef FJ_TESTS_CODEGEN_DIFFRUN_H
#define FJ_TESTS_CODEGEN_DIFFRUN_H

#include <stddef.h>
#include <stdint.h>

#include "codegen/abort.h"
#include "farjit/ebpf.h"

enum { FJ_DIFF_ANY_PC = 0xffffffffu };

typedef struct fj_diff_cfg {
  uint32_t entry;       /* entry pc of the run */
  uint32_t at_pc;       /* hot spot to trace (FJ_DIFF_ANY_PC: the first that gets hot) */
  uint16_t threshold;   /* hot counter threshold (>= 1) */
  uint32_t max_recs;    /* recorder limit (0: 1024) */
  int verbose;          /* print IR dumps and code */
  uint32_t variants;    /* bit 0: FJ_CG_NO_OPT, bit 1: optimized (0 = both) */
  uint64_t insn_limit;  /* the run's instruction budget (0: the VM's default) */
  int bridges;          /* after a side exit, also record and check a bridge trace there */
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
  int run_status;       /* fj_vm_run's return */
  uint64_t r0;
} fj_diff_result;

/* Returns 0 if the comparison could be made and matched (or nothing was traced/compiled),
 * 1 on a mismatch (res->message), negative FJ_E* if the program itself failed to load. */
int fj_diff_run(const fj_insn *code, size_t n, void *mem, size_t mem_len, const fj_diff_cfg *cfg,
                fj_diff_result *res);

#endif /* FJ_TESTS_CODEGEN_DIFFRUN_H */
