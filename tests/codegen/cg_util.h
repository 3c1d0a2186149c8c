/* Test helpers for the trace compiler's front half (tests/codegen/test_{trace_read,ir,fold,dce,
 * mem,loop,snap}.c): assemble a program, walk it into trace bytes, build IR, evaluate IR. */
#ifndef FJ_TESTS_CG_UTIL_H
#define FJ_TESTS_CG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codegen/ir.h"
#include "farjit/ebpf.h"
#include "farjit/trace.h"

/* Assemble or fail the test. */
fj_insn *cu_asm(const char *text, uint32_t *n);

/* Walk prog from start as the recorder would: conditional jumps take the direction given by
 * the next character of path ('t' taken, 'n' not taken; missing = not taken), memory ops get
 * region `region` (or 0 for r10-based ones), local calls are inlined.  Ends with END_LOOP when
 * control returns to start at depth 0, END_STOP at a depth-0 exit, or END_STOP after max recs.
 * Returns malloc'd bytes (size in *len). */
uint8_t *cu_trace(const fj_insn *prog, uint32_t n, uint32_t start, const char *path,
                  uint8_t region, uint32_t max, size_t *len);
/* cu_trace with header.entry_narrow = entry_narrow (bit i: r_i below 2^32 when recording
 * began; the recorder's job, which cu_trace does not model). */
uint8_t *cu_trace_narrow(const fj_insn *prog, uint32_t n, uint32_t start, const char *path,
                         uint8_t region, uint32_t max, uint32_t entry_narrow, size_t *len);

/* Read + build (+ fj_opt_run if opt) a trace into ir.  Returns the abort reason (0 = ok); on
 * an abort ir->msg says why.  flags: FJ_IR_*.  The caller calls fj_ir_free. */
int cu_build(const uint8_t *bytes, size_t len, uint32_t flags, bool opt, fj_ir *ir);

/* Assemble, walk and build in one go; returns the printed IR (malloc'd) or fails the test. */
char *cu_ir_text(const char *text, const char *path, bool opt, bool snaps);

/* Same with FJ_IR_* flags (e.g. FJ_IR_NOFOLD for the "before" picture). */
char *cu_ir_text_flags(const char *text, const char *path, bool opt, bool snaps, uint32_t flags);

/* Assemble + walk (start pc 0, memory region 1) + build without passes; fails the test on an
 * abort.  The caller runs passes under its own setjmp and calls fj_ir_free. */
void cu_build_text(const char *text, const char *path, uint32_t flags, fj_ir *ir);
/* fj_ir_dump without snapshots, and with them. */
char *cu_dump(const fj_ir *ir);
char *cu_dump_snaps(const fj_ir *ir);

/* Number of instructions with op in the IR (NOPs never counted). */
unsigned cu_count(const fj_ir *ir, enum fj_ir_op op);

/* Value of ref r with RIN k reading in[k] (pure ops and constants only; fails on others). */
uint64_t cu_eval(const fj_ir *ir, fj_ref r, const uint64_t in[16]);

#endif
