/* farjit — the standard helper set.
 *
 * Ids and names for hosts (fj_vm_register_helper, the ABI hash); eBPF programs get callable
 * declarations from farjit/bpf_prog.h.  Ids follow Linux where Linux has the same helper, so
 * existing programs keep working.
 *
 * _(NAME, id, "name", bpf-side prototype)
 */
#ifndef FARJIT_HELPERS_H
#define FARJIT_HELPERS_H

#define FJ_STD_HELPERS(_)                                                                      \
  /* u64 ktime_get_ns(void): monotonic clock in ns (platform clock; 0 without one) */          \
  _(KTIME_GET_NS, 5,    "ktime_get_ns", unsigned long long, (void))                            \
  /* long trace_printk(const char *fmt, u32 fmt_size, u64 a, u64 b, u64 c): %d %u %x %lld    \
     %llu %llx %s %c %%; returns bytes written or a negative code */                          \
  _(TRACE_PRINTK, 6,    "trace_printk", long, (const char *fmt, unsigned int size, ...))      \
  /* u32 get_prandom_u32(void): xorshift, per VM, deterministic seed */                        \
  _(GET_PRANDOM_U32, 7, "get_prandom_u32", unsigned int, (void))                               \
  /* long loop(u32 nr, long (*cb)(u64 i, void *ctx), void *ctx, u64 flags): calls cb(i, ctx)  \
     for i < nr until cb returns non-zero; returns the number of calls; flags must be 0 */    \
  _(LOOP, 181,          "loop", long, (unsigned int nr, void *cb, void *ctx, unsigned long long flags)) \
  /* void *memcpy(void *dst, const void *src, u64 n): both ranges checked against regions */  \
  _(MEMCPY, 1000,       "memcpy", void *, (void *dst, const void *src, unsigned long long n))  \
  /* int memcmp(const void *a, const void *b, u64 n): <0, 0, >0 */                             \
  _(MEMCMP, 1001,       "memcmp", int, (const void *a, const void *b, unsigned long long n))   \
  /* void *memset(void *dst, int c, u64 n) */                                                  \
  _(MEMSET, 1002,       "memset", void *, (void *dst, int c, unsigned long long n))

enum fj_std_helper {
#define FJ_HELPER_ENUM(name, id, str, ret, args) FJ_HELPER_##name = id,
  FJ_STD_HELPERS(FJ_HELPER_ENUM)
#undef FJ_HELPER_ENUM
};

#endif /* FARJIT_HELPERS_H */
