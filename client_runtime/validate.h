/* farjit — static validation of eBPF bytecode (client core, freestanding).
 *
 * fj_validate() checks a whole program before the VM accepts it, so the interpreter (and any
 * code generated from it) may assume: every slot decodes to a known op (fj_op_decode), register
 * fields are <= 10, nothing writes r10, reserved fields are zero, jumps and local calls land on
 * an instruction inside the program (never the second slot of an lddw), lddw is complete,
 * helper ids of `call imm` are known, and the last instruction is exit or ja (no fall-through
 * off the end).  It never allocates and never looks at memory outside code[0..n).
 *
 * On failure it returns FJ_EBADPROG (FJ_EHELPER for an unknown helper) and writes a message
 * naming the pc and the rule, e.g. "pc 3 (mov): write to read-only frame pointer r10".
 */
#ifndef FJ_CLIENT_VALIDATE_H
#define FJ_CLIENT_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "farjit/ebpf.h"

/* helper_known(ud, id): is helper id registered?  NULL accepts every id. */
typedef bool (*fj_helper_known_fn)(const void *ud, uint32_t id);

int fj_validate(const fj_insn *code, uint32_t n, fj_helper_known_fn helper_known, const void *ud,
                char *err, size_t errlen, int64_t *err_pc);

#endif /* FJ_CLIENT_VALIDATE_H */
