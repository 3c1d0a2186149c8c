/* tests/codegen — the Thumb-2 runner of the differential harness (contract in diffrun_thumb.h). */
#include "tests/codegen/diffrun_thumb.h"

#include <capstone/capstone.h>
#include <stdio.h>
#include <string.h>

#include "client_runtime/vm_internal.h"
#include "farjit/platform_linux.h"

fj_diff_compile_fn fj_diff_thumb_compile = fj_codegen_compile;

typedef struct thumb_run {
  fj_uct *u;
  fj_vm *vm;             /* the run the harness's hooks serve */
  uint32_t base;         /* loaded blob */
  uint32_t base_depth;   /* interpreter depth at the trace's entry */
  char err[160];         /* a helper misused during the run */
} thumb_run;

static thumb_run T;

/* ---- helpers and CALL_LOCAL, served on the host ------------------------------------------ */

static uint64_t serve_helper(void *ud, uint32_t id, const uint64_t a[5], uint32_t vm_addr) {
  (void)ud;
  fj_vm *vm = T.vm;
  if (!vm || vm_addr != fj_uct_addr(vm)) {
    if (!T.err[0]) snprintf(T.err, sizeof T.err, "helper %u called with vm 0x%x", id, vm_addr);
    return 0;
  }
  int k = fj_vm_helper_index(vm, id);
  if (k < 0) return 0;
  return vm->helpers[k].fn(a[0], a[1], a[2], a[3], a[4], vm);
}

static uint64_t serve_call_local(void *ud, uint32_t st_addr, uint32_t pc) {
  (void)ud;
  if (!T.vm) return 0;
  fj_jit_state *st = (fj_jit_state *)(uintptr_t)st_addr;
  fj_exec *ex = T.vm->cur;
  uint32_t saved = ex->depth;
  ex->depth = T.base_depth + st->nframes; /* the callee runs above the inlined frames */
  uint64_t r0 = 0;
  (void)fj_vm_call(T.vm, pc, &st->r[1], &r0);
  ex->depth = saved;
  return r0;
}

fj_uct *fj_diff_thumb_harness(void) {
  if (!T.u) {
    fj_uct_hooks h = {serve_helper, serve_call_local, NULL};
    T.u = fj_uct_create(&h, 0);
  }
  return T.u;
}

/* ---- the runner --------------------------------------------------------------------------- */

static int thumb_compile(const void *trace, size_t len, enum fj_target target,
                         const fj_codegen_opts *opts, fj_codegen_result *res) {
  return fj_diff_thumb_compile(trace, len, target, opts, res);
}

static int thumb_open(void *self, fj_vm **vm, uint8_t **mem, size_t mem_len, fj_jit_state **st,
                      char *err, size_t errlen) {
  thumb_run *r = self;
  if (!fj_diff_thumb_harness()) {
    snprintf(err, errlen, "no Unicorn harness");
    return 1;
  }
  fj_uct_arena_reset(r->u);
  fj_platform pf = *fj_platform_linux();
  pf.mem = fj_uct_allocator(r->u);
  *vm = fj_vm_create(&pf);
  *mem = fj_uct_alloc(r->u, mem_len, 16);
  *st = fj_uct_alloc(r->u, sizeof **st, 16);
  if (!*vm || !*mem || !*st) {
    fj_vm_destroy(*vm);
    snprintf(err, errlen, "arena exhausted");
    return 1;
  }
  r->vm = *vm;
  return 0;
}

static void thumb_close(void *self, fj_vm *vm) {
  thumb_run *r = self;
  r->vm = NULL;
  fj_vm_destroy(vm);
}

static uint64_t thumb_addr(const void *p) { return fj_uct_addr(p); }

static int thumb_load(void *self, fj_vm *vm, const uint8_t *blob, size_t len, uint64_t *code_base,
                      char *err, size_t errlen) {
  thumb_run *r = self;
  (void)vm;
  fj_uct_unload_all(r->u);
  r->base = fj_uct_load(r->u, blob, len);
  if (!r->base) {
    snprintf(err, errlen, "%s", fj_uct_errmsg(r->u));
    return 1;
  }
  *code_base = r->base;
  return 0;
}

static int thumb_exec(void *self, fj_vm *vm, fj_exec *ex, fj_jit_state *st, uint32_t *exit_id,
                      uint64_t *guest_insns, char *err, size_t errlen) {
  thumb_run *r = self;
  r->base_depth = ex->depth;
  r->err[0] = '\0';
  *guest_insns = 0;
  if (fj_uct_run(r->u, r->base, fj_uct_addr(st), fj_uct_addr(&vm->stop), fj_uct_addr(&vm->left),
                 exit_id, 50000000)) {
    snprintf(err, errlen, "%s", fj_uct_errmsg(r->u));
    return 1;
  }
  *guest_insns = fj_uct_last_stats(r->u)->insns;
  if (r->err[0]) {
    snprintf(err, errlen, "%s", r->err);
    return 1;
  }
  return 0;
}

const fj_diff_runner *fj_diff_thumb_runner(void) {
  static const fj_diff_runner rn = {"thumbv7em", FJ_TARGET_THUMBV7EM, CS_ARCH_ARM,
                                    CS_MODE_THUMB | CS_MODE_MCLASS, thumb_compile, thumb_open,
                                    thumb_close, thumb_addr, thumb_load, thumb_exec, &T};
  return &rn;
}

static int run_prog(const fj_diff_prog *prog, void *mem, size_t mem_len, const fj_diff_cfg *cfg,
                    fj_diff_result *res, uint64_t *guest_insns) {
  int rc = fj_diff_run_with(fj_diff_thumb_runner(), prog, mem, mem_len, cfg, res);
  if (guest_insns) *guest_insns = res->guest_insns;
  return rc;
}

int fj_diff_run_thumb(const fj_insn *code, size_t n, void *mem, size_t mem_len,
                      const fj_diff_cfg *cfg, fj_diff_result *res, uint64_t *guest_insns) {
  fj_diff_prog prog = {code, n, NULL, 0};
  return run_prog(&prog, mem, mem_len, cfg, res, guest_insns);
}

int fj_diff_run_thumb_elf(const void *elf, size_t len, void *mem, size_t mem_len,
                          const fj_diff_cfg *cfg, fj_diff_result *res, uint64_t *guest_insns) {
  fj_diff_prog prog = {NULL, 0, elf, len};
  return run_prog(&prog, mem, mem_len, cfg, res, guest_insns);
}
