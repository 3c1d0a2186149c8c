/* farjit — the eBPF interpreter (client core, freestanding).
 *
 * One function, interp(), holds the semantics of every op in FJ_OPS.  It runs from an fj_exec
 * (vm_internal.h) with the registers in place in ex->r, the pc as a pointer into the pre-decoded
 * vm->x, and the instruction budget in a local counter decremented per instruction.  Dispatch
 * is direct-threaded computed goto (each fj_xinsn carries its handler's label, filled by
 * fj_interp_thread at load) on GCC/Clang, or a switch with -DFJ_NO_COMPUTED_GOTO.
 *
 * Single-stepping (fj_interp_step) uses the same function: it gives the loop a budget of one
 * instruction and holds the rest in reserve, so the next dispatch stops it.  Nothing in the
 * instruction handlers knows about stepping.
 *
 * All arithmetic is on unsigned types (wrap-around, no UB); signed results come from
 * conversions, which GCC and Clang define as modulo.  Memory is reached only through MEMCHK,
 * which tests the address range against the last region that matched (one cache for reads, one
 * for writes) and falls back to a scan of vm->regions.
 */
#include <string.h>

#include "client_runtime/vm_internal.h"

enum { MODE_RUN, MODE_STEP };

/* ---- arithmetic that C leaves undefined or implementation-specific -------------------------- */

static inline uint64_t sdiv64(uint64_t a, uint64_t b) {
  if (b == 0) return 0;
  if (b == UINT64_MAX) return 0 - a;  /* INT64_MIN / -1 wraps to INT64_MIN */
  return (uint64_t)((int64_t)a / (int64_t)b);
}
static inline uint64_t smod64(uint64_t a, uint64_t b) {
  if (b == 0) return a;
  if (b == UINT64_MAX) return 0;
  return (uint64_t)((int64_t)a % (int64_t)b);
}
static inline uint32_t sdiv32(uint32_t a, uint32_t b) {
  if (b == 0) return 0;
  if (b == UINT32_MAX) return 0 - a;
  return (uint32_t)((int32_t)a / (int32_t)b);
}
static inline uint32_t smod32(uint32_t a, uint32_t b) {
  if (b == 0) return a;
  if (b == UINT32_MAX) return 0;
  return (uint32_t)((int32_t)a % (int32_t)b);
}
static inline uint64_t bswap16(uint64_t v) { return (uint16_t)((v >> 8 & 0xff) | (v & 0xff) << 8); }
static inline uint64_t bswap32(uint64_t v) {
  uint32_t x = (uint32_t)v;
  return (uint32_t)(x >> 24 | (x >> 8 & 0xff00) | (x << 8 & 0xff0000) | x << 24);
}
static inline uint64_t bswap64(uint64_t v) { return bswap32(v) << 32 | bswap32(v >> 32); }

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define HOST_LE 0
#else
#define HOST_LE 1
#endif

/* ---- atomics ------------------------------------------------------------------------------- */

enum { AT_ADD, AT_OR, AT_AND, AT_XOR, AT_XCHG };

#if defined(__GNUC__) && defined(__GCC_ATOMIC_LLONG_LOCK_FREE) && __GCC_ATOMIC_LLONG_LOCK_FREE == 2
#define HAVE_ATOMIC64 1
#else
#define HAVE_ATOMIC64 0  /* e.g. Cortex-M4: no 64-bit atomics; a VM runs on one thread anyway */
#endif
#if defined(__GNUC__) && defined(__GCC_ATOMIC_INT_LOCK_FREE) && __GCC_ATOMIC_INT_LOCK_FREE == 2
#define HAVE_ATOMIC32 1
#else
#define HAVE_ATOMIC32 0
#endif

/* Read-modify-write returning the old value: atomic where the compiler has lock-free atomics of
 * that width, a plain sequence otherwise (a VM runs on one thread).  The bodies are shared by
 * both widths; the choice stays a preprocessor one so no __atomic call is ever emitted where the
 * target has none. */
#define AT_RMW_ATOMIC(p, kind, v)                                     \
  switch (kind) {                                                     \
  case AT_ADD: return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);     \
  case AT_OR: return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST);       \
  case AT_AND: return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST);     \
  case AT_XOR: return __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST);     \
  default: return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);        \
  }
