/* farjit — the client JIT runtime object (farjit/client.h): hot spots with backoff and
 * blacklisting, recording and asynchronous compile requests, installing blobs at safe points
 * (validate, copy, relocate, link, patch bridges), eviction and invalidation with return-address
 * rewriting, stats and the trace log.  Entering traces and exits are in exit.c.
 *
 * Safe points: results are installed only from the interpreter's hot hook (between
 * instructions, possibly inside a helper's callback while an outer trace waits in a call) or
 * from fj_jit_poll() while the VM is idle.  Code that a waiting call would return into is never
 * freed without rewriting that return address first (evict_trace).
 */
#include <string.h>

#include "client_runtime/arch.h"
#include "client_runtime/jit_internal.h"
#include "farjit/blob.h"

_Static_assert((int)FJ_REC_ABORT__COUNT <= (int)FJ_JIT_ABORT_REASONS_MAX, "fj_jit_stats.aborted_by too small");
_Static_assert((int)FJ_BLOB_REJECT__COUNT <= (int)FJ_JIT_REJECT_REASONS_MAX, "fj_jit_stats.rejected_by too small");

enum {
  DEFAULT_EXIT_THRESHOLD = 16,
  DEFAULT_CODE_SIZE = 1u << 20,
  DEFAULT_MAX_TRACES = 256,
  DEFAULT_MAX_INFLIGHT = 8,
  DEFAULT_MAX_ATTEMPTS = 4,
  ISLAND_SLOTS = 64,
  BACKOFF_MAX_SHIFT = 10,
  LOG_LINE = 200,
  TRIVIAL_RECS = 2,  /* END_STOP traces of at most this many records (the exit included) */
};

static const char *const kind_names[] = {"?", "LOOP", "ENTRY", "BRIDGE"};
static const char *kind_name(uint32_t k) { return k <= FJ_TRACE_BRIDGE ? kind_names[k] : "?"; }
static const char *const exit_names[] = {"?", "GUARD", "LINK", "STOP", "CALL", "BUDGET"};
static const char *exit_name(uint32_t k) { return k <= FJ_EXIT_BUDGET ? exit_names[k] : "?"; }

static void *fj_jit_alloc(fj_jit *jit, size_t size) {
  void *p = jit->mem.alloc(jit->mem.ud, size ? size : 1, 8);
  if (p) memset(p, 0, size);
  return p;
}
static void jfree(fj_jit *jit, void *p, size_t size) {
  if (p) jit->mem.free(jit->mem.ud, p, size ? size : 1);
}

/* ---- trace log ------------------------------------------------------------------------------ */

typedef struct logl {
  char buf[LOG_LINE];
  fj_sb sb;
} logl;

static bool log_begin(const fj_jit *jit, logl *l, uint32_t id, uint32_t kind, uint32_t pc) {
  if (!jit->env.log) return false;
  l->sb = fj_sb_init(l->buf, sizeof l->buf);
  fj_sb_puts(&l->sb, "jit: trace ");
  if (id) fj_sb_putu(&l->sb, id);
  else fj_sb_putc(&l->sb, '-');
  fj_sb_putc(&l->sb, ' ');
  fj_sb_puts(&l->sb, kind_name(kind));
  fj_sb_puts(&l->sb, " pc ");
  fj_sb_putu(&l->sb, pc);
  fj_sb_puts(&l->sb, ": ");
  return true;
}
static void log_end(fj_jit *jit, logl *l) {
  size_t n = l->sb.len < sizeof l->buf - 1 ? l->sb.len : sizeof l->buf - 1;
  jit->env.log(jit->env.log_ud, l->buf, n);
}

/* ---- lookups ------------------------------------------------------------------------------- */

fj_jtrace *fj_jit_trace_by_id(fj_jit *jit, uint32_t id) {
  if (!id) return NULL;
  for (uint32_t i = 0; i < jit->cfg.max_traces; i++)
    if (jit->traces[i].id == id) return &jit->traces[i];
  return NULL;
}

static fj_jtrace *trace_at_pc(const fj_jit *jit, uint32_t pc) { return fj_jit_trace_at(jit, pc); }

uint32_t fj_jit_pending(const fj_jit *jit) { return jit->ninflight; }

bool fj_jit_has_trace(const fj_jit *jit, uint32_t pc) { return trace_at_pc(jit, pc) != NULL; }

/* For the recorder: a trace starts at pc (installed, or being compiled). */
static bool rec_trace_at(void *ud, uint32_t pc) {
  const fj_jit *jit = ud;
  return trace_at_pc(jit, pc) || jit->spots[pc].state == FJ_SPOT_PENDING;
}

static bool rec_no_inline(void *ud, uint32_t pc) { return ((const fj_jit *)ud)->spots[pc].no_inline != 0; }

/* ---- backoff ------------------------------------------------------------------------------- */

static uint16_t backoff(uint8_t fails) {
  return (uint16_t)(1u << (fails < BACKOFF_MAX_SHIFT ? fails : BACKOFF_MAX_SHIFT));
}

/* An attempt at pc (or at a parent's exit, for bridges) failed.  counted: it counts towards the
 * blacklist (compile errors, rejections, aborts); transport refusals only back off. */
static void attempt_failed(fj_jit *jit, uint16_t kind, uint32_t pc, uint32_t parent_id,
                           uint32_t parent_exit, bool counted) {
  if (kind == FJ_TRACE_BRIDGE) {
    fj_jtrace *p = fj_jit_trace_by_id(jit, parent_id);
    if (!p || parent_exit >= p->nexits) return;
    fj_jexit *x = &p->exits[parent_exit];
    if (counted && x->fails < UINT8_MAX) x->fails++;
    if (x->tries < UINT8_MAX) x->tries++;
    x->state = x->fails >= jit->cfg.max_attempts ? FJ_EXIT_BLACK : FJ_EXIT_IDLE;
    x->skip = backoff(x->tries);
    return;
  }
  if (pc >= jit->ninsns) return;
  fj_spot *s = &jit->spots[pc];
  if (counted && s->fails < UINT8_MAX) s->fails++;
  if (s->tries < UINT8_MAX) s->tries++;
  s->skip = backoff(s->tries);
  s->state = FJ_SPOT_IDLE;
  if (s->fails >= jit->cfg.max_attempts) {
    s->state = FJ_SPOT_BLACK;
    jit->stats.blacklisted++;
    if (jit->vm->hot) jit->vm->hot[pc] = 0xffff;
    logl l;
    if (log_begin(jit, &l, 0, kind, pc)) {
      fj_sb_puts(&l.sb, "blacklisted after ");
      fj_sb_putu(&l.sb, s->fails);
      fj_sb_puts(&l.sb, " failed attempts");
      log_end(jit, &l);
    }
  }
}

