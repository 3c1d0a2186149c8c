/* farjitd end to end: real server processes on loopback (free ports chosen by the kernel),
 * started and stopped by each test, which checks they exit cleanly and leak no descriptors.
 *
 * Compiles expect the compiler's answer when farjitd has one (HelloAck lists its targets) and
 * FJ_ENOTSUP otherwise, so the same tests hold before and after libfj_codegen links. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "farjit/blob.h"
#include "farjit/error.h"
#include "farjit/remote.h"
#include "farjit/target.h"
#include "farjit/trace.h"
#include "proto/abi.h"
#include "proto/frame.h"
#include "tests/server/harness.h"

static char certdir[64];
static int own_fds_at_start;

/* What a compile of a valid x86_64 trace must answer on server s. */
static int expected_status(const char *addr) {
  int fd = raw_connect(addr);
  int targets = raw_hello(fd);
  close(fd);
  assert_true(targets >= 0);
  return (targets & (1 << FJ_TARGET_X86_64)) ? 0 : FJ_ENOTSUP;
}

/* A connection to addr that has said Hello (the server's targets bits in *targets, if given). */
static int hello_fd(const char *addr, int *targets) {
  int fd = raw_connect(addr);
  int t = raw_hello(fd);
  assert_true(t >= 0);
  if (targets) *targets = t;
  return fd;
}

/* The next message on fd, which must come; of msg_case want unless want is 0 (any). */
static fj_envelope *recv_env(int fd, int want) {
  fj_envelope *e = raw_recv(fd);
  assert_non_null(e);
  if (want) assert_int_equal(e->msg_case, want);
  return e;
}

/* For tests that need x86-64 compiles: false, with s stopped and the test skipped, if s cannot
 * compile them. */
static bool x86_or_skip(srv *s) {
  if (expected_status(s->tcp) == 0) return true;
  assert_int_equal(srv_stop(s), 0);
  skip();
  return false;
}

static int compile_once(const fj_remote_opts *o, const uint8_t *t, size_t n, uint32_t target,
                        bool *hit, char *msg, size_t ml, uint8_t **blob_out) {
  uint8_t *blob = NULL;
  size_t size = 0;
  int rc = fj_remote_compile_once(o, t, n, target, 0, &blob, &size, hit, msg, ml);
  if (rc == 0) {
    assert_true(size >= sizeof(fj_blob_header));
    assert_memory_equal(blob, "FJBL", 4);
  }
  if (blob_out) *blob_out = blob; else free(blob);
  return rc;
}

static void test_plain_tcp_unix(void **st) {
  (void)st;
  srv s;
  char unix_listen[96], unix_addr[96];  /* per process: test runs may overlap */
  snprintf(unix_listen, sizeof unix_listen, "unix:/tmp/fj_test_d.%d.sock", (int)getpid());
  snprintf(unix_addr, sizeof unix_addr, "%s", unix_listen);
  const char *args[] = {"--listen", "tcp://127.0.0.1:0", "--listen", unix_listen,
                        "--http", "127.0.0.1:0", NULL};
  assert_int_equal(srv_start(&s, args), 0);
  int base = srv_nfds(&s);
  int want = expected_status(s.tcp);
  uint8_t t[128];
  size_t n = make_trace(t, 1);
  char msg[256];
  bool hit = true;
  fj_remote_opts o = {0};
  o.address = s.tcp;
  int rc = compile_once(&o, t, n, FJ_TARGET_X86_64, &hit, msg, sizeof msg, NULL);
  assert_int_equal(rc, want);
  assert_false(hit);
  if (want == FJ_ENOTSUP) assert_non_null(strstr(msg, "without the compiler"));
  /* A second server must not steal a live server's Unix socket. */
  srv s2;
  const char *args2[] = {"--listen", unix_listen, NULL};
  assert_int_not_equal(srv_start(&s2, args2), 0);
  o.address = unix_addr;
  rc = compile_once(&o, t, n, FJ_TARGET_X86_64, &hit, msg, sizeof msg, NULL);
  assert_int_equal(rc, want);
  if (want == 0) assert_true(hit);  /* same trace, same target: from the cache */
  /* Metrics saw both requests. */
  assert_int_equal(srv_metric(&s, "farjit_requests_total"), 2);
  if (want == 0) assert_int_equal(srv_metric(&s, "farjit_cache_hits_total"), 1);
  for (int i = 0; i < 500 && srv_nfds(&s) != base; i++) usleep(10000);  /* closes are async */
  assert_int_equal(srv_nfds(&s), base);
  assert_int_equal(srv_stop(&s), 0);
  assert_int_not_equal(access(unix_listen + 5, F_OK), 0);  /* socket removed on exit */
}

static void test_ipv6(void **st) {
  (void)st;
  srv s;
  const char *args[] = {"--listen", "tcp://[::1]:0", NULL};
  if (srv_start(&s, args) != 0) {
    skip();  /* no IPv6 loopback in this sandbox */
    return;
  }
  uint8_t t[128];
  size_t n = make_trace(t, 1);
  char msg[256];
  fj_remote_opts o = {0};
  o.address = s.tcp6;
  int rc = compile_once(&o, t, n, FJ_TARGET_X86_64, NULL, msg, sizeof msg, NULL);
  assert_true(rc == 0 || rc == FJ_ENOTSUP);
  assert_int_equal(srv_stop(&s), 0);
}

