/* The bpf_conformance suite (../shared/conformance, or $FJ_SHARED) through the Thumb-2 backend:
 * every case traced from its entry and at each loop header, compiled for thumbv7em both ways,
 * run as a Cortex-M4 in Unicorn and compared with the interpreter state by state
 * (diffrun_main.h).  Prints counts and ends with "N passed, M failed" (N = cases checked).
 * Skips cleanly without the shared data.
 */
#include "tests/codegen/diffrun_main.h"
#include "tests/codegen/diffrun_thumb.h"

int main(void) {
  fj_diff_target t = {.name = "conf_thumb", .rn = fj_diff_thumb_runner(),
                      .ran_where = "in Unicorn"};
  return fj_diff_conf_main(&t);
}
