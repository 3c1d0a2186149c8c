/* Open-addressing hash table (linear probing, 2048 slots in .bss) over the input read as
 * 32-bit keys (at most 1536 of them, a 75% load): insert every key (counting duplicates), then
 * look each one up again plus a probe for a key derived from it that is usually absent.  Returns
 * (distinct << 40) | (hits << 20) | misses-of-derived-keys, so any wrong probe shows. */
#include "example.h"

#define SLOTS 2048u /* power of two; more than the keys of the default input */

static fj_u32 keys[SLOTS];
static fj_u8 used[SLOTS];

static fj_u32 hash32(fj_u32 x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

/* 1 if inserted, 0 if already there, -1 if the table is full */
static FJ_NOINLINE int ht_insert(fj_u32 k) {
  fj_u32 h = hash32(k) & (SLOTS - 1);
  for (fj_u32 n = 0; n < SLOTS; n++, h = (h + 1) & (SLOTS - 1)) {
    if (!used[h]) {
      used[h] = 1;
      keys[h] = k;
      return 1;
    }
    if (keys[h] == k) return 0;
  }
  return -1;
}

static FJ_NOINLINE int ht_find(fj_u32 k) {
  fj_u32 h = hash32(k) & (SLOTS - 1);
  for (fj_u32 n = 0; n < SLOTS; n++, h = (h + 1) & (SLOTS - 1)) {
    if (!used[h]) return 0;
    if (keys[h] == k) return 1;
  }
  return 0;
}

FJ_ENTRY fj_u64 fj_main(void *mem, fj_u64 len) {
  const fj_u32 *in = (const fj_u32 *)mem;
  fj_u64 n = len / 4, distinct = 0, hits = 0, misses = 0;
  if (n > SLOTS / 4 * 3) n = SLOTS / 4 * 3;
  fj_memset(used, 0, sizeof used); /* .bss keeps its contents between runs */
  for (fj_u64 i = 0; i < n; i++) {
    int r = ht_insert(in[i]);
    if (r < 0) return ~0ull;
    distinct += (fj_u64)r;
  }
  for (fj_u64 i = 0; i < n; i++) {
    hits += (fj_u64)ht_find(in[i]);
    misses += (fj_u64)!ht_find(in[i] ^ 0x5bd1e995u);
  }
  return distinct << 40 | hits << 20 | misses;
}
