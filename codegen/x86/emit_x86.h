/* farjit codegen — x86-64 instruction encoders.
 *
 * One encoder per instruction form, named after the instruction and its operand form
 * (rr = register, register; ri = register, immediate; rm / mr = register <- memory / memory <-
 * register; mi = memory <- immediate).  `w` selects the operand size: 8 = 64-bit (REX.W), 4 =
 * 32-bit (writes zero the upper half), and for loads/stores also 2 and 1.  Memory operands are
 * [base + disp] with any base register: rsp/r12 get a SIB byte, rbp/r13 always a displacement,
 * displacements that fit in 8 bits use the short form.  Branch encoders return the code offset
 * of their rel32 field so the caller can record a fixup (codegen/fixup.h).
 *
 * Every encoder is checked byte-for-byte and against capstone by tests/codegen/test_x86_encode.c.
 * Header-only: included by the x86 backend and its tests.
 */
#ifndef FJ_CODEGEN_X86_EMIT_X86_H
#define FJ_CODEGEN_X86_EMIT_X86_H

#include <stdbool.h>
#include <stdint.h>

#include "codegen/fixup.h"

enum fj_x86_reg {
  FJ_X86_RAX, FJ_X86_RCX, FJ_X86_RDX, FJ_X86_RBX, FJ_X86_RSP, FJ_X86_RBP, FJ_X86_RSI, FJ_X86_RDI,
  FJ_X86_R8, FJ_X86_R9, FJ_X86_R10, FJ_X86_R11, FJ_X86_R12, FJ_X86_R13, FJ_X86_R14, FJ_X86_R15,
  FJ_X86_NREGS
};

/* Condition codes (the low nibble of jcc/setcc/cmovcc). */
enum fj_x86_cc {
  FJ_X86_CC_O = 0x0, FJ_X86_CC_NO = 0x1, FJ_X86_CC_B = 0x2, FJ_X86_CC_AE = 0x3,
  FJ_X86_CC_E = 0x4, FJ_X86_CC_NE = 0x5, FJ_X86_CC_BE = 0x6, FJ_X86_CC_A = 0x7,
  FJ_X86_CC_S = 0x8, FJ_X86_CC_NS = 0x9, FJ_X86_CC_P = 0xa, FJ_X86_CC_NP = 0xb,
  FJ_X86_CC_L = 0xc, FJ_X86_CC_GE = 0xd, FJ_X86_CC_LE = 0xe, FJ_X86_CC_G = 0xf,
};
static inline enum fj_x86_cc fj_x86_cc_invert(enum fj_x86_cc cc) { return (enum fj_x86_cc)(cc ^ 1); }

/* ---- prefixes and operand bytes ----------------------------------------------------------- */

/* REX with W and the high bits of reg/index/base; emitted when needed or when `force` (byte
 * access to spl/bpl/sil/dil). */
static inline void fj_x86_rex(fj_mcode *mc, bool w, unsigned reg, unsigned index, unsigned base,
                              bool force) {
  uint8_t rex = (uint8_t)(0x40 | (w ? 8 : 0) | ((reg >> 3) & 1) << 2 | ((index >> 3) & 1) << 1 |
                          ((base >> 3) & 1));
  if (rex != 0x40 || force) fj_mcode_u8(mc, rex);
}
static inline void fj_x86_modrm(fj_mcode *mc, unsigned mod, unsigned reg, unsigned rm) {
  fj_mcode_u8(mc, (uint8_t)(mod << 6 | (reg & 7) << 3 | (rm & 7)));
}
/* ModRM (+SIB, +disp) for [base + disp] with `reg` in the reg field. */
static inline void fj_x86_mem(fj_mcode *mc, unsigned reg, unsigned base, int32_t disp) {
  unsigned mod = (disp == 0 && (base & 7) != FJ_X86_RBP) ? 0 : (disp >= -128 && disp <= 127) ? 1 : 2;
  fj_x86_modrm(mc, mod, reg, base);
  if ((base & 7) == FJ_X86_RSP) fj_mcode_u8(mc, 0x24);  /* SIB: no index, base */
  if (mod == 1) fj_mcode_u8(mc, (uint8_t)(int8_t)disp);
  if (mod == 2) fj_mcode_u32(mc, (uint32_t)disp);
}
static inline bool fj_x86_is_imm8(int64_t v) { return v >= -128 && v <= 127; }
static inline bool fj_x86_is_imm32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }
/* Is a byte register operand one that needs REX to mean spl/bpl/sil/dil rather than ah..bh? */
static inline bool fj_x86_byte_rex(unsigned r) { return r >= 4 && r <= 7; }

