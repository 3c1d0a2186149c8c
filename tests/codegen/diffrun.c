/* tests/codegen — differential execution, the target-independent procedure (contract in
 * diffrun.h; the runners are diffrun_x86.c and diffrun_thumb.c). */
#include "tests/codegen/diffrun.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstone/capstone.h>

#include "client_runtime/blob_check.h"
#include "client_runtime/record.h"
#include "client_runtime/vm_internal.h"
#include "codegen/opt.h"
#include "codegen/snap.h"
#include "farjit/blob.h"
#include "farjit/platform_linux.h"
#include "farjit/trace.h"
#include "tests/codegen/gen.h"

enum { STACK_BYTES = FJ_MAX_CALL_DEPTH * FJ_STACK_SIZE, MAX_MEM = FJ_DIFF_MAX_MEM };
enum { MAX_DATA = 65536 };  /* ELF data sections saved with the state (examples' globals) */

typedef struct diff_ctx {
  const fj_diff_runner *rn;
  const fj_diff_cfg *cfg;
  fj_diff_result *res;
  uint8_t *mem;          /* the run's memory (the runner's) */
  size_t mem_len;
  fj_jit_state *st;      /* the runner's */
  bool done;
  uint32_t max_recs;
  uint8_t *trace;
  uint32_t last_exit, last_kind;  /* the exit the last compiled run took */
  uint32_t hoist_snap[8], nhoist;  /* the current trace's hoisted checks' snapshots (opt) */
  bool widened;                   /* running from a widened entry (not counted as hoisting) */
} diff_ctx;

typedef struct state {
  fj_exec ex;
  uint64_t left, rng;
  uint8_t stack[STACK_BYTES];
  uint8_t mem[MAX_MEM];
  uint8_t data[MAX_DATA];
  size_t ndata;          /* bytes of data[] in use */
} state;

/* Copies the VM's data sections to or from buf; returns the bytes copied. */
static size_t data_copy(fj_vm *vm, uint8_t *buf, bool save) {
  size_t at = 0;
  for (uint32_t i = 0; i < vm->ndata; i++) {
    size_t n = vm->data_size[i];
    if (at + n > MAX_DATA) break;
    if (save) memcpy(buf + at, vm->data[i], n);
    else memcpy(vm->data[i], buf + at, n);
    at += n;
  }
  return at;
}

static void save(state *s, fj_vm *vm, const fj_exec *ex, const diff_ctx *c) {
  s->ex = *ex;
  s->left = vm->left;
  s->rng = vm->rng;
  memcpy(s->stack, vm->stack, STACK_BYTES);
  memcpy(s->mem, c->mem, c->mem_len);
  s->ndata = data_copy(vm, s->data, true);
}
static void restore(const state *s, fj_vm *vm, fj_exec *ex, diff_ctx *c) {
  *ex = s->ex;
  vm->left = s->left;
  vm->rng = s->rng;
  vm->stop = false;
  memcpy(vm->stack, s->stack, STACK_BYTES);
  memcpy(c->mem, s->mem, c->mem_len);
  data_copy(vm, (uint8_t *)s->data, false);
}

static int failf(diff_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int failf(diff_ctx *c, const char *fmt, ...) {
  if (c->res->failed) return 1;
  c->res->failed = 1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->res->message, sizeof c->res->message, fmt, ap);
  va_end(ap);
  return 1;
}

/* Verbose runs: the blob's meta (IR dumps) and its code disassembled. */
static void dump_blob(const fj_diff_runner *rn, const uint8_t *b) {
  fj_blob_header h;
  memcpy(&h, b, sizeof h);
  if (h.meta_size) fprintf(stderr, "%.*s\n", (int)h.meta_size, (const char *)b + h.meta_off);
  csh cs;
  if (cs_open((cs_arch)rn->cs_arch, (cs_mode)rn->cs_mode, &cs) != CS_ERR_OK) return;
  cs_insn *ins;
  size_t n = cs_disasm(cs, b + h.code_off, h.code_size, 0, 0, &ins);
  for (size_t k = 0; k < n; k++)
    fprintf(stderr, "  %5llx  %s %s\n", (unsigned long long)ins[k].address, ins[k].mnemonic,
            ins[k].op_str);
  if (n) cs_free(ins, n);
  cs_close(&cs);
}

