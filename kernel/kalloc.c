// kalloc.c -- memory for the native network stack, carved from the DMA region.
//
// In net=host the DMA region [DMA_BASE, DMA_BASE + DMA_SIZE) belongs to the
// lab's host-side driver and the kernel never touches it. In net=kernel that
// driver is absent and the region is the kernel's: the virtio rings, the
// packet buffers and the TCP buffers -- everything the NIC reads or writes,
// and the big buffers beside them -- are carved from it here, at boot, and
// never given back. A bump allocator is all that needs: the stack sizes
// every table once. So the device-visible memory of both modes is the same
// 16 MiB, and the lab's inspect tools find the kernel's rings where they
// would find Python's.
#include "defs.h"

static uint64_t next = DMA_BASE;

// n bytes aligned to align (a power of two), not cleared: for buffers
// whose bytes are always written before they are read (packets, TCP rings).
void *kalloc_uninit(size_t n, size_t align)
{
  if (net_mode() != NET_KERNEL)
    panic("kalloc: the DMA region belongs to the lab in net=%s", net_mode_name());
  uint64_t p = (next + align - 1) & ~(uint64_t)(align - 1);
  if (p + n > DMA_BASE + DMA_SIZE)
    panic("kalloc: %lu bytes do not fit in the DMA region (%lu KiB used)",
          (uint64_t)n, (next - DMA_BASE) / 1024);
  next = p + n;
  return (void *)p;
}

// n bytes aligned to align, zeroed (rings, tables).
void *kalloc(size_t n, size_t align)
{
  return memset(kalloc_uninit(n, align), 0, n);
}

uint64_t kalloc_used(void)
{
  return next - DMA_BASE;
}
