#include "bitmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BM_MAGIC "HWDPBMP1"
#define BM_FORMAT 1
#define PAGE 4096u
#define BITS_PER_PAGE (PAGE * 8u)

struct bm_header {
  char magic[8];
  uint32_t format;
  uint32_t reserved;
  uint64_t nbits;
  uint64_t region_bytes;
  char label[128];
  char volume[128];
  uint32_t crc; /* CRC32C of this header with crc = 0 */
};

struct bitmap {
  pthread_mutex_t lock;    /* bits, dirty, the sequence numbers */
  pthread_mutex_t io_lock; /* one writer of the file at a time */
  int fd;
  char path[PATH_MAX];
  struct bm_header hdr;
  uint64_t *words;
  uint64_t npages;
  uint8_t *dirty; /* per page */
  /* Group commit: a bit set and not yet on disk is also set in `pending`; a caller relying on such a bit
   * (set by another thread whose sync has not landed) waits for a sync too. Every change that sets a bit takes
   * the next set_seq; durable_seq is the highest known to be on disk, so callers arriving during a sync share
   * the next one (one page write + fdatasync for all of them, not one each). */
  uint64_t *pending;
  uint64_t set_seq, durable_seq;
  uint64_t syncs; /* fdatasyncs that wrote pages (the activity log's real cost; many writes may wait on one) */
};

static uint64_t pages_for(uint64_t nbits) { return (nbits + BITS_PER_PAGE - 1) / BITS_PER_PAGE; }

static int write_header(struct bitmap *bm) {
  char page[PAGE];
  memset(page, 0, sizeof page);
  bm->hdr.crc = 0;
  bm->hdr.crc = crc32c(0, &bm->hdr, sizeof bm->hdr);
  memcpy(page, &bm->hdr, sizeof bm->hdr);
  if (pwrite(bm->fd, page, PAGE, 0) != PAGE) return errno ? -errno : -EIO;
  return 0;
}

struct bitmap *bitmap_open(const char *path, const char *volume, const char *label, uint64_t nbits, uint64_t region_bytes, bool create, struct hw_err *err) {
  struct bitmap *bm = calloc(1, sizeof *bm);
  if (!bm) abort();
  pthread_mutex_init(&bm->lock, NULL);
  pthread_mutex_init(&bm->io_lock, NULL);
  snprintf(bm->path, sizeof bm->path, "%s", path);
  bm->npages = pages_for(nbits);
  bm->words = calloc(bm->npages ? bm->npages * PAGE / 8 : 1, 8);
  bm->dirty = calloc(bm->npages ? bm->npages : 1, 1);
  bm->pending = calloc(bm->npages ? bm->npages * PAGE / 8 : 1, 8);
  if (!bm->words || !bm->dirty || !bm->pending) abort();
  bm->fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
  struct stat st;
  if (bm->fd < 0 || fstat(bm->fd, &st) < 0) {
    hw_err_set(err, "DATA_LOSS", "CorruptMetadata", "volume %s: cannot open bitmap %s: %s (remove the volume and resync it from a peer)", volume, path,
               strerror(errno));
    bitmap_close(bm);
    return NULL;
  }
  if (st.st_size == 0 && create) {
    memcpy(bm->hdr.magic, BM_MAGIC, 8);
    bm->hdr.format = BM_FORMAT;
    bm->hdr.nbits = nbits;
    bm->hdr.region_bytes = region_bytes;
    snprintf(bm->hdr.label, sizeof bm->hdr.label, "%s", label);
    snprintf(bm->hdr.volume, sizeof bm->hdr.volume, "%s", volume);
    int rc = write_header(bm);
    if (!rc && ftruncate(bm->fd, (off_t)(PAGE + bm->npages * PAGE)) < 0) rc = -errno;
    if (!rc && fdatasync(bm->fd) < 0) rc = -errno;
    if (rc) {
      hw_err_set(err, "INTERNAL", "InternalError", "volume %s: cannot write bitmap %s: %s (check --state-dir)", volume, path, strerror(-rc));
      bitmap_close(bm);
      return NULL;
    }
    return bm;
  }
  char page[PAGE];
  uint32_t want = 0;
  bool ok = pread(bm->fd, page, PAGE, 0) == PAGE;
  if (ok) {
    memcpy(&bm->hdr, page, sizeof bm->hdr);
    want = bm->hdr.crc;
    bm->hdr.crc = 0;
    ok = crc32c(0, &bm->hdr, sizeof bm->hdr) == want && !memcmp(bm->hdr.magic, BM_MAGIC, 8) && bm->hdr.format == BM_FORMAT && bm->hdr.nbits == nbits &&
         bm->hdr.region_bytes == region_bytes;
    bm->hdr.crc = want;
  }
  if (ok) ok = pread(bm->fd, bm->words, bm->npages * PAGE, PAGE) == (ssize_t)(bm->npages * PAGE);
  if (!ok) {
    hw_err_set(err, "DATA_LOSS", "CorruptMetadata",
               "volume %s: bitmap %s is torn, fails its header checksum or does not match the volume (%llu regions); remove the volume and resync it from a peer",
               volume, path, (unsigned long long)nbits);
    bitmap_close(bm);
    return NULL;
  }
  return bm;
}

