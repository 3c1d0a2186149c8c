/* farjit — x86-64 runtime trampolines (System V ABI, ELF): entry, FJ_RT_CALL, deopt stub.
 * The contract is client_runtime/arch.h.  x86-64 needs no icache maintenance.
 *
 * Entry record (on the native stack, built by fj_arch_enter; rsp points at it):
 *   [0] previous record   [8] st   [16] &vm->stop   [24] &vm->left   [32] pad
 *   [40] r15 [48] r14 [56] r13 [64] r12 [72] rbx [80] rbp [88] return address
 * fj_x64_cur (thread-local) points at the innermost record.
 */
#include "client_runtime/arch.h"

#include "farjit/target.h"

#if defined(__x86_64__) && defined(__ELF__)

_Static_assert(FJ_JIT_OFF_CALL_RET == 120 && FJ_JIT_OFF_BUDGET == 104 &&
                   FJ_JIT_OFF_CALL_EXIT == 132 && FJ_JIT_OFF_EXIT_ID == 128,
               "offsets are hard-coded in the assembly below");

_Thread_local void *fj_x64_cur;

__asm__(
    ".text\n"
    ".globl fj_arch_enter\n"
    ".type fj_arch_enter, @function\n"
    ".p2align 4\n"
    "fj_arch_enter:\n"  /* rdi = st, rsi = entry, rdx = &stop, rcx = &left */
    "  pushq %rbp\n"
    "  pushq %rbx\n"
    "  pushq %r12\n"
    "  pushq %r13\n"
    "  pushq %r14\n"
    "  pushq %r15\n"
    "  subq $8, %rsp\n"
    "  pushq %rcx\n"
    "  pushq %rdx\n"
    "  pushq %rdi\n"
    "  movq fj_x64_cur@gottpoff(%rip), %rax\n"
    "  pushq %fs:(%rax)\n"
    "  movq %rsp, %fs:(%rax)\n"
    "  callq *%rsi\n"  /* rsp is 16-aligned here: 11 pushes + the return address */
    "fj_x64_leave:\n"  /* rsp = record, eax = exit id */
    "  movq fj_x64_cur@gottpoff(%rip), %rcx\n"
    "  popq %rdx\n"
    "  movq %rdx, %fs:(%rcx)\n"
    "  addq $32, %rsp\n"
    "  popq %r15\n"
    "  popq %r14\n"
    "  popq %r13\n"
    "  popq %r12\n"
    "  popq %rbx\n"
    "  popq %rbp\n"
    "  retq\n"
    ".size fj_arch_enter, .-fj_arch_enter\n"

    /* FJ_RT_CALL: rax = function, rdi..r9 = its arguments, [rsp] = return address into the
     * trace (rsp was 16-aligned before the trace's call). */
    ".globl fj_x64_rt_call\n"
    ".type fj_x64_rt_call, @function\n"
    ".p2align 4\n"
    "fj_x64_rt_call:\n"
    "  movq fj_x64_cur@gottpoff(%rip), %r11\n"
    "  movq %fs:(%r11), %r11\n"
    "  movq 8(%r11), %r10\n"
    "  popq 120(%r10)\n"          /* st->call_ret */
    "  movq 104(%r10), %r10\n"    /* vm->left = st->budget */
    "  movq 24(%r11), %r11\n"
    "  movq %r10, (%r11)\n"
    "  callq *%rax\n"
    "  movq fj_x64_cur@gottpoff(%rip), %r11\n"
    "  movq %fs:(%r11), %r11\n"
    "  movq 24(%r11), %r10\n"     /* st->budget = vm->left */
    "  movq (%r10), %r10\n"
    "  movq 8(%r11), %rcx\n"
    "  movq %r10, 104(%rcx)\n"
    "  movq 16(%r11), %r10\n"     /* the callee stopped the program: leave the trace */
    "  cmpb $0, (%r10)\n"
    "  jne fj_x64_deopt\n"
    "  jmpq *120(%rcx)\n"         /* st->call_ret: the trace, or the deopt stub */
    ".size fj_x64_rt_call, .-fj_x64_rt_call\n"

    /* Deopt stub: rax = the call's result. */
    ".globl fj_x64_deopt\n"
    ".type fj_x64_deopt, @function\n"
    ".p2align 4\n"
    "fj_x64_deopt:\n"
    "  movq fj_x64_cur@gottpoff(%rip), %rcx\n"
    "  movq %fs:(%rcx), %rsp\n"   /* drop the trace's frame */
    "  movq 8(%rsp), %rcx\n"
    "  movq %rax, 0(%rcx)\n"      /* st->r[0] */
    "  movl 132(%rcx), %eax\n"    /* st->call_exit */
    "  movl %eax, 128(%rcx)\n"    /* st->exit_id */
    "  jmp fj_x64_leave\n"
    ".size fj_x64_deopt, .-fj_x64_deopt\n");

void fj_x64_rt_call(void);
void fj_x64_deopt(void);

uint64_t fj_arch_rt_call(void) { return (uint64_t)(uintptr_t)&fj_x64_rt_call; }
uint64_t fj_arch_deopt(void) { return (uint64_t)(uintptr_t)&fj_x64_deopt; }
int fj_arch_target(void) { return FJ_TARGET_X86_64; }

#endif
