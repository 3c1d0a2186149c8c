/* farjit — VM internals shared by the interpreter, the validator, the helpers and (later) the
 * JIT runtime.  Not a public header: only client_runtime/ includes it.
 *
 * Execution model
 *   - fj_vm_load() validates the raw instructions (validate.c), keeps a copy (vm->code, returned
 *     by fj_vm_code) and pre-decodes them into vm->x: one fj_xinsn per slot carrying the
 *     semantic op (enum fj_op), registers, sign-extended immediate and absolute jump target, so
 *     the hot loop never calls fj_op_decode.  The second slot of an lddw decodes to
 *     FJ_OP_INVALID with FJ_XF_LDDW2 set; validation guarantees nothing jumps there.
 *   - The interpreter's complete state is an fj_exec: registers, pc, the current frame index and
 *     a saved-caller array for local calls.  fj_interp_run() runs an fj_exec until the exit of
 *     its base frame; fj_interp_step() executes exactly one instruction (trace recorder).
 *   - Stack: region 0, FJ_MAX_CALL_DEPTH frames of FJ_STACK_SIZE bytes, contiguous.  Frame k
 *     (k = 0 is the entry frame) has r10 = fj_vm_frame_top(vm, k) = stack + (MAX - k) * 512 and
 *     owns the 512 bytes below it (stacks descend).  Frame indexes are absolute: a nested run
 *     started by fj_vm_call() from frame d runs on frame d + 1, so both share the depth limit.
 *   - Budget: vm->left is the number of instructions the current top-level run may still
 *     execute (native execution may consume it too).  The interpreter keeps it in a local while
 *     running and writes it back (and adds to stats.insns_interp) before anything can observe it:
 *     helper calls, hot hooks, the end of the run.  It is decremented once per dispatched
 *     instruction, so the limit is exact; a step is a run with a budget of one.
 *   - Regions: vm->regions[0..nregions): 0 stack, 1 run memory, 2.. program data sections, then
 *     host regions (added outside runs; nregions_fixed ends here), then regions helpers add
 *     during a run (dropped when the top-level run ends).  Generated code may read the table.
 *   - Errors: the first failure of a run wins (vm->err, vm->err_pc, vm->errmsg) and sets
 *     vm->stop; every loop level returns as soon as it sees vm->stop after a helper.
 *     fj_interp_run/step refuse an fj_exec outside the program with FJ_EJUMP.
 *
 * JIT hooks (for the client runtime, engineer F)
 *   fj_vm_set_jit_hooks() installs an fj_jit_hooks.  From then on vm->hot holds one uint16
 *   counter per pc, initialised to hooks->threshold at pcs flagged FJ_XF_HOT (targets of
 *   backward jumps = loop headers, local-function entries, fj_vm_call targets, ELF functions,
 *   pc 0).  The fast loop decrements the counter of a flagged pc on every taken jump to it (for a
 *   loop header: once per iteration) and on each local call / callback / run entry there
 *   (fj_interp_enter; fj_interp_run resumes without counting).  When a counter
 *   reaches zero it is reset to the threshold and on_hot(ud, vm, ex, pc) is called with ex
 *   fully synchronised (ex->r, ex->pc == pc, ex->depth, frames, vm->left).  The hook may run
 *   machine code that advances ex; its return value tells the loop what happened:
 *     FJ_HOT_CONTINUE  nothing changed, keep interpreting at pc
 *     FJ_HOT_RELOAD    ex (registers, pc, depth, frames) and vm->left changed: reload them
 *     FJ_HOT_DONE      the base frame exited inside machine code; ex->r[0] is the result
 *     < 0              an FJ_E* error; the hook should have called fj_vm_fail() for a message
 *   After RELOAD the state is checked (pc inside the program and not an lddw second slot,
 *   base <= depth < FJ_MAX_CALL_DEPTH); a bad one stops the run with FJ_EJUMP instead of
 *   crashing.  If a helper the hook ran (e.g. while stepping to record a trace, or called from
 *   machine code) failed or unwound, vm->stop is set and the loop returns that outcome whatever
 *   the hook returned: a hook reports an unwind by returning FJ_EUNWIND (or anything) with
 *   vm->stop set, and the run then succeeds with the unwind's r0 (vm->unwind_r0 if set, else
 *   ex->r[0]).  The hook may change counters (vm->hot[pc] = 0xffff to back off) and must account native
 *   instructions with fj_vm_add_native().  Without hooks the only cost in the loop is one
 *   predicted branch per taken jump and per local call.  fj_interp_step() never calls hooks.
 *
 * Everything here is freestanding (see docs/CONVENTIONS.md).
 */
