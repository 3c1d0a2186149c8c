/* ELF fixture: more functions than FJ_ELF_MAX_FUNCS (256). */
#define F(n) __attribute__((noinline, used)) static long f##n(long x) { return x + n; }
#define F10(n) F(n##0) F(n##1) F(n##2) F(n##3) F(n##4) F(n##5) F(n##6) F(n##7) F(n##8) F(n##9)
#define F100(n) F10(n##0) F10(n##1) F10(n##2) F10(n##3) F10(n##4) F10(n##5) F10(n##6) F10(n##7) \
  F10(n##8) F10(n##9)
F100(1) F100(2) F100(3)
