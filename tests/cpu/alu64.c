/*
 * The arithmetic unit (src/cpu/alu.c) at every operand size, 64 bits
 * included, against the host CPU.
 *
 * Before the CPU runs 64-bit code, its arithmetic already works on 64-bit
 * values (long mode will use them as they are).  Here each operation runs
 * twice from the same operands and flags: once on the host, as the real
 * instruction with REX.W (or 66, or a byte form), between POPFQ and
 * PUSHFQ; once through alu.c, whose flags come out through
 * cpu_get_eflags().  Results and every flag the SDM defines for the
 * operation must agree; where it leaves a flag undefined, it is not
 * compared.  Operands are random, edge values (0, 1, the sign bit, all
 * ones, and their neighbours) and every shift count.
 *
 *   alu64 [cases per operation and size]     prints TAP, exits 1 on mismatch
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/exec.h"

static u64 rng = 0x2545f4914f6cdd1dull;

static u64 rnd64(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const u64 edges[] = {
	0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff,
	0x80000000, 0xffffffff, 0x100000000ull, 0x7fffffffffffffffull,
	0x8000000000000000ull, 0xfffffffffffffffeull, 0xffffffffffffffffull,
};

static u64 operand(void)
{
	u64 r = rnd64();

	switch (r % 4) {
	case 0:
		return edges[(r >> 8) % (sizeof(edges) / sizeof(edges[0]))];
	case 1:
		return (r >> 8) & 0xff;
	default:
		return rnd64();
	}
}

/* --- The host --- */

/* One instruction on the host: flags in, flags out, operands in rax and
 * rcx (rdx for the wide ones). */
#define HOST2(insn)							\
	__asm__ volatile("push %[fi]; popfq; " insn "; pushfq; pop %[fo]" \
			 : "+a"(a), "+c"(b), [fo] "=r"(fo)		\
			 : [fi] "r"(fi) : "cc")

enum { OPS_ARITH = 8 };

static u64 host_arith(int op, int size, u64 a, u64 b, u64 fi, u64 *f)
{
	u64 fo;

#define ARITH(n)							\
	switch (size) {							\
	case 1: HOST2(n "b %%cl, %%al"); break;				\
	case 2: HOST2(n "w %%cx, %%ax"); break;				\
	case 4: HOST2(n "l %%ecx, %%eax"); break;			\
	default: HOST2(n "q %%rcx, %%rax"); break;			\
	}
	switch (op) {
	case 0: ARITH("add"); break;
	case 1: ARITH("or"); break;
	case 2: ARITH("adc"); break;
	case 3: ARITH("sbb"); break;
	case 4: ARITH("and"); break;
	case 5: ARITH("sub"); break;
	case 6: ARITH("xor"); break;
	default: ARITH("cmp"); break;
	}
#undef ARITH
	*f = fo;
	return a;
}

/* Group 2 (ROL ROR RCL RCR SHL SHR SAL SAR) by CL; then SHLD, SHRD as 8
 * and 9, NEG, INC, DEC as 10..12. */
static u64 host_shift(int op, int size, u64 a, u64 b, u8 count, u64 fi,
		      u64 *f)
{
	u64 fo;
	u64 cnt = count;

#define SH(n)								\
	__asm__ volatile("push %[fi]; popfq; " n "; pushfq; pop %[fo]"	\
			 : "+a"(a), "+c"(cnt), [fo] "=r"(fo)		\
			 : [fi] "r"(fi), "d"(b) : "cc")
#define SHIFT(n)							\
	switch (size) {							\
	case 1: SH(n "b %%cl, %%al"); break;				\
	case 2: SH(n "w %%cl, %%ax"); break;				\
	case 4: SH(n "l %%cl, %%eax"); break;				\
	default: SH(n "q %%cl, %%rax"); break;				\
	}
#define DSHIFT(n)							\
	switch (size) {							\
	case 2: SH(n "w %%cl, %%dx, %%ax"); break;			\
	case 4: SH(n "l %%cl, %%edx, %%eax"); break;			\
	default: SH(n "q %%cl, %%rdx, %%rax"); break;			\
	}
#define ONE(n)								\
	switch (size) {							\
	case 1: SH(n "b %%al"); break;					\
	case 2: SH(n "w %%ax"); break;					\
	case 4: SH(n "l %%eax"); break;					\
	default: SH(n "q %%rax"); break;				\
	}
	switch (op) {
	case 0: SHIFT("rol"); break;
	case 1: SHIFT("ror"); break;
	case 2: SHIFT("rcl"); break;
	case 3: SHIFT("rcr"); break;
	case 4: case 6: SHIFT("shl"); break;
	case 5: SHIFT("shr"); break;
	case 7: SHIFT("sar"); break;
	case 8: DSHIFT("shld"); break;
	case 9: DSHIFT("shrd"); break;
	case 10: ONE("neg"); break;
	case 11: ONE("inc"); break;
	default: ONE("dec"); break;
	}
#undef SH
#undef SHIFT
#undef DSHIFT
#undef ONE
	*f = fo;
	return a;
}