/* ---- eviction ------------------------------------------------------------------------------ */

static void store32_aligned(uint8_t *p, const uint8_t v[4]) {
  uint32_t w;
  memcpy(&w, v, 4);
#if defined(__GNUC__)
  __atomic_store_n((uint32_t *)(void *)p, w, __ATOMIC_RELEASE);
#else
  *(volatile uint32_t *)(void *)p = w;
#endif
}

static void free_trace_mem(fj_jit *jit, fj_jtrace *t) {
  jfree(jit, t->exits, (size_t)t->nexits * sizeof *t->exits);
  jfree(jit, t->sites, (size_t)t->nsites * sizeof *t->sites);
  memset(t, 0, sizeof *t);
}

/* Remove t (and its bridges) from the code cache.  Links into it go back to their local exits,
 * its bridge patch (if it is a bridge) is undone, live calls out of it get the deopt stub as
 * their return address, then the code is freed (trap-filled).  false (nothing changed) if the
 * code cannot be made writable. */
static bool evict_trace(fj_jit *jit, fj_jtrace *t, bool explicit_) {
  fj_codecache *cc = &jit->cc;
  if (fj_cc_write_begin(cc)) return false;
  for (uint32_t i = 0; i < jit->cfg.max_traces; i++) {
    fj_jtrace *u = &jit->traces[i];
    if (u->id && u != t && u->kind == FJ_TRACE_BRIDGE && u->parent_id == t->id)
      evict_trace(jit, u, explicit_);
  }
  if (t->kind != FJ_TRACE_BRIDGE && trace_at_pc(jit, t->start_pc) == t) {
    for (uint32_t i = 0; i < jit->cfg.max_traces; i++) {
      fj_jtrace *u = &jit->traces[i];
      if (!u->id || u == t) continue;
      for (uint32_t k = 0; k < u->nsites; k++) {
        fj_link_site *s = &u->sites[k];
        if (!s->linked || s->pc != t->start_pc) continue;
        fj_link_site_set(jit->target, fj_cc_rw(cc, u->code_off), u->va, s, 0);
        fj_cc_dirty(cc, u->code_off + s->offset, 4);
      }
    }
    jit->pc_trace[t->start_pc] = 0;
  }
  /* Exits patched onto t: its own bridge patch, and side exits linked straight to t. */
  for (uint32_t i = 0; i < jit->cfg.max_traces; i++) {
    fj_jtrace *p = &jit->traces[i];
    if (!p->id || p == t) continue;
    for (uint32_t k = 0; k < p->nexits; k++) {
      fj_jexit *x = &p->exits[k];
      if (x->bridge_id != t->id) continue;
      store32_aligned(fj_cc_rw(cc, p->code_off + x->patch_off), x->orig);
      fj_cc_dirty(cc, p->code_off + x->patch_off, 4);
      x->bridge_id = 0;
      x->state = FJ_EXIT_IDLE;
    }
  }
  /* Return-address rewriting: a call out of t is waiting somewhere up the native stack. */
  for (fj_jentry *e = jit->active; e; e = e->prev) {
    fj_jit_state *st = e->st;
    if (e->deopted || st->call_ret < t->va || st->call_ret >= t->va + t->code_size) continue;
    st->call_ret = fj_arch_deopt();
    e->deopted = true;
    if (st->call_exit < t->nexits) {
      e->deopt_pc = t->exits[st->call_exit].pc;
      e->deopt_nframes = t->exits[st->call_exit].nframes;
    } else {
      e->deopt_pc = UINT32_MAX;  /* exit.c reports the broken blob */
    }
    jit->stats.deopts++;
    logl l;
    if (log_begin(jit, &l, t->id, t->kind, t->start_pc)) {
      fj_sb_puts(&l.sb, "live call deoptimized, resumes at pc ");
      fj_sb_putu(&l.sb, e->deopt_pc);
      log_end(jit, &l);
    }
  }
  fj_cc_free(cc, t->code_off);
  fj_cc_write_end(cc);
  if (explicit_) jit->stats.invalidations++;
  else jit->stats.evictions++;
  jit->stats.code_bytes -= t->code_size;
  logl l;
  if (log_begin(jit, &l, t->id, t->kind, t->start_pc)) {
    fj_sb_puts(&l.sb, explicit_ ? "invalidated" : "evicted (cold)");
    fj_sb_puts(&l.sb, " after ");
    fj_sb_putu(&l.sb, t->entries);
    fj_sb_puts(&l.sb, " entries");
    log_end(jit, &l);
  }
  free_trace_mem(jit, t);
  return true;
}

/* ---- requests ------------------------------------------------------------------------------ */

static fj_jreq *req_find(fj_jit *jit, uint32_t id) {
  for (uint32_t i = 0; i < jit->cfg.max_inflight; i++)
    if (jit->reqs[i].id == id) return &jit->reqs[i];
  return NULL;
}

static void req_drop(fj_jit *jit, fj_jreq *r, bool cancel) {
  if (cancel && jit->env.transport.cancel) jit->env.transport.cancel(jit->env.transport.ud, r->id);
  memset(r, 0, sizeof *r);
  jit->ninflight--;
}

