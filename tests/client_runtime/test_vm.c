/* The VM API: lifecycle, entries, runs and their errors (call depth, budget, bad callx),
 * stats, unwind, nested calls, regions, and the internal interfaces the JIT runtime builds on
 * (fj_interp_step, JIT hooks with hot counters). */
#include "tests/client_runtime/vm_test_util.h"

#include "client_runtime/vm_internal.h"

static void test_create_destroy_no_program(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  uint64_t r0;
  assert_int_equal(fj_vm_run(vm, 0, NULL, 0, &r0), FJ_EINVAL);
  assert_contains(fj_vm_errmsg(vm), "no program");
  assert_int_equal(fj_vm_find_entry(vm, "main"), FJ_ENOENT);
  assert_int_equal(fj_vm_default_entry(vm), FJ_ENOENT);
  fj_vm_destroy(vm);
  fj_vm_destroy(NULL);
  fj_platform bad = {{NULL, NULL, NULL}, NULL, NULL, NULL};
  assert_null(fj_vm_create(&bad));
}

static void test_entries(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  const fj_insn p[] = {ALUI(MOV64_IMM, 0, 1), EXIT(), ALUI(MOV64_IMM, 0, 2), EXIT(), LDDW(0, 3), EXIT()};
  tu_load(vm, p, NINSN(p));
  assert_int_equal(fj_vm_find_entry(vm, "main"), 0);
  assert_int_equal(fj_vm_find_entry(vm, "nope"), FJ_ENOENT);
  assert_int_equal(fj_vm_default_entry(vm), 0);
  uint64_t r0 = 0;
  assert_int_equal(fj_vm_run(vm, 2, NULL, 0, &r0), 0);
  assert_int_equal(r0, 2);
  assert_int_equal(fj_vm_run(vm, 7, NULL, 0, &r0), FJ_ENOENT);  /* past the end */
  assert_int_equal(fj_vm_run(vm, 5, NULL, 0, &r0), FJ_ENOENT);  /* second slot of lddw */
  assert_int_equal(fj_vm_run(vm, 4, NULL, 0, &r0), 0);
  assert_int_equal(r0, 3);
  fj_vm_destroy(vm);
}

static void test_args_r1_r2(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  uint8_t mem[24] = {0};
  const fj_insn p[] = {STX(STXDW, 1, 2, 8), ALUR(MOV64_REG, 0, 2), EXIT()};
  assert_int_equal(tu_run_mem(vm, p, NINSN(p), mem, sizeof mem), 24);
  uint64_t v;
  memcpy(&v, mem + 8, 8);
  assert_int_equal(v, 24);
  fj_vm_destroy(vm);
}

static void test_call_depth_exceeded(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  /* f(n) = n == 0 ? 0 : n + f(n - 1) with n = 7 needs 9 frames */
  const fj_insn p[] = {
    ALUI(MOV64_IMM, 1, 7), CALL_LOCAL(1), EXIT(),
    JI(JNE64_IMM, 1, 0, 2), ALUI(MOV64_IMM, 0, 0), EXIT(),
    ALUR(MOV64_REG, 6, 1), ALUI(SUB64_IMM, 1, 1), CALL_LOCAL(-6), ALUR(ADD64_REG, 0, 6), EXIT(),
  };
  const char *msg = tu_run_fail(vm, p, NINSN(p), NULL, 0, FJ_EDEPTH);
  assert_contains(msg, "pc 8 (call): call depth exceeded");
  assert_int_equal(fj_vm_error_pc(vm), 8);
  fj_vm_stats st;
  fj_vm_get_stats(vm, &st);
  assert_int_equal(st.errors, 1);
  assert_int_equal(st.local_calls, 7);
  /* The VM is reusable after an error. */
  const fj_insn q[] = {ALUI(MOV64_IMM, 0, 5), EXIT()};
  assert_int_equal(tu_run_mem(vm, q, NINSN(q), NULL, 0), 5);
  assert_int_equal(fj_vm_error_pc(vm), -1);
  fj_vm_destroy(vm);
}

