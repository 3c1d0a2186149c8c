/* farjit CLI — what the subcommands share: option parsing, files, hex, program loading.
 *
 * Messages go to stderr prefixed "farjit CMD: ".  Exit codes: FJ_EXIT_OK, FJ_EXIT_FAIL (the
 * program or a file failed), FJ_EXIT_USAGE (bad command line).  Host code (stdio, malloc).
 */
#ifndef FJ_TOOLS_CLI_H
#define FJ_TOOLS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "farjit/vm.h"
#include "tools/asm.h"

enum { FJ_EXIT_OK = 0, FJ_EXIT_FAIL = 1, FJ_EXIT_USAGE = 2 };

/* ---- options ----------------------------------------------------------------------------
 * A command declares its options as a table; fj_cli_parse walks argv (after the command name)
 * and calls on_opt for each, collecting positional arguments.  Accepted spellings:
 * `--name VALUE`, `--name=VALUE`, and the short alias (`-o VALUE`).  `--` ends options.
 * Adding an option to a command = one table row + one case in its on_opt. */
typedef struct fj_cli_opt {
  const char *name;    /* "insn-limit" (without dashes) */
  char short_name;     /* 'o', or 0 */
  const char *metavar; /* "N" if the option takes a value, NULL for a flag */
  int id;              /* passed to on_opt */
  const char *help;
} fj_cli_opt;

/* on_opt returns 0, or non-zero after printing why the value is bad.  Returns 0, or
 * FJ_EXIT_USAGE after printing "farjit CMD: unknown option '--x'" (or a missing value, or too
 * many positional arguments). */
int fj_cli_parse(const char *cmd, int argc, char **argv, const fj_cli_opt *opts,
                 int (*on_opt)(void *ud, int id, const char *val), void *ud, const char **pos,
                 int *npos, int maxpos);
void fj_cli_print_opts(FILE *f, const fj_cli_opt *opts);

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void fj_cli_error(const char *cmd, const char *fmt, ...);

/* Numbers for option values: decimal or 0x-hex, whole string. */
bool fj_cli_parse_u64(const char *s, uint64_t *out);

/* ---- files and hex ---------------------------------------------------------------------- */
/* Whole file ("-" = stdin), NUL-terminated for text use; *len excludes the NUL.  NULL after a
 * message on failure. */
uint8_t *fj_cli_read_file(const char *cmd, const char *path, size_t *len);
int fj_cli_write_file(const char *cmd, const char *path, const void *buf, size_t len);
/* Hex bytes with any whitespace (or none) between them: "01 02", "01  02", "0102".  *out is
 * malloc'd (NULL when empty).  Returns 0 or -1 with a message in err. */
int fj_cli_parse_hex(const char *s, uint8_t **out, size_t *len, char *err, size_t errlen);

/* ---- programs --------------------------------------------------------------------------- */
typedef enum fj_cli_prog_kind { FJ_CLI_PROG_RAW, FJ_CLI_PROG_ASM, FJ_CLI_PROG_ELF } fj_cli_prog_kind;

typedef struct fj_cli_prog {
  fj_cli_prog_kind kind;
  uint8_t *bytes;      /* file contents (ELF image; raw code) */
  size_t len;
  fj_asm_prog asmp;    /* assembled program (kind ASM) */
} fj_cli_prog;

/* Read path and decide its kind: ELF by magic; .s/.asm as assembly; .bin as raw; anything else
 * raw if its size is a multiple of 8 and it contains a NUL byte, else assembly.  Assembly is
 * assembled here (errors name the file and line). */
int fj_cli_prog_read(const char *cmd, const char *path, fj_cli_prog *p);
void fj_cli_prog_free(fj_cli_prog *p);
/* Instructions of a raw or assembled program (not ELF). */
const fj_insn *fj_cli_prog_insns(const fj_cli_prog *p, size_t *n);

/* Load p into vm and find the entry: NAME (an ELF function or an assembly label) or a number
 * (a pc), the default entry when entry is NULL.  Messages name the file. */
int fj_cli_prog_load(const char *cmd, const char *path, fj_vm *vm, const fj_cli_prog *p,
                     const char *entry, uint32_t *entry_pc);

/* ---- VM --------------------------------------------------------------------------------- *
 * Options every command that runs programs accepts (run, plugin): splice FJ_CLI_VM_OPTS into
 * the command's option table, pass unknown ids to fj_cli_vm_opt.  An option that changes how
 * programs run (JIT settings, say) is added here once: a row, a field, a case in
 * fj_cli_vm_opt and its effect in fj_cli_vm_create / fj_cli_vm_report. */
