/* farjit codegen — trace to IR (the recorder's role in LuaJIT: lj_record.c).
 *
 * Walks a verified trace once, keeping the interpreter state as IR refs: registers (FJ_REF_NONE
 * = unchanged since entry, read lazily with RIN), inlined frames, stack slots written in the
 * trace (the snapshot slot list, in store order), and the budget.  Every instruction becomes IR
 * through fj_ir_emit (so folding and CSE happen as we go); every guard gets a snapshot that lets
 * the interpreter resume exactly.
 *
 * Budget (exact, farjit/jit.h): the trace is charged N = nrecs instructions up front: guard
 * budget >= N (else exit BUDGET at the start, nothing executed), b = budget - N.  An exit after
 * e executed records writes st->budget = b + (N - e).  Calls sync that value, the callee spends
 * from st->budget, and the trace reloads it afterwards (b = st->budget - (N - e), with a guard
 * that the rest of the iteration still fits).  Loops repeat this per iteration (fj_opt_loop).
 *
 * Entry speculation (codegen/README.md, "32-bit knowledge"): registers the header's entry_narrow
 * names and the trace uses where 32-bit knowledge pays are guarded below 2^32 right after the
 * budget guard (exit: the entry state) and read as I32 from then on.
 */
#include <setjmp.h>
#include <string.h>

#include "codegen/ir.h"
#include "codegen/opt.h"
#include "codegen/opt_mem.h"
#include "codegen/snap.h"
#include "farjit/blob.h"
#include "farjit/jit.h"
#include "farjit/trace.h"

typedef struct bframe {
  uint32_t ret_pc;
  fj_ref saved[4];
  fj_ref fp;
} bframe;

typedef struct bstate {
  fj_ir *ir;
  const fj_trace *t;
  fj_ref reg[FJ_NREGS];   /* FJ_REF_NONE = unchanged since entry */
  fj_ref rin[FJ_NREGS];   /* RIN refs emitted so far */
  uint32_t depth;
  bframe frames[FJ_MAX_CALL_DEPTH];
  fj_snap_slot slots[FJ_SNAP_MAX_SLOTS];
  uint32_t nslots;
  fj_ref budget;          /* remaining budget minus the rest of the trace (see top) */
  uint32_t n;             /* instructions charged per iteration */
  uint32_t i;             /* current rec */
  uint32_t pc;            /* current rec's pc */
  fj_bchk_set bchk;
  /* snapshot reuse: the last one taken is reused while nothing changed */
  uint32_t ver, snap_ver, last_snap;
  bool have_snap;
  /* st->r[k] was written by a call's state sync: from then on "unchanged since entry" no
   * longer means st->r[k] holds the value, so snapshots name the register explicitly. */
  bool synced[FJ_NREGS];
} bstate;

static void changed(bstate *s) { s->ver++; }

static fj_ref getr(bstate *s, unsigned k) {
  if (s->reg[k]) return s->reg[k];
  if (!s->rin[k]) {
    fj_ir_ins ins = {.op = FJ_IR_RIN, .type = FJ_IRT_I64};
    ins.lit = (int32_t)k;
    s->rin[k] = fj_ir_emit(s->ir, &ins);
  }
  return s->rin[k];
}

static void setr(bstate *s, unsigned k, fj_ref v) {
  fj_ref nv = (s->rin[k] && v == s->rin[k]) ? FJ_REF_NONE : v;
  if (s->reg[k] != nv) {
    s->reg[k] = nv;
    changed(s);
  }
}

static fj_ref k64(bstate *s, uint64_t v) { return fj_ir_k64(s->ir, v); }

/* Snapshot of the current state, resuming at pc after `executed` records. */
static uint32_t snap(bstate *s, uint32_t pc, enum fj_exit_kind kind, uint32_t executed) {
  fj_ir *ir = s->ir;
  if (s->have_snap && s->snap_ver == s->ver) {
    const fj_snap *l = fj_snap_get(ir, s->last_snap);
    if (l->pc == pc && l->kind == kind && l->budget_adj == (int32_t)(s->n - executed))
      return s->last_snap;
  }
  fj_snap sn;
  memset(&sn, 0, sizeof sn);
  sn.pc = pc;
  sn.kind = (uint16_t)kind;
  sn.nframes = (uint8_t)s->depth;
  for (unsigned k = 0; k < FJ_NREGS; k++)
    sn.regs[k] = s->reg[k] ? s->reg[k] : s->synced[k] ? getr(s, k) : FJ_REF_NONE;
  sn.ref = ir->top;
  sn.budget = s->budget;
  sn.budget_adj = (int32_t)(s->n - executed);
  sn.nslots = s->nslots;
  fj_snap_frame fr[FJ_MAX_CALL_DEPTH];
  for (uint32_t d = 0; d < s->depth; d++) {
    fr[d].ret_pc = s->frames[d].ret_pc;
    memcpy(fr[d].saved, s->frames[d].saved, sizeof fr[d].saved);
    fr[d].fp = s->frames[d].fp;
  }
  s->last_snap = fj_snap_add(ir, &sn, s->slots, fr);
  s->snap_ver = s->ver;
  s->have_snap = true;
  return s->last_snap;
}

static void guard(bstate *s, enum fj_ir_op cond, enum fj_irt t, fj_ref a, fj_ref b, uint32_t sn) {
  fj_ir_guard(s->ir, cond, t, a, b, sn);
}

/* ---- stack slots -------------------------------------------------------------------------- */

static void slots_clear(bstate *s) {
  if (s->nslots) changed(s);
  s->nslots = 0;
}

static void slot_record(bstate *s, int32_t off, unsigned w, fj_ref v) {
  uint32_t j = 0;
  for (uint32_t i = 0; i < s->nslots; i++)
    if (!(s->slots[i].off == off && s->slots[i].width == w)) s->slots[j++] = s->slots[i];
  s->nslots = j;
  if (s->nslots == FJ_SNAP_MAX_SLOTS) {
    memmove(&s->slots[0], &s->slots[1], (FJ_SNAP_MAX_SLOTS - 1) * sizeof s->slots[0]);
    s->nslots--;
  }
  fj_snap_slot e = {.off = off, .width = (uint8_t)w, .ref = v};
  s->slots[s->nslots++] = e;
  changed(s);
}

