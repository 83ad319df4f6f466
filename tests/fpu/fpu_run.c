/*
 * The x87 inside the whole software CPU: a small 32-bit program of x87
 * instructions (memory operands through several addressing modes, the
 * 16-bit environment form through the 0x66 prefix, FSTSW with its WAIT
 * prefix, FNSTENV and FNSAVE) runs through cpu_new()/cpu_run(), and the
 * same instructions run natively on the host from the same inputs.  The
 * results in memory must match; the instruction and data pointers the
 * guest's FNSTENV stored must name the right instruction and operand.
 *
 * Where fpu_diff checks fpu.c alone, this checks how exec.c and mmu.c
 * hand it the instructions.  FPU_TEST_ITER=n runs n random inputs
 * (default 200).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_internal.h"

#define RAM_SIZE (1u << 20)
#define CODE 0x1000u
#define DATA 0x2000u

static const u8 program[] = {
	0xdb, 0xe3,				/* fninit */
	0xd9, 0x2d, 0x50, 0x20, 0x00, 0x00,	/* fldcw [0x2050] */
	0xd9, 0x05, 0x00, 0x20, 0x00, 0x00,	/* fld dword [0x2000] */
	0xdd, 0x05, 0x08, 0x20, 0x00, 0x00,	/* fld qword [0x2008] */
	0xde, 0xc9,				/* fmulp */
	0xd9, 0xfa,				/* fsqrt */
	0xdb, 0x3d, 0x10, 0x20, 0x00, 0x00,	/* fstp tword [0x2010] */
	0xd9, 0xeb,				/* fldpi */
	0xd9, 0xfe,				/* fsin */
	0xdd, 0x1d, 0x20, 0x20, 0x00, 0x00,	/* fstp qword [0x2020] */
	0x9b, 0xdf, 0xe0,			/* fstsw ax */
	0x66, 0xa3, 0x30, 0x20, 0x00, 0x00,	/* mov [0x2030], ax */
	0xbb, 0x00, 0x20, 0x00, 0x00,		/* mov ebx, 0x2000 */
	0xb9, 0x01, 0x00, 0x00, 0x00,		/* mov ecx, 1 */
	0xd9, 0x43, 0x40,			/* fld dword [ebx+0x40] */
	0xda, 0x4c, 0x8b, 0x40,			/* fimul dword [ebx+ecx*4+0x40] */
	0xdf, 0x73, 0x58,			/* fbstp [ebx+0x58] */
	0xd9, 0x43, 0x40,			/* fld dword [ebx+0x40] */
	0xd8, 0xd0,				/* fcom st(0) */
	0xdf, 0xe0,				/* fnstsw ax */
	0x66, 0xa3, 0x34, 0x20, 0x00, 0x00,	/* mov [0x2034], ax */
	0xdd, 0xd8,				/* fstp st(0) */
	0xdd, 0x83, 0x08, 0x00, 0x00, 0x00,	/* fld qword [ebx+8] */
	0xd9, 0x5b, 0x48,			/* fstp dword [ebx+0x48] */
	0xd9, 0x35, 0x00, 0x21, 0x00, 0x00,	/* fnstenv [0x2100] */
	0x66, 0xd9, 0x35, 0x00, 0x22, 0x00, 0x00, /* o16 fnstenv [0x2200] */
	0xd9, 0xe8,				/* fld1 */
	0xdd, 0x35, 0x00, 0x23, 0x00, 0x00,	/* fnsave [0x2300] */
	0x9b,					/* fwait */
	0xf4,					/* hlt */
};
#define FSTP_M32_EIP (CODE + 90)	/* the fstp dword [ebx+0x48] */

/* The same instructions, natively, on a buffer standing for DATA. */
static void native(u8 *d)
{
	u16 cw;

	asm volatile("fnstcw %1\n\t"
		     "fninit\n\t"
		     "fldcw 0x50(%0)\n\t"
		     "flds (%0)\n\t"
		     "fldl 8(%0)\n\t"
		     "fmulp\n\t"
		     "fsqrt\n\t"
		     "fstpt 0x10(%0)\n\t"
		     "fldpi\n\t"
		     "fsin\n\t"
		     "fstpl 0x20(%0)\n\t"
		     "fstsw %%ax\n\t"
		     "movw %%ax, 0x30(%0)\n\t"
		     "flds 0x40(%0)\n\t"
		     "fimull 0x44(%0)\n\t"
		     "fbstp 0x58(%0)\n\t"
		     "flds 0x40(%0)\n\t"
		     "fcom %%st(0)\n\t"
		     "fnstsw %%ax\n\t"
		     "movw %%ax, 0x34(%0)\n\t"
		     "fstp %%st(0)\n\t"
		     "fldl 8(%0)\n\t"
		     "fstps 0x48(%0)\n\t"
		     "fnstenv 0x100(%0)\n\t"
		     "data16 fnstenv 0x200(%0)\n\t"
		     "fld1\n\t"
		     "fnsave 0x300(%0)\n\t"
		     "fldcw %1"
		     : : "r" (d), "m" (cw)
		     : "rax", "memory", "st", "st(1)", "st(2)", "st(3)",
		       "st(4)", "st(5)", "st(6)", "st(7)");
}

