/* Stage 1: no replication; the listener exists so the process shape is final. */
#include "listener.h"

#include <stdlib.h>

struct listener {
  struct dataplane *dp;
};

struct listener *listener_start(struct dataplane *dp, struct hw_err *err) {
  (void)err;
  struct listener *l = calloc(1, sizeof *l);
  if (!l) abort();
  l->dp = dp;
  return l;
}

void listener_stop(struct listener *l) { free(l); }
