/* farjit — the client linker (see link.h for the contract). */
#include "client_runtime/link.h"
#include "client_runtime/inline_mem.h"

#include <string.h>

#include "farjit/error.h"

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v) {
  put16(p, (uint16_t)v);
  put16(p + 2, (uint16_t)(v >> 16));
}
static void put64(uint8_t *p, uint64_t v) {
  put32(p, (uint32_t)v);
  put32(p + 4, (uint32_t)(v >> 32));
}

/* ---- field encoders -------------------------------------------------------------------- */

/* x86-64 rel32: value - (P + 4) must fit an int32. */
static bool rel32_word(uint64_t P, uint64_t value, uint32_t *w) {
  int64_t d = (int64_t)(value - (P + 4));
  if (d < INT32_MIN || d > INT32_MAX) return false;
  *w = (uint32_t)(int32_t)d;
  return true;
}

/* Thumb-2 BL (bl = true) or B.W at P to dest: both halfwords as one little-endian word
 * (first halfword in the low 16 bits, as it sits in memory). */
static bool thumb_branch_word(uint64_t P, uint64_t dest, bool bl, uint32_t *w) {
  int64_t d = (int64_t)((dest & ~(uint64_t)1) - (P + 4));
  if (d < -(1 << 24) || d >= (1 << 24) || (d & 1)) return false;
  uint32_t off = (uint32_t)d;
  uint32_t s = (off >> 24) & 1, i1 = (off >> 23) & 1, i2 = (off >> 22) & 1;
  uint32_t j1 = !(i1 ^ s), j2 = !(i2 ^ s);
  uint32_t hw1 = 0xf000 | s << 10 | ((off >> 12) & 0x3ff);
  uint32_t hw2 = (bl ? 0xd000u : 0x9000u) | j1 << 13 | j2 << 11 | ((off >> 1) & 0x7ff);
  *w = hw1 | hw2 << 16;
  return true;
}

/* MOVW/MOVT immediate: keep opcode and register bits, replace imm4:i:imm3:imm8. */
static void thumb_mov_imm16(uint8_t *rw, uint16_t imm) {
  uint16_t hw1 = get16(rw), hw2 = get16(rw + 2);
  hw1 = (uint16_t)((hw1 & ~0x040fu) | ((imm >> 12) & 0xf) | ((imm >> 11) & 1) << 10);
  hw2 = (uint16_t)((hw2 & ~0x70ffu) | ((imm >> 8) & 7) << 12 | (imm & 0xff));
  put16(rw, hw1);
  put16(rw + 2, hw2);
}

bool fj_link_field_write(uint16_t target, uint8_t kind, uint8_t *rw, uint64_t P, uint64_t value) {
  uint32_t w;
  switch (kind) {
  case FJ_RELOC_ABS64: put64(rw, value); return true;
  case FJ_RELOC_ABS32:
    if (value > UINT32_MAX) return false;
    put32(rw, (uint32_t)value);
    return true;
  case FJ_RELOC_REL32:
    if (target != FJ_TARGET_X86_64 || !rel32_word(P, value, &w)) return false;
    put32(rw, w);
    return true;
  case FJ_RELOC_THM_CALL:
  case FJ_RELOC_THM_JUMP24:
    if (target != FJ_TARGET_THUMBV7EM || (P & 1) ||
        !thumb_branch_word(P, value, kind == FJ_RELOC_THM_CALL, &w))
      return false;
    put32(rw, w);
    return true;
  case FJ_RELOC_THM_MOVW_MOVT:
    if (target != FJ_TARGET_THUMBV7EM || value > UINT32_MAX) return false;
    thumb_mov_imm16(rw, (uint16_t)value);
    thumb_mov_imm16(rw + 4, (uint16_t)(value >> 16));
    return true;
  default: return false;
  }
}

/* ---- veneers ------------------------------------------------------------------------------ */

uint32_t fj_link_veneer_size(uint16_t target) {
  return target == FJ_TARGET_X86_64 ? 16 : target == FJ_TARGET_THUMBV7EM ? 8 : 0;
}

