/* farjit bench — the Cortex-M4 side of `make bench-cortexm` (bench/cortexm/README.md).
 *
 * Linked into a bare ELF image (the core, the fixed-arena allocator, the examples compiled
 * natively for the Cortex-M4 and examples/catalog.c) that bench_cortexm.c loads into Unicorn and
 * drives by calling the functions below; it counts Thumb instructions only inside the measured
 * calls (fj_bench_interp, fj_bench_native).  No startup code, clock or console: the host loads
 * the segments at their run addresses, sets sp and calls in.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "client_runtime/cortexm/arena.h"
#include "examples/catalog.h"
#include "farjit/vm.h"

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

/* Load example idx's eBPF object (elf) into a fresh VM and use len bytes of input. */
int32_t fj_bench_setup(uint32_t idx, const void *elf, uint32_t elf_len, uint32_t len) {
  if (!platform.mem.alloc) {
    fj_arena_init(&arena, arena_mem, sizeof arena_mem);
    platform.mem = (fj_allocator){fj_arena_alloc, fj_arena_free_block, &arena};
  }
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
