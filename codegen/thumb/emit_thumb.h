/* farjit codegen — Thumb-2 (ARMv7E-M) instruction encoders.
 *
 * One encoder per instruction form, named after the instruction (fj_thm_<mnemonic>).  Each picks
 * the 16-bit encoding when the operands fit and the flags allow it, the 32-bit one otherwise, and
 * writes little-endian halfwords (first halfword first) into an fj_thm_buf.
 *
 * Flags.  Most 16-bit data-processing encodings set the flags outside an IT block and do not
 * inside one.  So:
 *   - an "S" encoder (fj_thm_adds, ...) always sets N/Z/C/V as the instruction says; inside an IT
 *     block it uses the 32-bit form;
 *   - a plain encoder (fj_thm_add, ...) never changes the flags unless the caller declared them
 *     dead with b->flags_free, which lets it use the shorter flag-setting 16-bit form.
 * The lowering sets flags_free everywhere except between a flag producer and its consumer.
 * fj_thm_it() opens an IT block; the next 1-4 instructions are counted down in b->it_left.
 *
 * Errors.  An operand no encoding accepts (offset out of range, SP/PC where the architecture
 * forbids them, an immediate that is not representable) never produces bytes: the encoder sets
 * b->bad (the caller aborts the trace).  Running past b->cap sets b->overflow and stops writing;
 * positions keep advancing so that sizes stay exact.  Header-only, no allocation, no globals.
 */
#ifndef FJ_CODEGEN_THUMB_EMIT_THUMB_H
#define FJ_CODEGEN_THUMB_EMIT_THUMB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fj_thm_reg {
  FJ_THM_R0, FJ_THM_R1, FJ_THM_R2, FJ_THM_R3, FJ_THM_R4, FJ_THM_R5, FJ_THM_R6, FJ_THM_R7,
  FJ_THM_R8, FJ_THM_R9, FJ_THM_R10, FJ_THM_R11, FJ_THM_R12, FJ_THM_SP, FJ_THM_LR, FJ_THM_PC
};

/* Condition codes, in their encoding order. */
#define FJ_THM_CONDS(_) \
  _(EQ) _(NE) _(HS) _(LO) _(MI) _(PL) _(VS) _(VC) _(HI) _(LS) _(GE) _(LT) _(GT) _(LE) _(AL)
enum fj_thm_cond {
#define FJ_THM_COND_ENUM(name) FJ_THM_##name,
  FJ_THM_CONDS(FJ_THM_COND_ENUM)
#undef FJ_THM_COND_ENUM
  FJ_THM_COND__COUNT
};
_Static_assert(FJ_THM_COND__COUNT == 15, "condition codes are 4-bit, 15 = always");
static inline enum fj_thm_cond fj_thm_cond_invert(enum fj_thm_cond c) {
  return (enum fj_thm_cond)(c ^ 1);
}

/* Shift types of shifted-register operands. */
enum fj_thm_shift { FJ_THM_LSL, FJ_THM_LSR, FJ_THM_ASR, FJ_THM_ROR };

typedef struct fj_thm_buf {
  uint8_t *p;        /* output; may be NULL with cap 0 to measure */
  uint32_t pos;      /* bytes emitted so far */
  uint32_t cap;
  bool overflow;     /* pos went past cap */
  bool bad;          /* an operand could not be encoded: the code is unusable */
  bool flags_free;   /* plain encoders may clobber the flags */
  uint8_t it_left;   /* instructions left in the current IT block */
} fj_thm_buf;

static inline void fj_thm_buf_init(fj_thm_buf *b, void *p, uint32_t cap) {
  b->p = (uint8_t *)p; b->pos = 0; b->cap = cap;
  b->overflow = b->bad = false; b->flags_free = true; b->it_left = 0;
}

/* ---- raw output ---------------------------------------------------------------------------- */

static inline void fj_thm__h(fj_thm_buf *b, uint32_t h) {
  if (b->pos + 2 <= b->cap) {
    b->p[b->pos] = (uint8_t)h;
    b->p[b->pos + 1] = (uint8_t)(h >> 8);
  } else {
    b->overflow = true;
  }
  b->pos += 2;
}
/* Every instruction goes through one of these two, which count down the IT block. */
static inline void fj_thm_emit16(fj_thm_buf *b, uint32_t h) {
  fj_thm__h(b, h);
  if (b->it_left) b->it_left--;
}
static inline void fj_thm_emit32(fj_thm_buf *b, uint32_t h1, uint32_t h2) {
  fj_thm__h(b, h1);
  fj_thm__h(b, h2);
  if (b->it_left) b->it_left--;
}
static inline void fj_thm_fail(fj_thm_buf *b) { b->bad = true; }

static inline bool fj_thm_lo(unsigned r) { return r < 8; }
static inline bool fj_thm_lo2(unsigned a, unsigned b) { return (a | b) < 8; }
static inline bool fj_thm_lo3(unsigned a, unsigned b, unsigned c) { return (a | b | c) < 8; }
/* A general-purpose register usable in most 32-bit encodings (not SP, not PC). */
static inline bool fj_thm_gp(unsigned r) { return r < 13 || r == FJ_THM_LR; }
/* May a plain (flag-preserving) encoder use a 16-bit flag-setting form here? */
static inline bool fj_thm_may16(const fj_thm_buf *b) { return b->it_left || b->flags_free; }
/* May an S encoder use a 16-bit form (which sets flags only outside IT)? */
static inline bool fj_thm_may16s(const fj_thm_buf *b) { return !b->it_left; }

/* ---- immediates ---------------------------------------------------------------------------- */

/* The 12-bit "modified immediate" (i:imm3:imm8) for v, or -1 if v has none. */
static inline int32_t fj_thm_modimm(uint32_t v) {
  uint32_t lo = v & 0xff;
  if (v == lo) return (int32_t)v;
  if (lo && v == (lo | lo << 16)) return (int32_t)(0x100 | lo);
  uint32_t hi = (v >> 8) & 0xff;
  if (hi && v == (hi << 8 | hi << 24)) return (int32_t)(0x200 | hi);
  if (lo && v == lo * 0x01010101u) return (int32_t)(0x300 | lo);
  for (uint32_t rot = 8; rot < 32; rot++) {
    uint32_t r = (v << rot) | (v >> (32 - rot)); /* undo a right rotation by rot */
    if (r >= 0x80 && r <= 0xff) return (int32_t)(rot << 7 | (r & 0x7f));
  }
  return -1;
}

/* ---- data processing: modified immediate (32-bit) ---------------------------------------- */

enum {
  FJ_THM_OP_AND = 0, FJ_THM_OP_BIC = 1, FJ_THM_OP_ORR = 2, FJ_THM_OP_ORN = 3, FJ_THM_OP_EOR = 4,
  FJ_THM_OP_ADD = 8, FJ_THM_OP_ADC = 10, FJ_THM_OP_SBC = 11, FJ_THM_OP_SUB = 13,
  FJ_THM_OP_RSB = 14,
};

/* op{S}.W rd, rn, #imm.  Returns false (nothing emitted) if imm is not a modified immediate. */
static inline bool fj_thm__dpi(fj_thm_buf *b, unsigned op, bool s, unsigned rd, unsigned rn,
                               uint32_t imm) {
  int32_t m = fj_thm_modimm(imm);
  if (m < 0) return false;
  fj_thm_emit32(b, 0xf000u | ((uint32_t)m >> 11 & 1) << 10 | op << 5 | (uint32_t)s << 4 | rn,
                ((uint32_t)m >> 8 & 7) << 12 | rd << 8 | ((uint32_t)m & 0xff));
  return true;
}