static void submit(fj_jit *jit, const fj_recorder *rec, uint16_t kind, uint32_t pc,
                   uint32_t parent_id, uint32_t parent_exit) {
  fj_jreq *slot = req_find(jit, 0);
  logl l;
  if (!slot) {
    attempt_failed(jit, kind, pc, parent_id, parent_exit, false);
    return;
  }
  if (++jit->next_req_id == 0) jit->next_req_id = 1;
  size_t len;
  fj_jit_request rq;
  rq.id = jit->next_req_id;
  rq.target = jit->target;
  rq.kind = kind;
  rq.start_pc = pc;
  rq.parent_id = parent_id;
  rq.parent_exit = parent_exit;
  rq.trace = fj_rec_bytes(rec, &len);
  rq.trace_len = len;
  int rc = jit->env.transport.submit(jit->env.transport.ud, &rq);
  if (rc < 0) {
    jit->stats.send_failed++;
    if (log_begin(jit, &l, 0, kind, pc)) {
      fj_sb_puts(&l.sb, "not sent: ");
      fj_sb_puts(&l.sb, fj_strerror(rc));
      log_end(jit, &l);
    }
    attempt_failed(jit, kind, pc, parent_id, parent_exit, false);
    return;
  }
  *slot = (fj_jreq){rq.id, pc, kind, (uint16_t)rec->max_depth, parent_id, parent_exit};
  jit->ninflight++;
  jit->stats.traces_sent++;
  if (kind == FJ_TRACE_BRIDGE) {
    fj_jtrace *p = fj_jit_trace_by_id(jit, parent_id);
    if (p && parent_exit < p->nexits) p->exits[parent_exit].state = FJ_EXIT_PENDING;
  } else {
    jit->spots[pc].state = FJ_SPOT_PENDING;
  }
  if (log_begin(jit, &l, 0, kind, pc)) {
    fj_sb_puts(&l.sb, "sent as request ");
    fj_sb_putu(&l.sb, rq.id);
    fj_sb_puts(&l.sb, " (");
    fj_sb_putu(&l.sb, len);
    fj_sb_puts(&l.sb, " bytes)");
    log_end(jit, &l);
  }
}

static int poll_results(fj_jit *jit);

/* wait_ms: block (bounded) until request id is answered, then install what arrived.  The caller
 * is at a safe point (a hot hook or an exit), as for poll_results. */
static void wait_result(fj_jit *jit, uint32_t id) {
  const fj_jit_transport *tr = &jit->env.transport;
  if (!jit->cfg.wait_ms || !tr->wait) return;
  if (tr->wait(tr->ud, id, jit->cfg.wait_ms) > 0) poll_results(jit);
  else jit->stats.wait_timeouts++;
}

/* A trace that ends the frame after at most one instruction of work costs an entry and an exit
 * (more than interpreting it) every time: never send it, and never try that spot again. */
static void trivial(fj_jit *jit, uint16_t kind, uint32_t pc, uint32_t parent_id,
                    uint32_t parent_exit, uint32_t nrecs) {
  jit->stats.traces_trivial++;
  if (kind == FJ_TRACE_BRIDGE) {
    fj_jtrace *p = fj_jit_trace_by_id(jit, parent_id);
    if (p && parent_exit < p->nexits) p->exits[parent_exit].state = FJ_EXIT_BLACK;
  } else if (pc < jit->ninsns) {
    jit->spots[pc].state = FJ_SPOT_BLACK;
    if (jit->vm->hot) jit->vm->hot[pc] = 0xffff;
  }
  logl l;
  if (log_begin(jit, &l, 0, kind, pc)) {
    fj_sb_puts(&l.sb, "not sent: ");
    fj_sb_putu(&l.sb, nrecs);
    fj_sb_puts(&l.sb, " instruction(s) ending the frame, no work; blacklisted");
    log_end(jit, &l);
  }
}

int fj_jit_record(fj_jit *jit, fj_exec *ex, enum fj_trace_kind kind, uint32_t parent_id,
                  uint32_t parent_exit) {
  fj_vm *vm = jit->vm;
  const uint32_t pc = ex->pc;
  fj_recorder rec;
  if (fj_rec_begin(&rec, jit->tbuf, jit->tbuf_cap, jit->cfg.max_recs, vm, ex, kind, parent_id,
                   parent_exit, rec_trace_at, jit))
    return FJ_HOT_CONTINUE;
  rec.no_inline = rec_no_inline;
  if (kind == FJ_TRACE_BRIDGE) {
    fj_jtrace *p = fj_jit_trace_by_id(jit, parent_id);
    if (p) p->exits[parent_exit].state = FJ_EXIT_PENDING;  /* no second bridge meanwhile */
  }
  jit->recording = true;
  int rc = fj_rec_run(&rec, vm, ex);
  jit->recording = false;
  logl l;
  if (rc == FJ_REC_DONE) {
    jit->stats.traces_recorded++;
    if (kind == FJ_TRACE_BRIDGE) jit->stats.bridges_recorded++;
    const fj_trace_header *h = (const fj_trace_header *)(const void *)jit->tbuf;
    if (h->end == FJ_TRACE_END_STOP && h->nrecs <= TRIVIAL_RECS) {
      trivial(jit, kind, pc, parent_id, parent_exit, h->nrecs);
      return FJ_HOT_RELOAD;
    }
    if (log_begin(jit, &l, 0, kind, pc)) {
      fj_sb_puts(&l.sb, "recorded ");
      fj_sb_putu(&l.sb, h->nrecs);
      fj_sb_puts(&l.sb, " instructions, ends ");
      fj_sb_puts(&l.sb, h->end == FJ_TRACE_END_LOOP ? "LOOP" : h->end == FJ_TRACE_END_LINK ? "LINK" : "STOP");
      fj_sb_puts(&l.sb, " at pc ");
      fj_sb_putu(&l.sb, h->end_pc);
      if (kind == FJ_TRACE_BRIDGE) {
        fj_sb_puts(&l.sb, ", bridge of trace ");
        fj_sb_putu(&l.sb, parent_id);
        fj_sb_puts(&l.sb, " exit ");
        fj_sb_putu(&l.sb, parent_exit);
      }
      log_end(jit, &l);
    }
    uint64_t sent = jit->stats.traces_sent;
    submit(jit, &rec, (uint16_t)kind, pc, parent_id, parent_exit);
    if (jit->stats.traces_sent != sent) wait_result(jit, jit->next_req_id);
    return FJ_HOT_RELOAD;
  }
  jit->stats.traces_aborted++;
  jit->stats.aborted_by[rec.abort]++;
  if (log_begin(jit, &l, 0, kind, pc)) {
    fj_sb_puts(&l.sb, "recording aborted: ");
    fj_sb_puts(&l.sb, fj_rec_abort_name(rec.abort));
    log_end(jit, &l);
  }
  bool counted = true;
  if (rec.abort == FJ_REC_ABORT_INNER_LOOP && rec.bad_callee < jit->ninsns) {
    jit->spots[rec.bad_callee].no_inline = 1;  /* next time the call stays in the interpreter */
    counted = false;
  }
  attempt_failed(jit, (uint16_t)kind, pc, parent_id, parent_exit, counted);
  if (rc < 0) return rc;
  return rc == FJ_REC_FINISHED ? FJ_HOT_DONE : FJ_HOT_RELOAD;
}

