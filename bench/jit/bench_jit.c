/* farjit bench — the trace compiler: compile time, code, and compiled loops against the
 * interpreter and gcc -O2 (bench/jit/README.md explains every column).
 *
 * Programs: every example of examples/catalog.h and the kernels of bench/jit/kernels/ (each one
 * C source built with clang -target bpf -O2 for the VM and with the host compiler at -O2).
 *
 * Per program:
 *  1. A VM with the JIT runtime (farjit/client.h) and an in-process transport that keeps a copy
 *     of every trace the real recorder (client_runtime/record.c) produced and compiles it with
 *     fj_codegen_compile for x86-64 on the spot.  Warm-up runs go on until a run records nothing
 *     new, so that the timed runs execute installed traces.
 *  2. Every recorded trace is compiled again --compiles times; each compile is timed on its own
 *     (p50/p99 per trace, and per IR instruction over all compiles of all traces).
 *  3. Whole-program runs, best of --repeats, interleaved: the plain interpreter (a second VM,
 *     no JIT hooks), the JIT VM (machine code for the hot loops, the interpreter for the rest),
 *     and the same C compiled natively.  Every run starts from a fresh copy of the input; r0 and
 *     the memory must agree (a mismatch is reported and makes the exit status 1).
 *
 *   bench_jit [--repeats N] [--compiles N] [--hot N] [--dump DIR] [-v] [NAME...]
 *
 * Timing is informational only (no pass/fail on speed); the machine may be noisy.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "examples/catalog.h"
#include "farjit/blob.h"
#include "farjit/client.h"
#include "farjit/client_linux.h"
#include "farjit/codegen.h"
#include "farjit/platform_linux.h"
#include "farjit/trace.h"
#include "farjit/vm.h"
#include "tools/file.h"

#ifndef FJ_EXAMPLES_DIR
#error "FJ_EXAMPLES_DIR must name the directory of the eBPF example objects"
#endif
#ifndef FJ_KERNELS_DIR
#error "FJ_KERNELS_DIR must name the directory of the eBPF kernel objects"
#endif

/* The kernels of bench/jit/kernels/: _(name, input bytes, seed).  r2 = the input length is the
 * iteration count of alu and divconst, the byte count of memsum and branchy. */
#define FJ_JIT_KERNELS(_)          \
  _(alu,      1u << 18, 0x7001)    \
  _(divconst, 1u << 18, 0x7002)    \
  _(memsum,   1u << 20, 0x7003)    \
  _(branchy,  1u << 17, 0x7004)

#define FJ_KERNEL_DECL(name, len, seed) uint64_t fj_kernel_##name(void *mem, uint64_t n);
FJ_JIT_KERNELS(FJ_KERNEL_DECL)
#undef FJ_KERNEL_DECL
/* divconst.c built natively with FJ_KEEP_DIVIDE: gcc -O2 code that keeps the `div`s. */
uint64_t fj_kernel_divconst_keepdiv(void *mem, uint64_t n);

static const fj_example kernels[] = {
#define FJ_KERNEL_ROW(name, len, seed) {#name, fj_kernel_##name, len, seed},
    FJ_JIT_KERNELS(FJ_KERNEL_ROW)
#undef FJ_KERNEL_ROW
};
enum { NKERNELS = sizeof kernels / sizeof kernels[0] };

/* ---- options, clock, statistics ---------------------------------------------------------- */

typedef struct opts {
  int repeats;       /* timed whole-program runs per variant (best is reported) */
  int compiles;      /* timed compiles per trace */
  int hot;           /* hot threshold of the JIT runtime */
  const char *dump;  /* directory for trace/blob files, or NULL */
  bool verbose;
} opts;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n). */
static double pct(const double *v, size_t n, double p) {
  if (!n) return 0;
  size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
  if (k < 1) k = 1;
  if (k > n) k = n;
  return v[k - 1];
}

static void write_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(p, 1, n, f) != n) fprintf(stderr, "cannot write %s\n", path);
  if (f) fclose(f);
}

/* ---- the in-process transport: keep each trace, compile it at once ----------------------- */

typedef struct trace_rec {
  uint8_t *bytes;            /* the trace as the recorder wrote it */
  size_t len;
  fj_trace_header h;
  int status;                /* first compile's status */
  char message[192];
  fj_codegen_stats stats;
} trace_rec;

typedef struct transport {
  trace_rec traces[256];
  int ntraces;
  fj_codegen_result done[64];  /* compiled, not yet polled */
  uint32_t done_id[64];
  int ndone;
} transport;

