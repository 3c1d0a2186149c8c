/* farjit tests — the Cortex-M4 firmware test: the freestanding client core on the device.
 *
 * Runs every record of the bundle (bundle.h, linked into flash by bundle.S) through
 * fj_vm_load/fj_vm_load_elf + fj_vm_run on a VM whose only memory is the platform arena
 * (client_runtime/cortexm/), and checks after each run that destroying the VM gave back every
 * arena byte and that no free was wrong.  Raw programs are loaded from an odd RAM address,
 * example ELFs in place from flash and again from an odd address.  Examples also run compiled
 * natively for the Cortex-M4 (the same C, examples/catalog.h), which must agree with the host.
 * Then every record runs again with its k-th allocation failing, k = 1, 2, ...: each must end
 * with its normal outcome or FJ_ENOMEM and leave the arena whole.
 *
 * Prints failures, "arm-conformance: N passed, M failed" (conformance + tests/arm/cases),
 * "arm-examples: ...", "arm-oom: ...", peak arena bytes (per case with -v on the command line,
 * QEMU -append -v), the stack high-water mark, and exits through semihosting with status 0 only
 * if everything passed.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "client_runtime/cortexm/platform.h"
#include "client_runtime/cortexm/semihost.h"
#include "client_runtime/cortexm/startup.h"
#include "examples/catalog.h"
#include "farjit/error.h"
#include "farjit/vm.h"
#include "tests/arm/bundle.h"
#include "tests/arm/fw_common.h"

extern const uint8_t fj_bundle_start[], fj_bundle_end[];

enum { MEM_MAX = 8192, LOAD_MAX = 16384 };
static _Alignas(8) uint8_t run_mem[MEM_MAX];
/* Programs arrive from wherever the device got them (a radio buffer, a file): conformance
 * programs are loaded from an odd address, examples once more from one (Cortex-M4 faults on
 * unaligned LDRD/LDM, so a loader that casts the image to wider types would show here). */
static _Alignas(8) uint8_t load_buf[LOAD_MAX + 8];

/* ---- one attempt: create, load, run, destroy ------------------------------------------ */

typedef struct attempt {
  int rc;                       /* 0 or the FJ_E* that stopped it */
  const char *stage;            /* "create", "load" or "run" */
  uint64_t r0;
  uint64_t insns;               /* eBPF instructions interpreted */
  uint64_t ns;                  /* platform clock around fj_vm_run (QEMU's virtual time) */
  char msg[192];                /* fj_vm_errmsg, kept past fj_vm_destroy */
} attempt;

/* Run record r (program bytes at prog) in a fresh VM on a fresh copy of its input. */
static void attempt_run(const fj_bundle_rec *r, const fj_example *ex, const void *prog, attempt *at) {
  at->rc = 0, at->stage = "create", at->r0 = 0, at->insns = 0, at->ns = 0, at->msg[0] = '\0';
  fj_vm *vm = fj_vm_create(fj_platform_cortexm());
  if (!vm) {
    at->rc = FJ_ENOMEM;
    return;
  }
  int rc = fj_fw_vm_prepare(vm, r, ex, prog, &at->stage);
  if (rc >= 0) {
    uint32_t entry = (uint32_t)rc;
    fj_fw_input(r, ex, run_mem);
    at->stage = "run";
    uint64_t t0 = fj_cm_clock_ns(NULL);
    rc = fj_vm_run(vm, entry, r->mem_len ? run_mem : NULL, r->mem_len, &at->r0);
    at->ns = fj_cm_clock_ns(NULL) - t0;
  }
  at->rc = rc < 0 ? rc : 0;
  fj_vm_stats st;
  fj_vm_get_stats(vm, &st);
  at->insns = st.insns_interp;
  if (at->rc) {
    const char *m = fj_vm_errmsg(vm);
    size_t n = strlen(m) < sizeof at->msg - 1 ? strlen(m) : sizeof at->msg - 1;
    memcpy(at->msg, m, n);
    at->msg[n] = '\0';
  }
  fj_vm_destroy(vm);
}

/* Did at give what r expects?  Prints why not, with `how` naming the variant. */
static bool attempt_check(const fj_bundle_rec *r, const attempt *at, const char *how) {
  if (fj_fw_expected(r, at->rc, at->r0)) return true;
  fj_fw_fail_head(r);
  fj_out_s(how);
  if (r->flags & FJ_BREC_FLAG_ERROR) fj_out_s("expected "), fj_out_s(r->err ? fj_err_name(r->err) : "an error");
  else fj_out_s("expected "), fj_out_x(r->result);
  if (at->rc < 0) fj_out_s(", "), fj_out_s(at->stage), fj_out_s(" failed: "), fj_out_s(fj_err_name(at->rc)), fj_out_s(": "), fj_out_s(at->msg);
  else fj_out_s(", got r0 = "), fj_out_x(at->r0);
  fj_out_c('\n');
  return false;
}