/* ---- installing a blob --------------------------------------------------------------------- */

static bool helper_known(const void *ud, uint32_t id) {
  return fj_vm_helper_index((const fj_vm *)ud, id) >= 0;
}

static uint64_t link_sym(void *ud, uint8_t sym, uint32_t id) {
  fj_jit *jit = ud;
  if (sym == FJ_SYM_RUNTIME) return fj_jit_rt_addr(id);
  if (sym == FJ_SYM_HELPER) {
    int i = fj_vm_helper_index(jit->vm, id);
    return i < 0 ? 0 : (uint64_t)(uintptr_t)jit->vm->helpers[i].fn;
  }
  return 0;
}

static uint64_t link_veneer(void *ud, uint64_t addr) { return fj_cc_veneer(&((fj_jit *)ud)->cc, addr); }

static uint64_t entry_va(const fj_jtrace *t) { return t->va + t->entry_off; }

/* Patch t's links to installed traces and other traces' pending links to t. */
static void link_trace(fj_jit *jit, fj_jtrace *t) {
  fj_codecache *cc = &jit->cc;
  for (uint32_t k = 0; k < t->nsites; k++) {
    fj_jtrace *to = trace_at_pc(jit, t->sites[k].pc);
    if (to && fj_link_site_set(jit->target, fj_cc_rw(cc, t->code_off), t->va, &t->sites[k], entry_va(to))) {
      fj_cc_dirty(cc, t->code_off + t->sites[k].offset, 4);
      jit->stats.links_patched++;
    }
  }
  if (t->kind == FJ_TRACE_BRIDGE) return;
  for (uint32_t i = 0; i < jit->cfg.max_traces; i++) {
    fj_jtrace *u = &jit->traces[i];
    if (!u->id || u == t) continue;
    for (uint32_t k = 0; k < u->nsites; k++) {
      fj_link_site *s = &u->sites[k];
      if (s->linked || s->pc != t->start_pc) continue;
      if (fj_link_site_set(jit->target, fj_cc_rw(cc, u->code_off), u->va, s, entry_va(t))) {
        fj_cc_dirty(cc, u->code_off + s->offset, 4);
        jit->stats.links_patched++;
      }
    }
  }
}

static int install_fail(fj_jit *jit, const fj_jreq *rq, const char *why, const char *detail) {
  logl l;
  if (log_begin(jit, &l, 0, rq->kind, rq->start_pc)) {
    fj_sb_puts(&l.sb, why);
    if (detail) fj_sb_puts(&l.sb, detail);
    log_end(jit, &l);
  }
  return FJ_EBADBLOB;
}

/* The coldest trace but keep, after handing the code cache every trace's last entry tick
 * (code_size 0: a slot being installed, whose block does not exist yet). */
static fj_jtrace *coldest(fj_jit *jit, const fj_jtrace *keep) {
  for (uint32_t i = 0; i < jit->cfg.max_traces; i++) {
    const fj_jtrace *t = &jit->traces[i];
    if (t->id && t->code_size) fj_cc_touch(&jit->cc, t->code_off, t->last_use);
  }
  return fj_cc_coldest(&jit->cc, keep);
}

static fj_jtrace *slot_alloc(fj_jit *jit, const fj_jtrace *keep) {
  for (;;) {
    for (uint32_t i = 0; i < jit->cfg.max_traces; i++)
      if (!jit->traces[i].id) return &jit->traces[i];
    fj_jtrace *victim = coldest(jit, keep);
    if (!victim || !evict_trace(jit, victim, false)) return NULL;
  }
}

