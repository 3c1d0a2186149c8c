/* Code cache: first-fit blocks in a bounded arena, trap fill on free, LRU choice, island slots,
 * and W^X checked in /proc/self/maps (RX except while writing; nested writes flip once). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client_runtime/codecache.h"
#include "farjit/client_linux.h"
#include "farjit/platform_linux.h"
#include "farjit/target.h"

/* "r-x" / "rw-" of the mapping holding p, from /proc/self/maps. */
static void perms_of(const void *p, char out[4]) {
  FILE *f = fopen("/proc/self/maps", "r");
  assert_non_null(f);
  char line[512];
  strcpy(out, "?");
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    char perm[5];
    if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perm) == 3 && (unsigned long)(uintptr_t)p >= lo &&
        (unsigned long)(uintptr_t)p < hi) {
      memcpy(out, perm, 3);
      out[3] = 0;
      break;
    }
  }
  fclose(f);
}

static int flushes;
static size_t flushed_bytes;
static void count_flush(void *ud, void *rx, size_t n) {
  (void)ud, (void)rx;
  flushes++;
  flushed_bytes += n;
}

static fj_codecache cc;

static void init(uint32_t size, uint32_t slots, uint32_t blocks) {
  fj_jit_exec_ops ops = fj_jit_linux_exec(FJ_JIT_EXEC_FLIP);
  ops.flush_icache = count_flush;
  assert_int_equal(fj_cc_init(&cc, &ops, &fj_platform_linux()->mem, FJ_TARGET_X86_64, size, slots, blocks), 0);
}

static void test_wx(void **state) {
  (void)state;
  init(8192, 4, 8);
  char p[4];
  perms_of(cc.rx, p);
  assert_string_equal(p, "r-x");
  flushes = 0;
  assert_int_equal(fj_cc_write_begin(&cc), 0);
  perms_of(cc.rx, p);
  assert_string_equal(p, "rw-");
  assert_int_equal(fj_cc_write_begin(&cc), 0);  /* nested: no change */
  uint32_t off;
  assert_int_equal(fj_cc_alloc(&cc, 40, &cc, &off), 0);
  memset(fj_cc_rw(&cc, off), 0x90, 40);
  fj_cc_dirty(&cc, off, 40);
  assert_int_equal(fj_cc_write_end(&cc), 0);
  perms_of(cc.rx, p);
  assert_string_equal(p, "rw-");
  assert_int_equal(flushes, 0);
  assert_int_equal(fj_cc_write_end(&cc), 0);
  perms_of(cc.rx, p);
  assert_string_equal(p, "r-x");
  assert_int_equal(flushes, 1);          /* once, over what was written */
  assert_int_equal(flushed_bytes, 40);
  assert_int_equal(cc.rx[off], 0x90);
  fj_cc_fini(&cc);
}

static void test_first_fit_and_free(void **state) {
  (void)state;
  init(8192, 4, 4);                      /* island 64 bytes, then 8128 for blocks */
  assert_int_equal(cc.size, 8192);
  int owners[5];
  uint32_t off[5];
  assert_int_equal(fj_cc_write_begin(&cc), 0);
  assert_int_equal(fj_cc_alloc(&cc, 2500, &owners[0], &off[0]), 0);
  assert_int_equal(off[0], cc.island_end);
  assert_int_equal(off[0] % 16, 0);
  assert_int_equal(fj_cc_alloc(&cc, 2500, &owners[1], &off[1]), 0);
  assert_int_equal(off[1], off[0] + 2512);  /* 16-aligned sizes */
  assert_int_equal(fj_cc_alloc(&cc, 2500, &owners[2], &off[2]), 0);
  assert_int_equal(fj_cc_alloc(&cc, 2000, &owners[3], &off[3]), FJ_ENOSPC);  /* 592 left */
  assert_int_equal(fj_cc_alloc(&cc, 500, &owners[3], &off[3]), 0);
  assert_int_equal(fj_cc_alloc(&cc, 16, &owners[4], &off[4]), FJ_ENOSPC);    /* no block entry */
  /* owners by address; the island and the end belong to nobody */
  assert_ptr_equal(fj_cc_owner_at(&cc, fj_cc_va(&cc, off[1]) + 2499), &owners[1]);
  assert_null(fj_cc_owner_at(&cc, fj_cc_va(&cc, 0)));
  assert_null(fj_cc_owner_at(&cc, fj_cc_va(&cc, 0) + cc.size));
  /* freeing the middle block leaves a gap that the next fit reuses, trap-filled */
  memset(fj_cc_rw(&cc, off[1]), 0x90, 2500);
  fj_cc_free(&cc, off[1]);
  assert_int_equal(fj_cc_rw(&cc, off[1])[0], 0xcc);
  assert_int_equal(fj_cc_rw(&cc, off[1])[2499], 0xcc);
  assert_null(fj_cc_owner_at(&cc, fj_cc_va(&cc, off[1])));
  uint32_t again;
  assert_int_equal(fj_cc_alloc(&cc, 1000, &owners[4], &again), 0);
  assert_int_equal(again, off[1]);
  assert_int_equal(fj_cc_write_end(&cc), 0);
  /* allocation needs a write window */
  assert_int_equal(fj_cc_alloc(&cc, 16, &owners[4], &again), FJ_EINVAL);
  fj_cc_fini(&cc);
}

static void test_coldest(void **state) {
  (void)state;
  init(8192, 0, 8);
  int a, b, c;
  uint32_t oa, ob, oc;
  fj_cc_write_begin(&cc);
  fj_cc_alloc(&cc, 64, &a, &oa);
  fj_cc_alloc(&cc, 64, &b, &ob);
  fj_cc_alloc(&cc, 64, &c, &oc);
  fj_cc_write_end(&cc);
  fj_cc_touch(&cc, oa, 5);
  fj_cc_touch(&cc, ob, 3);
  fj_cc_touch(&cc, oc, 9);
  assert_ptr_equal(fj_cc_coldest(&cc, NULL), &b);
  assert_ptr_equal(fj_cc_coldest(&cc, &b), &a);  /* keep excludes */
  fj_cc_touch(&cc, ob, 10);
  assert_ptr_equal(fj_cc_coldest(&cc, NULL), &a);
  fj_cc_fini(&cc);
}

static void test_island(void **state) {
  (void)state;
  init(8192, 2, 4);
  assert_int_equal(fj_cc_veneer(&cc, 0x1234), 0);  /* not writing */
  fj_cc_write_begin(&cc);
  uint64_t v1 = fj_cc_veneer(&cc, 0x1234), v2 = fj_cc_veneer(&cc, 0x5678);
  assert_int_equal(v1, fj_cc_va(&cc, 0));
  assert_int_equal(v2, fj_cc_va(&cc, 16));
  assert_int_equal(fj_cc_veneer(&cc, 0x1234), v1);  /* one slot per address */
  assert_int_equal(fj_cc_veneer(&cc, 0x9abc), 0);    /* full */
  fj_cc_write_end(&cc);
  assert_memory_equal(cc.rx, "\xff\x25\0\0\0\0\x34\x12\0\0\0\0\0\0", 14);
  fj_cc_fini(&cc);
}

int main(void) {
  if (fj_jit_host_target() != FJ_TARGET_X86_64) {
    printf("test_codecache: skipped (x86-64 layout checks)\n0 passed, 0 failed\n");
    return 0;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_wx),
      cmocka_unit_test(test_first_fit_and_free),
      cmocka_unit_test(test_coldest),
      cmocka_unit_test(test_island),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
