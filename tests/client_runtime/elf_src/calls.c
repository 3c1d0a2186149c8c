/* ELF fixture: a program section calling .text functions (R_BPF_64_32), an lddw of a function
 * passed to the loop helper (R_BPF_64_64 against .text), and every kind of data section.
 * fj_main(mem, len) returns a value tests compute by hand (see test_elf_vm.c). */
#define SEC(s) __attribute__((section(s), used))
#define NOINLINE __attribute__((noinline))

static long (*const loop_helper)(unsigned int nr, void *cb, void *ctx,
                                 unsigned long long flags) = (void *)181;

static const unsigned int table[8] = {3, 1, 4, 1, 5, 9, 2, 6}; /* .rodata */
unsigned long long counter = 100;                               /* .data */
unsigned long long scratch[4];                                  /* .bss */

static NOINLINE unsigned long long square(unsigned long long x) { return x * x; }

static NOINLINE unsigned long long sum_table(unsigned long long n) {
  unsigned long long s = 0;
  for (unsigned long long i = 0; i < n && i < 8; i++) s += table[i];
  return s + square(n); /* call inside .text: no relocation */
}

static long add_index(unsigned long long i, void *ctx) {
  *(unsigned long long *)ctx += i;
  return 0;
}

/* 1 + 2 + ... + (n-1) through the loop helper */
static NOINLINE unsigned long long tri(unsigned int n) {
  unsigned long long acc = 0;
  loop_helper(n, add_index, &acc, 0);
  return acc;
}

SEC("prog") unsigned long long fj_main(void *mem, unsigned long long len) {
  (void)mem;
  counter += 1;
  scratch[len & 3] = counter;
  return sum_table(len) + scratch[len & 3] + tri(5);
}

SEC("prog2") unsigned long long second_prog(void *mem, unsigned long long len) {
  (void)mem;
  return square(len) + 1;
}
