/* farjit — the client JIT runtime: hot-path recording, remote compilation, linking, running.
 *
 * fj_jit_create() attaches a runtime to one VM.  From then on fj_vm_run() counts loop headers
 * and function entries; a hot one is recorded as a trace (farjit/trace.h) and handed to the
 * transport, which returns a blob (farjit/blob.h) some time later.  The runtime validates and
 * links blobs only at safe points (inside the interpreter's hot hooks, or in fj_jit_poll() while
 * the VM is idle) and enters them the next time the spot is hot.  Nothing waits for the
 * server unless fj_jit_config.wait_ms asks for it (bounded): no transport, a slow or dead server, a rejected blob or a compile error all leave the
 * program running in the interpreter with the same results.
 *
 * The core is freestanding (Cortex-M4 too): executable memory, the transport and the log come
 * from the fj_jit_env the host supplies.  On Linux, farjit/client_linux.h builds that env
 * (mmap W^X memory, a libuv thread talking to farjitd, an embedded server when none is given).
 *
 * Threads: a runtime belongs to its VM's thread.  Only the transport callbacks may be backed by
 * another thread (they must be non-blocking and thread-safe on their side).
 * Errors: negative FJ_E* (farjit/error.h).
 */
#ifndef FARJIT_CLIENT_H
#define FARJIT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "farjit/error.h"
#include "farjit/vm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fj_jit fj_jit;

/* Executable memory.  alloc reserves size bytes (a multiple of 4096) and returns a writable view
 * *rw and the executing view *rx; they are equal unless the host dual-maps.  With rw == rx the
 * memory starts writable and protect(rx, size, writable) flips it between RW and RX (W^X);
 * protect may be NULL when there is no MMU.  flush_icache may be NULL (x86-64). */
typedef struct fj_jit_exec_ops {
  int (*alloc)(void *ud, size_t size, void **rw, void **rx);
  int (*protect)(void *ud, void *rx, size_t size, bool writable);
  void (*free)(void *ud, void *rw, void *rx, size_t size);
  void (*flush_icache)(void *ud, void *rx, size_t size);
  void *ud;
} fj_jit_exec_ops;

/* A compile request: the transport copies what it needs before submit returns. */
typedef struct fj_jit_request {
  uint32_t id;             /* the runtime's id, never 0, unique per runtime */
  uint16_t target;         /* enum fj_target */
  uint16_t kind;           /* enum fj_trace_kind */
  uint32_t start_pc;
  uint32_t parent_id;      /* bridges: the parent's trace id and exit */
  uint32_t parent_exit;
  const uint8_t *trace;
  size_t trace_len;
} fj_jit_request;

typedef struct fj_jit_result {
  uint32_t id;             /* the request's id */
  int status;              /* 0 or a negative FJ_E* (FJ_ECOMPILE, FJ_ECONN, FJ_ETIMEDOUT...) */
  const uint8_t *blob;     /* status 0: the blob, valid until release */
  size_t blob_len;
  char message[160];       /* why, when status != 0 */
  void *priv;              /* the transport's */
} fj_jit_result;

/* How traces reach a compiler.  Every call must return at once. */
typedef struct fj_jit_transport {
  /* Queue req.  0, FJ_EBUSY (too many in flight: try later) or FJ_ECONN (no server now). */
  int (*submit)(void *ud, const fj_jit_request *req);
  /* One finished request: 1 with *res filled, 0 if none is ready. */
  int (*poll)(void *ud, fj_jit_result *res);
  /* Done with a result from poll. */
  void (*release)(void *ud, fj_jit_result *res);
  /* The runtime no longer wants id (may be NULL). */
  void (*cancel)(void *ud, uint32_t id);
  /* Could a request be sent now (connected)?  Asked before recording, so that no trace is
   * recorded for nothing while the server is away.  NULL: always. */
  bool (*ready)(void *ud);
  /* Block until the result of request id can be polled (id 0: until ready() would be true), or
   * until timeout_ms passed: 1 or 0.  Only used with fj_jit_config.wait_ms; NULL: never wait.
   * May return 0 at once when waiting is hopeless (no server process, connection refused). */
  int (*wait)(void *ud, uint32_t id, uint32_t timeout_ms);
  void *ud;
} fj_jit_transport;

enum {
  FJ_JIT_NO_BRIDGES = 1u << 0,   /* never record bridges from hot side exits */
  FJ_JIT_NO_ENTER = 1u << 1,     /* record and compile, but never run machine code */
};

/* Memory: a recording buffer of 48 + 20 * max_recs bytes, about 100 bytes per trace slot plus
 * its exits, and code_size bytes of executable memory.  The defaults suit Linux; a Cortex-M
 * host sets max_recs (e.g. 256), max_traces (16) and code_size (16 KiB) to fit its RAM. */
