/* Tests for codegen/compile.c and the x86-64 backend's runtime contract (farjit/jit.h): the
 * driver's errors, stats, dumps and trace hash; blobs the client's validator accepts with
 * patchable, 4-byte-aligned exit branches; straight-line, budget, loop (native iterations),
 * helper-call (FJ_RT_CALL trampoline, call_exit / call_ret) and trace-to-trace link behaviour,
 * run in process through jitload. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mbedtls/sha256.h>

#include "client_runtime/blob_check.h"
#include "farjit/blob.h"
#include "farjit/codegen.h"
#include "farjit/error.h"
#include "farjit/jit.h"
#include "farjit/trace.h"
#include "farjit/vm.h"
#include "tests/codegen/cg_util.h"
#include "tests/codegen/gen.h"
#include "tests/codegen/jitload.h"

typedef struct compiled {
  fj_codegen_result res;
  fj_jl_trace t;
} compiled;

static uint64_t helper_mul7(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, void *vm) {
  (void)b, (void)c, (void)d, (void)e, (void)vm;
  return a * 7;
}
static void *helper_addr(void *ud, uint32_t id) {
  (void)ud;
  void *p = NULL;
  if (id == 77) {
    uint64_t (*f)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, void *) = helper_mul7;
    memcpy(&p, &f, sizeof p);
  }
  return p;
}

static fj_jit_state *seen_st;
static uint32_t seen_pc;
static uint64_t fake_call_local(fj_jit_state *st, uint32_t pc) {
  seen_st = st;
  seen_pc = pc;
  return st->r[1] * 3;  /* what `f` below computes */
}

static void *link_target;
static void *trace_at(void *ud, uint32_t pc) {
  (void)ud;
  return pc == 2 ? link_target : NULL;
}

/* Trace `text` from start along path, maybe turning its end into END_LINK, compile and load. */
static void compile_text(const char *text, uint32_t start, const char *path, uint32_t max,
                         bool link_end, uint32_t flags, compiled *c) {
  uint32_t n;
  fj_insn *prog = cu_asm(text, &n);
  size_t len;
  uint8_t *tr = cu_trace(prog, n, start, path, 1, max, &len);
  if (link_end) {
    fj_trace_header h;
    memcpy(&h, tr, sizeof h);
    h.end = FJ_TRACE_END_LINK;
    memcpy(tr, &h, sizeof h);
  }
  fj_codegen_opts o = {flags, 0};
  int rc = fj_codegen_compile(tr, len, FJ_TARGET_X86_64, &o, &c->res);
  if (rc) fail_msg("compile: %s", c->res.message);
  /* The trace hash is SHA-256 of the trace bytes. */
  uint8_t want[32];
  mbedtls_sha256_ret(tr, len, want, 0);
  fj_blob_header h;
  memcpy(&h, c->res.blob, sizeof h);
  assert_memory_equal(h.trace_hash, want, 32);
  /* The client accepts the blob; every exit branch is patchable. */
  fj_blob_expect e = {FJ_TARGET_X86_64, 0, FJ_BLOB_ANY_PC, 0, 0, n, NULL, NULL};
  fj_blob_view v;
  int why = fj_blob_check(c->res.blob, c->res.blob_size, &e, &v);
  if (why) fail_msg("blob_check: %s", fj_blob_reject_text(why));
  for (uint32_t i = 0; i < h.nexits; i++) {
    fj_blob_exit x = fj_blob_exit_at(&v, i);
    if (x.kind == FJ_EXIT_CALL) {
      assert_int_equal(x.patch_off, FJ_BLOB_NO_PATCH);
    } else {
      assert_int_equal(x.patch_off % 4, 0);
      assert_int_equal(v.code[x.patch_off - 1], 0xe9);
    }
  }
  fj_jl_env env = {helper_addr, NULL, fake_call_local, trace_at, NULL};
  char err[160];
  if (fj_jl_load(c->res.blob, c->res.blob_size, &env, &c->t, err, sizeof err)) fail_msg("load: %s", err);
  free(tr);
  free(prog);
}

static void release(compiled *c) {
  fj_jl_unload(&c->t);
  fj_codegen_result_free(&c->res);
}

