/*
 * Differential test of the x87 (src/cpu/fpu.c) against the host's own x87.
 *
 * For every x87 instruction form an i686 has, random and edge-case states
 * (registers, tags, TOP, control word with every rounding and precision
 * mode and random masks, condition codes, EFLAGS, the memory operand) are
 * run twice: natively, by generated code that does FXRSTOR, the very
 * instruction (memory operands through [RSI]), FXSAVE, FNSTENV; and through
 * fpu_exec() on a struct cpu.  All eight registers (80 bits each, empty ones
 * too), the control, status and full tag words, EFLAGS, AX and the memory
 * around the operand must match bit for bit.  The native side goes through
 * FXSAVE's layout, not FNSAVE's as fpu.c does, so the two do not share the
 * conversion code they check.
 *
 * fpu.c is linked alone, with the few CPU helpers it calls (mem_read,
 * cpu_raise, ...) stubbed here over a flat array, so that this test checks
 * the FPU and nothing else.  Then come checks that have no native
 * counterpart: #UD forms, pending #MF, faults before any state change,
 * the real-mode environment layout.
 *
 * FPU_TEST_ITER=n runs n cases per form (default 2000); FPU_TEST_SEED=s
 * changes the random seed (default fixed).  Output is TAP-like.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cpu/cpu_internal.h"

/* --- The stubbed CPU around fpu.c --- */

#define RAM_SIZE 0x10000u
#define MEM_OFF 0x1000u		/* where the operand area lives */
#define AREA 160		/* bytes compared around the operand */
#define OPND 16			/* operand offset inside the area */

static u8 ram[RAM_SIZE];
static u32 fault_lo = ~0u, fault_hi = ~0u;	/* writes here fault */
static int raised;		/* vector + 1 of the last cpu_raise */

noreturn void cpu_raise(struct cpu *c, int vec, u32 err)
{
	(void)err;
	raised = vec + 1;
	longjmp(c->jmp, 1);
}

noreturn void cpu_ud(struct cpu *c)
{
	cpu_raise(c, EXC_UD, 0);
}

static void check_range(struct cpu *c, u64 off, u32 len, int acc)
{
	if (off >= RAM_SIZE || len > RAM_SIZE - off)
		cpu_raise(c, EXC_GP, 0);
	if (acc == ACC_WRITE && off < fault_hi && off + len > fault_lo)
		cpu_raise(c, EXC_PF, 0);
}

u64 mem_read(struct cpu *c, int seg, u64 off, int size)
{
	u64 v = 0;

	(void)seg;
	check_range(c, off, size, ACC_READ);
	memcpy(&v, ram + off, size);
	return v;
}

void mem_write(struct cpu *c, int seg, u64 off, u64 val, int size)
{
	(void)seg;
	check_range(c, off, size, ACC_WRITE);
	memcpy(ram + off, &val, size);
}

void mem_check(struct cpu *c, int seg, u64 off, u32 len, int acc)
{
	(void)seg;
	check_range(c, off, len, acc);
}

u32 cpu_get_eflags(struct cpu *c)
{
	return c->eflags;
}

void cpu_set_eflags(struct cpu *c, u32 val, u32 mask)
{
	c->eflags = (c->eflags & ~mask) | (val & mask) | F_FIXED1;
}

/* --- Random numbers --- */

static u64 rng_state = 0x9e3779b97f4a7c15ull;

static u64 rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static u32 rndn(u32 n)
{
	return rnd() % n;
}

/* An 80-bit value from a mix of edge classes and ordinary numbers. */
static void gen80(u8 *p)
{
	u64 m = rnd();
	u16 e = rnd() & 0x7fff, s = rndn(2) << 15;

	switch (rndn(20)) {
	case 0: m = 0; e = 0; break;				/* ±0 */
	case 1: m = 1ull << 63; e = 0x7fff; break;		/* ±inf */
	case 2: m |= 3ull << 62; e = 0x7fff; break;		/* QNaN */
	case 3: m = (m | 1) & ~(1ull << 62);			/* SNaN */
		m |= 1ull << 63; e = 0x7fff; break;
	case 4: m &= ~(1ull << 63); e = 0; break;		/* denormal */
	case 5: m |= 1ull << 63; e = 0; break;		/* pseudo-denormal */
	case 6: if (rndn(4) == 0) {				/* unsupported */
			m &= ~(1ull << 63);
			e = rndn(2) ? 0x7fff : e | 1;
		} else {
			m |= 1ull << 63;
		}
		break;
	case 7: case 8: m |= 1ull << 63; break;		/* any exponent */
	case 9: m = (rnd() % 100000) << 46 | 1ull << 63;	/* integers */
		e = 0x3fff + rndn(20); break;
	case 10: m = (m >> rndn(64)) | 1ull << 63;		/* few bits */
		m &= ~0ull << rndn(60);
		e = 0x3fff + rndn(130) - 65; break;
	case 11: m |= 1ull << 63;				/* float edges */
		e = rndn(2) ? 0x3fff + 127 + rndn(3) - 1 : 0x3fff - 126 - rndn(30);
		break;
	case 12: m |= 1ull << 63;				/* double edges */
		e = rndn(2) ? 0x3fff + 1023 + rndn(3) - 1 : 0x3fff - 1022 - rndn(60);
		break;
	case 13: m |= 1ull << 63;				/* ext edges */
		e = rndn(2) ? 0x7ffe - rndn(3) : 1 + rndn(3); break;
	case 14: m |= 1ull << 63;				/* int edges */
		e = 0x3fff + 14 + rndn(52); break;
	default: m |= 1ull << 63; e = 0x3fff + rndn(80) - 40; break;
	}
	memcpy(p, &m, 8);
	e |= s;
	memcpy(p + 8, &e, 2);
}

