/* farjit codegen — IR buffer, constants, reference semantics, analysis helpers, printer.
 * Contract in codegen/ir.h. */
#include "codegen/ir.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/opt.h"
#include "codegen/snap.h"

const fj_ir_op_info fj_ir_op_table[FJ_IR__COUNT] = {
#define FJ_IR_INFO(name, ma, mb, fl, doc) \
  [FJ_IR_##name] = {#name, FJ_IRM_##ma, FJ_IRM_##mb, (uint8_t)(fl)},
  FJ_IR_OPS(FJ_IR_INFO)
#undef FJ_IR_INFO
};

/* ---- lifecycle ---------------------------------------------------------------------------- */

void fj_ir_init(fj_ir *ir, uint32_t flags) {
  memset(ir, 0, sizeof *ir);
  ir->flags = flags;
  ir->lo = ir->klo = ir->hi = ir->top = FJ_REF_BIAS;
  ir->reason = FJ_ABORT_NONE;
}

void *fj_ir_scratch(fj_ir *ir, size_t bytes) {
  void **blk = calloc(1, sizeof(void *) * 2 + bytes);
  if (!blk) fj_ir_abort(ir, FJ_ABORT_NOMEM, "out of memory (%zu bytes of scratch)", bytes);
  blk[0] = ir->scratch;
  ir->scratch = blk;
  return &blk[2];
}

void fj_ir_free(fj_ir *ir) {
  while (ir->scratch) {
    void **blk = ir->scratch;
    ir->scratch = blk[0];
    free(blk);
  }
  free(ir->buf);
  free(ir->snaps);
  free(ir->slots);
  free(ir->frames);
  ir->buf = NULL;
  ir->snaps = NULL;
  ir->slots = NULL;
  ir->frames = NULL;
  ir->lo = ir->klo = ir->hi = ir->top = FJ_REF_BIAS;
  ir->nsnaps = ir->nslots = ir->nframes = 0;
}

void fj_ir_abort(fj_ir *ir, int reason, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ir->msg, sizeof ir->msg, fmt, ap);
  va_end(ap);
  ir->reason = reason;
  longjmp(ir->abort_jb, 1);
}

/* Make room for `below` more constants and `above` more instructions. */
static void ir_grow(fj_ir *ir, uint32_t below, uint32_t above) {
  uint32_t kroom = ir->klo - ir->lo, iroom = ir->hi - ir->top;
  if (kroom >= below && iroom >= above) return;
  uint32_t nk = FJ_REF_BIAS - ir->klo, ni = ir->top - FJ_REF_BIAS;
#if defined(__SANITIZE_ADDRESS__)
  /* Under AddressSanitizer small buffers grow one entry at a time, so that the buffer moves on
   * almost every emission and a pointer kept across one (fj_ir_at, then fj_ir_kint) is caught
   * as a use after free in every test, not only when a doubling happens to hit it. */
  uint32_t newk = kroom >= below ? kroom + nk : nk < 4096 ? nk + below : (nk + below) * 2;
  uint32_t newi = iroom >= above ? iroom + ni : ni < 4096 ? ni + above : (ni + above) * 2;
#else
  uint32_t newk = kroom >= below ? kroom + nk : (nk + below) * 2 + 64;
  uint32_t newi = iroom >= above ? iroom + ni : (ni + above) * 2 + 256;
#endif
  if (newk > FJ_IR_MAX_K + 64) newk = FJ_IR_MAX_K + 64;
  if (newi > FJ_IR_MAX_INS + 256) newi = FJ_IR_MAX_INS + 256;
  fj_ir_ins *nb = malloc(((size_t)newk + newi) * sizeof *nb);
  if (!nb) fj_ir_abort(ir, FJ_ABORT_NOMEM, "IR buffer: out of memory");
  fj_ref nlo = FJ_REF_BIAS - newk;
  if (ir->buf)
    memcpy(&nb[ir->klo - nlo], &ir->buf[ir->klo - ir->lo], ((size_t)nk + ni) * sizeof *nb);
  free(ir->buf);
  ir->buf = nb;
  ir->lo = nlo;
  ir->hi = FJ_REF_BIAS + newi;
}

