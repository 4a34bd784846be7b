#include "replica.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer_internal.h"
#include "repl_proto.h"

#define RING 4096        /* frames in flight per connection: far above the primary's FUSE threads + resync */
#define MAX_INFLIGHT 256 /* local writes submitted and not completed: the primary's queue depth reaches our disk */
#define RX_BYTES (64u << 10) /* small: a large payload beyond it is read straight into its aligned buffer, not copied twice */
#define UD_POLL UINT64_MAX /* io_uring user_data of the socket's readiness poll; writes and flushes carry seq << 4 | chunk */
/* A large write is submitted in chunks: one bio of 1 MiB in 4 KiB pages exceeds a loop device's 128 segments,
 * and a bio that must be split cannot be issued without blocking, so io_uring would hand it to a worker thread
 * (measured: sequential 1 MiB writes at 0.6 of the pwrite rate). 128 pages fit a loop device; a device with fewer
 * segments per request gets the worker-thread path (correct, slower). 128 KiB chunks were measured slower still:
 * four times the requests through the loop device underneath. */
#define CHUNK (512u << 10)

enum slot_state { SLOT_EMPTY, SLOT_WRITING, SLOT_DONE, SLOT_ORDERED, SLOT_SYNCING };

struct slot {
  uint16_t type;
  uint8_t state;
  int err;
  uint64_t off;
  char *payload; /* data frames: the aligned buffer being written; ordered frames: their small payload */
  uint32_t len;
  uint8_t pending; /* chunks in the ring */
  uint64_t t; /* stage timers: when its write was submitted, then when it completed */
};

/* One connection from a primary, served by one thread: an event loop over the socket and an io_uring that
 * carries the local writes and flushes asynchronously. Why not a pool of writer threads and an acker: each
 * hand-off between threads was a futex wake and a context switch per write (8 per 4 KiB write over both
 * processes, docs/dataplane.md "Performance"); here a burst of frames read with one recv is submitted with
 * one io_uring_enter and acknowledged with one cumulative ACK. */
struct rconn {
  struct dataplane *dp;
  struct volume *v;
  int fd;
  char primary[DP_NAME_MAX];
  struct io_uring ring;
  bool uring;       /* false when io_uring is unavailable: writes are synchronous pwrites in this thread */
  bool poll_armed;  /* a POLL_ADD on fd is in the ring */
  bool readable;    /* the socket may have bytes (poll fired or last recv filled the buffer) */
  bool eof;         /* the connection ended or a frame was bad: drain and leave */
  int err;          /* a local write/flush failed: NACK IOError and leave */
  unsigned inflight; /* writes and flushes in the ring */
  unsigned unsubmitted;
  struct slot ring_slots[RING];
  uint64_t received, acked;
  char *rx;
  size_t rx_start, rx_end;
  struct frame_hdr cur; /* the frame being received when cur_buf is set */
  char *cur_buf;
  uint32_t cur_have;
  uint64_t cur_t0; /* when its header was taken */
};

static int send_frame(struct rconn *c, uint16_t type, uint16_t flags, uint64_t seq, uint64_t off, const void *p, uint32_t len) {
  return frame_send(c->fd, type, flags, seq, off, c->v ? c->v->epoch : 0, p, len, true);
}

static void nack(struct rconn *c, uint16_t reason, uint64_t epoch, const char *msg) {
  frame_send(c->fd, F_NACK, reason, 0, 0, epoch, msg, (uint32_t)strlen(msg), true);
}

static int checksum_range(struct volume *v, uint64_t off, uint64_t len, uint32_t *crc) {
  void *buf = thread_io_buffer();
  uint32_t c = 0;
  for (uint64_t done = 0; done < len; done += DP_MAX_IO) {
    size_t n = (size_t)(len - done < DP_MAX_IO ? len - done : DP_MAX_IO);
    if (volume_local_read(v, buf, n, off + done) != (ssize_t)n) return -EIO;
    c = crc32c(c, buf, n);
  }
  *crc = c;
  return 0;
}

/* Frames that must happen after everything before them, run in sequence order once every earlier frame is
 * done (FLUSH goes through the ring when there is one: see advance). */