/* ---- moves ------------------------------------------------------------------------------- */

/* mov d, s (89 /r) */
static inline void fj_x86_mov_rr(fj_mcode *mc, unsigned w, unsigned d, unsigned s) {
  fj_x86_rex(mc, w == 8, s, 0, d, false);
  fj_mcode_u8(mc, 0x89);
  fj_x86_modrm(mc, 3, s, d);
}
/* mov d32, imm32 (B8+r): zero-extends into the 64-bit register */
static inline void fj_x86_mov_ri32(fj_mcode *mc, unsigned d, uint32_t imm) {
  fj_x86_rex(mc, false, 0, 0, d, false);
  fj_mcode_u8(mc, (uint8_t)(0xb8 + (d & 7)));
  fj_mcode_u32(mc, imm);
}
/* mov d64, simm32 (REX.W C7 /0): sign-extends */
static inline void fj_x86_mov_ri64s(fj_mcode *mc, unsigned d, int32_t imm) {
  fj_x86_rex(mc, true, 0, 0, d, false);
  fj_mcode_u8(mc, 0xc7);
  fj_x86_modrm(mc, 3, 0, d);
  fj_mcode_u32(mc, (uint32_t)imm);
}
/* movabs d, imm64 (REX.W B8+r); returns the offset of the 8-byte immediate (ABS64 relocs) */
static inline uint32_t fj_x86_movabs(fj_mcode *mc, unsigned d, uint64_t imm) {
  fj_x86_rex(mc, true, 0, 0, d, false);
  fj_mcode_u8(mc, (uint8_t)(0xb8 + (d & 7)));
  uint32_t at = mc->len;
  fj_mcode_u64(mc, imm);
  return at;
}
/* The shortest of the three forms above; xor for 0 (clobbers flags). */
static inline void fj_x86_mov_imm(fj_mcode *mc, unsigned d, uint64_t v) {
  if (v == 0) {
    fj_x86_rex(mc, false, d, 0, d, false);
    fj_mcode_u8(mc, 0x31);
    fj_x86_modrm(mc, 3, d, d);
  } else if (v <= UINT32_MAX) {
    fj_x86_mov_ri32(mc, d, (uint32_t)v);
  } else if (fj_x86_is_imm32((int64_t)v)) {
    fj_x86_mov_ri64s(mc, d, (int32_t)v);
  } else {
    fj_x86_movabs(mc, d, v);
  }
}

