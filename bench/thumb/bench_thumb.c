/* bench/thumb — what compiled Thumb-2 traces cost per eBPF instruction on a Cortex-M4.
 *
 * For each example program (examples/catalog.h, default input length), every loop header is
 * traced once it is hot, compiled for thumbv7em (optimized) and run from that state as a
 * Cortex-M4 in Unicorn until the trace exits (tests/codegen/diffrun_thumb.h, which also checks
 * the exit state against the interpreter).  Reported per example: eBPF instructions the traces
 * executed, Thumb instructions executed for them (blob code only; helpers run on the host), the
 * ratio, and the machine code size.  bench/cortexm measures the interpreter the same way
 * (Thumb instructions per eBPF instruction), so the two ratios compare directly.  Counts, not
 * cycles: never part of pass/fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/catalog.h"
#include "farjit/codegen.h"
#include "tests/codegen/diffrun_thumb.h"

#ifndef FJ_EXAMPLES_DIR
#error "FJ_EXAMPLES_DIR must name the directory of the eBPF example objects"
#endif

static uint64_t code_bytes;
static int count_size(const void *trace, size_t len, enum fj_target target,
                      const fj_codegen_opts *opts, fj_codegen_result *res) {
  int rc = fj_codegen_compile(trace, len, target, opts, res);
  if (rc == 0) code_bytes += res->stats.code_size;
  return rc;
}

int main(void) {
  fj_diff_thumb_compile = count_size;
  int bad = 0;
  printf("Compiled Thumb-2 traces on Unicorn's Cortex-M4 (each loop header traced once, optimized)\n");
  printf("%-8s %6s %6s %12s %12s %10s %10s\n", "example", "loops", "traced", "ebpf insns",
         "thumb insns", "thumb/ebpf", "code bytes");
  for (size_t i = 0; i < fj_nexamples; i++) {
    const fj_example *ex = &fj_examples[i];
    char path[512];
    snprintf(path, sizeof path, "%s/%s.o", FJ_EXAMPLES_DIR, ex->name);
    size_t n = 0;
    uint8_t *elf = fj_diff_read_file(path, &n);
    if (!elf) {
      printf("%-8s cannot read %s\n", ex->name, path);
      bad = 1;
      continue;
    }
    static uint8_t input[4096];
    size_t len = ex->len < sizeof input ? ex->len : sizeof input;
    uint32_t pcs[16];
    uint32_t np = fj_diff_loop_headers(&(fj_diff_prog){NULL, 0, elf, n}, pcs, 16);
    uint64_t ebpf = 0, thumb = 0;
    unsigned traced = 0;
    code_bytes = 0;
    for (uint32_t k = 0; k < np; k++) {
      fj_example_input(ex, input, len);
      fj_diff_cfg cfg = {.at_pc = pcs[k], .threshold = 8, .max_recs = 2048, .variants = 2};
      fj_diff_result r;
      uint64_t gi = 0;
      if (fj_diff_run_thumb_elf(elf, n, input, len, &cfg, &r, &gi) != 0) {
        printf("%-8s loop at pc %u: %s\n", ex->name, pcs[k], r.message);
        bad = 1;
      }
      traced += (unsigned)r.ran_native;
      ebpf += r.native_insns;
      thumb += gi;
    }
    printf("%-8s %6u %6u %12llu %12llu %10.2f %10llu\n", ex->name, np, traced,
           (unsigned long long)ebpf, (unsigned long long)thumb,
           ebpf ? (double)thumb / (double)ebpf : 0.0, (unsigned long long)code_bytes);
    free(elf);
  }
  return bad;
}
