/*
 * libFuzzer target: ember's FDT writer (src/util/fdt.c) fed random sequences of nodes and
 * properties. The first byte holds flags (bit 0: close the nodes left open at the end;
 * bit 1: free the writer instead of finishing; bits 2-3: the size cap: none, a random 16-bit
 * one, a random 32-bit one); then each op is a byte choosing a call (begin a node, begin
 * one at a unit address, end one, a property of each kind, the memory and chosen nodes)
 * followed by its arguments. A name is either one of a few device tree words or a string
 * of the fuzzer's.
 *
 * The harness keeps its own model of the writer's contract: the first error sticks and is
 * what fdtw_finish returns (-EINVAL: a second or a named root, nodes 16 deep, a node ended
 * or a property outside every node, nodes left open; -E2BIG: more than 64 cells, a string
 * list over 256 bytes, a unit-address name over 63, a blob over the cap), and the blob's
 * size. A blob must then pass fdt_walk.h's checks and hold, token for token, what was asked.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/fdt.h"
#include "builder_input.h"
#include "fdt_walk.h"

#define MAX_EVENTS 8192
#define ARENA_SIZE (512 * 1024)
#define NAME_SET   16384 /* distinct property names, open addressing */

static const char *const words[] = {
    "",
    "cpus",
    "cpu@0",
    "memory@80000000",
    "chosen",
    "soc",
    "compatible",
    "reg",
    "#address-cells",
    "#size-cells",
    "phandle",
    "interrupts",
    "bootargs",
    "device_type",
    "ranges",
    "interrupt-parent",
    "stdout-path",
    "virtio_mmio",
    "linux,initrd-start",
};

/* One token the blob must hold: a node's start or end, or a property. */
struct event {
	enum dtr_kind kind;
	size_t name, val; /* offsets into the arena */
	size_t len;
};

/* What the writer must have done with the calls so far. */
struct model {
	int error;
	unsigned int depth;
	size_t struct_len, strings_len;
	struct event ev[MAX_EVENTS];
	unsigned int n;
	uint8_t arena[ARENA_SIZE];
	size_t used;
	size_t names[NAME_SET]; /* arena offset + 1 of each distinct property name, 0: free */
	bool full;		/* out of room: the harness stops adding calls */
};

static struct model m;
static struct dtr_tree tree;

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static void m_fail(int err)
{
	if (!m.error)
		m.error = err;
}

/* (p, n) copied into the arena; its offset. */
static size_t m_keep(const void *p, size_t n)
{
	size_t at = m.used;

	if (n > ARENA_SIZE - m.used) {
		m.full = true;
		return 0;
	}
	if (n)
		memcpy(m.arena + at, p, n);
	m.used += n;
	return at;
}

static void m_event(enum dtr_kind kind, const char *name, const void *val, size_t len)
{
	struct event *e;

	if (m.n == MAX_EVENTS) {
		m.full = true;
		return;
	}
	e = &m.ev[m.n++];
	e->kind = kind;
	e->name = m_keep(name, strlen(name) + 1);
	e->val = m_keep(val, len);
	e->len = len;
}

/* Count (name) into the strings block once. */
static void m_name(const char *name)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; name[i]; i++)
		h = (h ^ (uint8_t)name[i]) * 16777619u;
	for (i = h % NAME_SET; m.names[i]; i = (i + 1) % NAME_SET)
		if (!strcmp((const char *)m.arena + m.names[i] - 1, name))
			return;
	m.names[i] = m_keep(name, strlen(name) + 1) + 1;
	m.strings_len += strlen(name) + 1;
}

static void m_begin(const char *name)
{
	if (m.error)
		return;
	if (m.depth == FDT_MAX_DEPTH || (!m.depth && (m.struct_len || *name))) {
		m_fail(-EINVAL);
		return;
	}
	m.depth++;
	m.struct_len += 4 + pad4(strlen(name) + 1);
	m_event(DTR_NODE, name, NULL, 0);
}

static void m_end(void)
{
	if (m.error)
		return;
	if (!m.depth) {
		m_fail(-EINVAL);
		return;
	}
	m.depth--;
	m.struct_len += 4;
	m_event(DTR_END, "", NULL, 0);
}

