/* A plain C shared library: not a wasmplug plugin. */
int add(int a, int b) { return a + b; }
