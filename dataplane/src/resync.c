/* A primary's connection to one peer, in its own thread: connect, HELLO, merge the peer's bitmap, resync the
 * dirty regions while writes continue, then keep the activity log small (clear bits of idle regions after a
 * flush on the peer). A receiver thread per connection reads ACK/NACK/CHECKSUM frames. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer_internal.h"
#include "repl_proto.h"

#define RESYNC_FLUSH_EVERY 64 /* regions between a peer flush + bitmap write during resync */

/* Connects with a deadline; -1 on failure with errno set. */
static int connect_to(const char *address, int timeout_ms) {
  char host[128];
  snprintf(host, sizeof host, "%s", address);
  char *colon = strrchr(host, ':');
  if (!colon) return errno = EINVAL, -1;
  *colon = '\0';
  const char *port = colon + 1;
  char *h = host;
  if (h[0] == '[') {
    h++;
    h[strcspn(h, "]")] = '\0';
  }
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV}, *ai = NULL;
  if (getaddrinfo(h, port, &hints, &ai) != 0) return errno = EINVAL, -1;
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int rc = fd < 0 ? -1 : connect(fd, ai->ai_addr, ai->ai_addrlen);
  freeaddrinfo(ai);
  if (rc < 0 && errno == EINPROGRESS) {
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int err = 0;
    socklen_t l = sizeof err;
    if (poll(&pfd, 1, timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) == 0 && err == 0) rc = 0;
    else errno = err ? err : ETIMEDOUT;
  }
  if (rc < 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    errno = e;
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  tcp_tune(fd);
  return fd;
}

static void set_error(struct peer *p, const char *fmt, const char *a, const char *b) {
  snprintf(p->last_error, sizeof p->last_error, fmt, a, b);
}

/* Reads one frame's payload into a malloc'd buffer (NUL-terminated). */
static int recv_payload(int fd, const struct frame_hdr *h, char **out) { return frame_recv_payload(fd, h, NULL, 0, out); }

/* The peer's refusal: StaleEpoch fences this volume (a newer primary exists). */
static void handle_nack(struct peer *p, const struct frame_hdr *h, const char *msg) {
  struct volume *v = p->v;
  pthread_mutex_lock(&v->lock);
  uint16_t reason = h->flags & 0xff;
  snprintf(p->last_error, sizeof p->last_error, "%s: %s", nack_reason_name(reason), msg ? msg : "");
  if (reason == NACK_STALE_EPOCH) {
    p->state = PS_STALEEPOCH;
    if (!v->fenced) LOGE("volume %s: peer %s holds epoch %llu > ours %llu: fenced, writes fail until the control plane reconfigures this replica", v->name,
                         p->node, (unsigned long long)h->epoch, (unsigned long long)v->epoch);
    v->fenced = true;
    pthread_cond_broadcast(&v->cond);
    wake_ack_waiters(v, NULL, 0);
  } else {
    LOGW("volume %s: peer %s refused us: %s", v->name, p->node, p->last_error);
  }
  pthread_mutex_unlock(&v->lock);
  if (reason == NACK_STALE_EPOCH) dp_emit(v->dp, "fenced", v->name);
}

/* Our HELLO: lane 0 opens a connection, lane k ≥ 1 joins the connection `session` as a write lane. */
static int send_hello(struct peer *p, int fd, int lane, uint64_t session) {
  struct volume *v = p->v;
  struct sbuf b;
  sb_init(&b);
  pthread_mutex_lock(&v->lock);
  sb_append(&b, "{", 1);
  jw_u64(&b, "protocolMajor", DP_PROTOCOL_MAJOR);
  jw_u64(&b, "protocolMinor", DP_PROTOCOL_MINOR);
  jw_str(&b, "volume", v->name);
  jw_u64(&b, "sizeBytes", v->size_bytes);
  jw_u64(&b, "regionBytes", v->region_bytes);
  jw_u64(&b, "epoch", v->epoch);
  jw_str(&b, "node", v->dp->node);
  jw_str(&b, "peer", p->node); /* whom we mean to reach: a data plane at a stale address refuses */
  jw_str(&b, "uuid", v->uuid);
  jw_str(&b, "role", "primary");
  if (lane) {
    jw_u64(&b, "lane", (uint64_t)lane);
    jw_u64(&b, "session", session);
  }
  sb_append(&b, "}", 1);
  uint64_t epoch = v->epoch;
  pthread_mutex_unlock(&v->lock);
  int rc = frame_send(fd, F_HELLO, 0, 0, 0, epoch, b.data, (uint32_t)b.len, true);
  sb_free(&b);
  return rc;
}

