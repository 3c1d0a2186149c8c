/* farjit codegen — x86-64 backend, shared between its files (private to codegen/x86/).
 *
 * Register use (PORTING.md has the frame):
 *   rbx        fj_jit_state *st for the whole trace (callee-saved, so helpers keep it)
 *   rbp        frame pointer of the fixed frame; rsp: spill slots at [rsp + 8 * slot]
 *   rax        scratch: never allocated; operands that are constants or in slots are
 *              materialized here
 *   rsi rdi r8 r9 r10 r11 r12 r13 r14 r15 rdx rcx   allocatable (r12-r15 survive calls);
 *              rdx/rcx are never live across (or operands of) the instructions that use them
 *              as scratch (x86_clobbers: mul-high, division, atomics, shifts by a register,
 *              wide constants, stores, ...); exit syncs push rcx when a value there is needed;
 *              an atomic whose address is in a slot borrows r11 (push/pop around it)
 */
#ifndef FJ_CODEGEN_X86_ASM_X86_H
#define FJ_CODEGEN_X86_ASM_X86_H

#include "codegen/snap.h"
#include "codegen/target.h"
#include "codegen/x86/emit_x86.h"

#define X86_ST FJ_X86_RBX
/* Bytes pushed by the prologue below the return address: rbp, rbx, r12-r15. */
#define X86_PUSHED 48

typedef struct fj_x86 {
  fj_cg *cg;
  fj_ir *ir;
  fj_mcode *mc;
  uint32_t l_base;     /* bound at code offset 0: st->exit_code */
  uint32_t l_ret;      /* the shared return (`ret`) every exit branch initially targets */
  uint32_t l_loop;     /* first instruction of the loop body */
  uint32_t l_exit0;    /* label of exit 0's stub; exit e's is l_exit0 + e */
  /* Budget guards emitted as `sub r, N; jl pre` (asm_x86.c): out-of-line `add r, N; jmp exit`
   * trampolines, emitted before the exit stubs. */
  struct { uint32_t label, exit_label; uint8_t reg; int32_t n; } pre[32];
  uint32_t npre;
  fj_ref skip;         /* instruction already emitted with the guard before it */
  fj_ref last;         /* last instruction that is neither NOP nor PHI */
  uint32_t l_back;     /* target of the back edge: the PHI copies in front of l_loop, or
                          l_loop itself when there are none */
  bool rotated;        /* the last guard branches back to the loop: no back-edge jmp */
  bool rcx_pushed;     /* inside fj_x86_sync: rcx's value is at [rsp], slots 8 bytes further */
} fj_x86;

/* Operands (asm_x86.c). */
/* Put the value of ref (constant, register or slot) into register r (64 bits). */
void fj_x86_load(fj_x86 *x, unsigned r, fj_ref ref);
/* Register holding ref, loading it into `scratch` when it is not in a register. */
unsigned fj_x86_reg_of(fj_x86 *x, fj_ref ref, unsigned scratch);
/* Store the 64-bit value of ref at [base + disp]. */
void fj_x86_store_val(fj_x86 *x, unsigned base, int32_t disp, fj_ref ref);
/* Store the low width bytes of ref at [base + disp] (base is never rcx). */
void fj_x86_store_narrow(fj_x86 *x, unsigned w, unsigned base, int32_t disp, fj_ref ref);

/* State sync, exits, calls and the back edge (exit_x86.c). */
void fj_x86_sync(fj_x86 *x, uint32_t snap);
void fj_x86_call(fj_x86 *x, fj_ref ref);
void fj_x86_exit_stubs(fj_x86 *x);
void fj_x86_phi_moves(fj_x86 *x);
/* PHI copies the back edge needs (0: none). */
uint32_t fj_x86_phi_moves_count(fj_x86 *x);
void fj_x86_epilogue(fj_x86 *x);

#endif /* FJ_CODEGEN_X86_ASM_X86_H */
