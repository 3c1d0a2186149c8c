/* farjit examples — the catalog (see catalog.h). */
#include "examples/catalog.h"

#include <string.h>

const fj_example fj_examples[] = {
#define FJ_EXAMPLE_ROW(name, len, seed) {#name, fj_native_##name, len, seed},
    FJ_EXAMPLES(FJ_EXAMPLE_ROW)
#undef FJ_EXAMPLE_ROW
};
const size_t fj_nexamples = sizeof fj_examples / sizeof fj_examples[0];

const fj_example *fj_example_find(const char *name) {
  for (size_t i = 0; i < fj_nexamples; i++)
    if (strcmp(fj_examples[i].name, name) == 0) return &fj_examples[i];
  return NULL;
}

void fj_example_input(const fj_example *ex, uint8_t *buf, size_t len) {
  uint64_t x = ex->seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < len; i++) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    buf[i] = (uint8_t)((x * 0x2545f4914f6cdd1dull) >> 56);
  }
}
