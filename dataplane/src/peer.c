/* The primary's peers: configuration from `configure`, status, outdate-peer, and the replicated write path
 * (protocol C: a write is answered after the local write completed and every UpToDate peer acked it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "peer_internal.h"
#include "repl_proto.h"

const char *peer_state_name(enum peer_state s) {
  static const char *names[] = {"Connecting", "SyncSource", "SyncTarget", "UpToDate", "Disconnected", "Outdated", "StaleEpoch"};
  return names[s];
}

struct target {
  struct peer *p;
  uint64_t gen, seq;
  int lane; /* 0: the main connection */
};

/* Whether a target no longer holds the write back: it acked on the connection that carried it; or that
 * connection is gone and the peer is being resynced or is UpToDate again on a newer one (the region's bit was
 * set before the write, so the resync carries it); or the control plane outdated the peer. */
static bool target_done(struct target *t) {
  struct peer *p = t->p;
  if (p->state == PS_OUTDATED) return true;
  uint64_t acked = t->lane ? p->lanes[t->lane - 1].acked_seq : p->acked_seq;
  if (t->seq && p->gen == t->gen && p->connected && acked >= t->seq) return true;
  return p->gen != t->gen && p->connected && (p->state == PS_SYNCTARGET || p->state == PS_UPTODATE);
}

/* A replicated write after its local write and sends: the targets it still waits for. */
struct pending_write {
  struct volume *v;
  struct target t[DP_MAX_PEERS];
  int nt;
  uint64_t off, len, t0, t_local; /* t_local: when the local write ended (stage timers) */
  ssize_t n; /* the local write's result */
  write_done_fn done;
  void *arg;
  struct pending_write *next;
};

static bool write_released(struct pending_write *w) {
  for (int i = 0; i < w->nt; i++)
    if (!target_done(&w->t[i]) && !w->v->fenced && !w->t[i].p->stop) return false;
  return true;
}

/* Accounts a released write and frees its range; its answer in w->n. v->lock held. */
static void complete_locked(struct pending_write *w) {
  struct volume *v = w->v;
  uint64_t now = now_ns();
  stage_add(&v->stages[ST_ACK], w->t_local, now);
  for (int i = 0; i < w->nt; i++) {
    w->t[i].p->ack_ns_sum += now - w->t0;
    w->t[i].p->ack_count++;
  }
  range_release(v, w->off, w->off + w->len);
  if (v->fenced) w->n = -EIO; /* a newer epoch exists: this write may not be on the surviving replicas */
  else if (w->n >= 0) {
    w->n = (ssize_t)w->len;
    atomic_fetch_add(&v->writes_total, 1);
    atomic_fetch_add(&v->bytes_written, w->len);
    atomic_fetch_add(&v->bytes_replicated, w->len * (uint64_t)w->nt);
  }
}

struct pending_write *wake_ack_waiters_deferred(struct volume *v, struct peer *p, uint64_t acked) {
  for (struct ack_waiter *w = v->ack_waiters; w; w = w->next)
    if (!p || (w->p == p && w->seq && w->seq <= acked)) pthread_cond_signal(&w->cond);
  struct pending_write *out = NULL, **pp = &v->pending_writes;
  while (*pp) {
    struct pending_write *w = *pp;
    if (!write_released(w)) {
      pp = &w->next;
      continue;
    }
    *pp = w->next;
    complete_locked(w);
    w->next = out;
    out = w;
  }
  return out;
}

void finish_writes(struct pending_write *list) {
  while (list) {
    struct pending_write *next = list->next;
    list->done(list->arg, list->n);
    free(list);
    list = next;
  }
}

void wake_ack_waiters(struct volume *v, struct peer *p, uint64_t acked) { finish_writes(wake_ack_waiters_deferred(v, p, acked)); }

