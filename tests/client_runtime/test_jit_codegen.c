/* End to end without a network: the JIT runtime with an in-process transport that compiles
 * each trace with the real compiler (libfj_codegen) on the next poll.  Every program runs
 * interpreted and with the JIT (several runs, so later runs execute installed traces) and must
 * give the same r0, memory, error and instruction count; machine code must actually have run. */
#include "tests/client_runtime/vm_test_util.h"

#include "farjit/client.h"
#include "farjit/client_linux.h"
#include "farjit/codegen.h"
#include "farjit/platform_linux.h"
#include "tests/client_runtime/conf_case.h"
#include "tests/conformance/data_file.h"
#include "tools/asm.h"
#ifdef FJ_HAVE_EXAMPLES
#include "examples/catalog.h"
#endif

typedef struct done {
  uint32_t id;
  fj_codegen_result res;
} done;

static done q[64];
static int nq;
static int compiled, compile_errors;
static bool verbose;

static int lt_submit(void *ud, const fj_jit_request *rq) {
  (void)ud;
  if (nq == 64) return FJ_EBUSY;
  done *d = &q[nq++];
  d->id = rq->id;
  fj_codegen_opts o = {0, 0};
  fj_codegen_compile(rq->trace, rq->trace_len, (enum fj_target)rq->target, &o, &d->res);
  if (d->res.status) compile_errors++;
  else compiled++;
  if (verbose && d->res.status) fprintf(stderr, "compile pc %u: %s\n", rq->start_pc, d->res.message);
  return 0;
}

static int lt_poll(void *ud, fj_jit_result *r) {
  (void)ud;
  if (!nq) return 0;
  done *d = &q[0];
  r->id = d->id;
  r->status = d->res.status;
  snprintf(r->message, sizeof r->message, "%.150s", d->res.message);
  r->blob = d->res.blob;
  r->blob_len = d->res.blob_size;
  fj_codegen_result *keep = malloc(sizeof *keep);
  *keep = d->res;
  r->priv = keep;
  memmove(&q[0], &q[1], (size_t)(--nq) * sizeof q[0]);
  return 1;
}

static void lt_release(void *ud, fj_jit_result *r) {
  (void)ud;
  fj_codegen_result_free(r->priv);
  free(r->priv);
}

static void lt_log(void *ud, const char *line, size_t len) {
  (void)ud;
  if (verbose) fprintf(stderr, "%.*s\n", (int)len, line);
}

typedef struct outcome {
  int rc;
  uint64_t r0;
  uint8_t mem[64];
  char msg[256];
  uint64_t insns;
} outcome;

static outcome run_once(fj_vm *vm, const uint8_t *mem0) {
  outcome o;
  memset(&o, 0, sizeof o);
  memcpy(o.mem, mem0, sizeof o.mem);
  o.rc = fj_vm_run(vm, 0, o.mem, sizeof o.mem, &o.r0);
  if (o.rc) snprintf(o.msg, sizeof o.msg, "%s", fj_vm_errmsg(vm));
  return o;
}

/* A runtime on vm that compiles in process (lt_submit) and runs the code (W^X flipping). */
static fj_jit *local_jit(fj_vm *vm, uint16_t hot_threshold, uint16_t exit_threshold) {
  fj_jit_config c;
  memset(&c, 0, sizeof c);
  c.hot_threshold = hot_threshold;
  c.exit_threshold = exit_threshold;
  fj_jit_env e;
  memset(&e, 0, sizeof e);
  e.exec = fj_jit_linux_exec(FJ_JIT_EXEC_FLIP);
  e.transport = (fj_jit_transport){.submit = lt_submit, .poll = lt_poll, .release = lt_release};
  e.log = lt_log;
  fj_jit *jit = fj_jit_create(vm, &c, &e, NULL);
  assert_non_null(jit);
  return jit;
}

/* Every eBPF instruction the interpreter ran (sa) accounted by the JIT's run (sb)? */
static void check_insns(const char *name, int run, const fj_vm_stats *sa, const fj_vm_stats *sb) {
  if (sa->insns_interp != sb->insns_interp + sb->insns_native)
    fail_msg("%s run %d: %llu instructions interpreted, JIT %llu + %llu native", name, run,
             (unsigned long long)sa->insns_interp, (unsigned long long)sb->insns_interp,
             (unsigned long long)sb->insns_native);
}