static int install(fj_jit *jit, const fj_jreq *rq, const uint8_t *blob, size_t len) {
  fj_vm *vm = jit->vm;
  const bool bridge = rq->kind == FJ_TRACE_BRIDGE;
  fj_blob_expect e = {jit->target, rq->kind, rq->start_pc, rq->parent_id, rq->parent_exit,
                      vm->ninsns, helper_known, vm};
  fj_blob_view v;
  int reason = fj_blob_check(blob, len, &e, &v);
  if (reason) {
    jit->stats.traces_rejected++;
    jit->stats.rejected_by[reason]++;
    return install_fail(jit, rq, "blob rejected: ", fj_blob_reject_text(reason));
  }
  if (!bridge && trace_at_pc(jit, rq->start_pc)) {
    jit->stats.stale_results++;
    return 0;  /* one arrived meanwhile (after an invalidation race): keep it */
  }
  fj_jtrace *parent = bridge ? fj_jit_trace_by_id(jit, rq->parent_id) : NULL;
  fj_jtrace *t = slot_alloc(jit, parent);
  parent = bridge ? fj_jit_trace_by_id(jit, rq->parent_id) : NULL;  /* eviction may take it */
  if (!t || (bridge && !parent)) {
    jit->stats.link_failed++;
    return install_fail(jit, rq, "not installed: ", "no trace slot (or the parent left)");
  }
  memset(t, 0, sizeof *t);
  t->exits = fj_jit_alloc(jit, (size_t)v.h.nexits * sizeof *t->exits);
  fj_link_site *sites = fj_jit_alloc(jit, (size_t)v.h.nrelocs * sizeof *sites);
  if (!t->exits || !sites) {
    jfree(jit, t->exits, (size_t)v.h.nexits * sizeof *t->exits);
    jfree(jit, sites, (size_t)v.h.nrelocs * sizeof *sites);
    memset(t, 0, sizeof *t);
    jit->stats.link_failed++;
    return install_fail(jit, rq, "not installed: ", "out of memory");
  }
  t->nexits = v.h.nexits;
  t->id = ++jit->next_trace_id;  /* claims the slot: eviction below skips nothing it needs */
  t->kind = rq->kind;
  t->start_pc = rq->start_pc;

  fj_codecache *cc = &jit->cc;
  uint32_t off = 0;
  int rc = fj_cc_write_begin(cc);
  if (rc) {
    jfree(jit, t->exits, (size_t)t->nexits * sizeof *t->exits);
    jfree(jit, sites, (size_t)v.h.nrelocs * sizeof *sites);
    memset(t, 0, sizeof *t);
    jit->stats.link_failed++;
    return install_fail(jit, rq, "not installed: ", "code cache not writable");
  }
  while ((rc = fj_cc_alloc(cc, v.h.code_size, t, &off)) == FJ_ENOSPC) {
    fj_jtrace *victim = coldest(jit, parent);
    if (!victim || !evict_trace(jit, victim, false)) break;
  }
  parent = bridge ? fj_jit_trace_by_id(jit, rq->parent_id) : NULL;
  uint32_t nsites = 0;
  if (!rc && (!bridge || parent)) {
    memcpy(fj_cc_rw(cc, off), v.code, v.h.code_size);
    fj_cc_dirty(cc, off, v.h.code_size);
    fj_link_env env = {jit->target, link_sym, link_veneer, jit};
    rc = fj_link_relocate(&env, &v, fj_cc_rw(cc, off), fj_cc_va(cc, off), sites, &nsites);
    if (rc) fj_cc_free(cc, off);
  } else if (!rc) {
    fj_cc_free(cc, off);
    rc = FJ_ECANCELED;
  }
  if (rc) {
    fj_cc_write_end(cc);
    jfree(jit, t->exits, (size_t)t->nexits * sizeof *t->exits);
    jfree(jit, sites, (size_t)v.h.nrelocs * sizeof *sites);
    memset(t, 0, sizeof *t);
    jit->stats.link_failed++;
    return install_fail(jit, rq, "not linked: ", fj_strerror(rc));
  }
  /* Keep only the TRACE sites (the array was sized for every relocation). */
  t->sites = sites;
  t->nsites = v.h.nrelocs;  /* allocation size; the unused tail has pc 0 and linked 0 */
  for (uint32_t k = nsites; k < t->nsites; k++) t->sites[k].pc = UINT32_MAX;
  t->parent_id = rq->parent_id;
  t->parent_exit = rq->parent_exit;
  t->max_depth = rq->max_depth;
  t->code_off = off;
  t->code_size = v.h.code_size;
  t->entry_off = v.h.entry_off;
  t->va = fj_cc_va(cc, off);
  for (uint32_t i = 0; i < t->nexits; i++) {
    fj_blob_exit x = fj_blob_exit_at(&v, i);
    fj_jexit *j = &t->exits[i];
    j->pc = x.pc;
    j->patch_off = x.patch_off;
    j->kind = x.kind;
    j->nframes = x.nframes;
    j->at_exit = vm->x[x.pc].op == FJ_OP_EXIT;  /* blob_check bounded x.pc */
    if (x.patch_off != FJ_BLOB_NO_PATCH) memcpy(j->orig, v.code + x.patch_off, 4);
    /* entries check depth + max_depth, so the entered trace's own exits need no check */
    if (x.nframes > t->max_depth) t->max_depth = (uint16_t)x.nframes;
  }
  t->last_use = ++jit->tick;
  jit->tick_installs++;
  fj_cc_touch(cc, off, t->last_use);
  if (!bridge) jit->pc_trace[t->start_pc] = (uint16_t)(t - jit->traces + 1);
  link_trace(jit, t);
  if (bridge) {
    fj_jexit *px = &parent->exits[rq->parent_exit];
    if (px->patch_off != FJ_BLOB_NO_PATCH &&
        fj_link_exit_patch(jit->target, fj_cc_rw(cc, parent->code_off + px->patch_off),
                           parent->va + px->patch_off, entry_va(t))) {
      fj_cc_dirty(cc, parent->code_off + px->patch_off, 4);
      px->bridge_id = t->id;
      px->state = FJ_EXIT_BRIDGED;
      jit->stats.bridges_installed++;
    }
  }
  fj_cc_write_end(cc);
  if (!bridge && vm->hot && t->start_pc < vm->ninsns) vm->hot[t->start_pc] = 1;
  jit->stats.traces_installed++;
  jit->stats.code_bytes += t->code_size;
  if (jit->stats.code_bytes > jit->stats.code_bytes_peak) jit->stats.code_bytes_peak = jit->stats.code_bytes;
  logl l;
  if (log_begin(jit, &l, t->id, t->kind, t->start_pc)) {
    fj_sb_puts(&l.sb, "installed: ");
    fj_sb_putu(&l.sb, t->code_size);
    fj_sb_puts(&l.sb, " bytes at 0x");
    fj_sb_putx(&l.sb, t->va);
    fj_sb_puts(&l.sb, ", ");
    fj_sb_putu(&l.sb, t->nexits);
    fj_sb_puts(&l.sb, " exits");
    if (bridge) {
      fj_sb_puts(&l.sb, ", patched onto trace ");
      fj_sb_putu(&l.sb, t->parent_id);
      fj_sb_puts(&l.sb, " exit ");
      fj_sb_putu(&l.sb, t->parent_exit);
    }
    log_end(jit, &l);
  }
  return 0;
}

