/* CRC32C (Castagnoli), used for frame payloads, metadata headers and `verify`, and by hwameistor-copy for every
 * chunk it moves. The SSE4.2 instruction when the CPU has it (a 1 MiB frame costs ~0.1 ms instead of ~1 ms in the
 * table version), else a byte table. Long buffers run three independent instruction chains over three lanes and
 * join them: the instruction's latency is three times its issue interval, so one chain leaves the unit idle two
 * cycles in three. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common.h"

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static int have_sse42;

/* The interleave: lanes of LANE bytes. Joining needs the CRC register advanced over LANE (and 2 LANE) zero bytes,
 * a linear map of the 32-bit register, tabulated per byte of it: shift[k][b][v] = register (v << 8b) advanced over
 * (k+1) LANE zero bytes. */
#define LANE 4096
static uint32_t shift[2][4][256];

#if defined(__x86_64__)
static uint32_t crc_hw(uint32_t crc, const unsigned char *p, size_t len);

/* The register advanced over n zero bytes is linear in the register (the instruction on zero data multiplies by
 * x^64 mod P): the images of the 32 unit registers determine it. */
static void init_shift(void) {
  static const unsigned char zeros[LANE];
  for (int k = 0; k < 2; k++) {
    uint32_t unit[32];
    for (int i = 0; i < 32; i++) {
      unit[i] = crc_hw(1u << i, zeros, LANE);
      if (k == 1) unit[i] = crc_hw(unit[i], zeros, LANE);
    }
    for (int b = 0; b < 4; b++)
      for (uint32_t v = 0; v < 256; v++) {
        uint32_t x = 0;
        for (int i = 0; i < 8; i++)
          if (v >> i & 1) x ^= unit[8 * b + i];
        shift[k][b][v] = x;
      }
  }
}

static inline uint32_t advance(int k, uint32_t c) {
  return shift[k][0][c & 0xff] ^ shift[k][1][c >> 8 & 0xff] ^ shift[k][2][c >> 16 & 0xff] ^ shift[k][3][c >> 24];
}
#endif

static void init_table(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
#if defined(__x86_64__)
  __builtin_cpu_init();
  have_sse42 = __builtin_cpu_supports("sse4.2");
  if (have_sse42) init_shift();
#endif
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const unsigned char *p, size_t len) {
  uint64_t c = crc;
  /* Three lanes at once: register(A B C) = advance2(register(A)) ^ advance1(register_0(B)) ^ register_0(C). */
  while (len >= 3 * LANE) {
    uint64_t c1 = 0, c2 = 0;
    for (size_t i = 0; i < LANE; i += 8) {
      uint64_t v0, v1, v2;
      memcpy(&v0, p + i, 8);
      memcpy(&v1, p + LANE + i, 8);
      memcpy(&v2, p + 2 * LANE + i, 8);
      c = __builtin_ia32_crc32di(c, v0);
      c1 = __builtin_ia32_crc32di(c1, v1);
      c2 = __builtin_ia32_crc32di(c2, v2);
    }
    c = advance(1, (uint32_t)c) ^ advance(0, (uint32_t)c1) ^ (uint32_t)c2;
    p += 3 * LANE;
    len -= 3 * LANE;
  }
  while (len >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
    p += 8;
    len -= 8;
  }
  uint32_t c32 = (uint32_t)c;
  while (len--) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return c32;
}
#endif

uint32_t crc32c(uint32_t crc, const void *buf, size_t len) {
  pthread_once(&table_once, init_table);
  const unsigned char *p = buf;
  crc = ~crc;
#if defined(__x86_64__)
  if (have_sse42) return ~crc_hw(crc, p, len);
#endif
  while (len--) crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return ~crc;
}
