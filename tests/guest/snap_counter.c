// SPDX-License-Identifier: Apache-2.0
/*
 * snap_counter.c - snap_counter.elf, the guest of the snapshot tests: fills
 * a 128 KiB region with a pattern, then counts in a memory word and about
 * every 100 ms prints "COUNT <n> SUM <checksum of the region>".  A restored
 * guest must go on from its last count with the same checksum; the counting
 * touches only one page, so a Diff snapshot after it is small.
 */
#include "lib.h"

#define REGION_ADDR 0x400000UL /* 4 MiB: above the image, inside 64 MiB of RAM */
#define REGION_SIZE (128UL << 10)
#define COUNTER_ADDR 0x500000UL
#define TICK_TSC    250000000UL /* ~100 ms at the assumed 2.5 GHz TSC */
#define TICK_POLLS  2000000UL	/* or this many passes if the TSC does not tick */

/* A word at a time: guest code is slow on a nested test bed, and this runs every print. */
static u32 region_sum(void)
{
	const u64 *w = phys(REGION_ADDR);
	u64 sum = 0, i;

	for (i = 0; i < REGION_SIZE / 8; i++)
		sum = (sum << 7 | sum >> 57) ^ w[i];
	return (u32)(sum ^ sum >> 32);
}

void guest_main(const struct boot_info *b)
{
	volatile u64 *count = phys(COUNTER_ADDR);
	u64 *region = phys(REGION_ADDR), last = rdtsc(), polls = 0, now, i;

	(void)b;
	for (i = 0; i < REGION_SIZE / 8; i++)
		region[i] = i * 0x9e3779b97f4a7c15UL;
	*count = 0;
	put_str("COUNTER-READY SUM ");
	put_hex32(region_sum());
	put_nl();
	for (;;) {
		(*count)++;
		now = rdtsc();
		if (now - last >= TICK_TSC || ++polls >= TICK_POLLS) {
			put_str("COUNT ");
			put_dec(*count);
			put_str(" SUM ");
			put_hex32(region_sum());
			put_nl();
			last = now;
			polls = 0;
		}
	}
}
