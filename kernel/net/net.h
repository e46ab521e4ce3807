// net/net.h -- the native network stack (net=kernel): what its files share.
//
// Layers, bottom up, one file each (the Python twin's module in brackets):
//   virtio_pci.c virtqueue.c virtio_net.c   the NIC      [hw/virtio/*]
//   iface.c      frames in and out, routing  [iface/interface.py]
//   neighbor.c   ARP cache + pending queue   [iface/neighbor.py]
//   arp.c ipv4.c icmp.c udp.c tcp*.c         protocols   [wire/*, socket/*]
//   dhcp.c       the DHCP client             [socket/dhcp.py]
//   http.c telnet.c                          services    [services/*]
//   ping.c wget.c netcmds.c                  shell commands [apps/*]
//   net.c        bring-up and the poll loop  [stack.py]
// Everything runs from net_poll (idle.c) on the kernel's one stack: no
// locks, no threads. Time is an argument (`now`, microseconds) as in the
// Python twin, read once per poll from clock_us().
// IPv4 addresses are uint32_t in network byte order, as on the wire.
#pragma once
#include "../defs.h"

typedef uint32_t ip4_t;
#define IP4(a, b, c, d) ((ip4_t)((a) | (b) << 8 | (c) << 16 | (uint32_t)(d) << 24))
#define IP4_ANY       ((ip4_t)0)
#define IP4_BROADCAST ((ip4_t)0xFFFFFFFF)

static inline uint16_t htons(uint16_t x) { return __builtin_bswap16(x); }
static inline uint16_t ntohs(uint16_t x) { return __builtin_bswap16(x); }
static inline uint32_t htonl(uint32_t x) { return __builtin_bswap32(x); }
static inline uint32_t ntohl(uint32_t x) { return __builtin_bswap32(x); }

#define MSEC 1000UL                   // time unit: microseconds
#define SEC  1000000UL

// -- wire formats (network byte order, packed: frames are byte arrays) ------
#define ETH_ALEN 6
#define ETH_HLEN 14
#define ETH_MTU  1500
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP  0x0806

struct eth_hdr {
  uint8_t dst[ETH_ALEN];
  uint8_t src[ETH_ALEN];
  uint16_t type;
} __attribute__((packed));

#define ARP_LEN 28
#define ARP_REQUEST 1
#define ARP_REPLY   2
struct arp_pkt {                      // RFC 826, Ethernet/IPv4 only
  uint16_t htype, ptype;
  uint8_t hlen, plen;
  uint16_t op;
  uint8_t sha[ETH_ALEN];
  ip4_t spa;
  uint8_t tha[ETH_ALEN];
  ip4_t tpa;
} __attribute__((packed));

#define IP_HLEN 20
#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP  6
#define IP_PROTO_UDP  17
#define IP_MF     0x2000
#define IP_DF     0x4000
#define IP_OFFMASK 0x1FFF
struct ip_hdr {                       // RFC 791 3.1
  uint8_t vhl;                        // version << 4 | header length in words
  uint8_t tos;
  uint16_t len;                       // total length
  uint16_t id;
  uint16_t frag;                      // flags, fragment offset
  uint8_t ttl;
  uint8_t proto;
  uint16_t sum;
  ip4_t src, dst;
} __attribute__((packed));

#define ICMP_HLEN 8
#define ICMP_ECHO_REPLY   0
#define ICMP_UNREACHABLE  3
#define ICMP_ECHO_REQUEST 8
#define ICMP_TIME_EXCEEDED 11
struct icmp_hdr {                     // RFC 792
  uint8_t type, code;
  uint16_t sum;
  uint16_t id, seq;                   // echo; "unused" in errors
} __attribute__((packed));

#define UDP_HLEN 8
struct udp_hdr {                      // RFC 768
  uint16_t sport, dport, len, sum;
} __attribute__((packed));

#define TCP_HLEN 20
struct tcp_hdr {                      // RFC 9293 3.1
  uint16_t sport, dport;
  uint32_t seq, ack;
  uint8_t off;                        // data offset in words << 4
  uint8_t flags;
  uint16_t win, sum, urp;
} __attribute__((packed));

