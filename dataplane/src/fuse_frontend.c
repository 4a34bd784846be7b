#define FUSE_USE_VERSION 312
#include "fuse_frontend.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "volume.h"

#define ROOT_INO 1
#define ATTR_TIMEOUT 1.0

struct fuse_frontend {
  struct dataplane *dp;
  struct fuse_session *se;
  pthread_t thread;
  bool running;
};

static struct dataplane *req_dp(fuse_req_t req) { return fuse_req_userdata(req); }

static void fill_attr(struct volume *v, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_ino = v->ino;
  st->st_mode = S_IFREG | 0600;
  st->st_nlink = 1;
  st->st_size = (off_t)v->size_bytes;
  st->st_blksize = 4096;
  st->st_blocks = (blkcnt_t)(v->size_bytes / 512);
}

static void root_attr(struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_ino = ROOT_INO;
  st->st_mode = S_IFDIR | 0700;
  st->st_nlink = 2;
}

#define FUSE_MAX_WRITE (512u << 10)
/* Bytes of each worker's pipes when WRITE data can be spliced from /dev/fuse (0: always read into memory); set
 * before the workers start (fuse_frontend_start). */
static size_t pipe_bytes;
/* Whether the workers splice now: while an exposed volume has peers (fuse_frontend_volumes_changed). Splicing
 * saves the copy into each peer's socket; a single replica has no socket, and measured slower spliced than read
 * into a buffer (docs/dataplane.md "Performance"). */
static atomic_bool splice_now;

static void op_init(void *userdata, struct fuse_conn_info *conn) {
  (void)userdata;
  /* Requests of up to 512 KiB (libfuse derives max_pages 128 from max_write), many in flight: async direct I/O
   * and a background limit well above a queue depth of 32 (the kernel's default of 12 would cap it). Why not
   * 1 MiB: with 2 replicas a 1 MiB request is sent whole before the replica starts writing it; 512 KiB ones
   * overlap the transfer and both writes more (measured: 1.2-1.4x the sequential throughput; 256 KiB no better;
   * a single replica the same; docs/dataplane.md "Performance"). Spliced, a request must also fit the pipe in
   * one piece (the kernel fails it otherwise): a header page plus 128 data pages fit the 1 MiB pipe. */
  conn->max_write = FUSE_MAX_WRITE;
  conn->want &= ~(unsigned)FUSE_CAP_SPLICE_READ; /* libfuse's own splice needs a pipe larger than 1 MiB; worker_thread splices */
  conn->max_background = 128;
  conn->congestion_threshold = 96;
  if (conn->capable & FUSE_CAP_ASYNC_DIO) conn->want |= FUSE_CAP_ASYNC_DIO;
  conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE; /* no kernel caching of volume data */
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  struct dataplane *dp = req_dp(req);
  struct volume *v = parent == ROOT_INO ? volume_get(dp, name) : NULL;
  if (!v || !v->exposed) {
    if (v) volume_put(v);
    fuse_reply_err(req, ENOENT);
    return;
  }
  struct fuse_entry_param e = {.ino = v->ino, .attr_timeout = ATTR_TIMEOUT, .entry_timeout = ATTR_TIMEOUT};
  fill_attr(v, &e.attr);
  volume_put(v);
  fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)fi;
  struct stat st;
  if (ino == ROOT_INO) {
    root_attr(&st);
    fuse_reply_attr(req, &st, ATTR_TIMEOUT);
    return;
  }
  struct volume *v = volume_get_ino(req_dp(req), ino);
  if (!v) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  fill_attr(v, &st);
  volume_put(v);
  fuse_reply_attr(req, &st, ATTR_TIMEOUT);
}

/* Size, mode and times of a volume file are the volume's: a setattr (e.g. a truncate by a tool) changes
 * nothing and answers the current attributes, except a size change, which is refused. */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi) {
  (void)fi;
  struct volume *v = volume_get_ino(req_dp(req), ino);
  if (!v) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  struct stat st;
  fill_attr(v, &st);
  volume_put(v);
  if ((to_set & FUSE_SET_ATTR_SIZE) && attr->st_size != st.st_size) {
    fuse_reply_err(req, EPERM);
    return;
  }
  fuse_reply_attr(req, &st, ATTR_TIMEOUT);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)fi;
  if (ino != ROOT_INO) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  struct dataplane *dp = req_dp(req);
  char *buf = calloc(1, size);
  if (!buf) abort();
  size_t used = 0;
  off_t idx = 0;
  pthread_mutex_lock(&dp->lock);
  for (struct volume *v = dp->vols; v; v = v->next) {
    if (!v->exposed) continue;
    if (++idx <= off) continue;
    struct stat st;
    fill_attr(v, &st);
    size_t n = fuse_add_direntry(req, buf + used, size - used, v->name, &st, idx);
    if (n > size - used) break;
    used += n;
  }
  pthread_mutex_unlock(&dp->lock);
  fuse_reply_buf(req, buf, used);
  free(buf);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  struct volume *v = volume_get_ino(req_dp(req), ino);
  if (!v) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  pthread_mutex_lock(&v->lock);
  v->open_count++;
  pthread_mutex_unlock(&v->lock);
  fi->direct_io = 1; /* every read and write reaches us: no page cache between the volume and its replicas */
  fi->keep_cache = 0;
  fi->fh = ino;
  volume_put(v);
  fuse_reply_open(req, fi);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)fi;
  struct dataplane *dp = req_dp(req);
  /* release may arrive after unexpose (the file was open): search all volumes, not only exposed ones. */
  pthread_mutex_lock(&dp->lock);
  for (struct volume *v = dp->vols; v; v = v->next)
    if (v->ino == ino) {
      pthread_mutex_lock(&v->lock);
      if (v->open_count > 0) v->open_count--;
      pthread_mutex_unlock(&v->lock);
    }
  pthread_mutex_unlock(&dp->lock);
  fuse_reply_err(req, 0);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)fi;
  struct volume *v = volume_get_ino(req_dp(req), ino);
  if (!v) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  if (size > DP_MAX_IO) size = DP_MAX_IO;
  void *buf = thread_io_buffer();
  ssize_t n = volume_read(v, buf, size, (uint64_t)off);
  volume_put(v);
  if (n < 0)
    fuse_reply_err(req, (int)-n);
  else
    fuse_reply_buf(req, buf, (size_t)n);
}

static void write_done(void *arg, ssize_t n) {
  fuse_req_t req = arg;
  if (n < 0)
    fuse_reply_err(req, (int)-n);
  else
    fuse_reply_write(req, (size_t)n);
}

/* This thread's pipes when it splices from /dev/fuse (worker_thread): a WRITE's data stays in the kernel's pages. */
static __thread int splice_pipe[2] = {-1, -1}, tee_pipe[2] = {-1, -1};

static void op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv, off_t off, struct fuse_file_info *fi) {
  (void)fi;
  struct fuse_buf *in = &bufv->buf[bufv->idx];
  size_t size = fuse_buf_size(bufv);
  bufv->idx = bufv->count; /* consumed here; what a failed write leaves in the pipe, worker_thread drains */
  struct volume *v = volume_get_ino(req_dp(req), ino);
  if (!v) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  if (size > DP_MAX_IO) {
    volume_put(v);
    fuse_reply_err(req, EINVAL);
    return;
  }
  struct wbuf b = {.pipe = -1, .tee_r = tee_pipe[0], .tee_w = tee_pipe[1]};
  if (in->flags & FUSE_BUF_IS_FD) {
    b.pipe = in->fd;
    if (v->dp->wire_crc) { /* the CRC needs the bytes in memory */
      b.mem = thread_io_buffer();
      if (read_full(in->fd, (void *)b.mem, size)) {
        volume_put(v);
        fuse_reply_err(req, EIO);
        return;
      }
    }
  } else {
    /* The worker's receive buffer puts the data on a 4 KiB boundary (worker_thread); otherwise copy it for O_DIRECT. */
    b.mem = (const char *)in->mem + bufv->off;
    if ((uintptr_t)b.mem % 4096) {
      void *a = thread_io_buffer();
      memcpy(a, b.mem, size);
      b.mem = a;
    }
  }
  ssize_t n = volume_write(v, &b, size, (uint64_t)off, write_done, req);
  volume_put(v); /* a write in flight keeps its file open: the volume cannot be removed before it is answered */
  if (n != -EINPROGRESS) write_done(req, n);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  (void)datasync;
  (void)fi;
  struct volume *v = volume_get_ino(req_dp(req), ino);
  if (!v) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  int rc = volume_flush(v);
  volume_put(v);
  fuse_reply_err(req, rc < 0 ? -rc : 0);
}

/* flush is close(), not a cache flush: data is written through already, durability comes with fsync. */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)ino;
  (void)fi;
  fuse_reply_err(req, 0);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  if (ino != ROOT_INO) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  fuse_reply_open(req, fi);
}

static const struct fuse_lowlevel_ops ops = {
    .init = op_init,
    .lookup = op_lookup,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .open = op_open,
    .release = op_release,
    .read = op_read,
    .write_buf = op_write_buf,
    .fsync = op_fsync,
    .flush = op_flush,
};

void fuse_cleanup_stale(const char *dir) {
  /* A predecessor killed with -9 leaves its mount behind; every access then fails with ENOTCONN. Detach
   * every layer (the same as `fusermount3 -u -z`), we are root. */
  for (int i = 0; i < 16; i++) {
    if (umount2(dir, MNT_DETACH) < 0) break;
    LOGW("fuse dir %s: detached a stale mount left by a previous data plane", dir);
  }
}

