// net/checksum.c -- the Internet checksum (RFC 1071) and CRC-32.
//
// The Internet checksum is the ones' complement of the ones' complement
// sum of 16-bit words; summing the big-endian words as little-endian loads
// gives the same bytes once folded (RFC 1071 2(B), byte-order
// independence), so the words are added as they lie in memory. A sum over
// a header that includes its checksum field folds to 0 when it is right.
// UDP and TCP also sum a pseudo-header (RFC 768; RFC 9293 3.1).
//
// CRC-32 is the IEEE 802.3 polynomial, reflected (0xEDB88320), as zlib's
// crc32(): WGET prints it so the host can compare with zlib.crc32.
#include "net.h"

uint32_t checksum_add(uint32_t sum, const void *data, int len)
{
  const uint8_t *p = data;
  uint64_t s = sum;
  while (len >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    s += w;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    s += (uint32_t)(p[0] | p[1] << 8);
    p += 2;
    len -= 2;
  }
  if (len)
    s += p[0];                        // an odd last byte is padded with zero
  while (s >> 32)
    s = (s & 0xFFFFFFFF) + (s >> 32);
  return (uint32_t)s;
}

uint16_t checksum_fold(uint32_t sum)
{
  while (sum >> 16)
    sum = (sum & 0xFFFF) + (sum >> 16);
  return (uint16_t)~sum;
}

uint32_t checksum_pseudo(ip4_t src, ip4_t dst, uint8_t proto, int len)
{
  uint32_t s = checksum_add(0, &src, 4);
  s = checksum_add(s, &dst, 4);
  uint16_t w[2] = { htons(proto), htons((uint16_t)len) };
  return checksum_add(s, w, 4);
}

static uint32_t crc_table[256];

uint32_t crc32_update(uint32_t crc, const void *data, size_t len)
{
  if (!crc_table[1]) {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++)
        c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      crc_table[i] = c;
    }
  }
  const uint8_t *p = data;
  crc = ~crc;
  while (len--)
    crc = crc_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return ~crc;
}
