// uart.c -- the console: COM1, a 16550A UART at I/O port 0x3F8.
//
// Output is polled: wait for THR empty, write one byte. "\n" goes out as
// "\r\n" so every output line ends in CR LF.
//
// Input is interrupt driven: IRQ4 ("received data available", IER bit 0)
// drains the receive FIFO into a ring buffer; uart_trygetc() takes from it
// (console.c sleeps with sti;hlt while every input is empty). When the ring
// is full, new bytes are dropped (the shell must survive any input, lost
// bytes included).
//
// Register map and bits: National Semiconductor PC16550D datasheet, table 2
// ("Summary of Registers").
#include "defs.h"
#include "x86.h"

#define COM1 0x3F8
#define RBR  0        // receive buffer (read, DLAB=0)
#define THR  0        // transmit holding (write, DLAB=0)
#define DLL  0        // divisor latch low  (DLAB=1)
#define IER  1        // interrupt enable   (DLAB=0)
#define DLM  1        // divisor latch high (DLAB=1)
#define IIR  2        // interrupt identification (read)
#define FCR  2        // FIFO control (write)
#define LCR  3        // line control
#define MCR  4        // modem control
#define LSR  5        // line status
#define SCR  7        // scratch

#define IER_RDA   0x01      // interrupt on received data available / timeout
#define FCR_ENABLE 0x01
#define FCR_CLEAR_TX 0x04
#define FCR_TRIGGER_8 0x80  // RX interrupt at 8 bytes (or character timeout)
#define LCR_8N1   0x03
#define LCR_DLAB  0x80
#define MCR_DTR   0x01
#define MCR_RTS   0x02
#define MCR_OUT2  0x08      // gates the UART's IRQ line to the PIC on PCs
#define LSR_DR    0x01      // data ready
#define LSR_THRE  0x20      // transmit holding register empty
#define LSR_TEMT  0x40      // transmitter completely empty
#define IIR_NONE  0x01      // no interrupt pending

#define BAUD_BASE 115200    // 1.8432 MHz / 16

#define RING_SIZE 1024      // power of two
static volatile uint8_t ring[RING_SIZE];
static volatile uint32_t ring_head;     // written by uart_intr
static volatile uint32_t ring_tail;     // written by uart_trygetc
static uint64_t rx_dropped;

static int present;

static void ring_put(uint8_t c)
{
  if (ring_head - ring_tail >= RING_SIZE) {
    rx_dropped++;
    return;
  }
  ring[ring_head % RING_SIZE] = c;
  ring_head++;
}

void uart_init(void)
{
  // Is there a UART at all? The scratch register holds what we write.
  outb(COM1 + SCR, 0x5A);
  if (inb(COM1 + SCR) != 0x5A)
    return;                     // no console; nothing we could even report
  present = 1;

  outb(COM1 + IER, 0);                          // no interrupts while we set up
  outb(COM1 + LCR, LCR_DLAB);
  outb(COM1 + DLL, BAUD_BASE / 115200);         // divisor 1 -> 115200 baud
  outb(COM1 + DLM, 0);
  outb(COM1 + LCR, LCR_8N1);                    // 8 data bits, no parity, 1 stop

  // A byte typed before we got here may sit in RBR; keep it, because
  // enabling the FIFO resets the receiver.
  while (inb(COM1 + LSR) & LSR_DR)
    ring_put(inb(COM1 + RBR));

  outb(COM1 + FCR, FCR_ENABLE | FCR_CLEAR_TX | FCR_TRIGGER_8);
  outb(COM1 + MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
  (void)inb(COM1 + IIR);
  outb(COM1 + IER, IER_RDA);                    // IRQ4 unmasked later by pic_init
}

void uart_putc(char c)
{
  if (!present)
    return;
  if (c == '\n')
    uart_putc('\r');
  while (!(inb(COM1 + LSR) & LSR_THRE))
    ;
  outb(COM1 + THR, (uint8_t)c);
}

// Wait until every byte written has left the transmitter (before EXIT).
void uart_flush(void)
{
  if (!present)
    return;
  while (!(inb(COM1 + LSR) & LSR_TEMT))
    ;
}

// IRQ4. Read until the FIFO is empty; the read also clears the interrupt.
void uart_intr(void)
{
  int n = 0;
  while (inb(COM1 + LSR) & LSR_DR) {
    ring_put(inb(COM1 + RBR));
    if (++n > 4096)
      panic("uart: LSR data-ready stuck on (COM1 at 0x%x)", COM1);
  }
  (void)inb(COM1 + IIR);
}

// The next byte typed, or -1 if none is waiting. Called with interrupts
// on or off; the ring's tail is ours alone.
int uart_trygetc(void)
{
  if (ring_tail == ring_head)
    return -1;
  uint8_t c = ring[ring_tail % RING_SIZE];
  ring_tail++;
  return c;
}

// Is a byte waiting? (console.c asks with interrupts off before it halts.)
int uart_pending(void)
{
  return ring_tail != ring_head;
}
