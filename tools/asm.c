/* farjit tools — eBPF text assembler (see asm.h for the syntax).
 *
 * Two passes: the first turns each line into instructions, choosing among the FJ_OPS rows that
 * share the mnemonic by the shape of the operands (register, number, memory, label) and leaving
 * label references as fixups; the second resolves the fixups into pc-relative offsets.
 */
#include "tools/asm.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farjit/error.h"

/* ---- formats ---------------------------------------------------------------------------- */

/* Operand shape of each format: R register, N number, M memory [%rN+off], I identifier,
 * T jump target (number or identifier), L `local TARGET`. */
static const char *fmt_shape(enum fj_fmt fmt) {
  switch (fmt) {
  case FJ_FMT_ALU_IMM: return "RN";
  case FJ_FMT_ALU_REG: return "RR";
  case FJ_FMT_ALU_UNARY: return "R";
  case FJ_FMT_END: return "R";
  case FJ_FMT_JA: return "T";
  case FJ_FMT_JA32: return "T";
  case FJ_FMT_JCOND_IMM: return "RNT";
  case FJ_FMT_JCOND_REG: return "RRT";
  case FJ_FMT_CALL: return "N";
  case FJ_FMT_CALL_LOCAL: return "L";
  case FJ_FMT_CALLX: return "R";
  case FJ_FMT_EXIT: return "";
  case FJ_FMT_LDDW: return "RN";
  case FJ_FMT_LDDW_FUNC: return "RI";
  case FJ_FMT_LDX: return "RM";
  case FJ_FMT_ST: return "MN";
  case FJ_FMT_STX: return "MR";
  case FJ_FMT_ATOMIC: return "MR";
  case FJ_FMT__COUNT: break;
  }
  return "?";
}

const char *fj_asm_fmt_usage(enum fj_fmt fmt) {
  switch (fmt) {
  case FJ_FMT_ALU_IMM: return "%rD, IMM";
  case FJ_FMT_ALU_REG: return "%rD, %rS";
  case FJ_FMT_ALU_UNARY: return "%rD";
  case FJ_FMT_END: return "%rD";
  case FJ_FMT_JA: return "TARGET";
  case FJ_FMT_JA32: return "TARGET";
  case FJ_FMT_JCOND_IMM: return "%rD, IMM, TARGET";
  case FJ_FMT_JCOND_REG: return "%rD, %rS, TARGET";
  case FJ_FMT_CALL: return "HELPER_ID";
  case FJ_FMT_CALL_LOCAL: return "local TARGET";
  case FJ_FMT_CALLX: return "%rD";
  case FJ_FMT_EXIT: return "";
  case FJ_FMT_LDDW: return "%rD, IMM64";
  case FJ_FMT_LDDW_FUNC: return "%rD, FUNCTION";
  case FJ_FMT_LDX: return "%rD, [%rS+OFF]";
  case FJ_FMT_ST: return "[%rD+OFF], IMM";
  case FJ_FMT_STX: return "[%rD+OFF], %rS";
  case FJ_FMT_ATOMIC: return "[%rD+OFF], %rS";
  case FJ_FMT__COUNT: break;
  }
  return "?";
}

/* Which fields a format's operands fill. */
static bool fmt_has(enum fj_fmt fmt, char field) {
  switch (field) {
  case 'd':
    return fmt != FJ_FMT_JA && fmt != FJ_FMT_JA32 && fmt != FJ_FMT_CALL &&
           fmt != FJ_FMT_CALL_LOCAL && fmt != FJ_FMT_EXIT;
  case 's':
    return fmt == FJ_FMT_ALU_REG || fmt == FJ_FMT_JCOND_REG || fmt == FJ_FMT_LDX ||
           fmt == FJ_FMT_STX || fmt == FJ_FMT_ATOMIC;
  case 'o':
    return fmt == FJ_FMT_JA || fmt == FJ_FMT_JCOND_IMM || fmt == FJ_FMT_JCOND_REG ||
           fmt == FJ_FMT_LDX || fmt == FJ_FMT_ST || fmt == FJ_FMT_STX || fmt == FJ_FMT_ATOMIC;
  case 'i':
    return fmt == FJ_FMT_ALU_IMM || fmt == FJ_FMT_JA32 || fmt == FJ_FMT_JCOND_IMM ||
           fmt == FJ_FMT_CALL || fmt == FJ_FMT_CALL_LOCAL || fmt == FJ_FMT_LDDW ||
           fmt == FJ_FMT_LDDW_FUNC || fmt == FJ_FMT_ST;
  default: return false;
  }
}

