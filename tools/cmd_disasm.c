/* farjit disasm — print a program as assembly: `farjit disasm IN [--pc]`.
 *
 * IN is raw bytecode or an ELF object (function symbols become labels; lddw of data sections is
 * shown unrelocated, with the relocations listed as comments).  Assembly input is accepted too
 * and printed normalised.  The output re-assembles to the same instructions.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "client_runtime/elf.h"
#include "farjit/platform_linux.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/disasm.h"

enum { OPT_PC, OPT_HELP };

static const fj_cli_opt disasm_opts[] = {
  {"pc", 0, NULL, OPT_PC, "end each instruction line with its pc as a comment"},
  {"help", 'h', NULL, OPT_HELP, "show this help"},
  {0},
};

typedef struct disasm_args {
  bool pc, help;
} disasm_args;

static int disasm_opt(void *ud, int id, const char *val) {
  (void)val;
  disasm_args *a = ud;
  if (id == OPT_PC) a->pc = true;
  else a->help = true;
  return 0;
}

static int print_program(const fj_insn *code, size_t n, const fj_disasm_label *names, size_t nnames,
                         unsigned flags) {
  char *text;
  if (fj_disasm(code, n, names, nnames, flags, &text) < 0) {
    fj_cli_error("disasm", "out of memory");
    return FJ_EXIT_FAIL;
  }
  fputs(text, stdout);
  free(text);
  return FJ_EXIT_OK;
}

static int disasm_elf(const char *path, const fj_cli_prog *p, unsigned flags) {
  const fj_allocator *mem = &fj_platform_linux()->mem;
  fj_elf_prog *elf = calloc(1, sizeof *elf);
  char err[256];
  if (!elf) {
    fj_cli_error("disasm", "out of memory");
    return FJ_EXIT_FAIL;
  }
  if (fj_elf_parse(p->bytes, p->len, mem, elf, err, sizeof err) < 0) {
    fj_cli_error("disasm", "%s: %s", path, err);
    free(elf);
    return FJ_EXIT_FAIL;
  }
  fj_disasm_label names[FJ_ELF_MAX_FUNCS];
  for (uint32_t k = 0; k < elf->nfuncs; k++) names[k] = (fj_disasm_label){elf->funcs[k].name, elf->funcs[k].pc};
  for (uint32_t k = 0; k < elf->ndata; k++)
    printf("# data %u: %s, %u bytes\n", k, elf->data[k].name, elf->data[k].size);
  for (uint32_t k = 0; k < elf->nrelocs; k++)
    printf("# reloc: lddw at pc %u loads data %u (%s) + %lld\n", elf->relocs[k].pc,
           elf->relocs[k].section, elf->data[elf->relocs[k].section].name,
           (long long)elf->relocs[k].addend);
  int rc = print_program(elf->insns, elf->ninsns, names, elf->nfuncs, flags);
  fj_elf_prog_free(elf, mem);
  free(elf);
  return rc;
}

int fj_cmd_disasm(int argc, char **argv) {
  disasm_args a = {0};
  const char *pos[1];
  int npos, rc = fj_cli_parse("disasm", argc - 1, argv + 1, disasm_opts, disasm_opt, &a, pos, &npos, 1);
  if (rc) return rc;
  if (a.help || npos != 1) {
    FILE *f = a.help ? stdout : stderr;
    fprintf(f, "usage: farjit disasm IN [--pc]\nDisassembles raw bytecode or an ELF object (IN may be -).\n\noptions:\n");
    fj_cli_print_opts(f, disasm_opts);
    return a.help ? FJ_EXIT_OK : FJ_EXIT_USAGE;
  }
  fj_cli_prog p;
  if (fj_cli_prog_read("disasm", pos[0], &p)) return FJ_EXIT_FAIL;
  unsigned flags = a.pc ? FJ_DISASM_PC : 0;
  if (p.kind == FJ_CLI_PROG_ELF) {
    rc = disasm_elf(pos[0], &p, flags);
  } else {
    size_t n, nnames = p.kind == FJ_CLI_PROG_ASM ? p.asmp.nlabels : 0;
    const fj_insn *code = fj_cli_prog_insns(&p, &n);
    fj_disasm_label *names = calloc(nnames + 1, sizeof *names);
    if (!names) {
      fj_cli_error("disasm", "out of memory");
      rc = FJ_EXIT_FAIL;
    } else {
      for (size_t k = 0; k < nnames; k++) names[k] = (fj_disasm_label){p.asmp.labels[k].name, p.asmp.labels[k].pc};
      rc = print_program(code, n, names, nnames, flags);
      free(names);
    }
  }
  fj_cli_prog_free(&p);
  if (rc == FJ_EXIT_OK && fflush(stdout) != 0) rc = FJ_EXIT_FAIL;
  return rc;
}
