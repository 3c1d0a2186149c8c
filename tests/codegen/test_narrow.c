/* 32-bit knowledge: entry speculation on the trace header's entry_narrow (codegen/build.c), the
 * forward fold rules (codegen/fold.c), narrowing by demanded bits (codegen/opt_narrow.c), and
 * loops (no speculation on a register carried as a wide value, PHIs narrowed as a whole).  Each
 * shows the IR without and with the knowledge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codegen/ir.h"
#include "codegen/opt.h"
#include "codegen/snap.h"
#include "tests/codegen/cg_util.h"

/* Build text (walked along path from pc 0) with header.entry_narrow = narrow; opt: the whole
 * optimizing pipeline (fj_opt_run, which ends with fj_opt_narrow and a second fj_opt_dce). */
static void build(const char *text, const char *path, uint32_t narrow, bool opt, fj_ir *ir) {
  uint32_t n;
  fj_insn *p = cu_asm(text, &n);
  size_t len;
  uint8_t *b = cu_trace_narrow(p, n, 0, path, 1, 1000, narrow, &len);
  int rc = cu_build(b, len, 0, opt, ir);
  if (rc) fail_msg("%s: %s", fj_abort_name(rc), ir->msg);
  free(b);
  free(p);
}

/* The same pipeline without fj_opt_narrow: what demanded bits start from. */
static char *text_unnarrowed(const char *text, const char *path) {
  fj_ir ir;
  build(text, path, 0, false, &ir);
  if (setjmp(ir.abort_jb)) fail_msg("opt: %s", ir.msg);
  fj_opt_loop(&ir);
  fj_opt_mem(&ir);
  fj_opt_dce(&ir);
  char *d = cu_dump(&ir);
  fj_ir_free(&ir);
  return d;
}

static char *text_of(const char *text, const char *path, uint32_t narrow, bool opt) {
  fj_ir ir;
  build(text, path, narrow, opt, &ir);
  char *d = cu_dump(&ir);
  fj_ir_free(&ir);
  return d;
}

/* 64-bit AND, XOR and shift of entry registers: I64 without knowledge; with r1, r4, r6 known
 * below 2^32 at recording (each used twice where it pays), one guard each at entry (leaving at
 * pc 0 with nothing done) and I32 operations. */
static const char *k_entry =
    "mov %r8, %r6\n"
    "xor %r6, %r1\n"
    "and %r6, %r4\n"
    "rsh %r6, 1\n"
    "mov %r0, %r6\n"
    "and %r8, %r1\n"
    "xor %r8, %r4\n"
    "add %r2, %r3\n"  /* r2, r3: only an ADD (no speculation: nothing gets narrower) */
    "stxw [%r10-4], %r2\n"
    "exit\n";

static void test_entry_speculation(void **st) {
  (void)st;
  char *wide = text_of(k_entry, "", 0, false);
  assert_string_equal(wide,
                      "0000   i64 RIN    r10\n"
                      "0001   i64 RIN    budget\n"
                      "0002   i64 ADD    0001 #-10\n"
                      "0003 > i64 GE     0001 #10  snap 0\n"
                      "0004   i64 RIN    r6\n"
                      "0005   i64 RIN    r1\n"
                      "0006   i64 XOR    0004 0005\n"
                      "0007   i64 RIN    r4\n"
                      "0008   i64 AND    0006 0007\n"
                      "0009   i64 SHR    0008 #1\n"
                      "0010   i64 AND    0004 0005\n"
                      "0011   i64 XOR    0010 0007\n"
                      "0012   i64 RIN    r3\n"
                      "0013   i64 RIN    r2\n"
                      "0014   i64 ADD    0013 0012\n"
                      "0015       SSTORE [-4] 0014 w4\n"
                      "0016       EXIT   kind 3  snap 1\n");
  uint32_t narrow = 1u << 1 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 6;
  char *spec = text_of(k_entry, "", narrow, false);
  assert_string_equal(spec,
                      "0000   i64 RIN    r10\n"
                      "0001   i64 RIN    budget\n"
                      "0002   i64 ADD    0001 #-10\n"
                      "0003 > i64 GE     0001 #10  snap 0\n"
                      "0004   i64 RIN    r1\n"
                      "0005 > i64 ULE    0004 #0xffffffff  snap 1\n"
                      "0006   i32 ZEXT   0004 32\n"
                      "0007   i64 RIN    r4\n"
                      "0008 > i64 ULE    0007 #0xffffffff  snap 1\n"
                      "0009   i32 ZEXT   0007 32\n"
                      "0010   i64 RIN    r6\n"
                      "0011 > i64 ULE    0010 #0xffffffff  snap 1\n"
                      "0012   i32 ZEXT   0010 32\n"
                      "0013   i32 XOR    0010 0004\n"
                      "0014   i32 AND    0013 0007\n"
                      "0015   i32 SHR    0014 #1\n"
                      "0016   i32 AND    0010 0004\n"
                      "0017   i32 XOR    0016 0007\n"
                      "0018   i64 RIN    r3\n"
                      "0019   i64 RIN    r2\n"
                      "0020   i64 ADD    0019 0018\n"
                      "0021       SSTORE [-4] 0020 w4\n"
                      "0022       EXIT   kind 3  snap 2\n");
  /* The entry guards leave at the start with the entry state and the budget untouched. */
  fj_ir ir;
  build(k_entry, "", narrow, false, &ir);
  char line[256];
  fj_snap_format(&ir, 1, line, sizeof line);
  assert_string_equal(line, "snap 1 guard pc 0 [] budget 0002+10");
  fj_ir_free(&ir);
  /* Nor does a bridge (its own failing entry guard could bounce with the root trace's). */
  {
    uint32_t nb;
    fj_insn *pb = cu_asm(k_entry, &nb);
    size_t lb;
    uint8_t *bb = cu_trace_narrow(pb, nb, 0, "", 1, 1000, narrow, &lb);
    fj_trace_header hb;
    memcpy(&hb, bb, sizeof hb);
    hb.kind = FJ_TRACE_BRIDGE;
    hb.parent_id = 1;
    memcpy(bb, &hb, sizeof hb);
    fj_ir bir;
    assert_int_equal(cu_build(bb, lb, 0, false, &bir), 0);
    assert_int_equal(cu_count(&bir, FJ_IR_ULE), 0);
    assert_int_equal(cu_count(&bir, FJ_IR_XOR), 2);
    fj_ir_free(&bir);
    free(bb);
    free(pb);
  }
  /* The unoptimized reference never speculates. */
  fj_ir raw;
  uint32_t n;
  fj_insn *p = cu_asm(k_entry, &n);
  size_t len;
  uint8_t *b = cu_trace_narrow(p, n, 0, "", 1, 1000, narrow, &len);
  assert_int_equal(cu_build(b, len, FJ_IR_NOFOLD, false, &raw), 0);
  assert_int_equal(cu_count(&raw, FJ_IR_ULE), 0);
  fj_ir_free(&raw);
  free(b);
  free(p);
  free(wide);
  free(spec);
}

/* Which registers pay for their guard.  In this loop r2 is the invariant upper bound of the
 * counter r3 + 1 (speculated: then the counter is I32 too), r4 only its lower bound (not), r3
 * changes every iteration (its entry value serves the first one only: not).  A straight-line
 * trace asks for two paying uses: one compare with a constant is not worth the guard. */
static void test_speculation_pays(void **st) {
  (void)st;
  char *t = text_of("loop:\n"
                    "add %r3, 1\n"
                    "jle %r4, %r3, l1\n"
                    "l1:\n"
                    "jgt %r2, %r3, loop\n"
                    "exit\n",
                    "tt", 1u << 2 | 1u << 3 | 1u << 4, true);
  assert_non_null(strstr(t, "0004   i64 RIN    r2\n"
                            "0005 > i64 ULE    0004 #0xffffffff  snap 1\n"
                            "0006   i32 ZEXT   0004 32\n"
                            "0007   i64 RIN    r3\n"
                            "0008   i64 ADD    0007 #1\n"
                            "0009   i64 RIN    r4\n"
                            "0010 > i64 ULE    0009 0008  snap 2\n"
                            "0011 > i64 UGT    0006 0008  snap 3\n"
                            "0012   i32 ZEXT   0008 32\n"));
  assert_non_null(strstr(t, "0016   i32 ADD    0012 #1\n"));       /* the counter */
  assert_non_null(strstr(t, "0018 > i32 UGT    0006 0016  snap 9\n"));
  assert_non_null(strstr(t, "0021   i32 PHI    0012 0016\n"));
  free(t);
  char *one = text_of("jgt %r2, 5, l1\nl1:\nexit\n", "t", 1u << 2, false);
  assert_null(strstr(one, "#0xffffffff"));
  free(one);
}

/* Forward rules on values known below 2^32 (ALU32 results, 32-bit loads, small constants). */
static void test_fold_known32(void **st) {
  (void)st;
  char *t = text_of("mov32 %r1, %r1\n"       /* r1: I32 */
                    "ldxw %r2, [%r3+0]\n"    /* r2: I32 */
                    "mov %r4, %r5\n"
                    "and %r4, %r1\n"         /* AND with one I32 operand */
                    "mov %r6, %r1\n"
                    "xor %r6, %r2\n"         /* XOR of two */
                    "mov %r7, %r2\n"
                    "arsh %r7, 3\n"          /* 64-bit SAR of an I32 value: SHR I32 */
                    "mov %r8, %r2\n"
                    "rsh %r8, 40\n"          /* by 32 or more: 0 */
                    "mov %r9, %r1\n"
                    "div %r9, %r2\n"         /* unsigned division of two */
                    "jsgt %r1, %r2, out\n"   /* signed 64-bit compare of two: unsigned I32 */
                    "jgt %r2, 0x7fffffff, out\n"
                    "mov %r0, 1\n"
                    "out:\n"
                    "exit\n",
                    "nn", 0, false);
  assert_non_null(strstr(t, "i32 AND    0018 0004\n"));  /* r5 & r1 (ZEXT of r1 stripped) */
  assert_non_null(strstr(t, "i32 XOR    0004 0017\n"));
  assert_non_null(strstr(t, "i32 SHR    0017 #3\n"));
  assert_null(strstr(t, "SAR"));
  assert_null(strstr(t, "#40"));
  assert_non_null(strstr(t, "i32 UDIV   0004 0017\n"));
  assert_non_null(strstr(t, "> i32 ULE    0004 0017"));       /* jsgt not taken */
  assert_non_null(strstr(t, "> i32 ULE    0017 #0x7fffffff"));
  free(t);
}

/* A 64-bit compare of a 32-bit value against a constant above 2^32: decided at compile time. */
static void test_guard_known(void **st) {
  (void)st;
  char *t = text_of("mov32 %r1, %r1\nlddw %r2, 0x100000000\njlt %r1, %r2, out\nmov %r0, 1\n"
                    "out:\nexit\n",
                    "t", 0, false);
  assert_null(strstr(t, "ULT"));  /* r1 < 2^32 always holds: no guard */
  assert_non_null(strstr(t, "EXIT   kind 3  snap 2\n"));
  free(t);
}

/* C's uint32_t arithmetic as clang -target bpf emits it: 64-bit ADD, MUL, NEG, SHL whose
 * result is cut by a 32-bit store or mask.  Demanded bits make them I32; a value that an exit
 * names (in a register) stays I64. */
static const char *k_demand =
    "mov %r2, %r1\n"
    "mul %r2, 33\n"
    "add %r2, %r3\n"
    "lsh %r2, 5\n"
    "neg %r2\n"
    "stxw [%r10-4], %r2\n"   /* a 4-byte store reads the low half */
    "mov %r4, %r1\n"
    "add %r4, 7\n"
    "and %r4, 0xffff\n"      /* ZEXT 16 reads the low half */
    "mov %r5, %r1\n"
    "add %r5, %r3\n"         /* in r5 at the exit: all 64 bits needed */
    "mov %r2, 0\n"
    "mov %r0, %r4\n"
    "exit\n";

static void test_demanded_bits(void **st) {
  (void)st;
  char *before = text_unnarrowed(k_demand, "");
  char *after = text_of(k_demand, "", 0, true);
  assert_non_null(strstr(before, "i64 MUL    0004 #33\n"));
  assert_non_null(strstr(before, "i64 NEG"));
  assert_non_null(strstr(after, "i32 MUL    0004 #33\n"));
  assert_non_null(strstr(after, "i32 ADD    0005 0006\n"));
  assert_non_null(strstr(after, "i32 SHL    0007 #5\n"));
  assert_non_null(strstr(after, "i32 NEG    0008\n"));
  assert_non_null(strstr(after, "i32 ADD    0004 #7\n"));
  assert_non_null(strstr(after, "i64 ADD    0004 0006\n"));  /* r5 */
  free(before);
  free(after);
}

/* A loop computing a 32-bit hash with 64-bit ops (h = h * 31 + byte, stored as 32 bits): the
 * loop-carried value is read only through its low half, so the PHI and both its values narrow
 * together; the counter the exits need stays I64. */
static const char *k_loop =
    "loop:\n"
    "ldxb %r3, [%r1+0]\n"   /* its bounds check exits before r2 is written */
    "ldxw %r2, [%r10-4]\n"
    "mul %r2, 31\n"
    "add %r2, %r3\n"
    "stxw [%r10-4], %r2\n"
    "mov %r2, 0\n"          /* the hash lives only in the 4-byte slot */
    "add %r1, 1\n"
    "add %r9, 1\n"
    "jlt %r9, 100, loop\n"
    "exit\n";

