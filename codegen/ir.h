/* farjit codegen — the trace IR: one linear SSA buffer, LuaJIT style.
 *
 * Refs.  Every value is an fj_ref (uint32_t).  Constants live below FJ_REF_BIAS and grow down
 * (interned: one ref per (type, value)); instructions live at FJ_REF_BIAS and up, in execution
 * order.  A ref always points backwards (operands precede their users), except the operands of
 * PHI (see LOOP below).  FJ_REF_NONE (0) is "no value".  `fj_ir_is_k(ref)` tells constants.
 *
 * Types.  FJ_IRT_I64: a 64-bit integer.  FJ_IRT_I32: a value known to be zero-extended from 32
 * bits ("32-bit knowledge").  An I32 ref may feed any I64 operation as is (its upper half is 0);
 * an operation of type I32 reads only the low 32 bits of its operands and produces an I32.  ALU32
 * eBPF code therefore stays I32 end to end: a 32-bit backend holds an I32 in one register, an
 * I64 in two.  Guards use `type` as the compare width.  FJ_IRT_NONE: no result (stores, guards).
 *
 * Semantics are exactly eBPF's (RFC 9669): arithmetic is modular and unsigned unless the op says
 * signed; shift counts are masked to the width (63 or 31); UDIV/UMOD/SDIV/SMOD by zero give 0 /
 * the dividend; SDIV INT_MIN/-1 = INT_MIN, SMOD x/-1 = 0.  fj_ir_arith() is the reference
 * implementation used by constant folding and tests; backends must agree with it bit for bit.
 *
 * Guards (EQ..NTEST) continue when the condition holds and leave through exit snapshot `snap`
 * otherwise.  CALL/CALLL first sync the interpreter state described by their snapshot (exactly
 * what that exit stub would write: registers, stack slots, frames, budget) then call; their
 * snapshot is the FJ_EXIT_CALL resumption point.  EXIT leaves unconditionally (end of trace).
 *
 * LOOP.  A loop trace is IR "pre-roll" [FJ_REF_BIAS, loop) = the first iteration, LOOP, then the
 * body (loop, top) = every further iteration, then PHIs.  Instructions that are loop-invariant
 * appear only in the pre-roll; the body refers to them directly.  PHI a b: a is a pre-roll ref
 * that the body uses as the value of the current iteration, b the body ref that holds the value
 * for the next one.  At the end of the body all PHIs take a := b at once, then control jumps to
 * the instruction after LOOP.  A backend typically gives a and b the same register.
 * An END_LOOP trace may also come out of fj_opt_run without LOOP (unoptimized builds, or when
 * the peeled copy proved that the second iteration always leaves): control reaching the end
 * of the IR then leaves through snapshot ir->loop_snap (a LINK back to the trace's start).
 * Loop traces charge the budget of the next iteration at the end of each iteration (a guard
 * and a decrement just before the back edge), exactly once per iteration.
 *
 * Ownership and errors.  fj_ir owns every buffer; fj_ir_free releases them.  Failures abort:
 * fj_ir_abort() stores a reason (codegen/abort.h) and a message, then longjmps to ir->abort_jb,
 * which the compile driver set with setjmp() on the same thread before calling into the
 * compiler (locals of the driver changed after setjmp must be volatile).  No globals: compiles
 * on different threads share nothing.
 */
#ifndef FJ_CODEGEN_IR_H
#define FJ_CODEGEN_IR_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codegen/abort.h"
#include "farjit/ebpf.h"

typedef uint32_t fj_ref;

#define FJ_REF_NONE 0u
#define FJ_REF_BIAS 0x100000u          /* first instruction ref */
#define FJ_IR_MAX_INS 0x40000u          /* instructions per trace (abort IR_LIMIT beyond) */
#define FJ_IR_MAX_K 0x10000u            /* constants per trace (abort K_LIMIT beyond) */

static inline bool fj_ir_is_k(fj_ref r) { return r != FJ_REF_NONE && r < FJ_REF_BIAS; }

enum fj_irt { FJ_IRT_NONE = 0, FJ_IRT_I32 = 1, FJ_IRT_I64 = 2 };