/* Loads: mov d, [b+disp] zero-extending for w < 8 (8B, movzx 0F B7 / 0F B6). */
static inline void fj_x86_mov_rm(fj_mcode *mc, unsigned w, unsigned d, unsigned b, int32_t disp) {
  fj_x86_rex(mc, w == 8, d, 0, b, false);
  if (w == 2) { fj_mcode_u8(mc, 0x0f); fj_mcode_u8(mc, 0xb7); }
  else if (w == 1) { fj_mcode_u8(mc, 0x0f); fj_mcode_u8(mc, 0xb6); }
  else fj_mcode_u8(mc, 0x8b);
  fj_x86_mem(mc, d, b, disp);
}
/* Sign-extending loads into 64 bits: movsx d, byte/word [..] (REX.W 0F BE/BF), movsxd (REX.W 63). */
static inline void fj_x86_movsx_rm(fj_mcode *mc, unsigned w, unsigned d, unsigned b, int32_t disp) {
  fj_x86_rex(mc, true, d, 0, b, false);
  if (w == 4) fj_mcode_u8(mc, 0x63);
  else { fj_mcode_u8(mc, 0x0f); fj_mcode_u8(mc, w == 1 ? 0xbe : 0xbf); }
  fj_x86_mem(mc, d, b, disp);
}
/* Stores: mov [b+disp], s  (88, 66 89, 89, REX.W 89). */
static inline void fj_x86_mov_mr(fj_mcode *mc, unsigned w, unsigned b, int32_t disp, unsigned s) {
  if (w == 2) fj_mcode_u8(mc, 0x66);
  fj_x86_rex(mc, w == 8, s, 0, b, w == 1 && fj_x86_byte_rex(s));
  fj_mcode_u8(mc, w == 1 ? 0x88 : 0x89);
  fj_x86_mem(mc, s, b, disp);
}
/* mov [b+disp], imm  (C6 ib, 66 C7 iw, C7 id, REX.W C7 id sign-extended). */
static inline void fj_x86_mov_mi(fj_mcode *mc, unsigned w, unsigned b, int32_t disp, int32_t imm) {
  if (w == 2) fj_mcode_u8(mc, 0x66);
  fj_x86_rex(mc, w == 8, 0, 0, b, false);
  fj_mcode_u8(mc, w == 1 ? 0xc6 : 0xc7);
  fj_x86_mem(mc, 0, b, disp);
  if (w == 1) fj_mcode_u8(mc, (uint8_t)imm);
  else if (w == 2) fj_mcode_u16(mc, (uint16_t)imm);
  else fj_mcode_u32(mc, (uint32_t)imm);
}
/* Register sign/zero extension: movsx d64, s8/s16 (REX.W 0F BE/BF), movsxd d64, s32 (REX.W 63),
 * movzx d32, s8/s16 (0F B6/B7). */
static inline void fj_x86_movsx_rr(fj_mcode *mc, unsigned w, unsigned d, unsigned s) {
  fj_x86_rex(mc, true, d, 0, s, false);
  if (w == 4) fj_mcode_u8(mc, 0x63);
  else { fj_mcode_u8(mc, 0x0f); fj_mcode_u8(mc, w == 1 ? 0xbe : 0xbf); }
  fj_x86_modrm(mc, 3, d, s);
}
static inline void fj_x86_movzx_rr(fj_mcode *mc, unsigned w, unsigned d, unsigned s) {
  fj_x86_rex(mc, false, d, 0, s, w == 1 && fj_x86_byte_rex(s));
  fj_mcode_u8(mc, 0x0f);
  fj_mcode_u8(mc, w == 1 ? 0xb6 : 0xb7);
  fj_x86_modrm(mc, 3, d, s);
}
/* lea d, [b+disp] (REX.W 8D) */
static inline void fj_x86_lea(fj_mcode *mc, unsigned d, unsigned b, int32_t disp) {
  fj_x86_rex(mc, true, d, 0, b, false);
  fj_mcode_u8(mc, 0x8d);
  fj_x86_mem(mc, d, b, disp);
}
/* lea d, [b + i] (REX.W 8D /r with a SIB byte; i is never rsp; rbp/r13 as base take a zero disp8):
 * a three-operand add that leaves the flags alone. */
