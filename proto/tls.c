/* farjit — TLS with mbedTLS 2.28 (see tls.h). */
#include "proto/tls.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "farjit/error.h"

#define PSK_MAX 64

typedef struct psk_entry {
  char id[128];
  uint8_t key[PSK_MAX];
  size_t len;
} psk_entry;

struct fj_tls_conf {
  int refs;
  int server;
  mbedtls_ssl_config conf;
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt cert, ca;
  mbedtls_pk_context key;
  psk_entry *psks;
  size_t npsk;
  char *server_name;
};

struct fj_tls {
  mbedtls_ssl_context ssl;     /* first: the PSK callback finds us from &ssl */
  fj_tls_conf *conf;
  fj_tls_send_fn send;
  fj_tls_recv_fn recv;
  void *ud;
  const uint8_t *in;           /* ciphertext being fed */
  size_t in_len;
  int ready, failed;
  char peer[160];
  char err[200];
};

static const int psk_suites[] = {
    MBEDTLS_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256,
    MBEDTLS_TLS_PSK_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_PSK_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_PSK_WITH_CHACHA20_POLY1305_SHA256,
    0};

int fj_hex_decode(const char *hex, uint8_t *out, size_t cap) {
  size_t n = strlen(hex);
  if (n % 2 || n / 2 > cap) return -1;
  for (size_t i = 0; i < n; i += 2) {
    int v = 0;
    for (int k = 0; k < 2; k++) {
      int c = tolower((unsigned char)hex[i + k]);
      if (c >= '0' && c <= '9') v = v * 16 + c - '0';
      else if (c >= 'a' && c <= 'f') v = v * 16 + c - 'a' + 10;
      else return -1;
    }
    out[i / 2] = (uint8_t)v;
  }
  return (int)(n / 2);
}

static int fail(char *err, size_t errlen, const char *what, const char *file, int rc) {
  char m[120];
  mbedtls_strerror(rc, m, sizeof m);
  snprintf(err, errlen, "%s%s%s: %s", what, file ? " " : "", file ? file : "", m);
  return FJ_ETLS;
}

static int load_psk_file(fj_tls_conf *c, const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "PSK file %s: cannot open", path);
    return FJ_ECONFIG;
  }
  char line[512];
  int lineno = 0, rc = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    char id[128], hex[2 * PSK_MAX + 2], extra[2];
    int n = sscanf(line, "%127s %129s %1s", id, hex, extra);
    if (n <= 0) continue;
    psk_entry e = {{0}, {0}, 0};
    int len = n == 2 ? fj_hex_decode(hex, e.key, sizeof e.key) : -1;
    if (len <= 0) {
      snprintf(err, errlen, "PSK file %s:%d: expected 'identity hexkey' (1-%d bytes)", path,
               lineno, PSK_MAX);
      rc = FJ_ECONFIG;
      break;
    }
    snprintf(e.id, sizeof e.id, "%s", id);
    e.len = (size_t)len;
    psk_entry *p = realloc(c->psks, (c->npsk + 1) * sizeof *p);
    if (!p) {
      rc = FJ_ENOMEM;
      break;
    }
    c->psks = p;
    c->psks[c->npsk++] = e;
  }
  fclose(f);
  if (!rc && c->npsk == 0) {
    snprintf(err, errlen, "PSK file %s: no keys", path);
    rc = FJ_ECONFIG;
  }
  return rc;
}

static int psk_cb(void *ud, mbedtls_ssl_context *ssl, const unsigned char *id, size_t idlen) {
  fj_tls_conf *c = ud;
  fj_tls *t = (fj_tls *)(void *)ssl;  /* ssl is fj_tls's first member */
  for (size_t i = 0; i < c->npsk; i++) {
    if (strlen(c->psks[i].id) == idlen && memcmp(c->psks[i].id, id, idlen) == 0) {
      snprintf(t->peer, sizeof t->peer, "psk=%s", c->psks[i].id);
      return mbedtls_ssl_set_hs_psk(ssl, c->psks[i].key, c->psks[i].len);
    }
  }
  char safe[65];
  size_t n = idlen > 64 ? 64 : idlen;
  for (size_t i = 0; i < n; i++) safe[i] = id[i] > 32 && id[i] < 127 && id[i] != '"' ? (char)id[i] : '_';
  safe[n] = 0;
  snprintf(t->err, sizeof t->err, "unknown PSK identity '%s'", safe);
  return -1;
}

