/* Fault cases through the real client path (fj_jit_linux_attach -> libuv thread -> fj_remote ->
 * socket), each with a program whose loop gets hot and calls a helper (so its blob has
 * relocations).  The answer must always be the interpreter's, and each failure must show in
 * the specific counter that names it:
 *
 *   server never started            send_failed > 0, nothing sent, one bounded wait
 *   server answering garbage        send_failed > 0, nothing sent (a fake server writing a bad
 *                                   frame as soon as a client connects)
 *   garbage instead of a result     compile_failed > 0 (the connection is dropped, in-flight
 *                                   requests fail)
 *   server gone mid-compile         compile_failed > 0 (the proxy hangs up instead of
 *                                   delivering a result)
 *   server that never answers       wait_timeouts > 0, each wait bounded by wait_ms
 *   truncated blob                  rejected_by[TRUNCATED]
 *   relocation out of range         rejected_by[RELOC_RANGE]
 *   blob for another target         rejected_by[TARGET]
 *   code cache too small            link_failed > 0
 *
 * Bad blobs come from a proxy in a thread of this test: it forwards bytes between the client
 * and a real farjitd and rewrites CompileResult frames on the way back (re-framed with a valid
 * frame CRC and, for blob corruption past the header checks, a valid blob CRC, so that the
 * rule under test is the one that fires).  Prints "e2e-faults: N passed, M failed". */
#include "tests/e2e/e2e_util.h"

#include <poll.h>
#include <pthread.h>

#include "client_runtime/blob_check.h"
#include "farjit/blob.h"
#include "farjit/crc32.h"
#include "farjit/target.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "tools/asm.h"

enum { ITERS = 3000, HELPER_ID = 0x77 };

static const char *LOOP_SRC =
    "mov %r6, 0\n"
    "mov %r7, 0\n"
    "l:\n"
    "mov %r1, %r7\n"
    "call 0x77\n"
    "add %r6, %r0\n"
    "add %r7, 1\n"
    "jlt %r7, 3000, l\n"
    "mov %r0, %r6\n"
    "exit\n";

static uint64_t helper(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5, fj_vm *vm) {
  (void)r2, (void)r3, (void)r4, (void)r5, (void)vm;
  return r1 * 3 + 1;
}

static uint64_t expected(void) {
  uint64_t s = 0;
  for (uint64_t i = 0; i < ITERS; i++) s += i * 3 + 1;
  return s;
}

/* src assembled and loaded into a fresh VM, with the helper when with_helper; exits on failure. */
static fj_vm *asm_vm(const char *src, bool with_helper) {
  fj_insn *p = NULL;
  size_t n;
  char err[128];
  if (fj_asm(src, &p, &n, err, sizeof err)) {
    fprintf(stderr, "asm: %s\n", err);
    exit(1);
  }
  fj_vm *vm = fj_vm_create(fj_platform_linux());
  if (!vm || (with_helper && fj_vm_register_helper(vm, HELPER_ID, "triple", helper) < 0) ||
      fj_vm_load(vm, p, n * sizeof *p)) {
    fprintf(stderr, "cannot load the test program\n");
    exit(1);
  }
  free(p);
  return vm;
}

static fj_vm *loop_vm(void) { return asm_vm(LOOP_SRC, true); }

/* ---- the proxy ------------------------------------------------------------------------------ */

typedef enum px_mode {
  PX_PASS,            /* forward everything */
  PX_TRUNCATE,        /* blob cut to half its length */
  PX_RELOC,           /* first relocation's offset past the code (blob CRC fixed) */
  PX_TARGET,          /* header.target = thumbv7em (blob CRC fixed) */
  PX_GARBAGE_RESULT,  /* bytes with a bad frame magic instead of the result */
  PX_HANGUP,          /* close the client connection instead of delivering the result */
  PX_STALL,           /* swallow results: a server that never answers */
  PX_GARBAGE_HELLO,   /* no upstream: garbage as soon as a client connects */
} px_mode;

