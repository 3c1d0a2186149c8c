/* farjit — the JIT runtime's internal state, shared by jit.c (hot spots, requests, install,
 * eviction, stats) and exit.c (entering machine code and coming back).  Not a public header.
 *
 * Ownership: the runtime owns every fj_jtrace (slots in jit->traces), their exit and link-site
 * arrays, the code cache, the per-pc tables and the recording buffer, all from the VM's
 * allocator.  Trace ids are never reused while the runtime lives, so a stale id (a bridge result
 * for an evicted parent, a result for an invalidated request) never matches a new trace.
 *
 * Active entries: every fj_arch_enter pushes an fj_jentry (on the C stack) onto jit->active.
 * While runtime code runs with entries active, each of them is suspended in a call out of its
 * trace (st->call_ret is live); eviction walks the list to rewrite those return addresses.
 */
#ifndef FJ_CLIENT_JIT_INTERNAL_H
#define FJ_CLIENT_JIT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "client_runtime/codecache.h"
#include "client_runtime/link.h"
#include "client_runtime/record.h"
#include "client_runtime/vm_internal.h"
#include "farjit/client.h"
#include "farjit/jit.h"

enum { FJ_EXIT_IDLE = 0, FJ_EXIT_PENDING = 1, FJ_EXIT_BRIDGED = 2, FJ_EXIT_BLACK = 3 };

typedef struct fj_jexit {
  uint32_t pc;
  uint32_t patch_off;   /* FJ_BLOB_NO_PATCH if none */
  uint16_t kind;        /* enum fj_exit_kind */
  uint16_t nframes;
  uint32_t taken;
  uint32_t bridge_id;   /* installed bridge, 0 if none */
  uint8_t state;        /* FJ_EXIT_* (bridge lifecycle) */
  uint8_t fails;        /* failed bridge attempts (towards the blacklist) */
  uint8_t tries;        /* attempts, for the backoff */
  uint8_t at_exit;      /* its pc is an `exit` instruction (set at install) */
  uint8_t orig[4];      /* the patch field as compiled (restored when the bridge leaves) */
  uint16_t skip;        /* backoff: takes to ignore before trying again */
} fj_jexit;

typedef struct fj_jtrace {
  uint32_t id;          /* 0 = free slot */
  uint32_t start_pc;
  uint16_t kind;        /* enum fj_trace_kind */
  uint16_t max_depth;   /* deepest inlined frame while recording */
  uint32_t parent_id, parent_exit;
  uint32_t code_off, code_size, entry_off;
  uint64_t va;          /* execution address of the code */
  uint32_t nexits, nsites;
  fj_jexit *exits;
  fj_link_site *sites;  /* TRACE relocations: links to other traces */
  uint64_t entries;
  struct fj_jtrace *link_owner;  /* the trace an exit after entering this one last came from,
                                  * through links (a hint, checked against exit_code) */
  uint64_t last_use;    /* jit->tick of the last entry; given to the code cache before it
                         * picks a victim (a store per entry instead of a block search) */
} fj_jtrace;

enum { FJ_SPOT_IDLE = 0, FJ_SPOT_PENDING = 1, FJ_SPOT_BLACK = 2 };
enum { FJ_JIT_OWNER_CACHE = 8 };  /* a power of two */

typedef struct fj_spot {
  uint16_t skip;        /* hot events to ignore (exponential backoff) */
  uint8_t fails;        /* failed attempts (towards the blacklist) */
  uint8_t state;        /* FJ_SPOT_* */
  uint8_t tries;        /* attempts, for the backoff */
  uint8_t no_inline;    /* a function whose loop must not be inlined into traces */
  uint16_t returns;     /* returns the runtime made to this pc since its last hot event */
} fj_spot;
_Static_assert(sizeof(fj_spot) == 8, "fj_spot is one per pc");

typedef struct fj_jreq {
  uint32_t id;          /* 0 = free */
  uint32_t start_pc;
  uint16_t kind, max_depth;
  uint32_t parent_id, parent_exit;
} fj_jreq;

typedef struct fj_jentry {
  struct fj_jentry *prev;
  fj_jit_state *st;
  uint32_t base_depth;  /* interpreter frame the trace was entered in */
  bool deopted;         /* its trace left while the call was live: resume from deopt_* */
  bool nested;          /* a nested run started in a call out of it: counted0 is set */
  bool nested_failed;   /* a nested run stopped the program: its error names its own pc */
  uint8_t unused_;      /* the four flags are cleared with one store */
  uint16_t deopt_nframes;
  uint32_t deopt_pc;
  /* vm insns_interp + insns_native when the first nested run (fj_jit_nested_begin) started:
   * only nested runs count instructions while the trace runs, so the exit subtracts what they
   * counted from the budget used without reading the counters on entries that made no call. */
  uint64_t counted0;
} fj_jentry;

struct fj_jit {
  fj_vm *vm;
  fj_jit_config cfg;
  fj_jit_env env;
  fj_allocator mem;
  uint16_t target;       /* machine code this host runs, FJ_TARGET_NONE: record only */
  bool have_cc;
  fj_codecache cc;

