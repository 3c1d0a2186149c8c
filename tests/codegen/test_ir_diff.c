/* Differential test of the front half at IR level: random eBPF programs are run by a reference
 * stepper (written here from RFC 9669 and the interpreter's rules, independently of
 * fj_ir_arith), which also records the trace; the trace is compiled to IR (folded + optimized,
 * and raw) and the IR is *evaluated* (an IR interpreter below, exit stubs included) from the
 * same and from perturbed initial states and budgets.  Wherever the IR leaves, the reference
 * runs exactly as many instructions from the same state; registers, pc, frames, memory and the
 * remaining budget must all agree.  This checks folding, forwarding, dead stores, LOOP/PHIs,
 * snapshots and the exact budget, without any backend. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codegen/ir.h"
#include "codegen/opt.h"
#include "codegen/snap.h"
#include "farjit/jit.h"
#include "farjit/vm.h"
#include "tests/codegen/cg_util.h"

/* ---- the machine ----------------------------------------------------------------------------- */

enum { MEM_SIZE = 256, RO_SIZE = 64, STACK_BYTES = FJ_MAX_CALL_DEPTH * FJ_STACK_SIZE, NREG = 3 };

typedef struct machine {
  uint8_t stack[STACK_BYTES];
  uint8_t mem[MEM_SIZE];
  uint8_t ro[RO_SIZE];
  fj_region regions[NREG];
} machine;

static void machine_init(machine *m) {
  m->regions[0] = (fj_region){(uint64_t)(uintptr_t)m->stack, STACK_BYTES,
                              FJ_REGION_READ | FJ_REGION_WRITE, 0};
  m->regions[1] = (fj_region){(uint64_t)(uintptr_t)m->mem, MEM_SIZE,
                              FJ_REGION_READ | FJ_REGION_WRITE, 0};
  m->regions[2] = (fj_region){(uint64_t)(uintptr_t)m->ro, RO_SIZE, FJ_REGION_READ, 0};
}

static uint64_t frame_top(machine *m, unsigned depth) {
  return (uint64_t)(uintptr_t)m->stack + (uint64_t)(FJ_MAX_CALL_DEPTH - depth) * FJ_STACK_SIZE;
}

static uint64_t helper(uint32_t id, const uint64_t *r) {
  if (id == 5) return r[1] * 3 + r[2];
  return 42;
}

/* ---- reference stepper ------------------------------------------------------------------------ */

typedef struct ref {
  uint64_t r[FJ_NREGS];
  uint32_t pc, depth;
  fj_jit_frame frames[FJ_MAX_CALL_DEPTH];
} ref;

enum { STEP_OK, STEP_EXIT, STEP_ERR };

/* Region index holding [a, a + n) with permission, or -1 (the interpreter's rule). */
static int region_of(machine *m, uint64_t a, uint64_t n, bool write) {
  for (int i = 0; i < NREG; i++) {
    const fj_region *g = &m->regions[i];
    uint32_t need = write ? FJ_REGION_WRITE : FJ_REGION_READ;
    if ((g->flags & need) && a - g->base < g->size && g->size - (a - g->base) >= n) return i;
  }
  return -1;
}

static uint64_t rd(uint64_t a, unsigned n) {
  uint64_t v = 0;
  memcpy(&v, (const void *)(uintptr_t)a, n);
  return v;
}
static void wr(uint64_t a, unsigned n, uint64_t v) { memcpy((void *)(uintptr_t)a, &v, n); }

static int64_t sx(uint64_t v, unsigned bits) {
  if (bits == 64) return (int64_t)v;
  uint64_t m = 1ull << (bits - 1);
  v &= (m << 1) - 1;
  return (int64_t)((v ^ m) - m);
}

static uint64_t sdiv(uint64_t a, uint64_t b, unsigned bits, bool mod) {
  int64_t x = sx(a, bits), y = sx(b, bits);
  if (y == 0) return mod ? a : 0;
  if (y == -1) return mod ? 0 : (uint64_t)0 - (uint64_t)x;
  return mod ? (uint64_t)(x % y) : (uint64_t)(x / y);
}

static uint64_t swap(uint64_t v, unsigned bits) {
  uint64_t r = 0;
  for (unsigned i = 0; i < bits / 8; i++) r = r << 8 | ((v >> (8 * i)) & 0xff);
  return r;
}

