/*
 * libFuzzer target: the 16550A UART (devices/serial.c) as the vCPUs and the host's event
 * loop reach it. The fuzzer's bytes are a script of operations, each an op byte (the kind in
 * its low three bits, an access's width 1, 2, 4 or 8 in its top two) and its arguments:
 *   0-2 a read, 3-4 a write: an address byte (below 0xe0 one of the eight registers; from
 *       0xe0 an offset from 12 below the window to 19 above it) and, for a write, the
 *       value's bytes. Accesses go through a bus as vcpu.c makes them, so one off or across
 *       the window's edge is unclaimed;
 *   5 console input from the host: a count byte, then up to that many bytes;
 *   6 the host drains the console output;
 *   7 a snapshot: the UART saved and restored into a new one that takes its place, or (bit
 *       0 of an argument byte) a new one restored from the script's next bytes, kept if
 *       accepted; with bit 1, the new one's output is closed (every write fails), as a
 *       restored VM's console can be.
 *
 * Checked against a model of the chip the harness keeps from what it did: every register
 * reads back as the model says (the receive FIFO byte for byte, IIR's cause and FIFO bits,
 * LSR's data-ready and always-empty transmitter, MSR's loopback wiring); the interrupt line
 * follows IIR and is driven only when it changes; the output is exactly the bytes written to
 * THR outside loopback, or counted missed while the output is closed; the transmit hook hears of every
 * THRI change and of each status read while the guest polls; a restore accepts exactly the
 * sections a UART could have saved; unclaimed reads are all-ones and claimed ones zero above
 * the first byte; the counters agree.
 */
#define _GNU_SOURCE /* pipe2 */
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/serial.h"
#include "snapshot/stream.h"
#include "vmm/bus.h"
#include "builder_input.h"

#define BASE		   0x3f8
#define GSI		   4
#define MAX_OPS		   4096
#define OUT_MAX		   MAX_OPS /* each op writes at most one byte out */
#define SECTION_HDR	   12	 /* tag, instance, length (stream.h) */
#define SECTION_TAG	   SNAP_TAG('F', 'U', 'Z', 'Z')
#define RESTORE_MAX	   80
#define SECTION_LEN(count) (9 + (count))

#define IER_RDI	 0x01
#define IER_THRI 0x02
#define LCR_DLAB 0x80
#define MCR_LOOP 0x10

/* The chip as the harness expects it, from what it did; named after serial.c's fields. */
struct model {
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	bool thri;
	uint8_t rx[SERIAL_FIFO_LEN];
	unsigned int head, count;
	struct serial_metrics metrics;
	size_t out_len; /* bytes in out_expected */
	bool out_closed;
};

struct rig {
	struct bus bus;
	struct serial *s;
	struct model m;
	int line;	   /* the level the UART last drove */
	bool restoring;	   /* a UART being restored drives its line... */
	int restored_line; /* ...kept here, as the machine may refuse it yet (-1: not driven) */
	int polled;	   /* the transmit hook's last word, -1 before it has one */
	unsigned int status_reads, want_status_reads;
};

/*
 * The console output: one nonblocking pipe for the process, empty between inputs (it holds
 * more than OUT_MAX); what the model says is in it, and a buffer to read it back.
 */
static int out_pipe[2] = { -1, -1 };
static uint8_t out_expected[OUT_MAX], out_got[OUT_MAX + 1];

static void line_set(void *ctx, unsigned int gsi, int level)
{
	struct rig *r = ctx;

	if (gsi != GSI || (level != 0 && level != 1))
		abort();
	if (r->restoring) {
		r->restored_line = level;
		return;
	}
	if (level == r->line)
		abort();
	r->line = level;
}

static void hook_polled(void *ctx, bool polled)
{
	struct rig *r = ctx;

	/* Told at installation, then on each change only. */
	if (r->polled == (int)polled)
		abort();
	r->polled = polled;
}

static void hook_status_read(void *ctx)
{
	struct rig *r = ctx;

	r->status_reads++;
}

/* A UART writing to the console pipe, or (closed) to no file at all. */
static struct serial *uart_new(struct rig *r, bool closed)
{
	struct serial *s =
		serial_create(closed ? -1 : out_pipe[1], (struct irq_line){ line_set, r, GSI });

	if (!s)
		abort();
	r->polled = -1;
	serial_set_tx_hook(s, (struct serial_tx_hook){ hook_polled, hook_status_read, r });
	return s;
}

static uint8_t model_iir(const struct model *m)
{
	uint8_t fifo = (m->fcr & 0x01) ? 0xc0 : 0;

	if ((m->ier & IER_RDI) && m->count)
		return fifo | 0x04;
	if ((m->ier & IER_THRI) && m->thri)
		return fifo | 0x02;
	return fifo | 0x01;
}

