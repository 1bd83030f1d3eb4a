// SPDX-License-Identifier: Apache-2.0
/*
 * api_ticker.c - api_ticker.elf, the guest of the API tests (tests/api):
 * prints TICKER-READY, then "TICK <n>" about every 100 ms so a test can see
 * the vCPU run, stop (paused) and run again.  Meanwhile it polls the i8042
 * and prints every scancode as "KBD <hex>"; once it has seen Ctrl, Alt and
 * Delete pressed (scan code set 1: 1d 38 e0 53, or set 2 as Firecracker
 * sends them: 14 11 e0 71) it prints CTRL-ALT-DEL and resets the machine.
 */
#include "lib.h"

#define I8042_DATA   0x60
#define I8042_STATUS 0x64
#define I8042_OBF    0x01 /* output buffer full: a byte waits at 0x60 */

/*
 * 100 ms at the assumed 2.5 GHz TSC.  Each loop pass costs one or two port
 * reads (VM exits, ~15 us on the test bed), so the loop stays cheap; if the
 * TSC does not tick, TICK_POLLS passes stand in for the interval.
 */
#define TICK_TSC   250000000UL
#define TICK_POLLS 1000000UL

struct keys {
	int ctrl, alt, ext; /* make codes seen; ext: the last byte was 0xe0 */
};

/* Feed one scancode; true once Ctrl and Alt have been pressed, then Delete. */
static int saw_ctrl_alt_del(struct keys *k, u8 sc)
{
	int ext = k->ext;

	k->ext = sc == 0xe0;
	if (sc == 0xe0 || sc == 0xf0)
		return 0;
	if (!ext && (sc == 0x1d || sc == 0x14))
		k->ctrl = 1;
	else if (!ext && (sc == 0x38 || sc == 0x11))
		k->alt = 1;
	else if (ext && (sc == 0x53 || sc == 0x71))
		return k->ctrl && k->alt;
	return 0;
}

void guest_main(const struct boot_info *b)
{
	struct keys keys = {0, 0, 0};
	u64 n = 0, polls = 0, last = rdtsc(), now;
	u8 sc;

	(void)b;
	put_str("TICKER-READY\n");
	for (;;) {
		if (inb(I8042_STATUS) & I8042_OBF) {
			sc = inb(I8042_DATA);
			put_str("KBD ");
			put_hex(sc);
			put_nl();
			if (saw_ctrl_alt_del(&keys, sc)) {
				put_str("CTRL-ALT-DEL\n");
				reset();
			}
		}
		now = rdtsc();
		if (now - last >= TICK_TSC || ++polls >= TICK_POLLS) {
			put_str("TICK ");
			put_dec(n++);
			put_nl();
			last = now;
			polls = 0;
		}
	}
}
