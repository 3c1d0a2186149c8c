/* ELF fixture: relocations against named global function symbols rather than section symbols
 * (clang uses them for non-static functions): a call from a program section into .text and a
 * loop-helper callback whose address is taken.  glob_main(len) = 10 * len + (0+1+...+(len-1)). */
static long (*const loop_helper)(unsigned int nr, void *cb, void *ctx,
                                 unsigned long long flags) = (void *)181;

__attribute__((noinline)) unsigned long long times_ten(unsigned long long x) { return x * 10; }

long accumulate(unsigned long long i, void *ctx) {
  *(unsigned long long *)ctx += i;
  return 0;
}

__attribute__((section("prog"), used)) unsigned long long glob_main(void *mem,
                                                                    unsigned long long len) {
  (void)mem;
  unsigned long long acc = 0;
  loop_helper((unsigned int)len, accumulate, &acc, 0);
  return times_ten(len) + acc;
}
