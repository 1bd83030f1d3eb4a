/*
 * libFuzzer target: the x86 machine's ACPI tables (src/arch/x86_64/acpi.c on
 * src/util/acpi.c) for random machine descriptions. The bytes: flags (bit 1: values past
 * what ember's configuration allows; bits 2-3: the writer's cap: ember's 128 KiB window, a
 * random 16-bit or 32-bit one; bit 4: an i8042; bit 5: a base address other than 0xe0000),
 * the vCPU count, the device count, then each device's address, size and line (devices the
 * bytes run out for get the VM's own slots).
 *
 * No vCPU, more than ARCH_MAX_VCPUS or more than 4095 devices must be refused with
 * -EINVAL, as must a device past 4 GiB (or -E2BIG if the cap comes first); over the cap,
 * -E2BIG exactly when the uncapped tables are bigger; whatever the configuration allows
 * must fit the window. Written, the tables must tile what was written (zero padding, no
 * overlap), each with its length and a checksum of 0: the RSDP (both checksums) names the
 * XSDT, which names one FADT and one MADT; the FADT's DSDT pointers agree, its flags say
 * hardware-reduced and whether there is an i8042 to reset through; the MADT walks exactly
 * to its end with an enabled local APIC per vCPU, an I/O APIC whose ID no CPU has and the
 * ISA overrides of the lines ember drives; and the DSDT's AML (aml_walk.h) says exactly
 * what was described: COM1, the i8042 if there is one, each device's window and line, \_S5.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/acpi.h"
#include "arch/arch.h"
#include "builder_input.h"
#include "aml_walk.h"

#define WINDOW	 (X86_ACPI_END - X86_ACPI_BASE)
#define MAX_DEVS 0x1100

static struct vm_mmio_dev devs[MAX_DEVS];
static struct alog got, want;

/* The table at guest address (addr) in (w): inside it, with (sig) and a good header. */
static NOCOV const uint8_t *table_at(const struct acpi_writer *w, uint64_t base, uint64_t addr,
				     const char *sig, size_t *off, size_t *len)
{
	const uint8_t *t;

	*off = addr - base;
	if (*off > w->len || w->len - *off < ACPI_HEADER_LEN)
		BUG("%s at 0x%llx: outside the %zu bytes written", sig, (unsigned long long)addr,
		    w->len);
	t = w->data + *off;
	*len = le32_of(t + 4);
	if (*len < ACPI_HEADER_LEN || *len > w->len - *off)
		BUG("%s of %zu bytes at offset %zu: past the %zu written", sig, *len, *off, w->len);
	acpi_want_header(t, sig, *len);
	return t;
}

/* The DSDT (m) must have, in aml_walk.h's records. */
static NOCOV void expect_dsdt(const struct x86_acpi_machine *m, struct alog *l)
{
	unsigned int i;

	l->len = 0;
	l->over = false;
	alog_open(l, 'S', "\\_SB_");
	alog_open(l, 'D', "COM1");
	alog_named_int(l, "_HID", 0x0c, aml_eisa_value("PNP0501"));
	alog_named_int(l, "_UID", 0x00, 0);
	alog_open(l, 'B', "_CRS");
	alog_io(l, X86_SERIAL_PORT, 8);
	alog_irq(l, X86_SERIAL_IRQ);
	alog_end_tag(l);
	alog_u8(l, 'E');
	if (m->i8042) {
		alog_open(l, 'D', "PS2K");
		alog_named_int(l, "_HID", 0x0c, aml_eisa_value("PNP0303"));
		alog_open(l, 'B', "_CRS");
		alog_io(l, 0x60, 1);
		alog_io(l, 0x64, 1);
		alog_irq(l, X86_KBD_IRQ);
		alog_end_tag(l);
		alog_u8(l, 'E');
	}
	for (i = 0; i < m->nr_mmio; i++) {
		char name[8];

		snprintf(name, sizeof(name), "V%03X", i);
		alog_open(l, 'D', name);
		alog_string(l, "_HID", "LNRO0005", 8);
		alog_named_int(l, "_UID", aml_int_op(i), i);
		alog_open(l, 'B', "_CRS");
		alog_mem32(l, true, m->mmio[i].addr, m->mmio[i].size);
		alog_interrupt(l, true, false, m->mmio[i].irq);
		alog_end_tag(l);
		alog_u8(l, 'E');
	}
	alog_u8(l, 'E');
	alog_u8(l, 'P');
	alog_name(l, "\\_S5_");
	alog_u8(l, 4);
	alog_int(l, aml_int_op(ARCH_ACPI_S5_TYPE), ARCH_ACPI_S5_TYPE);
	alog_int(l, aml_int_op(ARCH_ACPI_S5_TYPE), ARCH_ACPI_S5_TYPE);
	alog_int(l, 0, 0);
	alog_int(l, 0, 0);
}

