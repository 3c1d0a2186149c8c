/* farjit — the eBPF virtual machine (client side).
 *
 * A VM holds one loaded program (raw bytecode or an ELF object), a helper table and the memory
 * regions the program may touch.  fj_vm_run() interprets it; the client runtime (farjit/client.h)
 * adds hot-path recording and remote JIT on top of the same VM without changing these calls.
 *
 * Freestanding: the VM allocates only through the fj_platform it was created with and does no
 * I/O of its own, so the same code runs on Linux and as Cortex-M4 firmware.
 *
 * Ownership: the caller owns what it passes in (code, ELF image, memory buffers) only for the
 * duration of the call, except run memory, which must stay valid until fj_vm_run() returns.
 * The VM copies code and ELF sections it needs.  Errors: negative FJ_E* (farjit/error.h); the
 * VM also keeps a message naming the pc and the reason, read with fj_vm_errmsg().
 */
#ifndef FARJIT_VM_H
#define FARJIT_VM_H

#include <stddef.h>
#include <stdint.h>

#include "farjit/ebpf.h"
#include "farjit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fj_vm fj_vm;

/* Memory for the VM.  alloc returns NULL on failure; align is a power of two <= 16. */
typedef struct fj_allocator {
  void *(*alloc)(void *ud, size_t size, size_t align);
  void (*free)(void *ud, void *ptr, size_t size);
  void *ud;
} fj_allocator;

/* What the freestanding core needs from its host.  clock_ns and print may be NULL (the clock
 * helper then returns 0, the print helper discards). */
typedef struct fj_platform {
  fj_allocator mem;
  uint64_t (*clock_ns)(void *ud);                        /* monotonic nanoseconds */
  void (*print)(void *ud, const char *s, size_t len);    /* sink of the trace/print helper */
  void *ud;
} fj_platform;

/* Helpers take eBPF r1-r5 and the calling VM and return r0.  A helper may call back into the VM
 * (fj_vm_call), register memory it hands out (fj_vm_region_add) or stop the program
 * (fj_vm_unwind).  One signature for every helper keeps the JIT's call sequence uniform. */
typedef uint64_t (*fj_helper_fn)(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
                                 fj_vm *vm);

/* A range of memory the program may access.  Region 0 is the stack (all frames), region 1 the
 * memory passed to fj_vm_run(), then ELF data sections, then regions added at run time.
 * The layout is shared with compiled traces (farjit/jit.h), which bounds-check against it. */
typedef struct fj_region {
  uint64_t base;
  uint64_t size;
  uint32_t flags;  /* FJ_REGION_* */
  uint32_t _pad;
} fj_region;
_Static_assert(sizeof(fj_region) == 24, "fj_region is read by generated code");

enum {
  FJ_REGION_READ = 1u << 0,
  FJ_REGION_WRITE = 1u << 1,
  FJ_REGION_STACK = 0,      /* fixed indices */
  FJ_REGION_MEM = 1,
  FJ_MAX_REGIONS = 32,
};

typedef struct fj_vm_stats {
  uint64_t runs;            /* fj_vm_run() calls that started */
  uint64_t errors;          /* runs that ended in an error */
  uint64_t insns_interp;    /* eBPF instructions executed by the interpreter */
  uint64_t insns_native;    /* eBPF instructions executed as machine code (client runtime) */
  uint64_t helper_calls;
  uint64_t local_calls;
  uint64_t callbacks;       /* fj_vm_call() nested runs */
} fj_vm_stats;

/* Lifecycle. */
fj_vm *fj_vm_create(const fj_platform *pf);
void fj_vm_destroy(fj_vm *vm);

/* Helpers: id is the value of `call imm`.  Registering an id again replaces it. */
int fj_vm_register_helper(fj_vm *vm, uint32_t id, const char *name, fj_helper_fn fn);
/* The standard helper set (farjit/helpers.h lists ids and signatures). */
int fj_vm_register_std_helpers(fj_vm *vm);
/* Name of helper id, or NULL. */
const char *fj_vm_helper_name(const fj_vm *vm, uint32_t id);

/* Load a program, replacing any loaded one.  Validates before accepting: on error nothing
 * changes and fj_vm_errmsg() says which instruction is wrong and why.  Helpers referenced by the
 * program must be registered first. */
int fj_vm_load(fj_vm *vm, const void *code, size_t len);
/* The same for an ELF object (client_runtime/elf.h says what is accepted): data sections are
 * copied into VM-owned memory (regions 2..) and lddw relocations point into the copies. */
int fj_vm_load_elf(fj_vm *vm, const void *elf, size_t len);
/* Instruction index of a function by name (ELF symbol), or FJ_ENOENT.  Raw bytecode has one
 * function, "main", at pc 0.  The first program section is the default entry (pc returned by
 * fj_vm_default_entry). */
int fj_vm_find_entry(const fj_vm *vm, const char *name);
int fj_vm_default_entry(const fj_vm *vm);
/* The loaded (validated, relocated) instructions. */
const fj_insn *fj_vm_code(const fj_vm *vm, uint32_t *ninsns);

/* Run from entry_pc with r1 = mem, r2 = mem_len (mem becomes region 1, read-write; NULL/0 for
 * none) and r10 at the top of a fresh stack.  On success returns 0 and stores r0.  Stops with a
 * negative code on out-of-bounds access (FJ_EOOB), bad instruction, call depth (FJ_EDEPTH),
 * instruction budget (FJ_EBUDGET) or unknown callx helper (FJ_EHELPER).  FJ_ENOENT if entry_pc
 * is not an instruction; FJ_EBUSY if called while this VM is running (helpers use fj_vm_call). */
int fj_vm_run(fj_vm *vm, uint32_t entry_pc, void *mem, size_t mem_len, uint64_t *r0);

/* Message for the last failed call: "pc 7 (ldxw): memory access out of bounds: 4-byte read at
 * 0x7ffd... not in any region" (pc, mnemonic, fj_strerror text, detail; helper calls name the
 * helper: "pc 3 (call memcpy): ...").  Load errors name the pc and the rule broken.  Never NULL. */
const char *fj_vm_errmsg(const fj_vm *vm);
/* pc of the instruction that failed in the last run, or -1. */
int64_t fj_vm_error_pc(const fj_vm *vm);

/* Limits.  0 = unlimited instructions per run (the default is 1e9 so no program hangs a host). */
void fj_vm_set_insn_limit(fj_vm *vm, uint64_t max_insns);

/* Memory regions added while running (by helpers) or before a run (by the host).  Returns the
 * region index (>= 2) or a negative code (FJ_ENOSPC when all FJ_MAX_REGIONS are used).  Regions
 * added during a run are dropped when it ends.  Regions added by the host outside a run persist
 * across runs and loads; they follow the program's data sections, so their index shifts when a
 * program with a different number of data sections is loaded. */
int fj_vm_region_add(fj_vm *vm, void *base, size_t size, uint32_t flags);

/* From inside a helper: call local function func_pc with r1-r5 = args on the next stack frame,
 * as bpf_loop-style helpers do, and return its r0.  Nested runs share the call-depth limit. */
int fj_vm_call(fj_vm *vm, uint32_t func_pc, const uint64_t args[5], uint64_t *r0);
/* From inside a helper: stop the program once the helper returns; fj_vm_run() then succeeds with
 * r0 = the helper's return value. */
void fj_vm_unwind(fj_vm *vm);

void fj_vm_get_stats(const fj_vm *vm, fj_vm_stats *out);
void fj_vm_reset_stats(fj_vm *vm);

#ifdef __cplusplus
}
#endif
#endif /* FARJIT_VM_H */
