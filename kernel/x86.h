// Thin wrappers around x86 instructions that C cannot express:
// port I/O, memory-mapped I/O, barriers, the TSC, control registers,
// interrupt flag, halt.
#pragma once
#include "types.h"

static inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { asm volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { asm volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)  { uint8_t v;  asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline void cli(void) { asm volatile("cli" ::: "memory"); }
static inline void sti(void) { asm volatile("sti" ::: "memory"); }
static inline void hlt(void) { asm volatile("hlt" ::: "memory"); }
// sti's one-instruction interrupt shadow makes "sti; hlt" atomic: an
// interrupt that is already pending wakes the hlt instead of being lost.
static inline void sti_hlt(void) { asm volatile("sti; hlt" ::: "memory"); }

static inline uint64_t read_rflags(void) { uint64_t v; asm volatile("pushfq; popq %0" : "=r"(v)); return v; }
static inline uint64_t read_cr0(void) { uint64_t v; asm volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr2(void) { uint64_t v; asm volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr3(void) { uint64_t v; asm volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr4(void) { uint64_t v; asm volatile("mov %%cr4, %0" : "=r"(v)); return v; }

#define RFLAGS_IF (1UL << 9)

static inline uint64_t rdtsc(void)
{
  uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t)hi << 32 | lo;
}

// Memory-mapped device registers (the MMIO hole is mapped uncached, boot.S).
static inline uint8_t  mmio_read8(uintptr_t a)  { return *(volatile uint8_t *)a; }
static inline uint16_t mmio_read16(uintptr_t a) { return *(volatile uint16_t *)a; }
static inline uint32_t mmio_read32(uintptr_t a) { return *(volatile uint32_t *)a; }
static inline void mmio_write8(uintptr_t a, uint8_t v)   { *(volatile uint8_t *)a = v; }
static inline void mmio_write16(uintptr_t a, uint16_t v) { *(volatile uint16_t *)a = v; }
static inline void mmio_write32(uintptr_t a, uint32_t v) { *(volatile uint32_t *)a = v; }

// Ordering for memory shared with a device (virtio rings). x86 keeps stores
// in order and loads in order (SDM vol. 3A, 10.2.2), so the compiler is the
// only one to stop there; a store followed by a load needs a real fence.
static inline void barrier(void) { asm volatile("" ::: "memory"); }
static inline void mfence(void)  { asm volatile("mfence" ::: "memory"); }