int fj_tls_conf_new(const fj_tls_conf_opts *o, fj_tls_conf **out, char *err, size_t errlen) {
  *out = NULL;
  fj_tls_conf *c = calloc(1, sizeof *c);
  if (!c) return FJ_ENOMEM;
  c->refs = 1;
  c->server = o->server;
  mbedtls_ssl_config_init(&c->conf);
  mbedtls_entropy_init(&c->entropy);
  mbedtls_ctr_drbg_init(&c->drbg);
  mbedtls_x509_crt_init(&c->cert);
  mbedtls_x509_crt_init(&c->ca);
  mbedtls_pk_init(&c->key);
  int rc;
  static const char pers[] = "farjit-tls";
  if ((rc = mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy,
                                  (const uint8_t *)pers, sizeof pers - 1))) {
    rc = fail(err, errlen, "random seed", NULL, rc);
    goto out;
  }
  if ((rc = mbedtls_ssl_config_defaults(&c->conf,
                                        o->server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                        MBEDTLS_SSL_TRANSPORT_STREAM,
                                        MBEDTLS_SSL_PRESET_DEFAULT))) {
    rc = fail(err, errlen, "TLS defaults", NULL, rc);
    goto out;
  }
  mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
  int have_cert = o->cert && o->cert[0], have_ca = o->ca && o->ca[0];
  if (have_cert) {
    if (!o->key || !o->key[0]) {
      snprintf(err, errlen, "certificate %s given without its key", o->cert);
      rc = FJ_ECONFIG;
      goto out;
    }
    if ((rc = mbedtls_x509_crt_parse_file(&c->cert, o->cert))) {
      rc = fail(err, errlen, "certificate", o->cert, rc);
      goto out;
    }
    if ((rc = mbedtls_pk_parse_keyfile(&c->key, o->key, NULL))) {
      rc = fail(err, errlen, "private key", o->key, rc);
      goto out;
    }
    if ((rc = mbedtls_pk_check_pair(&c->cert.pk, &c->key)) ||
        (rc = mbedtls_ssl_conf_own_cert(&c->conf, &c->cert, &c->key))) {
      rc = fail(err, errlen, "certificate/key pair", o->cert, rc);
      goto out;
    }
  }
  if (have_ca && (rc = mbedtls_x509_crt_parse_file(&c->ca, o->ca))) {
    rc = fail(err, errlen, "CA file", o->ca, rc);
    goto out;
  }
  if (o->server) {
    int have_psk = o->psk_file && o->psk_file[0];
    if (!have_cert && !have_psk) {
      snprintf(err, errlen, "TLS listener needs tls_cert + tls_key or tls_psk_file");
      rc = FJ_ECONFIG;
      goto out;
    }
    if (have_psk) {
      if ((rc = load_psk_file(c, o->psk_file, err, errlen))) goto out;
      mbedtls_ssl_conf_psk_cb(&c->conf, psk_cb, c);
    }
    if (have_ca) {
      mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
      mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    } else {
      mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE);
    }
  } else if (o->psk_identity && o->psk) {
    if ((rc = mbedtls_ssl_conf_psk(&c->conf, o->psk, o->psk_len,
                                   (const uint8_t *)o->psk_identity, strlen(o->psk_identity)))) {
      rc = fail(err, errlen, "PSK", NULL, rc);
      goto out;
    }
    mbedtls_ssl_conf_ciphersuites(&c->conf, psk_suites);
    mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE);
  } else if (have_ca) {
    mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
    mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  } else {
    snprintf(err, errlen, "TLS client needs a CA file to verify the server, or a PSK");
    rc = FJ_ECONFIG;
    goto out;
  }
  if (o->server_name) c->server_name = strdup(o->server_name);
  *out = c;
  return 0;
out:
  fj_tls_conf_unref(c);
  return rc;
}

void fj_tls_conf_ref(fj_tls_conf *c) { c->refs++; }

void fj_tls_conf_unref(fj_tls_conf *c) {
  if (!c || --c->refs > 0) return;
  mbedtls_ssl_config_free(&c->conf);
  mbedtls_ctr_drbg_free(&c->drbg);
  mbedtls_entropy_free(&c->entropy);
  mbedtls_x509_crt_free(&c->cert);
  mbedtls_x509_crt_free(&c->ca);
  mbedtls_pk_free(&c->key);
  if (c->psks) mbedtls_platform_zeroize(c->psks, c->npsk * sizeof *c->psks);
  free(c->psks);
  free(c->server_name);
  free(c);
}

static int bio_send(void *ud, const unsigned char *p, size_t n) {
  fj_tls *t = ud;
  return t->send(t->ud, p, n) < 0 ? MBEDTLS_ERR_NET_SEND_FAILED : (int)n;
}

static int bio_recv(void *ud, unsigned char *p, size_t n) {
  fj_tls *t = ud;
  if (t->in_len == 0) return MBEDTLS_ERR_SSL_WANT_READ;
  if (n > t->in_len) n = t->in_len;
  memcpy(p, t->in, n);
  t->in += n;
  t->in_len -= n;
  return (int)n;
}

fj_tls *fj_tls_new(fj_tls_conf *conf, const char *server_name, fj_tls_send_fn send,
                   fj_tls_recv_fn recv, void *ud) {
  fj_tls *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  mbedtls_ssl_init(&t->ssl);
  if (mbedtls_ssl_setup(&t->ssl, &conf->conf)) {
    mbedtls_ssl_free(&t->ssl);
    free(t);
    return NULL;
  }
  const char *name = server_name ? server_name : conf->server_name;
  if (!conf->server && name && mbedtls_ssl_set_hostname(&t->ssl, name)) {
    mbedtls_ssl_free(&t->ssl);
    free(t);
    return NULL;
  }
  fj_tls_conf_ref(conf);
  t->conf = conf;
  t->send = send;
  t->recv = recv;
  t->ud = ud;
  mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);
  return t;
}

