/* The Thumb-2 backend through the compile driver: the shape of what it produces, and clear
 * errors (never code) for what it cannot compile.
 *
 *  - blob shape: target thumbv7em, even entry, every exit's patch site a 4-byte-aligned B.W
 *    that initially branches to the shared return at code offset 0, only Thumb relocation
 *    kinds (THM_CALL / THM_JUMP24 / THM_MOVW_MOVT) on 4-byte fields inside the code, every
 *    byte of code decodable by capstone (Cortex-M), frame size sane;
 *  - a local call left to the interpreter (FJ_REC_CALL_INTERP -> CALLL): compiled and run in
 *    Unicorn through the real FJ_RT_CALL trampoline, FJ_RT_CALL_LOCAL served by a hook;
 *  - errors: a malformed trace (FJ_EBADTRACE), a trace needing more spill slots than the frame
 *    can address (FJ_ECOMPILE / SPILL_LIMIT), a branch fixup out of range (the patch hook
 *    refuses, fj_fixup_apply reports it), each with a message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstone/capstone.h>
#include <cmocka.h>

#include "client_runtime/record.h"
#include "client_runtime/vm_internal.h"
#include "codegen/abort.h"
#include "codegen/fixup.h"
#include "codegen/thumb/thumb.h"
#include "farjit/blob.h"
#include "farjit/codegen.h"
#include "farjit/platform_linux.h"
#include "farjit/jit.h"
#include "farjit/trace.h"
#include "tests/codegen/uc_thumb.h"
#include "tools/asm.h"

/* Record the trace at the first spot of `text` that gets hot; returns its length. */
static size_t record(const char *text, uint8_t *buf, size_t cap) {
  fj_insn *code;
  size_t n;
  char err[128];
  assert_int_equal(fj_asm(text, &code, &n, err, sizeof err), 0);
  fj_vm *vm = fj_vm_create(fj_platform_linux());
  assert_non_null(vm);
  fj_vm_register_std_helpers(vm);
  assert_int_equal(fj_vm_load(vm, code, n * sizeof *code), 0);
  static uint8_t mem[64];
  size_t len = 0;
  uint64_t r0;
  int rc = fj_rec_first_hot(vm, 0, mem, sizeof mem, 2, FJ_REC_ANY_PC, buf, cap, &len, &r0);
  assert_int_equal(rc, FJ_REC_DONE);
  fj_vm_destroy(vm);
  free(code);
  return len;
}

static const char *const loop_prog =
    "  mov %r6, 100\n"
    "  mov %r7, 0\n"
    "  lddw %r8, 0x123456789a\n"
    "loop:\n"
    "  add %r7, %r6\n"
    "  mul %r8, %r7\n"
    "  add32 %r9, %r6\n"
    "  rsh %r8, 3\n"
    "  stxdw [%r10-8], %r8\n"
    "  call 7\n"                /* get_prandom_u32: a call through FJ_RT_CALL */
    "  ldxdw %r1, [%r10-8]\n"
    "  div %r1, %r6\n"          /* 64-bit division: a runtime call */
    "  jgt %r1, 0xffff, skip\n"
    "  add %r7, %r1\n"
    "skip:\n"
    "  sub %r6, 1\n"
    "  jne %r6, 0, loop\n"
    "  mov %r0, %r7\n"
    "  exit\n";

