/* farjit tests — the JIT end to end on the Cortex-M4: the full client runtime with the Thumb-2
 * target layer, machine code in SRAM, compiles replayed from a host-built table.
 *
 * Every record of the case bundle (bundle.h) runs FJ_BUNDLE_JIT_RUNS times in a fresh VM with a
 * fresh runtime (fj_replay_config(FJ_FW_JIT_HOT), the configuration the table was recorded
 * with) whose transport is the replay server (client_runtime/cortexm/replay.h; the table from
 * tests/arm/mkjit.c is linked by jit_table.S): the device's recorder records the traces, the
 * table answers them byte for byte with the blob the real compiler made on the host, and the
 * runtime validates, links and runs them here.  A record passes when its result is the expected
 * one (checked on the host and by fw_test) and the same as the interpreter's in the same runs
 * here (outcome, r0, and every eBPF instruction accounted: interpreted + native = the
 * interpreter's count), the arena is whole, and no trace the device submitted is missing from
 * the table (host and device recorders must agree).  Examples must also have run machine code:
 * traces installed and native eBPF instructions > 0.
 *
 * Prints per-example stats, misses, "arm-jit: N passed, M failed" and totals; exits 0 only if
 * everything passed.  -v on the command line (QEMU -append -v) prints every record.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "client_runtime/cortexm/platform.h"
#include "client_runtime/cortexm/replay.h"
#include "client_runtime/cortexm/semihost.h"
#include "client_runtime/thumb/arch_thumb.h"
#include "examples/catalog.h"
#include "farjit/client.h"
#include "farjit/error.h"
#include "farjit/target.h"
#include "farjit/vm.h"
#include "tests/arm/bundle.h"
#include "tests/arm/fw_common.h"

extern const uint8_t fj_bundle_start[], fj_bundle_end[];
extern const uint8_t fj_jit_table_start[], fj_jit_table_end[];

enum { MEM_MAX = 8192 };
static _Alignas(8) uint8_t run_mem[MEM_MAX];

/* ---- executable memory: one SRAM block (the M4 has no MMU; QEMU executes from SRAM) -------- */

static _Alignas(16) uint8_t code_mem[32u * 1024u];
static bool code_busy;

static int ex_alloc(void *ud, size_t size, void **rw, void **rx) {
  (void)ud;
  if (code_busy || size > sizeof code_mem) return FJ_ENOMEM;
  code_busy = true;
  *rw = *rx = code_mem;
  return 0;
}
static void ex_free(void *ud, void *rw, void *rx, size_t size) {
  (void)ud, (void)rw, (void)rx, (void)size;
  code_busy = false;
}
static void ex_flush(void *ud, void *rx, size_t size) {
  (void)ud, (void)rx, (void)size;
  fj_thm_code_barrier();
}

/* ---- one record --------------------------------------------------------------------------- */

static fj_replay replay;

/* A trace the table lacks, in hex for the host (run_qemu_jit.sh feeds these lines to mkjit). */
static void dump_miss(void *ud, const fj_jit_request *rq) {
  (void)ud;
  fj_out_s("arm-jit-trace: ");
  for (size_t i = 0; i < rq->trace_len; i++) {
    fj_out_c("0123456789abcdef"[rq->trace[i] >> 4]);
    fj_out_c("0123456789abcdef"[rq->trace[i] & 15]);
  }
  fj_out_c('\n');
}

typedef struct jit_run {
  int rc;
  const char *stage;
  uint64_t r0;
  fj_vm_stats vs;
  fj_jit_stats js;
  uint32_t misses;  /* table misses during this run */
  int run;          /* 1.. FJ_BUNDLE_JIT_RUNS: the run o->rc / o->r0 come from */
} jit_run;