/* Waits until the target is done (v->lock held), on this thread's own condition variable. */
static void wait_target(struct volume *v, struct target *t) {
  struct ack_waiter w = {.p = t->p, .seq = t->seq};
  pthread_cond_init(&w.cond, NULL);
  w.next = v->ack_waiters;
  v->ack_waiters = &w;
  while (!target_done(t) && !v->fenced && !t->p->stop) pthread_cond_wait(&w.cond, &v->lock);
  struct ack_waiter **pp = &v->ack_waiters;
  while (*pp != &w) pp = &(*pp)->next;
  *pp = w.next;
  pthread_cond_destroy(&w.cond);
}

void peer_recompute_suspended(struct volume *v) {
  bool s = false;
  if (v->role == ROLE_PRIMARY)
    for (int i = 0; i < v->npeers; i++) s |= v->peers[i]->state == PS_DISCONNECTED || v->peers[i]->state == PS_CONNECTING;
  if (s != v->suspended) LOGW("volume %s: I/O %s", v->name, s ? "suspended: a peer is not connected; the node agent must outdate it (outdate-peer) to resume degraded" : "resumed");
  v->suspended = s;
  pthread_cond_broadcast(&v->cond);
  wake_ack_waiters(v, NULL, 0);
}

#define SEND_BATCH 64 /* frames per writev */

/* Sends every frame queued for p's main connection, in queue order, several per writev (send_lock held). A
 * frame of a connection that is gone fails with -ENOTCONN; a failed writev fails its frames and shuts the
 * connection down (its receiver sees it and ends the connection). */
static void flush_sendq(struct peer *p) {
  for (;;) {
    pthread_mutex_lock(&p->q_lock);
    struct sendq *list = p->q_head;
    p->q_head = NULL;
    p->q_tail = &p->q_head;
    pthread_mutex_unlock(&p->q_lock);
    if (!list) return;
    while (list) {
      struct frame_hdr h[SEND_BATCH];
      struct iovec iov[2 * SEND_BATCH];
      struct sendq *batch[SEND_BATCH];
      int n = 0, niov = 0;
      for (; list && n < SEND_BATCH; list = list->next) {
        struct sendq *e = list;
        if (p->fd < 0 || p->gen != e->gen) {
          e->rc = -ENOTCONN;
          e->done = true; /* its owner waits for send_lock: e stays valid until we unlock */
          continue;
        }
        e->seq = ++p->next_seq;
        bool crc = p->v->dp->wire_crc || (e->type != F_WRITE && e->type != F_RESYNC_DATA);
        frame_hdr_make(&h[n], e->type, 0, e->seq, e->offset, p->v->epoch, e->payload, e->len, crc);
        iov[niov++] = (struct iovec){.iov_base = &h[n], .iov_len = sizeof h[n]};
        if (e->len) iov[niov++] = (struct iovec){.iov_base = (void *)e->payload, .iov_len = e->len};
        batch[n++] = e;
      }
      int rc = n ? writev_full(p->fd, iov, niov) : 0;
      if (rc) shutdown(p->fd, SHUT_RDWR);
      for (int i = 0; i < n; i++) {
        batch[i]->rc = rc;
        batch[i]->done = true;
      }
    }
  }
}

/* One frame on p's main connection if it is still generation gen; stores its seq. The frame is queued,
 * then whoever holds send_lock next sends every queued frame with one writev: concurrent FUSE workers' small
 * writes leave together (one TCP segment, one wake-up of the replica's receiver) instead of each waiting for
 * the lock to make its own system call (measured: the socket writes were as much CPU as the local writes).
 * The frame has been sent (or failed) when this returns. 0 or -errno. */
int peer_send(struct peer *p, uint64_t gen, uint16_t type, uint64_t offset, const void *payload, uint32_t len, uint64_t *seq) {
  struct sendq e = {.type = type, .gen = gen, .offset = offset, .payload = payload, .len = len};
  pthread_mutex_lock(&p->q_lock);
  *p->q_tail = &e;
  p->q_tail = &e.next;
  pthread_mutex_unlock(&p->q_lock);
  pthread_mutex_lock(&p->send_lock);
  if (!e.done) flush_sendq(p);
  pthread_mutex_unlock(&p->send_lock);
  if (e.rc == 0 && seq) *seq = e.seq;
  return e.rc;
}

