#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
}

void bus_destroy(struct bus *bus)
{
	free(bus->ranges);
	bus->ranges = NULL;
	bus->nr = bus->cap = 0;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_dev_ops *ops,
		 void *opaque, const char *name)
{
	uint64_t last;
	unsigned int pos;

	if (!len || __builtin_add_overflow(base, len - 1, &last) || !ops)
		return -EINVAL;
	/* First range that starts above base; the one before it must end below base. */
	for (pos = 0; pos < bus->nr && bus->ranges[pos].base <= base; pos++)
		;
	if (pos > 0) {
		const struct bus_range *prev = &bus->ranges[pos - 1];

		if (prev->base + (prev->len - 1) >= base)
			return -EEXIST;
	}
	if (pos < bus->nr && bus->ranges[pos].base <= last)
		return -EEXIST;
	if (bus->nr == bus->cap) {
		unsigned int cap = bus->cap ? bus->cap * 2 : 8;
		struct bus_range *r = realloc(bus->ranges, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		bus->ranges = r;
		bus->cap = cap;
	}
	memmove(&bus->ranges[pos + 1], &bus->ranges[pos], (bus->nr - pos) * sizeof(*bus->ranges));
	bus->ranges[pos] = (struct bus_range){ base, len, ops, opaque, name };
	bus->nr++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, unsigned int len)
{
	unsigned int lo = 0, hi = bus->nr;
	uint64_t last;

	if (!len || __builtin_add_overflow(addr, (uint64_t)len - 1, &last))
		return NULL;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->ranges[mid];

		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return last - r->base < r->len ? r : NULL;
	}
	return NULL;
}

bool bus_access(const struct bus *bus, uint64_t addr, void *data, unsigned int len,
		bool is_write)
{
	const struct bus_range *r = bus_find(bus, addr, len);

	if (!r || (is_write && !r->ops->write) || (!is_write && !r->ops->read)) {
		if (!is_write)
			memset(data, 0xff, len);
		return false;
	}
	if (is_write)
		r->ops->write(r->opaque, addr - r->base, data, len);
	else
		r->ops->read(r->opaque, addr - r->base, data, len);
	return true;
}
