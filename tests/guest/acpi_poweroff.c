// SPDX-License-Identifier: Apache-2.0
/*
 * acpi_poweroff.c - acpi_poweroff.elf: power off the ACPI way of a hardware-reduced
 * platform: write (SLP_TYP << 2) | SLP_EN to the FADT's SLEEP_CONTROL_REG, with SLP_TYP
 * the first element of the DSDT's \_S5_. "poweroff.slp_typ=<digit>" on the command line
 * writes that sleep type instead (one ember must not take as a power-off).
 *
 *   POWEROFF port=<hex> s5=<n> slp-typ=<n> value=<hex>      then the write; nothing after
 *   POWEROFF-RETURNED                      if the VM was still running, then a reset
 *   FAIL: <why>                            no RSDP, FADT or \_S5_, or a bad register
 */
#include "acpi.h"

#define RETURN_WAIT 2000000 /* pause loops: give a power-off time to land */

/* The digit after "poweroff.slp_typ=" on (cmdline), or -1. */
static int slp_typ_arg(const char *cmdline)
{
	static const char key[] = "poweroff.slp_typ=";
	const char *p;

	for (p = cmdline; *p; p++)
		if (!memcmp(p, key, sizeof(key) - 1)) {
			char c = p[sizeof(key) - 1];

			return c >= '0' && c <= '7' ? c - '0' : -1;
		}
	return -1;
}

void guest_main(const struct boot_info *b)
{
	const char *cmdline = b->cmdline ? phys(b->cmdline) : "";
	struct acpi_table fadt, dsdt;
	struct acpi_dsdt_facts f;
	struct acpi_gas ctl;
	u64 rsdp = acpi_rsdp(b);
	const char *why;
	int typ, i;
	u8 value;

	if (!rsdp)
		finish("no RSDP");
	why = acpi_find_table(rsdp, "FACP", &fadt);
	if (!why && fadt.len < FADT_SLEEP_END)
		why = "FADT too short for the sleep registers";
	if (!why)
		why = acpi_find_dsdt(&fadt, &dsdt);
	if (why)
		finish(why);
	acpi_gas(&fadt, FADT_SLEEP_CONTROL, &ctl);
	if (ctl.space != 1 || ctl.bit_width != 8 || !ctl.addr || ctl.addr > 0xffff)
		finish("SLEEP_CONTROL_REG is not an 8-bit I/O port");
	acpi_dsdt_scan(&dsdt, &f);
	if (f.s5 < 0 || f.s5 > 7)
		finish("no usable \\_S5_ in the DSDT");
	typ = slp_typ_arg(cmdline);
	if (typ < 0)
		typ = f.s5;
	value = (u8)((typ << 2) | SLP_EN);
	put_str("POWEROFF port=");
	put_hex(ctl.addr);
	put_str(" s5=");
	put_dec((u64)f.s5);
	put_str(" slp-typ=");
	put_dec((u64)typ);
	put_str(" value=");
	put_hex(value);
	put_nl();
	outb((u16)ctl.addr, value);
	for (i = 0; i < RETURN_WAIT; i++)
		cpu_relax();
	put_str("POWEROFF-RETURNED\n");
	reset();
}
