/*
 * Entry of the long-mode test program (tests/longmode): a Multiboot
 * kernel, started in flat 32-bit protected mode with paging off, that
 * takes itself into 64-bit mode the way every x86-64 kernel does:
 * identity-mapped four-level page tables (2 MiB pages over the first
 * 16 MiB), CR4.PAE, EFER.LME, CR0.PG, then a far jump into a 64-bit code
 * segment.  Everything after that is 64-bit code (lm.c).
 */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00010000	/* the address fields below are valid */

	.section .multiboot, "a"
	.align 4
mb_header:
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
	.long mb_header, __load_start, __load_end, __bss_end, _start

	.code32
	.text
	.globl _start
_start:
	cli
	movl $boot_stack_top, %esp
	/* PML4[0] -> PDPT, PDPT[0] -> PD, PD[0..7] -> 2 MiB pages, all
	 * present, writable and user (lm.c takes away what it tests). */
	movl $pdpt, %eax
	orl $0x7, %eax
	movl %eax, pml4
	movl $pd, %eax
	orl $0x7, %eax
	movl %eax, pdpt
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $21, %eax
	orl $0x87, %eax			/* P W U PS */
	movl %eax, pd(,%ecx,8)
	incl %ecx
	cmpl $8, %ecx
	jne 1b
	movl %cr4, %eax
	orl $0x20, %eax			/* PAE */
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx		/* EFER.LME */
	rdmsr
	orl $0x100, %eax
	wrmsr
	lgdt gdt_ptr
	movl %cr0, %eax
	orl $0x80010001, %eax		/* PG, WP, PE */
	movl %eax, %cr0
	ljmp $0x08, $start64

	.code64
start64:
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	movabsq $stack_top, %rsp
	call lm_main
1:	hlt
	jmp 1b

/*
 * Exception entry: one 16-byte stub per vector pushes a dummy error code
 * where the CPU pushes none and the vector, then the common path saves
 * the registers into a struct frame (lm.h) and calls trap().
 */
	.align 16
	.globl trap_stubs
trap_stubs:
vec = 0
	.rept 32
	.align 16
	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17)
	.else
	pushq $0
	.endif
	pushq $vec
	jmp trap_common
vec = vec + 1
	.endr

trap_common:
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rbx
	pushq %rbp
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	movq %rsp, %rdi
	call trap
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rbp
	popq %rbx
	popq %rdx
	popq %rcx
	popq %rax
	addq $16, %rsp
	iretq

/* SYSCALL lands here, on the user's stack, in ring 0: record what the CPU
 * left in RCX and R11, then SYSRET, or (RAX = 0) go back to the kernel's
 * saved context through kjmp_go. */
	.globl syscall_entry
syscall_entry:
	movq %rcx, sys_rcx(%rip)
	movq %r11, sys_r11(%rip)
	movq %rsp, sys_rsp(%rip)
	movw %cs, sys_cs(%rip)
	movw %ss, sys_ss(%rip)
	incl sys_count(%rip)
	testq %rax, %rax
	jz 1f
	sysretq
1:	movabsq $stack_top - 4096, %rsp
	leaq user_jmp(%rip), %rdi
	movl $1, %esi
	jmp kjmp_go

/* The target of the call gate (lm.c's call_gates): record RSP and the
 * stack it was given (RIP, CS and, from ring 3, RSP and SS), CS and SS,
 * then go back with a 64-bit far return. */
	.globl gate_target
gate_target:
	movq %rsp, gate_rsp(%rip)
	movq 0(%rsp), %rax
	movq %rax, gate_frame(%rip)
	movq 8(%rsp), %rax
	movq %rax, gate_frame+8(%rip)
	movq 16(%rsp), %rax
	movq %rax, gate_frame+16(%rip)
	movq 24(%rsp), %rax
	movq %rax, gate_frame+24(%rip)
	movw %cs, gate_cs(%rip)
	movw %ss, gate_ss(%rip)
	incl gate_count(%rip)
	lretq

/* The target of a JMP through the gate: record CS and RSP, go back. */
	.globl gate_jmp_target
gate_jmp_target:
	movq %rsp, gate_rsp(%rip)
	movw %cs, gate_cs(%rip)
	incl gate_count(%rip)
	jmp *gate_back(%rip)

/* int kjmp_set(struct kjmp *j): 0 now, val when kjmp_go(j, val) runs. */
	.globl kjmp_set
kjmp_set:
	movq %rbx, 0(%rdi)
	movq %rbp, 8(%rdi)
	movq %r12, 16(%rdi)
	movq %r13, 24(%rdi)
	movq %r14, 32(%rdi)
	movq %r15, 40(%rdi)
	leaq 8(%rsp), %rax
	movq %rax, 48(%rdi)
	movq (%rsp), %rax
	movq %rax, 56(%rdi)
	xorl %eax, %eax
	ret

	.globl kjmp_go
kjmp_go:
	movq 0(%rdi), %rbx
	movq 8(%rdi), %rbp
	movq 16(%rdi), %r12
	movq 24(%rdi), %r13
	movq 32(%rdi), %r14
	movq 40(%rdi), %r15
	movq 48(%rdi), %rsp
	movl %esi, %eax
	jmp *56(%rdi)

	.data
	.align 16
	.globl gdt
/* 0x08 kernel code (64-bit), 0x10 kernel data, 0x18 user code
 * (32-bit, for SYSRET's layout), 0x20 user data, 0x28 user code (64-bit),
 * 0x30 the TSS (16 bytes, filled in by lm.c), 0x40 a call gate (16
 * bytes, lm.c's). */
gdt:
	.quad 0
	.quad 0x00af9a000000ffff
	.quad 0x00cf92000000ffff
	.quad 0x00cffa000000ffff
	.quad 0x00cff2000000ffff
	.quad 0x00affa000000ffff
	.quad 0, 0
	.quad 0, 0
gdt_end:
gdt_ptr:
	.word gdt_end - gdt - 1
	.long gdt

	.bss
	.align 4096
	.globl pml4, pdpt, pd
pml4:	.skip 4096
pdpt:	.skip 4096
pd:	.skip 4096
	.skip 4096
boot_stack_top:
	.align 16
	.skip 16384
	.globl stack_top
stack_top:
