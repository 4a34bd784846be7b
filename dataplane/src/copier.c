/* hwameistor-copy: entry point, the helpers the send/recv/checksum modes share, and `checksum` (copier.h). */
#include "copier.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "copier_ring.h"

static void json_escape(FILE *out, const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
    else if (c < 0x20) fprintf(out, "\\u%04x", c);
    else fputc(c, out);
  }
}

void cp_fail(const char *code, const char *reason, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* Whichever thread fails first prints its line and ends the process; the stdout lock, never released, holds
   * back any other thread's failure (two threads in exit() at once is undefined behaviour). */
  flockfile(stdout);
  fprintf(stdout, "{\"event\":\"error\",\"code\":\"%s\",\"reason\":\"%s\",\"message\":\"", code, reason);
  json_escape(stdout, msg);
  fputs("\"}\n", stdout);
  fflush(stdout);
  fprintf(stderr, "hwameistor-copy: %s\n", msg);
  _exit(1);
}

void cp_event(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  flockfile(stdout); /* two threads print events: each line whole */
  fputc('{', stdout);
  vfprintf(stdout, fmt, ap);
  fputs("}\n", stdout);
  va_end(ap);
  int e = fflush(stdout);
  funlockfile(stdout);
  /* The caller gone (stdout closed): nobody wants the copy any more. */
  if (e != 0) _exit(1);
}

_Atomic uint64_t cp_net_us, cp_io_us, cp_submit_us;

void cp_thread_times(pid_t tid, uint64_t *cpu_us, uint64_t *runq_us) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", (int)tid);
  unsigned long long run = 0, wait = 0;
  FILE *f = fopen(path, "re");
  if (f) {
    if (fscanf(f, "%llu %llu", &run, &wait) != 2) run = wait = 0;
    fclose(f);
  }
  *cpu_us = run / 1000u;
  *runq_us = wait / 1000u;
}

void cp_fifo_init(struct cp_fifo *f, unsigned cap) {
  memset(f, 0, sizeof *f);
  pthread_mutex_init(&f->mu, NULL);
  pthread_cond_init(&f->cv, NULL);
  f->cap = cap;
  f->q = calloc(cap, sizeof *f->q);
  if (!f->q) cp_fail("INTERNAL", "CopierFailed", "cannot allocate a queue of %u", cap);
}

void cp_fifo_push(struct cp_fifo *f, struct cp_item it) {
  pthread_mutex_lock(&f->mu);
  if (f->n == f->cap) cp_fail("INTERNAL", "CopierFailed", "queue of %u overflowed", f->cap);
  f->q[(f->head + f->n++) % f->cap] = it;
  pthread_cond_signal(&f->cv);
  pthread_mutex_unlock(&f->mu);
}

static struct cp_item take(struct cp_fifo *f) {
  struct cp_item it = f->q[f->head];
  f->head = (f->head + 1) % f->cap;
  f->n--;
  return it;
}

struct cp_item cp_fifo_pop(struct cp_fifo *f) {
  pthread_mutex_lock(&f->mu);
  if (!f->n) {
    uint64_t t0 = cp_now_us();
    while (!f->n) pthread_cond_wait(&f->cv, &f->mu);
    f->wait_us += cp_now_us() - t0;
  }
  struct cp_item it = take(f);
  pthread_mutex_unlock(&f->mu);
  return it;
}

bool cp_fifo_trypop(struct cp_fifo *f, struct cp_item *it) {
  pthread_mutex_lock(&f->mu);
  bool got = f->n > 0;
  if (got) *it = take(f);
  pthread_mutex_unlock(&f->mu);
  return got;
}

void cp_start_thread(pthread_t *t, void *(*fn)(void *), void *arg) {
  int e = pthread_create(t, NULL, fn, arg);
  if (e) cp_fail("INTERNAL", "CopierFailed", "cannot start a thread: %s", strerror(e));
}

uint64_t cp_cpu_ms(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (uint64_t)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000u + (uint64_t)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000u;
}

uint64_t cp_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t cp_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool cp_is_zero(const void *buf, size_t len) {
  const unsigned char *p = buf;
  size_t i = 0;
  for (; i + 32 <= len; i += 32) {
    uint64_t a, b, c, d;
    memcpy(&a, p + i, 8);
    memcpy(&b, p + i + 8, 8);
    memcpy(&c, p + i + 16, 8);
    memcpy(&d, p + i + 24, 8);
    if (a | b | c | d) return false;
  }
  for (; i < len; i++)
    if (p[i]) return false;
  return true;
}

