// main.c -- the table of contents: boot.S calls kmain in long mode with
// interrupts off, and kmain brings the machine up one subsystem per line,
// in dependency order, then hands the console to the shell.
#include "defs.h"
#include "x86.h"

void kmain(uint32_t mb_magic, uint32_t mb_info)
{
  uart_init();                      // COM1 console: printing works from here on
  kputs("\nDOS64 " DOS64_VERSION " - 64-bit long mode\n");
  gdt_init();                       // permanent GDT + TSS (double-fault stack)
  idt_init();                       // exceptions now end in a register dump
  multiboot_init(mb_magic, mb_info);// copy memory map and command line
  cmdline_init();                   // net=host | net=kernel
  mem_init();                       // check the DMA region is free RAM
  pic_init();                       // 8259: IRQ0 and IRQ4 only
  pit_init();                       // 100 Hz tick
  clock_init();                     // TSC rate, measured against the PIT
  rtc_init();                       // wall-clock time from the CMOS RTC
  sti();                            // interrupts on
  net_init();                       // net=kernel: NIC, stack, DHCP, services

  kprintf("DOS64 READY version=%s net=%s dma_base=0x%lx dma_size=0x%lx mem_kib=%lu%s\n",
          DOS64_VERSION, net_mode_name(), DMA_BASE, DMA_SIZE, mem_avail_kib(), net_ready_info());
  shell_run();                      // never returns
}