/* lea d, [b + i * 2^s] at width w (4: the 32-bit result zero-extends): also x*3, x*5, x*9. */
static inline void fj_x86_lea_bis(fj_mcode *mc, unsigned w, unsigned d, unsigned b, unsigned i,
                                  unsigned s) {
  fj_x86_rex(mc, w == 8, d, i, b, false);
  fj_mcode_u8(mc, 0x8d);
  bool disp8 = (b & 7) == FJ_X86_RBP;
  fj_x86_modrm(mc, disp8 ? 1 : 0, d, 4);
  fj_mcode_u8(mc, (uint8_t)((s & 3) << 6 | (i & 7) << 3 | (b & 7)));
  if (disp8) fj_mcode_u8(mc, 0);
}
static inline void fj_x86_lea_bi(fj_mcode *mc, unsigned d, unsigned b, unsigned i) {
  fj_x86_lea_bis(mc, 8, d, b, i, 0);
}
/* lea d, [rip+rel32]; returns the offset of the rel32 (REL32 to a label = that label's address). */
static inline uint32_t fj_x86_lea_rip(fj_mcode *mc, unsigned d, int32_t rel) {
  fj_x86_rex(mc, true, d, 0, 0, false);
  fj_mcode_u8(mc, 0x8d);
  fj_x86_modrm(mc, 0, d, 5);
  uint32_t at = mc->len;
  fj_mcode_u32(mc, (uint32_t)rel);
  return at;
}

/* ---- integer ALU ------------------------------------------------------------------------- */

/* The 8-way group 1: _(name, /digit, opcode of the `op r/m, r` form). */
#define FJ_X86_ALU_OPS(_) \
  _(add, 0, 0x01)         \
  _(or,  1, 0x09)         \
  _(and, 4, 0x21)         \
  _(sub, 5, 0x29)         \
  _(xor, 6, 0x31)         \
  _(cmp, 7, 0x39)

/* op d, s  and  op d, imm (83 /n ib or 81 /n id, sign-extended to the operand size). */
#define FJ_X86_ALU_ENC(name, digit, opc)                                                      \
  static inline void fj_x86_##name##_rr(fj_mcode *mc, unsigned w, unsigned d, unsigned s) {   \
    fj_x86_rex(mc, w == 8, s, 0, d, false);                                                   \
    fj_mcode_u8(mc, opc);                                                                     \
    fj_x86_modrm(mc, 3, s, d);                                                                \
  }                                                                                           \
  static inline void fj_x86_##name##_ri(fj_mcode *mc, unsigned w, unsigned d, int32_t imm) {  \
    fj_x86_rex(mc, w == 8, 0, 0, d, false);                                                   \
    fj_mcode_u8(mc, fj_x86_is_imm8(imm) ? 0x83 : 0x81);                                       \
    fj_x86_modrm(mc, 3, digit, d);                                                            \
    if (fj_x86_is_imm8(imm)) fj_mcode_u8(mc, (uint8_t)imm);                                   \
    else fj_mcode_u32(mc, (uint32_t)imm);                                                     \
  }                                                                                           \
  static inline void fj_x86_##name##_rm(fj_mcode *mc, unsigned w, unsigned d, unsigned b,      \
                                        int32_t disp) {                                       \
    fj_x86_rex(mc, w == 8, d, 0, b, false);                                                   \
    fj_mcode_u8(mc, (uint8_t)((opc) + 2));                                                    \
    fj_x86_mem(mc, d, b, disp);                                                               \
  }                                                                                           \
  static inline void fj_x86_##name##_mi(fj_mcode *mc, unsigned w, unsigned b, int32_t disp,    \
                                        int32_t imm) {                                        \
    fj_x86_rex(mc, w == 8, 0, 0, b, false);                                                   \
    fj_mcode_u8(mc, fj_x86_is_imm8(imm) ? 0x83 : 0x81);                                       \
    fj_x86_mem(mc, digit, b, disp);                                                           \
    if (fj_x86_is_imm8(imm)) fj_mcode_u8(mc, (uint8_t)imm);                                   \
    else fj_mcode_u32(mc, (uint32_t)imm);                                                     \
  }
FJ_X86_ALU_OPS(FJ_X86_ALU_ENC)
#undef FJ_X86_ALU_ENC

