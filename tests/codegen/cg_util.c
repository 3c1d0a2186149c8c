#include "tests/codegen/cg_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codegen/opt.h"
#include "codegen/trace_read.h"
#include "tools/asm.h"

fj_insn *cu_asm(const char *text, uint32_t *n) {
  fj_insn *p = NULL;
  size_t cnt = 0;
  char err[128];
  int rc = fj_asm(text, &p, &cnt, err, sizeof err);
  if (rc) fail_msg("asm: %s", err);
  *n = (uint32_t)cnt;
  return p;
}

uint8_t *cu_trace(const fj_insn *prog, uint32_t n, uint32_t start, const char *path,
                  uint8_t region, uint32_t max, size_t *len) {
  return cu_trace_narrow(prog, n, start, path, region, max, 0, len);
}

uint8_t *cu_trace_narrow(const fj_insn *prog, uint32_t n, uint32_t start, const char *path,
                         uint8_t region, uint32_t max, uint32_t entry_narrow, size_t *len) {
  fj_trace_rec *recs = calloc(max, sizeof *recs);
  assert_non_null(recs);
  uint32_t pc = start, depth = 0, nrec = 0, ret[FJ_MAX_CALL_DEPTH];
  uint16_t end = FJ_TRACE_END_STOP;
  uint32_t end_pc = start;
  const char *pp = path ? path : "";
  while (nrec < max) {
    assert_true(pc < n);
    fj_insn in = prog[pc];
    enum fj_op op = fj_op_decode(in);
    assert_int_not_equal(op, FJ_OP_INVALID);
    fj_trace_rec *r = &recs[nrec++];
    r->insn = in;
    r->pc = pc;
    r->depth = (uint8_t)depth;
    uint8_t fmt = fj_op_table[op].fmt;
    uint32_t next = pc + 1;
    switch (fmt) {
    case FJ_FMT_LDDW: case FJ_FMT_LDDW_FUNC: r->aux = (uint32_t)prog[pc + 1].imm; next = pc + 2; break;
    case FJ_FMT_JA: next = (uint32_t)((int64_t)pc + 1 + in.off); break;
    case FJ_FMT_JA32: next = (uint32_t)((int64_t)pc + 1 + in.imm); break;
    case FJ_FMT_JCOND_IMM: case FJ_FMT_JCOND_REG: {
      bool t = *pp == 't';
      if (*pp) pp++;
      if (t) { r->flags |= FJ_REC_TAKEN; next = (uint32_t)((int64_t)pc + 1 + in.off); }
      break;
    }
    case FJ_FMT_CALL: r->aux = (uint32_t)in.imm; break;
    case FJ_FMT_CALL_LOCAL:
      r->aux = (uint32_t)((int64_t)pc + 1 + in.imm);
      ret[depth++] = pc + 1;
      next = r->aux;
      break;
    case FJ_FMT_EXIT:
      if (depth == 0) { end = FJ_TRACE_END_STOP; end_pc = pc; goto done; }
      next = ret[--depth];
      break;
    case FJ_FMT_LDX: case FJ_FMT_ST: case FJ_FMT_STX: case FJ_FMT_ATOMIC: {
      unsigned base = fmt == FJ_FMT_LDX ? fj_insn_src(in) : fj_insn_dst(in);
      r->region = base == FJ_REG_FP ? 0 : region;
      break;
    }
    default: break;
    }
    pc = next;
    end_pc = pc;
    if (depth == 0 && pc == start) { end = FJ_TRACE_END_LOOP; break; }
  }
done:;
  size_t sz = fj_trace_size(nrec);
  uint8_t *b = calloc(1, sz);
  assert_non_null(b);
  fj_trace_header h = {.magic = FJ_TRACE_MAGIC, .version = FJ_TRACE_VERSION,
                       .kind = end == FJ_TRACE_END_LOOP ? FJ_TRACE_LOOP : FJ_TRACE_ENTRY,
                       .start_pc = start, .nrecs = nrec, .end = end, .end_pc = end_pc,
                       .prog_ninsns = n, .nregions = 4, .entry_narrow = entry_narrow};
  memcpy(b, &h, sizeof h);
  memcpy(b + sizeof h, recs, nrec * sizeof *recs);
  free(recs);
  *len = sz;
  return b;
}

int cu_build(const uint8_t *bytes, size_t len, uint32_t flags, bool opt, fj_ir *ir) {
  fj_trace t;
  char msg[192];
  fj_ir_init(ir, flags);
  int rc = fj_trace_read(bytes, len, 0, &t, msg, sizeof msg);
  if (rc) {
    snprintf(ir->msg, sizeof ir->msg, "%s", msg);
    return FJ_ABORT_BADTRACE;
  }
  if (setjmp(ir->abort_jb) == 0) {
    char vmsg[160];
    fj_ir_build(ir, &t);
    if (fj_ir_verify(ir, vmsg, sizeof vmsg)) fail_msg("IR after build: %s", vmsg);
    if (opt) {
      fj_opt_run(ir);
      if (fj_ir_verify(ir, vmsg, sizeof vmsg)) fail_msg("IR after opts: %s", vmsg);
    }
    fj_trace_release(&t);
    return 0;
  }
  fj_trace_release(&t);
  return ir->reason;
}

char *cu_ir_text(const char *text, const char *path, bool opt, bool snaps) {
  return cu_ir_text_flags(text, path, opt, snaps, 0);
}

char *cu_ir_text_flags(const char *text, const char *path, bool opt, bool snaps, uint32_t flags) {
  uint32_t n;
  fj_insn *p = cu_asm(text, &n);
  size_t len;
  uint8_t *b = cu_trace(p, n, 0, path, 1, 4096, &len);
  fj_ir ir;
  int rc = cu_build(b, len, flags, opt, &ir);
  if (rc) fail_msg("build: %s: %s", fj_abort_name(rc), ir.msg);
  char *s = fj_ir_dump(&ir, snaps);
  fj_ir_free(&ir);
  free(b);
  free(p);
  return s;
}

unsigned cu_count(const fj_ir *ir, enum fj_ir_op op) {
  unsigned c = 0;
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) c += fj_ir_at(ir, r)->op == op;
  return c;
}

uint64_t cu_eval(const fj_ir *ir, fj_ref r, const uint64_t in[16]) {
  if (fj_ir_is_k(r)) return fj_ir_kval(ir, r);
  const fj_ir_ins *i = fj_ir_at(ir, r);
  if (i->op == FJ_IR_RIN) return in[i->lit & 15];
  if (!(fj_ir_op_table[i->op].flags & FJ_IRF_PURE)) fail_msg("cu_eval: %s", fj_ir_op_name(i->op));
  uint64_t a = i->a ? cu_eval(ir, i->a, in) : 0, b = i->b ? cu_eval(ir, i->b, in) : 0;
  return fj_ir_arith((enum fj_ir_op)i->op, (enum fj_irt)i->type, i->aux, a, b);
}

void cu_build_text(const char *text, const char *path, uint32_t flags, fj_ir *ir) {
  uint32_t n;
  fj_insn *p = cu_asm(text, &n);
  size_t len;
  uint8_t *b = cu_trace(p, n, 0, path, 1, 4096, &len);
  int rc = cu_build(b, len, flags, false, ir);
  free(b);
  free(p);
  if (rc) fail_msg("build: %s: %s", fj_abort_name(rc), ir->msg);
}

char *cu_dump(const fj_ir *ir) { return fj_ir_dump(ir, false); }
char *cu_dump_snaps(const fj_ir *ir) { return fj_ir_dump(ir, true); }