/* A region table like the VM's: region 0 the stack (8 frames), region 1 empty run memory. */
static uint8_t stack_mem[FJ_MAX_CALL_DEPTH * FJ_STACK_SIZE];
static fj_region regions[2];

static uint32_t run(compiled *c, fj_jit_state *st, int64_t budget) {
  memset(st, 0, sizeof *st);
  regions[0] = (fj_region){(uint64_t)(uintptr_t)stack_mem, sizeof stack_mem,
                           FJ_REGION_READ | FJ_REGION_WRITE, 0};
  regions[1] = (fj_region){0, 0, FJ_REGION_READ | FJ_REGION_WRITE, 0};
  st->regions = (uint64_t)(uintptr_t)regions;
  st->nregions = 2;
  st->r[10] = (uint64_t)(uintptr_t)(stack_mem + sizeof stack_mem);
  st->budget = budget;
  uint32_t id = fj_jl_run(&c->t, st);
  assert_int_equal(id, st->exit_id);
  assert_true(id < c->t.h.nexits);
  return id;
}

static void test_driver_errors(void **state) {
  (void)state;
  assert_true(fj_codegen_supports(FJ_TARGET_X86_64));
  assert_false(fj_codegen_supports(FJ_TARGET_NONE));
  fj_codegen_result r;
  uint8_t junk[64] = {1, 2, 3};
  assert_int_equal(fj_codegen_compile(junk, sizeof junk, FJ_TARGET_X86_64, NULL, &r), FJ_EBADTRACE);
  assert_int_equal(r.status, FJ_EBADTRACE);
  assert_true(strlen(r.message) > 0);
  assert_null(r.blob);
  assert_int_equal(fj_codegen_compile(junk, sizeof junk, FJ_TARGET_NONE, NULL, &r), FJ_ETARGET);
  assert_int_equal(r.abort_reason, FJ_ABORT_TARGET);
  fj_codegen_result_free(&r);
}

static void test_straight_line(void **state) {
  (void)state;
  compiled c;
  compile_text("mov %r0, 5\nadd %r0, 3\nexit\n", 0, "", 100, false, FJ_CG_DUMP, &c);
  assert_int_equal(c.res.stats.nrecs, 3);
  assert_true(c.res.stats.ir_after > 0 && c.res.stats.code_size > 0 && c.res.stats.nexits > 0);
  fj_blob_header h;
  memcpy(&h, c.res.blob, sizeof h);
  const char *meta = (const char *)c.res.blob + h.meta_off;
  assert_non_null(memmem(meta, h.meta_size, "IR before", 9));
  assert_non_null(memmem(meta, h.meta_size, "IR after", 8));
  fj_jit_state st;
  uint32_t id = run(&c, &st, 1000);
  assert_int_equal(st.r[0], 8);
  assert_int_equal(c.t.exits[id].kind, FJ_EXIT_STOP);
  assert_int_equal(c.t.exits[id].pc, 2);  /* the interpreter runs the exit */
  assert_int_equal(st.budget, 998);
  assert_int_equal(st.exit_code, (uint64_t)(uintptr_t)c.t.code);
  /* Too little budget: leave at the start, budget untouched. */
  id = run(&c, &st, 1);
  assert_int_equal(c.t.exits[id].pc, 0);
  assert_int_equal(st.budget, 1);
  release(&c);
}

static void test_loop_runs_natively(void **state) {
  (void)state;
  const char *text = "mov %r0, 0\nmov %r1, 100\nL: add %r0, %r1\nsub %r1, 1\njne %r1, 0, L\nexit\n";
  for (int v = 0; v < 2; v++) {
    compiled c;
    compile_text(text, 2, "t", 100, false, v ? FJ_CG_NO_OPT : 0, &c);
    fj_jit_state st;
    memset(&st, 0, sizeof st);
    st.r[1] = 100;
    st.budget = 100000;
    uint32_t id = fj_jl_run(&c.t, &st);
    if (v == 0) {  /* LOOP: all 100 iterations in machine code, out through the loop guard */
      assert_int_equal(st.r[0], 5050);
      assert_int_equal(st.r[1], 0);
      assert_int_equal(c.t.exits[id].pc, 5);
      assert_int_equal(st.budget, 100000 - 300);
    } else {  /* unoptimized: one iteration, then the LINK exit back to the start */
      assert_int_equal(st.r[0], 100);
      assert_int_equal(c.t.exits[id].kind, FJ_EXIT_LINK);
      assert_int_equal(c.t.exits[id].pc, 2);
      assert_int_equal(st.budget, 100000 - 3);
    }
    release(&c);
  }
}

