/* Blob validation: a valid blob passes, and each broken rule is rejected with its own reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "client_runtime/blob_check.h"
#include "tests/client_runtime/blob_util.h"

static bool helper_known(const void *ud, uint32_t id) {
  (void)ud;
  return id == 5 || id == 7;
}

static fj_blob_expect expect(void) {
  fj_blob_expect e = {FJ_TARGET_X86_64, FJ_TRACE_LOOP, 3, 0, 0, 20, helper_known, NULL};
  return e;
}

/* A valid blob: movabs rax, helper 5; call [CALL trampoline]; a TRACE link; two exits. */
static bu_blob good(void) {
  bu_x86 a;
  memset(&a, 0, sizeof a);
  BX(&a, "\x48\xb8");  /* movabs rax, imm64 */
  bx_reloc(&a, a.n, FJ_RELOC_ABS64, FJ_SYM_HELPER, 5, 0);
  bx_u64(&a, 0);
  BX(&a, "\xe8");      /* call rel32 */
  bx_reloc(&a, a.n, FJ_RELOC_REL32, FJ_SYM_RUNTIME, FJ_RT_CALL, 0);
  bx_u32(&a, 0);
  uint32_t f0 = bx_exit(&a, 0, 7, FJ_EXIT_GUARD);
  uint32_t f1 = bx_exit(&a, 1, 3, FJ_EXIT_LINK);
  bx_reloc(&a, f1, FJ_RELOC_REL32, FJ_SYM_TRACE, 3, 0);
  uint32_t ret = a.n;
  BX(&a, "\xc3");
  bx_fix_jmp(&a, f0, ret);
  bx_fix_jmp(&a, f1, ret);
  return bx_blob(&a, 3, FJ_TRACE_LOOP);
}

static int check(bu_blob *b) {
  fj_blob_expect e = expect();
  fj_blob_view v;
  return fj_blob_check(b->p, b->len, &e, &v);
}

static fj_blob_reloc *reloc(bu_blob *b, uint32_t i) {
  return (fj_blob_reloc *)(void *)(b->p + b->h->reloc_off) + i;
}
static fj_blob_exit *exitr(bu_blob *b, uint32_t i) {
  return (fj_blob_exit *)(void *)(b->p + b->h->exit_off) + i;
}

static void test_accepts_valid(void **state) {
  (void)state;
  bu_blob b = good();
  fj_blob_expect e = expect();
  fj_blob_view v;
  assert_int_equal(fj_blob_check(b.p, b.len, &e, &v), FJ_BLOB_REJECT_OK);
  assert_int_equal(v.h.nrelocs, 3);
  assert_int_equal(v.h.nexits, 2);
  assert_ptr_equal(v.code, b.p + b.h->code_off);
  fj_blob_reloc r = fj_blob_reloc_at(&v, 2);
  assert_int_equal(r.sym, FJ_SYM_TRACE);
  fj_blob_exit x = fj_blob_exit_at(&v, 0);
  assert_int_equal(x.pc, 7);
  /* any alignment: the same bytes one byte off */
  uint8_t *odd = malloc(b.len + 1);
  memcpy(odd + 1, b.p, b.len);
  assert_int_equal(fj_blob_check(odd + 1, b.len, &e, &v), FJ_BLOB_REJECT_OK);
  free(odd);
  assert_string_equal(fj_blob_reject_name(FJ_BLOB_REJECT_CRC), "CRC");
  assert_string_equal(fj_blob_reject_text(FJ_BLOB_REJECT_CRC), "CRC-32 mismatch");
  bu_free(&b);
}

static void test_header_rules(void **state) {
  (void)state;
  fj_blob_expect e = expect();
  fj_blob_view v;
  bu_blob b = good();
  assert_int_equal(fj_blob_check(b.p, 50, &e, &v), FJ_BLOB_REJECT_TRUNCATED);
  assert_int_equal(fj_blob_check(b.p, b.len - 8, &e, &v), FJ_BLOB_REJECT_TRUNCATED);
  assert_int_equal(fj_blob_check(NULL, 0, &e, &v), FJ_BLOB_REJECT_TRUNCATED);
  uint8_t *longer = calloc(1, b.len + 8);
  memcpy(longer, b.p, b.len);
  assert_int_equal(fj_blob_check(longer, b.len + 8, &e, &v), FJ_BLOB_REJECT_SIZE);
  free(longer);
  bu_free(&b);

#define MUTATE(stmt, want)            \
  do {                                \
    bu_blob m = good();               \
    stmt;                             \
    bu_crc(&m);                       \
    assert_int_equal(check(&m), want); \
    bu_free(&m);                      \
  } while (0)
  MUTATE(m.h->magic ^= 1, FJ_BLOB_REJECT_MAGIC);
  MUTATE(m.h->version = 2, FJ_BLOB_REJECT_VERSION);
  MUTATE(m.h->target = FJ_TARGET_THUMBV7EM, FJ_BLOB_REJECT_TARGET);
  MUTATE(m.h->flags = 1, FJ_BLOB_REJECT_RESERVED);
  MUTATE(m.h->reserved = 1, FJ_BLOB_REJECT_RESERVED);
  MUTATE(m.h->code_off += 8, FJ_BLOB_REJECT_LAYOUT);                /* misaligned */
  MUTATE(m.h->code_size = m.h->size, FJ_BLOB_REJECT_LAYOUT);        /* past the end */
  MUTATE(m.h->code_size = 0, FJ_BLOB_REJECT_LAYOUT);
  MUTATE(m.h->reloc_off = m.h->code_off, FJ_BLOB_REJECT_LAYOUT);    /* overlaps code */
  MUTATE(m.h->exit_off = 0, FJ_BLOB_REJECT_LAYOUT);                 /* overlaps header */
  MUTATE(m.h->nexits = 100000, FJ_BLOB_REJECT_LAYOUT);
  MUTATE(m.h->meta_size = 4096, FJ_BLOB_REJECT_LAYOUT);
  MUTATE(m.h->entry_off = m.h->code_size, FJ_BLOB_REJECT_ENTRY);
  MUTATE(m.h->start_pc = 4, FJ_BLOB_REJECT_KIND);                   /* not what was asked */
  MUTATE(m.h->kind = FJ_TRACE_ENTRY, FJ_BLOB_REJECT_KIND);
  MUTATE(m.h->kind = 9, FJ_BLOB_REJECT_KIND);
  MUTATE(m.h->nexits = 0, FJ_BLOB_REJECT_NO_EXITS);

  /* CRC: a flipped code byte, with the header CRC left as it was */
  b = good();
  b.p[b.h->code_off + 3] ^= 0x40;
  assert_int_equal(check(&b), FJ_BLOB_REJECT_CRC);
  bu_free(&b);

  /* bridges must name the parent the client asked for */
  b = good();
  b.h->kind = FJ_TRACE_BRIDGE;
  b.h->parent_id = 4;
  b.h->parent_exit = 1;
  bu_crc(&b);
  e.kind = FJ_TRACE_BRIDGE;
  e.parent_id = 4;
  e.parent_exit = 1;
  assert_int_equal(fj_blob_check(b.p, b.len, &e, &v), FJ_BLOB_REJECT_OK);
  e.parent_exit = 2;
  assert_int_equal(fj_blob_check(b.p, b.len, &e, &v), FJ_BLOB_REJECT_KIND);
  bu_free(&b);
}

static void test_reloc_rules(void **state) {
  (void)state;
  MUTATE(reloc(&m, 0)->offset = m.h->code_size - 4, FJ_BLOB_REJECT_RELOC_RANGE);  /* 8-byte field */
  MUTATE(reloc(&m, 1)->offset = 0xfffffffe, FJ_BLOB_REJECT_RELOC_RANGE);
  MUTATE(reloc(&m, 0)->kind = 99, FJ_BLOB_REJECT_RELOC_KIND);
  MUTATE(reloc(&m, 1)->kind = FJ_RELOC_THM_CALL, FJ_BLOB_REJECT_RELOC_KIND);       /* wrong target */
  MUTATE(reloc(&m, 2)->kind = FJ_RELOC_ABS32, FJ_BLOB_REJECT_RELOC_KIND);          /* link not a branch */
  MUTATE(reloc(&m, 0)->sym = 0, FJ_BLOB_REJECT_RELOC_SYM);
  MUTATE(reloc(&m, 0)->sym = 4, FJ_BLOB_REJECT_RELOC_SYM);
  MUTATE(reloc(&m, 0)->target = 6, FJ_BLOB_REJECT_RELOC_SYM);                      /* unknown helper */
  MUTATE(reloc(&m, 1)->target = 0, FJ_BLOB_REJECT_RELOC_SYM);
  MUTATE(reloc(&m, 1)->target = FJ_RT__MAX + 1, FJ_BLOB_REJECT_RELOC_SYM);
  MUTATE(reloc(&m, 2)->target = 20, FJ_BLOB_REJECT_RELOC_SYM);                     /* pc >= ninsns */
  MUTATE(reloc(&m, 1)->flags = 1, FJ_BLOB_REJECT_RESERVED);
}

static void test_exit_rules(void **state) {
  (void)state;
  MUTATE(exitr(&m, 0)->patch_off = m.h->code_size, FJ_BLOB_REJECT_EXIT_RANGE);
  MUTATE(exitr(&m, 0)->patch_off += 1, FJ_BLOB_REJECT_EXIT_RANGE);                 /* unaligned */
  MUTATE(exitr(&m, 0)->patch_off = 0, FJ_BLOB_REJECT_EXIT_PATCH);                  /* not a jmp */
  MUTATE(exitr(&m, 0)->kind = 0, FJ_BLOB_REJECT_EXIT_BAD);
  MUTATE(exitr(&m, 0)->kind = 6, FJ_BLOB_REJECT_EXIT_BAD);
  MUTATE(exitr(&m, 1)->pc = 20, FJ_BLOB_REJECT_EXIT_BAD);
  MUTATE(exitr(&m, 1)->nframes = FJ_MAX_CALL_DEPTH, FJ_BLOB_REJECT_EXIT_BAD);
  MUTATE(exitr(&m, 1)->patch_off = FJ_BLOB_NO_PATCH, FJ_BLOB_REJECT_OK);           /* allowed */
}

