/*
 * A flattened device tree reader for the FDT targets, stricter than a boot loader: a blob
 * ember writes must hold up to more than libfdt's fdt_check_full asks (which it asks too,
 * once its own checks pass). It checks the header and the three blocks against each other and
 * the blob's size (Devicetree Specification v0.4, chapter 5), every token of the structure
 * block, zero padding, and what ember's writer promises besides: each property name stored
 * once in the strings block, and nothing there that no property uses. With DTR_STRICT it
 * also wants what dtc would: names of the spec's characters, unique siblings and property
 * names, properties before subnodes.
 *
 * The tree comes back as the sequence of its tokens, each node knowing where it ends, so
 * a target can compare it with what it asked for or look nodes up by path.
 */
#ifndef EMBER_FUZZ_FDT_WALK_H
#define EMBER_FUZZ_FDT_WALK_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include "builder_input.h"

#define DTR_MAGIC	0xd00dfeed
#define DTR_HEADER_LEN	40
#define DTR_MAX_ITEMS	32768
#define DTR_MAX_DEPTH	64
#define DTR_MAX_STRINGS (1u << 20)
#define DTR_STRICT	1u

enum dtr_kind { DTR_NODE = 1, DTR_PROP, DTR_END };

struct dtr_item {
	enum dtr_kind kind;
	const char *name;   /* NUL-terminated in the blob: a node's name, or a property's */
	const uint8_t *val; /* a property's value */
	uint32_t len;
	unsigned int end;    /* a node: the index of its DTR_END */
	unsigned int parent; /* the node it is in (the root: itself) */
};

struct dtr_tree {
	struct dtr_item item[DTR_MAX_ITEMS];
	unsigned int n;
	uint8_t used[DTR_MAX_STRINGS]; /* which strings-block offsets a property names */
	struct {
		uint32_t value;
		unsigned int node;
	} ph[DTR_MAX_ITEMS]; /* every phandle property, looked up by value */
	unsigned int nr_ph;
	char why[256];
};

static inline NOCOV int dtr_fail(struct dtr_tree *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->why, sizeof(t->why), fmt, ap);
	va_end(ap);
	return -1;
}

static inline NOCOV bool dtr_zeros(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/* A node name as the spec spells one: node-name[@unit-address], or "" for the root. */
static inline NOCOV bool dtr_node_name_ok(const char *s, bool root)
{
	const char *at = strchr(s, '@');
	size_t base = at ? (size_t)(at - s) : strlen(s), i;

	if (root)
		return !*s;
	if (!base || base > 31 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (i = 0; s[i]; i++) {
		char c = s[i];

		if (s + i == at)
			continue;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(",._+-", c)))
			return false;
	}
	return !at || (at[1] && !strchr(at + 1, '@'));
}

static inline NOCOV bool dtr_prop_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(",._+?#-", c)))
			return false;
	}
	return i >= 1 && i <= 31;
}

/* Siblings with one name, or one property twice in a node. */
static inline NOCOV int dtr_check_unique(struct dtr_tree *t, unsigned int node)
{
	unsigned int a, b;

	for (a = node + 1; a < t->item[node].end;
	     a = t->item[a].kind == DTR_NODE ? t->item[a].end + 1 : a + 1)
		for (b = a + 1; b < t->item[node].end;
		     b = t->item[b].kind == DTR_NODE ? t->item[b].end + 1 : b + 1)
			if (t->item[a].kind == t->item[b].kind &&
			    str_eq(t->item[a].name, t->item[b].name))
				return dtr_fail(t, "\"%s\" twice in node \"%s\"", t->item[a].name,
						t->item[node].name);
	return 0;
}

