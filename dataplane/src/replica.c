#include "replica.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer_internal.h"
#include "repl_proto.h"

#define RING 4096    /* frames in flight per connection: far above the primary's FUSE threads + resync */
#define NWORKERS 8   /* concurrent local writes: the primary's queue depth reaches our disk */

enum slot_state { SLOT_EMPTY, SLOT_WRITING, SLOT_DONE, SLOT_ORDERED };

struct slot {
  uint16_t type;
  uint8_t state;
  int err;
  uint64_t off;
  char *payload; /* ordered frames: their small payload */
  uint32_t len;
};

struct job {
  uint64_t seq, off;
  uint32_t len;
  void *buf;
  struct job *next;
};

struct rconn {
  struct dataplane *dp;
  struct volume *v;
  int fd;
  char primary[DP_NAME_MAX];
  pthread_mutex_t lock;    /* queue, ring, received, acked, closing */
  pthread_cond_t work_cond; /* a job queued: one worker */
  pthread_cond_t ack_cond;  /* a frame done or an ordered frame queued: the acker */
  struct job *head, *tail;
  struct slot ring[RING];
  uint64_t received, acked;
  bool closing;
  pthread_t workers[NWORKERS], acker;
  pthread_mutex_t send_lock;
};

static int send_frame(struct rconn *c, uint16_t type, uint16_t flags, uint64_t seq, uint64_t off, const void *p, uint32_t len) {
  pthread_mutex_lock(&c->send_lock);
  int rc = frame_send(c->fd, type, flags, seq, off, c->v ? c->v->epoch : 0, p, len, true);
  pthread_mutex_unlock(&c->send_lock);
  return rc;
}

static void nack(struct rconn *c, uint16_t reason, uint64_t epoch, const char *msg) {
  pthread_mutex_lock(&c->send_lock);
  frame_send(c->fd, F_NACK, reason, 0, 0, epoch, msg, (uint32_t)strlen(msg), true);
  pthread_mutex_unlock(&c->send_lock);
}

