/* farjit examples — native harness: runs each example compiled for the host on its
 * deterministic input and prints the expected r0, in the form `farjit run` prints it.
 *
 *   fj_examples_native              "crc32 0x..." for every example
 *   fj_examples_native NAME         just "0x..." for one example
 *   fj_examples_native --hex NAME   the example's input as one hex string (for farjit run --mem)
 *   fj_examples_native --raw NAME   the example's input as raw bytes (for farjit run --ctx)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/catalog.h"

static uint64_t run(const fj_example *ex) {
  uint8_t *buf = malloc(ex->len);
  if (!buf) exit(2);
  fj_example_input(ex, buf, ex->len);
  uint64_t r = ex->native(buf, ex->len);
  free(buf);
  return r;
}

int main(int argc, char **argv) {
  if (argc == 1) {
    for (size_t i = 0; i < fj_nexamples; i++)
      printf("%-8s 0x%" PRIx64 "\n", fj_examples[i].name, run(&fj_examples[i]));
    return 0;
  }
  int hex = argc == 3 && strcmp(argv[1], "--hex") == 0;
  int raw = argc == 3 && strcmp(argv[1], "--raw") == 0;
  const fj_example *ex = (argc == 2 || hex || raw) ? fj_example_find(argv[argc - 1]) : NULL;
  if (!ex) {
    fprintf(stderr, "usage: %s [[--hex|--raw] NAME]; examples:", argv[0]);
    for (size_t i = 0; i < fj_nexamples; i++) fprintf(stderr, " %s", fj_examples[i].name);
    fprintf(stderr, "\n");
    return 2;
  }
  if (hex || raw) {
    uint8_t *buf = malloc(ex->len);
    if (!buf) return 2;
    fj_example_input(ex, buf, ex->len);
    if (raw) {
      fwrite(buf, 1, ex->len, stdout);
    } else {
      for (size_t i = 0; i < ex->len; i++) printf("%02x", buf[i]);
      printf("\n");
    }
    free(buf);
    return fflush(stdout) == 0 ? 0 : 1;
  }
  printf("0x%" PRIx64 "\n", run(ex));
  return 0;
}