/* A write lane's handshake: our HELLO with the session, the peer's HELLO back. 0 when it may carry writes. */
static int lane_handshake(struct peer *p, int fd, int lane, uint64_t session) {
  struct frame_hdr h;
  char *payload = NULL;
  int rc = send_hello(p, fd, lane, session);
  if (!rc) rc = frame_recv_hdr(fd, &h);
  if (!rc) rc = recv_payload(fd, &h, &payload);
  if (rc) return rc;
  if (h.type == F_NACK) handle_nack(p, &h, payload);
  free(payload);
  return h.type == F_HELLO ? 0 : -ECONNREFUSED;
}

/* HELLO both ways and the peer's bitmap. Returns 0 when the connection may carry data; *session and *lanes: what
 * the peer offers for write lanes (0 lanes from a protocol 1.0 peer). */
static int handshake(struct peer *p, int fd, bool *peer_inconsistent_elsewhere, uint64_t *session, uint64_t *lanes) {
  struct volume *v = p->v;
  struct frame_hdr h;
  char *payload = NULL;
  int rc = send_hello(p, fd, 0, 0);
  if (!rc) rc = frame_recv_hdr(fd, &h);
  if (!rc) rc = recv_payload(fd, &h, &payload);
  if (rc) return rc;
  if (h.type == F_NACK) {
    handle_nack(p, &h, payload);
    free(payload);
    return -ECONNREFUSED;
  }
  struct json *j = h.type == F_HELLO ? json_parse(payload, NULL, 0) : NULL;
  free(payload);
  const char *ls = json_get_str(j, "localState"), *src = json_get_str(j, "syncSource"), *node = json_get_str(j, "node");
  *peer_inconsistent_elsewhere = ls && strcmp(ls, "UpToDate") && (!src || strcmp(src, v->uuid));
  if (!json_get_u64(j, "session", session) || !json_get_u64(j, "lanes", lanes)) *lanes = 0;
  /* Addresses move (a data plane restarted elsewhere): one that now answers as another node is not this peer. */
  bool other_node = h.type == F_HELLO && node && strcmp(node, p->node);
  if (other_node) {
    pthread_mutex_lock(&v->lock);
    set_error(p, "the data plane at this peer's address is node %s's, not %s's (a stale address: the node agents reconfigure it)", node, p->node);
    pthread_mutex_unlock(&v->lock);
  }
  json_free(j);
  if (other_node) return -ECONNREFUSED;
  if (h.type != F_HELLO) return -EPROTO;
  /* Its bitmap: regions it wrote (as an earlier primary) that we may lack, or differ in. */
  rc = frame_recv_hdr(fd, &h);
  if (!rc && h.type != F_BITMAP) rc = -EPROTO;
  if (!rc) rc = recv_payload(fd, &h, &payload);
  if (rc) return rc;
  uint64_t nwords = h.length / 8;
  uint64_t *words = malloc(nwords * 8 + 8);
  if (!words) abort();
  memcpy(words, payload, nwords * 8);
  free(payload);
  /* Regions the peer may have changed are suspect on every replica: mark them for every peer. */
  pthread_mutex_lock(&v->lock);
  for (int i = 0; i < v->npeers; i++) peer_mark_suspect(v->peers[i], words, nwords);
  pthread_mutex_unlock(&v->lock);
  free(words);
  return 0;
}

