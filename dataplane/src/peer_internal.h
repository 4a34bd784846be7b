/* struct peer, shared by peer.c (configuration, the replicated write), resync.c (the connection: handshake,
 * resync, activity-log clearing) and verify.c. Fields marked (v) are guarded by the volume's lock, (s) by
 * send_lock; fd and gen change only with both held (send_lock first). */
#ifndef HW_PEER_INTERNAL_H
#define HW_PEER_INTERNAL_H
#include "bitmap.h"
#include "peer.h"
#include "volume.h"

#define AL_IDLE_S 2      /* a region idle this long loses its activity-log bit (after a peer flush, resync.c) */
#define LANE_MIN_BYTES (128u << 10) /* writes this large go over the write lanes (peer.c) */
#define AL_AHEAD_MAX 64  /* regions a sequential stream's activity-log write marks beyond the write (peer.c) */

enum peer_state { PS_CONNECTING, PS_SYNCSOURCE, PS_SYNCTARGET, PS_UPTODATE, PS_DISCONNECTED, PS_OUTDATED, PS_STALEEPOCH };

/* A write lane: an extra connection to the peer that carries only WRITE frames, with its own sequence numbers
 * and cumulative ACKs. Overlapping writes are never in flight together (the volume's ranges), so writes on
 * different lanes need no order between them; a FLUSH on the main connection covers every write acked before
 * it was sent (the replica acked those after their writes completed). A lane failing ends the connection. */
struct lane {
  struct peer *peer;
  int fd;              /* (l) */
  uint64_t gen;        /* (l) the peer's connection generation it belongs to */
  pthread_mutex_t send_lock; /* (l) */
  uint64_t next_seq;   /* (l) */
  uint64_t acked_seq;  /* (v) cumulative */
  pthread_t rx;
  bool rx_running;
};

/* A frame waiting to be sent on a peer's main connection, on its sender's stack (peer_send). */
struct sendq {
  uint16_t type;
  uint64_t gen, offset, seq;
  const void *payload;
  uint32_t len;
  int rc;
  bool done;
  struct sendq *next;
};

struct peer {
  struct volume *v;
  char node[DP_NAME_MAX];
  char address[128];
  struct bitmap *dirty; /* regions where this peer may differ from us */
  uint64_t *ahead;      /* (v) in memory: regions whose dirty bit only a look-ahead set and nothing wrote since */
  enum peer_state state; /* (v) */
  bool connected;        /* (v) handshake done and the receiver runs */
  bool stop;             /* (v) */
  uint64_t gen;          /* (v)(s) +1 per connection */
  int fd;                /* (s) */
  pthread_mutex_t send_lock;
  uint64_t next_seq;  /* (s) */
  pthread_mutex_t q_lock; /* guards q_head/q_tail: frames queued for the main connection (peer_send) */
  struct sendq *q_head, **q_tail;
  uint64_t acked_seq; /* (v) cumulative */
  int nlanes;         /* (v) write lanes of the current connection (0 with a protocol 1.0 peer) */
  struct lane lanes[DP_LANES - 1];
  unsigned next_lane; /* (v) round robin over the main connection and the lanes */
  pthread_t thread;
  bool thread_running;
  uint64_t resync_done_bytes, resync_total_bytes; /* (v) */
  uint64_t ack_ns_sum, ack_count;                 /* (v) */
  uint64_t checksum_seq;                          /* (v) the CHECKSUM reply last received */
  uint32_t checksum_value;                        /* (v) */
  char last_error[256];                           /* (v) */
};

/* A write or flush waiting for a peer's ack; on the waiting thread's stack, listed in v->ack_waiters. */
struct ack_waiter {
  pthread_cond_t cond;
  struct peer *p;
  uint64_t seq;
  struct ack_waiter *next;
};

/* Wakes the waiters of peer p with seq <= acked, or every waiter when p is NULL (a state change), and answers
 * every replicated write that no longer waits for anything. v->lock held. */
void wake_ack_waiters(struct volume *v, struct peer *p, uint64_t acked);
/* The same, but returns the writes done instead of answering them, so that the caller answers after unlocking
 * (the receiver's hot path); finish_writes answers them. */
struct pending_write *wake_ack_waiters_deferred(struct volume *v, struct peer *p, uint64_t acked);
void finish_writes(struct pending_write *list);

const char *peer_state_name(enum peer_state s);
/* Recomputes v->suspended from the peers' states and wakes waiters; caller holds v->lock. */
void peer_recompute_suspended(struct volume *v);
/* Clears p's dirty bits that only a look-ahead set (nothing written there since); returns how many. v->lock held. */
uint64_t peer_skip_unwritten_ahead(struct peer *p);
/* Sets p's dirty bits of regions that must be copied whatever marked them before (a peer's own writes, failover
 * suspects, everything written), and forgets that a look-ahead set them. v->lock held. */
void peer_mark_suspect(struct peer *p, const uint64_t *words, uint64_t nwords);
/* Sends one frame on the peer's current connection if it is still generation gen; stores its seq. 0 or -errno.
 * Concurrent callers' frames leave together, several per writev (peer.c). */
int peer_send(struct peer *p, uint64_t gen, uint16_t type, uint64_t offset, const void *payload, uint32_t len, uint64_t *seq);
/* A WRITE frame on a write lane (lane 0: the main connection), its payload from memory or the write's pipe. */
int peer_send_write(struct peer *p, uint64_t gen, int lane, uint64_t offset, const struct wbuf *b, uint32_t len, uint64_t *seq);
/* Waits (v->lock held) until the peer acked seq on connection gen; false when that connection ended. */
bool peer_wait_ack(struct peer *p, uint64_t gen, uint64_t seq);
/* The connection thread (resync.c). */
void *peer_thread(void *arg);
/* Sleeps up to ms on v->cond (v->lock held); returns early when the peer is told to stop. */
void peer_sleep(struct peer *p, unsigned ms);
#endif
