#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
  const char *p;
  char *err;
  size_t errlen;
  int depth;
};

static void *xcalloc(size_t n, size_t sz) {
  void *p = calloc(n, sz);
  if (!p) abort();
  return p;
}

static void skip_ws(struct parser *ps) {
  while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') ps->p++;
}

static struct json *fail(struct parser *ps, const char *msg) {
  if (ps->err && !ps->err[0]) snprintf(ps->err, ps->errlen, "%s", msg);
  return NULL;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Encodes a code point as UTF-8; surrogate pairs are joined by the caller. */
static void put_utf8(struct sbuf *b, unsigned cp) {
  char u[4];
  size_t n;
  if (cp < 0x80) { u[0] = (char)cp; n = 1; }
  else if (cp < 0x800) { u[0] = (char)(0xC0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
  else if (cp < 0x10000) { u[0] = (char)(0xE0 | (cp >> 12)); u[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); u[2] = (char)(0x80 | (cp & 0x3F)); n = 3; }
  else { u[0] = (char)(0xF0 | (cp >> 18)); u[1] = (char)(0x80 | ((cp >> 12) & 0x3F)); u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); u[3] = (char)(0x80 | (cp & 0x3F)); n = 4; }
  sb_append(b, u, n);
}

static int read_hex4(const char *s, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(s[i]);
    if (h < 0) return -1;
    v = v * 16 + (unsigned)h;
  }
  *out = v;
  return 0;
}

static char *parse_string_raw(struct parser *ps) {
  struct sbuf b;
  sb_init(&b);
  ps->p++; /* opening quote */
  for (;;) {
    char c = *ps->p;
    if (c == '\0' || (unsigned char)c < 0x20) { sb_free(&b); fail(ps, "unterminated or invalid string"); return NULL; }
    if (c == '"') { ps->p++; break; }
    if (c != '\\') { sb_append(&b, ps->p, 1); ps->p++; continue; }
    ps->p++;
    char e = *ps->p++;
    switch (e) {
      case '"': sb_append(&b, "\"", 1); break;
      case '\\': sb_append(&b, "\\", 1); break;
      case '/': sb_append(&b, "/", 1); break;
      case 'b': sb_append(&b, "\b", 1); break;
      case 'f': sb_append(&b, "\f", 1); break;
      case 'n': sb_append(&b, "\n", 1); break;
      case 'r': sb_append(&b, "\r", 1); break;
      case 't': sb_append(&b, "\t", 1); break;
      case 'u': {
        unsigned cp, lo;
        if (read_hex4(ps->p, &cp) < 0) { sb_free(&b); fail(ps, "bad \\u escape"); return NULL; }
        ps->p += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && ps->p[0] == '\\' && ps->p[1] == 'u' && read_hex4(ps->p + 2, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          ps->p += 6;
        }
        if (cp == 0) { sb_free(&b); fail(ps, "NUL in string"); return NULL; }
        put_utf8(&b, cp);
        break;
      }
      default: sb_free(&b); fail(ps, "bad escape"); return NULL;
    }
  }
  return b.data;
}

static struct json *parse_value(struct parser *ps);

static struct json *parse_container(struct parser *ps, bool is_obj) {
  if (++ps->depth > 32) return fail(ps, "nesting too deep");
  struct json *j = xcalloc(1, sizeof *j);
  j->type = is_obj ? JSON_OBJECT : JSON_ARRAY;
  struct json **tail = &j->child;
  ps->p++;
  skip_ws(ps);
  char close = is_obj ? '}' : ']';
  if (*ps->p == close) { ps->p++; ps->depth--; return j; }
  for (;;) {
    char *key = NULL;
    skip_ws(ps);
    if (is_obj) {
      if (*ps->p != '"') { json_free(j); return fail(ps, "expected a member name"); }
      key = parse_string_raw(ps);
      if (!key) { json_free(j); return NULL; }
      skip_ws(ps);
      if (*ps->p != ':') { free(key); json_free(j); return fail(ps, "expected ':'"); }
      ps->p++;
    }
    struct json *v = parse_value(ps);
    if (!v) { free(key); json_free(j); return NULL; }
    v->key = key;
    *tail = v;
    tail = &v->next;
    skip_ws(ps);
    if (*ps->p == ',') { ps->p++; continue; }
    if (*ps->p == close) { ps->p++; break; }
    json_free(j);
    return fail(ps, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
  }
  ps->depth--;
  return j;
}

static struct json *parse_value(struct parser *ps) {
  skip_ws(ps);
  char c = *ps->p;
  if (c == '{') return parse_container(ps, true);
  if (c == '[') return parse_container(ps, false);
  if (c == '"') {
    char *s = parse_string_raw(ps);
    if (!s) return NULL;
    struct json *j = xcalloc(1, sizeof *j);
    j->type = JSON_STRING;
    j->str = s;
    return j;
  }
  if (!strncmp(ps->p, "true", 4) || !strncmp(ps->p, "false", 5)) {
    struct json *j = xcalloc(1, sizeof *j);
    j->type = JSON_BOOL;
    j->boolean = c == 't';
    ps->p += j->boolean ? 4 : 5;
    return j;
  }
  if (!strncmp(ps->p, "null", 4)) {
    struct json *j = xcalloc(1, sizeof *j);
    ps->p += 4;
    return j;
  }
  if (c == '-' || (c >= '0' && c <= '9')) {
    const char *start = ps->p;
    if (*ps->p == '-') ps->p++;
    while ((*ps->p >= '0' && *ps->p <= '9') || *ps->p == '.' || *ps->p == 'e' || *ps->p == 'E' || *ps->p == '+' || *ps->p == '-') ps->p++;
    struct json *j = xcalloc(1, sizeof *j);
    j->type = JSON_NUMBER;
    size_t n = (size_t)(ps->p - start);
    j->str = xcalloc(n + 1, 1);
    memcpy(j->str, start, n);
    char *end;
    j->num = strtod(j->str, &end);
    if (*end) { json_free(j); return fail(ps, "bad number"); }
    return j;
  }
  return fail(ps, "unexpected character");
}

struct json *json_parse(const char *text, char *err, size_t errlen) {
  struct parser ps = {.p = text, .err = err, .errlen = errlen};
  if (err && errlen) err[0] = '\0';
  struct json *j = parse_value(&ps);
  if (!j) return NULL;
  skip_ws(&ps);
  if (*ps.p) { json_free(j); return fail(&ps, "trailing characters after the value"); }
  return j;
}

void json_free(struct json *j) {
  while (j) {
    struct json *next = j->next;
    json_free(j->child);
    free(j->key);
    free(j->str);
    free(j);
    j = next;
  }
}

const struct json *json_get(const struct json *obj, const char *key) {
  if (!obj || obj->type != JSON_OBJECT) return NULL;
  for (const struct json *c = obj->child; c; c = c->next)
    if (c->key && !strcmp(c->key, key)) return c;
  return NULL;
}

const char *json_get_str(const struct json *obj, const char *key) {
  const struct json *v = json_get(obj, key);
  return v && v->type == JSON_STRING ? v->str : NULL;
}

bool json_get_u64(const struct json *obj, const char *key, uint64_t *out) {
  const struct json *v = json_get(obj, key);
  if (!v || v->type != JSON_NUMBER || !v->str || v->str[0] == '-') return false;
  for (const char *s = v->str; *s; s++)
    if (*s < '0' || *s > '9') return false; /* integers only: sizes and epochs must be exact */
  char *end;
  unsigned long long x = strtoull(v->str, &end, 10);
  if (*end) return false;
  *out = x;
  return true;
}

void sb_init(struct sbuf *b) {
  b->cap = 256;
  b->len = 0;
  b->data = malloc(b->cap);
  if (!b->data) abort();
  b->data[0] = '\0';
}

void sb_free(struct sbuf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

static void sb_reserve(struct sbuf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return;
  while (b->len + extra + 1 > b->cap) b->cap *= 2;
  b->data = realloc(b->data, b->cap);
  if (!b->data) abort();
}

void sb_append(struct sbuf *b, const char *s, size_t n) {
  sb_reserve(b, n);
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void sb_printf(struct sbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  sb_reserve(b, (size_t)n);
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void sb_json_str(struct sbuf *b, const char *s) {
  sb_append(b, "\"", 1);
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"') sb_append(b, "\\\"", 2);
    else if (c == '\\') sb_append(b, "\\\\", 2);
    else if (c == '\n') sb_append(b, "\\n", 2);
    else if (c < 0x20) sb_printf(b, "\\u%04x", c);
    else sb_append(b, (const char *)&c, 1);
  }
  sb_append(b, "\"", 1);
}

void sb_key(struct sbuf *b, const char *key) {
  if (b->len && b->data[b->len - 1] != '{' && b->data[b->len - 1] != '[') sb_append(b, ",", 1);
  sb_json_str(b, key);
  sb_append(b, ":", 1);
}

void jw_str(struct sbuf *b, const char *key, const char *val) {
  sb_key(b, key);
  sb_json_str(b, val);
}

void jw_u64(struct sbuf *b, const char *key, uint64_t val) {
  sb_key(b, key);
  sb_printf(b, "%llu", (unsigned long long)val);
}

void jw_bool(struct sbuf *b, const char *key, bool val) {
  sb_key(b, key);
  sb_append(b, val ? "true" : "false", val ? 4 : 5);
}