/* Where a request lands in a worker's receive buffer: a WRITE's data follows fuse_in_header and fuse_write_in
 * (80 bytes), so the header starts 80 bytes before a 4 KiB boundary and the data is aligned for O_DIRECT: the
 * write path needs no copy into an aligned buffer (op_write checks, and copies if a kernel lays it out
 * otherwise). libfuse reads up to its bufsize (max_write + 4 KiB): the buffer has room for 2 MiB + 8 KiB. */
#define WRITE_HDR 80
#define RECV_BYTES ((2u << 20) + 8192)
/* Requests smaller than this are read back from the pipe into memory: a small write costs fewer system calls
 * copied (one read, one writev per peer, one pwrite) than spliced (tee, send, splice per peer, splice). */
#define SPLICE_MIN (64u << 10)

/* A pipe of pipe_bytes (F_SETPIPE_SZ); false when the kernel gives less. */
static bool make_pipe(int p[2]) {
  if (pipe2(p, O_CLOEXEC) < 0) return false;
  if (fcntl(p[0], F_SETPIPE_SZ, (int)pipe_bytes) >= (int)pipe_bytes) return true;
  close(p[0]);
  close(p[1]);
  p[0] = p[1] = -1;
  return false;
}

/* Empties a pipe: the data a request's handler did not consume (an error before its write) must not precede the
 * next request's. */
static void drain_pipe(int r) {
  int n = 0;
  while (ioctl(r, FIONREAD, &n) == 0 && n > 0)
    if (read(r, thread_io_buffer(), (size_t)n < DP_MAX_IO ? (size_t)n : DP_MAX_IO) <= 0) break;
}

/* The next request: spliced into this thread's pipe (a WRITE's data then stays there for op_write_buf; a small
 * request is read back into mem), or read into mem. Returns its size, 0 when the session ended, or -errno. */
static int receive(struct fuse_frontend *f, char *mem, struct fuse_buf *buf) {
  /* After a small request, read the next one straight into memory: small requests come in runs (4 KiB random
   * I/O), and splicing one only to read it back costs a splice per request. A large request read this way is
   * copied like without peers (correct; spliced again from the next one on). */
  static __thread bool last_small;
  if (splice_pipe[0] < 0 || !atomic_load_explicit(&splice_now, memory_order_relaxed) || last_small) {
    *buf = (struct fuse_buf){.mem = mem, .size = RECV_BYTES};
    int rc = fuse_session_receive_buf(f->se, buf);
    last_small = rc > 0 && (size_t)rc < WRITE_HDR + SPLICE_MIN;
    return rc;
  }
  ssize_t n = splice(fuse_session_fd(f->se), NULL, splice_pipe[1], NULL, DP_MAX_IO + 8192, 0);
  if (n < 0) return errno == ENODEV ? 0 : errno == ENOENT ? -EINTR : -errno; /* ENOENT: interrupted, retry */
  if (fuse_session_exited(f->se)) return 0;
  last_small = (size_t)n < WRITE_HDR + SPLICE_MIN;
  if (last_small) {
    if (read_full(splice_pipe[0], mem, (size_t)n)) return -EIO;
    *buf = (struct fuse_buf){.mem = mem, .size = (size_t)n};
  } else
    *buf = (struct fuse_buf){.fd = splice_pipe[0], .flags = FUSE_BUF_IS_FD, .size = (size_t)n};
  return (int)n;
}

static void *worker_thread(void *arg) {
  struct fuse_frontend *f = arg;
  char *base = NULL;
  if (posix_memalign((void **)&base, 4096, 4096 + RECV_BYTES)) abort();
  if (pipe_bytes && (!make_pipe(splice_pipe) || !make_pipe(tee_pipe))) {
    LOGW("fuse dir %s: a worker could not get two pipes of %zu bytes; it reads requests into memory", f->dp->fuse_dir, pipe_bytes);
    for (int i = 0; i < 2; i++) {
      if (splice_pipe[i] >= 0) close(splice_pipe[i]);
      splice_pipe[i] = -1;
    }
  }
  int rc = 0;
  while (!fuse_session_exited(f->se)) {
    struct fuse_buf buf;
    rc = receive(f, base + 4096 - WRITE_HDR, &buf);
    if (rc == -EINTR || rc == -EAGAIN) continue;
    if (rc <= 0) break; /* 0: unmounted */
    fuse_session_process_buf(f->se, &buf);
    if (buf.flags & FUSE_BUF_IS_FD) {
      drain_pipe(splice_pipe[0]);
      drain_pipe(tee_pipe[0]);
    }
  }
  for (int i = 0; i < 2; i++) {
    if (splice_pipe[i] >= 0) close(splice_pipe[i]);
    if (tee_pipe[i] >= 0) close(tee_pipe[i]);
  }
  free(base);
  fuse_session_exit(f->se);
  if (rc < 0 && rc != -ENODEV && !f->dp->stopping) LOGE("fuse dir %s: reading /dev/fuse failed: %s; restart the data plane", f->dp->fuse_dir, strerror(-rc));
  return NULL;
}

