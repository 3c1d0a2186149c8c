/* Tests for codegen/ra.c: the linear-scan allocator's invariants on random IR (no two values
 * whose ranges overlap share a register or slot, values live across calls are never in
 * caller-saved registers, every used value has a location, whole-life slots after eviction),
 * the same for a 32-bit target with widths (two registers per I64 value, one per I32 value, a
 * high register free after the last read of the high word), and the back edge's parallel
 * moves (swaps, longer cycles through slots, fan-out, constants; word moves of two-word values)
 * checked by simulating the emitted copies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codegen/ra.h"
#include "codegen/snap.h"
#include "codegen/target.h"

static uint64_t rng_state;
static uint32_t rnd(uint32_t n) {
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(rng_state >> 33) % n;
}

static uint32_t empty_snap(fj_ir *ir, const fj_ref *refs, unsigned nrefs) {
  fj_snap s;
  memset(&s, 0, sizeof s);
  s.kind = FJ_EXIT_GUARD;
  for (unsigned k = 0; k < nrefs && k < FJ_NREGS; k++) s.regs[k] = refs[k];
  return fj_snap_add(ir, &s, NULL, NULL);
}

/* Random straight-line IR: ADD/XOR of earlier values and constants, CALLs and guards whose
 * snapshots keep random earlier values alive. */
static void random_ir(fj_ir *ir, unsigned n) {
  fj_ref vals[4096];
  unsigned nv = 0;
  vals[nv++] = fj_ir_emit_raw(ir, &(fj_ir_ins){.op = FJ_IR_RIN, .type = FJ_IRT_I64, .lit = 1});
  for (unsigned i = 0; i < n; i++) {
    unsigned k = rnd(100);
    fj_ref a = vals[rnd(nv)], b = rnd(4) ? vals[rnd(nv)] : fj_ir_k64(ir, rnd(1000));
    if (k < 70) {
      vals[nv++] = fj_ir_emit_raw(ir, &(fj_ir_ins){.op = rnd(2) ? FJ_IR_ADD : FJ_IR_XOR,
                                                    .type = rnd(3) ? FJ_IRT_I64 : FJ_IRT_I32,
                                                    .a = a, .b = b});
    } else if (k < 80) {
      fj_ref keep[3] = {vals[rnd(nv)], vals[rnd(nv)], vals[rnd(nv)]};
      fj_ir_ins c = {.op = FJ_IR_CALL, .type = FJ_IRT_I64, .lit = 5};
      c.snap = empty_snap(ir, keep, 3);
      vals[nv++] = fj_ir_emit_raw(ir, &c);
    } else {
      fj_ref keep[2] = {vals[rnd(nv)], vals[rnd(nv)]};
      fj_ir_ins g = {.op = FJ_IR_NE, .type = FJ_IRT_I64, .a = a, .b = b};
      g.snap = empty_snap(ir, keep, 2);
      fj_ir_emit_raw(ir, &g);
    }
  }
  fj_ref keep[4] = {vals[rnd(nv)], vals[rnd(nv)], vals[nv - 1], vals[0]};
  fj_ir_ins e = {.op = FJ_IR_EXIT, .aux = FJ_EXIT_STOP};
  e.snap = empty_snap(ir, keep, 4);
  fj_ir_emit_raw(ir, &e);
}

static void check_allocation(const fj_ir *ir, const fj_ra *ra, const fj_target_regs *regs) {
  uint32_t n = ra->nins, callee = regs->callee_saved;
  uint32_t alloc_mask = 0;
  for (unsigned k = 0; k < regs->nalloc; k++) alloc_mask |= 1u << regs->alloc[k];
  for (uint32_t i = 0; i < n; i++) {
    const fj_ir_ins *in = fj_ir_at(ir, FJ_REF_BIAS + i);
    fj_loc li = ra->loc[i];
    bool value = in->op == FJ_IR_ADD || in->op == FJ_IR_XOR || in->op == FJ_IR_CALL || in->op == FJ_IR_RIN;
    if (value && ra->end[i] > i) assert_int_not_equal(li.kind, FJ_LOC_NONE);
    if (li.kind == FJ_LOC_NONE) continue;
    if (li.kind == FJ_LOC_REG) assert_true(alloc_mask >> li.reg & 1);
    else assert_true(li.slot < ra->nslots);
    for (uint32_t c = i + 1; c < ra->end[i]; c++) {  /* calls strictly inside the range */
      if (fj_ir_at(ir, FJ_REF_BIAS + c)->op == FJ_IR_CALL && li.kind == FJ_LOC_REG)
        if (!(callee >> li.reg & 1)) fail_msg("%04u in caller-saved r%u across call %04u", i, li.reg, c);
    }
    for (uint32_t j = i + 1; j <= ra->end[i] && j < n; j++) {
      fj_loc lj = ra->loc[j];
      if (lj.kind != li.kind || lj.kind == FJ_LOC_NONE) continue;
      /* Allowed: a two-address result inheriting its first operand's register (with commute
       * also its second one's) at that operand's last use (ra.h). */
      const fj_ir_ins *jn = fj_ir_at(ir, FJ_REF_BIAS + j);
      bool side = jn->a == FJ_REF_BIAS + i || (regs->commute && jn->b == FJ_REF_BIAS + i);
      bool handover = li.kind == FJ_LOC_REG && j == ra->end[i] && side && jn->b != jn->a &&
                      (jn->op == FJ_IR_ADD || jn->op == FJ_IR_XOR);
      if (!handover && ((li.kind == FJ_LOC_REG && li.reg == lj.reg) ||
                        (li.kind == FJ_LOC_SLOT && li.slot == lj.slot)))
        fail_msg("%04u (live to %04u) and %04u share a location", i, ra->end[i], j);
    }
  }
}

