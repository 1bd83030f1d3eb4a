/* SPDX-License-Identifier: Apache-2.0 */
/*
 * entry.S - the two ways into a tiny guest.
 *
 * linux_start (e_entry): Linux 64-bit boot protocol.  Long mode, paging
 *   on, RSI = boot_params.  The VMM only promises an identity map of the
 *   first 1 GiB, so we build our own map of [0, 4 GiB) and switch CR3.
 *
 * pvh_start (the address in the XEN_ELFNOTE_PHYS32_ENTRY note, see
 *   pvh_note.S): 32-bit protected mode, paging off, EBX = hvm_start_info.
 *   We chose the trampoline approach: build the same [0, 4 GiB) identity
 *   map, set CR4.PAE, EFER.LME, CR0.PG, load our own GDT and far-jump into
 *   64-bit code.  That way every guest is plain 64-bit C, and one ELF64
 *   carries both entries.
 *
 * Page tables: 2 MiB pages; [3 GiB, 4 GiB) (LAPIC, IOAPIC, MMIO devices
 * such as the boot timer at 0xd0000000) is mapped PCD|PWT.  All tables,
 * the stack and the C .bss live in .bss, which is zeroed here first (we
 * do not rely on the loader to zero p_memsz - p_filesz).
 */
#define PTE_P		0x001
#define PTE_RW		0x002
#define PTE_PWT		0x008
#define PTE_PCD		0x010
#define PTE_PS		0x080
#define CR0_PE		0x00000001
#define CR0_PG		0x80000000
#define CR4_PAE		0x00000020
#define MSR_EFER	0xc0000080
#define EFER_LME	0x00000100
#define STACK_SIZE	0x4000
#define SEG_CODE64	0x08
#define SEG_DATA	0x10

/*
 * Zero .bss and fill pml4/pdpt/pd.  Uses only EAX, ECX, EDI (so the boot
 * pointer in ESI/RSI survives) and only 32-bit operations with absolute
 * addresses below 2 GiB, so the same text assembles for .code32 and .code64.
 */
.macro BUILD_PAGETABLES
	mov	$__bss_start, %edi
	mov	$__bss_end, %ecx
	sub	%edi, %ecx
	shr	$2, %ecx
	xor	%eax, %eax
	rep stosl
	movl	$(pdpt + PTE_P + PTE_RW), pml4
	movl	$(pd + 0x0000 + PTE_P + PTE_RW), pdpt
	movl	$(pd + 0x1000 + PTE_P + PTE_RW), pdpt + 8
	movl	$(pd + 0x2000 + PTE_P + PTE_RW), pdpt + 16
	movl	$(pd + 0x3000 + PTE_P + PTE_RW), pdpt + 24
	mov	$pd, %edi
	mov	$(PTE_P + PTE_RW + PTE_PS), %eax
	mov	$2048, %ecx
1:	mov	%eax, (%edi)
	add	$0x200000, %eax
	add	$8, %edi
	dec	%ecx
	jnz	1b
	mov	$(pd + 1536 * 8), %edi
	mov	$512, %ecx
2:	orl	$(PTE_PCD + PTE_PWT), (%edi)
	add	$8, %edi
	dec	%ecx
	jnz	2b
.endm

	.section .text.entry, "ax"

	.code64
	.globl	linux_start
linux_start:
	cli
	cld
	BUILD_PAGETABLES
	mov	$pml4, %eax
	mov	%rax, %cr3
	mov	$stack_top, %rsp
	mov	%rsi, %rdi
	call	linux_c_entry
	jmp	halt_forever

	.code32
	.globl	pvh_start
pvh_start:
	cli
	cld
	mov	%ebx, %esi
	BUILD_PAGETABLES
	mov	$pml4, %eax
	mov	%eax, %cr3
	mov	%cr4, %eax
	or	$CR4_PAE, %eax
	mov	%eax, %cr4
	mov	$MSR_EFER, %ecx
	rdmsr
	or	$EFER_LME, %eax
	wrmsr
	mov	%cr0, %eax
	or	$(CR0_PG + CR0_PE), %eax
	mov	%eax, %cr0
	lgdt	gdt_desc
	ljmp	$SEG_CODE64, $pvh_64

	.code64
pvh_64:
	mov	$SEG_DATA, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	mov	%eax, %fs
	mov	%eax, %gs
	mov	$stack_top, %rsp
	mov	%esi, %edi		/* zero-extends: hvm_start_info paddr */
	call	pvh_c_entry

	.globl	halt_forever
halt_forever:
	cli
	hlt
	jmp	halt_forever

	.section .rodata
	.p2align 3
gdt:
	.quad	0
	.quad	0x00af9a000000ffff	/* 0x08: 64-bit code, DPL0 */
	.quad	0x00cf92000000ffff	/* 0x10: flat 4 GiB data */
gdt_end:
gdt_desc:
	.word	gdt_end - gdt - 1
	.long	gdt

	.section .bss.pagetables, "aw", @nobits
	.p2align 12
pml4:	.skip	0x1000
pdpt:	.skip	0x1000
pd:	.skip	0x4000
	.p2align 4
	.skip	STACK_SIZE
stack_top:

	.section .note.GNU-stack, "", @progbits
