/* The replica side: the TCP listener on --listen, one connection per (volume, primary) that applies the
 * primary's writes to the local backing and acks them (docs/dataplane.md "Replication"). */
#ifndef HW_LISTENER_H
#define HW_LISTENER_H
#include "common.h"

struct listener *listener_start(struct dataplane *dp, struct hw_err *err);
void listener_stop(struct listener *l);
#endif
