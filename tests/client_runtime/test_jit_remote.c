/* End to end with a real farjitd: the Linux client runtime (fj_jit_linux_attach) with an
 * embedded server, with failover from a dead address, with no server at all, and with a server
 * killed and restarted.  Results must always equal the interpreter's; machine code must run
 * once a server answers.  Waits poll with generous limits (never decide on timing). */
#include "tests/client_runtime/vm_test_util.h"

#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "farjit/client.h"
#include "farjit/client_linux.h"
#include "farjit/remote.h"
#include "farjit/target.h"
#include "tools/asm.h"

extern char **environ;

static char farjitd[512];

static const char *SUM_SRC =
    "mov %r0, 0\nmov %r1, 0\nl:\nadd %r0, %r1\nadd %r1, 1\njlt %r1, 5000, l\nexit\n";

static int group_setup(void **state) {
  (void)state;
  const char *b = getenv("FJ_BUILD");
  snprintf(farjitd, sizeof farjitd, "%s/bin/farjitd", b ? b : "build/rel");
  return 0;
}

static bool have_server(void) {
  if (access(farjitd, X_OK) == 0) return true;
  fprintf(stderr, "skip: %s not built\n", farjitd);
  return false;
}

static fj_vm *sum_vm(void) {
  fj_insn *p = NULL;
  size_t n;
  char err[128];
  if (fj_asm(SUM_SRC, &p, &n, err, sizeof err)) fail_msg("asm: %s", err);
  fj_vm *vm = tu_vm();
  tu_load(vm, p, n);
  free(p);
  return vm;
}

static uint64_t run(fj_vm *vm) {
  uint64_t r0 = 0;
  assert_int_equal(fj_vm_run(vm, 0, NULL, 0, &r0), 0);
  return r0;
}

static const uint64_t SUM = 5000ull * 4999 / 2;

static pid_t start_farjitd(const char *addr) {
  pid_t pid;
  char *argv[] = {farjitd, "--listen", (char *)addr, "--threads", "1", "--log_level", "error", NULL};
  assert_int_equal(posix_spawn(&pid, farjitd, NULL, NULL, argv, environ), 0);
  return pid;
}

static void stop_farjitd(pid_t pid, int sig) {
  kill(pid, sig);
  int st;
  waitpid(pid, &st, 0);
}

/* A farjitd listening on s.sock in a fresh temporary directory; tmp_srv_close stops it and
 * removes both. */
typedef struct tmp_srv {
  char dir[32];
  char addr[128];
  pid_t pid;
} tmp_srv;

static void tmp_srv_open(tmp_srv *s) {
  snprintf(s->dir, sizeof s->dir, "/tmp/fjtest-XXXXXX");
  assert_non_null(mkdtemp(s->dir));
  snprintf(s->addr, sizeof s->addr, "unix:%s/s.sock", s->dir);
  s->pid = start_farjitd(s->addr);
}

static void tmp_srv_close(tmp_srv *s) {
  stop_farjitd(s->pid, SIGTERM);
  char p[160];
  snprintf(p, sizeof p, "%s/s.sock", s->dir);
  unlink(p);
  rmdir(s->dir);
}

/* The runtime's trace log, kept in memory for assertions (text is NUL-terminated once closed). */
typedef struct mem_log {
  char *text;
  size_t len;
  FILE *f;
} mem_log;

static void mem_log_open(mem_log *l) {
  l->text = NULL;
  l->len = 0;
  l->f = open_memstream(&l->text, &l->len);
  assert_non_null(l->f);
}

static fj_jit_config cfg(void) {
  fj_jit_config c;
  memset(&c, 0, sizeof c);
  c.hot_threshold = 2;
  return c;
}

