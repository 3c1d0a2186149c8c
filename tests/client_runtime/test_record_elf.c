/* Recorder tests on an ELF program with data sections (record_src/lddw_data.c): an lddw the
 * loader relocated to a data section is recorded as FJ_REC_LDDW_REGION with the section's region
 * and the offset in it, so the same program records to the same bytes wherever its sections
 * were placed (trace.h; the compile server's cache relies on it). */
#include "tests/client_runtime/vm_test_util.h"

#include "client_runtime/record.h"

#ifndef FJ_RECORD_FIXTURE
#error "FJ_RECORD_FIXTURE must name the compiled record_src/lddw_data.o"
#endif

enum { MAX_RECS = 128 };

static uint8_t *read_fixture(size_t *n) {
  FILE *f = fopen(FJ_RECORD_FIXTURE, "rb");
  if (!f) fail_msg("cannot open %s", FJ_RECORD_FIXTURE);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(*n);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, *n, f), *n);
  fclose(f);
  return b;
}

static fj_vm *elf_vm(void) {
  size_t n;
  uint8_t *b = read_fixture(&n);
  fj_vm *vm = tu_vm();
  int rc = fj_vm_load_elf(vm, b, n);
  free(b);
  if (rc) fail_msg("fj_vm_load_elf: %s: %s", fj_strerror(rc), fj_vm_errmsg(vm));
  return vm;
}

static uint32_t entry_of(fj_vm *vm) {
  int pc = fj_vm_find_entry(vm, "fj_main");
  assert_true(pc >= 0);
  return (uint32_t)pc;
}

/* Record fj_main's entry trace (threshold 1 at its entry) into buf; returns its size. */
static size_t record(fj_vm *vm, uint8_t *buf, size_t cap, uint64_t *r0) {
  uint8_t mem[8] = {0};
  size_t len = 0;
  uint32_t e = entry_of(vm);
  int rc = fj_rec_first_hot(vm, e, mem, sizeof mem, 1, e, buf, cap, &len, r0);
  if (rc < 0) fail_msg("record: %s: %s", fj_strerror(rc), fj_vm_errmsg(vm));
  assert_int_equal(rc, FJ_REC_DONE);
  assert_true(len >= fj_trace_size(1));
  return len;
}

static uint64_t plain_result(void) {
  fj_vm *vm = elf_vm();
  uint8_t mem[8] = {0};
  uint64_t r0 = 0;
  assert_int_equal(fj_vm_run(vm, entry_of(vm), mem, sizeof mem, &r0), 0);
  fj_vm_destroy(vm);
  return r0;
}

/* The 64-bit value the loaded program's lddw at pc holds. */
static uint64_t lddw_value(const fj_vm *vm, uint32_t pc) {
  return (uint64_t)(uint32_t)vm->code[pc].imm | (uint64_t)(uint32_t)vm->code[pc + 1].imm << 32;
}

