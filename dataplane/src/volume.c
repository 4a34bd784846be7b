/* Volumes: the registry, opening and creating them, and the control ops that change a volume. The meta file is
 * in volume_meta.c, the local I/O path in volume_io.c, the replication side of the write path in peer.c, the
 * frontend in fuse_frontend.c. */
#include "volume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bitmap.h"
#include "fuse_frontend.h"
#include "peer.h"

const char *role_name(enum role r) { return r == ROLE_PRIMARY ? "primary" : r == ROLE_SECONDARY ? "secondary" : "none"; }

const char *local_state_name(enum local_state s) { return s == LS_UPTODATE ? "UpToDate" : s == LS_INCONSISTENT ? "Inconsistent" : "Outdated"; }

/* ---- registry ---- */

static struct volume *find_locked(struct dataplane *dp, const char *name) {
  for (struct volume *v = dp->vols; v; v = v->next)
    if (!strcmp(v->name, name)) return v;
  return NULL;
}

struct volume *volume_get(struct dataplane *dp, const char *name) {
  pthread_mutex_lock(&dp->lock);
  struct volume *v = find_locked(dp, name);
  if (v) v->refs++;
  pthread_mutex_unlock(&dp->lock);
  return v;
}

struct volume *volume_get_ino(struct dataplane *dp, uint64_t ino) {
  pthread_mutex_lock(&dp->lock);
  struct volume *v = dp->vols;
  while (v && !(v->ino == ino && v->exposed)) v = v->next;
  if (v) v->refs++;
  pthread_mutex_unlock(&dp->lock);
  return v;
}

static void volume_free(struct volume *v) {
  if (v->fd >= 0) close(v->fd);
  if (v->fd_buffered >= 0) close(v->fd_buffered);
  bitmap_close(v->written);
  free(v->touched_s);
  free(v->ranges);
  pthread_mutex_destroy(&v->verify_lock);
  pthread_mutex_destroy(&v->lock);
  pthread_cond_destroy(&v->cond);
  free(v);
}

void volume_put(struct volume *v) {
  struct dataplane *dp = v->dp;
  pthread_mutex_lock(&dp->lock);
  bool last = --v->refs == 0;
  pthread_mutex_unlock(&dp->lock);
  if (last) volume_free(v);
}

/* ---- open / create ---- */

