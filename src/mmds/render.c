/*
 * Path lookup and the two output forms of the MMDS. The path is untrusted (the guest's
 * request target, at most MMDS_URL_MAX bytes): it is copied once, decoded in place, and
 * never used to index anything but jansson's own lookups.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

/* (path) with every run of '/' made one, and one trailing '/' dropped; malloc'd. */
static char *normalize(const char *path)
{
	size_t len = strlen(path), o = 0, i;
	char *n = malloc(len + 1);

	if (!n)
		return NULL;
	for (i = 0; i < len; i++)
		if (path[i] != '/' || o == 0 || n[o - 1] != '/')
			n[o++] = path[i];
	if (o && n[o - 1] == '/')
		o--;
	n[o] = '\0';
	return n;
}

/* Replace each (from) two-byte escape in (s) by the byte (to), in place. */
static void unescape(char *s, const char *from, char to)
{
	char *r = s, *w = s;

	while (*r) {
		if (r[0] == from[0] && r[1] == from[1]) {
			*w++ = to;
			r += 2;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

/* An array index as RFC 6901 writes one: digits, no sign, no leading zero. */
static bool parse_index(const char *s, size_t *out)
{
	size_t v = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (SIZE_MAX - 9) / 10)
			return false;
		v = v * 10 + (size_t)(*s - '0');
	}
	*out = v;
	return true;
}

/* The value (pointer) names in (root), or NULL. (pointer) is consumed (decoded in place). */
static const json_t *lookup(const json_t *root, char *pointer)
{
	const json_t *v = root;
	char *tok = pointer;

	if (!*pointer)
		return root;
	if (*pointer != '/')
		return NULL;
	while (tok && v) {
		char *next = strchr(++tok, '/');
		size_t index;

		if (next)
			*next = '\0';
		/* "~1" before "~0", so that "~01" names the key "~1". */
		unescape(tok, "~1", '/');
		unescape(tok, "~0", '~');
		if (json_is_object(v))
			v = json_object_get(v, tok);
		else if (json_is_array(v) && parse_index(tok, &index))
			v = json_array_get(v, index);
		else
			v = NULL;
		tok = next;
	}
	return v;
}

static int compare_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An object's keys, sorted, one a line, "/" after those of objects. */
static int imds_object(const json_t *obj, char **out, size_t *out_len)
{
	size_t n = json_object_size(obj), i = 0, len = 0, o = 0;
	const char **keys = calloc(n ? n : 1, sizeof(*keys));
	const char *key;
	json_t *v;
	char *text;

	if (!keys)
		return -ENOMEM;
	json_object_foreach((json_t *)obj, key, v)
	{
		keys[i++] = key;
		len += strlen(key) + 2; /* "/" and "\n" at most */
	}
	qsort(keys, n, sizeof(*keys), compare_keys);
	text = malloc(len + 1);
	if (!text) {
		free(keys);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		size_t klen = strlen(keys[i]);

		if (i)
			text[o++] = '\n';
		memcpy(text + o, keys[i], klen);
		o += klen;
		if (json_is_object(json_object_get(obj, keys[i])))
			text[o++] = '/';
	}
	text[o] = '\0';
	free(keys);
	*out = text;
	*out_len = o;
	return 0;
}

int mmds_render(const json_t *store, const char *path, bool json, char **out, size_t *out_len)
{
	json_t *null_store = json_null();
	const json_t *v;
	char *pointer = normalize(path);

	*out = NULL;
	*out_len = 0;
	if (!pointer)
		return -ENOMEM;
	v = lookup(store ? store : null_store, pointer);
	free(pointer);
	if (!v)
		return -ENOENT;
	if (json) {
		/* Compact with sorted keys: the bytes Firecracker's serde_json writes. */
		*out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
		if (!*out)
			return -ENOMEM;
		*out_len = strlen(*out);
		return 0;
	}
	if (json_is_object(v))
		return imds_object(v, out, out_len);
	if (!json_is_string(v))
		return -ENOTSUP;
	*out_len = json_string_length(v);
	*out = malloc(*out_len + 1);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, json_string_value(v), *out_len + 1);
	return 0;
}
