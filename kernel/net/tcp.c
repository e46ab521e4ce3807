// net/tcp.c -- TCP's socket calls and its table of connections (RFC 9293
// 3.10.1-3.10.5: OPEN, SEND, RECEIVE, CLOSE, ABORT), the listeners with
// their backlog, and the NETSTAT view. Segments arrive in tcp_in.c and
// leave from tcp_out.c; the Python twin is dos64lab/socket/tcp/socket.py.
//
// A connection is a slot in tcbs[], named by its index (the "socket").
// A listener makes connections on its own (SYN-RECEIVED, then ESTABLISHED)
// and keeps at most `backlog` of them unaccepted; tcp_accept hands out the
// oldest established one. A connection nobody holds is freed as soon as
// it reaches CLOSED; one an application holds, once it is also closed.
// When every slot is taken, a new connection may take the oldest one in
// TIME-WAIT (its 2 MSL cut short -- the one liberty taken here, as busy
// servers do), else the SYN is dropped and the peer retries.
// Send and receive buffers are TCP_BUF-byte rings from kalloc.
#include "tcp.h"

struct tcb tcbs[TCP_SOCKETS];
struct tcp_listener tcp_listeners[TCP_LISTENERS];
static uint64_t next_order;

const char *const tcp_state_names[] = {
  "CLOSED", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2",
  "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT",
};

static uint8_t *buffers;              // 2 * TCP_BUF per slot

void tcp_init(void)
{
  buffers = kalloc_uninit((size_t)TCP_SOCKETS * 2 * TCP_BUF, 4096);
}

struct tcb *tcb_alloc(void)
{
  struct tcb *t = 0, *oldest_tw = 0;
  for (int i = 0; i < TCP_SOCKETS && !t; i++) {
    if (!tcbs[i].used)
      t = &tcbs[i];
    else if (tcbs[i].state == TIME_WAIT && (!oldest_tw || tcbs[i].timewait_at < oldest_tw->timewait_at))
      oldest_tw = &tcbs[i];
  }
  if (!t)
    t = oldest_tw;                    // recycle the TIME-WAIT closest to its end
  if (!t)
    return 0;
  int i = t - tcbs;
  memset(t, 0, sizeof *t);
  t->used = 1;
  t->listener = -1;
  t->order = next_order++;
  t->tx = buffers + (size_t)i * 2 * TCP_BUF;
  t->rx = t->tx + TCP_BUF;
  t->mss = TCP_DEFAULT_MSS;
  t->rto = INITIAL_RTO;
  t->cwnd = 10 * TCP_OUR_MSS;         // RFC 6928's initial window
  t->ssthresh = 0xFFFFFFFF;
  return t;
}

void tcb_closed(struct tcb *t)
{
  t->state = CLOSED;
  t->rto_at = t->timewait_at = 0;
  if (!t->owned || t->user_closed)
    t->used = 0;
}

// RFC 6528's spirit: a clock (4 us ticks, RFC 793) plus a per-connection
// value nobody outside can guess.
tcp_seq tcp_iss(uint64_t now, ip4_t raddr, uint16_t lport, uint16_t rport)
{
  uint32_t h = rdtsc_low() ^ raddr ^ ((uint32_t)lport << 16 | rport);
  h *= 2654435761u;                   // Knuth's multiplicative hash
  return (tcp_seq)(now / 4) + (h ^ h >> 16);
}

uint32_t tcp_rcv_window(const struct tcb *t)
{
  uint32_t room = TCP_BUF - t->rx_len;
  return room > TCP_MAX_WND ? TCP_MAX_WND : room;
}

int tcp_backlog_used(int listener)
{
  int n = 0;
  for (int i = 0; i < TCP_SOCKETS; i++)
    if (tcbs[i].used && !tcbs[i].owned && tcbs[i].listener == listener && tcbs[i].state != CLOSED)
      n++;
  return n;
}