// A frame being built: layers write their headers at fixed offsets.
#define PKT_MAX (ETH_HLEN + ETH_MTU)
struct pkt {
  int len;                            // bytes of data[] in use (whole frame)
  uint8_t data[PKT_MAX];
};
#define PKT_IP(p) ((struct ip_hdr *)((p)->data + ETH_HLEN))
#define PKT_L4(p) ((p)->data + ETH_HLEN + IP_HLEN)
#define L4_MAX    (ETH_MTU - IP_HLEN)

// -- counters (stats.c): every drop counted by reason, the Python names ------
#define NET_COUNTERS(X) \
  X(eth_rx) X(eth_tx) X(eth_rx_drop_truncated) X(eth_rx_drop_not_for_us) \
  X(eth_rx_drop_ethertype) \
  X(arp_rx) X(arp_rx_drop_length) X(arp_rx_drop_hardware_type) X(arp_rx_drop_protocol_type) \
  X(arp_rx_drop_hardware_length) X(arp_rx_drop_protocol_length) X(arp_rx_drop_operation) \
  X(arp_rx_drop_own_address) X(arp_rx_drop_conflict) X(arp_rx_drop_cache_full) \
  X(arp_tx_request) X(arp_tx_reply) X(arp_tx_gratuitous) X(arp_resolve_failed) \
  X(ipv4_rx) X(ipv4_tx) X(ipv4_rx_drop_length) X(ipv4_rx_drop_header_length) \
  X(ipv4_rx_drop_total_length) X(ipv4_rx_drop_version) X(ipv4_rx_drop_checksum) \
  X(ipv4_rx_drop_ttl) X(ipv4_rx_drop_source) X(ipv4_rx_drop_not_for_us) \
  X(ipv4_rx_drop_fragment) X(ipv4_rx_drop_protocol) X(ipv4_tx_drop_no_route) \
  X(ipv4_tx_drop_too_big) X(ipv4_tx_drop_no_arp_reply) X(ipv4_tx_drop_arp_queue_full) \
  X(ipv4_tx_drop_ring_full) \
  X(icmp_rx) X(icmp_rx_drop_length) X(icmp_rx_drop_checksum) X(icmp_rx_drop_echo_not_for_us) \
  X(icmp_rx_drop_no_socket) X(icmp_tx_echo_request) X(icmp_tx_echo_reply) X(icmp_tx_error) \
  X(icmp_tx_drop_rate_limited) \
  X(udp_rx) X(udp_tx) X(udp_rx_drop_length) X(udp_rx_drop_checksum) X(udp_rx_drop_no_socket) \
  X(udp_rx_drop_full) \
  X(tcp_rx) X(tcp_tx) X(tcp_rx_drop_length) X(tcp_rx_drop_data_offset) X(tcp_rx_drop_checksum) \
  X(tcp_rx_drop_broadcast) X(tcp_rx_drop_no_socket) X(tcp_rx_drop_backlog_full) \
  X(tcp_rx_drop_out_of_window) X(tcp_rx_drop_out_of_order) X(tcp_rx_drop_options) X(tcp_rx_drop_bad_ack) X(tcp_tx_reset) X(tcp_tx_challenge_ack) \
  X(tcp_retransmit) X(tcp_timeout) X(tcp_accepted) X(tcp_connected) \
  X(dhcp_rx) X(dhcp_rx_drop_malformed) X(dhcp_rx_drop_xid) X(dhcp_tx)

enum net_counter {
#define X(name) STAT_##name,
  NET_COUNTERS(X)
#undef X
  NSTATS
};
extern uint64_t net_stats[NSTATS];
extern const char *const net_stat_names[NSTATS];
#define STAT(name) (net_stats[STAT_##name]++)

// -- virtio_net.c: the NIC ---------------------------------------------------
struct nic_info {
  const char *transport;              // "modern" / "legacy"
  uint16_t device_id;
  uint64_t offered, negotiated;
  int header_len, queue_size, irq;    // irq -1: polled from the tick
  uint8_t status;
  uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes, interrupts;
};
int      virtio_net_init(int want_modern);    // 0: no virtio-net device
const uint8_t *virtio_net_mac(void);
uint8_t *virtio_net_receive(int *len, int *slot);   // a frame in place, or NULL
void     virtio_net_rx_done(int slot);
int      virtio_net_send(const uint8_t *frame, int len);   // 0: TX ring full
void     virtio_net_reap_tx(void);
void     virtio_net_flush(void);      // publish and kick both queues
int      virtio_net_irq_pending(void);
void     virtio_net_info(struct nic_info *out);
struct virtq;
struct virtq *virtio_net_queue(int index);

