// SPDX-License-Identifier: Apache-2.0
/*
 * smp.c - smp.elf: find the Intel MP table (MP spec 1.4), count enabled
 * processor entries, wake every AP with INIT + 2x SIPI (broadcast to all
 * excluding self) into ap_tramp.S at AP_TRAMP_ADDR, and wait (bounded)
 * for them to check in with their APIC IDs.
 *
 *   MPTABLE-ADDR=<fp> MPTABLE-CPUS=<N> MPTABLE-APIC-IDS=<ids>
 *   STARTED-CPUS=<1 + APs seen>  APIC-IDS=<sorted ids>
 *   SUCCESS | FAIL: <why>
 */
#include "lib.h"

#define AP_TRAMP_ADDR 0x40000UL /* free in ember's layout; SIPI 0x40 */
#define MAX_CPUS      256

#define MSR_APIC_BASE 0x1b
#define APIC_BASE_EN  (1UL << 11)
#define APIC_ID	      0x020
#define APIC_SVR      0x0f0
#define APIC_ICR_LO   0x300
#define APIC_ICR_HI   0x310
#define SVR_ENABLE    0x100
#define ICR_BUSY      (1u << 12)
#define ICR_INIT      0x000c4500 /* INIT, assert, all excluding self */
#define ICR_SIPI      0x000c4600 /* start-up, all excluding self */

/* Bounded waits, in pause-loop iterations (~1.2 us each on kvm_pvm). */
#define INIT_DELAY 10000
#define SIPI_DELAY 300
#define AP_WAIT	   400000

extern const u8 ap_tramp_start[], ap_tramp_end[];
extern const u8 ap_slot[], ap_done[], ap_ids[];

struct mp_cpus {
	u64 fp;		 /* floating pointer address, 0 = none */
	u32 n;		 /* enabled processor entries */
	u32 bsp_entries; /* entries with the BP flag */
	u8 ids[MAX_CPUS];
	u8 bsp_id;
};

static const char *fail;

static void problem(const char *why)
{
	if (!fail)
		fail = why;
}

static u8 sum8(const u8 *p, size_t n)
{
	u8 s = 0;

	while (n--)
		s += *p++;
	return s;
}

static u64 rdmsr(u32 msr)
{
	u32 lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return lo | (u64)hi << 32;
}

static void wrmsr(u32 msr, u64 v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)));
}

static void delay(u32 n)
{
	while (n--)
		cpu_relax();
}

/* Scan [base, base + len) on 16-byte boundaries for a valid "_MP_". */
static u64 mp_scan(u64 base, u64 len)
{
	u64 p;

	for (p = base; p + 16 <= base + len; p += 16) {
		const u8 *f = (const u8 *)p;

		if (memcmp(f, "_MP_", 4) == 0 && f[8] >= 1 && sum8(f, f[8] * 16UL) == 0)
			return p;
	}
	return 0;
}

/* MP spec 1.4 4.1: EBDA first KB, last KB of base memory, BIOS ROM. */
static u64 mp_find(void)
{
	u64 ebda = (u64) * (const volatile u16 *)phys(0x40e) << 4;
	u64 fp = 0;

	if (ebda >= 0x80000 && ebda < 0xa0000)
		fp = mp_scan(ebda, 1024);
	if (!fp)
		fp = mp_scan(0x9fc00, 1024);
	if (!fp)
		fp = mp_scan(0xf0000, 0x10000);
	return fp;
}

static void mp_parse(struct mp_cpus *mp)
{
	const u8 *fp, *ct, *e, *end;
	u32 ct_addr;
	u16 len;

	mp->fp = mp_find();
	if (!mp->fp) {
		problem("no MP floating pointer");
		return;
	}
	fp = (const u8 *)mp->fp;
	ct_addr = *(const u32 *)(fp + 4);
	if (!ct_addr) {
		problem("MP default configurations are not supported");
		return;
	}
	ct = (const u8 *)(u64)ct_addr;
	len = *(const u16 *)(ct + 4);
	if (memcmp(ct, "PCMP", 4) || len < 44 || sum8(ct, len)) {
		problem("bad MP configuration table header or checksum");
		return;
	}
	end = ct + len;
	for (e = ct + 44; e < end;) {
		if (e[0] == 0) {	/* processor, 20 bytes */
			if (e[3] & 1) { /* CPU enabled */
				if (mp->n < MAX_CPUS)
					mp->ids[mp->n] = e[1];
				mp->n++;
				if (e[3] & 2) {
					mp->bsp_entries++;
					mp->bsp_id = e[1];
				}
			}
			e += 20;
		} else if (e[0] <= 4) { /* bus, IOAPIC, IRQ, LINT */
			e += 8;
		} else {
			problem("unknown MP table entry type");
			return;
		}
	}
	if (e != end)
		problem("MP table entries overrun the table");
	if (mp->bsp_entries != 1)
		problem("MP table must flag exactly one BSP");
}

