#include "control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "json.h"
#include "peer.h"
#include "verify.h"
#include "volume.h"

#define MAX_LINE (1u << 20)


struct conn {
  struct dataplane *dp;
  int fd;
  pthread_mutex_t wlock; /* answers and events on a subscribed connection must not interleave */
};

static void conn_send(struct conn *c, struct sbuf *b) {
  sb_append(b, "\n", 1);
  pthread_mutex_lock(&c->wlock);
  (void)write_full(c->fd, b->data, b->len);
  pthread_mutex_unlock(&c->wlock);
}


void dp_emit(struct dataplane *dp, const char *event, const char *volume) {
  struct sbuf b;
  sb_init(&b);
  sb_append(&b, "{", 1);
  jw_str(&b, "event", event);
  if (volume) jw_str(&b, "volume", volume);
  sb_append(&b, "}", 1);
  sb_append(&b, "\n", 1);
  /* Never block here (callers sit on the I/O path's edges): a subscriber that does not read its events, e.g. a
   * stopped node agent, is cut off instead (it re-reads the whole status when it subscribes again). */
  pthread_mutex_lock(&dp->lock);
  for (int i = 0; i < dp->nsubscribers; i++) {
    struct conn *c = dp->subscribers[i];
    if (pthread_mutex_trylock(&c->wlock) != 0) {
      shutdown(c->fd, SHUT_RDWR);
      continue;
    }
    ssize_t n = send(c->fd, b.data, b.len, MSG_DONTWAIT | MSG_NOSIGNAL);
    pthread_mutex_unlock(&c->wlock);
    if (n != (ssize_t)b.len) {
      LOGW("control: a subscriber does not read its events; closing its connection");
      shutdown(c->fd, SHUT_RDWR);
    }
  }
  pthread_mutex_unlock(&dp->lock);
  sb_free(&b);
}

static void unsubscribe(struct conn *c) {
  struct dataplane *dp = c->dp;
  pthread_mutex_lock(&dp->lock);
  for (int i = 0; i < dp->nsubscribers; i++)
    if (dp->subscribers[i] == c) {
      dp->subscribers[i] = dp->subscribers[dp->nsubscribers - 1];
      dp->nsubscribers--;
      break;
    }
  pthread_mutex_unlock(&dp->lock);
}

static void status_all(struct dataplane *dp, const char *only, struct sbuf *b) {
  sb_key(b, "volumes");
  sb_append(b, "[", 1);
  /* Collect references first: volume_status takes the volume's lock, never under dp->lock. */
  struct volume *list[256];
  int n = 0;
  pthread_mutex_lock(&dp->lock);
  for (struct volume *v = dp->vols; v && n < 256; v = v->next)
    if (!only || !strcmp(only, v->name)) {
      v->refs++;
      list[n++] = v;
    }
  pthread_mutex_unlock(&dp->lock);
  for (int i = n - 1; i >= 0; i--) {
    if (i != n - 1) sb_append(b, ",", 1);
    volume_status(list[i], b);
    volume_put(list[i]);
  }
  sb_append(b, "]", 1);
}

/* Appends the volume's status fields flat into the answer (the answer object is open). */
static void status_flat(struct volume *v, struct sbuf *b) {
  struct sbuf s;
  sb_init(&s);
  volume_status(v, &s);
  sb_append(b, ",", 1);
  sb_append(b, s.data + 1, s.len - 2); /* without the braces */
  sb_free(&s);
}

static struct volume *need_volume(struct dataplane *dp, const struct json *req, struct hw_err *err) {
  const char *name = json_get_str(req, "volume");
  if (!valid_name(name)) {
    hw_err_set(err, "INVALID_ARGUMENT", "Invalid", "field volume must be a name of [A-Za-z0-9._-], 1 to 127 characters");
    return NULL;
  }
  struct volume *v = volume_get(dp, name);
  if (!v) hw_err_set(err, "NOT_FOUND", "NotFound", "volume %s is not known to this data plane (call ensure first)", name);
  return v;
}

