/* farjitd — state shared by the server's files.
 *
 * Threads: one libuv loop thread owns every structure here (connections, jobs' bookkeeping,
 * cache, metrics).  Worker threads (libuv's pool, UV_THREADPOOL_SIZE = config `threads`) only run
 * fj_job_work(): the compile and the disk cache, touching nothing but their own job.
 *
 * Lifetimes: a connection lives from accept to its uv_close callback.  Jobs a connection started
 * may outlive it (a worker cannot be interrupted): closing detaches them (job->conn = NULL) and
 * they free themselves when the worker is done.
 */
#ifndef FARJIT_SERVER_SERVER_H
#define FARJIT_SERVER_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "farjit/codegen.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/tls.h"
#include "server/cache.h"
#include "server/config.h"
#include "server/metrics.h"

typedef struct fj_srv fj_srv;
typedef struct fj_conn fj_conn;
typedef struct fj_job fj_job;
typedef struct fj_client_addr fj_client_addr;

#define FJ_SRV_ADDR_BUCKETS 256

typedef struct fj_listener {
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    uv_handle_t h;
    uv_stream_t s;
  } u;
  fj_srv *srv;
  bool tls;
  char addr[256];
  char unlink_path[256];   /* unix sockets: removed on close */
} fj_listener;

struct fj_job {
  uv_work_t work;
  fj_srv *srv;
  fj_conn *conn;           /* NULL once detached */
  fj_job *next;            /* conn's job list */
  uint64_t id;
  uint8_t *trace;
  size_t len;
  int target;
  fj_codegen_opts opts;
  uint8_t key[32];
  char *cache_dir;         /* copy: config may be reloaded while the job runs */
  uint64_t t_arrival;      /* uv_now at request */
  bool answered;           /* a result was already sent (canceled, timed out) */
  /* Identical requests in flight share one compile: the first is the leader (it has the
   * uv_work), later ones are its followers and get its result. */
  fj_job *leader;          /* followers: the job doing the work */
  fj_job *followers;       /* leaders: chain through fnext */
  fj_job *fnext;
  fj_job *tab_next;        /* leaders: chain in fj_srv.pending */
  /* Filled by the worker. */
  fj_codegen_result res;
  bool from_disk;
  double seconds;
};

typedef struct fj_buf {
  uint8_t *p;
  size_t off, len, cap;
} fj_buf;

struct fj_conn {
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    uv_handle_t h;
    uv_stream_t s;
  } u;
  fj_srv *srv;
  fj_conn *prev, *next;
  uint64_t id;
  char peer[96];           /* address */
  fj_client_addr *addr;    /* per-address accounting (clients.c); NULL for Unix sockets */
  char client[96];         /* client_id from Hello (+ TLS identity) */
  fj_tls *tls;
  fj_frame_reader rd;
  uint8_t *rbuf;
  fj_buf in;               /* plaintext not yet framed (kept while paused) */
  int state;               /* FJ_CONN_* */
  bool reading, closing, shutting;
  bool eof;                /* the peer shut its side: answer what it sent, then close */
  uint32_t inflight;       /* jobs queued or running for this connection */
  fj_job *jobs;
  size_t write_queued;     /* bytes handed to uv_write not yet completed */
  uint64_t t_open, t_frame, t_active, t_close; /* uv_now: accept, frame start, last msg, close */
  uint64_t requests, compiles, cache_hits, errors, bytes_in, bytes_out;
};

enum { FJ_CONN_TLS_HANDSHAKE, FJ_CONN_HELLO, FJ_CONN_READY };

struct fj_srv {
  uv_loop_t *loop;
  fj_srv_config cfg;
  const char *config_path;
  int argc;
  char **argv;
  fj_listener *listeners[FJ_SRV_MAX_LISTEN];
  int nlisteners;
  uv_tcp_t http;
  bool http_open;
  uint32_t http_conns;     /* open HTTP connections (bounded: HTTP_MAX_CONNS in http.c) */
  fj_tls_conf *tls;        /* for new TLS connections; NULL if no TLS listener */
  fj_cache *cache;
  fj_metrics m;
  fj_conn *conns;
  uint64_t next_conn_id;
  uint32_t jobs_live;      /* jobs not yet freed (detached ones included) */
  fj_job *pending[256];    /* leaders by key[0], to share identical compiles in flight */
  fj_client_addr *addrs[FJ_SRV_ADDR_BUCKETS]; /* connections per client address */
  bool draining;
  uint64_t drain_deadline;
  uv_timer_t tick;
  uv_signal_t sig[3];
};

/* listen.c */
int fj_listen_all(fj_srv *s);
void fj_listen_close_all(fj_srv *s);

/* conn.c */
void fj_conn_accept(fj_listener *l);
void fj_conn_close(fj_conn *c, const char *why);
/* Send frame bytes (takes ownership of buf, malloc'd).  Returns 0 or a negative code. */
int fj_conn_send(fj_conn *c, uint8_t *buf, size_t len);
void fj_conn_send_error(fj_conn *c, int code, uint64_t id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Resume reading (after back-pressure eased) and process buffered input. */
void fj_conn_resume(fj_conn *c);
/* Deadlines: handshake, slowloris, idle, close.  Called by the tick timer. */
void fj_conn_tick(fj_conn *c, uint64_t now);

/* work.c */
void fj_job_submit(fj_conn *c, const Farjit__CompileRequest *req);
void fj_job_cancel(fj_conn *c, uint64_t id);
void fj_job_detach_all(fj_conn *c);
void fj_job_tick(fj_conn *c, uint64_t now);
void fj_result_send(fj_conn *c, uint64_t id, int status, const char *msg, const uint8_t *blob,
                    size_t size, const fj_codegen_stats *st, bool cache_hit, int abort_reason,
                    uint32_t compile_us);
/* Targets the linked compiler supports, as bits (1 << fj_target); 0 without a compiler. */
uint32_t fj_srv_targets(void);
int fj_srv_have_compiler(void);

/* clients.c: count a connection from key (an IP address); *count = its connections now. */
fj_client_addr *fj_clients_acquire(fj_srv *s, const char *key, uint32_t *count);
void fj_clients_release(fj_srv *s, fj_client_addr *a);

/* http.c */
int fj_http_listen(fj_srv *s);
void fj_http_close(fj_srv *s);

/* main.c */
bool fj_srv_ready(const fj_srv *s);

#endif