/* op{S}.W rd, rn, rm {, shift #n} */
static inline void fj_thm__dpr(fj_thm_buf *b, unsigned op, bool s, unsigned rd, unsigned rn,
                               unsigned rm, enum fj_thm_shift sh, unsigned n) {
  fj_thm_emit32(b, 0xea00u | op << 5 | (uint32_t)s << 4 | rn,
                (n >> 2 & 7) << 12 | rd << 8 | (n & 3) << 6 | (uint32_t)sh << 4 | rm);
}

/* 16-bit "Rdn, Rm" data processing: 0x4000 | op << 6 */
enum {
  FJ_THM_DP16_AND = 0, FJ_THM_DP16_EOR = 1, FJ_THM_DP16_LSL = 2, FJ_THM_DP16_LSR = 3,
  FJ_THM_DP16_ASR = 4, FJ_THM_DP16_ADC = 5, FJ_THM_DP16_SBC = 6, FJ_THM_DP16_ROR = 7,
  FJ_THM_DP16_TST = 8, FJ_THM_DP16_RSB = 9, FJ_THM_DP16_CMP = 10, FJ_THM_DP16_CMN = 11,
  FJ_THM_DP16_ORR = 12, FJ_THM_DP16_MUL = 13, FJ_THM_DP16_BIC = 14, FJ_THM_DP16_MVN = 15,
};
static inline void fj_thm__dp16(fj_thm_buf *b, unsigned op, unsigned rdn, unsigned rm) {
  fj_thm_emit16(b, 0x4000u | op << 6 | rm << 3 | rdn);
}

/* Two-address logical/arithmetic ops with a 16-bit "Rdn, Rm" form (commutative ones accept
 * rd == rm too). */
static inline void fj_thm__binop(fj_thm_buf *b, unsigned op32, unsigned op16, bool comm, bool s,
                                 unsigned rd, unsigned rn, unsigned rm) {
  bool ok16 = s ? fj_thm_may16s(b) : fj_thm_may16(b);
  if (ok16 && fj_thm_lo3(rd, rn, rm)) {
    if (rd == rn) { fj_thm__dp16(b, op16, rd, rm); return; }
    if (comm && rd == rm) { fj_thm__dp16(b, op16, rd, rn); return; }
  }
  if (!fj_thm_gp(rd) || !fj_thm_gp(rn) || !fj_thm_gp(rm)) { fj_thm_fail(b); return; }
  fj_thm__dpr(b, op32, s, rd, rn, rm, FJ_THM_LSL, 0);
}

#define FJ_THM_BINOPS(_) \
  _(and, AND, AND, true) _(eor, EOR, EOR, true) _(orr, ORR, ORR, true) \
  _(bic, BIC, BIC, false) _(adc, ADC, ADC, true) _(sbc, SBC, SBC, false)
#define FJ_THM_BINOP_FN(name, op32, op16, comm)                                                 \
  static inline void fj_thm_##name(fj_thm_buf *b, unsigned rd, unsigned rn, unsigned rm) {      \
    fj_thm__binop(b, FJ_THM_OP_##op32, FJ_THM_DP16_##op16, comm, false, rd, rn, rm);            \
  }                                                                                             \
  static inline void fj_thm_##name##s(fj_thm_buf *b, unsigned rd, unsigned rn, unsigned rm) {   \
    fj_thm__binop(b, FJ_THM_OP_##op32, FJ_THM_DP16_##op16, comm, true, rd, rn, rm);             \
  }
FJ_THM_BINOPS(FJ_THM_BINOP_FN)
#undef FJ_THM_BINOP_FN

/* ORN has no 16-bit form. */
static inline void fj_thm_orn(fj_thm_buf *b, unsigned rd, unsigned rn, unsigned rm) {
  fj_thm__dpr(b, FJ_THM_OP_ORN, false, rd, rn, rm, FJ_THM_LSL, 0);
}

/* Register with a shifted second operand (no 16-bit forms): e.g. orr rd, rn, rm, lsl #n. */
static inline void fj_thm_dp_shifted(fj_thm_buf *b, unsigned op, bool s, unsigned rd, unsigned rn,
                                     unsigned rm, enum fj_thm_shift sh, unsigned n) {
  if (!fj_thm_gp(rd) || !fj_thm_gp(rn) || !fj_thm_gp(rm) || n > 31) { fj_thm_fail(b); return; }
  fj_thm__dpr(b, op, s, rd, rn, rm, sh, n);
}

/* Logical ops with an immediate: modified immediate, or the complement with the dual op. */
static inline void fj_thm__logi(fj_thm_buf *b, unsigned op, unsigned dual, bool s, unsigned rd,
                                unsigned rn, uint32_t imm) {
  if (!fj_thm_gp(rd) || !fj_thm_gp(rn)) { fj_thm_fail(b); return; }
  if (fj_thm__dpi(b, op, s, rd, rn, imm)) return;
  if (dual != op && fj_thm__dpi(b, dual, s, rd, rn, ~imm)) return;
  fj_thm_fail(b);
}
static inline void fj_thm_and_imm(fj_thm_buf *b, unsigned rd, unsigned rn, uint32_t imm) {
  fj_thm__logi(b, FJ_THM_OP_AND, FJ_THM_OP_BIC, false, rd, rn, imm);
}
static inline void fj_thm_ands_imm(fj_thm_buf *b, unsigned rd, unsigned rn, uint32_t imm) {
  fj_thm__logi(b, FJ_THM_OP_AND, FJ_THM_OP_BIC, true, rd, rn, imm);
}
static inline void fj_thm_bic_imm(fj_thm_buf *b, unsigned rd, unsigned rn, uint32_t imm) {
  fj_thm__logi(b, FJ_THM_OP_BIC, FJ_THM_OP_AND, false, rd, rn, imm);
}
static inline void fj_thm_orr_imm(fj_thm_buf *b, unsigned rd, unsigned rn, uint32_t imm) {
  fj_thm__logi(b, FJ_THM_OP_ORR, FJ_THM_OP_ORN, false, rd, rn, imm);
}
static inline void fj_thm_orn_imm(fj_thm_buf *b, unsigned rd, unsigned rn, uint32_t imm) {
  fj_thm__logi(b, FJ_THM_OP_ORN, FJ_THM_OP_ORR, false, rd, rn, imm);
}
static inline void fj_thm_eor_imm(fj_thm_buf *b, unsigned rd, unsigned rn, uint32_t imm) {
  fj_thm__logi(b, FJ_THM_OP_EOR, FJ_THM_OP_EOR, false, rd, rn, imm);
}
static inline void fj_thm_tst_imm(fj_thm_buf *b, unsigned rn, uint32_t imm) {
  if (!fj_thm_gp(rn) || !fj_thm__dpi(b, FJ_THM_OP_AND, true, FJ_THM_PC, rn, imm)) fj_thm_fail(b);
}
/* ADC/SBC with an immediate (carry chains of 64-bit constants). */
static inline void fj_thm_adc_imm(fj_thm_buf *b, unsigned rd, unsigned rn, uint32_t imm) {
  if (fj_thm_gp(rd) && fj_thm_gp(rn) && fj_thm__dpi(b, FJ_THM_OP_ADC, false, rd, rn, imm)) return;
  if (fj_thm_gp(rd) && fj_thm_gp(rn) && fj_thm__dpi(b, FJ_THM_OP_SBC, false, rd, rn, ~imm)) return;
  fj_thm_fail(b);
}
static inline void fj_thm_sbc_imm(fj_thm_buf *b, unsigned rd, unsigned rn, uint32_t imm) {
  if (fj_thm_gp(rd) && fj_thm_gp(rn) && fj_thm__dpi(b, FJ_THM_OP_SBC, false, rd, rn, imm)) return;
  if (fj_thm_gp(rd) && fj_thm_gp(rn) && fj_thm__dpi(b, FJ_THM_OP_ADC, false, rd, rn, ~imm)) return;
  fj_thm_fail(b);
}

