/*
 * A tiny "vmlinux" for the loader tests: linked at 0xc0100000 virtual and
 * 0x100000 physical, like an old i386 vmlinux.  Entered by the 32-bit boot
 * protocol (paging off, ESI = boot_params), it prints its command line and
 * what it finds in boot_params on COM1, then pulls the reset line.
 */
#define OFF 0xc0000000
#define PA(x) ((x) - OFF)
#define COM1 0x3f8

	.text
	.globl startup_32
startup_32:
	movl $PA(stack_top), %esp
	movl $PA(hello), %ebx
	call puts
	movl 0x228(%esi), %ebx		/* cmd_line_ptr */
	call puts
	movl $PA(e820), %ebx
	call puts
	movb 0x1e8(%esi), %al		/* e820_entries */
	addb $'0', %al
	call putc
	movl $PA(bss), %ebx
	call puts
	movl PA(bss_word), %eax		/* must read zero */
	addb $'0', %al
	call putc
	movl $PA(bye), %ebx
	call puts
	movb $0xfe, %al			/* i8042: pulse the reset line */
	outb %al, $0x64
	cli
1:	hlt
	jmp 1b

puts:
	movb (%ebx), %al
	testb %al, %al
	jz 2f
	call putc
	incl %ebx
	jmp puts
2:	ret

putc:
	movw $COM1, %dx
	outb %al, %dx
	ret

	.data
hello:	.asciz "tiny: cmdline="
e820:	.asciz " e820="
bss:	.asciz " bss="
bye:	.asciz " bye\n"

	.bss
	.align 4
bss_word:
	.long 0
	.space 4096
stack_top:
