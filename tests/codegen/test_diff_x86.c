/* Differential testing of the x86-64 trace compiler: 20000 random programs (gen.h), compiled
 * optimized and with FJ_CG_NO_OPT, run natively and compared with the interpreter from the same
 * state.  The procedure, its knobs (FJ_DIFF_SEED/CASES/ONE/VARIANTS/ASM) and the minimized
 * reproducers are diffrun_main.h's; the runner is diffrun_x86.c.
 */
#include "tests/codegen/diffrun_main.h"

int main(void) {
  fj_diff_target t = {.name = "diff_x86", .rn = fj_diff_x86_runner(), .ran_where = "natively",
                      .cases = 20000, .alarm_s = 5, .local_calls_every = 3, .spill_loops = true};
  return fj_diff_random_main(&t);
}