#define AT_RMW_PLAIN(T, p, kind, v)                                                      \
  T old = *p;                                                                            \
  *p = kind == AT_ADD ? old + v : kind == AT_OR ? old | v : kind == AT_AND ? old & v     \
     : kind == AT_XOR ? old ^ v : v;                                                     \
  return old;

static uint64_t at_rmw64(uint64_t *p, int kind, uint64_t v) {
#if HAVE_ATOMIC64
  AT_RMW_ATOMIC(p, kind, v)
#else
  AT_RMW_PLAIN(uint64_t, p, kind, v)
#endif
}
static uint32_t at_rmw32(uint32_t *p, int kind, uint32_t v) {
#if HAVE_ATOMIC32
  AT_RMW_ATOMIC(p, kind, v)
#else
  AT_RMW_PLAIN(uint32_t, p, kind, v)
#endif
}

static uint64_t at_cas64(uint64_t *p, uint64_t expected, uint64_t desired) {
#if HAVE_ATOMIC64
  __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return expected;  /* the old value either way */
#else
  uint64_t old = *p;
  if (old == expected) *p = desired;
  return old;
#endif
}
static uint32_t at_cas32(uint32_t *p, uint32_t expected, uint32_t desired) {
#if HAVE_ATOMIC32
  __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return expected;
#else
  uint32_t old = *p;
  if (old == expected) *p = desired;
  return old;
#endif
}

/* ---- memory ------------------------------------------------------------------------------- */

/* Index of a region holding [a, a+n) with the needed permission, or -1. */
static int region_find(const fj_vm *vm, uint64_t a, uint64_t n, bool write) {
  uint32_t need = write ? FJ_REGION_WRITE : FJ_REGION_READ;
  for (uint32_t i = 0; i < vm->nregions; i++) {
    const fj_region *g = &vm->regions[i];
    if ((g->flags & need) && a - g->base < g->size && g->size - (a - g->base) >= n) return (int)i;
  }
  return -1;
}

/* ---- the loop ------------------------------------------------------------------------------ */

static bool exec_ok(const fj_vm *vm, const fj_exec *ex) {
  return vm->x && ex->pc < vm->ninsns && !(vm->x[ex->pc].flags & FJ_XF_LDDW2) &&
         ex->base <= ex->depth && ex->depth < FJ_MAX_CALL_DEPTH;
}

/* What the interpreter does after the hot hook returned h at pc (ex synchronised before the
 * call): 1 to go on running ex (reloaded if h is FJ_HOT_RELOAD), else what the run returns.
 * First: a helper the hook ran (recording, machine code) failed or unwound.  An unwind is not a
 * failure whatever the hook returned (FJ_EUNWIND included): the run ends with the unwind's r0,
 * exactly as after the interpreter's own helper call. */
static int hook_outcome(fj_vm *vm, const fj_exec *ex, uint32_t pc, int h) {
  if (FJ_UNLIKELY(vm->stop)) {
    if (vm->err) return vm->err;
    if (!vm->unwind_have_r0) {
      vm->unwind_have_r0 = true;
      vm->unwind_r0 = ex->r[0];
    }
    return FJ_EUNWIND;
  }
  if (h == FJ_HOT_DONE) return 0;
  if (h < 0) {
    if (!vm->err) fj_vm_fail_at(vm, pc, h, "JIT hook failed");
    return vm->err;
  }
  if (h == FJ_HOT_RELOAD && FJ_UNLIKELY(!exec_ok(vm, ex)))
    return fj_vm_fail_at(vm, pc, FJ_EJUMP, "JIT hook left the execution state outside the program");
  return 1;
}

