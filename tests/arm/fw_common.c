/* farjit tests — the Cortex-M4 firmware tests' shared pieces (fw_common.h). */
#include "tests/arm/fw_common.h"

#include <string.h>

#include "client_runtime/cortexm/semihost.h"

static char line[256];
static size_t line_len;

void fj_out_c(char c) {
  if (line_len < sizeof line) line[line_len++] = c;
  if (c == '\n' || line_len == sizeof line) {
    fj_sh_write(line, line_len);
    line_len = 0;
  }
}
void fj_out_s(const char *s) {
  while (*s) fj_out_c(*s++);
}
void fj_out_u(uint64_t v) {
  char t[20];
  int n = 0;
  do t[n++] = (char)('0' + v % 10), v /= 10;
  while (v);
  while (n) fj_out_c(t[--n]);
}
void fj_out_i(int64_t v) {
  if (v < 0) fj_out_c('-');
  fj_out_u(v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
}
void fj_out_x(uint64_t v) {
  fj_out_s("0x");
  int i = 60;
  while (i > 0 && !(v >> i)) i -= 4;
  for (; i >= 0; i -= 4) fj_out_c("0123456789abcdef"[(v >> i) & 15]);
}

void fj_fw_fail_head(const fj_bundle_rec *r) {
  fj_out_s("FAIL ");
  fj_out_s(r->name);
  fj_out_s(": ");
}

uint64_t fj_fw_unwind_helper(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5, fj_vm *vm) {
  (void)r2, (void)r3, (void)r4, (void)r5;
  if (r1 == 0) fj_vm_unwind(vm);
  return r1;
}

int fj_fw_vm_prepare(fj_vm *vm, const fj_bundle_rec *r, const fj_example *ex, const void *prog,
                     const char **stage) {
  int rc = fj_vm_register_std_helpers(vm);
  if (rc >= 0) rc = fj_vm_register_helper(vm, 5, "unwind", fj_fw_unwind_helper);
  if (rc < 0) return rc;
  *stage = "load";
  rc = ex ? fj_vm_load_elf(vm, prog, r->prog_len) : fj_vm_load(vm, prog, r->prog_len);
  if (rc >= 0 && ex) return fj_vm_find_entry(vm, "fj_main");
  return rc < 0 ? rc : 0;
}

void fj_fw_input(const fj_bundle_rec *r, const fj_example *ex, uint8_t *mem) {
  if (ex) fj_example_input(ex, mem, r->mem_len);
  else if (r->mem_len) memcpy(mem, fj_bundle_mem(r), r->mem_len);
}

bool fj_fw_expected(const fj_bundle_rec *r, int rc, uint64_t r0) {
  if (r->flags & FJ_BREC_FLAG_ERROR) return rc < 0 && (r->err == 0 || rc == r->err);
  return rc == 0 && r0 == r->result;
}
