/*
 * A tiny S-mode riscv64 guest, shaped as a Linux Image, that checks what ember itself does
 * for a RISC-V guest rather than what KVM does: the boot registers (a0 = hart id 0, a1 =
 * the device tree) and the SBI calls KVM forwards to ember (a console, and an extension
 * nobody implements). It counts the harts KVM knows through SBI HSM and ends with an SBI
 * system reset (shutdown). The console is the debug console (DBCN) where SBI probing finds
 * it, else the legacy putchar; a line appearing at all shows the console works:
 *   L2-SBI-DBCN-OK (a DBCN write of the whole line) | L2-SBI-LEGACY-CONSOLE
 *   L2-SBI-DBCN-BADADDR-OK | L2-FAIL sbi dbcn bad address   (DBCN only: a write from
 *                                                          outside RAM is refused)
 *   L2-SBI-GETCHAR-OK | L2-FAIL sbi getchar                 (legacy only: no input)
 *   L2-BOOT-REGS-OK | L2-FAIL boot registers
 *   L2-SBI-UNSUPPORTED-OK | L2-FAIL sbi unsupported extension
 *   L2-CPUS=<harts>
 * Built by run-tests.sh: gcc -nostdlib, linked at 0x80200000, objcopy -O binary.
 */
#define SBI_EXT_BASE	   0x10
#define SBI_BASE_PROBE	   3
#define SBI_EXT_DBCN	   0x4442434e
#define SBI_DBCN_WRITE	   0
#define SBI_DBCN_WRITE_BYTE 2
#define SBI_ERR_INVALID	   -3
#define NOT_RAM		   0x1000 /* below the devices and RAM of ember's riscv64 machine */
#define SBI_LEGACY_PUTCHAR 0x01
#define SBI_LEGACY_GETCHAR 0x02
#define SBI_EXPERIMENTAL   0x08000000 /* a range KVM forwards to the VMM */
#define SBI_EXT_HSM	   0x48534d
#define SBI_HSM_STATUS	   2
#define SBI_EXT_SRST	   0x53525354
#define SBI_ERR_NOT_SUPP   -2
#define FDT_MAGIC_LE	   0xedfe0dd0 /* 0xd00dfeed, big-endian in memory */

	.option norvc
	.section .text
	.globl	_start
_start:					/* the Image header (boot-image-header.rst) */
	j	entry			/* code0 */
	.word	0			/* code1 */
	.dword	0x200000		/* text_offset */
	.dword	image_end - _start	/* image_size */
	.dword	0			/* flags: little-endian */
	.word	2			/* version 0.2 */
	.word	0
	.dword	0
	.ascii	"RISCV\0\0\0"
	.ascii	"RSC\x05"
	.word	0

entry:
	mv	s0, a0
	mv	s1, a1
	la	sp, stack_top

	/* the console: DBCN if the SBI has it (s6 = 1), else the legacy putchar */
	li	a0, SBI_EXT_DBCN
	li	a6, SBI_BASE_PROBE
	li	a7, SBI_EXT_BASE
	ecall
	snez	s6, a1
	beqz	s6, 1f
	la	a0, msg_dbcn		/* one DBCN write of the whole line */
	call	strlen
	la	a1, msg_dbcn
	li	a2, 0
	li	a6, SBI_DBCN_WRITE
	li	a7, SBI_EXT_DBCN
	ecall
	li	a0, 4			/* a write from outside RAM must be refused */
	li	a1, NOT_RAM
	li	a2, 0
	li	a6, SBI_DBCN_WRITE
	li	a7, SBI_EXT_DBCN
	ecall
	li	t0, SBI_ERR_INVALID
	la	s2, msg_badaddr_bad
	bne	a0, t0, 2f
	la	s2, msg_badaddr_ok
2:	mv	a0, s2
	call	puts
	j	3f
1:	la	a0, msg_legacy
	call	puts
	li	a7, SBI_LEGACY_GETCHAR	/* ember's SBI console has no input (the 16550 has) */
	ecall
	li	t0, -1
	la	s2, msg_getchar_bad
	bne	a0, t0, 2f
	la	s2, msg_getchar_ok
2:	mv	a0, s2
	call	puts
3:
	/* a0 = 0 (the boot hart), a1 = a device tree */
	la	a0, msg_regs_bad
	bnez	s0, 1f
	lwu	t0, 0(s1)
	li	t1, FDT_MAGIC_LE
	bne	t0, t1, 1f
	la	a0, msg_regs_ok
1:	call	puts

	/* an extension KVM forwards and ember does not implement */
	li	a7, SBI_EXPERIMENTAL
	li	a6, 0
	ecall
	li	t0, SBI_ERR_NOT_SUPP
	la	s2, msg_unsupp_bad
	bne	a0, t0, 1f
	la	s2, msg_unsupp_ok
1:	mv	a0, s2
	call	puts

	/* harts: HSM hart_get_status succeeds for each hart that exists */
	li	s3, 0			/* hart id */
	li	s4, 0			/* harts seen */
2:	mv	a0, s3
	li	a6, SBI_HSM_STATUS
	li	a7, SBI_EXT_HSM
	ecall
	bnez	a0, 3f
	addi	s4, s4, 1
3:	addi	s3, s3, 1
	li	t0, 32
	blt	s3, t0, 2b
	la	a0, msg_cpus
	call	puts
	li	t0, 10
	blt	s4, t0, 4f
	divu	a0, s4, t0
	addi	a0, a0, '0'
	call	putchar
	li	t0, 10
	remu	s4, s4, t0
4:	addi	a0, s4, '0'
	call	putchar
	li	a0, '\n'
	call	putchar

	/* SBI system reset: shutdown, no reason */
	li	a0, 0
	li	a1, 0
	li	a6, 0
	li	a7, SBI_EXT_SRST
	ecall
	la	a0, msg_reset_bad
	call	puts
5:	wfi
	j	5b

/* putchar(a0): DBCN write_byte, or the legacy console's putchar */
putchar:
	li	a7, SBI_LEGACY_PUTCHAR
	beqz	s6, 1f
	li	a6, SBI_DBCN_WRITE_BYTE
	li	a7, SBI_EXT_DBCN
1:	ecall
	ret

/* strlen(a0) */
strlen:
	mv	t0, a0
1:	lbu	t1, 0(t0)
	beqz	t1, 2f
	addi	t0, t0, 1
	j	1b
2:	sub	a0, t0, a0
	ret

/* puts(a0): a NUL-terminated string */
puts:
	addi	sp, sp, -16
	sd	ra, 8(sp)
	sd	s5, 0(sp)
	mv	s5, a0
1:	lbu	a0, 0(s5)
	beqz	a0, 2f
	call	putchar
	addi	s5, s5, 1
	j	1b
2:	ld	s5, 0(sp)
	ld	ra, 8(sp)
	addi	sp, sp, 16
	ret

	.section .rodata
msg_regs_ok:	 .asciz "L2-BOOT-REGS-OK\n"
msg_regs_bad:	 .asciz "L2-FAIL boot registers\n"
msg_dbcn:	 .asciz "L2-SBI-DBCN-OK\n"
msg_legacy:	 .asciz "L2-SBI-LEGACY-CONSOLE\n"
msg_badaddr_ok:	 .asciz "L2-SBI-DBCN-BADADDR-OK\n"
msg_badaddr_bad: .asciz "L2-FAIL sbi dbcn bad address\n"
msg_getchar_ok:	 .asciz "L2-SBI-GETCHAR-OK\n"
msg_getchar_bad: .asciz "L2-FAIL sbi getchar\n"
msg_unsupp_ok:	 .asciz "L2-SBI-UNSUPPORTED-OK\n"
msg_unsupp_bad:	 .asciz "L2-FAIL sbi unsupported extension\n"
msg_cpus:	 .asciz "L2-CPUS="
msg_reset_bad:	 .asciz "L2-FAIL sbi system reset returned\n"

	.section .bss
	.balign 16
	.space	4096
stack_top:
	.balign 8
image_end:
