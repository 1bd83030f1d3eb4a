/* Just enough of an i8042 keyboard controller for Linux's probe, and its reset line. */
#ifndef EMBER_DEVICES_I8042_H
#define EMBER_DEVICES_I8042_H

#include <stddef.h>
#include <stdint.h>

#include "irq.h"
#include "../util/log.h"
#include "../vmm/bus.h"

#define I8042_DATA_PORT	   0x60
#define I8042_COMMAND_PORT 0x64

struct i8042;
struct snap_writer;
struct snap_cursor;

/* ops for the data port (offset 0) and the command/status port (offset 0), registered apart. */
extern const struct bus_dev_ops i8042_data_ops;
extern const struct bus_dev_ops i8042_command_ops;

/*
 * (reset) is called, from a vCPU thread, when the guest pulses the CPU reset line. (log)
 * must outlive the controller.
 */
struct i8042 *i8042_create(struct irq_line kbd_irq, void (*reset)(void *ctx), void *ctx,
			   struct logger *log);
void i8042_destroy(struct i8042 *dev);

/* Firecracker's i8042 metrics, counted since creation. */
struct i8042_metrics {
	uint64_t read_count;	     /* reads of the data port */
	uint64_t write_count;	     /* writes to the data port */
	uint64_t reset_count;	     /* CPU resets the guest asked for */
	uint64_t missed_write_count; /* bytes for the guest lost to a full buffer */
};

/* A consistent copy of (dev)'s counters; any thread. */
void i8042_metrics(struct i8042 *dev, struct i8042_metrics *out);

/* Queue the Ctrl-Alt-Del key presses for the guest and interrupt it. 0, or -EBUSY if full. */
int i8042_send_ctrl_alt_del(struct i8042 *dev);

/*
 * Snapshots: the status and command bytes, a command waiting for its data byte and the
 * bytes waiting for the guest, as fields of a section the caller opened. Restore reads them
 * into a controller just created, checked as untrusted (the cursor marked bad, -EINVAL with
 * why, (dev) unchanged), and interrupts the guest again if a byte waits for it with the
 * keyboard interrupt on. The counters start from zero.
 */
void i8042_save(struct i8042 *dev, struct snap_writer *w);
int i8042_restore(struct i8042 *dev, struct snap_cursor *c, char *why, size_t why_len);

#endif
