/*
 * The API thread. One epoll loop holds the listening socket, every connection, the eventfd
 * on which the VMM's replies arrive and the one that stops the thread; nothing in it ever
 * blocks, so a slow or silent client only holds its own connection.
 *
 * Each connection has at most one request with the VMM: the next one, pipelined or not,
 * stays undecoded (in the connection's buffer or the socket) until the reply to the
 * current one is queued, which keeps replies in order without tracking them.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "http.h"
#include "server.h"
#include "../seccomp/confine.h"
#include "../util/eventloop.h"
#include "../util/log.h"
#include "../util/util.h"

#define API_MAX_CONNS  256
#define API_READ_CHUNK 4096
#define API_OUT_PAUSE  (64 * 1024)   /* no new request is decoded while more output waits */
#define API_OUT_MAX    (1024 * 1024) /* a client that lets this much pile up is dropped */
#define API_DRAIN_MAX  (64 * 1024)   /* unread input discarded before closing, see api_conn_close */

/* A reply on its way from the VMM thread to the API thread. */
struct api_reply {
	uint64_t conn_id;
	int status;
	size_t body_len;
	struct api_reply *next;
	char body[];
};

struct api_conn {
	struct api_server *srv;
	struct event_source src;
	uint64_t id;
	struct http_codec codec;
	char in[API_READ_CHUNK];
	size_t in_off, in_len; /* in[in_off, in_len) is read and not yet decoded */
	struct http_buf out;
	bool in_flight; /* a request from here is with the VMM */
	bool in_flight_keep_alive;
	bool closing;	 /* close once (out) is sent */
	bool dead;	 /* closed, to be freed after this batch of events */
	uint32_t events; /* what the loop watches on this fd */
	struct api_conn *next;
};

struct api_server {
	char *sock_path;
	size_t max_payload;
	struct logger *log;
	int listen_fd, request_fd, reply_fd, stop_fd;
	pthread_t thread;
	bool thread_started;
	/* The thread confines itself first and says how that went: 1 pending, else 0 or -errno. */
	struct seccomp_filters *seccomp;
	int confined;
	pthread_cond_t confined_cond;

	/* The API thread's alone once it runs. */
	struct event_loop loop;
	struct event_source listen_src, reply_src, stop_src;
	bool stopping;
	bool accept_paused;
	struct api_conn *conns, *dead;
	unsigned int nr_conns;
	uint64_t last_conn_id; /* ids are never reused, so a late reply finds no one */

	/*
	 * Shared with the VMM thread. (lock) covers both queues and the readiness of
	 * their eventfds: request_fd is readable exactly while (requests) is not empty.
	 */
	pthread_mutex_t lock;
	struct api_request *requests, **requests_tail;
	struct api_reply *replies, **replies_tail;
};

/* A write fails only if the counter would overflow, a read only if it is zero: both fine. */
static void eventfd_signal(int fd)
{
	(void)eventfd_write(fd, 1);
}

static void eventfd_clear(int fd)
{
	eventfd_t count;

	(void)eventfd_read(fd, &count);
}

static struct api_conn *api_conn_find(struct api_server *s, uint64_t id)
{
	struct api_conn *c;

