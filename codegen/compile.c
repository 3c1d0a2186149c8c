/* farjit codegen — the compile driver: fj_codegen_compile (contract in farjit/codegen.h).
 *
 * trace bytes -> fj_trace_read (verify) -> fj_ir_build -> fj_opt_run (loop, mem, dce, narrow, dce)
 * (unless FJ_CG_NO_OPT) ->
 * exit numbering -> fj_ra_run -> backend emit -> fixups -> blob (SHA-256 of the trace, CRC).
 * Every phase aborts through fj_ir_abort, which longjmps back here; all state of one compile
 * lives in one heap object so nothing depends on locals across the longjmp.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "codegen/blob_write.h"
#include "codegen/opt.h"
#include "codegen/snap.h"
#include "codegen/target.h"
#include "codegen/trace_read.h"
#include "farjit/codegen.h"
#include "farjit/error.h"

#if defined(__has_include)
#if __has_include("codegen/thumb/thumb.h")
#include "codegen/thumb/thumb.h"  /* declares fj_backend_thumbv7em */
#define FJ_CG_HAVE_THUMB 1
#endif
#endif

const fj_backend *fj_backend_get(enum fj_target target) {
  switch (target) {
  case FJ_TARGET_X86_64: return &fj_backend_x86_64;
#ifdef FJ_CG_HAVE_THUMB
  case FJ_TARGET_THUMBV7EM: return &fj_backend_thumbv7em;
#endif
  default: return NULL;
  }
}

int fj_codegen_supports(enum fj_target target) { return fj_backend_get(target) != NULL; }

/* IR flags the target's address width implies (codegen/ir.h): 32-bit targets address memory
 * with the low word of an address, and every region they run on lies below 2^32. */
static uint32_t addr_flags(enum fj_target target) {
  return target == FJ_TARGET_THUMBV7EM ? FJ_IR_ADDR32 : 0;
}

/* ---- exits ------------------------------------------------------------------------------- */

void fj_cg_exits_build(fj_cg *cg) {
  fj_ir *ir = cg->ir;
  cg->snap_exit = malloc((ir->nsnaps ? ir->nsnaps : 1) * sizeof *cg->snap_exit);
  cg->exits = calloc(ir->nsnaps ? ir->nsnaps : 1, sizeof *cg->exits);
  if (!cg->snap_exit || !cg->exits) fj_ir_abort(ir, FJ_ABORT_NOMEM, "exits: out of memory");
  for (uint32_t s = 0; s < ir->nsnaps; s++) cg->snap_exit[s] = FJ_EXIT_NONE;
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) {
    const fj_ir_ins *in = fj_ir_at(ir, r);
    if (in->op == FJ_IR_NOP || !fj_ir_has_snap(in->op)) continue;
    if (in->snap >= ir->nsnaps)
      fj_ir_abort(ir, FJ_ABORT_INTERNAL, "ir %04u: snapshot %u out of range", r - FJ_REF_BIAS,
                  in->snap);
    if (cg->snap_exit[in->snap] != FJ_EXIT_NONE) continue;
    const fj_snap *s = fj_snap_get(ir, in->snap);
    uint32_t e = cg->nexits++;
    cg->snap_exit[in->snap] = e;
    bool call = in->op == FJ_IR_CALL || in->op == FJ_IR_CALLL;
    cg->exits[e] = (fj_blob_exit){s->pc, FJ_BLOB_NO_PATCH,
                                  (uint16_t)(call ? FJ_EXIT_CALL : s->kind), s->nframes, in->snap};
  }
  cg->tail_snap = FJ_EXIT_NONE;
  if (ir->loop == FJ_REF_NONE && ir->end == FJ_TRACE_END_LOOP) {
    /* Not optimized into a loop: the end of the IR leaves to the trace's own start (LINK). */
    if (ir->loop_snap >= ir->nsnaps)
      fj_ir_abort(ir, FJ_ABORT_INTERNAL, "loop trace without loop snapshot");
    const fj_snap *s = fj_snap_get(ir, ir->loop_snap);
    cg->tail_snap = ir->loop_snap;
    if (cg->snap_exit[ir->loop_snap] == FJ_EXIT_NONE) {
      uint32_t e = cg->nexits++;
      cg->snap_exit[ir->loop_snap] = e;
      cg->exits[e] =
          (fj_blob_exit){s->pc, FJ_BLOB_NO_PATCH, FJ_EXIT_LINK, s->nframes, ir->loop_snap};
    }
  }
  if (!cg->nexits) fj_ir_abort(ir, FJ_ABORT_INTERNAL, "trace has no exit");
}

