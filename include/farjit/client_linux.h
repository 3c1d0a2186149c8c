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
 * server address a private farjitd is started on a Unix socket in a fresh /tmp directory when
 * the first trace is ready to compile (a program that never gets hot starts no process), dies
 * with its parent (PR_SET_PDEATHSIG), and is stopped (SIGTERM, then SIGKILL after 2 s) by
 * fj_jit_linux_detach(); if it cannot be started the runtime only interprets.  With
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
/* fj_jit_stats_format plus connection counters. */
void fj_jit_linux_print_stats(fj_jit_linux *jl, FILE *f);

#ifdef __cplusplus
}
#endif
#endif /* FARJIT_CLIENT_LINUX_H */