static void test_budget(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  const fj_insn loop[] = {ALUI(ADD64_IMM, 0, 1), JA(-2)};
  fj_vm_set_insn_limit(vm, 1000);
  const char *msg = tu_run_fail(vm, loop, NINSN(loop), NULL, 0, FJ_EBUDGET);
  assert_contains(msg, "instruction budget exceeded");
  fj_vm_stats st;
  fj_vm_get_stats(vm, &st);
  assert_int_equal(st.insns_interp, 1000);  /* exactly the limit ran */
  /* A program that needs exactly the limit passes. */
  const fj_insn p[] = {ALUI(MOV64_IMM, 0, 1), ALUI(MOV64_IMM, 0, 2), EXIT()};
  fj_vm_set_insn_limit(vm, 3);
  assert_int_equal(tu_run_mem(vm, p, NINSN(p), NULL, 0), 2);
  fj_vm_set_insn_limit(vm, 2);
  tu_run_fail(vm, p, NINSN(p), NULL, 0, FJ_EBUDGET);
  assert_int_equal(fj_vm_error_pc(vm), 2);
  /* 0 = unlimited */
  fj_vm_set_insn_limit(vm, 0);
  const fj_insn many[] = {ALUI(MOV64_IMM, 1, 3000000), ALUI(SUB64_IMM, 1, 1), JI(JNE64_IMM, 1, 0, -2),
                          ALUI(MOV64_IMM, 0, 9), EXIT()};
  assert_int_equal(tu_run_mem(vm, many, NINSN(many), NULL, 0), 9);
  fj_vm_destroy(vm);
}

static void test_callx(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  const fj_insn p[] = {ALUI(MOV64_IMM, 5, FJ_HELPER_GET_PRANDOM_U32), X(FJ_OP_CALLX, 5, 0, 0, 0),
                       ALUI(RSH64_IMM, 0, 32), EXIT()};
  assert_int_equal(tu_run_mem(vm, p, NINSN(p), NULL, 0), 0);  /* a u32 */
  fj_vm_stats st;
  fj_vm_get_stats(vm, &st);
  assert_int_equal(st.helper_calls, 1);
  const fj_insn bad[] = {LDDW(5, 0x100000005ull), X(FJ_OP_CALLX, 5, 0, 0, 0), EXIT()};
  const char *msg = tu_run_fail(vm, bad, NINSN(bad), NULL, 0, FJ_EHELPER);
  assert_contains(msg, "pc 2 (call): unknown helper");
  fj_vm_destroy(vm);
}

/* ---- helpers used by the tests below ---- */

static uint64_t h_add(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, fj_vm *vm) {
  (void)vm;
  return a + b + c + d + e;
}
static uint64_t h_unwind(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, fj_vm *vm) {
  (void)b, (void)c, (void)d, (void)e;
  fj_vm_unwind(vm);
  return a * 10;
}
static int nested_run_rc;
static uint64_t h_run_again(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, fj_vm *vm) {
  (void)a, (void)b, (void)c, (void)d, (void)e;
  uint64_t r0;
  nested_run_rc = fj_vm_run(vm, 0, NULL, 0, &r0);
  return 0;
}
/* Calls local function a with r1 = b; returns its r0 + 1000. */
static uint64_t h_call(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, fj_vm *vm) {
  (void)c, (void)d, (void)e;
  uint64_t args[5] = {b, 0, 0, 0, 0}, r0 = 0;
  int rc = fj_vm_call(vm, (uint32_t)a, args, &r0);
  return rc < 0 ? (uint64_t)(int64_t)rc : r0 + 1000;
}
static uint64_t h_region(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, fj_vm *vm) {
  (void)a, (void)b, (void)c, (void)d, (void)e;
  static uint64_t cell = 77;
  int idx = fj_vm_region_add(vm, &cell, sizeof cell, FJ_REGION_READ);
  return idx < 0 ? 0 : (uint64_t)(uintptr_t)&cell;
}

static void test_register_helper_and_name(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  assert_string_equal(fj_vm_helper_name(vm, FJ_HELPER_MEMCPY), "memcpy");
  assert_null(fj_vm_helper_name(vm, 99));
  assert_int_equal(fj_vm_register_helper(vm, 1, "x", NULL), FJ_EINVAL);
  /* many helpers: the table grows and keeps every entry */
  char name[32];
  for (uint32_t i = 0; i < 100; i++) {
    snprintf(name, sizeof name, "h%u", i);
    assert_int_equal(fj_vm_register_helper(vm, 5000 + i, name, h_add), 0);
  }
  for (uint32_t i = 0; i < 100; i++) {
    snprintf(name, sizeof name, "h%u", i);
    assert_string_equal(fj_vm_helper_name(vm, 5000 + i), name);
  }
  assert_string_equal(fj_vm_helper_name(vm, FJ_HELPER_LOOP), "loop");
  const fj_insn p[] = {ALUI(MOV64_IMM, 1, 40), ALUI(MOV64_IMM, 2, 2), ALUI(MOV64_IMM, 3, 0),
                       ALUI(MOV64_IMM, 4, 0), ALUI(MOV64_IMM, 5, 0), CALL(5099), EXIT()};
  assert_int_equal(tu_run_mem(vm, p, NINSN(p), NULL, 0), 42);
  fj_vm_destroy(vm);
}

