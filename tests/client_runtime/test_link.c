/* Linker tests: relocation encodings of every kind (byte-exact), and hand-assembled x86-64 blobs
 * linked into real executable memory (helpers reached through the island when out of rel32
 * range) and run through the x86-64 trampolines, including the deopt path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "client_runtime/arch.h"
#include "client_runtime/codecache.h"
#include "client_runtime/link.h"
#include "farjit/client_linux.h"
#include "farjit/platform_linux.h"
#include "tests/client_runtime/blob_util.h"

static uint32_t rd32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static void test_encodings(void **state) {
  (void)state;
  uint8_t f[8];
  /* ABS64 / ABS32 */
  assert_true(fj_link_field_write(FJ_TARGET_X86_64, FJ_RELOC_ABS64, f, 0, 0x1122334455667788ull));
  assert_int_equal(rd32(f), 0x55667788);
  assert_int_equal(rd32(f + 4), 0x11223344);
  assert_true(fj_link_field_write(FJ_TARGET_THUMBV7EM, FJ_RELOC_ABS32, f, 0, 0x20001001));
  assert_int_equal(rd32(f), 0x20001001);
  assert_false(fj_link_field_write(FJ_TARGET_X86_64, FJ_RELOC_ABS32, f, 0, 0x100000000ull));
  /* REL32: S + A - (P + 4) */
  assert_true(fj_link_field_write(FJ_TARGET_X86_64, FJ_RELOC_REL32, f, 0x1000, 0x1000 + 4 + 0x10));
  assert_int_equal(rd32(f), 0x10);
  assert_true(fj_link_field_write(FJ_TARGET_X86_64, FJ_RELOC_REL32, f, 0x1000, 0x1000));
  assert_int_equal(rd32(f), 0xfffffffc);
  assert_false(fj_link_field_write(FJ_TARGET_X86_64, FJ_RELOC_REL32, f, 0x1000, 0x1000 + 0x90000000ull));
  assert_false(fj_link_field_write(FJ_TARGET_THUMBV7EM, FJ_RELOC_REL32, f, 0, 0));
  /* Thumb BL +0x100: f000 f880; B.W to itself: f7ff bffe */
  assert_true(fj_link_field_write(FJ_TARGET_THUMBV7EM, FJ_RELOC_THM_CALL, f, 0x1000, 0x1104 | 1));
  assert_int_equal(rd32(f), 0xf880f000);
  assert_true(fj_link_field_write(FJ_TARGET_THUMBV7EM, FJ_RELOC_THM_JUMP24, f, 0x1000, 0x1000));
  assert_int_equal(rd32(f), 0xbffef7ff);
  /* BL -0x1000000 (the limit) and beyond */
  assert_true(fj_link_field_write(FJ_TARGET_THUMBV7EM, FJ_RELOC_THM_CALL, f, 0x2000000,
                                  0x2000004 - 0x1000000));
  assert_int_equal(rd32(f), 0xd000f400);
  assert_false(fj_link_field_write(FJ_TARGET_THUMBV7EM, FJ_RELOC_THM_CALL, f, 0x2000000,
                                   0x2000004 - 0x1000002));
  assert_false(fj_link_field_write(FJ_TARGET_THUMBV7EM, FJ_RELOC_THM_JUMP24, f, 0x1000,
                                   0x1004 + 0x1000000));
  /* MOVW r0, #0x1234 / MOVT r3, #0xabcd: only the immediates change */
  const uint8_t mov[8] = {0x40, 0xf2, 0x00, 0x00, 0xc0, 0xf2, 0x00, 0x03};
  memcpy(f, mov, 8);
  assert_true(fj_link_field_write(FJ_TARGET_THUMBV7EM, FJ_RELOC_THM_MOVW_MOVT, f, 0, 0xabcd1234));
  assert_int_equal(rd32(f), 0x2034f241);
  assert_int_equal(rd32(f + 4), 0x33cdf6ca);
  /* exit patches: aligned only */
  _Alignas(4) uint8_t g[8] = {0};
  assert_true(fj_link_exit_patch(FJ_TARGET_X86_64, g, 0x1000, 0x2000));
  assert_int_equal(rd32(g), 0x2000 - 0x1004);
  assert_false(fj_link_exit_patch(FJ_TARGET_X86_64, g + 1, 0x1001, 0x2000));
  assert_true(fj_link_exit_patch(FJ_TARGET_THUMBV7EM, g, 0x1000, 0x1000));
  assert_int_equal(rd32(g), 0xbffef7ff);
  /* veneers */
  uint8_t v[16];
  fj_link_veneer_write(FJ_TARGET_X86_64, v, 0, 0x1122334455667788ull);
  assert_memory_equal(v, "\xff\x25\0\0\0\0\x88\x77\x66\x55\x44\x33\x22\x11", 14);
  fj_link_veneer_write(FJ_TARGET_THUMBV7EM, v, 0, 0x08001235);
  assert_int_equal(rd32(v), 0xf000f8df);
  assert_int_equal(rd32(v + 4), 0x08001235);
}