/* Operand modes. */
enum { FJ_IRM_N = 0 /* unused */, FJ_IRM_R = 1 /* a ref */ };

/* Op flags. */
enum {
  FJ_IRF_K = 1u << 0,      /* constant */
  FJ_IRF_GUARD = 1u << 1,  /* may exit: has a snapshot */
  FJ_IRF_COMM = 1u << 2,   /* commutative */
  FJ_IRF_EFFECT = 1u << 3, /* side effect: never removed by DCE, never CSE'd */
  FJ_IRF_LOAD = 1u << 4,   /* reads memory or state: CSE only up to a barrier that may write it */
  FJ_IRF_CALL = 1u << 5,   /* calls out: barrier for every load, syncs state (has a snapshot) */
  FJ_IRF_STORE = 1u << 6,  /* writes eBPF memory */
  FJ_IRF_PURE = 1u << 7,   /* pure function of operands/lit/aux/type: fold + CSE freely */
};

/* _(NAME, mode a, mode b, flags, "what it does").  lit, aux and snap are per-op (see text). */
#define FJ_IR_OPS(_)                                                                             \
  _(NOP,     N, N, 0,                           "removed instruction")                           \
  _(KINT,    N, N, FJ_IRF_K,                    "constant k (I32: k < 2^32)")                     \
  _(LOOP,    N, N, FJ_IRF_EFFECT,               "start of the loop body")                        \
  _(PHI,     R, R, FJ_IRF_EFFECT,               "loop-carried value: a := b at the back edge")   \
  /* guards: continue if cond(a, b) at width `type`, else exit through snap */                  \
  _(EQ,      R, R, FJ_IRF_GUARD | FJ_IRF_COMM,  "a == b")                                        \
  _(NE,      R, R, FJ_IRF_GUARD | FJ_IRF_COMM,  "a != b")                                        \
  _(ULT,     R, R, FJ_IRF_GUARD,                "a < b unsigned")                                \
  _(UGE,     R, R, FJ_IRF_GUARD,                "a >= b unsigned")                               \
  _(ULE,     R, R, FJ_IRF_GUARD,                "a <= b unsigned")                               \
  _(UGT,     R, R, FJ_IRF_GUARD,                "a > b unsigned")                                \
  _(LT,      R, R, FJ_IRF_GUARD,                "a < b signed")                                  \
  _(GE,      R, R, FJ_IRF_GUARD,                "a >= b signed")                                 \
  _(LE,      R, R, FJ_IRF_GUARD,                "a <= b signed")                                 \
  _(GT,      R, R, FJ_IRF_GUARD,                "a > b signed")                                  \
  _(TEST,    R, R, FJ_IRF_GUARD | FJ_IRF_COMM,  "(a & b) != 0 (JSET)")                           \
  _(NTEST,   R, R, FJ_IRF_GUARD | FJ_IRF_COMM,  "(a & b) == 0 (JSET not taken)")                 \
  /* arithmetic at width `type`; I32 ops read low halves and zero-extend the result */          \
  _(ADD,     R, R, FJ_IRF_PURE | FJ_IRF_COMM,   "a + b")                                         \
  _(SUB,     R, R, FJ_IRF_PURE,                 "a - b")                                         \
  _(MUL,     R, R, FJ_IRF_PURE | FJ_IRF_COMM,   "a * b (low half)")                              \
  _(MULHU,   R, R, FJ_IRF_PURE | FJ_IRF_COMM,   "high half of the unsigned 2w-bit a * b")       \
  _(MULHS,   R, R, FJ_IRF_PURE | FJ_IRF_COMM,   "high half of the signed 2w-bit a * b")         \
  _(UDIV,    R, R, FJ_IRF_PURE,                 "a / b unsigned, 0 if b == 0")                   \
  _(UMOD,    R, R, FJ_IRF_PURE,                 "a % b unsigned, a if b == 0")                   \
  _(SDIV,    R, R, FJ_IRF_PURE,                 "a / b signed, 0 if b == 0, MIN/-1 = MIN")       \
  _(SMOD,    R, R, FJ_IRF_PURE,                 "a % b signed (sign of a), a if b == 0")         \
  _(AND,     R, R, FJ_IRF_PURE | FJ_IRF_COMM,   "a & b")                                         \
  _(OR,      R, R, FJ_IRF_PURE | FJ_IRF_COMM,   "a | b")                                         \
  _(XOR,     R, R, FJ_IRF_PURE | FJ_IRF_COMM,   "a ^ b")                                         \
  _(SHL,     R, R, FJ_IRF_PURE,                 "a << (b & (width - 1))")                        \
  _(SHR,     R, R, FJ_IRF_PURE,                 "a >> (b & (width - 1)) logical")                \
  _(SAR,     R, R, FJ_IRF_PURE,                 "a >> (b & (width - 1)) arithmetic")             \
  _(NEG,     R, N, FJ_IRF_PURE,                 "-a")                                            \
  /* conversions; aux = bits */                                                                 \
  _(ZEXT,    R, N, FJ_IRF_PURE,                 "low aux (8/16/32) bits of a, zero-extended")    \
  _(SEXT,    R, N, FJ_IRF_PURE,                 "low aux (8/16/32) bits of a, sign-extended to " \
                                                "`type` (I32: then zero-extended)")              \
  _(BSWAP,   R, N, FJ_IRF_PURE,                 "byte swap of the low aux (16/32/64) bits, "     \
                                                "zero-extended")                                 \
  /* interpreter state (st = the trace's fj_jit_state argument) */                              \
  _(RIN,     N, N, FJ_IRF_PURE,                 "8 bytes at st + 8 * lit as on trace entry "     \
                                                "(lit 0-10: st->r[lit], FJ_RIN_BUDGET)")          \
  _(SLD,     N, N, FJ_IRF_LOAD,                 "load aux (4/8) bytes at st + lit")              \
  _(HLD,     R, N, FJ_IRF_LOAD,                 "load aux (4/8) bytes of host memory at a + lit "\
                                                "(region table)")                                \
  /* eBPF memory; aux = FJ_MEM_* (width, sign, region) */                                       \
  _(LOAD,    R, N, FJ_IRF_LOAD,                 "load from eBPF address a (checked before)")     \
  _(STORE,   R, R, FJ_IRF_EFFECT | FJ_IRF_STORE, "store b at eBPF address a")                    \
  _(SLOAD,   R, N, FJ_IRF_LOAD,                 "load stack slot at fp0 + lit (a = fp0)")        \
  _(SSTORE,  R, R, FJ_IRF_EFFECT | FJ_IRF_STORE, "store b in stack slot fp0 + lit (a = fp0)")    \
  _(ATOMIC,  R, R, FJ_IRF_EFFECT | FJ_IRF_STORE | FJ_IRF_LOAD,                                   \
                                                "atomic op lit (eBPF imm) on [a] with b; FETCH " \
                                                "variants and XCHG return the old value")       \
  _(CMPXCHG, R, R, FJ_IRF_EFFECT | FJ_IRF_STORE | FJ_IRF_LOAD,                                   \
                                                "b = PAIR(new, expected): if [a] == expected "   \
                                                "then [a] = new; returns the old [a]")           \
  _(PAIR,    R, R, 0,                           "operand pair for CMPXCHG (no code)")            \
  /* calls and exits */                                                                         \
  _(CALL,    N, N, FJ_IRF_EFFECT | FJ_IRF_CALL, "sync snap, helper lit(st->r[1..5], vm) -> r0")  \
  _(CALLL,   N, N, FJ_IRF_EFFECT | FJ_IRF_CALL, "sync snap, FJ_RT_CALL_LOCAL(st, pc lit) -> r0") \
  _(EXIT,    N, N, FJ_IRF_EFFECT,               "leave through snap (aux = fj_exit_kind)")

