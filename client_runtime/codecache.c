/* farjit — the code cache (see codecache.h for the contract). */
#include "client_runtime/codecache.h"

#include <string.h>

#include "client_runtime/link.h"

enum { PAGE = 4096, BLOCK_ALIGN = 16 };

static uint32_t align_up(uint32_t v, uint32_t a) { return (v + a - 1) & ~(a - 1); }

int fj_cc_init(fj_codecache *cc, const fj_jit_exec_ops *ops, const fj_allocator *mem,
               uint16_t target, uint32_t size, uint32_t nslots, uint32_t max_blocks) {
  memset(cc, 0, sizeof *cc);
  if (!ops->alloc || !ops->free || !max_blocks || !fj_link_veneer_size(target)) return FJ_EINVAL;
  cc->ops = *ops;
  cc->mem = *mem;
  cc->target = target;
  cc->slot_size = fj_link_veneer_size(target);
  cc->nslots = nslots;
  cc->island_end = align_up(nslots * cc->slot_size, BLOCK_ALIGN);
  cc->size = align_up(size < cc->island_end + PAGE ? cc->island_end + PAGE : size, PAGE);
  cc->max_blocks = max_blocks;
  cc->blocks = mem->alloc(mem->ud, (size_t)max_blocks * sizeof *cc->blocks, 8);
  cc->slot_addr = nslots ? mem->alloc(mem->ud, (size_t)nslots * sizeof *cc->slot_addr, 8) : NULL;
  if (!cc->blocks || (nslots && !cc->slot_addr)) {
    fj_cc_fini(cc);
    return FJ_ENOMEM;
  }
  void *rw = NULL, *rx = NULL;
  int rc = ops->alloc(ops->ud, cc->size, &rw, &rx);
  if (rc < 0 || !rw || !rx) {
    fj_cc_fini(cc);
    return rc < 0 ? rc : FJ_ENOMEM;
  }
  cc->rw = rw;
  cc->rx = rx;
  fj_link_fill_trap(target, cc->rw, cc->size);
  if (cc->rw == cc->rx && cc->ops.protect && cc->ops.protect(cc->ops.ud, cc->rx, cc->size, false)) {
    fj_cc_fini(cc);
    return FJ_EIO;
  }
  return 0;
}

void fj_cc_fini(fj_codecache *cc) {
  if (cc->rw) cc->ops.free(cc->ops.ud, cc->rw, cc->rx, cc->size);
  if (cc->blocks) cc->mem.free(cc->mem.ud, cc->blocks, (size_t)cc->max_blocks * sizeof *cc->blocks);
  if (cc->slot_addr) cc->mem.free(cc->mem.ud, cc->slot_addr, (size_t)cc->nslots * sizeof *cc->slot_addr);
  memset(cc, 0, sizeof *cc);
}

static bool flips(const fj_codecache *cc) { return cc->rw == cc->rx && cc->ops.protect; }

int fj_cc_write_begin(fj_codecache *cc) {
  if (cc->writing++ == 0) {
    cc->dirty_lo = UINT32_MAX;
    cc->dirty_hi = 0;
    if (flips(cc) && cc->ops.protect(cc->ops.ud, cc->rx, cc->size, true)) {
      cc->writing--;
      return FJ_EIO;
    }
  }
  return 0;
}

int fj_cc_write_end(fj_codecache *cc) {
  if (cc->writing == 0 || --cc->writing) return 0;
  int rc = 0;
  if (flips(cc) && cc->ops.protect(cc->ops.ud, cc->rx, cc->size, false)) rc = FJ_EIO;
  if (cc->ops.flush_icache && cc->dirty_lo < cc->dirty_hi)
    cc->ops.flush_icache(cc->ops.ud, cc->rx + cc->dirty_lo, cc->dirty_hi - cc->dirty_lo);
  return rc;
}

void fj_cc_dirty(fj_codecache *cc, uint32_t off, uint32_t n) {
  if (off < cc->dirty_lo) cc->dirty_lo = off;
  if (off + n > cc->dirty_hi) cc->dirty_hi = off + n;
}

int fj_cc_alloc(fj_codecache *cc, uint32_t size, void *owner, uint32_t *off) {
  if (!cc->writing || !size) return FJ_EINVAL;
  size = align_up(size, BLOCK_ALIGN);
  if (cc->nblocks == cc->max_blocks) return FJ_ENOSPC;
  /* First fit over the gaps between sorted blocks. */
  uint32_t at = cc->island_end, i = 0;
  for (; i < cc->nblocks; i++) {
    if (cc->blocks[i].off - at >= size) break;
    at = cc->blocks[i].off + cc->blocks[i].size;
  }
  if (i == cc->nblocks && cc->size - at < size) return FJ_ENOSPC;
  memmove(&cc->blocks[i + 1], &cc->blocks[i], (cc->nblocks - i) * sizeof *cc->blocks);
  cc->blocks[i] = (fj_cc_block){at, size, owner, 0};
  cc->nblocks++;
  cc->used += size;
  *off = at;
  return 0;
}

static int find_block(const fj_codecache *cc, uint32_t off) {
  uint32_t lo = 0, hi = cc->nblocks;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    const fj_cc_block *b = &cc->blocks[mid];
    if (off < b->off) hi = mid;
    else if (off >= b->off + b->size) lo = mid + 1;
    else return (int)mid;
  }
  return -1;
}

void fj_cc_free(fj_codecache *cc, uint32_t off) {
  int i = find_block(cc, off);
  if (i < 0 || cc->blocks[i].off != off) return;
  fj_cc_block b = cc->blocks[i];
  fj_link_fill_trap(cc->target, cc->rw + b.off, b.size);
  fj_cc_dirty(cc, b.off, b.size);
  memmove(&cc->blocks[i], &cc->blocks[i + 1], (cc->nblocks - (uint32_t)i - 1) * sizeof *cc->blocks);
  cc->nblocks--;
  cc->used -= b.size;
}

void *fj_cc_owner_at(const fj_codecache *cc, uint64_t va) {
  uint64_t base = (uint64_t)(uintptr_t)cc->rx;
  if (va < base || va - base >= cc->size) return NULL;
  int i = find_block(cc, (uint32_t)(va - base));
  return i < 0 ? NULL : cc->blocks[i].owner;
}

void fj_cc_touch(fj_codecache *cc, uint32_t off, uint64_t tick) {
  int i = find_block(cc, off);
  if (i >= 0) cc->blocks[i].last_use = tick;
}

void *fj_cc_coldest(const fj_codecache *cc, const void *keep) {
  const fj_cc_block *best = NULL;
  for (uint32_t i = 0; i < cc->nblocks; i++) {
    const fj_cc_block *b = &cc->blocks[i];
    if (b->owner != keep && (!best || b->last_use < best->last_use)) best = b;
  }
  return best ? best->owner : NULL;
}

uint64_t fj_cc_veneer(fj_codecache *cc, uint64_t addr) {
  for (uint32_t i = 0; i < cc->slots_used; i++)
    if (cc->slot_addr[i] == addr) return fj_cc_va(cc, i * cc->slot_size);
  if (cc->slots_used == cc->nslots || !cc->writing) return 0;
  uint32_t i = cc->slots_used++;
  cc->slot_addr[i] = addr;
  fj_link_veneer_write(cc->target, cc->rw + i * cc->slot_size, fj_cc_va(cc, i * cc->slot_size), addr);
  fj_cc_dirty(cc, i * cc->slot_size, cc->slot_size);
  return fj_cc_va(cc, i * cc->slot_size);
}
