/* farjit — the client JIT runtime on Linux: a libuv thread talking to farjitd through
 * fj_remote (farjit/remote.h), handed to the freestanding runtime as an fj_jit_transport, with
 * failover over several servers, reconnection with exponential backoff and an embedded farjitd
 * when no server is configured.  Contract: farjit/client_linux.h.
 *
 * Threads: the interpreter thread only touches the two queues (outbox of requests, inbox of
 * results) under a mutex it never waits for in poll (trylock), plus atomics, and rings the loop
 * thread through an eventfd; everything that talks to the network runs on the runtime thread's
 * loop.  A result is installed by the runtime at its next safe point (fj_jit's hot hook or
 * fj_jit_poll), never from the loop thread.
 *
 * Latency (first hot spot -> machine code): the embedded server is started at the first hot
 * spot and its socket retried every millisecond while it starts; the trace is recorded at once
 * and queued for that first connection rather than refused (which made the spot back off);
 * each request's stages are timed (fj_jit_linux_get_latency, and one --trace-log line each).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "farjit/client_linux.h"
#include "farjit/platform_linux.h"
#include "farjit/remote.h"
#include "farjit/target.h"
#include "farjit/trace.h"

/* STARTUP_*: while the embedded farjitd starts, its socket is retried every STARTUP_RETRY_MS (not
 * with the 20 ms backoff: the first trace waits for this connection) for up to STARTUP_MS. */
enum { BACKOFF_MIN_MS = 20, BACKOFF_MAX_MS = 5000, MAX_SERVERS = 8, STARTUP_RETRY_MS = 1,
       STARTUP_MS = 5000 };

typedef struct out_item {
  struct out_item *next;
  uint32_t id;
  bool cancel;
  uint16_t target;
  uint64_t t_submit;          /* now_ns() when the VM thread handed it over */
  size_t len;
  uint8_t trace[];
} out_item;

/* A request written to the server (loop thread): its times until the result comes back. */
typedef struct sent_req {
  uint32_t id;
  uint64_t t_submit, t_sent;
} sent_req;

typedef struct in_item {
  struct in_item *next;
  uint32_t id;
  int status;
  uint32_t compile_us;        /* as the server measured it */
  uint64_t t_submit, t_sent, t_recv, t_taken;  /* 0: that stage did not happen */
  char message[160];
  size_t len;
  uint8_t blob[];
} in_item;

struct fj_jit_linux {
  fj_vm *vm;
  fj_jit *jit;
  FILE *log;
  uv_mutex_t log_mu;

  /* shared between threads */
  uv_mutex_t mu;
  out_item *out_head, *out_tail;
  in_item *in_head, *in_tail;
  atomic_int connected;
  atomic_int stopping;
  atomic_uint results_queued;
  uv_cond_t cond;             /* signalled on every result and connection change (wait_ms) */
  bool blocking_poll;         /* wait_ms: poll takes the lock instead of trylock */
  atomic_int conn_wait_failed; /* a wait for the connection timed out: later ones return at once */
  atomic_int starting;        /* the embedded server was launched and has not been reached yet:
                                 requests queue for its first connection */
  int wake_fd;                /* eventfd the VM thread writes to wake the loop thread */
  atomic_int wake_pending;    /* written and not yet read: no second write */

  /* loop thread only */
  uv_loop_t loop;
  uv_thread_t thread;
  bool thread_started;
  uv_poll_t wake;
  uv_timer_t retry;
  fj_remote *r;
  bool linked;                /* r's Hello is written (FJ_REMOTE_LINKED): one request may follow */
  out_item *busy_head, *busy_tail;  /* refused with FJ_EBUSY (resent after the next result), or
                                       submitted while the embedded server starts */
  sent_req *sent;             /* written, not answered yet */
  uint32_t nsent, cap_sent;
  uint64_t t_launch;          /* loop thread's uv_now when the embedded server was found launched */
  char *servers[MAX_SERVERS];
  int nservers, cur;
  uint32_t backoff_ms;
  fj_remote_opts ropts;
  uint8_t psk[64];            /* ropts.psk points here: the caller's copy may not outlive attach */
  atomic_ullong connects, disconnects;
  atomic_ullong t_need, t_connected;  /* first need of a server (attach or launch); first Hello */

  /* VM thread only: where compile time went (fj_jit_linux_get_latency) */
  fj_jit_linux_latency lat;
  char *save_dir;             /* fj_jit_linux_opts.save_traces (VM thread only) */
  bool save_failed;

  /* embedded server: prepared at attach, started at the first hot spot (a program that never
   * gets hot never pays for a server process) */
  bool lazy;
  atomic_int spawned;   /* 0 not yet, 1 running, -1 failed to start or ended before listening */
  char server_bin[4200];
  pid_t server_pid;
  char sock_dir[64];
  char sock_addr[128];
};

