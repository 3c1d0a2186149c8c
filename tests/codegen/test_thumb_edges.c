/* Edge values through the Thumb-2 backend, deterministically (the random generator covers them
 * statistically):
 *  - every 64- and 32-bit ALU operation with a register and with an immediate operand, on value
 *    pairs from a table of carry/borrow/sign edges, shift counts 0, 1, 31, 32, 33, 63, 64
 *    (masked), division and modulo by 0, 1 and -1; unary ops (neg, byte swaps, sign
 *    extension); every jump condition: straight-line programs traced from their entry, where
 *    no side exit may be taken (the trace runs on the data it was recorded with);
 *  - every jump condition, both widths, register and immediate forms, in a loop over a table
 *    of value pairs, traced at many different iterations, so guards meet both directions.
 * Every trace is compiled both ways, run in Unicorn and compared state by state with the
 * interpreter (diffrun_thumb.h); the run's result must be the interpreter's.
 * Prints "N passed, M failed".
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farjit/blob.h"
#include "tests/codegen/diffrun_thumb.h"
#include "tools/asm.h"

static const char *const vals[] = {
  "0", "1", "-1", "0x7fffffff", "0x80000000", "0xffffffff", "0x100000000", "0x7fffffffffffffff",
  "0x8000000000000000", "0xfffffffe00000001", "0x00000001ffffffff", "31", "32", "33", "63",
  "64", "0x123456789abcdef0",
};
#define NVALS (sizeof vals / sizeof vals[0])
static const char *const alu[] = {"add", "sub", "mul", "div", "sdiv", "mod", "smod", "or",
                                  "and", "lsh", "rsh", "arsh", "xor"};
static const char *const imms[] = {"0", "1", "-1", "31", "32", "33", "63", "64", "0x7fffffff",
                                   "-0x80000000", "255", "256", "0x12345"};
static const char *const jmps[] = {"jeq", "jne", "jgt", "jge", "jlt", "jle", "jset",
                                   "jsgt", "jsge", "jslt", "jsle"};

static unsigned passed, failed, ran;

static void run(const char *text) {
  fj_insn *code;
  size_t n;
  char err[160];
  if (fj_asm(text, &code, &n, err, sizeof err) != 0) {
    printf("FAIL assembling: %s\n%s", err, text);
    failed++;
    return;
  }
  fj_diff_cfg cfg = {.at_pc = 0, .threshold = 1, .max_recs = 4096};
  fj_diff_result r;
  int rc = fj_diff_run_thumb(code, n, NULL, 0, &cfg, &r, NULL);
  /* the reference result: the same program, interpreter only (no trace) */
  fj_diff_cfg none = {.at_pc = 0xfffffffeu, .threshold = 1, .max_recs = 16};
  fj_diff_result ref;
  fj_diff_run_thumb(code, n, NULL, 0, &none, &ref, NULL);
  free(code);
  ran += (unsigned)r.ran_native;
  /* Run on the data it was recorded with, a trace never leaves through a side exit: one that
   * did would have evaluated a condition wrongly (the state comparison cannot see that). */
  if (rc != 0 || r.run_status != 0 || r.r0 != ref.r0 || r.compiled != 2 ||
      r.exit_kinds[FJ_EXIT_GUARD] != 0) {
    printf("FAIL (%s; r0 0x%llx, interpreter 0x%llx; %d variants compiled, %u side exits):\n%s",
           r.message, (unsigned long long)r.r0, (unsigned long long)ref.r0, r.compiled,
           r.exit_kinds[FJ_EXIT_GUARD], text);
    failed++;
  } else {
    passed++;
  }
}

/* mem = every pair (v[i], v[j]) of the first nv table values as two 64-bit words, with
 * vals[2] (-1) written out as all ones. */
static void fill_pairs(uint8_t *mem, int nv) {
  for (int i = 0; i < nv * nv; i++) {
    uint64_t a = strtoull(vals[i / nv], NULL, 0), b = strtoull(vals[i % nv], NULL, 0);
    if (i / nv == 2) a = ~0ull;
    if (i % nv == 2) b = ~0ull;
    memcpy(mem + 16 * i, &a, 8);
    memcpy(mem + 16 * i + 8, &b, 8);
  }
}

