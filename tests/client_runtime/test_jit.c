/* JIT runtime tests with a fake transport that answers compile requests with hand-assembled
 * x86-64 blobs (real executable memory): install and run, budget accounting, failure paths
 * (no server, refusals, compile errors, corrupt blobs: same results, bounded retries), bridges,
 * eviction and invalidation while a call out of the trace is live (return-address rewriting). */
#include "tests/client_runtime/vm_test_util.h"

#include "client_runtime/arch.h"
#include "client_runtime/blob_check.h"
#include "client_runtime/jit_internal.h"
#include "farjit/client.h"
#include "farjit/client_linux.h"
#include "tests/client_runtime/blob_util.h"
#include "tools/asm.h"

/* ---- fake transport ------------------------------------------------------------------------ */

enum { F_SERVE, F_REFUSE, F_ERROR, F_CORRUPT };

typedef bu_blob (*blob_maker)(const fj_jit_request *rq);

typedef struct fake {
  int mode;
  uint32_t hold_pc;      /* results for this start pc wait until `released` */
  bool released;
  int submits;
  blob_maker make;
  struct {
    fj_jit_request rq;
    fj_trace_header h;
    bool used;
  } q[32];
  bu_blob out[32];
} fake;

static fake F;

static int f_submit(void *ud, const fj_jit_request *rq) {
  (void)ud;
  F.submits++;
  if (F.mode == F_REFUSE) return FJ_ECONN;
  assert_true(rq->trace_len >= fj_trace_size(1));
  for (int i = 0; i < 32; i++) {
    if (F.q[i].used) continue;
    F.q[i].used = true;
    F.q[i].rq = *rq;
    F.q[i].rq.trace = NULL;
    memcpy(&F.q[i].h, rq->trace, sizeof F.q[i].h);
    assert_int_equal(F.q[i].h.start_pc, rq->start_pc);
    assert_int_equal(F.q[i].h.kind, rq->kind);
    assert_int_equal(F.q[i].h.parent_id, rq->parent_id);
    assert_int_equal(rq->trace_len, fj_trace_size(F.q[i].h.nrecs));
    return 0;
  }
  return FJ_EBUSY;
}

static int f_poll(void *ud, fj_jit_result *res) {
  (void)ud;
  for (int i = 0; i < 32; i++) {
    if (!F.q[i].used || (F.q[i].rq.start_pc == F.hold_pc && !F.released)) continue;
    F.q[i].used = false;
    res->id = F.q[i].rq.id;
    if (F.mode == F_ERROR) {
      res->status = FJ_ECOMPILE;
      snprintf(res->message, sizeof res->message, "test: unsupported op");
      return 1;
    }
    F.out[i] = F.make(&F.q[i].rq);
    if (F.mode == F_CORRUPT) F.out[i].p[F.out[i].len - 1] ^= 1;
    res->blob = F.out[i].p;
    res->blob_len = F.out[i].len;
    res->priv = &F.out[i];
    return 1;
  }
  return 0;
}

static void f_release(void *ud, fj_jit_result *res) {
  (void)ud;
  if (res->priv) bu_free(res->priv);
}

static char logbuf[1 << 16];
static size_t loglen;
static void f_log(void *ud, const char *line, size_t len) {
  (void)ud;
  if (loglen + len + 1 < sizeof logbuf) {
    memcpy(logbuf + loglen, line, len);
    loglen += len;
    logbuf[loglen++] = '\n';
    logbuf[loglen] = 0;
  }
}

static fj_jit_env env_of(bool transport) {
  fj_jit_env e;
  memset(&e, 0, sizeof e);
  e.exec = fj_jit_linux_exec(FJ_JIT_EXEC_FLIP);
  if (transport) e.transport = (fj_jit_transport){.submit = f_submit, .poll = f_poll, .release = f_release};
  e.log = f_log;
  return e;
}

static void fake_reset(blob_maker make) {
  memset(&F, 0, sizeof F);
  F.make = make;
  F.hold_pc = UINT32_MAX;
  loglen = 0;
  logbuf[0] = 0;
}

/* ---- blobs --------------------------------------------------------------------------------- */

/* Null trace: leaves at once through exit 0 resuming at its start pc (a GUARD exit, so that it
 * gets hot and wants a bridge; bridges end with STOP, or every bridge would get a bridge). */
static bu_blob null_blob(const fj_jit_request *rq) {
  bu_x86 a;
  memset(&a, 0, sizeof a);
  bx_exit_ret(&a, 0, rq->start_pc, rq->kind == FJ_TRACE_BRIDGE ? FJ_EXIT_STOP : FJ_EXIT_GUARD);
  bu_blob b = bx_blob(&a, rq->start_pc, rq->kind);
  b.h->parent_id = rq->parent_id;
  b.h->parent_exit = rq->parent_exit;
  bu_crc(&b);
  return b;
}

