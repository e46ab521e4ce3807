// net/telnet.c -- the DOS64 console on TCP port 23, one session at a time
// (RFC 854 telnet; RFC 857 ECHO, RFC 858 SUPPRESS-GO-AHEAD). The twin of
// dos64lab/services/telnet.py, with the same words:
//
// * the session and COM1 share one shell: what the client types is input
//   (console.c reads from both), everything the kernel prints goes to both;
// * we offer WILL ECHO and WILL SGA (the shell echoes, a character at a
//   time) and refuse every other option, answering each at most once per
//   option, so no negotiation can loop;
// * the command parser is a small state machine over IAC sequences; a
//   subnegotiation longer than SB_MAX is dropped, so no input can wedge it;
// * a second client is told who has the console and closed;
// * EXIT and PANIC would stop DOS64 for everyone: the shell refuses them
//   when the line came from here (console_from_telnet).
// Input is taken from TCP only as fast as the shell reads it, so a flood
// waits in the TCP window instead of being dropped. Output is buffered
// (OUT_MAX) and flushed to TCP every poll round; what does not fit while
// the client is not reading is dropped and counted. When the client
// leaves, the shell's line is rubbed out (^U), so COM1 gets a clean prompt.
#include "net.h"

#define TELNET_PORT 23
#define IN_MAX  1024                  // typed bytes the shell has not read yet
#define OUT_MAX 16384
#define SB_MAX  64
#define KILL_LINE 0x15                // ^U: the shell rubs out its line

enum { SE = 240, SB = 250, WILL = 251, WONT, DO, DONT, IAC };
enum { OPT_ECHO = 1, OPT_SGA = 3 };
enum { DATA, CMD, OPTION, SUB, SUB_IAC };

static int listener = -1;
static int sock = -1;                 // the session's connection, or -1
static char peer[24];
static uint8_t in[IN_MAX];
static uint32_t in_head, in_len;
static uint8_t out[OUT_MAX];
static uint32_t out_len;
static int parse_state, cmd, sb_len;
static uint8_t answered_do[32], answered_will[32];    // one answer per option
static uint64_t sessions, refused, out_dropped;

void telnet_start(void)
{
  if (listener < 0)
    listener = tcp_listen(TELNET_PORT, 2);
}

static void put_raw(const uint8_t *b, uint32_t n)
{
  if (out_len + n > OUT_MAX) {
    out_dropped += n;
    return;
  }
  memcpy(out + out_len, b, n);
  out_len += n;
}

// Console output (console.c): NVT end of line is CR LF; 0xFF is doubled.
void telnet_putc(char c)
{
  if (sock < 0)
    return;
  if (c == '\n') {
    put_raw((const uint8_t *)"\r\n", 2);
  } else if ((uint8_t)c == IAC) {
    static const uint8_t iac2[2] = { IAC, IAC };
    put_raw(iac2, 2);
  } else {
    put_raw((const uint8_t *)&c, 1);
  }
  net_wake();                         // flushed at the next poll
}

int telnet_getc(void)
{
  if (!in_len)
    return -1;
  if (in_len == 1)
    net_wake();                       // the shell caught up: take more from TCP
  uint8_t c = in[in_head];
  in_head = (in_head + 1) % IN_MAX;
  in_len--;
  return c;
}

static void say(const char *s)        // to the session only
{
  for (; *s; s++)
    telnet_putc(*s);
}

static void answer(uint8_t verb, uint8_t opt)
{
  uint8_t *seen = verb == WONT ? answered_do : answered_will;
  if (seen[opt / 8] & (1 << (opt % 8)))
    return;
  seen[opt / 8] |= (uint8_t)(1 << (opt % 8));
  uint8_t msg[3] = { IAC, verb, opt };
  put_raw(msg, 3);
}