void fj_cg_free(fj_cg *cg) {
  fj_ra_free(&cg->ra);
  fj_mcode_free(&cg->mc);
  free(cg->snap_exit);
  free(cg->exits);
  free(cg->uses);
  cg->uses = NULL;
  cg->snap_exit = NULL;
  cg->exits = NULL;
}

/* ---- the driver -------------------------------------------------------------------------- */

typedef struct compile_job {
  fj_trace trace;
  fj_ir ir;
  fj_cg cg;
  fj_blob_reloc *relocs;
  uint32_t nrelocs;
  char *dump_before, *dump_after, *dump_ra, *meta;
} compile_job;

static uint32_t count_ins(const fj_ir *ir) {
  uint32_t n = 0;
  for (fj_ref r = FJ_REF_BIAS; r < ir->top; r++) n += fj_ir_at(ir, r)->op != FJ_IR_NOP;
  return n;
}

static void job_free(compile_job *j) {
  fj_cg_free(&j->cg);
  fj_ir_free(&j->ir);
  fj_trace_release(&j->trace);
  free(j->relocs);
  free(j->dump_before);
  free(j->dump_after);
  free(j->dump_ra);
  free(j->meta);
  free(j);
}

static int fail(fj_codegen_result *res, int status, int reason, const char *msg) {
  res->status = status;
  res->abort_reason = reason;
  if (msg != res->message) snprintf(res->message, sizeof res->message, "%s", msg);
  return status;
}

static char *make_meta(compile_job *j, uint32_t *size) {
  const char *b = j->dump_before ? j->dump_before : "", *a = j->dump_after ? j->dump_after : "";
  const char *r = j->dump_ra ? j->dump_ra : "";
  size_t n = strlen(b) + strlen(a) + strlen(r) + 64;
  char *m = malloc(n);
  if (!m) return NULL;
  int len = snprintf(m, n, "== IR before optimization\n%s== IR after optimization\n%s== %s", b,
                     a, r);
  *size = (uint32_t)len;
  return m;
}

