/* farjit — the asynchronous client of farjitd (see include/farjit/remote.h). */
#include "farjit/remote.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farjit/error.h"
#include "proto/abi.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/tls.h"

enum { R_CONNECTING, R_TLS, R_HELLO, R_READY, R_DEAD };

struct fj_remote {
  uv_loop_t *loop;
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    uv_handle_t h;
    uv_stream_t s;
  } u;
  uv_connect_t creq;
  uv_getaddrinfo_t gai;
  uv_timer_t timer;
  int open;                  /* handles and requests whose callbacks are still to come */
  bool stream_init, closing;
  int state;
  fj_remote_state_cb state_cb;
  fj_remote_result_cb result_cb;
  void *ud;
  fj_tls_conf *tconf;
  fj_tls *tls;
  fj_frame_reader rd;
  uint8_t *rbuf;
  uint8_t *in;               /* plaintext not yet framed */
  size_t in_len, in_cap;
  uint64_t *pending;         /* outstanding request ids */
  uint32_t npending, cap_pending;
  fj_remote_info info;
  char host[256], port[16], server_name[256], client_id[64];
  bool is_unix;
  bool own_cert;             /* a client certificate is configured */
  uint32_t target, version, min_version, abi;
  uint64_t features;
  uint32_t timeout_ms;
  uint32_t ping_ms;
  bool early;                /* opts.early_submit: report FJ_REMOTE_LINKED, accept early submits */
  uint64_t last_rx, nonce;   /* uv_now of the last message received; pings sent */
};

typedef struct wreq {
  uv_write_t req;
  uint8_t *buf;
} wreq;

static void maybe_free(fj_remote *r) {
  if (r->closing && r->open == 0) {
    fj_tls_free(r->tls);
    fj_tls_conf_unref(r->tconf);
    free(r->rbuf);
    free(r->in);
    free(r->pending);
    free(r);
  }
}

static void handle_closed(uv_handle_t *h) {
  fj_remote *r = h->data;
  r->open--;
  maybe_free(r);
}

static void close_handles(fj_remote *r) {
  if (!uv_is_closing((uv_handle_t *)&r->timer)) uv_close((uv_handle_t *)&r->timer, handle_closed);
  if (r->stream_init && !uv_is_closing(&r->u.h)) uv_close(&r->u.h, handle_closed);
}

/* The connection is over: fail every outstanding request, then tell the owner (once). */
static void fail(fj_remote *r, int code, const char *fmt, ...) {
  if (r->state == R_DEAD || r->closing) return;
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  r->state = R_DEAD;
  uv_timer_stop(&r->timer);
  if (r->stream_init) uv_read_stop(&r->u.s);
  while (r->npending && !r->closing) {
    fj_remote_result res;
    memset(&res, 0, sizeof res);
    res.id = r->pending[--r->npending];
    res.status = code;
    res.message = msg;
    r->result_cb(r, &res, r->ud);
  }
  if (!r->closing) r->state_cb(r, code, msg, r->ud);
}

static void write_cb(uv_write_t *req, int status) {
  wreq *w = (wreq *)req;
  fj_remote *r = req->data;
  free(w->buf);
  free(w);
  if (status < 0 && status != UV_ECANCELED) {
    /* During the handshake the server's reason (a TLS alert, an Error frame) is usually already
     * on its way to us: let the read side report it; the connect timer bounds the wait. */
    if (r->state == R_TLS || r->state == R_HELLO) return;
    fail(r, FJ_ECONN, "write failed: %s", uv_strerror(status));
  }
}

static int raw_write(fj_remote *r, uint8_t *buf, size_t len) {
  wreq *w = malloc(sizeof *w);
  if (!w) {
    free(buf);
    return FJ_ENOMEM;
  }
  w->buf = buf;
  w->req.data = r;
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  if (uv_write(&w->req, &r->u.s, &b, 1, write_cb) != 0) {
    free(buf);
    free(w);
    return FJ_ECONN;
  }
  return 0;
}

static int tls_send(void *ud, const uint8_t *p, size_t n) {
  uint8_t *copy = malloc(n);
  if (!copy) return FJ_ENOMEM;
  memcpy(copy, p, n);
  return raw_write(ud, copy, n);
}

