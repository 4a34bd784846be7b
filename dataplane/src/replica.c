#include "replica.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer_internal.h"
#include "repl_proto.h"

#define RING 4096        /* frames in flight per connection: far above the primary's FUSE threads + resync */
#define MAX_INFLIGHT 256 /* local writes submitted and not completed: the primary's queue depth reaches our disk */
#define RX_BYTES (64u << 10) /* small: a large payload beyond it is read straight into its aligned buffer, not copied twice */
#define RXQ 256                /* whole frames received and not yet taken by the loop */
#define RXQ_BYTES (32u << 20)  /* ... and their payload bytes: the receiver stops reading beyond this (TCP backpressure) */
#define UD_RX UINT64_MAX /* io_uring user_data of the receiver's eventfd read; writes and flushes carry seq << 4 | chunk */
/* A large write is submitted in chunks: one bio of 1 MiB in 4 KiB pages exceeds a loop device's 128 segments,
 * and a bio that must be split cannot be issued without blocking, so io_uring would hand it to a worker thread
 * (measured: sequential 1 MiB writes at 0.6 of the pwrite rate). 128 pages fit a loop device; a device with fewer
 * segments per request gets the worker-thread path (correct, slower). 128 KiB chunks were measured slower still:
 * four times the requests through the loop device underneath. */
#define CHUNK (512u << 10)
#define INLINE_MAX (64u << 10) /* a WRITE up to this size may be written by the receiver itself (write_inline) */
#define INLINE_BACKOFF 256     /* frames left to the loop after frames arrived during a write here (receiver) */

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

/* One connection from a primary, served by two threads: a receiver that reads whole frames off the socket
 * (payloads straight into 4 KiB-aligned buffers) and queues them, and an event loop that checks and starts
 * them, carries their local writes and flushes in an io_uring and acks. Why two: reading a 1 MiB payload is a
 * copy out of the socket (the replica's largest cost per MiB); done by the loop thread it stalled the
 * submissions and acks behind it, and on a busy machine one thread gets one thread's share of the CPU
 * (sequential 1 MiB writes, docs/dataplane.md "Performance"). The hand-off is per burst, not per frame: the
 * receiver wakes the loop only when the queue was empty. Why not a pool of writer threads and an acker: each
 * hand-off between threads was a futex wake and a context switch per write (8 per 4 KiB write over both
 * processes); a burst of frames is submitted with one io_uring_enter and acknowledged with one cumulative ACK. */
struct rx_frame {
  struct frame_hdr h;
  char *buf;
};

struct rconn {
  struct dataplane *dp;
  struct volume *v;
  int fd;
  int lane; /* 0: the main connection; k ≥ 1: a write lane of it (WRITE frames only) */
  char primary[DP_NAME_MAX];
  struct io_uring ring;
  bool uring;       /* false when io_uring is unavailable: writes are synchronous pwrites in this thread */
  bool eof;         /* the connection ended or a frame was bad: drain and leave */
  int err;          /* a local write/flush failed: NACK IOError and leave */
  unsigned inflight; /* writes and flushes in the ring */
  unsigned unsubmitted;
  struct slot ring_slots[RING];
  uint64_t received, acked;