static NOCOV void check_fadt(const uint8_t *f, size_t len, const struct x86_acpi_machine *m,
			     uint64_t dsdt)
{
	static const uint8_t none[12];
	uint32_t flags = le32_of(f + 112);
	uint16_t boot = f[109] | f[110] << 8;

	if (len != 276 || f[8] != 6 || f[131] != 5 || memcmp(f + 268, "EMBERVMM", 8))
		BUG("FADT: %zu bytes, revision %u.%u or hypervisor id wrong", len, f[8], f[131]);
	if (dsdt <= UINT32_MAX && le32_of(f + 40) != dsdt)
		BUG("FADT: DSDT 0x%x, X_DSDT 0x%llx", le32_of(f + 40), (unsigned long long)dsdt);
	if (!(flags & (1u << 20)) || !!(flags & (1u << 10)) != m->i8042 || !!(boot & 2) != m->i8042)
		BUG("FADT: flags 0x%x, boot flags 0x%x for %s i8042", flags, boot,
		    m->i8042 ? "an" : "no");
	if (m->i8042 ? f[116] != 1 || f[117] != 8 || le64_of(f + 120) != 0x64 || f[128] != 0xfe
		     : memcmp(f + 116, none, 12) || f[128])
		BUG("FADT: reset register");
	if (f[244] != 1 || le64_of(f + 248) != ARCH_ACPI_SLEEP_PORT || f[256] != 1 ||
	    le64_of(f + 260) != ARCH_ACPI_SLEEP_PORT + 1)
		BUG("FADT: sleep registers");
}

static NOCOV void check_madt(const uint8_t *t, size_t len, const struct x86_acpi_machine *m)
{
	unsigned int cpus = 0, ioapics = 0, nmis = 0;
	uint32_t overrides = 0, want_overrides = 1u << X86_SERIAL_IRQ;
	size_t off;

	if (le32_of(t + 36) != X86_LAPIC_ADDR || le32_of(t + 40) != 1)
		BUG("MADT: local APIC address or flags");
	for (off = 44; off < len; off += t[off + 1]) {
		const uint8_t *e = t + off;

		if (len - off < 2 || e[1] < 2 || e[1] > len - off)
			BUG("MADT entry at %zu: length %u past the table", off, e[1]);
		switch (e[0]) {
		case 0:
			if (e[1] != 8 || e[2] != cpus || e[3] != cpus || !(le32_of(e + 4) & 1))
				BUG("MADT: CPU %u's entry", cpus);
			cpus++;
			break;
		case 1:
			if (e[1] != 12 || e[2] != m->nr_cpus || le32_of(e + 4) != X86_IOAPIC_ADDR ||
			    le32_of(e + 8) != 0)
				BUG("MADT: I/O APIC entry (ID %u for %u CPUs)", e[2], m->nr_cpus);
			ioapics++;
			break;
		case 2:
			if (e[1] != 10 || e[2] != 0 || !e[3] || e[3] >= 16 ||
			    le32_of(e + 4) != e[3] || (overrides >> e[3] & 1))
				BUG("MADT: override of IRQ %u", e[3]);
			overrides |= 1u << e[3];
			break;
		case 4:
			if (e[1] != 6 || e[2] != 0xff || e[5] != 1)
				BUG("MADT: NMI entry");
			nmis++;
			break;
		default:
			BUG("MADT: entry type %u", e[0]);
		}
	}
	if (m->i8042)
		want_overrides |= 1u << X86_KBD_IRQ;
	if (cpus != m->nr_cpus || ioapics != 1 || nmis != 1 || overrides != want_overrides)
		BUG("MADT: %u CPUs for %u, %u I/O APICs, %u NMIs, overrides 0x%x", cpus, m->nr_cpus,
		    ioapics, nmis, overrides);
}