/* A loop program over mem (r1 = a copy of it), traced at pc at_pc at thresholds 2, 2 + step, ...
 * below th_end, bridges at every side exit; every run must match the interpreter and, if
 * need_native, must have run machine code. */
static void run_loop(const char *text, const uint8_t *mem, size_t len, uint32_t at_pc,
                     unsigned th_end, unsigned step, bool need_native) {
  fj_insn *code;
  size_t n;
  char err[160];
  if (fj_asm(text, &code, &n, err, sizeof err) != 0) {
    printf("FAIL assembling: %s\n%s", err, text);
    failed++;
    return;
  }
  uint8_t *m = malloc(len);
  for (unsigned th = 2; m && th < th_end; th += step) {
    memcpy(m, mem, len);
    fj_diff_cfg cfg = {.at_pc = at_pc, .threshold = (uint16_t)th, .max_recs = 1024, .bridges = 1};
    fj_diff_result r;
    int rc = fj_diff_run_thumb(code, n, m, len, &cfg, &r, NULL);
    ran += (unsigned)r.ran_native;
    if (rc != 0 || r.run_status != 0 || (need_native && r.ran_native == 0)) {
      printf("FAIL (%s; %d native runs) at threshold %u:\n%s", r.message, r.ran_native, th, text);
      failed++;
    } else {
      passed++;
    }
  }
  if (!m) {
    printf("FAIL: out of memory\n");
    failed++;
  }
  free(m);
  free(code);
}

