/* A small JSON reader and writer for the control socket and the meta file. The reader builds a tree of
 * nodes (one allocation per node, freed with json_free); the writer appends to a growable buffer. Why not a
 * library: the protocol needs objects, arrays, strings, integers and booleans only, and nothing may be
 * downloaded (docs/dataplane.md). */
#ifndef HW_JSON_H
#define HW_JSON_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
  enum json_type type;
  char *key;          /* set when this node is a member of an object */
  char *str;          /* JSON_STRING; also the number's text for exact integers */
  double num;
  bool boolean;
  struct json *child; /* first element/member */
  struct json *next;  /* next sibling */
};

/* Parses one JSON value from text (NUL-terminated). NULL on error, with a message in err. */
struct json *json_parse(const char *text, char *err, size_t errlen);
void json_free(struct json *j);
const struct json *json_get(const struct json *obj, const char *key);
const char *json_get_str(const struct json *obj, const char *key);
/* Reads an unsigned integer member; false when missing or not a non-negative integer. */
bool json_get_u64(const struct json *obj, const char *key, uint64_t *out);

/* A growable string buffer; every writer function keeps it NUL-terminated. On allocation failure the
 * process aborts: a half-written control answer is worse than a restart. */
struct sbuf {
  char *data;
  size_t len, cap;
};
void sb_init(struct sbuf *b);
void sb_free(struct sbuf *b);
void sb_append(struct sbuf *b, const char *s, size_t n);
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a quoted, escaped JSON string. */
void sb_json_str(struct sbuf *b, const char *s);
/* Appends "key": with a leading comma unless the previous character opens an object. */
void sb_key(struct sbuf *b, const char *key);
void jw_str(struct sbuf *b, const char *key, const char *val);
void jw_u64(struct sbuf *b, const char *key, uint64_t val);
void jw_bool(struct sbuf *b, const char *key, bool val);
#endif
