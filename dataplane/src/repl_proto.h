/* The replication wire protocol (proposal 0002 "Local write and the replication protocol"). Every frame is a
 * fixed 40-byte little-endian header and a payload of `length` bytes whose CRC32C is in the header.
 * Sequence numbers are per connection and contiguous: every frame the primary sends after HELLO takes the
 * next one, so the replica's cumulative ACK(n) means "every frame up to n is done". */
#ifndef HW_REPL_PROTO_H
#define HW_REPL_PROTO_H
#include "common.h"

#define FRAME_MAGIC 0x50445748u /* "HWDP" */

enum frame_type {
  F_HELLO = 1,        /* payload: JSON {protocolMajor, protocolMinor, volume, sizeBytes, regionBytes, epoch, node, uuid, role, localState, syncSource} */
  F_WRITE = 2,        /* offset, payload: data */
  F_FLUSH = 3,        /* acked after fdatasync of everything before it */
  F_ACK = 4,          /* seq: cumulative */
  F_NACK = 5,         /* flags: enum nack_reason; epoch: the replica's; payload: message */
  F_RESYNC_REQ = 6,   /* reserved: the replica asks for a region (not used by this version) */
  F_RESYNC_DATA = 7,  /* offset, payload: a region's bytes */
  F_BITMAP = 8,       /* payload: 64-bit words, the replica's dirty regions (OR of its bitmaps) */
  F_CHECKSUM_REQ = 9, /* offset, length (in the header's offset field pair): CRC32C of that range */
  F_CHECKSUM = 10,    /* reply: offset, flags = 0, payload: u32 crc */
  F_PING = 11,
  F_SYNC_START = 12,  /* the replica becomes Inconsistent (persisted) before the resync's first byte */
  F_SYNC_DONE = 13,   /* after the resync: fdatasync, UpToDate (persisted), its bitmaps for this primary cleared */
};

/* flags bit: the header's crc32c covers the payload. Control frames always carry it; WRITE and RESYNC_DATA only
 * with --wire-crc (TCP checksums the wire already; CRC32C of 1 MiB costs ~0.35 ms per side here, like DRBD's
 * data-integrity-alg, which is off by default too). The low byte of flags is the NACK reason. */
#define FRAME_F_CRC 0x8000

enum nack_reason { NACK_NONE, NACK_STALE_EPOCH, NACK_PROTOCOL, NACK_NOT_FOUND, NACK_MISMATCH, NACK_NOT_SECONDARY, NACK_IO, NACK_CRC };

struct __attribute__((packed)) frame_hdr {
  uint32_t magic;
  uint16_t type;
  uint16_t flags;
  uint64_t seq;
  uint64_t offset;
  uint32_t length;
  uint64_t epoch;
  uint32_t crc32c;
};

/* Fills a header; with crc (and a payload), its CRC32C. */
void frame_hdr_make(struct frame_hdr *h, uint16_t type, uint16_t flags, uint64_t seq, uint64_t offset, uint64_t epoch, const void *payload, uint32_t len, bool crc);
/* writev until every byte of iov[0..n) is written (iov is consumed). 0 or -errno. */
struct iovec;
int writev_full(int fd, struct iovec *iov, int n);
/* Sends a header (+ payload) with one writev; with crc, computes the payload's CRC32C. 0 or -errno. */
int frame_send(int fd, uint16_t type, uint16_t flags, uint64_t seq, uint64_t offset, uint64_t epoch, const void *payload, uint32_t len, bool crc);
/* The same for a payload of len bytes at the front of the pipe src (never with a CRC): teed into the empty pipe
 * tee_w/tee_r, then spliced from it into the socket, so the payload pages are shared with the socket, not
 * copied; src keeps its data for the local write. Leaves tee_r's pipe non-empty on an error. 0 or -errno. */
int frame_send_pipe(int fd, uint16_t type, uint64_t seq, uint64_t offset, uint64_t epoch, int src, int tee_r, int tee_w, uint32_t len);
/* Whether a received payload matches its header (true when the frame carries no CRC). */
bool frame_crc_ok(const struct frame_hdr *h, const void *payload);
/* Reads a header and checks its magic; 0 or -errno (-EPROTO on a bad magic). */
int frame_recv_hdr(int fd, struct frame_hdr *h);
/* A buffered frame reader for a blocking socket: one read() takes every frame that has arrived (a burst of
 * cumulative ACKs costs one syscall, not one per frame). */
struct frame_reader {
  int fd;
  size_t start, end;
  char buf[64 << 10];
};
/* Reads the next frame; *payload is malloc'd and NUL-terminated (NULL when the frame has none). 0 or -errno. */
int frame_read(struct frame_reader *r, struct frame_hdr *h, char **payload);
/* Whether a whole frame header is already buffered (the next frame_read will not block for it). */
bool frame_reader_ready(const struct frame_reader *r);
/* A frame's payload after its header: `have` bytes already read (`buffered`), the rest from fd; checks the CRC.
 * *out is malloc'd and NUL-terminated, also for an empty payload. 0 or -errno. */
int frame_recv_payload(int fd, const struct frame_hdr *h, const char *buffered, size_t have, char **out);
const char *frame_type_name(uint16_t t);
const char *nack_reason_name(uint16_t r);
/* TCP: nodelay, keepalive with short probes (a dead peer is found in seconds, not hours). */
void tcp_tune(int fd);
#endif
