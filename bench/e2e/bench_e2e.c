/* bench/e2e — whole-program runs of the loop-heavy examples, three ways, side by side:
 *
 *   native   the example's C compiled by the host compiler (-O2), best of REPS
 *   interp   the farjit interpreter only, best of REPS
 *   jit      the Linux client runtime with the remote JIT through the embedded farjitd (started
 *            by the runtime on first hotness, asynchronous as in production: no --jit-wait):
 *            "cold" = the first run of a fresh VM (server start, connect, compile, install
 *            happen while it runs), "warm" = best of REPS later runs (traces installed)
 *
 * plus the warm-up (time from the first hot spot, which starts the embedded server, to the
 * first trace installed, taken from the runtime's trace log) and the client's memory overhead:
 * code cache reserved/used, bytes the JIT runtime allocated through the VM's allocator, and the
 * process RSS growth across attach + runs (libuv thread stack, code cache pages touched).
 *
 * A second table splits the first trace's way from "recorded" to "installed" into the stages of
 * fj_jit_linux_get_latency (farjit/client_linux.h): connect (first hot spot -> server answered
 * Hello), send (recorded -> written to the socket), server (written -> result read back; the
 * server's own compile time next to it), deliver (read -> taken by the VM thread at a hot
 * event), install (taken -> installed).  Medians over COLD fresh starts (server start included),
 * then the mean over every trace of those starts.
 * Not a test: numbers depend on the machine.  Usage: bench_e2e [PERCENT] (input sizes, 100).
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "examples/catalog.h"
#include "farjit/client.h"
#include "farjit/client_linux.h"
#include "farjit/platform_linux.h"
#include "tools/file.h"

enum { REPS = 3, COLD = 5 };

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- an allocator that counts live bytes (the JIT runtime allocates through the VM's) ------ */

static size_t live_bytes, peak_bytes;

static void *count_alloc(void *ud, size_t size, size_t align) {
  (void)ud;
  size_t a = align < sizeof(void *) ? sizeof(void *) : align;
  void *p = aligned_alloc(a, size ? (size + a - 1) / a * a : a);
  if (p) {
    live_bytes += size;
    if (live_bytes > peak_bytes) peak_bytes = live_bytes;
  }
  return p;
}
static void count_free(void *ud, void *p, size_t size) {
  (void)ud;
  if (p) live_bytes -= size;
  free(p);
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    fclose(f);
  }
  return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* ---- the trace log as timestamps ---------------------------------------------------------- */

static _Atomic uint64_t t_first_hot, t_first_recorded, t_first_installed;

static ssize_t log_write(void *c, const char *buf, size_t n) {
  (void)c;
  uint64_t t = now_ns(), zero = 0;
  /* the first hot spot starts the embedded server (or records at once when connected) */
  if (memmem(buf, n, "started embedded farjitd", 24) || memmem(buf, n, ": recorded ", 11))
    atomic_compare_exchange_strong(&t_first_hot, &zero, t);
  zero = 0;
  if (memmem(buf, n, ": recorded ", 11)) atomic_compare_exchange_strong(&t_first_recorded, &zero, t);
  zero = 0;
  if (memmem(buf, n, ": installed: ", 13)) atomic_compare_exchange_strong(&t_first_installed, &zero, t);
  return (ssize_t)n;
}

/* ---- one example -------------------------------------------------------------------------- */

static fj_platform count_platform(void) {
  fj_platform p = *fj_platform_linux();
  p.mem = (fj_allocator){count_alloc, count_free, NULL};
  return p;
}

static fj_vm *example_vm(const fj_platform *pf, const uint8_t *elf, size_t len) {
  fj_vm *vm = fj_vm_create(pf);
  if (!vm || fj_vm_register_std_helpers(vm) || fj_vm_load_elf(vm, elf, len)) {
    fprintf(stderr, "bench_e2e: cannot load an example: %s\n", vm ? fj_vm_errmsg(vm) : "no VM");
    exit(1);
  }
  fj_vm_set_insn_limit(vm, 0);
  return vm;
}

/* Time one run on a fresh copy of the input; r0 out. */
static double run_ms(fj_vm *vm, const uint8_t *in, uint8_t *m, size_t len, uint64_t *r0) {
  memcpy(m, in, len);
  uint64_t t0 = now_ns();
  int rc = fj_vm_run(vm, (uint32_t)fj_vm_default_entry(vm), m, len, r0);
  uint64_t t1 = now_ns();
  if (rc) fprintf(stderr, "bench_e2e: run failed: %s\n", fj_vm_errmsg(vm));
  return (double)(t1 - t0) / 1e6;
}

/* One example's latency line (second table), filled by bench_one. */
static char lat_lines[8][300];
static int nlat;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n ? (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : -1;
}

static double ms(uint64_t ns) { return (double)ns / 1e6; }