/* Machine code runs on x86-64 hosts only (cmocka's skip() leaves the test). */
static void skip_unless_x86(void) {
  if (fj_jit_host_target() != FJ_TARGET_X86_64 || !fj_codegen_supports(FJ_TARGET_X86_64)) skip();
}

/* Helper 0x55: returns r1 + 1000, and unwinds the program when r1 == 150 (from machine code,
 * from a recording, or inside a callback's nested run: the run must end exactly as the
 * interpreter's, with r0 = 1150). */
static uint64_t unwind_at(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5, fj_vm *vm) {
  (void)r2, (void)r3, (void)r4, (void)r5;
  if (r1 == 150) fj_vm_unwind(vm);
  return r1 + 1000;
}

/* p loaded, with helper 0x55 and the instruction limit. */
static fj_vm *unwind_vm(const fj_insn *p, size_t n, uint64_t limit) {
  fj_vm *vm = tu_vm();
  fj_vm_set_insn_limit(vm, limit);
  assert_true(fj_vm_register_helper(vm, 0x55, "unwind_at", unwind_at) >= 0);
  tu_load(vm, p, n);
  return vm;
}

/* The runtime's counters around the last run of check_program, and the VM's for that run. */
static fj_jit_stats last_js0, last_js1;
static fj_vm_stats last_vs;
/* A pc that must have a trace after check_program's runs (UINT32_MAX: none). */
static uint32_t want_trace_at = UINT32_MAX;

/* Interpreted vs JIT over `runs` runs; returns native instructions executed. */
static uint64_t check_program(const char *name, const char *src, int runs, uint64_t limit) {
  fj_insn *p = NULL;
  size_t n;
  char err[128];
  if (fj_asm(src, &p, &n, err, sizeof err)) fail_msg("%s: asm: %s", name, err);
  uint8_t mem0[64];
  for (int i = 0; i < 64; i++) mem0[i] = (uint8_t)(i * 7 + 3);

  fj_vm *ref = unwind_vm(p, n, limit), *vm = unwind_vm(p, n, limit);
  fj_jit *jit = local_jit(vm, 2, 3);
  for (int r = 0; r < runs; r++) {
    fj_vm_reset_stats(ref);
    fj_vm_reset_stats(vm);
    fj_jit_get_stats(jit, &last_js0);
    outcome a = run_once(ref, mem0), b = run_once(vm, mem0);
    fj_jit_get_stats(jit, &last_js1);
    fj_vm_stats sa, sb;
    fj_vm_get_stats(ref, &sa);
    fj_vm_get_stats(vm, &sb);
    last_vs = sb;
    if (a.rc != b.rc || a.r0 != b.r0 || memcmp(a.mem, b.mem, sizeof a.mem) || strcmp(a.msg, b.msg))
      fail_msg("%s run %d: interpreter rc %d r0 0x%llx \"%s\", JIT rc %d r0 0x%llx \"%s\"%s", name, r,
               a.rc, (unsigned long long)a.r0, a.msg, b.rc, (unsigned long long)b.r0, b.msg,
               memcmp(a.mem, b.mem, sizeof a.mem) ? " (memory differs)" : "");
    check_insns(name, r, &sa, &sb);
  }
  fj_vm_stats s;
  fj_vm_get_stats(vm, &s);
  if (want_trace_at != UINT32_MAX && !fj_jit_has_trace(jit, want_trace_at))
    fail_msg("%s: no trace at pc %u", name, want_trace_at);
  if (verbose) {
    char text[4096];
    fj_jit_stats_format(jit, text, sizeof text);
    fprintf(stderr, "%s:\n%s", name, text);
  }
  fj_jit_destroy(jit);
  fj_vm_destroy(vm);
  fj_vm_destroy(ref);
  free(p);
  return s.insns_native;
}