bool fj_jit_exit_link(fj_jit *jit, fj_jtrace *from, uint32_t exit_id, fj_jtrace *to) {
  fj_codecache *cc = &jit->cc;
  fj_jexit *x = &from->exits[exit_id];
  if (x->patch_off == FJ_BLOB_NO_PATCH || x->state != FJ_EXIT_IDLE || fj_cc_write_begin(cc))
    return false;
  bool ok = fj_link_exit_patch(jit->target, fj_cc_rw(cc, from->code_off + x->patch_off),
                               from->va + x->patch_off, entry_va(to));
  if (ok) {
    fj_cc_dirty(cc, from->code_off + x->patch_off, 4);
    x->bridge_id = to->id;  /* evict_trace(to) restores the exit */
    x->state = FJ_EXIT_BRIDGED;
    jit->stats.exits_linked++;
  }
  fj_cc_write_end(cc);
  logl l;
  if (ok && log_begin(jit, &l, from->id, from->kind, from->start_pc)) {
    fj_sb_puts(&l.sb, "exit ");
    fj_sb_putu(&l.sb, exit_id);
    fj_sb_puts(&l.sb, " linked to trace ");
    fj_sb_putu(&l.sb, to->id);
    fj_sb_puts(&l.sb, " at pc ");
    fj_sb_putu(&l.sb, to->start_pc);
    log_end(jit, &l);
  }
  return ok;
}

static void handle_result(fj_jit *jit, const fj_jit_result *res) {
  fj_jreq *r = req_find(jit, res->id);
  if (!res->id || !r) {
    jit->stats.stale_results++;
    return;
  }
  const fj_jreq rq = *r;
  req_drop(jit, r, false);
  const bool bridge = rq.kind == FJ_TRACE_BRIDGE;
  fj_jtrace *parent = bridge ? fj_jit_trace_by_id(jit, rq.parent_id) : NULL;
  if (bridge ? (!parent || parent->exits[rq.parent_exit].state != FJ_EXIT_PENDING)
             : (rq.start_pc >= jit->ninsns || jit->spots[rq.start_pc].state != FJ_SPOT_PENDING)) {
    jit->stats.stale_results++;
    return;
  }
  if (!bridge) jit->spots[rq.start_pc].state = FJ_SPOT_IDLE;
  else parent->exits[rq.parent_exit].state = FJ_EXIT_IDLE;
  if (res->status) {
    jit->stats.compile_failed++;
    logl l;
    if (log_begin(jit, &l, 0, rq.kind, rq.start_pc)) {
      fj_sb_puts(&l.sb, "compile failed: ");
      fj_sb_puts(&l.sb, fj_strerror(res->status));
      if (res->message[0]) {
        fj_sb_puts(&l.sb, ": ");
        fj_sb_puts(&l.sb, res->message);
      }
      log_end(jit, &l);
    }
    /* A server that went away is not the trace's fault. */
    bool counted = res->status != FJ_ECONN && res->status != FJ_ETIMEDOUT && res->status != FJ_EBUSY &&
                   res->status != FJ_ECANCELED;
    attempt_failed(jit, rq.kind, rq.start_pc, rq.parent_id, rq.parent_exit, counted);
    return;
  }
  if (install(jit, &rq, res->blob, res->blob_len))
    attempt_failed(jit, rq.kind, rq.start_pc, rq.parent_id, rq.parent_exit, true);
  else if (!bridge)
    jit->spots[rq.start_pc].fails = 0;
}

/* Clears what a transport may leave unset in a result (every field but the message's tail,
 * which is read only up to its terminator): not the whole 200-byte struct, since this runs at
 * every hot event and usually finds nothing. */
static void result_clear(fj_jit_result *res) {
  res->id = 0;
  res->status = 0;
  res->blob = NULL;
  res->blob_len = 0;
  res->message[0] = 0;
  res->priv = NULL;
}

static int poll_results(fj_jit *jit) {
  int n = 0;
  const fj_jit_transport *tr = &jit->env.transport;
  if (!tr->poll) return 0;
  fj_jit_result res;
  while (result_clear(&res), tr->poll(tr->ud, &res) == 1) {
    uint64_t before = jit->stats.traces_installed;
    if (jit->have_cc && jit->pc_trace) handle_result(jit, &res);
    else jit->stats.stale_results++;
    n += (int)(jit->stats.traces_installed - before);
    if (tr->release) tr->release(tr->ud, &res);
  }
  return n;
}

/* ---- the program the tables describe ----------------------------------------------------- */

static void free_program_tables(fj_jit *jit) {
  jfree(jit, jit->pc_trace, (size_t)jit->ninsns * sizeof *jit->pc_trace);
  jfree(jit, jit->spots, (size_t)jit->ninsns * sizeof *jit->spots);
  jit->pc_trace = NULL;
  jit->spots = NULL;
  jit->ninsns = 0;
}

static void drop_all(fj_jit *jit, bool explicit_) {
  for (uint32_t i = 0; i < jit->cfg.max_traces; i++)
    if (jit->traces[i].id && jit->traces[i].kind != FJ_TRACE_BRIDGE)
      evict_trace(jit, &jit->traces[i], explicit_);
  for (uint32_t i = 0; i < jit->cfg.max_traces; i++)
    if (jit->traces[i].id) evict_trace(jit, &jit->traces[i], explicit_);
  for (uint32_t i = 0; i < jit->cfg.max_inflight; i++)
    if (jit->reqs[i].id) req_drop(jit, &jit->reqs[i], true);
}

/* Tables follow the loaded program; a new program drops every trace and request. */
static bool ensure_program(fj_jit *jit) {
  fj_vm *vm = jit->vm;
  if (jit->pc_trace && vm->load_gen == jit->load_gen) return true;
  drop_all(jit, true);
  free_program_tables(jit);
  if (!vm->code || !vm->ninsns) return false;
  jit->pc_trace = fj_jit_alloc(jit, (size_t)vm->ninsns * sizeof *jit->pc_trace);
  jit->spots = fj_jit_alloc(jit, (size_t)vm->ninsns * sizeof *jit->spots);
  if (!jit->pc_trace || !jit->spots) {
    free_program_tables(jit);
    return false;
  }
  jit->ninsns = vm->ninsns;
  jit->load_gen = vm->load_gen;
  return true;
}

/* ---- the hot hook -------------------------------------------------------------------------- */

