/*
 * An address bus (port I/O or MMIO): sorted, disjoint ranges, each mapped to a device.
 * A device sees only the offset into its own range. Ranges are registered before the
 * vCPUs start and never change afterwards, so lookups need no lock.
 */
#ifndef EMBER_VMM_BUS_H
#define EMBER_VMM_BUS_H

#include <stdbool.h>
#include <stdint.h>

struct bus_dev_ops {
	/* (off) is relative to the registered base; (len) is 1, 2, 4 or 8. */
	void (*read)(void *opaque, uint64_t off, void *data, unsigned int len);
	void (*write)(void *opaque, uint64_t off, const void *data, unsigned int len);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_dev_ops *ops;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name;
	struct bus_range *ranges;
	unsigned int nr, cap;
};

void bus_init(struct bus *bus, const char *name);
void bus_destroy(struct bus *bus);

/*
 * Map [base, base + len) to (ops, opaque). Returns 0, -EEXIST on overlap with a
 * registered range, -EINVAL on an empty or wrapping range, -ENOMEM.
 */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_dev_ops *ops,
		 void *opaque, const char *name);

/* The range holding all of [addr, addr + len), or NULL. */
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, unsigned int len);

/*
 * Dispatch one access. A read no device claims returns all-ones. Returns true if a device
 * handled it; the caller, which has a logger, says so when none did.
 */
bool bus_access(const struct bus *bus, uint64_t addr, void *data, unsigned int len,
		bool is_write);

#endif
