// SPDX-License-Identifier: Apache-2.0
/*
 * console_echo.c - console_echo.elf, the guest of the --console-sock tests: prints
 * CONSOLE-READY, then answers each line read from the UART until told to quit:
 *   "flood N"  N lines of exactly 64 bytes, "FLOOD <6 digits> " and dots (each one
 *              string instruction, one exit), then FLOOD-DONE
 *   "quit"     SUCCESS, and the machine resets (ember exits 0)
 *   other      "ECHO: <line>"
 * It polls the UART without a time-out: the tests end it with "quit" or a signal.
 */
#include "lib.h"

#define LINE_MAX 128

static int get_char(void)
{
	int c;

	while ((c = try_get_char()) < 0)
		cpu_relax();
	return c;
}

/*
 * The whole line in one string instruction: KVM hands the VMM all its bytes in one exit,
 * so a flood runs at the VMM's speed rather than two exits a byte (THR is always empty
 * on ember's UART; no LSR poll needed).
 */
static void put_block(const char *s, u64 n)
{
	__asm__ volatile("rep outsb" : "+S"(s), "+c"(n) : "d"((u16)0x3f8) : "memory");
}

/* "flood N": a known text the tests can rebuild, so a replay can be checked byte for byte. */
static void flood(u64 n)
{
	u64 i, v;
	int d;
	char line[64];

	for (i = 0; i < n; i++) {
		memcpy(line, "FLOOD ", 6);
		for (v = i, d = 11; d >= 6; d--, v /= 10)
			line[d] = (char)('0' + v % 10);
		line[12] = ' ';
		memset(line + 13, '.', 50);
		line[63] = '\n';
		put_block(line, sizeof(line));
	}
	put_str("FLOOD-DONE\n");
}

static int starts_with(const char *s, size_t n, const char *prefix)
{
	size_t i;

	for (i = 0; prefix[i]; i++)
		if (i >= n || s[i] != prefix[i])
			return 0;
	return 1;
}

void guest_main(const struct boot_info *b)
{
	static char line[LINE_MAX];
	size_t n, i;
	u64 count;
	int c;

	(void)b;
	put_str("CONSOLE-READY\n");
	for (;;) {
		n = 0;
		while ((c = get_char()) != '\n')
			if (c != '\r' && n < LINE_MAX)
				line[n++] = (char)c;
		if (n == 4 && starts_with(line, n, "quit"))
			finish(NULL);
		if (starts_with(line, n, "flood ")) {
			for (count = 0, i = 6; i < n && line[i] >= '0' && line[i] <= '9'; i++)
				count = count * 10 + (u64)(line[i] - '0');
			flood(count);
			continue;
		}
		put_str("ECHO: ");
		put_bytes(line, n);
		put_nl();
	}
}