#ifndef FJ_CLIENT_VM_INTERNAL_H
#define FJ_CLIENT_VM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "farjit/ebpf.h"
#include "farjit/error.h"
#include "farjit/jit.h"
#include "farjit/vm.h"

#if defined(__GNUC__) && !defined(FJ_NO_COMPUTED_GOTO)
#define FJ_THREADED 1
#else
#define FJ_THREADED 0
#endif

#if defined(__GNUC__)
#define FJ_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define FJ_ALWAYS_INLINE inline
#endif

#if defined(__GNUC__)
#define FJ_LIKELY(x) __builtin_expect(!!(x), 1)
#define FJ_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define FJ_LIKELY(x) (x)
#define FJ_UNLIKELY(x) (x)
#endif

/* ---- pre-decoded instructions ---------------------------------------------------------- */

enum {
  FJ_XF_HOT = 1u << 0,    /* loop header or function entry: has a hot counter */
  FJ_XF_FUNC = 1u << 1,   /* function entry (call target, callback, ELF symbol, pc 0) */
  FJ_XF_LDDW2 = 1u << 2,  /* second slot of an lddw */
  FJ_XF_LOOP = 1u << 3,   /* target of a backward jump */
  FJ_XF_LDDW_REGION = 1u << 4,  /* lddw the ELF loader relocated to a data section's address:
                                   the region index is in the second slot's off */
};

typedef struct fj_xinsn {
  const void *h;  /* handler label of the interpreter (direct threading); NULL in the switch
                     build.  Present either way so both builds share one layout. */
  uint8_t op;     /* enum fj_op */
  uint8_t dst;
  uint8_t src;
  uint8_t flags;  /* FJ_XF_* */
  int32_t off;    /* loads/stores: offset; jumps/local calls: absolute target pc;
                     CALL: index into vm->helpers; END ops: width in bits */
  uint64_t k;     /* imm sign-extended to 64 bits; lddw: the 64-bit value; LDDW_FUNC: target pc */
} fj_xinsn;

/* ---- execution state -------------------------------------------------------------------- */

typedef struct fj_frame {
  uint32_t ret_pc;   /* pc after the call instruction */
  uint32_t _pad;
  uint64_t saved[4]; /* caller's r6-r9 */
  uint64_t fp;       /* caller's r10 */
} fj_frame;

typedef struct fj_exec {
  /* The registers are the first field of the machine-code state (farjit/jit.h): the JIT
   * runtime enters a trace with &js as its fj_jit_state, so registers go in and out of machine
   * code without copies.  js's other fields are the runtime's, meaningful only while it runs a
   * trace from this state; the interpreter uses r alone. */
  union {
    uint64_t r[FJ_NREGS];
    fj_jit_state js;
  };
  uint32_t pc;                         /* next instruction to execute */
  uint32_t depth;                      /* current frame index (absolute, < FJ_MAX_CALL_DEPTH) */
  uint32_t base;                       /* frame where this run started; its exit ends the run */
  uint32_t _pad;
  fj_frame frames[FJ_MAX_CALL_DEPTH];  /* frames[k]: caller state saved when frame k called k+1 */
} fj_exec;
_Static_assert(offsetof(fj_exec, r) == 0 && offsetof(fj_jit_state, r) == 0, "r[] is js.r[]");

/* Register files move at every interpreter entry and exit, trace entry and exit and nested
 * call: explicit word copies, which compilers keep inline (an 88-byte memcpy is a library
 * call, and a byte loop in small libcs such as newlib-nano). */
static FJ_ALWAYS_INLINE void fj_regs_copy(uint64_t *restrict d, const uint64_t *restrict s) {
  d[0] = s[0], d[1] = s[1], d[2] = s[2], d[3] = s[3], d[4] = s[4], d[5] = s[5];
  d[6] = s[6], d[7] = s[7], d[8] = s[8], d[9] = s[9], d[10] = s[10];
}
_Static_assert(FJ_NREGS == 11, "fj_regs_copy copies r0-r10");
/* r6-r9, saved and restored around local calls. */
static FJ_ALWAYS_INLINE void fj_regs_copy4(uint64_t *restrict d, const uint64_t *restrict s) {
  d[0] = s[0], d[1] = s[1], d[2] = s[2], d[3] = s[3];
}

enum { FJ_HOT_CONTINUE = 0, FJ_HOT_RELOAD = 1, FJ_HOT_DONE = 2 };
enum { FJ_HOT_DEFAULT_THRESHOLD = 64 };

