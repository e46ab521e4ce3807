// kprintf.c -- formatted output to the console.
//
// Supports %s %c %d %i %u %x %X %p %% with the length modifiers l and ll
// (both mean 64 bits here), a field width, '0' (zero pad) and '-' (left
// justify). %p prints 0x and 16 hex digits. Anything else is printed
// literally, so a bad format string cannot crash the kernel.
#include "defs.h"

#define va_list  __builtin_va_list
#define va_start __builtin_va_start
#define va_arg   __builtin_va_arg
#define va_end   __builtin_va_end

void kputs(const char *s)
{
  while (*s)
    uart_putc(*s++);
}

static void pad(int n, char c)
{
  while (n-- > 0)
    uart_putc(c);
}

// Print an unsigned number in base 10 or 16 with the given field options.
static void put_num(uint64_t v, int base, int upper, int neg,
                    int width, int zero, int left)
{
  const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char buf[24];
  int n = 0;

  do {
    buf[n++] = digits[v % base];
    v /= base;
  } while (v);

  int len = n + neg;
  if (left) {
    if (neg) uart_putc('-');
    while (n) uart_putc(buf[--n]);
    pad(width - len, ' ');
  } else if (zero) {
    if (neg) uart_putc('-');
    pad(width - len, '0');
    while (n) uart_putc(buf[--n]);
  } else {
    pad(width - len, ' ');
    if (neg) uart_putc('-');
    while (n) uart_putc(buf[--n]);
  }
}

void kvprintf(const char *fmt, va_list ap)
{
  for (const char *p = fmt; *p; p++) {
    if (*p != '%') {
      uart_putc(*p);
      continue;
    }
    const char *start = p++;
    int zero = 0, left = 0, width = 0, lng = 0;
    for (;; p++) {
      if (*p == '0') zero = 1;
      else if (*p == '-') left = 1;
      else break;
    }
    while (*p >= '0' && *p <= '9')
      width = width * 10 + (*p++ - '0');
    while (*p == 'l') {
      lng = 1;
      p++;
    }

    switch (*p) {
    case 'd':
    case 'i': {
      int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
      uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
      put_num(u, 10, 0, v < 0, width, zero, left);
      break;
    }
    case 'u':
      put_num(lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, 0, 0, width, zero, left);
      break;
    case 'x':
    case 'X':
      put_num(lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, *p == 'X', 0, width, zero, left);
      break;
    case 'p':
      kputs("0x");
      put_num((uint64_t)va_arg(ap, void *), 16, 0, 0, 16, 1, 0);
      break;
    case 'c':
      pad(left ? 0 : width - 1, ' ');
      uart_putc((char)va_arg(ap, int));
      pad(left ? width - 1 : 0, ' ');
      break;
    case 's': {
      const char *s = va_arg(ap, const char *);
      if (!s)
        s = "(null)";
      int len = (int)strlen(s);
      pad(left ? 0 : width - len, ' ');
      kputs(s);
      pad(left ? width - len : 0, ' ');
      break;
    }
    case '%':
      uart_putc('%');
      break;
    default:                 // unknown conversion: print it as written
      for (; start <= p && *start; start++)
        uart_putc(*start);
      if (!*p)
        return;
      break;
    }
  }
}

void kprintf(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  kvprintf(fmt, ap);
  va_end(ap);
}
