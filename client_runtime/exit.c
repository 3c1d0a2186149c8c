/* farjit — the boundary between machine code and the interpreter: entering a trace, rebuilding
 * the interpreter state from an exit (registers, inlined frames, pc, budget), side-exit counters
 * and bridge triggering, and the runtime entry points traces call (FJ_RT_*).
 *
 * Exact results: the exit state is the interpreter state at exits[id].pc by contract
 * (farjit/jit.h); stack slots are already in memory.  A call out of the trace that stopped the
 * program (helper error or unwind) leaves through the deopt path, and the hook then reports the
 * stop exactly as the interpreter would have after that call.
 */
#include <string.h>

#include "client_runtime/arch.h"
#include "client_runtime/jit_internal.h"
#include "farjit/blob.h"

/* ---- runtime entry points ------------------------------------------------------------------ */

static uint64_t rt_udiv64(uint64_t a, uint64_t b) { return b ? a / b : 0; }
static uint64_t rt_umod64(uint64_t a, uint64_t b) { return b ? a % b : a; }
static int64_t rt_sdiv64(int64_t a, int64_t b) {
  if (b == 0) return 0;
  if (b == -1) return (int64_t)(0 - (uint64_t)a);  /* INT64_MIN / -1 = INT64_MIN */
  return a / b;
}
static int64_t rt_smod64(int64_t a, int64_t b) {
  if (b == 0) return a;
  if (b == -1) return 0;
  return a % b;
}

/* fj_jit_call, inlined into the local-call path (machine code is running: the per-pc tables
 * are the loaded program's, tables_current).  A function with a trace of its own runs it
 * straight away, as the interpreter's entry hot event would (its counter fires at every entry
 * once a trace is there), without the interpreter's entry, hook and final `exit` around it. */
static FJ_ALWAYS_INLINE int jit_call(fj_jit *jit, fj_exec *ex, bool tables_current) {
  fj_vm *vm = jit->vm;
  fj_jit_nested_begin(jit);
  /* the target is a function entry of the program: fj_vm_call checked a callback's, and
   * blob_check a local call's */
  fj_jtrace *t = (jit->cfg.flags & FJ_JIT_NO_ENTER) ||
                         (!tables_current && (vm->load_gen != jit->load_gen || !jit->pc_trace))
                     ? NULL
                     : fj_jit_trace_at_valid(jit, ex->pc);
  fj_jentry *const caller = jit->active;  /* the trace whose call runs this, if any */
  int rc;
  if (!t || ex->depth + t->max_depth >= FJ_MAX_CALL_DEPTH) {
    rc = fj_interp_enter(vm, ex);
  } else {
    rc = fj_jit_enter(jit, ex, t);
    if (rc == FJ_HOT_DONE) rc = 0;
    else if (rc >= 0) rc = vm->stop ? (vm->err ? vm->err : FJ_EUNWIND) : fj_interp_run(vm, ex);
  }
  /* an error here already names the nested run's pc: the caller's exit must not rename it */
  if (FJ_UNLIKELY(vm->stop) && caller) caller->nested_failed = true;
  return rc;
}

uint64_t fj_jit_rt_call_local(fj_jit_state *st, uint32_t pc) {
  fj_vm *vm = (fj_vm *)(uintptr_t)st->vm;
  fj_jit *jit = vm->hooks.ud;
  fj_exec *ex = vm->cur;
  /* The callee's frame is the one after the trace's innermost inlined frame. */
  const uint32_t saved = ex->depth;
  ex->depth = jit->active->base_depth + st->nframes;
  if (ex->depth + 1 >= FJ_MAX_CALL_DEPTH) {
    /* fail as the interpreter's call instruction would (the CALL exit resumes after it) */
    const fj_jtrace *t = fj_cc_owner_at(&jit->cc, st->exit_code);
    uint32_t call_pc = t && st->call_exit < t->nexits && t->exits[st->call_exit].pc
                           ? t->exits[st->call_exit].pc - 1
                           : pc;
    ex->depth = saved;
    fj_vm_fail_at(vm, call_pc, FJ_EDEPTH, "local call would exceed the call depth limit");
    return 0;
  }
  /* The callee starts exactly as after the interpreter's call instruction: every register as
   * the caller left it (st is synced), r10 at the next frame.  Not fj_vm_call, which clears
   * r0 and r6-r9 as a helper's callback must.  The trace reloads r1-r5 from st afterwards. */
  fj_exec cx;
  fj_regs_copy(cx.r, st->r);
  cx.depth = cx.base = ex->depth + 1;
  cx.r[10] = fj_vm_frame_top(vm, cx.depth);
  cx.pc = pc;
  vm->stats.local_calls++;
  vm->cur = &cx;
  int rc = jit_call(jit, &cx, true);  /* a failure sets vm->stop: FJ_RT_CALL deopts */
  vm->cur = ex;
  ex->depth = saved;
  st->r[1] = cx.r[1];
  st->r[2] = cx.r[2];
  st->r[3] = cx.r[3];
  st->r[4] = cx.r[4];
  st->r[5] = cx.r[5];
  return rc == 0 ? cx.r[0] : 0;
}

uint64_t fj_jit_rt_addr(uint32_t rt) {
  switch (rt) {
  case FJ_RT_CALL: return fj_arch_rt_call();
  case FJ_RT_CALL_LOCAL: return (uint64_t)(uintptr_t)&fj_jit_rt_call_local;
  case FJ_RT_UDIV64: return (uint64_t)(uintptr_t)&rt_udiv64;
  case FJ_RT_UMOD64: return (uint64_t)(uintptr_t)&rt_umod64;
  case FJ_RT_SDIV64: return (uint64_t)(uintptr_t)&rt_sdiv64;
  case FJ_RT_SMOD64: return (uint64_t)(uintptr_t)&rt_smod64;
  default: return 0;
  }
}

/* ---- entering and leaving ------------------------------------------------------------------ */

/* A helper that failed inside machine code named the pc the trace was entered at (the
 * interpreter's pc while the code ran); the interpreter names the call: rewrite the message's
 * "pc N (mnemonic)" prefix for call_pc, keeping the rest. */
static void fix_error_pc(fj_vm *vm, uint32_t call_pc) {
  if (vm->err_pc == (int64_t)call_pc || call_pc >= vm->ninsns) return;
  const char *rest = strstr(vm->errmsg, "): ");
  if (strncmp(vm->errmsg, "pc ", 3) != 0 || !rest) return;
  char tail[FJ_ERRMSG_MAX];
  size_t n = strlen(rest + 1);
  if (n >= sizeof tail) n = sizeof tail - 1;
  memcpy(tail, rest + 1, n);
  tail[n] = 0;
  fj_sb sb = fj_sb_init(vm->errmsg, sizeof vm->errmsg);
  fj_sb_puts(&sb, "pc ");
  fj_sb_putu(&sb, call_pc);
  fj_sb_puts(&sb, " (");
  fj_sb_puts(&sb, fj_op_table[vm->x[call_pc].op].mnem);
  if (vm->x[call_pc].op == FJ_OP_CALL) {
    const char *name = fj_vm_helper_name(vm, (uint32_t)vm->code[call_pc].imm);
    fj_sb_putc(&sb, ' ');
    if (name) fj_sb_puts(&sb, name);
    else fj_sb_putu(&sb, (uint32_t)vm->code[call_pc].imm);
  }
  fj_sb_putc(&sb, ')');
  fj_sb_puts(&sb, tail);
  vm->err_pc = call_pc;
}

/* After a call out of machine code stopped the program (the exit is that call's CALL exit,
 * resuming at call pc + 1): report it exactly as the interpreter does. */
static int stopped(fj_vm *vm, fj_exec *ex, uint64_t r0, uint32_t resume_pc, bool nested_failed) {
  if (vm->err) {
    if (resume_pc > 0 && !nested_failed) fix_error_pc(vm, resume_pc - 1);
    return vm->err;
  }
  if (!vm->unwind_have_r0) {
    vm->unwind_have_r0 = true;
    vm->unwind_r0 = r0;
  }
  ex->r[0] = vm->unwind_r0;
  return FJ_EUNWIND;  /* the interpreter ends the run (nested or not) as for its own unwind */
}

static bool bridge_wanted(fj_jit *jit, fj_jexit *x) {
  if (x->kind != FJ_EXIT_GUARD || x->nframes != 0 || x->state != FJ_EXIT_IDLE ||
      x->patch_off == FJ_BLOB_NO_PATCH ||
      (jit->cfg.flags & FJ_JIT_NO_BRIDGES) || !jit->env.transport.submit || jit->recording ||
      jit->ninflight >= jit->cfg.max_inflight)
    return false;
  if (x->taken < jit->cfg.exit_threshold) return false;
  if (x->pc < jit->vm->ninsns && jit->vm->x[x->pc].op == FJ_OP_EXIT) {
    /* it would only be that `exit` (a trivial trace): never record it */
    x->state = FJ_EXIT_BLACK;
    jit->stats.traces_trivial++;
    return false;
  }
  /* a root trace for this pc is being compiled: link to it later rather than bridge now */
  if (x->pc < jit->ninsns && jit->spots[x->pc].state == FJ_SPOT_PENDING) return false;
  if (x->skip) {
    x->skip--;
    return false;
  }
  const fj_jit_transport *tr = &jit->env.transport;
  return !tr->ready || tr->ready(tr->ud);
}

