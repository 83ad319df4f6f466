/*
 * A visit to real mode: the program goes down from protected mode the way
 * a PC kernel returning to its BIOS does (a 16-bit code segment, then
 * CR0.PE off and a far jump), loads FLAGS there by IRET, POPF and SAHF,
 * and comes back up.  In real mode a 16-bit IRET and POPF may set every
 * flag of FLAGS, IOPL and NT included, but bits 3, 5 and 15 still read as
 * 0: our IRET used to set them, and nothing cleared them again.
 *
 * On a PC (not in the cpusys harness) it also waits with STI; HLT for the
 * timer a BIOS leaves ticking, and needs the BIOS's vector table and
 * handler to come back: what lguest sets up for a Multiboot kernel.
 *
 * The real-mode code is copied to RM_BASE, below 64 KiB, and runs with
 * CS = RM_BASE / 16; its stack and results are just below it.
 */
#include "lib.h"

#define RM_BASE		0x7000
#define RM_RESULTS	0x6f80	/* one word per test; the stack is below */

extern const u8 rm_blob[], rm_blob_end[];
void rm_visit(void);

/* rm_visit (32-bit) saves ESP and IDTR, points IDTR at the real-mode
 * vector table (as a PC kernel must before interrupts in real mode), and
 * jumps to the copy at RM_BASE through the 16-bit code segment (0x58);
 * the copy goes to real mode, runs the tests, and jumps back to rm_back
 * in 32-bit protected mode. */
asm(".text\n"
    "rm_visit:\n\t"
    "pushal\n\t"
    "movl %esp, rm_saved_esp\n\t"
    "sidt rm_saved_idt\n\t"
    "lidt rm_ivt\n\t"
    "ljmp $0x58, $0x7000\n"
    "rm_back:\n\t"
    "movl $0x10, %eax\n\t"
    "movl %eax, %ds\n\t"
    "movl %eax, %es\n\t"
    "movl %eax, %fs\n\t"
    "movl %eax, %gs\n\t"
    "movl %eax, %ss\n\t"
    "movl rm_saved_esp, %esp\n\t"
    "lidt rm_saved_idt\n\t"
    "popal\n\t"
    "ret\n"

    ".section .rodata\n"
    ".code16\n"
    "rm_blob:\n\t"
    "movw $0x60, %ax\n\t"
    "movw %ax, %ds\n\t"
    "movw %ax, %es\n\t"
    "movw %ax, %ss\n\t"
    "movl %cr0, %eax\n\t"
    "andl $~1, %eax\n\t"
    "movl %eax, %cr0\n\t"
    "ljmp $0x700, $(1f - rm_blob)\n"
    "1:\txorw %ax, %ax\n\t"
    "movw %ax, %ds\n\t"
    "movw %ax, %es\n\t"
    "movw %ax, %ss\n\t"
    "movl $0x6f00, %esp\n\t"
    /* IRET of FLAGS = 0xfcff: all but TF and IF, and bit 15. */
    "pushw $0xfcff\n\t"
    "pushw %cs\n\t"
    "pushw $(2f - rm_blob)\n\t"
    "iretw\n"
    "2:\tpushfw\n\t"
    "popw 0x6f80\n\t"
    "pushw $0x0002\n\t"
    "popfw\n\t"
    /* POPF of the same. */
    "pushw $0xfcff\n\t"
    "popfw\n\t"
    "pushfw\n\t"
    "popw 0x6f82\n\t"
    "pushw $0x0002\n\t"
    "popfw\n\t"
    /* SAHF of 0xff: SF, ZF, AF, PF, CF, and no more. */
    "movb $0xff, %ah\n\t"
    "sahf\n\t"
    "pushfw\n\t"
    "popw 0x6f84\n\t"
    "pushw $0x0002\n\t"
    "popfw\n\t"
    /* On a PC, wait for the timer: a BIOS left it ticking. */
    "cmpw $0, 0x6f86\n\t"
    "je 3f\n\t"
    "sti\n\t"
    "hlt\n\t"
    "cli\n\t"
    "movw $1, 0x6f88\n"
    "3:\n\t"
    /* Back up. */
    "movl %cr0, %eax\n\t"
    "orl $1, %eax\n\t"
    "movl %eax, %cr0\n\t"
    "ljmpl $0x08, $rm_back\n"
    "rm_blob_end:\n\t"
    ".code32\n"
    ".text\n");

u32 rm_saved_esp;
/* IDTR in real mode: the vector table at 0; and ours, put back after. */
u16 rm_ivt[3] __attribute__((aligned(4))) = { 0x3ff, 0, 0 };
u16 rm_saved_idt[3] __attribute__((aligned(4)));

static u16 result(int i)
{
	return *(volatile u16 *)(RM_RESULTS + 2 * i);
}

void test_main(void)
{
	const u8 *s = rm_blob;
	u8 *d = (u8 *)RM_BASE;
	u16 probe;
	int i;

	while (s < rm_blob_end)
		*d++ = *s++;
	/* The cpusys harness has no timer (it answers on its interrupt
	 * port instead); a PC, or lguest with a Multiboot kernel, has. */
	asm volatile("inw %1, %0" : "=a"(probe) : "Nd"((u16)PORT_IRQ));
	for (i = 0; i < 5; i++)
		*(volatile u16 *)(RM_RESULTS + 2 * i) = 0;
	*(volatile u16 *)(RM_RESULTS + 6) = probe != IRQ_PORT_MAGIC;
	rm_visit();
	check(1, "down to real mode and back");
	check_eq(result(0), 0x7cd7,
		 "real-mode IRETW of 0xfcff: FLAGS 0x7cd7 (3, 5, 15 stay 0)");
	check_eq(result(1), 0x7cd7, "real-mode POPFW of 0xfcff: the same");
	check_eq(result(2) & 0xff, 0xd7, "real-mode SAHF of 0xff: 0xd7");
	check_eq(get_eflags() & 0xffff8028u, 0,
		 "no reserved EFLAGS bit came back up to protected mode");
	if (probe == IRQ_PORT_MAGIC)
		puts("ok - the BIOS's timer wakes STI; HLT # SKIP no PC here\n");
	else
		check_eq(result(4), 1, "the BIOS's timer wakes STI; HLT in "
			 "real mode, and its handler returns");
}