static void test_embedded_server(void **state) {
  (void)state;
  if (fj_jit_host_target() != FJ_TARGET_X86_64 || !have_server()) skip();
  mem_log log;
  mem_log_open(&log);
  fj_vm *vm = sum_vm();
  fj_jit_config c = cfg();
  fj_jit_linux_opts o = {.farjitd_path = farjitd, .cfg = &c, .trace_log = log.f};
  char err[256];
  fj_jit_linux *jl = fj_jit_linux_attach(vm, &o, err, sizeof err);
  if (!jl) fail_msg("attach: %s", err);
  assert_int_equal(fj_jit_linux_wait(jl, true, 20000), 0);
  assert_int_equal(run(vm), SUM);           /* records and sends */
  assert_int_equal(fj_jit_linux_wait(jl, false, 20000), 0);
  fj_vm_reset_stats(vm);
  assert_int_equal(run(vm), SUM);           /* runs machine code */
  fj_vm_stats vs;
  fj_vm_get_stats(vm, &vs);
  fj_jit_stats s;
  fj_jit_get_stats(fj_jit_linux_runtime(jl), &s);
  assert_true(s.traces_installed >= 1);
  assert_true(vs.insns_native > 10000);
  assert_int_equal(vs.insns_interp + vs.insns_native, 2 + 3 * 5000 + 1);
  fj_jit_linux_detach(jl);
  fj_vm_destroy(vm);
  fclose(log.f);
  /* the embedded server was stopped and its socket directory removed */
  const char *at = strstr(log.text, "on unix:");
  assert_non_null(at);
  char dir[128];
  assert_int_equal(sscanf(at, "on unix:%127[^ \n]", dir), 1);
  *strrchr(dir, '/') = 0;
  struct stat sb;
  assert_int_not_equal(stat(dir, &sb), 0);
  assert_contains(log.text, "connected to unix:");
  assert_contains(log.text, "installed:");
  free(log.text);
}

/* A program that never gets hot starts no server process. */
static void test_embedded_lazy(void **state) {
  (void)state;
  if (fj_jit_host_target() != FJ_TARGET_X86_64 || !have_server()) skip();
  mem_log log;
  mem_log_open(&log);
  fj_insn *p = NULL;
  size_t n;
  char err[256];
  assert_int_equal(fj_asm("mov %r0, 7\nexit\n", &p, &n, err, sizeof err), 0);
  fj_vm *vm = tu_vm();
  tu_load(vm, p, n);
  fj_jit_linux_opts o = {.farjitd_path = farjitd, .trace_log = log.f};
  fj_jit_linux *jl = fj_jit_linux_attach(vm, &o, err, sizeof err);
  assert_non_null(jl);
  for (int i = 0; i < 10; i++) assert_int_equal(run(vm), 7);  /* below the default threshold */
  fj_jit_linux_detach(jl);
  fj_vm_destroy(vm);
  free(p);
  fclose(log.f);
  assert_null(strstr(log.text ? log.text : "", "started embedded"));
  free(log.text);
}

static void test_failover_and_restart(void **state) {
  (void)state;
  if (fj_jit_host_target() != FJ_TARGET_X86_64 || !have_server()) skip();
  tmp_srv srv;
  tmp_srv_open(&srv);
  char servers[300];
  snprintf(servers, sizeof servers, "unix:%s/nobody.sock,%s", srv.dir, srv.addr);
  fj_vm *vm = sum_vm();
  fj_jit_config c = cfg();
  fj_jit_linux_opts o = {.servers = servers, .cfg = &c};
  char err[256];
  fj_jit_linux *jl = fj_jit_linux_attach(vm, &o, err, sizeof err);
  if (!jl) fail_msg("attach: %s", err);
  /* the first address is dead: the runtime fails over to the second */
  assert_int_equal(fj_jit_linux_wait(jl, true, 20000), 0);
  assert_int_equal(run(vm), SUM);
  assert_int_equal(fj_jit_linux_wait(jl, false, 20000), 0);
  assert_true(fj_jit_has_trace(fj_jit_linux_runtime(jl), 2));

  /* server killed: everything keeps working in the interpreter */
  stop_farjitd(srv.pid, SIGKILL);
  fj_jit_invalidate(fj_jit_linux_runtime(jl), FJ_JIT_ALL);
  for (int i = 0; i < 20 && fj_jit_linux_connected(jl); i++) {
    assert_int_equal(run(vm), SUM);
    usleep(10000);
  }
  for (int i = 0; i < 5; i++) assert_int_equal(run(vm), SUM);

  /* back on the same address: the runtime reconnects and compiles again */
  srv.pid = start_farjitd(srv.addr);
  assert_int_equal(fj_jit_linux_wait(jl, true, 30000), 0);
  fj_jit *jit = fj_jit_linux_runtime(jl);
  for (int i = 0; i < 2000 && !fj_jit_has_trace(jit, 2); i++) {
    assert_int_equal(run(vm), SUM);
    fj_jit_linux_wait(jl, false, 50);
  }
  assert_true(fj_jit_has_trace(jit, 2));
  fj_vm_reset_stats(vm);
  assert_int_equal(run(vm), SUM);
  fj_vm_stats vs;
  fj_vm_get_stats(vm, &vs);
  assert_true(vs.insns_native > 0);
  fj_jit_linux_detach(jl);
  fj_vm_destroy(vm);
  tmp_srv_close(&srv);
}

