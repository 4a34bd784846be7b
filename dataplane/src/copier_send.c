/* hwameistor-copy send: the source side (copier.h). Commands on stdin, from the node agent:
 *   round <n> <final 0|1> <path>\n  then the round's byte ranges, "<offset> <length>\n" each, then ".\n"
 *   finish\n                          after the final round: send the table, wait for the target's verdict
 * A round reads every 1 MiB chunk the ranges touch from <path> (a reflink clone of the volume file, or the device
 * itself offline), sends it with its CRC32C (an all-zero chunk as a Z record), then waits for the target's ACK —
 * sent only after the target wrote, re-read, checked and flushed every chunk of the round. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "copier.h"
#include "copier_ring.h"

struct send_ctx {
  int sock;
  uint32_t *table;
  uint64_t chunks, bytes, zeros;
};

static void send_one(void *arg, uint64_t i, unsigned char *buf, uint32_t len) {
  struct send_ctx *c = arg;
  unsigned char head[CP_HEAD];
  cp_put_u64(head + 1, i);
  cp_put_u32(head + 9, len);
  if (cp_is_zero(buf, len)) {
    head[0] = 'Z';
    c->table[i] = cp_zero_crc(len);
    c->zeros++;
    cp_send_all(c->sock, head, CP_HEAD, "a zero record");
    return;
  }
  head[0] = 'D';
  uint32_t crc = crc32c(0, buf, len);
  c->table[i] = crc;
  unsigned char tail[4];
  cp_put_u32(tail, crc);
  cp_send_all(c->sock, head, CP_HEAD, "a record header");
  cp_send_all(c->sock, buf, len, "a chunk");
  cp_send_all(c->sock, tail, 4, "a chunk's CRC32C");
  c->chunks++;
  c->bytes += len;
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
  cp_ring_init(&r, g->chunk);
  char line[PATH_MAX + 64];
  /* The header goes out from here, not from the node agent: the target's GO may follow at once, and only this
   * process may read the socket from now on. */
  if (f.header) {
    cp_send_all(f.fd, f.header, strlen(f.header), "the stream header");
    cp_send_all(f.fd, "\n", 1, "the stream header");
  }
  cp_recv_line(f.fd, line, sizeof line, "the target's GO");
  if (strcmp(line, "GO")) cp_fail("INVALID_ARGUMENT", "SyncProtocolError", "the target said %.80s instead of GO", line);
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
    struct send_ctx c = {.sock = f.fd, .table = table};
    cp_read_chunks(&r, fd, direct, g, idx, k, path, send_one, &c);
    close(fd);
    unsigned char end[6] = {'R'};
    cp_put_u32(end + 1, round);
    end[5] = (unsigned char)final;
    cp_send_all(f.fd, end, sizeof end, "the end of a round");
    char ack[512], want[32];
    cp_recv_line(f.fd, ack, sizeof ack, "the target's acknowledgement");
    snprintf(want, sizeof want, "ACK %u", round);
    if (strcmp(ack, want)) cp_fail("DATA_LOSS", "SyncVerifyFailed", "the target did not verify round %u: %.300s", round, ack);
    cp_event("\"event\":\"round\",\"round\":%u,\"final\":%s,\"chunks\":%llu,\"bytes\":%llu,\"zeroChunks\":%llu,\"ms\":%llu,\"netWaitMs\":%llu,\"ioWaitMs\":%llu,\"submitMs\":%llu,\"cpuMs\":%llu,\"direct\":%s", round,
             final ? "true" : "false", (unsigned long long)c.chunks, (unsigned long long)c.bytes, (unsigned long long)c.zeros,
             (unsigned long long)(cp_now_ms() - t0), (unsigned long long)(cp_net_us / 1000), (unsigned long long)(cp_io_us / 1000), (unsigned long long)(cp_submit_us / 1000), (unsigned long long)cp_cpu_ms(),
             direct ? "true" : "false");
  }
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
