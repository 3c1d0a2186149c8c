/* Trace recorder tests: every header and record field checked against trace.h, and the program's
 * result compared with a plain interpreter run (recording must not change what it computes). */
#include "tests/client_runtime/vm_test_util.h"

#include "client_runtime/record.h"
#include "tools/asm.h"

static fj_insn *prog_of(const char *text, size_t *n) {
  fj_insn *p = NULL;
  char err[128];
  if (fj_asm(text, &p, n, err, sizeof err)) fail_msg("asm: %s", err);
  return p;
}

static uint64_t plain_run(const fj_insn *p, size_t n, void *mem, size_t len) {
  fj_vm *vm = tu_vm();
  uint64_t r0 = tu_run_mem(vm, p, n, mem, len);
  fj_vm_destroy(vm);
  return r0;
}

static _Alignas(8) uint8_t tbuf[48 + 20 * 64];

static const fj_trace_header *H(void) { return (const fj_trace_header *)(const void *)tbuf; }
static const fj_trace_rec *R(uint32_t i) {
  return (const fj_trace_rec *)(const void *)(tbuf + sizeof(fj_trace_header)) + i;
}

static void check_rec(uint32_t i, const fj_insn *p, uint32_t pc, uint32_t aux, uint8_t depth,
                      uint8_t flags, uint8_t region) {
  const fj_trace_rec *r = R(i);
  assert_memory_equal(&r->insn, &p[pc], sizeof(fj_insn));
  assert_int_equal(r->pc, pc);
  assert_int_equal(r->aux, aux);
  assert_int_equal(r->depth, depth);
  assert_int_equal(r->flags, flags);
  assert_int_equal(r->region, region);
  assert_int_equal(r->reserved, 0);
}

static void check_hdr(uint16_t kind, uint32_t start, uint32_t nrecs, uint16_t end, uint32_t end_pc,
                      uint32_t ninsns, size_t len) {
  const fj_trace_header *h = H();
  assert_int_equal(h->magic, FJ_TRACE_MAGIC);
  assert_int_equal(h->version, FJ_TRACE_VERSION);
  assert_int_equal(h->kind, kind);
  assert_int_equal(h->start_pc, start);
  assert_int_equal(h->nrecs, nrecs);
  assert_int_equal(h->end, end);
  assert_int_equal(h->flags, 0);
  assert_int_equal(h->end_pc, end_pc);
  assert_int_equal(h->parent_id, 0);
  assert_int_equal(h->parent_exit, 0);
  assert_int_equal(h->prog_ninsns, ninsns);
  assert_true(h->nregions >= 2);
  assert_int_equal(h->reserved, 0);
  assert_int_equal(len, fj_trace_size(nrecs));
}

/* Record at the first firing of at_pc with threshold thr; returns fj_rec_first_hot's status. */
static int rec(const fj_insn *p, size_t n, void *mem, size_t mlen, uint16_t thr, uint32_t at,
               size_t *len, uint64_t *r0) {
  memset(tbuf, 0xa5, sizeof tbuf);
  fj_vm *vm = tu_vm();
  tu_load(vm, p, n);
  int rc = fj_rec_first_hot(vm, 0, mem, mlen, thr, at, tbuf, sizeof tbuf, len, r0);
  if (rc < 0) fail_msg("record run: %s: %s", fj_strerror(rc), fj_vm_errmsg(vm));
  fj_vm_destroy(vm);
  return rc;
}

static const char *LOOP_SRC =
    "mov %r0, 0\n"
    "mov %r1, 0\n"
    "loop:\n"
    "add %r0, %r1\n"
    "add %r1, 1\n"
    "jlt %r1, 10, loop\n"
    "exit\n";