static void bench_one(const char *build, const char *farjitd, const fj_example *ex, size_t len) {
  char path[600];
  snprintf(path, sizeof path, "%s/examples/%s.o", build, ex->name);
  size_t elf_len;
  uint8_t *elf = fj_file_read(path, &elf_len);
  if (!elf) {
    fprintf(stderr, "bench_e2e: %s not built\n", path);
    return;
  }
  /* the catalog's input repeated to len bytes */
  uint8_t *one = malloc(ex->len), *in = malloc(len), *m = malloc(len);
  fj_example_input(ex, one, ex->len);
  for (size_t off = 0; off < len; off += ex->len)
    memcpy(in + off, one, len - off < ex->len ? len - off : ex->len);

  double t_native = 1e300, t_interp = 1e300, t_warm = 1e300;
  uint64_t want = 0, got = 0;
  for (int r = 0; r < REPS; r++) {
    memcpy(m, in, len);
    uint64_t t0 = now_ns();
    want = ex->native(m, len);
    double t = (double)(now_ns() - t0) / 1e6;
    if (t < t_native) t_native = t;
  }
  const fj_platform *lpf = fj_platform_linux();
  fj_vm *vm = example_vm(lpf, elf, elf_len);
  for (int r = 0; r < REPS; r++) {
    double t = run_ms(vm, in, m, len, &got);
    if (t < t_interp) t_interp = t;
  }
  bool ok = got == want;
  fj_vm_destroy(vm);

  /* JIT: COLD fresh VMs on the counting allocator, each with its own runtime and embedded
   * farjitd; the first also gives the warm runs and the memory figures */
  double cold[COLD], warmup[COLD], rtt[COLD], connect[COLD], stage[FJ_JL__COUNT][COLD];
  int nfirst = 0;
  fj_jit_linux_latency all;
  memset(&all, 0, sizeof all);
  fj_jit_stats js;
  size_t rt_bytes = 0;
  long rss_grown = 0;
  fj_jit_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.hot_threshold = 64;
  cfg.code_size = 1u << 20;
  for (int c = 0; c < COLD; c++) {
    fj_platform cpf = count_platform();
    live_bytes = peak_bytes = 0;
    fj_vm *jvm = example_vm(&cpf, elf, elf_len);
    const size_t vm_bytes = live_bytes;
    const long rss0 = rss_kib();
    atomic_store(&t_first_hot, 0);
    atomic_store(&t_first_recorded, 0);
    atomic_store(&t_first_installed, 0);
    FILE *log = fopencookie(NULL, "w", (cookie_io_functions_t){NULL, log_write, NULL, NULL});
    fj_jit_linux_opts o;
    memset(&o, 0, sizeof o);
    o.farjitd_path = farjitd;
    o.cfg = &cfg;
    o.trace_log = log;
    char err[256];
    fj_jit_linux *jl = fj_jit_linux_attach(jvm, &o, err, sizeof err);
    if (!jl) {
      fprintf(stderr, "bench_e2e: attach: %s\n", err);
      exit(1);
    }
    cold[c] = run_ms(jvm, in, m, len, &got);
    ok = ok && got == want;
    fj_jit_linux_wait(jl, false, 5000);  /* whatever is still compiling lands now */
    if (c == 0) {
      for (int r = 0; r < REPS; r++) {
        double t = run_ms(jvm, in, m, len, &got);
        ok = ok && got == want;
        if (t < t_warm) t_warm = t;
      }
      rss_grown = rss_kib() - rss0;
      fj_jit_get_stats(fj_jit_linux_runtime(jl), &js);
      rt_bytes = peak_bytes - vm_bytes;
    }
    uint64_t th = atomic_load(&t_first_hot), tr = atomic_load(&t_first_recorded),
             ti = atomic_load(&t_first_installed);
    warmup[c] = th && ti > th ? ms(ti - th) : -1;
    rtt[c] = tr && ti > tr ? ms(ti - tr) : -1;
    fj_jit_linux_latency lat;
    fj_jit_linux_get_latency(jl, &lat);
    connect[c] = lat.connect_ns ? ms(lat.connect_ns) : -1;
    if (lat.results) {
      for (int i = 0; i < FJ_JL__COUNT; i++) {
        stage[i][nfirst] = ms(lat.first_ns[i]);
        all.sum_ns[i] += lat.sum_ns[i];
        if (lat.max_ns[i] > all.max_ns[i]) all.max_ns[i] = lat.max_ns[i];
      }
      all.results += lat.results;
      nfirst++;
    }
    fj_jit_linux_detach(jl);
    fj_vm_destroy(jvm);
    fclose(log);
  }

  printf("%-7s %5zu %8.2f %8.2f %8.2f %8.2f %7.1fx %7.2fx %7.2fx %8.2f %7.2f %6llu %7llu %6u %7zu %6ld%s\n",
         ex->name, len / 1024, t_native, t_interp, median(cold, COLD), t_warm, t_interp / t_native,
         t_warm / t_native, t_interp / t_warm, median(warmup, COLD), median(rtt, COLD),
         (unsigned long long)js.traces_installed, (unsigned long long)js.code_bytes_peak,
         (unsigned)(cfg.code_size / 1024), rt_bytes / 1024, rss_grown, ok ? "" : "  WRONG RESULT");
  if (nlat < (int)(sizeof lat_lines / sizeof lat_lines[0])) {
    double f[FJ_JL__COUNT], mean[FJ_JL__COUNT];
    for (int i = 0; i < FJ_JL__COUNT; i++) {
      f[i] = median(stage[i], nfirst);
      mean[i] = all.results ? ms(all.sum_ns[i]) / (double)all.results : -1;
    }
    snprintf(lat_lines[nlat++], sizeof lat_lines[0],
             "%-7s %7.2f %6.2f %6.2f %7.2f %7.2f %7.2f %8.2f | %5llu %6.2f %6.2f %7.2f %7.2f %7.2f %8.2f",
             ex->name, median(connect, COLD), f[FJ_JL_send], f[FJ_JL_server], f[FJ_JL_compile],
             f[FJ_JL_deliver], f[FJ_JL_install], median(rtt, COLD), (unsigned long long)all.results,
             mean[FJ_JL_send], mean[FJ_JL_server], mean[FJ_JL_compile], mean[FJ_JL_deliver],
             mean[FJ_JL_install], ms(all.max_ns[FJ_JL_send] > all.max_ns[FJ_JL_server]
                                         ? all.max_ns[FJ_JL_send] : all.max_ns[FJ_JL_server]));
  }
  free(elf);
  free(one);
  free(in);
  free(m);
}

