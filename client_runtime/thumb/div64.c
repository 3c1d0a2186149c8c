/* 64-bit division on a core that only divides 32 by 32 (udiv): Knuth's algorithm D with
 * 16-bit digits for 64/32 steps, and a normalized 64/32 estimate for 64-bit divisors (the
 * estimate is at most one too large, so one correction step suffices).  See div64.h. */
#include "client_runtime/thumb/div64.h"

#include <stdint.h>

static inline unsigned clz32(uint32_t x) { return x ? (unsigned)__builtin_clz(x) : 32; }

/* (hi:lo) / v and the remainder, for hi < v (so the quotient fits 32 bits). */
static uint32_t div_64_32(uint32_t hi, uint32_t lo, uint32_t v, uint32_t *rem) {
  unsigned s = clz32(v);
  v <<= s;
  uint32_t vn1 = v >> 16, vn0 = v & 0xffff;
  uint32_t un32 = s ? (hi << s) | (lo >> (32 - s)) : hi;
  uint32_t un10 = lo << s, un1 = un10 >> 16, un0 = un10 & 0xffff;

  uint32_t q1 = un32 / vn1, rhat = un32 - q1 * vn1;
  while (q1 > 0xffff || q1 * vn0 > ((rhat << 16) | un1)) {
    q1--;
    rhat += vn1;
    if (rhat > 0xffff) break;
  }
  uint32_t un21 = (un32 << 16) + un1 - q1 * v;
  uint32_t q0 = un21 / vn1;
  rhat = un21 - q0 * vn1;
  while (q0 > 0xffff || q0 * vn0 > ((rhat << 16) | un0)) {
    q0--;
    rhat += vn1;
    if (rhat > 0xffff) break;
  }
  *rem = ((un21 << 16) + un0 - q0 * v) >> s;
  return q1 << 16 | q0;
}

/* a / b and a % b for b != 0. */
static uint64_t udivmod(uint64_t a, uint64_t b, uint64_t *rem) {
  uint32_t ah = (uint32_t)(a >> 32), al = (uint32_t)a, bh = (uint32_t)(b >> 32), bl = (uint32_t)b;
  if (bh == 0) {
    if (ah == 0) { *rem = al % bl; return al / bl; }
    uint32_t qh = ah / bl, r;
    uint32_t ql = div_64_32(ah - qh * bl, al, bl, &r);
    *rem = r;
    return (uint64_t)qh << 32 | ql;
  }
  if (a < b) { *rem = a; return 0; }
  /* b >= 2^32: the quotient fits 32 bits.  Divide a/2 by the top 32 bits of b normalized, which
   * under-shifts by one bit: q is then the true quotient or one more. */
  unsigned n = clz32(bh);
  uint32_t v1 = (uint32_t)((b << n) >> 32), r;
  uint64_t u = a >> 1;
  uint64_t q = div_64_32((uint32_t)(u >> 32), (uint32_t)u, v1, &r);
  q = (q << n) >> 31;
  if (q) q--;
  uint64_t rr = a - q * b;
  if (rr >= b) { q++; rr -= b; }
  *rem = rr;
  return q;
}

uint64_t fj_rt_udiv64(uint64_t a, uint64_t b) {
  uint64_t r;
  return b ? udivmod(a, b, &r) : 0;
}

uint64_t fj_rt_umod64(uint64_t a, uint64_t b) {
  uint64_t r = a;
  if (b) udivmod(a, b, &r);
  return r;
}

int64_t fj_rt_sdiv64(int64_t a, int64_t b) {
  if (b == 0) return 0;
  uint64_t ua = a < 0 ? 0 - (uint64_t)a : (uint64_t)a;
  uint64_t ub = b < 0 ? 0 - (uint64_t)b : (uint64_t)b, r;
  uint64_t q = udivmod(ua, ub, &r);
  /* INT64_MIN / -1: the magnitude 2^63 negates to itself, as eBPF wants. */
  return (int64_t)((a < 0) != (b < 0) ? 0 - q : q);
}

int64_t fj_rt_smod64(int64_t a, int64_t b) {
  if (b == 0) return a;
  uint64_t ua = a < 0 ? 0 - (uint64_t)a : (uint64_t)a;
  uint64_t ub = b < 0 ? 0 - (uint64_t)b : (uint64_t)b, r;
  udivmod(ua, ub, &r);
  return (int64_t)(a < 0 ? 0 - r : r);
}