static void test_loop_closes(void **state) {
  (void)state;
  size_t n, len;
  fj_insn *p = prog_of(LOOP_SRC, &n);
  uint64_t r0 = 0;
  assert_int_equal(rec(p, n, NULL, 0, 1, 2, &len, &r0), FJ_REC_DONE);
  assert_int_equal(r0, plain_run(p, n, NULL, 0));
  assert_int_equal(r0, 45);
  check_hdr(FJ_TRACE_LOOP, 2, 3, FJ_TRACE_END_LOOP, 2, 6, len);
  check_rec(0, p, 2, 0, 0, 0, 0);
  check_rec(1, p, 3, 0, 0, 0, 0);
  check_rec(2, p, 4, 0, 0, FJ_REC_TAKEN, 0);
  free(p);
}

static void test_loop_leaves_at_exit(void **state) {
  (void)state;
  size_t n, len;
  fj_insn *p = prog_of(LOOP_SRC, &n);
  uint64_t r0 = 0;
  /* the 9th backward jump starts the last iteration: the path leaves the loop and exits */
  assert_int_equal(rec(p, n, NULL, 0, 9, 2, &len, &r0), FJ_REC_DONE);
  assert_int_equal(r0, 45);
  check_hdr(FJ_TRACE_LOOP, 2, 4, FJ_TRACE_END_STOP, 5, 6, len);
  check_rec(2, p, 4, 0, 0, 0, 0);
  check_rec(3, p, 5, 0, 0, 0, 0);
  free(p);
}

/* clang's layout of a loop with a branch: a body block before the header, reached by a
 * backward jump.  That block is a loop header too, with no trace: recording goes through it and
 * closes the loop at the start (one LOOP trace, not two fragments linked to each other). */
static const char *BODY_BEFORE_HEADER_SRC =
    "mov %r0, 0\n"
    "mov %r1, 0\n"
    "ja head\n"
    "odd:\n"
    "add %r0, 3\n"            /* 3 */
    "add %r1, 1\n"
    "ja head\n"
    "head:\n"
    "jge %r1, 10, end\n"      /* 6 */
    "mov %r2, %r1\n"
    "and %r2, 1\n"
    "jne %r2, 0, odd\n"       /* 9: backward to 3 */
    "add %r1, 1\n"
    "ja head\n"               /* 11: backward to 6 */
    "end:\n"
    "exit\n";

static void test_body_before_header(void **state) {
  (void)state;
  size_t n, len;
  fj_insn *p = prog_of(BODY_BEFORE_HEADER_SRC, &n);
  uint64_t r0 = 0;
  /* the second arrival at pc 6 has r1 = 1: the odd path through pc 3 */
  assert_int_equal(rec(p, n, NULL, 0, 2, 6, &len, &r0), FJ_REC_DONE);
  assert_int_equal(r0, plain_run(p, n, NULL, 0));
  check_hdr(FJ_TRACE_LOOP, 6, 7, FJ_TRACE_END_LOOP, 6, 13, len);
  check_rec(3, p, 9, 0, 0, FJ_REC_TAKEN, 0);
  check_rec(4, p, 3, 0, 0, 0, 0);
  check_rec(6, p, 5, 0, 0, 0, 0);
  free(p);
}

/* An inner loop's header passed through: the trace ends there (END_LINK) once the path comes
 * back to it, so the inner loop is traced from its own header, never unrolled. */
static const char *NESTED_SRC =
    "mov %r0, 0\n"
    "mov %r1, 0\n"
    "outer:\n"
    "mov %r2, 0\n"            /* 2 */
    "inner:\n"
    "add %r0, 1\n"            /* 3 */
    "add %r2, 1\n"
    "jlt %r2, 3, inner\n"     /* 5 */
    "add %r1, 1\n"
    "jlt %r1, 4, outer\n"     /* 7 */
    "exit\n";

static void test_inner_header_repeats(void **state) {
  (void)state;
  size_t n, len;
  fj_insn *p = prog_of(NESTED_SRC, &n);
  uint64_t r0 = 0;
  assert_int_equal(rec(p, n, NULL, 0, 1, 2, &len, &r0), FJ_REC_DONE);
  assert_int_equal(r0, 12);
  check_hdr(FJ_TRACE_LOOP, 2, 4, FJ_TRACE_END_LINK, 3, 9, len);
  check_rec(1, p, 3, 0, 0, 0, 0);
  check_rec(3, p, 5, 0, 0, FJ_REC_TAKEN, 0);
  free(p);
}