/* Every arena byte back and no wrong free since the snapshot (used0, bad0)? */
static bool arena_check(const fj_bundle_rec *r, size_t used0, uint32_t bad0, const char *how) {
  const fj_arena *a = fj_cm_arena();
  if (a->used == used0 && a->bad_frees == bad0) return true;
  fj_fw_fail_head(r);
  fj_out_s(how);
  fj_out_s("arena: ");
  fj_out_i((int64_t)a->used - (int64_t)used0);
  fj_out_s(" bytes not freed, ");
  fj_out_u(a->bad_frees - bad0);
  fj_out_s(" bad frees\n");
  return false;
}

/* ---- one record ------------------------------------------------------------------------- */

typedef struct case_result {
  bool ok;
  size_t arena_peak;  /* bytes of arena the case's VM used at most */
  attempt at;
} case_result;

static void run_rec(const fj_bundle_rec *r, case_result *res) {
  res->ok = false;
  res->arena_peak = 0;
  res->at.insns = res->at.ns = 0;
  fj_arena *a = fj_cm_arena();
  size_t used0 = a->used;
  uint32_t bad0 = a->bad_frees;
  fj_arena_reset_peak(a);
  if (r->kind == FJ_BREC_BROKEN) {
    fj_fw_fail_head(r);
    fj_out_s("the host could not build this case (see mkbundle's output)\n");
    return;
  }
  if (r->mem_len > MEM_MAX) {
    fj_fw_fail_head(r);
    fj_out_s("input of ");
    fj_out_u(r->mem_len);
    fj_out_s(" bytes does not fit the firmware's buffer\n");
    return;
  }
  const fj_example *ex = NULL;
  if (r->kind == FJ_BREC_EXAMPLE && !(ex = fj_example_find(r->name))) {
    fj_fw_fail_head(r);
    fj_out_s("not in examples/catalog.h of this firmware\n");
    return;
  }
  /* Examples load in place from flash (as firmware would); raw programs from an odd address. */
  const void *prog = fj_bundle_prog(r);
  if (!ex && r->prog_len <= LOAD_MAX) prog = memcpy(load_buf + 1, prog, r->prog_len);
  attempt_run(r, ex, prog, &res->at);
  res->ok = attempt_check(r, &res->at, "");
  res->arena_peak = a->peak - used0;
  res->ok &= arena_check(r, used0, bad0, "");
  if (ex && r->prog_len <= LOAD_MAX) {
    attempt again;
    attempt_run(r, ex, memcpy(load_buf + 3, fj_bundle_prog(r), r->prog_len), &again);
    res->ok &= attempt_check(r, &again, "loaded from an odd address: ");
    res->ok &= arena_check(r, used0, bad0, "loaded from an odd address: ");
  }
  /* The same C compiled for this CPU must give the host's answer too. */
  if (ex) {
    fj_example_input(ex, run_mem, r->mem_len);
    uint64_t native = ex->native(run_mem, r->mem_len);
    if (native != r->result) {
      fj_fw_fail_head(r);
      fj_out_s("compiled for the Cortex-M4 it returns ");
      fj_out_x(native);
      fj_out_s(", the host's build ");
      fj_out_x(r->result);
      fj_out_c('\n');
      res->ok = false;
    }
  }
}

/* Out of memory at every allocation in turn: the k-th allocation of create + load + run fails,
 * for k = 1, 2, ... until a run makes fewer than k.  Each attempt must end cleanly: the normal
 * outcome, or FJ_ENOMEM; and the arena must be whole afterwards. */
static bool oom_sweep(const fj_bundle_rec *r, uint32_t *nattempts) {
  const fj_example *ex = r->kind == FJ_BREC_EXAMPLE ? fj_example_find(r->name) : NULL;
  if (r->kind == FJ_BREC_BROKEN || (r->kind == FJ_BREC_EXAMPLE && !ex) || r->mem_len > MEM_MAX) return true;
  fj_arena *a = fj_cm_arena();
  size_t used0 = a->used;
  uint32_t bad0 = a->bad_frees;
  for (uint32_t k = 1; k <= 100000; k++) {
    uint32_t fails0 = a->fails;
    a->fail_countdown = k;
    attempt at;
    attempt_run(r, ex, fj_bundle_prog(r), &at);
    bool hit = a->fail_countdown == 0;
    a->fail_countdown = 0;
    ++*nattempts;
    char how[48] = "out of memory at allocation ", digits[12];
    size_t nd = 0;
    for (uint32_t v = k; v; v /= 10) digits[nd++] = (char)('0' + v % 10);
    size_t n = strlen(how);
    while (nd) how[n++] = digits[--nd];
    memcpy(how + n, ": ", 3);
    if (!arena_check(r, used0, bad0, how)) return false;
    if (!hit) return attempt_check(r, &at, how);  /* fewer than k allocations: normal run */
    if (at.rc == FJ_ENOMEM && a->fails > fails0) continue;
    /* The failure was absorbed (e.g. an optional allocation): the outcome must be normal. */
    if (!attempt_check(r, &at, how)) return false;
  }
  fj_fw_fail_head(r);
  fj_out_s("more than 100000 allocations in one run\n");
  return false;
}

