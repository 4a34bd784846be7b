#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int dp_log_level = LOG_INFO;

void hw_err_set(struct hw_err *e, const char *code, const char *reason, const char *fmt, ...) {
  if (!e) return;
  e->code = code;
  e->reason = reason;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
}

void dp_log(enum log_level lvl, const char *fmt, ...) {
  if ((int)lvl < dp_log_level) return;
  static const char *names[] = {"debug", "info", "warn", "error"};
  char line[1024];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec, ts.tv_nsec / 1000000, names[lvl]);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  size_t len = strlen(line);
  line[len++] = '\n';
  (void)!write(2, line, len); /* one write per line: lines of threads do not interleave */
}

int write_full(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int read_full(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len) {
    ssize_t n = read(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) return -ECONNRESET;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len) {
  char tmp[PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -errno;
  int rc = write_full(fd, data, len);
  if (rc == 0 && fsync(fd) < 0) rc = -errno;
  close(fd);
  if (rc == 0 && rename(tmp, path) < 0) rc = -errno;
  if (rc != 0) {
    unlink(tmp);
    return rc;
  }
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    if (fsync(dfd) < 0) rc = -errno;
    close(dfd);
  }
  return rc;
}

int read_file(const char *path, char **out, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct stat st;
  if (fstat(fd, &st) < 0 || st.st_size > (1 << 26)) {
    close(fd);
    return -EFBIG;
  }
  char *buf = malloc((size_t)st.st_size + 1);
  if (!buf) abort();
  int rc = read_full(fd, buf, (size_t)st.st_size);
  close(fd);
  if (rc) {
    free(buf);
    return rc == -ECONNRESET ? -EIO : rc;
  }
  buf[st.st_size] = '\0';
  *out = buf;
  if (len) *len = (size_t)st.st_size;
  return 0;
}

uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool valid_name(const char *s) {
  if (!s || !*s || strlen(s) >= DP_NAME_MAX || !strcmp(s, ".") || !strcmp(s, "..")) return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-')) return false;
  return true;
}
