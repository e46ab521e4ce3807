// net/stage1_stubs.c -- placeholders until telnet and WGET land.
#include "net.h"

void telnet_start(void) {}
int telnet_poll(uint64_t now) { (void)now; return 0; }
void telnet_putc(char c) { (void)c; }
int telnet_getc(void) { return -1; }
void cmd_wget(const char *args) { (void)args; kputs("WGET: not yet\n"); }
