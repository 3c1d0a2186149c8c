/* The Thumb-2 client runtime (client_runtime/thumb/) and the Unicorn harness (uc_thumb.h).
 *
 *  - 64-bit division routines: host build against the C operators (edge values and random),
 *    and the arm-none-eabi-gcc build run in Unicorn against the host build;
 *  - the target layer (arch_thumb.h) compiled for Cortex-M4: fj_arch_enter, the FJ_RT_CALL
 *    trampoline and the deopt stub, driven by a hand-written trace: helper arguments per AAPCS,
 *    st->call_ret, the budget handed to the VM and back, a helper stopping the program,
 *    return-address rewriting;
 *  - the harness's relocations: THM_CALL / THM_JUMP24 through veneers to far helpers,
 *    THM_MOVW_MOVT, exit patching.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client_runtime/thumb/arch_thumb.h"
#include "client_runtime/thumb/div64.h"
#include "codegen/blob_write.h"
#include "codegen/thumb/emit_thumb.h"
#include "farjit/jit.h"
#include "tests/codegen/uc_thumb.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}
/* Values that stress division: small, 32-bit, powers of two and neighbours, negatives. */
static uint64_t pick(void) {
  uint64_t v = rnd();
  switch (rnd() % 8) {
  case 0: return v >> (rnd() % 64);
  case 1: return v & 0xffffffffu;
  case 2: return (uint64_t)(int64_t)(int32_t)v;
  case 3: return 1ull << (rnd() % 64);
  case 4: return (1ull << (rnd() % 64)) - 1;
  case 5: return 0 - (v >> (rnd() % 64));
  default: return v;
  }
}
static const uint64_t edges[] = {
  0, 1, 2, 3, 7, 0x7fffffff, 0x80000000u, 0xffffffffu, 0x100000000ull, 0x100000001ull,
  0x7fffffffffffffffull, 0x8000000000000000ull, 0xffffffffffffffffull, 0xfffffffffffffffeull,
  0xffffffff00000000ull, 0x00000001ffffffffull, 0x8000000000000001ull,
};
#define NEDGES (sizeof edges / sizeof edges[0])

typedef struct divref { uint64_t q, r; int64_t sq, sr; } divref;
static divref reference(uint64_t a, uint64_t b) {
  int64_t sa = (int64_t)a, sb = (int64_t)b;
  divref d;
  d.q = b ? a / b : 0;
  d.r = b ? a % b : a;
  d.sq = sb == 0 ? 0 : sb == -1 ? (int64_t)(0 - a) : sa / sb;
  d.sr = sb == 0 ? sa : sb == -1 ? 0 : sa % sb;
  return d;
}

static void test_div_host(void **state) {
  (void)state;
  for (long i = 0; i < 2000000; i++) {
    uint64_t a, b;
    if (i < (long)(NEDGES * NEDGES)) a = edges[i / NEDGES], b = edges[i % NEDGES];
    else a = pick(), b = pick();
    divref d = reference(a, b);
    if (fj_rt_udiv64(a, b) != d.q || fj_rt_umod64(a, b) != d.r ||
        fj_rt_sdiv64((int64_t)a, (int64_t)b) != d.sq || fj_rt_smod64((int64_t)a, (int64_t)b) != d.sr)
      fail_msg("division of 0x%llx by 0x%llx", (unsigned long long)a, (unsigned long long)b);
  }
}

static fj_uct *U;

static uint64_t helper_cb(void *ud, uint32_t id, const uint64_t a[5], uint32_t vm);

static int setup(void **state) {
  (void)state;
  fj_uct_hooks h = {helper_cb, NULL, NULL};
  U = fj_uct_create(&h, 0);
  return U ? 0 : -1;
}
static int teardown(void **state) {
  (void)state;
  fj_uct_destroy(U);
  return 0;
}

