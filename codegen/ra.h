/* farjit codegen — register allocation, shared by every target.
 *
 * Linear scan over the linear IR (ir.h).  Every instruction that produces a value gets one
 * location for its whole life: a register from the target's allocatable set or an 8-byte spill
 * slot in the trace's fixed frame — except, on targets that set fj_target_regs.split_loop, a
 * pre-roll value the loop body uses: it has a second location for the body (loc_body; the
 * emitter reads fj_ra_loc_at and moves such values at LOOP with fj_ra_loop_moves).  The body
 * part starts where the pre-roll part is, or, when the crowded pre-roll put the value in a slot,
 * in registers free at LOOP; it competes in the body by its body uses over the body's part of
 * its range.  A value an exit stub reads through a snapshot used on both sides of LOOP is not
 * split (one stub, one location); snap_at names the side each stub reads.  Constants get none: backends rematerialize them (as an
 * immediate operand or into a scratch register) wherever they are used, snapshots included.
 * Nothing pins eBPF registers: values are SSA refs, and an eBPF register is only a snapshot entry.
 *
 * Width.  A target whose registers are narrower than some values names, per value, how many
 * registers it takes (fj_target_regs.words; NULL: one each, x86-64).  A 32-bit target says 2 for
 * I64 values and 1 for I32 values: a two-word value gets any two allocatable registers, its low
 * word in fj_loc.reg and its high word in fj_loc.reg_hi (ra->words[] records the width; a slot
 * is always 8 bytes, low word first).  Every rule below holds for each register of a value.
 * Alternatively (fj_target_regs.pair64) I64 values always live in slots and only I32 values
 * get registers.
 *
 * Live ranges: [definition, last use], where uses are operands (PAIR forwards to its
 * operands), snapshot entries of guards/calls/exits (ir->fp0 counts as used by every snapshot
 * with stack slots) and PHIs; a pre-roll value used in the loop body lives to the end of the
 * loop.  A value whose range contains a CALL/CALLL (strictly inside) gets a callee-saved
 * register or a slot.  A value's register is never reused by a result of the same instruction,
 * so the emitter may write the result before it has read every operand — except, on targets
 * that declare fj_target_regs.two_address, for the two-address ops (ADD SUB AND OR XOR MUL SHL
 * SHR SAR NEG ZEXT SEXT BSWAP), whose result takes the register of its first operand `a` when
 * this is a's last use (and a is not also `b`): such emitters compute them as
 * "result = a; result op= b".  With fj_target_regs.commute, a commutative one (ADD AND OR XOR
 * MUL) may likewise take the register of its second operand b when this is b's last use (and
 * b is not also a).  With widths: a two-word result takes both of a's (b's) registers in
 * the same roles (only from a two-word operand), a one-word result its low register (the high
 * one is freed).
 * A target's clobbered registers (fj_target_regs.clobbers) hold no value live at the
 * instruction that writes them (its own result may be there); a result prefers the register
 * its code leaves it in (fj_target_regs.result_pref; x86: mul-high's rdx).
 * When registers run out the cheapest live value goes to a slot (for its whole life: the
 * emitter has not run yet): cost = weighted operand uses (x8 inside the loop body, snapshot
 * uses free: exit stubs are cold) per instruction of the range and per register it takes;
 * ties spill the longest.
 * More than regs->max_slots slots aborts SPILL_LIMIT.
 *
 * PHI a b: when the body's last use of a comes before b's definition, or (two_address
 * targets) is the first operand of b's own two-address instruction, b takes a's register(s) (if
 * a has them and both have the same width) and the copy disappears.  On two_address targets a whole chain c1 = a op x,
 * c2 = c1 op y, ..., b = ck op z (each link the last use of the one before; with commute also
 * through a commutative op's second operand) takes a's register.  With widths, a two-word b
 * whose a holds one word there (a one-word a, or one whose high register is already free)
 * takes a's register for its low word and, for its high word, the high register of a
 * two-address op's first operand dying at b if it can, else a free one.
 * On targets that set fj_target_regs.phi_slots the same holds for slots: a b that goes to a
 * slot takes a's slot when a's body location is one and a is done by b's definition (last read
 * before it or by b itself: the target's code writes a result's slot after reading operands).
 * Otherwise the back edge copies: the emitter calls fj_ra_phi_moves() there; it sequentializes
 * the parallel copy b -> loc(a) of all PHIs (breaking cycles through a temporary the target
 * names).  On targets with widths the parallel move is one of words: every PHI moves as many
 * words as its destination a has, each fj_loc passed to the callback names one word (`word` 1 =
 * low, 2 = high: a register, or that half of a slot), and a high word whose source is a
 * one-word value is passed as srcloc NONE (zero; the callback materializes word 2 of a constant
 * or 0 for a value).
 */
#ifndef FJ_CODEGEN_RA_H
#define FJ_CODEGEN_RA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codegen/ir.h"

struct fj_target_regs;

enum fj_loc_kind { FJ_LOC_NONE = 0, FJ_LOC_REG = 1, FJ_LOC_SLOT = 2 };

typedef struct fj_loc {
  uint8_t kind;    /* enum fj_loc_kind; NONE for constants, unused results and no-value ops */
  uint8_t reg;     /* FJ_LOC_REG: target register number (a two-word value's low word) */
  uint16_t slot;   /* FJ_LOC_SLOT: slot index (the frame layout says where it lives) */
  uint8_t reg_hi;  /* FJ_LOC_REG, two-word values (ra->words[] == 2): the high word's register */
  uint8_t word;    /* 0: the whole value; in fj_ra_phi_moves' word moves 1 = low, 2 = high */
} fj_loc;

