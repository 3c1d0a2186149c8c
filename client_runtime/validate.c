/* farjit — static validation of eBPF bytecode.  Contract in validate.h. */
#include "client_runtime/validate.h"

#include "client_runtime/vm_internal.h"

/* Which instruction fields each operand format uses.  A field a format does not use must be
 * zero (RFC 9669 reserves them), except discriminators, which fj_op_decode already matched. */
enum {
  U_DST = 1u << 0,   /* dst register read or used as address */
  U_DSTW = 1u << 1,  /* dst register written */
  U_SRC = 1u << 2,
  U_OFF = 1u << 3,
  U_IMM = 1u << 4,
  U_TGT_OFF = 1u << 5,  /* pc-relative target in off */
  U_TGT_IMM = 1u << 6,  /* pc-relative target in imm */
};

static const uint8_t fmt_uses[FJ_FMT__COUNT] = {
  [FJ_FMT_ALU_IMM] = U_DST | U_DSTW | U_IMM | U_OFF,  /* off is a discriminator */
  [FJ_FMT_ALU_REG] = U_DST | U_DSTW | U_SRC | U_OFF,
  [FJ_FMT_ALU_UNARY] = U_DST | U_DSTW,
  [FJ_FMT_END] = U_DST | U_DSTW | U_IMM,
  [FJ_FMT_JA] = U_OFF | U_TGT_OFF,
  [FJ_FMT_JA32] = U_IMM | U_TGT_IMM,
  [FJ_FMT_JCOND_IMM] = U_DST | U_IMM | U_OFF | U_TGT_OFF,
  [FJ_FMT_JCOND_REG] = U_DST | U_SRC | U_OFF | U_TGT_OFF,
  [FJ_FMT_CALL] = U_IMM | U_SRC,
  [FJ_FMT_CALL_LOCAL] = U_IMM | U_SRC | U_TGT_IMM,
  [FJ_FMT_CALLX] = U_DST,
  [FJ_FMT_EXIT] = 0,
  [FJ_FMT_LDDW] = U_DST | U_DSTW | U_IMM | U_SRC,
  [FJ_FMT_LDDW_FUNC] = U_DST | U_DSTW | U_IMM | U_SRC | U_TGT_IMM,
  [FJ_FMT_LDX] = U_DST | U_DSTW | U_SRC | U_OFF,
  [FJ_FMT_ST] = U_DST | U_OFF | U_IMM,
  [FJ_FMT_STX] = U_DST | U_SRC | U_OFF,
  [FJ_FMT_ATOMIC] = U_DST | U_SRC | U_OFF | U_IMM,
};
_Static_assert(FJ_FMT__COUNT == 18, "new operand format: add its field rules to fmt_uses");

typedef struct vctx {
  const fj_insn *code;
  uint32_t n;
  fj_sb sb;
  int64_t *err_pc;
} vctx;

/* Start a message "pc N (mnem): " and return FJ_EBADPROG; the caller appends the reason. */
static fj_sb *fail(vctx *v, uint32_t pc, enum fj_op op) {
  fj_sb_puts(&v->sb, "pc ");
  fj_sb_putu(&v->sb, pc);
  if (op != FJ_OP_INVALID) {
    fj_sb_puts(&v->sb, " (");
    fj_sb_puts(&v->sb, fj_op_table[op].mnem);
    fj_sb_putc(&v->sb, ')');
  }
  fj_sb_puts(&v->sb, ": ");
  if (v->err_pc) *v->err_pc = pc;
  return &v->sb;
}

static int fail_field(vctx *v, uint32_t pc, enum fj_op op, const char *field, int64_t val) {
  fj_sb *sb = fail(v, pc, op);
  fj_sb_puts(sb, "reserved field ");
  fj_sb_puts(sb, field);
  fj_sb_puts(sb, " must be 0 (is ");
  fj_sb_puti(sb, val);
  fj_sb_putc(sb, ')');
  return FJ_EBADPROG;
}

static bool is_lddw_second(const vctx *v, uint32_t t) {
  /* A valid second slot has opcode 0, so a preceding 0x18 is always a first slot. */
  return t > 0 && v->code[t - 1].code == 0x18;
}

static int check_target(vctx *v, uint32_t pc, enum fj_op op, int64_t target, const char *what) {
  if (target < 0 || target >= (int64_t)v->n) {
    fj_sb *sb = fail(v, pc, op);
    fj_sb_puts(sb, what);
    fj_sb_puts(sb, " target ");
    fj_sb_puti(sb, target);
    fj_sb_puts(sb, " out of range (program has ");
    fj_sb_putu(sb, v->n);
    fj_sb_puts(sb, " instructions)");
    return FJ_EBADPROG;
  }
  if (is_lddw_second(v, (uint32_t)target)) {
    fj_sb *sb = fail(v, pc, op);
    fj_sb_puts(sb, what);
    fj_sb_puts(sb, " target ");
    fj_sb_puti(sb, target);
    fj_sb_puts(sb, " is the second slot of the lddw at pc ");
    fj_sb_puti(sb, target - 1);
    return FJ_EBADPROG;
  }
  return 0;
}