fj_insn fj_asm_encode(enum fj_op op, unsigned dst, unsigned src, int16_t off, int32_t imm) {
  const fj_op_info *d = &fj_op_table[op];
  enum fj_fmt fmt = (enum fj_fmt)d->fmt;
  fj_insn i = fj_insn_make(d->code, fmt_has(fmt, 'd') ? dst : 0, fmt_has(fmt, 's') ? src : 0,
                           fmt_has(fmt, 'o') ? off : 0, fmt_has(fmt, 'i') ? imm : 0);
  switch (d->discr) {
  case FJ_DISCR_OFF: i.off = (int16_t)d->discr_val; break;
  case FJ_DISCR_IMM: i.imm = d->discr_val; break;
  case FJ_DISCR_SRC: i.regs = (uint8_t)((i.regs & 0x0f) | (d->discr_val << 4)); break;
  default: break;
  }
  return i;
}

/* Spellings other assemblers use for the same rows. */
static const struct { const char *alias, *mnem; } mnem_aliases[] = {
  {"swap16", "bswap16"}, {"swap32", "bswap32"}, {"swap64", "bswap64"}, {"callx", "call"},
};

static const char *mnem_canonical(const char *m) {
  for (size_t k = 0; k < sizeof mnem_aliases / sizeof mnem_aliases[0]; k++)
    if (strcmp(m, mnem_aliases[k].alias) == 0) return mnem_aliases[k].mnem;
  return m;
}

static bool mnem_known(const char *m) {
  m = mnem_canonical(m);
  for (int op = 1; op < FJ_OP__COUNT; op++)
    if (strcmp(fj_op_table[op].mnem, m) == 0) return true;
  return false;
}

/* ---- assembler state -------------------------------------------------------------------- */

enum fixup_field { FIX_OFF16, FIX_IMM32 };

typedef struct fixup {
  size_t pc;
  int line;
  enum fixup_field field;
  char *label;
} fixup;

typedef struct asm_state {
  fj_asm_prog *prog;
  size_t cap_insns, cap_labels, cap_label_lines;
  int *label_lines;   /* parallel to prog->labels */
  fixup *fixups;
  size_t nfixups, cap_fixups;
  int64_t first_exit; /* pc of the first `exit`, target of an undefined `exit` label */
  int line;
  char *err;
  size_t errlen;
} asm_state;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int fail(asm_state *st, const char *fmt, ...) {
  if (st->err && st->errlen) {
    int k = snprintf(st->err, st->errlen, "line %d: ", st->line);
    if (k >= 0 && (size_t)k < st->errlen) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(st->err + k, st->errlen - (size_t)k, fmt, ap);
      va_end(ap);
    }
  }
  return FJ_EINVAL;
}

static int oom(asm_state *st) {
  if (st->err && st->errlen) snprintf(st->err, st->errlen, "out of memory");
  return FJ_ENOMEM;
}

static bool grow(void **arr, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return true;
  size_t nc = *cap ? *cap * 2 : 64;
  while (nc < need) nc *= 2;
  void *p = realloc(*arr, nc * elem);
  if (!p) return false;
  *arr = p;
  *cap = nc;
  return true;
}

static int emit(asm_state *st, fj_insn i) {
  fj_asm_prog *p = st->prog;
  if (!grow((void **)&p->insns, &st->cap_insns, p->ninsns + 1, sizeof(fj_insn))) return oom(st);
  p->insns[p->ninsns++] = i;
  return 0;
}

/* ---- lexing ----------------------------------------------------------------------------- */

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
  return s;
}

static bool is_ident_start(char c) { return isalpha((unsigned char)c) || c == '_' || c == '.'; }
static bool is_ident_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == '.'; }

static bool is_ident(const char *s) {
  if (!is_ident_start(*s)) return false;
  while (*++s)
    if (!is_ident_char(*s)) return false;
  return true;
}

