/* hwameistor-copy recv: the target side (copier.h). The node agent zeroed the target (a new, unused replica)
 * before starting this, so every chunk's table entry starts as the CRC32C of zeros and a Z record for a chunk
 * still zero needs no write. Each D chunk: its CRC32C computed over the very buffer that is then written with
 * O_DIRECT and checked against the source's (damage in transit fails the copy); that CRC is the table entry once
 * the write completed in full. With --read-back the chunk is also read back with O_DIRECT after its write and
 * checked again, and the re-read CRC is the entry (docs/migration.md "What the target's table proves").
 * At the end of a round: every chunk of it written (and re-read), fdatasync, then "ACK <round>". After the final
 * round the source's whole table is compared entry by entry with this one.
 * Two threads: this one receives records into free buffers and checks each chunk's CRC on arrival; the disk
 * thread writes (and reads back), flushes and acknowledges rounds. CP_SLOTS buffers travel between them
 * (free -> received -> disk -> free), so the socket is read while the disk works. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
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
  int sock, fd, fd_buf;
  bool direct, read_back;
  uint32_t *table; /* the disk thread's until it ends */
  struct cp_fifo free, disk;
  _Atomic pid_t net_tid, disk_tid;
  /* the disk thread's: slots it holds, bytes verified, this round's counts */
  unsigned pending;
  uint64_t verified, data_bytes, round_bytes, round_chunks, verify_ms, last_progress;
};

static bool aligned(const struct recv_state *s, uint32_t len) {
  return s->direct && len % CP_ALIGN == 0;
}

/* A slot's write or re-read finished: start the re-read, or record the chunk and free the slot. */
static void advance(struct recv_state *s, int slot) {
  struct cp_slot *c = &s->r.slots[slot];
  if (c->phase == PH_WRITE && s->read_back) {
    c->phase = PH_VERIFY;
    memset(c->buf, 0xA5, c->len); /* a re-read that returned nothing new must not pass */
    cp_ring_read(&s->r, (unsigned)slot, aligned(s, c->len) ? s->fd : s->fd_buf, aligned(s, c->len), c->idx * s->g->chunk, c->len);
    return;
  }
  /* Without --read-back the entry is the CRC32C computed over this buffer on arrival: the bytes the device took. */
  uint32_t got = c->phase == PH_VERIFY ? crc32c(0, c->buf, c->len) : c->crc;
  if (got != c->crc)
    cp_fail("DATA_LOSS", "SyncVerifyFailed", "chunk %llu of %s re-read after writing has CRC32C %08x, the source sent %08x", (unsigned long long)c->idx,
            s->path, got, c->crc);
  s->table[c->idx] = got;
  c->phase = 0;
  s->pending--;
  s->verified += c->len;
  cp_fifo_push(&s->free, (struct cp_item){.slot = (unsigned)slot});
  uint64_t now = cp_now_ms();
  if (now - s->last_progress >= 250) {
    s->last_progress = now;
    cp_event("\"event\":\"progress\",\"bytes\":%llu", (unsigned long long)s->verified);
  }
}

static void start_write(struct recv_state *s, unsigned slot, uint64_t idx, uint32_t len, uint32_t crc) {
  struct cp_slot *c = &s->r.slots[slot];
  c->idx = idx;
  c->len = len;
  c->crc = crc;
  c->phase = PH_WRITE;
  s->pending++;
  cp_ring_write(&s->r, slot, s->fd, s->fd_buf, s->direct, idx * s->g->chunk, len);
}

static void drain(struct recv_state *s) {
  int slot;
  while ((slot = cp_ring_wait_any(&s->r, s->path)) >= 0) advance(s, slot);
}