static void gen_f32(u8 *p)
{
	u32 v = rnd();

	switch (rndn(10)) {
	case 0: v &= 0x80000000u; break;
	case 1: v = (v & 0x80000000u) | 0x7f800000u; break;
	case 2: v |= 0x7f800000u; break;			/* NaN (or inf) */
	case 3: v &= 0x807fffffu; break;			/* denormal */
	case 4: v = (v & 0xff800000u) | (v & 0x7fff); break;
	}
	memcpy(p, &v, 4);
}

static void gen_f64(u8 *p)
{
	u64 v = rnd();

	switch (rndn(10)) {
	case 0: v &= 1ull << 63; break;
	case 1: v = (v & 1ull << 63) | 0x7ffull << 52; break;
	case 2: v |= 0x7ffull << 52; break;
	case 3: v &= ~(0x7ffull << 52); break;
	case 4: v &= ~0ull << rndn(52); break;
	}
	memcpy(p, &v, 8);
}

static void gen_int(u8 *p, int size)
{
	u64 v = rnd();

	switch (rndn(6)) {
	case 0: v = 0; break;
	case 1: v = ~0ull; break;
	case 2: v = 1ull << (8 * size - 1); break;		/* minimum */
	case 3: v = (1ull << (8 * size - 1)) - 1; break;	/* maximum */
	case 4: v = (s64)(s16)v; break;			/* small */
	}
	memcpy(p, &v, size);
}

static void gen_bcd(u8 *p)
{
	int i;

	for (i = 0; i < 9; i++)
		p[i] = rndn(8) ? rndn(10) << 4 | rndn(10) : rnd();
	p[9] = rndn(4) ? (rndn(2) ? 0x80 : 0) : rnd();
}

/* --- The forms --- */

enum mkind { M_NONE, M_F32, M_F64, M_F80, M_I16, M_I32, M_I64, M_BCD,
	     M_ENV, M_SAVE, M_CW, M_OUT };

struct form {
	const char *name;
	u8 op, modrm;		/* modrm: register form, or reg << 3 | 6 */
	int count;		/* register forms: how many (1 or 8) */
	enum mkind mem;
	int opsize;		/* 2 for the 16-bit environment forms */
	int size;		/* memory operand bytes (M_OUT: written) */
	long runs, fails;
};

#define RF(n, o, m, k) { n, o, m, k, M_NONE, 4, 0, 0, 0 }
#define MF(n, o, r, t, s) { n, o, (r) << 3 | 6, 1, t, 4, s, 0, 0 }