/* A WRITE frame on the main connection (lane 0) or a write lane, if that connection is still generation gen:
 * its payload from memory, or teed from the write's pipe (the pages are shared, not copied). */
int peer_send_write(struct peer *p, uint64_t gen, int lane, uint64_t offset, const struct wbuf *b, uint32_t len, uint64_t *seq) {
  if (!lane && b->mem) return peer_send(p, gen, F_WRITE, offset, b->mem, len, seq);
  struct lane *l = lane ? &p->lanes[lane - 1] : NULL;
  pthread_mutex_t *lock = l ? &l->send_lock : &p->send_lock;
  int *fd = l ? &l->fd : &p->fd;
  pthread_mutex_lock(lock);
  if (!l) flush_sendq(p); /* frames queued before this one take their sequence numbers first (peer_send) */
  int rc = -ENOTCONN;
  if (*fd >= 0 && (l ? l->gen : p->gen) == gen) {
    uint64_t s = l ? ++l->next_seq : ++p->next_seq;
    if (b->mem) rc = frame_send(*fd, F_WRITE, 0, s, offset, p->v->epoch, b->mem, len, p->v->dp->wire_crc);
    else rc = frame_send_pipe(*fd, F_WRITE, s, offset, p->v->epoch, b->pipe, b->tee_r, b->tee_w, len);
    if (rc == 0 && seq) *seq = s;
    if (rc) shutdown(*fd, SHUT_RDWR); /* its receiver sees it and ends the connection */
  }
  pthread_mutex_unlock(lock);
  return rc;
}

bool peer_wait_ack(struct peer *p, uint64_t gen, uint64_t seq) {
  struct volume *v = p->v;
  struct ack_waiter w = {.p = p, .seq = seq};
  pthread_cond_init(&w.cond, NULL);
  w.next = v->ack_waiters;
  v->ack_waiters = &w;
  while (p->gen == gen && p->connected && p->acked_seq < seq && !p->stop && !v->fenced) pthread_cond_wait(&w.cond, &v->lock);
  struct ack_waiter **pp = &v->ack_waiters;
  while (*pp != &w) pp = &(*pp)->next;
  *pp = w.next;
  pthread_cond_destroy(&w.cond);
  return p->gen == gen && p->connected && p->acked_seq >= seq;
}

void peer_sleep(struct peer *p, unsigned ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  if (!p->stop) pthread_cond_timedwait(&p->v->cond, &p->v->lock, &ts);
}

/* ---- configuration ---- */

static void peer_free(struct peer *p) {
  bitmap_close(p->dirty);
  free(p->ahead);
  pthread_mutex_destroy(&p->send_lock);
  pthread_mutex_destroy(&p->q_lock);
  for (int i = 0; i < DP_LANES - 1; i++) pthread_mutex_destroy(&p->lanes[i].send_lock);
  free(p);
}

static struct peer *peer_new(struct volume *v, const char *node, const char *address, struct hw_err *err) {
  struct peer *p = calloc(1, sizeof *p);
  if (!p) abort();
  p->v = v;
  p->fd = -1;
  p->state = PS_CONNECTING;
  p->ahead = calloc(v->nregions / 64 + 1, 8);
  if (!p->ahead) abort();
  snprintf(p->node, sizeof p->node, "%s", node);
  snprintf(p->address, sizeof p->address, "%s", address);
  pthread_mutex_init(&p->send_lock, NULL);
  pthread_mutex_init(&p->q_lock, NULL);
  p->q_tail = &p->q_head;
  for (int i = 0; i < DP_LANES - 1; i++) {
    p->lanes[i].fd = -1;
    p->lanes[i].peer = p;
    pthread_mutex_init(&p->lanes[i].send_lock, NULL);
  }
  char path[PATH_MAX + DP_NAME_MAX + 16];
  snprintf(path, sizeof path, "%s/bitmap.%s", v->dir, node);
  bool fresh = access(path, F_OK) != 0;
  p->dirty = bitmap_open(path, v->name, node, v->nregions, v->region_bytes, true, err);
  if (!p->dirty) {
    peer_free(p);
    return NULL;
  }
  if (fresh && bitmap_count(v->written)) {
    /* A new replica of a volume that holds data: everything ever written must reach it (sparse-aware). */
    uint64_t n = bitmap_nbits(v->written);
    uint64_t *words = calloc((n + 63) / 64 + 1, 8);
    if (!words) abort();
    bitmap_copy_words(v->written, words, (n + 63) / 64);
    bitmap_or_words(p->dirty, words, (n + 63) / 64);
    free(words);
    bitmap_sync(p->dirty);
  }
  return p;
}

