// net/dhcp.c -- the DHCP client (RFC 2131): an address, a router and DNS
// servers, leased. A state machine over time (RFC 2131 4.4, figure 5), run
// from iface_poll like every socket; the Python twin is
// dos64lab/socket/dhcp.py, with the same states and the same deviations:
//
//   INIT --DISCOVER--> SELECTING --OFFER/REQUEST--> REQUESTING --ACK--> BOUND
//   BOUND --T1--> RENEWING (REQUEST unicast to the server)
//   RENEWING --T2--> REBINDING (REQUEST broadcast)
//   RENEWING/REBINDING --ACK--> BOUND; NAK or the lease running out --> INIT
//
// * no random 1-10 s wait before the first DISCOVER (4.4.1): one client here;
// * the first OFFER is taken; no ARP probe of it, hence no DECLINE;
// * retransmission starts at RETRANSMIT (not 4 s, 4.1): slirp answers in
//   microseconds, and the ready line waits for the lease.
// QEMU's slirp under restrict=on leases 10.0.2.15/24 with no router and no
// DNS option: for a lease in 10.0.2.0/24 the client then takes slirp's
// fixed 10.0.2.2 and 10.0.2.3, and says so.
// Every message is length-checked and its options walked within bounds;
// anything malformed is dropped and counted.
#include "net.h"

#define CLIENT_PORT 68
#define SERVER_PORT 67
#define RETRANSMIT      (500 * MSEC)
#define MAX_RETRANSMIT  (8 * SEC)
#define REQUEST_TRIES   4
#define MSG_MIN   300                 // BOOTP's minimum message (RFC 1542 2.1)
#define OPTIONS   240                 // after the fixed fields and the magic cookie
#define COOKIE    0x63538263          // 99.130.83.99, as read little-endian

enum { INIT, SELECTING, REQUESTING, BOUND, RENEWING, REBINDING, STOPPED };
static const char *const state_names[] = {
  "INIT", "SELECTING", "REQUESTING", "BOUND", "RENEWING", "REBINDING", "STOPPED",
};
enum { DISCOVER = 1, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE };
static const char *const type_names[] = {
  "?", "DISCOVER", "OFFER", "REQUEST", "DECLINE", "ACK", "NAK", "RELEASE",
};

static struct {
  int state;
  int sock;
  int verbose;                        // print each step (the DHCP command)
  uint32_t xid;
  uint64_t started, next_send, interval;
  int tries;
  ip4_t offered, server;
  struct dhcp_lease lease;
} d = { .state = STOPPED, .sock = -1 };

static void step(uint64_t now, const char *what, const char *detail)
{
  if (d.verbose)
    kprintf("%6lu.%03lu ms  %-9s %s\n", (now - d.started) / 1000, (now - d.started) % 1000,
            what, detail);
}

static void set_state(int s)
{
  d.state = s;
  d.tries = 0;
  d.interval = RETRANSMIT;
}

static void send(uint64_t now, int type, ip4_t dst, ip4_t ciaddr, ip4_t requested, ip4_t server)
{
  static uint8_t m[MSG_MIN];
  memset(m, 0, sizeof m);
  m[0] = 1;                           // op BOOTREQUEST
  m[1] = 1;                           // htype Ethernet
  m[2] = ETH_ALEN;                    // hlen
  memcpy(m + 4, &d.xid, 4);
  uint16_t secs = htons((uint16_t)((now - d.started) / SEC));
  memcpy(m + 8, &secs, 2);
  memcpy(m + 12, &ciaddr, 4);
  memcpy(m + 28, iface.mac, ETH_ALEN);  // chaddr
  uint32_t cookie = COOKIE;
  memcpy(m + 236, &cookie, 4);
  uint8_t *o = m + OPTIONS;
  *o++ = 53; *o++ = 1; *o++ = (uint8_t)type;              // message type
  if (requested) { *o++ = 50; *o++ = 4; memcpy(o, &requested, 4); o += 4; }
  if (server) { *o++ = 54; *o++ = 4; memcpy(o, &server, 4); o += 4; }
  static const uint8_t params[] = { 1, 3, 6, 51, 54, 58, 59 };  // RFC 2132 9.8
  *o++ = 55; *o++ = sizeof params;
  memcpy(o, params, sizeof params);
  o += sizeof params;
  *o++ = 255;                                               // end
  udp_send_to(d.sock, now, dst, SERVER_PORT, m, sizeof m);
  STAT(dhcp_tx);
  step(now, "sent", type_names[type]);
}