static void test_loop_phi(void **st) {
  (void)st;
  char *before = text_unnarrowed(k_loop, "t");
  char *after = text_of(k_loop, "t", 0, true);
  const char *lb = strstr(before, "LOOP"), *la = strstr(after, "LOOP");
  assert_non_null(lb);
  assert_non_null(la);
  assert_non_null(strstr(lb, "i64 MUL"));
  assert_null(strstr(la, "i64 MUL"));
  assert_non_null(strstr(la, "i32 MUL"));
  assert_non_null(strstr(la, "i64 PHI"));  /* r1, r9, budget */
  free(before);
  free(after);
  /* A loop-carried register whose value at the back edge is wide is not speculated on (every
   * iteration would check it): r6 below stays I64 although entry_narrow names it. */
  char *t = text_of("loop:\nxor %r6, %r7\nlsh %r6, 1\nadd %r9, 1\njlt %r9, 9, loop\nexit\n", "t",
                    1u << 6 | 1u << 7, true);
  assert_non_null(strstr(t, "0004   i64 RIN    r7\n"
                            "0005 > i64 ULE    0004 #0xffffffff  snap 1\n"));
  assert_non_null(strstr(t, "0007   i64 RIN    r6\n"
                            "0008   i64 XOR    0007 0006\n"));  /* no guard on r6 */
  free(t);
}


/* FJ_IR_ADDR32 (a 32-bit target addresses memory with the low word): an index address
 * (r1 << 2) + r9 whose range check left the loop body and that only the load reads narrows to
 * I32 with the flag (after) and stays I64 without it (before, x86-64).  The same address kept
 * in a register that an exit writes back would stay I64 (snapshot registers read 64 bits). */
static const char *k_index =
    "loop:\n"
    "mov %r5, %r1\n"
    "lsh %r5, 2\n"
    "add %r5, %r9\n"
    "ldxw %r2, [%r5+0]\n"
    "mov %r5, 0\n"
    "add %r0, %r2\n"
    "add %r1, 1\n"
    "jlt %r1, 100, loop\n"
    "exit\n";

static char *text_flags(const char *text, uint32_t flags) {
  fj_ir ir;
  cu_build_text(text, "t", flags, &ir);
  if (setjmp(ir.abort_jb)) fail_msg("opt: %s", ir.msg);
  fj_opt_run(&ir);
  char *d = cu_dump(&ir);
  fj_ir_free(&ir);
  return d;
}

static void test_addr32(void **st) {
  (void)st;
  char *before = text_flags(k_index, 0), *after = text_flags(k_index, FJ_IR_ADDR32);
  /* (refs one lower since the I32 trip bound needs no J <= 0xffffffff guard before LOOP) */
  assert_non_null(strstr(before, "0038   i64 SHL    0023 #2\n"
                                 "0039   i64 ADD    0038 0006\n"
                                 "0042   i32 LOAD   0039 w4 reg1\n"));
  assert_non_null(strstr(after, "0038   i32 SHL    0023 #2\n"
                                "0039   i32 ADD    0038 0006\n"
                                "0042   i32 LOAD   0039 w4 reg1\n"));
  free(before);
  free(after);
  /* Without `mov r5, 0` the exits write r5 back: the address stays I64 even with the flag. */
  const char *keep = strstr(k_index, "mov %r5, 0\n");
  char text[256];
  snprintf(text, sizeof text, "%.*s%s", (int)(keep - k_index), k_index, keep + 11);
  char *kept = text_flags(text, FJ_IR_ADDR32);
  assert_non_null(strstr(kept, "i64 ADD    0038 0006\n"));
  free(kept);
}


/* fold.c's lower-bound rule: x - 4 after guards 4 <= x <= 100 is an I32 ADD (the value cannot
 * wrap below 0); with only x <= 100 it may, and stays I64. */
static void test_sub_lower_bound(void **st) {
  (void)st;
  char *lo = cu_ir_text("jlt %r1, 4, out\njgt %r1, 100, out\nadd %r1, -4\nstxw [%r10-4], %r1\n"
                        "mov %r0, %r1\nout:\nexit\n", "nn", true, false);
  assert_non_null(strstr(lo, "0005 > i64 UGE    0004 #4  snap 1\n"
                             "0006 > i64 ULE    0004 #100  snap 2\n"
                             "0008   i32 ADD    0004 #0xfffffffc\n"));
  char *nolo = cu_ir_text("jgt %r1, 100, out\nadd %r1, -4\nstxw [%r10-4], %r1\nmov %r0, %r1\n"
                          "out:\nexit\n", "nn", true, false);
  assert_non_null(strstr(nolo, "0006   i32 ZEXT   0004 32\n"
                               "0007   i64 ADD    0006 #-4\n"));
  free(lo);
  free(nolo);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_entry_speculation), cmocka_unit_test(test_speculation_pays),
      cmocka_unit_test(test_fold_known32),
      cmocka_unit_test(test_guard_known),       cmocka_unit_test(test_demanded_bits),
      cmocka_unit_test(test_loop_phi),          cmocka_unit_test(test_addr32),
      cmocka_unit_test(test_sub_lower_bound),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