static const fj_target_regs small_regs = {.nalloc = 4, .alloc = {6, 7, 12, 13},
                                          .callee_saved = 1u << 12 | 1u << 13, .max_slots = 512};
/* The same with two-address results that may also take a commutative op's second operand. */
static const fj_target_regs commute_regs = {.nalloc = 4, .alloc = {6, 7, 12, 13},
                                            .callee_saved = 1u << 12 | 1u << 13, .max_slots = 512,
                                            .two_address = true, .commute = true};

/* A 32-bit target: I64 values only in slots, I32 values in registers when they fit. */
static const fj_target_regs pair_regs = {.nalloc = 6, .alloc = {4, 5, 6, 7, 8, 9},
                                         .callee_saved = 1u << 4 | 1u << 5 | 1u << 6,
                                         .max_slots = 512, .pair64 = true};

static void test_pair64_slots(void **state) {
  (void)state;
  volatile unsigned in_regs = 0;
  for (volatile unsigned round = 0; round < 100; round++) {
    rng_state = 1000 + round;
    fj_ir ir;
    fj_ir_init(&ir, FJ_IR_NOFOLD);
    fj_ra ra;
    memset(&ra, 0, sizeof ra);
    if (setjmp(ir.abort_jb)) fail_msg("round %u aborted: %s", round, ir.msg);
    random_ir(&ir, 20 + rnd(200));
    fj_ra_run(&ra, &ir, &pair_regs);
    check_allocation(&ir, &ra, &pair_regs);
    for (uint32_t i = 0; i < ra.nins; i++) {
      const fj_ir_ins *in = fj_ir_at(&ir, FJ_REF_BIAS + i);
      if (ra.loc[i].kind == FJ_LOC_REG) {
        assert_int_equal(in->type, FJ_IRT_I32);
        in_regs++;
      }
    }
    fj_ra_free(&ra);
    fj_ir_free(&ir);
  }
  assert_true(in_regs > 100);
}

/* A 32-bit target with widths (like Thumb-2): I64 values take two registers. */
static unsigned words64(const fj_ir *ir, fj_ref ref) {
  return fj_ir_at(ir, ref)->type == FJ_IRT_I64 ? 2 : 1;
}
static const fj_target_regs word_regs = {.nalloc = 8, .alloc = {4, 5, 6, 7, 8, 9, 10, 11},
                                         .callee_saved = 0x3f0u, .max_slots = 512,
                                         .words = words64, .two_address = true};

/* Registers value i holds while instruction at runs. */
static uint32_t held(const fj_ra *ra, uint32_t i, uint32_t at) {
  fj_loc l = ra->loc[i];
  if (l.kind != FJ_LOC_REG) return 0;
  return 1u << l.reg | (ra->words[i] == 2 && ra->hi_end[i] >= at ? 1u << l.reg_hi : 0);
}

static void test_words(void **state) {
  (void)state;
  volatile unsigned two = 0, one64 = 0, early = 0;
  for (volatile unsigned round = 0; round < 300; round++) {
    rng_state = 5000 + round;
    fj_ir ir;
    fj_ir_init(&ir, FJ_IR_NOFOLD);
    fj_ra ra;
    memset(&ra, 0, sizeof ra);
    if (setjmp(ir.abort_jb)) fail_msg("round %u aborted: %s", round, ir.msg);
    random_ir(&ir, 20 + rnd(200));
    fj_ra_run(&ra, &ir, &word_regs);
    uint32_t n = ra.nins;
    for (uint32_t i = 0; i < n; i++) {
      const fj_ir_ins *in = fj_ir_at(&ir, FJ_REF_BIAS + i);
      fj_loc li = ra.loc[i];
      if (in->type == FJ_IRT_I32) assert_int_equal(ra.words[i], 1);
      if (in->type == FJ_IRT_I64 && ra.words[i] == 1 && ra.end[i] > i) one64++;
      assert_true(ra.hi_end[i] <= ra.end[i] || ra.end[i] == i);
      if (li.kind != FJ_LOC_REG) continue;
      if (ra.words[i] == 2) {
        assert_int_not_equal(li.reg, li.reg_hi);
        two++;
        early += ra.hi_end[i] < ra.end[i];
      }
      uint32_t mi = held(&ra, i, i);
      for (uint32_t c = i + 1; c < ra.end[i]; c++)  /* calls strictly inside the range */
        if (fj_ir_at(&ir, FJ_REF_BIAS + c)->op == FJ_IR_CALL && (held(&ra, i, c) & ~0x3f0u))
          fail_msg("round %u: %04u in a caller-saved register across call %04u", round, i, c);
      for (uint32_t j = i + 1; j <= ra.end[i] && j < n; j++) {
        uint32_t mj = held(&ra, j, j), hi_at_j = held(&ra, i, j);
        if (!(mj & hi_at_j)) continue;
        const fj_ir_ins *jn = fj_ir_at(&ir, FJ_REF_BIAS + j);
        bool handover = j == ra.end[i] && jn->a == FJ_REF_BIAS + i && jn->b != jn->a &&
                        (jn->op == FJ_IR_ADD || jn->op == FJ_IR_XOR) && li.reg == ra.loc[j].reg;
        if (!handover)
          fail_msg("round %u: %04u (regs %#x, live to %04u, high to %04u) and %04u (%#x) overlap",
                   round, i, mi, ra.end[i], ra.hi_end[i], j, mj);
      }
    }
    fj_ra_free(&ra);
    fj_ir_free(&ir);
  }
  assert_true(two > 100);   /* two-word values in registers */
  assert_true(one64 > 10);  /* I64 values nothing reads the high word of: one register */
  assert_true(early > 10);  /* high registers freed before the low ones */
}