typedef struct fj_jit_config {
  uint16_t hot_threshold;   /* hot events before a spot is recorded; 0 = on first sight */
  uint16_t exit_threshold;  /* side exits taken before a bridge is recorded; 0 = 16 */
  uint32_t max_recs;        /* longer traces abort; 0 = FJ_TRACE_MAX_RECS */
  uint32_t code_size;       /* executable memory in bytes; 0 = 1 MiB */
  uint32_t max_traces;      /* installed traces; 0 = 256 */
  uint32_t max_inflight;    /* compile requests outstanding; 0 = 8 */
  uint16_t max_attempts;    /* failed attempts before a spot is blacklisted; 0 = 4 */
  uint16_t flags;           /* FJ_JIT_* */
  /* Deterministic compiles (tests, short runs): 0 = asynchronous (default).  Otherwise a hot
   * spot whose trace was just sent waits up to wait_ms for its result (transport.wait), installs
   * it and enters it at once; so does a spot waiting for the first connection.  A timeout only
   * means interpreting on; results never depend on it. */
  uint32_t wait_ms;
} fj_jit_config;

typedef struct fj_jit_env {
  fj_jit_exec_ops exec;
  fj_jit_transport transport;  /* submit == NULL: no compiler; the runtime only interprets */
  /* One line per trace life event (recorded, sent, installed, rejected, exit hot, evicted...),
   * without the newline.  NULL: no log. */
  void (*log)(void *ud, const char *line, size_t len);
  void *log_ud;
} fj_jit_env;

/* _(name, description) — counters of fj_jit_stats, in order. */
#define FJ_JIT_STATS(_)                                                      \
  _(hot_events,        "hot counters that fired")                            \
  _(traces_recorded,   "traces recorded (bridges included)")                 \
  _(traces_aborted,    "recordings aborted")                                 \
  _(traces_sent,       "compile requests sent")                              \
  _(send_failed,       "compile requests the transport refused")             \
  _(compile_failed,    "compile results with an error")                      \
  _(traces_rejected,   "blobs rejected by validation")                       \
  _(link_failed,       "blobs that could not be linked")                     \
  _(traces_installed,  "traces installed (bridges included)")                \
  _(bridges_recorded,  "bridges recorded from hot side exits")               \
  _(bridges_installed, "bridges patched onto their parent's exit")           \
  _(links_patched,     "trace-to-trace links patched")                       \
  _(trace_entries,     "entries into machine code")                          \
  _(exits_taken,       "exits back to the interpreter")                      \
  _(evictions,         "traces evicted from the code cache")                 \
  _(invalidations,     "traces invalidated explicitly")                      \
  _(deopts,            "live calls whose return address was rewritten")      \
  _(blacklisted,       "spots blacklisted after repeated failures")          \
  _(stale_results,     "results for requests no longer wanted")              \
  _(wait_timeouts,     "--jit-wait: results not back in time (interpreted on)") \
  _(traces_trivial,    "traces doing no work (only an exit) not sent; spot blacklisted") \
  _(exits_linked,      "side exits patched straight onto the trace at their pc") \
  _(exit_hot_events,   "hot events counted by exits into a pc without a trace") \
  _(reentries,         "exits that landed on a trace head and entered it at once") \
  _(code_bytes,        "bytes of machine code installed now")                \
  _(code_bytes_peak,   "most bytes of machine code installed at once")

enum { FJ_JIT_ABORT_REASONS_MAX = 8, FJ_JIT_REJECT_REASONS_MAX = 24 };

typedef struct fj_jit_stats {
#define FJ_JIT_STAT_FIELD(name, text) uint64_t name;
  FJ_JIT_STATS(FJ_JIT_STAT_FIELD)
#undef FJ_JIT_STAT_FIELD
  uint64_t aborted_by[FJ_JIT_ABORT_REASONS_MAX];    /* per recorder abort reason */
  uint64_t rejected_by[FJ_JIT_REJECT_REASONS_MAX];  /* per blob rejection reason */
} fj_jit_stats;

/* Attach a runtime to vm (installs the VM's JIT hooks).  cfg may be NULL (defaults).  The
 * runtime keeps pointers to vm and copies *env.  Returns NULL and *err on failure. */
fj_jit *fj_jit_create(fj_vm *vm, const fj_jit_config *cfg, const fj_jit_env *env, int *err);
/* Detach from the VM and free everything (cancels outstanding requests).  Not while running. */
void fj_jit_destroy(fj_jit *jit);

/* Install finished compiles now (the VM must be idle, or this is called from a helper: a safe
 * point).  Returns the number of traces installed. */
int fj_jit_poll(fj_jit *jit);
/* Compile requests sent and not answered yet. */
uint32_t fj_jit_pending(const fj_jit *jit);
/* Is a trace installed for start pc? */
bool fj_jit_has_trace(const fj_jit *jit, uint32_t pc);
/* Remove every trace starting at pc (FJ_JIT_ALL: all traces) and forget pending requests for
 * it; live calls out of removed code return through the deopt path.  Safe inside helpers.
 * Returns the number removed. */
#define FJ_JIT_ALL 0xffffffffu
int fj_jit_invalidate(fj_jit *jit, uint32_t pc);

void fj_jit_get_stats(const fj_jit *jit, fj_jit_stats *out);
/* Text report: the counters, abort and rejection reasons, then one line per installed trace
 * with its exits' counters.  Returns the length it wanted (output truncated to cap - 1). */
size_t fj_jit_stats_format(const fj_jit *jit, char *buf, size_t cap);

/* The target this build runs machine code for (FJ_TARGET_NONE: the runtime only records). */
int fj_jit_host_target(void);

#ifdef __cplusplus
}
#endif
#endif /* FARJIT_CLIENT_H */
