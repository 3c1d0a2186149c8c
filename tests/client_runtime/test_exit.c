/* Exit handling: inlined frames written by machine code are pushed on the interpreter's frame
 * stack and the callee finishes in the interpreter; FJ_RT_CALL_LOCAL runs a function in a nested
 * interpreter on the right frame with exact budget; a broken exit id stops the run with a
 * message; the division entry points follow eBPF semantics. */
#include "tests/client_runtime/vm_test_util.h"

#include <limits.h>

#include "client_runtime/jit_internal.h"
#include "farjit/client.h"
#include "farjit/client_linux.h"
#include "farjit/target.h"
#include "tests/client_runtime/blob_util.h"
#include "tools/asm.h"

/* ---- a one-queue fake transport ------------------------------------------------------------- */

typedef bu_blob (*maker)(const fj_jit_request *rq);
static maker g_make;
static fj_jit_request g_q[16];
static int g_nq;
static bu_blob g_out;

static int x_submit(void *ud, const fj_jit_request *rq) {
  (void)ud;
  if (g_nq == 16) return FJ_EBUSY;
  g_q[g_nq] = *rq;
  g_q[g_nq++].trace = NULL;
  return 0;
}
static int x_poll(void *ud, fj_jit_result *res) {
  (void)ud;
  if (!g_nq) return 0;
  fj_jit_request rq = g_q[0];
  memmove(&g_q[0], &g_q[1], (size_t)(--g_nq) * sizeof g_q[0]);
  res->id = rq.id;
  g_out = g_make(&rq);
  res->blob = g_out.p;
  res->blob_len = g_out.len;
  return 1;
}
static void x_release(void *ud, fj_jit_result *res) {
  (void)ud, (void)res;
  bu_free(&g_out);
}

/* A trace that exits at once (used for spots the test does not care about). */
static bu_blob stop_blob(const fj_jit_request *rq) {
  bu_x86 a;
  memset(&a, 0, sizeof a);
  bx_exit_ret(&a, 0, rq->start_pc, FJ_EXIT_STOP);
  return bx_blob(&a, rq->start_pc, rq->kind);
}

static const char *CALL_SRC =
    "mov %r6, 0\n"          /* 0 */
    "mov %r7, 0\n"          /* 1 */
    "l:\n"
    "mov %r1, %r6\n"        /* 2 */
    "call local f\n"        /* 3 */
    "add %r7, %r0\n"        /* 4 */
    "add %r6, 1\n"          /* 5 */
    "jlt %r6, 20, l\n"      /* 6 */
    "mov %r0, %r7\n"        /* 7 */
    "exit\n"                /* 8 */
    "f:\n"
    "mov %r0, %r1\n"        /* 9 */
    "mul %r0, 3\n"          /* 10 */
    "exit\n";               /* 11 */

/* pc 2: r1 = r6, the call inlined, `mov r0, r1` done, then exit inside f at pc 10 with one
 * frame {saved r6-r9, fp = r10, ret_pc 4} and r10 = the callee's frame. */
static bu_blob frame_blob(const fj_jit_request *rq) {
  if (rq->start_pc != 2) return stop_blob(rq);
  bu_x86 a;
  memset(&a, 0, sizeof a);
  bx_loop l = bx_loop_open(&a, 3);
  BX(&a, "\x48\x8b\x43\x30\x48\x89\x43\x08");              /* r1 = r6 */
  static const uint8_t regs[5] = {48, 56, 64, 72, 80};     /* r6..r9, r10 -> frames[0] */
  for (int i = 0; i < 5; i++) {
    uint8_t ld[4] = {0x48, 0x8b, 0x43, regs[i]};
    bx_bytes(&a, (const char *)ld, 4);
    uint8_t stf[7] = {0x48, 0x89, 0x83, (uint8_t)(144 + 8 * i), 0, 0, 0};  /* mov [rbx+disp32], rax */
    bx_bytes(&a, (const char *)stf, 7);
  }
  BX(&a, "\xc7\x83\xb8\x00\x00\x00\x04\x00\x00\x00");      /* frames[0].ret_pc = 4 */
  BX(&a, "\x48\x81\x6b\x50\x00\x02\x00\x00");              /* r10 -= 512 */
  BX(&a, "\x48\x8b\x43\x08\x48\x89\x03");                  /* r0 = r1 */
  BX(&a, "\x48\x83\x6b\x68\x03");                          /* budget -= 3 */
  BX(&a, "\xc7\x83\x88\x00\x00\x00\x01\x00\x00\x00");      /* st->nframes = 1 */
  bx_loop_close(&a, l, 10, 2);
  a.ex[0].nframes = 1;
  return bx_blob(&a, 2, FJ_TRACE_LOOP);
}

