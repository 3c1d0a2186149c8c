/* farjit tests — reader for bpf_conformance `.data` files (format: ../shared/conformance/README.md).
 *
 * Sections: `-- asm` (text), `-- raw` (64-bit words, replaces asm), `-- mem` (hex bytes),
 * `-- result` (hex or decimal), `-- error` (text); `-- c` and `-- no register offset` are
 * ignored.  Host code for tests: malloc, stdio.
 */
#ifndef FJ_TESTS_DATA_FILE_H
#define FJ_TESTS_DATA_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "farjit/ebpf.h"

typedef struct fj_data_case {
  char *asm_text;     /* the `-- asm` section, or NULL */
  fj_insn *raw;       /* the `-- raw` section decoded to slots, or NULL */
  size_t nraw;
  uint8_t *mem;       /* NULL when there is no `-- mem` */
  size_t mem_len;
  bool has_result;
  uint64_t result;
  char *error;        /* expected error text, or NULL */
} fj_data_case;

/* Read and parse path.  Returns 0, or -1 with a message in err. */
int fj_data_case_load(const char *path, fj_data_case *c, char *err, size_t errlen);
void fj_data_case_free(fj_data_case *c);

/* The program of a case as slots: the raw section when present, else the assembled asm.
 * *out is malloc'd.  Returns 0 or -1 with the assembler's message in err. */
int fj_data_case_program(const fj_data_case *c, fj_insn **out, size_t *n, char *err, size_t errlen);

/* Directory of the shared conformance data: $FJ_SHARED (the conformance directory itself, or
 * its parent "shared" directory), else ../shared/conformance.  The returned string names a
 * directory holding tests/; NULL if none exists. */
const char *fj_data_dir(void);

/* Sorted list of tests/ *.data paths under dir (malloc'd strings and array). Returns the count
 * or -1. */
int fj_data_list(const char *dir, char ***paths);
void fj_data_list_free(char **paths, int n);

#endif /* FJ_TESTS_DATA_FILE_H */