/* sbcs rd, rn, #imm (64-bit compare chains: the flags are the point). */
static inline void fj_thm_sbcs_imm(fj_thm_buf *b, unsigned rd, unsigned rn, uint32_t imm) {
  if (!fj_thm_gp(rd) || !fj_thm_gp(rn) || !fj_thm__dpi(b, FJ_THM_OP_SBC, true, rd, rn, imm))
    fj_thm_fail(b);
}

/* ---- add / sub ----------------------------------------------------------------------------- */

static inline void fj_thm__addsub(fj_thm_buf *b, bool sub, bool s, unsigned rd, unsigned rn,
                                  unsigned rm) {
  bool ok16 = s ? fj_thm_may16s(b) : fj_thm_may16(b);
  if (ok16 && fj_thm_lo3(rd, rn, rm)) {
    fj_thm_emit16(b, (sub ? 0x1a00u : 0x1800u) | rm << 6 | rn << 3 | rd);
    return;
  }
  /* ADD Rdn, Rm (any registers, never sets flags) */
  if (!sub && !s && (rd == rn || rd == rm) && rd != FJ_THM_PC && rd != FJ_THM_SP) {
    unsigned other = rd == rn ? rm : rn;
    if (other != FJ_THM_PC) {
      fj_thm_emit16(b, 0x4400u | (rd >> 3) << 7 | other << 3 | (rd & 7));
      return;
    }
  }
  if (!fj_thm_gp(rd) || (!fj_thm_gp(rn) && rn != FJ_THM_SP) || !fj_thm_gp(rm)) {
    fj_thm_fail(b);
    return;
  }
  fj_thm__dpr(b, sub ? FJ_THM_OP_SUB : FJ_THM_OP_ADD, s, rd, rn, rm, FJ_THM_LSL, 0);
}
static inline void fj_thm_add(fj_thm_buf *b, unsigned rd, unsigned rn, unsigned rm) {
  fj_thm__addsub(b, false, false, rd, rn, rm);
}
static inline void fj_thm_adds(fj_thm_buf *b, unsigned rd, unsigned rn, unsigned rm) {
  fj_thm__addsub(b, false, true, rd, rn, rm);
}
static inline void fj_thm_sub(fj_thm_buf *b, unsigned rd, unsigned rn, unsigned rm) {
  fj_thm__addsub(b, true, false, rd, rn, rm);
}
static inline void fj_thm_subs(fj_thm_buf *b, unsigned rd, unsigned rn, unsigned rm) {
  fj_thm__addsub(b, true, true, rd, rn, rm);
}

/* rd = rn +/- imm for any 32-bit imm that some form takes: imm3/imm8 (16-bit), SP forms,
 * modified immediate, the negated op, ADDW/SUBW imm12.  Sets b->bad if none does (the caller
 * then materializes imm in a register). */
static inline bool fj_thm__addsub_imm_fits(uint32_t imm) {
  return imm < 4096 || fj_thm_modimm(imm) >= 0;
}
static inline bool fj_thm__addsub_imm16(fj_thm_buf *b, bool sub, unsigned rd, unsigned rn,
                                        uint32_t imm) {
  if (imm < 8) {
    fj_thm_emit16(b, (sub ? 0x1e00u : 0x1c00u) | imm << 6 | rn << 3 | rd);
    return true;
  }
  if (rd == rn && imm < 256) {
    fj_thm_emit16(b, (sub ? 0x3800u : 0x3000u) | rd << 8 | imm);
    return true;
  }
  return false;
}
static inline bool fj_thm__addsub_w(fj_thm_buf *b, bool sub, unsigned rd, unsigned rn, uint32_t imm) {
  if (imm >= 4096) return false;
  fj_thm_emit32(b, (sub ? 0xf2a0u : 0xf200u) | (imm >> 11 & 1) << 10 | rn,
                (imm >> 8 & 7) << 12 | rd << 8 | (imm & 0xff));
  return true;
}
/* The flag-setting variants never swap add for sub of the negation: C would differ. */
static inline void fj_thm__addsub_imm(fj_thm_buf *b, bool sub, bool s, unsigned rd, unsigned rn,
                                      uint32_t imm) {
  uint32_t neg = 0u - imm;
  bool ok16 = s ? fj_thm_may16s(b) : fj_thm_may16(b);
  if (ok16 && fj_thm_lo2(rd, rn)) {
    if (fj_thm__addsub_imm16(b, sub, rd, rn, imm)) return;
    if (!s && fj_thm__addsub_imm16(b, !sub, rd, rn, neg)) return;
  }
  if (!s && rn == FJ_THM_SP) {
    if (rd == FJ_THM_SP && imm % 4 == 0 && imm < 512) {
      fj_thm_emit16(b, (sub ? 0xb080u : 0xb000u) | imm / 4);
      return;
    }
    if (!sub && fj_thm_lo(rd) && imm % 4 == 0 && imm < 1024) {
      fj_thm_emit16(b, 0xa800u | rd << 8 | imm / 4);
      return;
    }
  }
  if (rd == FJ_THM_PC || rn == FJ_THM_PC || (rd == FJ_THM_SP && rn != FJ_THM_SP)) {
    fj_thm_fail(b);
    return;
  }
  if (fj_thm__dpi(b, sub ? FJ_THM_OP_SUB : FJ_THM_OP_ADD, s, rd, rn, imm)) return;
  if (!s && fj_thm__dpi(b, sub ? FJ_THM_OP_ADD : FJ_THM_OP_SUB, s, rd, rn, neg)) return;
  if (!s && fj_thm__addsub_w(b, sub, rd, rn, imm)) return;
  if (!s && fj_thm__addsub_w(b, !sub, rd, rn, neg)) return;
  fj_thm_fail(b);
}
static inline void fj_thm_add_imm(fj_thm_buf *b, unsigned rd, unsigned rn, uint32_t imm) {
  fj_thm__addsub_imm(b, false, false, rd, rn, imm);
}
static inline void fj_thm_adds_imm(fj_thm_buf *b, unsigned rd, unsigned rn, uint32_t imm) {
  fj_thm__addsub_imm(b, false, true, rd, rn, imm);
}
static inline void fj_thm_sub_imm(fj_thm_buf *b, unsigned rd, unsigned rn, uint32_t imm) {
  fj_thm__addsub_imm(b, true, false, rd, rn, imm);
}
static inline void fj_thm_subs_imm(fj_thm_buf *b, unsigned rd, unsigned rn, uint32_t imm) {
  fj_thm__addsub_imm(b, true, true, rd, rn, imm);
}
/* Can rd = rn + imm be done in one instruction (no scratch register)? */
static inline bool fj_thm_add_imm_fits(uint32_t imm) {
  return fj_thm__addsub_imm_fits(imm) || fj_thm__addsub_imm_fits(0u - imm);
}

