// net/tcp_in.c -- SEGMENT ARRIVES (RFC 9293 3.10.7): check the segment,
// find its connection (or a listener, or nobody: RST), and run the state
// machine. Section numbers inline are RFC 9293's unless said otherwise.
//
// Deviations, said here once: data that arrives out of order is dropped
// (and a duplicate ACK asks for it again) instead of being kept; the only
// option read is MSS (slirp's SYN-ACK carries nothing else); RFC 5961's
// challenge ACKs are sent but not rate-limited.
#include "tcp.h"

struct seg {                          // the segment, in host order
  tcp_seq seq, ack;
  uint8_t flags;
  uint32_t wnd;
  uint16_t mss;                       // 0: no MSS option
  const uint8_t *data;
  uint32_t len;                       // data bytes
  uint32_t seglen;                    // SEG.LEN: data + SYN + FIN (3.4)
};

// Options, walked within the header (3.2): only MSS matters here.
static int parse_options(const uint8_t *o, int n, uint16_t *mss)
{
  for (int i = 0; i < n;) {
    uint8_t kind = o[i];
    if (kind == 0)
      break;                          // end of option list
    if (kind == 1) {                  // no-operation
      i++;
      continue;
    }
    if (i + 2 > n || o[i + 1] < 2 || i + o[i + 1] > n)
      return 0;
    if (kind == 2 && o[i + 1] == 4)
      *mss = (uint16_t)(o[i + 2] << 8 | o[i + 3]);
    i += o[i + 1];
  }
  return 1;
}

static void set_mss(struct tcb *t, uint16_t peer_mss)
{
  uint16_t m = peer_mss ? peer_mss : TCP_DEFAULT_MSS;
  t->mss = m < TCP_OUR_MSS ? m : TCP_OUR_MSS;
  if (t->mss < 64)
    t->mss = 64;                      // a hostile MSS must not make segments absurd
}

// Passive OPEN: a SYN for listener l (3.10.7.2).
// When the backlog is full, the oldest half-open connection makes room: a
// SYN flood from addresses that never answer cannot keep real clients out
// (whose handshakes complete within a round trip), and half-open
// connections stay bounded by the backlog.
static void listen_syn(uint64_t now, int l, const struct ip_hdr *ip, const struct tcp_hdr *h, const struct seg *s)
{
  if (tcp_backlog_used(l) >= tcp_listeners[l].backlog) {
    struct tcb *oldest = 0;
    for (int i = 0; i < TCP_SOCKETS; i++) {
      struct tcb *c = &tcbs[i];
      if (c->used && !c->owned && c->listener == l && c->state == SYN_RECEIVED
          && (!oldest || c->order < oldest->order))
        oldest = c;
    }
    STAT(tcp_rx_drop_backlog_full);
    if (!oldest)
      return;                         // all established, waiting for accept: the peer retries
    tcb_closed(oldest);
  }
  struct tcb *t = tcb_alloc();
  if (!t) {
    STAT(tcp_rx_drop_backlog_full);
    return;
  }
  t->listener = l;
  t->raddr = ip->src;
  t->lport = ntohs(h->dport);
  t->rport = ntohs(h->sport);
  t->irs = s->seq;
  t->rcv_nxt = s->seq + 1;
  t->iss = tcp_iss(now, t->raddr, t->lport, t->rport);
  t->snd_una = t->snd_nxt = t->snd_max = t->iss;     // the SYN-ACK goes at the next output
  t->snd_wnd = s->wnd;
  t->snd_wl1 = s->seq;
  t->snd_wl2 = t->iss;
  set_mss(t, s->mss);
  t->state = SYN_RECEIVED;           // tcp_output sends the SYN-ACK (snd_nxt == iss)
  t->rx_segments = 1;
}