static struct tcb *get(int s)
{
  if (s < 0 || s >= TCP_SOCKETS || !tcbs[s].used)
    panic("tcp: socket %d is not open", s);
  return &tcbs[s];
}

// -- the calls ----------------------------------------------------------------------
int tcp_listen(uint16_t port, int backlog)
{
  for (int i = 0; i < TCP_LISTENERS; i++)
    if (tcp_listeners[i].used && tcp_listeners[i].port == port)
      return -1;
  for (int i = 0; i < TCP_LISTENERS; i++) {
    if (!tcp_listeners[i].used) {
      tcp_listeners[i].used = 1;
      tcp_listeners[i].port = port;
      tcp_listeners[i].backlog = backlog;
      return i;
    }
  }
  return -1;
}

// Stop listening; connections not accepted yet are reset.
void tcp_unlisten(int l, uint64_t now)
{
  tcp_listeners[l].used = 0;
  for (int i = 0; i < TCP_SOCKETS; i++) {
    struct tcb *t = &tcbs[i];
    if (t->used && !t->owned && t->listener == l) {
      t->owned = 1;
      tcp_abort(i, now);
    }
  }
}

int tcp_acceptable(int l)
{
  for (int i = 0; i < TCP_SOCKETS; i++) {
    struct tcb *t = &tcbs[i];
    if (t->used && !t->owned && t->listener == l && t->state != SYN_RECEIVED && t->state != CLOSED)
      return 1;
  }
  return 0;
}

// The oldest established connection of listener l nobody took yet, or -1.
int tcp_accept(int l)
{
  struct tcb *best = 0;
  for (int i = 0; i < TCP_SOCKETS; i++) {
    struct tcb *t = &tcbs[i];
    if (t->used && !t->owned && t->listener == l && t->state != SYN_RECEIVED && t->state != CLOSED
        && (!best || t->order < best->order))
      best = t;
  }
  if (!best)
    return -1;
  best->owned = 1;
  STAT(tcp_accepted);
  return best - tcbs;
}

// OPEN, active: a SYN to dst:port from an ephemeral port. -1 if no slot.
int tcp_connect(uint64_t now, ip4_t dst, uint16_t port)
{
  struct tcb *t = tcb_alloc();
  if (!t)
    return -1;
  uint16_t lport;
  for (;;) {                          // RFC 6056: a random ephemeral port, unused
    lport = (uint16_t)(49152 + rdtsc_low() % 16384);
    int taken = 0;
    for (int i = 0; i < TCP_SOCKETS; i++)
      if (&tcbs[i] != t && tcbs[i].used && tcbs[i].lport == lport)
        taken = 1;
    if (!taken)
      break;
  }
  t->owned = 1;
  t->raddr = dst;
  t->lport = lport;
  t->rport = port;
  t->iss = tcp_iss(now, dst, lport, port);
  t->snd_una = t->snd_nxt = t->snd_max = t->iss;   // the SYN goes at the next output
  t->state = SYN_SENT;                // tcp_output sends the SYN (snd_nxt == iss)
  net_wake();
  return t - tcbs;
}

// RECEIVE: up to n bytes that arrived in order; 0 if none yet.
int tcp_recv(int s, void *buf, int n)
{
  struct tcb *t = get(s);
  uint32_t want = n < 0 ? 0 : (uint32_t)n;
  if (want > t->rx_len)
    want = t->rx_len;
  uint32_t first = TCP_BUF - t->rx_head < want ? TCP_BUF - t->rx_head : want;
  memcpy(buf, t->rx + t->rx_head, first);
  memcpy((uint8_t *)buf + first, t->rx, want - first);
  t->rx_head = (t->rx_head + want) % TCP_BUF;
  t->rx_len -= want;
  // a window update once the peer may send a good deal more (RFC 9293 3.8.6.2.2)
  if (want && tcp_rcv_window(t) - t->announced >= 2 * TCP_OUR_MSS && t->announced < TCP_BUF / 2) {
    t->ack_now = 1;
    net_wake();
  }
  return (int)want;
}

