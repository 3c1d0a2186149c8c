/* Tests for client_runtime/elf.c: parse clang-built BPF objects (fixtures compiled at build time
 * from tests/client_runtime/elf_src/), reject corrupted ones with precise messages, and survive
 * random corruption without crashing (run under ASan with SAN=1).  The allocator used here
 * checks that every free matches an allocation of the same size and that nothing leaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client_runtime/elf.h"
#include "farjit/error.h"
#include "tests/client_runtime/elf_fixture.h"

/* ---- a checking allocator ---- */

typedef struct alloc_stats {
  long live;        /* allocations not yet freed */
  size_t live_bytes;
  int fail_after;   /* fail the Nth allocation from now (0 = never) */
} alloc_stats;

static void *chk_alloc(void *ud, size_t size, size_t align) {
  alloc_stats *st = ud;
  assert_true(align && align <= 16 && (align & (align - 1)) == 0);
  if (st->fail_after > 0 && --st->fail_after == 0) return NULL;
  unsigned char *b = malloc(size + 16);
  assert_non_null(b);
  memcpy(b, &size, sizeof size);
  st->live++;
  st->live_bytes += size;
  return b + 16;
}

static void chk_free(void *ud, void *ptr, size_t size) {
  alloc_stats *st = ud;
  if (!ptr) return;
  unsigned char *b = (unsigned char *)ptr - 16;
  size_t got;
  memcpy(&got, b, sizeof got);
  assert_int_equal(got, size); /* freed with the size it was allocated with */
  st->live--;
  st->live_bytes -= size;
  free(b);
}

static alloc_stats g_stats;
static const fj_allocator g_mem = {chk_alloc, chk_free, &g_stats};

static void check_no_leaks(void) {
  assert_int_equal(g_stats.live, 0);
  assert_int_equal(g_stats.live_bytes, 0);
}

/* ---- fixtures (load_fixture: elf_fixture.h) ---- */

