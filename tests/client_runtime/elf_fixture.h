/* Test helper shared by test_elf.c and test_elf_vm.c: reads one of the BPF objects that
 * tests/client_runtime/elf.mk compiles from elf_src/ into FJ_ELF_FIXTURE_DIR.  The caller frees
 * the bytes; a missing or unreadable fixture fails the running cmocka test. */
#ifndef FJ_TESTS_ELF_FIXTURE_H
#define FJ_TESTS_ELF_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#ifndef FJ_ELF_FIXTURE_DIR
#error "FJ_ELF_FIXTURE_DIR must name the directory of the compiled fixtures"
#endif

typedef struct blob {
  uint8_t *b;
  size_t n;
} blob;

static inline blob load_fixture(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.o", FJ_ELF_FIXTURE_DIR, name);
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open fixture %s (built by tests/client_runtime/elf.mk)", path);
  blob r = {NULL, 0};
  fseek(f, 0, SEEK_END);
  r.n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  r.b = malloc(r.n);
  assert_non_null(r.b);
  assert_int_equal(fread(r.b, 1, r.n, f), r.n);
  fclose(f);
  return r;
}

#endif /* FJ_TESTS_ELF_FIXTURE_H */
