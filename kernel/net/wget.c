// net/wget.c -- the WGET shell command: an HTTP/1.1 GET over the kernel's
// own TCP, the body counted and run through CRC-32 (DOS64 has no disk to
// save it on), so the host can compare with zlib.crc32 of what it served:
//
//   WGET http://10.0.2.2:8000/blob
//   Connecting to 10.0.2.2:8000... connected.
//   HTTP request sent, awaiting response... 200 OK
//   Length: 1048576
//   Received 1048576 bytes in 0.412 s (2545 KB/s), CRC-32 0x4e3f2a11
//
// Only addresses (no resolver), http only; the body is framed by
// Content-Length or by the server closing (chunked coding is refused).
// A connection silent for IDLE_TIMEOUT is aborted. The Python twin:
// dos64lab/apps/wget.py.
#include "net.h"

#define CONNECT_TIMEOUT (5 * SEC)
#define IDLE_TIMEOUT    (10 * SEC)
#define HEAD_MAX 4096

static char head[HEAD_MAX + 1];
static uint8_t chunk[8192];

// "http://a.b.c.d[:port][/path]" -> address, port, path. 0 if it is not one.
static int parse_url(const char *u, ip4_t *ip, uint16_t *port, const char **path)
{
  if (strncasecmp(u, "http://", 7) == 0)
    u += 7;
  char host[16];
  int n = 0;
  while (*u && *u != ':' && *u != '/' && n < 15)
    host[n++] = *u++;
  host[n] = 0;
  if (!ip4_parse(host, ip))
    return 0;
  *port = 80;
  if (*u == ':') {
    unsigned p = 0;
    for (u++; *u >= '0' && *u <= '9' && p <= 65535; u++)
      p = p * 10 + (unsigned)(*u - '0');
    if (p == 0 || p > 65535)
      return 0;
    *port = (uint16_t)p;
  }
  if (*u && *u != '/')
    return 0;
  *path = *u ? u : "/";
  return 1;
}

// Wait in idle() until cond(s) holds, the connection fails, or the time is up.
static int wait_for(int s, int (*cond)(int), uint64_t timeout)
{
  uint64_t start = clock_us();
  while (!cond(s)) {
    if (tcp_error_of(s) || clock_us() - start > timeout)
      return 0;
    idle();
  }
  return 1;
}

static int has_data_or_eof(int s) { return tcp_readable(s) || tcp_eof(s); }

static const char *header(const char *name)   // a header's value in head[], or 0
{
  int n = (int)strlen(name);
  for (const char *l = strchr(head, '\n'); l; l = strchr(l, '\n')) {
    l++;
    if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
      const char *v = l + n + 1;
      while (*v == ' ' || *v == '\t')
        v++;
      return v;
    }
  }
  return 0;
}

void cmd_wget(const char *args)
{
  if (!net_command_ok("WGET"))
    return;
  while (*args == ' ')
    args++;
  ip4_t ip;
  uint16_t port;
  const char *path;
  if (!*args || !parse_url(args, &ip, &port, &path)) {
    kputs("usage: WGET http://a.b.c.d[:port]/path   (an IPv4 address: DOS64 has no resolver)\n");
    return;
  }
  kprintf("Connecting to %s:%u... ", ip4_str(ip), port);
  uint64_t t0 = clock_us();
  int s = tcp_connect(t0, ip, port);
  if (s < 0) {
    kputs("failed: no free TCP connection.\n");
    return;
  }
  if (!wait_for(s, tcp_established, CONNECT_TIMEOUT)) {
    int e = tcp_error_of(s);
    kprintf("failed: %s.\n", e == 1 ? "Connection refused" : e ? "Connection reset" : "Connection timed out");
    tcp_abort(s, clock_us());
    return;
  }
  kputs("connected.\n");
  char req[512];
  int n = ksnprintf(req, sizeof req,
                    "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUser-Agent: DOS64-WGET/" DOS64_VERSION
                    "\r\nAccept: */*\r\nConnection: close\r\n\r\n", path, ip4_str(ip), port);
  if (n >= (int)sizeof req || tcp_send(s, req, n) != n) {
    kputs("WGET: the path is too long\n");
    tcp_abort(s, clock_us());
    return;
  }
  kputs("HTTP request sent, awaiting response... ");

  // The head, up to the blank line; what follows it is the body's start.
  int hlen = 0, body_start = 0, got;
  while (!body_start) {
    if (!wait_for(s, has_data_or_eof, IDLE_TIMEOUT) || (tcp_eof(s) && !tcp_readable(s))) {
      kputs("no answer.\n");
      tcp_abort(s, clock_us());
      return;
    }
    got = tcp_recv(s, head + hlen, HEAD_MAX - hlen);
    hlen += got;
    head[hlen] = 0;
    for (int i = 3; i < hlen && !body_start; i++)
      if (head[i] == '\n' && head[i - 1] == '\r' && head[i - 2] == '\n')
        body_start = i + 1;
    if (!body_start && hlen == HEAD_MAX) {
      kputs("the response head is too long.\n");
      tcp_abort(s, clock_us());
      return;
    }
  }
  uint32_t crc = 0;
  uint64_t total = (uint64_t)(hlen - body_start);
  crc = crc32_update(crc, head + body_start, hlen - body_start);
  head[body_start] = 0;
  char *eol = strchr(head, '\r');
  if (strncmp(head, "HTTP/1.", 7) != 0 || !eol) {
    kputs("not HTTP.\n");
    tcp_abort(s, clock_us());
    return;
  }
  *eol = 0;
  kprintf("%s\n", head + 9 < eol ? head + 9 : head);
  *eol = '\r';
  const char *te = header("Transfer-Encoding");
  if (te && strncasecmp(te, "identity", 8) != 0) {
    kputs("WGET: chunked transfer coding is not supported\n");
    tcp_abort(s, clock_us());
    return;
  }
  const char *cl = header("Content-Length");
  int64_t length = -1;
  if (cl) {
    length = 0;
    for (; *cl >= '0' && *cl <= '9'; cl++)
      length = length * 10 + (*cl - '0');
    kprintf("Length: %ld\n", length);
  } else {
    kputs("Length: unspecified (until the server closes)\n");
  }

  uint64_t start = clock_us(), last = start;
  while (length < 0 || (int64_t)total < length) {
    got = tcp_recv(s, chunk, sizeof chunk);
    if (got > 0) {
      if (length >= 0 && (int64_t)total + got > length)
        got = (int)(length - (int64_t)total);   // nothing past the body counts
      crc = crc32_update(crc, chunk, got);
      total += (uint64_t)got;
      last = clock_us();
      continue;
    }
    if (tcp_eof(s) || tcp_error_of(s) || clock_us() - last > IDLE_TIMEOUT)
      break;
    idle();
  }
  uint64_t us = clock_us() - start;
  if (us == 0)
    us = 1;
  tcp_close(s);
  if (length >= 0 && (int64_t)total < length)
    kprintf("WGET: the connection ended after %lu of %ld bytes\n", total, length);
  kprintf("Received %lu bytes in %lu.%03lu s (%lu KB/s), CRC-32 0x%08x\n", total,
          us / SEC, us % SEC / 1000, total * 1000000 / us / 1024, crc);
}