static void test_fields_mem_lddw_helpers(void **state) {
  (void)state;
  size_t n, len;
  fj_insn *p = prog_of(
      "mov %r6, %r1\n"              /* 0: r6 = mem */
      "mov %r7, 0\n"                /* 1 */
      "loop:\n"
      "lddw %r3, 0x1234567800000009\n"  /* 2-3 */
      "stxdw [%r10-8], %r3\n"       /* 4: stack, region 0 */
      "ldxw %r4, [%r6+4]\n"         /* 5: mem, region 1 */
      "stw [%r6+0], 3\n"            /* 6 */
      "lock add [%r6+0], %r7\n"     /* 7 */
      "call 7\n"                    /* 8: get_prandom_u32, aux 7 */
      "mov %r2, 7\n"                /* 9 */
      "call %r2\n"                  /* 10: callx, aux = r2 = 7 */
      "add %r7, 1\n"                /* 11 */
      "jeq %r7, 100, +0\n"          /* 12: offset 0: direction from the condition */
      "jlt %r7, 4, loop\n"          /* 13 */
      "ldxw %r0, [%r6+0]\n"         /* 14 */
      "exit\n", &n);
  uint8_t mem[8] = {0, 0, 0, 0, 5, 0, 0, 0}, mem2[8];
  memcpy(mem2, mem, sizeof mem);
  uint64_t r0 = 0;
  assert_int_equal(rec(p, n, mem, sizeof mem, 1, 2, &len, &r0), FJ_REC_DONE);
  assert_int_equal(r0, plain_run(p, n, mem2, sizeof mem2));
  check_hdr(FJ_TRACE_LOOP, 2, 11, FJ_TRACE_END_LOOP, 2, 16, len);
  check_rec(0, p, 2, 0x12345678, 0, 0, 0);
  check_rec(1, p, 4, 0, 0, 0, FJ_REGION_STACK);
  check_rec(2, p, 5, 0, 0, 0, FJ_REGION_MEM);
  check_rec(3, p, 6, 0, 0, 0, FJ_REGION_MEM);
  check_rec(4, p, 7, 0, 0, 0, FJ_REGION_MEM);
  check_rec(5, p, 8, 7, 0, 0, 0);
  check_rec(6, p, 9, 0, 0, 0, 0);
  check_rec(7, p, 10, 7, 0, 0, 0);
  check_rec(8, p, 11, 0, 0, 0, 0);
  check_rec(9, p, 12, 0, 0, 0, 0);
  check_rec(10, p, 13, 0, 0, FJ_REC_TAKEN, 0);
  free(p);

  /* the same offset-0 jump when its condition holds: TAKEN although the next pc is pc + 1 */
  p = prog_of("mov %r0, 0\nloop:\njeq %r0, %r0, +0\nadd %r0, 1\njlt %r0, 3, loop\nexit\n", &n);
  assert_int_equal(rec(p, n, NULL, 0, 1, 1, &len, &r0), FJ_REC_DONE);
  assert_int_equal(r0, 3);
  check_rec(0, p, 1, 0, 0, FJ_REC_TAKEN, 0);
  free(p);
}

static const char *CALL_SRC =
    "mov %r6, 0\n"        /* 0 */
    "mov %r0, 0\n"        /* 1 */
    "loop:\n"
    "mov %r1, %r6\n"      /* 2 */
    "call local f\n"      /* 3 */
    "add %r6, 1\n"        /* 4 */
    "jlt %r6, 5, loop\n"  /* 5 */
    "exit\n"              /* 6 */
    "f:\n"
    "stxdw [%r10-8], %r1\n"  /* 7: the callee's frame: still region 0 */
    "mov %r0, %r1\n"      /* 8 */
    "add %r0, 2\n"        /* 9 */
    "exit\n";             /* 10 */