static int on_hot(void *ud, fj_vm *vm, fj_exec *ex, uint32_t pc) {
  fj_jit *jit = ud;
  if (FJ_UNLIKELY(!jit->pc_trace || vm->load_gen != jit->load_gen) && !ensure_program(jit))
    return FJ_HOT_CONTINUE;
  jit->stats.hot_events++;
  if (jit->ninflight) poll_results(jit);  /* results come only for requests in flight */
  fj_jtrace *t = fj_jit_trace_at_valid(jit, pc);  /* the interpreter's pc; tables current */
  if (t) {
    if (vm->hot) vm->hot[pc] = 1;  /* arrive here natively every time from now on */
    if ((jit->cfg.flags & FJ_JIT_NO_ENTER) || ex->depth + t->max_depth >= FJ_MAX_CALL_DEPTH)
      return FJ_HOT_CONTINUE;
    return fj_jit_enter(jit, ex, t);
  }
  int rc = fj_jit_spot_hot(jit, ex, pc);
  /* wait_ms: the trace just recorded may be installed already; the recorder left ex at a safe
   * point, so enter whatever starts there now rather than at the next hot event. */
  if (rc == FJ_HOT_RELOAD && jit->cfg.wait_ms && !(jit->cfg.flags & FJ_JIT_NO_ENTER) &&
      (t = trace_at_pc(jit, ex->pc)) && ex->depth + t->max_depth < FJ_MAX_CALL_DEPTH)
    return fj_jit_enter(jit, ex, t);
  return rc;
}

int fj_jit_spot_hot(fj_jit *jit, fj_exec *ex, uint32_t pc) {
  fj_vm *vm = jit->vm;
  if (jit->recording || !jit->env.transport.submit || !jit->have_cc) return FJ_HOT_CONTINUE;
  fj_spot *s = &jit->spots[pc];
  if (s->state == FJ_SPOT_BLACK) {
    if (vm->hot) vm->hot[pc] = 0xffff;
    return FJ_HOT_CONTINUE;
  }
  if (s->state == FJ_SPOT_PENDING || jit->ninflight >= jit->cfg.max_inflight) return FJ_HOT_CONTINUE;
  if (s->skip) {
    s->skip--;
    return FJ_HOT_CONTINUE;
  }
  enum fj_trace_kind kind = (vm->x[pc].flags & FJ_XF_LOOP) ? FJ_TRACE_LOOP : FJ_TRACE_ENTRY;
  const fj_jit_transport *tr = &jit->env.transport;
  if (tr->ready && !tr->ready(tr->ud) &&
      !(jit->cfg.wait_ms && tr->wait && tr->wait(tr->ud, 0, jit->cfg.wait_ms) > 0 && tr->ready(tr->ud))) {
    jit->stats.send_failed++;
    attempt_failed(jit, (uint16_t)kind, pc, 0, 0, false);
    return FJ_HOT_CONTINUE;
  }
  return fj_jit_record(jit, ex, kind, 0, 0);
}

/* ---- public API -------------------------------------------------------------------------- */

int fj_jit_host_target(void) { return fj_arch_target(); }

fj_jit *fj_jit_create(fj_vm *vm, const fj_jit_config *cfg, const fj_jit_env *env, int *err) {
  int dummy;
  if (!err) err = &dummy;
  *err = FJ_EINVAL;
  if (!vm || !env) return NULL;
  fj_allocator mem = vm->pf.mem;
  fj_jit *jit = mem.alloc(mem.ud, sizeof *jit, 16);
  *err = FJ_ENOMEM;
  if (!jit) return NULL;
  memset(jit, 0, sizeof *jit);
  jit->vm = vm;
  jit->mem = mem;
  jit->env = *env;
  if (cfg) jit->cfg = *cfg;
  else jit->cfg.hot_threshold = FJ_HOT_DEFAULT_THRESHOLD;
  fj_jit_config *c = &jit->cfg;
  if (!c->exit_threshold) c->exit_threshold = DEFAULT_EXIT_THRESHOLD;
  if (!c->max_recs || c->max_recs > FJ_TRACE_MAX_RECS) c->max_recs = FJ_TRACE_MAX_RECS;
  if (!c->code_size) c->code_size = DEFAULT_CODE_SIZE;
  if (!c->max_traces) c->max_traces = DEFAULT_MAX_TRACES;
  if (c->max_traces > UINT16_MAX - 1) c->max_traces = UINT16_MAX - 1;
  if (!c->max_inflight) c->max_inflight = DEFAULT_MAX_INFLIGHT;
  if (!c->max_attempts) c->max_attempts = DEFAULT_MAX_ATTEMPTS;
  jit->target = (uint16_t)fj_arch_target();
  jit->traces = fj_jit_alloc(jit, (size_t)c->max_traces * sizeof *jit->traces);
  jit->reqs = fj_jit_alloc(jit, (size_t)c->max_inflight * sizeof *jit->reqs);
  jit->tbuf_cap = fj_trace_size(c->max_recs);
  jit->tbuf = fj_jit_alloc(jit, jit->tbuf_cap);
  if (!jit->traces || !jit->reqs || !jit->tbuf) goto fail;
  if (jit->target != FJ_TARGET_NONE && env->exec.alloc) {
    int rc = fj_cc_init(&jit->cc, &env->exec, &mem, jit->target, c->code_size, ISLAND_SLOTS,
                        c->max_traces);
    if (rc) {
      *err = rc;
      goto fail;
    }
    jit->have_cc = true;
  }
  fj_jit_hooks hooks = {on_hot, jit, c->hot_threshold ? c->hot_threshold : 1};
  int rc = fj_vm_set_jit_hooks(vm, &hooks);
  if (rc) {
    *err = rc;
    goto fail;
  }
  vm->on_call = fj_jit_on_call;
  *err = 0;
  return jit;
fail:
  if (jit->have_cc) fj_cc_fini(&jit->cc);
  jfree(jit, jit->traces, (size_t)c->max_traces * sizeof *jit->traces);
  jfree(jit, jit->reqs, (size_t)c->max_inflight * sizeof *jit->reqs);
  jfree(jit, jit->tbuf, jit->tbuf_cap);
  mem.free(mem.ud, jit, sizeof *jit);
  return NULL;
}

