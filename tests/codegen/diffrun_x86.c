/* tests/codegen — the x86-64 runner of the differential harness (diffrun.h): blobs linked by
 * jitload.h and run natively on the host.  The VM (its stack) and the run memory live in an
 * arena mapped at a fixed address: generated programs compute with r1 and r10, so the counts
 * and any failure replay the same in every run (ASLR would move them). */
#include <capstone/capstone.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "client_runtime/vm_internal.h"
#include "farjit/platform_linux.h"
#include "tests/codegen/diffrun.h"
#include "tests/codegen/jitload.h"

/* Between ASan's shadow memory and its allocator (0x600000000000): free in SAN=1 builds too. */
#define ARENA_AT ((uintptr_t)0x300000000000ull)
enum { ARENA_SIZE = 16u << 20 };

typedef struct x86_run {
  fj_jl_trace t;
  bool loaded;
  uint8_t *arena;   /* ARENA_AT once mapped */
  size_t used;
  fj_jit_state st;
} x86_run;

static void *arena_alloc(void *ud, size_t size, size_t align) {
  x86_run *r = ud;
  if (align < 8) align = 8;
  size_t at = (r->used + align - 1) & ~(align - 1);
  if (at > ARENA_SIZE || size > ARENA_SIZE - at) return NULL;
  r->used = at + size;
  memset(r->arena + at, 0, size);
  return r->arena + at;
}
static void arena_free(void *ud, void *p, size_t size) { (void)ud, (void)p, (void)size; }

static void *helper_addr(void *ud, uint32_t id) {
  fj_vm *vm = ud;
  int k = fj_vm_helper_index(vm, id);
  if (k < 0) return NULL;
  void *p;
  memcpy(&p, &vm->helpers[k].fn, sizeof p);
  return p;
}

static int x86_open(void *self, fj_vm **vm, uint8_t **mem, size_t mem_len, fj_jit_state **st,
                    char *err, size_t errlen) {
  x86_run *r = self;
  if (!r->arena) {
    void *p = mmap((void *)ARENA_AT, ARENA_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (p != (void *)ARENA_AT) {
      if (p != MAP_FAILED) munmap(p, ARENA_SIZE);
      snprintf(err, errlen, "cannot map the arena at 0x%llx", (unsigned long long)ARENA_AT);
      return 1;
    }
    r->arena = p;
  }
  r->used = 0;
  fj_platform pf = *fj_platform_linux();
  pf.mem = (fj_allocator){arena_alloc, arena_free, r};
  *vm = fj_vm_create(&pf);
  *mem = arena_alloc(r, mem_len, 16);
  if (!*vm || !*mem) {
    fj_vm_destroy(*vm);
    snprintf(err, errlen, "arena exhausted");
    return 1;
  }
  *st = &r->st;
  return 0;
}

static void x86_unload(x86_run *r) {
  if (r->loaded) fj_jl_unload(&r->t);
  r->loaded = false;
}

static void x86_close(void *self, fj_vm *vm) {
  x86_run *r = self;
  x86_unload(r);
  fj_vm_destroy(vm);
}

static uint64_t x86_addr(const void *p) { return (uint64_t)(uintptr_t)p; }

static int x86_load(void *self, fj_vm *vm, const uint8_t *blob, size_t len, uint64_t *code_base,
                    char *err, size_t errlen) {
  x86_run *r = self;
  x86_unload(r);
  fj_jl_env env = {helper_addr, vm, NULL, NULL, NULL};
  if (fj_jl_load(blob, len, &env, &r->t, err, errlen)) return 1;
  r->loaded = true;
  *code_base = (uint64_t)(uintptr_t)r->t.code;
  return 0;
}

static int x86_exec(void *self, fj_vm *vm, fj_exec *ex, fj_jit_state *st, uint32_t *exit_id,
                    uint64_t *guest_insns, char *err, size_t errlen) {
  x86_run *r = self;
  (void)vm, (void)ex, (void)err, (void)errlen;
  *exit_id = fj_jl_run(&r->t, st);
  *guest_insns = 0;
  x86_unload(r);
  return 0;
}

const fj_diff_runner *fj_diff_x86_runner(void) {
  static x86_run run;
  static const fj_diff_runner rn = {"x86_64", FJ_TARGET_X86_64, CS_ARCH_X86, CS_MODE_64,
                                    fj_codegen_compile, x86_open, x86_close, x86_addr, x86_load,
                                    x86_exec, &run};
  return &rn;
}

int fj_diff_run(const fj_insn *code, size_t n, void *mem, size_t mem_len, const fj_diff_cfg *cfg,
                fj_diff_result *res) {
  fj_diff_prog prog = {code, n, NULL, 0};
  return fj_diff_run_with(fj_diff_x86_runner(), &prog, mem, mem_len, cfg, res);
}
