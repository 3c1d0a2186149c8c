/* farjitd — process setup, signals, drain and reload.  See docs/SERVER.md. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "farjit/codegen.h"
#include "farjit/error.h"
#include "proto/abi.h"
#include "server/log.h"
#include "server/server.h"

#define TICK_MS 100

static bool any_tls_listener(const fj_srv_config *c) {
  for (int i = 0; i < c->nlisten; i++)
    if (strncmp(c->listen[i], "tls", 3) == 0) return true;
  return false;
}

static int make_tls(const fj_srv_config *c, fj_tls_conf **out) {
  *out = NULL;
  if (!any_tls_listener(c)) return 0;
  fj_tls_conf_opts o = {0};
  o.server = 1;
  o.cert = c->tls_cert;
  o.key = c->tls_key;
  o.ca = c->tls_client_ca;
  o.psk_file = c->tls_psk_file;
  char err[300];
  int rc = fj_tls_conf_new(&o, out, err, sizeof err);
  if (rc) fj_log(FJ_LOG_ERROR, "tls_config", "msg=\"%s\"", err);
  return rc;
}

bool fj_srv_ready(const fj_srv *s) { return !s->draining && fj_srv_have_compiler(); }

static void close_all(fj_srv *s) {
  fj_http_close(s);
  for (int i = 0; i < 3; i++)
    if (!uv_is_closing((uv_handle_t *)&s->sig[i])) uv_close((uv_handle_t *)&s->sig[i], NULL);
  if (!uv_is_closing((uv_handle_t *)&s->tick)) uv_close((uv_handle_t *)&s->tick, NULL);
}

static void on_tick(uv_timer_t *t) {
  fj_srv *s = t->data;
  uint64_t now = uv_now(s->loop);
  for (fj_conn *c = s->conns, *next; c; c = next) {
    next = c->next;
    fj_conn_tick(c, now);
  }
  if (s->draining) {
    if (now > s->drain_deadline)
      for (fj_conn *c = s->conns; c; c = c->next) fj_conn_close(c, "drain timeout");
    if (!s->conns && !s->jobs_live) {
      fj_log(FJ_LOG_INFO, "drained", "requests=%llu", (unsigned long long)s->m.requests);
      close_all(s);
    }
  }
}

static void start_drain(fj_srv *s, const char *why) {
  if (s->draining) return;
  s->draining = true;
  s->drain_deadline = uv_now(s->loop) + s->cfg.drain_timeout_ms;
  fj_log(FJ_LOG_INFO, "drain", "signal=%s connections=%u inflight=%u", why, s->m.connections,
         s->m.inflight);
  fj_listen_close_all(s);
  /* Reading stops on its own (paused() includes draining); idle ones close on the next tick. */
}

static void reload(fj_srv *s) {
  fj_srv_config nc;
  char err[512];
  const char *path;
  if (fj_config_load(&nc, s->argc, s->argv, &path, err, sizeof err)) {
    fj_log(FJ_LOG_ERROR, "reload_failed", "msg=\"%s\" keeping=old", err);
    fj_config_free(&nc);
    return;
  }
  fj_tls_conf *tls;
  if (make_tls(&nc, &tls)) {
    fj_log(FJ_LOG_ERROR, "reload_failed", "msg=\"TLS\" keeping=old");
    fj_config_free(&nc);
    return;
  }
  bool same_listen = nc.nlisten == s->cfg.nlisten;
  for (int i = 0; same_listen && i < nc.nlisten; i++)
    same_listen = strcmp(nc.listen[i], s->cfg.listen[i]) == 0;
  if (!same_listen || nc.threads != s->cfg.threads || strcmp(nc.http, s->cfg.http) != 0)
    fj_log(FJ_LOG_WARN, "reload", "msg=\"listen, http and threads change only on restart\"");
  if (tls) {  /* connections keep the configuration they started with */
    fj_tls_conf_unref(s->tls);
    s->tls = tls;
  }
  fj_config_free(&s->cfg);
  s->cfg = nc;
  fj_log_min = nc.log_level;
  fj_cache_set_limit(s->cache, nc.cache_mem_bytes);
  fj_log(FJ_LOG_INFO, "reloaded", "config=%s", path ? path : "-");
}

