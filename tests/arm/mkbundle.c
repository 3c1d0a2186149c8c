/* farjit tests — host side of the Cortex-M4 firmware test: writes the case bundle (bundle.h).
 *
 *   mkbundle OUT EXAMPLES_DIR [ARM_CASE.data...]
 *
 * Records, in order: every conformance case (../shared/conformance/tests or $FJ_SHARED, see
 * tests/conformance/data_file.h) assembled with tools/asm; the given tests/arm/cases/ files;
 * each example of examples/catalog.h as EXAMPLES_DIR/<name>.o with the result of the same C
 * compiled for this host.  A case that does not assemble becomes a BROKEN record (the device
 * counts it failed) so the totals match the host's conformance runner.  Prints one summary line.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/catalog.h"
#include "farjit/error.h"
#include "tests/arm/bundle.h"
#include "tests/conformance/data_file.h"
#include "tools/file.h"

typedef struct out_buf {
  uint8_t *p;
  size_t len, cap;
  uint32_t nrecs;
} out_buf;

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (!q) {
    fprintf(stderr, "mkbundle: out of memory\n");
    exit(2);
  }
  return q;
}

static void put(out_buf *o, const void *src, size_t n) {
  size_t padded = (n + 7) & ~(size_t)7;
  if (o->len + padded > o->cap) {
    o->cap = (o->len + padded) * 2;
    o->p = xrealloc(o->p, o->cap);
  }
  if (n) memcpy(o->p + o->len, src, n);
  memset(o->p + o->len + n, 0, padded - n);
  o->len += padded;
}

static void add_rec(out_buf *o, fj_bundle_rec rec, const char *name, const void *prog,
                    const void *mem, size_t mem_bytes) {
  snprintf(rec.name, sizeof rec.name, "%s", name);
  rec.size = (uint32_t)(sizeof rec + fj_bundle_pad8(rec.prog_len) + fj_bundle_pad8((uint32_t)mem_bytes));
  put(o, &rec, sizeof rec);
  put(o, prog, rec.prog_len);
  put(o, mem, mem_bytes);
  o->nrecs++;
}

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* "FJ_EOOB" (or the code's text) in an arm case's `-- error` names the code it must fail with. */
static int32_t error_code(const char *text) {
  char t[128];
  snprintf(t, sizeof t, "%s", text);
  t[strcspn(t, "\r\n")] = '\0';
  for (int c = -1; c >= FJ_ERROR__LAST; c--)
    if (strcmp(t, fj_err_name(c)) == 0 || strcmp(t, fj_strerror(c)) == 0) return c;
  return 0;
}

static void add_case(out_buf *o, const char *path, uint16_t kind) {
  fj_data_case c;
  char err[512];
  char name[FJ_BUNDLE_NAME_MAX];
  snprintf(name, sizeof name, "%s", base_name(path));
  fj_bundle_rec rec = {0};
  rec.kind = FJ_BREC_BROKEN;
  if (fj_data_case_load(path, &c, err, sizeof err)) {
    fprintf(stderr, "mkbundle: %s: %s\n", name, err);
    add_rec(o, rec, name, NULL, NULL, 0);
    return;
  }
  fj_insn *code = NULL;
  size_t n = 0;
  if (fj_data_case_program(&c, &code, &n, err, sizeof err)) {
    fprintf(stderr, "mkbundle: %s: assembler: %s\n", name, err);
    add_rec(o, rec, name, NULL, NULL, 0);
  } else {
    rec.kind = kind;
    rec.prog_len = (uint32_t)(n * sizeof *code);
    rec.mem_len = (uint32_t)c.mem_len;
    if (c.error) {
      rec.flags = FJ_BREC_FLAG_ERROR;
      rec.err = kind == FJ_BREC_ARM ? error_code(c.error) : 0;
      if (kind == FJ_BREC_ARM && rec.err == 0) {
        fprintf(stderr, "mkbundle: %s: '-- error' must name an FJ_E* code\n", name);
        rec.kind = FJ_BREC_BROKEN;
      }
    } else {
      rec.flags = FJ_BREC_FLAG_RESULT;
      rec.result = c.result;
    }
    add_rec(o, rec, name, code, c.mem, c.mem_len);
  }
  free(code);
  fj_data_case_free(&c);
}

static void add_example(out_buf *o, const char *dir, const fj_example *ex) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.o", dir, ex->name);
  fj_bundle_rec rec = {0};
  size_t len = 0;
  uint8_t *elf = fj_file_read(path, &len);
  if (!elf) {
    fprintf(stderr, "mkbundle: cannot read %s\n", path);
    rec.kind = FJ_BREC_BROKEN;
    add_rec(o, rec, ex->name, NULL, NULL, 0);
    return;
  }
  uint8_t *input = xrealloc(NULL, ex->len ? ex->len : 1);
  fj_example_input(ex, input, ex->len);
  rec.kind = FJ_BREC_EXAMPLE;
  rec.flags = FJ_BREC_FLAG_RESULT;
  rec.result = ex->native(input, ex->len);
  rec.prog_len = (uint32_t)len;
  rec.mem_len = (uint32_t)ex->len;
  add_rec(o, rec, ex->name, elf, NULL, 0);
  free(input);
  free(elf);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s OUT EXAMPLES_DIR [ARM_CASE.data...]\n", argv[0]);
    return 2;
  }
  out_buf o = {0};
  fj_bundle_hdr hdr = {FJ_BUNDLE_MAGIC, FJ_BUNDLE_VERSION, 0, 0};
  put(&o, &hdr, sizeof hdr);
  int nconf = 0;
  const char *dir = fj_data_dir();
  if (dir) {
    char **paths = NULL;
    nconf = fj_data_list(dir, &paths);
    for (int k = 0; k < nconf; k++) add_case(&o, paths[k], FJ_BREC_CONF);
    if (nconf > 0) fj_data_list_free(paths, nconf);
    if (nconf < 0) nconf = 0;
  } else {
    fprintf(stderr, "mkbundle: no conformance data (../shared/conformance or $FJ_SHARED)\n");
  }
  for (int k = 3; k < argc; k++) add_case(&o, argv[k], FJ_BREC_ARM);
  for (size_t k = 0; k < fj_nexamples; k++) add_example(&o, argv[2], &fj_examples[k]);
  hdr.nrecs = o.nrecs;
  hdr.total_size = (uint32_t)o.len;
  memcpy(o.p, &hdr, sizeof hdr);
  /* Leave an identical bundle untouched: the build regenerates it every time (the case list
   * may have lost a file) and only a changed bundle should relink the firmware. */
  size_t old_len = 0;
  uint8_t *old = fj_file_read(argv[1], &old_len);
  bool same = old && old_len == o.len && memcmp(old, o.p, o.len) == 0;
  free(old);
  FILE *f = same ? NULL : fopen(argv[1], "wb");
  if (same) {
    printf("mkbundle: %s: unchanged\n", argv[1]);
    free(o.p);
    return 0;
  }
  if (!f || fwrite(o.p, 1, o.len, f) != o.len || fclose(f) != 0) {
    fprintf(stderr, "mkbundle: cannot write %s\n", argv[1]);
    return 1;
  }
  printf("mkbundle: %s: %d conformance, %d arm, %zu example records, %zu bytes\n", argv[1], nconf,
         argc - 3, fj_nexamples, o.len);
  free(o.p);
  return 0;
}
