/* The bpf_conformance suite (../shared/conformance, or $FJ_SHARED) through the x86-64 trace
 * compiler: every case traced from its entry and at each loop header, compiled both ways, run
 * natively and compared with the interpreter state by state (diffrun_main.h).  Prints counts and
 * ends with "N passed, M failed" (N = cases checked).  Skips cleanly without the shared data.
 */
#include "tests/codegen/diffrun_main.h"

int main(void) {
  fj_diff_target t = {.name = "conf_trace", .rn = fj_diff_x86_runner(), .ran_where = "natively"};
  return fj_diff_conf_main(&t);
}