typedef struct proxy {
  px_mode mode;
  char dir[64], path[96], addr[128];
  const char *upstream;  /* real farjitd Unix socket path */
  int lfd;
  pthread_t th;
  volatile int stop;
  int results_seen, mutated;
} proxy;

static int unix_listen(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = e2e_unix_sockaddr(path);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 8)) {
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

static bool write_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n) {
    ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    b += w;
    n -= (size_t)w;
  }
  return true;
}

static void blob_fix_crc(uint8_t *b, size_t len) {
  fj_blob_header h;
  memcpy(&h, b, sizeof h);
  h.crc32 = 0;
  memcpy(b, &h, sizeof h);
  h.crc32 = fj_crc32(0, b, len);
  memcpy(b, &h, sizeof h);
}

/* Corrupt a CompileResult's blob in place (env owns it); false if this mode leaves it alone. */
static bool mutate_blob(proxy *px, ProtobufCBinaryData *blob) {
  if (blob->len < sizeof(fj_blob_header)) return false;
  fj_blob_header h;
  memcpy(&h, blob->data, sizeof h);
  switch (px->mode) {
  case PX_TRUNCATE: blob->len /= 2; return true;
  case PX_TARGET:
    h.target = FJ_TARGET_THUMBV7EM;
    memcpy(blob->data, &h, sizeof h);
    blob_fix_crc(blob->data, blob->len);
    return true;
  case PX_RELOC: {
    if (!h.nrelocs || h.reloc_off + sizeof(fj_blob_reloc) > blob->len) return false;
    fj_blob_reloc r;
    memcpy(&r, blob->data + h.reloc_off, sizeof r);
    r.offset = h.code_size + 64;
    memcpy(blob->data + h.reloc_off, &r, sizeof r);
    blob_fix_crc(blob->data, blob->len);
    return true;
  }
  default: return false;
  }
}

static uint8_t frame_buf[FJ_FRAME_MAX];

/* Upstream -> client: frame by frame; false to drop the connection. */
static bool forward_frames(proxy *px, fj_frame_reader *rd, const uint8_t *data, size_t n, int cfd) {
  while (n) {
    size_t used;
    int st = fj_frame_feed(rd, data, n, &used);
    data += used;
    n -= used;
    if (st < 0) return false;
    if (st == FJ_FRAME_NEED_BUF) {
      rd->buf = frame_buf;
      rd->cap = sizeof frame_buf;
      continue;
    }
    if (st != FJ_FRAME_READY) continue;
    fj_envelope *env = fj_msg_unpack(rd->buf, rd->len);
    bool result = env && env->msg_case == FARJIT__ENVELOPE__MSG_COMPILE_RESULT;
    bool ok = true;
    if (result) px->results_seen++;
    if (result && px->mode == PX_HANGUP) {
      ok = false;
    } else if (result && px->mode == PX_STALL) {
      px->mutated++;
    } else if (result && px->mode == PX_GARBAGE_RESULT) {
      static const uint8_t junk[24] = "this is not a frame....";
      write_all(cfd, junk, sizeof junk);
      px->mutated++;
    } else if (result && env->compile_result->status == 0 && mutate_blob(px, &env->compile_result->blob)) {
      size_t len;
      uint8_t *f = fj_msg_pack(env, &len);
      ok = f && write_all(cfd, f, len);
      free(f);
      px->mutated++;
    } else {
      uint8_t hdr[FJ_FRAME_HDR];
      fj_frame_header(hdr, rd->buf, rd->len);
      ok = write_all(cfd, hdr, sizeof hdr) && write_all(cfd, rd->buf, rd->len);
    }
    if (env) fj_msg_free(env);
    fj_frame_reader_next(rd);
    if (!ok) return false;
  }
  return true;
}