static void test_targets_and_traces(void **st) {
  (void)st;
  srv s;
  const char *args[] = {"--listen", "tcp://127.0.0.1:0", "--max_trace", "1000", NULL};
  assert_int_equal(srv_start(&s, args), 0);
  int targets;
  int fd = hello_fd(s.tcp, &targets);
  uint8_t t[2048];
  size_t n = make_trace(t, 5);
  struct {
    uint32_t target;
    size_t len;
    int mutate;  /* 0 none, 1 bad magic, 2 bad size */
    int status;
    const char *text;
  } cases[] = {
    {99, n, 0, FJ_ETARGET, "unsupported target: unknown target id 99"},
    {0, n, 0, FJ_ETARGET, "unsupported target"},
    {FJ_TARGET_X86_64, 1001, 0, FJ_EBADTRACE, "exceeds the server's max_trace 1000"},
    {FJ_TARGET_X86_64, 20, 0, FJ_EBADTRACE, "shorter than its 48-byte header"},
    {FJ_TARGET_X86_64, n, 1, FJ_EBADTRACE, "bad trace magic"},
    {FJ_TARGET_X86_64, n + 20, 2, FJ_EBADTRACE, "does not match its 2 records"},
  };
  for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t buf[2048];
    memcpy(buf, t, sizeof buf);
    if (cases[i].mutate == 1) buf[0] ^= 0xff;
    assert_int_equal(raw_compile(fd, 100 + i, buf, cases[i].len, cases[i].target), 0);
    fj_envelope *e = recv_env(fd, FARJIT__ENVELOPE__MSG_COMPILE_RESULT);
    assert_int_equal(e->compile_result->id, 100 + i);
    assert_int_equal(e->compile_result->status, cases[i].status);
    if (!strstr(e->compile_result->message, cases[i].text))
      fail_msg("case %u: '%s' lacks '%s'", i, e->compile_result->message, cases[i].text);
    fj_msg_free(e);
  }
  /* Thumb: "unsupported target" if this server cannot compile it. */
  if (!(targets & (1 << FJ_TARGET_THUMBV7EM))) {
    raw_compile(fd, 7, t, n, FJ_TARGET_THUMBV7EM);
    fj_envelope *e = recv_env(fd, 0);
    int want = targets ? FJ_ETARGET : FJ_ENOTSUP;
    assert_int_equal(e->compile_result->status, want);
    if (want == FJ_ETARGET) assert_non_null(strstr(e->compile_result->message, "unsupported target thumbv7em"));
    fj_msg_free(e);
  }
  /* An invalid trace the compiler must reject (a record's pc does not follow). */
  if (targets & (1 << FJ_TARGET_X86_64)) {
    fj_trace_rec *r = (fj_trace_rec *)(t + sizeof(fj_trace_header));
    r[1].pc = 7;
    raw_compile(fd, 8, t, n, FJ_TARGET_X86_64);
    fj_envelope *e = recv_env(fd, 0);
    assert_int_equal(e->compile_result->status, FJ_EBADTRACE);
    fj_msg_free(e);
  }
  /* The connection survived all of it. */
  Farjit__Ping p = FARJIT__PING__INIT;
  p.nonce = 42;
  fj_envelope env = FARJIT__ENVELOPE__INIT;
  env.msg_case = FARJIT__ENVELOPE__MSG_PING;
  env.ping = &p;
  raw_send_env(fd, &env);
  fj_envelope *e = recv_env(fd, FARJIT__ENVELOPE__MSG_PONG);
  assert_int_equal(e->pong->nonce, 42);
  fj_msg_free(e);
  close(fd);
  assert_int_equal(srv_stop(&s), 0);
}

typedef struct state_rec {
  int status;
  char msg[256];
  int calls;
} state_rec;

static void rec_state(fj_remote *r, int status, const char *msg, void *ud) {
  state_rec *s = ud;
  s->status = status;
  s->calls++;
  snprintf(s->msg, sizeof s->msg, "%s", msg);
  fj_remote_close(r);
}

static void no_result(fj_remote *r, const fj_remote_result *res, void *ud) {
  (void)r;
  (void)res;
  (void)ud;
  fail_msg("no request was submitted");
}

static state_rec handshake(const fj_remote_opts *o) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  state_rec s = {99, "", 0};
  char err[256];
  fj_remote *r = fj_remote_connect(&loop, o, rec_state, no_result, &s, err, sizeof err);
  if (!r) {
    s.status = FJ_ECONFIG;
    snprintf(s.msg, sizeof s.msg, "%s", err);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);  /* the client leaves no handle behind */
  return s;
}

static void test_version_mismatch(void **st) {
  (void)st;
  srv s;
  const char *args[] = {"--listen", "tcp://127.0.0.1:0", NULL};
  assert_int_equal(srv_start(&s, args), 0);
  fj_remote_opts o = {0};
  o.address = s.tcp;
  state_rec r = handshake(&o);
  assert_int_equal(r.status, 0);
  o.proto_version = 2;
  o.proto_min_version = 2;
  r = handshake(&o);
  assert_int_equal(r.status, FJ_EVERSION);
  assert_int_equal(r.calls, 1);
  assert_non_null(strstr(r.msg, "client speaks 2..2, server speaks 1..1"));
  o.proto_version = 0;
  o.proto_min_version = 0;
  o.abi_hash = fj_abi_hash() ^ 1;
  r = handshake(&o);
  assert_int_equal(r.status, FJ_EVERSION);
  assert_non_null(strstr(r.msg, "helper ABI mismatch"));
  assert_true(srv_log_wait(&s, "code=FJ_EVERSION"));
  assert_int_equal(srv_stop(&s), 0);
}

static void expect_error_then_eof(int fd, int code, const char *text) {
  fj_envelope *e = recv_env(fd, FARJIT__ENVELOPE__MSG_ERROR);
  assert_int_equal(e->error->code, code);
  if (text && !strstr(e->error->message, text))
    fail_msg("error '%s' lacks '%s'", e->error->message, text);
  fj_msg_free(e);
  assert_true(raw_wait_eof(fd));
  close(fd);
}

