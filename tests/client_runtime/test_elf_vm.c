/* End-to-end tests of ELF loading: the fixtures of test_elf.c loaded with fj_vm_load_elf and
 * run with fj_vm_run, with results computed by hand from tests/client_runtime/elf_src/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "farjit/error.h"
#include "farjit/platform_linux.h"
#include "farjit/vm.h"
#include "tests/client_runtime/elf_fixture.h"

static fj_vm *vm_with(const char *fixture) {
  fj_vm *vm = fj_vm_create(fj_platform_linux());
  assert_non_null(vm);
  assert_int_equal(fj_vm_register_std_helpers(vm), 0);
  blob e = load_fixture(fixture);
  int rc = fj_vm_load_elf(vm, e.b, e.n);
  free(e.b);
  if (rc) fail_msg("fj_vm_load_elf(%s): %s: %s", fixture, fj_strerror(rc), fj_vm_errmsg(vm));
  return vm;
}

static uint64_t run(fj_vm *vm, const char *entry, uint64_t len) {
  int pc = fj_vm_find_entry(vm, entry);
  if (pc < 0) fail_msg("no entry %s", entry);
  uint64_t r0 = 0;
  uint8_t mem[16] = {0};
  int rc = fj_vm_run(vm, (uint32_t)pc, mem, len < sizeof mem ? len : sizeof mem, &r0);
  if (rc) fail_msg("run %s: %s: %s", entry, fj_strerror(rc), fj_vm_errmsg(vm));
  return r0;
}

/* calls.c: fj_main(len) = sum_table(len) + (counter + 1) + tri(5)
 * with sum_table(3) = 3 + 1 + 4 + 3 * 3 = 17, counter = 100, tri(5) = 0+1+2+3+4 = 10. */
static void test_calls_run(void **state) {
  (void)state;
  fj_vm *vm = vm_with("calls");
  assert_int_equal(run(vm, "fj_main", 3), 17 + 101 + 10);
  /* the first program section is the default entry */
  assert_int_equal(fj_vm_default_entry(vm), fj_vm_find_entry(vm, "fj_main"));
  /* second program: square(7) + 1 through a cross-section call */
  assert_int_equal(run(vm, "second_prog", 7), 50);
  assert_int_equal(fj_vm_find_entry(vm, "no_such_function"), FJ_ENOENT);
  fj_vm_stats st;
  fj_vm_get_stats(vm, &st);
  assert_true(st.helper_calls >= 1); /* the loop helper */
  assert_true(st.local_calls >= 4);
  fj_vm_destroy(vm);
}

/* The same program built with -g (BTF and DWARF sections are skipped by the loader). */
static void test_calls_debug_run(void **state) {
  (void)state;
  fj_vm *vm = vm_with("calls_g");
  assert_int_equal(run(vm, "fj_main", 3), 17 + 101 + 10);
  assert_int_equal(run(vm, "second_prog", 7), 50);
  fj_vm_destroy(vm);
}

/* global_syms.c: glob_main(len) = 10 * len + (0 + 1 + ... + (len - 1)) */
static void test_global_symbols_run(void **state) {
  (void)state;
  fj_vm *vm = vm_with("global_syms");
  assert_int_equal(run(vm, "glob_main", 5), 50 + 10);
  assert_int_equal(run(vm, "glob_main", 0), 0);
  fj_vm_destroy(vm);
}

static void test_strings_run(void **state) {
  (void)state;
  fj_vm *vm = vm_with("strings");
  assert_int_equal(run(vm, "str_main", 1), 11); /* "hello world" */
  assert_int_equal(run(vm, "str_main", 2), 5);  /* "hello" */
  fj_vm_destroy(vm);
}

/* The loaded code keeps the parser's resolution: a local call and an lddw of a function. */
static void test_loaded_code(void **state) {
  (void)state;
  fj_vm *vm = vm_with("calls");
  uint32_t n = 0;
  const fj_insn *code = fj_vm_code(vm, &n);
  assert_non_null(code);
  assert_int_equal(n, 60);
  int calls = 0, funcs = 0;
  for (uint32_t pc = 0; pc < n; pc++) {
    calls += code[pc].code == 0x85 && fj_insn_src(code[pc]) == FJ_PSEUDO_CALL;
    funcs += code[pc].code == 0x18 && fj_insn_src(code[pc]) == FJ_PSEUDO_FUNC;
  }
  assert_int_equal(calls, 4);
  assert_int_equal(funcs, 1);
  fj_vm_destroy(vm);
}

static void test_reject_through_vm(void **state) {
  (void)state;
  fj_vm *vm = fj_vm_create(fj_platform_linux());
  assert_non_null(vm);
  blob e = load_fixture("extern_call");
  assert_int_equal(fj_vm_load_elf(vm, e.b, e.n), FJ_EBADELF);
  assert_non_null(strstr(fj_vm_errmsg(vm), "undefined symbol 'missing_function'"));
  free(e.b);
  e = load_fixture("calls");
  e.b[18] = 62; /* EM_X86_64 */
  assert_int_equal(fj_vm_load_elf(vm, e.b, e.n), FJ_EBADELF);
  assert_non_null(strstr(fj_vm_errmsg(vm), "wrong machine 62"));
  free(e.b);
  fj_vm_destroy(vm);
}

/* Corrupted objects through the whole loader: parse, relocate, validate, and run whatever is
 * accepted under an instruction limit.  Any result code is fine; a crash or an ASan report is
 * not.  Deterministic (fixed seed). */
static void test_fuzz_load_and_run(void **state) {
  (void)state;
  blob e = load_fixture("calls");
  uint8_t *img = malloc(e.n);
  uint64_t x = 0x243f6a8885a308d3ull, shoff = 0;
  for (int i = 0; i < 8; i++) shoff |= (uint64_t)e.b[40 + i] << (8 * i);
  int loaded = 0, ran = 0;
  for (int it = 0; it < 5000; it++) {
    memcpy(img, e.b, e.n);
    int muts = 1 + it % 4;
    for (int k = 0; k < muts; k++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      /* half the mutations hit the code and relocations, half anywhere */
      size_t pos = (x & 1) ? 0x40 + (x >> 8) % (shoff - 0x40) : (x >> 8) % e.n;
      img[pos] = (uint8_t)(x >> 32);
    }
    fj_vm *vm = fj_vm_create(fj_platform_linux());
    assert_non_null(vm);
    assert_int_equal(fj_vm_register_std_helpers(vm), 0);
    fj_vm_set_insn_limit(vm, 100000);
    if (fj_vm_load_elf(vm, img, e.n) == 0) {
      loaded++;
      uint8_t mem[64] = {0};
      uint64_t r0;
      int pc = fj_vm_default_entry(vm);
      if (fj_vm_run(vm, (uint32_t)(pc < 0 ? 0 : pc), mem, sizeof mem, &r0) == 0) ran++;
    } else {
      assert_true(fj_vm_errmsg(vm)[0] != '\0');
    }
    fj_vm_destroy(vm);
  }
  print_message("load+run fuzz: %d loaded, %d ran to completion\n", loaded, ran);
  assert_true(loaded > 0);
  free(img);
  free(e.b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_calls_run),
      cmocka_unit_test(test_calls_debug_run),
      cmocka_unit_test(test_global_symbols_run),
      cmocka_unit_test(test_strings_run),
      cmocka_unit_test(test_loaded_code),
      cmocka_unit_test(test_reject_through_vm),
      cmocka_unit_test(test_fuzz_load_and_run),
  };
  return cmocka_run_group_tests_name("elf_vm", tests, NULL, NULL);
}
