/* farjit client runtime (Thumb-2) — the native frame of a compiled trace, as the runtime sees it.
 *
 * A trace entered as uint32_t trace(fj_jit_state *st) pushes {r4-r11, lr}, then reserves N bytes
 * (N = 4 mod 8, so sp stays 8-aligned at calls) and keeps this layout at sp for its whole life:
 *   [sp +  0 .. 31]  outgoing stack arguments of helper calls: eBPF r3, r4, r5 (8 bytes each,
 *                    AAPCS) and the 6th argument st->vm (4 bytes)
 *   [sp + 32]        sp + N: where {r4-r11, lr} were pushed (to unwind without knowing N)
 *   [sp + 36]        st
 *   [sp + 40]        scratch word of the FJ_RT_CALL trampoline
 *   [sp + 44 ..]     the compiler's spill slots
 * The FJ_RT_CALL trampoline reads st from here (r0-r3 hold the callee's arguments), and the
 * deopt stub unwinds with it.  The compiler's side of the contract is codegen/thumb/thumb.h;
 * tests check that both agree.  Freestanding.
 */
#ifndef FJ_CLIENT_THUMB_FRAME_H
#define FJ_CLIENT_THUMB_FRAME_H

#define FJ_THM_FRAME_ARGS    0   /* outgoing stack arguments */
#define FJ_THM_FRAME_VM      24  /* 6th helper argument */
#define FJ_THM_FRAME_TOP     32  /* saved sp + N */
#define FJ_THM_FRAME_ST      36  /* st */
#define FJ_THM_FRAME_SCRATCH 40  /* trampoline scratch */
#define FJ_THM_FRAME_SPILL   44  /* first spill slot */
#define FJ_THM_FRAME_SAVED   36  /* bytes pushed at entry: r4-r11, lr */

#endif /* FJ_CLIENT_THUMB_FRAME_H */