/* MUL, IMUL, DIV, IDIV of rDX:rAX by rCX; false if the host would
 * raise #DE (the caller checks that first). */
static void host_muldiv(int op, int size, u64 *ax, u64 *dx, u64 b, u64 fi,
			u64 *f)
{
	u64 a = *ax, d = *dx, fo;

#define MD(n)								\
	__asm__ volatile("push %[fi]; popfq; " n "; pushfq; pop %[fo]"	\
			 : "+a"(a), "+d"(d), [fo] "=r"(fo)		\
			 : [fi] "r"(fi), "c"(b) : "cc")
#define MDS(n)								\
	switch (size) {							\
	case 1: MD(n "b %%cl"); break;					\
	case 2: MD(n "w %%cx"); break;					\
	case 4: MD(n "l %%ecx"); break;					\
	default: MD(n "q %%rcx"); break;				\
	}
	switch (op) {
	case 0: MDS("mul"); break;
	case 1: MDS("imul"); break;
	case 2: MDS("div"); break;
	default: MDS("idiv"); break;
	}
#undef MD
#undef MDS
	*ax = a;
	*dx = d;
	*f = fo;
}

/* --- Ours --- */

static struct cpu *cpu;

static void our_flags_in(u64 fi)
{
	cpu_set_eflags(cpu, (u32)fi, F_ARITH);
}

static u32 our_flags(void)
{
	return cpu_get_eflags(cpu) & F_ARITH;
}

/* --- Comparing --- */

static long cases, bad;

static void report(const char *what, int size, u64 a, u64 b, u64 fi,
		   u64 want, u64 got, u32 wf, u32 gf, u32 mask)
{
	if (++bad > 20)
		return;
	printf("#   %s size %d: a=%llx b=%llx flags in %03llx: host %llx "
	       "flags %03x, ours %llx flags %03x (compared %03x)\n", what,
	       size, (unsigned long long)a, (unsigned long long)b,
	       (unsigned long long)fi & F_ARITH, (unsigned long long)want,
	       wf & mask, (unsigned long long)got, gf & mask, mask);
}

static void compare(const char *what, int size, u64 a, u64 b, u64 fi,
		    u64 want, u64 got, u32 wf, u32 gf, u32 mask)
{
	u64 m = size_mask(size);

	cases++;
	if ((want & m) != (got & m) || ((wf ^ gf) & mask))
		report(what, size, a, b, fi, want & m, got & m, wf, gf, mask);
}

static const char *const arith_name[8] = {
	"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp",
};
static const char *const shift_name[13] = {
	"rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar", "shld",
	"shrd", "neg", "inc", "dec",
};

static void test_arith(int op, int size)
{
	u64 a = operand(), b = operand(), fi = rnd64() & F_ARITH, hf, r;
	u64 want = host_arith(op, size, a, b, fi, &hf);
	u32 mask = F_ARITH;

	if (op == 1 || op == 4 || op == 6)
		mask &= ~F_AF;		/* undefined for the logic ops */
	our_flags_in(fi);
	r = alu_arith(cpu, op, a, b, size);
	if (op == 7)
		r = want = 0;		/* CMP: flags only */
	compare(arith_name[op], size, a, b, fi, want, r, (u32)hf,
		our_flags(), mask);
}

static void test_shift(int op, int size, u8 count)
{
	u64 a = operand(), b = operand(), fi = rnd64() & F_ARITH, hf, r;
	u64 want = host_shift(op, size, a, b, count, fi, &hf);
	int bits = size * 8;
	u32 mask = F_ARITH, n = count & (size == 8 ? 63 : 31);

	our_flags_in(fi);
	if (op < 8) {
		r = alu_shift(cpu, op, a, n, size);
		if (op < 4) {
			/* Rotates: CF, and OF for a count of 1 only; the
			 * rest must not move. */
			if (n > 1)
				mask &= ~F_OF;
		} else if (n) {
			mask &= ~F_AF;
			if (n != 1)
				mask &= ~F_OF;
			if (n > (u32)bits)	/* 8/16-bit: CF undefined */
				mask &= ~F_CF;
		}
	} else if (op < 10) {
		if (size == 1)
			return;
		if (size == 2 && n > 16)
			return;		/* result undefined */
		r = op == 8 ? alu_shld(cpu, a, b, n, size) :
			      alu_shrd(cpu, a, b, n, size);
		if (n) {
			mask &= ~F_AF;
			if (n != 1)
				mask &= ~F_OF;
		}
	} else {
		r = op == 10 ? alu_neg(cpu, a, size) :
		    op == 11 ? alu_inc(cpu, a, size) : alu_dec(cpu, a, size);
	}
	compare(shift_name[op], size, a, b, fi | count << 12, want, r,
		(u32)hf, our_flags(), mask);
}