enum fj_ir_op {
#define FJ_IR_ENUM(name, ma, mb, fl, doc) FJ_IR_##name,
  FJ_IR_OPS(FJ_IR_ENUM)
#undef FJ_IR_ENUM
  FJ_IR__COUNT
};
_Static_assert(FJ_IR__COUNT == 48, "FJ_IR_OPS changed: update fold, backends and printers");

typedef struct fj_ir_op_info {
  const char *name;   /* "ADD" */
  uint8_t mode_a, mode_b;
  uint8_t flags;      /* FJ_IRF_* */
} fj_ir_op_info;
extern const fj_ir_op_info fj_ir_op_table[FJ_IR__COUNT];

/* RIN literals besides registers 0-10. */
enum { FJ_RIN_BUDGET = 13 };  /* st->budget (offset 104) */

/* aux of LOAD/STORE/SLOAD/SSTORE/ATOMIC/CMPXCHG. */
enum {
  FJ_MEM_WMASK = 0x0f,      /* width in bytes: 1, 2, 4, 8 */
  FJ_MEM_SIGNED = 0x10,     /* load sign-extends to 64 bits (ldxs*) */
  FJ_MEM_REGION_SHIFT = 8,  /* region index (LOAD/STORE/ATOMIC/CMPXCHG) */
};
static inline unsigned fj_mem_width(uint16_t aux) { return aux & FJ_MEM_WMASK; }
static inline unsigned fj_mem_region(uint16_t aux) { return aux >> FJ_MEM_REGION_SHIFT; }
static inline uint16_t fj_mem_aux(unsigned width, bool sign, unsigned region) {
  return (uint16_t)(width | (sign ? FJ_MEM_SIGNED : 0) | (region << FJ_MEM_REGION_SHIFT));
}