int main(void) {
  static char text[1 << 16];
  /* ALU: for each op and width, one program over all value pairs (register form) and one over
   * all values with every immediate; results folded into r0 so each one matters. */
  for (size_t o = 0; o < sizeof alu / sizeof alu[0]; o++) {
    for (int w32 = 0; w32 < 2; w32++) {
      const char *sfx = w32 ? "32" : "";
      size_t at = 0;
      at += (size_t)snprintf(text + at, sizeof text - at, "mov %%r0, 0\n");
      for (size_t i = 0; i < NVALS; i++)
        for (size_t j = 0; j < NVALS; j++)
          at += (size_t)snprintf(text + at, sizeof text - at,
                                 "lddw %%r1, %s\nlddw %%r2, %s\n%s%s %%r1, %%r2\n"
                                 "xor %%r0, %%r1\nlsh %%r0, 1\n", vals[i], vals[j], alu[o], sfx);
      at += (size_t)snprintf(text + at, sizeof text - at, "exit\n");
      run(text);
      at = 0;
      at += (size_t)snprintf(text + at, sizeof text - at, "mov %%r0, 0\n");
      for (size_t i = 0; i < NVALS; i++)
        for (size_t k = 0; k < sizeof imms / sizeof imms[0]; k++)
          at += (size_t)snprintf(text + at, sizeof text - at,
                                 "lddw %%r1, %s\n%s%s %%r1, %s\nxor %%r0, %%r1\nlsh %%r0, 1\n",
                                 vals[i], alu[o], sfx, imms[k]);
      at += (size_t)snprintf(text + at, sizeof text - at, "exit\n");
      run(text);
    }
  }
  /* Unary: neg, byte swaps, sign extension. */
  {
    size_t at = 0;
    static const char *const un[] = {"neg %r1", "neg32 %r1", "be16 %r1", "be32 %r1", "be64 %r1",
                                     "le16 %r1", "le32 %r1", "bswap16 %r1", "bswap32 %r1",
                                     "bswap64 %r1", "movsx864 %r1, %r1", "movsx1664 %r1, %r1",
                                     "movsx3264 %r1, %r1", "movsx832 %r1, %r1",
                                     "movsx1632 %r1, %r1", "mov32 %r1, %r1"};
    at += (size_t)snprintf(text + at, sizeof text - at, "mov %%r0, 0\n");
    for (size_t i = 0; i < NVALS; i++)
      for (size_t k = 0; k < sizeof un / sizeof un[0]; k++)
        at += (size_t)snprintf(text + at, sizeof text - at,
                               "lddw %%r1, %s\n%s\nxor %%r0, %%r1\nlsh %%r0, 1\n", vals[i], un[k]);
    at += (size_t)snprintf(text + at, sizeof text - at, "exit\n");
    run(text);
  }
  /* Jumps: every condition, both widths, register and immediate forms, on every value pair: the
   * trace guards on the recorded direction, so each program records one path and takes exits. */
  for (size_t c = 0; c < sizeof jmps / sizeof jmps[0]; c++) {
    for (int w32 = 0; w32 < 2; w32++) {
      size_t at = 0;
      at += (size_t)snprintf(text + at, sizeof text - at, "mov %%r0, 0\n");
      for (size_t i = 0; i < NVALS; i++)
        for (size_t j = 0; j < NVALS; j++)
          at += (size_t)snprintf(text + at, sizeof text - at,
                                 "lddw %%r1, %s\nlddw %%r2, %s\n%s%s %%r1, %%r2, +1\n"
                                 "add %%r0, 1\nlsh %%r0, 1\n%s%s %%r1, %s, +1\nadd %%r0, 1\n",
                                 vals[i], vals[j], jmps[c], w32 ? "32" : "", jmps[c],
                                 w32 ? "32" : "", imms[j % (sizeof imms / sizeof imms[0])]);
      at += (size_t)snprintf(text + at, sizeof text - at, "exit\n");
      run(text);
    }
  }
  /* Jumps on data the trace was not recorded with: a loop compares the pairs of a table in
   * memory, traced at different iterations, so guards see both directions and every exit's
   * state is compared (a too permissive guard shows up here, not above). */
  {
    enum { NV = 15 };
    static uint8_t mem[NV * NV * 16];
    fill_pairs(mem, NV);
    /* "1" and r4 (0x100000000, a constant in the trace): 64-bit equality with one zero half */
    static const char *const kimm[] = {"%r3", "0", "-1", "0x7fffffff", "-0x80000000", "1", "%r4"};
    for (size_t c = 0; c < sizeof jmps / sizeof jmps[0]; c++)
      for (int w32 = 0; w32 < 2; w32++)
        for (size_t k = 0; k < sizeof kimm / sizeof kimm[0]; k++) {
          snprintf(text, sizeof text,
                   "mov %%r6, %%r1\nmov %%r7, 0\nmov %%r0, 0\nloop:\nldxdw %%r2, [%%r6+0]\n"
                   "lddw %%r4, 0x100000000\n"
                   "ldxdw %%r3, [%%r6+8]\n%s%s %%r2, %s, +1\nadd %%r0, 1\nlsh %%r0, 1\n"
                   "add %%r6, 16\nadd %%r7, 1\njlt %%r7, %d, loop\nexit\n",
                   jmps[c], w32 ? "32" : "", kimm[k], NV * NV);
          run_loop(text, mem, sizeof mem, 3, NV * NV, k ? 37 : 11, false);
        }
  }
  /* Loops that crowd the registers: seven loop-carried 64-bit values and the budget (more words
   * than r4-r11 hold), products by constants and registers whose result shares an operand's
   * registers, over the value table, traced at different iterations: PHIs in slots (shared
   * with their a), the budget checked from a slot, strd/ldrd back-edge moves. */
  {
    enum { NV = 15 };
    static uint8_t mem[NV * NV * 16];
    fill_pairs(mem, NV);
    static const char *const mk[] = {"3", "-1", "0x7fffffff", "%r9", "-3"};
    for (size_t k = 0; k < sizeof mk / sizeof mk[0]; k++) {
      snprintf(text, sizeof text,
               "mov %%r6, %%r1\nmov %%r7, 0\nmov %%r0, 0\nmov %%r8, 1\nmov %%r9, 7\n"
               "mov %%r4, 0\nmov %%r5, 0\nloop:\nldxdw %%r2, [%%r6+0]\nldxdw %%r3, [%%r6+8]\n"
               "mul %%r2, %s\nadd %%r2, 1\nmul %%r3, %%r2\nadd %%r0, %%r3\nxor %%r4, %%r2\n"
               "lddw %%r1, 0x100000001\nmul %%r8, %%r1\nadd %%r9, %%r8\nadd %%r5, %%r3\n"
               "add %%r6, 16\nadd %%r7, 1\njlt %%r7, %d, loop\nadd %%r0, %%r4\nadd %%r0, %%r5\n"
               "add %%r0, %%r8\nadd %%r0, %%r9\nexit\n",
               mk[k], NV * NV);
      run_loop(text, mem, sizeof mem, 7, NV * NV, 23, true);
    }
  }
  /* Multiply-accumulate of 32-bit values into a 64-bit sum (one umlal when the sum keeps its
   * registers), the sum on either side of the add, over the value table's low words, traced at
   * different iterations. */
  {
    enum { NV = 15 };
    static uint8_t mem[NV * NV * 16];
    fill_pairs(mem, NV);
    static const char *const mac[] = {
      "mul %r2, %r3\nadd %r8, %r2\n", "mul %r2, %r3\nadd %r2, %r8\nmov %r8, %r2\n",
      "mul %r2, 0x12345\nadd %r8, %r2\n", "mul %r3, %r2\nadd %r8, %r3\nadd %r9, %r3\n"};
    for (size_t k = 0; k < sizeof mac / sizeof mac[0]; k++) {
      snprintf(text, sizeof text,
               "mov %%r6, %%r1\nmov %%r7, 0\nmov %%r9, 0\nlddw %%r8, 0xfffffffe00000003\n"
               "loop:\nldxw %%r2, [%%r6+0]\nldxw %%r3, [%%r6+8]\n%smov %%r2, 0\nmov %%r3, 0\n"
               "add %%r6, 16\nadd %%r7, 1\njlt %%r7, %d, loop\nmov %%r0, %%r8\nadd %%r0, %%r9\n"
               "exit\n",
               mac[k], NV * NV);
      run_loop(text, mem, sizeof mem, 5, NV * NV, 29, true);
    }
  }
  /* 64-bit products by a constant, in place (`x *= k`: mla, mla and umlal with k - 1, PORTING.md
   * section 8) and into another register, over the value table as 64-bit words, for constants
   * whose k - 1 borrows from the high word, has a zero high word or is all ones. */
  {
    enum { NV = 17 };
    static uint8_t mem[NV * 8];
    for (int i = 0; i < NV; i++) {
      uint64_t v = strtoull(vals[i], NULL, 0);
      if (i == 2) v = ~0ull;
      memcpy(mem + 8 * i, &v, 8);
    }
    static const char *const mk[] = {"0", "1", "2", "3", "-1", "0x100000000", "0x100000001",
                                     "0xbf58476d1ce4e5b9", "0xffffffff", "0x8000000000000000",
                                     "0xfffffffe00000001"};
    for (size_t k = 0; k < sizeof mk / sizeof mk[0]; k++) {
      snprintf(text, sizeof text,
               "mov %%r6, %%r1\nmov %%r7, 0\nmov %%r8, 0\nmov %%r9, 0\n"
               "loop:\nlddw %%r4, %s\nldxdw %%r2, [%%r6+0]\nmul %%r2, %%r4\nxor %%r8, %%r2\n"
               "ldxdw %%r3, [%%r6+0]\nmov %%r5, %%r3\nmul %%r5, %%r4\nadd %%r8, %%r5\n"
               "add %%r8, %%r3\nmov %%r2, 0\nmov %%r3, 0\nmov %%r5, 0\n"
               "add %%r6, 8\nadd %%r7, 1\njlt %%r7, %d, loop\nmov %%r0, %%r8\nexit\n",
               mk[k], NV);
      run_loop(text, mem, sizeof mem, 4, NV, 5, true);
    }
  }
  printf("thumb_edges: %u programs, %u compiled variants ran in Unicorn and matched\n",
         passed + failed, ran);
  printf("%u passed, %u failed\n", passed, failed);
  return failed ? 1 : 0;
}