/* ---- real code ------------------------------------------------------------------------------ */

static fj_codecache cc;
static bool stop_flag;
static uint64_t left_word;
static fj_jit_state *cur_st;
static int helper_mode;
static uint64_t seen_left;

static uint64_t t_helper(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5, void *vm) {
  (void)r3, (void)r4, (void)r5, (void)vm;
  seen_left = left_word;
  left_word -= 5;  /* a nested run consumed budget */
  if (helper_mode == 1) {
    /* the runtime invalidates the caller: rewrite the return address, free the code */
    cur_st->call_ret = fj_arch_deopt();
    fj_cc_write_begin(&cc);
    fj_cc_free(&cc, cc.blocks[0].off);
    fj_cc_write_end(&cc);
    return 42;
  }
  if (helper_mode == 2) {
    stop_flag = true;  /* the helper stopped the program */
    return 43;
  }
  return r1 + r2;
}

static uint64_t sym_addr(void *ud, uint8_t sym, uint32_t id) {
  (void)ud;
  if (sym == FJ_SYM_HELPER && id == 77) return (uint64_t)(uintptr_t)&t_helper;
  if (sym == FJ_SYM_RUNTIME && id == FJ_RT_CALL) return fj_arch_rt_call();
  return 0;
}
static uint64_t veneer(void *ud, uint64_t addr) { return fj_cc_veneer(ud, addr); }

/* A trace: r0 = helper77(r1, r2) + 1, via FJ_RT_CALL; exit 0 (STOP) at the end, call exit 1. */
static bu_blob helper_trace(void) {
  bu_x86 a;
  memset(&a, 0, sizeof a);
  BX(&a, "\x53");                          /* push rbx */
  BX(&a, "\x48\x89\xfb");                  /* mov rbx, rdi */
  BX(&a, "\x48\x8b\x7b\x08");              /* mov rdi, [rbx+8]   r1 */
  BX(&a, "\x48\x8b\x73\x10");              /* mov rsi, [rbx+16]  r2 */
  BX(&a, "\x4c\x8b\x4b\x60");              /* mov r9, [rbx+96]   vm */
  BX(&a, "\xc7\x83\x84\x00\x00\x00\x01\x00\x00\x00");  /* mov dword [rbx+132], 1 (call_exit) */
  BX(&a, "\x48\x8d\x05");                  /* lea rax, [rip - here]: code base */
  bx_u32(&a, (uint32_t)(-(int32_t)(a.n + 4)));
  BX(&a, "\x48\x89\x43\x70");              /* mov [rbx+112], rax (exit_code) */
  BX(&a, "\x48\xb8");                      /* movabs rax, helper */
  bx_reloc(&a, a.n, FJ_RELOC_ABS64, FJ_SYM_HELPER, 77, 0);
  bx_u64(&a, 0);
  BX(&a, "\xe8");                          /* call FJ_RT_CALL */
  bx_reloc(&a, a.n, FJ_RELOC_REL32, FJ_SYM_RUNTIME, FJ_RT_CALL, 0);
  bx_u32(&a, 0);
  BX(&a, "\x48\x83\xc0\x01");              /* add rax, 1 */
  BX(&a, "\x48\x89\x03");                  /* mov [rbx], rax */
  BX(&a, "\x48\x89\xdf");                  /* mov rdi, rbx */
  BX(&a, "\x5b");                          /* pop rbx */
  uint32_t f0 = bx_exit(&a, 0, 9, FJ_EXIT_STOP);
  uint32_t ret = a.n;
  BX(&a, "\xc3");
  bx_fix_jmp(&a, f0, ret);
  fj_blob_exit call_exit = {5, FJ_BLOB_NO_PATCH, FJ_EXIT_CALL, 0, 1};
  a.ex[a.nex++] = call_exit;
  return bx_blob(&a, 3, FJ_TRACE_LOOP);
}

