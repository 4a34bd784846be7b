/* hwameistor-dataplane: flags, start-up (stale FUSE mount cleaned, state dir reopened), the signal wait and the
 * clean shutdown on SIGTERM/SIGINT. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "control.h"
#include "fuse_frontend.h"
#include "listener.h"
#include "volume.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: hwameistor-dataplane --node NAME --control PATH.sock --state-dir DIR --listen IP:PORT --fuse-dir DIR\n"
          "                            [--fuse-threads N] [--fuse-io splice|copy] [--wire-crc] [--io-engine psync|uring] [--log-level debug|info|warn|error]\n"
          "The native data plane of replicated volumes (docs/dataplane.md).\n");
}

static int parse_args(struct dataplane *dp, int argc, char **argv) {
  static const struct option opts[] = {
      {"node", required_argument, 0, 'n'},      {"control", required_argument, 0, 'c'},      {"state-dir", required_argument, 0, 's'},
      {"listen", required_argument, 0, 'l'},    {"fuse-dir", required_argument, 0, 'f'},     {"fuse-threads", required_argument, 0, 't'},
      {"log-level", required_argument, 0, 'v'}, {"help", no_argument, 0, 'h'},               {"wire-crc", no_argument, 0, 'w'}, {"io-engine", required_argument, 0, 'i'},
      {"fuse-io", required_argument, 0, 'F'},
      {0, 0, 0, 0},
  };
  dp->fuse_threads = 16;
  dp->fuse_splice = true;
  snprintf(dp->listen, sizeof dp->listen, "0.0.0.0:43000");
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
      case 'n': snprintf(dp->node, sizeof dp->node, "%s", optarg); break;
      case 'c': snprintf(dp->control_path, sizeof dp->control_path, "%s", optarg); break;
      case 's': snprintf(dp->state_dir, sizeof dp->state_dir, "%s", optarg); break;
      case 'l': snprintf(dp->listen, sizeof dp->listen, "%s", optarg); break;
      case 'f': snprintf(dp->fuse_dir, sizeof dp->fuse_dir, "%s", optarg); break;
      case 't': dp->fuse_threads = atoi(optarg); break;
      case 'w': dp->wire_crc = true; break;
      case 'i':
        if (!strcmp(optarg, "uring")) dp->io_uring = true;
        else if (strcmp(optarg, "psync")) { fprintf(stderr, "--io-engine %s: use psync or uring\n", optarg); return -1; }
        break;
      case 'F':
        if (!strcmp(optarg, "splice") || !strcmp(optarg, "copy")) dp->fuse_splice = !strcmp(optarg, "splice");
        else { fprintf(stderr, "--fuse-io %s: use splice or copy\n", optarg); return -1; }
        break;
      case 'v':
        if (!strcmp(optarg, "debug")) dp_log_level = LOG_DEBUG;
        else if (!strcmp(optarg, "info")) dp_log_level = LOG_INFO;
        else if (!strcmp(optarg, "warn")) dp_log_level = LOG_WARN;
        else if (!strcmp(optarg, "error")) dp_log_level = LOG_ERROR;
        else { fprintf(stderr, "--log-level %s: use debug, info, warn or error\n", optarg); return -1; }
        break;
      case 'h': usage(stdout); exit(0);
      default: usage(stderr); return -1;
    }
  }
  const char *missing = !valid_name(dp->node) ? "--node (a name of [A-Za-z0-9._-])" : !dp->control_path[0] ? "--control" : !dp->state_dir[0] ? "--state-dir"
                        : !dp->fuse_dir[0] ? "--fuse-dir" : NULL;
  if (missing) {
    fprintf(stderr, "hwameistor-dataplane: missing or invalid %s\n", missing);
    usage(stderr);
    return -1;
  }
  if (strlen(dp->state_dir) > 1024 || strlen(dp->fuse_dir) > 1024) {
    fprintf(stderr, "hwameistor-dataplane: --state-dir and --fuse-dir must be at most 1024 bytes\n");
    return -1;
  }
  if (dp->fuse_threads < 1 || dp->fuse_threads > 256) {
    fprintf(stderr, "hwameistor-dataplane: --fuse-threads must be 1..256\n");
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  struct dataplane *dp = calloc(1, sizeof *dp);
  if (!dp) abort();
  if (parse_args(dp, argc, argv)) return 2;
  /* Frame buffers are up to 1 MiB each, allocated and freed per frame: keep them on the heap, not in a fresh
   * mmap (256 page faults) every time. */
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  pthread_mutex_init(&dp->lock, NULL);
  dp->next_ino = 2; /* 1 is the FUSE root */
  dp->control_fd = -1;

  /* Every thread inherits this mask: only the main thread receives SIGTERM/SIGINT (sigwait below). */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN); /* a peer or control client that went away is an error return, not death */

  if (mkdir(dp->state_dir, 0700) < 0 && errno != EEXIST) {
    LOGE("--state-dir %s: cannot create it: %s", dp->state_dir, strerror(errno));
    return 1;
  }
  volume_load_all(dp);
  struct hw_err err = {0};
  dp->fuse = fuse_frontend_start(dp, &err);
  if (!dp->fuse) {
    LOGE("%s", err.message);
    return 1;
  }
  dp->listener = listener_start(dp, &err);
  if (!dp->listener || control_start(dp, &err)) {
    LOGE("%s", err.message);
    fuse_frontend_stop(dp->fuse);
    return 1;
  }
  LOGI("node %s: data plane %s ready (control %s, listen %s, fuse %s, protocol %d.%d)", dp->node, DP_VERSION, dp->control_path, dp->listen, dp->fuse_dir,
       DP_PROTOCOL_MAJOR, DP_PROTOCOL_MINOR);

  int sig = 0;
  sigwait(&set, &sig);
  LOGI("node %s: signal %d, shutting down", dp->node, sig);
  dp->stopping = 1;
  control_stop(dp);
  listener_stop(dp->listener);
  fuse_frontend_stop(dp->fuse);
  volume_close_all(dp);
  LOGI("node %s: stopped", dp->node);
  return 0;
}
