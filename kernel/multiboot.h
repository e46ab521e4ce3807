// Multiboot 1 structures handed over by the loader (QEMU -kernel).
// Reference: Multiboot Specification 0.6.96, section 3.3 "Boot information format".
#pragma once
#include "types.h"

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002   // in EAX at entry (3.2)

// multiboot_info.flags bits (3.3)
#define MBI_FLAG_MEM     (1u << 0)   // mem_lower / mem_upper valid
#define MBI_FLAG_CMDLINE (1u << 2)   // cmdline valid
#define MBI_FLAG_MMAP    (1u << 6)   // mmap_length / mmap_addr valid

struct multiboot_info {
  uint32_t flags;
  uint32_t mem_lower;        // KiB below 1 MiB
  uint32_t mem_upper;        // KiB above 1 MiB (to the first hole)
  uint32_t boot_device;
  uint32_t cmdline;          // physical address of a NUL-terminated string
  uint32_t mods_count;
  uint32_t mods_addr;
  uint32_t syms[4];
  uint32_t mmap_length;      // bytes
  uint32_t mmap_addr;        // physical address of the first entry
  // drives, config table, boot loader name, apm, vbe, framebuffer: unused
} __attribute__((packed));

// One memory map entry. "size" counts the bytes after itself, so the next
// entry starts at (char *)e + e->size + 4 (3.3, "mmap_*").
struct multiboot_mmap_entry {
  uint32_t size;
  uint64_t base;
  uint64_t length;
  uint32_t type;             // 1 available, 3 ACPI reclaimable, 4 NVS, 5 bad
} __attribute__((packed));

#define MMAP_AVAILABLE 1
