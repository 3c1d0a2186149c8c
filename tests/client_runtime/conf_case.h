/* Test helper shared by test_jit_codegen.c and tests/e2e/test_e2e.c, which both run every
 * bpf_conformance case through the interpreter and the JIT: opening a case (its data file and
 * program) and a VM set up as the suite expects.  Host code for tests (malloc, data_file.c). */
#ifndef FJ_TESTS_CONF_CASE_H
#define FJ_TESTS_CONF_CASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "farjit/platform_linux.h"
#include "farjit/vm.h"
#include "tests/conformance/data_file.h"

/* uBPF's helper 5, as the conformance suite expects: returns r1, unwinds when r1 == 0. */
static uint64_t conf_unwind5(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
                             fj_vm *vm) {
  (void)r2, (void)r3, (void)r4, (void)r5;
  if (r1 == 0) fj_vm_unwind(vm);
  return r1;
}

/* A VM on the Linux platform with the standard helpers, helper 5 and an instruction limit of
 * 10^6 (cases that loop forever fail the same way everywhere); NULL if any step fails. */
static inline fj_vm *conf_vm_new(void) {
  fj_vm *vm = fj_vm_create(fj_platform_linux());
  if (vm && (fj_vm_register_std_helpers(vm) != 0 ||
             fj_vm_register_helper(vm, 5, "unwind", conf_unwind5) != 0)) {
    fj_vm_destroy(vm);
    return NULL;
  }
  if (vm) fj_vm_set_insn_limit(vm, 1000000);
  return vm;
}

/* Reads the case at path and its program.  False, with nothing to free, when either fails (the
 * caller skips the case); else conf_case_close releases both. */
static inline bool conf_case_open(const char *path, fj_data_case *dc, fj_insn **prog, size_t *np) {
  char err[256];
  *prog = NULL;
  *np = 0;
  if (fj_data_case_load(path, dc, err, sizeof err)) return false;
  if (fj_data_case_program(dc, prog, np, err, sizeof err)) {
    fj_data_case_free(dc);
    return false;
  }
  return true;
}

static inline void conf_case_close(fj_data_case *dc, fj_insn *prog) {
  free(prog);
  fj_data_case_free(dc);
}

#endif /* FJ_TESTS_CONF_CASE_H */