static void retransmit_later(uint64_t now)
{
  d.next_send = now + d.interval;
  d.interval = d.interval * 2 > MAX_RETRANSMIT ? MAX_RETRANSMIT : d.interval * 2;
  d.tries++;
}

void dhcp_start(uint64_t now, int verbose)
{
  if (d.sock < 0)
    d.sock = udp_open(CLIENT_PORT);
  if (d.sock < 0)
    panic("dhcp: UDP port %d is taken", CLIENT_PORT);
  d.verbose = verbose;
  d.started = now;
  d.xid = rdtsc_low();
  memset(&d.lease, 0, sizeof d.lease);
  set_state(INIT);
  d.next_send = now;
  net_wake();
}

uint64_t dhcp_poll_at(uint64_t now)
{
  switch (d.state) {
  case INIT:
    return now;
  case BOUND:
    return d.lease.obtained_at + (uint64_t)d.lease.t1 * SEC;
  case STOPPED:
    return NEVER;
  default:
    return d.next_send;               // retransmissions; renew/rebind/expiry checked with them
  }
}

void dhcp_stop(void)
{
  d.state = STOPPED;
  d.verbose = 0;
}

int dhcp_bound(void)
{
  return d.state == BOUND;
}

const char *dhcp_state_name(void)
{
  return state_names[d.state];
}

const struct dhcp_lease *dhcp_lease(void)
{
  return d.lease.address ? &d.lease : 0;
}

// What the options say; 0 if they are malformed (run past the end, or
// have no END).
struct opts {
  int type;
  ip4_t mask, router, server, dns[2];
  int ndns;
  uint32_t lease, t1, t2;
  int has_lease, has_t1, has_t2;
};

static int parse_options(const uint8_t *p, int len, struct opts *o)
{
  memset(o, 0, sizeof *o);
  int i = OPTIONS;
  while (i < len) {
    uint8_t code = p[i];
    if (code == 0) { i++; continue; }                     // pad
    if (code == 255) return 1;                            // end
    if (i + 2 > len || i + 2 + p[i + 1] > len)
      return 0;
    int n = p[i + 1];
    const uint8_t *v = p + i + 2;
    uint32_t u32 = n >= 4 ? (uint32_t)v[0] << 24 | v[1] << 16 | v[2] << 8 | v[3] : 0;
    switch (code) {
    case 53: if (n >= 1) o->type = v[0]; break;
    case 1:  if (n >= 4) memcpy(&o->mask, v, 4); break;
    case 3:  if (n >= 4) memcpy(&o->router, v, 4); break;
    case 54: if (n >= 4) memcpy(&o->server, v, 4); break;
    case 6:
      for (int k = 0; k + 4 <= n && o->ndns < 2; k += 4)
        memcpy(&o->dns[o->ndns++], v + k, 4);
      break;
    case 51: if (n >= 4) { o->lease = u32; o->has_lease = 1; } break;
    case 58: if (n >= 4) { o->t1 = u32; o->has_t1 = 1; } break;
    case 59: if (n >= 4) { o->t2 = u32; o->has_t2 = 1; } break;
    }
    i += 2 + n;
  }
  return 0;
}

static void bound(uint64_t now, ip4_t yiaddr, const struct opts *o)
{
  struct dhcp_lease *l = &d.lease;
  l->address = yiaddr;
  l->netmask = o->mask ? o->mask : IP4(255, 255, 255, 0);
  l->router = o->router;
  l->server = o->server ? o->server : d.server;
  l->ndns = o->ndns;
  l->dns[0] = o->dns[0];
  l->dns[1] = o->dns[1];
  int slirp = (yiaddr & IP4(255, 255, 255, 0)) == IP4(10, 0, 2, 0);
  if (slirp && !l->router)
    l->router = IP4(10, 0, 2, 2);     // slirp's fixed gateway (restrict=on sends none)
  if (slirp && !l->ndns) {
    l->dns[0] = IP4(10, 0, 2, 3);
    l->ndns = 1;
  }
  l->lease_time = o->has_lease ? o->lease : 86400;
  l->t1 = o->has_t1 ? o->t1 : l->lease_time / 2;           // RFC 2131 4.4.5
  l->t2 = o->has_t2 ? o->t2 : l->lease_time / 8 * 7;
  l->obtained_at = now;
  iface_configure(l->address, l->netmask, l->router, l->dns, l->ndns, "dhcp");
  set_state(BOUND);
}