/* Loop traces on a split_loop target: pre-roll values the body uses get body locations.  At
 * every instruction the registers of the values live there (body locations in the body, high
 * registers up to the last high read) are disjoint, and some value that went to a slot in the
 * crowded pre-roll gets a register in the body. */
static void random_loop_ir(fj_ir *ir, unsigned npre, unsigned nbody) {
  fj_ref vals[512];
  unsigned nv = 0;
  for (unsigned k = 0; k < 10; k++)
    vals[nv++] = fj_ir_emit_raw(ir, &(fj_ir_ins){.op = FJ_IR_RIN, .type = FJ_IRT_I64, .lit = (int32_t)k});
  for (unsigned part = 0; part < 2; part++) {
    if (part) fj_ir_emit_raw(ir, &(fj_ir_ins){.op = FJ_IR_LOOP});
    for (unsigned i = 0, n = part ? nbody : npre; i < n; i++) {
      fj_ref a = vals[rnd(nv)], b = rnd(4) ? vals[rnd(nv)] : fj_ir_k64(ir, rnd(1000));
      if (rnd(8)) {
        vals[nv++] = fj_ir_emit_raw(ir, &(fj_ir_ins){.op = rnd(2) ? FJ_IR_ADD : FJ_IR_XOR,
                                                      .type = rnd(3) ? FJ_IRT_I64 : FJ_IRT_I32,
                                                      .a = a, .b = b});
      } else {
        fj_ref keep[2] = {vals[rnd(nv)], vals[rnd(nv)]};
        fj_ir_ins g = {.op = FJ_IR_NE, .type = FJ_IRT_I64, .a = a, .b = b};
        g.snap = empty_snap(ir, keep, 2);
        fj_ir_emit_raw(ir, &g);
      }
    }
  }
  fj_ref keep[4] = {vals[rnd(nv)], vals[rnd(nv)], vals[nv - 1], vals[0]};
  fj_ir_ins g = {.op = FJ_IR_NE, .type = FJ_IRT_I64, .a = vals[nv - 1], .b = fj_ir_k64(ir, 7)};
  g.snap = empty_snap(ir, keep, 4);
  fj_ir_emit_raw(ir, &g);
}

static void test_split_loop(void **state) {
  (void)state;
  fj_target_regs regs = word_regs;
  regs.split_loop = true;
  volatile unsigned reloaded = 0;
  for (volatile unsigned round = 0; round < 200; round++) {
    rng_state = 9000 + round;
    fj_ir ir;
    fj_ir_init(&ir, FJ_IR_NOFOLD);
    fj_ra ra;
    memset(&ra, 0, sizeof ra);
    if (setjmp(ir.abort_jb)) fail_msg("round %u aborted: %s", round, ir.msg);
    random_loop_ir(&ir, 10 + rnd(60), 5 + rnd(40));
    fj_ra_run(&ra, &ir, &regs);
    uint32_t n = ra.nins, lp = ra.loop_at;
    assert_true(ra.loc_body != NULL && lp < n);
    for (uint32_t i = 0; i < lp; i++) {
      if (ra.loc_body[i].kind == FJ_LOC_NONE) continue;
      assert_true(ra.end[i] > lp);
      reloaded += ra.loc[i].kind == FJ_LOC_SLOT && ra.loc_body[i].kind == FJ_LOC_REG;
    }
    for (uint32_t t = 0; t < n; t++) {
      if (t == lp) continue;  /* the LOOP moves */
      uint32_t busy = 0, owner[32];
      for (uint32_t i = 0; i <= t; i++) {
        if (ra.end[i] < t || (ra.end[i] == i && i != t)) continue;
        fj_loc l = fj_ra_loc_at(&ra, FJ_REF_BIAS + i, FJ_REF_BIAS + t);
        if (l.kind != FJ_LOC_REG) continue;
        uint32_t m = 1u << l.reg | (ra.words[i] == 2 && ra.hi_end[i] >= t ? 1u << l.reg_hi : 0);
        for (unsigned r = 0; r < 32; r++) {
          if (!(m >> r & 1)) continue;
          if (busy >> r & 1) {
            uint32_t o = owner[r];  /* two-address handover: o dies at t, t takes over */
            const fj_ir_ins *tn = fj_ir_at(&ir, FJ_REF_BIAS + t);
            bool handover = i == t && ra.end[o] == t && tn->a == FJ_REF_BIAS + o && tn->b != tn->a;
            if (!handover)
              fail_msg("round %u: r%u held by %04u and %04u at %04u", round, r, o, i, t);
          }
          busy |= 1u << r;
          owner[r] = i;
        }
      }
    }
    fj_ra_free(&ra);
    fj_ir_free(&ir);
  }
  assert_true(reloaded > 20);
}

