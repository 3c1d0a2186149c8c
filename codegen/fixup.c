/* farjit codegen — machine-code buffer, labels and the one fixup pass (contract in fixup.h). */
#include "codegen/fixup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farjit/error.h"

void fj_mcode_init(fj_mcode *mc) { memset(mc, 0, sizeof *mc); }

void fj_mcode_free(fj_mcode *mc) {
  free(mc->p);
  free(mc->labels);
  free(mc->fix);
  memset(mc, 0, sizeof *mc);
}

/* Grow *arr (elements of size sz, capacity *cap) to hold need elements. */
static bool grow(void **arr, uint32_t *cap, uint32_t need, size_t sz) {
  if (need <= *cap) return true;
  uint32_t n = *cap ? *cap : 64;
  while (n < need) {
    if (n > (1u << 30)) return false;
    n *= 2;
  }
  void *p = realloc(*arr, (size_t)n * sz);
  if (!p) return false;
  *arr = p;
  *cap = n;
  return true;
}

bool fj_mcode_reserve(fj_mcode *mc, uint32_t n) {
  if (mc->oom) return false;
  void *p = mc->p;
  if (mc->len + (uint64_t)n > FJ_BLOB_MAX_SIZE || !grow(&p, &mc->cap, mc->len + n, 1)) {
    mc->oom = true;
    return false;
  }
  mc->p = p;
  return true;
}

void fj_mcode_align(fj_mcode *mc, uint32_t align, uint8_t fill) {
  while (mc->len % align && !mc->oom) fj_mcode_u8(mc, fill);
}

uint32_t fj_label_new(fj_mcode *mc) {
  void *p = mc->labels;
  if (mc->oom || !grow(&p, &mc->labels_cap, mc->nlabels + 1, sizeof *mc->labels)) {
    mc->oom = true;
    return 0;
  }
  mc->labels = p;
  mc->labels[mc->nlabels] = FJ_LABEL_NONE;
  return mc->nlabels++;
}

void fj_label_bind(fj_mcode *mc, uint32_t label) {
  if (label < mc->nlabels) mc->labels[label] = mc->len;
}

static void add_fix(fj_mcode *mc, fj_fixup f) {
  void *p = mc->fix;
  if (mc->oom || !grow(&p, &mc->fix_cap, mc->nfix + 1, sizeof *mc->fix)) {
    mc->oom = true;
    return;
  }
  mc->fix = p;
  mc->fix[mc->nfix++] = f;
}

void fj_fixup_label(fj_mcode *mc, uint32_t offset, uint8_t kind, uint32_t label) {
  add_fix(mc, (fj_fixup){offset, kind, 0, 0, label, 0, FJ_LABEL_NONE});
}

void fj_fixup_sym(fj_mcode *mc, uint32_t offset, uint8_t kind, uint8_t sym, uint32_t target,
                  int32_t addend) {
  add_fix(mc, (fj_fixup){offset, kind, sym, 0, target, addend, FJ_LABEL_NONE});
}

void fj_fixup_trace(fj_mcode *mc, uint32_t offset, uint8_t kind, uint32_t pc, uint32_t label) {
  add_fix(mc, (fj_fixup){offset, kind, FJ_SYM_TRACE, 0, pc, 0, label});
}

static unsigned kind_bytes(uint8_t kind) {
  switch (kind) {
#define FJ_KIND_BYTES(name, id, bytes, text) case id: return bytes;
  FJ_RELOC_KINDS(FJ_KIND_BYTES)
#undef FJ_KIND_BYTES
  default: return 4;  /* target-private kinds patch at most one 32-bit field */
  }
}

/* Point the field of f at code offset `to`. */
static bool patch_label(fj_mcode *mc, const fj_fixup *f, uint32_t to, fj_fixup_patch_fn patch) {
  if (f->kind == FJ_RELOC_REL32) {
    int64_t d = (int64_t)to + f->addend - ((int64_t)f->offset + 4);
    fj_mcode_put32(mc->p + f->offset, (uint32_t)(int32_t)d);
    return true;
  }
  return patch && patch(mc->p, f, to);
}

int fj_fixup_apply(fj_mcode *mc, fj_fixup_patch_fn patch, fj_blob_reloc **rel, uint32_t *nrel,
                   char *err, size_t errlen) {
  *rel = NULL;
  *nrel = 0;
  if (mc->oom) {
    snprintf(err, errlen, "out of memory while emitting code");
    return FJ_ENOMEM;
  }
  uint32_t nsym = 0;
  for (uint32_t i = 0; i < mc->nfix; i++) {
    const fj_fixup *f = &mc->fix[i];
    if ((uint64_t)f->offset + kind_bytes(f->kind) > mc->len) {
      snprintf(err, errlen, "fixup %u: field at %u outside the code (%u bytes)", i, f->offset,
               mc->len);
      return FJ_ECOMPILE;
    }
    if (f->sym) nsym++;
    uint32_t label = f->sym ? f->label : f->target;
    if (f->sym && label == FJ_LABEL_NONE) continue;
    uint32_t to = fj_label_offset(mc, label);
    if (to == FJ_LABEL_NONE) {
      snprintf(err, errlen, "fixup %u at %u: label %u never bound", i, f->offset, label);
      return FJ_ECOMPILE;
    }
    if (!patch_label(mc, f, to, patch)) {
      snprintf(err, errlen, "fixup %u at %u: kind %u cannot reach %u", i, f->offset, f->kind, to);
      return FJ_ECOMPILE;
    }
  }
  if (!nsym) return 0;
  fj_blob_reloc *r = calloc(nsym, sizeof *r);
  if (!r) {
    snprintf(err, errlen, "out of memory (relocations)");
    return FJ_ENOMEM;
  }
  uint32_t n = 0;
  for (uint32_t i = 0; i < mc->nfix; i++) {
    const fj_fixup *f = &mc->fix[i];
    if (!f->sym) continue;
    if (f->kind < 1 || f->kind > FJ_RELOC__MAX) {
      free(r);
      snprintf(err, errlen, "fixup %u: private kind %u cannot be a relocation", i, f->kind);
      return FJ_ECOMPILE;
    }
    r[n++] = (fj_blob_reloc){f->offset, f->kind, f->sym, 0, f->target, f->addend};
  }
  *rel = r;
  *nrel = n;
  return 0;
}