/* If v is fp0 + c, store c and return true. */
static bool fp_offset(bstate *s, fj_ref v, int64_t *c) {
  fj_ir *ir = s->ir;
  if (v == ir->fp0) { *c = 0; return true; }
  if (fj_ir_is_k(v)) return false;
  const fj_ir_ins *d = fj_ir_at(ir, v);
  if (d->op == FJ_IR_ADD && d->type == FJ_IRT_I64 && d->a == ir->fp0 && fj_ir_is_k(d->b)) {
    *c = (int64_t)fj_ir_kval(ir, d->b);
    return *c >= INT32_MIN && *c <= INT32_MAX;  /* far offsets are not stack slots anyway */
  }
  return false;
}

/* Split v into p + lo (lo a small constant). */
static void split_addr(bstate *s, fj_ref v, fj_ref *p, int64_t *lo) {
  fj_ir *ir = s->ir;
  *p = v;
  *lo = 0;
  if (fj_ir_is_k(v)) return;
  const fj_ir_ins *d = fj_ir_at(ir, v);
  if (d->op == FJ_IR_ADD && d->type == FJ_IRT_I64 && fj_ir_is_k(d->b)) {
    int64_t c = (int64_t)fj_ir_kval(ir, d->b);
    if (c >= INT32_MIN && c <= INT32_MAX) { *p = d->a; *lo = c; }
  }
}

/* A memory access [reg + off, +w): either a known stack slot (returns true, *slot set) or a
 * checked address (returns false, *addr set, guards emitted). */
static bool mem_access(bstate *s, unsigned reg, int16_t off, unsigned w, unsigned region,
                       bool write, bool stack_ok, int32_t *slot, fj_ref *addr) {
  fj_ref v = getr(s, reg);
  int64_t c;
  if (stack_ok && fp_offset(s, v, &c)) {
    int64_t o = c + off;
    if (o >= -(int64_t)FJ_STACK_SIZE * (s->depth + 1) && o + (int64_t)w <= 0) {
      *slot = (int32_t)o;
      return true;
    }
  }
  fj_ref p;
  int64_t lo;
  split_addr(s, v, &p, &lo);
  uint32_t sn = snap(s, s->pc, FJ_EXIT_GUARD, s->i);
  fj_mem_bounds(s->ir, &s->bchk, p, lo + off, w, region, write, sn);
  *addr = fj_ir_op2(s->ir, FJ_IR_ADD, FJ_IRT_I64, v, k64(s, (uint64_t)(int64_t)off));
  return false;
}

static fj_ref load(bstate *s, unsigned reg, int16_t off, unsigned w, bool sign, unsigned region) {
  int32_t slot;
  fj_ref addr;
  enum fj_irt t = (w == 8 || sign) ? FJ_IRT_I64 : FJ_IRT_I32;
  fj_ir_ins ins = {.type = (uint8_t)t};
  if (mem_access(s, reg, off, w, region, false, true, &slot, &addr)) {
    ins.op = FJ_IR_SLOAD;
    ins.a = s->ir->fp0;
    ins.lit = slot;
    ins.aux = fj_mem_aux(w, sign, 0);
  } else {
    ins.op = FJ_IR_LOAD;
    ins.a = addr;
    ins.aux = fj_mem_aux(w, sign, region);
  }
  return fj_ir_emit(s->ir, &ins);
}

static void store(bstate *s, unsigned reg, int16_t off, unsigned w, fj_ref v, unsigned region) {
  int32_t slot;
  fj_ref addr;
  fj_ir_ins ins = {.type = FJ_IRT_NONE, .b = v};
  if (mem_access(s, reg, off, w, region, true, true, &slot, &addr)) {
    ins.op = FJ_IR_SSTORE;
    ins.a = s->ir->fp0;
    ins.lit = slot;
    ins.aux = fj_mem_aux(w, false, 0);
    fj_ir_emit(s->ir, &ins);
    slot_record(s, slot, w, v);
  } else {
    ins.op = FJ_IR_STORE;
    ins.a = addr;
    ins.aux = fj_mem_aux(w, false, region);
    fj_ir_emit(s->ir, &ins);
    if (region == 0) slots_clear(s);
  }
}

/* st->regions[region].base + off: a data-section address the trace names by region and offset
 * (FJ_REC_LDDW_REGION).  The loads CSE and hoist like the bounds checks' region loads. */
static fj_ref region_addr(bstate *s, unsigned region, uint64_t off) {
  fj_ir *ir = s->ir;
  fj_ir_ins tl = {.op = FJ_IR_SLD, .type = FJ_IRT_I64, .aux = 8};
  tl.lit = FJ_JIT_OFF_REGIONS;
  fj_ref tab = fj_ir_emit(ir, &tl);
  fj_ir_ins bl = {.op = FJ_IR_HLD, .type = FJ_IRT_I64, .aux = 8, .a = tab};
  bl.lit = (int32_t)(region * FJ_REGION_SIZEOF + FJ_REGION_OFF_BASE);
  fj_ref base = fj_ir_emit(ir, &bl);
  return fj_ir_op2(ir, FJ_IR_ADD, FJ_IRT_I64, base, k64(s, off));
}

/* ---- calls -------------------------------------------------------------------------------- */

