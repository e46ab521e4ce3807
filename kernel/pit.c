// pit.c -- the 8254 programmable interval timer, channel 0, at HZ (100).
//
// The PIT counts down from a divisor at 1.193182 MHz and raises IRQ0 each
// time it wraps: divisor 11932 gives 100.0 Hz (+0.002%). The tick count is
// the kernel's only clock (UPTIME) and also wakes the idle hlt.
// Reference: Intel 82C54 datasheet, "Control Word Format" (mode 2, rate
// generator; access lobyte/hibyte).
#include "defs.h"
#include "x86.h"

#define PIT_CH0   0x40
#define PIT_CMD   0x43
#define PIT_CH0_LOHI_MODE2 0x34   // channel 0, lobyte/hibyte, mode 2, binary

static volatile uint64_t ticks;

void pit_init(void)
{
  outb(PIT_CMD, PIT_CH0_LOHI_MODE2);
  outb(PIT_CH0, PIT_DIVISOR & 0xFF);
  outb(PIT_CH0, PIT_DIVISOR >> 8);
}

void pit_intr(void)
{
  ticks++;
}

uint64_t pit_ticks(void)
{
  return ticks;     // a single aligned 64-bit load: atomic on x86-64
}