static void peer_start(struct peer *p) {
  if (p->thread_running) return;
  p->stop = false;
  if (pthread_create(&p->thread, NULL, peer_thread, p)) abort();
  p->thread_running = true;
}

/* Stops the connection thread; v->lock NOT held. */
static void peer_halt(struct peer *p) {
  struct volume *v = p->v;
  pthread_mutex_lock(&v->lock);
  p->stop = true;
  pthread_cond_broadcast(&v->cond);
  wake_ack_waiters(v, NULL, 0);
  pthread_mutex_unlock(&v->lock);
  pthread_mutex_lock(&p->send_lock);
  if (p->fd >= 0) shutdown(p->fd, SHUT_RDWR);
  pthread_mutex_unlock(&p->send_lock);
  if (p->thread_running) pthread_join(p->thread, NULL);
  p->thread_running = false;
}


/* A secondary promoted (a failover): the regions its old primary wrote here lately may be missing on the other
 * replicas (a write sent to some of them only, never acked). Dirty for every peer, persisted before any
 * connection, so each is resynced from here. */
static void mark_failover_suspects(struct volume *v) {
  uint64_t nwords = (v->nregions + 63) / 64;
  uint64_t *words = calloc(nwords + 1, 8);
  if (!words) abort();
  pthread_mutex_lock(&v->lock);
  volume_failover_suspects(v, words);
  v->rx_from[0] = '\0';
  pthread_mutex_unlock(&v->lock);
  uint64_t n = 0;
  for (uint64_t k = 0; k < nwords; k++) n += (uint64_t)__builtin_popcountll(words[k]);
  if (n) {
    pthread_mutex_lock(&v->lock);
    for (int i = 0; i < v->npeers; i++) peer_mark_suspect(v->peers[i], words, nwords);
    pthread_mutex_unlock(&v->lock);
    for (int i = 0; i < v->npeers; i++) bitmap_sync(v->peers[i]->dirty);
    LOGI("volume %s: promoted; %llu region(s) the old primary wrote here lately are resynced to every peer", v->name, (unsigned long long)n);
  }
  free(words);
}

static bool valid_address(const char *a) {
  const char *colon = a ? strrchr(a, ':') : NULL;
  if (!colon || colon == a || strlen(a) >= 128) return false;
  int port = atoi(colon + 1);
  return port > 0 && port < 65536;
}