/* One instruction: 24 bytes. */
typedef struct fj_ir_ins {
  uint8_t op;     /* enum fj_ir_op */
  uint8_t type;   /* enum fj_irt */
  uint16_t aux;   /* op-specific: bits, FJ_MEM_*, exit kind */
  fj_ref a, b;    /* operands (FJ_REF_NONE when unused) */
  fj_ref prev;    /* previous instruction with the same op (CSE chain; internal) */
  union {
    struct {
      int32_t lit;    /* op-specific literal: register, state offset, stack offset, helper id, pc */
      uint32_t snap;  /* guards, CALL, CALLL, EXIT: snapshot index */
    };
    uint64_t k;       /* KINT: the value */
  };
} fj_ir_ins;
_Static_assert(sizeof(fj_ir_ins) == 24, "fj_ir_ins layout");

typedef struct fj_snap fj_snap;
typedef struct fj_snap_slot fj_snap_slot;
typedef struct fj_snap_frame fj_snap_frame;

/* ir->flags */
enum {
  FJ_IR_NOFOLD = 1u << 0,   /* emit raw: no folding, no CSE (FJ_CG_NO_OPT) */
  FJ_IR_ADDR32 = 1u << 1,   /* the target's eBPF addresses are 32-bit (thumbv7em; set by the
                               compile driver, codegen/compile.c): every region lies below
                               2^32 and the backend addresses memory with the low word of a
                               LOAD/STORE/ATOMIC/CMPXCHG address.  Lets fj_opt_narrow treat
                               addresses as low-half readers and fj_opt_mem narrow pointer
                               induction variables (behind guards); never set for x86-64 */
};

typedef struct fj_ir {
  fj_ir_ins *buf;           /* buf[i] is ref (lo + i) */
  fj_ref lo;                /* ref of buf[0] (<= klo) */
  fj_ref klo;               /* lowest constant ref: constants are [klo, FJ_REF_BIAS) */
  fj_ref top;               /* next instruction ref: instructions are [FJ_REF_BIAS, top) */
  fj_ref hi;                /* ref one past the end of buf */
  fj_ref loop;              /* ref of LOOP, or FJ_REF_NONE */
  uint32_t flags;           /* FJ_IR_* */
  fj_ref chain[FJ_IR__COUNT];  /* last instruction/constant of each op (CSE, interning) */

  /* snapshots (codegen/snap.h) */
  fj_snap *snaps;
  uint32_t nsnaps, snaps_cap;
  fj_snap_slot *slots;      /* shared storage for snapshot stack-slot entries */
  uint32_t nslots, slots_cap;
  fj_snap_frame *frames;    /* shared storage for snapshot frames */
  uint32_t nframes, frames_cap;

  /* the trace (filled by fj_ir_build) */
  uint32_t start_pc, end_pc, nrecs;
  uint16_t kind, end;       /* enum fj_trace_kind, enum fj_trace_end */
  uint32_t entry_narrow;    /* the header's: bit k = r_k was below 2^32 when recording began */
  fj_ref fp0;               /* RIN r10: frame pointer of the trace's own frame */
  uint32_t loop_snap;       /* END_LOOP traces: snapshot of the state at the back edge (not an
                               exit; fj_opt_loop reads the loop-carried values from it) */

  void *scratch;            /* fj_ir_scratch blocks, freed by fj_ir_free */

  /* abort */
  jmp_buf abort_jb;
  int reason;               /* enum fj_abort, FJ_ABORT_NONE until an abort */
  char msg[192];
} fj_ir;

