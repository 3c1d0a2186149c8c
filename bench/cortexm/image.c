/* farjit bench — the Cortex-M4 side of `make bench-cortexm` (bench/cortexm/README.md).
 *
 * Linked into a bare ELF image (the core, the fixed-arena allocator, the examples compiled
 * natively for the Cortex-M4 and examples/catalog.c) that bench_cortexm.c loads into Unicorn and
 * drives by calling the functions below; it counts Thumb instructions only inside the measured
 * calls (fj_bench_interp, fj_bench_native, fj_bench_jit).  No startup code, clock or console: the
 * host loads the segments at their run addresses, sets sp and calls in.
 *
 * With FJ_BENCH_JIT (the "jit" image: the runtime with the Thumb-2 layer, -DFJ_ARCH_THUMB) the VM
 * also gets the client JIT runtime (fj_replay_config(8): the firmware test's settings with hot
 * threshold 8) whose transport calls fj_bench_compile: an empty function the host intercepts, compiling the trace
 * the device recorded with the real compiler (host side, not counted) and writing the blob into
 * the image.  Everything else (recording, validation, linking, the traces, exits) runs here.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "client_runtime/cortexm/arena.h"
#include "examples/catalog.h"
#include "farjit/vm.h"
#ifdef FJ_BENCH_JIT
#include "client_runtime/cortexm/replay.h"
#include "client_runtime/thumb/arch_thumb.h"
#include "farjit/client.h"
#endif

enum { BENCH_ARENA = 96 * 1024, BENCH_MEM = 16 * 1024 };

static _Alignas(16) uint8_t arena_mem[BENCH_ARENA];
static fj_arena arena;
static fj_platform platform;
static fj_vm *vm;
static uint32_t entry;
static const fj_example *example;
static _Alignas(8) uint8_t input[BENCH_MEM];
static uint32_t input_len;
static int32_t status;

/* The host calls these by symbol; they are kept out of --gc-sections by -u (module.mk). */
int32_t fj_bench_setup(uint32_t idx, const void *elf, uint32_t elf_len, uint32_t len);
int32_t fj_bench_reset_input(void);
uint64_t fj_bench_interp(void);
uint64_t fj_bench_native(void);
int32_t fj_bench_status(void);
uint32_t fj_bench_ebpf_insns(void);

#ifdef FJ_BENCH_JIT
int32_t fj_bench_jit_attach(void);
uint64_t fj_bench_jit(void);
uint32_t fj_bench_jit_stat(uint32_t which);
uint32_t fj_bench_jit_report(void);
uint32_t fj_bench_compile(const uint8_t *trace, uint32_t len, uint8_t *out, uint32_t cap);

static fj_jit *jit;
static _Alignas(16) uint8_t code_mem[32u * 1024u];
static _Alignas(16) uint8_t blob_buf[16u * 1024u];
static struct {
  uint32_t id;   /* 0: none */
  uint32_t len;  /* 0: the compiler rejected the trace */
} done;

/* The host's compiler: intercepted by bench_cortexm (returns the blob's length in out, or 0). */
__attribute__((noinline)) uint32_t fj_bench_compile(const uint8_t *trace, uint32_t len, uint8_t *out, uint32_t cap) {
  __asm__ volatile("" : : "r"(trace), "r"(len), "r"(out), "r"(cap) : "memory");
  return 0;
}

static int bx_alloc(void *ud, size_t size, void **rw, void **rx) {
  (void)ud;
  if (size > sizeof code_mem) return FJ_ENOMEM;
  *rw = *rx = code_mem;
  return 0;
}
static void bx_free(void *ud, void *rw, void *rx, size_t size) { (void)ud, (void)rw, (void)rx, (void)size; }
static void bx_flush(void *ud, void *rx, size_t size) {
  (void)ud, (void)rx, (void)size;
  fj_thm_code_barrier();
}

static int bt_submit(void *ud, const fj_jit_request *rq) {
  (void)ud;
  if (done.id) return FJ_EBUSY;
  done.id = rq->id;
  done.len = fj_bench_compile(rq->trace, (uint32_t)rq->trace_len, blob_buf, sizeof blob_buf);
  return 0;
}
static int bt_poll(void *ud, fj_jit_result *res) {
  (void)ud;
  if (!done.id) return 0;
  memset(res, 0, sizeof *res);
  res->id = done.id;
  res->status = done.len ? 0 : FJ_ECOMPILE;
  res->blob = blob_buf;
  res->blob_len = done.len;
  return 1;
}
static void bt_release(void *ud, fj_jit_result *res) { (void)ud, (void)res, done.id = 0; }
static int bt_wait(void *ud, uint32_t id, uint32_t ms) {
  (void)ud, (void)ms;
  return id == 0 || done.id == id;
}

