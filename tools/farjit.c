/* farjit — command-line front end: `farjit COMMAND [ARGS...]`.
 *
 * Dispatches to the subcommands listed in tools/commands.h; this file knows nothing about what
 * they do.
 */
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/commands.h"

typedef struct command {
  const char *name;
  const char *summary;
  int (*fn)(int argc, char **argv);
} command;

static const command commands[] = {
#define FJ_CMD_ROW(name, summary) {#name, summary, fj_cmd_##name},
  FJ_COMMANDS(FJ_CMD_ROW)
#undef FJ_CMD_ROW
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static void usage(FILE *f) {
  fprintf(f, "usage: farjit COMMAND [ARGS...]\n\ncommands:\n");
  for (size_t k = 0; k < NCOMMANDS; k++) fprintf(f, "  %-10s %s\n", commands[k].name, commands[k].summary);
  fprintf(f, "  %-10s %s\n", "help", "this list, or `farjit help COMMAND` for a command's options");
}

static const command *find(const char *name) {
  for (size_t k = 0; k < NCOMMANDS; k++)
    if (strcmp(commands[k].name, name) == 0) return &commands[k];
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return FJ_EXIT_USAGE;
  }
  const char *name = argv[1];
  if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
    if (argc < 3) {
      usage(stdout);
      return FJ_EXIT_OK;
    }
    const command *c = find(argv[2]);
    if (!c) {
      fj_cli_error(NULL, "unknown command '%s' (see 'farjit help')", argv[2]);
      return FJ_EXIT_USAGE;
    }
    char *help_argv[] = {argv[2], "--help", NULL};
    return c->fn(2, help_argv);
  }
  const command *c = find(name);
  if (!c) {
    fj_cli_error(NULL, "unknown command '%s' (see 'farjit help')", name);
    return FJ_EXIT_USAGE;
  }
  return c->fn(argc - 1, argv + 1);
}
