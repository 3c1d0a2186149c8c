/* farjit — executable memory for the JIT runtime on Linux (see farjit/client_linux.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "farjit/client_linux.h"

static int flip_alloc(void *ud, size_t size, void **rw, void **rx) {
  (void)ud;
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return FJ_ENOMEM;
  *rw = *rx = p;
  return 0;
}

static int flip_protect(void *ud, void *rx, size_t size, bool writable) {
  (void)ud;
  return mprotect(rx, size, writable ? PROT_READ | PROT_WRITE : PROT_READ | PROT_EXEC) ? FJ_EIO : 0;
}

static void any_free(void *ud, void *rw, void *rx, size_t size) {
  (void)ud;
  munmap(rw, size);
  if (rx != rw) munmap(rx, size);
}

/* One memfd, two views: writes through rw appear at rx, which is never writable. */
static int dual_alloc(void *ud, size_t size, void **rw, void **rx) {
  (void)ud;
  int fd = memfd_create("farjit-code", MFD_CLOEXEC);
  if (fd < 0) return FJ_ENOMEM;
  void *w = MAP_FAILED, *x = MAP_FAILED;
  if (ftruncate(fd, (off_t)size) == 0) {
    w = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    x = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
  }
  close(fd);
  if (w == MAP_FAILED || x == MAP_FAILED) {
    if (w != MAP_FAILED) munmap(w, size);
    if (x != MAP_FAILED) munmap(x, size);
    return FJ_ENOMEM;
  }
  *rw = w;
  *rx = x;
  return 0;
}

fj_jit_exec_ops fj_jit_linux_exec(enum fj_jit_exec_mode mode) {
  fj_jit_exec_ops ops = {flip_alloc, flip_protect, any_free, NULL, NULL};
  if (mode == FJ_JIT_EXEC_DUAL) {
    ops.alloc = dual_alloc;
    ops.protect = NULL;
  }
  return ops;
}