uint32_t cp_zero_crc(uint32_t len) {
  static uint32_t cached_len = UINT32_MAX, cached;
  if (len == cached_len) return cached;
  static const unsigned char zeros[64 * 1024];
  uint32_t c = 0;
  for (uint32_t done = 0; done < len;) {
    uint32_t n = len - done < sizeof zeros ? len - done : (uint32_t)sizeof zeros;
    c = crc32c(c, zeros, n);
    done += n;
  }
  cached_len = len;
  cached = c;
  return c;
}

void cp_put_u32(unsigned char *p, uint32_t v) {
  for (int i = 3; i >= 0; i--, v >>= 8) p[i] = (unsigned char)v;
}
void cp_put_u64(unsigned char *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (unsigned char)v;
}
uint32_t cp_get_u32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
uint64_t cp_get_u64(const unsigned char *p) {
  return (uint64_t)cp_get_u32(p) << 32 | cp_get_u32(p + 4);
}

void cp_digest(const uint32_t *table, uint64_t n, char out[64]) {
  uint32_t c = 0;
  unsigned char be[4];
  for (uint64_t i = 0; i < n; i++) {
    cp_put_u32(be, table[i]);
    c = crc32c(c, be, 4);
  }
  snprintf(out, 64, "crc32c:%llu:%08x", (unsigned long long)n, c);
}

void cp_recv_exact(int fd, void *buf, size_t len, const char *what) {
  unsigned char *p = buf;
  uint64_t t0 = cp_now_us();
  while (len) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) cp_fail("UNAVAILABLE", "SyncStreamBroken", "the block stream failed while reading %s: %s", what, strerror(errno));
    if (n == 0) cp_fail("UNAVAILABLE", "SyncStreamBroken", "the block stream ended early while reading %s", what);
    p += n;
    len -= (size_t)n;
  }
  cp_net_us += cp_now_us() - t0;
}

void cp_send_all(int fd, const void *buf, size_t len, const char *what) {
  const unsigned char *p = buf;
  uint64_t t0 = cp_now_us();
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) cp_fail("UNAVAILABLE", "SyncStreamBroken", "the block stream was closed by the other side while sending %s: %s", what, strerror(errno));
    p += n;
    len -= (size_t)n;
  }
  cp_net_us += cp_now_us() - t0;
}

void cp_sendv_all(int fd, struct iovec *iov, int n, int flags, const char *what) {
  uint64_t t0 = cp_now_us();
  while (n > 0) {
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t k = sendmsg(fd, &m, flags | MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) cp_fail("UNAVAILABLE", "SyncStreamBroken", "the block stream was closed by the other side while sending %s: %s", what, strerror(errno));
    while (n > 0 && (size_t)k >= iov->iov_len) {
      k -= (ssize_t)iov->iov_len;
      iov++;
      n--;
    }
    if (n > 0) {
      iov->iov_base = (char *)iov->iov_base + k;
      iov->iov_len -= (size_t)k;
    }
  }
  cp_net_us += cp_now_us() - t0;
}

void cp_recv_line(int fd, char *buf, size_t max, const char *what) {
  size_t n = 0;
  for (;;) {
    char c;
    cp_recv_exact(fd, &c, 1, what);
    if (c == '\n') break;
    if (n + 1 >= max) cp_fail("INVALID_ARGUMENT", "SyncProtocolError", "%s: line longer than %zu bytes", what, max);
    buf[n++] = c;
  }
  buf[n] = 0;
}

int cp_open(const char *path, int flags, bool *direct) {
  int fd = open(path, flags | O_DIRECT | O_CLOEXEC);
  *direct = fd >= 0;
  /* EINVAL: this filesystem has no O_DIRECT (tmpfs on older kernels): buffered, the caller flushes. */
  if (fd < 0 && errno == EINVAL) fd = open(path, flags | O_CLOEXEC);
  if (fd < 0) cp_fail("INTERNAL", "CopierFailed", "cannot open %s: %s", path, strerror(errno));
  return fd;
}

static uint64_t parse_u64(const char *flag, const char *v) {
  char *end;
  errno = 0;
  unsigned long long x = strtoull(v ? v : "", &end, 10);
  if (!v || !*v || *end || errno) cp_fail("INVALID_ARGUMENT", "Invalid", "%s wants a decimal number, got %s", flag, v ? v : "nothing");
  return x;
}