/* Verbose runs where the compile failed: rebuild the IR up to the failure and print it. */
static void dump_ir(const uint8_t *trace, size_t tlen, uint32_t flags) {
  fj_trace t;
  char msg[192];
  if (fj_trace_read(trace, tlen, 0, &t, msg, sizeof msg) != 0) {
    fprintf(stderr, "trace: %s\n", msg);
    return;
  }
  static fj_ir ir;
  fj_ir_init(&ir, (flags & FJ_CG_NO_OPT) ? FJ_IR_NOFOLD : 0);
  if (setjmp(ir.abort_jb) == 0) {
    fj_ir_build(&ir, &t);
    if (!(flags & FJ_CG_NO_OPT)) fj_opt_run(&ir);
  } else {
    fprintf(stderr, "abort: %s\n", ir.msg);
  }
  char *d = fj_ir_dump(&ir, true);
  if (d) fprintf(stderr, "%s", d);
  free(d);
  fj_ir_free(&ir);
  fj_trace_release(&t);
}

/* The snapshots of the bounds checks fj_opt_mem hoisted in front of LOOP in the optimized IR
 * of trace (the compiler's pipeline, so the indices are those of its blob's exits): copies of
 * the loop snapshot as GUARD exits, belonging to guards before LOOP (opt_mem.c, hx_commit).
 * Returns the number of such guards. */
static uint32_t find_hoisted(diff_ctx *c, const uint8_t *trace, size_t tlen) {
  c->nhoist = 0;
  fj_trace t;
  char msg[192];
  if (fj_trace_read(trace, tlen, 0, &t, msg, sizeof msg) != 0) return 0;
  static fj_ir ir;
  static uint32_t guards;
  guards = 0;
  fj_ir_init(&ir, 0);
  if (setjmp(ir.abort_jb) == 0) {
    fj_ir_build(&ir, &t);
    fj_opt_run(&ir);
    if (ir.loop != FJ_REF_NONE && ir.loop_snap < ir.nsnaps) {
      const fj_snap *ls = fj_snap_get(&ir, ir.loop_snap);
      for (uint32_t q = 0; q < ir.nsnaps && c->nhoist < 8; q++) {
        const fj_snap *s = fj_snap_get(&ir, q);
        if (q == ir.loop_snap || s->kind != FJ_EXIT_GUARD || s->pc != ls->pc || !s->ref ||
            s->ref >= ir.loop || memcmp(s->regs, ls->regs, sizeof s->regs) != 0)
          continue;
        uint32_t n = 0;
        for (fj_ref r = FJ_REF_BIAS; r < ir.loop; r++) {
          const fj_ir_ins *i = fj_ir_at(&ir, r);
          n += i->op != FJ_IR_NOP && fj_ir_is_guard(i->op) && i->snap == q;
        }
        if (!n) continue;
        c->hoist_snap[c->nhoist++] = q;
        guards += n;
      }
    }
  }
  fj_ir_free(&ir);
  fj_trace_release(&t);
  return guards;
}

/* Compile, validate, load and run one variant from S0.  0: ran, its exit in *x and *idp;
 * 1: failed (res->message); -1: the compiler aborted the trace (counted, not a failure). */
