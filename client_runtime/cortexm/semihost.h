/* farjit — Cortex-M platform layer: Arm semihosting (the debugger / emulator services a
 * `bkpt 0xab` requests).  Used for console output, the command line and the exit status when
 * the firmware runs under QEMU (-semihosting-config enable=on) or a debug probe.
 *
 * Without a semihosting host attached, bkpt is a fault: only call these when one is known to
 * be present.  Freestanding.
 */
#ifndef FJ_CORTEXM_SEMIHOST_H
#define FJ_CORTEXM_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

/* Write len bytes to the host console (in chunks: SYS_WRITE0 needs NUL-terminated text). */
void fj_sh_write(const char *s, size_t len);
void fj_sh_puts(const char *s);
/* The command line given to the emulator (QEMU -append), NUL-terminated in buf; the empty
 * string when there is none.  Returns its length. */
size_t fj_sh_cmdline(char *buf, size_t cap);
/* End the program: status 0 = ADP_Stopped_ApplicationExit (QEMU exits 0), else a run-time
 * error (QEMU exits 1).  A32/T32 SYS_EXIT carries no other status. */
_Noreturn void fj_sh_exit(int status);

#endif /* FJ_CORTEXM_SEMIHOST_H */
