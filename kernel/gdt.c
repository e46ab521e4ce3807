// gdt.c -- the permanent GDT and the TSS.
//
// Long mode ignores segment bases and limits, but it still needs a code
// segment with L=1, a data segment, and a TSS: the TSS holds the Interrupt
// Stack Table (IST), which lets the double-fault handler run on a stack of
// its own, so even a kernel stack overflow ends in a readable register dump
// instead of a triple fault and a silent reset.
// Intel SDM vol. 3A: 3.4.5 (segment descriptors), 8.2.3 (TSS descriptor in
// 64-bit mode), 8.7 (64-bit TSS), 7.14.5 (Interrupt Stack Table).
#include "defs.h"
#include "x86.h"

#define SEG_KCODE 0x08
#define SEG_KDATA 0x10
#define SEG_TSS   0x18

struct tss64 {
  uint32_t reserved0;
  uint64_t rsp[3];
  uint64_t reserved1;
  uint64_t ist[7];          // ist[0] is IST1
  uint64_t reserved2;
  uint16_t reserved3;
  uint16_t iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss64) == 104, "64-bit TSS is 104 bytes");

static struct tss64 tss;
static uint8_t df_stack[8192] __attribute__((aligned(16)));   // IST1

// null, code, data, TSS (a 16-byte system descriptor takes two slots)
static uint64_t gdt[5];

void gdt_init(void)
{
  gdt[0] = 0;
  gdt[1] = 0x00AF9A000000FFFFUL;   // P, DPL0, code exec/read, L=1, G=1
  gdt[2] = 0x00CF92000000FFFFUL;   // P, DPL0, data read/write, G=1

  tss.ist[0] = (uint64_t)(df_stack + sizeof df_stack);
  tss.iomap_base = sizeof tss;     // no I/O permission bitmap

  uint64_t base = (uint64_t)&tss;
  uint64_t limit = sizeof tss - 1;
  gdt[3] = (limit & 0xFFFF)
         | ((base & 0xFFFFFF) << 16)
         | (0x89UL << 40)          // P, DPL0, type 9 = available 64-bit TSS
         | (((limit >> 16) & 0xF) << 48)
         | (((base >> 24) & 0xFF) << 56);
  gdt[4] = base >> 32;

  struct { uint16_t limit; uint64_t base; } __attribute__((packed)) desc = {
    sizeof gdt - 1, (uint64_t)gdt
  };
  asm volatile(
    "lgdt %0\n\t"
    "pushq %1\n\t"                 // reload CS with a far return
    "leaq 1f(%%rip), %%rax\n\t"
    "pushq %%rax\n\t"
    "lretq\n"
    "1:\n\t"
    "movw %w2, %%ax\n\t"
    "movw %%ax, %%ds\n\t"
    "movw %%ax, %%es\n\t"
    "movw %%ax, %%ss\n\t"
    "ltr %w3"
    : : "m"(desc), "i"(SEG_KCODE), "r"(SEG_KDATA), "r"(SEG_TSS) : "rax", "memory");
}