static int run_ordered(struct rconn *c, struct slot *s, uint64_t seq) {
  struct volume *v = c->v;
  switch (s->type) {
    case F_FLUSH: return fdatasync(v->fd) < 0 ? -errno : 0;
    case F_SYNC_START: {
      pthread_mutex_lock(&v->lock);
      v->local_state = LS_INCONSISTENT;
      snprintf(v->sync_source, sizeof v->sync_source, "%s", s->payload ? s->payload : "");
      int rc = volume_save_meta(v);
      pthread_mutex_unlock(&v->lock);
      LOGI("volume %s: sync target of %s (Inconsistent until the resync completes)", v->name, c->primary);
      dp_emit(c->dp, "sync-started", v->name);
      return rc;
    }
    case F_SYNC_DONE: {
      if (fdatasync(v->fd) < 0) return -errno;
      pthread_mutex_lock(&v->lock);
      for (int i = 0; i < v->npeers; i++) {
        if (bitmap_nbits(v->peers[i]->dirty)) {
          for (uint64_t r = bitmap_next_set(v->peers[i]->dirty, 0); r != UINT64_MAX; r = bitmap_next_set(v->peers[i]->dirty, r + 1))
            bitmap_clear(v->peers[i]->dirty, r);
          bitmap_sync(v->peers[i]->dirty);
        }
      }
      v->local_state = LS_UPTODATE;
      v->sync_source[0] = '\0';
      int rc = volume_save_meta(v);
      pthread_mutex_unlock(&v->lock);
      LOGI("volume %s: UpToDate with %s", v->name, c->primary);
      dp_emit(c->dp, "uptodate", v->name);
      return rc;
    }
    case F_CHECKSUM_REQ: {
      uint64_t len = 0;
      uint32_t crc = 0;
      if (s->payload && s->len >= 8) memcpy(&len, s->payload, 8);
      if (s->off + len > v->size_bytes || checksum_range(v, s->off, len, &crc)) return -EIO;
      return send_frame(c, F_CHECKSUM, 0, seq, s->off, &crc, 4);
    }
    default: return 0; /* PING */
  }
}

static struct io_uring_sqe *get_sqe(struct rconn *c) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);
  if (!sqe) { /* the submission queue is full: hand it to the kernel and take a fresh entry */
    io_uring_submit(&c->ring);
    c->unsubmitted = 0;
    sqe = io_uring_get_sqe(&c->ring);
  }
  if (!sqe) abort(); /* cannot happen after a submit: the queue was just emptied */
  c->unsubmitted++;
  return sqe;
}

static void submit_pending(struct rconn *c) {
  if (c->uring && c->unsubmitted) {
    io_uring_submit(&c->ring);
    c->unsubmitted = 0;
  }
}

/* Starts the local write of a data frame (asynchronous with the ring, synchronous without). */
static void start_write(struct rconn *c, uint64_t seq) {
  struct slot *s = &c->ring_slots[seq % RING];
  s->state = SLOT_WRITING;
  s->t = now_ns();
  if (!c->uring) {
    ssize_t n = volume_local_write(c->v, s->payload, s->len, s->off);
    s->err = n < 0 ? (int)-n : 0;
    s->state = SLOT_DONE;
    return;
  }
  for (uint32_t done = 0, k = 0; done < s->len; done += CHUNK, k++) {
    struct io_uring_sqe *sqe = get_sqe(c);
    io_uring_prep_write(sqe, c->v->fd, s->payload + done, s->len - done < CHUNK ? s->len - done : CHUNK, s->off + done);
    io_uring_sqe_set_data64(sqe, seq << 4 | k);
    s->pending++;
    c->inflight++;
  }
}