static void test_helpers_custom(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  assert_int_equal(fj_vm_register_helper(vm, 100, "add5", h_add), 0);
  assert_string_equal(fj_vm_helper_name(vm, 100), "add5");
  const fj_insn p[] = {ALUI(MOV64_IMM, 1, 1), ALUI(MOV64_IMM, 2, 2), ALUI(MOV64_IMM, 3, 3),
                       ALUI(MOV64_IMM, 4, 4), ALUI(MOV64_IMM, 5, 5), CALL(100), EXIT()};
  assert_int_equal(tu_run_mem(vm, p, NINSN(p), NULL, 0), 15);
  /* replacing a helper keeps its id and takes effect for the loaded program */
  assert_int_equal(fj_vm_register_helper(vm, 100, "unwind", h_unwind), 0);
  uint64_t r0 = 0;
  assert_int_equal(fj_vm_run(vm, 0, NULL, 0, &r0), 0);
  assert_int_equal(r0, 10);
  fj_vm_destroy(vm);
}

static void test_unwind(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  assert_int_equal(fj_vm_register_helper(vm, 100, "unwind", h_unwind), 0);
  /* unwinding from a nested local call ends the whole run with the helper's value */
  const fj_insn p[] = {CALL_LOCAL(2), ALUI(MOV64_IMM, 0, 1), EXIT(),
                       ALUI(MOV64_IMM, 1, 4), CALL(100), ALUI(MOV64_IMM, 0, 2), EXIT()};
  assert_int_equal(tu_run_mem(vm, p, NINSN(p), NULL, 0), 40);
  fj_vm_stats st;
  fj_vm_get_stats(vm, &st);
  assert_int_equal(st.errors, 0);
  assert_int_equal(st.insns_interp, 3);
  fj_vm_unwind(vm);  /* outside a run: ignored */
  assert_int_equal(tu_run_mem(vm, p, NINSN(p), NULL, 0), 40);
  fj_vm_destroy(vm);
}

static void test_no_reentrant_run(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  assert_int_equal(fj_vm_register_helper(vm, 100, "again", h_run_again), 0);
  const fj_insn p[] = {CALL(100), ALUI(MOV64_IMM, 0, 3), EXIT()};
  nested_run_rc = 0;
  assert_int_equal(tu_run_mem(vm, p, NINSN(p), NULL, 0), 3);
  assert_int_equal(nested_run_rc, FJ_EBUSY);
  /* fj_vm_call outside a run */
  uint64_t r0;
  assert_int_equal(fj_vm_call(vm, 0, NULL, &r0), FJ_EINVAL);
  fj_vm_destroy(vm);
}

static void test_vm_call_nested(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  assert_int_equal(fj_vm_register_helper(vm, 100, "call", h_call), 0);
  /* main: r6 = 5; r0 = call(f, 7); check r6 and stack survived; f(x) = x * 2 using its stack */
  const fj_insn p[] = {
    ALUI(MOV64_IMM, 6, 5), ST(STDW, 10, -8, 99), LDDW_FUNC(1, 9), ALUI(MOV64_IMM, 2, 7), CALL(100),
    JI(JNE64_IMM, 6, 5, 3), LDX(LDXDW, 2, 10, -8), JI(JNE64_IMM, 2, 99, 1), EXIT(), ALUI(MOV64_IMM, 0, -1),
    EXIT(),
    /* f at pc 12 */
    ST(STDW, 10, -8, 1), ALUI(MOV64_IMM, 6, 0), ALUR(MOV64_REG, 0, 1), ALUI(MUL64_IMM, 0, 2), EXIT(),
  };
  assert_int_equal(tu_run_mem(vm, p, NINSN(p), NULL, 0), 1014);
  fj_vm_stats st;
  fj_vm_get_stats(vm, &st);
  assert_int_equal(st.callbacks, 1);
  /* calling something that is not a function fails the run */
  const fj_insn q[] = {ALUI(MOV64_IMM, 1, 1), CALL(100), EXIT()};
  const char *msg = tu_run_fail(vm, q, NINSN(q), NULL, 0, FJ_EINVAL);
  assert_contains(msg, "pc 1 (call call): invalid argument: callback target is not a function");
  fj_vm_destroy(vm);
}