static void test_helper_call(void **state) {
  (void)state;
  compiled c;
  compile_text("mov %r1, 6\ncall 77\nadd %r0, 1\nexit\n", 0, "", 100, false, 0, &c);
  fj_jit_state st;
  uint32_t id = run(&c, &st, 50);
  assert_int_equal(st.r[0], 43);
  assert_int_equal(c.t.exits[id].kind, FJ_EXIT_STOP);
  assert_int_equal(st.budget, 47);
  /* The call went through the trampoline: return address into this trace, call exit named. */
  assert_true(st.call_ret > (uint64_t)(uintptr_t)c.t.code &&
              st.call_ret < (uint64_t)(uintptr_t)c.t.code + c.t.h.code_size);
  assert_true(st.call_exit < c.t.h.nexits);
  assert_int_equal(c.t.exits[st.call_exit].kind, FJ_EXIT_CALL);
  assert_int_equal(c.t.exits[st.call_exit].pc, 2);
  release(&c);
}

/* A local call the recorder left to the interpreter (FJ_REC_CALL_INTERP): FJ_RT_CALL_LOCAL gets
 * (st, callee pc) with r1-r5 synced, its result is r0. */
static void test_call_local(void **state) {
  (void)state;
  uint32_t n;
  fj_insn *prog = cu_asm("mov %r1, 5\ncall local f\nadd %r0, 1\nexit\nf: mov %r0, %r1\n"
                         "mul %r0, 3\nexit\n", &n);
  fj_trace_header h = {FJ_TRACE_MAGIC, FJ_TRACE_VERSION, FJ_TRACE_ENTRY, 0, 4, FJ_TRACE_END_STOP,
                       0, 3, 0, 0, n, 2, 0, 0};
  fj_trace_rec recs[4] = {
    {prog[0], 0, 0, 0, 0, 0, 0},
    {prog[1], 1, 4, 0, FJ_REC_CALL_INTERP, 0, 0},
    {prog[2], 2, 0, 0, 0, 0, 0},
    {prog[3], 3, 0, 0, 0, 0, 0},
  };
  uint8_t tr[sizeof h + sizeof recs];
  memcpy(tr, &h, sizeof h);
  memcpy(tr + sizeof h, recs, sizeof recs);
  compiled c;
  fj_codegen_opts o = {0, 0};
  if (fj_codegen_compile(tr, sizeof tr, FJ_TARGET_X86_64, &o, &c.res)) fail_msg("%s", c.res.message);
  fj_jl_env env = {helper_addr, NULL, fake_call_local, NULL, NULL};
  char err[160];
  if (fj_jl_load(c.res.blob, c.res.blob_size, &env, &c.t, err, sizeof err)) fail_msg("load: %s", err);
  fj_jit_state st;
  seen_st = NULL;
  uint32_t id = run(&c, &st, 100);
  assert_ptr_equal(seen_st, &st);
  assert_int_equal(seen_pc, 4);
  assert_int_equal(st.r[1], 5);
  assert_int_equal(st.r[0], 16);
  assert_int_equal(c.t.exits[id].kind, FJ_EXIT_STOP);
  assert_int_equal(c.t.exits[st.call_exit].kind, FJ_EXIT_CALL);
  assert_int_equal(c.t.exits[st.call_exit].pc, 2);
  release(&c);
  free(prog);
}

