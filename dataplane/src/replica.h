/* The secondary's side of a replication connection: HELLO checks (protocol version, volume, size, epoch, role),
 * then WRITE/RESYNC_DATA written asynchronously through an io_uring by one event-loop thread per connection and
 * acknowledged cumulatively in order, FLUSH and SYNC_DONE after fdatasync, CHECKSUM_REQ answered from the local disk. */
#ifndef HW_REPLICA_H
#define HW_REPLICA_H
#include "common.h"

/* Takes over fd: serves it in its own thread until the primary disconnects. */
void replica_accept(struct dataplane *dp, int fd);
#endif