static void serve(proxy *px, int cfd) {
  if (px->mode == PX_GARBAGE_HELLO) {
    static const uint8_t junk[64] = "FJWF\xff\xff\xff\x7f garbage, not a frame";
    write_all(cfd, junk, sizeof junk);
    struct pollfd p = {cfd, POLLIN, 0};
    while (!px->stop && poll(&p, 1, 50) >= 0) {
      uint8_t b[512];
      if ((p.revents & (POLLIN | POLLHUP)) && recv(cfd, b, sizeof b, 0) <= 0) break;
    }
    return;
  }
  int ufd = e2e_unix_connect(px->upstream);
  if (ufd < 0) return;
  fj_frame_reader rd;
  fj_frame_reader_init(&rd, FJ_FRAME_MAX, frame_buf, sizeof frame_buf);
  static uint8_t buf[1 << 16];
  for (;;) {
    struct pollfd p[2] = {{cfd, POLLIN, 0}, {ufd, POLLIN, 0}};
    if (px->stop || poll(p, 2, 50) < 0) break;
    if (p[0].revents) {
      ssize_t r = recv(cfd, buf, sizeof buf, 0);
      if (r <= 0 || !write_all(ufd, buf, (size_t)r)) break;
    }
    if (p[1].revents) {
      ssize_t r = recv(ufd, buf, sizeof buf, 0);
      if (r <= 0 || !forward_frames(px, &rd, buf, (size_t)r, cfd)) break;
    }
  }
  close(ufd);
}

