/* Tests for codegen/blob_write.c and codegen/fixup.c: layout, header fields and CRC of written
 * blobs (accepted by the client's validator, client_runtime/blob_check.c), intra-blob label
 * fixups, symbol fixups turned into relocation records, TRACE sites keeping their local
 * branch, and the errors (unbound labels, out-of-code fields, oversized blobs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client_runtime/blob_check.h"
#include "codegen/blob_write.h"
#include "codegen/fixup.h"
#include "codegen/x86/emit_x86.h"
#include "farjit/codegen.h"
#include "farjit/crc32.h"
#include "farjit/error.h"

/* A small x86 body: jmp to a label, an exit stub with a patchable jmp, a helper call. */
static void build_code(fj_mcode *mc, uint32_t *patch_off) {
  uint32_t l_ret = fj_label_new(mc), l_stub = fj_label_new(mc);
  uint32_t at = fj_x86_jcc_rel32(mc, FJ_X86_CC_NE, 0);
  fj_fixup_label(mc, at, FJ_RELOC_REL32, l_stub);
  at = fj_x86_movabs(mc, FJ_X86_RAX, 0);
  fj_fixup_sym(mc, at, FJ_RELOC_ABS64, FJ_SYM_HELPER, 1000, 0);
  at = fj_x86_call_rel32(mc, 0);
  fj_fixup_sym(mc, at, FJ_RELOC_REL32, FJ_SYM_RUNTIME, FJ_RT_CALL, 0);
  fj_label_bind(mc, l_stub);
  fj_x86_mov_ri32(mc, FJ_X86_RAX, 0);
  fj_x86_align_jmp_field(mc);
  at = fj_x86_jmp_rel32(mc, 0);
  fj_fixup_trace(mc, at, FJ_RELOC_REL32, 7, l_ret);
  *patch_off = at;
  fj_label_bind(mc, l_ret);
  fj_x86_ret(mc);
}

static void test_fixups_and_relocs(void **state) {
  (void)state;
  fj_mcode mc;
  fj_mcode_init(&mc);
  uint32_t patch;
  build_code(&mc, &patch);
  fj_blob_reloc *rel;
  uint32_t nrel;
  char err[128];
  assert_int_equal(fj_fixup_apply(&mc, NULL, &rel, &nrel, err, sizeof err), 0);
  /* jne to the stub: rel32 = stub - end of jcc. */
  int32_t d;
  memcpy(&d, mc.p + 2, 4);
  assert_int_equal(6 + d, fj_label_offset(&mc, 1));
  /* The TRACE site initially branches to the local return. */
  memcpy(&d, mc.p + patch, 4);
  assert_int_equal(patch + 4 + (uint32_t)d, fj_label_offset(&mc, 0));
  assert_int_equal(patch % 4, 0);
  assert_int_equal(mc.p[patch - 1], 0xe9);
  /* Symbol fixups become relocations, in order. */
  assert_int_equal(nrel, 3);
  assert_int_equal(rel[0].kind, FJ_RELOC_ABS64);
  assert_int_equal(rel[0].sym, FJ_SYM_HELPER);
  assert_int_equal(rel[0].target, 1000);
  assert_int_equal(rel[1].kind, FJ_RELOC_REL32);
  assert_int_equal(rel[1].sym, FJ_SYM_RUNTIME);
  assert_int_equal(rel[1].target, FJ_RT_CALL);
  assert_int_equal(rel[2].sym, FJ_SYM_TRACE);
  assert_int_equal(rel[2].target, 7);
  assert_int_equal(rel[2].offset, patch);
  free(rel);
  fj_mcode_free(&mc);
}

static void test_fixup_errors(void **state) {
  (void)state;
  fj_mcode mc;
  fj_mcode_init(&mc);
  uint32_t l = fj_label_new(&mc);
  uint32_t at = fj_x86_jmp_rel32(&mc, 0);
  fj_fixup_label(&mc, at, FJ_RELOC_REL32, l);  /* never bound */
  fj_blob_reloc *rel;
  uint32_t nrel;
  char err[128];
  assert_int_equal(fj_fixup_apply(&mc, NULL, &rel, &nrel, err, sizeof err), FJ_ECOMPILE);
  assert_non_null(strstr(err, "never bound"));
  fj_label_bind(&mc, l);
  fj_fixup_label(&mc, mc.len - 2, FJ_RELOC_REL32, l);  /* field runs past the code */
  assert_int_equal(fj_fixup_apply(&mc, NULL, &rel, &nrel, err, sizeof err), FJ_ECOMPILE);
  assert_non_null(strstr(err, "outside"));
  fj_mcode_free(&mc);
  /* A private kind without a patch hook cannot be resolved. */
  fj_mcode_init(&mc);
  l = fj_label_new(&mc);
  fj_mcode_u32(&mc, 0);
  fj_fixup_label(&mc, 0, FJ_FIX_TARGET_BASE + 1, l);
  fj_label_bind(&mc, l);
  assert_int_equal(fj_fixup_apply(&mc, NULL, &rel, &nrel, err, sizeof err), FJ_ECOMPILE);
  fj_mcode_free(&mc);
}

