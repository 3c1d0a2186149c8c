/* tests/server: helpers for the farjitd end-to-end tests (see harness.h). */
#include "tests/server/harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "farjit/trace.h"
#include "proto/abi.h"
#include "proto/frame.h"

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  if (b) b[fread(b, 1, (size_t)n, f)] = 0;
  fclose(f);
  return b;
}

static void farjitd_path(char *out, size_t n) {
  char self[512];
  ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
  self[k > 0 ? k : 0] = 0;
  char *slash = strrchr(self, '/');
  if (slash) *slash = 0;
  snprintf(out, n, "%s/../bin/farjitd", self);
}

static void grab(const char *log, const char *prefix, char *out, size_t n) {
  const char *p = strstr(log, prefix);
  out[0] = 0;
  if (!p) return;
  p += strlen(prefix);
  size_t i = 0;
  while (p[i] && p[i] != ' ' && p[i] != '\n' && i + 1 < n) {
    out[i] = p[i];
    i++;
  }
  out[i] = 0;
}

/* Servers started and not yet stopped: a failed assertion longjmps past srv_stop. */
static pid_t live[64];

static void live_set(pid_t old, pid_t pid) {
  for (int i = 0; i < 64; i++) {
    if (live[i] == old) {
      live[i] = pid;
      return;
    }
  }
}

int srv_kill_leftovers(void) {
  int n = 0;
  for (int i = 0; i < 64; i++) {
    if (live[i] > 0) {
      kill(live[i], SIGKILL);
      waitpid(live[i], NULL, 0);
      live[i] = 0;
      n++;
    }
  }
  return n;
}

int srv_start(srv *s, const char *const *args) {
  static int seq;
  memset(s, 0, sizeof *s);
  snprintf(s->log, sizeof s->log, "/tmp/fj_test_srv.%d.%d.log", (int)getpid(), seq++);
  char exe[600];
  farjitd_path(exe, sizeof exe);
  const char *argv[64];
  int n = 0;
  argv[n++] = exe;
  for (int i = 0; args[i] && n < 62; i++) argv[n++] = args[i];
  argv[n] = NULL;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  /* never outlive the test, whatever happens to it */
    int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    int nul = open("/dev/null", O_RDWR);
    dup2(nul, 0);
    dup2(nul, 1);
    for (int i = 3; i < 1024; i++) close(i);
    execv(exe, (char *const *)argv);
    _exit(127);
  }
  s->pid = pid;
  live_set(0, pid);
  for (int i = 0; i < 500; i++) {
    char *log = slurp(s->log);
    int done = log && strstr(log, "event=start") != NULL;
    int died = log && strstr(log, "event=exit") != NULL;
    if (done) {
      grab(log, "addr=tcp://127.0.0.1:", s->tcp + 10, sizeof s->tcp - 10);
      if (s->tcp[10]) memcpy(s->tcp, "127.0.0.1:", 10); else s->tcp[0] = 0;
      grab(log, "addr=tls://127.0.0.1:", s->tls + 10, sizeof s->tls - 10);
      if (s->tls[10]) memcpy(s->tls, "127.0.0.1:", 10); else s->tls[0] = 0;
      grab(log, "addr=tcp://[::1]:", s->tcp6 + 6, sizeof s->tcp6 - 6);
      if (s->tcp6[6]) memcpy(s->tcp6, "[::1]:", 6); else s->tcp6[0] = 0;
      grab(log, "addr=http://", s->http, sizeof s->http);
      grab(log, "addr=unix:", s->unix_path, sizeof s->unix_path);
    }
    free(log);
    if (done) return 0;
    if (died || waitpid(pid, NULL, WNOHANG) == pid) {
      if (died) waitpid(pid, NULL, 0);
      unlink(s->log);
      live_set(pid, 0);
      s->pid = 0;
      return -1;
    }
    sleep_ms(10);
  }
  return -1;
}

int srv_signal(srv *s, int sig) { return kill(s->pid, sig); }