static int tp_submit(void *ud, const fj_jit_request *rq) {
  transport *t = ud;
  if (t->ndone == 64) return FJ_EBUSY;
  fj_codegen_result *res = &t->done[t->ndone];
  fj_codegen_opts o = {0, 0};
  fj_codegen_compile(rq->trace, rq->trace_len, (enum fj_target)rq->target, &o, res);
  t->done_id[t->ndone++] = rq->id;
  if (t->ntraces < (int)(sizeof t->traces / sizeof t->traces[0]) &&
      rq->trace_len >= sizeof(fj_trace_header)) {
    trace_rec *tr = &t->traces[t->ntraces++];
    memset(tr, 0, sizeof *tr);
    tr->bytes = malloc(rq->trace_len);
    memcpy(tr->bytes, rq->trace, rq->trace_len);
    tr->len = rq->trace_len;
    memcpy(&tr->h, rq->trace, sizeof tr->h);
    tr->status = res->status;
    memcpy(tr->message, res->message, sizeof tr->message);
    tr->message[sizeof tr->message - 1] = 0;
    tr->stats = res->stats;
  }
  return 0;
}

static int tp_poll(void *ud, fj_jit_result *r) {
  transport *t = ud;
  if (!t->ndone) return 0;
  fj_codegen_result *keep = malloc(sizeof *keep);
  *keep = t->done[0];
  r->id = t->done_id[0];
  r->status = keep->status;
  snprintf(r->message, sizeof r->message, "%.150s", keep->message);
  r->blob = keep->blob;
  r->blob_len = keep->blob_size;
  r->priv = keep;
  t->ndone--;
  memmove(&t->done[0], &t->done[1], (size_t)t->ndone * sizeof t->done[0]);
  memmove(&t->done_id[0], &t->done_id[1], (size_t)t->ndone * sizeof t->done_id[0]);
  return 1;
}

static void tp_release(void *ud, fj_jit_result *r) {
  (void)ud;
  fj_codegen_result_free(r->priv);
  free(r->priv);
}

static void tp_free(transport *t) {
  for (int i = 0; i < t->ntraces; i++) free(t->traces[i].bytes);
  for (int i = 0; i < t->ndone; i++) fj_codegen_result_free(&t->done[i]);
  t->ntraces = t->ndone = 0;
}

static void log_line(void *ud, const char *line, size_t len) {
  if (*(const bool *)ud) fprintf(stderr, "  jit: %.*s\n", (int)len, line);
}

/* ---- one program ------------------------------------------------------------------------- */

typedef struct prog_result {
  const char *name;
  size_t len;
  int ok;                        /* loaded and ran */
  int same;                      /* interpreter, JIT and native agree */
  uint64_t insns;                /* eBPF instructions per run */
  uint64_t insns_native;         /* of which the JIT VM ran as machine code (last timed run) */
  uint64_t entries, exits;       /* trace entries / exits per run (last timed run) */
  uint64_t interp_ns, jit_ns, native_ns;  /* best of the repeats */
  uint64_t keepdiv_ns;           /* divconst: best native run with the divides kept, else 0 */
  int ntraces, nfailed;
  double compile_p50_per_ir;     /* p50 of this program's compiles, microseconds per IR ins */
} prog_result;

/* Every compile sample of every trace, in microseconds per IR instruction (before opt). */
static double *all_us_per_ir;
static size_t n_all, cap_all;
/* p50 compile time of each trace with its IR size (for the "100-instruction trace" line). */
typedef struct trace_p50 {
  double us;
  uint32_t ir;
} trace_p50;
static trace_p50 per_trace[1024];
static size_t n_per_trace;

static const char *kind_name(unsigned k) {
  return k == FJ_TRACE_LOOP ? "loop" : k == FJ_TRACE_ENTRY ? "entry" : k == FJ_TRACE_BRIDGE ? "bridge" : "?";
}
static const char *end_name(unsigned e) {
  return e == FJ_TRACE_END_LOOP ? "loop" : e == FJ_TRACE_END_LINK ? "link" : e == FJ_TRACE_END_STOP ? "stop" : "?";
}

