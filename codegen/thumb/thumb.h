/* farjit codegen — Thumb-2 (ARMv7E-M, Cortex-M4) backend, shared between its files.
 *
 * eBPF registers are 64-bit, the core is 32-bit.  The register allocator (ra.h) hands out the
 * single registers r4-r11 (callee-saved) and r12, lr (call-clobbered: a value live across a
 * helper call never gets them, nor one live at a 64-bit division, whose BL clobbers them) with
 * widths: an I64 value takes two of them, any two (fj_loc.reg = low word, reg_hi = high word),
 * an I32 value (ir.h: known zero-extended) one, its upper half never materialized: consumers
 * that need it as 64 bits know it is 0 (ALU32 code is one instruction per operation, not two).
 * A high register holds its word only up to the last instruction that reads it (ra.hi_end);
 * an I64 value whose high word nothing reads takes one register and, for the ops of
 * fj_ra_low_only, only its low word is computed.  Pre-roll values the loop body uses may have a
 * body location of their own (split_loop): locations are read with fj_ra_loc_at at x->cur.
 *
 * Scratch (never allocated): A = r0:r1 (first operand), B = r2:r3 (second operand).  Operands
 * in slots or constants are loaded into A / B; a result is computed into its own registers or,
 * when it lives in a spill slot, into the scratch pair its lowering names (A for the
 * two-address ops: "A = a; A op= b", which their lowering supports anyway) and then stored.
 * A lowering that needs more temporaries (64-bit multiply-high, atomics) takes them with
 * thm_tmp: unused scratch, then registers no value is live in at that instruction (x->live),
 * and only as a last resort a register saved around the instruction (push/pop, x->sp_bias).
 * Exit stubs and state syncs use r0-r3 only, so every allocatable register still holds its
 * value while a sync reads it.
 * st is not kept in a register: it lives in the frame and is reloaded where needed (entry,
 * exits, calls, state loads), which leaves ten registers to the allocator.
 *
 * Frame (private to the compiler, except the call area the runtime's FJ_RT_CALL trampoline
 * uses: client_runtime/thumb/arch_thumb.h).  push {r4-r11, lr}, then sub sp, #N with
 * N = THM_FR_SPILL + 8 * nslots + 4 (sp stays 8-aligned):
 *   [sp + 0..23]  outgoing stack arguments of helpers (eBPF r3, r4, r5)   [sp + 24]  st->vm
 *   [sp + 28]     FJ_RT_CALL trampoline scratch       [sp + 32]  st    [sp + 36]  code base
 *   [sp + 40 + 8 * k]  spill slot k
 * codegen/PORTING.md section 8 is the full description.
 * Code layout: offset 0 the shared return (`mov r0, r1; bx lr`), then the entry, the body, the
 * loop back edge, the exit stubs.
 */
#ifndef FJ_CODEGEN_THUMB_THUMB_H
#define FJ_CODEGEN_THUMB_THUMB_H

#include <stdbool.h>
#include <stdint.h>

#include "codegen/snap.h"
#include "codegen/target.h"
#include "codegen/thumb/emit_thumb.h"

extern const fj_backend fj_backend_thumbv7em;
/* The same without the IR's 32-bit knowledge (every value two registers): used only to
 * measure what that knowledge saves (tests/codegen/test_thumb_size.c). */
extern const fj_backend fj_backend_thumbv7em_wide;

#define THM_FR_VM      24
#define THM_FR_SCRATCH 28   /* the trampoline's (arch_thumb.h FJ_THM_CALL_SCRATCH) */
#define THM_FR_ST      32
#define THM_FR_BASE    36
#define THM_FR_SPILL   40
#define THM_MAX_SLOTS  120  /* ldrd/strd reach sp + 1020 */

/* Scratch registers; ip (r12) carries a helper's address to the FJ_RT_CALL trampoline. */
enum { THM_A0 = 0, THM_A1 = 1, THM_B0 = 2, THM_B1 = 3, THM_IP = 12 };
/* Registers the allocator hands out (mask) and the ones a call clobbers among them. */
#define THM_ALLOC_MASK 0x5ff0u   /* r4-r11, r12, lr */
#define THM_CALLER_MASK 0x5000u  /* r12, lr */

/* Private fixup kinds (codegen/fixup.h): b<c>.w to a label. */
enum { THM_FIX_BCOND = FJ_FIX_TARGET_BASE };

