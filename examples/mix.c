/* A loop-heavy integer kernel with no memory traffic in its inner loops: for each 64-bit word
 * of the input, run the splitmix64 finaliser a few rounds and count the Collatz steps of a
 * 16-bit number derived from it.  Returns the combined hash and step total. */
#include "example.h"

static fj_u64 mix64(fj_u64 z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static FJ_NOINLINE fj_u64 collatz_steps(fj_u64 x) {
  fj_u64 n = 0;
  while (x != 1) {
    x = (x & 1) ? 3 * x + 1 : x >> 1;
    n++;
  }
  return n;
}

FJ_ENTRY fj_u64 fj_main(void *mem, fj_u64 len) {
  const fj_u64 *w = (const fj_u64 *)mem;
  fj_u64 h = 0x9e3779b97f4a7c15ull, steps = 0;
  for (fj_u64 i = 0; i < len / 8; i++) {
    fj_u64 z = w[i] + h;
    for (int r = 0; r < 4; r++) z = mix64(z + (fj_u64)r);
    h ^= z + (h << 6) + (h >> 2);
    steps += collatz_steps((z & 0xffff) + 1);
  }
  return h ^ (steps << 32) ^ steps;
}