static void test_programs(void **state) {
  (void)state;
  skip_unless_x86();
  verbose = getenv("FJ_TEST_LOG") != NULL;
  struct { const char *name, *src; bool native; } progs[] = {
      {"sum", "mov %r0, 0\nmov %r1, 0\nl:\nadd %r0, %r1\nadd %r1, 1\njlt %r1, 1000, l\nexit\n", true},
      {"memory",
       "mov %r6, %r1\nmov %r0, 0\nmov %r2, 0\n"
       "l:\nmov %r3, %r6\nadd %r3, %r2\nldxb %r4, [%r3+0]\nadd %r0, %r4\nstxb [%r3+0], %r0\n"
       "add %r2, 1\njlt %r2, 64, l\nexit\n", true},
      {"branches",
       "mov %r0, 0\nmov %r1, 0\nl:\nmov %r2, %r1\nand %r2, 3\njeq %r2, 0, z\nadd %r0, %r2\nja n\n"
       "z:\nxor %r0, 0x55\nn:\nadd %r1, 1\njlt %r1, 500, l\nexit\n", true},
      {"stack",
       "mov %r1, 0\nstxdw [%r10-8], %r1\nl:\nldxdw %r2, [%r10-8]\nadd %r2, 3\nstxdw [%r10-8], %r2\n"
       "add %r1, 1\njlt %r1, 300, l\nldxdw %r0, [%r10-8]\nexit\n", true},
      {"calls",
       "mov %r6, 0\nmov %r7, 0\nl:\nmov %r1, %r6\ncall local f\nadd %r7, %r0\nadd %r6, 1\n"
       "jlt %r6, 200, l\nmov %r0, %r7\nexit\nf:\nmov %r0, %r1\nmul %r0, 3\nexit\n", false},
      {"helper",
       "mov %r6, 0\nmov %r7, 0\nl:\ncall 7\nand %r0, 15\nadd %r7, %r0\nadd %r6, 1\njlt %r6, 200, l\n"
       "mov %r0, %r7\nexit\n", false},
      {"division",
       "mov %r6, 1\nmov %r7, 0\nl:\nmov %r1, 100000\ndiv %r1, %r6\nadd %r7, %r1\nmov %r2, %r7\n"
       "mod %r2, %r6\nadd %r7, %r2\nadd %r6, 1\njlt %r6, 300, l\nmov %r0, %r7\nexit\n", false},
      {"helper-fault",  /* memcpy fails inside the loop: same message as the interpreter's */
       "mov %r6, %r1\nmov %r7, 0\nl:\nmov %r1, %r10\nadd %r1, -8\nmov %r2, %r6\nadd %r2, %r7\n"
       "mov %r3, 8\ncall 1000\nadd %r7, 1\njlt %r7, 100, l\nexit\n", false},
      {"deep",  /* recursion until the call depth limit: the same error either way */
       "mov %r6, 0\nl:\nmov %r1, 0\ncall local f\nadd %r6, 1\njlt %r6, 3, l\nexit\n"
       "f:\nadd %r1, 1\njgt %r1, 5, +1\ncall local f\nmov %r0, %r1\nexit\n", false},
      {"unwind",  /* the helper unwinds at iteration 150, inside machine code */
       "mov %r6, 0\nl:\nmov %r1, %r6\ncall 0x55\nadd %r6, 1\njlt %r6, 1000, l\nmov %r0, 7\nexit\n", true},
      {"unwind-callback",  /* ... inside a loop-helper callback (nested run, its own trace) */
       "mov %r6, 0\nl:\nmov %r1, 60\nlddw %r2, cb\nmov %r3, 0\nmov %r4, 0\ncall 181\nadd %r6, 1\n"
       "jlt %r6, 3, l\nmov %r0, 7\nexit\n"
       "cb:\nmov %r0, 0\nmov %r6, %r1\nmul %r6, 3\njne %r6, 150, +2\nmov %r1, %r6\ncall 0x55\n"
       "mov %r0, 0\nexit\n", false},
      {"too-deep",
       "mov %r1, 0\ncall local f\nexit\nf:\nadd %r1, 1\ncall local f\nexit\n", false},
      {"fault",
       "mov %r6, %r1\nmov %r2, 0\nl:\nmov %r3, %r6\nadd %r3, %r2\nldxb %r4, [%r3+0]\nadd %r2, 1\n"
       "jlt %r2, 100, l\nexit\n", false},
  };
  uint64_t native_total = 0;
  for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++) {
    uint64_t native = check_program(progs[i].name, progs[i].src, 4, 0);
    if (progs[i].native && native == 0) fail_msg("%s: no machine code ran", progs[i].name);
    native_total += native;
  }
  assert_true(compiled > 0);
  assert_true(native_total > 0);
  /* the budget is exact with machine code too */
  for (uint64_t limit = 1000; limit < 1010; limit++)
    check_program("sum-budget", progs[0].src, 3, limit);
}

