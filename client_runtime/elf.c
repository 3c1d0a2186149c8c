/* farjit — ELF object parser (see elf.h for the contract).
 *
 * Every field is read byte-wise little-endian from the image after a bounds check, so the parser
 * neither assumes alignment nor trusts any offset or count in the file.  Work happens in passes:
 * header, section table (extents, names, classification), code copy, symbols, relocations.
 */
#include "client_runtime/elf.h"

#include <string.h>

#include "farjit/error.h"

enum {
  EHDR_SIZE = 64, SHDR_SIZE = 64, SYM_SIZE = 24, REL_SIZE = 16,
  EM_BPF = 247, ET_REL = 1,
  SHT_PROGBITS = 1, SHT_SYMTAB = 2, SHT_STRTAB = 3, SHT_RELA = 4, SHT_NOBITS = 8, SHT_REL = 9,
  SHF_ALLOC = 0x2, SHF_EXECINSTR = 0x4,
  STT_FUNC = 2,
  SHN_UNDEF = 0, SHN_COMMON = 0xfff2,
  R_BPF_NONE = 0, R_BPF_64_64 = 1, R_BPF_64_32 = 10,
  OP_LDDW = 0x18, OP_CALL = 0x85,
};

/* What a section is to the loader. */
enum { SEC_OTHER, SEC_CODE, SEC_DATA, SEC_EMPTY_DATA };

typedef struct sec_info {
  uint8_t kind;
  uint32_t index;  /* SEC_CODE: first pc; SEC_DATA: index into prog->data */
} sec_info;

typedef struct shdr {
  uint32_t name, type, link, info;
  uint64_t flags, offset, size, entsize;
} shdr;

typedef struct sym {
  uint32_t name;
  uint8_t info;
  uint16_t shndx;
  uint64_t value, size;
} sym;

typedef struct parser {
  const uint8_t *img;
  size_t len;
  const fj_allocator *mem;
  fj_elf_prog *out;
  char *err;
  size_t errlen, errpos;
  uint64_t shoff;
  uint32_t shnum;
  shdr shstr;           /* section name string table */
  uint32_t symtab_idx;  /* 0 = none */
  shdr symtab, strtab;
  uint32_t nsyms;
  sec_info *secs;       /* per section header, temporary */
  uint8_t *second;      /* per instruction slot: 1 = second half of an lddw, temporary */
  fj_elf_reloc *relocs; /* data relocations while applying, relcap entries, temporary */
  uint32_t relcap;
} parser;

/* ---- messages (no stdio in the core: a few appenders) ---- */

static void m_s(parser *p, const char *s) {
  if (!p->err || p->errlen == 0) return;
  while (*s && p->errpos + 1 < p->errlen) p->err[p->errpos++] = *s++;
  p->err[p->errpos] = '\0';
}

static void m_u(parser *p, uint64_t v) {
  char buf[24];
  int n = 0;
  do { buf[n++] = (char)('0' + v % 10); v /= 10; } while (v);
  char s[24];
  for (int i = 0; i < n; i++) s[i] = buf[n - 1 - i];
  s[n] = '\0';
  m_s(p, s);
}