static void on_signal(uv_signal_t *h, int signum) {
  fj_srv *s = h->data;
  if (signum == SIGHUP) reload(s);
  else start_drain(s, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void warm_pool(uv_work_t *w) { (void)w; }

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fj_config_usage(stdout);
      return 0;
    }
    if (strcmp(argv[i], "--version") == 0) {
      printf("farjitd protocol %d..%d compiler %d abi 0x%08x\n", FJ_PROTO_MIN_VERSION,
             FJ_PROTO_VERSION, FJ_COMPILER_VERSION, fj_abi_hash());
      return 0;
    }
  }
  static fj_srv srv;
  fj_srv *s = &srv;
  char err[512];
  if (fj_config_load(&s->cfg, argc, argv, &s->config_path, err, sizeof err)) {
    fprintf(stderr, "farjitd: %s\n", err);
    fj_config_free(&s->cfg);
    return 2;
  }
  s->argc = argc;
  s->argv = argv;
  fj_log_min = s->cfg.log_level;
  signal(SIGPIPE, SIG_IGN);
  /* libuv sizes its pool from the environment when the first work is queued. */
  char threads[16];
  snprintf(threads, sizeof threads, "%u", s->cfg.threads);
  setenv("UV_THREADPOOL_SIZE", threads, 1);
  if (s->cfg.cache_dir[0] && access(s->cfg.cache_dir, W_OK | X_OK) != 0) {
    fprintf(stderr, "farjitd: cache_dir %s: not a writable directory\n", s->cfg.cache_dir);
    fj_config_free(&s->cfg);
    return 2;
  }
  s->loop = uv_default_loop();
  s->cache = fj_cache_new(s->cfg.cache_mem_bytes);
  int rc = s->cache ? 0 : FJ_ENOMEM;
  if (!rc) rc = make_tls(&s->cfg, &s->tls);
  if (!rc) rc = fj_listen_all(s);
  if (!rc) rc = fj_http_listen(s);
  uv_timer_init(s->loop, &s->tick);
  s->tick.data = s;
  int signums[3] = {SIGTERM, SIGINT, SIGHUP};
  for (int i = 0; i < 3; i++) {
    uv_signal_init(s->loop, &s->sig[i]);
    s->sig[i].data = s;
  }
  if (!rc) {
    /* libuv starts its worker threads at the first queued work and waits for them: do that now,
     * while a client connects and says Hello, not in front of its first compile (~4 ms). */
    static uv_work_t warm;
    uv_queue_work(s->loop, &warm, warm_pool, NULL);
    uv_timer_start(&s->tick, on_tick, TICK_MS, TICK_MS);
    for (int i = 0; i < 3; i++) uv_signal_start(&s->sig[i], on_signal, signums[i]);
    fj_log(FJ_LOG_INFO, "start", "version=%d compiler=%s threads=%u pid=%ld", FJ_PROTO_VERSION,
           fj_srv_have_compiler() ? "yes" : "missing", s->cfg.threads, (long)getpid());
  } else {
    fj_listen_close_all(s);
    close_all(s);
  }
  uv_run(s->loop, UV_RUN_DEFAULT);
  int lc = uv_loop_close(s->loop);
  if (lc) fj_log(FJ_LOG_WARN, "exit", "msg=\"handles left open: %s\"", uv_strerror(lc));
  fj_cache_free(s->cache);
  fj_tls_conf_unref(s->tls);
  fj_config_free(&s->cfg);
  fj_log(FJ_LOG_INFO, "exit", "status=%d", rc ? 1 : 0);
  return rc ? 1 : 0;
}
