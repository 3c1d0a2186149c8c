/* farjit examples — every example run in the VM (fj_vm_load_elf + fj_vm_run) on its
 * deterministic input and compared with the same C compiled natively: r0 and the whole input
 * buffer afterwards (sort works in place).  Each example runs twice in one VM, since data
 * sections outlive a run.  Plus one known answer: CRC-32 of "123456789" is 0xcbf43926.
 * Prints "examples: N passed, M failed". */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/catalog.h"
#include "farjit/platform_linux.h"
#include "farjit/vm.h"
#include "tools/file.h"

#ifndef FJ_EXAMPLES_DIR
#error "FJ_EXAMPLES_DIR must name the directory of the eBPF example objects"
#endif

static int passed, failed;

static void check(int ok, const char *what, const char *name, const char *detail) {
  if (ok) {
    passed++;
    printf("ok   %-8s %s\n", name, what);
  } else {
    failed++;
    printf("FAIL %-8s %s: %s\n", name, what, detail);
  }
}

/* Load examples/<name>.o into a fresh VM; NULL (and a FAIL line) on error. */
static fj_vm *load(const char *name, int *entry) {
  char path[512], msg[512];
  snprintf(path, sizeof path, "%s/%s.o", FJ_EXAMPLES_DIR, name);
  size_t n = 0;
  uint8_t *elf = fj_file_read(path, &n);
  if (!elf) {
    check(0, "load", name, "cannot read the eBPF object (built by examples/module.mk)");
    return NULL;
  }
  fj_vm *vm = fj_vm_create(fj_platform_linux());
  int rc = vm ? fj_vm_register_std_helpers(vm) : FJ_ENOMEM;
  if (rc == 0) rc = fj_vm_load_elf(vm, elf, n);
  free(elf);
  if (rc == 0) rc = *entry = fj_vm_find_entry(vm, "fj_main");
  if (rc < 0) {
    snprintf(msg, sizeof msg, "%s: %s", fj_strerror(rc), vm ? fj_vm_errmsg(vm) : "");
    check(0, "load", name, msg);
    fj_vm_destroy(vm);
    return NULL;
  }
  /* fj_main sits in the "prog" section, so it is also the default entry */
  snprintf(msg, sizeof msg, "fj_main at pc %d, default entry %d", *entry, fj_vm_default_entry(vm));
  check(fj_vm_default_entry(vm) == *entry, "default entry is fj_main", name, msg);
  return vm;
}

static void run_example(const fj_example *ex) {
  int entry = 0;
  fj_vm *vm = load(ex->name, &entry);
  if (!vm) return;
  uint8_t *vbuf = malloc(ex->len), *nbuf = malloc(ex->len);
  char msg[512];
  for (int round = 0; round < 2; round++) {
    fj_example_input(ex, vbuf, ex->len);
    fj_example_input(ex, nbuf, ex->len);
    uint64_t want = ex->native(nbuf, ex->len), got = 0;
    int rc = fj_vm_run(vm, (uint32_t)entry, vbuf, ex->len, &got);
    if (rc) {
      snprintf(msg, sizeof msg, "fj_vm_run: %s: %s", fj_strerror(rc), fj_vm_errmsg(vm));
    } else {
      snprintf(msg, sizeof msg, "r0 0x%" PRIx64 ", native 0x%" PRIx64, got, want);
    }
    check(rc == 0 && got == want, round ? "r0 = native (second run)" : "r0 = native", ex->name,
          msg);
    check(memcmp(vbuf, nbuf, ex->len) == 0,
          round ? "memory = native (second run)" : "memory = native", ex->name, "buffers differ");
  }
  fj_vm_stats st;
  fj_vm_get_stats(vm, &st);
  snprintf(msg, sizeof msg, "runs %" PRIu64 ", instructions %" PRIu64, st.runs, st.insns_interp);
  check(st.runs == 2 && st.insns_interp > 1000, "stats count the work", ex->name, msg);
  free(vbuf);
  free(nbuf);
  fj_vm_destroy(vm);
}

static void crc32_known_answer(void) {
  int entry = 0;
  fj_vm *vm = load("crc32", &entry);
  if (!vm) return;
  char in[] = "123456789", msg[256];
  uint64_t got = 0;
  int rc = fj_vm_run(vm, (uint32_t)entry, in, 9, &got);
  snprintf(msg, sizeof msg, "rc %d, r0 0x%" PRIx64 " (%s)", rc, got, fj_vm_errmsg(vm));
  check(rc == 0 && got == 0xcbf43926u, "crc32(\"123456789\") = 0xcbf43926", "crc32", msg);
  fj_vm_destroy(vm);
}

int main(void) {
  for (size_t i = 0; i < fj_nexamples; i++) run_example(&fj_examples[i]);
  crc32_known_answer();
  printf("examples: %d passed, %d failed\n", passed, failed);
  return failed != 0;
}
