/* farjit — Cortex-M platform layer: startup, faults and the clock, for a Cortex-M4 with the
 * memory map of the linker script next to this file (mps2_an386.ld: code at 0, RAM at
 * 0x20000000, as QEMU's mps2-an386 machine and Arm's AN386 FPGA image have).
 *
 * The reset handler copies .data from flash, zeroes .bss, paints the main stack (to measure its
 * peak use), starts SysTick as a free-running cycle counter and calls main(); main's return
 * value ends the program through semihosting SYS_EXIT.  A HardFault/MemManage/BusFault/
 * UsageFault prints the faulting pc and the fault status registers and exits with failure, so a
 * crash in the emulator is a test failure with a location, never a hang.
 */
#ifndef FJ_CORTEXM_STARTUP_H
#define FJ_CORTEXM_STARTUP_H

#include <stddef.h>
#include <stdint.h>

/* Core clock the SysTick counter runs at (QEMU's MPS2 boards: 25 MHz). */
#ifndef FJ_CM_CPU_HZ
#define FJ_CM_CPU_HZ 25000000u
#endif

int main(void);

/* Cycles since reset (SysTick, 24-bit hardware counter extended by its wrap interrupt). */
uint64_t fj_cm_cycles(void);
/* Bytes of the main stack ever used (deepest word that lost its paint), and its size. */
size_t fj_cm_stack_peak(void);
size_t fj_cm_stack_size(void);

#endif /* FJ_CORTEXM_STARTUP_H */