/* A number: [+-] (decimal | 0x hex).  Sets *neg and the magnitude; false if malformed or the
 * magnitude does not fit 64 bits. */
static bool parse_number(const char *s, bool *neg, uint64_t *mag) {
  *neg = false;
  if (*s == '+' || *s == '-') *neg = *s++ == '-';
  while (isspace((unsigned char)*s)) s++;
  unsigned base = 10;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) base = 16, s += 2;
  if (!*s) return false;
  uint64_t v = 0;
  for (; *s; s++) {
    unsigned d;
    if (isdigit((unsigned char)*s)) d = (unsigned)(*s - '0');
    else if (base == 16 && isxdigit((unsigned char)*s)) d = (unsigned)(tolower((unsigned char)*s) - 'a' + 10);
    else return false;
    if (v > (UINT64_MAX - d) / base) return false;
    v = v * base + d;
  }
  *mag = v;
  return true;
}

static bool looks_numeric(const char *s) {
  if (*s == '+' || *s == '-') s++;
  while (isspace((unsigned char)*s)) s++;
  return isdigit((unsigned char)*s);
}

/* Value of a number that must lie in [lo, hi] (lo as a signed, hi as an unsigned bound, so
 * one check covers 0xffffffff for a 32-bit immediate and -1 for lddw).  Returned as the
 * two's-complement bit pattern. */
static int number_in(asm_state *st, const char *s, int64_t lo, uint64_t hi, const char *what,
                     uint64_t *out) {
  bool neg;
  uint64_t mag;
  if (!parse_number(s, &neg, &mag)) return fail(st, "bad number '%s'", s);
  bool ok = neg ? mag <= (uint64_t)0 - (uint64_t)lo : mag <= hi;
  if (!ok) return fail(st, "%s %s out of range", what, s);
  *out = neg ? (uint64_t)0 - mag : mag;
  return 0;
}

static int parse_reg(asm_state *st, const char *s, unsigned *reg) {
  if (s[0] == '%' && s[1] == 'r' && isdigit((unsigned char)s[2])) {
    unsigned v = 0;
    const char *p = s + 2;
    while (isdigit((unsigned char)*p) && v < 100) v = v * 10 + (unsigned)(*p++ - '0');
    /* r11-r15 encode (as in bpf_conformance) so negative tests can be written; the VM's
     * validator rejects them. */
    if (!*p && v <= 15 && !(p - s > 3 && s[2] == '0')) {
      *reg = v;
      return 0;
    }
  }
  return fail(st, "bad register '%s' (expected %%r0-%%r10)", s);
}

/* [%rN], [%rN+off], [%rN-off] */
static int parse_mem(asm_state *st, char *s, unsigned *reg, int16_t *off) {
  size_t n = strlen(s);
  if (n < 2 || s[0] != '[' || s[n - 1] != ']') return fail(st, "bad memory operand '%s'", s);
  char buf[128];
  if (n - 2 >= sizeof buf) return fail(st, "bad memory operand '%s'", s);
  memcpy(buf, s + 1, n - 2);
  buf[n - 2] = '\0';
  char *sign = strpbrk(buf, "+-");
  char num[128] = "0";
  if (sign) {
    snprintf(num, sizeof num, "%s", sign);
    *sign = '\0';
  }
  int rc = parse_reg(st, trim(buf), reg);
  if (rc) return rc;
  uint64_t v;
  if (sign && !looks_numeric(num)) return fail(st, "bad memory offset in '%s'", s);
  if ((rc = number_in(st, trim(num), INT16_MIN, INT16_MAX, "offset", &v))) return rc;
  *off = (int16_t)(int64_t)v;
  return 0;
}

static char operand_kind(const char *s) {
  if (s[0] == '%') return 'R';
  if (s[0] == '[') return 'M';
  if (looks_numeric(s)) return 'N';
  if (strncmp(s, "local", 5) == 0 && isspace((unsigned char)s[5])) return 'L';
  if (is_ident(s)) return 'I';
  return '?';
}

static bool shape_matches(const char *shape, const char *kinds) {
  if (strlen(shape) != strlen(kinds)) return false;
  for (; *shape; shape++, kinds++) {
    if (*shape == *kinds) continue;
    if (*shape == 'T' && (*kinds == 'N' || *kinds == 'I')) continue;
    return false;
  }
  return true;
}

/* ---- labels and fixups ------------------------------------------------------------------ */

static int define_label(asm_state *st, const char *name) {
  fj_asm_prog *p = st->prog;
  for (size_t k = 0; k < p->nlabels; k++)
    if (strcmp(p->labels[k].name, name) == 0)
      return fail(st, "duplicate label '%s' (first defined on line %d)", name, st->label_lines[k]);
  if (!grow((void **)&p->labels, &st->cap_labels, p->nlabels + 1, sizeof(fj_asm_label)) ||
      !grow((void **)&st->label_lines, &st->cap_label_lines, p->nlabels + 1, sizeof(int)))
    return oom(st);
  char *copy = strdup(name);
  if (!copy) return oom(st);
  p->labels[p->nlabels] = (fj_asm_label){copy, (uint32_t)p->ninsns};
  st->label_lines[p->nlabels++] = st->line;
  return 0;
}

static int add_fixup(asm_state *st, enum fixup_field field, const char *label) {
  if (!grow((void **)&st->fixups, &st->cap_fixups, st->nfixups + 1, sizeof(fixup))) return oom(st);
  char *copy = strdup(label);
  if (!copy) return oom(st);
  st->fixups[st->nfixups++] = (fixup){st->prog->ninsns, st->line, field, copy};
  return 0;
}

/* A jump target: a signed number is the offset itself; a label becomes a fixup. */
static int parse_target(asm_state *st, const char *s, enum fixup_field field, int64_t *rel) {
  *rel = 0;
  if (!looks_numeric(s)) return add_fixup(st, field, s);
  uint64_t v;
  int rc = field == FIX_OFF16 ? number_in(st, s, INT16_MIN, INT16_MAX, "jump offset", &v)
                              : number_in(st, s, INT32_MIN, INT32_MAX, "jump offset", &v);
  if (rc) return rc;
  *rel = (int64_t)v;
  return 0;
}

static int resolve_fixups(asm_state *st) {
  fj_asm_prog *p = st->prog;
  for (size_t k = 0; k < st->nfixups; k++) {
    fixup *f = &st->fixups[k];
    st->line = f->line;
    int64_t target = fj_asm_prog_label(p, f->label);
    if (target < 0 && strcmp(f->label, "exit") == 0) target = st->first_exit;
    if (target < 0) return fail(st, "undefined label '%s'", f->label);
    int64_t rel = target - (int64_t)f->pc - 1;
    fj_insn *i = &p->insns[f->pc];
    if (f->field == FIX_OFF16) {
      if (rel < INT16_MIN || rel > INT16_MAX)
        return fail(st, "offset out of range: '%s' is %lld instructions away (16-bit field)",
                    f->label, (long long)rel);
      i->off = (int16_t)rel;
    } else {
      if (rel < INT32_MIN || rel > INT32_MAX)
        return fail(st, "offset out of range: '%s' is %lld instructions away", f->label,
                    (long long)rel);
      i->imm = (int32_t)rel;
    }
  }
  return 0;
}

/* ---- one instruction -------------------------------------------------------------------- */

enum { MAX_OPERANDS = 4 };

