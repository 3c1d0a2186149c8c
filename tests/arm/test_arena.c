/* farjit tests — the Cortex-M platform's fixed-arena allocator (client_runtime/cortexm/arena.h),
 * on the host: alignment, reuse, coalescing, giving memory back to the bump pointer, exhaustion,
 * rejected frees, and a random alloc/free run against a shadow model with fill patterns. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client_runtime/cortexm/arena.h"

enum { ARENA = 4096 };
static _Alignas(16) uint8_t mem[ARENA + 16];

static fj_arena fresh(void) {
  fj_arena a;
  fj_arena_init(&a, mem, ARENA);
  return a;
}

static void test_alignment_and_accounting(void **state) {
  (void)state;
  fj_arena a = fresh();
  void *p = fj_arena_alloc(&a, 1, 1), *q = fj_arena_alloc(&a, 17, 8), *r = fj_arena_alloc(&a, 16, 16);
  assert_non_null(p);
  assert_non_null(q);
  assert_non_null(r);
  assert_int_equal((uintptr_t)p % 16, 0);
  assert_int_equal((uintptr_t)q % 16, 0);
  assert_int_equal((uintptr_t)r % 16, 0);
  assert_ptr_equal((uint8_t *)q, (uint8_t *)p + 16);  /* 1 byte takes one grain */
  assert_ptr_equal((uint8_t *)r, (uint8_t *)q + 32);  /* 17 bytes take two */
  assert_int_equal(a.used, 64);
  assert_int_equal(a.peak, 64);
  fj_arena_free_block(&a, q, 17);
  assert_int_equal(a.used, 32);
  assert_int_equal(a.peak, 64);
  fj_arena_reset_peak(&a);
  assert_int_equal(a.peak, 32);
  assert_null(fj_arena_alloc(&a, 16, 32));  /* alignment above the grain is refused */
  assert_null(fj_arena_alloc(&a, 0, 1));
  assert_int_equal(a.fails, 2);
  fj_arena_free_block(&a, p, 1);
  fj_arena_free_block(&a, r, 16);
  assert_int_equal(a.used, 0);
  assert_int_equal(a.top, 0);
  assert_null(a.free);
  assert_int_equal(a.bad_frees, 0);
}

static void test_reuse_and_coalesce(void **state) {
  (void)state;
  fj_arena a = fresh();
  uint8_t *b[4];
  for (int i = 0; i < 4; i++) assert_non_null(b[i] = fj_arena_alloc(&a, 32, 16));
  fj_arena_free_block(&a, b[1], 32);
  assert_ptr_equal(fj_arena_alloc(&a, 16, 16), b[1]);  /* first fit, split */
  assert_ptr_equal(fj_arena_alloc(&a, 16, 16), b[1] + 16);
  fj_arena_free_block(&a, b[1], 16);
  fj_arena_free_block(&a, b[1] + 16, 16);
  fj_arena_free_block(&a, b[2], 32);  /* coalesces with b[1]'s two halves: 64 bytes */
  size_t top = a.top;
  assert_ptr_equal(fj_arena_alloc(&a, 64, 16), b[1]);
  assert_int_equal(a.top, top);  /* came from the free list, not the bump pointer */
  fj_arena_free_block(&a, b[1], 64);
  fj_arena_free_block(&a, b[3], 32);  /* the tail block: everything above b[0] goes back */
  assert_int_equal(a.top, 32);
  assert_null(a.free);
  fj_arena_free_block(&a, b[0], 32);
  assert_int_equal(a.top, 0);
  assert_int_equal(a.used, 0);
  assert_int_equal(a.bad_frees, 0);
}

static void test_exhaustion(void **state) {
  (void)state;
  fj_arena a = fresh();
  assert_null(fj_arena_alloc(&a, ARENA + 1, 16));
  void *all = fj_arena_alloc(&a, ARENA, 16);
  assert_non_null(all);
  assert_null(fj_arena_alloc(&a, 1, 1));
  assert_int_equal(a.fails, 2);
  fj_arena_free_block(&a, all, ARENA);
  assert_non_null(fj_arena_alloc(&a, ARENA, 16));
}

