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

extern const uint8_t fj_bundle_start[], fj_bundle_end[];
extern const uint8_t fj_jit_table_start[], fj_jit_table_end[];

enum { MEM_MAX = 8192 };
static _Alignas(8) uint8_t run_mem[MEM_MAX];

/* ---- output ------------------------------------------------------------------------------ */

static char line[256];
static size_t line_len;

static void out_c(char c) {
  if (line_len < sizeof line) line[line_len++] = c;
  if (c == '\n' || line_len == sizeof line) {
    fj_sh_write(line, line_len);
    line_len = 0;
  }
}
static void out_s(const char *s) {
  while (*s) out_c(*s++);
}
static void out_u(uint64_t v) {
  char t[20];
  int n = 0;
  do t[n++] = (char)('0' + v % 10), v /= 10;
  while (v);
  while (n) out_c(t[--n]);
}
static void out_x(uint64_t v) {
  out_s("0x");
  int i = 60;
  while (i > 0 && !(v >> i)) i -= 4;
  for (; i >= 0; i -= 4) out_c("0123456789abcdef"[(v >> i) & 15]);
}

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

static uint64_t unwind_helper(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5, fj_vm *vm) {
  (void)r2, (void)r3, (void)r4, (void)r5;
  if (r1 == 0) fj_vm_unwind(vm);
  return r1;
}

static fj_replay replay;

/* A trace the table lacks, in hex for the host (run_qemu_jit.sh feeds these lines to mkjit). */
static void dump_miss(void *ud, const fj_jit_request *rq) {
  (void)ud;
  out_s("arm-jit-trace: ");
  for (size_t i = 0; i < rq->trace_len; i++) {
    out_c("0123456789abcdef"[rq->trace[i] >> 4]);
    out_c("0123456789abcdef"[rq->trace[i] & 15]);
  }
  out_c('\n');
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
  int rc = fj_vm_register_std_helpers(vm);
  if (rc >= 0) rc = fj_vm_register_helper(vm, 5, "unwind", unwind_helper);
  if (rc >= 0) {
    o->stage = "load";
    rc = ex ? fj_vm_load_elf(vm, fj_bundle_prog(r), r->prog_len) : fj_vm_load(vm, fj_bundle_prog(r), r->prog_len);
  }
  if (rc >= 0 && ex) rc = fj_vm_find_entry(vm, "fj_main");
  fj_jit *jit = NULL;
  uint32_t entry = ex && rc >= 0 ? (uint32_t)rc : 0;
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
    if (ex) fj_example_input(ex, run_mem, r->mem_len);
    else if (r->mem_len) memcpy(run_mem, fj_bundle_mem(r), r->mem_len);
    o->stage = "run";
    o->run = run + 1;
    rc = fj_vm_run(vm, entry, r->mem_len ? run_mem : NULL, r->mem_len, &o->r0);
    bool want_err = r->flags & FJ_BREC_FLAG_ERROR;
    if (want_err ? !(rc < 0 && (r->err == 0 || rc == r->err)) : (rc < 0 || o->r0 != r->result)) break;
    if (want_err && run + 1 < FJ_BUNDLE_JIT_RUNS) rc = 0;  /* expected: run again */
  }
  o->rc = rc < 0 ? rc : 0;
  fj_vm_get_stats(vm, &o->vs);
  if (jit) fj_jit_get_stats(jit, &o->js), fj_jit_destroy(jit);
  fj_vm_destroy(vm);
  o->misses = replay.misses - miss0;
}

static void fail_head(const fj_bundle_rec *r) {
  out_s("FAIL ");
  out_s(r->name);
  out_s(": ");
}

static bool check(const fj_bundle_rec *r, const fj_example *ex, const jit_run *o, const jit_run *ref,
                  size_t used0) {
  bool ok = true;
  /* The interpreter's own runs: same outcome, and the JIT accounts every eBPF instruction. */
  if (o->rc != ref->rc || o->r0 != ref->r0 || o->run != ref->run ||
      o->vs.insns_interp + o->vs.insns_native != ref->vs.insns_interp) {
    fail_head(r);
    out_s("differs from the interpreter: rc ");
    out_s(o->rc ? fj_err_name(o->rc) : "0");
    out_s(" / ");
    out_s(ref->rc ? fj_err_name(ref->rc) : "0");
    out_s(", r0 ");
    out_x(o->r0);
    out_s(" / ");
    out_x(ref->r0);
    out_s(", ebpf insns ");
    out_u(o->vs.insns_interp + o->vs.insns_native);
    out_s(" / ");
    out_u(ref->vs.insns_interp);
    out_c('\n');
    ok = false;
  }
  bool want_err = r->flags & FJ_BREC_FLAG_ERROR;
  if (want_err ? !(o->rc < 0 && (r->err == 0 || o->rc == r->err)) : (o->rc != 0 || o->r0 != r->result)) {
    fail_head(r);
    out_s("expected ");
    if (want_err) out_s(r->err ? fj_err_name(r->err) : "an error");
    else out_x(r->result);
    if (o->rc < 0) out_s(", "), out_s(o->stage), out_s(" failed: "), out_s(fj_err_name(o->rc));
    else out_s(", got "), out_x(o->r0);
    out_s(" in run "), out_u((uint64_t)o->run);
    out_c('\n');
    ok = false;
  }
  if (o->misses) {
    fail_head(r);
    out_u(o->misses);
    out_s(" trace(s) recorded here are not in the host's table (recorders disagree)\n");
    ok = false;
  }
  if (ex && (o->js.traces_installed == 0 || o->vs.insns_native == 0)) {
    fail_head(r);
    out_s("no machine code ran (installed ");
    out_u(o->js.traces_installed);
    out_s(", native insns ");
    out_u(o->vs.insns_native);
    out_s(")\n");
    ok = false;
  }
  const fj_arena *a = fj_cm_arena();
  if (a->used != used0) {
    fail_head(r);
    out_s("arena not whole after the run\n");
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
    out_s("arm-jit: bad case bundle or replay table linked into the firmware\narm-jit: 0 passed, 1 failed\n");
    return 1;
  }
  replay.on_miss = dump_miss;
  if (fj_jit_host_target() != FJ_TARGET_THUMBV7EM) {
    out_s("arm-jit: runtime built without the Thumb layer\narm-jit: 0 passed, 1 failed\n");
    return 1;
  }
  out_s("arm-jit: Cortex-M4, runtime + Thumb-2 layer, ");
  out_u(((const fj_replay_hdr *)fj_jit_table_start)->nents);
  out_s(" traces in the replay table, code memory ");
  out_u(sizeof code_mem);
  out_s(" bytes of SRAM\n");
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
      out_s(ok ? "ok   " : "FAIL ");
      out_s(r->name);
      out_s(": traces installed ");
      out_u(o.js.traces_installed);
      out_s(" (");
      out_u(o.js.code_bytes_peak);
      out_s(" bytes), entries ");
      out_u(o.js.trace_entries);
      out_s(", ebpf insns native ");
      out_u(o.vs.insns_native);
      out_s(" / interpreted ");
      out_u(o.vs.insns_interp);
      out_c('\n');
    }
  }
  for (uint32_t k = 0; k < replay.misses && k < FJ_REPLAY_MISSES; k++) {
    out_s("arm-jit: miss: trace at pc ");
    out_u(replay.miss[k].start_pc);
    out_s(", kind ");
    out_u(replay.miss[k].kind);
    out_s(", ");
    out_u(replay.miss[k].trace_len);
    out_s(" bytes, fnv1a ");
    out_x(replay.miss[k].hash);
    if (replay.miss[k].near_off != UINT32_MAX) {
      out_s("; nearest table trace differs at byte ");
      out_u(replay.miss[k].near_off);
      out_s(" (device ");
      out_x(replay.miss[k].dev_byte);
      out_s(", host ");
      out_x(replay.miss[k].host_byte);
      out_s(")");
    } else {
      out_s("; no table trace of that length starts there");
    }
    out_c('\n');
  }
  out_s("arm-jit: replay hits ");
  out_u(replay.hits);
  out_s(", rejected by the compiler ");
  out_u(replay.rejected);
  out_s(", misses ");
  out_u(replay.misses);
  out_s("; ");
  out_u((uint64_t)with_code);
  out_s(" records ran machine code, ");
  out_u(installed);
  out_s(" traces installed, ");
  out_u(entries);
  out_s(" entries, ebpf insns native ");
  out_u(native);
  out_s(" / interpreted ");
  out_u(interp);
  out_s(", code peak ");
  out_u(code_peak);
  out_s(" bytes\n");
  out_s("arm-jit: ");
  out_u((uint64_t)pass);
  out_s(" passed, ");
  out_u((uint64_t)fail);
  out_s(" failed\n");
  return fail || pass == 0 || native == 0;
}
