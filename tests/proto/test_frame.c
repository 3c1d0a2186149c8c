/* proto/frame.c and proto/msg.c: framing round trips, incremental feeding, every rejection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "farjit/crc32.h"
#include "farjit/error.h"
#include "proto/abi.h"
#include "proto/frame.h"
#include "proto/msg.h"

static size_t make_frame(uint8_t *out, const char *payload) {
  uint32_t n = (uint32_t)strlen(payload);
  fj_frame_header(out, payload, n);
  memcpy(out + FJ_FRAME_HDR, payload, n);
  return FJ_FRAME_HDR + n;
}

static void test_header_layout(void **st) {
  (void)st;
  uint8_t h[FJ_FRAME_HDR];
  fj_frame_header(h, "abc", 3);
  assert_memory_equal(h, "FJWF", 4);
  assert_int_equal(h[4], 3);
  assert_int_equal(h[5] | h[6] | h[7], 0);
  uint32_t crc = (uint32_t)h[8] | (uint32_t)h[9] << 8 | (uint32_t)h[10] << 16 | (uint32_t)h[11] << 24;
  assert_int_equal(crc, 0x352441c2u);  /* zlib.crc32(b"abc") */
}

static void test_roundtrip_bytewise(void **st) {
  (void)st;
  uint8_t wire[64], buf[32];
  size_t n = make_frame(wire, "hello, frame");
  n += make_frame(wire + n, "second");
  fj_frame_reader r;
  fj_frame_reader_init(&r, 32, buf, sizeof buf);
  int frames = 0;
  for (size_t i = 0; i < n; i++) {
    size_t used;
    int rc = fj_frame_feed(&r, wire + i, 1, &used);
    assert_true(rc == FJ_FRAME_MORE || rc == FJ_FRAME_READY);
    assert_int_equal(used, 1);
    if (rc == FJ_FRAME_READY) {
      assert_memory_equal(r.buf, frames == 0 ? "hello, frame" : "second", r.len);
      frames++;
      fj_frame_reader_next(&r);
    }
  }
  assert_int_equal(frames, 2);
}

static void test_two_frames_one_buffer(void **st) {
  (void)st;
  uint8_t wire[64], buf[32];
  size_t n = make_frame(wire, "one");
  size_t n1 = n;
  n += make_frame(wire + n, "two");
  fj_frame_reader r;
  fj_frame_reader_init(&r, 32, buf, sizeof buf);
  size_t used;
  assert_int_equal(fj_frame_feed(&r, wire, n, &used), FJ_FRAME_READY);
  assert_int_equal(used, n1);  /* stops at the frame boundary */
  assert_memory_equal(r.buf, "one", 3);
  /* Feeding again before next() keeps reporting the same frame and consumes nothing. */
  assert_int_equal(fj_frame_feed(&r, wire + used, n - used, &used), FJ_FRAME_READY);
  assert_int_equal(used, 0);
  fj_frame_reader_next(&r);
  assert_int_equal(fj_frame_feed(&r, wire + n1, n - n1, &used), FJ_FRAME_READY);
  assert_memory_equal(r.buf, "two", 3);
}

static void test_need_buf(void **st) {
  (void)st;
  uint8_t wire[64];
  size_t n = make_frame(wire, "needs a buffer");
  fj_frame_reader r;
  fj_frame_reader_init(&r, 1024, NULL, 0);
  size_t used, off = 0;
  assert_int_equal(fj_frame_feed(&r, wire, n, &used), FJ_FRAME_NEED_BUF);
  assert_int_equal(used, FJ_FRAME_HDR);
  assert_int_equal(r.len, 14);
  off += used;
  uint8_t *b = malloc(r.len);
  r.buf = b;
  r.cap = r.len;
  assert_int_equal(fj_frame_feed(&r, wire + off, n - off, &used), FJ_FRAME_READY);
  assert_memory_equal(b, "needs a buffer", 14);
  free(b);
}

static void test_empty_payload(void **st) {
  (void)st;
  uint8_t wire[16];
  size_t n = make_frame(wire, "");
  fj_frame_reader r;
  fj_frame_reader_init(&r, 16, NULL, 0);
  size_t used;
  assert_int_equal(fj_frame_feed(&r, wire, n, &used), FJ_FRAME_READY);
  assert_int_equal(r.len, 0);
}

static void test_bad_magic_first_byte(void **st) {
  (void)st;
  uint8_t buf[16];
  fj_frame_reader r;
  fj_frame_reader_init(&r, 16, buf, sizeof buf);
  size_t used;
  /* A TLS ClientHello starts with 0x16: rejected on the first byte. */
  const uint8_t tls[] = {0x16, 0x03, 0x01, 0x00, 0x50};
  assert_int_equal(fj_frame_feed(&r, tls, sizeof tls, &used), FJ_EPROTO);
  assert_int_equal(used, 1);
  assert_string_equal(r.err, "bad frame magic");
  /* The reader stays failed. */
  uint8_t wire[32];
  size_t n = make_frame(wire, "ok");
  assert_int_equal(fj_frame_feed(&r, wire, n, &used), FJ_EPROTO);
  fj_frame_reader_next(&r);
  assert_int_equal(fj_frame_feed(&r, wire, n, &used), FJ_EPROTO);
}