enum {
  FJ_CLI_VM_OPT_STATS = 1000, FJ_CLI_VM_OPT_INSN_LIMIT, FJ_CLI_VM_OPT_SERVER, FJ_CLI_VM_OPT_NO_JIT,
  FJ_CLI_VM_OPT_JIT_THRESHOLD, FJ_CLI_VM_OPT_TRACE_LOG, FJ_CLI_VM_OPT_JIT_WAIT, FJ_CLI_VM_OPT_TLS_CA,
  FJ_CLI_VM_OPT_CERT, FJ_CLI_VM_OPT_KEY, FJ_CLI_VM_OPT_SNI, FJ_CLI_VM_OPT_PSK_ID, FJ_CLI_VM_OPT_PSK_HEX,
  FJ_CLI_VM_OPT_SAVE_TRACES,
};
#define FJ_CLI_VM_OPTS                                                                            \
  {"stats", 0, NULL, FJ_CLI_VM_OPT_STATS, "print VM and JIT statistics to stderr after the run"}, \
  {"insn-limit", 0, "N", FJ_CLI_VM_OPT_INSN_LIMIT, "stop after N instructions (0 = no limit)"},  \
  {"server", 0, "ADDRS", FJ_CLI_VM_OPT_SERVER,                                                   \
   "compile servers HOST:PORT or unix:PATH, comma-separated (default: a private farjitd)"},      \
  {"no-jit", 0, NULL, FJ_CLI_VM_OPT_NO_JIT, "interpret only: no recording, no compile server"},  \
  {"jit-threshold", 0, "N", FJ_CLI_VM_OPT_JIT_THRESHOLD,                                         \
   "hot events before a loop or function is traced (0 = on first sight; default 64)"},          \
  {"trace-log", 0, NULL, FJ_CLI_VM_OPT_TRACE_LOG, "log each trace's life to stderr"},          \
  {"save-traces", 0, "DIR", FJ_CLI_VM_OPT_SAVE_TRACES,                                           \
   "write every trace sent to the server as DIR/<kind>-<pc>-<n>.trace (farjit compile/dump)"},  \
  {"jit-wait", 0, "MS", FJ_CLI_VM_OPT_JIT_WAIT,                                                  \
   "at a hot spot just sent, wait up to MS for its machine code (default 0: asynchronous)"},    \
  {"tls-ca", 0, "FILE", FJ_CLI_VM_OPT_TLS_CA, "TLS to --server: CA of the server certificate"}, \
  {"cert", 0, "FILE", FJ_CLI_VM_OPT_CERT, "TLS: client certificate (mutual TLS)"},             \
  {"key", 0, "FILE", FJ_CLI_VM_OPT_KEY, "TLS: client private key"},                            \
  {"server-name", 0, "NAME", FJ_CLI_VM_OPT_SNI, "TLS: name the server certificate must carry"}, \
  {"psk-identity", 0, "ID", FJ_CLI_VM_OPT_PSK_ID, "TLS-PSK identity"},                          \
  {"psk-hex", 0, "KEY", FJ_CLI_VM_OPT_PSK_HEX, "TLS-PSK key as hex"},

typedef struct fj_cli_vm_args {
  bool stats;
  bool has_insn_limit;
  uint64_t insn_limit;
  const char *server;      /* --server ... --trace-log: the JIT runtime (farjit/client_linux.h) */
  bool no_jit;
  bool has_jit_threshold;
  uint64_t jit_threshold;
  bool trace_log;
  const char *save_traces;  /* --save-traces DIR */
  uint32_t jit_wait_ms;
  const char *tls_ca, *tls_cert, *tls_key, *server_name, *psk_id, *psk_hex;
} fj_cli_vm_args;

/* 0 if handled, -1 after a message if the value is bad, 1 if id is not a VM option. */
int fj_cli_vm_opt(const char *cmd, fj_cli_vm_args *a, int id, const char *val);
/* After parsing: the combination is consistent (TLS options need --server, PSK excludes
 * certificates, --cert with --key).  0 or -1 after a message. */
int fj_cli_vm_check(const char *cmd, const fj_cli_vm_args *a);
/* A VM on the Linux platform with the standard helpers registered and a applied (including
 * the JIT runtime unless --no-jit).  Release it with fj_cli_vm_destroy. */
fj_vm *fj_cli_vm_create(const char *cmd, const fj_cli_vm_args *a);
void fj_cli_vm_destroy(fj_vm *vm);
/* After a run (successful or not): what a asked to print (--stats). */
void fj_cli_vm_report(const fj_cli_vm_args *a, const fj_vm *vm);
/* uBPF's helper 5 as the public conformance suite expects it: returns r1, and stops the
 * program (fj_vm_unwind) when r1 is 0. */
uint64_t fj_cli_unwind_helper(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5,
                              fj_vm *vm);
void fj_cli_print_stats(FILE *f, const fj_vm *vm);

#endif /* FJ_TOOLS_CLI_H */