/* ---- lifecycle ---------------------------------------------------------------------------- */
void fj_ir_init(fj_ir *ir, uint32_t flags);
void fj_ir_free(fj_ir *ir);

/* Zeroed memory that lives until fj_ir_free (so passes leak nothing when an abort longjmps
 * out of them).  Aborts NOMEM. */
void *fj_ir_scratch(fj_ir *ir, size_t bytes);

/* Record reason + printf-style message and longjmp to ir->abort_jb. */
#if defined(__GNUC__)
__attribute__((noreturn, format(printf, 3, 4)))
#endif
void fj_ir_abort(fj_ir *ir, int reason, const char *fmt, ...);

/* ---- access ------------------------------------------------------------------------------- */
/* A pointer from fj_ir_at (or into ir->snaps/slots/frames) is valid only until the next
 * emission or snapshot: fj_ir_kint, fj_ir_emit*, fj_snap_add may move the buffers.  Copy the
 * instruction or re-fetch after emitting.  (Under AddressSanitizer small buffers move on every
 * growth, so tests catch a stale pointer.) */
static inline fj_ir_ins *fj_ir_at(const fj_ir *ir, fj_ref r) { return &ir->buf[r - ir->lo]; }
static inline uint64_t fj_ir_kval(const fj_ir *ir, fj_ref r) { return fj_ir_at(ir, r)->k; }
static inline uint32_t fj_ir_nins(const fj_ir *ir) { return ir->top - FJ_REF_BIAS; }
static inline bool fj_ir_is_kval(const fj_ir *ir, fj_ref r, uint64_t v) {
  return fj_ir_is_k(r) && fj_ir_at(ir, r)->k == v;
}
static inline const char *fj_ir_op_name(unsigned op) {
  return op < FJ_IR__COUNT ? fj_ir_op_table[op].name : "?";
}
static inline bool fj_ir_is_guard(unsigned op) { return op >= FJ_IR_EQ && op <= FJ_IR_NTEST; }
/* Has a snapshot in ins->snap: guards, CALL, CALLL, EXIT. */
static inline bool fj_ir_has_snap(unsigned op) {
  return fj_ir_is_guard(op) || op == FJ_IR_CALL || op == FJ_IR_CALLL || op == FJ_IR_EXIT;
}
/* Iterate instructions:  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) ... (skip NOP). */

/* ---- emitting ----------------------------------------------------------------------------- */
/* Interned constant; I32 values are truncated to 32 bits. */
fj_ref fj_ir_kint(fj_ir *ir, enum fj_irt type, uint64_t v);
static inline fj_ref fj_ir_k64(fj_ir *ir, uint64_t v) { return fj_ir_kint(ir, FJ_IRT_I64, v); }
/* Append without folding or CSE; aborts IR_LIMIT when full. */
fj_ref fj_ir_emit_raw(fj_ir *ir, const fj_ir_ins *ins);
/* Fold (codegen/fold.c) + CSE, then append if still needed; returns the result's ref (maybe an
 * earlier instruction or a constant).  A guard that folds to "always true" returns
 * FJ_REF_NONE; one that folds to "always false" aborts GUARD_FAIL. */
fj_ref fj_ir_emit(fj_ir *ir, const fj_ir_ins *ins);
/* Turn instruction r into a NOP (and unlink it from its CSE chain).  Callers make sure
 * nothing refers to it any more. */
