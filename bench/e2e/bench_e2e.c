/* bench/e2e — whole-program runs of the loop-heavy examples, three ways, side by side:
 *
 *   native   the example's C compiled by the host compiler (-O2), best of REPS
 *   interp   the farjit interpreter only, best of REPS
 *   jit      the Linux client runtime with the remote JIT through the embedded farjitd (started
 *            by the runtime on first hotness, asynchronous as in production: no --jit-wait):
 *            "cold" = the first run of a fresh VM (server start, connect, compile, install
 *            happen while it runs), "warm" = best of REPS later runs (traces installed)
 *
 * plus the warm-up (time from the first recorded trace, i.e. the loop becoming hot, to the
 * first trace installed, taken from the runtime's trace log) and the client's memory overhead:
 * code cache reserved/used, bytes the JIT runtime allocated through the VM's allocator, and the
 * process RSS growth across attach + runs (libuv thread stack, code cache pages touched).
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

enum { REPS = 3 };

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

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = n > 0 ? malloc((size_t)n) : NULL;
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return b;
}

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

static void bench_one(const char *build, const char *farjitd, const fj_example *ex, size_t len) {
  char path[600];
  snprintf(path, sizeof path, "%s/examples/%s.o", build, ex->name);
  size_t elf_len;
  uint8_t *elf = read_file(path, &elf_len);
  if (!elf) {
    fprintf(stderr, "bench_e2e: %s not built\n", path);
    return;
  }
  /* the catalog's input repeated to len bytes */
  uint8_t *one = malloc(ex->len), *in = malloc(len), *m = malloc(len);
  fj_example_input(ex, one, ex->len);
  for (size_t off = 0; off < len; off += ex->len)
    memcpy(in + off, one, len - off < ex->len ? len - off : ex->len);

  double t_native = 1e300, t_interp = 1e300, t_cold, t_warm = 1e300;
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

  /* JIT: a fresh VM on the counting allocator, runtime attached with the embedded farjitd */
  fj_platform cpf = count_platform();
  live_bytes = peak_bytes = 0;
  fj_vm *jvm = example_vm(&cpf, elf, elf_len);
  const size_t vm_bytes = live_bytes;
  const long rss0 = rss_kib();
  atomic_store(&t_first_hot, 0);
  atomic_store(&t_first_recorded, 0);
  atomic_store(&t_first_installed, 0);
  FILE *log = fopencookie(NULL, "w", (cookie_io_functions_t){NULL, log_write, NULL, NULL});
  fj_jit_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.hot_threshold = 64;
  cfg.code_size = 1u << 20;
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
  t_cold = run_ms(jvm, in, m, len, &got);
  ok = ok && got == want;
  fj_jit_linux_wait(jl, false, 5000);  /* whatever is still compiling lands before the warm runs */
  for (int r = 0; r < REPS; r++) {
    double t = run_ms(jvm, in, m, len, &got);
    ok = ok && got == want;
    if (t < t_warm) t_warm = t;
  }
  const long rss1 = rss_kib();
  fj_jit_stats js;
  fj_jit_get_stats(fj_jit_linux_runtime(jl), &js);
  const size_t rt_bytes = peak_bytes - vm_bytes;
  uint64_t th = atomic_load(&t_first_hot), tr = atomic_load(&t_first_recorded),
           ti = atomic_load(&t_first_installed);
  double warmup = th && ti > th ? (double)(ti - th) / 1e6 : -1;
  double rtt = tr && ti > tr ? (double)(ti - tr) / 1e6 : -1;
  fj_jit_linux_detach(jl);
  fj_vm_destroy(jvm);
  fclose(log);

  printf("%-7s %5zu %8.2f %8.2f %8.2f %8.2f %7.1fx %7.2fx %7.2fx %8.2f %7.2f %6llu %7llu %6u %7zu %6ld%s\n",
         ex->name, len / 1024, t_native, t_interp, t_cold, t_warm, t_interp / t_native,
         t_warm / t_native, t_interp / t_warm, warmup, rtt, (unsigned long long)js.traces_installed,
         (unsigned long long)js.code_bytes_peak, (unsigned)(cfg.code_size / 1024), rt_bytes / 1024,
         rss1 - rss0, ok ? "" : "  WRONG RESULT");
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
  printf("cold = first run of a fresh VM (server start + compile + install while it runs); warm = best of %d\n", REPS);
  printf("warm-up = first hot spot (embedded server started) -> first trace installed, ms;\n"
         "rtt = first trace recorded -> installed (send, compile, receive, link), ms\n");
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
  return 0;
}