static void test_random_ir_invariants(void **state) {
  (void)state;
  for (unsigned round = 0; round < 300; round++) {
    rng_state = round + 1;
    fj_ir ir;
    fj_ir_init(&ir, FJ_IR_NOFOLD);
    fj_ra ra;
    memset(&ra, 0, sizeof ra);
    if (setjmp(ir.abort_jb)) fail_msg("round %u aborted: %s", round, ir.msg);
    random_ir(&ir, 20 + rnd(300));
    const fj_target_regs *regs = round % 3 == 2 ? &commute_regs
                               : round % 2 ? &small_regs : &fj_backend_x86_64.regs;
    fj_ra_run(&ra, &ir, regs);
    check_allocation(&ir, &ra, regs);
    if (regs != &fj_backend_x86_64.regs) assert_true(ra.nslots > 0 || fj_ir_nins(&ir) < 40);
    fj_ra_free(&ra);
    fj_ir_free(&ir);
  }
}

/* Values used by later instructions keep their register until their last use; an unused
 * result gets no location. */
static void test_ranges_and_unused(void **state) {
  (void)state;
  fj_ir ir;
  fj_ir_init(&ir, FJ_IR_NOFOLD);
  if (setjmp(ir.abort_jb)) fail_msg("%s", ir.msg);
  fj_ref a = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_RIN, .type = FJ_IRT_I64, .lit = 1});
  fj_ref dead = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_ADD, .type = FJ_IRT_I64, .a = a, .b = a});
  fj_ref b = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_ADD, .type = FJ_IRT_I64, .a = a, .b = fj_ir_k64(&ir, 3)});
  fj_ref keep[2] = {b, a};
  fj_ir_ins e = {.op = FJ_IR_EXIT, .aux = FJ_EXIT_STOP};
  e.snap = empty_snap(&ir, keep, 2);
  fj_ir_emit_raw(&ir, &e);
  fj_ra ra;
  fj_ra_run(&ra, &ir, &fj_backend_x86_64.regs);
  assert_int_equal(fj_ra_loc(&ra, dead).kind, FJ_LOC_NONE);
  assert_int_equal(fj_ra_loc(&ra, a).kind, FJ_LOC_REG);
  assert_int_equal(fj_ra_loc(&ra, b).kind, FJ_LOC_REG);
  assert_int_not_equal(fj_ra_loc(&ra, a).reg, fj_ra_loc(&ra, b).reg);  /* a lives on */
  assert_int_equal(ra.end[a - FJ_REF_BIAS], 3);  /* the exit's snapshot */
  assert_int_equal(fj_ra_loc(&ra, fj_ir_k64(&ir, 3)).kind, FJ_LOC_NONE);  /* constants: none */
  assert_int_equal(ra.nslots, 0);
  char *d = fj_ra_dump(&ra, &ir, NULL);
  assert_non_null(d);
  assert_non_null(strstr(d, "0000"));
  free(d);
  fj_ra_free(&ra);
  fj_ir_free(&ir);
}

/* A target whose XOR writes register 7 and whose guards write register 6 besides their
 * results (like x86 mul/div and rdx). */
static uint32_t test_clobbers(const fj_ir *ir, fj_ref ref) {
  uint8_t op = fj_ir_at(ir, ref)->op;
  return op == FJ_IR_XOR ? 1u << 7 : op == FJ_IR_NE ? 1u << 6 : 0;
}

static void test_clobbered_registers(void **state) {
  (void)state;
  fj_target_regs regs = {.nalloc = 4, .alloc = {6, 7, 12, 13}, .callee_saved = 1u << 12 | 1u << 13,
                         .max_slots = 512, .two_address = true, .clobbers = test_clobbers};
  volatile unsigned in_clobbered = 0;
  for (volatile unsigned seed = 1; seed <= 100; seed++) {
    rng_state = seed * 7919u;
    fj_ir ir;
    fj_ir_init(&ir, FJ_IR_NOFOLD);
    if (setjmp(ir.abort_jb)) fail_msg("seed %u: %s", seed, ir.msg);
    random_ir(&ir, 20 + seed % 60);
    fj_ra ra;
    fj_ra_run(&ra, &ir, &regs);
    check_allocation(&ir, &ra, &regs);
    for (uint32_t i = 0; i < ra.nins; i++) {
      fj_loc l = ra.loc[i];
      if (l.kind != FJ_LOC_REG) continue;
      in_clobbered += l.reg == 6 || l.reg == 7;
      for (uint32_t j = i + 1; j <= ra.end[i] && j < ra.nins; j++)
        if (test_clobbers(&ir, FJ_REF_BIAS + j) >> l.reg & 1)
          fail_msg("seed %u: %04u in r%u, written by %04u inside its range", seed, i, l.reg, j);
    }
    fj_ra_free(&ra);
    fj_ir_free(&ir);
  }
  assert_true(in_clobbered > 0);  /* results and short ranges still use those registers */
}

/* PHI a b with b = (a + x) ^ 5: the chain works in a's register (no back-edge copy), and a
 * value defined after the chain's first link expired still gets another register. */