static void test_write_layout_and_validate(void **state) {
  (void)state;
  fj_mcode mc;
  fj_mcode_init(&mc);
  uint32_t patch;
  build_code(&mc, &patch);
  fj_blob_reloc *rel;
  uint32_t nrel;
  char err[128];
  assert_int_equal(fj_fixup_apply(&mc, NULL, &rel, &nrel, err, sizeof err), 0);
  fj_blob_exit exits[2] = {{7, patch, FJ_EXIT_LINK, 0, 0}, {3, FJ_BLOB_NO_PATCH, FJ_EXIT_CALL, 0, 1}};
  const char meta[] = "hello meta";
  fj_blob_parts p = {.target = FJ_TARGET_X86_64, .kind = 2, .start_pc = 3, .frame_size = 64,
                     .code = mc.p, .code_size = mc.len, .entry_off = 0, .relocs = rel,
                     .nrelocs = nrel, .exits = exits, .nexits = 2, .meta = meta,
                     .meta_size = sizeof meta - 1};
  for (int k = 0; k < 32; k++) p.trace_hash[k] = (uint8_t)k;
  uint8_t *b;
  size_t len;
  assert_int_equal(fj_blob_write(&p, &b, &len), 0);
  fj_blob_header h;
  memcpy(&h, b, sizeof h);
  assert_int_equal(h.magic, FJ_BLOB_MAGIC);
  assert_int_equal(h.version, FJ_BLOB_VERSION);
  assert_int_equal(h.size, len);
  assert_int_equal(h.code_off % 16, 0);
  assert_int_equal(h.reloc_off % 8, 0);
  assert_int_equal(h.exit_off % 8, 0);
  assert_int_equal(h.meta_off % 8, 0);
  assert_int_equal(h.nrelocs, nrel);
  assert_int_equal(h.nexits, 2);
  assert_int_equal(h.start_pc, 3);
  assert_int_equal(h.compiler_version, FJ_COMPILER_VERSION);
  assert_memory_equal(h.trace_hash, p.trace_hash, 32);
  assert_memory_equal(b + h.code_off, mc.p, mc.len);
  assert_memory_equal(b + h.meta_off, meta, sizeof meta - 1);
  fj_blob_header z = h;
  z.crc32 = 0;
  uint32_t crc = fj_crc32(fj_crc32(0, &z, sizeof z), b + sizeof z, len - sizeof z);
  assert_int_equal(crc, h.crc32);
  /* The client's validator accepts it. */
  fj_blob_expect e = {FJ_TARGET_X86_64, 2, 3, 0, 0, 100, NULL, NULL};
  fj_blob_view v;
  int why = fj_blob_check(b, len, &e, &v);
  if (why) fail_msg("blob_check rejects: %s", fj_blob_reject_text(why));
  /* One flipped bit and it does not. */
  b[h.code_off] ^= 1;
  assert_int_equal(fj_blob_check(b, len, &e, &v), FJ_BLOB_REJECT_CRC);
  free(b);
  free(rel);
  fj_mcode_free(&mc);
}

static void test_write_limits(void **state) {
  (void)state;
  uint8_t code[16] = {0xc3};
  fj_blob_exit x = {0, FJ_BLOB_NO_PATCH, FJ_EXIT_STOP, 0, 0};
  fj_blob_parts p = {.target = FJ_TARGET_X86_64, .kind = 2, .code = code, .code_size = 16,
                     .entry_off = 16, .exits = &x, .nexits = 1};
  uint8_t *b;
  size_t len;
  assert_int_equal(fj_blob_write(&p, &b, &len), FJ_EINVAL);  /* entry outside the code */
  p.entry_off = 0;
  static char big[FJ_BLOB_MAX_SIZE];
  p.meta = big;
  p.meta_size = sizeof big;
  assert_int_equal(fj_blob_write(&p, &b, &len), FJ_ERANGE);
  assert_null(b);
  p.meta = NULL;
  assert_int_equal(fj_blob_write(&p, &b, &len), 0);
  free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fixups_and_relocs),
    cmocka_unit_test(test_fixup_errors),
    cmocka_unit_test(test_write_layout_and_validate),
    cmocka_unit_test(test_write_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