void fj_jit_destroy(fj_jit *jit) {
  if (!jit) return;
  if (jit->vm->hooks.ud == jit) fj_vm_set_jit_hooks(jit->vm, NULL);
  drop_all(jit, true);
  /* results still queued in the transport are released, not installed */
  const fj_jit_transport *tr = &jit->env.transport;
  fj_jit_result res;
  while (tr->poll && (memset(&res, 0, sizeof res), tr->poll(tr->ud, &res) == 1))
    if (tr->release) tr->release(tr->ud, &res);
  free_program_tables(jit);
  if (jit->have_cc) fj_cc_fini(&jit->cc);
  const fj_jit_config *c = &jit->cfg;
  jfree(jit, jit->traces, (size_t)c->max_traces * sizeof *jit->traces);
  jfree(jit, jit->reqs, (size_t)c->max_inflight * sizeof *jit->reqs);
  jfree(jit, jit->tbuf, jit->tbuf_cap);
  fj_allocator mem = jit->mem;
  mem.free(mem.ud, jit, sizeof *jit);
}

int fj_jit_poll(fj_jit *jit) {
  ensure_program(jit);  /* a reload since the last safe point drops every trace */
  return poll_results(jit);
}

int fj_jit_invalidate(fj_jit *jit, uint32_t pc) {
  if (!jit->pc_trace) return 0;
  int n = 0;
  for (uint32_t i = 0; i < jit->cfg.max_traces; i++) {
    fj_jtrace *t = &jit->traces[i];
    if (t->id && t->kind != FJ_TRACE_BRIDGE && (pc == FJ_JIT_ALL || t->start_pc == pc) &&
        evict_trace(jit, t, true))
      n++;
  }
  for (uint32_t i = 0; i < jit->cfg.max_inflight; i++) {
    fj_jreq *r = &jit->reqs[i];
    if (r->id && r->kind != FJ_TRACE_BRIDGE && (pc == FJ_JIT_ALL || r->start_pc == pc)) {
      jit->spots[r->start_pc].state = FJ_SPOT_IDLE;
      req_drop(jit, r, true);
    }
  }
  if (pc == FJ_JIT_ALL) memset(jit->spots, 0, (size_t)jit->ninsns * sizeof *jit->spots);
  else if (pc < jit->ninsns) memset(&jit->spots[pc], 0, sizeof *jit->spots);
  return n;
}

void fj_jit_get_stats(const fj_jit *jit, fj_jit_stats *out) {
  *out = jit->stats;
  out->trace_entries = jit->tick - jit->tick_installs;
  out->exits_taken = out->trace_entries - jit->exits_failed;
}

size_t fj_jit_stats_format(const fj_jit *jit, char *buf, size_t cap) {
  char dummy[1];
  fj_sb sb = cap ? fj_sb_init(buf, cap) : fj_sb_init(dummy, 1);
  fj_jit_stats js;
  fj_jit_get_stats(jit, &js);
  const fj_jit_stats *s = &js;
  fj_vm_stats vs;
  fj_vm_get_stats(jit->vm, &vs);
  fj_sb_puts(&sb, "jit: instructions interpreted ");
  fj_sb_putu(&sb, vs.insns_interp);
  fj_sb_puts(&sb, ", native ");
  fj_sb_putu(&sb, vs.insns_native);
  fj_sb_putc(&sb, '\n');
#define FJ_JIT_STAT_LINE(name, text) \
  fj_sb_puts(&sb, "jit: " #name " ");  \
  fj_sb_putu(&sb, s->name);           \
  fj_sb_putc(&sb, '\n');
  FJ_JIT_STATS(FJ_JIT_STAT_LINE)
#undef FJ_JIT_STAT_LINE
  for (int i = 1; i < FJ_REC_ABORT__COUNT; i++) {
    if (!s->aborted_by[i]) continue;
    fj_sb_puts(&sb, "jit: aborted: ");
    fj_sb_puts(&sb, fj_rec_abort_name(i));
    fj_sb_putc(&sb, ' ');
    fj_sb_putu(&sb, s->aborted_by[i]);
    fj_sb_putc(&sb, '\n');
  }
  for (int i = 1; i < FJ_BLOB_REJECT__COUNT; i++) {
    if (!s->rejected_by[i]) continue;
    fj_sb_puts(&sb, "jit: rejected: ");
    fj_sb_puts(&sb, fj_blob_reject_text(i));
    fj_sb_putc(&sb, ' ');
    fj_sb_putu(&sb, s->rejected_by[i]);
    fj_sb_putc(&sb, '\n');
  }
  for (uint32_t i = 0; i < jit->cfg.max_traces; i++) {
    const fj_jtrace *t = &jit->traces[i];
    if (!t->id) continue;
    fj_sb_puts(&sb, "jit: trace ");
    fj_sb_putu(&sb, t->id);
    fj_sb_putc(&sb, ' ');
    fj_sb_puts(&sb, kind_name(t->kind));
    fj_sb_puts(&sb, " pc ");
    fj_sb_putu(&sb, t->start_pc);
    fj_sb_puts(&sb, ": ");
    fj_sb_putu(&sb, t->code_size);
    fj_sb_puts(&sb, " bytes, ");
    fj_sb_putu(&sb, t->entries);
    fj_sb_puts(&sb, " entries; exits");
    for (uint32_t k = 0; k < t->nexits; k++) {
      const fj_jexit *x = &t->exits[k];
      fj_sb_puts(&sb, k ? ", " : " ");
      fj_sb_putu(&sb, k);
      fj_sb_putc(&sb, ':');
      fj_sb_puts(&sb, exit_name(x->kind));
      fj_sb_putc(&sb, '@');
      fj_sb_putu(&sb, x->pc);
      fj_sb_putc(&sb, 'x');
      fj_sb_putu(&sb, x->taken);
      if (x->bridge_id) {
        fj_sb_puts(&sb, "->");
        fj_sb_putu(&sb, x->bridge_id);
      }
    }
    fj_sb_putc(&sb, '\n');
  }
  return sb.len;
}