/* The trace's frame pointer must leave room for `frames` more frames below fp0's frame. */
static void depth_guard(bstate *s, uint32_t frames) {
  fj_ir *ir = s->ir;
  uint32_t sn = snap(s, s->pc, FJ_EXIT_GUARD, s->i);
  fj_ir_ins tl = {.op = FJ_IR_SLD, .type = FJ_IRT_I64, .aux = 8};
  tl.lit = FJ_JIT_OFF_REGIONS;
  fj_ref tab = fj_ir_emit(ir, &tl);
  fj_ir_ins bl = {.op = FJ_IR_HLD, .type = FJ_IRT_I64, .aux = 8, .a = tab};
  bl.lit = FJ_REGION_OFF_BASE;  /* region 0 = the stack */
  fj_ref base = fj_ir_emit(ir, &bl);
  fj_ref room = fj_ir_op2(ir, FJ_IR_SUB, FJ_IRT_I64, ir->fp0, base);
  guard(s, FJ_IR_UGE, FJ_IRT_I64, room, k64(s, (uint64_t)FJ_STACK_SIZE * (frames + 1)), sn);
}

/* After a call the callee may have spent budget: reload it, and leave if the rest of the
 * iteration no longer fits. */
static void budget_reload(bstate *s) {
  fj_ir *ir = s->ir;
  uint32_t rest = s->n - (s->i + 1);
  fj_ir_ins ld = {.op = FJ_IR_SLD, .type = FJ_IRT_I64, .aux = 8};
  ld.lit = FJ_JIT_OFF_BUDGET;
  fj_ref b = fj_ir_emit(ir, &ld);
  s->budget = fj_ir_op2(ir, FJ_IR_SUB, FJ_IRT_I64, b, k64(s, rest));
  changed(s);
  uint32_t sn = snap(s, s->pc + 1, FJ_EXIT_BUDGET, s->i + 1);
  guard(s, FJ_IR_GE, FJ_IRT_I64, b, k64(s, rest), sn);
}

static fj_ref call_out(bstate *s, enum fj_ir_op op, uint32_t lit) {
  uint32_t sn = snap(s, s->pc + 1, FJ_EXIT_CALL, s->i + 1);
  fj_ir_ins c = {.op = (uint8_t)op, .type = FJ_IRT_I64};
  c.lit = (int32_t)lit;
  c.snap = sn;
  fj_ref r = fj_ir_emit(s->ir, &c);
  s->ir->snaps[sn].ref = r;
  for (unsigned k = 0; k < FJ_NREGS; k++)
    if (s->ir->snaps[sn].regs[k]) s->synced[k] = true;
  s->have_snap = false;
  slots_clear(s);
  fj_bchk_reset(&s->bchk);
  return r;
}

/* ---- one record --------------------------------------------------------------------------- */

static enum fj_ir_op cond_of(enum fj_op op) {
  switch (op) {
  case FJ_OP_JEQ64_IMM: case FJ_OP_JEQ64_REG: case FJ_OP_JEQ32_IMM: case FJ_OP_JEQ32_REG:
    return FJ_IR_EQ;
  case FJ_OP_JNE64_IMM: case FJ_OP_JNE64_REG: case FJ_OP_JNE32_IMM: case FJ_OP_JNE32_REG:
    return FJ_IR_NE;
  case FJ_OP_JGT64_IMM: case FJ_OP_JGT64_REG: case FJ_OP_JGT32_IMM: case FJ_OP_JGT32_REG:
    return FJ_IR_UGT;
  case FJ_OP_JGE64_IMM: case FJ_OP_JGE64_REG: case FJ_OP_JGE32_IMM: case FJ_OP_JGE32_REG:
    return FJ_IR_UGE;
  case FJ_OP_JLT64_IMM: case FJ_OP_JLT64_REG: case FJ_OP_JLT32_IMM: case FJ_OP_JLT32_REG:
    return FJ_IR_ULT;
  case FJ_OP_JLE64_IMM: case FJ_OP_JLE64_REG: case FJ_OP_JLE32_IMM: case FJ_OP_JLE32_REG:
    return FJ_IR_ULE;
  case FJ_OP_JSGT64_IMM: case FJ_OP_JSGT64_REG: case FJ_OP_JSGT32_IMM: case FJ_OP_JSGT32_REG:
    return FJ_IR_GT;
  case FJ_OP_JSGE64_IMM: case FJ_OP_JSGE64_REG: case FJ_OP_JSGE32_IMM: case FJ_OP_JSGE32_REG:
    return FJ_IR_GE;
  case FJ_OP_JSLT64_IMM: case FJ_OP_JSLT64_REG: case FJ_OP_JSLT32_IMM: case FJ_OP_JSLT32_REG:
    return FJ_IR_LT;
  case FJ_OP_JSLE64_IMM: case FJ_OP_JSLE64_REG: case FJ_OP_JSLE32_IMM: case FJ_OP_JSLE32_REG:
    return FJ_IR_LE;
  default:
    return FJ_IR_TEST;  /* JSET */
  }
}

static enum fj_ir_op alu_of(uint8_t code, int16_t off) {
  switch (code & 0xf0) {
  case 0x00: return FJ_IR_ADD;
  case 0x10: return FJ_IR_SUB;
  case 0x20: return FJ_IR_MUL;
  case 0x30: return off ? FJ_IR_SDIV : FJ_IR_UDIV;
  case 0x40: return FJ_IR_OR;
  case 0x50: return FJ_IR_AND;
  case 0x60: return FJ_IR_SHL;
  case 0x70: return FJ_IR_SHR;
  case 0x90: return off ? FJ_IR_SMOD : FJ_IR_UMOD;
  case 0xa0: return FJ_IR_XOR;
  case 0xc0: return FJ_IR_SAR;
  default: return FJ_IR_NOP;
  }
}

