/* CRC32C (Castagnoli), used for frame payloads, metadata headers and `verify`, and by hwameistor-copy for every
 * chunk it moves. The SSE4.2 instruction when the CPU has it (a 1 MiB frame costs ~0.1 ms instead of ~1 ms in the
 * table version), else a byte table. Long buffers run three independent instruction chains over three lanes and
 * join them: the instruction's latency is three times its issue interval, so one chain leaves the unit idle two
 * cycles in three. On CPUs with AVX-512 VPCLMULQDQ, buffers of 512 bytes or more are folded with carry-less
 * multiplications first (crc_fold: twice the lanes' bytes per CPU second, 54 vs 27 GB/s on this machine's EPYC);
 * HWAMEISTOR_CRC_NO_FOLD=1 turns that off (tests, side-by-side measurements). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "common.h"

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static int have_sse42, have_vpclmul;

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

/* Folding with carry-less multiplication (VPCLMULQDQ, 4 x 512 bits = 256 bytes per step), where the CPU has it:
 * about 2-3x the three crc32 lanes above, which the issue rate of the crc32 instruction caps. A 128-bit block C of
 * the stream (bytes in order; in the register, reflected: its first 8 bytes C_hi in the low quadword) D bits before
 * another contributes C x^D to the remainder, and C_hi x^(D+64) + C_lo x^D mod P (degree < 96) may replace it there:
 * same remainder, so the CRC is unchanged. A carry-less product of two reflected quadwords is the reflected product
 * times x, hence the constants x^(D+63) and x^(D-1) mod P. What is left, the 256 bytes the four registers hold, goes
 * through the crc32 instruction from state 0; the starting state is XORed into the first 4 bytes (the instruction
 * is linear: crc(s, d) = crc(0, d ^ s)). */
#define FOLD_BYTES 256
static uint64_t fold_k[2];

/* x^n mod P, reflected, in the high half of a quadword (as a reflected 64-bit operand of degree < 32). */
static uint64_t xpow_mod(unsigned n) {
  uint32_t s = 0x80000000u; /* x^0 */
  while (n--) s = s & 1 ? (s >> 1) ^ 0x82F63B78u : s >> 1;
  return (uint64_t)s << 32;
}

__attribute__((target("avx512f,vpclmulqdq"))) static inline __m512i fold512(__m512i x, __m512i k, const unsigned char *next) {
  __m512i a = _mm512_clmulepi64_epi128(x, k, 0x00), b = _mm512_clmulepi64_epi128(x, k, 0x11);
  return _mm512_ternarylogic_epi64(a, b, _mm512_loadu_si512((const void *)next), 0x96); /* a ^ b ^ next */
}

/* len >= 2 * FOLD_BYTES; returns the state after the bytes it took (*taken, a multiple of FOLD_BYTES). */
__attribute__((target("avx512f,vpclmulqdq,sse4.2"))) static uint32_t crc_fold(uint32_t crc, const unsigned char *p, size_t len, size_t *taken) {
  __m512i k = _mm512_set_epi64((long long)fold_k[1], (long long)fold_k[0], (long long)fold_k[1], (long long)fold_k[0], (long long)fold_k[1],
                               (long long)fold_k[0], (long long)fold_k[1], (long long)fold_k[0]);
  __m512i x0 = _mm512_xor_si512(_mm512_loadu_si512((const void *)p), _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)crc)));
  __m512i x1 = _mm512_loadu_si512((const void *)(p + 64)), x2 = _mm512_loadu_si512((const void *)(p + 128)), x3 = _mm512_loadu_si512((const void *)(p + 192));
  size_t i = FOLD_BYTES;
  for (; i + FOLD_BYTES <= len; i += FOLD_BYTES) {
    x0 = fold512(x0, k, p + i);
    x1 = fold512(x1, k, p + i + 64);
    x2 = fold512(x2, k, p + i + 128);
    x3 = fold512(x3, k, p + i + 192);
  }
  unsigned char rest[FOLD_BYTES];
  _mm512_storeu_si512((void *)rest, x0);
  _mm512_storeu_si512((void *)(rest + 64), x1);
  _mm512_storeu_si512((void *)(rest + 128), x2);
  _mm512_storeu_si512((void *)(rest + 192), x3);
  uint64_t c = 0;
  for (size_t j = 0; j < FOLD_BYTES; j += 8) {
    uint64_t v;
    memcpy(&v, rest + j, 8);
    c = __builtin_ia32_crc32di(c, v);
  }
  *taken = i;
  return (uint32_t)c;
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
  have_vpclmul = have_sse42 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("vpclmulqdq") && !getenv("HWAMEISTOR_CRC_NO_FOLD");
  fold_k[0] = xpow_mod(FOLD_BYTES * 8 + 63);
  fold_k[1] = xpow_mod(FOLD_BYTES * 8 - 1);
#endif
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const unsigned char *p, size_t len) {
  if (have_vpclmul && len >= 2 * FOLD_BYTES) {
    size_t taken;
    crc = crc_fold(crc, p, len, &taken);
    p += taken;
    len -= taken;
  }
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
