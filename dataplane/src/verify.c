/* `verify`: for every region, CRC32C of the primary's bytes and of each connected peer's (CHECKSUM_REQ, answered
 * in order after every write before it), while the region is held against writes so both sides read the same
 * moment. Answers {checkedBytes, mismatchedRegions: {peer: [region…]}, notChecked: [peer…]}. */
#include "verify.h"

#include <stdlib.h>
#include <string.h>

#include "peer_internal.h"
#include "repl_proto.h"

static int local_crc(struct volume *v, uint64_t off, uint64_t len, uint32_t *out) {
  void *buf = thread_io_buffer();
  uint32_t c = 0;
  for (uint64_t done = 0; done < len; done += DP_MAX_IO) {
    size_t n = (size_t)(len - done < DP_MAX_IO ? len - done : DP_MAX_IO);
    if (volume_local_read(v, buf, n, off + done) != (ssize_t)n) return -1;
    c = crc32c(c, buf, n);
  }
  *out = c;
  return 0;
}

int volume_verify(struct volume *v, struct sbuf *out, struct hw_err *err) {
  pthread_mutex_lock(&v->lock);
  if (v->role != ROLE_PRIMARY) {
    hw_err_set(err, "FAILED_PRECONDITION", "NotPrimary", "volume %s is %s here; run verify on its primary", v->name, role_name(v->role));
    pthread_mutex_unlock(&v->lock);
    return -1;
  }
  pthread_mutex_unlock(&v->lock);
  pthread_mutex_lock(&v->verify_lock);
  struct peer *peers[DP_MAX_PEERS];
  uint64_t gens[DP_MAX_PEERS];
  bool ok[DP_MAX_PEERS];
  int np = 0;
  struct sbuf mism[DP_MAX_PEERS];
  pthread_mutex_lock(&v->lock);
  for (int i = 0; i < v->npeers; i++) {
    struct peer *p = v->peers[i];
    ok[i] = p->connected && (p->state == PS_UPTODATE || p->state == PS_SYNCTARGET);
    peers[i] = p;
    gens[i] = p->gen;
    sb_init(&mism[i]);
  }
  np = v->npeers;
  uint64_t size = v->size_bytes, rb = v->region_bytes, checked = 0;
  pthread_mutex_unlock(&v->lock);
  int rc = 0;
  for (uint64_t off = 0; off < size && !rc; off += rb) {
    uint64_t len = size - off < rb ? size - off : rb, seq[DP_MAX_PEERS] = {0};
    uint32_t mine = 0;
    pthread_mutex_lock(&v->lock);
    range_acquire(v, off, off + len, NULL, NULL);
    pthread_mutex_unlock(&v->lock);
    for (int i = 0; i < np; i++)
      if (ok[i] && peer_send(peers[i], gens[i], F_CHECKSUM_REQ, off, &len, 8, &seq[i])) ok[i] = false;
    if (local_crc(v, off, len, &mine)) {
      hw_err_set(err, "INTERNAL", "InternalError", "volume %s: reading its backing %s at %llu failed (check the device)", v->name, v->backing, (unsigned long long)off);
      rc = -1;
    }
    pthread_mutex_lock(&v->lock);
    for (int i = 0; i < np; i++) {
      if (!ok[i]) continue;
      struct peer *p = peers[i];
      while (p->gen == gens[i] && p->connected && p->checksum_seq < seq[i] && !p->stop) pthread_cond_wait(&v->cond, &v->lock);
      if (p->gen != gens[i] || !p->connected || p->checksum_seq != seq[i]) {
        ok[i] = false;
        continue;
      }
      if (p->checksum_value != mine) sb_printf(&mism[i], "%s%llu", mism[i].len ? "," : "", (unsigned long long)(off / rb));
    }
    range_release(v, off, off + len);
    pthread_mutex_unlock(&v->lock);
    checked += len;
  }
  pthread_mutex_unlock(&v->verify_lock);
  if (!rc) {
    jw_u64(out, "checkedBytes", checked);
    sb_key(out, "mismatchedRegions");
    sb_append(out, "{", 1);
    bool first = true;
    for (int i = 0; i < np; i++) {
      if (!ok[i]) continue;
      if (!first) sb_append(out, ",", 1);
      first = false;
      sb_json_str(out, peers[i]->node);
      sb_printf(out, ":[%s]", mism[i].data);
    }
    sb_append(out, "}", 1);
    sb_key(out, "notChecked");
    sb_append(out, "[", 1);
    first = true;
    for (int i = 0; i < np; i++) {
      if (ok[i]) continue;
      if (!first) sb_append(out, ",", 1);
      first = false;
      sb_json_str(out, peers[i]->node);
    }
    sb_append(out, "]", 1);
  }
  for (int i = 0; i < np; i++) sb_free(&mism[i]);
  return rc;
}
