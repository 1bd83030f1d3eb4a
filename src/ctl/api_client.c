/*
 * A tiny HTTP/1.1 client for ember's API socket: one request per connection, every wait
 * bounded by the caller's time-out, the reply bounded in size. ember answers with a
 * Content-Length (or none, for 204), so the reply ends there or at the peer's close.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "../util/util.h"

#define API_HEAD_MAX  (16 << 10)
#define API_REPLY_MAX (1 << 20) /* a GET /vm/config of a big VM stays far below */

void ctl_api_reply_free(struct ctl_api_reply *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

/* The value of header (name) in the header block [p, end), or NULL. */
static const char *header_value(const char *p, const char *end, const char *name, size_t *len)
{
	size_t nlen = strlen(name);
	const char *eol, *v;

	while (p < end) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > nlen && !strncasecmp(p, name, nlen) && p[nlen] == ':') {
			v = p + nlen + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*len = (size_t)(eol - v);
			return v;
		}
		p = eol + 2;
	}
	return NULL;
}

int ctl_api_parse_reply(const char *buf, size_t len, bool eof, struct ctl_api_reply *reply,
			char *why, size_t why_len)
{
	const char *head_end, *v;
	size_t vlen = 0, body_len, i;
	unsigned long long clen = 0;
	int status;

	head_end = memmem(buf, len, "\r\n\r\n", 4);
	if (!head_end) {
		if (len > API_HEAD_MAX || eof) {
			snprintf(why, why_len,
				 eof ? "the connection closed before a whole reply"
				     : "reply headers too long");
			return -EPROTO;
		}
		return -EAGAIN;
	}
	if (head_end - buf < 12 || memcmp(buf, "HTTP/1.", 7) || buf[8] != ' ' || buf[9] < '1' ||
	    buf[9] > '5' || buf[10] < '0' || buf[10] > '9' || buf[11] < '0' || buf[11] > '9') {
		snprintf(why, why_len, "not an HTTP reply");
		return -EPROTO;
	}
	status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	/* The first "\r\n" is at or before head_end: the headers start after it. */
	v = (const char *)memchr(buf, '\n', (size_t)(head_end + 2 - buf)) + 1;
	v = header_value(v, head_end + 2, "Content-Length", &vlen);
	body_len = len - (size_t)(head_end + 4 - buf);
	if (v) {
		if (!vlen || vlen > 9)
			goto bad_length;
		for (i = 0; i < vlen; i++) {
			if (v[i] < '0' || v[i] > '9')
				goto bad_length;
			clen = clen * 10 + (unsigned long long)(v[i] - '0');
		}
		if (clen > API_REPLY_MAX)
			goto bad_length;
		if (body_len < clen) {
			if (eof) {
				snprintf(why, why_len, "the reply body was cut short");
				return -EPROTO;
			}
			return -EAGAIN;
		}
		body_len = (size_t)clen;
	} else if (status != 204 && status != 304 && !eof) {
		return -EAGAIN; /* the body runs to the close */
	}
	reply->status = status;
	reply->body = NULL;
	reply->body_len = body_len;
	if (body_len) {
		reply->body = malloc(body_len + 1);
		if (!reply->body) {
			snprintf(why, why_len, "out of memory");
			return -ENOMEM;
		}
		memcpy(reply->body, head_end + 4, body_len);
		reply->body[body_len] = '\0';
	}
	return 0;
bad_length:
	snprintf(why, why_len, "bad Content-Length");
	return -EPROTO;
}

static int wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	uint64_t now;
	int ret;

	for (;;) {
		now = now_us();
		if (now >= deadline)
			return -ETIMEDOUT;
		ret = poll(&p, 1, (int)MIN((deadline - now + 999) / 1000, 60000ULL));
		if (ret > 0)
			return 0;
		if (ret < 0 && errno != EINTR)
			return -errno;
	}
}