static void test_link(void **state) {
  (void)state;
  /* B: the trace at pc 2. */
  compiled b;
  compile_text("mov %r0, 1\nadd %r0, 2\nadd %r0, 10\nexit\n", 2, "", 100, false, 0, &b);
  /* A: pcs 0-1, END_LINK to pc 2: unlinked it leaves through a LINK exit with a TRACE reloc. */
  compiled a;
  link_target = NULL;
  compile_text("mov %r0, 1\nadd %r0, 2\nadd %r0, 10\nexit\n", 0, "", 2, true, 0, &a);
  fj_blob_header h;
  memcpy(&h, a.res.blob, sizeof h);
  bool have_trace_reloc = false;
  for (uint32_t i = 0; i < h.nrelocs; i++) {
    fj_blob_reloc r;
    memcpy(&r, a.res.blob + h.reloc_off + 16 * i, sizeof r);
    if (r.sym == FJ_SYM_TRACE) have_trace_reloc = r.target == 2 && r.kind == FJ_RELOC_REL32;
  }
  assert_true(have_trace_reloc);
  fj_jit_state st;
  uint32_t id = run(&a, &st, 100);
  assert_int_equal(a.t.exits[id].kind, FJ_EXIT_LINK);
  assert_int_equal(a.t.exits[id].pc, 2);
  assert_int_equal(st.r[0], 3);
  release(&a);
  /* Linked: A tail-calls B, which names itself in exit_code. */
  link_target = b.t.code + b.t.h.entry_off;
  compile_text("mov %r0, 1\nadd %r0, 2\nadd %r0, 10\nexit\n", 0, "", 2, true, 0, &a);
  id = run(&a, &st, 100);
  assert_int_equal(st.exit_code, (uint64_t)(uintptr_t)b.t.code);
  assert_int_equal(b.t.exits[id].kind, FJ_EXIT_STOP);
  assert_int_equal(st.r[0], 13);
  assert_int_equal(st.budget, 100 - 3);
  release(&a);
  release(&b);
}

/* Random programs walked along random paths (and then with random bytes flipped): the compiler
 * never crashes, rejects with a message, or produces a blob the client's validator accepts. */
static void test_compile_fuzz(void **state) {
  (void)state;
  unsigned ok = 0, rejected = 0;
  for (uint64_t seed = 1; seed <= 400; seed++) {
    fj_gen_prog p;
    fj_gen_opts go = {.calls = seed % 2, .local_calls = seed % 3 == 0, .atomics = true,
                      .straight = seed % 4 == 0, .body = 60};
    fj_gen_program(seed, &go, &p);
    char path[64];
    for (unsigned k = 0; k < sizeof path - 1; k++) path[k] = (seed >> (k % 16)) & 1 ? 't' : 'n';
    path[sizeof path - 1] = '\0';
    size_t len;
    uint8_t *tr = cu_trace(p.insns, p.n, seed % 2 ? p.loop_pc : 0, path, 1, 300, &len);
    for (int m = 0; m < 6; m++) {
      if (m > 0) {  /* flip a few bytes of the records */
        uint64_t x = seed * 7919 + (uint64_t)m;
        for (int f = 0; f < m; f++) {
          x = x * 6364136223846793005ull + 1;
          size_t at = sizeof(fj_trace_header) + (size_t)(x >> 33) % (len - sizeof(fj_trace_header));
          tr[at] ^= (uint8_t)(1u << (x >> 60 & 7));
        }
      }
      for (int v = 0; v < 2; v++) {
        fj_codegen_opts o = {v ? FJ_CG_NO_OPT : 0, 0};
        fj_codegen_result r;
        int rc = fj_codegen_compile(tr, len, FJ_TARGET_X86_64, &o, &r);
        if (rc != 0) {
          assert_true(rc == FJ_EBADTRACE || rc == FJ_ECOMPILE);
          assert_true(strlen(r.message) > 0);
          if (rc == FJ_ECOMPILE && (r.abort_reason == FJ_ABORT_BACKEND || r.abort_reason == FJ_ABORT_INTERNAL))
            fail_msg("seed %llu mutation %d: %s", (unsigned long long)seed, m, r.message);
          rejected++;
          continue;
        }
        fj_blob_expect e = {FJ_TARGET_X86_64, 0, FJ_BLOB_ANY_PC, 0, 0, UINT32_MAX, NULL, NULL};
        fj_blob_view bv;
        int why = fj_blob_check(r.blob, r.blob_size, &e, &bv);
        if (why) fail_msg("seed %llu: blob rejected: %s", (unsigned long long)seed, fj_blob_reject_text(why));
        ok++;
        fj_codegen_result_free(&r);
      }
    }
    free(tr);
  }
  assert_true(ok > 400);
  assert_true(rejected > 0);
}

