/* ELF fixture: more data sections than FJ_ELF_MAX_SECTIONS (16). */
#define D(n) __attribute__((section(".data.d" #n), used)) long d##n = n;
D(1) D(2) D(3) D(4) D(5) D(6) D(7) D(8) D(9) D(10) D(11) D(12) D(13) D(14) D(15) D(16) D(17)
long get(void) { return d1 + d17; }