/* The exit the code reports when it is not the usual one (the entered trace left through a
 * valid exit without a deopt): a deopt, a link into another trace, or a broken blob.  Sets *pc
 * and *nframes; returns the trace that left (NULL after a deopt) or NULL with *bad set. */
static fj_jtrace *odd_exit(fj_jit *jit, fj_jtrace *entered, const fj_jentry *e,
                           const fj_jit_state *st, uint32_t id, uint32_t *pc, uint32_t *nframes,
                           bool *bad) {
  *bad = false;
  if (e->deopted) {
    *pc = e->deopt_pc;
    *nframes = e->deopt_nframes;
    return NULL;
  }
  /* Traces linked to each other tend to leave through the same few again and again: the one
   * this entry's trace led to last time, else the cache by code address, else a search.
   * (entered may have been evicted meanwhile: its slot is zeroed or reused, the hint checked.) */
  fj_jtrace *xt = entered->link_owner;
  if (!xt || !xt->id || xt->va != st->exit_code) {
    const uint64_t va = st->exit_code;
    fj_jtrace **slot = &jit->owner_cache[((va >> 4) ^ (va >> 11)) & (FJ_JIT_OWNER_CACHE - 1)];
    xt = *slot;
    if (!xt || !xt->id || xt->va != va) xt = *slot = fj_cc_owner_at(&jit->cc, va);
    entered->link_owner = xt;
  }
  if (!xt || xt->va != st->exit_code || id >= xt->nexits || id != st->exit_id) {
    *bad = true;
    return NULL;
  }
  *pc = xt->exits[id].pc;
  *nframes = xt->exits[id].nframes;
  return xt;
}

/* Run t once from ex and rebuild ex at the exit.  *xt / *xid name the exit taken (NULL after a
 * deopt), *moved says whether any instruction ran.  Returns FJ_HOT_RELOAD or what the
 * interpreter must report.  Inlined into fj_jit_enter: this is the cost of every entry, so
 * what only matters on rare paths (nested runs' counts, the public entry and exit counters, odd
 * exits) is not done here. */
static FJ_ALWAYS_INLINE int run_trace(fj_jit *jit, fj_exec *ex, fj_jtrace *t, fj_jtrace **xtp,
                                      uint32_t *xid, bool *moved) {
  fj_vm *vm = jit->vm;
  /* The state is ex's own (its r[] is st->r[]): only what farjit/jit.h says the code reads on
   * entry, plus the exit fields zeroed; frames[] is written by the code before the runtime reads
   * it (nframes says how many). */
  fj_jit_state *const st = &ex->js;
  const int64_t b0 = vm->left > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)vm->left;
  st->regions = (uint64_t)(uintptr_t)vm->regions;
  st->vm = (uint64_t)(uintptr_t)vm;
  st->budget = b0;
  st->exit_code = 0;
  st->call_ret = 0;
  st->exit_id = 0;
  st->call_exit = 0;
  st->nframes = 0;
  st->nregions = vm->nregions;

  fj_jentry e;
  e.prev = jit->active;
  e.st = st;
  e.base_depth = ex->depth;
  e.deopted = e.nested = e.nested_failed = false;
  e.unused_ = 0;
  jit->active = &e;
  fj_jtrace *const entered = t;
  t->entries++;
  t->last_use = ++jit->tick;  /* also counts the entry (stats.trace_entries) */
  uint32_t id = fj_arch_enter(st, (const void *)(uintptr_t)(t->va + t->entry_off), &vm->stop,
                              &vm->left);
  jit->active = e.prev;
  t = NULL;  /* may have been evicted by a callback */

  /* Budget: what the code used, minus what nested interpreter runs and traces counted. */
  const int64_t b1 = st->budget < 0 ? 0 : st->budget;
  vm->left = (uint64_t)b1;
  uint64_t used = b0 > b1 ? (uint64_t)(b0 - b1) : 0;
  *moved = used != 0;
  if (FJ_UNLIKELY(e.nested)) {
    const uint64_t nested = vm->stats.insns_interp + vm->stats.insns_native - e.counted0;
    used = used > nested ? used - nested : 0;
  }
  fj_vm_add_native(vm, used);

  /* Usually the trace entered left (no link taken, no deopt); an installed trace owns the
   * block at its va, so this is what fj_cc_owner_at would return.  A slot evicted meanwhile is
   * zeroed (nexits 0); one reused meanwhile names the trace now at the same va. */
  fj_jtrace *xt = entered;
  uint32_t pc, nframes;
  /* An exit of the entered trace needs no checks: blob_check bounded its pc, and the entry
   * checked depth + max_depth, which covers its exits' frames (install). */
  if (FJ_LIKELY(!e.deopted && (uintptr_t)entered->va == (uintptr_t)st->exit_code &&
                id < entered->nexits && id == st->exit_id)) {
    pc = entered->exits[id].pc;
    nframes = entered->exits[id].nframes;
  } else {
    bool bad;
    xt = odd_exit(jit, entered, &e, st, id, &pc, &nframes, &bad);
    if (bad) {
      jit->exits_failed++;
      return fj_vm_fail(vm, FJ_EBADBLOB, "machine code left through an unknown exit");
    }
    if (pc >= vm->ninsns || ex->depth + nframes >= FJ_MAX_CALL_DEPTH) {
      jit->exits_failed++;
      return fj_vm_fail(vm, FJ_EBADBLOB, "machine code exit with a bad pc or too many frames");
    }
  }

  /* ex->r is the exit's registers already */
  for (uint32_t i = 0; i < nframes; i++) {
    fj_frame *f = &ex->frames[ex->depth];
    f->ret_pc = st->frames[i].ret_pc;
    fj_regs_copy4(f->saved, st->frames[i].saved);
    f->fp = st->frames[i].fp;
    ex->depth++;
  }
  ex->pc = pc;
  *xtp = NULL;
  if (FJ_UNLIKELY(vm->stop)) return stopped(vm, ex, ex->r[0], pc, e.nested_failed);
  *xtp = xt;
  *xid = id;
  return FJ_HOT_RELOAD;
}