/* The server compiles on worker threads and caches by content: compiles must be pure (no
 * shared state) and deterministic (same trace, same bytes). */
enum { NTHREADS = 4, NTRACES = 24 };
static uint8_t *mt_trace[NTRACES];
static size_t mt_len[NTRACES];
static uint8_t *mt_blob[NTRACES];
static size_t mt_blob_len[NTRACES];

static void *compile_worker(void *arg) {
  uintptr_t bad = 0;
  for (int round = 0; round < 20; round++) {
    for (int t = 0; t < NTRACES; t++) {
      int k = (t + (int)(uintptr_t)arg * 7 + round) % NTRACES;
      fj_codegen_result r;
      fj_codegen_opts o = {(uint32_t)(k % 2) ? FJ_CG_NO_OPT : 0, 0};
      if (fj_codegen_compile(mt_trace[k], mt_len[k], FJ_TARGET_X86_64, &o, &r) != 0 ||
          r.blob_size != mt_blob_len[k] || memcmp(r.blob, mt_blob[k], r.blob_size) != 0)
        bad++;
      fj_codegen_result_free(&r);
    }
  }
  return (void *)bad;
}

static void test_threads_deterministic(void **state) {
  (void)state;
  uint64_t seed = 0x7e57;
  for (int t = 0; t < NTRACES; seed++) {
    fj_gen_prog p;
    fj_gen_opts go = {.calls = t % 2, .local_calls = t % 3 == 0, .atomics = true, .body = 40};
    fj_gen_program(seed, &go, &p);
    mt_trace[t] = cu_trace(p.insns, p.n, p.loop_pc, "tntnttnn", 1, 200, &mt_len[t]);
    fj_codegen_result r;
    fj_codegen_opts o = {(uint32_t)(t % 2) ? FJ_CG_NO_OPT : 0, 0};
    if (fj_codegen_compile(mt_trace[t], mt_len[t], FJ_TARGET_X86_64, &o, &r) != 0) {
      free(mt_trace[t]);  /* an unrealizable path (the walk ignores data): take another */
      assert_true(seed < 0x7e57 + 1000);
      continue;
    }
    mt_blob[t] = r.blob;
    mt_blob_len[t] = r.blob_size;
    t++;
  }
  pthread_t th[NTHREADS];
  for (uintptr_t i = 0; i < NTHREADS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, compile_worker, (void *)i), 0);
  uintptr_t bad = 0;
  for (int i = 0; i < NTHREADS; i++) {
    void *ret;
    pthread_join(th[i], &ret);
    bad += (uintptr_t)ret;
  }
  assert_int_equal(bad, 0);
  for (int t = 0; t < NTRACES; t++) {
    free(mt_trace[t]);
    free(mt_blob[t]);
  }
}

/* FJ_CG_SAMPLE=DIR: write DIR/loop.trace (a loop trace with a helper call) for the `farjit
 * compile` / `farjit dump` shell test, and exit. */
static int write_sample(const char *dir) {
  uint32_t n;
  fj_insn *prog = cu_asm("mov %r0, 0\nmov %r1, 100\nL: add %r0, %r1\nsub %r1, 1\n"
                         "jne %r1, 0, L\nexit\n", &n);
  size_t len;
  uint8_t *tr = cu_trace(prog, n, 2, "t", 1, 100, &len);
  char path[512];
  snprintf(path, sizeof path, "%s/loop.trace", dir);
  FILE *f = fopen(path, "wb");
  int ok = f && fwrite(tr, 1, len, f) == len;
  if (f) fclose(f);
  free(tr);
  free(prog);
  return ok ? 0 : 1;
}

int main(void) {
  const char *sample = getenv("FJ_CG_SAMPLE");
  if (sample) return write_sample(sample);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_driver_errors),
    cmocka_unit_test(test_straight_line),
    cmocka_unit_test(test_loop_runs_natively),
    cmocka_unit_test(test_helper_call),
    cmocka_unit_test(test_call_local),
    cmocka_unit_test(test_link),
    cmocka_unit_test(test_compile_fuzz),
    cmocka_unit_test(test_threads_deterministic),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
