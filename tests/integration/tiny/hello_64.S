/*
 * A guest entered in 64-bit long mode (an ELF without the PVH note, as a vmlinux without
 * it is): prints its %rsi (the zero page) and the e820 entry count there, then resets.
 */
#include "common.inc"

	.text
	.code64
	.globl _start
_start:
	lea stack_top(%rip), %rsp
	mov %rsi, %r12
	lea msg_hello(%rip), %rsi
	call puts
	lea msg_zp(%rip), %rsi
	call puts
	mov %r12d, %eax
	call puthex32
	lea msg_e820(%rip), %rsi
	call puts
	movzbl 0x1e8(%r12), %eax	/* boot_params.e820_entries */
	call puthex32
	lea msg_bye(%rip), %rsi
	call puts
	RESET

	DEFINE_PUTS
	DEFINE_PUTHEX

	.section .rodata
msg_hello:	.asciz "tiny: hello from long mode\n"
msg_zp:		.asciz "tiny: zero page at "
msg_e820:	.asciz "\ntiny: e820 entries "
msg_bye:	.asciz "\ntiny: reset\n"

	.bss
	.p2align 4
	.skip 4096
stack_top:
