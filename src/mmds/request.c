/*
 * The MMDS's request parser: http-parser in request mode over the bytes the stack holds,
 * stopped (paused) at the end of the first message so a pipelined second request is left
 * for the next call. The callbacks only copy into the fixed-size struct mmds_request;
 * anything over a bound fails the parse instead of growing.
 */
#include <errno.h>
#include <http_parser.h>
#include <string.h>
#include <strings.h>

#include "request.h"

/* Where the callbacks are: the request being filled, and the header being read. */
struct parse_state {
	struct mmds_request *r;
	int current;	      /* enum mmds_header of the value being read, or -1: skip it */
	unsigned int headers; /* header lines seen */
	bool in_value;	      /* the last callback was a value (a new field starts a header) */
	char field[48];	      /* the name being read, cut at its size (no name we know is longer) */
	size_t field_len;
	bool field_long;
	bool complete;
	bool bad; /* a bound was crossed or a chunked body was announced */
};

struct known_header {
	const char *name;
	enum mmds_header which;
	unsigned int spelling;
};

static const struct known_header known_headers[] = {
    {"X-metadata-token", MMDS_H_TOKEN, 0},
    {"X-aws-ec2-metadata-token", MMDS_H_TOKEN, 1},
    {"X-metadata-token-ttl-seconds", MMDS_H_TTL, 0},
    {"X-aws-ec2-metadata-token-ttl-seconds", MMDS_H_TTL, 1},
    {"Accept", MMDS_H_ACCEPT, 0},
    {"X-Forwarded-For", MMDS_H_FORWARDED, 0},
};

static struct parse_state *state_of(http_parser *p)
{
	return p->data;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct mmds_request *r = state_of(p)->r;

	if (len > MMDS_URL_MAX - r->url_len) {
		state_of(p)->bad = true;
		return -1;
	}
	memcpy(r->url + r->url_len, at, len);
	r->url_len += len;
	r->url[r->url_len] = '\0';
	return 0;
}

/* The name is complete once its value starts: pick the slot it fills, if any. */
static void name_done(struct parse_state *s)
{
	size_t i;

	s->current = -1;
	if (s->field_long)
		return;
	for (i = 0; i < sizeof(known_headers) / sizeof(known_headers[0]); i++) {
		const struct known_header *k = &known_headers[i];
		struct mmds_header_value *h = &s->r->h[k->which];

		if (strlen(k->name) != s->field_len || strncasecmp(k->name, s->field, s->field_len))
			continue;
		/* A repeated header: the last one counts, as a map of headers would keep it. */
		memset(h, 0, sizeof(*h));
		h->present = true;
		h->name = k->spelling;
		memcpy(h->name_sent, s->field, s->field_len);
		s->current = (int)k->which;
		return;
	}
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct parse_state *s = state_of(p);

	if (s->in_value || s->headers == 0) {
		if (++s->headers > MMDS_HEADERS_MAX) {
			s->bad = true;
			return -1;
		}
		s->in_value = false;
		s->field_len = 0;
		s->field_long = false;
	}
	if (len >= sizeof(s->field) - s->field_len) {
		s->field_long = true;
		return 0;
	}
	memcpy(s->field + s->field_len, at, len);
	s->field_len += len;
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct parse_state *s = state_of(p);
	struct mmds_header_value *h;
	size_t have;

	if (!s->in_value) {
		s->in_value = true;
		name_done(s);
	}
	if (s->current < 0)
		return 0;
	h = &s->r->h[s->current];
	have = strlen(h->value);
	if (len > MMDS_HEADER_VALUE_MAX - have) {
		h->truncated = true;
		return 0;
	}
	memcpy(h->value + have, at, len);
	h->value[have + len] = '\0';
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct parse_state *s = state_of(p);

	/* The last header's name, should its value have been empty and never reported. */
	if (s->headers && !s->in_value)
		name_done(s);
	/* A chunked body has no length up front; the MMDS never needs one, so it refuses it. */
	if (p->flags & F_CHUNKED) {
		s->bad = true;
		return -1;
	}
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct parse_state *s = state_of(p);

	s->complete = true;
	s->r->keep_alive = http_should_keep_alive(p);
	if (p->method == HTTP_GET)
		s->r->method = MMDS_GET;
	else if (p->method == HTTP_PUT)
		s->r->method = MMDS_PUT;
	else
		s->r->method = MMDS_OTHER;
	/* Stop after this message: what follows is the next request's. */
	http_parser_pause(p, 1);
	return 0;
}

/* Header values without the spaces and tabs around them. */
static void trim(char *v)
{
	size_t len = strlen(v), start = 0;

	while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	while (start < len && (v[start] == ' ' || v[start] == '\t'))
		start++;
	memmove(v, v + start, len - start);
	v[len - start] = '\0';
}

long mmds_request_parse(const uint8_t *in, size_t len, struct mmds_request *r)
{
	http_parser_settings settings = {
	    .on_url = on_url,
	    .on_header_field = on_header_field,
	    .on_header_value = on_header_value,
	    .on_headers_complete = on_headers_complete,
	    .on_message_complete = on_message_complete,
	};
	struct parse_state s = {.r = r, .current = -1};
	http_parser p;
	size_t used;
	int i;

	memset(r, 0, sizeof(*r));
	http_parser_init(&p, HTTP_REQUEST);
	p.data = &s;
	used = http_parser_execute(&p, &settings, (const char *)in, len);
	if (s.bad)
		return -EINVAL;
	if (!s.complete) {
		/* Out of bytes part way (no error): wait for the rest. */
		if (HTTP_PARSER_ERRNO(&p) == HPE_OK && used == len)
			return 0;
		return -EINVAL;
	}
	if (HTTP_PARSER_ERRNO(&p) != HPE_PAUSED || used == 0 || used > len)
		return -EINVAL;
	/* HTTP/1.0 and 1.1 only, as Firecracker's parser. */
	if (p.http_major != 1 || p.http_minor > 1)
		return -EINVAL;
	for (i = 0; i < MMDS_H_COUNT; i++)
		trim(r->h[i].value);
	return (long)used;
}