static void test_phi_chain(void **state) {
  (void)state;
  fj_ir ir;
  fj_ir_init(&ir, FJ_IR_NOFOLD);
  if (setjmp(ir.abort_jb)) fail_msg("%s", ir.msg);
  fj_ref a = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_RIN, .type = FJ_IRT_I64, .lit = 1});
  fj_ref x = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_RIN, .type = FJ_IRT_I64, .lit = 2});
  fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_LOOP});
  fj_ref c1 = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_ADD, .type = FJ_IRT_I64, .a = a, .b = x});
  fj_ref b = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_XOR, .type = FJ_IRT_I64, .a = c1,
                                               .b = fj_ir_k64(&ir, 5)});
  fj_ref d = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_ADD, .type = FJ_IRT_I64, .a = x,
                                               .b = fj_ir_k64(&ir, 7)});
  fj_ref keep[2] = {b, d};
  fj_ir_ins g = {.op = FJ_IR_NE, .type = FJ_IRT_I64, .a = b, .b = fj_ir_k64(&ir, 0)};
  g.snap = empty_snap(&ir, keep, 2);
  fj_ir_emit_raw(&ir, &g);
  fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_PHI, .type = FJ_IRT_I64, .a = a, .b = b});
  fj_ra ra;
  fj_ra_run(&ra, &ir, &fj_backend_x86_64.regs);
  fj_loc la = fj_ra_loc(&ra, a), lc = fj_ra_loc(&ra, c1), lb = fj_ra_loc(&ra, b), ld = fj_ra_loc(&ra, d);
  assert_int_equal(la.kind, FJ_LOC_REG);
  assert_int_equal(lc.kind, FJ_LOC_REG);
  assert_int_equal(lb.kind, FJ_LOC_REG);
  assert_int_equal(lc.reg, la.reg);
  assert_int_equal(lb.reg, la.reg);
  assert_int_equal(ld.kind, FJ_LOC_REG);
  assert_int_not_equal(ld.reg, la.reg);  /* c1 expired, but a and b still hold the register */
  assert_int_not_equal(ld.reg, fj_ra_loc(&ra, x).reg);
  fj_ra_free(&ra);
  fj_ir_free(&ir);
}

/* regs.commute: `b = t + a` (a's last use, t a body value dying there too) takes a's registers,
 * both words of a 64-bit value on a target with widths, so PHI a b needs no copy; without
 * commute it cannot (the result may only take t's). */
static void commute_case(bool commute) {
  {
    fj_ir ir;
    fj_ir_init(&ir, FJ_IR_NOFOLD);
    if (setjmp(ir.abort_jb)) fail_msg("%s", ir.msg);
    fj_ref a = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_RIN, .type = FJ_IRT_I64, .lit = 1});
    fj_ref x = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_RIN, .type = FJ_IRT_I64, .lit = 2});
    fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_LOOP});
    fj_ref t = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_XOR, .type = FJ_IRT_I64, .a = x,
                                                 .b = fj_ir_k64(&ir, 0x123456789ull)});
    fj_ref b = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_ADD, .type = FJ_IRT_I64, .a = t, .b = a});
    fj_ref keep[2] = {b, x};
    fj_ir_ins g = {.op = FJ_IR_NE, .type = FJ_IRT_I64, .a = b, .b = fj_ir_k64(&ir, 0)};
    g.snap = empty_snap(&ir, keep, 2);
    fj_ir_emit_raw(&ir, &g);
    fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_PHI, .type = FJ_IRT_I64, .a = a, .b = b});
    fj_target_regs regs = word_regs;
    regs.commute = commute;
    fj_ra ra;
    fj_ra_run(&ra, &ir, &regs);
    fj_loc la = fj_ra_loc(&ra, a), lb = fj_ra_loc(&ra, b), lt = fj_ra_loc(&ra, t);
    assert_int_equal(la.kind, FJ_LOC_REG);
    assert_int_equal(lb.kind, FJ_LOC_REG);
    assert_int_equal(fj_ra_words(&ra, b), 2);
    if (commute) {
      assert_int_equal(lb.reg, la.reg);
      assert_int_equal(lb.reg_hi, la.reg_hi);
    } else {
      assert_int_not_equal(lb.reg, la.reg);
      assert_int_equal(lb.reg, lt.reg);  /* the first operand's, as before */
    }
    fj_ra_free(&ra);
    fj_ir_free(&ir);
  }
}
/* PHI a b where a holds one word (nothing reads its high word) and b two: b's low word shares
 * a's register (no back-edge copy), its high word takes the high register of the two-address
 * operand dying at b (no move for it either). */
static void test_phi_one_word(void **state) {
  (void)state;
  fj_ir ir;
  fj_ir_init(&ir, FJ_IR_NOFOLD);
  if (setjmp(ir.abort_jb)) fail_msg("%s", ir.msg);
  fj_ref a = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_RIN, .type = FJ_IRT_I64, .lit = 1});
  fj_ref x = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_RIN, .type = FJ_IRT_I64, .lit = 2});
  fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_LOOP});
  fj_ref c = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_ZEXT, .type = FJ_IRT_I64, .a = a, .aux = 32});
  fj_ref w = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_XOR, .type = FJ_IRT_I64, .a = x,
                                               .b = fj_ir_k64(&ir, 0x123456789ull)});
  fj_ref b = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_XOR, .type = FJ_IRT_I64, .a = w, .b = c});
  fj_ref keep[2] = {b, x};
  fj_ir_ins g = {.op = FJ_IR_NE, .type = FJ_IRT_I64, .a = x, .b = fj_ir_k64(&ir, 0)};
  g.snap = empty_snap(&ir, keep, 2);
  fj_ir_emit_raw(&ir, &g);
  fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_PHI, .type = FJ_IRT_I64, .a = a, .b = b});
  fj_ra ra;
  fj_ra_run(&ra, &ir, &word_regs);
  fj_loc la = fj_ra_loc(&ra, a), lb = fj_ra_loc(&ra, b), lw = fj_ra_loc(&ra, w);
  assert_int_equal(fj_ra_words(&ra, a), 1);
  assert_int_equal(fj_ra_words(&ra, b), 2);
  assert_int_equal(la.kind, FJ_LOC_REG);
  assert_int_equal(lb.kind, FJ_LOC_REG);
  assert_int_equal(lw.kind, FJ_LOC_REG);
  assert_int_equal(lb.reg, la.reg);
  assert_int_equal(lb.reg_hi, lw.reg_hi);
  assert_int_not_equal(lb.reg, lb.reg_hi);
  fj_ra_free(&ra);
  fj_ir_free(&ir);
}

