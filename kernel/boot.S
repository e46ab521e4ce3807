// boot.S -- from the Multiboot hand-off (32-bit protected mode) to kmain
// in 64-bit long mode.
//
// QEMU's -kernel loads us as a Multiboot 1 ELF image at 1 MiB and jumps to
// _start with EAX = 0x2BADB002, EBX = physical address of the multiboot
// info, paging off, interrupts off, flat 32-bit segments, no stack
// (Multiboot spec 0.6.96, 3.2 "Machine state").
//
// We then:
//   1. zero .bss (stack and page tables live there),
//   2. check the CPU can do long mode (else print on COM1 and stop),
//   3. build page tables that identity-map [0, 4 GiB) with 2 MiB pages;
//      [3 GiB, 4 GiB) is MMIO (PCI BARs, IOAPIC, LAPIC) so those pages are
//      PCD|PWT (uncached). Nothing at or above 4 GiB is mapped, so touching
//      0x100000000 page-faults (the shell's PANIC command relies on it),
//   4. enable PAE, EFER.LME, then PG -> long mode, compatibility submode
//      (Intel SDM vol. 3A, 10.8.5 "Initializing IA-32e Mode"),
//   5. load a 64-bit GDT, far-jump into a 64-bit code segment,
//   6. call kmain(magic, info).

#define MB_MAGIC      0x1BADB002
#define MB_FLAGS      0x00000003     // bit 0: page-align modules; bit 1: want memory info
#define KSTACK_SIZE   16384

#define PTE_P   0x001
#define PTE_W   0x002
#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define PTE_PS  0x080                // 2 MiB page in a page directory entry

#define CR4_PAE   (1 << 5)
#define CR0_PG    (1 << 31)
#define CR0_WP    (1 << 16)
#define MSR_EFER  0xC0000080
#define EFER_LME  (1 << 8)

// Multiboot header (spec 3.1). It must be 4-byte aligned and lie in the
// first 8192 bytes of the file: kernel.ld puts .multiboot first and the
// link uses -n so the file offset of the first section stays small.
// Bit 16 (a.out kludge) is not set: QEMU loads the ELF32 program headers.
  .section .multiboot, "a"
  .balign 4
  .long MB_MAGIC
  .long MB_FLAGS
  .long -(MB_MAGIC + MB_FLAGS)

  .section .text.boot, "ax"
  .code32
  .globl _start
_start:
  cli
  cld
  movl %eax, %esi                    // multiboot magic
  movl %ebx, %ebp                    // multiboot info (CPUID clobbers EBX)

  // 1. Zero .bss, and not one byte past __kernel_end: QEMU puts the
  //    command line string right there (page after the image).
  movl $__bss_start, %edi
  movl $__kernel_end, %ecx
  subl %edi, %ecx
  shrl $2, %ecx
  xorl %eax, %eax
  rep stosl

  movl $boot_stack_top, %esp

  // 2. Long mode available? CPUID 0x80000001 EDX bit 29 (SDM vol. 2A, CPUID).
  movl $0x80000000, %eax
  cpuid
  cmpl $0x80000001, %eax
  jb no_long_mode
  movl $0x80000001, %eax
  cpuid
  testl $(1 << 29), %edx
  jz no_long_mode

  // 3. Page tables: PML4[0] -> PDPT; PDPT[0..3] -> PD0..PD3; 2048 PDEs.
  movl $boot_pdpt, %eax
  orl $(PTE_P | PTE_W), %eax
  movl %eax, boot_pml4

  movl $boot_pd, %eax
  orl $(PTE_P | PTE_W), %eax
  xorl %ecx, %ecx
1:movl %eax, boot_pdpt(, %ecx, 8)
  addl $4096, %eax
  incl %ecx
  cmpl $4, %ecx
  jb 1b

  // PDE i maps physical i * 2 MiB. i >= 1536 is the 3..4 GiB MMIO hole.
  xorl %ecx, %ecx
2:movl %ecx, %eax
  shll $21, %eax
  orl $(PTE_P | PTE_W | PTE_PS), %eax
  cmpl $1536, %ecx
  jb 3f
  orl $(PTE_PCD | PTE_PWT), %eax
3:movl %eax, boot_pd(, %ecx, 8)      // high dword stays 0 (bss zeroed)
  incl %ecx
  cmpl $2048, %ecx
  jb 2b

  // 4. PAE, then EFER.LME, then paging.
  movl %cr4, %eax
  orl $CR4_PAE, %eax
  movl %eax, %cr4

  movl $boot_pml4, %eax
  movl %eax, %cr3

  movl $MSR_EFER, %ecx
  rdmsr
  orl $EFER_LME, %eax
  wrmsr

  movl %cr0, %eax
  orl $(CR0_PG | CR0_WP), %eax
  movl %eax, %cr0

  // 5. Now in compatibility mode; a far jump to a L=1 segment enters 64-bit mode.
  lgdt boot_gdt_desc
  ljmp $0x08, $start64

no_long_mode:
  movl $no_lm_msg, %ecx
4:movb (%ecx), %al
  testb %al, %al
  jz 6f
  movw $0x3FD, %dx                   // COM1 LSR: wait for THR empty
5:inb %dx, %al
  testb $0x20, %al
  jz 5b
  movb (%ecx), %al
  movw $0x3F8, %dx
  outb %al, %dx
  incl %ecx
  jmp 4b
6:cli
  hlt
  jmp 6b

  .code64
start64:
  movw $0x10, %ax
  movw %ax, %ds
  movw %ax, %es
  movw %ax, %ss
  xorw %ax, %ax
  movw %ax, %fs
  movw %ax, %gs
  movq $boot_stack_top, %rsp

  // 6. kmain(magic, info). 32-bit moves zero-extend into the 64-bit registers.
  movl %esi, %edi
  movl %ebp, %esi
  xorl %ebp, %ebp                    // end of frame-pointer chain
  call kmain
7:cli
  hlt
  jmp 7b

  .section .rodata
no_lm_msg:
  .asciz "DOS64: this CPU has no 64-bit long mode. System halted.\r\n"

// Boot GDT: null, 64-bit code (0x08), data (0x10). gdt.c replaces it with
// one that also holds a TSS.
  .balign 8
boot_gdt:
  .quad 0
  .quad 0x00AF9A000000FFFF           // P, DPL0, code exec/read, L=1, G=1
  .quad 0x00CF92000000FFFF           // P, DPL0, data read/write, G=1
boot_gdt_end:
boot_gdt_desc:
  .word boot_gdt_end - boot_gdt - 1
  .long boot_gdt

  .section .bss
  .balign 4096
  .globl boot_pml4
boot_pml4:  .skip 4096
boot_pdpt:  .skip 4096
boot_pd:    .skip 4 * 4096
  .balign 16
  .globl boot_stack, boot_stack_top
boot_stack: .skip KSTACK_SIZE
boot_stack_top:

  .section .note.GNU-stack, "", @progbits
