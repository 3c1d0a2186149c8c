/* farjit tests — host side of the Cortex-M4 JIT test: the replay table (client_runtime/cortexm/
 * replay.h) for the case bundle (bundle.h).
 *
 *   mkjit OUT BUNDLE [-v] [DEVICE_TRACES]
 *
 * Runs every record of BUNDLE exactly as tests/arm/fw_jit.c will on the device: a fresh VM (std
 * helpers + helper 5 "unwind"), a fresh runtime with fj_replay_config(FJ_FW_JIT_HOT),
 * FJ_BUNDLE_JIT_RUNS runs of fj_vm_run, each on a fresh copy of the record's input.  The
 * transport compiles each trace the recorder submits with the real compiler for
 * FJ_TARGET_THUMBV7EM and stores {trace -> Thumb blob} in the table (a rejected trace is stored
 * without a blob).  To keep the host's runtime in step with the
 * device's, the host runs the x86-64 blob of the same trace only when the Thumb compile
 * succeeded: both sides install the same traces, so exits, bridges and later recordings agree.
 * DEVICE_TRACES: lines "arm-jit-trace: HEX" that fw_jit printed for traces the table lacked
 * (traces with data-section addresses, see replay.h): each is compiled and added too.
 * The VM's memory (frames, regions, the input) comes from a bump arena below 2^32 (MAP_32BIT), as
 * every address is on the device: a trace's entry_narrow (farjit/trace.h, v3) records which
 * registers held a value below 2^32, and r1 (input) and r10 (frame pointer) are addresses, so a
 * host heap above 2^32 would record traces the device never submits.
 * Prints one summary line; per record with -v.
 */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "client_runtime/cortexm/replay.h"
#include "examples/catalog.h"
#include "farjit/client.h"
#include "farjit/client_linux.h"
#include "farjit/codegen.h"
#include "farjit/platform_linux.h"
#include "farjit/target.h"
#include "tests/arm/bundle.h"
#include "tools/file.h"

typedef struct table {
  uint8_t *p;
  size_t len, cap;
  uint32_t nents, nblobs;
} table;

static void put(table *t, const void *src, size_t n) {
  size_t padded = (n + 7) & ~(size_t)7;
  if (t->len + padded > t->cap) {
    t->cap = (t->len + padded) * 2;
    if (!(t->p = realloc(t->p, t->cap))) {
      fprintf(stderr, "mkjit: out of memory\n");
      exit(2);
    }
  }
  if (n) memcpy(t->p + t->len, src, n);
  memset(t->p + t->len + n, 0, padded - n);
  t->len += padded;
}

static table tab;
static int thumb_failed, x86_failed;
static const char *cur_name;
static bool verbose;

static bool in_table(const uint8_t *trace, size_t len) {
  size_t off = sizeof(fj_replay_hdr);
  for (uint32_t k = 0; k < tab.nents; k++) {
    fj_replay_ent e;
    memcpy(&e, tab.p + off, sizeof e);
    if (e.trace_len == len && memcmp(tab.p + off + sizeof e, trace, len) == 0) return true;
    off += sizeof e + fj_replay_pad8(e.trace_len) + fj_replay_pad8(e.blob_len);
  }
  return false;
}

/* One synchronous result at a time (the runtime waits for each: fj_replay_config().wait_ms). */
typedef struct pending {
  uint32_t id;
  fj_codegen_result res;
} pending;
static pending q[FJ_REPLAY_QUEUE];
static int nq;

/* Compile trace for the device into *thm and add it to the table (once). */
static void add_trace(const uint8_t *trace, size_t len, fj_codegen_result *thm) {
  fj_codegen_opts o = {0, 0};
  fj_codegen_compile(trace, len, FJ_TARGET_THUMBV7EM, &o, thm);
  if (in_table(trace, len)) return;
  fj_replay_ent e = {(uint32_t)len, thm->status ? 0u : (uint32_t)thm->blob_size};
  put(&tab, &e, sizeof e);
  put(&tab, trace, len);
  put(&tab, thm->blob, e.blob_len);
  tab.nents++;
  tab.nblobs += e.blob_len != 0;
}