static void plain_in(void *ud, const uint8_t *p, size_t n) {
  fj_remote *r = ud;
  if (r->in_len + n > r->in_cap) {
    size_t cap = r->in_cap ? r->in_cap : 16384;
    while (cap < r->in_len + n) cap *= 2;
    uint8_t *q = realloc(r->in, cap);
    if (!q) return;  /* the frame reader will see a short stream; fail follows */
    r->in = q;
    r->in_cap = cap;
  }
  memcpy(r->in + r->in_len, p, n);
  r->in_len += n;
}

static int send_env(fj_remote *r, const fj_envelope *env) {
  size_t len;
  uint8_t *buf = fj_msg_pack(env, &len);
  if (!buf) return FJ_ENOMEM;
  if (!r->tls) return raw_write(r, buf, len);
  int rc = fj_tls_write(r->tls, buf, len);
  free(buf);
  return rc;
}

static void send_hello(fj_remote *r) {
  Farjit__Hello h = FARJIT__HELLO__INIT;
  h.version = r->version;
  h.min_version = r->min_version;
  h.client_id = r->client_id;
  h.target = r->target;
  h.triple = (char *)fj_target_name((int)r->target);
  h.cpu_features = r->features;
  h.helper_abi_hash = r->abi;
  fj_envelope env = FARJIT__ENVELOPE__INIT;
  env.msg_case = FARJIT__ENVELOPE__MSG_HELLO;
  env.hello = &h;
  r->state = R_HELLO;
  if (send_env(r, &env)) {
    fail(r, FJ_ECONN, "cannot send Hello");
    return;
  }
  if (r->early) r->state_cb(r, FJ_REMOTE_LINKED, "Hello sent", r->ud);  /* may submit, close */
}

static bool take_pending(fj_remote *r, uint64_t id) {
  for (uint32_t i = 0; i < r->npending; i++) {
    if (r->pending[i] == id) {
      r->pending[i] = r->pending[--r->npending];
      return true;
    }
  }
  return false;
}

static void on_ping_timer(uv_timer_t *t) {
  fj_remote *r = t->data;
  uint64_t now = uv_now(r->loop);
  if (now - r->last_rx > 2 * (uint64_t)r->ping_ms) {
    fail(r, FJ_ETIMEDOUT, "server silent for %llu ms (ping every %u ms)",
         (unsigned long long)(now - r->last_rx), r->ping_ms);
    return;
  }
  fj_remote_ping(r, ++r->nonce);
}

static void on_message(fj_remote *r, const fj_envelope *env) {
  r->last_rx = uv_now(r->loop);
  switch (env->msg_case) {
  case FARJIT__ENVELOPE__MSG_HELLO_ACK: {
    const Farjit__HelloAck *a = env->hello_ack;
    if (r->state != R_HELLO) {
      fail(r, FJ_EPROTO, "unexpected HelloAck");
      return;
    }
    if (a->version < r->min_version || a->version > r->version) {
      fail(r, FJ_EVERSION, "server chose protocol %u, we speak %u..%u", a->version,
           r->min_version, r->version);
      return;
    }
    r->info.version = a->version;
    r->info.compiler_version = a->compiler_version;
    r->info.max_inflight = a->max_inflight ? a->max_inflight : 1;
    r->info.max_frame = a->max_frame;
    r->info.max_trace = a->max_trace;
    r->info.targets = a->targets;
    snprintf(r->info.server_id, sizeof r->info.server_id, "%s", a->server_id ? a->server_id : "");
    r->state = R_READY;
    uv_timer_stop(&r->timer);
    if (r->ping_ms) uv_timer_start(&r->timer, on_ping_timer, r->ping_ms, r->ping_ms);
    r->state_cb(r, 0, "connected", r->ud);
    break;
  }
  case FARJIT__ENVELOPE__MSG_COMPILE_RESULT: {
    const Farjit__CompileResult *c = env->compile_result;
    if (!take_pending(r, c->id)) break;  /* not ours (already failed locally) */
    fj_remote_result res;
    memset(&res, 0, sizeof res);
    res.id = c->id;
    res.status = c->status;
    res.message = c->message ? c->message : "";
    res.blob = c->blob.data;
    res.blob_size = c->blob.len;
    res.cache_hit = c->cache_hit;
    res.abort_reason = c->abort_reason;
    if (c->stats) {
      res.nrecs = c->stats->nrecs;
      res.ir_before = c->stats->ir_before;
      res.ir_after = c->stats->ir_after;
      res.nexits = c->stats->nexits;
      res.nspills = c->stats->nspills;
      res.code_size = c->stats->code_size;
      res.compile_us = c->stats->compile_us;
    }
    r->result_cb(r, &res, r->ud);
    break;
  }
  case FARJIT__ENVELOPE__MSG_ERROR:
    if (env->error->code == FJ_ENOTSUP && r->state == R_READY) break;  /* we sent something new */
    fail(r, env->error->code ? env->error->code : FJ_EPROTO, "server: %s",
         env->error->message ? env->error->message : "error");
    break;
  case FARJIT__ENVELOPE__MSG_PONG:
  case FARJIT__ENVELOPE__MSG_STATS_REPLY:
  case FARJIT__ENVELOPE__MSG__NOT_SET:
    break;
  default:
    fail(r, FJ_EPROTO, "unexpected %s from the server", fj_msg_name(env));
    break;
  }
}

