// net/tcp_out.c -- what TCP sends, and when: segments from the send
// buffer within the peer's window and the congestion window, the FIN
// after the data, ACKs and window updates, and the timers (RFC 9293
// 3.8: retransmission, RFC 6298: RTO, RFC 5681: congestion control,
// RFC 9293 3.8.6.1: zero-window probes, 3.10.8: TIME-WAIT).
// tcp_poll runs once per iface_poll round, so an ACK owed by several
// segments of one round leaves once (a delayed ACK of one round's length).
#include "tcp.h"

static struct pkt out;

static void send_segment(struct tcb *t, uint64_t now, tcp_seq seq, uint8_t flags, uint32_t off, uint32_t len)
{
  struct tcp_hdr *h = (struct tcp_hdr *)PKT_L4(&out);
  int hlen = TCP_HLEN + (flags & TCP_SYN ? 4 : 0);
  uint32_t wnd = tcp_rcv_window(t);
  h->sport = htons(t->lport);
  h->dport = htons(t->rport);
  h->seq = htonl(seq);
  h->ack = flags & TCP_ACK ? htonl(t->rcv_nxt) : 0;
  h->off = (uint8_t)(hlen / 4) << 4;
  h->flags = flags;
  h->win = htons((uint16_t)wnd);
  h->sum = 0;
  h->urp = 0;
  uint8_t *o = PKT_L4(&out) + TCP_HLEN;
  if (flags & TCP_SYN) {              // MSS option (3.2, 3.7.1)
    o[0] = 2;
    o[1] = 4;
    o[2] = TCP_OUR_MSS >> 8;
    o[3] = TCP_OUR_MSS & 0xFF;
  }
  uint8_t *d = PKT_L4(&out) + hlen;
  uint32_t start = (t->tx_head + off) % TCP_BUF;
  uint32_t first = TCP_BUF - start < len ? TCP_BUF - start : len;
  memcpy(d, t->tx + start, first);
  memcpy(d + first, t->tx, len - first);
  h->sum = checksum_fold(checksum_add(checksum_pseudo(iface.addr, t->raddr, IP_PROTO_TCP, hlen + (int)len),
                                      h, hlen + (int)len));
  t->announced = wnd;
  if (flags & TCP_ACK)
    t->ack_now = 0;
  t->tx_segments++;
  STAT(tcp_tx);
  ipv4_output(now, &out, t->raddr, IP_PROTO_TCP, hlen + (int)len);
}

// An RST (with ACK if asked) not tied to a connection: 3.10.7.1.
void tcp_send_reset(uint64_t now, ip4_t dst, uint16_t sport, uint16_t dport, tcp_seq seq, tcp_seq ack, int with_ack)
{
  struct tcp_hdr *h = (struct tcp_hdr *)PKT_L4(&out);
  h->sport = htons(sport);
  h->dport = htons(dport);
  h->seq = htonl(seq);
  h->ack = with_ack ? htonl(ack) : 0;
  h->off = (TCP_HLEN / 4) << 4;
  h->flags = TCP_RST | (with_ack ? TCP_ACK : 0);
  h->win = 0;
  h->sum = 0;
  h->urp = 0;
  h->sum = checksum_fold(checksum_add(checksum_pseudo(iface.addr, dst, IP_PROTO_TCP, TCP_HLEN), h, TCP_HLEN));
  STAT(tcp_tx);
  ipv4_output(now, &out, dst, IP_PROTO_TCP, TCP_HLEN);
}

void tcp_tx_consume(struct tcb *t, uint32_t n)
{
  t->tx_head = (t->tx_head + n) % TCP_BUF;
  t->tx_len -= n;
}

// RFC 6298 2.2-2.4, in microseconds; G is 1 ms as in the Python twin.
void tcp_rtt_sample(struct tcb *t, uint64_t r)
{
  if (!t->srtt) {
    t->srtt = r ? r : 1;
    t->rttvar = r / 2;
  } else {
    uint64_t diff = t->srtt > r ? t->srtt - r : r - t->srtt;
    t->rttvar = (3 * t->rttvar + diff) / 4;
    t->srtt = (7 * t->srtt + r) / 8;
  }
  uint64_t var = 4 * t->rttvar > MSEC ? 4 * t->rttvar : MSEC;
  t->rto = t->srtt + var;
  if (t->rto < MIN_RTO)
    t->rto = MIN_RTO;
  if (t->rto > MAX_RTO)
    t->rto = MAX_RTO;
}

static void send_fin(struct tcb *t, uint64_t now)
{
  send_segment(t, now, t->snd_nxt, TCP_FIN | TCP_ACK, 0, 0);
  t->fin_sent = 1;
  t->fin_seq = t->snd_nxt;
  t->snd_nxt++;
  if (seq_gt(t->snd_nxt, t->snd_max))
    t->snd_max = t->snd_nxt;
  if (t->state == ESTABLISHED)        // 3.10.4 CLOSE
    t->state = FIN_WAIT_1;
  else if (t->state == CLOSE_WAIT)
    t->state = LAST_ACK;
  if (!t->rto_at)
    t->rto_at = now + t->rto;
}

