/* Trace verification: every rule of farjit/trace.h accepted/rejected with a message naming the
 * rec and pc; fuzz of trace_read + build + optimizations on random and mutated traces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codegen/opt.h"
#include "codegen/trace_read.h"
#include "farjit/error.h"
#include "farjit/jit.h"
#include "tests/codegen/cg_util.h"

static const char *k_loop =
    "mov %r0, 0\n"
    "mov %r1, 0\n"
    "loop:\n"
    "ldxw %r2, [%r3+0]\n"
    "add %r0, %r2\n"
    "stxdw [%r10-8], %r0\n"
    "add %r1, 1\n"
    "add %r3, 4\n"
    "jlt %r1, 100, loop\n"
    "exit\n";

typedef struct fixture {
  fj_insn *prog;
  uint32_t n;
  uint8_t *bytes;
  size_t len;
} fixture;

/* The loop trace starting at pc 2 (the loop header). */
static void make_loop(fixture *f) {
  f->prog = cu_asm(k_loop, &f->n);
  f->bytes = cu_trace(f->prog, f->n, 2, "t", 1, 100, &f->len);
}

static void drop(fixture *f) {
  free(f->prog);
  free(f->bytes);
}

static fj_trace_header *hdr(fixture *f) { return (fj_trace_header *)f->bytes; }
static fj_trace_rec *rec(fixture *f, unsigned i) {
  return (fj_trace_rec *)(f->bytes + sizeof(fj_trace_header)) + i;
}

static int read_msg(fixture *f, char *msg, size_t cap) {
  fj_trace t;
  int rc = fj_trace_read(f->bytes, f->len, 0, &t, msg, cap);
  fj_trace_release(&t);
  return rc;
}

static void expect_reject(fixture *f, const char *needle) {
  char msg[192];
  int rc = read_msg(f, msg, sizeof msg);
  if (rc != FJ_EBADTRACE) fail_msg("accepted, expected '%s'", needle);
  if (!strstr(msg, needle)) fail_msg("message '%s' lacks '%s'", msg, needle);
}

static void test_valid_loop(void **st) {
  (void)st;
  fixture f;
  make_loop(&f);
  assert_int_equal(hdr(&f)->end, FJ_TRACE_END_LOOP);
  assert_int_equal(hdr(&f)->nrecs, 6);
  fj_trace t;
  char msg[192];
  assert_int_equal(fj_trace_read(f.bytes, f.len, 0, &t, msg, sizeof msg), 0);
  assert_int_equal(t.nrecs, 6);
  assert_int_equal(t.ops[0], FJ_OP_LDXW);
  assert_int_equal(t.ops[5], FJ_OP_JLT64_IMM);
  fj_trace_release(&t);
  drop(&f);
}

