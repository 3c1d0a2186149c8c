/* farjit — what the runtime needs from the per-target layer (client_runtime/<target>/).
 *
 * A target layer provides the entry trampoline that runs a trace, the FJ_RT_CALL trampoline
 * every call out of a trace goes through, and the deopt stub that return-address rewriting
 * sends a live call to.  It keeps a chain of "entry records" (one per active fj_arch_enter, on
 * the native stack, innermost in a thread-local) holding st, &vm->stop and &vm->left, so that:
 *   - FJ_RT_CALL saves the return address into st->call_ret, hands the callee the exact budget
 *     (vm->left = st->budget) and takes it back after (st->budget = vm->left), and when the
 *     callee stopped the program (vm->stop: error or unwind) leaves through the deopt stub
 *     instead of returning into the trace;
 *   - the deopt stub stores the call's result in st->r[0], sets st->exit_id = st->call_exit and
 *     returns that id from fj_arch_enter, restoring the native stack from the entry record: it
 *     never depends on the trace's own frame layout.
 * Generated code must reload its budget from st->budget after every call (farjit/jit.h).
 */
#ifndef FJ_CLIENT_ARCH_H
#define FJ_CLIENT_ARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "farjit/jit.h"

/* Run the trace at entry with st; returns the exit id. */
uint32_t fj_arch_enter(fj_jit_state *st, const void *entry, const bool *stop, uint64_t *left);
/* Addresses of the FJ_RT_CALL trampoline and of the deopt stub (0 on a host without a layer). */
uint64_t fj_arch_rt_call(void);
uint64_t fj_arch_deopt(void);
/* The target the layer runs (FJ_TARGET_NONE: no machine code on this host). */
int fj_arch_target(void);

#endif /* FJ_CLIENT_ARCH_H */
