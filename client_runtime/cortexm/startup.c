/* farjit — Cortex-M platform layer: vector table, reset, faults, SysTick (see startup.h). */
#include "client_runtime/cortexm/startup.h"

#include <string.h>

#include "client_runtime/cortexm/semihost.h"

/* Linker script symbols (mps2_an386.ld). */
extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[];
extern uint32_t __stack_bottom[], __stack_top[];

#define REG32(a) (*(volatile uint32_t *)(uintptr_t)(a))
#define SYST_CSR 0xE000E010u
#define SYST_RVR 0xE000E014u
#define SYST_CVR 0xE000E018u
#define SCB_CFSR 0xE000ED28u
#define SCB_HFSR 0xE000ED2Cu
#define SCB_MMFAR 0xE000ED34u
#define SCB_BFAR 0xE000ED38u
#define SCB_SHCSR 0xE000ED24u
#define SCB_ICSR 0xE000ED04u
#define ICSR_PENDSTSET (1u << 26)
enum { STACK_PAINT = 0x5AC3A55Au, SYST_RELOAD = 0xFFFFFFu };

static volatile uint32_t systick_wraps;

/* SysTick counts RELOAD..1, 0, then reloads; the wrap interrupt fires on the 1 -> 0 step.  So
 * the period starts at 0: elapsed = (2^24 - value) mod 2^24, and systick_wraps counts periods.
 * With interrupts masked, a wrap whose interrupt is still pending is added here (then the
 * value is re-read, so it is certainly from the new period). */
uint64_t fj_cm_cycles(void) {
  uint32_t primask;
  __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
  uint32_t hi = systick_wraps, lo = REG32(SYST_CVR);
  if (REG32(SCB_ICSR) & ICSR_PENDSTSET) {
    hi++;
    lo = REG32(SYST_CVR);
  }
  __asm__ volatile("msr primask, %0" ::"r"(primask) : "memory");
  return (uint64_t)hi * (SYST_RELOAD + 1u) + ((SYST_RELOAD + 1u - lo) & SYST_RELOAD);
}

size_t fj_cm_stack_size(void) { return (size_t)((uintptr_t)__stack_top - (uintptr_t)__stack_bottom); }

size_t fj_cm_stack_peak(void) {
  const uint32_t *p = __stack_bottom;
  while (p < __stack_top && *p == STACK_PAINT) p++;
  return (size_t)((uintptr_t)__stack_top - (uintptr_t)p);
}

static void put_hex(const char *label, uint32_t v) {
  char hex[9];
  for (int i = 0; i < 8; i++) hex[i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 15];
  hex[8] = '\0';
  fj_sh_puts(label);
  fj_sh_puts(hex);
}

/* Called with the exception frame the core pushed: r0-r3, r12, lr, pc, xpsr. */
void fj_cm_fault_report(const uint32_t *frame, uint32_t exc_return);
void fj_cm_fault_report(const uint32_t *frame, uint32_t exc_return) {
  uint32_t ipsr;
  __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
  put_hex("\nFAULT: exception ", ipsr & 0x1ff);
  put_hex(" pc 0x", frame[6]);
  put_hex(" lr 0x", frame[5]);
  put_hex(" sp 0x", (uint32_t)(uintptr_t)frame);
  put_hex(" exc_return 0x", exc_return);
  put_hex("\n       cfsr 0x", REG32(SCB_CFSR));
  put_hex(" hfsr 0x", REG32(SCB_HFSR));
  put_hex(" mmfar 0x", REG32(SCB_MMFAR));
  put_hex(" bfar 0x", REG32(SCB_BFAR));
  fj_sh_puts("\n");
  fj_sh_exit(1);
}

/* Find the stacked frame (MSP or PSP, by EXC_RETURN bit 2) without touching the stack first. */
__attribute__((naked)) static void fault_handler(void) {
  __asm__ volatile(
      "tst lr, #4\n"
      "ite eq\n"
      "mrseq r0, msp\n"
      "mrsne r0, psp\n"
      "mov r1, lr\n"
      "b fj_cm_fault_report\n");
}

static void systick_handler(void) { systick_wraps++; }

static void default_handler(void) {
  fj_sh_puts("\nFAULT: unexpected interrupt\n");
  fj_sh_exit(1);
}

void fj_cm_reset(void);
__attribute__((noreturn)) void fj_cm_reset(void) {
  /* Paint the stack below this frame (the handler's own frame is near the top). */
  uint32_t *sp_now = (uint32_t *)__builtin_frame_address(0);
  for (uint32_t *p = __stack_bottom; p + 64 < sp_now; p++) *p = STACK_PAINT;
  memcpy(_sdata, _sidata, (size_t)((uintptr_t)_edata - (uintptr_t)_sdata));
  memset(_sbss, 0, (size_t)((uintptr_t)_ebss - (uintptr_t)_sbss));
  /* Separate MemManage/BusFault/UsageFault handlers: the report then names the real cause. */
  REG32(SCB_SHCSR) |= (1u << 16) | (1u << 17) | (1u << 18);
  REG32(SYST_RVR) = SYST_RELOAD;
  REG32(SYST_CVR) = 0;
  REG32(SYST_CSR) = 7;  /* enable, interrupt on wrap, processor clock */
  fj_sh_exit(main());
}

typedef void (*fj_vector)(void);

/* Cortex-M4 system exceptions; the board's external interrupts are never enabled. */
__attribute__((section(".vectors"), used)) static const fj_vector vectors[16] = {
    (fj_vector)(uintptr_t)__stack_top,  /* initial MSP */
    fj_cm_reset,
    default_handler,  /* NMI */
    fault_handler,    /* HardFault */
    fault_handler,    /* MemManage */
    fault_handler,    /* BusFault */
    fault_handler,    /* UsageFault */
    0, 0, 0, 0,
    default_handler,  /* SVCall */
    default_handler,  /* DebugMonitor */
    0,
    default_handler,  /* PendSV */
    systick_handler,
};
