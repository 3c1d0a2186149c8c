/* farjit — Cortex-M platform layer: Arm semihosting calls (contract in semihost.h). */
#include "client_runtime/cortexm/semihost.h"

#include <string.h>

enum {
  SYS_WRITE0 = 0x04,
  SYS_GET_CMDLINE = 0x15,
  SYS_EXIT = 0x18,
  ADP_STOPPED_APPLICATION_EXIT = 0x20026,
  ADP_STOPPED_RUNTIME_ERROR_UNKNOWN = 0x20023,
};

/* r0 = operation, r1 = argument (block address or value); the host answers in r0. */
static uint32_t sh_call(uint32_t op, uintptr_t arg) {
  register uint32_t r0 __asm__("r0") = op;
  register uintptr_t r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void fj_sh_write(const char *s, size_t len) {
  char chunk[65];
  while (len > 0) {
    size_t n = len < sizeof chunk - 1 ? len : sizeof chunk - 1;
    memcpy(chunk, s, n);
    chunk[n] = '\0';
    /* A NUL inside s cuts this chunk's output short; the next chunk goes on after it. */
    sh_call(SYS_WRITE0, (uintptr_t)chunk);
    s += n;
    len -= n;
  }
}

void fj_sh_puts(const char *s) { fj_sh_write(s, strlen(s)); }

size_t fj_sh_cmdline(char *buf, size_t cap) {
  if (cap == 0) return 0;
  uint32_t block[2] = {(uint32_t)(uintptr_t)buf, (uint32_t)cap};
  buf[0] = '\0';
  if (sh_call(SYS_GET_CMDLINE, (uintptr_t)block) != 0) {
    buf[0] = '\0';
    return 0;
  }
  buf[cap - 1] = '\0';
  return strlen(buf);
}

_Noreturn void fj_sh_exit(int status) {
  sh_call(SYS_EXIT, status == 0 ? ADP_STOPPED_APPLICATION_EXIT : ADP_STOPPED_RUNTIME_ERROR_UNKNOWN);
  for (;;) __asm__ volatile("bkpt 0");  /* no host: stop here */
}