int peer_configure(struct volume *v, const struct json *peers, struct hw_err *err) {
  const char *names[DP_MAX_PEERS + 1];
  const char *addrs[DP_MAX_PEERS + 1];
  int n = 0;
  for (const struct json *e = peers ? peers->child : NULL; e; e = e->next) {
    const char *node = json_get_str(e, "node"), *addr = json_get_str(e, "address");
    if (n == DP_MAX_PEERS) {
      hw_err_set(err, "INVALID_ARGUMENT", "Invalid", "volume %s: at most %d peers (3 replicas)", v->name, DP_MAX_PEERS);
      return -1;
    }
    if (!valid_name(node) || !valid_address(addr) || !strcmp(node, v->dp->node)) {
      hw_err_set(err, "INVALID_ARGUMENT", "Invalid", "volume %s: peer %d needs node (a name other than this node's) and address (IP:PORT)", v->name, n);
      return -1;
    }
    names[n] = node;
    addrs[n++] = addr;
  }
  /* Remove peers that left; keep the rest (their bitmaps and connections). */
  for (int i = 0; i < v->npeers;) {
    struct peer *p = v->peers[i];
    int keep = -1;
    for (int j = 0; j < n; j++)
      if (!strcmp(names[j], p->node)) keep = j;
    if (keep >= 0 && strcmp(addrs[keep], p->address)) {
      /* Moved (its data plane restarted on another IP or port): the same peer object, so its state, bitmap and
       * the writes waiting for it stay; its connection ends and the thread reconnects to the new address. Why
       * not a new peer: halting this one would release the writes it has not acked (no consent), and a peer that
       * was outdated would become Connecting and suspend I/O again. */
      pthread_mutex_lock(&v->lock);
      LOGI("volume %s: peer %s moved from %s to %s", v->name, p->node, p->address, addrs[keep]);
      snprintf(p->address, sizeof p->address, "%s", addrs[keep]);
      pthread_cond_broadcast(&v->cond); /* a thread sleeping after a failed connect tries the new address now */
      pthread_mutex_unlock(&v->lock);
      pthread_mutex_lock(&p->send_lock);
      if (p->fd >= 0) shutdown(p->fd, SHUT_RDWR);
      pthread_mutex_unlock(&p->send_lock);
    }
    if (keep >= 0 && (v->role == ROLE_PRIMARY || !p->thread_running)) {
      i++;
      continue;
    }
    peer_halt(p);
    if (keep >= 0) { /* a secondary now: no connection of ours, the bitmap stays */
      pthread_mutex_lock(&v->lock);
      p->state = PS_CONNECTING;
      pthread_mutex_unlock(&v->lock);
      i++;
      continue;
    }
    pthread_mutex_lock(&v->lock);
    v->peers[i] = v->peers[--v->npeers];
    peer_recompute_suspended(v);
    pthread_mutex_unlock(&v->lock);
    bitmap_unlink(p->dirty);
    LOGI("volume %s: peer %s removed", v->name, p->node);
    peer_free(p);
  }
  for (int j = 0; j < n; j++) {
    bool have = false;
    for (int i = 0; i < v->npeers; i++) have |= !strcmp(v->peers[i]->node, names[j]);
    if (have) continue;
    struct peer *p = peer_new(v, names[j], addrs[j], err);
    if (!p) return -1;
    pthread_mutex_lock(&v->lock);
    v->peers[v->npeers++] = p;
    peer_recompute_suspended(v);
    pthread_mutex_unlock(&v->lock);
    LOGI("volume %s: peer %s at %s", v->name, p->node, p->address);
  }
  if (v->role == ROLE_PRIMARY) {
    mark_failover_suspects(v);
    for (int i = 0; i < v->npeers; i++) peer_start(v->peers[i]);
  }
  pthread_mutex_lock(&v->lock);
  peer_recompute_suspended(v);
  pthread_mutex_unlock(&v->lock);
  return 0;
}

void peer_stop_all(struct volume *v) {
  for (int i = 0; i < v->npeers; i++) peer_halt(v->peers[i]);
  pthread_mutex_lock(&v->lock);
  if (v->replica_fd >= 0) shutdown(v->replica_fd, SHUT_RDWR);
  for (int i = 0; i < DP_LANES - 1; i++)
    if (v->lane_fds[i] >= 0) shutdown(v->lane_fds[i], SHUT_RDWR);
  pthread_mutex_unlock(&v->lock);
}

int peer_grow_bitmaps(struct volume *v, uint64_t nregions, struct hw_err *err) {
  for (int i = 0; i < v->npeers; i++) {
    struct peer *p = v->peers[i];
    if (bitmap_grow(p->dirty, nregions, err)) return -1;
    uint64_t *ahead = calloc(nregions / 64 + 1, 8);
    if (!ahead) abort();
    memcpy(ahead, p->ahead, (v->nregions / 64 + 1) * 8);
    free(p->ahead);
    p->ahead = ahead;
  }
  return 0;
}

int peer_outdate(struct volume *v, const char *node, struct hw_err *err) {
  pthread_mutex_lock(&v->lock);
  struct peer *p = NULL;
  for (int i = 0; i < v->npeers; i++)
    if (!strcmp(v->peers[i]->node, node)) p = v->peers[i];
  if (!p) {
    hw_err_set(err, "NOT_FOUND", "PeerNotFound", "volume %s has no peer %s (check the configure call's peers)", v->name, node);
    pthread_mutex_unlock(&v->lock);
    return -1;
  }
  /* Consent of the control plane: the peer is recorded as not in sync, writes may go on without it (their
   * regions are marked in its bitmap). A connected peer needs no consent: nothing changes. */
  if (p->state == PS_DISCONNECTED || p->state == PS_CONNECTING) {
    p->state = PS_OUTDATED;
    LOGW("volume %s: peer %s outdated by the control plane; writes continue without it", v->name, node);
    peer_recompute_suspended(v);
  }
  pthread_mutex_unlock(&v->lock);
  dp_emit(v->dp, "peer-outdated", v->name);
  return 0;
}

void peer_status(struct peer *p, struct sbuf *b) {
  sb_append(b, "{", 1);
  jw_str(b, "node", p->node);
  jw_str(b, "address", p->address);
  jw_str(b, "state", peer_state_name(p->state));
  jw_bool(b, "connected", p->connected);
  jw_u64(b, "lanes", (uint64_t)p->nlanes);
  jw_u64(b, "dirtyBytes", bitmap_count(p->dirty) * p->v->region_bytes);
  jw_u64(b, "bitmapSyncs", bitmap_syncs(p->dirty));
  jw_u64(b, "resyncDoneBytes", p->resync_done_bytes);
  jw_u64(b, "resyncTotalBytes", p->resync_total_bytes);
  jw_u64(b, "acksTotal", p->ack_count);
  jw_u64(b, "ackLatencyAvgUs", p->ack_count ? p->ack_ns_sum / p->ack_count / 1000 : 0);
  jw_str(b, "lastError", p->last_error);
  sb_append(b, "}", 1);
}

/* ---- the replicated write ---- */

static int persist_al(struct volume *v, bool sync_written, bool *sync_peer) {
  int rc = sync_written ? bitmap_sync(v->written) : 0;
  for (int i = 0; i < v->npeers && !rc; i++)
    if (sync_peer[i]) rc = bitmap_sync(v->peers[i]->dirty);
  return rc;
}

/* How many regions after r1 a write's activity-log entry also marks: a sequential stream (the regions right
 * before r0 were written within AL_IDLE_S) gets half its length so far, up to AL_AHEAD_MAX. Why: a stream
 * enters a region whose bit was cleared (idle) with every write, and each entry costs a bitmap page write +
 * fdatasync (~20 ms on this loaded disk) before the data may go anywhere; marked ahead, one entry covers the
 * next writes. The overshoot is bounded by the stream's own length, so a short write (dd of a few MiB) marks
 * few extra regions; unused bits are cleared after AL_IDLE_S like any other. v->lock held. */
static uint64_t al_ahead(struct volume *v, uint64_t r0, uint32_t now) {
  uint64_t run = 0;
  while (run < 2 * AL_AHEAD_MAX && r0 > run && now - v->touched_s[r0 - run - 1] < AL_IDLE_S) run++;
  return run / 2;
}

/* Sets p's dirty bits of regions first..last ahead of a write, remembering (in memory) which of them only this
 * look-ahead set: nothing was written there since, so they are in sync with the peer and a resync skips them
 * (peer_skip_unwritten_ahead). A region already dirty keeps what it was. v->lock held; true if a bit changed. */
static bool mark_ahead(struct peer *p, uint64_t first, uint64_t last) {
  struct volume *v = p->v;
  if (last >= v->nregions) last = v->nregions - 1;
  for (uint64_t r = first; r <= last; r++)
    if (!bitmap_test(p->dirty, r)) p->ahead[r / 64] |= 1ull << (r % 64);
  return first <= last && bitmap_set_range(p->dirty, first, last);
}