static void test_header_rules(void **st) {
  (void)st;
  fixture f;
  make_loop(&f);
  char msg[192];
  fj_trace t;
  assert_int_equal(fj_trace_read(f.bytes, 10, 0, &t, msg, sizeof msg), FJ_EBADTRACE);
  assert_non_null(strstr(msg, "trace header"));
  assert_int_equal(fj_trace_read(f.bytes, f.len - 1, 0, &t, msg, sizeof msg), FJ_EBADTRACE);
  assert_non_null(strstr(msg, "size"));
  assert_int_equal(fj_trace_read(f.bytes, f.len, 3, &t, msg, sizeof msg), FJ_EBADTRACE);
  assert_non_null(strstr(msg, "limit 3"));
  struct { size_t off; uint32_t val; unsigned bytes; const char *needle; } cases[] = {
      {offsetof(fj_trace_header, magic), 0x12345678, 4, "magic"},
      {offsetof(fj_trace_header, version), 4, 2, "version 4, expected 3"},
      {offsetof(fj_trace_header, version), 2, 2, "version 2 (no entry_narrow) is no longer"},
      {offsetof(fj_trace_header, entry_narrow), 0x800, 4, "names registers above r10"},
      {offsetof(fj_trace_header, version), 1, 2, "version 1 (lddw holds the client's data "
                                                 "addresses) is no longer accepted"},
      {offsetof(fj_trace_header, kind), 9, 2, "kind"},
      {offsetof(fj_trace_header, nrecs), 0, 4, "no records"},
      {offsetof(fj_trace_header, end), 0, 2, "end kind"},
      {offsetof(fj_trace_header, flags), 1, 2, "reserved"},
      {offsetof(fj_trace_header, reserved), 1, 4, "reserved"},
      {offsetof(fj_trace_header, prog_ninsns), 0, 4, "empty program"},
      {offsetof(fj_trace_header, start_pc), 500, 4, "start pc"},
      {offsetof(fj_trace_header, end_pc), 500, 4, "end pc"},
      {offsetof(fj_trace_header, nregions), 33, 4, "regions"},
      {offsetof(fj_trace_header, parent_id), 7, 4, "parent"},
      {offsetof(fj_trace_header, end_pc), 3, 4, "loop ends at pc 3"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t save[4];
    memcpy(save, f.bytes + cases[i].off, cases[i].bytes);
    memcpy(f.bytes + cases[i].off, &cases[i].val, cases[i].bytes);
    expect_reject(&f, cases[i].needle);
    memcpy(f.bytes + cases[i].off, save, cases[i].bytes);
  }
  drop(&f);
}

static void test_rec_rules(void **st) {
  (void)st;
  fixture f;
  make_loop(&f);
  fj_trace_rec save;
#define MUT(i, stmt, needle)        \
  do {                              \
    save = *rec(&f, i);             \
    stmt;                           \
    expect_reject(&f, needle);      \
    *rec(&f, i) = save;             \
  } while (0)
  MUT(0, rec(&f, 0)->pc = 3, "trace rec 0 (pc 3): does not start");
  MUT(1, rec(&f, 1)->pc = 9, "trace rec 1 (pc 9): pc >= program length");
  MUT(2, rec(&f, 2)->pc = 5, "trace rec 2 (pc 5): discontinuity");
  MUT(1, rec(&f, 1)->insn.code = 0xff, "trace rec 1 (pc 3): invalid opcode");
  MUT(1, rec(&f, 1)->depth = 1, "trace rec 1 (pc 3): depth 1, expected 0");
  MUT(1, rec(&f, 1)->depth = 9, "depth");
  MUT(0, rec(&f, 0)->region = 4, "trace rec 0 (pc 2): region 4 >= 4 regions");
  MUT(1, rec(&f, 1)->region = 1, "region set on a non-memory");
  MUT(1, rec(&f, 1)->aux = 1, "aux set");
  MUT(1, rec(&f, 1)->flags = FJ_REC_TAKEN, "TAKEN on a non-conditional");
  MUT(1, rec(&f, 1)->flags = FJ_REC_CALL_INTERP, "CALL_INTERP");
  MUT(1, rec(&f, 1)->flags = FJ_REC_LDDW_REGION, "trace rec 1 (pc 3): LDDW_REGION on a non-lddw");
  MUT(0, rec(&f, 0)->flags = FJ_REC_LDDW_REGION, "LDDW_REGION on a non-lddw");
  MUT(1, rec(&f, 1)->flags = 0x80, "unknown flags");
  MUT(1, rec(&f, 1)->reserved = 1, "reserved byte");
  MUT(1, rec(&f, 1)->insn.regs = 0x0a, "writes r10");
  MUT(1, rec(&f, 1)->insn.regs = 0x2c, "bad dst register");
  /* last rec not taken: falls through to exit, not back to the start */
  MUT(5, rec(&f, 5)->flags = 0, "loop trace does not return to its start");
#undef MUT
  /* end kinds inconsistent with the last rec */
  hdr(&f)->end = FJ_TRACE_END_LINK;
  hdr(&f)->end_pc = 3;
  expect_reject(&f, "trace rec 5 (pc 7): link end pc 3");
  hdr(&f)->end_pc = 2;
  fj_trace t;
  char msg[192];
  assert_int_equal(fj_trace_read(f.bytes, f.len, 0, &t, msg, sizeof msg), 0);  /* link to self */
  fj_trace_release(&t);
  hdr(&f)->end = FJ_TRACE_END_STOP;
  hdr(&f)->end_pc = 8;
  expect_reject(&f, "stop end pc 8, control goes to pc 2");
  /* bridges may name a parent */
  hdr(&f)->end = FJ_TRACE_END_LOOP;
  hdr(&f)->end_pc = 2;
  hdr(&f)->kind = FJ_TRACE_BRIDGE;
  hdr(&f)->parent_id = 3;
  assert_int_equal(read_msg(&f, msg, sizeof msg), 0);
  drop(&f);
}

static void test_calls_and_exit(void **st) {
  (void)st;
  uint32_t n;
  fj_insn *p = cu_asm("mov %r1, 1\n"
                      "call local fn\n"
                      "add %r0, 1\n"
                      "exit\n"
                      "fn:\n"
                      "mov %r0, %r1\n"
                      "exit\n", &n);
  size_t len;
  uint8_t *b = cu_trace(p, n, 0, "", 1, 100, &len);
  fj_trace_header *h = (fj_trace_header *)b;
  fj_trace_rec *r = (fj_trace_rec *)(b + sizeof *h);
  assert_int_equal(h->nrecs, 6);
  assert_int_equal(h->end, FJ_TRACE_END_STOP);
  assert_int_equal(h->end_pc, 3);
  assert_int_equal(r[2].depth, 1);
  fj_trace t;
  char msg[192];
  assert_int_equal(fj_trace_read(b, len, 0, &t, msg, sizeof msg), 0);
  fj_trace_release(&t);
  r[1].aux = 5;
  assert_int_equal(fj_trace_read(b, len, 0, &t, msg, sizeof msg), FJ_EBADTRACE);
  assert_non_null(strstr(msg, "trace rec 1 (pc 1): bad callee pc 5"));
  r[1].aux = 4;
  r[3].depth = 0;  /* callee's exit at the wrong depth */
  assert_int_equal(fj_trace_read(b, len, 0, &t, msg, sizeof msg), FJ_EBADTRACE);
  assert_non_null(strstr(msg, "trace rec 3 (pc 5): depth 0, expected 1"));
  r[3].depth = 1;
  h->end_pc = 2;  /* exit at depth 0 must be the stop pc */
  assert_int_equal(fj_trace_read(b, len, 0, &t, msg, sizeof msg), FJ_EBADTRACE);
  assert_non_null(strstr(msg, "exit at depth 0"));
  free(b);
  free(p);
}

/* FJ_REC_LDDW_REGION: accepted on lddw with region < nregions, built as the region's base
 * (loaded from st->regions) plus the offset; rejected elsewhere. */
static void test_lddw_region(void **st) {
  (void)st;
  uint32_t n;
  fj_insn *p = cu_asm("lddw %r2, 0x1234\n"
                      "lddw %r3, fn\n"
                      "ldxdw %r0, [%r2+8]\n"
                      "exit\n"
                      "fn:\n"
                      "exit\n", &n);
  size_t len;
  uint8_t *b = cu_trace(p, n, 0, "", 1, 100, &len);
  fj_trace_header *h = (fj_trace_header *)b;
  fj_trace_rec *r = (fj_trace_rec *)(b + sizeof *h);
  assert_int_equal(h->nrecs, 4);
  h->nregions = 3;
  r[0].flags = FJ_REC_LDDW_REGION;
  r[0].region = 2;
  r[0].aux = 0;  /* offset 0x1234 */
  fj_trace t;
  char msg[192];
  assert_int_equal(fj_trace_read(b, len, 0, &t, msg, sizeof msg), 0);
  fj_trace_release(&t);
  fj_ir ir;
  assert_int_equal(cu_build(b, len, 0, false, &ir), 0);
  /* r2 = HLD(regions) + 48 (region 2's base) + 0x1234, and no constant holding an address */
  bool hld = false, add = false;
  for (fj_ref x = FJ_REF_BIAS; x < ir.top; x++) {
    const fj_ir_ins *i = fj_ir_at(&ir, x);
    if (i->op == FJ_IR_HLD && i->lit == 2 * FJ_REGION_SIZEOF + FJ_REGION_OFF_BASE) {
      hld = true;
      for (fj_ref y = x + 1; y < ir.top; y++) {
        const fj_ir_ins *a = fj_ir_at(&ir, y);
        if (a->op == FJ_IR_ADD && a->a == x && fj_ir_is_k(a->b) &&
            fj_ir_kval(&ir, a->b) == 0x1234)
          add = true;
      }
    }
  }
  assert_true(hld);
  assert_true(add);
  fj_ir_free(&ir);
  /* region out of range */
  r[0].region = 3;
  assert_int_equal(fj_trace_read(b, len, 0, &t, msg, sizeof msg), FJ_EBADTRACE);
  assert_non_null(strstr(msg, "trace rec 0 (pc 0): region 3 >= 3 regions"));
  /* region without the flag */
  r[0].region = 2;
  r[0].flags = 0;
  assert_int_equal(fj_trace_read(b, len, 0, &t, msg, sizeof msg), FJ_EBADTRACE);
  assert_non_null(strstr(msg, "region set on a non-memory"));
  r[0].region = 0;
  /* not on lddw of a function */
  r[1].flags = FJ_REC_LDDW_REGION;
  assert_int_equal(fj_trace_read(b, len, 0, &t, msg, sizeof msg), FJ_EBADTRACE);
  assert_non_null(strstr(msg, "trace rec 1 (pc 2): LDDW_REGION on a non-lddw"));
  free(b);
  free(p);
}

/* ---- fuzz ---------------------------------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static const char *k_fuzz_progs[] = {
    "mov %r0, 0\nloop:\nldxdw %r2, [%r1+8]\nadd %r0, %r2\nstxdw [%r10-16], %r0\n"
    "ldxdw %r3, [%r10-16]\ndiv %r3, 7\nmod32 %r0, 10\nadd %r1, 8\njne %r1, %r4, loop\nexit\n",
    "loop:\nmov %r1, %r10\nadd %r1, -8\nstw [%r1+0], 5\ncall local f\nadd %r6, %r0\n"
    "jsgt %r6, 1000, out\nja loop\nout:\nmov %r0, %r6\nexit\nf:\nldxw %r0, [%r1+0]\n"
    "lsh %r0, 3\narsh32 %r0, 1\nbe16 %r0\nexit\n",
    "loop:\nlock add [%r1+0], %r2\nlock fetch add32 [%r1+4], %r3\nlock cmpxchg [%r1+8], %r4\n"
    "call 5\nsdiv %r0, -3\nsmod32 %r3, 7\njset %r0, 1, loop\nexit\n",
    "loop:\nlddw %r2, 0x1122334455667788\nxor %r2, %r3\nneg32 %r2\nmovsx832 %r5, %r2\n"
    "movsx3264 %r6, %r5\nstxb [%r10-1], %r6\nldxsb %r7, [%r10-1]\nadd %r3, %r7\n"
    "jslt32 %r3, %r8, loop\nexit\n",
};

static void fuzz_one(const uint8_t *b, size_t len, unsigned iter) {
  for (int mode = 0; mode < 2; mode++) {
    fj_ir ir;
    int rc = cu_build(b, len, mode ? FJ_IR_NOFOLD : 0, true, &ir);
    if (rc == 0) {
      /* A built IR must print, and its refs must point backwards. */
      char *s = fj_ir_dump(&ir, true);
      assert_non_null(s);
      free(s);
      for (fj_ref r = FJ_REF_BIAS; r < ir.top; r++) {
        const fj_ir_ins *i = fj_ir_at(&ir, r);
        if (i->op == FJ_IR_NOP) continue;
        if (i->a >= FJ_REF_BIAS && i->a >= r) fail_msg("iter %u: ref %u uses later %u", iter, r, i->a);
        if (i->b >= FJ_REF_BIAS && i->b >= r) fail_msg("iter %u: ref %u uses later %u", iter, r, i->b);
        if (fj_ir_has_snap(i->op)) assert_true(i->snap < ir.nsnaps);
      }
    } else {
      assert_true(rc > 0 && rc < FJ_ABORT__COUNT);
      assert_true(ir.msg[0] != 0);
    }
    fj_ir_free(&ir);
  }
}