static void test_inlined_call(void **state) {
  (void)state;
  size_t n, len;
  fj_insn *p = prog_of(CALL_SRC, &n);
  uint64_t r0 = 0;
  assert_int_equal(rec(p, n, NULL, 0, 1, 2, &len, &r0), FJ_REC_DONE);
  assert_int_equal(r0, plain_run(p, n, NULL, 0));
  check_hdr(FJ_TRACE_LOOP, 2, 8, FJ_TRACE_END_LOOP, 2, 11, len);
  check_rec(0, p, 2, 0, 0, 0, 0);
  check_rec(1, p, 3, 7, 0, 0, 0);
  check_rec(2, p, 7, 0, 1, 0, FJ_REGION_STACK);
  check_rec(3, p, 8, 0, 1, 0, 0);
  check_rec(4, p, 9, 0, 1, 0, 0);
  check_rec(5, p, 10, 0, 1, 0, 0);
  check_rec(6, p, 4, 0, 0, 0, 0);
  check_rec(7, p, 5, 0, 0, FJ_REC_TAKEN, 0);
  free(p);
}

/* A hook that records with a trace_at predicate and a record limit. */
typedef struct custom {
  fj_recorder r;
  uint32_t at_pc, link_pc, max_recs;
  int status;
  bool done;
  bool no_inline;  /* link_pc is also a function not to inline */
  bool recording;
  uint32_t hooks_while_recording;
} custom;

static bool custom_at(void *ud, uint32_t pc) { return pc == ((custom *)ud)->link_pc; }

static int custom_hook(void *ud, fj_vm *vm, fj_exec *ex, uint32_t pc) {
  custom *c = ud;
  if (c->recording) c->hooks_while_recording++;
  if (c->done || pc != c->at_pc) return FJ_HOT_CONTINUE;
  c->done = true;
  int rc = fj_rec_begin(&c->r, tbuf, sizeof tbuf, c->max_recs, vm, ex, FJ_TRACE_LOOP, 0, 0,
                        custom_at, c);
  assert_int_equal(rc, 0);
  uint32_t narrow = 0;  /* the header names exactly the registers below 2^32 right now */
  for (unsigned i = 0; i < FJ_NREGS; i++) narrow |= (uint32_t)(ex->r[i] <= 0xffffffffu) << i;
  assert_int_equal(H()->entry_narrow, narrow);
  if (c->no_inline) c->r.no_inline = custom_at;
  c->recording = true;
  c->status = fj_rec_run(&c->r, vm, ex);
  c->recording = false;
  if (c->status < 0) return c->status;
  return c->status == FJ_REC_FINISHED ? FJ_HOT_DONE : FJ_HOT_RELOAD;
}

static int custom_run(const fj_insn *p, size_t n, custom *c, uint64_t *r0, fj_vm **keep) {
  memset(tbuf, 0xa5, sizeof tbuf);
  fj_vm *vm = tu_vm();
  tu_load(vm, p, n);
  fj_jit_hooks hooks = {custom_hook, c, 1};
  assert_int_equal(fj_vm_set_jit_hooks(vm, &hooks), 0);
  int rc = fj_vm_run(vm, 0, NULL, 0, r0);
  if (keep) *keep = vm;
  else fj_vm_destroy(vm);
  return rc;
}

