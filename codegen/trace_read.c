/* farjit codegen — decode and verify trace bytes.  Contract in codegen/trace_read.h; the rules
 * are those of farjit/trace.h, checked one by one so that the builder can trust every field. */
#include "codegen/trace_read.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farjit/error.h"
#include "farjit/vm.h"

typedef struct vctx {
  char *msg;
  size_t cap;
} vctx;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int fail(vctx *v, const char *fmt, ...) {
  if (v->cap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->msg, v->cap, fmt, ap);
    va_end(ap);
  }
  return FJ_EBADTRACE;
}

static bool is_mem_fmt(uint8_t fmt) {
  return fmt == FJ_FMT_LDX || fmt == FJ_FMT_ST || fmt == FJ_FMT_STX || fmt == FJ_FMT_ATOMIC;
}

static bool is_cond_fmt(uint8_t fmt) { return fmt == FJ_FMT_JCOND_IMM || fmt == FJ_FMT_JCOND_REG; }

/* Does the op write its dst register? */
static bool writes_dst(uint8_t fmt, enum fj_op op) {
  switch (fmt) {
  case FJ_FMT_ALU_IMM: case FJ_FMT_ALU_REG: case FJ_FMT_ALU_UNARY: case FJ_FMT_END:
  case FJ_FMT_LDDW: case FJ_FMT_LDDW_FUNC: case FJ_FMT_LDX:
    return true;
  case FJ_FMT_ATOMIC:  /* fetch variants write src (or r0 for cmpxchg), never dst */
    (void)op;
    return false;
  default:
    return false;
  }
}

/* Does the op read its src register? */
static bool uses_src(uint8_t fmt) {
  return fmt == FJ_FMT_ALU_REG || fmt == FJ_FMT_JCOND_REG || fmt == FJ_FMT_LDX ||
         fmt == FJ_FMT_STX || fmt == FJ_FMT_ATOMIC;
}

static bool uses_dst(uint8_t fmt) {
  return !(fmt == FJ_FMT_JA || fmt == FJ_FMT_JA32 || fmt == FJ_FMT_CALL ||
           fmt == FJ_FMT_CALL_LOCAL || fmt == FJ_FMT_EXIT);
}

uint32_t fj_trace_next_pc(const fj_trace_rec *r, uint8_t op) {
  const fj_insn in = r->insn;
  int64_t pc = r->pc, next;
  switch (fj_op_table[op].fmt) {
  case FJ_FMT_LDDW:
  case FJ_FMT_LDDW_FUNC: next = pc + 2; break;
  case FJ_FMT_JA: next = pc + 1 + in.off; break;
  case FJ_FMT_JA32: next = pc + 1 + (int64_t)in.imm; break;
  case FJ_FMT_JCOND_IMM:
  case FJ_FMT_JCOND_REG: next = (r->flags & FJ_REC_TAKEN) ? pc + 1 + in.off : pc + 1; break;
  case FJ_FMT_CALL_LOCAL: next = (r->flags & FJ_REC_CALL_INTERP) ? pc + 1 : (int64_t)r->aux; break;
  case FJ_FMT_EXIT: return UINT32_MAX;
  default: next = pc + 1; break;
  }
  return next < 0 || next > (int64_t)UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)next;
}

void fj_trace_release(fj_trace *t) {
  if (!t) return;
  free(t->recs);
  free(t->ops);
  t->recs = NULL;
  t->ops = NULL;
  t->nrecs = 0;
}