/* rd = imm - rn (RSB).  NEGS rd, rn is the 16-bit form of rsbs rd, rn, #0. */
static inline void fj_thm__rsb_imm(fj_thm_buf *b, bool s, unsigned rd, unsigned rn, uint32_t imm) {
  bool ok16 = s ? fj_thm_may16s(b) : fj_thm_may16(b);
  if (imm == 0 && ok16 && fj_thm_lo2(rd, rn)) { fj_thm__dp16(b, FJ_THM_DP16_RSB, rd, rn); return; }
  if (!fj_thm_gp(rd) || !fj_thm_gp(rn) || !fj_thm__dpi(b, FJ_THM_OP_RSB, s, rd, rn, imm))
    fj_thm_fail(b);
}
static inline void fj_thm_rsb_imm(fj_thm_buf *b, unsigned rd, unsigned rn, uint32_t imm) {
  fj_thm__rsb_imm(b, false, rd, rn, imm);
}
static inline void fj_thm_rsbs_imm(fj_thm_buf *b, unsigned rd, unsigned rn, uint32_t imm) {
  fj_thm__rsb_imm(b, true, rd, rn, imm);
}

/* ---- compare ------------------------------------------------------------------------------- */

static inline void fj_thm_cmp(fj_thm_buf *b, unsigned rn, unsigned rm) {
  if (fj_thm_lo2(rn, rm)) { fj_thm__dp16(b, FJ_THM_DP16_CMP, rn, rm); return; }
  if (rn != FJ_THM_PC && rm != FJ_THM_PC) { /* CMP T2: any registers, not both low */
    fj_thm_emit16(b, 0x4500u | (rn >> 3) << 7 | rm << 3 | (rn & 7));
    return;
  }
  fj_thm_fail(b);
}
static inline void fj_thm_cmn(fj_thm_buf *b, unsigned rn, unsigned rm) {
  if (fj_thm_lo2(rn, rm)) { fj_thm__dp16(b, FJ_THM_DP16_CMN, rn, rm); return; }
  if (!fj_thm_gp(rn) || !fj_thm_gp(rm)) { fj_thm_fail(b); return; }
  fj_thm__dpr(b, FJ_THM_OP_ADD, true, FJ_THM_PC, rn, rm, FJ_THM_LSL, 0);
}
static inline void fj_thm_tst(fj_thm_buf *b, unsigned rn, unsigned rm) {
  if (fj_thm_lo2(rn, rm)) { fj_thm__dp16(b, FJ_THM_DP16_TST, rn, rm); return; }
  if (!fj_thm_gp(rn) || !fj_thm_gp(rm)) { fj_thm_fail(b); return; }
  fj_thm__dpr(b, FJ_THM_OP_AND, true, FJ_THM_PC, rn, rm, FJ_THM_LSL, 0);
}
/* TEQ: equality without touching C from an addition (32-bit only). */
static inline void fj_thm_teq(fj_thm_buf *b, unsigned rn, unsigned rm) {
  if (!fj_thm_gp(rn) || !fj_thm_gp(rm)) { fj_thm_fail(b); return; }
  fj_thm__dpr(b, FJ_THM_OP_EOR, true, FJ_THM_PC, rn, rm, FJ_THM_LSL, 0);
}
/* cmp rn, #imm (or cmn rn, #-imm).  Sets b->bad if neither fits. */
static inline void fj_thm_cmp_imm(fj_thm_buf *b, unsigned rn, uint32_t imm) {
  if (fj_thm_lo(rn) && imm < 256) { fj_thm_emit16(b, 0x2800u | rn << 8 | imm); return; }
  if (fj_thm_gp(rn) && fj_thm__dpi(b, FJ_THM_OP_SUB, true, FJ_THM_PC, rn, imm)) return;
  if (fj_thm_gp(rn) && fj_thm__dpi(b, FJ_THM_OP_ADD, true, FJ_THM_PC, rn, 0u - imm)) return;
  fj_thm_fail(b);
}
static inline bool fj_thm_cmp_imm_fits(uint32_t imm) {
  return imm < 256 || fj_thm_modimm(imm) >= 0 || fj_thm_modimm(0u - imm) >= 0;
}

/* ---- moves --------------------------------------------------------------------------------- */

static inline void fj_thm_mov(fj_thm_buf *b, unsigned rd, unsigned rm) {
  if (rd == FJ_THM_PC) { fj_thm_fail(b); return; }
  fj_thm_emit16(b, 0x4600u | (rd >> 3) << 7 | rm << 3 | (rd & 7));
}
static inline void fj_thm_movs(fj_thm_buf *b, unsigned rd, unsigned rm) {
  if (fj_thm_may16s(b) && fj_thm_lo2(rd, rm)) { fj_thm_emit16(b, rm << 3 | rd); return; }
  if (!fj_thm_gp(rd) || !fj_thm_gp(rm)) { fj_thm_fail(b); return; }
  fj_thm__dpr(b, FJ_THM_OP_ORR, true, rd, FJ_THM_PC, rm, FJ_THM_LSL, 0);
}
static inline void fj_thm_mvn(fj_thm_buf *b, unsigned rd, unsigned rm) {
  if (fj_thm_may16(b) && fj_thm_lo2(rd, rm)) { fj_thm__dp16(b, FJ_THM_DP16_MVN, rd, rm); return; }
  if (!fj_thm_gp(rd) || !fj_thm_gp(rm)) { fj_thm_fail(b); return; }
  fj_thm__dpr(b, FJ_THM_OP_ORN, false, rd, FJ_THM_PC, rm, FJ_THM_LSL, 0);
}
static inline void fj_thm_movw(fj_thm_buf *b, unsigned rd, uint32_t imm16) {
  if (!fj_thm_gp(rd) || imm16 > 0xffff) { fj_thm_fail(b); return; }
  fj_thm_emit32(b, 0xf240u | (imm16 >> 11 & 1) << 10 | imm16 >> 12,
                (imm16 >> 8 & 7) << 12 | rd << 8 | (imm16 & 0xff));
}
static inline void fj_thm_movt(fj_thm_buf *b, unsigned rd, uint32_t imm16) {
  if (!fj_thm_gp(rd) || imm16 > 0xffff) { fj_thm_fail(b); return; }
  fj_thm_emit32(b, 0xf2c0u | (imm16 >> 11 & 1) << 10 | imm16 >> 12,
                (imm16 >> 8 & 7) << 12 | rd << 8 | (imm16 & 0xff));
}
/* rd = imm, shortest form: movs (flags free), mov.w / mvn modified immediate, movw, movw+movt. */
static inline void fj_thm_mov_imm(fj_thm_buf *b, unsigned rd, uint32_t imm) {
  if (!fj_thm_gp(rd)) { fj_thm_fail(b); return; }
  if (imm < 256 && fj_thm_lo(rd) && fj_thm_may16(b)) { fj_thm_emit16(b, 0x2000u | rd << 8 | imm); return; }
  if (fj_thm__dpi(b, FJ_THM_OP_ORR, false, rd, FJ_THM_PC, imm)) return;
  if (fj_thm__dpi(b, FJ_THM_OP_ORN, false, rd, FJ_THM_PC, ~imm)) return;
  fj_thm_movw(b, rd, imm & 0xffff);
  if (imm >> 16) fj_thm_movt(b, rd, imm >> 16);
}
/* Fixed-size movw+movt (8 bytes), for THM_MOVW_MOVT relocations. */
static inline void fj_thm_movw_movt(fj_thm_buf *b, unsigned rd, uint32_t imm) {
  fj_thm_movw(b, rd, imm & 0xffff);
  fj_thm_movt(b, rd, imm >> 16);
}

