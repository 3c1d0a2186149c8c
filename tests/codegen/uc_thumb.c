/* Unicorn harness for Thumb-2 blobs (see uc_thumb.h). */
#include "tests/codegen/uc_thumb.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <unicorn/unicorn.h>

#include "client_runtime/blob_check.h"
#include "client_runtime/link.h"
#include "client_runtime/thumb/div64.h"
#include "codegen/thumb/emit_thumb.h"
#include "farjit/blob.h"
#include "farjit/jit.h"
#include "farjit/target.h"

/* Runtime page layout. */
#define RT_RET      (FJ_UCT_RT + 0x000u)  /* return address of runs: emulation stops here */
#define RT_STUB(k)  (FJ_UCT_RT + 0x100u + 4u * (k)) /* served runtime entries, k = enum fj_rt */
#define RT_HELPERS  (FJ_UCT_RT + 0x1000u)           /* served helper slots, 4 bytes each */
#define RT_NHELPERS 1024u
#define RT_CODE     (FJ_UCT_RT + 0x8000u)           /* the compiled client runtime */
#define VENEER_SIZE 8u  /* fj_link_veneer_size(FJ_TARGET_THUMBV7EM) */
#define MAX_BLOBS   256

typedef struct loaded_blob {
  uint32_t base, entry_off, start_pc, nexits;
  fj_blob_exit *exits;
} loaded_blob;

struct fj_uct {
  uc_engine *uc;
  fj_uct_hooks hooks;
  unsigned flags;
  uint8_t *arena;
  size_t arena_used;
  uint32_t code_end;           /* next free code address */
  loaded_blob blobs[MAX_BLOBS];
  int nblobs;
  uint32_t helper_ids[RT_NHELPERS];
  uint32_t nhelpers;
  uint8_t *rt_bin;             /* compiled runtime image */
  size_t rt_len;
  struct { char name[48]; uint32_t addr; } rt_syms[32];
  int nrt_syms;
  uint32_t run_st;             /* st of the current run (hook-served CALL) */
  uint64_t *scratch;           /* default vm->stop / vm->left words (end of the arena) */
  uint64_t loads;              /* blobs loaded so far */
  fj_uct_stats stats;
  char err[256];
};

static void set_err(fj_uct *u, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(u->err, sizeof u->err, fmt, ap);
  va_end(ap);
}

static uint32_t rd32(fj_uct *u, uint32_t a) {
  uint32_t v = 0;
  uc_mem_read(u->uc, a, &v, 4);
  return v;
}
static void wr32(fj_uct *u, uint32_t a, uint32_t v) { uc_mem_write(u->uc, a, &v, 4); }
/* Write code.  Unicorn keeps translated blocks until told to drop them, and dropping just a
 * range (uc_ctl_remove_cache) leaves chained jumps into it that crash Unicorn 2.0.1 once the
 * addresses are reused.  So blobs go to fresh addresses (never translated yet); code that may
 * have run is rewritten only with a full flush (exit patching, rare); when the code area is
 * used up the harness starts a fresh engine (fj_uct_load). */
static void write_code(fj_uct *u, uint32_t a, const void *p, size_t n, bool ran) {
  uc_mem_write(u->uc, a, p, n);
  if (ran) uc_ctl_flush_tlb(u->uc);
}
static uint32_t reg(fj_uct *u, int r) {
  uint32_t v = 0;
  uc_reg_read(u->uc, r, &v);
  return v;
}
static void set_reg(fj_uct *u, int r, uint32_t v) { uc_reg_write(u->uc, r, &v); }
static uint64_t arg64(fj_uct *u, int lo_reg) {
  return (uint64_t)reg(u, lo_reg) | (uint64_t)reg(u, lo_reg + 1) << 32;
}
static void ret64(fj_uct *u, uint64_t v) {
  set_reg(u, UC_ARM_REG_R0, (uint32_t)v);
  set_reg(u, UC_ARM_REG_R1, (uint32_t)(v >> 32));
}

/* ---- served entry points ------------------------------------------------------------------ */

