/* farjit — the state shared by compiled traces and the client runtime ("exit state").
 *
 * One layout for every target: all fields are fixed-width, pointers are stored as uint64_t (the
 * low word on 32-bit targets), so generated code uses the same offsets on x86-64 and Thumb-2.
 *
 * Entering a trace (runtime -> code):
 *   st->r[0..10]  the interpreter's registers (r10 = current frame pointer)
 *   st->regions   the VM region table (fj_region[], farjit/vm.h); st->nregions its length
 *   st->vm        passed to helpers as their 6th argument
 *   st->budget    instructions the program may still execute
 *   then calls  uint32_t trace(fj_jit_state *st)  through the blob's entry.
 *
 * Leaving a trace (exit stub -> runtime), for the exit id e it returns:
 *   st->r[]       every register as the interpreter must see it at exits[e].pc
 *   eBPF stack    memory holds every stack slot (the code writes back slots it kept in registers)
 *   st->frames[0..nframes)  inlined call frames live at the exit, outermost first: the runtime
 *                 pushes them on the interpreter's frame stack above the frame it entered with
 *   st->budget    exact: decreased by the eBPF instructions the code executed
 *   st->exit_id = e;  st->exit_code = address of the code base of the blob that took the exit
 *                 (a link may have tail-called into another trace: this names the one that left)
 *
 * Calls out of a trace (helpers, FJ_RT_CALL_LOCAL) go through the runtime trampoline FJ_RT_CALL:
 * before the call the code syncs st exactly as for an exit (registers, stack, frames, budget),
 * sets st->call_exit to the id of a FJ_EXIT_CALL exit that resumes after the call and
 * st->exit_code to its code base.  The trampoline saves the return address into the trace in
 * st->call_ret and returns through st->call_ret.  If the runtime invalidates the trace while
 * the call is running (a callback evicted it), it rewrites st->call_ret to its deopt stub, which
 * stores the call's result in st->r[0], restores the native stack pointer and callee-saved
 * registers from the runtime's entry record (taken when it entered the trace, so no trace frame
 * layout is assumed) and returns st->call_exit as the exit id.
 */
#ifndef FARJIT_JIT_H
#define FARJIT_JIT_H

#include <stddef.h>
#include <stdint.h>

#include "farjit/ebpf.h"

typedef struct fj_jit_frame {
  uint64_t saved[4];   /* caller's r6-r9 */
  uint64_t fp;         /* caller's r10 */
  uint32_t ret_pc;     /* pc after the call instruction */
  uint32_t _pad;
} fj_jit_frame;
_Static_assert(sizeof(fj_jit_frame) == 48, "fj_jit_frame is read by generated code");

typedef struct fj_jit_state {
  uint64_t r[FJ_NREGS];      /*   0 */
  uint64_t regions;          /*  88: const fj_region * */
  uint64_t vm;               /*  96: fj_vm * */
  int64_t budget;            /* 104 */
  uint64_t exit_code;        /* 112 */
  uint64_t call_ret;         /* 120 */
  uint32_t exit_id;          /* 128 */
  uint32_t call_exit;        /* 132 */
  uint32_t nframes;          /* 136 */
  uint32_t nregions;         /* 140 */
  fj_jit_frame frames[FJ_MAX_CALL_DEPTH - 1]; /* 144 */
} fj_jit_state;

#define FJ_JIT_OFF_R(i)      ((size_t)(8 * (i)))
#define FJ_JIT_OFF_REGIONS   88
#define FJ_JIT_OFF_VM        96
#define FJ_JIT_OFF_BUDGET    104
#define FJ_JIT_OFF_EXIT_CODE 112
#define FJ_JIT_OFF_CALL_RET  120
#define FJ_JIT_OFF_EXIT_ID   128
#define FJ_JIT_OFF_CALL_EXIT 132
#define FJ_JIT_OFF_NFRAMES   136
#define FJ_JIT_OFF_NREGIONS  140
#define FJ_JIT_OFF_FRAMES    144
_Static_assert(offsetof(fj_jit_state, regions) == FJ_JIT_OFF_REGIONS, "layout");
_Static_assert(offsetof(fj_jit_state, vm) == FJ_JIT_OFF_VM, "layout");
_Static_assert(offsetof(fj_jit_state, budget) == FJ_JIT_OFF_BUDGET, "layout");
_Static_assert(offsetof(fj_jit_state, exit_code) == FJ_JIT_OFF_EXIT_CODE, "layout");
_Static_assert(offsetof(fj_jit_state, call_ret) == FJ_JIT_OFF_CALL_RET, "layout");
_Static_assert(offsetof(fj_jit_state, exit_id) == FJ_JIT_OFF_EXIT_ID, "layout");
_Static_assert(offsetof(fj_jit_state, call_exit) == FJ_JIT_OFF_CALL_EXIT, "layout");
_Static_assert(offsetof(fj_jit_state, nframes) == FJ_JIT_OFF_NFRAMES, "layout");
_Static_assert(offsetof(fj_jit_state, nregions) == FJ_JIT_OFF_NREGIONS, "layout");
_Static_assert(offsetof(fj_jit_state, frames) == FJ_JIT_OFF_FRAMES, "layout");

/* Offsets inside fj_region (farjit/vm.h) that generated bounds checks read. */
#define FJ_REGION_OFF_BASE 0
#define FJ_REGION_OFF_SIZE 8
#define FJ_REGION_SIZEOF   24

typedef uint32_t (*fj_trace_fn)(fj_jit_state *st);

#endif /* FARJIT_JIT_H */
