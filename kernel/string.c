// string.c -- the few libc string helpers the kernel needs.
// GCC may also emit calls to memset/memcpy/memmove/memcmp for struct
// copies and initialisers, even with -ffreestanding, so those must exist.
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

int strncasecmp(const char *a, const char *b, size_t n)
{
  for (; n > 0; n--, a++, b++) {
    if (toupper((uint8_t)*a) != toupper((uint8_t)*b))
      return toupper((uint8_t)*a) - toupper((uint8_t)*b);
    if (*a == 0)
      return 0;
  }
  return 0;
}

char *strchr(const char *s, int c)
{
  for (;; s++) {
    if (*s == (char)c)
      return (char *)s;
    if (!*s)
      return 0;
  }
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

// rep stos / rep movs: one instruction for the bulk, which matters under
// TCG (a byte loop costs a translated block per few bytes).
void *memset(void *d, int c, size_t n)
{
  uint64_t pattern = 0x0101010101010101UL * (uint8_t)c;
  void *p = d;
  size_t q = n / 8, r = n % 8;
  asm volatile("rep stosq" : "+D"(p), "+c"(q) : "a"(pattern) : "memory");
  asm volatile("rep stosb" : "+D"(p), "+c"(r) : "a"(pattern) : "memory");
  return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
  void *dp = d;
  size_t q = n / 8, r = n % 8;
  asm volatile("rep movsq" : "+D"(dp), "+S"(s), "+c"(q) : : "memory");
  asm volatile("rep movsb" : "+D"(dp), "+S"(s), "+c"(r) : : "memory");
  return d;
}

// Overlapping copies (the TCP buffers slide data down).
void *memmove(void *d, const void *s, size_t n)
{
  uint8_t *dp = d;
  const uint8_t *sp = s;
  if (dp <= sp || dp >= sp + n)
    return memcpy(d, s, n);
  while (n--)
    dp[n] = sp[n];
  return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
  const uint8_t *x = a, *y = b;
  for (; n > 0; n--, x++, y++)
    if (*x != *y)
      return *x - *y;
  return 0;
}