static void process(fj_remote *r) {
  size_t off = 0;
  while (off < r->in_len && r->state != R_DEAD && !r->closing) {
    size_t used;
    int st = fj_frame_feed(&r->rd, r->in + off, r->in_len - off, &used);
    off += used;
    if (st == FJ_FRAME_MORE) break;
    if (st == FJ_FRAME_NEED_BUF) {
      uint8_t *q = realloc(r->rbuf, r->rd.len);
      if (!q) {
        fail(r, FJ_ENOMEM, "out of memory for a %u-byte frame", r->rd.len);
        break;
      }
      r->rbuf = r->rd.buf = q;
      r->rd.cap = r->rd.len;
      continue;
    }
    if (st != FJ_FRAME_READY) {
      fail(r, FJ_EPROTO, "bad frame from the server: %s", r->rd.err);
      break;
    }
    fj_envelope *env = fj_msg_unpack(r->rd.buf, r->rd.len);
    fj_frame_reader_next(&r->rd);
    if (!env) {
      fail(r, FJ_EPROTO, "undecodable message from the server");
      break;
    }
    on_message(r, env);
    fj_msg_free(env);
  }
  if (r->closing || off == 0) return;
  memmove(r->in, r->in + off, r->in_len - off);
  r->in_len -= off;
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  static _Thread_local char chunk[65536];  /* consumed before the next read on this thread */
  (void)h;
  (void)hint;
  *b = uv_buf_init(chunk, sizeof chunk);
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  fj_remote *r = st->data;
  if (n == 0) return;
  if (n < 0) {
    if (r->state == R_TLS)
      fail(r, FJ_ETLS, "server closed the connection during the TLS handshake%s",
           r->own_cert ? "" : " (does it require a client certificate?)");
    else
      fail(r, FJ_ECONN, "server closed the connection%s%s", n == UV_EOF ? "" : ": ",
           n == UV_EOF ? "" : uv_strerror((int)n));
    return;
  }
  if (!r->tls) {
    plain_in(r, (const uint8_t *)buf->base, (size_t)n);
  } else {
    int rc = fj_tls_input(r->tls, (const uint8_t *)buf->base, (size_t)n);
    if (rc == FJ_ETLS) {
      fail(r, FJ_ETLS, "%s", fj_tls_errmsg(r->tls));
      return;
    }
    if (r->state == R_TLS && fj_tls_ready(r->tls)) send_hello(r);
    if (rc == FJ_ECONN) {
      process(r);
      fail(r, FJ_ECONN, "server closed the connection");
      return;
    }
  }
  process(r);
}