/* pc 2: the whole loop, calling f through FJ_RT_CALL -> FJ_RT_CALL_LOCAL(st, 9). */
static bu_blob call_local_blob(const fj_jit_request *rq) {
  if (rq->start_pc != 2) return stop_blob(rq);
  bu_x86 a;
  memset(&a, 0, sizeof a);
  bx_loop l = bx_loop_open(&a, 8);
  BX(&a, "\x48\x8b\x43\x30\x48\x89\x43\x08");              /* r1 = r6 */
  BX(&a, "\x48\x83\x6b\x68\x02");                          /* budget -= 2 (mov, call) */
  BX(&a, "\xc7\x83\x84\x00\x00\x00\x02\x00\x00\x00");      /* call_exit = 2 */
  BX(&a, "\x48\x8d\x05");
  bx_u32(&a, (uint32_t)(-(int32_t)(a.n + 4)));
  BX(&a, "\x48\x89\x43\x70");                              /* exit_code = base */
  BX(&a, "\xc7\x83\x88\x00\x00\x00\x00\x00\x00\x00");      /* nframes = 0 */
  BX(&a, "\x48\x89\xdf\xbe\x09\x00\x00\x00");              /* rdi = st; esi = 9 */
  BX(&a, "\x48\xb8");
  bx_reloc(&a, a.n, FJ_RELOC_ABS64, FJ_SYM_RUNTIME, FJ_RT_CALL_LOCAL, 0);
  bx_u64(&a, 0);
  BX(&a, "\xe8");
  bx_reloc(&a, a.n, FJ_RELOC_REL32, FJ_SYM_RUNTIME, FJ_RT_CALL, 0);
  bx_u32(&a, 0);
  BX(&a, "\x48\x89\x03\x48\x01\x43\x38");                  /* r0 = rax; r7 += rax */
  BX(&a, "\x48\x83\x43\x30\x01");                          /* r6 += 1 */
  BX(&a, "\x48\x83\x6b\x68\x03");                          /* budget -= 3 */
  BX(&a, "\x48\x83\x7b\x30\x14");                          /* cmp qword [rbx+48], 20 */
  bx_jb(&a, l.head);
  bx_loop_close(&a, l, 7, 2);
  fj_blob_exit ce = {4, FJ_BLOB_NO_PATCH, FJ_EXIT_CALL, 0, 2};
  a.ex[a.nex++] = ce;
  return bx_blob(&a, 2, FJ_TRACE_LOOP);
}

/* pc 2: claims exit 7 of a blob that has one exit. */
static bu_blob bad_exit_blob(const fj_jit_request *rq) {
  if (rq->start_pc != 2) return stop_blob(rq);
  bu_x86 a;
  memset(&a, 0, sizeof a);
  bx_exit_ret(&a, 7, 2, FJ_EXIT_GUARD);
  return bx_blob(&a, 2, FJ_TRACE_LOOP);
}

typedef struct res {
  int rc;
  uint64_t r0, insns;
  fj_jit_stats js;
  fj_vm_stats vs;
  char msg[256];
} res;

static res run_with(maker m, bool jit_on, int runs) {
  g_make = m;
  g_nq = 0;
  fj_insn *p = NULL;
  size_t n;
  char err[128];
  if (fj_asm(CALL_SRC, &p, &n, err, sizeof err)) fail_msg("asm: %s", err);
  fj_vm *vm = tu_vm();
  tu_load(vm, p, n);
  fj_jit *jit = NULL;
  if (jit_on) {
    fj_jit_config c;
    memset(&c, 0, sizeof c);
    c.hot_threshold = 1;
    c.flags = FJ_JIT_NO_BRIDGES;
    fj_jit_env e;
    memset(&e, 0, sizeof e);
    e.exec = fj_jit_linux_exec(FJ_JIT_EXEC_FLIP);
    e.transport = (fj_jit_transport){.submit = x_submit, .poll = x_poll, .release = x_release};
    jit = fj_jit_create(vm, &c, &e, NULL);
    assert_non_null(jit);
  }
  res r;
  memset(&r, 0, sizeof r);
  for (int i = 0; i < runs; i++) {
    fj_vm_reset_stats(vm);
    r.rc = fj_vm_run(vm, 0, NULL, 0, &r.r0);
    if (r.rc) snprintf(r.msg, sizeof r.msg, "%s", fj_vm_errmsg(vm));
    if (r.rc) break;
  }
  fj_vm_get_stats(vm, &r.vs);
  r.insns = r.vs.insns_interp + r.vs.insns_native;
  if (jit) {
    fj_jit_get_stats(jit, &r.js);
    fj_jit_destroy(jit);
  }
  fj_vm_destroy(vm);
  free(p);
  return r;
}