static void *worker(void *arg) {
  struct rconn *c = arg;
  pthread_mutex_lock(&c->lock);
  for (;;) {
    while (!c->head && !c->closing) pthread_cond_wait(&c->work_cond, &c->lock);
    if (c->closing) break;
    struct job *j = c->head;
    c->head = j->next;
    if (!c->head) c->tail = NULL;
    pthread_mutex_unlock(&c->lock);
    ssize_t n = volume_local_write(c->v, j->buf, j->len, j->off);
    pthread_mutex_lock(&c->lock);
    struct slot *s = &c->ring[j->seq % RING];
    s->err = n < 0 ? (int)-n : 0;
    s->state = SLOT_DONE;
    if (j->seq == c->acked + 1) pthread_cond_signal(&c->ack_cond); /* only the next in order can advance the ack */
    free(j->buf);
    free(j);
  }
  pthread_mutex_unlock(&c->lock);
  return NULL;
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

/* Frames that must happen after everything before them: run by the acker in sequence order. */
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

static void *acker(void *arg) {
  struct rconn *c = arg;
  pthread_mutex_lock(&c->lock);
  while (!c->closing) {
    uint64_t before = c->acked;
    int err = 0;
    while (c->acked < c->received && !err) {
      uint64_t seq = c->acked + 1;
      struct slot *s = &c->ring[seq % RING];
      if (s->state == SLOT_WRITING) break;
      if (s->state == SLOT_ORDERED) {
        pthread_mutex_unlock(&c->lock);
        err = run_ordered(c, s, seq);
        pthread_mutex_lock(&c->lock);
      } else {
        err = s->err;
      }
      free(s->payload);
      s->payload = NULL;
      s->state = SLOT_EMPTY;
      if (!err) c->acked = seq;
    }
    if (err) {
      pthread_mutex_unlock(&c->lock);
      LOGE("volume %s: local I/O failed for the primary %s: %s (check the backing %s)", c->v->name, c->primary, strerror(err < 0 ? -err : err), c->v->backing);
      nack(c, NACK_IO, c->v->epoch, strerror(err < 0 ? -err : err));
      shutdown(c->fd, SHUT_RDWR);
      pthread_mutex_lock(&c->lock);
      break;
    }
    if (c->acked != before) {
      uint64_t a = c->acked;
      pthread_mutex_unlock(&c->lock);
      if (send_frame(c, F_ACK, 0, a, 0, NULL, 0)) shutdown(c->fd, SHUT_RDWR);
      pthread_mutex_lock(&c->lock);
      continue; /* more may have completed meanwhile: one ACK covers them all */
    }
    pthread_cond_wait(&c->ack_cond, &c->lock);
  }
  pthread_mutex_unlock(&c->lock);
  return NULL;
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

/* Receives frames until the connection ends; data frames go to the workers, the rest to the acker. */
static void receive_loop(struct rconn *c) {
  struct volume *v = c->v;
  for (;;) {
    struct frame_hdr h;
    if (frame_recv_hdr(c->fd, &h)) break;
    bool data = h.type == F_WRITE || h.type == F_RESYNC_DATA;
    void *buf = NULL;
    if (posix_memalign(&buf, 4096, h.length ? (h.length + 4095) & ~4095u : 4096)) abort();
    if (h.length && read_full(c->fd, buf, h.length)) {
      free(buf);
      break;
    }
    if (!frame_crc_ok(&h, buf)) {
      LOGE("volume %s: frame %llu from %s fails its checksum; dropping the connection", v->name, (unsigned long long)h.seq, c->primary);
      nack(c, NACK_CRC, v->epoch, "payload checksum mismatch");
      free(buf);
      break;
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
      break;
    }
    if ((data && (h.offset + h.length > v->size_bytes)) || h.seq != c->received + 1) {
      LOGE("volume %s: bad frame from %s (%s seq %llu, expected %llu); dropping the connection", v->name, c->primary, frame_type_name(h.type),
           (unsigned long long)h.seq, (unsigned long long)c->received + 1);
      free(buf);
      break;
    }
    pthread_mutex_lock(&c->lock);
    int pending = 0;
    if (data && c->acked == c->received && !c->head && ioctl(c->fd, FIONREAD, &pending) == 0 && pending == 0) {
      /* Nothing else in flight and nothing more on the wire (queue depth 1): write and ack here, saving two
       * thread hand-offs (worker, acker) of the latency. */
      pthread_mutex_unlock(&c->lock);
      ssize_t n = volume_local_write(v, buf, h.length, h.offset);
      free(buf);
      atomic_fetch_add(h.type == F_RESYNC_DATA ? &v->bytes_resynced : &v->bytes_replicated, h.length);
      pthread_mutex_lock(&c->lock);
      c->received = h.seq;
      if (n >= 0) c->acked = h.seq;
      pthread_mutex_unlock(&c->lock);
      if (n < 0) {
        LOGE("volume %s: local write failed for the primary %s: %s (check the backing %s)", v->name, c->primary, strerror((int)-n), v->backing);
        nack(c, NACK_IO, v->epoch, strerror((int)-n));
        break;
      }
      if (send_frame(c, F_ACK, 0, h.seq, 0, NULL, 0)) break;
      continue;
    }
    struct slot *s = &c->ring[h.seq % RING];
    s->type = h.type;
    s->err = 0;
    s->off = h.offset;
    s->len = h.length;
    if (data) {
      s->state = SLOT_WRITING;
      struct job *j = malloc(sizeof *j);
      if (!j) abort();
      *j = (struct job){.seq = h.seq, .off = h.offset, .len = h.length, .buf = buf};
      if (c->tail) c->tail->next = j;
      else c->head = j;
      c->tail = j;
      if (h.type == F_RESYNC_DATA) atomic_fetch_add(&v->bytes_resynced, h.length);
      else atomic_fetch_add(&v->bytes_replicated, h.length);
    } else {
      s->state = SLOT_ORDERED;
      ((char *)buf)[h.length] = '\0';
      s->payload = buf;
    }
    c->received = h.seq;
    pthread_cond_signal(data ? &c->work_cond : &c->ack_cond);
    pthread_mutex_unlock(&c->lock);
  }
}

static void *serve(void *arg) {
  struct rconn *c = arg;
  if (handshake(c) == 0) {
    for (int i = 0; i < NWORKERS; i++) pthread_create(&c->workers[i], NULL, worker, c);
    pthread_create(&c->acker, NULL, acker, c);
    receive_loop(c);
    shutdown(c->fd, SHUT_RDWR);
    pthread_mutex_lock(&c->lock);
    c->closing = true;
    pthread_cond_broadcast(&c->work_cond);
    pthread_cond_broadcast(&c->ack_cond);
    pthread_mutex_unlock(&c->lock);
    for (int i = 0; i < NWORKERS; i++) pthread_join(c->workers[i], NULL);
    pthread_join(c->acker, NULL);
    LOGI("volume %s: primary %s disconnected", c->v->name, c->primary);
  }
  for (struct job *j = c->head; j;) {
    struct job *n = j->next;
    free(j->buf);
    free(j);
    j = n;
  }
  for (int i = 0; i < RING; i++) free(c->ring[i].payload);
  if (c->v) {
    pthread_mutex_lock(&c->v->lock);
    if (c->v->replica_fd == c->fd) c->v->replica_fd = -1;
    pthread_mutex_unlock(&c->v->lock);
    volume_put(c->v);
  }
  close(c->fd);
  pthread_mutex_destroy(&c->lock);
  pthread_cond_destroy(&c->work_cond);
  pthread_cond_destroy(&c->ack_cond);
  pthread_mutex_destroy(&c->send_lock);
  free(c);
  return NULL;
}

void replica_accept(struct dataplane *dp, int fd) {
  tcp_tune(fd);
  struct rconn *c = calloc(1, sizeof *c);
  if (!c) abort();
  c->dp = dp;
  c->fd = fd;
  pthread_mutex_init(&c->lock, NULL);
  pthread_cond_init(&c->work_cond, NULL);
  pthread_cond_init(&c->ack_cond, NULL);
  pthread_mutex_init(&c->send_lock, NULL);
  pthread_t t;
  if (pthread_create(&t, NULL, serve, c)) {
    close(fd);
    free(c);
    return;
  }
  pthread_detach(t);
}