static int bad_opcode(vctx *v, uint32_t pc, fj_insn i) {
  fj_sb *sb = fail(v, pc, FJ_OP_INVALID);
  for (int op = 1; op < FJ_OP__COUNT; op++) {
    const fj_op_info *d = &fj_op_table[op];
    if (d->code != i.code) continue;
    static const char *const field[] = {"", "offset", "immediate", "source register"};
    int64_t val = d->discr == FJ_DISCR_OFF ? i.off
                  : d->discr == FJ_DISCR_IMM ? i.imm
                                              : (int64_t)fj_insn_src(i);
    fj_sb_puts(sb, "invalid instruction: opcode 0x");
    fj_sb_putx(sb, i.code);
    fj_sb_puts(sb, " (");
    fj_sb_puts(sb, d->mnem);
    fj_sb_puts(sb, ") with ");
    fj_sb_puts(sb, field[d->discr]);
    fj_sb_putc(sb, ' ');
    fj_sb_puti(sb, val);
    return FJ_EBADPROG;
  }
  fj_sb_puts(sb, "invalid instruction: unknown opcode 0x");
  fj_sb_putx(sb, i.code);
  return FJ_EBADPROG;
}

static int check_one(vctx *v, uint32_t pc, fj_helper_known_fn known, const void *ud) {
  fj_insn i = v->code[pc];
  enum fj_op op = fj_op_decode(i);
  if (op == FJ_OP_INVALID) return bad_opcode(v, pc, i);
  const fj_op_info *d = &fj_op_table[op];
  unsigned uses = fmt_uses[d->fmt];
  unsigned dst = fj_insn_dst(i), src = fj_insn_src(i);

  if (dst > FJ_REG_FP || src > FJ_REG_FP) {
    fj_sb *sb = fail(v, pc, op);
    fj_sb_puts(sb, dst > FJ_REG_FP ? "invalid destination register r" : "invalid source register r");
    fj_sb_putu(sb, dst > FJ_REG_FP ? dst : src);
    return FJ_EBADPROG;
  }
  if (!(uses & (U_DST | U_DSTW)) && dst != 0) return fail_field(v, pc, op, "dst", dst);
  if (!(uses & U_SRC) && src != 0) return fail_field(v, pc, op, "src", src);
  if (!(uses & U_OFF) && i.off != 0) return fail_field(v, pc, op, "offset", i.off);
  if (!(uses & U_IMM) && i.imm != 0) return fail_field(v, pc, op, "imm", i.imm);

  bool writes_src = d->fmt == FJ_FMT_ATOMIC && ((d->discr_val & FJ_ATOMIC_FETCH) || op == FJ_OP_AT_XCHG64 ||
                                                op == FJ_OP_AT_XCHG32);
  if (((uses & U_DSTW) && dst == FJ_REG_FP) || (writes_src && src == FJ_REG_FP)) {
    fj_sb_puts(fail(v, pc, op), "write to read-only frame pointer r10");
    return FJ_EBADPROG;
  }

  if (uses & U_TGT_OFF) {
    int rc = check_target(v, pc, op, (int64_t)pc + 1 + i.off, "jump");
    if (rc) return rc;
  }
  if (uses & U_TGT_IMM) {
    const char *what = op == FJ_OP_JA32 ? "jump" : op == FJ_OP_CALL_LOCAL ? "local call" : "function";
    int rc = check_target(v, pc, op, (int64_t)pc + 1 + i.imm, what);
    if (rc) return rc;
  }
  if (op == FJ_OP_CALL && known && !known(ud, (uint32_t)i.imm)) {
    fj_sb *sb = fail(v, pc, op);
    fj_sb_puts(sb, "unknown helper ");
    fj_sb_putu(sb, (uint32_t)i.imm);
    return FJ_EHELPER;
  }
  if (fj_op_is_lddw(op)) {
    if (pc + 1 >= v->n) {
      fj_sb_puts(fail(v, pc, op), "truncated: missing second slot");
      return FJ_EBADPROG;
    }
    fj_insn j = v->code[pc + 1];
    if (j.code != 0 || j.regs != 0 || j.off != 0 || (op == FJ_OP_LDDW_FUNC && j.imm != 0)) {
      fj_sb_puts(fail(v, pc, op), op == FJ_OP_LDDW_FUNC
                                      ? "second slot must be all zero"
                                      : "second slot must have opcode, registers and offset 0");
      return FJ_EBADPROG;
    }
  }
  return 0;
}

int fj_validate(const fj_insn *code, uint32_t n, fj_helper_known_fn helper_known, const void *ud,
                char *err, size_t errlen, int64_t *err_pc) {
  vctx v = {code, n, fj_sb_init(err, errlen), err_pc};
  if (err_pc) *err_pc = -1;
  if (n == 0) {
    fj_sb_puts(&v.sb, "empty program");
    return FJ_EBADPROG;
  }
  uint32_t last = 0;
  for (uint32_t pc = 0; pc < n; pc++) {
    int rc = check_one(&v, pc, helper_known, ud);
    if (rc) return rc;
    last = pc;
    if (fj_op_is_lddw(fj_op_decode(code[pc]))) pc++;
  }
  enum fj_op op = fj_op_decode(code[last]);
  if (op != FJ_OP_EXIT && op != FJ_OP_JA && op != FJ_OP_JA32) {
    fj_sb_puts(fail(&v, last, op), "program does not end with exit or ja (execution would fall off the end)");
    return FJ_EBADPROG;
  }
  return 0;
}
