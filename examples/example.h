/* farjit examples — one source, two builds.
 *
 * Each example defines `fj_u64 fj_main(void *mem, fj_u64 len)` (r1 = mem, r2 = len) and is
 * compiled twice: with `clang -target bpf -O2 -c` into an ELF object the VM loads, and natively
 * with the host compiler (fj_main renamed to fj_native_<name> by the build) so tests and the
 * benchmark can compare results and speed.  This header gives both builds the same vocabulary:
 * fixed-width types, FJ_ENTRY (the program section), and the helpers (eBPF calls under
 * __bpf__, plain C natively).  Examples use no libc.
 */
#ifndef FJ_EXAMPLE_H
#define FJ_EXAMPLE_H

#if defined(__bpf__)
#include "farjit/bpf_prog.h"
#define FJ_ENTRY FJ_SEC("prog")
#else
#include <string.h>

typedef __UINT8_TYPE__ fj_u8;
typedef __UINT16_TYPE__ fj_u16;
typedef __UINT32_TYPE__ fj_u32;
typedef __UINT64_TYPE__ fj_u64;
typedef __INT32_TYPE__ fj_s32;
typedef __INT64_TYPE__ fj_s64;

#define FJ_ENTRY

/* The loop helper's contract (farjit/helpers.h): cb(i, ctx) for i < nr until cb returns
 * non-zero; returns the number of calls. */
static inline long fj_loop(unsigned int nr, void *cb, void *ctx, unsigned long long flags) {
  long (*fn)(fj_u64, void *) = (long (*)(fj_u64, void *))cb;
  if (flags) return -1;
  long n = 0;
  for (fj_u64 i = 0; i < nr; i++) {
    n++;
    if (fn(i, ctx)) break;
  }
  return n;
}
#define fj_memcpy(d, s, n) memcpy((d), (s), (n))
#define fj_memcmp(a, b, n) memcmp((a), (b), (n))
#define fj_memset(d, c, n) memset((d), (c), (n))
#endif

#define FJ_NOINLINE __attribute__((noinline))

#endif /* FJ_EXAMPLE_H */