/* A helper slot: AAPCS with six arguments, 64-bit ones in aligned pairs. */
static void serve_helper(fj_uct *u, uint32_t id) {
  uint32_t sp = reg(u, UC_ARM_REG_SP);
  uint64_t a[5] = {arg64(u, UC_ARM_REG_R0), arg64(u, UC_ARM_REG_R2)};
  for (int i = 0; i < 3; i++)
    a[2 + i] = (uint64_t)rd32(u, sp + 8u * (unsigned)i) | (uint64_t)rd32(u, sp + 8u * (unsigned)i + 4) << 32;
  uint32_t vm = rd32(u, sp + 24);
  u->stats.helper_calls++;
  ret64(u, u->hooks.helper ? u->hooks.helper(u->hooks.ud, id, a, vm) : 0);
}

static bool helper_of(fj_uct *u, uint32_t addr, uint32_t *id) {
  uint32_t base = (u->flags & FJ_UCT_FAR_HELPERS) ? FJ_UCT_FAR : RT_HELPERS;
  if (addr < base || addr >= base + 4 * u->nhelpers || (addr - base) % 4) return false;
  *id = u->helper_ids[(addr - base) / 4];
  return true;
}

/* Run the entry at `fn` (a served stub address) with the current registers. */
static void serve_call_target(fj_uct *u, uint32_t fn) {
  uint32_t id;
  fn &= ~1u;
  if (helper_of(u, fn, &id)) { serve_helper(u, id); return; }
  if (fn == RT_STUB(FJ_RT_CALL_LOCAL)) {
    u->stats.local_calls++;
    ret64(u, u->hooks.call_local ? u->hooks.call_local(u->hooks.ud, reg(u, UC_ARM_REG_R0),
                                                       reg(u, UC_ARM_REG_R1)) : 0);
    return;
  }
  set_err(u, "call through FJ_RT_CALL to unknown address 0x%08x", fn);
  uc_emu_stop(u->uc);
}

static void on_stub(uc_engine *uc, uint64_t addr, uint32_t size, void *ud) {
  fj_uct *u = ud;
  (void)uc, (void)size;
  uint32_t a = (uint32_t)addr, id;
  if (a == RT_STUB(FJ_RT_CALL)) {
    /* The trampoline's contract, with st known from the run rather than from the frame. */
    u->stats.rt_calls++;
    uint32_t lr = reg(u, UC_ARM_REG_LR);
    wr32(u, u->run_st + FJ_JIT_OFF_CALL_RET, lr);
    wr32(u, u->run_st + FJ_JIT_OFF_CALL_RET + 4, 0);
    serve_call_target(u, reg(u, UC_ARM_REG_R12));
    set_reg(u, UC_ARM_REG_LR, rd32(u, u->run_st + FJ_JIT_OFF_CALL_RET));
    return;
  }
  if (a == RT_STUB(FJ_RT_CALL_LOCAL)) { serve_call_target(u, a); return; }
  if (a >= RT_STUB(FJ_RT_UDIV64) && a <= RT_STUB(FJ_RT_SMOD64)) {
    uint64_t x = arg64(u, UC_ARM_REG_R0), y = arg64(u, UC_ARM_REG_R2), r = 0;
    u->stats.div_calls++;
    switch ((a - RT_STUB(0)) / 4) {
    case FJ_RT_UDIV64: r = fj_rt_udiv64(x, y); break;
    case FJ_RT_UMOD64: r = fj_rt_umod64(x, y); break;
    case FJ_RT_SDIV64: r = (uint64_t)fj_rt_sdiv64((int64_t)x, (int64_t)y); break;
    default: r = (uint64_t)fj_rt_smod64((int64_t)x, (int64_t)y); break;
    }
    ret64(u, r);
    return;
  }
  if (helper_of(u, a, &id)) { serve_helper(u, id); return; } /* BL straight to a helper */
}

static void on_code(uc_engine *uc, uint64_t addr, uint32_t size, void *ud) {
  (void)uc, (void)addr, (void)size;
  ((fj_uct *)ud)->stats.insns++;
}
static void on_rt_code(uc_engine *uc, uint64_t addr, uint32_t size, void *ud) {
  fj_uct *u = ud;
  (void)uc, (void)size;
  u->stats.rt_insns++;
  if (addr == fj_uct_rt_sym(u, "fj_rt_udiv64") || addr == fj_uct_rt_sym(u, "fj_rt_umod64") ||
      addr == fj_uct_rt_sym(u, "fj_rt_sdiv64") || addr == fj_uct_rt_sym(u, "fj_rt_smod64"))
    u->stats.div_calls++;
  if (addr == fj_uct_rt_sym(u, "fj_thm_rt_call")) u->stats.rt_calls++;
}

