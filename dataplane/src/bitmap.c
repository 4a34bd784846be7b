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
  pthread_mutex_t lock;    /* bits, dirty */
  pthread_mutex_t io_lock; /* one writer of the file at a time */
  int fd;
  char path[PATH_MAX];
  struct bm_header hdr;
  uint64_t *words;
  uint64_t npages;
  uint8_t *dirty; /* per page */
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
  if (!bm->words || !bm->dirty) abort();
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

bool bitmap_set_range(struct bitmap *bm, uint64_t first, uint64_t last) {
  bool changed = false;
  pthread_mutex_lock(&bm->lock);
  for (uint64_t b = first; b <= last && b < bm->hdr.nbits; b++) {
    uint64_t m = 1ull << (b % 64);
    if (!(bm->words[b / 64] & m)) {
      bm->words[b / 64] |= m;
      bm->dirty[b / BITS_PER_PAGE] = 1;
      changed = true;
    }
  }
  pthread_mutex_unlock(&bm->lock);
  return changed;
}

void bitmap_clear(struct bitmap *bm, uint64_t bit) {
  pthread_mutex_lock(&bm->lock);
  if (bit < bm->hdr.nbits && (bm->words[bit / 64] >> (bit % 64)) & 1) {
    bm->words[bit / 64] &= ~(1ull << (bit % 64));
    bm->dirty[bit / BITS_PER_PAGE] = 1;
  }
  pthread_mutex_unlock(&bm->lock);
}

void bitmap_set_all(struct bitmap *bm) {
  if (bm->hdr.nbits) bitmap_set_range(bm, 0, bm->hdr.nbits - 1);
}

int bitmap_sync(struct bitmap *bm) {
  char page[PAGE];
  pthread_mutex_lock(&bm->io_lock);
  int rc = 0;
  bool wrote = false;
  for (uint64_t p = 0; p < bm->npages; p++) {
    pthread_mutex_lock(&bm->lock);
    bool d = bm->dirty[p];
    if (d) {
      memcpy(page, (char *)bm->words + p * PAGE, PAGE);
      bm->dirty[p] = 0;
    }
    pthread_mutex_unlock(&bm->lock);
    if (!d) continue;
    if (pwrite(bm->fd, page, PAGE, (off_t)(PAGE + p * PAGE)) != PAGE) {
      rc = errno ? -errno : -EIO;
      pthread_mutex_lock(&bm->lock);
      bm->dirty[p] = 1;
      pthread_mutex_unlock(&bm->lock);
      break;
    }
    wrote = true;
  }
  if (!rc && wrote && fdatasync(bm->fd) < 0) rc = -errno;
  pthread_mutex_unlock(&bm->io_lock);
  if (rc) LOGE("bitmap %s: write failed: %s (check the state dir's filesystem)", bm->path, strerror(-rc));
  return rc;
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
  pthread_mutex_lock(&bm->lock);
  uint64_t have = (bm->hdr.nbits + 63) / 64;
  for (uint64_t i = 0; i < nwords && i < have; i++) {
    uint64_t w = words[i];
    if (i == have - 1 && bm->hdr.nbits % 64) w &= (1ull << (bm->hdr.nbits % 64)) - 1;
    if (w & ~bm->words[i]) {
      bm->words[i] |= w;
      bm->dirty[i * 64 / BITS_PER_PAGE] = 1;
    }
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
  uint64_t *words = calloc(npages * PAGE / 8, 8);
  uint8_t *dirty = calloc(npages, 1);
  if (!words || !dirty) abort();
  memcpy(words, bm->words, bm->npages * PAGE);
  memcpy(dirty, bm->dirty, bm->npages);
  free(bm->words);
  free(bm->dirty);
  bm->words = words;
  bm->dirty = dirty;
  bm->npages = npages;
  bm->hdr.nbits = nbits;
  int rc = ftruncate(bm->fd, (off_t)(PAGE + npages * PAGE)) < 0 ? -errno : write_header(bm);
  if (!rc && fdatasync(bm->fd) < 0) rc = -errno;
  pthread_mutex_unlock(&bm->lock);
  pthread_mutex_unlock(&bm->io_lock);
  if (rc) hw_err_set(err, "INTERNAL", "InternalError", "bitmap %s: cannot grow to %llu regions: %s (check the state dir)", bm->path, (unsigned long long)nbits, strerror(-rc));
  return rc ? -1 : 0;
}