/* A local call the trace leaves to the interpreter (the callee has a loop, so it is not
 * inlined) runs the callee's own trace straight from machine code (fj_jit_rt_call_local), and
 * the runtime executes the callee's final `exit` itself: no hot event, no interpreter run per
 * call, and still the interpreter's result and instruction count (check_program).  Helper
 * callbacks likewise. */
static void test_direct_calls(void **state) {
  (void)state;
  skip_unless_x86();
  verbose = getenv("FJ_TEST_LOG") != NULL;
  const char *src =
      "mov %r6, 0\nmov %r7, 0\nl:\nmov %r1, %r6\nand %r1, 7\ncall local f\nadd %r7, %r0\n"
      "add %r6, 1\njlt %r6, 300, l\nmov %r0, %r7\nexit\n"
      "f:\nmov %r0, 0\ng:\nadd %r0, %r1\nsub %r1, 1\njsgt %r1, 0, g\nexit\n";
  uint64_t native = check_program("direct-calls", src, 4, 0);
  assert_true(native > 0);
  /* the last run: every call went through machine code, none counted a hot event */
  assert_int_equal(last_vs.local_calls, 300);
  assert_true(last_js1.trace_entries - last_js0.trace_entries >= 300);
  assert_true(last_js1.hot_events - last_js0.hot_events < 30);
  assert_true(last_vs.insns_interp < 300 * 2);  /* at most the exits' `exit`s and a few more */

  /* the same for a helper's callbacks (the loop helper, 200 calls per run): fj_vm_call goes
   * through the runtime's on_call, which enters the callback's trace directly */
  const char *cb =
      "mov %r1, 200\nlddw %r2, cb\nmov %r3, 0\nmov %r4, 0\ncall 181\nexit\n"
      "cb:\nmov %r6, %r1\nmul %r6, 7\nadd %r6, 3\nxor %r6, %r1\nmov %r0, 0\nexit\n";
  native = check_program("direct-callbacks", cb, 4, 0);
  assert_true(native > 0);
  assert_int_equal(last_vs.callbacks, 200);
  assert_true(last_js1.trace_entries - last_js0.trace_entries >= 200);
  assert_true(last_js1.hot_events - last_js0.hot_events < 20);

  /* Calls out of machine code that run nested code two levels deep (a loop trace calls the
   * loop helper, whose callback calls it again): the instructions the nested runs count are
   * taken off the outer trace's budget use once (the first nested run of an entry snapshots the
   * counters), exactly, also when the budget ends in the middle (check_program compares the
   * counts, results and errors with the interpreter's). */
  const char *nest =
      "mov %r9, %r1\nmov %r6, 0\nl:\nmov %r1, 3\nlddw %r2, cb1\nmov %r3, %r9\nmov %r4, 0\n"
      "call 181\nldxdw %r5, [%r9+0]\nadd %r5, %r0\nstxdw [%r9+0], %r5\nadd %r6, 1\n"
      "jlt %r6, 60, l\nldxdw %r0, [%r9+8]\nexit\n"
      "cb1:\nmov %r6, %r2\nmov %r7, %r1\nmov %r1, 4\nlddw %r2, cb2\nmov %r3, %r6\nmov %r4, 0\n"
      "call 181\nldxdw %r5, [%r6+8]\nadd %r5, %r7\nstxdw [%r6+8], %r5\nmov %r0, 0\nexit\n"
      "cb2:\nldxdw %r5, [%r2+16]\nmul %r5, 3\nadd %r5, %r1\nstxdw [%r2+16], %r5\nmov %r0, 0\nexit\n";
  native = check_program("nested-callbacks", nest, 4, 0);
  assert_true(native > 0);
  assert_int_equal(last_vs.callbacks, 60 * 3 + 60 * 3 * 4);
  assert_true(last_js1.trace_entries - last_js0.trace_entries >= 60 * 3);
  for (uint64_t limit = 2000; limit < 2600; limit += 97) check_program("nested-callbacks-budget", nest, 3, limit);

  /* A side exit inside an inlined call (f's jeq, taken every 8th iteration) cannot get a
   * bridge: once hot, a root trace recorded at its pc (14, in f's frame) runs the rest of f and
   * is entered right after each such exit, so only the runtime's `exit`s are interpreted. */
  const char *side =
      "mov %r6, 0\nmov %r7, 0\nl:\nmov %r1, %r6\ncall local f\nadd %r7, %r0\nadd %r6, 1\n"
      "jlt %r6, 400, l\nmov %r0, %r7\nexit\n"
      "f:\nmov %r0, %r1\nand %r0, 7\njeq %r0, 0, z\nmul %r0, 3\nexit\n"
      "z:\nmov %r0, 100\nadd %r0, %r1\nexit\n";
  want_trace_at = 14;
  native = check_program("inlined-side-exit", side, 4, 0);
  want_trace_at = UINT32_MAX;
  assert_true(native > 0);
  assert_true(last_js1.reentries - last_js0.reentries >= 400 / 8);
  assert_true(last_vs.insns_interp <= 2 * (400 / 8) + 8);  /* was 7 per exit: 14-16, 4-6 */
}