/* Every table of (w), written for (m) at (base). */
static NOCOV void check_tables(const struct acpi_writer *w, const struct x86_acpi_machine *m,
			       uint64_t base)
{
	const uint8_t *d = w->data, *x, *t;
	size_t off[5], len[5], end = 0, i, j;
	bool fadt = false, madt = false;
	char why[200];

	if (w->len < ACPI_RSDP_LEN || memcmp(d, "RSD PTR ", 8) || sum8(d, 20) ||
	    sum8(d, ACPI_RSDP_LEN) || d[15] != 2 || le32_of(d + 16) || le32_of(d + 20) != 36 ||
	    memcmp(d + 9, "EMBER ", 6))
		BUG("RSDP: signature, checksums, revision, RSDT or length");
	off[0] = 0;
	len[0] = ACPI_RSDP_LEN;
	x = table_at(w, base, le64_of(d + 24), "XSDT", &off[1], &len[1]);
	if (len[1] != ACPI_HEADER_LEN + 16)
		BUG("XSDT of %zu bytes: not two entries", len[1]);
	for (i = 0; i < 2; i++) {
		uint64_t addr = le64_of(x + ACPI_HEADER_LEN + 8 * i), at = addr - base;
		const char *sig = at <= w->len - 4 && !memcmp(d + at, "FACP", 4) ? "FACP" : "APIC";

		t = table_at(w, base, addr, sig, &off[2 + i], &len[2 + i]);
		if (!strcmp(sig, "FACP")) {
			if (fadt)
				BUG("two FADTs");
			fadt = true;
			check_fadt(t, len[2 + i], m, le64_of(t + 140));
			t = table_at(w, base, le64_of(t + 140), "DSDT", &off[4], &len[4]);
			if (t[8] != 2)
				BUG("DSDT revision %u", t[8]);
			if (aml_walk(t + ACPI_HEADER_LEN, len[4] - ACPI_HEADER_LEN, &got, why,
				     sizeof(why)))
				BUG("DSDT's AML: %s", why);
			expect_dsdt(m, &want);
			if (got.over || want.over || got.len != want.len ||
			    memcmp(got.buf, want.buf, got.len))
				BUG("DSDT says other than what was described (%zu/%zu log bytes)",
				    got.len, want.len);
		} else {
			if (madt)
				BUG("two MADTs");
			madt = true;
			check_madt(t, len[2 + i], m);
		}
	}
	if (!fadt || !madt)
		BUG("the XSDT lacks the FADT or the MADT");
	/* The five tile what was written: sorted, zero-padded gaps under 16 bytes. */
	for (i = 0; i < 5; i++) {
		size_t lo = SIZE_MAX, at = 0;

		for (j = 0; j < 5; j++)
			if (off[j] >= end && off[j] < lo)
				lo = off[j], at = j;
		if (lo == SIZE_MAX || lo - end >= 16)
			BUG("table %zu at %zu: overlaps or leaves a gap after %zu", at, lo, end);
		for (j = end; j < lo; j++)
			if (d[j])
				BUG("padding byte %zu not zero", j);
		end = lo + len[at];
	}
	if (end != w->len)
		BUG("%zu bytes written, the tables take %zu", w->len, end);
}

