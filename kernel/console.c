// console.c -- the shell's terminal: COM1, and the telnet session if one
// is open (net=kernel, net/telnet.c).
//
// Output goes to both: every character the kernel prints (kprintf, the
// shell's echo) reaches COM1 and the session. Input comes from either,
// byte by byte, whichever has one first; the shell cannot tell them apart.
// console_getc sleeps in idle_deep() while both are empty, and remembers where
// the byte came from: the shell refuses EXIT and PANIC typed over telnet.
#include "defs.h"

static int from_telnet;

void console_putc(char c)
{
  uart_putc(c);
  telnet_putc(c);
}

int console_getc(void)
{
  for (;;) {
    int c = uart_trygetc();
    if (c >= 0) {
      from_telnet = 0;
      return c;
    }
    c = telnet_getc();
    if (c >= 0) {
      from_telnet = 1;
      return c;
    }
    idle_deep();
  }
}

// Did the last byte read come from the telnet session?
int console_from_telnet(void)
{
  return from_telnet;
}
