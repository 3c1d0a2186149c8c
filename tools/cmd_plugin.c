/* farjit plugin — the VM as a bpf_conformance plugin (../shared/conformance/README.md).
 *
 *   PROGRAM_HEX | farjit plugin [MEMHEX] [options]
 *
 * The program arrives on stdin as hex bytes with any whitespace between them; the memory, when
 * the case has any, is the first argument (the public runner always passes it, empty when there
 * is none, followed by its options string, possibly empty; both are accepted).  On success r0
 * is printed in hex on stdout and the exit status is 0; on failure a one-line message goes to
 * stdout (where the runner compares it with the expected error) and the status is 1.
 * Helper 5 is uBPF's "unwind" helper, which the public suite expects, instead of ktime_get_ns.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farjit/error.h"
#include "farjit/vm.h"
#include "tools/cli.h"
#include "tools/commands.h"

enum { OPT_HELP };

static const fj_cli_opt plugin_opts[] = {
  FJ_CLI_VM_OPTS
  {"help", 'h', NULL, OPT_HELP, "show this help"},
  {0},
};

typedef struct plugin_args {
  bool help;
  fj_cli_vm_args vm;
} plugin_args;

static int plugin_opt(void *ud, int id, const char *val) {
  plugin_args *a = ud;
  if (id == OPT_HELP) {
    a->help = true;
    return 0;
  }
  return fj_cli_vm_opt("plugin", &a->vm, id, val);
}

/* A failure the runner sees: message on stdout, status 1. */
static int plugin_fail(const char *what, const char *msg) {
  printf("%s%s%s\n", what, *what ? ": " : "", msg);
  fflush(stdout);
  return FJ_EXIT_FAIL;
}

enum { MAX_WORDS = 256 };

/* The runner passes its whole options string as one argument ("--a --b"): split arguments that
 * start with '-' at whitespace; drop empty ones. */
static int split_args(int argc, char **argv, char **out, char *storage, size_t cap) {
  int n = 0;
  size_t used = 0;
  for (int k = 0; k < argc; k++) {
    const char *a = argv[k];
    if (a[0] != '-') {
      bool blank = true;
      for (const char *p = a; *p; p++) blank = blank && isspace((unsigned char)*p);
      if (!blank && n < MAX_WORDS) out[n++] = argv[k];
      continue;
    }
    for (const char *p = a; *p;) {
      while (isspace((unsigned char)*p)) p++;
      size_t len = strcspn(p, " \t\r\n");
      if (!len) break;
      if (used + len + 1 > cap || n == MAX_WORDS) return -1;
      memcpy(storage + used, p, len);
      storage[used + len] = '\0';
      out[n++] = storage + used;
      used += len + 1;
      p += len;
    }
  }
  return n;
}

int fj_cmd_plugin(int argc, char **argv) {
  static char storage[8192];
  char *words[MAX_WORDS];
  int nwords = split_args(argc - 1, argv + 1, words, storage, sizeof storage);
  if (nwords < 0) {
    fj_cli_error("plugin", "too many arguments");
    return FJ_EXIT_USAGE;
  }
  plugin_args a = {0};
  const char *pos[1];
  int npos, rc = fj_cli_parse("plugin", nwords, words, plugin_opts, plugin_opt, &a, pos, &npos, 1);
  if (rc) return rc;
  if (a.help) {
    printf("usage: PROGRAM_HEX | farjit plugin [MEMHEX] [options]\n"
           "Runs the program given as hex bytes on stdin with MEMHEX as its memory (r1 = address,\n"
           "r2 = length) and prints r0 in hex.  Helper 5 is uBPF's unwind helper.\n\noptions:\n");
    fj_cli_print_opts(stdout, plugin_opts);
    return FJ_EXIT_OK;
  }
  if (fj_cli_vm_check("plugin", &a.vm)) return FJ_EXIT_USAGE;

  char err[256];
  uint8_t *mem = NULL, *code = NULL;
  size_t mem_len = 0, code_len = 0, text_len;
  if (npos && fj_cli_parse_hex(pos[0], &mem, &mem_len, err, sizeof err))
    return plugin_fail("memory", err);
  char *text = (char *)fj_cli_read_file("plugin", "-", &text_len);
  if (!text) {
    free(mem);
    return plugin_fail("", "cannot read the program from stdin");
  }
  rc = fj_cli_parse_hex(text, &code, &code_len, err, sizeof err);
  free(text);
  fj_vm *vm = NULL;
  uint64_t r0 = 0;
  if (rc) {
    rc = plugin_fail("program", err);
  } else if (code_len == 0 || code_len % sizeof(fj_insn)) {
    snprintf(err, sizeof err, "%zu bytes is not a whole number of instructions", code_len);
    rc = plugin_fail("program", err);
  } else if (!(vm = fj_cli_vm_create("plugin", &a.vm))) {
    rc = plugin_fail("", "cannot create a VM");
  } else if (fj_vm_register_helper(vm, 5, "unwind", fj_cli_unwind_helper) < 0) {
    rc = plugin_fail("", "cannot register helper 5");
  } else {
    if (fj_vm_load(vm, code, code_len) < 0 || fj_vm_run(vm, 0, mem, mem_len, &r0) < 0) {
      rc = plugin_fail("", fj_vm_errmsg(vm));
    } else {
      printf("0x%llx\n", (unsigned long long)r0);
      rc = fflush(stdout) == 0 ? FJ_EXIT_OK : FJ_EXIT_FAIL;
    }
    fj_cli_vm_report(&a.vm, vm);
  }
  fj_cli_vm_destroy(vm);
  free(code);
  free(mem);
  return rc;
}
