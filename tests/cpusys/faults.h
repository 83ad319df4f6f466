/*
 * Accesses that may fault: each returns 1 if the access trapped (the
 * trap handler then resumes at the label after it), 0 if it went through.
 */
#ifndef CPUSYS_FAULTS_H
#define CPUSYS_FAULTS_H

#include "lib.h"

static inline int try_wr(u32 addr, u32 v)
{
	int f;

	asm volatile("movl $1f, resume\n\t"
		     "movl %2, (%1)\n\t"
		     "movl $0, resume\n\t"
		     "xorl %0, %0\n\t"
		     "jmp 2f\n"
		     "1:\tmovl $1, %0\n"
		     "2:"
		     : "=&r"(f) : "r"(addr), "r"(v) : "memory");
	return f;
}

static inline int try_rd(u32 addr, u32 *v)
{
	int f;
	u32 x = 0;

	asm volatile("movl $1f, resume\n\t"
		     "movl (%2), %1\n\t"
		     "movl $0, resume\n\t"
		     "xorl %0, %0\n\t"
		     "jmp 2f\n"
		     "1:\tmovl $1, %0\n"
		     "2:"
		     : "=&r"(f), "+r"(x) : "r"(addr) : "memory");
	*v = x;
	return f;
}

/* Load DS with sel, then put the kernel's data segment back. */
static inline int try_load_ds(u16 sel)
{
	int f;

	asm volatile("movl $1f, resume\n\t"
		     "movw %w1, %%ds\n\t"
		     "movl $0, %%ss:resume\n\t"
		     "xorl %0, %0\n\t"
		     "jmp 2f\n"
		     "1:\tmovl $1, %0\n"
		     "2:\tpushl %2\n\tpopl %%ds"
		     : "=&r"(f) : "r"((u32)sel), "i"(KDATA) : "memory");
	return f;
}

static inline int try_load_ss(u16 sel)
{
	int f;

	asm volatile("movl $1f, resume\n\t"
		     "movw %w1, %%ss\n\t"
		     "movl $0, resume\n\t"
		     "xorl %0, %0\n\t"
		     "jmp 2f\n"
		     "1:\tmovl $1, %0\n"
		     "2:\tpushl %2\n\tpopl %%ss"
		     : "=&r"(f) : "r"((u32)sel), "i"(KDATA) : "memory");
	return f;
}

#endif
