/* A 16550A UART: output to a host fd, input pushed in by the VMM's event loop. */
#ifndef EMBER_DEVICES_SERIAL_H
#define EMBER_DEVICES_SERIAL_H

#include <stddef.h>
#include <stdint.h>

#include "irq.h"
#include "../vmm/bus.h"

#define SERIAL_REG_SPAN 8
#define SERIAL_FIFO_LEN 64

struct serial;

extern const struct bus_dev_ops serial_bus_ops;

/* A UART that writes guest output to (out_fd) and signals on (irq). NULL on ENOMEM. */
struct serial *serial_create(int out_fd, struct irq_line irq);
void serial_destroy(struct serial *s);

/* Queue up to (len) bytes of input for the guest. Returns how many were taken (FIFO space). */
size_t serial_push_input(struct serial *s, const uint8_t *buf, size_t len);

/* Free space in the receive FIFO. */
size_t serial_input_space(struct serial *s);

#endif
