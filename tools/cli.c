/* farjit CLI — shared helpers of the subcommands (see cli.h). */
#include "tools/cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "farjit/client_linux.h"
#include "farjit/error.h"
#include "farjit/platform_linux.h"
#include "farjit/remote.h"
#include "proto/tls.h"

void fj_cli_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "farjit%s%s: ", cmd ? " " : "", cmd ? cmd : "");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* ---- options ---------------------------------------------------------------------------- */

static const fj_cli_opt *find_opt(const fj_cli_opt *opts, const char *name, size_t len, char short_name) {
  for (; opts && opts->name; opts++) {
    if (short_name ? opts->short_name == short_name
                   : strlen(opts->name) == len && strncmp(opts->name, name, len) == 0)
      return opts;
  }
  return NULL;
}

int fj_cli_parse(const char *cmd, int argc, char **argv, const fj_cli_opt *opts,
                 int (*on_opt)(void *ud, int id, const char *val), void *ud, const char **pos,
                 int *npos, int maxpos) {
  *npos = 0;
  bool only_pos = false;
  for (int k = 0; k < argc; k++) {
    const char *a = argv[k];
    if (only_pos || a[0] != '-' || a[1] == '\0') {
      if (*npos == maxpos) {
        fj_cli_error(cmd, "unexpected argument '%s' (see 'farjit help %s')", a, cmd);
        return FJ_EXIT_USAGE;
      }
      pos[(*npos)++] = a;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      only_pos = true;
      continue;
    }
    const fj_cli_opt *o;
    const char *val = NULL;
    if (a[1] == '-') {
      const char *eq = strchr(a + 2, '=');
      size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
      o = find_opt(opts, a + 2, len, 0);
      if (eq) val = eq + 1;
    } else {
      o = a[2] == '\0' ? find_opt(opts, NULL, 0, a[1]) : NULL;
    }
    if (!o) {
      fj_cli_error(cmd, "unknown option '%s' (see 'farjit help %s')", a, cmd);
      return FJ_EXIT_USAGE;
    }
    if (o->metavar && !val) {
      if (k + 1 >= argc) {
        fj_cli_error(cmd, "option '--%s' needs a value (%s)", o->name, o->metavar);
        return FJ_EXIT_USAGE;
      }
      val = argv[++k];
    } else if (!o->metavar && val) {
      fj_cli_error(cmd, "option '--%s' takes no value", o->name);
      return FJ_EXIT_USAGE;
    }
    if (on_opt(ud, o->id, val)) return FJ_EXIT_USAGE;
  }
  return 0;
}

void fj_cli_print_opts(FILE *f, const fj_cli_opt *opts) {
  for (; opts && opts->name; opts++) {
    char left[64], sh[8] = "    ";
    if (opts->short_name) snprintf(sh, sizeof sh, "-%c, ", opts->short_name);
    snprintf(left, sizeof left, "%s--%s%s%s", sh, opts->name, opts->metavar ? " " : "",
             opts->metavar ? opts->metavar : "");
    fprintf(f, "  %-26s %s\n", left, opts->help);
  }
}

bool fj_cli_parse_u64(const char *s, uint64_t *out) {
  if (!s || !*s || *s == '-' || isspace((unsigned char)*s)) return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || *end) return false;
  *out = v;
  return true;
}

/* ---- files and hex ---------------------------------------------------------------------- */

uint8_t *fj_cli_read_file(const char *cmd, const char *path, size_t *len) {
  bool std = strcmp(path, "-") == 0;
  FILE *f = std ? stdin : fopen(path, "rb");
  if (!f) {
    fj_cli_error(cmd, "%s: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  while (buf) {
    size_t k = fread(buf + n, 1, cap - n - 1, f);
    n += k;
    if (k == 0) break;
    if (cap - n - 1 == 0) {
      uint8_t *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  bool err = ferror(f);
  if (!std) fclose(f);
  if (!buf || err) {
    fj_cli_error(cmd, "%s: %s", path, buf ? "read error" : "out of memory");
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

int fj_cli_write_file(const char *cmd, const char *path, const void *buf, size_t len) {
  bool std = strcmp(path, "-") == 0;
  FILE *f = std ? stdout : fopen(path, "wb");
  if (!f) {
    fj_cli_error(cmd, "%s: %s", path, strerror(errno));
    return -1;
  }
  bool ok = fwrite(buf, 1, len, f) == len;
  ok = (std ? fflush(f) : fclose(f)) == 0 && ok;
  if (!ok) {
    fj_cli_error(cmd, "%s: write error", path);
    return -1;
  }
  return 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = (char)tolower((unsigned char)c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int fj_cli_parse_hex(const char *s, uint8_t **out, size_t *len, char *err, size_t errlen) {
  *out = NULL;
  *len = 0;
  size_t cap = strlen(s) / 2 + 1;
  uint8_t *buf = malloc(cap);
  if (!buf) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  size_t n = 0;
  for (const char *p = s; *p;) {
    if (isspace((unsigned char)*p)) {
      p++;
      continue;
    }
    int hi = hexval(p[0]), lo = hi < 0 ? -1 : hexval(p[1]);
    if (hi < 0 || lo < 0) {
      snprintf(err, errlen, "bad hex at offset %zu: '%.8s'", (size_t)(p - s), p);
      free(buf);
      return -1;
    }
    buf[n++] = (uint8_t)(hi << 4 | lo);
    p += 2;
  }
  if (n == 0) {
    free(buf);
    buf = NULL;
  }
  *out = buf;
  *len = n;
  return 0;
}

/* ---- programs --------------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

int fj_cli_prog_read(const char *cmd, const char *path, fj_cli_prog *p) {
  memset(p, 0, sizeof *p);
  if (!(p->bytes = fj_cli_read_file(cmd, path, &p->len))) return -1;
  if (p->len >= 4 && memcmp(p->bytes, "\x7f" "ELF", 4) == 0) {
    p->kind = FJ_CLI_PROG_ELF;
    return 0;
  }
  if (ends_with(path, ".bin")) p->kind = FJ_CLI_PROG_RAW;
  else if (ends_with(path, ".s") || ends_with(path, ".asm")) p->kind = FJ_CLI_PROG_ASM;
  else p->kind = p->len % 8 == 0 && memchr(p->bytes, 0, p->len) ? FJ_CLI_PROG_RAW : FJ_CLI_PROG_ASM;
  if (p->kind == FJ_CLI_PROG_RAW) {
    if (p->len % 8) {
      fj_cli_error(cmd, "%s: raw bytecode size %zu is not a multiple of 8", path, p->len);
      fj_cli_prog_free(p);
      return -1;
    }
    return 0;
  }
  char err[512];
  if (fj_asm_prog_build((const char *)p->bytes, &p->asmp, err, sizeof err)) {
    fj_cli_error(cmd, "%s: %s", path, err);
    fj_cli_prog_free(p);
    return -1;
  }
  return 0;
}

void fj_cli_prog_free(fj_cli_prog *p) {
  free(p->bytes);
  fj_asm_prog_free(&p->asmp);
  memset(p, 0, sizeof *p);
}

const fj_insn *fj_cli_prog_insns(const fj_cli_prog *p, size_t *n) {
  if (p->kind == FJ_CLI_PROG_ASM) {
    *n = p->asmp.ninsns;
    return p->asmp.insns;
  }
  *n = p->len / sizeof(fj_insn);
  return (const fj_insn *)(const void *)p->bytes; /* malloc'd: suitably aligned */
}

int fj_cli_prog_load(const char *cmd, const char *path, fj_vm *vm, const fj_cli_prog *p,
                     const char *entry, uint32_t *entry_pc) {
  int rc;
  if (p->kind == FJ_CLI_PROG_ELF) {
    rc = fj_vm_load_elf(vm, p->bytes, p->len);
  } else {
    size_t n;
    const fj_insn *code = fj_cli_prog_insns(p, &n);
    rc = fj_vm_load(vm, code, n * sizeof *code);
  }
  if (rc < 0) {
    fj_cli_error(cmd, "%s: %s", path, fj_vm_errmsg(vm));
    return -1;
  }
  uint64_t num;
  if (!entry) {
    rc = fj_vm_default_entry(vm);
  } else if (fj_cli_parse_u64(entry, &num)) {
    uint32_t ninsns;
    fj_vm_code(vm, &ninsns);
    rc = num < ninsns ? (int)num : FJ_ENOENT;
  } else if (p->kind == FJ_CLI_PROG_ASM && fj_asm_prog_label(&p->asmp, entry) >= 0) {
    rc = (int)fj_asm_prog_label(&p->asmp, entry);
  } else {
    rc = fj_vm_find_entry(vm, entry);
  }
  if (rc < 0) {
    if (entry) fj_cli_error(cmd, "%s: no entry point '%s'", path, entry);
    else fj_cli_error(cmd, "%s: no default entry point: %s", path, fj_vm_errmsg(vm));
    return -1;
  }
  *entry_pc = (uint32_t)rc;
  return 0;
}

/* ---- VM --------------------------------------------------------------------------------- */

int fj_cli_vm_opt(const char *cmd, fj_cli_vm_args *a, int id, const char *val) {
  switch (id) {
  case FJ_CLI_VM_OPT_STATS: a->stats = true; return 0;
  case FJ_CLI_VM_OPT_INSN_LIMIT:
    if (!fj_cli_parse_u64(val, &a->insn_limit)) {
      fj_cli_error(cmd, "--insn-limit: '%s' is not a number", val);
      return -1;
    }
    a->has_insn_limit = true;
    return 0;
  case FJ_CLI_VM_OPT_SERVER: a->server = val; return 0;
  case FJ_CLI_VM_OPT_NO_JIT: a->no_jit = true; return 0;
  case FJ_CLI_VM_OPT_JIT_THRESHOLD:
    if (!fj_cli_parse_u64(val, &a->jit_threshold) || a->jit_threshold > UINT16_MAX) {
      fj_cli_error(cmd, "--jit-threshold: '%s' is not a number up to 65535", val);
      return -1;
    }
    a->has_jit_threshold = true;
    return 0;
  case FJ_CLI_VM_OPT_TRACE_LOG: a->trace_log = true; return 0;
  case FJ_CLI_VM_OPT_SAVE_TRACES: a->save_traces = val; return 0;
  case FJ_CLI_VM_OPT_JIT_WAIT: {
    uint64_t ms;
    if (!fj_cli_parse_u64(val, &ms) || ms > 3600000) {
      fj_cli_error(cmd, "--jit-wait: '%s' is not a number of milliseconds (up to 3600000)", val);
      return -1;
    }
    a->jit_wait_ms = (uint32_t)ms;
    return 0;
  }
  case FJ_CLI_VM_OPT_TLS_CA: a->tls_ca = val; return 0;
  case FJ_CLI_VM_OPT_CERT: a->tls_cert = val; return 0;
  case FJ_CLI_VM_OPT_KEY: a->tls_key = val; return 0;
  case FJ_CLI_VM_OPT_SNI: a->server_name = val; return 0;
  case FJ_CLI_VM_OPT_PSK_ID: a->psk_id = val; return 0;
  case FJ_CLI_VM_OPT_PSK_HEX: {
    uint8_t k[64];
    if (fj_hex_decode(val, k, sizeof k) <= 0) {
      fj_cli_error(cmd, "--psk-hex: expected 1 to 64 bytes of hex");
      return -1;
    }
    a->psk_hex = val;
    return 0;
  }
  default: return 1;
  }
}

int fj_cli_vm_check(const char *cmd, const fj_cli_vm_args *a) {
  bool tls = a->tls_ca || a->tls_cert || a->tls_key || a->server_name || a->psk_id || a->psk_hex;
  if (tls && (!a->server || !*a->server)) {
    fj_cli_error(cmd, "TLS options need --server");
    return -1;
  }
  if (!a->psk_id != !a->psk_hex || (a->psk_id && (a->tls_ca || a->tls_cert))) {
    fj_cli_error(cmd, "use --psk-identity with --psk-hex, and not with certificates");
    return -1;
  }
  if (!a->tls_cert != !a->tls_key) {
    fj_cli_error(cmd, "--cert and --key go together");
    return -1;
  }
  return 0;
}

/* The JIT runtime of the one VM a command runs (farjit/client_linux.h). */
static fj_jit_linux *cli_jit;
static fj_vm *cli_jit_vm;

void fj_cli_vm_report(const fj_cli_vm_args *a, const fj_vm *vm) {
  if (a->stats && vm) fj_cli_print_stats(stderr, vm);
  if (a->stats && vm && cli_jit && vm == cli_jit_vm) fj_jit_linux_print_stats(cli_jit, stderr);
}

void fj_cli_vm_destroy(fj_vm *vm) {
  if (!vm) return;
  if (cli_jit && vm == cli_jit_vm) {
    fj_jit_linux_detach(cli_jit);
    cli_jit = NULL;
    cli_jit_vm = NULL;
  }
  fj_vm_destroy(vm);
}

static void cli_jit_attach(const char *cmd, const fj_cli_vm_args *a, fj_vm *vm) {
  if (a->no_jit || cli_jit) return;
  fj_jit_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.hot_threshold = a->has_jit_threshold ? (uint16_t)a->jit_threshold : 64;
  cfg.wait_ms = a->jit_wait_ms;
  fj_remote_opts ro;
  memset(&ro, 0, sizeof ro);
  uint8_t psk[64];
  int psk_len = a->psk_hex ? fj_hex_decode(a->psk_hex, psk, sizeof psk) : 0;
  ro.tls_ca = a->tls_ca;
  ro.tls_cert = a->tls_cert;
  ro.tls_key = a->tls_key;
  ro.server_name = a->server_name;
  ro.psk_identity = a->psk_id;
  ro.psk = psk_len > 0 ? psk : NULL;
  ro.psk_len = (size_t)(psk_len > 0 ? psk_len : 0);
  ro.client_id = "farjit-run";
  fj_jit_linux_opts o;
  memset(&o, 0, sizeof o);
  o.servers = a->server;
  o.remote = &ro;
  o.cfg = &cfg;
  o.trace_log = a->trace_log ? stderr : NULL;
  o.save_traces = a->save_traces;
  char err[256];
  cli_jit = fj_jit_linux_attach(vm, &o, err, sizeof err);
  if (!cli_jit) fj_cli_error(cmd, "JIT disabled: %s", err);  /* the program still runs */
  else cli_jit_vm = vm;
}

fj_vm *fj_cli_vm_create(const char *cmd, const fj_cli_vm_args *a) {
  fj_vm *vm = fj_vm_create(fj_platform_linux());
  if (!vm) {
    fj_cli_error(cmd, "cannot create a VM: out of memory");
    return NULL;
  }
  int rc = fj_vm_register_std_helpers(vm);
  if (rc < 0) {
    fj_cli_error(cmd, "registering helpers: %s", fj_strerror(rc));
    fj_vm_destroy(vm);
    return NULL;
  }
  if (a->has_insn_limit) fj_vm_set_insn_limit(vm, a->insn_limit);
  cli_jit_attach(cmd, a, vm);
  return vm;
}

uint64_t fj_cli_unwind_helper(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
                              fj_vm *vm) {
  (void)r2, (void)r3, (void)r4, (void)r5;
  if (r1 == 0) fj_vm_unwind(vm);
  return r1;
}

void fj_cli_print_stats(FILE *f, const fj_vm *vm) {
  fj_vm_stats s;
  fj_vm_get_stats(vm, &s);
  fprintf(f,
          "runs %llu\nerrors %llu\ninsns_interp %llu\ninsns_native %llu\nhelper_calls %llu\n"
          "local_calls %llu\ncallbacks %llu\n",
          (unsigned long long)s.runs, (unsigned long long)s.errors,
          (unsigned long long)s.insns_interp, (unsigned long long)s.insns_native,
          (unsigned long long)s.helper_calls, (unsigned long long)s.local_calls,
          (unsigned long long)s.callbacks);
}