fj_ref fj_ir_kint(fj_ir *ir, enum fj_irt type, uint64_t v) {
  if (type == FJ_IRT_I32) v = (uint32_t)v;
  else type = FJ_IRT_I64;
  for (fj_ref r = ir->chain[FJ_IR_KINT]; r; r = fj_ir_at(ir, r)->prev) {
    const fj_ir_ins *k = fj_ir_at(ir, r);
    if (k->k == v && k->type == type) return r;
  }
  if (FJ_REF_BIAS - ir->klo >= FJ_IR_MAX_K)
    fj_ir_abort(ir, FJ_ABORT_K_LIMIT, "more than %u constants", FJ_IR_MAX_K);
  ir_grow(ir, 1, 0);
  fj_ref r = --ir->klo;
  fj_ir_ins *k = fj_ir_at(ir, r);
  memset(k, 0, sizeof *k);
  k->op = FJ_IR_KINT;
  k->type = (uint8_t)type;
  k->k = v;
  k->prev = ir->chain[FJ_IR_KINT];
  ir->chain[FJ_IR_KINT] = r;
  return r;
}

fj_ref fj_ir_emit_raw(fj_ir *ir, const fj_ir_ins *ins) {
  if (ir->top - FJ_REF_BIAS >= FJ_IR_MAX_INS)
    fj_ir_abort(ir, FJ_ABORT_IR_LIMIT, "more than %u IR instructions", FJ_IR_MAX_INS);
  ir_grow(ir, 0, 1);
  fj_ref r = ir->top++;
  fj_ir_ins *d = fj_ir_at(ir, r);
  *d = *ins;
  if (d->op >= FJ_IR__COUNT) fj_ir_abort(ir, FJ_ABORT_INTERNAL, "emit: bad op %u", d->op);
  d->prev = ir->chain[d->op];
  ir->chain[d->op] = r;
  if (d->op == FJ_IR_LOOP) ir->loop = r;
  return r;
}

void fj_ir_kill(fj_ir *ir, fj_ref r) {
  if (r < FJ_REF_BIAS || r >= ir->top) return;
  fj_ir_ins *d = fj_ir_at(ir, r);
  if (d->op == FJ_IR_NOP) return;
  fj_ref *link = &ir->chain[d->op];
  while (*link && *link != r) link = &fj_ir_at(ir, *link)->prev;
  if (*link == r) *link = d->prev;
  if (d->op == FJ_IR_LOOP) ir->loop = FJ_REF_NONE;
  d->op = FJ_IR_NOP;
  d->type = FJ_IRT_NONE;
  d->aux = 0;
  d->a = d->b = d->prev = FJ_REF_NONE;
  d->k = 0;
}

void fj_ir_rechain(fj_ir *ir) {
  for (unsigned op = 0; op < FJ_IR__COUNT; op++)
    if (op != FJ_IR_KINT) ir->chain[op] = FJ_REF_NONE;
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) {
    fj_ir_ins *d = fj_ir_at(ir, r);
    d->prev = ir->chain[d->op];
    ir->chain[d->op] = r;
  }
  ir->chain[FJ_IR_NOP] = FJ_REF_NONE;
}

fj_ref fj_ir_emit(fj_ir *ir, const fj_ir_ins *ins) {
  if (ir->flags & FJ_IR_NOFOLD) return fj_ir_emit_raw(ir, ins);
  return fj_fold_emit(ir, ins);
}

fj_ref fj_ir_op2(fj_ir *ir, enum fj_ir_op op, enum fj_irt t, fj_ref a, fj_ref b) {
  fj_ir_ins ins = {.op = (uint8_t)op, .type = (uint8_t)t, .a = a, .b = b};
  return fj_ir_emit(ir, &ins);
}

fj_ref fj_ir_op1(fj_ir *ir, enum fj_ir_op op, enum fj_irt t, fj_ref a, uint16_t aux) {
  fj_ir_ins ins = {.op = (uint8_t)op, .type = (uint8_t)t, .aux = aux, .a = a};
  return fj_ir_emit(ir, &ins);
}

fj_ref fj_ir_guard(fj_ir *ir, enum fj_ir_op cond, enum fj_irt t, fj_ref a, fj_ref b,
                   uint32_t snap) {
  fj_ir_ins ins = {.op = (uint8_t)cond, .type = (uint8_t)t, .a = a, .b = b};
  ins.snap = snap;
  return fj_ir_emit(ir, &ins);
}

/* ---- semantics ---------------------------------------------------------------------------- */

static uint64_t bswap_bits(uint64_t v, unsigned bits) {
  uint64_t r = 0;
  for (unsigned i = 0; i < bits / 8; i++) r = (r << 8) | ((v >> (8 * i)) & 0xff);
  return r;
}