/* Reads ACK/NACK/CHECKSUM frames of one connection (the main one, or the write lane l) until it ends. */
static void read_acks(struct peer *p, int fd, struct lane *l) {
  struct volume *v = p->v;
  uint64_t *acked_seq = l ? &l->acked_seq : &p->acked_seq;
  struct frame_reader *r = calloc(1, sizeof *r);
  if (!r) abort();
  r->fd = fd;
  uint64_t acked = 0; /* the highest cumulative ACK read and not yet published */
  for (;;) {
    struct frame_hdr h;
    char *payload = NULL;
    if (frame_read(r, &h, &payload)) break;
    if (h.type == F_NACK) {
      handle_nack(p, &h, payload);
      free(payload);
      break;
    }
    if (h.type == F_ACK && h.seq > acked) acked = h.seq;
    /* Publish (lock + wake) once per burst: every ACK already buffered is folded into one. */
    if (h.type == F_CHECKSUM || !frame_reader_ready(r)) {
      struct pending_write *done = NULL;
      pthread_mutex_lock(&v->lock);
      if (h.type == F_CHECKSUM && h.length >= 4) {
        memcpy(&p->checksum_value, payload, 4);
        p->checksum_seq = h.seq;
        if (h.seq > acked) acked = h.seq;
      }
      if (acked > *acked_seq) {
        *acked_seq = acked;
        /* Flush, resync and verify wait on the main connection only; a lane's acks release parked writes. */
        done = wake_ack_waiters_deferred(v, p, l ? 0 : acked);
      }
      if (h.type == F_CHECKSUM) pthread_cond_broadcast(&v->cond); /* verify waits on v->cond */
      pthread_mutex_unlock(&v->lock);
      finish_writes(done); /* answered outside the lock: writers keep starting meanwhile */
    }
    free(payload);
  }
  free(r);
}

/* A write lane's receiver: when the lane ends, the whole connection ends (its writes wait for a resync). */
static void *lane_receiver(void *arg) {
  struct lane *l = arg;
  struct peer *p = l->peer;
  pthread_setname_np(pthread_self(), "dp-lane-rx");
  read_acks(p, l->fd, l);
  pthread_mutex_lock(&p->send_lock);
  if (p->fd >= 0 && p->gen == l->gen) shutdown(p->fd, SHUT_RDWR);
  pthread_mutex_unlock(&p->send_lock);
  return NULL;
}

static void *receiver(void *arg) {
  struct peer *p = arg;
  struct volume *v = p->v;
  pthread_setname_np(pthread_self(), "dp-peer-rx");
  pthread_mutex_lock(&v->lock);
  int fd = p->fd;
  pthread_mutex_unlock(&v->lock);
  read_acks(p, fd, NULL);
  shutdown(fd, SHUT_RDWR);
  pthread_mutex_lock(&v->lock);
  p->connected = false;
  /* An UpToDate peer lost: suspend until the control plane consents (outdate-peer). A peer lost mid-resync
   * is Inconsistent on its own disk (persisted at SYNC_START) and cannot be promoted: no consent needed. */
  if (p->state == PS_UPTODATE || p->state == PS_CONNECTING) p->state = PS_DISCONNECTED;
  else if (p->state == PS_SYNCTARGET) p->state = PS_OUTDATED;
  peer_recompute_suspended(v);
  pthread_mutex_unlock(&v->lock);
  if (!p->stop) LOGW("volume %s: peer %s disconnected (%s)", v->name, p->node, peer_state_name(p->state));
  dp_emit(v->dp, "peer-disconnected", v->name);
  return NULL;
}

static bool resync_abort(void *arg) {
  struct peer *p = arg;
  return p->stop || !p->connected || p->v->fenced;
}

