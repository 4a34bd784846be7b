/* The primary's side of replication: the peers of a volume, the replicated write and flush (protocol C),
 * suspend-on-disconnect and the per-peer dirty bitmaps (activity log). */
#ifndef HW_PEER_H
#define HW_PEER_H
#include "common.h"
#include "json.h"

struct volume;
struct peer;
struct wbuf;

/* Applies the peer list of `configure` ([{node, address}]): starts new peers, stops removed ones. */
int peer_configure(struct volume *v, const struct json *peers, struct hw_err *err);
void peer_stop_all(struct volume *v);
int peer_grow_bitmaps(struct volume *v, uint64_t nregions, struct hw_err *err);
int peer_outdate(struct volume *v, const char *node, struct hw_err *err);
/* Appends a peer's status object; the caller holds v->lock. */
void peer_status(struct peer *p, struct sbuf *b);
/* Writes locally and sends to every UpToDate peer (b is consumed on return). Returns the result (bytes or
 * -errno) when it is known at once, else -EINPROGRESS and done(arg, result) is called once every peer acked,
 * from the thread that saw the last ack (see volume_write). */
ssize_t peer_replicated_write(struct volume *v, const struct wbuf *b, size_t len, uint64_t off, write_done_fn done, void *arg);
/* fdatasync locally and on every UpToDate peer. */
int peer_replicated_flush(struct volume *v);
#endif