void fj_link_veneer_write(uint16_t target, uint8_t *rw, uint64_t slot_va, uint64_t addr) {
  (void)slot_va;
  if (target == FJ_TARGET_X86_64) {
    /* jmp qword [rip + 0]; .quad addr; pad with int3 */
    static const uint8_t jmp_ind[6] = {0xff, 0x25, 0, 0, 0, 0};
    memcpy(rw, jmp_ind, 6);
    put64(rw + 6, addr);
    rw[14] = rw[15] = 0xcc;
  } else if (target == FJ_TARGET_THUMBV7EM) {
    /* ldr.w pc, [pc, #0]  (pc reads as slot + 4: the literal right after); .word addr */
    put16(rw, 0xf8df);
    put16(rw + 2, 0xf000);
    put32(rw + 4, (uint32_t)addr);
  }
}

void fj_link_fill_trap(uint16_t target, uint8_t *rw, size_t n) {
  if (target == FJ_TARGET_THUMBV7EM) {
    for (size_t i = 0; i + 1 < n; i += 2) put16(rw + i, 0xdefe);  /* udf #254 */
    if (n & 1) rw[n - 1] = 0;
  } else {
    memset(rw, 0xcc, n);  /* int3 */
  }
}

/* ---- relocation pass ------------------------------------------------------------------- */

static bool is_branch(uint8_t kind) {
  return kind == FJ_RELOC_REL32 || kind == FJ_RELOC_THM_CALL || kind == FJ_RELOC_THM_JUMP24;
}

int fj_link_relocate(const fj_link_env *env, const fj_blob_view *v, uint8_t *rw, uint64_t va,
                     fj_link_site *sites, uint32_t *nsites) {
  *nsites = 0;
  for (uint32_t i = 0; i < v->h.nrelocs; i++) {
    fj_blob_reloc r = fj_blob_reloc_at(v, i);
    uint8_t *field = rw + r.offset;
    const uint64_t P = va + r.offset;
    if (r.sym == FJ_SYM_TRACE) {
      fj_link_site *s = &sites[(*nsites)++];
      memset(s, 0, sizeof *s);
      s->offset = r.offset;
      s->pc = r.target;
      s->addend = r.addend;
      s->kind = r.kind;
      FJ_MEMCPY(s->orig, field, 4);
      continue;
    }
    uint64_t S = env->sym_addr(env->ud, r.sym, r.target);
    if (!S) return FJ_EHELPER;
    if (fj_link_field_write(env->target, r.kind, field, P, S + (uint64_t)(int64_t)r.addend))
      continue;
    /* Out of range: a branch may go through an island slot (which keeps the addend only when
     * it is 0: a veneer enters the symbol at its start). */
    if (!is_branch(r.kind) || r.addend != 0) return FJ_ERANGE;
    uint64_t ven = env->veneer ? env->veneer(env->ud, S) : 0;
    if (!ven || !fj_link_field_write(env->target, r.kind, field, P, ven)) return FJ_ERANGE;
  }
  return 0;
}

bool fj_link_site_set(uint16_t target, uint8_t *rw_code, uint64_t va_code, fj_link_site *s,
                      uint64_t dest) {
  uint8_t *field = rw_code + s->offset;
  if (!dest) {
    FJ_MEMCPY(field, s->orig, 4);
    s->linked = 0;
    return true;
  }
  if (!fj_link_field_write(target, s->kind, field, va_code + s->offset,
                           dest + (uint64_t)(int64_t)s->addend))
    return false;
  s->linked = 1;
  return true;
}

bool fj_link_exit_patch(uint16_t target, uint8_t *rw, uint64_t P, uint64_t dest) {
  uint32_t w;
  if ((P & 3) || ((uintptr_t)rw & 3)) return false;
  if (target == FJ_TARGET_X86_64) {
    if (!rel32_word(P, dest, &w)) return false;
  } else if (target == FJ_TARGET_THUMBV7EM) {
    if (!thumb_branch_word(P, dest, false, &w)) return false;
  } else {
    return false;
  }
  /* One aligned store: code running on another core sees the old or the new branch. */
#if defined(__GNUC__)
  __atomic_store_n((uint32_t *)(void *)rw, w, __ATOMIC_RELEASE);
#else
  *(volatile uint32_t *)(void *)rw = w;
#endif
  return true;
}
