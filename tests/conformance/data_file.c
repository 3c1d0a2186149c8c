/* farjit tests — reader for bpf_conformance `.data` files (see data_file.h). */
#include "tests/conformance/data_file.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/asm.h"

enum section { SEC_NONE, SEC_ASM, SEC_RAW, SEC_MEM, SEC_RESULT, SEC_ERROR, SEC_IGNORED };

static char *read_file(const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  size_t k;
  while (buf && (k = fread(buf + len, 1, cap - len - 1, f)) > 0) {
    len += k;
    if (cap - len - 1 == 0) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  fclose(f);
  if (!buf) {
    snprintf(err, errlen, "%s: out of memory", path);
    return NULL;
  }
  buf[len] = '\0';
  return buf;
}

static int append(char **dst, const char *line) {
  size_t old = *dst ? strlen(*dst) : 0, add = strlen(line);
  char *n = realloc(*dst, old + add + 2);
  if (!n) return -1;
  memcpy(n + old, line, add);
  n[old + add] = '\n';
  n[old + add + 1] = '\0';
  *dst = n;
  return 0;
}

static int parse_u64(const char *s, uint64_t *v) {
  char *end;
  errno = 0;
  while (isspace((unsigned char)*s)) s++;
  if (!*s) return -1;
  *v = strtoull(s, &end, 0);
  while (isspace((unsigned char)*end)) end++;
  return errno || *end ? -1 : 0;
}

int fj_data_case_load(const char *path, fj_data_case *c, char *err, size_t errlen) {
  memset(c, 0, sizeof *c);
  if (errlen) err[0] = '\0';
  char *text = read_file(path, err, errlen);
  if (!text) return -1;
  enum section sec = SEC_NONE;
  int lineno = 0, rc = 0;
  size_t raw_cap = 0, mem_cap = 0;
  for (char *line = text, *next; line && !rc; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = '\0';
    lineno++;
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r') line[--len] = '\0';
    if (strncmp(line, "-- ", 3) == 0) {
      const char *name = line + 3;
      sec = !strcmp(name, "asm")      ? SEC_ASM
            : !strcmp(name, "raw")    ? SEC_RAW
            : !strcmp(name, "mem")    ? SEC_MEM
            : !strcmp(name, "result") ? SEC_RESULT
            : !strcmp(name, "error")  ? SEC_ERROR
                                      : SEC_IGNORED;
      if (sec == SEC_ASM && !c->asm_text) c->asm_text = calloc(1, 1);
      if (sec == SEC_MEM && !c->mem) c->mem = malloc(mem_cap = 64);
      if ((sec == SEC_ASM && !c->asm_text) || (sec == SEC_MEM && !c->mem)) rc = -1;
      continue;
    }
    char *s = line;
    while (isspace((unsigned char)*s)) s++;
    switch (sec) {
    case SEC_ASM: rc = append(&c->asm_text, line); break;
    case SEC_RAW: {
      if (!*s || *s == '#') break;
      uint64_t w;
      if (parse_u64(s, &w)) {
        snprintf(err, errlen, "%s:%d: bad raw word '%s'", path, lineno, s);
        rc = -1;
        break;
      }
      if (c->nraw == raw_cap) {
        raw_cap = raw_cap ? raw_cap * 2 : 16;
        fj_insn *n = realloc(c->raw, raw_cap * sizeof *n);
        if (!n) {
          rc = -1;
          break;
        }
        c->raw = n;
      }
      c->raw[c->nraw++] = fj_insn_make((uint8_t)w, (w >> 8) & 0x0f, (w >> 12) & 0x0f,
                                       (int16_t)(uint16_t)(w >> 16), (int32_t)(uint32_t)(w >> 32));
      break;
    }
    case SEC_MEM:
      for (char *tok = strtok(s, " \t"); tok; tok = strtok(NULL, " \t")) {
        char *end;
        unsigned long b = strtoul(tok, &end, 16);
        if (*end || b > 0xff) {
          snprintf(err, errlen, "%s:%d: bad mem byte '%s'", path, lineno, tok);
          rc = -1;
          break;
        }
        if (c->mem_len == mem_cap) {
          uint8_t *n = realloc(c->mem, mem_cap *= 2);
          if (!n) {
            rc = -1;
            break;
          }
          c->mem = n;
        }
        c->mem[c->mem_len++] = (uint8_t)b;
      }
      break;
    case SEC_RESULT:
      if (!*s || *s == '#') break;
      if (parse_u64(s, &c->result)) {
        snprintf(err, errlen, "%s:%d: bad result '%s'", path, lineno, s);
        rc = -1;
      }
      c->has_result = true;
      break;
    case SEC_ERROR:
      if (*s) rc = append(&c->error, s);
      break;
    default: break;
    }
  }
  free(text);
  if (!rc && !c->asm_text && !c->raw) {
    snprintf(err, errlen, "%s: no -- asm or -- raw section", path);
    rc = -1;
  }
  if (!rc && !c->has_result && !c->error) {
    snprintf(err, errlen, "%s: no -- result or -- error section", path);
    rc = -1;
  }
  if (rc) {
    if (!err[0]) snprintf(err, errlen, "%s: out of memory", path);
    fj_data_case_free(c);
    return -1;
  }
  if (c->error) c->error[strcspn(c->error, "\n")] = '\0';
  return 0;
}

void fj_data_case_free(fj_data_case *c) {
  free(c->asm_text);
  free(c->raw);
  free(c->mem);
  free(c->error);
  memset(c, 0, sizeof *c);
}

int fj_data_case_program(const fj_data_case *c, fj_insn **out, size_t *n, char *err, size_t errlen) {
  if (c->raw) {
    *out = malloc(c->nraw * sizeof **out);
    if (!*out) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    memcpy(*out, c->raw, c->nraw * sizeof **out);
    *n = c->nraw;
    return 0;
  }
  return fj_asm(c->asm_text, out, n, err, errlen) ? -1 : 0;
}

static bool is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *fj_data_dir(void) {
  static char buf[4096];
  const char *env = getenv("FJ_SHARED");
  const char *base = env && *env ? env : "../shared";
  const char *cands[] = {"%s/tests", "%s/conformance/tests"};
  for (size_t k = 0; k < 2; k++) {
    char probe[4096];
    snprintf(probe, sizeof probe, cands[k], base);
    if (is_dir(probe)) {
      snprintf(buf, sizeof buf, k ? "%s/conformance" : "%s", base);
      return buf;
    }
  }
  return NULL;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int fj_data_list(const char *dir, char ***paths) {
  char tdir[4096];
  snprintf(tdir, sizeof tdir, "%s/tests", dir);
  DIR *d = opendir(tdir);
  *paths = NULL;
  if (!d) return -1;
  int n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len < 6 || strcmp(e->d_name + len - 5, ".data") != 0) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 512;
      char **np = realloc(*paths, (size_t)cap * sizeof *np);
      if (!np) break;
      *paths = np;
    }
    size_t plen = strlen(tdir) + len + 2;
    if (!((*paths)[n] = malloc(plen))) break;
    snprintf((*paths)[n++], plen, "%s/%s", tdir, e->d_name);
  }
  closedir(d);
  if (n) qsort(*paths, (size_t)n, sizeof **paths, cmp_str);
  return n;
}

void fj_data_list_free(char **paths, int n) {
  for (int k = 0; k < n; k++) free(paths[k]);
  free(paths);
}