static void test_bad_input(void **st) {
  (void)st;
  srv s;
  const char *args[] = {"--listen", "tcp://127.0.0.1:0", "--http", "127.0.0.1:0",
                        "--max_frame", "65536", NULL};
  assert_int_equal(srv_start(&s, args), 0);
  int base = srv_nfds(&s);
  /* An innocent client connected through all of it. */
  int good = hello_fd(s.tcp, NULL);

  int fd = raw_connect(s.tcp);  /* HTTP to the protocol port */
  raw_send(fd, "GET / HTTP/1.1\r\n\r\n", 18);
  expect_error_then_eof(fd, FJ_EPROTO, "bad frame magic");

  fd = raw_connect(s.tcp);  /* corrupt CRC */
  uint8_t f[64];
  fj_frame_header(f, "xxxx", 4);
  memcpy(f + FJ_FRAME_HDR, "xxxy", 4);
  raw_send(fd, f, FJ_FRAME_HDR + 4);
  expect_error_then_eof(fd, FJ_EPROTO, "CRC");

  fd = hello_fd(s.tcp, NULL);  /* frame over the limit */
  uint8_t big[FJ_FRAME_HDR] = {'F', 'J', 'W', 'F', 0, 0, 0x10, 0, 0, 0, 0, 0};
  raw_send(fd, big, sizeof big);
  expect_error_then_eof(fd, FJ_ERANGE, "limit 65536");
  fd = raw_connect(s.tcp);  /* before Hello, frames are small: no big buffers for strangers */
  big[6] = 0;
  big[5] = 0x20;  /* 8 KiB */
  raw_send(fd, big, sizeof big);
  expect_error_then_eof(fd, FJ_ERANGE, "limit 4096");

  fd = raw_connect(s.tcp);  /* valid frame, not protobuf */
  const uint8_t junk[] = {0x1a, 0x50, 0x01};
  fj_frame_header(f, junk, sizeof junk);
  memcpy(f + FJ_FRAME_HDR, junk, sizeof junk);
  raw_send(fd, f, FJ_FRAME_HDR + sizeof junk);
  expect_error_then_eof(fd, FJ_EPROTO, "valid Envelope");

  fd = raw_connect(s.tcp);  /* compile before Hello */
  uint8_t t[128];
  size_t n = make_trace(t, 3);
  raw_compile(fd, 1, t, n, FJ_TARGET_X86_64);
  expect_error_then_eof(fd, FJ_EPROTO, "expected Hello, got compile_request");

  fd = hello_fd(s.tcp, NULL);  /* a server-only message from a client */
  Farjit__Pong pong = FARJIT__PONG__INIT;
  fj_envelope env = FARJIT__ENVELOPE__INIT;
  env.msg_case = FARJIT__ENVELOPE__MSG_PONG;
  env.pong = &pong;
  raw_send_env(fd, &env);
  expect_error_then_eof(fd, FJ_EPROTO, "unexpected pong");

  fd = hello_fd(s.tcp, NULL);  /* unknown message type: FJ_ENOTSUP, connection stays */
  const uint8_t newer[] = {0x7a, 0x00};
  fj_frame_header(f, newer, sizeof newer);
  memcpy(f + FJ_FRAME_HDR, newer, sizeof newer);
  raw_send(fd, f, FJ_FRAME_HDR + sizeof newer);
  fj_envelope *e = recv_env(fd, 0);
  assert_int_equal(e->error->code, FJ_ENOTSUP);
  fj_msg_free(e);
  Farjit__Cancel cancel = FARJIT__CANCEL__INIT;  /* cancel of an unknown id: harmless */
  cancel.id = 12345;
  env.msg_case = FARJIT__ENVELOPE__MSG_CANCEL;
  env.cancel = &cancel;
  raw_send_env(fd, &env);
  Farjit__StatsQuery sq = FARJIT__STATS_QUERY__INIT;
  env.msg_case = FARJIT__ENVELOPE__MSG_STATS_QUERY;
  env.stats_query = &sq;
  raw_send_env(fd, &env);
  e = recv_env(fd, FARJIT__ENVELOPE__MSG_STATS_REPLY);
  assert_true(e->stats_reply->connections >= 2);
  fj_msg_free(e);
  close(fd);

  fd = hello_fd(s.tcp, NULL);  /* disconnect mid-request */
  raw_compile(fd, 9, t, n, FJ_TARGET_X86_64);
  close(fd);
  fd = raw_connect(s.tcp);  /* disconnect mid-frame */
  fj_frame_header(f, "abcdefgh", 8);
  raw_send(fd, f, FJ_FRAME_HDR + 2);
  close(fd);

  fd = hello_fd(s.tcp, NULL);  /* half-close after the request: still answered, then closed */
  raw_compile(fd, 10, t, n, FJ_TARGET_X86_64);
  shutdown(fd, SHUT_WR);
  e = recv_env(fd, FARJIT__ENVELOPE__MSG_COMPILE_RESULT);
  assert_int_equal(e->compile_result->id, 10);
  fj_msg_free(e);
  assert_true(raw_wait_eof(fd));
  close(fd);

  /* The innocent client is unaffected. */
  assert_int_equal(raw_compile(good, 77, t, n, FJ_TARGET_X86_64), 0);
  e = recv_env(good, 0);
  assert_int_equal(e->compile_result->id, 77);
  fj_msg_free(e);
  close(good);
  /* the server sees our closes asynchronously: wait (bounded) until it has let go of all */
  for (int i = 0; i < 500 && (srv_metric(&s, "farjit_connections") || srv_nfds(&s) != base); i++)
    usleep(10000);
  assert_true(srv_metric(&s, "farjit_protocol_errors_total") >= 6);
  assert_true(srv_metric(&s, "farjit_errors_total{code=\"FJ_EPROTO\"}") >= 5);
  assert_int_equal(srv_metric(&s, "farjit_errors_total{code=\"FJ_ERANGE\"}"), 2);
  assert_int_equal(srv_metric(&s, "farjit_connections"), 0);
  assert_int_equal(srv_nfds(&s), base);
  assert_true(srv_log_wait(&s, "event=client_error"));
  assert_int_equal(srv_stop(&s), 0);
}

static void test_slowloris_and_limits(void **st) {
  (void)st;
  srv s;
  const char *args[] = {"--listen", "tcp://127.0.0.1:0", "--handshake_timeout_ms", "400",
                        "--frame_timeout_ms", "300", "--max_connections", "3", NULL};
  assert_int_equal(srv_start(&s, args), 0);
  int silent = raw_connect(s.tcp);           /* never says Hello */
  int slow = hello_fd(s.tcp, NULL);          /* Hello, then a frame that never completes */
  uint8_t f[64];
  fj_frame_header(f, "abcdefgh", 8);
  raw_send(slow, f, FJ_FRAME_HDR + 3);
  int ok = hello_fd(s.tcp, NULL);
  int extra = raw_connect(s.tcp);            /* the fourth: refused */
  expect_error_then_eof(extra, FJ_EBUSY, "max_connections (3)");
  expect_error_then_eof(silent, FJ_ETIMEDOUT, "handshake not completed within 400 ms");
  expect_error_then_eof(slow, FJ_ETIMEDOUT, "frame incomplete after 300 ms");
  /* The well-behaved client still works after the others were cut off. */
  uint8_t t[128];
  size_t n = make_trace(t, 4);
  raw_compile(ok, 5, t, n, FJ_TARGET_X86_64);
  fj_envelope *e = recv_env(ok, 0);
  assert_int_equal(e->compile_result->id, 5);
  fj_msg_free(e);
  close(ok);
  assert_true(srv_log_wait(&s, "msg=\"frame incomplete after 300 ms\""));
  assert_int_equal(srv_stop(&s), 0);
}

