/* The bpf_conformance suite (../shared/conformance, or $FJ_SHARED) through the Thumb-2 backend:
 * every case the interpreter runs without an expected error is traced
 *   (a) from its entry (threshold 1: the whole path up to the first loop header or the end), and
 *   (b) at each loop header (target of a backward jump), once hot,
 * compiled for thumbv7em optimized and with FJ_CG_NO_OPT, run as a Cortex-M4 in Unicorn and
 * compared with the interpreter state by state (diffrun_thumb.h); the run must still end with
 * the case's expected result.
 * Prints counts and ends with "N passed, M failed" (N = cases checked).  Skips cleanly without
 * the shared data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farjit/error.h"
#include "tests/codegen/diffrun_thumb.h"
#include "tests/conformance/data_file.h"

static int run_one(const char *path, const fj_insn *code, size_t n, const fj_data_case *dc,
                   uint32_t at_pc, uint16_t threshold, fj_diff_result *r) {
  uint8_t mem[4096];
  size_t mlen = dc->mem_len < sizeof mem ? dc->mem_len : sizeof mem;
  if (dc->mem) memcpy(mem, dc->mem, mlen);
  fj_diff_cfg cfg = {.entry = 0, .at_pc = at_pc, .threshold = threshold, .max_recs = 4096,
                     .variants = 3, .bridges = 1};
  int rc = fj_diff_run_thumb(code, n, dc->mem ? mem : NULL, dc->mem ? mlen : 0, &cfg, r, NULL);
  if (rc == 1) {
    printf("FAIL %s (trace at pc %u): %s\n", path, at_pc, r->message);
    return 1;
  }
  if (rc < 0) return 0;  /* the VM refuses it: not a compiler matter */
  if (dc->has_result && r->run_status == 0 && r->r0 != dc->result) {
    printf("FAIL %s (trace at pc %u): result 0x%llx, expected 0x%llx\n", path, at_pc,
           (unsigned long long)r->r0, (unsigned long long)dc->result);
    return 1;
  }
  return 0;
}

int main(void) {
  const char *dir = fj_data_dir();
  if (!dir) {
    printf("conf_thumb: SKIP: no conformance data (looked in ../shared/conformance; set $FJ_SHARED)\n");
    printf("0 passed, 0 failed\n");
    return 0;
  }
  char **paths;
  int np = fj_data_list(dir, &paths);
  if (np < 0) {
    printf("conf_thumb: cannot list %s\n1 passed, 1 failed\n", dir);
    return 1;
  }
  unsigned cases = 0, skipped = 0, traces = 0, compiled = 0, ran = 0, failed = 0, passed = 0;
  unsigned loops = 0, aborts[FJ_ABORT__COUNT] = {0};
  for (int i = 0; i < np; i++) {
    fj_data_case dc;
    char err[256];
    if (fj_data_case_load(paths[i], &dc, err, sizeof err) != 0) {
      skipped++;
      continue;
    }
    fj_insn *code = NULL;
    size_t n = 0;
    if (dc.error || fj_data_case_program(&dc, &code, &n, err, sizeof err) != 0 || n == 0) {
      skipped++;
      fj_data_case_free(&dc);
      free(code);
      continue;
    }
    cases++;
    int bad = 0;
    fj_diff_result r;
    bad |= run_one(paths[i], code, n, &dc, 0, 1, &r);
    traces += (unsigned)r.traced, compiled += (unsigned)r.compiled, ran += (unsigned)r.ran_native;
    for (int k = 0; k < FJ_ABORT__COUNT; k++) aborts[k] += r.aborts[k];
    /* Loop headers: targets of backward jumps. */
    for (size_t pc = 0; pc < n; pc++) {
      unsigned cls = code[pc].code & FJ_CLS_MASK;
      if ((cls != FJ_CLS_JMP && cls != FJ_CLS_JMP32) || code[pc].code == 0x85 ||
          code[pc].code == 0x95 || code[pc].code == 0x8d)
        continue;
      int64_t target = (int64_t)pc + 1 + (code[pc].code == 0x06 ? code[pc].imm : code[pc].off);
      if (target < 0 || target > (int64_t)pc) continue;
      loops++;
      bad |= run_one(paths[i], code, n, &dc, (uint32_t)target, 2, &r);
      traces += (unsigned)r.traced, compiled += (unsigned)r.compiled, ran += (unsigned)r.ran_native;
      for (int k = 0; k < FJ_ABORT__COUNT; k++) aborts[k] += r.aborts[k];
    }
    if (bad) failed++;
    else passed++;
    free(code);
    fj_data_case_free(&dc);
  }
  fj_data_list_free(paths, np);
  printf("conf_thumb: %u cases (%u skipped: expected errors or unreadable), %u loop headers; "
         "%u traces recorded, %u compiled variants, %u ran in Unicorn and matched the interpreter\n",
         cases, skipped, loops, traces, compiled, ran);
  for (int k = 1; k < FJ_ABORT__COUNT; k++)
    if (aborts[k]) printf("compile aborts %s: %u\n", fj_abort_name(k), aborts[k]);
  printf("%u passed, %u failed\n", passed, failed);
  return failed ? 1 : 0;
}
