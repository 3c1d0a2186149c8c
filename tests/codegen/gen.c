/* tests/codegen — random eBPF program generator (contract in gen.h). */
#include "tests/codegen/gen.h"

#include <string.h>

#include "tools/asm.h"

typedef struct rng {
  uint64_t s;
} rng;

static uint64_t next(rng *r) {  /* splitmix64 */
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static uint32_t below(rng *r, uint32_t n) { return (uint32_t)(next(r) % n); }
static bool chance(rng *r, unsigned pct) { return below(r, 100) < pct; }

static const uint64_t edge64[] = {
  0, 1, 2, 3, 7, 31, 32, 63, 64, 65, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000,
  0xffffffff, 0x100000000ull, 0x7fffffffffffffffull, 0x8000000000000000ull,
  0xffffffffffffffffull, 0xfffffffffffffffeull, 0xffffffff80000000ull, 0x123456789abcdef0ull,
};
static const int32_t edge32[] = {0, 1, -1, 2, 3, 7, 31, 32, 63, 64, -2, 0x7fffffff,
                                 INT32_MIN, 0xff, 0x100, -128, 0x7fff, -0x8000, 12345};

static uint64_t val64(rng *r) {
  return chance(r, 60) ? edge64[below(r, sizeof edge64 / sizeof edge64[0])] : next(r);
}
static int32_t imm32(rng *r) {
  return chance(r, 70) ? edge32[below(r, sizeof edge32 / sizeof edge32[0])] : (int32_t)next(r);
}

struct ivshape;

typedef struct builder {
  fj_gen_prog *p;
  rng *r;
  uint8_t keep;                /* registers random instructions must not write (IV loops) */
  unsigned jump_pct;           /* forward jumps per 100 slots (15) */
  const struct ivshape *iv;    /* IV loops: accesses through the induction variables */
} builder;

static void put(builder *b, fj_insn i, bool fixed) {
  if (b->p->n >= FJ_GEN_MAX) return;
  b->p->fixed[b->p->n] = fixed;
  b->p->insns[b->p->n++] = i;
}
static void op(builder *b, enum fj_op o, unsigned d, unsigned s, int16_t off, int32_t imm) {
  put(b, fj_asm_encode(o, d, s, off, imm), false);
}

static const enum fj_op alu_ops[] = {
  FJ_OP_ADD64_IMM, FJ_OP_ADD64_REG, FJ_OP_SUB64_IMM, FJ_OP_SUB64_REG, FJ_OP_MUL64_IMM,
  FJ_OP_MUL64_REG, FJ_OP_DIV64_IMM, FJ_OP_DIV64_REG, FJ_OP_SDIV64_IMM, FJ_OP_SDIV64_REG,
  FJ_OP_OR64_IMM, FJ_OP_OR64_REG, FJ_OP_AND64_IMM, FJ_OP_AND64_REG, FJ_OP_LSH64_IMM,
  FJ_OP_LSH64_REG, FJ_OP_RSH64_IMM, FJ_OP_RSH64_REG, FJ_OP_MOD64_IMM, FJ_OP_MOD64_REG,
  FJ_OP_SMOD64_IMM, FJ_OP_SMOD64_REG, FJ_OP_XOR64_IMM, FJ_OP_XOR64_REG, FJ_OP_MOV64_IMM,
  FJ_OP_MOV64_REG, FJ_OP_ARSH64_IMM, FJ_OP_ARSH64_REG, FJ_OP_NEG64, FJ_OP_ADD32_IMM,
  FJ_OP_ADD32_REG, FJ_OP_SUB32_IMM, FJ_OP_SUB32_REG, FJ_OP_MUL32_IMM, FJ_OP_MUL32_REG,
  FJ_OP_DIV32_IMM, FJ_OP_DIV32_REG, FJ_OP_SDIV32_IMM, FJ_OP_SDIV32_REG, FJ_OP_OR32_IMM,
  FJ_OP_OR32_REG, FJ_OP_AND32_IMM, FJ_OP_AND32_REG, FJ_OP_LSH32_IMM, FJ_OP_LSH32_REG,
  FJ_OP_RSH32_IMM, FJ_OP_RSH32_REG, FJ_OP_MOD32_IMM, FJ_OP_MOD32_REG, FJ_OP_SMOD32_IMM,
  FJ_OP_SMOD32_REG, FJ_OP_XOR32_IMM, FJ_OP_XOR32_REG, FJ_OP_MOV32_IMM, FJ_OP_MOV32_REG,
  FJ_OP_ARSH32_IMM, FJ_OP_ARSH32_REG, FJ_OP_NEG32, FJ_OP_MOVSX8_64, FJ_OP_MOVSX16_64,
  FJ_OP_MOVSX32_64, FJ_OP_MOVSX8_32, FJ_OP_MOVSX16_32, FJ_OP_LE16, FJ_OP_LE32, FJ_OP_LE64,
  FJ_OP_BE16, FJ_OP_BE32, FJ_OP_BE64, FJ_OP_BSWAP16, FJ_OP_BSWAP32, FJ_OP_BSWAP64,
};
static const enum fj_op jmp_ops[] = {
  FJ_OP_JEQ64_IMM, FJ_OP_JEQ64_REG, FJ_OP_JGT64_IMM, FJ_OP_JGT64_REG, FJ_OP_JGE64_IMM,
  FJ_OP_JGE64_REG, FJ_OP_JSET64_IMM, FJ_OP_JSET64_REG, FJ_OP_JNE64_IMM, FJ_OP_JNE64_REG,
  FJ_OP_JSGT64_IMM, FJ_OP_JSGT64_REG, FJ_OP_JSGE64_IMM, FJ_OP_JSGE64_REG, FJ_OP_JLT64_IMM,
  FJ_OP_JLT64_REG, FJ_OP_JLE64_IMM, FJ_OP_JLE64_REG, FJ_OP_JSLT64_IMM, FJ_OP_JSLT64_REG,
  FJ_OP_JSLE64_IMM, FJ_OP_JSLE64_REG, FJ_OP_JEQ32_IMM, FJ_OP_JEQ32_REG, FJ_OP_JGT32_IMM,
  FJ_OP_JGT32_REG, FJ_OP_JGE32_IMM, FJ_OP_JGE32_REG, FJ_OP_JSET32_IMM, FJ_OP_JSET32_REG,
  FJ_OP_JNE32_IMM, FJ_OP_JNE32_REG, FJ_OP_JSGT32_IMM, FJ_OP_JSGT32_REG, FJ_OP_JSGE32_IMM,
  FJ_OP_JSGE32_REG, FJ_OP_JLT32_IMM, FJ_OP_JLT32_REG, FJ_OP_JLE32_IMM, FJ_OP_JLE32_REG,
  FJ_OP_JSLT32_IMM, FJ_OP_JSLT32_REG, FJ_OP_JSLE32_IMM, FJ_OP_JSLE32_REG,
};
static const enum fj_op ld_ops[] = {FJ_OP_LDXB, FJ_OP_LDXH, FJ_OP_LDXW, FJ_OP_LDXDW,
                                    FJ_OP_LDXSB, FJ_OP_LDXSH, FJ_OP_LDXSW};
static const enum fj_op st_ops[] = {FJ_OP_STB, FJ_OP_STH, FJ_OP_STW, FJ_OP_STDW};
static const enum fj_op stx_ops[] = {FJ_OP_STXB, FJ_OP_STXH, FJ_OP_STXW, FJ_OP_STXDW};
static const enum fj_op at_ops[] = {
  FJ_OP_AT_ADD64, FJ_OP_AT_FETCH_ADD64, FJ_OP_AT_OR64, FJ_OP_AT_FETCH_OR64, FJ_OP_AT_AND64,
  FJ_OP_AT_FETCH_AND64, FJ_OP_AT_XOR64, FJ_OP_AT_FETCH_XOR64, FJ_OP_AT_XCHG64,
  FJ_OP_AT_CMPXCHG64, FJ_OP_AT_ADD32, FJ_OP_AT_FETCH_ADD32, FJ_OP_AT_OR32, FJ_OP_AT_FETCH_OR32,
  FJ_OP_AT_AND32, FJ_OP_AT_FETCH_AND32, FJ_OP_AT_XOR32, FJ_OP_AT_FETCH_XOR32, FJ_OP_AT_XCHG32,
  FJ_OP_AT_CMPXCHG32,
};
#define PICK(r, arr) (arr)[below(r, sizeof(arr) / sizeof((arr)[0]))]

static unsigned wreg(rng *r) { return below(r, 8); }   /* r0-r7: writable */
/* A writable register other than the builder's kept ones (the same draw when none are kept). */
static unsigned wr(builder *b) {
  unsigned x = wreg(b->r);
  while (b->keep >> x & 1) x = (x + 1) & 7;
  return x;
}
static unsigned rreg(rng *r) { return below(r, 10); }  /* r0-r9: readable values */

static int32_t alu_imm(rng *r, enum fj_op o) {
  switch (o) {
  case FJ_OP_LSH64_IMM: case FJ_OP_RSH64_IMM: case FJ_OP_ARSH64_IMM: return (int32_t)below(r, 64);
  case FJ_OP_LSH32_IMM: case FJ_OP_RSH32_IMM: case FJ_OP_ARSH32_IMM: return (int32_t)below(r, 32);
  default: return imm32(r);
  }
}

/* A memory operand: base register and offset for an access of `size` bytes. */
static void mem_operand(rng *r, unsigned size, bool in_callee, unsigned *base, int16_t *off) {
  if (in_callee || chance(r, 55)) {
    *base = FJ_REG_FP;
    *off = (int16_t)(-(int32_t)(8 * (1 + below(r, 16))) + (int32_t)(size * below(r, 8 / size)));
  } else {
    *base = 9;
    *off = (int16_t)(size * below(r, FJ_GEN_MEM / size));
  }
}

/* One random straight-line instruction (no jumps). */
static void random_insn(builder *b, const fj_gen_opts *o, bool in_callee) {
  rng *r = b->r;
  unsigned k = below(r, 100);
  if (k < 55) {
    enum fj_op a = PICK(r, alu_ops);
    op(b, a, wr(b), rreg(r), 0, alu_imm(r, a));
  } else if (k < 70) {
    enum fj_op l = PICK(r, ld_ops);
    unsigned base;
    int16_t off;
    mem_operand(r, fj_code_size_bytes(fj_op_table[l].code), in_callee, &base, &off);
    op(b, l, wr(b), base, off, 0);
  } else if (k < 78) {
    enum fj_op s = PICK(r, st_ops);
    unsigned base;
    int16_t off;
    mem_operand(r, fj_code_size_bytes(fj_op_table[s].code), in_callee, &base, &off);
    op(b, s, base, 0, off, imm32(r));
  } else if (k < 90) {
    enum fj_op s = PICK(r, stx_ops);
    unsigned base;
    int16_t off;
    mem_operand(r, fj_code_size_bytes(fj_op_table[s].code), in_callee, &base, &off);
    op(b, s, base, rreg(r), off, 0);
  } else if (k < 95 && o->atomics) {
    enum fj_op a = PICK(r, at_ops);
    unsigned size = fj_code_size_bytes(fj_op_table[a].code), base;
    int16_t off;
    mem_operand(r, size, in_callee, &base, &off);
    off = (int16_t)(off & ~(int16_t)(size - 1));
    op(b, a, base, wr(b), off, 0);
  } else if (o->calls && !in_callee) {
    op(b, FJ_OP_CALL, 0, 0, 0, FJ_GEN_HELPER);
  } else {
    enum fj_op a = PICK(r, alu_ops);
    op(b, a, wr(b), rreg(r), 0, alu_imm(r, a));
  }
}

/* ---- induction-variable loops (o->iv_loops) --------------------------------------------------
 * The loop the bounds-check hoisting of codegen/opt_mem.c is written for: r8 a counter (64- or
 * 32-bit arithmetic, up or down, steps of 1/2/4) tested against an immediate or r6 (signed or
 * unsigned, <, <=, != and their mirrors) at the bottom of the body or at its top (exit forward,
 * then `ja` back); or no counter test but the pointer r7 tested against the end pointer r6.  r7
 * walks the context (r9) or the stack (r10) by {1, 2, 4, 8, -4, 12} bytes an iteration; index
 * addresses are (r8 << k) + r9 or r10 - (r8 << k) (64-bit, or from a 32-bit copy).  Trip counts
 * and starts are drawn without regard to FJ_GEN_MEM, so about half the loops run off their
 * region (the interpreter faults there; a hoisted check must fail before the loop instead).  An
 * optional early exit on the counter leaves such a loop before it would fault; a != test whose
 * distance the counter's step does not divide is always left that way.  r6, r7 and r8
 * are never written by random instructions; the loop control always ends within IV_MAX_TRIPS. */
enum { IV_P = 7, IV_B = 6, IV_T = 5, IV_C = 8, IV_MAX_TRIPS = 200, IV_MAX_OUT = 2 };

typedef struct ivshape {
  bool stack;       /* r7 and index addresses in the stack (r10), else in the context (r9) */
  bool w32;         /* counter: add32 / jmp32 */
  bool on_ptr;      /* the loop test is r7 against r6 (r8 still counts, untested) */
  bool top;         /* the test leads the body (exit forward), else it ends it */
  bool reg_bound;   /* the test reads r6, else an immediate */
  bool idx32;       /* index addresses from a 32-bit copy of r8 */
  unsigned w;       /* access width */
  unsigned k;       /* index shift */
  int32_t pstep;    /* r7's step */
  int32_t cstep;    /* r8's step */
  enum fj_op cont;  /* loop while cont(test register, bound) */
  int64_t bound;    /* immediate / r6 (on_ptr: r6 - base) */
  int64_t start;    /* r7 - base */
  uint64_t c0;      /* r8 on entry */
  unsigned early;   /* != 0: the bound is missed (a != whose distance the step does not
                       divide) and an early exit leaves after this many steps */
} ivshape;

static const enum fj_op iv_up[] = {FJ_OP_JLT64_IMM, FJ_OP_JLE64_IMM, FJ_OP_JNE64_IMM,
                                   FJ_OP_JSLT64_IMM, FJ_OP_JSLE64_IMM};
static const enum fj_op iv_down[] = {FJ_OP_JGT64_IMM, FJ_OP_JGE64_IMM, FJ_OP_JNE64_IMM,
                                     FJ_OP_JSGT64_IMM, FJ_OP_JSGE64_IMM};

/* The JMP32 / REG / negated forms of a 64-bit IMM condition. */
static enum fj_op iv_form(enum fj_op o, bool w32, bool reg, bool negate) {
  static const enum fj_op t[][2][2][2] = {  /* [w32][reg][negate] per condition */
#define IVF(c, n) {{{FJ_OP_##c##64_IMM, FJ_OP_##n##64_IMM}, {FJ_OP_##c##64_REG, FJ_OP_##n##64_REG}}, \
                   {{FJ_OP_##c##32_IMM, FJ_OP_##n##32_IMM}, {FJ_OP_##c##32_REG, FJ_OP_##n##32_REG}}}
    IVF(JLT, JGE), IVF(JLE, JGT), IVF(JNE, JEQ), IVF(JSLT, JSGE), IVF(JSLE, JSGT),
    IVF(JGT, JLE), IVF(JGE, JLT), IVF(JSGT, JSLE), IVF(JSGE, JSLT),
#undef IVF
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (t[i][0][0][0] == o) return t[i][w32][reg][negate];
  return o;
}

static bool iv_cond(enum fj_op o, bool w32, uint64_t a, uint64_t b) {
  if (w32) {
    a = (uint32_t)a, b = (uint32_t)b;
    if (o == FJ_OP_JSLT64_IMM || o == FJ_OP_JSLE64_IMM || o == FJ_OP_JSGT64_IMM ||
        o == FJ_OP_JSGE64_IMM) {
      int32_t x = (int32_t)(uint32_t)a, y = (int32_t)(uint32_t)b;
      a = (uint64_t)(int64_t)x, b = (uint64_t)(int64_t)y;
    }
  }
  switch (o) {
  case FJ_OP_JLT64_IMM: return a < b;
  case FJ_OP_JLE64_IMM: return a <= b;
  case FJ_OP_JGT64_IMM: return a > b;
  case FJ_OP_JGE64_IMM: return a >= b;
  case FJ_OP_JNE64_IMM: return a != b;
  case FJ_OP_JSLT64_IMM: return (int64_t)a < (int64_t)b;
  case FJ_OP_JSLE64_IMM: return (int64_t)a <= (int64_t)b;
  case FJ_OP_JSGT64_IMM: return (int64_t)a > (int64_t)b;
  default: return (int64_t)a >= (int64_t)b;  /* JSGE */
  }
}

/* Body iterations of the shape's loop control, or 0 if it runs longer than IV_MAX_TRIPS. */
static unsigned iv_trips(const ivshape *s) {
  if (s->early) return s->early + 1;
  uint64_t v = s->on_ptr ? (uint64_t)s->start : s->c0;
  uint64_t step = (uint64_t)(int64_t)(s->on_ptr ? s->pstep : s->cstep);
  bool w32 = s->w32 && !s->on_ptr;
  for (unsigned n = 1; n <= IV_MAX_TRIPS; n++) {
    v += step;
    if (w32) v = (uint32_t)v;
    if (!iv_cond(s->cont, w32, v, (uint64_t)s->bound)) return n;
  }
  return 0;
}

static void iv_draw(rng *r, ivshape *s) {
  static const int32_t psteps[] = {1, 2, 4, 8, -4, 12};
  static const unsigned widths[] = {1, 2, 4, 8};
  memset(s, 0, sizeof *s);
  s->stack = chance(r, 30);
  s->w32 = chance(r, 40);
  s->on_ptr = chance(r, 20);
  s->top = chance(r, 30);
  s->reg_bound = chance(r, 35);
  s->idx32 = chance(r, 25);
  s->w = widths[below(r, 4)];
  s->k = below(r, 4);
  s->pstep = psteps[below(r, 6)];
  unsigned trips = chance(r, 50) ? 1 + below(r, 40) : 2 + below(r, 8);
  int64_t span = FJ_GEN_MEM;
  /* starts mostly where the loop gets hot before it runs off (else nothing is traced) */
  if (s->stack) s->start = -(int64_t)(8 + below(r, s->pstep < 0 || chance(r, 25) ? 64 : 400));
  else if (s->pstep < 0) s->start = span - (int64_t)s->w - below(r, 24);
  else s->start = chance(r, 40) ? (int64_t)(below(r, FJ_GEN_MEM) & ~(s->w - 1)) : below(r, 12);
  if (s->on_ptr) {  /* unsigned pointer compares: the base may be anywhere */
    static const enum fj_op up[] = {FJ_OP_JLT64_IMM, FJ_OP_JLE64_IMM, FJ_OP_JNE64_IMM};
    static const enum fj_op down[] = {FJ_OP_JGT64_IMM, FJ_OP_JGE64_IMM, FJ_OP_JNE64_IMM};
    if (s->pstep == 12 || s->pstep == 1 || chance(r, 30)) s->pstep = chance(r, 50) ? 4 : -4;
    s->cont = s->pstep > 0 ? up[below(r, 3)] : down[below(r, 3)];
    s->bound = s->start + (int64_t)s->pstep * trips;
    s->reg_bound = true;
    s->cstep = 1;
    s->c0 = below(r, 4);
    return;
  }
  bool up = chance(r, 60);
  s->cstep = (int32_t)(1u << (chance(r, 75) ? 0 : 1 + below(r, 2)));
  if (!up) s->cstep = -s->cstep;
  s->cont = up ? PICK(r, iv_up) : PICK(r, iv_down);
  uint64_t c0;
  unsigned e = below(r, 100);
  if (e < 50) c0 = up ? 0 : (uint64_t)trips * (uint64_t)(up ? s->cstep : -s->cstep);
  else if (e < 80) c0 = below(r, 8) + (up ? 0 : (uint64_t)trips * (uint64_t)-s->cstep);
  else if (e < 90) c0 = (s->w32 ? 0xfffffff0u : 0xfffffffffffffff0ull) + below(r, 16);
  else c0 = (s->w32 ? 0x7ffffff0u : 0x7ffffffffffffff0ull) + below(r, 16);
  s->c0 = c0;
  int64_t b = (int64_t)(c0 + (uint64_t)((int64_t)s->cstep * trips));
  s->bound = (int64_t)(int32_t)(uint32_t)b;  /* an imm32 or r6 = mov64 imm: sign-extended */
  /* Equality-bounded counters (codegen/opt_loop.c) guard that the step divides the distance
   * to the bound: sometimes it does not (the counter steps past the bound), and an early exit
   * ends the loop instead. */
  if (s->cont == FJ_OP_JNE64_IMM && (s->cstep > 1 || s->cstep < -1) && chance(r, 30)) {
    unsigned early = 2 + below(r, 6);
    uint64_t at = c0 + (uint64_t)((int64_t)s->cstep * early);
    /* the early exit compares with an imm32: a 64-bit count it cannot name would never leave */
    if (s->w32 || (uint64_t)(int64_t)(int32_t)(uint32_t)at == at) {
      s->bound += 1;
      s->early = early;
    }
  }
}

/* An access through r7 or an index address: the body slots of an IV loop. */
static void iv_access(builder *b) {
  rng *r = b->r;
  const ivshape *s = b->iv;
  unsigned w = chance(r, 60) ? s->w : 1u << below(r, 4);
  unsigned base = IV_P;
  int16_t off = (int16_t)(w * below(r, 3));
  if (chance(r, 45)) {  /* index address in r5 */
    base = IV_T;
    op(b, s->idx32 ? FJ_OP_MOV32_REG : FJ_OP_MOV64_REG, IV_T, IV_C, 0, 0);
    if (s->cstep > 0 && s->c0) {  /* from the counter's start: in the region at first */
      bool fits = (uint64_t)(int64_t)(int32_t)(uint32_t)s->c0 == s->c0;
      op(b, fits && !s->idx32 ? FJ_OP_ADD64_IMM : FJ_OP_ADD32_IMM, IV_T, 0, 0,
         (int32_t)(0u - (uint32_t)s->c0));
    }
    if (s->k) op(b, FJ_OP_LSH64_IMM, IV_T, 0, 0, (int32_t)s->k);
    if (s->stack) {
      op(b, FJ_OP_NEG64, IV_T, 0, 0, 0);
      op(b, FJ_OP_ADD64_REG, IV_T, FJ_REG_FP, 0, 0);
      off = (int16_t)(-(int32_t)(w * (1 + below(r, 3))));
    } else {
      op(b, FJ_OP_ADD64_REG, IV_T, 9, 0, 0);
    }
  }
  unsigned k = below(r, 100);
  if (k < 40) {
    static const enum fj_op l8[] = {FJ_OP_LDXB, FJ_OP_LDXSB}, l16[] = {FJ_OP_LDXH, FJ_OP_LDXSH},
                            l32[] = {FJ_OP_LDXW, FJ_OP_LDXSW};
    enum fj_op l = w == 1 ? PICK(r, l8) : w == 2 ? PICK(r, l16) : w == 4 ? PICK(r, l32) : FJ_OP_LDXDW;
    op(b, l, wr(b), base, off, 0);
  } else if (k < 65) {
    static const enum fj_op st[] = {FJ_OP_STXB, FJ_OP_STXH, FJ_OP_STXW, FJ_OP_STXDW};
    op(b, st[__builtin_ctz(w)], base, rreg(r), off, 0);
  } else if (k < 85) {
    static const enum fj_op st[] = {FJ_OP_STB, FJ_OP_STH, FJ_OP_STW, FJ_OP_STDW};
    op(b, st[__builtin_ctz(w)], base, 0, off, imm32(r));
  } else if (k < 92 && w >= 4) {  /* misaligned ones fault in the interpreter, as they should */
    op(b, w == 8 ? FJ_OP_AT_FETCH_ADD64 : FJ_OP_AT_ADD32, base, wr(b), off, 0);
  } else {  /* a copy within the region: load, then store one element on */
    unsigned t = wr(b);
    op(b, FJ_OP_LDXB, t, base, off, 0);
    op(b, FJ_OP_STXB, base, t, (int16_t)(off + (s->stack ? -(int)w : (int)w)), 0);
  }
}

static void random_block(builder *b, const fj_gen_opts *o, uint32_t len, bool in_callee,
                         uint32_t *call_sites, uint32_t *ncalls);

static void put_imm64(builder *b, unsigned reg, uint64_t v) {
  if ((uint64_t)(int64_t)(int32_t)(uint32_t)v == v) {
    put(b, fj_asm_encode(FJ_OP_MOV64_IMM, reg, 0, 0, (int32_t)(uint32_t)v), true);
  } else {
    put(b, fj_asm_encode(FJ_OP_LDDW, reg, 0, 0, (int32_t)(uint32_t)v), true);
    put(b, fj_insn_make(0, 0, 0, 0, (int32_t)(uint32_t)(v >> 32)), true);
  }
}

/* The loop test: `cont` back to the header (bottom), or its negation out (top). */
static void iv_test(builder *b, const ivshape *s, bool negate, int16_t off) {
  unsigned reg = s->on_ptr ? IV_P : IV_C;
  bool w32 = s->w32 && !s->on_ptr;
  bool rb = s->reg_bound || s->on_ptr;
  put(b, fj_asm_encode(iv_form(s->cont, w32, rb, negate), reg, rb ? IV_B : 0, off,
                       rb ? 0 : (int32_t)s->bound), true);
}

static void iv_step(builder *b, const ivshape *s, bool ptr) {
  if (ptr) put(b, fj_asm_encode(FJ_OP_ADD64_IMM, IV_P, 0, 0, s->pstep), true);
  else put(b, fj_asm_encode(s->w32 ? FJ_OP_ADD32_IMM : FJ_OP_ADD64_IMM, IV_C, 0, 0, s->cstep), true);
}

/* Setup (after the random registers), loop and its exits; the tail follows at p->n. */
static void iv_loop(builder *b, const fj_gen_opts *o, uint32_t len, uint32_t *call_sites,
                    uint32_t *ncalls) {
  rng *r = b->r;
  fj_gen_prog *p = b->p;
  ivshape s;
  for (int tries = 0;; tries++) {
    iv_draw(r, &s);
    if (iv_trips(&s)) break;
    if (tries == 16) {  /* always ends: 0 .. 7 up */
      s.on_ptr = false, s.w32 = false, s.cont = FJ_OP_JLT64_IMM, s.c0 = 0, s.cstep = 1;
      s.bound = 8;
      break;
    }
  }
  unsigned base = s.stack ? FJ_REG_FP : 9;
  put_imm64(b, IV_C, s.c0);
  put(b, fj_asm_encode(FJ_OP_MOV64_REG, IV_P, base, 0, 0), true);
  put(b, fj_asm_encode(FJ_OP_ADD64_IMM, IV_P, 0, 0, (int32_t)s.start), true);
  if (s.on_ptr) {
    put(b, fj_asm_encode(FJ_OP_MOV64_REG, IV_B, base, 0, 0), true);
    put(b, fj_asm_encode(FJ_OP_ADD64_IMM, IV_B, 0, 0, (int32_t)s.bound), true);
  } else if (s.reg_bound) {
    put_imm64(b, IV_B, (uint64_t)s.bound);
  }
  b->keep = 1u << IV_P | 1u << IV_B;
  b->iv = &s;
  unsigned jp = b->jump_pct;
  b->jump_pct = PICK(r, ((const unsigned[]){0, 0, 3, 8, 15}));

  uint32_t out[IV_MAX_OUT], nout = 0;
  p->loop_pc = p->n;
  bool ptr_first = chance(r, 25);
  if (s.top) {
    iv_step(b, &s, s.on_ptr);
    out[nout++] = p->n;
    iv_test(b, &s, true, 0);
  }
  if (ptr_first && !s.on_ptr) iv_step(b, &s, true);
  if (s.early || chance(r, 20)) {  /* leaves at a count it reaches, maybe before it runs off */
    out[nout++] = p->n;
    uint64_t at = s.c0 + (uint64_t)((int64_t)s.cstep * (s.early ? s.early : 2 + below(r, 6)));
    put(b, fj_asm_encode(s.w32 ? FJ_OP_JEQ32_IMM : FJ_OP_JEQ64_IMM, IV_C, 0, 0,
                         (int32_t)(uint32_t)at), false);
  }
  random_block(b, o, len, false, call_sites, ncalls);
  if (!ptr_first && !s.on_ptr) iv_step(b, &s, true);
  if (s.on_ptr) iv_step(b, &s, false);  /* r8 counts along, untested */
  if (s.top) {
    put(b, fj_asm_encode(FJ_OP_JA, 0, 0, (int16_t)((int32_t)p->loop_pc - (int32_t)p->n - 1), 0),
        true);
  } else {
    iv_step(b, &s, s.on_ptr);
    iv_test(b, &s, false, (int16_t)((int32_t)p->loop_pc - (int32_t)p->n - 1));
  }
  for (uint32_t i = 0; i < nout; i++)
    p->insns[out[i]].off = (int16_t)((int32_t)p->n - (int32_t)out[i] - 1);
  b->iv = NULL;
  b->jump_pct = jp;
}

/* `len` random slots; forward jumps stay inside them (target <= start + len). */
static void random_block(builder *b, const fj_gen_opts *o, uint32_t len, bool in_callee,
                         uint32_t *call_sites, uint32_t *ncalls) {
  rng *r = b->r;
  /* room for the loop's end, the tail's exit and an IV access's few instructions: a jump
   * never targets past the block's last slot */
  const uint32_t lim = FJ_GEN_MAX - (b->iv ? 24 : 8);
  uint32_t end = b->p->n + len < lim ? b->p->n + len : lim;
  while (b->p->n < end) {
    uint32_t left = end - b->p->n;
    if (b->iv && !in_callee && chance(r, 30)) {
      iv_access(b);
    } else if (left > 1 && chance(b->r, b->jump_pct)) {
      enum fj_op j = PICK(r, jmp_ops);
      int16_t off = (int16_t)below(r, left < 6 ? left : 6);
      op(b, j, rreg(r), rreg(r), off, imm32(r));
    } else if (!in_callee && o->local_calls && call_sites && chance(r, 8)) {
      call_sites[(*ncalls)++] = b->p->n;
      op(b, FJ_OP_CALL_LOCAL, 0, 0, 0, 0);  /* target patched once the callee is placed */
    } else {
      random_insn(b, o, in_callee);
    }
  }
}

void fj_gen_program(uint64_t seed, const fj_gen_opts *o, fj_gen_prog *p) {
  memset(p, 0, sizeof *p);
  rng r = {seed};
  builder b = {p, &r, 0, 15, NULL};
  uint32_t body = o->body ? o->body : 24;
  uint32_t call_sites[FJ_GEN_MAX], ncalls = 0;

  put(&b, fj_asm_encode(FJ_OP_MOV64_REG, 9, 1, 0, 0), true);
  put(&b, fj_asm_encode(FJ_OP_MOV64_IMM, 8, 0, 0, (int32_t)(6 + below(&r, 20))), true);
  for (unsigned reg = 0; reg < 8; reg++) {
    if (chance(&r, 50)) {
      uint64_t v = val64(&r);
      put(&b, fj_asm_encode(FJ_OP_LDDW, reg, 0, 0, (int32_t)(uint32_t)v), false);
      put(&b, fj_insn_make(0, 0, 0, 0, (int32_t)(uint32_t)(v >> 32)), false);
    } else {
      op(&b, FJ_OP_MOV64_IMM, reg, 0, 0, imm32(&r));
    }
  }
  for (unsigned k = 0; k < 4; k++)
    op(&b, FJ_OP_STXDW, FJ_REG_FP, wreg(&r), (int16_t)(-8 * (int)(1 + below(&r, 16))), 0);

  if (o->iv_loops && !o->straight) {
    iv_loop(&b, o, 1 + below(&r, body), call_sites, &ncalls);
  } else {
    p->loop_pc = p->n;
    random_block(&b, o, 1 + below(&r, body), false, call_sites, &ncalls);
  }
  if (!o->straight && !o->iv_loops) {
    put(&b, fj_asm_encode(FJ_OP_ADD64_IMM, 8, 0, 0, -1), true);
    put(&b, fj_asm_encode(FJ_OP_JNE64_IMM, 8, 0, (int16_t)((int32_t)p->loop_pc - (int32_t)p->n - 1), 0), true);
  }
  random_block(&b, o, below(&r, 6), false, call_sites, &ncalls);
  put(&b, fj_asm_encode(FJ_OP_EXIT, 0, 0, 0, 0), true);
  if (ncalls) {
    uint32_t callee = p->n;
    random_block(&b, o, 1 + below(&r, 16), true, NULL, NULL);
    put(&b, fj_asm_encode(FJ_OP_EXIT, 0, 0, 0, 0), true);
    for (uint32_t k = 0; k < ncalls; k++)
      p->insns[call_sites[k]].imm = (int32_t)callee - (int32_t)call_sites[k] - 1;
  }
}

uint64_t fj_gen_helper(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5, void *vm) {
  (void)vm;
  uint64_t h = r1 * 0x9e3779b97f4a7c15ull;
  h ^= (r2 << 7 | r2 >> 57) + r3 * 31;
  h ^= r4 - (r5 >> 3);
  return h;
}
