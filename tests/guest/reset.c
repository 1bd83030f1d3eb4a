// SPDX-License-Identifier: Apache-2.0
/* reset.c - reset.elf: announce, then pulse the i8042 reset line. */
#include "lib.h"

void guest_main(const struct boot_info *b)
{
	(void)b;
	put_str("RESET-NOW\n");
	reset();
}