/* Parse and check (blob, size) into (t). 0, or -1 with the reason in t->why. */
static inline NOCOV int dtr_parse(struct dtr_tree *t, const uint8_t *blob, size_t size,
				  unsigned int flags)
{
	uint32_t total, off_struct, off_strings, off_rsv, version, last_comp, size_strings,
	    size_struct, off;
	unsigned int stack[DTR_MAX_DEPTH], depth = 0, i;
	const uint8_t *s, *strings;
	bool done = false;

	t->n = 0;
	t->nr_ph = 0;
	t->why[0] = '\0';
	if (size < DTR_HEADER_LEN)
		return dtr_fail(t, "%zu bytes, less than a header", size);
	total = be32_of(blob + 4);
	off_struct = be32_of(blob + 8);
	off_strings = be32_of(blob + 12);
	off_rsv = be32_of(blob + 16);
	version = be32_of(blob + 20);
	last_comp = be32_of(blob + 24);
	size_strings = be32_of(blob + 32);
	size_struct = be32_of(blob + 36);
	if (be32_of(blob) != DTR_MAGIC)
		return dtr_fail(t, "magic 0x%x", be32_of(blob));
	if (total != size)
		return dtr_fail(t, "totalsize %u, blob %zu", total, size);
	if (version != 17 || last_comp > 17)
		return dtr_fail(t, "version %u, compatible back to %u", version, last_comp);
	if (off_rsv < DTR_HEADER_LEN || off_rsv % 8 || off_struct % 4)
		return dtr_fail(t, "blocks at 0x%x (rsvmap), 0x%x (struct)", off_rsv, off_struct);
	if (off_struct > total || size_struct > total - off_struct || off_strings > total ||
	    size_strings > total - off_strings || off_strings < off_struct + size_struct)
		return dtr_fail(t, "struct 0x%x+0x%x, strings 0x%x+0x%x, total 0x%x", off_struct,
				size_struct, off_strings, size_strings, total);
	if (size_strings > DTR_MAX_STRINGS)
		return dtr_fail(t, "strings block of %u bytes", size_strings);
	/* The memory reservation map: (address, size) pairs up to an all-zero one. */
	for (off = off_rsv;; off += 16) {
		if (off + 16 > off_struct)
			return dtr_fail(t, "reservation map runs into the structure block");
		if (dtr_zeros(blob + off, 16))
			break;
	}

	strings = blob + off_strings;
	memset(t->used, 0, size_strings);
	s = blob + off_struct;
	for (off = 0; !done;) {
		struct dtr_item *it;
		uint32_t token, len, nameoff;
		size_t n;

		if (off + 4 > size_struct)
			return dtr_fail(t, "structure block ends without FDT_END");
		token = be32_of(s + off);
		off += 4;
		if (token == 0x9) { /* FDT_END */
			if (depth || !t->n)
				return dtr_fail(t, "FDT_END with %u nodes open", depth);
			if (off != size_struct)
				return dtr_fail(t, "%u bytes after FDT_END", size_struct - off);
			done = true;
			continue;
		}
		if (token == 0x4) /* FDT_NOP */
			continue;
		if (t->n == DTR_MAX_ITEMS)
			return dtr_fail(t, "more than %d tokens", DTR_MAX_ITEMS);
		it = &t->item[t->n];
		memset(it, 0, sizeof(*it));
		it->parent = depth ? stack[depth - 1] : t->n;
		switch (token) {
		case 0x1: /* FDT_BEGIN_NODE */
			if (!depth && t->n)
				return dtr_fail(t, "a second root node");
			if (depth == DTR_MAX_DEPTH)
				return dtr_fail(t, "nodes deeper than %d", DTR_MAX_DEPTH);
			n = strnlen((const char *)s + off, size_struct - off);
			if (n == size_struct - off)
				return dtr_fail(t, "node name runs off the structure block");
			it->kind = DTR_NODE;
			it->name = (const char *)s + off;
			if (!depth && *it->name)
				return dtr_fail(t, "root node named \"%s\"", it->name);
			if ((flags & DTR_STRICT) && !dtr_node_name_ok(it->name, !depth))
				return dtr_fail(t, "node name \"%s\"", it->name);
			n = (n + 1 + 3) & ~(size_t)3;
			if (n > size_struct - off)
				return dtr_fail(t, "node name padding runs off the block");
			if (!dtr_zeros(s + off + strlen(it->name), n - strlen(it->name)))
				return dtr_fail(t, "node name padding not zero");
			off += n;
			stack[depth++] = t->n;
			break;
		case 0x2: /* FDT_END_NODE */
			if (!depth)
				return dtr_fail(t, "FDT_END_NODE outside every node");
			it->kind = DTR_END;
			it->parent = stack[--depth];
			t->item[it->parent].end = t->n;
			if ((flags & DTR_STRICT) && dtr_check_unique(t, it->parent))
				return -1;
			break;
		case 0x3: /* FDT_PROP */
			if (!depth)
				return dtr_fail(t, "a property outside every node");
			if (size_struct - off < 8)
				return dtr_fail(t, "property header runs off the block");
			len = be32_of(s + off);
			nameoff = be32_of(s + off + 4);
			off += 8;
			if (len > size_struct - off)
				return dtr_fail(t, "property of %u bytes runs off the block", len);
			if (nameoff >= size_strings || (nameoff && strings[nameoff - 1]))
				return dtr_fail(t, "name offset %u: not a string's start", nameoff);
			if (!memchr(strings + nameoff, 0, size_strings - nameoff))
				return dtr_fail(t, "property name runs off the strings block");
			it->kind = DTR_PROP;
			it->name = (const char *)strings + nameoff;
			it->val = s + off;
			it->len = len;
			t->used[nameoff] = 1;
			if (len == 4 && str_eq(it->name, "phandle")) {
				t->ph[t->nr_ph].value = be32_of(it->val);
				t->ph[t->nr_ph++].node = it->parent;
			}
			if ((flags & DTR_STRICT) && !dtr_prop_name_ok(it->name))
				return dtr_fail(t, "property name \"%s\"", it->name);
			if ((flags & DTR_STRICT) && t->item[t->n - 1].kind == DTR_END)
				return dtr_fail(t, "property %s after a subnode", it->name);
			n = ((size_t)len + 3) & ~(size_t)3;
			if (n > size_struct - off || !dtr_zeros(s + off + len, n - len))
				return dtr_fail(t, "property %s: padding", it->name);
			off += n;
			break;
		default:
			return dtr_fail(t, "token 0x%x at 0x%x", token, off - 4);
		}
		t->n++;
	}
	/* The strings block: distinct names, each of them used. */
	if (size_strings && strings[size_strings - 1])
		return dtr_fail(t, "strings block does not end in NUL");
	for (off = 0; off < size_strings; off += strlen((const char *)strings + off) + 1) {
		if (!t->used[off])
			return dtr_fail(t, "string \"%s\" unused", strings + off);
		for (i = 0; i < off; i += strlen((const char *)strings + i) + 1)
			if (str_eq((const char *)strings + i, (const char *)strings + off))
				return dtr_fail(t, "string \"%s\" stored twice", strings + off);
	}
	/* A second judge: the host's libfdt, as dtc and the unit tests use it. */
	i = (unsigned int)-fdt_check_full(blob, size);
	if (i)
		return dtr_fail(t, "libfdt: %s", fdt_strerror(-(int)i));
	return 0;
}

