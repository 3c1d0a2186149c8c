/* A callback through the loop helper (id 181: the function's address is an lddw with
 * src = FJ_PSEUDO_FUNC) and lookups in .rodata tables.  For each input byte the callback mixes
 * in a weight from a 16-entry table and a character of a string, both in .rodata; it stops at
 * the first zero byte after position 1000, so the helper's early exit is exercised too.
 * Returns (calls << 32) ^ accumulated value. */
#include "example.h"

static const fj_u32 weights[16] = {3,  1,  4,  1,  5,  9,  2,  6,
                                   5,  3,  5,  8,  9,  7,  9,  3}; /* .rodata */
static const char alphabet[] = /* .rodata.str1.1 */
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

struct walk {
  const fj_u8 *p;
  fj_u64 len;
  fj_u64 acc;
};

static long step(fj_u64 i, void *ctx) {
  struct walk *w = ctx;
  if (i >= w->len) return 1;
  fj_u8 b = w->p[i];
  w->acc = w->acc * 33 + weights[b & 15] * (i + 1);
  w->acc ^= (fj_u64)(fj_u8)alphabet[b & 63] << (b >> 3);
  return i > 1000 && b == 0;
}

FJ_ENTRY fj_u64 fj_main(void *mem, fj_u64 len) {
  struct walk w = {(const fj_u8 *)mem, len, 7};
  long calls = fj_loop(len > 0xffffffffull ? 0xffffffffu : (unsigned int)len, step, &w, 0);
  return ((fj_u64)calls << 32) ^ w.acc;
}
