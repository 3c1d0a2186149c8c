/* tests/codegen — the conformance suite through a target's runner (contract in diffrun_main.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farjit/error.h"
#include "tests/codegen/diffrun_main.h"
#include "tests/conformance/data_file.h"

typedef struct totals { unsigned traces, compiled, ran, aborts[FJ_ABORT__COUNT]; } totals;

/* One run traced at at_pc; adds its counts to *sum.  1 if it failed. */
static int run_one(const fj_diff_target *t, const char *path, const fj_insn *code, size_t n,
                   const fj_data_case *dc, uint32_t at_pc, uint16_t threshold, totals *sum) {
  fj_diff_result res, *r = &res;
  uint8_t mem[FJ_DIFF_MAX_MEM];
  size_t mlen = dc->mem_len < sizeof mem ? dc->mem_len : sizeof mem;
  if (dc->mem) memcpy(mem, dc->mem, mlen);
  fj_diff_cfg cfg = {.entry = 0, .at_pc = at_pc, .threshold = threshold, .max_recs = 4096,
                     .variants = 3, .bridges = 1};
  fj_diff_prog prog = {code, n, NULL, 0};
  int rc = fj_diff_run_with(t->rn, &prog, dc->mem ? mem : NULL, dc->mem ? mlen : 0, &cfg, r);
  sum->traces += (unsigned)r->traced, sum->compiled += (unsigned)r->compiled;
  sum->ran += (unsigned)r->ran_native;
  for (int k = 0; k < FJ_ABORT__COUNT; k++) sum->aborts[k] += r->aborts[k];
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

int fj_diff_conf_main(const fj_diff_target *t) {
  const char *dir = fj_data_dir();
  if (!dir) {
    printf("%s: SKIP: no conformance data (looked in ../shared/conformance; set $FJ_SHARED)\n",
           t->name);
    printf("0 passed, 0 failed\n");
    return 0;
  }
  char **paths;
  int np = fj_data_list(dir, &paths);
  if (np < 0) {
    printf("%s: cannot list %s\n1 passed, 1 failed\n", t->name, dir);
    return 1;
  }
  unsigned cases = 0, skipped = 0, failed = 0, passed = 0, loops = 0;
  totals sum = {0};
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
    /* The entry (threshold 1), then each loop header (a backward jump's target) once hot. */
    int bad = run_one(t, paths[i], code, n, &dc, 0, 1, &sum);
    for (size_t pc = 0; pc < n; pc++) {
      unsigned cls = code[pc].code & FJ_CLS_MASK;
      if ((cls != FJ_CLS_JMP && cls != FJ_CLS_JMP32) || code[pc].code == 0x85 ||
          code[pc].code == 0x95 || code[pc].code == 0x8d)
        continue;
      int64_t target = (int64_t)pc + 1 + (code[pc].code == 0x06 ? code[pc].imm : code[pc].off);
      if (target < 0 || target > (int64_t)pc) continue;
      loops++;
      bad |= run_one(t, paths[i], code, n, &dc, (uint32_t)target, 2, &sum);
    }
    if (bad) failed++;
    else passed++;
    free(code);
    fj_data_case_free(&dc);
  }
  fj_data_list_free(paths, np);
  printf("%s: %u cases (%u skipped: expected errors or unreadable), %u loop headers; "
         "%u traces recorded, %u compiled variants, %u ran %s and matched the interpreter\n",
         t->name, cases, skipped, loops, sum.traces, sum.compiled, sum.ran, t->ran_where);
  for (int k = 1; k < FJ_ABORT__COUNT; k++)
    if (sum.aborts[k]) printf("compile aborts %s: %u\n", fj_abort_name(k), sum.aborts[k]);
  printf("%u passed, %u failed\n", passed, failed);
  return failed ? 1 : 0;
}
