/* Answers the shim publishes for read-only ttrpc calls (wire_answers.c).
 *
 * A restarted containerd dials every shim and asks Connect, then State for each
 * task, one shim after another; in a Node shim those rare calls run unoptimised
 * JS. The shim therefore publishes, for each of its processes, the exact request
 * bytes containerd sends and the response it would give, and the wire answers a
 * request frame that matches byte for byte without calling into JS. The JS side
 * clears the table while anything that changes an answer is in progress and
 * publishes it again afterwards (src/shim/task-answers.ts); anything not in the
 * table, or not a plain unary request, goes to JS unchanged. */
#ifndef TSSHIM_WIRE_ANSWERS_H
#define TSSHIM_WIRE_ANSWERS_H

#include <stddef.h>
#include <stdint.h>

struct tsshim_answer;

struct tsshim_answers {
  struct tsshim_answer *buckets[64];
  size_t count;
};

/* Where one connection's byte stream stands between frames. */
struct tsshim_frame_scan {
  uint8_t header[10]; /* a header split across reads, collected so far */
  size_t header_len;
  uint64_t body_left;       /* bytes of the current frame still to pass on */
  uint32_t last_request_id; /* highest request stream id seen */
};

/* One published answer: a unary call on service/method whose payload is exactly
 * `request` gets `response`. `group` names who published it (a container id), so
 * that its answers can be withdrawn together. */
struct tsshim_answer_spec {
  const char *group, *service, *method;
  size_t group_len, service_len, method_len;
  const uint8_t *request, *response;
  size_t request_len, response_len;
};

/* Adds (or replaces) an answer; -1 with errno (ENOMEM, EMSGSIZE) on failure. */
int tsshim_answers_set(struct tsshim_answers *t, const struct tsshim_answer_spec *spec);
/* Withdraws the answers of `group`, or all of them when group is NULL. */
void tsshim_answers_clear(struct tsshim_answers *t, const char *group, size_t group_len);

/* Called for each answered frame with the complete response frame to write. */
typedef void (*tsshim_answer_send)(void *ctx, const uint8_t *frame, size_t len);

/* Removes from buf[0..n) every complete request frame the table answers (sending
 * each answer through `send`) and returns how many bytes are left for JS, moved to
 * the front of buf. With `t` NULL nothing is answered but frame boundaries are
 * still followed. */
size_t tsshim_answers_filter(const struct tsshim_answers *t, struct tsshim_frame_scan *scan, uint8_t *buf,
                             size_t n, tsshim_answer_send send, void *ctx);

#endif