#ifdef FJ_HAVE_EXAMPLES
/* Trace selection on the examples whose shape exposed it (pcs are those of the examples as
 * clang -O2 builds them; bench/jit/README.md shows the traces). */
static void check_selection(const char *name, const fj_jit *jit, const fj_vm *vm) {
  fj_jit_stats s;
  fj_jit_get_stats(jit, &s);
  fj_vm_stats vs;
  fj_vm_get_stats(vm, &vs);
  if (!strcmp(name, "matmul")) {
    /* the j-loop header at pc 3 used to be reached only through a bridge's LINK exit and ran
     * in the interpreter (7% of the instructions, 8000 entries per run); now the bridge goes
     * on through it (or the exits count as its hot events) and machine code runs nearly all */
    assert_true(vs.insns_interp * 1000 < vs.insns_native);  /* < 0.1% interpreted */
  } else if (!strcmp(name, "hashtab")) {
    /* pc 39 is the function's `exit`: a trace of just that would only cost entries */
    assert_true(s.traces_trivial > 0);
    assert_false(fj_jit_has_trace(jit, 39));
  } else if (!strcmp(name, "sort")) {
    /* side exits onto the loop heads are linked there, not bridged by copies of them */
    assert_true(s.exits_linked > 0);
  }
}

/* The example programs (ELF objects from clang -target bpf) on their inputs, 3 runs each. */
static void test_examples(void **state) {
  (void)state;
  skip_unless_x86();
  verbose = getenv("FJ_TEST_LOG") != NULL;
  const char *b = getenv("FJ_BUILD");
  uint64_t native_total = 0;
  int ran = 0;
  /* hot threshold 4 (traces from early on) and 64 (the runtime's default, as bench-jit runs) */
  for (size_t i = 0; i < 2 * fj_nexamples; i++) {
    const fj_example *ex = &fj_examples[i % fj_nexamples];
    const uint16_t hot = i < fj_nexamples ? 4 : 64;
    char path[512];
    snprintf(path, sizeof path, "%s/examples/%s.o", b ? b : "build/rel", ex->name);
    FILE *f = fopen(path, "rb");
    if (!f) {
      fprintf(stderr, "skip %s: %s not built\n", ex->name, path);
      continue;
    }
    static uint8_t elf[1 << 20];
    size_t elf_len = fread(elf, 1, sizeof elf, f);
    fclose(f);
    uint8_t *in = malloc(ex->len), *m1 = malloc(ex->len), *m2 = malloc(ex->len);
    fj_example_input(ex, in, ex->len);
    /* tu_vm's allocator (ELF loading asks for align 1: tu_alloc must round for ASan) */
    fj_vm *ref = tu_vm(), *vm = tu_vm();
    assert_int_equal(fj_vm_load_elf(ref, elf, elf_len), 0);
    assert_int_equal(fj_vm_load_elf(vm, elf, elf_len), 0);
    fj_jit *jit = local_jit(vm, hot, 0);
    uint32_t entry = (uint32_t)fj_vm_default_entry(vm);
    for (int r = 0; r < 3; r++) {
      memcpy(m1, in, ex->len);
      memcpy(m2, in, ex->len);
      fj_vm_reset_stats(ref);
      fj_vm_reset_stats(vm);
      uint64_t a = 0, bres = 0;
      int ra = fj_vm_run(ref, entry, m1, ex->len, &a), rb = fj_vm_run(vm, entry, m2, ex->len, &bres);
      fj_vm_stats sa, sb;
      fj_vm_get_stats(ref, &sa);
      fj_vm_get_stats(vm, &sb);
      if (ra != rb || a != bres || memcmp(m1, m2, ex->len))
        fail_msg("%s run %d: interpreter rc %d r0 0x%llx, JIT rc %d r0 0x%llx%s (%s)", ex->name, r, ra,
                 (unsigned long long)a, rb, (unsigned long long)bres,
                 memcmp(m1, m2, ex->len) ? ", memory differs" : "", fj_vm_errmsg(vm));
      assert_int_equal(a, ex->native(in, ex->len));
      check_insns(ex->name, r, &sa, &sb);
      if (r == 2) {
        native_total += sb.insns_native;
        fprintf(stderr, "example %-8s hot %2u interpreted %9llu  native %9llu\n", ex->name, hot,
                (unsigned long long)sb.insns_interp, (unsigned long long)sb.insns_native);
      }
    }
    if (hot == 64) check_selection(ex->name, jit, vm);
    fj_jit_destroy(jit);
    fj_vm_destroy(vm);
    fj_vm_destroy(ref);
    free(in);
    free(m1);
    free(m2);
    ran++;
  }
  if (ran) assert_true(native_total > 0);
}
#endif

