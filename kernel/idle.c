// idle.c -- the one place the kernel waits.
//
// Every loop that waits for something -- the shell for a key, PING for a
// reply, WGET for data -- calls idle(): it runs the network stack once
// (net=kernel; nothing in net=host) and, if that found nothing to do,
// halts until the next interrupt: a key on COM1 (IRQ4), a frame from the
// NIC (its INTx line), or the 100 Hz tick, which also drives the TCP and
// ARP timers. So an idle DOS64 costs QEMU almost nothing and still answers
// a frame as soon as its interrupt arrives.
//
// The check before halting runs with interrupts off and "sti; hlt" is
// atomic (x86.h), so an interrupt that lands after the check wakes the hlt
// instead of being slept through.
#include "defs.h"
#include "x86.h"

void idle(void)
{
  if (net_poll())
    return;                 // did some work: look again before sleeping
  cli();
  if (uart_pending() || net_pending())
    sti();
  else
    sti_hlt();
}

#define SLOW_TICK_US 60000  // a slow tick is 54.9 ms: go slow only if nothing is due sooner

// As idle(), for a caller that only waits for input (the shell): if the
// stack has nothing due within a slow tick, halt with the PIT slowed down
// (pit.c); any interrupt -- a key, a frame, the slow tick -- ends the
// hlt, and the normal tick is back before anything else runs.
void idle_deep(void)
{
  if (net_poll())
    return;
  cli();
  if (uart_pending() || net_pending()) {
    sti();
    return;
  }
  uint64_t deadline = net_deadline();
  int slow = deadline == ~0UL || deadline > clock_us() + SLOW_TICK_US;
  if (slow)
    pit_slow(1);
  sti_hlt();
  if (slow) {
    cli();
    pit_slow(0);
    sti();
  }
}
