/* A persistent bitmap, one bit per region: the `written` map of a volume and the dirty map per peer.
 * File: a 4 KiB header (magic, format, bit count, region size, label, CRC32C of the header) then the bits in
 * 4 KiB pages. Setting bits is durable after bitmap_sync (dirty pages rewritten in place + fdatasync); a header
 * that fails its checksum makes the volume refuse to start (CorruptMetadata). */
#ifndef HW_BITMAP_H
#define HW_BITMAP_H
#include "common.h"

struct bitmap;

struct bitmap *bitmap_open(const char *path, const char *volume, const char *label, uint64_t nbits, uint64_t region_bytes, bool create, struct hw_err *err);
void bitmap_close(struct bitmap *bm);
/* Deletes the file (a peer removed from the configuration). */
void bitmap_unlink(struct bitmap *bm);
bool bitmap_test(struct bitmap *bm, uint64_t bit);
/* Sets bits [first, last] in memory; true when they are not all on disk yet (one was clear, or was set by
 * another thread whose sync has not landed): the caller then calls bitmap_sync before relying on them. */
bool bitmap_set_range(struct bitmap *bm, uint64_t first, uint64_t last);
void bitmap_clear(struct bitmap *bm, uint64_t bit);
/* Whether every bit in [first, last] is set (bits beyond the end count as set). */
bool bitmap_all_set(struct bitmap *bm, uint64_t first, uint64_t last);
/* Sets all bits (a full resync). */
void bitmap_set_all(struct bitmap *bm);
/* Makes every bit set before this call durable: writes the dirty pages and fdatasyncs, or returns as soon as a
 * concurrent caller's sync carried them (group commit: callers arriving during a sync share the next one).
 * 0 or -errno. */
int bitmap_sync(struct bitmap *bm);
uint64_t bitmap_count(struct bitmap *bm);
/* How many syncs wrote pages to disk (each one fdatasync). */
uint64_t bitmap_syncs(struct bitmap *bm);
uint64_t bitmap_nbits(struct bitmap *bm);
/* The first set bit ≥ from, or UINT64_MAX. */
uint64_t bitmap_next_set(struct bitmap *bm, uint64_t from);
/* ORs nwords 64-bit little-endian words into the bitmap (a peer's bitmap received over the wire). */
void bitmap_or_words(struct bitmap *bm, const uint64_t *words, uint64_t nwords);
/* Copies up to nwords words out; returns the number of words of the bitmap. */
uint64_t bitmap_copy_words(struct bitmap *bm, uint64_t *words, uint64_t nwords);
int bitmap_grow(struct bitmap *bm, uint64_t nbits, struct hw_err *err);
#endif
