#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "i8042.h"
#include "../snapshot/stream.h"
#include "../util/log.h"

#define STATUS_OBF	0x01 /* output buffer full: a byte waits at port 0x60 */
#define STATUS_SYS	0x04 /* system flag: self-test passed */
#define STATUS_CMD	0x08 /* last write was to the command port */
#define STATUS_UNINHIBITED 0x10 /* the keylock switch is off: Linux warns "Keylock active" */
#define STATUS_AUX_OBF	0x20

#define CMD_READ_CTR	 0x20
#define CMD_WRITE_CTR	 0x60
#define CMD_DISABLE_AUX	 0xa7
#define CMD_ENABLE_AUX	 0xa8
#define CMD_TEST_AUX	 0xa9
#define CMD_SELF_TEST	 0xaa
#define CMD_TEST_KBD	 0xab
#define CMD_DISABLE_KBD	 0xad
#define CMD_ENABLE_KBD	 0xae
#define CMD_READ_OUTPORT 0xd0
#define CMD_WRITE_OUTPORT 0xd1
#define CMD_WRITE_KBD_OUT 0xd2
#define CMD_WRITE_AUX_OUT 0xd3
#define CMD_WRITE_AUX	 0xd4
#define CMD_PULSE_RESET	 0xfe

#define CTR_KBD_INT	0x01
#define CTR_SYS		0x04
#define CTR_XLATE	0x40 /* translate the keyboard's scan code set 2 to set 1 */

#define KBD_ACK		0xfa
#define OUTQ_LEN	16

struct i8042 {
	pthread_mutex_t lock;
	struct irq_line irq;
	void (*reset)(void *ctx);
	void *reset_ctx;
	uint8_t status, ctr, pending_cmd;
	uint8_t outq[OUTQ_LEN];
	unsigned int out_head, out_count;
	struct i8042_metrics metrics;
	struct logger *log;
};

struct i8042 *i8042_create(struct irq_line kbd_irq, void (*reset)(void *ctx), void *ctx,
			   struct logger *log)
{
	struct i8042 *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return NULL;
	pthread_mutex_init(&dev->lock, NULL);
	dev->irq = kbd_irq;
	dev->reset = reset;
	dev->reset_ctx = ctx;
	dev->log = log;
	dev->status = STATUS_SYS;
	/* As a PC firmware leaves it: translation on, so the guest reads set 1 codes. */
	dev->ctr = CTR_SYS | CTR_XLATE;
	return dev;
}

void i8042_destroy(struct i8042 *dev)
{
	if (!dev)
		return;
	pthread_mutex_destroy(&dev->lock);
	free(dev);
}

static void i8042_push(struct i8042 *dev, uint8_t byte)
{
	if (dev->out_count == OUTQ_LEN) {
		dev->metrics.missed_write_count++;
		return;
	}
	dev->outq[(dev->out_head + dev->out_count) % OUTQ_LEN] = byte;
	dev->out_count++;
	dev->status |= STATUS_OBF;
	if (dev->ctr & CTR_KBD_INT) {
		irq_line_set(&dev->irq, 1);
		irq_line_set(&dev->irq, 0);
	}
}

static void i8042_data_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	struct i8042 *dev = opaque;
	uint8_t v = 0;

	(void)off;
	memset(data, 0, len);
	pthread_mutex_lock(&dev->lock);
	dev->metrics.read_count++;
	if (dev->out_count) {
		v = dev->outq[dev->out_head];
		dev->out_head = (dev->out_head + 1) % OUTQ_LEN;
		dev->out_count--;
	}
	if (!dev->out_count)
		dev->status &= ~(STATUS_OBF | STATUS_AUX_OBF);
	pthread_mutex_unlock(&dev->lock);
	*(uint8_t *)data = v;
}

static void i8042_data_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct i8042 *dev = opaque;
	uint8_t v = *(const uint8_t *)data;

	(void)off;
	(void)len;
	pthread_mutex_lock(&dev->lock);
	dev->metrics.write_count++;
	dev->status &= ~STATUS_CMD;
	switch (dev->pending_cmd) {
	case CMD_WRITE_CTR:
		dev->ctr = v;
		break;
	case CMD_WRITE_KBD_OUT:
	case CMD_WRITE_AUX_OUT:
		i8042_push(dev, v);
		break;
	case CMD_WRITE_OUTPORT:
	case CMD_WRITE_AUX:
		break; /* no A20 gate, no mouse: accept and drop */
	default:
		/* A command byte sent to the keyboard itself: it acknowledges. */
		i8042_push(dev, KBD_ACK);
		break;
	}
	dev->pending_cmd = 0;
	pthread_mutex_unlock(&dev->lock);
}

static void i8042_status_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	struct i8042 *dev = opaque;

	(void)off;
	memset(data, 0, len);
	pthread_mutex_lock(&dev->lock);
	*(uint8_t *)data = dev->status | STATUS_UNINHIBITED;
	pthread_mutex_unlock(&dev->lock);
}

static void i8042_command_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct i8042 *dev = opaque;
	uint8_t cmd = *(const uint8_t *)data;
	int do_reset = 0;

	(void)off;
	(void)len;
	pthread_mutex_lock(&dev->lock);
	dev->status |= STATUS_CMD;
	switch (cmd) {
	case CMD_READ_CTR:
		i8042_push(dev, dev->ctr);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTPORT:
	case CMD_WRITE_KBD_OUT:
	case CMD_WRITE_AUX_OUT:
	case CMD_WRITE_AUX:
		dev->pending_cmd = cmd;
		break;
	case CMD_SELF_TEST:
		i8042_push(dev, 0x55);
		break;
	case CMD_TEST_KBD:
	case CMD_TEST_AUX:
		i8042_push(dev, 0x00);
		break;
	case CMD_READ_OUTPORT:
		i8042_push(dev, 0x01); /* reset line not asserted */
		break;
	case CMD_DISABLE_KBD:
	case CMD_ENABLE_KBD:
	case CMD_DISABLE_AUX:
	case CMD_ENABLE_AUX:
		break;
	case CMD_PULSE_RESET:
		dev->metrics.reset_count++;
		do_reset = 1;
		break;
	default:
		log_debug(dev->log, "i8042: ignoring command 0x%02x", cmd);
		break;
	}
	pthread_mutex_unlock(&dev->lock);
	if (do_reset && dev->reset)
		dev->reset(dev->reset_ctx);
}

int i8042_send_ctrl_alt_del(struct i8042 *dev)
{
	/* Make codes of left Ctrl, left Alt and Delete, in the set the guest reads. */
	static const uint8_t set1[] = {0x1d, 0x38, 0xe0, 0x53};
	static const uint8_t set2[] = {0x14, 0x11, 0xe0, 0x71};
	const uint8_t *codes;
	unsigned int i;
	int ret = 0;

	pthread_mutex_lock(&dev->lock);
	codes = dev->ctr & CTR_XLATE ? set1 : set2;
	if (dev->out_count + sizeof(set1) > OUTQ_LEN)
		ret = -EBUSY;
	for (i = 0; !ret && i < sizeof(set1); i++)
		i8042_push(dev, codes[i]);
	pthread_mutex_unlock(&dev->lock);
	return ret;
}

void i8042_metrics(struct i8042 *dev, struct i8042_metrics *out)
{
	pthread_mutex_lock(&dev->lock);
	*out = dev->metrics;
	pthread_mutex_unlock(&dev->lock);
}

void i8042_save(struct i8042 *dev, struct snap_writer *w)
{
	unsigned int i;

	pthread_mutex_lock(&dev->lock);
	snap_put_u8(w, dev->status);
	snap_put_u8(w, dev->ctr);
	snap_put_u8(w, dev->pending_cmd);
	snap_put_u8(w, dev->out_count);
	for (i = 0; i < dev->out_count; i++)
		snap_put_u8(w, dev->outq[(dev->out_head + i) % OUTQ_LEN]);
	pthread_mutex_unlock(&dev->lock);
}

/* The commands that wait for a data byte (i8042_command_write), and none. */
static bool i8042_pending_known(uint8_t cmd)
{
	return cmd == 0 || cmd == CMD_WRITE_CTR || cmd == CMD_WRITE_OUTPORT ||
	       cmd == CMD_WRITE_KBD_OUT || cmd == CMD_WRITE_AUX_OUT || cmd == CMD_WRITE_AUX;
}

int i8042_restore(struct i8042 *dev, struct snap_cursor *c, char *why, size_t why_len)
{
	uint8_t status, ctr, pending, count, outq[OUTQ_LEN];

	status = snap_get_u8(c);
	ctr = snap_get_u8(c);
	pending = snap_get_u8(c);
	count = snap_get_u8(c);
	/* The controller sets no other status bit, and OBF says exactly whether a byte waits. */
	if ((status & ~(STATUS_OBF | STATUS_SYS | STATUS_CMD | STATUS_AUX_OBF)) ||
	    !(status & STATUS_OBF) != !count)
		snap_cursor_fail(c, "i8042 status");
	if (!i8042_pending_known(pending))
		snap_cursor_fail(c, "i8042 pending command");
	if (count > OUTQ_LEN)
		snap_cursor_fail(c, "i8042 output buffer");
	if (!c->bad)
		snap_get_bytes(c, outq, count);
	if (c->bad)
		return snap_cursor_end(c, why, why_len);

	pthread_mutex_lock(&dev->lock);
	dev->status = status;
	dev->ctr = ctr;
	dev->pending_cmd = pending;
	memcpy(dev->outq, outq, count);
	dev->out_head = 0;
	dev->out_count = count;
	/*
	 * The interrupt is an edge sent when a byte arrives; if the guest had not taken the
	 * byte yet, send it again, so a guest that was about to read it still does (an edge it
	 * already saw costs it one interrupt without data, which it ignores).
	 */
	if (count && (ctr & CTR_KBD_INT)) {
		irq_line_set(&dev->irq, 1);
		irq_line_set(&dev->irq, 0);
	}
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

const struct bus_dev_ops i8042_data_ops = {
	.read = i8042_data_read,
	.write = i8042_data_write,
};

const struct bus_dev_ops i8042_command_ops = {
	.read = i8042_status_read,
	.write = i8042_command_write,
};
