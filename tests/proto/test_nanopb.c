/* The device side of the protocol: nanopb code generated from proto/farjit.proto with
 * proto/farjit.options must interoperate with the hosts' protobuf-c code, with every message
 * statically bounded and traces/blobs streamed through callbacks (no big arrays on a device). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "farjit/error.h"
#include "nanopb/proto/farjit.pb.h"
#include "proto/abi.h"
#include "proto/frame.h"
#include "proto/msg.h"

/* Device-sized: every message the device decodes fits a small static struct. */
_Static_assert(sizeof(farjit_Envelope) < 1024, "a device decodes envelopes without big buffers");
_Static_assert(farjit_HelloAck_size < 128 && farjit_Error_size < 256, "bounded messages");

typedef struct span {
  const uint8_t *p;
  size_t n;
} span;

static bool encode_bytes(pb_ostream_t *s, const pb_field_t *f, void *const *arg) {
  const span *sp = *arg;
  return pb_encode_tag_for_field(s, f) && pb_encode_string(s, sp->p, sp->n);
}

typedef struct sink {
  uint8_t *p;
  size_t cap, n;
} sink;

/* A device decodes the blob straight into its code cache, refusing what does not fit. */
static bool decode_bytes(pb_istream_t *s, const pb_field_t *f, void **arg) {
  (void)f;
  sink *k = *arg;
  if (s->bytes_left > k->cap) return false;
  k->n = s->bytes_left;
  return pb_read(s, k->p, s->bytes_left);
}

/* Envelope.cb_msg: called before a oneof member is decoded (submsg_callback in farjit.options);
 * the place to hook the blob callback into CompileResult. */
static bool hook_result(pb_istream_t *s, const pb_field_t *f, void **arg) {
  (void)s;
  if (f->tag == farjit_Envelope_compile_result_tag) {
    farjit_CompileResult *r = f->pData;
    r->blob.funcs.decode = decode_bytes;
    r->blob.arg = *arg;
  }
  return true;
}

static void test_device_request_to_host(void **st) {
  (void)st;
  uint8_t trace[500];
  for (unsigned i = 0; i < sizeof trace; i++) trace[i] = (uint8_t)(i * 7);
  span sp = {trace, sizeof trace};
  farjit_Envelope env = farjit_Envelope_init_zero;
  env.which_msg = farjit_Envelope_compile_request_tag;
  env.msg.compile_request.id = 0xabcdef01234ull;
  env.msg.compile_request.target = 2;
  env.msg.compile_request.trace.funcs.encode = encode_bytes;
  env.msg.compile_request.trace.arg = &sp;
  env.msg.compile_request.has_options = true;
  env.msg.compile_request.options.flags = 1;
  uint8_t buf[FJ_FRAME_HDR + 1024];
  pb_ostream_t os = pb_ostream_from_buffer(buf + FJ_FRAME_HDR, sizeof buf - FJ_FRAME_HDR);
  assert_true(pb_encode(&os, farjit_Envelope_fields, &env));
  fj_frame_header(buf, buf + FJ_FRAME_HDR, (uint32_t)os.bytes_written);
  /* The host reads the frame and decodes with protobuf-c. */
  fj_frame_reader r;
  uint8_t payload[1024];
  fj_frame_reader_init(&r, sizeof payload, payload, sizeof payload);
  size_t used;
  assert_int_equal(fj_frame_feed(&r, buf, FJ_FRAME_HDR + os.bytes_written, &used), FJ_FRAME_READY);
  fj_envelope *h = fj_msg_unpack(r.buf, r.len);
  assert_non_null(h);
  assert_int_equal(h->msg_case, FARJIT__ENVELOPE__MSG_COMPILE_REQUEST);
  assert_true(h->compile_request->id == 0xabcdef01234ull);
  assert_int_equal(h->compile_request->target, 2);
  assert_int_equal(h->compile_request->options->flags, 1);
  assert_int_equal(h->compile_request->trace.len, sizeof trace);
  assert_memory_equal(h->compile_request->trace.data, trace, sizeof trace);
  fj_msg_free(h);
}

