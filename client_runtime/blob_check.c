/* farjit — blob validation (see blob_check.h for the contract). */
#include "client_runtime/blob_check.h"
#include "client_runtime/inline_mem.h"

#include <string.h>

#include "farjit/crc32.h"
#include "farjit/ebpf.h"
#include "farjit/trace.h"

const char *fj_blob_reject_text(int reason) {
  switch (reason) {
#define FJ_BLOB_REJECT_TEXT(name, text) case FJ_BLOB_REJECT_##name: return text;
    FJ_BLOB_REJECTS(FJ_BLOB_REJECT_TEXT)
#undef FJ_BLOB_REJECT_TEXT
  default: return "unknown";
  }
}

const char *fj_blob_reject_name(int reason) {
  switch (reason) {
#define FJ_BLOB_REJECT_NAME(name, text) case FJ_BLOB_REJECT_##name: return #name;
    FJ_BLOB_REJECTS(FJ_BLOB_REJECT_NAME)
#undef FJ_BLOB_REJECT_NAME
  default: return "UNKNOWN";
  }
}

uint32_t fj_reloc_field_size(uint32_t kind) {
  switch (kind) {
#define FJ_RELOC_SIZE(name, id, bytes, text) case id: return bytes;
    FJ_RELOC_KINDS(FJ_RELOC_SIZE)
#undef FJ_RELOC_SIZE
  default: return 0;
  }
}

bool fj_reloc_kind_valid(uint32_t target, uint32_t kind) {
  switch (target) {
  case FJ_TARGET_X86_64:
    return kind == FJ_RELOC_ABS64 || kind == FJ_RELOC_ABS32 || kind == FJ_RELOC_REL32;
  case FJ_TARGET_THUMBV7EM:
    return kind == FJ_RELOC_ABS32 || kind == FJ_RELOC_THM_CALL || kind == FJ_RELOC_THM_JUMP24 ||
           kind == FJ_RELOC_THM_MOVW_MOVT;
  default: return false;
  }
}

fj_blob_reloc fj_blob_reloc_at(const fj_blob_view *v, uint32_t i) {
  fj_blob_reloc r;
  FJ_MEMCPY(&r, v->relocs + (size_t)i * sizeof r, sizeof r);
  return r;
}

fj_blob_exit fj_blob_exit_at(const fj_blob_view *v, uint32_t i) {
  fj_blob_exit x;
  FJ_MEMCPY(&x, v->exits + (size_t)i * sizeof x, sizeof x);
  return x;
}

/* [off, off + n) inside [0, total)? */
static bool inside(uint64_t off, uint64_t n, uint64_t total) { return off <= total && n <= total - off; }

/* Is the 4-byte field at patch_off a branch the linker may retarget? */
static bool patchable(uint32_t target, const uint8_t *code, uint32_t off) {
  if (target == FJ_TARGET_X86_64) return off >= 1 && code[off - 1] == 0xe9;  /* jmp rel32 */
  if (target == FJ_TARGET_THUMBV7EM) {  /* B.W: 11110 S imm10, 10 J1 1 J2 imm11 */
    uint16_t hw1 = (uint16_t)(code[off] | code[off + 1] << 8);
    uint16_t hw2 = (uint16_t)(code[off + 2] | code[off + 3] << 8);
    return (hw1 & 0xf800) == 0xf000 && (hw2 & 0xd000) == 0x9000;
  }
  return false;
}

static int check_layout(const fj_blob_header *h) {
  /* Parts: header, code, relocs, exits, meta; each inside the blob, aligned, and the
   * non-empty ones pairwise disjoint. */
  if ((h->code_off & 15) || (h->reloc_off & 7) || (h->exit_off & 7) || (h->meta_off & 7) ||
      h->code_size == 0)
    return FJ_BLOB_REJECT_LAYOUT;
  const uint64_t off[5] = {0, h->code_off, h->reloc_off, h->exit_off, h->meta_off};
  const uint64_t len[5] = {sizeof(fj_blob_header), h->code_size,
                           (uint64_t)h->nrelocs * sizeof(fj_blob_reloc),
                           (uint64_t)h->nexits * sizeof(fj_blob_exit), h->meta_size};
  for (int i = 0; i < 5; i++) {
    if (!inside(off[i], len[i], h->size)) return FJ_BLOB_REJECT_LAYOUT;
    for (int j = 0; j < i; j++)
      if (len[i] && len[j] && off[i] < off[j] + len[j] && off[j] < off[i] + len[i])
        return FJ_BLOB_REJECT_LAYOUT;
  }
  return FJ_BLOB_REJECT_OK;
}