static u64 rng = 0x2545f4914f6cdd1dull;

static u64 rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static u64 no_clock(void *opaque)
{
	(void)opaque;
	return 0;
}

/* Byte ranges of DATA that both sides must agree on. */
static const struct { u32 off, len; const char *what; } checked[] = {
	{ 0x10, 10, "fstp m80 of a square root" },
	{ 0x20, 8, "fstp m64 of fsin(pi)" },
	{ 0x30, 2, "fstsw ax" },
	{ 0x34, 2, "fnstsw ax after fcom st(0): condition codes, TOP" },
	{ 0x48, 4, "fstp m32 via [ebx+disp8]" },
	{ 0x58, 10, "fbstp via [ebx+disp8] of fimul [sib]" },
	{ 0x100, 12, "fnstenv control, status, tags" },
	{ 0x200, 6, "o16 fnstenv control, status, tags" },
	{ 0x300, 12, "fnsave control, status, tags" },
	{ 0x31c, 80, "fnsave registers" },
};

int main(void)
{
	static u8 ram[RAM_SIZE];
	static u8 host[0x400];
	struct cpu_bus bus = { .clock_ns = no_clock };
	struct cpu *c = cpu_new(ram, RAM_SIZE, &bus);
	long iters = 200, n, bad = 0, bad_ptr = 0, bad_run = 0;
	const char *e = getenv("FPU_TEST_ITER");
	unsigned i;

	if (e)
		iters = atol(e);
	if (!c) {
		printf("not ok - cpu_new\n");
		return 1;
	}
	for (n = 0; n < iters; n++) {
		u8 *d = ram + DATA;
		u16 cw = 0x037f | (rnd() & 0x0f00);
		u32 ptr[7];
		enum cpu_event ev;

		memset(ram + DATA, 0, 0x400);
		for (i = 0; i < 0x60; i++)
			d[i] = rnd();
		memcpy(d + 0x50, &cw, 2);
		memcpy(host, d, 0x400);

		cpu_reset_flat32(c, CODE);
		c->cr0 |= CR0_NE | CR0_ET;
		memcpy(ram + CODE, program, sizeof(program));
		cpu_mem_written(c, CODE, sizeof(program));
		cpu_mem_written(c, DATA, 0x400);
		ev = cpu_run(c, 1000);
		native(host);
		if (ev != CPU_HALT) {
			if (bad_run++ < 3)
				printf("# run %ld: event %d, eip %08x: %s\n", n,
				       ev, c->eip, cpu_error(c));
			continue;
		}
		for (i = 0; i < ARRAY_SIZE(checked); i++) {
			u32 o = checked[i].off, l = checked[i].len;

			if (!memcmp(d + o, host + o, l))
				continue;
			if (bad++ < 5)
				printf("# run %ld: %s differs\n", n,
				       checked[i].what);
		}
		/* FIP, FCS|FOP, FDP, FDS of the fstp dword [ebx+0x48]. */
		memcpy(ptr, d + 0x10c, 16);
		if (ptr[0] != FSTP_M32_EIP ||
		    ptr[1] != ((0x0100u | 0x5b) << 16 | c->seg[S_CS].sel) ||
		    ptr[2] != DATA + 0x48 ||
		    (u16)ptr[3] != c->seg[S_DS].sel) {
			if (bad_ptr++ < 3)
				printf("# run %ld: pointers %08x %08x %08x %08x\n",
				       n, ptr[0], ptr[1], ptr[2], ptr[3]);
		}
	}
	printf("%s - x87 program runs to HLT through cpu_run (%ld runs)\n",
	       bad_run ? "not ok" : "ok", iters);
	printf("%s - x87 program results match the host x87\n",
	       bad || bad_run ? "not ok" : "ok");
	printf("%s - FNSTENV instruction and data pointers\n",
	       bad_ptr || bad_run ? "not ok" : "ok");
	cpu_free(c);
	return bad || bad_ptr || bad_run;
}
