/* Differential testing of the x86-64 trace compiler: thousands of random programs (gen.h), each
 * traced at its loop header or from its entry (whole path), compiled optimized and with
 * FJ_CG_NO_OPT, run natively and compared with the interpreter from the same state
 * (diffrun.h).  Seeded and reproducible:
 *   FJ_DIFF_SEED=<n>   first seed (default 1)      FJ_DIFF_CASES=<n>  cases (default 20000)
 *   FJ_DIFF_ONE=<seed> run only that seed, verbosely
 *   FJ_DIFF_VARIANTS=1 only FJ_CG_NO_OPT, 2 only optimized, 3 both (default)
 * On a failure it prints the seed, the message and a minimized program (instructions replaced
 * by `ja +0` while it still fails), then continues.  Ends with "N passed, M failed".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/codegen/diffrun.h"
#include "tests/codegen/gen.h"
#include "tools/disasm.h"
#include "tools/asm.h"

static volatile uint64_t cur_seed;
static uint32_t shrink_variants = 3;

static void on_signal(int sig) {
  char buf[96];
  int n = snprintf(buf, sizeof buf, "\n!!! signal %d in seed %llu (FJ_DIFF_ONE=%llu)\n", sig,
                   (unsigned long long)cur_seed, (unsigned long long)cur_seed);
  if (write(2, buf, (size_t)n) < 0) _exit(2);
  _exit(1);
}

static void make_case(uint64_t seed, fj_gen_prog *p, uint8_t *mem, fj_diff_cfg *cfg) {
  bool straight = seed % 4 == 3;
  fj_gen_opts o = {.calls = seed % 5 == 0, .local_calls = seed % 3 == 0, .atomics = seed % 3 != 1,
                   .straight = straight,
                   .body = straight ? 40 + (uint32_t)(seed % 160)
                           : seed % 16 == 9 ? 100 + (uint32_t)(seed % 120)  /* spills in loops */
                           : 8 + (uint32_t)(seed % 40)};
  fj_gen_program(seed, &o, p);
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (unsigned k = 0; k < FJ_GEN_MEM; k++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    mem[k] = (uint8_t)x;
  }
  memset(cfg, 0, sizeof *cfg);
  cfg->entry = 0;
  if (seed % 8 == 5) cfg->insn_limit = 30 + seed % 300;  /* budget exits inside traces */
  cfg->bridges = 1;
  if (straight) {  /* whole path from the entry */
    cfg->at_pc = 0;
    cfg->threshold = 1;
    cfg->max_recs = 4096;
  } else {
    cfg->at_pc = p->loop_pc;
    cfg->threshold = (uint16_t)(1 + seed % 3);
    cfg->max_recs = 1024;
  }
}

static int run_prog(const fj_gen_prog *p, uint64_t seed, fj_diff_result *res) {
  uint8_t mem[FJ_GEN_MEM];
  fj_gen_prog tmp;
  fj_diff_cfg cfg;
  make_case(seed, &tmp, mem, &cfg);
  cfg.at_pc = cfg.at_pc == 0 ? 0 : p->loop_pc;
  cfg.variants = shrink_variants;
  return fj_diff_run(p->insns, p->n, mem, sizeof mem, &cfg, res);
}

/* Assemblable text (the loop header is labelled `loop`, so FJ_DIFF_ASM=<file> traces it). */
static void print_prog(const fj_gen_prog *p) {
  char *text = NULL;
  fj_disasm_label loop = {"loop", p->loop_pc};
  if (fj_disasm(p->insns, p->n, &loop, p->loop_pc ? 1 : 0, FJ_DISASM_PC, &text) >= 0) {
    fprintf(stderr, "%s", text);
    free(text);
  }
}

/* Replace non-essential instructions by `ja +0` while the case still fails. */
static void shrink(fj_gen_prog *p, uint64_t seed) {
  fj_insn nop = fj_asm_encode(FJ_OP_JA, 0, 0, 0, 0);
  bool changed = true;
  while (changed) {
    changed = false;
    for (uint32_t i = 0; i < p->n; i++) {
      if (p->fixed[i] || memcmp(&p->insns[i], &nop, sizeof nop) == 0) continue;
      fj_gen_prog q = *p;
      q.insns[i] = nop;
      if (fj_op_is_lddw(fj_op_decode(p->insns[i])) && i + 1 < p->n) q.insns[i + 1] = nop;
      fj_diff_result r;
      if (run_prog(&q, seed, &r) == 1) {
        *p = q;
        changed = true;
      }
    }
  }
}

/* FJ_DIFF_ASM=file: assemble the file and run it verbosely (whole path from pc 0, or the loop
 * at label `loop` when there is one).  For debugging a minimized reproducer. */