/* Sends FLUSH and waits for it (v->lock held across the wait). */
static bool peer_flush(struct peer *p, uint64_t gen) {
  uint64_t seq = 0;
  pthread_mutex_unlock(&p->v->lock);
  int rc = peer_send(p, gen, F_FLUSH, 0, NULL, 0, &seq);
  pthread_mutex_lock(&p->v->lock);
  return rc == 0 && peer_wait_ack(p, gen, seq);
}

/* Copies one region to the peer while no write touches it. v->lock held. */
static bool resync_region(struct peer *p, uint64_t gen, uint64_t r, void *buf) {
  struct volume *v = p->v;
  uint64_t start = r * v->region_bytes, end = start + v->region_bytes;
  if (end > v->size_bytes) end = v->size_bytes;
  if (!range_acquire(v, start, end, resync_abort, p)) return false;
  pthread_mutex_unlock(&v->lock);
  uint64_t seq = 0;
  bool ok = true;
  for (uint64_t off = start; off < end && ok; off += DP_MAX_IO) {
    uint32_t n = (uint32_t)(end - off < DP_MAX_IO ? end - off : DP_MAX_IO);
    ok = volume_local_read(v, buf, n, off) == (ssize_t)n && peer_send(p, gen, F_RESYNC_DATA, off, buf, n, &seq) == 0;
  }
  pthread_mutex_lock(&v->lock);
  ok = ok && peer_wait_ack(p, gen, seq);
  range_release(v, start, end);
  if (ok) {
    bitmap_clear(p->dirty, r);
    p->resync_done_bytes += end - start;
    atomic_fetch_add(&v->bytes_resynced, end - start);
  }
  return ok;
}

/* The resync of every dirty region, in order; resumable: bits clear as regions land (flushed on the peer). */
static bool resync(struct peer *p, uint64_t gen) {
  struct volume *v = p->v;
  void *buf = thread_io_buffer();
  uint64_t seq = 0;
  int rc = 0;
  /* Regions a sequential stream marked ahead and never reached (e.g. the peer died mid-stream) are in sync. */
  uint64_t skipped = peer_skip_unwritten_ahead(p);
  if (skipped) {
    pthread_mutex_unlock(&v->lock);
    bitmap_sync(p->dirty);
    pthread_mutex_lock(&v->lock);
    LOGI("volume %s: resync to %s skips %llu regions only marked ahead, never written", v->name, p->node, (unsigned long long)skipped);
  }
  if (bitmap_count(p->dirty)) { /* nothing to copy: the peer never turns Inconsistent */
    pthread_mutex_unlock(&v->lock);
    rc = peer_send(p, gen, F_SYNC_START, 0, v->uuid, (uint32_t)strlen(v->uuid), &seq);
    pthread_mutex_lock(&v->lock);
    if (rc || !peer_wait_ack(p, gen, seq)) return false;
  }
  p->state = PS_SYNCTARGET;
  p->resync_total_bytes = bitmap_count(p->dirty) * v->region_bytes;
  p->resync_done_bytes = 0;
  peer_recompute_suspended(v);
  LOGI("volume %s: resync to %s: %llu bytes in dirty regions", v->name, p->node, (unsigned long long)p->resync_total_bytes);
  int since_flush = 0;
  for (uint64_t r = bitmap_next_set(p->dirty, 0); r != UINT64_MAX; r = bitmap_next_set(p->dirty, r + 1)) {
    if (!resync_region(p, gen, r, buf)) return false;
    if (++since_flush == RESYNC_FLUSH_EVERY) {
      if (!peer_flush(p, gen)) return false;
      pthread_mutex_unlock(&v->lock);
      bitmap_sync(p->dirty);
      pthread_mutex_lock(&v->lock);
      since_flush = 0;
    }
  }
  pthread_mutex_unlock(&v->lock);
  rc = peer_send(p, gen, F_SYNC_DONE, 0, v->uuid, (uint32_t)strlen(v->uuid), &seq);
  pthread_mutex_lock(&v->lock);
  if (rc || !peer_wait_ack(p, gen, seq)) return false;
  pthread_mutex_unlock(&v->lock);
  bitmap_sync(p->dirty);
  pthread_mutex_lock(&v->lock);
  /* Regions written during the resync keep their bits until idle (the activity log); they reached the peer. */
  p->state = PS_UPTODATE;
  peer_recompute_suspended(v);
  LOGI("volume %s: peer %s UpToDate (%llu bytes resynced)", v->name, p->node, (unsigned long long)p->resync_done_bytes);
  return true;
}

