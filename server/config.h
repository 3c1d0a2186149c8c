/* farjitd — configuration: one table of settings, read from a file (`key = value` lines, `#`
 * comments) and overridden by command-line flags of the same names (`--key=value` or
 * `--key value`).  `listen` may be given several times.  The table is also the --help text and
 * the reference in docs/SERVER.md.  Loading never exits: errors come back as FJ_ECONFIG with a
 * message naming the file, line and key.
 */
#ifndef FARJIT_SERVER_CONFIG_H
#define FARJIT_SERVER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define FJ_SRV_MAX_LISTEN 8

/* _(key, kind, field, default, help).  kind: U32 (number), STR (text), LVL (log level). */
#define FJ_SRV_SETTINGS(_)                                                                        \
  _(http,                STR, http,               "",                                            \
    "HOST:PORT of the HTTP endpoint (/healthz /readyz /metrics); empty = none")                  \
  _(threads,             U32, threads,            "2",     "compile worker threads")             \
  _(max_connections,     U32, max_connections,    "1024",  "connections beyond are refused")     \
  _(max_connections_per_client, U32, max_connections_per_client, "64",                           \
    "connections from one IP address; 0 = no limit")                                             \
  _(max_frame,           U32, max_frame,          "2097152", "largest frame accepted (bytes)")   \
  _(max_trace,           U32, max_trace,          "81968", "largest trace accepted (bytes)")     \
  _(max_inflight,        U32, max_inflight,       "16",                                          \
    "compiles one client may have outstanding; more are not read (back-pressure)")               \
  _(max_write_queue,     U32, max_write_queue,    "8388608",                                     \
    "unsent reply bytes per client before its reading pauses")                                   \
  _(compile_budget_ms,   U32, compile_budget_ms,  "5000",                                        \
    "time from request to result; then FJ_ETIMEDOUT")                                            \
  _(handshake_timeout_ms, U32, handshake_timeout_ms, "5000", "TLS handshake + Hello deadline")   \
  _(frame_timeout_ms,    U32, frame_timeout_ms,   "10000",                                       \
    "a frame must arrive whole within this after its first byte (slowloris)")                    \
  _(idle_timeout_ms,     U32, idle_timeout_ms,    "300000", "close idle clients; 0 = never")     \
  _(drain_timeout_ms,    U32, drain_timeout_ms,   "30000", "SIGTERM: wait this long for work")   \
  _(cache_mem_bytes,     U32, cache_mem_bytes,    "268435456", "memory cache size; 0 = off")     \
  _(cache_dir,           STR, cache_dir,          "",      "on-disk cache directory; empty = none") \
  _(tls_cert,            STR, tls_cert,           "",      "server certificate chain (PEM)")     \
  _(tls_key,             STR, tls_key,            "",      "server private key (PEM)")           \
  _(tls_client_ca,       STR, tls_client_ca,      "",                                            \
    "CA bundle to verify client certificates: set = mutual TLS required")                        \
  _(tls_psk_file,        STR, tls_psk_file,       "",                                            \
    "TLS-PSK keys: lines `identity hexkey`; set = PSK handshakes accepted")                      \
  _(server_id,           STR, server_id,          "farjitd", "name sent in HelloAck")            \
  _(log_level,           LVL, log_level,          "info",  "debug, info, warn or error")

typedef struct fj_srv_config {
  char *listen[FJ_SRV_MAX_LISTEN]; /* tcp://H:P  tls://H:P  unix:PATH  tls+unix:PATH */
  int nlisten;
#define FJ_CFG_FIELD_U32(f) uint32_t f;
#define FJ_CFG_FIELD_STR(f) char *f;
#define FJ_CFG_FIELD_LVL(f) int f;
#define FJ_CFG_FIELD(key, kind, f, def, help) FJ_CFG_FIELD_##kind(f)
  FJ_SRV_SETTINGS(FJ_CFG_FIELD)
#undef FJ_CFG_FIELD
} fj_srv_config;

/* Defaults, then the file named by --config (if any), then the flags.  argv[0] is skipped.
 * *config_path receives the --config value (NULL if none; points into argv).  --help and
 * --version are not handled here.  On error fills err and returns FJ_ECONFIG. */
int fj_config_load(fj_srv_config *c, int argc, char **argv, const char **config_path,
                   char *err, size_t errlen);
void fj_config_free(fj_srv_config *c);
void fj_config_usage(void *file);

#endif