/* ---- main ------------------------------------------------------------------------------- */

typedef struct tally {
  int pass, fail;
  size_t peak_max;
  const char *peak_name;
} tally;

static void tally_add(tally *t, const fj_bundle_rec *r, const case_result *res) {
  if (res->ok) t->pass++;
  else t->fail++;
  if (res->arena_peak >= t->peak_max) t->peak_max = res->arena_peak, t->peak_name = r->name;
}

static void tally_print(const char *what, const tally *t) {
  fj_out_s(what);
  fj_out_s(": ");
  fj_out_i(t->pass);
  fj_out_s(" passed, ");
  fj_out_i(t->fail);
  fj_out_s(" failed\n");
}

int main(void) {
  char cmd[64];
  fj_sh_cmdline(cmd, sizeof cmd);
  bool verbose = strstr(cmd, "-v") != NULL;

  const fj_bundle_hdr *h = (const fj_bundle_hdr *)fj_bundle_start;
  size_t avail = (size_t)(fj_bundle_end - fj_bundle_start);
  if (avail < sizeof *h || h->magic != FJ_BUNDLE_MAGIC || h->version != FJ_BUNDLE_VERSION ||
      h->total_size > avail) {
    fj_out_s("arm: bad case bundle linked into the firmware\narm-conformance: 0 passed, 1 failed\n");
    return 1;
  }
  fj_out_s("arm: Cortex-M4 firmware, arena ");
  fj_out_u(fj_cm_arena()->size);
  fj_out_s(" bytes, stack ");
  fj_out_u(fj_cm_stack_size());
  fj_out_s(" bytes, ");
  fj_out_u(h->nrecs);
  fj_out_s(" records\n");

  tally conf = {0, 0, 0, NULL}, exs = {0, 0, 0, NULL}, oom = {0, 0, 0, NULL};
  uint32_t oom_attempts = 0;
  uint64_t clock0 = fj_cm_clock_ns(NULL);
  const uint8_t *p = fj_bundle_start + sizeof *h, *end = fj_bundle_start + h->total_size;
  uint32_t seen = 0;
  while (seen < h->nrecs && (size_t)(end - p) >= sizeof(fj_bundle_rec)) {
    const fj_bundle_rec *r = (const fj_bundle_rec *)p;
    if (r->size < sizeof *r || r->size > (size_t)(end - p) || r->size % 8) break;
    case_result res;
    run_rec(r, &res);
    bool is_ex = r->kind == FJ_BREC_EXAMPLE;
    tally_add(is_ex ? &exs : &conf, r, &res);
    if (oom_sweep(r, &oom_attempts)) oom.pass++;
    else oom.fail++;
    if (is_ex || verbose) {
      fj_out_s(res.ok ? "ok   " : "FAIL ");
      fj_out_s(r->name);
      fj_out_s(": arena peak ");
      fj_out_u(res.arena_peak);
      fj_out_s(" bytes, ");
      fj_out_u(res.at.insns);
      fj_out_s(" insns");
      if (is_ex) fj_out_s(", "), fj_out_u(res.at.ns / 1000000u), fj_out_s(" ms (QEMU clock)");
      fj_out_c('\n');
    }
    p += r->size;
    seen++;
  }
  if (seen != h->nrecs) {
    fj_out_s("arm: bundle record ");
    fj_out_u(seen);
    fj_out_s(" is malformed\n");
    conf.fail++;
  }
  /* The platform clock must move (SysTick wrap counting); timing itself decides nothing. */
  uint64_t clock1 = fj_cm_clock_ns(NULL);
  fj_out_s("arm: platform clock (SysTick) advanced ");
  fj_out_u((clock1 - clock0) / 1000000u);
  fj_out_s(" ms over the run\n");
  if (clock1 <= clock0) {
    fj_out_s("FAIL clock: the SysTick clock did not advance\n");
    conf.fail++;
  }
  if (conf.peak_name) {
    fj_out_s("arm: conformance arena peak ");
    fj_out_u(conf.peak_max);
    fj_out_s(" bytes (");
    fj_out_s(conf.peak_name);
    fj_out_s("); examples arena peak ");
    fj_out_u(exs.peak_max);
    fj_out_s(" bytes (");
    fj_out_s(exs.peak_name ? exs.peak_name : "-");
    fj_out_s(")\n");
  }
  fj_out_s("arm: main stack peak ");
  fj_out_u(fj_cm_stack_peak());
  fj_out_s(" of ");
  fj_out_u(fj_cm_stack_size());
  fj_out_s(" bytes\n");
  tally_print("arm-conformance", &conf);
  tally_print("arm-examples", &exs);
  fj_out_s("arm: ");
  fj_out_u(oom_attempts);
  fj_out_s(" runs with one allocation failing\n");
  tally_print("arm-oom", &oom);
  return conf.fail || exs.fail || oom.fail || conf.pass + exs.pass == 0;
}
