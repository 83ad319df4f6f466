/*
 * Entry, exception stubs and small assembly helpers of the cpusys test
 * programs.  The programs run on the bare (software) CPU: no BIOS, no
 * kernel.  lib.c builds the GDT, IDT and TSSs; this file holds what C
 * cannot say: the Multiboot header, the stack switch, the 256 IDT entry
 * stubs and a setjmp-like pair used to come back from ring 3.
 */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00010000	/* the address fields below are valid */

	.section .multiboot, "a"
	.align 4
mb_header:
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
	.long mb_header, __load_start, __load_end, __bss_end, _start

	.text
	.globl _start
_start:
	cli
	movl $kstack_top, %esp
	call lib_main
	/* lib_main exits through the exit port; if that did nothing: */
1:	hlt
	jmp 1b

/* One 16-byte stub per vector: push a dummy error code where the CPU
 * pushes none, then the vector, then go to the common path. */
	.align 16
	.globl trap_stubs
trap_stubs:
vec = 0
	.rept 256
	.align 16
	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17)
	.else
	pushl $0
	.endif
	pushl $vec
	jmp trap_common
vec = vec + 1
	.endr

trap_common:
	pushal
	pushl %ds
	pushl %es
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	pushl %esp
	call trap
	addl $4, %esp
	popl %es
	popl %ds
	popal
	addl $8, %esp
	iret

/* int kjmp_set(struct kjmp *j): 0 now, the value given to kjmp_go later. */
	.globl kjmp_set
kjmp_set:
	movl 4(%esp), %eax
	movl %ebx, 0(%eax)
	movl %esi, 4(%eax)
	movl %edi, 8(%eax)
	movl %ebp, 12(%eax)
	leal 4(%esp), %ecx
	movl %ecx, 16(%eax)
	movl (%esp), %ecx
	movl %ecx, 20(%eax)
	xorl %eax, %eax
	ret

/* void kjmp_go(struct kjmp *j, int val) */
	.globl kjmp_go
kjmp_go:
	movl 4(%esp), %edx
	movl 8(%esp), %eax
	movl 0(%edx), %ebx
	movl 4(%edx), %esi
	movl 8(%edx), %edi
	movl 12(%edx), %ebp
	movl 16(%edx), %esp
	jmp *20(%edx)

/* Reached from ring 3 through the call gate, with one dword parameter:
 * note what arrived and return to the caller, dropping the parameter. */
	.globl call_gate_target
call_gate_target:
	movl 8(%esp), %eax
	movl %eax, cg_param
	movl 4(%esp), %eax
	movl %eax, cg_cs
	movl %cs, %eax
	movl %eax, cg_mycs
	movl %esp, cg_esp
	lret $4

/* SYSENTER lands here on the stack of the SYSENTER_ESP MSR. */
	.weak sysenter_c, df_task	/* only some programs have them */
	.globl sysenter_target
sysenter_target:
	movl $0x10, %ecx
	movl %ecx, %ds
	movl %ecx, %es
	pushl %esp
	pushl %eax
	call sysenter_c
1:	jmp 1b

/* The double-fault task starts here, on its own stack, with the error
 * code on top. */
	.globl df_task_entry
df_task_entry:
	call df_task
	iret
	jmp df_task_entry

	.data
	.globl cg_param, cg_cs, cg_mycs, cg_esp
cg_param:	.long 0
cg_cs:		.long 0
cg_mycs:	.long 0
cg_esp:		.long 0

	.bss
	.align 4096
	.globl kstack_top
	.space 16384
kstack_top:
