/* farjit — validation of a code blob before the client may link or run it (freestanding).
 *
 * A blob comes from the network; nothing in it is trusted.  fj_blob_check() applies every rule
 * of docs/ARCHITECTURE.md section 8 (and the layout rules of include/farjit/blob.h) and either
 * accepts the blob, filling an fj_blob_view the linker works from, or rejects it with one
 * fj_blob_reject reason (counted per reason in the runtime's stats, named in the trace log).
 * It never allocates, never writes to the blob and reads only blob[0..len).  The blob may sit
 * at any alignment: every table entry is read with memcpy.
 */
#ifndef FJ_CLIENT_BLOB_CHECK_H
#define FJ_CLIENT_BLOB_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "farjit/blob.h"

/* _(NAME, "reason") — one row per rule; the first failing rule is reported. */
#define FJ_BLOB_REJECTS(_)                                                           \
  _(OK,            "accepted")                                                       \
  _(TRUNCATED,     "blob shorter than its header or than header.size")               \
  _(MAGIC,         "bad magic")                                                      \
  _(VERSION,       "unsupported blob version")                                       \
  _(TARGET,        "blob built for another target")                                  \
  _(SIZE,          "header.size does not match the received length or is too large") \
  _(CRC,           "CRC-32 mismatch")                                                \
  _(RESERVED,      "reserved or flag field not zero")                                \
  _(LAYOUT,        "a part lies outside the blob, overlaps another or is misaligned") \
  _(ENTRY,         "entry offset outside the code or misaligned")                    \
  _(KIND,          "bad trace kind, or kind/start/parent differ from the request")   \
  _(RELOC_RANGE,   "relocation field outside the code")                              \
  _(RELOC_KIND,    "unknown relocation kind or kind not valid for the target")       \
  _(RELOC_SYM,     "unknown symbol kind, runtime entry, helper or trace pc")         \
  _(EXIT_RANGE,    "exit patch offset outside the code or not 4-byte aligned")       \
  _(EXIT_PATCH,    "exit patch site is not a patchable branch")                      \
  _(EXIT_BAD,      "exit with bad kind, pc outside the program or too many frames")  \
  _(NO_EXITS,      "blob has no exits")

enum fj_blob_reject {
#define FJ_BLOB_REJECT_ENUM(name, text) FJ_BLOB_REJECT_##name,
  FJ_BLOB_REJECTS(FJ_BLOB_REJECT_ENUM)
#undef FJ_BLOB_REJECT_ENUM
  FJ_BLOB_REJECT__COUNT
};
_Static_assert(FJ_BLOB_REJECT__COUNT == 18, "update stats tables that count rejections");

const char *fj_blob_reject_text(int reason);
const char *fj_blob_reject_name(int reason);

/* What the client expects of the blob. */
typedef struct fj_blob_expect {
  uint16_t target;        /* enum fj_target the code must be for */
  uint16_t kind;          /* enum fj_trace_kind requested, 0 = any */
  uint32_t start_pc;      /* requested start pc, or FJ_BLOB_ANY_PC */
  uint32_t parent_id;     /* bridges: as requested */
  uint32_t parent_exit;
  uint32_t prog_ninsns;   /* every pc in the blob is below it */
  /* Is helper id callable?  NULL accepts every id. */
  bool (*helper_known)(const void *ud, uint32_t id);
  const void *ud;
} fj_blob_expect;
#define FJ_BLOB_ANY_PC 0xffffffffu

/* An accepted blob: the header (copied) and the parts (pointers into the blob). */
typedef struct fj_blob_view {
  fj_blob_header h;
  const uint8_t *blob;
  const uint8_t *code;
  const uint8_t *relocs;  /* h.nrelocs records, read with fj_blob_reloc_at */
  const uint8_t *exits;   /* h.nexits records, read with fj_blob_exit_at */
} fj_blob_view;

/* Returns FJ_BLOB_REJECT_OK (0) and fills *v, or the reason the blob is rejected. */
int fj_blob_check(const void *blob, size_t len, const fj_blob_expect *e, fj_blob_view *v);

fj_blob_reloc fj_blob_reloc_at(const fj_blob_view *v, uint32_t i);
fj_blob_exit fj_blob_exit_at(const fj_blob_view *v, uint32_t i);

/* Field width in bytes of a relocation kind, 0 if unknown. */
uint32_t fj_reloc_field_size(uint32_t kind);
/* Is reloc kind usable on target? */
bool fj_reloc_kind_valid(uint32_t target, uint32_t kind);

#endif /* FJ_CLIENT_BLOB_CHECK_H */