/* with_jit false: the same runs interpreted only (the reference). */
static void run_jit(const fj_bundle_rec *r, const fj_example *ex, jit_run *o, bool with_jit) {
  memset(o, 0, sizeof *o);
  o->stage = "create";
  uint32_t miss0 = replay.misses;
  fj_vm *vm = fj_vm_create(fj_platform_cortexm());
  if (!vm) {
    o->rc = FJ_ENOMEM;
    return;
  }
  int rc = fj_fw_vm_prepare(vm, r, ex, fj_bundle_prog(r), &o->stage);
  fj_jit *jit = NULL;
  uint32_t entry = rc >= 0 ? (uint32_t)rc : 0;
  if (rc >= 0 && with_jit) {
    o->stage = "jit";
    fj_jit_config c = fj_replay_config(FJ_FW_JIT_HOT);
    fj_jit_env env;
    memset(&env, 0, sizeof env);
    env.exec = (fj_jit_exec_ops){ex_alloc, NULL, ex_free, ex_flush, NULL};
    env.transport = fj_replay_transport(&replay);
    int jerr = 0;
    jit = fj_jit_create(vm, &c, &env, &jerr);
    rc = jit ? 0 : jerr;
  }
  /* Every run must give the expected result: o keeps the first that differs, else the last. */
  for (int run = 0; rc >= 0 && run < FJ_BUNDLE_JIT_RUNS; run++) {
    fj_fw_input(r, ex, run_mem);
    o->stage = "run";
    o->run = run + 1;
    rc = fj_vm_run(vm, entry, r->mem_len ? run_mem : NULL, r->mem_len, &o->r0);
    if (!fj_fw_expected(r, rc < 0 ? rc : 0, o->r0)) break;
    if ((r->flags & FJ_BREC_FLAG_ERROR) && run + 1 < FJ_BUNDLE_JIT_RUNS) rc = 0;  /* expected: run again */
  }
  o->rc = rc < 0 ? rc : 0;
  fj_vm_get_stats(vm, &o->vs);
  if (jit) fj_jit_get_stats(jit, &o->js), fj_jit_destroy(jit);
  fj_vm_destroy(vm);
  o->misses = replay.misses - miss0;
}

static bool check(const fj_bundle_rec *r, const fj_example *ex, const jit_run *o, const jit_run *ref,
                  size_t used0) {
  bool ok = true;
  /* The interpreter's own runs: same outcome, and the JIT accounts every eBPF instruction. */
  if (o->rc != ref->rc || o->r0 != ref->r0 || o->run != ref->run ||
      o->vs.insns_interp + o->vs.insns_native != ref->vs.insns_interp) {
    fj_fw_fail_head(r);
    fj_out_s("differs from the interpreter: rc ");
    fj_out_s(o->rc ? fj_err_name(o->rc) : "0");
    fj_out_s(" / ");
    fj_out_s(ref->rc ? fj_err_name(ref->rc) : "0");
    fj_out_s(", r0 ");
    fj_out_x(o->r0);
    fj_out_s(" / ");
    fj_out_x(ref->r0);
    fj_out_s(", ebpf insns ");
    fj_out_u(o->vs.insns_interp + o->vs.insns_native);
    fj_out_s(" / ");
    fj_out_u(ref->vs.insns_interp);
    fj_out_c('\n');
    ok = false;
  }
  if (!fj_fw_expected(r, o->rc, o->r0)) {
    bool want_err = r->flags & FJ_BREC_FLAG_ERROR;
    fj_fw_fail_head(r);
    fj_out_s("expected ");
    if (want_err) fj_out_s(r->err ? fj_err_name(r->err) : "an error");
    else fj_out_x(r->result);
    if (o->rc < 0) fj_out_s(", "), fj_out_s(o->stage), fj_out_s(" failed: "), fj_out_s(fj_err_name(o->rc));
    else fj_out_s(", got "), fj_out_x(o->r0);
    fj_out_s(" in run "), fj_out_u((uint64_t)o->run);
    fj_out_c('\n');
    ok = false;
  }
  if (o->misses) {
    fj_fw_fail_head(r);
    fj_out_u(o->misses);
    fj_out_s(" trace(s) recorded here are not in the host's table (recorders disagree)\n");
    ok = false;
  }
  if (ex && (o->js.traces_installed == 0 || o->vs.insns_native == 0)) {
    fj_fw_fail_head(r);
    fj_out_s("no machine code ran (installed ");
    fj_out_u(o->js.traces_installed);
    fj_out_s(", native insns ");
    fj_out_u(o->vs.insns_native);
    fj_out_s(")\n");
    ok = false;
  }
  const fj_arena *a = fj_cm_arena();
  if (a->used != used0) {
    fj_fw_fail_head(r);
    fj_out_s("arena not whole after the run\n");
    ok = false;
  }
  return ok;
}

int main(void) {
  char cmd[64];
  fj_sh_cmdline(cmd, sizeof cmd);
  bool verbose = strstr(cmd, "-v") != NULL;
  const fj_bundle_hdr *h = (const fj_bundle_hdr *)fj_bundle_start;
  if ((size_t)(fj_bundle_end - fj_bundle_start) < sizeof *h || h->magic != FJ_BUNDLE_MAGIC ||
      fj_replay_init(&replay, fj_jit_table_start, (size_t)(fj_jit_table_end - fj_jit_table_start)) < 0) {
    fj_out_s("arm-jit: bad case bundle or replay table linked into the firmware\narm-jit: 0 passed, 1 failed\n");
    return 1;
  }
  replay.on_miss = dump_miss;
  if (fj_jit_host_target() != FJ_TARGET_THUMBV7EM) {
    fj_out_s("arm-jit: runtime built without the Thumb layer\narm-jit: 0 passed, 1 failed\n");
    return 1;
  }
  fj_out_s("arm-jit: Cortex-M4, runtime + Thumb-2 layer, ");
  fj_out_u(((const fj_replay_hdr *)fj_jit_table_start)->nents);
  fj_out_s(" traces in the replay table, code memory ");
  fj_out_u(sizeof code_mem);
  fj_out_s(" bytes of SRAM\n");
  int pass = 0, fail = 0, with_code = 0;
  uint64_t installed = 0, native = 0, interp = 0, entries = 0, code_peak = 0;
  const uint8_t *p = fj_bundle_start + sizeof *h;
  for (uint32_t k = 0; k < h->nrecs; k++) {
    const fj_bundle_rec *r = (const fj_bundle_rec *)p;
    p += r->size;
    const fj_example *ex = r->kind == FJ_BREC_EXAMPLE ? fj_example_find(r->name) : NULL;
    if (r->kind == FJ_BREC_BROKEN || (r->kind == FJ_BREC_EXAMPLE && !ex) || r->mem_len > MEM_MAX) continue;
    size_t used0 = fj_cm_arena()->used;
    jit_run o, ref;
    run_jit(r, ex, &ref, false);
    run_jit(r, ex, &o, true);
    bool ok = check(r, ex, &o, &ref, used0);
    ok ? pass++ : fail++;
    with_code += o.vs.insns_native > 0;
    installed += o.js.traces_installed;
    native += o.vs.insns_native;
    interp += o.vs.insns_interp;
    entries += o.js.trace_entries;
    if (o.js.code_bytes_peak > code_peak) code_peak = o.js.code_bytes_peak;
    if (ex || verbose) {
      fj_out_s(ok ? "ok   " : "FAIL ");
      fj_out_s(r->name);
      fj_out_s(": traces installed ");
      fj_out_u(o.js.traces_installed);
      fj_out_s(" (");
      fj_out_u(o.js.code_bytes_peak);
      fj_out_s(" bytes), entries ");
      fj_out_u(o.js.trace_entries);
      fj_out_s(", ebpf insns native ");
      fj_out_u(o.vs.insns_native);
      fj_out_s(" / interpreted ");
      fj_out_u(o.vs.insns_interp);
      fj_out_c('\n');
    }
  }
  for (uint32_t k = 0; k < replay.misses && k < FJ_REPLAY_MISSES; k++) {
    fj_out_s("arm-jit: miss: trace at pc ");
    fj_out_u(replay.miss[k].start_pc);
    fj_out_s(", kind ");
    fj_out_u(replay.miss[k].kind);
    fj_out_s(", ");
    fj_out_u(replay.miss[k].trace_len);
    fj_out_s(" bytes, fnv1a ");
    fj_out_x(replay.miss[k].hash);
    if (replay.miss[k].near_off != UINT32_MAX) {
      fj_out_s("; nearest table trace differs at byte ");
      fj_out_u(replay.miss[k].near_off);
      fj_out_s(" (device ");
      fj_out_x(replay.miss[k].dev_byte);
      fj_out_s(", host ");
      fj_out_x(replay.miss[k].host_byte);
      fj_out_s(")");
    } else {
      fj_out_s("; no table trace of that length starts there");
    }
    fj_out_c('\n');
  }
  fj_out_s("arm-jit: replay hits ");
  fj_out_u(replay.hits);
  fj_out_s(", rejected by the compiler ");
  fj_out_u(replay.rejected);
  fj_out_s(", misses ");
  fj_out_u(replay.misses);
  fj_out_s("; ");
  fj_out_u((uint64_t)with_code);
  fj_out_s(" records ran machine code, ");
  fj_out_u(installed);
  fj_out_s(" traces installed, ");
  fj_out_u(entries);
  fj_out_s(" entries, ebpf insns native ");
  fj_out_u(native);
  fj_out_s(" / interpreted ");
  fj_out_u(interp);
  fj_out_s(", code peak ");
  fj_out_u(code_peak);
  fj_out_s(" bytes\n");
  fj_out_s("arm-jit: ");
  fj_out_u((uint64_t)pass);
  fj_out_s(" passed, ");
  fj_out_u((uint64_t)fail);
  fj_out_s(" failed\n");
  return fail || pass == 0 || native == 0;
}
