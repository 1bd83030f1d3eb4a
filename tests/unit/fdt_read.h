/*
 * Reading ember's device trees back in the unit tests: libfdt lookups that fail the test
 * with a message, and dtc's decompiled text.
 */
#ifndef EMBER_TESTS_FDT_READ_H
#define EMBER_TESTS_FDT_READ_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline int node_at(const void *blob, const char *path)
{
	int node = fdt_path_offset(blob, path);

	if (node < 0)
		fail_msg("no node %s: %s", path, fdt_strerror(node));
	return node;
}

static inline uint32_t prop_u32(const void *blob, int node, const char *name)
{
	int len;
	const fdt32_t *v = fdt_getprop(blob, node, name, &len);

	if (!v || len != 4)
		fail_msg("property %s missing or not one cell (%d)", name, len);
	return fdt32_ld(v);
}

static inline uint64_t prop_u64(const void *blob, int node, const char *name)
{
	int len;
	const fdt64_t *v = fdt_getprop(blob, node, name, &len);

	if (!v || len != 8)
		fail_msg("property %s missing or not two cells (%d)", name, len);
	return fdt64_ld(v);
}

/* (name) holds exactly the (n) cells (want). */
static inline void assert_cells(const void *blob, int node, const char *name, const uint32_t *want, int n)
{
	int len, i;
	const fdt32_t *v = fdt_getprop(blob, node, name, &len);

	if (!v || len != n * 4)
		fail_msg("property %s missing or %d bytes, want %d cells", name, len, n);
	for (i = 0; i < n; i++)
		if (fdt32_ld(&v[i]) != want[i])
			fail_msg("%s cell %d is 0x%x, want 0x%x", name, i, fdt32_ld(&v[i]),
				 want[i]);
}

static inline void assert_empty_prop(const void *blob, int node, const char *name)
{
	int len;

	if (!fdt_getprop(blob, node, name, &len) || len != 0)
		fail_msg("property %s missing or not empty", name);
}

/* dtc's decompiled text of (blob) into (out); fails the test if dtc does. */
static inline void dtc_decompile(const uint8_t *blob, size_t len, char *out, size_t size)
{
	char path[] = "/tmp/ember-fdt-XXXXXX", cmd[128];
	size_t n = 0, got;
	FILE *p;
	int fd;

	if (system("command -v dtc >/dev/null 2>&1"))
		fail_msg("dtc not found: install device-tree-compiler (make deps)");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, blob, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "dtc -I dtb -O dts %s 2>&1", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (n < size - 1 && (got = fread(out + n, 1, size - 1 - n, p)) > 0)
		n += got;
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	unlink(path);
	assert_true(n < size - 1); /* all of it */
	if (strstr(out, "Warning") || strstr(out, "ERROR"))
		fail_msg("dtc complains about the tree:\n%s", out);
}

static inline void assert_dts_has(const char *dts, const char *line)
{
	if (!strstr(dts, line))
		fail_msg("dtc output lacks \"%s\":\n%s", line, dts);
}

#endif