static int backing_size(int fd, uint64_t *size) {
  struct stat st;
  if (fstat(fd, &st) < 0) return -errno;
  if (S_ISBLK(st.st_mode)) return ioctl(fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
  if (S_ISREG(st.st_mode)) {
    *size = (uint64_t)st.st_size;
    return 0;
  }
  return -ENOTBLK;
}

static int open_backing(struct volume *v, struct hw_err *err) {
  v->fd = open(v->backing, O_RDWR | O_DIRECT | O_CLOEXEC);
  if (v->fd < 0) {
    int e = errno;
    hw_err_set(err, "NOT_FOUND", "DeviceNotFound", "volume %s: cannot open backing %s: %s (create the replica's device first)", v->name, v->backing, strerror(e));
    return -1;
  }
  v->fd_buffered = open(v->backing, O_RDWR | O_CLOEXEC);
  uint64_t have = 0;
  int rc = backing_size(v->fd, &have);
  if (rc || v->fd_buffered < 0) {
    hw_err_set(err, "FAILED_PRECONDITION", "NotABlockDevice", "volume %s: backing %s is not a block device or regular file (%s)", v->name, v->backing,
               strerror(rc ? -rc : errno));
    return -1;
  }
  if (have < v->size_bytes) {
    hw_err_set(err, "FAILED_PRECONDITION", "DeviceTooSmall", "volume %s: backing %s has %llu bytes, the volume needs %llu (grow the replica's device first)",
               v->name, v->backing, (unsigned long long)have, (unsigned long long)v->size_bytes);
    return -1;
  }
  return 0;
}

static int make_uuid(char *out, size_t n) {
  char *u = NULL;
  if (read_file("/proc/sys/kernel/random/uuid", &u, NULL)) return -1;
  u[strcspn(u, "\n")] = '\0';
  snprintf(out, n, "%s", u);
  free(u);
  return 0;
}

static struct volume *volume_alloc(struct dataplane *dp, const char *name) {
  struct volume *v = calloc(1, sizeof *v);
  if (!v) abort();
  v->dp = dp;
  v->fd = v->fd_buffered = -1;
  snprintf(v->name, sizeof v->name, "%s", name);
  snprintf(v->dir, sizeof v->dir, "%s/%s", dp->state_dir, name);
  pthread_mutex_init(&v->lock, NULL);
  pthread_cond_init(&v->cond, NULL);
  pthread_mutex_init(&v->verify_lock, NULL);
  v->refs = 1; /* the registry's */
  v->replica_fd = -1;
  for (int i = 0; i < DP_LANES - 1; i++) v->lane_fds[i] = -1;
  v->maxranges = dp->fuse_threads + 256; /* writes waiting for acks hold a range but no thread (the kernel sends up to max_background) */
  v->ranges = calloc((size_t)v->maxranges, sizeof *v->ranges);
  if (!v->ranges) abort();
  return v;
}

/* Opens the per-volume structures that depend on size and region size: written bitmap, last-write times. */
static int open_regions(struct volume *v, bool create, struct hw_err *err) {
  v->nregions = (v->size_bytes + v->region_bytes - 1) / v->region_bytes;
  v->touched_s = calloc(v->nregions ? v->nregions : 1, sizeof *v->touched_s);
  if (!v->touched_s) abort();
  char path[PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/written", v->dir);
  v->written = bitmap_open(path, v->name, "written", v->nregions, v->region_bytes, create, err);
  return v->written ? 0 : -1;
}

static void registry_add(struct dataplane *dp, struct volume *v) {
  pthread_mutex_lock(&dp->lock);
  v->ino = dp->next_ino++;
  v->next = dp->vols;
  dp->vols = v;
  pthread_mutex_unlock(&dp->lock);
}

int volume_ensure(struct dataplane *dp, const char *name, uint64_t size, const char *backing, uint64_t region, struct hw_err *err) {
  pthread_mutex_lock(&dp->lock);
  struct volume *existing = find_locked(dp, name);
  pthread_mutex_unlock(&dp->lock);
  if (existing) {
    if (strcmp(existing->backing, backing)) {
      hw_err_set(err, "FAILED_PRECONDITION", "VolumeMismatch", "volume %s exists on backing %s, not %s (remove it first to move it)", name, existing->backing,
                 backing);
      return -1;
    }
    if (existing->size_bytes != size) {
      hw_err_set(err, "FAILED_PRECONDITION", "VolumeMismatch", "volume %s has %llu bytes, not %llu (use the resize op to grow it)", name,
                 (unsigned long long)existing->size_bytes, (unsigned long long)size);
      return -1;
    }
    return 0;
  }
  if (!region) region = DP_DEFAULT_REGION;
  if (region < 4096 || (region & (region - 1)) || size == 0 || size % 512) {
    hw_err_set(err, "INVALID_ARGUMENT", "Invalid", "volume %s: sizeBytes must be a positive multiple of 512 and regionBytes a power of two ≥ 4096", name);
    return -1;
  }
  struct volume *v = volume_alloc(dp, name);
  v->size_bytes = size;
  v->region_bytes = region;
  v->epoch = 0;
  v->role = ROLE_NONE;
  v->local_state = LS_UPTODATE; /* a new replica: nothing written yet, the written bitmap is empty */
  snprintf(v->backing, sizeof v->backing, "%s", backing);
  if (mkdir(v->dir, 0700) < 0 && errno != EEXIST) {
    hw_err_set(err, "INTERNAL", "InternalError", "volume %s: cannot create %s: %s (check --state-dir)", name, v->dir, strerror(errno));
    volume_free(v);
    return -1;
  }
  if (make_uuid(v->uuid, sizeof v->uuid) || open_backing(v, err) || open_regions(v, true, err) || volume_save_meta(v)) {
    if (!err->code) hw_err_set(err, "INTERNAL", "InternalError", "volume %s: cannot write its metadata in %s (check --state-dir)", name, v->dir);
    volume_free(v);
    return -1;
  }
  registry_add(dp, v);
  LOGI("volume %s: created on %s, %llu bytes, regions of %llu", name, backing, (unsigned long long)size, (unsigned long long)region);
  dp_emit(dp, "created", name);
  return 0;
}

void volume_load_all(struct dataplane *dp) {
  DIR *d = opendir(dp->state_dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.' || !valid_name(e->d_name)) continue;
    struct volume *v = volume_alloc(dp, e->d_name);
    struct hw_err err = {0};
    if (volume_load_meta(v, &err) || open_backing(v, &err) || open_regions(v, false, &err)) {
      LOGE("%s: %s", err.reason ? err.reason : "error", err.message);
      volume_free(v);
      continue;
    }
    registry_add(dp, v);
    LOGI("volume %s: reopened (epoch %llu, %s, %s)", v->name, (unsigned long long)v->epoch, role_name(v->role), local_state_name(v->local_state));
  }
  closedir(d);
}

void volume_close_all(struct dataplane *dp) {
  for (;;) {
    pthread_mutex_lock(&dp->lock);
    struct volume *v = dp->vols;
    if (v) dp->vols = v->next;
    pthread_mutex_unlock(&dp->lock);
    if (!v) break;
    peer_stop_all(v);
    if (v->fd >= 0) fdatasync(v->fd);
    volume_put(v);
  }
}

/* ---- control ops ---- */

int volume_configure(struct volume *v, uint64_t epoch, enum role role, const struct json *peers, struct hw_err *err) {
  pthread_mutex_lock(&v->lock);
  if (epoch < v->epoch) {
    hw_err_set(err, "FAILED_PRECONDITION", "StaleEpoch", "volume %s: epoch %llu is older than the stored %llu (the controller must pass the current spec.config.version)",
               v->name, (unsigned long long)epoch, (unsigned long long)v->epoch);
    pthread_mutex_unlock(&v->lock);
    return -1;
  }
  if (role != ROLE_PRIMARY && v->exposed) {
    hw_err_set(err, "FAILED_PRECONDITION", "Busy", "volume %s is exposed; unexpose it (detach its loop device) before demoting it", v->name);
    pthread_mutex_unlock(&v->lock);
    return -1;
  }
  if (role == ROLE_PRIMARY && v->local_state != LS_UPTODATE) {
    hw_err_set(err, "FAILED_PRECONDITION", "NotUpToDate", "volume %s: the local replica is %s; only an UpToDate replica can become primary (pick a synced replica)",
               v->name, local_state_name(v->local_state));
    pthread_mutex_unlock(&v->lock);
    return -1;
  }
  bool changed = epoch != v->epoch || role != v->role;
  /* A newer epoch from the control plane, or becoming a secondary, lifts the fence. */
  if (epoch > v->epoch || role == ROLE_SECONDARY) v->fenced = false;
  v->epoch = epoch;
  v->role = role;
  int rc = changed ? volume_save_meta(v) : 0;
  pthread_mutex_unlock(&v->lock);
  if (!rc && peer_configure(v, peers, err)) return -1;
  if (rc) {
    hw_err_set(err, "INTERNAL", "InternalError", "volume %s: cannot persist the epoch in %s/meta: %s (check --state-dir)", v->name, v->dir, strerror(-rc));
    return -1;
  }
  pthread_mutex_lock(&v->lock);
  v->configured = true;
  pthread_mutex_unlock(&v->lock);
  fuse_frontend_volumes_changed(v->dp);
  if (changed) dp_emit(v->dp, "configured", v->name);
  return 0;
}

int volume_expose(struct volume *v, struct hw_err *err) {
  pthread_mutex_lock(&v->lock);
  if (v->role != ROLE_PRIMARY) {
    hw_err_set(err, "FAILED_PRECONDITION", "NotPrimary", "volume %s is %s on this node; configure it as primary before exposing it", v->name, role_name(v->role));
    pthread_mutex_unlock(&v->lock);
    return -1;
  }
  if (!v->configured) { /* reopened after a restart: without its peers, writes would reach no bitmap */
    hw_err_set(err, "FAILED_PRECONDITION", "NotConfigured", "volume %s was reopened after a restart; configure it (epoch, role, peers) before exposing it",
               v->name);
    pthread_mutex_unlock(&v->lock);
    return -1;
  }
  bool was = v->exposed;
  v->exposed = true;
  pthread_mutex_unlock(&v->lock);
  fuse_frontend_volumes_changed(v->dp);
  if (!was) {
    LOGI("volume %s: exposed at %s/%s", v->name, v->dp->fuse_dir, v->name);
    dp_emit(v->dp, "exposed", v->name);
  }
  return 0;
}

int volume_unexpose(struct volume *v, struct hw_err *err) {
  pthread_mutex_lock(&v->lock);
  if (v->exposed && v->open_count > 0) {
    hw_err_set(err, "FAILED_PRECONDITION", "Busy", "volume %s: %s/%s is open %d time(s); detach its loop device first", v->name, v->dp->fuse_dir, v->name,
               v->open_count);
    pthread_mutex_unlock(&v->lock);
    return -1;
  }
  bool was = v->exposed;
  v->exposed = false;
  pthread_mutex_unlock(&v->lock);
  fuse_frontend_volumes_changed(v->dp);
  if (was) {
    fuse_frontend_forget(v->dp->fuse, v->name);
    dp_emit(v->dp, "unexposed", v->name);
  }
  return 0;
}

static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char path[PATH_MAX + 300];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

int volume_remove(struct dataplane *dp, const char *name, struct hw_err *err) {
  struct volume *v = volume_get(dp, name);
  if (!v) return 0; /* idempotent */
  if (volume_unexpose(v, err)) {
    volume_put(v);
    return -1;
  }
  pthread_mutex_lock(&dp->lock);
  struct volume **pp = &dp->vols;
  while (*pp && *pp != v) pp = &(*pp)->next;
  bool listed = *pp == v;
  if (listed) *pp = v->next;
  pthread_mutex_unlock(&dp->lock);
  peer_stop_all(v);
  remove_dir(v->dir);
  LOGI("volume %s: removed (state dir %s deleted; the backing %s is left to its engine)", name, v->dir, v->backing);
  dp_emit(dp, "removed", name);
  volume_put(v);
  if (listed) volume_put(v); /* the registry's reference */
  return 0;
}

int volume_resize(struct volume *v, uint64_t size, struct hw_err *err) {
  pthread_mutex_lock(&v->lock);
  if (size < v->size_bytes) {
    hw_err_set(err, "FAILED_PRECONDITION", "ShrinkRefused", "volume %s: %llu bytes is smaller than its %llu; volumes only grow", v->name, (unsigned long long)size,
               (unsigned long long)v->size_bytes);
    pthread_mutex_unlock(&v->lock);
    return -1;
  }
  if (size % 512) {
    hw_err_set(err, "INVALID_ARGUMENT", "Invalid", "volume %s: sizeBytes %llu is not a multiple of 512", v->name, (unsigned long long)size);
    pthread_mutex_unlock(&v->lock);
    return -1;
  }
  if (size == v->size_bytes) {
    pthread_mutex_unlock(&v->lock);
    return 0;
  }
  uint64_t have = 0;
  if (backing_size(v->fd, &have) || have < size) {
    hw_err_set(err, "FAILED_PRECONDITION", "DeviceTooSmall", "volume %s: backing %s has %llu bytes, %llu needed (grow the replica's device first)", v->name,
               v->backing, (unsigned long long)have, (unsigned long long)size);
    pthread_mutex_unlock(&v->lock);
    return -1;
  }
  uint64_t nregions = (size + v->region_bytes - 1) / v->region_bytes;
  if (bitmap_grow(v->written, nregions, err) || peer_grow_bitmaps(v, nregions, err)) {
    pthread_mutex_unlock(&v->lock);
    return -1;
  }
  uint32_t *touched = calloc(nregions, sizeof *touched);
  if (!touched) abort();
  memcpy(touched, v->touched_s, v->nregions * sizeof *touched);
  free(v->touched_s);
  v->touched_s = touched;
  v->nregions = nregions;
  v->size_bytes = size;
  int rc = volume_save_meta(v);
  pthread_mutex_unlock(&v->lock);
  if (rc) {
    hw_err_set(err, "INTERNAL", "InternalError", "volume %s: cannot persist the new size in %s/meta (check --state-dir)", v->name, v->dir);
    return -1;
  }
  fuse_frontend_changed(v->dp->fuse, v);
  dp_emit(v->dp, "resized", v->name);
  return 0;
}

void volume_status(struct volume *v, struct sbuf *b) {
  pthread_mutex_lock(&v->lock);
  sb_append(b, "{", 1);
  jw_str(b, "volume", v->name);
  jw_u64(b, "sizeBytes", v->size_bytes);
  jw_u64(b, "regionBytes", v->region_bytes);
  jw_str(b, "backingPath", v->backing);
  jw_str(b, "role", role_name(v->role));
  jw_u64(b, "epoch", v->epoch);
  jw_bool(b, "fenced", v->fenced);
  jw_bool(b, "suspended", v->suspended);
  jw_bool(b, "exposed", v->exposed);
  char path[PATH_MAX + DP_NAME_MAX + 2];
  snprintf(path, sizeof path, "%s/%s", v->dp->fuse_dir, v->name);
  jw_str(b, "path", v->exposed ? path : "");
  jw_u64(b, "openCount", (uint64_t)v->open_count);
  jw_str(b, "localState", local_state_name(v->local_state));
  jw_u64(b, "writtenBytes", bitmap_count(v->written) * v->region_bytes);
  jw_u64(b, "writesTotal", v->writes_total);
  jw_u64(b, "bytesWritten", v->bytes_written);
  jw_u64(b, "readsTotal", v->reads_total);
  jw_u64(b, "bytesRead", v->bytes_read);
  jw_u64(b, "flushesTotal", v->flushes_total);
  jw_u64(b, "bytesReplicated", v->bytes_replicated);
  jw_u64(b, "bytesResynced", v->bytes_resynced);
  static const char *stage_names[ST_COUNT] = {"wait", "activityLog", "send", "localWrite", "ackAfterLocal", "rxPayload", "rxDisk", "rxInOrder", "rxIdle", "rxInline"};
  sb_key(b, "stages");
  sb_append(b, "{", 1);
  for (int i = 0; i < ST_COUNT; i++) {
    sb_key(b, stage_names[i]);
    sb_append(b, "{", 1);
    jw_u64(b, "count", v->stages[i].count);
    jw_u64(b, "totalUs", v->stages[i].ns / 1000);
    sb_append(b, "}", 1);
  }
  sb_append(b, "}", 1);
  sb_key(b, "peers");
  sb_append(b, "[", 1);
  for (int i = 0; i < v->npeers; i++) {
    if (i) sb_append(b, ",", 1);
    peer_status(v->peers[i], b);
  }
  sb_append(b, "]}", 2);
  pthread_mutex_unlock(&v->lock);
}

