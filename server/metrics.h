/* farjitd — counters for /metrics (Prometheus text format 0.0.4) and StatsReply.
 * Updated and read on the loop thread only, so plain integers suffice. */
#ifndef FARJIT_SERVER_METRICS_H
#define FARJIT_SERVER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define FJ_LAT_BUCKETS 12   /* compile latency histogram: 1 ms .. 10 s, then +Inf */
#define FJ_NERRS 31         /* -FJ_E* codes 1..30, index 0 unused */

typedef struct fj_metrics {
  uint64_t requests;          /* CompileRequests received */
  uint64_t compiles_ok, compiles_failed;
  uint64_t cache_hits, cache_misses, disk_hits;
  uint64_t bytes_in, bytes_out;
  uint64_t errors[FJ_NERRS];  /* errors sent or counted, by code */
  uint64_t connections_total, connections_refused, tls_failures, protocol_errors;
  uint64_t timeouts, cancels, shared;
  uint32_t connections, inflight;
  uint64_t lat_bucket[FJ_LAT_BUCKETS + 1];
  double lat_sum;
} fj_metrics;

void fj_metrics_error(fj_metrics *m, int code);
void fj_metrics_latency(fj_metrics *m, double seconds);
/* Render into a malloc'd buffer (NUL-terminated), *len set.  cache_* describe the cache. */
char *fj_metrics_render(const fj_metrics *m, uint64_t cache_bytes, uint32_t cache_entries,
                        int have_compiler, size_t *len);

#endif
