/* farjit run — load a program, run it once, print r0.
 *
 *   farjit run FILE [--ctx FILE | --mem HEX] [--entry NAME] [--stats] [--insn-limit N]
 *
 * stdout carries exactly one line, r0 as 0x..., so scripts can compare it; everything else
 * (errors, --stats) goes to stderr.  Options are the table below: adding one is a row, a field
 * in run_args and a case in run_opt; options about how programs run belong in FJ_CLI_VM_OPTS
 * (tools/cli.h), which `plugin` shares.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farjit/error.h"
#include "farjit/vm.h"
#include "tools/cli.h"
#include "tools/commands.h"

enum { OPT_CTX, OPT_MEM, OPT_ENTRY, OPT_HELP };

static const fj_cli_opt run_opts[] = {
  {"ctx", 0, "FILE", OPT_CTX, "program memory: a copy of FILE (r1 = address, r2 = size)"},
  {"mem", 0, "HEX", OPT_MEM, "program memory as hex bytes (\"01 02 ff\")"},
  {"entry", 0, "NAME", OPT_ENTRY, "start at function or label NAME, or at pc NAME if a number"},
  FJ_CLI_VM_OPTS
  {"help", 'h', NULL, OPT_HELP, "show this help"},
  {0},
};

typedef struct run_args {
  const char *ctx_file, *mem_hex, *entry;
  bool help;
  fj_cli_vm_args vm;
} run_args;

static int run_opt(void *ud, int id, const char *val) {
  run_args *a = ud;
  switch (id) {
  case OPT_CTX: a->ctx_file = val; break;
  case OPT_MEM: a->mem_hex = val; break;
  case OPT_ENTRY: a->entry = val; break;
  case OPT_HELP: a->help = true; break;
  default: return fj_cli_vm_opt("run", &a->vm, id, val);
  }
  return 0;
}

static void run_usage(FILE *f) {
  fprintf(f, "usage: farjit run FILE [options]\n"
             "Runs FILE (ELF object by magic, .s/.asm assembly, .bin raw bytecode) and prints r0.\n"
             "Standard helpers are registered (farjit/helpers.h).\n\noptions:\n");
  fj_cli_print_opts(f, run_opts);
}

/* The program's memory from --ctx or --mem; NULL/0 when neither. */
static int read_memory(const run_args *a, uint8_t **mem, size_t *len) {
  *mem = NULL;
  *len = 0;
  if (a->ctx_file) {
    *mem = fj_cli_read_file("run", a->ctx_file, len);
    return *mem ? 0 : -1;
  }
  if (a->mem_hex) {
    char err[128];
    if (fj_cli_parse_hex(a->mem_hex, mem, len, err, sizeof err)) {
      fj_cli_error("run", "--mem: %s", err);
      return -1;
    }
  }
  return 0;
}

int fj_cmd_run(int argc, char **argv) {
  run_args a = {0};
  const char *pos[1];
  int npos, rc = fj_cli_parse("run", argc - 1, argv + 1, run_opts, run_opt, &a, pos, &npos, 1);
  if (rc) return rc;
  if (a.help) {
    run_usage(stdout);
    return FJ_EXIT_OK;
  }
  if (npos != 1) {
    run_usage(stderr);
    return FJ_EXIT_USAGE;
  }
  if (fj_cli_vm_check("run", &a.vm)) return FJ_EXIT_USAGE;
  if (a.ctx_file && a.mem_hex) {
    fj_cli_error("run", "--ctx and --mem are exclusive");
    return FJ_EXIT_USAGE;
  }
  const char *path = pos[0];
  fj_cli_prog prog;
  if (fj_cli_prog_read("run", path, &prog)) return FJ_EXIT_FAIL;
  uint8_t *mem = NULL;
  size_t mem_len = 0;
  fj_vm *vm = NULL;
  uint32_t entry = 0;
  uint64_t r0 = 0;
  rc = FJ_EXIT_FAIL;
  if (read_memory(&a, &mem, &mem_len) || !(vm = fj_cli_vm_create("run", &a.vm))) goto out;
  if (fj_cli_prog_load("run", path, vm, &prog, a.entry, &entry)) goto out;
  if (fj_vm_run(vm, entry, mem, mem_len, &r0) < 0) {
    fj_cli_error("run", "%s: %s", path, fj_vm_errmsg(vm));
  } else {
    printf("0x%llx\n", (unsigned long long)r0);
    rc = fflush(stdout) == 0 ? FJ_EXIT_OK : FJ_EXIT_FAIL;
  }
  fj_cli_vm_report(&a.vm, vm);
out:
  fj_cli_vm_destroy(vm);
  free(mem);
  fj_cli_prog_free(&prog);
  return rc;
}