static void rec_alu(bstate *s, const fj_trace_rec *r, enum fj_op op) {
  fj_ir *ir = s->ir;
  fj_insn in = r->insn;
  unsigned dst = fj_insn_dst(in), src = fj_insn_src(in);
  bool is64 = (in.code & FJ_CLS_MASK) == FJ_CLS_ALU64;
  enum fj_irt t = is64 ? FJ_IRT_I64 : FJ_IRT_I32;
  uint8_t fmt = fj_op_table[op].fmt;
  fj_ref b = fmt == FJ_FMT_ALU_REG ? getr(s, src)
             : fj_ir_kint(ir, t, is64 ? (uint64_t)(int64_t)in.imm : (uint32_t)in.imm);
  fj_ref v;
  switch (op) {
  case FJ_OP_MOV64_IMM: case FJ_OP_MOV64_REG: v = b; break;
  case FJ_OP_MOV32_IMM: case FJ_OP_MOV32_REG: v = fj_ir_op1(ir, FJ_IR_ZEXT, FJ_IRT_I32, b, 32); break;
  case FJ_OP_NEG64: case FJ_OP_NEG32: v = fj_ir_op2(ir, FJ_IR_NEG, t, getr(s, dst), FJ_REF_NONE); break;
  case FJ_OP_MOVSX8_64: v = fj_ir_op1(ir, FJ_IR_SEXT, FJ_IRT_I64, b, 8); break;
  case FJ_OP_MOVSX16_64: v = fj_ir_op1(ir, FJ_IR_SEXT, FJ_IRT_I64, b, 16); break;
  case FJ_OP_MOVSX32_64: v = fj_ir_op1(ir, FJ_IR_SEXT, FJ_IRT_I64, b, 32); break;
  case FJ_OP_MOVSX8_32: v = fj_ir_op1(ir, FJ_IR_SEXT, FJ_IRT_I32, b, 8); break;
  case FJ_OP_MOVSX16_32: v = fj_ir_op1(ir, FJ_IR_SEXT, FJ_IRT_I32, b, 16); break;
  default: {
    enum fj_ir_op iop = alu_of(in.code, in.off);
    if (iop == FJ_IR_NOP)
      fj_ir_abort(ir, FJ_ABORT_UNSUPPORTED, "trace rec %u (pc %u): %s", s->i, r->pc,
                  fj_op_table[op].name);
    v = fj_ir_op2(ir, iop, t, getr(s, dst), b);
    break;
  }
  }
  setr(s, dst, v);
}

static void rec_end(bstate *s, const fj_trace_rec *r, enum fj_op op) {
  fj_ir *ir = s->ir;
  unsigned dst = fj_insn_dst(r->insn);
  fj_ref x = getr(s, dst), v;
  switch (op) {
  case FJ_OP_LE16: v = fj_ir_op1(ir, FJ_IR_ZEXT, FJ_IRT_I32, x, 16); break;
  case FJ_OP_LE32: v = fj_ir_op1(ir, FJ_IR_ZEXT, FJ_IRT_I32, x, 32); break;
  case FJ_OP_LE64: v = x; break;
  case FJ_OP_BE16: case FJ_OP_BSWAP16: v = fj_ir_op1(ir, FJ_IR_BSWAP, FJ_IRT_I32, x, 16); break;
  case FJ_OP_BE32: case FJ_OP_BSWAP32: v = fj_ir_op1(ir, FJ_IR_BSWAP, FJ_IRT_I32, x, 32); break;
  default: v = fj_ir_op1(ir, FJ_IR_BSWAP, FJ_IRT_I64, x, 64); break;
  }
  setr(s, dst, v);
}

static bool known32(const fj_ir *ir, fj_ref r) {
  if (fj_ir_is_k(r)) return fj_ir_kval(ir, r) <= 0xffffffffu;
  return fj_ir_at(ir, r)->type == FJ_IRT_I32;
}

/* Register k holds x, which a guard just proved <= n: if n fits 32 bits, so does x. */
static void narrow_reg(bstate *s, unsigned k, fj_ref x, fj_ref n) {
  if (k == FJ_REG_FP || fj_ir_is_k(x) || known32(s->ir, x) || !known32(s->ir, n)) return;
  if (getr(s, k) != x) return;
  setr(s, k, fj_ir_op1(s->ir, FJ_IR_ZEXT, FJ_IRT_I32, x, 32));
}

static void rec_jcond(bstate *s, const fj_trace_rec *r, enum fj_op op) {
  fj_ir *ir = s->ir;
  fj_insn in = r->insn;
  bool is64 = (in.code & FJ_CLS_MASK) == FJ_CLS_JMP;
  enum fj_irt t = is64 ? FJ_IRT_I64 : FJ_IRT_I32;
  fj_ref a = getr(s, fj_insn_dst(in));
  fj_ref b = fj_op_table[op].fmt == FJ_FMT_JCOND_REG
                 ? getr(s, fj_insn_src(in))
                 : fj_ir_kint(ir, t, is64 ? (uint64_t)(int64_t)in.imm : (uint32_t)in.imm);
  bool taken = (r->flags & FJ_REC_TAKEN) != 0;
  enum fj_ir_op c = cond_of(op);
  if (!taken) c = fj_ir_cond_invert(c);
  uint32_t other = taken ? r->pc + 1 : (uint32_t)((int64_t)r->pc + 1 + in.off);
  uint32_t sn = snap(s, other, FJ_EXIT_GUARD, s->i + 1);
  guard(s, c, t, a, b, sn);
  /* Past an unsigned 64-bit compare with a value below 2^32 (x < n, x <= n, x == n), x is below
   * 2^32 too: the register holds ZEXT 32 of x from now on (the same value, with 32-bit
   * knowledge; fold.c then sees i + 1 after i < n fit 32 bits, so loop counters become I32). */
  if (t != FJ_IRT_I64 || (ir->flags & FJ_IR_NOFOLD)) return;
  unsigned dst = fj_insn_dst(in), src = fj_insn_src(in);
  bool reg = fj_op_table[op].fmt == FJ_FMT_JCOND_REG;
  if (c == FJ_IR_ULT || c == FJ_IR_ULE || c == FJ_IR_EQ) narrow_reg(s, dst, a, b);
  if (reg && (c == FJ_IR_UGT || c == FJ_IR_UGE || c == FJ_IR_EQ)) narrow_reg(s, src, b, a);
}

