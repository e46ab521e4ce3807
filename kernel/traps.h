// The stack frame built by vectors.S for every interrupt and exception.
#pragma once
#include "types.h"

struct trapframe {
  // pushed by alltraps in vectors.S
  uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
  // pushed by the per-vector stub
  uint64_t vector;
  uint64_t error;     // the CPU's error code, or 0 for vectors without one
  // pushed by the CPU (SDM vol. 3A, 7.14.2 "64-Bit Mode Stack Frame")
  uint64_t rip, cs, rflags, rsp, ss;
};

#define NVECTORS 256  // every vector has a stub in vectors.S
#define T_LAPIC_SPURIOUS 0xFF   // local APIC spurious vector after reset
