/* A volume's persistent metadata: <state-dir>/<volume>/meta, JSON (epoch, role, local state, size, uuid,
 * backing, sync source) followed by a CRC32C line, written to a temp file, fsync'd and renamed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "volume.h"

#define META_MAGIC "hwameistor-dataplane-meta"
#define META_FORMAT 1

int volume_save_meta(struct volume *v) {
  struct sbuf b;
  sb_init(&b);
  sb_append(&b, "{", 1);
  jw_str(&b, "magic", META_MAGIC);
  jw_u64(&b, "formatVersion", META_FORMAT);
  jw_str(&b, "volume", v->name);
  jw_u64(&b, "sizeBytes", v->size_bytes);
  jw_u64(&b, "regionBytes", v->region_bytes);
  jw_u64(&b, "epoch", v->epoch);
  jw_str(&b, "role", role_name(v->role));
  jw_str(&b, "localState", local_state_name(v->local_state));
  jw_str(&b, "uuid", v->uuid);
  jw_str(&b, "backingPath", v->backing);
  jw_str(&b, "syncSource", v->sync_source);
  sb_append(&b, "}\n", 2);
  sb_printf(&b, "crc32c=%08x\n", crc32c(0, b.data, b.len));
  char path[PATH_MAX + 8];
  snprintf(path, sizeof path, "%s/meta", v->dir);
  int rc = write_file_atomic(path, b.data, b.len);
  sb_free(&b);
  if (rc) LOGE("volume %s: writing %s failed: %s (check the state dir's filesystem)", v->name, path, strerror(-rc));
  return rc;
}

/* Reads and checks <dir>/meta into v. A missing, torn or checksum-failing file is CorruptMetadata: the volume is
 * refused rather than silently assumed in sync. */
int volume_load_meta(struct volume *v, struct hw_err *err) {
  char path[PATH_MAX + 8];
  snprintf(path, sizeof path, "%s/meta", v->dir);
  char *text = NULL;
  size_t len = 0;
  int rc = read_file(path, &text, &len);
  if (rc) {
    hw_err_set(err, "DATA_LOSS", "CorruptMetadata", "volume %s: cannot read %s: %s (restore it or remove the volume and resync it from a peer)", v->name, path,
               strerror(-rc));
    return -1;
  }
  char *crcline = strstr(text, "}\ncrc32c=");
  unsigned stored = 0;
  if (!crcline || sscanf(crcline + 2, "crc32c=%8x", &stored) != 1 || crc32c(0, text, (size_t)(crcline + 2 - text)) != stored) {
    hw_err_set(err, "DATA_LOSS", "CorruptMetadata", "volume %s: %s fails its checksum (torn or edited; remove the volume and resync it from a peer)", v->name,
               path);
    free(text);
    return -1;
  }
  crcline[1] = '\0';
  char perr[128];
  struct json *j = json_parse(text, perr, sizeof perr);
  free(text);
  uint64_t fmt = 0;
  const char *role = json_get_str(j, "role"), *ls = json_get_str(j, "localState"), *uuid = json_get_str(j, "uuid"), *backing = json_get_str(j, "backingPath");
  const char *magic = json_get_str(j, "magic");
  if (!j || !magic || strcmp(magic, META_MAGIC) || !json_get_u64(j, "formatVersion", &fmt) || fmt != META_FORMAT || !json_get_u64(j, "sizeBytes", &v->size_bytes) ||
      !json_get_u64(j, "regionBytes", &v->region_bytes) || !json_get_u64(j, "epoch", &v->epoch) || !role || !ls || !uuid || !backing || !v->region_bytes) {
    hw_err_set(err, "DATA_LOSS", "CorruptMetadata", "volume %s: %s has missing or unknown fields (format %llu; remove the volume and resync it from a peer)",
               v->name, path, (unsigned long long)fmt);
    json_free(j);
    return -1;
  }
  v->role = !strcmp(role, "primary") ? ROLE_PRIMARY : !strcmp(role, "secondary") ? ROLE_SECONDARY : ROLE_NONE;
  v->local_state = !strcmp(ls, "UpToDate") ? LS_UPTODATE : !strcmp(ls, "Inconsistent") ? LS_INCONSISTENT : LS_OUTDATED;
  snprintf(v->uuid, sizeof v->uuid, "%s", uuid);
  snprintf(v->backing, sizeof v->backing, "%s", backing);
  const char *src = json_get_str(j, "syncSource");
  snprintf(v->sync_source, sizeof v->sync_source, "%s", src ? src : "");
  json_free(j);
  return 0;
}

int volume_raise_epoch(struct volume *v, uint64_t epoch) {
  if (epoch <= v->epoch) return 0;
  v->epoch = epoch;
  return volume_save_meta(v);
}

