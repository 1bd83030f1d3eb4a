/*
 * HTTP/1.1 for the API socket, without sockets or threads: a request decoder fed with
 * whatever bytes arrived, and the response encoder that writes exactly what Firecracker's
 * API server (micro_http) writes.
 *
 * Responses always say "HTTP/1.1 <code> " (no reason phrase, as micro_http), then
 * "Server: Firecracker API" and "Connection: keep-alive" (or "close" when the client asked
 * to close); every status but 1xx and 204 then has "Content-Type: application/json" and a
 * Content-Length, even when the body is empty.
 */
#ifndef EMBER_API_HTTP_H
#define EMBER_API_HTTP_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>

#include "server.h"

#define HTTP_MAX_HEADER_BYTES 8192 /* request line + headers + blank line */

/* micro_http's refusal when every connection slot is taken, byte for byte. */
#define HTTP_SERVER_FULL_RESPONSE                                                                  \
	"HTTP/1.1 503\r\n"                                                                         \
	"Server: Firecracker API\r\n"                                                              \
	"Connection: close\r\n"                                                                    \
	"Content-Length: 40\r\n\r\n"                                                               \
	"{ \"error\": \"Too many open connections\" }"

/* A growable byte buffer; bytes [off, len) are still to be sent. */
struct http_buf {
	char *data;
	size_t off, len, cap;
};

void http_buf_free(struct http_buf *b);

/* Append (n) bytes of (p). 0 or -ENOMEM. */
int http_buf_append(struct http_buf *b, const void *p, size_t n);

/* Bytes appended and not yet consumed. */
static inline size_t http_buf_pending(const struct http_buf *b)
{
	return b->len - b->off;
}

/* (n) bytes at the front were sent. */
void http_buf_consume(struct http_buf *b, size_t n);

/*
 * Append a whole response: (status), (keep_alive) for the Connection header, and
 * (body, body_len) (ignored for 1xx and 204, which carry neither body nor Content-Length).
 * 0 or -ENOMEM.
 */
int http_format_response(struct http_buf *out, int status, bool keep_alive, const char *body,
			 size_t body_len);

/* Append the interim "100" response for "Expect: 100-continue" from HTTP/1.(minor). */
int http_format_continue(struct http_buf *out, unsigned int minor, bool keep_alive);

/*
 * Append the 400 for a request that could not be decoded: {"fault_message":"(msg)"}, as
 * Firecracker's own errors. (micro_http itself writes { "error": "(msg)\nAll previous
 * unanswered requests will be dropped." } with a raw newline, which is not JSON.) 0 or
 * -ENOMEM.
 */
int http_format_error(struct http_buf *out, bool keep_alive, const char *msg);

enum http_event {
	HTTP_EV_NEED_MORE, /* every byte was used; feed more */
	HTTP_EV_CONTINUE,  /* the client waits for "100" before it sends the body */
	HTTP_EV_REQUEST,   /* a complete request is in (*req) */
};

/* The decoder of one connection. */
struct http_codec {
	http_parser parser;
	size_t max_payload;
	bool failed;	       /* a request was refused: nothing more will be decoded */
	char error_msg[160];   /* why, for http_format_error() */
	bool keep_alive;       /* the current request's wish; true until its headers say */
	unsigned int minor;    /* its HTTP/1.(minor) */
	bool in_body;	       /* its headers are complete */
	size_t header_bytes;   /* its bytes before the body so far */
	bool header_was_value; /* the last header callback was a value */
	bool continue_due;
	bool expect_continue;
	bool transfer_encoding;
	char field[24]; /* the current header's name, truncated */
	size_t field_len;
	char value[24]; /* and the start of its value */
	size_t value_len;
	char *url; /* the request target as received */
	size_t url_len;
	struct api_request *req; /* being built from the headers on */
	size_t body_cap;
};

/* Ready (c) to decode requests with bodies of at most (max_payload) bytes. */
void http_codec_init(struct http_codec *c, size_t max_payload);

/* Free what (c) holds (a half-received request included). */
void http_codec_destroy(struct http_codec *c);

/*
 * Decode (buf, len) up to the first event; (*used) is how many bytes were consumed. The
 * caller keeps the rest for the next call: after HTTP_EV_REQUEST it may wait, so requests
 * pipelined behind it are not decoded before it is answered. On HTTP_EV_REQUEST (*req) is
 * the caller's, (*keep_alive) whether the connection may carry another request.
 * Returns an enum http_event, or -EBADMSG (-ENOMEM) when the request is refused:
 * answer it with http_format_error(c->keep_alive, c->error_msg) and close.
 */
int http_codec_feed(struct http_codec *c, const char *buf, size_t len, size_t *used,
		    struct api_request **req, bool *keep_alive);

/* Free a request from http_codec_feed(). */
void http_request_free(struct api_request *req);

#endif