/* One instruction.  *taken / *region report what the recorder needs. */
static int step(machine *m, ref *s, const fj_insn *prog, bool *taken, int *region, uint32_t *aux) {
  fj_insn in = prog[s->pc];
  enum fj_op op = fj_op_decode(in);
  unsigned dst = fj_insn_dst(in), src = fj_insn_src(in), cls = in.code & 7;
  uint64_t *r = s->r;
  uint32_t next = s->pc + 1;
  *taken = false;
  *region = -1;
  *aux = 0;
  if (op == FJ_OP_INVALID) return STEP_ERR;
  uint8_t fmt = fj_op_table[op].fmt;
  switch (fmt) {
  case FJ_FMT_ALU_IMM:
  case FJ_FMT_ALU_REG:
  case FJ_FMT_ALU_UNARY: {
    bool is64 = cls == FJ_CLS_ALU64;
    unsigned bits = is64 ? 64 : 32;
    uint64_t mask = is64 ? ~0ull : 0xffffffffu;
    uint64_t d = r[dst] & mask;
    uint64_t v = (fmt == FJ_FMT_ALU_REG ? r[src] : (uint64_t)(int64_t)in.imm) & mask;
    uint64_t res;
    switch (op) {
    case FJ_OP_MOVSX8_64: res = (uint64_t)sx(r[src], 8); break;
    case FJ_OP_MOVSX16_64: res = (uint64_t)sx(r[src], 16); break;
    case FJ_OP_MOVSX32_64: res = (uint64_t)sx(r[src], 32); break;
    case FJ_OP_MOVSX8_32: res = (uint64_t)sx(r[src], 8) & 0xffffffffu; break;
    case FJ_OP_MOVSX16_32: res = (uint64_t)sx(r[src], 16) & 0xffffffffu; break;
    case FJ_OP_NEG64: case FJ_OP_NEG32: res = 0 - d; break;
    default:
      switch (in.code & 0xf0) {
      case 0x00: res = d + v; break;
      case 0x10: res = d - v; break;
      case 0x20: res = d * v; break;
      case 0x30: res = in.off ? sdiv(d, v, bits, false) : (v ? d / v : 0); break;
      case 0x40: res = d | v; break;
      case 0x50: res = d & v; break;
      case 0x60: res = d << (v & (bits - 1)); break;
      case 0x70: res = d >> (v & (bits - 1)); break;
      case 0x90: res = in.off ? sdiv(d, v, bits, true) : (v ? d % v : d); break;
      case 0xa0: res = d ^ v; break;
      case 0xb0: res = v; break;
      case 0xc0: res = (uint64_t)(sx(d, bits) >> (v & (bits - 1))); break;
      default: return STEP_ERR;
      }
    }
    r[dst] = res & mask;
    break;
  }
  case FJ_FMT_END: {
    unsigned bits = (unsigned)in.imm;
    if (op >= FJ_OP_LE16 && op <= FJ_OP_LE64) r[dst] = bits == 64 ? r[dst] : r[dst] & ((1ull << bits) - 1);
    else r[dst] = swap(r[dst], bits);
    break;
  }
  case FJ_FMT_JA: next = (uint32_t)((int64_t)s->pc + 1 + in.off); break;
  case FJ_FMT_JCOND_IMM:
  case FJ_FMT_JCOND_REG: {
    bool is64 = cls == FJ_CLS_JMP;
    unsigned bits = is64 ? 64 : 32;
    uint64_t mask = is64 ? ~0ull : 0xffffffffu;
    uint64_t a = r[dst] & mask;
    uint64_t b = (fmt == FJ_FMT_JCOND_REG ? r[src] : (uint64_t)(int64_t)in.imm) & mask;
    int64_t sa = sx(a, bits), sb = sx(b, bits);
    bool t;
    switch (in.code & 0xf0) {
    case 0x10: t = a == b; break;
    case 0x20: t = a > b; break;
    case 0x30: t = a >= b; break;
    case 0x40: t = (a & b) != 0; break;
    case 0x50: t = a != b; break;
    case 0x60: t = sa > sb; break;
    case 0x70: t = sa >= sb; break;
    case 0xa0: t = a < b; break;
    case 0xb0: t = a <= b; break;
    case 0xc0: t = sa < sb; break;
    case 0xd0: t = sa <= sb; break;
    default: return STEP_ERR;
    }
    *taken = t;
    if (t) next = (uint32_t)((int64_t)s->pc + 1 + in.off);
    break;
  }
  case FJ_FMT_LDDW:
    r[dst] = (uint32_t)in.imm | (uint64_t)(uint32_t)prog[s->pc + 1].imm << 32;
    *aux = (uint32_t)prog[s->pc + 1].imm;
    next = s->pc + 2;
    break;
  case FJ_FMT_LDX: {
    unsigned n = fj_code_size_bytes(in.code);
    uint64_t a = r[src] + (uint64_t)(int64_t)in.off;
    int g = region_of(m, a, n, false);
    if (g < 0) return STEP_ERR;
    *region = g;
    uint64_t v = rd(a, n);
    r[dst] = (in.code & 0xe0) == FJ_MODE_MEMSX ? (uint64_t)sx(v, 8 * n) : v;
    break;
  }
  case FJ_FMT_ST:
  case FJ_FMT_STX: {
    unsigned n = fj_code_size_bytes(in.code);
    uint64_t a = r[dst] + (uint64_t)(int64_t)in.off;
    int g = region_of(m, a, n, true);
    if (g < 0) return STEP_ERR;
    *region = g;
    wr(a, n, fmt == FJ_FMT_ST ? (uint64_t)(int64_t)in.imm : r[src]);
    break;
  }
  case FJ_FMT_ATOMIC: {
    unsigned n = fj_code_size_bytes(in.code);
    uint64_t a = r[dst] + (uint64_t)(int64_t)in.off;
    int g = region_of(m, a, n, true);
    if (g < 0 || (a & (n - 1))) return STEP_ERR;
    *region = g;
    uint64_t mask = n == 8 ? ~0ull : 0xffffffffu, old = rd(a, n), v = r[src] & mask;
    int32_t k = in.imm;
    if (k == 0xf1) {
      if (old == (r[0] & mask)) wr(a, n, v);
      r[0] = old;
      break;
    }
    uint64_t nv;
    switch (k & ~1) {
    case 0x00: nv = old + v; break;
    case 0x40: nv = old | v; break;
    case 0x50: nv = old & v; break;
    case 0xa0: nv = old ^ v; break;
    default: nv = v; break;  /* xchg */
    }
    wr(a, n, nv & mask);
    if (k & 1) r[src] = old;
    break;
  }
  case FJ_FMT_CALL:
    *aux = (uint32_t)in.imm;
    r[0] = helper((uint32_t)in.imm, r);
    break;
  case FJ_FMT_CALLX:
    if (r[dst] != 5 && r[dst] != 7) return STEP_ERR;  /* unknown helper */
    *aux = (uint32_t)r[dst];
    r[0] = helper((uint32_t)r[dst], r);
    break;
  case FJ_FMT_CALL_LOCAL: {
    if (s->depth + 1 >= FJ_MAX_CALL_DEPTH) return STEP_ERR;
    fj_jit_frame *f = &s->frames[s->depth];
    f->ret_pc = s->pc + 1;
    memcpy(f->saved, &r[6], sizeof f->saved);
    f->fp = r[10];
    s->depth++;
    r[10] = frame_top(m, s->depth);
    next = (uint32_t)((int64_t)s->pc + 1 + in.imm);
    *aux = next;
    break;
  }
  case FJ_FMT_EXIT:
    if (s->depth == 0) return STEP_EXIT;
    s->depth--;
    memcpy(&r[6], s->frames[s->depth].saved, sizeof s->frames[s->depth].saved);
    r[10] = s->frames[s->depth].fp;
    next = s->frames[s->depth].ret_pc;
    break;
  default:
    return STEP_ERR;
  }
  s->pc = next;
  return STEP_OK;
}