static void test_thumb_rules(void **state) {
  (void)state;
  /* B.W at offset 4 (hw1 = 0xf000, hw2 = 0xb800), BL-reloc at 0 */
  const uint8_t code[8] = {0x00, 0xf0, 0x00, 0xf8, 0x00, 0xf0, 0x00, 0xb8};
  fj_blob_reloc rel = {0, FJ_RELOC_THM_CALL, FJ_SYM_RUNTIME, 0, FJ_RT_CALL, 0};
  fj_blob_exit ex = {1, 4, FJ_EXIT_STOP, 0, 0};
  bu_blob b = bu_make(FJ_TARGET_THUMBV7EM, code, 8, &rel, 1, &ex, 1, 3, FJ_TRACE_LOOP, NULL);
  fj_blob_expect e = expect();
  e.target = FJ_TARGET_THUMBV7EM;
  fj_blob_view v;
  assert_int_equal(fj_blob_check(b.p, b.len, &e, &v), FJ_BLOB_REJECT_OK);
  reloc(&b, 0)->kind = FJ_RELOC_ABS64;
  bu_crc(&b);
  assert_int_equal(fj_blob_check(b.p, b.len, &e, &v), FJ_BLOB_REJECT_RELOC_KIND);
  reloc(&b, 0)->kind = FJ_RELOC_THM_CALL;
  exitr(&b, 0)->patch_off = 0;  /* a BL is not a B.W */
  bu_crc(&b);
  assert_int_equal(fj_blob_check(b.p, b.len, &e, &v), FJ_BLOB_REJECT_EXIT_PATCH);
  bu_free(&b);
}

#include "client_runtime/link.h"

static uint64_t any_sym(void *ud, uint8_t sym, uint32_t id) {
  (void)ud, (void)sym;
  return 0x10000000u + id * 16u;
}
static uint64_t any_veneer(void *ud, uint64_t addr) {
  (void)ud, (void)addr;
  return 0x20000000u;
}

/* Random corruption with a fixed CRC (so that only the structural rules stand between the bytes
 * and the linker): whatever is accepted must link without touching memory outside the code
 * (ASan checks), and the view must describe only bytes inside the blob. */
static void test_corruption_loop(void **state) {
  (void)state;
  uint64_t x = 0x9e3779b97f4a7c15ull;
  int accepted = 0;
  for (int it = 0; it < 20000; it++) {
    bu_blob b = good();
    int flips = 1 + (int)(x % 4);
    for (int k = 0; k < flips; k++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      size_t at = (size_t)(x % b.len);
      uint8_t v = (uint8_t)(x >> 32);
      /* mostly the header and the tables, sometimes code */
      if ((x >> 40) % 4 == 0) at = (size_t)((x >> 8) % sizeof(fj_blob_header));
      b.p[at] = (x >> 48) % 2 ? v : (uint8_t)(b.p[at] ^ (1u << (v % 8)));
    }
    bu_crc(&b);
    fj_blob_expect e = expect();
    e.helper_known = NULL;
    fj_blob_view v;
    if (fj_blob_check(b.p, b.len, &e, &v) == FJ_BLOB_REJECT_OK) {
      accepted++;
      assert_true(v.code >= b.p && v.code + v.h.code_size <= b.p + b.len);
      assert_true(v.exits + (size_t)v.h.nexits * sizeof(fj_blob_exit) <= b.p + b.len);
      assert_true(v.relocs + (size_t)v.h.nrelocs * sizeof(fj_blob_reloc) <= b.p + b.len);
      uint8_t *code = malloc(v.h.code_size);
      memcpy(code, v.code, v.h.code_size);
      fj_link_site *sites = malloc(((size_t)v.h.nrelocs + 1) * sizeof *sites);
      uint32_t n = 0;
      fj_link_env env = {FJ_TARGET_X86_64, any_sym, any_veneer, NULL};
      (void)fj_link_relocate(&env, &v, code, 0x10001000u, sites, &n);
      for (uint32_t k = 0; k < n; k++) fj_link_site_set(FJ_TARGET_X86_64, code, 0x10001000u, &sites[k], 0x10002000u);
      for (uint32_t k = 0; k < v.h.nexits; k++) {
        fj_blob_exit ex = fj_blob_exit_at(&v, k);
        if (ex.patch_off != FJ_BLOB_NO_PATCH)
          assert_true(fj_link_exit_patch(FJ_TARGET_X86_64, code + ex.patch_off, 0x10001000u + ex.patch_off,
                                         0x10002000u) || ((uintptr_t)(code + ex.patch_off) & 3));
      }
      free(sites);
      free(code);
    }
    bu_free(&b);
  }
  assert_true(accepted > 0);  /* some corruptions are harmless (code bytes, addends) */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accepts_valid), cmocka_unit_test(test_header_rules),
      cmocka_unit_test(test_reloc_rules),   cmocka_unit_test(test_exit_rules),
      cmocka_unit_test(test_thumb_rules),
      cmocka_unit_test(test_corruption_loop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
