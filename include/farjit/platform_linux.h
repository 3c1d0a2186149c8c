/* farjit — the Linux platform layer for the freestanding VM core.
 *
 * fj_platform_linux() returns a process-wide, immutable fj_platform: malloc-backed allocator
 * (aligned_alloc for alignments above malloc's), CLOCK_MONOTONIC clock, print to stderr (one
 * write per call, so lines from several threads do not interleave mid-line).  Thread-safe.
 */
#ifndef FARJIT_PLATFORM_LINUX_H
#define FARJIT_PLATFORM_LINUX_H

#include "farjit/vm.h"

#ifdef __cplusplus
extern "C" {
#endif

const fj_platform *fj_platform_linux(void);

#ifdef __cplusplus
}
#endif
#endif /* FARJIT_PLATFORM_LINUX_H */
