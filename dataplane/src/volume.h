/* A replicated volume on this node: its persistent metadata (<state-dir>/<volume>/meta), the backing device
 * opened O_DIRECT, its role and epoch, its peers and the I/O entry points the frontend calls. */
#ifndef HW_VOLUME_H
#define HW_VOLUME_H
#include <stdatomic.h>

#include "common.h"
#include "json.h"

enum role { ROLE_NONE, ROLE_PRIMARY, ROLE_SECONDARY };
enum local_state { LS_UPTODATE, LS_INCONSISTENT, LS_OUTDATED };

struct peer;
struct bitmap;
struct pending_write;

/* A write's data: `mem`, or (mem NULL) the next bytes of the pipe `pipe`, spliced there from /dev/fuse. Pipe
 * data goes to each peer's socket (tee into `tee_w`, then splice from `tee_r`) and to the backing device
 * (splice) as the kernel's pages: no copy into or out of this process, and the local write does not pin user
 * pages. Whatever a failed write leaves in the pipes, the frontend drains. */
struct wbuf {
  const void *mem;
  int pipe, tee_r, tee_w;
};

/* Where a replicated write's time goes, summed per stage (status "stages", docs/dataplane.md "Performance").
 * Primary: waiting for an overlapping write or a suspend, the activity log on disk, the sends to peers, the
 * local write, and from the local write's end until the last ack. Secondary: a data frame's payload arriving
 * (first byte buffered to last), its local write (submitted to completed), completed to acked (earlier
 * frames still writing), the connection's loop asleep with nothing to do, and a small write written and acked by
 * the receiver itself (replica.c write_inline: from its frame's arrival to its ACK sent). */
enum stage { ST_WAIT, ST_AL, ST_SEND, ST_LOCAL, ST_ACK, ST_RX, ST_DISK, ST_INORDER, ST_IDLE, ST_INLINE, ST_COUNT };
struct stage_timer {
  _Atomic uint64_t ns, count;
};
static inline void stage_add(struct stage_timer *t, uint64_t t0, uint64_t t1) {
  atomic_fetch_add_explicit(&t->ns, t1 - t0, memory_order_relaxed);
  atomic_fetch_add_explicit(&t->count, 1, memory_order_relaxed);
}

struct volume {
  struct dataplane *dp;
  char name[DP_NAME_MAX];
  char dir[PATH_MAX + DP_NAME_MAX + 2];
  char backing[PATH_MAX];
  char uuid[40];
  uint64_t size_bytes;
  uint64_t region_bytes;
  int fd;          /* backing, O_DIRECT: the data path */
  int fd_buffered; /* backing without O_DIRECT, for requests not aligned to 512 bytes (rare: tools, not loop) */

  pthread_mutex_t lock; /* guards everything below and the peers' states */
  pthread_cond_t cond;  /* broadcast on ack progress, peer state changes, suspend/resume */
  uint64_t epoch;       /* highest epoch seen, persisted in meta */
  enum role role;
  enum local_state local_state;
  bool fenced;    /* a peer answered StaleEpoch: writes fail with EIO until reconfigured with a newer epoch */
  bool suspended; /* an UpToDate peer is gone and the control plane has not consented (outdate-peer) yet */
  bool exposed;
  bool configured; /* configure succeeded in this process: peers and their bitmaps are loaded */
  int open_count;
  uint64_t ino;
  int refs;       /* registry reference + one per user (FUSE request, control op) */
  bool removed;
  struct peer *peers[DP_MAX_PEERS];
  int npeers;
  uint64_t next_seq; /* replication sequence numbers of this primary's writes and flushes */
  struct bitmap *written; /* regions ever written: sparse-aware initial sync */
  uint64_t nregions;

  /* Byte ranges of writes, resync and verify in flight: an overlapping one waits, so the replicas apply
   * overlapping writes in the same order and a resync never reads a region a write is changing. */
  struct io_range {
    uint64_t start, end;
  } *ranges;
  int nranges, maxranges;
  int range_waiters;     /* threads waiting on v->cond for a range (range_wait): only then does a release wake v->cond */
  uint32_t *touched_s;   /* per region: monotonic second of the last write (activity log clearing), or of the
                          * last WRITE received from a primary (a secondary: failover suspects) */
  char rx_from[DP_NAME_MAX]; /* a secondary: the primary whose WRITEs it received last (in memory only) */
  uint32_t rx_last_s;        /* when the last of them arrived */
  char sync_source[40];  /* a sync target: the uuid of the primary it is syncing from (persisted) */
  int replica_fd;        /* a secondary: the connection from its primary (-1 without), shut down on a newer one */
  uint64_t replica_session;          /* a secondary: the token of that connection; its write lanes present it */
  int lane_fds[DP_LANES - 1];        /* a secondary: that connection's write lanes (-1 without) */
  pthread_mutex_t verify_lock;
  struct ack_waiter *ack_waiters; /* flushes, resync and verify waiting for peers' acks, each woken alone */
  struct pending_write *pending_writes; /* writes done locally and sent, waiting for peers' acks (peer.c) */

