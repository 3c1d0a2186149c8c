/* The example programs (examples/, clang -target bpf) through the Thumb-2 backend: each is
 * traced at every loop header (and from its entry), compiled for thumbv7em optimized and with
 * FJ_CG_NO_OPT, run as a Cortex-M4 in Unicorn and compared with the interpreter state by state
 * (diffrun_thumb.h, data sections included); the whole run must then give the native build's
 * result and memory.  Prints "N passed, M failed" (N = example x trace spots checked).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/catalog.h"
#include "tests/codegen/diffrun_thumb.h"
#include "tools/file.h"

#ifndef FJ_EXAMPLES_DIR
#error "FJ_EXAMPLES_DIR must name the directory of the eBPF example objects"
#endif

enum { INPUT_LEN = 1024 };

int main(void) {
  unsigned passed = 0, failed = 0, spots = 0, ran = 0, compiled = 0, traced = 0;
  unsigned aborts[FJ_ABORT__COUNT] = {0};
  for (size_t i = 0; i < fj_nexamples; i++) {
    const fj_example *ex = &fj_examples[i];
    char path[512];
    snprintf(path, sizeof path, "%s/%s.o", FJ_EXAMPLES_DIR, ex->name);
    size_t n = 0;
    uint8_t *elf = fj_file_read(path, &n);
    if (!elf) {
      printf("FAIL %s: cannot read %s\n", ex->name, path);
      failed++;
      continue;
    }
    static uint8_t input[INPUT_LEN], want[INPUT_LEN], got[INPUT_LEN];
    fj_example_input(ex, input, sizeof input);
    memcpy(want, input, sizeof want);
    uint64_t want_r0 = ex->native(want, sizeof want);
    uint32_t pcs[17];
    uint32_t np = fj_diff_loop_headers(&(fj_diff_prog){NULL, 0, elf, n}, pcs, 16);
    pcs[np++] = FJ_DIFF_ANY_PC; /* whatever gets hot first, entries included */
    for (uint32_t k = 0; k < np; k++) {
      memcpy(got, input, sizeof got);
      fj_diff_cfg cfg = {.at_pc = pcs[k], .threshold = 3, .max_recs = 2048};
      fj_diff_result r;
      int rc = fj_diff_run_thumb_elf(elf, n, got, sizeof got, &cfg, &r, NULL);
      spots++;
      ran += (unsigned)r.ran_native;
      traced += (unsigned)r.traced;
      for (int a = 0; a < FJ_ABORT__COUNT; a++) aborts[a] += r.aborts[a];
      compiled += (unsigned)r.compiled;
      const char *why = rc != 0 ? r.message
                      : r.run_status != 0 ? "the run failed"
                      : r.r0 != want_r0 ? "result differs from the native build"
                      : memcmp(got, want, sizeof got) ? "memory differs from the native build" : NULL;
      if (why) {
        printf("FAIL %s (trace at pc %d): %s\n", ex->name, (int)pcs[k], why);
        failed++;
      } else {
        passed++;
      }
    }
    free(elf);
  }
  printf("thumb_examples: %zu examples, %u trace spots, %u traces recorded, %u compiled variants, "
         "%u ran in Unicorn and matched the interpreter\n", fj_nexamples, spots, traced, compiled, ran);
  for (int a = 1; a < FJ_ABORT__COUNT; a++)
    if (aborts[a]) printf("compile aborts %s: %u\n", fj_abort_name(a), aborts[a]);
  if (ran == 0) {
    printf("FAIL: no trace ran\n");
    failed++;
  }
  printf("%u passed, %u failed\n", passed, failed);
  return failed ? 1 : 0;
}
