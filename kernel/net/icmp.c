// net/icmp.c -- ICMP (RFC 792): answer echo requests, and the ping
// sockets PING is made of (echo both ways); ICMP errors we send, rate
// limited (RFC 1812 4.3.2.8: at most ICMP_ERRORS_PER_SECOND).
// The Python twin: Interface._icmp and dos64lab/socket/icmp.py.
#include "net.h"

#define ICMP_ERRORS_PER_SECOND 10
#define SENT_SLOTS 64                 // send times remembered per ping socket

static struct ping_sock {
  int used;
  uint16_t ident;                     // the "port" of echo messages
  struct echo_result q[PING_QUEUE];   // replies and errors, oldest first
  int head, count;
  struct { uint16_t seq; int valid; uint64_t at; } sent[SENT_SLOTS];
} pings[PING_SOCKETS];

static uint64_t error_tokens = ICMP_ERRORS_PER_SECOND, error_refill;

static struct ping_sock *by_ident(uint16_t ident)
{
  for (int i = 0; i < PING_SOCKETS; i++)
    if (pings[i].used && pings[i].ident == ident)
      return &pings[i];
  return 0;
}

static void queue(struct ping_sock *s, const struct echo_result *r)
{
  if (s->count == PING_QUEUE)
    return;                           // PING reads faster than one a second
  s->q[(s->head + s->count++) % PING_QUEUE] = *r;
}

// The send time of seq, forgotten once used (a duplicate gets no RTT).
static int took(struct ping_sock *s, uint16_t seq, uint64_t now, uint64_t *rtt)
{
  int i = seq % SENT_SLOTS;
  if (!s->sent[i].valid || s->sent[i].seq != seq)
    return 0;
  s->sent[i].valid = 0;
  *rtt = now - s->sent[i].at;
  return 1;
}

void icmp_input(uint64_t now, const struct ip_hdr *ip, int broadcast, uint8_t *payload, int len)
{
  if (len < ICMP_HLEN) { STAT(icmp_rx_drop_length); return; }
  if (checksum_fold(checksum_add(0, payload, len)) != 0) { STAT(icmp_rx_drop_checksum); return; }
  STAT(icmp_rx);
  struct icmp_hdr *h = (struct icmp_hdr *)payload;
  struct echo_result r = { .from = ip->src, .ttl = ip->ttl, .size = len };

  switch (h->type) {
  case ICMP_ECHO_REQUEST: {
    if (broadcast || !iface.addr) {
      STAT(icmp_rx_drop_echo_not_for_us);
      return;
    }
    static struct pkt p;                // the reply: same id, seq and data
    uint8_t *out = PKT_L4(&p);
    memcpy(out, payload, len);
    struct icmp_hdr *o = (struct icmp_hdr *)out;
    o->type = ICMP_ECHO_REPLY;
    o->code = 0;
    o->sum = 0;
    o->sum = checksum_fold(checksum_add(0, out, len));
    if (ipv4_output(now, &p, ip->src, IP_PROTO_ICMP, len))
      STAT(icmp_tx_echo_reply);
    return;
  }
  case ICMP_ECHO_REPLY: {
    struct ping_sock *s = by_ident(ntohs(h->id));
    if (!s) {
      STAT(icmp_rx_drop_no_socket);
      return;
    }
    r.seq = ntohs(h->seq);
    if (!took(s, r.seq, now, &r.rtt_us))
      r.rtt_us = ~0UL;
    queue(s, &r);
    return;
  }
  case ICMP_UNREACHABLE:
  case ICMP_TIME_EXCEEDED: {
    // The quoted datagram: its IP header and at least 8 bytes (RFC 792).
    const uint8_t *q = payload + ICMP_HLEN;
    int qlen = len - ICMP_HLEN;
    int qh = qlen >= IP_HLEN ? (q[0] & 0x0F) * 4 : 0;
    const struct ip_hdr *qip = (const struct ip_hdr *)q;
    if (qh >= IP_HLEN && qlen >= qh + ICMP_HLEN && qip->proto == IP_PROTO_ICMP) {
      const struct icmp_hdr *qe = (const struct icmp_hdr *)(q + qh);
      struct ping_sock *s = qe->type == ICMP_ECHO_REQUEST ? by_ident(ntohs(qe->id)) : 0;
      if (s) {
        r.seq = ntohs(qe->seq);
        r.type = h->type;
        r.code = h->code;
        took(s, r.seq, now, &r.rtt_us);
        queue(s, &r);
        return;
      }
    }
    STAT(icmp_rx_drop_no_socket);
    return;
  }
  default:
    STAT(icmp_rx_drop_no_socket);
  }
}

// An ICMP error about a datagram we received (its header `about`, of
// which about_len bytes are at hand): the header and 8 bytes are quoted.
void icmp_error(uint64_t now, const struct ip_hdr *about, int about_len, uint8_t type, uint8_t code)
{
  if (about->src == IP4_ANY || !iface.addr)            // RFC 1122 3.2.2: not about "no host"
    return;
  error_tokens += (now - error_refill) * ICMP_ERRORS_PER_SECOND / SEC;
  if (error_tokens > ICMP_ERRORS_PER_SECOND)
    error_tokens = ICMP_ERRORS_PER_SECOND;
  error_refill = now;
  if (error_tokens < 1) {
    STAT(icmp_tx_drop_rate_limited);
    return;
  }
  error_tokens--;
  static struct pkt p;
  struct icmp_hdr *h = (struct icmp_hdr *)PKT_L4(&p);
  int quote = (about->vhl & 0x0F) * 4 + 8;
  if (quote > about_len)
    quote = about_len;
  h->type = type;
  h->code = code;
  h->sum = 0;
  h->id = h->seq = 0;
  memcpy(PKT_L4(&p) + ICMP_HLEN, about, quote);
  h->sum = checksum_fold(checksum_add(0, h, ICMP_HLEN + quote));
  if (ipv4_output(now, &p, about->src, IP_PROTO_ICMP, ICMP_HLEN + quote))
    STAT(icmp_tx_error);
}

// -- ping sockets ------------------------------------------------------------------
int ping_open(void)
{
  static uint16_t next_ident;
  if (!next_ident)
    next_ident = (uint16_t)rdtsc_low();
  for (int i = 0; i < PING_SOCKETS; i++) {
    if (!pings[i].used) {
      memset(&pings[i], 0, sizeof pings[i]);
      pings[i].used = 1;
      pings[i].ident = next_ident++;
      return i;
    }
  }
  return -1;
}

void ping_close(int s)
{
  pings[s].used = 0;
}

// An echo request with data_len bytes of data (iputils' 56 by default).
int ping_send(int s, uint64_t now, ip4_t dst, uint16_t seq, int data_len)
{
  static struct pkt p;
  if (data_len < 0 || ICMP_HLEN + data_len > L4_MAX)
    return 0;
  struct icmp_hdr *h = (struct icmp_hdr *)PKT_L4(&p);
  h->type = ICMP_ECHO_REQUEST;
  h->code = 0;
  h->sum = 0;
  h->id = htons(pings[s].ident);
  h->seq = htons(seq);
  uint8_t *data = PKT_L4(&p) + ICMP_HLEN;
  for (int i = 0; i < data_len; i++)
    data[i] = (uint8_t)(i + 8);       // iputils' pattern after its timestamp
  h->sum = checksum_fold(checksum_add(0, h, ICMP_HLEN + data_len));
  int i = seq % SENT_SLOTS;
  pings[s].sent[i].seq = seq;
  pings[s].sent[i].valid = 1;
  pings[s].sent[i].at = now;
  STAT(icmp_tx_echo_request);
  return ipv4_output(now, &p, dst, IP_PROTO_ICMP, ICMP_HLEN + data_len);
}

int ping_recv(int s, struct echo_result *out)
{
  struct ping_sock *p = &pings[s];
  if (!p->count)
    return 0;
  *out = p->q[p->head];
  p->head = (p->head + 1) % PING_QUEUE;
  p->count--;
  return 1;
}