static int check_header(vctx *v, const fj_trace_header *h, size_t len, uint32_t max_recs) {
  if (h->magic != FJ_TRACE_MAGIC) return fail(v, "trace header: bad magic 0x%08x", h->magic);
  if (h->version == 1)
    return fail(v, "trace header: version 1 (lddw holds the client's data addresses) is no "
                   "longer accepted: the client must record version %u", FJ_TRACE_VERSION);
  if (h->version == 2)
    return fail(v, "trace header: version 2 (no entry_narrow) is no longer accepted: the client "
                   "must record version %u", FJ_TRACE_VERSION);
  if (h->version != FJ_TRACE_VERSION)
    return fail(v, "trace header: version %u, expected %u", h->version, FJ_TRACE_VERSION);
  if (h->kind < FJ_TRACE_LOOP || h->kind > FJ_TRACE_BRIDGE)
    return fail(v, "trace header: bad kind %u", h->kind);
  if (h->nrecs == 0) return fail(v, "trace header: no records");
  if (h->nrecs > max_recs)
    return fail(v, "trace header: %u records, limit %u", h->nrecs, max_recs);
  if (len != fj_trace_size(h->nrecs))
    return fail(v, "trace header: size %zu, expected %u for %u records", len,
                fj_trace_size(h->nrecs), h->nrecs);
  if (h->end < FJ_TRACE_END_LOOP || h->end > FJ_TRACE_END_STOP)
    return fail(v, "trace header: bad end kind %u", h->end);
  if (h->flags != 0 || h->reserved != 0)
    return fail(v, "trace header: reserved fields not zero");
  if (h->entry_narrow >> FJ_NREGS)
    return fail(v, "trace header: entry_narrow 0x%x names registers above r10", h->entry_narrow);
  if (h->prog_ninsns == 0) return fail(v, "trace header: empty program");
  if (h->start_pc >= h->prog_ninsns)
    return fail(v, "trace header: start pc %u >= program length %u", h->start_pc, h->prog_ninsns);
  if (h->end_pc >= h->prog_ninsns)
    return fail(v, "trace header: end pc %u >= program length %u", h->end_pc, h->prog_ninsns);
  if (h->nregions > FJ_MAX_REGIONS)
    return fail(v, "trace header: %u regions, at most %u", h->nregions, FJ_MAX_REGIONS);
  if (h->kind != FJ_TRACE_BRIDGE && (h->parent_id != 0 || h->parent_exit != 0))
    return fail(v, "trace header: parent fields set on a non-bridge");
  if (h->end == FJ_TRACE_END_LOOP && h->end_pc != h->start_pc)
    return fail(v, "trace header: loop ends at pc %u, not at its start %u", h->end_pc,
                h->start_pc);
  return 0;
}