static void m_x(parser *p, uint64_t v) {
  char s[24] = "0x";
  int n = 0;
  char buf[16];
  do { buf[n++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
  for (int i = 0; i < n; i++) s[2 + i] = buf[n - 1 - i];
  s[2 + n] = '\0';
  m_s(p, s);
}

/* A name from the file, printed with a length cap and non-printables replaced. */
static void m_name(parser *p, const char *s) {
  char buf[40];
  size_t i = 0;
  for (; s[i] && i < sizeof buf - 4; i++) buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
  if (s[i]) { buf[i++] = '.'; buf[i++] = '.'; buf[i++] = '.'; }
  buf[i] = '\0';
  m_s(p, buf);
}

static int fail_with(parser *p, const char *msg, int code) {
  m_s(p, msg);
  return code;
}

static int fail(parser *p, const char *msg) { return fail_with(p, msg, FJ_EBADELF); }

/* ---- bounds-checked reads ---- */

static uint64_t rd(const uint8_t *b, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; i++) v |= (uint64_t)b[i] << (8 * i);
  return v;
}

/* [off, off + size) inside [0, limit)?  Written so that no sum can overflow. */
static int in_range(uint64_t off, uint64_t size, uint64_t limit) {
  return off <= limit && size <= limit - off;
}

static shdr read_shdr(const parser *p, uint32_t i) {
  const uint8_t *b = p->img + p->shoff + (uint64_t)i * SHDR_SIZE;
  shdr h;
  h.name = (uint32_t)rd(b + 0, 4);
  h.type = (uint32_t)rd(b + 4, 4);
  h.flags = rd(b + 8, 8);
  h.offset = rd(b + 24, 8);
  h.size = rd(b + 32, 8);
  h.link = (uint32_t)rd(b + 40, 4);
  h.info = (uint32_t)rd(b + 44, 4);
  h.entsize = rd(b + 56, 8);
  return h;
}

/* NUL-terminated string at off in a string table whose extents were checked, or NULL. */
static const char *str_at(const parser *p, const shdr *tab, uint64_t off) {
  if (off >= tab->size) return NULL;
  const char *s = (const char *)p->img + tab->offset + off;
  if (!memchr(s, '\0', (size_t)(tab->size - off))) return NULL;
  return s;
}

static const char *sec_name(const parser *p, uint32_t i) {
  const char *s = str_at(p, &p->shstr, read_shdr(p, i).name);
  return s ? s : "?";
}

/* "section 5 (.text)" */
static void m_secname(parser *p, uint32_t i) {
  m_s(p, "section ");
  m_u(p, i);
  m_s(p, " (");
  m_name(p, sec_name(p, i));
  m_s(p, ")");
}

/* "section 5 (.text): ", the prefix of messages about one section */
static void m_sec(parser *p, uint32_t i) {
  m_secname(p, i);
  m_s(p, ": ");
}

static sym read_sym(const parser *p, uint32_t i) {
  const uint8_t *b = p->img + p->symtab.offset + (uint64_t)i * SYM_SIZE;
  sym s;
  s.name = (uint32_t)rd(b + 0, 4);
  s.info = b[4];
  s.shndx = (uint16_t)rd(b + 6, 2);
  s.value = rd(b + 8, 8);
  s.size = rd(b + 16, 8);
  return s;
}

static const char *sym_name(const parser *p, const sym *s) {
  const char *n = str_at(p, &p->strtab, s->name);
  return n ? n : "?";
}

static int has_prefix(const char *s, const char *pre) {
  size_t n = strlen(pre);
  return strncmp(s, pre, n) == 0 && (s[n] == '\0' || s[n] == '.');
}

static void copy_name(char dst[FJ_ELF_NAME_MAX], const char *src, uint8_t *truncated) {
  size_t n = strlen(src);
  if (truncated) *truncated = n >= FJ_ELF_NAME_MAX;
  if (n >= FJ_ELF_NAME_MAX) n = FJ_ELF_NAME_MAX - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

/* ---- passes ---- */

static int parse_header(parser *p) {
  const uint8_t *e = p->img;
  if (p->len < EHDR_SIZE) {
    m_s(p, "truncated ELF header: ");
    m_u(p, p->len);
    return fail(p, " bytes, need 64");
  }
  if (memcmp(e, "\x7f" "ELF", 4) != 0) return fail(p, "not an ELF file (bad magic)");
  if (e[4] != 2) return fail(p, "not ELFCLASS64 (class byte is not 2)");
  if (e[5] != 1) return fail(p, "not little-endian (data byte is not 1)");
  if (e[6] != 1) return fail(p, "bad ELF ident version (not 1)");
  uint16_t type = (uint16_t)rd(e + 16, 2), machine = (uint16_t)rd(e + 18, 2);
  if (machine != EM_BPF) {
    m_s(p, "wrong machine ");
    m_u(p, machine);
    return fail(p, ", need EM_BPF (247)");
  }
  if (type != ET_REL) {
    m_s(p, "wrong ELF type ");
    m_u(p, type);
    return fail(p, ", need ET_REL (1): a relocatable object from clang -c");
  }
  p->shoff = rd(e + 40, 8);
  uint16_t shentsize = (uint16_t)rd(e + 58, 2);
  p->shnum = (uint16_t)rd(e + 60, 2);
  uint32_t shstrndx = (uint16_t)rd(e + 62, 2);
  if (shentsize != SHDR_SIZE) {
    m_s(p, "bad section header size ");
    m_u(p, shentsize);
    return fail(p, ", need 64");
  }
  if (p->shnum == 0)
    return fail(p, "no section headers (e_shnum 0; extended numbering unsupported)");
  if (p->shnum > FJ_ELF_MAX_SHDRS) {
    m_s(p, "too many sections: ");
    m_u(p, p->shnum);
    m_s(p, " (limit ");
    m_u(p, FJ_ELF_MAX_SHDRS);
    return fail(p, ")");
  }
  if (!in_range(p->shoff, (uint64_t)p->shnum * SHDR_SIZE, p->len)) {
    m_s(p, "section header table at ");
    m_x(p, p->shoff);
    m_s(p, " (");
    m_u(p, p->shnum);
    m_s(p, " entries) past end of file (");
    m_x(p, p->len);
    return fail(p, ")");
  }
  if (shstrndx == 0 || shstrndx >= p->shnum) {
    m_s(p, "section name string table index ");
    m_u(p, shstrndx);
    m_s(p, " out of range (");
    m_u(p, p->shnum);
    return fail(p, " sections)");
  }
  p->shstr = read_shdr(p, shstrndx);
  if (p->shstr.type != SHT_STRTAB || p->shstr.size == 0 ||
      !in_range(p->shstr.offset, p->shstr.size, p->len)) {
    m_s(p, "section name string table (section ");
    m_u(p, shstrndx);
    return fail(p, ") is not a string table inside the file");
  }
  return 0;
}

/* Extents and names of every section, classification, code layout, the symbol table. */
static int scan_sections(parser *p) {
  fj_elf_prog *o = p->out;
  uint64_t npc = 0;
  for (uint32_t i = 1; i < p->shnum; i++) {
    shdr h = read_shdr(p, i);
    if (!str_at(p, &p->shstr, h.name)) {
      m_s(p, "section ");
      m_u(p, i);
      m_s(p, ": name offset ");
      m_x(p, h.name);
      return fail(p, " outside the section name string table");
    }
    if (h.type != SHT_NOBITS && !in_range(h.offset, h.size, p->len)) {
      m_sec(p, i);
      m_s(p, "offset ");
      m_x(p, h.offset);
      m_s(p, " + size ");
      m_x(p, h.size);
      m_s(p, " past end of file (");
      m_x(p, p->len);
      return fail(p, ")");
    }
    const char *name = sec_name(p, i);
    sec_info *si = &p->secs[i];
    if (h.type == SHT_PROGBITS && (h.flags & SHF_EXECINSTR)) {
      if (h.size % sizeof(fj_insn) != 0) {
        m_sec(p, i);
        m_s(p, "code size ");
        m_u(p, h.size);
        return fail(p, " is not a multiple of 8");
      }
      npc += h.size / sizeof(fj_insn);
      if (npc > FJ_ELF_MAX_INSNS) {
        m_sec(p, i);
        m_s(p, "too much code: more than ");
        m_u(p, FJ_ELF_MAX_INSNS);
        return fail(p, " instructions in all");
      }
      si->kind = SEC_CODE;
      si->index = (uint32_t)(npc - h.size / sizeof(fj_insn));
    } else if ((h.type == SHT_PROGBITS || h.type == SHT_NOBITS) && (h.flags & SHF_ALLOC) &&
               (has_prefix(name, ".rodata") || has_prefix(name, ".data") ||
                has_prefix(name, ".bss"))) {
      if (h.size == 0) {
        si->kind = SEC_EMPTY_DATA;
        continue;
      }
      if (h.size > UINT32_MAX) {
        m_sec(p, i);
        m_s(p, "data section too large (");
        m_x(p, h.size);
        return fail(p, " bytes)");
      }
      if (o->ndata == FJ_ELF_MAX_SECTIONS) {
        m_sec(p, i);
        m_s(p, "too many data sections (limit ");
        m_u(p, FJ_ELF_MAX_SECTIONS);
        return fail(p, ")");
      }
      fj_elf_data *d = &o->data[o->ndata];
      copy_name(d->name, name, NULL);
      d->bytes = h.type == SHT_NOBITS ? NULL : p->img + h.offset;
      d->size = (uint32_t)h.size;
      d->flags = FJ_REGION_READ | (has_prefix(name, ".rodata") ? 0u : (uint32_t)FJ_REGION_WRITE);
      si->kind = SEC_DATA;
      si->index = o->ndata++;
    } else if (h.type == SHT_SYMTAB) {
      if (p->symtab_idx) {
        m_sec(p, i);
        return fail(p, "second symbol table");
      }
      if (h.entsize != SYM_SIZE || h.size % SYM_SIZE != 0) {
        m_sec(p, i);
        return fail(p, "symbol table entry size is not 24 or size not a multiple of it");
      }
      if (h.link == 0 || h.link >= p->shnum) {
        m_sec(p, i);
        m_s(p, "symbol string table index ");
        m_u(p, h.link);
        return fail(p, " out of range");
      }
      shdr st = read_shdr(p, h.link);
      if (st.type != SHT_STRTAB || st.size == 0 || !in_range(st.offset, st.size, p->len)) {
        m_sec(p, i);
        m_s(p, "symbol string table (section ");
        m_u(p, h.link);
        return fail(p, ") is not a string table inside the file");
      }
      p->symtab_idx = i;
      p->symtab = h;
      p->strtab = st;
      p->nsyms = (uint32_t)(h.size / SYM_SIZE);  /* h.size <= len, so this fits */
    }
  }
  if (npc == 0) return fail(p, "no executable section (no code)");
  o->ninsns = (uint32_t)npc;
  return 0;
}

/* Copy code sections into one array and note which slots are second halves of lddw. */
static int copy_code(parser *p) {
  fj_elf_prog *o = p->out;
  o->insns = p->mem->alloc(p->mem->ud, (size_t)o->ninsns * sizeof(fj_insn), 8);
  p->second = p->mem->alloc(p->mem->ud, o->ninsns, 1);
  if (!o->insns || !p->second) return fail_with(p, "out of memory for code", FJ_ENOMEM);
  memset(p->second, 0, o->ninsns);
  for (uint32_t i = 1; i < p->shnum; i++) {
    if (p->secs[i].kind != SEC_CODE) continue;
    shdr h = read_shdr(p, i);
    uint32_t base = p->secs[i].index, n = (uint32_t)(h.size / sizeof(fj_insn));
    memcpy(o->insns + base, p->img + h.offset, (size_t)h.size);
    for (uint32_t k = 0; k + 1 < n; k++) {
      if (o->insns[base + k].code == OP_LDDW) p->second[base + ++k] = 1;
    }
  }
  return 0;
}

static int collect_funcs(parser *p) {
  fj_elf_prog *o = p->out;
  /* Count first so the table is sized to the object: on a device a fixed 256-entry array was
   * most of the RAM an ELF load took. */
  uint32_t n = 0;
  for (uint32_t i = 1; i < p->nsyms; i++) {
    sym s = read_sym(p, i);
    n += (s.info & 0xf) == STT_FUNC && s.shndx < p->shnum && p->secs[s.shndx].kind == SEC_CODE;
  }
  if (n > FJ_ELF_MAX_FUNCS) {
    m_s(p, "too many functions (limit ");
    m_u(p, FJ_ELF_MAX_FUNCS);
    return fail(p, ")");
  }
  if (n == 0) return 0;
  o->funcs = p->mem->alloc(p->mem->ud, (size_t)n * sizeof(fj_elf_func), 8);
  if (!o->funcs) return fail_with(p, "out of memory for functions", FJ_ENOMEM);
  o->funccap = n;
  for (uint32_t i = 1; i < p->nsyms; i++) {
    sym s = read_sym(p, i);
    if ((s.info & 0xf) != STT_FUNC || s.shndx >= p->shnum || p->secs[s.shndx].kind != SEC_CODE)
      continue;
    shdr h = read_shdr(p, s.shndx);
    const char *name = str_at(p, &p->strtab, s.name);
    if (!name) {
      m_s(p, "symbol ");
      m_u(p, i);
      return fail(p, ": name offset outside the string table");
    }
    if (s.value % sizeof(fj_insn) != 0 || s.value >= h.size ||
        !in_range(s.value, s.size, h.size)) {
      m_s(p, "function '");
      m_name(p, name);
      m_s(p, "': value ");
      m_x(p, s.value);
      m_s(p, " size ");
      m_x(p, s.size);
      m_s(p, " not aligned inside ");
      m_secname(p, s.shndx);
      return FJ_EBADELF;
    }
    fj_elf_func *f = &o->funcs[o->nfuncs++];
    copy_name(f->name, name, &f->name_truncated);
    f->pc = p->secs[s.shndx].index + (uint32_t)(s.value / sizeof(fj_insn));
    f->ninsns = (uint32_t)(s.size / sizeof(fj_insn));
    f->is_entry = s.value == 0 && !has_prefix(sec_name(p, s.shndx), ".text");
  }
  return 0;
}

/* "relocation 3 in section 4 (.relxdp): " */
static void m_rel(parser *p, uint32_t sec, uint64_t k) {
  m_s(p, "relocation ");
  m_u(p, k);
  m_s(p, " in ");
  m_sec(p, sec);
}

static int apply_rel(parser *p, uint32_t ri, uint32_t target, uint64_t k, uint32_t *nrel) {
  fj_elf_prog *o = p->out;
  shdr rh = read_shdr(p, ri), th = read_shdr(p, target);
  const uint8_t *b = p->img + rh.offset + k * REL_SIZE;
  uint64_t off = rd(b, 8), info = rd(b + 8, 8);
  uint32_t type = (uint32_t)info, si = (uint32_t)(info >> 32);
  if (type == R_BPF_NONE) return 0;
  if (type != R_BPF_64_64 && type != R_BPF_64_32) {
    m_rel(p, ri, k);
    m_s(p, "unsupported relocation type ");
    m_u(p, type);
    return fail(p, " (only R_BPF_64_64 = 1 and R_BPF_64_32 = 10)");
  }
  if (si == 0 || si >= p->nsyms) {
    m_rel(p, ri, k);
    m_s(p, "symbol index ");
    m_u(p, si);
    m_s(p, " out of range (");
    m_u(p, p->nsyms);
    return fail(p, " symbols)");
  }
  uint64_t need = type == R_BPF_64_64 ? 16 : 8;
  if (off % sizeof(fj_insn) != 0 || !in_range(off, need, th.size)) {
    m_rel(p, ri, k);
    m_s(p, "offset ");
    m_x(p, off);
    m_s(p, " is not on an instruction of ");
    m_secname(p, target);
    return FJ_EBADELF;
  }
  uint32_t pc = p->secs[target].index + (uint32_t)(off / sizeof(fj_insn));
  fj_insn *in = &o->insns[pc];
  if (p->second[pc]) {
    m_rel(p, ri, k);
    m_s(p, "offset ");
    m_x(p, off);
    return fail(p, " is the second half of an lddw, not an instruction");
  }
  sym s = read_sym(p, si);
  const char *sname = sym_name(p, &s);
  if (s.shndx == SHN_UNDEF || s.shndx >= p->shnum) {
    m_rel(p, ri, k);
    m_s(p, s.shndx == SHN_UNDEF ? "undefined symbol '" : "symbol '");
    m_name(p, sname);
    if (s.shndx == SHN_UNDEF) return fail(p, "' (externs are not supported)");
    m_s(p, "' in special or bad section ");
    m_x(p, s.shndx);
    return fail(p, s.shndx == SHN_COMMON ? " (common symbol: build with -fno-common)" : "");
  }
  sec_info ts = p->secs[s.shndx];
  if (type == R_BPF_64_64) {
    if (in->code != OP_LDDW) {
      m_rel(p, ri, k);
      m_s(p, "R_BPF_64_64 at pc ");
      m_u(p, pc);
      m_s(p, " is not on an lddw (opcode ");
      m_x(p, in->code);
      return fail(p, ")");
    }
    uint64_t imm64 = (uint32_t)in[0].imm | (uint64_t)(uint32_t)in[1].imm << 32;
    uint64_t addend = s.value + imm64;
    if (ts.kind == SEC_CODE) {
      uint64_t size = read_shdr(p, s.shndx).size;
      if (addend % sizeof(fj_insn) != 0 || addend >= size) {
        m_rel(p, ri, k);
        m_s(p, "lddw of code at ");
        m_x(p, addend);
        m_s(p, " not on an instruction of ");
        m_secname(p, s.shndx);
        return FJ_EBADELF;
      }
      int64_t tpc = ts.index + (int64_t)(addend / sizeof(fj_insn));
      in[0].regs = (uint8_t)((in[0].regs & 0x0f) | FJ_PSEUDO_FUNC << 4);
      in[0].imm = (int32_t)(tpc - ((int64_t)pc + 1));
      in[1].imm = 0;
      return 0;
    }
    if (ts.kind != SEC_DATA) {
      m_rel(p, ri, k);
      m_s(p, "lddw of symbol '");
      m_name(p, sname);
      m_s(p, "' in ");
      m_sec(p, s.shndx);
      return fail(p, "not code or a loaded data section (.rodata*, .data*, .bss*)");
    }
    if (s.value > p->out->data[ts.index].size) {
      m_rel(p, ri, k);
      m_s(p, "symbol '");
      m_name(p, sname);
      m_s(p, "' value ");
      m_x(p, s.value);
      m_s(p, " past the end of ");
      m_secname(p, s.shndx);
      return FJ_EBADELF;
    }
    fj_elf_reloc *r = &p->relocs[(*nrel)++];
    r->pc = pc;
    r->section = ts.index;
    r->addend = (int64_t)addend;
    return 0;
  }
  /* R_BPF_64_32 */
  if (in->code != OP_CALL || fj_insn_src(*in) == 0) {
    m_rel(p, ri, k);
    m_s(p, "R_BPF_64_32 at pc ");
    m_u(p, pc);
    m_s(p, " is not on a local call (opcode ");
    m_x(p, in->code);
    m_s(p, " src ");
    m_u(p, fj_insn_src(*in));
    return fail(p, ")");
  }
  if (ts.kind != SEC_CODE) {
    m_rel(p, ri, k);
    m_s(p, "call of symbol '");
    m_name(p, sname);
    return fail(p, "', which is not in an executable section");
  }
  uint64_t size = read_shdr(p, s.shndx).size / sizeof(fj_insn);
  int64_t t = (int64_t)(s.value / sizeof(fj_insn)) + (int64_t)in->imm + 1;  /* value <= size */
  if (s.value % sizeof(fj_insn) != 0 || t < 0 || (uint64_t)t >= size) {
    m_rel(p, ri, k);
    m_s(p, "call target ");
    m_u(p, (uint64_t)t);
    m_s(p, " outside ");
    m_secname(p, s.shndx);
    return FJ_EBADELF;
  }
  in->regs = (uint8_t)((in->regs & 0x0f) | FJ_PSEUDO_CALL << 4);
  in->imm = (int32_t)((int64_t)ts.index + t - ((int64_t)pc + 1));
  return 0;
}

static int apply_relocs(parser *p) {
  fj_elf_prog *o = p->out;
  uint64_t maxrel = 0;
  /* Pass 1: check the relocation sections and bound the number of data relocations. */
  for (uint32_t i = 1; i < p->shnum; i++) {
    shdr h = read_shdr(p, i);
    if (h.type != SHT_REL && h.type != SHT_RELA) continue;
    if (h.info == 0 || h.info >= p->shnum) {
      m_sec(p, i);
      m_s(p, "relocated section index ");
      m_u(p, h.info);
      return fail(p, " out of range");
    }
    uint8_t kind = p->secs[h.info].kind;
    if (kind == SEC_OTHER) continue;  /* .BTF, .debug_*: not loaded */
    if (kind != SEC_CODE) {
      m_sec(p, i);
      m_s(p, "relocations in data section ");
      m_name(p, sec_name(p, h.info));
      return fail(p, " (pointers in initialized data) are not supported");
    }
    if (h.type == SHT_RELA) {
      m_sec(p, i);
      return fail(p, "SHT_RELA relocations are not supported (clang emits SHT_REL for BPF)");
    }
    if (h.link != p->symtab_idx || p->symtab_idx == 0) {
      m_sec(p, i);
      m_s(p, "linked symbol table ");
      m_u(p, h.link);
      return fail(p, " is not the symbol table");
    }
    if (h.entsize != REL_SIZE || h.size % REL_SIZE != 0) {
      m_sec(p, i);
      return fail(p, "relocation entry size is not 16 or size not a multiple of it");
    }
    maxrel += h.size / REL_SIZE;
  }
  if (maxrel == 0) return 0;
  /* maxrel <= len / 16 fits in size_t and uint32_t */
  p->relocs = p->mem->alloc(p->mem->ud, (size_t)maxrel * sizeof(fj_elf_reloc), 8);
  if (!p->relocs) return fail_with(p, "out of memory for relocations", FJ_ENOMEM);
  p->relcap = (uint32_t)maxrel;
  /* Pass 2: apply.  Only data relocations are kept, so the list may end up shorter. */
  uint32_t nrel = 0;
  for (uint32_t i = 1; i < p->shnum; i++) {
    shdr h = read_shdr(p, i);
    if (h.type != SHT_REL || p->secs[h.info].kind != SEC_CODE) continue;
    for (uint64_t k = 0; k < h.size / REL_SIZE; k++) {
      int rc = apply_rel(p, i, h.info, k, &nrel);
      if (rc) return rc;
    }
  }
  if (nrel == 0) return 0;
  /* Hand out an array of exactly nrelocs entries: fj_elf_prog_free frees by that size. */
  o->relocs = p->mem->alloc(p->mem->ud, (size_t)nrel * sizeof(fj_elf_reloc), 8);
  if (!o->relocs) return fail_with(p, "out of memory for relocations", FJ_ENOMEM);
  memcpy(o->relocs, p->relocs, (size_t)nrel * sizeof(fj_elf_reloc));
  o->nrelocs = nrel;
  return 0;
}

void fj_elf_prog_free(fj_elf_prog *p, const fj_allocator *mem) {
  if (!p) return;
  if (p->insns) mem->free(mem->ud, p->insns, (size_t)p->ninsns * sizeof(fj_insn));
  if (p->relocs) mem->free(mem->ud, p->relocs, (size_t)p->nrelocs * sizeof(fj_elf_reloc));
  if (p->funcs) mem->free(mem->ud, p->funcs, (size_t)p->funccap * sizeof(fj_elf_func));
  p->insns = NULL;
  p->relocs = NULL;
  p->funcs = NULL;
  p->ninsns = p->nrelocs = p->nfuncs = p->funccap = 0;
}

int fj_elf_parse(const void *img, size_t len, const fj_allocator *mem, fj_elf_prog *out,
                 char *err, size_t errlen) {
  parser p;
  memset(&p, 0, sizeof p);
  p.img = img;
  p.len = len;
  p.mem = mem;
  p.out = out;
  p.err = err;
  p.errlen = err ? errlen : 0;
  if (p.errlen) err[0] = '\0';
  if (!out || !mem) return fail_with(&p, "no output or allocator", FJ_EINVAL);
  memset(out, 0, sizeof *out);
  if (!img) return fail(&p, "no image");
  int rc = parse_header(&p);
  if (rc) return rc;
  p.secs = mem->alloc(mem->ud, (size_t)p.shnum * sizeof(sec_info), 8);
  if (!p.secs) return fail_with(&p, "out of memory", FJ_ENOMEM);
  memset(p.secs, 0, (size_t)p.shnum * sizeof(sec_info));
  rc = scan_sections(&p);
  if (!rc) rc = copy_code(&p);
  if (!rc && p.symtab_idx) rc = collect_funcs(&p);
  if (!rc) rc = apply_relocs(&p);
  mem->free(mem->ud, p.secs, (size_t)p.shnum * sizeof(sec_info));
  if (p.second) mem->free(mem->ud, p.second, out->ninsns);
  if (p.relocs) mem->free(mem->ud, p.relocs, (size_t)p.relcap * sizeof(fj_elf_reloc));
  if (rc) fj_elf_prog_free(out, mem);
  return rc;
}

int fj_elf_find_func(const fj_elf_prog *p, const char *name) {
  if (!p || !name || strlen(name) >= FJ_ELF_NAME_MAX) return -1;
  for (uint32_t i = 0; i < p->nfuncs; i++) {
    if (!p->funcs[i].name_truncated && strcmp(p->funcs[i].name, name) == 0) return (int)i;
  }
  return -1;
}
