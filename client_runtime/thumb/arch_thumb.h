/* farjit client runtime — the Thumb-2 (ARMv7E-M) target layer (client_runtime/arch.h).
 *
 * fj_arch_enter builds an entry record on the native stack and calls the trace; fj_thm_cur
 * points at the innermost record (a plain global: the M4 runs one thread of eBPF).
 *   record: [0] st  [4] previous record  [8] &vm->stop  [12] &vm->left
 *           [16] pad  [20] the callee of the current call out (the trampoline's)  [24] pad
 *   then r4-r11, lr as pushed on entry (28 + 36 bytes: sp stays 8-aligned).
 *
 * FJ_RT_CALL (fj_thm_rt_call): the trace has synced st and set st->call_exit / exit_code, put
 * the callee in r12, its arguments in r0-r3 and [sp + 0..27] (AAPCS: eBPF r3, r4, r5 as 64-bit
 * pairs, then st->vm), and BLs here.  [sp + 28] is a scratch word the caller leaves to the
 * trampoline (the only place it can free a register without moving the stack arguments).
 * The trampoline stores the return address (Thumb bit set) in st->call_ret, hands the budget to
 * the VM (vm->left = st->budget), calls r12 with every argument unchanged, takes the budget
 * back (st->budget = vm->left), leaves through the deopt stub if the callee stopped the program
 * (vm->stop), and otherwise returns through st->call_ret (which the runtime may have rewritten).
 *
 * The deopt stub (fj_thm_deopt) stores the call's result (r0:r1) in st->r[0], sets st->exit_id =
 * st->call_exit and returns that id from fj_arch_enter, restoring the native stack from the entry
 * record: it never depends on the trace's own frame.
 *
 * Built only for Thumb-2 with FJ_ARCH_THUMB defined (client_runtime/arch_none.c steps aside
 * then).  Code patching needs no cache maintenance on the M4 beyond the DSB/ISB the linker
 * issues after writing code (fj_thm_code_barrier).
 */
#ifndef FJ_CLIENT_THUMB_ARCH_THUMB_H
#define FJ_CLIENT_THUMB_ARCH_THUMB_H

#define FJ_THM_CALL_SCRATCH 28  /* [sp + 28] at a call to FJ_RT_CALL belongs to the trampoline */

void fj_thm_rt_call(void);
void fj_thm_deopt(void);
/* After writing code: complete the stores and refetch instructions (dsb; isb). */
void fj_thm_code_barrier(void);

#endif /* FJ_CLIENT_THUMB_ARCH_THUMB_H */
