/* The way from "hot" to "installed" through the embedded farjitd (fj_jit_linux_opts without a
 * server: the runtime starts its own), asynchronous as in production:
 *
 *   embedded, asynchronous   the first trace is recorded while the server starts and queued for
 *                            its first connection: send_failed == 0 (a refused trace made the
 *                            spot back off before), machine code runs, every request is timed:
 *                            fj_jit_linux_get_latency has a result per blob, connect > 0,
 *                            first <= max <= sum per stage, the server stage contains the
 *                            server's compile time, and --trace-log has one line per request
 *                            and no failed connection attempt while the server started
 *   embedded server dies     a "server" that exits with status 1 as soon as the first trace is
 *                            queued for it (a script that waits for the saved trace, so the order
 *                            is fixed): the trace fails (compile_failed, not blacklisted), the
 *                            runtime interprets,
 *                            the exit is logged, fj_jit_linux_wait(for_connection) and the
 *                            --jit-wait waits return at once instead of timing out
 *   early submit (fj_remote) with early_submit, FJ_REMOTE_LINKED comes once, one request sent
 *                            behind Hello is compiled (a second one is FJ_EBUSY until HelloAck);
 *                            a refused Hello fails it; without the option no LINKED is reported
 *
 * Then file descriptors, threads and child processes must be back to their baseline.
 * Timing numbers are only checked for consistency, never against a bound that load could break
 * (bench/e2e prints the numbers).  Prints "e2e-latency: N passed, M failed". */
#include "tests/e2e/e2e_util.h"

#include "farjit/target.h"
#include "tools/asm.h"

enum { ITERS = 200000 };

static const char *LOOP_SRC =
    "mov %r0, 0\n"
    "mov %r1, 0\n"
    "l:\n"
    "add %r0, %r1\n"
    "xor %r0, 0x55\n"
    "add %r1, 1\n"
    "jlt %r1, 200000, l\n"
    "exit\n";

static uint64_t expected(void) {
  uint64_t r0 = 0;
  for (uint64_t i = 0; i < ITERS; i++) r0 = (r0 + i) ^ 0x55;
  return r0;
}

static fj_vm *loop_vm(void) {
  fj_insn *p = NULL;
  size_t n;
  char err[128];
  if (fj_asm(LOOP_SRC, &p, &n, err, sizeof err)) {
    fprintf(stderr, "asm: %s\n", err);
    exit(1);
  }
  fj_vm *vm = fj_vm_create(fj_platform_linux());
  if (!vm || fj_vm_load(vm, p, n * sizeof *p)) {
    fprintf(stderr, "cannot load the loop program\n");
    exit(1);
  }
  free(p);
  return vm;
}

static int count_threads(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  int n = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "Threads: %d", &n) == 1) break;
  if (f) fclose(f);
  return n;
}

static char trace_dir[64];  /* the traces the runtime sent (--save-traces), for the fj_remote case */

/* The runtime with the embedded server (binary farjitd), trace log into *log. */
static fj_jit_linux *attach_embedded(fj_vm *vm, const char *farjitd, fj_jit_config *c, FILE *log,
                                     const char *save_dir) {
  fj_jit_linux_opts o;
  memset(&o, 0, sizeof o);
  o.farjitd_path = farjitd;
  o.cfg = c;
  o.trace_log = log;
  o.save_traces = save_dir;
  char err[256];
  fj_jit_linux *jl = fj_jit_linux_attach(vm, &o, err, sizeof err);
  if (!jl) e2e_failf("attach: %s", err);
  return jl;
}