static uint64_t sext_bits(uint64_t v, unsigned bits) {
  if (bits >= 64) return v;
  uint64_t m = 1ull << (bits - 1);
  v &= (m << 1) - 1;
  return (v ^ m) - m;
}

uint64_t fj_ir_arith(enum fj_ir_op op, enum fj_irt t, uint16_t aux, uint64_t a, uint64_t b) {
  bool w32 = t == FJ_IRT_I32;
  unsigned bits = w32 ? 32 : 64;
  if (w32) { a = (uint32_t)a; b = (uint32_t)b; }
  uint64_t r;
  switch (op) {
  case FJ_IR_ADD: r = a + b; break;
  case FJ_IR_SUB: r = a - b; break;
  case FJ_IR_MUL: r = a * b; break;
  case FJ_IR_MULHU:
    r = w32 ? (a * b) >> 32 : (uint64_t)(((unsigned __int128)a * b) >> 64);
    break;
  case FJ_IR_MULHS:
    r = w32 ? (uint64_t)(((int64_t)(int32_t)a * (int32_t)b) >> 32)
            : (uint64_t)(((__int128)(int64_t)a * (int64_t)b) >> 64);
    break;
  case FJ_IR_UDIV: r = b ? a / b : 0; break;
  case FJ_IR_UMOD: r = b ? a % b : a; break;
  case FJ_IR_SDIV:
  case FJ_IR_SMOD: {
    int64_t x = (int64_t)sext_bits(a, bits), y = (int64_t)sext_bits(b, bits);
    int64_t min = w32 ? INT32_MIN : INT64_MIN;
    if (y == 0) r = op == FJ_IR_SDIV ? 0 : a;
    else if (y == -1) r = op == FJ_IR_SDIV ? (x == min ? (uint64_t)x : (uint64_t)-x) : 0;
    else r = op == FJ_IR_SDIV ? (uint64_t)(x / y) : (uint64_t)(x % y);
    break;
  }
  case FJ_IR_AND: r = a & b; break;
  case FJ_IR_OR: r = a | b; break;
  case FJ_IR_XOR: r = a ^ b; break;
  case FJ_IR_SHL: r = a << (b & (bits - 1)); break;
  case FJ_IR_SHR: r = a >> (b & (bits - 1)); break;
  case FJ_IR_SAR: r = (uint64_t)((int64_t)sext_bits(a, bits) >> (b & (bits - 1))); break;
  case FJ_IR_NEG: r = 0 - a; break;
  case FJ_IR_ZEXT: r = aux >= 64 ? a : a & ((1ull << aux) - 1); break;
  case FJ_IR_SEXT: r = sext_bits(a, aux ? aux : 64); break;
  case FJ_IR_BSWAP: r = bswap_bits(a, aux ? aux : 64); break;
  default: r = 0; break;
  }
  return w32 ? (uint32_t)r : r;
}

bool fj_ir_cond(enum fj_ir_op cond, enum fj_irt t, uint64_t a, uint64_t b) {
  int64_t sa, sb;
  if (t == FJ_IRT_I32) {
    a = (uint32_t)a;
    b = (uint32_t)b;
    sa = (int32_t)a;
    sb = (int32_t)b;
  } else {
    sa = (int64_t)a;
    sb = (int64_t)b;
  }
  switch (cond) {
  case FJ_IR_EQ: return a == b;
  case FJ_IR_NE: return a != b;
  case FJ_IR_ULT: return a < b;
  case FJ_IR_UGE: return a >= b;
  case FJ_IR_ULE: return a <= b;
  case FJ_IR_UGT: return a > b;
  case FJ_IR_LT: return sa < sb;
  case FJ_IR_GE: return sa >= sb;
  case FJ_IR_LE: return sa <= sb;
  case FJ_IR_GT: return sa > sb;
  case FJ_IR_TEST: return (a & b) != 0;
  case FJ_IR_NTEST: return (a & b) == 0;
  default: return false;
  }
}

enum fj_ir_op fj_ir_cond_invert(enum fj_ir_op c) {
  switch (c) {
  case FJ_IR_EQ: return FJ_IR_NE;
  case FJ_IR_NE: return FJ_IR_EQ;
  case FJ_IR_ULT: return FJ_IR_UGE;
  case FJ_IR_UGE: return FJ_IR_ULT;
  case FJ_IR_ULE: return FJ_IR_UGT;
  case FJ_IR_UGT: return FJ_IR_ULE;
  case FJ_IR_LT: return FJ_IR_GE;
  case FJ_IR_GE: return FJ_IR_LT;
  case FJ_IR_LE: return FJ_IR_GT;
  case FJ_IR_GT: return FJ_IR_LE;
  case FJ_IR_TEST: return FJ_IR_NTEST;
  case FJ_IR_NTEST: return FJ_IR_TEST;
  default: return c;
  }
}