/* test d, s (85 /r) and test d, imm32 (F7 /0 id) */
static inline void fj_x86_test_rr(fj_mcode *mc, unsigned w, unsigned d, unsigned s) {
  fj_x86_rex(mc, w == 8, s, 0, d, false);
  fj_mcode_u8(mc, 0x85);
  fj_x86_modrm(mc, 3, s, d);
}
static inline void fj_x86_test_ri(fj_mcode *mc, unsigned w, unsigned d, int32_t imm) {
  fj_x86_rex(mc, w == 8, 0, 0, d, false);
  fj_mcode_u8(mc, 0xf7);
  fj_x86_modrm(mc, 3, 0, d);
  fj_mcode_u32(mc, (uint32_t)imm);
}
/* imul d, s (0F AF /r) and imul d, s, imm (6B ib / 69 id) */
static inline void fj_x86_imul_rr(fj_mcode *mc, unsigned w, unsigned d, unsigned s) {
  fj_x86_rex(mc, w == 8, d, 0, s, false);
  fj_mcode_u8(mc, 0x0f);
  fj_mcode_u8(mc, 0xaf);
  fj_x86_modrm(mc, 3, d, s);
}
static inline void fj_x86_imul_rm(fj_mcode *mc, unsigned w, unsigned d, unsigned b, int32_t disp) {
  fj_x86_rex(mc, w == 8, d, 0, b, false);
  fj_mcode_u8(mc, 0x0f);
  fj_mcode_u8(mc, 0xaf);
  fj_x86_mem(mc, d, b, disp);
}
static inline void fj_x86_imul_rri(fj_mcode *mc, unsigned w, unsigned d, unsigned s, int32_t imm) {
  fj_x86_rex(mc, w == 8, d, 0, s, false);
  fj_mcode_u8(mc, fj_x86_is_imm8(imm) ? 0x6b : 0x69);
  fj_x86_modrm(mc, 3, d, s);
  if (fj_x86_is_imm8(imm)) fj_mcode_u8(mc, (uint8_t)imm);
  else fj_mcode_u32(mc, (uint32_t)imm);
}

/* Group 3 unary forms: _(name, /digit). */
#define FJ_X86_UNARY_OPS(_) \
  _(not, 2)                 \
  _(neg, 3)                 \
  _(mul, 4)                 \
  _(imul, 5)                \
  _(div, 6)                 \
  _(idiv, 7)
#define FJ_X86_UNARY_ENC(name, digit)                                      \
  static inline void fj_x86_##name##_r(fj_mcode *mc, unsigned w, unsigned r) { \
    fj_x86_rex(mc, w == 8, 0, 0, r, false);                                \
    fj_mcode_u8(mc, 0xf7);                                                 \
    fj_x86_modrm(mc, 3, digit, r);                                         \
  }
FJ_X86_UNARY_OPS(FJ_X86_UNARY_ENC)
#undef FJ_X86_UNARY_ENC

/* Shifts, group 2: _(name, /digit).  op d, cl (D3 /n) and op d, imm8 (C1 /n ib). */
#define FJ_X86_SHIFT_OPS(_) \
  _(rol, 0)                 \
  _(shl, 4)                 \
  _(shr, 5)                 \
  _(sar, 7)
#define FJ_X86_SHIFT_ENC(name, digit)                                                      \
  static inline void fj_x86_##name##_rcl(fj_mcode *mc, unsigned w, unsigned d) {           \
    if (w == 2) fj_mcode_u8(mc, 0x66);                                                     \
    fj_x86_rex(mc, w == 8, 0, 0, d, false);                                                \
    fj_mcode_u8(mc, 0xd3);                                                                 \
    fj_x86_modrm(mc, 3, digit, d);                                                         \
  }                                                                                        \
  static inline void fj_x86_##name##_ri(fj_mcode *mc, unsigned w, unsigned d, uint8_t n) { \
    if (w == 2) fj_mcode_u8(mc, 0x66);                                                     \
    fj_x86_rex(mc, w == 8, 0, 0, d, false);                                                \
    fj_mcode_u8(mc, 0xc1);                                                                 \
    fj_x86_modrm(mc, 3, digit, d);                                                         \
    fj_mcode_u8(mc, n);                                                                    \
  }