static void test_commute(void **state) {
  (void)state;
  commute_case(false);
  commute_case(true);
}

/* ---- parallel moves ------------------------------------------------------------------------ */

typedef struct machine {
  uint64_t reg[16], slot[16];
  const fj_ir *ir;
  unsigned nmoves;
} machine;

static uint64_t *cell(machine *m, fj_loc l) { return l.kind == FJ_LOC_REG ? &m->reg[l.reg] : &m->slot[l.slot]; }

static void sim_move(void *ud, fj_loc dst, fj_loc src, fj_ref ref) {
  machine *m = ud;
  *cell(m, dst) = src.kind == FJ_LOC_NONE ? fj_ir_kval(m->ir, ref) : *cell(m, src);
  m->nmoves++;
}

#define REG(r) ((fj_loc){.kind = FJ_LOC_REG, .reg = (r)})
#define SLOT(s) ((fj_loc){.kind = FJ_LOC_SLOT, .slot = (s)})

/* PHIs (a_k, b_k) with hand-set locations; after the moves loc(a_k) must hold what loc(b_k)
 * (or the constant b_k) held before. */
static void phi_case(const fj_loc *la, const fj_loc *lb, const bool *bconst, unsigned n,
                     unsigned max_moves) {
  fj_ir ir;
  fj_ir_init(&ir, FJ_IR_NOFOLD);
  if (setjmp(ir.abort_jb)) fail_msg("%s", ir.msg);
  fj_ref a[8], b[8];
  for (unsigned k = 0; k < n; k++)
    a[k] = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_RIN, .type = FJ_IRT_I64, .lit = (int32_t)k});
  fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_LOOP});
  for (unsigned k = 0; k < n; k++)
    b[k] = bconst[k] ? fj_ir_k64(&ir, 1000 + k)
                     : fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_ADD, .type = FJ_IRT_I64, .a = a[k], .b = a[k]});
  for (unsigned k = 0; k < n; k++)
    fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_PHI, .type = FJ_IRT_I64, .a = a[k], .b = b[k]});
  fj_ra ra;
  memset(&ra, 0, sizeof ra);
  ra.nins = fj_ir_nins(&ir);
  ra.loc = calloc(ra.nins, sizeof *ra.loc);
  ra.end = calloc(ra.nins, sizeof *ra.end);
  for (unsigned k = 0; k < n; k++) {
    ra.loc[a[k] - FJ_REF_BIAS] = la[k];
    if (!bconst[k]) ra.loc[b[k] - FJ_REF_BIAS] = lb[k];
  }
  machine m;
  memset(&m, 0, sizeof m);
  m.ir = &ir;
  for (unsigned r = 0; r < 16; r++) m.reg[r] = 100 + r, m.slot[r] = 200 + r;
  machine before = m;
  fj_ra_phi_moves(&ra, &ir, REG(15), sim_move, &m);
  for (unsigned k = 0; k < n; k++) {
    uint64_t want = bconst[k] ? 1000 + k : *cell(&before, lb[k]);
    assert_int_equal(*cell(&m, la[k]), want);
  }
  assert_true(m.nmoves <= max_moves);
  free(ra.loc);
  free(ra.end);
  fj_ir_free(&ir);
}

static void test_phi_moves(void **state) {
  (void)state;
  bool nc[8] = {0};
  /* Already in place: no moves. */
  phi_case((fj_loc[]){REG(1)}, (fj_loc[]){REG(1)}, nc, 1, 0);
  /* Simple chain a0 <- r2, a1 <- r3 (r2 is a1's... no overlap). */
  phi_case((fj_loc[]){REG(1), REG(2)}, (fj_loc[]){REG(2), REG(3)}, nc, 2, 2);
  /* Swap r1 <-> r2: three moves through the temporary. */
  phi_case((fj_loc[]){REG(1), REG(2)}, (fj_loc[]){REG(2), REG(1)}, nc, 2, 3);
  /* Three-cycle through slots and registers. */
  phi_case((fj_loc[]){REG(1), SLOT(2), REG(3)}, (fj_loc[]){SLOT(2), REG(3), REG(1)}, nc, 3, 4);
  /* Two independent swaps. */
  phi_case((fj_loc[]){REG(1), REG(2), SLOT(1), SLOT(2)}, (fj_loc[]){REG(2), REG(1), SLOT(2), SLOT(1)},
           nc, 4, 6);
  /* Fan-out: two PHIs read the same location, one of them overwrites it. */
  phi_case((fj_loc[]){REG(1), REG(2)}, (fj_loc[]){REG(2), REG(2)}, nc, 2, 2);
  /* A constant source whose destination is another PHI's source. */
  bool c1[2] = {true, false};
  phi_case((fj_loc[]){REG(1), REG(2)}, (fj_loc[]){REG(0), REG(1)}, c1, 2, 2);
  /* Cycle plus a tree hanging off it. */
  phi_case((fj_loc[]){REG(1), REG(2), REG(3)}, (fj_loc[]){REG(2), REG(1), REG(1)}, nc, 3, 4);
}

/* Word moves (targets with widths): registers and slot words hold 32 bits; PHIs of two-word
 * values move both words, a one-word source's high word is 0, a constant's words are its
 * halves, and a high word the body never reads is not moved. */
typedef struct wmachine {
  uint32_t reg[16], slot[16][2];
  const fj_ir *ir;
  unsigned nmoves;
} wmachine;

