/* farjit tools — eBPF disassembler (see disasm.h). */
#include "tools/disasm.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farjit/error.h"
#include "tools/asm.h"

/* The op at code[pc] if the slot(s) are exactly its canonical encoding, else FJ_OP_INVALID. */
static enum fj_op canonical_op(const fj_insn *code, size_t n, size_t pc) {
  fj_insn i = code[pc];
  enum fj_op op = fj_op_decode(i);
  if (op == FJ_OP_INVALID) return op;
  fj_insn e = fj_asm_encode(op, fj_insn_dst(i), fj_insn_src(i), i.off, i.imm);
  if (memcmp(&e, &i, sizeof i) != 0) return FJ_OP_INVALID;
  if (fj_op_is_lddw(op)) {
    if (pc + 1 >= n) return FJ_OP_INVALID;
    fj_insn hi = code[pc + 1];
    fj_insn want = fj_insn_make(0, 0, 0, 0, op == FJ_OP_LDDW ? hi.imm : 0);
    if (memcmp(&want, &hi, sizeof hi) != 0) return FJ_OP_INVALID;
  }
  return op;
}

static uint64_t raw_word(fj_insn i) {
  return (uint64_t)i.code | (uint64_t)i.regs << 8 | (uint64_t)(uint16_t)i.off << 16 |
         (uint64_t)(uint32_t)i.imm << 32;
}

static void fmt_imm(char *b, size_t n, int64_t v) {
  if (v >= 0)
    snprintf(b, n, v < 0x10000 ? "%lld" : "0x%llx", (long long)v);
  else if (v > -0x10000)
    snprintf(b, n, "%lld", (long long)v);
  else
    snprintf(b, n, "-0x%llx", (unsigned long long)(0 - (uint64_t)v));
}

static void fmt_mem(char *b, size_t n, unsigned reg, int16_t off) {
  if (off == 0) snprintf(b, n, "[%%r%u]", reg);
  else if (off > 0) snprintf(b, n, "[%%r%u+%d]", reg, off);
  else snprintf(b, n, "[%%r%u-%d]", reg, -(int)off);
}

/* Relative target of a jump, call or function load at pc. */
static bool op_target(enum fj_op op, fj_insn i, int64_t *rel) {
  switch (fj_op_table[op].fmt) {
  case FJ_FMT_JA:
  case FJ_FMT_JCOND_IMM:
  case FJ_FMT_JCOND_REG: *rel = i.off; return true;
  case FJ_FMT_JA32:
  case FJ_FMT_CALL_LOCAL:
  case FJ_FMT_LDDW_FUNC: *rel = i.imm; return true;
  default: return false;
  }
}

/* Format code[pc].  labels (n + 1 entries, may be NULL) names targets; a target without a name
 * prints as a relative offset.  Returns the slots consumed. */
static int format_insn(const fj_insn *code, size_t n, size_t pc, char *const *labels, char *buf,
                       size_t len) {
  fj_insn i = code[pc];
  enum fj_op op = canonical_op(code, n, pc);
  char tgt[96] = "", imm[32], mem[48];
  int64_t rel;
  if (op != FJ_OP_INVALID && op_target(op, i, &rel)) {
    int64_t t = (int64_t)pc + rel + 1;
    if (labels && t >= 0 && (uint64_t)t <= n && labels[t]) snprintf(tgt, sizeof tgt, "%s", labels[t]);
    else if (op == FJ_OP_LDDW_FUNC && labels) op = FJ_OP_INVALID; /* needs a label: keep raw */
    else if (op == FJ_OP_LDDW_FUNC) snprintf(tgt, sizeof tgt, "<fn %+lld>", (long long)rel);
    else snprintf(tgt, sizeof tgt, "%+lld", (long long)rel);
  }
  if (op == FJ_OP_INVALID) {
    snprintf(buf, len, ".raw 0x%016llx", (unsigned long long)raw_word(i));
    return 1;
  }
  const char *m = fj_op_table[op].mnem;
  unsigned dst = fj_insn_dst(i), src = fj_insn_src(i);
  fmt_imm(imm, sizeof imm, i.imm);
  switch ((enum fj_fmt)fj_op_table[op].fmt) {
  case FJ_FMT_ALU_IMM: snprintf(buf, len, "%s %%r%u, %s", m, dst, imm); break;
  case FJ_FMT_ALU_REG: snprintf(buf, len, "%s %%r%u, %%r%u", m, dst, src); break;
  case FJ_FMT_ALU_UNARY:
  case FJ_FMT_END:
  case FJ_FMT_CALLX: snprintf(buf, len, "%s %%r%u", m, dst); break;
  case FJ_FMT_JA:
  case FJ_FMT_JA32: snprintf(buf, len, "%s %s", m, tgt); break;
  case FJ_FMT_JCOND_IMM: snprintf(buf, len, "%s %%r%u, %s, %s", m, dst, imm, tgt); break;
  case FJ_FMT_JCOND_REG: snprintf(buf, len, "%s %%r%u, %%r%u, %s", m, dst, src, tgt); break;
  case FJ_FMT_CALL: snprintf(buf, len, "%s %s", m, imm); break;
  case FJ_FMT_CALL_LOCAL: snprintf(buf, len, "%s local %s", m, tgt); break;
  case FJ_FMT_EXIT: snprintf(buf, len, "%s", m); break;
  case FJ_FMT_LDDW:
    snprintf(buf, len, "%s %%r%u, 0x%llx", m, dst,
             (unsigned long long)((uint64_t)(uint32_t)i.imm | (uint64_t)(uint32_t)code[pc + 1].imm << 32));
    break;
  case FJ_FMT_LDDW_FUNC: snprintf(buf, len, "%s %%r%u, %s", m, dst, tgt); break;
  case FJ_FMT_LDX:
    fmt_mem(mem, sizeof mem, src, i.off);
    snprintf(buf, len, "%s %%r%u, %s", m, dst, mem);
    break;
  case FJ_FMT_ST:
    fmt_mem(mem, sizeof mem, dst, i.off);
    snprintf(buf, len, "%s %s, %s", m, mem, imm);
    break;
  case FJ_FMT_STX:
  case FJ_FMT_ATOMIC:
    fmt_mem(mem, sizeof mem, dst, i.off);
    snprintf(buf, len, "%s %s, %%r%u", m, mem, src);
    break;
  case FJ_FMT__COUNT: break;
  }
  return fj_op_is_lddw(op) ? 2 : 1;
}