static struct form forms[] = {
	RF("fadd st,st(i)", 0xd8, 0xc0, 8), RF("fmul st,st(i)", 0xd8, 0xc8, 8),
	RF("fcom st(i)", 0xd8, 0xd0, 8), RF("fcomp st(i)", 0xd8, 0xd8, 8),
	RF("fsub st,st(i)", 0xd8, 0xe0, 8), RF("fsubr st,st(i)", 0xd8, 0xe8, 8),
	RF("fdiv st,st(i)", 0xd8, 0xf0, 8), RF("fdivr st,st(i)", 0xd8, 0xf8, 8),
	RF("fld st(i)", 0xd9, 0xc0, 8), RF("fxch st(i)", 0xd9, 0xc8, 8),
	RF("fnop", 0xd9, 0xd0, 1), RF("fstp1 st(i)", 0xd9, 0xd8, 8),
	RF("fchs", 0xd9, 0xe0, 1), RF("fabs", 0xd9, 0xe1, 1),
	RF("ftst", 0xd9, 0xe4, 1), RF("fxam", 0xd9, 0xe5, 1),
	RF("fld1", 0xd9, 0xe8, 1), RF("fldl2t", 0xd9, 0xe9, 1),
	RF("fldl2e", 0xd9, 0xea, 1), RF("fldpi", 0xd9, 0xeb, 1),
	RF("fldlg2", 0xd9, 0xec, 1), RF("fldln2", 0xd9, 0xed, 1),
	RF("fldz", 0xd9, 0xee, 1),
	RF("f2xm1", 0xd9, 0xf0, 1), RF("fyl2x", 0xd9, 0xf1, 1),
	RF("fptan", 0xd9, 0xf2, 1), RF("fpatan", 0xd9, 0xf3, 1),
	RF("fxtract", 0xd9, 0xf4, 1), RF("fprem1", 0xd9, 0xf5, 1),
	RF("fdecstp", 0xd9, 0xf6, 1), RF("fincstp", 0xd9, 0xf7, 1),
	RF("fprem", 0xd9, 0xf8, 1), RF("fyl2xp1", 0xd9, 0xf9, 1),
	RF("fsqrt", 0xd9, 0xfa, 1), RF("fsincos", 0xd9, 0xfb, 1),
	RF("frndint", 0xd9, 0xfc, 1), RF("fscale", 0xd9, 0xfd, 1),
	RF("fsin", 0xd9, 0xfe, 1), RF("fcos", 0xd9, 0xff, 1),
	RF("fcmovb", 0xda, 0xc0, 8), RF("fcmove", 0xda, 0xc8, 8),
	RF("fcmovbe", 0xda, 0xd0, 8), RF("fcmovu", 0xda, 0xd8, 8),
	RF("fucompp", 0xda, 0xe9, 1),
	RF("fcmovnb", 0xdb, 0xc0, 8), RF("fcmovne", 0xdb, 0xc8, 8),
	RF("fcmovnbe", 0xdb, 0xd0, 8), RF("fcmovnu", 0xdb, 0xd8, 8),
	RF("fnclex", 0xdb, 0xe2, 1), RF("fninit", 0xdb, 0xe3, 1),
	RF("fucomi st(i)", 0xdb, 0xe8, 8), RF("fcomi st(i)", 0xdb, 0xf0, 8),
	RF("fadd st(i),st", 0xdc, 0xc0, 8), RF("fmul st(i),st", 0xdc, 0xc8, 8),
	RF("fcom2 st(i)", 0xdc, 0xd0, 8), RF("fcomp3 st(i)", 0xdc, 0xd8, 8),
	RF("fsubr st(i),st", 0xdc, 0xe0, 8), RF("fsub st(i),st", 0xdc, 0xe8, 8),
	RF("fdivr st(i),st", 0xdc, 0xf0, 8), RF("fdiv st(i),st", 0xdc, 0xf8, 8),
	RF("ffree st(i)", 0xdd, 0xc0, 8), RF("fxch4 st(i)", 0xdd, 0xc8, 8),
	RF("fst st(i)", 0xdd, 0xd0, 8), RF("fstp st(i)", 0xdd, 0xd8, 8),
	RF("fucom st(i)", 0xdd, 0xe0, 8), RF("fucomp st(i)", 0xdd, 0xe8, 8),
	RF("faddp st(i),st", 0xde, 0xc0, 8), RF("fmulp st(i),st", 0xde, 0xc8, 8),
	RF("fcomp5 st(i)", 0xde, 0xd0, 8), RF("fcompp", 0xde, 0xd9, 1),
	RF("fsubrp st(i),st", 0xde, 0xe0, 8), RF("fsubp st(i),st", 0xde, 0xe8, 8),
	RF("fdivrp st(i),st", 0xde, 0xf0, 8), RF("fdivp st(i),st", 0xde, 0xf8, 8),
	RF("ffreep st(i)", 0xdf, 0xc0, 8), RF("fxch7 st(i)", 0xdf, 0xc8, 8),
	RF("fstp8 st(i)", 0xdf, 0xd0, 8), RF("fstp9 st(i)", 0xdf, 0xd8, 8),
	RF("fnstsw ax", 0xdf, 0xe0, 1),
	RF("fucomip st(i)", 0xdf, 0xe8, 8), RF("fcomip st(i)", 0xdf, 0xf0, 8),

