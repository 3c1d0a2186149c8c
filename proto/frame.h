/* farjit — wire framing: how one protobuf Envelope travels over any byte stream.
 *
 * Frame = 12-byte header + payload:
 *   u32 magic    FJ_FRAME_MAGIC ("FJWF"), little-endian
 *   u32 length   payload bytes, <= the receiver's limit (never above FJ_FRAME_MAX)
 *   u32 crc32    fj_crc32(0, payload, length)  (farjit/crc32.h)
 * A bad magic, an oversized length or a CRC mismatch is fatal for the stream: the receiver
 * sends Error(FJ_EPROTO, reason) if it still can and closes the connection.  We never try to
 * resynchronise: after a corrupt frame nothing later on the stream can be trusted.
 *
 * Freestanding (the device uses it too): no allocation.  The reader parses headers itself and
 * copies payloads into a buffer the caller provides, sized when the header is known
 * (FJ_FRAME_NEED_BUF), so a host can allocate exactly and a device can use a fixed buffer.
 */
#ifndef FARJIT_PROTO_FRAME_H
#define FARJIT_PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FJ_FRAME_MAGIC 0x46574a46u      /* "FJWF" little-endian */
#define FJ_FRAME_HDR 12u
#define FJ_FRAME_MAX (2u << 20)         /* hard limit: blob (1 MiB) + envelope overhead, x2 */

/* Write the header for payload[0..len) into out.  len must be <= FJ_FRAME_MAX. */
void fj_frame_header(uint8_t out[FJ_FRAME_HDR], const void *payload, uint32_t len);

enum fj_frame_status {
  FJ_FRAME_MORE = 0,       /* consumed everything given, frame not complete */
  FJ_FRAME_READY = 1,      /* a frame is complete: payload in r->buf[0..r->len) */
  FJ_FRAME_NEED_BUF = 2,   /* header read: set r->buf/r->cap to >= r->len bytes, feed again */
};

typedef struct fj_frame_reader {
  uint32_t max;            /* largest payload accepted (<= FJ_FRAME_MAX) */
  uint8_t *buf;            /* payload buffer, owned by the caller */
  uint32_t cap;
  uint32_t len;            /* payload length from the header, once known */
  uint32_t crc;            /* CRC from the header */
  uint32_t got;            /* header bytes (state 0) or payload bytes (state 1) received */
  uint8_t state;           /* 0 header, 1 payload, 2 ready, 3 failed */
  uint8_t hdr[FJ_FRAME_HDR];
  const char *err;         /* after an error: what was wrong ("bad magic", ...) */
} fj_frame_reader;

void fj_frame_reader_init(fj_frame_reader *r, uint32_t max, uint8_t *buf, uint32_t cap);

/* Feed data[0..n).  Sets *used to the bytes consumed (the rest belongs to later frames: feed it
 * again after fj_frame_reader_next).  Returns an fj_frame_status or FJ_EPROTO (bad magic or CRC)
 * / FJ_ERANGE (length over r->max); after an error the reader stays failed. */
int fj_frame_feed(fj_frame_reader *r, const uint8_t *data, size_t n, size_t *used);

/* After FJ_FRAME_READY: forget the frame and start reading the next header (keeps the buffer). */
void fj_frame_reader_next(fj_frame_reader *r);

#endif /* FARJIT_PROTO_FRAME_H */