  struct stage_timer stages[ST_COUNT];
  _Atomic uint64_t writes_total, bytes_written, reads_total, bytes_read, flushes_total, bytes_replicated, bytes_resynced;
  struct volume *next;
};

struct volume *volume_get(struct dataplane *dp, const char *name);   /* +1 ref or NULL */
struct volume *volume_get_ino(struct dataplane *dp, uint64_t ino);   /* +1 ref or NULL (exposed only) */
void volume_put(struct volume *v);
/* Reopens every volume found in the state dir (after a restart); a corrupt one is logged and skipped. */
void volume_load_all(struct dataplane *dp);
void volume_close_all(struct dataplane *dp);

/* Control ops; each returns 0 or -1 with err set. */
int volume_ensure(struct dataplane *dp, const char *name, uint64_t size, const char *backing, uint64_t region, struct hw_err *err);
int volume_configure(struct volume *v, uint64_t epoch, enum role role, const struct json *peers, struct hw_err *err);
int volume_expose(struct volume *v, struct hw_err *err);
int volume_unexpose(struct volume *v, struct hw_err *err);
int volume_remove(struct dataplane *dp, const char *name, struct hw_err *err);
int volume_resize(struct volume *v, uint64_t size, struct hw_err *err);
int volume_outdate_peer(struct volume *v, const char *peer, struct hw_err *err);
/* Appends the volume's status object. */
void volume_status(struct volume *v, struct sbuf *out);
/* Persists meta (epoch, role, size); caller holds v->lock or owns v exclusively. 0 or -errno. */
int volume_save_meta(struct volume *v);
/* Reads and checks <dir>/meta into v (volume_load_all); -1 with CorruptMetadata when missing, torn or failing
 * its checksum. */
int volume_load_meta(struct volume *v, struct hw_err *err);
/* Raises the stored epoch (persisting it); used when a peer announces a newer one. */
int volume_raise_epoch(struct volume *v, uint64_t epoch);

/* The I/O path (frontend → here). Return bytes or -errno. */
ssize_t volume_read(struct volume *v, void *buf, size_t len, uint64_t off);
/* A write is answered once it is on the local disk and every UpToDate peer acked it (protocol C). The frontend's
 * thread does not wait for the acks: it returns -EINPROGRESS and done(arg, result) answers later, so a thread
 * is not parked (and woken: a context switch) per write in flight. buf is consumed when this returns. */
ssize_t volume_write(struct volume *v, const struct wbuf *b, size_t len, uint64_t off, write_done_fn done, void *arg);
int volume_flush(struct volume *v);
/* Local backing I/O, used by the primary path, the replica side and resync. */
ssize_t volume_local_write(struct volume *v, const void *buf, size_t len, uint64_t off);
ssize_t volume_local_read(struct volume *v, void *buf, size_t len, uint64_t off);
/* The local write of a wbuf: pwrite of its memory, or splice of its pipe. */
ssize_t volume_local_write_buf(struct volume *v, const struct wbuf *b, size_t len, uint64_t off);

/* Waits until [start,end) overlaps no range in flight, then adds it; caller holds v->lock. Returns false when
 * `abort_check` became true while waiting. */
bool range_acquire(struct volume *v, uint64_t start, uint64_t end, bool (*abort_check)(void *), void *arg);
void range_release(struct volume *v, uint64_t start, uint64_t end);
bool range_busy(struct volume *v, uint64_t start, uint64_t end);
/* Waits on v->cond (v->lock held) counted as a range waiter, so that range_release wakes it. */
void range_wait(struct volume *v);
uint32_t mono_s(void);
/* Seconds before a primary's last WRITE in which the writes it sent are suspect after it died: the activity log's
 * idle time plus the TCP user timeout (a replica slower than that was disconnected, so outdated, not promoted). */
#define RX_SUSPECT_S 12
/* ORs into words the regions of WRITEs received from v->rx_from within RX_SUSPECT_S of its last one (v->lock held). */
void volume_failover_suspects(struct volume *v, uint64_t *words);

const char *role_name(enum role r);
const char *local_state_name(enum local_state s);
/* A thread's 1 MiB buffer aligned for O_DIRECT (allocated on first use, freed at thread exit). */
void *thread_io_buffer(void);
#endif
