/* ALU-heavy loop, no memory traffic inside the loop: a xorshift64 generator and a 64-bit LCG
 * mixed with rotates, multiplies and shifts.  r2 (len) is the iteration count; the seed is
 * the first word of the input.  Every value feeds the next iteration, so nothing can be
 * hoisted or vectorised: the loop measures the quality of straight-line ALU code. */
#include "examples/example.h"

FJ_ENTRY fj_u64 fj_main(void *mem, fj_u64 len) {
  fj_u64 a = *(const fj_u64 *)mem | 1, b = 0x9e3779b97f4a7c15ull, acc = 0;
  for (fj_u64 i = 0; i < len; i++) {
    a ^= a << 13;
    a ^= a >> 7;
    a ^= a << 17;
    b = b * 6364136223846793005ull + 1442695040888963407ull;
    fj_u64 t = a + ((b << 21) | (b >> 43));
    acc += (t ^ (t >> 29)) + (i & 0xff) * 3;
  }
  return acc ^ a ^ b;
}
