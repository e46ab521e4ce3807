// Every cross-file kernel function and constant, one block per file
// (in the spirit of xv6's defs.h): read this to see the whole kernel surface.
#pragma once
#include "types.h"

#define DOS64_VERSION "0.1.0"

// DMA region reserved for the lab's host-side driver: the kernel never
// reads or writes it. Everything the kernel owns lies below DMA_BASE.
#define DMA_BASE 0x01000000UL
#define DMA_SIZE 0x01000000UL

// kernel.ld
extern char __kernel_start[], __kernel_end[];

// uart.c -- COM1 console
void uart_init(void);
void uart_putc(char c);
void uart_flush(void);
int  uart_getc(void);          // blocks (sti;hlt) until a byte arrives
void uart_intr(void);          // IRQ4

// kprintf.c
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kputs(const char *s);     // no newline added
void kvprintf(const char *fmt, __builtin_va_list ap);

// string.c
size_t strlen(const char *s);
int    strcmp(const char *a, const char *b);
int    strncmp(const char *a, const char *b, size_t n);
int    strcasecmp(const char *a, const char *b);
char  *strncpy0(char *dst, const char *src, size_t n);   // always NUL-terminates
void  *memset(void *d, int c, size_t n);
void  *memcpy(void *d, const void *s, size_t n);
int    toupper(int c);

// panic.c
void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void halt_forever(void) __attribute__((noreturn));

// gdt.c
void gdt_init(void);

// idt.c
void idt_init(void);

// pic.c -- 8259A pair
#define IRQ_BASE  0x20          // IRQ n arrives on vector IRQ_BASE + n
#define IRQ_TIMER 0
#define IRQ_COM1  4
void pic_init(void);
void pic_eoi(int irq);
int  pic_spurious(int irq);

// pit.c -- 8254 timer
#define HZ 100
void     pit_init(void);
void     pit_intr(void);
uint64_t pit_ticks(void);

// pci.c
void pci_list(void);

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

// mem.c
void     mem_init(void);
void     mem_print(void);
uint64_t mem_avail_kib(void);
const char *mmap_type_name(uint32_t type);

// shell.c
void shell_run(void) __attribute__((noreturn));