static void case_embedded_async(void) {
  char farjitd[600];
  snprintf(farjitd, sizeof farjitd, "%s/bin/farjitd", e2e_build());
  char *logtext = NULL;
  size_t loglen = 0;
  FILE *log = open_memstream(&logtext, &loglen);
  fj_vm *vm = loop_vm();
  fj_jit_config c;
  memset(&c, 0, sizeof c);
  c.hot_threshold = 8;
  fj_jit_linux *jl = attach_embedded(vm, farjitd, &c, log, trace_dir[0] ? trace_dir : NULL);
  if (!jl) {
    fj_vm_destroy(vm);
    fclose(log);
    free(logtext);
    return;
  }
  /* asynchronous: run until machine code ran (bounded: 10 s) */
  uint64_t r0 = 0, native = 0;
  int rc = 0;
  for (uint64_t t0 = e2e_now_ms(); e2e_now_ms() - t0 < 10000 && !native && !rc;) {
    fj_vm_reset_stats(vm);
    rc = fj_vm_run(vm, 0, NULL, 0, &r0);
    fj_vm_stats vs;
    fj_vm_get_stats(vm, &vs);
    native = vs.insns_native;
    if (!native) fj_jit_linux_wait(jl, false, 100);
  }
  E2E_CHECK(rc == 0 && r0 == expected(), "embedded: rc %d r0 %llu, want %llu", rc,
            (unsigned long long)r0, (unsigned long long)expected());
  E2E_CHECK(native > 0, "embedded: no machine code ran within 10 s");
  fj_jit_stats js = e2e_jstats(jl);
  E2E_CHECK(js.send_failed == 0 && js.traces_sent >= 1 && js.traces_installed >= 1,
            "embedded: send_failed %llu (a trace refused while the server started), sent %llu, "
            "installed %llu", (unsigned long long)js.send_failed,
            (unsigned long long)js.traces_sent, (unsigned long long)js.traces_installed);
  fj_jit_linux_latency lat;
  fj_jit_linux_get_latency(jl, &lat);
  E2E_CHECK(lat.results >= 1 && lat.results <= js.traces_sent, "latency: %llu results timed, %llu sent",
            (unsigned long long)lat.results, (unsigned long long)js.traces_sent);
  E2E_CHECK(lat.connect_ns > 0, "latency: no connect time");
  for (int i = 0; i < FJ_JL__COUNT; i++)
    E2E_CHECK(lat.first_ns[i] <= lat.max_ns[i] && lat.max_ns[i] <= lat.sum_ns[i],
              "latency %s: first %llu max %llu sum %llu ns", fj_jit_linux_stage_name(i),
              (unsigned long long)lat.first_ns[i], (unsigned long long)lat.max_ns[i],
              (unsigned long long)lat.sum_ns[i]);
  /* the server's compile happens between our write and our read */
  E2E_CHECK(lat.first_ns[FJ_JL_server] >= lat.first_ns[FJ_JL_compile] && lat.first_ns[FJ_JL_compile] > 0,
            "latency: server stage %llu ns < compile %llu ns", (unsigned long long)lat.first_ns[FJ_JL_server],
            (unsigned long long)lat.first_ns[FJ_JL_compile]);
  E2E_CHECK(strcmp(fj_jit_linux_stage_name(FJ_JL_deliver), "deliver") == 0 &&
                strcmp(fj_jit_linux_stage_name(FJ_JL__COUNT), "?") == 0,
            "stage names");
  fj_jit_linux_detach(jl);
  fj_vm_destroy(vm);
  fclose(log);
  const char *t = logtext ? logtext : "";
  E2E_CHECK(strstr(t, "jit: request 1: send ") && strstr(t, " ms (compile "),
            "no per-request timing line in the trace log:\n%s", t);
  E2E_CHECK(!strstr(t, "jit: server "), "a failed connection attempt was logged while the server started:\n%s", t);
  free(logtext);
}

/* A "server" that exits with status 1 once a trace is saved in <trace_dir>/dies (the runtime
 * saves a trace right after queueing it), or after 10 s.  A server that died before anything
 * was queued would leave nothing to fail: the runtime stops recording once it knows there is
 * no server.  /bin/false raced that way, and CI once caught it. */
static bool dies_script(char *script, size_t n, char *dir, size_t dn) {
  snprintf(dir, dn, "%s/dies", trace_dir);
  snprintf(script, n, "%s/dies-server.sh", trace_dir);
  if (mkdir(dir, 0700)) return false;
  FILE *f = fopen(script, "w");
  if (!f) return false;
  fprintf(f,
          "#!/bin/sh\ni=0\nwhile [ -z \"$(ls '%s')\" ] && [ $i -lt 1000 ]; do\n"
          "  sleep 0.01; i=$((i + 1))\ndone\nexit 1\n",
          dir);
  return fclose(f) == 0 && chmod(script, 0700) == 0;
}

static void rm_dir(const char *dir) {
  DIR *d = opendir(dir);
  for (struct dirent *de; d && (de = readdir(d));) {
    char p[400];
    snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
    if (de->d_name[0] != '.') unlink(p);
  }
  if (d) closedir(d);
  rmdir(dir);
}