static int assemble_op(asm_state *st, enum fj_op op, char **opnd) {
  enum fj_fmt fmt = (enum fj_fmt)fj_op_table[op].fmt;
  unsigned dst = 0, src = 0;
  int16_t off = 0;
  int64_t rel = 0;
  uint64_t imm = 0;
  int rc = 0;
  switch (fmt) {
  case FJ_FMT_ALU_IMM:
    if (!(rc = parse_reg(st, opnd[0], &dst)))
      rc = number_in(st, opnd[1], INT32_MIN, UINT32_MAX, "immediate", &imm);
    break;
  case FJ_FMT_ALU_REG:
    if (!(rc = parse_reg(st, opnd[0], &dst))) rc = parse_reg(st, opnd[1], &src);
    break;
  case FJ_FMT_ALU_UNARY:
  case FJ_FMT_END:
  case FJ_FMT_CALLX:
    rc = parse_reg(st, opnd[0], &dst);
    break;
  case FJ_FMT_JA:
    rc = parse_target(st, opnd[0], FIX_OFF16, &rel);
    off = (int16_t)rel;
    break;
  case FJ_FMT_JA32:
    rc = parse_target(st, opnd[0], FIX_IMM32, &rel);
    imm = (uint64_t)rel;
    break;
  case FJ_FMT_JCOND_IMM:
  case FJ_FMT_JCOND_REG:
    if ((rc = parse_reg(st, opnd[0], &dst))) break;
    rc = fmt == FJ_FMT_JCOND_REG ? parse_reg(st, opnd[1], &src)
                                 : number_in(st, opnd[1], INT32_MIN, UINT32_MAX, "immediate", &imm);
    if (!rc) rc = parse_target(st, opnd[2], FIX_OFF16, &rel);
    off = (int16_t)rel;
    break;
  case FJ_FMT_CALL:
    rc = number_in(st, opnd[0], INT32_MIN, UINT32_MAX, "helper id", &imm);
    break;
  case FJ_FMT_CALL_LOCAL:
    rc = parse_target(st, trim(opnd[0] + 5), FIX_IMM32, &rel);
    imm = (uint64_t)rel;
    break;
  case FJ_FMT_EXIT:
    if (st->first_exit < 0) st->first_exit = (int64_t)st->prog->ninsns;
    break;
  case FJ_FMT_LDDW:
    if (!(rc = parse_reg(st, opnd[0], &dst)))
      rc = number_in(st, opnd[1], INT64_MIN, UINT64_MAX, "immediate", &imm);
    break;
  case FJ_FMT_LDDW_FUNC:
    if (!(rc = parse_reg(st, opnd[0], &dst))) rc = add_fixup(st, FIX_IMM32, opnd[1]);
    break;
  case FJ_FMT_LDX:
    if (!(rc = parse_reg(st, opnd[0], &dst))) rc = parse_mem(st, opnd[1], &src, &off);
    break;
  case FJ_FMT_ST:
    if (!(rc = parse_mem(st, opnd[0], &dst, &off)))
      rc = number_in(st, opnd[1], INT32_MIN, UINT32_MAX, "immediate", &imm);
    break;
  case FJ_FMT_STX:
  case FJ_FMT_ATOMIC:
    if (!(rc = parse_mem(st, opnd[0], &dst, &off))) rc = parse_reg(st, opnd[1], &src);
    break;
  case FJ_FMT__COUNT:
    break;
  }
  if (rc) return rc;
  if ((rc = emit(st, fj_asm_encode(op, dst, src, off, (int32_t)(uint32_t)imm)))) return rc;
  if (fj_op_is_lddw(op)) rc = emit(st, fj_insn_make(0, 0, 0, 0, (int32_t)(uint32_t)(imm >> 32)));
  return rc;
}

/* Split the text after the mnemonic at commas. */
static int split_operands(asm_state *st, char *rest, char **opnd, size_t *n) {
  *n = 0;
  rest = trim(rest);
  if (!*rest) return 0;
  for (;;) {
    char *comma = strchr(rest, ',');
    if (comma) *comma = '\0';
    if (*n == MAX_OPERANDS) return fail(st, "too many operands");
    opnd[(*n)++] = trim(rest);
    if (!*opnd[*n - 1]) return fail(st, "empty operand");
    if (!comma) return 0;
    rest = comma + 1;
  }
}