static int run_compiled(diff_ctx *c, fj_vm *vm, fj_exec *ex, const state *s0, const uint8_t *trace,
                        size_t tlen, uint32_t flags, fj_blob_exit *x, uint32_t *idp) {
  const fj_diff_runner *rn = c->rn;
  const char *vname = (flags & FJ_CG_NO_OPT) ? "noopt" : "opt";
  fj_codegen_opts o = {flags | (c->cfg->verbose ? FJ_CG_DUMP : 0), 0};
  fj_codegen_result cr;
  int rc = rn->compile(trace, tlen, rn->target, &o, &cr);
  if (rc != 0) {
    if (rc == FJ_ECOMPILE && cr.abort_reason > 0 && cr.abort_reason < FJ_ABORT__COUNT &&
        cr.abort_reason != FJ_ABORT_BACKEND && cr.abort_reason != FJ_ABORT_INTERNAL) {
      c->res->aborts[cr.abort_reason]++;
      return -1;
    }
    if (c->cfg->verbose) dump_ir(trace, tlen, flags);
    return failf(c, "%s: compile failed (%d, %s): %s", vname, rc, fj_abort_name(cr.abort_reason),
                 cr.message);
  }
  c->res->compiled++;
  if (cr.stats.nspills) c->res->spilled++;
  if (c->cfg->verbose) {
    fprintf(stderr, "---- %s: %zu trace bytes, blob %zu bytes\n", vname, tlen, cr.blob_size);
    dump_blob(rn, cr.blob);
  }
  /* Every blob must pass the client's validator (client_runtime/blob_check.c). */
  fj_blob_expect be = {rn->target, 0, FJ_BLOB_ANY_PC, 0, 0, vm->ninsns, NULL, NULL};
  fj_blob_header bh;
  memcpy(&bh, cr.blob, sizeof bh);
  be.parent_id = bh.parent_id;
  be.parent_exit = bh.parent_exit;
  fj_blob_view bv;
  int why = fj_blob_check(cr.blob, cr.blob_size, &be, &bv);
  if (why) {
    fj_codegen_result_free(&cr);
    return failf(c, "%s: the client rejects the blob: %s", vname, fj_blob_reject_text(why));
  }
  char err[160];
  uint64_t base = 0;
  if (rn->load(rn->self, vm, cr.blob, cr.blob_size, &base, err, sizeof err)) {
    fj_codegen_result_free(&cr);
    return failf(c, "%s: load failed: %s", vname, err);
  }

  restore(s0, vm, ex, c);
  fj_jit_state *st = c->st;
  memset(st, 0, sizeof *st);
  memcpy(st->r, ex->r, sizeof st->r);
  st->regions = rn->addr(vm->regions);
  st->nregions = vm->nregions;
  st->vm = rn->addr(vm);
  st->budget = (int64_t)vm->left;
  uint32_t id = 0;
  uint64_t gi = 0;
  rc = rn->run(rn->self, vm, ex, st, &id, &gi, err, sizeof err);
  uint32_t nexits = bv.h.nexits;
  *x = id < nexits ? fj_blob_exit_at(&bv, id) : (fj_blob_exit){0, 0, 0, 0, 0};
  fj_codegen_result_free(&cr);
  if (rc) return failf(c, "%s: guest: %s", vname, err);
  c->res->guest_insns += gi;
  if (id >= nexits || st->exit_id != id)
    return failf(c, "%s: returned exit %u (st says %u) of %u", vname, id, st->exit_id, nexits);
  if (st->exit_code != base)
    return failf(c, "%s: exit_code 0x%llx is not the code base 0x%llx", vname,
                 (unsigned long long)st->exit_code, (unsigned long long)base);
  *idp = id;
  return 0;
}