/* Checks of one record in isolation. */
static int check_rec(vctx *v, const fj_trace_header *h, uint32_t i, const fj_trace_rec *r,
                     enum fj_op op) {
  uint32_t pc = r->pc;
  if (op == FJ_OP_INVALID)
    return fail(v, "trace rec %u (pc %u): invalid opcode 0x%02x", i, pc, r->insn.code);
  uint8_t fmt = fj_op_table[op].fmt;
  if (fj_op_is_lddw(op) && pc + 1 >= h->prog_ninsns)
    return fail(v, "trace rec %u (pc %u): lddw runs past the program end", i, pc);
  if (r->reserved != 0) return fail(v, "trace rec %u (pc %u): reserved byte not zero", i, pc);
  if (r->depth >= FJ_MAX_CALL_DEPTH)
    return fail(v, "trace rec %u (pc %u): depth %u >= %u", i, pc, r->depth, FJ_MAX_CALL_DEPTH);
  if (r->flags & ~(unsigned)(FJ_REC_TAKEN | FJ_REC_CALL_INTERP | FJ_REC_LDDW_REGION))
    return fail(v, "trace rec %u (pc %u): unknown flags 0x%x", i, pc, r->flags);
  if ((r->flags & FJ_REC_TAKEN) && !is_cond_fmt(fmt))
    return fail(v, "trace rec %u (pc %u): TAKEN on a non-conditional instruction", i, pc);
  if ((r->flags & FJ_REC_CALL_INTERP) && op != FJ_OP_CALL_LOCAL)
    return fail(v, "trace rec %u (pc %u): CALL_INTERP on a non-local-call", i, pc);
  if ((r->flags & FJ_REC_LDDW_REGION) && op != FJ_OP_LDDW)
    return fail(v, "trace rec %u (pc %u): LDDW_REGION on a non-lddw instruction", i, pc);
  unsigned dst = fj_insn_dst(r->insn), src = fj_insn_src(r->insn);
  if (uses_dst(fmt) && dst > FJ_REG_FP)
    return fail(v, "trace rec %u (pc %u): bad dst register r%u", i, pc, dst);
  if (uses_src(fmt) && src > FJ_REG_FP)
    return fail(v, "trace rec %u (pc %u): bad src register r%u", i, pc, src);
  if (writes_dst(fmt, op) && dst == FJ_REG_FP)
    return fail(v, "trace rec %u (pc %u): writes r10", i, pc);
  if (fmt == FJ_FMT_ATOMIC && (r->insn.imm & FJ_ATOMIC_FETCH) && src == FJ_REG_FP)
    return fail(v, "trace rec %u (pc %u): atomic fetch into r10", i, pc);
  if (is_mem_fmt(fmt) || (r->flags & FJ_REC_LDDW_REGION)) {
    if (r->region >= h->nregions)
      return fail(v, "trace rec %u (pc %u): region %u >= %u regions", i, pc, r->region,
                  h->nregions);
  } else if (r->region != 0) {
    return fail(v, "trace rec %u (pc %u): region set on a non-memory instruction", i, pc);
  }
  switch (fmt) {
  case FJ_FMT_CALL:
    if (r->aux != (uint32_t)r->insn.imm)
      return fail(v, "trace rec %u (pc %u): helper id %u does not match the instruction", i, pc,
                  r->aux);
    break;
  case FJ_FMT_CALL_LOCAL: {
    int64_t t = (int64_t)pc + 1 + r->insn.imm;
    if (t < 0 || t >= h->prog_ninsns || r->aux != (uint32_t)t)
      return fail(v, "trace rec %u (pc %u): bad callee pc %u", i, pc, r->aux);
    break;
  }
  case FJ_FMT_CALLX:
  case FJ_FMT_LDDW:
  case FJ_FMT_LDDW_FUNC:
    break;
  default:
    if (r->aux != 0) return fail(v, "trace rec %u (pc %u): aux set (%u)", i, pc, r->aux);
    break;
  }
  if (op == FJ_OP_LDDW_FUNC) {
    int64_t t = (int64_t)pc + 1 + r->insn.imm;
    if (t < 0 || t >= h->prog_ninsns)
      return fail(v, "trace rec %u (pc %u): lddw function target out of the program", i, pc);
  }
  return 0;
}

