/* /init for initramfs-spin.cpio: never makes a syscall, keeps its vCPU busy forever. */
	.text
	.globl	_start
_start:
	pause
	jmp	_start

	.section .note.GNU-stack, "", @progbits
