/* Division by constants: the sum of x / 7 + x % 10 (64-bit unsigned) and (u32)x / 3 over
 * x in [start, start + len), start from the input's first word.  eBPF has no multiply-high, so
 * clang keeps the divides; a template JIT emits `div` for each (about 8x slower than gcc's
 * multiply-by-reciprocal).  A trace compiler sees the constant divisor and can do what gcc does. */
#include "examples/example.h"

FJ_ENTRY fj_u64 fj_main(void *mem, fj_u64 len) {
  fj_u64 start = *(const fj_u32 *)mem, s = 0;
  for (fj_u64 x = start; x < start + len; x++) {
    s += x / 7 + x % 10;
    s += (fj_u32)x / 3u;
  }
  return s;
}
