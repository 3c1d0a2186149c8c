/* A memory-bound loop: a polynomial hash over the input's 32-bit words.  One load per
 * iteration, a serial dependency through the hash (nothing to vectorise): it measures the cost
 * of bounds-checked loads in compiled traces against plain loads in native code. */
#include "examples/example.h"

FJ_ENTRY fj_u64 fj_main(void *mem, fj_u64 len) {
  const fj_u32 *w = (const fj_u32 *)mem;
  fj_u64 h = 0xcbf29ce484222325ull;
  for (fj_u64 i = 0; i < len / 4; i++) h = h * 31 + w[i];
  return h;
}