static void model_rx_put(struct model *m, uint8_t c)
{
	if (m->count == SERIAL_FIFO_LEN) {
		m->metrics.missed_read_count++;
		return;
	}
	m->rx[(m->head + m->count) % SERIAL_FIFO_LEN] = c;
	m->count++;
}

/* All the output so far is in the pipe, byte for byte, and the counters agree. */
static void drain(struct rig *r)
{
	struct serial_metrics got;
	size_t n = 0;
	ssize_t k;

	while ((k = read(out_pipe[0], out_got + n, sizeof(out_got) - n)) > 0)
		n += k;
	if (n != r->m.out_len || memcmp(out_got, out_expected, n))
		abort();
	r->m.out_len = 0;
	serial_metrics(r->s, &got);
	if (memcmp(&got, &r->m.metrics, sizeof(got)))
		abort();
}

/* What a read of (reg) returns, with its side effects on the model. */
static uint8_t model_read(struct rig *r, unsigned int reg)
{
	struct model *m = &r->m;
	uint8_t v;

	switch (reg) {
	case 0:
		if (m->lcr & LCR_DLAB)
			return m->dll;
		if (!m->count)
			return 0;
		v = m->rx[m->head];
		m->head = (m->head + 1) % SERIAL_FIFO_LEN;
		m->count--;
		m->metrics.read_count++;
		return v;
	case 1:
		return (m->lcr & LCR_DLAB) ? m->dlm : m->ier;
	case 2:
		v = model_iir(m);
		if ((v & 0x0f) == 0x02)
			m->thri = false;
		return v;
	case 3:
		return m->lcr;
	case 4:
		return m->mcr;
	case 5:
		if (!(m->ier & IER_THRI))
			r->want_status_reads++;
		/* The transmitter is always empty: output leaves at once. */
		return 0x60 | (m->count ? 0x01 : 0);
	case 6:
		if (!(m->mcr & MCR_LOOP))
			return 0xb0; /* DCD, DSR, CTS */
		/* Loopback wires DTR to DSR, RTS to CTS, OUT1 to RI, OUT2 to DCD. */
		return (m->mcr & 0x01) << 5 | (m->mcr & 0x02) << 3 | (m->mcr & 0x04) << 4 |
		       (m->mcr & 0x08) << 4;
	default:
		return m->scr;
	}
}

static void model_write(struct rig *r, unsigned int reg, uint8_t v)
{
	struct model *m = &r->m;

	switch (reg) {
	case 0:
		if (m->lcr & LCR_DLAB) {
			m->dll = v;
			break;
		}
		m->thri = true;
		if (m->mcr & MCR_LOOP) {
			model_rx_put(m, v);
			break;
		}
		if (m->out_closed) {
			m->metrics.missed_write_count++;
			break;
		}
		out_expected[m->out_len++] = v;
		m->metrics.write_count++;
		break;
	case 1:
		if (m->lcr & LCR_DLAB) {
			m->dlm = v;
			break;
		}
		if (!(m->ier & IER_THRI) && (v & IER_THRI))
			m->thri = true;
		m->ier = v & 0x0f;
		break;
	case 2:
		m->fcr = v & 0xc1;
		if (v & 0x02)
			m->head = m->count = 0;
		break;
	case 3:
		m->lcr = v;
		break;
	case 4:
		m->mcr = v & 0x1f;
		break;
	case 7:
		m->scr = v;
		break;
	default:
		break;
	}
}

/* One access at window offset (off): the model's turn, the bus's, then the reply checked. */
static void guest_access(struct rig *r, int64_t off, unsigned int len, uint8_t *data,
			 bool is_write)
{
	bool inside = off >= 0 && off + len <= SERIAL_REG_SPAN;
	uint8_t want = 0;
	unsigned int i;

	if (inside && is_write)
		model_write(r, off, data[0]);
	else if (inside)
		want = model_read(r, off);
	if (bus_access(&r->bus, BASE + off, data, len, is_write) != inside)
		abort();
	for (i = 0; !is_write && i < len; i++)
		if (data[i] != (!inside ? 0xff : i ? 0 : want))
			abort();
}

static void access_op(struct rig *r, struct bin *s, uint8_t op, bool is_write)
{
	unsigned int i, len = 1u << (op >> 6);
	uint8_t a = bin_u8(s), data[8];
	int64_t off = a < 0xe0 ? (a & 7) : (int64_t)(a & 0x1f) - 12;

	memset(data, 0xa5, sizeof(data));
	for (i = 0; is_write && i < len; i++)
		data[i] = bin_u8(s);
	guest_access(r, off, len, data, is_write);
}

static void input(struct rig *r, struct bin *s)
{
	size_t n = bin_u8(s) % (SERIAL_FIFO_LEN + 32), want, i;

	if (n > s->n)
		n = s->n;
	want = SERIAL_FIFO_LEN - r->m.count;
	if (serial_input_space(r->s) != want)
		abort();
	/* In loopback the receiver hears the transmitter only. */
	if (r->m.mcr & MCR_LOOP)
		want = 0;
	if (want > n)
		want = n;
	if (serial_push_input(r->s, s->p, n) != want)
		abort();
	for (i = 0; i < want; i++)
		model_rx_put(&r->m, s->p[i]);
	s->p += n;
	s->n -= n;
}

/* Does a new UART take (p, n) as its section? As serial_restore and the machine decide. */
static bool section_valid(const uint8_t *p, size_t n)
{
	return n >= SECTION_LEN(0) && !(p[0] & ~0x0f) && !(p[2] & ~0x1f) && !(p[4] & ~0xc1) &&
	       p[7] <= 1 && p[8] <= SERIAL_FIFO_LEN && n == SECTION_LEN(p[8]);
}

/* Restore (p, n) into a new UART as the machine does; it replaces the old one if accepted. */
static int restore(struct rig *r, const uint8_t *p, size_t n, bool closed)
{
	struct snap_section sec = { SECTION_TAG, 0, p, (uint32_t)n };
	struct serial *fresh = uart_new(r, closed);
	struct snap_cursor c;
	char why[256];
	int ret;

	snap_cursor_init(&c, &sec);
	r->restoring = true;
	r->restored_line = -1;
	ret = serial_restore(fresh, &c, why, sizeof(why));
	r->restoring = false;
	/* Refused: untouched. Accepted: the line driven to its level, whatever it was. */
	if (!ret != (r->restored_line >= 0))
		abort();
	if (!ret)
		ret = snap_cursor_end(&c, why, sizeof(why));
	if (ret) {
		serial_destroy(fresh);
		/* The old UART stays: so do the hook's and the line's last words. */
		r->polled = !(r->m.ier & IER_THRI);
		return ret;
	}
	/* The one bus range now leads to the new UART. */
	r->bus.ranges[0].opaque = fresh;
	serial_destroy(r->s);
	r->s = fresh;
	r->line = r->restored_line;
	r->m.out_closed = closed;
	memset(&r->m.metrics, 0, sizeof(r->m.metrics));
	return 0;
}

static void snapshot(struct rig *r, struct bin *s)
{
	struct model *m = &r->m;
	struct snap_writer w;
	uint8_t *p;
	size_t n;
	uint8_t how = bin_u8(s);
	bool valid;
	int ret;

	drain(r); /* the counters start again from zero */
	if (!(how & 1)) {
		snap_writer_init(&w, 0, "fuzz");
		snap_begin(&w, SECTION_TAG, 0);
		serial_save(r->s, &w);
		snap_end(&w);
		if (w.err || restore(r, w.buf + SNAP_HEADER_SIZE + SECTION_HDR,
				     w.len - SNAP_HEADER_SIZE - SECTION_HDR, how & 2))
			abort();
		snap_writer_free(&w);
		return;
	}
	n = bin_u8(s) % RESTORE_MAX;
	p = bin_take(s, &n);
	valid = section_valid(p, n);
	ret = restore(r, p, n, how & 2);
	if (valid != !ret)
		abort();
	if (valid) {
		m->ier = p[0];
		m->lcr = p[1];
		m->mcr = p[2];
		m->scr = p[3];
		m->fcr = p[4];
		m->dll = p[5];
		m->dlm = p[6];
		m->thri = p[7];
		m->count = p[8];
		m->head = 0;
		memcpy(m->rx, p + 9, m->count);
	}
	free(p);
}

static void run(struct rig *r, struct bin *s)
{
	unsigned int ops;

	for (ops = 0; s->n && ops < MAX_OPS; ops++) {
		uint8_t op = bin_u8(s);

		switch (op & 7) {
		case 0:
		case 1:
		case 2:
			access_op(r, s, op, false);
			break;
		case 3:
		case 4:
			access_op(r, s, op, true);
			break;
		case 5:
			input(r, s);
			break;
		case 6:
			drain(r);
			break;
		default:
			snapshot(r, s);
			break;
		}
		if (r->line != !(model_iir(&r->m) & 0x01) || r->polled != !(r->m.ier & IER_THRI) ||
		    r->status_reads != r->want_status_reads)
			abort();
	}
	drain(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bin s = { data, size };
	struct rig *r;

	if (out_pipe[0] < 0 && pipe2(out_pipe, O_NONBLOCK | O_CLOEXEC))
		abort();
	r = calloc(1, sizeof(*r));
	if (!r)
		abort();
	/* serial_create's power-on state. */
	r->m.mcr = 0x08;
	r->m.dll = 12;
	bus_init(&r->bus, "pio");
	r->s = uart_new(r, false);
	if (bus_register(&r->bus, BASE, SERIAL_REG_SPAN, &serial_bus_ops, r->s, "serial"))
		abort();
	run(r, &s);
	serial_destroy(r->s);
	bus_destroy(&r->bus);
	free(r);
	return 0;
}