/* Run one compiled variant from S0 and compare with the interpreter.  0 ok/skipped, 1 failed. */
static int variant(diff_ctx *c, fj_vm *vm, fj_exec *ex, const state *s0, const uint8_t *trace,
                   size_t tlen, uint32_t flags, int *stepped_done) {
  const char *vname = (flags & FJ_CG_NO_OPT) ? "noopt" : "opt";
  fj_blob_exit x = {0, 0, 0, 0, 0};
  uint32_t id = 0;
  int rc = run_compiled(c, vm, ex, s0, trace, tlen, flags, &x, &id);
  if (rc) return rc > 0;
  const fj_jit_state *st = c->st;
  if (x.kind < 8) c->res->exit_kinds[x.kind]++;
  c->last_exit = id;
  c->last_kind = x.kind;
  if (x.nframes) c->res->frame_exits++;
  if (st->budget < 0 || (uint64_t)st->budget > s0->left)
    return failf(c, "%s: budget went from %llu to %lld", vname, (unsigned long long)s0->left,
                 (long long)st->budget);
  uint64_t n = s0->left - (uint64_t)st->budget;
  c->res->native_insns += n;

  static state s1;
  save(&s1, vm, ex, c);

  /* The reference: the interpreter from S0 for exactly n instructions. */
  restore(s0, vm, ex, c);
  *stepped_done = 0;
  for (uint64_t k = 0; k < n; k++) {
    int sr = fj_interp_step(vm, ex);
    if (sr < 0) return failf(c, "%s: interpreter failed at step %llu of %llu: %s", vname,
                             (unsigned long long)k, (unsigned long long)n, fj_vm_errmsg(vm));
    if (sr == FJ_STEP_DONE) {
      if (k + 1 != n) return failf(c, "%s: program ended after %llu of %llu steps", vname,
                                   (unsigned long long)k + 1, (unsigned long long)n);
      *stepped_done = 1;
    }
  }
  if (!*stepped_done && ex->pc != x.pc)
    return failf(c, "%s: exit %u (kind %u) resumes at pc %u, interpreter is at pc %u after %llu insns",
                 vname, id, x.kind, x.pc, ex->pc, (unsigned long long)n);
  for (unsigned k = 0; k < FJ_NREGS; k++)
    if (st->r[k] != ex->r[k])
      return failf(c, "%s: exit %u pc %u after %llu insns: r%u = 0x%llx, interpreter 0x%llx", vname,
                   id, x.pc, (unsigned long long)n, k, (unsigned long long)st->r[k],
                   (unsigned long long)ex->r[k]);
  if (!*stepped_done) {
    if (ex->depth != s0->ex.depth + x.nframes || st->nframes != x.nframes)
      return failf(c, "%s: exit %u: depth %u, interpreter %u (nframes %u/%u)", vname, id,
                   s0->ex.depth + x.nframes, ex->depth, x.nframes, st->nframes);
    for (unsigned f = 0; f < x.nframes; f++) {
      const fj_frame *fr = &ex->frames[s0->ex.depth + f];
      const fj_jit_frame *jf = &st->frames[f];
      if (fr->ret_pc != jf->ret_pc || fr->fp != jf->fp || memcmp(fr->saved, jf->saved, sizeof fr->saved))
        return failf(c, "%s: exit %u: frame %u differs (ret %u/%u)", vname, id, f, jf->ret_pc,
                     fr->ret_pc);
    }
  }
  for (unsigned k = 0; k < STACK_BYTES; k++)
    if (s1.stack[k] != vm->stack[k])
      return failf(c, "%s: exit %u pc %u: stack byte at r10(frame0)-%u is 0x%02x, interpreter 0x%02x",
                   vname, id, x.pc, STACK_BYTES - k, s1.stack[k], vm->stack[k]);
  for (size_t k = 0; k < c->mem_len; k++)
    if (s1.mem[k] != c->mem[k])
      return failf(c, "%s: exit %u pc %u: ctx byte %zu is 0x%02x, interpreter 0x%02x", vname, id,
                   x.pc, k, s1.mem[k], c->mem[k]);
  static uint8_t now[MAX_DATA];
  if (data_copy(vm, now, true) != s1.ndata || memcmp(now, s1.data, s1.ndata) != 0)
    return failf(c, "%s: exit %u pc %u: data sections differ from the interpreter's", vname, id, x.pc);
  c->res->ran_native++;
  if (!(flags & FJ_CG_NO_OPT) && c->nhoist && !c->widened) {
    c->res->hoisted_runs++;
    for (uint32_t k = 0; k < c->nhoist; k++) c->res->hoisted_failed += x.snap == c->hoist_snap[k];
  }
  return 0;
}

/* Runs from a widened entry state (below) and how many of them left through a guard at the
 * trace's start before executing anything (the entry guard, or a first bounds check). */
uint64_t fj_diff_widened_runs, fj_diff_widened_at_entry[2];  /* [0] unoptimized, [1] optimized */

/* The compiler may speculate that registers the recorder saw below 2^32 (the trace header's
 * entry_narrow) still are on entry (codegen/build.c).  Run every selected variant from S0 with
 * such registers made wider than at recording (all of them, then only the lowest), as an
 * entry by a later, different state would: the code must leave where the interpreter agrees
 * (typically at once, through the entry guard) or cope with the wide value.  The counts the
 * random tests check (compiled, ran) stay those of the regular runs. */
