/* Typed JSON member readers shared by --config-file and the API: one error line each. */
#ifndef EMBER_CONFIG_JSON_FIELDS_H
#define EMBER_CONFIG_JSON_FIELDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/ratelimit.h"
#include "devices.h"

#define CF_WHERE 64

/* Where the single error message of one parse goes. */
struct cf {
	char *err;
	size_t err_len;
};

/* Write the message into (cf) and return -EINVAL. */
int cf_fail(struct cf *cf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reject a key of (obj) that is not in the NULL-terminated (known). */
int cf_keys(struct cf *cf, json_t *obj, const char *where, const char *const *known);

int cf_object(struct cf *cf, json_t *v, const char *where);

/* Member (key) of (obj) in (*out); NULL when absent or null. A missing (required) one fails. */
int cf_member(struct cf *cf, json_t *obj, const char *where, const char *key, bool required,
	      json_t **out);

/* An integer member in [min, max]; (*out) is left alone when the member is absent. */
int cf_uint(struct cf *cf, json_t *obj, const char *where, const char *key, bool required,
	    uint64_t min, uint64_t max, uint64_t *out);

int cf_bool(struct cf *cf, json_t *obj, const char *where, const char *key, bool required,
	    bool *out);

/* A string member; (*out) points into the JSON document and is left alone when absent. */
int cf_str(struct cf *cf, json_t *obj, const char *where, const char *key, bool required,
	   const char **out);

/* A non-empty string member copied into (buf, size); too long is an error, not a truncation. */
int cf_str_copy(struct cf *cf, json_t *obj, const char *where, const char *key, bool required,
		char *buf, size_t size);

/* A string member that must be one of (values); (*idx) is its index, untouched if absent. */
int cf_enum(struct cf *cf, json_t *obj, const char *where, const char *key,
	    const char *const *values, unsigned int *idx);

/* The same, ignoring case. */
int cf_enum_nocase(struct cf *cf, json_t *obj, const char *where, const char *key,
		   const char *const *values, unsigned int *idx);

/* A feature ember lacks is accepted only when it asks for the default, (def) (consumed). */
int cf_default_only(struct cf *cf, json_t *obj, const char *where, const char *key, json_t *def);

/* A RateLimiter member: {"bandwidth": TokenBucket, "ops": TokenBucket}. */
int cf_limiter(struct cf *cf, json_t *obj, const char *where, const char *key,
	       struct throttle_config *t);

#endif