/* Our own multi-threaded loop instead of fuse_session_loop_mt: libfuse's allocates each worker's buffer itself,
 * so a WRITE's data is never aligned and was copied once more per write. */
static void *loop_thread(void *arg) {
  struct fuse_frontend *f = arg;
  int n = f->dp->fuse_threads;
  pthread_t *t = calloc((size_t)n, sizeof *t);
  if (!t) abort();
  for (int i = 0; i < n; i++)
    if (pthread_create(&t[i], NULL, worker_thread, f)) abort();
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
  free(t);
  return NULL;
}

struct fuse_frontend *fuse_frontend_start(struct dataplane *dp, struct hw_err *err) {
  fuse_cleanup_stale(dp->fuse_dir);
  if (mkdir(dp->fuse_dir, 0700) < 0 && errno != EEXIST) {
    hw_err_set(err, "INTERNAL", "InternalError", "fuse dir %s: cannot create it: %s (pass a writable --fuse-dir)", dp->fuse_dir, strerror(errno));
    return NULL;
  }
  struct fuse_frontend *f = calloc(1, sizeof *f);
  if (!f) abort();
  f->dp = dp;
  pipe_bytes = 0;
  if (dp->fuse_splice) { /* a request needs a header page + 128 data pages: 1 MiB, fs.pipe-max-size's default */
    int p[2];
    if (pipe2(p, O_CLOEXEC) == 0) {
      if (fcntl(p[0], F_SETPIPE_SZ, (int)(2 * FUSE_MAX_WRITE)) >= (int)(2 * FUSE_MAX_WRITE)) pipe_bytes = 2 * FUSE_MAX_WRITE;
      close(p[0]);
      close(p[1]);
    }
    if (!pipe_bytes) LOGW("fuse dir %s: no pipe of 1 MiB (fs.pipe-max-size); WRITE data is read into memory (no splice)", dp->fuse_dir);
  }
  char *argv[] = {"hwameistor-dataplane", "-o", "allow_other,fsname=hwameistor-dataplane,subtype=hwameistor", NULL};
  struct fuse_args args = FUSE_ARGS_INIT(3, argv);
  f->se = fuse_session_new(&args, &ops, sizeof ops, dp);
  if (!f->se || fuse_session_mount(f->se, dp->fuse_dir) != 0) {
    hw_err_set(err, "INTERNAL", "InternalError", "fuse dir %s: cannot mount FUSE (is /dev/fuse there and fuse3 installed?)", dp->fuse_dir);
    if (f->se) fuse_session_destroy(f->se);
    free(f);
    return NULL;
  }
  if (pthread_create(&f->thread, NULL, loop_thread, f)) abort();
  f->running = true;
  LOGI("fuse dir %s: mounted, up to %d worker threads, %s", dp->fuse_dir, dp->fuse_threads, pipe_bytes ? "WRITE data spliced" : "requests read into memory");
  return f;
}

void fuse_frontend_stop(struct fuse_frontend *f) {
  if (!f) return;
  fuse_session_exit(f->se);
  fuse_session_unmount(f->se);
  if (f->running) {
    /* With no file open the connection dies with the mount and the workers return; a file still open (a
     * loop device attached) keeps it alive, then we leave: process exit closes /dev/fuse and aborts it. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 2;
    if (pthread_timedjoin_np(f->thread, NULL, &ts) != 0) {
      LOGW("fuse dir %s: a volume file is still open (loop device attached?); leaving its connection to process exit", f->dp->fuse_dir);
      return;
    }
  }
  fuse_session_destroy(f->se);
  free(f);
}

void fuse_frontend_volumes_changed(struct dataplane *dp) {
  bool any = false;
  pthread_mutex_lock(&dp->lock);
  /* Read under dp->lock only, as volume_get_ino reads `exposed`: a volume's lock is never taken under dp->lock. */
  for (struct volume *v = dp->vols; v; v = v->next) any |= v->exposed && v->npeers > 0;
  pthread_mutex_unlock(&dp->lock);
  atomic_store(&splice_now, any);
}

void fuse_frontend_forget(struct fuse_frontend *f, const char *name) {
  if (f) fuse_lowlevel_notify_inval_entry(f->se, ROOT_INO, name, strlen(name));
}

void fuse_frontend_changed(struct fuse_frontend *f, struct volume *v) {
  if (f && v->exposed) fuse_lowlevel_notify_inval_inode(f->se, v->ino, 0, 0);
}