static const char *SUM_SRC =
    "mov %r0, 0\n"
    "mov %r1, 0\n"
    "loop:\n"
    "add %r0, %r1\n"         /* 2 */
    "add %r1, 1\n"           /* 3 */
    "jlt %r1, 1000, loop\n"  /* 4 */
    "exit\n";                /* 5 */

/* The loop at pc 2 of SUM_SRC, working on st memory: exit 0 GUARD at pc 5, exit 1 BUDGET. */
static bu_blob sum_blob(const fj_jit_request *rq) {
  if (rq->start_pc != 2) return null_blob(rq);
  bu_x86 a;
  memset(&a, 0, sizeof a);
  bx_loop l = bx_loop_open(&a, 3);
  BX(&a, "\x48\x8b\x43\x08");              /* mov rax, [rbx+8] */
  BX(&a, "\x48\x01\x43\x00");              /* add [rbx+0], rax */
  BX(&a, "\x48\x83\x43\x08\x01");          /* add qword [rbx+8], 1 */
  BX(&a, "\x48\x83\x6b\x68\x03");          /* sub qword [rbx+104], 3 */
  BX(&a, "\x48\x8b\x43\x08");              /* mov rax, [rbx+8] */
  BX(&a, "\x48\x3d\xe8\x03\x00\x00");      /* cmp rax, 1000 */
  bx_jb(&a, l.head);
  bx_loop_close(&a, l, 5, 2);
  return bx_blob(&a, 2, FJ_TRACE_LOOP);
}

/* ---- helpers ------------------------------------------------------------------------------- */

static fj_insn *prog_of(const char *text, size_t *n) {
  fj_insn *p = NULL;
  char err[128];
  if (fj_asm(text, &p, n, err, sizeof err)) fail_msg("asm: %s", err);
  return p;
}

static uint64_t plain(const fj_insn *p, size_t n, fj_vm_stats *st, void (*reg)(fj_vm *)) {
  fj_vm *vm = tu_vm();
  if (reg) reg(vm);
  uint64_t r0 = tu_run_mem(vm, p, n, NULL, 0);
  if (st) fj_vm_get_stats(vm, st);
  fj_vm_destroy(vm);
  return r0;
}

static fj_jit_config cfg_of(uint16_t thr) {
  fj_jit_config c;
  memset(&c, 0, sizeof c);
  c.hot_threshold = thr;
  c.max_attempts = 3;
  return c;
}

static uint64_t jrun(fj_vm *vm, int *rc) {
  uint64_t r0 = 0;
  *rc = fj_vm_run(vm, 0, NULL, 0, &r0);
  return r0;
}

static void log_show(void) {
  if (getenv("FJ_TEST_LOG")) fprintf(stderr, "%s", logbuf);
}

/* ---- fixture: one program, its interpreted reference, a VM with the runtime attached ------- */

typedef struct jfix {
  fj_insn *p;
  size_t n;
  uint64_t want;    /* r0 of a plain interpreted run */
  fj_vm_stats ps;   /* and its statistics */
  fj_vm *vm;        /* a fresh VM, helpers registered, p loaded */
  fj_jit_config c;  /* cfg_of(1) and env_of(true): tests adjust them before jfix_attach */
  fj_jit_env e;
  fj_jit *jit;
  int rc;           /* of the last run */
} jfix;

/* Resets the fake transport to serve `make`, assembles src and runs it once without the JIT. */
static void jfix_open(jfix *f, blob_maker make, const char *src, void (*reg)(fj_vm *)) {
  memset(f, 0, sizeof *f);
  fake_reset(make);
  f->p = prog_of(src, &f->n);
  f->want = plain(f->p, f->n, &f->ps, reg);
  f->vm = tu_vm();
  if (reg) reg(f->vm);
  tu_load(f->vm, f->p, f->n);
  f->c = cfg_of(1);
  f->e = env_of(true);
}

static fj_jit *jfix_attach(jfix *f) {
  f->jit = fj_jit_create(f->vm, &f->c, &f->e, NULL);
  assert_non_null(f->jit);
  return f->jit;
}

/* One run from pc 0 with the JIT: it must return what the interpreter alone returned. */
static void jfix_run_same(jfix *f) {
  assert_int_equal(jrun(f->vm, &f->rc), f->want);
}

