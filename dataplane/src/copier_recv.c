/* hwameistor-copy recv: the target side (copier.h). The node agent zeroed the target (a new, unused replica)
 * before starting this, so every chunk's table entry starts as the CRC32C of zeros and a Z record for a chunk
 * still zero needs no write. Each D chunk: its CRC32C checked on arrival, written with O_DIRECT, read back with
 * O_DIRECT (the device's bytes, no cache in between) and checked again; the re-read CRC is the table entry.
 * At the end of a round: every chunk of it written and re-read, fdatasync, then "ACK <round>". After the final
 * round the source's whole table is compared entry by entry with this one. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "copier.h"
#include "copier_ring.h"

enum { PH_WRITE = 1, PH_VERIFY = 2 };

struct recv_state {
  struct cp_ring r;
  const struct cp_geom *g;
  const char *path;
  int fd, fd_buf;
  bool direct;
  uint32_t *table;
};

static bool aligned(const struct recv_state *s, uint32_t len) {
  return s->direct && len % CP_ALIGN == 0;
}

/* A slot's write or re-read finished: start the re-read, or check it and free the slot. */
static void advance(struct recv_state *s, int slot) {
  struct cp_slot *c = &s->r.slots[slot];
  if (c->phase == PH_WRITE) {
    c->phase = PH_VERIFY;
    memset(c->buf, 0xA5, c->len); /* a re-read that returned nothing new must not pass */
    cp_ring_read(&s->r, (unsigned)slot, aligned(s, c->len) ? s->fd : s->fd_buf, aligned(s, c->len), c->idx * s->g->chunk, c->len);
    return;
  }
  uint32_t got = crc32c(0, c->buf, c->len);
  if (got != c->crc)
    cp_fail("DATA_LOSS", "SyncVerifyFailed", "chunk %llu of %s re-read after writing has CRC32C %08x, the source sent %08x", (unsigned long long)c->idx,
            s->path, got, c->crc);
  s->table[c->idx] = got;
  c->phase = 0;
}

static int free_slot(struct recv_state *s) {
  /* Move every finished write on to its re-read first, so re-reads start as early as possible. */
  cp_ring_poll(&s->r);
  for (int slot; (slot = cp_ring_done_slot(&s->r, s->path)) >= 0;) advance(s, slot);
  for (;;) {
    for (int i = 0; i < CP_QD; i++)
      if (!s->r.slots[i].busy) return i;
    advance(s, cp_ring_wait_any(&s->r, s->path));
  }
}

static void drain(struct recv_state *s) {
  int slot;
  while ((slot = cp_ring_wait_any(&s->r, s->path)) >= 0) advance(s, slot);
}

static void start_write(struct recv_state *s, int slot, uint64_t idx, uint32_t len, uint32_t crc) {
  struct cp_slot *c = &s->r.slots[slot];
  c->idx = idx;
  c->len = len;
  c->crc = crc;
  c->phase = PH_WRITE;
  cp_ring_write(&s->r, (unsigned)slot, s->fd, s->fd_buf, s->direct, idx * s->g->chunk, len);
}