static int check_relocs(const fj_blob_view *v, const fj_blob_expect *e) {
  for (uint32_t i = 0; i < v->h.nrelocs; i++) {
    fj_blob_reloc r = fj_blob_reloc_at(v, i);
    if (r.flags) return FJ_BLOB_REJECT_RESERVED;
    uint32_t n = fj_reloc_field_size(r.kind);
    if (!n || !fj_reloc_kind_valid(v->h.target, r.kind)) return FJ_BLOB_REJECT_RELOC_KIND;
    if (!inside(r.offset, n, v->h.code_size)) return FJ_BLOB_REJECT_RELOC_RANGE;
    if (v->h.target == FJ_TARGET_THUMBV7EM && (r.offset & 1)) return FJ_BLOB_REJECT_RELOC_RANGE;
    switch (r.sym) {
    case FJ_SYM_HELPER:
      if (e->helper_known && !e->helper_known(e->ud, r.target)) return FJ_BLOB_REJECT_RELOC_SYM;
      break;
    case FJ_SYM_RUNTIME:
      if (r.target < 1 || r.target > FJ_RT__MAX) return FJ_BLOB_REJECT_RELOC_SYM;
      break;
    case FJ_SYM_TRACE:
      /* A link is a branch: only branch kinds may name a trace. */
      if (r.target >= e->prog_ninsns) return FJ_BLOB_REJECT_RELOC_SYM;
      if (r.kind != FJ_RELOC_REL32 && r.kind != FJ_RELOC_THM_JUMP24)
        return FJ_BLOB_REJECT_RELOC_KIND;
      break;
    default: return FJ_BLOB_REJECT_RELOC_SYM;
    }
  }
  return FJ_BLOB_REJECT_OK;
}

static int check_exits(const fj_blob_view *v, const fj_blob_expect *e) {
  if (v->h.nexits == 0) return FJ_BLOB_REJECT_NO_EXITS;
  for (uint32_t i = 0; i < v->h.nexits; i++) {
    fj_blob_exit x = fj_blob_exit_at(v, i);
    if (x.kind < FJ_EXIT_GUARD || x.kind > FJ_EXIT_BUDGET || x.pc >= e->prog_ninsns ||
        x.nframes >= FJ_MAX_CALL_DEPTH)
      return FJ_BLOB_REJECT_EXIT_BAD;
    if (x.patch_off == FJ_BLOB_NO_PATCH) continue;
    if ((x.patch_off & 3) || !inside(x.patch_off, 4, v->h.code_size))
      return FJ_BLOB_REJECT_EXIT_RANGE;
    if (!patchable(v->h.target, v->code, x.patch_off)) return FJ_BLOB_REJECT_EXIT_PATCH;
  }
  return FJ_BLOB_REJECT_OK;
}

int fj_blob_check(const void *blob, size_t len, const fj_blob_expect *e, fj_blob_view *v) {
  const uint8_t *b = blob;
  memset(v, 0, sizeof *v);
  if (!b || len < sizeof(fj_blob_header)) return FJ_BLOB_REJECT_TRUNCATED;
  fj_blob_header h;
  FJ_MEMCPY(&h, b, sizeof h);
  if (h.magic != FJ_BLOB_MAGIC) return FJ_BLOB_REJECT_MAGIC;
  if (h.version != FJ_BLOB_VERSION) return FJ_BLOB_REJECT_VERSION;
  if (h.target != e->target) return FJ_BLOB_REJECT_TARGET;
  if (h.size > len) return FJ_BLOB_REJECT_TRUNCATED;
  if (h.size != len || h.size > FJ_BLOB_MAX_SIZE) return FJ_BLOB_REJECT_SIZE;
  uint8_t zero[4] = {0, 0, 0, 0};
  const size_t crc_at = offsetof(fj_blob_header, crc32);
  uint32_t crc = fj_crc32(0, b, crc_at);
  crc = fj_crc32(crc, zero, 4);
  crc = fj_crc32(crc, b + crc_at + 4, len - crc_at - 4);
  if (crc != h.crc32) return FJ_BLOB_REJECT_CRC;
  if (h.flags || h.reserved) return FJ_BLOB_REJECT_RESERVED;
  int rc = check_layout(&h);
  if (rc) return rc;
  if (h.entry_off >= h.code_size || (h.target == FJ_TARGET_THUMBV7EM && (h.entry_off & 1)))
    return FJ_BLOB_REJECT_ENTRY;
  if (h.kind < FJ_TRACE_LOOP || h.kind > FJ_TRACE_BRIDGE || h.start_pc >= e->prog_ninsns ||
      (e->kind && h.kind != e->kind) ||
      (e->start_pc != FJ_BLOB_ANY_PC && h.start_pc != e->start_pc) ||
      (h.kind == FJ_TRACE_BRIDGE &&
       (h.parent_id != e->parent_id || h.parent_exit != e->parent_exit)))
    return FJ_BLOB_REJECT_KIND;
  v->h = h;
  v->blob = b;
  v->code = b + h.code_off;
  v->relocs = b + h.reloc_off;
  v->exits = b + h.exit_off;
  rc = check_relocs(v, e);
  if (!rc) rc = check_exits(v, e);
  if (rc) memset(v, 0, sizeof *v);
  return rc;
}
