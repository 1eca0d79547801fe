/* Growable byte buffers and the record framing of the spare protocol. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher.h"

/* Room for `more` bytes after len. */
static int buf_reserve(struct buf *b, size_t more) {
  if (b->len + more <= b->cap) return 0;
  size_t cap = b->cap == 0 ? 4096 : b->cap;
  while (cap < b->len + more) cap *= 2;
  unsigned char *p = realloc(b->data, cap);
  if (p == NULL) return -1;
  b->data = p;
  b->cap = cap;
  return 0;
}

int buf_put(struct buf *b, const void *data, size_t len) {
  if (buf_reserve(b, len) < 0) return -1;
  if (len > 0) memcpy(b->data + b->len, data, len);
  b->len += len;
  return 0;
}

int buf_record(struct buf *b, char tag, const void *data, size_t len) {
  unsigned char head[5];
  if (len > UINT32_MAX) {
    errno = E2BIG;
    return -1;
  }
  head[0] = (unsigned char)tag;
  for (int i = 0; i < 4; i++) head[1 + i] = (unsigned char)(len >> (8 * i));
  if (buf_put(b, head, sizeof head) < 0) return -1;
  return buf_put(b, data, len);
}

/* Reads fd to EOF; more than limit bytes is an error (E2BIG). */
int buf_read_fd(struct buf *b, int fd, size_t limit) {
  for (;;) {
    if (buf_reserve(b, 4096) < 0) return -1;
    ssize_t n = read(fd, b->data + b->len, b->cap - b->len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) return 0;
    b->len += (size_t)n;
    if (b->len > limit) {
      errno = E2BIG;
      return -1;
    }
  }
}

int write_all(int fd, const void *data, size_t len) {
  const unsigned char *p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

void buf_free(struct buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
