/*
 * The MMDS's answers to a GET: the value at a path of the data store, found as a JSON
 * pointer (RFC 6901), written as compact JSON or in the IMDS plain-text form.
 */
#ifndef EMBER_MMDS_RENDER_H
#define EMBER_MMDS_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * The value at (path) (the request's absolute path: "//" runs collapsed here, one trailing
 * "/" ignored) in (store) (NULL: an empty store, whose only value is the root, null).
 * (*out) is malloc'd text of (*out_len) bytes. 0, or -ENOENT when the path names nothing,
 * -ENOTSUP when (json) is false and the value has no IMDS form (not a string or an
 * object), -ENOMEM.
 */
int mmds_render(const json_t *store, const char *path, bool json, char **out, size_t *out_len);

#endif
