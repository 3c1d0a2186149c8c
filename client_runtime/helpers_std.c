/* farjit — the standard helper set (farjit/helpers.h), freestanding.
 *
 * Every pointer a program passes is checked with fj_vm_check_range before it is touched; a bad
 * range stops the run with FJ_EOOB and a message naming the helper (the program has a bug the
 * host must hear about, as with a bad load).  Argument errors that are not memory safety
 * problems (unknown printk conversion, loop flags) return a negative FJ_E* to the program.
 */
#include <string.h>

#include "client_runtime/vm_internal.h"
#include "farjit/helpers.h"

#define RET_ERR(code) ((uint64_t)(int64_t)(code))

/* Stop the run with "<helper>: <n>-byte <what> at 0x<addr> not accessible". */
static uint64_t range_fail(fj_vm *vm, const char *helper, const char *what, uint64_t addr, uint64_t n) {
  char buf[128];
  fj_sb sb = fj_sb_init(buf, sizeof buf);
  fj_sb_puts(&sb, helper);
  fj_sb_puts(&sb, ": ");
  fj_sb_putu(&sb, n);
  fj_sb_puts(&sb, "-byte ");
  fj_sb_puts(&sb, what);
  fj_sb_puts(&sb, " at 0x");
  fj_sb_putx(&sb, addr);
  fj_sb_puts(&sb, " is not inside one accessible region");
  fj_vm_fail(vm, FJ_EOOB, buf);
  return RET_ERR(FJ_EOOB);
}

static uint64_t h_KTIME_GET_NS(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, fj_vm *vm) {
  (void)a, (void)b, (void)c, (void)d, (void)e;
  return vm->pf.clock_ns ? vm->pf.clock_ns(vm->pf.ud) : 0;
}