/* Clears the activity-log bits of regions idle for AL_IDLE_S after a flush on the peer. v->lock held. */
static bool clear_idle_bits(struct peer *p, uint64_t gen) {
  struct volume *v = p->v;
  uint32_t now = mono_s();
  uint64_t cand = 0;
  for (uint64_t r = bitmap_next_set(p->dirty, 0); r != UINT64_MAX; r = bitmap_next_set(p->dirty, r + 1))
    if (now - v->touched_s[r] >= AL_IDLE_S && !range_busy(v, r * v->region_bytes, (r + 1) * v->region_bytes)) cand++;
  if (!cand) return true;
  uint32_t flush_time = mono_s();
  if (!peer_flush(p, gen)) return false;
  for (uint64_t r = bitmap_next_set(p->dirty, 0); r != UINT64_MAX; r = bitmap_next_set(p->dirty, r + 1))
    if (flush_time - v->touched_s[r] >= AL_IDLE_S && !range_busy(v, r * v->region_bytes, (r + 1) * v->region_bytes)) bitmap_clear(p->dirty, r);
  pthread_mutex_unlock(&v->lock);
  bitmap_sync(p->dirty);
  pthread_mutex_lock(&v->lock);
  return true;
}

/* Opens up to `offered` - 1 write lanes of the connection `session` (fds into lfd); returns how many. All or
 * none: a lane refused or unreachable leaves the connection with the main one only (correct, slower). */
static int open_lanes(struct peer *p, const char *address, uint64_t session, uint64_t offered, int *lfd) {
  int want = offered < DP_LANES ? (int)offered - 1 : DP_LANES - 1, n = 0;
  for (; n < want; n++) {
    lfd[n] = connect_to(address, 2000);
    if (lfd[n] < 0 || lane_handshake(p, lfd[n], n + 1, session)) {
      if (lfd[n] >= 0) close(lfd[n]);
      LOGW("volume %s: write lane %d to peer %s not opened; replicating over one connection", p->v->name, n + 1, p->node);
      while (n > 0) close(lfd[--n]);
      return 0;
    }
  }
  return n;
}

/* Ends the write lanes of the connection that just ended (its main receiver has returned). */
static void close_lanes(struct peer *p) {
  pthread_mutex_lock(&p->v->lock);
  p->nlanes = 0;
  pthread_mutex_unlock(&p->v->lock);
  for (int i = 0; i < DP_LANES - 1; i++) {
    struct lane *l = &p->lanes[i];
    pthread_mutex_lock(&l->send_lock);
    if (l->fd >= 0) shutdown(l->fd, SHUT_RDWR);
    pthread_mutex_unlock(&l->send_lock);
    if (l->rx_running) pthread_join(l->rx, NULL);
    l->rx_running = false;
    pthread_mutex_lock(&l->send_lock);
    if (l->fd >= 0) close(l->fd);
    l->fd = -1;
    pthread_mutex_unlock(&l->send_lock);
  }
}

