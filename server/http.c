/* farjitd — the HTTP endpoint (plaintext, its own port; keep it on a private interface):
 *   GET /healthz  200 "ok" while the process serves
 *   GET /readyz   200 "ready", or 503 while draining or without a compiler
 *   GET /metrics  Prometheus text format
 * HTTP/1.0 semantics: one request per connection, then close.  Requests are read up to 4 KiB;
 * anything else gets 400/404/405.  A request must arrive within 5 s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farjit/error.h"
#include "server/log.h"
#include "server/server.h"

#define HTTP_MAX 4096
#define HTTP_TIMEOUT_MS 5000
#define HTTP_MAX_CONNS 64      /* scrapers and probes; more are dropped at once */

int fj_parse_hostport(const char *s, struct sockaddr_storage *out);

typedef struct hconn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  fj_srv *srv;
  char req[HTTP_MAX];
  size_t len;
  int open_handles;
  bool done;
} hconn;

static void hclosed(uv_handle_t *h) {
  hconn *c = h->data;
  if (--c->open_handles == 0) {
    c->srv->http_conns--;
    free(c);
  }
}

static void hclose(hconn *c) {
  if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, hclosed);
  if (!uv_is_closing((uv_handle_t *)&c->timer)) uv_close((uv_handle_t *)&c->timer, hclosed);
}

typedef struct hwrite {
  uv_write_t req;
  char *buf;
} hwrite;

static void hwrite_cb(uv_write_t *req, int status) {
  hwrite *w = (hwrite *)req;
  hconn *c = req->data;
  (void)status;
  free(w->buf);
  free(w);
  hclose(c);
}

static void respond(hconn *c, int code, const char *ctype, const char *body, size_t blen) {
  const char *reason = code == 200 ? "OK" : code == 503 ? "Service Unavailable" :
                       code == 404 ? "Not Found" : code == 405 ? "Method Not Allowed" :
                       "Bad Request";
  char head[256];
  int hl = snprintf(head, sizeof head,
                    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                    "Connection: close\r\n\r\n", code, reason, ctype, blen);
  hwrite *w = malloc(sizeof *w);
  char *buf = malloc((size_t)hl + blen);
  if (!w || !buf) {
    free(w);
    free(buf);
    hclose(c);
    return;
  }
  memcpy(buf, head, (size_t)hl);
  memcpy(buf + hl, body, blen);
  w->buf = buf;
  w->req.data = c;
  uv_buf_t b = uv_buf_init(buf, (unsigned)((size_t)hl + blen));
  c->done = true;
  uv_read_stop((uv_stream_t *)&c->tcp);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, hwrite_cb) != 0) {
    free(buf);
    free(w);
    hclose(c);
  }
}

static void handle(hconn *c) {
  fj_srv *s = c->srv;
  char method[8], path[128];
  if (sscanf(c->req, "%7s %127s", method, path) != 2) {
    respond(c, 400, "text/plain", "bad request\n", 12);
    return;
  }
  if (strcmp(method, "GET") != 0) {
    respond(c, 405, "text/plain", "GET only\n", 9);
    return;
  }
  char *q = strchr(path, '?');
  if (q) *q = 0;
  if (strcmp(path, "/healthz") == 0) {
    respond(c, 200, "text/plain", "ok\n", 3);
  } else if (strcmp(path, "/readyz") == 0) {
    if (fj_srv_ready(s)) respond(c, 200, "text/plain", "ready\n", 6);
    else if (s->draining) respond(c, 503, "text/plain", "draining\n", 9);
    else respond(c, 503, "text/plain", "no compiler\n", 12);
  } else if (strcmp(path, "/metrics") == 0) {
    size_t len;
    char *body = fj_metrics_render(&s->m, fj_cache_bytes(s->cache), fj_cache_count(s->cache),
                                   fj_srv_have_compiler(), &len);
    if (!body) {
      hclose(c);
      return;
    }
    respond(c, 200, "text/plain; version=0.0.4", body, len);
    free(body);
  } else {
    respond(c, 404, "text/plain", "not found\n", 10);
  }
}

static void halloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  hconn *c = h->data;
  (void)hint;
  *b = uv_buf_init(c->req + c->len, (unsigned)(HTTP_MAX - 1 - c->len));
}

static void hread(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  hconn *c = st->data;
  (void)b;
  if (c->done) return;
  if (n < 0) {
    hclose(c);
    return;
  }
  c->len += (size_t)n;
  c->req[c->len] = 0;
  if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")) handle(c);
  else if (c->len >= HTTP_MAX - 1) respond(c, 400, "text/plain", "request too large\n", 18);
}

static void htimeout(uv_timer_t *t) {
  hclose(t->data);
}

static void on_http(uv_stream_t *srv, int status) {
  fj_srv *s = srv->data;
  if (status < 0) return;
  hconn *c = calloc(1, sizeof *c);
  if (!c) return;
  c->srv = s;
  s->http_conns++;
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->open_handles = 2;
  if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0 || s->http_conns > HTTP_MAX_CONNS ||
      uv_read_start((uv_stream_t *)&c->tcp, halloc, hread) != 0) {
    hclose(c);
    return;
  }
  uv_timer_start(&c->timer, htimeout, HTTP_TIMEOUT_MS, 0);
}

int fj_http_listen(fj_srv *s) {
  if (!s->cfg.http[0]) return 0;
  struct sockaddr_storage ss;
  uv_tcp_init(s->loop, &s->http);
  s->http.data = s;
  s->http_open = true;
  int rc = fj_parse_hostport(s->cfg.http, &ss) ? UV_EINVAL
                                               : uv_tcp_bind(&s->http, (struct sockaddr *)&ss, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&s->http, 128, on_http);
  if (rc) {
    fj_log(FJ_LOG_ERROR, "listen_failed", "addr=http://%s err=\"%s\"", s->cfg.http, uv_strerror(rc));
    return FJ_EIO;
  }
  struct sockaddr_storage b;
  int len = sizeof b;
  char ip[64] = "?";
  unsigned port = 0;
  if (uv_tcp_getsockname(&s->http, (struct sockaddr *)&b, &len) == 0) {
    if (b.ss_family == AF_INET6) {
      uv_ip6_name((struct sockaddr_in6 *)&b, ip, sizeof ip);
      port = ntohs(((struct sockaddr_in6 *)&b)->sin6_port);
    } else {
      uv_ip4_name((struct sockaddr_in *)&b, ip, sizeof ip);
      port = ntohs(((struct sockaddr_in *)&b)->sin_port);
    }
  }
  fj_log(FJ_LOG_INFO, "listening", "addr=http://%s%s%s:%u", b.ss_family == AF_INET6 ? "[" : "", ip,
         b.ss_family == AF_INET6 ? "]" : "", port);
  return 0;
}

void fj_http_close(fj_srv *s) {
  if (s->http_open && !uv_is_closing((uv_handle_t *)&s->http))
    uv_close((uv_handle_t *)&s->http, NULL);
  s->http_open = false;
}