void cp_parse_flags(int argc, char **argv, struct cp_flags *f, bool need_fd, bool need_path) {
  memset(f, 0, sizeof *f);
  f->fd = -1;
  for (int i = 0; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(argv[i], "--size")) f->g.size = parse_u64("--size", v);
    else if (!strcmp(argv[i], "--chunk")) f->g.chunk = (uint32_t)parse_u64("--chunk", v);
    else if (!strcmp(argv[i], "--fd")) f->fd = (int)parse_u64("--fd", v);
    else if (!strcmp(argv[i], "--path") && v) f->path = v;
    else if (!strcmp(argv[i], "--header") && v) f->header = v;
    else if (!strcmp(argv[i], "--read-back")) {
      f->read_back = true;
      continue; /* a switch: no value to skip */
    }
    else cp_fail("INVALID_ARGUMENT", "Invalid", "unknown flag %s (usage: hwameistor-copy send|recv|checksum --size N --chunk N [--fd N] [--path P] [--read-back])", argv[i]);
    i++;
  }
  if (!f->g.chunk || f->g.chunk % CP_ALIGN || f->g.chunk > CP_MAX_CHUNK)
    cp_fail("INVALID_ARGUMENT", "Invalid", "--chunk %u: a multiple of %u up to %u", f->g.chunk, CP_ALIGN, CP_MAX_CHUNK);
  if (need_fd && f->fd < 0) cp_fail("INVALID_ARGUMENT", "Invalid", "--fd is required");
  /* The node agent's event loop made the socket non-blocking; this process blocks on it. */
  int fl = f->fd >= 0 ? fcntl(f->fd, F_GETFL) : 0;
  if (fl < 0 || (f->fd >= 0 && fcntl(f->fd, F_SETFL, fl & ~O_NONBLOCK) < 0))
    cp_fail("INVALID_ARGUMENT", "Invalid", "--fd %d is not an open descriptor: %s", f->fd, strerror(errno));
  if (need_path && !f->path) cp_fail("INVALID_ARGUMENT", "Invalid", "--path is required");
  f->g.nchunks = (f->g.size + f->g.chunk - 1) / f->g.chunk;
  if (f->g.nchunks > UINT32_MAX) cp_fail("INVALID_ARGUMENT", "Invalid", "--size %llu: more than 2^32 chunks", (unsigned long long)f->g.size);
}

struct sum_ctx {
  uint32_t *table;
};
static void sum_one(void *arg, uint64_t i, unsigned char *buf, uint32_t len) {
  struct sum_ctx *c = arg;
  c->table[i] = crc32c(0, buf, len);
}

int cp_checksum_main(int argc, char **argv) {
  struct cp_flags f;
  cp_parse_flags(argc, argv, &f, false, true);
  bool direct;
  int fd = cp_open(f.path, O_RDONLY, &direct);
  if (!direct) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  uint32_t *table = calloc(f.g.nchunks ? f.g.nchunks : 1, sizeof *table);
  uint64_t *idx = calloc(f.g.nchunks ? f.g.nchunks : 1, sizeof *idx);
  if (!table || !idx) cp_fail("INTERNAL", "CopierFailed", "cannot allocate the chunk table");
  for (uint64_t i = 0; i < f.g.nchunks; i++) idx[i] = i;
  struct cp_ring r;
  cp_ring_init(&r, CP_READ_QD, f.g.chunk);
  uint64_t t0 = cp_now_ms();
  struct sum_ctx c = {table};
  cp_read_chunks(&r, fd, direct, &f.g, idx, f.g.nchunks, f.path, sum_one, &c);
  char d[64];
  cp_digest(table, f.g.nchunks, d);
  cp_event("\"event\":\"done\",\"checksum\":\"%s\",\"ms\":%llu,\"direct\":%s", d, (unsigned long long)(cp_now_ms() - t0), direct ? "true" : "false");
  return 0;
}

int main(int argc, char **argv) {
  /* A copy nobody drives any more must stop: killed with the node agent that started it. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGPIPE, SIG_IGN);
  if (argc >= 2 && !strcmp(argv[1], "send")) return cp_send_main(argc - 2, argv + 2);
  if (argc >= 2 && !strcmp(argv[1], "recv")) return cp_recv_main(argc - 2, argv + 2);
  if (argc >= 2 && !strcmp(argv[1], "checksum")) return cp_checksum_main(argc - 2, argv + 2);
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    puts("usage: hwameistor-copy send|recv|checksum --size N --chunk N [--fd N] [--path P] [--read-back]\n"
         "  the native per-byte path of a migration copy, driven by the node agent (docs/migration.md)");
    return 0;
  }
  cp_fail("INVALID_ARGUMENT", "Invalid", "usage: hwameistor-copy send|recv|checksum --size N --chunk N [--fd N] [--path P]");
}