static void describe(struct bin *b, uint8_t flags, struct x86_acpi_machine *m, uint64_t *base)
{
	bool wild = flags & 2;
	unsigned int i;

	memset(m, 0, sizeof(*m));
	if (wild)
		m->nr_cpus = bin_u8(b) == 0xff ? bin_u32(b) : bin_u8(b) % 48;
	else
		m->nr_cpus = 1 + bin_u8(b) % ARCH_MAX_VCPUS;
	/* Thousands of devices only now and then: their tables take a while to write. */
	m->nr_mmio = bin_u8(b);
	if (!wild)
		m->nr_mmio %= VM_MAX_MMIO_DEVS + 1;
	else if (m->nr_mmio == 0xff)
		m->nr_mmio = bin_u16(b) % MAX_DEVS;
	else
		m->nr_mmio %= 40;
	m->i8042 = flags & 16;
	m->mmio = devs;
	for (i = 0; i < m->nr_mmio; i++) {
		/* The VM's own slots, or (wild, while the bytes last) any window and line. */
		struct vm_mmio_dev d = {ARCH_MMIO_BASE + (i + 1) * ARCH_MMIO_SLOT_SIZE,
					ARCH_MMIO_SLOT_SIZE, ARCH_VIRTIO_IRQ_BASE + i};

		if (wild && b->n) {
			uint8_t kind = bin_u8(b);

			if (kind & 1) {
				d.addr = bin_u32(b);
				d.size = bin_u32(b);
			} else if (kind & 2) {
				d.addr = bin_u64(b);
				d.size = bin_u64(b);
			}
			if (kind & 4)
				d.irq = bin_u32(b);
		}
		devs[i] = d;
	}
	*base = X86_ACPI_BASE;
	if (flags & 32)
		*base = (wild ? bin_u64(b) : bin_u32(b)) & ~0xfULL;
}

/* The first device past 4 GiB (the DSDT's Memory32Fixed), or nr_mmio. */
static unsigned int first_bad(const struct x86_acpi_machine *m)
{
	unsigned int i;

	for (i = 0; i < m->nr_mmio; i++)
		if (m->mmio[i].addr > UINT32_MAX || m->mmio[i].size > UINT32_MAX - m->mmio[i].addr)
			break;
	return i;
}

/* The tables' size with no cap, or 0 if they cannot be built. */
static size_t uncapped(const struct x86_acpi_machine *m, uint64_t base)
{
	struct acpi_writer w;
	size_t len;

	acpiw_init(&w, SIZE_MAX);
	len = x86_acpi_build(m, base, &w) ? 0 : w.len;
	acpiw_free(&w);
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bin b = {data, size};
	uint8_t flags = bin_u8(&b);
	struct x86_acpi_machine m;
	struct acpi_writer w;
	size_t max = WINDOW, full;
	unsigned int bad;
	uint64_t base;
	int ret;

	describe(&b, flags, &m, &base);
	if (((flags >> 2) & 3) == 1)
		max = bin_u16(&b);
	else if (((flags >> 2) & 3) >= 2)
		max = bin_u32(&b);
	bad = first_bad(&m);

	acpiw_init(&w, max);
	ret = x86_acpi_build(&m, base, &w);
	if (!m.nr_cpus || m.nr_cpus > ARCH_MAX_VCPUS || m.nr_mmio > 0xfff) {
		if (ret != -EINVAL || w.len)
			BUG("%u vCPUs, %u devices: %d after %zu bytes, want -EINVAL", m.nr_cpus,
			    m.nr_mmio, ret, w.len);
	} else if (bad < m.nr_mmio) {
		struct x86_acpi_machine ok = m;

		/* Refused; -E2BIG only if the tables before the bad device overflow the cap. */
		ok.nr_mmio = bad;
		if (ret != -EINVAL && (ret != -E2BIG || uncapped(&ok, base) <= max))
			BUG("device %u at 0x%llx+0x%llx: %d, want -EINVAL", bad,
			    (unsigned long long)devs[bad].addr, (unsigned long long)devs[bad].size,
			    ret);
	} else if (ret == -E2BIG) {
		full = uncapped(&m, base);
		if (!full || full <= max)
			BUG("-E2BIG under a cap of %zu for %zu bytes of tables", max, full);
		if (m.nr_mmio <= VM_MAX_MMIO_DEVS && max >= WINDOW)
			BUG("a configuration ember allows does not fit the window");
	} else if (ret) {
		BUG("%u vCPUs, %u devices: %d", m.nr_cpus, m.nr_mmio, ret);
	} else {
		if (w.len > max)
			BUG("%zu bytes over a cap of %zu", w.len, max);
		check_tables(&w, &m, base);
	}
	acpiw_free(&w);
	return 0;
}
