/* farjit — compilation targets.  _(NAME, id, "triple").  Ids travel in blobs and on the wire. */
#ifndef FARJIT_TARGET_H
#define FARJIT_TARGET_H

#define FJ_TARGETS(_)                  \
  _(X86_64,    1, "x86_64")            \
  _(THUMBV7EM, 2, "thumbv7em")

enum fj_target {
  FJ_TARGET_NONE = 0,
#define FJ_TARGET_ENUM(name, id, triple) FJ_TARGET_##name = id,
  FJ_TARGETS(FJ_TARGET_ENUM)
#undef FJ_TARGET_ENUM
};

static inline const char *fj_target_name(int t) {
  switch (t) {
#define FJ_TARGET_NAME(name, id, triple) case id: return triple;
  FJ_TARGETS(FJ_TARGET_NAME)
#undef FJ_TARGET_NAME
  default: return "unknown";
  }
}

/* The target this code is built for, or FJ_TARGET_NONE. */
#if defined(__x86_64__)
#define FJ_TARGET_HOST FJ_TARGET_X86_64
#elif defined(__thumb2__) && defined(__ARM_ARCH_7EM__)
#define FJ_TARGET_HOST FJ_TARGET_THUMBV7EM
#else
#define FJ_TARGET_HOST FJ_TARGET_NONE
#endif

#endif /* FARJIT_TARGET_H */
