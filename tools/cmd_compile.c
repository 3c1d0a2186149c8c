/* farjit compile — compile a recorded trace to a blob, locally or on a farjitd.
 *
 *   farjit compile TRACEFILE --target x86_64|thumbv7em -o BLOB
 *                  [--server HOST:PORT|unix:PATH]
 *                  [--tls-ca F [--cert F --key F] | --psk-identity ID --psk-hex KEY]
 *
 * Without --server the trace is compiled in-process with fj_codegen_compile (farjit/codegen.h).
 * With --server it travels to farjitd (include/farjit/remote.h): plaintext unless a CA or a PSK
 * is given.  Errors print the server's or compiler's reason and FJ_E* name; exit 1.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farjit/codegen.h"
#include "farjit/error.h"
#include "farjit/remote.h"
#include "farjit/target.h"
#include "proto/tls.h"
#include "tools/cli.h"
#include "tools/commands.h"

/* Weak: a CLI linked without libfj_codegen still compiles remotely. */
#pragma weak fj_codegen_compile
#pragma weak fj_codegen_result_free

enum { OPT_TARGET, OPT_OUT, OPT_SERVER, OPT_CA, OPT_CERT, OPT_KEY, OPT_SNI, OPT_PSK_ID,
       OPT_PSK_HEX, OPT_NO_OPT, OPT_DUMP, OPT_TIMEOUT, OPT_HELP };

static const fj_cli_opt compile_opts[] = {
  {"target", 0, "T", OPT_TARGET, "x86_64 or thumbv7em (required)"},
  {"output", 'o', "BLOB", OPT_OUT, "write the blob here (required)"},
  {"server", 0, "ADDR", OPT_SERVER, "compile on farjitd at HOST:PORT, [V6]:PORT or unix:PATH"},
  {"tls-ca", 0, "FILE", OPT_CA, "TLS: CA that signed the server certificate"},
  {"cert", 0, "FILE", OPT_CERT, "TLS: client certificate (mutual TLS)"},
  {"key", 0, "FILE", OPT_KEY, "TLS: client private key"},
  {"server-name", 0, "NAME", OPT_SNI, "TLS: name the server certificate must carry"},
  {"psk-identity", 0, "ID", OPT_PSK_ID, "TLS-PSK identity"},
  {"psk-hex", 0, "KEY", OPT_PSK_HEX, "TLS-PSK key as hex"},
  {"no-opt", 0, NULL, OPT_NO_OPT, "skip optimization passes"},
  {"dump", 0, NULL, OPT_DUMP, "put IR dumps into the blob's meta section"},
  {"timeout-ms", 0, "N", OPT_TIMEOUT, "connect + handshake timeout (default 10000)"},
  {"help", 'h', NULL, OPT_HELP, "show this help"},
  {0},
};

typedef struct compile_args {
  const char *target, *out, *server, *ca, *cert, *key, *sni, *psk_id, *psk_hex;
  uint32_t flags;
  uint64_t timeout;
  bool help;
} compile_args;

static int compile_opt(void *ud, int id, const char *val) {
  compile_args *a = ud;
  switch (id) {
  case OPT_TARGET: a->target = val; break;
  case OPT_OUT: a->out = val; break;
  case OPT_SERVER: a->server = val; break;
  case OPT_CA: a->ca = val; break;
  case OPT_CERT: a->cert = val; break;
  case OPT_KEY: a->key = val; break;
  case OPT_SNI: a->sni = val; break;
  case OPT_PSK_ID: a->psk_id = val; break;
  case OPT_PSK_HEX: a->psk_hex = val; break;
  case OPT_NO_OPT: a->flags |= FJ_CG_NO_OPT; break;
  case OPT_DUMP: a->flags |= FJ_CG_DUMP; break;
  case OPT_TIMEOUT:
    if (!fj_cli_parse_u64(val, &a->timeout) || a->timeout > 3600000) {
      fj_cli_error("compile", "--timeout-ms: '%s' is not a number of milliseconds", val);
      return -1;
    }
    break;
  case OPT_HELP: a->help = true; break;
  }
  return 0;
}

static void compile_usage(FILE *f) {
  fprintf(f, "usage: farjit compile TRACEFILE --target T -o BLOB [options]\n"
             "Compiles a trace (farjit/trace.h) to a blob (farjit/blob.h), in-process or on a\n"
             "farjitd server (--server).\n\noptions:\n");
  fj_cli_print_opts(f, compile_opts);
}

