// vectors.S -- entry stubs for all 256 vectors: the 32 CPU exceptions,
// the 16 PIC IRQs (0x20-0x2F) and the rest, which nothing should raise.
//
// The CPU pushes SS, RSP, RFLAGS, CS, RIP and, for some exceptions, an
// error code (SDM vol. 3A, 7.3 table 7-1 "Protected-Mode Exceptions and
// Interrupts": 8, 10-14, 17, 21, 29, 30 push one). Each stub pushes a 0 in
// its place when the CPU does not, then the vector number, so every frame
// has the same shape (struct trapframe in traps.h). alltraps saves the
// general registers and calls trap(tf) in idt.c.
//
// Stack alignment: the CPU aligns RSP to 16 before pushing its 5 words;
// errcode + vector + 15 registers make 17 more, so RSP is 16-byte aligned
// at "call trap" as the SysV ABI requires.

#define NVECTORS 256      // keep in step with traps.h

  .altmacro
  .macro stub n
  .globl vector\n
vector\n:
  .if !((\n == 8) || (\n >= 10 && \n <= 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30))
  pushq $0                // no CPU error code: push a placeholder
  .endif
  pushq $\n
  jmp alltraps
  .endm

  .macro vecaddr n
  .quad vector\n
  .endm

  .text
  .balign 16
  .set i, 0
  .rept NVECTORS
  stub %i
  .set i, i + 1
  .endr

alltraps:
  pushq %r15
  pushq %r14
  pushq %r13
  pushq %r12
  pushq %r11
  pushq %r10
  pushq %r9
  pushq %r8
  pushq %rbp
  pushq %rdi
  pushq %rsi
  pushq %rdx
  pushq %rcx
  pushq %rbx
  pushq %rax
  cld
  movq %rsp, %rdi
  call trap
  popq %rax
  popq %rbx
  popq %rcx
  popq %rdx
  popq %rsi
  popq %rdi
  popq %rbp
  popq %r8
  popq %r9
  popq %r10
  popq %r11
  popq %r12
  popq %r13
  popq %r14
  popq %r15
  addq $16, %rsp          // vector, error code
  iretq

// vectors[i] = address of stub i, for idt_init.
  .section .rodata
  .balign 8
  .globl vectors
vectors:
  .set i, 0
  .rept NVECTORS
  vecaddr %i
  .set i, i + 1
  .endr

  .section .note.GNU-stack, "", @progbits