static void test_div_device(void **state) {
  (void)state;
  if (!fj_uct_has_rt(U)) skip();
  static const char *const names[4] = {"fj_rt_udiv64", "fj_rt_umod64", "fj_rt_sdiv64", "fj_rt_smod64"};
  uint32_t fn[4];
  for (int k = 0; k < 4; k++) assert_true((fn[k] = fj_uct_rt_sym(U, names[k])) != 0);
  uint64_t maxi = 0;
  for (long i = 0; i < 20000; i++) {
    uint64_t a, b;
    if (i < (long)(NEDGES * NEDGES)) a = edges[i / NEDGES], b = edges[i % NEDGES];
    else a = pick(), b = pick();
    divref d = reference(a, b);
    uint64_t want[4] = {d.q, d.r, (uint64_t)d.sq, (uint64_t)d.sr};
    uint32_t args[4] = {(uint32_t)a, (uint32_t)(a >> 32), (uint32_t)b, (uint32_t)(b >> 32)};
    for (int k = 0; k < 4; k++) {
      uint64_t got;
      if (fj_uct_call(U, fn[k], args, &got, 100000)) fail_msg("%s", fj_uct_errmsg(U));
      if (got != want[k])
        fail_msg("%s(0x%llx, 0x%llx) = 0x%llx, want 0x%llx", names[k], (unsigned long long)a,
                 (unsigned long long)b, (unsigned long long)got, (unsigned long long)want[k]);
      if (fj_uct_last_stats(U)->rt_insns > maxi) maxi = fj_uct_last_stats(U)->rt_insns;
    }
  }
  /* Leaf routines of bounded cost: a few hundred instructions at most. */
  assert_true(maxi > 10 && maxi < 400);
  printf("  div64 on Cortex-M4: at most %llu instructions per call\n", (unsigned long long)maxi);
}

/* ---- a hand-written trace ---------------------------------------------------------------- */

enum { H_ADD = 7, H_DEOPT = 8, H_STOP = 9 };
static uint64_t last_args[5];
static uint32_t last_vm;
/* vm->stop and vm->left as the runtime sees them (in the shared arena) */
static uint8_t *stop_flag;
static uint64_t *left_words;
static uint64_t left_seen;

static uint64_t helper_cb(void *ud, uint32_t id, const uint64_t a[5], uint32_t vm) {
  (void)ud;
  memcpy(last_args, a, sizeof last_args);
  last_vm = vm;
  if (left_words) {
    left_seen = *left_words;
    *left_words -= 5; /* the callee ran 5 eBPF instructions */
  }
  if (id == H_DEOPT) {
    /* What the runtime does when the trace dies during a call: rewrite the return address. */
    fj_jit_state *st = (fj_jit_state *)(uintptr_t)FJ_UCT_ARENA;
    st->call_ret = fj_uct_rt_sym(U, "fj_thm_deopt") | 1;
  }
  if (id == H_STOP && stop_flag) *stop_flag = 1;
  return a[0] + a[1] + a[2] + a[3] + a[4];
}

typedef struct relocs { fj_blob_reloc r[8]; uint32_t n; } relocs;
static void add_reloc(relocs *rs, uint32_t off, uint8_t kind, uint8_t sym, uint32_t target) {
  rs->r[rs->n++] = (fj_blob_reloc){off, kind, sym, 0, target, 0};
}

/* The trace: the fixed frame, helper `id` called through FJ_RT_CALL with r1..r5 = st->r[1..5]
 * and vm = st->vm (CALL exit 1), result to st->r[0], then exit 0 through a patchable B.W to a
 * shared return that stores exit_id.  With direct, BL the helper itself (no trampoline). */