static void m_prop(const char *name, const void *val, size_t len)
{
	if (m.error)
		return;
	if (!m.depth) {
		m_fail(-EINVAL);
		return;
	}
	m.struct_len += 12 + pad4(len);
	m_name(name);
	m_event(DTR_PROP, name, val, len);
}

static void m_cells(const char *name, const uint32_t *cells, size_t n)
{
	uint8_t be[4 * 72];
	size_t i;

	if (n > 64) {
		m_fail(-E2BIG);
		return;
	}
	for (i = 0; i < n; i++) {
		be[4 * i] = cells[i] >> 24;
		be[4 * i + 1] = cells[i] >> 16;
		be[4 * i + 2] = cells[i] >> 8;
		be[4 * i + 3] = cells[i];
	}
	m_prop(name, be, 4 * n);
}

static void m_string(const char *name, const char *s)
{
	m_prop(name, s, strlen(s) + 1);
}

/* (base)@(addr) as fdtw_begin_node_at spells it, or -E2BIG past 63 characters. */
static void m_begin_at(const char *base, uint64_t addr)
{
	char name[64];

	if (snprintf(name, sizeof(name), "%s@%" PRIx64, base, addr) >= (int)sizeof(name)) {
		m_fail(-E2BIG);
		return;
	}
	m_begin(name);
}

static void m_reg(uint64_t addr, uint64_t size)
{
	uint32_t cells[4] = {addr >> 32, (uint32_t)addr, size >> 32, (uint32_t)size};

	m_cells("reg", cells, 4);
}

/* A name: one of the words, or the fuzzer's own (up to 255 bytes, no NUL). */
static void pick_name(struct bin *b, char *out)
{
	uint8_t c = bin_u8(b);

	if (c < 0xc0)
		strcpy(out, words[c % (sizeof(words) / sizeof(words[0]))]);
	else
		bin_string(b, out, 255);
}

/* One call, on the writer and the model alike. */
static void step(struct bin *b, struct fdt_writer *f)
{
	static uint8_t raw[4096];
	static char name[256], str[256 * 8 + 8];
	uint32_t cells[72];
	const char *list[8];
	uint64_t a, s;
	size_t n, i, len;

	switch (bin_u8(b) % 13) {
	case 0:
		pick_name(b, name);
		fdtw_begin_node(f, name);
		m_begin(name);
		break;
	case 1:
		pick_name(b, name);
		a = bin_u64(b) >> (bin_u8(b) % 64);
		fdtw_begin_node_at(f, name, a);
		m_begin_at(name, a);
		break;
	case 2:
		fdtw_end_node(f);
		m_end();
		break;
	case 3:
		pick_name(b, name);
		len = bin_u16(b) % sizeof(raw);
		for (i = 0; i < len; i++)
			raw[i] = bin_u8(b);
		/* A NULL value with length 0, as fdtw_prop_empty passes it, half the time. */
		fdtw_prop(f, name, len || (bin_u8(b) & 1) ? raw : NULL, len);
		m_prop(name, raw, len);
		break;
	case 4:
		pick_name(b, name);
		fdtw_prop_empty(f, name);
		m_prop(name, NULL, 0);
		break;
	case 5:
		pick_name(b, name);
		cells[0] = bin_u32(b);
		fdtw_prop_u32(f, name, cells[0]);
		m_cells(name, cells, 1);
		break;
	case 6:
		pick_name(b, name);
		a = bin_u64(b);
		fdtw_prop_u64(f, name, a);
		cells[0] = a >> 32;
		cells[1] = (uint32_t)a;
		m_cells(name, cells, 2);
		break;
	case 7:
		pick_name(b, name);
		n = bin_u8(b) % 72;
		for (i = 0; i < n; i++)
			cells[i] = bin_u32(b);
		fdtw_prop_cells(f, name, cells, n);
		m_cells(name, cells, n);
		break;
	case 8:
		pick_name(b, name);
		bin_string(b, str, 255);
		fdtw_prop_string(f, name, str);
		m_string(name, str);
		break;
	case 9: {
		size_t total = 0;

		pick_name(b, name);
		n = bin_u8(b) % 9;
		for (i = 0, len = 0; i < n; i++) {
			list[i] = str + len;
			len += bin_string(b, str + len, 255) + 1;
		}
		fdtw_prop_strings(f, name, list, n);
		for (i = 0; i < n; i++) {
			if (strlen(list[i]) + 1 > 256 - total) {
				m_fail(-E2BIG);
				return;
			}
			total += strlen(list[i]) + 1;
		}
		m_prop(name, str, total);
		break;
	}
	case 10:
		a = bin_u64(b);
		s = bin_u64(b);
		fdtw_prop_reg(f, a, s);
		m_reg(a, s);
		break;
	case 11:
		a = bin_u64(b) >> (bin_u8(b) % 64);
		s = bin_u64(b);
		fdtw_memory_node(f, a, s);
		m_begin_at("memory", a);
		m_string("device_type", "memory");
		m_reg(a, s);
		m_end();
		break;
	case 12: {
		uint8_t c = bin_u8(b);
		const char *cmdline = (c & 1) ? NULL : str;

		bin_string(b, str, 255);
		bin_string(b, name, 255);
		a = bin_u64(b);
		s = (c & 2) ? bin_u64(b) : 0;
		fdtw_chosen_node(f, cmdline, name, a, s);
		m_begin("chosen");
		if (cmdline)
			m_string("bootargs", cmdline);
		m_string("stdout-path", name);
		if (s) {
			cells[0] = a >> 32;
			cells[1] = (uint32_t)a;
			m_cells("linux,initrd-start", cells, 2);
			cells[0] = (a + s) >> 32;
			cells[1] = (uint32_t)(a + s);
			m_cells("linux,initrd-end", cells, 2);
		}
		m_end();
		break;
	}
	}
}