/* Record from s (which advances) like the client's recorder; returns malloc'd trace bytes. */
static uint8_t *record(machine *m, ref *s, const fj_insn *prog, uint32_t n, size_t *len) {
  enum { MAXR = 300 };
  fj_trace_rec recs[MAXR];
  uint32_t nr = 0, start = s->pc, end_pc = start;
  uint16_t end = FJ_TRACE_END_STOP;
  const ref entry = *s;
  while (nr < MAXR) {
    fj_trace_rec rc;
    memset(&rc, 0, sizeof rc);
    rc.insn = prog[s->pc];
    rc.pc = s->pc;
    rc.depth = (uint8_t)s->depth;
    ref before = *s;
    bool taken;
    int region;
    uint32_t aux;
    int st = step(m, s, prog, &taken, &region, &aux);
    if (st == STEP_ERR) { *s = before; end_pc = s->pc; break; }
    rc.aux = aux;
    if (taken) rc.flags = FJ_REC_TAKEN;
    if (region >= 0) rc.region = (uint8_t)region;
    recs[nr++] = rc;
    if (st == STEP_EXIT) { end_pc = rc.pc; break; }
    end_pc = s->pc;
    if (s->depth == 0 && s->pc == start) { end = FJ_TRACE_END_LOOP; break; }
  }
  if (nr == 0) return NULL;
  fj_trace_header h = {.magic = FJ_TRACE_MAGIC, .version = FJ_TRACE_VERSION,
                       .kind = FJ_TRACE_LOOP, .start_pc = start, .nrecs = nr, .end = end,
                       .end_pc = end_pc, .prog_ninsns = n, .nregions = NREG};
  for (unsigned k = 0; k < FJ_NREGS; k++)  /* as the client's recorder (entry speculation) */
    if (entry.r[k] >> 32 == 0) h.entry_narrow |= 1u << k;
  *len = fj_trace_size(nr);
  uint8_t *b = malloc(*len);
  memcpy(b, &h, sizeof h);
  memcpy(b + sizeof h, recs, nr * sizeof *recs);
  return b;
}

/* ---- IR evaluator ------------------------------------------------------------------------------ */

typedef struct eval {
  const fj_ir *ir;
  uint64_t *v;       /* value of each instruction */
  fj_jit_state *st;
  uint64_t entry[16];
} eval;

