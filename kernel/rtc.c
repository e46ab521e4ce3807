// rtc.c -- the wall clock: the MC146818 CMOS real-time clock (ports 0x70,
// 0x71), read once at boot; after that unix_time_us() adds clock_us().
// QEMU's RTC runs in UTC by default. Registers 0x00-0x09 hold seconds,
// minutes, hours, weekday, day, month, year; register B says whether they
// are BCD (bit 2 clear) and 12-hour (bit 1 clear); register A bit 7 is
// "update in progress": read twice until two reads agree (the datasheet's
// advice). The HTTP server's Date header and /api/status's "time" use it.
#include "defs.h"
#include "x86.h"

#define CMOS_ADDR 0x70
#define CMOS_DATA 0x71

static uint64_t boot_unix_us;

static uint8_t cmos(uint8_t reg)
{
  outb(CMOS_ADDR, reg);               // bit 7 clear: NMI stays enabled
  return inb(CMOS_DATA);
}

static void read_all(uint8_t r[7])
{
  while (cmos(0x0A) & 0x80)           // update in progress
    ;
  static const uint8_t regs[7] = { 0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32 };
  for (int i = 0; i < 7; i++)
    r[i] = cmos(regs[i]);             // sec, min, hour, day, month, year, century
}

static int bcd(uint8_t v) { return (v & 0x0F) + (v >> 4) * 10; }

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
static int64_t days_from_civil(int64_t y, int m, int d)
{
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civil_from_unix(uint64_t secs, struct civil *c)
{
  int64_t z = (int64_t)(secs / 86400) + 719468;
  uint64_t rem = secs % 86400;
  c->hour = (int)(rem / 3600);
  c->minute = (int)(rem % 3600 / 60);
  c->second = (int)(rem % 60);
  c->weekday = (int)(((int64_t)(secs / 86400) + 4) % 7);   // 1970-01-01 was a Thursday
  int64_t era = z / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  c->day = (int)(doy - (153 * mp + 2) / 5 + 1);
  c->month = (int)(mp < 10 ? mp + 3 : mp - 9);
  c->year = (int)(yoe + era * 400 + (c->month <= 2));
}

void rtc_init(void)
{
  uint8_t a[7], b[7];
  do {
    read_all(a);
    read_all(b);
  } while (memcmp(a, b, 7) != 0);
  uint8_t regb = cmos(0x0B);
  int is_bcd = !(regb & 0x04);
  int sec = is_bcd ? bcd(a[0]) : a[0];
  int min = is_bcd ? bcd(a[1]) : a[1];
  int pm = a[2] & 0x80;
  int hour = is_bcd ? bcd(a[2] & 0x7F) : a[2] & 0x7F;
  if (!(regb & 0x02) && pm)           // 12-hour clock
    hour = hour % 12 + 12;
  else if (!(regb & 0x02))
    hour %= 12;
  int day = is_bcd ? bcd(a[3]) : a[3];
  int month = is_bcd ? bcd(a[4]) : a[4];
  int year = is_bcd ? bcd(a[5]) : a[5];
  int century = is_bcd ? bcd(a[6]) : a[6];
  year += century >= 19 && century <= 21 ? century * 100 : 2000;
  int64_t days = days_from_civil(year, month, day);
  boot_unix_us = ((uint64_t)days * 86400 + hour * 3600 + min * 60 + sec) * 1000000UL;
}

uint64_t unix_time_us(void)
{
  return boot_unix_us + clock_us();
}