static void test_bad_frees(void **state) {
  (void)state;
  fj_arena a = fresh();
  uint8_t *p = fj_arena_alloc(&a, 32, 16), *q = fj_arena_alloc(&a, 32, 16);
  assert_non_null(fj_arena_alloc(&a, 32, 16));  /* keeps q off the bump pointer */
  static uint8_t outside[32];
  fj_arena_free_block(&a, outside, 32);
  fj_arena_free_block(&a, p + 8, 16);  /* not on a grain */
  fj_arena_free_block(&a, p, 4096);    /* past the bump pointer */
  assert_int_equal(a.bad_frees, 3);
  assert_int_equal(a.used, 96);
  fj_arena_free_block(&a, q, 32);
  fj_arena_free_block(&a, q, 32);      /* double free */
  fj_arena_free_block(&a, p, 48);      /* wrong size: overlaps the free q */
  assert_int_equal(a.bad_frees, 5);
  assert_int_equal(a.used, 64);
  fj_arena_free_block(&a, NULL, 16);   /* NULL is ignored, not an error */
  assert_int_equal(a.bad_frees, 5);
}

static void test_fail_countdown(void **state) {
  (void)state;
  fj_arena a = fresh();
  a.fail_countdown = 3;
  assert_non_null(fj_arena_alloc(&a, 16, 16));
  assert_non_null(fj_arena_alloc(&a, 16, 16));
  assert_null(fj_arena_alloc(&a, 16, 16));  /* the third one */
  assert_int_equal(a.fails, 1);
  assert_int_equal(a.fail_countdown, 0);
  assert_non_null(fj_arena_alloc(&a, 16, 16));  /* one failure only */
  assert_int_equal(a.used, 48);
}

/* Random allocations and frees against a shadow list; every block carries a fill byte that
 * must survive until it is freed, so overlapping blocks would be caught. */
static void test_random_against_model(void **state) {
  (void)state;
  fj_arena a = fresh();
  enum { SLOTS = 64 };
  struct { uint8_t *p; size_t n; uint8_t fill; } s[SLOTS] = {{0}};
  uint64_t x = 0x9e3779b97f4a7c15ull;
  size_t live = 0;
  for (int step = 0; step < 20000; step++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    int k = (int)(x % SLOTS);
    if (s[k].p) {
      for (size_t i = 0; i < s[k].n; i++) assert_int_equal(s[k].p[i], s[k].fill);
      fj_arena_free_block(&a, s[k].p, s[k].n);
      live -= (s[k].n + 15) / 16 * 16;
      s[k].p = NULL;
    } else {
      size_t n = 1 + (size_t)(x >> 20) % 300;
      uint8_t *p = fj_arena_alloc(&a, n, (size_t)1 << ((x >> 40) % 5));
      if (!p) continue;
      assert_true(p >= a.base && p + n <= a.base + a.size);
      s[k].p = p, s[k].n = n, s[k].fill = (uint8_t)(step | 1);
      memset(p, s[k].fill, n);
      live += (n + 15) / 16 * 16;
    }
    assert_int_equal(a.used, live);
  }
  for (int k = 0; k < SLOTS; k++)
    if (s[k].p) fj_arena_free_block(&a, s[k].p, s[k].n);
  assert_int_equal(a.used, 0);
  assert_int_equal(a.top, 0);
  assert_null(a.free);
  assert_int_equal(a.bad_frees, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alignment_and_accounting),
      cmocka_unit_test(test_reuse_and_coalesce),
      cmocka_unit_test(test_exhaustion),
      cmocka_unit_test(test_bad_frees),
      cmocka_unit_test(test_fail_countdown),
      cmocka_unit_test(test_random_against_model),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