/* Attach a fresh runtime to the VM of the last setup (not measured). */
int32_t fj_bench_jit_attach(void) {
  if (!vm) return FJ_EINVAL;
  if (jit) fj_jit_destroy(jit);
  fj_jit_config c = fj_replay_config(8);
  fj_jit_env env;
  memset(&env, 0, sizeof env);
  env.exec = (fj_jit_exec_ops){bx_alloc, NULL, bx_free, bx_flush, NULL};
  env.transport = (fj_jit_transport){bt_submit, bt_poll, bt_release, NULL, NULL, bt_wait, NULL};
  int err = 0;
  done.id = 0;
  jit = fj_jit_create(vm, &c, &env, &err);
  return jit ? 0 : err;
}

uint64_t fj_bench_jit(void) {
  uint64_t r0 = 0;
  fj_vm_reset_stats(vm);
  status = jit ? fj_vm_run(vm, entry, input, input_len, &r0) : FJ_EINVAL;
  return r0;
}

/* 0: traces installed, 1: bytes of machine code installed, 2: eBPF insns run natively (last
 * run), 3: eBPF insns interpreted (last run), 4: traces recorded, 5: recordings aborted,
 * 6: hot events, 7: trace entries (4-7 since attach). */
/* The runtime's text report (fj_jit_stats_format: counters, then every trace with its exits'
 * counters), NUL-terminated, for bench_cortexm --jit-stats: its address in the image. */
static char jit_report[8192];
uint32_t fj_bench_jit_report(void) {
  jit_report[0] = 0;
  if (jit) fj_jit_stats_format(jit, jit_report, sizeof jit_report);
  return (uint32_t)(uintptr_t)jit_report;
}

uint32_t fj_bench_jit_stat(uint32_t which) {
  fj_jit_stats js;
  fj_vm_stats vs;
  if (!jit) return 0;
  fj_jit_get_stats(jit, &js);
  fj_vm_get_stats(vm, &vs);
  switch (which) {
  case 0: return (uint32_t)js.traces_installed;
  case 1: return (uint32_t)js.code_bytes;
  case 2: return (uint32_t)vs.insns_native;
  case 3: return (uint32_t)vs.insns_interp;
  case 4: return (uint32_t)js.traces_recorded;
  case 5: return (uint32_t)js.traces_aborted;
  case 6: return (uint32_t)js.hot_events;
  default: return (uint32_t)js.trace_entries;
  }
}
#endif

/* Load example idx's eBPF object (elf) into a fresh VM and use len bytes of input. */
int32_t fj_bench_setup(uint32_t idx, const void *elf, uint32_t elf_len, uint32_t len) {
  if (!platform.mem.alloc) {
    fj_arena_init(&arena, arena_mem, sizeof arena_mem);
    platform.mem = (fj_allocator){fj_arena_alloc, fj_arena_free_block, &arena};
  }
#ifdef FJ_BENCH_JIT
  if (jit) fj_jit_destroy(jit);
  jit = NULL;
#endif
  if (vm) fj_vm_destroy(vm);
  vm = NULL;
  if (idx >= fj_nexamples || len > BENCH_MEM) return FJ_EINVAL;
  example = &fj_examples[idx];
  input_len = len;
  if (!(vm = fj_vm_create(&platform))) return FJ_ENOMEM;
  int rc = fj_vm_register_std_helpers(vm);
  if (rc >= 0) rc = fj_vm_load_elf(vm, elf, elf_len);
  if (rc >= 0) rc = fj_vm_find_entry(vm, "fj_main");
  if (rc < 0) return rc;
  entry = (uint32_t)rc;
  return 0;
}

/* A fresh copy of the input before every measured run (sort works in place). */
int32_t fj_bench_reset_input(void) {
  if (!example) return FJ_EINVAL;
  fj_example_input(example, input, input_len);
  return 0;
}

uint64_t fj_bench_interp(void) {
  uint64_t r0 = 0;
  fj_vm_reset_stats(vm);
  status = fj_vm_run(vm, entry, input, input_len, &r0);
  return r0;
}

uint64_t fj_bench_native(void) {
  status = 0;
  return example->native(input, input_len);
}

int32_t fj_bench_status(void) { return status; }

uint32_t fj_bench_ebpf_insns(void) {
  fj_vm_stats st;
  fj_vm_get_stats(vm, &st);
  return (uint32_t)st.insns_interp;
}
