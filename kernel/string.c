// string.c -- the few libc string helpers the kernel needs.
// GCC may also emit calls to memset/memcpy for struct copies and
// initialisers, even with -ffreestanding, so those two must exist.
#include "defs.h"

size_t strlen(const char *s)
{
  size_t n = 0;
  while (s[n])
    n++;
  return n;
}

int strcmp(const char *a, const char *b)
{
  while (*a && *a == *b)
    a++, b++;
  return (uint8_t)*a - (uint8_t)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
  for (; n > 0; n--, a++, b++) {
    if (*a != *b)
      return (uint8_t)*a - (uint8_t)*b;
    if (*a == 0)
      return 0;
  }
  return 0;
}

int toupper(int c)
{
  return (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c;
}

int strcasecmp(const char *a, const char *b)
{
  while (*a && toupper(*a) == toupper(*b))
    a++, b++;
  return toupper((uint8_t)*a) - toupper((uint8_t)*b);
}

char *strncpy0(char *dst, const char *src, size_t n)
{
  size_t i = 0;
  if (n == 0)
    return dst;
  for (; i + 1 < n && src[i]; i++)
    dst[i] = src[i];
  dst[i] = 0;
  return dst;
}

void *memset(void *d, int c, size_t n)
{
  uint8_t *p = d;
  while (n--)
    *p++ = (uint8_t)c;
  return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
  uint8_t *dp = d;
  const uint8_t *sp = s;
  while (n--)
    *dp++ = *sp++;
  return d;
}