void bitmap_close(struct bitmap *bm) {
  if (!bm) return;
  if (bm->fd >= 0) close(bm->fd);
  free(bm->words);
  free(bm->dirty);
  free(bm->pending);
  pthread_mutex_destroy(&bm->lock);
  pthread_mutex_destroy(&bm->io_lock);
  free(bm);
}

void bitmap_unlink(struct bitmap *bm) {
  if (bm) unlink(bm->path);
}

bool bitmap_test(struct bitmap *bm, uint64_t bit) {
  pthread_mutex_lock(&bm->lock);
  bool set = bit < bm->hdr.nbits && (bm->words[bit / 64] >> (bit % 64)) & 1;
  pthread_mutex_unlock(&bm->lock);
  return set;
}

/* Sets the bits of mask in word i (bm->lock held): pending until a sync lands. */
static void set_word(struct bitmap *bm, uint64_t i, uint64_t mask, bool *changed) {
  if (!(mask & ~bm->words[i])) return;
  if (!*changed) bm->set_seq++;
  *changed = true;
  bm->pending[i] |= mask & ~bm->words[i];
  bm->words[i] |= mask;
  bm->dirty[i * 64 / BITS_PER_PAGE] = 1;
}

bool bitmap_set_range(struct bitmap *bm, uint64_t first, uint64_t last) {
  bool need = false, changed = false;
  pthread_mutex_lock(&bm->lock);
  for (uint64_t b = first; b <= last && b < bm->hdr.nbits; b++) {
    set_word(bm, b / 64, 1ull << (b % 64), &changed);
    need |= (bm->pending[b / 64] >> (b % 64)) & 1; /* ours, or another thread's whose sync has not landed */
  }
  pthread_mutex_unlock(&bm->lock);
  return need;
}

bool bitmap_all_set(struct bitmap *bm, uint64_t first, uint64_t last) {
  bool all = true;
  pthread_mutex_lock(&bm->lock);
  for (uint64_t b = first; b <= last && b < bm->hdr.nbits && all; b++) all = (bm->words[b / 64] >> (b % 64)) & 1;
  pthread_mutex_unlock(&bm->lock);
  return all;
}

void bitmap_clear(struct bitmap *bm, uint64_t bit) {
  pthread_mutex_lock(&bm->lock);
  if (bit < bm->hdr.nbits && (bm->words[bit / 64] >> (bit % 64)) & 1) {
    bm->words[bit / 64] &= ~(1ull << (bit % 64));
    bm->pending[bit / 64] &= ~(1ull << (bit % 64));
    bm->dirty[bit / BITS_PER_PAGE] = 1;
  }
  pthread_mutex_unlock(&bm->lock);
}

void bitmap_set_all(struct bitmap *bm) {
  if (bm->hdr.nbits) bitmap_set_range(bm, 0, bm->hdr.nbits - 1);
}

int bitmap_sync(struct bitmap *bm) {
  pthread_mutex_lock(&bm->lock);
  uint64_t want = bm->set_seq; /* covers every set this caller made or relies on */
  pthread_mutex_unlock(&bm->lock);
  pthread_mutex_lock(&bm->io_lock);
  pthread_mutex_lock(&bm->lock);
  if (bm->durable_seq >= want) { /* a sync that ran while we waited carried our bits */
    pthread_mutex_unlock(&bm->lock);
    pthread_mutex_unlock(&bm->io_lock);
    return 0;
  }
  /* Snapshot every dirty page at once: every set up to `covers` is in it (earlier syncs finished: io_lock). */
  uint64_t covers = bm->set_seq, n = 0;
  for (uint64_t p = 0; p < bm->npages; p++) n += bm->dirty[p];
  char *pages = n ? malloc(2 * n * PAGE) : NULL; /* the pages, then their pending bits */
  uint64_t *which = n ? malloc(n * 8) : NULL;
  if (n && (!pages || !which)) abort();
  for (uint64_t p = 0, k = 0; p < bm->npages; p++)
    if (bm->dirty[p]) {
      memcpy(pages + k * PAGE, (char *)bm->words + p * PAGE, PAGE);
      memcpy(pages + (n + k) * PAGE, (char *)bm->pending + p * PAGE, PAGE);
      which[k++] = p;
      bm->dirty[p] = 0;
    }
  pthread_mutex_unlock(&bm->lock);
  int rc = 0;
  for (uint64_t k = 0; k < n && !rc; k++)
    if (pwrite(bm->fd, pages + k * PAGE, PAGE, (off_t)(PAGE + which[k] * PAGE)) != PAGE) rc = errno ? -errno : -EIO;
  if (!rc && n && fdatasync(bm->fd) < 0) rc = -errno;
  pthread_mutex_lock(&bm->lock);
  if (rc) {
    for (uint64_t k = 0; k < n; k++) bm->dirty[which[k]] = 1; /* not known to be on disk: the next sync rewrites them */
  } else {
    for (uint64_t k = 0; k < n; k++) { /* bits set after the snapshot stay pending */
      const uint64_t *landed = (const uint64_t *)(pages + (n + k) * PAGE);
      for (uint64_t j = 0; j < PAGE / 8; j++) bm->pending[which[k] * PAGE / 8 + j] &= ~landed[j];
    }
    if (covers > bm->durable_seq) bm->durable_seq = covers;
    if (n) bm->syncs++;
  }
  pthread_mutex_unlock(&bm->lock);
  pthread_mutex_unlock(&bm->io_lock);
  free(pages);
  free(which);
  if (rc) LOGE("bitmap %s: write failed: %s (check the state dir's filesystem)", bm->path, strerror(-rc));
  return rc;
}

