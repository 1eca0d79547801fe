/* The ttrpc server's unix-socket I/O without net.Socket (napi_wire.c).
 *
 * A shim's connections are few and short-lived, but containerd dials every shim
 * in turn after a restart and waits for each Connect: there, Node's stream
 * machinery (a net.Socket per accept, Readable/Writable per chunk) was most of
 * the shim's time, and in a forked shim that code runs unoptimised. Here accept,
 * read and write are plain syscalls driven by uv_poll handles in the Node loop;
 * JS sees one callback per accepted connection, per chunk read, per drain and per
 * close. Framing and everything above stay in TypeScript (src/ttrpc).
 *
 * Exports:
 *   wireListen(fd, onAccept(id, fd, pid, uid, gid), onData(id, buf), onDrain(id),
 *              onClose(id, errno)) -> listener id
 *   wireUnlisten(listener)     stop accepting (the fd is closed)
 *   wireWrite(id, buf) -> bytes still queued (0: all written)
 *   wirePause(id) / wireResume(id)
 *   wireEnd(id)                close once the queue is written
 *   wireDestroy(id)            close now; onClose follows on a later tick
 *   wireAnswer(listener, group, service, method, request, response)
 *                              publish an answer (wire_answers.h): a unary request with
 *                              exactly these bytes is answered here, without JS
 *   wireAnswersClear(listener, group?)  withdraw the group's answers (or all)
 * Ids are small integers, reused only after their onClose has run. A connection is
 * answered from the table only once JS has resumed it (the server resumes a
 * connection when it starts serving it, after its authorize hook said yes). */
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "error.h"
#include "napi_util.h"
#include "peercred.h"
#include "wire_answers.h"

#define WIRE_READ_SIZE 65536
/* Reads per wake-up before the loop gets a turn (libuv's own stream limit is 32). */
#define WIRE_READS_PER_WAKE 16
#define WIRE_ACCEPTS_PER_WAKE 32

struct wire_callbacks {
  napi_env env;
  napi_async_context async;
  napi_ref resource, on_accept, on_data, on_drain, on_close;
};

struct wire_conn {
  uv_poll_t poll;
  int fd, id;
  int events;  /* what the poll currently watches */
  bool paused, ending, closing;
  bool answering; /* published answers may be used (JS resumed it once) */
  int close_errno;
  struct tsshim_frame_scan scan;
  char *queue; /* bytes not yet written */
  size_t queued, cap;
  struct wire_listener *owner;
};

struct wire_listener {
  uv_poll_t poll;
  int fd, id;
  bool closing, poll_closed;
  struct wire_callbacks cb;
  int conns; /* open connections still pointing at cb */
  struct tsshim_answers answers;
};

static struct wire_conn **conns;
static size_t conns_cap;
static struct wire_listener **listeners;
static size_t listeners_cap;
static char read_buf[WIRE_READ_SIZE];

static napi_value throw_errno(napi_env env, int errnum, const char *syscall, const char *detail) {
  struct tsshim_error err;
  tsshim_error_set(&err, errnum, "ttrpc wire", syscall, detail, NULL);
  tsshim_napi_throw(env, &err);
  return NULL;
}

/* A free slot in *table (grown as needed); -1 when out of memory. */
static int slot(void ***table, size_t *cap) {
  for (size_t i = 0; i < *cap; i++)
    if ((*table)[i] == NULL) return (int)i;
  size_t n = *cap ? *cap * 2 : 16;
  void **grown = realloc(*table, n * sizeof *grown);
  if (grown == NULL) return -1;
  for (size_t i = *cap; i < n; i++) grown[i] = NULL;
  int free_slot = (int)*cap;
  *table = grown;
  *cap = n;
  return free_slot;
}

/* The open connection named by the first argument (NULL when it is closed already: the JS
 * side may hold the id until its onClose runs); *extra gets the second argument. */
static struct wire_conn *conn_of(napi_env env, napi_callback_info info, napi_value *extra) {
  size_t want = extra != NULL ? 2 : 1, argc = want;
  napi_value argv[2];
  int32_t id;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want ||
      napi_get_value_int32(env, argv[0], &id) != napi_ok) {
    tsshim_napi_throw_type(env, "a connection id is required");
    return NULL;
  }
  if (extra != NULL) *extra = argv[1];
  return id >= 0 && (size_t)id < conns_cap ? conns[id] : NULL;
}

