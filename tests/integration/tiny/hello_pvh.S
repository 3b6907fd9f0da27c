/*
 * A guest of a few instructions, entered through PVH (32-bit protected mode, paging off):
 * prints a greeting, the PCI host bridge's id, the RTC's year, its %ebx (hvm_start_info) and
 * the magic there, then resets the machine through the i8042.
 */
#include "common.inc"

	PVH_NOTE

	.text
	.code32
	.globl _start
_start:
	mov $stack_top, %esp
	push %ebx
	mov $msg_hello, %esi
	call puts

	mov $msg_pci, %esi
	call puts
	mov $0x80000000, %eax	/* bus 0, device 0, function 0, register 0 */
	mov $0xcf8, %dx
	out %eax, %dx
	mov $0xcfc, %dx
	in %dx, %eax
	call puthex32

	mov $msg_pci_empty, %esi
	call puts
	mov $0x80000800, %eax	/* device 1: empty slot */
	mov $0xcf8, %dx
	out %eax, %dx
	mov $0xcfc, %dx
	in %dx, %eax
	call puthex32

	mov $msg_rtc, %esi
	call puts
	mov $0x32, %al		/* century (BCD) */
	out %al, $0x70
	in $0x71, %al
	movzbl %al, %eax
	shl $8, %eax
	mov %eax, %edi
	mov $0x09, %al		/* year (BCD) */
	out %al, $0x70
	in $0x71, %al
	movzbl %al, %eax
	or %edi, %eax
	shl $16, %eax
	call puthex32		/* prints YYYY0000 */

	mov $msg_start_info, %esi
	call puts
	pop %ebx
	mov (%ebx), %eax	/* hvm_start_info.magic */
	call puthex32

	mov $msg_bye, %esi
	call puts
	RESET

	DEFINE_PUTS
	DEFINE_PUTHEX

	.section .rodata
msg_hello:	.asciz "tiny: hello from PVH\n"
msg_pci:	.asciz "tiny: pci 00:00.0 id "
msg_pci_empty:	.asciz "\ntiny: pci 00:01.0 id "
msg_rtc:	.asciz "\ntiny: rtc year "
msg_start_info:	.asciz "\ntiny: start_info magic "
msg_bye:	.asciz "\ntiny: reset\n"

	.bss
	.p2align 4
	.skip 4096
stack_top:
