/* tests/server: helpers shared by the farjitd end-to-end tests — start/stop real farjitd
 * processes on loopback with free ports, raw-socket clients, hand-built traces, TLS material.
 * Every server is started by a test and stopped by it; srv_stop() checks a clean exit. */
#ifndef FJ_TESTS_SERVER_HARNESS_H
#define FJ_TESTS_SERVER_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/msg.h"

typedef struct srv {
  pid_t pid;
  char log[256];
  char tcp[96];       /* "127.0.0.1:PORT" of the first tcp:// listener, "" if none */
  char tls[96];       /* first tls:// listener */
  char tcp6[96];      /* "[::1]:PORT" */
  char http[96];
  char unix_path[128];
} srv;

/* Start farjitd with args (NULL-terminated); waits until it logs event=start.  Returns 0. */
int srv_start(srv *s, const char *const *args);
/* SIGTERM, wait for a clean exit (status 0, no handles left open).  Returns 0 if clean. */
int srv_stop(srv *s);
int srv_signal(srv *s, int sig);
/* Kill (SIGKILL) and reap every server a failed test left running; returns how many. */
int srv_kill_leftovers(void);
int srv_nfds(const srv *s);
long srv_rss_kb(const srv *s);
bool srv_log_has(const srv *s, const char *needle);
/* srv_log_has, waiting up to 2 s for the server to write the line. */
bool srv_log_wait(const srv *s, const char *needle);
/* Value of a Prometheus sample line "name value" (exact name incl. labels), or -1. */
long long srv_metric(const srv *s, const char *name);
/* GET path over HTTP; returns the status code and fills body (NUL-terminated). */
int http_get(const char *hostport, const char *path, char *body, size_t cap);

/* Raw blocking socket to "HOST:PORT" (5 s receive timeout).  -1 on failure. */
int raw_connect(const char *hostport);
int raw_send(int fd, const void *p, size_t n);
int raw_send_env(int fd, const fj_envelope *env);
/* Next frame as an envelope (caller frees with fj_msg_free), NULL on EOF/timeout/garbage. */
fj_envelope *raw_recv(int fd);
/* True when the peer closes within the receive timeout (data before the close is skipped). */
bool raw_wait_eof(int fd);
/* Send a good Hello and read the HelloAck; returns the ack's targets bits or -1. */
int raw_hello(int fd);
int raw_compile(int fd, uint64_t id, const void *trace, size_t len, uint32_t target);

/* A valid 2-record ENTRY trace (mov r0, imm; exit): 88 bytes into buf. */
size_t make_trace(uint8_t *buf, int32_t imm);

/* Generates CA, server (CN=localhost, SAN localhost/127.0.0.1), client cert and a second,
 * unrelated CA in dir with the openssl CLI.  0 on success. */
int make_certs(const char *dir);
int count_own_fds(void);

#endif
