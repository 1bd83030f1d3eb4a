/*
 * Typed, bounded reads of JSON members for the config file and the API bodies: every
 * refusal is one line naming the field, as "where.key: reason".
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "json_fields.h"

int cf_fail(struct cf *cf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cf->err, cf->err_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Reject a key of (obj) that is not in the NULL-terminated (known). */
int cf_keys(struct cf *cf, json_t *obj, const char *where, const char *const *known)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		const char *const *k;

		for (k = known; *k && strcmp(*k, key); k++)
			;
		if (!*k)
			return cf_fail(cf, "%s: unknown field '%s'", where, key);
	}
	return 0;
}

int cf_object(struct cf *cf, json_t *v, const char *where)
{
	return json_is_object(v) ? 0 : cf_fail(cf, "%s: must be an object", where);
}

/*
 * Member (key) of (obj) in (*out); NULL when absent or null, as serde's Option reads it.
 * A missing (required) member is an error.
 */
int cf_member(struct cf *cf, json_t *obj, const char *where, const char *key, bool required,
		     json_t **out)
{
	*out = json_object_get(obj, key);
	if (*out && json_is_null(*out))
		*out = NULL;
	if (!*out && required)
		return cf_fail(cf, "%s.%s: required field missing", where, key);
	return 0;
}

/* An integer member in [min, max]; (*out) is left alone when the member is absent. */
int cf_uint(struct cf *cf, json_t *obj, const char *where, const char *key, bool required,
		   uint64_t min, uint64_t max, uint64_t *out)
{
	json_int_t n;
	json_t *v;
	int err;

	err = cf_member(cf, obj, where, key, required, &v);
	if (err || !v)
		return err;
	if (!json_is_integer(v))
		return cf_fail(cf, "%s.%s: must be an integer", where, key);
	n = json_integer_value(v);
	if (n < 0 || (uint64_t)n < min || (uint64_t)n > max)
		return cf_fail(cf, "%s.%s: %lld is out of range, must be from %llu to %llu", where,
			       key, (long long)n, (unsigned long long)min, (unsigned long long)max);
	*out = n;
	return 0;
}

int cf_bool(struct cf *cf, json_t *obj, const char *where, const char *key, bool required,
		   bool *out)
{
	json_t *v;
	int err;

	err = cf_member(cf, obj, where, key, required, &v);
	if (err || !v)
		return err;
	if (!json_is_boolean(v))
		return cf_fail(cf, "%s.%s: must be true or false", where, key);
	*out = json_is_true(v);
	return 0;
}

/* A string member; (*out) points into the JSON document and is left alone when absent. */
int cf_str(struct cf *cf, json_t *obj, const char *where, const char *key, bool required,
		  const char **out)
{
	json_t *v;
	int err;

	err = cf_member(cf, obj, where, key, required, &v);
	if (err || !v)
		return err;
	if (!json_is_string(v))
		return cf_fail(cf, "%s.%s: must be a string", where, key);
	*out = json_string_value(v);
	return 0;
}

/* A non-empty string member copied into (buf, size); too long is an error, not a truncation. */
int cf_str_copy(struct cf *cf, json_t *obj, const char *where, const char *key,
		       bool required, char *buf, size_t size)
{
	const char *s = NULL;
	int err;

	err = cf_str(cf, obj, where, key, required, &s);
	if (err || !s)
		return err;
	if (!*s)
		return cf_fail(cf, "%s.%s: must not be empty", where, key);
	if (strlen(s) >= size)
		return cf_fail(cf, "%s.%s: longer than %zu bytes", where, key, size - 1);
	strcpy(buf, s);
	return 0;
}

/* A string member that must be one of (values) as (cmp) compares; (*idx) is its index. */
static int cf_enum_cmp(struct cf *cf, json_t *obj, const char *where, const char *key,
		       const char *const *values, unsigned int *idx,
		       int (*cmp)(const char *, const char *))
{
	const char *s = NULL;
	unsigned int i;
	int err;

	err = cf_str(cf, obj, where, key, false, &s);
	if (err || !s)
		return err;
	for (i = 0; values[i]; i++)
		if (!cmp(s, values[i])) {
			*idx = i;
			return 0;
		}
	return cf_fail(cf, "%s.%s: unknown value '%s'", where, key, s);
}

/* A feature ember lacks is accepted only when it asks for the default, (def). */
int cf_default_only(struct cf *cf, json_t *obj, const char *where, const char *key,
			   json_t *def)
{
	json_t *v = json_object_get(obj, key);
	int ok = !v || json_is_null(v) || json_equal(v, def);

	json_decref(def);
	return ok ? 0 : cf_fail(cf, "%s.%s: not supported by ember yet", where, key);
}

static int cf_bucket(struct cf *cf, json_t *obj, const char *where, const char *key,
		     struct token_bucket_cfg *b)
{
	static const char *const known[] = {"size", "one_time_burst", "refill_time", NULL};
	char at[CF_WHERE];
	json_t *v;
	int err;

	err = cf_member(cf, obj, where, key, false, &v);
	if (err || !v)
		return err;
	snprintf(at, sizeof(at), "%s.%s", where, key);
	memset(b, 0, sizeof(*b));
	err = cf_object(cf, v, at) ?: cf_keys(cf, v, at, known) ?:
	      cf_uint(cf, v, at, "size", true, 0, UINT64_MAX, &b->size) ?:
	      cf_uint(cf, v, at, "one_time_burst", false, 0, UINT64_MAX, &b->one_time_burst) ?:
	      cf_uint(cf, v, at, "refill_time", true, 0, UINT64_MAX, &b->refill_time_ms);
	if (!err && token_bucket_cfg_validate(b))
		err = cf_fail(cf, "%s: size, one_time_burst or refill_time too large", at);
	return err;
}

int cf_limiter(struct cf *cf, json_t *obj, const char *where, const char *key,
		      struct throttle_config *t)
{
	static const char *const known[] = {"bandwidth", "ops", NULL};
	char at[CF_WHERE];
	json_t *v;
	int err;

	err = cf_member(cf, obj, where, key, false, &v);
	if (err || !v)
		return err;
	snprintf(at, sizeof(at), "%s.%s", where, key);
	return cf_object(cf, v, at) ?: cf_keys(cf, v, at, known) ?:
	       cf_bucket(cf, v, at, "bandwidth", &t->bandwidth) ?:
	       cf_bucket(cf, v, at, "ops", &t->ops);
}

int cf_enum(struct cf *cf, json_t *obj, const char *where, const char *key,
	    const char *const *values, unsigned int *idx)
{
	return cf_enum_cmp(cf, obj, where, key, values, idx, strcmp);
}

int cf_enum_nocase(struct cf *cf, json_t *obj, const char *where, const char *key,
		   const char *const *values, unsigned int *idx)
{
	return cf_enum_cmp(cf, obj, where, key, values, idx, strcasecmp);
}