static void test_inlined_frame_pushed(void **state) {
  (void)state;
  if (fj_jit_host_target() != FJ_TARGET_X86_64) skip();
  res want = run_with(NULL, false, 1);
  assert_int_equal(want.r0, 570);
  res got = run_with(frame_blob, true, 3);
  assert_int_equal(got.rc, 0);
  assert_int_equal(got.r0, 570);
  assert_true(got.vs.insns_native > 0);
  assert_int_equal(got.insns, want.insns);  /* the callee finished in the interpreter, exactly */
  assert_true(got.js.exits_taken >= 19);
}

static void test_call_local(void **state) {
  (void)state;
  if (fj_jit_host_target() != FJ_TARGET_X86_64) skip();
  res want = run_with(NULL, false, 1);
  res got = run_with(call_local_blob, true, 3);
  assert_int_equal(got.rc, 0);
  assert_int_equal(got.r0, want.r0);
  assert_true(got.vs.insns_native > 0);
  /* f ran in nested interpreter runs, counted as the interpreter counts its calls */
  assert_true(got.vs.local_calls >= 19);
  assert_int_equal(got.vs.local_calls, want.vs.local_calls);
  assert_int_equal(got.vs.callbacks, 0);
  assert_int_equal(got.insns, want.insns);   /* budget handed over and taken back exactly */
}

static void test_unknown_exit(void **state) {
  (void)state;
  if (fj_jit_host_target() != FJ_TARGET_X86_64) skip();
  res got = run_with(bad_exit_blob, true, 3);
  assert_int_equal(got.rc, FJ_EBADBLOB);
  assert_contains(got.msg, "machine code left through an unknown exit");
  /* the entry counted, the exit did not (fj_jit_get_stats derives both) */
  assert_true(got.js.trace_entries > 0);
  assert_int_equal(got.js.exits_taken, got.js.trace_entries - 1);
}

static void test_division_entries(void **state) {
  (void)state;
  uint64_t (*udiv)(uint64_t, uint64_t) = (uint64_t (*)(uint64_t, uint64_t))(uintptr_t)fj_jit_rt_addr(FJ_RT_UDIV64);
  uint64_t (*umod)(uint64_t, uint64_t) = (uint64_t (*)(uint64_t, uint64_t))(uintptr_t)fj_jit_rt_addr(FJ_RT_UMOD64);
  int64_t (*sdiv)(int64_t, int64_t) = (int64_t (*)(int64_t, int64_t))(uintptr_t)fj_jit_rt_addr(FJ_RT_SDIV64);
  int64_t (*smod)(int64_t, int64_t) = (int64_t (*)(int64_t, int64_t))(uintptr_t)fj_jit_rt_addr(FJ_RT_SMOD64);
  assert_int_equal(udiv(7, 0), 0);
  assert_int_equal(udiv(UINT64_MAX, 2), UINT64_MAX / 2);
  assert_int_equal(umod(7, 0), 7);
  assert_int_equal(umod(7, 3), 1);
  assert_true(sdiv(INT64_MIN, -1) == INT64_MIN);
  assert_true(sdiv(-7, 2) == -3);
  assert_true(sdiv(5, 0) == 0);
  assert_true(smod(INT64_MIN, -1) == 0);
  assert_true(smod(-7, 2) == -1);
  assert_true(smod(-7, 0) == -7);
  assert_int_equal(fj_jit_rt_addr(0), 0);
  assert_int_equal(fj_jit_rt_addr(FJ_RT__MAX + 1), 0);
  assert_true(fj_jit_rt_addr(FJ_RT_CALL_LOCAL) != 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_inlined_frame_pushed),
      cmocka_unit_test(test_call_local),
      cmocka_unit_test(test_unknown_exit),
      cmocka_unit_test(test_division_entries),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