/* ---- shifts -------------------------------------------------------------------------------- */

/* lsl/lsr/asr rd, rm, #n.  n = 0 is a move; lsr/asr accept 32. */
static inline void fj_thm__shift_imm(fj_thm_buf *b, enum fj_thm_shift sh, bool s, unsigned rd,
                                     unsigned rm, unsigned n) {
  if (n == 0) { if (s) fj_thm_movs(b, rd, rm); else if (rd != rm) fj_thm_mov(b, rd, rm); return; }
  if (n > 32 || (n == 32 && sh == FJ_THM_LSL) || (n == 32 && sh == FJ_THM_ROR)) {
    fj_thm_fail(b);
    return;
  }
  bool ok16 = s ? fj_thm_may16s(b) : fj_thm_may16(b);
  if (ok16 && sh != FJ_THM_ROR && fj_thm_lo2(rd, rm)) {
    fj_thm_emit16(b, (uint32_t)sh << 11 | (n & 31) << 6 | rm << 3 | rd);
    return;
  }
  if (!fj_thm_gp(rd) || !fj_thm_gp(rm)) { fj_thm_fail(b); return; }
  fj_thm__dpr(b, FJ_THM_OP_ORR, s, rd, FJ_THM_PC, rm, sh, n & 31);
}
static inline void fj_thm_lsl_imm(fj_thm_buf *b, unsigned rd, unsigned rm, unsigned n) {
  fj_thm__shift_imm(b, FJ_THM_LSL, false, rd, rm, n);
}
static inline void fj_thm_lsr_imm(fj_thm_buf *b, unsigned rd, unsigned rm, unsigned n) {
  fj_thm__shift_imm(b, FJ_THM_LSR, false, rd, rm, n);
}
static inline void fj_thm_asr_imm(fj_thm_buf *b, unsigned rd, unsigned rm, unsigned n) {
  fj_thm__shift_imm(b, FJ_THM_ASR, false, rd, rm, n);
}
static inline void fj_thm_ror_imm(fj_thm_buf *b, unsigned rd, unsigned rm, unsigned n) {
  fj_thm__shift_imm(b, FJ_THM_ROR, false, rd, rm, n);
}
static inline void fj_thm_lsls_imm(fj_thm_buf *b, unsigned rd, unsigned rm, unsigned n) {
  fj_thm__shift_imm(b, FJ_THM_LSL, true, rd, rm, n);
}
static inline void fj_thm_lsrs_imm(fj_thm_buf *b, unsigned rd, unsigned rm, unsigned n) {
  fj_thm__shift_imm(b, FJ_THM_LSR, true, rd, rm, n);
}
static inline void fj_thm_asrs_imm(fj_thm_buf *b, unsigned rd, unsigned rm, unsigned n) {
  fj_thm__shift_imm(b, FJ_THM_ASR, true, rd, rm, n);
}

/* rd = rn <shift> rm (register count: the bottom byte of rm; >= 32 gives 0 / sign fill). */
static inline void fj_thm__shift_reg(fj_thm_buf *b, enum fj_thm_shift sh, bool s, unsigned rd,
                                     unsigned rn, unsigned rm) {
  static const uint8_t op16[4] = {FJ_THM_DP16_LSL, FJ_THM_DP16_LSR, FJ_THM_DP16_ASR, FJ_THM_DP16_ROR};
  bool ok16 = s ? fj_thm_may16s(b) : fj_thm_may16(b);
  if (ok16 && rd == rn && fj_thm_lo2(rd, rm)) { fj_thm__dp16(b, op16[sh], rd, rm); return; }
  if (!fj_thm_gp(rd) || !fj_thm_gp(rn) || !fj_thm_gp(rm)) { fj_thm_fail(b); return; }
  fj_thm_emit32(b, 0xfa00u | (uint32_t)sh << 5 | (uint32_t)s << 4 | rn, 0xf000u | rd << 8 | rm);
}
static inline void fj_thm_lsl(fj_thm_buf *b, unsigned rd, unsigned rn, unsigned rm) {
  fj_thm__shift_reg(b, FJ_THM_LSL, false, rd, rn, rm);
}
static inline void fj_thm_lsr(fj_thm_buf *b, unsigned rd, unsigned rn, unsigned rm) {
  fj_thm__shift_reg(b, FJ_THM_LSR, false, rd, rn, rm);
}
static inline void fj_thm_asr(fj_thm_buf *b, unsigned rd, unsigned rn, unsigned rm) {
  fj_thm__shift_reg(b, FJ_THM_ASR, false, rd, rn, rm);
}
static inline void fj_thm_lsls(fj_thm_buf *b, unsigned rd, unsigned rn, unsigned rm) {
  fj_thm__shift_reg(b, FJ_THM_LSL, true, rd, rn, rm);
}
static inline void fj_thm_lsrs(fj_thm_buf *b, unsigned rd, unsigned rn, unsigned rm) {
  fj_thm__shift_reg(b, FJ_THM_LSR, true, rd, rn, rm);
}
static inline void fj_thm_asrs(fj_thm_buf *b, unsigned rd, unsigned rn, unsigned rm) {
  fj_thm__shift_reg(b, FJ_THM_ASR, true, rd, rn, rm);
}

/* ---- multiply and divide ------------------------------------------------------------------- */

static inline void fj_thm_mul(fj_thm_buf *b, unsigned rd, unsigned rn, unsigned rm) {
  if (fj_thm_may16(b) && fj_thm_lo3(rd, rn, rm) && (rd == rm || rd == rn)) {
    fj_thm__dp16(b, FJ_THM_DP16_MUL, rd, rd == rm ? rn : rm); /* muls rd, rn, rd */
    return;
  }
  if (!fj_thm_gp(rd) || !fj_thm_gp(rn) || !fj_thm_gp(rm)) { fj_thm_fail(b); return; }
  fj_thm_emit32(b, 0xfb00u | rn, 0xf000u | rd << 8 | rm);
}
/* rd = ra + rn * rm */
static inline void fj_thm_mla(fj_thm_buf *b, unsigned rd, unsigned rn, unsigned rm, unsigned ra) {
  if (!fj_thm_gp(rd) || !fj_thm_gp(rn) || !fj_thm_gp(rm) || !fj_thm_gp(ra)) { fj_thm_fail(b); return; }
  fj_thm_emit32(b, 0xfb00u | rn, ra << 12 | rd << 8 | rm);
}
/* rd = ra - rn * rm */
static inline void fj_thm_mls(fj_thm_buf *b, unsigned rd, unsigned rn, unsigned rm, unsigned ra) {
  if (!fj_thm_gp(rd) || !fj_thm_gp(rn) || !fj_thm_gp(rm) || !fj_thm_gp(ra)) { fj_thm_fail(b); return; }
  fj_thm_emit32(b, 0xfb00u | rn, ra << 12 | rd << 8 | 0x10u | rm);
}
static inline void fj_thm__long_mul(fj_thm_buf *b, uint32_t op, unsigned lo, unsigned hi,
                                    unsigned rn, unsigned rm) {
  if (!fj_thm_gp(lo) || !fj_thm_gp(hi) || !fj_thm_gp(rn) || !fj_thm_gp(rm) || lo == hi) {
    fj_thm_fail(b);
    return;
  }
  fj_thm_emit32(b, op | rn, lo << 12 | hi << 8 | rm);
}
/* hi:lo = rn * rm */
static inline void fj_thm_umull(fj_thm_buf *b, unsigned lo, unsigned hi, unsigned rn, unsigned rm) {
  fj_thm__long_mul(b, 0xfba0u, lo, hi, rn, rm);
}
static inline void fj_thm_smull(fj_thm_buf *b, unsigned lo, unsigned hi, unsigned rn, unsigned rm) {
  fj_thm__long_mul(b, 0xfb80u, lo, hi, rn, rm);
}
/* hi:lo += rn * rm */
static inline void fj_thm_umlal(fj_thm_buf *b, unsigned lo, unsigned hi, unsigned rn, unsigned rm) {
  fj_thm__long_mul(b, 0xfbe0u, lo, hi, rn, rm);
}
/* hi:lo = rn * rm + lo + hi (never overflows; ARMv7E-M) */
static inline void fj_thm_umaal(fj_thm_buf *b, unsigned lo, unsigned hi, unsigned rn, unsigned rm) {
  if (!fj_thm_gp(lo) || !fj_thm_gp(hi) || !fj_thm_gp(rn) || !fj_thm_gp(rm) || lo == hi) {
    fj_thm_fail(b);
    return;
  }
  fj_thm_emit32(b, 0xfbe0u | rn, lo << 12 | hi << 8 | 0x60u | rm);
}
/* rd = rn / rm.  The hardware gives 0 for rm == 0 only with CCR.DIV_0_TRP clear, and
 * INT_MIN / -1 = INT_MIN: the lowering guards both cases itself. */
