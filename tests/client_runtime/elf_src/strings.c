/* ELF fixture: .rodata.str1.1 merged strings and a .text-only program (no program section).
 * str_main(mem, len) counts the bytes of one of two string literals: 5 or 11. */
static __attribute__((noinline)) unsigned long long my_strlen(const char *s) {
  unsigned long long n = 0;
  while (s[n]) n++;
  return n;
}

unsigned long long str_main(void *mem, unsigned long long len) {
  (void)mem;
  const char *s = (len & 1) ? "hello world" : "hello";
  return my_strlen(s);
}