static void *proxy_main(void *arg) {
  proxy *px = arg;
  while (!px->stop) {
    struct pollfd p = {px->lfd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    int cfd = accept4(px->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (cfd < 0) continue;
    serve(px, cfd);
    close(cfd);
  }
  return NULL;
}

static bool proxy_start(proxy *px, px_mode mode, const char *upstream) {
  memset(px, 0, sizeof *px);
  px->mode = mode;
  px->upstream = upstream;
  snprintf(px->dir, sizeof px->dir, "/tmp/fj-e2e-px-XXXXXX");
  if (!mkdtemp(px->dir)) return false;
  snprintf(px->path, sizeof px->path, "%s/p.sock", px->dir);
  snprintf(px->addr, sizeof px->addr, "unix:%s", px->path);
  px->lfd = unix_listen(px->path);
  return px->lfd >= 0 && pthread_create(&px->th, NULL, proxy_main, px) == 0;
}

static void proxy_stop(proxy *px) {
  px->stop = 1;
  pthread_join(px->th, NULL);
  close(px->lfd);
  unlink(px->path);
  rmdir(px->dir);
}

/* ---- cases ---------------------------------------------------------------------------------- */

typedef struct run_out {
  int rc;
  uint64_t r0;
  uint64_t ms;
  fj_jit_stats js;
  fj_vm_stats vs;
} run_out;

/* The loop program with the runtime attached to servers, wait_ms each, two runs. */
static run_out run_case(const char *servers, uint32_t wait_ms, uint32_t code_size, fj_vm *vm_in) {
  fj_vm *vm = vm_in ? vm_in : loop_vm();
  fj_jit_config c;
  memset(&c, 0, sizeof c);
  c.hot_threshold = 4;
  c.wait_ms = wait_ms;
  c.code_size = code_size;
  fj_jit_linux *jl = e2e_attach(vm, servers, &c, NULL);
  run_out o;
  memset(&o, 0, sizeof o);
  uint64_t t0 = e2e_now_ms();
  for (int r = 0; r < 2 && jl; r++) {
    o.rc = fj_vm_run(vm, 0, NULL, 0, &o.r0);
    if (o.rc) break;
  }
  o.ms = e2e_now_ms() - t0;
  fj_vm_get_stats(vm, &o.vs);
  if (jl) {
    o.js = e2e_jstats(jl);
    if (getenv("FJ_E2E_VERBOSE")) fj_jit_linux_print_stats(jl, stderr);
    fj_jit_linux_detach(jl);
  }
  if (!vm_in) fj_vm_destroy(vm);
  return o;
}

/* run_case through a proxy in mode (to farjitd at upstream, a socket path; NULL: none); false,
 * with a failure counted, if the proxy could not start. */
static bool run_proxied(px_mode mode, const char *upstream, uint32_t wait_ms, proxy *px, run_out *o) {
  if (!proxy_start(px, mode, upstream)) {
    e2e_failf("proxy");
    return false;
  }
  *o = run_case(px->addr, wait_ms, 0, NULL);
  proxy_stop(px);
  return true;
}

#define CHECK_RESULT(o, what)                                                                   \
  E2E_CHECK((o).rc == 0 && (o).r0 == expected(), "%s: rc %d r0 %llu, want %llu", what, (o).rc, \
            (unsigned long long)(o).r0, (unsigned long long)expected())

static void case_pass(const e2e_server *srv) {
  proxy px;
  run_out o;
  if (!run_proxied(PX_PASS, srv->addr + 5, 10000, &px, &o)) return;
  CHECK_RESULT(o, "through the proxy");
  E2E_CHECK(o.js.traces_installed > 0 && o.vs.insns_native > 0,
            "through the proxy: %llu installed, %llu native", (unsigned long long)o.js.traces_installed,
            (unsigned long long)o.vs.insns_native);
}

static void case_no_server(void) {
  char addr[128];
  snprintf(addr, sizeof addr, "unix:/tmp/fj-e2e-nobody-%d.sock", (int)getpid());
  run_out o = run_case(addr, 300, 0, NULL);
  CHECK_RESULT(o, "no server");
  E2E_CHECK(o.js.send_failed > 0 && o.js.traces_sent == 0, "no server: send_failed %llu, sent %llu",
            (unsigned long long)o.js.send_failed, (unsigned long long)o.js.traces_sent);
  E2E_CHECK(o.ms < 2000, "no server: %llu ms (one bounded wait expected)", (unsigned long long)o.ms);
}

static void case_garbage_hello(void) {
  proxy px;
  run_out o;
  if (!run_proxied(PX_GARBAGE_HELLO, NULL, 300, &px, &o)) return;
  CHECK_RESULT(o, "garbage server");
  E2E_CHECK(o.js.send_failed > 0 && o.js.traces_sent == 0 && o.js.traces_installed == 0,
            "garbage server: send_failed %llu, sent %llu, installed %llu",
            (unsigned long long)o.js.send_failed, (unsigned long long)o.js.traces_sent,
            (unsigned long long)o.js.traces_installed);
}

/* Modes where the result never arrives intact: the request fails (compile_failed). */
static void case_lost_result(const e2e_server *srv, px_mode mode, const char *what) {
  proxy px;
  run_out o;
  if (!run_proxied(mode, srv->addr + 5, 5000, &px, &o)) return;
  CHECK_RESULT(o, what);
  E2E_CHECK(px.results_seen > 0 && o.js.compile_failed > 0 && o.js.traces_installed == 0,
            "%s: %d results at the proxy, compile_failed %llu, installed %llu", what, px.results_seen,
            (unsigned long long)o.js.compile_failed, (unsigned long long)o.js.traces_installed);
}

static void case_stall(const e2e_server *srv) {
  proxy px;
  run_out o;
  if (!run_proxied(PX_STALL, srv->addr + 5, 200, &px, &o)) return;
  CHECK_RESULT(o, "server never answers");
  E2E_CHECK(px.mutated > 0 && o.js.wait_timeouts > 0 && o.js.wait_timeouts == o.js.traces_sent &&
                o.js.traces_installed == 0,
            "server never answers: %d results swallowed, wait_timeouts %llu, sent %llu, installed %llu",
            px.mutated, (unsigned long long)o.js.wait_timeouts, (unsigned long long)o.js.traces_sent,
            (unsigned long long)o.js.traces_installed);
  E2E_CHECK(o.ms < 200ull * (o.js.traces_sent + 2) + 1000, "server never answers: %llu ms for %llu waits",
            (unsigned long long)o.ms, (unsigned long long)o.js.traces_sent);
}

static void case_bad_blob(const e2e_server *srv, px_mode mode, int reason, const char *what) {
  proxy px;
  run_out o;
  if (!run_proxied(mode, srv->addr + 5, 5000, &px, &o)) return;
  CHECK_RESULT(o, what);
  E2E_CHECK(px.mutated > 0 && o.js.rejected_by[reason] > 0 && o.js.traces_installed == 0,
            "%s: %d blobs corrupted, rejected as %s %llu, rejected %llu, installed %llu", what,
            px.mutated, fj_blob_reject_name(reason), (unsigned long long)o.js.rejected_by[reason],
            (unsigned long long)o.js.traces_rejected, (unsigned long long)o.js.traces_installed);
}

/* A loop whose trace needs more machine code than a one-page cache holds. */
static fj_vm *big_loop_vm(void) {
  size_t cap = 64 * 1024, n = 0;
  char *src = malloc(cap);
  n += (size_t)snprintf(src + n, cap - n, "mov %%r6, 1\nmov %%r7, 0\nl:\n");
  for (int i = 0; i < 900; i++)
    n += (size_t)snprintf(src + n, cap - n, i % 2 ? "add %%r6, %%r7\n" : "mul %%r6, %d\n", 2 * i + 3);
  snprintf(src + n, cap - n, "add %%r7, 1\njlt %%r7, 200, l\nmov %%r0, %%r6\nexit\n");
  fj_vm *vm = asm_vm(src, false);
  free(src);
  return vm;
}

static void case_small_cache(const e2e_server *srv) {
  fj_vm *ref = big_loop_vm(), *vm = big_loop_vm();
  uint64_t want = 0;
  int rc = fj_vm_run(ref, 0, NULL, 0, &want);
  fj_vm_destroy(ref);
  run_out o = run_case(srv->addr, 5000, 4096, vm);
  fj_vm_destroy(vm);
  E2E_CHECK(rc == 0 && o.rc == 0 && o.r0 == want, "code cache too small: rc %d r0 0x%llx, want 0x%llx",
            o.rc, (unsigned long long)o.r0, (unsigned long long)want);
  E2E_CHECK(o.js.traces_sent > 0 && o.js.link_failed > 0 && o.js.traces_installed == 0,
            "code cache too small: sent %llu, link_failed %llu, installed %llu",
            (unsigned long long)o.js.traces_sent, (unsigned long long)o.js.link_failed,
            (unsigned long long)o.js.traces_installed);
}

int main(void) {
  if (fj_jit_host_target() != FJ_TARGET_X86_64) {
    printf("skip: machine code runs on x86-64 hosts only\ne2e-faults: 0 passed, 0 failed\n");
    return 0;
  }
  fj_vm *warm = loop_vm();  /* libuv's process-wide pipe exists before the fd baseline */
  run_case(NULL, 0, 0, warm);
  fj_vm_destroy(warm);
  const int fds0 = e2e_count_fds();
  e2e_server srv;
  if (!e2e_server_start(&srv, NULL)) {
    e2e_server_stop(&srv, SIGKILL);
    printf("e2e-faults: cannot start farjitd\ne2e-faults: 0 passed, 1 failed\n");
    return 1;
  }
  case_pass(&srv);
  case_no_server();
  case_garbage_hello();
  case_lost_result(&srv, PX_GARBAGE_RESULT, "garbage result");
  case_lost_result(&srv, PX_HANGUP, "server gone mid-compile");
  case_stall(&srv);
  case_bad_blob(&srv, PX_TRUNCATE, FJ_BLOB_REJECT_TRUNCATED, "truncated blob");
  case_bad_blob(&srv, PX_RELOC, FJ_BLOB_REJECT_RELOC_RANGE, "relocation out of range");
  case_bad_blob(&srv, PX_TARGET, FJ_BLOB_REJECT_TARGET, "blob for another target");
  case_small_cache(&srv);
  e2e_server_stop(&srv, SIGTERM);
  const int fds1 = e2e_count_fds();
  E2E_CHECK(fds1 == fds0, "file descriptors: %d before, %d after", fds0, fds1);
  if (fds1 != fds0) e2e_list_fds();
  E2E_CHECK(e2e_no_children(), "a child process is left");
  return e2e_report("e2e-faults");
}