static inline void fj_thm_udiv(fj_thm_buf *b, unsigned rd, unsigned rn, unsigned rm) {
  if (!fj_thm_gp(rd) || !fj_thm_gp(rn) || !fj_thm_gp(rm)) { fj_thm_fail(b); return; }
  fj_thm_emit32(b, 0xfbb0u | rn, 0xf0f0u | rd << 8 | rm);
}
static inline void fj_thm_sdiv(fj_thm_buf *b, unsigned rd, unsigned rn, unsigned rm) {
  if (!fj_thm_gp(rd) || !fj_thm_gp(rn) || !fj_thm_gp(rm)) { fj_thm_fail(b); return; }
  fj_thm_emit32(b, 0xfb90u | rn, 0xf0f0u | rd << 8 | rm);
}

/* ---- extend, byte reverse ------------------------------------------------------------------ */

static inline void fj_thm__ext(fj_thm_buf *b, uint32_t op16, uint32_t op32, unsigned rd, unsigned rm) {
  if (fj_thm_lo2(rd, rm)) { fj_thm_emit16(b, op16 | rm << 3 | rd); return; }
  if (!fj_thm_gp(rd) || !fj_thm_gp(rm)) { fj_thm_fail(b); return; }
  fj_thm_emit32(b, op32, 0xf080u | rd << 8 | rm);
}
static inline void fj_thm_sxtb(fj_thm_buf *b, unsigned rd, unsigned rm) { fj_thm__ext(b, 0xb240u, 0xfa4fu, rd, rm); }
static inline void fj_thm_sxth(fj_thm_buf *b, unsigned rd, unsigned rm) { fj_thm__ext(b, 0xb200u, 0xfa0fu, rd, rm); }
static inline void fj_thm_uxtb(fj_thm_buf *b, unsigned rd, unsigned rm) { fj_thm__ext(b, 0xb2c0u, 0xfa5fu, rd, rm); }
static inline void fj_thm_uxth(fj_thm_buf *b, unsigned rd, unsigned rm) { fj_thm__ext(b, 0xb280u, 0xfa1fu, rd, rm); }

static inline void fj_thm__rev(fj_thm_buf *b, uint32_t op16, uint32_t op2, unsigned rd, unsigned rm) {
  if (fj_thm_lo2(rd, rm)) { fj_thm_emit16(b, op16 | rm << 3 | rd); return; }
  if (!fj_thm_gp(rd) || !fj_thm_gp(rm)) { fj_thm_fail(b); return; }
  fj_thm_emit32(b, 0xfa90u | rm, op2 | rd << 8 | rm);
}
static inline void fj_thm_rev(fj_thm_buf *b, unsigned rd, unsigned rm) { fj_thm__rev(b, 0xba00u, 0xf080u, rd, rm); }
static inline void fj_thm_rev16(fj_thm_buf *b, unsigned rd, unsigned rm) { fj_thm__rev(b, 0xba40u, 0xf090u, rd, rm); }
static inline void fj_thm_revsh(fj_thm_buf *b, unsigned rd, unsigned rm) { fj_thm__rev(b, 0xbac0u, 0xf0b0u, rd, rm); }

/* ---- loads and stores ---------------------------------------------------------------------- */

/* _(name, 16-bit imm5 opcode or 0, log2 size, 16-bit register-offset op, 32-bit hw1 base) */
#define FJ_THM_LDST(_)                            \
  _(STR,   0x6000, 2, 0x5000, 0xf840)             \
  _(STRH,  0x8000, 1, 0x5200, 0xf820)             \
  _(STRB,  0x7000, 0, 0x5400, 0xf800)             \
  _(LDR,   0x6800, 2, 0x5800, 0xf850)             \
  _(LDRH,  0x8800, 1, 0x5a00, 0xf830)             \
  _(LDRB,  0x7800, 0, 0x5c00, 0xf810)             \
  _(LDRSH, 0,      1, 0x5e00, 0xf930)             \
  _(LDRSB, 0,      0, 0x5600, 0xf910)
enum fj_thm_ldst {
#define FJ_THM_LDST_ENUM(name, o16, sz, r16, w32) FJ_THM_##name,
  FJ_THM_LDST(FJ_THM_LDST_ENUM)
#undef FJ_THM_LDST_ENUM
  FJ_THM_LDST__COUNT
};
_Static_assert(FJ_THM_LDST__COUNT == 8, "load/store forms");
typedef struct fj_thm_ldst_info { uint16_t imm16, reg16, w32; uint8_t lg; } fj_thm_ldst_info;
static const fj_thm_ldst_info fj_thm_ldst_table[FJ_THM_LDST__COUNT] = {
#define FJ_THM_LDST_INFO(name, o16, sz, r16, w32) {o16, r16, w32, sz},
  FJ_THM_LDST(FJ_THM_LDST_INFO)
#undef FJ_THM_LDST_INFO
};

/* Can [rn, #off] be addressed in one instruction? */
static inline bool fj_thm_ldst_off_fits(int32_t off) { return off > -256 && off < 4096; }

