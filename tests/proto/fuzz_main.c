/* Deterministic mutation runner for fuzz_server.c when libFuzzer is not wanted: runs every seed
 * in the corpus directory, then FJ_FUZZ_ITERS (default 30000) mutations of them chosen by a fixed
 * xorshift sequence (bit flips, byte changes, truncation, duplication, splicing).  Any crash or
 * sanitizer report fails; otherwise it prints "1 passed, 0 failed" (the replay counts as one test). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fj_fuzz_counts(unsigned long long *conns, unsigned long long *frames);

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

typedef struct seed {
  uint8_t *p;
  size_t n;
} seed;

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "tests/proto/fuzz_corpus";
  seed seeds[256];
  int ns = 0;
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "fuzz_main: no corpus at %s\n", dir);
    printf("0 passed, 1 failed\n");
    return 1;
  }
  for (struct dirent *e; (e = readdir(d)) && ns < 256;) {
    if (e->d_name[0] == '.') continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    FILE *f = fopen(path, "rb");
    if (!f) continue;
    seeds[ns].p = malloc(1 << 16);
    seeds[ns].n = fread(seeds[ns].p, 1, 1 << 16, f);
    fclose(f);
    ns++;
  }
  closedir(d);
  long iters = getenv("FJ_FUZZ_ITERS") ? atol(getenv("FJ_FUZZ_ITERS")) : 30000;
  long runs = 0;
  for (int i = 0; i < ns; i++, runs++) LLVMFuzzerTestOneInput(seeds[i].p, seeds[i].n);
  uint8_t *buf = malloc(1 << 17);
  for (long it = 0; it < iters && ns; it++, runs++) {
    const seed *s = &seeds[next() % (uint64_t)ns];
    size_t n = s->n;
    memcpy(buf, s->p, n);
    int nmut = 1 + (int)(next() % 4);
    for (int m = 0; m < nmut && n; m++) {
      size_t at = next() % n;
      switch (next() % 6) {
      case 0: buf[at] ^= (uint8_t)(1u << (next() % 8)); break;
      case 1: buf[at] = (uint8_t)next(); break;
      case 2: n = at + 1; break;
      case 3:
        if (n * 2 < (1 << 17)) {
          memcpy(buf + n, buf, n);
          n *= 2;
        }
        break;
      case 4: {
        const seed *o = &seeds[next() % (uint64_t)ns];
        size_t take = o->n < (1 << 17) - at ? o->n : (1 << 17) - at;
        memcpy(buf + at, o->p, take);
        n = at + take;
        break;
      }
      default: buf[at] = (uint8_t)(buf[at] + 1); break;
      }
    }
    LLVMFuzzerTestOneInput(buf, n);
  }
  free(buf);
  for (int i = 0; i < ns; i++) free(seeds[i].p);
  unsigned long long conns, reqs;
  fj_fuzz_counts(&conns, &reqs);
  printf("fuzz: %d seeds, %ld runs: %llu connections, %llu compile requests handled\n", ns, runs,
         conns, reqs);
  /* Every run must have reached the server as its own connection. */
  int ok = conns == (unsigned long long)runs;
  printf("%d passed, %d failed\n", ok, !ok);  /* one test: the whole replay */
  return ok ? 0 : 1;
}