  /* The receiver thread and its queue (qlock guards q*, rx_done, rx_stop). */
  pthread_t rx_thread;
  bool rx_started;
  pthread_mutex_t qlock;
  pthread_cond_t qroom;  /* the receiver waits here while the queue is full */
  struct rx_frame q[RXQ];
  unsigned qhead, qlen;
  uint64_t qbytes;
  bool rx_done;          /* the receiver ended (EOF, error, bad frame): nothing more comes */
  bool rx_stop;          /* the loop is leaving: the receiver must not wait for room */
  int efd;               /* eventfd: the receiver queued into an empty queue or ended */
  bool loop_asleep;      /* the loop is waiting for an event with nothing queued for it (set under qlock) */
  bool inline_busy;      /* the receiver acts as the loop for one frame (write_inline); the loop waits on inline_done */
  pthread_cond_t inline_done;
  bool inline_now;       /* the receiver's thread is in write_inline: start_write writes synchronously */
  _Atomic uint64_t acked_pub; /* c->acked, published by whichever thread sent the last ACK */
  bool efd_armed;        /* a read of efd is in the ring */
  uint64_t efd_val;
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
  if (!c->uring || c->inline_now) {
    ssize_t n = volume_local_write(c->v, s->payload, s->len, s->off);
    s->err = n < 0 ? (int)-n : 0;
    s->state = SLOT_DONE;
    uint64_t now = now_ns();
    stage_add(&c->v->stages[ST_DISK], s->t, now);
    s->t = now;
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
    if (ud == UD_RX) {
      c->efd_armed = false;
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
  atomic_store_explicit(&c->acked_pub, c->acked, memory_order_release);
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
  /* Meant for another node (this address was that node's data plane's: addresses move): refused before this
   * connection could replace the current one. A primary of an older build names no peer. */
  const char *peer = json_get_str(j, "peer");
  if (peer && strcmp(peer, c->dp->node)) {
    snprintf(msg, sizeof msg, "primary %s reached node %s's data plane for peer %s (a stale address: its node agent reconfigures it)", c->primary,
             c->dp->node, peer);
    LOGW("volume %s: %s", vol ? vol : "?", msg);
    nack(c, NACK_NOT_FOUND, 0, msg);
    json_free(j);
    return -ENOENT;
  }
  uint64_t lane = 0, session = 0;
  json_get_u64(j, "lane", &lane);
  json_get_u64(j, "session", &session);
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
    } else if (lane && (lane >= DP_LANES || v->replica_fd < 0 || session != v->replica_session)) {
      snprintf(msg, sizeof msg, "volume %s: write lane %llu of primary %s belongs to no connection of node %s (the primary reconnects)", v->name,
               (unsigned long long)lane, c->primary, c->dp->node);
      reason = NACK_MISMATCH;
    }
  }
  if (reason != NACK_NONE) {
    uint64_t mine = v->epoch;
    pthread_mutex_unlock(&v->lock);
    LOGW("volume %s: refused primary %s: %s", v->name, c->primary, msg);
    nack(c, reason, mine, msg);
    return -EPERM;
  }
  if (lane) { /* a write lane joins the current connection */
    c->lane = (int)lane;
    if (v->lane_fds[lane - 1] >= 0) shutdown(v->lane_fds[lane - 1], SHUT_RDWR);
    v->lane_fds[lane - 1] = c->fd;
  } else {
    if (v->replica_fd >= 0) shutdown(v->replica_fd, SHUT_RDWR); /* a newer connection replaces a half-dead one */
    for (int i = 0; i < DP_LANES - 1; i++)
      if (v->lane_fds[i] >= 0) shutdown(v->lane_fds[i], SHUT_RDWR); /* and its lanes */
    v->replica_fd = c->fd;
    v->replica_session = now_ns();
  }
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
  jw_u64(&b, "session", v->replica_session);
  jw_u64(&b, "lanes", DP_LANES);
  sb_append(&b, "}", 1);
  uint64_t nwords = (v->nregions + 63) / 64;
  uint64_t *words = calloc(nwords + 1, 8), *tmp = calloc(nwords + 1, 8);
  if (!words || !tmp) abort();
  for (int i = 0; i < v->npeers; i++) {
    bitmap_copy_words(v->peers[i]->dirty, tmp, nwords);
    for (uint64_t k = 0; k < nwords; k++) words[k] |= tmp[k];
  }
  /* A primary other than the one whose writes came last (a failover): the regions that one wrote here lately may
   * be missing on the new primary or a third replica (a write it sent to some replicas only, never acked); as our
   * bitmap, the new primary resyncs them to every replica. */
  if (strcmp(v->rx_from, c->primary)) volume_failover_suspects(v, words);
  pthread_mutex_unlock(&v->lock);
  rc = send_frame(c, F_HELLO, 0, 0, 0, b.data, (uint32_t)b.len);
  if (!rc && !c->lane) rc = send_frame(c, F_BITMAP, 0, 0, 0, words, (uint32_t)(nwords * 8));
  sb_free(&b);
  free(words);
  free(tmp);
  if (!rc && !c->lane) LOGI("volume %s: primary %s connected (epoch %llu)", v->name, c->primary, (unsigned long long)v->epoch);
  return rc;
}