/* Callbacks share the depth limit: a function that calls itself through the helper. */
static void test_vm_call_depth(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  assert_int_equal(fj_vm_register_helper(vm, 100, "call", h_call), 0);
  /* main calls f (frame 1); f passes itself to the helper, which calls it back on the next
   * frame, until the callback would need frame FJ_MAX_CALL_DEPTH */
  const fj_insn r[] = {CALL_LOCAL(1), EXIT(), LDDW_FUNC(1, -1), CALL(100), EXIT()};
  const char *msg = tu_run_fail(vm, r, NINSN(r), NULL, 0, FJ_EDEPTH);
  assert_contains(msg, "callback would exceed the call depth limit");
  fj_vm_stats st;
  fj_vm_get_stats(vm, &st);
  assert_int_equal(st.callbacks, FJ_MAX_CALL_DEPTH - 2);
  fj_vm_destroy(vm);
}

static void test_region_added_by_helper_is_dropped(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  assert_int_equal(fj_vm_register_helper(vm, 100, "region", h_region), 0);
  const fj_insn p[] = {CALL(100), LDX(LDXDW, 0, 0, 0), EXIT()};
  assert_int_equal(tu_run_mem(vm, p, NINSN(p), NULL, 0), 77);
  assert_int_equal(tu_run_mem(vm, p, NINSN(p), NULL, 0), 77);  /* added again, no leak of slots */
  /* a pointer kept from a previous run is no longer valid */
  uint64_t addr;
  {
    const fj_insn q[] = {CALL(100), EXIT()};
    addr = tu_run_mem(vm, q, NINSN(q), NULL, 0);
  }
  const fj_insn q2[] = {LDDW(1, addr), LDX(LDXDW, 0, 1, 0), EXIT()};
  tu_run_fail(vm, q2, NINSN(q2), NULL, 0, FJ_EOOB);
  /* host regions added outside a run persist across runs and loads */
  static uint64_t host_cell = 55;
  int idx = fj_vm_region_add(vm, &host_cell, sizeof host_cell, FJ_REGION_READ);
  assert_true(idx >= 2);
  const fj_insn q3[] = {LDDW(1, (uint64_t)(uintptr_t)&host_cell), LDX(LDXDW, 0, 1, 0), EXIT()};
  assert_int_equal(tu_run_mem(vm, q3, NINSN(q3), NULL, 0), 55);
  uint64_t r0 = 0;
  assert_int_equal(fj_vm_run(vm, 0, NULL, 0, &r0), 0);
  assert_int_equal(r0, 55);
  /* read-only: a store fails */
  const fj_insn q4[] = {LDDW(1, (uint64_t)(uintptr_t)&host_cell), ST(STDW, 1, 0, 1), EXIT()};
  assert_contains(tu_run_fail(vm, q4, NINSN(q4), NULL, 0, FJ_EOOB), "read-only");
  assert_int_equal(fj_vm_region_add(vm, NULL, 8, FJ_REGION_READ), FJ_EINVAL);
  assert_int_equal(fj_vm_region_add(vm, &host_cell, 8, 0x80), FJ_EINVAL);
  fj_vm_destroy(vm);
}

static void test_stats_reset(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  const fj_insn p[] = {CALL(FJ_HELPER_KTIME_GET_NS), EXIT()};
  assert_true(tu_run_mem(vm, p, NINSN(p), NULL, 0) > 0);
  fj_vm_stats st;
  fj_vm_get_stats(vm, &st);
  assert_int_equal(st.runs, 1);
  assert_int_equal(st.helper_calls, 1);
  assert_int_equal(st.insns_interp, 2);
  fj_vm_reset_stats(vm);
  fj_vm_get_stats(vm, &st);
  assert_int_equal(st.runs + st.helper_calls + st.insns_interp, 0);
  fj_vm_destroy(vm);
}