int srv_stop(srv *s) {
  if (!s->pid) return -1;
  kill(s->pid, SIGTERM);
  int status = -1;
  for (int i = 0; i < 1000; i++) {
    if (waitpid(s->pid, &status, WNOHANG) == s->pid) break;
    sleep_ms(10);
    if (i == 999) {
      kill(s->pid, SIGKILL);
      waitpid(s->pid, &status, 0);
      fprintf(stderr, "farjitd %d did not exit after SIGTERM\n", (int)s->pid);
    }
  }
  live_set(s->pid, 0);
  s->pid = 0;
  int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
              srv_log_has(s, "event=exit status=0") && !srv_log_has(s, "handles left open");
  if (!clean) {
    char *log = slurp(s->log);
    fprintf(stderr, "farjitd exit status %d; log:\n%s\n", status, log ? log : "(none)");
    free(log);
  } else {
    unlink(s->log);
  }
  return clean ? 0 : -1;
}

int srv_nfds(const srv *s) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd", (int)s->pid);
  DIR *d = opendir(path);
  if (!d) return -1;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

long srv_rss_kb(const srv *s) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", (int)s->pid);
  char *st = slurp(path);
  long kb = -1;
  const char *p = st ? strstr(st, "VmRSS:") : NULL;
  if (p) kb = strtol(p + 6, NULL, 10);
  free(st);
  return kb;
}

bool srv_log_has(const srv *s, const char *needle) {
  char *log = slurp(s->log);
  bool r = log && strstr(log, needle);
  free(log);
  return r;
}

bool srv_log_wait(const srv *s, const char *needle) {
  for (int i = 0; i < 500; i++) {  /* 5 s: CI machines can be slow and loaded */
    if (srv_log_has(s, needle)) return true;
    sleep_ms(10);
  }
  return false;
}

int count_own_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    if (e->d_name[0] != '.') n++;
  if (d) closedir(d);
  return n - 1;  /* the directory itself */
}

int raw_connect(const char *hostport) {
  char host[96];
  snprintf(host, sizeof host, "%s", hostport);
  char *colon = strrchr(host, ':');
  if (!colon) return -1;
  *colon = 0;
  const char *h = host;
  if (h[0] == '[') {
    h++;
    host[strlen(host) - 1] = 0;
  }
  struct addrinfo hints = {0}, *res;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(h, colon + 1, &hints, &res)) return -1;
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd >= 0) {
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  return fd;
}

int raw_send(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n) {
    ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
    if (k <= 0) return -1;
    b += k;
    n -= (size_t)k;
  }
  return 0;
}

int raw_send_env(int fd, const fj_envelope *env) {
  size_t len;
  uint8_t *f = fj_msg_pack(env, &len);
  int rc = f ? raw_send(fd, f, len) : -1;
  free(f);
  return rc;
}