void fj_tls_free(fj_tls *t) {
  if (!t) return;
  mbedtls_ssl_free(&t->ssl);
  fj_tls_conf_unref(t->conf);
  free(t);
}

/* What the peer's fatal alert most likely means, for people reading the error. */
static const char *alert_text(int a) {
  switch (a) {
  case MBEDTLS_SSL_ALERT_MSG_BAD_RECORD_MAC: return "bad_record_mac: wrong PSK key?";
  case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_PSK_IDENTITY: return "unknown_psk_identity";
  case MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE:
    return "handshake_failure: no common cipher suite, or a client certificate is required";
  case MBEDTLS_SSL_ALERT_MSG_NO_CERT: return "no_certificate: a client certificate is required";
  case MBEDTLS_SSL_ALERT_MSG_BAD_CERT: return "bad_certificate: our certificate was refused";
  case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA: return "unknown_ca: our certificate's CA is not trusted";
  case MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED: return "certificate_expired";
  case MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR: return "decrypt_error: wrong PSK key?";
  case MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION: return "protocol_version: TLS 1.2 is required";
  case MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED: return "access_denied";
  default: return NULL;
  }
}

static int tls_error(fj_tls *t, const char *what, int rc) {
  t->failed = 1;
  if (!t->err[0] && rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
    int a = t->ssl.in_msg ? t->ssl.in_msg[1] : -1;  /* the alert record: level, description */
    const char *txt = alert_text(a);
    if (txt) snprintf(t->err, sizeof t->err, "%s: the peer refused: %s", what, txt);
    else snprintf(t->err, sizeof t->err, "%s: the peer refused with TLS alert %d", what, a);
  }
  if (!t->err[0] && rc == MBEDTLS_ERR_SSL_INVALID_MAC && !strncmp(t->peer, "psk=", 4))
    snprintf(t->err, sizeof t->err, "%s: wrong key for PSK identity '%s' (MAC check failed)", what,
             t->peer + 4);
  if (!t->err[0]) {
    char m[120];
    mbedtls_strerror(rc, m, sizeof m);
    snprintf(t->err, sizeof t->err, "%s: %s", what, m);
    uint32_t flags = mbedtls_ssl_get_verify_result(&t->ssl);
    if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags && flags != (uint32_t)-1) {
      char v[160];
      mbedtls_x509_crt_verify_info(v, sizeof v, "", flags);
      v[strcspn(v, "\n")] = 0;
      snprintf(t->err, sizeof t->err, "%s: certificate verification failed: %s", what, v);
    }
  }
  return FJ_ETLS;
}

static int handshake(fj_tls *t) {
  int rc = mbedtls_ssl_handshake(&t->ssl);
  if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return 0;
  if (rc) return tls_error(t, "TLS handshake", rc);
  t->ready = 1;
  const mbedtls_x509_crt *pc = mbedtls_ssl_get_peer_cert(&t->ssl);
  if (pc && !t->peer[0]) {
    char dn[128];
    const mbedtls_x509_name *n = &pc->subject;
    dn[0] = 0;
    for (; n; n = n->next) {
      if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
        size_t l = n->val.len < sizeof dn - 1 ? n->val.len : sizeof dn - 1;
        memcpy(dn, n->val.p, l);
        dn[l] = 0;
      }
    }
    snprintf(t->peer, sizeof t->peer, "cn=%s", dn);
  }
  return 0;
}

int fj_tls_start(fj_tls *t) { return handshake(t); }

int fj_tls_input(fj_tls *t, const uint8_t *data, size_t n) {
  if (t->failed) return FJ_ETLS;
  t->in = data;
  t->in_len = n;
  int rc = 0;
  if (!t->ready && (rc = handshake(t)) != 0) goto out;
  while (t->ready) {
    uint8_t buf[16384];
    int r = mbedtls_ssl_read(&t->ssl, buf, sizeof buf);
    if (r > 0) {
      t->recv(t->ud, buf, (size_t)r);
      continue;
    }
    if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) break;
    if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
      rc = FJ_ECONN;
      break;
    }
    rc = tls_error(t, "TLS read", r);
    break;
  }
out:
  t->in = NULL;
  t->in_len = 0;
  return rc;
}

int fj_tls_write(fj_tls *t, const uint8_t *data, size_t n) {
  if (!t->ready || t->failed) return FJ_ETLS;
  while (n) {
    int r = mbedtls_ssl_write(&t->ssl, data, n);
    if (r < 0) return tls_error(t, "TLS write", r);
    data += r;
    n -= (size_t)r;
  }
  return 0;
}

void fj_tls_close(fj_tls *t) {
  if (t->ready && !t->failed) mbedtls_ssl_close_notify(&t->ssl);
}

int fj_tls_ready(const fj_tls *t) { return t->ready; }
const char *fj_tls_errmsg(const fj_tls *t) { return t->err[0] ? t->err : "no error"; }
const char *fj_tls_peer(const fj_tls *t) { return t->peer; }
