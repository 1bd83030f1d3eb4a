/*
 * One HTTP/1.1 request to the MMDS, as much of it as the service looks at: the method, the
 * path, and the few headers that change the answer. Parsed with http-parser from bytes
 * the guest sent; everything is bounded, and a header the service does not know is
 * skipped without being kept.
 */
#ifndef EMBER_MMDS_REQUEST_H
#define EMBER_MMDS_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MMDS_URL_MAX	      1024 /* bytes of the request target */
#define MMDS_HEADERS_MAX      64   /* header lines in one request */
#define MMDS_HEADER_VALUE_MAX 128  /* bytes kept of a header the service reads */

enum mmds_method {
	MMDS_GET,
	MMDS_PUT,
	MMDS_OTHER, /* a method http-parser knows but the MMDS does not serve */
};

/* Which of the headers the service reads a value of. */
enum mmds_header {
	MMDS_H_TOKEN, /* X-metadata-token or X-aws-ec2-metadata-token */
	MMDS_H_TTL,   /* X-metadata-token-ttl-seconds or X-aws-ec2-... */
	MMDS_H_ACCEPT,
	MMDS_H_FORWARDED, /* X-Forwarded-For: its presence is what counts */
	MMDS_H_COUNT,
};

struct mmds_header_value {
	bool present;
	bool truncated;	    /* longer than MMDS_HEADER_VALUE_MAX: not what any valid one is */
	unsigned int name;  /* which of the header's spellings (0 or 1), for echoing it */
	char name_sent[48]; /* the name as the guest spelled it (X-Forwarded-For's answer) */
	char value[MMDS_HEADER_VALUE_MAX + 1]; /* NUL-terminated, spaces trimmed */
};

struct mmds_request {
	enum mmds_method method;
	char url[MMDS_URL_MAX + 1]; /* NUL-terminated, as sent */
	size_t url_len;
	bool keep_alive;
	struct mmds_header_value h[MMDS_H_COUNT];
};

/*
 * Parse the request at the start of (in, len) into (r): the bytes it takes (its headers
 * and any Content-Length body), 0 when it is not complete yet, or -EINVAL when the bytes
 * are not a request the service can answer (malformed, a chunked body, over a bound).
 */
long mmds_request_parse(const uint8_t *in, size_t len, struct mmds_request *r);

#endif