/* Processes the ring's completions (writes, flushes, the socket's readiness). */
static void reap(struct rconn *c) {
  struct io_uring_cqe *cqe;
  unsigned head, n = 0;
  io_uring_for_each_cqe(&c->ring, head, cqe) {
    n++;
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    if (ud == UD_POLL) {
      c->poll_armed = false;
      c->readable = true;
      continue;
    }
    struct slot *s = &c->ring_slots[(ud >> 4) % RING];
    uint32_t at = (uint32_t)(ud & 15) * CHUNK, want = s->len - at < CHUNK ? s->len - at : CHUNK;
    int err = cqe->res < 0 ? -cqe->res : 0;
    c->inflight--;
    if (s->state == SLOT_WRITING && cqe->res >= 0 && (uint32_t)cqe->res < want) {
      /* A short write (not expected from a block device): finish the chunk synchronously. */
      ssize_t m = volume_local_write(c->v, s->payload + at + cqe->res, want - (uint32_t)cqe->res, s->off + at + (uint64_t)cqe->res);
      err = m < 0 ? (int)-m : 0;
    }
    if (err && !s->err) s->err = err;
    if (s->state == SLOT_SYNCING || --s->pending == 0) {
      if (s->state == SLOT_WRITING) {
        uint64_t now = now_ns();
        stage_add(&c->v->stages[ST_DISK], s->t, now);
        s->t = now;
      }
      s->state = SLOT_DONE;
    }
  }
  io_uring_cq_advance(&c->ring, n);
}

/* Moves the cumulative ack over every frame done in order, starting ordered frames as their turn comes, and
 * sends one ACK for all of them. */
static void advance(struct rconn *c) {
  uint64_t before = c->acked;
  while (c->acked < c->received && !c->err) {
    uint64_t seq = c->acked + 1;
    struct slot *s = &c->ring_slots[seq % RING];
    if (s->state == SLOT_WRITING || s->state == SLOT_SYNCING) break;
    if (s->state == SLOT_ORDERED) {
      if (s->type == F_FLUSH && c->uring) { /* fdatasync in the ring: later writes keep flowing meanwhile */
        struct io_uring_sqe *sqe = get_sqe(c);
        io_uring_prep_fsync(sqe, c->v->fd, IORING_FSYNC_DATASYNC);
        io_uring_sqe_set_data64(sqe, seq << 4);
        c->inflight++;
        s->state = SLOT_SYNCING;
        break;
      }
      s->err = run_ordered(c, s, seq);
      s->err = s->err < 0 ? -s->err : s->err;
    }
    if (s->err) {
      c->err = s->err;
      break;
    }
    if (s->type == F_WRITE || s->type == F_RESYNC_DATA) stage_add(&c->v->stages[ST_INORDER], s->t, now_ns());
    free(s->payload);
    s->payload = NULL;
    s->state = SLOT_EMPTY;
    c->acked = seq;
  }
  if (c->acked != before && send_frame(c, F_ACK, 0, c->acked, 0, NULL, 0)) c->eof = true;
}

