#include "repl_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <stdlib.h>
#include <unistd.h>

void frame_hdr_make(struct frame_hdr *h, uint16_t type, uint16_t flags, uint64_t seq, uint64_t offset, uint64_t epoch, const void *payload, uint32_t len, bool crc) {
  *h = (struct frame_hdr){.magic = FRAME_MAGIC, .type = type, .flags = flags, .seq = seq, .offset = offset, .length = len, .epoch = epoch};
  if (crc && len) {
    h->flags |= FRAME_F_CRC;
    h->crc32c = crc32c(0, payload, len);
  }
}

int writev_full(int fd, struct iovec *iov, int n) {
  size_t total = 0;
  for (int i = 0; i < n; i++) total += iov[i].iov_len;
  while (total) {
    ssize_t w = writev(fd, iov, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    total -= (size_t)w;
    for (int i = 0; i < n && w > 0; i++) {
      size_t take = (size_t)w < iov[i].iov_len ? (size_t)w : iov[i].iov_len;
      iov[i].iov_base = (char *)iov[i].iov_base + take;
      iov[i].iov_len -= take;
      w -= (ssize_t)take;
    }
  }
  return 0;
}

int frame_send(int fd, uint16_t type, uint16_t flags, uint64_t seq, uint64_t offset, uint64_t epoch, const void *payload, uint32_t len, bool crc) {
  struct frame_hdr h;
  frame_hdr_make(&h, type, flags, seq, offset, epoch, payload, len, crc);
  struct iovec iov[2] = {{.iov_base = &h, .iov_len = sizeof h}, {.iov_base = (void *)payload, .iov_len = len}};
  return writev_full(fd, iov, len ? 2 : 1);
}

int frame_send_pipe(int fd, uint16_t type, uint64_t seq, uint64_t offset, uint64_t epoch, int src, int tee_r, int tee_w, uint32_t len) {
  /* All of the payload is in src already (spliced from /dev/fuse in one piece) and tee_w's pipe is empty and as
   * large: one tee takes it all, or the frame is not sent. */
  ssize_t t = tee(src, tee_w, len, 0);
  if (t != (ssize_t)len) return t < 0 ? -errno : -EIO;
  struct frame_hdr h = {.magic = FRAME_MAGIC, .type = type, .seq = seq, .offset = offset, .length = len, .epoch = epoch};
  for (size_t done = 0; done < sizeof h;) { /* MSG_MORE: the header leaves with the payload's first segment */
    ssize_t n = send(fd, (char *)&h + done, sizeof h - done, MSG_MORE | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    done += (size_t)n;
  }
  for (uint32_t left = len; left;) {
    ssize_t n = splice(tee_r, NULL, fd, NULL, left, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) return -EIO;
    left -= (uint32_t)n;
  }
  return 0;
}

bool frame_crc_ok(const struct frame_hdr *h, const void *payload) {
  return !(h->flags & FRAME_F_CRC) || !h->length || crc32c(0, payload, h->length) == h->crc32c;
}

int frame_recv_hdr(int fd, struct frame_hdr *h) {
  int rc = read_full(fd, h, sizeof *h);
  if (rc) return rc;
  if (h->magic != FRAME_MAGIC || h->length > DP_MAX_IO + 65536) return -EPROTO;
  return 0;
}

bool frame_reader_ready(const struct frame_reader *r) { return r->end - r->start >= sizeof(struct frame_hdr); }

int frame_read(struct frame_reader *r, struct frame_hdr *h, char **payload) {
  *payload = NULL;
  if (r->start == r->end) r->start = r->end = 0;
  while (!frame_reader_ready(r)) {
    if (r->start) { /* keep the partial header at the front */
      memmove(r->buf, r->buf + r->start, r->end - r->start);
      r->end -= r->start;
      r->start = 0;
    }
    ssize_t n = read(r->fd, r->buf + r->end, sizeof r->buf - r->end);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) return -ECONNRESET;
    r->end += (size_t)n;
  }
  memcpy(h, r->buf + r->start, sizeof *h);
  r->start += sizeof *h;
  if (h->magic != FRAME_MAGIC || h->length > DP_MAX_IO + 65536) return -EPROTO;
  if (!h->length) return 0;
  size_t have = r->end - r->start < h->length ? r->end - r->start : h->length;
  int rc = frame_recv_payload(r->fd, h, r->buf + r->start, have, payload);
  r->start += have;
  return rc;
}

int frame_recv_payload(int fd, const struct frame_hdr *h, const char *buffered, size_t have, char **out) {
  char *p = malloc(h->length + 1);
  if (!p) abort();
  if (have) memcpy(p, buffered, have);
  int rc = have < h->length ? read_full(fd, p + have, h->length - have) : 0;
  if (rc == 0 && !frame_crc_ok(h, p)) rc = -EBADMSG;
  if (rc) {
    free(p);
    return rc;
  }
  p[h->length] = '\0';
  *out = p;
  return 0;
}

const char *frame_type_name(uint16_t t) {
  static const char *names[] = {"?", "HELLO", "WRITE", "FLUSH", "ACK", "NACK", "RESYNC_REQ", "RESYNC_DATA", "BITMAP", "CHECKSUM_REQ", "CHECKSUM", "PING", "SYNC_START", "SYNC_DONE"};
  return t < sizeof names / sizeof names[0] ? names[t] : "?";
}

const char *nack_reason_name(uint16_t r) {
  static const char *names[] = {"none", "StaleEpoch", "ProtocolMismatch", "NotFound", "VolumeMismatch", "NotSecondary", "IOError", "ChecksumMismatch"};
  return r < sizeof names / sizeof names[0] ? names[r] : "unknown";
}

void tcp_tune(int fd) {
  int one = 1, idle = 5, intvl = 2, cnt = 3;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
  unsigned user_timeout_ms = 10000; /* unacknowledged data for 10 s (veth down, peer gone): the send fails */
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
  /* Room for several 1 MiB frames in flight. SO_SNDBUF/SO_RCVBUF are capped at net.core.wmem_max/rmem_max
   * (212992 by default on many distributions: less than one large frame, so every send would wait for the
   * peer's reader); the FORCE variants (CAP_NET_ADMIN, which a privileged data plane has) are not. */
  int buf = 4 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf) < 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) < 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
}
