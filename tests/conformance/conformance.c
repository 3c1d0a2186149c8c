/* farjit — runs the public bpf_conformance suite (../shared/conformance/tests/NAME.data, or
 * $FJ_SHARED) in the interpreter.
 *
 *   test_conformance [-v] [FILE.data...]
 *
 * Each case: assemble the `-- asm` section (or take `-- raw`), run it with r1/r2 = the `-- mem`
 * bytes and their length, helper 5 = uBPF's unwind helper (as the suite expects), compare r0
 * with `-- result` (all 64 bits) or expect a failure when the case has `-- error`.  Prints each
 * failure with its file and ends with "conformance: N passed, M failed".  Skips (exit 0) with a
 * message only when the data directory is absent.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farjit/error.h"
#include "farjit/platform_linux.h"
#include "farjit/vm.h"
#include "tests/conformance/data_file.h"

static uint64_t unwind_helper(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
                              fj_vm *vm) {
  (void)r2, (void)r3, (void)r4, (void)r5;
  if (r1 == 0) fj_vm_unwind(vm);
  return r1;
}

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* Runs one case; returns true if it passed, printing why not otherwise. */
static bool run_case(const char *path, bool verbose) {
  fj_data_case c;
  char err[512];
  const char *name = base_name(path);
  if (fj_data_case_load(path, &c, err, sizeof err)) {
    printf("FAIL %s: %s\n", name, err);
    return false;
  }
  fj_insn *code = NULL;
  size_t n = 0;
  bool ok = false;
  fj_vm *vm = NULL;
  uint8_t *mem = NULL;
  if (fj_data_case_program(&c, &code, &n, err, sizeof err)) {
    printf("FAIL %s: assembler: %s\n", name, err);
    goto out;
  }
  if (!(vm = fj_vm_create(fj_platform_linux())) || fj_vm_register_std_helpers(vm) < 0 ||
      fj_vm_register_helper(vm, 5, "unwind", unwind_helper) < 0) {
    printf("FAIL %s: cannot create a VM\n", name);
    goto out;
  }
  if (c.mem_len && !(mem = malloc(c.mem_len))) {
    printf("FAIL %s: out of memory\n", name);
    goto out;
  }
  if (c.mem_len) memcpy(mem, c.mem, c.mem_len);
  uint64_t r0 = 0;
  int rc = fj_vm_load(vm, code, n * sizeof *code);
  const char *stage = "load";
  if (rc == 0) {
    stage = "run";
    rc = fj_vm_run(vm, 0, mem, c.mem_len, &r0);
  }
  if (c.error) {
    ok = rc < 0;
    if (!ok) printf("FAIL %s: expected error '%s', got r0 = 0x%llx\n", name, c.error, (unsigned long long)r0);
    else if (verbose) printf("ok   %s: %s failed as expected: %s (suite: '%s')\n", name, stage, fj_vm_errmsg(vm), c.error);
  } else if (rc < 0) {
    printf("FAIL %s: %s failed: %s (%s); expected 0x%llx\n", name, stage, fj_vm_errmsg(vm),
           fj_err_name(rc), (unsigned long long)c.result);
  } else {
    ok = r0 == c.result;
    if (!ok) printf("FAIL %s: r0 = 0x%llx, expected 0x%llx\n", name, (unsigned long long)r0, (unsigned long long)c.result);
    else if (verbose) printf("ok   %s: 0x%llx\n", name, (unsigned long long)r0);
  }
out:
  if (vm) fj_vm_destroy(vm);
  free(mem);
  free(code);
  fj_data_case_free(&c);
  return ok;
}

int main(int argc, char **argv) {
  bool verbose = false;
  int first = 1;
  if (argc > 1 && strcmp(argv[1], "-v") == 0) verbose = true, first = 2;
  char **paths = NULL;
  int n;
  bool listed = false;
  if (first < argc) {
    paths = argv + first;
    n = argc - first;
  } else {
    const char *dir = fj_data_dir();
    if (!dir) {
      printf("conformance: SKIP: no conformance data (looked in ../shared/conformance; set $FJ_SHARED)\n");
      return 0;
    }
    n = fj_data_list(dir, &paths);
    if (n <= 0) {
      printf("conformance: no .data files in %s/tests\n", dir);
      printf("conformance: 0 passed, 1 failed\n");
      return 1;
    }
    listed = true;
  }
  int passed = 0, failed = 0;
  for (int k = 0; k < n; k++) {
    if (run_case(paths[k], verbose)) passed++;
    else failed++;
  }
  if (listed) fj_data_list_free(paths, n);
  printf("conformance: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
