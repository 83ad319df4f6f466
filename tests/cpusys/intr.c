/*
 * Interrupt and NMI delivery on the software CPU, with the interpreter and
 * the translator alike: an interrupt that waits behind CLI is taken right
 * after the one instruction STI's shadow covers (not at the end of a
 * translated block); an NMI is taken with IF clear; a second NMI raised
 * inside the handler waits for its IRET (SDM vol. 3, 6.7.1 and 6.8.3).
 * The harness raises INTR on port 0xf0 and NMI on port 0xf1.
 */
#include "lib.h"

#define PORT_NMI 0xf1

static volatile int nmi_count, nmi_depth, nmi_max, nmi_again;

static void nmi_hook(struct frame *f)
{
	if (f->vec != 2)
		return;
	nmi_count++;
	if (++nmi_depth > nmi_max)
		nmi_max = nmi_depth;
	if (nmi_again) {
		nmi_again = 0;
		outb(PORT_NMI, 1);
		/* A nested NMI would be taken here, before the IRET. */
		asm volatile("nop; nop; nop" ::: "memory");
	}
	nmi_depth--;
}

static void sti_shadow(void)
{
	u32 after_nop, nop_at;

	last.count = 0;
	asm volatile("cli\n\t"
		     "outl %%eax, %%dx\n\t"
		     "sti\n\t"
		     "2: nop\n\t"
		     "1: movl $1b, %0\n\t"
		     "movl $2b, %1\n\t"
		     "cli"
		     : "=r"(after_nop), "=r"(nop_at)
		     : "a"(0x41), "d"(PORT_IRQ) : "memory");
	check(last.count == 1 && last.vec == 0x41,
	      "an interrupt raised behind CLI is taken after STI");
	check(last.eip != nop_at,
	      "... not before the instruction STI's shadow covers");
	check_eq(last.eip, after_nop,
		 "... but right after it, not later (saved EIP)");
}

static void nmi(void)
{
	trap_hook = nmi_hook;
	last.count = 0;
	asm volatile("cli" ::: "memory");
	outb(PORT_NMI, 1);
	asm volatile("nop" ::: "memory");
	check(nmi_count == 1 && last.vec == 2,
	      "an NMI is taken with IF clear, through vector 2");
	nmi_count = nmi_max = 0;
	nmi_again = 1;
	outb(PORT_NMI, 1);
	asm volatile("nop; nop" ::: "memory");
	check_eq(nmi_count, 2, "an NMI raised in the NMI handler is taken");
	check_eq(nmi_max, 1, "... after the handler's IRET, not nested");
	trap_hook = 0;
}

void test_main(void)
{
	u16 probe;

	asm volatile("inw %1, %0" : "=a"(probe) : "Nd"((u16)PORT_IRQ));
	if (probe != IRQ_PORT_MAGIC) {
		puts("ok - interrupts # SKIP no interrupt port here\n");
		return;
	}
	sti_shadow();
	nmi();
}
