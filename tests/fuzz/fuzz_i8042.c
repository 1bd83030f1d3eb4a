/*
 * libFuzzer target: the x86 board's two ways out, the i8042 keyboard controller
 * (devices/i8042.c: its CPU reset line) and the ACPI sleep registers (devices/acpi_sleep.c:
 * S5, power-off), on one port I/O bus as vcpu.c reaches them. The fuzzer's bytes are a
 * script of operations, each an op byte (the kind in its low three bits) and its arguments:
 *   0-1 a read, 2-3 a write: width 1, 1, 2 or 4 by the op's top two bits; a port byte
 *       (below 0xc0 one of 0x60, 0x64, 0x600, 0x601; from 0xc0 a port around 0x60 or 0x600,
 *       so accesses off or across a range's edge go unclaimed); a write's value bytes;
 *   4 a controller command, one of sixteen (bits 3-6 pick it), written to port 0x64;
 *   5 the host sends Ctrl-Alt-Del;
 *   6 a snapshot: the controller saved and restored into a new one that takes its place,
 *       or (an odd argument byte) a new one restored from the script's next bytes, kept if
 *       accepted;
 *   7 the guest empties the output buffer: status and data reads while OBF is set.
 * A reset or power-off request only counts: the harness's callbacks stop nothing.
 *
 * Checked against a model the harness keeps from what it did: every data byte and status
 * byte the guest reads (the queued replies, ACKs and CTR, OBF set exactly while bytes wait,
 * CMD after a command); one reset per 0xfe command and one power-off per S5 request;
 * one interrupt pulse (up, then down) per byte queued with the keyboard interrupt on;
 * Ctrl-Alt-Del refused exactly when its four codes do not fit, and in the scan code set
 * CTR asks for; a restore accepting exactly the sections a controller could have saved;
 * unclaimed reads all-ones, the sleep registers' reads zero; the counters agree.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/acpi_sleep.h"
#include "devices/i8042.h"
#include "snapshot/stream.h"
#include "vmm/bus.h"
#include "builder_input.h"

#define GSI		   1
#define ACPI_PORT	   0x600
#define S5_TYPE		   5
#define MAX_OPS		   4096
#define OUTQ_LEN	   16 /* i8042.c's */
#define SECTION_HDR	   12 /* tag, instance, length (stream.h) */
#define SECTION_TAG	   SNAP_TAG('F', 'U', 'Z', 'Z')
#define RESTORE_MAX	   32
#define SECTION_LEN(count) (4 + (count))

#define STATUS_OBF     0x01
#define STATUS_SYS     0x04
#define STATUS_CMD     0x08
#define STATUS_AUX_OBF 0x20
#define CTR_KBD_INT    0x01
#define CTR_XLATE      0x40

/* The commands Linux's i8042 and atkbd drivers send, and one the controller ignores. */
static const uint8_t commands[16] = {
	0x20, 0x60, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xad,
	0xae, 0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xfe, 0xc0,
};

/* The controller as the harness expects it; named after i8042.c's fields. */
struct model {
	uint8_t status, ctr, pending;
	uint8_t q[OUTQ_LEN];
	unsigned int head, count;
	struct i8042_metrics metrics;
	unsigned int pulses, resets, power_offs;
};

struct rig {
	struct bus bus;
	struct logger log;
	struct i8042 *kbd;
	struct acpi_sleep sleep;
	struct model m;
	int level; /* the keyboard line: pulsed, so low between operations */
	unsigned int pulses, resets, power_offs;
};

static void line_set(void *ctx, unsigned int gsi, int level)
{
	struct rig *r = ctx;

	if (gsi != GSI || (level != 0 && level != 1) || level == r->level)
		abort();
	r->level = level;
	r->pulses += level;
}

static void reset_request(void *ctx)
{
	struct rig *r = ctx;

	r->resets++;
}

static void power_off(void *ctx)
{
	struct rig *r = ctx;

	r->power_offs++;
}

static struct i8042 *kbd_new(struct rig *r)
{
	struct i8042 *kbd = i8042_create((struct irq_line){ line_set, r, GSI }, reset_request, r,
					 &r->log);

	if (!kbd)
		abort();
	return kbd;
}

static void model_push(struct model *m, uint8_t v)
{
	if (m->count == OUTQ_LEN) {
		m->metrics.missed_write_count++;
		return;
	}
	m->q[(m->head + m->count) % OUTQ_LEN] = v;
	m->count++;
	m->status |= STATUS_OBF;
	if (m->ctr & CTR_KBD_INT)
		m->pulses++;
}

static uint8_t model_data_read(struct model *m)
{
	uint8_t v = 0;

	m->metrics.read_count++;
	if (m->count) {
		v = m->q[m->head];
		m->head = (m->head + 1) % OUTQ_LEN;
		m->count--;
	}
	if (!m->count)
		m->status &= ~(STATUS_OBF | STATUS_AUX_OBF);
	return v;
}