static uint64_t val(eval *e, fj_ref r) {
  if (fj_ir_is_k(r)) return fj_ir_kval(e->ir, r);
  return e->v[r - FJ_REF_BIAS];
}

/* The exit stub: write the snapshot's state into st and memory. */
static void apply_snap(eval *e, uint32_t sn) {
  const fj_ir *ir = e->ir;
  const fj_snap *s = fj_snap_get(ir, sn);
  const fj_snap_frame *f = fj_snap_frames(ir, s);
  for (uint32_t k = 0; k < s->nframes; k++) {
    e->st->frames[k].ret_pc = f[k].ret_pc;
    for (unsigned j = 0; j < 4; j++) e->st->frames[k].saved[j] = val(e, f[k].saved[j]);
    e->st->frames[k].fp = val(e, f[k].fp);
  }
  e->st->nframes = s->nframes;
  const fj_snap_slot *sl = fj_snap_slots(ir, s);
  for (uint32_t k = 0; k < s->nslots; k++)
    wr(val(e, ir->fp0) + (uint64_t)(int64_t)sl[k].off, sl[k].width, val(e, sl[k].ref));
  for (unsigned k = 0; k < FJ_NREGS; k++)
    if (s->regs[k]) e->st->r[k] = val(e, s->regs[k]);
  e->st->budget = (int64_t)(val(e, s->budget) + (uint64_t)(int64_t)s->budget_adj);
}

/* Run the IR; returns the exit pc (nframes in st). */
static uint32_t ir_run(const fj_ir *ir, fj_jit_state *st) {
  eval e = {ir, calloc(fj_ir_nins(ir) + 1, sizeof(uint64_t)), st, {0}};
  memcpy(e.entry, st->r, sizeof st->r);
  e.entry[FJ_RIN_BUDGET] = (uint64_t)st->budget;
  fj_ref r = FJ_REF_BIAS;
  uint32_t pc = UINT32_MAX;
  for (unsigned long steps = 0; steps < 10000000ul; steps++) {
    if (r >= ir->top || fj_ir_at(ir, r)->op == FJ_IR_PHI) {
      if (ir->loop == FJ_REF_NONE) {
        /* an unlooped loop trace leaves through its loop snapshot */
        if (ir->end != FJ_TRACE_END_LOOP) fail_msg("IR fell off its end");
        apply_snap(&e, ir->loop_snap);
        pc = fj_snap_get(ir, ir->loop_snap)->pc;
        goto done;
      }
      /* back edge: all PHIs at once */
      uint64_t nv[256];
      unsigned np = 0;
      for (fj_ref q = r; q < ir->top; q++) {
        const fj_ir_ins *i = fj_ir_at(ir, q);
        if (i->op == FJ_IR_PHI) nv[np++] = val(&e, i->b);
        if (np == 256) fail_msg("too many PHIs");
      }
      np = 0;
      for (fj_ref q = r; q < ir->top; q++) {
        const fj_ir_ins *i = fj_ir_at(ir, q);
        if (i->op == FJ_IR_PHI) e.v[i->a - FJ_REF_BIAS] = nv[np++];
      }
      r = ir->loop + 1;
      continue;
    }
    const fj_ir_ins *i = fj_ir_at(ir, r);
    uint64_t a = i->a ? val(&e, i->a) : 0, b = i->b ? val(&e, i->b) : 0, res = 0;
    unsigned w = fj_mem_width(i->aux);
    switch (i->op) {
    case FJ_IR_NOP: case FJ_IR_LOOP: case FJ_IR_PAIR: break;
    case FJ_IR_RIN: res = e.entry[i->lit & 15]; break;
    case FJ_IR_SLD: res = rd((uint64_t)(uintptr_t)st + (uint64_t)i->lit, i->aux); break;
    case FJ_IR_HLD: res = rd(a + (uint64_t)i->lit, i->aux); break;
    case FJ_IR_LOAD: case FJ_IR_SLOAD: {
      uint64_t addr = i->op == FJ_IR_LOAD ? a : a + (uint64_t)(int64_t)i->lit;
      res = rd(addr, w);
      if (i->aux & FJ_MEM_SIGNED) res = (uint64_t)sx(res, 8 * w);
      break;
    }
    case FJ_IR_STORE: wr(a, w, b); break;
    case FJ_IR_SSTORE: wr(a + (uint64_t)(int64_t)i->lit, w, b); break;
    case FJ_IR_ATOMIC: {
      uint64_t mask = w == 8 ? ~0ull : 0xffffffffu, old = rd(a, w), nv;
      switch (i->lit & ~1) {
      case 0x00: nv = old + b; break;
      case 0x40: nv = old | b; break;
      case 0x50: nv = old & b; break;
      case 0xa0: nv = old ^ b; break;
      default: nv = b; break;
      }
      wr(a, w, nv & mask);
      res = old;
      break;
    }
    case FJ_IR_CMPXCHG: {
      const fj_ir_ins *p = fj_ir_at(ir, i->b);
      uint64_t mask = w == 8 ? ~0ull : 0xffffffffu, old = rd(a, w);
      if (old == (val(&e, p->b) & mask)) wr(a, w, val(&e, p->a));
      res = old;
      break;
    }
    case FJ_IR_CALL:
      apply_snap(&e, i->snap);
      res = helper((uint32_t)i->lit, st->r);
      break;
    case FJ_IR_EXIT:
      apply_snap(&e, i->snap);
      pc = fj_snap_get(ir, i->snap)->pc;
      goto done;
    default:
      if (fj_ir_is_guard(i->op)) {
        if (!fj_ir_cond((enum fj_ir_op)i->op, (enum fj_irt)i->type, a, b)) {
          apply_snap(&e, i->snap);
          pc = fj_snap_get(ir, i->snap)->pc;
          goto done;
        }
      } else if (fj_ir_op_table[i->op].flags & FJ_IRF_PURE) {
        res = fj_ir_arith((enum fj_ir_op)i->op, (enum fj_irt)i->type, i->aux, a, b);
      } else {
        fail_msg("eval: unexpected %s", fj_ir_op_name(i->op));
      }
      break;
    }
    if (i->type == FJ_IRT_I32 && (res >> 32)) fail_msg("ref %04u: I32 value %#llx", r - FJ_REF_BIAS,
                                                      (unsigned long long)res);
    e.v[r - FJ_REF_BIAS] = res;
    r++;
  }
  fail_msg("IR evaluation did not terminate");
done:
  free(e.v);
  return pc;
}