/* op rt, [rn, #off]: imm5 (16-bit, scaled), SP-relative imm8 (word), imm12, or negative imm8. */
static inline void fj_thm_ldst(fj_thm_buf *b, enum fj_thm_ldst op, unsigned rt, unsigned rn,
                               int32_t off) {
  const fj_thm_ldst_info *d = &fj_thm_ldst_table[op];
  uint32_t u = (uint32_t)off;
  if (d->imm16 && fj_thm_lo2(rt, rn) && off >= 0 && (u & ((1u << d->lg) - 1)) == 0 &&
      (u >> d->lg) < 32) {
    fj_thm_emit16(b, d->imm16 | (u >> d->lg) << 6 | rn << 3 | rt);
    return;
  }
  if (rn == FJ_THM_SP && d->lg == 2 && d->imm16 && fj_thm_lo(rt) && off >= 0 && u % 4 == 0 && u < 1024) {
    fj_thm_emit16(b, (op == FJ_THM_STR ? 0x9000u : 0x9800u) | rt << 8 | u / 4);
    return;
  }
  if (rn == FJ_THM_PC || !fj_thm_gp(rt)) { fj_thm_fail(b); return; }
  if (off >= 0 && off < 4096) {
    fj_thm_emit32(b, d->w32 | 0x80u | rn, rt << 12 | u);
    return;
  }
  if (off < 0 && off > -256) {
    fj_thm_emit32(b, d->w32 | rn, rt << 12 | 0xc00u | (0u - u));
    return;
  }
  fj_thm_fail(b);
}
/* op rt, [rn, rm] */
static inline void fj_thm_ldst_reg(fj_thm_buf *b, enum fj_thm_ldst op, unsigned rt, unsigned rn,
                                   unsigned rm) {
  const fj_thm_ldst_info *d = &fj_thm_ldst_table[op];
  if (fj_thm_lo3(rt, rn, rm)) { fj_thm_emit16(b, d->reg16 | rm << 6 | rn << 3 | rt); return; }
  if (!fj_thm_gp(rt) || rn == FJ_THM_PC || !fj_thm_gp(rm)) { fj_thm_fail(b); return; }
  fj_thm_emit32(b, d->w32 | rn, rt << 12 | rm);
}
#define FJ_THM_LDST_FN(name, lname)                                                             \
  static inline void fj_thm_##lname(fj_thm_buf *b, unsigned rt, unsigned rn, int32_t off) {     \
    fj_thm_ldst(b, FJ_THM_##name, rt, rn, off);                                                 \
  }
FJ_THM_LDST_FN(STR, str) FJ_THM_LDST_FN(STRH, strh) FJ_THM_LDST_FN(STRB, strb)
FJ_THM_LDST_FN(LDR, ldr) FJ_THM_LDST_FN(LDRH, ldrh) FJ_THM_LDST_FN(LDRB, ldrb)
FJ_THM_LDST_FN(LDRSH, ldrsh) FJ_THM_LDST_FN(LDRSB, ldrsb)
#undef FJ_THM_LDST_FN

/* ldrd/strd rt, rt2, [rn, #off]: off a multiple of 4 in (-1024, 1024). */
static inline bool fj_thm_ldrd_off_fits(int32_t off) { return off % 4 == 0 && off > -1024 && off < 1024; }
static inline void fj_thm__ldstrd(fj_thm_buf *b, bool load, unsigned rt, unsigned rt2, unsigned rn,
                                  int32_t off) {
  if (!fj_thm_ldrd_off_fits(off) || !fj_thm_gp(rt) || !fj_thm_gp(rt2) || rn == FJ_THM_PC ||
      (load && rt == rt2)) {
    fj_thm_fail(b);
    return;
  }
  uint32_t up = off >= 0, imm = (uint32_t)(off >= 0 ? off : -off) / 4;
  fj_thm_emit32(b, (load ? 0xe950u : 0xe940u) | up << 7 | rn, rt << 12 | rt2 << 8 | imm);
}
static inline void fj_thm_ldrd(fj_thm_buf *b, unsigned rt, unsigned rt2, unsigned rn, int32_t off) {
  fj_thm__ldstrd(b, true, rt, rt2, rn, off);
}
static inline void fj_thm_strd(fj_thm_buf *b, unsigned rt, unsigned rt2, unsigned rn, int32_t off) {
  fj_thm__ldstrd(b, false, rt, rt2, rn, off);
}

/* Exclusive access (32-bit atomics; ARMv7-M has no LDREXD). */
static inline void fj_thm_ldrex(fj_thm_buf *b, unsigned rt, unsigned rn) {
  if (!fj_thm_gp(rt) || rn == FJ_THM_PC) { fj_thm_fail(b); return; }
  fj_thm_emit32(b, 0xe850u | rn, rt << 12 | 0xf00u);
}
/* rd = 0 if the store happened, 1 if the monitor was lost */
static inline void fj_thm_strex(fj_thm_buf *b, unsigned rd, unsigned rt, unsigned rn) {
  if (!fj_thm_gp(rd) || !fj_thm_gp(rt) || rn == FJ_THM_PC || rd == rt || rd == rn) {
    fj_thm_fail(b);
    return;
  }
  fj_thm_emit32(b, 0xe840u | rn, rt << 12 | rd << 8);
}

/* push/pop {list}: bit i = register i.  16-bit when only r0-r7 plus lr (push) / pc (pop). */
static inline void fj_thm_push(fj_thm_buf *b, uint32_t list) {
  if (!list || list & ~0x5fffu) { fj_thm_fail(b); return; }
  if (!(list & ~0x40ffu)) { fj_thm_emit16(b, 0xb400u | (list >> 14 & 1) << 8 | (list & 0xff)); return; }
  if ((list & (list - 1)) == 0) { /* one register: str.w rt, [sp, #-4]! */
    unsigned r = (unsigned)__builtin_ctz(list);
    fj_thm_emit32(b, 0xf84du, (uint32_t)r << 12 | 0xd04u);
    return;
  }
  fj_thm_emit32(b, 0xe92du, list);
}
static inline void fj_thm_pop(fj_thm_buf *b, uint32_t list) {
  if (!list || list & 0x2000u || (list & 0xc000u) == 0xc000u) { fj_thm_fail(b); return; }
  if (!(list & ~0x80ffu)) { fj_thm_emit16(b, 0xbc00u | (list >> 15 & 1) << 8 | (list & 0xff)); return; }
  if ((list & (list - 1)) == 0) { /* one register: ldr.w rt, [sp], #4 */
    unsigned r = (unsigned)__builtin_ctz(list);
    fj_thm_emit32(b, 0xf85du, (uint32_t)r << 12 | 0xb04u);
    return;
  }
  fj_thm_emit32(b, 0xe8bdu, list);
}

/* ---- branches ------------------------------------------------------------------------------ */

/* Offsets are byte distances from the branch's address + 4 (the Thumb PC), even. */
static inline bool fj_thm_b16_fits(int32_t off) { return off >= -2048 && off <= 2046; }
static inline bool fj_thm_bcond16_fits(int32_t off) { return off >= -256 && off <= 254; }
static inline bool fj_thm_bcondw_fits(int32_t off) { return off >= -(1 << 20) && off < (1 << 20); }
static inline bool fj_thm_bw_fits(int32_t off) { return off >= -(1 << 24) && off < (1 << 24); }