typedef struct fj_jit_hooks {
  int (*on_hot)(void *ud, fj_vm *vm, fj_exec *ex, uint32_t pc);
  void *ud;
  uint16_t threshold;  /* 0 = FJ_HOT_DEFAULT_THRESHOLD */
} fj_jit_hooks;

/* ---- the VM ------------------------------------------------------------------------------ */

enum { FJ_ERRMSG_MAX = 192, FJ_HELPER_NAME_MAX = 32, FJ_VM_MAX_DATA = 16, FJ_VM_MAX_FUNCS = 256 };

typedef struct fj_vm_helper {
  uint32_t id;
  fj_helper_fn fn;
  char name[FJ_HELPER_NAME_MAX];
} fj_vm_helper;

typedef struct fj_vm_func {
  char name[48];
  uint32_t pc;
} fj_vm_func;

struct fj_vm {
  fj_platform pf;

  /* program */
  fj_insn *code;          /* validated, relocated copy */
  fj_xinsn *x;            /* pre-decoded, ninsns entries */
  uint32_t ninsns;
  uint32_t default_entry;
  uint32_t load_gen;      /* +1 on every successful load: the JIT runtime's per-pc tables follow
                             it (a reload may reuse the same buffer address and length) */
  fj_vm_func *funcs;      /* ELF function symbols (NULL for raw bytecode) */
  uint32_t nfuncs;
  void *data[FJ_VM_MAX_DATA];  /* VM-owned copies of ELF data sections */
  size_t data_size[FJ_VM_MAX_DATA];
  uint32_t ndata;

  /* helpers, sorted by nothing: the few lookups by id happen at load time and for callx */
  fj_vm_helper *helpers;
  uint32_t nhelpers, helpers_cap;

  /* memory */
  uint8_t *stack;             /* FJ_MAX_CALL_DEPTH * FJ_STACK_SIZE bytes, region 0 */
  fj_region regions[FJ_MAX_REGIONS];
  uint32_t nregions;          /* regions in use */
  uint32_t nregions_fixed;    /* regions that survive the end of a run */

  /* run state */
  fj_exec *cur;               /* innermost active run, NULL when idle */
  uint64_t insn_limit;        /* 0 = unlimited */
  uint64_t left;              /* budget remaining in the current run */
  bool stop;                  /* a helper unwound or failed: the loop must return */
  bool unwinding;             /* fj_vm_unwind() was called */
  bool unwind_have_r0;
  uint64_t unwind_r0;
  int err;                    /* FJ_E* of the failure that stopped the run, 0 if none */
  int64_t err_pc;
  char errmsg[FJ_ERRMSG_MAX];

  fj_vm_stats stats;
  uint64_t rng;               /* get_prandom_u32 state */

  /* JIT hooks */
  fj_jit_hooks hooks;
  bool have_hooks;
  uint16_t *hot;              /* ninsns counters, NULL without hooks */
  /* Optional, set by the hooks' owner after fj_vm_set_jit_hooks (which clears it): runs a
   * callback (fj_vm_call) from its function entry instead of fj_interp_enter, with the same
   * result (0 and r0 in ex->r[0], or a negative FJ_E*); hooks.ud is its ud.  The JIT runtime
   * enters the function's trace directly when it has one. */
  int (*on_call)(void *ud, fj_vm *vm, fj_exec *ex);
};

/* In the host's pointer width: a 64-bit multiply on a 32-bit core costs a umlal per call. */
static inline uint64_t fj_vm_frame_top(const fj_vm *vm, uint32_t frame) {
  return (uint64_t)(uintptr_t)(vm->stack + (size_t)(FJ_MAX_CALL_DEPTH - frame) * FJ_STACK_SIZE);
}

/* ---- interpreter (interp.c) ------------------------------------------------------------ */

enum { FJ_STEP_OK = 0, FJ_STEP_DONE = 1 };

/* Run ex until its base frame exits: 0 with the result in ex->r[0], or a negative FJ_E* (the
 * VM's message and error pc are set).  Uses and updates vm->left. */
int fj_interp_run(fj_vm *vm, fj_exec *ex);
/* The same, first counting an entry into ex->pc (run entry, callback) for the JIT hooks. */
int fj_interp_enter(fj_vm *vm, fj_exec *ex);
/* Execute exactly one instruction of ex: FJ_STEP_OK, FJ_STEP_DONE (the base frame exited;
 * result in ex->r[0]) or a negative FJ_E*.  A helper call counts as one instruction even if it
 * runs callbacks. */
