// Fixed-width integer types for a freestanding kernel (no libc headers).
#pragma once

typedef unsigned char      uint8_t;
typedef unsigned short     uint16_t;
typedef unsigned int       uint32_t;
typedef unsigned long      uint64_t;
typedef signed char        int8_t;
typedef short              int16_t;
typedef int                int32_t;
typedef long               int64_t;
typedef unsigned long      uintptr_t;
typedef unsigned long      size_t;

#define NULL ((void *)0)

_Static_assert(sizeof(uint64_t) == 8, "LP64 expected");
_Static_assert(sizeof(void *) == 8, "64-bit pointers expected");
