/* tests/codegen — minimal in-process blob loader (contract in jitload.h). */
#include "tests/codegen/jitload.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "codegen/x86/emit_x86.h"
#include "farjit/crc32.h"
#include "farjit/error.h"

/* Leaf division routines with the semantics blob.h gives them. */
static uint64_t rt_udiv64(uint64_t a, uint64_t b) { return b ? a / b : 0; }
static uint64_t rt_umod64(uint64_t a, uint64_t b) { return b ? a % b : a; }
static int64_t rt_sdiv64(int64_t a, int64_t b) {
  if (!b) return 0;
  if (b == -1) return (int64_t)(0 - (uint64_t)a);
  return a / b;
}
static int64_t rt_smod64(int64_t a, int64_t b) {
  if (!b) return a;
  if (b == -1) return 0;
  return a % b;
}

enum { ISLAND = 64 };

/* FJ_RT_CALL: the return address into the trace goes to st->call_ret (st is in rbx, PORTING.md),
 * the function in rax is called with the argument registers untouched, and the trampoline
 * returns through st->call_ret (which the runtime may have rewritten). */
static void emit_call_trampoline(fj_mcode *mc) {
  fj_x86_pop_r(mc, FJ_X86_R11);
  fj_x86_mov_mr(mc, 8, FJ_X86_RBX, FJ_JIT_OFF_CALL_RET, FJ_X86_R11);
  fj_x86_call_r(mc, FJ_X86_RAX);
  fj_x86_jmp_m(mc, FJ_X86_RBX, FJ_JIT_OFF_CALL_RET);
}

static int fail(char *err, size_t errlen, const char *msg, uint32_t v) {
  snprintf(err, errlen, "%s (%u)", msg, v);
  return FJ_EBADBLOB;
}

int fj_jl_load(const void *blob, size_t len, const fj_jl_env *env, fj_jl_trace *t, char *err,
               size_t errlen) {
  memset(t, 0, sizeof *t);
  const uint8_t *b = blob;
  if (len < sizeof(fj_blob_header)) return fail(err, errlen, "short blob", (uint32_t)len);
  fj_blob_header h;
  memcpy(&h, b, sizeof h);
  if (h.magic != FJ_BLOB_MAGIC || h.version != FJ_BLOB_VERSION || h.target != FJ_TARGET_X86_64)
    return fail(err, errlen, "bad magic/version/target", h.target);
  if (h.size != len) return fail(err, errlen, "size mismatch", h.size);
  uint32_t crc = h.crc32;
  fj_blob_header z = h;
  z.crc32 = 0;
  uint32_t c = fj_crc32(0, &z, sizeof z);
  c = fj_crc32(c, b + sizeof z, len - sizeof z);
  if (c != crc) return fail(err, errlen, "crc mismatch", c);
  if ((uint64_t)h.code_off + h.code_size > len || h.code_off % 16 ||
      (uint64_t)h.reloc_off + (uint64_t)h.nrelocs * 16 > len ||
      (uint64_t)h.exit_off + (uint64_t)h.nexits * 16 > len || h.entry_off >= h.code_size ||
      h.nexits == 0)
    return fail(err, errlen, "bad layout", 0);

  t->h = h;
  t->map_size = ((size_t)h.code_size + ISLAND + 4095) & ~(size_t)4095;
  t->map = mmap(NULL, t->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (t->map == MAP_FAILED) {
    t->map = NULL;
    return fail(err, errlen, "mmap failed", 0);
  }
  t->code = t->map;
  memcpy(t->code, b + h.code_off, h.code_size);

  /* Trampoline island right after the code (always within rel32 range). */
  uint8_t *island = t->code + ((h.code_size + 15) & ~15u);
  fj_mcode mc;
  fj_mcode_init(&mc);
  emit_call_trampoline(&mc);
  if (mc.oom || mc.len > ISLAND) {
    fj_mcode_free(&mc);
    fj_jl_unload(t);
    return fail(err, errlen, "trampoline", 0);
  }
  memcpy(island, mc.p, mc.len);
  fj_mcode_free(&mc);

  for (uint32_t i = 0; i < h.nrelocs; i++) {
    fj_blob_reloc r;
    memcpy(&r, b + h.reloc_off + 16 * i, sizeof r);
    uint32_t fb = r.kind == FJ_RELOC_ABS64 ? 8 : 4;
    if ((uint64_t)r.offset + fb > h.code_size) {
      fj_jl_unload(t);
      return fail(err, errlen, "relocation outside the code", r.offset);
    }
    uint64_t s = 0;
    if (r.sym == FJ_SYM_HELPER) {
      s = (uint64_t)(uintptr_t)(env && env->helper ? env->helper(env->helper_ud, r.target) : NULL);
    } else if (r.sym == FJ_SYM_RUNTIME) {
      switch (r.target) {
      case FJ_RT_CALL: s = (uint64_t)(uintptr_t)island; break;
      case FJ_RT_CALL_LOCAL: s = (uint64_t)(uintptr_t)(env ? env->call_local : NULL); break;
      case FJ_RT_UDIV64: s = (uint64_t)(uintptr_t)rt_udiv64; break;
      case FJ_RT_UMOD64: s = (uint64_t)(uintptr_t)rt_umod64; break;
      case FJ_RT_SDIV64: s = (uint64_t)(uintptr_t)rt_sdiv64; break;
      case FJ_RT_SMOD64: s = (uint64_t)(uintptr_t)rt_smod64; break;
      default: break;
      }
    } else if (r.sym == FJ_SYM_TRACE) {
      void *e = env && env->trace_at ? env->trace_at(env->trace_ud, r.target) : NULL;
      if (!e) continue;  /* unlinked: keep the compiler's branch to the local exit */
      s = (uint64_t)(uintptr_t)e;
    }
    if (!s) {
      fj_jl_unload(t);
      return fail(err, errlen, "unresolved symbol", r.target);
    }
    uint8_t *p = t->code + r.offset;
    s += (uint64_t)(int64_t)r.addend;
    if (r.kind == FJ_RELOC_ABS64) {
      memcpy(p, &s, 8);
    } else if (r.kind == FJ_RELOC_REL32) {
      int64_t d = (int64_t)(s - ((uint64_t)(uintptr_t)p + 4));
      if (d < INT32_MIN || d > INT32_MAX) {
        fj_jl_unload(t);
        return fail(err, errlen, "rel32 out of range", r.offset);
      }
      int32_t d32 = (int32_t)d;
      memcpy(p, &d32, 4);
    } else {
      fj_jl_unload(t);
      return fail(err, errlen, "relocation kind", r.kind);
    }
  }
  t->exits = malloc(sizeof(fj_blob_exit) * h.nexits);
  if (!t->exits) {
    fj_jl_unload(t);
    return FJ_ENOMEM;
  }
  memcpy(t->exits, b + h.exit_off, sizeof(fj_blob_exit) * h.nexits);
  if (mprotect(t->map, t->map_size, PROT_READ | PROT_EXEC) != 0) {
    fj_jl_unload(t);
    return fail(err, errlen, "mprotect failed", 0);
  }
  void *entry = t->code + h.entry_off;
  memcpy(&t->entry, &entry, sizeof entry);
  return 0;
}

void fj_jl_unload(fj_jl_trace *t) {
  if (t->map) munmap(t->map, t->map_size);
  free(t->exits);
  memset(t, 0, sizeof *t);
}

uint32_t fj_jl_run(fj_jl_trace *t, fj_jit_state *st) { return t->entry(st); }
