/* farjit — wire framing (see frame.h).  Freestanding. */
#include "proto/frame.h"

#include <string.h>

#include "farjit/crc32.h"
#include "farjit/error.h"

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void fj_frame_header(uint8_t out[FJ_FRAME_HDR], const void *payload, uint32_t len) {
  put32(out, FJ_FRAME_MAGIC);
  put32(out + 4, len);
  put32(out + 8, fj_crc32(0, payload, len));
}

void fj_frame_reader_init(fj_frame_reader *r, uint32_t max, uint8_t *buf, uint32_t cap) {
  memset(r, 0, sizeof *r);
  r->max = max > FJ_FRAME_MAX ? FJ_FRAME_MAX : max;
  r->buf = buf;
  r->cap = cap;
}

void fj_frame_reader_next(fj_frame_reader *r) {
  if (r->state == 3) return;
  r->state = 0;
  r->got = 0;
  r->len = 0;
}

static int fail(fj_frame_reader *r, int code, const char *why) {
  r->state = 3;
  r->err = why;
  return code;
}

int fj_frame_feed(fj_frame_reader *r, const uint8_t *data, size_t n, size_t *used) {
  size_t i = 0;
  *used = 0;
  if (r->state == 3) return FJ_EPROTO;
  if (r->state == 2) return FJ_FRAME_READY;
  if (r->state == 0) {
    while (i < n && r->got < FJ_FRAME_HDR) {
      r->hdr[r->got++] = data[i++];
      /* Reject garbage as soon as the magic is wrong: a TLS ClientHello or an HTTP request sent
       * to a plaintext port fails on its first bytes instead of waiting for 12. */
      if (r->got <= 4 && r->hdr[r->got - 1] != (uint8_t)(FJ_FRAME_MAGIC >> (8 * (r->got - 1)))) {
        *used = i;
        return fail(r, FJ_EPROTO, "bad frame magic");
      }
    }
    *used = i;
    if (r->got < FJ_FRAME_HDR) return FJ_FRAME_MORE;
    r->len = get32(r->hdr + 4);
    r->crc = get32(r->hdr + 8);
    if (r->len > r->max) return fail(r, FJ_ERANGE, "frame larger than the limit");
    r->state = 1;
    r->got = 0;
  }
  if (r->cap < r->len || (r->buf == NULL && r->len > 0)) return FJ_FRAME_NEED_BUF;
  size_t take = n - i;
  if (take > r->len - r->got) take = r->len - r->got;
  if (take) memcpy(r->buf + r->got, data + i, take);
  r->got += (uint32_t)take;
  i += take;
  *used = i;
  if (r->got < r->len) return FJ_FRAME_MORE;
  if (fj_crc32(0, r->buf, r->len) != r->crc) return fail(r, FJ_EPROTO, "frame CRC mismatch");
  r->state = 2;
  return FJ_FRAME_READY;
}
