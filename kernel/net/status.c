// net/status.c -- the status document, GET /api/status: the kernel, the
// interface and its counters, the ARP cache, the sockets, the virtqueues
// and the DHCP lease as JSON. Its shape is the one the Python server
// serves, defined once in dos64lab/services/status.py ("dos64lab-status/1",
// every key always present, null where noted); the tests check this one
// against it with check_shape.
#include "tcp.h"
#include "virtio.h"

struct json {
  char *b;
  int cap, len;
};

static void put(struct json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct json *j, const char *fmt, ...)
{
  __builtin_va_list ap;
  __builtin_va_start(ap, fmt);
  int room = j->cap - j->len;
  int n = kvsnprintf(j->b + j->len, room > 0 ? room : 0, fmt, ap);
  __builtin_va_end(ap);
  j->len += n;
}

// Seconds with `places` decimals from microseconds.
static void seconds(struct json *j, uint64_t us, int places)
{
  if (places == 3)
    put(j, "%lu.%03lu", us / SEC, us % SEC / 1000);
  else
    put(j, "%lu.%01lu", us / SEC, us % SEC / 100000);
}

static void ip_or_null(struct json *j, ip4_t a)
{
  if (a)
    put(j, "\"%s\"", ip4_str(a));
  else
    put(j, "null");
}

static void socket_entry(struct json *j, int *first, const char *proto, const char *state,
                         const char *local, const char *remote, uint64_t rxq, uint64_t txq,
                         const char *counters)
{
  put(j, "%s{\"proto\":\"%s\",\"state\":\"%s\",\"local\":", *first ? "" : ",", proto, state);
  put(j, local ? "\"%s\"" : "%snull", local ? local : "");
  put(j, ",\"remote\":");
  put(j, remote ? "\"%s\"" : "%snull", remote ? remote : "");
  put(j, ",\"rx_queue\":%lu,\"tx_queue\":%lu,\"counters\":{%s}}", rxq, txq, counters);
  *first = 0;
}

static void sockets(struct json *j)
{
  int first = 1;
  char local[24], remote[24], counters[128];
  for (int i = 0; i < UDP_SOCKETS; i++) {
    uint16_t port;
    int queued;
    if (!udp_describe(i, &port, &queued))
      continue;
    ksnprintf(local, sizeof local, "%s:%u", iface.addr ? ip4_str(iface.addr) : "*", port);
    int dhcp = port == 68;
    socket_entry(j, &first, dhcp ? "dhcp" : "udp", dhcp ? dhcp_state_name() : "OPEN", local, 0,
                 (uint64_t)queued, 0, "");
  }
  for (int i = 0; i < TCP_LISTENERS; i++) {
    if (!tcp_listeners[i].used)
      continue;
    int ready = 0;
    for (int k = 0; k < TCP_SOCKETS; k++)
      ready += tcbs[k].used && !tcbs[k].owned && tcbs[k].listener == i && tcbs[k].state != SYN_RECEIVED;
    ksnprintf(local, sizeof local, "*:%u", tcp_listeners[i].port);
    socket_entry(j, &first, "tcp", "LISTEN", local, 0, (uint64_t)ready,
                 (uint64_t)tcp_listeners[i].backlog, "");
  }
  for (int i = 0; i < TCP_SOCKETS; i++) {
    struct tcb *t = &tcbs[i];
    if (!t->used)
      continue;
    ksnprintf(local, sizeof local, "%s:%u", ip4_str(iface.addr), t->lport);
    ksnprintf(remote, sizeof remote, "%s:%u", ip4_str(t->raddr), t->rport);
    ksnprintf(counters, sizeof counters,
              "\"rx_segments\":%lu,\"tx_segments\":%lu,\"retransmits\":%lu,\"rto_ms\":%lu,\"srtt_us\":%lu",
              t->rx_segments, t->tx_segments, t->retransmits, t->rto / 1000, t->srtt);
    socket_entry(j, &first, "tcp", tcp_state_names[t->state], local, remote, t->rx_len, t->tx_len, counters);
  }
}

static void queue(struct json *j, const char *name, struct virtq *q)
{
  put(j, "\"%s\":{\"index\":%u,\"size\":%u,\"avail_idx\":%u,\"used_idx\":%u,\"last_used_idx\":%u,"
         "\"num_free\":%u,\"kicks\":%lu,\"kicks_suppressed\":%lu}",
      name, q->index, q->size, q->avail->idx, q->used->idx, q->last_used_idx, q->num_free,
      q->kicks, q->kicks_suppressed);
}

