/* farjit codegen — machine code under construction: bytes, labels and fixup records.
 *
 * Every backend emits into one fj_mcode.  Nothing that depends on a later position or on an
 * address is computed while emitting: the emitter writes a placeholder and appends a fixup
 * {offset, kind, target}.  fj_fixup_apply() then runs once, after all code is emitted:
 *   - label fixups (sym == 0) are intra-blob: patched here, through the generic kinds
 *     (REL32, ABS32 as a code offset is never used) or the target's patch hook for its private
 *     kinds (Thumb conditional branches, literal loads...);
 *   - symbol fixups (sym = FJ_SYM_*) become fj_blob_reloc records for the client's linker, in
 *     emission order.  TRACE fixups keep the bytes the emitter placed there (a branch to the
 *     local exit) and are additionally bound to a label so that those bytes are correct.
 * Host code (malloc).  Errors are sticky: after an allocation failure every call is a no-op
 * and fj_mcode.oom is set; the driver checks it once.
 */
#ifndef FJ_CODEGEN_FIXUP_H
#define FJ_CODEGEN_FIXUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "farjit/blob.h"

/* Fixup kinds: the public relocation kinds (farjit/blob.h) keep their ids; targets may add
 * private kinds from FJ_FIX_TARGET_BASE on, which only their patch hook understands (they never
 * leave the compiler). */
enum { FJ_FIX_TARGET_BASE = 64 };

enum { FJ_LABEL_NONE = 0xffffffffu };

typedef struct fj_fixup {
  uint32_t offset;  /* code offset of the field */
  uint8_t kind;     /* enum fj_reloc_kind or a target-private kind */
  uint8_t sym;      /* 0: target is a label id; else enum fj_sym_kind */
  uint16_t _pad;
  uint32_t target;  /* label id (sym 0), helper id, enum fj_rt or pc */
  int32_t addend;
  uint32_t label;   /* TRACE fixups: label the initial bytes branch to; else FJ_LABEL_NONE */
} fj_fixup;

typedef struct fj_mcode {
  uint8_t *p;
  uint32_t len, cap;
  uint32_t *labels;  /* label id -> code offset, FJ_LABEL_NONE while unbound */
  uint32_t nlabels, labels_cap;
  fj_fixup *fix;
  uint32_t nfix, fix_cap;
  bool oom;
} fj_mcode;

/* Patch hook for target-private kinds: write the field at code + off so that it refers to
 * code offset `to` (both relative to the code start).  Returns false if out of range. */
typedef bool (*fj_fixup_patch_fn)(uint8_t *code, const fj_fixup *f, uint32_t to);

void fj_mcode_init(fj_mcode *mc);
void fj_mcode_free(fj_mcode *mc);
/* Make room for n more bytes; false (and oom) on failure. */
bool fj_mcode_reserve(fj_mcode *mc, uint32_t n);

static inline void fj_mcode_u8(fj_mcode *mc, uint8_t v) {
  if (mc->len < mc->cap || fj_mcode_reserve(mc, 1)) mc->p[mc->len++] = v;
}
static inline void fj_mcode_u16(fj_mcode *mc, uint16_t v) {
  fj_mcode_u8(mc, (uint8_t)v);
  fj_mcode_u8(mc, (uint8_t)(v >> 8));
}
static inline void fj_mcode_u32(fj_mcode *mc, uint32_t v) {
  fj_mcode_u16(mc, (uint16_t)v);
  fj_mcode_u16(mc, (uint16_t)(v >> 16));
}
static inline void fj_mcode_u64(fj_mcode *mc, uint64_t v) {
  fj_mcode_u32(mc, (uint32_t)v);
  fj_mcode_u32(mc, (uint32_t)(v >> 32));
}
/* Little-endian 32-bit write at an existing offset. */
static inline void fj_mcode_put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t fj_mcode_get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Pad with `fill` bytes (one-byte filler such as x86 nop or int3) to a multiple of align. */
void fj_mcode_align(fj_mcode *mc, uint32_t align, uint8_t fill);

/* Labels: ids are dense, allocated by fj_label_new, bound once. */
uint32_t fj_label_new(fj_mcode *mc);
void fj_label_bind(fj_mcode *mc, uint32_t label);
static inline uint32_t fj_label_offset(const fj_mcode *mc, uint32_t label) {
  return label < mc->nlabels ? mc->labels[label] : FJ_LABEL_NONE;
}

/* Record a fixup of the field at `offset` (usually mc->len before the placeholder). */
void fj_fixup_label(fj_mcode *mc, uint32_t offset, uint8_t kind, uint32_t label);
void fj_fixup_sym(fj_mcode *mc, uint32_t offset, uint8_t kind, uint8_t sym, uint32_t target,
                  int32_t addend);
/* A TRACE link site whose initial bytes branch to `label` (the local exit). */
void fj_fixup_trace(fj_mcode *mc, uint32_t offset, uint8_t kind, uint32_t pc, uint32_t label);

/* Resolve label fixups in place and produce the relocation table (malloc'd; *nrel entries, NULL
 * when none).  Returns 0, or a negative FJ_E* with a reason in err: unbound label, out of range,
 * unknown kind. */
int fj_fixup_apply(fj_mcode *mc, fj_fixup_patch_fn patch, fj_blob_reloc **rel, uint32_t *nrel,
                   char *err, size_t errlen);

#endif /* FJ_CODEGEN_FIXUP_H */