/* A write to regions r0..r1 makes them really dirty, for every peer. v->lock held. */
static void written_not_ahead(struct volume *v, uint64_t r0, uint64_t r1) {
  for (int i = 0; i < v->npeers; i++)
    for (uint64_t r = r0; r <= r1 && r < v->nregions; r++) v->peers[i]->ahead[r / 64] &= ~(1ull << (r % 64));
}

void peer_mark_suspect(struct peer *p, const uint64_t *words, uint64_t nwords) {
  /* A region a look-ahead marked is skipped by the next resync (peer_skip_unwritten_ahead): one that is also
   * suspect must not be, or a peer's own writes there (an old primary's, reported in its HELLO bitmap) would
   * never be copied back and the replicas would differ. */
  for (uint64_t k = 0; k < nwords && k < p->v->nregions / 64 + 1; k++) p->ahead[k] &= ~words[k];
  bitmap_or_words(p->dirty, words, nwords);
}

uint64_t peer_skip_unwritten_ahead(struct peer *p) {
  struct volume *v = p->v;
  uint64_t n = 0;
  for (uint64_t r = bitmap_next_set(p->dirty, 0); r != UINT64_MAX; r = bitmap_next_set(p->dirty, r + 1))
    if (p->ahead[r / 64] & (1ull << (r % 64))) {
      bitmap_clear(p->dirty, r);
      n++;
    }
  memset(p->ahead, 0, (v->nregions / 64 + 1) * 8);
  return n;
}

/* Keeps a sequential stream's marked-ahead window from running out: when the next quarter of the regions it
 * would mark after r1 are not all marked for a peer, marks the window and syncs it (so a window is refilled once
 * per three quarters of it, not per region as the stream grows). Called after the write was parked
 * (it waits for acks meanwhile), so the sync delays this thread, not the write; the writes that follow find
 * their bits on disk and skip the activity log. */
static void al_refill(struct volume *v, uint64_t r0, uint64_t r1) {
  bool sync_peer[DP_MAX_PEERS] = {false}, any = false;
  pthread_mutex_lock(&v->lock);
  uint32_t now = mono_s();
  uint64_t ahead = al_ahead(v, r0, now);
  for (int i = 0; i < v->npeers && ahead >= 4; i++)
    if (!bitmap_all_set(v->peers[i]->dirty, r1 + 1, r1 + ahead / 4)) any |= sync_peer[i] = mark_ahead(v->peers[i], r1 + 1, r1 + ahead);
  for (uint64_t r = r1 + 1; any && r <= r1 + ahead && r < v->nregions; r++) v->touched_s[r] = now;
  pthread_mutex_unlock(&v->lock);
  if (any) persist_al(v, false, sync_peer); /* a failure: the writes that rely on these bits sync them again */
}

