/* hwameistor-copy: the native per-byte path of a migration copy (docs/migration.md "The copy"). Its own binary,
 * built by the same Makefile; it shares only crc32c.c with hwameistor-dataplane. The node agent (TypeScript,
 * src/host/copier/) keeps every decision — rounds, reflink clones, FIEMAP ranges, tokens, the ConfigMap — and
 * runs this for the bytes:
 *   send      source side: on an already authenticated TCP socket (fd), for each round read from stdin, reads the
 *             round's chunks from a clone (aligned O_DIRECT through io_uring, several in flight), CRC32C per
 *             chunk, all-zero chunks sent as a 13-byte record, waits for the target's ACK;
 *   (each side runs two threads, one on the disk and one on the socket, passing CP_SLOTS buffers between them)
 *   recv      target side: checks each chunk's CRC32C on arrival, writes it with aligned O_DIRECT from that
 *             same buffer (with --read-back also reads it back with O_DIRECT and checks again), flushes, ACKs;
 *             finally compares the source's whole chunk-CRC table with its own;
 *   checksum  the chunk-CRC table of a device or file read whole (tests, the bench).
 * Events for the caller are JSON lines on stdout; a failure is an {"event":"error",...} line and exit 1. */
#ifndef HW_COPIER_H
#define HW_COPIER_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>
#include <stdio.h>

#define CP_ALIGN 4096u
#define CP_MAX_CHUNK (64u << 20)
/* Chunk buffers per side (see copier_send.c / copier_recv.c for how they are used): enough to keep the disk busy
 * while the other thread waits on the socket. */
#define CP_SLOTS 32
#define CP_READ_QD 16 /* source: reads in flight */

/* Wire records after the TypeScript hello/header (stream.ts), integers big-endian:
 *   'D' u64 index, u32 length, bytes, u32 crc32c  |  'Z' u64 index, u32 length  |  'R' u32 round, u8 final
 *   'E' u32 nchunks, nchunks x u32 crc32c (the source's table)
 * target -> source: "GO\n" (the receiver owns the socket now), "ACK <round>\n", "OK <digest>\n" | "MISMATCH …\n" */
#define CP_HEAD 13

struct cp_geom {
  uint64_t size;
  uint32_t chunk;
  uint64_t nchunks;
};
static inline uint32_t cp_len(const struct cp_geom *g, uint64_t i) {
  uint64_t left = g->size - i * g->chunk;
  return left < g->chunk ? (uint32_t)left : g->chunk;
}

/* A failure: prints {"event":"error","code","reason","message"} on stdout and exits 1. reason is one of
 * src/api/errors.ts's ErrorReasons. */
void cp_fail(const char *code, const char *reason, const char *fmt, ...) __attribute__((format(printf, 3, 4), noreturn));
/* One JSON event line on stdout, flushed (fmt is the object's inside, without braces). */
void cp_event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t cp_now_ms(void);
uint64_t cp_now_us(void);
/* Where a side's time went, for its round events: in socket calls, waiting for disk completions, in io_uring
 * submissions (a loop device may block there); and the process's CPU time. */
extern _Atomic uint64_t cp_net_us, cp_io_us, cp_submit_us;
/* A thread's CPU time and time spent runnable but waiting for a CPU (/proc/self/task/<tid>/schedstat), in µs;
 * zeros where the kernel has no schedstat. */
void cp_thread_times(pid_t tid, uint64_t *cpu_us, uint64_t *runq_us);

/* What one thread hands another: a chunk in a slot ('D' data, 'Z' zeros), a round's end ('R'), the end ('Q'). */
struct cp_item {
  char type;
  unsigned slot;
  uint64_t idx;
  uint32_t len, crc;
  uint32_t round;
  bool final;
};
/* A bounded FIFO of items between two threads (mutex + condition variable). Pushing never waits: it holds at
 * least every slot plus the markers; pop waits, and counts the time it waited. */
struct cp_fifo {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct cp_item *q;
  unsigned cap, head, n;
  uint64_t wait_us;
};
void cp_fifo_init(struct cp_fifo *f, unsigned cap);
void cp_fifo_push(struct cp_fifo *f, struct cp_item it);
struct cp_item cp_fifo_pop(struct cp_fifo *f);
bool cp_fifo_trypop(struct cp_fifo *f, struct cp_item *it);
void cp_start_thread(pthread_t *t, void *(*fn)(void *), void *arg);
/* This process's CPU time so far (user + system), for the events. */
uint64_t cp_cpu_ms(void);
bool cp_is_zero(const void *buf, size_t len);
/* CRC32C of `len` zero bytes (the table entry of a chunk never written). */
uint32_t cp_zero_crc(uint32_t len);
/* The digest the caller compares: CRC32C over the table (big-endian entries), as "crc32c:<nchunks>:<8 hex>". */
void cp_digest(const uint32_t *table, uint64_t n, char out[64]);
void cp_put_u32(unsigned char *p, uint32_t v);
void cp_put_u64(unsigned char *p, uint64_t v);
uint32_t cp_get_u32(const unsigned char *p);
uint64_t cp_get_u64(const unsigned char *p);
/* Exact socket I/O; on EOF/error cp_fail(SyncStreamBroken) naming `what`. */
void cp_recv_exact(int fd, void *buf, size_t len, const char *what);
void cp_send_all(int fd, const void *buf, size_t len, const char *what);
/* The same for several pieces in one system call where possible (sendmsg; `flags` e.g. MSG_MORE). */
struct iovec;
void cp_sendv_all(int fd, struct iovec *iov, int n, int flags, const char *what);
/* A line of at most max-1 bytes from the socket, byte by byte (only short control lines travel this way). */
void cp_recv_line(int fd, char *buf, size_t max, const char *what);

/* Opens `path` for aligned O_DIRECT I/O when the filesystem allows it (else buffered: *direct=false). */
int cp_open(const char *path, int flags, bool *direct);

int cp_send_main(int argc, char **argv);
int cp_recv_main(int argc, char **argv);
int cp_checksum_main(int argc, char **argv);

/* Common flags: --size N --chunk N [--fd N] [--path P] [--header LINE] [--read-back]. Exits with a usage error on
 * anything else. */
struct cp_flags {
  struct cp_geom g;
  int fd;
  const char *path;
  const char *header; /* send: the stream header line the source sends first (the node agent's JSON) */
  bool read_back;     /* recv: read every written chunk back and check it (copier_recv.c) */
};
void cp_parse_flags(int argc, char **argv, struct cp_flags *f, bool need_fd, bool need_path);
#endif
