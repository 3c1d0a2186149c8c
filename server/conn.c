/* farjitd — one client connection: bytes in (TLS, framing), messages dispatched, replies out,
 * back-pressure and deadlines.  See server.h for threads and lifetimes.
 *
 * Failure policy: a frame that cannot be trusted (bad magic, over the size limit, CRC mismatch,
 * undecodable protobuf) or a message out of order gets Error(FJ_EPROTO/FJ_ERANGE) and the
 * connection is shut down after that Error is flushed.  A well-formed message of a type this
 * server does not know gets Error(FJ_ENOTSUP) and the connection stays up.  Everything is
 * counted in metrics and logged; nothing is shared with other clients except the cache.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farjit/error.h"
#include "farjit/trace.h"
#include "proto/abi.h"
#include "server/log.h"
#include "server/server.h"

#define READ_CHUNK 65536
#define CLOSE_GRACE_MS 2000
#define HELLO_MAX_FRAME 4096

typedef struct wreq {
  uv_write_t req;
  fj_conn *c;
  uint8_t *buf;
  size_t len;
} wreq;

static void process(fj_conn *c);

static bool paused(const fj_conn *c) {
  const fj_srv_config *cfg = &c->srv->cfg;
  return c->inflight >= cfg->max_inflight || c->write_queued > cfg->max_write_queue ||
         c->srv->draining;
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  static char chunk[READ_CHUNK];  /* one loop thread; data is consumed before the next read */
  (void)h;
  (void)hint;
  *b = uv_buf_init(chunk, sizeof chunk);
}

static void close_cb(uv_handle_t *h) {
  fj_conn *c = h->data;
  fj_srv *s = c->srv;
  if (c->prev) c->prev->next = c->next; else s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  s->m.connections--;
  fj_clients_release(s, c->addr);
  fj_tls_free(c->tls);
  free(c->rbuf);
  free(c->in.p);
  free(c);
}

static void force_close(fj_conn *c) {
  if (!uv_is_closing(&c->u.h)) uv_close(&c->u.h, close_cb);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b);

/* After our FIN: read and drop until the peer closes too (or CLOSE_GRACE_MS), so that data it
 * still sends does not make our kernel answer with a reset that destroys the Error or TLS alert
 * we just sent before the peer has read it. */
static void linger_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  if (n < 0) force_close(st->data);
}

static void shutdown_cb(uv_shutdown_t *req, int status) {
  fj_conn *c = req->data;
  free(req);
  if (status != 0 || uv_is_closing(&c->u.h) || uv_read_start(&c->u.s, alloc_cb, linger_cb) != 0)
    force_close(c);
}