/* ---- the compiled runtime ----------------------------------------------------------------- */

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  uint8_t *p = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (n == cap) {
      uint8_t *q = realloc(p, cap = cap ? 2 * cap : 4096);
      if (!q) { free(p); fclose(f); return NULL; }
      p = q;
    }
    size_t k = fread(p + n, 1, cap - n, f);
    if (!k) break;
    n += k;
  }
  fclose(f);
  *len = n;
  return p;
}

static void load_rt(fj_uct *u) {
#if defined(FJ_UCT_RT_BIN) && defined(FJ_UCT_RT_SYM)
  size_t n, slen;
  uint8_t *bin = slurp(FJ_UCT_RT_BIN, &n), *sym = slurp(FJ_UCT_RT_SYM, &slen);
  if (bin && sym && n <= FJ_UCT_RT_SIZE - (RT_CODE - FJ_UCT_RT) - 0x1000) {
    u->rt_bin = bin, u->rt_len = n, bin = NULL; /* written by engine_open */
    char *line = (char *)sym;
    sym[slen - 1] = 0;
    while (line && *line && u->nrt_syms < 32) {
      unsigned addr;
      char type, name[48];
      if (sscanf(line, "%x %c %47s", &addr, &type, name) == 3 && (type == 'T' || type == 't')) {
        snprintf(u->rt_syms[u->nrt_syms].name, sizeof u->rt_syms[0].name, "%s", name);
        u->rt_syms[u->nrt_syms++].addr = addr & ~1u;
      }
      line = strchr(line, '\n');
      if (line) line++;
    }
  }
  free(bin);
  free(sym);
#else
  (void)slurp, (void)u;
#endif
}

uint32_t fj_uct_rt_sym(const fj_uct *u, const char *name) {
  for (int i = 0; i < u->nrt_syms; i++)
    if (!strcmp(u->rt_syms[i].name, name)) return u->rt_syms[i].addr;
  return 0;
}
int fj_uct_has_rt(const fj_uct *u) { return u->rt_bin != NULL; }

/* ---- lifecycle ---------------------------------------------------------------------------- */

/* A fresh Unicorn engine with the memory map, hooks, stubs and runtime image. */
static int engine_open(fj_uct *u) {
  uc_err e = uc_open(UC_ARCH_ARM, UC_MODE_THUMB, &u->uc);
  if (e == UC_ERR_OK) e = uc_ctl_set_cpu_model(u->uc, UC_CPU_ARM_CORTEX_M4);
  if (e == UC_ERR_OK) e = uc_mem_map(u->uc, FJ_UCT_CODE, FJ_UCT_CODE_SIZE, UC_PROT_ALL);
  if (e == UC_ERR_OK) e = uc_mem_map(u->uc, FJ_UCT_STACK, FJ_UCT_STACK_SIZE, UC_PROT_READ | UC_PROT_WRITE);
  if (e == UC_ERR_OK) e = uc_mem_map(u->uc, FJ_UCT_RT, FJ_UCT_RT_SIZE, UC_PROT_ALL);
  if (e == UC_ERR_OK) e = uc_mem_map(u->uc, FJ_UCT_FAR, 0x10000, UC_PROT_ALL);
  if (e == UC_ERR_OK)
    e = uc_mem_map_ptr(u->uc, FJ_UCT_ARENA, FJ_UCT_ARENA_SIZE, UC_PROT_READ | UC_PROT_WRITE, u->arena);
  uc_hook h;
  if (e == UC_ERR_OK)
    e = uc_hook_add(u->uc, &h, UC_HOOK_CODE, (void *)on_code, u, FJ_UCT_CODE, FJ_UCT_CODE + FJ_UCT_CODE_SIZE - 1);
  if (e == UC_ERR_OK) e = uc_hook_add(u->uc, &h, UC_HOOK_CODE, (void *)on_stub, u, FJ_UCT_RT, RT_CODE - 1);
  if (e == UC_ERR_OK)
    e = uc_hook_add(u->uc, &h, UC_HOOK_CODE, (void *)on_rt_code, u, RT_CODE, FJ_UCT_RT + FJ_UCT_RT_SIZE - 1);
  if (e == UC_ERR_OK) e = uc_hook_add(u->uc, &h, UC_HOOK_CODE, (void *)on_stub, u, FJ_UCT_FAR, FJ_UCT_FAR + 0xffff);
  if (e != UC_ERR_OK) {
    fprintf(stderr, "uc_thumb: unicorn: %s\n", uc_strerror(e));
    return -1;
  }
  /* Every stub and helper slot is `bx lr`; the return address is a permanently undefined insn. */
  static uint8_t page[RT_CODE - FJ_UCT_RT];
  for (size_t i = 0; i < sizeof page; i += 2) page[i] = 0x70, page[i + 1] = 0x47;
  page[0] = 0x00, page[1] = 0xde;
  uc_mem_write(u->uc, FJ_UCT_RT, page, sizeof page);
  uc_mem_write(u->uc, FJ_UCT_FAR, page + 2, 0x1000);
  if (u->rt_bin) uc_mem_write(u->uc, RT_CODE, u->rt_bin, u->rt_len);
  u->code_end = FJ_UCT_CODE;
  return 0;
}