static void on_connect(uv_connect_t *req, int status) {
  fj_remote *r = req->data;
  r->open--;
  if (r->closing) {
    maybe_free(r);
    return;
  }
  if (status < 0) {
    fail(r, FJ_ECONN, "connect to %s%s%s: %s", r->is_unix ? "unix:" : r->host,
         r->is_unix ? "" : ":", r->port, uv_strerror(status));
    return;
  }
  if (uv_read_start(&r->u.s, alloc_cb, read_cb) != 0) {
    fail(r, FJ_ECONN, "cannot read from the socket");
    return;
  }
  if (r->tconf) {
    r->tls = fj_tls_new(r->tconf, r->server_name[0] ? r->server_name : NULL, tls_send, plain_in, r);
    r->state = R_TLS;
    if (!r->tls || fj_tls_start(r->tls))
      fail(r, FJ_ETLS, "%s", r->tls ? fj_tls_errmsg(r->tls) : "cannot create TLS session");
  } else {
    send_hello(r);
  }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  fj_remote *r = req->data;
  r->open--;
  if (r->closing) {
    uv_freeaddrinfo(res);
    maybe_free(r);
    return;
  }
  if (status < 0) {
    fail(r, FJ_ECONN, "cannot resolve %s: %s", r->host, uv_strerror(status));
    return;
  }
  uv_tcp_init(r->loop, &r->u.tcp);
  r->u.h.data = r;
  r->stream_init = true;
  r->open++;
  uv_tcp_nodelay(&r->u.tcp, 1);
  r->creq.data = r;
  int rc = uv_tcp_connect(&r->creq, &r->u.tcp, res->ai_addr, on_connect);
  uv_freeaddrinfo(res);
  if (rc == 0) r->open++;
  else fail(r, FJ_ECONN, "connect to %s:%s: %s", r->host, r->port, uv_strerror(rc));
}

static void on_timeout(uv_timer_t *t) {
  fj_remote *r = t->data;
  fail(r, FJ_ETIMEDOUT, "no connection to the server within %u ms (%s)", r->timeout_ms,
       r->state == R_CONNECTING ? "connecting" : r->state == R_TLS ? "TLS handshake" : "Hello");
}

static int parse_address(fj_remote *r, const char *a, char *err, size_t errlen) {
  if (strncmp(a, "unix:", 5) == 0) {
    r->is_unix = true;
    snprintf(r->host, sizeof r->host, "%s", a + 5);
    return r->host[0] ? 0 : -1;
  }
  const char *colon;
  if (a[0] == '[') {
    const char *e = strchr(a, ']');
    if (!e || e[1] != ':' || (size_t)(e - a) > sizeof r->host) goto bad;
    memcpy(r->host, a + 1, (size_t)(e - a - 1));
    r->host[e - a - 1] = 0;
    colon = e + 1;
  } else {
    colon = strrchr(a, ':');
    if (!colon || (size_t)(colon - a) >= sizeof r->host) goto bad;
    memcpy(r->host, a, (size_t)(colon - a));
    r->host[colon - a] = 0;
  }
  if (!colon[1] || strlen(colon + 1) >= sizeof r->port) goto bad;
  snprintf(r->port, sizeof r->port, "%s", colon + 1);
  return 0;
bad:
  snprintf(err, errlen, "bad server address '%s' (HOST:PORT, [V6]:PORT or unix:PATH)", a);
  return -1;
}

static bool numeric_host(const char *h) {
  struct sockaddr_in6 a6;
  struct sockaddr_in a4;
  return uv_ip4_addr(h, 0, &a4) == 0 || uv_ip6_addr(h, 0, &a6) == 0;
}