int fj_trace_read(const void *bytes, size_t len, uint32_t max_recs, fj_trace *t, char *msg,
                  size_t msgcap) {
  vctx v = {msg, msgcap};
  if (msgcap) msg[0] = 0;
  memset(t, 0, sizeof *t);
  if (!bytes || len < sizeof(fj_trace_header))
    return fail(&v, "trace header: %zu bytes, need at least %zu", len, sizeof(fj_trace_header));
  if (max_recs == 0 || max_recs > FJ_TRACE_MAX_RECS) max_recs = FJ_TRACE_MAX_RECS;
  fj_trace_header h;
  memcpy(&h, bytes, sizeof h);
  int rc = check_header(&v, &h, len, max_recs);
  if (rc) return rc;

  fj_trace_rec *recs = malloc((size_t)h.nrecs * sizeof *recs);
  uint8_t *ops = malloc(h.nrecs);
  if (!recs || !ops) {
    free(recs);
    free(ops);
    if (msgcap) snprintf(msg, msgcap, "trace: out of memory");
    return FJ_ENOMEM;
  }
  memcpy(recs, (const uint8_t *)bytes + sizeof h, (size_t)h.nrecs * sizeof *recs);

  /* Return pcs of the inlined calls open at each point: ret[d] for a callee at depth d + 1. */
  uint32_t ret[FJ_MAX_CALL_DEPTH];
  uint32_t depth = 0, expect_pc = h.start_pc;
  for (uint32_t i = 0; i < h.nrecs && rc == 0; i++) {
    const fj_trace_rec *r = &recs[i];
    if (r->pc >= h.prog_ninsns) {
      rc = fail(&v, "trace rec %u (pc %u): pc >= program length %u", i, r->pc, h.prog_ninsns);
      break;
    }
    if (r->pc != expect_pc) {
      rc = i == 0 ? fail(&v, "trace rec 0 (pc %u): does not start at start pc %u", r->pc, h.start_pc)
                  : fail(&v, "trace rec %u (pc %u): discontinuity: control goes to pc %u after "
                             "rec %u", i, r->pc, expect_pc, i - 1);
      break;
    }
    if (r->depth != depth) {
      rc = fail(&v, "trace rec %u (pc %u): depth %u, expected %u", i, r->pc, r->depth, depth);
      break;
    }
    enum fj_op op = fj_op_decode(r->insn);
    ops[i] = (uint8_t)op;
    rc = check_rec(&v, &h, i, r, op);
    if (rc) break;
    /* Where does control go next? */
    if (op == FJ_OP_EXIT) {
      if (depth == 0) {
        if (i != h.nrecs - 1) {
          rc = fail(&v, "trace rec %u (pc %u): exit at depth 0 before the end of the trace", i,
                    r->pc);
          break;
        }
        if (h.end != FJ_TRACE_END_STOP || h.end_pc != r->pc) {
          rc = fail(&v, "trace rec %u (pc %u): trace ends with exit at depth 0 but end is %u "
                        "at pc %u (expected STOP at the exit)", i, r->pc, h.end, h.end_pc);
          break;
        }
        continue;
      }
      depth--;
      expect_pc = ret[depth];
    } else if (op == FJ_OP_CALL_LOCAL && !(r->flags & FJ_REC_CALL_INTERP)) {
      if (depth + 1 >= FJ_MAX_CALL_DEPTH) {
        rc = fail(&v, "trace rec %u (pc %u): inlined call beyond depth %u", i, r->pc,
                  FJ_MAX_CALL_DEPTH - 1);
        break;
      }
      ret[depth++] = r->pc + 1;
      expect_pc = r->aux;
    } else {
      expect_pc = fj_trace_next_pc(r, op);
    }
    if (expect_pc >= h.prog_ninsns) {
      rc = fail(&v, "trace rec %u (pc %u): control leaves the program (to pc %u)", i, r->pc,
                expect_pc);
      break;
    }
    if (i == h.nrecs - 1) {
      /* The end must agree with where control goes after the last record. */
      if (h.end == FJ_TRACE_END_LOOP && (expect_pc != h.start_pc || depth != 0))
        rc = fail(&v, "trace rec %u (pc %u): loop trace does not return to its start (goes to "
                      "pc %u at depth %u)", i, r->pc, expect_pc, depth);
      else if (h.end == FJ_TRACE_END_LINK && (expect_pc != h.end_pc || depth != 0))
        rc = fail(&v, "trace rec %u (pc %u): link end pc %u, control goes to pc %u at depth %u",
                  i, r->pc, h.end_pc, expect_pc, depth);
      else if (h.end == FJ_TRACE_END_STOP && expect_pc != h.end_pc)
        rc = fail(&v, "trace rec %u (pc %u): stop end pc %u, control goes to pc %u", i, r->pc,
                  h.end_pc, expect_pc);
    }
  }
  if (rc) {
    free(recs);
    free(ops);
    return rc;
  }
  t->h = h;
  t->recs = recs;
  t->ops = ops;
  t->nrecs = h.nrecs;
  return 0;
}
