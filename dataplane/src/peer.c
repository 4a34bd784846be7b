/* Stage 1: a primary without peers. Replication (stage 2) replaces this file's bodies. */
#include "peer.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "bitmap.h"
#include "volume.h"

int peer_configure(struct volume *v, const struct json *peers, struct hw_err *err) {
  if (peers && peers->type == JSON_ARRAY && peers->child) {
    hw_err_set(err, "UNIMPLEMENTED", "NotImplemented", "volume %s: peers are not supported by this build yet (configure it without peers)", v->name);
    return -1;
  }
  return 0;
}

void peer_stop_all(struct volume *v) { (void)v; }

int peer_grow_bitmaps(struct volume *v, uint64_t nregions, struct hw_err *err) {
  (void)v;
  (void)nregions;
  (void)err;
  return 0;
}

int peer_outdate(struct volume *v, const char *node, struct hw_err *err) {
  hw_err_set(err, "NOT_FOUND", "PeerNotFound", "volume %s has no peer %s (check the configure call's peers)", v->name, node);
  return -1;
}

void peer_status(struct peer *p, struct sbuf *b) {
  (void)p;
  sb_append(b, "{}", 2);
}

static int mark_written(struct volume *v, uint64_t off, size_t len) {
  uint64_t first = off / v->region_bytes, last = (off + len - 1) / v->region_bytes;
  if (bitmap_set_range(v->written, first, last)) return bitmap_sync(v->written);
  return 0;
}

ssize_t peer_replicated_write(struct volume *v, const void *buf, size_t len, uint64_t off) {
  if (v->role != ROLE_PRIMARY || v->fenced) return -EIO;
  int rc = mark_written(v, off, len);
  if (rc) return rc;
  ssize_t n = volume_local_write(v, buf, len, off);
  if (n > 0) {
    atomic_fetch_add(&v->writes_total, 1);
    atomic_fetch_add(&v->bytes_written, (uint64_t)n);
  }
  return n;
}

int peer_replicated_flush(struct volume *v) { return fdatasync(v->fd) < 0 ? -errno : 0; }
