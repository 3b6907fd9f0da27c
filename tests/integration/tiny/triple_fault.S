/* A guest that triple-faults: an empty IDT, then an undefined instruction. */
	.section .note.Xen, "a", @note
	.p2align 2
	.long 4
	.long 4
	.long 18
	.asciz "Xen"
	.long _start

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