	MF("fadd m32", 0xd8, 0, M_F32, 4), MF("fmul m32", 0xd8, 1, M_F32, 4),
	MF("fcom m32", 0xd8, 2, M_F32, 4), MF("fcomp m32", 0xd8, 3, M_F32, 4),
	MF("fsub m32", 0xd8, 4, M_F32, 4), MF("fsubr m32", 0xd8, 5, M_F32, 4),
	MF("fdiv m32", 0xd8, 6, M_F32, 4), MF("fdivr m32", 0xd8, 7, M_F32, 4),
	MF("fld m32", 0xd9, 0, M_F32, 4), MF("fst m32", 0xd9, 2, M_OUT, 4),
	MF("fstp m32", 0xd9, 3, M_OUT, 4),
	MF("fldenv", 0xd9, 4, M_ENV, 28), MF("fldcw", 0xd9, 5, M_CW, 2),
	MF("fnstenv", 0xd9, 6, M_OUT, 28), MF("fnstcw", 0xd9, 7, M_OUT, 2),
	MF("fiadd m32", 0xda, 0, M_I32, 4), MF("fimul m32", 0xda, 1, M_I32, 4),
	MF("ficom m32", 0xda, 2, M_I32, 4), MF("ficomp m32", 0xda, 3, M_I32, 4),
	MF("fisub m32", 0xda, 4, M_I32, 4), MF("fisubr m32", 0xda, 5, M_I32, 4),
	MF("fidiv m32", 0xda, 6, M_I32, 4), MF("fidivr m32", 0xda, 7, M_I32, 4),
	MF("fild m32", 0xdb, 0, M_I32, 4), MF("fist m32", 0xdb, 2, M_OUT, 4),
	MF("fistp m32", 0xdb, 3, M_OUT, 4), MF("fld m80", 0xdb, 5, M_F80, 10),
	MF("fstp m80", 0xdb, 7, M_OUT, 10),
	MF("fadd m64", 0xdc, 0, M_F64, 8), MF("fmul m64", 0xdc, 1, M_F64, 8),
	MF("fcom m64", 0xdc, 2, M_F64, 8), MF("fcomp m64", 0xdc, 3, M_F64, 8),
	MF("fsub m64", 0xdc, 4, M_F64, 8), MF("fsubr m64", 0xdc, 5, M_F64, 8),
	MF("fdiv m64", 0xdc, 6, M_F64, 8), MF("fdivr m64", 0xdc, 7, M_F64, 8),
	MF("fld m64", 0xdd, 0, M_F64, 8), MF("fst m64", 0xdd, 2, M_OUT, 8),
	MF("fstp m64", 0xdd, 3, M_OUT, 8),
	MF("frstor", 0xdd, 4, M_SAVE, 108), MF("fnsave", 0xdd, 6, M_OUT, 108),
	MF("fnstsw m16", 0xdd, 7, M_OUT, 2),
	MF("fiadd m16", 0xde, 0, M_I16, 2), MF("fimul m16", 0xde, 1, M_I16, 2),
	MF("ficom m16", 0xde, 2, M_I16, 2), MF("ficomp m16", 0xde, 3, M_I16, 2),
	MF("fisub m16", 0xde, 4, M_I16, 2), MF("fisubr m16", 0xde, 5, M_I16, 2),
	MF("fidiv m16", 0xde, 6, M_I16, 2), MF("fidivr m16", 0xde, 7, M_I16, 2),
	MF("fild m16", 0xdf, 0, M_I16, 2), MF("fist m16", 0xdf, 2, M_OUT, 2),
	MF("fistp m16", 0xdf, 3, M_OUT, 2), MF("fbld", 0xdf, 4, M_BCD, 10),
	MF("fild m64", 0xdf, 5, M_I64, 8), MF("fbstp", 0xdf, 6, M_OUT, 10),
	MF("fistp m64", 0xdf, 7, M_OUT, 8),
	{ "fldenv (16-bit)", 0xd9, 4 << 3 | 6, 1, M_ENV, 2, 14, 0, 0 },
	{ "fnstenv (16-bit)", 0xd9, 6 << 3 | 6, 1, M_OUT, 2, 14, 0, 0 },
	{ "frstor (16-bit)", 0xdd, 4 << 3 | 6, 1, M_SAVE, 2, 94, 0, 0 },
	{ "fnsave (16-bit)", 0xdd, 6 << 3 | 6, 1, M_OUT, 2, 94, 0, 0 },
};

/* --- The native side --- */

struct fxarea {
	u16 fcw, fsw;
	u8 ftw, res0;
	u16 fop;
	u32 fip, fcs, fdp, fds;
	u32 mxcsr, mxcsr_mask;
	struct { u8 v[10]; u8 pad[6]; } st[8];
	u8 rest[512 - 160];
} __attribute__((aligned(64)));

/* rdi: fxsave in, rsi: operand, rdx: fxsave out, rcx: fnstenv out,
 * r8: rflags in/out, r9: rax in/out. */
typedef void (*native_fn)(struct fxarea *in, void *mem, struct fxarea *out,
			  void *env, u64 *flags, u64 *rax);

static u8 *jit;
static size_t jit_used;

static native_fn make_native(u8 op, u8 modrm, int opsize)
{
	static const u8 pre[] = {
		0x49, 0x8b, 0x00,	/* mov rax, [r8] */
		0x50, 0x9d,		/* push rax; popfq */
		0x0f, 0xae, 0x0f,	/* fxrstor [rdi] */
		0x49, 0x8b, 0x01,	/* mov rax, [r9] */
	};
	static const u8 post[] = {
		0x49, 0x89, 0x01,	/* mov [r9], rax */
		0x0f, 0xae, 0x02,	/* fxsave [rdx] */
		0x9c, 0x58,		/* pushfq; pop rax */
		0x49, 0x89, 0x00,	/* mov [r8], rax */
		0xd9, 0x31,		/* fnstenv [rcx] */
		0xdb, 0xe3,		/* fninit */
		0xc3,			/* ret */
	};
	u8 *p = jit + jit_used;
	size_t n = 0;

	memcpy(p, pre, sizeof(pre));
	n += sizeof(pre);
	if (opsize == 2)
		p[n++] = 0x66;
	p[n++] = op;
	p[n++] = modrm;
	memcpy(p + n, post, sizeof(post));
	n += sizeof(post);
	jit_used += (n + 15) & ~15ul;
	return (native_fn)(void *)p;
}

/* --- One case --- */

struct state {
	u16 cw, sw;		/* sw includes TOP */
	u8 valid;		/* bit per physical register */
	u8 regs[8][10];		/* physical order */
	u32 eflags, eax;
	u8 mem[AREA];
};

static int full_tag(const u8 *v)
{
	u64 m;
	u16 e;

	memcpy(&m, v, 8);
	memcpy(&e, v + 8, 2);
	e &= 0x7fff;
	if (e == 0x7fff)
		return 2;
	if (e == 0)
		return m ? 2 : 1;
	return (m >> 63) ? 0 : 2;
}