int tcp_send_room(int s)
{
  return TCP_BUF - get(s)->tx_len;
}

// SEND: queue what fits; returns how many bytes (0 once closing).
int tcp_send(int s, const void *buf, int n)
{
  struct tcb *t = get(s);
  if (t->fin_queued || n <= 0 || (t->state != ESTABLISHED && t->state != CLOSE_WAIT
                                  && t->state != SYN_SENT && t->state != SYN_RECEIVED))
    return 0;
  uint32_t room = TCP_BUF - t->tx_len;
  uint32_t k = (uint32_t)n < room ? (uint32_t)n : room;
  uint32_t tail = (t->tx_head + t->tx_len) % TCP_BUF;
  uint32_t first = TCP_BUF - tail < k ? TCP_BUF - tail : k;
  memcpy(t->tx + tail, buf, first);
  memcpy(t->tx, (const uint8_t *)buf + first, k - first);
  t->tx_len += k;
  net_wake();
  return (int)k;
}

// The peer sent its FIN and everything before it has been read.
int tcp_eof(int s)
{
  struct tcb *t = get(s);
  return (t->fin_received || t->state == CLOSED) && t->rx_len == 0;
}

int tcp_readable(int s)
{
  return (int)get(s)->rx_len;
}

int tcp_error_of(int s)
{
  return get(s)->error;
}

const char *tcp_state_of(int s)
{
  return tcp_state_names[get(s)->state];
}

void tcp_peer(int s, char *buf, int cap)
{
  struct tcb *t = get(s);
  ksnprintf(buf, cap, "%s:%u", ip4_str(t->raddr), t->rport);
}

int tcp_established(int s)
{
  enum tcp_state st = get(s)->state;
  return st == ESTABLISHED || st == CLOSE_WAIT;
}

// CLOSE (RFC 9293 3.10.4): a FIN after the queued data; the slot is freed
// once the connection is CLOSED. The socket id must not be used again.
void tcp_close(int s)
{
  struct tcb *t = get(s);
  t->user_closed = 1;
  net_wake();
  switch (t->state) {
  case CLOSED:
    tcb_closed(t);
    break;
  case SYN_SENT:
    tcb_closed(t);
    break;
  case SYN_RECEIVED:
  case ESTABLISHED:
  case CLOSE_WAIT:
    t->fin_queued = 1;                // the state moves when the FIN leaves (tcp_out.c)
    break;
  default:
    break;                            // already closing
  }
}

// ABORT (RFC 9293 3.10.5): RST to the peer, everything dropped, slot freed.
void tcp_abort(int s, uint64_t now)
{
  struct tcb *t = get(s);
  if (t->state != CLOSED && t->state != SYN_SENT && t->state != TIME_WAIT)
    tcp_send_reset(now, t->raddr, t->lport, t->rport, t->snd_max, 0, 0);
  t->user_closed = 1;
  tcb_closed(t);
}

// -- NETSTAT -------------------------------------------------------------------------
void tcp_netstat(void)
{
  for (int i = 0; i < TCP_LISTENERS; i++)
    if (tcp_listeners[i].used)
      kprintf("tcp   0.0.0.0:%-13u *                     LISTEN (backlog %d/%d)\n",
              tcp_listeners[i].port, tcp_backlog_used(i), tcp_listeners[i].backlog);
  for (int i = 0; i < TCP_SOCKETS; i++) {
    struct tcb *t = &tcbs[i];
    if (!t->used)
      continue;
    char local[24], remote[24];
    ksnprintf(local, sizeof local, "%s:%u", ip4_str(iface.addr), t->lport);
    ksnprintf(remote, sizeof remote, "%s:%u", ip4_str(t->raddr), t->rport);
    kprintf("tcp   %-21s %-21s %s", local, remote, tcp_state_names[t->state]);
    if (t->tx_len || t->rx_len)
      kprintf(" (send-q %u, recv-q %u)", t->tx_len, t->rx_len);
    kputs("\n");
  }
}
