/* farjit codegen — snapshot storage, traversal, printing.  Contract in codegen/snap.h.
 * (Snapshots are taken by the builder, codegen/build.c, which knows the interpreter state.) */
#include "codegen/snap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *grow(fj_ir *ir, void *p, uint32_t *cap, uint32_t need, size_t elt) {
  if (need <= *cap) return p;
  uint32_t n = *cap ? *cap : 16;
  while (n < need) n *= 2;
#if defined(__SANITIZE_ADDRESS__)
  if (need < 1024) n = need;  /* move on every growth: stale fj_snap pointers get caught */
#endif
  void *q = realloc(p, (size_t)n * elt);
  if (!q) fj_ir_abort(ir, FJ_ABORT_NOMEM, "snapshots: out of memory");
  *cap = n;
  return q;
}

uint32_t fj_snap_add(fj_ir *ir, const fj_snap *s, const fj_snap_slot *slots,
                     const fj_snap_frame *frames) {
  if (ir->nsnaps >= FJ_SNAP_MAX)
    fj_ir_abort(ir, FJ_ABORT_SNAP_LIMIT, "more than %u snapshots", FJ_SNAP_MAX);
  ir->snaps = grow(ir, ir->snaps, &ir->snaps_cap, ir->nsnaps + 1, sizeof *ir->snaps);
  ir->slots = grow(ir, ir->slots, &ir->slots_cap, ir->nslots + s->nslots + 1, sizeof *ir->slots);
  ir->frames = grow(ir, ir->frames, &ir->frames_cap, ir->nframes + s->nframes + 1,
                    sizeof *ir->frames);
  fj_snap *d = &ir->snaps[ir->nsnaps];
  *d = *s;
  d->slot0 = ir->nslots;
  d->frame0 = ir->nframes;
  if (s->nslots) memcpy(&ir->slots[ir->nslots], slots, s->nslots * sizeof *slots);
  if (s->nframes) memcpy(&ir->frames[ir->nframes], frames, s->nframes * sizeof *frames);
  ir->nslots += s->nslots;
  ir->nframes += s->nframes;
  return ir->nsnaps++;
}

void fj_snap_foreach_ref(fj_ir *ir, uint32_t i, void (*fn)(void *ud, fj_ref *ref), void *ud) {
  fj_snap *s = &ir->snaps[i];
  for (unsigned k = 0; k < FJ_NREGS; k++)
    if (s->regs[k]) fn(ud, &s->regs[k]);
  for (uint32_t k = 0; k < s->nslots; k++) fn(ud, &ir->slots[s->slot0 + k].ref);
  for (uint32_t k = 0; k < s->nframes; k++) {
    fj_snap_frame *f = &ir->frames[s->frame0 + k];
    for (unsigned j = 0; j < 4; j++) fn(ud, &f->saved[j]);
    fn(ud, &f->fp);
  }
  if (s->budget) fn(ud, &s->budget);
}

static const char *kind_name(unsigned k) {
  switch (k) {
  case FJ_EXIT_GUARD: return "guard";
  case FJ_EXIT_LINK: return "link";
  case FJ_EXIT_STOP: return "stop";
  case FJ_EXIT_CALL: return "call";
  case FJ_EXIT_BUDGET: return "budget";
  default: return "?";
  }
}

size_t fj_snap_format(const fj_ir *ir, uint32_t i, char *buf, size_t cap) {
  fj_sbuf s = {buf, cap, 0};
  if (cap) buf[0] = 0;
  const fj_snap *sn = &ir->snaps[i];
  fj_sbuf_printf(&s, "snap %u %s pc %u", i, kind_name(sn->kind), sn->pc);
  if (sn->nframes) fj_sbuf_printf(&s, " f%u", sn->nframes);
  fj_sbuf_printf(&s, " [");
  bool first = true;
  for (unsigned k = 0; k < FJ_NREGS; k++) {
    if (!sn->regs[k]) continue;
    fj_sbuf_printf(&s, "%sr%u=", first ? "" : " ", k);
    fj_sbuf_ref(&s, ir, sn->regs[k]);
    first = false;
  }
  fj_sbuf_printf(&s, "]");
  if (sn->nslots) {
    fj_sbuf_printf(&s, " {");
    for (uint32_t k = 0; k < sn->nslots; k++) {
      const fj_snap_slot *sl = &ir->slots[sn->slot0 + k];
      fj_sbuf_printf(&s, "%s%d:%u=", k ? " " : "", sl->off, sl->width);
      fj_sbuf_ref(&s, ir, sl->ref);
    }
    fj_sbuf_printf(&s, "}");
  }
  for (uint32_t k = 0; k < sn->nframes; k++) {
    const fj_snap_frame *f = &ir->frames[sn->frame0 + k];
    fj_sbuf_printf(&s, " (ret %u:", f->ret_pc);
    for (unsigned j = 0; j < 4; j++) { fj_sbuf_printf(&s, " "); fj_sbuf_ref(&s, ir, f->saved[j]); }
    fj_sbuf_printf(&s, " fp ");
    fj_sbuf_ref(&s, ir, f->fp);
    fj_sbuf_printf(&s, ")");
  }
  fj_sbuf_printf(&s, " budget ");
  fj_sbuf_ref(&s, ir, sn->budget);
  fj_sbuf_printf(&s, "%+d", sn->budget_adj);
  return s.len;
}
