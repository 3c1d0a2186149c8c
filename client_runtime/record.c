/* farjit — the trace recorder (see record.h for the contract). */
#include "client_runtime/record.h"
#include "client_runtime/inline_mem.h"

#include <string.h>

#include "farjit/error.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "trace bytes are written as little-endian structs"
#endif

const char *fj_rec_abort_name(int reason) {
  switch (reason) {
#define FJ_REC_ABORT_CASE(name, text) case FJ_REC_ABORT_##name: return text;
    FJ_REC_ABORTS(FJ_REC_ABORT_CASE)
#undef FJ_REC_ABORT_CASE
  default: return "unknown";
  }
}

int fj_rec_region_of(const fj_vm *vm, uint64_t addr, uint64_t len) {
  for (uint32_t i = 0; i < vm->nregions; i++) {
    const fj_region *g = &vm->regions[i];
    if (addr >= g->base && len <= g->size && addr - g->base <= g->size - len) return (int)i;
  }
  return -1;
}

static fj_trace_header *hdr(fj_recorder *r) { return (fj_trace_header *)(void *)r->buf; }

int fj_rec_begin(fj_recorder *r, void *buf, size_t cap, uint32_t max_recs, const fj_vm *vm,
                 const fj_exec *ex, enum fj_trace_kind kind, uint32_t parent_id,
                 uint32_t parent_exit, fj_rec_trace_at_fn trace_at, void *ud) {
  if (max_recs > FJ_TRACE_MAX_RECS) max_recs = FJ_TRACE_MAX_RECS;
  if (!buf || max_recs == 0 || cap < fj_trace_size(max_recs) || ex->pc >= vm->ninsns ||
      ((uintptr_t)buf & 3u))
    return FJ_EINVAL;
  memset(r, 0, sizeof *r);
  r->buf = buf;
  r->max_recs = max_recs;
  r->base = ex->depth;
  r->inline_limit = FJ_MAX_CALL_DEPTH - 1;
  r->trace_at = trace_at;
  r->trace_at_ud = ud;
  fj_trace_header h;
  memset(&h, 0, sizeof h);
  h.magic = FJ_TRACE_MAGIC;
  h.version = FJ_TRACE_VERSION;
  h.kind = (uint16_t)kind;
  h.start_pc = ex->pc;
  h.parent_id = kind == FJ_TRACE_BRIDGE ? parent_id : 0;
  h.parent_exit = kind == FJ_TRACE_BRIDGE ? parent_exit : 0;
  h.prog_ninsns = vm->ninsns;
  h.nregions = vm->nregions;
  for (unsigned i = 0; i < FJ_NREGS; i++)
    if (ex->r[i] >> 32 == 0) h.entry_narrow |= 1u << i;
  memcpy(r->buf, &h, sizeof h);
  return 0;
}

/* Would the conditional jump at insn go to its target with these registers?  Needed because a
 * jump with offset 0 lands on pc + 1 either way, so the next pc alone cannot tell. */
static bool cond_taken(fj_insn in, const uint64_t *reg) {
  uint64_t a = reg[fj_insn_dst(in)];
  uint64_t b = (in.code & FJ_SRC_X) ? reg[fj_insn_src(in)] : (uint64_t)(int64_t)in.imm;
  if ((in.code & FJ_CLS_MASK) == FJ_CLS_JMP32) {
    a = (uint32_t)a;
    b = (uint32_t)b;
    int32_t sa = (int32_t)a, sb = (int32_t)b;
    switch (in.code & 0xf0) {
    case 0x60: return sa > sb;
    case 0x70: return sa >= sb;
    case 0xc0: return sa < sb;
    case 0xd0: return sa <= sb;
    default: break;
    }
  } else {
    int64_t sa = (int64_t)a, sb = (int64_t)b;
    switch (in.code & 0xf0) {
    case 0x60: return sa > sb;
    case 0x70: return sa >= sb;
    case 0xc0: return sa < sb;
    case 0xd0: return sa <= sb;
    default: break;
    }
  }
  switch (in.code & 0xf0) {
  case 0x10: return a == b;
  case 0x20: return a > b;
  case 0x30: return a >= b;
  case 0x40: return (a & b) != 0;
  case 0x50: return a != b;
  case 0xa0: return a < b;
  case 0xb0: return a <= b;
  default: return false;
  }
}

static bool is_cond_jump(uint8_t fmt) { return fmt == FJ_FMT_JCOND_IMM || fmt == FJ_FMT_JCOND_REG; }

/* Memory address an access will touch, from the registers before the step. */
static bool mem_access(fj_insn in, uint8_t fmt, const uint64_t *reg, uint64_t *addr) {
  switch (fmt) {
  case FJ_FMT_LDX: *addr = reg[fj_insn_src(in)] + (uint64_t)(int64_t)in.off; return true;
  case FJ_FMT_ST:
  case FJ_FMT_STX:
  case FJ_FMT_ATOMIC: *addr = reg[fj_insn_dst(in)] + (uint64_t)(int64_t)in.off; return true;
  default: return false;
  }
}