/* Calls one JS callback with int arguments (and an optional buffer first after the id). */
static void call_js(struct wire_callbacks *cb, napi_ref fn_ref, int id, napi_value *extra, size_t n_extra,
                    const int *ints, size_t n_ints) {
  napi_env env = cb->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, resource, argv[6], result;
  size_t argc = 0;
  if (napi_get_reference_value(env, fn_ref, &fn) == napi_ok &&
      napi_get_reference_value(env, cb->resource, &resource) == napi_ok &&
      napi_create_int32(env, id, &argv[argc++]) == napi_ok) {
    for (size_t i = 0; i < n_extra; i++) argv[argc++] = extra[i];
    bool ok = true;
    for (size_t i = 0; i < n_ints && ok; i++) ok = napi_create_int32(env, ints[i], &argv[argc++]) == napi_ok;
    /* make_callback runs the nextTick and microtask queues afterwards, as Node's own
     * stream callbacks do, so a handler's promise chain answers within this wake-up. */
    if (ok && napi_make_callback(env, cb->async, resource, fn, argc, argv, &result) == napi_pending_exception) {
      napi_value exc;
      if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void callbacks_release(struct wire_callbacks *cb) {
  napi_async_destroy(cb->env, cb->async);
  napi_delete_reference(cb->env, cb->resource);
  napi_delete_reference(cb->env, cb->on_accept);
  napi_delete_reference(cb->env, cb->on_data);
  napi_delete_reference(cb->env, cb->on_drain);
  napi_delete_reference(cb->env, cb->on_close);
}

static void listener_free(struct wire_listener *l) {
  callbacks_release(&l->cb);
  tsshim_answers_clear(&l->answers, NULL, 0);
  free(l);
}

/* A listener's callbacks outlive it while its connections are open. */
static void on_listener_closed(uv_handle_t *h) {
  struct wire_listener *l = h->data;
  l->poll_closed = true;
  if (l->conns == 0) listener_free(l);
}

static void on_conn_closed(uv_handle_t *h) {
  struct wire_conn *c = h->data;
  struct wire_listener *l = c->owner;
  conns[c->id] = NULL;
  call_js(&l->cb, l->cb.on_close, c->id, NULL, 0, &c->close_errno, 1);
  free(c->queue);
  free(c);
  if (--l->conns == 0 && l->poll_closed) listener_free(l);
}

/* Stops watching, closes the fd now and reports onClose on a later loop turn (never
 * from inside a JS call into this file). */
static void conn_close(struct wire_conn *c, int errnum) {
  if (c->closing) return;
  c->closing = true;
  c->close_errno = errnum;
  uv_poll_stop(&c->poll);
  if (close(c->fd) < 0 && c->close_errno == 0 && errno != EINTR) c->close_errno = errno;
  c->fd = -1;
  uv_close((uv_handle_t *)&c->poll, on_conn_closed);
}

static void on_conn_event(uv_poll_t *h, int status, int events);

static void conn_watch(struct wire_conn *c) {
  if (c->closing) return;
  int want = (c->paused ? 0 : UV_READABLE) | (c->queued > 0 ? UV_WRITABLE : 0);
  if (want == c->events) return;
  c->events = want;
  int rc = want == 0 ? uv_poll_stop(&c->poll) : uv_poll_start(&c->poll, want, on_conn_event);
  if (rc != 0) conn_close(c, -rc);
}

/* Writes what is queued; 0 when it is all out (or the connection failed and closes). */
static int conn_flush(struct wire_conn *c) {
  size_t off = 0;
  while (off < c->queued) {
    ssize_t w = send(c->fd, c->queue + off, c->queued - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      conn_close(c, errno);
      return 0;
    }
    off += (size_t)w;
  }
  memmove(c->queue, c->queue + off, c->queued - off);
  c->queued -= off;
  return c->queued > 0;
}

static size_t conn_write(struct wire_conn *c, const void *bytes, size_t len);

static void send_answer(void *ctx, const uint8_t *frame, size_t len) {
  conn_write(ctx, frame, len);
}

static void conn_read(struct wire_conn *c) {
  struct wire_listener *l = c->owner;
  for (int i = 0; i < WIRE_READS_PER_WAKE && !c->closing && !c->paused; i++) {
    ssize_t n = read(c->fd, read_buf, sizeof read_buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) conn_close(c, errno);
      return;
    }
    if (n == 0) {
      /* The peer is done: like net.Server without allowHalfOpen, so is this side. */
      conn_close(c, 0);
      return;
    }
    size_t left = tsshim_answers_filter(c->answering ? &l->answers : NULL, &c->scan, (uint8_t *)read_buf,
                                        (size_t)n, send_answer, c);
    if (left > 0 && !c->closing) {
      napi_handle_scope scope;
      if (napi_open_handle_scope(l->cb.env, &scope) != napi_ok) return;
      napi_value buf;
      void *data;
      if (napi_create_buffer_copy(l->cb.env, left, read_buf, &data, &buf) == napi_ok)
        call_js(&l->cb, l->cb.on_data, c->id, &buf, 1, NULL, 0);
      napi_close_handle_scope(l->cb.env, scope);
    }
    if ((size_t)n < sizeof read_buf) return;
  }
}

static void on_conn_event(uv_poll_t *h, int status, int events) {
  struct wire_conn *c = h->data;
  if (status < 0) {
    conn_close(c, -status);
    return;
  }
  if ((events & UV_WRITABLE) && c->queued > 0 && !conn_flush(c) && !c->closing) {
    if (c->ending) {
      conn_close(c, 0);
      return;
    }
    conn_watch(c);
    call_js(&c->owner->cb, c->owner->cb.on_drain, c->id, NULL, 0, NULL, 0);
  }
  if ((events & UV_READABLE) && !c->closing) conn_read(c);
}

static void on_accept(uv_poll_t *h, int status, int events) {
  struct wire_listener *l = h->data;
  (void)events;
  if (status < 0 || l->closing) return;
  for (int i = 0; i < WIRE_ACCEPTS_PER_WAKE; i++) {
    int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      /* EAGAIN: none left; ECONNABORTED: that one gave up; others (EMFILE) retry next wake. */
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    pid_t pid = 0;
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;
    struct tsshim_error err;
    if (tsshim_peercred_get(fd, &pid, &uid, &gid, &err) < 0) {
      close(fd);
      continue;
    }
    int id = slot((void ***)&conns, &conns_cap);
    struct wire_conn *c = id < 0 ? NULL : calloc(1, sizeof *c);
    if (c == NULL || uv_poll_init(uv_handle_get_loop((uv_handle_t *)h), &c->poll, fd) != 0) {
      free(c);
      close(fd);
      continue;
    }
    c->poll.data = c;
    c->fd = fd;
    c->id = id;
    c->owner = l;
    conns[id] = c;
    l->conns++;
    int peer[4] = {fd, (int)pid, (int)uid, (int)gid};
    call_js(&l->cb, l->cb.on_accept, id, NULL, 0, peer, 4);
    if (c->closing || conns[id] != c) continue;
    conn_watch(c);
    /* The client usually sends its first request right after connecting: read it
     * now rather than after another trip through epoll. */
    if (!c->paused) conn_read(c);
  }
}

static int get_ref(napi_env env, napi_value v, napi_ref *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_function) return -1;
  return napi_create_reference(env, v, 1, out) == napi_ok ? 0 : -1;
}

static napi_value js_wire_listen(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], resource, name, out;
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0)
    return tsshim_napi_throw_type(env, "wireListen(fd, onAccept, onData, onDrain, onClose)");
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return throw_errno(env, EINVAL, "napi_get_uv_event_loop", NULL);
  /* accept4 runs until EAGAIN: a blocking listening socket would stall the loop. */
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
    return throw_errno(env, errno, "fcntl", "O_NONBLOCK on the listening socket");
  int id = slot((void ***)&listeners, &listeners_cap);
  struct wire_listener *l = id < 0 ? NULL : calloc(1, sizeof *l);
  if (l == NULL) return throw_errno(env, ENOMEM, "malloc", "listener");
  l->cb.env = env;
  if (get_ref(env, argv[1], &l->cb.on_accept) < 0 || get_ref(env, argv[2], &l->cb.on_data) < 0 ||
      get_ref(env, argv[3], &l->cb.on_drain) < 0 || get_ref(env, argv[4], &l->cb.on_close) < 0 ||
      napi_create_object(env, &resource) != napi_ok ||
      napi_create_reference(env, resource, 1, &l->cb.resource) != napi_ok ||
      napi_create_string_utf8(env, "tsshim.ttrpcWire", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, resource, name, &l->cb.async) != napi_ok) {
    free(l); /* references made so far leak with the failed listener: the process is in trouble anyway */
    return tsshim_napi_throw_type(env, "wireListen: callbacks must be functions");
  }
  int rc = uv_poll_init(loop, &l->poll, fd);
  if (rc != 0) {
    listener_free(l);
    return throw_errno(env, -rc, "uv_poll_init", "listening socket");
  }
  l->poll.data = l;
  rc = uv_poll_start(&l->poll, UV_READABLE, on_accept);
  if (rc != 0) {
    l->closing = true;
    uv_close((uv_handle_t *)&l->poll, on_listener_closed);
    return throw_errno(env, -rc, "uv_poll_start", "listening socket");
  }
  l->fd = fd;
  l->id = id;
  listeners[id] = l;
  if (napi_create_int32(env, id, &out) != napi_ok) return NULL;
  return out;
}

static napi_value js_wire_unlisten(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t id;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &id) != napi_ok)
    return tsshim_napi_throw_type(env, "wireUnlisten(listener)");
  if (id < 0 || (size_t)id >= listeners_cap || listeners[id] == NULL) return NULL;
  struct wire_listener *l = listeners[id];
  listeners[id] = NULL;
  l->closing = true;
  uv_poll_stop(&l->poll);
  close(l->fd); /* whatever close says, the descriptor is gone */
  uv_close((uv_handle_t *)&l->poll, on_listener_closed);
  return NULL;
}

/* Sends what the socket takes now and queues the rest; returns the bytes queued. */
static size_t conn_write(struct wire_conn *c, const void *bytes, size_t len) {
  if (c->closing || c->ending) return 0;
  size_t off = 0;
  while (c->queued == 0 && off < len) {
    ssize_t w = send(c->fd, (const char *)bytes + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) conn_close(c, errno);
      break;
    }
    off += (size_t)w;
  }
  if (!c->closing && off < len) {
    size_t need = c->queued + (len - off);
    if (need > c->cap) {
      size_t cap = c->cap ? c->cap : 4096;
      while (cap < need) cap *= 2;
      char *grown = realloc(c->queue, cap);
      if (grown == NULL) {
        conn_close(c, ENOMEM);
        return 0;
      }
      c->queue = grown;
      c->cap = cap;
    }
    memcpy(c->queue + c->queued, (const char *)bytes + off, len - off);
    c->queued = need;
    conn_watch(c);
  }
  return c->closing ? 0 : c->queued;
}