// One byte from the client through the NVT: data to the shell, commands answered.
static void feed(uint8_t b)
{
  switch (parse_state) {
  case DATA:
    if (b == IAC) {
      parse_state = CMD;
    } else if (in_len < IN_MAX) {
      in[(in_head + in_len++) % IN_MAX] = b;
    }
    return;
  case CMD:
    if (b == IAC) {                   // an escaped 0xFF: data the shell ignores
      parse_state = DATA;
    } else if (b >= WILL && b <= DONT) {
      cmd = b;
      parse_state = OPTION;
    } else if (b == SB) {
      sb_len = 0;
      parse_state = SUB;
    } else {
      parse_state = DATA;             // NOP, GA, AYT, ...: nothing to do
    }
    return;
  case OPTION:
    parse_state = DATA;
    if (cmd == DO && b != OPT_ECHO && b != OPT_SGA)
      answer(WONT, b);                // we will not
    else if (cmd == WILL)
      answer(DONT, b);                // nor do we want the client to
    return;
  case SUB:                           // skip subnegotiations, bounded
    if (b == IAC)
      parse_state = SUB_IAC;
    else if (++sb_len > SB_MAX)
      parse_state = DATA;
    return;
  case SUB_IAC:
    parse_state = b == SE ? DATA : SUB;
    return;
  }
}

// The client left: unread input goes, and a kill-line (^U) leaves the
// shell on an empty line for COM1 (and the next session).
static void end_session(void)
{
  tcp_close(sock);
  sock = -1;
  out_len = 0;
  in_head = 0;
  in[0] = KILL_LINE;
  in_len = 1;
}

static void begin_session(int s)
{
  sock = s;
  tcp_peer(s, peer, sizeof peer);
  sessions++;
  in_head = in_len = out_len = 0;
  parse_state = DATA;
  memset(answered_do, 0, sizeof answered_do);
  memset(answered_will, 0, sizeof answered_will);
  static const uint8_t offer[] = { IAC, WILL, OPT_ECHO, IAC, WILL, OPT_SGA };
  put_raw(offer, sizeof offer);
  say("DOS64 " DOS64_VERSION " console over telnet. One session at a time; "
      "EXIT and PANIC not available here.\n");
  say("C:\\>");
}

uint64_t telnet_poll_at(uint64_t now)
{
  if (out_len || (listener >= 0 && tcp_acceptable(listener)))
    return now;
  if (sock >= 0 && IN_MAX - in_len >= 256 && tcp_readable(sock))
    return now;
  return NEVER;
}

int telnet_poll(uint64_t now)
{
  (void)now;
  int did = 0;
  if (listener >= 0) {
    int s;
    while ((s = tcp_accept(listener)) >= 0) {
      did = 1;
      if (sock < 0) {
        begin_session(s);
        continue;
      }
      char msg[96];
      int n = ksnprintf(msg, sizeof msg, "The DOS64 console is in use by %s; try again later.\r\n", peer);
      tcp_send(s, msg, n);
      tcp_close(s);
      refused++;
    }
  }
  if (sock < 0)
    return did;
  // Only what the input ring can hold: the rest waits in TCP, whose window
  // then tells the client to slow down (no byte is dropped here).
  uint8_t buf[256];
  int n;
  while (IN_MAX - in_len >= sizeof buf && (n = tcp_recv(sock, buf, sizeof buf)) > 0) {
    for (int i = 0; i < n; i++)
      feed(buf[i]);
    did = 1;
  }
  if (out_len) {
    int sent = tcp_send(sock, out, (int)out_len);
    if (sent > 0) {
      memmove(out, out + sent, out_len - sent);
      out_len -= sent;
      did = 1;
    }
  }
  if (tcp_error_of(sock) || tcp_eof(sock)) {
    end_session();
    did = 1;
  }
  return did;
}

int telnet_session_peer(char *buf, int cap)
{
  if (sock < 0)
    return 0;
  ksnprintf(buf, cap, "%s", peer);
  return 1;
}