static void case_embedded_dies(void) {
  char script[200], dir[200];
  if (!trace_dir[0] || !dies_script(script, sizeof script, dir, sizeof dir)) {
    e2e_failf("server dies: cannot make the script in %s", trace_dir);
    return;
  }
  char *logtext = NULL;
  size_t loglen = 0;
  FILE *log = open_memstream(&logtext, &loglen);
  fj_vm *vm = loop_vm();
  fj_jit_config c;
  memset(&c, 0, sizeof c);
  c.hot_threshold = 8;
  c.wait_ms = 3000;
  fj_jit_linux *jl = attach_embedded(vm, script, &c, log, dir);
  if (!jl) {
    fj_vm_destroy(vm);
    fclose(log);
    free(logtext);
    rm_dir(dir);
    return;
  }
  uint64_t t0 = e2e_now_ms(), r0 = 0;
  int rc = 0;
  for (int i = 0; i < 3 && !rc; i++) rc = fj_vm_run(vm, 0, NULL, 0, &r0);
  int wrc = fj_jit_linux_wait(jl, true, 3000);
  uint64_t ms = e2e_now_ms() - t0;
  E2E_CHECK(rc == 0 && r0 == expected(), "server dies: rc %d r0 %llu", rc, (unsigned long long)r0);
  E2E_CHECK(wrc == FJ_ECONN, "server dies: wait for the connection returned %d, want FJ_ECONN", wrc);
  /* one wait for the queued trace's failure, none of 3000 ms for the connection */
  E2E_CHECK(ms < 2500, "server dies: %llu ms (waits should end when the process ends)", (unsigned long long)ms);
  fj_jit_stats js = e2e_jstats(jl);
  E2E_CHECK(js.traces_installed == 0 && js.blacklisted == 0 && js.traces_sent >= 1 &&
                js.compile_failed >= 1,
            "server dies: installed %llu, blacklisted %llu, sent %llu, compile_failed %llu",
            (unsigned long long)js.traces_installed, (unsigned long long)js.blacklisted,
            (unsigned long long)js.traces_sent, (unsigned long long)js.compile_failed);
  fj_jit_linux_detach(jl);
  fj_vm_destroy(vm);
  fclose(log);
  E2E_CHECK(logtext && strstr(logtext, "embedded farjitd ended (exit status 1)"),
            "server dies: not logged:\n%s", logtext ? logtext : "");
  free(logtext);
  rm_dir(dir);
}

/* ---- fj_remote with early_submit -------------------------------------------------------- */

typedef struct early {
  const uint8_t *trace;
  size_t len;
  int linked, ready, results, submit_rc, busy_rc, result_status, end_status;
  uint64_t result_id;
  bool ready_before_result;
} early;

static void early_state(fj_remote *r, int status, const char *msg, void *ud) {
  (void)msg;
  early *e = ud;
  if (status == FJ_REMOTE_LINKED) {
    e->linked++;
    e->submit_rc = fj_remote_submit(r, 7, e->trace, e->len, FJ_TARGET_X86_64, 0);
    e->busy_rc = fj_remote_submit(r, 8, e->trace, e->len, FJ_TARGET_X86_64, 0);
  } else if (status == 0) {
    e->ready++;
    if (!e->linked) e->submit_rc = fj_remote_submit(r, 7, e->trace, e->len, FJ_TARGET_X86_64, 0);
  } else {
    e->end_status = status;
    fj_remote_close(r);
  }
}

static void early_result(fj_remote *r, const fj_remote_result *res, void *ud) {
  early *e = ud;
  e->results++;
  e->result_id = res->id;
  e->result_status = res->status;
  e->ready_before_result = e->ready > 0;
  if (res->status == 0) fj_remote_close(r);  /* a failure: the state callback follows, closes */
}

static early early_run(const char *addr, bool on, uint32_t version, const uint8_t *trace, size_t len) {
  early e;
  memset(&e, 0, sizeof e);
  e.trace = trace;
  e.len = len;
  e.submit_rc = e.busy_rc = 1;
  fj_remote_opts o;
  memset(&o, 0, sizeof o);
  o.address = addr;
  o.target = FJ_TARGET_X86_64;
  o.early_submit = on;
  o.proto_version = o.proto_min_version = version;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char err[256];
  fj_remote *r = fj_remote_connect(&loop, &o, early_state, early_result, &e, err, sizeof err);
  if (!r) e2e_failf("early: connect: %s", err);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return e;
}

