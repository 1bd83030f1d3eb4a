/*
 * The sleep control and status registers of a hardware-reduced ACPI platform (ACPI 6.5,
 * 4.8.3.7), one byte each: the guest writes SLP_TYP << 2 | SLP_EN to the control register
 * to enter a sleep state. The only state the DSDT offers is S5 (soft off), which stops the
 * VM as a power-off; any other is refused (logged) and the guest runs on.
 */
#ifndef EMBER_DEVICES_ACPI_SLEEP_H
#define EMBER_DEVICES_ACPI_SLEEP_H

#include <stdint.h>

#include "../util/log.h"
#include "../vmm/bus.h"

#define ACPI_SLEEP_SPAN 2 /* control at offset 0, status at 1 */

struct acpi_sleep {
	uint8_t s5_type; /* the SLP_TYP the DSDT's \_S5 gives */
	void (*power_off)(void *ctx);
	void *ctx;
	struct logger *log;
};

extern const struct bus_dev_ops acpi_sleep_ops;

#endif