static int mk_submit(void *ud, const fj_jit_request *rq) {
  (void)ud;
  if (nq == FJ_REPLAY_QUEUE) return FJ_EBUSY;
  fj_codegen_opts o = {0, 0};
  fj_codegen_result thm;
  add_trace(rq->trace, rq->trace_len, &thm);
  pending *p = &q[nq++];
  p->id = rq->id;
  if (thm.status) {
    thumb_failed++;
    if (verbose) fprintf(stderr, "mkjit: %s: pc %u: Thumb: %s\n", cur_name, rq->start_pc, thm.message);
    p->res = thm;  /* the device gets FJ_ECOMPILE for it: so does the host */
    return 0;
  }
  fj_codegen_result_free(&thm);
  fj_codegen_compile(rq->trace, rq->trace_len, (enum fj_target)rq->target, &o, &p->res);
  if (p->res.status) {
    x86_failed++;
    fprintf(stderr, "mkjit: %s: pc %u: compiles for Thumb but not for the host: %s (the device "
            "will run a trace the host did not: later traces may differ)\n", cur_name, rq->start_pc,
            p->res.message);
  }
  return 0;
}

static int mk_poll(void *ud, fj_jit_result *r) {
  (void)ud;
  if (!nq) return 0;
  memset(r, 0, sizeof *r);
  r->id = q[0].id;
  r->status = q[0].res.status;
  snprintf(r->message, sizeof r->message, "%.150s", q[0].res.message);
  r->blob = q[0].res.blob;
  r->blob_len = q[0].res.blob_size;
  fj_codegen_result *keep = malloc(sizeof *keep);
  if (!keep) exit(2);
  *keep = q[0].res;
  r->priv = keep;
  memmove(&q[0], &q[1], (size_t)(--nq) * sizeof q[0]);
  return 1;
}

static void mk_release(void *ud, fj_jit_result *r) {
  (void)ud;
  fj_codegen_result_free(r->priv);
  free(r->priv);
}

static int mk_wait(void *ud, uint32_t id, uint32_t ms) {
  (void)ud, (void)ms;
  if (!id) return 1;
  for (int k = 0; k < nq; k++)
    if (q[k].id == id) return 1;
  return 0;
}

static uint64_t unwind_helper(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5, fj_vm *vm) {
  (void)r2, (void)r3, (void)r4, (void)r5;
  if (r1 == 0) fj_vm_unwind(vm);
  return r1;
}

/* ---- memory below 2^32: a bump arena, emptied after each record ------------------------ */

enum { LOW_SIZE = 64u << 20 };
static uint8_t *low_base;
static size_t low_used;

static void *low_alloc(void *ud, size_t size, size_t align) {
  (void)ud;
  if (align < 16) align = 16;
  size_t at = (low_used + align - 1) & ~(align - 1);
  if (at > LOW_SIZE || size > LOW_SIZE - at) return NULL;
  low_used = at + size;
  return memset(low_base + at, 0, size);
}
static void low_free(void *ud, void *ptr, size_t size) { (void)ud, (void)ptr, (void)size; }

static fj_platform low_platform;