/* ---- random programs --------------------------------------------------------------------------- */

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static uint32_t pick(uint32_t n) { return (uint32_t)(rnd() % n); }

static int32_t rimm(void) {
  static const int32_t sp[] = {0, 1, -1, 2, 3, 7, 10, 31, 32, 63, 64, 100, 0x7fffffff,
                               INT32_MIN, 0xffff, 1000000007, -3, -7};
  if (pick(3)) return sp[pick(sizeof sp / sizeof sp[0])];
  return (int32_t)rnd();
}

/* Registers the body may write: not r1 (mem), r8 (read-only data), r9 (loop counter), r10. */
static unsigned rdst(void) {
  static const unsigned d[] = {0, 2, 3, 4, 5, 6, 7};
  return d[pick(7)];
}

static fj_insn I(uint8_t code, unsigned dst, unsigned src, int16_t off, int32_t imm) {
  return fj_insn_make(code, dst, src, off, imm);
}

/* Body of nb instructions, then the loop tail and a function.  Returns the length. */
static uint32_t gen(fj_insn *p, uint32_t nb, bool with_fn) {
  static const uint8_t alu[] = {0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0,
                                0xb0, 0xc0};
  static const uint8_t jmp[] = {0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0};
  static const uint8_t ldsz[] = {FJ_SIZE_B, FJ_SIZE_H, FJ_SIZE_W, FJ_SIZE_DW};
  uint32_t tail = nb, fn = nb + 3;
  for (uint32_t pc = 0; pc < nb; pc++) {
    unsigned kind = pick(100);
    unsigned d = rdst(), s = pick(11);
    if (kind < 40) {
      uint8_t cls = pick(2) ? FJ_CLS_ALU64 : FJ_CLS_ALU;
      uint8_t o = alu[pick(sizeof alu)];
      bool reg = pick(2);
      int16_t off = ((o == 0x30 || o == 0x90) && pick(2)) ? 1 : 0;
      p[pc] = I((uint8_t)(cls | o | (reg ? FJ_SRC_X : 0)), d, reg ? s : 0, off, rimm());
    } else if (kind < 45) {
      static const struct { uint8_t code; int16_t off; int32_t imm; } u[] = {
          {0x87, 0, 0}, {0x84, 0, 0}, {0xbf, 8, 0}, {0xbf, 16, 0}, {0xbf, 32, 0}, {0xbc, 8, 0},
          {0xbc, 16, 0}, {0xd4, 0, 16}, {0xd4, 0, 32}, {0xd4, 0, 64}, {0xdc, 0, 16},
          {0xdc, 0, 32}, {0xdc, 0, 64}, {0xd7, 0, 16}, {0xd7, 0, 32}, {0xd7, 0, 64}};
      unsigned k = pick(sizeof u / sizeof u[0]);
      p[pc] = I(u[k].code, d, s, u[k].off, u[k].imm);
    } else if (kind < 58) {
      /* load from mem, read-only data or the stack */
      unsigned which = pick(3), sz = pick(4);
      bool sign = sz != 3 && pick(4) == 0;
      uint8_t code = (uint8_t)(FJ_CLS_LDX | ldsz[sz] | (sign ? FJ_MODE_MEMSX : FJ_MODE_MEM));
      int16_t off = which == 0 ? (int16_t)pick(MEM_SIZE - 4)
                    : which == 1 ? (int16_t)pick(RO_SIZE)
                                 : (int16_t)(-8 * (1 + (int)pick(8)));
      p[pc] = I(code, d, which == 0 ? 1 : which == 1 ? 8 : 10, off, 0);
    } else if (kind < 70) {
      unsigned which = pick(3), sz = pick(4);
      bool imm = pick(3) == 0;
      uint8_t code = (uint8_t)((imm ? FJ_CLS_ST : FJ_CLS_STX) | ldsz[sz] | FJ_MODE_MEM);
      int16_t off = which == 0 ? (int16_t)pick(MEM_SIZE - 4)
                    : which == 1 ? (int16_t)pick(RO_SIZE)  /* read-only: fails */
                                 : (int16_t)(-8 * (1 + (int)pick(8)) + (pick(4) == 0 ? 4 : 0));
      p[pc] = I(code, which == 0 ? 1 : which == 1 ? 8 : 10, s, off, rimm());
    } else if (kind < 74) {
      static const int32_t ops[] = {0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1};
      bool w64 = pick(2);
      int16_t off = (int16_t)(pick(MEM_SIZE / 8) * 8 + (pick(6) == 0 ? 4 : 0));
      p[pc] = I(w64 ? 0xdb : 0xc3, 1, rdst(), off, ops[pick(10)]);
    } else if (kind < 88) {
      uint8_t cls = pick(2) ? FJ_CLS_JMP : FJ_CLS_JMP32;
      bool reg = pick(2);
      uint32_t target = pc + 1 + pick(tail - pc);
      p[pc] = I((uint8_t)(cls | jmp[pick(sizeof jmp)] | (reg ? FJ_SRC_X : 0)), pick(10),
                reg ? pick(11) : 0, (int16_t)(target - pc - 1), pick(2) ? (int32_t)pick(8) : rimm());
    } else if (kind < 93) {
      p[pc] = I(0x85, 0, 0, 0, pick(2) ? 5 : 7);
    } else if (kind < 96 && with_fn) {
      p[pc] = I(0x85, 0, FJ_PSEUDO_CALL, 0, (int32_t)(fn - pc - 1));
    } else if (kind < 98 && pc + 1 < nb) {
      p[pc] = I(0x18, d, 0, 0, (int32_t)rnd());  /* lddw: a jump may land in its second slot */
      p[++pc] = I(0, 0, 0, 0, (int32_t)rnd());
    } else if (kind < 99) {
      p[pc] = I(0x05, 0, 0, (int16_t)pick(tail - pc), 0);  /* ja forward */
    } else if (pc + 1 < nb) {
      p[pc] = I(FJ_CLS_ALU64 | 0xb0, d, 0, 0, pick(2) ? 5 : 7);  /* mov d, helper id */
      p[++pc] = I(0x8d, d, 0, 0, 0);                               /* callx d */
    } else {
      p[pc] = I(FJ_CLS_ALU64 | 0xb0, d, 0, 0, rimm());  /* mov */
    }
  }
  p[tail] = I(FJ_CLS_ALU64 | 0x00, 9, 0, 0, 1);                      /* add r9, 1 */
  p[tail + 1] = I(FJ_CLS_JMP | 0xa0, 9, 0, (int16_t)-(int32_t)(tail + 2), 6);  /* jlt r9, 6, 0 */
  p[tail + 2] = I(FJ_CLS_JMP | 0x90, 0, 0, 0, 0);                    /* exit */
  /* fn: uses its own stack frame and r6 (callee-saved for the caller) */
  p[fn] = I(FJ_CLS_ALU64 | 0xb0 | FJ_SRC_X, 6, 1, 0, 0);             /* mov r6, r1 */
  p[fn + 1] = I(FJ_CLS_ALU64 | 0x00, 6, 0, 0, 11);                   /* add r6, 11 */
  p[fn + 2] = I(0x85, 0, 0, 0, 7);                                   /* call 7: syncs r6 */
  p[fn + 3] = I(FJ_CLS_STX | FJ_SIZE_DW, 10, 6, -16, 0);             /* stxdw [r10-16], r6 */
  p[fn + 4] = I(FJ_CLS_LDX | FJ_SIZE_W, 0, 10, -16, 0);              /* ldxw r0, [r10-16] */
  p[fn + 5] = I(FJ_CLS_JMP | 0x90, 0, 0, 0, 0);                      /* exit */
  return fn + 6;
}