static void test_per_client_limit(void **st) {
  (void)st;
  srv s;
  const char *args[] = {"--listen", "tcp://127.0.0.1:0", "--max_connections_per_client", "2",
                        NULL};
  assert_int_equal(srv_start(&s, args), 0);
  int a = raw_connect(s.tcp), b = raw_connect(s.tcp);
  assert_true(raw_hello(a) >= 0);
  assert_true(raw_hello(b) >= 0);
  int c = raw_connect(s.tcp);
  expect_error_then_eof(c, FJ_EBUSY, "too many connections from 127.0.0.1 "
                                     "(max_connections_per_client 2)");
  close(a);  /* a slot frees when a connection ends */
  int d = -1;
  for (int i = 0; i < 250; i++) {  /* the server sees the close asynchronously */
    d = raw_connect(s.tcp);
    if (raw_hello(d) >= 0) break;
    close(d);
    d = -1;
    usleep(20000);
  }
  assert_true(d >= 0);
  close(b);
  close(d);
  assert_int_equal(srv_stop(&s), 0);
}

static void test_http(void **st) {
  (void)st;
  srv s;
  const char *args[] = {"--listen", "tcp://127.0.0.1:0", "--http", "127.0.0.1:0", NULL};
  assert_int_equal(srv_start(&s, args), 0);
  char body[65536];
  assert_int_equal(http_get(s.http, "/healthz", body, sizeof body), 200);
  assert_string_equal(body, "ok\n");
  int ready = http_get(s.http, "/readyz", body, sizeof body);
  assert_int_equal(ready, expected_status(s.tcp) == 0 ? 200 : 503);
  assert_int_equal(http_get(s.http, "/metrics", body, sizeof body), 200);
  assert_non_null(strstr(body, "# TYPE farjit_compile_seconds histogram"));
  assert_non_null(strstr(body, "farjit_compile_seconds_bucket{le=\"+Inf\"}"));
  assert_non_null(strstr(body, "farjit_connections_total 1"));
  assert_int_equal(http_get(s.http, "/nope", body, sizeof body), 404);
  int fd = raw_connect(s.http);  /* garbage to the HTTP port */
  raw_send(fd, "\x16\x03\x01\r\n\r\n", 7);
  assert_true(raw_wait_eof(fd));
  close(fd);
  assert_int_equal(srv_stop(&s), 0);
}

static char *cpath(const char *name) {
  static char buf[8][128];
  static int i;
  char *p = buf[i++ % 8];
  snprintf(p, 128, "%s/%s", certdir, name);
  return p;
}

static int tls_compile(const fj_remote_opts *o, char *msg, size_t ml) {
  uint8_t t[128];
  size_t n = make_trace(t, 6);
  return compile_once(o, t, n, FJ_TARGET_X86_64, NULL, msg, ml, NULL);
}

static void test_tls(void **st) {
  (void)st;
  srv s;
  const char *args[] = {"--listen", "tls://127.0.0.1:0", "--http", "127.0.0.1:0",
                        "--tls_cert", cpath("server.pem"), "--tls_key", cpath("server.key"), NULL};
  assert_int_equal(srv_start(&s, args), 0);
  char msg[256];
  fj_remote_opts o = {0};
  o.address = s.tls;
  o.tls_ca = cpath("ca.pem");
  int rc = tls_compile(&o, msg, sizeof msg);
  assert_true(rc == 0 || rc == FJ_ENOTSUP);
  o.address = "localhost";  /* name checked against the certificate */
  char addr[96];
  snprintf(addr, sizeof addr, "localhost:%s", strrchr(s.tls, ':') + 1);
  o.address = addr;
  rc = tls_compile(&o, msg, sizeof msg);
  assert_true(rc == 0 || rc == FJ_ENOTSUP);
  o.server_name = "not-this-server";
  rc = tls_compile(&o, msg, sizeof msg);
  assert_int_equal(rc, FJ_ETLS);
  o.server_name = NULL;
  o.tls_ca = cpath("other.pem");  /* wrong CA */
  rc = tls_compile(&o, msg, sizeof msg);
  assert_int_equal(rc, FJ_ETLS);
  if (!strstr(msg, "verification failed")) fail_msg("message: %s", msg);
  /* Plaintext protocol and garbage to the TLS port. */
  int fd = raw_connect(s.tls);
  raw_hello(fd);
  assert_true(raw_wait_eof(fd));
  close(fd);
  fd = raw_connect(s.tls);
  raw_send(fd, "garbage garbage garbage\n", 24);
  assert_true(raw_wait_eof(fd));
  close(fd);
  o.tls_ca = cpath("ca.pem");
  o.address = s.tls;
  rc = tls_compile(&o, msg, sizeof msg);
  assert_true(rc == 0 || rc == FJ_ENOTSUP);
  for (int i = 0; i < 250 && srv_metric(&s, "farjit_tls_failures_total") < 3; i++) usleep(20000);
  assert_true(srv_metric(&s, "farjit_tls_failures_total") >= 3);
  assert_int_equal(srv_stop(&s), 0);
}