static int finish(fj_recorder *r, const fj_vm *vm, enum fj_trace_end end, uint32_t end_pc) {
  fj_trace_header *h = hdr(r);
  h->nrecs = r->nrecs;
  h->end = (uint16_t)end;
  h->end_pc = end_pc;
  h->nregions = vm->nregions;  /* regions only grow during a run: covers every rec */
  return FJ_REC_DONE;
}

static int abort_with(fj_recorder *r, int reason, int rc) {
  r->abort = reason;
  return rc;
}

/* A failed step: an error, or a helper that unwound the program (then the run is over with
 * the helper's r0: FJ_EUNWIND goes out of the hook with vm->stop set, and the interpreter
 * ends the run as after its own helper call). */
static int step_failed(fj_recorder *r, fj_vm *vm, fj_exec *ex, int rc) {
  if (rc == FJ_EUNWIND && !vm->err) {
    ex->r[0] = vm->unwind_r0;
    return abort_with(r, FJ_REC_ABORT_STOPPED, FJ_EUNWIND);
  }
  return abort_with(r, FJ_REC_ABORT_ERROR, rc);
}

/* Run a callee the trace leaves to the interpreter until it returns to depth d: at the
 * interpreter's full speed rather than step by step, as a run whose base is the callee's frame
 * (its `exit` ends the run, executed and counted), then the return to the caller is done here
 * exactly as the interpreter's `exit` does it.  Hot hooks may fire in there and run machine
 * code (nothing is recorded inside the callee; the runtime records nothing else meanwhile). */
static int run_unrecorded(fj_recorder *r, fj_vm *vm, fj_exec *ex, uint32_t d) {
  if (ex->depth <= d) return FJ_REC_DONE;
  const uint32_t base = ex->base;
  ex->base = d + 1;
  int rc = fj_interp_run(vm, ex);
  ex->base = base;
  if (rc < 0) return step_failed(r, vm, ex, rc);
  const fj_frame *f = &ex->frames[d];
  ex->r[6] = f->saved[0];
  ex->r[7] = f->saved[1];
  ex->r[8] = f->saved[2];
  ex->r[9] = f->saved[3];
  ex->r[10] = f->fp;
  ex->pc = f->ret_pc;
  ex->depth = d;
  return FJ_REC_DONE;
}

/* Did the path already execute pc in the trace's own frame?  (Coming back to a loop header
 * the trace passed through: its loop, not ours, is repeating.) */
static bool seen_at_base(const fj_trace_rec *recs, uint32_t n, uint32_t pc) {
  for (uint32_t i = 0; i < n; i++)
    if (recs[i].pc == pc && recs[i].depth == 0) return true;
  return false;
}