int fj_disasm_insn(const fj_insn *code, size_t n, size_t pc, char *buf, size_t len) {
  if (!code || pc >= n) {
    if (len) buf[0] = '\0';
    return FJ_EINVAL;
  }
  return format_insn(code, n, pc, NULL, buf, len);
}

/* ---- whole program ---------------------------------------------------------------------- */

typedef struct strbuf {
  char *p;
  size_t len, cap;
  bool oom;
} strbuf;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void sb_printf(strbuf *sb, const char *fmt, ...) {
  if (sb->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(sb->p ? sb->p + sb->len : NULL, sb->p ? sb->cap - sb->len : 0, fmt, ap);
    va_end(ap);
    if (k < 0) {
      sb->oom = true;
      return;
    }
    if (sb->p && sb->len + (size_t)k < sb->cap) {
      sb->len += (size_t)k;
      return;
    }
    size_t nc = sb->cap ? sb->cap * 2 : 4096;
    while (nc < sb->len + (size_t)k + 1) nc *= 2;
    char *np = realloc(sb->p, nc);
    if (!np) {
      sb->oom = true;
      return;
    }
    sb->p = np;
    sb->cap = nc;
  }
}

static bool valid_label(const char *s) {
  if (!s || !(isalpha((unsigned char)*s) || *s == '_' || *s == '.')) return false;
  for (; *s; s++)
    if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '.')) return false;
  return true;
}

static bool name_taken(char *const *labels, size_t n, const char *name) {
  for (size_t k = 0; k <= n; k++)
    if (labels[k] && strcmp(labels[k], name) == 0) return true;
  return false;
}

int fj_disasm(const fj_insn *code, size_t n, const fj_disasm_label *names, size_t nnames,
              unsigned flags, char **out) {
  *out = NULL;
  /* starts[pc]: an instruction begins at pc (pc == n: the end, where a label may sit). */
  bool *starts = calloc(n + 1, sizeof *starts), *needed = calloc(n + 1, sizeof *needed);
  char **labels = calloc(n + 1, sizeof *labels);
  strbuf sb = {0};
  if (!starts || !needed || !labels) goto nomem;
  for (size_t pc = 0; pc < n;) {
    starts[pc] = true;
    pc += fj_op_is_lddw(canonical_op(code, n, pc)) ? 2 : 1;
  }
  starts[n] = true;
  for (size_t pc = 0; pc < n; pc++) {
    if (!starts[pc]) continue;
    enum fj_op op = canonical_op(code, n, pc);
    int64_t rel;
    if (op == FJ_OP_INVALID || !op_target(op, code[pc], &rel)) continue;
    int64_t t = (int64_t)pc + rel + 1;
    if (t >= 0 && (uint64_t)t <= n && starts[t]) needed[t] = true;
  }
  /* Given names first (they also label function entries nothing jumps to), then L<pc>. */
  for (size_t k = 0; k < nnames; k++) {
    uint32_t pc = names[k].pc;
    if (pc > n || !starts[pc] || labels[pc] || !valid_label(names[k].name) ||
        name_taken(labels, n, names[k].name))
      continue;
    if (!(labels[pc] = strdup(names[k].name))) goto nomem;
  }
  for (size_t pc = 0; pc <= n; pc++) {
    if (!needed[pc] || labels[pc]) continue;
    char name[40];
    snprintf(name, sizeof name, "L%zu", pc);
    while (nnames && name_taken(labels, n, name)) strcat(name, "_");
    if (!(labels[pc] = strdup(name))) goto nomem;
  }
  for (size_t pc = 0; pc <= n;) {
    if (labels[pc]) sb_printf(&sb, "%s:\n", labels[pc]);
    if (pc == n) break;
    char line[256];
    int used = format_insn(code, n, pc, labels, line, sizeof line);
    if (flags & FJ_DISASM_PC) sb_printf(&sb, "%-40s # %zu\n", line, pc);
    else sb_printf(&sb, "%s\n", line);
    pc += (size_t)used;
  }
  if (!sb.p) sb_printf(&sb, "%s", "");
  if (sb.oom) goto nomem;
  for (size_t pc = 0; pc <= n; pc++) free(labels[pc]);
  free(labels);
  free(starts);
  free(needed);
  *out = sb.p;
  return (int)sb.len;
nomem:
  if (labels)
    for (size_t pc = 0; pc <= n; pc++) free(labels[pc]);
  free(labels);
  free(starts);
  free(needed);
  free(sb.p);
  return FJ_ENOMEM;
}