static void rec_atomic(bstate *s, const fj_trace_rec *r, enum fj_op op) {
  fj_ir *ir = s->ir;
  fj_insn in = r->insn;
  unsigned dst = fj_insn_dst(in), src = fj_insn_src(in);
  unsigned w = fj_code_size_bytes(in.code);
  enum fj_irt t = w == 8 ? FJ_IRT_I64 : FJ_IRT_I32;
  int32_t slot;
  fj_ref addr;
  if (mem_access(s, dst, in.off, w, r->region, true, false, &slot, &addr)) {
    fj_ir_abort(ir, FJ_ABORT_INTERNAL, "atomic classified as stack slot");
  }
  /* The interpreter requires natural alignment for atomics. */
  uint32_t sn = snap(s, s->pc, FJ_EXIT_GUARD, s->i);
  guard(s, FJ_IR_NTEST, FJ_IRT_I64, addr, k64(s, w - 1), sn);
  fj_ref v = getr(s, src);
  fj_ir_ins ins = {.type = (uint8_t)t, .a = addr, .aux = fj_mem_aux(w, false, r->region)};
  ins.lit = in.imm;
  if (op == FJ_OP_AT_CMPXCHG64 || op == FJ_OP_AT_CMPXCHG32) {
    fj_ir_ins pr = {.op = FJ_IR_PAIR, .type = FJ_IRT_NONE, .a = v, .b = getr(s, 0)};
    ins.op = FJ_IR_CMPXCHG;
    ins.b = fj_ir_emit_raw(ir, &pr);
    setr(s, 0, fj_ir_emit(ir, &ins));
  } else {
    ins.op = FJ_IR_ATOMIC;
    ins.b = v;
    fj_ref res = fj_ir_emit(ir, &ins);
    if ((in.imm & FJ_ATOMIC_FETCH) || in.imm == 0xe1) setr(s, src, res);
  }
  if (r->region == 0) slots_clear(s);
}

static void rec_one(bstate *s, const fj_trace_rec *r, enum fj_op op) {
  fj_ir *ir = s->ir;
  fj_insn in = r->insn;
  unsigned dst = fj_insn_dst(in), src = fj_insn_src(in);
  switch (fj_op_table[op].fmt) {
  case FJ_FMT_ALU_IMM:
  case FJ_FMT_ALU_REG:
  case FJ_FMT_ALU_UNARY:
    rec_alu(s, r, op);
    break;
  case FJ_FMT_END:
    rec_end(s, r, op);
    break;
  case FJ_FMT_JA:
  case FJ_FMT_JA32:
    break;
  case FJ_FMT_JCOND_IMM:
  case FJ_FMT_JCOND_REG:
    rec_jcond(s, r, op);
    break;
  case FJ_FMT_LDDW:
    if (r->flags & FJ_REC_LDDW_REGION)
      setr(s, dst, region_addr(s, r->region, (uint64_t)(uint32_t)in.imm | (uint64_t)r->aux << 32));
    else
      setr(s, dst, k64(s, (uint64_t)(uint32_t)in.imm | (uint64_t)r->aux << 32));
    break;
  case FJ_FMT_LDDW_FUNC:
    setr(s, dst, k64(s, (uint64_t)((int64_t)r->pc + 1 + in.imm)));
    break;
  case FJ_FMT_LDX: {
    bool sign = (in.code & FJ_MODE_MASK) == FJ_MODE_MEMSX;
    setr(s, dst, load(s, src, in.off, fj_code_size_bytes(in.code), sign, r->region));
    break;
  }
  case FJ_FMT_ST:
    store(s, dst, in.off, fj_code_size_bytes(in.code), k64(s, (uint64_t)(int64_t)in.imm),
          r->region);
    break;
  case FJ_FMT_STX:
    store(s, dst, in.off, fj_code_size_bytes(in.code), getr(s, src), r->region);
    break;
  case FJ_FMT_ATOMIC:
    rec_atomic(s, r, op);
    break;
  case FJ_FMT_CALLX: {
    uint32_t sn = snap(s, r->pc, FJ_EXIT_GUARD, s->i);
    guard(s, FJ_IR_EQ, FJ_IRT_I64, getr(s, dst), k64(s, r->aux), sn);
  }
    /* fall through */
  case FJ_FMT_CALL:
    setr(s, 0, call_out(s, FJ_IR_CALL, r->aux));
    budget_reload(s);
    break;
  case FJ_FMT_CALL_LOCAL:
    depth_guard(s, s->depth + 1);
    if (r->flags & FJ_REC_CALL_INTERP) {
      setr(s, 0, call_out(s, FJ_IR_CALLL, r->aux));
      /* The callee ran in the interpreter: r1-r5 are what it left in st->r[1..5]. */
      for (unsigned k = 1; k <= 5; k++) {
        fj_ir_ins ld = {.op = FJ_IR_SLD, .type = FJ_IRT_I64, .aux = 8};
        ld.lit = (int32_t)(8 * k);
        setr(s, k, fj_ir_emit(ir, &ld));
      }
      budget_reload(s);
    } else {
      bframe *f = &s->frames[s->depth];
      f->ret_pc = r->pc + 1;
      for (unsigned j = 0; j < 4; j++) f->saved[j] = getr(s, 6 + j);
      f->fp = getr(s, FJ_REG_FP);
      s->depth++;
      setr(s, FJ_REG_FP,
           fj_ir_op2(ir, FJ_IR_ADD, FJ_IRT_I64, ir->fp0,
                     k64(s, (uint64_t)-(int64_t)(FJ_STACK_SIZE * s->depth))));
      changed(s);
    }
    break;
  case FJ_FMT_EXIT:
    if (s->depth == 0) {
      /* Verified: last rec, END_STOP at this pc: the interpreter executes the exit. */
      break;
    }
    s->depth--;
    for (unsigned j = 0; j < 4; j++) setr(s, 6 + j, s->frames[s->depth].saved[j]);
    setr(s, FJ_REG_FP, s->frames[s->depth].fp);
    changed(s);
    break;
  default:
    fj_ir_abort(ir, FJ_ABORT_UNSUPPORTED, "trace rec %u (pc %u): %s", s->i, r->pc,
                fj_op_table[op].name);
  }
}

