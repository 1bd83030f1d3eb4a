/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ap_tramp.S - real-mode code run by each AP after INIT/SIPI.  smp.c
 * copies [ap_tramp_start, ap_tramp_end) to a 4 KiB-aligned address below
 * 1 MiB (SIPI vector = address >> 12); the AP starts there with
 * CS = address >> 4, IP = 0.  It needs no stack: it reads its initial
 * APIC ID (CPUID.1:EBX[31:24]), claims a slot with lock xadd, stores the
 * ID, then bumps ap_done with a locked add and halts for good.  The data
 * words travel with the copy and are addressed relative to CS.
 */
#define AP_MAX_IDS 256

	.section .rodata.ap_tramp, "a"
	.code16
	.p2align 4
	.globl	ap_tramp_start, ap_tramp_end, ap_slot, ap_done, ap_ids
ap_tramp_start:
	cli
	mov	%cs, %ax
	mov	%ax, %ds
	mov	$1, %eax
	cpuid
	shr	$24, %ebx
	mov	$1, %ax
	lock xadd %ax, (ap_slot - ap_tramp_start)
	cmp	$AP_MAX_IDS, %ax
	jae	1f
	mov	%ax, %si
	mov	%bl, (ap_ids - ap_tramp_start)(%si)
1:	lock incw (ap_done - ap_tramp_start)
2:	cli
	hlt
	jmp	2b

	.p2align 2
ap_slot:	.word	0		/* next free ap_ids[] index */
ap_done:	.word	0		/* APs that stored their ID */
ap_ids:		.skip	AP_MAX_IDS
ap_tramp_end:

	.section .note.GNU-stack, "", @progbits
