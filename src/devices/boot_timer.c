#include <string.h>

#include "boot_timer.h"
#include <stdio.h>
#include "../util/util.h"

static void boot_timer_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	(void)opaque;
	(void)off;
	memset(data, 0, len);
}

static void boot_timer_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	const struct boot_timer *bt = opaque;
	uint64_t wall, cpu;

	if (off != 0 || *(const uint8_t *)data != BOOT_TIMER_MAGIC_VALUE)
		return;
	(void)len;
	wall = now_us() - bt->start_us;
	cpu = cpu_us();
	/* Printed whatever the log level: asking for it was the point of --boot-timer. */
	fprintf(stderr, "ember: Guest-boot-time = %llu us %llu ms, %llu CPU us %llu CPU ms\n",
		(unsigned long long)wall, (unsigned long long)(wall / 1000),
		(unsigned long long)cpu, (unsigned long long)(cpu / 1000));
}

const struct bus_dev_ops boot_timer_ops = {
	.read = boot_timer_read,
	.write = boot_timer_write,
};
