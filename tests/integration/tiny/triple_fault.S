/* A guest that triple-faults: an empty IDT, then an undefined instruction. */
#include "common.inc"

	PVH_NOTE

	.text
	.code32
	.globl _start
_start:
	mov $0x3f8, %dx
	mov $'T', %al
	out %al, %dx
	mov $'\n', %al
	out %al, %dx
	lidt idt_empty
	ud2

	.section .rodata
	.p2align 3
idt_empty:
	.word 0
	.long 0
