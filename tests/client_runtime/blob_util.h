/* Test helper (F): build fj_blob bytes from code, relocations and exits, as the compiler would
 * lay them out (header, 16-aligned code, relocs, exits, meta), with a correct CRC. */
#ifndef FJ_TESTS_BLOB_UTIL_H
#define FJ_TESTS_BLOB_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "farjit/blob.h"
#include "farjit/crc32.h"
#include "farjit/trace.h"

typedef struct bu_blob {
  uint8_t *p;
  size_t len;
  fj_blob_header *h;  /* points into p */
} bu_blob;

static inline uint32_t bu_align(uint32_t v, uint32_t a) { return (v + a - 1) & ~(a - 1); }

static inline void bu_crc(bu_blob *b) {
  b->h->crc32 = 0;
  b->h->crc32 = fj_crc32(0, b->p, b->len);
}

static inline bu_blob bu_make(uint16_t target, const uint8_t *code, uint32_t code_size,
                              const fj_blob_reloc *relocs, uint32_t nrelocs,
                              const fj_blob_exit *exits, uint32_t nexits, uint32_t start_pc,
                              uint16_t kind, const char *meta) {
  uint32_t meta_size = meta ? (uint32_t)strlen(meta) : 0;
  uint32_t code_off = bu_align(sizeof(fj_blob_header), 16);
  uint32_t reloc_off = bu_align(code_off + code_size, 8);
  uint32_t exit_off = bu_align(reloc_off + nrelocs * (uint32_t)sizeof(fj_blob_reloc), 8);
  uint32_t meta_off = bu_align(exit_off + nexits * (uint32_t)sizeof(fj_blob_exit), 8);
  uint32_t size = bu_align(meta_off + meta_size, 8);
  bu_blob b;
  b.p = calloc(1, size);
  b.len = size;
  b.h = (fj_blob_header *)(void *)b.p;
  fj_blob_header *h = b.h;
  h->magic = FJ_BLOB_MAGIC;
  h->version = FJ_BLOB_VERSION;
  h->target = target;
  h->size = size;
  h->code_off = code_off;
  h->code_size = code_size;
  h->reloc_off = reloc_off;
  h->nrelocs = nrelocs;
  h->exit_off = exit_off;
  h->nexits = nexits;
  h->meta_off = meta_off;
  h->meta_size = meta_size;
  h->entry_off = 0;
  h->start_pc = start_pc;
  h->kind = kind;
  h->compiler_version = 1;
  memcpy(b.p + code_off, code, code_size);
  if (nrelocs) memcpy(b.p + reloc_off, relocs, nrelocs * sizeof *relocs);
  if (nexits) memcpy(b.p + exit_off, exits, nexits * sizeof *exits);
  if (meta_size) memcpy(b.p + meta_off, meta, meta_size);
  bu_crc(&b);
  return b;
}

static inline void bu_free(bu_blob *b) {
  free(b->p);
  b->p = NULL;
}

/* ---- a tiny x86-64 assembler for hand-written traces ---------------------------------------- */

typedef struct bu_x86 {
  uint8_t code[1024];
  uint32_t n;
  fj_blob_reloc rel[32];
  uint32_t nrel;
  fj_blob_exit ex[16];
  uint32_t nex;
} bu_x86;

static inline void bx_bytes(bu_x86 *a, const char *bytes, uint32_t n) {
  memcpy(a->code + a->n, bytes, n);
  a->n += n;
}
#define BX(a, lit) bx_bytes((a), (lit), (uint32_t)(sizeof(lit) - 1))
static inline void bx_u32(bu_x86 *a, uint32_t v) {
  memcpy(a->code + a->n, &v, 4);
  a->n += 4;
}
static inline void bx_u64(bu_x86 *a, uint64_t v) {
  memcpy(a->code + a->n, &v, 8);
  a->n += 8;
}
static inline void bx_reloc(bu_x86 *a, uint32_t off, uint8_t kind, uint8_t sym, uint32_t target,
                            int32_t addend) {
  fj_blob_reloc r = {off, kind, sym, 0, target, addend};
  a->rel[a->nrel++] = r;
}
/* nop until (n + before) % 4 == 0, so that a field `before` bytes ahead is aligned. */
static inline void bx_align_field(bu_x86 *a, uint32_t before) {
  while ((a->n + before) % 4) BX(a, "\x90");
}
/* mov dword [rdi + 128], id (exit_id); lea rax, [rip - here] ; mov [rdi+112], rax (exit_code);
 * mov eax, id ; then `jmp rel32` (aligned field) to a shared `ret` at `ret_off` (patched later
 * with bx_fix_jmp).  Records exit {pc, patch_off, kind, nframes}.  Returns the jmp field offset. */
