/* farjit — error codes at public boundaries.
 *
 * Every public function that can fail returns a negative FJ_E* code (0 or a positive count on
 * success), in the manner of libuv.  fj_strerror() names a code; objects that fail with detail
 * (a VM that stopped at a pc, a loader that rejected an ELF section) also keep a message, read
 * with their own *_errmsg() call.  Inside the compiler a trace aborts with an enum reason instead
 * (codegen/abort.h); the server maps that to FJ_ECOMPILE plus the reason's text.
 */
#ifndef FARJIT_ERROR_H
#define FARJIT_ERROR_H

/* _(NAME, value, text).  Values are part of the wire protocol (Error.code): never renumber. */
#define FJ_ERRORS(_)                                                                 \
  _(EINVAL,       -1,  "invalid argument")                                           \
  _(ENOMEM,       -2,  "out of memory")                                              \
  _(EBADPROG,     -3,  "malformed program")                                          \
  _(EBADELF,      -4,  "malformed or unsupported ELF object")                        \
  _(ENOENT,       -5,  "no such entry point or symbol")                              \
  _(EOOB,         -6,  "memory access out of bounds")                                \
  _(EBADOP,       -7,  "invalid instruction")                                        \
  _(EJUMP,        -8,  "jump out of program")                                        \
  _(EDEPTH,       -9,  "call depth exceeded")                                        \
  _(EBUDGET,      -10, "instruction budget exceeded")                                \
  _(EHELPER,      -11, "unknown helper or helper failed")                            \
  _(EEXIST,       -12, "already exists")                                             \
  _(ERANGE,       -13, "value out of range")                                         \
  _(EBADTRACE,    -14, "malformed trace")                                            \
  _(EBADBLOB,     -15, "malformed or incompatible code blob")                        \
  _(ETARGET,      -16, "unsupported target")                                         \
  _(ECOMPILE,     -17, "trace compilation aborted")                                  \
  _(EPROTO,       -18, "protocol error")                                             \
  _(EVERSION,     -19, "protocol version mismatch")                                  \
  _(EAUTH,        -20, "authentication failed")                                      \
  _(EIO,          -21, "i/o error")                                                  \
  _(ETIMEDOUT,    -22, "timed out")                                                  \
  _(ECONN,        -23, "connection failed or closed")                                \
  _(EBUSY,        -24, "busy: limit reached, try later")                             \
  _(ECANCELED,    -25, "canceled")                                                   \
  _(ENOSPC,       -26, "no space (code cache or buffer full)")                       \
  _(EUNWIND,      -27, "program stopped by a helper")                                \
  _(ECONFIG,      -28, "invalid configuration")                                      \
  _(ETLS,         -29, "TLS error")                                                  \
  _(ENOTSUP,      -30, "operation not supported")

enum fj_error {
#define FJ_ERR_ENUM(name, val, text) FJ_##name = val,
  FJ_ERRORS(FJ_ERR_ENUM)
#undef FJ_ERR_ENUM
  FJ_ERROR__LAST = -30
};

/* A name for any code: "memory access out of bounds"; "unknown error" for values not above.
 * Freestanding: a switch over string constants, no state. */
static inline const char *fj_strerror(int code) {
  switch (code) {
  case 0: return "success";
#define FJ_ERR_CASE(name, val, text) case val: return text;
  FJ_ERRORS(FJ_ERR_CASE)
#undef FJ_ERR_CASE
  default: return "unknown error";
  }
}

/* "FJ_EOOB" for a code, for logs and the protocol. */
static inline const char *fj_err_name(int code) {
  switch (code) {
  case 0: return "FJ_OK";
#define FJ_ERR_NAME(name, val, text) case val: return "FJ_" #name;
  FJ_ERRORS(FJ_ERR_NAME)
#undef FJ_ERR_NAME
  default: return "FJ_E?";
  }
}

#endif /* FARJIT_ERROR_H */
