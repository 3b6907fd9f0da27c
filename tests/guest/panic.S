/* /init for initramfs-panic.cpio: exactly one syscall, exit(1). The kernel then panics
 * ("Attempted to kill init"); with panic=1 reboot=k the guest resets itself. */
	.text
	.globl	_start
_start:
	movl	$60, %eax	/* __NR_exit */
	movl	$1, %edi
	syscall
	ud2			/* not reached */

	.section .note.GNU-stack, "", @progbits
