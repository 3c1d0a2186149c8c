/* tests/codegen — differential execution for the Thumb-2 backend: interpreter vs a compiled
 * trace run as a Cortex-M4 in Unicorn, from the same state.
 *
 * The same procedure and result type as diffrun.h (x86-64): at the chosen hot spot snapshot
 * the state S0, record a trace, and for each variant (FJ_CG_NO_OPT, optimized) compile it for
 * FJ_TARGET_THUMBV7EM, link it into the harness (uc_thumb.h), run it through the client
 * runtime's fj_arch_enter on S0, then single-step the interpreter from S0 for exactly as many
 * instructions as the exit state's budget says and require pc, registers, frames, depth, stack
 * and context memory to be identical.  The VM, its stack and the context memory live in the
 * harness's shared arena, so pointers mean the same to the interpreter and to the guest code.
 * Helpers run on the host through the harness's hooks (arguments as AAPCS passes them).
 */
#ifndef FJ_TESTS_CODEGEN_DIFFRUN_THUMB_H
#define FJ_TESTS_CODEGEN_DIFFRUN_THUMB_H

#include <stddef.h>
#include <stdint.h>

#include "farjit/codegen.h"
#include "tests/codegen/diffrun.h"
#include "tests/codegen/uc_thumb.h"

/* The compile step of every variant (default: fj_codegen_compile).  Tests may substitute one
 * (test_thumb_size compiles each trace with and without 32-bit knowledge). */
typedef int (*fj_diff_compile_fn)(const void *trace, size_t len, enum fj_target target,
                                  const fj_codegen_opts *opts, fj_codegen_result *res);
extern fj_diff_compile_fn fj_diff_thumb_compile;

/* The harness every run uses (created on first use; one per process). */
fj_uct *fj_diff_thumb_harness(void);

/* As fj_diff_run (diffrun.h), on the Thumb-2 target.  mem is copied into the arena for the run
 * and back after it.  *guest_insns (if not NULL) gets the Thumb instructions executed. */
int fj_diff_run_thumb(const fj_insn *code, size_t n, void *mem, size_t mem_len,
                      const fj_diff_cfg *cfg, fj_diff_result *res, uint64_t *guest_insns);

/* The same for an ELF object (fj_vm_load_elf; the run starts at its default entry, cfg->entry
 * is ignored); std helpers are registered.  Run memory at most 4096 bytes. */
int fj_diff_run_thumb_elf(const void *elf, size_t len, void *mem, size_t mem_len,
                          const fj_diff_cfg *cfg, fj_diff_result *res, uint64_t *guest_insns);
/* Loop headers (targets of backward jumps) of an ELF object, at most max, into pcs. */
uint32_t fj_diff_thumb_loop_headers(const void *elf, size_t len, uint32_t *pcs, uint32_t max);

#endif /* FJ_TESTS_CODEGEN_DIFFRUN_THUMB_H */