FJ_X86_SHIFT_OPS(FJ_X86_SHIFT_ENC)
#undef FJ_X86_SHIFT_ENC

/* cqo (REX.W 99): rdx = sign of rax;  cdq (99): edx = sign of eax */
static inline void fj_x86_cqo(fj_mcode *mc) { fj_mcode_u8(mc, 0x48); fj_mcode_u8(mc, 0x99); }
static inline void fj_x86_cdq(fj_mcode *mc) { fj_mcode_u8(mc, 0x99); }
/* bswap r32 / r64 (0F C8+r) */
static inline void fj_x86_bswap_r(fj_mcode *mc, unsigned w, unsigned r) {
  fj_x86_rex(mc, w == 8, 0, 0, r, false);
  fj_mcode_u8(mc, 0x0f);
  fj_mcode_u8(mc, (uint8_t)(0xc8 + (r & 7)));
}
/* setcc d8 (0F 90+cc /0) */
static inline void fj_x86_setcc_r(fj_mcode *mc, enum fj_x86_cc cc, unsigned d) {
  fj_x86_rex(mc, false, 0, 0, d, fj_x86_byte_rex(d));
  fj_mcode_u8(mc, 0x0f);
  fj_mcode_u8(mc, (uint8_t)(0x90 + cc));
  fj_x86_modrm(mc, 3, 0, d);
}
/* cmovcc d, s (0F 40+cc /r) */
static inline void fj_x86_cmovcc_rr(fj_mcode *mc, enum fj_x86_cc cc, unsigned w, unsigned d,
                                    unsigned s) {
  fj_x86_rex(mc, w == 8, d, 0, s, false);
  fj_mcode_u8(mc, 0x0f);
  fj_mcode_u8(mc, (uint8_t)(0x40 + cc));
  fj_x86_modrm(mc, 3, d, s);
}

/* ---- atomics ------------------------------------------------------------------------------ */

/* lock op [b+disp], s for add/or/and/xor (F0 + group-1 `op r/m, r`). */
static inline void fj_x86_lock_alu_mr(fj_mcode *mc, uint8_t opc, unsigned w, unsigned b,
                                      int32_t disp, unsigned s) {
  fj_mcode_u8(mc, 0xf0);
  fj_x86_rex(mc, w == 8, s, 0, b, false);
  fj_mcode_u8(mc, opc);
  fj_x86_mem(mc, s, b, disp);
}
/* lock xadd [b+disp], s (F0 0F C1 /r) */
static inline void fj_x86_lock_xadd_mr(fj_mcode *mc, unsigned w, unsigned b, int32_t disp, unsigned s) {
  fj_mcode_u8(mc, 0xf0);
  fj_x86_rex(mc, w == 8, s, 0, b, false);
  fj_mcode_u8(mc, 0x0f);
  fj_mcode_u8(mc, 0xc1);
  fj_x86_mem(mc, s, b, disp);
}
/* xchg [b+disp], s (87 /r; locked implicitly) */
static inline void fj_x86_xchg_mr(fj_mcode *mc, unsigned w, unsigned b, int32_t disp, unsigned s) {
  fj_x86_rex(mc, w == 8, s, 0, b, false);
  fj_mcode_u8(mc, 0x87);
  fj_x86_mem(mc, s, b, disp);
}
/* lock cmpxchg [b+disp], s (F0 0F B1 /r): compares with rax/eax */
static inline void fj_x86_lock_cmpxchg_mr(fj_mcode *mc, unsigned w, unsigned b, int32_t disp,
                                          unsigned s) {
  fj_mcode_u8(mc, 0xf0);
  fj_x86_rex(mc, w == 8, s, 0, b, false);
  fj_mcode_u8(mc, 0x0f);
  fj_mcode_u8(mc, 0xb1);
  fj_x86_mem(mc, s, b, disp);
}

/* ---- control flow ------------------------------------------------------------------------ */

