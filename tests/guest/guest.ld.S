/* SPDX-License-Identifier: Apache-2.0 */
/*
 * guest.ld.S - one RWX PT_LOAD at 2 MiB with p_paddr == p_vaddr (no AT()),
 * plus, when preprocessed with -DPVH_NOTE, a PT_NOTE for .note.Xen (which
 * also stays inside the PT_LOAD, as in vmlinux).  Explicit PHDRS keep out
 * PT_GNU_STACK and friends; without -DPVH_NOTE there is no PT_NOTE at all.
 */
OUTPUT_FORMAT("elf64-x86-64")
OUTPUT_ARCH(i386:x86-64)

PHDRS
{
	image PT_LOAD FLAGS(7);		/* RWX: code, data, .bss */
#ifdef PVH_NOTE
	note PT_NOTE FLAGS(4);
#endif
}

SECTIONS
{
	. = 0x200000;
	.text : {
		*(.text.entry)
		*(.text .text.*)
	} :image
	.rodata : {
		*(.rodata .rodata.*)
	}
#ifdef PVH_NOTE
	.note.Xen : {
		KEEP(*(.note.Xen))
	} :image :note
#endif
	.data : {
		*(.data .data.*)
	} :image
	.bss : {
		. = ALIGN(4096);
		__bss_start = .;
		*(.bss.pagetables)
		*(.bss .bss.* COMMON)
		. = ALIGN(16);
		__bss_end = .;
	}
	/DISCARD/ : {
		*(.comment)
		*(.note.GNU-stack)
		*(.note.gnu.property)
		*(.eh_frame .eh_frame_hdr)
	}
}
