/*
 * The API's HTTP/1.1: requests decoded with libhttp-parser, responses encoded as micro_http
 * writes them. See http.h for the response bytes.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "../util/util.h"

/* micro_http's own wording, so clients read the messages Firecracker gives. */
#define MSG_INVALID_REQUEST "Invalid request."
#define MSG_BAD_METHOD	    "Invalid HTTP Method: Unsupported HTTP method."
#define MSG_BAD_VERSION	    "Invalid HTTP Version: Unsupported HTTP version."
#define MSG_BAD_UTF8_URI    "Invalid URI: Cannot parse URI as UTF-8."
/* ember's own, for what micro_http does not check. */
#define MSG_BAD_TARGET "Invalid URI: The request target must be a path starting with '/'."
#define MSG_BAD_LENGTH "Invalid header. Reason: Invalid value for Content-Length."
#define MSG_TE	       "Invalid header. Reason: Transfer-Encoding is not supported."

void http_buf_free(struct http_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int http_buf_append(struct http_buf *b, const void *p, size_t n)
{
	size_t need;
	char *data;

	/* Reuse the sent part before growing. */
	if (b->off && b->off == b->len) {
		b->off = 0;
		b->len = 0;
	} else if (b->off && b->len + n > b->cap) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (__builtin_add_overflow(b->len, n, &need))
		return -ENOMEM;
	if (need > b->cap) {
		size_t cap = MAX(need, MAX(b->cap * 2, (size_t)256));

		data = realloc(b->data, cap);
		if (!data)
			return -ENOMEM;
		b->data = data;
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void http_buf_consume(struct http_buf *b, size_t n)
{
	b->off += MIN(n, b->len - b->off);
	if (b->off == b->len) {
		b->off = 0;
		b->len = 0;
	}
}

/* The status line and the headers every response has, up to the optional content ones. */
static int http_format_head(char *head, size_t size, unsigned int minor, int status,
			    bool keep_alive)
{
	return snprintf(head, size,
			"HTTP/1.%u %d \r\nServer: Firecracker API\r\nConnection: %s\r\n", minor,
			status, keep_alive ? "keep-alive" : "close");
}

int http_format_response(struct http_buf *out, int status, bool keep_alive, const char *body,
			 size_t body_len)
{
	bool has_content = status >= 200 && status != 204;
	size_t pending = http_buf_pending(out);
	char head[192];
	int n;

	/* micro_http answers HTTP/1.1 whatever the request's version; only "100" echoes it. */
	n = http_format_head(head, sizeof(head), 1, status, keep_alive);
	if (has_content) {
		if (!body)
			body_len = 0;
		n +=
		    snprintf(head + n, sizeof(head) - n,
			     "Content-Type: application/json\r\nContent-Length: %zu\r\n", body_len);
	}
	n += snprintf(head + n, sizeof(head) - n, "\r\n");
	if (http_buf_append(out, head, n) ||
	    (has_content && http_buf_append(out, body, body_len))) {
		out->len = out->off + pending; /* no half response */
		return -ENOMEM;
	}
	return 0;
}

int http_format_continue(struct http_buf *out, unsigned int minor, bool keep_alive)
{
	char head[128];
	int n;

	n = http_format_head(head, sizeof(head), minor, 100, keep_alive);
	n += snprintf(head + n, sizeof(head) - n, "\r\n");
	return http_buf_append(out, head, n);
}

int http_format_error(struct http_buf *out, bool keep_alive, const char *msg)
{
	json_t *fault = json_pack("{s:s}", "fault_message", msg);
	char *body = fault ? json_dumps(fault, JSON_COMPACT) : NULL;
	int ret = body ? http_format_response(out, 400, keep_alive, body, strlen(body)) : -ENOMEM;

	free(body);
	json_decref(fault);
	return ret;
}

void http_request_free(struct api_request *req)
{
	if (!req)
		return;
	free(req->path);
	free(req->body);
	free(req);
}

static int http_refuse(struct http_codec *c, const char *msg)
{
	snprintf(c->error_msg, sizeof(c->error_msg), "%s", msg);
	return -1;
}

/* Append (at, len) to a bounded field buffer, keeping the first bytes only. */
static void http_keep_prefix(char *dst, size_t size, size_t *dst_len, const char *at, size_t len)
{
	size_t room = size - 1 - MIN(*dst_len, size - 1);

	memcpy(dst + MIN(*dst_len, size - 1), at, MIN(len, room));
	*dst_len += len;
	dst[MIN(*dst_len, size - 1)] = '\0';
}

/* The header just read in full: note the two the parser leaves to us. */
static void http_header_done(struct http_codec *c)
{
	const char *v = c->value;

	if (c->field_len >= sizeof(c->field)) /* longer than any name we look for */
		goto out;
	if (!strcasecmp(c->field, "transfer-encoding")) {
		c->transfer_encoding = true;
	} else if (!strcasecmp(c->field, "expect")) {
		/* Any other expectation is ignored, as micro_http does. */
		while (*v == ' ' || *v == '\t')
			v++;
		if (c->value_len < sizeof(c->value) && !strncasecmp(v, "100-continue", 12) &&
		    strspn(v + 12, " \t") == strlen(v + 12))
			c->expect_continue = true;
	}
out:
	c->field_len = 0;
	c->value_len = 0;
	c->field[0] = '\0';
	c->value[0] = '\0';
}

static int http_on_message_begin(http_parser *p)
{
	struct http_codec *c = p->data;

	c->keep_alive = true;
	c->in_body = false;
	c->header_bytes = 0;
	c->header_was_value = false;
	c->continue_due = false;
	c->expect_continue = false;
	c->transfer_encoding = false;
	c->field_len = 0;
	c->value_len = 0;
	c->url_len = 0;
	return 0;
}

static int http_on_url(http_parser *p, const char *at, size_t len)
{
	struct http_codec *c = p->data;
	char *url;

	/* Bounded: the url is part of the headers, and those are capped by the feeder. */
	url = realloc(c->url, c->url_len + len + 1);
	if (!url)
		return http_refuse(c, MSG_INVALID_REQUEST);
	memcpy(url + c->url_len, at, len);
	c->url = url;
	c->url_len += len;
	c->url[c->url_len] = '\0';
	return 0;
}

static int http_on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_codec *c = p->data;

	if (c->header_was_value)
		http_header_done(c);
	c->header_was_value = false;
	http_keep_prefix(c->field, sizeof(c->field), &c->field_len, at, len);
	return 0;
}

static int http_on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_codec *c = p->data;

	c->header_was_value = true;
	http_keep_prefix(c->value, sizeof(c->value), &c->value_len, at, len);
	return 0;
}

/*
 * The path of an origin-form target ("/a?b"), or of an absolute-form one
 * ("http://host/a", which micro_http also takes), query and fragment removed.
 */
static char *http_target_path(const char *url)
{
	const char *path = url, *end;

	if (!strncmp(url, "http://", 7)) {
		path = strchr(url + 7, '/');
		if (!path)
			return strdup("/"); /* micro_http routes "http://host" as the root */
	} else if (url[0] != '/') {
		errno = EINVAL;
		return NULL;
	}
	end = path + strcspn(path, "?#");
	return strndup(path, end - path);
}

static int http_on_headers_complete(http_parser *p)
{
	struct http_codec *c = p->data;
	bool has_length = p->content_length != UINT64_MAX;
	struct api_request *req;
	json_t *utf8_check;

	if (c->header_was_value)
		http_header_done(c);
	c->keep_alive = http_should_keep_alive(p);
	c->minor = p->http_minor;
	if (p->http_major != 1 || p->http_minor > 1)
		return http_refuse(c, MSG_BAD_VERSION);
	if (c->transfer_encoding)
		return http_refuse(c, MSG_TE);
	if (has_length && p->content_length > c->max_payload) {
		snprintf(c->error_msg, sizeof(c->error_msg),
			 "Request payload with size %llu is larger than the limit of %zu allowed "
			 "by server.",
			 (unsigned long long)p->content_length, c->max_payload);
		return -1;
	}
	/* The router echoes paths inside JSON, which must be UTF-8. */
	utf8_check = json_stringn(c->url, c->url_len);
	if (!utf8_check)
		return http_refuse(c, MSG_BAD_UTF8_URI);
	json_decref(utf8_check);

	req = calloc(1, sizeof(*req));
	if (!req)
		return http_refuse(c, MSG_INVALID_REQUEST);
	c->req = req;
	req->path = http_target_path(c->url);
	if (!req->path)
		return http_refuse(c, errno == EINVAL ? MSG_BAD_TARGET : MSG_INVALID_REQUEST);
	switch (p->method) {
	case HTTP_GET:
		req->method = API_GET;
		break;
	case HTTP_PUT:
		req->method = API_PUT;
		break;
	case HTTP_PATCH:
		req->method = API_PATCH;
		break;
	default:
		req->method = API_OTHER;
		break;
	}
	req->method_name = http_method_str(p->method);
	c->body_cap = has_length ? p->content_length + 1 : 1;
	req->body = malloc(c->body_cap);
	if (!req->body)
		return http_refuse(c, MSG_INVALID_REQUEST);
	req->body[0] = '\0';
	c->in_body = true;
	/* As micro_http: a "100" only for a body it will take. */
	if (c->expect_continue && has_length && p->content_length > 0) {
		c->continue_due = true;
		http_parser_pause(p, 1);
	}
	return 0;
}

static int http_on_body(http_parser *p, const char *at, size_t len)
{
	struct http_codec *c = p->data;
	struct api_request *req = c->req;

	/* The parser never passes more than Content-Length, which sized the buffer. */
	if (len > c->body_cap - 1 - req->body_len)
		return http_refuse(c, MSG_INVALID_REQUEST);
	memcpy(req->body + req->body_len, at, len);
	req->body_len += len;
	req->body[req->body_len] = '\0';
	return 0;
}

static int http_on_message_complete(http_parser *p)
{
	/* Stop right after this request: the caller answers it before decoding the next. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings http_settings = {
    .on_message_begin = http_on_message_begin,
    .on_url = http_on_url,
    .on_header_field = http_on_header_field,
    .on_header_value = http_on_header_value,
    .on_headers_complete = http_on_headers_complete,
    .on_body = http_on_body,
    .on_message_complete = http_on_message_complete,
};

void http_codec_init(struct http_codec *c, size_t max_payload)
{
	memset(c, 0, sizeof(*c));
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	c->max_payload = max_payload;
	c->keep_alive = true;
	c->minor = 1;
}

void http_codec_destroy(struct http_codec *c)
{
	http_request_free(c->req);
	c->req = NULL;
	free(c->url);
	c->url = NULL;
}

/* A refusal from the parser itself, in the words closest to micro_http's. */
static const char *http_parser_refusal(enum http_errno e)
{
	switch (e) {
	case HPE_INVALID_METHOD:
		return MSG_BAD_METHOD;
	case HPE_INVALID_VERSION:
		return MSG_BAD_VERSION;
	case HPE_INVALID_URL:
		return MSG_BAD_TARGET;
	case HPE_INVALID_CONTENT_LENGTH:
	case HPE_UNEXPECTED_CONTENT_LENGTH:
		return MSG_BAD_LENGTH;
	case HPE_INVALID_TRANSFER_ENCODING:
		return MSG_TE;
	default:
		return MSG_INVALID_REQUEST;
	}
}

static int http_codec_fail(struct http_codec *c, const char *msg)
{
	if (msg)
		snprintf(c->error_msg, sizeof(c->error_msg), "%s", msg);
	c->failed = true;
	return -EBADMSG;
}

int http_codec_feed(struct http_codec *c, const char *buf, size_t len, size_t *used,
		    struct api_request **req, bool *keep_alive)
{
	enum http_errno e;
	size_t n, done;
	bool was_in_body;

	*used = 0;
	*req = NULL;
	if (c->failed)
		return -EBADMSG;
	while (*used < len) {
		n = len - *used;
		was_in_body = c->in_body;
		/*
		 * Hand the parser no more header bytes than the limit allows, so an endless
		 * header is refused without being stored.
		 */
		if (!was_in_body)
			n = MIN(n, HTTP_MAX_HEADER_BYTES - c->header_bytes);
		done = http_parser_execute(&c->parser, &http_settings, buf + *used, n);
		*used += done;
		e = HTTP_PARSER_ERRNO(&c->parser);
		if (e != HPE_OK && e != HPE_PAUSED)
			return http_codec_fail(c, e >= HPE_CB_message_begin &&
							  e <= HPE_CB_chunk_complete
						      ? NULL
						      : http_parser_refusal(e));
		if (!was_in_body && !c->in_body) {
			c->header_bytes += done;
			if (c->header_bytes >= HTTP_MAX_HEADER_BYTES) {
				snprintf(c->error_msg, sizeof(c->error_msg),
					 "Request headers are larger than the limit of %d bytes "
					 "allowed by server.",
					 HTTP_MAX_HEADER_BYTES);
				return http_codec_fail(c, NULL);
			}
		}
		if (e != HPE_PAUSED)
			continue;
		http_parser_pause(&c->parser, 0);
		if (c->continue_due) {
			c->continue_due = false;
			return HTTP_EV_CONTINUE;
		}
		*req = c->req;
		*keep_alive = c->keep_alive;
		c->req = NULL;
		c->in_body = false;
		c->header_bytes = 0;
		return HTTP_EV_REQUEST;
	}
	return HTTP_EV_NEED_MORE;
}