// SYN-SENT (3.10.7.3): our SYN is out, waiting for SYN-ACK.
static void syn_sent(uint64_t now, struct tcb *t, const struct seg *s)
{
  int ack_ok = 0;
  if (s->flags & TCP_ACK) {
    if (seq_le(s->ack, t->iss) || seq_gt(s->ack, t->snd_max)) {
      if (!(s->flags & TCP_RST))
        tcp_send_reset(now, t->raddr, t->lport, t->rport, s->ack, 0, 0);
      STAT(tcp_rx_drop_bad_ack);
      return;
    }
    ack_ok = 1;
  }
  if (s->flags & TCP_RST) {
    if (ack_ok) {                     // "error: connection reset" -- refused
      t->error = TCP_REFUSED;
      tcb_closed(t);
    }
    return;
  }
  if (!(s->flags & TCP_SYN))
    return;
  t->irs = s->seq;
  t->rcv_nxt = s->seq + 1;
  set_mss(t, s->mss);
  if (ack_ok) {
    t->snd_una = s->ack;
    t->snd_wnd = s->wnd;
    t->snd_wl1 = s->seq;
    t->snd_wl2 = s->ack;
    if (t->timing && seq_ge(s->ack, t->rtt_seq)) {
      tcp_rtt_sample(t, now - t->rtt_sent_at);
      t->timing = 0;
    }
    t->retries = 0;
    t->rto_at = 0;
    t->state = ESTABLISHED;
    t->ack_now = 1;
    STAT(tcp_connected);
  } else {                            // simultaneous open
    t->state = SYN_RECEIVED;
    t->snd_nxt = t->iss;              // send SYN-ACK
  }
}

// 3.10.7.4 "first check sequence number": is any of it in the window?
static int acceptable(const struct tcb *t, const struct seg *s)
{
  uint32_t wnd = tcp_rcv_window(t);
  if (s->seglen == 0) {
    if (wnd == 0)
      return s->seq == t->rcv_nxt;
    return seq_le(t->rcv_nxt, s->seq) && seq_lt(s->seq, t->rcv_nxt + wnd);
  }
  if (wnd == 0)
    return 0;
  return (seq_le(t->rcv_nxt, s->seq) && seq_lt(s->seq, t->rcv_nxt + wnd))
      || (seq_le(t->rcv_nxt, s->seq + s->seglen - 1) && seq_lt(s->seq + s->seglen - 1, t->rcv_nxt + wnd));
}

// The ACK field (3.10.7.4 "fifth"). Returns 0 if the segment is done with.
static int process_ack(uint64_t now, struct tcb *t, const struct seg *s)
{
  if (t->state == SYN_RECEIVED) {
    if (!(seq_lt(t->snd_una, s->ack) && seq_le(s->ack, t->snd_max))) {
      tcp_send_reset(now, t->raddr, t->lport, t->rport, s->ack, 0, 0);
      STAT(tcp_rx_drop_bad_ack);
      return 0;
    }
    t->state = ESTABLISHED;
    t->snd_wnd = s->wnd;
    t->snd_wl1 = s->seq;
    t->snd_wl2 = s->ack;
  }
  if (seq_gt(s->ack, t->snd_max)) {   // acks something never sent
    t->ack_now = 1;
    STAT(tcp_rx_drop_bad_ack);
    return 0;
  }
  if (seq_gt(s->ack, t->snd_una)) {
    uint32_t acked = s->ack - t->snd_una;
    if (t->snd_una == t->iss)         // our SYN is acked: it took no buffer space
      acked--;
    int fin_acked = t->fin_sent && seq_gt(s->ack, t->fin_seq);
    if (fin_acked)
      acked--;
    tcp_tx_consume(t, acked < t->tx_len ? acked : t->tx_len);
    t->snd_una = s->ack;
    if (seq_lt(t->snd_nxt, t->snd_una))
      t->snd_nxt = t->snd_una;
    if (t->timing && seq_ge(s->ack, t->rtt_seq)) {   // RFC 6298 + Karn: a clean sample
      tcp_rtt_sample(t, now - t->rtt_sent_at);
      t->timing = 0;
    }
    // RFC 5681 3.1: slow start below ssthresh, then one MSS per window
    if (t->cwnd < t->ssthresh)
      t->cwnd += acked < t->mss ? acked : t->mss;
    else
      t->cwnd += (uint32_t)t->mss * t->mss / t->cwnd + 1;
    t->dupacks = 0;
    t->retries = 0;
    t->probe = 0;
    t->rto_at = t->snd_una == t->snd_max ? 0 : now + t->rto;   // RFC 6298 5.2, 5.3
    if (fin_acked) {
      if (t->state == FIN_WAIT_1)
        t->state = FIN_WAIT_2;
      else if (t->state == CLOSING) {
        t->state = TIME_WAIT;
        t->timewait_at = now + 2 * MSL;
      } else if (t->state == LAST_ACK) {
        tcb_closed(t);
        return 0;
      }
      if (t->state == FIN_WAIT_2 && t->user_closed)
        t->timewait_at = now + FIN_WAIT_2_TIMEOUT;   // as Linux's tcp_fin_timeout
    }
  } else if (s->ack == t->snd_una && s->seglen == 0 && s->wnd == t->snd_wnd
             && t->snd_max != t->snd_una) {
    // RFC 5681 3.2: the third duplicate ACK retransmits at once
    if (++t->dupacks == 3) {
      uint32_t flight = t->snd_max - t->snd_una;
      t->ssthresh = flight / 2 > 2u * t->mss ? flight / 2 : 2u * t->mss;
      t->cwnd = t->ssthresh;
      t->fast_retransmit = 1;
    }
  }
  // SND.WND from the newest segment only (3.10.7.4: SND.WL1, SND.WL2)
  if (seq_lt(t->snd_wl1, s->seq) || (t->snd_wl1 == s->seq && seq_le(t->snd_wl2, s->ack))) {
    t->snd_wnd = s->wnd;
    t->snd_wl1 = s->seq;
    t->snd_wl2 = s->ack;
  }
  return 1;
}

// The segment text and FIN (3.10.7.4 "seventh", "eighth").
static void process_text(uint64_t now, struct tcb *t, const struct seg *s)
{
  tcp_seq seq = s->seq;
  const uint8_t *data = s->data;
  uint32_t len = s->len;
  int fin = s->flags & TCP_FIN;
  if (len && (t->state == ESTABLISHED || t->state == FIN_WAIT_1 || t->state == FIN_WAIT_2)) {
    if (seq_lt(seq, t->rcv_nxt)) {    // already have the start of it
      uint32_t skip = t->rcv_nxt - seq;
      if (skip >= len) {
        len = 0;
      } else {
        data += skip;
        len -= skip;
      }
      seq = t->rcv_nxt;
    }
    if (seq != t->rcv_nxt) {          // out of order: ask again (a duplicate ACK)
      STAT(tcp_rx_drop_out_of_order);
      t->ack_now = 1;
      return;
    }
    uint32_t room = TCP_BUF - t->rx_len;
    uint32_t k = len < room ? len : room;
    uint32_t tail = (t->rx_head + t->rx_len) % TCP_BUF;
    uint32_t first = TCP_BUF - tail < k ? TCP_BUF - tail : k;
    memcpy(t->rx + tail, data, first);
    memcpy(t->rx, data + first, k - first);
    t->rx_len += k;
    t->rcv_nxt += k;
    t->ack_now = 1;
    if (k < len)
      return;                         // the rest (and any FIN) comes again
  } else if (len) {
    t->ack_now = 1;                   // data after the peer's FIN: just ACK
  }
  if (!fin || seq + len != t->rcv_nxt)
    return;
  if (!t->fin_received) {
    t->fin_received = 1;
    t->rcv_nxt++;
  }
  t->ack_now = 1;
  switch (t->state) {
  case SYN_RECEIVED:
  case ESTABLISHED:
    t->state = CLOSE_WAIT;
    break;
  case FIN_WAIT_1:                    // our FIN not acked yet: simultaneous close
    t->state = CLOSING;
    break;
  case FIN_WAIT_2:
  case TIME_WAIT:
    t->state = TIME_WAIT;
    t->timewait_at = now + 2 * MSL;   // restart the 2 MSL timer
    break;
  default:
    break;
  }
}

void tcp_input(uint64_t now, const struct ip_hdr *ip, int broadcast, uint8_t *payload, int len)
{
  if (broadcast) { STAT(tcp_rx_drop_broadcast); return; }
  if (len < TCP_HLEN) { STAT(tcp_rx_drop_length); return; }
  const struct tcp_hdr *h = (const struct tcp_hdr *)payload;
  int off = (h->off >> 4) * 4;
  if (off < TCP_HLEN || off > len) { STAT(tcp_rx_drop_data_offset); return; }
  if (checksum_fold(checksum_add(checksum_pseudo(ip->src, ip->dst, IP_PROTO_TCP, len), payload, len)) != 0) {
    STAT(tcp_rx_drop_checksum);
    return;
  }
  struct seg s = {
    .seq = ntohl(h->seq), .ack = ntohl(h->ack), .flags = h->flags, .wnd = ntohs(h->win),
    .data = payload + off, .len = (uint32_t)(len - off),
  };
  if (!parse_options(payload + TCP_HLEN, off - TCP_HLEN, &s.mss)) {
    STAT(tcp_rx_drop_options);
    return;
  }
  s.seglen = s.len + !!(s.flags & TCP_SYN) + !!(s.flags & TCP_FIN);
  STAT(tcp_rx);
  uint16_t sport = ntohs(h->sport), dport = ntohs(h->dport);

  struct tcb *t = 0;
  for (int i = 0; i < TCP_SOCKETS && !t; i++) {
    struct tcb *c = &tcbs[i];
    if (c->used && c->state != CLOSED && c->lport == dport && c->rport == sport && c->raddr == ip->src)
      t = c;
  }
  // A new SYN may reopen a connection in TIME-WAIT (RFC 9293 3.10.7.4, RFC 6191 in spirit)
  if (t && t->state == TIME_WAIT && (s.flags & TCP_SYN) && !(s.flags & TCP_ACK) && seq_gt(s.seq, t->rcv_nxt)) {
    tcb_closed(t);
    t = 0;
  }
  if (!t) {
    int l = -1;
    for (int i = 0; i < TCP_LISTENERS; i++)
      if (tcp_listeners[i].used && tcp_listeners[i].port == dport)
        l = i;
    if (l >= 0 && (s.flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN) {
      listen_syn(now, l, ip, h, &s);
      return;
    }
    if (l < 0)
      STAT(tcp_rx_drop_no_socket);
    // 3.10.7.1 CLOSED / 3.10.7.2 LISTEN: an RST for anything but an RST
    if (s.flags & TCP_RST)
      return;
    if (s.flags & TCP_ACK) {
      tcp_send_reset(now, ip->src, dport, sport, s.ack, 0, 0);
      STAT(tcp_tx_reset);
    } else if (l < 0) {
      tcp_send_reset(now, ip->src, dport, sport, 0, s.seq + s.seglen, 1);
      STAT(tcp_tx_reset);
    }
    return;
  }

  t->rx_segments++;
  if (t->state == SYN_SENT) {
    syn_sent(now, t, &s);
    return;
  }
  if (!acceptable(t, &s)) {           // "first": an ACK for anything but an RST
    if (!(s.flags & TCP_RST))
      t->ack_now = 1;
    STAT(tcp_rx_drop_out_of_window);
    return;
  }
  if (s.flags & TCP_RST) {            // "second", with RFC 5961 3.2
    if (s.seq != t->rcv_nxt) {
      t->ack_now = 1;
      STAT(tcp_tx_challenge_ack);
      return;
    }
    if (t->state != SYN_RECEIVED)
      t->error = TCP_RESET;
    tcb_closed(t);
    return;
  }
  if (s.flags & TCP_SYN) {            // "fourth", RFC 5961 4.2: a challenge ACK
    t->ack_now = 1;
    STAT(tcp_tx_challenge_ack);
    return;
  }
  if (!(s.flags & TCP_ACK))           // "fifth": no ACK, no business
    return;
  if (!process_ack(now, t, &s))
    return;
  process_text(now, t, &s);
}
