/* tests/codegen — differential execution on the Thumb-2 target (contract in diffrun_thumb.h;
 * the procedure mirrors diffrun.c, with Unicorn in place of native execution). */
#include "tests/codegen/diffrun_thumb.h"

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
#include "farjit/blob.h"
#include "farjit/codegen.h"
#include "farjit/jit.h"
#include "farjit/platform_linux.h"
#include "tests/codegen/gen.h"

enum { STACK_BYTES = FJ_MAX_CALL_DEPTH * FJ_STACK_SIZE, MAX_MEM = 4096 };

typedef struct diff_ctx {
  const fj_diff_cfg *cfg;
  fj_diff_result *res;
  uint8_t *mem;          /* the run's memory (in the arena) */
  size_t mem_len;
  bool done;
  uint32_t max_recs;
  uint8_t *trace;
  fj_vm *vm;
  fj_exec *ex;
  uint32_t base_depth;
  uint64_t guest_insns;
  fj_jit_state *st;      /* in the arena */
  uint32_t last_exit, last_kind;  /* the exit the last compiled run took */
} diff_ctx;

enum { MAX_DATA = 65536 };  /* ELF data sections saved with the state (examples' globals) */

typedef struct state {
  fj_exec ex;
  uint64_t left, rng;
  uint8_t stack[STACK_BYTES];
  uint8_t mem[MAX_MEM];
  uint8_t data[MAX_DATA];
} state;

static void data_copy(fj_vm *vm, uint8_t *buf, bool save) {
  size_t at = 0;
  for (uint32_t i = 0; i < vm->ndata; i++) {
    size_t n = vm->data_size[i];
    if (at + n > MAX_DATA) break;
    if (save) memcpy(buf + at, vm->data[i], n);
    else memcpy(vm->data[i], buf + at, n);
    at += n;
  }
}

static fj_uct *U;
fj_diff_compile_fn fj_diff_thumb_compile = fj_codegen_compile;
static diff_ctx *cur;  /* the run the harness's hooks serve */