static uint64_t h_GET_PRANDOM_U32(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, fj_vm *vm) {
  (void)a, (void)b, (void)c, (void)d, (void)e;
  /* xorshift64*: deterministic per VM, good enough for programs' sampling decisions. */
  uint64_t x = vm->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  vm->rng = x;
  return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

static uint64_t h_MEMCPY(uint64_t dst, uint64_t src, uint64_t n, uint64_t d, uint64_t e, fj_vm *vm) {
  (void)d, (void)e;
  if (n == 0) return dst;
  void *pd = fj_vm_check_range(vm, dst, n, true);
  if (!pd) return range_fail(vm, "memcpy", "destination", dst, n);
  const void *ps = fj_vm_check_range(vm, src, n, false);
  if (!ps) return range_fail(vm, "memcpy", "source", src, n);
  memmove(pd, ps, (size_t)n);
  return dst;
}

static uint64_t h_MEMCMP(uint64_t a, uint64_t b, uint64_t n, uint64_t d, uint64_t e, fj_vm *vm) {
  (void)d, (void)e;
  if (n == 0) return 0;
  const void *pa = fj_vm_check_range(vm, a, n, false);
  if (!pa) return range_fail(vm, "memcmp", "first operand", a, n);
  const void *pb = fj_vm_check_range(vm, b, n, false);
  if (!pb) return range_fail(vm, "memcmp", "second operand", b, n);
  int c = memcmp(pa, pb, (size_t)n);
  return c < 0 ? RET_ERR(-1) : c > 0 ? 1 : 0;
}

static uint64_t h_MEMSET(uint64_t dst, uint64_t c, uint64_t n, uint64_t d, uint64_t e, fj_vm *vm) {
  (void)d, (void)e;
  if (n == 0) return dst;
  void *pd = fj_vm_check_range(vm, dst, n, true);
  if (!pd) return range_fail(vm, "memset", "destination", dst, n);
  memset(pd, (int)(uint8_t)c, (size_t)n);
  return dst;
}

enum { LOOP_MAX = 1 << 23 };  /* as Linux's bpf_loop */

static uint64_t h_LOOP(uint64_t nr, uint64_t cb, uint64_t ctx, uint64_t flags, uint64_t e, fj_vm *vm) {
  (void)e;
  if (flags != 0) return RET_ERR(FJ_EINVAL);
  nr = (uint32_t)nr;
  if (nr > LOOP_MAX) return RET_ERR(FJ_ERANGE);
  if (cb > UINT32_MAX) {
    fj_vm_fail(vm, FJ_EINVAL, "loop: callback is not a function of the program");
    return RET_ERR(FJ_EINVAL);
  }
  if (nr == 0) return 0;
  /* The first call checks the callback; the others only run it (with the arguments in
   * registers: no array in memory per iteration).  A callback returning non-zero stops. */
  const uint64_t first[5] = {0, ctx, 0, 0, 0};
  uint64_t ret = 0;
  int rc = fj_vm_call(vm, (uint32_t)cb, first, &ret);
  uint32_t i = 1;
  while (rc >= 0 && ret == 0 && i < nr) {
    const uint64_t args[5] = {i, ctx, 0, 0, 0};
    rc = fj_vm_call_again(vm, (uint32_t)cb, args, &ret);
    i++;
  }
  return rc < 0 ? RET_ERR(rc) : i;  /* after an error the run is already stopped */
}

/* ---- trace_printk ------------------------------------------------------------------------- */

enum { PRINTK_MAX = 256, PRINTK_STR_MAX = 128 };

/* Append the NUL-terminated string at addr (read inside one readable region, at most
 * PRINTK_STR_MAX bytes).  False if addr is not readable. */
static bool put_prog_string(fj_vm *vm, fj_sb *sb, uint64_t addr) {
  if (!fj_vm_check_range(vm, addr, 1, false)) return false;
  for (uint64_t i = 0; i < PRINTK_STR_MAX; i++) {
    const char *p = fj_vm_check_range(vm, addr + i, 1, false);
    if (!p || *p == '\0') break;
    fj_sb_putc(sb, *p);
  }
  return true;
}

static uint64_t h_TRACE_PRINTK(uint64_t fmt, uint64_t size, uint64_t a0, uint64_t a1, uint64_t a2, fj_vm *vm) {
  const char *f = size ? fj_vm_check_range(vm, fmt, size, false) : NULL;
  if (!f) return range_fail(vm, "trace_printk", "format", fmt, size);
  const uint64_t args[3] = {a0, a1, a2};
  unsigned nargs = 0;
  char out[PRINTK_MAX];
  fj_sb sb = fj_sb_init(out, sizeof out);
  for (uint64_t i = 0; i < size && f[i]; i++) {
    if (f[i] != '%') {
      fj_sb_putc(&sb, f[i]);
      continue;
    }
    if (++i >= size) return RET_ERR(FJ_EINVAL);
    if (f[i] == '%') {
      fj_sb_putc(&sb, '%');
      continue;
    }
    unsigned longs = 0;
    while (i < size && f[i] == 'l' && longs < 2) {
      longs++;
      i++;
    }
    if (i >= size || nargs >= 3) return RET_ERR(FJ_EINVAL);
    uint64_t v = args[nargs++];
    switch (f[i]) {
    case 'd':
    case 'i': fj_sb_puti(&sb, longs ? (int64_t)v : (int64_t)(int32_t)v); break;
    case 'u': fj_sb_putu(&sb, longs ? v : (uint32_t)v); break;
    case 'x': fj_sb_putx(&sb, longs ? v : (uint32_t)v); break;
    case 'p':
      fj_sb_puts(&sb, "0x");
      fj_sb_putx(&sb, v);
      break;
    case 'c':
      if (longs) return RET_ERR(FJ_EINVAL);
      fj_sb_putc(&sb, (char)v);
      break;
    case 's':
      if (longs) return RET_ERR(FJ_EINVAL);
      if (!put_prog_string(vm, &sb, v)) return range_fail(vm, "trace_printk", "string", v, 1);
      break;
    default: return RET_ERR(FJ_EINVAL);
    }
  }
  size_t len = sb.len < sizeof out - 1 ? sb.len : sizeof out - 1;
  if (vm->pf.print) vm->pf.print(vm->pf.ud, out, len);
  return len;
}

int fj_vm_register_std_helpers(fj_vm *vm) {
#define FJ_HELPER_REG(name, id, str, ret, args)                  \
  {                                                              \
    int rc = fj_vm_register_helper(vm, id, str, h_##name);       \
    if (rc) return rc;                                           \
  }
  FJ_STD_HELPERS(FJ_HELPER_REG)
#undef FJ_HELPER_REG
  return 0;
}