/* ---- the comparison ----------------------------------------------------------------------------- */

static void init_state(machine *m, ref *s, uint64_t seed) {
  uint64_t save = rng;
  rng = seed | 1;
  for (size_t i = 0; i < sizeof m->mem; i++) m->mem[i] = (uint8_t)rnd();
  for (size_t i = 0; i < sizeof m->ro; i++) m->ro[i] = (uint8_t)rnd();
  for (size_t i = 0; i < sizeof m->stack; i++) m->stack[i] = (uint8_t)rnd();
  memset(s, 0, sizeof *s);
  for (unsigned k = 0; k < 8; k++) s->r[k] = pick(2) ? rnd() % 20 : rnd();
  s->r[1] = (uint64_t)(uintptr_t)m->mem;
  s->r[8] = (uint64_t)(uintptr_t)m->ro;
  s->r[9] = 0;
  s->r[10] = frame_top(m, 0);
  rng = save;
}

static unsigned compared, exits_early, loops;

/* The rest of the compile driver's pipeline (codegen/compile.c): narrowing by demanded bits,
 * then DCE; the result must still verify. */
static void narrow(fj_ir *ir) {
  if (setjmp(ir->abort_jb)) fail_msg("narrowing aborted: %s", ir->msg);
  fj_opt_narrow(ir);
  fj_opt_dce(ir);
  char msg[192];
  if (fj_ir_verify(ir, msg, sizeof msg)) fail_msg("after narrowing: %s", msg);
}