static void save(state *s, fj_vm *vm, const fj_exec *ex, const diff_ctx *c) {
  s->ex = *ex;
  s->left = vm->left;
  s->rng = vm->rng;
  memcpy(s->stack, vm->stack, STACK_BYTES);
  memcpy(s->mem, c->mem, c->mem_len);
  data_copy(vm, s->data, true);
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

/* ---- helpers and CALL_LOCAL, served on the host ------------------------------------------ */

static uint64_t serve_helper(void *ud, uint32_t id, const uint64_t a[5], uint32_t vm_addr) {
  (void)ud;
  fj_vm *vm = cur ? cur->vm : NULL;
  if (!vm || vm_addr != fj_uct_addr(vm)) {
    if (cur) cur->res->failed = 1, snprintf(cur->res->message, sizeof cur->res->message,
                                            "helper %u called with vm 0x%x", id, vm_addr);
    return 0;
  }
  int k = fj_vm_helper_index(vm, id);
  if (k < 0) return 0;
  return vm->helpers[k].fn(a[0], a[1], a[2], a[3], a[4], vm);
}

static uint64_t serve_call_local(void *ud, uint32_t st_addr, uint32_t pc) {
  (void)ud;
  if (!cur) return 0;
  fj_jit_state *st = (fj_jit_state *)(uintptr_t)st_addr;
  fj_exec *ex = cur->vm->cur;
  uint32_t saved = ex->depth;
  ex->depth = cur->base_depth + st->nframes; /* the callee runs above the inlined frames */
  uint64_t r0 = 0;
  (void)fj_vm_call(cur->vm, pc, &st->r[1], &r0);
  ex->depth = saved;
  return r0;
}

fj_uct *fj_diff_thumb_harness(void) {
  if (!U) {
    fj_uct_hooks h = {serve_helper, serve_call_local, NULL};
    U = fj_uct_create(&h, 0);
  }
  return U;
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
static void dump_blob(const uint8_t *b) {
  fj_blob_header h;
  memcpy(&h, b, sizeof h);
  if (h.meta_size) fprintf(stderr, "%.*s\n", (int)h.meta_size, (const char *)b + h.meta_off);
  csh cs;
  if (cs_open(CS_ARCH_ARM, CS_MODE_THUMB | CS_MODE_MCLASS, &cs) != CS_ERR_OK) return;
  cs_insn *ins;
  size_t n = cs_disasm(cs, b + h.code_off, h.code_size, 0, 0, &ins);
  for (size_t k = 0; k < n; k++)
    fprintf(stderr, "  %5llx  %s %s\n", (unsigned long long)ins[k].address, ins[k].mnemonic,
            ins[k].op_str);
  if (n) cs_free(ins, n);
  cs_close(&cs);
}

/* Run one compiled variant from S0 and compare with the interpreter.  0 ok/skipped, 1 failed. */
static int variant(diff_ctx *c, fj_vm *vm, fj_exec *ex, const state *s0, const uint8_t *trace,
                   size_t tlen, uint32_t flags, int *stepped_done) {
  const char *vname = (flags & FJ_CG_NO_OPT) ? "noopt" : "opt";
  fj_codegen_opts o = {flags | (c->cfg->verbose ? FJ_CG_DUMP : 0), 0};
  fj_codegen_result cr;
  int rc = fj_diff_thumb_compile(trace, tlen, FJ_TARGET_THUMBV7EM, &o, &cr);
  if (rc != 0) {
    if (rc == FJ_ECOMPILE && cr.abort_reason > 0 && cr.abort_reason < FJ_ABORT__COUNT &&
        cr.abort_reason != FJ_ABORT_BACKEND && cr.abort_reason != FJ_ABORT_INTERNAL) {
      c->res->aborts[cr.abort_reason]++;
      return 0;
    }
    return failf(c, "%s: compile failed (%d, %s): %s", vname, rc, fj_abort_name(cr.abort_reason),
                 cr.message);
  }
  c->res->compiled++;
  if (c->cfg->verbose) {
    fprintf(stderr, "---- %s: %zu trace bytes, blob %zu bytes\n", vname, tlen, cr.blob_size);
    dump_blob(cr.blob);
  }
  /* Every blob must pass the client's validator (client_runtime/blob_check.c). */
  fj_blob_expect be = {FJ_TARGET_THUMBV7EM, 0, FJ_BLOB_ANY_PC, 0, 0, vm->ninsns, NULL, NULL};
  fj_blob_header bh0;
  memcpy(&bh0, cr.blob, sizeof bh0);
  be.parent_id = bh0.parent_id;
  be.parent_exit = bh0.parent_exit;
  fj_blob_view bv;
  int why = fj_blob_check(cr.blob, cr.blob_size, &be, &bv);
  if (why) {
    fj_codegen_result_free(&cr);
    return failf(c, "%s: the client rejects the blob: %s", vname, fj_blob_reject_text(why));
  }
  fj_uct_unload_all(U);
  uint32_t base = fj_uct_load(U, cr.blob, cr.blob_size);
  fj_blob_header h;
  memcpy(&h, cr.blob, sizeof h);
  fj_blob_exit *exits = calloc(h.nexits + 1, sizeof *exits);
  if (exits) memcpy(exits, cr.blob + h.exit_off, h.nexits * sizeof *exits);
  fj_codegen_result_free(&cr);
  if (!base || !exits) {
    free(exits);
    return failf(c, "%s: load failed: %s", vname, fj_uct_errmsg(U));
  }

  restore(s0, vm, ex, c);
  fj_jit_state *st = c->st;
  memset(st, 0, sizeof *st);
  memcpy(st->r, ex->r, sizeof st->r);
  st->regions = fj_uct_addr(vm->regions);
  st->nregions = vm->nregions;
  st->vm = fj_uct_addr(vm);
  st->budget = (int64_t)vm->left;
  c->base_depth = ex->depth;
  uint32_t id = 0;
  if (fj_uct_run(U, base, fj_uct_addr(st), fj_uct_addr(&vm->stop), fj_uct_addr(&vm->left), &id,
                 50000000)) {
    free(exits);
    return failf(c, "%s: guest: %s", vname, fj_uct_errmsg(U));
  }
  c->guest_insns += fj_uct_last_stats(U)->insns;
  fj_blob_exit x = id < h.nexits ? exits[id] : (fj_blob_exit){0, 0, 0, 0, 0};
  free(exits);
  if (c->res->failed) return 1;
  if (id >= h.nexits || st->exit_id != id)
    return failf(c, "%s: returned exit %u (st says %u) of %u", vname, id, st->exit_id, h.nexits);
  if (st->exit_code != base) return failf(c, "%s: exit_code 0x%llx is not the code base 0x%x", vname,
                                          (unsigned long long)st->exit_code, base);
  if (x.kind < 8) c->res->exit_kinds[x.kind]++;
  c->last_exit = id;
  c->last_kind = x.kind;
  if (st->budget < 0 || (uint64_t)st->budget > s0->left)
    return failf(c, "%s: budget went from %llu to %lld", vname, (unsigned long long)s0->left,
                 (long long)st->budget);
  uint64_t n = s0->left - (uint64_t)st->budget;
  c->res->native_insns += n;

  static state s1;
  s1.ex = *ex;
  memcpy(s1.stack, vm->stack, STACK_BYTES);
  memcpy(s1.mem, c->mem, c->mem_len);
  data_copy(vm, s1.data, true);

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
  data_copy(vm, now, true);
  if (memcmp(now, s1.data, MAX_DATA) != 0)
    return failf(c, "%s: exit %u pc %u: data sections differ from the interpreter's", vname, id, x.pc);
  c->res->ran_native++;
  return 0;
}

static int hot_hook(void *ud, fj_vm *vm, fj_exec *ex, uint32_t pc) {
  diff_ctx *c = ud;
  if (c->done || (c->cfg->at_pc != FJ_DIFF_ANY_PC && pc != c->cfg->at_pc)) return FJ_HOT_CONTINUE;
  c->done = true;
  c->ex = ex;
  static state s0;
  save(&s0, vm, ex, c);
  fj_recorder rec;
  enum fj_trace_kind kind = (vm->x[pc].flags & FJ_XF_LOOP) ? FJ_TRACE_LOOP : FJ_TRACE_ENTRY;
  int rc = fj_rec_begin(&rec, c->trace, fj_trace_size(c->max_recs), c->max_recs, vm, ex, kind, 0,
                        0, NULL, NULL);
  if (rc < 0) return FJ_HOT_CONTINUE;
  rc = fj_rec_run(&rec, vm, ex);
  restore(&s0, vm, ex, c);
  if (rc != FJ_REC_DONE) return FJ_HOT_RELOAD;
  c->res->traced = 1;
  size_t tlen;
  const uint8_t *tr = fj_rec_bytes(&rec, &tlen);
  int done = 0;
  for (int v = 0; v < 2 && !c->res->failed; v++) {
    uint32_t flags = v == 0 ? FJ_CG_NO_OPT : 0;
    if (c->cfg->variants && !(c->cfg->variants & (1u << v))) continue;
    restore(&s0, vm, ex, c);
    variant(c, vm, ex, &s0, tr, tlen, flags, &done);
  }
  if (c->res->failed) {
    restore(&s0, vm, ex, c);  /* finish the run on the reference path */
    return FJ_HOT_RELOAD;
  }
  /* A side exit was taken: the interpreter is now exactly at it.  Record a bridge there (as the
   * runtime does for hot exits) and check it the same way, from this state. */
  if (!done && c->last_kind == FJ_EXIT_GUARD && c->cfg->bridges) {
    static state s1;
    save(&s1, vm, ex, c);
    rc = fj_rec_begin(&rec, c->trace, fj_trace_size(c->max_recs), c->max_recs, vm, ex,
                      FJ_TRACE_BRIDGE, 1, c->last_exit, NULL, NULL);
    if (rc < 0) return FJ_HOT_RELOAD;
    rc = fj_rec_run(&rec, vm, ex);
    restore(&s1, vm, ex, c);
    if (rc != FJ_REC_DONE) return FJ_HOT_RELOAD;
    c->res->bridges++;
    tr = fj_rec_bytes(&rec, &tlen);
    for (int v = 0; v < 2 && !c->res->failed; v++) {
      uint32_t flags = v == 0 ? FJ_CG_NO_OPT : 0;
      if (c->cfg->variants && !(c->cfg->variants & (1u << v))) continue;
      restore(&s1, vm, ex, c);
      variant(c, vm, ex, &s1, tr, tlen, flags, &done);
    }
    if (c->res->failed) {
      restore(&s1, vm, ex, c);
      return FJ_HOT_RELOAD;
    }
  }
  return done ? FJ_HOT_DONE : FJ_HOT_RELOAD;
}

static uint64_t gen_helper(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, fj_vm *vm) {
  return fj_gen_helper(a, b, c, d, e, vm);
}

/* A program: raw instructions, or an ELF object (entry: its default entry). */
typedef struct prog_src { const fj_insn *code; size_t n; const void *elf; size_t elf_len; } prog_src;

static int diff_run(const prog_src *src, void *mem, size_t mem_len, const fj_diff_cfg *cfg,
                    fj_diff_result *res, uint64_t *guest_insns) {
  memset(res, 0, sizeof *res);
  if (mem_len > MAX_MEM) return FJ_EINVAL;
  if (!fj_diff_thumb_harness()) {
    snprintf(res->message, sizeof res->message, "no Unicorn harness");
    res->failed = 1;
    return 1;
  }
  fj_uct_arena_reset(U);
  fj_platform pf = *fj_platform_linux();
  pf.mem = fj_uct_allocator(U);
  fj_vm *vm = fj_vm_create(&pf);
  uint8_t *amem = fj_uct_alloc(U, mem_len ? mem_len : 1, 16);
  fj_jit_state *st = fj_uct_alloc(U, sizeof *st, 16);
  if (!vm || !amem || !st) return FJ_ENOMEM;
  if (mem_len) memcpy(amem, mem, mem_len);
  fj_vm_register_std_helpers(vm);
  fj_vm_register_helper(vm, FJ_GEN_HELPER, "gen_mix", gen_helper);
  if (cfg->insn_limit) fj_vm_set_insn_limit(vm, cfg->insn_limit);
  int rc = src->elf ? fj_vm_load_elf(vm, src->elf, src->elf_len)
                    : fj_vm_load(vm, src->code, src->n * sizeof(fj_insn));
  if (rc < 0) {
    snprintf(res->message, sizeof res->message, "load: %s", fj_vm_errmsg(vm));
    fj_vm_destroy(vm);
    return rc;
  }
  uint32_t entry = src->elf ? (uint32_t)fj_vm_default_entry(vm) : cfg->entry;
  diff_ctx c = {cfg, res, amem, mem_len, false, cfg->max_recs ? cfg->max_recs : 1024, NULL, vm,
                NULL, 0, 0, st, 0, 0};
  c.trace = aligned_alloc(8, (fj_trace_size(c.max_recs) + 7) & ~(size_t)7);
  fj_jit_hooks hooks = {hot_hook, &c, cfg->threshold ? cfg->threshold : 1};
  fj_vm_set_jit_hooks(vm, &hooks);
  cur = &c;
  res->run_status = fj_vm_run(vm, entry, mem ? amem : NULL, mem_len, &res->r0);
  cur = NULL;
  if (res->run_status < 0 && !res->failed && res->traced)
    snprintf(res->message, sizeof res->message, "run: %s", fj_vm_errmsg(vm));
  if (mem_len) memcpy(mem, amem, mem_len);
  if (guest_insns) *guest_insns = c.guest_insns;
  free(c.trace);
  fj_vm_destroy(vm);
  return res->failed ? 1 : 0;
}

int fj_diff_run_thumb(const fj_insn *code, size_t n, void *mem, size_t mem_len,
                      const fj_diff_cfg *cfg, fj_diff_result *res, uint64_t *guest_insns) {
  prog_src src = {code, n, NULL, 0};
  return diff_run(&src, mem, mem_len, cfg, res, guest_insns);
}

int fj_diff_run_thumb_elf(const void *elf, size_t len, void *mem, size_t mem_len,
                          const fj_diff_cfg *cfg, fj_diff_result *res, uint64_t *guest_insns) {
  prog_src src = {NULL, 0, elf, len};
  return diff_run(&src, mem, mem_len, cfg, res, guest_insns);
}

uint32_t fj_diff_thumb_loop_headers(const void *elf, size_t len, uint32_t *pcs, uint32_t max) {
  fj_vm *vm = fj_vm_create(fj_platform_linux());
  uint32_t n = 0;
  if (vm && fj_vm_load_elf(vm, elf, len) == 0)
    for (uint32_t pc = 0; pc < vm->ninsns && n < max; pc++)
      if (vm->x[pc].flags & FJ_XF_LOOP) pcs[n++] = pc;
  fj_vm_destroy(vm);
  return n;
}
