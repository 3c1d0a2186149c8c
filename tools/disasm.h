/* farjit tools — eBPF disassembler.
 *
 * Prints the syntax tools/asm.h reads, driven by FJ_OPS.  The whole-program form round-trips:
 * fj_asm(fj_disasm(code)) gives back the same bytes for any input.  It checks this per
 * instruction by re-encoding the decoded fields (fj_asm_encode) and comparing; slots that are
 * not the canonical encoding of an op (unknown opcodes, stray bits in unused fields, a jump into
 * the middle of lddw, a truncated lddw) are printed as `.raw 0x<64-bit word>`.  Host code.
 */
#ifndef FJ_TOOLS_DISASM_H
#define FJ_TOOLS_DISASM_H

#include <stddef.h>
#include <stdint.h>

#include "farjit/ebpf.h"

/* A name for an instruction index (function symbols from an ELF object, assembler labels). */
typedef struct fj_disasm_label {
  const char *name;
  uint32_t pc;
} fj_disasm_label;

enum {
  FJ_DISASM_PC = 1u << 0, /* end each instruction line with "# <pc>" */
};

/* The instruction at code[pc] as one line (no newline) into buf, truncated like snprintf.
 * Jump and call targets print as relative offsets (`+3`, `-2`); a function address loaded by
 * lddw prints as `<fn +N>` (not assemblable on its own line: use fj_disasm for that).
 * Returns the slots consumed (2 for lddw), or FJ_EINVAL if pc >= n. */
int fj_disasm_insn(const fj_insn *code, size_t n, size_t pc, char *buf, size_t len);

/* The whole program, one instruction per line, every target that starts an instruction named
 * by a label line (`name:` from names when given and a valid identifier, else `L<pc>`).
 * *out is malloc'd and NUL-terminated.  Returns its length or FJ_ENOMEM. */
int fj_disasm(const fj_insn *code, size_t n, const fj_disasm_label *names, size_t nnames,
              unsigned flags, char **out);

#endif /* FJ_TOOLS_DISASM_H */
