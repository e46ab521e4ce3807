// clock.c -- microseconds since boot, from the CPU's time-stamp counter.
//
// The PIT tick (pit.c, 10 ms) is too coarse to time a ping or a TCP round
// trip, so the clock reads the TSC and converts it with a rate measured at
// boot against the PIT itself: channel 0's count is latched and read
// (Intel 82C54 datasheet, "Counter Latch Command") in a tight loop until
// CAL_COUNTS PIT periods (about 2 ms) have gone by, and the TSC delta over
// the same span gives cycles per millisecond. Under KVM the TSC is the
// CPU's; under TCG QEMU derives it from the host's, which is also what
// drives its PIT, so the two agree either way.
// Needs pit_init (channel 0 in mode 2) and interrupts off.
#include "defs.h"
#include "x86.h"

#define PIT_CH0    0x40
#define PIT_CMD    0x43
#define PIT_LATCH0 0x00           // counter latch command, channel 0
#define CAL_COUNTS 2400           // PIT periods to measure: ~2.01 ms

static uint64_t tsc_boot;
static uint64_t tsc_per_ms;       // TSC cycles per millisecond

static uint16_t pit_count(void)
{
  outb(PIT_CMD, PIT_LATCH0);
  uint8_t lo = inb(PIT_CH0);
  uint8_t hi = inb(PIT_CH0);
  return (uint16_t)(lo | hi << 8);
}

void clock_init(void)
{
  uint16_t last = pit_count();
  uint64_t t0 = rdtsc();
  uint64_t elapsed = 0;
  while (elapsed < CAL_COUNTS) {
    uint16_t c = pit_count();
    // Mode 2 counts down from the divisor to 1, then reloads.
    elapsed += last >= c ? (uint64_t)(last - c) : (uint64_t)last + PIT_DIVISOR - c;
    last = c;
  }
  uint64_t cycles = rdtsc() - t0;
  tsc_per_ms = cycles * PIT_FREQ / (elapsed * 1000);
  if (tsc_per_ms == 0)
    panic("clock: the TSC does not advance (%lu cycles in %lu PIT periods)", cycles, elapsed);
  tsc_boot = t0;
}

// Microseconds since clock_init, without overflow for centuries.
uint64_t clock_us(void)
{
  uint64_t d = rdtsc() - tsc_boot;
  return d / tsc_per_ms * 1000 + d % tsc_per_ms * 1000 / tsc_per_ms;
}

uint64_t clock_tsc_khz(void)
{
  return tsc_per_ms;
}
