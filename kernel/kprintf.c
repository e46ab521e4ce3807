// kprintf.c -- formatted output to the console, or into a buffer.
//
// Supports %s %c %d %i %u %x %X %p %% with the length modifiers l and ll
// (both mean 64 bits here), a field width, '0' (zero pad) and '-' (left
// justify). %p prints 0x and 16 hex digits. Anything else is printed
// literally, so a bad format string cannot crash the kernel.
// kprintf writes to the console (console.c: COM1 and the telnet session);
// ksnprintf writes into a buffer (the HTTP server's pages), always
// NUL-terminated, and returns the length it wanted, like C's snprintf.
#include "defs.h"

#define va_list  __builtin_va_list
#define va_start __builtin_va_start
#define va_arg   __builtin_va_arg
#define va_end   __builtin_va_end

// Where the characters go: the console, or buf[0..cap).
struct out {
  char *buf;          // NULL: the console
  size_t cap;
  size_t len;         // characters produced (may exceed cap)
};

static void put(struct out *o, char c)
{
  if (!o->buf)
    console_putc(c);
  else if (o->len + 1 < o->cap)
    o->buf[o->len] = c;
  o->len++;
}

static void puts_out(struct out *o, const char *s)
{
  while (*s)
    put(o, *s++);
}

void kputs(const char *s)
{
  while (*s)
    console_putc(*s++);
}

static void pad(struct out *o, int n, char c)
{
  while (n-- > 0)
    put(o, c);
}

// Print an unsigned number in base 10 or 16 with the given field options.
static void put_num(struct out *o, uint64_t v, int base, int upper, int neg,
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
    if (neg) put(o, '-');
    while (n) put(o, buf[--n]);
    pad(o, width - len, ' ');
  } else if (zero) {
    if (neg) put(o, '-');
    pad(o, width - len, '0');
    while (n) put(o, buf[--n]);
  } else {
    pad(o, width - len, ' ');
    if (neg) put(o, '-');
    while (n) put(o, buf[--n]);
  }
}

static void format(struct out *o, const char *fmt, va_list ap)
{
  for (const char *p = fmt; *p; p++) {
    if (*p != '%') {
      put(o, *p);
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
      put_num(o, u, 10, 0, v < 0, width, zero, left);
      break;
    }
    case 'u':
      put_num(o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, 0, 0, width, zero, left);
      break;
    case 'x':
    case 'X':
      put_num(o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, *p == 'X', 0, width, zero, left);
      break;
    case 'p':
      puts_out(o, "0x");
      put_num(o, (uint64_t)va_arg(ap, void *), 16, 0, 0, 16, 1, 0);
      break;
    case 'c':
      pad(o, left ? 0 : width - 1, ' ');
      put(o, (char)va_arg(ap, int));
      pad(o, left ? width - 1 : 0, ' ');
      break;
    case 's': {
      const char *s = va_arg(ap, const char *);
      if (!s)
        s = "(null)";
      int len = (int)strlen(s);
      pad(o, left ? 0 : width - len, ' ');
      puts_out(o, s);
      pad(o, left ? width - len : 0, ' ');
      break;
    }
    case '%':
      put(o, '%');
      break;
    default:                 // unknown conversion: print it as written
      for (; start <= p && *start; start++)
        put(o, *start);
      if (!*p)
        return;
      break;
    }
  }
}

void kvprintf(const char *fmt, va_list ap)
{
  struct out o = { 0, 0, 0 };
  format(&o, fmt, ap);
}

void kprintf(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  kvprintf(fmt, ap);
  va_end(ap);
}

int kvsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
{
  struct out o = { buf, cap, 0 };
  format(&o, fmt, ap);
  if (cap)
    buf[o.len < cap ? o.len : cap - 1] = 0;
  return (int)o.len;
}

int ksnprintf(char *buf, size_t cap, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = kvsnprintf(buf, cap, fmt, ap);
  va_end(ap);
  return n;
}