/* Every phase after the trace is read; aborts longjmp to fj_codegen_compile. */
static void run_phases(compile_job *j, const void *trace, size_t len, enum fj_target target,
                       uint32_t flags, fj_codegen_result *res) {
  const fj_backend *be = j->cg.be;
  fj_ir_build(&j->ir, &j->trace);
  res->stats.ir_before = count_ins(&j->ir);
  if (flags & FJ_CG_DUMP) j->dump_before = fj_ir_dump(&j->ir, true);
  if (!(flags & FJ_CG_NO_OPT)) {
    fj_opt_run(&j->ir);
  }
  res->stats.ir_after = count_ins(&j->ir);
  if (flags & FJ_CG_DUMP) j->dump_after = fj_ir_dump(&j->ir, true);

  fj_cg_exits_build(&j->cg);
  fj_ra_run(&j->cg.ra, &j->ir, &be->regs);
  if (flags & FJ_CG_DUMP) j->dump_ra = fj_ra_dump(&j->cg.ra, &j->ir, be->reg_names);
  j->cg.uses = malloc((fj_ir_nins(&j->ir) + 1) * sizeof *j->cg.uses);
  if (!j->cg.uses) fj_ir_abort(&j->ir, FJ_ABORT_NOMEM, "use counts: out of memory");
  fj_ir_use_counts(&j->ir, j->cg.uses, true);
  be->emit(&j->cg);
  char err[160];
  int rc = fj_fixup_apply(&j->cg.mc, be->patch, &j->relocs, &j->nrelocs, err, sizeof err);
  if (rc < 0) fj_ir_abort(&j->ir, rc == FJ_ENOMEM ? FJ_ABORT_NOMEM : FJ_ABORT_BACKEND, "%s", err);

  fj_blob_parts p;
  memset(&p, 0, sizeof p);
  p.target = (uint16_t)target;
  p.kind = j->trace.h.kind;
  p.start_pc = j->trace.h.start_pc;
  p.parent_id = j->trace.h.parent_id;
  p.parent_exit = j->trace.h.parent_exit;
  p.frame_size = j->cg.frame_size;
  if (mbedtls_sha256_ret(trace, len, p.trace_hash, 0) != 0)
    fj_ir_abort(&j->ir, FJ_ABORT_INTERNAL, "sha256 failed");
  p.code = j->cg.mc.p;
  p.code_size = j->cg.mc.len;
  p.entry_off = j->cg.entry_off;
  p.relocs = j->relocs;
  p.nrelocs = j->nrelocs;
  p.exits = j->cg.exits;
  p.nexits = j->cg.nexits;
  if (flags & FJ_CG_DUMP) {
    j->meta = make_meta(j, &p.meta_size);
    p.meta = j->meta;
  }
  rc = fj_blob_write(&p, &res->blob, &res->blob_size);
  if (rc < 0)
    fj_ir_abort(&j->ir, rc == FJ_ERANGE ? FJ_ABORT_CODE_LIMIT : FJ_ABORT_NOMEM,
                "blob: %s", fj_strerror(rc));
  res->stats.nexits = j->cg.nexits;
  res->stats.nspills = j->cg.ra.nslots;
  res->stats.code_size = j->cg.mc.len;
}

int fj_codegen_compile(const void *trace, size_t len, enum fj_target target,
                       const fj_codegen_opts *opts, fj_codegen_result *res) {
  memset(res, 0, sizeof *res);
  const uint32_t flags = opts ? opts->flags : 0;
  const fj_backend *be = fj_backend_get(target);
  if (!be) {
    snprintf(res->message, sizeof res->message, "target %s not supported", fj_target_name(target));
    return fail(res, FJ_ETARGET, FJ_ABORT_TARGET, res->message);
  }
  compile_job *const j = calloc(1, sizeof *j);
  if (!j) return fail(res, FJ_ENOMEM, FJ_ABORT_NOMEM, "out of memory");
  int rc = fj_trace_read(trace, len, opts ? opts->max_recs : 0, &j->trace, res->message,
                         sizeof res->message);
  if (rc < 0) {
    job_free(j);
    return fail(res, rc, rc == FJ_EBADTRACE ? FJ_ABORT_BADTRACE : FJ_ABORT_NOMEM, res->message);
  }
  res->stats.nrecs = j->trace.nrecs;
  fj_ir_init(&j->ir, ((flags & FJ_CG_NO_OPT) ? FJ_IR_NOFOLD : 0) | addr_flags(target));
  j->cg.ir = &j->ir;
  j->cg.be = be;
  fj_mcode_init(&j->cg.mc);
  /* Only j (never reassigned) and res are used after a longjmp. */
  if (setjmp(j->ir.abort_jb)) {
    int reason = j->ir.reason;
    snprintf(res->message, sizeof res->message, "%s", j->ir.msg);
    fj_codegen_result_free(res);
    job_free(j);
    return fail(res, reason == FJ_ABORT_BADTRACE ? FJ_EBADTRACE : FJ_ECOMPILE, reason,
                res->message);
  }
  run_phases(j, trace, len, target, flags, res);
  job_free(j);
  return 0;
}

void fj_codegen_result_free(fj_codegen_result *res) {
  free(res->blob);
  res->blob = NULL;
  res->blob_size = 0;
}