fj_remote *fj_remote_connect(uv_loop_t *loop, const fj_remote_opts *o, fj_remote_state_cb state,
                             fj_remote_result_cb result, void *ud, char *err, size_t errlen) {
  fj_remote *r = calloc(1, sizeof *r);
  if (!r) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  r->loop = loop;
  r->state_cb = state;
  r->result_cb = result;
  r->ud = ud;
  r->target = o->target;
  r->features = o->cpu_features;
  r->version = o->proto_version ? o->proto_version : FJ_PROTO_VERSION;
  r->min_version = o->proto_min_version ? o->proto_min_version : FJ_PROTO_MIN_VERSION;
  r->abi = o->abi_hash ? o->abi_hash : fj_abi_hash();
  r->timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 10000;
  r->ping_ms = o->ping_interval_ms;
  r->early = o->early_submit;
  snprintf(r->client_id, sizeof r->client_id, "%s", o->client_id ? o->client_id : "farjit");
  if (!o->address || parse_address(r, o->address, err, errlen)) {
    if (!o->address) snprintf(err, errlen, "no server address");
    free(r);
    return NULL;
  }
  if (o->tls || o->tls_ca || o->psk_identity) {
    fj_tls_conf_opts t = {0};
    t.cert = o->tls_cert;
    t.key = o->tls_key;
    t.ca = o->tls_ca;
    t.psk_identity = o->psk_identity;
    t.psk = o->psk;
    t.psk_len = o->psk_len;
    if (fj_tls_conf_new(&t, &r->tconf, err, errlen)) {
      free(r);
      return NULL;
    }
    r->own_cert = (o->tls_cert && o->tls_cert[0]) || o->psk_identity;
    if (o->server_name) snprintf(r->server_name, sizeof r->server_name, "%s", o->server_name);
    else if (!r->is_unix && !numeric_host(r->host))
      snprintf(r->server_name, sizeof r->server_name, "%s", r->host);
  }
  fj_frame_reader_init(&r->rd, FJ_FRAME_MAX, NULL, 0);
  uv_timer_init(loop, &r->timer);
  r->timer.data = r;
  r->open = 1;
  uv_timer_start(&r->timer, on_timeout, r->timeout_ms, 0);
  int rc;
  if (r->is_unix) {
    uv_pipe_init(loop, &r->u.pipe, 0);
    r->u.h.data = r;
    r->stream_init = true;
    r->open++;
    r->creq.data = r;
    uv_pipe_connect(&r->creq, &r->u.pipe, r->host, on_connect);
    rc = 0;
  } else {
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    r->gai.data = r;
    rc = uv_getaddrinfo(loop, &r->gai, on_resolved, r->host, r->port, &hints);
  }
  if (rc == 0) {
    r->open++;
    return r;
  }
  snprintf(err, errlen, "cannot resolve %s: %s", r->host, uv_strerror(rc));
  r->closing = true;
  close_handles(r);
  return NULL;  /* freed when the timer handle closes */
}

int fj_remote_submit(fj_remote *r, uint64_t id, const void *trace, size_t len, uint32_t target,
                     uint32_t flags) {
  const bool early = r->early && r->state == R_HELLO;  /* behind Hello, before HelloAck */
  if ((r->state != R_READY && !early) || r->closing) return FJ_ECONN;
  if (r->npending >= (early ? (uint32_t)FJ_REMOTE_EARLY : r->info.max_inflight)) return FJ_EBUSY;
  if (r->info.max_trace && len > r->info.max_trace) return FJ_ERANGE;
  for (uint32_t i = 0; i < r->npending; i++)
    if (r->pending[i] == id) return FJ_EEXIST;
  if (r->npending == r->cap_pending) {
    uint32_t cap = r->cap_pending ? 2 * r->cap_pending : 16;
    uint64_t *p = realloc(r->pending, cap * sizeof *p);
    if (!p) return FJ_ENOMEM;
    r->pending = p;
    r->cap_pending = cap;
  }
  Farjit__CompileRequest q = FARJIT__COMPILE_REQUEST__INIT;
  Farjit__CompileOptions opt = FARJIT__COMPILE_OPTIONS__INIT;
  q.id = id;
  q.trace.data = (uint8_t *)trace;
  q.trace.len = len;
  q.target = target;
  opt.flags = flags;
  q.options = &opt;
  if (len >= 48) {  /* bridges: parent ids are in the trace header (farjit/trace.h) */
    const uint8_t *t = trace;
    q.parent_trace = (uint32_t)t[24] | (uint32_t)t[25] << 8 | (uint32_t)t[26] << 16 |
                     (uint32_t)t[27] << 24;
    q.parent_exit = (uint32_t)t[28] | (uint32_t)t[29] << 8 | (uint32_t)t[30] << 16 |
                    (uint32_t)t[31] << 24;
  }
  fj_envelope env = FARJIT__ENVELOPE__INIT;
  env.msg_case = FARJIT__ENVELOPE__MSG_COMPILE_REQUEST;
  env.compile_request = &q;
  int rc = send_env(r, &env);
  if (rc) return rc;
  r->pending[r->npending++] = id;
  return 0;
}