int main(int argc, char **argv) {
  const char *build = getenv("FJ_BUILD");
  if (!build) build = "build/rel";
  size_t scale = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 100;
  if (!scale) scale = 100;
  char farjitd[600];
  snprintf(farjitd, sizeof farjitd, "%s/bin/farjitd", build);
  if (fj_jit_host_target() == 0 || access(farjitd, X_OK)) {
    fprintf(stderr, "bench_e2e: needs an x86-64 host and %s\n", farjitd);
    return 1;
  }
  printf("bench_e2e: whole-program runs (catalog input repeated to KiB, scale %zu%%); times in ms\n", scale);
  printf("native = host C compiler -O2; jit = remote JIT via the embedded farjitd (asynchronous)\n");
  printf("cold = first run of a fresh VM (server start + compile + install while it runs), median of %d;\n"
         "warm = best of %d later runs\n", COLD, REPS);
  printf("warm-up = first hot spot (embedded server started) -> first trace installed, ms;\n"
         "rtt = first trace recorded -> installed (send, compile, receive, link), ms; both medians\n");
  printf("code = machine code bytes installed (peak); cache = KiB reserved; runtime = KiB the JIT\n"
         "runtime allocated (peak); RSS = KiB the process grew across attach + runs\n\n");
  printf("%-7s %5s %8s %8s %8s %8s %8s %7s %7s %8s %7s %6s %7s %6s %7s %6s\n", "example", "KiB",
         "native", "interp", "jitcold", "jitwarm", "int/nat", "jit/nat", "int/jit", "warm-up", "rtt",
         "traces", "code", "cache", "runtime", "RSS");
  /* sizes that make each loop dominate without a quadratic blow-up (sort is a Shell sort) */
  static const struct { const char *name; size_t kib; } loops[] = {
      {"crc32", 4096}, {"matmul", 512}, {"mix", 1024}, {"sort", 64}};
  for (size_t i = 0; i < sizeof loops / sizeof loops[0]; i++) {
    const fj_example *ex = fj_example_find(loops[i].name);
    if (ex) bench_one(build, farjitd, ex, loops[i].kib * 1024 * scale / 100);
  }
  printf("\nfirst trace, recorded -> installed by stage (fj_jit_linux_get_latency), ms: median of %d cold\n"
         "starts; connect = first hot spot -> embedded farjitd answered Hello (started meanwhile); send =\n"
         "recorded -> written to the socket (waits for connect when recorded before it); server = written\n"
         "-> result read (the server's own compile time next to it); deliver = read -> taken by the VM\n"
         "thread at a hot event; install = validate + link + install; rtt = the whole way, from the log.\n"
         "Right: every trace of those starts (n), mean per stage, and the largest send or server stage.\n\n",
         COLD);
  printf("%-7s %7s %6s %6s %7s %7s %7s %8s | %5s %6s %6s %7s %7s %7s %8s\n", "example", "connect",
         "send", "server", "compile", "deliver", "install", "rtt", "n", "send", "server", "compile",
         "deliver", "install", "max");
  for (int i = 0; i < nlat; i++) puts(lat_lines[i]);
  return 0;
}
