/* farjitd — listeners: tcp://HOST:PORT and tls://HOST:PORT (IPv4, IPv6 as [addr]), unix:PATH and
 * tls+unix:PATH.  Port 0 picks a free port; the bound address is logged as event=listening
 * (tests read it from there). */
#include <errno.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "farjit/error.h"
#include "server/log.h"
#include "server/server.h"

static void on_connection(uv_stream_t *st, int status) {
  fj_listener *l = st->data;
  if (status < 0) {
    fj_log(FJ_LOG_WARN, "accept_error", "listener=%s err=\"%s\"", l->addr, uv_strerror(status));
    return;
  }
  fj_conn_accept(l);
}

/* "HOST:PORT" or "[V6]:PORT" -> sockaddr (numeric or resolved). */
int fj_parse_hostport(const char *s, struct sockaddr_storage *out) {
  char host[256];
  const char *port;
  if (s[0] == '[') {
    const char *e = strchr(s, ']');
    if (!e || e[1] != ':' || (size_t)(e - s - 1) >= sizeof host) return FJ_EINVAL;
    memcpy(host, s + 1, (size_t)(e - s - 1));
    host[e - s - 1] = 0;
    port = e + 2;
  } else {
    const char *e = strrchr(s, ':');
    if (!e || (size_t)(e - s) >= sizeof host) return FJ_EINVAL;
    memcpy(host, s, (size_t)(e - s));
    host[e - s] = 0;
    port = e + 1;
  }
  struct addrinfo hints, *res;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  if (getaddrinfo(host[0] ? host : NULL, port, &hints, &res) != 0) return FJ_EINVAL;
  memcpy(out, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return 0;
}

static void bound_name(uv_tcp_t *t, const char *scheme, char *out, size_t n) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  char ip[64] = "?";
  unsigned port = 0;
  if (uv_tcp_getsockname(t, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET6) {
      uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
      port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
      snprintf(out, n, "%s://[%s]:%u", scheme, ip, port);
      return;
    }
    uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
    port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  }
  snprintf(out, n, "%s://%s:%u", scheme, ip, port);
}

/* A socket file left by a process that is gone is removed; one that still accepts
 * connections belongs to a live server and is left alone (UV_EADDRINUSE). */
static int stale_socket_remove(const char *path) {
  struct sockaddr_un a;
  if (strlen(path) >= sizeof a.sun_path) return UV_ENAMETOOLONG;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return UV_EMFILE;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  memcpy(a.sun_path, path, strlen(path));
  int live = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  int err = errno;
  close(fd);
  if (live) return UV_EADDRINUSE;
  if (err == ECONNREFUSED) unlink(path);
  return 0;
}

static int listen_one(fj_srv *s, const char *spec) {
  fj_listener *l = calloc(1, sizeof *l);
  if (!l) return FJ_ENOMEM;
  l->srv = s;
  int rc;
  const char *path = NULL;
  if (strncmp(spec, "unix:", 5) == 0) path = spec + 5;
  else if (strncmp(spec, "tls+unix:", 9) == 0) path = spec + 9, l->tls = true;
  if (path) {
    uv_pipe_init(s->loop, &l->u.pipe, 0);
    rc = stale_socket_remove(path);
    if (rc == 0) rc = uv_pipe_bind(&l->u.pipe, path);
    snprintf(l->addr, sizeof l->addr, "%s", spec);
    if (rc == 0) snprintf(l->unlink_path, sizeof l->unlink_path, "%s", path);
  } else {
    const char *hp;
    if (strncmp(spec, "tcp://", 6) == 0) hp = spec + 6;
    else if (strncmp(spec, "tls://", 6) == 0) hp = spec + 6, l->tls = true;
    else {
      fj_log(FJ_LOG_ERROR, "config", "msg=\"listen %s: expected tcp://, tls://, unix: or "
             "tls+unix:\"", spec);
      free(l);
      return FJ_ECONFIG;
    }
    struct sockaddr_storage ss;
    uv_tcp_init(s->loop, &l->u.tcp);
    rc = fj_parse_hostport(hp, &ss) ? UV_EINVAL : uv_tcp_bind(&l->u.tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0) bound_name(&l->u.tcp, l->tls ? "tls" : "tcp", l->addr, sizeof l->addr);
  }
  l->u.h.data = l;
  if (rc == 0) rc = uv_listen(&l->u.s, 511, on_connection);
  if (rc != 0) {
    fj_log(FJ_LOG_ERROR, "listen_failed", "addr=%s err=\"%s\"", spec, uv_strerror(rc));
    uv_close(&l->u.h, (uv_close_cb)free);
    return FJ_EIO;
  }
  if (l->tls && !s->tls) {
    fj_log(FJ_LOG_ERROR, "config", "msg=\"listen %s needs tls_cert+tls_key or tls_psk_file\"", spec);
    uv_close(&l->u.h, (uv_close_cb)free);
    return FJ_ECONFIG;
  }
  s->listeners[s->nlisteners++] = l;
  fj_log(FJ_LOG_INFO, "listening", "addr=%s tls=%s", l->addr, l->tls ? "yes" : "no");
  return 0;
}

int fj_listen_all(fj_srv *s) {
  for (int i = 0; i < s->cfg.nlisten; i++) {
    int rc = listen_one(s, s->cfg.listen[i]);
    if (rc) return rc;
  }
  return 0;
}

static void listener_closed(uv_handle_t *h) {
  fj_listener *l = h->data;
  if (l->unlink_path[0]) unlink(l->unlink_path);
  free(l);
}

void fj_listen_close_all(fj_srv *s) {
  for (int i = 0; i < s->nlisteners; i++) uv_close(&s->listeners[i]->u.h, listener_closed);
  s->nlisteners = 0;
}