fj_uct *fj_uct_create(const fj_uct_hooks *hooks, unsigned flags) {
  fj_uct *u = calloc(1, sizeof *u);
  if (!u) return NULL;
  if (hooks) u->hooks = *hooks;
  u->flags = flags;
  void *a = mmap((void *)(uintptr_t)FJ_UCT_ARENA, FJ_UCT_ARENA_SIZE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (a != (void *)(uintptr_t)FJ_UCT_ARENA) {
    fprintf(stderr, "uc_thumb: cannot map the shared arena at 0x%08x\n", FJ_UCT_ARENA);
    if (a != MAP_FAILED) munmap(a, FJ_UCT_ARENA_SIZE);
    free(u);
    return NULL;
  }
  u->arena = a;
  u->scratch = (uint64_t *)(u->arena + FJ_UCT_ARENA_SIZE - 64);
  if (!(flags & FJ_UCT_HOOK_RT)) load_rt(u);
  if (engine_open(u)) {
    fj_uct_destroy(u);
    return NULL;
  }
  return u;
}

void fj_uct_destroy(fj_uct *u) {
  if (!u) return;
  if (u->uc) uc_close(u->uc);
  if (u->arena) munmap(u->arena, FJ_UCT_ARENA_SIZE);
  fj_uct_unload_all(u);
  free(u->rt_bin);
  free(u);
}

/* ---- arena -------------------------------------------------------------------------------- */

void *fj_uct_alloc(fj_uct *u, size_t size, size_t align) {
  if (align < 8) align = 8;
  size_t at = (u->arena_used + align - 1) & ~(align - 1);
  if (at + size > FJ_UCT_ARENA_SIZE - 64) return NULL; /* the last 64 bytes: scratch */
  u->arena_used = at + size;
  memset(u->arena + at, 0, size);
  return u->arena + at;
}
void fj_uct_arena_reset(fj_uct *u) { u->arena_used = 0; }

static void *arena_alloc(void *ud, size_t size, size_t align) { return fj_uct_alloc(ud, size, align); }
static void arena_free(void *ud, void *p, size_t size) { (void)ud, (void)p, (void)size; }
fj_allocator fj_uct_allocator(fj_uct *u) {
  fj_allocator a = {arena_alloc, arena_free, u};
  return a;
}

/* ---- linking ------------------------------------------------------------------------------ */

static uint32_t helper_addr(fj_uct *u, uint32_t id) {
  uint32_t base = (u->flags & FJ_UCT_FAR_HELPERS) ? FJ_UCT_FAR : RT_HELPERS;
  for (uint32_t i = 0; i < u->nhelpers; i++)
    if (u->helper_ids[i] == id) return (base + 4 * i) | 1;
  if (u->nhelpers == RT_NHELPERS) return 0;
  u->helper_ids[u->nhelpers] = id;
  return (base + 4 * u->nhelpers++) | 1;
}

static uint32_t runtime_addr(fj_uct *u, uint32_t rt) {
  static const char *const names[FJ_RT__MAX + 1] = {
    [FJ_RT_CALL] = "fj_thm_rt_call", [FJ_RT_UDIV64] = "fj_rt_udiv64",
    [FJ_RT_UMOD64] = "fj_rt_umod64", [FJ_RT_SDIV64] = "fj_rt_sdiv64",
    [FJ_RT_SMOD64] = "fj_rt_smod64",
  };
  if (rt < 1 || rt > FJ_RT__MAX) return 0;
  uint32_t a = names[rt] ? fj_uct_rt_sym(u, names[rt]) : 0;
  return (a ? a : RT_STUB(rt)) | 1;
}

/* The client linker's hooks (client_runtime/link.h): symbol addresses, island slots. */
static uint64_t sym_addr(void *ud, uint8_t sym, uint32_t id) {
  fj_uct *u = ud;
  return sym == FJ_SYM_HELPER ? helper_addr(u, id) : sym == FJ_SYM_RUNTIME ? runtime_addr(u, id) : 0;
}
static uint64_t island_slot(void *ud, uint64_t addr) {
  fj_uct *u = ud;
  uint32_t size = fj_link_veneer_size(FJ_TARGET_THUMBV7EM), at = (u->code_end + 3) & ~3u;
  if (at + size > FJ_UCT_CODE + FJ_UCT_CODE_SIZE) return 0;
  uint8_t v[16];
  fj_link_veneer_write(FJ_TARGET_THUMBV7EM, v, at, addr);
  write_code(u, at, v, size, false);
  u->code_end = at + size;
  return at;
}

static const loaded_blob *find_trace(const fj_uct *u, uint32_t pc) {
  for (int i = u->nblobs - 1; i >= 0; i--)
    if (u->blobs[i].start_pc == pc) return &u->blobs[i];
  return NULL;
}

/* Validated and linked exactly as the client does it: fj_blob_check, fj_link_relocate (veneers
 * in an island after the code), TRACE sites bound to loaded traces with fj_link_site_set. */
uint32_t fj_uct_load(fj_uct *u, const uint8_t *blob, size_t len) {
  fj_blob_header h;
  if (len < sizeof h) { set_err(u, "blob shorter than its header"); return 0; }
  memcpy(&h, blob, sizeof h);
  fj_blob_expect e = {FJ_TARGET_THUMBV7EM, 0, FJ_BLOB_ANY_PC, h.parent_id, h.parent_exit,
                      0xffffffffu, NULL, NULL};
  fj_blob_view v;
  int why = fj_blob_check(blob, len, &e, &v);
  if (why) { set_err(u, "blob rejected: %s", fj_blob_reject_text(why)); return 0; }
  if (u->nblobs == MAX_BLOBS) { set_err(u, "too many blobs"); return 0; }
  u->loads++;
  uint32_t base = (u->code_end + 15) & ~15u;
  if (base + h.code_size + 64 * VENEER_SIZE > FJ_UCT_CODE + FJ_UCT_CODE_SIZE) {
    if (u->nblobs) { set_err(u, "code area full"); return 0; }
    /* Nothing loaded: start over in a fresh engine.  (Flushing Unicorn 2.0.1's translations
     * instead commits its whole translation buffer, about 1 GB.) */
    uc_close(u->uc);
    u->uc = NULL;
    if (engine_open(u)) { set_err(u, "cannot reopen Unicorn"); return 0; }
    base = FJ_UCT_CODE;
    if (base + h.code_size > FJ_UCT_CODE + FJ_UCT_CODE_SIZE) { set_err(u, "blob too large"); return 0; }
  }
  uint8_t *code = malloc(h.code_size ? h.code_size : 1);
  fj_link_site *sites = malloc((h.nrelocs + 1) * sizeof *sites);
  loaded_blob *lb = &u->blobs[u->nblobs];
  lb->exits = malloc(h.nexits * sizeof *lb->exits + 1);
  if (!code || !sites || !lb->exits) {
    free(code), free(sites), free(lb->exits);
    set_err(u, "out of memory");
    return 0;
  }
  memcpy(code, v.code, h.code_size);
  u->code_end = base + h.code_size; /* island slots go after the code */
  fj_link_env env = {FJ_TARGET_THUMBV7EM, sym_addr, island_slot, u};
  uint32_t nsites = 0;
  int rc = fj_link_relocate(&env, &v, code, base, sites, &nsites);
  for (uint32_t i = 0; rc == 0 && i < nsites; i++) {
    const loaded_blob *t = find_trace(u, sites[i].pc);
    if (t && !fj_link_site_set(FJ_TARGET_THUMBV7EM, code, base, &sites[i], (t->base + t->entry_off) | 1))
      rc = FJ_ERANGE;
  }
  free(sites);
  if (rc) {
    free(code), free(lb->exits);
    set_err(u, "link failed: %s", fj_strerror(rc));
    return 0;
  }
  write_code(u, base, code, h.code_size, false);
  free(code);
  for (uint32_t i = 0; i < h.nexits; i++) lb->exits[i] = fj_blob_exit_at(&v, i);
  lb->base = base, lb->entry_off = h.entry_off, lb->start_pc = h.start_pc, lb->nexits = h.nexits;
  u->nblobs++;
  return base;
}

void fj_uct_unload_all(fj_uct *u) {
  for (int i = 0; i < u->nblobs; i++) free(u->blobs[i].exits);
  u->nblobs = 0; /* code_end stays: the next blobs go to fresh addresses (write_code) */
}

int fj_uct_patch_exit(fj_uct *u, uint32_t base, uint32_t exit_id, uint32_t to) {
  for (int i = 0; i < u->nblobs; i++) {
    loaded_blob *b = &u->blobs[i];
    if (b->base != base) continue;
    if (exit_id >= b->nexits || b->exits[exit_id].patch_off == FJ_BLOB_NO_PATCH) return -1;
    uint32_t p = base + b->exits[exit_id].patch_off;
    uint8_t f[4];
    uc_mem_read(u->uc, p, f, 4);
    if (!fj_link_exit_patch(FJ_TARGET_THUMBV7EM, f, p, to | 1)) return -1;
    write_code(u, p, f, 4, true);
    return 0;
  }
  return -1;
}

/* ---- running ------------------------------------------------------------------------------ */

static int run_at(fj_uct *u, uint32_t pc, uint64_t max_insns) {
  set_reg(u, UC_ARM_REG_SP, FJ_UCT_STACK + FJ_UCT_STACK_SIZE - 64);
  set_reg(u, UC_ARM_REG_LR, RT_RET | 1);
  uc_err e = uc_emu_start(u->uc, pc | 1, RT_RET, 0, max_insns);
  uint32_t at = reg(u, UC_ARM_REG_PC);
  if (u->err[0]) return -1;
  if (e != UC_ERR_OK) { set_err(u, "fault at pc 0x%08x: %s", at, uc_strerror(e)); return -1; }
  if (at != RT_RET) { set_err(u, "stopped at pc 0x%08x (instruction limit?)", at); return -1; }
  return 0;
}

int fj_uct_run(fj_uct *u, uint32_t base, uint32_t st, uint32_t stop, uint32_t left, uint32_t *ret,
               uint64_t max_insns) {
  const loaded_blob *b = NULL;
  for (int i = 0; i < u->nblobs; i++)
    if (u->blobs[i].base == base) b = &u->blobs[i];
  u->err[0] = 0;
  memset(&u->stats, 0, sizeof u->stats);
  if (!b) { set_err(u, "no blob at 0x%08x", base); return -1; }
  u->run_st = st;
  uint32_t enter = fj_uct_rt_sym(u, "fj_arch_enter");
  if (enter) {
    /* through the runtime's entry (entry record for FJ_RT_CALL and the deopt stub) */
    if (!stop) stop = fj_uct_addr(u->scratch);
    if (!left) left = fj_uct_addr(u->scratch + 1);
    set_reg(u, UC_ARM_REG_R0, st);
    set_reg(u, UC_ARM_REG_R1, base + b->entry_off);
    set_reg(u, UC_ARM_REG_R2, stop);
    set_reg(u, UC_ARM_REG_R3, left);
    if (run_at(u, enter, max_insns)) return -1;
  } else {
    set_reg(u, UC_ARM_REG_R0, st);
    if (run_at(u, base + b->entry_off, max_insns)) return -1;
  }
  *ret = reg(u, UC_ARM_REG_R0);
  return 0;
}

int fj_uct_call(fj_uct *u, uint32_t fn, const uint32_t args[4], uint64_t *ret, uint64_t max_insns) {
  u->err[0] = 0;
  memset(&u->stats, 0, sizeof u->stats);
  for (int i = 0; i < 4; i++) set_reg(u, UC_ARM_REG_R0 + i, args ? args[i] : 0);
  if (run_at(u, fn, max_insns)) return -1;
  *ret = arg64(u, UC_ARM_REG_R0);
  return 0;
}

const fj_uct_stats *fj_uct_last_stats(const fj_uct *u) { return &u->stats; }
const char *fj_uct_errmsg(const fj_uct *u) { return u->err; }