static inline uint32_t bx_exit(bu_x86 *a, uint32_t id, uint32_t pc, uint16_t kind) {
  BX(a, "\xc7\x87\x80\x00\x00\x00");
  bx_u32(a, id);
  BX(a, "\x48\x8d\x05");                 /* lea rax, [rip + disp32] */
  bx_u32(a, (uint32_t)(-(int32_t)(a->n + 4)));
  BX(a, "\x48\x89\x47\x70");             /* mov [rdi+112], rax */
  BX(a, "\xb8");
  bx_u32(a, id);                         /* mov eax, id */
  bx_align_field(a, 1);
  BX(a, "\xe9");
  uint32_t field = a->n;
  bx_u32(a, 0);
  fj_blob_exit e = {pc, field, kind, 0, id};
  a->ex[a->nex++] = e;
  return field;
}
static inline void bx_fix_jmp(bu_x86 *a, uint32_t field, uint32_t to) {
  int32_t rel = (int32_t)to - (int32_t)(field + 4);
  memcpy(a->code + field, &rel, 4);
}
/* The usual end of a one-exit test trace: exit `id` (resuming at pc), whose jmp lands on the
 * `ret` that follows it. */
static inline void bx_exit_ret(bu_x86 *a, uint32_t id, uint32_t pc, uint16_t kind) {
  uint32_t f = bx_exit(a, id, pc, kind);
  bx_fix_jmp(a, f, a->n);
  BX(a, "\xc3");
}
/* Every hand-assembled loop blob has one shape: st kept in rbx; at the head a check that at
 * least n budget remains (jl to the BUDGET exit); the body, which jumps back with bx_jb or falls
 * out; then GUARD exit 0 (resuming at guard_pc), BUDGET exit 1 (at budget_pc) and a shared ret. */
typedef struct bx_loop {
  uint32_t head;  /* offset of the budget check: the loop's back-edge target */
  uint32_t jl;    /* rel32 field of the jl to the BUDGET exit */
} bx_loop;
static inline bx_loop bx_loop_open(bu_x86 *a, uint8_t n) {
  bx_loop l;
  BX(a, "\x53\x48\x89\xfb");  /* push rbx; mov rbx, rdi */
  l.head = a->n;
  BX(a, "\x48\x83\x7b\x68");  /* cmp qword [rbx+104], n */
  bx_bytes(a, (const char *)&n, 1);
  BX(a, "\x0f\x8c");          /* jl rel32 */
  l.jl = a->n;
  bx_u32(a, 0);
  return l;
}
/* jb rel32 to `to` (the loop's back edge after an unsigned compare). */
static inline void bx_jb(bu_x86 *a, uint32_t to) {
  BX(a, "\x0f\x82");
  bx_u32(a, (uint32_t)((int32_t)to - (int32_t)(a->n + 4)));
}
static inline void bx_loop_close(bu_x86 *a, bx_loop l, uint32_t guard_pc, uint32_t budget_pc) {
  BX(a, "\x48\x89\xdf\x5b");  /* mov rdi, rbx; pop rbx */
  uint32_t f0 = bx_exit(a, 0, guard_pc, FJ_EXIT_GUARD);
  bx_fix_jmp(a, l.jl, a->n);
  BX(a, "\x48\x89\xdf\x5b");
  uint32_t f1 = bx_exit(a, 1, budget_pc, FJ_EXIT_BUDGET);
  bx_fix_jmp(a, f0, a->n);
  bx_fix_jmp(a, f1, a->n);
  BX(a, "\xc3");
}
static inline bu_blob bx_blob(bu_x86 *a, uint32_t start_pc, uint16_t kind) {
  return bu_make(FJ_TARGET_X86_64, a->code, a->n, a->rel, a->nrel, a->ex, a->nex, start_pc, kind,
                 "hand-assembled test blob");
}

#endif /* FJ_TESTS_BLOB_UTIL_H */
