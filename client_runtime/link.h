/* farjit — the client linker: relocations, veneers, trace links and exit patches (freestanding).
 *
 * Works on a blob already accepted by fj_blob_check() whose code has been copied into the code
 * cache.  Every address computation follows the relocation table of include/farjit/blob.h
 * (S = symbol, A = addend, P = field address); every kind of that table is encoded here, for
 * both targets, whatever the host is (the bit layouts are data, the tests check them on x86).
 *
 * Code may be reachable at a different address than the one it is written through (dual
 * mapping): functions take the writable pointer `rw` and the execution address `va` of the same
 * byte.  Helpers and runtime entry points out of branch range are reached through a veneer in
 * the code cache's trampoline island (env->veneer).  TRACE relocations are not resolved here:
 * they are returned as fj_link_site records so that the runtime can patch them when the target
 * trace arrives and restore the compiler's bytes when it leaves (pending-link lists).
 *
 * Patching an exit (fj_link_exit_patch) is one aligned 32-bit store, so a concurrent reader sees
 * the old or the new branch, never a mix; the caller makes the code writable around it and
 * flushes the icache after.  Nothing here allocates or changes memory protection.
 */
#ifndef FJ_CLIENT_LINK_H
#define FJ_CLIENT_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client_runtime/blob_check.h"

typedef struct fj_link_env {
  uint16_t target;  /* enum fj_target of the code */
  /* Address of a helper (sym FJ_SYM_HELPER, id) or runtime entry (FJ_SYM_RUNTIME, enum fj_rt);
   * Thumb code addresses carry the Thumb bit.  0 = unknown (the link fails). */
  uint64_t (*sym_addr)(void *ud, uint8_t sym, uint32_t id);
  /* Execution address of an island slot that jumps to addr (created on first use), 0 if the
   * island is full or out of reach. */
  uint64_t (*veneer)(void *ud, uint64_t addr);
  void *ud;
} fj_link_env;

/* A TRACE relocation: a branch that goes to another trace's entry while that trace exists. */
typedef struct fj_link_site {
  uint32_t offset;   /* code offset of the field */
  uint32_t pc;       /* start pc of the trace it links to */
  int32_t addend;
  uint8_t kind;      /* FJ_RELOC_REL32 or FJ_RELOC_THM_JUMP24 */
  uint8_t linked;    /* the field currently points at a trace */
  uint8_t orig[4];   /* the compiler's bytes (branch to the local exit), restored on unlink */
  uint8_t _pad[2];
} fj_link_site;

/* Apply every HELPER and RUNTIME relocation of v to the copy of its code at rw (execution
 * address va); store the TRACE ones in sites[0..*nsites) (room for v->h.nrelocs).  Returns 0,
 * FJ_ERANGE (a field cannot reach its symbol even through a veneer) or FJ_EHELPER (unknown
 * symbol).  On failure the code is partly patched and must not run. */
int fj_link_relocate(const fj_link_env *env, const fj_blob_view *v, uint8_t *rw, uint64_t va,
                     fj_link_site *sites, uint32_t *nsites);

/* Write a field of `kind` at rw (execution address P) so that it yields `value` (= S + A):
 * absolute kinds store it, branch kinds branch there.  false if out of range / misaligned. */
bool fj_link_field_write(uint16_t target, uint8_t kind, uint8_t *rw, uint64_t P, uint64_t value);

/* Point a TRACE site of the code at (rw, va) to dest (another trace's entry), or restore the
 * compiler's bytes (dest == 0).  false if out of range. */
bool fj_link_site_set(uint16_t target, uint8_t *rw_code, uint64_t va_code, fj_link_site *s,
                      uint64_t dest);

/* Retarget the exit branch whose 4-byte field is at rw (execution address P, 4-aligned) to dest,
 * with one aligned 32-bit store.  false if out of range. */
bool fj_link_exit_patch(uint16_t target, uint8_t *rw, uint64_t P, uint64_t dest);

/* Island slots: bytes per slot, and the code of a slot at slot_va jumping to addr. */
uint32_t fj_link_veneer_size(uint16_t target);
void fj_link_veneer_write(uint16_t target, uint8_t *rw, uint64_t slot_va, uint64_t addr);

/* Bytes that trap if executed, used to fill freed code (x86: int3; Thumb: udf). */
void fj_link_fill_trap(uint16_t target, uint8_t *rw, size_t n);

#endif /* FJ_CLIENT_LINK_H */