static napi_value js_wire_write(napi_env env, napi_callback_info info) {
  napi_value data = NULL, out;
  struct wire_conn *c = conn_of(env, info, &data);
  if (data == NULL) return NULL; /* conn_of threw */
  void *bytes;
  size_t len;
  bool is_buffer = false;
  if (napi_is_buffer(env, data, &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, data, &bytes, &len) != napi_ok)
    return tsshim_napi_throw_type(env, "wireWrite(id, buffer)");
  size_t left = c != NULL ? conn_write(c, bytes, len) : 0;
  if (napi_create_uint32(env, (uint32_t)left, &out) != napi_ok) return NULL;
  return out;
}

static napi_value js_wire_pause(napi_env env, napi_callback_info info) {
  struct wire_conn *c = conn_of(env, info, NULL);
  if (c != NULL && !c->paused) {
    c->paused = true;
    conn_watch(c);
  }
  return NULL;
}

static napi_value js_wire_resume(napi_env env, napi_callback_info info) {
  struct wire_conn *c = conn_of(env, info, NULL);
  if (c != NULL) c->answering = true;
  if (c != NULL && c->paused) {
    c->paused = false;
    conn_watch(c);
  }
  return NULL;
}

static napi_value js_wire_end(napi_env env, napi_callback_info info) {
  struct wire_conn *c = conn_of(env, info, NULL);
  if (c == NULL || c->closing) return NULL;
  c->ending = true;
  if (c->queued == 0) conn_close(c, 0);
  return NULL;
}