int fj_interp_step(fj_vm *vm, fj_exec *ex);
/* Fill vm->x[i].h for direct threading (no-op for the switch build). */
void fj_interp_thread(fj_vm *vm);
/* Which dispatch this interp.o was built with (tests check they got the one they asked for). */
bool fj_interp_is_threaded(void);

/* ---- VM services for the interpreter, helpers and the JIT runtime (vm.c) --------------- */

/* Host pointer for [addr, addr+len) if it lies inside one region (with write permission when
 * write), else NULL.  len 0 is accepted for any address inside or at the end of a region. */
void *fj_vm_check_range(fj_vm *vm, uint64_t addr, uint64_t len, bool write);
/* Stop the current run with code and a message "pc N (mnem): <reason text>: <detail>", pc being
 * the innermost run's current instruction.  Returns code.  The first failure wins. */
int fj_vm_fail(fj_vm *vm, int code, const char *detail);
/* Same with an explicit pc (the interpreter's own failures). */
int fj_vm_fail_at(fj_vm *vm, uint32_t pc, int code, const char *detail);
/* Memory fault message for an access of len bytes at addr. */
int fj_vm_fail_mem(fj_vm *vm, uint32_t pc, uint64_t addr, uint64_t len, bool write);
/* Index into vm->helpers of id, or -1. */
int fj_vm_helper_index(const fj_vm *vm, uint32_t id);
/* Install (hooks != NULL) or remove JIT hooks; allocates/frees the hot counters. */
int fj_vm_set_jit_hooks(fj_vm *vm, const fj_jit_hooks *hooks);
/* Account instructions executed as machine code. */
static inline void fj_vm_add_native(fj_vm *vm, uint64_t n) { vm->stats.insns_native += n; }
/* Current innermost execution state (inside helpers / hooks), or NULL. */
static inline fj_exec *fj_vm_exec(fj_vm *vm) { return vm->cur; }

/* fj_vm_call again from the same helper call, after fj_vm_call(vm, func_pc, ...) returned 0
 * there: the target and the frame were checked then and cannot have changed (loops over a
 * callback, e.g. bpf_loop).  Same results and counters as fj_vm_call, which ends in it; inline
 * so that a loop's arguments go straight into the callee's registers. */
static FJ_ALWAYS_INLINE int fj_vm_call_again(fj_vm *vm, uint32_t func_pc, const uint64_t args[5],
                                             uint64_t *r0) {
  if (FJ_UNLIKELY(vm->stop)) return vm->err ? vm->err : FJ_EUNWIND;
  fj_exec *const outer = vm->cur;
  const uint32_t frame = outer->depth + 1;
  fj_exec ex;  /* frames[] is written before it is read: only registers need setting */
  ex.r[0] = ex.r[6] = ex.r[7] = ex.r[8] = ex.r[9] = 0;
  if (args) ex.r[1] = args[0], ex.r[2] = args[1], ex.r[3] = args[2], ex.r[4] = args[3], ex.r[5] = args[4];
  else ex.r[1] = ex.r[2] = ex.r[3] = ex.r[4] = ex.r[5] = 0;
  ex.r[10] = fj_vm_frame_top(vm, frame);
  ex.pc = func_pc;
  ex.depth = ex.base = frame;
  vm->stats.callbacks++;
  vm->cur = &ex;
  int rc = vm->on_call ? vm->on_call(vm->hooks.ud, vm, &ex) : fj_interp_enter(vm, &ex);
  vm->cur = outer;
  if (rc == 0 && r0) *r0 = ex.r[0];
  return rc;
}

/* ---- small text builder (no stdio): used for messages and trace_printk ------------------ */

typedef struct fj_sb {
  char *buf;
  size_t cap;   /* including the terminating NUL */
  size_t len;   /* characters written so far (may exceed cap - 1: output is truncated) */
} fj_sb;

static inline fj_sb fj_sb_init(char *buf, size_t cap) {
  fj_sb sb = {buf, cap, 0};
  if (cap) buf[0] = '\0';
  return sb;
}
void fj_sb_putc(fj_sb *sb, char c);
void fj_sb_puts(fj_sb *sb, const char *s);
void fj_sb_putu(fj_sb *sb, uint64_t v);
void fj_sb_puti(fj_sb *sb, int64_t v);
void fj_sb_putx(fj_sb *sb, uint64_t v);  /* lowercase hex, no prefix */

#endif /* FJ_CLIENT_VM_INTERNAL_H */
