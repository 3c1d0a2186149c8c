/* Fuzz target: farjitd's frame decoder and message handler, in process.
 *
 * Each input becomes one client connection to a real farjitd core (server/conn.c, work.c, ...)
 * over a Unix socket, driven by the same libuv loop: the bytes are written, the write side is
 * shut, and the loop runs until the server has closed the connection and finished every job.
 * The server must answer or disconnect without crashing, leaking or hanging (ASan/UBSan watch).
 *
 * Input: byte 0 = mode.  Bit 0 set: the rest goes on the wire as is.  Otherwise the rest is
 * chunks [u16 length LE][payload] and each payload is sent as a correctly framed message (so
 * the fuzzer reaches protobuf decoding and the handlers past the CRC); bit 1 prepends a valid
 * Hello; bit 2 flips the CRC of the last frame.  The compiler is not linked: compile requests
 * that pass admission get FJ_ENOTSUP (the compiler has its own tests).
 *
 * Built as a libFuzzer binary (tests/proto/fuzz.sh) and, with fuzz_main.c, as a deterministic
 * mutation runner that needs no libFuzzer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "farjit/error.h"
#include "proto/abi.h"
#include "proto/frame.h"
#include "server/log.h"
#include "server/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fj_srv srv;
static char sock_path[108];

bool fj_srv_ready(const fj_srv *s) { return !s->draining; }

static void remove_socket(void) { unlink(sock_path); }

static void init_once(void) {
  if (srv.loop) return;
  atexit(remove_socket);
  snprintf(sock_path, sizeof sock_path, "/tmp/fj_fuzz.%d.sock", (int)getpid());
  char listen[128];
  snprintf(listen, sizeof listen, "unix:%s", sock_path);
  char *argv[] = {"fuzz", "--listen", listen, "--max_frame", "65536", "--max_inflight", "4",
                  "--max_trace", "4096", NULL};
  char err[256];
  if (fj_config_load(&srv.cfg, 9, argv, NULL, err, sizeof err)) {
    fprintf(stderr, "fuzz: %s\n", err);
    abort();
  }
  fj_log_min = FJ_LOG_ERROR + 1;  /* quiet */
  srv.loop = uv_default_loop();
  srv.cache = fj_cache_new(1 << 20);
  if (fj_listen_all(&srv)) abort();
}

static size_t put_frame(uint8_t *out, const uint8_t *p, size_t n, bool corrupt) {
  fj_frame_header(out, p, (uint32_t)n);
  if (corrupt) out[8] ^= 1;
  memcpy(out + FJ_FRAME_HDR, p, n);
  return FJ_FRAME_HDR + n;
}

static size_t hello(uint8_t *out) {
  Farjit__Hello h = FARJIT__HELLO__INIT;
  h.version = FJ_PROTO_VERSION;
  h.min_version = FJ_PROTO_MIN_VERSION;
  h.helper_abi_hash = fj_abi_hash();
  fj_envelope env = FARJIT__ENVELOPE__INIT;
  env.msg_case = FARJIT__ENVELOPE__MSG_HELLO;
  env.hello = &h;
  size_t len;
  uint8_t *f = fj_msg_pack(&env, &len);
  memcpy(out, f, len);
  free(f);
  return len;
}

/* The wire bytes for an input (see the header comment). */
static uint8_t *wire(const uint8_t *d, size_t n, size_t *len) {
  uint8_t *w = malloc(n * 7 + 4096);  /* a 2-byte chunk header becomes a 12-byte frame header */
  size_t k = 0;
  if (!n) {
    *len = 0;
    return w;
  }
  uint8_t mode = d[0];
  d++, n--;
  if (mode & 1) {
    memcpy(w, d, n);
    *len = n;
    return w;
  }
  if (mode & 2) k += hello(w);
  while (n >= 2) {
    size_t l = (size_t)d[0] | (size_t)d[1] << 8;
    d += 2, n -= 2;
    if (l > n) l = n;
    k += put_frame(w + k, d, l, (mode & 4) && n == l);
    d += l, n -= l;
  }
  *len = k;
  return w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  init_once();
  size_t len;
  uint8_t *w = wire(data, size, &len);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%s", sock_path);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) abort();
  size_t off = 0;
  bool shut = false;
  uint64_t accepted = srv.m.connections_total;
  char sink[65536];
  /* Until the server has closed our connection and has nothing left running. */
  for (int spins = 0;; spins++) {
    if (off < len) {
      ssize_t k = send(fd, w + off, len - off, MSG_NOSIGNAL);
      if (k > 0) off += (size_t)k;
      else if (k < 0 && errno != EAGAIN) off = len;  /* server closed: stop writing */
    }
    if (off == len && !shut) {
      shutdown(fd, SHUT_WR);
      shut = true;
    }
    while (recv(fd, sink, sizeof sink, 0) > 0) {}
    uv_run(srv.loop, UV_RUN_NOWAIT);
    if (shut && srv.m.connections_total > accepted && !srv.conns && !srv.jobs_live) break;
    if (spins > 1000000) abort();  /* a hang is a bug too */
  }
  close(fd);
  free(w);
  return 0;
}

/* For the replay runner's summary: connections the server accepted and requests it saw. */
void fj_fuzz_counts(unsigned long long *conns, unsigned long long *frames);
void fj_fuzz_counts(unsigned long long *conns, unsigned long long *frames) {
  *conns = srv.m.connections_total;
  *frames = srv.m.requests;
}
