/* farjit client runtime (Thumb-2) — 64-bit division with eBPF semantics.
 *
 * The runtime entry points FJ_RT_UDIV64 .. FJ_RT_SMOD64 (farjit/blob.h) on a 32-bit core, where
 * compiled traces reach them through RUNTIME relocations (a BL, THM_CALL).  AAPCS: a in r0:r1,
 * b in r2:r3, result in r0:r1.  Leaf functions: no calls (in particular not libgcc's
 * __aeabi_uldivmod, which would trap on division by zero), no state.  eBPF semantics:
 *   udiv: a / b, 0 if b == 0          umod: a % b, a if b == 0
 *   sdiv: 0 if b == 0, INT64_MIN / -1 = INT64_MIN (truncating)
 *   smod: a if b == 0, x % -1 = 0, otherwise the remainder has the sign of a
 * Freestanding C11; also built for the host so that tests can compare with the C operators.
 */
#ifndef FJ_CLIENT_THUMB_DIV64_H
#define FJ_CLIENT_THUMB_DIV64_H

#include <stdint.h>

uint64_t fj_rt_udiv64(uint64_t a, uint64_t b);
uint64_t fj_rt_umod64(uint64_t a, uint64_t b);
int64_t fj_rt_sdiv64(int64_t a, int64_t b);
int64_t fj_rt_smod64(int64_t a, int64_t b);

#endif /* FJ_CLIENT_THUMB_DIV64_H */
