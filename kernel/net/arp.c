// net/arp.c -- ARP (RFC 826) for Ethernet and IPv4: answer requests for
// our address, learn from what talks to us, and send the waiting packets
// when an answer comes (neighbor.c keeps the cache and the queue).
// The Python twin: Interface._arp in dos64lab/iface/interface.py.
#include "net.h"

static const uint8_t zero_mac[ETH_ALEN];

void arp_input(uint64_t now, const uint8_t *payload, int len)
{
  if (len < ARP_LEN) {
    STAT(arp_rx_drop_length);
    return;
  }
  const struct arp_pkt *a = (const struct arp_pkt *)payload;
  if (ntohs(a->htype) != 1) { STAT(arp_rx_drop_hardware_type); return; }
  if (ntohs(a->ptype) != ETHERTYPE_IPV4) { STAT(arp_rx_drop_protocol_type); return; }
  if (a->hlen != ETH_ALEN) { STAT(arp_rx_drop_hardware_length); return; }
  if (a->plen != 4) { STAT(arp_rx_drop_protocol_length); return; }
  uint16_t op = ntohs(a->op);
  if (op != ARP_REQUEST && op != ARP_REPLY) { STAT(arp_rx_drop_operation); return; }

  ip4_t me = iface.addr;
  if (me && a->spa == me) {
    // our own ARP looped back, or another host using our address (RFC 5227 2.4)
    STAT(arp_rx_drop_own_address);
    return;
  }
  STAT(arp_rx);
  int for_me = me && a->tpa == me;
  int solicited = op == ARP_REPLY && for_me && neighbor_asked(a->spa);
  // RFC 826 "merge": update what we know; add only what talks to us
  if ((for_me || neighbor_known(a->spa) || solicited) && a->spa != IP4_ANY) {
    const char *refused = neighbor_learn(a->spa, a->sha, now, solicited);
    if (refused && refused[0] == 'c')
      STAT(arp_rx_drop_conflict);
    else if (refused)
      STAT(arp_rx_drop_cache_full);
    struct pkt *p;
    while (!refused && (p = neighbor_dequeue(a->spa))) {
      STAT(ipv4_tx);
      iface_frame(a->sha, ETHERTYPE_IPV4, p);
      neighbor_free(p);
    }
  }
  if (op == ARP_REQUEST && for_me) {
    arp_send(ARP_REPLY, a->sha, a->spa);
    STAT(arp_tx_reply);
  }
}

// A request (dst_mac broadcast, asking for target_ip) or a reply to dst_mac.
void arp_send(uint16_t op, const uint8_t *dst_mac, ip4_t target_ip)
{
  static struct pkt p;
  struct arp_pkt *a = (struct arp_pkt *)(p.data + ETH_HLEN);
  a->htype = htons(1);
  a->ptype = htons(ETHERTYPE_IPV4);
  a->hlen = ETH_ALEN;
  a->plen = 4;
  a->op = htons(op);
  memcpy(a->sha, iface.mac, ETH_ALEN);
  a->spa = iface.addr;
  memcpy(a->tha, op == ARP_REPLY ? dst_mac : zero_mac, ETH_ALEN);
  a->tpa = target_ip;
  p.len = ETH_HLEN + ARP_LEN;
  memset(p.data + p.len, 0, 60 - p.len);   // pad to the Ethernet minimum
  p.len = 60;
  iface_frame(dst_mac, ETHERTYPE_ARP, &p);
}