/* The child of (node) called (name), or -1. */
static inline NOCOV int dtr_child(const struct dtr_tree *t, int node, const char *name)
{
	unsigned int i;

	for (i = node + 1; i < t->item[node].end;
	     i = t->item[i].kind == DTR_NODE ? t->item[i].end + 1 : i + 1)
		if (t->item[i].kind == DTR_NODE && str_eq(t->item[i].name, name))
			return i;
	return -1;
}

/* The node at (path), "/a/b@1" (or "/" for the root), or -1. */
static inline NOCOV int dtr_path(const struct dtr_tree *t, const char *path)
{
	char part[256];
	int node = 0;

	if (!t->n || path[0] != '/')
		return -1;
	while (node >= 0 && *path) {
		size_t n;

		path += strspn(path, "/");
		n = strcspn(path, "/");
		if (!n)
			break;
		if (n >= sizeof(part))
			return -1;
		memcpy(part, path, n);
		part[n] = '\0';
		node = dtr_child(t, node, part);
		path += n;
	}
	return node;
}

/* Property (name) of (node), or NULL. */
static inline NOCOV const struct dtr_item *dtr_prop(const struct dtr_tree *t, int node,
						    const char *name)
{
	unsigned int i;

	for (i = node + 1; i < t->item[node].end;
	     i = t->item[i].kind == DTR_NODE ? t->item[i].end + 1 : i + 1)
		if (t->item[i].kind == DTR_PROP && str_eq(t->item[i].name, name))
			return &t->item[i];
	return NULL;
}