static uint32_t *wcell(wmachine *m, fj_loc l) {
  return l.kind == FJ_LOC_REG ? &m->reg[l.reg] : &m->slot[l.slot][l.word == 2];
}

static void wsim_move(void *ud, fj_loc dst, fj_loc src, fj_ref ref) {
  wmachine *m = ud;
  assert_true(dst.kind == FJ_LOC_REG || dst.word == 1 || dst.word == 2);
  uint32_t v = 0;
  if (src.kind != FJ_LOC_NONE) v = *wcell(m, src);
  else if (fj_ir_is_k(ref)) v = (uint32_t)(fj_ir_kval(m->ir, ref) >> (src.word == 2 ? 32 : 0));
  else if (src.word == 2) v = 0;
  else fail_msg("low word of a value without a location");
  *wcell(m, dst) = v;
  m->nmoves++;
}

#define REG2(r, h) ((fj_loc){.kind = FJ_LOC_REG, .reg = (r), .reg_hi = (h)})

static void test_phi_word_moves(void **state) {
  (void)state;
  fj_ir ir;
  fj_ir_init(&ir, FJ_IR_NOFOLD);
  if (setjmp(ir.abort_jb)) fail_msg("%s", ir.msg);
  /* a0 (I64, r4:r5) <- b0 (I64, r5:r4): a swap of halves; a1 (I64, slot 1) <- b1 (I32, r6);
   * a2 (I32, r7) <- constant; a3 (I64, r8:r9, high word dead in the body) <- b3 (I64, slot 2);
   * a4 (I64, r10:r11) <- constant 0x1234567800000009. */
  enum { N = 5 };
  fj_ref a[N], b[N];
  static const uint8_t ta[N] = {FJ_IRT_I64, FJ_IRT_I64, FJ_IRT_I32, FJ_IRT_I64, FJ_IRT_I64};
  static const uint8_t tb[N] = {FJ_IRT_I64, FJ_IRT_I32, 0, FJ_IRT_I64, 0};
  for (unsigned k = 0; k < N; k++)
    a[k] = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_RIN, .type = ta[k], .lit = (int32_t)k});
  fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_LOOP});
  for (unsigned k = 0; k < N; k++)
    b[k] = tb[k] ? fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_ADD, .type = tb[k], .a = a[k], .b = a[k]})
                 : fj_ir_k64(&ir, k == 2 ? 77 : 0x1234567800000009ull);
  fj_ref phi[N];
  for (unsigned k = 0; k < N; k++)
    phi[k] = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_PHI, .type = ta[k], .a = a[k], .b = b[k]});
  fj_ra ra;
  memset(&ra, 0, sizeof ra);
  ra.nins = fj_ir_nins(&ir);
  ra.loc = calloc(ra.nins, sizeof *ra.loc);
  ra.end = calloc(ra.nins, sizeof *ra.end);
  ra.words = calloc(ra.nins, 1);
  ra.hi_end = calloc(ra.nins, sizeof *ra.hi_end);
  fj_loc la[N] = {REG2(4, 5), SLOT(1), REG(7), REG2(8, 9), REG2(10, 11)};
  fj_loc lb[N] = {REG2(5, 4), REG(6), {0}, SLOT(2), {0}};
  for (unsigned k = 0; k < N; k++) {
    uint32_t ia = a[k] - FJ_REF_BIAS;
    ra.loc[ia] = la[k];
    ra.words[ia] = ta[k] == FJ_IRT_I64 ? 2 : 1;
    ra.hi_end[ia] = k == 3 ? ia : phi[N - 1] - FJ_REF_BIAS;  /* a3: high word never read */
    if (tb[k]) {
      ra.loc[b[k] - FJ_REF_BIAS] = lb[k];
      ra.words[b[k] - FJ_REF_BIAS] = tb[k] == FJ_IRT_I64 ? 2 : 1;
    }
  }
  wmachine m;
  memset(&m, 0, sizeof m);
  m.ir = &ir;
  for (unsigned r = 0; r < 16; r++) m.reg[r] = 100 + r, m.slot[r][0] = 200 + r, m.slot[r][1] = 300 + r;
  wmachine before = m;
  fj_ra_phi_moves(&ra, &ir, REG(12), wsim_move, &m);
  assert_int_equal(m.reg[4], before.reg[5]);  /* swapped halves */
  assert_int_equal(m.reg[5], before.reg[4]);
  assert_int_equal(m.slot[1][0], before.reg[6]);  /* I32 into a two-word slot: high word 0 */
  assert_int_equal(m.slot[1][1], 0);
  assert_int_equal(m.reg[7], 77);
  assert_int_equal(m.reg[8], before.slot[2][0]);
  assert_int_equal(m.reg[9], before.reg[9]);  /* dead high word: not moved */
  assert_int_equal(m.reg[10], 9);
  assert_int_equal(m.reg[11], 0x12345678);
  assert_true(m.nmoves <= 9);
  free(ra.loc);
  free(ra.end);
  free(ra.words);
  free(ra.hi_end);
  fj_ir_free(&ir);
}

/* phi_slots: with two registers, the loop-carried I64 values live in slots; a PHI's b that only
 * the back edge reads (b0 = a0 - 11, the budget's shape) and one read in the body (b1) take
 * their a's slot, and the back edge then moves nothing.  Random loops: two values share a slot
 * at once only as such a pair, a done by b's definition. */