int fj_remote_cancel(fj_remote *r, uint64_t id) {
  if (r->state != R_READY || r->closing) return FJ_ECONN;
  Farjit__Cancel c = FARJIT__CANCEL__INIT;
  c.id = id;
  fj_envelope env = FARJIT__ENVELOPE__INIT;
  env.msg_case = FARJIT__ENVELOPE__MSG_CANCEL;
  env.cancel = &c;
  return send_env(r, &env);
}

int fj_remote_ping(fj_remote *r, uint64_t nonce) {
  if (r->state != R_READY || r->closing) return FJ_ECONN;
  Farjit__Ping p = FARJIT__PING__INIT;
  p.nonce = nonce;
  fj_envelope env = FARJIT__ENVELOPE__INIT;
  env.msg_case = FARJIT__ENVELOPE__MSG_PING;
  env.ping = &p;
  return send_env(r, &env);
}

void fj_remote_close(fj_remote *r) {
  if (!r || r->closing) return;
  r->closing = true;
  if (r->tls && r->state != R_DEAD) fj_tls_close(r->tls);
  if (r->open && r->state == R_CONNECTING && !r->is_unix && !r->stream_init)
    uv_cancel((uv_req_t *)&r->gai);
  close_handles(r);
}

uint32_t fj_remote_inflight(const fj_remote *r) { return r->npending; }
const fj_remote_info *fj_remote_server(const fj_remote *r) { return &r->info; }

typedef struct once {
  fj_remote *r;
  const void *trace;
  size_t len;
  uint32_t target, flags;
  int status;
  uint8_t *blob;
  size_t size;
  bool hit;
  char *msg;
  size_t msglen;
} once;

static void once_state(fj_remote *r, int status, const char *msg, void *ud) {
  once *o = ud;
  if (status == 0) {
    status = fj_remote_submit(r, 1, o->trace, o->len, o->target, o->flags);
    if (status == 0) return;
    msg = status == FJ_ERANGE ? "trace larger than the server's max_trace" : fj_strerror(status);
  }
  o->status = status;
  snprintf(o->msg, o->msglen, "%s", msg);
  fj_remote_close(r);
}

static void once_result(fj_remote *r, const fj_remote_result *res, void *ud) {
  once *o = ud;
  o->status = res->status;
  o->hit = res->cache_hit;
  snprintf(o->msg, o->msglen, "%s", res->message);
  if (res->status == 0) {
    o->blob = malloc(res->blob_size ? res->blob_size : 1);
    if (o->blob) {
      memcpy(o->blob, res->blob, res->blob_size);
      o->size = res->blob_size;
    } else {
      o->status = FJ_ENOMEM;
    }
  }
  fj_remote_close(r);
}

int fj_remote_compile_once(const fj_remote_opts *opts, const void *trace, size_t len,
                           uint32_t target, uint32_t flags, uint8_t **blob, size_t *blob_size,
                           bool *cache_hit, char *msg, size_t msglen) {
  uv_loop_t loop;
  if (uv_loop_init(&loop)) {
    snprintf(msg, msglen, "cannot create an event loop");
    return FJ_ENOMEM;
  }
  once o = {NULL, trace, len, target, flags, FJ_ECONN, NULL, 0, false, msg, msglen};
  snprintf(msg, msglen, "connection ended without a result");
  o.r = fj_remote_connect(&loop, opts, once_state, once_result, &o, msg, msglen);
  if (!o.r) o.status = FJ_ECONN;
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  *blob = o.blob;
  *blob_size = o.size;
  if (cache_hit) *cache_hit = o.hit;
  return o.status;
}
