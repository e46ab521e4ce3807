// net/virtio_pci.c -- the two ways to reach a virtio PCI device's registers,
// and the initialisation sequence they share (virtio 1.x 3.1.1):
//
//   reset -> ACKNOWLEDGE -> DRIVER -> features -> FEATURES_OK (modern: must
//   stick) -> queues -> DRIVER_OK
//
// * modern (4.1.4): vendor capabilities (cap id 0x09) in config space point
//   at the common configuration, notify area, ISR byte and device
//   configuration, all in memory BARs; 64 feature bits through a select
//   register; the driver places desc/avail/used where it likes.
// * legacy (4.1.4.8): registers at fixed offsets in the I/O BAR; 32 feature
//   bits; a queue is one page-aligned block given by its page frame number,
//   of the device's own size; device config at +20 (MSI-X is never enabled).
//
// A transitional device (0x1000) has both; the driver prefers modern and
// falls back to legacy. The device refusing a step is impossible state for
// QEMU's virtio-net: panic, saying what was asked and what the status held.
// The Python twin: dos64lab/hw/virtio/transport.py.
#include "virtio.h"
#include "../x86.h"

// struct virtio_pci_cap (4.1.4): cfg_type values, field offsets
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR    3
#define CAP_DEVICE 4
#define CAP_CFG_TYPE 3
#define CAP_BAR      4
#define CAP_OFFSET   8
#define CAP_NOTIFY_MULT 16

// struct virtio_pci_common_cfg (4.1.4.3)
#define COMMON_DFSELECT     0x00      // le32 device_feature_select (driver)
#define COMMON_DF           0x04      // le32 device_feature (device)
#define COMMON_GFSELECT     0x08      // le32 driver_feature_select (driver)
#define COMMON_GF           0x0C      // le32 driver_feature (driver)
#define COMMON_STATUS       0x14      // u8 device_status
#define COMMON_Q_SELECT     0x16      // le16 queue_select (driver)
#define COMMON_Q_SIZE       0x18      // le16 queue_size (device: max; driver may lower)
#define COMMON_Q_ENABLE     0x1C      // le16 queue_enable
#define COMMON_Q_NOFF       0x1E      // le16 queue_notify_off (device)
#define COMMON_Q_DESC       0x20      // le64 queue_desc
#define COMMON_Q_DRIVER     0x28      // le64 queue_driver (avail)
#define COMMON_Q_DEVICE     0x30      // le64 queue_device (used)

// Legacy registers in the I/O BAR (4.1.4.8)
#define LEG_HOST_FEATURES  0
#define LEG_GUEST_FEATURES 4
#define LEG_QUEUE_PFN      8
#define LEG_QUEUE_SIZE     12
#define LEG_QUEUE_SELECT   14
#define LEG_QUEUE_NOTIFY   16
#define LEG_STATUS         18
#define LEG_ISR            19
#define LEG_CONFIG         20         // without MSI-X

#define MAPPED_LIMIT 0x100000000UL    // boot.S maps [0, 4 GiB) only

static int open_modern(struct transport *t, const struct pci_dev *d)
{
  uintptr_t where[5] = { 0 };
  for (int cap = pci_find_cap(d, PCI_CAP_VENDOR, 0); cap; cap = pci_find_cap(d, PCI_CAP_VENDOR, cap)) {
    uint8_t type = pci_conf_read8(d, cap + CAP_CFG_TYPE);
    if (type < CAP_COMMON || type > CAP_DEVICE || where[type])
      continue;                       // the first of each kind (4.1.4)
    int bar = pci_conf_read8(d, cap + CAP_BAR), io;
    if (bar > 5)
      continue;
    uint64_t base = pci_bar(d, bar, &io);
    uint64_t addr = base + pci_conf_read32(d, cap + CAP_OFFSET);
    if (io || base == 0 || addr >= MAPPED_LIMIT)
      continue;                       // not reachable from here: try legacy
    where[type] = addr;
    if (type == CAP_NOTIFY)
      t->notify_off_multiplier = pci_conf_read32(d, cap + CAP_NOTIFY_MULT);
  }
  if (!where[CAP_COMMON] || !where[CAP_NOTIFY] || !where[CAP_ISR] || !where[CAP_DEVICE])
    return 0;
  t->modern = 1;
  t->kind = "modern";
  t->common = where[CAP_COMMON];
  t->notify_base = where[CAP_NOTIFY];
  t->isr = where[CAP_ISR];
  t->device = where[CAP_DEVICE];
  return 1;
}