static void model_data_write(struct model *m, uint8_t v)
{
	m->metrics.write_count++;
	m->status &= ~STATUS_CMD;
	switch (m->pending) {
	case 0x60:
		m->ctr = v;
		break;
	case 0xd2:
	case 0xd3:
		model_push(m, v);
		break;
	case 0xd1:
	case 0xd4:
		break;
	default:
		model_push(m, 0xfa); /* the keyboard's ACK */
		break;
	}
	m->pending = 0;
}

static void model_command(struct model *m, uint8_t cmd)
{
	m->status |= STATUS_CMD;
	switch (cmd) {
	case 0x20:
		model_push(m, m->ctr);
		break;
	case 0x60:
	case 0xd1:
	case 0xd2:
	case 0xd3:
	case 0xd4:
		m->pending = cmd;
		break;
	case 0xaa:
		model_push(m, 0x55);
		break;
	case 0xa9:
	case 0xab:
		model_push(m, 0x00);
		break;
	case 0xd0:
		model_push(m, 0x01);
		break;
	case 0xfe:
		m->metrics.reset_count++;
		m->resets++;
		break;
	default:
		break;
	}
}

/*
 * One access at (port): the model's turn, then the bus's, then the reply checked. The
 * value read, or what an unclaimed read gives.
 */
static uint8_t guest_access(struct rig *r, uint64_t port, unsigned int len, uint8_t *data,
			    bool is_write)
{
	struct model *m = &r->m;
	bool inside = true;
	uint8_t want = 0;
	unsigned int i;

	if (port == I8042_DATA_PORT && len == 1) {
		if (is_write)
			model_data_write(m, data[0]);
		else
			want = model_data_read(m);
	} else if (port == I8042_COMMAND_PORT && len == 1) {
		if (is_write)
			model_command(m, data[0]);
		else
			want = m->status | 0x10; /* the keylock is off */
	} else if (port >= ACPI_PORT && port + len <= ACPI_PORT + ACPI_SLEEP_SPAN) {
		/* SLP_EN with SLP_TYP S5, written to the control register. */
		m->power_offs += is_write && port == ACPI_PORT && (data[0] & 0x20) &&
				 ((data[0] >> 2) & 7) == S5_TYPE;
	} else {
		inside = false;
	}
	if (bus_access(&r->bus, port, data, len, is_write) != inside)
		abort();
	if (!is_write)
		for (i = 0; i < len; i++)
			if (data[i] != (!inside ? 0xff : i ? 0 : want))
				abort();
	return data[0];
}

static void access_op(struct rig *r, struct bin *s, uint8_t op, bool is_write)
{
	static const unsigned int widths[4] = { 1, 1, 2, 4 };
	unsigned int i, len = widths[op >> 6];
	uint8_t a = bin_u8(s), data[4];
	uint64_t port;

	if (a < 0xc0)
		port = (const uint16_t[]){ 0x60, 0x64, 0x600, 0x601 }[a & 3];
	else
		port = ((a & 0x20) ? ACPI_PORT - 4 : I8042_DATA_PORT - 4) + (a & 0x1f);
	memset(data, 0xa5, sizeof(data));
	if (is_write)
		for (i = 0; i < len; i++)
			data[i] = bin_u8(s);
	guest_access(r, port, len, data, is_write);
}

static void ctrl_alt_del(struct rig *r)
{
	static const uint8_t set1[4] = { 0x1d, 0x38, 0xe0, 0x53 };
	static const uint8_t set2[4] = { 0x14, 0x11, 0xe0, 0x71 };
	struct model *m = &r->m;
	bool fits = m->count + 4 <= OUTQ_LEN;
	unsigned int i;

	if (i8042_send_ctrl_alt_del(r->kbd) != (fits ? 0 : -EBUSY))
		abort();
	for (i = 0; fits && i < 4; i++)
		model_push(m, ((m->ctr & CTR_XLATE) ? set1 : set2)[i]);
}

static void drain(struct rig *r)
{
	unsigned int i;
	uint8_t v;

	for (i = 0; i <= OUTQ_LEN; i++) {
		v = 0;
		if (!(guest_access(r, I8042_COMMAND_PORT, 1, &v, false) & STATUS_OBF))
			break;
		guest_access(r, I8042_DATA_PORT, 1, &v, false);
	}
}

/* Does a new controller take (p, n) as its section? As i8042_restore and the machine decide. */
static bool section_valid(const uint8_t *p, size_t n)
{
	static const uint8_t waiting[] = { 0, 0x60, 0xd1, 0xd2, 0xd3, 0xd4 };

	return n >= SECTION_LEN(0) &&
	       !(p[0] & ~(STATUS_OBF | STATUS_SYS | STATUS_CMD | STATUS_AUX_OBF)) &&
	       !(p[0] & STATUS_OBF) == !p[3] && memchr(waiting, p[2], sizeof(waiting)) &&
	       p[3] <= OUTQ_LEN && n == SECTION_LEN(p[3]);
}