static void sort_ids(u8 *a, u32 n)
{
	u32 i, j;
	u8 v;

	for (i = 1; i < n; i++) {
		v = a[i];
		for (j = i; j && a[j - 1] > v; j--)
			a[j] = a[j - 1];
		a[j] = v;
	}
}

static void put_ids(const char *label, const u8 *ids, u32 n)
{
	u32 i;

	put_str(label);
	for (i = 0; i < n; i++) {
		if (i)
			put_char(' ');
		put_dec(ids[i]);
	}
	put_nl();
}

static void icr_send(u64 apic, u32 lo)
{
	int i;

	mmio_write32(apic + APIC_ICR_HI, 0);
	mmio_write32(apic + APIC_ICR_LO, lo);
	for (i = 0; i < 1000; i++)
		if (!(mmio_read32(apic + APIC_ICR_LO) & ICR_BUSY))
			break;
}

void guest_main(const struct boot_info *b)
{
	static struct mp_cpus mp;
	static u8 seen[MAX_CPUS];
	volatile u16 *done = (volatile u16 *)(AP_TRAMP_ADDR + (ap_done - ap_tramp_start));
	const volatile u8 *ids = (const volatile u8 *)(AP_TRAMP_ADDR + (ap_ids - ap_tramp_start));
	u64 base = rdmsr(MSR_APIC_BASE);
	u64 apic = base & 0xfffff000UL;
	u32 i, j, n, want, started;
	u8 bsp;

	(void)b;
	mp_parse(&mp);
	put_str("MPTABLE-ADDR=");
	put_hex(mp.fp);
	put_str(" MPTABLE-CPUS=");
	put_dec(mp.n);
	put_nl();
	put_ids("MPTABLE-APIC-IDS=", mp.ids, mp.n < MAX_CPUS ? mp.n : MAX_CPUS);

	if (!(base & APIC_BASE_EN))
		wrmsr(MSR_APIC_BASE, base | APIC_BASE_EN);
	bsp = (u8)(mmio_read32(apic + APIC_ID) >> 24);
	mmio_write32(apic + APIC_SVR, mmio_read32(apic + APIC_SVR) | SVR_ENABLE | 0xff);

	memcpy((void *)AP_TRAMP_ADDR, ap_tramp_start, ap_tramp_end - ap_tramp_start);
	__asm__ volatile("mfence" ::: "memory");
	icr_send(apic, ICR_INIT);
	delay(INIT_DELAY);
	for (i = 0; i < 2; i++) {
		icr_send(apic, ICR_SIPI | (AP_TRAMP_ADDR >> 12));
		delay(SIPI_DELAY);
	}
	/* Without a usable MP table, wait the full time and count. */
	want = mp.n ? mp.n - 1 : MAX_CPUS;
	for (i = 0; i < AP_WAIT && *done < want; i++)
		cpu_relax();
	delay(SIPI_DELAY); /* let a straggler beyond N show up too */

	n = *done;
	if (n > MAX_CPUS - 1)
		n = MAX_CPUS - 1;
	seen[0] = bsp;
	for (i = 0; i < n; i++)
		seen[i + 1] = ids[i];
	started = n + 1;
	put_str("STARTED-CPUS=");
	put_dec(started);
	put_nl();
	sort_ids(seen, started);
	put_ids("APIC-IDS=", seen, started);

	if (started != mp.n)
		problem("started CPU count differs from MP table");
	for (i = 1; i < started; i++)
		if (seen[i] == seen[i - 1])
			problem("duplicate APIC ID");
	for (i = 0; i < started; i++) {
		for (j = 0; j < mp.n && j < MAX_CPUS; j++)
			if (mp.ids[j] == seen[i])
				break;
		if (j == mp.n || j == MAX_CPUS)
			problem("running CPU's APIC ID not in MP table");
	}
	if (mp.n && mp.bsp_entries == 1 && mp.bsp_id != bsp)
		problem("MP table BSP flag is not on the boot CPU");
	finish(fail);
}
