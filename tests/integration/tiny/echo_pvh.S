/*
 * Console input: polls the UART's line status and echoes each byte received, upper-cased
 * letters as they are; on 'q' it resets the machine.
 */
#include "common.inc"

	PVH_NOTE

	.text
	.code32
	.globl _start
_start:
	mov $stack_top, %esp
	mov $msg_ready, %esi
	call puts
1:	mov $(COM1 + 5), %dx	/* LSR */
	in %dx, %al
	test $1, %al		/* data ready */
	jz 1b
	mov $COM1, %dx
	in %dx, %al
	cmp $'q', %al
	je 2f
	out %al, %dx
	jmp 1b
2:	mov $msg_bye, %esi
	call puts
	RESET

	DEFINE_PUTS

	.section .rodata
msg_ready:	.asciz "tiny: echo ready\n"
msg_bye:	.asciz "\ntiny: echo done\n"

	.bss
	.p2align 4
	.skip 4096
stack_top:
