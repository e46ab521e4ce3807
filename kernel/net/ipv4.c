// net/ipv4.c -- IPv4 (RFC 791): check every header before believing it,
// hand the payload to ICMP, UDP or TCP; on the way out, add the header,
// pick the next hop and its MAC (or queue the packet until ARP answers).
//
// Checks, in the Python twin's order (dos64lab/wire/ipv4.py and
// Interface._ipv4), each drop counted under ipv4_rx_drop_<reason>:
// length, header length, total length (the frame may carry Ethernet
// padding past it: trimmed), version, checksum, TTL 0, a source that
// names no single host (RFC 1122 3.2.1.3), and a destination that is not
// us. While unconfigured, UDP to any address is taken: a DHCP server may
// unicast its OFFER to the address it offers.
// Fragments are not reassembled: they are dropped and counted
// (ipv4_rx_drop_fragment). Nothing is fragmented on the way out either:
// TCP's MSS keeps segments under the MTU, and bigger packets are refused.
#include "net.h"

static int bad_source(const struct ip_hdr *ip)
{
  uint8_t first = ((const uint8_t *)&ip->src)[0];
  return first >= 224                                  // multicast, class E, broadcast
      || (iface.addr && ip->src == (iface.addr | ~iface.netmask))
      || (ip->src == IP4_ANY && ip->proto != IP_PROTO_UDP);
}

void ipv4_input(uint64_t now, const uint8_t *src_mac, int eth_broadcast, uint8_t *payload, int len)
{
  (void)eth_broadcast;
  if (len < IP_HLEN) { STAT(ipv4_rx_drop_length); return; }
  struct ip_hdr *ip = (struct ip_hdr *)payload;
  int hlen = (ip->vhl & 0x0F) * 4;
  if (hlen < IP_HLEN || hlen > len) { STAT(ipv4_rx_drop_header_length); return; }
  int total = ntohs(ip->len);
  if (total < hlen || total > len) { STAT(ipv4_rx_drop_total_length); return; }
  if (ip->vhl >> 4 != 4) { STAT(ipv4_rx_drop_version); return; }
  if (checksum_fold(checksum_add(0, ip, hlen)) != 0) { STAT(ipv4_rx_drop_checksum); return; }
  if (ip->ttl == 0) { STAT(ipv4_rx_drop_ttl); return; }
  if (bad_source(ip)) { STAT(ipv4_rx_drop_source); return; }
  int broadcast = ip4_is_broadcast(ip->dst);
  if (ip->dst != iface.addr && !broadcast && !(iface.addr == IP4_ANY && ip->proto == IP_PROTO_UDP)) {
    STAT(ipv4_rx_drop_not_for_us);
    return;
  }
  STAT(ipv4_rx);
  neighbor_refresh(ip->src, src_mac, now);              // traffic keeps an entry alive
  if (ntohs(ip->frag) & (IP_MF | IP_OFFMASK)) {
    STAT(ipv4_rx_drop_fragment);                        // no reassembly (yet)
    return;
  }
  uint8_t *l4 = payload + hlen;
  int l4len = total - hlen;
  switch (ip->proto) {
  case IP_PROTO_ICMP:
    icmp_input(now, ip, broadcast, l4, l4len);
    break;
  case IP_PROTO_UDP:
    udp_input(now, ip, broadcast, l4, l4len);
    break;
  case IP_PROTO_TCP:
    tcp_input(now, ip, broadcast, l4, l4len);
    break;
  default:
    STAT(ipv4_rx_drop_protocol);
    if (!broadcast)
      icmp_error(now, ip, total, ICMP_UNREACHABLE, 2);  // protocol unreachable
  }
}

// Send the l4len bytes at PKT_L4(p) to dst: add the IPv4 header, route,
// resolve and frame. 0 if the packet was dropped (counted); a packet
// waiting for ARP counts as sent.
int ipv4_output(uint64_t now, struct pkt *p, ip4_t dst, uint8_t proto, int l4len)
{
  net_wake();                         // sent outside a poll (PING, DHCP): kick it out soon
  if (l4len > L4_MAX) {
    STAT(ipv4_tx_drop_too_big);
    return 0;
  }
  ip4_t hop = iface_next_hop(dst);
  if (hop == IP4_ANY || hop == iface.addr) {
    STAT(ipv4_tx_drop_no_route);
    return 0;
  }
  struct ip_hdr *ip = PKT_IP(p);
  ip->vhl = 0x45;
  ip->tos = 0;
  ip->len = htons((uint16_t)(IP_HLEN + l4len));
  ip->id = htons(iface.ident++);
  ip->frag = 0;
  ip->ttl = 64;
  ip->proto = proto;
  ip->sum = 0;
  ip->src = iface.addr;
  ip->dst = dst;
  ip->sum = checksum_fold(checksum_add(0, ip, IP_HLEN));
  p->len = ETH_HLEN + IP_HLEN + l4len;
  if (p->len < 60) {                                    // Ethernet minimum: pad
    memset(p->data + p->len, 0, 60 - p->len);
    p->len = 60;
  }

  static const uint8_t broadcast_mac[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
  const uint8_t *mac = hop == IP4_BROADCAST ? broadcast_mac : neighbor_lookup(hop, now);
  if (mac) {
    STAT(ipv4_tx);
    return iface_frame(mac, ETHERTYPE_IPV4, p);
  }
  if (!neighbor_enqueue(hop, p, now)) {                 // the whole packet waits
    STAT(ipv4_tx_drop_arp_queue_full);
    return 0;
  }
  return 1;
}