	for (c = s->conns; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

static void api_accept_resume(struct api_server *s)
{
	if (s->accept_paused && !event_loop_modify(&s->loop, &s->listen_src, EPOLLIN))
		s->accept_paused = false;
}

/*
 * Stop serving (c). It is freed only after the current batch of events, which may still
 * hold one for it: closing from a reply handler must not leave that one dangling.
 */
static void api_conn_close(struct api_conn *c)
{
	struct api_server *s = c->srv;
	struct api_conn **pp;
	char discard[4096];
	size_t drained = 0;
	ssize_t n;

	/*
	 * Closing a Unix socket with unread input makes the peer's reads fail with
	 * ECONNRESET once it has read what we sent; reading a little first lets a client that
	 * sent a refused body still end on a clean EOF after our 400.
	 */
	while (c->closing && drained < API_DRAIN_MAX &&
	       (n = recv(c->src.fd, discard, sizeof(discard), MSG_DONTWAIT)) > 0)
		drained += n;
	event_loop_del(&s->loop, &c->src);
	close(c->src.fd);
	for (pp = &s->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	s->nr_conns--;
	c->dead = true;
	c->next = s->dead;
	s->dead = c;
	api_accept_resume(s);
}

static void api_conns_reap(struct api_server *s)
{
	struct api_conn *c;

	while ((c = s->dead)) {
		s->dead = c->next;
		http_codec_destroy(&c->codec);
		http_buf_free(&c->out);
		free(c);
	}
}

static bool api_conn_may_read(const struct api_conn *c)
{
	return !c->in_flight && !c->closing && c->in_off == c->in_len &&
	       http_buf_pending(&c->out) < API_OUT_PAUSE;
}

static void api_conn_watch(struct api_conn *c)
{
	uint32_t want = EPOLLRDHUP;

	if (api_conn_may_read(c))
		want |= EPOLLIN;
	if (http_buf_pending(&c->out))
		want |= EPOLLOUT;
	if (want != c->events && !event_loop_modify(&c->srv->loop, &c->src, want))
		c->events = want;
}

/* Send what the socket takes. false when (c) was closed (and freed). */
static bool api_conn_flush(struct api_conn *c)
{
	ssize_t n;

	while (http_buf_pending(&c->out)) {
		n = send(c->src.fd, c->out.data + c->out.off, http_buf_pending(&c->out),
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			http_buf_consume(&c->out, n);
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return true;
		} else {
			log_debug(c->srv->log, "API connection %llu: send: %s",
				  (unsigned long long)c->id, strerror(errno));
			api_conn_close(c);
			return false;
		}
	}
	if (c->closing) {
		api_conn_close(c);
		return false;
	}
	return true;
}

static void api_server_push(struct api_server *s, struct api_request *req)
{
	pthread_mutex_lock(&s->lock);
	req->next = NULL;
	if (!s->requests)
		eventfd_signal(s->request_fd);
	*s->requests_tail = req;
	s->requests_tail = &req->next;
	pthread_mutex_unlock(&s->lock);
}

/* Decode buffered input up to the next request for the VMM (or a refusal). */
static void api_conn_decode(struct api_conn *c)
{
	struct api_request *req;
	bool keep_alive;
	size_t used;
	int ret;

	while (!c->in_flight && !c->closing && c->in_off < c->in_len &&
	       http_buf_pending(&c->out) < API_OUT_PAUSE) {
		ret = http_codec_feed(&c->codec, c->in + c->in_off, c->in_len - c->in_off, &used,
				      &req, &keep_alive);
		c->in_off += used;
		if (ret < 0) {
			log_info(c->srv->log, "API connection %llu: %s", (unsigned long long)c->id,
				 c->codec.error_msg);
			http_format_error(&c->out, c->codec.keep_alive, c->codec.error_msg);
			c->closing = true;
		} else if (ret == HTTP_EV_CONTINUE) {
			if (http_format_continue(&c->out, c->codec.minor, c->codec.keep_alive))
				c->closing = true;
		} else if (ret == HTTP_EV_REQUEST) {
			req->conn_id = c->id;
			c->in_flight = true;
			c->in_flight_keep_alive = keep_alive;
			api_server_push(c->srv, req);
		}
	}
	if (c->in_off == c->in_len)
		c->in_off = c->in_len = 0;
}

/* Decode, send, and watch for what comes next; (c) may be gone afterwards. */
static void api_conn_progress(struct api_conn *c)
{
	api_conn_decode(c);
	if (api_conn_flush(c))
		api_conn_watch(c);
}

static void api_conn_event(void *opaque, uint32_t events)
{
	struct api_conn *c = opaque;
	ssize_t n;

	if (c->dead)
		return;
	if (events & (EPOLLERR | EPOLLHUP)) {
		api_conn_close(c);
		return;
	}
	if ((events & EPOLLOUT) && !api_conn_flush(c))
		return;
	if ((events & EPOLLIN) && api_conn_may_read(c)) {
		n = recv(c->src.fd, c->in, sizeof(c->in), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			api_conn_close(c); /* a request still with the VMM gets no answer */
			return;
		}
		if (n > 0) {
			c->in_off = 0;
			c->in_len = n;
		}
	} else if (events & EPOLLRDHUP) {
		/* The client is gone while we were not reading: as Firecracker, drop it. */
		api_conn_close(c);
		return;
	}
	api_conn_progress(c);
}

static void api_conn_open(struct api_server *s, int fd)
{
	struct api_conn *c;

	if (s->nr_conns >= API_MAX_CONNS) {
		log_warnx(s->log, "API: %u connections already open, refusing one more",
			  s->nr_conns);
		if (send(fd, HTTP_SERVER_FULL_RESPONSE, sizeof(HTTP_SERVER_FULL_RESPONSE) - 1,
			 MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_debug(s->log, "API: send: %s", strerror(errno));
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		log_warnx(s->log, "API: out of memory for a connection");
		close(fd);
		return;
	}
	c->srv = s;
	c->id = ++s->last_conn_id;
	c->src = (struct event_source){fd, api_conn_event, c};
	http_codec_init(&c->codec, s->max_payload);
	c->events = EPOLLIN | EPOLLRDHUP;
	if (event_loop_add(&s->loop, &c->src, c->events)) {
		log_warn(s->log, "API: cannot watch a connection");
		http_codec_destroy(&c->codec);
		free(c);
		close(fd);
		return;
	}
	c->next = s->conns;
	s->conns = c;
	s->nr_conns++;
}

static void api_on_listen(void *opaque, uint32_t events)
{
	struct api_server *s = opaque;
	int fd;

	(void)events;
	for (;;) {
		fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			api_conn_open(s, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		/*
		 * Out of fds or memory: the listening socket would stay readable and spin the
		 * loop, so stop accepting until a connection closes.
		 */
		log_warn(s->log, "API: accept");
		if (!event_loop_modify(&s->loop, &s->listen_src, 0))
			s->accept_paused = true;
		return;
	}
}

static void api_on_replies(void *opaque, uint32_t events)
{
	struct api_server *s = opaque;
	struct api_reply *r, *next;
	struct api_conn *c;

	(void)events;
	/* Clear first: a reply queued after the swap below signals again. */
	eventfd_clear(s->reply_fd);
	pthread_mutex_lock(&s->lock);
	r = s->replies;
	s->replies = NULL;
	s->replies_tail = &s->replies;
	pthread_mutex_unlock(&s->lock);

	for (; r; r = next) {
		next = r->next;
		c = api_conn_find(s, r->conn_id);
		if (c && c->in_flight) {
			c->in_flight = false;
			if (!c->in_flight_keep_alive)
				c->closing = true;
			if (http_format_response(&c->out, r->status, c->in_flight_keep_alive,
						 r->body, r->body_len) ||
			    http_buf_pending(&c->out) > API_OUT_MAX) {
				log_warnx(s->log,
					  "API connection %llu: output over %d bytes, closing",
					  (unsigned long long)c->id, API_OUT_MAX);
				api_conn_close(c);
			} else {
				api_conn_progress(c);
			}
		} else {
			log_debug(s->log, "API: reply to closed connection %llu dropped",
				  (unsigned long long)r->conn_id);
		}
		free(r);
	}
}

static void api_on_stop(void *opaque, uint32_t events)
{
	struct api_server *s = opaque;

	(void)events;
	s->stopping = true;
}

static void *api_thread(void *opaque)
{
	struct api_server *s = opaque;
	int ret;

	prctl(PR_SET_NAME, "ember_api", 0, 0, 0);
	ret = seccomp_thread_enter(s->seccomp, SECCOMP_API);

	pthread_mutex_lock(&s->lock);
	s->confined = ret;
	pthread_cond_signal(&s->confined_cond);
	pthread_mutex_unlock(&s->lock);
	if (ret)
		return NULL;
	while (!s->stopping) {
		ret = event_loop_run_once(&s->loop, -1);
		api_conns_reap(s);
		if (ret) {
			log_err(s->log, "API event loop: %s", strerror(-ret));
			break;
		}
	}
	return NULL;
}

/* Free (s) and whatever of it exists; the thread must not run. */
static void api_server_free(struct api_server *s)
{
	struct api_request *req;
	struct api_reply *r;

	while (s->conns)
		api_conn_close(s->conns);
	api_conns_reap(s);
	while ((req = s->requests)) {
		s->requests = req->next;
		http_request_free(req);
	}
	while ((r = s->replies)) {
		s->replies = r->next;
		free(r);
	}
	event_loop_destroy(&s->loop);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink(s->sock_path);
	}
	if (s->request_fd >= 0)
		close(s->request_fd);
	if (s->reply_fd >= 0)
		close(s->reply_fd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->confined_cond);
	free(s->sock_path);
	free(s);
}

static int api_server_listen(struct api_server *s, char *err, size_t err_len)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int ret;

	if (unix_addr(&addr, s->sock_path)) {
		snprintf(err, err_len, "API socket path too long (at most %d bytes): %s",
			 UNIX_PATH_LEN_MAX, s->sock_path);
		return -ENAMETOOLONG;
	}
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0) {
		ret = -errno;
		snprintf(err, err_len, "API socket: %s", strerror(-ret));
		return ret;
	}
	if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		ret = -errno;
		/* Firecracker's words: it never removes an existing socket either. */
		if (ret == -EADDRINUSE)
			snprintf(err, err_len,
				 "Failed to open the API socket at: %s. Check that it is not "
				 "already used.",
				 s->sock_path);
		else
			snprintf(err, err_len, "Failed to bind the API socket at %s: %s",
				 s->sock_path, strerror(-ret));
		close(s->listen_fd);
		s->listen_fd = -1; /* not ours to unlink */
		return ret;
	}
	if (listen(s->listen_fd, SOMAXCONN) < 0) {
		ret = -errno;
		snprintf(err, err_len, "API socket listen: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

/* The eventfds and the loop that watches them with the listening socket. */
static int api_server_loop_init(struct api_server *s)
{
	int ret;

	s->request_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->reply_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->request_fd < 0 || s->reply_fd < 0 || s->stop_fd < 0)
		return -errno;
	ret = event_loop_init(&s->loop);
	if (ret)
		return ret;
	s->listen_src = (struct event_source){s->listen_fd, api_on_listen, s};
	s->reply_src = (struct event_source){s->reply_fd, api_on_replies, s};
	s->stop_src = (struct event_source){s->stop_fd, api_on_stop, s};
	return event_loop_add(&s->loop, &s->listen_src, EPOLLIN) ?:
	       event_loop_add(&s->loop, &s->reply_src, EPOLLIN) ?:
	       event_loop_add(&s->loop, &s->stop_src, EPOLLIN);
}

int api_server_start(const char *sock_path, size_t max_payload, struct logger *log,
		     struct seccomp_filters *seccomp, struct api_server **out, char *err,
		     size_t err_len)
{
	struct api_server *s;
	sigset_t all, old;
	int ret;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->sock_path = strdup(sock_path))) {
		free(s);
		snprintf(err, err_len, "API server: out of memory");
		return -ENOMEM;
	}
	s->max_payload = max_payload;
	s->log = log;
	s->seccomp = seccomp;
	s->confined = 1;
	pthread_cond_init(&s->confined_cond, NULL);
	s->listen_fd = s->request_fd = s->reply_fd = s->stop_fd = -1;
	s->loop.epoll_fd = -1;
	s->requests_tail = &s->requests;
	s->replies_tail = &s->replies;
	pthread_mutex_init(&s->lock, NULL);

	ret = api_server_listen(s, err, err_len);
	if (ret)
		goto fail;
	ret = api_server_loop_init(s);
	if (ret) {
		snprintf(err, err_len, "API server event loop: %s", strerror(-ret));
		goto fail;
	}
	/*
	 * The thread starts with every signal blocked, so SIGTERM and the vCPU kicks always
	 * reach the threads that wait for them.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&s->thread, NULL, api_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		snprintf(err, err_len, "API server thread: %s", strerror(-ret));
		goto fail;
	}
	s->thread_started = true;
	pthread_mutex_lock(&s->lock);
	while (s->confined == 1)
		pthread_cond_wait(&s->confined_cond, &s->lock);
	ret = s->confined;
	pthread_mutex_unlock(&s->lock);
	if (ret) {
		pthread_join(s->thread, NULL);
		s->thread_started = false;
		snprintf(err, err_len, "API server thread: seccomp filter: %s", strerror(-ret));
		goto fail;
	}
	log_info(s->log, "API server listening on %s", sock_path);
	*out = s;
	return 0;
fail:
	api_server_free(s);
	return ret;
}

int api_server_request_fd(struct api_server *s)
{
	return s->request_fd;
}

struct api_request *api_server_take(struct api_server *s)
{
	struct api_request *req;

	pthread_mutex_lock(&s->lock);
	req = s->requests;
	if (req) {
		s->requests = req->next;
		if (!s->requests) {
			s->requests_tail = &s->requests;
			eventfd_clear(s->request_fd);
		}
		req->next = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	return req;
}

void api_server_reply(struct api_server *s, struct api_request *req, int status,
		      const char *json_body)
{
	size_t len = json_body ? strlen(json_body) : 0;
	struct api_reply *r = malloc(sizeof(*r) + len + 1);

	if (!r) {
		/* The client waits until it gives up; nothing else can be done without memory. */
		log_err(s->log, "API: out of memory for a reply to %s %s", req->method_name,
			req->path);
		http_request_free(req);
		return;
	}
	r->conn_id = req->conn_id;
	r->status = status;
	r->body_len = len;
	r->next = NULL;
	memcpy(r->body, json_body ? json_body : "", len + 1);
	http_request_free(req);

	pthread_mutex_lock(&s->lock);
	if (!s->replies)
		eventfd_signal(s->reply_fd);
	*s->replies_tail = r;
	s->replies_tail = &r->next;
	pthread_mutex_unlock(&s->lock);
}

void api_server_stop(struct api_server *s)
{
	if (!s)
		return;
	if (s->thread_started) {
		eventfd_signal(s->stop_fd);
		pthread_join(s->thread, NULL);
	}
	api_server_free(s);
}