static void test_call_interp_and_link(void **state) {
  (void)state;
  size_t n;
  fj_insn *p = prog_of(CALL_SRC, &n);
  uint64_t r0 = 0;
  /* f has a trace of its own: it is inlined all the same */
  custom i = {.at_pc = 2, .link_pc = 7, .max_recs = 64};
  assert_int_equal(custom_run(p, n, &i, &r0, NULL), 0);
  assert_int_equal(i.status, FJ_REC_DONE);
  assert_int_equal(H()->nrecs, 8);
  assert_int_equal(i.r.max_depth, 1);
  check_rec(1, p, 3, 7, 0, 0, 0);

  /* f must not be inlined: the call is left to the interpreter */
  custom c = {.at_pc = 2, .link_pc = 7, .max_recs = 64, .no_inline = true};
  assert_int_equal(custom_run(p, n, &c, &r0, NULL), 0);
  assert_int_equal(r0, plain_run(p, n, NULL, 0));
  assert_int_equal(c.status, FJ_REC_DONE);
  assert_int_equal(H()->nrecs, 4);
  assert_int_equal(H()->end, FJ_TRACE_END_LOOP);
  check_rec(1, p, 3, 7, 0, FJ_REC_CALL_INTERP, 0);
  check_rec(2, p, 4, 0, 0, 0, 0);
  assert_int_equal(c.r.max_depth, 0);

  /* a trace starts at pc 5: the path links there */
  custom d = {.at_pc = 2, .link_pc = 5, .max_recs = 64};
  assert_int_equal(custom_run(p, n, &d, &r0, NULL), 0);
  assert_int_equal(r0, plain_run(p, n, NULL, 0));
  assert_int_equal(d.status, FJ_REC_DONE);
  assert_int_equal(H()->end, FJ_TRACE_END_LINK);
  assert_int_equal(H()->end_pc, 5);
  assert_int_equal(H()->nrecs, 7);
  check_rec(6, p, 4, 0, 0, 0, 0);
  assert_int_equal(d.r.max_depth, 1);
  free(p);
}

/* A callee left to the interpreter runs as a nested interpreter run, not step by step: its
 * loop header's hot hook fires while the caller is being recorded, and the run still ends
 * exactly as the interpreter's (result and instruction count). */
static void test_call_interp_runs_at_speed(void **state) {
  (void)state;
  size_t n;
  fj_insn *p = prog_of("mov %r6, 0\nmov %r7, 0\n"
                       "loop:\nmov %r1, %r6\nadd %r1, 3\ncall local f\nadd %r7, %r0\nadd %r6, 1\n"
                       "jlt %r6, 5, loop\nmov %r0, %r7\nexit\n"
                       "f:\nmov %r0, 0\ng:\nadd %r0, %r1\nadd %r1, -1\njsgt %r1, 0, g\nexit\n",
                       &n);
  custom c = {.at_pc = 2, .link_pc = 10, .max_recs = 64, .no_inline = true};
  uint64_t r0 = 0;
  fj_vm *vm = NULL;
  assert_int_equal(custom_run(p, n, &c, &r0, &vm), 0);
  assert_int_equal(c.status, FJ_REC_DONE);
  check_rec(2, p, 4, 10, 0, FJ_REC_CALL_INTERP, 0);
  assert_true(c.hooks_while_recording > 0);  /* step mode never calls hooks */
  fj_vm *ref = tu_vm();
  assert_int_equal(r0, tu_run_mem(ref, p, n, NULL, 0));
  fj_vm_stats a, b;
  fj_vm_get_stats(ref, &a);
  fj_vm_get_stats(vm, &b);
  assert_int_equal(a.insns_interp, b.insns_interp);
  assert_int_equal(a.local_calls, b.local_calls);
  fj_vm_destroy(ref);
  fj_vm_destroy(vm);
  free(p);
}

static void test_abort_too_long(void **state) {
  (void)state;
  size_t n;
  fj_insn *p = prog_of(CALL_SRC, &n);
  uint64_t r0 = 0;
  custom c = {.at_pc = 2, .link_pc = 1000, .max_recs = 5};
  assert_int_equal(custom_run(p, n, &c, &r0, NULL), 0);
  assert_int_equal(c.status, FJ_REC_ABORTED);
  assert_int_equal(c.r.abort, FJ_REC_ABORT_TOO_LONG);
  assert_string_equal(fj_rec_abort_name(c.r.abort), "trace too long");
  assert_int_equal(r0, plain_run(p, n, NULL, 0));
  free(p);
}