/* How many children of (node) have names beginning with (prefix). */
static inline NOCOV unsigned int dtr_count_children(const struct dtr_tree *t, int node,
						    const char *prefix)
{
	unsigned int i, n = 0;

	for (i = node + 1; i < t->item[node].end;
	     i = t->item[i].kind == DTR_NODE ? t->item[i].end + 1 : i + 1) {
		const char *a = t->item[i].name, *b = prefix;

		while (*b && *a == *b)
			a++, b++;
		if (t->item[i].kind == DTR_NODE && !*b)
			n++;
	}
	return n;
}

/*
 * Property (name) of (node) must hold exactly (n) big-endian cells (want); abort() with
 * what differs otherwise.
 */
static inline NOCOV void dtr_want_cells(const struct dtr_tree *t, int node, const char *name,
					const uint32_t *want, unsigned int n)
{
	const struct dtr_item *p = node >= 0 ? dtr_prop(t, node, name) : NULL;
	unsigned int i;

	if (!p || p->len != 4 * n)
		BUG("%s/%s: %s, want %u cells", node >= 0 ? t->item[node].name : "?", name,
		    p ? "wrong length" : "missing", n);
	for (i = 0; i < n; i++)
		if (be32_of(p->val + 4 * i) != want[i])
			BUG("%s/%s cell %u: 0x%x, want 0x%x", t->item[node].name, name, i,
			    be32_of(p->val + 4 * i), want[i]);
}

static inline NOCOV void dtr_want_string(const struct dtr_tree *t, int node, const char *name,
					 const char *want)
{
	const struct dtr_item *p = node >= 0 ? dtr_prop(t, node, name) : NULL;

	if (!p || p->len != strlen(want) + 1 || memcmp(p->val, want, p->len))
		BUG("%s/%s: not \"%s\"", node >= 0 ? t->item[node].name : "?", name, want);
}

/*
 * The /chosen node (chosen) as a Linux boot reads it: bootargs exactly when there is a
 * command line, both initrd bounds (two cells each) exactly when there is an initrd, and a
 * stdout-path that names the console node (console).
 */
static inline NOCOV void dtr_want_chosen(const struct dtr_tree *t, int chosen, const char *cmdline,
					 uint64_t initrd_addr, uint64_t initrd_size, int console)
{
	const struct dtr_item *it;
	uint32_t cells[2];

	if (cmdline)
		dtr_want_string(t, chosen, "bootargs", cmdline);
	else if (dtr_prop(t, chosen, "bootargs"))
		BUG("bootargs without a command line");
	if (!!dtr_prop(t, chosen, "linux,initrd-start") != !!initrd_size ||
	    !!dtr_prop(t, chosen, "linux,initrd-end") != !!initrd_size)
		BUG("initrd bounds %s an initrd", initrd_size ? "missing for" : "without");
	if (initrd_size) {
		uint64_t end = initrd_addr + initrd_size;

		cells[0] = initrd_addr >> 32;
		cells[1] = (uint32_t)initrd_addr;
		dtr_want_cells(t, chosen, "linux,initrd-start", cells, 2);
		cells[0] = end >> 32;
		cells[1] = (uint32_t)end;
		dtr_want_cells(t, chosen, "linux,initrd-end", cells, 2);
	}
	it = dtr_prop(t, chosen, "stdout-path");
	if (!it || !it->len || it->val[it->len - 1] || dtr_path(t, (const char *)it->val) != console)
		BUG("stdout-path does not name the UART");
}

/* Every phandle one cell, distinct and neither 0 nor ~0: a reference names one node. */
static inline NOCOV void dtr_want_phandles(const struct dtr_tree *t)
{
	unsigned int i, j, n = 0;

	for (i = 0; i < t->n; i++)
		if (t->item[i].kind == DTR_PROP && str_eq(t->item[i].name, "phandle"))
			n++;
	if (n != t->nr_ph)
		BUG("%u phandles, %u of them one cell", n, t->nr_ph);
	for (i = 0; i < t->nr_ph; i++) {
		if (!t->ph[i].value || t->ph[i].value == 0xffffffff)
			BUG("phandle 0x%x", t->ph[i].value);
		for (j = 0; j < i; j++)
			if (t->ph[j].value == t->ph[i].value)
				BUG("phandle 0x%x twice", t->ph[i].value);
	}
}

