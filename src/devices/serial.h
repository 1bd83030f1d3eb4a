/* A 16550A UART: output to a host fd, input pushed in by the VMM's event loop. */
#ifndef EMBER_DEVICES_SERIAL_H
#define EMBER_DEVICES_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "irq.h"
#include "../vmm/bus.h"

#define SERIAL_REG_SPAN 8
#define SERIAL_FIFO_LEN 64

struct serial;
struct snap_writer;
struct snap_cursor;

extern const struct bus_dev_ops serial_bus_ops;

/* A UART that writes guest output to (out_fd) and signals on (irq). NULL on ENOMEM. */
/* Firecracker's uart metrics, counted since creation. */
struct serial_metrics {
	uint64_t read_count;	     /* bytes the guest read */
	uint64_t write_count;	     /* bytes the guest wrote that reached the output */
	uint64_t missed_read_count;  /* input bytes lost to a full receive FIFO */
	uint64_t missed_write_count; /* output bytes the output could not take */
};

struct serial *serial_create(int out_fd, struct irq_line irq);

/*
 * polled: told whether the guest now polls for transmit space (IER's THRI interrupt off)
 * or waits for the interrupt. While it polls, a THR write needs no prompt answer (nothing
 * in the guest waits on it), so the VM may coalesce them.
 * status_read: while it polls, the guest read the line status, as it does before a byte
 * (or after one): a write is likely to follow, which the VM should not hold for long if
 * no other exit comes after it.
 * Both are called with the UART's lock held: they must not call back into the UART.
 */
struct serial_tx_hook {
	void (*polled)(void *ctx, bool polled);
	void (*status_read)(void *ctx);
	void *ctx;
};

/* Install (hook), and call it at once with the current state. */
void serial_set_tx_hook(struct serial *s, struct serial_tx_hook hook);

/* A consistent copy of (s)'s counters; any thread. */
void serial_metrics(struct serial *s, struct serial_metrics *out);
void serial_destroy(struct serial *s);

/* Queue up to (len) bytes of input for the guest. Returns how many were taken (FIFO space). */
size_t serial_push_input(struct serial *s, const uint8_t *buf, size_t len);

/* Free space in the receive FIFO. */
size_t serial_input_space(struct serial *s);

/*
 * Snapshots: every register the guest can read back or that decides the interrupt, and the
 * bytes waiting in the receive FIFO, as fields of a section the caller opened. Restore reads
 * them into a UART just created, checked as untrusted (bits the registers cannot hold, a
 * FIFO past its size: the cursor marked bad, -EINVAL with why, (s) unchanged), and drives
 * the interrupt line to the level the registers call for. The counters start from zero.
 */
void serial_save(struct serial *s, struct snap_writer *w);
int serial_restore(struct serial *s, struct snap_cursor *c, char *why, size_t why_len);

#endif