/* HELLO from the primary: check it, answer HELLO + our bitmap. 0 when the connection may carry data. */
static int handshake(struct rconn *c) {
  struct frame_hdr h;
  char *payload = NULL;
  if (frame_recv_hdr(c->fd, &h) || h.type != F_HELLO || h.length > 65536) return -EPROTO;
  payload = malloc(h.length + 1);
  if (!payload) abort();
  if (read_full(c->fd, payload, h.length)) {
    free(payload);
    return -EPROTO;
  }
  payload[h.length] = '\0';
  struct json *j = json_parse(payload, NULL, 0);
  free(payload);
  uint64_t major = 0, size = 0, region = 0, epoch = 0;
  const char *vol = json_get_str(j, "volume"), *node = json_get_str(j, "node");
  char msg[512];
  if (!json_get_u64(j, "protocolMajor", &major) || major != DP_PROTOCOL_MAJOR) {
    snprintf(msg, sizeof msg, "node %s speaks replication protocol %llu, node %s speaks %d: install the same data plane build on both", node ? node : "?",
             (unsigned long long)major, c->dp->node, DP_PROTOCOL_MAJOR);
    LOGE("ProtocolMismatch: %s", msg);
    nack(c, NACK_PROTOCOL, 0, msg);
    json_free(j);
    return -EPROTO;
  }
  snprintf(c->primary, sizeof c->primary, "%s", node ? node : "?");
  c->v = valid_name(vol) ? volume_get(c->dp, vol) : NULL;
  if (!c->v || !json_get_u64(j, "sizeBytes", &size) || !json_get_u64(j, "regionBytes", &region) || !json_get_u64(j, "epoch", &epoch)) {
    snprintf(msg, sizeof msg, "volume %s is not on node %s (ensure it there first)", vol ? vol : "?", c->dp->node);
    nack(c, NACK_NOT_FOUND, 0, msg);
    json_free(j);
    return -ENOENT;
  }
  json_free(j);
  struct volume *v = c->v;
  pthread_mutex_lock(&v->lock);
  int rc = 0;
  uint16_t reason = NACK_NONE;
  if (size != v->size_bytes || region != v->region_bytes) {
    snprintf(msg, sizeof msg, "volume %s: primary %s has %llu bytes in regions of %llu, node %s has %llu in %llu (resize both the same)", v->name, c->primary,
             (unsigned long long)size, (unsigned long long)region, c->dp->node, (unsigned long long)v->size_bytes, (unsigned long long)v->region_bytes);
    reason = NACK_MISMATCH;
  } else if (epoch < v->epoch) {
    snprintf(msg, sizeof msg, "volume %s: node %s is at epoch %llu, primary %s at %llu (it was cut off; it must rejoin as a secondary)", v->name, c->dp->node,
             (unsigned long long)v->epoch, c->primary, (unsigned long long)epoch);
    reason = NACK_STALE_EPOCH;
  } else {
    if (epoch > v->epoch) {
      if (v->role == ROLE_PRIMARY && !v->fenced) {
        LOGE("volume %s: node %s is primary at epoch %llu: this primary (epoch %llu) is fenced", v->name, c->primary, (unsigned long long)epoch,
             (unsigned long long)v->epoch);
        v->fenced = true;
        pthread_cond_broadcast(&v->cond);
        wake_ack_waiters(v, NULL, 0);
      }
      volume_raise_epoch(v, epoch);
    }
    if (v->role != ROLE_SECONDARY || !v->configured) {
      snprintf(msg, sizeof msg, "volume %s is %s on node %s%s, not a configured secondary (configure it as secondary there)", v->name, role_name(v->role),
               c->dp->node, v->configured ? "" : " (reopened, not configured since)");
      reason = NACK_NOT_SECONDARY;
    }
  }
  if (reason != NACK_NONE) {
    uint64_t mine = v->epoch;
    pthread_mutex_unlock(&v->lock);
    LOGW("volume %s: refused primary %s: %s", v->name, c->primary, msg);
    nack(c, reason, mine, msg);
    return -EPERM;
  }
  if (v->replica_fd >= 0) shutdown(v->replica_fd, SHUT_RDWR); /* a newer connection replaces a half-dead one */
  v->replica_fd = c->fd;
  struct sbuf b;
  sb_init(&b);
  sb_append(&b, "{", 1);
  jw_u64(&b, "protocolMajor", DP_PROTOCOL_MAJOR);
  jw_u64(&b, "protocolMinor", DP_PROTOCOL_MINOR);
  jw_str(&b, "volume", v->name);
  jw_u64(&b, "sizeBytes", v->size_bytes);
  jw_u64(&b, "regionBytes", v->region_bytes);
  jw_u64(&b, "epoch", v->epoch);
  jw_str(&b, "node", c->dp->node);
  jw_str(&b, "uuid", v->uuid);
  jw_str(&b, "role", role_name(v->role));
  jw_str(&b, "localState", local_state_name(v->local_state));
  jw_str(&b, "syncSource", v->sync_source);
  sb_append(&b, "}", 1);
  uint64_t nwords = (v->nregions + 63) / 64;
  uint64_t *words = calloc(nwords + 1, 8), *tmp = calloc(nwords + 1, 8);
  if (!words || !tmp) abort();
  for (int i = 0; i < v->npeers; i++) {
    bitmap_copy_words(v->peers[i]->dirty, tmp, nwords);
    for (uint64_t k = 0; k < nwords; k++) words[k] |= tmp[k];
  }
  pthread_mutex_unlock(&v->lock);
  rc = send_frame(c, F_HELLO, 0, 0, 0, b.data, (uint32_t)b.len);
  if (!rc) rc = send_frame(c, F_BITMAP, 0, 0, 0, words, (uint32_t)(nwords * 8));
  sb_free(&b);
  free(words);
  free(tmp);
  if (!rc) LOGI("volume %s: primary %s connected (epoch %llu)", v->name, c->primary, (unsigned long long)v->epoch);
  return rc;
}

/* Whether another frame may be taken: a ring slot is free and the disk is not saturated with our writes. */
static bool room(struct rconn *c) { return c->received - c->acked < RING - 2 && c->inflight < MAX_INFLIGHT; }

