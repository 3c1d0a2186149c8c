/* CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320) of the whole input buffer, bit by bit:
 * eight dependent shift/xor/mask steps per byte make it a tight, branch-free inner loop.
 * crc32("123456789") = 0xcbf43926. */
#include "example.h"

static FJ_NOINLINE fj_u32 crc32_update(fj_u32 crc, const fj_u8 *p, fj_u64 n) {
  for (fj_u64 i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return crc;
}

FJ_ENTRY fj_u64 fj_main(void *mem, fj_u64 len) {
  return ~crc32_update(0xFFFFFFFFu, (const fj_u8 *)mem, len) & 0xFFFFFFFFu;
}
