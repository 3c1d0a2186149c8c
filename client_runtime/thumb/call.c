/* FJ_RT_CALL trampoline and deopt stub for Thumb-2 traces (see call.h, frame.h).  Assembly:
 * they run between compiled code and C with a register convention C cannot express (callee in
 * r12, st found in the caller's frame). */
#include "client_runtime/thumb/call.h"

#include "client_runtime/thumb/frame.h"
#include "farjit/jit.h"

#define FJ_S_(x) #x
#define FJ_S(x) FJ_S_(x)

#if defined(__thumb2__)
_Static_assert(FJ_JIT_OFF_CALL_RET == 120 && FJ_JIT_OFF_EXIT_ID == 128 &&
               FJ_JIT_OFF_CALL_EXIT == 132, "offsets used below");

__asm__(
  "  .syntax unified\n"
  "  .thumb\n"
  "  .text\n"
  "  .global fj_rt_thumb_call\n"
  "  .type fj_rt_thumb_call, %function\n"
  "  .thumb_func\n"
  "fj_rt_thumb_call:\n"
  "  str r4, [sp, #" FJ_S(FJ_THM_FRAME_SCRATCH) "]\n"  /* one register to work with */
  "  ldr r4, [sp, #" FJ_S(FJ_THM_FRAME_ST) "]\n"
  "  str lr, [r4, #120]\n"                             /* st->call_ret = return address */
  "  mov lr, #0\n"
  "  str lr, [r4, #124]\n"
  "  ldr r4, [sp, #" FJ_S(FJ_THM_FRAME_SCRATCH) "]\n"
  "  blx r12\n"                                        /* arguments untouched */
  "  ldr r2, [sp, #" FJ_S(FJ_THM_FRAME_ST) "]\n"       /* r2, r3 are free: result is r0:r1 */
  "  ldr r2, [r2, #120]\n"
  "  bx r2\n"                                          /* return through st->call_ret */
  "  .size fj_rt_thumb_call, . - fj_rt_thumb_call\n"
  "\n"
  "  .global fj_rt_thumb_deopt\n"
  "  .type fj_rt_thumb_deopt, %function\n"
  "  .thumb_func\n"
  "fj_rt_thumb_deopt:\n"
  "  ldr r2, [sp, #" FJ_S(FJ_THM_FRAME_ST) "]\n"
  "  strd r0, r1, [r2]\n"                              /* st->r[0] = the call's result */
  "  ldr r0, [r2, #132]\n"                             /* st->call_exit */
  "  str r0, [r2, #128]\n"                             /* st->exit_id */
  "  ldr r1, [sp, #" FJ_S(FJ_THM_FRAME_TOP) "]\n"
  "  mov sp, r1\n"
  "  pop {r4-r11, pc}\n"
  "  .size fj_rt_thumb_deopt, . - fj_rt_thumb_deopt\n");
#else
/* Host builds (tests compile every runtime file): nothing to run here. */
typedef int fj_rt_thumb_call_host_unused;
#endif
