/* farjit-load — load generator for farjitd (include/farjit/remote.h).
 *
 *   farjit-load --server ADDR [--clients N] [--requests M] [--distinct K] [--max-seconds S]
 *               [--window W] [--trace-len L]
 *               [--tls-ca F | --psk-identity ID --psk-hex KEY] [--target T]
 *
 * N connections each send M compile requests, keeping W outstanding (default: as many as the
 * server allows, HelloAck max_inflight; W = 1 measures a bare round trip).  Traces are K
 * distinct valid straight-line traces of L records (mov r0, i; ALU ops; exit), so about
 * 1 - K/(N*M) of the requests are cache hits.  Bounded: stops after all requests or S seconds.
 * Prints throughput, latency percentiles and statuses.  Only for servers you run yourself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "farjit/error.h"
#include "farjit/remote.h"
#include "farjit/target.h"
#include "farjit/trace.h"
#include "proto/tls.h"

typedef struct client {
  fj_remote *r;
  int idx, sent, done;
  uint64_t *t_sent;  /* per request: uv_hrtime at submit */
} client;

static struct {
  int clients, requests, distinct, target;
  int window;     /* requests in flight per client; 0 = as many as the server allows */
  int trace_len;  /* records per trace: mov, (len-2) ALU ops, exit */
  double max_seconds;
  uint64_t t0;
  long ok, errors, hits, failed_conns, finished;
  int status_counts[32];
  double *lat;
  long nlat;
  uv_timer_t deadline;
  client *cl;
} g;

/* A valid straight-line trace: mov r0, imm; trace_len - 2 ALU ops on r0; exit.  imm makes it
 * distinct (a different cache key); trace_len sets how much a cache miss costs to compile. */
static size_t make_trace(uint8_t *buf, int32_t imm) {
  static const uint8_t alu[] = {0x07 /* add */, 0xa7 /* xor */, 0x27 /* mul */, 0x77 /* rsh */};
  uint32_t n = (uint32_t)g.trace_len;
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
  for (uint32_t i = 0; i < n; i++) {
    fj_trace_rec r;
    memset(&r, 0, sizeof r);
    r.pc = i;
    if (i == 0) {
      r.insn.code = 0xb7;  /* mov r0, imm */
      r.insn.imm = imm;
    } else if (i == n - 1) {
      r.insn.code = 0x95;  /* exit */
    } else {
      r.insn.code = alu[i % sizeof alu];
      r.insn.imm = (int32_t)(i % 61 + 1);
    }
    memcpy(buf + sizeof h + i * sizeof r, &r, sizeof r);
  }
  return fj_trace_size(n);
}

static void finish_client(client *c) {
  g.finished++;
  fj_remote_close(c->r);
  c->r = NULL;
  if (g.finished == g.clients) uv_close((uv_handle_t *)&g.deadline, NULL);
}

static void fill(client *c) {
  static uint8_t t[sizeof(fj_trace_header) + 1024 * sizeof(fj_trace_rec)];
  uint32_t limit = fj_remote_server(c->r)->max_inflight;
  if (g.window > 0 && (uint32_t)g.window < limit) limit = (uint32_t)g.window;
  while (c->sent < g.requests && fj_remote_inflight(c->r) < limit) {
    int k = c->sent;
    size_t n = make_trace(t, (int32_t)((c->idx * g.requests + k) % g.distinct));
    c->t_sent[k] = uv_hrtime();
    if (fj_remote_submit(c->r, (uint64_t)k, t, n, (uint32_t)g.target, 0)) break;
    c->sent++;
  }
}

static void on_state(fj_remote *r, int status, const char *msg, void *ud) {
  client *c = ud;
  (void)r;
  if (status) {
    fprintf(stderr, "client %d: %s\n", c->idx, msg);
    g.failed_conns++;
    finish_client(c);
    return;
  }
  fill(c);
}

static void on_result(fj_remote *r, const fj_remote_result *res, void *ud) {
  client *c = ud;
  (void)r;
  if (res->id < (uint64_t)g.requests)
    g.lat[g.nlat++] = (double)(uv_hrtime() - c->t_sent[res->id]) / 1e6;
  if (res->status == 0) g.ok++;
  else g.errors++;
  if (res->cache_hit) g.hits++;
  if (res->status < 0 && -res->status < 32) g.status_counts[-res->status]++;
  c->done++;
  if (c->done == g.requests) finish_client(c);
  else if (c->r) fill(c);
}

static void on_deadline(uv_timer_t *t) {
  fprintf(stderr, "farjit-load: --max-seconds reached, stopping\n");
  for (int i = 0; i < g.clients; i++)
    if (g.cl[i].r) finish_client(&g.cl[i]);
  (void)t;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void usage(void) {
  fprintf(stderr, "usage: farjit-load --server ADDR [--clients N] [--requests M] [--distinct K]\n"
                  "       [--window W] [--trace-len L]\n"
                  "       [--max-seconds S] [--target x86_64|thumbv7em] [--tls-ca F]\n"
                  "       [--psk-identity ID --psk-hex KEY]\n");
}

int main(int argc, char **argv) {
  fj_remote_opts o = {0};
  g.clients = 50;
  g.requests = 100;
  g.distinct = 64;
  g.trace_len = 2;
  g.max_seconds = 60;
  g.target = FJ_TARGET_X86_64;
  uint8_t psk[64];
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) { usage(); return 2; }
    if (!strcmp(a, "--server")) o.address = v;
    else if (!strcmp(a, "--clients")) g.clients = atoi(v);
    else if (!strcmp(a, "--requests")) g.requests = atoi(v);
    else if (!strcmp(a, "--distinct")) g.distinct = atoi(v);
    else if (!strcmp(a, "--window")) g.window = atoi(v);
    else if (!strcmp(a, "--trace-len")) g.trace_len = atoi(v);
    else if (!strcmp(a, "--max-seconds")) g.max_seconds = atof(v);
    else if (!strcmp(a, "--target")) g.target = !strcmp(v, "thumbv7em") ? FJ_TARGET_THUMBV7EM : FJ_TARGET_X86_64;
    else if (!strcmp(a, "--tls-ca")) o.tls_ca = v;
    else if (!strcmp(a, "--psk-identity")) o.psk_identity = v;
    else if (!strcmp(a, "--psk-hex")) {
      int n = fj_hex_decode(v, psk, sizeof psk);
      if (n <= 0) { usage(); return 2; }
      o.psk = psk;
      o.psk_len = (size_t)n;
    } else { usage(); return 2; }
    i++;
  }
  if (!o.address || g.clients < 1 || g.clients > 10000 || g.requests < 1 ||
      g.requests > 1000000 || g.distinct < 1 || g.window < 0 ||
      g.trace_len < 2 || g.trace_len > 1024 || g.max_seconds <= 0 || g.max_seconds > 3600) {
    usage();
    return 2;
  }
  o.client_id = "farjit-load";
  uv_loop_t *loop = uv_default_loop();
  g.cl = calloc((size_t)g.clients, sizeof *g.cl);
  g.lat = calloc((size_t)g.clients * (size_t)g.requests, sizeof *g.lat);
  if (!g.cl || !g.lat) return 1;
  uv_timer_init(loop, &g.deadline);
  uv_timer_start(&g.deadline, on_deadline, (uint64_t)(g.max_seconds * 1000), 0);
  g.t0 = uv_hrtime();
  for (int i = 0; i < g.clients; i++) {
    client *c = &g.cl[i];
    c->idx = i;
    c->t_sent = calloc((size_t)g.requests, sizeof *c->t_sent);
    char err[256];
    c->r = fj_remote_connect(loop, &o, on_state, on_result, c, err, sizeof err);
    if (!c->r) {
      fprintf(stderr, "farjit-load: %s\n", err);
      return 1;
    }
  }
  uv_run(loop, UV_RUN_DEFAULT);
  double secs = (double)(uv_hrtime() - g.t0) / 1e9;
  qsort(g.lat, (size_t)g.nlat, sizeof *g.lat, cmp);
  double p50 = g.nlat ? g.lat[g.nlat / 2] : 0, p99 = g.nlat ? g.lat[g.nlat * 99 / 100] : 0;
  double mx = g.nlat ? g.lat[g.nlat - 1] : 0;
  printf("farjit-load: %d clients x %d requests (%d distinct traces) in %.3f s\n", g.clients,
         g.requests, g.distinct, secs);
  printf("  results %ld (ok %ld, errors %ld, cache hits %ld), failed connections %ld\n", g.nlat,
         g.ok, g.errors, g.hits, g.failed_conns);
  printf("  throughput %.0f results/s; latency ms p50 %.3f p99 %.3f max %.3f\n",
         (double)g.nlat / secs, p50, p99, mx);
  for (int i = 1; i < 32; i++)
    if (g.status_counts[i]) printf("  %s: %d\n", fj_err_name(-i), g.status_counts[i]);
  for (int i = 0; i < g.clients; i++) free(g.cl[i].t_sent);
  free(g.cl);
  free(g.lat);
  uv_loop_close(loop);
  return g.failed_conns ? 1 : 0;
}
