/*
 * An ARM PrimeCell PL031 real-time clock: the seconds counter arm64 Linux reads at boot
 * to set its wall clock. Its match interrupt is modelled as a register only.
 */
#ifndef EMBER_DEVICES_PL031_H
#define EMBER_DEVICES_PL031_H

#include <stddef.h>
#include <stdint.h>

#include "../util/log.h"
#include "../vmm/bus.h"

#define PL031_SPAN 0x1000

struct pl031 {
	int64_t offset; /* guest seconds minus host wall-clock seconds (a load sets it) */
	uint32_t match;
	uint32_t irq_mask;
	uint32_t irq_raw;
	struct logger *log;
};

/* A clock reading the host's wall time, logging to (log), or NULL without memory. */
struct pl031 *pl031_create(struct logger *log);
void pl031_destroy(struct pl031 *rtc);

extern const struct bus_dev_ops pl031_ops;

struct snap_writer;
struct snap_cursor;

/*
 * Snapshots: the registers, and the clock as its offset from the host's wall clock, so the
 * guest's calendar time keeps following the host's after a restore (the counter reads the
 * host's time then, plus what the guest had loaded), as fields of a section the caller
 * opened. Restore checks them as untrusted: the cursor marked bad, -EINVAL with why, (rtc)
 * unchanged.
 */
void pl031_save(const struct pl031 *rtc, struct snap_writer *w);
int pl031_restore(struct pl031 *rtc, struct snap_cursor *c, char *why, size_t why_len);

#endif
