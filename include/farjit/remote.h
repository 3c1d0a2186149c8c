/* farjit — the asynchronous client of farjitd (libuv), for the CLI and the Linux client runtime.
 *
 * One fj_remote is one connection: TCP (IPv4/IPv6), Unix socket, either with TLS (server
 * verified by a CA, optional client certificate = mutual TLS) or TLS-PSK.  It connects,
 * performs the Hello handshake, then carries pipelined compile requests; results arrive in any
 * order through a callback.  It never reconnects by itself: after a failure the owner closes it
 * and creates a new one when it wants to (with its own backoff).
 *
 * Threads: every fj_remote_* call must be made on the thread running `loop`, and every callback
 * runs on that thread, from inside uv_run().  Another thread that wants to submit must hop onto
 * the loop (uv_async_send) first.  Callbacks may call fj_remote_submit/cancel/close.
 *
 * Ownership: fj_remote_submit copies the trace, so the caller may free it on return.  In the
 * result callback, res->blob and res->message point into a message that is freed when the
 * callback returns: copy the blob to keep it.  fj_remote_close() frees the object after its
 * handles have closed (the next loop iteration); no callback runs after fj_remote_close returns.
 *
 * Signals: libuv writes with write(2), so a server that hangs up raises SIGPIPE; the process
 * must ignore it (signal(SIGPIPE, SIG_IGN)) — this library does not change signal dispositions.
 *
 * Errors: negative FJ_E* (farjit/error.h).  Every accepted submit gets exactly one result
 * callback (unless the owner calls fj_remote_close first): the server's CompileResult, or
 * FJ_ECONN/FJ_ETLS/FJ_EVERSION/... for every request still outstanding when the connection
 * fails, delivered before the state callback reports the failure.  The state callback reports the end of the
 * handshake (status 0) and, once, the end of the connection (status < 0 and a message such as
 * "server speaks protocol 1..1, we speak 2..2" or "TLS handshake: certificate verification
 * failed: The certificate is not correctly signed by the trusted CA").
 */
#ifndef FARJIT_REMOTE_H
#define FARJIT_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

typedef struct fj_remote fj_remote;

typedef struct fj_remote_opts {
  const char *address;        /* "HOST:PORT", "[V6]:PORT" or "unix:PATH" */
  bool tls;                   /* implied by tls_ca or psk_identity */
  const char *tls_ca;         /* CA file that signed the server certificate */
  const char *tls_cert;       /* client certificate + key (mutual TLS) */
  const char *tls_key;
  const char *server_name;    /* name the server certificate must carry; default: the HOST
                                 part of address when it is not a numeric IP */
  const char *psk_identity;   /* TLS-PSK instead of certificates */
  const uint8_t *psk;
  size_t psk_len;
  const char *client_id;      /* shown in the server's logs */
  uint32_t target;            /* enum fj_target of this client (0: a tool) */
  uint64_t cpu_features;
  uint32_t connect_timeout_ms; /* TCP + TLS + Hello; 0 = 10 s */
  uint32_t ping_interval_ms;  /* once connected, Ping this often (keeps idle connections open
                                 past the server's idle_timeout); a server silent for two
                                 intervals ends the connection with FJ_ETIMEDOUT.  0 = never */
  /* Pipelining before HelloAck: the state callback also reports FJ_REMOTE_LINKED (1) once the
   * socket (and TLS) is up and Hello is written; from then on up to FJ_REMOTE_EARLY requests
   * may be submitted and go out right behind Hello, saving the HelloAck round trip for the
   * first compile.  If the server then refuses the Hello, they fail with its reason like any
   * outstanding request.  false: status 1 is never reported, submit only after status 0. */
  bool early_submit;
  /* Tests only: 0 = this build's values. */
  uint32_t proto_version, proto_min_version, abi_hash;
} fj_remote_opts;

typedef struct fj_remote_result {
  uint64_t id;
  int status;                 /* 0 or FJ_E* */
  const char *message;        /* "" when status == 0 */
  const uint8_t *blob;        /* farjit/blob.h; valid during the callback only */
  size_t blob_size;
  bool cache_hit;
  int abort_reason;
  uint32_t nrecs, ir_before, ir_after, nexits, nspills, code_size, compile_us;
} fj_remote_result;

/* What the server said in HelloAck. */
typedef struct fj_remote_info {
  uint32_t version, compiler_version, max_inflight, max_frame, max_trace;
  uint32_t targets;           /* bit (1 << fj_target) per target the server compiles */
  char server_id[64];
} fj_remote_info;

enum { FJ_REMOTE_LINKED = 1, FJ_REMOTE_EARLY = 1 };
typedef void (*fj_remote_state_cb)(fj_remote *r, int status, const char *msg, void *ud);
typedef void (*fj_remote_result_cb)(fj_remote *r, const fj_remote_result *res, void *ud);

/* Create and start connecting.  NULL with err filled (bad address, unreadable CA, ...). */
fj_remote *fj_remote_connect(uv_loop_t *loop, const fj_remote_opts *o, fj_remote_state_cb state,
                             fj_remote_result_cb result, void *ud, char *err, size_t errlen);
/* Queue a compile.  Only after the state callback reported 0 (or FJ_REMOTE_LINKED, see
 * early_submit: then FJ_EBUSY past FJ_REMOTE_EARLY requests until HelloAck).  FJ_EBUSY when the server's
 * max_inflight requests are already outstanding (wait for a result), FJ_EEXIST for an id that is
 * outstanding, FJ_ERANGE for a trace above the server's max_trace, FJ_ECONN when not connected. */
int fj_remote_submit(fj_remote *r, uint64_t id, const void *trace, size_t len, uint32_t target,
                     uint32_t flags);
/* Ask the server to drop id; its result then comes back as FJ_ECANCELED (or the real result if
 * it was already on its way). */
int fj_remote_cancel(fj_remote *r, uint64_t id);
int fj_remote_ping(fj_remote *r, uint64_t nonce);
void fj_remote_close(fj_remote *r);
uint32_t fj_remote_inflight(const fj_remote *r);
const fj_remote_info *fj_remote_server(const fj_remote *r);

/* Blocking convenience for tools: connect, compile one trace, close.  Runs its own loop.  On
 * success *blob is malloc'd (caller frees).  msg receives the reason on failure. */
int fj_remote_compile_once(const fj_remote_opts *o, const void *trace, size_t len,
                           uint32_t target, uint32_t flags, uint8_t **blob, size_t *blob_size,
                           bool *cache_hit, char *msg, size_t msglen);

#endif /* FARJIT_REMOTE_H */
