/* farjitd — the compile cache (see cache.h). */
#include "server/cache.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/sha256.h>

#include "farjit/blob.h"
#include "farjit/error.h"

typedef struct node {
  fj_cache_entry e;
  struct node *prev, *next;   /* LRU list, most recent first */
  struct node *chain;         /* hash bucket */
} node;

struct fj_cache {
  node **tab;
  size_t nbuckets;
  node *head, *tail;
  size_t bytes, max;
  uint32_t count;
};

#define NODE_OVERHEAD (sizeof(node) + 32)

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

void fj_cache_key(uint8_t key[32], const void *trace, size_t len, int target,
                  const fj_codegen_opts *opts) {
  static const char tag[] = "farjit-compile-cache\n";
  uint8_t w[16];
  put32(w, FJ_COMPILER_VERSION);
  put32(w + 4, (uint32_t)target);
  put32(w + 8, opts ? opts->flags : 0);
  put32(w + 12, opts ? opts->max_recs : 0);
  mbedtls_sha256_context s;
  mbedtls_sha256_init(&s);
  mbedtls_sha256_starts_ret(&s, 0);
  mbedtls_sha256_update_ret(&s, (const uint8_t *)tag, sizeof tag - 1);
  mbedtls_sha256_update_ret(&s, w, sizeof w);
  mbedtls_sha256_update_ret(&s, trace, len);
  mbedtls_sha256_finish_ret(&s, key);
  mbedtls_sha256_free(&s);
}

static size_t bucket(const fj_cache *c, const uint8_t key[32]) {
  uint64_t h;
  memcpy(&h, key, 8);  /* already a cryptographic hash */
  return (size_t)(h % c->nbuckets);
}

fj_cache *fj_cache_new(size_t max_bytes) {
  fj_cache *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->nbuckets = 4093;
  c->tab = calloc(c->nbuckets, sizeof *c->tab);
  if (!c->tab) {
    free(c);
    return NULL;
  }
  c->max = max_bytes;
  return c;
}

static void unlink_lru(fj_cache *c, node *n) {
  if (n->prev) n->prev->next = n->next; else c->head = n->next;
  if (n->next) n->next->prev = n->prev; else c->tail = n->prev;
  n->prev = n->next = NULL;
}

static void push_front(fj_cache *c, node *n) {
  n->next = c->head;
  n->prev = NULL;
  if (c->head) c->head->prev = n; else c->tail = n;
  c->head = n;
}

static void drop(fj_cache *c, node *n) {
  node **pp = &c->tab[bucket(c, n->e.key)];
  while (*pp != n) pp = &(*pp)->chain;
  *pp = n->chain;
  unlink_lru(c, n);
  c->bytes -= n->e.size + NODE_OVERHEAD;
  c->count--;
  free(n->e.blob);
  free(n);
}

static void evict(fj_cache *c) {
  while (c->bytes > c->max && c->tail) drop(c, c->tail);
}

void fj_cache_set_limit(fj_cache *c, size_t max_bytes) {
  c->max = max_bytes;
  evict(c);
}

void fj_cache_free(fj_cache *c) {
  if (!c) return;
  while (c->head) drop(c, c->head);
  free(c->tab);
  free(c);
}

const fj_cache_entry *fj_cache_get(fj_cache *c, const uint8_t key[32]) {
  for (node *n = c->tab[bucket(c, key)]; n; n = n->chain) {
    if (memcmp(n->e.key, key, 32) == 0) {
      unlink_lru(c, n);
      push_front(c, n);
      return &n->e;
    }
  }
  return NULL;
}

int fj_cache_put(fj_cache *c, const uint8_t key[32], const void *blob, size_t size,
                 const fj_codegen_stats *stats) {
  if (size + NODE_OVERHEAD > c->max) return 0;
  for (node *n = c->tab[bucket(c, key)]; n; n = n->chain)
    if (memcmp(n->e.key, key, 32) == 0) return 0;  /* same key = same content */
  node *n = calloc(1, sizeof *n);
  uint8_t *copy = malloc(size ? size : 1);
  if (!n || !copy) {
    free(n);
    free(copy);
    return FJ_ENOMEM;
  }
  memcpy(copy, blob, size);
  memcpy(n->e.key, key, 32);
  n->e.blob = copy;
  n->e.size = size;
  if (stats) n->e.stats = *stats;
  size_t b = bucket(c, key);
  n->chain = c->tab[b];
  c->tab[b] = n;
  push_front(c, n);
  c->bytes += size + NODE_OVERHEAD;
  c->count++;
  evict(c);
  return 0;
}

