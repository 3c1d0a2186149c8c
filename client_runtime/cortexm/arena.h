/* farjit — Cortex-M platform layer: a fixed-arena allocator (bump pointer + free list).
 *
 * The device has no heap, so the VM's fj_allocator is served from one static byte array.
 * Every block is a multiple of FJ_ARENA_GRAIN (16) bytes at a 16-aligned address, so any
 * alignment the VM may ask for (a power of two <= 16, farjit/vm.h) is met without padding and
 * without a per-block header: fj_allocator.free passes the size back.  New memory comes from a
 * bump pointer; freed blocks go to an address-ordered free list that coalesces neighbours and
 * gives its last block back to the bump pointer, so a VM created and destroyed leaves the arena
 * exactly as it found it.  First fit from the free list, then the bump pointer.
 *
 * Accounting for tests: bytes in use now and at peak (reset with fj_arena_reset_peak), failed
 * allocations, and frees that cannot be right (outside the arena, misaligned, overlapping free
 * memory: a caller passing the wrong size).  Bad frees are counted and ignored, never applied.
 * Failure injection: a non-zero fail_countdown counts allocations down and refuses the one that
 * brings it to zero (out-of-memory paths of the caller, exercised one allocation at a time).
 * Not thread-safe (the device runs one VM at a time); freestanding, no libc.
 */
#ifndef FJ_CORTEXM_ARENA_H
#define FJ_CORTEXM_ARENA_H

#include <stddef.h>
#include <stdint.h>

enum { FJ_ARENA_GRAIN = 16 };

typedef struct fj_arena_free fj_arena_free;

typedef struct fj_arena {
  uint8_t *base;        /* 16-aligned start */
  size_t size;          /* usable bytes (multiple of FJ_ARENA_GRAIN) */
  size_t top;           /* bump pointer: offset of the first never-used byte */
  fj_arena_free *free;  /* freed blocks below top, ascending addresses, coalesced */
  size_t used;          /* bytes handed out and not freed */
  size_t peak;          /* max of used since init / reset_peak */
  uint32_t fails;       /* allocations refused */
  uint32_t bad_frees;   /* frees ignored because they cannot be right */
  uint32_t fail_countdown; /* test hook: 0 = off; the allocation taking it to 0 fails */
} fj_arena;

/* Use [mem, mem + size) (trimmed to 16-byte alignment). */
void fj_arena_init(fj_arena *a, void *mem, size_t size);
/* fj_allocator callbacks: ud is the fj_arena. */
void *fj_arena_alloc(void *ud, size_t size, size_t align);
void fj_arena_free_block(void *ud, void *ptr, size_t size);
void fj_arena_reset_peak(fj_arena *a);

#endif /* FJ_CORTEXM_ARENA_H */
