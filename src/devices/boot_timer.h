/*
 * The boot timer: a guest writes 123 to offset 0 when it has booted (as Firecracker's
 * init wrapper does) and ember logs the time since the process started.
 */
#ifndef EMBER_DEVICES_BOOT_TIMER_H
#define EMBER_DEVICES_BOOT_TIMER_H

#include <stdint.h>

#include "../vmm/bus.h"

#define BOOT_TIMER_SPAN		 0x1000
#define BOOT_TIMER_MAGIC_VALUE	 123

struct boot_timer {
	uint64_t start_us; /* process start, on the monotonic clock */
};

extern const struct bus_dev_ops boot_timer_ops;

#endif
