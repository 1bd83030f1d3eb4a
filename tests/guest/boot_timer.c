// SPDX-License-Identifier: Apache-2.0
/*
 * boot_timer.c - boot_timer.elf: write the byte 123 to the boot timer
 * device at 0xd0000000 (Firecracker's "boot done" magic), so a VMM
 * started with --boot-timer logs "Guest-boot-time = N us".
 */
#include "lib.h"

#define BOOT_TIMER_ADDR	 0xd0000000UL
#define BOOT_TIMER_MAGIC 123

void guest_main(const struct boot_info *b)
{
	(void)b;
	*(volatile u8 *)BOOT_TIMER_ADDR = BOOT_TIMER_MAGIC;
	put_str("BOOT-TIMER-SIGNALLED\n");
	finish(NULL);
}