static int interp(fj_vm *vm, fj_exec *ex, int mode, const void *const **labels_out) {
#if FJ_THREADED
  static const void *const labels[FJ_OP__COUNT] = {
    [FJ_OP_INVALID] = &&op_INVALID,
#define FJ_LABEL(name, code, dk, dv, mnem, fmt) [FJ_OP_##name] = &&op_##name,
    FJ_OPS(FJ_LABEL)
#undef FJ_LABEL
  };
  if (FJ_UNLIKELY(labels_out != NULL)) {
    *labels_out = labels;
    return 0;
  }
#define CASE(name) op_##name:
#define DISPATCH()                                          \
  {                                                         \
    if (FJ_UNLIKELY(left-- == 0)) goto out_of_budget;       \
    goto *ip->h;                                            \
  }
#else
  (void)labels_out;
#define CASE(name) case FJ_OP_##name:
#define DISPATCH() goto next_insn
#endif
#define NEXT()  \
  {             \
    ip++;       \
    DISPATCH(); \
  }
/* Count a taken jump / call into a hot-counted pc (only with JIT hooks installed). */
#define HOTCHK()                                                                         \
  if (FJ_UNLIKELY(hot != NULL) && (ip->flags & FJ_XF_HOT) && --hot[ip - code] == 0) \
    goto hot_fire;
#define MEMCHK(a, n, w)                                                                  \
  if (w) {                                                                               \
    if (FJ_UNLIKELY((a) - wb >= ws || ws - ((a) - wb) < (n))) {                          \
      int g_ = region_find(vm, a, n, true);                                              \
      if (g_ < 0) { fa = (a); fn = (n); fw = true; goto mem_fault; }                     \
      wb = vm->regions[g_].base; ws = vm->regions[g_].size;                              \
    }                                                                                    \
  } else {                                                                               \
    if (FJ_UNLIKELY((a) - rb >= rs || rs - ((a) - rb) < (n))) {                          \
      int g_ = region_find(vm, a, n, false);                                             \
      if (g_ < 0) { fa = (a); fn = (n); fw = false; goto mem_fault; }                    \
      rb = vm->regions[g_].base; rs = vm->regions[g_].size;                              \
    }                                                                                    \
  }
#define PTR(a) ((void *)(uintptr_t)(a))
#define SAVE()                                  \
  do {                                          \
    ex->pc = (uint32_t)(ip - code);             \
    ex->depth = depth;                          \
    vm->left = left + reserve;                  \
    vm->stats.insns_interp += mark - vm->left;  \
    mark = vm->left;                            \
  } while (0)
/* After anything that may have run instructions (helpers, hooks): take the budget back. */
#define RELOAD_BUDGET()                           \
  do {                                            \
    mark = vm->left;                              \
    left = mode == MODE_STEP ? 0 : vm->left;      \
    reserve = vm->left - left;                    \
  } while (0)

  /* Callers other than fj_vm_run (trace recorder, JIT runtime resuming after machine code)
   * hand in states we did not produce: check them once here, never in the loop. */
  if (FJ_UNLIKELY(!exec_ok(vm, ex)))
    return fj_vm_fail_at(vm, ex->pc, FJ_EJUMP, "execution state is not inside the program");
  const fj_xinsn *const code = vm->x;
  const fj_xinsn *ip = code + ex->pc;
  /* The registers stay in ex: they are indexed by the instruction, so they live in memory
   * either way, and ex is then always in sync (no copies at entry, exit, helper calls, hooks). */
  uint64_t *const r = ex->r;
  uint32_t depth = ex->depth;
  const uint32_t base = ex->base;
  uint64_t mark = vm->left, left, reserve;
  if (mode == MODE_STEP) {
    left = vm->left ? 1 : 0;
    reserve = vm->left - left;
  } else {
    left = vm->left;
    reserve = 0;
  }
  const bool stepping_ok = mode == MODE_STEP && left == 1;
  uint16_t *const hot = mode == MODE_STEP ? NULL : vm->hot;
  /* Region caches start on the stack, where most accesses go. */
  uint64_t rb = vm->regions[FJ_REGION_STACK].base, rs = vm->regions[FJ_REGION_STACK].size;
  uint64_t wb = rb, ws = rs;
  uint64_t fa = 0, fn = 0;  /* faulting access */
  bool fw = false;
  int err = 0;
  const char *detail = NULL;
  fj_helper_fn fnp = NULL;

#if FJ_THREADED
  DISPATCH();
#else
next_insn:
  if (FJ_UNLIKELY(left-- == 0)) goto out_of_budget;
  switch ((enum fj_op)ip->op) {
#endif

    /* ---- ALU ---- */
#define ALU64(NAME, EXPR)                                                 \
  CASE(NAME##64_IMM) {                                                    \
    uint64_t d = r[ip->dst], s = ip->k;                                   \
    (void)d;                                                              \
    r[ip->dst] = (EXPR);                                                  \
    NEXT();                                                               \
  }                                                                       \
  CASE(NAME##64_REG) {                                                    \
    uint64_t d = r[ip->dst], s = r[ip->src];                              \
    (void)d;                                                              \
    r[ip->dst] = (EXPR);                                                  \
    NEXT();                                                               \
  }
#define ALU32(NAME, EXPR)                                                 \
  CASE(NAME##32_IMM) {                                                    \
    uint32_t d = (uint32_t)r[ip->dst], s = (uint32_t)ip->k;               \
    (void)d;                                                              \
    r[ip->dst] = (uint32_t)(EXPR);                                        \
    NEXT();                                                               \
  }                                                                       \
  CASE(NAME##32_REG) {                                                    \
    uint32_t d = (uint32_t)r[ip->dst], s = (uint32_t)r[ip->src];          \
    (void)d;                                                              \
    r[ip->dst] = (uint32_t)(EXPR);                                        \
    NEXT();                                                               \
  }
    ALU64(ADD, d + s)
    ALU64(SUB, d - s)
    ALU64(MUL, d * s)
    ALU64(DIV, s ? d / s : 0)
    ALU64(SDIV, sdiv64(d, s))
    ALU64(OR, d | s)
    ALU64(AND, d & s)
    ALU64(LSH, d << (s & 63))
    ALU64(RSH, d >> (s & 63))
    ALU64(MOD, s ? d % s : d)
    ALU64(SMOD, smod64(d, s))
    ALU64(XOR, d ^ s)
    ALU64(MOV, s)
    ALU64(ARSH, (uint64_t)((int64_t)d >> (s & 63)))
    ALU32(ADD, d + s)
    ALU32(SUB, d - s)
    ALU32(MUL, d * s)
    ALU32(DIV, s ? d / s : 0)
    ALU32(SDIV, sdiv32(d, s))
    ALU32(OR, d | s)
    ALU32(AND, d & s)
    ALU32(LSH, d << (s & 31))
    ALU32(RSH, d >> (s & 31))
    ALU32(MOD, s ? d % s : d)
    ALU32(SMOD, smod32(d, s))
    ALU32(XOR, d ^ s)
    ALU32(MOV, s)
    ALU32(ARSH, (uint32_t)((int32_t)d >> (s & 31)))
#undef ALU64
#undef ALU32
    CASE(NEG64) { r[ip->dst] = 0 - r[ip->dst]; NEXT(); }
    CASE(NEG32) { r[ip->dst] = (uint32_t)(0 - (uint32_t)r[ip->dst]); NEXT(); }
    CASE(MOVSX8_64) { r[ip->dst] = (uint64_t)(int64_t)(int8_t)r[ip->src]; NEXT(); }
    CASE(MOVSX16_64) { r[ip->dst] = (uint64_t)(int64_t)(int16_t)r[ip->src]; NEXT(); }
    CASE(MOVSX32_64) { r[ip->dst] = (uint64_t)(int64_t)(int32_t)r[ip->src]; NEXT(); }
    CASE(MOVSX8_32) { r[ip->dst] = (uint32_t)(int32_t)(int8_t)r[ip->src]; NEXT(); }
    CASE(MOVSX16_32) { r[ip->dst] = (uint32_t)(int32_t)(int16_t)r[ip->src]; NEXT(); }
    CASE(LE16) { r[ip->dst] = HOST_LE ? (uint16_t)r[ip->dst] : bswap16(r[ip->dst]); NEXT(); }
    CASE(LE32) { r[ip->dst] = HOST_LE ? (uint32_t)r[ip->dst] : bswap32(r[ip->dst]); NEXT(); }
    CASE(LE64) { r[ip->dst] = HOST_LE ? r[ip->dst] : bswap64(r[ip->dst]); NEXT(); }
    CASE(BE16) { r[ip->dst] = HOST_LE ? bswap16(r[ip->dst]) : (uint16_t)r[ip->dst]; NEXT(); }
    CASE(BE32) { r[ip->dst] = HOST_LE ? bswap32(r[ip->dst]) : (uint32_t)r[ip->dst]; NEXT(); }
    CASE(BE64) { r[ip->dst] = HOST_LE ? bswap64(r[ip->dst]) : r[ip->dst]; NEXT(); }
    CASE(BSWAP16) { r[ip->dst] = bswap16(r[ip->dst]); NEXT(); }
    CASE(BSWAP32) { r[ip->dst] = bswap32(r[ip->dst]); NEXT(); }
    CASE(BSWAP64) { r[ip->dst] = bswap64(r[ip->dst]); NEXT(); }

    /* ---- jumps ---- */
#define JUMP_IF(c)    \
  if (c) {            \
    ip = code + ip->off; \
    HOTCHK();         \
    DISPATCH();       \
  }                   \
  NEXT();
#define JMP64(NAME, COND)                                      \
  CASE(NAME##64_IMM) {                                         \
    uint64_t d = r[ip->dst], s = ip->k;                        \
    JUMP_IF(COND)                                              \
  }                                                            \
  CASE(NAME##64_REG) {                                         \
    uint64_t d = r[ip->dst], s = r[ip->src];                   \
    JUMP_IF(COND)                                              \
  }
#define JMP32(NAME, COND)                                      \
  CASE(NAME##32_IMM) {                                         \
    uint32_t d = (uint32_t)r[ip->dst], s = (uint32_t)ip->k;    \
    JUMP_IF(COND)                                              \
  }                                                            \
  CASE(NAME##32_REG) {                                         \
    uint32_t d = (uint32_t)r[ip->dst], s = (uint32_t)r[ip->src]; \
    JUMP_IF(COND)                                              \
  }
    CASE(JA) { ip = code + ip->off; HOTCHK(); DISPATCH(); }
    CASE(JA32) { ip = code + ip->off; HOTCHK(); DISPATCH(); }
    JMP64(JEQ, d == s)
    JMP64(JGT, d > s)
    JMP64(JGE, d >= s)
    JMP64(JSET, (d & s) != 0)
    JMP64(JNE, d != s)
    JMP64(JSGT, (int64_t)d > (int64_t)s)
    JMP64(JSGE, (int64_t)d >= (int64_t)s)
    JMP64(JLT, d < s)
    JMP64(JLE, d <= s)
    JMP64(JSLT, (int64_t)d < (int64_t)s)
    JMP64(JSLE, (int64_t)d <= (int64_t)s)
    JMP32(JEQ, d == s)
    JMP32(JGT, d > s)
    JMP32(JGE, d >= s)
    JMP32(JSET, (d & s) != 0)
    JMP32(JNE, d != s)
    JMP32(JSGT, (int32_t)d > (int32_t)s)
    JMP32(JSGE, (int32_t)d >= (int32_t)s)
    JMP32(JLT, d < s)
    JMP32(JLE, d <= s)
    JMP32(JSLT, (int32_t)d < (int32_t)s)
    JMP32(JSLE, (int32_t)d <= (int32_t)s)
#undef JMP64
#undef JMP32

    /* ---- calls ---- */
    CASE(CALL) {
      fnp = vm->helpers[ip->off].fn;
      goto call_helper;
    }
    CASE(CALLX) {
      uint64_t id = r[ip->dst];
      int hi = id <= UINT32_MAX ? fj_vm_helper_index(vm, (uint32_t)id) : -1;
      if (FJ_UNLIKELY(hi < 0)) {
        char msg[64];
        fj_sb sb = fj_sb_init(msg, sizeof msg);
        fj_sb_puts(&sb, "callx: no helper with id ");
        fj_sb_putu(&sb, id);
        SAVE();
        return fj_vm_fail_at(vm, (uint32_t)(ip - code), FJ_EHELPER, msg);
      }
      fnp = vm->helpers[hi].fn;
      goto call_helper;
    }
    CASE(CALL_LOCAL) {
      if (FJ_UNLIKELY(depth + 1 >= FJ_MAX_CALL_DEPTH)) {
        err = FJ_EDEPTH;
        detail = "no stack frame left for the callee";
        goto fail;
      }
      fj_frame *f = &ex->frames[depth];
      f->ret_pc = (uint32_t)(ip - code) + 1;
      fj_regs_copy4(f->saved, &r[6]);
      f->fp = r[10];
      depth++;
      r[10] = fj_vm_frame_top(vm, depth);
      vm->stats.local_calls++;
      ip = code + ip->off;
      HOTCHK();
      DISPATCH();
    }
    CASE(EXIT) {
      if (depth == base) {
        SAVE();
        return mode == MODE_STEP ? FJ_STEP_DONE : 0;
      }
      depth--;
      const fj_frame *f = &ex->frames[depth];
      fj_regs_copy4(&r[6], f->saved);
      r[10] = f->fp;
      ip = code + f->ret_pc;
      DISPATCH();
    }
    CASE(LDDW) { r[ip->dst] = ip->k; ip += 2; DISPATCH(); }
    CASE(LDDW_FUNC) { r[ip->dst] = ip->k; ip += 2; DISPATCH(); }

    /* ---- loads and stores ---- */
#define LDX(NAME, T, CONV)                                       \
  CASE(NAME) {                                                   \
    uint64_t a = r[ip->src] + (uint64_t)(int64_t)ip->off;        \
    MEMCHK(a, sizeof(T), false);                                 \
    T v;                                                         \
    memcpy(&v, PTR(a), sizeof v);                                \
    r[ip->dst] = CONV(v);                                        \
    NEXT();                                                      \
  }
#define ZX(v) (uint64_t)(v)
#define SX(v) (uint64_t)(int64_t)(v)
    LDX(LDXB, uint8_t, ZX)
    LDX(LDXH, uint16_t, ZX)
    LDX(LDXW, uint32_t, ZX)
    LDX(LDXDW, uint64_t, ZX)
    LDX(LDXSB, int8_t, SX)
    LDX(LDXSH, int16_t, SX)
    LDX(LDXSW, int32_t, SX)
#undef ZX
#undef SX
#undef LDX
#define STORE(NAME, T, VAL)                                      \
  CASE(NAME) {                                                   \
    uint64_t a = r[ip->dst] + (uint64_t)(int64_t)ip->off;        \
    MEMCHK(a, sizeof(T), true);                                  \
    T v = (T)(VAL);                                              \
    memcpy(PTR(a), &v, sizeof v);                                \
    NEXT();                                                      \
  }
    STORE(STB, uint8_t, ip->k)
    STORE(STH, uint16_t, ip->k)
    STORE(STW, uint32_t, ip->k)
    STORE(STDW, uint64_t, ip->k)
    STORE(STXB, uint8_t, r[ip->src])
    STORE(STXH, uint16_t, r[ip->src])
    STORE(STXW, uint32_t, r[ip->src])
    STORE(STXDW, uint64_t, r[ip->src])
#undef STORE

    /* ---- atomics: naturally aligned, in a writable region ---- */
#define ATOMIC(NAME, BITS, KIND, FETCH)                                        \
  CASE(NAME) {                                                                 \
    uint64_t a = r[ip->dst] + (uint64_t)(int64_t)ip->off;                      \
    MEMCHK(a, BITS / 8, true);                                                 \
    if (FJ_UNLIKELY(a & (BITS / 8 - 1))) goto misaligned;                      \
    uint64_t old = at_rmw##BITS(PTR(a), KIND, (uint##BITS##_t)r[ip->src]);     \
    if (FETCH) r[ip->src] = old;                                               \
    NEXT();                                                                    \
  }
    ATOMIC(AT_ADD64, 64, AT_ADD, 0)
    ATOMIC(AT_FETCH_ADD64, 64, AT_ADD, 1)
    ATOMIC(AT_OR64, 64, AT_OR, 0)
    ATOMIC(AT_FETCH_OR64, 64, AT_OR, 1)
    ATOMIC(AT_AND64, 64, AT_AND, 0)
    ATOMIC(AT_FETCH_AND64, 64, AT_AND, 1)
    ATOMIC(AT_XOR64, 64, AT_XOR, 0)
    ATOMIC(AT_FETCH_XOR64, 64, AT_XOR, 1)
    ATOMIC(AT_XCHG64, 64, AT_XCHG, 1)
    ATOMIC(AT_ADD32, 32, AT_ADD, 0)
    ATOMIC(AT_FETCH_ADD32, 32, AT_ADD, 1)
    ATOMIC(AT_OR32, 32, AT_OR, 0)
    ATOMIC(AT_FETCH_OR32, 32, AT_OR, 1)
    ATOMIC(AT_AND32, 32, AT_AND, 0)
    ATOMIC(AT_FETCH_AND32, 32, AT_AND, 1)
    ATOMIC(AT_XOR32, 32, AT_XOR, 0)
    ATOMIC(AT_FETCH_XOR32, 32, AT_XOR, 1)
    ATOMIC(AT_XCHG32, 32, AT_XCHG, 1)
#undef ATOMIC
    CASE(AT_CMPXCHG64) {
      uint64_t a = r[ip->dst] + (uint64_t)(int64_t)ip->off;
      MEMCHK(a, 8, true);
      if (FJ_UNLIKELY(a & 7)) goto misaligned;
      r[0] = at_cas64(PTR(a), r[0], r[ip->src]);
      NEXT();
    }
    CASE(AT_CMPXCHG32) {
      uint64_t a = r[ip->dst] + (uint64_t)(int64_t)ip->off;
      MEMCHK(a, 4, true);
      if (FJ_UNLIKELY(a & 3)) goto misaligned;
      r[0] = at_cas32(PTR(a), (uint32_t)r[0], (uint32_t)r[ip->src]);
      NEXT();
    }

    CASE(INVALID) {
      err = FJ_EBADOP;
      detail = "not an instruction";
      goto fail;
    }
#if !FJ_THREADED
    default:
      err = FJ_EBADOP;
      detail = "not an instruction";
      goto fail;
  }
#endif

call_helper:
  SAVE();
  vm->stats.helper_calls++;
  r[0] = fnp(r[1], r[2], r[3], r[4], r[5], vm);
  if (FJ_UNLIKELY(vm->stop)) goto stopped;
  RELOAD_BUDGET();
  NEXT();

hot_fire: {
  uint32_t pc = (uint32_t)(ip - code);
  hot[pc] = vm->hooks.threshold;
  SAVE();
  int h = vm->hooks.on_hot(vm->hooks.ud, vm, ex, pc);
  int o = hook_outcome(vm, ex, pc, h);
  if (o <= 0) return o;
  if (h == FJ_HOT_RELOAD) {
    ip = code + ex->pc;
    depth = ex->depth;
  }
  RELOAD_BUDGET();
  DISPATCH();
}

out_of_budget:
  left = 0;
  if (stepping_ok) {  /* executed the one instruction we were given */
    SAVE();
    return FJ_STEP_OK;
  }
  SAVE();
  {
    char msg[64];
    fj_sb sb = fj_sb_init(msg, sizeof msg);
    fj_sb_puts(&sb, "limit of ");
    fj_sb_putu(&sb, vm->insn_limit);
    fj_sb_puts(&sb, " instructions per run");
    return fj_vm_fail_at(vm, (uint32_t)(ip - code), FJ_EBUDGET, vm->insn_limit ? msg : NULL);
  }

misaligned:
  err = FJ_EOOB;
  detail = "misaligned atomic access";
fail:
  SAVE();
  return fj_vm_fail_at(vm, (uint32_t)(ip - code), err, detail);

mem_fault:
  SAVE();
  return fj_vm_fail_mem(vm, (uint32_t)(ip - code), fa, fn, fw);

stopped:  /* a helper failed or unwound; SAVE() was done before the call */
  if (vm->err) return vm->err;
  if (!vm->unwind_have_r0) {
    vm->unwind_have_r0 = true;
    vm->unwind_r0 = r[0];
  }
  return FJ_EUNWIND;
#undef CASE
#undef DISPATCH
#undef NEXT
#undef HOTCHK
#undef MEMCHK
#undef PTR
#undef SAVE
#undef RELOAD_BUDGET
#undef JUMP_IF
}

