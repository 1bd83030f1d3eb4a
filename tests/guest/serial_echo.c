// SPDX-License-Identifier: Apache-2.0
/*
 * serial_echo.c - serial_echo.elf: print ECHO-READY, read one line from
 * the UART (polling LSR.DR), print "ECHO: <line>" and SUCCESS.
 */
#include "lib.h"

#define LINE_MAX 256
/*
 * How long to wait for the line, without a calibrated clock: give up
 * only once both budgets are spent -- MIN_POLLS LSR reads (each a VM
 * exit: ~15 us on the test bed's /dev/kvm, so ~15 s there) and MIN_TSC
 * TSC ticks (~10 s at 2.5 GHz, for fast exits as under TCG) -- or after
 * MAX_POLLS reads whatever the TSC says (in case it does not tick).
 */
#define MIN_POLLS 1000000UL
#define MIN_TSC	  25000000000UL
#define MAX_POLLS 50000000UL

static int wait_char(u64 *polls, u64 tsc0)
{
	int c;

	for (;;) {
		c = try_get_char();
		if (c >= 0)
			return c;
		(*polls)++;
		if (*polls >= MAX_POLLS)
			return -1;
		if (*polls >= MIN_POLLS && rdtsc() - tsc0 >= MIN_TSC)
			return -1;
		cpu_relax();
	}
}

void guest_main(const struct boot_info *b)
{
	static char line[LINE_MAX];
	u64 polls = 0, tsc0 = rdtsc();
	size_t n = 0;
	int c;

	(void)b;
	put_str("ECHO-READY\n");
	for (;;) {
		c = wait_char(&polls, tsc0);
		if (c < 0 || c == '\n' || n == LINE_MAX)
			break;
		line[n++] = (char)c;
	}
	put_str("ECHO: ");
	put_bytes(line, n);
	put_nl();
	if (c < 0)
		finish("timed out waiting for a line");
	if (c != '\n')
		finish("line longer than 256 bytes");
	finish(NULL);
}