void fj_conn_close(fj_conn *c, const char *why) {
  if (c->closing) return;
  c->closing = true;
  c->t_close = uv_now(c->srv->loop);
  /* Any end before the handshake completed: our error, the client rejecting our certificate
   * (it just closes), garbage, or a timeout. */
  if (c->tls && c->state == FJ_CONN_TLS_HANDSHAKE) c->srv->m.tls_failures++;
  /* Per-client accounting: what this connection used, in its last line. */
  fj_log(c->inflight || c->requests ? FJ_LOG_INFO : FJ_LOG_DEBUG, "close",
         "conn=%llu peer=%s client=%s reason=\"%s\" inflight=%u requests=%llu compiles=%llu "
         "cache_hits=%llu errors=%llu bytes_in=%llu bytes_out=%llu secs=%.3f",
         (unsigned long long)c->id, c->peer, c->client, why, c->inflight,
         (unsigned long long)c->requests, (unsigned long long)c->compiles,
         (unsigned long long)c->cache_hits, (unsigned long long)c->errors,
         (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
         (double)(c->t_close - c->t_open) / 1000.0);
  fj_job_detach_all(c);
  if (c->reading) uv_read_stop(&c->u.s);
  c->reading = false;
  if (c->tls) fj_tls_close(c->tls);
  /* Flush what is queued (the Error that explains the close), then close. */
  uv_shutdown_t *req = malloc(sizeof *req);
  if (req) req->data = c;
  if (!req || uv_shutdown(req, &c->u.s, shutdown_cb) != 0) {
    free(req);
    force_close(c);
  }
}

static void write_cb(uv_write_t *req, int status) {
  wreq *w = (wreq *)req;
  fj_conn *c = w->c;
  c->write_queued -= w->len;
  free(w->buf);
  free(w);
  if (status < 0) {
    fj_conn_close(c, "write failed");
    return;
  }
  if (!c->reading && !c->closing && !paused(c)) fj_conn_resume(c);
}

/* Queue bytes on the socket; takes buf. */
static int raw_write(fj_conn *c, uint8_t *buf, size_t len) {
  wreq *w = malloc(sizeof *w);
  if (!w) {
    free(buf);
    return FJ_ENOMEM;
  }
  w->c = c;
  w->buf = buf;
  w->len = len;
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  if (uv_write(&w->req, &c->u.s, &b, 1, write_cb) != 0) {
    free(buf);
    free(w);
    return FJ_ECONN;
  }
  c->write_queued += len;
  return 0;
}

static int tls_send(void *ud, const uint8_t *p, size_t n) {
  fj_conn *c = ud;
  uint8_t *copy = malloc(n);
  if (!copy) return FJ_ENOMEM;
  memcpy(copy, p, n);
  return raw_write(c, copy, n);
}

static void tls_recv(void *ud, const uint8_t *p, size_t n) {
  fj_conn *c = ud;
  fj_buf *b = &c->in;
  if (b->off && b->off == b->len) b->off = b->len = 0;
  if (b->len + n > b->cap) {
    if (b->off) {
      memmove(b->p, b->p + b->off, b->len - b->off);
      b->len -= b->off;
      b->off = 0;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    uint8_t *q = realloc(b->p, cap);
    if (!q) {
      fj_conn_close(c, "out of memory");
      return;
    }
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
}

int fj_conn_send(fj_conn *c, uint8_t *buf, size_t len) {
  if (!buf) return FJ_ENOMEM;
  if (c->closing) {
    free(buf);
    return FJ_ECONN;
  }
  c->srv->m.bytes_out += len;
  c->bytes_out += len;
  if (!c->tls) return raw_write(c, buf, len);
  int rc = c->tls ? fj_tls_write(c->tls, buf, len) : FJ_ECONN;
  free(buf);
  return rc;
}

void fj_conn_send_error(fj_conn *c, int code, uint64_t id, const char *fmt, ...) {
  char msg[192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  c->errors++;
  fj_metrics_error(&c->srv->m, code);
  fj_log(FJ_LOG_WARN, "client_error", "conn=%llu peer=%s client=%s code=%s msg=\"%s\"",
         (unsigned long long)c->id, c->peer, c->client, fj_err_name(code), msg);
  if (c->tls && !fj_tls_ready(c->tls)) return;  /* no channel to say it on */
  size_t len = 0;
  uint8_t *buf = fj_msg_error(code, id, msg, &len);
  fj_conn_send(c, buf, len);
}

static void protocol_error(fj_conn *c, int code, const char *fmt, const char *arg) {
  c->srv->m.protocol_errors++;
  fj_conn_send_error(c, code, 0, fmt, arg);
  fj_conn_close(c, "protocol error");
}

/* Printable, space-free copy for logs and accounting. */
static void sanitize(char *out, size_t n, const char *in) {
  size_t i = 0;
  for (; in && in[i] && i + 1 < n && i < 64; i++) {
    char ch = in[i];
    out[i] = (ch > 32 && ch < 127 && ch != '"' && ch != '\\' && ch != '=') ? ch : '_';
  }
  out[i] = 0;
}

static void on_hello(fj_conn *c, const Farjit__Hello *h) {
  uint32_t cmax = h->version, cmin = h->min_version ? h->min_version : h->version;
  char id[72];
  sanitize(id, sizeof id, h->client_id);
  if (c->tls && fj_tls_peer(c->tls)[0])
    snprintf(c->client, sizeof c->client, "%s/%s", id[0] ? id : "-", fj_tls_peer(c->tls));
  else
    snprintf(c->client, sizeof c->client, "%s", id[0] ? id : "-");
  if (cmax < FJ_PROTO_MIN_VERSION || cmin > FJ_PROTO_VERSION || cmin > cmax) {
    char m[160];
    snprintf(m, sizeof m, "protocol version mismatch: client speaks %u..%u, server speaks %u..%u",
             cmin, cmax, FJ_PROTO_MIN_VERSION, FJ_PROTO_VERSION);
    protocol_error(c, FJ_EVERSION, "%s", m);
    return;
  }
  if (h->helper_abi_hash != fj_abi_hash()) {
    char m[160];
    snprintf(m, sizeof m, "helper ABI mismatch: client 0x%08x, server 0x%08x (rebuild one side)",
             h->helper_abi_hash, fj_abi_hash());
    protocol_error(c, FJ_EVERSION, "%s", m);
    return;
  }
  const fj_srv_config *cfg = &c->srv->cfg;
  Farjit__HelloAck ack = FARJIT__HELLO_ACK__INIT;
  ack.version = cmax < FJ_PROTO_VERSION ? cmax : FJ_PROTO_VERSION;
  ack.server_id = cfg->server_id;
  ack.compiler_version = FJ_COMPILER_VERSION;
  ack.max_inflight = cfg->max_inflight;
  ack.max_frame = cfg->max_frame < FJ_FRAME_MAX ? cfg->max_frame : FJ_FRAME_MAX;
  ack.max_trace = cfg->max_trace;
  ack.targets = fj_srv_targets();
  fj_envelope env = FARJIT__ENVELOPE__INIT;
  env.msg_case = FARJIT__ENVELOPE__MSG_HELLO_ACK;
  env.hello_ack = &ack;
  size_t len = 0;
  uint8_t *frame = fj_msg_pack(&env, &len);
  fj_conn_send(c, frame, len);
  c->state = FJ_CONN_READY;
  c->rd.max = cfg->max_frame < FJ_FRAME_MAX ? cfg->max_frame : FJ_FRAME_MAX;
  fj_log(FJ_LOG_INFO, "hello", "conn=%llu peer=%s client=%s version=%u target=%s",
         (unsigned long long)c->id, c->peer, c->client, ack.version, fj_target_name((int)h->target));
}

static void on_stats(fj_conn *c) {
  fj_srv *s = c->srv;
  Farjit__StatsReply r = FARJIT__STATS_REPLY__INIT;
  r.requests = c->requests;
  r.compiles = c->compiles;
  r.cache_hits = c->cache_hits;
  r.inflight = c->inflight;
  r.server_requests = s->m.requests;
  r.server_compiles = s->m.compiles_ok + s->m.compiles_failed;
  r.server_cache_hits = s->m.cache_hits;
  r.server_cache_misses = s->m.cache_misses;
  r.connections = s->m.connections;
  r.cache_bytes = fj_cache_bytes(s->cache);
  r.cache_entries = fj_cache_count(s->cache);
  fj_envelope env = FARJIT__ENVELOPE__INIT;
  env.msg_case = FARJIT__ENVELOPE__MSG_STATS_REPLY;
  env.stats_reply = &r;
  size_t len = 0;
  uint8_t *frame = fj_msg_pack(&env, &len);
  fj_conn_send(c, frame, len);
}

static void on_frame(fj_conn *c, const uint8_t *p, size_t n) {
  fj_envelope *env = fj_msg_unpack(p, n);
  if (!env) {
    protocol_error(c, FJ_EPROTO, "%s", "frame does not hold a valid Envelope");
    return;
  }
  c->t_active = uv_now(c->srv->loop);
  int mc = env->msg_case;
  if (mc == FARJIT__ENVELOPE__MSG__NOT_SET) {
    /* A newer peer's message: say so, stay connected. */
    fj_conn_send_error(c, FJ_ENOTSUP, 0, "unknown message type");
  } else if (c->state == FJ_CONN_HELLO) {
    if (mc == FARJIT__ENVELOPE__MSG_HELLO) on_hello(c, env->hello);
    else protocol_error(c, FJ_EPROTO, "expected Hello, got %s", fj_msg_name(env));
  } else {
    switch (mc) {
    case FARJIT__ENVELOPE__MSG_COMPILE_REQUEST: fj_job_submit(c, env->compile_request); break;
    case FARJIT__ENVELOPE__MSG_CANCEL: fj_job_cancel(c, env->cancel->id); break;
    case FARJIT__ENVELOPE__MSG_PING: {
      Farjit__Pong pong = FARJIT__PONG__INIT;
      pong.nonce = env->ping->nonce;
      fj_envelope out = FARJIT__ENVELOPE__INIT;
      out.msg_case = FARJIT__ENVELOPE__MSG_PONG;
      out.pong = &pong;
      size_t len = 0;
      uint8_t *frame = fj_msg_pack(&out, &len);
      fj_conn_send(c, frame, len);
      break;
    }
    case FARJIT__ENVELOPE__MSG_STATS_QUERY: on_stats(c); break;
    case FARJIT__ENVELOPE__MSG_ERROR:
      fj_log(FJ_LOG_WARN, "peer_error", "conn=%llu client=%s code=%d", (unsigned long long)c->id,
             c->client, env->error->code);
      fj_conn_close(c, "client sent Error");
      break;
    default:
      protocol_error(c, FJ_EPROTO, "unexpected %s from a client", fj_msg_name(env));
      break;
    }
  }
  fj_msg_free(env);
}

static void process(fj_conn *c) {
  fj_srv *s = c->srv;
  fj_buf *b = &c->in;
  while (!c->closing && c->state != FJ_CONN_TLS_HANDSHAKE && b->off < b->len && !paused(c)) {
    size_t used;
    int st = fj_frame_feed(&c->rd, b->p + b->off, b->len - b->off, &used);
    b->off += used;
    if (st == FJ_FRAME_MORE) {
      if (!c->t_frame) c->t_frame = uv_now(s->loop);
    } else if (st == FJ_FRAME_NEED_BUF) {
      uint8_t *q = realloc(c->rbuf, c->rd.len);
      if (!q) {
        fj_conn_close(c, "out of memory");
        return;
      }
      c->rbuf = q;
      c->rd.buf = q;
      c->rd.cap = c->rd.len;
      if (!c->t_frame) c->t_frame = uv_now(s->loop);
    } else if (st == FJ_FRAME_READY) {
      c->t_frame = 0;
      on_frame(c, c->rd.buf, c->rd.len);
      fj_frame_reader_next(&c->rd);
      if (c->rd.cap > READ_CHUNK) {  /* don't keep a large buffer per idle client */
        free(c->rbuf);
        c->rbuf = c->rd.buf = NULL;
        c->rd.cap = 0;
      }
    } else {
      char m[160];
      snprintf(m, sizeof m, "%s (limit %u bytes)", c->rd.err, c->rd.max);
      protocol_error(c, st, "%s", m);
      return;
    }
  }
  if (b->off == b->len) b->off = b->len = 0;
  if (c->closing) return;
  if (c->eof && !c->inflight && b->len == 0) {
    /* Everything it sent is answered (a partial frame can never complete now). */
    fj_conn_close(c, c->requests ? "peer finished" : "peer closed");
    return;
  }
  if (paused(c) && c->reading) {
    uv_read_stop(&c->u.s);
    c->reading = false;
    fj_log(FJ_LOG_DEBUG, "pause", "conn=%llu inflight=%u queued=%zu", (unsigned long long)c->id,
           c->inflight, c->write_queued);
  }
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  fj_conn *c = st->data;
  if (n == 0) return;
  if (n == UV_EOF) {
    /* Possibly a half-close: finish the requests already received, then close (if the peer
     * is gone for good, writing the results fails and closes sooner). */
    uv_read_stop(&c->u.s);
    c->reading = false;
    c->eof = true;
    process(c);
    return;
  }
  if (n < 0) {
    fj_conn_close(c, uv_strerror((int)n));
    return;
  }
  c->srv->m.bytes_in += (uint64_t)n;
  c->bytes_in += (uint64_t)n;
  if (!c->tls) {
    tls_recv(c, (const uint8_t *)buf->base, (size_t)n);
  } else {
    int rc = fj_tls_input(c->tls, (const uint8_t *)buf->base, (size_t)n);
    if (rc == FJ_ETLS) {
      fj_metrics_error(&c->srv->m, FJ_ETLS);
      fj_log(FJ_LOG_WARN, "tls_error", "conn=%llu peer=%s msg=\"%s\"", (unsigned long long)c->id,
             c->peer, fj_tls_errmsg(c->tls));
      fj_conn_close(c, "TLS failure");
      return;
    }
    if (c->state == FJ_CONN_TLS_HANDSHAKE && fj_tls_ready(c->tls)) {
      c->state = FJ_CONN_HELLO;
      fj_log(FJ_LOG_DEBUG, "tls_ok", "conn=%llu peer=%s identity=%s", (unsigned long long)c->id,
             c->peer, fj_tls_peer(c->tls));
    }
    if (rc == FJ_ECONN) {  /* close_notify: like EOF */
      uv_read_stop(&c->u.s);
      c->reading = false;
      c->eof = true;
    }
  }
  process(c);
}

void fj_conn_resume(fj_conn *c) {
  if (c->closing) return;
  process(c);
  if (!c->closing && !c->eof && !paused(c) && !c->reading) {
    c->t_frame = c->t_frame ? uv_now(c->srv->loop) : 0;  /* the pause was ours, not theirs */
    if (uv_read_start(&c->u.s, alloc_cb, read_cb) == 0) c->reading = true;
  }
}

/* Fills c->peer ("ip:port") and ip (the per-client key; "" for Unix sockets). */
static void peer_name(fj_conn *c, fj_listener *l, char ip[64]) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  ip[0] = 0;
  if (l->u.h.type == UV_TCP && uv_tcp_getpeername(&c->u.tcp, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET6) {
      struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
      uv_ip6_name(a, ip, 64);
      snprintf(c->peer, sizeof c->peer, "[%s]:%u", ip, ntohs(a->sin6_port));
    } else {
      struct sockaddr_in *a = (struct sockaddr_in *)&ss;
      uv_ip4_name(a, ip, 64);
      snprintf(c->peer, sizeof c->peer, "%s:%u", ip, ntohs(a->sin_port));
    }
  } else {
    snprintf(c->peer, sizeof c->peer, "unix");
  }
}

void fj_conn_accept(fj_listener *l) {
  fj_srv *s = l->srv;
  fj_conn *c = calloc(1, sizeof *c);
  if (!c) return;
  c->srv = s;
  if (l->u.h.type == UV_TCP) uv_tcp_init(s->loop, &c->u.tcp);
  else uv_pipe_init(s->loop, &c->u.pipe, 0);
  c->u.h.data = c;
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  s->m.connections++;
  c->id = ++s->next_conn_id;
  snprintf(c->client, sizeof c->client, "-");
  c->t_open = c->t_active = uv_now(s->loop);
  if (uv_accept(&l->u.s, &c->u.s) != 0) {
    force_close(c);
    return;
  }
  if (l->u.h.type == UV_TCP) uv_tcp_nodelay(&c->u.tcp, 1);
  char ip[64];
  peer_name(c, l, ip);
  /* Until Hello succeeds a client is unknown: it gets small frames only (Hello is ~100 bytes). */
  fj_frame_reader_init(&c->rd, s->cfg.max_frame < HELLO_MAX_FRAME ? s->cfg.max_frame : HELLO_MAX_FRAME,
                       NULL, 0);
  c->state = l->tls ? FJ_CONN_TLS_HANDSHAKE : FJ_CONN_HELLO;
  s->m.connections_total++;
  if (s->m.connections > s->cfg.max_connections || s->draining) {
    s->m.connections_refused++;
    c->tls = NULL;
    if (!l->tls)
      fj_conn_send_error(c, FJ_EBUSY, 0, "server at max_connections (%u)", s->cfg.max_connections);
    else
      fj_metrics_error(&s->m, FJ_EBUSY);
    fj_conn_close(c, s->draining ? "draining" : "max_connections");
    return;
  }
  uint32_t from_ip = 0;
  if (ip[0]) c->addr = fj_clients_acquire(s, ip, &from_ip);
  if (s->cfg.max_connections_per_client && from_ip > s->cfg.max_connections_per_client) {
    s->m.connections_refused++;
    if (!l->tls)
      fj_conn_send_error(c, FJ_EBUSY, 0, "too many connections from %s (max_connections_per_client %u)",
                         ip, s->cfg.max_connections_per_client);
    else
      fj_metrics_error(&s->m, FJ_EBUSY);
    fj_conn_close(c, "max_connections_per_client");
    return;
  }
  if (l->tls) {
    c->tls = s->tls ? fj_tls_new(s->tls, NULL, tls_send, tls_recv, c) : NULL;
    if (!c->tls) {
      fj_conn_close(c, "TLS unavailable");
      return;
    }
  }
  fj_log(FJ_LOG_DEBUG, "accept", "conn=%llu peer=%s listener=%s", (unsigned long long)c->id,
         c->peer, l->addr);
  if (uv_read_start(&c->u.s, alloc_cb, read_cb) == 0) c->reading = true;
  else fj_conn_close(c, "read failed");
}

void fj_conn_tick(fj_conn *c, uint64_t now) {
  const fj_srv_config *cfg = &c->srv->cfg;
  if (c->closing) {
    if (now - c->t_close > CLOSE_GRACE_MS) force_close(c);
    return;
  }
  fj_job_tick(c, now);
  if (c->closing) return;
  if (c->state != FJ_CONN_READY && now - c->t_open > cfg->handshake_timeout_ms) {
    c->srv->m.timeouts++;
    fj_conn_send_error(c, FJ_ETIMEDOUT, 0, "handshake not completed within %u ms",
                       cfg->handshake_timeout_ms);
    fj_conn_close(c, "handshake timeout");
  } else if (c->reading && c->t_frame && now - c->t_frame > cfg->frame_timeout_ms) {
    c->srv->m.timeouts++;
    fj_conn_send_error(c, FJ_ETIMEDOUT, 0, "frame incomplete after %u ms", cfg->frame_timeout_ms);
    fj_conn_close(c, "frame timeout");
  } else if (cfg->idle_timeout_ms && !c->inflight && now - c->t_active > cfg->idle_timeout_ms) {
    fj_conn_close(c, "idle");
  } else if (c->srv->draining && !c->inflight && !c->write_queued) {
    fj_conn_close(c, "server draining");
  }
}
