/*
 * A small Multiboot kernel for the loader tests.  Built twice: as ELF (the
 * loader reads its segments) and, with -DFLAT, as a flat image whose header
 * carries the address fields (flag 16).  It checks EAX, then prints on COM1
 * what the information block at EBX holds, and pulls the reset line.
 */
#define MB_MAGIC 0x1badb002
#ifdef FLAT
#define MB_FLAGS 0x00010003
#else
#define MB_FLAGS 0x00000003
#endif

	.section .mbhdr, "a"
	.align 4
mbhdr:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)
	.long mbhdr			/* header_addr */
	.long _start_image		/* load_addr */
	.long _edata			/* load_end_addr */
	.long _end			/* bss_end_addr */
	.long start			/* entry_addr */

	.text
	.globl start
start:
	movl $stack_top, %esp
	movl %ebx, %edi
	cmpl $0x2badb002, %eax
	jne bad_magic
	movl $s_cmd, %esi
	call puts
	movl 16(%edi), %esi		/* cmdline */
	call puts
	movl $s_mods, %esi
	call puts
	movl 20(%edi), %eax		/* mods_count */
	call puthex
	movl 24(%edi), %ebx		/* mods_addr */
	movl $s_mod0, %esi
	call puts
	movl 8(%ebx), %esi		/* module 0's string */
	call puts
	movl $s_data, %esi
	call puts
	movl (%ebx), %esi		/* module 0's first 4 bytes */
	movl $4, %ecx
1:	lodsb
	call putc
	loop 1b
	movl $s_upper, %esi
	call puts
	movl 8(%edi), %eax		/* mem_upper */
	call puthex
	movl $s_name, %esi
	call puts
	movl 64(%edi), %esi		/* boot_loader_name */
	call puts
	movl $s_bss, %esi
	call puts
	movl bss_word, %eax
	call puthex
	movl $s_end, %esi
	call puts
	jmp reset
bad_magic:
	movl $s_bad, %esi
	call puts
reset:
	movb $0xfe, %al			/* i8042: pulse the reset line */
	outb %al, $0x64
	cli
2:	hlt
	jmp 2b

puts:
	lodsb
	testb %al, %al
	jz 3f
	call putc
	jmp puts
3:	ret

puthex:
	movl $8, %ecx
4:	roll $4, %eax
	pushl %eax
	andb $0xf, %al
	addb $'0', %al
	cmpb $'9', %al
	jbe 5f
	addb $('a' - '9' - 1), %al
5:	call putc
	popl %eax
	loop 4b
	ret

putc:
	movw $0x3f8, %dx
	outb %al, %dx
	ret

	.data
s_cmd:	.asciz "mb: cmdline="
s_mods:	.asciz " mods="
s_mod0:	.asciz " mod0="
s_data:	.asciz " data="
s_upper: .asciz " upper="
s_name:	.asciz " loader="
s_bss:	.asciz " bss="
s_end:	.asciz " bye\n"
s_bad:	.asciz "mb: bad magic\n"

	.bss
	.align 4
bss_word:
	.long 0
	.space 4096
stack_top:
