/*
 * 16550A UART. Registers by offset: 0 RBR/THR (DLL when DLAB), 1 IER (DLM when DLAB),
 * 2 IIR/FCR, 3 LCR, 4 MCR, 5 LSR, 6 MSR, 7 SCR. The interrupt output is a level that
 * follows the highest pending cause, as on the real chip.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "serial.h"
#include "../snapshot/stream.h"
#include "../util/util.h"

#define IER_RDI	 0x01 /* receive data available */
#define IER_THRI 0x02 /* transmit holding register empty */
#define IER_MASK 0x0f

#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI	 0x04
#define IIR_FIFO 0xc0

#define FCR_ENABLE    0x01
#define FCR_CLEAR_RCV 0x02

#define LCR_DLAB 0x80

#define MCR_DTR	 0x01
#define MCR_RTS	 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR	 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI	0x40
#define MSR_DCD 0x80

struct serial {
	pthread_mutex_t lock; /* vCPU threads and the input loop both enter */
	int out_fd;
	struct irq_line irq;
	int irq_level;
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	int thri_pending;
	struct serial_tx_hook tx_hook;
	uint8_t rx[SERIAL_FIFO_LEN];
	unsigned int rx_head, rx_count;
	struct serial_metrics metrics;
};

struct serial *serial_create(int out_fd, struct irq_line irq)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->out_fd = out_fd;
	s->irq = irq;
	s->mcr = MCR_OUT2;
	s->dll = 12; /* 9600 baud, the power-on divisor */
	return s;
}

static void serial_tell_tx_hook(struct serial *s)
{
	if (s->tx_hook.polled)
		s->tx_hook.polled(s->tx_hook.ctx, !(s->ier & IER_THRI));
}

void serial_set_tx_hook(struct serial *s, struct serial_tx_hook hook)
{
	pthread_mutex_lock(&s->lock);
	s->tx_hook = hook;
	serial_tell_tx_hook(s);
	pthread_mutex_unlock(&s->lock);
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static uint8_t serial_iir(const struct serial *s)
{
	uint8_t fifo = (s->fcr & FCR_ENABLE) ? IIR_FIFO : 0;

	if ((s->ier & IER_RDI) && s->rx_count)
		return fifo | IIR_RDI;
	if ((s->ier & IER_THRI) && s->thri_pending)
		return fifo | IIR_THRI;
	return fifo | IIR_NONE;
}

/* Called with the lock held after any state change. */
static void serial_update_irq(struct serial *s)
{
	int level = !(serial_iir(s) & IIR_NONE);

	if (level != s->irq_level) {
		s->irq_level = level;
		irq_line_set(&s->irq, level);
	}
}

static void serial_rx_put(struct serial *s, uint8_t c)
{
	if (s->rx_count == SERIAL_FIFO_LEN) {
		s->metrics.missed_read_count++;
		return; /* overrun: the byte is lost, as on hardware */
	}
	s->rx[(s->rx_head + s->rx_count) % SERIAL_FIFO_LEN] = c;
	s->rx_count++;
}

static void serial_tx(struct serial *s, uint8_t c)
{
	if (s->mcr & MCR_LOOP)
		serial_rx_put(s, c);
	else if (write_all(s->out_fd, &c, 1)) /* a closed stdout must not stop the guest */
		s->metrics.missed_write_count++;
	else
		s->metrics.write_count++;
	s->thri_pending = 1;
}

static uint8_t serial_msr(const struct serial *s)
{
	if (s->mcr & MCR_LOOP)
		return ((s->mcr & MCR_DTR) ? MSR_DSR : 0) | ((s->mcr & MCR_RTS) ? MSR_CTS : 0) |
		       ((s->mcr & MCR_OUT1) ? MSR_RI : 0) | ((s->mcr & MCR_OUT2) ? MSR_DCD : 0);
	return MSR_DCD | MSR_DSR | MSR_CTS;
}

static uint8_t serial_read_reg(struct serial *s, uint64_t off)
{
	uint8_t v = 0;

	switch (off) {
	case 0:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		if (s->rx_count) {
			s->metrics.read_count++;
			v = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % SERIAL_FIFO_LEN;
			s->rx_count--;
		}
		return v;
	case 1:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case 2:
		v = serial_iir(s);
		/* Reading IIR acknowledges a THRE interrupt. */
		if ((v & 0x0f) == IIR_THRI)
			s->thri_pending = 0;
		return v;
	case 3:
		return s->lcr;
	case 4:
		return s->mcr;
	case 5:
		if (!(s->ier & IER_THRI) && s->tx_hook.status_read)
			s->tx_hook.status_read(s->tx_hook.ctx);
		return LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0);
	case 6:
		return serial_msr(s);
	default:
		return s->scr;
	}
}

static void serial_write_reg(struct serial *s, uint64_t off, uint8_t v)
{
	uint8_t old;

	switch (off) {
	case 0:
		if (s->lcr & LCR_DLAB)
			s->dll = v;
		else
			serial_tx(s, v);
		break;
	case 1:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			break;
		}
		/* Enabling THRI while the holder is empty raises it at once. */
		if (!(s->ier & IER_THRI) && (v & IER_THRI))
			s->thri_pending = 1;
		old = s->ier;
		s->ier = v & IER_MASK;
		if ((old ^ s->ier) & IER_THRI)
			serial_tell_tx_hook(s);
		break;
	case 2:
		s->fcr = v & (FCR_ENABLE | 0xc0);
		if (v & FCR_CLEAR_RCV)
			s->rx_head = s->rx_count = 0;
		break;
	case 3:
		s->lcr = v;
		break;
	case 4:
		s->mcr = v & MCR_MASK;
		break;
	case 7:
		s->scr = v;
		break;
	default:
		break; /* LSR and MSR are read-only */
	}
}

static void serial_bus_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	struct serial *s = opaque;

	memset(data, 0, len);
	pthread_mutex_lock(&s->lock);
	*(uint8_t *)data = serial_read_reg(s, off);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static void serial_bus_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct serial *s = opaque;

	(void)len;
	pthread_mutex_lock(&s->lock);
	serial_write_reg(s, off, *(const uint8_t *)data);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

const struct bus_dev_ops serial_bus_ops = {
	.read = serial_bus_read,
	.write = serial_bus_write,
};

size_t serial_input_space(struct serial *s)
{
	size_t space;

	pthread_mutex_lock(&s->lock);
	space = SERIAL_FIFO_LEN - s->rx_count;
	pthread_mutex_unlock(&s->lock);
	return space;
}

size_t serial_push_input(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	/* In loopback the receiver is wired to the transmitter, not the outside. */
	if (!(s->mcr & MCR_LOOP))
		for (; n < len && s->rx_count < SERIAL_FIFO_LEN; n++)
			serial_rx_put(s, buf[n]);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

void serial_metrics(struct serial *s, struct serial_metrics *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->metrics;
	pthread_mutex_unlock(&s->lock);
}

void serial_save(struct serial *s, struct snap_writer *w)
{
	unsigned int i;

	pthread_mutex_lock(&s->lock);
	snap_put_u8(w, s->ier);
	snap_put_u8(w, s->lcr);
	snap_put_u8(w, s->mcr);
	snap_put_u8(w, s->scr);
	snap_put_u8(w, s->fcr);
	snap_put_u8(w, s->dll);
	snap_put_u8(w, s->dlm);
	snap_put_u8(w, s->thri_pending);
	/* The FIFO in the order the guest will read it. */
	snap_put_u8(w, s->rx_count);
	for (i = 0; i < s->rx_count; i++)
		snap_put_u8(w, s->rx[(s->rx_head + i) % SERIAL_FIFO_LEN]);
	pthread_mutex_unlock(&s->lock);
}

int serial_restore(struct serial *s, struct snap_cursor *c, char *why, size_t why_len)
{
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm, thri, count, rx[SERIAL_FIFO_LEN];
	bool thri_changed;

	ier = snap_get_u8(c);
	lcr = snap_get_u8(c);
	mcr = snap_get_u8(c);
	scr = snap_get_u8(c);
	fcr = snap_get_u8(c);
	dll = snap_get_u8(c);
	dlm = snap_get_u8(c);
	thri = snap_get_u8(c);
	count = snap_get_u8(c);
	/* Only what a register write could have left there. */
	if (ier & ~IER_MASK)
		snap_cursor_fail(c, "serial IER");
	if (mcr & ~MCR_MASK)
		snap_cursor_fail(c, "serial MCR");
	if (fcr & ~(FCR_ENABLE | 0xc0))
		snap_cursor_fail(c, "serial FCR");
	if (thri > 1)
		snap_cursor_fail(c, "serial THRE interrupt");
	if (count > SERIAL_FIFO_LEN)
		snap_cursor_fail(c, "serial receive FIFO");
	if (!c->bad)
		snap_get_bytes(c, rx, count);
	if (c->bad)
		return snap_cursor_end(c, why, why_len);

	pthread_mutex_lock(&s->lock);
	thri_changed = (s->ier ^ ier) & IER_THRI;
	s->ier = ier;
	s->lcr = lcr;
	s->mcr = mcr;
	s->scr = scr;
	s->fcr = fcr;
	s->dll = dll;
	s->dlm = dlm;
	s->thri_pending = thri;
	if (thri_changed)
		serial_tell_tx_hook(s);
	memcpy(s->rx, rx, count);
	s->rx_head = 0;
	s->rx_count = count;
	/*
	 * Drive the line as the registers say, whatever level it had: the irqchip's own
	 * state came back from the snapshot, and a raised line must stay raised.
	 */
	s->irq_level = !(serial_iir(s) & IIR_NONE);
	irq_line_set(&s->irq, s->irq_level);
	pthread_mutex_unlock(&s->lock);
	return 0;
}