/* What to do after exit id of xt: link it, bridge it, or count a hot event at its pc. */
static int after_exit(fj_jit *jit, fj_exec *ex, fj_jtrace *xt, uint32_t id) {
  fj_vm *vm = jit->vm;
  fj_jexit *x = &xt->exits[id];
  x->taken++;
  /* CALL and BUDGET exits only count (STOP exits are counted by fj_jit_enter) */
  if (x->kind != FJ_EXIT_GUARD && x->kind != FJ_EXIT_LINK) return FJ_HOT_RELOAD;
  fj_jtrace *to = fj_jit_trace_at_valid(jit, x->pc);
  if (x->nframes != 0) {
    /* A side exit inside inlined frames cannot have a bridge (the frames exist only in the
     * exit state): a root trace recorded from its pc, in the callee's frame, does the same job
     * one entry later (fj_jit_enter enters it right after such exits instead of interpreting
     * the rest of the callee). */
    if (x->kind == FJ_EXIT_GUARD && !to && x->taken >= jit->cfg.exit_threshold &&
        !(jit->cfg.flags & FJ_JIT_NO_BRIDGES) && vm->x[x->pc].op != FJ_OP_EXIT)
      return fj_jit_spot_hot(jit, ex, x->pc);
    return FJ_HOT_RELOAD;
  }
  if (x->kind == FJ_EXIT_GUARD) {
    /* A side exit onto the head of another root trace: patch it there instead of bridging,
     * so bridges never chain back to a loop's start through copies of it.  Never onto its own
     * trace: a guard failing before the first instruction would spin without progress. */
    if (to && to != xt) {
      if (x->taken >= jit->cfg.exit_threshold && !(jit->cfg.flags & FJ_JIT_NO_BRIDGES))
        fj_jit_exit_link(jit, xt, id, to);
      return FJ_HOT_RELOAD;
    }
    if (bridge_wanted(jit, x)) return fj_jit_record(jit, ex, FJ_TRACE_BRIDGE, xt->id, id);
    return FJ_HOT_RELOAD;
  }
  /* A link to a pc nobody compiled yet (e.g. an outer loop's header, whose back edge is inside
   * a bridge): the interpreter never sees that jump, so count it here as its hot event. */
  if (!to && vm->hot && (vm->x[x->pc].flags & FJ_XF_HOT) && --vm->hot[x->pc] == 0) {
    vm->hot[x->pc] = vm->hooks.threshold ? vm->hooks.threshold : 1;
    jit->stats.exit_hot_events++;
    return fj_jit_spot_hot(jit, ex, x->pc);
  }
  return FJ_HOT_RELOAD;
}

