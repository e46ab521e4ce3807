// net/virtio.h -- the virtio PCI device interface (virtio 1.x, OASIS
// csprd01 / 1.1 numbering): status bits (2.1), feature bits (5.1.3, 6),
// the split virtqueue (2.7), and the two transports that reach a
// device's registers (4.1.4: modern capabilities; 4.1.4.8: legacy I/O).
// The Python twin: dos64lab/hw/virtio/{features,transport,virtqueue}.py.
#pragma once
#include "../defs.h"

// Device status (2.1): the driver sets these in this order.
#define VIRTIO_STATUS_ACKNOWLEDGE        1
#define VIRTIO_STATUS_DRIVER             2
#define VIRTIO_STATUS_DRIVER_OK          4
#define VIRTIO_STATUS_FEATURES_OK        8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED             128

// Feature bits used here.
#define VIRTIO_NET_F_MAC       (1UL << 5)     // device config has the MAC
#define VIRTIO_NET_F_MRG_RXBUF (1UL << 15)    // header grows num_buffers
#define VIRTIO_NET_F_STATUS    (1UL << 16)    // device config has the link status
#define VIRTIO_F_ANY_LAYOUT    (1UL << 27)    // legacy: header and frame in one descriptor
#define VIRTIO_F_VERSION_1     (1UL << 32)    // a modern (1.x) device and driver

// -- split virtqueue (2.7) ------------------------------------------------
#define VRING_DESC_F_NEXT  1          // desc.flags: chain continues at desc.next
#define VRING_DESC_F_WRITE 2          // desc.flags: the device writes this buffer
#define VRING_AVAIL_F_NO_INTERRUPT 1  // avail.flags (driver): no interrupt, please
#define VRING_USED_F_NO_NOTIFY 1      // used.flags (device): no kick needed

struct virtq_desc {                   // driver writes
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};

struct virtq_avail {                  // driver writes
  uint16_t flags;
  uint16_t idx;
  uint16_t ring[];                    // [size], then used_event
};

struct virtq_used_elem {
  uint32_t id;                        // head of the chain the device returns
  uint32_t len;                       // bytes the device wrote into it
};

struct virtq_used {                   // device writes
  uint16_t flags;
  uint16_t idx;
  struct virtq_used_elem ring[];      // [size], then avail_event
};

struct transport;

struct virtq {
  struct transport *t;
  uint16_t index;                     // 0 receive, 1 transmit (5.1.2)
  uint16_t size;
  volatile struct virtq_desc *desc;
  volatile struct virtq_avail *avail;
  volatile struct virtq_used *used;
  // driver-private bookkeeping, as Linux virtio_ring.c and the Python twin
  uint16_t free_head;                 // first free descriptor; free ones chain through next
  uint16_t num_free;
  uint16_t avail_idx;                 // next avail.idx we publish (free-running)
  uint16_t last_used_idx;             // next used.ring slot we reap
  uint8_t *lent;                      // lent[i]: descriptor i is the device's (a head in flight)
  uintptr_t notify;                   // where the doorbell is (port or MMIO address)
  uint64_t kicks, kicks_suppressed;
};

void virtq_init(struct virtq *q, struct transport *t, uint16_t index, uint16_t size, int no_interrupt);
int  virtq_add(struct virtq *q, uint64_t addr, uint32_t len, int device_writes);
void virtq_kick(struct virtq *q);
int  virtq_reap(struct virtq *q, uint32_t *len);
static inline uint16_t virtq_in_flight(const struct virtq *q) { return q->size - q->num_free; }

// -- transports (4.1.4) ----------------------------------------------------
struct transport {
  int modern;                         // 1: capabilities + MMIO; 0: legacy I/O BAR
  const char *kind;                   // "modern" / "legacy"
  struct pci_dev pci;
  uint16_t io;                        // legacy: the I/O BAR
  uintptr_t common, notify_base, isr, device;   // modern: structures in a memory BAR
  uint32_t notify_off_multiplier;
  uint64_t offered;                   // device features, as read in the handshake
  uint64_t negotiated;
  uint8_t driver_status;              // the bits this driver set
};

int      transport_open(struct transport *t, const struct pci_dev *d, int want_modern);
uint8_t  transport_read_status(struct transport *t);
void     transport_reset(struct transport *t);
uint64_t transport_negotiate(struct transport *t, uint64_t wanted);
uint16_t transport_queue_max_size(struct transport *t, uint16_t index);
void     transport_setup_queue(struct transport *t, struct virtq *q);
void     transport_driver_ok(struct transport *t);
void     transport_notify(struct transport *t, struct virtq *q);
uint8_t  transport_read_isr(struct transport *t);
uint8_t  transport_read_config8(struct transport *t, int off);
uint16_t transport_read_config16(struct transport *t, int off);