static void test_oversized(void **st) {
  (void)st;
  uint8_t wire[FJ_FRAME_HDR] = {'F', 'J', 'W', 'F', 0x01, 0x01, 0, 0, 0, 0, 0, 0};  /* 257 bytes */
  fj_frame_reader r;
  fj_frame_reader_init(&r, 256, NULL, 0);
  size_t used;
  assert_int_equal(fj_frame_feed(&r, wire, sizeof wire, &used), FJ_ERANGE);
  /* The limit is clamped to the hard maximum. */
  fj_frame_reader_init(&r, UINT32_MAX, NULL, 0);
  assert_int_equal(r.max, FJ_FRAME_MAX);
}

static void test_crc_mismatch(void **st) {
  (void)st;
  uint8_t wire[64], buf[32];
  size_t n = make_frame(wire, "payload");
  wire[FJ_FRAME_HDR + 3] ^= 0x20;
  fj_frame_reader r;
  fj_frame_reader_init(&r, 32, buf, sizeof buf);
  size_t used;
  assert_int_equal(fj_frame_feed(&r, wire, n, &used), FJ_EPROTO);
  assert_string_equal(r.err, "frame CRC mismatch");
}

static void test_msg_roundtrip(void **st) {
  (void)st;
  Farjit__CompileRequest q = FARJIT__COMPILE_REQUEST__INIT;
  uint8_t trace[100];
  for (int i = 0; i < 100; i++) trace[i] = (uint8_t)i;
  q.id = 0x123456789ull;
  q.trace.data = trace;
  q.trace.len = sizeof trace;
  q.target = 2;
  fj_envelope env = FARJIT__ENVELOPE__INIT;
  env.msg_case = FARJIT__ENVELOPE__MSG_COMPILE_REQUEST;
  env.compile_request = &q;
  size_t len;
  uint8_t *f = fj_msg_pack(&env, &len);
  assert_non_null(f);
  fj_frame_reader r;
  fj_frame_reader_init(&r, FJ_FRAME_MAX, NULL, 0);
  size_t used;
  assert_int_equal(fj_frame_feed(&r, f, len, &used), FJ_FRAME_NEED_BUF);
  uint8_t *b = malloc(r.len);
  r.buf = b;
  r.cap = r.len;
  assert_int_equal(fj_frame_feed(&r, f + used, len - used, &used), FJ_FRAME_READY);
  fj_envelope *d = fj_msg_unpack(r.buf, r.len);
  assert_non_null(d);
  assert_int_equal(d->msg_case, FARJIT__ENVELOPE__MSG_COMPILE_REQUEST);
  assert_string_equal(fj_msg_name(d), "compile_request");
  assert_true(d->compile_request->id == 0x123456789ull);
  assert_int_equal(d->compile_request->trace.len, 100);
  assert_memory_equal(d->compile_request->trace.data, trace, 100);
  fj_msg_free(d);
  free(b);
  free(f);
  /* Error helper. */
  f = fj_msg_error(FJ_EVERSION, 7, "why", &len);
  d = fj_msg_unpack(f + FJ_FRAME_HDR, len - FJ_FRAME_HDR);
  assert_non_null(d);
  assert_int_equal(d->error->code, FJ_EVERSION);
  assert_string_equal(d->error->message, "why");
  fj_msg_free(d);
  free(f);
}

static void test_msg_unknown_and_garbage(void **st) {
  (void)st;
  /* Field 15 (a message type from a newer peer), length-delimited, empty. */
  const uint8_t newer[] = {0x7a, 0x00};
  fj_envelope *d = fj_msg_unpack(newer, sizeof newer);
  assert_non_null(d);
  assert_int_equal(d->msg_case, FARJIT__ENVELOPE__MSG__NOT_SET);
  fj_msg_free(d);
  /* Truncated length-delimited field: undecodable. */
  const uint8_t bad[] = {0x1a, 0x50, 0x01};
  assert_null(fj_msg_unpack(bad, sizeof bad));
}

static void test_abi_hash_stable(void **st) {
  (void)st;
  assert_int_equal(fj_abi_hash(), fj_abi_hash());
  assert_int_not_equal(fj_abi_hash(), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_header_layout),
    cmocka_unit_test(test_roundtrip_bytewise),
    cmocka_unit_test(test_two_frames_one_buffer),
    cmocka_unit_test(test_need_buf),
    cmocka_unit_test(test_empty_payload),
    cmocka_unit_test(test_bad_magic_first_byte),
    cmocka_unit_test(test_oversized),
    cmocka_unit_test(test_crc_mismatch),
    cmocka_unit_test(test_msg_roundtrip),
    cmocka_unit_test(test_msg_unknown_and_garbage),
    cmocka_unit_test(test_abi_hash_stable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
