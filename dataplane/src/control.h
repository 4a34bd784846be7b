/* The control socket: a unix stream socket, newline-delimited JSON requests {id, op, ...}, one answer line per
 * request with the same id (docs/proposals/0002-data-plane.md "The control socket"). A thread per connection:
 * the node agent keeps one or two connections open, so threads are few. */
#ifndef HW_CONTROL_H
#define HW_CONTROL_H
#include "common.h"

/* Binds the socket (mode 0600, a stale file removed first) and starts the accept thread. 0 or -1 with err. */
int control_start(struct dataplane *dp, struct hw_err *err);
void control_stop(struct dataplane *dp);
#endif
