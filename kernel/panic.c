// panic.c -- stop the machine with a reason.
//
// Prints "PANIC: <reason>" and "System halted." on the console, then halts
// with interrupts off forever (QEMU shows an idle vCPU; the host sees no
// CPU use). A panic while panicking just halts.
#include "defs.h"
#include "x86.h"

static int panicking;

void halt_forever(void)
{
  for (;;) {
    cli();
    hlt();
  }
}

void panic(const char *fmt, ...)
{
  cli();
  if (panicking++)
    halt_forever();

  __builtin_va_list ap;
  __builtin_va_start(ap, fmt);
  kputs("PANIC: ");
  kvprintf(fmt, ap);
  __builtin_va_end(ap);
  kputs("\nSystem halted.\n");
  uart_flush();
  halt_forever();
}
