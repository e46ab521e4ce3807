// net/tcp.h -- TCP's transmission control blocks, shared by tcp.c (the
// socket calls), tcp_in.c (SEGMENT ARRIVES) and tcp_out.c (output and
// timers). RFC 9293 names throughout (3.3.1: SND.UNA, SND.NXT, RCV.NXT ...).
// The Python twin: dos64lab/socket/tcp/*.py.
#pragma once
#include "net.h"

// Sequence numbers compare and subtract modulo 2^32 (RFC 9293 3.4), never
// as plain integers.
typedef uint32_t tcp_seq;
static inline int seq_lt(tcp_seq a, tcp_seq b) { return (int32_t)(a - b) < 0; }
static inline int seq_le(tcp_seq a, tcp_seq b) { return (int32_t)(a - b) <= 0; }
static inline int seq_gt(tcp_seq a, tcp_seq b) { return (int32_t)(a - b) > 0; }
static inline int seq_ge(tcp_seq a, tcp_seq b) { return (int32_t)(a - b) >= 0; }

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

enum tcp_state {
  CLOSED, SYN_SENT, SYN_RECEIVED, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2,
  CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT,
};
extern const char *const tcp_state_names[];

enum tcp_error { TCP_OK, TCP_REFUSED, TCP_RESET, TCP_TIMEOUT, TCP_ABORTED };

#define TCP_BUF      (64 * 1024)      // per direction, per connection (a power of two)
#define TCP_MAX_WND  65535            // no window scaling: slirp offers none
#define TCP_OUR_MSS  (ETH_MTU - IP_HLEN - TCP_HLEN)
#define TCP_DEFAULT_MSS 536           // RFC 9293 3.7.1: without the option
#define INITIAL_RTO  (1 * SEC)        // RFC 6298 2.1
#define MIN_RTO      (200 * MSEC)     // as Linux and the Python twin (RFC 6298 says 1 s)
#define MAX_RTO      (60 * SEC)
#define MSL          (30 * SEC)       // TIME-WAIT lasts 2 MSL
#define FIN_WAIT_2_TIMEOUT (60 * SEC)
#define MAX_RETRIES  12               // RTO expiries in a row before giving up
#define SYN_RETRIES  6

struct tcb {
  int used;                           // the slot is taken
  enum tcp_state state;
  int owned;                          // an application holds it (connect or accept)
  int user_closed;                    // ... and let go: free it once CLOSED
  int listener;                       // the listener that made it (-1: none)
  uint64_t order;                     // accept() takes the oldest first
  ip4_t raddr;
  uint16_t lport, rport;
  // send side (RFC 9293 3.3.1); tx holds the bytes from SND.UNA on
  tcp_seq iss, snd_una, snd_nxt, snd_max, snd_wl1, snd_wl2;
  uint32_t snd_wnd;
  uint16_t mss;                       // segment size we send (the peer's MSS)
  uint8_t *tx;
  uint32_t tx_head, tx_len;
  int fin_queued, fin_sent;           // close(): a FIN after the data
  tcp_seq fin_seq;
  int probe;                          // persist timer fired: probe the zero window
  // receive side; rx holds bytes received in order, not yet read
  tcp_seq irs, rcv_nxt;
  uint8_t *rx;
  uint32_t rx_head, rx_len;
  int fin_received;
  uint32_t announced;                 // the window last advertised
  // RFC 6298 round-trip time; Karn: one segment timed at a time, never a retransmission
  uint64_t srtt, rttvar, rto;
  int timing;
  tcp_seq rtt_seq;
  uint64_t rtt_sent_at;
  // RFC 5681 congestion control (slow start, avoidance, fast retransmit)
  uint32_t cwnd, ssthresh;
  int dupacks, fast_retransmit;
  // timers: absolute times, 0 = not running
  uint64_t rto_at, timewait_at;
  int retries;
  int ack_now;                        // an ACK (or window update) must go out
  enum tcp_error error;
  uint64_t rx_segments, tx_segments, retransmits;
};

#define TCP_SOCKETS 64
#define TCP_LISTENERS 4
extern struct tcb tcbs[TCP_SOCKETS];

struct tcp_listener {
  int used;
  uint16_t port;
  int backlog;                        // unaccepted connections (half-open included)
};
extern struct tcp_listener tcp_listeners[TCP_LISTENERS];

// tcp.c
struct tcb *tcb_alloc(void);
void tcb_closed(struct tcb *t);       // reached CLOSED: free it unless its owner still holds it
int  tcp_backlog_used(int listener);
tcp_seq tcp_iss(uint64_t now, ip4_t raddr, uint16_t lport, uint16_t rport);
uint32_t tcp_rcv_window(const struct tcb *t);

// tcp_out.c
void tcp_output(struct tcb *t, uint64_t now);
void tcp_send_reset(uint64_t now, ip4_t dst, uint16_t sport, uint16_t dport, tcp_seq seq, tcp_seq ack, int with_ack);
void tcp_rtt_sample(struct tcb *t, uint64_t r);
void tcp_tx_consume(struct tcb *t, uint32_t n);
