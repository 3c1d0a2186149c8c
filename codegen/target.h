/* farjit codegen — the backend interface: what a compilation target provides, and the state
 * one compilation shares between the driver (compile.c), the register allocator (ra.c) and the
 * target's emitter (codegen/<target>/).
 *
 * Split of work (LuaJIT/MIR style):
 *   - the front half (ir.h, snap.h) produces optimized SSA IR with snapshots;
 *   - the driver numbers exits (fj_cg_exits_build: one exit per snapshot that a live instruction
 *     names, in IR order, plus cg->tail_snap), runs the shared register allocator over the
 *     target's register description (fj_target_regs), then calls the target's `emit`;
 *   - `emit` writes the whole trace into cg->mc (prologue at entry_off, body, loop back edge
 *     with PHI moves from fj_ra_phi_moves, one exit stub per exit) and fills
 *     cg->exits[i].patch_off;
 *     everything position- or address-dependent becomes a fixup (codegen/fixup.h);
 *   - the driver applies fixups (intra-blob ones with the target's `patch` hook for its private
 *     kinds) and writes the blob.
 * A backend never allocates registers itself and never sees trace bytes.  Failures abort through
 * fj_ir_abort(cg->ir, FJ_ABORT_BACKEND or CODE_LIMIT, ...).
 *
 * codegen/PORTING.md is the full contract (frame layout, exit stub duties, relocations).
 */
#ifndef FJ_CODEGEN_TARGET_H
#define FJ_CODEGEN_TARGET_H

#include <stdbool.h>
#include <stdint.h>

#include "codegen/fixup.h"
#include "codegen/ir.h"
#include "codegen/ra.h"
#include "farjit/blob.h"
#include "farjit/target.h"

/* Registers as the allocator sees them.  Register numbers are the target's encodings. */
typedef struct fj_target_regs {
  uint8_t nalloc;             /* allocatable registers, in preference order: */
  uint8_t alloc[16];
  uint32_t callee_saved;      /* mask: allocatable registers a call preserves */
  uint32_t max_slots;         /* spill slots (8 bytes each) the frame may hold */
  bool pair64;                /* 32-bit target: the allocator keeps every I64 value in an
                                 8-byte slot (low word first) and only I32 values in registers */
  /* Registers (words) a value of instruction ref takes: 1 or 2.  A 32-bit target returns 2 for
   * I64 values: the allocator then gives them two registers of alloc[] (fj_loc.reg = low word,
   * reg_hi = high word), or a slot.  NULL: one register per value (64-bit targets). */
  unsigned (*words)(const fj_ir *ir, fj_ref ref);
  bool split_loop;            /* loop traces: a pre-roll value the body uses gets a location
                                 of its own for the body (ra.h loc_body; the emitter calls
                                 fj_ra_loop_moves at LOOP and reads fj_ra_loc_at) */
  bool two_address;           /* the emitter computes ADD..SAR, NEG, ZEXT, SEXT, BSWAP as
                                 "result = a; result op= b": the result may then get the
                                 register of a first operand that dies there (ra.h) */
  bool commute;               /* (with two_address) the commutative ones among them, ADD AND
                                 OR XOR MUL, are computed so that the result may also share
                                 the register(s) of its second operand b ("result = b op a",
                                 each half of both operands read before that half is
                                 written): the result may take b's register(s) when that is
                                 b's last use (ra.h) */
  bool phi_slots;             /* the emitter writes a result's slot only after it has read
                                 every operand and synced its snapshot: a PHI's b that goes
                                 to a slot may take a's slot (ra.h), the back edge copies
                                 nothing */
  /* Registers (mask) the code of instruction ref may write besides its result, before or
   * after reading its operands (e.g. x86 rdx for mul/div): no value live at ref, operands
   * included, is given one of them; the result may be.  NULL: none. */
  uint32_t (*clobbers)(const fj_ir *ir, fj_ref ref);
  /* Registers the code of instruction ref leaves its result in (preferred when free and
   * allowed; x86: rdx for mul-high).  NULL: none. */
  uint32_t (*result_pref)(const fj_ir *ir, fj_ref ref);
} fj_target_regs;

typedef struct fj_cg fj_cg;

typedef struct fj_backend {
  enum fj_target target;
  const char *name;           /* "x86_64" */
  const char *const *reg_names;
  fj_target_regs regs;
  uint8_t fill;               /* padding byte between parts of the code (x86: int3) */
  /* Emit the trace (see above).  Aborts on failure. */
  void (*emit)(fj_cg *cg);
  /* Patch hook for the target's private fixup kinds (NULL if it has none). */
  fj_fixup_patch_fn patch;
} fj_backend;

/* The backend for target, or NULL if this build has none. */
const fj_backend *fj_backend_get(enum fj_target target);

extern const fj_backend fj_backend_x86_64;

enum { FJ_EXIT_NONE = 0xffffffffu };

struct fj_cg {
  fj_ir *ir;
  const fj_backend *be;
  fj_ra ra;                   /* locations of every instruction (ra.h) */
  fj_mcode mc;
  uint32_t *snap_exit;        /* snapshot index -> exit id, FJ_EXIT_NONE if no live user */
  fj_blob_exit *exits;        /* nexits entries; pc/kind/nframes/snap filled by the driver,
                                 patch_off by the backend (FJ_BLOB_NO_PATCH for CALL exits) */
  uint32_t nexits;
  uint32_t tail_snap;         /* snapshot to leave through when control reaches the end of the
                                 IR (an END_LOOP trace compiled without LOOP: it exits to its
                                 own start as a LINK), else FJ_EXIT_NONE */
  uint32_t *uses;             /* [ref - FJ_REF_BIAS]: operand and snapshot uses of every
                                 instruction (fj_ir_use_counts), filled by the driver before
                                 emit; NULL when unknown */
  uint32_t entry_off;         /* set by the backend */
  uint32_t frame_size;        /* native stack bytes the trace uses (set by the backend) */
};

/* Number exits: fills snap_exit/exits.  Aborts NOMEM / EXIT_LIMIT. */
void fj_cg_exits_build(fj_cg *cg);
void fj_cg_free(fj_cg *cg);

#endif /* FJ_CODEGEN_TARGET_H */