/* Minimal ELF accessors for patching fixtures (the parser under test is not used for this). */
static uint64_t get(const uint8_t *p, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}
static void put(uint8_t *p, unsigned n, uint64_t v) {
  for (unsigned i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint8_t *shdr_at(blob *e, unsigned i) { return e->b + get(e->b + 40, 8) + 64 * i; }
static unsigned shnum(blob *e) { return (unsigned)get(e->b + 60, 2); }
static const char *shname(blob *e, unsigned i) {
  uint8_t *strh = shdr_at(e, (unsigned)get(e->b + 62, 2));
  return (const char *)e->b + get(strh + 24, 8) + get(shdr_at(e, i) + 0, 4);
}
static unsigned find_sec(blob *e, const char *name) {
  for (unsigned i = 1; i < shnum(e); i++)
    if (strcmp(shname(e, i), name) == 0) return i;
  fail_msg("fixture has no section %s", name);
  return 0;
}
/* Pointer to relocation entry k of a relocation section. */
static uint8_t *rel_at(blob *e, const char *relsec, unsigned k) {
  uint8_t *h = shdr_at(e, find_sec(e, relsec));
  assert_true(k < get(h + 32, 8) / 16);
  return e->b + get(h + 24, 8) + 16 * k;
}

static int parse(blob *e, fj_elf_prog *p, char *err, size_t errlen) {
  return fj_elf_parse(e->b, e->n, &g_mem, p, err, errlen);
}

static const fj_elf_func *func(const fj_elf_prog *p, const char *name) {
  int i = fj_elf_find_func(p, name);
  if (i < 0) fail_msg("function %s not found", name);
  return &p->funcs[i];
}

static int data_index(const fj_elf_prog *p, const char *name) {
  for (uint32_t i = 0; i < p->ndata; i++)
    if (strcmp(p->data[i].name, name) == 0) return (int)i;
  return -1;
}

/* ---- parsing valid objects ---- */

static void test_calls_layout(void **state) {
  (void)state;
  blob e = load_fixture("calls");
  fj_elf_prog p;
  char err[256];
  int rc = parse(&e, &p, err, sizeof err);
  assert_int_equal(rc, 0);
  /* .text (36 slots), then prog (20), then prog2 (4), in section-header order */
  assert_int_equal(p.ninsns, 36 + 20 + 4);
  assert_int_equal(p.nfuncs, 6);
  const fj_elf_func *m = func(&p, "fj_main"), *sq = func(&p, "square"), *tri = func(&p, "tri");
  const fj_elf_func *cb = func(&p, "add_index"), *sec = func(&p, "second_prog");
  assert_int_equal(m->pc, 36);
  assert_int_equal(m->ninsns, 20);
  assert_true(m->is_entry);
  assert_int_equal(sec->pc, 56);
  assert_true(sec->is_entry);
  assert_false(sq->is_entry);
  assert_int_equal(func(&p, "sum_table")->pc, 0);
  assert_false(func(&p, "sum_table")->is_entry);
  assert_int_equal(fj_elf_find_func(&p, "nope"), -1);

  /* every local call now has src = 1 and a pc-relative target that is a function start */
  int ncalls = 0;
  for (uint32_t pc = 0; pc < p.ninsns; pc++) {
    fj_insn in = p.insns[pc];
    if (in.code == 0x85 && fj_insn_src(in) == FJ_PSEUDO_CALL) {
      uint32_t t = pc + 1 + (uint32_t)in.imm;
      int hit = 0;
      for (uint32_t f = 0; f < p.nfuncs; f++) hit |= p.funcs[f].pc == t;
      assert_true(hit);
      ncalls++;
    }
  }
  assert_int_equal(ncalls, 4); /* sum_table->square, fj_main->sum_table, ->tri, prog2->square */
  /* the cross-section call in prog2 resolves to square */
  assert_int_equal(sec->pc + 1 + 1 + p.insns[sec->pc + 1].imm, sq->pc);

  /* lddw of add_index in tri became src = FJ_PSEUDO_FUNC with a pc-relative imm */
  int nfunc_lddw = 0;
  for (uint32_t pc = tri->pc; pc < tri->pc + tri->ninsns; pc++) {
    fj_insn in = p.insns[pc];
    if (in.code == 0x18 && fj_insn_src(in) == FJ_PSEUDO_FUNC) {
      assert_int_equal(pc + 1 + in.imm, cb->pc);
      assert_int_equal(p.insns[pc + 1].imm, 0);
      nfunc_lddw++;
    }
  }
  assert_int_equal(nfunc_lddw, 1);

  /* data: .data (8 bytes, rw), .bss (32, rw, no bytes), .rodata.cst32 (32, ro) */
  assert_int_equal(p.ndata, 3);
  int d = data_index(&p, ".data"), b = data_index(&p, ".bss"), r = data_index(&p, ".rodata.cst32");
  assert_true(d >= 0 && b >= 0 && r >= 0);
  assert_int_equal(p.data[d].size, 8);
  assert_int_equal(p.data[d].flags, FJ_REGION_READ | FJ_REGION_WRITE);
  uint64_t counter;
  memcpy(&counter, p.data[d].bytes, 8);
  assert_int_equal(counter, 100);
  assert_null(p.data[b].bytes);
  assert_int_equal(p.data[b].size, 32);
  assert_int_equal(p.data[r].flags, FJ_REGION_READ);
  uint32_t t0;
  memcpy(&t0, p.data[r].bytes, 4);
  assert_int_equal(t0, 3);

  /* data relocations: table in sum_table, counter and scratch in fj_main */
  assert_int_equal(p.nrelocs, 3);
  int seen_r = 0, seen_d = 0, seen_b = 0;
  for (uint32_t i = 0; i < p.nrelocs; i++) {
    fj_elf_reloc x = p.relocs[i];
    assert_int_equal(p.insns[x.pc].code, 0x18);
    assert_int_equal(x.addend, 0);
    seen_r += (int)x.section == r && x.pc < 36;
    seen_d += (int)x.section == d && x.pc == m->pc + 1;
    seen_b += (int)x.section == b && x.pc >= m->pc;
  }
  assert_int_equal(seen_r + seen_d + seen_b, 3);
  assert_true(seen_r && seen_d && seen_b);

  fj_elf_prog_free(&p, &g_mem);
  assert_null(p.insns);
  check_no_leaks();
  free(e.b);
}

static void test_strings_addend(void **state) {
  (void)state;
  blob e = load_fixture("strings");
  fj_elf_prog p;
  char err[256];
  assert_int_equal(parse(&e, &p, err, sizeof err), 0);
  int s = data_index(&p, ".rodata.str1.1");
  assert_true(s >= 0);
  assert_int_equal(p.data[s].flags, FJ_REGION_READ);
  /* two lddw of the merged string section; one with the addend clang left in the imm */
  assert_int_equal(p.nrelocs, 2);
  const char *s0 = (const char *)p.data[s].bytes + p.relocs[0].addend;
  const char *s1 = (const char *)p.data[s].bytes + p.relocs[1].addend;
  assert_true(p.relocs[0].addend != p.relocs[1].addend);
  assert_true(p.relocs[0].addend == 0 || p.relocs[1].addend == 0);
  assert_true((!strcmp(s0, "hello") && !strcmp(s1, "hello world")) ||
              (!strcmp(s1, "hello") && !strcmp(s0, "hello world")));
  const fj_elf_func *m = func(&p, "str_main");
  assert_int_equal(m->pc, 0);
  assert_false(m->is_entry); /* .text is not a program section */
  fj_elf_prog_free(&p, &g_mem);
  check_no_leaks();
  free(e.b);
}

/* Relocations against named function symbols (value = the function's offset, imm = -1 for a
 * call and 0 for an lddw) resolve like those against section symbols. */
static void test_global_symbols(void **state) {
  (void)state;
  blob e = load_fixture("global_syms");
  fj_elf_prog p;
  char err[256];
  int rc = parse(&e, &p, err, sizeof err);
  if (rc) fail_msg("%s", err);
  const fj_elf_func *m = func(&p, "glob_main"), *t = func(&p, "times_ten");
  const fj_elf_func *a = func(&p, "accumulate");
  int lddw = 0, call = 0;
  for (uint32_t pc = m->pc; pc < m->pc + m->ninsns; pc++) {
    fj_insn in = p.insns[pc];
    if (in.code == 0x18 && fj_insn_src(in) == FJ_PSEUDO_FUNC) {
      assert_int_equal(pc + 1 + in.imm, a->pc);
      lddw++;
    }
    if (in.code == 0x85 && fj_insn_src(in) == FJ_PSEUDO_CALL) {
      assert_int_equal(pc + 1 + in.imm, t->pc);
      call++;
    }
  }
  assert_int_equal(lddw, 1);
  assert_int_equal(call, 1);
  assert_int_equal(p.nrelocs, 0);
  fj_elf_prog_free(&p, &g_mem);
  check_no_leaks();
  free(e.b);
}

/* With -g the object gains .BTF/.BTF.ext/.debug_* sections and relocations against them
 * (R_BPF_64_ABS64, R_BPF_64_NODYLD32); none of it is loaded, and the program is the same. */
static void test_debug_info_ignored(void **state) {
  (void)state;
  blob e = load_fixture("calls_g");
  assert_true(find_sec(&e, ".BTF") > 0 && find_sec(&e, ".rel.BTF.ext") > 0);
  fj_elf_prog p;
  char err[256];
  int rc = parse(&e, &p, err, sizeof err);
  if (rc) fail_msg("%s", err);
  assert_int_equal(p.ninsns, 60);
  assert_int_equal(p.nfuncs, 6);
  assert_int_equal(p.ndata, 3);
  assert_int_equal(p.nrelocs, 3);
  assert_int_equal(func(&p, "fj_main")->pc, 36);
  fj_elf_prog_free(&p, &g_mem);
  check_no_leaks();
  free(e.b);
}

/* ---- rejections ---- */

static void expect_reject(blob *e, const char *needle) {
  fj_elf_prog p;
  char err[256];
  memset(err, 'x', sizeof err);
  int rc = parse(e, &p, err, sizeof err);
  if (rc != FJ_EBADELF || !strstr(err, needle))
    fail_msg("rc %d, message \"%s\", wanted FJ_EBADELF and \"%s\"", rc, err, needle);
  assert_null(p.insns);
  assert_null(p.relocs);
  check_no_leaks();
}

/* Reload the fixture before each corruption so they don't stack. */
#define WITH_FIXTURE(name, e, body) do { blob e = load_fixture(name); body; free(e.b); } while (0)

static void test_reject_header(void **state) {
  (void)state;
  WITH_FIXTURE("calls", e, { e.n = 40; expect_reject(&e, "truncated ELF header: 40 bytes"); });
  WITH_FIXTURE("calls", e, { e.b[0] = 0; expect_reject(&e, "bad magic"); });
  WITH_FIXTURE("calls", e, { e.b[4] = 1; expect_reject(&e, "ELFCLASS64"); });
  WITH_FIXTURE("calls", e, { e.b[5] = 2; expect_reject(&e, "not little-endian"); });
  WITH_FIXTURE("calls", e, { put(e.b + 18, 2, 62); expect_reject(&e, "wrong machine 62"); });
  WITH_FIXTURE("calls", e, { put(e.b + 16, 2, 2); expect_reject(&e, "wrong ELF type 2"); });
  WITH_FIXTURE("calls", e, { put(e.b + 58, 2, 40); expect_reject(&e, "section header size 40"); });
  WITH_FIXTURE("calls", e, {
    put(e.b + 40, 8, e.n - 64);
    expect_reject(&e, "section header table at");
  });
  WITH_FIXTURE("calls", e, {
    put(e.b + 40, 8, UINT64_MAX - 10); /* offset + size would overflow */
    expect_reject(&e, "past end of file");
  });
  WITH_FIXTURE("calls", e, {
    put(e.b + 60, 2, 2000);
    expect_reject(&e, "too many sections: 2000");
  });
  WITH_FIXTURE("calls", e, { put(e.b + 62, 2, 99); expect_reject(&e, "string table index 99"); });
  WITH_FIXTURE("calls", e, {
    put(e.b + 62, 2, find_sec(&e, ".text"));
    expect_reject(&e, "is not a string table");
  });
}

static void test_reject_sections(void **state) {
  (void)state;
  WITH_FIXTURE("calls", e, {
    put(shdr_at(&e, find_sec(&e, "prog")) + 24, 8, 0x100000);
    expect_reject(&e, "section 4 (prog): offset 0x100000 + size 0xa0 past end of file");
  });
  WITH_FIXTURE("calls", e, {
    put(shdr_at(&e, find_sec(&e, "prog")) + 32, 8, 0x9c);
    expect_reject(&e, "section 4 (prog): code size 156 is not a multiple of 8");
  });
  WITH_FIXTURE("calls", e, {
    put(shdr_at(&e, 3) + 0, 4, 0xffffff);
    expect_reject(&e, "name offset 0xffffff outside");
  });
  WITH_FIXTURE("calls", e, {
    put(shdr_at(&e, find_sec(&e, ".symtab")) + 40, 4, 77);
    expect_reject(&e, "symbol string table index 77 out of range");
  });
  WITH_FIXTURE("calls", e, {
    put(shdr_at(&e, find_sec(&e, ".symtab")) + 56, 8, 16);
    expect_reject(&e, "symbol table entry size");
  });
  WITH_FIXTURE("calls", e, {
    put(shdr_at(&e, find_sec(&e, ".relprog")) + 44, 4, 500);
    expect_reject(&e, "relocated section index 500 out of range");
  });
  WITH_FIXTURE("calls", e, {
    put(shdr_at(&e, find_sec(&e, ".relprog")) + 4, 4, 4 /* SHT_RELA */);
    put(shdr_at(&e, find_sec(&e, ".relprog")) + 56, 8, 24);
    expect_reject(&e, "SHT_RELA relocations are not supported");
  });
  WITH_FIXTURE("calls", e, {
    /* no code at all: make every executable section non-executable */
    for (unsigned i = 1; i < shnum(&e); i++) {
      uint8_t *h = shdr_at(&e, i);
      put(h + 8, 8, get(h + 8, 8) & ~(uint64_t)4);
    }
    expect_reject(&e, "no executable section");
  });
  WITH_FIXTURE("many_funcs", e, { expect_reject(&e, "too many functions (limit 256)"); });
  WITH_FIXTURE("many_data", e, { expect_reject(&e, "too many data sections (limit 16)"); });
  WITH_FIXTURE("data_ptr", e, {
    expect_reject(&e, "relocations in data section .data (pointers in initialized data)");
  });
  WITH_FIXTURE("extern_call", e, { expect_reject(&e, "undefined symbol 'missing_function'"); });
  WITH_FIXTURE("calls", e, {
    /* fj_main's symbol: value not instruction-aligned */
    uint8_t *sh = shdr_at(&e, find_sec(&e, ".symtab"));
    uint8_t *syms = e.b + get(sh + 24, 8);
    unsigned n = (unsigned)(get(sh + 32, 8) / 24);
    uint8_t *strs = e.b + get(shdr_at(&e, (unsigned)get(sh + 40, 4)) + 24, 8);
    for (unsigned i = 0; i < n; i++)
      if (strcmp((char *)strs + get(syms + 24 * i, 4), "fj_main") == 0)
        put(syms + 24 * i + 8, 8, 4);
    expect_reject(&e,
                  "function 'fj_main': value 0x4 size 0xa0 not aligned inside section 4 (prog)");
  });
}

static void test_reject_relocs(void **state) {
  (void)state;
  /* .relprog: 0 = lddw counter @0x8, 1 = lddw scratch @0x48, 2 = call @0x68, 3 = call @0x80 */
  WITH_FIXTURE("calls", e, {
    put(rel_at(&e, ".relprog", 0) + 12, 4, 9999);
    expect_reject(&e, "relocation 0 in section 5 (.relprog): "
                      "symbol index 9999 out of range (15 symbols)");
  });
  WITH_FIXTURE("calls", e, {
    put(rel_at(&e, ".relprog", 1), 8, 0x4c);
    expect_reject(&e, "relocation 1 in section 5 (.relprog): "
                      "offset 0x4c is not on an instruction of section 4 (prog)");
  });
  WITH_FIXTURE("calls", e, {
    put(rel_at(&e, ".relprog", 1), 8, 0xa0); /* one past the end */
    expect_reject(&e, "offset 0xa0 is not on an instruction");
  });
  WITH_FIXTURE("calls", e, {
    put(rel_at(&e, ".relprog", 1), 8, 0x50); /* second slot of the lddw at 0x48 */
    expect_reject(&e, "offset 0x50 is the second half of an lddw");
  });
  WITH_FIXTURE("calls", e, {
    put(rel_at(&e, ".relprog", 0), 8, 0x18); /* a load */
    expect_reject(&e, "R_BPF_64_64 at pc 39 is not on an lddw (opcode 0x79)");
  });
  WITH_FIXTURE("calls", e, {
    put(rel_at(&e, ".relprog", 2), 8, 0x70); /* mov, not a call */
    expect_reject(&e, "R_BPF_64_32 at pc 50 is not on a local call (opcode 0xbf src 0)");
  });
  WITH_FIXTURE("calls", e, {
    put(rel_at(&e, ".relprog", 0) + 8, 4, 99);
    expect_reject(&e, "unsupported relocation type 99");
  });
  WITH_FIXTURE("calls", e, {
    /* call relocated against a data symbol: reuse the symbol of relocation 0 (counter) */
    put(rel_at(&e, ".relprog", 2) + 12, 4, get(rel_at(&e, ".relprog", 0) + 12, 4));
    expect_reject(&e, "call of symbol 'counter', which is not in an executable section");
  });
  WITH_FIXTURE("calls", e, {
    /* data symbol beyond its section: the symbol of relocation 0 (counter, in .data) */
    uint8_t *sh = shdr_at(&e, find_sec(&e, ".symtab"));
    put(e.b + get(sh + 24, 8) + 24 * get(rel_at(&e, ".relprog", 0) + 12, 4) + 8, 8, 0x40);
    expect_reject(&e, "symbol 'counter' value 0x40 past the end of section 8 (.data)");
  });
  WITH_FIXTURE("calls", e, {
    /* call target outside .text: imm of the call at prog+0x80 */
    uint8_t *code = e.b + get(shdr_at(&e, find_sec(&e, "prog")) + 24, 8);
    put(code + 0x80 + 4, 4, 5000);
    expect_reject(&e, "call target 5001 outside section 2 (.text)");
  });
  WITH_FIXTURE("calls", e, {
    /* lddw of a function at a misaligned offset: imm of the lddw at .text+0xb0 */
    uint8_t *code = e.b + get(shdr_at(&e, find_sec(&e, ".text")) + 24, 8);
    put(code + 0xb0 + 4, 4, 250);
    expect_reject(&e, "lddw of code at 0xfa not on an instruction of section 2 (.text)");
  });
}

static void test_err_buffer(void **state) {
  (void)state;
  blob e = load_fixture("calls");
  e.b[4] = 1;
  fj_elf_prog p;
  char small[8];
  memset(small, 'x', sizeof small);
  assert_int_equal(fj_elf_parse(e.b, e.n, &g_mem, &p, small, sizeof small), FJ_EBADELF);
  assert_int_equal(strlen(small), 7); /* truncated, still terminated */
  assert_int_equal(fj_elf_parse(e.b, e.n, &g_mem, &p, NULL, 0), FJ_EBADELF);
  assert_int_equal(fj_elf_parse(NULL, 0, &g_mem, &p, small, sizeof small), FJ_EBADELF);
  check_no_leaks();
  free(e.b);
}

static void test_out_of_memory(void **state) {
  (void)state;
  blob e = load_fixture("calls");
  /* fail each allocation in turn: the parser reports FJ_ENOMEM and leaks nothing */
  int saw_ok = 0;
  for (int n = 1; n <= 8 && !saw_ok; n++) {
    fj_elf_prog p;
    char err[128];
    g_stats.fail_after = n;
    int rc = parse(&e, &p, err, sizeof err);
    g_stats.fail_after = 0;
    if (rc == 0) {
      saw_ok = 1;
      fj_elf_prog_free(&p, &g_mem);
    } else {
      assert_int_equal(rc, FJ_ENOMEM);
      assert_non_null(strstr(err, "out of memory"));
    }
    check_no_leaks();
  }
  assert_true(saw_ok);
  free(e.b);
}

/* ---- random corruption: never crash, never read out of bounds (ASan), never leak ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void check_invariants(const fj_elf_prog *p) {
  assert_non_null(p->insns);
  assert_true(p->ninsns > 0);
  assert_true(p->nfuncs <= FJ_ELF_MAX_FUNCS && p->ndata <= FJ_ELF_MAX_SECTIONS);
  for (uint32_t i = 0; i < p->nfuncs; i++) {
    assert_true(p->funcs[i].pc < p->ninsns);
    assert_true((uint64_t)p->funcs[i].pc + p->funcs[i].ninsns <= p->ninsns);
    assert_true(memchr(p->funcs[i].name, 0, FJ_ELF_NAME_MAX) != NULL);
  }
  for (uint32_t i = 0; i < p->nrelocs; i++) {
    assert_true(p->relocs[i].pc + 1 < p->ninsns);
    assert_int_equal(p->insns[p->relocs[i].pc].code, 0x18);
    assert_true(p->relocs[i].section < p->ndata);
  }
}

static void fuzz_one(const char *name, int iters) {
  blob e = load_fixture(name);
  uint8_t *buf = malloc(e.n);
  uint64_t shoff = get(e.b + 40, 8);
  int accepted = 0, rejected = 0;
  for (int it = 0; it < iters; it++) {
    memcpy(buf, e.b, e.n);
    size_t n = e.n;
    int muts = 1 + (int)(rng() % 6);
    for (int k = 0; k < muts; k++) {
      size_t pos;
      uint64_t r = rng();
      switch (r % 4) {
      case 0: pos = rng() % n; break;                              /* anywhere */
      case 1: pos = rng() % 64; break;                             /* ELF header */
      default: pos = shoff + rng() % (n - shoff); break;           /* section table */
      }
      static const uint8_t interesting[] = {0, 1, 0x7f, 0x80, 0xff, 0x18, 0x85, 8, 16, 24};
      buf[pos] = (r >> 8) % 3 ? interesting[(r >> 16) % sizeof interesting] : (uint8_t)(r >> 24);
    }
    if (rng() % 8 == 0) n = rng() % n; /* truncate */
    /* an exact-size heap copy so ASan catches any read past the end */
    uint8_t *img = malloc(n ? n : 1);
    memcpy(img, buf, n);
    fj_elf_prog p;
    char err[200];
    int rc = fj_elf_parse(img, n, &g_mem, &p, err, sizeof err);
    if (rc == 0) {
      check_invariants(&p);
      fj_elf_prog_free(&p, &g_mem);
      accepted++;
    } else {
      assert_true(rc == FJ_EBADELF);
      assert_true(strlen(err) > 0);
      rejected++;
    }
    check_no_leaks();
    free(img);
  }
  print_message("fuzz %s: %d accepted, %d rejected\n", name, accepted, rejected);
  assert_true(rejected > 0 && accepted > 0); /* the mutations reach both outcomes */
  free(buf);
  free(e.b);
}

static void test_fuzz(void **state) {
  (void)state;
  fuzz_one("calls", 100000);
  fuzz_one("strings", 30000);
  fuzz_one("calls_g", 30000);
}

/* A failed test may leave allocations behind; don't blame the next one. */
static int reset_stats(void **state) {
  (void)state;
  memset(&g_stats, 0, sizeof g_stats);
  return 0;
}

#define T(fn) cmocka_unit_test_setup(fn, reset_stats)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_calls_layout),  T(test_strings_addend), T(test_global_symbols),
      T(test_debug_info_ignored),
      T(test_reject_header),
      T(test_reject_sections), T(test_reject_relocs), T(test_err_buffer),
      T(test_out_of_memory), T(test_fuzz),
  };
  return cmocka_run_group_tests_name("elf", tests, NULL, NULL);
}