static void test_lddw_region_fields(void **state) {
  (void)state;
  static _Alignas(8) uint8_t buf[48 + 20 * MAX_RECS];
  fj_vm *vm = elf_vm();
  uint64_t r0 = 0;
  size_t len = record(vm, buf, sizeof buf, &r0);
  const fj_trace_header *h = (const fj_trace_header *)(const void *)buf;
  assert_int_equal(h->version, FJ_TRACE_VERSION);
  assert_int_equal(len, fj_trace_size(h->nrecs));
  const fj_trace_rec *recs = (const fj_trace_rec *)(const void *)(buf + sizeof *h);
  unsigned nreg = 0, nplain = 0, ro = 0, rw = 0, nonzero = 0;
  for (uint32_t i = 0; i < h->nrecs; i++) {
    const fj_trace_rec *r = &recs[i];
    if (vm->x[r->pc].op != FJ_OP_LDDW) {
      assert_int_equal(r->flags & FJ_REC_LDDW_REGION, 0);
      continue;
    }
    uint64_t addr = lddw_value(vm, r->pc);
    int g = fj_rec_region_of(vm, addr, 1);
    if (!(r->flags & FJ_REC_LDDW_REGION)) {
      /* a plain constant: recorded as in the program */
      assert_memory_equal(&r->insn, &vm->code[r->pc], sizeof r->insn);
      assert_int_equal(r->aux, (uint32_t)vm->code[r->pc + 1].imm);
      assert_int_equal(r->region, 0);
      assert_true(g < 2);  /* not a data section's address */
      nplain++;
      continue;
    }
    nreg++;
    assert_true(g >= 2);
    assert_int_equal(r->region, (uint8_t)g);
    assert_true(r->region < h->nregions);
    uint64_t off = addr - vm->regions[g].base;
    assert_true(off < vm->regions[g].size);
    assert_int_equal((uint32_t)r->insn.imm, (uint32_t)off);
    assert_int_equal(r->aux, (uint32_t)(off >> 32));
    /* everything else of the instruction unchanged */
    assert_int_equal(r->insn.code, vm->code[r->pc].code);
    assert_int_equal(r->insn.regs, vm->code[r->pc].regs);
    assert_int_equal(r->insn.off, vm->code[r->pc].off);
    assert_int_equal(r->reserved, 0);
    if (vm->regions[g].flags & FJ_REGION_WRITE) rw++;
    else ro++;
    if (off) nonzero++;
  }
  /* lddw_data.c: .rodata at offsets 0 and 40, .data at 0 before the loop; one plain constant */
  assert_int_equal(nreg, 3);
  assert_int_equal(nplain, 1);
  assert_int_equal(ro, 2);
  assert_int_equal(rw, 1);
  assert_int_equal(nonzero, 1);
  fj_vm_destroy(vm);
  assert_int_equal(r0, plain_result());
}

static void test_same_bytes_at_other_addresses(void **state) {
  (void)state;
  static _Alignas(8) uint8_t b1[48 + 20 * MAX_RECS], b2[48 + 20 * MAX_RECS];
  fj_vm *v1 = elf_vm();
  fj_vm *v2 = elf_vm();  /* both alive: their data sections are at different addresses */
  uint32_t e = entry_of(v1);
  assert_int_equal(e, entry_of(v2));
  /* the loaded programs differ: lddw of .rodata holds each VM's own address */
  unsigned differ = 0;
  for (uint32_t pc = 0; pc + 1 < v1->ninsns; pc++)
    if ((v1->x[pc].flags & FJ_XF_LDDW_REGION) && lddw_value(v1, pc) != lddw_value(v2, pc))
      differ++;
  assert_true(differ >= 3);
  uint64_t r1 = 0, r2 = 0;
  memset(b1, 0x11, sizeof b1);
  memset(b2, 0x22, sizeof b2);
  size_t n1 = record(v1, b1, sizeof b1, &r1);
  size_t n2 = record(v2, b2, sizeof b2, &r2);
  assert_int_equal(n1, n2);
  assert_memory_equal(b1, b2, n1);
  assert_int_equal(r1, r2);
  fj_vm_destroy(v1);
  fj_vm_destroy(v2);
}

/* A raw program loaded without ELF has no relocations: its lddw stays a constant even when
 * the value happens to be a region's address. */
static void test_raw_lddw_not_marked(void **state) {
  (void)state;
  fj_vm *vm = elf_vm();
  for (uint32_t pc = 0; pc < vm->ninsns; pc++)
    if (vm->x[pc].flags & FJ_XF_LDDW_REGION) {
      assert_int_equal(vm->x[pc].op, FJ_OP_LDDW);
      assert_true(vm->x[pc + 1].off >= 2 && (uint32_t)vm->x[pc + 1].off < vm->nregions);
    }
  fj_insn p[3] = {{0x18, 0, 0, 0}, {0, 0, 0, 0}, {0x95, 0, 0, 0}};
  tu_load(vm, p, 3);
  for (uint32_t pc = 0; pc < vm->ninsns; pc++)
    assert_int_equal(vm->x[pc].flags & FJ_XF_LDDW_REGION, 0);
  fj_vm_destroy(vm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lddw_region_fields),
      cmocka_unit_test(test_same_bytes_at_other_addresses),
      cmocka_unit_test(test_raw_lddw_not_marked),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