/* After the build: bounds checks were emitted raw (widening changes their constants in place),
 * so equal checks of different pointers were not shared, and checks left at offset 0 keep an
 * "ADD off, #0".  Now that nothing widens any more, drop the zero adds and CSE every pure
 * instruction and guard once (a later equal guard is implied by the earlier one), so that the
 * LOOP copy CSEs with them too. */
static void snap_remap(void *ud, fj_ref *r) {
  const fj_ref *map = ud;
  if (*r >= FJ_REF_BIAS && map[*r - FJ_REF_BIAS]) *r = map[*r - FJ_REF_BIAS];
}

static void nop(fj_ir_ins *i) {
  i->op = FJ_IR_NOP;
  i->type = FJ_IRT_NONE;
  i->aux = 0;
  i->a = i->b = FJ_REF_NONE;
  i->k = 0;
}

static void post_build_cse(bstate *bs) {
  fj_ir *ir = bs->ir;
  uint32_t n = fj_ir_nins(ir), cap = 16;
  while (cap < 2 * n) cap *= 2;
  fj_ref *map = fj_ir_scratch(ir, (size_t)(n ? n : 1) * sizeof *map);
  fj_ref *tab = fj_ir_scratch(ir, (size_t)cap * sizeof *tab);
  fj_ref k0 = fj_ir_k64(ir, 0);
  bool changed = false;
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) {
    fj_ir_ins *i = fj_ir_at(ir, r);
    if (i->op == FJ_IR_NOP) continue;
    if (i->a >= FJ_REF_BIAS && map[i->a - FJ_REF_BIAS]) i->a = map[i->a - FJ_REF_BIAS];
    if (i->b >= FJ_REF_BIAS && map[i->b - FJ_REF_BIAS]) i->b = map[i->b - FJ_REF_BIAS];
    if (i->op == FJ_IR_ADD && i->b == k0 && i->type == FJ_IRT_I64 && !fj_ir_is_k(i->a)) {
      map[r - FJ_REF_BIAS] = i->a;
      nop(i);
      changed = true;
      continue;
    }
    if (!(fj_ir_op_table[i->op].flags & (FJ_IRF_PURE | FJ_IRF_GUARD))) continue;
    uint64_t h = ((uint64_t)i->op * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)i->a << 1) ^
                 ((uint64_t)i->b * 0xff51afd7ed558ccdull) ^ ((uint64_t)(uint32_t)i->lit << 7) ^
                 ((uint64_t)i->aux << 40) ^ ((uint64_t)i->type << 56);
    h ^= h >> 29;
    for (uint32_t slot = (uint32_t)h & (cap - 1);; slot = (slot + 1) & (cap - 1)) {
      fj_ref e = tab[slot];
      if (!e) {
        tab[slot] = r;
        break;
      }
      const fj_ir_ins *o = fj_ir_at(ir, e);
      if (o->op == i->op && o->type == i->type && o->aux == i->aux && o->a == i->a &&
          o->b == i->b && o->lit == i->lit) {
        if (!fj_ir_is_guard(i->op)) map[r - FJ_REF_BIAS] = e;
        nop(i);
        changed = true;
        break;
      }
    }
  }
  if (!changed) return;
  for (uint32_t k = 0; k < ir->nsnaps; k++) fj_snap_foreach_ref(ir, k, snap_remap, map);
  /* The builder's state is still used (loop snapshot): remap it too. */
  for (unsigned k = 0; k < FJ_NREGS; k++) {
    snap_remap(map, &bs->reg[k]);
    snap_remap(map, &bs->rin[k]);
  }
  for (uint32_t k = 0; k < bs->nslots; k++) snap_remap(map, &bs->slots[k].ref);
  for (uint32_t d = 0; d < bs->depth; d++) {
    for (unsigned j = 0; j < 4; j++) snap_remap(map, &bs->frames[d].saved[j]);
    snap_remap(map, &bs->frames[d].fp);
  }
  snap_remap(map, &bs->budget);
  bs->have_snap = false;
  fj_ir_rechain(ir);
}

static fj_ref rin(fj_ir *ir, int32_t k) {
  fj_ir_ins ins = {.op = FJ_IR_RIN, .type = FJ_IRT_I64};
  ins.lit = k;
  return fj_ir_emit(ir, &ins);
}

/* ---- entry speculation -------------------------------------------------------------------- */

/* The registers (of `narrow`) whose entry value the trace uses where 32-bit knowledge makes code
 * narrower, by a pre-scan of the records that follows each register's origin (the entry register
 * it still holds, through 64-bit moves) and whether its value is known to fit 32 bits (by the
 * op, or as a speculated entry value).  Paying uses, all 64-bit: AND (one 32-bit operand makes
 * it I32), right shift by a constant, compares with a constant (32-bit compare, or decided),
 * OR, XOR, unsigned division/modulo or a compare whose other operand fits 32 bits too, and an
 * unsigned compare where the register is the upper bound (x < n: x then fits 32 bits too).
 * ADD, SUB, MUL, NEG and left shifts do not count (their low half never depends on the upper
 * halves: opt_narrow narrows them by what their users read), nor ALU32 uses (they read the low
 * half anyway).  A guard per speculated register costs on every entry: where nothing gets
 * narrower (e.g. a compare with a 64-bit value) it is not worth it. */
