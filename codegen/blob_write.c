/* farjit codegen — blob layout and header (contract in blob_write.h). */
#include "codegen/blob_write.h"

#include <stdlib.h>
#include <string.h>

#include "farjit/codegen.h"
#include "farjit/crc32.h"
#include "farjit/error.h"

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

int fj_blob_write(const fj_blob_parts *p, uint8_t **out, size_t *len) {
  *out = NULL;
  *len = 0;
  if (p->code_size && p->entry_off >= p->code_size) return FJ_EINVAL;
  if (!p->code_size) return FJ_EINVAL;
  fj_blob_header h;
  memset(&h, 0, sizeof h);
  uint64_t off = align_up(sizeof h, 16);
  h.code_off = (uint32_t)off;
  off = align_up(off + p->code_size, 8);
  h.reloc_off = (uint32_t)off;
  off = align_up(off + (uint64_t)p->nrelocs * sizeof(fj_blob_reloc), 8);
  h.exit_off = (uint32_t)off;
  off = align_up(off + (uint64_t)p->nexits * sizeof(fj_blob_exit), 8);
  h.meta_off = (uint32_t)off;
  off += p->meta ? p->meta_size : 0;
  uint64_t size = align_up(off, 8);
  if (size > FJ_BLOB_MAX_SIZE) return FJ_ERANGE;

  h.magic = FJ_BLOB_MAGIC;
  h.version = FJ_BLOB_VERSION;
  h.target = p->target;
  h.size = (uint32_t)size;
  h.code_size = p->code_size;
  h.nrelocs = p->nrelocs;
  h.nexits = p->nexits;
  h.meta_size = p->meta ? p->meta_size : 0;
  h.entry_off = p->entry_off;
  h.start_pc = p->start_pc;
  h.kind = p->kind;
  h.parent_id = p->parent_id;
  h.parent_exit = p->parent_exit;
  h.compiler_version = FJ_COMPILER_VERSION;
  h.frame_size = p->frame_size;
  memcpy(h.trace_hash, p->trace_hash, sizeof h.trace_hash);

  uint8_t *b = calloc(1, (size_t)size);
  if (!b) return FJ_ENOMEM;
  memcpy(b, &h, sizeof h);
  memcpy(b + h.code_off, p->code, p->code_size);
  if (p->nrelocs) memcpy(b + h.reloc_off, p->relocs, (size_t)p->nrelocs * sizeof(fj_blob_reloc));
  if (p->nexits) memcpy(b + h.exit_off, p->exits, (size_t)p->nexits * sizeof(fj_blob_exit));
  if (h.meta_size) memcpy(b + h.meta_off, p->meta, h.meta_size);
  h.crc32 = fj_crc32(0, b, (size_t)size);  /* crc32 field is still 0 in b */
  memcpy(b + offsetof(fj_blob_header, crc32), &h.crc32, sizeof h.crc32);
  *out = b;
  *len = (size_t)size;
  return 0;
}