int fj_rec_run(fj_recorder *r, fj_vm *vm, fj_exec *ex) {
  const uint32_t start_pc = hdr(r)->start_pc;
  fj_trace_rec *recs = (fj_trace_rec *)(void *)(r->buf + sizeof(fj_trace_header));
  for (;;) {
    const uint32_t pc = ex->pc;
    const fj_insn in = vm->code[pc];
    const enum fj_op op = (enum fj_op)vm->x[pc].op;
    const uint8_t fmt = fj_op_table[op].fmt;
    const uint32_t rel = ex->depth - r->base;
    if (r->nrecs == r->max_recs) return abort_with(r, FJ_REC_ABORT_TOO_LONG, FJ_REC_ABORTED);

    fj_trace_rec rec;
    FJ_MEMSET(&rec, 0, sizeof rec);
    rec.insn = in;
    rec.pc = pc;
    rec.depth = (uint8_t)rel;
    if (op == FJ_OP_EXIT && rel == 0) {
      recs[r->nrecs++] = rec;
      return finish(r, vm, FJ_TRACE_END_STOP, pc);
    }
    bool interp_call = false;
    uint64_t addr;
    switch (fmt) {
    case FJ_FMT_LDDW:
      if (vm->x[pc].flags & FJ_XF_LDDW_REGION) {
        /* a data section's address: record region + offset, never the client's address */
        uint32_t g = (uint32_t)vm->x[pc + 1].off;
        uint64_t off = vm->x[pc].k - vm->regions[g].base;
        rec.flags |= FJ_REC_LDDW_REGION;
        rec.region = (uint8_t)g;
        rec.insn.imm = (int32_t)(uint32_t)off;
        rec.aux = (uint32_t)(off >> 32);
        break;
      }
      rec.aux = (uint32_t)vm->code[pc + 1].imm;
      break;
    case FJ_FMT_LDDW_FUNC: rec.aux = (uint32_t)vm->code[pc + 1].imm; break;
    case FJ_FMT_CALL: rec.aux = (uint32_t)in.imm; break;
    case FJ_FMT_CALLX: rec.aux = (uint32_t)ex->r[fj_insn_dst(in)]; break;
    case FJ_FMT_CALL_LOCAL:
      rec.aux = (uint32_t)((int64_t)pc + 1 + in.imm);
      /* A callee with a trace of its own is inlined all the same: left to the interpreter it
       * would cost an entry into its trace and an exit on every call. */
      interp_call = rel + 1 > r->inline_limit ||
                    (r->no_inline && r->no_inline(r->trace_at_ud, rec.aux));
      if (!interp_call) r->callee[rel] = rec.aux;
      if (interp_call) rec.flags |= FJ_REC_CALL_INTERP;
      break;
    default:
      if (mem_access(in, fmt, ex->r, &addr)) {
        int g = fj_rec_region_of(vm, addr, fj_code_size_bytes(in.code));
        rec.region = g < 0 ? 0 : (uint8_t)g;  /* g < 0: the step below fails and aborts */
      }
      break;
    }
    if (is_cond_jump(fmt) && cond_taken(in, ex->r)) rec.flags |= FJ_REC_TAKEN;

    const uint32_t d0 = ex->depth;
    int rc = fj_interp_step(vm, ex);
    if (rc < 0) return step_failed(r, vm, ex, rc);
    if (rc == FJ_STEP_DONE) return abort_with(r, FJ_REC_ABORT_STOPPED, FJ_REC_FINISHED);
    if (interp_call) {
      rc = run_unrecorded(r, vm, ex, d0);
      if (rc != FJ_REC_DONE) return rc;
    }
    recs[r->nrecs++] = rec;
    if (ex->depth - r->base > r->max_depth) r->max_depth = ex->depth - r->base;

    if (ex->depth == r->base) {
      if (ex->pc == start_pc) return finish(r, vm, FJ_TRACE_END_LOOP, ex->pc);
      if ((r->trace_at && r->trace_at(r->trace_at_ud, ex->pc)) ||
          ((vm->x[ex->pc].flags & FJ_XF_LOOP) &&
           (r->nrecs >= FJ_REC_HEADER_SPAN || seen_at_base(recs, r->nrecs, ex->pc))))
        return finish(r, vm, FJ_TRACE_END_LINK, ex->pc);
    } else if (ex->depth == d0 && ex->pc <= pc && rel > 0) {
      /* a backward jump inside an inlined callee: would unroll its loop */
      r->bad_callee = r->callee[rel - 1];
      return abort_with(r, FJ_REC_ABORT_INNER_LOOP, FJ_REC_ABORTED);
    }
  }
}

/* ---- fj_rec_first_hot: a one-shot hook that records the first hot spot -------------------- */

typedef struct first_hot {
  fj_recorder rec;
  void *buf;
  size_t cap;
  uint32_t at_pc;
  bool done;
  int status;
} first_hot;

static int first_hot_hook(void *ud, fj_vm *vm, fj_exec *ex, uint32_t pc) {
  first_hot *f = ud;
  if (f->done || (f->at_pc != FJ_REC_ANY_PC && pc != f->at_pc)) return FJ_HOT_CONTINUE;
  f->done = true;
  const fj_xinsn *x = &vm->x[pc];
  enum fj_trace_kind kind = (x->flags & FJ_XF_LOOP) ? FJ_TRACE_LOOP : FJ_TRACE_ENTRY;
  int rc = fj_rec_begin(&f->rec, f->buf, f->cap, (uint32_t)((f->cap - sizeof(fj_trace_header)) /
                                                             sizeof(fj_trace_rec)),
                        vm, ex, kind, 0, 0, NULL, NULL);
  if (rc < 0) {
    f->status = rc;
    return FJ_HOT_CONTINUE;
  }
  rc = fj_rec_run(&f->rec, vm, ex);
  f->status = rc;
  if (rc < 0) return rc;
  return rc == FJ_REC_FINISHED ? FJ_HOT_DONE : FJ_HOT_RELOAD;
}

int fj_rec_first_hot(fj_vm *vm, uint32_t entry_pc, void *mem, size_t mem_len, uint16_t threshold,
                     uint32_t at_pc, void *buf, size_t cap, size_t *len, uint64_t *r0) {
  first_hot f;
  memset(&f, 0, sizeof f);
  f.buf = buf;
  f.cap = cap;
  f.at_pc = at_pc;
  f.status = FJ_REC_ABORTED;
  *len = 0;
  if (cap < fj_trace_size(1)) return FJ_EINVAL;
  fj_jit_hooks hooks = {first_hot_hook, &f, threshold ? threshold : 1};
  int rc = fj_vm_set_jit_hooks(vm, &hooks);
  if (rc < 0) return rc;
  uint64_t res = 0;
  rc = fj_vm_run(vm, entry_pc, mem, mem_len, &res);
  fj_vm_set_jit_hooks(vm, NULL);
  if (r0) *r0 = res;
  if (rc < 0) return rc;
  if (f.status == FJ_EUNWIND) f.status = FJ_REC_FINISHED;  /* unwound while recording: no trace */
  if (f.status == FJ_REC_DONE) fj_rec_bytes(&f.rec, len);
  return f.status;
}