static uint32_t spec_pays(const fj_trace *t, uint32_t narrow) {
  int8_t origin[FJ_NREGS];   /* the entry register a register still holds, or -1 */
  bool k32[FJ_NREGS];        /* its value is known to fit 32 bits (speculation included) */
  uint32_t uses[FJ_NREGS];   /* paying uses of each entry register's value */
  int8_t saved[FJ_MAX_CALL_DEPTH][5];
  bool saved32[FJ_MAX_CALL_DEPTH][5];
  uint32_t depth = 0;
  for (unsigned k = 0; k < FJ_NREGS; k++) {
    origin[k] = (int8_t)k;
    k32[k] = (narrow >> k & 1) != 0;
    uses[k] = 0;
  }
#define USE(r) (origin[r] >= 0 ? (void)uses[origin[r]]++ : (void)0)
  for (uint32_t i = 0; i < t->nrecs; i++) {
    const fj_trace_rec *r = &t->recs[i];
    enum fj_op op = (enum fj_op)t->ops[i];
    fj_insn in = r->insn;
    unsigned dst = fj_insn_dst(in), src = fj_insn_src(in), cls = in.code & FJ_CLS_MASK;
    uint8_t fmt = fj_op_table[op].fmt;
    bool imm = fmt == FJ_FMT_ALU_IMM || fmt == FJ_FMT_JCOND_IMM;
    /* the second operand fits 32 bits (an immediate sign-extends: >= 0) */
    bool b32 = imm ? in.imm >= 0 : fmt == FJ_FMT_ALU_REG || fmt == FJ_FMT_JCOND_REG ? k32[src]
                                                                                    : false;
    switch (fmt) {
    case FJ_FMT_ALU_IMM: case FJ_FMT_ALU_REG: case FJ_FMT_ALU_UNARY: {
      if (op == FJ_OP_MOV64_REG) {
        origin[dst] = origin[src];
        k32[dst] = k32[src];
        break;
      }
      bool res32 = cls == FJ_CLS_ALU;  /* ALU32 results are zero-extended */
      if (cls == FJ_CLS_ALU64) {
        unsigned c = in.code & 0xf0;
        bool reg = fmt == FJ_FMT_ALU_REG;
        switch (c) {
        case 0x50:  /* AND */
          USE(dst);
          if (reg) USE(src);
          res32 = k32[dst] || b32;
          break;
        case 0x40: case 0xa0:  /* OR, XOR */
          if (k32[dst] && b32) {
            USE(dst);
            if (reg) USE(src);
          }
          res32 = k32[dst] && b32;
          break;
        case 0x70: case 0xc0:  /* RSH, ARSH */
          if (imm) USE(dst);
          res32 = imm && (k32[dst] || (in.imm & 63) >= 32);
          break;
        case 0x30: case 0x90:  /* DIV, MOD */
          if (in.off == 0 && k32[dst] && b32) {
            USE(dst);
            if (reg) USE(src);
          }
          res32 = in.off == 0 && k32[dst] && b32;
          break;
        case 0xb0:  /* MOV imm */
          res32 = in.imm >= 0;
          break;
        default:
          break;
        }
      }
      origin[dst] = -1;
      k32[dst] = res32;
      break;
    }
    case FJ_FMT_JCOND_IMM: case FJ_FMT_JCOND_REG: {
      if (cls != FJ_CLS_JMP) break;
      if (imm || (k32[dst] && b32)) {
        USE(dst);
        if (!imm) USE(src);
        break;
      }
      /* An unsigned upper bound of the other operand: past the guard that one fits 32 bits
       * too (rec_jcond), so a loop counter i < n with a 32-bit n becomes I32. */
      enum fj_ir_op c = cond_of(op);
      if (!(r->flags & FJ_REC_TAKEN)) c = fj_ir_cond_invert(c);
      if (c == FJ_IR_ULT || c == FJ_IR_ULE || c == FJ_IR_EQ) USE(src);
      if (c == FJ_IR_UGT || c == FJ_IR_UGE || c == FJ_IR_EQ) USE(dst);
      break;
    }
    case FJ_FMT_END:
      origin[dst] = -1;
      k32[dst] = in.imm <= 32;
      break;
    case FJ_FMT_LDX:
      origin[dst] = -1;
      k32[dst] = fj_code_size_bytes(in.code) <= 4 && (in.code & FJ_MODE_MASK) != FJ_MODE_MEMSX;
      break;
    case FJ_FMT_LDDW:
      origin[dst] = -1;
      k32[dst] = !(r->flags & FJ_REC_LDDW_REGION) && r->aux == 0;
      break;
    case FJ_FMT_LDDW_FUNC:
      origin[dst] = -1;
      k32[dst] = true;
      break;
    case FJ_FMT_ATOMIC:
      origin[src] = origin[0] = -1;
      k32[src] = k32[0] = false;
      break;
    case FJ_FMT_CALL: case FJ_FMT_CALLX:
      origin[0] = -1;
      k32[0] = false;
      break;
    case FJ_FMT_CALL_LOCAL:
      if (r->flags & FJ_REC_CALL_INTERP) {
        for (unsigned k = 0; k <= 5; k++) origin[k] = -1, k32[k] = false;
      } else if (depth < FJ_MAX_CALL_DEPTH) {
        memcpy(saved[depth], &origin[6], 5);
        memcpy(saved32[depth++], &k32[6], 5);
      }
      break;
    case FJ_FMT_EXIT:
      if (depth) {
        depth--;
        memcpy(&origin[6], saved[depth], 5);
        memcpy(&k32[6], saved32[depth], 5);
      }
      break;
    default:
      break;
    }
  }
#undef USE
  /* The guard runs on every entry.  In a loop trace the entry value is that of the first
   * iteration only, unless the loop leaves the register alone: speculate on such invariant
   * registers (their uses repeat every iteration).  Elsewhere one narrower compare or AND
   * hardly pays for the guard: ask for two uses. */
  bool loop = t->h.end == FJ_TRACE_END_LOOP;
  uint32_t pays = 0;
  for (unsigned k = 0; k < FJ_NREGS; k++)
    if (loop ? uses[k] && origin[k] == (int8_t)k : uses[k] >= 2) pays |= 1u << k;
  return pays & narrow;
}