size_t fj_cache_bytes(const fj_cache *c) { return c->bytes; }
uint32_t fj_cache_count(const fj_cache *c) { return c->count; }

/* Disk file: "FJCE" u32 version, key[32], u64 size, stats (6 x u32), sha256(blob)[32], blob. */
#define DISK_MAGIC "FJCE"
#define DISK_VERSION 1u
#define DISK_HDR (4 + 4 + 32 + 8 + 24 + 32)

static void disk_path(char *out, size_t n, const char *dir, const uint8_t key[32]) {
  char hex[65];
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", key[i]);
  snprintf(out, n, "%s/%s.blob", dir, hex);
}

static void stats_words(uint32_t w[6], const fj_codegen_stats *s) {
  w[0] = s->nrecs; w[1] = s->ir_before; w[2] = s->ir_after;
  w[3] = s->nexits; w[4] = s->nspills; w[5] = s->code_size;
}

int fj_cache_disk_load(const char *dir, const uint8_t key[32], uint8_t **blob, size_t *size,
                       fj_codegen_stats *stats) {
  char path[4200];
  disk_path(path, sizeof path, dir, key);
  FILE *f = fopen(path, "rb");
  if (!f) return FJ_ENOENT;
  uint8_t h[DISK_HDR], sum[32];
  uint8_t *b = NULL;
  uint64_t sz = 0;
  int ok = fread(h, 1, sizeof h, f) == sizeof h && memcmp(h, DISK_MAGIC, 4) == 0 &&
           h[4] == DISK_VERSION && !h[5] && !h[6] && !h[7] && memcmp(h + 8, key, 32) == 0;
  if (ok) {
    for (int i = 0; i < 8; i++) sz |= (uint64_t)h[40 + i] << (8 * i);
    ok = sz > 0 && sz <= FJ_BLOB_MAX_SIZE && (b = malloc(sz)) != NULL &&
         fread(b, 1, sz, f) == sz && fgetc(f) == EOF;
  }
  fclose(f);
  if (ok) {
    mbedtls_sha256_ret(b, sz, sum, 0);
    ok = memcmp(sum, h + 72, 32) == 0;
  }
  if (!ok) {
    free(b);
    unlink(path);  /* corrupt or foreign: recompile and rewrite */
    return FJ_ENOENT;
  }
  uint32_t w[6];
  for (int i = 0; i < 6; i++)
    w[i] = (uint32_t)h[48 + 4 * i] | (uint32_t)h[49 + 4 * i] << 8 |
           (uint32_t)h[50 + 4 * i] << 16 | (uint32_t)h[51 + 4 * i] << 24;
  memset(stats, 0, sizeof *stats);
  stats->nrecs = w[0]; stats->ir_before = w[1]; stats->ir_after = w[2];
  stats->nexits = w[3]; stats->nspills = w[4]; stats->code_size = w[5];
  *blob = b;
  *size = (size_t)sz;
  return 0;
}

int fj_cache_disk_store(const char *dir, const uint8_t key[32], const void *blob, size_t size,
                        const fj_codegen_stats *stats) {
  char path[4200], tmp[4300];
  disk_path(path, sizeof path, dir, key);
  static unsigned long seq;  /* distinct temp names per thread and call */
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%lu", path, (long)getpid(),
           __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
  uint8_t h[DISK_HDR];
  memset(h, 0, sizeof h);
  memcpy(h, DISK_MAGIC, 4);
  h[4] = DISK_VERSION;
  memcpy(h + 8, key, 32);
  for (int i = 0; i < 8; i++) h[40 + i] = (uint8_t)((uint64_t)size >> (8 * i));
  uint32_t w[6];
  stats_words(w, stats);
  for (int i = 0; i < 6; i++) put32(h + 48 + 4 * i, w[i]);
  mbedtls_sha256_ret(blob, size, h + 72, 0);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return FJ_EIO;
  int ok = write(fd, h, sizeof h) == (ssize_t)sizeof h && write(fd, blob, size) == (ssize_t)size;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    unlink(tmp);
    return FJ_EIO;
  }
  return 0;
}
