int bar(void) { return 41; }