// The document into buf (NUL-terminated); returns its length (which may
// exceed cap: then it was cut).
int status_json(char *buf, int cap)
{
  struct json j = { buf, cap, 0 };
  uint64_t now = clock_us();
  put(&j, "{\"schema\":\"dos64lab-status/1\",\"time\":");
  seconds(&j, unix_time_us(), 3);
  put(&j, ",\"kernel\":{\"name\":\"DOS64\",\"version\":\"%s\",\"net\":\"%s\",\"uptime_s\":",
      DOS64_VERSION, net_mode_name());
  seconds(&j, now, 3);
  put(&j, "},\"stack\":{\"name\":\"DOS64\",\"polls\":%lu}", iface_polls);

  put(&j, ",\"interface\":{\"mac\":\"%s\",\"address\":", mac_str(iface.mac));
  if (iface.addr) {
    int prefix = 0;
    for (ip4_t m = iface.netmask; m; m >>= 1)
      prefix += m & 1;
    put(&j, "\"%s/%d\"", ip4_str(iface.addr), prefix);
  } else {
    put(&j, "null");
  }
  put(&j, ",\"gateway\":");
  ip_or_null(&j, iface.gateway);
  put(&j, ",\"dns_servers\":[");
  for (int i = 0; i < iface.ndns; i++)
    put(&j, "%s\"%s\"", i ? "," : "", ip4_str(iface.dns[i]));
  put(&j, "],\"counters\":{");
  for (int i = 0; i < NSTATS; i++)
    put(&j, "%s\"%s\":%lu", i ? "," : "", net_stat_names[i], net_stats[i]);
  put(&j, "}},\"arp\":[");
  int first = 1;
  for (int i = 0; i < NEIGHBOR_CAPACITY; i++) {
    struct neighbor *e = &neighbors[i];
    if (e->expires_at <= now)
      continue;
    put(&j, "%s{\"ip\":\"%s\",\"mac\":\"%s\",\"expires_in_s\":", first ? "" : ",", ip4_str(e->ip),
        mac_str(e->mac));
    seconds(&j, e->expires_at - now, 1);
    put(&j, "}");
    first = 0;
  }
  put(&j, "],\"sockets\":[");
  sockets(&j);

  struct nic_info n;
  virtio_net_info(&n);
  put(&j, "],\"virtio\":{\"transport\":\"%s\",\"features\":%lu,\"counters\":{\"rx_frames\":%lu,"
          "\"rx_bytes\":%lu,\"tx_frames\":%lu,\"tx_bytes\":%lu,\"interrupts\":%lu},\"queues\":{",
      n.transport, n.negotiated, n.rx_frames, n.rx_bytes, n.tx_frames, n.tx_bytes, n.interrupts);
  queue(&j, "rx", virtio_net_queue(0));
  put(&j, ",");
  queue(&j, "tx", virtio_net_queue(1));
  put(&j, "}},\"dhcp\":");

  const struct dhcp_lease *l = dhcp_lease();
  if (!l || !dhcp_bound()) {
    put(&j, "null}");
    return j.len;
  }
  int prefix = 0;
  for (ip4_t m = l->netmask; m; m >>= 1)
    prefix += m & 1;
  put(&j, "{\"state\":\"%s\",\"address\":\"%s/%d\",\"router\":", dhcp_state_name(), ip4_str(l->address), prefix);
  ip_or_null(&j, l->router);
  put(&j, ",\"dns_servers\":[");
  for (int i = 0; i < l->ndns; i++)
    put(&j, "%s\"%s\"", i ? "," : "", ip4_str(l->dns[i]));
  put(&j, "],\"server\":\"%s\",\"lease_time_s\":%u.0,\"renew_in_s\":", ip4_str(l->server), l->lease_time);
  uint64_t renew = l->obtained_at + (uint64_t)l->t1 * SEC, end = l->obtained_at + (uint64_t)l->lease_time * SEC;
  seconds(&j, renew > now ? renew - now : 0, 1);
  put(&j, ",\"expires_in_s\":");
  seconds(&j, end > now ? end - now : 0, 1);
  put(&j, "}}");
  return j.len;
}
