/* farjit tests — what the two Cortex-M4 firmware tests share (tests/arm/fw_test.c: the core
 * interpreted; tests/arm/fw_jit.c: the JIT): output through semihosting, the conformance suite's
 * helper, a bundle record's VM setup and input, and its expected outcome.
 *
 * Output goes to one line buffer, written through semihosting at '\n' (or when 256 bytes are
 * waiting).  Freestanding; firmware only (client_runtime/cortexm/semihost.h).
 */
#ifndef FJ_TESTS_ARM_FW_COMMON_H
#define FJ_TESTS_ARM_FW_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "examples/catalog.h"
#include "farjit/vm.h"
#include "tests/arm/bundle.h"

void fj_out_c(char c);
void fj_out_s(const char *s);
void fj_out_u(uint64_t v);
void fj_out_i(int64_t v);
void fj_out_x(uint64_t v);  /* 0x + lowercase hex, no leading zeros */

/* "FAIL <record name>: " */
void fj_fw_fail_head(const fj_bundle_rec *r);

/* Helper 5 of the conformance suite (uBPF's unwind): stops the program when r1 == 0. */
uint64_t fj_fw_unwind_helper(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5, fj_vm *vm);

/* Register the std helpers and helper 5, then load record r (program bytes at prog; an ELF when
 * ex is set) and find an example's entry.  *stage becomes "load" once the helpers are in.
 * Returns the entry pc (0 for raw programs) or the negative FJ_E* that stopped it. */
int fj_fw_vm_prepare(fj_vm *vm, const fj_bundle_rec *r, const fj_example *ex, const void *prog,
                     const char **stage);

/* A fresh copy of r's input in mem (at least r->mem_len bytes). */
void fj_fw_input(const fj_bundle_rec *r, const fj_example *ex, uint8_t *mem);

/* Is (rc, r0) what r expects: its error (any error when r->err is 0), or rc 0 and its result? */
bool fj_fw_expected(const fj_bundle_rec *r, int rc, uint64_t r0);

#endif /* FJ_TESTS_ARM_FW_COMMON_H */