/* The blob holds exactly the model's tokens, in order. */
static NOCOV void compare(void)
{
	unsigned int i;

	if (tree.n != m.n)
		BUG("%u tokens, %u asked for", tree.n, m.n);
	for (i = 0; i < m.n; i++) {
		const struct event *e = &m.ev[i];
		const struct dtr_item *it = &tree.item[i];

		if (it->kind != e->kind)
			BUG("token %u: kind %d, want %d", i, it->kind, e->kind);
		if (e->kind == DTR_END)
			continue;
		if (strcmp(it->name, (const char *)m.arena + e->name))
			BUG("token %u: name \"%s\", want \"%s\"", i, it->name, m.arena + e->name);
		if (e->kind == DTR_PROP &&
		    (it->len != e->len || (e->len && memcmp(it->val, m.arena + e->val, e->len))))
			BUG("token %u (%s): value differs", i, it->name);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bin b = {data, size};
	struct fdt_writer f;
	uint8_t flags = bin_u8(&b), *blob = NULL;
	size_t max = SIZE_MAX, len = 0, total;
	int ret;

	m.error = 0;
	m.depth = 0;
	m.struct_len = m.strings_len = 0;
	m.n = 0;
	m.used = 0;
	m.full = false;
	memset(m.names, 0, sizeof(m.names));
	if (((flags >> 2) & 3) == 1)
		max = bin_u16(&b);
	else if (((flags >> 2) & 3) == 2)
		max = bin_u32(&b);

	fdtw_init(&f);
	while (b.n && !m.full)
		step(&b, &f);
	if (flags & 1) {
		while (!m.error && m.depth) {
			fdtw_end_node(&f);
			m_end();
		}
	}
	if (m.full) {
		/* The model ran out of room: the writer's result is not predicted. */
		fdtw_free(&f);
		return 0;
	}
	if (flags & 2) {
		fdtw_free(&f);
		return 0;
	}

	ret = fdtw_finish(&f, max, &blob, &len);
	if (!m.error && (m.depth || !m.struct_len))
		m_fail(-EINVAL);
	total = 40 + 16 + m.struct_len + 4 + m.strings_len;
	if (!m.error && (total > max || total > UINT32_MAX))
		m_fail(-E2BIG);
	if (ret != m.error)
		BUG("fdtw_finish: %d, want %d", ret, m.error);
	if (ret) {
		if (blob)
			BUG("a blob after an error");
		return 0;
	}
	if (len != total)
		BUG("blob of %zu bytes, want %zu", len, total);
	if (dtr_parse(&tree, blob, len, 0))
		BUG("blob: %s", tree.why);
	compare();
	free(blob);
	return 0;
}