static void test_blob_shape(void **state) {
  (void)state;
  static uint8_t trace[48 + 20 * 1024];
  size_t tlen = record(loop_prog, trace, sizeof trace);
  for (int v = 0; v < 2; v++) {
    fj_codegen_opts o = {v ? 0 : FJ_CG_NO_OPT, 0};
    fj_codegen_result r;
    int rc = fj_codegen_compile(trace, tlen, FJ_TARGET_THUMBV7EM, &o, &r);
    if (rc) fail_msg("compile: %s", r.message);
    fj_blob_header h;
    memcpy(&h, r.blob, sizeof h);
    assert_int_equal(h.target, FJ_TARGET_THUMBV7EM);
    assert_true(h.entry_off % 2 == 0 && h.entry_off < h.code_size);
    assert_true(h.frame_size >= 36 + 44 && h.frame_size % 8 == 0);
    const uint8_t *code = r.blob + h.code_off;
    /* shared return at offset 0: mov r0, r1; bx lr */
    assert_int_equal(code[0] | code[1] << 8, 0x4608);
    assert_int_equal(code[2] | code[3] << 8, 0x4770);
    unsigned npatch = 0;
    for (uint32_t e = 0; e < h.nexits; e++) {
      fj_blob_exit x;
      memcpy(&x, r.blob + h.exit_off + e * sizeof x, sizeof x);
      if (x.kind == FJ_EXIT_CALL) {
        assert_int_equal(x.patch_off, FJ_BLOB_NO_PATCH);
        continue;
      }
      npatch++;
      assert_true(x.patch_off % 4 == 0 && x.patch_off + 4 <= h.code_size);
      const uint8_t *p = code + x.patch_off;
      assert_true((p[1] & 0xf8) == 0xf0 && (p[3] & 0xd0) == 0x90); /* B.W (T4) */
      assert_int_equal(fj_thm_t4_offset(p), -(int32_t)(x.patch_off + 4)); /* to offset 0 */
    }
    assert_true(npatch >= 2);
    unsigned kinds = 0;
    for (uint32_t i = 0; i < h.nrelocs; i++) {
      fj_blob_reloc rl;
      memcpy(&rl, r.blob + h.reloc_off + i * sizeof rl, sizeof rl);
      assert_true(rl.kind == FJ_RELOC_THM_CALL || rl.kind == FJ_RELOC_THM_JUMP24 ||
                  rl.kind == FJ_RELOC_THM_MOVW_MOVT);
      assert_true(rl.offset % 2 == 0 && rl.offset + 4 <= h.code_size);
      kinds |= 1u << rl.kind;
    }
    /* the helper (movw/movt + BL to FJ_RT_CALL) and the division routine (BL) */
    assert_true(kinds & 1u << FJ_RELOC_THM_CALL);
    assert_true(kinds & 1u << FJ_RELOC_THM_MOVW_MOVT);
    csh cs;
    assert_int_equal(cs_open(CS_ARCH_ARM, CS_MODE_THUMB | CS_MODE_MCLASS, &cs), CS_ERR_OK);
    cs_insn *in;
    size_t cnt = cs_disasm(cs, code, h.code_size, 0, 0, &in);
    size_t used = 0;
    for (size_t k = 0; k < cnt; k++) used += in[k].size;
    if (cnt) cs_free(in, cnt);
    cs_close(&cs);
    assert_int_equal(used, h.code_size);
    fj_codegen_result_free(&r);
  }
}

static void test_bad_trace(void **state) {
  (void)state;
  uint8_t junk[100];
  memset(junk, 0x5a, sizeof junk);
  fj_codegen_result r;
  assert_int_equal(fj_codegen_compile(junk, sizeof junk, FJ_TARGET_THUMBV7EM, NULL, &r),
                   FJ_EBADTRACE);
  assert_null(r.blob);
  assert_true(strlen(r.message) > 0);
  assert_true(fj_codegen_supports(FJ_TARGET_THUMBV7EM));
}

/* More values live at one exit than 4 register pairs and 120 slots can hold: 130 distinct
 * stack words, all kept in the exit's snapshot, then a guard. */
