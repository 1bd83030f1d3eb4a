/*
 * libFuzzer target: the x86 MP table (src/arch/x86_64/mptable.c) for a random vCPU count
 * and a random guest RAM layout around the EBDA where it goes. The bytes: a mode (bits 0-1:
 * 0 for RAM over the whole 16 KiB window around 0x9fc00, else that many regions, each a
 * start and a length in the window, which may leave the table no one region to fit in; bit
 * 7: a 32-bit vCPU count rather than a byte's 0 to 40), the vCPU count, the regions.
 *
 * The table must be refused (-E2BIG) for no vCPU or more than ARCH_MAX_VCPUS, and
 * (-EFAULT) when no one region holds it, leaving memory untouched. Written, it must stay
 * inside the EBDA below 0xa0000 and touch nothing else; the floating pointer and the
 * configuration table must checksum to 0 and point at each other; the entries must walk
 * exactly to the table's length, sorted by type, counted right in the header: one enabled
 * processor per vCPU with distinct APIC IDs and one BSP, the ISA bus, an I/O APIC whose ID
 * no CPU has, and interrupt entries naming the bus, that I/O APIC's pins, each pin once.
 */
#include <errno.h>
#include <string.h>

#include "arch/x86_64/mptable.h"
#include "arch/arch.h"
#include "builder_input.h"

#define WIN_BASE	 0x9e000ULL
#define WIN_SIZE	 0x4000ULL
#define EBDA_END	 0xa0000ULL
#define CANARY		 0xa5
#define NR_ENTRIES_FIXED (1 + 1 + X86_NR_IOAPIC_PINS + 2) /* bus, I/O APIC, pins, LINT0/1 */

static uint8_t win[WIN_SIZE];

/* The written table (floating pointer first) of (nr) CPUs at (t), (len) bytes long. */
static NOCOV void check_table(const uint8_t *t, size_t avail, unsigned int nr)
{
	const uint8_t *c = t + 16, *p, *end;
	uint16_t len, count, seen = 0;
	unsigned int cpus = 0, bsp = 0, pins = 0, lints = 0, i;
	uint8_t last_type = 0, ioapic_id = 0;
	bool have_bus = false, have_ioapic = false;
	uint32_t pin_seen = 0;
	uint64_t apic_ids[4] = {0};

	if (memcmp(t, "_MP_", 4) || le32_of(t + 4) != X86_MPTABLE_ADDR + 16 || t[8] != 1 ||
	    t[9] != 4 || sum8(t, 16))
		BUG("floating pointer: bad signature, address, length, revision or checksum");
	for (i = 11; i < 16; i++)
		if (t[i])
			BUG("floating pointer feature byte %u is 0x%x: not a table of our own", i,
			    t[i]);
	if (memcmp(c, "PCMP", 4))
		BUG("no PCMP at the floating pointer's address");
	len = c[4] | c[5] << 8;
	count = c[34] | c[35] << 8;
	if (len < 44 || 16 + (size_t)len > avail || X86_MPTABLE_ADDR + 16 + len > EBDA_END)
		BUG("table of %u bytes: past the EBDA", len);
	if (c[6] != 4 || sum8(c, len) || le32_of(c + 36) != X86_LAPIC_ADDR)
		BUG("table revision %u, checksum 0x%x or local APIC address wrong", c[6],
		    sum8(c, len));
	if (le32_of(c + 28) || c[32] || c[33] || c[40] || c[41] || c[42])
		BUG("an OEM or extended table announced that is not there");

	end = c + len;
	for (p = c + 44; p < end; seen++) {
		size_t n = p[0] == 0 ? 20 : 8;

		if (p[0] > 4)
			BUG("entry %u: type %u", seen, p[0]);
		if (p[0] < last_type)
			BUG("entry %u: type %u after type %u", seen, p[0], last_type);
		last_type = p[0];
		if ((size_t)(end - p) < n)
			BUG("entry %u runs past the table's length", seen);
		switch (p[0]) {
		case 0:
			if (!(p[3] & 1) || apic_ids[p[1] / 64] >> (p[1] % 64) & 1)
				BUG("CPU %u: disabled or its APIC ID %u again", cpus, p[1]);
			apic_ids[p[1] / 64] |= 1ULL << (p[1] % 64);
			bsp += (p[3] >> 1) & 1;
			cpus++;
			break;
		case 1:
			if (p[1] != 0 || memcmp(p + 2, "ISA   ", 6) || have_bus)
				BUG("bus entry: not the one ISA bus 0");
			have_bus = true;
			break;
		case 2:
			if (have_ioapic || !(p[3] & 1) || le32_of(p + 4) != X86_IOAPIC_ADDR)
				BUG("I/O APIC entry: twice, disabled or misplaced");
			if (apic_ids[p[1] / 64] >> (p[1] % 64) & 1)
				BUG("I/O APIC ID %u is a CPU's", p[1]);
			have_ioapic = true;
			ioapic_id = p[1];
			break;
		case 3:
			if (p[4] != 0 || !have_ioapic || p[6] != ioapic_id ||
			    p[7] >= X86_NR_IOAPIC_PINS || pin_seen >> p[7] & 1)
				BUG("I/O interrupt entry %u: bus %u, APIC %u pin %u", seen, p[4],
				    p[6], p[7]);
			pin_seen |= 1u << p[7];
			pins++;
			break;
		case 4:
			if (p[4] != 0 ||
			    (p[6] != 0xff && !(apic_ids[p[6] / 64] >> (p[6] % 64) & 1)) || p[7] > 1)
				BUG("local interrupt entry %u: APIC %u LINT%u", seen, p[6], p[7]);
			lints++;
			break;
		}
		p += n;
	}
	if (seen != count)
		BUG("%u entries, the header counts %u", seen, count);
	if (cpus != nr || bsp != 1 || !have_bus || !have_ioapic || pins != X86_NR_IOAPIC_PINS ||
	    lints != 2)
		BUG("%u CPUs (%u BSP) for %u vCPUs, %u pins, %u local interrupts", cpus, bsp, nr,
		    pins, lints);
	if (count != nr + NR_ENTRIES_FIXED)
		BUG("%u entries for %u vCPUs", count, nr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bin b = {data, size};
	struct guest_mem mem;
	uint8_t mode = bin_u8(&b);
	unsigned int nr = (mode & 0x80) ? bin_u32(&b) : bin_u8(&b) % 41, i;
	size_t want_len = 16 + 44 + (size_t)nr * 20 + NR_ENTRIES_FIXED * 8, off, lo, hi;
	bool fits = false;
	int ret;

	memset(&mem, 0, sizeof(mem));
	memset(win, CANARY, sizeof(win));
	if ((mode & 3) == 0) {
		mem.regions[0] = (struct mem_region){WIN_BASE, WIN_SIZE, win};
		mem.nr_regions = 1;
	} else {
		/* Up to three disjoint regions in window order; gaps allowed. */
		uint64_t at = 0;

		for (i = 0; i < (mode & 3) && at < WIN_SIZE; i++) {
			uint64_t start = at + bin_u16(&b) % (WIN_SIZE - at + 1);
			uint64_t len = bin_u16(&b) % (WIN_SIZE - start + 1);

			mem.regions[mem.nr_regions++] =
			    (struct mem_region){WIN_BASE + start, len, win + start};
			at = start + len;
		}
	}
	for (i = 0; i < mem.nr_regions; i++) {
		const struct mem_region *r = &mem.regions[i];

		if (r->gpa <= X86_MPTABLE_ADDR && X86_MPTABLE_ADDR + want_len <= r->gpa + r->size)
			fits = true;
	}

	ret = x86_mptable_write(&mem, nr);
	if (!nr || nr > ARCH_MAX_VCPUS) {
		if (ret != -E2BIG)
			BUG("%u vCPUs: %d, want -E2BIG", nr, ret);
	} else if (!fits) {
		if (ret != -EFAULT)
			BUG("%u vCPUs, no region holds the table: %d, want -EFAULT", nr, ret);
	} else if (ret) {
		BUG("%u vCPUs: %d", nr, ret);
	}

	/* Nothing outside the table written, and nothing at all on a refusal. */
	lo = hi = X86_MPTABLE_ADDR - WIN_BASE;
	if (!ret) {
		check_table(win + lo, WIN_SIZE - lo, nr);
		hi = lo + 16 + (win[lo + 16 + 4] | win[lo + 16 + 5] << 8);
		if (hi - lo != want_len)
			BUG("%zu bytes written, want %zu", hi - lo, want_len);
	}
	for (off = 0; off < WIN_SIZE; off++)
		if ((off < lo || off >= hi) && win[off] != CANARY)
			BUG("byte at 0x%llx written", (unsigned long long)(WIN_BASE + off));
	return 0;
}
