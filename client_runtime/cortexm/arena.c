/* farjit — Cortex-M platform layer: fixed-arena allocator (contract in arena.h). */
#include "client_runtime/cortexm/arena.h"

#include <stdbool.h>

/* Lives in the first bytes of a free block; a grain (16) always has room for it. */
struct fj_arena_free {
  size_t size;
  fj_arena_free *next;
};
_Static_assert(sizeof(fj_arena_free) <= FJ_ARENA_GRAIN, "a free-list node fits in one grain");

static size_t round_up(size_t n) { return (n + FJ_ARENA_GRAIN - 1) & ~(size_t)(FJ_ARENA_GRAIN - 1); }

void fj_arena_init(fj_arena *a, void *mem, size_t size) {
  uintptr_t p = (uintptr_t)mem;
  uintptr_t start = (p + FJ_ARENA_GRAIN - 1) & ~(uintptr_t)(FJ_ARENA_GRAIN - 1);
  size_t skip = (size_t)(start - p);
  a->base = (uint8_t *)start;
  a->size = size > skip ? (size - skip) & ~(size_t)(FJ_ARENA_GRAIN - 1) : 0;
  a->top = 0;
  a->free = NULL;
  a->used = a->peak = 0;
  a->fails = a->bad_frees = 0;
  a->fail_countdown = 0;
}

void fj_arena_reset_peak(fj_arena *a) { a->peak = a->used; }

static void *took(fj_arena *a, void *p, size_t n) {
  a->used += n;
  if (a->used > a->peak) a->peak = a->used;
  return p;
}

void *fj_arena_alloc(void *ud, size_t size, size_t align) {
  fj_arena *a = ud;
  bool injected = a->fail_countdown && --a->fail_countdown == 0;
  if (injected || align > FJ_ARENA_GRAIN || (align & (align - 1)) || size == 0 || size > a->size) {
    a->fails++;
    return NULL;
  }
  size_t n = round_up(size);
  for (fj_arena_free **pp = &a->free; *pp; pp = &(*pp)->next) {
    fj_arena_free *f = *pp;
    if (f->size < n) continue;
    if (f->size == n) {
      *pp = f->next;
    } else {  /* hand out the front, keep the tail in place of f */
      fj_arena_free *rest = (fj_arena_free *)((uint8_t *)f + n);
      rest->size = f->size - n;
      rest->next = f->next;
      *pp = rest;
    }
    return took(a, f, n);
  }
  if (a->size - a->top < n) {
    a->fails++;
    return NULL;
  }
  void *p = a->base + a->top;
  a->top += n;
  return took(a, p, n);
}

void fj_arena_free_block(void *ud, void *ptr, size_t size) {
  fj_arena *a = ud;
  if (!ptr) return;
  size_t n = round_up(size ? size : 1);
  uint8_t *p = ptr;
  /* Compare offsets, not pointers into different objects. */
  uintptr_t off = (uintptr_t)p - (uintptr_t)a->base;
  if ((uintptr_t)p < (uintptr_t)a->base || off % FJ_ARENA_GRAIN || off >= a->top ||
      n > a->top - off || n > a->used) {
    a->bad_frees++;
    return;
  }
  /* Find the neighbours in the address-ordered list; refuse any overlap (double free or a
   * wrong size). */
  fj_arena_free *prev = NULL, *next = a->free;
  while (next && (uint8_t *)next < p) prev = next, next = next->next;
  bool overlap_prev = prev && (uint8_t *)prev + prev->size > p;
  bool overlap_next = next && p + n > (uint8_t *)next;
  if (overlap_prev || overlap_next) {
    a->bad_frees++;
    return;
  }
  a->used -= n;
  fj_arena_free *f = (fj_arena_free *)p;
  f->size = n;
  f->next = next;
  if (next && p + n == (uint8_t *)next) {
    f->size += next->size;
    f->next = next->next;
  }
  if (prev && (uint8_t *)prev + prev->size == p) {
    prev->size += f->size;
    prev->next = f->next;
    f = prev;
  } else if (prev) {
    prev->next = f;
  } else {
    a->free = f;
  }
  /* The last free block, when it touches the bump pointer, goes back to it. */
  if (!f->next && (uint8_t *)f + f->size == a->base + a->top) {
    a->top -= f->size;
    fj_arena_free **pp = &a->free;
    while (*pp != f) pp = &(*pp)->next;
    *pp = NULL;
  }
}
