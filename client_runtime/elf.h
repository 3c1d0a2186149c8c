/* farjit — ELF object parser for `clang -target bpf -O2 -c` output (client core, freestanding).
 *
 * fj_elf_parse() turns an ELF image into a program description; it does not touch a VM.  The VM
 * (fj_vm_load_elf in vm.c) copies the data sections into memory it owns, then applies the
 * relocations listed here, so the parser never needs to know where sections end up.
 *
 * Accepted: ELFCLASS64, little-endian, EM_BPF (247), ET_REL.  Program code comes from every
 * executable section (.text and named program sections such as "xdp" or "prog"), laid out one
 * after the other in section-header order; functions are the STT_FUNC symbols in them.  Data
 * sections: .rodata*, .data*, .bss* (NOBITS).  Relocations: R_BPF_64_64 (lddw of a data section
 * address or of a function) and R_BPF_64_32 (call of a local function).
 */
#ifndef FJ_CLIENT_ELF_H
#define FJ_CLIENT_ELF_H

#include <stddef.h>
#include <stdint.h>

#include "farjit/ebpf.h"
#include "farjit/vm.h"

enum { FJ_ELF_NAME_MAX = 48, FJ_ELF_MAX_SECTIONS = 16, FJ_ELF_MAX_FUNCS = 256 };

typedef struct fj_elf_func {
  char name[FJ_ELF_NAME_MAX];
  uint32_t pc;       /* index into insns */
  uint32_t ninsns;   /* size in instructions (0 if the symbol has no size) */
  uint8_t is_entry;  /* first function of a non-.text executable section (a program) */
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
  fj_elf_func funcs[FJ_ELF_MAX_FUNCS];
  uint32_t nfuncs;
  fj_elf_data data[FJ_ELF_MAX_SECTIONS];
  uint32_t ndata;
  fj_elf_reloc *relocs;  /* allocated likewise */
  uint32_t nrelocs;
} fj_elf_prog;

/* Parse img.  On error returns FJ_EBADELF (or FJ_ENOMEM) and writes a message naming the
 * problem ("section 5 (.text): offset 0x... + size 0x... past end of file (0x...)") to err.
 * On success the caller releases the arrays with fj_elf_prog_free. */
int fj_elf_parse(const void *img, size_t len, const fj_allocator *mem, fj_elf_prog *out,
                 char *err, size_t errlen);
void fj_elf_prog_free(fj_elf_prog *p, const fj_allocator *mem);

#endif /* FJ_CLIENT_ELF_H */
