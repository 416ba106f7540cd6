extern int bar(void);
int foo(void) { return bar() + 1; }
