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

typedef struct builder {
  fj_gen_prog *p;
  rng *r;
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
    op(b, a, wreg(r), rreg(r), 0, alu_imm(r, a));
  } else if (k < 70) {
    enum fj_op l = PICK(r, ld_ops);
    unsigned base;
    int16_t off;
    mem_operand(r, fj_code_size_bytes(fj_op_table[l].code), in_callee, &base, &off);
    op(b, l, wreg(r), base, off, 0);
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
    op(b, a, base, wreg(r), off, 0);
  } else if (o->calls && !in_callee) {
    op(b, FJ_OP_CALL, 0, 0, 0, FJ_GEN_HELPER);
  } else {
    enum fj_op a = PICK(r, alu_ops);
    op(b, a, wreg(r), rreg(r), 0, alu_imm(r, a));
  }
}

/* `len` random slots; forward jumps stay inside them (target <= start + len). */
static void random_block(builder *b, const fj_gen_opts *o, uint32_t len, bool in_callee,
                         uint32_t *call_sites, uint32_t *ncalls) {
  rng *r = b->r;
  uint32_t end = b->p->n + len;
  while (b->p->n < end && b->p->n < FJ_GEN_MAX - 8) {
    uint32_t left = end - b->p->n;
    if (left > 1 && chance(b->r, 15)) {
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
  builder b = {p, &r};
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

  p->loop_pc = p->n;
  random_block(&b, o, 1 + below(&r, body), false, call_sites, &ncalls);
  if (!o->straight) {
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
