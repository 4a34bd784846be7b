/* The FUSE frontend: one filesystem mounted at --fuse-dir, one regular file per exposed primary volume, served
 * by libfuse3's low-level API with a multi-threaded session and direct I/O. The node agent attaches a loop
 * device (--direct-io=on) to the file; that loop device is the volume's block device. */
#ifndef HW_FUSE_FRONTEND_H
#define HW_FUSE_FRONTEND_H
#include "common.h"

struct volume;

/* Cleans a stale mount at dir (left by a killed predecessor), mounts and starts the worker threads. */
struct fuse_frontend *fuse_frontend_start(struct dataplane *dp, struct hw_err *err);
/* Unmounts and joins the workers. */
void fuse_frontend_stop(struct fuse_frontend *f);
/* Tells the kernel that the file `name` is gone (unexpose) or changed size (resize). */
/* Re-evaluates whether WRITE data is spliced (an exposed volume has peers); after configure, expose, unexpose. */
void fuse_frontend_volumes_changed(struct dataplane *dp);
void fuse_frontend_forget(struct fuse_frontend *f, const char *name);
void fuse_frontend_changed(struct fuse_frontend *f, struct volume *v);
/* Lazily unmounts whatever is mounted at dir (a dead FUSE connection answers ENOTCONN forever). */
void fuse_cleanup_stale(const char *dir);
#endif