static uint32_t build(uint8_t *code, uint32_t cap, relocs *rs, fj_blob_exit *exits, uint32_t id,
                      bool direct) {
  fj_thm_buf b;
  fj_thm_buf_init(&b, code, cap);
  rs->n = 0;
  const uint32_t N = 52; /* 36 pushed + 52 = 88: 8-aligned */
  /* shared return at offset 0: r0 = st, r1 = exit id */
  uint32_t ret = b.pos;
  fj_thm_str(&b, 1, 0, FJ_JIT_OFF_EXIT_ID);
  fj_thm_mov(&b, 0, 1);
  fj_thm_bx(&b, FJ_THM_LR);
  fj_thm_align4(&b);
  uint32_t entry = b.pos;
  fj_thm_push(&b, 0x4ff0);
  fj_thm_sub_imm(&b, FJ_THM_SP, FJ_THM_SP, N);
  fj_thm_mov(&b, 4, 0);
  /* stack arguments r3, r4, r5, vm */
  for (int k = 0; k < 3; k++) {
    fj_thm_ldrd(&b, 0, 1, 4, (int32_t)FJ_JIT_OFF_R(3 + k));
    fj_thm_strd(&b, 0, 1, FJ_THM_SP, 8 * k);
  }
  fj_thm_ldr(&b, 0, 4, FJ_JIT_OFF_VM);
  fj_thm_str(&b, 0, FJ_THM_SP, 24);
  fj_thm_mov_imm(&b, 0, 1);
  fj_thm_str(&b, 0, 4, FJ_JIT_OFF_CALL_EXIT);
  fj_thm_ldrd(&b, 0, 1, 4, (int32_t)FJ_JIT_OFF_R(1));
  fj_thm_ldrd(&b, 2, 3, 4, (int32_t)FJ_JIT_OFF_R(2));
  if (direct) {
    add_reloc(rs, b.pos, FJ_RELOC_THM_CALL, FJ_SYM_HELPER, id);
    fj_thm_bl(&b, 0);
  } else {
    add_reloc(rs, b.pos, FJ_RELOC_THM_MOVW_MOVT, FJ_SYM_HELPER, id);
    fj_thm_movw_movt(&b, FJ_THM_R12, 0);
    add_reloc(rs, b.pos, FJ_RELOC_THM_CALL, FJ_SYM_RUNTIME, FJ_RT_CALL);
    fj_thm_bl(&b, 0);
  }
  fj_thm_strd(&b, 0, 1, 4, (int32_t)FJ_JIT_OFF_R(0));
  /* the budget after the call, as the callee left it: r[6] = st->budget */
  fj_thm_ldrd(&b, 0, 1, 4, FJ_JIT_OFF_BUDGET);
  fj_thm_strd(&b, 0, 1, 4, (int32_t)FJ_JIT_OFF_R(6));
  /* exit 0: unwind, then the patch site */
  fj_thm_mov(&b, 0, 4);
  fj_thm_mov_imm(&b, 1, 0);
  fj_thm_add_imm(&b, FJ_THM_SP, FJ_THM_SP, N);
  fj_thm_pop(&b, 0x4ff0);
  fj_thm_align4(&b);
  exits[0] = (fj_blob_exit){100, b.pos, FJ_EXIT_STOP, 0, 0};
  fj_thm_b_w(&b, (int32_t)ret - (int32_t)(b.pos + 4));
  exits[1] = (fj_blob_exit){50, FJ_BLOB_NO_PATCH, FJ_EXIT_CALL, 0, 1};
  assert_false(b.bad);
  assert_false(b.overflow);
  (void)entry;
  return b.pos;
}

static uint32_t load_trace(uint32_t id, bool direct, uint32_t start_pc) {
  uint8_t code[512];
  relocs rs;
  fj_blob_exit exits[2];
  uint32_t n = build(code, sizeof code, &rs, exits, id, direct);
  fj_blob_parts p;
  memset(&p, 0, sizeof p);
  p.target = FJ_TARGET_THUMBV7EM;
  p.kind = 2;
  p.start_pc = start_pc;
  p.code = code;
  p.code_size = n;
  p.entry_off = 8;
  p.relocs = rs.r;
  p.nrelocs = rs.n;
  p.exits = exits;
  p.nexits = 2;
  uint8_t *blob;
  size_t len;
  assert_int_equal(fj_blob_write(&p, &blob, &len), 0);
  uint32_t base = fj_uct_load(U, blob, len);
  free(blob);
  if (!base) fail_msg("load: %s", fj_uct_errmsg(U));
  return base;
}

static fj_jit_state *fresh_state(void) {
  fj_uct_arena_reset(U);
  fj_jit_state *st = fj_uct_alloc(U, sizeof *st, 16);
  assert_ptr_equal(st, (void *)(uintptr_t)FJ_UCT_ARENA);
  for (int k = 0; k < FJ_NREGS; k++) st->r[k] = 0x1111111100000000ull * (unsigned)k + (unsigned)k;
  st->vm = 0xabcd0123u;
  st->budget = 1000;
  stop_flag = fj_uct_alloc(U, 8, 8);
  left_words = fj_uct_alloc(U, 8, 8);
  return st;
}
static int run(uint32_t base, fj_jit_state *st, uint32_t *ret) {
  return fj_uct_run(U, base, fj_uct_addr(st), fj_uct_addr(stop_flag), fj_uct_addr(left_words), ret,
                    10000);
}

