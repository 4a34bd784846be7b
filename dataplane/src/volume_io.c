/* A volume's local I/O path: the O_DIRECT reads and writes of the backing device (pread/pwrite or a
 * per-thread io_uring), the byte ranges in flight that order overlapping writes, resync and verify, and the
 * entry points the frontend calls. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "peer.h"
#include "volume.h"

static pthread_key_t io_buf_key;
static pthread_once_t io_buf_once = PTHREAD_ONCE_INIT;
static void io_buf_key_init(void) { pthread_key_create(&io_buf_key, free); }

void *thread_io_buffer(void) {
  pthread_once(&io_buf_once, io_buf_key_init);
  void *b = pthread_getspecific(io_buf_key);
  if (!b) {
    if (posix_memalign(&b, 4096, DP_MAX_IO)) abort();
    pthread_setspecific(io_buf_key, b);
  }
  return b;
}

/* ---- ranges in flight ---- */

uint32_t mono_s(void) { return (uint32_t)(now_ns() / 1000000000ull); }

void volume_failover_suspects(struct volume *v, uint64_t *words) {
  if (!v->rx_from[0]) return;
  for (uint64_t r = 0; r < v->nregions; r++)
    if (v->touched_s[r] && v->touched_s[r] + RX_SUSPECT_S >= v->rx_last_s) words[r / 64] |= 1ull << (r % 64);
}

bool range_busy(struct volume *v, uint64_t start, uint64_t end) {
  for (int i = 0; i < v->nranges; i++)
    if (v->ranges[i].start < end && start < v->ranges[i].end) return true;
  return false;
}

void range_wait(struct volume *v) {
  v->range_waiters++;
  pthread_cond_wait(&v->cond, &v->lock);
  v->range_waiters--;
}

bool range_acquire(struct volume *v, uint64_t start, uint64_t end, bool (*abort_check)(void *), void *arg) {
  while (range_busy(v, start, end) || v->nranges == v->maxranges) {
    if (abort_check && abort_check(arg)) return false;
    range_wait(v);
  }
  if (abort_check && abort_check(arg)) return false;
  v->ranges[v->nranges].start = start;
  v->ranges[v->nranges].end = end;
  v->nranges++;
  return true;
}

void range_release(struct volume *v, uint64_t start, uint64_t end) {
  for (int i = 0; i < v->nranges; i++)
    if (v->ranges[i].start == start && v->ranges[i].end == end) {
      v->ranges[i] = v->ranges[--v->nranges];
      break;
    }
  /* Only for a waiter: a broadcast per write woke every thread asleep on v->cond (the peer's connection thread
   * among them) once per write, for nothing (measured: 1.3 context switches and 12 µs of CPU per 4 KiB write). */
  if (v->range_waiters) pthread_cond_broadcast(&v->cond);
}

/* ---- local I/O ---- */

static bool aligned(size_t len, uint64_t off) { return len % 512 == 0 && off % 512 == 0; }

/* --io-engine uring: one small ring per thread, one request at a time (the thread waits for it, as with
 * pwrite). Measured against pread/pwrite in docs/dataplane.md "Performance". */
static pthread_key_t ring_key;
static pthread_once_t ring_once = PTHREAD_ONCE_INIT;
static void ring_free(void *r) {
  io_uring_queue_exit(r);
  free(r);
}
static void ring_key_init(void) { pthread_key_create(&ring_key, ring_free); }

static ssize_t uring_rw(int fd, void *buf, size_t len, uint64_t off, bool write) {
  pthread_once(&ring_once, ring_key_init);
  struct io_uring *ring = pthread_getspecific(ring_key);
  if (!ring) {
    ring = calloc(1, sizeof *ring);
    if (!ring) abort();
    if (io_uring_queue_init(4, ring, 0) < 0) {
      free(ring);
      return write ? pwrite(fd, buf, len, (off_t)off) : pread(fd, buf, len, (off_t)off);
    }
    pthread_setspecific(ring_key, ring);
  }
  struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
  if (write) io_uring_prep_write(sqe, fd, buf, (unsigned)len, off);
  else io_uring_prep_read(sqe, fd, buf, (unsigned)len, off);
  struct io_uring_cqe *cqe;
  int rc = io_uring_submit_and_wait(ring, 1);
  if (rc >= 0) rc = io_uring_wait_cqe(ring, &cqe);
  if (rc < 0) {
    errno = -rc;
    return -1;
  }
  ssize_t res = cqe->res;
  io_uring_cqe_seen(ring, cqe);
  if (res < 0) errno = (int)-res;
  return res < 0 ? -1 : res;
}

ssize_t volume_local_write(struct volume *v, const void *buf, size_t len, uint64_t off) {
  int fd = aligned(len, off) && ((uintptr_t)buf % 4096) == 0 ? v->fd : v->fd_buffered;
  size_t done = 0;
  while (done < len) {
    ssize_t n = v->dp->io_uring ? uring_rw(fd, (char *)buf + done, len - done, off + done, true) : pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) return -EIO;
    done += (size_t)n;
  }
  return (ssize_t)len;
}

/* Splices len bytes of a pipe to the backing at off: to the O_DIRECT descriptor, whose bio then carries the
 * pipe's pages. A range the device refuses (EINVAL: not aligned for O_DIRECT; refused before anything moved)
 * goes to the buffered descriptor, like an unaligned pwrite. */
static ssize_t local_splice(struct volume *v, int pipe, size_t len, uint64_t off) {
  int fd = aligned(len, off) ? v->fd : v->fd_buffered;
  size_t done = 0;
  while (done < len) {
    loff_t o = (loff_t)(off + done);
    ssize_t n = splice(pipe, NULL, fd, &o, len - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EINVAL && fd == v->fd) {
      fd = v->fd_buffered;
      continue;
    }
    if (n < 0) return -errno;
    if (n == 0) return -EIO;
    done += (size_t)n;
  }
  return (ssize_t)len;
}

ssize_t volume_local_write_buf(struct volume *v, const struct wbuf *b, size_t len, uint64_t off) {
  return b->mem ? volume_local_write(v, b->mem, len, off) : local_splice(v, b->pipe, len, off);
}

ssize_t volume_local_read(struct volume *v, void *buf, size_t len, uint64_t off) {
  int fd = aligned(len, off) && ((uintptr_t)buf % 4096) == 0 ? v->fd : v->fd_buffered;
  size_t done = 0;
  while (done < len) {
    ssize_t n = v->dp->io_uring ? uring_rw(fd, (char *)buf + done, len - done, off + done, false) : pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) {
      memset((char *)buf + done, 0, len - done);
      break;
    }
    done += (size_t)n;
  }
  return (ssize_t)len;
}

ssize_t volume_read(struct volume *v, void *buf, size_t len, uint64_t off) {
  if (off >= v->size_bytes) return 0;
  if (off + len > v->size_bytes) len = (size_t)(v->size_bytes - off);
  ssize_t n = volume_local_read(v, buf, len, off);
  if (n > 0) {
    atomic_fetch_add(&v->reads_total, 1);
    atomic_fetch_add(&v->bytes_read, (uint64_t)n);
  }
  return n;
}

ssize_t volume_write(struct volume *v, const struct wbuf *b, size_t len, uint64_t off, write_done_fn done, void *arg) {
  if (off + len > v->size_bytes) return -ENOSPC;
  return peer_replicated_write(v, b, len, off, done, arg);
}

int volume_flush(struct volume *v) {
  atomic_fetch_add(&v->flushes_total, 1);
  return peer_replicated_flush(v);
}
