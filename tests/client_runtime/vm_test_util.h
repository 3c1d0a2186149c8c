/* Shared by the VM core's cmocka tests (test_interp, test_validate, test_vm, test_helpers,
 * test_mem): a malloc platform that counts live allocations, an instruction builder that takes
 * the semantic op (so tests never restate opcode bytes: FJ_OPS is the only table), and run
 * helpers that fail the test with the VM's message. */
#ifndef FJ_TESTS_VM_TEST_UTIL_H
#define FJ_TESTS_VM_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "farjit/ebpf.h"
#include "farjit/error.h"
#include "farjit/helpers.h"
#include "farjit/vm.h"

static long tu_live_allocs;

static void *tu_alloc(void *ud, size_t size, size_t align) {
  (void)ud;
  /* aligned_alloc wants a size that is a multiple of the alignment it is given (ASan insists),
   * and that alignment is at least a pointer's: round to the alignment actually used */
  size_t a = align < sizeof(void *) ? sizeof(void *) : align;
  void *p = aligned_alloc(a, size ? (size + a - 1) / a * a : a);
  if (p) tu_live_allocs++;
  return p;
}
static void tu_free(void *ud, void *p, size_t size) {
  (void)ud, (void)size;
  if (p) tu_live_allocs--;
  free(p);
}

static char tu_printed[1024];
static size_t tu_printed_len;
static void tu_print(void *ud, const char *s, size_t len) {
  (void)ud;
  if (tu_printed_len + len < sizeof tu_printed) {
    memcpy(tu_printed + tu_printed_len, s, len);
    tu_printed_len += len;
    tu_printed[tu_printed_len] = '\0';
  }
}
static uint64_t tu_clock(void *ud) {
  (void)ud;
  static uint64_t t = 1000;
  return t += 7;
}

static const fj_platform tu_platform = {{tu_alloc, tu_free, NULL}, tu_clock, tu_print, NULL};

/* An instruction by semantic op: the discriminator field is filled from the table. */
static inline fj_insn X(enum fj_op op, unsigned dst, unsigned src, int16_t off, int32_t imm) {
  const fj_op_info *d = &fj_op_table[op];
  switch (d->discr) {
  case FJ_DISCR_OFF: off = (int16_t)d->discr_val; break;
  case FJ_DISCR_IMM: imm = d->discr_val; break;
  case FJ_DISCR_SRC: src = (unsigned)d->discr_val; break;
  default: break;
  }
  return fj_insn_make(d->code, dst, src, off, imm);
}
/* Shorthands. */
#define ALUI(op, dst, imm) X(FJ_OP_##op, dst, 0, 0, imm)
#define ALUR(op, dst, src) X(FJ_OP_##op, dst, src, 0, 0)
#define JI(op, dst, imm, off) X(FJ_OP_##op, dst, 0, off, imm)
#define JR(op, dst, src, off) X(FJ_OP_##op, dst, src, off, 0)
#define LDX(op, dst, src, off) X(FJ_OP_##op, dst, src, off, 0)
#define ST(op, dst, off, imm) X(FJ_OP_##op, dst, 0, off, imm)
#define STX(op, dst, src, off) X(FJ_OP_##op, dst, src, off, 0)
#define AT(op, dst, src, off) X(FJ_OP_##op, dst, src, off, 0)
#define CALL(id) X(FJ_OP_CALL, 0, 0, 0, id)
#define CALL_LOCAL(rel) X(FJ_OP_CALL_LOCAL, 0, 0, 0, rel)
#define EXIT() X(FJ_OP_EXIT, 0, 0, 0, 0)
#define JA(off) X(FJ_OP_JA, 0, 0, off, 0)
/* lddw: two slots. */
#define LDDW(dst, v) \
  X(FJ_OP_LDDW, dst, 0, 0, (int32_t)(uint32_t)(uint64_t)(v)), fj_insn_make(0, 0, 0, 0, (int32_t)(uint32_t)((uint64_t)(v) >> 32))
#define LDDW_FUNC(dst, rel) X(FJ_OP_LDDW_FUNC, dst, 0, 0, rel), fj_insn_make(0, 0, 0, 0, 0)

#define NINSN(a) (sizeof(a) / sizeof((a)[0]))

static inline fj_vm *tu_vm(void) {
  fj_vm *vm = fj_vm_create(&tu_platform);
  assert_non_null(vm);
  assert_int_equal(fj_vm_register_std_helpers(vm), 0);
  return vm;
}

static inline void tu_load(fj_vm *vm, const fj_insn *p, size_t n) {
  int rc = fj_vm_load(vm, p, n * sizeof *p);
  if (rc) fail_msg("load: %s: %s", fj_strerror(rc), fj_vm_errmsg(vm));
}

/* Load and run p with mem; fail the test unless it succeeds; return r0. */
static inline uint64_t tu_run_mem(fj_vm *vm, const fj_insn *p, size_t n, void *mem, size_t len) {
  tu_load(vm, p, n);
  uint64_t r0 = 0xdeadbeef;
  int rc = fj_vm_run(vm, 0, mem, len, &r0);
  if (rc) fail_msg("run: %s: %s", fj_strerror(rc), fj_vm_errmsg(vm));
  return r0;
}

/* One-shot: fresh VM, run, destroy. */
static inline uint64_t tu_run(const fj_insn *p, size_t n) {
  fj_vm *vm = tu_vm();
  uint64_t r0 = tu_run_mem(vm, p, n, NULL, 0);
  fj_vm_destroy(vm);
  return r0;
}
#define RUN(...)                                       \
  ({                                                   \
    const fj_insn p_[] = {__VA_ARGS__};                \
    tu_run(p_, NINSN(p_));                             \
  })

/* Load (expected to succeed) and run expecting failure code; returns the message. */
static inline const char *tu_run_fail(fj_vm *vm, const fj_insn *p, size_t n, void *mem, size_t len,
                                      int want) {
  tu_load(vm, p, n);
  uint64_t r0 = 0;
  int rc = fj_vm_run(vm, 0, mem, len, &r0);
  if (rc != want)
    fail_msg("run: want %s, got %s (%s)", fj_err_name(want), fj_err_name(rc), fj_vm_errmsg(vm));
  return fj_vm_errmsg(vm);
}

#define assert_contains(hay, needle)                                                        \
  do {                                                                                      \
    const char *h_ = (hay);                                                                 \
    if (!strstr(h_, (needle))) fail_msg("message \"%s\" lacks \"%s\"", h_, (needle));       \
  } while (0)

/* A test program's exit status: the cmocka group's, or 1 if tu_platform still holds memory (a
 * VM or an allocation leaked somewhere in the group). */
static inline int tu_no_leaks(int group_rc) {
  if (tu_live_allocs != 0) {
    fprintf(stderr, "leak: %ld allocations still live\n", tu_live_allocs);
    return 1;
  }
  return group_rc;
}

#endif /* FJ_TESTS_VM_TEST_UTIL_H */