int cp_recv_main(int argc, char **argv) {
  struct cp_flags f;
  cp_parse_flags(argc, argv, &f, true, true);
  struct recv_state s = {.g = &f.g, .path = f.path};
  s.fd = cp_open(f.path, O_RDWR, &s.direct);
  s.fd_buf = open(f.path, O_RDWR | O_CLOEXEC);
  if (s.fd_buf < 0) cp_fail("INTERNAL", "CopierFailed", "cannot open %s: %s", f.path, strerror(errno));
  uint64_t n = f.g.nchunks ? f.g.nchunks : 1;
  s.table = malloc(n * sizeof *s.table);
  uint32_t *theirs = malloc(n * sizeof *theirs);
  unsigned char *raw = malloc(n * 4);
  if (!s.table || !theirs || !raw) cp_fail("INTERNAL", "CopierFailed", "cannot allocate the chunk table");
  for (uint64_t i = 0; i < f.g.nchunks; i++) s.table[i] = cp_zero_crc(cp_len(&f.g, i));
  cp_ring_init(&s.r, f.g.chunk);
  cp_send_all(f.fd, "GO\n", 3, "GO");

  uint64_t total = 0, round_bytes = 0, round_chunks = 0, verify_ms = 0, round_t0 = cp_now_ms(), last_progress = 0;
  for (;;) {
    unsigned char type;
    cp_recv_exact(f.fd, &type, 1, "a record type");
    if (type == 'D' || type == 'Z') {
      unsigned char h[12];
      cp_recv_exact(f.fd, h, sizeof h, "a record header");
      uint64_t i = cp_get_u64(h);
      uint32_t len = cp_get_u32(h + 8);
      if (i >= f.g.nchunks || len != cp_len(&f.g, i))
        cp_fail("INVALID_ARGUMENT", "SyncProtocolError", "record for chunk %llu of %u bytes does not fit a %llu-byte volume", (unsigned long long)i, len,
                (unsigned long long)f.g.size);
      if (type == 'Z') {
        if (s.table[i] == cp_zero_crc(len)) continue;
        int slot = free_slot(&s);
        memset(s.r.slots[slot].buf, 0, len);
        start_write(&s, slot, i, len, cp_zero_crc(len));
        continue;
      }
      int slot = free_slot(&s);
      unsigned char *buf = s.r.slots[slot].buf;
      cp_recv_exact(f.fd, buf, len, "a chunk");
      unsigned char t[4];
      cp_recv_exact(f.fd, t, 4, "a chunk's CRC32C");
      uint32_t crc = cp_get_u32(t);
      uint32_t got = crc32c(0, buf, len);
      if (got != crc)
        cp_fail("DATA_LOSS", "SyncVerifyFailed", "chunk %llu arrived with CRC32C %08x, the source computed %08x (damaged in transit)", (unsigned long long)i,
                got, crc);
      start_write(&s, slot, i, len, crc);
      round_bytes += len;
      round_chunks++;
      uint64_t now = cp_now_ms();
      if (now - last_progress >= 250) {
        last_progress = now;
        cp_event("\"event\":\"progress\",\"bytes\":%llu", (unsigned long long)(total + round_bytes));
      }
    } else if (type == 'R') {
      unsigned char h[5];
      cp_recv_exact(f.fd, h, sizeof h, "a round trailer");
      uint32_t round = cp_get_u32(h);
      uint64_t v0 = cp_now_ms();
      drain(&s);
      if (fdatasync(s.fd) < 0 || fdatasync(s.fd_buf) < 0) cp_fail("DATA_LOSS", "CopierIOError", "flushing %s: %s", f.path, strerror(errno));
      verify_ms += cp_now_ms() - v0;
      total += round_bytes;
      char ack[32];
      int k = snprintf(ack, sizeof ack, "ACK %u\n", round);
      cp_send_all(f.fd, ack, (size_t)k, "an acknowledgement");
      cp_event("\"event\":\"round\",\"round\":%u,\"final\":%s,\"chunks\":%llu,\"bytes\":%llu,\"ms\":%llu,\"netWaitMs\":%llu,\"ioWaitMs\":%llu,\"submitMs\":%llu,\"cpuMs\":%llu", round,
               h[4] ? "true" : "false", (unsigned long long)round_chunks, (unsigned long long)round_bytes, (unsigned long long)(cp_now_ms() - round_t0),
               (unsigned long long)(cp_net_us / 1000), (unsigned long long)(cp_io_us / 1000), (unsigned long long)(cp_submit_us / 1000), (unsigned long long)cp_cpu_ms());
      round_bytes = round_chunks = 0;
      cp_net_us = cp_io_us = cp_submit_us = 0;
      round_t0 = cp_now_ms();
    } else if (type == 'E') {
      unsigned char h[4];
      cp_recv_exact(f.fd, h, 4, "the table size");
      if (cp_get_u32(h) != f.g.nchunks)
        cp_fail("INVALID_ARGUMENT", "SyncProtocolError", "the source's table has %u chunks, this volume %llu", cp_get_u32(h), (unsigned long long)f.g.nchunks);
      cp_recv_exact(f.fd, raw, f.g.nchunks * 4, "the source's chunk table");
      drain(&s); /* nothing should be in flight after a round; never compare a half-verified table */
      for (uint64_t i = 0; i < f.g.nchunks; i++) {
        uint32_t want = cp_get_u32(raw + i * 4);
        if (want == s.table[i]) continue;
        char msg[128];
        int k = snprintf(msg, sizeof msg, "MISMATCH chunk %llu\n", (unsigned long long)i);
        if (write(f.fd, msg, (size_t)k) < 0) { /* best effort: the source fails either way */
        }
        cp_fail("DATA_LOSS", "SyncVerifyFailed", "chunk %llu of %s has CRC32C %08x, the source's %08x: the copy differs", (unsigned long long)i, f.path,
                s.table[i], want);
      }
      char d[64], ok[80];
      cp_digest(s.table, f.g.nchunks, d);
      int k = snprintf(ok, sizeof ok, "OK %s\n", d);
      cp_send_all(f.fd, ok, (size_t)k, "the confirmation");
      cp_event("\"event\":\"done\",\"bytes\":%llu,\"checksum\":\"%s\",\"verifyMs\":%llu,\"direct\":%s", (unsigned long long)total, d,
               (unsigned long long)verify_ms, s.direct ? "true" : "false");
      shutdown(f.fd, SHUT_WR);
      return 0;
    } else {
      cp_fail("INVALID_ARGUMENT", "SyncProtocolError", "unknown record type 0x%02x", type);
    }
  }
}