static void test_mutual_tls(void **st) {
  (void)st;
  srv s;
  const char *args[] = {"--listen", "tls://127.0.0.1:0", "--tls_cert", cpath("server.pem"),
                        "--tls_key", cpath("server.key"), "--tls_client_ca", cpath("ca.pem"),
                        "--log_level", "debug", NULL};
  assert_int_equal(srv_start(&s, args), 0);
  char msg[256];
  fj_remote_opts o = {0};
  o.address = s.tls;
  o.tls_ca = cpath("ca.pem");
  int rc = tls_compile(&o, msg, sizeof msg);  /* no client certificate */
  assert_int_equal(rc, FJ_ETLS);
  if (!strstr(msg, "client certificate")) fail_msg("message: %s", msg);
  o.tls_cert = cpath("rogue.pem");            /* certificate from another CA */
  o.tls_key = cpath("rogue.key");
  rc = tls_compile(&o, msg, sizeof msg);
  assert_int_equal(rc, FJ_ETLS);
  if (!strstr(msg, "unknown_ca")) fail_msg("message: %s", msg);
  assert_true(srv_log_wait(&s, "No client certification received"));
  o.tls_cert = cpath("client.pem");
  o.tls_key = cpath("client.key");
  rc = tls_compile(&o, msg, sizeof msg);
  assert_true(rc == 0 || rc == FJ_ENOTSUP);
  assert_true(srv_log_wait(&s, "client=farjit/cn=client-1"));
  /* Per-client accounting in the connection's last log line. */
  assert_true(srv_log_wait(&s, "client=farjit/cn=client-1 reason=\"peer finished\" inflight=0 "
                               "requests=1"));
  assert_int_equal(srv_stop(&s), 0);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_psk_and_reload(void **st) {
  (void)st;
  write_file(cpath("psk.txt"), "# identity key\ndevice-7 00112233445566778899aabbccddeeff\n");
  write_file(cpath("farjitd.conf"), "listen = tls://127.0.0.1:0\n"
                                    "tls_psk_file = PSKFILE\n");
  char conf[512];
  snprintf(conf, sizeof conf, "listen = tls://127.0.0.1:0\ntls_psk_file = %s\n", cpath("psk.txt"));
  write_file(cpath("farjitd.conf"), conf);
  srv s;
  const char *args[] = {"--config", cpath("farjitd.conf"), NULL};
  assert_int_equal(srv_start(&s, args), 0);
  uint8_t key[16], wrong[16];
  for (int i = 0; i < 16; i++) key[i] = (uint8_t)(i * 0x11), wrong[i] = (uint8_t)i;
  char msg[256];
  fj_remote_opts o = {0};
  o.address = s.tls;
  o.psk_identity = "device-7";
  o.psk = key;
  o.psk_len = 16;
  int rc = tls_compile(&o, msg, sizeof msg);
  assert_true(rc == 0 || rc == FJ_ENOTSUP);
  o.psk = wrong;
  rc = tls_compile(&o, msg, sizeof msg);
  assert_int_equal(rc, FJ_ETLS);
  if (!strstr(msg, "wrong PSK key?")) fail_msg("message: %s", msg);
  assert_true(srv_log_wait(&s, "wrong key for PSK identity 'device-7'"));
  o.psk = key;
  o.psk_identity = "device-8";
  rc = tls_compile(&o, msg, sizeof msg);
  assert_int_equal(rc, FJ_ETLS);
  if (!strstr(msg, "unknown_psk_identity")) fail_msg("message: %s", msg);
  assert_true(srv_log_wait(&s, "unknown PSK identity 'device-8'"));
  /* SIGHUP: new keys take effect for new connections. */
  write_file(cpath("psk.txt"), "device-8 000102030405060708090a0b0c0d0e0f\n");
  assert_int_equal(srv_signal(&s, SIGHUP), 0);
  for (int i = 0; i < 500 && !srv_log_has(&s, "event=reloaded"); i++) usleep(10000);
  assert_true(srv_log_has(&s, "event=reloaded"));
  o.psk = wrong;
  rc = tls_compile(&o, msg, sizeof msg);
  assert_true(rc == 0 || rc == FJ_ENOTSUP);
  o.psk_identity = "device-7";
  o.psk = key;
  rc = tls_compile(&o, msg, sizeof msg);
  assert_true(rc == FJ_ETLS || rc == FJ_ECONN);
  /* A broken config on reload keeps the old one. */
  write_file(cpath("farjitd.conf"), "bogus_setting = 1\n");
  srv_signal(&s, SIGHUP);
  for (int i = 0; i < 500 && !srv_log_has(&s, "event=reload_failed"); i++) usleep(10000);
  assert_true(srv_log_has(&s, "unknown setting 'bogus_setting'"));
  o.psk_identity = "device-8";
  o.psk = wrong;
  rc = tls_compile(&o, msg, sizeof msg);
  assert_true(rc == 0 || rc == FJ_ENOTSUP);
  assert_int_equal(srv_stop(&s), 0);
}

/* ---- 200 clients pipelining ----------------------------------------------------------- */

#define NCLIENTS 200
#define NPIPE 8

typedef struct swarm {
  int want;
  int connected, failed, results, wrong, closed;
  uint8_t seen[NCLIENTS][NPIPE];
  fj_remote *r[NCLIENTS];
} swarm;

typedef struct swarm_ud {
  swarm *sw;
  int idx;
  int next;  /* next request number to submit */
} swarm_ud;

/* Keep the pipeline full: as many requests outstanding as the server allows. */
static void sw_fill(fj_remote *r, swarm_ud *u) {
  uint8_t t[128];
  while (u->next < NPIPE && fj_remote_inflight(r) < fj_remote_server(r)->max_inflight) {
    int k = u->next++;
    size_t n = make_trace(t, u->idx * 16 + k % 4);  /* some repeats: cache hits */
    int rc = fj_remote_submit(r, (uint64_t)u->idx * 1000 + (uint64_t)k, t, n, FJ_TARGET_X86_64, 0);
    if (rc) fail_msg("submit %d/%d: %s", u->idx, k, fj_strerror(rc));
  }
}

static swarm_ud uds[NCLIENTS];

static void sw_state(fj_remote *r, int status, const char *msg, void *ud) {
  swarm_ud *u = ud;
  if (status != 0) {
    fprintf(stderr, "client %d: %s\n", u->idx, msg);
    u->sw->failed++;
    fj_remote_close(r);
    return;
  }
  u->sw->connected++;
  sw_fill(r, u);
  assert_int_equal(fj_remote_inflight(r), 4);  /* the server's max_inflight */
  /* One more is refused locally: the client never exceeds what the server accepts. */
  uint8_t t[128];
  assert_int_equal(fj_remote_submit(r, 999999, t, make_trace(t, 0), FJ_TARGET_X86_64, 0), FJ_EBUSY);
}

static void sw_result(fj_remote *r, const fj_remote_result *res, void *ud) {
  swarm_ud *u = ud;
  swarm *sw = u->sw;
  uint64_t idx = res->id / 1000, k = res->id % 1000;
  if (idx != (uint64_t)u->idx || k >= NPIPE || sw->seen[idx][k] || res->status != sw->want) {
    sw->wrong++;
  } else {
    sw->seen[idx][k] = 1;
  }
  sw->results++;
  sw_fill(r, u);
  if (fj_remote_inflight(r) == 0) {
    sw->closed++;
    fj_remote_close(r);
  }
}

static void test_concurrency(void **st) {
  (void)st;
  srv s;
  const char *args[] = {"--listen", "tcp://127.0.0.1:0", "--max_inflight", "4", "--threads", "2",
                        "--http", "127.0.0.1:0", "--max_connections_per_client", "0", NULL};
  assert_int_equal(srv_start(&s, args), 0);
  int want = expected_status(s.tcp);
  usleep(50000);
  int base_fds = srv_nfds(&s);
  long base_rss = srv_rss_kb(&s);
  for (int round = 0; round < 2; round++) {
    static swarm sw;
    memset(&sw, 0, sizeof sw);
    sw.want = want;
    uv_loop_t loop;
    uv_loop_init(&loop);
    fj_remote_opts o = {0};
    o.address = s.tcp;
    o.client_id = "swarm";
    for (int i = 0; i < NCLIENTS; i++) {
      uds[i].sw = &sw;
      uds[i].idx = i;
      uds[i].next = 0;
      char err[128];
      sw.r[i] = fj_remote_connect(&loop, &o, sw_state, sw_result, &uds[i], err, sizeof err);
      assert_non_null(sw.r[i]);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    fprintf(stderr, "round %d: connected %d failed %d results %d wrong %d closed %d\n", round,
            sw.connected, sw.failed, sw.results, sw.wrong, sw.closed);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(sw.failed, 0);
    assert_int_equal(sw.connected, NCLIENTS);
    assert_int_equal(sw.results, NCLIENTS * NPIPE);
    assert_int_equal(sw.wrong, 0);
    assert_int_equal(sw.closed, NCLIENTS);
  }
  /* Accounting adds up: every request is a hit, a compile, or shares an identical compile. */
  long long req = srv_metric(&s, "farjit_requests_total");
  assert_int_equal(req, 2 * NCLIENTS * NPIPE);
  if (want == 0) {
    long long hits = srv_metric(&s, "farjit_cache_hits_total");
    long long miss = srv_metric(&s, "farjit_cache_misses_total");
    long long comp = srv_metric(&s, "farjit_compiles_total{result=\"ok\"}");
    long long shared = srv_metric(&s, "farjit_compiles_shared_total");
    assert_int_equal(hits + miss, req);
    assert_int_equal(comp + shared, miss);
    assert_int_equal(comp, NCLIENTS * 4);  /* distinct traces: each compiled exactly once */
  }
  /* Server back to its baseline: every connection closed, memory not growing per request. */
  int fds = -1;
  for (int i = 0; i < 250 && (fds = srv_nfds(&s)) != base_fds; i++) usleep(20000);
  assert_int_equal(fds, base_fds);
  long rss = srv_rss_kb(&s);
  if (rss - base_rss > 32 * 1024) fail_msg("server RSS grew from %ld to %ld kB", base_rss, rss);
  assert_int_equal(srv_stop(&s), 0);
}

/* Needs the compiler: requests that occupy workers. */
static void test_backpressure_cancel(void **st) {
  (void)st;
  srv s;
  const char *args[] = {"--listen", "tcp://127.0.0.1:0", "--max_inflight", "2", "--threads", "1",
                        "--http", "127.0.0.1:0", NULL};
  assert_int_equal(srv_start(&s, args), 0);
  if (!x86_or_skip(&s)) return;
  int fd = hello_fd(s.tcp, NULL);
  /* 40 requests in one burst, 2 allowed in flight: the server stops reading and resumes. */
  uint8_t t[128];
  enum { N = 40 };
  for (int i = 0; i < N; i++) {
    size_t n = make_trace(t, 1000 + i);
    assert_int_equal(raw_compile(fd, (uint64_t)i, t, n, FJ_TARGET_X86_64), 0);
    if (i % 2 == 1) {  /* cancel every other one right away */
      Farjit__Cancel c = FARJIT__CANCEL__INIT;
      c.id = (uint64_t)i;
      fj_envelope env = FARJIT__ENVELOPE__INIT;
      env.msg_case = FARJIT__ENVELOPE__MSG_CANCEL;
      env.cancel = &c;
      raw_send_env(fd, &env);
    }
  }
  int seen[N] = {0}, ok = 0, canceled = 0;
  for (int i = 0; i < N; i++) {
    fj_envelope *e = recv_env(fd, FARJIT__ENVELOPE__MSG_COMPILE_RESULT);
    Farjit__CompileResult *r = e->compile_result;
    assert_true(r->id < N);
    assert_int_equal(seen[r->id]++, 0);  /* exactly one result per request */
    if (r->status == 0) {
      ok++;
      assert_true(r->blob.len > sizeof(fj_blob_header));
    } else {
      assert_int_equal(r->status, FJ_ECANCELED);
      assert_true(r->id % 2 == 1);  /* only canceled ones */
      canceled++;
    }
    fj_msg_free(e);
  }
  assert_int_equal(ok + canceled, N);
  assert_true(ok >= N / 2);
  assert_int_equal(srv_metric(&s, "farjit_cancels_total"), canceled);
  close(fd);
  assert_int_equal(srv_stop(&s), 0);
}

/* A long valid trace: n-1 times `add r0, imm`, then exit. */
static size_t make_long_trace(uint8_t *buf, uint32_t n, int32_t imm) {
  fj_trace_header h;
  memset(&h, 0, sizeof h);
  h.magic = FJ_TRACE_MAGIC;
  h.version = FJ_TRACE_VERSION;
  h.kind = FJ_TRACE_ENTRY;
  h.nrecs = n;
  h.end = FJ_TRACE_END_STOP;
  h.end_pc = n - 1;
  h.prog_ninsns = n;
  h.nregions = 2;
  memcpy(buf, &h, sizeof h);
  fj_trace_rec *r = (fj_trace_rec *)(buf + sizeof h);
  memset(r, 0, n * sizeof *r);
  for (uint32_t i = 0; i < n; i++) {
    r[i].pc = i;
    r[i].insn.code = i + 1 < n ? 0x07 : 0x95;  /* add r0, imm / exit */
    r[i].insn.imm = i + 1 < n ? imm : 0;
  }
  return fj_trace_size(n);
}

/* Compiles that outlive compile_budget_ms are answered FJ_ETIMEDOUT.  Whether a given compile
 * is late depends on the machine, so the test checks the invariants, not the timing: one result
 * per request, 0 or FJ_ETIMEDOUT, each timeout counted, the server still responsive. */
static void test_compile_budget(void **st) {
  (void)st;
  srv s;
  const char *args[] = {"--listen", "tcp://127.0.0.1:0", "--threads", "1", "--max_inflight", "8",
                        "--compile_budget_ms", "20", "--http", "127.0.0.1:0", NULL};
  assert_int_equal(srv_start(&s, args), 0);
  if (!x86_or_skip(&s)) return;
  int fd = hello_fd(s.tcp, NULL);
  size_t cap = fj_trace_size(FJ_TRACE_MAX_RECS);
  uint8_t *t = malloc(cap);
  enum { N = 8 };
  for (int i = 0; i < N; i++) {
    size_t n = make_long_trace(t, FJ_TRACE_MAX_RECS, 1 + i);
    assert_int_equal(raw_compile(fd, (uint64_t)i, t, n, FJ_TARGET_X86_64), 0);
  }
  free(t);
  int seen[N] = {0}, timeouts = 0;
  for (int i = 0; i < N; i++) {
    fj_envelope *e = recv_env(fd, 0);
    Farjit__CompileResult *r = e->compile_result;
    assert_true(r->id < N);
    assert_int_equal(seen[r->id]++, 0);
    if (r->status == FJ_ETIMEDOUT) {
      timeouts++;
      assert_non_null(strstr(r->message, "compile budget of 20 ms exceeded"));
    } else {
      assert_int_equal(r->status, 0);
    }
    fj_msg_free(e);
  }
  assert_int_equal(srv_metric(&s, "farjit_timeouts_total"), timeouts);
  fprintf(stderr, "compile budget: %d of %d timed out\n", timeouts, N);
  close(fd);
  assert_int_equal(srv_stop(&s), 0);  /* abandoned compiles finished before exit */
}

static void test_disk_cache(void **st) {
  (void)st;
  char dir[100];
  snprintf(dir, sizeof dir, "%s/cache", certdir);
  char cmd[200];
  snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
  assert_int_equal(system(cmd), 0);
  srv s;
  const char *args[] = {"--listen", "tcp://127.0.0.1:0", "--http", "127.0.0.1:0",
                        "--cache_dir", dir, "--cache_mem_bytes", "0", NULL};
  assert_int_equal(srv_start(&s, args), 0);
  if (!x86_or_skip(&s)) return;
  uint8_t t[128];
  size_t n = make_trace(t, 31337);
  char msg[256];
  fj_remote_opts o = {0};
  o.address = s.tcp;
  uint8_t *b1 = NULL, *b2 = NULL;
  assert_int_equal(compile_once(&o, t, n, FJ_TARGET_X86_64, NULL, msg, sizeof msg, &b1), 0);
  assert_int_equal(srv_metric(&s, "farjit_cache_disk_hits_total"), 0);
  assert_int_equal(srv_stop(&s), 0);
  /* A new process finds it on disk, verified, byte for byte the same. */
  assert_int_equal(srv_start(&s, args), 0);
  o.address = s.tcp;
  assert_int_equal(compile_once(&o, t, n, FJ_TARGET_X86_64, NULL, msg, sizeof msg, &b2), 0);
  assert_int_equal(srv_metric(&s, "farjit_cache_disk_hits_total"), 1);
  const fj_blob_header *h = (const fj_blob_header *)b1;
  assert_memory_equal(b1, b2, h->size);
  free(b1);
  free(b2);
  /* Corrupt every stored file: the server recompiles instead of serving it. */
  char cmd2[400];
  snprintf(cmd2, sizeof cmd2, "for f in %s/*.blob; do printf X | dd of=$f bs=1 seek=150 conv=notrunc 2>/dev/null; done", dir);
  assert_int_equal(system(cmd2), 0);
  assert_int_equal(compile_once(&o, t, n, FJ_TARGET_X86_64, NULL, msg, sizeof msg, NULL), 0);
  assert_int_equal(srv_metric(&s, "farjit_cache_disk_hits_total"), 1);
  assert_int_equal(srv_metric(&s, "farjit_compiles_total{result=\"ok\"}"), 1);
  assert_int_equal(srv_stop(&s), 0);
}

/* ---- keepalive: pings keep an idle connection open; a silent server is detected ---------- */

typedef struct ka {
  int status, calls, results;
  char msg[256];
  uv_timer_t timer;
  fj_remote *r;
  int step;
} ka;

static void ka_state(fj_remote *r, int status, const char *msg, void *ud) {
  ka *k = ud;
  k->calls++;
  k->status = status;
  snprintf(k->msg, sizeof k->msg, "%s", msg);
  if (status) {
    fj_remote_close(r);
    k->r = NULL;
    uv_timer_stop(&k->timer);
    uv_close((uv_handle_t *)&k->timer, NULL);
  }
}

static void ka_result(fj_remote *r, const fj_remote_result *res, void *ud) {
  ka *k = ud;
  (void)res;
  k->results++;
  fj_remote_close(r);
  k->r = NULL;
  uv_close((uv_handle_t *)&k->timer, NULL);
}

/* After 1 s idle (3x the server's idle timeout), submit one compile. */
static void ka_later(uv_timer_t *t) {
  ka *k = t->data;
  uint8_t tr[128];
  size_t n = make_trace(tr, 12);
  assert_non_null(k->r);
  assert_int_equal(fj_remote_submit(k->r, 1, tr, n, FJ_TARGET_X86_64, 0), 0);
}

static ka run_keepalive(const char *addr, uint32_t ping_ms, srv *stop_me) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  ka k;
  memset(&k, 0, sizeof k);
  fj_remote_opts o = {0};
  o.address = addr;
  o.ping_interval_ms = ping_ms;
  char err[128];
  k.r = fj_remote_connect(&loop, &o, ka_state, ka_result, &k, err, sizeof err);
  assert_non_null(k.r);
  uv_timer_init(&loop, &k.timer);
  k.timer.data = &k;
  uv_timer_start(&k.timer, ka_later, 1000, 0);
  if (stop_me) {
    while (k.calls == 0) uv_run(&loop, UV_RUN_ONCE);  /* connected first */
    srv_signal(stop_me, SIGSTOP);  /* then the server hangs: pings go unanswered */
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  if (stop_me) srv_signal(stop_me, SIGCONT);
  return k;
}

static void test_keepalive(void **st) {
  (void)st;
  srv s;
  const char *args[] = {"--listen", "tcp://127.0.0.1:0", "--idle_timeout_ms", "300", NULL};
  assert_int_equal(srv_start(&s, args), 0);
  ka k = run_keepalive(s.tcp, 100, NULL);  /* pings: still connected after 1 s */
  assert_int_equal(k.calls, 1);
  assert_int_equal(k.status, 0);
  assert_int_equal(k.results, 1);
  k = run_keepalive(s.tcp, 0, NULL);  /* no pings: the server closes the idle connection */
  assert_int_equal(k.status, FJ_ECONN);
  assert_int_equal(k.results, 0);
  k = run_keepalive(s.tcp, 100, &s);  /* a hung server is noticed */
  assert_int_equal(k.status, FJ_ETIMEDOUT);
  if (!strstr(k.msg, "server silent")) fail_msg("message: %s", k.msg);
  assert_int_equal(srv_stop(&s), 0);
}

static void test_drain(void **st) {
  (void)st;
  srv s;
  const char *args[] = {"--listen", "tcp://127.0.0.1:0", "--drain_timeout_ms", "20000",
                        "--http", "127.0.0.1:0", NULL};
  assert_int_equal(srv_start(&s, args), 0);
  int targets;
  int fd = hello_fd(s.tcp, &targets);
  int busy = hello_fd(s.tcp, NULL);
  if (targets & (1 << FJ_TARGET_X86_64)) {
    /* A compile in flight when SIGTERM arrives still gets its result. */
    size_t cap = fj_trace_size(FJ_TRACE_MAX_RECS);
    uint8_t *t = malloc(cap);
    size_t n = make_long_trace(t, FJ_TRACE_MAX_RECS, 99);
    assert_int_equal(raw_compile(busy, 5, t, n, FJ_TARGET_X86_64), 0);
    free(t);
    /* in flight means read by the server: an unread request on an idle connection is not */
    for (int i = 0; i < 500 && srv_metric(&s, "farjit_requests_total") < 1; i++) usleep(10000);
    assert_int_equal(srv_metric(&s, "farjit_requests_total"), 1);
  }
  pid_t pid = s.pid;
  srv_signal(&s, SIGTERM);
  if (targets & (1 << FJ_TARGET_X86_64)) {
    fj_envelope *e = recv_env(busy, FARJIT__ENVELOPE__MSG_COMPILE_RESULT);
    assert_int_equal(e->compile_result->id, 5);
    assert_int_equal(e->compile_result->status, 0);
    fj_msg_free(e);
  }
  assert_true(raw_wait_eof(busy));
  assert_true(raw_wait_eof(fd));     /* idle clients are closed */
  close(busy);
  close(fd);
  assert_int_equal(srv_stop(&s), 0);  /* clean exit */
  assert_int_not_equal(kill(pid, 0), 0);
}

static void test_config_errors(void **st) {
  (void)st;
  srv s;
  const char *a1[] = {"--listen", "tls://127.0.0.1:0", NULL};  /* TLS without keys */
  assert_int_not_equal(srv_start(&s, a1), 0);
  const char *a2[] = {"--listen", "tcp://127.0.0.1:0", "--threads", "many", NULL};
  assert_int_not_equal(srv_start(&s, a2), 0);
  const char *a3[] = {"--listen", "ftp://x:1", NULL};
  assert_int_not_equal(srv_start(&s, a3), 0);
  const char *a4[] = {"--listen", "tls://127.0.0.1:0", "--tls_cert", cpath("server.pem"),
                      "--tls_key", cpath("ca.key"), NULL};  /* key does not match */
  assert_int_not_equal(srv_start(&s, a4), 0);
  while (waitpid(-1, NULL, WNOHANG) > 0) {}
}

/* After every test: a failed assertion skips srv_stop, so kill what it left running. */
static int after_each(void **st) {
  (void)st;
  int n = srv_kill_leftovers();
  if (n) fprintf(stderr, "killed %d farjitd left running by a failed test\n", n);
  return 0;
}

static int setup(void **st) {
  (void)st;
  /* libuv opens a process-wide pipe with its first loop; count from after that. */
  uv_loop_t l;
  uv_loop_init(&l);
  uv_loop_close(&l);
  own_fds_at_start = count_own_fds();
  snprintf(certdir, sizeof certdir, "/tmp/fj_test_certs.%d", (int)getpid());
  char cmd[128];
  snprintf(cmd, sizeof cmd, "mkdir -p %s", certdir);
  if (system(cmd) != 0 || make_certs(certdir) != 0) {
    fprintf(stderr, "cannot generate test certificates with openssl\n");
    return -1;
  }
  return 0;
}

static int teardown(void **st) {
  (void)st;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", certdir);
  if (system(cmd) != 0) return -1;
  /* Nothing leaked by the tests themselves: descriptors, child processes. */
  int fds = count_own_fds();
  if (fds != own_fds_at_start) {
    fprintf(stderr, "test leaked descriptors: %d at start, %d now\n", own_fds_at_start, fds);
    return -1;
  }
  if (waitpid(-1, NULL, WNOHANG) != -1) {
    fprintf(stderr, "a child process is still running\n");
    return -1;
  }
  return 0;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_plain_tcp_unix, after_each),
    cmocka_unit_test_teardown(test_ipv6, after_each),
    cmocka_unit_test_teardown(test_targets_and_traces, after_each),
    cmocka_unit_test_teardown(test_version_mismatch, after_each),
    cmocka_unit_test_teardown(test_bad_input, after_each),
    cmocka_unit_test_teardown(test_slowloris_and_limits, after_each),
    cmocka_unit_test_teardown(test_per_client_limit, after_each),
    cmocka_unit_test_teardown(test_http, after_each),
    cmocka_unit_test_teardown(test_tls, after_each),
    cmocka_unit_test_teardown(test_mutual_tls, after_each),
    cmocka_unit_test_teardown(test_psk_and_reload, after_each),
    cmocka_unit_test_teardown(test_concurrency, after_each),
    cmocka_unit_test_teardown(test_backpressure_cancel, after_each),
    cmocka_unit_test_teardown(test_disk_cache, after_each),
    cmocka_unit_test_teardown(test_compile_budget, after_each),
    cmocka_unit_test_teardown(test_keepalive, after_each),
    cmocka_unit_test_teardown(test_drain, after_each),
    cmocka_unit_test_teardown(test_config_errors, after_each),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
