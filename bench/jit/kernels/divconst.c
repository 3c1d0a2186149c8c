/* Division by constants: the sum of x / 7 + x % 10 (64-bit unsigned) and (u32)x / 3 over
 * x in [start, start + len), start from the input's first word.  eBPF has no multiply-high, so
 * clang keeps the divides; a template JIT emits `div` for each (about 8x slower than gcc's
 * multiply-by-reciprocal).  A trace compiler sees the constant divisor and can do what gcc does.
 *
 * FJ_KEEP_DIVIDE (a second native build only, bench/jit/module.mk): the divisors pass through an
 * empty asm so gcc cannot see them and keeps the `div` instructions: the speed of code that
 * keeps the divide, as a template JIT does, on this machine. */
#include "examples/example.h"

#ifdef FJ_KEEP_DIVIDE
static inline fj_u64 fj_opaque(fj_u64 v) {
  __asm__("" : "+r"(v));
  return v;
}
#else
#define fj_opaque(v) (v)
#endif

FJ_ENTRY fj_u64 fj_main(void *mem, fj_u64 len) {
  fj_u64 start = *(const fj_u32 *)mem, s = 0;
  fj_u64 d7 = fj_opaque(7), d10 = fj_opaque(10);
  fj_u32 d3 = (fj_u32)fj_opaque(3);
  for (fj_u64 x = start; x < start + len; x++) {
    s += x / d7 + x % d10;
    s += (fj_u32)x / d3;
  }
  return s;
}
