/* tests/e2e — what the end-to-end tests share: a real farjitd on a private Unix socket (started
 * and torn down by the test), the Linux client runtime attached to a VM with --jit-wait
 * semantics, leak checks (file descriptors, child processes) and "N passed, M failed" counting.
 *
 * Counts: FJ_E2E_SCALE (a percentage; default 100, 25 in the SAN=1 build: tests/e2e/module.mk)
 * scales the random-program counts so the sanitizer build stays fast.  Host code for tests.
 */
#ifndef FJ_TESTS_E2E_UTIL_H
#define FJ_TESTS_E2E_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "farjit/client.h"
#include "farjit/client_linux.h"
#include "farjit/platform_linux.h"
#include "farjit/remote.h"

extern char **environ;

static int e2e_pass, e2e_fail;

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static void e2e_failf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("FAIL: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  e2e_fail++;
}
#define E2E_CHECK(cond, ...) ((cond) ? (void)e2e_pass++ : e2e_failf(__VA_ARGS__))

static inline const char *e2e_build(void) {
  const char *b = getenv("FJ_BUILD");
  return b && *b ? b : "build/rel";
}

static inline int e2e_scale(int n) {
  const char *s = getenv("FJ_E2E_SCALE");
#ifndef FJ_E2E_DEFAULT_SCALE
#define FJ_E2E_DEFAULT_SCALE 100
#endif
  long pct = s ? strtol(s, NULL, 10) : FJ_E2E_DEFAULT_SCALE;
  if (pct <= 0) pct = 100;
  long v = (long)n * pct / 100;
  return v < 1 ? 1 : (int)v;
}

static inline int e2e_count_fds(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  for (struct dirent *e; (e = readdir(d));)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n - 1;  /* the directory's own */
}

static inline void e2e_list_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return;
  for (struct dirent *e; (e = readdir(d));) {
    char p[300], t[256];
    snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
    ssize_t n = readlink(p, t, sizeof t - 1);
    if (n > 0) fprintf(stderr, "  fd %s -> %.*s\n", e->d_name, (int)n, t);
  }
  closedir(d);
}

/* No child process of ours is left (running or zombie). */
static inline bool e2e_no_children(void) {
  return waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD;
}

typedef struct e2e_server {
  pid_t pid;
  char dir[64];
  char addr[128];   /* "unix:/tmp/.../s.sock" */
} e2e_server;

static inline uint64_t e2e_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The address of Unix socket path. */
static inline struct sockaddr_un e2e_unix_sockaddr(const char *path) {
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  return sa;
}

/* A connected stream socket to path, or -1. */
static inline int e2e_unix_connect(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = e2e_unix_sockaddr(path);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
    close(fd);
    fd = -1;
  }
  return fd;
}

/* Can a client connect to path yet? */
static inline bool e2e_unix_up(const char *path) {
  int fd = e2e_unix_connect(path);
  if (fd < 0) return false;
  close(fd);
  return true;
}

/* Start $FJ_BUILD/bin/farjitd on a fresh Unix socket with extra arguments (NULL-terminated
 * list, may be empty) and wait until it accepts.  false if it did not come up in 10 s. */
static inline bool e2e_server_start(e2e_server *s, const char *const *extra) {
  memset(s, 0, sizeof *s);
  snprintf(s->dir, sizeof s->dir, "/tmp/fj-e2e-XXXXXX");
  if (!mkdtemp(s->dir)) return false;
  char path[96], bin[512];
  snprintf(path, sizeof path, "%s/s.sock", s->dir);
  snprintf(s->addr, sizeof s->addr, "unix:%s", path);
  const char *env = getenv("FJ_E2E_FARJITD");  /* another build of the server, for bisecting */
  snprintf(bin, sizeof bin, "%s", env && *env ? env : "");
  if (!bin[0]) snprintf(bin, sizeof bin, "%s/bin/farjitd", e2e_build());
  char *argv[32] = {bin, "--listen", s->addr, "--threads", "1", "--log_level", "error"};
  int n = 7;
  for (; extra && *extra && n < 31; extra++) argv[n++] = (char *)*extra;
  argv[n] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  int rc = posix_spawn(&s->pid, bin, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc) {
    rmdir(s->dir);
    s->pid = 0;
    return false;
  }
  for (uint64_t t0 = e2e_now_ms(); e2e_now_ms() - t0 < 10000;) {
    if (e2e_unix_up(path)) return true;
    if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
      s->pid = 0;
      break;
    }
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return false;
}

/* Stop (SIGTERM, SIGKILL after 5 s) and reap; remove the socket directory. */
static inline void e2e_server_stop(e2e_server *s, int sig) {
  if (s->pid > 0) {
    kill(s->pid, sig);
    int st;
    uint64_t t0 = e2e_now_ms();
    while (waitpid(s->pid, &st, WNOHANG) == 0) {
      if (e2e_now_ms() - t0 > 5000) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &st, 0);
        break;
      }
      struct timespec ts = {0, 2 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    s->pid = 0;
  }
  if (s->dir[0]) {
    char path[96];
    snprintf(path, sizeof path, "%s/s.sock", s->dir);
    unlink(path);
    rmdir(s->dir);
    s->dir[0] = 0;
  }
}

/* The client runtime on vm with servers and wait_ms (and cfg's other fields). */
static inline fj_jit_linux *e2e_attach(fj_vm *vm, const char *servers, fj_jit_config *cfg,
                                const fj_remote_opts *ro) {
  fj_jit_linux_opts o;
  memset(&o, 0, sizeof o);
  o.servers = servers;
  o.no_spawn = servers == NULL;
  o.cfg = cfg;
  o.remote = ro;
  o.trace_log = getenv("FJ_E2E_VERBOSE") ? stderr : NULL;
  char err[256];
  fj_jit_linux *jl = fj_jit_linux_attach(vm, &o, err, sizeof err);
  if (!jl) e2e_failf("attach: %s", err);
  return jl;
}

static inline fj_jit_stats e2e_jstats(fj_jit_linux *jl) {
  fj_jit_stats s;
  fj_jit_get_stats(fj_jit_linux_runtime(jl), &s);
  return s;
}

static inline int e2e_report(const char *what) {
  printf("%s: %d passed, %d failed\n", what, e2e_pass, e2e_fail);
  fflush(stdout);
  return e2e_fail ? 1 : 0;
}

#endif /* FJ_TESTS_E2E_UTIL_H */
