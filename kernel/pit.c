// pit.c -- the 8254 programmable interval timer, channel 0, at HZ (100).
//
// The PIT counts down from a divisor at 1.193182 MHz and raises IRQ0 each
// time it wraps: divisor 11932 gives 100.0 Hz (+0.002%). The tick wakes
// the idle hlt, so loops that watch the clock (PING, WGET) look at it
// often enough. When nothing needs waking before long -- the shell waiting
// for a key -- idle_deep slows it to the slowest rate the 16-bit divisor
// allows (65536: 18.2 Hz) for the length of one hlt, so an idle DOS64
// costs QEMU a fifth of the wake-ups. Time itself comes from the TSC
// (clock.c), so the tick rate changes nothing but how often we wake.
// Reference: Intel 82C54 datasheet, "Control Word Format" (mode 2, rate
// generator; access lobyte/hibyte).
#include "defs.h"
#include "x86.h"

#define PIT_CH0   0x40
#define PIT_CMD   0x43
#define PIT_CH0_LOHI_MODE2 0x34   // channel 0, lobyte/hibyte, mode 2, binary

static volatile uint64_t ticks;

static int slow;

static void program(uint16_t divisor)   // 0 means 65536
{
  outb(PIT_CMD, PIT_CH0_LOHI_MODE2);
  outb(PIT_CH0, divisor & 0xFF);
  outb(PIT_CH0, divisor >> 8);
}

void pit_init(void)
{
  program(PIT_DIVISOR);
}

// 1: the slow rate (18.2 Hz) for a deep idle; 0: back to HZ.
void pit_slow(int on)
{
  if (on == slow)
    return;
  slow = on;
  program(on ? 0 : PIT_DIVISOR);
}

void pit_intr(void)
{
  ticks++;
}

// Ticks of HZ since boot, from the TSC clock (the real ticks come slower in a deep idle).
uint64_t pit_ticks(void)
{
  return clock_us() / (1000000 / HZ);
}

uint64_t pit_interrupts(void)
{
  return ticks;     // a single aligned 64-bit load: atomic on x86-64
}