void *peer_thread(void *arg) {
  struct peer *p = arg;
  struct volume *v = p->v;
  pthread_setname_np(pthread_self(), "dp-peer");
  pthread_mutex_lock(&v->lock);
  while (!p->stop) {
    char address[sizeof p->address]; /* configure may move the peer meanwhile (under v->lock) */
    snprintf(address, sizeof address, "%s", p->address);
    pthread_mutex_unlock(&v->lock);
    int fd = connect_to(address, 2000);
    bool inconsistent_elsewhere = false;
    uint64_t session = 0, offered = 0;
    int rc = fd < 0 ? -errno : handshake(p, fd, &inconsistent_elsewhere, &session, &offered);
    pthread_mutex_lock(&v->lock);
    if (rc || p->stop) {
      if (fd >= 0) close(fd);
      if (rc && rc != -ECONNREFUSED) set_error(p, "connect to %s: %s", address, strerror(-rc));
      if (p->state == PS_CONNECTING) {
        p->state = PS_DISCONNECTED;
        peer_recompute_suspended(v);
      }
      peer_sleep(p, 500);
      continue;
    }
    pthread_mutex_unlock(&v->lock);
    if (inconsistent_elsewhere) { /* it was mid-resync from another primary: send everything ever written */
      uint64_t n = (bitmap_nbits(v->written) + 63) / 64;
      uint64_t *w = calloc(n + 1, 8);
      if (!w) abort();
      bitmap_copy_words(v->written, w, n);
      pthread_mutex_lock(&v->lock);
      peer_mark_suspect(p, w, n);
      pthread_mutex_unlock(&v->lock);
      free(w);
    }
    for (int i = 0; i < v->npeers; i++) bitmap_sync(v->peers[i]->dirty);
    int lfd[DP_LANES - 1];
    int nlanes = open_lanes(p, address, session, offered, lfd);
    pthread_mutex_lock(&p->send_lock);
    pthread_mutex_lock(&v->lock);
    p->fd = fd;
    p->gen++;
    p->next_seq = 0;
    p->acked_seq = 0;
    for (int i = 0; i < nlanes; i++) {
      struct lane *l = &p->lanes[i];
      pthread_mutex_lock(&l->send_lock);
      l->fd = lfd[i];
      l->gen = p->gen;
      l->next_seq = 0;
      l->acked_seq = 0;
      pthread_mutex_unlock(&l->send_lock);
    }
    p->nlanes = nlanes;
    p->checksum_seq = 0;
    p->connected = true;
    p->last_error[0] = '\0';
    uint64_t gen = p->gen;
    pthread_mutex_unlock(&p->send_lock);
    pthread_t rx;
    if (pthread_create(&rx, NULL, receiver, p)) abort();
    for (int i = 0; i < nlanes; i++) {
      if (pthread_create(&p->lanes[i].rx, NULL, lane_receiver, &p->lanes[i])) abort();
      p->lanes[i].rx_running = true;
    }
    LOGI("volume %s: connected to peer %s at %s (%d write lanes)", v->name, p->node, address, nlanes);
    pthread_mutex_unlock(&v->lock);
    dp_emit(v->dp, "peer-connected", v->name);
    pthread_mutex_lock(&v->lock);
    if (resync(p, gen)) {
      pthread_mutex_unlock(&v->lock);
      dp_emit(v->dp, "peer-uptodate", v->name);
      pthread_mutex_lock(&v->lock);
      /* Once a second, whatever else wakes v->cond meanwhile (a state change ends the wait early). */
      uint64_t next_clear = now_ns() + 1000000000ull;
      while (!p->stop && p->connected && p->gen == gen && !v->fenced) {
        uint64_t now = now_ns();
        if (now < next_clear) {
          peer_sleep(p, (unsigned)((next_clear - now) / 1000000) + 1);
          continue;
        }
        next_clear = now + 1000000000ull;
        if (!clear_idle_bits(p, gen)) break;
      }
    }
    pthread_mutex_unlock(&v->lock);
    pthread_mutex_lock(&p->send_lock);
    shutdown(fd, SHUT_RDWR);
    pthread_mutex_unlock(&p->send_lock);
    pthread_join(rx, NULL);
    close_lanes(p);
    pthread_mutex_lock(&p->send_lock);
    pthread_mutex_lock(&v->lock);
    close(fd);
    p->fd = -1;
    pthread_mutex_unlock(&p->send_lock);
    if (v->fenced) peer_sleep(p, 1000);
    else peer_sleep(p, 200);
  }
  pthread_mutex_unlock(&v->lock);
  return NULL;
}
