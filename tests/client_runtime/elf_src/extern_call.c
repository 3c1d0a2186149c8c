/* ELF fixture: a call of an undefined (extern) function. */
extern long missing_function(long);
long get(long a) { return missing_function(a) + 1; }