/* Compile tr `n` times; print one row; collect samples.  Returns 0 or the compile's status. */
static int bench_compile(const char *prog, int idx, const trace_rec *tr, const opts *o,
                         double *samples) {
  char what[48];
  if (tr->h.kind == FJ_TRACE_BRIDGE)
    snprintf(what, sizeof what, "bridge@%u<%u.%u", tr->h.start_pc, tr->h.parent_id, tr->h.parent_exit);
  else
    snprintf(what, sizeof what, "%s@%u", kind_name(tr->h.kind), tr->h.start_pc);
  char end[24];
  snprintf(end, sizeof end, "%s@%u", end_name(tr->h.end), tr->h.end_pc);
  if (tr->status) {
    printf("%-9s %2d %-16s %-10s %5u  compile failed: %s\n", prog, idx, what, end, tr->h.nrecs,
           tr->message);
    return tr->status;
  }
  fj_codegen_opts co = {0, 0};
  fj_codegen_result res;
  fj_codegen_compile(tr->bytes, tr->len, FJ_TARGET_X86_64, &co, &res);  /* warm caches */
  fj_codegen_result_free(&res);
  for (int i = 0; i < o->compiles; i++) {
    uint64_t t0 = now_ns();
    fj_codegen_compile(tr->bytes, tr->len, FJ_TARGET_X86_64, &co, &res);
    uint64_t t1 = now_ns();
    fj_codegen_result_free(&res);
    samples[i] = (double)(t1 - t0) / 1e3;
  }
  qsort(samples, (size_t)o->compiles, sizeof *samples, cmp_double);
  const fj_codegen_stats *s = &tr->stats;
  uint32_t ir = s->ir_before ? s->ir_before : 1;
  double p50 = pct(samples, (size_t)o->compiles, 50), p99 = pct(samples, (size_t)o->compiles, 99);
  printf("%-9s %2d %-16s %-10s %5u %6u %6u %5u %6u %9.1f %9.1f %8.3f %8.3f\n", prog, idx, what, end,
         s->nrecs, s->ir_before, s->ir_after, s->nexits, s->code_size, p50, p99, p50 / ir, p99 / ir);
  for (int i = 0; i < o->compiles; i++) {
    if (n_all == cap_all) {
      cap_all = cap_all ? 2 * cap_all : 4096;
      all_us_per_ir = realloc(all_us_per_ir, cap_all * sizeof *all_us_per_ir);
    }
    all_us_per_ir[n_all++] = samples[i] / ir;
  }
  if (n_per_trace < sizeof per_trace / sizeof per_trace[0])
    per_trace[n_per_trace++] = (trace_p50){p50, s->ir_before};

  if (o->dump) {  /* trace bytes, and the blob with IR dumps in its meta (`farjit dump`) */
    char path[512];
    snprintf(path, sizeof path, "%s/%s.%d.trace", o->dump, prog, idx);
    write_file(path, tr->bytes, tr->len);
    fj_codegen_opts dopt = {FJ_CG_DUMP, 0};
    fj_codegen_compile(tr->bytes, tr->len, FJ_TARGET_X86_64, &dopt, &res);
    if (res.status == 0) {
      snprintf(path, sizeof path, "%s/%s.%d.blob", o->dump, prog, idx);
      write_file(path, res.blob, res.blob_size);
    }
    fj_codegen_result_free(&res);
  }
  return 0;
}

static fj_vm *load_vm(const char *name, const uint8_t *elf, size_t n, int *entry) {
  fj_vm *vm = fj_vm_create(fj_platform_linux());
  int rc = vm ? fj_vm_register_std_helpers(vm) : FJ_ENOMEM;
  if (rc == 0) rc = fj_vm_load_elf(vm, elf, n);
  *entry = rc == 0 ? fj_vm_find_entry(vm, "fj_main") : rc;
  if (*entry < 0) {
    fprintf(stderr, "%s: %s: %s\n", name, fj_strerror(*entry), vm ? fj_vm_errmsg(vm) : "");
    fj_vm_destroy(vm);
    return NULL;
  }
  return vm;
}