static void test_phi_slots(void **state) {
  (void)state;
  fj_target_regs regs = word_regs;
  regs.nalloc = 2;
  regs.split_loop = true;
  regs.phi_slots = true;
  fj_ir ir;
  fj_ir_init(&ir, FJ_IR_NOFOLD);
  if (setjmp(ir.abort_jb)) fail_msg("%s", ir.msg);
  fj_ref a[4];
  for (unsigned k = 0; k < 4; k++)
    a[k] = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_RIN, .type = FJ_IRT_I64, .lit = (int32_t)k});
  fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_LOOP});
  fj_ref keep[3] = {a[1], a[2], a[3]};
  fj_ir_ins g = {.op = FJ_IR_GE, .type = FJ_IRT_I64, .a = a[0], .b = fj_ir_k64(&ir, 11)};
  g.snap = empty_snap(&ir, keep, 3);
  fj_ir_emit_raw(&ir, &g);
  fj_ref b0 = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_ADD, .type = FJ_IRT_I64, .a = a[0],
                                               .b = fj_ir_k64(&ir, (uint64_t)-11)});
  fj_ref c = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_ADD, .type = FJ_IRT_I64, .a = a[2], .b = a[3]});
  fj_ref b1 = fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_XOR, .type = FJ_IRT_I64, .a = a[1], .b = c});
  fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_PHI, .type = FJ_IRT_I64, .a = a[0], .b = b0});
  fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_PHI, .type = FJ_IRT_I64, .a = a[1], .b = b1});
  fj_ra ra;
  fj_ra_run(&ra, &ir, &regs);
  /* a0 (read twice per iteration) keeps the two registers; a1 is in a slot and b1 takes it */
  fj_loc l0 = fj_ra_loc_at(&ra, a[0], b0), l1 = fj_ra_loc_at(&ra, a[1], b1);
  assert_int_equal(l0.kind, FJ_LOC_REG);
  assert_int_equal(l1.kind, FJ_LOC_SLOT);
  assert_int_equal(ra.loc[b1 - FJ_REF_BIAS].kind, FJ_LOC_SLOT);
  assert_int_equal(ra.loc[b1 - FJ_REF_BIAS].slot, l1.slot);
  wmachine m;
  memset(&m, 0, sizeof m);
  m.ir = &ir;
  fj_ra_phi_moves(&ra, &ir, REG(12), wsim_move, &m);
  assert_int_equal(m.nmoves, 0);  /* b0 shares a0's registers, b1 a1's slot */
  fj_ra_free(&ra);
  fj_ir_free(&ir);

  volatile unsigned shared = 0;
  for (volatile unsigned round = 0; round < 300; round++) {
    rng_state = 4242 + round;
    fj_ir_init(&ir, FJ_IR_NOFOLD);
    memset(&ra, 0, sizeof ra);
    if (setjmp(ir.abort_jb)) fail_msg("round %u aborted: %s", round, ir.msg);
    random_loop_ir(&ir, 5 + rnd(30), 5 + rnd(30));
    /* PHIs: pre-roll RINs (a) <- random body values (b) */
    uint32_t lp = ir.loop - FJ_REF_BIAS, top = fj_ir_nins(&ir);
    for (unsigned k = 0; k < 4; k++) {
      fj_ref pa = FJ_REF_BIAS + k, pb = FJ_REF_BIAS + lp + 1 + rnd(top - lp - 1);
      const fj_ir_ins *bi = fj_ir_at(&ir, pb);
      if (bi->op != FJ_IR_ADD && bi->op != FJ_IR_XOR) continue;
      fj_ir_emit_raw(&ir, &(fj_ir_ins){.op = FJ_IR_PHI, .type = bi->type, .a = pa, .b = pb});
    }
    regs.nalloc = (uint8_t)(2 + rnd(7));
    fj_ra_run(&ra, &ir, &regs);
    uint32_t n = ra.nins;
    for (uint32_t t = 0; t < n; t++) {
      for (uint32_t i = 0; i <= t; i++) {
        if (ra.end[i] < t || ra.loc[i].kind == FJ_LOC_NONE) continue;
        fj_loc li = fj_ra_loc_at(&ra, FJ_REF_BIAS + i, FJ_REF_BIAS + t);
        if (li.kind != FJ_LOC_SLOT) continue;
        for (uint32_t j = i + 1; j <= t; j++) {
          if (ra.end[j] < t || ra.loc[j].kind == FJ_LOC_NONE) continue;
          fj_loc lj = fj_ra_loc_at(&ra, FJ_REF_BIAS + j, FJ_REF_BIAS + t);
          if (lj.kind != FJ_LOC_SLOT || lj.slot != li.slot) continue;
          /* only a PHI pair, a's last read at or before b's definition */
          if (!ra.phi_a || ra.phi_a[j] != i + 1 || ra.last_use[i] > j)
            fail_msg("round %u: %04u and %04u share slot %u at %04u", round, i, j, li.slot, t);
          shared++;
        }
      }
    }
    fj_ra_free(&ra);
    fj_ir_free(&ir);
  }
  assert_true(shared > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_random_ir_invariants),
    cmocka_unit_test(test_pair64_slots),
    cmocka_unit_test(test_ranges_and_unused),
    cmocka_unit_test(test_phi_chain),
    cmocka_unit_test(test_commute),
    cmocka_unit_test(test_phi_one_word),
    cmocka_unit_test(test_clobbered_registers),
    cmocka_unit_test(test_phi_moves),
    cmocka_unit_test(test_words),
    cmocka_unit_test(test_split_loop),
    cmocka_unit_test(test_phi_word_moves),
    cmocka_unit_test(test_phi_slots),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
