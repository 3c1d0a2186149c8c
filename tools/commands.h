/* farjit CLI — the list of subcommands.
 *
 * _(name, summary).  Each row has `int fj_cmd_<name>(int argc, char **argv)` in
 * tools/cmd_<name>.c: argv[0] is the subcommand's name, the return value the exit status
 * (FJ_EXIT_* in tools/cli.h).  `farjit help NAME` runs `fj_cmd_<name>` with `--help`, so every
 * command prints its own usage for --help/-h.  Adding a command = one row + one file.
 */
#ifndef FJ_TOOLS_COMMANDS_H
#define FJ_TOOLS_COMMANDS_H

#define FJ_COMMANDS(_)                                                                       \
  _(run, "run a program (ELF object, .s/.asm assembly or .bin bytecode); prints r0")       \
  _(asm, "assemble eBPF text to raw bytecode")                                              \
  _(disasm, "disassemble raw bytecode or an ELF object to text")                            \
  _(plugin, "bpf_conformance plugin: hex program on stdin, memory hex as first argument")  \
  _(compile, "compile a trace file to a blob, in-process or on a farjitd (--server)")      \
  _(dump, "show a code blob: header, relocations, exits, IR dumps, annotated disassembly")

#define FJ_CMD_DECL(name, summary) int fj_cmd_##name(int argc, char **argv);
FJ_COMMANDS(FJ_CMD_DECL)
#undef FJ_CMD_DECL

#endif /* FJ_TOOLS_COMMANDS_H */