static void compare_once(const fj_ir *ir, machine *m, const fj_insn *prog, uint64_t seed,
                         int64_t budget, unsigned iter) {
  ref s0;
  init_state(m, &s0, seed);
  machine m0 = *m;
  /* IR */
  fj_jit_state st;
  memset(&st, 0, sizeof st);
  memcpy(st.r, s0.r, sizeof st.r);
  st.regions = (uint64_t)(uintptr_t)m->regions;
  st.nregions = NREG;
  st.budget = budget;
  uint32_t pc = ir_run(ir, &st);
  int64_t executed = budget - st.budget;
  if (executed < 0 || executed > budget) fail_msg("iter %u: budget %lld -> %lld", iter,
                                                  (long long)budget, (long long)st.budget);
  machine mir = *m;
  /* reference, same number of instructions from the same state */
  memcpy(m->stack, m0.stack, sizeof m->stack);
  memcpy(m->mem, m0.mem, sizeof m->mem);
  memcpy(m->ro, m0.ro, sizeof m->ro);
  ref s = s0;
  for (int64_t k = 0; k < executed; k++) {
    bool t;
    int g;
    uint32_t aux;
    int rc = step(m, &s, prog, &t, &g, &aux);
    if (rc != STEP_OK) fail_msg("iter %u: reference stopped (%d) after %lld of %lld insns", iter,
                                rc, (long long)k, (long long)executed);
  }
  char ctx[64];
  snprintf(ctx, sizeof ctx, "iter %u seed %llu budget %lld", iter, (unsigned long long)seed,
           (long long)budget);
  if (s.pc != pc) fail_msg("%s: pc %u, reference %u", ctx, pc, s.pc);
  if (s.depth != st.nframes) fail_msg("%s: depth %u, reference %u", ctx, st.nframes, s.depth);
  for (unsigned k = 0; k < FJ_NREGS; k++)
    if (s.r[k] != st.r[k])
      fail_msg("%s (pc %u): r%u = %#llx, reference %#llx", ctx, pc, k,
               (unsigned long long)st.r[k], (unsigned long long)s.r[k]);
  for (unsigned d = 0; d < s.depth; d++)
    if (memcmp(&s.frames[d], &st.frames[d], sizeof s.frames[d]))
      fail_msg("%s: frame %u differs", ctx, d);
  if (memcmp(m->mem, mir.mem, sizeof m->mem)) fail_msg("%s: memory differs", ctx);
  if (memcmp(m->stack, mir.stack, sizeof m->stack)) {
    for (size_t i = 0; i < sizeof m->stack; i++)
      if (m->stack[i] != mir.stack[i])
        fail_msg("%s: stack byte fp0%+d differs", ctx, (int)i - (int)(7 * FJ_STACK_SIZE + 512));
  }
  compared++;
  if (pc != ir->start_pc || executed == 0) exits_early++;
}

