/* server/cache.c: keys, LRU order and byte bound, disk store verification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "farjit/error.h"
#include "server/cache.h"

static void key_of(uint8_t k[32], int n) {
  uint8_t t[4] = {(uint8_t)n, (uint8_t)(n >> 8), 1, 2};
  fj_cache_key(k, t, sizeof t, 1, NULL);
}

static void test_key_inputs(void **st) {
  (void)st;
  const char t[] = "trace bytes";
  uint8_t a[32], b[32];
  fj_codegen_opts o = {0, 0}, o2 = {FJ_CG_NO_OPT, 0};
  fj_cache_key(a, t, sizeof t, 1, &o);
  fj_cache_key(b, t, sizeof t, 1, NULL);
  assert_memory_equal(a, b, 32);           /* NULL opts == zero opts */
  fj_cache_key(b, t, sizeof t, 2, &o);
  assert_memory_not_equal(a, b, 32);       /* target matters */
  fj_cache_key(b, t, sizeof t, 1, &o2);
  assert_memory_not_equal(a, b, 32);       /* options matter */
  fj_cache_key(b, t, sizeof t - 1, 1, &o);
  assert_memory_not_equal(a, b, 32);       /* every trace byte matters */
}

static void test_lru_bound(void **st) {
  (void)st;
  uint8_t blob[1000];
  memset(blob, 0xab, sizeof blob);
  /* Room for about three 1000-byte entries with overhead. */
  fj_cache *c = fj_cache_new(3600);
  uint8_t k[8][32];
  for (int i = 0; i < 8; i++) key_of(k[i], i);
  fj_codegen_stats s = {1, 2, 3, 4, 5, 6};
  for (int i = 0; i < 3; i++) assert_int_equal(fj_cache_put(c, k[i], blob, sizeof blob, &s), 0);
  assert_int_equal(fj_cache_count(c), 3);
  assert_true(fj_cache_bytes(c) <= 3600);
  /* Touch 0 so that 1 is the least recently used, then add 3: 1 goes. */
  const fj_cache_entry *e = fj_cache_get(c, k[0]);
  assert_non_null(e);
  assert_int_equal(e->size, sizeof blob);
  assert_int_equal(e->stats.code_size, 6);
  assert_int_equal(fj_cache_put(c, k[3], blob, sizeof blob, &s), 0);
  assert_non_null(fj_cache_get(c, k[0]));
  assert_null(fj_cache_get(c, k[1]));
  assert_non_null(fj_cache_get(c, k[2]));
  assert_non_null(fj_cache_get(c, k[3]));
  /* An entry larger than the bound is not kept and evicts nothing. */
  uint8_t *big = calloc(1, 5000);
  assert_int_equal(fj_cache_put(c, k[4], big, 5000, &s), 0);
  assert_null(fj_cache_get(c, k[4]));
  assert_int_equal(fj_cache_count(c), 3);
  free(big);
  /* Lowering the bound evicts. */
  fj_cache_set_limit(c, 1200);
  assert_int_equal(fj_cache_count(c), 1);
  assert_non_null(fj_cache_get(c, k[3]));  /* the most recently used stays */
  fj_cache_set_limit(c, 0);
  assert_int_equal(fj_cache_count(c), 0);
  assert_int_equal(fj_cache_bytes(c), 0);
  fj_cache_free(c);
}

static void test_many_entries(void **st) {
  (void)st;
  fj_cache *c = fj_cache_new(1u << 30);
  uint8_t k[32], v[16];
  for (int i = 0; i < 20000; i++) {
    key_of(k, i);
    memcpy(v, &i, sizeof i);
    assert_int_equal(fj_cache_put(c, k, v, sizeof v, NULL), 0);
  }
  assert_int_equal(fj_cache_count(c), 20000);
  for (int i = 0; i < 20000; i += 7) {
    key_of(k, i);
    const fj_cache_entry *e = fj_cache_get(c, k);
    assert_non_null(e);
    assert_memory_equal(e->blob, &i, sizeof i);
  }
  fj_cache_free(c);
}

static void test_disk(void **st) {
  (void)st;
  char dir[] = "/tmp/fj_cache_test.XXXXXX";
  assert_non_null(mkdtemp(dir));
  uint8_t k[32], k2[32], *b = NULL;
  size_t n = 0;
  key_of(k, 1);
  key_of(k2, 2);
  fj_codegen_stats s = {10, 20, 30, 40, 50, 60}, out;
  assert_int_equal(fj_cache_disk_load(dir, k, &b, &n, &out), FJ_ENOENT);
  const char blob[] = "FJBL....pretend blob bytes";
  assert_int_equal(fj_cache_disk_store(dir, k, blob, sizeof blob, &s), 0);
  assert_int_equal(fj_cache_disk_load(dir, k, &b, &n, &out), 0);
  assert_int_equal(n, sizeof blob);
  assert_memory_equal(b, blob, n);
  assert_int_equal(out.ir_after, 30);
  free(b);
  assert_int_equal(fj_cache_disk_load(dir, k2, &b, &n, &out), FJ_ENOENT);
  /* Flip one byte of the stored blob: verification fails and the file is removed. */
  char path[300], hex[65];
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", k[i]);
  snprintf(path, sizeof path, "%s/%s.blob", dir, hex);
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  fseek(f, -3, SEEK_END);
  fputc('X', f);
  fclose(f);
  assert_int_equal(fj_cache_disk_load(dir, k, &b, &n, &out), FJ_ENOENT);
  struct stat sb;
  assert_int_not_equal(stat(path, &sb), 0);
  /* A file stored under another key's name is rejected too. */
  assert_int_equal(fj_cache_disk_store(dir, k2, blob, sizeof blob, &s), 0);
  char path2[300];
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", k2[i]);
  snprintf(path2, sizeof path2, "%s/%s.blob", dir, hex);
  assert_int_equal(rename(path2, path), 0);
  assert_int_equal(fj_cache_disk_load(dir, k, &b, &n, &out), FJ_ENOENT);
  /* Truncated file. */
  assert_int_equal(fj_cache_disk_store(dir, k, blob, sizeof blob, &s), 0);
  assert_int_equal(truncate(path, 50), 0);
  assert_int_equal(fj_cache_disk_load(dir, k, &b, &n, &out), FJ_ENOENT);
  assert_int_equal(rmdir(dir), 0);  /* nothing left behind: no temp files either */
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_key_inputs),
    cmocka_unit_test(test_lru_bound),
    cmocka_unit_test(test_many_entries),
    cmocka_unit_test(test_disk),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