static int open_legacy(struct transport *t, const struct pci_dev *d)
{
  int io;
  uint64_t base = pci_bar(d, 0, &io);
  if (!io || base == 0)
    return 0;
  t->modern = 0;
  t->kind = "legacy";
  t->io = (uint16_t)base;
  return 1;
}

// Find the device's registers: modern first (unless want_modern is 0),
// legacy as the fallback. 0 if neither is usable.
int transport_open(struct transport *t, const struct pci_dev *d, int want_modern)
{
  memset(t, 0, sizeof *t);
  t->pci = *d;
  pci_enable(d);
  if (want_modern)
    return open_modern(t, d) || open_legacy(t, d);
  return open_legacy(t, d) || open_modern(t, d);
}

uint8_t transport_read_status(struct transport *t)
{
  return t->modern ? mmio_read8(t->common + COMMON_STATUS) : inb(t->io + LEG_STATUS);
}

static void write_status(struct transport *t, uint8_t v)
{
  if (t->modern)
    mmio_write8(t->common + COMMON_STATUS, v);
  else
    outb(t->io + LEG_STATUS, v);
}

// Set one more status bit, keeping the others; returns the register read back.
static uint8_t add_status(struct transport *t, uint8_t bit)
{
  uint8_t status = transport_read_status(t);
  if (status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
    panic("virtio: device needs a reset (status 0x%x) when setting 0x%x", status, bit);
  write_status(t, status | bit);
  t->driver_status |= bit;
  return transport_read_status(t);
}

// 4.1.4.3.2 / 2.1.2: write 0, and the device is reset once it reads back 0.
void transport_reset(struct transport *t)
{
  write_status(t, 0);
  for (int i = 0; transport_read_status(t) != 0; i++)
    if (i > 1000000)
      panic("virtio: device did not finish its reset (status 0x%x)", transport_read_status(t));
  t->driver_status = 0;
  t->negotiated = 0;
}

static uint64_t device_features(struct transport *t)
{
  if (!t->modern)
    return inl(t->io + LEG_HOST_FEATURES);
  mmio_write32(t->common + COMMON_DFSELECT, 0);
  uint64_t lo = mmio_read32(t->common + COMMON_DF);
  mmio_write32(t->common + COMMON_DFSELECT, 1);
  return lo | (uint64_t)mmio_read32(t->common + COMMON_DF) << 32;
}

static void write_driver_features(struct transport *t, uint64_t bits)
{
  if (!t->modern) {
    outl(t->io + LEG_GUEST_FEATURES, (uint32_t)bits);
    return;
  }
  mmio_write32(t->common + COMMON_GFSELECT, 0);
  mmio_write32(t->common + COMMON_GF, (uint32_t)bits);
  mmio_write32(t->common + COMMON_GFSELECT, 1);
  mmio_write32(t->common + COMMON_GF, (uint32_t)(bits >> 32));
}

// reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK (3.1.1 steps 1-6).
// `wanted` must be offered: QEMU silently drops bits it never offered, and
// the driver would then believe in a feature the device does not use.
uint64_t transport_negotiate(struct transport *t, uint64_t wanted)
{
  if (t->modern)
    wanted |= VIRTIO_F_VERSION_1;
  transport_reset(t);
  add_status(t, VIRTIO_STATUS_ACKNOWLEDGE);
  add_status(t, VIRTIO_STATUS_DRIVER);
  t->offered = device_features(t);
  uint64_t missing = wanted & ~t->offered;
  if (missing) {
    add_status(t, VIRTIO_STATUS_FAILED);
    panic("virtio: device offers features 0x%lx, lacks 0x%lx", t->offered, missing);
  }
  write_driver_features(t, wanted);
  if (t->modern) {                    // legacy has no FEATURES_OK step
    uint8_t status = add_status(t, VIRTIO_STATUS_FEATURES_OK);
    if (!(status & VIRTIO_STATUS_FEATURES_OK))
      panic("virtio: FEATURES_OK did not stick (features 0x%lx, status 0x%x)", wanted, status);
  }
  t->negotiated = wanted;
  return wanted;
}

uint16_t transport_queue_max_size(struct transport *t, uint16_t index)
{
  if (t->modern) {
    mmio_write16(t->common + COMMON_Q_SELECT, index);
    return mmio_read16(t->common + COMMON_Q_SIZE);
  }
  outw(t->io + LEG_QUEUE_SELECT, index);
  return inw(t->io + LEG_QUEUE_SIZE);
}

// Tell the device where queue q lives (after features, before DRIVER_OK),
// and learn where its doorbell is.
void transport_setup_queue(struct transport *t, struct virtq *q)
{
  uint16_t max = transport_queue_max_size(t, q->index);   // also selects the queue
  uint64_t desc = (uintptr_t)q->desc, avail = (uintptr_t)q->avail, used = (uintptr_t)q->used;
  if (!t->modern) {
    // 4.1.4.8: one block of the device's size, used ring on a page boundary
    if (q->size != max || desc % 4096)
      panic("virtio legacy: queue %u must be %u entries, page-aligned", q->index, max);
    outl(t->io + LEG_QUEUE_PFN, (uint32_t)(desc >> 12));
    q->notify = t->io + LEG_QUEUE_NOTIFY;
    return;
  }
  if (max == 0 || q->size > max)
    panic("virtio: queue %u holds at most %u entries, asked %u", q->index, max, q->size);
  uintptr_t c = t->common;
  mmio_write16(c + COMMON_Q_SIZE, q->size);
  mmio_write32(c + COMMON_Q_DESC, (uint32_t)desc);
  mmio_write32(c + COMMON_Q_DESC + 4, (uint32_t)(desc >> 32));
  mmio_write32(c + COMMON_Q_DRIVER, (uint32_t)avail);
  mmio_write32(c + COMMON_Q_DRIVER + 4, (uint32_t)(avail >> 32));
  mmio_write32(c + COMMON_Q_DEVICE, (uint32_t)used);
  mmio_write32(c + COMMON_Q_DEVICE + 4, (uint32_t)(used >> 32));
  q->notify = t->notify_base + (uintptr_t)mmio_read16(c + COMMON_Q_NOFF) * t->notify_off_multiplier;
  mmio_write16(c + COMMON_Q_ENABLE, 1);
}

void transport_driver_ok(struct transport *t)
{
  uint8_t status = add_status(t, VIRTIO_STATUS_DRIVER_OK);
  if (!(status & VIRTIO_STATUS_DRIVER_OK) || (status & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
    panic("virtio: device did not go live (status 0x%x)", status);
}

// The doorbell (4.1.4.4 / 4.1.4.8): write the queue's index.
void transport_notify(struct transport *t, struct virtq *q)
{
  if (t->modern)
    mmio_write16(q->notify, q->index);
  else
    outw((uint16_t)q->notify, q->index);
}

// Reading the ISR status also de-asserts the INTx line (4.1.4.5).
uint8_t transport_read_isr(struct transport *t)
{
  return t->modern ? mmio_read8(t->isr) : inb(t->io + LEG_ISR);
}

uint8_t transport_read_config8(struct transport *t, int off)
{
  return t->modern ? mmio_read8(t->device + off) : inb(t->io + LEG_CONFIG + off);
}

uint16_t transport_read_config16(struct transport *t, int off)
{
  return t->modern ? mmio_read16(t->device + off) : inw(t->io + LEG_CONFIG + off);
}
