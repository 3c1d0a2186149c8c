/* farjit codegen — why a compilation stops.
 *
 * Inside the compiler every failure is an abort: fj_ir_abort() (codegen/ir.h) records one of the
 * reasons below plus a message naming the trace record / IR ref, and longjmps back to the
 * setjmp in the compile driver (same thread, same compile: never across threads or compiles).
 * At the API (farjit/codegen.h) FJ_ABORT_BADTRACE becomes FJ_EBADTRACE, every other reason
 * FJ_ECOMPILE with fj_codegen_result.abort_reason = the enum value and the message.
 *
 * _(NAME, "text").  Values are reported to clients and logged: append only, never renumber.
 */
#ifndef FJ_CODEGEN_ABORT_H
#define FJ_CODEGEN_ABORT_H

#define FJ_ABORTS(_)                                                                   \
  _(NONE,          "no error")                                                         \
  _(BADTRACE,      "malformed trace")                                                  \
  _(NOMEM,         "out of memory")                                                    \
  _(IR_LIMIT,      "too many IR instructions")                                         \
  _(K_LIMIT,       "too many constants")                                               \
  _(SNAP_LIMIT,    "too many snapshots")                                               \
  _(SLOT_LIMIT,    "too many dirty stack slots")                                       \
  _(GUARD_FAIL,    "guard always fails: the trace contradicts itself")                 \
  _(UNSUPPORTED,   "instruction not supported by the compiler")                        \
  _(REGALLOC,      "register allocation failed")                                       \
  _(SPILL_LIMIT,   "too many spill slots")                                             \
  _(CODE_LIMIT,    "machine code too large")                                           \
  _(EXIT_LIMIT,    "too many exits")                                                   \
  _(RELOC_LIMIT,   "too many relocations")                                             \
  _(TARGET,        "target not supported")                                             \
  _(BACKEND,       "backend internal error")                                           \
  _(INTERNAL,      "compiler internal error")

enum fj_abort {
#define FJ_ABORT_ENUM(name, text) FJ_ABORT_##name,
  FJ_ABORTS(FJ_ABORT_ENUM)
#undef FJ_ABORT_ENUM
  FJ_ABORT__COUNT
};
_Static_assert(FJ_ABORT__COUNT == 17, "FJ_ABORTS changed: update fj_abort_text users and tests");

/* "too many IR instructions"; "unknown abort reason" out of range. */
static inline const char *fj_abort_text(int reason) {
  static const char *const text[FJ_ABORT__COUNT] = {
#define FJ_ABORT_TEXT(name, t) t,
    FJ_ABORTS(FJ_ABORT_TEXT)
#undef FJ_ABORT_TEXT
  };
  return reason >= 0 && reason < FJ_ABORT__COUNT ? text[reason] : "unknown abort reason";
}

/* "IR_LIMIT" */
static inline const char *fj_abort_name(int reason) {
  static const char *const names[FJ_ABORT__COUNT] = {
#define FJ_ABORT_NAME(name, t) #name,
    FJ_ABORTS(FJ_ABORT_NAME)
#undef FJ_ABORT_NAME
  };
  return reason >= 0 && reason < FJ_ABORT__COUNT ? names[reason] : "?";
}

#endif /* FJ_CODEGEN_ABORT_H */