/* The node whose phandle is (ph), or -1. */
static inline NOCOV int dtr_by_phandle(const struct dtr_tree *t, uint32_t ph)
{
	unsigned int i;

	for (i = 0; i < t->nr_ph; i++)
		if (t->ph[i].value == ph)
			return t->ph[i].node;
	return -1;
}

/*
 * The judgment both device-tree builders' targets make of one build: a description they
 * must refuse gets -EINVAL with a reason and no blob; one whose uncapped blob (full, when
 * the target asked for it) exceeds the cap gets -E2BIG and no blob; any other gets the
 * uncapped blob again, within the cap, and one this reader takes (DTR_STRICT) into t.
 * Returns whether t holds a tree for the target's own checks.
 */
static inline bool dtr_judge_build(struct dtr_tree *t, bool refuse, int ret, const uint8_t *blob,
				   size_t len, const uint8_t *full, size_t full_len, size_t max,
				   const char *why)
{
	if (refuse) {
		if (ret != -EINVAL || !why[0] || blob)
			BUG("a description to refuse: %d (%s)", ret, why);
		return false;
	}
	if (full && full_len > max) {
		if (ret != -E2BIG || blob)
			BUG("%zu bytes over a cap of %zu: %d", full_len, max, ret);
		return false;
	}
	if (ret)
		BUG("a description within the limits: %d (%s)", ret, why);
	if (len > max || (full && (len != full_len || memcmp(blob, full, len))))
		BUG("blob of %zu bytes, cap %zu, uncapped %zu", len, max, full_len);
	if (dtr_parse(t, blob, len, DTR_STRICT))
		BUG("blob: %s", t->why);
	return true;
}

/*
 * The boot inputs both device-tree targets read after the description, from (flags): bit 2
 * a command line into (buf), the fuzzer's string repeated to the length it asks (below
 * (max), or below (size) with bit 0, past what ember accepts), bit 3 an initrd anywhere.
 * Returns the command line, or NULL without one.
 */
static inline const char *dtr_fuzz_boot(struct bin *b, uint8_t flags, char *buf, size_t size,
					size_t max, uint64_t *initrd_addr, uint64_t *initrd_size)
{
	const char *cmdline = NULL;

	if (flags & 4) {
		size_t want = bin_u16(b) % ((flags & 1) ? size - 1 : max);
		size_t n = bin_string(b, buf, 255), i;

		if (!n) {
			buf[0] = 'k';
			n = 1;
		}
		for (i = n; i < want; i++)
			buf[i] = buf[i % n];
		buf[want > n ? want : n] = '\0';
		cmdline = buf;
	}
	if (flags & 8) {
		*initrd_addr = bin_u64(b);
		*initrd_size = bin_u64(b) >> (bin_u8(b) % 64);
	}
	return cmdline;
}

/* A builder of either arch, its parameters behind (params). */
typedef int (*dtr_build_fn)(const void *params, size_t max, uint8_t **blob, size_t *len,
			    char *why, size_t why_len);

/* What one build leaves; the tree it judged points into blob. */
struct dtr_build {
	uint8_t *blob, *full;
	size_t len, full_len;
};

/*
 * Build, with (flags) bit 1 under a cap the script picks (and uncapped first, to know
 * whether the cap must bite), and judge it (dtr_judge_build). Returns whether (t) holds a
 * tree for the target's own checks; dtr_build_free after them.
 */
static inline bool dtr_fuzz_build(struct dtr_tree *t, struct bin *b, uint8_t flags, size_t max,
				  bool refuse, dtr_build_fn build, const void *params,
				  struct dtr_build *out)
{
	char why[160] = "";
	int ret;

	memset(out, 0, sizeof(*out));
	if (flags & 2) {
		max = bin_u16(b) * (1 + (bin_u8(b) & 1) * 7);
		if (!build(params, SIZE_MAX, &out->full, &out->full_len, why, sizeof(why)) == refuse)
			BUG("uncapped build: %s", why);
	}
	ret = build(params, max, &out->blob, &out->len, why, sizeof(why));
	return dtr_judge_build(t, refuse, ret, out->blob, out->len, out->full, out->full_len, max,
			       why);
}

static inline void dtr_build_free(struct dtr_build *out)
{
	free(out->blob);
	free(out->full);
}

#endif