static void test_random_programs(void **st) {
  (void)st;
  static machine m;
  machine_init(&m);
  unsigned built = 0, unlooped = 0, mutated_ok = 0;
  for (unsigned it = 0; it < 5000; it++) {
    fj_insn prog[64];
    uint32_t n = gen(prog, 4 + pick(20), pick(3) != 0);
    uint64_t seed = rnd();
    ref s;
    init_state(&m, &s, seed);
    size_t len;
    uint8_t *b = record(&m, &s, prog, n, &len);
    if (!b) continue;
    for (int mode = 0; mode < 2; mode++) {
      fj_ir ir;
      int rc = cu_build(b, len, mode ? FJ_IR_NOFOLD : 0, true, &ir);
      if (rc) fail_msg("iter %u: %s: %s", it, fj_abort_name(rc), ir.msg);
      narrow(&ir);
      unlooped += ir.end == FJ_TRACE_END_LOOP && ir.loop == FJ_REF_NONE;
      built++;
      loops += ir.loop != FJ_REF_NONE;
      compare_once(&ir, &m, prog, seed, 100000, it);             /* the recorded state */
      compare_once(&ir, &m, prog, seed ^ 0x5555, 100000, it);    /* other inputs: guards */
      compare_once(&ir, &m, prog, seed, (int64_t)pick(40), it);  /* budget exits */
      fj_ir_free(&ir);
    }
    /* Mutated copies must be rejected or compile to valid IR (cu_build verifies it). */
    for (int k = 0; k < 2; k++) {
      uint8_t *mb = malloc(len);
      memcpy(mb, b, len);
      uint32_t body = (uint32_t)(len - sizeof(fj_trace_header));
      for (unsigned f = 1 + pick(3); f--;)
        mb[sizeof(fj_trace_header) + pick(body)] ^= (uint8_t)(1u << pick(8));
      fj_ir ir;
      int rc = cu_build(mb, len, k ? FJ_IR_NOFOLD : 0, true, &ir);
      mutated_ok += rc == 0;
      fj_ir_free(&ir);
      free(mb);
    }
    free(b);
  }
  print_message("ir diff: %u IRs, %u comparisons (%u left early), %u loops, %u left unlooped, "
                "%u mutated traces compiled\n", built, compared, exits_early, loops, unlooped,
                mutated_ok);
  assert_true(unlooped > 0);  /* the rollback path ran */
  assert_true(built > 1000);
  assert_true(loops > 100);
}

/* Fixed programs for paths random ones hit rarely. */
static void run_fixed(const char *text) {
  static machine m;
  machine_init(&m);
  uint32_t n;
  fj_insn *prog = cu_asm(text, &n);
  ref s;
  init_state(&m, &s, 77);
  size_t len;
  uint8_t *b = record(&m, &s, prog, n, &len);
  assert_non_null(b);
  for (int mode = 0; mode < 2; mode++) {
    fj_ir ir;
    int rc = cu_build(b, len, mode ? FJ_IR_NOFOLD : 0, true, &ir);
    if (rc) fail_msg("%s: %s", fj_abort_name(rc), ir.msg);
    narrow(&ir);
    for (uint64_t seed = 77; seed < 87; seed++) compare_once(&ir, &m, prog, seed, 100000, 0);
    for (int64_t budget = 0; budget < 60; budget++) compare_once(&ir, &m, prog, 77, budget, 0);
    fj_ir_free(&ir);
  }
  free(b);
  free(prog);
}

static void test_call_sync_in_callee(void **st) {
  (void)st;
  /* The callee changes r6 and calls a helper, whose sync writes st->r[6]; after the return r6
   * is the caller's again, and later exits must write it back explicitly. */
  run_fixed("mov %r1, 5\ncall local fn\njeq %r6, 3, out\nadd %r0, 1\nout:\nexit\n"
            "fn:\nmov %r6, 99\ncall 7\nmov %r0, %r6\nexit\n");
  run_fixed("loop:\ncall local fn\nadd %r9, 1\njlt %r9, 4, loop\nexit\n"
            "fn:\nmov %r6, %r9\ncall 5\nexit\n");
  /* callx: the register must still name the recorded helper */
  run_fixed("loop:\nmov %r3, %r1\nadd %r3, %r9\nldxb %r4, [%r3+0]\nand %r4, 2\nadd %r4, 5\n"
            "call %r4\nadd %r9, 1\njlt %r9, 40, loop\nexit\n");
}

static void test_stack_carried(void **st) {
  (void)st;
  /* Slots carried across iterations: their stores are sunk into the exits. */
  run_fixed("loop:\nldxdw %r2, [%r10-8]\nadd %r2, %r1\nstxdw [%r10-8], %r2\nldxw %r3, [%r10-16]\n"
            "add %r3, 1\nstxw [%r10-16], %r3\njgt %r2, 1000, out\nadd %r9, 1\njlt %r9, 50, loop\n"
            "out:\nexit\n");
  /* an exit in iteration 4 before the store: it must write iteration 3's value back */
  run_fixed("loop:\nldxdw %r2, [%r10-8]\njeq %r9, 3, out\nadd %r2, %r1\nstxdw [%r10-8], %r2\n"
            "add %r9, 1\njlt %r9, 50, loop\nout:\nexit\n");
  /* ... and not when a call could read the stack */
  run_fixed("loop:\nldxdw %r2, [%r10-8]\nadd %r2, 3\nstxdw [%r10-8], %r2\ncall 7\nadd %r9, 1\n"
            "jlt %r9, 20, loop\nexit\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_call_sync_in_callee),
      cmocka_unit_test(test_stack_carried),
      cmocka_unit_test(test_random_programs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
