/* farjit — ELF object parser for `clang -target bpf -O2 -c` output (client core, freestanding).
 *
 * fj_elf_parse() turns an ELF image into a program description; it does not touch a VM.  The VM
 * (fj_vm_load_elf in vm.c) copies the data sections into memory it owns, then applies the
 * relocations listed here, so the parser never needs to know where sections end up.
 *
 * Accepted: ELFCLASS64, little-endian, EM_BPF (247), ET_REL.  Program code comes from every
 * executable section (.text and named program sections such as "xdp" or "prog"), laid out one
 * after the other in section-header order; functions are the STT_FUNC symbols in them.  Data
 * sections: .rodata*, .data*, .bss* (NOBITS) with SHF_ALLOC and a non-zero size.  Relocations
 * (SHT_REL, as clang emits for BPF): R_BPF_64_64 (lddw of a data section address or of a
 * function) and R_BPF_64_32 (call of a local function in another section).  Relocation
 * sections for non-loaded sections (.BTF, .BTF.ext, .debug_*) are ignored; relocations inside
 * data sections (pointers in initialized data) are rejected.
 *
 * Relocation semantics (REL: the addend sits in the instruction, as clang writes it):
 *   R_BPF_64_64 on lddw, symbol in an executable section: target byte offset in that section =
 *     st_value + imm64; the parser rewrites the lddw to src = FJ_PSEUDO_FUNC,
 *     imm = target_pc - (pc + 1), second slot imm = 0.
 *   R_BPF_64_64 on lddw, symbol in a data section: an fj_elf_reloc {pc, data index,
 *     addend = st_value + imm64}; the instruction is left as it is for the VM to overwrite.
 *   R_BPF_64_32 on call: target instruction in the symbol's section = st_value / 8 + imm + 1
 *     (imm is -1 against a function symbol, the offset against a section symbol); the parser
 *     rewrites it to src = FJ_PSEUDO_CALL, imm = target_pc - (pc + 1).
 * Calls inside one section carry no relocation: clang has already resolved them pc-relative,
 * and concatenating sections keeps them valid.
 *
 * Safety: every read is bounds-checked against len; any input, however corrupt, yields either a
 * program or FJ_EBADELF with a message.  The parser allocates only through the given allocator
 * (insns, relocs, and one temporary per-section table freed before returning).
 *
 * Changes from the first version of this contract (additive; the VM's use is unchanged):
 * fj_elf_func.name_truncated, fj_elf_find_func(), FJ_ELF_MAX_SHDRS, FJ_ELF_MAX_INSNS.
 */
#ifndef FJ_CLIENT_ELF_H
#define FJ_CLIENT_ELF_H

#include <stddef.h>
#include <stdint.h>

#include "farjit/ebpf.h"
#include "farjit/vm.h"

enum {
  FJ_ELF_NAME_MAX = 48,        /* function / data section names, NUL included */
  FJ_ELF_MAX_SECTIONS = 16,    /* data sections kept (fj_elf_prog.data) */
  FJ_ELF_MAX_FUNCS = 256,      /* STT_FUNC symbols in executable sections */
  FJ_ELF_MAX_SHDRS = 1024,     /* section headers in the file (e_shnum) */
  FJ_ELF_MAX_INSNS = 1 << 20,  /* instruction slots over all executable sections */
};

typedef struct fj_elf_func {
  char name[FJ_ELF_NAME_MAX];
  uint32_t pc;       /* index into insns */
  uint32_t ninsns;   /* size in instructions (0 if the symbol has no size) */
  uint8_t is_entry;  /* first function of a non-.text executable section (a program) */
  uint8_t name_truncated;  /* the symbol name did not fit; fj_elf_find_func never matches it */
} fj_elf_func;

typedef struct fj_elf_data {
  char name[FJ_ELF_NAME_MAX];
  const uint8_t *bytes;  /* points into the ELF image; NULL for .bss (zero-filled) */
  uint32_t size;
  uint32_t flags;        /* FJ_REGION_READ, plus FJ_REGION_WRITE unless .rodata */
} fj_elf_data;

/* lddw at insns[pc] must load (address of data[section] + addend). Calls and lddw of functions
 * are already resolved by the parser to pc-relative immediates (src = FJ_PSEUDO_CALL /
 * FJ_PSEUDO_FUNC), so only data relocations are left to the VM. */
typedef struct fj_elf_reloc {
  uint32_t pc;
  uint32_t section;   /* index into data[] */
  int64_t addend;
} fj_elf_reloc;

typedef struct fj_elf_prog {
  fj_insn *insns;     /* allocated with the allocator given to fj_elf_parse */
  uint32_t ninsns;
  fj_elf_func *funcs;  /* allocated likewise, exactly nfuncs; in symbol-table order */
  uint32_t nfuncs;
  uint32_t funccap;    /* entries allocated (for fj_elf_prog_free) */
  fj_elf_data data[FJ_ELF_MAX_SECTIONS];
  uint32_t ndata;
  fj_elf_reloc *relocs;  /* allocated likewise; NULL when nrelocs == 0 */
  uint32_t nrelocs;
} fj_elf_prog;

/* Parse img.  On error returns FJ_EBADELF (FJ_ENOMEM when an allocation fails, FJ_EINVAL when
 * out or mem is NULL) and writes a message naming the
 * problem ("section 5 (.text): offset 0x... + size 0x... past end of file (0x...)") to err
 * (always NUL-terminated when errlen > 0; err may be NULL).  On error *out holds nothing that
 * needs freeing.  On success the caller releases the arrays with fj_elf_prog_free. */
int fj_elf_parse(const void *img, size_t len, const fj_allocator *mem, fj_elf_prog *out,
                 char *err, size_t errlen);
void fj_elf_prog_free(fj_elf_prog *p, const fj_allocator *mem);

/* Index into p->funcs of the function called name, or -1. */
int fj_elf_find_func(const fj_elf_prog *p, const char *name);

#endif /* FJ_CLIENT_ELF_H */
