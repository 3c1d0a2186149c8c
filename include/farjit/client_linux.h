/* farjit — the Linux pieces of the client JIT runtime (farjit/client.h), libfj_client_linux.a.
 *
 * Executable memory: fj_jit_linux_exec() gives fj_jit_exec_ops that keep W^X either by flipping
 * one mapping between RW and RX with mprotect (FJ_JIT_EXEC_FLIP) or by mapping the same memfd
 * twice, RW and RX (FJ_JIT_EXEC_DUAL: no flips, for hosts that forbid mprotect to X).
 */
#ifndef FARJIT_CLIENT_LINUX_H
#define FARJIT_CLIENT_LINUX_H

#include "farjit/client.h"

#ifdef __cplusplus
extern "C" {
#endif

enum fj_jit_exec_mode { FJ_JIT_EXEC_FLIP = 0, FJ_JIT_EXEC_DUAL = 1 };
fj_jit_exec_ops fj_jit_linux_exec(enum fj_jit_exec_mode mode);

#ifdef __cplusplus
}
#endif
#endif /* FARJIT_CLIENT_LINUX_H */