static uint64_t install(bu_blob *b, fj_blob_view *v) {
  fj_blob_expect e = {FJ_TARGET_X86_64, 0, FJ_BLOB_ANY_PC, 0, 0, 100, NULL, NULL};
  assert_int_equal(fj_blob_check(b->p, b->len, &e, v), FJ_BLOB_REJECT_OK);
  assert_int_equal(fj_cc_write_begin(&cc), 0);
  uint32_t off;
  assert_int_equal(fj_cc_alloc(&cc, v->h.code_size, b, &off), 0);
  memcpy(fj_cc_rw(&cc, off), v->code, v->h.code_size);
  fj_link_env env = {FJ_TARGET_X86_64, sym_addr, veneer, &cc};
  fj_link_site sites[8];
  uint32_t nsites = 0;
  assert_int_equal(fj_link_relocate(&env, v, fj_cc_rw(&cc, off), fj_cc_va(&cc, off), sites, &nsites), 0);
  fj_cc_dirty(&cc, off, v->h.code_size);
  assert_int_equal(fj_cc_write_end(&cc), 0);
  return fj_cc_va(&cc, off);
}

static int setup(void **state) {
  (void)state;
  fj_jit_exec_ops ops = fj_jit_linux_exec(FJ_JIT_EXEC_FLIP);
  return fj_cc_init(&cc, &ops, &fj_platform_linux()->mem, FJ_TARGET_X86_64, 65536, 8, 16);
}
static int teardown(void **state) {
  (void)state;
  fj_cc_fini(&cc);
  return 0;
}

static uint32_t run(uint64_t entry, fj_jit_state *st) {
  memset(st, 0, sizeof *st);
  st->r[1] = 30;
  st->r[2] = 12;
  st->budget = 1000;
  left_word = 999999;
  stop_flag = false;
  cur_st = st;
  return fj_arch_enter(st, (const void *)(uintptr_t)entry, &stop_flag, &left_word);
}

static void test_run_helper_trace(void **state) {
  (void)state;
  if (fj_arch_target() != FJ_TARGET_X86_64) skip();
  bu_blob b = helper_trace();
  fj_blob_view v;
  uint64_t entry = install(&b, &v);
  fj_jit_state st;
  helper_mode = 0;
  uint32_t id = run(entry, &st);
  assert_int_equal(id, 0);
  assert_int_equal(st.exit_id, 0);
  assert_int_equal(st.r[0], 43);
  assert_int_equal(st.exit_code, entry);
  assert_int_equal(st.call_exit, 1);
  assert_int_equal(seen_left, 1000);   /* FJ_RT_CALL gave the callee the trace's budget */
  assert_int_equal(st.budget, 995);    /* and took back what the callee left */
  assert_true(st.call_ret > entry && st.call_ret < entry + v.h.code_size);
  fj_cc_write_begin(&cc);
  fj_cc_free(&cc, cc.blocks[0].off);
  fj_cc_write_end(&cc);
  bu_free(&b);
}

static void test_deopt_after_invalidation(void **state) {
  (void)state;
  if (fj_arch_target() != FJ_TARGET_X86_64) skip();
  bu_blob b = helper_trace();
  fj_blob_view v;
  uint64_t entry = install(&b, &v);
  fj_jit_state st;
  helper_mode = 1;  /* frees the trace's code (int3-filled) while it waits for the helper */
  uint32_t id = run(entry, &st);
  assert_int_equal(id, 1);           /* the CALL exit */
  assert_int_equal(st.exit_id, 1);
  assert_int_equal(st.r[0], 42);     /* the helper's result, not 43 */
  assert_int_equal(cc.nblocks, 0);
  bu_free(&b);

  b = helper_trace();
  entry = install(&b, &v);
  helper_mode = 2;  /* the helper stops the program: the trace is left at once */
  id = run(entry, &st);
  assert_int_equal(id, 1);
  assert_int_equal(st.r[0], 43);
  helper_mode = 0;
  fj_cc_write_begin(&cc);
  fj_cc_free(&cc, cc.blocks[0].off);
  fj_cc_write_end(&cc);
  bu_free(&b);
}

