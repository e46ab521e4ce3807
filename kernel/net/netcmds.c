// net/netcmds.c -- the network's shell commands: IFCONFIG, DHCP, NETSTAT
// (PING is ping.c, WGET wget.c, HTTPD http.c). They read what the stack
// keeps -- the interface, the lease, the counters, the socket table -- and
// print it; in net=host they say the NIC is not the kernel's.
#include "net.h"
#include "virtio.h"

int net_command_ok(const char *name)
{
  if (net_mode() != NET_KERNEL) {
    kprintf("%s: net=host: the NIC belongs to the lab's Python driver (boot with net=kernel)\n", name);
    return 0;
  }
  if (!net_up()) {
    kprintf("%s: no network device\n", name);
    return 0;
  }
  return 1;
}

static int prefix_len(ip4_t mask)
{
  int n = 0;
  for (; mask; mask >>= 1)
    n += mask & 1;
  return n;
}

void cmd_ifconfig(const char *args)
{
  (void)args;
  if (!net_command_ok("IFCONFIG"))
    return;
  struct nic_info n;
  virtio_net_info(&n);
  kprintf("eth0: virtio-net 1af4:%04x, %s transport, MAC %s\n", n.device_id, n.transport,
          mac_str(iface.mac));
  if (iface.addr)
    kprintf("      inet %s/%d netmask %s gateway %s (%s)\n", ip4_str(iface.addr),
            prefix_len(iface.netmask), ip4_str(iface.netmask), ip4_str(iface.gateway), iface.source);
  else
    kputs("      inet (none)\n");
  kputs("      dns");
  for (int i = 0; i < iface.ndns; i++)
    kprintf(" %s", ip4_str(iface.dns[i]));
  kprintf("%s\n", iface.ndns ? "" : " (none)");
  kprintf("      features 0x%lx of 0x%lx offered, header %d bytes, status 0x%x%s\n",
          n.negotiated, n.offered, n.header_len, n.status,
          (n.status & VIRTIO_STATUS_DRIVER_OK) ? " (DRIVER_OK)" : "");
  kprintf("      queues rx %d tx %d, ", n.queue_size, n.queue_size);
  if (n.irq >= 0)
    kprintf("IRQ %d (%lu interrupts)\n", n.irq, n.interrupts);
  else
    kputs("polled\n");
  kprintf("      RX packets %lu bytes %lu  TX packets %lu bytes %lu\n",
          n.rx_frames, n.rx_bytes, n.tx_frames, n.tx_bytes);
}

void cmd_dhcp(const char *args)
{
  (void)args;
  if (!net_command_ok("DHCP"))
    return;
  uint64_t t0 = clock_us();
  kputs("DHCP: asking for a lease (DISCOVER, OFFER, REQUEST, ACK)\n");
  dhcp_start(t0, 1);
  while (!dhcp_bound() && clock_us() - t0 < 5 * SEC)
    idle();
  const struct dhcp_lease *l = dhcp_lease();
  if (!dhcp_bound() || !l) {
    kprintf("DHCP: no lease after 5 s (state %s); keeping %s\n", dhcp_state_name(),
            iface.addr ? ip4_str(iface.addr) : "no address");
    dhcp_stop();
    return;
  }
  kprintf("DHCP: lease %s/%d router %s dns %s from server %s, %u s (renew in %u s)\n",
          ip4_str(l->address), prefix_len(l->netmask), ip4_str(l->router), ip4_str(l->dns[0]),
          ip4_str(l->server), l->lease_time, l->t1);
}

static void print_counters(void)
{
  kputs("Counters (non-zero):\n");
  for (int i = 0; i < NSTATS; i++)
    if (net_stats[i])
      kprintf("  %-32s %lu\n", net_stat_names[i], net_stats[i]);
}

static void print_arp(uint64_t now)
{
  kputs("ARP cache:\n");
  for (int i = 0; i < NEIGHBOR_CAPACITY; i++) {
    struct neighbor *e = &neighbors[i];
    if (e->expires_at > now)
      kprintf("  %-15s %s  expires in %lu s\n", ip4_str(e->ip), mac_str(e->mac),
              (e->expires_at - now) / SEC);
  }
  for (int i = 0; i < neighbor_pending_count(); i++)
    kprintf("  %-15s (resolving)\n", ip4_str(neighbor_pending_addr(i)));
}

void cmd_netstat(const char *args)
{
  (void)args;
  if (!net_command_ok("NETSTAT"))
    return;
  uint64_t now = clock_us();
  kputs("Proto Local                 Remote                State\n");
  for (int i = 0; i < UDP_SOCKETS; i++) {
    uint16_t port;
    int queued;
    if (udp_describe(i, &port, &queued))
      kprintf("udp   0.0.0.0:%-13u *                     %d queued\n", port, queued);
  }
  tcp_netstat();
  print_arp(now);
  print_counters();
}