typedef struct fj_ra {
  fj_loc *loc;         /* [ref - FJ_REF_BIAS] */
  uint32_t *end;       /* [ref - FJ_REF_BIAS]: index of the last use (== own index if none) */
  uint32_t *weight;    /* [ref - FJ_REF_BIAS]: spill cost (operand uses; loop-body uses x8) */
  uint32_t *last_use;  /* [ref - FJ_REF_BIAS]: last use other than a PHI, before extension */
  uint32_t *hint;      /* [ref - FJ_REF_BIAS]: PHI b -> a + 1 when b may share a's register */
  uint8_t *words;      /* [ref - FJ_REF_BIAS]: registers the value takes (1 or 2); NULL when the
                          target has no widths (fj_target_regs.words NULL: one each) */
  uint32_t *hi_end;    /* [ref - FJ_REF_BIAS] (with words): the last instruction that reads the
                          high word (== own index if none); the high register is free after it */
  fj_loc *loc_body;    /* [ref - FJ_REF_BIAS] (split_loop targets, loop traces): a pre-roll
                          value's location in the loop body (kind NONE: loc[] throughout) */
  uint32_t *snap_at;   /* [snapshot] (with loc_body): first instruction using it (UINT32_MAX:
                          none); its exit stub reads locations as of there */
  uint32_t *phi_a;     /* [ref - FJ_REF_BIAS] (phi_slots targets): PHI b -> a + 1 when b may
                          take a's slot (a done by b's definition); NULL otherwise */
  uint32_t loop_at;    /* index of LOOP (nins when there is no split) */
  uint32_t nins;
  uint32_t nslots;     /* spill slots used (frame size = nslots * 8, plus target needs) */
  uint32_t nspilled;   /* values that live in a slot */
  uint32_t used_regs;  /* mask of registers handed out */
} fj_ra;

/* Allocate every instruction of ir.  Aborts through ir (NOMEM, SPILL_LIMIT, BACKEND). */
void fj_ra_run(fj_ra *ra, fj_ir *ir, const struct fj_target_regs *regs);
void fj_ra_free(fj_ra *ra);

static inline fj_loc fj_ra_loc(const fj_ra *ra, fj_ref r) {
  fj_loc none = {FJ_LOC_NONE, 0, 0, 0, 0};
  return r >= FJ_REF_BIAS && r - FJ_REF_BIAS < ra->nins ? ra->loc[r - FJ_REF_BIAS] : none;
}
/* Where r is while instruction `at` runs: its body location for a pre-roll value split at the
 * loop (split_loop targets) when `at` is in the loop body, else fj_ra_loc. */
static inline fj_loc fj_ra_loc_at(const fj_ra *ra, fj_ref r, fj_ref at) {
  if (ra->loc_body && r >= FJ_REF_BIAS && r - FJ_REF_BIAS < ra->nins && at >= FJ_REF_BIAS &&
      at - FJ_REF_BIAS > ra->loop_at && ra->loc_body[r - FJ_REF_BIAS].kind != FJ_LOC_NONE)
    return ra->loc_body[r - FJ_REF_BIAS];
  return fj_ra_loc(ra, r);
}

/* Is instruction r still live after instruction `at` (used by a later instruction)? */
static inline int fj_ra_live_after(const fj_ra *ra, fj_ref r, fj_ref at) {
  return r >= FJ_REF_BIAS && ra->end[r - FJ_REF_BIAS] > at - FJ_REF_BIAS;
}

/* Ops whose result's low word depends only on their operands' low words (ADD SUB MUL AND OR
 * XOR NEG SHL, ZEXT/SEXT, BSWAP of 16/32 bits): when nothing reads such a value's high word, a
 * 32-bit lowering computes the low word only and reads only its operands' low words. */
static inline bool fj_ra_low_only(const fj_ir_ins *in) {
  switch (in->op) {
  case FJ_IR_ADD: case FJ_IR_SUB: case FJ_IR_MUL: case FJ_IR_AND: case FJ_IR_OR: case FJ_IR_XOR:
  case FJ_IR_NEG: case FJ_IR_SHL: case FJ_IR_ZEXT: case FJ_IR_SEXT:
    return true;
  case FJ_IR_BSWAP:
    return in->aux != 64;
  default:
    return false;
  }
}

/* Registers value r takes: 2 for a two-word value, else 1 (also for no location). */
static inline unsigned fj_ra_words(const fj_ra *ra, fj_ref r) {
  return ra->words && r >= FJ_REF_BIAS && r - FJ_REF_BIAS < ra->nins ? ra->words[r - FJ_REF_BIAS]
                                                                     : 1;
}

/* One copy of the back edge's parallel move: src is a location (srcloc) or, when srcloc is
 * NONE, the constant/ref src to materialize (word moves: srcloc.word says which word; a high
 * word of a non-constant is 0).  dst is never NONE. */
typedef void (*fj_ra_move_fn)(void *ud, fj_loc dst, fj_loc srcloc, fj_ref src);

/* Emit the PHI copies of ir (all PHIs, b -> loc(a), as one parallel move) in a safe order,
 * using `tmp` (a location the allocator never hands out) to break cycles. */
void fj_ra_phi_moves(const fj_ra *ra, fj_ir *ir, fj_loc tmp, fj_ra_move_fn fn, void *ud);

/* The moves at LOOP (before the loop label) of a split_loop target: every split pre-roll value
 * from its pre-roll location to its body location, as one parallel move (words as above). */
void fj_ra_loop_moves(const fj_ra *ra, fj_ir *ir, fj_loc tmp, fj_ra_move_fn fn, void *ud);

/* "0007 r12" / "0009 [s3]" lines for every located instruction, into a malloc'd string. */
char *fj_ra_dump(const fj_ra *ra, const fj_ir *ir, const char *const *reg_names);

#endif /* FJ_CODEGEN_RA_H */