// -- checksum.c ----------------------------------------------------------------
uint32_t checksum_add(uint32_t sum, const void *data, int len);
uint16_t checksum_fold(uint32_t sum);
uint32_t checksum_pseudo(ip4_t src, ip4_t dst, uint8_t proto, int len);
uint32_t crc32_update(uint32_t crc, const void *data, size_t len);   // start with 0

// -- iface.c -------------------------------------------------------------------
struct iface {
  uint8_t mac[ETH_ALEN];
  ip4_t addr, netmask, gateway;       // addr 0: not configured
  ip4_t dns[2];
  int ndns;
  const char *source;                 // "dhcp", "static", or "none"
  int announce;                       // a gratuitous ARP is due
  uint16_t ident;                     // IPv4 identification of the next packet
};
extern struct iface iface;
extern uint64_t iface_polls;            // rounds of iface_poll (the status document's "polls")
void  iface_configure(ip4_t addr, ip4_t mask, ip4_t gw, const ip4_t *dns, int ndns, const char *source);
void  iface_deconfigure(void);
int   iface_poll(uint64_t now);
uint64_t iface_poll_at(uint64_t now);  // the next time iface_poll has work without new frames
#define NEVER (~0UL)
void  iface_input(uint64_t now, uint8_t *frame, int len);
ip4_t iface_next_hop(ip4_t dst);
int   iface_frame(const uint8_t *dst_mac, uint16_t type, struct pkt *p);
int   ip4_is_broadcast(ip4_t a);      // limited or our subnet's
const char *ip4_str(ip4_t a);         // "10.0.2.15" (8 rotating buffers)
const char *mac_str(const uint8_t *m);
int   ip4_parse(const char *s, ip4_t *out);

// -- neighbor.c: ARP cache and packets waiting for an answer --------------------
#define NEIGHBOR_CAPACITY 64
#define ENTRY_LIFETIME   (60 * SEC)
#define REQUEST_INTERVAL (1 * SEC)
#define RESOLVE_TIMEOUT  (3 * SEC)
#define PENDING_PER_NEIGHBOR 16
#define PENDING_ADDRESSES 8
#define PENDING_PACKETS 64
struct neighbor {
  ip4_t ip;
  uint8_t mac[ETH_ALEN];
  uint64_t expires_at;                // 0: free slot
  uint64_t last_used;
};
extern struct neighbor neighbors[NEIGHBOR_CAPACITY];
const uint8_t *neighbor_lookup(ip4_t ip, uint64_t now);
const char *neighbor_learn(ip4_t ip, const uint8_t *mac, uint64_t now, int solicited);
void  neighbor_refresh(ip4_t ip, const uint8_t *mac, uint64_t now);
int   neighbor_asked(ip4_t ip);
int   neighbor_known(ip4_t ip);
int   neighbor_enqueue(ip4_t hop, struct pkt *p, uint64_t now);
struct pkt *neighbor_dequeue(ip4_t ip);   // a waiting packet for ip (then free it)
void  neighbor_free(struct pkt *p);
void  neighbor_resolve(ip4_t ip, uint64_t now);   // ask now, with nothing waiting
int   neighbor_due_request(uint64_t now, ip4_t *ip);
int   neighbor_expire(uint64_t now);   // packets given up
int   neighbor_pending_count(void);
uint64_t neighbor_poll_at(void);
ip4_t neighbor_pending_addr(int i);

// -- arp.c ---------------------------------------------------------------------
void arp_input(uint64_t now, const uint8_t *payload, int len);
void arp_send(uint16_t op, const uint8_t *dst_mac, ip4_t target_ip);

// -- ipv4.c --------------------------------------------------------------------
void  ipv4_input(uint64_t now, const uint8_t *src_mac, int eth_broadcast, uint8_t *payload, int len);
int   ipv4_output(uint64_t now, struct pkt *p, ip4_t dst, uint8_t proto, int l4len);