uint64_t bitmap_syncs(struct bitmap *bm) {
  if (!bm) return 0;
  pthread_mutex_lock(&bm->lock);
  uint64_t n = bm->syncs;
  pthread_mutex_unlock(&bm->lock);
  return n;
}

uint64_t bitmap_count(struct bitmap *bm) {
  if (!bm) return 0;
  uint64_t n = 0;
  pthread_mutex_lock(&bm->lock);
  for (uint64_t i = 0; i < (bm->hdr.nbits + 63) / 64; i++) n += (uint64_t)__builtin_popcountll(bm->words[i]);
  pthread_mutex_unlock(&bm->lock);
  return n;
}

uint64_t bitmap_nbits(struct bitmap *bm) { return bm->hdr.nbits; }

uint64_t bitmap_next_set(struct bitmap *bm, uint64_t from) {
  uint64_t found = UINT64_MAX;
  pthread_mutex_lock(&bm->lock);
  for (uint64_t b = from; b < bm->hdr.nbits; b++) {
    uint64_t w = bm->words[b / 64] >> (b % 64);
    if (!w) {
      b = (b / 64) * 64 + 63;
      continue;
    }
    found = b + (uint64_t)__builtin_ctzll(w);
    break;
  }
  if (found >= bm->hdr.nbits) found = UINT64_MAX;
  pthread_mutex_unlock(&bm->lock);
  return found;
}

void bitmap_or_words(struct bitmap *bm, const uint64_t *words, uint64_t nwords) {
  bool changed = false;
  pthread_mutex_lock(&bm->lock);
  uint64_t have = (bm->hdr.nbits + 63) / 64;
  for (uint64_t i = 0; i < nwords && i < have; i++) {
    uint64_t w = words[i];
    if (i == have - 1 && bm->hdr.nbits % 64) w &= (1ull << (bm->hdr.nbits % 64)) - 1;
    set_word(bm, i, w, &changed);
  }
  pthread_mutex_unlock(&bm->lock);
}

uint64_t bitmap_copy_words(struct bitmap *bm, uint64_t *words, uint64_t nwords) {
  pthread_mutex_lock(&bm->lock);
  uint64_t have = (bm->hdr.nbits + 63) / 64;
  memcpy(words, bm->words, (nwords < have ? nwords : have) * 8);
  pthread_mutex_unlock(&bm->lock);
  return have;
}

int bitmap_grow(struct bitmap *bm, uint64_t nbits, struct hw_err *err) {
  if (nbits <= bm->hdr.nbits) return 0;
  uint64_t npages = pages_for(nbits);
  pthread_mutex_lock(&bm->io_lock);
  pthread_mutex_lock(&bm->lock);
  uint64_t *words = calloc(npages * PAGE / 8, 8), *pending = calloc(npages * PAGE / 8, 8);
  uint8_t *dirty = calloc(npages, 1);
  if (!words || !dirty || !pending) abort();
  memcpy(words, bm->words, bm->npages * PAGE);
  memcpy(dirty, bm->dirty, bm->npages);
  memcpy(pending, bm->pending, bm->npages * PAGE);
  free(bm->words);
  free(bm->dirty);
  free(bm->pending);
  bm->words = words;
  bm->dirty = dirty;
  bm->pending = pending;
  bm->npages = npages;
  bm->hdr.nbits = nbits;
  int rc = ftruncate(bm->fd, (off_t)(PAGE + npages * PAGE)) < 0 ? -errno : write_header(bm);
  if (!rc && fdatasync(bm->fd) < 0) rc = -errno;
  pthread_mutex_unlock(&bm->lock);
  pthread_mutex_unlock(&bm->io_lock);
  if (rc) hw_err_set(err, "INTERNAL", "InternalError", "bitmap %s: cannot grow to %llu regions: %s (check the state dir)", bm->path, (unsigned long long)nbits, strerror(-rc));
  return rc ? -1 : 0;
}