static void bench_prog(const fj_example *ex, const char *dir, const opts *o, prog_result *pr) {
  memset(pr, 0, sizeof *pr);
  pr->name = ex->name;
  pr->len = ex->len;
  char path[512];
  snprintf(path, sizeof path, "%s/%s.o", dir, ex->name);
  size_t n = 0;
  uint8_t *elf = fj_file_read(path, &n);
  if (!elf) {
    fprintf(stderr, "%s: cannot read %s\n", ex->name, path);
    return;
  }
  int e1, e2;
  fj_vm *ref = load_vm(ex->name, elf, n, &e1), *vm = load_vm(ex->name, elf, n, &e2);
  free(elf);
  if (!ref || !vm) {
    fj_vm_destroy(ref);
    fj_vm_destroy(vm);
    return;
  }
  fj_vm_set_insn_limit(ref, 0);
  fj_vm_set_insn_limit(vm, 0);
  static transport tp;
  memset(&tp, 0, sizeof tp);
  fj_jit_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.hot_threshold = (uint16_t)o->hot;
  fj_jit_env env;
  memset(&env, 0, sizeof env);
  env.exec = fj_jit_linux_exec(FJ_JIT_EXEC_FLIP);
  env.transport = (fj_jit_transport){.submit = tp_submit, .poll = tp_poll, .release = tp_release,
                                     .ud = &tp};
  env.log = log_line;
  env.log_ud = (void *)&o->verbose;
  int err = 0;
  fj_jit *jit = fj_jit_create(vm, &cfg, &env, &err);
  if (!jit) {
    fprintf(stderr, "%s: fj_jit_create: %s\n", ex->name, fj_strerror(err));
    fj_vm_destroy(vm);
    fj_vm_destroy(ref);
    return;
  }

  size_t len = ex->len;
  uint8_t *input = malloc(len), *m_ref = malloc(len), *m_jit = malloc(len), *m_nat = malloc(len);
  fj_example_input(ex, input, len);
  memcpy(m_nat, input, len);
  uint64_t want = ex->native(m_nat, len);
  pr->same = 1;

  /* Warm-up: until a run records nothing new (traces are compiled and installed in it). */
  for (int w = 0; w < 12; w++) {
    fj_jit_stats a, b;
    fj_jit_get_stats(jit, &a);
    memcpy(m_jit, input, len);
    uint64_t r0 = 0;
    int rc = fj_vm_run(vm, (uint32_t)e2, m_jit, len, &r0);
    fj_jit_poll(jit);
    fj_jit_get_stats(jit, &b);
    if (rc || r0 != want || memcmp(m_jit, m_nat, len)) {
      fprintf(stderr, "%s: warm-up run %d: rc %d r0 0x%" PRIx64 ", native 0x%" PRIx64 "%s %s\n",
              ex->name, w, rc, r0, want, memcmp(m_jit, m_nat, len) ? " (memory differs)" : "",
              rc ? fj_vm_errmsg(vm) : "");
      pr->same = 0;
      break;
    }
    if (w >= 1 && b.traces_recorded == a.traces_recorded && fj_jit_pending(jit) == 0) break;
  }

  /* Compile time of every trace the runtime recorded. */
  double *samples = malloc((size_t)o->compiles * sizeof *samples);
  size_t first_sample = n_all;
  for (int i = 0; i < tp.ntraces; i++) {
    if (bench_compile(ex->name, i, &tp.traces[i], o, samples)) pr->nfailed++;
    pr->ntraces++;
  }
  free(samples);
  if (n_all > first_sample) {
    size_t k = n_all - first_sample;
    double *v = malloc(k * sizeof *v);
    memcpy(v, all_us_per_ir + first_sample, k * sizeof *v);
    qsort(v, k, sizeof *v, cmp_double);
    pr->compile_p50_per_ir = pct(v, k, 50);
    free(v);
  }

  /* Whole-program runs, interleaved, best of repeats. */
  pr->interp_ns = pr->jit_ns = pr->native_ns = UINT64_MAX;
  for (int i = 0; i < o->repeats && pr->same; i++) {
    uint64_t r_ref = 0, r_jit = 0, r_nat;
    fj_vm_stats s0, s1;
    memcpy(m_ref, input, len);
    fj_vm_reset_stats(ref);
    uint64_t t0 = now_ns();
    int rc1 = fj_vm_run(ref, (uint32_t)e1, m_ref, len, &r_ref);
    uint64_t t1 = now_ns();
    fj_vm_get_stats(ref, &s0);
    if (t1 - t0 < pr->interp_ns) pr->interp_ns = t1 - t0;

    memcpy(m_jit, input, len);
    fj_vm_reset_stats(vm);
    fj_jit_stats j0, j1;
    fj_jit_get_stats(jit, &j0);
    t0 = now_ns();
    int rc2 = fj_vm_run(vm, (uint32_t)e2, m_jit, len, &r_jit);
    t1 = now_ns();
    fj_vm_get_stats(vm, &s1);
    fj_jit_get_stats(jit, &j1);
    if (t1 - t0 < pr->jit_ns) pr->jit_ns = t1 - t0;

    memcpy(m_nat, input, len);
    t0 = now_ns();
    r_nat = ex->native(m_nat, len);
    t1 = now_ns();
    if (t1 - t0 < pr->native_ns) pr->native_ns = t1 - t0;

    if (ex->native == fj_kernel_divconst) {
      memcpy(m_nat, input, len);
      t0 = now_ns();
      uint64_t r_kd = fj_kernel_divconst_keepdiv(m_nat, len);
      t1 = now_ns();
      if (!pr->keepdiv_ns || t1 - t0 < pr->keepdiv_ns) pr->keepdiv_ns = t1 - t0;
      if (r_kd != r_nat) {
        fprintf(stderr, "divconst: the divide-keeping native build gives 0x%" PRIx64 "\n", r_kd);
        pr->same = 0;
      }
    }

    pr->insns = s0.insns_interp;
    pr->insns_native = s1.insns_native;
    pr->entries = j1.trace_entries - j0.trace_entries;
    pr->exits = j1.exits_taken - j0.exits_taken;
    if (rc1 || rc2 || r_ref != r_nat || r_jit != r_nat || memcmp(m_ref, m_nat, len) ||
        memcmp(m_jit, m_nat, len) || s0.insns_interp != s1.insns_interp + s1.insns_native) {
      fprintf(stderr, "%s: run %d: interpreter rc %d r0 0x%" PRIx64 ", JIT rc %d r0 0x%" PRIx64
              ", native 0x%" PRIx64 "; insns %" PRIu64 " vs %" PRIu64 " + %" PRIu64 "%s%s\n",
              ex->name, i, rc1, r_ref, rc2, r_jit, r_nat, s0.insns_interp, s1.insns_interp,
              s1.insns_native, memcmp(m_ref, m_nat, len) ? " (interpreter memory differs)" : "",
              memcmp(m_jit, m_nat, len) ? " (JIT memory differs)" : "");
      pr->same = 0;
    }
  }
  pr->ok = pr->same;
  if (o->verbose) {
    char text[8192];
    fj_jit_stats_format(jit, text, sizeof text);
    fprintf(stderr, "%s:\n%s", ex->name, text);
  }
  fj_jit_destroy(jit);
  fj_vm_destroy(vm);
  fj_vm_destroy(ref);
  tp_free(&tp);
  free(input);
  free(m_ref);
  free(m_jit);
  free(m_nat);
}

