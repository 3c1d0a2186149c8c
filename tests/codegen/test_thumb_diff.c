/* Differential testing of the Thumb-2 backend: 5000 random programs (gen.h, the generator of the
 * x86-64 test: edge values for carries, shifts by 31/32/33/63/64, division by 0 and -1,
 * JMP32/JMP conditions, atomics, helper and local calls, budget exits), compiled for thumbv7em
 * optimized and with FJ_CG_NO_OPT, run as a Cortex-M4 in Unicorn and compared with the
 * interpreter from the same state.  The procedure, its knobs (FJ_DIFF_SEED/CASES/ONE/VARIANTS/
 * ASM) and the minimized reproducers are diffrun_main.h's; the runner is diffrun_thumb.c.
 */
#include "tests/codegen/diffrun_main.h"
#include "tests/codegen/diffrun_thumb.h"

int main(void) {
  fj_diff_target t = {.name = "diff_thumb", .rn = fj_diff_thumb_runner(),
                      .ran_where = "in Unicorn", .guest_isa = "Thumb", .cases = 5000,
                      .alarm_s = 30, .local_calls_every = 7, .spill_loops = false};
  return fj_diff_random_main(&t);
}