static u16 cw_random(void)
{
	u16 cw = (rndn(4) << 10) | (rndn(4) << 8) | 0x40;

	if (rndn(2))
		cw |= 0x3f;
	else
		cw |= rnd() & 0x3f;
	if (rndn(8) == 0)
		cw |= rnd() & 0x1080;	/* the reserved and IC bits */
	return cw;
}

/* An environment (or save) image for FLDENV/FRSTOR to load. */
static void gen_env(u8 *p, int opsize, bool regs)
{
	int len = opsize == 2 ? 14 : 28, i;
	u16 cw = cw_random(), sw = rnd(), tw = rnd();

	if (rndn(2))
		tw = 0xffff & ~(3 << 2 * rndn(8));
	for (i = 0; i < len; i++)
		p[i] = rnd();
	if (opsize == 2) {
		memcpy(p, &cw, 2);
		memcpy(p + 2, &sw, 2);
		memcpy(p + 4, &tw, 2);
	} else {
		memcpy(p, &cw, 2);
		memcpy(p + 4, &sw, 2);
		memcpy(p + 8, &tw, 2);
	}
	if (regs)
		for (i = 0; i < 8; i++)
			gen80(p + len + 10 * i);
}

static void gen_state(struct state *s, const struct form *f)
{
	u8 *opnd = s->mem + OPND;
	int i;

	s->cw = (cw_random() & 0x1f3f) | 0x40;	/* as an FPU holds it */
	/* Only masked flags may be pending, else FXRSTOR arms #MF. */
	s->sw = (rnd() & 0x4700) | (rndn(8) << 11) | (rnd() & s->cw & 0x3f);
	if (s->sw & 1)
		s->sw |= rnd() & 0x40;
	switch (rndn(4)) {
	case 0: s->valid = rnd(); break;
	case 1: s->valid = 0xff; break;
	default: s->valid = 0xff & ~(1 << rndn(8)); break;
	}
	for (i = 0; i < 8; i++) {
		gen80(s->regs[i]);
		if (rndn(8) == 0)	/* equal operands */
			memcpy(s->regs[i], s->regs[rndn(8)], 10);
	}
	s->eflags = (rnd() & (F_ARITH)) | F_FIXED1;
	s->eax = rnd();
	for (i = 0; i < AREA; i++)
		s->mem[i] = rnd();
	switch (f->mem) {
	case M_F32: gen_f32(opnd); break;
	case M_F64: gen_f64(opnd); break;
	case M_F80: gen80(opnd); break;
	case M_I16: gen_int(opnd, 2); break;
	case M_I32: gen_int(opnd, 4); break;
	case M_I64: gen_int(opnd, 8); break;
	case M_BCD: gen_bcd(opnd); break;
	case M_CW: { u16 cw = cw_random(); memcpy(opnd, &cw, 2); break; }
	case M_ENV: gen_env(opnd, f->opsize, false); break;
	case M_SAVE: gen_env(opnd, f->opsize, true); break;
	default: break;
	}
}

struct result {
	u16 cw, sw, tw;
	u8 regs[8][10];
	u32 eflags, ax;
	u8 mem[AREA];
	int raised;
};

static struct cpu *cpu;

static void run_emulated(const struct state *s, const struct form *f,
			 u8 modrm, struct result *r)
{
	struct cpu *c = cpu;
	int i;

	memset(&c->fpu, 0, sizeof(c->fpu));
	c->fpu.cw = s->cw;
	c->fpu.sw = s->sw;
	c->fpu.top = (s->sw >> 11) & 7;
	c->fpu.tw = 0;
	for (i = 0; i < 8; i++) {
		memcpy(&c->fpu.st[i], s->regs[i], 10);
		c->fpu.tw |= (s->valid >> i & 1 ? full_tag(s->regs[i]) : 3)
			     << 2 * i;
	}
	c->eflags = s->eflags;
	c->r[R_EAX].d = s->eax;
	memcpy(ram + MEM_OFF, s->mem, AREA);
	raised = 0;
	if (!setjmp(c->jmp))
		fpu_exec(c, f->op, modrm, S_DS, MEM_OFF + OPND, f->opsize);
	/* The registers may still be on the host's x87. */
	fpu_sync(c);
	r->raised = raised;
	r->cw = c->fpu.cw;
	r->sw = (c->fpu.sw & ~0x3800) | (c->fpu.top << 11);
	r->tw = c->fpu.tw;
	for (i = 0; i < 8; i++)
		memcpy(r->regs[i], &c->fpu.st[i], 10);
	r->eflags = c->eflags & (F_ARITH);
	r->ax = (u16)c->r[R_EAX].d;
	memcpy(r->mem, ram + MEM_OFF, AREA);
}

static void run_native(const struct state *s, native_fn fn,
		       struct result *r)
{
	static struct fxarea in, out;
	u8 env[28];
	u64 flags = s->eflags, rax = s->eax;
	u16 host_cw;
	u32 mxcsr;
	int i, top = (s->sw >> 11) & 7;

