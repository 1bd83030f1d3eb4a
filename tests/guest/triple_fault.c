// SPDX-License-Identifier: Apache-2.0
/*
 * triple_fault.c - triple_fault.elf: load an empty IDT and execute an invalid opcode. With no
 * handler the CPU double-faults, then shuts down: on x86 that is a reset.
 */
#include "lib.h"

void guest_main(const struct boot_info *b)
{
	struct {
		u16 limit;
		u64 base;
	} __attribute__((packed)) idtr = { 0, 0 };

	(void)b;
	put_str("TRIPLE-FAULT-NOW\n");
	__asm__ volatile("lidt %0; ud2" : : "m"(idtr));
	put_str("FAIL: still running after the triple fault\n");
	for (;;)
		__asm__ volatile("cli; hlt");
}