/* Reads what the socket has now into the receive buffer; false when it has nothing (or ended). */
static bool fill_rx(struct rconn *c) {
  if (c->rx_start == c->rx_end) c->rx_start = c->rx_end = 0;
  if (c->rx_start && RX_BYTES - c->rx_end < 4096) {
    memmove(c->rx, c->rx + c->rx_start, c->rx_end - c->rx_start);
    c->rx_end -= c->rx_start;
    c->rx_start = 0;
  }
  if (c->rx_end == RX_BYTES) return false; /* full of whole frames waiting for room */
  ssize_t n = recv(c->fd, c->rx + c->rx_end, RX_BYTES - c->rx_end, MSG_DONTWAIT);
  if (n > 0) {
    c->rx_end += (size_t)n;
    return true;
  }
  if (n < 0 && errno == EINTR) return true;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) c->readable = false;
  else c->eof = true;
  return false;
}

/* Checks a whole frame and starts it: a data frame's local write, or an ordered frame's turn. */
static void start_frame(struct rconn *c, const struct frame_hdr *hp, char *buf) {
  struct volume *v = c->v;
  struct frame_hdr h = *hp;
  bool data = h.type == F_WRITE || h.type == F_RESYNC_DATA;
  if (!frame_crc_ok(&h, buf)) {
    LOGE("volume %s: frame %llu from %s fails its checksum; dropping the connection", v->name, (unsigned long long)h.seq, c->primary);
    nack(c, NACK_CRC, v->epoch, "payload checksum mismatch");
    free(buf);
    c->eof = true;
    return;
  }
  pthread_mutex_lock(&v->lock);
  uint64_t mine = v->epoch;
  if (h.epoch > v->epoch) volume_raise_epoch(v, h.epoch);
  pthread_mutex_unlock(&v->lock);
  if (h.epoch < mine) {
    char msg[256];
    snprintf(msg, sizeof msg, "volume %s: node %s is at epoch %llu, the frame has %llu", v->name, c->dp->node, (unsigned long long)mine, (unsigned long long)h.epoch);
    nack(c, NACK_STALE_EPOCH, mine, msg);
    free(buf);
    c->eof = true;
    return;
  }
  if ((data && (h.offset + h.length > v->size_bytes)) || h.seq != c->received + 1) {
    LOGE("volume %s: bad frame from %s (%s seq %llu, expected %llu); dropping the connection", v->name, c->primary, frame_type_name(h.type),
         (unsigned long long)h.seq, (unsigned long long)c->received + 1);
    free(buf);
    c->eof = true;
    return;
  }
  struct slot *s = &c->ring_slots[h.seq % RING];
  *s = (struct slot){.type = h.type, .off = h.offset, .len = h.length, .payload = buf};
  c->received = h.seq;
  if (data) {
    atomic_fetch_add(h.type == F_RESYNC_DATA ? &v->bytes_resynced : &v->bytes_replicated, h.length);
    start_write(c, h.seq);
  } else {
    buf[h.length] = '\0';
    s->state = SLOT_ORDERED;
  }
}

/* Takes the next frame: its header from the receive buffer, its payload from the buffer and then straight from
 * the socket into its aligned buffer, without blocking (a large payload arrives over several passes of the
 * loop, while completions are acked). True when a frame was started. */
static bool take_frame(struct rconn *c) {
  if (!c->cur_buf) {
    if (c->rx_end - c->rx_start < sizeof c->cur) return false;
    memcpy(&c->cur, c->rx + c->rx_start, sizeof c->cur);
    if (c->cur.magic != FRAME_MAGIC || c->cur.length > DP_MAX_IO + 65536) {
      LOGE("volume %s: bad frame header from %s; dropping the connection", c->v->name, c->primary);
      c->eof = true;
      return false;
    }
    c->rx_start += sizeof c->cur;
    c->cur_t0 = now_ns();
    uint32_t len = c->cur.length;
    if (posix_memalign((void **)&c->cur_buf, 4096, len ? (len + 4095) & ~4095u : 4096)) abort();
    c->cur_have = c->rx_end - c->rx_start < len ? (uint32_t)(c->rx_end - c->rx_start) : len;
    memcpy(c->cur_buf, c->rx + c->rx_start, c->cur_have);
    c->rx_start += c->cur_have;
  }
  while (c->cur_have < c->cur.length) {
    if (!c->readable) return false;
    ssize_t n = recv(c->fd, c->cur_buf + c->cur_have, c->cur.length - c->cur_have, MSG_DONTWAIT);
    if (n > 0) c->cur_have += (uint32_t)n;
    else if (n < 0 && errno == EINTR) continue;
    else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) c->readable = false;
    else c->eof = true;
    if (n <= 0) return false;
  }
  char *buf = c->cur_buf;
  c->cur_buf = NULL;
  if (c->cur.type == F_WRITE || c->cur.type == F_RESYNC_DATA) stage_add(&c->v->stages[ST_RX], c->cur_t0, now_ns());
  start_frame(c, &c->cur, buf);
  return !c->eof;
}