/* Whether another frame may be taken: a ring slot is free and the disk is not saturated with our writes. */
static bool room(struct rconn *c) { return c->received - c->acked < RING - 2 && c->inflight < MAX_INFLIGHT; }

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
  if (h.type == F_WRITE && h.length && h.epoch >= mine) { /* remembered for a failover (volume_failover_suspects) */
    uint32_t now = mono_s();
    for (uint64_t r = h.offset / v->region_bytes; r <= (h.offset + h.length - 1) / v->region_bytes && r < v->nregions; r++) v->touched_s[r] = now;
    v->rx_last_s = now;
    if (strcmp(v->rx_from, c->primary)) snprintf(v->rx_from, sizeof v->rx_from, "%s", c->primary);
  }
  pthread_mutex_unlock(&v->lock);
  if (h.epoch < mine) {
    char msg[256];
    snprintf(msg, sizeof msg, "volume %s: node %s is at epoch %llu, the frame has %llu", v->name, c->dp->node, (unsigned long long)mine, (unsigned long long)h.epoch);
    nack(c, NACK_STALE_EPOCH, mine, msg);
    free(buf);
    c->eof = true;
    return;
  }
  if ((data && (h.offset + h.length > v->size_bytes)) || h.seq != c->received + 1 || (c->lane && h.type != F_WRITE)) {
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

/* A small WRITE that arrived alone while the loop has nothing in flight and nothing unacked (qd1, a lull) is
 * written and acked by the receiver itself: the loop is asleep and touches none of the connection's frame state
 * until the receiver queues the next frame, so this thread may act as the loop for one frame. Why: the hand-off
 * to the loop (eventfd write, its wake-up, an io_uring submit, a second wake-up at the completion) was most of
 * a small write's latency on the replica; this is one pwrite and one ACK. Anything else, or a frame with more
 * behind it in the receive buffer (a burst: batched by the loop), goes through the queue. False: queue it. */
static bool write_inline(struct rconn *c, struct rx_frame *f, uint64_t seq, unsigned *backoff) {
  pthread_mutex_lock(&c->qlock);
  bool idle = c->loop_asleep && c->qlen == 0 && atomic_load_explicit(&c->acked_pub, memory_order_acquire) == seq - 1;
  c->inline_busy = idle;
  pthread_mutex_unlock(&c->qlock);
  if (!idle) return false;
  uint64_t t0 = now_ns();
  c->inline_now = true;
  start_frame(c, &f->h, f->buf);
  /* Data that arrived during the write (before its ACK, so not the next write of a qd1 writer): concurrent
   * writes, which the loop batches; this thread writing them one by one would hold back the reception of the
   * rest. Leave the next INLINE_BACKOFF frames to the loop. */
  int avail = 0;
  if (ioctl(c->fd, FIONREAD, &avail) == 0 && avail > 0) *backoff = INLINE_BACKOFF;
  if (!c->eof) advance(c);
  c->inline_now = false;
  stage_add(&c->v->stages[ST_INLINE], t0, now_ns());
  pthread_mutex_lock(&c->qlock);
  c->inline_busy = false;
  pthread_cond_signal(&c->inline_done);
  pthread_mutex_unlock(&c->qlock);
  return true;
}

/* Whether the loop sleeps with nothing queued and every frame before seq acked (no waiting). */
static bool loop_drained(struct rconn *c, uint64_t seq) {
  pthread_mutex_lock(&c->qlock);
  bool r = c->loop_asleep && c->qlen == 0 && atomic_load_explicit(&c->acked_pub, memory_order_acquire) == seq - 1;
  pthread_mutex_unlock(&c->qlock);
  return r;
}

/* The receiver thread: reads frames (a buffered read takes every small frame that has arrived; the rest of a
 * large payload is read straight into its aligned buffer) and queues them for the loop. */
static void *receiver(void *arg) {
  struct rconn *c = arg;
  pthread_setname_np(pthread_self(), "dp-replica-rx");
  char *rx = malloc(RX_BYTES);
  if (!rx) abort();
  size_t start = 0, end = 0;
  uint64_t handed = 0; /* frames given to the loop or written here */
  unsigned inline_off = 0; /* frames left to the loop (write_inline's backoff) */
  bool bad = false;
  for (;;) {
    struct rx_frame f;
    while (end - start < sizeof f.h) { /* the header, and whatever follows it in the same read */
      if (start) {
        memmove(rx, rx + start, end - start);
        end -= start;
        start = 0;
      }
      ssize_t n = recv(c->fd, rx + end, RX_BYTES - end, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) goto out;
      end += (size_t)n;
    }
    memcpy(&f.h, rx + start, sizeof f.h);
    start += sizeof f.h;
    if (f.h.magic != FRAME_MAGIC || f.h.length > DP_MAX_IO + 65536) {
      bad = true;
      goto out;
    }
    uint32_t len = f.h.length, have = end - start < len ? (uint32_t)(end - start) : len;
    uint64_t t0 = now_ns();
    if (posix_memalign((void **)&f.buf, 4096, len ? (len + 4095) & ~4095u : 4096)) abort();
    memcpy(f.buf, rx + start, have);
    start += have;
    if (have < len && read_full(c->fd, f.buf + have, len - have)) {
      free(f.buf);
      goto out;
    }
    if (f.h.type == F_WRITE || f.h.type == F_RESYNC_DATA) stage_add(&c->v->stages[ST_RX], t0, now_ns());
    handed++;
    bool lone_small = f.h.type == F_WRITE && len <= INLINE_MAX && start == end;
    /* The burst that set the backoff is over once a small frame finds the loop asleep with everything acked: no
     * frames are behind it to hold back. (Counting the 256 frames down across a lull carried a burst's backoff
     * into the next depth-1 writer, which then went through the loop for up to 256 writes.) */
    if (inline_off && lone_small && loop_drained(c, handed)) inline_off = 0;
    if (inline_off) inline_off--;
    else if (lone_small && write_inline(c, &f, handed, &inline_off)) {
      if (c->eof || c->err) goto out; /* the loop sees it when woken below, and leaves */
      continue;
    }
    pthread_mutex_lock(&c->qlock);
    while (!c->rx_stop && (c->qlen == RXQ || (c->qlen && c->qbytes + len > RXQ_BYTES))) pthread_cond_wait(&c->qroom, &c->qlock);
    if (c->rx_stop) {
      pthread_mutex_unlock(&c->qlock);
      free(f.buf);
      goto out;
    }
    bool wake = c->qlen == 0;
    c->q[(c->qhead + c->qlen++) % RXQ] = f;
    c->qbytes += len;
    pthread_mutex_unlock(&c->qlock);
    if (wake) eventfd_write(c->efd, 1);
  }
out:
  if (bad) LOGE("volume %s: bad frame header from %s; dropping the connection", c->v->name, c->primary);
  free(rx);
  pthread_mutex_lock(&c->qlock);
  c->rx_done = true;
  pthread_mutex_unlock(&c->qlock);
  eventfd_write(c->efd, 1);
  return NULL;
}

/* Starts every queued frame there is room for; the receiver may read on. */
static void take_frames(struct rconn *c) {
  pthread_mutex_lock(&c->qlock);
  bool was_full = c->qlen == RXQ || c->qbytes >= RXQ_BYTES / 2;
  while (c->qlen && room(c) && !c->eof && !c->err) {
    struct rx_frame f = c->q[c->qhead];
    c->qhead = (c->qhead + 1) % RXQ;
    c->qlen--;
    c->qbytes -= f.h.length;
    pthread_mutex_unlock(&c->qlock);
    start_frame(c, &f.h, f.buf);
    pthread_mutex_lock(&c->qlock);
  }
  if (!c->qlen && c->rx_done) c->eof = true;
  if (was_full) pthread_cond_signal(&c->qroom);
  pthread_mutex_unlock(&c->qlock);
}

/* Whether the queue holds a frame the loop could take now; if not, the loop is about to sleep: the receiver
 * may write a lone small frame itself meanwhile (write_inline). */
static bool frames_ready(struct rconn *c) {
  pthread_mutex_lock(&c->qlock);
  bool r = (c->qlen || c->rx_done) && room(c);
  c->loop_asleep = !r;
  pthread_mutex_unlock(&c->qlock);
  return r;
}

/* The loop woke: it owns the connection's frame state again once a frame the receiver is writing is acked. */
static void loop_wake(struct rconn *c) {
  pthread_mutex_lock(&c->qlock);
  while (c->inline_busy) pthread_cond_wait(&c->inline_done, &c->qlock);
  c->loop_asleep = false;
  pthread_mutex_unlock(&c->qlock);
}

/* Waits for a completion or for the receiver's wake-up. */
static void wait_event(struct rconn *c) {
  if (!c->uring) {
    struct pollfd pfd = {.fd = c->efd, .events = POLLIN};
    if (poll(&pfd, 1, -1) > 0) eventfd_read(c->efd, &c->efd_val);
    return;
  }
  if (!c->efd_armed) {
    struct io_uring_sqe *sqe = get_sqe(c);
    io_uring_prep_read(sqe, c->efd, &c->efd_val, sizeof c->efd_val, 0);
    io_uring_sqe_set_data64(sqe, UD_RX);
    c->efd_armed = true;
  }
  io_uring_submit_and_wait(&c->ring, 1);
  c->unsubmitted = 0;
}

/* The connection's event loop: start every queued frame there is room for, submit their local writes, ack what
 * completed in order, then sleep until a completion or the receiver's wake-up. */
static void serve_loop(struct rconn *c) {
  struct volume *v = c->v;
  while (!c->eof && !c->err) {
    take_frames(c);
    submit_pending(c);
    if (c->uring) reap(c);
    advance(c);
    if (c->eof || c->err) break;
    if (frames_ready(c)) continue;
    uint64_t t0 = now_ns();
    wait_event(c);
    loop_wake(c);
    stage_add(&v->stages[ST_IDLE], t0, now_ns());
  }
  if (c->err) {
    LOGE("volume %s: local I/O failed for the primary %s: %s (check the backing %s)", v->name, c->primary, strerror(c->err), v->backing);
    nack(c, NACK_IO, v->epoch, strerror(c->err));
  }
  shutdown(c->fd, SHUT_RDWR);
  pthread_mutex_lock(&c->qlock);
  c->rx_stop = true;
  pthread_cond_signal(&c->qroom);
  pthread_mutex_unlock(&c->qlock);
  /* Buffers of writes in flight belong to the kernel until they complete (and the eventfd read's target). */
  while (c->uring && (c->inflight || c->efd_armed)) {
    if (c->efd_armed) eventfd_write(c->efd, 1);
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
    c->efd = eventfd(0, EFD_CLOEXEC);
    if (c->efd < 0 || pthread_create(&c->rx_thread, NULL, receiver, c)) {
      LOGE("volume %s: cannot start the receiver of primary %s: %s", c->v->name, c->primary, strerror(errno));
    } else {
      c->rx_started = true;
      serve_loop(c);
      pthread_join(c->rx_thread, NULL);
    }
    if (c->uring) io_uring_queue_exit(&c->ring);
    if (!c->lane) LOGI("volume %s: primary %s disconnected", c->v->name, c->primary);
  }
  for (int i = 0; i < RING; i++) free(c->ring_slots[i].payload);
  for (unsigned i = 0; i < c->qlen; i++) free(c->q[(c->qhead + i) % RXQ].buf);
  if (c->efd >= 0) close(c->efd);
  pthread_mutex_destroy(&c->qlock);
  pthread_cond_destroy(&c->qroom);
  pthread_cond_destroy(&c->inline_done);
  if (c->v) {
    pthread_mutex_lock(&c->v->lock);
    if (c->lane && c->v->lane_fds[c->lane - 1] == c->fd) c->v->lane_fds[c->lane - 1] = -1;
    if (!c->lane && c->v->replica_fd == c->fd) {
      c->v->replica_fd = -1;
      for (int i = 0; i < DP_LANES - 1; i++) /* its lanes end with it */
        if (c->v->lane_fds[i] >= 0) shutdown(c->v->lane_fds[i], SHUT_RDWR);
    }
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
  c->efd = -1;
  pthread_mutex_init(&c->qlock, NULL);
  pthread_cond_init(&c->qroom, NULL);
  pthread_cond_init(&c->inline_done, NULL);
  pthread_t t;
  if (pthread_create(&t, NULL, serve, c)) {
    close(fd);
    pthread_mutex_destroy(&c->qlock);
    pthread_cond_destroy(&c->qroom);
    pthread_cond_destroy(&c->inline_done);
    free(c);
    return;
  }
  pthread_detach(t);
}