// -- icmp.c --------------------------------------------------------------------
#define PING_SOCKETS 2
#define PING_QUEUE 16
struct echo_result {
  ip4_t from;
  uint16_t seq;
  uint8_t ttl, type, code;            // type 0: reply; else the ICMP error
  int size;                           // ICMP bytes, as ping prints them
  uint64_t rtt_us;
};
void icmp_input(uint64_t now, const struct ip_hdr *ip, int broadcast, uint8_t *payload, int len);
void icmp_error(uint64_t now, const struct ip_hdr *about, int about_len, uint8_t type, uint8_t code);
int  ping_open(void);                 // a socket id, or -1
void ping_close(int s);
int  ping_send(int s, uint64_t now, ip4_t dst, uint16_t seq, int data_len);
int  ping_recv(int s, struct echo_result *out);

// -- udp.c ---------------------------------------------------------------------
#define UDP_SOCKETS 8
#define UDP_QUEUE 8
void udp_input(uint64_t now, const struct ip_hdr *ip, int broadcast, uint8_t *payload, int len);
int  udp_open(uint16_t port);         // a socket id, or -1
void udp_close(int s);
int  udp_send_to(int s, uint64_t now, ip4_t dst, uint16_t dport, const void *data, int len);
int  udp_recv_from(int s, void *buf, int cap, ip4_t *src, uint16_t *sport);   // -1: none
int  udp_describe(int i, uint16_t *port, int *queued);

// -- dhcp.c --------------------------------------------------------------------
struct dhcp_lease {
  ip4_t address, netmask, router, server;
  ip4_t dns[2];
  int ndns;
  uint32_t lease_time, t1, t2;        // seconds
  uint64_t obtained_at;               // microseconds since boot
};
void dhcp_start(uint64_t now, int verbose);
int  dhcp_poll(uint64_t now);
int  dhcp_bound(void);
const char *dhcp_state_name(void);
const struct dhcp_lease *dhcp_lease(void);
void dhcp_stop(void);
uint64_t dhcp_poll_at(uint64_t now);

static inline uint32_t rdtsc_low(void)  // cheap entropy: ISNs, xids, idents
{
  uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return lo ^ hi;
}

// -- tcp*.c, services -------------------------------------------------------------
void tcp_input(uint64_t now, const struct ip_hdr *ip, int broadcast, uint8_t *payload, int len);
void tcp_init(void);
int  tcp_poll(uint64_t now);
uint64_t tcp_poll_at(void);
int  tcp_acceptable(int l);                      // an established connection waits for accept
int  tcp_listen(uint16_t port, int backlog);     // a listener id, or -1
void tcp_unlisten(int l, uint64_t now);
int  tcp_accept(int l);                          // a socket id, or -1
int  tcp_connect(uint64_t now, ip4_t dst, uint16_t port);
int  tcp_recv(int s, void *buf, int n);
int  tcp_send(int s, const void *buf, int n);
int  tcp_send_room(int s);
int  tcp_readable(int s);
int  tcp_eof(int s);
int  tcp_established(int s);
void tcp_peer(int s, char *buf, int cap);         // "10.0.2.2:41234"
int  tcp_error_of(int s);                        // enum tcp_error (tcp.h)
const char *tcp_state_of(int s);
void tcp_close(int s);
void tcp_abort(int s, uint64_t now);
int  services_poll(uint64_t now);
void httpd_start(void);
void httpd_stop(void);
int  httpd_running(void);
void telnet_start(void);
void tcp_netstat(void);

// -- shell commands (netcmds.c, ping.c, wget.c, http.c) ---------------------------
int  net_command_ok(const char *name);

// -- status.c, http.c, telnet.c, wget.c ---------------------------------------------
int  status_json(char *buf, int cap);
int  httpd_poll(uint64_t now);
int  telnet_poll(uint64_t now);
uint64_t httpd_poll_at(uint64_t now);
uint64_t telnet_poll_at(uint64_t now);

// -- net.c ---------------------------------------------------------------------
int net_up(void);                     // the NIC is ours and running
void net_wake(void);                  // work was queued outside a poll: poll at the next idle()