static int read_full(int fd, uint8_t *p, size_t n) {
  while (n) {
    ssize_t k = recv(fd, p, n, 0);
    if (k <= 0) return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

fj_envelope *raw_recv(int fd) {
  uint8_t h[FJ_FRAME_HDR];
  if (read_full(fd, h, sizeof h)) return NULL;
  fj_frame_reader r;
  fj_frame_reader_init(&r, FJ_FRAME_MAX, NULL, 0);
  size_t used;
  int st = fj_frame_feed(&r, h, sizeof h, &used);
  if (st != FJ_FRAME_NEED_BUF && st != FJ_FRAME_READY) return NULL;
  uint8_t *b = malloc(r.len + 1);
  uint8_t *payload = malloc(r.len + 1);
  r.buf = b;
  r.cap = r.len;
  fj_envelope *env = NULL;
  if (read_full(fd, payload, r.len) == 0 &&
      (st == FJ_FRAME_READY || fj_frame_feed(&r, payload, r.len, &used) == FJ_FRAME_READY))
    env = fj_msg_unpack(b, r.len);
  free(payload);
  free(b);
  return env;
}

bool raw_wait_eof(int fd) {
  char b[4096];
  for (;;) {
    ssize_t k = recv(fd, b, sizeof b, 0);
    if (k == 0) return true;
    if (k < 0) return errno == ECONNRESET;
  }
}

int raw_hello(int fd) {
  Farjit__Hello h = FARJIT__HELLO__INIT;
  h.version = FJ_PROTO_VERSION;
  h.min_version = FJ_PROTO_MIN_VERSION;
  h.client_id = "raw-test";
  h.helper_abi_hash = fj_abi_hash();
  fj_envelope env = FARJIT__ENVELOPE__INIT;
  env.msg_case = FARJIT__ENVELOPE__MSG_HELLO;
  env.hello = &h;
  if (raw_send_env(fd, &env)) return -1;
  fj_envelope *a = raw_recv(fd);
  int rc = a && a->msg_case == FARJIT__ENVELOPE__MSG_HELLO_ACK ? (int)a->hello_ack->targets : -1;
  fj_msg_free(a);
  return rc;
}

int raw_compile(int fd, uint64_t id, const void *trace, size_t len, uint32_t target) {
  Farjit__CompileRequest q = FARJIT__COMPILE_REQUEST__INIT;
  q.id = id;
  q.trace.data = (uint8_t *)trace;
  q.trace.len = len;
  q.target = target;
  fj_envelope env = FARJIT__ENVELOPE__INIT;
  env.msg_case = FARJIT__ENVELOPE__MSG_COMPILE_REQUEST;
  env.compile_request = &q;
  return raw_send_env(fd, &env);
}

size_t make_trace(uint8_t *buf, int32_t imm) {
  fj_trace_header h;
  memset(&h, 0, sizeof h);
  h.magic = FJ_TRACE_MAGIC;
  h.version = FJ_TRACE_VERSION;
  h.kind = FJ_TRACE_ENTRY;
  h.start_pc = 0;
  h.nrecs = 2;
  h.end = FJ_TRACE_END_STOP;
  h.end_pc = 1;
  h.prog_ninsns = 2;
  h.nregions = 2;
  fj_trace_rec r[2];
  memset(r, 0, sizeof r);
  r[0].insn.code = 0xb7;  /* mov r0, imm */
  r[0].insn.imm = imm;
  r[0].pc = 0;
  r[1].insn.code = 0x95;  /* exit */
  r[1].pc = 1;
  memcpy(buf, &h, sizeof h);
  memcpy(buf + sizeof h, r, sizeof r);
  return sizeof h + sizeof r;
}

int http_get(const char *hostport, const char *path, char *body, size_t cap) {
  int fd = raw_connect(hostport);
  if (fd < 0) return -1;
  char req[256];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
  raw_send(fd, req, (size_t)n);
  size_t got = 0;
  char *all = malloc(1 << 20);
  for (;;) {
    ssize_t k = recv(fd, all + got, (1 << 20) - 1 - got, 0);
    if (k <= 0) break;
    got += (size_t)k;
  }
  close(fd);
  all[got] = 0;
  int code = -1;
  sscanf(all, "HTTP/1.1 %d", &code);
  const char *b = strstr(all, "\r\n\r\n");
  snprintf(body, cap, "%s", b ? b + 4 : "");
  free(all);
  return code;
}

long long srv_metric(const srv *s, const char *name) {
  char *body = malloc(1 << 20);
  long long v = -1;
  if (http_get(s->http, "/metrics", body, 1 << 20) == 200) {
    size_t n = strlen(name);
    for (char *line = body; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
      if (strncmp(line, name, n) == 0 && line[n] == ' ') {
        v = strtoll(line + n + 1, NULL, 10);
        break;
      }
    }
  }
  free(body);
  return v;
}

int make_certs(const char *d) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "set -e; cd '%s'; "
           "cat > san.cnf <<'X'\n"
           "subjectAltName=DNS:localhost,IP:127.0.0.1\nX\n"
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
           "  -subj /CN=farjit-test-ca -keyout ca.key -out ca.pem; "
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
           "  -subj /CN=other-ca -keyout other.key -out other.pem; "
           "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost "
           "  -keyout server.key -out server.csr; "
           "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
           "  -extfile san.cnf -out server.pem; "
           "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=client-1 "
           "  -keyout client.key -out client.csr; "
           "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
           "  -out client.pem; "
           "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=rogue "
           "  -keyout rogue.key -out rogue.csr; "
           "openssl x509 -req -in rogue.csr -CA other.pem -CAkey other.key -CAcreateserial "
           "  -days 2 -out rogue.pem",
           d);
  char full[4200];
  snprintf(full, sizeof full, "(%s) >/dev/null 2>&1", cmd);
  return system(full) == 0 ? 0 : -1;
}
