/* farjit — the trace format: what a client records and the compiler consumes.
 *
 * A trace is the list of eBPF instructions executed along one path, in order, with the facts the
 * interpreter observed: which way each conditional branch went, how deep in inlined local calls
 * each instruction ran, and which memory region each access hit.  It travels as opaque bytes
 * inside CompileRequest (proto/farjit.proto) and is stored as a file by `farjit compile`.
 *
 * Layout (little-endian, no padding between parts):
 *   fj_trace_header                       48 bytes
 *   fj_trace_rec[header.nrecs]            20 bytes each
 * Nothing else; total size = 48 + 20 * nrecs, and readers reject any other size.
 *
 * Semantics the compiler relies on (the recorder guarantees them, the compiler's verifier checks
 * them and rejects the trace otherwise):
 *  - recs[0].pc == start_pc, at depth 0.  Each rec's pc is the pc of the instruction actually
 *    executed next after the previous rec (fall-through, jump target, call target, return pc).
 *  - Conditional jumps carry FJ_REC_TAKEN when the branch was taken; the compiled trace guards on
 *    the recorded direction and exits to the other side.  `ja` is recorded too (no guard).
 *  - lddw is one rec: insn is the first slot, aux the second slot's imm (high 32 bits).
 *    An lddw the loader relocated to a data section's address carries FJ_REC_LDDW_REGION with
 *    region = the index of that section's region, and its 64-bit value is the offset into the
 *    region (insn.imm = low 32 bits, aux = high 32 bits) instead of the address: the value is
 *    st->regions[region].base + offset at run time.  Traces hold no client address, so the same
 *    program records to the same bytes on every client (the server's cache shares them).
 *  - Local call (call local, src=1) inlined: the call rec (depth d) is followed by the callee's
 *    recs at depth d+1 and its `exit` rec at depth d+1; the next rec is at depth d and pc = call
 *    pc + 1.  With FJ_REC_CALL_INTERP the callee was not recorded: the compiled code runs it in
 *    the interpreter through the runtime (FJ_RT_CALL_LOCAL) and continues at call pc + 1.
 *    aux of a call rec = callee pc.  Depth never exceeds FJ_MAX_CALL_DEPTH - 1.
 *  - Helper calls (call imm, callx) are recorded with aux = the helper id called.
 *  - Loads, stores and atomics carry region = index into the VM region table (farjit/vm.h) that
 *    the access hit; the compiled code checks the access against that region and exits to the
 *    interpreter (which re-executes and reports the error, if any) when it does not fit.
 *  - The trace ends after recs[nrecs-1]; control then goes to end_pc:
 *      FJ_TRACE_END_LOOP  end_pc == start_pc at depth 0: the trace is a loop.
 *      FJ_TRACE_END_LINK  end_pc is the start of another trace: jump there if it is installed,
 *                         otherwise exit to the interpreter at end_pc.
 *      FJ_TRACE_END_STOP  exit to the interpreter at end_pc (program exit, unsupported op, ...).
 *    For END_STOP after an `exit` at depth 0 the trace returns to the interpreter at that exit.
 *  - entry_narrow says which registers held a value below 2^32 when recording began (at start_pc,
 *    depth 0).  The compiler may speculate on it: it guards at entry that such a register is
 *    still below 2^32 (leaving to the interpreter at start_pc otherwise) and then treats it as
 *    a 32-bit value, so the 32-bit arithmetic clang emits in 64-bit registers compiles to 32-bit
 *    code.  It holds no address: pointers are below 2^32 on a 32-bit client, above on most
 *    64-bit ones, the same on every client of a kind.
 *  - Bridges (kind FJ_TRACE_BRIDGE) start at the pc of a parent's exit (at depth 0) and name
 *    the parent trace id and exit id; they are entered with the exit state the parent wrote.
 */
#ifndef FARJIT_TRACE_H
#define FARJIT_TRACE_H

#include <stdint.h>

#include "farjit/ebpf.h"

#define FJ_TRACE_MAGIC 0x52544a46u  /* "FJTR" little-endian */
#define FJ_TRACE_VERSION 3           /* 2: FJ_REC_LDDW_REGION; 3: entry_narrow */
#define FJ_TRACE_MAX_RECS 4096       /* hard limit; servers may configure a lower one */

enum fj_trace_kind {
  FJ_TRACE_LOOP = 1,    /* starts at a loop header (target of a backward jump) */
  FJ_TRACE_ENTRY = 2,   /* starts at a program or local-function entry */
  FJ_TRACE_BRIDGE = 3,  /* starts at a parent trace's side exit */
};

enum fj_trace_end {
  FJ_TRACE_END_LOOP = 1,
  FJ_TRACE_END_LINK = 2,
  FJ_TRACE_END_STOP = 3,
};

enum fj_trace_rec_flags {
  FJ_REC_TAKEN = 1u << 0,        /* conditional jump taken */
  FJ_REC_CALL_INTERP = 1u << 1,  /* local call not inlined: run by the interpreter */
  FJ_REC_LDDW_REGION = 1u << 2,  /* lddw of a data-section address: value = offset in region */
};

typedef struct fj_trace_header {
  uint32_t magic;        /* FJ_TRACE_MAGIC */
  uint16_t version;      /* FJ_TRACE_VERSION */
  uint16_t kind;         /* enum fj_trace_kind */
  uint32_t start_pc;
  uint32_t nrecs;        /* 1..FJ_TRACE_MAX_RECS */
  uint16_t end;          /* enum fj_trace_end */
  uint16_t flags;        /* 0 */
  uint32_t end_pc;
  uint32_t parent_id;    /* bridges: client's id of the parent trace; else 0 */
  uint32_t parent_exit;  /* bridges: exit id in the parent; else 0 */
  uint32_t prog_ninsns;  /* length of the program: every pc is below it */
  uint32_t nregions;     /* region table size at recording time: every region index is below it */
  uint32_t entry_narrow; /* bit i (0-10): r_i < 2^32 when recording began; bits 11-31 are 0 */
  uint32_t reserved;     /* 0 */
} fj_trace_header;
_Static_assert(sizeof(fj_trace_header) == 48, "trace header is a wire format");

typedef struct fj_trace_rec {
  fj_insn insn;          /* the instruction as in the program (LDDW_REGION: imm = offset) */
  uint32_t pc;
  uint32_t aux;          /* lddw: high imm; call: callee pc or helper id; else 0 */
  uint8_t depth;         /* inlined call depth, 0 = the trace's own frame */
  uint8_t flags;         /* enum fj_trace_rec_flags */
  uint8_t region;        /* memory ops: region hit while recording; LDDW_REGION: its region */
  uint8_t reserved;      /* 0 */
} fj_trace_rec;
_Static_assert(sizeof(fj_trace_rec) == 20, "trace record is a wire format");

static inline uint32_t fj_trace_size(uint32_t nrecs) {
  return (uint32_t)sizeof(fj_trace_header) + nrecs * (uint32_t)sizeof(fj_trace_rec);
}

#endif /* FARJIT_TRACE_H */