static void test_device_hello_to_host(void **st) {
  (void)st;
  farjit_Envelope env = farjit_Envelope_init_zero;
  env.which_msg = farjit_Envelope_hello_tag;
  env.msg.hello.version = FJ_PROTO_VERSION;
  env.msg.hello.min_version = FJ_PROTO_MIN_VERSION;
  strcpy(env.msg.hello.client_id, "stm32-7");
  strcpy(env.msg.hello.triple, "thumbv7em");
  env.msg.hello.target = 2;
  env.msg.hello.helper_abi_hash = fj_abi_hash();
  uint8_t buf[256];
  pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
  assert_true(pb_encode(&os, farjit_Envelope_fields, &env));
  fj_envelope *h = fj_msg_unpack(buf, os.bytes_written);
  assert_non_null(h);
  assert_int_equal(h->msg_case, FARJIT__ENVELOPE__MSG_HELLO);
  assert_string_equal(h->hello->client_id, "stm32-7");
  assert_string_equal(h->hello->triple, "thumbv7em");
  assert_int_equal(h->hello->helper_abi_hash, fj_abi_hash());
  fj_msg_free(h);
}

static void test_host_result_to_device(void **st) {
  (void)st;
  uint8_t blob[5000];
  for (unsigned i = 0; i < sizeof blob; i++) blob[i] = (uint8_t)(i ^ 0x5a);
  Farjit__CompileResult res = FARJIT__COMPILE_RESULT__INIT;
  Farjit__CompileStats cs = FARJIT__COMPILE_STATS__INIT;
  cs.code_size = 4000;
  res.id = 77;
  res.message = "";
  res.blob.data = blob;
  res.blob.len = sizeof blob;
  res.cache_hit = true;
  res.stats = &cs;
  fj_envelope env = FARJIT__ENVELOPE__INIT;
  env.msg_case = FARJIT__ENVELOPE__MSG_COMPILE_RESULT;
  env.compile_result = &res;
  size_t len;
  uint8_t *f = fj_msg_pack(&env, &len);
  assert_non_null(f);
  /* The device: a code cache of 8 KiB receives it. */
  uint8_t cache[8192];
  sink k = {cache, sizeof cache, 0};
  farjit_Envelope d = farjit_Envelope_init_zero;
  d.cb_msg.funcs.decode = hook_result;
  d.cb_msg.arg = &k;
  pb_istream_t is = pb_istream_from_buffer(f + FJ_FRAME_HDR, len - FJ_FRAME_HDR);
  assert_true(pb_decode(&is, farjit_Envelope_fields, &d));
  assert_int_equal(d.which_msg, farjit_Envelope_compile_result_tag);
  assert_int_equal(d.msg.compile_result.id, 77);
  assert_true(d.msg.compile_result.cache_hit);
  assert_int_equal(d.msg.compile_result.stats.code_size, 4000);
  assert_int_equal(k.n, sizeof blob);
  assert_memory_equal(cache, blob, sizeof blob);
  /* A blob larger than the device's cache is refused, not overflowed. */
  uint8_t small[1024];
  sink k2 = {small, sizeof small, 0};
  farjit_Envelope d2 = farjit_Envelope_init_zero;
  d2.cb_msg.funcs.decode = hook_result;
  d2.cb_msg.arg = &k2;
  is = pb_istream_from_buffer(f + FJ_FRAME_HDR, len - FJ_FRAME_HDR);
  assert_false(pb_decode(&is, farjit_Envelope_fields, &d2));
  free(f);
}

static void test_host_error_to_device(void **st) {
  (void)st;
  size_t len;
  uint8_t *f = fj_msg_error(FJ_EVERSION, 0, "protocol version mismatch: client speaks 2..2, "
                                             "server speaks 1..1", &len);
  farjit_Envelope d = farjit_Envelope_init_zero;
  pb_istream_t is = pb_istream_from_buffer(f + FJ_FRAME_HDR, len - FJ_FRAME_HDR);
  assert_true(pb_decode(&is, farjit_Envelope_fields, &d));
  assert_int_equal(d.which_msg, farjit_Envelope_error_tag);
  assert_int_equal(d.msg.error.code, FJ_EVERSION);
  assert_non_null(strstr(d.msg.error.message, "server speaks 1..1"));
  free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_device_request_to_host),
    cmocka_unit_test(test_device_hello_to_host),
    cmocka_unit_test(test_host_result_to_device),
    cmocka_unit_test(test_host_error_to_device),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