int ctl_unix_connect(const char *path, uint64_t deadline)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd, ret;

	if (unix_addr(&addr, path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A full backlog answers EAGAIN at once: try again until the deadline. */
	while (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		ret = -errno;
		if (ret != -EAGAIN && ret != -EINTR) {
			close(fd);
			return ret;
		}
		if (now_us() >= deadline) {
			close(fd);
			return -ETIMEDOUT;
		}
		ctl_sleep_ms(5);
	}
	return fd;
}

static int api_connect(const char *sock, uint64_t deadline, char *why, size_t why_len)
{
	int fd = ctl_unix_connect(sock, deadline);

	if (fd == -ENAMETOOLONG)
		snprintf(why, why_len, "%s: path too long for a socket", sock);
	else if (fd == -ETIMEDOUT)
		snprintf(why, why_len, "%s: no answer in time", sock);
	else if (fd < 0)
		snprintf(why, why_len, "cannot connect to %s: %s", sock, strerror(-fd));
	return fd;
}

int ctl_api_call(const char *sock, const char *method, const char *path, const char *body,
		 int timeout_ms, struct ctl_api_reply *reply, char *why, size_t why_len)
{
	uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000;
	size_t body_len = body ? strlen(body) : 0, len = 0, cap = 4096, sent = 0, req_len;
	char *buf = NULL, *req = NULL, *nb;
	int fd, ret, n;
	ssize_t r;

	fd = api_connect(sock, deadline, why, why_len);
	if (fd < 0)
		return fd;
	n = asprintf(&req,
		     "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
		     "%sContent-Length: %zu\r\n\r\n%s",
		     method, path, body ? "Content-Type: application/json\r\n" : "", body_len,
		     body ? body : "");
	if (n < 0) {
		req = NULL;
		ret = -ENOMEM;
		snprintf(why, why_len, "out of memory");
		goto out;
	}
	req_len = (size_t)n;
	while (sent < req_len) {
		r = send(fd, req + sent, req_len - sent, MSG_NOSIGNAL);
		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			ret = wait_fd(fd, POLLOUT, deadline);
			if (ret)
				goto io_fail;
			continue;
		}
		if (r < 0) {
			ret = -errno;
			goto io_fail;
		}
		sent += (size_t)r;
	}
	buf = malloc(cap);
	if (!buf) {
		ret = -ENOMEM;
		goto io_fail;
	}
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= API_HEAD_MAX + API_REPLY_MAX) {
				snprintf(why, why_len, "%s: reply too large", sock);
				ret = -EFBIG;
				goto out;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				ret = -ENOMEM;
				goto io_fail;
			}
			buf = nb;
			cap *= 2;
		}
		r = recv(fd, buf + len, cap - len - 1, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			ret = wait_fd(fd, POLLIN, deadline);
			if (ret)
				goto io_fail;
			continue;
		}
		if (r < 0) {
			ret = -errno;
			goto io_fail;
		}
		len += (size_t)r;
		ret = ctl_api_parse_reply(buf, len, r == 0, reply, why, why_len);
		if (ret != -EAGAIN)
			goto out;
	}
io_fail:
	snprintf(why, why_len, "%s: %s", sock,
		 ret == -ETIMEDOUT ? "no answer in time" : strerror(-ret));
out:
	free(req);
	free(buf);
	close(fd);
	return ret;
}

int ctl_api_get_state(const char *sock, int timeout_ms, char *state, size_t state_len, char *id,
		      size_t id_len, char *why, size_t why_len)
{
	struct ctl_api_reply r = {0};
	json_t *root, *s, *i;
	int ret;

	ret = ctl_api_call(sock, "GET", "/", NULL, timeout_ms, &r, why, why_len);
	if (ret)
		return ret;
	ret = -EPROTO;
	root = r.status == 200 && r.body ? json_loadb(r.body, r.body_len, 0, NULL) : NULL;
	s = json_object_get(root, "state");
	i = json_object_get(root, "id");
	if (json_is_string(s) && json_string_length(s) < state_len) {
		snprintf(state, state_len, "%s", json_string_value(s));
		snprintf(id, id_len, "%s", json_is_string(i) ? json_string_value(i) : "");
		ret = 0;
	} else {
		snprintf(why, why_len, "GET /: unexpected reply (status %d)", r.status);
	}
	json_decref(root);
	ctl_api_reply_free(&r);
	return ret;
}