/* The exit left ex at `exit` of its run's base frame (a trace of a function ends just before
 * it): execute it here, counted as one interpreted instruction, so the run ends without
 * reloading the interpreter for one dispatch.  Not with the budget spent: the interpreter
 * reports that. */
static bool run_ends(fj_vm *vm, const fj_exec *ex) {
  if (ex->depth != ex->base || vm->x[ex->pc].op != FJ_OP_EXIT || vm->left == 0) return false;
  vm->left--;
  vm->stats.insns_interp++;
  return true;
}

/* The exit left ex at `exit` of a frame above its run's base (a callee's own trace, the callee
 * called from interpreted code): return to the caller here as the interpreter would (one
 * interpreted instruction), so that a trace at the return point can be entered at once. */
static bool frame_returns(fj_vm *vm, fj_exec *ex) {
  if (ex->depth <= ex->base || vm->x[ex->pc].op != FJ_OP_EXIT || vm->left == 0) return false;
  vm->left--;
  vm->stats.insns_interp++;
  ex->depth--;
  const fj_frame *f = &ex->frames[ex->depth];
  fj_regs_copy4(&ex->r[6], f->saved);
  ex->r[10] = f->fp;
  ex->pc = f->ret_pc;
  return true;
}

/* A return point the runtime keeps arriving at without a trace there: every hot-threshold
 * returns count as its hot event (exit_hot_events), so it gets a root trace of its own (the
 * caller's code from there usually runs on into a loop header that has one: a link). */
static int return_point_hot(fj_jit *jit, fj_exec *ex) {
  const uint32_t pc = ex->pc;  /* a frame's ret_pc: machine code may have written it */
  if (pc >= jit->ninsns || fj_jit_trace_at_valid(jit, pc)) return FJ_HOT_RELOAD;
  fj_spot *s = &jit->spots[pc];
  const uint16_t threshold = jit->vm->hooks.threshold ? jit->vm->hooks.threshold : 1;
  if (++s->returns < threshold) return FJ_HOT_RELOAD;
  s->returns = 0;
  jit->stats.exit_hot_events++;
  return fj_jit_spot_hot(jit, ex, pc);
}

int fj_jit_call(fj_jit *jit, fj_exec *ex) { return jit_call(jit, ex, false); }

int fj_jit_on_call(void *ud, fj_vm *vm, fj_exec *ex) {
  (void)vm;
  return jit_call(ud, ex, false);
}

int fj_jit_enter(fj_jit *jit, fj_exec *ex, fj_jtrace *t) {
  fj_vm *vm = jit->vm;
  for (;;) {
    fj_jtrace *xt = NULL;
    uint32_t id = 0;
    bool moved;
    int rc = run_trace(jit, ex, t, &xt, &id, &moved);
    if (rc != FJ_HOT_RELOAD || !xt) return rc;
    fj_jexit *const x = &xt->exits[id];
    const uint16_t kind = x->kind;
    if (kind == FJ_EXIT_STOP) {
      /* the usual end of a function's trace: nothing to link or bridge; onto its `exit`
       * (x->at_exit, install) in the run's base frame it ends the run (run_ends) */
      x->taken++;
      if (x->at_exit && ex->depth == ex->base && vm->left) {
        vm->left--;
        vm->stats.insns_interp++;
        return FJ_HOT_DONE;
      }
    } else {
      /* Machine code ran: ex changed, so "nothing changed" (FJ_HOT_CONTINUE from a hot spot
       * that backs off, is pending or cannot record now) must not reach the interpreter. */
      rc = after_exit(jit, ex, xt, id);
      if (rc == FJ_HOT_CONTINUE) rc = FJ_HOT_RELOAD;
      if (rc != FJ_HOT_RELOAD) return rc;
      if (run_ends(vm, ex)) return FJ_HOT_DONE;
    }
    if (frame_returns(vm, ex)) {
      rc = return_point_hot(jit, ex);
      if (rc == FJ_HOT_CONTINUE) rc = FJ_HOT_RELOAD;
      if (rc != FJ_HOT_RELOAD) return rc;
    }
    /* Landed on the head of another root trace: enter it now instead of interpreting until
     * the next hot event.  Only after progress, never after a budget exit. */
    if (!moved || kind == FJ_EXIT_BUDGET || kind == FJ_EXIT_CALL || vm->stop || !vm->left ||
        (jit->cfg.flags & FJ_JIT_NO_ENTER))
      return FJ_HOT_RELOAD;
    t = fj_jit_trace_at(jit, ex->pc);
    if (!t || ex->depth + t->max_depth >= FJ_MAX_CALL_DEPTH) return FJ_HOT_RELOAD;
    jit->stats.reentries++;
  }
}