/* fj_interp_step executes one instruction at a time and agrees with fj_vm_run. */
static void test_step(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  const fj_insn p[] = {ALUI(MOV64_IMM, 0, 0), ALUI(MOV64_IMM, 1, 4), CALL_LOCAL(3),
                       ALUI(SUB64_IMM, 1, 1), JI(JNE64_IMM, 1, 0, -3), EXIT(),
                       ALUI(MOV64_IMM, 6, 3), ALUR(ADD64_REG, 0, 6), EXIT()};
  tu_load(vm, p, NINSN(p));
  fj_exec ex;
  memset(&ex, 0, sizeof ex);
  ex.r[10] = fj_vm_frame_top(vm, 0);
  vm->left = 1000;
  vm->cur = &ex;
  int steps = 0, rc;
  uint32_t max_depth = 0;
  while ((rc = fj_interp_step(vm, &ex)) == FJ_STEP_OK) {
    steps++;
    if (ex.depth > max_depth) max_depth = ex.depth;
    assert_true(steps < 100);
  }
  vm->cur = NULL;
  assert_int_equal(rc, FJ_STEP_DONE);
  assert_int_equal(ex.r[0], 12);
  assert_int_equal(ex.r[6], 0);  /* restored after each call */
  assert_int_equal(max_depth, 1);
  assert_int_equal(steps + 1, 2 + 4 * 6 + 1);
  assert_int_equal(vm->left, 1000 - (uint64_t)(steps + 1));
  /* a state outside the program is refused, not executed */
  memset(&ex, 0, sizeof ex);
  ex.pc = 1000;
  vm->cur = &ex;
  assert_int_equal(fj_interp_step(vm, &ex), FJ_EJUMP);
  vm->err = 0;
  ex.pc = 0;
  ex.depth = FJ_MAX_CALL_DEPTH;
  assert_int_equal(fj_interp_run(vm, &ex), FJ_EJUMP);
  vm->err = 0;
  vm->cur = NULL;
  /* stepping with no budget left fails */
  memset(&ex, 0, sizeof ex);
  vm->left = 0;
  vm->cur = &ex;
  assert_int_equal(fj_interp_step(vm, &ex), FJ_EBUDGET);
  vm->cur = NULL;
  fj_vm_destroy(vm);
}

/* ---- JIT hooks ---- */

typedef struct hook_log {
  int calls;
  uint32_t pcs[16];
  int mode;  /* 0: continue, 1: jump ahead (reload), 2: done, 3: error */
} hook_log;

static int on_hot(void *ud, fj_vm *vm, fj_exec *ex, uint32_t pc) {
  hook_log *log = ud;
  if (log->calls < 16) log->pcs[log->calls] = pc;
  log->calls++;
  assert_int_equal(ex->pc, pc);
  switch (log->mode) {
  case 1:  /* "native code" finishes the loop: r1 = 0, continue after it */
    fj_vm_add_native(vm, 10);
    ex->r[1] = 0;
    ex->r[0] = 1000;
    ex->pc = 5;
    return FJ_HOT_RELOAD;
  case 2:
    ex->r[0] = 4242;
    return FJ_HOT_DONE;
  case 3:
    return fj_vm_fail(vm, FJ_ECOMPILE, "hook says no");
  case 4:
    ex->pc = 9999;
    return FJ_HOT_RELOAD;
  default:
    return FJ_HOT_CONTINUE;
  }
}

