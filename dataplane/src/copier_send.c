/* hwameistor-copy send: the source side (copier.h). Commands on stdin, from the node agent:
 *   round <n> <final 0|1> <path>\n  then the round's byte ranges, "<offset> <length>\n" each, then ".\n"
 *   finish\n                          after the final round: send the table, wait for the target's verdict
 * A round reads every 1 MiB chunk the ranges touch from <path> (a reflink clone of the volume file, or the device
 * itself offline), sends it with its CRC32C (an all-zero chunk as a Z record), then waits for the target's ACK —
 * sent only after the target wrote (with --read-back: re-read and checked) and flushed every chunk of the round. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common.h"
#include "copier.h"
#include "copier_ring.h"

/* Two threads: this one reads the round's chunks (io_uring, CP_READ_QD in flight), checks for zeros and computes
 * each CRC32C; the sender thread writes the records to the socket. CP_SLOTS buffers travel between them through
 * two queues (free -> read -> out -> free), so the disk keeps reading while the socket is full and the other way
 * round. Records may leave in any order within a round (each names its chunk); a round's 'R' goes behind them. */
struct sender {
  int sock;
  struct cp_ring *r;
  struct cp_fifo free, out;
  _Atomic pid_t tid;
};

static void *send_thread(void *arg) {
  struct sender *s = arg;
  s->tid = gettid();
  for (;;) {
    struct cp_item it = cp_fifo_pop(&s->out);
    if (it.type == 'Q') return NULL;
    if (it.type == 'R') {
      unsigned char end[6] = {'R'};
      cp_put_u32(end + 1, it.round);
      end[5] = (unsigned char)it.final;
      cp_send_all(s->sock, end, sizeof end, "the end of a round");
      continue;
    }
    unsigned char head[CP_HEAD], tail[4];
    head[0] = (unsigned char)it.type;
    cp_put_u64(head + 1, it.idx);
    cp_put_u32(head + 9, it.len);
    cp_put_u32(tail, it.crc);
    struct iovec iov[3] = {{head, CP_HEAD}, {s->r->slots[it.slot].buf, it.len}, {tail, 4}};
    /* A zero record is its header only; MSG_MORE lets a run of them share packets despite TCP_NODELAY. */
    if (it.type == 'Z') cp_sendv_all(s->sock, iov, 1, MSG_MORE, "a zero record");
    else cp_sendv_all(s->sock, iov, 3, 0, "a chunk");
    cp_fifo_push(&s->free, (struct cp_item){.slot = it.slot});
  }
}

struct round_stats {
  uint64_t chunks, bytes, zeros;
};

/* Reads chunks idx[0..k) of `fd` into free slots and queues each as a record for the sender thread. */
static void read_round(struct sender *s, int fd, bool direct, const struct cp_geom *g, const uint64_t *idx, uint64_t k, uint32_t *table, const char *path,
                       struct round_stats *st) {
  uint64_t next = 0, pending = 0;
  while (next < k || pending) {
    while (next < k && pending < CP_READ_QD) {
      struct cp_item it;
      if (!cp_fifo_trypop(&s->free, &it)) {
        if (pending) break; /* handle a finished read first; the sender returns slots meanwhile */
        it = cp_fifo_pop(&s->free);
      }
      s->r->slots[it.slot].idx = idx[next];
      cp_ring_read(s->r, it.slot, fd, direct, idx[next] * g->chunk, cp_len(g, idx[next]));
      next++;
      pending++;
    }
    int slot = cp_ring_wait_any(s->r, path);
    pending--;
    uint64_t i = s->r->slots[slot].idx;
    uint32_t len = cp_len(g, i);
    unsigned char *buf = s->r->slots[slot].buf;
    struct cp_item it = {.slot = (unsigned)slot, .idx = i, .len = len};
    if (cp_is_zero(buf, len)) {
      it.type = 'Z';
      table[i] = cp_zero_crc(len);
      st->zeros++;
    } else {
      it.type = 'D';
      it.crc = table[i] = crc32c(0, buf, len);
      st->chunks++;
      st->bytes += len;
    }
    cp_fifo_push(&s->out, it);
  }
}

