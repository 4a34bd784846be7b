/* The replication listener on --listen: accepts primaries' connections and hands each to replica.c. */
#include "listener.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "replica.h"

struct listener {
  struct dataplane *dp;
  int fd;
  pthread_t thread;
};

static void *accept_loop(void *arg) {
  struct listener *l = arg;
  for (;;) {
    int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      break; /* closed by listener_stop */
    }
    replica_accept(l->dp, fd);
  }
  return NULL;
}

struct listener *listener_start(struct dataplane *dp, struct hw_err *err) {
  char host[128];
  snprintf(host, sizeof host, "%s", dp->listen);
  char *colon = strrchr(host, ':');
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE}, *ai = NULL;
  if (colon) *colon = '\0';
  char *h = host[0] == '[' ? host + 1 : host;
  h[strcspn(h, "]")] = '\0';
  if (!colon || getaddrinfo(h, colon + 1, &hints, &ai) != 0) {
    hw_err_set(err, "INVALID_ARGUMENT", "Invalid", "--listen %s: use IP:PORT (e.g. 10.0.0.1:43000)", dp->listen);
    return NULL;
  }
  struct listener *l = calloc(1, sizeof *l);
  if (!l) abort();
  l->dp = dp;
  l->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = bind(l->fd, ai->ai_addr, ai->ai_addrlen);
  freeaddrinfo(ai);
  if (rc < 0 || listen(l->fd, 64) < 0) {
    hw_err_set(err, "UNAVAILABLE", "ServiceUnavailable", "--listen %s: cannot listen: %s (is the address on this node and the port free?)", dp->listen,
               strerror(errno));
    close(l->fd);
    free(l);
    return NULL;
  }
  /* Port 0 picks a free port: report the real one in hello. */
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  char hbuf[64], pbuf[16];
  if (getsockname(l->fd, (struct sockaddr *)&ss, &sl) == 0 &&
      getnameinfo((struct sockaddr *)&ss, sl, hbuf, sizeof hbuf, pbuf, sizeof pbuf, NI_NUMERICHOST | NI_NUMERICSERV) == 0)
    snprintf(dp->listen, sizeof dp->listen, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", hbuf, pbuf);
  if (pthread_create(&l->thread, NULL, accept_loop, l)) abort();
  return l;
}

void listener_stop(struct listener *l) {
  if (!l) return;
  shutdown(l->fd, SHUT_RDWR);
  close(l->fd);
  pthread_join(l->thread, NULL);
  free(l);
}
