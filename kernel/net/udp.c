// net/udp.c -- UDP (RFC 768): datagrams to and from one local port, over a
// bounded queue per socket. A datagram to a closed port gets an ICMP port
// unreachable (RFC 1122 4.1.3.1), rate limited. The checksum is checked
// when the sender set one, and always sent.
// The Python twin: Interface._udp and dos64lab/socket/udp.py.
#include "net.h"

#define UDP_DATA_MAX (L4_MAX - UDP_HLEN)

static struct udp_sock {
  int used;
  uint16_t port;
  int head, count;
  struct {
    ip4_t src;
    uint16_t sport;
    int len;
    uint8_t data[UDP_DATA_MAX];
  } q[UDP_QUEUE];
  uint64_t rx, tx, rx_drop_full;
} socks[UDP_SOCKETS];

void udp_input(uint64_t now, const struct ip_hdr *ip, int broadcast, uint8_t *payload, int len)
{
  if (len < UDP_HLEN) { STAT(udp_rx_drop_length); return; }
  struct udp_hdr *u = (struct udp_hdr *)payload;
  int ulen = ntohs(u->len);
  if (ulen < UDP_HLEN || ulen > len) { STAT(udp_rx_drop_length); return; }
  if (u->sum && checksum_fold(checksum_add(checksum_pseudo(ip->src, ip->dst, IP_PROTO_UDP, ulen),
                                           payload, ulen)) != 0) {
    STAT(udp_rx_drop_checksum);
    return;
  }
  STAT(udp_rx);
  uint16_t dport = ntohs(u->dport);
  for (int i = 0; i < UDP_SOCKETS; i++) {
    struct udp_sock *s = &socks[i];
    if (!s->used || s->port != dport)
      continue;
    if (s->count == UDP_QUEUE) {
      s->rx_drop_full++;
      STAT(udp_rx_drop_full);
      return;
    }
    int k = (s->head + s->count++) % UDP_QUEUE;
    s->q[k].src = ip->src;
    s->q[k].sport = ntohs(u->sport);
    s->q[k].len = ulen - UDP_HLEN;
    memcpy(s->q[k].data, payload + UDP_HLEN, ulen - UDP_HLEN);
    s->rx++;
    return;
  }
  STAT(udp_rx_drop_no_socket);
  if (!broadcast && ip->dst == iface.addr)
    icmp_error(now, ip, IP_HLEN + len, ICMP_UNREACHABLE, 3);   // port unreachable
}

int udp_open(uint16_t port)
{
  for (int i = 0; i < UDP_SOCKETS; i++)
    if (socks[i].used && socks[i].port == port)
      return -1;
  for (int i = 0; i < UDP_SOCKETS; i++) {
    if (!socks[i].used) {
      memset(&socks[i], 0, sizeof socks[i]);
      socks[i].used = 1;
      socks[i].port = port;
      return i;
    }
  }
  return -1;
}

void udp_close(int s)
{
  socks[s].used = 0;
}

int udp_send_to(int s, uint64_t now, ip4_t dst, uint16_t dport, const void *data, int len)
{
  static struct pkt p;
  if (len < 0 || len > UDP_DATA_MAX)
    return 0;
  struct udp_hdr *u = (struct udp_hdr *)PKT_L4(&p);
  u->sport = htons(socks[s].port);
  u->dport = htons(dport);
  u->len = htons((uint16_t)(UDP_HLEN + len));
  u->sum = 0;
  memcpy(PKT_L4(&p) + UDP_HLEN, data, len);
  uint16_t sum = checksum_fold(checksum_add(checksum_pseudo(iface.addr, dst, IP_PROTO_UDP, UDP_HLEN + len),
                                            u, UDP_HLEN + len));
  u->sum = sum ? sum : 0xFFFF;        // 0 would mean "no checksum"
  socks[s].tx++;
  STAT(udp_tx);
  return ipv4_output(now, &p, dst, IP_PROTO_UDP, UDP_HLEN + len);
}

// The oldest datagram (at most cap bytes of it), or -1 if none waits.
int udp_recv_from(int s, void *buf, int cap, ip4_t *src, uint16_t *sport)
{
  struct udp_sock *u = &socks[s];
  if (!u->count)
    return -1;
  int k = u->head;
  int n = u->q[k].len < cap ? u->q[k].len : cap;
  memcpy(buf, u->q[k].data, n);
  *src = u->q[k].src;
  *sport = u->q[k].sport;
  u->head = (u->head + 1) % UDP_QUEUE;
  u->count--;
  return n;
}

// For NETSTAT and /api/status: socket i's port and counters (0: unused).
int udp_describe(int i, uint16_t *port, int *queued)
{
  if (i < 0 || i >= UDP_SOCKETS || !socks[i].used)
    return 0;
  *port = socks[i].port;
  *queued = socks[i].count;
  return 1;
}
