// pic.c -- the two cascaded 8259A interrupt controllers.
//
// At reset the master delivers IRQ0-7 on vectors 8-15, which collide with
// CPU exceptions, so we re-initialise both chips with ICW1-ICW4 to use
// vectors 0x20-0x27 (master) and 0x28-0x2F (slave on master IRQ2).
// Only IRQ0 (PIT) and IRQ4 (COM1) are unmasked at boot; pic_enable adds a
// line for a driver (through irq_register, idt.c). The trigger mode of PCI
// lines (level, in the ELCR at 0x4D0/0x4D1) is left as the firmware set it.
// A spurious IRQ7/15 (line dropped before the INTA cycle) shows up with
// its In-Service bit clear and must not get an EOI.
// Reference: Intel 8259A datasheet, "Initialization Command Words" and
// "Operation Command Words"; OSDev-style port map 0x20/0x21, 0xA0/0xA1.
#include "defs.h"
#include "x86.h"

#define PIC1_CMD  0x20
#define PIC1_DATA 0x21
#define PIC2_CMD  0xA0
#define PIC2_DATA 0xA1

#define ICW1_INIT 0x10
#define ICW1_ICW4 0x01      // ICW4 will follow
#define ICW4_8086 0x01
#define OCW2_EOI  0x20      // non-specific end of interrupt
#define OCW3_READ_ISR 0x0B

void pic_init(void)
{
  outb(PIC1_DATA, 0xFF);                 // mask everything while we program
  outb(PIC2_DATA, 0xFF);

  outb(PIC1_CMD, ICW1_INIT | ICW1_ICW4); // ICW1: edge triggered, cascade
  outb(PIC2_CMD, ICW1_INIT | ICW1_ICW4);
  outb(PIC1_DATA, IRQ_BASE);             // ICW2: vector base
  outb(PIC2_DATA, IRQ_BASE + 8);
  outb(PIC1_DATA, 1 << 2);               // ICW3: slave on IRQ2
  outb(PIC2_DATA, 2);                    // ICW3: slave identity 2
  outb(PIC1_DATA, ICW4_8086);            // ICW4: 8086 mode, normal EOI
  outb(PIC2_DATA, ICW4_8086);

  outb(PIC1_DATA, (uint8_t)~((1 << IRQ_TIMER) | (1 << IRQ_COM1)));
  outb(PIC2_DATA, 0xFF);
}

void pic_enable(int irq)
{
  if (irq >= 8) {
    outb(PIC2_DATA, inb(PIC2_DATA) & ~(1 << (irq - 8)));
    irq = 2;                             // the slave's cascade line on the master
  }
  outb(PIC1_DATA, inb(PIC1_DATA) & ~(1 << irq));
}

void pic_eoi(int irq)
{
  if (irq >= 8)
    outb(PIC2_CMD, OCW2_EOI);
  outb(PIC1_CMD, OCW2_EOI);
}

static uint8_t read_isr(uint16_t cmd)
{
  outb(cmd, OCW3_READ_ISR);
  return inb(cmd);
}

// Returns 1 if IRQ 7 or 15 is spurious (and finishes it correctly).
int pic_spurious(int irq)
{
  if (irq == 7)
    return !(read_isr(PIC1_CMD) & 0x80);
  if (!(read_isr(PIC2_CMD) & 0x80)) {
    outb(PIC1_CMD, OCW2_EOI);            // the master did see IRQ2
    return 1;
  }
  return 0;
}
