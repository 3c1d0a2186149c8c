/* farjit — the Linux pieces of the client JIT runtime (farjit/client.h), libfj_client_linux.a.
 *
 * Executable memory: fj_jit_linux_exec() gives fj_jit_exec_ops that keep W^X either by flipping
 * one mapping between RW and RX with mprotect (FJ_JIT_EXEC_FLIP) or by mapping the same memfd
 * twice, RW and RX (FJ_JIT_EXEC_DUAL: no flips, for hosts that forbid mprotect to X).
 *
 * The whole client: fj_jit_linux_attach() puts a JIT runtime on a VM with a transport to
 * farjitd: a libuv thread owns the connection (farjit/remote.h); requests and results cross to
 * the interpreter thread through queues that the interpreter never waits on; results are
 * installed at the runtime's safe points.  Several servers (comma-separated) are tried in turn;
 * a lost connection is retried with exponential backoff (20 ms doubling to 5 s), and requests
 * in flight then fail with FJ_ECONN (the program keeps running in the interpreter).  Without a
 * server address a private farjitd is started on a Unix socket in a fresh /tmp directory at the
 * first hot spot (a program that never gets hot starts no process); traces recorded while it
 * starts are queued and sent the moment it answers (its socket is retried every millisecond for
 * up to 5 s while the process lives).  It dies with its parent (PR_SET_PDEATHSIG), and is
 * stopped (SIGTERM, then SIGKILL after 2 s) by fj_jit_linux_detach(); if it cannot be started
 * the runtime only interprets.  With
 * cfg->wait_ms (farjit/client.h; `farjit run --jit-wait MS`) the interpreter thread may block,
 * bounded, for the first connection and for each compile it just sent; a connection wait that
 * timed out is not repeated until a connection succeeds.  Usage, as `farjit run` does it:
 *
 *     fj_jit_linux_opts o = {.servers = "10.0.0.5:7070,10.0.0.6:7070", .trace_log = stderr};
 *     fj_jit_linux *jl = fj_jit_linux_attach(vm, &o, err, sizeof err);   // after fj_vm_create
 *     ... fj_vm_run(vm, ...) as usual ...
 *     if (want_stats) fj_jit_linux_print_stats(jl, stderr);
 *     fj_jit_linux_detach(jl);                                           // before fj_vm_destroy
 */
#ifndef FARJIT_CLIENT_LINUX_H
#define FARJIT_CLIENT_LINUX_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "farjit/client.h"

#ifdef __cplusplus
extern "C" {
#endif

enum fj_jit_exec_mode { FJ_JIT_EXEC_FLIP = 0, FJ_JIT_EXEC_DUAL = 1 };
fj_jit_exec_ops fj_jit_linux_exec(enum fj_jit_exec_mode mode);

struct fj_remote_opts;  /* farjit/remote.h */

typedef struct fj_jit_linux_opts {
  const char *servers;        /* "HOST:PORT,unix:PATH,..."; NULL or "" = embedded farjitd */
  bool no_spawn;              /* with no servers: do not start one (interpret only) */
  const char *farjitd_path;   /* embedded server binary; NULL: $FARJITD, then `farjitd` next to
                                 the running executable, then PATH */
  const struct fj_remote_opts *remote;  /* TLS/PSK settings; address and target are filled in */
  const fj_jit_config *cfg;   /* NULL: defaults (farjit/client.h) */
  FILE *trace_log;            /* one line per trace event and connection change; NULL: none */
  enum fj_jit_exec_mode exec_mode;
  /* Write every trace the runtime sends as DIR/<kind>-<pc>-<n>.trace (kind loop, entry or
   * bridge; n the request id), farjit/trace.h bytes for `farjit compile` and `farjit dump`.
   * NULL: none.  A file that cannot be written is reported on trace_log (or stderr) once. */
  const char *save_traces;
} fj_jit_linux_opts;

typedef struct fj_jit_linux fj_jit_linux;

/* Attach to vm (not running).  NULL with err on a bad configuration or out of memory. */
fj_jit_linux *fj_jit_linux_attach(fj_vm *vm, const fj_jit_linux_opts *o, char *err, size_t errlen);
/* Destroy the runtime, stop the thread and the embedded server.  Before fj_vm_destroy. */
void fj_jit_linux_detach(fj_jit_linux *jl);
fj_jit *fj_jit_linux_runtime(fj_jit_linux *jl);
bool fj_jit_linux_connected(const fj_jit_linux *jl);
/* Poll until connected (for_connection) or until no compile is outstanding and every result has
 * been installed; 0 or FJ_ETIMEDOUT.  For tests and tools, never needed for correctness. */
int fj_jit_linux_wait(fj_jit_linux *jl, bool for_connection, uint32_t timeout_ms);
/* fj_jit_stats_format plus connection counters and fj_jit_linux_get_latency's stages. */
void fj_jit_linux_print_stats(fj_jit_linux *jl, FILE *f);

/* Where the time of a compile goes, on this process's CLOCK_MONOTONIC, per stage of a request
 * answered with a blob (--trace-log prints the same per request):
 *   send     the VM thread submits it (right after recording) -> the runtime thread has written
 *            it to the socket
 *   server   written -> its result read back: both socket hops, the server's queue, the compile
 *   compile  the compile alone, as the server measured it (a part of `server`)
 *   deliver  result read -> taken by the VM thread at its next safe point (a hot event)
 *   install  taken -> validated, relocated, linked and installed (or rejected) by the runtime
 * _(name, description) */
#define FJ_JIT_LINUX_STAGES(_)                                               \
  _(send,    "recorded -> written to the socket")                           \
  _(server,  "written -> result read (socket hops, server queue, compile)") \
  _(compile, "compile time reported by the server")                         \
  _(deliver, "result read -> taken at a safe point")                        \
  _(install, "taken -> installed")

enum fj_jit_linux_stage {
#define FJ_JIT_LINUX_STAGE_ENUM(name, text) FJ_JL_##name,
  FJ_JIT_LINUX_STAGES(FJ_JIT_LINUX_STAGE_ENUM)
#undef FJ_JIT_LINUX_STAGE_ENUM
  FJ_JL__COUNT
};

typedef struct fj_jit_linux_latency {
  uint64_t results;                  /* requests answered with a blob, timed */
  uint64_t first_ns[FJ_JL__COUNT];   /* the first of them */
  uint64_t sum_ns[FJ_JL__COUNT];
  uint64_t max_ns[FJ_JL__COUNT];
  /* first need of a server (attach; embedded farjitd: the first hot spot, which launches it)
   * -> first connection ready (Hello answered); 0 = never connected */
  uint64_t connect_ns;
} fj_jit_linux_latency;

/* On the VM's thread (or while it does not run). */
void fj_jit_linux_get_latency(const fj_jit_linux *jl, fj_jit_linux_latency *out);
const char *fj_jit_linux_stage_name(int stage);

#ifdef __cplusplus
}
#endif
#endif /* FARJIT_CLIENT_LINUX_H */