/* The end of a round: everything of it written, re-read and checked; flushed; acknowledged. */
static void end_round(struct recv_state *s, const struct cp_item *it, uint64_t *round_t0, uint64_t times0[4]) {
  uint64_t v0 = cp_now_ms();
  drain(s);
  if (fdatasync(s->fd) < 0 || fdatasync(s->fd_buf) < 0) cp_fail("DATA_LOSS", "CopierIOError", "flushing %s: %s", s->path, strerror(errno));
  s->verify_ms += cp_now_ms() - v0;
  char ack[32];
  int k = snprintf(ack, sizeof ack, "ACK %u\n", it->round);
  cp_send_all(s->sock, ack, (size_t)k, "an acknowledgement");
  uint64_t t[4];
  cp_thread_times(s->net_tid, &t[0], &t[1]);
  cp_thread_times(s->disk_tid, &t[2], &t[3]);
  /* threads: [CPU ms, ms runnable but waiting for a CPU] per thread of this round; queue waits: the receiver
   * waiting for a buffer the disk thread still holds (the disk is the slower side), the disk thread waiting for a
   * received chunk (the socket is). */
  cp_event("\"event\":\"round\",\"round\":%u,\"final\":%s,\"chunks\":%llu,\"bytes\":%llu,\"ms\":%llu,\"netWaitMs\":%llu,\"ioWaitMs\":%llu,"
           "\"submitMs\":%llu,\"cpuMs\":%llu,\"queueWaitMs\":{\"noFreeBuffer\":%llu,\"noChunkToWrite\":%llu},\"threads\":{\"net\":[%llu,%llu],\"disk\":[%llu,%llu]}",
           it->round, it->final ? "true" : "false", (unsigned long long)s->round_chunks, (unsigned long long)s->round_bytes,
           (unsigned long long)(cp_now_ms() - *round_t0), (unsigned long long)(cp_net_us / 1000), (unsigned long long)(cp_io_us / 1000),
           (unsigned long long)(cp_submit_us / 1000), (unsigned long long)cp_cpu_ms(), (unsigned long long)(s->free.wait_us / 1000),
           (unsigned long long)(s->disk.wait_us / 1000), (unsigned long long)((t[0] - times0[0]) / 1000), (unsigned long long)((t[1] - times0[1]) / 1000),
           (unsigned long long)((t[2] - times0[2]) / 1000), (unsigned long long)((t[3] - times0[3]) / 1000));
  memcpy(times0, t, sizeof t);
  s->round_bytes = s->round_chunks = 0;
  cp_net_us = cp_io_us = cp_submit_us = 0;
  s->free.wait_us = s->disk.wait_us = 0;
  *round_t0 = cp_now_ms();
}

static void *disk_thread(void *arg) {
  struct recv_state *s = arg;
  s->disk_tid = gettid();
  while (!s->net_tid) sched_yield();
  uint64_t round_t0 = cp_now_ms(), times0[4];
  cp_thread_times(s->net_tid, &times0[0], &times0[1]);
  cp_thread_times(s->disk_tid, &times0[2], &times0[3]);
  for (;;) {
    /* Finished writes move on to their re-reads (and re-reads to the table) before new chunks start. */
    cp_ring_poll(&s->r);
    for (int slot; (slot = cp_ring_done_slot(&s->r, s->path)) >= 0;) advance(s, slot);
    struct cp_item it;
    if (s->pending == 0) it = cp_fifo_pop(&s->disk);
    else if (!cp_fifo_trypop(&s->disk, &it)) {
      advance(s, cp_ring_wait_any(&s->r, s->path));
      continue;
    }
    if (it.type == 'D') {
      start_write(s, it.slot, it.idx, it.len, it.crc);
      s->round_bytes += it.len;
      s->data_bytes += it.len;
      s->round_chunks++;
    } else if (it.type == 'Z') {
      if (s->table[it.idx] == cp_zero_crc(it.len)) {
        cp_fifo_push(&s->free, (struct cp_item){.slot = it.slot});
        continue;
      }
      memset(s->r.slots[it.slot].buf, 0, it.len);
      start_write(s, it.slot, it.idx, it.len, cp_zero_crc(it.len));
    } else if (it.type == 'R') {
      end_round(s, &it, &round_t0, times0);
    } else { /* 'Q': the source's table arrived; nothing may be in flight when it is compared */
      drain(s);
      return NULL;
    }
  }
}

