/* farjit — protobuf-c messages <-> frames (see msg.h). */
#include "proto/msg.h"

#include <stdlib.h>

#include "proto/frame.h"

uint8_t *fj_msg_pack(const fj_envelope *env, size_t *len) {
  size_t n = farjit__envelope__get_packed_size(env);
  if (n > FJ_FRAME_MAX) return NULL;
  uint8_t *buf = malloc(FJ_FRAME_HDR + n + 1);
  if (!buf) return NULL;
  farjit__envelope__pack(env, buf + FJ_FRAME_HDR);
  fj_frame_header(buf, buf + FJ_FRAME_HDR, (uint32_t)n);
  *len = FJ_FRAME_HDR + n;
  return buf;
}

fj_envelope *fj_msg_unpack(const uint8_t *payload, size_t len) {
  return farjit__envelope__unpack(NULL, len, payload);
}

void fj_msg_free(fj_envelope *env) {
  if (env) farjit__envelope__free_unpacked(env, NULL);
}

const char *fj_msg_name(const fj_envelope *env) {
  switch (env->msg_case) {
  case FARJIT__ENVELOPE__MSG_HELLO: return "hello";
  case FARJIT__ENVELOPE__MSG_HELLO_ACK: return "hello_ack";
  case FARJIT__ENVELOPE__MSG_COMPILE_REQUEST: return "compile_request";
  case FARJIT__ENVELOPE__MSG_COMPILE_RESULT: return "compile_result";
  case FARJIT__ENVELOPE__MSG_CANCEL: return "cancel";
  case FARJIT__ENVELOPE__MSG_PING: return "ping";
  case FARJIT__ENVELOPE__MSG_PONG: return "pong";
  case FARJIT__ENVELOPE__MSG_ERROR: return "error";
  case FARJIT__ENVELOPE__MSG_STATS_QUERY: return "stats_query";
  case FARJIT__ENVELOPE__MSG_STATS_REPLY: return "stats_reply";
  default: return "unknown";
  }
}

uint8_t *fj_msg_error(int code, uint64_t id, const char *message, size_t *len) {
  Farjit__Error e = FARJIT__ERROR__INIT;
  e.code = code;
  e.id = id;
  e.message = (char *)message;
  fj_envelope env = FARJIT__ENVELOPE__INIT;
  env.msg_case = FARJIT__ENVELOPE__MSG_ERROR;
  env.error = &e;
  return fj_msg_pack(&env, len);
}
