/* farjit — the code cache: one bounded arena of executable memory (client core, freestanding).
 *
 * The arena comes from the host (fj_jit_exec_ops) once, at creation, and is carved into:
 *   island   fixed slots at the start, one veneer each (a jump to a helper / runtime entry out of
 *            direct branch range of the code);
 *   blocks   one per installed trace, 16-aligned, first fit.  When no gap fits, the caller
 *            evicts a cold trace (fj_cc_coldest) and retries: the cache never grows.
 * W^X: the arena is RX except between fj_cc_write_begin/end (nestable); end flips it back and
 * flushes the icache over what was written.  Freed blocks are filled with trap instructions.
 * Every block has an owner pointer (the runtime's trace) and a last-use tick for eviction.
 * Nothing here knows about traces: the runtime does the linking and the unlinking.
 */
#ifndef FJ_CLIENT_CODECACHE_H
#define FJ_CLIENT_CODECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "farjit/client.h"

typedef struct fj_cc_block {
  uint32_t off;        /* from the arena start */
  uint32_t size;
  void *owner;
  uint64_t last_use;
} fj_cc_block;

typedef struct fj_codecache {
  fj_jit_exec_ops ops;
  fj_allocator mem;
  uint16_t target;
  uint8_t *rw;          /* writable view */
  uint8_t *rx;          /* executing view */
  uint32_t size;
  uint32_t island_end;  /* blocks start here */
  uint32_t nslots, slots_used, slot_size;
  uint64_t *slot_addr;  /* what each used slot jumps to */
  fj_cc_block *blocks;  /* sorted by off */
  uint32_t nblocks, max_blocks;
  uint32_t used;        /* bytes in blocks */
  uint32_t writing;     /* fj_cc_write_begin nesting */
  uint32_t dirty_lo, dirty_hi;
} fj_codecache;

/* size: arena bytes (rounded up to 4096); nslots: island slots; max_blocks: traces.  0 or an
 * FJ_E*.  The arena is left RX (when the host has protect). */
int fj_cc_init(fj_codecache *cc, const fj_jit_exec_ops *ops, const fj_allocator *mem,
               uint16_t target, uint32_t size, uint32_t nslots, uint32_t max_blocks);
void fj_cc_fini(fj_codecache *cc);

/* Make the arena writable (first call) / executable again (last call).  0 or FJ_EIO; after a
 * failed begin nothing may be written (the caller gives up on what it was doing). */
int fj_cc_write_begin(fj_codecache *cc);
int fj_cc_write_end(fj_codecache *cc);
/* Note bytes written (for the icache flush at write_end). */
void fj_cc_dirty(fj_codecache *cc, uint32_t off, uint32_t n);

/* A block of size bytes for owner: its offset, or FJ_ENOSPC (no gap or no block entry left).
 * Must be writing. */
int fj_cc_alloc(fj_codecache *cc, uint32_t size, void *owner, uint32_t *off);
/* Free the block at off (filled with traps).  Must be writing. */
void fj_cc_free(fj_codecache *cc, uint32_t off);

/* Owner of the block containing execution address va, or NULL. */
void *fj_cc_owner_at(const fj_codecache *cc, uint64_t va);
/* Mark the block at off used now (tick is any increasing counter). */
void fj_cc_touch(fj_codecache *cc, uint32_t off, uint64_t tick);
/* Owner of the least recently used block other than `keep`, or NULL. */
void *fj_cc_coldest(const fj_codecache *cc, const void *keep);

/* Execution address of the island slot jumping to addr (written on first use; must be writing
 * then), or 0 when the island is full. */
uint64_t fj_cc_veneer(fj_codecache *cc, uint64_t addr);

static inline uint64_t fj_cc_va(const fj_codecache *cc, uint32_t off) {
  return (uint64_t)(uintptr_t)(cc->rx + off);
}
static inline uint8_t *fj_cc_rw(const fj_codecache *cc, uint32_t off) { return cc->rw + off; }

#endif /* FJ_CLIENT_CODECACHE_H */
