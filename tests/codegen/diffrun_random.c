/* tests/codegen — random programs through a target's runner (contract in diffrun_main.h). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/codegen/diffrun_main.h"
#include "tests/codegen/gen.h"
#include "tools/asm.h"
#include "tools/disasm.h"

static volatile uint64_t cur_seed;

/* diffrun.c: runs from entry states wider than at recording, and those that left at entry. */
extern uint64_t fj_diff_widened_runs, fj_diff_widened_at_entry[2];

static void on_signal(int sig) {
  char buf[96];
  int n = snprintf(buf, sizeof buf, "\n!!! signal %d in seed %llu (FJ_DIFF_ONE=%llu)\n", sig,
                   (unsigned long long)cur_seed, (unsigned long long)cur_seed);
  if (write(2, buf, (size_t)n) < 0) _exit(2);
  _exit(1);
}

/* FJ_DIFF_IV: -1 (unset) the mix below, 0 no IV loops, 1 every loop one. */
static int iv_mode = -1;

static void make_case(const fj_diff_target *t, uint64_t seed, fj_gen_prog *p, uint8_t *mem,
                      fj_diff_cfg *cfg) {
  bool straight = seed % 4 == 3;
  /* 40% of the loops are induction-variable loops (gen.h), the rest the old r8 countdown */
  bool iv = !straight && (iv_mode < 0 ? (seed >> 2) % 5 >= 3 : iv_mode == 1);
  fj_gen_opts o = {.calls = seed % 5 == 0, .local_calls = seed % t->local_calls_every == 0,
                   .atomics = seed % 3 != 1, .straight = straight, .iv_loops = iv,
                   .body = straight ? 40 + (uint32_t)(seed % 160)
                           : t->spill_loops && seed % 16 == 9 ? 100 + (uint32_t)(seed % 120)
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
  /* half the programs with local calls: an ENTRY trace at the return point of the first call
   * that gets hot (the runtime traces return points it keeps arriving at) */
  cfg->ret_point = o.local_calls && (seed / t->local_calls_every) % 2 == 1;
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

/* Program p (seed's, possibly shrunk) with seed's memory and configuration. */
static int run_prog(const fj_diff_target *t, const fj_gen_prog *p, uint64_t seed,
                    uint32_t variants, fj_diff_result *res) {
  uint8_t mem[FJ_GEN_MEM];
  fj_gen_prog tmp;
  fj_diff_cfg cfg;
  make_case(t, seed, &tmp, mem, &cfg);
  cfg.at_pc = cfg.at_pc == 0 ? 0 : p->loop_pc;
  cfg.variants = variants;
  fj_diff_prog prog = {p->insns, p->n, NULL, 0};
  return fj_diff_run_with(t->rn, &prog, mem, sizeof mem, &cfg, res);
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
static void shrink(const fj_diff_target *t, fj_gen_prog *p, uint64_t seed, uint32_t variants) {
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
      if (run_prog(t, &q, seed, variants, &r) == 1) {
        *p = q;
        changed = true;
      }
    }
  }
}

static int run_asm_file(const fj_diff_target *t, const char *path, uint32_t variants) {
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
  fj_diff_cfg cfg = {.entry = 0, .at_pc = loop >= 0 ? (uint32_t)loop : 0,
                     .threshold = loop >= 0 ? 2 : 1, .max_recs = 4096, .verbose = 1,
                     .variants = variants, .bridges = 1};
  fj_diff_result r;
  fj_diff_prog dp = {prog.insns, prog.ninsns, NULL, 0};
  int rc = fj_diff_run_with(t->rn, &dp, mem, sizeof mem, &cfg, &r);
  fj_asm_prog_free(&prog);
  printf("%s: rc %d traced %d compiled %d ran %d: %s\n", path, rc, r.traced, r.compiled,
         r.ran_native, r.message);
  return rc != 0;
}

/* Totals over all cases. */
typedef struct totals {
  uint64_t traced, compiled, ran, native, guest, bridges;
  uint32_t aborts[FJ_ABORT__COUNT], kinds[8], frame_exits, spilled;
  uint64_t hoisted_traces, hoisted_guards, hoisted_runs, hoisted_failed, ret_points;
} totals;

static void add(totals *s, const fj_diff_result *r) {
  s->traced += (uint64_t)r->traced;
  s->compiled += (uint64_t)r->compiled;
  s->ran += (uint64_t)r->ran_native;
  s->native += r->native_insns;
  s->guest += r->guest_insns;
  s->bridges += r->bridges;
  for (int k = 0; k < FJ_ABORT__COUNT; k++) s->aborts[k] += r->aborts[k];
  for (int k = 0; k < 8; k++) s->kinds[k] += r->exit_kinds[k];
  s->frame_exits += r->frame_exits;
  s->spilled += r->spilled;
  s->hoisted_traces += r->hoisted_traces;
  s->hoisted_guards += r->hoisted_guards;
  s->hoisted_runs += r->hoisted_runs;
  s->hoisted_failed += r->hoisted_failed;
  s->ret_points += r->ret_points;
}

int fj_diff_random_main(const fj_diff_target *t) {
  const char *e;
  uint32_t variants = (e = getenv("FJ_DIFF_VARIANTS")) ? (uint32_t)strtoul(e, NULL, 0) : 3;
  if ((e = getenv("FJ_DIFF_ASM")) != NULL) return run_asm_file(t, e, variants);
  if ((e = getenv("FJ_DIFF_IV")) != NULL) iv_mode = atoi(e) != 0;
  uint64_t seed0 = (e = getenv("FJ_DIFF_SEED")) ? strtoull(e, NULL, 0) : 1;
  uint64_t ncases = (e = getenv("FJ_DIFF_CASES")) ? strtoull(e, NULL, 0) : t->cases;
  int one = (e = getenv("FJ_DIFF_ONE")) != NULL;
  if (one) seed0 = strtoull(e, NULL, 0), ncases = 1;
  signal(SIGSEGV, on_signal);
  signal(SIGBUS, on_signal);
  signal(SIGILL, on_signal);
  signal(SIGFPE, on_signal);
  signal(SIGALRM, on_signal);

  uint64_t passed = 0, failed = 0;
  static totals s;
  for (uint64_t seed = seed0; seed < seed0 + ncases; seed++) {
    cur_seed = seed;
    alarm(t->alarm_s);
    fj_gen_prog p;
    uint8_t mem[FJ_GEN_MEM];
    fj_diff_cfg cfg;
    make_case(t, seed, &p, mem, &cfg);
    if (one) print_prog(&p);
    cfg.verbose = one;
    cfg.variants = variants;
    fj_diff_result r;
    fj_diff_prog prog = {p.insns, p.n, NULL, 0};
    int rc = fj_diff_run_with(t->rn, &prog, mem, sizeof mem, &cfg, &r);
    if (rc < 0) {
      fprintf(stderr, "seed %llu: generator produced an invalid program: %s\n",
              (unsigned long long)seed, r.message);
      print_prog(&p);
      failed++;
      continue;
    }
    add(&s, &r);
    if (rc == 0) {
      passed++;
      continue;
    }
    failed++;
    const char *ivk = iv_mode < 0 ? "" : iv_mode ? " FJ_DIFF_IV=1" : " FJ_DIFF_IV=0";
    fprintf(stderr, "FAIL seed %llu (rerun: FJ_DIFF_ONE=%llu%s): %s\n", (unsigned long long)seed,
            (unsigned long long)seed, ivk, r.message);
    alarm(60);
    shrink(t, &p, seed, variants);
    fj_diff_result r2;
    run_prog(t, &p, seed, variants, &r2);
    fprintf(stderr, "  minimized (%s); exact replay FJ_DIFF_ONE=%llu%s, or save the text below "
                    "and run it with FJ_DIFF_ASM=<file>:\n", r2.message, (unsigned long long)seed,
            ivk);
    print_prog(&p);
  }
  alarm(0);
  printf("%s: %llu cases from seed %llu: %llu traced (+%llu bridges), %llu compiled variants, "
         "%llu ran %s and matched (%llu eBPF insns ", t->name, (unsigned long long)ncases,
         (unsigned long long)seed0, (unsigned long long)s.traced, (unsigned long long)s.bridges,
         (unsigned long long)s.compiled, (unsigned long long)s.ran, t->ran_where,
         (unsigned long long)s.native);
  if (t->guest_isa) printf("as %llu %s insns)\n", (unsigned long long)s.guest, t->guest_isa);
  else printf("native)\n");
  printf("exits taken: guard %u, link %u, stop %u, budget %u; %u with inlined call frames; "
         "%u compiles used spill slots\n", s.kinds[1], s.kinds[2], s.kinds[3], s.kinds[5],
         s.frame_exits, s.spilled);
  for (int k = 1; k < FJ_ABORT__COUNT; k++)
    if (s.aborts[k]) printf("compile aborts %s: %u\n", fj_abort_name(k), s.aborts[k]);
  printf("bounds checks hoisted before LOOP: %llu guards in %llu traces; %llu optimized runs of "
         "them matched, %llu left through a hoisted check; %llu traces at return points\n",
         (unsigned long long)s.hoisted_guards, (unsigned long long)s.hoisted_traces,
         (unsigned long long)s.hoisted_runs, (unsigned long long)s.hoisted_failed,
         (unsigned long long)s.ret_points);
  printf("%llu runs entered with registers wider than at recording matched; left at entry: %llu "
         "optimized, %llu unoptimized\n", (unsigned long long)fj_diff_widened_runs,
         (unsigned long long)fj_diff_widened_at_entry[1],
         (unsigned long long)fj_diff_widened_at_entry[0]);
  /* Entry speculation must be exercised: the optimized code (only it speculates) leaves at
   * entry more often, through its entry guards. */
  if (!one && ncases >= 1000 && fj_diff_widened_at_entry[1] <= fj_diff_widened_at_entry[0]) {
    printf("no widened entry left at the trace's start: entry guards untested\n");
    failed++;
  }
  /* The comparison must actually happen for nearly every trace (two variants each): a compiler
   * that aborts everything would otherwise pass. */
  uint64_t want = 2 * (s.traced + s.bridges);
  if (!one && s.ran * 10 < want * 9) {
    printf("too few traces ran %s: %llu of %llu variants\n", t->ran_where,
           (unsigned long long)s.ran, (unsigned long long)want);
    failed++;
  }
  printf("%llu passed, %llu failed\n", (unsigned long long)passed, (unsigned long long)failed);
  return failed ? 1 : 0;
}
