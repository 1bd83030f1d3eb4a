// SPDX-License-Identifier: Apache-2.0
/*
 * serial_tail.c - serial_tail.elf: print a prompt with no newline, the way a shell does,
 * then wait with interrupts off and make no exit at all. The prompt's last byte, written
 * after a line-status read like every byte, must reach the console while the guest waits
 * (ember coalesces the UART's data writes; a flush timer must still deliver it).
 */
#include "lib.h"

void guest_main(const struct boot_info *b)
{
	(void)b;
	put_str("TAIL-PROMPT-NEXT\n");
	put_str("PROMPT> ");
	for (;;)
		__asm__ volatile("cli; hlt");
}