enum fj_ir_op fj_ir_cond_swap(enum fj_ir_op c) {
  switch (c) {
  case FJ_IR_ULT: return FJ_IR_UGT;
  case FJ_IR_UGT: return FJ_IR_ULT;
  case FJ_IR_ULE: return FJ_IR_UGE;
  case FJ_IR_UGE: return FJ_IR_ULE;
  case FJ_IR_LT: return FJ_IR_GT;
  case FJ_IR_GT: return FJ_IR_LT;
  case FJ_IR_LE: return FJ_IR_GE;
  case FJ_IR_GE: return FJ_IR_LE;
  default: return c;
  }
}

/* ---- analysis ----------------------------------------------------------------------------- */

typedef struct { const fj_ir *ir; uint32_t *uses; } use_ctx;

static void count_ref(void *ud, fj_ref *r) {
  use_ctx *c = ud;
  if (*r >= FJ_REF_BIAS && *r < c->ir->top) c->uses[*r - FJ_REF_BIAS]++;
}

void fj_ir_use_counts(const fj_ir *ir, uint32_t *uses, bool snap_uses) {
  uint32_t n = fj_ir_nins(ir);
  memset(uses, 0, (size_t)n * sizeof *uses);
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) {
    const fj_ir_ins *ins = fj_ir_at(ir, r);
    if (ins->op == FJ_IR_NOP) continue;
    if (ins->a >= FJ_REF_BIAS && ins->a < ir->top) uses[ins->a - FJ_REF_BIAS]++;
    if (ins->b >= FJ_REF_BIAS && ins->b < ir->top) uses[ins->b - FJ_REF_BIAS]++;
  }
  if (!snap_uses) return;
  use_ctx c = {ir, uses};
  for (uint32_t i = 0; i < ir->nsnaps; i++) fj_snap_foreach_ref((fj_ir *)ir, i, count_ref, &c);
}

/* ---- verification ------------------------------------------------------------------------- */

typedef struct vctx {
  const fj_ir *ir;
  fj_ref before;   /* refs must be below this */
  bool bad;
  fj_ref what;
} vctx;

static bool ref_ok(const fj_ir *ir, fj_ref x, fj_ref before) {
  if (fj_ir_is_k(x)) return x >= ir->klo && fj_ir_at(ir, x)->op == FJ_IR_KINT;
  return x >= FJ_REF_BIAS && x < before && x < ir->top && fj_ir_at(ir, x)->op != FJ_IR_NOP;
}