static void test_spill_limit(void **state) {
  (void)state;
  static char text[65536];
  size_t at = 0;
  at += (size_t)snprintf(text + at, sizeof text - at, "  mov %%r6, 3\nloop:\n  mov %%r1, %%r6\n");
  for (int k = 1; k <= 127; k++)
    at += (size_t)snprintf(text + at, sizeof text - at,
                           "  mul %%r1, 3\n  stxw [%%r10-%d], %%r1\n", 4 * k);
  at += (size_t)snprintf(text + at, sizeof text - at,
                         "  ldxw %%r2, [%%r9+0]\n  jeq %%r2, 77, out\n"
                         "  sub %%r6, 1\n  jne %%r6, 0, loop\nout:\n  mov %%r0, 0\n  exit\n");
  static uint8_t trace[48 + 20 * 1024];
  fj_insn *code;
  size_t n;
  char err[128];
  char prog[65536 + 64];
  snprintf(prog, sizeof prog, "  mov %%r9, %%r1\n%s", text);
  assert_int_equal(fj_asm(prog, &code, &n, err, sizeof err), 0);
  fj_vm *vm = fj_vm_create(fj_platform_linux());
  fj_vm_register_std_helpers(vm);
  assert_int_equal(fj_vm_load(vm, code, n * sizeof *code), 0);
  static uint8_t mem[64];
  size_t tlen = 0;
  uint64_t r0;
  assert_int_equal(fj_rec_first_hot(vm, 0, mem, sizeof mem, 2, FJ_REC_ANY_PC, trace, sizeof trace,
                                    &tlen, &r0), FJ_REC_DONE);
  fj_vm_destroy(vm);
  free(code);
  fj_codegen_result r;
  fj_codegen_opts o = {FJ_CG_NO_OPT, 0};
  int rc = fj_codegen_compile(trace, tlen, FJ_TARGET_THUMBV7EM, &o, &r);
  assert_int_equal(rc, FJ_ECOMPILE);
  assert_int_equal(r.abort_reason, FJ_ABORT_SPILL_LIMIT);
  assert_null(r.blob);
  assert_non_null(strstr(r.message, "slot"));
  printf("  %s: %s\n", fj_abort_name(r.abort_reason), r.message);
}

/* Branch fixups the encodings cannot reach are refused: the driver reports them (a blob is at
 * most 1 MiB, inside every range used, so this guards against internal errors). */
static void test_branch_range(void **state) {
  (void)state;
  fj_mcode mc;
  fj_mcode_init(&mc);
  assert_true(fj_mcode_reserve(&mc, 64));
  fj_thm_buf b;
  fj_thm_buf_init(&b, mc.p, mc.cap);
  fj_thm_bcond_w(&b, FJ_THM_NE, 0);
  fj_thm_b_w(&b, 0);
  mc.len = b.pos;
  uint32_t far = fj_label_new(&mc), near = fj_label_new(&mc);
  fj_fixup_label(&mc, 0, THM_FIX_BCOND, far);
  fj_fixup_label(&mc, 4, FJ_RELOC_THM_JUMP24, near);
  mc.labels[near] = 8;
  mc.labels[far] = 3u << 20; /* 3 MiB: beyond b<c>.w */
  fj_blob_reloc *rel;
  uint32_t nrel;
  char err[160];
  assert_int_equal(fj_fixup_apply(&mc, fj_backend_thumbv7em.patch, &rel, &nrel, err, sizeof err),
                   FJ_ECOMPILE);
  assert_non_null(strstr(err, "cannot reach"));
  mc.labels[far] = 12;
  assert_int_equal(fj_fixup_apply(&mc, fj_backend_thumbv7em.patch, &rel, &nrel, err, sizeof err), 0);
  assert_int_equal(fj_thm_t4_offset(mc.p + 4), 0);
  fj_fixup f = {0, THM_FIX_BCOND, 0, 0, 0, 0, FJ_LABEL_NONE};
  assert_false(fj_backend_thumbv7em.patch(mc.p, &f, 1u << 21));
  f.kind = FJ_RELOC_THM_JUMP24;
  f.offset = 4;
  assert_false(fj_backend_thumbv7em.patch(mc.p, &f, 1u << 25));
  f.kind = FJ_RELOC_ABS32; /* not a kind the hook knows */
  assert_false(fj_backend_thumbv7em.patch(mc.p, &f, 0));
  fj_mcode_free(&mc);
}

/* ---- CALLL ------------------------------------------------------------------------------- */

static uint32_t local_pc, local_st;
static uint64_t call_local(void *ud, uint32_t st, uint32_t pc) {
  (void)ud;
  local_pc = pc, local_st = st;
  return 42; /* what the callee (mov r0, 42; exit) returns */
}