static void check_widened(diff_ctx *c, fj_vm *vm, fj_exec *ex, const state *s, const uint8_t *tr,
                          size_t tlen) {
  fj_trace_header h;
  memcpy(&h, tr, sizeof h);
  uint32_t narrow = h.entry_narrow & ((1u << FJ_REG_FP) - 1);
  if (!narrow) return;
  static state w;
  int compiled = c->res->compiled, ran = c->res->ran_native, done = 0;
  c->widened = true;
  for (int round = 0; round < 2 && !c->res->failed; round++) {
    uint32_t regs = round == 0 ? narrow : narrow & (0u - narrow);
    if (round == 1 && regs == narrow) break;
    w = *s;
    if (w.left > 20000) w.left = 20000;  /* a widened loop counter would run for long */
    for (unsigned k = 0; k < FJ_REG_FP; k++)
      if (regs >> k & 1) w.ex.r[k] |= (0x100000001ull << k) & ~0xffffffffull;
    for (int v = 0; v < 2 && !c->res->failed; v++) {
      uint32_t flags = v == 0 ? FJ_CG_NO_OPT : 0;
      if (c->cfg->variants && !(c->cfg->variants & (1u << v))) continue;
      int before = c->res->ran_native;
      restore(&w, vm, ex, c);
      variant(c, vm, ex, &w, tr, tlen, flags, &done);
      if (c->res->ran_native == before) continue;
      fj_diff_widened_runs++;
      fj_diff_widened_at_entry[v] +=
          c->st->budget == (int64_t)w.left && c->last_kind == FJ_EXIT_GUARD;
    }
  }
  c->res->compiled = compiled;
  c->res->ran_native = ran;
  c->widened = false;
}

/* Record a trace of `kind` from the state here (s: where to save it) and check every selected
 * variant of it.  Returns FJ_HOT_CONTINUE if nothing was recorded, else FJ_HOT_RELOAD with
 * *done set when a variant's reference run ended the program. */
static int check_trace(diff_ctx *c, fj_vm *vm, fj_exec *ex, state *s, enum fj_trace_kind kind,
                       uint32_t parent_exit, int *done) {
  save(s, vm, ex, c);
  fj_recorder rec;
  int rc = fj_rec_begin(&rec, c->trace, fj_trace_size(c->max_recs), c->max_recs, vm, ex, kind,
                        kind == FJ_TRACE_BRIDGE, parent_exit, NULL, NULL);
  if (rc < 0) return FJ_HOT_CONTINUE;
  rc = fj_rec_run(&rec, vm, ex);
  restore(s, vm, ex, c);
  if (rc != FJ_REC_DONE) return FJ_HOT_RELOAD;
  if (kind == FJ_TRACE_BRIDGE) c->res->bridges++;
  else c->res->traced = 1;
  size_t tlen;
  const uint8_t *tr = fj_rec_bytes(&rec, &tlen);
  c->nhoist = 0;
  if (!c->cfg->variants || (c->cfg->variants & 2)) {
    uint32_t g = find_hoisted(c, tr, tlen);
    c->res->hoisted_guards += g;
    c->res->hoisted_traces += g != 0;
  }
  check_widened(c, vm, ex, s, tr, tlen);
  for (int v = 0; v < 2 && !c->res->failed; v++) {
    uint32_t flags = v == 0 ? FJ_CG_NO_OPT : 0;
    if (c->cfg->variants && !(c->cfg->variants & (1u << v))) continue;
    restore(s, vm, ex, c);
    variant(c, vm, ex, s, tr, tlen, flags, done);
  }
  if (c->res->failed) restore(s, vm, ex, c);  /* finish the run on the reference path */
  return FJ_HOT_RELOAD;
}

/* cfg->ret_point: the hook is at a local function's entry (its frame pushed); step the
 * interpreter until that call returns.  0 there, FJ_STEP_DONE if the program ended, or the
 * step's error. */
static int step_to_return(fj_vm *vm, fj_exec *ex) {
  const uint32_t depth = ex->depth;
  for (unsigned k = 0; k < 100000 && ex->depth >= depth; k++) {
    int sr = fj_interp_step(vm, ex);
    if (sr != FJ_STEP_OK) return sr;
  }
  return 0;  /* still inside after that many steps: trace from here */
}