static void snap_ref_ok(void *ud, fj_ref *r) {
  vctx *c = ud;
  if (!c->bad && !ref_ok(c->ir, *r, c->before)) {
    c->bad = true;
    c->what = *r;
  }
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int vfail(char *msg, size_t cap, const char *fmt, ...) {
  if (cap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
  }
  return -1;
}

int fj_ir_verify(const fj_ir *ir, char *msg, size_t cap) {
  if (cap) msg[0] = 0;
  bool seen_loop = false, seen_phi = false;
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) {
    const fj_ir_ins *i = fj_ir_at(ir, r);
    unsigned id = r - FJ_REF_BIAS;
    if (i->op >= FJ_IR__COUNT || i->op == FJ_IR_KINT) return vfail(msg, cap, "ir %04u: bad op", id);
    if (i->op == FJ_IR_NOP) continue;
    const fj_ir_op_info *o = &fj_ir_op_table[i->op];
    if (seen_phi && i->op != FJ_IR_PHI) return vfail(msg, cap, "ir %04u: after a PHI", id);
    if (i->op == FJ_IR_LOOP) {
      if (seen_loop || ir->loop != r) return vfail(msg, cap, "ir %04u: stray LOOP", id);
      seen_loop = true;
    }
    if (i->op == FJ_IR_PHI) {
      if (!seen_loop) return vfail(msg, cap, "ir %04u: PHI without LOOP", id);
      seen_phi = true;
      if (!ref_ok(ir, i->a, ir->loop) || fj_ir_is_k(i->a) || !ref_ok(ir, i->b, r))
        return vfail(msg, cap, "ir %04u: bad PHI operands", id);
      continue;
    }
    fj_ref ops[2] = {i->a, i->b};
    uint8_t modes[2] = {o->mode_a, o->mode_b};
    for (int k = 0; k < 2; k++) {
      if (modes[k] == FJ_IRM_R && !ref_ok(ir, ops[k], r))
        return vfail(msg, cap, "ir %04u: %s operand %c is not an earlier value", id, o->name,
                     k ? 'b' : 'a');
      if (modes[k] == FJ_IRM_N && ops[k] != FJ_REF_NONE)
        return vfail(msg, cap, "ir %04u: %s has an unused operand set", id, o->name);
    }
    if (i->op == FJ_IR_CMPXCHG && fj_ir_at(ir, i->b)->op != FJ_IR_PAIR)
      return vfail(msg, cap, "ir %04u: CMPXCHG without PAIR", id);
    bool valued = (o->flags & (FJ_IRF_PURE | FJ_IRF_LOAD | FJ_IRF_CALL)) != 0 ||
                  i->op == FJ_IR_ATOMIC || i->op == FJ_IR_CMPXCHG;
    bool typed = valued || fj_ir_is_guard(i->op);
    if (typed && i->type != FJ_IRT_I32 && i->type != FJ_IRT_I64)
      return vfail(msg, cap, "ir %04u: %s without a type", id, o->name);
    if (fj_ir_has_snap(i->op)) {
      if (i->snap >= ir->nsnaps) return vfail(msg, cap, "ir %04u: snapshot %u out of range", id, i->snap);
      vctx c = {ir, ir->top, false, 0};
      fj_snap_foreach_ref((fj_ir *)ir, i->snap, snap_ref_ok, &c);
      if (c.bad)
        return vfail(msg, cap, "ir %04u: snapshot %u names a dead or bad ref %u", id, i->snap,
                     c.what);
    }
  }
  if (seen_loop != (ir->loop != FJ_REF_NONE)) return vfail(msg, cap, "loop marker mismatch");
  for (fj_ref k = ir->klo; k < FJ_REF_BIAS; k++) {
    const fj_ir_ins *i = fj_ir_at(ir, k);
    if (i->op != FJ_IR_KINT || (i->type == FJ_IRT_I32 && i->k > 0xffffffffu))
      return vfail(msg, cap, "constant %u malformed", k);
  }
  return 0;
}

/* ---- printing ----------------------------------------------------------------------------- */

void fj_sbuf_printf(fj_sbuf *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t room = s->len < s->cap ? s->cap - s->len : 0;
  int n = vsnprintf(room ? s->buf + s->len : NULL, room, fmt, ap);
  va_end(ap);
  if (n > 0) s->len += (size_t)n;
}

void fj_sbuf_ref(fj_sbuf *s, const fj_ir *ir, fj_ref r) {
  if (r == FJ_REF_NONE) fj_sbuf_printf(s, "-");
  else if (fj_ir_is_k(r)) {
    uint64_t v = fj_ir_kval(ir, r);
    if (v < 0x10000) fj_sbuf_printf(s, "#%llu", (unsigned long long)v);
    else if (v >= (uint64_t)-0x10000) fj_sbuf_printf(s, "#-%llu", (unsigned long long)(0 - v));
    else fj_sbuf_printf(s, "#0x%llx", (unsigned long long)v);
  } else fj_sbuf_printf(s, "%04u", r - FJ_REF_BIAS);
}

static const char *state_name(int32_t off) {
  static const char *const rn[FJ_NREGS] = {"r0", "r1", "r2", "r3", "r4", "r5",
                                           "r6", "r7", "r8", "r9", "r10"};
  if (off >= 0 && off < 8 * FJ_NREGS && off % 8 == 0) return rn[off / 8];
  switch (off) {
  case 88: return "regions";
  case 96: return "vm";
  case 104: return "budget";
  case 140: return "nregions";
  default: return NULL;
  }
}

