/* farjit — Cortex-M platform layer: the fj_platform of the firmware.
 *
 * Memory: one static arena (FJ_CM_ARENA_SIZE bytes, default 64 KiB, in .bss) served by the
 * allocator in arena.h.  Clock: SysTick cycles (startup.h) scaled to nanoseconds.  Print: Arm
 * semihosting (semihost.h).  One platform per firmware image; not thread-safe.
 */
#ifndef FJ_CORTEXM_PLATFORM_H
#define FJ_CORTEXM_PLATFORM_H

#include "client_runtime/cortexm/arena.h"
#include "farjit/vm.h"

#ifndef FJ_CM_ARENA_SIZE
#define FJ_CM_ARENA_SIZE (64u * 1024u)
#endif

/* The platform (initialised on first call); its allocator's ud is fj_cm_arena(). */
const fj_platform *fj_platform_cortexm(void);
/* The arena behind it, for accounting (used, peak, bad frees). */
fj_arena *fj_cm_arena(void);
uint64_t fj_cm_clock_ns(void *ud);

#endif /* FJ_CORTEXM_PLATFORM_H */