typedef struct fj_thm {
  fj_cg *cg;
  fj_ir *ir;
  fj_mcode *mc;
  fj_thm_buf b;       /* writes into mc->p; mc->len is brought up to date at labels/the end */
  bool wide;          /* ignore I32 knowledge (to measure what it saves): every value 64-bit */
  fj_ref cur;         /* instruction being lowered (messages, register liveness) */
  bool in_stub;       /* emitting exit stubs (snapshot values are read as of their guards) */
  uint32_t frame_n;   /* N of the frame */
  uint32_t l_ret, l_loop, l_exit0;
  fj_ref skip;        /* an instruction a fused budget check already computed */
  /* out-of-line restores of fused budget checks: add n back to (lo, hi), then the exit */
  struct thm_pre { uint32_t label, exit_label; uint8_t lo, hi; uint32_t n; } pre[16];
  uint32_t npre;
  /* a parallel move's low word into a slot, held back in case its high word follows (strd) */
  struct { bool on; fj_loc dst, src; fj_ref ref; } pm;
  const uint32_t *live; /* [ref - FJ_REF_BIAS]: allocatable registers holding a value live at
                           the instruction (its operands and result included; a superset) */
  uint32_t claimed;   /* temporaries thm_tmp handed out for the instruction being lowered */
  uint8_t borrow[8];  /* of those, registers pushed around it, in push order (popped in */
  uint8_t nborrow;    /* reverse by thm_tmp_release) */
  int32_t sp_bias;    /* bytes pushed: slot offsets from sp grow by this much */
  /* the last b<c>.w to a label (thm_jcc), for the back edge to turn into the loop branch */
  struct { uint32_t pos, fix, label; enum fj_thm_cond cond; } jcc;
  uint32_t skip_to;   /* highest position a local forward skip (skip_end) targets */
  /* what registers are known to hold while nothing has been emitted since (b.pos unchanged,
   * no label bound): the slot a result was just stored to, st loaded by a state load */
  struct { uint32_t pos; uint16_t slot; uint8_t lo, hi; bool two; } fwd;
  uint32_t st_pos;    /* A0 holds st */
  uint32_t redirect;  /* FJ_LABEL_NONE, or where the guard being lowered exits instead of its
                         stub (a restore first: asm_tail_charge) */
  uint8_t *afold;     /* [ref - FJ_REF_BIAS]: an address ADD its one LOAD/STORE computes in its
                         addressing mode ([r, #k] or [r, r]): emits nothing */
} fj_thm;

/* Emit the whole trace (the backend's emit hook); wide = without 32-bit knowledge. */
void fj_thm_emit_trace(fj_cg *cg, bool wide);

/* ---- asm_thumb.c: operands ---------------------------------------------------------------- */

/* One half of an operand: a register, or a known constant. */
typedef struct thm_half { bool k; uint8_t r; uint32_t v; } thm_half;
typedef struct thm_opd { thm_half lo, hi; } thm_opd;

void thm_ensure(fj_thm *x, uint32_t n);
void thm_bind(fj_thm *x, uint32_t label);
void thm_check(fj_thm *x);
/* The operand ref as halves: registers where it lives, loads into (slo, shi) from a slot,
 * constants as constants; the high half of an I32 value is the constant 0. */
thm_opd thm_fetch(fj_thm *x, fj_ref ref, unsigned slo, unsigned shi, bool need_hi);
/* Is ref's high word in its high register at x->cur?  thm_hi_dead aborts the trace (a read the
 * allocator did not count: never emit it). */
bool thm_hi_live(const fj_thm *x, fj_ref ref);
_Noreturn void thm_hi_dead(fj_thm *x, fj_ref ref);
/* Make a half a register (materializing a constant into scratch). */
unsigned thm_reg(fj_thm *x, thm_half h, unsigned scratch);
/* Registers the result of ref is computed into: its own, or (slo, shi) when it lives in a slot;
 * the high half of a one-register value, which some sequences write, goes to shi. */
void thm_dst(fj_thm *x, fj_ref ref, unsigned *lo, unsigned *hi, unsigned slo, unsigned shi);
/* A temporary for the instruction being lowered, none of `avoid` nor a register of its operands
 * or result: unused scratch, a register free at x->cur, else one pushed until thm_tmp_release
 * (never emit a branch to an exit stub while one is pushed). */
unsigned thm_tmp(fj_thm *x, uint32_t avoid);
void thm_tmp_release(fj_thm *x);
/* Store the result computed into (lo, hi) if ref lives in a slot (hi ignored for I32). */
void thm_put(fj_thm *x, fj_ref ref, unsigned lo, unsigned hi);
/* Is ref's upper half known zero (I32, or a constant below 2^32)? */
bool thm_hi_zero(const fj_thm *x, fj_ref ref);
/* rt <-> [base + off] for any off (a scratch `tmp` forms the address when it does not fit). */
void thm_mem(fj_thm *x, enum fj_thm_ldst op, unsigned rt, unsigned base, int32_t off, unsigned tmp);
/* st into register r. */
void thm_load_st(fj_thm *x, unsigned r);
int32_t thm_slot_off(unsigned slot);
/* The same from sp as it is now (registers pushed by thm_tmp move it). */
int32_t thm_slot_at(const fj_thm *x, unsigned slot);
/* b.w / b<c>.w to a label (fixup). */
void thm_jump(fj_thm *x, uint32_t label);
void thm_jcc(fj_thm *x, enum fj_thm_cond c, uint32_t label);
/* Exit label of snapshot snap (aborts if it has none). */
uint32_t thm_exit_label(fj_thm *x, uint32_t snap);
uint32_t thm_exit_of(fj_thm *x, uint32_t snap);

/* ---- exit_thumb.c: state sync, calls, exits, back edge ------------------------------------ */
void thm_prologue(fj_thm *x);
void thm_sync(fj_thm *x, uint32_t snap);
void thm_call(fj_thm *x, fj_ref ref);
void thm_exit_stubs(fj_thm *x);
void thm_loop_entry(fj_thm *x);
void thm_back_edge(fj_thm *x);
bool thm_patch(uint8_t *code, const fj_fixup *f, uint32_t to);

#endif /* FJ_CODEGEN_THUMB_THUMB_H */