static void format_ins(fj_sbuf *s, const fj_ir *ir, fj_ref r) {
  const fj_ir_ins *ins = fj_ir_at(ir, r);
  const char *ty = ins->type == FJ_IRT_I64 ? "i64" : ins->type == FJ_IRT_I32 ? "i32" : "   ";
  bool g = fj_ir_is_guard(ins->op);
  fj_sbuf_ref(s, ir, r);
  fj_sbuf_printf(s, " %s %s %-7s", g ? ">" : " ", ty, fj_ir_op_name(ins->op));
  switch (ins->op) {
  case FJ_IR_KINT: fj_sbuf_ref(s, ir, r); break;
  case FJ_IR_RIN:
    if (ins->lit == FJ_RIN_BUDGET) fj_sbuf_printf(s, "budget");
    else fj_sbuf_printf(s, "r%d", ins->lit);
    break;
  case FJ_IR_SLD: {
    const char *n = state_name(ins->lit);
    if (n) fj_sbuf_printf(s, "%s", n);
    else fj_sbuf_printf(s, "+%d", ins->lit);
    break;
  }
  case FJ_IR_HLD: fj_sbuf_ref(s, ir, ins->a); fj_sbuf_printf(s, " +%d", ins->lit); break;
  case FJ_IR_LOAD:
  case FJ_IR_STORE:
  case FJ_IR_ATOMIC:
  case FJ_IR_CMPXCHG:
    fj_sbuf_ref(s, ir, ins->a);
    if (ins->op != FJ_IR_LOAD) { fj_sbuf_printf(s, " "); fj_sbuf_ref(s, ir, ins->b); }
    fj_sbuf_printf(s, " %s%u reg%u", (ins->aux & FJ_MEM_SIGNED) ? "s" : "w", fj_mem_width(ins->aux),
              fj_mem_region(ins->aux));
    if (ins->op == FJ_IR_ATOMIC) fj_sbuf_printf(s, " op%d", ins->lit);
    break;
  case FJ_IR_SLOAD:
  case FJ_IR_SSTORE:
    fj_sbuf_printf(s, "[%d]", ins->lit);
    if (ins->op == FJ_IR_SSTORE) { fj_sbuf_printf(s, " "); fj_sbuf_ref(s, ir, ins->b); }
    fj_sbuf_printf(s, " %s%u", (ins->aux & FJ_MEM_SIGNED) ? "s" : "w", fj_mem_width(ins->aux));
    break;
  case FJ_IR_ZEXT:
  case FJ_IR_SEXT:
  case FJ_IR_BSWAP:
    fj_sbuf_ref(s, ir, ins->a);
    fj_sbuf_printf(s, " %u", ins->aux);
    break;
  case FJ_IR_CALL: fj_sbuf_printf(s, "helper %d", ins->lit); break;
  case FJ_IR_CALLL: fj_sbuf_printf(s, "pc %d", ins->lit); break;
  case FJ_IR_EXIT: fj_sbuf_printf(s, "kind %u", ins->aux); break;
  case FJ_IR_NOP:
  case FJ_IR_LOOP: break;
  default:
    if (fj_ir_op_table[ins->op].mode_a == FJ_IRM_R) fj_sbuf_ref(s, ir, ins->a);
    if (fj_ir_op_table[ins->op].mode_b == FJ_IRM_R) {
      fj_sbuf_printf(s, " ");
      fj_sbuf_ref(s, ir, ins->b);
    }
    break;
  }
  if (fj_ir_has_snap(ins->op)) fj_sbuf_printf(s, "  snap %u", ins->snap);
}

size_t fj_ir_format(const fj_ir *ir, fj_ref r, char *buf, size_t cap) {
  fj_sbuf s = {buf, cap, 0};
  if (cap) buf[0] = 0;
  format_ins(&s, ir, r);
  return s.len;
}

size_t fj_ir_print(const fj_ir *ir, char *buf, size_t cap, bool with_snaps) {
  fj_sbuf s = {buf, cap, 0};
  if (cap) buf[0] = 0;
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) {
    if (fj_ir_at(ir, r)->op == FJ_IR_NOP) continue;
    format_ins(&s, ir, r);
    fj_sbuf_printf(&s, "\n");
  }
  if (with_snaps) {
    for (uint32_t i = 0; i < ir->nsnaps; i++) {
      size_t room = s.len < s.cap ? s.cap - s.len : 0;
      s.len += fj_snap_format(ir, i, room ? s.buf + s.len : NULL, room);
      fj_sbuf_printf(&s, "\n");
    }
  }
  return s.len;
}

char *fj_ir_dump(const fj_ir *ir, bool with_snaps) {
  size_t n = fj_ir_print(ir, NULL, 0, with_snaps);
  char *p = malloc(n + 1);
  if (p) fj_ir_print(ir, p, n + 1, with_snaps);
  return p;
}
