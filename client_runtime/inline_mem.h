/* farjit — small fixed-size copies that stay inline in freestanding builds.
 *
 * -ffreestanding implies -fno-builtin: GCC then turns every memcpy/memset, even of 1, 4 or 8
 * constant bytes, into a library call (newlib-nano's memcpy is a byte loop: ~60 Thumb
 * instructions for an 8-byte load).  The interpreter's loads and stores, the recorder's per-step
 * record and the blob readers use these instead: the builtins expand small constant sizes
 * inline and call memcpy/memset from <string.h> otherwise, so the freestanding rule holds.
 */
#ifndef FJ_CLIENT_INLINE_MEM_H
#define FJ_CLIENT_INLINE_MEM_H

#include <string.h>

#if defined(__GNUC__)
#define FJ_MEMCPY(d, s, n) __builtin_memcpy((d), (s), (n))
#define FJ_MEMSET(d, c, n) __builtin_memset((d), (c), (n))
#else
#define FJ_MEMCPY(d, s, n) memcpy((d), (s), (n))
#define FJ_MEMSET(d, c, n) memset((d), (c), (n))
#endif

#endif /* FJ_CLIENT_INLINE_MEM_H */
