/* End to end through the real client/server path: one farjitd on a private Unix socket, the
 * Linux client runtime (fj_jit_linux_attach) with wait_ms (so every hot spot's compile comes
 * back before the program goes on), and three program sets, each compared with a pure
 * interpreter run of the same program (r0, error and its message, memory, instruction count):
 *
 *   conformance  every case of ../shared/conformance (jit threshold 0: traced on first sight)
 *   examples     every program of examples/catalog.h on its catalog input; machine code must
 *                have run (traces installed > 0, insns_native > 0)
 *   gen          seeded random programs of tests/codegen/gen.h (loop, helper and local calls,
 *                atomics, straight-line), FJ_E2E_SCALE scales the count
 *
 * Each set prints "NAME: N passed, M failed" (one count per program).  At the end the server is
 * stopped and the test checks that no process and no file descriptor was leaked.
 *
 * Knobs for debugging: FJ_E2E_ONE=<i> (only random program i), FJ_E2E_RUNS (runs per random
 * program), FJ_E2E_WAIT (wait_ms), FJ_E2E_FLAGS (FJ_JIT_* flags), FJ_E2E_VERBOSE (trace log and
 * stats), FJ_E2E_FARJITD (another server binary), FJ_E2E_SCALE (percent of random programs). */
#include "tests/e2e/e2e_util.h"

#include "client_runtime/vm_internal.h"
#include "examples/catalog.h"
#include "farjit/target.h"
#include "tests/client_runtime/conf_case.h"
#include "tests/codegen/gen.h"
#include "tests/conformance/data_file.h"
#include "tools/file.h"

enum { WAIT_MS = 10000 };

static e2e_server srv;
static bool verbose;

typedef struct outcome {
  int rc;
  uint64_t r0;
  char msg[256];
  uint64_t insns;
} outcome;

static outcome run_vm(fj_vm *vm, uint32_t entry, uint8_t *mem, size_t len) {
  outcome o;
  memset(&o, 0, sizeof o);
  fj_vm_reset_stats(vm);
  /* every run starts from the same state: programs may read stack slots they never wrote */
  memset(vm->stack, 0, (size_t)FJ_MAX_CALL_DEPTH * FJ_STACK_SIZE);
  o.rc = fj_vm_run(vm, entry, len ? mem : NULL, len, &o.r0);
  if (o.rc) snprintf(o.msg, sizeof o.msg, "%s", fj_vm_errmsg(vm));
  fj_vm_stats s;
  fj_vm_get_stats(vm, &s);
  o.insns = s.insns_interp + s.insns_native;
  return o;
}

/* Same observable behaviour; *why says what differs. */
static bool same(const outcome *a, const outcome *b, const uint8_t *ma, const uint8_t *mb,
                 size_t len, char *why, size_t cap) {
  if (a->rc != b->rc || (a->rc == 0 && a->r0 != b->r0) || strcmp(a->msg, b->msg) ||
      a->insns != b->insns || (len && memcmp(ma, mb, len))) {
    snprintf(why, cap, "interpreter rc %d r0 0x%llx \"%s\" %llu insns; JIT rc %d r0 0x%llx \"%s\" %llu insns%s",
             a->rc, (unsigned long long)a->r0, a->msg, (unsigned long long)a->insns, b->rc,
             (unsigned long long)b->r0, b->msg, (unsigned long long)b->insns,
             len && memcmp(ma, mb, len) ? " (memory differs)" : "");
    return false;
  }
  return true;
}

static fj_jit_config jit_cfg(uint16_t threshold) {
  fj_jit_config c;
  memset(&c, 0, sizeof c);
  c.hot_threshold = threshold;
  c.exit_threshold = 2;
  c.wait_ms = getenv("FJ_E2E_WAIT") ? (uint32_t)atoi(getenv("FJ_E2E_WAIT")) : WAIT_MS;
  if (getenv("FJ_E2E_FLAGS")) c.flags = (uint16_t)atoi(getenv("FJ_E2E_FLAGS"));  /* FJ_JIT_* */
  return c;
}

/* The interpreter's outcome first, then the same VM (same stack, same memory buffer, so
 * programs that compute with addresses compare equal) with the client runtime attached, runs
 * times.  Returns false after a message; *native gets the native instructions of all runs and
 * *jl_out (if not NULL) the runtime, still attached. */
static bool check_vm(const char *label, fj_vm *vm, uint32_t entry, const uint8_t *mem0, size_t len,
                     int runs, fj_jit_config *cfg, uint64_t *native, fj_jit_linux **jl_out) {
  uint8_t *m = malloc(len ? len : 1), *mref = malloc(len ? len : 1);
  if (len) memcpy(m, mem0, len);
  outcome a = run_vm(vm, entry, m, len);
  if (len) memcpy(mref, m, len);
  fj_jit_linux *jl = e2e_attach(vm, srv.addr, cfg, NULL);
  bool ok = jl != NULL;
  *native = 0;
  for (int r = 0; ok && r < runs; r++) {
    if (len) memcpy(m, mem0, len);
    outcome b = run_vm(vm, entry, m, len);
    char why[768];
    if (!same(&a, &b, mref, m, len, why, sizeof why)) {
      e2e_failf("%s run %d: %s", label, r, why);
      ok = false;
    }
    fj_vm_stats s;
    fj_vm_get_stats(vm, &s);
    *native += s.insns_native;
  }
  free(m);
  free(mref);
  if (jl_out) *jl_out = jl;
  else if (jl) fj_jit_linux_detach(jl);
  return ok;
}

