// Thin wrappers around x86 instructions that C cannot express:
// port I/O, control registers, interrupt flag, halt.
#pragma once
#include "types.h"

static inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { asm volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)  { uint8_t v;  asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
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