static bool low_init(void) {
  void *m = mmap(NULL, LOW_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (m == MAP_FAILED || (uintptr_t)m + LOW_SIZE > (uintptr_t)1 << 32) return false;
  low_base = m;
  low_platform = *fj_platform_linux();
  low_platform.mem = (fj_allocator){low_alloc, low_free, NULL};
  return true;
}

/* Run record r as the device will; returns traces installed (< 0: could not run). */
static int run_rec(const fj_bundle_rec *r) {
  const fj_example *ex = r->kind == FJ_BREC_EXAMPLE ? fj_example_find(r->name) : NULL;
  if (r->kind == FJ_BREC_BROKEN || (r->kind == FJ_BREC_EXAMPLE && !ex)) return -1;
  low_used = 0;
  fj_vm *vm = fj_vm_create(&low_platform);
  if (!vm) return -1;
  int rc = fj_vm_register_std_helpers(vm);
  if (rc >= 0) rc = fj_vm_register_helper(vm, 5, "unwind", unwind_helper);
  if (rc >= 0) rc = ex ? fj_vm_load_elf(vm, fj_bundle_prog(r), r->prog_len) : fj_vm_load(vm, fj_bundle_prog(r), r->prog_len);
  if (rc >= 0 && ex) rc = fj_vm_find_entry(vm, "fj_main");
  int installed = -1;
  if (rc >= 0) {
    uint32_t entry = ex ? (uint32_t)rc : 0;
    fj_jit_config c = fj_replay_config(FJ_FW_JIT_HOT);
    fj_jit_env env;
    memset(&env, 0, sizeof env);
    env.exec = fj_jit_linux_exec(FJ_JIT_EXEC_FLIP);
    env.transport = (fj_jit_transport){mk_submit, mk_poll, mk_release, NULL, NULL, mk_wait, NULL};
    int jerr = 0;
    fj_jit *jit = fj_jit_create(vm, &c, &env, &jerr);
    if (jit) {
      uint8_t *mem = low_alloc(NULL, r->mem_len ? r->mem_len : 1, 8);
      if (!mem) exit(2);
      for (int run = 0; run < FJ_BUNDLE_JIT_RUNS; run++) {
        if (ex) fj_example_input(ex, mem, r->mem_len);
        else memcpy(mem, fj_bundle_mem(r), r->mem_len);
        uint64_t r0 = 0;
        fj_vm_run(vm, entry, r->mem_len ? mem : NULL, r->mem_len, &r0);
      }
      fj_jit_stats st;
      fj_jit_get_stats(jit, &st);
      installed = (int)st.traces_installed;
      if (verbose)
        fprintf(stderr, "mkjit: %-40s recorded %llu, installed %llu\n", r->name,
                (unsigned long long)st.traces_recorded, (unsigned long long)st.traces_installed);
      fj_jit_destroy(jit);
    }
  }
  fj_vm_destroy(vm);
  return installed;
}

static int hexval(int c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Lines "arm-jit-trace: HEX" of path: compile and add each.  Returns the number added. */
static int add_device_traces(const char *path) {
  size_t len = 0;
  uint8_t *text = fj_file_read(path, &len);
  if (!text) return 0;
  static const char tag[] = "arm-jit-trace: ";
  int added = 0;
  uint8_t *trace = malloc(len / 2 + 1);
  if (!trace) exit(2);
  for (size_t i = 0; i < len;) {
    size_t eol = i;
    while (eol < len && text[eol] != '\n') eol++;
    if (eol - i > sizeof tag - 1 && memcmp(text + i, tag, sizeof tag - 1) == 0) {
      size_t n = 0;
      bool ok = true;
      for (size_t j = i + sizeof tag - 1; j + 1 < eol; j += 2) {
        int hi = hexval(text[j]), lo = hexval(text[j + 1]);
        if (hi < 0 || lo < 0) ok = false;
        else trace[n++] = (uint8_t)(hi << 4 | lo);
      }
      if (ok && n) {
        uint32_t before = tab.nents;
        fj_codegen_result thm;
        add_trace(trace, n, &thm);
        fj_codegen_result_free(&thm);
        added += tab.nents != before;
      }
    }
    i = eol + 1;
  }
  free(trace);
  free(text);
  return added;
}

int main(int argc, char **argv) {
  int argi = 3;
  verbose = argc > argi && strcmp(argv[argi], "-v") == 0;
  argi += verbose;
  const char *device = argc > argi ? argv[argi] : NULL;
  if (argc < 3) {
    fprintf(stderr, "usage: %s OUT BUNDLE [-v]\n", argv[0]);
    return 2;
  }
  size_t blen = 0;
  uint8_t *b = fj_file_read(argv[2], &blen);
  const fj_bundle_hdr *h = (const fj_bundle_hdr *)b;
  if (!b || blen < sizeof *h || h->magic != FJ_BUNDLE_MAGIC || h->total_size > blen) {
    fprintf(stderr, "mkjit: %s is not a case bundle\n", argv[2]);
    return 1;
  }
  if (!low_init()) {
    fprintf(stderr, "mkjit: no memory below 2^32 (mmap MAP_32BIT)\n");
    return 1;
  }
  fj_replay_hdr th = {FJ_REPLAY_MAGIC, FJ_REPLAY_VERSION, 0, 0};
  put(&tab, &th, sizeof th);
  const uint8_t *p = b + sizeof *h;
  int with_traces = 0;
  for (uint32_t k = 0; k < h->nrecs; k++) {
    const fj_bundle_rec *r = (const fj_bundle_rec *)p;
    cur_name = r->name;
    with_traces += run_rec(r) > 0;
    p += r->size;
  }
  int from_device = device ? add_device_traces(device) : 0;
  th.nents = tab.nents;
  th.total_size = (uint32_t)tab.len;
  memcpy(tab.p, &th, sizeof th);
  FILE *f = fopen(argv[1], "wb");
  if (!f || fwrite(tab.p, 1, tab.len, f) != tab.len || fclose(f) != 0) {
    fprintf(stderr, "mkjit: cannot write %s\n", argv[1]);
    return 1;
  }
  printf("mkjit: %s: %u traces (%u compiled for Thumb, %d rejected by the compiler), %d of %u "
         "records ran machine code on the host, %d traces recorded on the device, %zu bytes\n",
         argv[1], tab.nents, tab.nblobs, thumb_failed, with_traces, h->nrecs, from_device, tab.len);
  free(tab.p);
  free(b);
  return x86_failed ? 1 : 0;
}