/* ---- conformance -------------------------------------------------------------------------- */

/* A conformance VM (conf_case.h); the run cannot go on without one. */
static fj_vm *conf_vm(void) {
  fj_vm *vm = conf_vm_new();
  if (!vm) {
    fprintf(stderr, "cannot create a VM\n");
    exit(1);
  }
  return vm;
}

static void conformance(void) {
  e2e_pass = e2e_fail = 0;
  const char *dir = fj_data_dir();
  if (!dir) {
    fprintf(stderr, "skip conformance: ../shared/conformance not found (set FJ_SHARED)\n");
    return;
  }
  char **paths = NULL;
  int n = fj_data_list(dir, &paths);
  int native_cases = 0;
  for (int i = 0; i < n; i++) {
    fj_data_case dc;
    fj_insn *prog;
    size_t np;
    if (!conf_case_open(paths[i], &dc, &prog, &np)) continue;
    fj_vm *vm = conf_vm();
    if (fj_vm_load(vm, prog, np * sizeof *prog) == 0) {  /* validator rejections: no run */
      fj_jit_config c = jit_cfg(0);
      uint64_t native = 0;
      /* two runs: the second starts in installed code */
      if (check_vm(paths[i], vm, 0, dc.mem, dc.mem_len, 2, &c, &native, NULL)) e2e_pass++;
      if (native) native_cases++;
    }
    fj_vm_destroy(vm);
    conf_case_close(&dc, prog);
  }
  fj_data_list_free(paths, n);
  fprintf(stderr, "conformance: %d of %d cases ran machine code\n", native_cases, e2e_pass + e2e_fail);
  E2E_CHECK(native_cases > 50, "only %d conformance cases ran machine code", native_cases);
  e2e_report("e2e-conformance");
}

/* ---- examples ----------------------------------------------------------------------------- */

static void examples(void) {
  e2e_pass = e2e_fail = 0;
  for (size_t i = 0; i < fj_nexamples; i++) {
    const fj_example *ex = &fj_examples[i];
    char path[512];
    snprintf(path, sizeof path, "%s/examples/%s.o", e2e_build(), ex->name);
    size_t elf_len;
    uint8_t *elf = fj_file_read(path, &elf_len);
    if (!elf) {
      e2e_failf("%s: %s not built", ex->name, path);
      continue;
    }
    uint8_t *in = malloc(ex->len);
    fj_example_input(ex, in, ex->len);
    const uint64_t want = ex->native(in, ex->len);
    fj_vm *vm = fj_vm_create(fj_platform_linux());
    fj_vm_register_std_helpers(vm);
    if (fj_vm_load_elf(vm, elf, elf_len)) {
      e2e_failf("%s: %s", ex->name, fj_vm_errmsg(vm));
    } else {
      uint32_t entry = (uint32_t)fj_vm_default_entry(vm);
      fj_jit_config c = jit_cfg(16);
      fj_jit_linux *jl = NULL;
      uint64_t native = 0, r0 = 0;
      bool ok = check_vm(ex->name, vm, entry, in, ex->len, 1, &c, &native, &jl);
      uint8_t *m = malloc(ex->len);
      memcpy(m, in, ex->len);
      fj_vm_reset_stats(vm);
      if (ok && (fj_vm_run(vm, entry, m, ex->len, &r0) || r0 != want)) {  /* warm: all traces in */
        e2e_failf("%s: r0 0x%llx, the native build says 0x%llx", ex->name, (unsigned long long)r0,
                  (unsigned long long)want);
        ok = false;
      }
      free(m);
      if (jl) {
        fj_vm_stats vs;
        fj_vm_get_stats(vm, &vs);
        fj_jit_stats js = e2e_jstats(jl);
        fprintf(stderr, "example %-8s r0 0x%016llx  first run native %8llu; warm run interpreted %8llu  native %8llu  traces %llu\n",
                ex->name, (unsigned long long)r0, (unsigned long long)native,
                (unsigned long long)vs.insns_interp, (unsigned long long)vs.insns_native,
                (unsigned long long)js.traces_installed);
        /* every example has a hot loop: machine code must run in the first run already */
        if (ok && (js.traces_installed == 0 || native == 0)) {
          e2e_failf("%s: no machine code ran (%llu traces installed, %llu native instructions)",
                    ex->name, (unsigned long long)js.traces_installed, (unsigned long long)native);
          ok = false;
        }
        fj_jit_linux_detach(jl);
      }
      if (ok) e2e_pass++;
    }
    fj_vm_destroy(vm);
    free(elf);
    free(in);
  }
  e2e_report("e2e-examples");
}