/* Every public conformance case, interpreted vs JIT (traces from the first hot event on, three
 * runs so that installed code runs): same outcome and instruction count. */
static void test_conformance(void **state) {
  (void)state;
  skip_unless_x86();
  const char *dir = fj_data_dir();
  if (!dir) {
    fprintf(stderr, "skip: ../shared/conformance not found (set FJ_SHARED)\n");
    skip();
  }
  char **paths = NULL;
  int n = fj_data_list(dir, &paths);
  assert_true(n > 0);
  int cases = 0, with_native = 0;
  for (int i = 0; i < n; i++) {
    fj_data_case dc;
    fj_insn *prog;
    size_t np;
    if (!conf_case_open(paths[i], &dc, &prog, &np)) continue;
    fj_vm *ref = conf_vm_new(), *vm = conf_vm_new();
    assert_non_null(ref);
    assert_non_null(vm);
    if (fj_vm_load(ref, prog, np * sizeof *prog) != 0) {  /* rejected by the validator: no run */
      fj_vm_destroy(ref);
      fj_vm_destroy(vm);
      conf_case_close(&dc, prog);
      continue;
    }
    assert_int_equal(fj_vm_load(vm, prog, np * sizeof *prog), 0);
    fj_jit *jit = local_jit(vm, 0, 2);
    uint8_t m1[4096], m2[4096];
    size_t ml = dc.mem_len < sizeof m1 ? dc.mem_len : sizeof m1;
    uint64_t native = 0;
    for (int r = 0; r < 3; r++) {
      if (ml) memcpy(m1, dc.mem, ml);
      if (ml) memcpy(m2, dc.mem, ml);
      fj_vm_reset_stats(ref);
      fj_vm_reset_stats(vm);
      uint64_t a = 0, b = 0;
      int ra = fj_vm_run(ref, 0, ml ? m1 : NULL, ml, &a);
      char ma[256];
      snprintf(ma, sizeof ma, "%s", ra ? fj_vm_errmsg(ref) : "");
      int rb = fj_vm_run(vm, 0, ml ? m2 : NULL, ml, &b);
      const char *mb = rb ? fj_vm_errmsg(vm) : "";
      fj_vm_stats sa, sb;
      fj_vm_get_stats(ref, &sa);
      fj_vm_get_stats(vm, &sb);
      if (ra != rb || (ra == 0 && a != b) || memcmp(m1, m2, ml) || strcmp(ma, mb) ||
          sa.insns_interp != sb.insns_interp + sb.insns_native)
        fail_msg("%s run %d: interpreter rc %d r0 0x%llx \"%s\" %llu insns; JIT rc %d r0 0x%llx \"%s\" "
                 "%llu + %llu native%s", paths[i], r, ra, (unsigned long long)a, ma,
                 (unsigned long long)sa.insns_interp, rb, (unsigned long long)b, mb,
                 (unsigned long long)sb.insns_interp, (unsigned long long)sb.insns_native,
                 memcmp(m1, m2, ml) ? " (memory differs)" : "");
      native += sb.insns_native;
    }
    cases++;
    if (native) with_native++;
    fj_jit_destroy(jit);
    fj_vm_destroy(vm);
    fj_vm_destroy(ref);
    conf_case_close(&dc, prog);
  }
  fj_data_list_free(paths, n);
  fprintf(stderr, "conformance through the JIT: %d cases agree, %d ran machine code\n", cases,
          with_native);
  assert_true(cases > 100);
  assert_true(with_native > 0);
}

