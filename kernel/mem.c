// mem.c -- physical memory as the boot loader reported it.
//
// Layout (all identity-mapped, see boot.S and kernel.ld):
//   [0, 1 MiB)           firmware, loader data (the multiboot info); not ours
//   [1 MiB, kernel_end)  kernel image, bss, boot stack, page tables
//   [16 MiB, 32 MiB)     DMA region for the lab: the kernel never touches it
//   the rest             unused for now (no allocator yet)
//
// mem_init() panics unless the whole DMA region is available RAM in the
// multiboot memory map: with -m 16 or less the lab cannot work, and it is
// better to say so at boot than to hand out memory that is not there.
#include "defs.h"
#include "multiboot.h"

static uint64_t avail_bytes;

const char *mmap_type_name(uint32_t type)
{
  switch (type) {            // Multiboot 0.6.96, 3.3 (the ACPI/e820 types)
  case 1: return "available";
  case 2: return "reserved";
  case 3: return "ACPI reclaimable";
  case 4: return "ACPI NVS";
  case 5: return "bad RAM";
  default: return "unknown";
  }
}

static int overlaps(const struct mmap_region *r, uint64_t lo, uint64_t hi)
{
  return r->length != 0 && r->base < hi && lo < r->base + r->length;
}

// Is [lo, hi) entirely available RAM? Entries may be unsorted or split,
// so walk forward from lo through available entries.
static int all_available(uint64_t lo, uint64_t hi)
{
  for (int i = 0; i < boot_nmmap; i++)
    if (boot_mmap[i].type != MMAP_AVAILABLE && overlaps(&boot_mmap[i], lo, hi))
      return 0;
  uint64_t pos = lo;
  while (pos < hi) {
    uint64_t next = pos;
    for (int i = 0; i < boot_nmmap; i++) {
      const struct mmap_region *r = &boot_mmap[i];
      if (r->type == MMAP_AVAILABLE && r->base <= pos && pos < r->base + r->length)
        next = r->base + r->length;
    }
    if (next == pos)
      return 0;
    pos = next;
  }
  return 1;
}

void mem_init(void)
{
  for (int i = 0; i < boot_nmmap; i++)
    if (boot_mmap[i].type == MMAP_AVAILABLE)
      avail_bytes += boot_mmap[i].length;

  if ((uint64_t)__kernel_end > DMA_BASE)
    panic("kernel ends at 0x%lx, inside the DMA region at 0x%lx",
          (uint64_t)__kernel_end, DMA_BASE);
  if (!all_available(DMA_BASE, DMA_BASE + DMA_SIZE))
    panic("DMA region [0x%lx, 0x%lx) is not available RAM in the memory map"
          " (%lu KiB available; run QEMU with -m 128)",
          DMA_BASE, DMA_BASE + DMA_SIZE, avail_bytes / 1024);
}

uint64_t mem_avail_kib(void)
{
  return avail_bytes / 1024;
}

void mem_print(void)
{
  kprintf("Base                Length              Type\n");
  for (int i = 0; i < boot_nmmap; i++)
    kprintf("0x%016lx  0x%016lx  %s\n", boot_mmap[i].base, boot_mmap[i].length,
            mmap_type_name(boot_mmap[i].type));

  uint64_t kstart = (uint64_t)__kernel_start, kend = (uint64_t)__kernel_end;
  kprintf("Kernel:      0x%lx-0x%lx (%lu KiB: image, bss, stack, page tables)\n",
          kstart, kend - 1, (kend - kstart) / 1024);
  kprintf("DMA region:  0x%lx-0x%lx (%lu KiB, reserved for the lab, untouched by the kernel)\n",
          DMA_BASE, DMA_BASE + DMA_SIZE - 1, DMA_SIZE / 1024);
  kprintf("Total available RAM: %lu KiB\n", avail_bytes / 1024);
  uint64_t used = (kend - kstart) + DMA_SIZE;
  kprintf("Free memory: %lu KiB\n", avail_bytes > used ? (avail_bytes - used) / 1024 : 0);
}