/* Reads the range lines up to "." and marks the chunks they touch. */
static void read_ranges(const struct cp_geom *g, unsigned char *mark) {
  char line[128];
  for (;;) {
    if (!fgets(line, sizeof line, stdin)) cp_fail("CANCELLED", "SyncCancelled", "the node agent stopped sending the round's ranges");
    if (!strcmp(line, ".\n")) return;
    unsigned long long off, len;
    char extra;
    if (sscanf(line, "%llu %llu %c", &off, &len, &extra) != 2 || off > g->size)
      cp_fail("INVALID_ARGUMENT", "SyncProtocolError", "bad range line %.60s (want \"<offset> <length>\" within %llu bytes)", line,
              (unsigned long long)g->size);
    if (len == 0) continue;
    uint64_t end = off + len > g->size ? g->size : off + len;
    for (uint64_t k = off / g->chunk; k * g->chunk < end; k++) mark[k] = 1;
  }
}

int cp_send_main(int argc, char **argv) {
  struct cp_flags f;
  cp_parse_flags(argc, argv, &f, true, false);
  struct cp_geom *g = &f.g;
  uint64_t n = g->nchunks ? g->nchunks : 1;
  uint32_t *table = malloc(n * sizeof *table);
  uint64_t *idx = malloc(n * sizeof *idx);
  unsigned char *mark = malloc(n);
  if (!table || !idx || !mark) cp_fail("INTERNAL", "CopierFailed", "cannot allocate the chunk table of %llu chunks", (unsigned long long)n);
  for (uint64_t i = 0; i < g->nchunks; i++) table[i] = cp_zero_crc(cp_len(g, i));
  struct cp_ring r;
  cp_ring_init(&r, CP_SLOTS, g->chunk);
  struct sender snd = {.sock = f.fd, .r = &r};
  cp_fifo_init(&snd.free, CP_SLOTS + 4);
  cp_fifo_init(&snd.out, CP_SLOTS + 4);
  for (unsigned i = 0; i < CP_SLOTS; i++) cp_fifo_push(&snd.free, (struct cp_item){.slot = i});
  pid_t me = gettid();
  char line[PATH_MAX + 64];
  /* The header goes out from here, not from the node agent: the target's GO may follow at once, and only this
   * process may read the socket from now on. */
  if (f.header) {
    cp_send_all(f.fd, f.header, strlen(f.header), "the stream header");
    cp_send_all(f.fd, "\n", 1, "the stream header");
  }
  cp_recv_line(f.fd, line, sizeof line, "the target's GO");
  if (strcmp(line, "GO")) cp_fail("INVALID_ARGUMENT", "SyncProtocolError", "the target said %.80s instead of GO", line);
  pthread_t sender_thread;
  cp_start_thread(&sender_thread, send_thread, &snd);
  while (!snd.tid) sched_yield(); /* its schedstat is read from the first round on */
  for (;;) {
    if (!fgets(line, sizeof line, stdin)) cp_fail("CANCELLED", "SyncCancelled", "the node agent closed the copier's commands");
    line[strcspn(line, "\n")] = 0;
    if (!strcmp(line, "finish")) break;
    unsigned round, final;
    int pathAt = 0;
    if (sscanf(line, "round %u %u %n", &round, &final, &pathAt) != 2 || !pathAt || !line[pathAt] || final > 1)
      cp_fail("INVALID_ARGUMENT", "SyncProtocolError", "bad command %.80s (want \"round <n> <0|1> <path>\" or \"finish\")", line);
    const char *path = line + pathAt;
    uint64_t t0 = cp_now_ms();
    cp_net_us = cp_io_us = cp_submit_us = 0;
    memset(mark, 0, n);
    read_ranges(g, mark);
    uint64_t k = 0;
    for (uint64_t i = 0; i < g->nchunks; i++)
      if (mark[i]) idx[k++] = i;
    bool direct;
    int fd = cp_open(path, O_RDONLY, &direct);
    uint64_t c0[2], c1[2], s0[2], s1[2];
    cp_thread_times(me, &c0[0], &c0[1]);
    cp_thread_times(snd.tid, &s0[0], &s0[1]);
    snd.free.wait_us = snd.out.wait_us = 0;
    struct round_stats st = {0};
    read_round(&snd, fd, direct, g, idx, k, table, path, &st);
    close(fd);
    cp_fifo_push(&snd.out, (struct cp_item){.type = 'R', .round = round, .final = final});
    char ack[512], want[32];
    cp_recv_line(f.fd, ack, sizeof ack, "the target's acknowledgement");
    snprintf(want, sizeof want, "ACK %u", round);
    if (strcmp(ack, want)) cp_fail("DATA_LOSS", "SyncVerifyFailed", "the target did not verify round %u: %.300s", round, ack);
    cp_thread_times(me, &c1[0], &c1[1]);
    cp_thread_times(snd.tid, &s1[0], &s1[1]);
    /* threads: [CPU ms, ms runnable but waiting for a CPU] per thread of this round; queue waits: the reader
     * waiting for a buffer the sender still holds (the socket is the slower side), the sender waiting for a
     * chunk (the disk or the CPU is). */
    cp_event("\"event\":\"round\",\"round\":%u,\"final\":%s,\"chunks\":%llu,\"bytes\":%llu,\"zeroChunks\":%llu,\"ms\":%llu,\"netWaitMs\":%llu,"
             "\"ioWaitMs\":%llu,\"submitMs\":%llu,\"cpuMs\":%llu,\"direct\":%s,\"queueWaitMs\":{\"noFreeBuffer\":%llu,\"noChunkToSend\":%llu},"
             "\"threads\":{\"read\":[%llu,%llu],\"send\":[%llu,%llu]}",
             round, final ? "true" : "false", (unsigned long long)st.chunks, (unsigned long long)st.bytes, (unsigned long long)st.zeros,
             (unsigned long long)(cp_now_ms() - t0), (unsigned long long)(cp_net_us / 1000), (unsigned long long)(cp_io_us / 1000),
             (unsigned long long)(cp_submit_us / 1000), (unsigned long long)cp_cpu_ms(), direct ? "true" : "false",
             (unsigned long long)(snd.free.wait_us / 1000), (unsigned long long)(snd.out.wait_us / 1000), (unsigned long long)((c1[0] - c0[0]) / 1000),
             (unsigned long long)((c1[1] - c0[1]) / 1000), (unsigned long long)((s1[0] - s0[0]) / 1000), (unsigned long long)((s1[1] - s0[1]) / 1000));
  }
  cp_fifo_push(&snd.out, (struct cp_item){.type = 'Q'});
  pthread_join(sender_thread, NULL);
  /* The whole table, not a digest of it: the target compares every chunk's CRC and names the first that differs. */
  size_t tlen = 5 + (size_t)g->nchunks * 4;
  unsigned char *t = malloc(tlen);
  if (!t) cp_fail("INTERNAL", "CopierFailed", "cannot allocate the table record");
  t[0] = 'E';
  cp_put_u32(t + 1, (uint32_t)g->nchunks);
  for (uint64_t i = 0; i < g->nchunks; i++) cp_put_u32(t + 5 + i * 4, table[i]);
  cp_send_all(f.fd, t, tlen, "the chunk table");
  char reply[256], mine[64];
  cp_recv_line(f.fd, reply, sizeof reply, "the target's confirmation");
  cp_digest(table, g->nchunks, mine);
  if (strncmp(reply, "OK ", 3)) cp_fail("DATA_LOSS", "SyncVerifyFailed", "the target did not confirm the copy: %.200s", reply);
  cp_event("\"event\":\"done\",\"checksum\":\"%s\",\"targetChecksum\":\"%.100s\"", mine, reply + 3);
  shutdown(f.fd, SHUT_WR);
  return 0;
}
