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
// two ports over qtest; a scan here would race with it on 0xCF8. So the
// kernel touches PCI config space only when the user types PCI: there is
// no scan at boot.
#include "defs.h"
#include "x86.h"

#define CONFIG_ADDRESS 0xCF8
#define CONFIG_DATA    0xCFC

#define PCI_VENDOR_DEVICE 0x00
#define PCI_CLASS_REV     0x08    // class, subclass, prog-if, revision
#define PCI_HEADER        0x0C    // header type is byte 2 of this dword

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
