/* farjit asm — assemble text to raw bytecode: `farjit asm IN [-o OUT]` ("-" = stdin/stdout). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tools/asm.h"
#include "tools/cli.h"
#include "tools/commands.h"

enum { OPT_OUT, OPT_HELP };

static const fj_cli_opt asm_opts[] = {
  {"output", 'o', "OUT", OPT_OUT, "write the bytecode to OUT (default: stdout, unless a terminal)"},
  {"help", 'h', NULL, OPT_HELP, "show this help"},
  {0},
};

typedef struct asm_args {
  const char *out;
  bool help;
} asm_args;

static int asm_opt(void *ud, int id, const char *val) {
  asm_args *a = ud;
  if (id == OPT_OUT) a->out = val;
  else a->help = true;
  return 0;
}

int fj_cmd_asm(int argc, char **argv) {
  asm_args a = {0};
  const char *pos[1];
  int npos, rc = fj_cli_parse("asm", argc - 1, argv + 1, asm_opts, asm_opt, &a, pos, &npos, 1);
  if (rc) return rc;
  if (a.help || npos != 1) {
    FILE *f = a.help ? stdout : stderr;
    fprintf(f, "usage: farjit asm IN [-o OUT]\nAssembles eBPF text (IN may be -) to raw bytecode.\n\noptions:\n");
    fj_cli_print_opts(f, asm_opts);
    return a.help ? FJ_EXIT_OK : FJ_EXIT_USAGE;
  }
  const char *out = a.out ? a.out : "-";
  if (!a.out && isatty(STDOUT_FILENO)) {
    fj_cli_error("asm", "not writing bytecode to a terminal; use -o OUT");
    return FJ_EXIT_USAGE;
  }
  size_t len;
  char *text = (char *)fj_cli_read_file("asm", pos[0], &len);
  if (!text) return FJ_EXIT_FAIL;
  fj_insn *code;
  size_t n;
  char err[512];
  rc = FJ_EXIT_FAIL;
  if (fj_asm(text, &code, &n, err, sizeof err)) {
    fj_cli_error("asm", "%s: %s", pos[0], err);
  } else {
    if (fj_cli_write_file("asm", out, code, n * sizeof *code) == 0) rc = FJ_EXIT_OK;
    free(code);
  }
  free(text);
  return rc;
}