/* For each register in spec: leave through snapshot sn unless it is still below 2^32, and read
 * it as an I32 value from then on. */
static void spec_guard(bstate *s, uint32_t spec) {
  fj_ir *ir = s->ir;
  if (!spec) return;
  uint32_t sn = snap(s, s->t->h.start_pc, FJ_EXIT_GUARD, 0);
  for (unsigned k = 0; k < FJ_REG_FP; k++) {
    if (!(spec >> k & 1)) continue;
    fj_ref x = rin(ir, (int32_t)k);
    guard(s, FJ_IR_ULE, FJ_IRT_I64, x, k64(s, 0xffffffffu), sn);
    s->rin[k] = fj_ir_op1(ir, FJ_IR_ZEXT, FJ_IRT_I32, x, 32);
  }
}

/* One build with the registers in spec speculated 32-bit.  Returns those of them that a loop
 * trace carries to the next iteration as a value not known to fit 32 bits: speculating on them
 * helps the first iteration only, and every later one would check the carried value again. */
static uint32_t build_once(fj_ir *ir, const fj_trace *t, uint32_t spec) {
  bstate s;
  memset(&s, 0, sizeof s);
  s.ir = ir;
  s.t = t;
  s.n = t->nrecs;
  ir->start_pc = t->h.start_pc;
  ir->end_pc = t->h.end_pc;
  ir->nrecs = t->nrecs;
  ir->kind = t->h.kind;
  ir->end = t->h.end;
  ir->entry_narrow = t->h.entry_narrow;
  ir->fp0 = s.rin[FJ_REG_FP] = rin(ir, FJ_REG_FP);

  /* Charge the whole trace (or iteration) up front. */
  fj_ref b0 = rin(ir, FJ_RIN_BUDGET);
  s.budget = fj_ir_op2(ir, FJ_IR_SUB, FJ_IRT_I64, b0, k64(&s, s.n));
  uint32_t sn0 = snap(&s, t->h.start_pc, FJ_EXIT_BUDGET, 0);
  guard(&s, FJ_IR_GE, FJ_IRT_I64, b0, k64(&s, s.n), sn0);
  spec_guard(&s, spec);

  for (uint32_t i = 0; i < t->nrecs; i++) {
    s.i = i;
    s.pc = t->recs[i].pc;
    rec_one(&s, &t->recs[i], (enum fj_op)t->ops[i]);
  }

  s.i = t->nrecs;
  s.pc = t->h.end_pc;
  if (!(ir->flags & FJ_IR_NOFOLD)) post_build_cse(&s);
  if (t->h.end == FJ_TRACE_END_LOOP) {
    /* Charge the next iteration here, at the back edge, rather than at the top of the loop
     * body: its exit then names the values the iteration just computed (live anyway) instead
     * of the previous iteration's, which would each need a PHI.  fj_opt_loop's copy of the
     * entry charge CSEs with this one. */
    uint32_t sb = snap(&s, t->h.start_pc, FJ_EXIT_BUDGET, s.n);
    guard(&s, FJ_IR_GE, FJ_IRT_I64, s.budget, k64(&s, s.n), sb);
    fj_ir_ins next = {.op = FJ_IR_ADD, .type = FJ_IRT_I64, .a = s.budget,
                      .b = k64(&s, (uint64_t)-(int64_t)s.n)};  /* raw: not reassociated */
    fj_ir_emit_raw(ir, &next);
    ir->loop_snap = snap(&s, t->h.start_pc, FJ_EXIT_LINK, s.n);
    ir->snaps[ir->loop_snap].ref = ir->top;
    uint32_t drop = 0;
    for (unsigned k = 0; k < FJ_REG_FP; k++) {
      fj_ref v = ir->snaps[ir->loop_snap].regs[k];
      if ((spec >> k & 1) && v && v != s.rin[k] && !known32(ir, v)) drop |= 1u << k;
    }
    return drop;
  }
  const fj_trace_rec *last = &t->recs[t->nrecs - 1];
  uint32_t sn;
  if (t->ops[t->nrecs - 1] == FJ_OP_EXIT && last->depth == 0)
    sn = snap(&s, last->pc, FJ_EXIT_STOP, s.n - 1);  /* the interpreter executes the exit */
  else
    sn = snap(&s, t->h.end_pc, t->h.end == FJ_TRACE_END_LINK ? FJ_EXIT_LINK : FJ_EXIT_STOP, s.n);
  fj_ir_ins e = {.op = FJ_IR_EXIT, .type = FJ_IRT_NONE,
                 .aux = (uint16_t)ir->snaps[sn].kind};
  e.snap = sn;
  fj_ref er = fj_ir_emit_raw(ir, &e);
  ir->snaps[sn].ref = er;
  return 0;
}

void fj_ir_build(fj_ir *ir, const fj_trace *t) {
  /* Speculate only with folding (FJ_IR_NOFOLD is the unoptimized reference), on registers read
   * where it pays; r10 is the frame pointer.  Not in bridges: a bridge is where a failed entry
   * guard leads (the runtime bridges a root trace's hot exits, its entry guard's too), and an
   * entry guard of its own could fail as well, with its exit linked back to the root trace at
   * the same pc (client_runtime/exit.c links a side exit onto another trace's head): both
   * would leave at once, forever, without executing anything. */
  uint32_t spec = (ir->flags & FJ_IR_NOFOLD) || t->h.kind == FJ_TRACE_BRIDGE
                      ? 0
                      : spec_pays(t, t->h.entry_narrow & ((1u << FJ_REG_FP) - 1));
  for (uint32_t drop; (drop = build_once(ir, t, spec)) != 0;) {
    /* Build again without them (at most once per register). */
    spec &= ~drop;
    jmp_buf jb;
    uint32_t flags = ir->flags;
    memcpy(&jb, &ir->abort_jb, sizeof jb);
    fj_ir_free(ir);
    fj_ir_init(ir, flags);
    memcpy(&ir->abort_jb, &jb, sizeof jb);
  }
}
