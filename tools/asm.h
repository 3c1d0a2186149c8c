/* farjit tools — eBPF text assembler.
 *
 * Syntax (the one the bpf_conformance .data files use), one instruction per line:
 *   mov %r0, 1           add32 %r1, %r2         neg %r0          be16 %r0   (swapN = bswapN)
 *   lddw %r0, 0x1122334455667788                lddw %r2, func   (FJ_PSEUDO_FUNC, pc-relative)
 *   ldxdw %r0, [%r1+2]   stxdw [%r10-8], %r0    stw [%r1+4], 7
 *   lock add [%r10-8], %r1                      lock fetch add32 [%r1], %r2   lock cmpxchg ...
 *   jne %r0, %r1, label  jeq %r0, 5, +3         ja label         ja32 label
 *   call 5               call local func        call %r2 (= callx %r2; helper id in dst)
 *   exit                 .raw 0x0000000000000095 (one slot, as the `-- raw` sections write it)
 * Labels are `name:` (alone or before an instruction); `#` starts a comment anywhere.  Numbers
 * are decimal or 0x-hex with an optional sign; 32-bit immediates accept [-2^31, 2^32-1] (so
 * 0xffffffff means -1), lddw [-2^63, 2^64-1].  As in bpf_conformance, a jump to `exit` with no
 * label of that name goes to the first `exit` instruction.
 *
 * Mnemonics, opcodes and operand formats all come from FJ_OPS (farjit/ebpf.h); this file only
 * knows how each *format* is written.  Host code: allocates with malloc.
 */
#ifndef FJ_TOOLS_ASM_H
#define FJ_TOOLS_ASM_H

#include <stddef.h>
#include <stdint.h>

#include "farjit/ebpf.h"

/* A label and the instruction index it names. */
typedef struct fj_asm_label {
  char *name;
  uint32_t pc;
} fj_asm_label;

typedef struct fj_asm_prog {
  fj_insn *insns;
  size_t ninsns;
  fj_asm_label *labels;  /* in definition order */
  size_t nlabels;
} fj_asm_prog;

/* Assemble text (NUL-terminated).  Returns 0, FJ_EINVAL on a syntax error (err gets
 * "line 3: unknown mnemonic 'movv'") or FJ_ENOMEM.  On success *out holds malloc'd arrays that
 * the caller releases with fj_asm_prog_free; on failure *out is left empty. */
int fj_asm_prog_build(const char *text, fj_asm_prog *out, char *err, size_t errlen);
void fj_asm_prog_free(fj_asm_prog *p);
/* pc of a label, or -1. */
int64_t fj_asm_prog_label(const fj_asm_prog *p, const char *name);

/* Shorthand: just the instructions, *out malloc'd (free() it). */
int fj_asm(const char *text, fj_insn **out, size_t *n, char *err, size_t errlen);

/* The canonical encoding of one slot of op: code from FJ_OPS, its discriminator field set, and
 * the operand fields the op's format uses (the others zero).  For lddw this is the first slot;
 * the second is {0, 0, 0, imm >> 32}. */
fj_insn fj_asm_encode(enum fj_op op, unsigned dst, unsigned src, int16_t off, int32_t imm);

/* Operand syntax of a format ("%rD, IMM"), for messages and help. */
const char *fj_asm_fmt_usage(enum fj_fmt fmt);

#endif /* FJ_TOOLS_ASM_H */
