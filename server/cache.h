/* farjitd — the compile cache, content-addressed by fj_cache_key().
 *
 * Memory part: an LRU of blobs bounded by bytes (blob sizes + per-entry overhead).  It is used
 * from one thread only (the loop); entries returned by fj_cache_get stay valid until the next
 * fj_cache_put/fj_cache_free on that cache.  Only successful compiles are cached.
 *
 * Disk part (optional): one file per key, written to a temporary name and renamed, so readers
 * never see a partial file.  A file is trusted only after its magic, key, length and the
 * SHA-256 of its blob all check; otherwise it is treated as a miss (and removed).  The disk
 * functions touch no shared state and may run on any thread (workers use them).
 */
#ifndef FARJIT_SERVER_CACHE_H
#define FARJIT_SERVER_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "farjit/codegen.h"

typedef struct fj_cache fj_cache;

typedef struct fj_cache_entry {
  uint8_t key[32];
  uint8_t *blob;
  size_t size;
  fj_codegen_stats stats;
} fj_cache_entry;

/* SHA-256 over a domain tag, FJ_COMPILER_VERSION, target, options and the trace bytes. */
void fj_cache_key(uint8_t key[32], const void *trace, size_t len, int target,
                  const fj_codegen_opts *opts);

fj_cache *fj_cache_new(size_t max_bytes);
void fj_cache_free(fj_cache *c);
/* Change the bound (evicts as needed). */
void fj_cache_set_limit(fj_cache *c, size_t max_bytes);
/* NULL on a miss; a hit becomes the most recently used. */
const fj_cache_entry *fj_cache_get(fj_cache *c, const uint8_t key[32]);
/* Copies blob.  Entries larger than the whole bound are not kept.  0 or FJ_ENOMEM. */
int fj_cache_put(fj_cache *c, const uint8_t key[32], const void *blob, size_t size,
                 const fj_codegen_stats *stats);
size_t fj_cache_bytes(const fj_cache *c);
uint32_t fj_cache_count(const fj_cache *c);

/* Disk store in dir.  load: 0 and a malloc'd *blob, or FJ_ENOENT (absent or failed
 * verification).  store: 0 or FJ_EIO. */
int fj_cache_disk_load(const char *dir, const uint8_t key[32], uint8_t **blob, size_t *size,
                       fj_codegen_stats *stats);
int fj_cache_disk_store(const char *dir, const uint8_t key[32], const void *blob, size_t size,
                        const fj_codegen_stats *stats);

#endif