/* jmp rel32 (E9), jcc rel32 (0F 80+cc), call rel32 (E8): return the offset of the rel32. */
static inline uint32_t fj_x86_jmp_rel32(fj_mcode *mc, int32_t rel) {
  fj_mcode_u8(mc, 0xe9);
  uint32_t at = mc->len;
  fj_mcode_u32(mc, (uint32_t)rel);
  return at;
}
static inline uint32_t fj_x86_jcc_rel32(fj_mcode *mc, enum fj_x86_cc cc, int32_t rel) {
  fj_mcode_u8(mc, 0x0f);
  fj_mcode_u8(mc, (uint8_t)(0x80 + cc));
  uint32_t at = mc->len;
  fj_mcode_u32(mc, (uint32_t)rel);
  return at;
}
static inline uint32_t fj_x86_call_rel32(fj_mcode *mc, int32_t rel) {
  fj_mcode_u8(mc, 0xe8);
  uint32_t at = mc->len;
  fj_mcode_u32(mc, (uint32_t)rel);
  return at;
}
/* call r (FF /2), jmp r (FF /4) */
static inline void fj_x86_call_r(fj_mcode *mc, unsigned r) {
  fj_x86_rex(mc, false, 0, 0, r, false);
  fj_mcode_u8(mc, 0xff);
  fj_x86_modrm(mc, 3, 2, r);
}
static inline void fj_x86_jmp_r(fj_mcode *mc, unsigned r) {
  fj_x86_rex(mc, false, 0, 0, r, false);
  fj_mcode_u8(mc, 0xff);
  fj_x86_modrm(mc, 3, 4, r);
}
/* jmp qword [b+disp] (FF /4): the runtime trampoline returns through st->call_ret this way */
static inline void fj_x86_jmp_m(fj_mcode *mc, unsigned b, int32_t disp) {
  fj_x86_rex(mc, false, 0, 0, b, false);
  fj_mcode_u8(mc, 0xff);
  fj_x86_mem(mc, 4, b, disp);
}
/* push r (50+r), pop r (58+r), ret (C3), nop (90), int3 (CC) */
static inline void fj_x86_push_r(fj_mcode *mc, unsigned r) {
  fj_x86_rex(mc, false, 0, 0, r, false);
  fj_mcode_u8(mc, (uint8_t)(0x50 + (r & 7)));
}
static inline void fj_x86_pop_r(fj_mcode *mc, unsigned r) {
  fj_x86_rex(mc, false, 0, 0, r, false);
  fj_mcode_u8(mc, (uint8_t)(0x58 + (r & 7)));
}
/* push qword [b+disp] (FF /6), pop qword [b+disp] (8F /0; an rsp base is read after the pop's
 * increment): a memory-to-memory copy without a register. */
static inline void fj_x86_push_m(fj_mcode *mc, unsigned b, int32_t disp) {
  fj_x86_rex(mc, false, 0, 0, b, false);
  fj_mcode_u8(mc, 0xff);
  fj_x86_mem(mc, 6, b, disp);
}
static inline void fj_x86_pop_m(fj_mcode *mc, unsigned b, int32_t disp) {
  fj_x86_rex(mc, false, 0, 0, b, false);
  fj_mcode_u8(mc, 0x8f);
  fj_x86_mem(mc, 0, b, disp);
}
static inline void fj_x86_ret(fj_mcode *mc) { fj_mcode_u8(mc, 0xc3); }
static inline void fj_x86_nop(fj_mcode *mc) { fj_mcode_u8(mc, 0x90); }
static inline void fj_x86_int3(fj_mcode *mc) { fj_mcode_u8(mc, 0xcc); }

/* Pad with nops so that the rel32 of a `jmp rel32` emitted next is 4-byte aligned (patch sites). */
static inline void fj_x86_align_jmp_field(fj_mcode *mc) {
  while ((mc->len + 1) % 4) fj_x86_nop(mc);
}

#endif /* FJ_CODEGEN_X86_EMIT_X86_H */
