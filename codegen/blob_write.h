/* farjit codegen — writing a blob (include/farjit/blob.h) from its parts.
 *
 * The compile driver hands over finished parts (code with intra-blob fixups applied, relocation
 * and exit tables, optional meta text); fj_blob_write lays them out (header, code at a 16-byte
 * aligned offset, every other part 8-byte aligned, padding zero), fills every header field and
 * the CRC-32 last.  It checks only what it owns: sizes and limits (FJ_BLOB_MAX_SIZE), entry
 * inside the code.  Reading and validating blobs is the client's job (blob_check.c).
 * Host code: the result is malloc'd, the caller frees it.
 */
#ifndef FJ_CODEGEN_BLOB_WRITE_H
#define FJ_CODEGEN_BLOB_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "farjit/blob.h"

typedef struct fj_blob_parts {
  uint16_t target;          /* enum fj_target */
  uint16_t kind;            /* enum fj_trace_kind */
  uint32_t start_pc, parent_id, parent_exit;
  uint32_t frame_size;
  uint8_t trace_hash[32];
  const uint8_t *code;
  uint32_t code_size, entry_off;
  const fj_blob_reloc *relocs;
  uint32_t nrelocs;
  const fj_blob_exit *exits;
  uint32_t nexits;
  const char *meta;         /* may be NULL */
  uint32_t meta_size;
} fj_blob_parts;

/* Returns 0 with *out / *len set, FJ_ERANGE if the blob would exceed FJ_BLOB_MAX_SIZE,
 * FJ_EINVAL for an entry outside the code, FJ_ENOMEM. */
int fj_blob_write(const fj_blob_parts *p, uint8_t **out, size_t *len);

#endif /* FJ_CODEGEN_BLOB_WRITE_H */
