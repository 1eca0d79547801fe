/* Published answers for read-only ttrpc calls, and the frame filter that serves them
 * (see wire_answers.h). Framing as containerd/ttrpc: a 10-byte header (length and
 * stream id big-endian, type, flags) and a protobuf body; a request body is
 * Request{service=1, method=2, payload=3, timeout_nano=4, metadata=5}, a response
 * body Response{status=1, payload=2}. */
#include "wire_answers.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_HEADER 10
#define TYPE_REQUEST 1
#define TYPE_RESPONSE 2
#define BUCKETS (sizeof ((struct tsshim_answers *)0)->buckets / sizeof(struct tsshim_answer *))

struct tsshim_answer {
  struct tsshim_answer *next;
  uint64_t hash;
  size_t group_len, service_len, method_len, request_len, frame_len;
  uint8_t *group, *service, *method, *request, *frame; /* all in data[] */
  uint8_t data[];
};

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

static uint64_t key_hash(const uint8_t *service, size_t sl, const uint8_t *method, size_t ml, const uint8_t *req,
                         size_t rl) {
  static const uint8_t slash = '/', nul = 0;
  uint64_t h = fnv1a(0xcbf29ce484222325ULL, service, sl);
  h = fnv1a(h, &slash, 1);
  h = fnv1a(h, method, ml);
  h = fnv1a(h, &nul, 1);
  return fnv1a(h, req, rl);
}

static size_t varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static bool same(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
  return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

/* The entry answering this question, as the link that points at it (for unlinking), or NULL. */
static struct tsshim_answer **find(struct tsshim_answer *const *bucket, uint64_t h, const uint8_t *service, size_t sl,
                                   const uint8_t *method, size_t ml, const uint8_t *req, size_t rl) {
  for (struct tsshim_answer *const *p = bucket; *p != NULL; p = &(*p)->next) {
    const struct tsshim_answer *a = *p;
    if (a->hash == h && same(a->request, a->request_len, req, rl) && same(a->method, a->method_len, method, ml) &&
        same(a->service, a->service_len, service, sl))
      return (struct tsshim_answer **)p;
  }
  return NULL;
}

int tsshim_answers_set(struct tsshim_answers *t, const struct tsshim_answer_spec *spec) {
  size_t gl = spec->group_len, sl = spec->service_len, ml = spec->method_len, rl = spec->request_len;
  size_t response_len = spec->response_len;
  /* The frame: header (stream id patched per answer) + Response{payload = response}. */
  size_t body = 1 + varint_len(response_len) + response_len;
  if (body > UINT32_MAX) {
    errno = EMSGSIZE;
    return -1;
  }
  size_t frame_len = FRAME_HEADER + body;
  struct tsshim_answer *a = malloc(sizeof *a + gl + sl + ml + rl + frame_len);
  if (a == NULL) return -1;
  a->group = a->data;
  a->service = a->group + gl;
  a->method = a->service + sl;
  a->request = a->method + ml;
  a->frame = a->request + rl;
  a->group_len = gl;
  a->service_len = sl;
  a->method_len = ml;
  a->request_len = rl;
  a->frame_len = frame_len;
  memcpy(a->group, spec->group, gl);
  memcpy(a->service, spec->service, sl);
  memcpy(a->method, spec->method, ml);
  if (rl > 0) memcpy(a->request, spec->request, rl);
  put_be32(a->frame, (uint32_t)body);
  put_be32(a->frame + 4, 0);
  a->frame[8] = TYPE_RESPONSE;
  a->frame[9] = 0;
  uint8_t *p = put_varint(a->frame + FRAME_HEADER, 2 << 3 | 2);
  p = put_varint(p, response_len);
  if (response_len > 0) memcpy(p, spec->response, response_len);
  a->hash = key_hash(a->service, sl, a->method, ml, a->request, rl);
  struct tsshim_answer **slot = &t->buckets[a->hash % BUCKETS];
  struct tsshim_answer **old = find(slot, a->hash, a->service, sl, a->method, ml, a->request, rl);
  if (old != NULL) {
    struct tsshim_answer *gone = *old;
    *old = gone->next;
    free(gone);
    t->count--;
  }
  a->next = *slot;
  *slot = a;
  t->count++;
  return 0;
}

void tsshim_answers_clear(struct tsshim_answers *t, const char *group, size_t group_len) {
  for (size_t i = 0; i < BUCKETS; i++) {
    struct tsshim_answer **q = &t->buckets[i];
    while (*q != NULL) {
      struct tsshim_answer *a = *q;
      if (group == NULL || same(a->group, a->group_len, (const uint8_t *)group, group_len)) {
        *q = a->next;
        free(a);
        t->count--;
      } else {
        q = &a->next;
      }
    }
  }
}

/* A varint at *p (before end); false when it is cut short or longer than 10 bytes. */
static bool get_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 70 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *out = v;
      return true;
    }
  }
  return false;
}

struct request_view {
  const uint8_t *service, *method, *payload;
  size_t service_len, method_len, payload_len;
};

