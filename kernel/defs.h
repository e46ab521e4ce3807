// Every cross-file kernel function and constant, one block per file
// (in the spirit of xv6's defs.h): read this to see the whole kernel surface.
#pragma once
#include "types.h"

#define DOS64_VERSION "0.1.0"

// DMA region: in net=host reserved for the lab's host-side driver (the
// kernel never reads or writes it); in net=kernel the native network
// stack's (kalloc.c). The kernel image itself lies below DMA_BASE.
#define DMA_BASE 0x01000000UL
#define DMA_SIZE 0x01000000UL

// kernel.ld
extern char __kernel_start[], __kernel_end[];

// uart.c -- COM1 console
void uart_init(void);
void uart_putc(char c);
void uart_flush(void);
int  uart_trygetc(void);       // a byte typed, or -1
int  uart_pending(void);
void uart_intr(void);          // IRQ4

// console.c -- COM1 and the telnet session: output to both, input from either
void console_putc(char c);
int  console_getc(void);       // sleeps in idle() until a byte arrives
int  console_from_telnet(void);   // the last byte read came from telnet

// idle.c -- run the network once, else halt until an interrupt
void idle(void);               // loops that watch the clock: the HZ tick wakes them
void idle_deep(void);          // the shell waiting for a key: fewer wake-ups

// kprintf.c
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kputs(const char *s);     // no newline added
void kvprintf(const char *fmt, __builtin_va_list ap);
int  ksnprintf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int  kvsnprintf(char *buf, size_t cap, const char *fmt, __builtin_va_list ap);

// string.c
size_t strlen(const char *s);
int    strcmp(const char *a, const char *b);
int    strncmp(const char *a, const char *b, size_t n);
int    strcasecmp(const char *a, const char *b);
int    strncasecmp(const char *a, const char *b, size_t n);
char  *strchr(const char *s, int c);
char  *strncpy0(char *dst, const char *src, size_t n);   // always NUL-terminates
void  *memset(void *d, int c, size_t n);
void  *memcpy(void *d, const void *s, size_t n);
void  *memmove(void *d, const void *s, size_t n);
int    memcmp(const void *a, const void *b, size_t n);
int    toupper(int c);

// panic.c
void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void halt_forever(void) __attribute__((noreturn));

// gdt.c
void gdt_init(void);

// idt.c
void idt_init(void);
void irq_register(int irq, void (*fn)(void));   // handler first, then unmask

// pic.c -- 8259A pair
#define IRQ_BASE  0x20          // IRQ n arrives on vector IRQ_BASE + n
#define IRQ_TIMER 0
#define IRQ_COM1  4
void pic_init(void);
void pic_enable(int irq);
void pic_eoi(int irq);
int  pic_spurious(int irq);

// pit.c -- 8254 timer
#define HZ 100
#define PIT_FREQ 1193182
#define PIT_DIVISOR ((PIT_FREQ + HZ / 2) / HZ)   // 11932: 100.0 Hz
void     pit_init(void);
void     pit_intr(void);
uint64_t pit_ticks(void);        // HZ ticks of uptime (from the TSC clock)
uint64_t pit_interrupts(void);   // IRQ0s taken
void     pit_slow(int on);       // 18.2 Hz while idle_deep halts, else HZ

// rtc.c -- the wall clock: the CMOS RTC read once at boot
struct civil { int year, month, day, hour, minute, second, weekday; };  // weekday 0 = Sunday
void     rtc_init(void);
uint64_t unix_time_us(void);       // microseconds since 1970 (UTC, as QEMU's RTC)
void     civil_from_unix(uint64_t secs, struct civil *c);

// clock.c -- microseconds from the TSC, calibrated against the PIT
void     clock_init(void);
uint64_t clock_us(void);
uint64_t clock_tsc_khz(void);

// pci.c
struct pci_dev {
  uint8_t  bus, dev, fn;
  uint16_t vendor, device;
  uint8_t  irq_line, irq_pin;   // firmware's routing (config 0x3C/0x3D)
};
#define PCI_CMD_IO           0x0001
#define PCI_CMD_MEMORY       0x0002
#define PCI_CMD_BUS_MASTER   0x0004
#define PCI_CMD_INTX_DISABLE 0x0400
#define PCI_CAP_VENDOR       0x09
void     pci_list(void);
int      pci_find(uint16_t vendor, uint16_t device, struct pci_dev *out);
uint32_t pci_conf_read32(const struct pci_dev *d, int off);
uint16_t pci_conf_read16(const struct pci_dev *d, int off);
uint8_t  pci_conf_read8(const struct pci_dev *d, int off);
void     pci_conf_write32(const struct pci_dev *d, int off, uint32_t v);
uint64_t pci_bar(const struct pci_dev *d, int i, int *is_io);
int      pci_find_cap(const struct pci_dev *d, uint8_t id, int after);
void     pci_enable(const struct pci_dev *d);

// kalloc.c -- net=kernel: bump allocation in the DMA region, zeroed
void    *kalloc(size_t n, size_t align);
void    *kalloc_uninit(size_t n, size_t align);   // not cleared (buffers)
uint64_t kalloc_used(void);

// multiboot.c -- copy what the loader gave us before anything can clobber it
#define MAX_MMAP 32
struct mmap_region { uint64_t base, length; uint32_t type; };
void multiboot_init(uint32_t magic, uint32_t info);
extern struct mmap_region boot_mmap[MAX_MMAP];
extern int boot_nmmap;
const char *boot_cmdline(void);   // -append text (loader's argv[0] stripped)

// cmdline.c -- kernel options
enum net_mode { NET_HOST, NET_KERNEL };
void cmdline_init(void);
enum net_mode net_mode(void);
const char *net_mode_name(void);
int virtio_prefer_modern(void);   // virtio=modern (default) | virtio=legacy

// mem.c
void     mem_init(void);
void     mem_print(void);
uint64_t mem_avail_kib(void);
const char *mmap_type_name(uint32_t type);

// shell.c
void shell_run(void) __attribute__((noreturn));

// net/ -- the native network stack (net=kernel); see net/net.h
void net_init(void);           // driver, DHCP (static fallback); no-op in net=host
int  net_poll(void);           // one round of the stack; 1 if it did anything
int  net_pending(void);        // the NIC interrupted since net_poll last looked
uint64_t net_deadline(void);   // when the stack must run next without new frames (~0: never)
const char *net_ready_info(void);  // extra key=value pairs for the ready line
void telnet_putc(char c);      // console output, copied to the telnet session
int  telnet_getc(void);        // a byte from the telnet session, or -1
void cmd_ifconfig(const char *args);   // the network's shell commands
void cmd_dhcp(const char *args);
void cmd_ping(const char *args);
void cmd_netstat(const char *args);
void cmd_wget(const char *args);
void cmd_httpd(const char *args);
