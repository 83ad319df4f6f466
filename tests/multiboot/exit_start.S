/*
 * Entry of exitprog: a Multiboot ELF image (no address fields, so the
 * loader reads its segments) that hands the information block to C.
 */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.text
	.globl _start
_start:
	cli
	movl $stack_top, %esp
	pushl %ebx		/* the information block */
	pushl %eax		/* the boot magic */
	call exitprog_main
1:	cli
	hlt
	jmp 1b

	.bss
	.align 16
	.space 8192
stack_top:
