/* farjit — Cortex-M platform layer: fj_platform over the arena, SysTick and semihosting. */
#include "client_runtime/cortexm/platform.h"

#include "client_runtime/cortexm/semihost.h"
#include "client_runtime/cortexm/startup.h"

static _Alignas(16) uint8_t arena_mem[FJ_CM_ARENA_SIZE];
static fj_arena arena;
static fj_platform platform;

uint64_t fj_cm_clock_ns(void *ud) {
  (void)ud;
  /* cycles * 1e9 / HZ without overflowing for centuries at 25 MHz: split whole seconds. */
  uint64_t c = fj_cm_cycles();
  return c / FJ_CM_CPU_HZ * 1000000000u + c % FJ_CM_CPU_HZ * 1000000000u / FJ_CM_CPU_HZ;
}

static void cm_print(void *ud, const char *s, size_t len) {
  (void)ud;
  fj_sh_write(s, len);
}

fj_arena *fj_cm_arena(void) {
  if (!arena.base) fj_arena_init(&arena, arena_mem, sizeof arena_mem);
  return &arena;
}

const fj_platform *fj_platform_cortexm(void) {
  if (!platform.mem.alloc) {
    platform.mem.alloc = fj_arena_alloc;
    platform.mem.free = fj_arena_free_block;
    platform.mem.ud = fj_cm_arena();
    platform.clock_ns = fj_cm_clock_ns;
    platform.print = cm_print;
    platform.ud = NULL;
  }
  return &platform;
}
