/* What the IR's 32-bit knowledge saves on Thumb-2.
 *
 * Every trace of the differential generator (gen.h) and of the conformance suite is compiled
 * twice (optimized): as the backend does it (an I32 value takes one register, its upper half
 * is known zero) and without that knowledge (fj_backend_thumbv7em_wide: every value two
 * registers, ALU32 results zero-extended into the high register, as a 32-bit eBPF JIT that
 * does not know the upper halves must do).  Both are run in Unicorn against the interpreter
 * (diffrun_thumb.h), so the comparison is between two correct compilers.  Prints the code
 * sizes and the instructions executed; fails if the knowledge does not make the code smaller.
 *   FJ_SIZE_CASES=<n>  generated programs (default 1500)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farjit/blob.h"
#include "farjit/codegen.h"
#include "tests/codegen/diffrun_thumb.h"
#include "tests/codegen/gen.h"
#include "tests/conformance/data_file.h"

int fj_codegen_compile_wide(const void *trace, size_t len, enum fj_target target,
                            const fj_codegen_opts *opts, fj_codegen_result *res);
void fj_codegen_result_free_wide(fj_codegen_result *res);

static uint64_t bytes_narrow, bytes_wide;
static unsigned ntraces;
static int use_wide;  /* which code the differential run executes */

/* Compile with both; count the code sizes; hand back the one under test. */
static int both(const void *trace, size_t len, enum fj_target target, const fj_codegen_opts *opts,
                fj_codegen_result *res) {
  fj_codegen_result n, w;
  int rn = fj_codegen_compile(trace, len, target, opts, &n);
  int rw = fj_codegen_compile_wide(trace, len, target, opts, &w);
  if (rn == 0 && rw == 0 && !(opts->flags & FJ_CG_NO_OPT) && !use_wide) {
    bytes_narrow += n.stats.code_size;
    bytes_wide += w.stats.code_size;
    ntraces++;
  }
  if (use_wide) {
    fj_codegen_result_free(&n);
    *res = w;
    return rw;
  }
  fj_codegen_result_free(&w);
  *res = n;
  return rn;
}

typedef struct tally { uint64_t guest, ran, failed; } tally;

static void run(const fj_insn *code, size_t n, uint8_t *mem, size_t mlen, const fj_diff_cfg *cfg,
                tally *t, const char *what) {
  for (use_wide = 0; use_wide < 2; use_wide++) {
    uint8_t copy[4096];
    memcpy(copy, mem, mlen);
    fj_diff_result r;
    uint64_t gi = 0;
    int rc = fj_diff_run_thumb(code, n, mlen ? copy : NULL, mlen, cfg, &r, &gi);
    if (rc == 1) {
      printf("FAIL %s (%s): %s\n", what, use_wide ? "without I32 knowledge" : "with", r.message);
      t[use_wide].failed++;
    }
    t[use_wide].guest += gi;
    t[use_wide].ran += (uint64_t)r.ran_native;
  }
}

int main(void) {
  const char *e = getenv("FJ_SIZE_CASES");
  uint64_t ncases = e ? strtoull(e, NULL, 0) : 1500;
  fj_diff_thumb_compile = both;
  tally t[2];
  memset(t, 0, sizeof t);
  for (uint64_t s = 1; s <= ncases; s++) {
    fj_gen_prog p;
    fj_gen_opts o = {.calls = s % 5 == 0, .atomics = s % 3 != 1, .body = 8 + (uint32_t)(s % 40)};
    fj_gen_program(s, &o, &p);
    uint8_t mem[FJ_GEN_MEM];
    for (unsigned k = 0; k < FJ_GEN_MEM; k++) mem[k] = (uint8_t)(s * 131 + k * 7);
    fj_diff_cfg cfg = {.at_pc = p.loop_pc, .threshold = 2, .max_recs = 1024, .variants = 2};
    char what[32];
    snprintf(what, sizeof what, "seed %llu", (unsigned long long)s);
    run(p.insns, p.n, mem, sizeof mem, &cfg, t, what);
  }
  uint64_t gen_narrow = bytes_narrow, gen_wide = bytes_wide;
  const char *dir = fj_data_dir();
  char **paths = NULL;
  int np = dir ? fj_data_list(dir, &paths) : 0;
  for (int i = 0; i < np; i++) {
    fj_data_case dc;
    char err[256];
    fj_insn *code = NULL;
    size_t n = 0;
    if (fj_data_case_load(paths[i], &dc, err, sizeof err) != 0) continue;
    if (!dc.error && fj_data_case_program(&dc, &code, &n, err, sizeof err) == 0 && n) {
      uint8_t mem[4096] = {0};
      size_t mlen = dc.mem_len < sizeof mem ? dc.mem_len : sizeof mem;
      if (dc.mem) memcpy(mem, dc.mem, mlen);
      fj_diff_cfg cfg = {.at_pc = 0, .threshold = 1, .max_recs = 4096, .variants = 2};
      run(code, n, mem, dc.mem ? mlen : 0, &cfg, t, paths[i]);
    }
    free(code);
    fj_data_case_free(&dc);
  }
  if (np > 0) fj_data_list_free(paths, np);
  printf("thumb_size: %u traces (optimized), machine code with 32-bit knowledge %llu bytes, "
         "without %llu bytes: %.1f%% smaller\n",
         ntraces, (unsigned long long)bytes_narrow, (unsigned long long)bytes_wide,
         bytes_wide ? 100.0 * (double)(bytes_wide - bytes_narrow) / (double)bytes_wide : 0.0);
  printf("  generated programs: %llu vs %llu bytes; conformance cases: %llu vs %llu bytes%s\n",
         (unsigned long long)gen_narrow, (unsigned long long)gen_wide,
         (unsigned long long)(bytes_narrow - gen_narrow), (unsigned long long)(bytes_wide - gen_wide),
         dir ? "" : " (conformance data absent)");
  printf("  Thumb instructions executed: %llu with, %llu without (%llu / %llu traces matched the "
         "interpreter)\n",
         (unsigned long long)t[0].guest, (unsigned long long)t[1].guest,
         (unsigned long long)t[0].ran, (unsigned long long)t[1].ran);
  unsigned failed = (unsigned)(t[0].failed + t[1].failed);
  unsigned passed = failed == 0 ? 1 : 0;
  if (!(bytes_narrow < bytes_wide) || ntraces < ncases / 2) {
    printf("FAIL: 32-bit knowledge did not shrink the code (or too few traces compiled)\n");
    failed++;
    passed = 0;
  }
  printf("%u passed, %u failed\n", passed + (failed == 0 ? 1 : 0), failed);
  return failed ? 1 : 0;
}