/* Runs one request; appends answer fields to b (after {"id":..,"ok":true) or sets err. */
static int dispatch(struct conn *c, const char *op, const struct json *req, struct sbuf *b, struct hw_err *err) {
  struct dataplane *dp = c->dp;
  if (!strcmp(op, "hello")) {
    jw_str(b, "version", DP_VERSION);
    sb_key(b, "protocolVersion");
    sb_printf(b, "\"%d.%d\"", DP_PROTOCOL_MAJOR, DP_PROTOCOL_MINOR);
    jw_str(b, "node", dp->node);
    sb_key(b, "frontends");
    sb_append(b, "[\"fuse\"]", 8);
    jw_str(b, "listen", dp->listen);
    jw_str(b, "fuseDir", dp->fuse_dir);
    return 0;
  }
  if (!strcmp(op, "status")) {
    const char *only = json_get_str(req, "volume");
    if (only) {
      struct volume *v = need_volume(dp, req, err);
      if (!v) return -1;
      volume_put(v);
    }
    status_all(dp, only, b);
    return 0;
  }
  if (!strcmp(op, "subscribe")) {
    pthread_mutex_lock(&dp->lock);
    bool already = false;
    for (int i = 0; i < dp->nsubscribers; i++) already |= dp->subscribers[i] == c;
    if (!already && dp->nsubscribers < 32) dp->subscribers[dp->nsubscribers++] = c;
    pthread_mutex_unlock(&dp->lock);
    return 0;
  }
  if (!strcmp(op, "ensure")) {
    const char *name = json_get_str(req, "volume"), *backing = json_get_str(req, "backingPath");
    uint64_t size = 0, region = 0;
    if (!valid_name(name) || !backing || backing[0] != '/' || !json_get_u64(req, "sizeBytes", &size) ||
        (json_get(req, "regionBytes") && !json_get_u64(req, "regionBytes", &region))) {
      hw_err_set(err, "INVALID_ARGUMENT", "Invalid", "ensure needs volume (a name), sizeBytes (an integer) and backingPath (an absolute path); regionBytes is optional");
      return -1;
    }
    if (volume_ensure(dp, name, size, backing, region, err)) return -1;
    struct volume *v = volume_get(dp, name);
    if (!v) return -1;
    status_flat(v, b);
    volume_put(v);
    return 0;
  }
  if (!strcmp(op, "remove")) {
    const char *name = json_get_str(req, "volume");
    if (!valid_name(name)) {
      hw_err_set(err, "INVALID_ARGUMENT", "Invalid", "remove needs volume (a name)");
      return -1;
    }
    return volume_remove(dp, name, err);
  }
  static const char *const volume_ops[] = {"configure", "expose", "unexpose", "outdate-peer", "resize", "verify", NULL};
  bool known = false;
  for (int i = 0; volume_ops[i]; i++) known |= !strcmp(op, volume_ops[i]);
  if (!known) {
    hw_err_set(err, "UNIMPLEMENTED", "NotImplemented", "unknown op %s (ops: hello ensure configure expose unexpose outdate-peer resize verify remove status subscribe)",
               op);
    return -1;
  }
  struct volume *v = need_volume(dp, req, err);
  if (!v) return -1;
  int rc = -1;
  if (!strcmp(op, "configure")) {
    uint64_t epoch = 0;
    const char *role = json_get_str(req, "role");
    const struct json *peers = json_get(req, "peers");
    if (!json_get_u64(req, "epoch", &epoch) || !role || (strcmp(role, "primary") && strcmp(role, "secondary")) || (peers && peers->type != JSON_ARRAY)) {
      hw_err_set(err, "INVALID_ARGUMENT", "Invalid", "volume %s: configure needs epoch (an integer), role (primary or secondary) and peers (an array)", v->name);
    } else if ((rc = volume_configure(v, epoch, !strcmp(role, "primary") ? ROLE_PRIMARY : ROLE_SECONDARY, peers, err)) == 0) {
      status_flat(v, b);
    }
  } else if (!strcmp(op, "expose")) {
    if ((rc = volume_expose(v, err)) == 0) {
      char path[PATH_MAX + DP_NAME_MAX + 2];
      snprintf(path, sizeof path, "%s/%s", dp->fuse_dir, v->name);
      jw_str(b, "path", path);
    }
  } else if (!strcmp(op, "unexpose")) {
    rc = volume_unexpose(v, err);
  } else if (!strcmp(op, "outdate-peer")) {
    const char *peer = json_get_str(req, "peer");
    if (!valid_name(peer))
      hw_err_set(err, "INVALID_ARGUMENT", "Invalid", "volume %s: outdate-peer needs peer (a node name)", v->name);
    else if ((rc = peer_outdate(v, peer, err)) == 0)
      status_flat(v, b);
  } else if (!strcmp(op, "resize")) {
    uint64_t size = 0;
    if (!json_get_u64(req, "sizeBytes", &size))
      hw_err_set(err, "INVALID_ARGUMENT", "Invalid", "volume %s: resize needs sizeBytes (an integer)", v->name);
    else if ((rc = volume_resize(v, size, err)) == 0)
      status_flat(v, b);
  } else if (!strcmp(op, "verify")) {
    rc = volume_verify(v, b, err);
  } else {
    hw_err_set(err, "UNIMPLEMENTED", "NotImplemented", "unknown op %s (ops: hello ensure configure expose unexpose outdate-peer resize verify remove status subscribe)",
               op);
  }
  volume_put(v);
  return rc;
}