  fj_jtrace *traces;     /* cfg.max_traces slots */
  fj_jreq *reqs;         /* cfg.max_inflight slots */
  uint32_t ninflight;

  /* per pc of the loaded program (reallocated when the program changes) */
  uint32_t load_gen;     /* vm->load_gen of the program the tables were built for */
  uint32_t ninsns;
  uint16_t *pc_trace;    /* slot + 1 of the installed trace starting at pc, 0 if none */
  fj_spot *spots;

  uint8_t *tbuf;         /* recording buffer, fj_trace_size(cfg.max_recs) bytes */
  size_t tbuf_cap;
  bool recording;

  uint32_t next_trace_id, next_req_id;
  /* LRU clock: +1 per trace entry and per install.  stats.trace_entries and stats.exits_taken
   * are not counted on the entry path: fj_jit_get_stats derives them from the clock. */
  uint64_t tick;
  uint64_t tick_installs;  /* ticks taken by installs */
  uint64_t exits_failed;   /* entries that came back through no valid exit */
  fj_jentry *active;
  /* The traces exits through links came from, by a hash of their code address (hints: checked
   * against exit_code before use; a freed slot has id 0). */
  fj_jtrace *owner_cache[FJ_JIT_OWNER_CACHE];
  fj_jit_stats stats;
};

/* ---- jit.c services used by exit.c -------------------------------------------------------- */

/* The installed root trace (LOOP or ENTRY) starting at pc, NULL if none. */
static inline fj_jtrace *fj_jit_trace_at(const fj_jit *jit, uint32_t pc) {
  if (!jit->pc_trace || pc >= jit->ninsns || !jit->pc_trace[pc]) return NULL;
  return &jit->traces[jit->pc_trace[pc] - 1];
}
/* The same for a pc known to be inside the program the tables were built for (an exit's pc,
 * a validated call target) while they are current (machine code ran, or load_gen matched). */
static inline fj_jtrace *fj_jit_trace_at_valid(const fj_jit *jit, uint32_t pc) {
  const uint16_t slot = jit->pc_trace[pc];
  return slot ? &jit->traces[slot - 1] : NULL;
}
fj_jtrace *fj_jit_trace_by_id(fj_jit *jit, uint32_t id);
/* pc (no trace there) got hot: backoff, blacklist, transport checks, then record a root trace
 * from ex.  Returns an FJ_HOT_* or a negative FJ_E*, as fj_jit_record. */
int fj_jit_spot_hot(fj_jit *jit, fj_exec *ex, uint32_t pc);
/* Retarget the side exit from->exits[exit_id] (nframes 0) to the entry of root trace `to` that
 * starts at its pc, as a bridge would be: false if it cannot be patched. */
bool fj_jit_exit_link(fj_jit *jit, fj_jtrace *from, uint32_t exit_id, fj_jtrace *to);
/* Record a bridge from the current exit state (ex at exits[exit_id].pc of parent). */
int fj_jit_record(fj_jit *jit, fj_exec *ex, enum fj_trace_kind kind, uint32_t parent_id,
                  uint32_t parent_exit);

/* ---- exit.c ------------------------------------------------------------------------------ */

/* Enter t with the interpreter state ex (at t->start_pc), come back, rebuild ex at the exit's
 * pc.  Returns an FJ_HOT_* for the interpreter or a negative FJ_E* (the VM holds the message). */
int fj_jit_enter(fj_jit *jit, fj_exec *ex, fj_jtrace *t);
/* Run ex from a function entry (a local call from machine code, a helper's callback): with the
 * function's installed trace if it has one, else in the interpreter (fj_interp_enter).  Returns
 * 0 with the result in ex->r[0], or a negative FJ_E* (vm->stop set). */
int fj_jit_call(fj_jit *jit, fj_exec *ex);
/* vm->on_call (a helper's callback, fj_vm_call): fj_jit_call with ud = the runtime. */
int fj_jit_on_call(void *ud, fj_vm *vm, fj_exec *ex);
/* FJ_RT_CALL_LOCAL: run local function pc in the interpreter on the frame after st's. */
uint64_t fj_jit_rt_call_local(fj_jit_state *st, uint32_t pc);
/* A nested run (interpreter or trace) starts inside a call out of the innermost active trace:
 * the first one takes the instruction counters' snapshot that trace's exit subtracts.  Every
 * nested run out of machine code goes through fj_jit_call or fj_jit_rt_call_local, which call
 * this; nothing else counts instructions while a trace runs. */
static FJ_ALWAYS_INLINE void fj_jit_nested_begin(fj_jit *jit) {
  fj_jentry *e = jit->active;
  if (e && !e->nested) {
    e->nested = true;
    e->counted0 = jit->vm->stats.insns_interp + jit->vm->stats.insns_native;
  }
}
/* Address of runtime entry point rt (enum fj_rt), 0 if unknown. */
uint64_t fj_jit_rt_addr(uint32_t rt);

#endif /* FJ_CLIENT_JIT_INTERNAL_H */
