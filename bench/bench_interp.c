/* farjit bench — the interpreter against native code, per example program.
 *
 * For each example in examples/catalog.h: load $(B)/examples/<name>.o into a VM (libfj_client.a,
 * no JIT hooks: pure interpretation), run it on the example's input, and run the same C compiled
 * natively (gcc -O2) on the same input.  Every run starts from a fresh copy of the input (sort
 * works in place) and is timed on its own; the best of --repeats runs is reported.
 *
 *   bench_interp [--repeats N] [--len BYTES] [NAME...]
 *
 * Timing is informational only: nothing here decides pass/fail (see bench/README.md).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "examples/catalog.h"
#include "farjit/platform_linux.h"
#include "farjit/vm.h"
#include "tools/file.h"

#ifndef FJ_EXAMPLES_DIR
#error "FJ_EXAMPLES_DIR must name the directory of the eBPF example objects"
#endif

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct result {
  uint64_t insns;      /* eBPF instructions per run */
  uint64_t interp_ns;  /* best interpreted run */
  uint64_t native_ns;  /* best native run */
  int same;            /* r0 agreed */
} result;

static int bench_one(const fj_example *ex, size_t len, int repeats, result *res) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.o", FJ_EXAMPLES_DIR, ex->name);
  size_t n = 0;
  uint8_t *elf = fj_file_read(path, &n);
  if (!elf) {
    fprintf(stderr, "%s: cannot read %s\n", ex->name, path);
    return -1;
  }
  fj_vm *vm = fj_vm_create(fj_platform_linux());
  int rc = vm ? fj_vm_register_std_helpers(vm) : FJ_ENOMEM;
  if (rc == 0) rc = fj_vm_load_elf(vm, elf, n);
  free(elf);
  int entry = rc == 0 ? fj_vm_find_entry(vm, "fj_main") : rc;
  if (entry < 0) {
    fprintf(stderr, "%s: %s: %s\n", ex->name, fj_strerror(entry), vm ? fj_vm_errmsg(vm) : "");
    fj_vm_destroy(vm);
    return -1;
  }
  uint8_t *input = malloc(len), *buf = malloc(len);
  fj_example_input(ex, input, len);
  uint64_t r_vm = 0, r_nat = 0;
  res->interp_ns = res->native_ns = UINT64_MAX;
  for (int i = 0; i < repeats; i++) {
    memcpy(buf, input, len);
    fj_vm_stats before, after;
    fj_vm_get_stats(vm, &before);
    uint64_t t0 = now_ns();
    rc = fj_vm_run(vm, (uint32_t)entry, buf, len, &r_vm);
    uint64_t t1 = now_ns();
    fj_vm_get_stats(vm, &after);
    if (rc) {
      fprintf(stderr, "%s: run: %s: %s\n", ex->name, fj_strerror(rc), fj_vm_errmsg(vm));
      break;
    }
    res->insns = after.insns_interp - before.insns_interp;
    if (t1 - t0 < res->interp_ns) res->interp_ns = t1 - t0;

    memcpy(buf, input, len);
    t0 = now_ns();
    r_nat = ex->native(buf, len);
    t1 = now_ns();
    if (t1 - t0 < res->native_ns) res->native_ns = t1 - t0;
  }
  res->same = rc == 0 && r_vm == r_nat;
  free(input);
  free(buf);
  fj_vm_destroy(vm);
  return rc ? -1 : 0;
}

int main(int argc, char **argv) {
  int repeats = 7;
  size_t len = 0;
  const char *only[64];
  int nonly = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--repeats") && i + 1 < argc) {
      repeats = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--len") && i + 1 < argc) {
      len = (size_t)strtoull(argv[++i], NULL, 0);
    } else if (argv[i][0] != '-' && nonly < 64 && fj_example_find(argv[i])) {
      only[nonly++] = argv[i];
    } else {
      fprintf(stderr, "usage: %s [--repeats N] [--len BYTES] [NAME...]\n", argv[0]);
      return 2;
    }
  }
  if (repeats < 1) repeats = 1;
  printf("interpreter vs native (gcc -O2), best of %d runs each\n", repeats);
  printf("%-8s %7s %12s %12s %9s %12s %9s\n", "example", "bytes", "insns/run", "interp us",
         "ns/insn", "native us", "ratio");
  int bad = 0;
  for (size_t k = 0; k < fj_nexamples; k++) {
    const fj_example *ex = &fj_examples[k];
    int want = nonly == 0;
    for (int j = 0; j < nonly; j++) want |= !strcmp(only[j], ex->name);
    if (!want) continue;
    size_t n = len ? len : ex->len;
    result r = {0};
    if (bench_one(ex, n, repeats, &r)) {
      bad = 1;
      continue;
    }
    double ns_insn = r.insns ? (double)r.interp_ns / (double)r.insns : 0;
    double ratio = r.native_ns ? (double)r.interp_ns / (double)r.native_ns : 0;
    printf("%-8s %7zu %12" PRIu64 " %12.1f %9.2f %12.1f %8.1fx%s\n", ex->name, n, r.insns,
           r.interp_ns / 1e3, ns_insn, r.native_ns / 1e3, ratio,
           r.same ? "" : "  (r0 differs from native!)");
    bad |= !r.same;
  }
  return bad;
}
