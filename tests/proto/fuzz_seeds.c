/* Writes the seed corpus for fuzz_server.c (tests/proto/fuzz_corpus/).  Run by hand after
 * changing the protocol:  $(B)/tests/fuzz_seeds tests/proto/fuzz_corpus */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farjit/target.h"
#include "farjit/trace.h"
#include "proto/abi.h"
#include "proto/msg.h"

static const char *dir;

static void chunk(FILE *f, const fj_envelope *env) {
  size_t len;
  uint8_t *fr = fj_msg_pack(env, &len);
  size_t n = len - 12;
  fputc((int)(n & 0xff), f);
  fputc((int)(n >> 8), f);
  fwrite(fr + 12, 1, n, f);
  free(fr);
}

static FILE *open_seed(const char *name, int mode) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) exit(1);
  fputc(mode, f);
  return f;
}

int main(int argc, char **argv) {
  dir = argc > 1 ? argv[1] : "tests/proto/fuzz_corpus";
  fj_envelope env = FARJIT__ENVELOPE__INIT;
  /* A compile request with a valid 2-record trace, pipelined twice, plus cancel/ping/stats. */
  uint8_t trace[88];
  fj_trace_header h = {FJ_TRACE_MAGIC, FJ_TRACE_VERSION, FJ_TRACE_ENTRY, 0, 2,
                       FJ_TRACE_END_STOP, 0, 1, 0, 0, 2, 2, 0, 0};
  fj_trace_rec r[2];
  memset(r, 0, sizeof r);
  r[0].insn.code = 0xb7;
  r[0].insn.imm = 7;
  r[1].insn.code = 0x95;
  r[1].pc = 1;
  memcpy(trace, &h, 48);
  memcpy(trace + 48, r, 40);
  FILE *f = open_seed("session", 2);
  Farjit__CompileRequest q = FARJIT__COMPILE_REQUEST__INIT;
  Farjit__CompileOptions o = FARJIT__COMPILE_OPTIONS__INIT;
  q.id = 1;
  q.trace.data = trace;
  q.trace.len = sizeof trace;
  q.target = FJ_TARGET_X86_64;
  q.options = &o;
  env.msg_case = FARJIT__ENVELOPE__MSG_COMPILE_REQUEST;
  env.compile_request = &q;
  chunk(f, &env);
  q.id = 2;
  q.target = FJ_TARGET_THUMBV7EM;
  chunk(f, &env);
  Farjit__Cancel c = FARJIT__CANCEL__INIT;
  c.id = 2;
  env.msg_case = FARJIT__ENVELOPE__MSG_CANCEL;
  env.cancel = &c;
  chunk(f, &env);
  Farjit__Ping p = FARJIT__PING__INIT;
  p.nonce = 99;
  env.msg_case = FARJIT__ENVELOPE__MSG_PING;
  env.ping = &p;
  chunk(f, &env);
  Farjit__StatsQuery sq = FARJIT__STATS_QUERY__INIT;
  env.msg_case = FARJIT__ENVELOPE__MSG_STATS_QUERY;
  env.stats_query = &sq;
  chunk(f, &env);
  fclose(f);
  /* Hello by hand (fuzzable versions and hash). */
  f = open_seed("hello", 0);
  Farjit__Hello he = FARJIT__HELLO__INIT;
  he.version = FJ_PROTO_VERSION;
  he.min_version = FJ_PROTO_MIN_VERSION;
  he.client_id = "seed";
  he.target = FJ_TARGET_X86_64;
  he.triple = "x86_64";
  he.helper_abi_hash = fj_abi_hash();
  env.msg_case = FARJIT__ENVELOPE__MSG_HELLO;
  env.hello = &he;
  chunk(f, &env);
  env.msg_case = FARJIT__ENVELOPE__MSG_COMPILE_REQUEST;
  env.compile_request = &q;
  chunk(f, &env);
  fclose(f);
  /* Wrong version, a server-only message, an unknown type. */
  f = open_seed("version", 0);
  he.version = 9;
  he.min_version = 5;
  env.msg_case = FARJIT__ENVELOPE__MSG_HELLO;
  env.hello = &he;
  chunk(f, &env);
  fclose(f);
  f = open_seed("unknown", 2);
  fputc(2, f);
  fputc(0, f);
  fputc(0x7a, f);
  fputc(0x00, f);
  Farjit__Pong po = FARJIT__PONG__INIT;
  env.msg_case = FARJIT__ENVELOPE__MSG_PONG;
  env.pong = &po;
  chunk(f, &env);
  fclose(f);
  /* Raw bytes: an HTTP request and the start of a TLS ClientHello. */
  f = open_seed("http", 1);
  fputs("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", f);
  fclose(f);
  f = open_seed("tls", 1);
  const uint8_t ch[] = {0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03};
  fwrite(ch, 1, sizeof ch, f);
  fclose(f);
  f = open_seed("crc", 6);
  env.msg_case = FARJIT__ENVELOPE__MSG_PING;
  env.ping = &p;
  chunk(f, &env);
  fclose(f);
  return 0;
}
