/* tests/codegen — random valid eBPF programs for differential testing of the trace compiler.
 *
 * fj_gen_program(seed) builds one program, reproducibly from the seed: registers seeded with
 * edge values (0, -1, INT64_MIN, INT32_MIN, shift widths, ...), a loop with a bounded trip count
 * (r8 counts down, so the loop header gets hot and is traced), a body of random ALU64/ALU32,
 * byte-swap, sign-extension, load/store/atomic (stack via r10, context via r9 inside mem_size),
 * forward conditional jumps (JMP and JMP32, imm and reg), division by zero and -1, shifts by
 * 63/64, optional helper calls (FJ_GEN_HELPER: a pure test helper the caller registers) and
 * inlined local calls, then a short tail and `exit`.  r8, r9 and r10 are never written by
 * random instructions, so every program terminates and never faults.
 *
 * With iv_loops the loop is instead one of the shapes bounds-check hoisting (codegen/opt_mem.c)
 * works on: a pointer r7 stepping through the context or the stack, index addresses from the
 * counter r8 (shifted, 64- or 32-bit), r8 counting up or down in 64- or 32-bit arithmetic,
 * tested (signed or unsigned) at the top or the bottom of the body, against an immediate or r6,
 * or the pointer tested against an end pointer in r6; optionally an early exit on the count.
 * Such programs terminate (the loop control is simulated when drawn) but often fault: trip
 * counts ignore the region's end, so the interpreter runs off it where a hoisted check must
 * have failed before the loop.  r6 and r7 are then kept from random writes too.
 *
 * fixed[i] marks instructions a shrinker must keep (setup and loop control); the others may be
 * replaced by `ja +0` without changing any jump target.
 */
#ifndef FJ_TESTS_CODEGEN_GEN_H
#define FJ_TESTS_CODEGEN_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "farjit/ebpf.h"

enum { FJ_GEN_MAX = 256, FJ_GEN_MEM = 64, FJ_GEN_HELPER = 0x4242 };

typedef struct fj_gen_prog {
  fj_insn insns[FJ_GEN_MAX];
  uint8_t fixed[FJ_GEN_MAX];
  uint32_t n;
  uint32_t loop_pc;   /* the loop header */
} fj_gen_prog;

typedef struct fj_gen_opts {
  bool calls;         /* helper calls to FJ_GEN_HELPER */
  bool local_calls;   /* inlined local calls */
  bool atomics;
  bool straight;      /* no loop: one long straight-line body (traced from the entry) */
  bool iv_loops;      /* the loop is an induction-variable loop (gen.c: pointer and index
                         addresses, counter tests of every kind, runs off the region) */
  uint32_t body;      /* random body instructions (upper bound), 0 = default */
} fj_gen_opts;

void fj_gen_program(uint64_t seed, const fj_gen_opts *o, fj_gen_prog *p);

/* The test helper's semantics (pure). */
uint64_t fj_gen_helper(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5, void *vm);

#endif /* FJ_TESTS_CODEGEN_GEN_H */
