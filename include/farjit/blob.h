/* farjit — the code blob: what the compiler produces and the client links.
 *
 * One format for every target.  A blob is position independent: the only places that depend on
 * where it, the helpers or the runtime live are listed as relocations, patched by the client's
 * linker in one pass.  The server never bakes in a host address.
 *
 * Layout (little-endian; offsets from the start of the blob; every part 8-byte aligned):
 *   fj_blob_header
 *   code[code_size]                       at code_off (16-aligned)
 *   fj_blob_reloc[nrelocs]                at reloc_off
 *   fj_blob_exit[nexits]                  at exit_off
 *   meta[meta_size]                       at meta_off: UTF-8 text, informational only
 * size == the whole blob; crc32 covers all of it with the crc32 field read as 0.
 *
 * The code is entered through entry_off as a C function of the target's ABI:
 *     uint32_t trace(fj_jit_state *st);      (farjit/jit.h)
 * and returns an exit id < nexits (also stored in st->exit_id).  exits[id] says where the
 * interpreter resumes.  See docs/ARCHITECTURE.md for the full contract.
 */
#ifndef FARJIT_BLOB_H
#define FARJIT_BLOB_H

#include <stdint.h>

#include "farjit/target.h"

#define FJ_BLOB_MAGIC 0x4c424a46u  /* "FJBL" little-endian */
#define FJ_BLOB_VERSION 1
#define FJ_BLOB_MAX_SIZE (1u << 20)

/* How a relocation is patched: _(NAME, id, field bytes, description).  S = symbol address
 * (with the Thumb bit set when it is Thumb code), A = addend, P = address of the field. */
#define FJ_RELOC_KINDS(_)                                                                   \
  _(ABS64,         1, 8, "u64 at P = S + A (x86-64 movabs)")                                \
  _(ABS32,         2, 4, "u32 at P = S + A (literal pool words)")                           \
  _(REL32,         3, 4, "i32 at P = S + A - (P + 4) (x86-64 call/jmp/jcc rel32)")         \
  _(THM_CALL,      4, 4, "Thumb-2 BL at P to S + A, +-16 MiB (veneer if farther)")          \
  _(THM_JUMP24,    5, 4, "Thumb-2 B.W at P to S + A, +-16 MiB (veneer if farther)")         \
  _(THM_MOVW_MOVT, 6, 8, "Thumb-2 MOVW at P, MOVT at P+4: the 32-bit value S + A")

enum fj_reloc_kind {
#define FJ_RELOC_ENUM(name, id, bytes, text) FJ_RELOC_##name = id,
  FJ_RELOC_KINDS(FJ_RELOC_ENUM)
#undef FJ_RELOC_ENUM
  FJ_RELOC__MAX = 6
};

/* What a relocation refers to: _(NAME, id, meaning of `target`). */
#define FJ_SYM_KINDS(_)                                                                     \
  _(HELPER,  1, "helper id: address of the helper function")                               \
  _(RUNTIME, 2, "enum fj_rt: address of a runtime entry point")                            \
  _(TRACE,   3, "pc: entry of the installed trace starting at pc; until one exists the "   \
                "field keeps the bytes the compiler emitted (a branch to the local exit)")

enum fj_sym_kind {
#define FJ_SYM_ENUM(name, id, text) FJ_SYM_##name = id,
  FJ_SYM_KINDS(FJ_SYM_ENUM)
#undef FJ_SYM_ENUM
  FJ_SYM__MAX = 3
};

/* Runtime entry points the client provides: _(NAME, id, C signature as the code calls it).
 * Every call out of a trace (helpers and runtime routines alike, except FJ_RT_DIV* leaf
 * routines) goes through FJ_RT_CALL, which records the return address in st->call_ret so that the
 * runtime can rewrite it (farjit/jit.h). */