static void receive(uint64_t now, const uint8_t *p, int len)
{
  STAT(dhcp_rx);
  uint32_t xid, cookie;
  if (len < OPTIONS || p[0] != 2 || p[1] != 1 || p[2] != ETH_ALEN) {
    STAT(dhcp_rx_drop_malformed);
    return;
  }
  memcpy(&xid, p + 4, 4);
  memcpy(&cookie, p + 236, 4);
  if (xid != d.xid || memcmp(p + 28, iface.mac, ETH_ALEN) != 0) {
    STAT(dhcp_rx_drop_xid);
    return;
  }
  struct opts o;
  if (cookie != COOKIE || !parse_options(p, len, &o) || o.type < 1 || o.type > 7) {
    STAT(dhcp_rx_drop_malformed);
    return;
  }
  ip4_t yiaddr;
  memcpy(&yiaddr, p + 16, 4);
  char detail[64];
  ksnprintf(detail, sizeof detail, "%s from %s", ip4_str(yiaddr), ip4_str(o.server));
  step(now, "received", type_names[o.type]);

  if (o.type == OFFER && d.state == SELECTING) {
    d.offered = yiaddr;
    d.server = o.server;
    step(now, "offer", detail);
    set_state(REQUESTING);
    send(now, REQUEST, IP4_BROADCAST, 0, d.offered, d.server);
    retransmit_later(now);
  } else if (o.type == ACK && (d.state == REQUESTING || d.state == RENEWING || d.state == REBINDING)) {
    bound(now, yiaddr, &o);
    step(now, "state", "BOUND");
  } else if (o.type == NAK && d.state != SELECTING && d.state != BOUND) {
    step(now, "state", "INIT (NAK)");
    iface_deconfigure();
    set_state(INIT);
    d.next_send = now;
  }
}

int dhcp_poll(uint64_t now)
{
  if (d.state == STOPPED)
    return 0;
  int did = 0;
  static uint8_t buf[L4_MAX];
  ip4_t src;
  uint16_t sport;
  int n;
  while ((n = udp_recv_from(d.sock, buf, sizeof buf, &src, &sport)) >= 0) {
    if (sport == SERVER_PORT)
      receive(now, buf, n);
    did = 1;
  }

  struct dhcp_lease *l = &d.lease;
  switch (d.state) {
  case INIT:
    d.xid = rdtsc_low();
    set_state(SELECTING);
    d.next_send = now;
    /* fall through */
  case SELECTING:
    if (now >= d.next_send) {
      send(now, DISCOVER, IP4_BROADCAST, 0, 0, 0);
      retransmit_later(now);
      did = 1;
    }
    break;
  case REQUESTING:
    if (now >= d.next_send) {
      if (d.tries >= REQUEST_TRIES) {
        set_state(INIT);              // the server went quiet: start over
        return 1;
      }
      send(now, REQUEST, IP4_BROADCAST, 0, d.offered, d.server);
      retransmit_later(now);
      did = 1;
    }
    break;
  case BOUND:
    if (now >= l->obtained_at + (uint64_t)l->t1 * SEC) {
      set_state(RENEWING);
      d.next_send = now;
      did = 1;
    }
    break;
  case RENEWING:
  case REBINDING:
    if (now >= l->obtained_at + (uint64_t)l->lease_time * SEC) {
      iface_deconfigure();            // the lease ran out
      set_state(INIT);
      return 1;
    }
    if (d.state == RENEWING && now >= l->obtained_at + (uint64_t)l->t2 * SEC)
      set_state(REBINDING);
    if (now >= d.next_send) {
      ip4_t to = d.state == RENEWING ? l->server : IP4_BROADCAST;
      send(now, REQUEST, to, l->address, 0, 0);
      retransmit_later(now);
      did = 1;
    }
    break;
  }
  return did;
}
