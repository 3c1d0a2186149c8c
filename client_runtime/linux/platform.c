/* farjit — Linux platform layer: contract in farjit/platform_linux.h. */
#include "farjit/platform_linux.h"

#include <stddef.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void *lx_alloc(void *ud, size_t size, size_t align) {
  (void)ud;
  if (align <= _Alignof(max_align_t)) return malloc(size);
  return aligned_alloc(align, (size + align - 1) / align * align);
}

static void lx_free(void *ud, void *ptr, size_t size) {
  (void)ud, (void)size;
  free(ptr);
}

static uint64_t lx_clock_ns(void *ud) {
  (void)ud;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void lx_print(void *ud, const char *s, size_t len) {
  (void)ud;
  while (len > 0) {
    ssize_t n = write(STDERR_FILENO, s, len);
    if (n <= 0) return;
    s += n;
    len -= (size_t)n;
  }
}

static const fj_platform linux_platform = {
  .mem = {lx_alloc, lx_free, NULL},
  .clock_ns = lx_clock_ns,
  .print = lx_print,
  .ud = NULL,
};

const fj_platform *fj_platform_linux(void) { return &linux_platform; }
