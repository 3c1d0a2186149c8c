/* tests/codegen — the Thumb-2 runner of the differential harness (diffrun.h): compiled traces
 * for FJ_TARGET_THUMBV7EM linked into the Unicorn harness (uc_thumb.h) and run as a Cortex-M4
 * through the client runtime's fj_arch_enter.  The VM, its stack, the run memory and the jit
 * state live in the harness's shared arena, so pointers mean the same to the interpreter and to
 * the guest code.  Helpers and CALL_LOCAL run on the host through the harness's hooks
 * (arguments as AAPCS passes them).  Counts the Thumb instructions executed (guest_insns).
 */
#ifndef FJ_TESTS_CODEGEN_DIFFRUN_THUMB_H
#define FJ_TESTS_CODEGEN_DIFFRUN_THUMB_H

#include <stddef.h>
#include <stdint.h>

#include "tests/codegen/diffrun.h"
#include "tests/codegen/uc_thumb.h"

/* The compile step of every variant (default: fj_codegen_compile).  Tests may substitute one
 * (test_thumb_size compiles each trace with and without 32-bit knowledge). */
extern fj_diff_compile_fn fj_diff_thumb_compile;

/* The harness every run uses (created on first use; one per process). */
fj_uct *fj_diff_thumb_harness(void);
/* The runner (NULL-free; open fails with a message when Unicorn is unavailable). */
const fj_diff_runner *fj_diff_thumb_runner(void);

/* fj_diff_run_with(fj_diff_thumb_runner(), ...) for raw instructions or an ELF object (std
 * helpers registered; the run starts at its default entry).  *guest_insns (if not NULL) gets
 * the Thumb instructions executed (also res->guest_insns). */
int fj_diff_run_thumb(const fj_insn *code, size_t n, void *mem, size_t mem_len,
                      const fj_diff_cfg *cfg, fj_diff_result *res, uint64_t *guest_insns);
int fj_diff_run_thumb_elf(const void *elf, size_t len, void *mem, size_t mem_len,
                          const fj_diff_cfg *cfg, fj_diff_result *res, uint64_t *guest_insns);

#endif /* FJ_TESTS_CODEGEN_DIFFRUN_THUMB_H */
