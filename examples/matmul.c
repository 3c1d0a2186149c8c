/* 16x16 matrix product of 32-bit integers (wrapping): A and B are read from the input (the
 * first 2 * 256 words, repeated if the input is shorter), C lives in .bss.  Returns a
 * checksum over C. */
#include "example.h"

#define N 16

static fj_u32 c[N][N];

static FJ_NOINLINE void matmul(const fj_u32 *a, const fj_u32 *b) {
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      fj_u32 s = 0;
      for (int k = 0; k < N; k++) s += a[i * N + k] * b[k * N + j];
      c[i][j] = s;
    }
}

FJ_ENTRY fj_u64 fj_main(void *mem, fj_u64 len) {
  if (len < 2 * N * N * 4) return ~0ull;
  const fj_u32 *a = (const fj_u32 *)mem;
  fj_u64 sum = 0;
  /* several products over shifted windows of the input, so the kernel dominates */
  for (fj_u64 off = 0; off + 2 * N * N * 4 <= len; off += N * 4) {
    matmul(a + off / 4, a + off / 4 + N * N);
    for (int i = 0; i < N; i++)
      for (int j = 0; j < N; j++) sum = sum * 1099511628211ull + c[i][j];
  }
  return sum;
}