	asm volatile("fnstcw %0; stmxcsr %1" : "=m" (host_cw), "=m" (mxcsr));
	memset(&in, 0, sizeof(in));
	in.fcw = s->cw;
	in.fsw = s->sw;
	in.ftw = s->valid;
	in.mxcsr = mxcsr;
	for (i = 0; i < 8; i++)
		memcpy(in.st[i].v, s->regs[(top + i) & 7], 10);
	memcpy(r->mem, s->mem, AREA);
	fn(&in, r->mem + OPND, &out, env, &flags, &rax);
	asm volatile("fldcw %0; ldmxcsr %1" : : "m" (host_cw), "m" (mxcsr));

	r->raised = 0;
	r->cw = out.fcw;
	r->sw = out.fsw;
	memcpy(&r->tw, env + 8, 2);
	top = (out.fsw >> 11) & 7;
	for (i = 0; i < 8; i++)
		memcpy(r->regs[(top + i) & 7], out.st[i].v, 10);
	r->eflags = flags & F_ARITH;
	r->ax = (u16)rax;
}

/* Bytes of FNSTENV/FNSAVE images that hold instruction and data pointers,
 * which differ between host and guest by nature. */
static bool pointer_byte(const struct form *f, int i)
{
	int off = i - OPND;

	if (f->mem != M_OUT || f->size < 14 || off < 0)
		return false;
	if (f->opsize == 2)
		return off >= 6 && off < 14;
	return off >= 12 && off < 28;
}

static void hex80(const u8 *v)
{
	printf("%02x%02x.%02x%02x%02x%02x%02x%02x%02x%02x", v[9], v[8], v[7],
	       v[6], v[5], v[4], v[3], v[2], v[1], v[0]);
}

static void report(const struct form *f, u8 modrm, const struct state *s,
		   const struct result *want, const struct result *got)
{
	int i;

	printf("# MISMATCH %s (%02x %02x)\n", f->name, f->op, modrm);
	printf("#  in: cw %04x sw %04x valid %02x eflags %03x\n",
	       s->cw, s->sw, s->valid, s->eflags);
	for (i = 0; i < 8; i++) {
		printf("#  r%d in ", i);
		hex80(s->regs[i]);
		printf(" native ");
		hex80(want->regs[i]);
		printf(" ours ");
		hex80(got->regs[i]);
		printf("%s\n", memcmp(want->regs[i], got->regs[i], 10) ?
		       " <--" : "");
	}
	printf("#  opnd in:");
	for (i = 0; i < 16; i++)
		printf(" %02x", s->mem[OPND + i]);
	printf("\n#  native: cw %04x sw %04x tw %04x fl %03x ax %04x raised %d\n",
	       want->cw, want->sw, want->tw, want->eflags, want->ax,
	       want->raised);
	printf("#  ours:   cw %04x sw %04x tw %04x fl %03x ax %04x raised %d\n",
	       got->cw, got->sw, got->tw, got->eflags, got->ax, got->raised);
	for (i = 0; i < AREA; i++)
		if (want->mem[i] != got->mem[i] && !pointer_byte(f, i))
			printf("#  mem[%d]: native %02x ours %02x\n", i - OPND,
			       want->mem[i], got->mem[i]);
}

static bool same(const struct form *f, const struct result *a,
		 const struct result *b, bool fcomi, bool fnstsw)
{
	int i;

	if (a->cw != b->cw || a->sw != b->sw || a->tw != b->tw ||
	    a->raised != b->raised)
		return false;
	if (memcmp(a->regs, b->regs, sizeof(a->regs)))
		return false;
	if (fcomi && a->eflags != b->eflags)
		return false;
	if (fnstsw && a->ax != b->ax)
		return false;
	for (i = 0; i < AREA; i++)
		if (a->mem[i] != b->mem[i] && !pointer_byte(f, i))
			return false;
	return true;
}

static int shown;

static void test_form(struct form *f, long iters)
{
	int k;

	for (k = 0; k < f->count; k++) {
		u8 modrm = f->modrm + k;
		native_fn fn = make_native(f->op, modrm, f->opsize);
		bool fcomi = (f->op == 0xdb || f->op == 0xdf) &&
			     ((modrm & 0xf8) == 0xe8 || (modrm & 0xf8) == 0xf0);
		bool fnstsw = f->op == 0xdf && modrm == 0xe0;
		long n;

		for (n = 0; n < iters; n++) {
			struct state s;
			struct result want, got;

			gen_state(&s, f);
			run_native(&s, fn, &want);
			run_emulated(&s, f, modrm, &got);
			f->runs++;
			if (same(f, &want, &got, fcomi, fnstsw))
				continue;
			f->fails++;
			if (shown++ < 6)
				report(f, modrm, &s, &want, &got);
		}
	}
}

/* --- Checks without a native counterpart --- */

static int ok_count, fail_count;

static void tap(bool ok, const char *what)
{
	printf("%s - %s\n", ok ? "ok" : "not ok", what);
	if (ok)
		ok_count++;
	else
		fail_count++;
}

static void reset_cpu(void)
{
	memset(&cpu->fpu, 0, sizeof(cpu->fpu));
	fpu_reset(cpu);
	cpu->cr0 = CR0_PE | CR0_ET | CR0_NE;
	cpu->eflags = F_FIXED1;
}

