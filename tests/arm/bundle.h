/* farjit tests — the case bundle linked into the Cortex-M4 firmware test.
 *
 * The host (mkbundle.c) assembles the conformance suite and tests/arm/cases/ with the project's
 * assembler, reads the example ELF objects and computes their expected results natively, and
 * writes one little-endian binary that fw_test.c reads in place from flash:
 *
 *   fj_bundle_hdr                               magic "FJAB", version, record count
 *   fj_bundle_rec + prog bytes + mem bytes      per case, each part padded to 8 bytes
 *
 * Kinds: CONF (raw bytecode, run at pc 0 with r1/r2 = a RAM copy of mem), ARM (the same, from
 * tests/arm/cases/: 32-bit target checks), EXAMPLE (prog = an ELF object for fj_vm_load_elf,
 * entry fj_main; no mem bytes: the device generates mem_len input bytes with
 * fj_example_input, examples/catalog.h), BROKEN (the host could not assemble it: a failure).
 * A case passes when the run returns `result` (FLAG_RESULT), or fails (FLAG_ERROR) with `err`
 * when err != 0 (the case's `-- error` named an FJ_E* code) or with any error when err == 0
 * (conformance cases: their error texts are uBPF's, not ours).
 */
#ifndef FJ_TESTS_ARM_BUNDLE_H
#define FJ_TESTS_ARM_BUNDLE_H

#include <stdint.h>

enum {
  FJ_BUNDLE_MAGIC = 0x42414a46u, /* "FJAB" */
  FJ_BUNDLE_VERSION = 1,
  FJ_BUNDLE_NAME_MAX = 40,
};

/* The JIT test (fw_jit.c, mkjit.c) runs every record this many times in one VM and runtime:
 * short programs get hot across runs (function entry traces) and later runs enter them. */
enum { FJ_BUNDLE_JIT_RUNS = 3 };
/* ... with this hot threshold (fj_replay_config): low, so that short loops get traced. */
#define FJ_FW_JIT_HOT 2

enum fj_bundle_kind { FJ_BREC_CONF = 1, FJ_BREC_ARM = 2, FJ_BREC_EXAMPLE = 3, FJ_BREC_BROKEN = 4 };
enum { FJ_BREC_FLAG_RESULT = 1u << 0, FJ_BREC_FLAG_ERROR = 1u << 1 };

typedef struct fj_bundle_hdr {
  uint32_t magic;
  uint32_t version;
  uint32_t nrecs;
  uint32_t total_size;  /* bytes, header included */
} fj_bundle_hdr;

typedef struct fj_bundle_rec {
  uint32_t size;      /* this record with its padded payload: the next record is at +size */
  uint16_t kind;      /* enum fj_bundle_kind */
  uint16_t flags;     /* FJ_BREC_FLAG_* */
  uint64_t result;
  uint32_t prog_len;  /* bytes of program (or ELF image) following the record */
  uint32_t mem_len;   /* bytes of input memory (following the padded program, except EXAMPLE) */
  int32_t err;        /* expected FJ_E* code, 0 = any error */
  uint32_t _pad;
  char name[FJ_BUNDLE_NAME_MAX];
} fj_bundle_rec;

_Static_assert(sizeof(fj_bundle_hdr) == 16, "bundle header layout");
_Static_assert(sizeof(fj_bundle_rec) == 72, "bundle record layout is shared by host and device");

static inline uint32_t fj_bundle_pad8(uint32_t n) { return (n + 7u) & ~7u; }
static inline const uint8_t *fj_bundle_prog(const fj_bundle_rec *r) { return (const uint8_t *)(r + 1); }
static inline const uint8_t *fj_bundle_mem(const fj_bundle_rec *r) {
  return fj_bundle_prog(r) + fj_bundle_pad8(r->prog_len);
}

#endif /* FJ_TESTS_ARM_BUNDLE_H */
