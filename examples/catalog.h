/* farjit examples — the list of example programs and their deterministic inputs (host side).
 *
 * Shared by the example test, the native harness and the benchmark, so all three run the same
 * program on the same bytes.  FJ_EXAMPLES(_): _(name, default input length in bytes, seed).
 * The eBPF build of examples/<name>.c is $(B)/examples/<name>.o; the native build's entry is
 * fj_native_<name>.
 */
#ifndef FJ_EXAMPLES_CATALOG_H
#define FJ_EXAMPLES_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#define FJ_EXAMPLES(_)          \
  _(crc32,   4096, 0x1001)      \
  _(hashtab, 4096, 0x2002)      \
  _(sort,    4096, 0x3003)      \
  _(mix,     4096, 0x4004)      \
  _(matmul,  4096, 0x5005)      \
  _(loopcb,  4096, 0x6006)

typedef uint64_t (*fj_example_fn)(void *mem, uint64_t len);

#define FJ_EXAMPLE_DECL(name, len, seed) uint64_t fj_native_##name(void *mem, uint64_t n);
FJ_EXAMPLES(FJ_EXAMPLE_DECL)
#undef FJ_EXAMPLE_DECL

typedef struct fj_example {
  const char *name;
  fj_example_fn native;  /* the same C compiled for the host */
  size_t len;            /* default input length */
  uint64_t seed;
} fj_example;

extern const fj_example fj_examples[];
extern const size_t fj_nexamples;

/* The example called name, or NULL. */
const fj_example *fj_example_find(const char *name);
/* Fill buf[0..len) with the example's input: xorshift64* bytes from its seed. */
void fj_example_input(const fj_example *ex, uint8_t *buf, size_t len);

#endif /* FJ_EXAMPLES_CATALOG_H */