/* Restore (p, n) into a new controller as the machine does; it takes over if accepted. */
static int restore(struct rig *r, const uint8_t *p, size_t n)
{
	struct snap_section sec = { SECTION_TAG, 0, p, (uint32_t)n };
	struct i8042 *fresh = kbd_new(r);
	unsigned int pulses = r->pulses;
	struct snap_cursor c;
	char why[256];
	int ret;

	snap_cursor_init(&c, &sec);
	ret = i8042_restore(fresh, &c, why, sizeof(why));
	if (ret && r->pulses != pulses)
		abort(); /* a refused section leaves the controller untouched */
	if (!ret)
		ret = snap_cursor_end(&c, why, sizeof(why));
	if (ret) {
		i8042_destroy(fresh);
		r->pulses = pulses;
		return ret;
	}
	/* Both ports' ranges now lead to the new controller. */
	r->bus.ranges[0].opaque = fresh;
	r->bus.ranges[1].opaque = fresh;
	i8042_destroy(r->kbd);
	r->kbd = fresh;
	memset(&r->m.metrics, 0, sizeof(r->m.metrics));
	return 0;
}

static void snapshot(struct rig *r, struct bin *s)
{
	struct model *m = &r->m;
	struct snap_writer w;
	uint8_t *p;
	size_t n;
	bool valid;

	if (!(bin_u8(s) & 1)) {
		snap_writer_init(&w, 0, "fuzz");
		snap_begin(&w, SECTION_TAG, 0);
		i8042_save(r->kbd, &w);
		snap_end(&w);
		if (w.err || restore(r, w.buf + SNAP_HEADER_SIZE + SECTION_HDR,
				     w.len - SNAP_HEADER_SIZE - SECTION_HDR))
			abort();
		snap_writer_free(&w);
		/* A byte still waiting with the interrupt on is announced again. */
		m->pulses += m->count && (m->ctr & CTR_KBD_INT);
		return;
	}
	n = bin_u8(s) % RESTORE_MAX;
	p = bin_take(s, &n);
	valid = section_valid(p, n);
	if (valid != !restore(r, p, n))
		abort();
	if (valid) {
		m->status = p[0];
		m->ctr = p[1];
		m->pending = p[2];
		m->count = p[3];
		m->head = 0;
		memcpy(m->q, p + 4, m->count);
		m->pulses += m->count && (m->ctr & CTR_KBD_INT);
	}
	free(p);
}

static void run(struct rig *r, struct bin *s)
{
	struct i8042_metrics got;
	unsigned int ops;

	for (ops = 0; s->n && ops < MAX_OPS; ops++) {
		uint8_t op = bin_u8(s), v;

		switch (op & 7) {
		case 0:
		case 1:
			access_op(r, s, op, false);
			break;
		case 2:
		case 3:
			access_op(r, s, op, true);
			break;
		case 4:
			v = commands[(op >> 3) & 15];
			guest_access(r, I8042_COMMAND_PORT, 1, &v, true);
			break;
		case 5:
			ctrl_alt_del(r);
			break;
		case 6:
			snapshot(r, s);
			break;
		default:
			drain(r);
			break;
		}
		i8042_metrics(r->kbd, &got);
		if (r->level || r->pulses != r->m.pulses || r->power_offs != r->m.power_offs ||
		    r->resets != r->m.resets || memcmp(&got, &r->m.metrics, sizeof(got)))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bin s = { data, size };
	struct rig *r = calloc(1, sizeof(*r));

	if (!r)
		abort();
	logger_init(&r->log);
	log_set_level(&r->log, LOG_ERROR); /* the fuzzer asks for refused sleep states */
	/* i8042_create's power-on state. */
	r->m.status = STATUS_SYS;
	r->m.ctr = 0x04 | CTR_XLATE;
	r->kbd = kbd_new(r);
	r->sleep = (struct acpi_sleep){ S5_TYPE, power_off, r, &r->log };
	bus_init(&r->bus, "pio");
	if (bus_register(&r->bus, I8042_DATA_PORT, 1, &i8042_data_ops, r->kbd, "i8042-data") ||
	    bus_register(&r->bus, I8042_COMMAND_PORT, 1, &i8042_command_ops, r->kbd,
			 "i8042-command") ||
	    bus_register(&r->bus, ACPI_PORT, ACPI_SLEEP_SPAN, &acpi_sleep_ops, &r->sleep,
			 "acpi-sleep"))
		abort();
	run(r, &s);
	i8042_destroy(r->kbd);
	bus_destroy(&r->bus);
	logger_destroy(&r->log);
	free(r);
	return 0;
}