static void handle_line(struct conn *c, const char *line) {
  char perr[128];
  struct json *req = json_parse(line, perr, sizeof perr);
  struct sbuf b;
  sb_init(&b);
  sb_append(&b, "{\"id\":", 6);
  const struct json *id = json_get(req, "id");
  if (id && id->type == JSON_NUMBER)
    sb_append(&b, id->str, strlen(id->str));
  else if (id && id->type == JSON_STRING)
    sb_json_str(&b, id->str);
  else
    sb_append(&b, "null", 4);
  struct hw_err err = {0};
  const char *op = json_get_str(req, "op");
  int rc;
  if (!req || req->type != JSON_OBJECT) {
    hw_err_set(&err, "INVALID_ARGUMENT", "Invalid", "request is not a JSON object (%s); send one JSON object per line", req ? "wrong type" : perr);
    rc = -1;
  } else if (!op) {
    hw_err_set(&err, "INVALID_ARGUMENT", "Invalid", "request has no op (a string)");
    rc = -1;
  } else {
    struct sbuf fields;
    sb_init(&fields);
    sb_append(&fields, "{", 1);
    rc = dispatch(c, op, req, &fields, &err);
    if (rc == 0) {
      sb_append(&b, ",\"ok\":true", 10);
      if (fields.len > 1) {
        if (fields.data[1] != ',') sb_append(&b, ",", 1);
        sb_append(&b, fields.data + 1, fields.len - 1);
      }
    }
    sb_free(&fields);
  }
  if (rc != 0) {
    if (!err.code) hw_err_set(&err, "INTERNAL", "InternalError", "op %s failed without a reason (a data plane bug; see its log)", op ? op : "?");
    sb_append(&b, ",\"ok\":false,\"error\":{", 21);
    jw_str(&b, "code", err.code);
    jw_str(&b, "reason", err.reason);
    jw_str(&b, "message", err.message);
    sb_append(&b, "}", 1);
    LOGW("control: %s failed: %s: %s", op ? op : "?", err.reason, err.message);
  }
  sb_append(&b, "}", 1);
  conn_send(c, &b);
  sb_free(&b);
  json_free(req);
}

static void *conn_thread(void *arg) {
  struct conn *c = arg;
  char *buf = malloc(MAX_LINE + 1);
  if (!buf) abort();
  size_t used = 0;
  for (;;) {
    ssize_t n = read(c->fd, buf + used, MAX_LINE - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += (size_t)n;
    size_t start = 0;
    for (size_t i = 0; i < used; i++) {
      if (buf[i] != '\n') continue;
      buf[i] = '\0';
      if (i > start) handle_line(c, buf + start);
      start = i + 1;
    }
    memmove(buf, buf + start, used - start);
    used -= start;
    if (used == MAX_LINE) {
      LOGW("control: a request line longer than %u bytes; closing the connection", MAX_LINE);
      break;
    }
  }
  unsubscribe(c);
  close(c->fd);
  pthread_mutex_destroy(&c->wlock);
  free(buf);
  free(c);
  return NULL;
}

static void *accept_loop(void *arg) {
  struct dataplane *dp = arg;
  for (;;) {
    int fd = accept4(dp->control_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      break; /* closed by control_stop */
    }
    struct conn *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->dp = dp;
    c->fd = fd;
    pthread_mutex_init(&c->wlock, NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, conn_thread, c)) {
      close(fd);
      free(c);
      continue;
    }
    pthread_detach(t);
  }
  return NULL;
}

int control_start(struct dataplane *dp, struct hw_err *err) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(dp->control_path) >= sizeof addr.sun_path) {
    hw_err_set(err, "INVALID_ARGUMENT", "Invalid", "--control %s is longer than %zu bytes; use a shorter path", dp->control_path, sizeof addr.sun_path - 1);
    return -1;
  }
  strcpy(addr.sun_path, dp->control_path);
  unlink(dp->control_path); /* a stale socket of a killed predecessor */
  dp->control_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  mode_t old = umask(0177);
  int rc = bind(dp->control_fd, (struct sockaddr *)&addr, sizeof addr);
  umask(old);
  if (rc < 0 || listen(dp->control_fd, 16) < 0) {
    hw_err_set(err, "INTERNAL", "InternalError", "--control %s: cannot listen: %s (is the directory there and writable?)", dp->control_path,
               strerror(errno));
    close(dp->control_fd);
    return -1;
  }
  chmod(dp->control_path, 0600);
  if (pthread_create(&dp->control_thread, NULL, accept_loop, dp)) abort();
  return 0;
}

void control_stop(struct dataplane *dp) {
  shutdown(dp->control_fd, SHUT_RDWR);
  close(dp->control_fd);
  pthread_join(dp->control_thread, NULL);
  unlink(dp->control_path);
}