static void test_trampoline(void **state) {
  (void)state;
  if (!fj_uct_has_rt(U)) skip();
  fj_uct_unload_all(U);
  fj_jit_state *st = fresh_state();
  uint32_t base = load_trace(H_ADD, false, 10);
  uint32_t ret;
  if (run(base, st, &ret)) fail_msg("%s", fj_uct_errmsg(U));
  assert_int_equal(ret, 0);
  assert_int_equal(st->exit_id, 0);
  for (int k = 0; k < 5; k++) assert_true(last_args[k] == 0x1111111100000000ull * (unsigned)(k + 1) + (unsigned)(k + 1));
  assert_int_equal(last_vm, 0xabcd0123u);
  assert_true(st->r[0] == 0xffffffff0000000full);
  /* the budget went to the VM for the call and came back */
  assert_true(left_seen == 1000);
  assert_true(st->budget == 995 && st->r[6] == 995);
  /* the trampoline kept the return address into the trace, Thumb bit set */
  assert_true((st->call_ret & 1) && st->call_ret > base && st->call_ret < base + 512);
  const fj_uct_stats *s = fj_uct_last_stats(U);
  assert_int_equal(s->rt_calls, 1);
  assert_int_equal(s->helper_calls, 1);
  assert_true(s->insns > 20);

  /* Return-address rewriting: the helper redirects st->call_ret to the deopt stub, which stores
   * the result, unwinds the frame and returns st->call_exit. */
  st = fresh_state();
  fj_uct_unload_all(U);
  base = load_trace(H_DEOPT, false, 10);
  if (run(base, st, &ret)) fail_msg("%s", fj_uct_errmsg(U));
  assert_int_equal(ret, 1);
  assert_int_equal(st->exit_id, 1);
  assert_true(st->r[0] == 0xffffffff0000000full);
  assert_true(st->r[6] != 995); /* the code after the call never ran */

  /* A helper that stops the program (vm->stop): the trampoline leaves through the deopt stub. */
  st = fresh_state();
  fj_uct_unload_all(U);
  base = load_trace(H_STOP, false, 10);
  if (run(base, st, &ret)) fail_msg("%s", fj_uct_errmsg(U));
  assert_int_equal(ret, 1);
  assert_int_equal(st->exit_id, 1);
  assert_true(st->r[0] == 0xffffffff0000000full && st->budget == 995);
  assert_true(st->r[6] != 995);
}

static void test_veneers_and_links(void **state) {
  (void)state;
  fj_uct_destroy(U);
  fj_uct_hooks h = {helper_cb, NULL, NULL};
  U = fj_uct_create(&h, FJ_UCT_FAR_HELPERS | FJ_UCT_HOOK_RT);
  assert_non_null(U);
  fj_jit_state *st = fresh_state();
  /* BL straight to a helper 640 MiB away: the linker must go through a veneer. */
  uint32_t base = load_trace(H_ADD, true, 10);
  uint32_t ret;
  if (run(base, st, &ret)) fail_msg("%s", fj_uct_errmsg(U));
  assert_int_equal(ret, 0);
  assert_true(st->r[0] == 0xffffffff0000000full);
  assert_int_equal(fj_uct_last_stats(U)->helper_calls, 1);
  /* Through the (hook-served) trampoline, helper address by movw/movt. */
  uint32_t base2 = load_trace(H_ADD, false, 20);
  st = fresh_state();
  if (run(base2, st, &ret)) fail_msg("%s", fj_uct_errmsg(U));
  assert_int_equal(fj_uct_last_stats(U)->rt_calls, 1);
  /* Link exit 0 of the first trace to the second: both run, the second's exit is the last. */
  assert_int_equal(fj_uct_patch_exit(U, base, 0, base2 + 8), 0);
  assert_int_equal(fj_uct_patch_exit(U, base, 1, base2 + 8), -1); /* CALL exits have no site */
  st = fresh_state();
  if (run(base, st, &ret)) fail_msg("%s", fj_uct_errmsg(U));
  assert_int_equal(fj_uct_last_stats(U)->helper_calls, 2);
  assert_true(st->r[0] == 0xffffffff0000000full);
  assert_true(st->call_ret > base2 && st->call_ret < base2 + 512); /* the second trace called */
  /* Runaway code is stopped by the instruction limit, with a message. */
  assert_int_equal(fj_uct_run(U, base, fj_uct_addr(st), 0, 0, &ret, 5), -1);
  assert_true(strstr(fj_uct_errmsg(U), "limit") != NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_div_host),
    cmocka_unit_test(test_div_device),
    cmocka_unit_test(test_trampoline),
    cmocka_unit_test(test_veneers_and_links),
  };
  return cmocka_run_group_tests_name("thumb_rt", tests, setup, teardown);
}
