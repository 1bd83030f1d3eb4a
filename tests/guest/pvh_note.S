/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pvh_note.S - XEN_ELFNOTE_PHYS32_ENTRY (18), name "Xen": tells a PVH
 * loader to enter at pvh_start (entry.S) in 32-bit protected mode.  The
 * descriptor is 8 bytes, as in Linux's vmlinux (_ASM_PTR); readers that
 * take only the low 32 bits get the same address.  4-byte alignment so
 * the PT_NOTE segment has p_align 4 like vmlinux's.  Linked into every
 * guest except linux_boot.elf.
 */
	.section .note.Xen, "a", @note
	.p2align 2
	.long	4		/* n_namesz: "Xen\0" */
	.long	8		/* n_descsz */
	.long	18		/* n_type: XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz	"Xen"
	.p2align 2
	.quad	pvh_start

	.section .note.GNU-stack, "", @progbits
