/* tests/codegen — the differential test programs, once for every target (diffrun.h runners).
 *
 * fj_diff_random_main: thousands of random programs (gen.h), each traced at its loop header or
 * from its entry (whole path), compiled optimized and with FJ_CG_NO_OPT (bridges at side exits
 * too), run by the target's runner and compared with the interpreter from the same state.
 * Seeded and reproducible:
 *   FJ_DIFF_SEED=<n>   first seed (default 1)      FJ_DIFF_CASES=<n>  cases (default: t->cases)
 *   FJ_DIFF_ONE=<seed> run only that seed, verbosely
 *   FJ_DIFF_VARIANTS=1 only FJ_CG_NO_OPT, 2 only optimized, 3 both (default)
 *   FJ_DIFF_IV=1       every loop program an induction-variable loop (0: none; unset: 40%)
 *   FJ_DIFF_ASM=<file> assemble the file and run it verbosely (the loop at label `loop`, else
 *                      the whole path from pc 0): for debugging a minimized reproducer
 * On a failure it prints the seed, the message and a minimized program (instructions replaced
 * by `ja +0` while it still fails, printed as assemblable text), then continues.  At least 90%
 * of the compiled variants (two per trace and bridge) must have run and matched.  Ends with
 * "N passed, M failed"; returns the exit status.  40% of the loop programs are induction-variable
 * loops (gen.h iv_loops: what bounds-check hoisting works on, often running off their region);
 * half the programs with local calls are traced at a return point instead (diffrun.h
 * ret_point).  The summary counts the bounds checks hoisted before LOOP and the optimized runs
 * that left through one.
 *
 * fj_diff_conf_main: the bpf_conformance suite (../shared/conformance, or $FJ_SHARED): every
 * case the interpreter runs without an expected error is traced (a) from its entry (threshold
 * 1: the whole path up to the first loop header or the end) and (b) at each loop header (target
 * of a backward jump) once hot, compiled both ways and compared state by state; the run must
 * still end with the case's expected result.  Skips cleanly without the shared data.
 */
#ifndef FJ_TESTS_CODEGEN_DIFFRUN_MAIN_H
#define FJ_TESTS_CODEGEN_DIFFRUN_MAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "tests/codegen/diffrun.h"

typedef struct fj_diff_target {
  const char *name;         /* prefix of the summary lines: "diff_x86", "conf_thumb" */
  const fj_diff_runner *rn;
  const char *ran_where;    /* "natively", "in Unicorn" */
  const char *guest_isa;    /* the runner counts these instructions ("Thumb"), or NULL */
  /* fj_diff_random_main only: */
  uint64_t cases;           /* default number of cases */
  unsigned alarm_s;         /* watchdog per case (a signal prints the seed) */
  uint32_t local_calls_every;  /* programs with local calls: seed % this == 0 */
  bool spill_loops;         /* seed % 16 == 9: long loop bodies (spills in loops) */
} fj_diff_target;

int fj_diff_random_main(const fj_diff_target *t);
int fj_diff_conf_main(const fj_diff_target *t);

#endif /* FJ_TESTS_CODEGEN_DIFFRUN_MAIN_H */
