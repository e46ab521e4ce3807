// idt.c -- the interrupt descriptor table and the one C entry point for
// every interrupt and exception, trap().
//
// Vectors 0-31 are CPU exceptions: the kernel has no way to recover from
// any of them, so trap() prints a register dump and panics. Vectors 32-47
// are the 8259 IRQs (pic.c remaps them there); the timer (IRQ0) and COM1
// (IRQ4) are unmasked at boot, and a driver may add one more line with
// irq_register (net=kernel: the NIC's INTx), which installs the handler
// *before* it unmasks the line. Any other IRQ is impossible device state,
// except the 8259's spurious IRQ 7/15 which must be ignored without EOI.
// Vectors 48-255 have stubs too: nothing in DOS64 programs them (no local
// APIC timer, no MSI), so one arriving -- say an MSI a device was set up
// to send -- panics with its vector number instead of a confusing #GP.
// 0xFF, the local APIC's spurious vector after reset, is ignored.
// All gates are interrupt gates (IF cleared on entry); the double fault
// runs on its own IST stack (gdt.c).
// Intel SDM vol. 3A: 7.14.1 (64-bit IDT gate descriptors), 7.15
// (exception reference), 4.7 (page-fault error code).
#include "defs.h"
#include "x86.h"
#include "traps.h"

struct gate {
  uint16_t off_lo;
  uint16_t sel;
  uint8_t  ist;         // bits 0-2: IST index, 0 = use the current stack
  uint8_t  type;        // P | DPL | type
  uint16_t off_mid;
  uint32_t off_hi;
  uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct gate) == 16, "64-bit IDT gate is 16 bytes");

#define GATE_INTR 0x8E        // present, DPL0, 64-bit interrupt gate
#define KCODE_SEL 0x08
#define T_DF 8
#define T_PF 14

extern uint64_t vectors[NVECTORS];          // vectors.S
static struct gate idt[NVECTORS];
static void (*irq_handler[16])(void);       // irq_register: drivers' lines

static const char *const exc_names[32] = {
  "#DE Divide error", "#DB Debug", "NMI", "#BP Breakpoint",
  "#OF Overflow", "#BR BOUND range exceeded", "#UD Invalid opcode", "#NM Device not available",
  "#DF Double fault", "Coprocessor segment overrun", "#TS Invalid TSS", "#NP Segment not present",
  "#SS Stack-segment fault", "#GP General protection", "#PF Page fault", "Reserved 15",
  "#MF x87 floating-point error", "#AC Alignment check", "#MC Machine check", "#XM SIMD floating-point",
  "#VE Virtualization exception", "#CP Control protection", "Reserved 22", "Reserved 23",
  "Reserved 24", "Reserved 25", "Reserved 26", "Reserved 27",
  "#HV Hypervisor injection", "#VC VMM communication", "#SX Security exception", "Reserved 31",
};

void idt_init(void)
{
  for (int i = 0; i < NVECTORS; i++) {
    uint64_t a = vectors[i];
    idt[i].off_lo = a & 0xFFFF;
    idt[i].sel = KCODE_SEL;
    idt[i].ist = (i == T_DF) ? 1 : 0;
    idt[i].type = GATE_INTR;
    idt[i].off_mid = (a >> 16) & 0xFFFF;
    idt[i].off_hi = a >> 32;
  }
  struct { uint16_t limit; uint64_t base; } __attribute__((packed)) desc = {
    sizeof idt - 1, (uint64_t)idt
  };
  asm volatile("lidt %0" : : "m"(desc));
}

static void dump(struct trapframe *tf)
{
  kprintf("\n*** CPU exception %lu: %s, error code 0x%lx\n",
          tf->vector, exc_names[tf->vector], tf->error);
  if (tf->vector == T_PF) {
    // Page-fault error code bits (SDM 3A, 4.7): P, W/R, U/S, RSVD, I/D.
    kprintf("CR2=0x%016lx (%s, %s%s)\n", read_cr2(),
            (tf->error & 2) ? "write" : (tf->error & 16) ? "instruction fetch" : "read",
            (tf->error & 1) ? "protection violation" : "page not present",
            (tf->error & 8) ? ", reserved bit set" : "");
  }
  kprintf("RIP=0x%016lx CS=0x%04lx RFLAGS=0x%016lx\n", tf->rip, tf->cs, tf->rflags);
  kprintf("RSP=0x%016lx SS=0x%04lx\n", tf->rsp, tf->ss);
  kprintf("RAX=0x%016lx RBX=0x%016lx RCX=0x%016lx\n", tf->rax, tf->rbx, tf->rcx);
  kprintf("RDX=0x%016lx RSI=0x%016lx RDI=0x%016lx\n", tf->rdx, tf->rsi, tf->rdi);
  kprintf("RBP=0x%016lx R8 =0x%016lx R9 =0x%016lx\n", tf->rbp, tf->r8, tf->r9);
  kprintf("R10=0x%016lx R11=0x%016lx R12=0x%016lx\n", tf->r10, tf->r11, tf->r12);
  kprintf("R13=0x%016lx R14=0x%016lx R15=0x%016lx\n", tf->r13, tf->r14, tf->r15);
  kprintf("CR0=0x%016lx CR3=0x%016lx CR4=0x%016lx\n", read_cr0(), read_cr3(), read_cr4());
}

void trap(struct trapframe *tf)
{
  if (tf->vector < 32) {
    dump(tf);
    if (tf->vector == T_PF)
      panic("page fault at address 0x%lx (RIP 0x%lx)", read_cr2(), tf->rip);
    panic("CPU exception %lu (%s) at RIP 0x%lx", tf->vector, exc_names[tf->vector], tf->rip);
  }

  if (tf->vector == T_LAPIC_SPURIOUS)
    return;                       // no EOI for a spurious interrupt
  if (tf->vector >= IRQ_BASE + 16)
    panic("unexpected interrupt on vector %lu (0x%lx): DOS64 programs nothing"
          " to send it (an MSI from a device?)", tf->vector, tf->vector);

  int irq = (int)tf->vector - IRQ_BASE;
  if ((irq == 7 || irq == 15) && pic_spurious(irq))
    return;

  switch (irq) {
  case IRQ_TIMER:
    pit_intr();
    break;
  case IRQ_COM1:
    uart_intr();
    break;
  default:
    if (!irq_handler[irq])
      panic("unexpected IRQ %d: it is masked in the 8259", irq);
    irq_handler[irq]();           // quiets the device before the EOI (level-triggered)
  }
  pic_eoi(irq);
}

// Route IRQ `irq` to fn, then unmask it: never the other way round.
void irq_register(int irq, void (*fn)(void))
{
  if (irq < 0 || irq > 15 || irq == 2 || irq == IRQ_TIMER || irq == IRQ_COM1 || irq_handler[irq])
    panic("irq_register: IRQ %d is not free for a driver", irq);
  uint64_t flags = read_rflags();
  cli();
  irq_handler[irq] = fn;
  pic_enable(irq);
  if (flags & RFLAGS_IF)
    sti();
}