/* Parses a Request body the way JS would accept it for a plain unary call: the
 * three strings once each, a timeout that is not negative (a negative one gets
 * DeadlineExceeded from JS), any metadata; anything else is JS's to judge. */
static bool parse_request(const uint8_t *p, size_t n, struct request_view *r) {
  const uint8_t *end = p + n;
  unsigned seen = 0;
  memset(r, 0, sizeof *r);
  while (p < end) {
    uint64_t tag, v;
    if (!get_varint(&p, end, &tag)) return false;
    uint64_t field = tag >> 3, wire = tag & 7;
    if (field == 4 && wire == 0) {
      if (!get_varint(&p, end, &v) || (int64_t)v < 0) return false;
      continue;
    }
    if (wire != 2 || field < 1 || field > 5) return false;
    if (!get_varint(&p, end, &v) || v > (uint64_t)(end - p)) return false;
    const uint8_t *bytes = p;
    p += v;
    if (field == 5) continue;
    if (seen & (1u << field)) return false;
    seen |= 1u << field;
    if (field == 1) {
      r->service = bytes;
      r->service_len = (size_t)v;
    } else if (field == 2) {
      r->method = bytes;
      r->method_len = (size_t)v;
    } else {
      r->payload = bytes;
      r->payload_len = (size_t)v;
    }
  }
  return (seen & (1u << 1 | 1u << 2)) == (1u << 1 | 1u << 2);
}

/* The answer to one complete request frame, if the table has it. */
static const struct tsshim_answer *lookup(const struct tsshim_answers *t, const uint8_t *frame, uint32_t len) {
  struct request_view r;
  if (!parse_request(frame + FRAME_HEADER, len, &r)) return NULL;
  uint64_t h = key_hash(r.service, r.service_len, r.method, r.method_len, r.payload, r.payload_len);
  struct tsshim_answer *const *found =
      find(&t->buckets[h % BUCKETS], h, r.service, r.service_len, r.method, r.method_len, r.payload, r.payload_len);
  return found != NULL ? *found : NULL;
}

/* Sends the answer on `stream_id`; false (out of memory) leaves the request to JS. */
static bool answer(const struct tsshim_answer *a, uint32_t stream_id, tsshim_answer_send send, void *ctx) {
  uint8_t local[512];
  uint8_t *frame = a->frame_len <= sizeof local ? local : malloc(a->frame_len);
  if (frame == NULL) return false;
  memcpy(frame, a->frame, a->frame_len);
  put_be32(frame + 4, stream_id);
  send(ctx, frame, a->frame_len);
  if (frame != local) free(frame);
  return true;
}

size_t tsshim_answers_filter(const struct tsshim_answers *t, struct tsshim_frame_scan *scan, uint8_t *buf,
                             size_t n, tsshim_answer_send send, void *ctx) {
  size_t in = 0, out = 0;
  while (in < n) {
    if (scan->body_left > 0) {
      size_t k = scan->body_left < n - in ? (size_t)scan->body_left : n - in;
      memmove(buf + out, buf + in, k);
      in += k;
      out += k;
      scan->body_left -= k;
      continue;
    }
    if (scan->header_len > 0 || n - in < FRAME_HEADER) {
      /* A header split across reads: its frame goes to JS whole. */
      size_t k = FRAME_HEADER - scan->header_len;
      if (k > n - in) k = n - in;
      memcpy(scan->header + scan->header_len, buf + in, k);
      memmove(buf + out, buf + in, k);
      scan->header_len += k;
      in += k;
      out += k;
      if (scan->header_len == FRAME_HEADER) {
        scan->header_len = 0;
        scan->body_left = be32(scan->header);
        uint32_t sid = be32(scan->header + 4);
        if (scan->header[8] == TYPE_REQUEST && sid > scan->last_request_id) scan->last_request_id = sid;
      }
      continue;
    }
    const uint8_t *h = buf + in;
    uint32_t len = be32(h), sid = be32(h + 4);
    bool request = h[8] == TYPE_REQUEST;
    /* Answered: a whole unary request (no flags), on a new odd stream id, that the table knows.
     * The ttrpc server refuses stream ids that do not increase among the frames it sees; a
     * client reusing the id of a call answered here would be served again (containerd never
     * reuses one, and the answer is the same). */
    if (t != NULL && request && h[9] == 0 && (sid & 1) == 1 && sid > scan->last_request_id &&
        len <= n - in - FRAME_HEADER) {
      const struct tsshim_answer *a = t->count > 0 ? lookup(t, h, len) : NULL;
      if (a != NULL && answer(a, sid, send, ctx)) {
        scan->last_request_id = sid;
        in += FRAME_HEADER + len;
        continue;
      }
    }
    if (request && sid > scan->last_request_id) scan->last_request_id = sid;
    memmove(buf + out, buf + in, FRAME_HEADER);
    in += FRAME_HEADER;
    out += FRAME_HEADER;
    scan->body_left = len;
  }
  return out;
}