static int run_asm_file(const char *path, uint32_t variants) {
  FILE *f = fopen(path, "r");
  if (!f) return 1;
  static char text[65536];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  fj_asm_prog prog;
  char err[128];
  if (fj_asm_prog_build(text, &prog, err, sizeof err) != 0) {
    fprintf(stderr, "%s: %s\n", path, err);
    return 1;
  }
  int64_t loop = fj_asm_prog_label(&prog, "loop");
  uint8_t mem[FJ_GEN_MEM] = {0};
  fj_diff_cfg cfg = {0, loop >= 0 ? (uint32_t)loop : 0, loop >= 0 ? 2 : 1, 4096, 1, variants, 0, 1};
  fj_diff_result r;
  int rc = fj_diff_run(prog.insns, prog.ninsns, mem, sizeof mem, &cfg, &r);
  fj_asm_prog_free(&prog);
  printf("%s: rc %d traced %d compiled %d ran %d: %s\n", path, rc, r.traced, r.compiled,
         r.ran_native, r.message);
  return rc != 0;
}

int main(void) {
  const char *e;
  if ((e = getenv("FJ_DIFF_ASM")) != NULL) {
    const char *v = getenv("FJ_DIFF_VARIANTS");
    return run_asm_file(e, v ? (uint32_t)strtoul(v, NULL, 0) : 3);
  }
  uint64_t seed0 = (e = getenv("FJ_DIFF_SEED")) ? strtoull(e, NULL, 0) : 1;
  uint64_t ncases = (e = getenv("FJ_DIFF_CASES")) ? strtoull(e, NULL, 0) : 20000;
  int one = (e = getenv("FJ_DIFF_ONE")) != NULL;
  if (one) seed0 = strtoull(e, NULL, 0), ncases = 1;
  uint32_t variants = (e = getenv("FJ_DIFF_VARIANTS")) ? (uint32_t)strtoul(e, NULL, 0) : 3;
  signal(SIGSEGV, on_signal);
  signal(SIGBUS, on_signal);
  signal(SIGILL, on_signal);
  signal(SIGFPE, on_signal);
  signal(SIGALRM, on_signal);

  uint64_t passed = 0, failed = 0, traced = 0, ran = 0, compiled = 0, native = 0;
  uint32_t aborts[FJ_ABORT__COUNT] = {0}, kinds[8] = {0}, frame_exits = 0, spilled = 0, bridges = 0;
  for (uint64_t s = seed0; s < seed0 + ncases; s++) {
    cur_seed = s;
    alarm(5);
    fj_gen_prog p;
    uint8_t mem[FJ_GEN_MEM];
    fj_diff_cfg cfg;
    make_case(s, &p, mem, &cfg);
    if (one) print_prog(&p);
    cfg.verbose = one;
    cfg.variants = variants;
    fj_diff_result r;
    int rc = fj_diff_run(p.insns, p.n, mem, sizeof mem, &cfg, &r);
    if (rc < 0) {
      fprintf(stderr, "seed %llu: generator produced an invalid program: %s\n",
              (unsigned long long)s, r.message);
      print_prog(&p);
      failed++;
      continue;
    }
    traced += r.traced;
    compiled += (uint64_t)r.compiled;
    ran += (uint64_t)r.ran_native;
    native += r.native_insns;
    for (int k = 0; k < FJ_ABORT__COUNT; k++) aborts[k] += r.aborts[k];
    for (int k = 0; k < 8; k++) kinds[k] += r.exit_kinds[k];
    frame_exits += r.frame_exits;
    spilled += r.spilled;
    bridges += r.bridges;
    if (rc == 0) {
      passed++;
      continue;
    }
    failed++;
    fprintf(stderr, "FAIL seed %llu (rerun: FJ_DIFF_ONE=%llu): %s\n", (unsigned long long)s,
            (unsigned long long)s, r.message);
    alarm(60);
    shrink_variants = variants;
    shrink(&p, s);
    fj_diff_result r2;
    run_prog(&p, s, &r2);
    fprintf(stderr, "  minimized (%s); exact replay FJ_DIFF_ONE=%llu, or save the text below and "
                    "run it with FJ_DIFF_ASM=<file>:\n", r2.message, (unsigned long long)s);
    print_prog(&p);
  }
  alarm(0);
  printf("diff_x86: %llu cases from seed %llu: %llu traced (+%u bridges), %llu compiled variants, "
         "%llu ran natively and matched (%llu eBPF insns native)\n",
         (unsigned long long)ncases, (unsigned long long)seed0, (unsigned long long)traced, bridges,
         (unsigned long long)compiled, (unsigned long long)ran, (unsigned long long)native);
  printf("exits taken: guard %u, link %u, stop %u, budget %u; %u with inlined call frames; "
         "%u compiles used spill slots\n", kinds[1], kinds[2], kinds[3], kinds[5], frame_exits, spilled);
  for (int k = 1; k < FJ_ABORT__COUNT; k++)
    if (aborts[k]) printf("compile aborts %s: %u\n", fj_abort_name(k), aborts[k]);
  /* The comparison must actually happen for nearly every trace (two variants each): a compiler
   * that aborts everything would otherwise pass. */
  uint64_t want = 2 * (traced + bridges);
  if (!one && ran * 10 < want * 9) {
    printf("too few traces ran natively: %llu of %llu variants\n", (unsigned long long)ran,
           (unsigned long long)want);
    failed++;
  }
  printf("%llu passed, %llu failed\n", (unsigned long long)passed, (unsigned long long)failed);
  return failed ? 1 : 0;
}