int cp_recv_main(int argc, char **argv) {
  struct cp_flags f;
  cp_parse_flags(argc, argv, &f, true, true);
  struct recv_state s = {.g = &f.g, .path = f.path, .sock = f.fd, .read_back = f.read_back};
  s.fd = cp_open(f.path, O_RDWR, &s.direct);
  s.fd_buf = open(f.path, O_RDWR | O_CLOEXEC);
  if (s.fd_buf < 0) cp_fail("INTERNAL", "CopierFailed", "cannot open %s: %s", f.path, strerror(errno));
  uint64_t n = f.g.nchunks ? f.g.nchunks : 1;
  s.table = malloc(n * sizeof *s.table);
  unsigned char *raw = malloc(n * 4);
  if (!s.table || !raw) cp_fail("INTERNAL", "CopierFailed", "cannot allocate the chunk table");
  for (uint64_t i = 0; i < f.g.nchunks; i++) s.table[i] = cp_zero_crc(cp_len(&f.g, i));
  cp_ring_init(&s.r, CP_SLOTS, f.g.chunk);
  cp_fifo_init(&s.free, CP_SLOTS + 4);
  cp_fifo_init(&s.disk, CP_SLOTS + 4);
  for (unsigned i = 0; i < CP_SLOTS; i++) cp_fifo_push(&s.free, (struct cp_item){.slot = i});
  s.net_tid = gettid();
  pthread_t disk;
  cp_start_thread(&disk, disk_thread, &s);
  cp_send_all(f.fd, "GO\n", 3, "GO");

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
      struct cp_item it = cp_fifo_pop(&s.free);
      it.type = (char)type;
      it.idx = i;
      it.len = len;
      if (type == 'D') {
        unsigned char *buf = s.r.slots[it.slot].buf;
        cp_recv_exact(f.fd, buf, len, "a chunk");
        unsigned char t[4];
        cp_recv_exact(f.fd, t, 4, "a chunk's CRC32C");
        it.crc = cp_get_u32(t);
        uint32_t got = crc32c(0, buf, len);
        if (got != it.crc)
          cp_fail("DATA_LOSS", "SyncVerifyFailed", "chunk %llu arrived with CRC32C %08x, the source computed %08x (damaged in transit)", (unsigned long long)i,
                  got, it.crc);
      }
      cp_fifo_push(&s.disk, it);
    } else if (type == 'R') {
      unsigned char h[5];
      cp_recv_exact(f.fd, h, sizeof h, "a round trailer");
      cp_fifo_push(&s.disk, (struct cp_item){.type = 'R', .round = cp_get_u32(h), .final = h[4] != 0});
    } else if (type == 'E') {
      unsigned char h[4];
      cp_recv_exact(f.fd, h, 4, "the table size");
      if (cp_get_u32(h) != f.g.nchunks)
        cp_fail("INVALID_ARGUMENT", "SyncProtocolError", "the source's table has %u chunks, this volume %llu", cp_get_u32(h), (unsigned long long)f.g.nchunks);
      cp_recv_exact(f.fd, raw, f.g.nchunks * 4, "the source's chunk table");
      cp_fifo_push(&s.disk, (struct cp_item){.type = 'Q'});
      pthread_join(disk, NULL); /* every chunk written and re-read: never compare a half-verified table */
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
      cp_event("\"event\":\"done\",\"bytes\":%llu,\"checksum\":\"%s\",\"verifyMs\":%llu,\"direct\":%s,\"readBack\":%s", (unsigned long long)s.data_bytes, d,
               (unsigned long long)s.verify_ms, s.direct ? "true" : "false", s.read_back ? "true" : "false");
      shutdown(f.fd, SHUT_WR);
      return 0;
    } else {
      cp_fail("INVALID_ARGUMENT", "SyncProtocolError", "unknown record type 0x%02x", type);
    }
  }
}