ssize_t peer_replicated_write(struct volume *v, const struct wbuf *b, size_t len, uint64_t off, write_done_fn done, void *arg) {
  uint64_t r0 = off / v->region_bytes, r1 = (off + len - 1) / v->region_bytes;
  struct pending_write w = {.v = v, .off = off, .len = len, .done = done, .arg = arg};
  bool sync_peer[DP_MAX_PEERS] = {false};
  uint64_t t_in = now_ns();
  pthread_mutex_lock(&v->lock);
  while (v->role == ROLE_PRIMARY && !v->fenced && (v->suspended || range_busy(v, off, off + len) || v->nranges == v->maxranges)) range_wait(v);
  if (v->role != ROLE_PRIMARY || v->fenced) {
    pthread_mutex_unlock(&v->lock);
    return -EIO;
  }
  range_acquire(v, off, off + len, NULL, NULL);
  /* Activity log: the bit of every touched region is set (and on disk, below) for every peer before the data
   * reaches any disk, so after a crash of this node the regions that can differ are known. */
  /* `written` is exact (sparse-aware initial sync): never marked ahead. */
  bool sync_written = bitmap_set_range(v->written, r0, r1), sync_any = sync_written;
  written_not_ahead(v, r0, r1);
  uint32_t now = mono_s();
  uint64_t ahead = 0;
  for (int i = 0; i < v->npeers; i++) {
    struct peer *p = v->peers[i];
    sync_peer[i] = bitmap_set_range(p->dirty, r0, r1);
    if (sync_peer[i] && !ahead) ahead = al_ahead(v, r0, now);
    if (sync_peer[i] && ahead) mark_ahead(p, r1 + 1, r1 + ahead); /* covered by the same sync */
    sync_any |= sync_peer[i];
    /* Large writes take turns over the lanes; small ones stay on the main connection, where a burst of them is
     * read, submitted and acked together (spread over the lanes, 4 KiB writes cost more CPU per write). */
    if (p->connected && (p->state == PS_UPTODATE || p->state == PS_SYNCTARGET))
      w.t[w.nt++] = (struct target){p, p->gen, 0, p->nlanes && len >= LANE_MIN_BYTES ? (int)(p->next_lane++ % (unsigned)(p->nlanes + 1)) : 0};
  }
  /* Marked-ahead regions count as touched: their bits are not cleared before the stream reaches them. */
  for (uint64_t r = r0; r <= r1 + ahead && r < v->nregions; r++) v->touched_s[r] = now;
  pthread_mutex_unlock(&v->lock);

  uint64_t t_al = now_ns();
  stage_add(&v->stages[ST_WAIT], t_in, t_al);
  w.n = persist_al(v, sync_written, sync_peer);
  w.t0 = now_ns();
  if (sync_any) stage_add(&v->stages[ST_AL], t_al, w.t0);
  if (w.n == 0) {
    for (int i = 0; i < w.nt; i++) peer_send_write(w.t[i].p, w.t[i].gen, w.t[i].lane, off, b, (uint32_t)len, &w.t[i].seq);
    uint64_t t_sent = now_ns();
    if (w.nt) stage_add(&v->stages[ST_SEND], w.t0, t_sent);
    w.n = volume_local_write_buf(v, b, len, off);
    w.t_local = now_ns();
    stage_add(&v->stages[ST_LOCAL], t_sent, w.t_local);
  } else {
    w.nt = 0; /* the activity log could not be written: the data went nowhere, nothing to wait for */
    w.t_local = w.t0;
  }
  pthread_mutex_lock(&v->lock);
  if (write_released(&w)) { /* no peer, or every ack is in already */
    complete_locked(&w);
    pthread_mutex_unlock(&v->lock);
    return w.n;
  }
  /* Park it without a thread: the receiver that sees the last ack (or a state change) answers it. */
  struct pending_write *pw = malloc(sizeof *pw);
  if (!pw) abort();
  *pw = w;
  pw->next = v->pending_writes;
  v->pending_writes = pw;
  pthread_mutex_unlock(&v->lock);
  al_refill(v, r0, r1);
  return -EINPROGRESS;
}

int peer_replicated_flush(struct volume *v) {
  struct target t[DP_MAX_PEERS];
  int nt = 0;
  pthread_mutex_lock(&v->lock);
  while (v->role == ROLE_PRIMARY && !v->fenced && v->suspended) pthread_cond_wait(&v->cond, &v->lock);
  if (v->role != ROLE_PRIMARY || v->fenced) {
    pthread_mutex_unlock(&v->lock);
    return -EIO;
  }
  for (int i = 0; i < v->npeers; i++) {
    struct peer *p = v->peers[i];
    if (p->connected && (p->state == PS_UPTODATE || p->state == PS_SYNCTARGET)) t[nt++] = (struct target){p, p->gen, 0, 0};
  }
  pthread_mutex_unlock(&v->lock);
  for (int i = 0; i < nt; i++) peer_send(t[i].p, t[i].gen, F_FLUSH, 0, NULL, 0, &t[i].seq);
  int rc = fdatasync(v->fd) < 0 ? -errno : 0;
  pthread_mutex_lock(&v->lock);
  for (int i = 0; i < nt; i++) wait_target(v, &t[i]);
  bool fenced = v->fenced;
  pthread_mutex_unlock(&v->lock);
  return fenced ? -EIO : rc;
}