/* Waits for a completion or for the socket to become readable. */
static void wait_event(struct rconn *c) {
  if (!c->uring) {
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    if (poll(&pfd, 1, -1) > 0 || errno != EINTR) c->readable = true;
    return;
  }
  if (!c->readable && !c->poll_armed && room(c)) {
    struct io_uring_sqe *sqe = get_sqe(c);
    io_uring_prep_poll_add(sqe, c->fd, POLLIN);
    io_uring_sqe_set_data64(sqe, UD_POLL);
    c->poll_armed = true;
  }
  io_uring_submit_and_wait(&c->ring, 1);
  c->unsubmitted = 0;
  reap(c);
}

/* The connection's event loop: take every buffered frame, read more while the socket has bytes and there is
 * room, start local writes, ack what completed in order, then sleep until a completion or new bytes. */
static void serve_loop(struct rconn *c) {
  struct volume *v = c->v;
  c->readable = true;
  while (!c->eof && !c->err) {
    while (!c->eof && !c->err && room(c) && (take_frame(c) || (c->readable && fill_rx(c))))
      ;
    submit_pending(c);
    if (c->uring) reap(c);
    advance(c);
    if (c->eof || c->err) break;
    if (room(c) && c->readable) continue;
    uint64_t t0 = now_ns();
    wait_event(c);
    stage_add(&v->stages[ST_IDLE], t0, now_ns());
  }
  if (c->err) {
    LOGE("volume %s: local I/O failed for the primary %s: %s (check the backing %s)", v->name, c->primary, strerror(c->err), v->backing);
    nack(c, NACK_IO, v->epoch, strerror(c->err));
  }
  shutdown(c->fd, SHUT_RDWR);
  /* Buffers of writes in flight belong to the kernel until they complete. */
  while (c->uring && (c->inflight || c->poll_armed)) {
    submit_pending(c);
    int rc = io_uring_submit_and_wait(&c->ring, 1);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN) break;
    reap(c);
  }
}

static void *serve(void *arg) {
  struct rconn *c = arg;
  pthread_setname_np(pthread_self(), "dp-replica");
  if (handshake(c) == 0) {
    int rc = io_uring_queue_init(2 * MAX_INFLIGHT, &c->ring, 0);
    c->uring = rc == 0;
    if (rc) LOGW("volume %s: io_uring unavailable (%s): the replica writes synchronously, one frame at a time", c->v->name, strerror(-rc));
    c->rx = malloc(RX_BYTES);
    if (!c->rx) abort();
    serve_loop(c);
    if (c->uring) io_uring_queue_exit(&c->ring);
    LOGI("volume %s: primary %s disconnected", c->v->name, c->primary);
  }
  for (int i = 0; i < RING; i++) free(c->ring_slots[i].payload);
  free(c->cur_buf);
  free(c->rx);
  if (c->v) {
    pthread_mutex_lock(&c->v->lock);
    if (c->v->replica_fd == c->fd) c->v->replica_fd = -1;
    pthread_mutex_unlock(&c->v->lock);
    volume_put(c->v);
  }
  close(c->fd);
  free(c);
  return NULL;
}

void replica_accept(struct dataplane *dp, int fd) {
  tcp_tune(fd);
  struct rconn *c = calloc(1, sizeof *c);
  if (!c) abort();
  c->dp = dp;
  c->fd = fd;
  pthread_t t;
  if (pthread_create(&t, NULL, serve, c)) {
    close(fd);
    free(c);
    return;
  }
  pthread_detach(t);
}
