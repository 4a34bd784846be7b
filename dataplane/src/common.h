/* What every part of the data plane shares: the process-wide context (struct dataplane), the error record
 * that the control socket turns into {code, reason, message}, logging, and small I/O helpers. */
#ifndef HW_COMMON_H
#define HW_COMMON_H
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DP_VERSION "0.1.0"
#define DP_PROTOCOL_MAJOR 1
#define DP_PROTOCOL_MINOR 1 /* 1.1: write lanes (a 1.0 peer announces none and gets only the main connection) */
#define DP_MAX_PEERS 2 /* up to 3 replicas: the primary and two peers (docs/compatibility.md) */
#define DP_NAME_MAX 128
#define DP_DEFAULT_REGION (1u << 20)
#define DP_MAX_IO (1u << 20) /* FUSE max_write and the largest frame payload */
/* Connections per peer that carry replicated writes: the main one and DP_LANES - 1 write lanes. Why: one TCP
 * connection is one sender copying into the socket at a time and one receiver thread copying out of it; a
 * sequential 1 MiB stream was bound by that receiver's share of the CPU (docs/dataplane.md "Performance"). */
#define DP_LANES 4

/* An error as the control socket reports it: code is a gRPC canonical name, reason a registered
 * PascalCase reason (src/api/errors.ts), message names the object and the fix. */
struct hw_err {
  const char *code;
  const char *reason;
  char message[512];
};
void hw_err_set(struct hw_err *e, const char *code, const char *reason, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The answer of a replicated write: bytes or -errno; may run on another thread than the one that wrote. */
typedef void (*write_done_fn)(void *arg, ssize_t result);

struct volume;
struct fuse_frontend;
struct listener;

/* The process: flags, the volume registry and the event subscribers. One instance, passed explicitly. */
struct dataplane {
  char node[DP_NAME_MAX];
  char control_path[PATH_MAX];
  char state_dir[PATH_MAX];
  char listen[128];
  char fuse_dir[PATH_MAX];
  int fuse_threads;
  bool fuse_splice; /* --fuse-io splice (default): WRITE data spliced from /dev/fuse, never copied into the process */
  bool wire_crc; /* --wire-crc: CRC32C on WRITE/RESYNC_DATA payloads too */
  bool io_uring; /* --io-engine uring: local reads/writes through a per-thread io_uring instead of pread/pwrite */
  pthread_mutex_t lock; /* guards vols, next_ino, subscribers */
  struct volume *vols;
  uint64_t next_ino;
  void *subscribers[32]; /* control connections that asked for events */
  int nsubscribers;
  int control_fd;
  pthread_t control_thread;
  struct fuse_frontend *fuse;
  struct listener *listener;
  volatile int stopping;
};

/* Sends {"event":event,"volume":volume} to every subscriber; drops subscribers whose socket failed. */
void dp_emit(struct dataplane *dp, const char *event, const char *volume);

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
extern int dp_log_level; /* set once at start, read-only afterwards */
void dp_log(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define LOGD(...) dp_log(LOG_DEBUG, __VA_ARGS__)
#define LOGI(...) dp_log(LOG_INFO, __VA_ARGS__)
#define LOGW(...) dp_log(LOG_WARN, __VA_ARGS__)
#define LOGE(...) dp_log(LOG_ERROR, __VA_ARGS__)

/* Full reads/writes that retry on EINTR and short counts; 0 or -errno (-EPIPE/-ECONNRESET at EOF on read). */
int write_full(int fd, const void *buf, size_t len);
int read_full(int fd, void *buf, size_t len);
/* Writes a file atomically: temp file, fsync, rename, fsync of the directory. 0 or -errno. */
int write_file_atomic(const char *path, const void *data, size_t len);
/* Reads a whole small file into a malloc'd NUL-terminated buffer. 0 or -errno. */
int read_file(const char *path, char **out, size_t *len);
uint64_t now_ns(void);
/* Checks a volume/peer/node name: [A-Za-z0-9._-], 1..127 chars, not "." or "..". */
bool valid_name(const char *s);

uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
#endif