static void test_fuzz(void **st) {
  (void)st;
  unsigned accepted = 0, total = 0;
  /* Random bytes with a plausible header. */
  for (unsigned it = 0; it < 2000; it++) {
    uint32_t nrecs = 1 + (uint32_t)(rnd() % 12);
    size_t len = fj_trace_size(nrecs) + (rnd() % 16 == 0 ? rnd() % 5 : 0);
    uint8_t *b = malloc(len);
    for (size_t i = 0; i < len; i++) b[i] = (uint8_t)rnd();
    fj_trace_header h = {FJ_TRACE_MAGIC, FJ_TRACE_VERSION, (uint16_t)(1 + rnd() % 3),
                         (uint32_t)(rnd() % 8), nrecs, (uint16_t)(1 + rnd() % 3), 0,
                         (uint32_t)(rnd() % 8), 0, 0, 8, 4, 0, 0};
    if (rnd() % 4) memcpy(b, &h, sizeof h);
    fuzz_one(b, len, it);
    free(b);
    total++;
  }
  /* Mutations of valid traces. */
  for (size_t p = 0; p < sizeof k_fuzz_progs / sizeof k_fuzz_progs[0]; p++) {
    uint32_t n;
    fj_insn *prog = cu_asm(k_fuzz_progs[p], &n);
    for (unsigned it = 0; it < 1500; it++) {
      char path[8];
      for (unsigned k = 0; k < sizeof path - 1; k++) path[k] = rnd() % 3 ? 't' : 'n';
      path[sizeof path - 1] = 0;
      size_t len;
      uint8_t *b = cu_trace(prog, n, p == 0 ? 1 : 0, path, (uint8_t)(1 + rnd() % 3),
                            1 + (uint32_t)(rnd() % 40), &len);
      unsigned nm = (unsigned)(rnd() % 4);
      for (unsigned m = 0; m < nm; m++) {
        size_t at = rnd() % len;
        if (rnd() % 2) b[at] = (uint8_t)rnd();
        else b[at] ^= (uint8_t)(1u << (rnd() % 8));
      }
      fj_trace t;
      char msg[192];
      if (fj_trace_read(b, len, 0, &t, msg, sizeof msg) == 0) accepted++;
      fj_trace_release(&t);
      fuzz_one(b, len, it);
      free(b);
      total++;
    }
    free(prog);
  }
  print_message("fuzz: %u traces, %u mutated ones accepted by the verifier\n", total, accepted);
  assert_true(accepted > 100);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_loop),     cmocka_unit_test(test_header_rules),
      cmocka_unit_test(test_rec_rules),      cmocka_unit_test(test_calls_and_exit),
      cmocka_unit_test(test_lddw_region),    cmocka_unit_test(test_fuzz),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