/* Symbols 3 GiB from the arena: REL32 must go through island slots (one per symbol). */
static fj_codecache c2;
static uint64_t far_addr(void *ud, uint8_t sym, uint32_t id) {
  (void)ud;
  return sym == FJ_SYM_HELPER ? fj_cc_va(&c2, 0) + 0xc0000000ull + id * 0x1000ull : 0;
}
static uint64_t c2_veneer(void *ud, uint64_t addr) { (void)ud; return fj_cc_veneer(&c2, addr); }

static void test_island_and_range(void **state) {
  (void)state;
  fj_jit_exec_ops ops = fj_jit_linux_exec(FJ_JIT_EXEC_DUAL);
  assert_int_equal(fj_cc_init(&c2, &ops, &fj_platform_linux()->mem, FJ_TARGET_X86_64, 8192, 2, 4), 0);
  assert_ptr_not_equal(c2.rw, c2.rx);
  bu_x86 a;
  memset(&a, 0, sizeof a);
  uint32_t calls[3];
  const uint32_t ids[3] = {1, 2, 1};
  for (int i = 0; i < 3; i++) {
    BX(&a, "\xe8");
    calls[i] = a.n;
    bx_reloc(&a, a.n, FJ_RELOC_REL32, FJ_SYM_HELPER, ids[i], 0);
    bx_u32(&a, 0);
  }
  bx_exit_ret(&a, 0, 1, FJ_EXIT_STOP);
  bu_blob b = bx_blob(&a, 0, FJ_TRACE_LOOP);
  fj_blob_expect e = {FJ_TARGET_X86_64, 0, FJ_BLOB_ANY_PC, 0, 0, 100, NULL, NULL};
  fj_blob_view v;
  assert_int_equal(fj_blob_check(b.p, b.len, &e, &v), 0);
  assert_int_equal(fj_cc_write_begin(&c2), 0);
  uint32_t off;
  assert_int_equal(fj_cc_alloc(&c2, v.h.code_size, &b, &off), 0);
  assert_int_equal(off, c2.island_end);
  memcpy(fj_cc_rw(&c2, off), v.code, v.h.code_size);
  fj_link_site sites[4];
  uint32_t n;
  fj_link_env env = {FJ_TARGET_X86_64, far_addr, c2_veneer, NULL};
  assert_int_equal(fj_link_relocate(&env, &v, fj_cc_rw(&c2, off), fj_cc_va(&c2, off), sites, &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(c2.slots_used, 2);  /* helper 1 twice: one slot */
  for (int i = 0; i < 3; i++) {
    uint64_t P = fj_cc_va(&c2, off + calls[i]);
    uint64_t dest = P + 4 + (uint64_t)(int64_t)(int32_t)rd32(fj_cc_rw(&c2, off + calls[i]));
    uint64_t slot = fj_cc_va(&c2, (ids[i] - 1) * 16);
    assert_int_equal(dest, slot);
    /* the slot jumps to the symbol: jmp [rip+0]; .quad */
    uint64_t to;
    memcpy(&to, c2.rw + (ids[i] - 1) * 16 + 6, 8);
    assert_int_equal(to, far_addr(NULL, FJ_SYM_HELPER, ids[i]));
    /* the same bytes are visible through the executable view */
    assert_memory_equal(c2.rx + (ids[i] - 1) * 16, c2.rw + (ids[i] - 1) * 16, 16);
  }
  /* a third symbol: the island (2 slots) is full, the link fails */
  fj_blob_reloc *r = (fj_blob_reloc *)(void *)(b.p + b.h->reloc_off);
  r[0].target = 3;
  bu_crc(&b);
  assert_int_equal(fj_blob_check(b.p, b.len, &e, &v), 0);
  assert_int_equal(fj_link_relocate(&env, &v, fj_cc_rw(&c2, off), fj_cc_va(&c2, off), sites, &n),
                   FJ_ERANGE);
  /* an absolute field keeps the far address without a veneer; a non-zero addend cannot use one */
  r[0].target = 1;
  r[1].addend = 4;
  bu_crc(&b);
  assert_int_equal(fj_blob_check(b.p, b.len, &e, &v), 0);
  assert_int_equal(fj_link_relocate(&env, &v, fj_cc_rw(&c2, off), fj_cc_va(&c2, off), sites, &n),
                   FJ_ERANGE);
  assert_int_equal(fj_cc_write_end(&c2), 0);
  bu_free(&b);
  fj_cc_fini(&c2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_encodings),
      cmocka_unit_test_setup_teardown(test_run_helper_trace, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deopt_after_invalidation, setup, teardown),
      cmocka_unit_test(test_island_and_range),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