static void test_error_while_recording(void **state) {
  (void)state;
  size_t n;
  fj_insn *p = prog_of(
      "mov %r1, 0\n"
      "loop:\n"
      "add %r1, 1\n"
      "jlt %r1, 2, loop\n"
      "ldxw %r0, [%r1+0]\n"   /* r1 = 2: not in any region */
      "exit\n", &n);
  /* plain message */
  fj_vm *vm = tu_vm();
  char want[256];
  snprintf(want, sizeof want, "%s", tu_run_fail(vm, p, n, NULL, 0, FJ_EOOB));
  fj_vm_destroy(vm);
  custom c = {.at_pc = 1, .link_pc = 1000, .max_recs = 64};
  uint64_t r0 = 0;
  fj_vm *kept = NULL;
  /* fires at the first backward jump (r1 = 1); the recorded iteration leaves the loop and
   * faults */
  int rc = custom_run(p, n, &c, &r0, &kept);
  assert_int_equal(rc, FJ_EOOB);
  assert_int_equal(c.r.abort, FJ_REC_ABORT_ERROR);
  assert_string_equal(fj_vm_errmsg(kept), want);
  fj_vm_destroy(kept);
  free(p);
}

static uint64_t unwind_helper(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, fj_vm *vm) {
  (void)b, (void)c, (void)d, (void)e;
  if (a == 2) fj_vm_unwind(vm);
  return 1000 + a;
}

static void test_unwind_while_recording(void **state) {
  (void)state;
  size_t n;
  fj_insn *p = prog_of(
      "mov %r6, 0\n"
      "loop:\n"
      "mov %r1, %r6\n"
      "call 4242\n"
      "add %r6, 1\n"
      "jlt %r6, 5, loop\n"
      "mov %r0, 7\n"
      "exit\n", &n);
  fj_vm *vm = tu_vm();
  assert_int_equal(fj_vm_register_helper(vm, 4242, "unwind_at_2", unwind_helper), 0);
  tu_load(vm, p, n);
  size_t len = 0;
  uint64_t r0 = 0;
  /* fires at r6 = 1; the recorded iteration runs r6 = 1 and closes; the one at r6 = 2 unwinds
   * in the interpreter.  Threshold 2 makes the recording itself hit the unwind. */
  int rc = fj_rec_first_hot(vm, 0, NULL, 0, 2, 1, tbuf, sizeof tbuf, &len, &r0);
  assert_int_equal(rc, FJ_REC_FINISHED);
  assert_int_equal(r0, 1002);
  assert_int_equal(len, 0);
  fj_vm_destroy(vm);
  free(p);
}

static void test_begin_rejects(void **state) {
  (void)state;
  size_t n;
  fj_insn *p = prog_of(LOOP_SRC, &n);
  fj_vm *vm = tu_vm();
  tu_load(vm, p, n);
  fj_exec ex;
  memset(&ex, 0, sizeof ex);
  fj_recorder r;
  assert_int_equal(fj_rec_begin(&r, tbuf, 10, 4, vm, &ex, FJ_TRACE_LOOP, 0, 0, NULL, NULL),
                   FJ_EINVAL);
  ex.pc = 99;
  assert_int_equal(fj_rec_begin(&r, tbuf, sizeof tbuf, 4, vm, &ex, FJ_TRACE_LOOP, 0, 0, NULL, NULL),
                   FJ_EINVAL);
  ex.pc = 2;
  assert_int_equal(fj_rec_begin(&r, tbuf, sizeof tbuf, 4, vm, &ex, FJ_TRACE_BRIDGE, 3, 4, NULL, NULL),
                   0);
  assert_int_equal(H()->parent_id, 3);
  assert_int_equal(H()->parent_exit, 4);
  assert_int_equal(H()->kind, FJ_TRACE_BRIDGE);
  fj_vm_destroy(vm);
  free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_loop_closes),
      cmocka_unit_test(test_loop_leaves_at_exit),
      cmocka_unit_test(test_body_before_header),
      cmocka_unit_test(test_inner_header_repeats),
      cmocka_unit_test(test_fields_mem_lddw_helpers),
      cmocka_unit_test(test_inlined_call),
      cmocka_unit_test(test_call_interp_and_link),
      cmocka_unit_test(test_call_interp_runs_at_speed),
      cmocka_unit_test(test_abort_too_long),
      cmocka_unit_test(test_error_while_recording),
      cmocka_unit_test(test_unwind_while_recording),
      cmocka_unit_test(test_begin_rejects),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
