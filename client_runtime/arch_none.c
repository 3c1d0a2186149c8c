/* farjit — the target layer of a host with none (client_runtime/arch.h): no machine code is
 * ever entered; the runtime records and interprets.  Targets with a layer define FJ_ARCH_*. */
#include "client_runtime/arch.h"

#include "farjit/target.h"

#if !(defined(__x86_64__) && defined(__ELF__)) && !defined(FJ_ARCH_THUMB)
uint32_t fj_arch_enter(fj_jit_state *st, const void *entry, const bool *stop, uint64_t *left) {
  (void)st, (void)entry, (void)stop, (void)left;
  return 0;
}
uint64_t fj_arch_rt_call(void) { return 0; }
uint64_t fj_arch_deopt(void) { return 0; }
int fj_arch_target(void) { return FJ_TARGET_NONE; }
#else
typedef int fj_arch_none_unused;  /* ISO C: a translation unit is not empty */
#endif