static napi_value js_wire_destroy(napi_env env, napi_callback_info info) {
  struct wire_conn *c = conn_of(env, info, NULL);
  if (c != NULL) conn_close(c, 0);
  return NULL;
}

static struct wire_listener *listener_arg(napi_env env, napi_value v, bool *ok) {
  int32_t id;
  *ok = napi_get_value_int32(env, v, &id) == napi_ok;
  return *ok && id >= 0 && (size_t)id < listeners_cap ? listeners[id] : NULL;
}

static bool bytes_arg(napi_env env, napi_value v, const uint8_t **data, size_t *len) {
  bool is = false;
  napi_typedarray_type type;
  void *raw;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &type, len, &raw, NULL, NULL) != napi_ok || type != napi_uint8_array)
    return false;
  *data = raw;
  return true;
}

static bool name_arg(napi_env env, napi_value v, char *out, size_t cap, size_t *len) {
  return napi_get_value_string_utf8(env, v, out, cap, len) == napi_ok && *len < cap - 1;
}

static napi_value js_wire_answer(napi_env env, napi_callback_info info) {
  const char *usage = "wireAnswer(listener, group, service, method, request: Uint8Array, response: Uint8Array)";
  size_t argc = 6;
  napi_value argv[6];
  char group[256], service[256], method[256];
  struct tsshim_answer_spec spec = {.group = group, .service = service, .method = method};
  bool ok = false;
  struct wire_listener *l = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc >= 6)
    l = listener_arg(env, argv[0], &ok);
  if (!ok || !name_arg(env, argv[1], group, sizeof group, &spec.group_len) ||
      !name_arg(env, argv[2], service, sizeof service, &spec.service_len) ||
      !name_arg(env, argv[3], method, sizeof method, &spec.method_len) ||
      !bytes_arg(env, argv[4], &spec.request, &spec.request_len) ||
      !bytes_arg(env, argv[5], &spec.response, &spec.response_len))
    return tsshim_napi_throw_type(env, usage);
  if (l != NULL && tsshim_answers_set(&l->answers, &spec) < 0) return throw_errno(env, errno, "malloc", "an answer");
  return NULL;
}

/* wireAnswersClear(listener[, group]): withdraws the group's answers, or all. */
static napi_value js_wire_answers_clear(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  char group[256];
  size_t group_len = 0;
  bool ok = false, all = true;
  struct wire_listener *l = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc >= 1)
    l = listener_arg(env, argv[0], &ok);
  if (ok && argc >= 2) {
    napi_valuetype t;
    ok = napi_typeof(env, argv[1], &t) == napi_ok;
    all = ok && t == napi_undefined;
    if (ok && !all) ok = name_arg(env, argv[1], group, sizeof group, &group_len);
  }
  if (!ok) return tsshim_napi_throw_type(env, "wireAnswersClear(listener, group?)");
  if (l != NULL) tsshim_answers_clear(&l->answers, all ? NULL : group, group_len);
  return NULL;
}

napi_status tsshim_napi_wire_init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"wireListen", NULL, js_wire_listen, NULL, NULL, NULL, napi_default, NULL},
      {"wireUnlisten", NULL, js_wire_unlisten, NULL, NULL, NULL, napi_default, NULL},
      {"wireWrite", NULL, js_wire_write, NULL, NULL, NULL, napi_default, NULL},
      {"wirePause", NULL, js_wire_pause, NULL, NULL, NULL, napi_default, NULL},
      {"wireResume", NULL, js_wire_resume, NULL, NULL, NULL, napi_default, NULL},
      {"wireEnd", NULL, js_wire_end, NULL, NULL, NULL, napi_default, NULL},
      {"wireDestroy", NULL, js_wire_destroy, NULL, NULL, NULL, napi_default, NULL},
      {"wireAnswer", NULL, js_wire_answer, NULL, NULL, NULL, napi_default, NULL},
      {"wireAnswersClear", NULL, js_wire_answers_clear, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