static fj_jit_stats jfix_stats(const jfix *f) {
  fj_jit_stats s;
  fj_jit_get_stats(f->jit, &s);
  return s;
}

/* The VM's statistics since they were last reset, with every instruction of the reference run
 * counted exactly once, natively or by the interpreter. */
static fj_vm_stats jfix_counted_once(const jfix *f) {
  fj_vm_stats vs;
  fj_vm_get_stats(f->vm, &vs);
  assert_int_equal(vs.insns_interp + vs.insns_native, f->ps.insns_interp);
  return vs;
}

static void jfix_close(jfix *f) {
  fj_jit_destroy(f->jit);
  fj_vm_destroy(f->vm);
  free(f->p);
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_loop_runs_native(void **state) {
  (void)state;
  if (fj_jit_host_target() != FJ_TARGET_X86_64) skip();
  jfix f;
  jfix_open(&f, sum_blob, SUM_SRC, NULL);
  f.c.hot_threshold = 2;
  fj_jit *jit = jfix_attach(&f);
  jfix_run_same(&f);
  assert_int_equal(f.rc, 0);
  fj_jit_stats s = jfix_stats(&f);
  fj_vm_stats vs = jfix_counted_once(&f);
  log_show();
  assert_int_equal(s.traces_recorded, 1);
  assert_int_equal(s.traces_sent, 1);
  assert_int_equal(s.traces_installed, 1);
  assert_int_equal(s.trace_entries, 1);
  assert_int_equal(s.exits_taken, 1);
  assert_true(vs.insns_native > 2000);
  assert_true(fj_jit_has_trace(jit, 2));
  /* second run: entered at the first backward jump */
  jfix_run_same(&f);
  s = jfix_stats(&f);
  assert_int_equal(s.trace_entries, 2);
  /* the run's entry (pc 0) got hot too: recorded up to the loop's trace, where it links */
  assert_int_equal(s.traces_recorded, 2);
  assert_contains(logbuf, "ENTRY pc 0: recorded 2 instructions, ends LINK at pc 2");
  char text[2048];
  fj_jit_stats_format(jit, text, sizeof text);
  assert_contains(text, "jit: traces_installed 2");
  assert_contains(text, "jit: trace 1 LOOP pc 2");
  assert_contains(text, "0:GUARD@5x2");
  assert_contains(logbuf, "recorded 3 instructions, ends LOOP at pc 2");
  assert_contains(logbuf, "installed:");
  jfix_close(&f);
}

static void test_budget_exact(void **state) {
  (void)state;
  if (fj_jit_host_target() != FJ_TARGET_X86_64) skip();
  for (uint64_t limit = 1500; limit < 1504; limit++) {
    jfix f;
    jfix_open(&f, sum_blob, SUM_SRC, NULL);
    fj_vm_set_insn_limit(f.vm, limit);
    char want[256];
    snprintf(want, sizeof want, "%s", tu_run_fail(f.vm, f.p, f.n, NULL, 0, FJ_EBUDGET));
    jfix_attach(&f);
    jrun(f.vm, &f.rc);
    log_show();
    assert_int_equal(f.rc, FJ_EBUDGET);
    assert_string_equal(fj_vm_errmsg(f.vm), want);
    assert_true(jfix_stats(&f).traces_installed >= 1);
    jfix_close(&f);
  }
}

static void test_failures_keep_results(void **state) {
  (void)state;
  const int modes[] = {F_REFUSE, F_ERROR, F_CORRUPT, -1};
  for (int m = 0; m < 4; m++) {
    jfix f;
    jfix_open(&f, sum_blob, SUM_SRC, NULL);
    F.mode = modes[m];
    f.e = env_of(modes[m] >= 0);
    jfix_attach(&f);
    for (int run = 0; run < 5; run++) {
      jfix_run_same(&f);
      assert_int_equal(f.rc, 0);
    }
    fj_jit_stats s = jfix_stats(&f);
    assert_int_equal(s.traces_installed, 0);
    assert_int_equal(s.trace_entries, 0);
    switch (modes[m]) {
    case F_REFUSE:
      assert_true(s.send_failed > 0);
      assert_int_equal(s.blacklisted, 0);  /* no server is not the trace's fault */
      assert_true(F.submits < 200);        /* and backs off */
      break;
    case F_ERROR:
      /* two spots (the entry and the loop), max_attempts = 3 each, then never again */
      assert_int_equal(s.compile_failed, F.submits);
      assert_true(s.blacklisted >= 1);
      assert_true(F.submits <= 6);
      assert_int_equal(s.traces_recorded, F.submits);
      assert_contains(logbuf, "compile failed: trace compilation aborted: test: unsupported op");
      assert_contains(logbuf, "blacklisted");
      break;
    case F_CORRUPT:
      assert_true(s.traces_rejected >= 3 && s.traces_rejected <= 6);
      assert_int_equal(s.rejected_by[FJ_BLOB_REJECT_CRC], s.traces_rejected);
      assert_true(s.blacklisted >= 1);
      assert_contains(logbuf, "blob rejected: CRC-32 mismatch");
      break;
    default:
      assert_int_equal(s.traces_recorded, 0);  /* no compiler: nothing recorded */
      break;
    }
    jfix_close(&f);
  }
}

static void test_bridge_patched(void **state) {
  (void)state;
  if (fj_jit_host_target() != FJ_TARGET_X86_64) skip();
  jfix f;
  jfix_open(&f, null_blob, SUM_SRC, NULL);
  f.c.exit_threshold = 4;
  fj_jit *jit = jfix_attach(&f);
  jfix_run_same(&f);
  fj_jit_stats s = jfix_stats(&f);
  log_show();
  /* the null trace's guard exit got hot: a bridge was recorded from pc 2, compiled, patched */
  assert_int_equal(s.bridges_recorded, 1);
  assert_int_equal(s.bridges_installed, 1);
  assert_int_equal(s.traces_installed, 3);  /* the run's entry, the loop, the bridge */
  fj_jtrace *parent = NULL, *bridge = NULL;
  for (int i = 0; i < 3; i++) {
    if (jit->traces[i].kind == FJ_TRACE_LOOP) parent = &jit->traces[i];
    if (jit->traces[i].kind == FJ_TRACE_BRIDGE) bridge = &jit->traces[i];
  }
  assert_non_null(parent);
  assert_non_null(bridge);
  assert_int_equal(bridge->kind, FJ_TRACE_BRIDGE);
  assert_int_equal(bridge->parent_id, parent->id);
  assert_int_equal(parent->exits[0].bridge_id, bridge->id);
  uint32_t taken_parent = parent->exits[0].taken;
  uint32_t taken_bridge = bridge->exits[0].taken;
  assert_true(taken_bridge > 0);  /* exits now come from the bridge's code */
  jfix_run_same(&f);
  assert_int_equal(parent->exits[0].taken, taken_parent);
  assert_true(bridge->exits[0].taken > taken_bridge);
  /* invalidating the parent takes the bridge with it and restores the exit */
  assert_int_equal(fj_jit_invalidate(jit, 2), 1);
  s = jfix_stats(&f);
  assert_int_equal(s.invalidations, 2);
  assert_false(fj_jit_has_trace(jit, 2));
  assert_true(fj_jit_has_trace(jit, 0));  /* the entry trace stays */
  fj_jtrace *left = fj_jit_trace_at(jit, 0);
  assert_int_equal(s.code_bytes, left->code_size);
  jfix_run_same(&f);
  jfix_close(&f);
}

/* ---- trace selection: exits that link to a pc without a trace, exits onto trace heads ------ */

/* pc 1 is a loop header the interpreter never jumps back to (the branch is never taken). */
static const char *HEADER_SRC =
    "ja loop\n"
    "loop:\n"
    "add %r0, 1\n"          /* 1 */
    "jlt %r0, 0, loop\n"    /* 2: never taken */
    "exit\n";

/* the same, but the back edge is taken once */
static const char *HEADER2_SRC =
    "ja loop\n"
    "loop:\n"
    "add %r0, 1\n"
    "jlt %r0, 2, loop\n"
    "exit\n";

static uint32_t g_exit_kind;
/* The trace at pc 0 (after the `ja`, a no-op) leaves through exit 0 at pc 1 of kind g_exit_kind. */
static bu_blob exit_at1_blob(const fj_jit_request *rq) {
  if (rq->start_pc != 0) return null_blob(rq);
  bu_x86 a;
  memset(&a, 0, sizeof a);
  bx_exit_ret(&a, 0, 1, (uint16_t)g_exit_kind);
  return bx_blob(&a, rq->start_pc, rq->kind);  /* with its CRC */
}

/* A LINK exit to a loop header the interpreter never counts is that header's hot event. */
static void test_link_exit_counts_hot(void **state) {
  (void)state;
  if (fj_jit_host_target() != FJ_TARGET_X86_64) skip();
  jfix f;
  jfix_open(&f, exit_at1_blob, HEADER_SRC, NULL);
  g_exit_kind = FJ_EXIT_LINK;
  fj_jit *jit = jfix_attach(&f);
  for (int r = 0; r < 3; r++) jfix_run_same(&f);
  fj_jit_stats s = jfix_stats(&f);
  log_show();
  assert_int_equal(s.exit_hot_events, 1);
  assert_true(fj_jit_has_trace(jit, 0));
  assert_true(fj_jit_has_trace(jit, 1));  /* recorded from the exit, installed */
  jfix_close(&f);
}

/* pc 2 is the outer loop's header, pc 3 the header of a loop never taken. */
static const char *PENDING_SRC =
    "mov %r0, 0\n"
    "mov %r6, 0\n"
    "outer:\n"
    "add %r6, 1\n"            /* 2 */
    "inner:\n"
    "add %r0, 1\n"            /* 3 */
    "jlt %r0, 0, inner\n"     /* 4: never taken */
    "jlt %r6, 10, outer\n"    /* 5 */
    "exit\n";

/* The trace at pc 2 of PENDING_SRC does `add r6, 1` and leaves through a LINK exit at pc 3. */
static bu_blob add_link3_blob(const fj_jit_request *rq) {
  if (rq->start_pc != 2) return null_blob(rq);
  bu_x86 a;
  memset(&a, 0, sizeof a);
  BX(&a, "\x48\x83\x47\x30\x01");  /* add qword [rdi+48], 1: r6 */
  BX(&a, "\x48\x83\x6f\x68\x01");  /* sub qword [rdi+104], 1: one instruction */
  bx_exit_ret(&a, 0, 3, FJ_EXIT_LINK);
  return bx_blob(&a, rq->start_pc, rq->kind);  /* with its CRC */
}

/* A LINK exit's hot event at a pc whose trace is still being compiled (the spot answers "nothing
 * to do"): machine code ran all the same, so the interpreter must resume from the exit, not
 * where it entered the trace (it used to run `add r6, 1` a second time). */
static void test_link_exit_to_pending_spot(void **state) {
  (void)state;
  if (fj_jit_host_target() != FJ_TARGET_X86_64) skip();
  jfix f;
  jfix_open(&f, add_link3_blob, PENDING_SRC, NULL);
  F.hold_pc = 3;  /* the trace recorded at pc 3 stays pending */
  fj_jit *jit = jfix_attach(&f);
  for (int r = 0; r < 3; r++) {
    fj_vm_reset_stats(f.vm);
    jfix_run_same(&f);
    assert_int_equal(f.rc, 0);
    jfix_counted_once(&f);
  }
  fj_jit_stats s = jfix_stats(&f);
  log_show();
  assert_true(s.exit_hot_events >= 2);  /* the exit counted hot events while pc 3 was pending */
  assert_true(fj_jit_has_trace(jit, 2));
  assert_false(fj_jit_has_trace(jit, 3));
  jfix_close(&f);
}

/* A hot side exit resuming where another root trace starts is patched onto that trace (no
 * bridge); invalidating the target restores the exit. */
static void test_exit_linked_to_trace(void **state) {
  (void)state;
  if (fj_jit_host_target() != FJ_TARGET_X86_64) skip();
  jfix f;
  jfix_open(&f, exit_at1_blob, HEADER2_SRC, NULL);
  g_exit_kind = FJ_EXIT_GUARD;
  f.c.exit_threshold = 2;
  fj_jit *jit = jfix_attach(&f);
  /* run 1 records pc 0, run 2 enters it and records pc 1 (its back edge is taken once), run 3
   * installs that trace and the exit, taken a second time, is linked to it */
  for (int r = 0; r < 3; r++) jfix_run_same(&f);
  assert_true(fj_jit_has_trace(jit, 0));
  assert_true(fj_jit_has_trace(jit, 1));
  fj_jtrace *t0 = fj_jit_trace_at(jit, 0), *t1 = fj_jit_trace_at(jit, 1);
  fj_jit_stats s = jfix_stats(&f);
  log_show();
  assert_int_equal(s.exits_linked, 1);
  assert_int_equal(t0->exits[0].bridge_id, t1->id);  /* patched onto trace 1, not bridged */
  uint32_t taken = t0->exits[0].taken;
  assert_int_equal(taken, 2);                /* then the patched jump takes over */
  jfix_run_same(&f);
  assert_int_equal(t0->exits[0].taken, taken);
  assert_int_equal(fj_jit_invalidate(jit, 1), 1);
  assert_int_equal(t0->exits[0].bridge_id, 0);
  assert_int_equal(t0->exits[0].state, FJ_EXIT_IDLE);
  jfix_run_same(&f);
  assert_int_equal(t0->exits[0].taken, taken + 1);  /* back to the runtime */
  jfix_close(&f);
}

/* ---- live calls: invalidation and eviction from inside a helper ----------------------------- */

static fj_jit *g_jit;
static int g_action;  /* 1: invalidate all at i == 5; 2: run callback at pc g_cb at i == 5 */
static uint32_t g_cb;

static uint64_t h_double(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5, fj_vm *vm) {
  (void)r2, (void)r3, (void)r4, (void)r5;
  if (r1 == 5 && g_jit) {
    if (g_action == 1) fj_jit_invalidate(g_jit, FJ_JIT_ALL);
    if (g_action == 2) {
      F.released = true;  /* the held result arrives; the callback's hot loop installs it */
      uint64_t args[5] = {0}, r0 = 0;
      assert_int_equal(fj_vm_call(vm, g_cb, args, &r0), 0);
    }
  }
  return r1 * 2;
}
static void reg_double(fj_vm *vm) { assert_int_equal(fj_vm_register_helper(vm, 4243, "double", h_double), 0); }

static const char *CALL_SRC =
    "lddw %r9, cb\n"         /* 0-1: makes cb a function (callback target) */
    "mov %r8, 0\n"            /* 2 */
    "b:\n"
    "add %r8, 1\n"            /* 3: loop B */
    "jlt %r8, 3, b\n"         /* 4 */
    "mov %r6, 0\n"            /* 5 */
    "mov %r7, 0\n"            /* 6 */
    "a:\n"
    "mov %r1, %r6\n"          /* 7: loop A */
    "call 4243\n"             /* 8 */
    "add %r7, %r0\n"          /* 9 */
    "add %r6, 1\n"            /* 10 */
    "jlt %r6, 10, a\n"        /* 11 */
    "mov %r0, %r7\n"          /* 12 */
    "add %r0, %r8\n"          /* 13 */
    "exit\n"                  /* 14 */
    "cb:\n"
    "mov %r0, 0\n"            /* 15 */
    "c:\n"
    "add %r0, 1\n"            /* 16 */
    "jlt %r0, 3, c\n"         /* 17 */
    "mov %r0, 0\n"            /* 18 */
    "exit\n";                 /* 19 */

/* Loop A (pc 7) on st memory, calling helper 4243 through FJ_RT_CALL; CALL exit 2 at pc 9. */
static bu_blob call_blob(const fj_jit_request *rq) {
  if (rq->start_pc != 7) return null_blob(rq);
  bu_x86 a;
  memset(&a, 0, sizeof a);
  bx_loop l = bx_loop_open(&a, 5);
  BX(&a, "\x48\x8b\x43\x30\x48\x89\x43\x08");  /* mov rax, [rbx+48]; mov [rbx+8], rax */
  BX(&a, "\x48\x83\x6b\x68\x02");              /* budget -= 2 (mov, call) */
  BX(&a, "\xc7\x83\x84\x00\x00\x00\x02\x00\x00\x00");  /* st->call_exit = 2 */
  BX(&a, "\x48\x8d\x05");
  bx_u32(&a, (uint32_t)(-(int32_t)(a.n + 4)));
  BX(&a, "\x48\x89\x43\x70");                  /* st->exit_code = base */
  BX(&a, "\x48\x8b\x7b\x08\x48\x8b\x73\x10\x48\x8b\x53\x18\x48\x8b\x4b\x20\x4c\x8b\x43\x28");
  BX(&a, "\x4c\x8b\x4b\x60");                  /* r9 = vm */
  BX(&a, "\x48\xb8");
  bx_reloc(&a, a.n, FJ_RELOC_ABS64, FJ_SYM_HELPER, 4243, 0);
  bx_u64(&a, 0);
  BX(&a, "\xe8");
  bx_reloc(&a, a.n, FJ_RELOC_REL32, FJ_SYM_RUNTIME, FJ_RT_CALL, 0);
  bx_u32(&a, 0);
  BX(&a, "\x48\x89\x03");                      /* r0 = rax */
  BX(&a, "\x48\x01\x43\x38");                  /* r7 += rax */
  BX(&a, "\x48\x83\x43\x30\x01");              /* r6 += 1 */
  BX(&a, "\x48\x83\x6b\x68\x03");              /* budget -= 3 */
  BX(&a, "\x48\x83\x7b\x30\x0a");              /* cmp qword [rbx+48], 10 */
  bx_jb(&a, l.head);
  bx_loop_close(&a, l, 12, 7);
  fj_blob_exit ce = {9, FJ_BLOB_NO_PATCH, FJ_EXIT_CALL, 0, 2};
  a.ex[a.nex++] = ce;
  return bx_blob(&a, 7, FJ_TRACE_LOOP);
}

static void live_call_case(int action, uint32_t max_traces) {
  g_jit = NULL;  /* h_double acts only once the runtime is attached */
  jfix f;
  jfix_open(&f, call_blob, CALL_SRC, reg_double);
  f.c.max_traces = max_traces;
  f.c.flags = FJ_JIT_NO_BRIDGES;
  g_jit = jfix_attach(&f);
  g_action = action;
  g_cb = 15;
  if (action == 2) F.hold_pc = 3;  /* loop B's trace arrives only inside the callback */
  jfix_run_same(&f);
  assert_int_equal(f.rc, 0);
  fj_jit_stats s = jfix_stats(&f);
  fj_vm_stats vs;
  fj_vm_get_stats(f.vm, &vs);
  assert_int_equal(s.deopts, 1);
  assert_true(vs.insns_native > 0);
  if (action == 1) assert_true(s.invalidations >= 1);
  if (action == 2) assert_true(s.evictions >= 1);
  assert_contains(logbuf, "live call deoptimized, resumes at pc 9");
  /* a second run still agrees */
  g_action = 0;
  jfix_run_same(&f);
  g_jit = NULL;
  jfix_close(&f);
}

static void test_invalidate_during_call(void **state) {
  (void)state;
  if (fj_jit_host_target() != FJ_TARGET_X86_64) skip();
  live_call_case(1, 0);
}

static void test_evict_during_callback(void **state) {
  (void)state;
  if (fj_jit_host_target() != FJ_TARGET_X86_64) skip();
  live_call_case(2, 1);
}

/* pc 0 (ENTRY): r0 = r1 = 0, then a TRACE link to pc 2 (initially its own LINK exit). */
static bu_blob link_blob(const fj_jit_request *rq) {
  if (rq->start_pc != 0) return sum_blob(rq);
  bu_x86 a;
  memset(&a, 0, sizeof a);
  BX(&a, "\x48\xc7\x07\x00\x00\x00\x00");              /* mov qword [rdi], 0 */
  BX(&a, "\x48\xc7\x47\x08\x00\x00\x00\x00");          /* mov qword [rdi+8], 0 */
  BX(&a, "\x48\x83\x6f\x68\x02");                      /* budget -= 2 */
  BX(&a, "\xe9");
  uint32_t site = a.n;
  bx_reloc(&a, site, FJ_RELOC_REL32, FJ_SYM_TRACE, 2, 0);
  bx_u32(&a, 0);
  bx_fix_jmp(&a, site, a.n);                           /* -> the local exit below */
  bx_exit_ret(&a, 0, 2, FJ_EXIT_LINK);
  return bx_blob(&a, 0, rq->kind);
}

static void test_trace_links(void **state) {
  (void)state;
  if (fj_jit_host_target() != FJ_TARGET_X86_64) skip();
  jfix f;
  jfix_open(&f, link_blob, SUM_SRC, NULL);
  f.c.flags = FJ_JIT_NO_BRIDGES;
  fj_jit *jit = jfix_attach(&f);
  jfix_run_same(&f);  /* records and installs both; the link is patched */
  fj_jit_stats s = jfix_stats(&f);
  assert_int_equal(s.traces_installed, 2);
  assert_int_equal(s.links_patched, 1);
  fj_jtrace *A = fj_jit_trace_at(jit, 0), *B = fj_jit_trace_at(jit, 2);
  assert_non_null(A);
  assert_non_null(B);
  assert_int_equal(A->kind, FJ_TRACE_ENTRY);
  assert_int_equal(A->sites[0].linked, 1);
  uint64_t b_entries = B->entries;
  fj_vm_reset_stats(f.vm);
  jfix_run_same(&f);  /* A tail-calls B: no exit in between */
  fj_vm_stats vs = jfix_counted_once(&f);
  assert_int_equal(vs.insns_interp, 1);   /* only the final exit */
  assert_int_equal(A->exits[0].taken, 0);
  assert_int_equal(B->entries, b_entries);
  assert_int_equal(B->exits[0].taken, 2);
  /* B leaves: A's link goes back to the compiler's bytes and A exits to the interpreter */
  assert_int_equal(fj_jit_invalidate(jit, 2), 1);
  assert_int_equal(A->sites[0].linked, 0);
  assert_memory_equal(jit->cc.rx + A->code_off + A->sites[0].offset, A->sites[0].orig, 4);
  jfix_run_same(&f);
  assert_int_equal(A->exits[0].taken, 1);
  jfix_close(&f);
}

/* Traces of 3000 bytes in an 8 KiB cache: the third one evicts the coldest. */
static bu_blob big_blob(const fj_jit_request *rq) {
  bu_x86 a;
  memset(&a, 0, sizeof a);
  bx_exit_ret(&a, 0, rq->start_pc, FJ_EXIT_STOP);
  uint8_t *code = malloc(3000);  /* the exit, then int3 padding */
  memcpy(code, a.code, a.n);
  memset(code + a.n, 0xcc, 3000 - a.n);
  bu_blob b = bu_make(FJ_TARGET_X86_64, code, 3000, NULL, 0, a.ex, a.nex, rq->start_pc, rq->kind, NULL);
  free(code);
  return b;
}

static void test_evict_by_size(void **state) {
  (void)state;
  if (fj_jit_host_target() != FJ_TARGET_X86_64) skip();
  jfix f;
  jfix_open(&f, big_blob,
            "mov %r1, 0\na:\nadd %r1, 1\njlt %r1, 50, a\n"
            "mov %r2, 0\nb:\nadd %r2, 1\njlt %r2, 50, b\n"
            "mov %r3, 0\nc:\nadd %r3, 1\njlt %r3, 50, c\n"
            "mov %r0, %r1\nadd %r0, %r2\nadd %r0, %r3\nexit\n", NULL);
  f.c.code_size = 8192;
  f.c.flags = FJ_JIT_NO_BRIDGES;
  jfix_attach(&f);
  for (int i = 0; i < 3; i++) jfix_run_same(&f);
  fj_jit_stats s = jfix_stats(&f);
  assert_true(s.traces_installed >= 3);
  assert_true(s.evictions >= 1);
  assert_true(s.code_bytes <= 8192);
  assert_true(s.code_bytes_peak <= 8192);
  assert_contains(logbuf, "evicted (cold)");
  jfix_close(&f);
}

/* mprotect failing (a hardened host): nothing is written, nothing breaks. */
static bool g_protect_fails;
static int (*g_real_protect)(void *, void *, size_t, bool);
static int flaky_protect(void *ud, void *rx, size_t n, bool writable) {
  if (g_protect_fails && writable) return FJ_EIO;
  return g_real_protect(ud, rx, n, writable);
}

static void test_protect_failure(void **state) {
  (void)state;
  if (fj_jit_host_target() != FJ_TARGET_X86_64) skip();
  jfix f;
  jfix_open(&f, sum_blob, SUM_SRC, NULL);
  f.c.max_attempts = 100;  /* the failures below must not blacklist the loop */
  g_real_protect = f.e.exec.protect;
  f.e.exec.protect = flaky_protect;
  g_protect_fails = true;
  fj_jit *jit = jfix_attach(&f);
  jfix_run_same(&f);
  fj_jit_stats s = jfix_stats(&f);
  assert_int_equal(s.traces_installed, 0);
  assert_true(s.link_failed >= 1);
  assert_contains(logbuf, "code cache not writable");
  g_protect_fails = false;
  for (int i = 0; i < 20 && !fj_jit_has_trace(jit, 2); i++) jfix_run_same(&f);
  assert_true(fj_jit_has_trace(jit, 2));
  g_protect_fails = true;
  assert_int_equal(fj_jit_invalidate(jit, 2), 0);  /* cannot unlink: the trace stays, intact */
  jfix_run_same(&f);
  g_protect_fails = false;
  jfix_close(&f);
}

static void test_reload_drops_traces(void **state) {
  (void)state;
  if (fj_jit_host_target() != FJ_TARGET_X86_64) skip();
  jfix f;
  jfix_open(&f, sum_blob, SUM_SRC, NULL);
  fj_jit *jit = jfix_attach(&f);
  jrun(f.vm, &f.rc);
  assert_true(fj_jit_has_trace(jit, 2));
  /* same length, different code: the trace must not survive */
  f.p[3].imm = 2;
  tu_load(f.vm, f.p, f.n);
  fj_jit_poll(jit);
  assert_false(fj_jit_has_trace(jit, 2));
  jfix_close(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_loop_runs_native),
      cmocka_unit_test(test_budget_exact),
      cmocka_unit_test(test_failures_keep_results),
      cmocka_unit_test(test_bridge_patched),
      cmocka_unit_test(test_link_exit_counts_hot),
      cmocka_unit_test(test_link_exit_to_pending_spot),
      cmocka_unit_test(test_exit_linked_to_trace),
      cmocka_unit_test(test_invalidate_during_call),
      cmocka_unit_test(test_evict_during_callback),
      cmocka_unit_test(test_trace_links),
      cmocka_unit_test(test_evict_by_size),
      cmocka_unit_test(test_protect_failure),
      cmocka_unit_test(test_reload_drops_traces),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