void tcp_output(struct tcb *t, uint64_t now)
{
  if (t->state == CLOSED)
    return;
  if (t->state == SYN_SENT || t->state == SYN_RECEIVED) {
    if (t->snd_nxt == t->iss || (t->state == SYN_RECEIVED && t->ack_now)) {
      send_segment(t, now, t->iss, t->state == SYN_SENT ? TCP_SYN : TCP_SYN | TCP_ACK, 0, 0);
      if (t->snd_nxt == t->iss && t->retries == 0) {   // time the first SYN only (Karn)
        t->timing = 1;
        t->rtt_seq = t->iss + 1;
        t->rtt_sent_at = now;
      }
      t->snd_nxt = t->snd_max = t->iss + 1;
      if (!t->rto_at)
        t->rto_at = now + t->rto;
    }
    return;
  }

  tcp_seq data_end = t->snd_una + t->tx_len;
  int sent = 0;
  if (t->fast_retransmit) {           // RFC 5681 3.2: resend the first unacked segment
    t->fast_retransmit = 0;
    uint32_t n = t->tx_len < t->mss ? t->tx_len : t->mss;
    if (n) {
      send_segment(t, now, t->snd_una, TCP_ACK, 0, n);
      t->timing = 0;
      t->retransmits++;
      STAT(tcp_retransmit);
      sent = 1;
    }
  }
  uint32_t wnd = t->snd_wnd < t->cwnd ? t->snd_wnd : t->cwnd;
  tcp_seq wnd_end = t->snd_una + wnd;
  while (seq_lt(t->snd_nxt, data_end)) {
    uint32_t avail = data_end - t->snd_nxt;
    int32_t room = (int32_t)(wnd_end - t->snd_nxt);
    if (room <= 0) {
      if (!(t->probe && t->snd_nxt == t->snd_una))
        break;
      room = 1;                       // 3.8.6.1: one byte into the closed window
    }
    uint32_t n = avail;
    if (n > t->mss)
      n = t->mss;
    if (n > (uint32_t)room)
      n = (uint32_t)room;
    send_segment(t, now, t->snd_nxt, TCP_ACK | (n == avail ? TCP_PSH : 0), t->snd_nxt - t->snd_una, n);
    if (!t->timing && seq_ge(t->snd_nxt, t->snd_max)) {   // time new data only (Karn)
      t->timing = 1;
      t->rtt_seq = t->snd_nxt + n;
      t->rtt_sent_at = now;
    }
    t->snd_nxt += n;
    if (seq_gt(t->snd_nxt, t->snd_max))
      t->snd_max = t->snd_nxt;
    if (!t->rto_at)
      t->rto_at = now + t->rto;
    t->probe = 0;
    sent = 1;
  }
  if (t->fin_queued && !t->fin_sent && t->snd_nxt == data_end
      && t->state != FIN_WAIT_2 && t->state != TIME_WAIT) {
    send_fin(t, now);
    sent = 1;
  }
  if (!sent && t->ack_now)
    send_segment(t, now, t->snd_nxt, TCP_ACK, 0, 0);
  // persist: data waits behind a zero window with nothing in flight
  if (seq_lt(t->snd_nxt, data_end) && !t->rto_at)
    t->rto_at = now + t->rto;
}

// The retransmission timer went off (RFC 6298 5.4-5.7).
static void expire(struct tcb *t, uint64_t now)
{
  t->rto_at = 0;
  int syn = t->state == SYN_SENT || t->state == SYN_RECEIVED;
  if (t->retries >= (syn ? SYN_RETRIES : MAX_RETRIES)) {
    STAT(tcp_timeout);
    if (!syn)
      tcp_send_reset(now, t->raddr, t->lport, t->rport, t->snd_max, 0, 0);
    t->error = TCP_TIMEOUT;
    tcb_closed(t);
    return;
  }
  t->retries++;
  t->rto = t->rto * 2 > MAX_RTO ? MAX_RTO : t->rto * 2;
  t->timing = 0;
  if (syn) {
    t->snd_nxt = t->iss;              // tcp_output sends the SYN (or SYN-ACK) again
    t->retransmits++;
    STAT(tcp_retransmit);
    return;
  }
  if (t->snd_una == t->snd_max && t->snd_wnd == 0) {
    t->probe = 1;                     // the persist timer, not a loss
    return;
  }
  uint32_t flight = t->snd_max - t->snd_una;
  t->ssthresh = flight / 2 > 2u * t->mss ? flight / 2 : 2u * t->mss;
  t->cwnd = t->mss;                   // RFC 5681 3.1: loss window
  t->snd_nxt = t->snd_una;            // go back: resend from the oldest unacked byte
  if (t->fin_sent && seq_le(t->snd_una, t->fin_seq))
    t->fin_sent = 0;
  t->retransmits++;
  STAT(tcp_retransmit);
}

// The earliest TCP timer: retransmission (or persist), TIME-WAIT, FIN-WAIT-2.
// Everything else TCP does answers a segment or a socket call.
uint64_t tcp_poll_at(void)
{
  uint64_t t = NEVER;
  for (int i = 0; i < TCP_SOCKETS; i++) {
    struct tcb *c = &tcbs[i];
    if (!c->used || c->state == CLOSED)
      continue;
    if (c->rto_at && c->rto_at < t)
      t = c->rto_at;
    if (c->timewait_at && c->timewait_at < t)
      t = c->timewait_at;
  }
  return t;
}

int tcp_poll(uint64_t now)
{
  int did = 0;
  for (int i = 0; i < TCP_SOCKETS; i++) {
    struct tcb *t = &tcbs[i];
    if (!t->used || t->state == CLOSED)
      continue;
    if (t->timewait_at && now >= t->timewait_at) {   // TIME-WAIT over (or FIN-WAIT-2 given up)
      tcb_closed(t);
      continue;
    }
    if (t->rto_at && now >= t->rto_at)
      expire(t, now);
    uint64_t before = t->tx_segments;
    tcp_output(t, now);
    did |= t->tx_segments != before;
  }
  return did;
}
