// net/iface.c -- the interface: frames in, packets to the protocols;
// packets out, frames to the NIC. After the Python twin's
// dos64lab/iface/interface.py (itself after smoltcp's Interface):
// iface_poll(now) does one round of work and says whether it did any.
//
// One round:
//   1. ingress -- up to MAX_FRAMES_PER_POLL frames: Ethernet -> ARP or
//      IPv4 -> ICMP, UDP or TCP; each buffer goes back to the device;
//   2. the protocols' own work: DHCP timers, the services (HTTP, telnet),
//      TCP output and retransmission timers;
//   3. timers -- ARP retries and give-ups, the gratuitous ARP;
//   4. kick: one doorbell per queue for the whole round.
//
// Every frame is length-checked before a field is read; every drop is
// counted by reason (stats.c).
#include "net.h"

#define MAX_FRAMES_PER_POLL 64        // ingress per round: egress and timers never starve

struct iface iface = { .source = "none" };
uint64_t iface_polls;

static const uint8_t broadcast_mac[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

void iface_configure(ip4_t addr, ip4_t mask, ip4_t gw, const ip4_t *dns, int ndns, const char *source)
{
  if (addr != iface.addr)
    iface.announce = 1;               // RFC 5227 2.3: announce the new address
  iface.addr = addr;
  iface.netmask = mask;
  iface.gateway = gw;
  iface.ndns = ndns > 2 ? 2 : ndns;
  for (int i = 0; i < iface.ndns; i++)
    iface.dns[i] = dns[i];
  iface.source = source;
  if (gw)
    neighbor_resolve(gw, clock_us());  // the gateway carries most traffic: learn it now
  net_wake();
}

void iface_deconfigure(void)
{
  iface.addr = iface.netmask = iface.gateway = 0;
  iface.ndns = 0;
  iface.source = "none";
}

int ip4_is_broadcast(ip4_t a)
{
  return a == IP4_BROADCAST || (iface.addr && a == (iface.addr | ~iface.netmask));
}

// Where a packet for dst goes first: itself on-link, else the gateway;
// 0 when there is no route.
ip4_t iface_next_hop(ip4_t dst)
{
  if (dst == IP4_BROADCAST)
    return dst;
  if (!iface.addr)
    return 0;
  if (dst == (iface.addr | ~iface.netmask))
    return IP4_BROADCAST;
  if ((dst & iface.netmask) == (iface.addr & iface.netmask))
    return dst;
  return iface.gateway;
}

// Frame p (its payload from offset ETH_HLEN, p->len bytes in all) for
// dst_mac and hand it to the NIC. 0 if the TX ring was full.
int iface_frame(const uint8_t *dst_mac, uint16_t type, struct pkt *p)
{
  struct eth_hdr *e = (struct eth_hdr *)p->data;
  memcpy(e->dst, dst_mac, ETH_ALEN);
  memcpy(e->src, iface.mac, ETH_ALEN);
  e->type = htons(type);
  if (!virtio_net_send(p->data, p->len)) {
    STAT(ipv4_tx_drop_ring_full);
    return 0;
  }
  STAT(eth_tx);
  return 1;
}

void iface_input(uint64_t now, uint8_t *frame, int len)
{
  STAT(eth_rx);
  if (len < ETH_HLEN) {
    STAT(eth_rx_drop_truncated);
    return;
  }
  struct eth_hdr *e = (struct eth_hdr *)frame;
  int bcast = memcmp(e->dst, broadcast_mac, ETH_ALEN) == 0;
  if (!bcast && memcmp(e->dst, iface.mac, ETH_ALEN) != 0) {
    STAT(eth_rx_drop_not_for_us);
    return;
  }
  switch (ntohs(e->type)) {
  case ETHERTYPE_ARP:
    arp_input(now, frame + ETH_HLEN, len - ETH_HLEN);
    break;
  case ETHERTYPE_IPV4:
    ipv4_input(now, e->src, bcast, frame + ETH_HLEN, len - ETH_HLEN);
    break;
  default:
    STAT(eth_rx_drop_ethertype);
  }
}

static int timers(uint64_t now)
{
  int did = 0;
  if (iface.announce && iface.addr) {
    iface.announce = 0;
    arp_send(ARP_REQUEST, broadcast_mac, iface.addr);   // gratuitous: asks for itself
    STAT(arp_tx_gratuitous);
    did = 1;
  }
  neighbor_expire(now);                // give up first: no 4th request
  ip4_t ip;
  while (neighbor_due_request(now, &ip)) {
    arp_send(ARP_REQUEST, broadcast_mac, ip);
    STAT(arp_tx_request);
    did = 1;
  }
  return did;
}

static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }

// smoltcp's poll_at (and the Python twin's Interface.poll_at): when, at the
// latest, iface_poll must run again even if no frame arrives. idle() skips
// the rounds before it, so an idle DOS64 does next to nothing on each tick.
uint64_t iface_poll_at(uint64_t now)
{
  uint64_t t = iface.announce ? now : NEVER;
  t = min64(t, neighbor_poll_at());
  t = min64(t, dhcp_poll_at(now));
  t = min64(t, tcp_poll_at());
  t = min64(t, httpd_poll_at(now));
  return min64(t, telnet_poll_at(now));
}

int iface_poll(uint64_t now)
{
  int did = 0;
  iface_polls++;
  for (int n = 0; n < MAX_FRAMES_PER_POLL; n++) {
    int len, slot;
    uint8_t *frame = virtio_net_receive(&len, &slot);
    if (!frame)
      break;
    iface_input(now, frame, len);
    virtio_net_rx_done(slot);
    did = 1;
  }
  virtio_net_reap_tx();
  did |= dhcp_poll(now);
  did |= services_poll(now);
  did |= tcp_poll(now);
  did |= timers(now);
  virtio_net_flush();
  return did;
}

// -- text forms ------------------------------------------------------------------
const char *ip4_str(ip4_t a)
{
  static char bufs[8][16];
  static int next;
  char *b = bufs[next++ % 8];
  const uint8_t *p = (const uint8_t *)&a;
  ksnprintf(b, 16, "%u.%u.%u.%u", p[0], p[1], p[2], p[3]);
  return b;
}

const char *mac_str(const uint8_t *m)
{
  static char bufs[2][18];
  static int next;
  char *b = bufs[next++ % 2];
  ksnprintf(b, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return b;
}

// "a.b.c.d" (nothing after it) -> *out; 0 if it is not one.
int ip4_parse(const char *s, ip4_t *out)
{
  uint8_t b[4];
  for (int i = 0; i < 4; i++) {
    if (*s < '0' || *s > '9')
      return 0;
    unsigned v = 0;
    for (int n = 0; *s >= '0' && *s <= '9'; n++, s++) {
      if (n == 3)
        return 0;
      v = v * 10 + (unsigned)(*s - '0');
    }
    if (v > 255)
      return 0;
    b[i] = (uint8_t)v;
    if (i < 3 && *s++ != '.')
      return 0;
  }
  if (*s)
    return 0;
  memcpy(out, b, 4);
  return 1;
}