static uint8_t *saved_trace(size_t *len) {
  DIR *d = opendir(trace_dir);
  uint8_t *buf = NULL;
  for (struct dirent *de; d && !buf && (de = readdir(d));) {
    if (strncmp(de->d_name, "loop-", 5) != 0) continue;
    char p[400];
    snprintf(p, sizeof p, "%s/%s", trace_dir, de->d_name);
    FILE *f = fopen(p, "rb");
    if (!f) continue;
    buf = malloc(1 << 20);
    *len = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
  }
  if (d) closedir(d);
  return buf;
}

static void case_early_submit(void) {
  size_t len = 0;
  uint8_t *trace = saved_trace(&len);
  if (!trace || !len) {
    e2e_failf("early: no saved loop trace in %s", trace_dir);
    free(trace);
    return;
  }
  e2e_server srv;
  if (!e2e_server_start(&srv, NULL)) {
    e2e_failf("early: cannot start farjitd");
    e2e_server_stop(&srv, SIGKILL);
    free(trace);
    return;
  }
  early e = early_run(srv.addr, true, 0, trace, len);
  E2E_CHECK(e.linked == 1 && e.submit_rc == 0 && e.busy_rc == FJ_EBUSY,
            "early: linked %d, submit %d, second submit %d (want 1, 0, FJ_EBUSY)", e.linked,
            e.submit_rc, e.busy_rc);
  E2E_CHECK(e.results == 1 && e.result_id == 7 && e.result_status == 0 && e.ready == 1 &&
                e.ready_before_result,
            "early: %d results (id %llu, status %d), ready %d (before the result: %d)", e.results,
            (unsigned long long)e.result_id, e.result_status, e.ready, e.ready_before_result);
  early off = early_run(srv.addr, false, 0, trace, len);
  E2E_CHECK(off.linked == 0 && off.ready == 1 && off.results == 1 && off.result_status == 0,
            "without early_submit: linked %d, ready %d, %d results (status %d)", off.linked,
            off.ready, off.results, off.result_status);
  early bad = early_run(srv.addr, true, 99, trace, len);
  E2E_CHECK(bad.linked == 1 && bad.submit_rc == 0 && bad.ready == 0 && bad.results == 1 &&
                bad.result_status < 0 && bad.end_status < 0,
            "early, Hello refused: linked %d, submit %d, ready %d, %d results (status %d), end %d",
            bad.linked, bad.submit_rc, bad.ready, bad.results, bad.result_status, bad.end_status);
  e2e_server_stop(&srv, SIGTERM);
  free(trace);
}

int main(void) {
  if (fj_jit_host_target() != FJ_TARGET_X86_64) {
    printf("skip: machine code runs on x86-64 hosts only\ne2e-latency: 0 passed, 0 failed\n");
    return 0;
  }
  /* libuv opens a process-wide pipe with the first loop: open it before the baseline */
  fj_vm *warm = loop_vm();
  fj_jit_linux_opts wo;
  memset(&wo, 0, sizeof wo);
  wo.no_spawn = true;
  char err[256];
  fj_jit_linux *wl = fj_jit_linux_attach(warm, &wo, err, sizeof err);
  if (wl) fj_jit_linux_detach(wl);
  fj_vm_destroy(warm);
  const int fds0 = e2e_count_fds(), threads0 = count_threads();
  snprintf(trace_dir, sizeof trace_dir, "/tmp/fj-e2e-lat-XXXXXX");
  if (!mkdtemp(trace_dir)) trace_dir[0] = 0;
  case_embedded_async();
  case_embedded_dies();
  case_early_submit();
  if (trace_dir[0]) rm_dir(trace_dir);  /* the saved traces and their directory */
  const int fds1 = e2e_count_fds(), threads1 = count_threads();
  E2E_CHECK(fds1 == fds0, "file descriptors: %d before, %d after", fds0, fds1);
  if (fds1 != fds0) e2e_list_fds();
  E2E_CHECK(threads1 == threads0, "threads: %d before, %d after", threads0, threads1);
  E2E_CHECK(e2e_no_children(), "a child process is left");
  return e2e_report("e2e-latency");
}