/* A program that is reloaded while it runs: a helper called from the hot loop (from machine
 * code once the loop is compiled) tries to load another program.  The VM refuses (FJ_EBUSY)
 * and the run finishes exactly as the interpreter's.  The reload after the run (same length,
 * possibly the same buffer address) is seen through the VM's load generation: the old traces
 * go and the new program runs its own machine code. */
static fj_insn *reload_b;
static size_t reload_b_n;
static int reload_busy, reload_calls;

static uint64_t reload_helper(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5, fj_vm *vm) {
  (void)r1, (void)r2, (void)r3, (void)r4, (void)r5;
  reload_calls++;
  if (fj_vm_load(vm, reload_b, reload_b_n * sizeof *reload_b) == FJ_EBUSY) reload_busy++;
  return 0;
}

static void test_reload_while_running(void **state) {
  (void)state;
  skip_unless_x86();
  const char *a_src = "mov %r6, 0\nmov %r7, 0\nl:\ncall 0x56\nadd %r7, %r6\nadd %r6, 1\n"
                      "jlt %r6, 300, l\nmov %r0, %r7\nexit\n";
  const char *b_src = "mov %r6, 0\nmov %r7, 0\nl:\ncall 0x56\nadd %r7, 2\nadd %r6, 1\n"
                      "jlt %r6, 300, l\nmov %r0, %r7\nexit\n";
  fj_insn *a = NULL;
  size_t an;
  char err[128];
  assert_int_equal(fj_asm(a_src, &a, &an, err, sizeof err), 0);
  assert_int_equal(fj_asm(b_src, &reload_b, &reload_b_n, err, sizeof err), 0);
  assert_int_equal(an, reload_b_n);
  fj_vm *vm = tu_vm();
  assert_true(fj_vm_register_helper(vm, 0x56, "reload", reload_helper) >= 0);
  tu_load(vm, a, an);
  fj_jit *jit = local_jit(vm, 2, 0);
  reload_busy = reload_calls = 0;
  for (int r = 0; r < 3; r++) {
    uint64_t r0 = 0;
    fj_vm_reset_stats(vm);
    assert_int_equal(fj_vm_run(vm, 0, NULL, 0, &r0), 0);
    assert_int_equal(r0, 299 * 300 / 2);
    if (r == 2) {
      fj_vm_stats vs;
      fj_vm_get_stats(vm, &vs);
      assert_true(vs.insns_native > 0);  /* the helper (and its load attempt) ran from machine code */
    }
  }
  assert_int_equal(reload_busy, reload_calls);
  assert_int_equal(reload_calls, 900);
  assert_true(fj_jit_has_trace(jit, 2));
  fj_jit_stats before, after;
  fj_jit_get_stats(jit, &before);
  /* now the reload happens (idle VM): same length, maybe the same address */
  tu_load(vm, reload_b, reload_b_n);
  assert_int_equal(fj_jit_poll(jit), 0);
  assert_false(fj_jit_has_trace(jit, 2));
  fj_jit_get_stats(jit, &after);
  assert_true(after.invalidations > before.invalidations);
  for (int r = 0; r < 3; r++) {
    uint64_t r0 = 0;
    fj_vm_reset_stats(vm);
    assert_int_equal(fj_vm_run(vm, 0, NULL, 0, &r0), 0);
    assert_int_equal(r0, 600);
  }
  fj_vm_stats vs;
  fj_vm_get_stats(vm, &vs);
  assert_true(vs.insns_native > 0);
  fj_jit_destroy(jit);
  fj_vm_destroy(vm);
  free(a);
  free(reload_b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_programs),
      cmocka_unit_test(test_direct_calls),
      cmocka_unit_test(test_conformance),
      cmocka_unit_test(test_reload_while_running),
#ifdef FJ_HAVE_EXAMPLES
      cmocka_unit_test(test_examples),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
