/* farjit — TLS over any byte stream with mbedTLS 2.28, for hosts (farjitd and the Linux client).
 *
 * Memory-BIO style: the owner moves bytes.  It passes received ciphertext to fj_tls_input(),
 * which drives the handshake and hands decrypted bytes to a callback; fj_tls_write() encrypts and
 * gives ciphertext to the send callback.  No sockets, no threads, no global state: each fj_tls
 * is used from one thread (a libuv loop); a fj_tls_conf is immutable and reference counted, so a
 * reload can build a new one while connections keep the old.
 *
 * Modes.  Server: certificate + key; optional client CA (then client certificates are required:
 * mutual TLS); optional PSK file (lines "identity hexkey", # comments).  PSK handshakes use no
 * certificates, so a PSK client is authenticated by its key even when mutual TLS is on.
 * Client: CA to verify the server (required unless PSK is used), optional own certificate + key
 * for mutual TLS, or a PSK identity + key (then only PSK cipher suites are offered, so a
 * server certificate can never be accepted unverified).  TLS 1.2 only (what mbedTLS 2.28 has).
 */
#ifndef FARJIT_PROTO_TLS_H
#define FARJIT_PROTO_TLS_H

#include <stddef.h>
#include <stdint.h>

typedef struct fj_tls_conf_opts {
  int server;                 /* 1 = server side */
  const char *cert, *key;     /* PEM files: own certificate chain and key (server: required
                                 unless psk_file; client: for mutual TLS) */
  const char *ca;             /* server: client CA (mutual TLS); client: server CA */
  const char *psk_file;       /* server */
  const char *psk_identity;   /* client */
  const uint8_t *psk;         /* client */
  size_t psk_len;
  const char *server_name;    /* client: name the server certificate must carry (NULL: any) */
} fj_tls_conf_opts;

typedef struct fj_tls_conf fj_tls_conf;
typedef struct fj_tls fj_tls;

/* 0, or FJ_ETLS / FJ_ECONFIG with err naming the file and mbedTLS's reason. */
int fj_tls_conf_new(const fj_tls_conf_opts *o, fj_tls_conf **out, char *err, size_t errlen);
void fj_tls_conf_ref(fj_tls_conf *c);
void fj_tls_conf_unref(fj_tls_conf *c);

/* send(ud, p, n) must accept (queue) all n bytes and return 0, or fail with a negative value. */
typedef int (*fj_tls_send_fn)(void *ud, const uint8_t *p, size_t n);
typedef void (*fj_tls_recv_fn)(void *ud, const uint8_t *p, size_t n);

/* server_name overrides the conf's for this connection (client; NULL = conf's). */
fj_tls *fj_tls_new(fj_tls_conf *conf, const char *server_name, fj_tls_send_fn send,
                   fj_tls_recv_fn recv, void *ud);
void fj_tls_free(fj_tls *t);
/* Client: send the ClientHello.  0 or FJ_ETLS. */
int fj_tls_start(fj_tls *t);
/* Feed ciphertext.  Returns 0 (more wanted), FJ_ECONN (peer closed cleanly) or FJ_ETLS
 * (handshake or record failure: fj_tls_errmsg says why).  Plaintext goes to recv. */
int fj_tls_input(fj_tls *t, const uint8_t *data, size_t n);
/* Encrypt and send.  Only after the handshake.  0 or FJ_ETLS. */
int fj_tls_write(fj_tls *t, const uint8_t *data, size_t n);
/* Send close_notify (best effort). */
void fj_tls_close(fj_tls *t);
int fj_tls_ready(const fj_tls *t);
const char *fj_tls_errmsg(const fj_tls *t);
/* Authenticated peer: "cn=NAME" of the client certificate, "psk=IDENTITY", or "" (none). */
const char *fj_tls_peer(const fj_tls *t);

/* Parse hex into out (at most cap bytes).  Returns the byte count or -1. */
int fj_hex_decode(const char *hex, uint8_t *out, size_t cap);

#endif
