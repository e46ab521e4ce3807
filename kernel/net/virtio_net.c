// net/virtio_net.c -- the virtio network device (virtio 1.x 5.1) on a
// transport and two split virtqueues: queue 0 receives, queue 1 transmits
// (5.1.2). The same steps and names as the Python driver of chapters
// 01-03 (dos64lab/hw/virtio/net.py):
//
//   pci_find (0x1af4:0x1041 modern, 0x1af4:0x1000 transitional)
//   -> transport_open (modern capabilities, else the legacy I/O BAR)
//   -> transport_negotiate (MAC, STATUS; legacy + ANY_LAYOUT; modern + VERSION_1)
//   -> virtq_init + transport_setup_queue for rx and tx
//   -> the INTx handler installed, DRIVER_OK, every RX buffer posted.
//
// Every buffer starts with a struct virtio_net_hdr (5.1.6): 10 bytes for a
// legacy driver without MRG_RXBUF, 12 with VERSION_1 -- mixing them up
// shifts every frame by two bytes. No offloads: on transmit it is zeros.
// Buffers are BUFFER_SIZE bytes from kalloc, and descriptor i always
// describes buffer i of its queue, so a descriptor index names its buffer.
//
// Interrupts: the RX queue asks for them (avail.flags 0), the TX queue not
// (VRING_AVAIL_F_NO_INTERRUPT: it is reaped when sending). The device
// raises its INTx line (the firmware's routing in config 0x3C, a PIC
// line); the handler reads the ISR byte, which lowers the line (4.1.4.5),
// and notes that the stack has work: idle() then runs net_poll instead of
// halting. With no usable line the tick (100 Hz) polls instead.
#include "net.h"
#include "virtio.h"
#include "../x86.h"

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_NET_MODERN 0x1041
#define VIRTIO_NET_TRANSITIONAL 0x1000
#define RX_QUEUE 0
#define TX_QUEUE 1
#define QUEUE_SIZE 256                // modern: our choice; legacy: the device's
#define BUFFER_SIZE 2048              // >= 12-byte header + 1514-byte frame
#define ISR_QUEUE 1                   // ISR bit 0: a queue interrupt (4.1.4.5)

static struct {
  struct transport t;
  struct virtq rx, tx;
  uint8_t *rx_buf, *tx_buf;
  int header_len;
  uint8_t mac[ETH_ALEN];
  int irq;
  volatile int irq_pending;
  uint64_t interrupts;
  uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
} nic;

static void virtio_net_intr(void)
{
  uint8_t isr = transport_read_isr(&nic.t);   // reading it lowers INTx
  nic.interrupts++;
  if (isr & ISR_QUEUE)
    nic.irq_pending = 1;
}

static void setup_queue(struct virtq *q, uint16_t index, int no_interrupt)
{
  uint16_t max = transport_queue_max_size(&nic.t, index);
  uint16_t size = nic.t.modern && max > QUEUE_SIZE ? QUEUE_SIZE : max;
  virtq_init(q, &nic.t, index, size, no_interrupt);
  transport_setup_queue(&nic.t, q);
}

// Lend the next free descriptor's buffer to the device (it writes it).
static void post_rx(void)
{
  int slot = nic.rx.free_head;        // descriptor i <-> buffer i
  int head = virtq_add(&nic.rx, (uintptr_t)(nic.rx_buf + (size_t)slot * BUFFER_SIZE), BUFFER_SIZE, 1);
  if (head != slot)
    panic("virtio-net: RX buffer %d went to descriptor %d", slot, head);
}