/* ---- log ------------------------------------------------------------------------------------ */

static void log_line(void *ud, const char *line, size_t len) {
  fj_jit_linux *l = ud;
  if (!l->log) return;
  uv_mutex_lock(&l->log_mu);
  fprintf(l->log, "%.*s\n", (int)len, line);
  fflush(l->log);
  uv_mutex_unlock(&l->log_mu);
}

static void logf_(fj_jit_linux *l, const char *fmt, const char *a, const char *b) {
  if (!l->log) return;
  char buf[512];
  int n = snprintf(buf, sizeof buf, fmt, a, b ? b : "");
  log_line(l, buf, n < 0 ? 0 : (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void launch_server(fj_jit_linux *l);

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wake the loop thread.  Not uv_async_send: in libuv 1.44 the woken loop spins, then
 * sched_yield()s, until the sender has left uv_async_send, and a CPU-bound VM thread preempted
 * inside it (its own wake-up put the loop thread on its CPU) only gives the CPU back at the end
 * of its time slice: milliseconds before a trace went out on a busy machine.  An eventfd write
 * has no such window. */
static void wake_loop(fj_jit_linux *l) {
  if (atomic_exchange(&l->wake_pending, 1)) return;
  uint64_t one = 1;
  ssize_t w = write(l->wake_fd, &one, sizeof one);
  (void)w;  /* EAGAIN only with the counter already non-zero: the loop wakes anyway */
}

/* The embedded server is needed now (first hot spot): start it here, where a CPU is already
 * ours (handing the start to the loop thread cost one more wake-up: milliseconds on a loaded
 * machine), and let the loop connect; requests queue for that first connection meanwhile. */
static void need_server(fj_jit_linux *l) {
  if (!l->lazy || atomic_load(&l->spawned) != 0) return;
  atomic_store(&l->t_need, now_ns());
  launch_server(l);
  wake_loop(l);
}

/* ---- queues ----------------------------------------------------------------------------------- */

static void push_result(fj_jit_linux *l, uint32_t id, int status, const char *msg,
                        const uint8_t *blob, size_t len, const sent_req *times, uint32_t compile_us) {
  in_item *it = malloc(sizeof *it + len);
  if (!it) return;  /* the request then stays pending in the runtime: it only loses a trace */
  memset(it, 0, sizeof *it);
  it->id = id;
  it->status = status;
  if (times) {
    it->t_submit = times->t_submit;
    it->t_sent = times->t_sent;
    it->t_recv = times->t_sent ? now_ns() : 0;
  }
  it->compile_us = compile_us;
  snprintf(it->message, sizeof it->message, "%s", msg ? msg : "");
  it->len = len;
  if (len) memcpy(it->blob, blob, len);
  uv_mutex_lock(&l->mu);
  if (l->in_tail) l->in_tail->next = it;
  else l->in_head = it;
  l->in_tail = it;
  atomic_fetch_add(&l->results_queued, 1);
  uv_cond_broadcast(&l->cond);
  uv_mutex_unlock(&l->mu);
}

static void signal_waiters(fj_jit_linux *l) {
  uv_mutex_lock(&l->mu);
  uv_cond_broadcast(&l->cond);
  uv_mutex_unlock(&l->mu);
}

/* --save-traces: the trace as sent, DIR/<kind>-<pc>-<id>.trace. */
static void save_trace(fj_jit_linux *l, const fj_jit_request *rq) {
  static const char *const kinds[] = {"trace", "loop", "entry", "bridge"};
  const char *kind = rq->kind <= FJ_TRACE_BRIDGE ? kinds[rq->kind] : "trace";
  char path[4200];
  snprintf(path, sizeof path, "%s/%s-%u-%u.trace", l->save_dir, kind, rq->start_pc, rq->id);
  FILE *f = fopen(path, "wb");
  bool ok = f && fwrite(rq->trace, 1, rq->trace_len, f) == rq->trace_len;
  if (f && fclose(f) != 0) ok = false;
  if (!ok && !l->save_failed) {
    l->save_failed = true;
    fprintf(l->log ? l->log : stderr, "farjit: cannot write %s: %s\n", path, strerror(errno));
  }
}

/* Requests may be queued while connected, or while the embedded server starts (unless a wait
 * for that start already timed out): the loop sends them once the server answers Hello. */
static bool can_queue(fj_jit_linux *l) {
  return atomic_load(&l->connected) || (atomic_load(&l->starting) && !atomic_load(&l->conn_wait_failed));
}

static int t_submit(void *ud, const fj_jit_request *rq) {
  fj_jit_linux *l = ud;
  need_server(l);
  if (!can_queue(l)) return FJ_ECONN;
  out_item *it = malloc(sizeof *it + rq->trace_len);
  if (!it) return FJ_ENOMEM;
  memset(it, 0, sizeof *it);
  it->t_submit = now_ns();
  it->id = rq->id;
  it->target = rq->target;
  it->len = rq->trace_len;
  memcpy(it->trace, rq->trace, rq->trace_len);
  uv_mutex_lock(&l->mu);
  if (l->out_tail) l->out_tail->next = it;
  else l->out_head = it;
  l->out_tail = it;
  uv_mutex_unlock(&l->mu);
  wake_loop(l);
  if (l->save_dir) save_trace(l, rq);
  return 0;
}

/* Something is hot: now the embedded server is worth starting.  Recording goes ahead while it
 * starts (the trace is sent the moment it answers) instead of backing off until it is up. */
static bool t_ready(void *ud) {
  fj_jit_linux *l = ud;
  need_server(l);
  return can_queue(l);
}

static void t_cancel(void *ud, uint32_t id) {
  fj_jit_linux *l = ud;
  out_item *it = calloc(1, sizeof *it);
  if (!it) return;
  it->id = id;
  it->cancel = true;
  uv_mutex_lock(&l->mu);
  if (l->out_tail) l->out_tail->next = it;
  else l->out_head = it;
  l->out_tail = it;
  uv_mutex_unlock(&l->mu);
  wake_loop(l);
}

static bool inbox_has(const fj_jit_linux *l, uint32_t id) {
  for (const in_item *it = l->in_head; it; it = it->next)
    if (it->id == id) return true;
  return false;
}

/* wait_ms (farjit/client.h): the interpreter thread blocks here, bounded, only when asked to. */
static int t_wait(void *ud, uint32_t id, uint32_t timeout_ms) {
  fj_jit_linux *l = ud;
  if (!id) {
    if (atomic_load(&l->connected)) return 1;
    /* no process, or an earlier wait already found no server: do not pay again */
    if (atomic_load(&l->spawned) < 0 || atomic_load(&l->conn_wait_failed)) return 0;
  }
  const uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
  int ok = 0;
  uv_mutex_lock(&l->mu);
  for (;;) {
    if (id ? inbox_has(l, id) : atomic_load(&l->connected) != 0) {
      ok = 1;
      break;
    }
    uint64_t t = now_ns();
    if (t >= deadline || atomic_load(&l->stopping)) break;
    if (!id && atomic_load(&l->spawned) < 0) break;  /* the embedded server did not start */
    (void)uv_cond_timedwait(&l->cond, &l->mu, deadline - t);
  }
  uv_mutex_unlock(&l->mu);
  /* the request may have waited for the first connection: a server that is not up by now
   * costs no further waits (requests are refused until a connection succeeds) */
  if (!ok && (!id || !atomic_load(&l->connected))) atomic_store(&l->conn_wait_failed, 1);
  return ok;
}

static int t_poll(void *ud, fj_jit_result *res) {
  fj_jit_linux *l = ud;
  if (!atomic_load(&l->results_queued)) return 0;
  if (l->blocking_poll) uv_mutex_lock(&l->mu);
  else if (uv_mutex_trylock(&l->mu)) return 0;  /* never wait */
  in_item *it = l->in_head;
  if (it) {
    l->in_head = it->next;
    if (!l->in_head) l->in_tail = NULL;
  }
  uv_mutex_unlock(&l->mu);
  if (!it) return 0;
  atomic_fetch_sub(&l->results_queued, 1);
  it->t_taken = now_ns();
  res->id = it->id;
  res->status = it->status;
  snprintf(res->message, sizeof res->message, "%s", it->message);
  res->blob = it->status == 0 ? it->blob : NULL;
  res->blob_len = it->status == 0 ? it->len : 0;
  res->priv = it;
  return 1;
}

static void lat_add(fj_jit_linux_latency *a, int stage, uint64_t ns) {
  if (a->results == 1) a->first_ns[stage] = ns;
  a->sum_ns[stage] += ns;
  if (ns > a->max_ns[stage]) a->max_ns[stage] = ns;
}

/* The runtime is done with the result (installed or rejected): its stages are complete. */
static void t_release(void *ud, fj_jit_result *res) {
  fj_jit_linux *l = ud;
  in_item *it = res->priv;
  if (it && it->status == 0 && it->t_sent) {
    const uint64_t t = now_ns();
    const uint64_t ns[FJ_JL__COUNT] = {
        [FJ_JL_send] = it->t_sent - it->t_submit, [FJ_JL_server] = it->t_recv - it->t_sent,
        [FJ_JL_compile] = (uint64_t)it->compile_us * 1000u, [FJ_JL_deliver] = it->t_taken - it->t_recv,
        [FJ_JL_install] = t - it->t_taken};
    l->lat.results++;
    for (int i = 0; i < FJ_JL__COUNT; i++) lat_add(&l->lat, i, ns[i]);
    if (l->log) {
      char buf[256];
      int n = snprintf(buf, sizeof buf,
                       "jit: request %u: send %.3f ms, server %.3f ms (compile %.3f), deliver %.3f ms, "
                       "install %.3f ms",
                       it->id, (double)ns[FJ_JL_send] / 1e6, (double)ns[FJ_JL_server] / 1e6,
                       (double)ns[FJ_JL_compile] / 1e6, (double)ns[FJ_JL_deliver] / 1e6,
                       (double)ns[FJ_JL_install] / 1e6);
      log_line(l, buf, n < 0 ? 0 : (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    }
  }
  free(it);
  res->priv = NULL;
}

/* ---- the loop thread --------------------------------------------------------------------- */

static void connect_next(fj_jit_linux *l);

static void fail_list(fj_jit_linux *l, out_item *it, int status) {
  while (it) {
    out_item *next = it->next;
    sent_req t = {it->id, it->t_submit, 0};
    if (!it->cancel) push_result(l, it->id, status, "not connected", NULL, 0, &t, 0);
    free(it);
    it = next;
  }
}

static void busy_append(fj_jit_linux *l, out_item *it) {
  if (l->busy_tail) l->busy_tail->next = it;
  else l->busy_head = it;
  l->busy_tail = it;
}

/* Remember when a request went out (its result's times are completed from this). */
static void sent_add(fj_jit_linux *l, const out_item *it, uint64_t t_sent) {
  if (l->nsent == l->cap_sent) {
    uint32_t cap = l->cap_sent ? 2 * l->cap_sent : 16;
    sent_req *p = realloc(l->sent, cap * sizeof *p);
    if (!p) return;  /* that request is only not timed */
    l->sent = p;
    l->cap_sent = cap;
  }
  l->sent[l->nsent++] = (sent_req){it->id, it->t_submit, t_sent};
}

static bool sent_take(fj_jit_linux *l, uint32_t id, sent_req *out) {
  for (uint32_t i = 0; i < l->nsent; i++) {
    if (l->sent[i].id == id) {
      *out = l->sent[i];
      l->sent[i] = l->sent[--l->nsent];
      return true;
    }
  }
  return false;
}

/* Send what can be sent; requests refused for now (FJ_EBUSY) or waiting for the embedded
 * server's first connection go to the busy list. */
static void send_items(fj_jit_linux *l, out_item *it) {
  while (it) {
    out_item *next = it->next;
    it->next = NULL;
    if (it->cancel) {
      if (l->r && atomic_load(&l->connected)) fj_remote_cancel(l->r, it->id);
      free(it);
    } else if (!atomic_load(&l->connected) && !l->linked && atomic_load(&l->starting)) {
      busy_append(l, it);
    } else {
      const uint64_t t = now_ns();  /* before the write: the server may answer before it returns */
      int rc = l->r && (atomic_load(&l->connected) || l->linked)
                   ? fj_remote_submit(l->r, it->id, it->trace, it->len, it->target, 0)
                   : FJ_ECONN;
      if (rc == FJ_EBUSY) {
        busy_append(l, it);
      } else {
        const sent_req unsent = {it->id, it->t_submit, 0};
        if (rc == 0) sent_add(l, it, t);
        else push_result(l, it->id, rc, fj_strerror(rc), NULL, 0, &unsent, 0);
        free(it);
      }
    }
    it = next;
  }
}

static void flush_busy(fj_jit_linux *l) {
  out_item *it = l->busy_head;
  l->busy_head = l->busy_tail = NULL;
  send_items(l, it);
}

static void on_result(fj_remote *r, const fj_remote_result *res, void *ud) {
  (void)r;
  fj_jit_linux *l = ud;
  sent_req t;
  bool timed = sent_take(l, (uint32_t)res->id, &t);
  push_result(l, (uint32_t)res->id, res->status, res->message, res->blob, res->blob_size,
              timed ? &t : NULL, res->compile_us);
  flush_busy(l);
}

static void on_retry(uv_timer_t *t) { connect_next(t->data); }

static void schedule_retry(fj_jit_linux *l) {
  if (atomic_load(&l->stopping)) return;
  if (l->lazy && atomic_load(&l->spawned) < 0) return;  /* the embedded server is gone */
  if (atomic_load(&l->starting)) {
    uv_timer_start(&l->retry, on_retry, STARTUP_RETRY_MS, 0);
    return;
  }
  l->cur = (l->cur + 1) % l->nservers;  /* fail over to the next address */
  uv_timer_start(&l->retry, on_retry, l->backoff_ms, 0);
  l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
}

/* A failed connection while the embedded server starts: true if it is worth retrying at once
 * (the process lives and STARTUP_MS have not passed); otherwise the start is over. */
static bool still_starting(fj_jit_linux *l) {
  if (!atomic_load(&l->starting)) return false;
  int st;
  if (l->server_pid > 0 && waitpid(l->server_pid, &st, WNOHANG) == l->server_pid) {
    l->server_pid = 0;
    atomic_store(&l->spawned, -1);
    char why[64];
    snprintf(why, sizeof why, WIFEXITED(st) ? "exit status %d" : "signal %d",
             WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    logf_(l, "jit: embedded farjitd ended (%s) before accepting connections; running without JIT%s",
          why, "");
  } else if (uv_now(&l->loop) - l->t_launch < STARTUP_MS) {
    return true;
  }
  atomic_store(&l->starting, 0);
  return false;
}

static void on_state(fj_remote *r, int status, const char *msg, void *ud) {
  fj_jit_linux *l = ud;
  if (status == FJ_REMOTE_LINKED) {  /* the first queued request goes out right behind Hello */
    l->linked = true;
    flush_busy(l);
    return;
  }
  const bool was_linked = l->linked;
  l->linked = false;
  if (status == 0) {
    atomic_store(&l->connected, 1);
    atomic_store(&l->conn_wait_failed, 0);
    atomic_store(&l->starting, 0);
    unsigned long long zero = 0;
    atomic_compare_exchange_strong(&l->t_connected, &zero, now_ns());
    signal_waiters(l);
    l->backoff_ms = BACKOFF_MIN_MS;
    l->connects++;
    logf_(l, "jit: connected to %s%s", l->servers[l->cur], "");
    flush_busy(l);  /* requests recorded while the embedded server started */
    return;
  }
  atomic_store(&l->connected, 0);
  if (r == l->r) l->r = NULL;
  fj_remote_close(r);
  if (was_linked) atomic_store(&l->starting, 0);  /* it listens: this failure is a real one */
  if (still_starting(l)) {  /* not listening yet: no log, no backoff, requests keep waiting */
    uv_timer_start(&l->retry, on_retry, STARTUP_RETRY_MS, 0);
    return;
  }
  signal_waiters(l);
  l->disconnects++;
  logf_(l, "jit: server %s: %s", l->servers[l->cur], msg);
  out_item *busy = l->busy_head;
  l->busy_head = l->busy_tail = NULL;
  fail_list(l, busy, FJ_ECONN);
  /* A server that refuses us (version, ABI, credentials) will not change its mind soon. */
  if (status == FJ_EVERSION || status == FJ_EAUTH || status == FJ_ETLS) l->backoff_ms = BACKOFF_MAX_MS;
  schedule_retry(l);
}

static void connect_next(fj_jit_linux *l) {
  if (atomic_load(&l->stopping) || l->r) return;
  char err[256] = "";
  fj_remote_opts o = l->ropts;
  o.address = l->servers[l->cur];
  l->r = fj_remote_connect(&l->loop, &o, on_state, on_result, l, err, sizeof err);
  if (!l->r) {
    logf_(l, "jit: server %s: %s", o.address, err);
    atomic_store(&l->starting, 0);
    out_item *busy = l->busy_head;
    l->busy_head = l->busy_tail = NULL;
    fail_list(l, busy, FJ_ECONN);
    signal_waiters(l);
    schedule_retry(l);
  }
}

static void close_cb(uv_handle_t *h) { (void)h; }

static void on_wake(uv_poll_t *h, int status, int events) {
  (void)status, (void)events;
  fj_jit_linux *l = h->data;
  uint64_t n;
  ssize_t got = read(l->wake_fd, &n, sizeof n);
  (void)got;
  atomic_store(&l->wake_pending, 0);  /* before taking the queue: a later submit writes again */
  uv_mutex_lock(&l->mu);
  out_item *it = l->out_head;
  l->out_head = l->out_tail = NULL;
  uv_mutex_unlock(&l->mu);
  if (atomic_load(&l->stopping)) {
    fail_list(l, it, FJ_ECANCELED);
    fail_list(l, l->busy_head, FJ_ECANCELED);
    l->busy_head = l->busy_tail = NULL;
    if (l->r) fj_remote_close(l->r);
    l->r = NULL;
    uv_timer_stop(&l->retry);
    uv_close((uv_handle_t *)&l->retry, close_cb);
    uv_close((uv_handle_t *)&l->wake, close_cb);
    return;
  }
  if (l->lazy && atomic_load(&l->spawned) == 1 && !l->r && !uv_is_active((uv_handle_t *)&l->retry)) {
    if (!l->t_launch) {
      uv_update_time(&l->loop);
      l->t_launch = uv_now(&l->loop);
    }
    connect_next(l);
  }
  send_items(l, it);
}

/* Ask for a short time slice (EEVDF's custom slice, Linux >= 6.12; older kernels ignore
 * sched_runtime for SCHED_OTHER): the loop thread, and the embedded server, work for
 * microseconds per wake-up, and under load each hand-off otherwise waited for whoever ran to
 * finish its default slice (1.4 ms here).  Measured at load 3-5: the loop thread ran 1.8-4.7 ms
 * after the VM thread woke it, at once with 100 us; warm-up 6.4-9.7 -> 4.6-6.3 ms.  Best
 * effort: same policy and nice value, no privilege needed; a thread the host made
 * non-SCHED_OTHER is left alone. */
static void short_slice(void) {
  struct {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
  } a;
  if (sched_getscheduler(0) != SCHED_OTHER) return;
  memset(&a, 0, sizeof a);
  a.size = sizeof a;  /* SCHED_ATTR_SIZE_VER0 */
  a.policy = SCHED_OTHER;
  errno = 0;
  int nice = getpriority(PRIO_PROCESS, 0);  /* this thread's (Linux: PRIO_PROCESS 0 = caller) */
  if (errno) return;
  a.nice = nice;
  a.runtime = 100 * 1000;
  (void)syscall(SYS_sched_setattr, 0, &a, 0);
}

static void thread_main(void *arg) {
  fj_jit_linux *l = arg;
  short_slice();
  /* Writes to a server that died must fail with EPIPE on this thread, not kill the process
   * (the host's own SIGPIPE disposition stays as it is). */
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
  if (!l->lazy) connect_next(l);
  uv_run(&l->loop, UV_RUN_DEFAULT);
}

/* ---- embedded farjitd --------------------------------------------------------------------- */

/* A fresh socket directory and the binary to run (started later by launch_server). */
static int prepare_server(fj_jit_linux *l, const char *path, char *err, size_t errlen) {
  snprintf(l->sock_dir, sizeof l->sock_dir, "/tmp/farjit-XXXXXX");
  if (!mkdtemp(l->sock_dir)) {
    snprintf(err, errlen, "embedded server: mkdtemp: %s", strerror(errno));
    l->sock_dir[0] = 0;
    return FJ_EIO;
  }
  snprintf(l->sock_addr, sizeof l->sock_addr, "unix:%s/farjitd.sock", l->sock_dir);
  const char *bin = path ? path : getenv("FARJITD");
  if (!bin) {
    /* next to the running program (build/rel/bin/farjit -> build/rel/bin/farjitd), else PATH */
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash = n > 0 ? (exe[n] = 0, strrchr(exe, '/')) : NULL;
    if (slash) {
      *slash = 0;
      snprintf(l->server_bin, sizeof l->server_bin, "%s/farjitd", exe);
      if (access(l->server_bin, X_OK) == 0) bin = l->server_bin;
    }
    if (!bin) bin = "farjitd";
  }
  if (bin != l->server_bin) snprintf(l->server_bin, sizeof l->server_bin, "%s", bin);
  return 0;
}

/* Start the embedded farjitd (interpreter thread, first hot spot).  vfork + exec: no copy of
 * this process's page tables (the VM may be large; fork took milliseconds here, and every page
 * the interpreter wrote afterwards faulted once more), and this thread waits only until the
 * child has exec'd.  Not posix_spawn: the child must die with us (PR_SET_PDEATHSIG) even if we
 * crash, and must not hold our stdout/stderr (a caller reading them until EOF would hang).
 * Until exec the child runs on our memory and only makes system calls; every signal is blocked
 * around vfork and the child resets caught signals to their defaults before unblocking, so no
 * handler of ours runs in it. */
static void launch_server(fj_jit_linux *l) {
  char *argv[] = {l->server_bin, "--listen", l->sock_addr, "--threads", "1", "--log_level", "error", NULL};
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t parent = getpid();
  volatile int child_errno = 0;  /* shared with the child until it execs */
  pid_t pid = vfork();
  if (pid == 0) {
    short_slice();  /* inherited by the server's threads */
    for (int s = 1; s < NSIG; s++) {
      struct sigaction sa;
      if (sigaction(s, NULL, &sa) || sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN) continue;
      memset(&sa, 0, sizeof sa);
      sa.sa_handler = SIG_DFL;
      sigaction(s, &sa, NULL);
    }
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    execvp(argv[0], argv);
    child_errno = errno ? errno : ENOEXEC;
    _exit(127);
  }
  const int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (pid < 0 || child_errno) {
    if (pid > 0) waitpid(pid, NULL, 0);
    atomic_store(&l->spawned, -1);
    logf_(l, "jit: cannot start embedded server %s: %s; running without JIT", l->server_bin,
          strerror(pid < 0 ? fork_errno : child_errno));
    return;
  }
  l->server_pid = pid;
  atomic_store(&l->starting, 1);
  atomic_store(&l->spawned, 1);
  logf_(l, "jit: started embedded farjitd (%s) on %s", l->server_bin, l->sock_addr);
}

static void stop_server(fj_jit_linux *l) {
  if (l->server_pid > 0) {
    kill(l->server_pid, SIGTERM);
    int st;
    for (int i = 0; i < 200; i++) {  /* up to 2 s, then kill */
      if (waitpid(l->server_pid, &st, WNOHANG) == l->server_pid) {
        l->server_pid = 0;
        break;
      }
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    if (l->server_pid > 0) {
      kill(l->server_pid, SIGKILL);
      waitpid(l->server_pid, &st, 0);
    }
    l->server_pid = 0;
  }
  if (l->sock_dir[0]) {
    char p[160];
    snprintf(p, sizeof p, "%s/farjitd.sock", l->sock_dir);
    unlink(p);
    rmdir(l->sock_dir);
    l->sock_dir[0] = 0;
  }
}

/* ---- public ------------------------------------------------------------------------------- */

static int parse_servers(fj_jit_linux *l, const char *list) {
  const char *p = list;
  while (*p && l->nservers < MAX_SERVERS) {
    while (*p == ',' || *p == ' ') p++;
    size_t n = strcspn(p, ", ");
    if (!n) break;
    l->servers[l->nservers] = strndup(p, n);
    if (!l->servers[l->nservers]) return FJ_ENOMEM;
    l->nservers++;
    p += n;
  }
  return l->nservers ? 0 : FJ_ECONFIG;
}

void fj_jit_linux_detach(fj_jit_linux *l) {
  if (!l) return;
  if (l->jit) fj_jit_destroy(l->jit);
  l->jit = NULL;
  if (l->thread_started) {
    atomic_store(&l->stopping, 1);
    atomic_store(&l->wake_pending, 0);  /* this wake-up must be written */
    wake_loop(l);
    uv_thread_join(&l->thread);
    uv_run(&l->loop, UV_RUN_DEFAULT);  /* let the remote's handles close */
  }
  uv_loop_close(&l->loop);
  if (l->wake_fd >= 0) close(l->wake_fd);
  free(l->sent);
  fail_list(l, l->out_head, FJ_ECANCELED);
  in_item *in = l->in_head;
  while (in) {
    in_item *next = in->next;
    free(in);
    in = next;
  }
  stop_server(l);
  for (int i = 0; i < l->nservers; i++) free(l->servers[i]);
  free(l->save_dir);
  uv_cond_destroy(&l->cond);
  uv_mutex_destroy(&l->mu);
  uv_mutex_destroy(&l->log_mu);
  free(l);
}

fj_jit_linux *fj_jit_linux_attach(fj_vm *vm, const fj_jit_linux_opts *o, char *err, size_t errlen) {
  fj_jit_linux *l = calloc(1, sizeof *l);
  if (!l) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  l->vm = vm;
  l->wake_fd = -1;
  l->log = o->trace_log;
  l->backoff_ms = BACKOFF_MIN_MS;
  if (o->save_traces && *o->save_traces) {
    if (!(l->save_dir = strdup(o->save_traces))) {
      snprintf(err, errlen, "out of memory");
      free(l);
      return NULL;
    }
    (void)mkdir(l->save_dir, 0777);  /* an existing directory is fine; failures show on write */
  }
  uv_mutex_init(&l->mu);
  uv_cond_init(&l->cond);
  uv_mutex_init(&l->log_mu);
  l->blocking_poll = o->cfg && o->cfg->wait_ms;
  uv_loop_init(&l->loop);
  if (o->remote) l->ropts = *o->remote;
  if (l->ropts.psk && l->ropts.psk_len) {
    if (l->ropts.psk_len > sizeof l->psk) l->ropts.psk_len = sizeof l->psk;
    memcpy(l->psk, l->ropts.psk, l->ropts.psk_len);
    l->ropts.psk = l->psk;
  }
  l->ropts.target = (uint32_t)fj_jit_host_target();
  l->ropts.early_submit = true;
  if (!l->ropts.client_id) l->ropts.client_id = "farjit-client";

  bool want_server = o->servers && *o->servers;
  bool want_embedded = !want_server && !o->no_spawn && fj_jit_host_target() != FJ_TARGET_NONE;
  int rc = 0;
  if (want_server) {
    rc = parse_servers(l, o->servers);
    if (rc) snprintf(err, errlen, "no server address in '%s'", o->servers);
  } else if (want_embedded) {
    /* No compile server is not an error: say so and interpret. */
    if (prepare_server(l, o->farjitd_path, err, errlen) == 0) {
      rc = parse_servers(l, l->sock_addr);
      l->lazy = true;
    } else {
      fprintf(l->log ? l->log : stderr, "farjit: %s; running without JIT\n", err);
    }
  }
  if (rc) {
    fj_jit_linux_detach(l);
    return NULL;
  }
  fj_jit_env env;
  memset(&env, 0, sizeof env);
  env.exec = fj_jit_linux_exec(o->exec_mode);
  if (l->nservers) env.transport = (fj_jit_transport){t_submit, t_poll, t_release, t_cancel, t_ready, t_wait, l};
  env.log = o->trace_log ? log_line : NULL;
  env.log_ud = l;
  int jerr = 0;
  l->jit = fj_jit_create(vm, o->cfg, &env, &jerr);
  if (!l->jit) {
    snprintf(err, errlen, "JIT runtime: %s", fj_strerror(jerr));
    fj_jit_linux_detach(l);
    return NULL;
  }
  if (l->nservers) {
    l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->wake_fd < 0) {
      snprintf(err, errlen, "JIT runtime: eventfd: %s", strerror(errno));
      fj_jit_linux_detach(l);
      return NULL;
    }
    uv_poll_init(&l->loop, &l->wake, l->wake_fd);
    uv_poll_start(&l->wake, UV_READABLE, on_wake);
    l->wake.data = l;
    uv_timer_init(&l->loop, &l->retry);
    l->retry.data = l;
    if (!l->lazy) atomic_store(&l->t_need, now_ns());
    if (uv_thread_create(&l->thread, thread_main, l)) {
      snprintf(err, errlen, "JIT runtime: cannot start its thread");
      uv_close((uv_handle_t *)&l->wake, close_cb);
      uv_close((uv_handle_t *)&l->retry, close_cb);
      uv_run(&l->loop, UV_RUN_DEFAULT);
      fj_jit_linux_detach(l);
      return NULL;
    }
    l->thread_started = true;
  }
  return l;
}

fj_jit *fj_jit_linux_runtime(fj_jit_linux *l) { return l->jit; }

bool fj_jit_linux_connected(const fj_jit_linux *l) { return atomic_load(&l->connected) != 0; }

int fj_jit_linux_wait(fj_jit_linux *l, bool for_connection, uint32_t timeout_ms) {
  if (for_connection) need_server(l);
  const uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
  for (;;) {
    if (for_connection && (!l->nservers || atomic_load(&l->spawned) < 0)) return FJ_ECONN;
    fj_jit_poll(l->jit);
    if (for_connection ? fj_jit_linux_connected(l) : fj_jit_pending(l->jit) == 0) return 0;
    uint64_t t = now_ns();
    if (t >= deadline) return FJ_ETIMEDOUT;
    /* sleep until a result or a connection change arrives (both signal cond under mu); what
     * ends the wait is checked again under mu, or a signal sent since the checks above is lost */
    uv_mutex_lock(&l->mu);
    if (!atomic_load(&l->results_queued) &&
        !(for_connection && (atomic_load(&l->connected) || atomic_load(&l->spawned) < 0)))
      (void)uv_cond_timedwait(&l->cond, &l->mu, deadline - t);
    uv_mutex_unlock(&l->mu);
  }
}

void fj_jit_linux_get_latency(const fj_jit_linux *l, fj_jit_linux_latency *out) {
  *out = l->lat;
  uint64_t need = atomic_load(&l->t_need), conn = atomic_load(&l->t_connected);
  out->connect_ns = need && conn > need ? conn - need : 0;
}

const char *fj_jit_linux_stage_name(int stage) {
  static const char *const names[] = {
#define FJ_JIT_LINUX_STAGE_NAME(name, text) #name,
      FJ_JIT_LINUX_STAGES(FJ_JIT_LINUX_STAGE_NAME)
#undef FJ_JIT_LINUX_STAGE_NAME
  };
  _Static_assert(sizeof names / sizeof names[0] == FJ_JL__COUNT, "one name per stage");
  return stage >= 0 && stage < FJ_JL__COUNT ? names[stage] : "?";
}

void fj_jit_linux_print_stats(fj_jit_linux *l, FILE *f) {
  size_t n = fj_jit_stats_format(l->jit, NULL, 0);
  char *buf = malloc(n + 1);
  if (buf) {
    fj_jit_stats_format(l->jit, buf, n + 1);
    fputs(buf, f);
    free(buf);
  }
  fprintf(f, "jit: server connects %llu, disconnects %llu\n",
          (unsigned long long)atomic_load(&l->connects), (unsigned long long)atomic_load(&l->disconnects));
  fj_jit_linux_latency lat;
  fj_jit_linux_get_latency(l, &lat);
  if (lat.connect_ns) fprintf(f, "jit: latency connect %.3f ms\n", (double)lat.connect_ns / 1e6);
  for (int i = 0; lat.results && i < FJ_JL__COUNT; i++)
    fprintf(f, "jit: latency %s ms: first %.3f, mean %.3f, max %.3f over %llu results\n",
            fj_jit_linux_stage_name(i), (double)lat.first_ns[i] / 1e6,
            (double)lat.sum_ns[i] / 1e6 / (double)lat.results, (double)lat.max_ns[i] / 1e6,
            (unsigned long long)lat.results);
}