static void test_hooks(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  /* pc 2 is a loop header (target of the backward jne), pc 0 the entry */
  const fj_insn p[] = {ALUI(MOV64_IMM, 0, 0), ALUI(MOV64_IMM, 1, 100), ALUI(ADD64_IMM, 0, 1),
                       ALUI(SUB64_IMM, 1, 1), JI(JNE64_IMM, 1, 0, -3), EXIT()};
  tu_load(vm, p, NINSN(p));
  hook_log log = {0};
  fj_jit_hooks hooks = {on_hot, &log, 10};
  assert_int_equal(fj_vm_set_jit_hooks(vm, &hooks), 0);
  assert_non_null(vm->hot);
  uint64_t r0 = 0;
  assert_int_equal(fj_vm_run(vm, 0, NULL, 0, &r0), 0);
  assert_int_equal(r0, 100);
  /* 99 backward jumps to pc 2: fires at 10, 20, ..., 90 */
  assert_int_equal(log.calls, 9);
  assert_int_equal(log.pcs[0], 2);
  /* reload: the hook finishes the loop on first fire */
  log = (hook_log){0};
  log.mode = 1;
  fj_vm_reset_stats(vm);
  assert_int_equal(fj_vm_run(vm, 0, NULL, 0, &r0), 0);
  assert_int_equal(r0, 1000);
  fj_vm_stats st;
  fj_vm_get_stats(vm, &st);
  assert_int_equal(st.insns_native, 10);
  assert_int_equal(log.calls, 1);
  /* done */
  log = (hook_log){0};
  log.mode = 2;
  assert_int_equal(fj_vm_run(vm, 0, NULL, 0, &r0), 0);
  assert_int_equal(r0, 4242);
  /* error */
  log = (hook_log){0};
  log.mode = 3;
  assert_int_equal(fj_vm_run(vm, 0, NULL, 0, &r0), FJ_ECOMPILE);
  assert_contains(fj_vm_errmsg(vm), "hook says no");
  /* a hook that reloads a bad pc stops the run instead of crashing */
  log = (hook_log){0};
  log.mode = 4;
  assert_int_equal(fj_vm_run(vm, 0, NULL, 0, &r0), FJ_EJUMP);
  assert_contains(fj_vm_errmsg(vm), "JIT hook left the execution state outside the program");
  /* entry counting: threshold 1 fires on run entry at pc 0 */
  hooks.threshold = 1;
  log = (hook_log){0};
  assert_int_equal(fj_vm_set_jit_hooks(vm, &hooks), 0);
  assert_int_equal(fj_vm_run(vm, 0, NULL, 0, &r0), 0);
  assert_int_equal(log.pcs[0], 0);
  assert_int_equal(log.calls, 1 + 99);
  /* counters survive a reload of the program (reallocated for the new one) */
  tu_load(vm, p, NINSN(p));
  assert_non_null(vm->hot);
  /* removing hooks frees the counters; runs are unaffected */
  assert_int_equal(fj_vm_set_jit_hooks(vm, NULL), 0);
  assert_null(vm->hot);
  log = (hook_log){0};
  assert_int_equal(fj_vm_run(vm, 0, NULL, 0, &r0), 0);
  assert_int_equal(log.calls, 0);
  fj_vm_destroy(vm);
}

/* Callbacks count as entries of their function. */
static void test_hooks_callback_entry(void **state) {
  (void)state;
  fj_vm *vm = tu_vm();
  const fj_insn p[] = {ALUI(MOV64_IMM, 1, 10), LDDW_FUNC(2, 5), ALUI(MOV64_IMM, 3, 0),
                       ALUI(MOV64_IMM, 4, 0), CALL(FJ_HELPER_LOOP), EXIT(),
                       ALUI(MOV64_IMM, 0, 0), EXIT()};
  tu_load(vm, p, NINSN(p));
  hook_log log = {0};
  fj_jit_hooks hooks = {on_hot, &log, 3};
  assert_int_equal(fj_vm_set_jit_hooks(vm, &hooks), 0);
  uint64_t r0 = 0;
  assert_int_equal(fj_vm_run(vm, 0, NULL, 0, &r0), 0);
  assert_int_equal(r0, 10);
  assert_int_equal(log.calls, 3);
  for (int i = 0; i < 3; i++) assert_int_equal(log.pcs[i], 7);
  fj_vm_destroy(vm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_create_destroy_no_program), cmocka_unit_test(test_entries),
    cmocka_unit_test(test_args_r1_r2),                 cmocka_unit_test(test_call_depth_exceeded),
    cmocka_unit_test(test_budget),                     cmocka_unit_test(test_callx),
    cmocka_unit_test(test_register_helper_and_name),   cmocka_unit_test(test_helpers_custom),
    cmocka_unit_test(test_unwind),                     cmocka_unit_test(test_no_reentrant_run),
    cmocka_unit_test(test_vm_call_nested),             cmocka_unit_test(test_vm_call_depth),
    cmocka_unit_test(test_region_added_by_helper_is_dropped), cmocka_unit_test(test_stats_reset),
    cmocka_unit_test(test_step),                       cmocka_unit_test(test_hooks),
    cmocka_unit_test(test_hooks_callback_entry),
  };
  return tu_no_leaks(cmocka_run_group_tests(tests, NULL, NULL));
}
