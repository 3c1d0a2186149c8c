/* A loop with a data-dependent branch taken about half the time: odd bytes are added, even
 * bytes are shifted in and xor-ed.  The trace follows one side; the other side leaves through a
 * guard until a bridge is compiled for it, so this measures side exits and bridges. */
#include "examples/example.h"

FJ_ENTRY fj_u64 fj_main(void *mem, fj_u64 len) {
  const fj_u8 *p = (const fj_u8 *)mem;
  fj_u64 a = 0, b = 0;
  for (fj_u64 i = 0; i < len; i++) {
    fj_u64 c = p[i];
    if (c & 1)
      a += c * 5;
    else
      b ^= (b << 3) + c;
  }
  return a ^ (b << 1);
}