int virtio_net_init(int want_modern)
{
  struct pci_dev d;
  if (!pci_find(VIRTIO_VENDOR, VIRTIO_NET_MODERN, &d) &&
      !pci_find(VIRTIO_VENDOR, VIRTIO_NET_TRANSITIONAL, &d))
    return 0;
  if (!transport_open(&nic.t, &d, want_modern))
    panic("virtio-net %02x:%02x.%x: neither modern capabilities in mapped memory nor a legacy I/O BAR",
          d.bus, d.dev, d.fn);

  uint64_t wanted = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS;
  if (!nic.t.modern)
    wanted |= VIRTIO_F_ANY_LAYOUT;    // one descriptor for header + frame
  uint64_t features = transport_negotiate(&nic.t, wanted);
  nic.header_len = features & (VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MRG_RXBUF) ? 12 : 10;
  for (int i = 0; i < ETH_ALEN; i++)  // device config: mac[6], status le16 (5.1.4)
    nic.mac[i] = transport_read_config8(&nic.t, i);

  setup_queue(&nic.rx, RX_QUEUE, 0);
  setup_queue(&nic.tx, TX_QUEUE, 1);
  nic.rx_buf = kalloc_uninit((size_t)nic.rx.size * BUFFER_SIZE, 4096);
  nic.tx_buf = kalloc_uninit((size_t)nic.tx.size * BUFFER_SIZE, 4096);

  // The handler before the line is unmasked, and both before DRIVER_OK.
  nic.irq = d.irq_line;
  if (nic.irq >= 3 && nic.irq <= 15 && nic.irq != IRQ_COM1 && d.irq_pin)
    irq_register(nic.irq, virtio_net_intr);
  else
    nic.irq = -1;                     // no usable line: the tick polls
  transport_driver_ok(&nic.t);
  for (int i = 0; i < nic.rx.size; i++)
    post_rx();
  virtq_kick(&nic.rx);
  return 1;
}

const uint8_t *virtio_net_mac(void)
{
  return nic.mac;
}

int virtio_net_irq_pending(void)
{
  return nic.irq_pending;
}

// The next frame the device delivered, in place in its RX buffer (header
// skipped), or NULL. Give the buffer back with virtio_net_rx_done(slot).
uint8_t *virtio_net_receive(int *len, int *slot)
{
  nic.irq_pending = 0;
  uint32_t n;
  int id = virtq_reap(&nic.rx, &n);
  if (id < 0)
    return 0;
  if (n < (uint32_t)nic.header_len || n > BUFFER_SIZE)
    panic("virtio-net: device wrote %u bytes into a %d-byte RX buffer (header %d)",
          n, BUFFER_SIZE, nic.header_len);
  nic.rx_frames++;
  nic.rx_bytes += n - nic.header_len;
  *len = (int)n - nic.header_len;
  *slot = id;
  return nic.rx_buf + (size_t)id * BUFFER_SIZE + nic.header_len;
}

void virtio_net_rx_done(int slot)
{
  (void)slot;                         // it is back on the free list: post it again
  post_rx();
}

void virtio_net_reap_tx(void)
{
  uint32_t n;
  while (virtq_reap(&nic.tx, &n) >= 0)
    ;
}

// Copy one frame into a free TX buffer and lend it to the device; the
// doorbell rings at the end of the poll (virtio_net_flush). 0 if the ring
// is full even after reaping.
int virtio_net_send(const uint8_t *frame, int len)
{
  if (len < ETH_HLEN || len > PKT_MAX)
    panic("virtio-net: a %d-byte frame", len);
  if (nic.tx.num_free == 0)
    virtio_net_reap_tx();
  if (nic.tx.num_free == 0)
    return 0;
  int slot = nic.tx.free_head;        // descriptor i <-> buffer i
  uint8_t *buf = nic.tx_buf + (size_t)slot * BUFFER_SIZE;
  memset(buf, 0, nic.header_len);     // no offloads: an all-zero header
  memcpy(buf + nic.header_len, frame, len);
  int head = virtq_add(&nic.tx, (uintptr_t)buf, nic.header_len + len, 0);
  if (head != slot)
    panic("virtio-net: TX buffer %d went to descriptor %d", slot, head);
  nic.tx_frames++;
  nic.tx_bytes += len;
  return 1;
}

void virtio_net_flush(void)
{
  virtq_kick(&nic.rx);
  virtq_kick(&nic.tx);
}

void virtio_net_info(struct nic_info *o)
{
  o->transport = nic.t.kind;
  o->device_id = nic.t.pci.device;
  o->offered = nic.t.offered;
  o->negotiated = nic.t.negotiated;
  o->header_len = nic.header_len;
  o->queue_size = nic.rx.size;
  o->irq = nic.irq;
  o->status = transport_read_status(&nic.t);
  o->rx_frames = nic.rx_frames;
  o->rx_bytes = nic.rx_bytes;
  o->tx_frames = nic.tx_frames;
  o->tx_bytes = nic.tx_bytes;
  o->interrupts = nic.interrupts;
}

struct virtq *virtio_net_queue(int index)
{
  return index == RX_QUEUE ? &nic.rx : &nic.tx;
}
