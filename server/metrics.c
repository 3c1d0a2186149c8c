/* farjitd — metrics (see metrics.h). */
#include "server/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farjit/codegen.h"
#include "farjit/error.h"
#include "proto/abi.h"

static const double bounds[FJ_LAT_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                              0.1,   0.25,   0.5,   1,    2.5,   10};
_Static_assert(-FJ_ERROR__LAST + 1 == FJ_NERRS, "one error counter per FJ_E* code");

void fj_metrics_error(fj_metrics *m, int code) {
  if (code < 0 && -code < FJ_NERRS) m->errors[-code]++;
}

void fj_metrics_latency(fj_metrics *m, double s) {
  int i = 0;
  while (i < FJ_LAT_BUCKETS && s > bounds[i]) i++;
  m->lat_bucket[i]++;
  m->lat_sum += s;
}

typedef struct out {
  char *p;
  size_t len, cap;
} out;

static void put(out *o, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < o->cap - o->len) {
      o->len += (size_t)n;
      return;
    }
    size_t cap = o->cap * 2 + (size_t)n;
    char *q = realloc(o->p, cap);
    if (!q) return;
    o->p = q;
    o->cap = cap;
  }
}

static void counter(out *o, const char *name, const char *help, uint64_t v) {
  put(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
      (unsigned long long)v);
}

static void gauge(out *o, const char *name, const char *help, uint64_t v) {
  put(o, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name,
      (unsigned long long)v);
}

char *fj_metrics_render(const fj_metrics *m, uint64_t cache_bytes, uint32_t cache_entries,
                        int have_compiler, size_t *len) {
  out o = {malloc(4096), 0, 4096};
  if (!o.p) return NULL;
  o.p[0] = 0;
  put(&o, "# HELP farjit_build_info Protocol and compiler versions of this farjitd.\n"
          "# TYPE farjit_build_info gauge\n"
          "farjit_build_info{protocol=\"%d\",compiler_version=\"%d\",abi=\"0x%08x\","
          "compiler=\"%s\"} 1\n",
      FJ_PROTO_VERSION, FJ_COMPILER_VERSION, fj_abi_hash(), have_compiler ? "yes" : "missing");
  counter(&o, "farjit_requests_total", "Compile requests received.", m->requests);
  put(&o, "# HELP farjit_compiles_total Compiles run by the workers, by outcome.\n"
          "# TYPE farjit_compiles_total counter\n"
          "farjit_compiles_total{result=\"ok\"} %llu\nfarjit_compiles_total{result=\"error\"} %llu\n",
      (unsigned long long)m->compiles_ok, (unsigned long long)m->compiles_failed);
  counter(&o, "farjit_cache_hits_total", "Requests answered from the memory cache.", m->cache_hits);
  counter(&o, "farjit_cache_misses_total", "Requests not in the memory cache.", m->cache_misses);
  counter(&o, "farjit_cache_disk_hits_total", "Memory misses answered from the disk cache.",
          m->disk_hits);
  counter(&o, "farjit_compiles_shared_total",
          "Requests answered by an identical compile already in flight.", m->shared);
  gauge(&o, "farjit_cache_bytes", "Bytes held by the memory cache.", cache_bytes);
  gauge(&o, "farjit_cache_entries", "Blobs held by the memory cache.", cache_entries);
  counter(&o, "farjit_received_bytes_total", "Bytes received from clients (after TLS).", m->bytes_in);
  counter(&o, "farjit_sent_bytes_total", "Bytes sent to clients (before TLS).", m->bytes_out);
  put(&o, "# HELP farjit_errors_total Errors returned or detected, by code.\n"
          "# TYPE farjit_errors_total counter\n");
  for (int i = 1; i < FJ_NERRS; i++)
    if (m->errors[i])
      put(&o, "farjit_errors_total{code=\"%s\"} %llu\n", fj_err_name(-i),
          (unsigned long long)m->errors[i]);
  counter(&o, "farjit_protocol_errors_total", "Connections closed for a protocol violation.",
          m->protocol_errors);
  counter(&o, "farjit_tls_failures_total", "Failed TLS handshakes.", m->tls_failures);
  counter(&o, "farjit_timeouts_total", "Compiles or connections that ran out of time.", m->timeouts);
  counter(&o, "farjit_cancels_total", "Compile requests canceled by clients.", m->cancels);
  counter(&o, "farjit_connections_total", "Connections accepted.", m->connections_total);
  counter(&o, "farjit_connections_refused_total", "Connections refused (max_connections).",
          m->connections_refused);
  gauge(&o, "farjit_connections", "Open client connections.", m->connections);
  gauge(&o, "farjit_inflight", "Compiles queued or running.", m->inflight);
  put(&o, "# HELP farjit_compile_seconds Compile wall time (cache misses).\n"
          "# TYPE farjit_compile_seconds histogram\n");
  uint64_t cum = 0;
  for (int i = 0; i < FJ_LAT_BUCKETS; i++) {
    cum += m->lat_bucket[i];
    put(&o, "farjit_compile_seconds_bucket{le=\"%g\"} %llu\n", bounds[i], (unsigned long long)cum);
  }
  cum += m->lat_bucket[FJ_LAT_BUCKETS];
  put(&o, "farjit_compile_seconds_bucket{le=\"+Inf\"} %llu\nfarjit_compile_seconds_sum %.6f\n"
          "farjit_compile_seconds_count %llu\n",
      (unsigned long long)cum, m->lat_sum, (unsigned long long)cum);
  *len = o.len;
  return o.p;
}