static int exec_raised(u8 op, u8 modrm, u32 off, int opsize)
{
	raised = 0;
	if (!setjmp(cpu->jmp))
		fpu_exec(cpu, op, modrm, S_DS, off, opsize);
	fpu_sync(cpu);
	return raised;
}

/* Every register form and memory form not in the table must be #UD. */
static void check_ud(void)
{
	int op, m, bad = 0, i;

	for (op = 0xd8; op <= 0xdf; op++) {
		for (m = 0; m < 256; m++) {
			bool known = false;
			int r;

			if (m >> 6 != 3 && (m & 0xc7) != 6)
				continue;	/* one memory modrm per reg */
			for (i = 0; i < (int)ARRAY_SIZE(forms); i++) {
				const struct form *f = &forms[i];

				if (f->op == op && m >= f->modrm &&
				    m < f->modrm + f->count)
					known = true;
			}
			/* FNENI, FNDISI, FNSETPM: no-ops. */
			if (op == 0xdb && (m == 0xe0 || m == 0xe1 || m == 0xe4))
				known = true;
			reset_cpu();
			r = exec_raised(op, m, MEM_OFF, 4);
			if (known != (r != EXC_UD + 1)) {
				printf("# %02x %02x: %s, raised %d\n", op, m,
				       known ? "valid" : "undefined", r - 1);
				bad++;
			}
		}
	}
	tap(!bad, "undefined x87 forms raise #UD, defined ones do not");
}

/* An unmasked exception leaves ES set; the next waiting instruction
 * raises #MF before it changes anything; FN* forms do not. */
static void check_pending(void)
{
	u8 one[4] = { 0, 0, 0x80, 0x3f };	/* 1.0f */
	struct fpu before;
	bool ok = true;
	int r;

	reset_cpu();
	cpu->fpu.cw = 0x037b;	/* divide-by-zero unmasked */
	memcpy(ram + MEM_OFF, one, 4);
	r = exec_raised(0xd9, 0xee, 0, 4);		/* fldz */
	r |= exec_raised(0xd9, 0x00 | 6, MEM_OFF, 4);	/* fld m32 = 1 */
	ok &= !r;
	r = exec_raised(0xd8, 0xf1, 0, 4);		/* fdiv st, st(1) */
	ok &= !r && (cpu->fpu.sw & 0x8084) == 0x8084;
	before = cpu->fpu;
	ok &= exec_raised(0xd9, 0xe8, 0, 4) == EXC_MF + 1;	/* fld1 */
	ok &= !memcmp(&before, &cpu->fpu, sizeof(before));
	ok &= exec_raised(0xd9, 0x28 | 6, MEM_OFF, 4) == EXC_MF + 1; /* fldcw */
	raised = 0;
	if (!setjmp(cpu->jmp))
		fpu_wait(cpu);
	ok &= raised == EXC_MF + 1;
	ok &= exec_raised(0xdf, 0xe0, 0, 4) == 0;	/* fnstsw ax */
	ok &= (u16)cpu->r[R_EAX].d == ((cpu->fpu.sw & ~0x3800) |
				       cpu->fpu.top << 11);
	ok &= exec_raised(0xd9, 0x38 | 6, MEM_OFF, 4) == 0;	/* fnstcw */
	ok &= exec_raised(0xdd, 0x38 | 6, MEM_OFF, 4) == 0;	/* fnstsw */
	ok &= exec_raised(0xd9, 0x30 | 6, MEM_OFF, 4) == 0;	/* fnstenv */
	/* FNSTENV masked everything: nothing pending any more. */
	ok &= !(cpu->fpu.sw & 0x8080);
	ok &= exec_raised(0xd9, 0xe8, 0, 4) == 0;
	tap(ok, "unmasked exception: ES/B set, #MF on next waiting insn only");

	reset_cpu();
	cpu->fpu.cw = 0x037b;
	exec_raised(0xd9, 0xee, 0, 4);		/* 1 / 0 */
	exec_raised(0xd9, 0xe8, 0, 4);
	exec_raised(0xd8, 0xf1, 0, 4);
	ok = (cpu->fpu.sw & 0x8084) == 0x8084;
	ok &= exec_raised(0xdb, 0xe2, 0, 4) == 0 && !(cpu->fpu.sw & 0x80ff);
	ok &= exec_raised(0xd9, 0xe8, 0, 4) == 0;
	tap(ok, "fnclex clears a pending exception");

	reset_cpu();
	cpu->fpu.cw = 0x037b;
	cpu->cr0 &= ~CR0_NE;
	exec_raised(0xd9, 0xee, 0, 4);		/* 1 / 0 */
	exec_raised(0xd9, 0xe8, 0, 4);
	exec_raised(0xd8, 0xf1, 0, 4);
	ok = exec_raised(0xd9, 0xe8, 0, 4) == 0 && (cpu->fpu.sw & 0x8080);
	tap(ok, "CR0.NE=0: pending exception stays pending, no #MF");
}