static void test_call_local(void **state) {
  (void)state;
  fj_insn *code;
  size_t n;
  char err[128];
  assert_int_equal(fj_asm("  mov %r6, 5\n  call local f\n  add %r0, %r6\n  exit\n"
                          "f:\n  mov %r0, 42\n  exit\n", &code, &n, err, sizeof err), 0);
  assert_int_equal(n, 6);
  /* the trace a recorder writes when it leaves f to the interpreter */
  uint8_t trace[48 + 20 * 4];
  fj_trace_header h = {FJ_TRACE_MAGIC, FJ_TRACE_VERSION, FJ_TRACE_ENTRY, 0, 4, FJ_TRACE_END_STOP,
                       0, 3, 0, 0, 6, 1, 0, 0};
  memcpy(trace, &h, sizeof h);
  for (uint32_t i = 0; i < 4; i++) {
    fj_trace_rec r = {code[i], i, i == 1 ? 4u : 0u, 0, i == 1 ? FJ_REC_CALL_INTERP : 0, 0, 0};
    memcpy(trace + 48 + 20 * i, &r, sizeof r);
  }
  free(code);
  fj_codegen_result res;
  int rc = fj_codegen_compile(trace, sizeof trace, FJ_TARGET_THUMBV7EM, NULL, &res);
  if (rc) fail_msg("compile: %s", res.message);
  fj_uct_hooks hooks = {NULL, call_local, NULL};
  fj_uct *u = fj_uct_create(&hooks, 0);
  assert_non_null(u);
  uint32_t base = fj_uct_load(u, res.blob, res.blob_size);
  if (!base) fail_msg("load: %s", fj_uct_errmsg(u));
  fj_jit_state *st = fj_uct_alloc(u, sizeof *st, 16);
  uint64_t *words = fj_uct_alloc(u, 16, 8); /* vm->stop, vm->left */
  /* the stack region: the call checks there is a frame left for the callee */
  uint8_t *stack = fj_uct_alloc(u, FJ_MAX_CALL_DEPTH * FJ_STACK_SIZE, 16);
  fj_region *regions = fj_uct_alloc(u, sizeof *regions, 16);
  regions[0] = (fj_region){fj_uct_addr(stack), FJ_MAX_CALL_DEPTH * FJ_STACK_SIZE, 3, 0};
  st->regions = fj_uct_addr(regions);
  st->nregions = 1;
  st->r[10] = fj_uct_addr(stack) + FJ_MAX_CALL_DEPTH * FJ_STACK_SIZE;
  st->budget = 1000;
  st->r[0] = 7;
  uint32_t id;
  if (fj_uct_run(u, base, fj_uct_addr(st), fj_uct_addr(&words[0]), fj_uct_addr(&words[1]), &id,
                 100000))
    fail_msg("run: %s", fj_uct_errmsg(u));
  fj_blob_header bh;
  memcpy(&bh, res.blob, sizeof bh);
  fj_blob_exit x;
  assert_true(id < bh.nexits);
  memcpy(&x, res.blob + bh.exit_off + id * sizeof x, sizeof x);
  assert_int_equal(x.pc, 3);                 /* resumes at the exit instruction */
  assert_int_equal(local_pc, 4);
  assert_int_equal(local_st, fj_uct_addr(st));
  assert_true(st->r[0] == 47 && st->r[6] == 5);
  assert_int_equal(fj_uct_last_stats(u)->local_calls, 1);
  assert_int_equal(fj_uct_last_stats(u)->rt_calls, 1);
  assert_true(words[1] == 1000 - 2);         /* the budget handed to the VM for the call */
  assert_true(st->budget > 0 && st->budget < 1000);
  fj_uct_destroy(u);
  fj_codegen_result_free(&res);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_blob_shape),
    cmocka_unit_test(test_call_local),
    cmocka_unit_test(test_bad_trace),
    cmocka_unit_test(test_spill_limit),
    cmocka_unit_test(test_branch_range),
  };
  return cmocka_run_group_tests_name("thumb_compile", tests, NULL, NULL);
}
