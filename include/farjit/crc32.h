/* farjit — CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320), as zlib computes it.
 * Used by the blob format and the wire framing.  Header-only, freestanding, table-free
 * (nibble-wise: 16-entry table) so it fits a Cortex-M with a few KB of RAM.
 * fj_crc32(0, p, n) is the CRC of p[0..n); pass the previous result to continue. */
#ifndef FARJIT_CRC32_H
#define FARJIT_CRC32_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t fj_crc32(uint32_t crc, const void *data, size_t len) {
  static const uint32_t t[16] = {
    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
    0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c};
  const uint8_t *p = (const uint8_t *)data;
  crc = ~crc;
  while (len--) {
    crc ^= *p++;
    crc = (crc >> 4) ^ t[crc & 15];
    crc = (crc >> 4) ^ t[crc & 15];
  }
  return ~crc;
}

#endif /* FARJIT_CRC32_H */
