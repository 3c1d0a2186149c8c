/* Recorder fixture (test_record_elf.c): lddw of .rodata and .data addresses at nonzero offsets
 * in their sections, and one plain 64-bit constant that the loader leaves alone.
 * The entry trace of fj_main (recorded up to its loop header) holds the first three lddw. */
#define SEC(s) __attribute__((section(s), used))

static const unsigned long long ra[5] = {1, 2, 3, 4, 5};      /* .rodata, offset 0 */
static const unsigned long long rb[5] = {10, 20, 30, 40, 50}; /* .rodata, offset 40 */
static unsigned long long da[3] = {7, 8, 9};                  /* .data, offset 0 */
static unsigned long long db[3] = {70, 80, 90};               /* .data, offset 24 */

SEC("prog") unsigned long long fj_main(void *mem, unsigned long long len) {
  (void)mem;
  unsigned long long s = ra[len % 5] * 0x123456789abcull;
  for (unsigned long long i = 0; i < len; i++) {
    s += rb[i % 5];
    db[i % 3] += i;
  }
  da[0] += s;
  return s + db[len % 3] + da[0];
}
