// net/ping.c -- the PING shell command, in iputils' words:
//
//   PING 10.0.2.2 (10.0.2.2) 56(84) bytes of data.
//   64 bytes from 10.0.2.2: icmp_seq=1 ttl=255 time=0.312 ms
//   ...
//   --- 10.0.2.2 ping statistics ---
//   4 packets transmitted, 4 received, 0% packet loss, time 3003ms
//   rtt min/avg/max/mdev = 0.211/0.300/0.412/0.071 ms
//
// One echo request a second on a ping socket (icmp.c), replies printed as
// they come; after the last request it waits up to LINGER for stragglers.
// The Python twin: dos64lab/apps/ping.py.
#include "net.h"

#define DATA_LEN 56
#define INTERVAL (1 * SEC)
#define LINGER   (1 * SEC)
#define MAX_COUNT 1000

// iputils' precision: 3 decimals under 1 ms, 2 under 10, 1 under 100.
static void print_ms(uint64_t us)
{
  if (us < 1000)
    kprintf("%lu.%03lu", us / 1000, us % 1000);
  else if (us < 10000)
    kprintf("%lu.%02lu", us / 1000, us % 1000 / 10);
  else if (us < 100000)
    kprintf("%lu.%01lu", us / 1000, us % 1000 / 100);
  else
    kprintf("%lu", us / 1000);
}

static void print_ms3(uint64_t us)
{
  kprintf("%lu.%03lu", us / 1000, us % 1000);
}

static uint64_t isqrt(uint64_t v)
{
  uint64_t r = 0;
  for (uint64_t bit = 1UL << 62; bit; bit >>= 2) {
    if (v >= r + bit) {
      v -= r + bit;
      r = (r >> 1) + bit;
    } else {
      r >>= 1;
    }
  }
  return r;
}

void cmd_ping(const char *args)
{
  char host[32];
  int n = 0;
  while (*args == ' ')
    args++;
  while (*args && *args != ' ' && n < 31)
    host[n++] = *args++;
  host[n] = 0;
  long count = 4;
  while (*args == ' ')
    args++;
  if (*args) {
    count = 0;
    for (; *args >= '0' && *args <= '9' && count <= MAX_COUNT; args++)
      count = count * 10 + (*args - '0');
    if (*args || count < 1 || count > MAX_COUNT) {
      kprintf("PING: count must be 1..%d\n", MAX_COUNT);
      return;
    }
  }
  ip4_t dst;
  if (!host[0] || !ip4_parse(host, &dst)) {
    kputs("usage: PING a.b.c.d [count]   (an IPv4 address: DOS64 has no resolver)\n");
    return;
  }
  int s = ping_open();
  if (s < 0) {
    kputs("PING: no free ping socket\n");
    return;
  }
  kprintf("PING %s (%s) %d(%d) bytes of data.\n", host, host, DATA_LEN, DATA_LEN + ICMP_HLEN + IP_HLEN);
  uint64_t start = clock_us(), last_send = start;
  long sent = 0, received = 0, errors = 0;
  uint64_t min = ~0UL, max = 0, sum = 0, sum2 = 0;
  for (;;) {
    uint64_t now = clock_us();
    if (sent < count && now >= start + (uint64_t)sent * INTERVAL) {
      sent++;
      last_send = now;
      ping_send(s, now, dst, (uint16_t)sent, DATA_LEN);
    }
    struct echo_result r;
    while (ping_recv(s, &r)) {
      if (r.type == 0) {
        received++;
        kprintf("%d bytes from %s: icmp_seq=%u ttl=%u", r.size, ip4_str(r.from), r.seq, r.ttl);
        if (r.rtt_us != ~0UL) {
          kputs(" time=");
          print_ms(r.rtt_us);
          kputs(" ms");
          min = r.rtt_us < min ? r.rtt_us : min;
          max = r.rtt_us > max ? r.rtt_us : max;
          sum += r.rtt_us;
          sum2 += r.rtt_us * r.rtt_us;
        }
        kputs("\n");
      } else {
        errors++;
        kprintf("From %s icmp_seq=%u %s\n", ip4_str(r.from), r.seq,
                r.type == ICMP_TIME_EXCEEDED ? "Time to live exceeded"
                : r.code == 0 ? "Destination Net Unreachable"
                : r.code == 1 ? "Destination Host Unreachable"
                : r.code == 3 ? "Destination Port Unreachable" : "Destination Unreachable");
      }
    }
    if (sent == count && (received + errors >= count || now >= last_send + LINGER))
      break;
    idle();
  }
  ping_close(s);
  uint64_t elapsed = (last_send - start) / 1000;
  kprintf("\n--- %s ping statistics ---\n", host);
  kprintf("%ld packets transmitted, %ld received, ", sent, received);
  if (errors)
    kprintf("+%ld errors, ", errors);
  kprintf("%ld%% packet loss, time %lums\n", (sent - received) * 100 / sent, elapsed);
  if (received) {
    uint64_t avg = sum / received;
    uint64_t var = sum2 / received - avg * avg;
    kputs("rtt min/avg/max/mdev = ");
    print_ms3(min);
    kputs("/");
    print_ms3(avg);
    kputs("/");
    print_ms3(max);
    kputs("/");
    print_ms3(isqrt(var));
    kputs(" ms\n");
  }
}
