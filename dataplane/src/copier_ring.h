/* hwameistor-copy's I/O: a set of chunk buffers ("slots", aligned for O_DIRECT) and one io_uring over them. The
 * buffers are registered with the ring when the kernel allows it (no page pinning per I/O: fixed-buffer reads and
 * writes); a file without O_DIRECT (and an unaligned last chunk) goes through synchronous pread/pwrite instead.
 * One thread drives a ring; the slots themselves may travel between threads (copier_fifo). */
#ifndef HW_COPIER_RING_H
#define HW_COPIER_RING_H
#include <liburing.h>

#include "copier.h"

struct cp_slot {
  unsigned char *buf;
  bool busy, done;
  int res;
  uint32_t want; /* bytes the operation must cover */
  bool is_write;
  /* the mode's own: which chunk, its expected CRC, its phase */
  uint64_t idx;
  uint32_t len, crc;
  int phase;
};

struct cp_ring {
  struct io_uring ring;
  struct cp_slot *slots;
  unsigned nslots;
  unsigned inflight; /* operations submitted and not yet collected by a wait/done call */
  bool fixed;        /* slot i's buffer is registered buffer i */
  uint32_t bufsize;
};

/* nslots buffers of `chunk` bytes (rounded up to CP_ALIGN), a ring deep enough for all of them in flight. */
void cp_ring_init(struct cp_ring *r, unsigned nslots, uint32_t chunk);
/* Starts reading len bytes at off into slot's buffer (an O_DIRECT read is rounded up to CP_ALIGN). */
void cp_ring_read(struct cp_ring *r, unsigned slot, int fd, bool direct, uint64_t off, uint32_t len);
/* Starts writing slot's first len bytes at off: O_DIRECT through `fd` when direct and aligned, else `fd_buffered`. */
void cp_ring_write(struct cp_ring *r, unsigned slot, int fd, int fd_buffered, bool direct, uint64_t off, uint32_t len);
/* Waits until `slot`'s operation finished; cp_fail naming `what` when it failed or fell short. */
void cp_ring_wait_slot(struct cp_ring *r, unsigned slot, const char *what);
/* Waits until any busy slot finished, returns it (checked like cp_ring_wait_slot); -1 if none is busy. */
int cp_ring_wait_any(struct cp_ring *r, const char *what);
/* Collects finished operations without waiting. */
void cp_ring_poll(struct cp_ring *r);
/* A busy slot whose operation finished (checked like cp_ring_wait_slot), or -1. */
int cp_ring_done_slot(struct cp_ring *r, const char *what);
/* Reads the chunks idx[0..n) (all slots in flight) and hands each one, in order, to `fn`. */
int cp_read_chunks(struct cp_ring *r, int fd, bool direct, const struct cp_geom *g, const uint64_t *idx, uint64_t n, const char *what,
                   void (*fn)(void *arg, uint64_t i, unsigned char *buf, uint32_t len), void *arg);
#endif
