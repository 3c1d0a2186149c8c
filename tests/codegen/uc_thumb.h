/* Test harness: run Thumb-2 blobs as a Cortex-M4 in Unicorn.
 *
 * Guest memory map (32-bit addresses):
 *   FJ_UCT_CODE   blobs, loaded one after another (each at a 16-byte boundary), then veneers
 *   FJ_UCT_STACK  the native stack the code runs on
 *   FJ_UCT_RT     runtime page: served stubs (each a `bx lr` whose effect a code hook performs)
 *                 and, when available, the client runtime built with arm-none-eabi-gcc
 *                 (client_runtime/thumb/: fj_arch_enter, the FJ_RT_CALL trampoline, the deopt
 *                 stub, 64-bit division), linked at FJ_UCT_RT + 0x8000
 *   FJ_UCT_FAR    helper stubs placed > 16 MiB from the code (FJ_UCT_FAR_HELPERS): BL and B.W
 *                 relocations to them go through veneers, as the client linker does
 *   FJ_UCT_ARENA  memory shared with the host at the *same* address (mmap'd there), so eBPF
 *                 pointers, the fj_jit_state and region tables mean the same on both sides and
 *                 the host interpreter can run on the very memory the guest code uses.
 *
 * Helpers are served by the test's callback (arguments read per AAPCS: r1 in r0:r1, r2 in r2:r3,
 * r3..r5 and vm on the stack); FJ_RT_CALL_LOCAL by another callback.  FJ_RT_CALL and the
 * division routines run the compiled client runtime when it was built in (FJ_UCT_RT_BIN);
 * otherwise (or with FJ_UCT_HOOK_RT) hooks serve them: division with the same results, and a
 * trampoline that keeps st->call_ret and returns through it but hands no budget to a VM.
 * Blobs are validated and linked by the client's own code (blob_check.c, link.c).  A code hook
 * counts the instructions executed inside loaded blobs.  Host test code: malloc, one harness
 * per process (the arena is a fixed address).
 */
#ifndef FJ_TESTS_UC_THUMB_H
#define FJ_TESTS_UC_THUMB_H

#include <stddef.h>
#include <stdint.h>

#include "farjit/vm.h"

#define FJ_UCT_CODE       0x10000000u
#define FJ_UCT_CODE_SIZE  (8u << 20)
#define FJ_UCT_STACK      0x20000000u
#define FJ_UCT_STACK_SIZE (256u << 10)
#define FJ_UCT_RT         0x30000000u
#define FJ_UCT_RT_SIZE    (64u << 10)
#define FJ_UCT_FAR        0x38000000u
#define FJ_UCT_ARENA      0x40000000u
#define FJ_UCT_ARENA_SIZE (32u << 20)

enum {
  FJ_UCT_FAR_HELPERS = 1u << 0, /* helpers out of BL range: exercise veneers */
  FJ_UCT_HOOK_RT = 1u << 1,     /* serve CALL and division by hooks even if the runtime is built */
};

typedef struct fj_uct fj_uct;

typedef struct fj_uct_hooks {
  /* helper id called with eBPF r1..r5 and the 6th argument (st->vm as the code passed it) */
  uint64_t (*helper)(void *ud, uint32_t id, const uint64_t args[5], uint32_t vm);
  /* FJ_RT_CALL_LOCAL(st, pc) */
  uint64_t (*call_local)(void *ud, uint32_t st, uint32_t pc);
  void *ud;
} fj_uct_hooks;

/* Per-run counters. */
typedef struct fj_uct_stats {
  uint64_t insns;         /* instructions executed in blob code */
  uint64_t rt_insns;      /* instructions executed in the compiled runtime */
  uint32_t helper_calls;  /* helpers served */
  uint32_t rt_calls;      /* FJ_RT_CALL entries */
  uint32_t div_calls;     /* FJ_RT_*DIV64 / *MOD64 entries */
  uint32_t local_calls;
} fj_uct_stats;

/* NULL (with a message on stderr) if Unicorn or the arena is unavailable. */
fj_uct *fj_uct_create(const fj_uct_hooks *hooks, unsigned flags);
void fj_uct_destroy(fj_uct *u);
/* Did the harness load the compiled client runtime (client_runtime/thumb/)? */
int fj_uct_has_rt(const fj_uct *u);

/* Arena memory: the returned pointer is also the guest address.  Freed all at once by reset. */
void *fj_uct_alloc(fj_uct *u, size_t size, size_t align);
void fj_uct_arena_reset(fj_uct *u);
/* An allocator drawing from the arena (for fj_platform.mem, so the VM lives there too). */
fj_allocator fj_uct_allocator(fj_uct *u);
static inline uint32_t fj_uct_addr(const void *p) { return (uint32_t)(uintptr_t)p; }

/* Load a blob as the client does: fj_blob_check, then the client linker (client_runtime/link.h:
 * relocations, veneers in an island after the code when out of range, TRACE sites bound to
 * traces loaded earlier with that start pc, else left as compiled).  Returns the code base
 * address (entry = base + entry_off), or 0 with a message in fj_uct_errmsg. */
uint32_t fj_uct_load(fj_uct *u, const uint8_t *blob, size_t len);
/* Forget every loaded blob (later ones still go to fresh addresses until the area wraps). */
void fj_uct_unload_all(fj_uct *u);
/* Retarget exit `exit_id` of the blob at `base` (its patch site) to code address `to`, with
 * the client's fj_link_exit_patch. */
int fj_uct_patch_exit(fj_uct *u, uint32_t base, uint32_t exit_id, uint32_t to);

/* Run the blob as uint32_t trace(fj_jit_state *st) with st at guest address st: through the
 * runtime's fj_arch_enter(st, entry, stop, left) when it is built in (stop/left: guest addresses
 * of vm->stop and vm->left, 0 for harness-owned words), else by calling the entry directly.
 * Returns 0 with *ret = the exit id, or -1 (fault, instruction limit) with a message. */
int fj_uct_run(fj_uct *u, uint32_t base, uint32_t st, uint32_t stop, uint32_t left, uint32_t *ret,
               uint64_t max_insns);
/* Call any guest function with up to 4 argument words in r0-r3; returns r0:r1 in *ret. */
int fj_uct_call(fj_uct *u, uint32_t fn, const uint32_t args[4], uint64_t *ret, uint64_t max_insns);

/* Address of a symbol of the compiled client runtime ("fj_rt_udiv64"), 0 if absent. */
uint32_t fj_uct_rt_sym(const fj_uct *u, const char *name);

const fj_uct_stats *fj_uct_last_stats(const fj_uct *u);
const char *fj_uct_errmsg(const fj_uct *u);

#endif /* FJ_TESTS_UC_THUMB_H */