#define FJ_RT_ENTRIES(_)                                                                    \
  _(CALL,       1, "trampoline: calls the function in the scratch register (x86-64 rax, "    \
                   "Thumb r12) with the argument registers unchanged; keeps the return "     \
                   "address in st->call_ret")                                              \
  _(CALL_LOCAL, 2, "uint64_t (fj_jit_state *st, uint32_t pc): run local function pc in the " \
                   "interpreter with r1-r5 = st->r[1..5] on the next frame, return r0")      \
  _(UDIV64,     3, "uint64_t (uint64_t a, uint64_t b): a / b, 0 if b == 0 (leaf)")          \
  _(UMOD64,     4, "uint64_t (uint64_t a, uint64_t b): a % b, a if b == 0 (leaf)")          \
  _(SDIV64,     5, "int64_t (int64_t a, int64_t b): a / b, 0 if b == 0, INT64_MIN/-1 = "     \
                   "INT64_MIN (leaf)")                                                     \
  _(SMOD64,     6, "int64_t (int64_t a, int64_t b): a % b, a if b == 0, x % -1 = 0 (leaf)")

enum fj_rt {
#define FJ_RT_ENUM(name, id, text) FJ_RT_##name = id,
  FJ_RT_ENTRIES(FJ_RT_ENUM)
#undef FJ_RT_ENUM
  FJ_RT__MAX = 6
};

typedef struct fj_blob_header {
  uint32_t magic;             /* FJ_BLOB_MAGIC */
  uint16_t version;           /* FJ_BLOB_VERSION */
  uint16_t target;            /* enum fj_target */
  uint32_t size;              /* whole blob in bytes, <= FJ_BLOB_MAX_SIZE */
  uint32_t crc32;             /* fj_crc32 of the blob with this field 0 */
  uint32_t code_off, code_size;
  uint32_t reloc_off, nrelocs;
  uint32_t exit_off, nexits;
  uint32_t meta_off, meta_size;
  uint32_t entry_off;         /* code offset of the entry (Thumb: even; the linker adds the bit) */
  uint32_t start_pc;          /* the trace's start pc */
  uint16_t kind;              /* enum fj_trace_kind of the source trace */
  uint16_t flags;             /* 0 */
  uint32_t parent_id;         /* bridges: as in the trace */
  uint32_t parent_exit;
  uint32_t compiler_version;  /* FJ_COMPILER_VERSION of the producer (informational) */
  uint32_t frame_size;        /* bytes of native stack the code uses (for checking) */
  uint8_t trace_hash[32];     /* SHA-256 of the trace bytes it was compiled from */
  uint32_t reserved;          /* 0 */
} fj_blob_header;
_Static_assert(sizeof(fj_blob_header) == 112, "blob header is a wire format");

typedef struct fj_blob_reloc {
  uint32_t offset;   /* code offset of the field to patch */
  uint8_t kind;      /* enum fj_reloc_kind */
  uint8_t sym;       /* enum fj_sym_kind */
  uint16_t flags;    /* 0 */
  uint32_t target;   /* helper id, enum fj_rt, or pc (per sym) */
  int32_t addend;
} fj_blob_reloc;
_Static_assert(sizeof(fj_blob_reloc) == 16, "relocation record is a wire format");

enum fj_exit_kind {
  FJ_EXIT_GUARD = 1,   /* a guard failed (branch direction, bounds check, division check...) */
  FJ_EXIT_LINK = 2,    /* end of a trace that links to the trace at pc (END_LINK, END_LOOP budget) */
  FJ_EXIT_STOP = 3,    /* trace ended (END_STOP) */
  FJ_EXIT_CALL = 4,    /* resumption point of a call (deopt after return-address rewriting) */
  FJ_EXIT_BUDGET = 5,  /* instruction budget too low for another iteration */
};

typedef struct fj_blob_exit {
  uint32_t pc;         /* where the interpreter resumes */
  uint32_t patch_off;  /* code offset of the 4-byte-aligned branch field the linker may retarget
                          (x86-64: rel32 of a jmp; Thumb: a B.W); 0xffffffff if none */
  uint16_t kind;       /* enum fj_exit_kind */
  uint16_t nframes;    /* inlined call frames live at this exit (written to st->frames) */
  uint32_t snap;       /* index of the snapshot in the compiler's dump, for tools */
} fj_blob_exit;
_Static_assert(sizeof(fj_blob_exit) == 16, "exit record is a wire format");

#define FJ_BLOB_NO_PATCH 0xffffffffu

#endif /* FARJIT_BLOB_H */