/* Would DIV or IDIV of dx:ax by b fault? */
static bool div_faults(int op, int size, u64 ax, u64 dx, u64 b)
{
	int bits = size * 8;
	u64 m = size_mask(size);
	unsigned __int128 n;

	b &= m;
	if (b == 0)
		return true;
	n = size == 1 ? (u16)ax :
	    (unsigned __int128)(dx & m) << bits | (ax & m);
	if (op == 2)
		return n / b > m;
	{
		__int128 sn = (__int128)(n << (128 - 2 * bits)) >>
			      (128 - 2 * bits);
		__int128 sb = (s64)sext(b, size), q;
		__int128 lim = (__int128)1 << (bits - 1);

		if (sb == -1 && sn == -(__int128)(~(unsigned __int128)0 >> 1) - 1)
			return true;
		q = sn / sb;
		return q >= lim || q < -lim;
	}
}

static void test_muldiv(int op, int size)
{
	static const char *const name[4] = { "mul", "imul", "div", "idiv" };
	u64 ax = operand(), dx = op < 2 ? 0 : operand(), b = operand();
	u64 fi = rnd64() & F_ARITH, hf, hax, hdx;
	u32 mask = op < 2 ? F_CF | F_OF : 0;
	bool faults = op >= 2 && div_faults(op, size, ax, dx, b);
	u64 got, want;

	if (op >= 2 && size > 1 && !faults && rnd64() % 2) {
		/* Make most divisions fit: a small high half. */
		dx = (s64)sext(ax, size) < 0 && op == 3 ? size_mask(size) : 0;
		faults = div_faults(op, size, ax, dx, b);
	}
	cpu->r[R_EAX].q = ax;
	cpu->r[R_EDX].q = dx;
	our_flags_in(fi);
	if (setjmp(cpu->jmp)) {
		cases++;
		if (!faults)
			report(name[op], size, ax, b, fi, 0, 1, 0, 0, 0);
		return;
	}
	if (op < 2)
		alu_mul(cpu, size, b, op == 1);
	else
		alu_div(cpu, size, b, op == 3);
	if (faults) {
		cases++;
		report(name[op], size, ax, b, fi, 1, 0, 0, 0, 0);
		return;
	}
	hax = ax;
	hdx = dx;
	host_muldiv(op, size, &hax, &hdx, b, fi, &hf);
	/* Both halves of the answer, whatever the size keeps them in. */
	if (size == 1) {
		want = hax & 0xffff;
		got = cpu->r[R_EAX].q & 0xffff;
	} else {
		want = hax & size_mask(size);
		got = cpu->r[R_EAX].q & size_mask(size);
		compare(name[op], size, ax, b, fi, hdx,
			cpu->r[R_EDX].q, 0, 0, 0);
	}
	compare(name[op], size, ax, b, fi, want, got, (u32)hf,
		our_flags(), mask);
}

int main(int argc, char **argv)
{
	static u8 ram[4096];
	long n = argc > 1 ? atol(argv[1]) : 20000, k;
	struct cpu_bus bus;
	int op, size;

	memset(&bus, 0, sizeof(bus));
	cpu = cpu_new(ram, sizeof(ram), &bus);
	for (size = 1; size <= 8; size *= 2) {
		for (op = 0; op < OPS_ARITH; op++)
			for (k = 0; k < n; k++)
				test_arith(op, size);
		for (op = 0; op < 13; op++)
			for (k = 0; k < n; k++)
				test_shift(op, size, (u8)(k % 64 ?
					rnd64() % (size * 8 + 2) : 0));
		for (op = 0; op < 4; op++)
			for (k = 0; k < n; k++)
				test_muldiv(op, size);
	}
	printf("%s - alu: %ld cases at sizes 1, 2, 4 and 8 against the host "
	       "(add..cmp, shifts, rotates, shld/shrd, neg/inc/dec, "
	       "mul/imul/div/idiv), %ld mismatches\n",
	       bad ? "not ok" : "ok", cases, bad);
	cpu_free(cpu);
	return bad != 0;
}