/* A store whose destination faults changes nothing. */
static void check_fault(void)
{
	struct fpu before;
	bool ok = true;
	static const u8 stores[][3] = {		/* op, reg, size */
		{ 0xd9, 3, 4 }, { 0xdb, 7, 10 }, { 0xdd, 3, 8 },
		{ 0xdf, 6, 10 }, { 0xdf, 7, 8 }, { 0xdd, 6, 108 },
		{ 0xd9, 6, 28 },
	};
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(stores); i++) {
		int r;

		reset_cpu();
		exec_raised(0xd9, 0xeb, 0, 4);		/* fldpi */
		exec_raised(0xd9, 0xe8, 0, 4);		/* fld1 */
		before = cpu->fpu;
		/* Only the last byte of the operand faults. */
		fault_lo = MEM_OFF + 200;
		fault_hi = fault_lo + 1;
		r = exec_raised(stores[i][0], stores[i][1] << 3 | 6,
				fault_lo + 1 - stores[i][2], 4);
		fault_lo = fault_hi = ~0u;
		ok &= r == EXC_PF + 1;
		ok &= !memcmp(&before, &cpu->fpu, sizeof(before));
	}
	tap(ok, "faulting stores leave the FPU unchanged");
}

/* Real-mode environment: FIP/FDP as 20-bit linear addresses, FOP kept. */
static void check_real_env(void)
{
	u8 *p = ram + MEM_OFF;
	bool ok = true;
	struct fpu before;

	reset_cpu();
	cpu->cr0 = CR0_ET | CR0_NE;
	cpu->seg[S_CS].sel = 0x1234;
	cpu->seg[S_DS].sel = 0x2000;
	cpu->insn_eip = 0x5678;
	exec_raised(0xdd, 0x00 | 6, MEM_OFF + 64, 4);	/* fld m64 */
	before = cpu->fpu;
	ok &= before.fop == 0x506 && before.fip == 0x5678 &&
	      before.fdp == MEM_OFF + 64;
	exec_raised(0xd9, 0x30 | 6, MEM_OFF, 4);	/* fnstenv, 32-bit */
	ok &= (p[12] | p[13] << 8) == ((0x12340 + 0x5678) & 0xffff);
	ok &= (p[16] | p[17] << 8 | p[18] << 16 | p[19] << 24) ==
	      (((0x12340u + 0x5678) >> 16) << 12 | 0x506);
	ok &= (p[20] | p[21] << 8) == ((0x20000 + MEM_OFF + 64) & 0xffff);
	exec_raised(0xd9, 0x30 | 6, MEM_OFF + 32, 2);	/* fnstenv, 16-bit */
	ok &= (p[32 + 6] | p[32 + 7] << 8) == ((0x12340 + 0x5678) & 0xffff);
	ok &= (p[32 + 8] | p[32 + 9] << 8) ==
	      ((((0x12340 + 0x5678) >> 16) & 0xf) << 12 | 0x506);
	exec_raised(0xd9, 0x20 | 6, MEM_OFF + 32, 2);	/* fldenv 16 */
	ok &= cpu->fpu.fip == 0x12340 + 0x5678 && cpu->fpu.fop == 0x506;
	ok &= cpu->fpu.fdp == 0x20000 + MEM_OFF + 64;
	tap(ok, "real-mode FNSTENV/FLDENV layouts");
}

int main(void)
{
	long iters = 2000;
	const char *e = getenv("FPU_TEST_ITER");
	unsigned i;
	long total = 0, bad_forms = 0;

	if (e)
		iters = atol(e);
	e = getenv("FPU_TEST_SEED");
	if (e)
		rng_state = strtoull(e, NULL, 0) | 1;
	jit = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE | PROT_EXEC,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (jit == MAP_FAILED) {
		printf("not ok - mmap for generated code failed\n");
		return 1;
	}
	cpu = calloc(1, sizeof(*cpu));
	cpu->ram = ram;
	cpu->ram_size = RAM_SIZE;
	cpu->cr0 = CR0_PE | CR0_ET | CR0_NE;
	cpu->seg[S_CS] = (struct seg){ 0x10, 0, 0xffffffff, 0xc09b };
	for (i = 0; i < 6; i++)
		if (i != S_CS)
			cpu->seg[i] = (struct seg){ 0x18, 0, 0xffffffff,
						    0xc093 };

	printf("# x87 differential test: %ld cases per form\n", iters);
	for (i = 0; i < ARRAY_SIZE(forms); i++)
		test_form(&forms[i], iters);

	printf("# %-20s %4s %9s %7s\n", "form", "op", "cases", "fails");
	for (i = 0; i < ARRAY_SIZE(forms); i++) {
		struct form *f = &forms[i];

		printf("# %-20s %02x%s%d %9ld %7ld\n", f->name, f->op,
		       f->modrm >= 0xc0 ? " r" : " /", f->modrm >= 0xc0 ?
		       f->count : f->modrm >> 3, f->runs, f->fails);
		total += f->runs;
		if (f->fails) {
			bad_forms++;
			printf("not ok - %s matches the host x87\n", f->name);
		}
	}
	tap(!bad_forms, "every x87 form matches the host x87 bit for bit");
	printf("# %zu forms, %ld cases\n", ARRAY_SIZE(forms), total);

	check_ud();
	check_pending();
	check_fault();
	check_real_env();
	return fail_count ? 1 : 0;
}
