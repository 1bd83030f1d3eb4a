/*
 * The MMDS service: the data store and the answers to the guest's HTTP requests.
 *
 * The rules, as Firecracker's MMDS behaves (its user guide and src/vmm/src/mmds, read
 * for the facts only):
 * - Methods: GET reads the store, PUT asks for a session token; that holds for V1 and
 *   V2 alike. Any other method is answered 405 "Not allowed HTTP method." with
 *   "Allow: GET, PUT".
 * - The path is the request target's absolute path; a target of the form
 *   "http://host/..." is cut to the part from the first "/" after the host. A target
 *   without one is 400 "Invalid URI.". Runs of "/" count as one; for a GET one trailing
 *   "/" is ignored, and the rest is a JSON pointer: "~1" means "/", "~0" means "~", array
 *   elements are named by their decimal index. Nothing is percent-decoded and a query
 *   string is part of the path (so it names nothing): Firecracker does neither.
 * - A path that names nothing: 404 "Resource not found: <path as sent>.".
 * - The answer is compact JSON (keys sorted, as serde_json orders them) when the Accept
 *   header asks for application/json, else the IMDS form: a string as its bare text, an
 *   object as its keys (sorted), one a line, with no newline after the last, a "/" after
 *   those whose value is an object. Any other value has no IMDS form: 501 "Cannot
 *   retrieve value. The value has an unsupported type.". With imds_compat the IMDS form
 *   is used whatever Accept says.
 * - Tokens: PUT of "/latest/api/token" (other paths: 404) with X-metadata-token-ttl-seconds
 *   or X-aws-ec2-metadata-token-ttl-seconds, a whole number of seconds from 1 to 21600,
 *   answers 200 with the token as text/plain and the TTL header echoed back. A request
 *   with X-Forwarded-For is refused first (400): a token must come from the guest itself,
 *   not through a proxy in it. No TTL header: 400; a value that is not a number, or out of
 *   range: 400, each with Firecracker's message.
 * - GET with V2 needs X-metadata-token or X-aws-ec2-metadata-token naming a token issued
 *   and not yet expired: none is 401 "No MMDS token provided. ...", a wrong or expired
 *   one 401 "MMDS token not valid.". V1 answers either way and only counts them
 *   (rx_no_token, rx_invalid_token).
 * - A request http-parser cannot read, of an HTTP version other than 1.0 and 1.1, with a
 *   chunked body, or over a bound (request.h), is 400 "Invalid request." and ends the
 *   connection. A body with a Content-Length is read and ignored.
 * - Every answer is "HTTP/1.1", with Content-Type (text/plain, or application/json for a
 *   JSON body) and Content-Length; errors are text/plain. The connection stays open
 *   unless the request was HTTP/1.0 without keep-alive or said "Connection: close", and
 *   then the answer says "Connection: close".
 * Where ember differs: Firecracker's parser refuses Accept values other than text/plain
 * and application/json (curl's default "any type" among them) and bodies on GET; here
 * those are served. Under imds_compat Firecracker labels the text with the Accept
 * header's type; here it is always text/plain. Its tokens are encrypted expiry times
 * (any number alive); here they are random strings in a table of MMDS_MAX_TOKENS, the
 * soonest to expire giving way when it is full (token.c). Real numbers are written as
 * jansson writes them (12.12 as 12.119999999999999), not serde_json's shortest form.
 * A token that cannot be made (no memory, no randomness) is a 500.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mmds.h"
#include "render.h"
#include "request.h"
#include "token.h"

#define TOKEN_PATH "/latest/api/token"

static const char *const ttl_names[] = {"X-metadata-token-ttl-seconds",
					"X-aws-ec2-metadata-token-ttl-seconds"};

void mmds_init(struct mmds *m)
{
	memset(m, 0, sizeof(*m));
	m->limit = MMDS_DEFAULT_LIMIT;
	m->version = 1;
}

void mmds_destroy(struct mmds *m)
{
	json_decref(m->store);
	free(m->tokens);
	mmds_init(m);
}

void mmds_configure(struct mmds *m, unsigned int version, bool imds_compat)
{
	m->version = version == 2 ? 2 : 1;
	m->imds_compat = imds_compat;
}

int mmds_set_store(struct mmds *m, json_t *store, size_t *len)
{
	char *text = json_dumps(store, JSON_COMPACT | JSON_ENCODE_ANY);

	*len = text ? strlen(text) : SIZE_MAX;
	free(text);
	if (*len > m->limit) {
		json_decref(store);
		return -EFBIG;
	}
	json_decref(m->store);
	m->store = store;
	return 0;
}

void mmds_forget_tokens(struct mmds *m)
{
	if (m->tokens)
		memset(m->tokens, 0, MMDS_MAX_TOKENS * sizeof(*m->tokens));
}

/* What one answer is made of before it becomes bytes. */
struct answer {
	int status;
	const char *type; /* Content-Type */
	char *body;	  /* malloc'd, or NULL with (text) */
	size_t body_len;
	char text[192]; /* a short body built in place (error messages) */
	char extra[96]; /* header lines beside the usual ones, each ending "\r\n" */
	bool close;
};

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 501:
		return "Not Implemented";
	default:
		return "Internal Server Error";
	}
}

__attribute__((format(printf, 3, 4))) static void fail(struct answer *a, int status,
						       const char *fmt, ...)
{
	va_list ap;

	a->status = status;
	a->type = "text/plain";
	va_start(ap, fmt);
	vsnprintf(a->text, sizeof(a->text), fmt, ap);
	va_end(ap);
}

/* The absolute path of the request target, or "" when it has none. */
static const char *abs_path(const char *url)
{
	static const char scheme[] = "http://";

	if (!strncmp(url, scheme, sizeof(scheme) - 1)) {
		const char *slash = strchr(url + sizeof(scheme) - 1, '/');

		return slash ? slash : "";
	}
	return url[0] == '/' ? url : "";
}

/* Whether the Accept header's first media range is application/json. */
static bool wants_json(const struct mmds_header_value *accept)
{
	static const char json[] = "application/json";
	const char *v = accept->value;
	size_t n = sizeof(json) - 1;

	if (!accept->present || accept->truncated || strncasecmp(v, json, n))
		return false;
	v += n;
	while (*v == ' ' || *v == '\t')
		v++;
	return *v == '\0' || *v == ';' || *v == ',';
}

static void answer_get(struct mmds *m, const struct mmds_request *r, const char *path,
		       uint64_t now_ms, struct answer *a)
{
	const struct mmds_header_value *tok = &r->h[MMDS_H_TOKEN];
	bool valid = tok->present && !tok->truncated &&
		     mmds_token_valid(m, tok->value, strlen(tok->value), now_ms);
	bool json = !m->imds_compat && wants_json(&r->h[MMDS_H_ACCEPT]);
	int ret;

	if (!tok->present)
		m->stats.rx_no_token++;
	else if (!valid)
		m->stats.rx_invalid_token++;
	if (m->version == 2 && !tok->present)
		return fail(a, 401,
			    "No MMDS token provided. Use `X-metadata-token` or "
			    "`X-aws-ec2-metadata-token` header to specify the session "
			    "token.");
	if (m->version == 2 && !valid)
		return fail(a, 401, "MMDS token not valid.");
	ret = mmds_render(m->store, path, json, &a->body, &a->body_len);
	if (ret == -ENOENT)
		return fail(a, 404, "Resource not found: %.*s.", 160, path);
	if (ret == -ENOTSUP)
		return fail(a, 501, "Cannot retrieve value. The value has an unsupported type.");
	if (ret)
		return fail(a, 500, "Out of memory.");
	a->status = 200;
	a->type = json ? "application/json" : "text/plain";
}

/* Seconds as Rust's u32 parse reads them: an optional '+', then decimal digits. */
static bool parse_ttl(const char *s, unsigned long *out)
{
	unsigned long v = 0;

	if (*s == '+')
		s++;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*out = v;
	return true;
}

/* (path) with runs of '/' made one, compared with the token path. */
static bool is_token_path(const char *path)
{
	const char *want = TOKEN_PATH;

	while (*path && *want) {
		if (*path != *want)
			return false;
		if (*path == '/')
			while (path[1] == '/')
				path++;
		path++;
		want++;
	}
	return !*path && !*want;
}

static void answer_put(struct mmds *m, const struct mmds_request *r, const char *path,
		       uint64_t now_ms, struct answer *a)
{
	const struct mmds_header_value *ttl = &r->h[MMDS_H_TTL];
	char token[sizeof(((struct mmds_token *)0)->value)];
	unsigned long seconds;
	int ret;

	if (r->h[MMDS_H_FORWARDED].present)
		return fail(a, 400, "Invalid header. Reason: Unsupported header name. Key: %s",
			    r->h[MMDS_H_FORWARDED].name_sent);
	if (!is_token_path(path))
		return fail(a, 404, "Resource not found: %.*s.", 160, path);
	if (!ttl->present)
		return fail(a, 400,
			    "Token time to live value not found. Use "
			    "`X-metadata-token-ttl-seconds` or "
			    "`X-aws-ec2-metadata-token-ttl-seconds` header to specify "
			    "the token's lifetime.");
	if (ttl->truncated || !parse_ttl(ttl->value, &seconds))
		return fail(a, 400, "Invalid header. Reason: Invalid value. Key:%s; Value:%.*s",
			    ttl->name_sent, 64, ttl->value);
	if (seconds < 1 || seconds > MMDS_TOKEN_TTL_MAX)
		return fail(a, 400,
			    "Invalid time to live value provided for token: %lu. Please "
			    "provide a value between 1 and %d.",
			    seconds, MMDS_TOKEN_TTL_MAX);
	ret = mmds_token_issue(m, (unsigned int)seconds, now_ms, token);
	if (ret)
		return fail(a, 500, "Failed to generate a token.");
	m->stats.tokens_issued++;
	a->status = 200;
	a->type = "text/plain";
	snprintf(a->text, sizeof(a->text), "%s", token);
	snprintf(a->extra, sizeof(a->extra), "%s: %lu\r\n", ttl_names[ttl->name], seconds);
}

/* The response's bytes, malloc'd; NULL when out of memory. */
static uint8_t *write_answer(const struct answer *a, size_t *len)
{
	const char *body = a->body ? a->body : a->text;
	size_t body_len = a->body ? a->body_len : strlen(a->text);
	char head[512];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s%s\r\n",
			 a->status, reason(a->status), a->type, body_len,
			 a->status == 405 ? "Allow: GET, PUT\r\n" : "", a->extra,
			 a->close ? "Connection: close\r\n" : "");
	uint8_t *out;

	if (n < 0 || (size_t)n >= sizeof(head) || body_len > SIZE_MAX - (size_t)n)
		return NULL;
	out = malloc((size_t)n + body_len);
	if (!out)
		return NULL;
	memcpy(out, head, (size_t)n);
	memcpy(out + n, body, body_len);
	*len = (size_t)n + body_len;
	return out;
}

long mmds_serve(void *opaque, const uint8_t *in, size_t len, uint64_t now_ms, uint8_t **reply,
		size_t *reply_len, bool *close)
{
	struct mmds *m = opaque;
	struct mmds_request *r = malloc(sizeof(*r));
	struct answer a = {0};
	const char *path;
	long used;

	if (!r)
		return -ENOMEM;
	used = mmds_request_parse(in, len, r);
	if (used == 0) {
		free(r);
		return 0;
	}
	if (used < 0) {
		/* Nothing after bytes that do not parse can be trusted to start a request. */
		used = (long)len;
		a.close = true;
		fail(&a, 400, "Invalid request.");
	} else {
		a.close = !r->keep_alive;
		path = abs_path(r->url);
		if (!*path)
			fail(&a, 400, "Invalid URI.");
		else if (r->method == MMDS_GET)
			answer_get(m, r, path, now_ms, &a);
		else if (r->method == MMDS_PUT)
			answer_put(m, r, path, now_ms, &a);
		else
			fail(&a, 405, "Not allowed HTTP method.");
	}
	free(r);
	*reply = write_answer(&a, reply_len);
	free(a.body);
	if (!*reply)
		return -ENOMEM;
	m->stats.requests++;
	if (a.status != 200)
		m->stats.failed_requests++;
	*close = a.close;
	return used;
}