int fj_interp_run(fj_vm *vm, fj_exec *ex) { return interp(vm, ex, MODE_RUN, NULL); }
/* The entry is counted before the loop starts: when the hook runs the whole function as
 * machine code (FJ_HOT_DONE), the interpreter's registers are never loaded at all. */
int fj_interp_enter(fj_vm *vm, fj_exec *ex) {
  const uint32_t pc = ex->pc;
  uint16_t *const hot = vm->hot;
  if (hot && exec_ok(vm, ex) && (vm->x[pc].flags & FJ_XF_HOT) && --hot[pc] == 0) {
    hot[pc] = vm->hooks.threshold;
    int o = hook_outcome(vm, ex, pc, vm->hooks.on_hot(vm->hooks.ud, vm, ex, pc));
    if (o <= 0) return o;
  }
  return interp(vm, ex, MODE_RUN, NULL);
}
int fj_interp_step(fj_vm *vm, fj_exec *ex) { return interp(vm, ex, MODE_STEP, NULL); }

void fj_interp_thread(fj_vm *vm) {
#if FJ_THREADED
  const void *const *labels = NULL;
  interp(NULL, NULL, MODE_RUN, &labels);
  for (uint32_t i = 0; i < vm->ninsns; i++) vm->x[i].h = labels[vm->x[i].op];
#else
  (void)vm;
#endif
}

bool fj_interp_is_threaded(void) { return FJ_THREADED; }
