/* farjit host tools — read a whole file (benches, tests and build tools; never the client core).
 *
 * fj_file_read returns a malloc'd buffer holding the file's bytes plus a NUL after them (not
 * counted in *len, so text can be parsed in place), or NULL with errno set when the file cannot
 * be opened or read or memory runs out.  Works on pipes and empty files.  The caller frees. */
#ifndef FJ_TOOLS_FILE_H
#define FJ_TOOLS_FILE_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline uint8_t *fj_file_read(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n - 1, f);
    if (n < cap - 1) break;  /* short read: end of file or an error (ferror below) */
    uint8_t *nb = realloc(buf, cap *= 2);
    if (!nb) free(buf);
    buf = nb;
  }
  int bad = !buf || ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    if (!errno) errno = EIO;
    return NULL;
  }
  buf[n] = 0;
  *len = n;
  return buf;
}

#endif /* FJ_TOOLS_FILE_H */
