// net/net.c -- bringing the native stack up, and the poll loop's entry.
//
// net_init (main.c, net=kernel only): the virtio-net driver, then DHCP
// before the ready line -- slirp answers in milliseconds; after
// DHCP_BOOT_TIMEOUT without a lease the interface takes slirp's usual
// static address instead, and says so. In net=host nothing here runs: the
// kernel must not touch the NIC or PCI config (the lab drives them).
// net_poll is what idle() calls: one round of iface_poll at the current time.
#include "net.h"

#define DHCP_BOOT_TIMEOUT (3 * SEC)

static int up;
static int wake;                      // net_wake: work queued outside a poll
static uint64_t poll_at;              // iface_poll_at after the last round
static char ready_info[96];

int net_up(void)
{
  return up;
}

void net_init(void)
{
  if (net_mode() != NET_KERNEL)
    return;
  uint64_t t0 = clock_us();
  if (!virtio_net_init(virtio_prefer_modern())) {
    kputs("net=kernel: no virtio-net device (1af4:1041 or 1af4:1000): no network\n");
    return;
  }
  memcpy(iface.mac, virtio_net_mac(), ETH_ALEN);
  tcp_init();
  up = 1;
  struct nic_info n;
  virtio_net_info(&n);
  kprintf("net: virtio-net %04x, %s transport, MAC %s, %s\n", n.device_id, n.transport,
          mac_str(iface.mac), n.irq >= 0 ? "INTx" : "polled (no IRQ line)");
  if (n.irq >= 0)
    kprintf("net: IRQ %d, queues %d/%d, header %d bytes\n", n.irq, n.queue_size, n.queue_size,
            n.header_len);

  dhcp_start(clock_us(), 0);
  while (!dhcp_bound() && clock_us() - t0 < DHCP_BOOT_TIMEOUT)
    idle();
  const struct dhcp_lease *l = dhcp_lease();
  if (dhcp_bound() && l) {
    kprintf("DHCP: %s netmask %s router %s dns %s from %s in %lu ms\n", ip4_str(l->address),
            ip4_str(l->netmask), ip4_str(l->router), ip4_str(l->dns[0]), ip4_str(l->server),
            (clock_us() - t0) / 1000);
  } else {
    dhcp_stop();
    ip4_t dns = IP4(10, 0, 2, 3);
    iface_configure(IP4(10, 0, 2, 15), IP4(255, 255, 255, 0), IP4(10, 0, 2, 2), &dns, 1, "static");
    kprintf("DHCP: no lease after %lu s; static 10.0.2.15 netmask 255.255.255.0 router 10.0.2.2\n",
            DHCP_BOOT_TIMEOUT / SEC);
  }
  httpd_start();
  telnet_start();
  ksnprintf(ready_info, sizeof ready_info, " ip=%s mac=%s", ip4_str(iface.addr), mac_str(iface.mac));
}

// The services, run from every iface_poll round between ingress and TCP output.
int services_poll(uint64_t now)
{
  return httpd_poll(now) | telnet_poll(now);
}

void net_wake(void)
{
  wake = 1;
}

// One round of the stack, if anything calls for one: the NIC interrupted,
// work was queued from outside (net_wake), or a timer is due (poll_at).
// Otherwise nothing: the 100 Hz tick costs an idle DOS64 next to nothing.
int net_poll(void)
{
  if (!up)
    return 0;
  uint64_t now = clock_us();
  if (!wake && !virtio_net_irq_pending() && now < poll_at)
    return 0;
  int did = iface_poll(now);
  wake = 0;
  poll_at = iface_poll_at(now);
  return did;
}

uint64_t net_deadline(void)
{
  return up ? poll_at : NEVER;
}

int net_pending(void)
{
  return up && (virtio_net_irq_pending() || wake);
}

const char *net_ready_info(void)
{
  return ready_info;
}