/* ---- random programs ---------------------------------------------------------------------- */

static uint64_t gen_helper(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5, fj_vm *vm) {
  return fj_gen_helper(r1, r2, r3, r4, r5, vm);
}

static fj_vm *gen_vm(const fj_gen_prog *p) {
  fj_vm *vm = fj_vm_create(fj_platform_linux());
  if (!vm || fj_vm_register_std_helpers(vm) ||
      fj_vm_register_helper(vm, FJ_GEN_HELPER, "gen", gen_helper) < 0 ||
      fj_vm_load(vm, p->insns, p->n * sizeof *p->insns)) {
    fprintf(stderr, "gen: cannot load a generated program: %s\n", vm ? fj_vm_errmsg(vm) : "no VM");
    exit(1);
  }
  fj_vm_set_insn_limit(vm, 10000000);
  return vm;
}

static void gen(void) {
  e2e_pass = e2e_fail = 0;
  const int count = e2e_scale(300);
  int native_progs = 0;
  const char *one = getenv("FJ_E2E_ONE");  /* FJ_E2E_ONE=<index>: only that program */
  for (int i = one ? atoi(one) : 0; i < (one ? atoi(one) + 1 : count); i++) {
    uint64_t seed = 0xe2e0000ull + (uint64_t)i;
    fj_gen_opts o = {.calls = i % 3 == 0, .local_calls = i % 4 == 1, .atomics = i % 2 == 0,
                     .straight = i % 10 == 9, .body = 0};
    fj_gen_prog p;
    fj_gen_program(seed, &o, &p);
    fj_vm *vm = gen_vm(&p);
    fj_jit_config c = jit_cfg(i % 10 == 9 ? 0 : 2);
    uint8_t m0[FJ_GEN_MEM];
    for (int k = 0; k < FJ_GEN_MEM; k++) m0[k] = (uint8_t)(seed * 31 + (uint64_t)k * 7);
    char label[160];
    snprintf(label, sizeof label, "gen %d seed 0x%llx (calls %d local %d atomics %d straight %d)", i,
             (unsigned long long)seed, o.calls, o.local_calls, o.atomics, o.straight);
    uint64_t native = 0;
    fj_jit_linux *jl = NULL;
    if (check_vm(label, vm, 0, m0, sizeof m0, getenv("FJ_E2E_RUNS") ? atoi(getenv("FJ_E2E_RUNS")) : 2, &c, &native, &jl)) e2e_pass++;
    if (native) native_progs++;
    if (verbose && jl) fj_jit_linux_print_stats(jl, stderr);
    if (jl) fj_jit_linux_detach(jl);
    fj_vm_destroy(vm);
  }
  fprintf(stderr, "gen: %d of %d programs ran machine code\n", native_progs, count);
  E2E_CHECK(native_progs > count / 2, "only %d of %d random programs ran machine code", native_progs, count);
  e2e_report("e2e-gen");
}

int main(void) {
  verbose = getenv("FJ_E2E_VERBOSE") != NULL;
  if (fj_jit_host_target() != FJ_TARGET_X86_64) {
    printf("skip: machine code runs on x86-64 hosts only\n0 passed, 0 failed\n");
    return 0;
  }
  /* libuv opens a process-wide pipe with the first loop: open it before the baseline */
  fj_vm *warm = fj_vm_create(fj_platform_linux());
  fj_jit_config wc = jit_cfg(0);
  fj_jit_linux *wl = warm ? e2e_attach(warm, NULL, &wc, NULL) : NULL;
  if (wl) fj_jit_linux_detach(wl);
  fj_vm_destroy(warm);
  const int fds0 = e2e_count_fds();
  if (!e2e_server_start(&srv, NULL)) {
    printf("e2e: cannot start %s/bin/farjitd\n0 passed, 1 failed\n", e2e_build());
    e2e_server_stop(&srv, SIGKILL);
    return 1;
  }
  uint64_t t0 = e2e_now_ms();
  conformance();
  int fails = e2e_fail;
  examples();
  fails += e2e_fail;
  gen();
  fails += e2e_fail;
  e2e_server_stop(&srv, SIGTERM);
  e2e_pass = e2e_fail = 0;
  int fds1 = e2e_count_fds();
  E2E_CHECK(fds1 == fds0, "file descriptors: %d before, %d after", fds0, fds1);
  if (fds1 != fds0) e2e_list_fds();
  E2E_CHECK(e2e_no_children(), "a child process is left");
  fprintf(stderr, "e2e: %.1f s\n", (double)(e2e_now_ms() - t0) / 1000.0);
  e2e_report("e2e-leaks");
  return fails + e2e_fail ? 1 : 0;
}
