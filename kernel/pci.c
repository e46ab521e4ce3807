// pci.c -- PCI enumeration through configuration mechanism #1.
//
// Write an address (enable bit, bus, device, function, register) to
// CONFIG_ADDRESS at 0xCF8, then read the dword at CONFIG_DATA 0xCFC
// (PCI Local Bus Specification 3.0, 3.2.2.3.2 "Software Generation of
// Configuration Transactions"). An absent function reads vendor 0xFFFF.
// Header type bit 7 marks a multi-function device: only then are
// functions 1-7 probed (6.2.1, "Header Type").
//
// The lab's host-side Python driver programs the NIC through these same
// two ports over qtest; a scan here would race with it on 0xCF8. So in
// net=host the kernel touches PCI config space only when the user types
// PCI: there is no scan at boot. In net=kernel the native driver
// (net/virtio_net.c) uses the rest of this file: pci_find, the BARs
// (6.2.5.1, "Address Maps"), the capability list (6.7) and the command
// register (6.2.2).
#include "defs.h"
#include "x86.h"

#define CONFIG_ADDRESS 0xCF8
#define CONFIG_DATA    0xCFC

#define PCI_VENDOR_DEVICE 0x00
#define PCI_CLASS_REV     0x08    // class, subclass, prog-if, revision
#define PCI_HEADER        0x0C    // header type is byte 2 of this dword
#define PCI_COMMAND       0x04    // 16 bits; status is the upper half
#define PCI_STATUS        0x06
#define PCI_BAR0          0x10
#define PCI_CAP_PTR       0x34
#define PCI_INTERRUPT     0x3C    // line (byte 0), pin (byte 1)
#define STATUS_CAP_LIST   0x10
#define BAR_IO            0x1
#define BAR_MEM_64        0x4     // memory BAR type bits 2:1 = 10b

static uint32_t pci_read32(int bus, int dev, int fn, int off)
{
  uint32_t addr = 0x80000000u | (uint32_t)bus << 16 | (uint32_t)dev << 11
                | (uint32_t)fn << 8 | (off & 0xFC);
  uint64_t flags = read_rflags();
  cli();                          // keep the address/data pair together
  outl(CONFIG_ADDRESS, addr);
  uint32_t v = inl(CONFIG_DATA);
  if (flags & RFLAGS_IF)
    sti();
  return v;
}

static void show(int bus, int dev, int fn, uint32_t id)
{
  uint32_t cls = pci_read32(bus, dev, fn, PCI_CLASS_REV);
  kprintf("%02x:%02x.%x %04x:%04x class %02x.%02x.%02x\n",
          bus, dev, fn, id & 0xFFFF, id >> 16,
          cls >> 24, (cls >> 16) & 0xFF, (cls >> 8) & 0xFF);
}

void pci_list(void)
{
  int n = 0;
  for (int bus = 0; bus < 256; bus++) {
    for (int dev = 0; dev < 32; dev++) {
      uint32_t id = pci_read32(bus, dev, 0, PCI_VENDOR_DEVICE);
      if ((id & 0xFFFF) == 0xFFFF)
        continue;
      show(bus, dev, 0, id);
      n++;
      if (!((pci_read32(bus, dev, 0, PCI_HEADER) >> 16) & 0x80))
        continue;
      for (int fn = 1; fn < 8; fn++) {
        id = pci_read32(bus, dev, fn, PCI_VENDOR_DEVICE);
        if ((id & 0xFFFF) == 0xFFFF)
          continue;
        show(bus, dev, fn, id);
        n++;
      }
    }
  }
  kprintf("%d PCI functions\n", n);
}

// -- for drivers (net=kernel only) --------------------------------------

uint32_t pci_conf_read32(const struct pci_dev *d, int off)
{
  return pci_read32(d->bus, d->dev, d->fn, off);
}

uint16_t pci_conf_read16(const struct pci_dev *d, int off)
{
  return (uint16_t)(pci_conf_read32(d, off) >> ((off & 2) * 8));
}

uint8_t pci_conf_read8(const struct pci_dev *d, int off)
{
  return (uint8_t)(pci_conf_read32(d, off) >> ((off & 3) * 8));
}

void pci_conf_write32(const struct pci_dev *d, int off, uint32_t v)
{
  uint32_t addr = 0x80000000u | (uint32_t)d->bus << 16 | (uint32_t)d->dev << 11
                | (uint32_t)d->fn << 8 | (off & 0xFC);
  uint64_t flags = read_rflags();
  cli();
  outl(CONFIG_ADDRESS, addr);
  outl(CONFIG_DATA, v);
  if (flags & RFLAGS_IF)
    sti();
}

// The first function with this vendor and device id, bus 0 first.
int pci_find(uint16_t vendor, uint16_t device, struct pci_dev *out)
{
  for (int bus = 0; bus < 256; bus++) {
    for (int dev = 0; dev < 32; dev++) {
      int nfn = 1;
      for (int fn = 0; fn < nfn; fn++) {
        uint32_t id = pci_read32(bus, dev, fn, PCI_VENDOR_DEVICE);
        if ((id & 0xFFFF) == 0xFFFF)
          continue;
        if (fn == 0 && ((pci_read32(bus, dev, 0, PCI_HEADER) >> 16) & 0x80))
          nfn = 8;
        if ((id & 0xFFFF) == vendor && (id >> 16) == device) {
          out->bus = bus;
          out->dev = dev;
          out->fn = fn;
          out->vendor = vendor;
          out->device = device;
          out->irq_line = pci_conf_read8(out, PCI_INTERRUPT);
          out->irq_pin = pci_conf_read8(out, PCI_INTERRUPT + 1);
          return 1;
        }
      }
    }
  }
  return 0;
}

// BAR i: its address, and whether it is I/O space. A 64-bit memory BAR
// takes two slots (i and i+1). The firmware (SeaBIOS) assigned them.
uint64_t pci_bar(const struct pci_dev *d, int i, int *is_io)
{
  uint32_t lo = pci_conf_read32(d, PCI_BAR0 + 4 * i);
  if (lo & BAR_IO) {
    *is_io = 1;
    return lo & ~3u;
  }
  *is_io = 0;
  uint64_t addr = lo & ~0xFu;
  if ((lo & 0x6) == BAR_MEM_64 && i < 5)
    addr |= (uint64_t)pci_conf_read32(d, PCI_BAR0 + 4 * (i + 1)) << 32;
  return addr;
}

// The offset of the next capability with this id after offset `after`
// (0: from the start of the list), or 0. The list is walked at most 48
// steps, so a looping list cannot hang the kernel.
int pci_find_cap(const struct pci_dev *d, uint8_t id, int after)
{
  if (!(pci_conf_read16(d, PCI_STATUS) & STATUS_CAP_LIST))
    return 0;
  int off = after ? pci_conf_read8(d, after + 1) : pci_conf_read8(d, PCI_CAP_PTR);
  for (int n = 0; n < 48 && off >= 0x40; n++) {
    off &= 0xFC;
    if (pci_conf_read8(d, off) == id)
      return off;
    off = pci_conf_read8(d, off + 1);
  }
  return 0;
}

// Let the device decode its BARs and master the bus (DMA); INTx on.
void pci_enable(const struct pci_dev *d)
{
  uint16_t cmd = pci_conf_read16(d, PCI_COMMAND);
  cmd |= PCI_CMD_IO | PCI_CMD_MEMORY | PCI_CMD_BUS_MASTER;
  cmd &= ~PCI_CMD_INTX_DISABLE;
  // The status half is write-1-to-clear: writing zeros there changes nothing.
  pci_conf_write32(d, PCI_COMMAND, cmd);
}
