/* farjit — what an eBPF program compiled with `clang -target bpf -O2 -c` includes.
 *
 * Fixed-width types without libc, a section macro for program entry points, and the standard
 * helpers (ids from farjit/helpers.h) as `fj_<name>` function pointers, so that a call such as
 * fj_memset(p, 0, n) compiles to `call 1002`.  No other header is needed by a program.
 * Keep the prototypes below in step with the FJ_STD_HELPERS comments in helpers.h.
 */
#ifndef FARJIT_BPF_PROG_H
#define FARJIT_BPF_PROG_H

#include "farjit/helpers.h"

typedef __UINT8_TYPE__ fj_u8;
typedef __UINT16_TYPE__ fj_u16;
typedef __UINT32_TYPE__ fj_u32;
typedef __UINT64_TYPE__ fj_u64;
typedef __INT32_TYPE__ fj_s32;
typedef __INT64_TYPE__ fj_s64;

/* Put a function or object in a named ELF section; the first function of a non-.text
 * executable section is a program entry (fj_vm_default_entry). */
#define FJ_SEC(name) __attribute__((section(name), used))

#if defined(__bpf__)
static unsigned long long (*const fj_ktime_get_ns)(void) = (void *)FJ_HELPER_KTIME_GET_NS;
static long (*const fj_trace_printk)(const char *fmt, unsigned int size, ...) =
    (void *)FJ_HELPER_TRACE_PRINTK;
static unsigned int (*const fj_get_prandom_u32)(void) = (void *)FJ_HELPER_GET_PRANDOM_U32;
/* cb(i, ctx) for i < nr until cb returns non-zero; returns the number of calls; flags = 0 */
static long (*const fj_loop)(unsigned int nr, void *cb, void *ctx, unsigned long long flags) =
    (void *)FJ_HELPER_LOOP;
static void *(*const fj_memcpy)(void *dst, const void *src, unsigned long long n) =
    (void *)FJ_HELPER_MEMCPY;
static int (*const fj_memcmp)(const void *a, const void *b, unsigned long long n) =
    (void *)FJ_HELPER_MEMCMP;
static void *(*const fj_memset)(void *dst, int c, unsigned long long n) = (void *)FJ_HELPER_MEMSET;

_Static_assert(FJ_HELPER_LOOP == 181 && FJ_HELPER_MEMSET == 1002, "helper ids are ABI");
#endif

#endif /* FARJIT_BPF_PROG_H */