static int parse_target(const char *s) {
#define FJ_TARGET_MATCH(name, id, triple) if (strcmp(s, triple) == 0) return id;
  FJ_TARGETS(FJ_TARGET_MATCH)
#undef FJ_TARGET_MATCH
  return -1;
}

static int compile_local(const compile_args *a, int target, const uint8_t *trace, size_t len,
                         uint8_t **blob, size_t *size, char *msg, size_t msglen) {
  if (!fj_codegen_compile || !fj_codegen_result_free) {
    snprintf(msg, msglen, "this farjit was built without the compiler; use --server");
    return FJ_ENOTSUP;
  }
  fj_codegen_opts o = {a->flags, 0};
  fj_codegen_result res;
  int rc = fj_codegen_compile(trace, len, (enum fj_target)target, &o, &res);
  snprintf(msg, msglen, "%s", rc ? res.message : "");
  if (rc == 0) {
    *blob = malloc(res.blob_size);
    if (!*blob) rc = FJ_ENOMEM;
    else memcpy(*blob, res.blob, res.blob_size);
    *size = res.blob_size;
  }
  fj_codegen_result_free(&res);
  return rc;
}

int fj_cmd_compile(int argc, char **argv) {
  compile_args a = {0};
  const char *pos[1];
  int npos;
  int rc = fj_cli_parse("compile", argc - 1, argv + 1, compile_opts, compile_opt, &a, pos, &npos, 1);
  if (rc) return rc;
  if (a.help) {
    compile_usage(stdout);
    return FJ_EXIT_OK;
  }
  if (npos != 1 || !a.target || !a.out) {
    compile_usage(stderr);
    return FJ_EXIT_USAGE;
  }
  int target = parse_target(a.target);
  if (target < 0) {
    fj_cli_error("compile", "unknown target '%s' (x86_64 or thumbv7em)", a.target);
    return FJ_EXIT_USAGE;
  }
  if (!a.server && (a.ca || a.cert || a.key || a.psk_id || a.psk_hex || a.sni)) {
    fj_cli_error("compile", "TLS options need --server");
    return FJ_EXIT_USAGE;
  }
  if (!a.psk_id != !a.psk_hex || (a.psk_id && (a.ca || a.cert))) {
    fj_cli_error("compile", "use --psk-identity with --psk-hex, and not with certificates");
    return FJ_EXIT_USAGE;
  }
  if (!a.cert != !a.key) {
    fj_cli_error("compile", "--cert and --key go together");
    return FJ_EXIT_USAGE;
  }
  uint8_t psk[64];
  int psk_len = 0;
  if (a.psk_hex && (psk_len = fj_hex_decode(a.psk_hex, psk, sizeof psk)) <= 0) {
    fj_cli_error("compile", "--psk-hex: expected 1 to 64 bytes of hex");
    return FJ_EXIT_USAGE;
  }
  /* libuv writes with write(2): a server that hangs up must give EPIPE, not kill us. */
  signal(SIGPIPE, SIG_IGN);
  size_t len;
  uint8_t *trace = fj_cli_read_file("compile", pos[0], &len);
  if (!trace) return FJ_EXIT_FAIL;
  uint8_t *blob = NULL;
  size_t size = 0;
  bool hit = false;
  char msg[256];
  if (a.server) {
    fj_remote_opts o = {0};
    o.address = a.server;
    o.tls_ca = a.ca;
    o.tls_cert = a.cert;
    o.tls_key = a.key;
    o.server_name = a.sni;
    o.psk_identity = a.psk_id;
    o.psk = psk_len > 0 ? psk : NULL;
    o.psk_len = (size_t)(psk_len > 0 ? psk_len : 0);
    o.client_id = "farjit-compile";
    o.connect_timeout_ms = (uint32_t)a.timeout;
    rc = fj_remote_compile_once(&o, trace, len, (uint32_t)target, a.flags, &blob, &size, &hit,
                                msg, sizeof msg);
  } else {
    rc = compile_local(&a, target, trace, len, &blob, &size, msg, sizeof msg);
  }
  free(trace);
  if (rc) {
    fj_cli_error("compile", "%s: %s (%s)", pos[0], msg[0] ? msg : fj_strerror(rc), fj_err_name(rc));
    free(blob);
    return FJ_EXIT_FAIL;
  }
  rc = fj_cli_write_file("compile", a.out, blob, size) ? FJ_EXIT_FAIL : FJ_EXIT_OK;
  if (rc == FJ_EXIT_OK)
    fprintf(stderr, "farjit compile: %s: %zu-byte blob for %s%s\n", a.out, size, a.target,
            hit ? " (server cache hit)" : "");
  free(blob);
  return rc;
}