static int assemble_insn(asm_state *st, char *text) {
  /* The mnemonic is the longest run of up to three leading words that FJ_OPS (or an alias)
   * knows: "lock fetch add32" before "lock". */
  char mnem[64] = "", cand[64] = "";
  char *rest = text, *p = text;
  for (int words = 0; words < 3; words++) {
    while (isspace((unsigned char)*p)) p++;
    char *w = p;
    while (*p && !isspace((unsigned char)*p)) p++;
    if (p == w) break;
    int k = snprintf(cand + strlen(cand), sizeof cand - strlen(cand), "%s%.*s", words ? " " : "",
                     (int)(p - w), w);
    if (k < 0 || strlen(cand) >= sizeof cand - 1) break;
    if (mnem_known(cand)) {
      snprintf(mnem, sizeof mnem, "%s", cand);
      rest = p;
    }
  }
  if (!mnem[0]) {
    char word[64];
    snprintf(word, sizeof word, "%.*s", (int)strcspn(text, " \t"), text);
    if (strcmp(word, ".raw") == 0) {
      uint64_t v;
      int rc = number_in(st, trim(text + 4), 0, UINT64_MAX, "raw word", &v);
      if (rc) return rc;
      return emit(st, fj_insn_make((uint8_t)v, (v >> 8) & 0x0f, (v >> 12) & 0x0f,
                                   (int16_t)(uint16_t)(v >> 16), (int32_t)(uint32_t)(v >> 32)));
    }
    return fail(st, "unknown mnemonic '%s'", word);
  }

  char *opnd[MAX_OPERANDS];
  size_t n;
  int rc = split_operands(st, rest, opnd, &n);
  if (rc) return rc;
  char kinds[MAX_OPERANDS + 1];
  for (size_t k = 0; k < n; k++) kinds[k] = operand_kind(opnd[k]);
  kinds[n] = '\0';

  const char *m = mnem_canonical(mnem);
  char usage[256] = "";
  for (int op = 1; op < FJ_OP__COUNT; op++) {
    if (strcmp(fj_op_table[op].mnem, m) != 0) continue;
    enum fj_fmt fmt = (enum fj_fmt)fj_op_table[op].fmt;
    if (shape_matches(fmt_shape(fmt), kinds)) return assemble_op(st, (enum fj_op)op, opnd);
    const char *u = fj_asm_fmt_usage(fmt);
    size_t len = strlen(usage);
    snprintf(usage + len, sizeof usage - len, "%s'%s%s%s'", len ? " or " : "", mnem, *u ? " " : "", u);
  }
  return fail(st, "bad operands for '%s': expected %s", mnem, usage);
}

static int assemble_line(asm_state *st, char *line) {
  char *hash = strchr(line, '#');
  if (hash) *hash = '\0';
  char *s = trim(line);
  /* Leading `label:` */
  char *p = s;
  if (is_ident_start(*p)) {
    while (is_ident_char(*p)) p++;
    if (*p == ':') {
      *p = '\0';
      int rc = define_label(st, s);
      if (rc) return rc;
      s = trim(p + 1);
    }
  }
  if (!*s) return 0;
  return assemble_insn(st, s);
}

/* ---- public ----------------------------------------------------------------------------- */

int64_t fj_asm_prog_label(const fj_asm_prog *p, const char *name) {
  for (size_t k = 0; k < p->nlabels; k++)
    if (strcmp(p->labels[k].name, name) == 0) return p->labels[k].pc;
  return -1;
}

void fj_asm_prog_free(fj_asm_prog *p) {
  if (!p) return;
  for (size_t k = 0; k < p->nlabels; k++) free(p->labels[k].name);
  free(p->labels);
  free(p->insns);
  memset(p, 0, sizeof *p);
}

int fj_asm_prog_build(const char *text, fj_asm_prog *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (err && errlen) err[0] = '\0';
  asm_state st = {.prog = out, .first_exit = -1, .err = err, .errlen = errlen};
  char *copy = strdup(text ? text : "");
  if (!copy) return oom(&st);
  int rc = 0;
  char *line = copy;
  while (line && !rc) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    st.line++;
    rc = assemble_line(&st, line);
    line = nl ? nl + 1 : NULL;
  }
  if (!rc) rc = resolve_fixups(&st);
  for (size_t k = 0; k < st.nfixups; k++) free(st.fixups[k].label);
  free(st.fixups);
  free(st.label_lines);
  free(copy);
  if (rc) fj_asm_prog_free(out);
  return rc;
}

int fj_asm(const char *text, fj_insn **out, size_t *n, char *err, size_t errlen) {
  fj_asm_prog p;
  int rc = fj_asm_prog_build(text, &p, err, errlen);
  *out = NULL;
  *n = 0;
  if (rc) return rc;
  for (size_t k = 0; k < p.nlabels; k++) free(p.labels[k].name);
  free(p.labels);
  *out = p.insns;
  *n = p.ninsns;
  return 0;
}