/* ---- main -------------------------------------------------------------------------------- */

static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s [--repeats N] [--compiles N] [--hot N] [--dump DIR] [-v] [NAME...]\n"
          "  NAME: an example of examples/catalog.h or a kernel (alu divconst memsum branchy)\n",
          argv0);
}

int main(int argc, char **argv) {
  opts o = {21, 500, 64, NULL, false};
  const char *only[64];
  int nonly = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--repeats") && i + 1 < argc) o.repeats = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--compiles") && i + 1 < argc) o.compiles = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--hot") && i + 1 < argc) o.hot = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--dump") && i + 1 < argc) o.dump = argv[++i];
    else if (!strcmp(argv[i], "-v")) o.verbose = true;
    else if (argv[i][0] != '-' && nonly < 64) only[nonly++] = argv[i];
    else {
      usage(argv[0]);
      return 2;
    }
  }
  if (o.repeats < 1) o.repeats = 1;
  if (o.compiles < 1) o.compiles = 1;
  if (o.hot < 1 || o.hot > 65535) o.hot = 64;
  if (o.dump && mkdir(o.dump, 0755) && errno != EEXIST) {
    fprintf(stderr, "cannot create %s\n", o.dump);
    return 2;
  }
  if (!fj_codegen_supports(FJ_TARGET_X86_64) || fj_jit_host_target() != FJ_TARGET_X86_64) {
    fprintf(stderr, "bench_jit: needs an x86-64 host and the x86-64 backend\n");
    return 2;
  }

  /* The programs: examples, then kernels. */
  const fj_example *progs[64];
  const char *dirs[64];
  int np = 0;
  for (size_t k = 0; k < fj_nexamples && np < 64; k++) {
    progs[np] = &fj_examples[k];
    dirs[np++] = FJ_EXAMPLES_DIR;
  }
  for (size_t k = 0; k < NKERNELS && np < 64; k++) {
    progs[np] = &kernels[k];
    dirs[np++] = FJ_KERNELS_DIR;
  }
  for (int j = 0; j < nonly; j++) {
    int found = 0;
    for (int k = 0; k < np; k++) found |= !strcmp(only[j], progs[k]->name);
    if (!found) {
      fprintf(stderr, "unknown program %s\n", only[j]);
      usage(argv[0]);
      return 2;
    }
  }

  printf("== 1. compile time (x86-64): every trace the runtime recorded, compiled %d times each\n",
         o.compiles);
  printf("%-9s %2s %-16s %-10s %5s %6s %6s %5s %6s %9s %9s %8s %8s\n", "program", "#", "trace",
         "end", "recs", "IR in", "IR out", "exits", "code B", "p50 us", "p99 us", "p50 /IR",
         "p99 /IR");
  prog_result res[64];
  int nres = 0, bad = 0;
  for (int k = 0; k < np; k++) {
    int want = nonly == 0;
    for (int j = 0; j < nonly; j++) want |= !strcmp(only[j], progs[k]->name);
    if (!want) continue;
    bench_prog(progs[k], dirs[k], &o, &res[nres]);
    bad |= !res[nres].ok;
    nres++;
  }
  if (n_all) {
    qsort(all_us_per_ir, n_all, sizeof *all_us_per_ir, cmp_double);
    double p50 = pct(all_us_per_ir, n_all, 50), p99 = pct(all_us_per_ir, n_all, 99);
    printf("all traces: %zu compiles, us per IR instruction p50 %.3f p99 %.3f "
           "(= %.0f / %.0f us for a 100-instruction trace; target p50 < 100 us)\n",
           n_all, p50, p99, 100 * p50, 100 * p99);
    double near[1024];
    size_t nn = 0;
    for (size_t i = 0; i < n_per_trace; i++)
      if (per_trace[i].ir >= 60 && per_trace[i].ir <= 160) near[nn++] = per_trace[i].us;
    if (nn) {
      qsort(near, nn, sizeof *near, cmp_double);
      printf("traces of 60..160 IR instructions: %zu, median of their p50 compile times %.1f us\n",
             nn, pct(near, nn, 50));
    }
  }

  printf("\n== 2. whole-program run time, best of %d: interpreter, JIT (hot loops as x86-64 "
         "machine code), gcc -O2 native\n", o.repeats);
  printf("%-9s %8s %10s %6s %7s %10s %10s %10s %8s %8s\n", "program", "bytes", "insns/run",
         "jit %", "entries", "interp us", "JIT us", "native us", "nat/JIT", "int/JIT");
  for (int k = 0; k < nres; k++) {
    prog_result *r = &res[k];
    if (!r->ok) {
      printf("%-9s %8zu  (results differ or the program failed: see stderr)\n", r->name, r->len);
      continue;
    }
    double pj = r->insns ? 100.0 * (double)r->insns_native / (double)r->insns : 0;
    printf("%-9s %8zu %10" PRIu64 " %5.1f%% %7" PRIu64 " %10.1f %10.1f %10.1f %8.2f %7.1fx\n",
           r->name, r->len, r->insns, pj, r->entries, r->interp_ns / 1e3, r->jit_ns / 1e3,
           r->native_ns / 1e3, (double)r->native_ns / (double)r->jit_ns,
           (double)r->interp_ns / (double)r->jit_ns);
  }

  printf("\n== 3. targets (informational; the machine may be noisy)\n");
  for (int k = 0; k < nres; k++) {
    prog_result *r = &res[k];
    if (!r->ok) continue;
    double jn = (double)r->jit_ns / (double)r->native_ns;
    double ij = (double)r->interp_ns / (double)r->jit_ns;
    if (!strcmp(r->name, "alu"))
      printf("alu      : JIT %.2fx native time (target <= 1.2x), %.1fx faster than the "
             "interpreter (target >= 10x)\n", jn, ij);
    if (!strcmp(r->name, "divconst"))
      printf("divconst : JIT %.2fx native time (target <= 1.2x); gcc -O2 with the divides kept "
             "(what a template JIT emits at best): %.1f us = %.2fx native, %.2fx the JIT's time\n",
             jn, r->keepdiv_ns / 1e3, (double)r->keepdiv_ns / (double)r->native_ns,
             (double)r->keepdiv_ns / (double)r->jit_ns);
  }
  if (n_all)
    printf("compile  : p50 %.0f us per 100 IR instructions (target < 100 us)\n",
           100 * pct(all_us_per_ir, n_all, 50));
  free(all_us_per_ir);
  return bad;
}
