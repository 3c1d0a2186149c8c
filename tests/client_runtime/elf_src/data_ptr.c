/* ELF fixture: a pointer in initialized data (R_BPF_64_ABS64 in .rel.data), unsupported. */
int x = 5;
int *px = &x;
long get(void) { return *px; }