void fj_ir_kill(fj_ir *ir, fj_ref r);
/* Rebuild the CSE chains from the buffer (after a pass turned instructions into NOPs). */
void fj_ir_rechain(fj_ir *ir);
/* Shorthands. */
fj_ref fj_ir_op2(fj_ir *ir, enum fj_ir_op op, enum fj_irt t, fj_ref a, fj_ref b);
fj_ref fj_ir_op1(fj_ir *ir, enum fj_ir_op op, enum fj_irt t, fj_ref a, uint16_t aux);
fj_ref fj_ir_guard(fj_ir *ir, enum fj_ir_op cond, enum fj_irt t, fj_ref a, fj_ref b, uint32_t snap);

/* ---- semantics ---------------------------------------------------------------------------- */
/* Value of a pure arithmetic/conversion op (ADD..BSWAP) on constant operands, exactly as eBPF
 * computes it; for I32 the result is zero-extended. */
uint64_t fj_ir_arith(enum fj_ir_op op, enum fj_irt t, uint16_t aux, uint64_t a, uint64_t b);
/* Does guard cond hold for a, b at width t? */
bool fj_ir_cond(enum fj_ir_op cond, enum fj_irt t, uint64_t a, uint64_t b);
/* EQ<->NE, ULT<->UGE, ... : the guard for the other branch direction. */
enum fj_ir_op fj_ir_cond_invert(enum fj_ir_op cond);
/* cond(a, b) == swap(cond)(b, a): ULT<->UGT, ... */
enum fj_ir_op fj_ir_cond_swap(enum fj_ir_op cond);

/* ---- analysis helpers for passes and backends ---------------------------------------------- */
/* uses[r - FJ_REF_BIAS] = number of instruction operands referring to instruction r, plus
 * (if snap_uses) the snapshot entries (registers, slots, frames, budget) referring to it.
 * `uses` has fj_ir_nins(ir) entries. */
void fj_ir_use_counts(const fj_ir *ir, uint32_t *uses, bool snap_uses);
/* Is r defined before LOOP (or is a constant)?  True for every ref when there is no LOOP. */
static inline bool fj_ir_in_preroll(const fj_ir *ir, fj_ref r) {
  return ir->loop == FJ_REF_NONE || r < ir->loop;
}

/* Check the IR's invariants: operand modes, refs pointing backwards to live instructions or
 * constants (PHI: a before LOOP, b before the PHI), types, snapshot indexes and the refs in
 * snapshots, LOOP at most once with PHIs only at the end after it.  Returns 0, or -1 with a
 * message naming the first offending ref.  For tests and debugging; never aborts. */
int fj_ir_verify(const fj_ir *ir, char *msg, size_t cap);

/* ---- printing (dumps, tests) -------------------------------------------------------------- */
/* Text buffer of the printers (ir.c, snap.c): appends like snprintf, len counts what did not
 * fit too.  fj_sbuf_ref prints a ref as the dumps do: "0012", "#5", "#-3", "#0x1234567". */
typedef struct fj_sbuf { char *buf; size_t cap, len; } fj_sbuf;
void fj_sbuf_printf(fj_sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fj_sbuf_ref(fj_sbuf *s, const fj_ir *ir, fj_ref r);

/* One line, no newline:  "0007 >  i32 ULT    0005 #16          snap 2".
 * Instruction refs print as 4 digits counted from FJ_REF_BIAS (0000 = first instruction),
 * constants as #decimal (or #0xhex when >= 2^16).  Returns strlen of the full line. */
size_t fj_ir_format(const fj_ir *ir, fj_ref r, char *buf, size_t cap);
/* Every instruction (NOPs skipped) one per line, then the snapshots if with_snaps.  Writes
 * at most cap bytes (always NUL-terminated when cap > 0); returns the full length. */
size_t fj_ir_print(const fj_ir *ir, char *buf, size_t cap, bool with_snaps);
/* Same into a malloc'd string the caller frees (NULL on out of memory). */
char *fj_ir_dump(const fj_ir *ir, bool with_snaps);

#endif /* FJ_CODEGEN_IR_H */
