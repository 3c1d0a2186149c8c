/* farjit client runtime (Thumb-2) — the call trampoline and the deopt stub.
 *
 * fj_rt_thumb_call is FJ_RT_CALL for Thumb traces (farjit/blob.h, farjit/jit.h): the trace has
 * synced st, set st->call_exit and st->exit_code, put the callee in r12 and its arguments in
 * r0-r3 and its frame's argument area (frame.h), then BLs here.  The trampoline stores the
 * return address (Thumb bit set) in st->call_ret, calls r12 with every argument unchanged and
 * returns through st->call_ret, which the runtime may have rewritten meanwhile.
 *
 * fj_rt_thumb_deopt is what the runtime rewrites st->call_ret to when the trace was invalidated
 * during the call: it stores the call's result (r0:r1) in st->r[0], unwinds the trace's frame
 * (frame.h) and returns st->call_exit from the trace, with st->exit_id = st->call_exit.
 * Both exist only in Thumb-2 builds (defined in call.c as assembly).
 */
#ifndef FJ_CLIENT_THUMB_CALL_H
#define FJ_CLIENT_THUMB_CALL_H

void fj_rt_thumb_call(void);
void fj_rt_thumb_deopt(void);

#endif /* FJ_CLIENT_THUMB_CALL_H */