/* The two halfwords of B.W (T4) or BL: S:I1:I2:imm10:imm11:'0'. */
static inline void fj_thm__t4(uint32_t off, uint32_t op2, uint32_t *h1, uint32_t *h2) {
  uint32_t s = off >> 24 & 1, i1 = off >> 23 & 1, i2 = off >> 22 & 1;
  uint32_t j1 = (~(i1 ^ s)) & 1, j2 = (~(i2 ^ s)) & 1;
  *h1 = 0xf000u | s << 10 | (off >> 12 & 0x3ff);
  *h2 = op2 | j1 << 13 | j2 << 11 | (off >> 1 & 0x7ff);
}
static inline void fj_thm_b_w(fj_thm_buf *b, int32_t off) {
  if ((off & 1) || !fj_thm_bw_fits(off)) { fj_thm_fail(b); return; }
  uint32_t h1, h2;
  fj_thm__t4((uint32_t)off, 0x9000u, &h1, &h2);
  fj_thm_emit32(b, h1, h2);
}
static inline void fj_thm_bl(fj_thm_buf *b, int32_t off) {
  if ((off & 1) || !fj_thm_bw_fits(off)) { fj_thm_fail(b); return; }
  uint32_t h1, h2;
  fj_thm__t4((uint32_t)off, 0xd000u, &h1, &h2);
  fj_thm_emit32(b, h1, h2);
}
/* b<c>.w: S:J2:J1:imm6:imm11:'0', +-1 MiB */
static inline void fj_thm_bcond_w(fj_thm_buf *b, enum fj_thm_cond c, int32_t off) {
  if ((off & 1) || !fj_thm_bcondw_fits(off) || c >= FJ_THM_AL) { fj_thm_fail(b); return; }
  uint32_t u = (uint32_t)off;
  fj_thm_emit32(b, 0xf000u | (u >> 20 & 1) << 10 | (uint32_t)c << 6 | (u >> 12 & 0x3f),
                0x8000u | (u >> 18 & 1) << 13 | (u >> 19 & 1) << 11 | (u >> 1 & 0x7ff));
}
static inline void fj_thm_b16(fj_thm_buf *b, int32_t off) {
  if ((off & 1) || !fj_thm_b16_fits(off)) { fj_thm_fail(b); return; }
  fj_thm_emit16(b, 0xe000u | ((uint32_t)off >> 1 & 0x7ff));
}
static inline void fj_thm_bcond16(fj_thm_buf *b, enum fj_thm_cond c, int32_t off) {
  if ((off & 1) || !fj_thm_bcond16_fits(off) || c >= FJ_THM_AL) { fj_thm_fail(b); return; }
  fj_thm_emit16(b, 0xd000u | (uint32_t)c << 8 | ((uint32_t)off >> 1 & 0xff));
}
/* Shortest branch to a known offset (from this instruction's address + 4). */
static inline void fj_thm_b(fj_thm_buf *b, int32_t off) {
  if (fj_thm_b16_fits(off)) fj_thm_b16(b, off); else fj_thm_b_w(b, off);
}
static inline void fj_thm_bcond(fj_thm_buf *b, enum fj_thm_cond c, int32_t off) {
  if (fj_thm_bcond16_fits(off)) fj_thm_bcond16(b, c, off); else fj_thm_bcond_w(b, c, off);
}
static inline void fj_thm_bx(fj_thm_buf *b, unsigned rm) { fj_thm_emit16(b, 0x4700u | rm << 3); }
static inline void fj_thm_blx(fj_thm_buf *b, unsigned rm) {
  if (rm == FJ_THM_PC) { fj_thm_fail(b); return; }
  fj_thm_emit16(b, 0x4780u | rm << 3);
}

/* Decode the offset of a B.W / BL at p (for patching and tests). */
static inline int32_t fj_thm_t4_offset(const uint8_t *p) {
  uint32_t h1 = (uint32_t)p[0] | (uint32_t)p[1] << 8, h2 = (uint32_t)p[2] | (uint32_t)p[3] << 8;
  uint32_t s = h1 >> 10 & 1, j1 = h2 >> 13 & 1, j2 = h2 >> 11 & 1;
  uint32_t i1 = (~(j1 ^ s)) & 1, i2 = (~(j2 ^ s)) & 1;
  uint32_t u = s << 24 | i1 << 23 | i2 << 22 | (h1 & 0x3ff) << 12 | (h2 & 0x7ff) << 1;
  return (int32_t)(u << 7) >> 7;
}
/* Rewrite the offset of the B.W / BL at p, keeping its kind.  false if out of range. */
static inline bool fj_thm_t4_patch(uint8_t *p, int32_t off) {
  if ((off & 1) || !fj_thm_bw_fits(off)) return false;
  uint32_t op2 = ((uint32_t)p[3] << 8) & 0xd000u, h1, h2;
  fj_thm__t4((uint32_t)off, op2, &h1, &h2);
  p[0] = (uint8_t)h1; p[1] = (uint8_t)(h1 >> 8); p[2] = (uint8_t)h2; p[3] = (uint8_t)(h2 >> 8);
  return true;
}
/* Rewrite the offset of a b<c>.w at p, keeping its condition.  false if out of range. */
static inline bool fj_thm_bcondw_patch(uint8_t *p, int32_t off) {
  if ((off & 1) || !fj_thm_bcondw_fits(off)) return false;
  uint32_t u = (uint32_t)off, c = ((uint32_t)p[0] | (uint32_t)p[1] << 8) >> 6 & 0xf;
  uint32_t h1 = 0xf000u | (u >> 20 & 1) << 10 | c << 6 | (u >> 12 & 0x3f);
  uint32_t h2 = 0x8000u | (u >> 18 & 1) << 13 | (u >> 19 & 1) << 11 | (u >> 1 & 0x7ff);
  p[0] = (uint8_t)h1; p[1] = (uint8_t)(h1 >> 8); p[2] = (uint8_t)h2; p[3] = (uint8_t)(h2 >> 8);
  return true;
}
/* Rewrite the 16-bit immediates of a movw/movt pair at p with v. */
static inline void fj_thm_movw_movt_patch(uint8_t *p, uint32_t v) {
  for (int k = 0; k < 2; k++, p += 4, v >>= 16) {
    uint32_t imm = v & 0xffff;
    uint32_t h1 = ((uint32_t)p[0] | (uint32_t)p[1] << 8) & 0xfbf0u;
    uint32_t h2 = ((uint32_t)p[2] | (uint32_t)p[3] << 8) & 0x0f00u;
    h1 |= (imm >> 11 & 1) << 10 | imm >> 12;
    h2 |= (imm >> 8 & 7) << 12 | (imm & 0xff);
    p[0] = (uint8_t)h1; p[1] = (uint8_t)(h1 >> 8); p[2] = (uint8_t)h2; p[3] = (uint8_t)(h2 >> 8);
  }
}

/* IT{x{y{z}}} firstcond.  then[i] says whether instruction i+2 is a "then" (true) or an "else"
 * (false); n = 1..4 instructions. */
static inline void fj_thm_it(fj_thm_buf *b, enum fj_thm_cond c, unsigned n, const bool *then) {
  if (n < 1 || n > 4 || c >= FJ_THM_AL || b->it_left) { fj_thm_fail(b); return; }
  uint32_t mask = 1u << (4 - n), c0 = (uint32_t)c & 1;
  for (unsigned i = 1; i < n; i++) mask |= (then[i - 1] ? c0 : c0 ^ 1) << (4 - i);
  fj_thm_emit16(b, 0xbf00u | (uint32_t)c << 4 | mask);
  b->it_left = (uint8_t)n;
}
static inline void fj_thm_it1(fj_thm_buf *b, enum fj_thm_cond c) { fj_thm_it(b, c, 1, NULL); }
static inline void fj_thm_nop(fj_thm_buf *b) { fj_thm_emit16(b, 0xbf00u); }
static inline void fj_thm_nop_w(fj_thm_buf *b) { fj_thm_emit32(b, 0xf3afu, 0x8000u); }
static inline void fj_thm_udf(fj_thm_buf *b, unsigned imm8) { fj_thm_emit16(b, 0xde00u | (imm8 & 0xff)); }
/* Pad with a 16-bit nop to a 4-byte boundary (patchable branches must be aligned). */
static inline void fj_thm_align4(fj_thm_buf *b) { if (b->pos & 2) fj_thm_nop(b); }

#endif /* FJ_CODEGEN_THUMB_EMIT_THUMB_H */