/* A server speaking another protocol version: refused at Hello, the program runs unchanged. */
static void test_version_mismatch(void **state) {
  (void)state;
  if (fj_jit_host_target() != FJ_TARGET_X86_64 || !have_server()) skip();
  tmp_srv srv;
  tmp_srv_open(&srv);
  mem_log log;
  mem_log_open(&log);
  fj_remote_opts ro;
  memset(&ro, 0, sizeof ro);
  ro.proto_version = 99;
  ro.proto_min_version = 99;
  fj_vm *vm = sum_vm();
  fj_jit_config c = cfg();
  fj_jit_linux_opts o = {.servers = srv.addr, .cfg = &c, .remote = &ro, .trace_log = log.f};
  char err[256];
  fj_jit_linux *jl = fj_jit_linux_attach(vm, &o, err, sizeof err);
  assert_non_null(jl);
  for (int i = 0; i < 200; i++) {
    assert_int_equal(run(vm), SUM);
    usleep(1000);
  }
  fj_jit_stats s;
  fj_jit_get_stats(fj_jit_linux_runtime(jl), &s);
  assert_int_equal(s.traces_installed, 0);
  assert_false(fj_jit_linux_connected(jl));
  fj_jit_linux_detach(jl);
  fj_vm_destroy(vm);
  fclose(log.f);
  assert_contains(log.text, "jit: server unix:");
  free(log.text);
  tmp_srv_close(&srv);
}

static void test_no_server(void **state) {
  (void)state;
  fj_vm *vm = sum_vm();
  fj_jit_config c = cfg();
  fj_jit_linux_opts o = {.servers = "unix:/nonexistent-farjit/x.sock", .cfg = &c};
  char err[256];
  fj_jit_linux *jl = fj_jit_linux_attach(vm, &o, err, sizeof err);
  if (!jl) fail_msg("attach: %s", err);
  for (int i = 0; i < 10; i++) assert_int_equal(run(vm), SUM);
  fj_jit_stats s;
  fj_jit_get_stats(fj_jit_linux_runtime(jl), &s);
  assert_int_equal(s.traces_installed, 0);
  assert_int_equal(s.blacklisted, 0);
  fj_jit_linux_detach(jl);
  /* no server and no embedded one: interprets */
  fj_jit_linux_opts o2 = {.no_spawn = true, .cfg = &c};
  jl = fj_jit_linux_attach(vm, &o2, err, sizeof err);
  assert_non_null(jl);
  assert_int_equal(run(vm), SUM);
  fj_jit_linux_detach(jl);
  fj_vm_destroy(vm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_embedded_server),
      cmocka_unit_test(test_embedded_lazy),
      cmocka_unit_test(test_failover_and_restart),
      cmocka_unit_test(test_version_mismatch),
      cmocka_unit_test(test_no_server),
  };
  return cmocka_run_group_tests(tests, group_setup, NULL);
}