static int hot_hook(void *ud, fj_vm *vm, fj_exec *ex, uint32_t pc) {
  diff_ctx *c = ud;
  if (c->done) return FJ_HOT_CONTINUE;
  bool moved = false;
  if (c->cfg->ret_point) {
    if (ex->depth <= ex->base || (vm->x[pc].flags & FJ_XF_LOOP)) return FJ_HOT_CONTINUE;
    c->done = true;
    int sr = step_to_return(vm, ex);
    if (sr < 0) return sr;  /* the interpreter failed (fj_vm_fail): the run ends there */
    if (sr == FJ_STEP_DONE) return FJ_HOT_DONE;
    pc = ex->pc;
    moved = true;
  } else if (c->cfg->at_pc != FJ_DIFF_ANY_PC && pc != c->cfg->at_pc) {
    return FJ_HOT_CONTINUE;
  }
  c->done = true;
  static state s0, s1;
  int done = 0;
  enum fj_trace_kind kind = (vm->x[pc].flags & FJ_XF_LOOP) ? FJ_TRACE_LOOP : FJ_TRACE_ENTRY;
  int rc = check_trace(c, vm, ex, &s0, kind, 0, &done);
  if (rc == FJ_HOT_CONTINUE) return moved ? FJ_HOT_RELOAD : rc;
  if (moved && c->res->traced) c->res->ret_points++;
  if (!c->res->traced || c->res->failed) return rc;
  /* A side exit was taken: the interpreter is now exactly at it.  Record a bridge there (as the
   * runtime does for hot exits) and check it the same way, from this state. */
  if (!done && c->last_kind == FJ_EXIT_GUARD && c->cfg->bridges) {
    rc = check_trace(c, vm, ex, &s1, FJ_TRACE_BRIDGE, c->last_exit, &done);
    if (rc == FJ_HOT_CONTINUE || c->res->failed) return FJ_HOT_RELOAD;
  }
  return done ? FJ_HOT_DONE : FJ_HOT_RELOAD;
}

static uint64_t gen_helper(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, fj_vm *vm) {
  return fj_gen_helper(a, b, c, d, e, vm);
}

int fj_diff_run_with(const fj_diff_runner *rn, const fj_diff_prog *prog, void *mem, size_t mem_len,
                     const fj_diff_cfg *cfg, fj_diff_result *res) {
  memset(res, 0, sizeof *res);
  if (mem_len > MAX_MEM) return FJ_EINVAL;
  diff_ctx c = {rn, cfg, res, NULL, mem_len, NULL, false, cfg->max_recs ? cfg->max_recs : 1024,
                NULL, 0, 0, {0}, 0, false};
  fj_vm *vm = NULL;
  if (rn->open(rn->self, &vm, &c.mem, mem_len ? mem_len : 1, &c.st, res->message,
               sizeof res->message)) {
    res->failed = 1;
    return 1;
  }
  if (mem_len) memcpy(c.mem, mem, mem_len);
  fj_vm_register_std_helpers(vm);
  fj_vm_register_helper(vm, FJ_GEN_HELPER, "gen_mix", gen_helper);
  if (cfg->insn_limit) fj_vm_set_insn_limit(vm, cfg->insn_limit);
  int rc = prog->elf ? fj_vm_load_elf(vm, prog->elf, prog->elf_len)
                     : fj_vm_load(vm, prog->code, prog->n * sizeof(fj_insn));
  if (rc < 0) {
    snprintf(res->message, sizeof res->message, "load: %s", fj_vm_errmsg(vm));
    rn->close(rn->self, vm);
    return rc;
  }
  uint32_t entry = prog->elf ? (uint32_t)fj_vm_default_entry(vm) : cfg->entry;
  c.trace = aligned_alloc(8, (fj_trace_size(c.max_recs) + 7) & ~(size_t)7);
  fj_jit_hooks hooks = {hot_hook, &c, cfg->threshold ? cfg->threshold : 1};
  fj_vm_set_jit_hooks(vm, &hooks);
  res->run_status = fj_vm_run(vm, entry, mem ? c.mem : NULL, mem_len, &res->r0);
  if (res->run_status < 0 && !res->failed && res->traced)
    snprintf(res->message, sizeof res->message, "run: %s", fj_vm_errmsg(vm));
  if (mem_len) memcpy(mem, c.mem, mem_len);
  free(c.trace);
  rn->close(rn->self, vm);
  return res->failed ? 1 : 0;
}

uint32_t fj_diff_loop_headers(const fj_diff_prog *prog, uint32_t *pcs, uint32_t max) {
  fj_vm *vm = fj_vm_create(fj_platform_linux());
  uint32_t n = 0;
  int rc = !vm ? -1 : prog->elf ? fj_vm_load_elf(vm, prog->elf, prog->elf_len)
                                : fj_vm_load(vm, prog->code, prog->n * sizeof(fj_insn));
  if (rc == 0)
    for (uint32_t pc = 0; pc < vm->ninsns && n < max; pc++)
      if (vm->x[pc].flags & FJ_XF_LOOP) pcs[n++] = pc;
  fj_vm_destroy(vm);
  return n;
}

