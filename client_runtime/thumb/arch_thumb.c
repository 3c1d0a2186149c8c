/* farjit client runtime — Thumb-2 target layer: trace entry, FJ_RT_CALL, deopt stub
 * (contract in arch_thumb.h and client_runtime/arch.h).  Assembly: they run between compiled
 * code and C with conventions C cannot express (callee in r12, the state in the entry record). */
#include "client_runtime/thumb/arch_thumb.h"

#include "client_runtime/arch.h"
#include "farjit/target.h"

#if defined(__thumb2__) && defined(FJ_ARCH_THUMB)

_Static_assert(FJ_JIT_OFF_CALL_RET == 120 && FJ_JIT_OFF_BUDGET == 104 &&
                   FJ_JIT_OFF_CALL_EXIT == 132 && FJ_JIT_OFF_EXIT_ID == 128,
               "offsets are hard-coded in the assembly below");

void *fj_thm_cur;  /* innermost entry record */

__asm__(
  "  .syntax unified\n"
  "  .thumb\n"
  "  .text\n"
  "  .global fj_arch_enter\n"
  "  .type fj_arch_enter, %function\n"
  "  .thumb_func\n"
  "fj_arch_enter:\n"                     /* r0 = st, r1 = entry, r2 = &stop, r3 = &left */
  "  push {r4-r11, lr}\n"
  "  sub sp, #12\n"                      /* record [16..27] */
  "  orr r12, r1, #1\n"                  /* Thumb code */
  "  movw r4, #:lower16:fj_thm_cur\n"
  "  movt r4, #:upper16:fj_thm_cur\n"
  "  ldr r1, [r4]\n"                     /* the previous record */
  "  push {r0-r3}\n"                     /* record [0..15]: st, previous, &stop, &left */
  "  str sp, [r4]\n"
  "  blx r12\n"
  "fj_thm_leave:\n"                      /* sp = record, r0 = exit id */
  "  movw r4, #:lower16:fj_thm_cur\n"
  "  movt r4, #:upper16:fj_thm_cur\n"
  "  ldr r5, [sp, #4]\n"
  "  str r5, [r4]\n"
  "  add sp, #28\n"
  "  pop {r4-r11, pc}\n"
  "  .size fj_arch_enter, . - fj_arch_enter\n"
  "\n"
  "  .global fj_thm_rt_call\n"
  "  .type fj_thm_rt_call, %function\n"
  "  .thumb_func\n"
  "fj_thm_rt_call:\n"
  "  str r4, [sp, #28]\n"                /* the caller's scratch word */
  "  movw r4, #:lower16:fj_thm_cur\n"
  "  movt r4, #:upper16:fj_thm_cur\n"
  "  ldr r4, [r4]\n"                     /* record */
  "  str r12, [r4, #20]\n"               /* the callee, until the arguments are back */
  "  ldr r12, [r4]\n"                    /* st */
  "  str lr, [r12, #120]\n"              /* st->call_ret = return address */
  "  mov lr, #0\n"
  "  str lr, [r12, #124]\n"
  "  ldrd r12, lr, [r12, #104]\n"        /* vm->left = st->budget */
  "  ldr r4, [r4, #12]\n"
  "  strd r12, lr, [r4]\n"
  "  movw r4, #:lower16:fj_thm_cur\n"
  "  movt r4, #:upper16:fj_thm_cur\n"
  "  ldr r4, [r4]\n"
  "  ldr r12, [r4, #20]\n"
  "  ldr r4, [sp, #28]\n"
  "  blx r12\n"                          /* arguments untouched */
  "  movw r12, #:lower16:fj_thm_cur\n"   /* r0:r1 = result; r2, r3, r12, lr are free */
  "  movt r12, #:upper16:fj_thm_cur\n"
  "  ldr r12, [r12]\n"
  "  ldr r2, [r12, #12]\n"
  "  ldr r3, [r12]\n"
  "  ldrd r2, lr, [r2]\n"                /* st->budget = vm->left */
  "  strd r2, lr, [r3, #104]\n"
  "  ldr r2, [r12, #8]\n"
  "  ldrb r2, [r2]\n"
  "  cmp r2, #0\n"
  "  bne fj_thm_deopt\n"                 /* the callee stopped the program */
  "  ldr r2, [r3, #120]\n"
  "  bx r2\n"                            /* through st->call_ret */
  "  .size fj_thm_rt_call, . - fj_thm_rt_call\n"
  "\n"
  "  .global fj_thm_deopt\n"
  "  .type fj_thm_deopt, %function\n"
  "  .thumb_func\n"
  "fj_thm_deopt:\n"                      /* r0:r1 = the call's result */
  "  movw r12, #:lower16:fj_thm_cur\n"
  "  movt r12, #:upper16:fj_thm_cur\n"
  "  ldr r12, [r12]\n"
  "  mov sp, r12\n"                      /* drop the trace's frame */
  "  ldr r3, [sp]\n"
  "  strd r0, r1, [r3]\n"                /* st->r[0] */
  "  ldr r0, [r3, #132]\n"               /* st->call_exit */
  "  str r0, [r3, #128]\n"               /* st->exit_id */
  "  b fj_thm_leave\n"
  "  .size fj_thm_deopt, . - fj_thm_deopt\n"
  "\n"
  "  .global fj_thm_code_barrier\n"
  "  .type fj_thm_code_barrier, %function\n"
  "  .thumb_func\n"
  "fj_thm_code_barrier:\n"
  "  dsb\n"
  "  isb\n"
  "  bx lr\n"
  "  .size fj_thm_code_barrier, . - fj_thm_code_barrier\n");

uint64_t fj_arch_rt_call(void) { return (uint64_t)(uintptr_t)&fj_thm_rt_call; }
uint64_t fj_arch_deopt(void) { return (uint64_t)(uintptr_t)&fj_thm_deopt; }
int fj_arch_target(void) { return FJ_TARGET_THUMBV7EM; }

#else
typedef int fj_arch_thumb_host_unused; /* other hosts: nothing here (ISO C: not empty) */
#endif
