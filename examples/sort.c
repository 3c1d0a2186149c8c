/* Shell sort (Ciura gaps) of the input read as 32-bit unsigned integers, in place.  Returns a
 * position-weighted checksum of the sorted array, or ~0 if the result is not sorted; callers
 * also compare the buffer itself. */
#include "example.h"

static const fj_u32 gaps[] = {701, 301, 132, 57, 23, 10, 4, 1}; /* .rodata */

static FJ_NOINLINE void shell_sort(fj_u32 *a, fj_u64 n) {
  for (unsigned g = 0; g < sizeof gaps / sizeof gaps[0]; g++) {
    fj_u64 gap = gaps[g];
    for (fj_u64 i = gap; i < n; i++) {
      fj_u32 v = a[i];
      fj_u64 j = i;
      for (; j >= gap && a[j - gap] > v; j -= gap) a[j] = a[j - gap];
      a[j] = v;
    }
  }
}

FJ_ENTRY fj_u64 fj_main(void *mem, fj_u64 len) {
  fj_u32 *a = (fj_u32 *)mem;
  fj_u64 n = len / 4, sum = 0;
  shell_sort(a, n);
  for (fj_u64 i = 0; i < n; i++) {
    if (i && a[i - 1] > a[i]) return ~0ull;
    sum = sum * 31 + a[i] * (i + 1);
  }
  return sum;
}
