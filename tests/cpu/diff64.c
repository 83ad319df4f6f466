/*
 * The 64-bit half of the differential CPU test (test_diff64.sh): every
 * form runs natively on the host (an x86-64) and on our CPU in 64-bit
 * mode, from the same sixteen 64-bit registers, RFLAGS, XMM0-15, MM0-7,
 * MXCSR and memory window, and afterwards the registers, the window, the
 * defined flags and the exception (if any) must agree.
 *
 * Our CPU is put straight into long mode, as its own code would leave it
 * after a boot loader's CR0/CR4/EFER writes: identity-mapped four-level
 * page tables over its small RAM, a GDT with a 64-bit code segment, a
 * 64-bit TSS whose IST1 stack takes every exception (so a fault leaves
 * the window untouched), and IDT gate v pointing at a HLT at
 * HANDLERS + 16 * v.  It then runs one instruction with cpu_run(c, 1).
 *
 * Natively the instruction sits at the same address (INSN_ADDR, mapped
 * at a fixed low address), so RIP-relative operands reach the same bytes:
 * a prologue loads every register from a state block by absolute
 * addressing, jumps to it, and an epilogue after it stores them back.  A
 * fault ends in a signal handler that takes the registers from the
 * signal context.
 *
 * The forms (forms_init) are built from tables: integer forms at every
 * operand size with and without REX.W, registers R8-R15 and the REX byte
 * registers, every addressing shape (RIP-relative, SIB with R12/R13,
 * 67-prefixed 32-bit addressing with garbage in the upper halves), and
 * the MMX/SSE/SSE2 forms that 64-bit mode reaches differently.  Which
 * flags the SDM leaves undefined is worked out per case and not compared.
 *
 * Usage: diff64  (environment: CPU_TEST_CASES per form, default 300;
 * CPU_TEST_SEED; CPU_TEST_FILTER=substring of a form name; CPU_TEST_SHOW
 * mismatches printed per form).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <asm/prctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "difftest.h"
#include "host_sse.h"
#include "../../src/cpu/cpu_internal.h"

/* Guest RAM and the long-mode tables in it. */
#define RAM_SIZE	(32u * 1024 * 1024)
#define GDT_ADDR	0x1000u
#define IDT_ADDR	0x2000u		/* 256 16-byte gates */
#define TSS_ADDR	0x3000u
#define IST_TOP		0x5000u	/* IST1: exception frames */
#define HANDLERS	0x6000u	/* gate v: HLT at HANDLERS + 16 v */
#define PML4_ADDR	0x10000u	/* then PDPT, PD, 16 PTs */
#define SEL_CODE64	0x10
#define SEL_TSS		0x20

/* Native and guest: the instruction, the window, the stub's state. */
#define PROLOGUE_ADDR	0x00300000u
#define INSN_ADDR	0x00400000u
#define CODE_MAP_SIZE	0x00200000u
#define WIN		DT_WIN_BASE
#define STACK		(DT_WIN_BASE + 0x1800u)
#define ST_ADDR		(DT_WIN_BASE + 0x10000u)
#define ST_R		ST_ADDR			/* u64 r[16] */
#define ST_RFL		(ST_ADDR + 128)
#define ST_SAVED	(ST_ADDR + 136)
#define ST_MXCSR	(ST_ADDR + 144)
#define ST_MXDEF	(ST_ADDR + 148)
#define ST_SLED		(ST_ADDR + 152)		/* the sled ran */
#define ST_XMM		(ST_ADDR + 256)		/* 16 x 16 */
#define ST_MM		(ST_ADDR + 512)		/* 8 x 8 */
#define LOW_MAP_SIZE	0x20000u

#define EXT_NONE	(-2)	/* no ModRM */
#define EXT_OPREG	(-3)	/* register in the opcode's low 3 bits */
#define EXT_R		(-1)	/* ModRM reg is an operand */

enum { RM_ANY, RM_REG, RM_MEM };
enum { K_G, K_X, K_M };		/* what a ModRM field names */
enum {
	K_PLAIN, K_SHIFT, K_SHXD, K_MUL, K_DIV, K_BT, K_BTI, K_BSF,
	K_CMPXCHG, K_CX, K_LEA, K_STACK, K_STR, K_XLAT, K_BR, K_MOFFS,
	K_LEAVE, K_ENTER, K_FLAGS,
	K_SSE, K_FX,	/* last: the SIMD kinds */
};

#define SZAP	(F_SF | F_ZF | F_AF | F_PF)
#define R_BIT(r) (1u << (r))

struct form {
	char name[48];
	u8 pfx, rep;		/* 66/F2/F3 prefix; REP/REPNE for strings */
	u8 w;			/* REX.W */
	u8 op[3], oplen;
	s8 ext;			/* EXT_*, or a /digit */
	u8 rm, imm, osz;	/* RM_*, immediate bytes, operand bytes */
	u8 kind, regk, rmk;
	u8 msize;		/* memory operand bytes */
	u8 lock;		/* LOCK allowed on the memory form */
	u8 sled;		/* a branch: +8 skips the sled */
	u16 resv;		/* registers the form uses implicitly */
	u32 undef;		/* flags the SDM leaves undefined */
	unsigned cases, bad, faults;
};

static struct form forms[1200];
static unsigned nforms;

struct c64 {
	u8 code[16];
	u8 len;
	u64 r[16];
	u64 rfl;
	u32 mxcsr;
	union v128 xmm[16];
	u64 mm[8];
	u8 win[DT_WIN_SIZE];
};

struct r64 {
	u64 r[16];
	u64 rfl, rip;		/* rip: at a fault, or after the insn */
	u32 mxcsr;
	union v128 xmm[16];
	u64 mm[8];
	int vec;		/* -1 none */
	u8 win[DT_WIN_SIZE];
};

/* What a case leaves defined. */
struct gen {
	const struct form *f;
	struct c64 *k;
	u32 flag_mask;
	u16 hi_undef;		/* registers whose upper halves differ */
	u32 skip_off[2], skip_len[2];	/* window bytes not compared */
	bool rex, mem, a32;
	int reg, rm;		/* register numbers (ModRM reg and rm) */
	u32 t;			/* memory operand address */
	u64 sbase;		/* FS or GS base with an override */
	int base;		/* base register of the operand, or -1 */
	int imm_at;
};

static u64 fs_base;		/* the host's TLS; ours gets the same */

/* --- random numbers --- */

static u64 rng_state = 0x853c49e6748fea9bull;

static u64 rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static u64 rnd_n(u64 n)
{
	return rnd() % n;
}

static u64 rand_val(void)
{
	static const u64 edge[] = {
		0, 1, 2, ~0ull, ~1ull, 0x7fffffffffffffffull,
		0x8000000000000000ull, 0x8000000000000001ull, 0xffffffffull,
		0x7fffffffull, 0x80000000ull, 0x100000000ull,
		0xffffffff00000000ull, 0xffffffff80000000ull, 0x7f, 0x80,
		0xff, 0x7fff, 0x8000, 0xffff, 0x0123456789abcdefull,
		0xffffffff7fffffffull, 0x00000000ffff0000ull,
	};
	u64 p = rnd_n(100);

	if (p < 30)
		return edge[rnd_n(ARRAY_SIZE(edge))];
	if (p < 40)
		return rnd_n(64);
	if (p < 45)
		return -rnd_n(64);
	if (p < 55)
		return (u32)rnd();
	if (p < 60)
		return (u64)(s64)(s32)rnd();
	return rnd();
}

static u32 rand_count(void)
{
	static const u32 edge[] = { 0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33,
				    63, 64, 65, 127, 128, 255 };

	return rnd_n(3) ? edge[rnd_n(ARRAY_SIZE(edge))] : (u32)rnd_n(256);
}

/* Floating-point palettes for the SSE forms. */
static const u32 f32_pal[] = {
	0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000,
	0xffc00000, 0x7fa00000, 0x00000001, 0x807fffff, 0x00800000,
	0x7f7fffff, 0x3f800000, 0xbf800000, 0x3f000000, 0x3fc00000,
	0x4f000000, 0xcf000000, 0x4effffff, 0x5f000000, 0xdf000000,
	0x5effffff, 0x3eaaaaab, 0x40490fdb,
};

static const u64 f64_pal[] = {
	0x0ull, 0x8000000000000000ull, 0x7ff0000000000000ull,
	0xfff0000000000000ull, 0x7ff8000000000000ull, 0x7ff4000000000000ull,
	0x0000000000000001ull, 0x800fffffffffffffull, 0x0010000000000000ull,
	0x7fefffffffffffffull, 0x3ff0000000000000ull, 0xbff0000000000000ull,
	0x3fe0000000000000ull, 0x3ff8000000000000ull, 0xc1e0000000000000ull,
	0x41e0000000000000ull, 0x41dfffffffc00000ull, 0x43e0000000000000ull,
	0xc3e0000000000000ull, 0x43dfffffffffffffull, 0xc3e0000000000001ull,
	0x4330000000000000ull, 0x3fd5555555555555ull, 0x400921fb54442d18ull,
};

static void fill(u8 *p, int n)
{
	int mode = (int)rnd_n(5), i;

	for (i = 0; i < n; i += 8) {
		u64 v = rnd();

		switch (mode) {
		case 0:
			break;
		case 1:
			v = (u64)f32_pal[rnd_n(ARRAY_SIZE(f32_pal))] << 32 |
			    f32_pal[rnd_n(ARRAY_SIZE(f32_pal))];
			break;
		case 2:
			v = f64_pal[rnd_n(ARRAY_SIZE(f64_pal))];
			if (rnd() & 1)
				v ^= rnd() & 0xffff;
			break;
		case 3:
			v = rand_val();
			break;
		default:
			v = rnd_n(80);
			break;
		}
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

static u32 gen_mxcsr(void)
{
	u32 m = MXCSR_RESET | (u32)(rnd() & 0x6000);

	if (rnd_n(4) == 0)
		m |= 0x0040;
	if (rnd_n(4) == 0)
		m |= 0x8000;
	if (rnd_n(4) == 0)
		m &= ~(u32)(rnd() & 0x1f80);
	if (rnd_n(4) == 0)
		m |= (u32)rnd() & 0x3f;
	return m;
}

/* --- the form table --- */

static struct form *add(const char *name, u8 pfx, u8 w, const u8 *op,
			int oplen, int ext, int rm, int imm, int osz, int kind,
			u32 undef)
{
	struct form *f = &forms[nforms++];

	if (nforms > ARRAY_SIZE(forms))
		abort();
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->pfx = pfx;
	f->w = w;
	memcpy(f->op, op, oplen);
	f->oplen = (u8)oplen;
	f->ext = (s8)ext;
	f->rm = (u8)rm;
	f->imm = (u8)imm;
	f->osz = (u8)osz;
	f->msize = (u8)osz;
	f->kind = (u8)kind;
	f->undef = undef;
	return f;
}

/* A form at 16, 32 and 64 bits: '#' in the name is the width. */
static void add_v(const char *name, const u8 *op, int oplen, int ext,
		  int rm, int imm, int kind, u32 undef, int sizes, u16 resv,
		  u8 lock)
{
	static const int sz[3] = { 2, 4, 8 };
	char buf[48], *p;
	int i;

	for (i = 0; i < 3; i++) {
		struct form *f;
		int im = imm;

		if (!(sizes & sz[i]))
			continue;
		snprintf(buf, sizeof(buf), "%s", name);
		while ((p = strchr(buf, '#'))) {
			char tail[48];

			snprintf(tail, sizeof(tail), "%s", p + 1);
			snprintf(p, sizeof(buf) - (size_t)(p - buf), "%d%s",
				 sz[i] * 8, tail);
		}
		if (imm == 5)	/* iz: 2 or 4 bytes */
			im = sz[i] == 2 ? 2 : 4;
		if (imm == 9)	/* iv: 2, 4 or 8 */
			im = sz[i];
		f = add(buf, sz[i] == 2 ? 0x66 : 0, sz[i] == 8, op, oplen,
			ext, rm, im, sz[i], kind, undef);
		f->resv = resv;
		f->lock = lock;
	}
}

#define V_ALL	14	/* 2 | 4 | 8 */
#define OP1(a)		(const u8[]){ a }, 1
#define OP2(a, b)	(const u8[]){ a, b }, 2

static void forms_alu(void)
{
	static const char *const names[8] = { "add", "or", "adc", "sbb",
					      "and", "sub", "xor", "cmp" };
	char n[48];
	int i;

	for (i = 0; i < 8; i++) {
		u8 b = (u8)(i * 8), lk = i != 7;
		u32 u = (i == 1 || i == 4 || i == 6) ? F_AF : 0;
		struct form *f;

		snprintf(n, sizeof(n), "%s r/m8,r8", names[i]);
		f = add(n, 0, 0, OP1(b), EXT_R, RM_ANY, 0, 1, K_PLAIN, u);
		f->lock = lk;
		snprintf(n, sizeof(n), "%s r/m#,r#", names[i]);
		add_v(n, OP1(b + 1), EXT_R, RM_ANY, 0, K_PLAIN, u, V_ALL, 0,
		      lk);
		snprintf(n, sizeof(n), "%s r8,r/m8", names[i]);
		add(n, 0, 0, OP1(b + 2), EXT_R, RM_ANY, 0, 1, K_PLAIN, u);
		snprintf(n, sizeof(n), "%s r#,r/m#", names[i]);
		add_v(n, OP1(b + 3), EXT_R, RM_ANY, 0, K_PLAIN, u, V_ALL, 0, 0);
		snprintf(n, sizeof(n), "%s al,imm8", names[i]);
		add(n, 0, 0, OP1(b + 4), EXT_NONE, RM_REG, 1, 1, K_PLAIN, u);
		snprintf(n, sizeof(n), "%s ax#,imm", names[i]);
		add_v(n, OP1(b + 5), EXT_NONE, RM_REG, 5, K_PLAIN, u, V_ALL, 0,
		      0);
		snprintf(n, sizeof(n), "%s r/m8,imm8", names[i]);
		f = add(n, 0, 0, OP1(0x80), i, RM_ANY, 1, 1, K_PLAIN, u);
		f->lock = lk;
		snprintf(n, sizeof(n), "%s r/m#,imm", names[i]);
		add_v(n, OP1(0x81), i, RM_ANY, 5, K_PLAIN, u, V_ALL, 0, lk);
		snprintf(n, sizeof(n), "%s r/m#,imm8", names[i]);
		add_v(n, OP1(0x83), i, RM_ANY, 1, K_PLAIN, u, V_ALL, 0, lk);
	}
}

static void forms_unary(void)
{
	static const char *const sh[8] = { "rol", "ror", "rcl", "rcr", "shl",
					   "shr", NULL, "sar" };
	char n[48];
	int i;

	add("test r/m8,r8", 0, 0, OP1(0x84), EXT_R, RM_ANY, 0, 1, K_PLAIN,
	    F_AF);
	add_v("test r/m#,r#", OP1(0x85), EXT_R, RM_ANY, 0, K_PLAIN, F_AF,
	      V_ALL, 0, 0);
	add("test al,imm8", 0, 0, OP1(0xa8), EXT_NONE, RM_REG, 1, 1, K_PLAIN,
	    F_AF);
	add_v("test ax#,imm", OP1(0xa9), EXT_NONE, RM_REG, 5, K_PLAIN, F_AF,
	      V_ALL, 0, 0);
	add("test r/m8,imm8", 0, 0, OP1(0xf6), 0, RM_ANY, 1, 1, K_PLAIN,
	    F_AF);
	add_v("test r/m#,imm", OP1(0xf7), 0, RM_ANY, 5, K_PLAIN, F_AF,
	      V_ALL, 0, 0);
	add("inc r/m8", 0, 0, OP1(0xfe), 0, RM_ANY, 0, 1, K_PLAIN, 0)->lock =
		1;
	add("dec r/m8", 0, 0, OP1(0xfe), 1, RM_ANY, 0, 1, K_PLAIN, 0)->lock =
		1;
	add_v("inc r/m#", OP1(0xff), 0, RM_ANY, 0, K_PLAIN, 0, V_ALL, 0, 1);
	add_v("dec r/m#", OP1(0xff), 1, RM_ANY, 0, K_PLAIN, 0, V_ALL, 0, 1);
	add("not r/m8", 0, 0, OP1(0xf6), 2, RM_ANY, 0, 1, K_PLAIN, 0)->lock =
		1;
	add("neg r/m8", 0, 0, OP1(0xf6), 3, RM_ANY, 0, 1, K_PLAIN, 0)->lock =
		1;
	add_v("not r/m#", OP1(0xf7), 2, RM_ANY, 0, K_PLAIN, 0, V_ALL, 0, 1);
	add_v("neg r/m#", OP1(0xf7), 3, RM_ANY, 0, K_PLAIN, 0, V_ALL, 0, 1);
	add("mul r/m8", 0, 0, OP1(0xf6), 4, RM_ANY, 0, 1, K_MUL, SZAP);
	add("imul r/m8", 0, 0, OP1(0xf6), 5, RM_ANY, 0, 1, K_MUL, SZAP);
	add_v("mul r/m#", OP1(0xf7), 4, RM_ANY, 0, K_MUL, SZAP, V_ALL, 0, 0);
	add_v("imul r/m#", OP1(0xf7), 5, RM_ANY, 0, K_MUL, SZAP, V_ALL, 0, 0);
	add("div r/m8", 0, 0, OP1(0xf6), 6, RM_ANY, 0, 1, K_DIV, F_ARITH)
		->resv = R_BIT(0);
	add("idiv r/m8", 0, 0, OP1(0xf6), 7, RM_ANY, 0, 1, K_DIV, F_ARITH)
		->resv = R_BIT(0);
	add_v("div r/m#", OP1(0xf7), 6, RM_ANY, 0, K_DIV, F_ARITH, V_ALL,
	      R_BIT(0) | R_BIT(2), 0);
	add_v("idiv r/m#", OP1(0xf7), 7, RM_ANY, 0, K_DIV, F_ARITH, V_ALL,
	      R_BIT(0) | R_BIT(2), 0);
	add_v("imul r#,r/m#", OP2(0x0f, 0xaf), EXT_R, RM_ANY, 0, K_PLAIN,
	      SZAP, V_ALL, 0, 0);
	add_v("imul r#,r/m#,imm", OP1(0x69), EXT_R, RM_ANY, 5, K_PLAIN, SZAP,
	      V_ALL, 0, 0);
	add_v("imul r#,r/m#,imm8", OP1(0x6b), EXT_R, RM_ANY, 1, K_PLAIN,
	      SZAP, V_ALL, 0, 0);
	for (i = 0; i < 8; i++) {
		if (!sh[i])
			continue;
		snprintf(n, sizeof(n), "%s r/m8,imm8", sh[i]);
		add(n, 0, 0, OP1(0xc0), i, RM_ANY, 1, 1, K_SHIFT, 0);
		snprintf(n, sizeof(n), "%s r/m#,imm8", sh[i]);
		add_v(n, OP1(0xc1), i, RM_ANY, 1, K_SHIFT, 0, V_ALL, 0, 0);
		snprintf(n, sizeof(n), "%s r/m8,1", sh[i]);
		add(n, 0, 0, OP1(0xd0), i, RM_ANY, 0, 1, K_SHIFT, 0);
		snprintf(n, sizeof(n), "%s r/m#,1", sh[i]);
		add_v(n, OP1(0xd1), i, RM_ANY, 0, K_SHIFT, 0, V_ALL, 0, 0);
		snprintf(n, sizeof(n), "%s r/m8,cl", sh[i]);
		add(n, 0, 0, OP1(0xd2), i, RM_ANY, 0, 1, K_SHIFT, 0)->resv =
			R_BIT(1);
		snprintf(n, sizeof(n), "%s r/m#,cl", sh[i]);
		add_v(n, OP1(0xd3), i, RM_ANY, 0, K_SHIFT, 0, V_ALL, R_BIT(1),
		      0);
	}
	add_v("shld r/m#,r#,imm8", OP2(0x0f, 0xa4), EXT_R, RM_ANY, 1, K_SHXD,
	      0, V_ALL, 0, 0);
	add_v("shld r/m#,r#,cl", OP2(0x0f, 0xa5), EXT_R, RM_ANY, 0, K_SHXD,
	      0, V_ALL, R_BIT(1), 0);
	add_v("shrd r/m#,r#,imm8", OP2(0x0f, 0xac), EXT_R, RM_ANY, 1, K_SHXD,
	      0, V_ALL, 0, 0);
	add_v("shrd r/m#,r#,cl", OP2(0x0f, 0xad), EXT_R, RM_ANY, 0, K_SHXD,
	      0, V_ALL, R_BIT(1), 0);
}

static void forms_bits(void)
{
	static const char *const bt[4] = { "bt", "bts", "btr", "btc" };
	char n[48];
	int i;

	for (i = 0; i < 4; i++) {
		u32 u = F_OF | F_SF | F_AF | F_PF;

		snprintf(n, sizeof(n), "%s r/m#,r#", bt[i]);
		add_v(n, OP2(0x0f, (u8)(0xa3 + 8 * i)), EXT_R, RM_ANY, 0,
		      K_BT, u, V_ALL, 0, i != 0);
		snprintf(n, sizeof(n), "%s r/m#,imm8", bt[i]);
		add_v(n, OP2(0x0f, 0xba), 4 + i, RM_ANY, 1, K_BTI, u, V_ALL,
		      0, i != 0);
	}
	add_v("bsf r#,r/m#", OP2(0x0f, 0xbc), EXT_R, RM_ANY, 0, K_BSF,
	      F_ARITH & ~F_ZF, V_ALL, 0, 0);
	add_v("bsr r#,r/m#", OP2(0x0f, 0xbd), EXT_R, RM_ANY, 0, K_BSF,
	      F_ARITH & ~F_ZF, V_ALL, 0, 0);
	add_v("bswap r#", OP2(0x0f, 0xc8), EXT_OPREG, RM_REG, 0, K_PLAIN, 0,
	      12, 0, 0);
	for (i = 0; i < 16; i++) {
		static const char *const cc[16] = { "o", "no", "b", "ae", "e",
			"ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le",
			"g" };

		snprintf(n, sizeof(n), "cmov%s r#,r/m#", cc[i]);
		add_v(n, OP2(0x0f, (u8)(0x40 + i)), EXT_R, RM_ANY, 0, K_PLAIN,
		      0, V_ALL, 0, 0);
		snprintf(n, sizeof(n), "set%s r/m8", cc[i]);
		add(n, 0, 0, OP2(0x0f, (u8)(0x90 + i)), 0, RM_ANY, 0, 1,
		    K_PLAIN, 0);
	}
}

static void forms_move(void)
{
	struct form *f;

	add("mov r/m8,r8", 0, 0, OP1(0x88), EXT_R, RM_ANY, 0, 1, K_PLAIN, 0);
	add_v("mov r/m#,r#", OP1(0x89), EXT_R, RM_ANY, 0, K_PLAIN, 0, V_ALL,
	      0, 0);
	add("mov r8,r/m8", 0, 0, OP1(0x8a), EXT_R, RM_ANY, 0, 1, K_PLAIN, 0);
	add_v("mov r#,r/m#", OP1(0x8b), EXT_R, RM_ANY, 0, K_PLAIN, 0, V_ALL,
	      0, 0);
	add("mov r/m8,imm8", 0, 0, OP1(0xc6), 0, RM_ANY, 1, 1, K_PLAIN, 0);
	add_v("mov r/m#,imm", OP1(0xc7), 0, RM_ANY, 5, K_PLAIN, 0, V_ALL, 0,
	      0);
	add("mov r8,imm8 (b0+r)", 0, 0, OP1(0xb0), EXT_OPREG, RM_REG, 1, 1,
	    K_PLAIN, 0);
	add_v("mov r#,imm# (b8+r)", OP1(0xb8), EXT_OPREG, RM_REG, 9, K_PLAIN,
	      0, V_ALL, 0, 0);
	add_v("movzx r#,r/m8", OP2(0x0f, 0xb6), EXT_R, RM_ANY, 0, K_PLAIN, 0,
	      V_ALL, 0, 0);
	add_v("movzx r#,r/m16", OP2(0x0f, 0xb7), EXT_R, RM_ANY, 0, K_PLAIN,
	      0, 12, 0, 0);
	add_v("movsx r#,r/m8", OP2(0x0f, 0xbe), EXT_R, RM_ANY, 0, K_PLAIN, 0,
	      V_ALL, 0, 0);
	add_v("movsx r#,r/m16", OP2(0x0f, 0xbf), EXT_R, RM_ANY, 0, K_PLAIN,
	      0, 12, 0, 0);
	add_v("movsxd r#,r/m32", OP1(0x63), EXT_R, RM_ANY, 0, K_PLAIN, 0, 12,
	      0, 0);
	add("xchg r/m8,r8", 0, 0, OP1(0x86), EXT_R, RM_ANY, 0, 1, K_PLAIN,
	    0)->lock = 1;
	add_v("xchg r/m#,r#", OP1(0x87), EXT_R, RM_ANY, 0, K_PLAIN, 0, V_ALL,
	      0, 1);
	add_v("xchg ax#,r# (90+r)", OP1(0x90), EXT_OPREG, RM_REG, 0,
	      K_PLAIN, 0, V_ALL, 0, 0);
	f = add("cmpxchg r/m8,r8", 0, 0, OP2(0x0f, 0xb0), EXT_R, RM_ANY, 0, 1,
		K_CMPXCHG, 0);
	f->lock = 1;
	f->resv = R_BIT(R_EAX);
	add_v("cmpxchg r/m#,r#", OP2(0x0f, 0xb1), EXT_R, RM_ANY, 0,
	      K_CMPXCHG, 0, V_ALL, R_BIT(R_EAX), 1);
	add("xadd r/m8,r8", 0, 0, OP2(0x0f, 0xc0), EXT_R, RM_ANY, 0, 1,
	    K_PLAIN, 0)->lock = 1;
	add_v("xadd r/m#,r#", OP2(0x0f, 0xc1), EXT_R, RM_ANY, 0, K_PLAIN, 0,
	      V_ALL, 0, 1);
	f = add("cmpxchg8b m64", 0, 0, OP2(0x0f, 0xc7), 1, RM_MEM, 0, 8,
		K_CX, 0);
	f->resv = 0xf;
	f->lock = 1;
	f = add("cmpxchg16b m128", 0, 1, OP2(0x0f, 0xc7), 1, RM_MEM, 0, 16,
		K_CX, 0);
	f->resv = 0xf;
	f->lock = 1;
	add_v("lea r#,m", OP1(0x8d), EXT_R, RM_MEM, 0, K_LEA, 0, V_ALL, 0, 0);
	add_v("cbw/cwde/cdqe (#)", OP1(0x98), EXT_NONE, RM_REG, 0, K_PLAIN,
	      0, V_ALL, 0, 0);
	add_v("cwd/cdq/cqo (#)", OP1(0x99), EXT_NONE, RM_REG, 0, K_PLAIN, 0,
	      V_ALL, 0, 0);
	add_v("nop r/m# (0f 1f)", OP2(0x0f, 0x1f), 0, RM_ANY, 0, K_PLAIN, 0,
	      V_ALL, 0, 0);
	add("lahf", 0, 0, OP1(0x9f), EXT_NONE, RM_REG, 0, 1, K_PLAIN, 0);
	add("sahf", 0, 0, OP1(0x9e), EXT_NONE, RM_REG, 0, 1, K_PLAIN, 0);
	add("clc", 0, 0, OP1(0xf8), EXT_NONE, RM_REG, 0, 1, K_PLAIN, 0);
	add("stc", 0, 0, OP1(0xf9), EXT_NONE, RM_REG, 0, 1, K_PLAIN, 0);
	add("cmc", 0, 0, OP1(0xf5), EXT_NONE, RM_REG, 0, 1, K_PLAIN, 0);
	add("cld", 0, 0, OP1(0xfc), EXT_NONE, RM_REG, 0, 1, K_PLAIN, 0);
	add("std", 0, 0, OP1(0xfd), EXT_NONE, RM_REG, 0, 1, K_PLAIN, 0);
	f = add("xlat", 0, 0, OP1(0xd7), EXT_NONE, RM_REG, 0, 1, K_XLAT, 0);
	f->resv = R_BIT(3);
}

static void forms_stack(void)
{
	static const int sz[2] = { 8, 2 };
	char n[48];
	int i;

	for (i = 0; i < 2; i++) {
		u8 p = sz[i] == 2 ? 0x66 : 0;
		struct form *f[6];
		int j;

		snprintf(n, sizeof(n), "push r%d (50+r)", sz[i] * 8);
		f[0] = add(n, p, 0, OP1(0x50), EXT_OPREG, RM_REG, 0, sz[i],
			   K_STACK, 0);
		snprintf(n, sizeof(n), "pop r%d (58+r)", sz[i] * 8);
		f[1] = add(n, p, 0, OP1(0x58), EXT_OPREG, RM_REG, 0, sz[i],
			   K_STACK, 0);
		snprintf(n, sizeof(n), "push%d imm8", sz[i] * 8);
		f[2] = add(n, p, 0, OP1(0x6a), EXT_NONE, RM_REG, 1, sz[i],
			   K_STACK, 0);
		snprintf(n, sizeof(n), "push%d imm", sz[i] * 8);
		f[3] = add(n, p, 0, OP1(0x68), EXT_NONE, RM_REG,
			   sz[i] == 2 ? 2 : 4, sz[i], K_STACK, 0);
		snprintf(n, sizeof(n), "push r/m%d", sz[i] * 8);
		f[4] = add(n, p, 0, OP1(0xff), 6, RM_ANY, 0, sz[i], K_STACK,
			   0);
		snprintf(n, sizeof(n), "pop r/m%d", sz[i] * 8);
		f[5] = add(n, p, 0, OP1(0x8f), 0, RM_ANY, 0, sz[i], K_STACK,
			   0);
		for (j = 0; j < 6; j++)
			f[j]->resv = R_BIT(R_ESP);
	}
}

/*
 * Near branches.  Natively the instruction is followed by an 8-byte sled
 * (a store of 1 to ST_SLED) and then the epilogue: every branch here
 * targets the end of the sled, so a taken branch skips it, and RIP after
 * is known on both sides.  Indirect targets and return addresses are
 * set to the same place.
 */
static void forms_branch(void)
{
	static const char *const cc[16] = { "o", "no", "b", "ae", "e", "ne",
		"be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g" };
	static const struct { const char *n; u8 op[2], oplen, imm; s8 ext;
			      u8 rm; u16 resv; } b[] = {
		{ "jmp rel8", { 0xeb }, 1, 1, EXT_NONE, RM_REG, 0 },
		{ "jmp rel32", { 0xe9 }, 1, 4, EXT_NONE, RM_REG, 0 },
		{ "call rel32", { 0xe8 }, 1, 4, EXT_NONE, RM_REG, 0x10 },
		{ "ret", { 0xc3 }, 1, 0, EXT_NONE, RM_REG, 0x10 },
		{ "ret imm16", { 0xc2 }, 1, 2, EXT_NONE, RM_REG, 0x10 },
		{ "jmp r/m64", { 0xff }, 1, 0, 4, RM_ANY, 0 },
		{ "call r/m64", { 0xff }, 1, 0, 2, RM_ANY, 0x10 },
		{ "loopne", { 0xe0 }, 1, 1, EXT_NONE, RM_REG, 2 },
		{ "loope", { 0xe1 }, 1, 1, EXT_NONE, RM_REG, 2 },
		{ "loop", { 0xe2 }, 1, 1, EXT_NONE, RM_REG, 2 },
		{ "jrcxz/jecxz", { 0xe3 }, 1, 1, EXT_NONE, RM_REG, 2 },
	};
	char n[48];
	unsigned i;
	struct form *f;

	for (i = 0; i < 16; i++) {
		snprintf(n, sizeof(n), "j%s rel8", cc[i]);
		f = add(n, 0, 0, OP1((u8)(0x70 + i)), EXT_NONE, RM_REG, 1, 8,
			K_BR, 0);
		f->sled = 1;
		snprintf(n, sizeof(n), "j%s rel32", cc[i]);
		f = add(n, 0, 0, OP2(0x0f, (u8)(0x80 + i)), EXT_NONE, RM_REG,
			4, 8, K_BR, 0);
		f->sled = 1;
	}
	for (i = 0; i < ARRAY_SIZE(b); i++) {
		f = add(b[i].n, 0, 0, b[i].op, b[i].oplen, b[i].ext, b[i].rm,
			b[i].imm, 8, K_BR, 0);
		f->sled = 1;
		f->resv = b[i].resv;
	}
}

/* MOV moffs, LEAVE, ENTER, PUSHF/POPF. */
static void forms_misc(void)
{
	struct form *f;

	add("mov al,moffs8", 0, 0, OP1(0xa0), EXT_NONE, RM_REG, 8, 1,
	    K_MOFFS, 0);
	add_v("mov ax#,moffs#", OP1(0xa1), EXT_NONE, RM_REG, 8, K_MOFFS, 0,
	      V_ALL, 0, 0);
	add("mov moffs8,al", 0, 0, OP1(0xa2), EXT_NONE, RM_REG, 8, 1,
	    K_MOFFS, 0);
	add_v("mov moffs#,ax#", OP1(0xa3), EXT_NONE, RM_REG, 8, K_MOFFS, 0,
	      V_ALL, 0, 0);
	f = add("leave", 0, 0, OP1(0xc9), EXT_NONE, RM_REG, 0, 8, K_LEAVE, 0);
	f->resv = 0x30;
	f = add("leave16", 0x66, 0, OP1(0xc9), EXT_NONE, RM_REG, 0, 2,
		K_LEAVE, 0);
	f->resv = 0x30;
	f = add("enter imm16,imm8", 0, 0, OP1(0xc8), EXT_NONE, RM_REG, 3, 8,
		K_ENTER, 0);
	f->resv = 0x30;
	f = add("enter16 imm16,imm8", 0x66, 0, OP1(0xc8), EXT_NONE, RM_REG, 3,
		2, K_ENTER, 0);
	f->resv = 0x30;
	add("pushfq", 0, 0, OP1(0x9c), EXT_NONE, RM_REG, 0, 8, K_FLAGS, 0);
	add("popfq", 0, 0, OP1(0x9d), EXT_NONE, RM_REG, 0, 8, K_FLAGS, 0);
	add("pushf16", 0x66, 0, OP1(0x9c), EXT_NONE, RM_REG, 0, 2, K_FLAGS, 0);
	add("popf16", 0x66, 0, OP1(0x9d), EXT_NONE, RM_REG, 0, 2, K_FLAGS, 0);
}

static void forms_string(void)
{
	static const struct { const char *n; u8 op; u8 reps; u16 resv; } s[] = {
		{ "movs", 0xa4, 2, 0xc2 }, { "stos", 0xaa, 2, 0x83 },
		{ "lods", 0xac, 2, 0x43 }, { "scas", 0xae, 3, 0x83 },
		{ "cmps", 0xa6, 3, 0xc2 },
	};
	static const u8 rep[3] = { 0, 0xf3, 0xf2 };
	static const char *const rn[3] = { "", "rep ", "repne " };
	static const int sz[4] = { 1, 2, 4, 8 };
	char n[48];
	unsigned i;
	int r, j;

	for (i = 0; i < ARRAY_SIZE(s); i++) {
		for (r = 0; r < s[i].reps; r++) {
			for (j = 0; j < 4; j++) {
				struct form *f;

				snprintf(n, sizeof(n), "%s%s%c", rn[r], s[i].n,
					 "bwdq"[j]);
				f = add(n, sz[j] == 2 ? 0x66 : 0, sz[j] == 8,
					OP1((u8)(s[i].op + (sz[j] > 1))),
					EXT_NONE, RM_REG, 0, sz[j], K_STR, 0);
				f->rep = rep[r];
				f->resv = s[i].resv;
			}
		}
	}
}

/* SSE/SSE2/MMX forms, in 64-bit mode. */
static struct form *sse(const char *name, u8 pfx, u8 w, u8 op, int ext,
			int regk, int rmk, int rm, int msize, int imm)
{
	struct form *f = add(name, pfx, w, OP2(0x0f, op), ext, rm, imm,
			     w ? 8 : 4, K_SSE, 0);

	f->regk = (u8)regk;
	f->rmk = (u8)rmk;
	f->msize = (u8)msize;
	return f;
}

/*
 * The MMX/SSE/SSE2 forms: simddiff's table (tests/cpu/simddiff.c), here
 * run in 64-bit mode, where REX reaches XMM8-15 and R8-R15 (and is
 * ignored for MMX registers).
 */
enum { MEM_NO, MEM_ANY, MEM_ONLY };

struct sform {
	const char *name;
	u8 pfx, op;
	s8 ext;
	u8 regk, rmk, mem, msize, imm;
	unsigned unused[3];
};

#define F(n, p, o, rk, mk, m, sz, i) { n, p, o, -1, rk, mk, m, sz, i, { 0 } }
#define XX(n, p, o) F(n, p, o, K_X, K_X, MEM_ANY, 16, 0)
#define XS(n, p, o) F(n, p, o, K_X, K_X, MEM_ANY, 4, 0)
#define XD(n, p, o) F(n, p, o, K_X, K_X, MEM_ANY, 8, 0)
#define MM(n, p, o) F(n, p, o, K_M, K_M, MEM_ANY, 8, 0)
#define INT(n, o) MM(n " mm,mm/m64", 0, o), XX(n " xmm,xmm/m128", 0x66, o)
#define G(n, p, o, ext, k) { n, p, o, ext, K_X, k, MEM_NO, 0, 1, { 0 } }

static const struct sform simd_forms[] = {
	XX("movups xmm,xmm/m128", 0, 0x10), XX("movupd xmm,xmm/m128", 0x66, 0x10),
	XS("movss xmm,xmm/m32", 0xf3, 0x10), XD("movsd xmm,xmm/m64", 0xf2, 0x10),
	XX("movups xmm/m128,xmm", 0, 0x11), XX("movupd xmm/m128,xmm", 0x66, 0x11),
	XS("movss xmm/m32,xmm", 0xf3, 0x11), XD("movsd xmm/m64,xmm", 0xf2, 0x11),
	XD("movlps/movhlps xmm,xmm/m64", 0, 0x12),
	F("movlpd xmm,m64", 0x66, 0x12, K_X, K_X, MEM_ONLY, 8, 0),
	F("movlps m64,xmm", 0, 0x13, K_X, K_X, MEM_ONLY, 8, 0),
	F("movlpd m64,xmm", 0x66, 0x13, K_X, K_X, MEM_ONLY, 8, 0),
	XX("unpcklps", 0, 0x14), XX("unpcklpd", 0x66, 0x14),
	XX("unpckhps", 0, 0x15), XX("unpckhpd", 0x66, 0x15),
	XD("movhps/movlhps xmm,xmm/m64", 0, 0x16),
	F("movhpd xmm,m64", 0x66, 0x16, K_X, K_X, MEM_ONLY, 8, 0),
	F("movhps m64,xmm", 0, 0x17, K_X, K_X, MEM_ONLY, 8, 0),
	F("movhpd m64,xmm", 0x66, 0x17, K_X, K_X, MEM_ONLY, 8, 0),
	XX("movaps xmm,xmm/m128", 0, 0x28), XX("movapd xmm,xmm/m128", 0x66, 0x28),
	XX("movaps xmm/m128,xmm", 0, 0x29), XX("movapd xmm/m128,xmm", 0x66, 0x29),
	F("cvtpi2ps xmm,mm/m64", 0, 0x2a, K_X, K_M, MEM_ANY, 8, 0),
	F("cvtpi2pd xmm,mm/m64", 0x66, 0x2a, K_X, K_M, MEM_ANY, 8, 0),
	F("cvtsi2ss xmm,r/m32", 0xf3, 0x2a, K_X, K_G, MEM_ANY, 4, 0),
	F("cvtsi2sd xmm,r/m32", 0xf2, 0x2a, K_X, K_G, MEM_ANY, 4, 0),
	F("movntps m128,xmm", 0, 0x2b, K_X, K_X, MEM_ONLY, 16, 0),
	F("movntpd m128,xmm", 0x66, 0x2b, K_X, K_X, MEM_ONLY, 16, 0),
	F("cvttps2pi mm,xmm/m64", 0, 0x2c, K_M, K_X, MEM_ANY, 8, 0),
	F("cvttpd2pi mm,xmm/m128", 0x66, 0x2c, K_M, K_X, MEM_ANY, 16, 0),
	F("cvttss2si r32,xmm/m32", 0xf3, 0x2c, K_G, K_X, MEM_ANY, 4, 0),
	F("cvttsd2si r32,xmm/m64", 0xf2, 0x2c, K_G, K_X, MEM_ANY, 8, 0),
	F("cvtps2pi mm,xmm/m64", 0, 0x2d, K_M, K_X, MEM_ANY, 8, 0),
	F("cvtpd2pi mm,xmm/m128", 0x66, 0x2d, K_M, K_X, MEM_ANY, 16, 0),
	F("cvtss2si r32,xmm/m32", 0xf3, 0x2d, K_G, K_X, MEM_ANY, 4, 0),
	F("cvtsd2si r32,xmm/m64", 0xf2, 0x2d, K_G, K_X, MEM_ANY, 8, 0),
	XS("ucomiss", 0, 0x2e), XD("ucomisd", 0x66, 0x2e),
	XS("comiss", 0, 0x2f), XD("comisd", 0x66, 0x2f),
	F("movmskps r32,xmm", 0, 0x50, K_G, K_X, MEM_NO, 0, 0),
	F("movmskpd r32,xmm", 0x66, 0x50, K_G, K_X, MEM_NO, 0, 0),
	XX("sqrtps", 0, 0x51), XX("sqrtpd", 0x66, 0x51),
	XS("sqrtss", 0xf3, 0x51), XD("sqrtsd", 0xf2, 0x51),
	XX("rsqrtps", 0, 0x52), XS("rsqrtss", 0xf3, 0x52),
	XX("rcpps", 0, 0x53), XS("rcpss", 0xf3, 0x53),
	XX("andps", 0, 0x54), XX("andpd", 0x66, 0x54),
	XX("andnps", 0, 0x55), XX("andnpd", 0x66, 0x55),
	XX("orps", 0, 0x56), XX("orpd", 0x66, 0x56),
	XX("xorps", 0, 0x57), XX("xorpd", 0x66, 0x57),
	XX("addps", 0, 0x58), XX("addpd", 0x66, 0x58),
	XS("addss", 0xf3, 0x58), XD("addsd", 0xf2, 0x58),
	XX("mulps", 0, 0x59), XX("mulpd", 0x66, 0x59),
	XS("mulss", 0xf3, 0x59), XD("mulsd", 0xf2, 0x59),
	XD("cvtps2pd", 0, 0x5a), XX("cvtpd2ps", 0x66, 0x5a),
	XS("cvtss2sd", 0xf3, 0x5a), XD("cvtsd2ss", 0xf2, 0x5a),
	XX("cvtdq2ps", 0, 0x5b), XX("cvtps2dq", 0x66, 0x5b),
	XX("cvttps2dq", 0xf3, 0x5b),
	XX("subps", 0, 0x5c), XX("subpd", 0x66, 0x5c),
	XS("subss", 0xf3, 0x5c), XD("subsd", 0xf2, 0x5c),
	XX("minps", 0, 0x5d), XX("minpd", 0x66, 0x5d),
	XS("minss", 0xf3, 0x5d), XD("minsd", 0xf2, 0x5d),
	XX("divps", 0, 0x5e), XX("divpd", 0x66, 0x5e),
	XS("divss", 0xf3, 0x5e), XD("divsd", 0xf2, 0x5e),
	XX("maxps", 0, 0x5f), XX("maxpd", 0x66, 0x5f),
	XS("maxss", 0xf3, 0x5f), XD("maxsd", 0xf2, 0x5f),
	F("punpcklbw mm,mm/m32", 0, 0x60, K_M, K_M, MEM_ANY, 4, 0),
	F("punpcklwd mm,mm/m32", 0, 0x61, K_M, K_M, MEM_ANY, 4, 0),
	F("punpckldq mm,mm/m32", 0, 0x62, K_M, K_M, MEM_ANY, 4, 0),
	XX("punpcklbw xmm", 0x66, 0x60), XX("punpcklwd xmm", 0x66, 0x61),
	XX("punpckldq xmm", 0x66, 0x62),
	INT("packsswb", 0x63), INT("pcmpgtb", 0x64), INT("pcmpgtw", 0x65),
	INT("pcmpgtd", 0x66), INT("packuswb", 0x67), INT("punpckhbw", 0x68),
	INT("punpckhwd", 0x69), INT("punpckhdq", 0x6a), INT("packssdw", 0x6b),
	XX("punpcklqdq", 0x66, 0x6c), XX("punpckhqdq", 0x66, 0x6d),
	F("movd mm,r/m32", 0, 0x6e, K_M, K_G, MEM_ANY, 4, 0),
	F("movd xmm,r/m32", 0x66, 0x6e, K_X, K_G, MEM_ANY, 4, 0),
	MM("movq mm,mm/m64", 0, 0x6f), XX("movdqa xmm,xmm/m128", 0x66, 0x6f),
	XX("movdqu xmm,xmm/m128", 0xf3, 0x6f),
	F("pshufw mm,mm/m64,imm8", 0, 0x70, K_M, K_M, MEM_ANY, 8, 1),
	F("pshufd", 0x66, 0x70, K_X, K_X, MEM_ANY, 16, 1),
	F("pshufhw", 0xf3, 0x70, K_X, K_X, MEM_ANY, 16, 1),
	F("pshuflw", 0xf2, 0x70, K_X, K_X, MEM_ANY, 16, 1),
	{ "psrlw mm,imm8", 0, 0x71, 2, K_M, K_M, MEM_NO, 0, 1, { 0 } },
	{ "psraw mm,imm8", 0, 0x71, 4, K_M, K_M, MEM_NO, 0, 1, { 0 } },
	{ "psllw mm,imm8", 0, 0x71, 6, K_M, K_M, MEM_NO, 0, 1, { 0 } },
	{ "psrld mm,imm8", 0, 0x72, 2, K_M, K_M, MEM_NO, 0, 1, { 0 } },
	{ "psrad mm,imm8", 0, 0x72, 4, K_M, K_M, MEM_NO, 0, 1, { 0 } },
	{ "pslld mm,imm8", 0, 0x72, 6, K_M, K_M, MEM_NO, 0, 1, { 0 } },
	{ "psrlq mm,imm8", 0, 0x73, 2, K_M, K_M, MEM_NO, 0, 1, { 0 } },
	{ "psllq mm,imm8", 0, 0x73, 6, K_M, K_M, MEM_NO, 0, 1, { 0 } },
	G("psrlw xmm,imm8", 0x66, 0x71, 2, K_X),
	G("psraw xmm,imm8", 0x66, 0x71, 4, K_X),
	G("psllw xmm,imm8", 0x66, 0x71, 6, K_X),
	G("psrld xmm,imm8", 0x66, 0x72, 2, K_X),
	G("psrad xmm,imm8", 0x66, 0x72, 4, K_X),
	G("pslld xmm,imm8", 0x66, 0x72, 6, K_X),
	G("psrlq xmm,imm8", 0x66, 0x73, 2, K_X),
	G("psrldq xmm,imm8", 0x66, 0x73, 3, K_X),
	G("psllq xmm,imm8", 0x66, 0x73, 6, K_X),
	G("pslldq xmm,imm8", 0x66, 0x73, 7, K_X),
	INT("pcmpeqb", 0x74), INT("pcmpeqw", 0x75), INT("pcmpeqd", 0x76),
	F("movd r/m32,mm", 0, 0x7e, K_M, K_G, MEM_ANY, 4, 0),
	F("movd r/m32,xmm", 0x66, 0x7e, K_X, K_G, MEM_ANY, 4, 0),
	XD("movq xmm,xmm/m64", 0xf3, 0x7e),
	MM("movq mm/m64,mm", 0, 0x7f), XX("movdqa xmm/m128,xmm", 0x66, 0x7f),
	XX("movdqu xmm/m128,xmm", 0xf3, 0x7f),
	F("cmpps", 0, 0xc2, K_X, K_X, MEM_ANY, 16, 1),
	F("cmppd", 0x66, 0xc2, K_X, K_X, MEM_ANY, 16, 1),
	F("cmpss", 0xf3, 0xc2, K_X, K_X, MEM_ANY, 4, 1),
	F("cmpsd", 0xf2, 0xc2, K_X, K_X, MEM_ANY, 8, 1),
	F("movnti m32,r32", 0, 0xc3, K_G, K_G, MEM_ONLY, 4, 0),
	F("pinsrw mm,r32/m16,imm8", 0, 0xc4, K_M, K_G, MEM_ANY, 2, 1),
	F("pinsrw xmm,r32/m16,imm8", 0x66, 0xc4, K_X, K_G, MEM_ANY, 2, 1),
	F("pextrw r32,mm,imm8", 0, 0xc5, K_G, K_M, MEM_NO, 0, 1),
	F("pextrw r32,xmm,imm8", 0x66, 0xc5, K_G, K_X, MEM_NO, 0, 1),
	F("shufps", 0, 0xc6, K_X, K_X, MEM_ANY, 16, 1),
	F("shufpd", 0x66, 0xc6, K_X, K_X, MEM_ANY, 16, 1),
	INT("psrlw", 0xd1), INT("psrld", 0xd2), INT("psrlq", 0xd3),
	INT("paddq", 0xd4), INT("pmullw", 0xd5),
	XD("movq xmm/m64,xmm", 0x66, 0xd6),
	F("movq2dq xmm,mm", 0xf3, 0xd6, K_X, K_M, MEM_NO, 0, 0),
	F("movdq2q mm,xmm", 0xf2, 0xd6, K_M, K_X, MEM_NO, 0, 0),
	F("pmovmskb r32,mm", 0, 0xd7, K_G, K_M, MEM_NO, 0, 0),
	F("pmovmskb r32,xmm", 0x66, 0xd7, K_G, K_X, MEM_NO, 0, 0),
	INT("psubusb", 0xd8), INT("psubusw", 0xd9), INT("pminub", 0xda),
	INT("pand", 0xdb), INT("paddusb", 0xdc), INT("paddusw", 0xdd),
	INT("pmaxub", 0xde), INT("pandn", 0xdf), INT("pavgb", 0xe0),
	INT("psraw", 0xe1), INT("psrad", 0xe2), INT("pavgw", 0xe3),
	INT("pmulhuw", 0xe4), INT("pmulhw", 0xe5),
	XX("cvttpd2dq", 0x66, 0xe6), XD("cvtdq2pd", 0xf3, 0xe6),
	XX("cvtpd2dq", 0xf2, 0xe6),
	F("movntq m64,mm", 0, 0xe7, K_M, K_M, MEM_ONLY, 8, 0),
	F("movntdq m128,xmm", 0x66, 0xe7, K_X, K_X, MEM_ONLY, 16, 0),
	INT("psubsb", 0xe8), INT("psubsw", 0xe9), INT("pminsw", 0xea),
	INT("por", 0xeb), INT("paddsb", 0xec), INT("paddsw", 0xed),
	INT("pmaxsw", 0xee), INT("pxor", 0xef), INT("psllw", 0xf1),
	INT("pslld", 0xf2), INT("psllq", 0xf3), INT("pmuludq", 0xf4),
	INT("pmaddwd", 0xf5), INT("psadbw", 0xf6),
	F("maskmovq mm,mm", 0, 0xf7, K_M, K_M, MEM_NO, 0, 0),
	F("maskmovdqu xmm,xmm", 0x66, 0xf7, K_X, K_X, MEM_NO, 0, 0),
	INT("psubb", 0xf8), INT("psubw", 0xf9), INT("psubd", 0xfa),
	INT("psubq", 0xfb), INT("paddb", 0xfc), INT("paddw", 0xfd),
	INT("paddd", 0xfe),
	/* Prefixes that name no form: #UD on both. */
	XX("(66) 0f 52: #UD", 0x66, 0x52), XX("(f3) 0f 54: #UD", 0xf3, 0x54),
	XX("(f2) 0f 6f: #UD", 0xf2, 0x6f), XX("(f3) 0f 60: #UD", 0xf3, 0x60),
	F("(66) 0f 12 reg: #UD", 0x66, 0x12, K_X, K_X, MEM_NO, 0, 0),
	{ "(0f 71 /0): #UD", 0, 0x71, 0, K_M, K_M, MEM_NO, 0, 1, { 0 } },
	{ "(0f 73 /3): #UD", 0, 0x73, 3, K_M, K_M, MEM_NO, 0, 1, { 0 } },
	{ "(66 0f 72 /7): #UD", 0x66, 0x72, 7, K_X, K_X, MEM_NO, 0, 1, { 0 } },
};

static void forms_sse(void)
{
	static const u8 rmk[3] = { RM_REG, RM_ANY, RM_MEM };
	unsigned i;
	struct form *f;

	for (i = 0; i < ARRAY_SIZE(simd_forms); i++) {
		const struct sform *s = &simd_forms[i];

		f = sse(s->name, s->pfx, 0, s->op, s->ext >= 0 ? s->ext : EXT_R,
			s->regk, s->rmk, rmk[s->mem], s->msize, s->imm);
		if (s->op == 0xf7)	/* MASKMOVQ/DQU: to [RDI] */
			f->resv = R_BIT(R_EDI);
	}
	sse("ldmxcsr m32", 0, 0, 0xae, 2, K_X, K_X, RM_MEM, 4, 0);
	sse("stmxcsr m32", 0, 0, 0xae, 3, K_X, K_X, RM_MEM, 4, 0);
	/* The forms REX.W makes 64-bit (the 32-bit ones are above, where
	 * a general-register result must zero-extend). */
	static const struct { const char *n; u8 pfx, op, regk, rmk, rm,
			      msz, imm; } w[] = {
		{ "movq xmm,r/m64", 0x66, 0x6e, K_X, K_G, RM_ANY, 8, 0 },
		{ "movq r/m64,xmm", 0x66, 0x7e, K_X, K_G, RM_ANY, 8, 0 },
		{ "movq mm,r/m64", 0, 0x6e, K_M, K_G, RM_ANY, 8, 0 },
		{ "movq r/m64,mm", 0, 0x7e, K_M, K_G, RM_ANY, 8, 0 },
		{ "cvtsi2sd xmm,r/m64", 0xf2, 0x2a, K_X, K_G, RM_ANY, 8, 0 },
		{ "cvtsi2ss xmm,r/m64", 0xf3, 0x2a, K_X, K_G, RM_ANY, 8, 0 },
		{ "cvttsd2si r64,xmm/m64", 0xf2, 0x2c, K_G, K_X, RM_ANY, 8, 0 },
		{ "cvtsd2si r64,xmm/m64", 0xf2, 0x2d, K_G, K_X, RM_ANY, 8, 0 },
		{ "cvttss2si r64,xmm/m32", 0xf3, 0x2c, K_G, K_X, RM_ANY, 4, 0 },
		{ "cvtss2si r64,xmm/m32", 0xf3, 0x2d, K_G, K_X, RM_ANY, 4, 0 },
		{ "movnti m64,r64", 0, 0xc3, K_G, K_G, RM_MEM, 8, 0 },
		/* REX.W changes nothing here: */
		{ "pextrw r64,xmm,imm8", 0x66, 0xc5, K_G, K_X, RM_REG, 0, 1 },
		{ "pinsrw xmm,r64/m16,imm8", 0x66, 0xc4, K_X, K_G, RM_ANY, 2,
		  1 },
		{ "pmovmskb r64,xmm", 0x66, 0xd7, K_G, K_X, RM_REG, 0, 0 },
		{ "movmskpd r64,xmm", 0x66, 0x50, K_G, K_X, RM_REG, 0, 0 },
		{ "pextrw r64,mm,imm8", 0, 0xc5, K_G, K_M, RM_REG, 0, 1 },
		{ "addpd (rex.w)", 0x66, 0x58, K_X, K_X, RM_ANY, 16, 0 },
	};

	for (i = 0; i < ARRAY_SIZE(w); i++)
		sse(w[i].n, w[i].pfx, 1, w[i].op, EXT_R, w[i].regk, w[i].rmk,
		    w[i].rm, w[i].msz, w[i].imm);
	/* The whole state: the x87 part of the image is not compared (the
	 * host's x87 is not ours); XMM0-15 and MXCSR are. */
	f = sse("fxsave m512", 0, 0, 0xae, 0, K_X, K_X, RM_MEM, 16, 0);
	f->kind = K_FX;
	f = sse("fxrstor m512", 0, 0, 0xae, 1, K_X, K_X, RM_MEM, 16, 0);
	f->kind = K_FX;
	f = sse("fxsave64 m512", 0, 1, 0xae, 0, K_X, K_X, RM_MEM, 16, 0);
	f->kind = K_FX;
	f = sse("fxrstor64 m512", 0, 1, 0xae, 1, K_X, K_X, RM_MEM, 16, 0);
	f->kind = K_FX;
}

static void forms_init(void)
{
	forms_alu();
	forms_unary();
	forms_bits();
	forms_move();
	forms_stack();
	forms_branch();
	forms_misc();
	forms_string();
	forms_sse();
}

/* --- making a case --- */

static u64 size_mask(int sz)
{
	return sz == 8 ? ~0ull : (1ull << (8 * sz)) - 1;
}

/* The value of register operand r (ModRM numbering) at size sz. */
static u64 get_reg(struct gen *g, int r, int sz)
{
	if (sz == 1 && !g->rex && r >= 4 && r < 8)
		return (g->k->r[r - 4] >> 8) & 0xff;
	return g->k->r[r] & size_mask(sz);
}

static void set_reg(struct gen *g, int r, u64 v, int sz)
{
	u64 m = size_mask(sz);

	if (sz == 1 && !g->rex && r >= 4 && r < 8) {
		r -= 4;
		g->k->r[r] = (g->k->r[r] & ~0xff00ull) | (v & 0xff) << 8;
		return;
	}
	g->k->r[r] = (g->k->r[r] & ~m) | (v & m);
}

static u64 get_rm(struct gen *g, int sz)
{
	u64 v = 0;

	if (!g->mem)
		return get_reg(g, g->rm, sz);
	memcpy(&v, g->k->win + (g->t - WIN), sz > 8 ? 8 : sz);
	return v;
}

static void set_rm(struct gen *g, u64 v, int sz)
{
	if (!g->mem)
		set_reg(g, g->rm, v, sz);
	else
		memcpy(g->k->win + (g->t - WIN), &v, sz > 8 ? 8 : sz);
}

static int pick_reg(struct gen *g, u16 avoid)
{
	int r;

	do
		r = (int)rnd_n(g->rex ? 16 : 8);
	while (avoid & R_BIT(r));
	return r;
}

/*
 * The memory operand: ModRM (with reg already in place), SIB and
 * displacement, registers set so that the address is g->t (any register
 * values for LEA).  Returns the position of a RIP-relative displacement,
 * or -1.
 */
static bool fits32(u64 v)
{
	return (s64)v == (s32)v;
}

static int emit_mem(struct gen *g, u8 *p, int *n, int reg)
{
	const struct form *f = g->f;
	u64 *R = g->k->r;
	u16 avoid = f->resv | R_BIT(R_ESP);
	int shape = (int)rnd_n(10), base, index = -1, scale = 0, mod;
	u64 ta = (u64)g->t - g->sbase;	/* the offset in the segment */
	s64 disp;
	u64 bv, iv = 0;
	bool lea = f->kind == K_LEA;

	if (f->kind == K_BT)
		avoid |= R_BIT(reg);
	/* FS's base (the host's TLS) is far away: registers only */
	if ((shape == 0 && !fits32(ta - INSN_ADDR)) ||
	    (shape == 1 && !fits32(ta)))
		shape = 2;
	g->base = -1;
	if (shape == 0) {	/* RIP-relative */
		p[(*n)++] = (u8)((reg & 7) << 3 | 5);
		return *n;
	}
	if (shape == 1) {	/* [disp32], no base, no index */
		p[(*n)++] = (u8)((reg & 7) << 3 | 4);
		p[(*n)++] = 0x25;
		disp = lea ? (s32)rnd() : (s64)ta;
		memcpy(p + *n, &(s32){ (s32)disp }, 4);
		*n += 4;
		return -1;
	}
	/* A base, and with SIB sometimes an index (R12 is one). */
	base = rnd_n(8) == 0 && fits32(ta - STACK) ? R_ESP :
	       pick_reg(g, avoid);
	g->base = base;
	if (shape >= 5 || (base & 7) == 4) {
		if (rnd_n(4)) {
			index = pick_reg(g, avoid);
			scale = (int)rnd_n(4);
		}
	}
	mod = (int)rnd_n(3);
	if (mod == 0 && (base & 7) == 5)
		mod = 1;
	disp = mod == 0 ? 0 : mod == 1 ? (s8)rnd() : (s32)rnd_n(0x20000) -
	       0x10000;
	if (index >= 0)
		iv = rnd_n(4) ? (u64)((s64)rnd_n(128) - 64) : rnd_n(0x100);
	if (base == R_ESP) {
		bv = R[R_ESP];
		disp = (s64)(ta - bv - (iv << scale));
		mod = disp == (s8)disp ? 1 : 2;
	} else if (index == base) {
		/* One register twice: v * (1 + 2^scale) + disp = t. */
		u64 m = 1 + (1ull << scale);

		bv = iv = (ta - (u64)disp) / m;
		disp = (s64)(ta - bv * m);
		if (mod == 0 || (mod == 1 && disp != (s8)disp))
			mod = 2;
	} else {
		bv = ta - (u64)disp - (iv << scale);
	}
	if (lea && base != R_ESP) {
		bv = rand_val();
		if (index >= 0)
			iv = index == base ? bv : rand_val();
	}
	if (g->a32) {	/* only the low 32 bits count: garbage above */
		if (base != R_ESP)
			bv = (u32)bv | rnd() << 32;
		if (index >= 0 && index != base)
			iv = (u32)iv | rnd() << 32;
		else if (index == base && base != R_ESP)
			iv = bv;
	}
	R[base] = bv;
	if (index >= 0)
		R[index] = iv;
	if (index >= 0 || (base & 7) == 4) {
		int x = index < 0 ? 4 : index;	/* 4 alone: no index */

		p[(*n)++] = (u8)(mod << 6 | (reg & 7) << 3 | 4);
		p[(*n)++] = (u8)(scale << 6 | (x & 7) << 3 | (base & 7));
	} else {
		p[(*n)++] = (u8)(mod << 6 | (reg & 7) << 3 | (base & 7));
	}
	if (mod == 1)
		p[(*n)++] = (u8)disp;
	if (mod == 2) {
		memcpy(p + *n, &(s32){ (s32)disp }, 4);
		*n += 4;
	}
	/* The REX bits are worked out by the caller from these. */
	g->rm = base | (index >= 0 ? index << 8 : 0) | 0x10000;
	return -1;
}

/*
 * Now and then a base register that takes the operand out of the window:
 * non-canonical (#GP, or #SS on the stack) or not mapped on either side
 * (#PF).
 */
static void bad_address(struct gen *g)
{
	u64 *R = g->k->r;

	if (g->base < 0 || g->f->kind == K_LEA || rnd_n(32))
		return;
	if (rnd_n(2))
		R[g->base] ^= 1ull << 62;
	else
		R[g->base] += 0x4000000;	/* 64 MiB on: nothing there */
}

/* Register number for the reg field and the rm field of a form. */
static int pick_operand(struct gen *g, int kind)
{
	/* BT's bit offset must keep the address in the window */
	if (kind == K_G)
		return pick_reg(g, g->f->resv | (g->f->kind == K_BT ?
						  R_BIT(R_ESP) : 0));
	return (int)rnd_n(g->rex ? 16 : 8);
}

static u64 rand_imm(int bytes)
{
	static const u64 e8[] = { 0, 1, 0x7f, 0x80, 0xff, 0x3f, 0x40, 0x20,
				  0x1f };
	static const u64 e32[] = { 0, 1, 0x7fffffff, 0x80000000, 0xffffffff,
				   0xffff, 0x8000 };

	if (rnd_n(3))
		return rnd();
	if (bytes == 1)
		return e8[rnd_n(ARRAY_SIZE(e8))];
	if (bytes == 8)
		return rand_val();
	return e32[rnd_n(ARRAY_SIZE(e32))];
}

/* The flags a shift or rotate by cnt leaves undefined (ModRM /op). */
static u32 shift_undef(const struct form *f, u32 cnt)
{
	int op = f->ext, bits = f->osz * 8;
	u32 u = 0;

	cnt &= f->osz == 8 ? 63 : 31;
	if (!cnt)
		return 0;
	if (cnt != 1)
		u |= F_OF;
	if (op >= 4) {
		u |= F_AF;
		if (op != 7 && cnt >= (u32)bits)
			u |= F_CF;
	}
	return u;
}

static void setup_div(struct gen *g)
{
	int sz = g->f->osz, bits = sz * 8;
	u64 m = size_mask(sz), d = get_rm(g, sz) & m, lo, hi;
	bool idiv = g->f->ext == 7;

	if (rnd_n(10) == 0) {
		set_rm(g, 0, sz);
		return;
	}
	if (!d)
		set_rm(g, d = 1 + rnd_n(m), sz);
	d = get_rm(g, sz);
	lo = rand_val() & m;
	if (idiv)
		hi = (lo >> (bits - 1)) & 1 ? m : 0;
	else
		hi = rnd_n(d ? d : 1);
	if (rnd_n(8) == 0)
		hi = rand_val() & m;	/* overflow likely: #DE */
	if (idiv && rnd_n(10) == 0) {	/* MIN / -1 */
		lo = 1ull << (bits - 1);
		hi = m;
		set_rm(g, m, sz);
	}
	if (sz == 1) {
		g->k->r[R_EAX] = (g->k->r[R_EAX] & ~0xffffull) |
				 (hi & 0xff) << 8 | (lo & 0xff);
		return;
	}
	set_reg(g, R_EAX, lo, sz);
	set_reg(g, R_EDX, hi, sz);
}

static void setup_string(struct gen *g)
{
	const struct form *f = g->f;
	u64 *R = g->k->r;
	u32 si = WIN + 0x400 + (u32)rnd_n(0x1400);
	u32 di = WIN + 0x400 + (u32)rnd_n(0x1400);
	u32 cnt = f->rep ? (u32)(rnd_n(4) ? rnd_n(20) : rnd_n(3)) : 0;

	if (rnd_n(2))
		g->k->rfl |= F_DF;
	R[R_ESI] = si;
	R[R_EDI] = di;
	if (f->rep)
		R[R_ECX] = cnt;
	if (f->op[0] == 0xae && rnd_n(2)) {	/* SCAS: a run of matches */
		u32 i, n = cnt * f->osz;

		for (i = 0; i < n + 8 && di - WIN + i < DT_WIN_SIZE; i++)
			g->k->win[di - WIN + i] =
				(u8)(R[R_EAX] >> 8 * (i % f->osz));
		if (g->k->rfl & F_DF)
			for (i = 0; i < n + 8 && di - WIN >= i; i++)
				g->k->win[di - WIN - i] = (u8)(R[R_EAX] >>
					8 * ((f->osz - i % f->osz) % f->osz));
	}
	if (f->op[0] == 0xa6 && rnd_n(2)) {	/* CMPS: equal strings */
		u32 n = cnt * f->osz + 8;
		s64 from = (g->k->rfl & F_DF) ? -(s64)n + f->osz : 0;

		memmove(g->k->win + (di - WIN) + from,
			g->k->win + (si - WIN) + from, n);
		if (rnd_n(2))
			g->k->win[di - WIN + rnd_n(8)] ^= 1;
	}
	/*
	 * A 32-bit REP with ECX = 0 iterates no time; the host (Intel)
	 * still zero-extends RCX, and RSI/RDI for some of the five, which
	 * the SDM does not say: those upper halves are not compared.
	 */
	if (g->a32 && f->rep && !cnt)
		g->hi_undef = R_BIT(R_ECX) | R_BIT(R_ESI) | R_BIT(R_EDI);
	if (g->a32) {
		R[R_ESI] |= rnd() << 32;
		R[R_EDI] |= rnd() << 32;
		R[R_ECX] |= rnd() << 32;
	}
}

/* Targets: the end of the sled, INSN_ADDR + len + 8. */
static void setup_branch(struct gen *g)
{
	const struct form *f = g->f;
	struct c64 *k = g->k;
	u64 target = INSN_ADDR + k->len + DT_SLED_LEN;
	static const u64 counts[] = { 0, 1, 2, 0x100000000ull,
				      0x100000001ull, 0xffffffffull };

	if (g->imm_at >= 0 && f->op[0] != 0xc2) {
		memset(k->code + g->imm_at, 0, f->imm);
		k->code[g->imm_at] = DT_SLED_LEN;
	}
	if (f->op[0] == 0xc3 || f->op[0] == 0xc2)
		memcpy(k->win + (STACK - WIN), &target, 8);
	if (f->op[0] == 0xff)
		set_rm(g, target, 8);
	if (f->op[0] >= 0xe0 && f->op[0] <= 0xe3) {
		k->r[R_ECX] = rnd_n(2) ? counts[rnd_n(ARRAY_SIZE(counts))] :
			      rand_val();
		/* with 67, ECX; a 67 on JRCXZ makes it JECXZ */
		if (rnd_n(4) == 0) {
			memmove(k->code + 1, k->code, k->len);
			k->code[0] = 0x67;
			k->len++;
			k->code[g->imm_at + 1] = DT_SLED_LEN;
		}
	}
}

static void setup_kind(struct gen *g)
{
	const struct form *f = g->f;
	struct c64 *k = g->k;
	int sz = f->osz;
	u32 cnt;

	switch (f->kind) {
	case K_SHIFT:
		if (f->op[0] == 0xd2 || f->op[0] == 0xd3)
			k->r[R_ECX] = (k->r[R_ECX] & ~0xffull) | rand_count();
		cnt = f->op[0] >= 0xd2 ? (u32)k->r[R_ECX] & 0xff :
		      f->op[0] >= 0xd0 ? 1 : k->code[g->imm_at];
		if (f->op[0] < 0xd0 && rnd_n(2))
			k->code[g->imm_at] = (u8)(cnt = rand_count());
		g->flag_mask &= ~shift_undef(f, cnt);
		break;
	case K_SHXD:
		if (f->op[1] == 0xa5 || f->op[1] == 0xad)
			k->r[R_ECX] = (k->r[R_ECX] & ~0xffull) | rand_count();
		else if (rnd_n(2))
			k->code[g->imm_at] = (u8)rand_count();
		cnt = (f->op[1] & 1) ? (u32)k->r[R_ECX] & 0xff :
		      k->code[g->imm_at];
		if (sz == 2 && (cnt & 0x1f) > 16) {
			cnt -= 16;
			if (f->op[1] & 1)
				k->r[R_ECX] = (k->r[R_ECX] & ~0xffull) | cnt;
			else
				k->code[g->imm_at] = (u8)cnt;
		}
		cnt &= sz == 8 ? 63 : 31;
		if (cnt)
			g->flag_mask &= ~(F_AF | (cnt != 1 ? F_OF : 0));
		break;
	case K_DIV:
		setup_div(g);
		break;
	case K_BT:
		if (g->mem) {
			s64 off = (s64)rnd_n(0x6000) - 0x3000;

			/* above the operand size: garbage, ignored */
			set_reg(g, g->reg, (u64)off, sz);
		}
		break;
	case K_BSF:
		if (rnd_n(8) == 0)
			set_rm(g, 0, sz);
		else if (rnd_n(4) == 0)
			set_rm(g, 1ull << rnd_n(sz * 8), sz);
		break;
	case K_CMPXCHG:
		if (rnd_n(2))
			set_reg(g, R_EAX, get_rm(g, sz), sz);
		break;
	case K_CX:
		if (rnd_n(2)) {
			u64 lo = get_rm(g, 8), hi = 0;

			memcpy(&hi, k->win + (g->t - WIN) + 8, 8);
			if (sz == 8) {
				k->r[R_EAX] = (k->r[R_EAX] & ~0xffffffffull) |
					      (u32)lo;
				k->r[R_EDX] = (k->r[R_EDX] & ~0xffffffffull) |
					      (u32)(lo >> 32);
			} else {
				k->r[R_EAX] = lo;
				k->r[R_EDX] = hi;
			}
		}
		break;
	case K_STR:
		setup_string(g);
		break;
	case K_SSE:
		if (f->op[1] == 0xae && f->ext == 2) {	/* LDMXCSR */
			u32 m = gen_mxcsr();

			if (rnd_n(8) == 0)	/* a reserved bit: #GP */
				m |= mxcsr_reserved_bit(rnd());
			memcpy(k->win + (g->t - WIN), &m, 4);
		}
		break;
	case K_FX:
		if (f->ext == 1) {	/* FXRSTOR: x87 quiet, MXCSR valid */
			u8 *img = k->win + (g->t - WIN);
			u32 m = gen_mxcsr();

			if (rnd_n(8) == 0)
				m |= mxcsr_reserved_bit(rnd());
			memcpy(img, &(u32){ 0x037f }, 4);
			memcpy(img + 24, &m, 4);
		} else {
			/* the x87 part: the host's x87 is not ours */
			g->skip_off[0] = g->t - WIN;
			g->skip_len[0] = 24;
			g->skip_off[1] = g->t - WIN + 32;
			g->skip_len[1] = 128;
			if (host_mxcsr_mask() != MXCSR_MASK) {	/* and */
				g->skip_off[1] -= 4;	/* the mask */
				g->skip_len[1] += 4;
			}
		}
		break;
	case K_BR:
		setup_branch(g);
		break;
	case K_LEAVE:
	case K_ENTER:
		k->r[R_EBP] = WIN + 0x1000 + rnd_n(0x700);
		if (f->kind == K_ENTER && rnd_n(2))
			k->code[g->imm_at + 2] = (u8)rnd_n(5);
		if (f->kind == K_ENTER && rnd_n(2))
			k->code[g->imm_at] = (u8)rnd_n(0x40);
		if (f->kind == K_ENTER)
			k->code[g->imm_at + 1] = 0;	/* in the window */
		if (rnd_n(4) == 0)
			k->r[R_EBP] |= rnd() << 32;	/* RSP: #GP */
		if (f->osz == 8)
			k->r[R_EBP] = (u32)k->r[R_EBP];
		break;
	case K_FLAGS:
		if (f->op[0] == 0x9d) {	/* no TF, AC, IOPL (CPL 3) */
			u64 v = (rnd() & (F_ARITH | F_DF)) | F_IF | F_FIXED1;

			memcpy(k->win + (STACK - WIN), &v, 8);
		}
		break;
	case K_XLAT:
		k->r[R_EBX] = WIN + 0x100 + rnd_n(0x1b00);
		if (g->a32)
			k->r[R_EBX] |= rnd() << 32;
		break;
	default:
		break;
	}
}

static void gen_case(const struct form *f, struct c64 *k, struct gen *g)
{
	u8 *p = k->code, rex;
	int n = 0, rip_at = -1, i, rex_at, reg = 0;

	memset(k, 0, sizeof(*k));
	memset(g, 0, sizeof(*g));
	g->f = f;
	g->k = k;
	g->imm_at = -1;
	for (i = 0; i < 16; i++) {
		k->r[i] = rand_val();
		fill(k->xmm[i].b, 16);
	}
	for (i = 0; i < 8; i++)
		fill((u8 *)&k->mm[i], 8);
	k->r[R_ESP] = STACK;
	k->rfl = (rnd() & F_ARITH) | F_FIXED1;
	k->mxcsr = f->kind >= K_SSE ? gen_mxcsr() : MXCSR_RESET;
	for (i = 0; i < (int)DT_WIN_SIZE; i += 16)
		fill(k->win + i, 16);
	g->flag_mask = (F_ARITH | F_DF) & ~f->undef;

	/* REX: needed for W and registers 8-15; an empty one turns AH..BH
	 * into SPL..DIL */
	g->rex = f->w || rnd_n(3) != 0;
	if (f->osz == 1 && f->kind != K_SSE)
		g->rex = rnd_n(2);
	g->mem = f->rm == RM_MEM || (f->rm == RM_ANY && f->ext != EXT_NONE &&
				     f->ext != EXT_OPREG && rnd_n(2));
	g->a32 = g->mem && rnd_n(6) == 0;
	if (f->kind == K_STR || f->kind == K_XLAT)
		g->a32 = rnd_n(4) == 0;
	if (g->mem) {
		int al = f->msize >= 16 ? 16 : f->msize ? f->msize : 1;

		g->t = WIN + 0x800 + (u32)rnd_n(0x1000);
		if (rnd_n(8))
			g->t &= ~(u32)(al - 1);
		if (f->kind >= K_SSE)
			fill(k->win + (g->t - WIN), 16);
		else if (rnd_n(2))
			memcpy(k->win + (g->t - WIN), &(u64){ rand_val() }, 8);
	}

	/* Legacy prefixes, then REX, then the opcode. */
	/* Now and then a stray REX, which a legacy prefix after it makes
	 * the decoder ignore; CS/DS/ES/SS overrides, ignored too; FS and
	 * GS overrides, whose bases count. */
	if (rnd_n(16) == 0) {
		p[n++] = (u8)(0x40 | rnd_n(16));
		p[n++] = 0x3e;
	}
	if (g->mem && rnd_n(8) == 0)
		p[n++] = "\x2e\x3e\x26\x36"[rnd_n(4)];
	if (g->mem && rnd_n(6) == 0) {
		bool fs = rnd_n(2);

		p[n++] = fs ? 0x64 : 0x65;
		g->sbase = fs ? fs_base : DT_GS_BASE;
		if (fs)
			g->a32 = false;	/* no 32-bit offset reaches it */
	}
	if (f->lock && g->mem && rnd_n(3) == 0)
		p[n++] = 0xf0;
	if (g->a32)
		p[n++] = 0x67;
	if (f->rep)
		p[n++] = f->rep;
	if (f->pfx)
		p[n++] = f->pfx;
	rex_at = g->rex ? n++ : -1;
	memcpy(p + n, f->op, f->oplen);
	n += f->oplen;

	rex = 0x40 | (f->w ? 8 : 0);
	if (f->ext == EXT_OPREG) {
		reg = pick_operand(g, K_G);
		if (f->op[0] == 0x50 || f->op[0] == 0x58)
			reg = (int)rnd_n(g->rex ? 16 : 8);
		p[n - 1] = (u8)(p[n - 1] + (reg & 7));
		rex |= reg >> 3;
		g->rm = reg;
	} else if (f->ext != EXT_NONE) {
		reg = f->ext >= 0 ? f->ext : pick_operand(g, f->regk);
		g->reg = reg;
		rex |= (reg >> 3) << 2;
		if (g->mem) {
			rip_at = emit_mem(g, p, &n, reg);
			if (g->rm & 0x10000) {
				rex |= (g->rm & 15) >> 3;
				if (g->rm & 0xff00)
					rex |= ((g->rm >> 8 & 15) >> 3) << 1;
			}
			g->rm = 0;
			bad_address(g);
		} else {
			g->rm = pick_operand(g, f->rmk);
			rex |= g->rm >> 3;
			p[n++] = (u8)(0xc0 | (reg & 7) << 3 | (g->rm & 7));
		}
	}
	if (rex_at >= 0)
		p[rex_at] = rex;
	if (f->kind == K_MOFFS) {	/* the address: 8 bytes, 4 with 67 */
		u64 v = WIN + 0x100 + rnd_n(0x1c00);

		if (rnd_n(4) == 0) {
			memmove(p + 1, p, (size_t)n);
			p[0] = 0x67;
			n++;
			memcpy(p + n, &v, 4);
			n += 4;
		} else {
			memcpy(p + n, &v, 8);
			n += 8;
		}
	} else if (f->imm) {
		u64 v = rand_imm(f->imm);

		g->imm_at = n;
		memcpy(p + n, &v, f->imm);
		n += f->imm;
	}
	if (rip_at >= 0) {
		s32 d = (s32)(g->t - g->sbase - (INSN_ADDR + (u32)n + 4));

		memmove(p + rip_at + 4, p + rip_at, (size_t)(n - rip_at));
		memcpy(p + rip_at, &d, 4);
		n += 4;
		if (g->imm_at >= 0)
			g->imm_at += 4;
	}
	k->len = (u8)n;
	setup_kind(g);
	if (f->kind == K_SSE && (f->resv & R_BIT(R_EDI))) {
		k->r[R_EDI] = WIN + 0x100 + rnd_n(0x1c00);
		/* One case in four with RDI at 1 TiB up, mapped on neither
		 * side (natively it is in ASAN's shadow gap): the store goes
		 * to all of RDI and faults there, where EDI alone would reach
		 * the window.  Every mask then selects a byte: with none,
		 * whether the address faults is the implementation's choice
		 * (SDM, MASKMOVQ), and ours is QEMU's: it does not. */
		if (!rnd_n(4)) {
			int i;

			k->r[R_EDI] |= 1ull << 40;
			for (i = 0; i < 16; i++)
				k->xmm[i].b[rnd_n(16)] |= 0x80;
			for (i = 0; i < 8; i++)
				k->mm[i] |= 0x80ull << (8 * rnd_n(8));
		}
	}
}

/* --- the host --- */

static u8 *code_lo;
static u8 epilogue[512];
static int epilogue_len;
static sigjmp_buf fault_jmp;
static volatile sig_atomic_t in_stub;
static struct r64 *fault_res;
static char altstack[256 * 1024];
static struct sigaction old_act[32];

/* op ModRM(reg, [abs32]) with REX as given (0: none). */
static u8 *emit_abs(u8 *p, u8 pfx, u8 rex, const u8 *op, int nop, int reg,
		    u32 addr)
{
	if (pfx)
		*p++ = pfx;
	if (rex | (reg >> 3))
		*p++ = (u8)(0x40 | rex | (reg >> 3) << 2);
	memcpy(p, op, nop);
	p += nop;
	*p++ = (u8)((reg & 7) << 3 | 4);
	*p++ = 0x25;
	memcpy(p, &addr, 4);
	return p + 4;
}

static void build_stubs(void)
{
	static const u8 save[] = { 0x53, 0x55, 0x41, 0x54, 0x41, 0x55,
				   0x41, 0x56, 0x41, 0x57 };
	static const u8 restore[] = { 0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d,
				      0x41, 0x5c, 0x5d, 0x5b, 0xc3 };
	static const u8 ldmx[] = { 0x0f, 0xae }, dq_ld[] = { 0x0f, 0x6f },
		dq_st[] = { 0x0f, 0x7f }, push[] = { 0xff }, ld[] = { 0x8b },
		st[] = { 0x89 };
	u8 *p = code_lo;
	s32 rel;
	int i;

	memcpy(p, save, sizeof(save));
	p += sizeof(save);
	p = emit_abs(p, 0, 8, st, 1, R_ESP, ST_SAVED);
	p = emit_abs(p, 0, 0, ldmx, 2, 2, ST_MXCSR);
	for (i = 0; i < 16; i++)
		p = emit_abs(p, 0xf3, 0, dq_ld, 2, i, ST_XMM + 16 * i);
	for (i = 0; i < 8; i++)
		p = emit_abs(p, 0, 0, dq_ld, 2, i, ST_MM + 8 * i);
	p = emit_abs(p, 0, 0, push, 1, 6, ST_RFL);
	*p++ = 0x9d;				/* popfq */
	for (i = 0; i < 16; i++)
		p = emit_abs(p, 0, 8, ld, 1, i, ST_R + 8 * i);
	*p++ = 0xe9;				/* jmp INSN_ADDR */
	rel = (s32)(INSN_ADDR - (PROLOGUE_ADDR + (u32)(p - code_lo) + 4));
	memcpy(p, &rel, 4);

	p = epilogue;
	for (i = 0; i < 16; i++)
		p = emit_abs(p, 0, 8, st, 1, i, ST_R + 8 * i);
	p = emit_abs(p, 0, 8, ld, 1, R_ESP, ST_SAVED);
	*p++ = 0x9c;				/* pushfq */
	*p++ = 0x58;				/* pop rax */
	p = emit_abs(p, 0, 8, st, 1, 0, ST_RFL);
	for (i = 0; i < 16; i++)
		p = emit_abs(p, 0xf3, 0, dq_st, 2, i, ST_XMM + 16 * i);
	for (i = 0; i < 8; i++)
		p = emit_abs(p, 0, 0, dq_st, 2, i, ST_MM + 8 * i);
	p = emit_abs(p, 0, 0, ldmx, 2, 3, ST_MXCSR);	/* stmxcsr */
	p = emit_abs(p, 0, 0, ldmx, 2, 2, ST_MXDEF);
	*p++ = 0x0f;				/* emms */
	*p++ = 0x77;
	*p++ = 0xfc;				/* cld */
	memcpy(p, restore, sizeof(restore));
	p += sizeof(restore);
	epilogue_len = (int)(p - epilogue);
}

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
	static const int map[16] = { REG_RAX, REG_RCX, REG_RDX, REG_RBX,
		REG_RSP, REG_RBP, REG_RSI, REG_RDI, REG_R8, REG_R9, REG_R10,
		REG_R11, REG_R12, REG_R13, REG_R14, REG_R15 };
	ucontext_t *uc = ctx;
	greg_t *g = uc->uc_mcontext.gregs;
	int i;

	(void)si;
	if (!in_stub) {
		sigaction(sig, &old_act[sig], NULL);
		return;
	}
	for (i = 0; i < 16; i++)
		fault_res->r[i] = (u64)g[map[i]];
	fault_res->rfl = (u64)g[REG_EFL];
	fault_res->rip = (u64)g[REG_RIP];
	fault_res->vec = sig == SIGILL ? EXC_UD : (int)g[REG_TRAPNO];
	fault_res->mxcsr = uc->uc_mcontext.fpregs->mxcsr;
	memcpy(fault_res->xmm, uc->uc_mcontext.fpregs->_xmm, 256);
	siglongjmp(fault_jmp, 1);
}

static int native_init(void)
{
	static const int sigs[] = { SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGTRAP };
	struct sigaction sa;
	stack_t ss;
	void *m;
	unsigned i;

	m = mmap((void *)(uintptr_t)WIN, LOW_MAP_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (m != (void *)(uintptr_t)WIN) {
		fprintf(stderr, "diff64: cannot map the window: %s\n",
			strerror(errno));
		return -1;
	}
	m = mmap((void *)(uintptr_t)PROLOGUE_ADDR, CODE_MAP_SIZE,
		 PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE |
		 MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (m != (void *)(uintptr_t)PROLOGUE_ADDR) {
		fprintf(stderr, "diff64: cannot map the code at %#x: %s\n",
			PROLOGUE_ADDR, strerror(errno));
		return -1;
	}
	code_lo = m;
	if (syscall(SYS_arch_prctl, ARCH_GET_FS, &fs_base) ||
	    syscall(SYS_arch_prctl, ARCH_SET_GS, DT_GS_BASE)) {
		perror("diff64: arch_prctl");
		return -1;
	}
	build_stubs();
	ss.ss_sp = altstack;
	ss.ss_size = sizeof(altstack);
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL))
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, &old_act[sigs[i]]);
	return 0;
}

static void native_run(const struct c64 *k, struct r64 *res, bool sled)
{
	u8 *win = (u8 *)(uintptr_t)WIN, *st = (u8 *)(uintptr_t)ST_ADDR;
	u8 *insn = code_lo + (INSN_ADDR - PROLOGUE_ADDR);
	u32 def = MXCSR_RESET;

	memset(res, 0, sizeof(*res));
	res->vec = -1;
	memcpy(win, k->win, DT_WIN_SIZE);
	memcpy(st, k->r, 128);
	memcpy(st + 128, &k->rfl, 8);
	memcpy(st + 144, &k->mxcsr, 4);
	memcpy(st + 148, &def, 4);
	memcpy(st + 256, k->xmm, 256);
	memcpy(st + 512, k->mm, 64);
	memcpy(insn, k->code, k->len);
	st[152] = 0;
	if (sled) {
		static const u8 sl[DT_SLED_LEN] = { 0xc6, 0x04, 0x25,
			ST_SLED & 0xff, (ST_SLED >> 8) & 0xff,
			(ST_SLED >> 16) & 0xff, ST_SLED >> 24, 1 };

		memcpy(insn + k->len, sl, DT_SLED_LEN);
		memcpy(insn + k->len + DT_SLED_LEN, epilogue,
		       (size_t)epilogue_len);
	} else {
		memcpy(insn + k->len, epilogue, (size_t)epilogue_len);
	}
	fault_res = res;
	if (sigsetjmp(fault_jmp, 1) == 0) {
		in_stub = 1;
		((void (*)(void))code_lo)();
		in_stub = 0;
		memcpy(res->r, st, 128);
		memcpy(&res->rfl, st + 128, 8);
		memcpy(&res->mxcsr, st + 144, 4);
		memcpy(res->xmm, st + 256, 256);
		memcpy(res->mm, st + 512, 64);
		res->rip = INSN_ADDR + k->len;
		if (sled && !st[152])
			res->rip += DT_SLED_LEN;
	} else {
		in_stub = 0;
		asm volatile("ldmxcsr %0\n\temms\n\tcld" : : "m" (def));
		memcpy(res->mm, k->mm, 64);
	}
	memcpy(res->win, win, DT_WIN_SIZE);
}

/* --- our CPU, in long mode --- */

static u8 *ram;
static struct cpu *cpu;

static void put64(u32 gpa, u64 v)
{
	memcpy(ram + gpa, &v, 8);
}

/* Page tables: identity over all of RAM, 4 KiB pages, supervisor RW. */
static void build_tables(void)
{
	u32 pdpt = PML4_ADDR + 0x1000, pd = pdpt + 0x1000, pt = pd + 0x1000;
	u32 i;

	put64(PML4_ADDR, pdpt | 3);
	put64(pdpt, pd | 3);
	for (i = 0; i < RAM_SIZE >> 21; i++)
		put64(pd + 8 * i, (pt + 0x1000 * i) | 3);
	for (i = 0; i < RAM_SIZE >> 12; i++)
		put64(pt + 8 * i, (u64)i << 12 | 3);
}

static int ram_init(void)
{
	static const struct cpu_bus bus;
	int v;

	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		return -1;
	build_tables();
	/* 0x10: 64-bit code (L=1, D=0), 0x18: data, 0x20: 64-bit TSS */
	put64(GDT_ADDR + 0x10, 0x00af9b000000ffffull);
	put64(GDT_ADDR + 0x18, 0x00cf93000000ffffull);
	put64(GDT_ADDR + 0x20, 0x0000890000000067ull | (u64)TSS_ADDR << 16);
	put64(GDT_ADDR + 0x28, 0);
	put64(TSS_ADDR + 36, IST_TOP);		/* IST1 */
	for (v = 0; v < 256; v++) {
		u64 h = HANDLERS + 16 * (u32)v;

		/* present 64-bit interrupt gate, IST 1 */
		put64(IDT_ADDR + 16 * (u32)v, (h & 0xffff) |
		      (u64)SEL_CODE64 << 16 | 1ull << 32 | 0x8eull << 40 |
		      (h >> 16 & 0xffff) << 48);
		put64(IDT_ADDR + 16 * (u32)v + 8, h >> 32);
		memset(ram + h, 0xf4, 16);
	}
	cpu = cpu_new(ram, RAM_SIZE, &bus);
	return cpu ? 0 : -1;
}

/* The state the CPU's own CR0/CR4/EFER writes and far jump leave. */
static void enter_long_mode(struct cpu *c)
{
	cpu_reset_flat32(c, INSN_ADDR);
	c->gdtr.base = GDT_ADDR;
	c->gdtr.limit = 0x2f;
	c->idtr.base = IDT_ADDR;
	c->idtr.limit = 256 * 16 - 1;
	c->tr.sel = SEL_TSS;
	c->tr.base = TSS_ADDR;
	c->tr.limit = 0x67;
	c->tr.attr = 0x8b;	/* busy 64-bit TSS */
	c->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	c->cr3 = PML4_ADDR;
	c->efer = EFER_LME | EFER_LMA | EFER_SCE | EFER_NXE;
	c->cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	c->seg[S_CS].sel = SEL_CODE64;
	c->seg[S_CS].attr = 0xaf9b;
	c->seg[S_FS].base = fs_base;
	c->seg[S_GS].base = DT_GS_BASE;
	mmu_flush(c, false);
}

static void ours_run(const struct c64 *k, struct r64 *res)
{
	struct cpu_regs r;
	int i, n;

	memset(res, 0, sizeof(*res));
	res->vec = -1;
	enter_long_mode(cpu);
	cpu_get_regs(cpu, &r);
	r.eip = INSN_ADDR;
	r.eflags = (u32)k->rfl | F_FIXED1 | F_IF;	/* as natively */
	cpu_set_regs(cpu, &r);
	for (i = 0; i < 16; i++)
		cpu->r[i].q = k->r[i];
	memcpy(cpu->xmm, k->xmm, 256);
	for (i = 0; i < 8; i++)
		fpu_mm_write(cpu, i, k->mm[i]);
	fpu_emms(cpu);
	cpu->mxcsr = k->mxcsr;
	memset(ram + INSN_ADDR, 0xf4, 32);
	memcpy(ram + INSN_ADDR, k->code, k->len);
	memcpy(ram + WIN, k->win, DT_WIN_SIZE);
	memset(ram + IST_TOP - 64, 0, 64);
	/* New code where the last case's was: the translator must know. */
	cpu_mem_written(cpu, INSN_ADDR, 32);
	cpu_mem_written(cpu, WIN, DT_WIN_SIZE);
	cpu_mem_written(cpu, IST_TOP - 64, 64);

	/* A REP string instruction may stop at the budget: run it on. */
	for (n = 0; n < 100000; n++) {
		if (cpu_run(cpu, 1) == CPU_SHUTDOWN) {
			res->vec = 99;
			break;
		}
		if (cpu->rip != INSN_ADDR)
			break;
	}
	cpu_get_regs(cpu, &r);
	for (i = 0; i < 16; i++)
		res->r[i] = cpu->r[i].q;
	res->rfl = r.eflags;
	res->rip = cpu->rip;
	if (cpu->rip >= HANDLERS && cpu->rip < HANDLERS + 256 * 16) {
		res->vec = (int)(cpu->rip - HANDLERS) / 16;
		memcpy(&res->r[R_ESP], ram + IST_TOP - 16, 8);
		memcpy(&res->rfl, ram + IST_TOP - 24, 8);
		memcpy(&res->rip, ram + IST_TOP - 40, 8);
	}
	res->mxcsr = cpu->mxcsr;
	memcpy(res->xmm, cpu->xmm, 256);
	for (i = 0; i < 8; i++)
		res->mm[i] = fpu_mm_read(cpu, i);
	memcpy(res->win, ram + WIN, DT_WIN_SIZE);
}

/* --- the x87 pointers of FXSAVE64 and FXRSTOR64 --- */

/*
 * FXSAVE64 keeps the last x87 instruction's RIP (FIP) and its operand's
 * address (FDP) whole, at bytes 8 and 16; FXSAVE in 64-bit mode keeps
 * their low halves, each followed by a selector.  One run of a short
 * sequence from an address with bits above 31, natively and on our CPU,
 * shows it.  The host's FDP changes only when an instruction takes an
 * unmasked exception (CPUID.7.0:EBX[6] on this kind of host), so the
 * sequence makes one: FDIV by zero with ZM clear, left pending (neither
 * FXSAVE waits for it) and cleared by FNINIT at the end.  The selectors
 * are not compared: the host's process has its own, and newer CPUs save
 * zeros there (CPUID.7.0:EBX[13]).
 */
#define XP_LIN		0x0000123400000000ull	/* code; data at +0x1000 */
#define XP_TABLES	0x01800000u	/* guest: PDPT, PD, PT for XP_LIN */
#define XP_CODE_PA	(XP_TABLES + 0x3000u)
#define XP_DATA_PA	(XP_TABLES + 0x4000u)
#define XP_BUF_PA	(XP_TABLES + 0x5000u)	/* two images, identity */

/* fninit; fldcw (rdi); fld1; fdivs 4(rdi); fxsave64 (rsi); fxsave (rdx);
 * fninit; ret (natively) or hlt (ours) */
static const u8 xp_save[] = { 0xdb, 0xe3, 0xd9, 0x2f, 0xd9, 0xe8, 0xd8,
	0x77, 0x04, 0x48, 0x0f, 0xae, 0x06, 0x0f, 0xae, 0x02, 0xdb, 0xe3,
	0xc3 };
/* fxrstor64 (rsi); fxsave64 (rdx); fninit; ret or hlt */
static const u8 xp_restore[] = { 0x48, 0x0f, 0xae, 0x0e, 0x48, 0x0f, 0xae,
	0x02, 0xdb, 0xe3, 0xc3 };

static void xp_map(void)
{
	u32 pdpt = XP_TABLES, pd = pdpt + 0x1000, pt = pd + 0x1000;

	put64(PML4_ADDR + 8 * ((XP_LIN >> 39) & 511), pdpt | 3);
	put64(pdpt + 8 * ((XP_LIN >> 30) & 511), pd | 3);
	put64(pd + 8 * ((XP_LIN >> 21) & 511), pt | 3);
	put64(pt + 8 * ((XP_LIN >> 12) & 511), XP_CODE_PA | 3);
	put64(pt + 8 * (((XP_LIN >> 12) + 1) & 511), XP_DATA_PA | 3);
}

/* Our CPU runs code (its RET made HLT) with RDI, RSI, RDX as given;
 * false if it faulted or did not reach the HLT. */
static bool xp_ours(const u8 *code, int len, u64 rdi, u64 rsi, u64 rdx)
{
	int n;

	enter_long_mode(cpu);
	memcpy(ram + XP_CODE_PA, code, (size_t)len);
	ram[XP_CODE_PA + len - 1] = 0xf4;
	cpu_mem_written(cpu, XP_CODE_PA, (u64)len);
	cpu->r[R_EDI].q = rdi;
	cpu->r[R_ESI].q = rsi;
	cpu->r[R_EDX].q = rdx;
	cpu->rip = XP_LIN;
	for (n = 0; n < 32; n++)
		if (cpu_run(cpu, 1) == CPU_HALT)
			break;
	return cpu->rip == XP_LIN + (u64)len;
}

/* Bytes [from, to) of the two images differ: TAP and a hex dump. */
static unsigned xp_compare(const char *what, const u8 *n, const u8 *o,
			   const int *from, const int *to, int nr)
{
	int r, i;

	for (r = 0; r < nr; r++)
		if (memcmp(n + from[r], o + from[r], (size_t)(to[r] - from[r])))
			break;
	printf("%s - diff64 %s | 1 | 0 | %d | host\n",
	       r < nr ? "not ok" : "ok", what, r < nr);
	if (r == nr)
		return 0;
	printf("#   host:");
	for (i = 0; i < 24; i++)
		printf(" %02x", n[i]);
	printf("\n#   ours:");
	for (i = 0; i < 24; i++)
		printf(" %02x", o[i]);
	printf("\n");
	return 1;
}

static unsigned x87_pointers(void)
{
	static u8 img[3][512] __attribute__((aligned(16)));
	static const int all_from[] = { 0 }, all_to[] = { 24 };
	static const int nsel_from[] = { 0, 16 }, nsel_to[] = { 12, 20 };
	u8 *page, *data, *ours = ram + XP_BUF_PA;
	u64 x = XP_LIN + 0x1000;
	unsigned bad = 0;
	bool ran;

	page = mmap((void *)(uintptr_t)XP_LIN, 0x2000,
		    PROT_READ | PROT_WRITE | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (page != (void *)(uintptr_t)XP_LIN) {
		printf("not ok - diff64 x87 pointers: cannot map %#llx\n",
		       (unsigned long long)XP_LIN);
		return 1;
	}
	data = page + 0x1000;
	xp_map();
	/* FCW 0x37b: ZM clear; then the divisor, 0.0f. */
	memcpy(data, &(u32){ 0x037b }, 4);
	memcpy(data + 4, &(u32){ 0 }, 4);
	memcpy(ram + XP_DATA_PA, data, 8);
	cpu_mem_written(cpu, XP_DATA_PA, 8);
	memcpy(page, xp_save, sizeof(xp_save));
	memset(img, 0, sizeof(img));
	memset(ours, 0, 1024);
	((void (*)(u64, u8 *, u8 *))page)(x, img[0], img[1]);
	ran = xp_ours(xp_save, sizeof(xp_save), x, XP_BUF_PA,
		      XP_BUF_PA + 512);
	if (!ran)
		memset(ours, 0xee, 1024);
	bad += xp_compare("fxsave64 after fdiv (FIP, FDP 64-bit)", img[0],
			  ours, all_from, all_to, 1);
	bad += xp_compare("fxsave after fdiv (FIP, FDP low halves)", img[1],
			  ours + 512, nsel_from, nsel_to, 2);
	/* FXRSTOR64 takes them back whole: FIP and FDP with high bits. */
	memset(img[2], 0, 512);
	memcpy(img[2], &(u32){ 0x037f }, 4);
	memcpy(img[2] + 24, &(u32){ MXCSR_RESET }, 4);
	memcpy(img[2] + 8, &(u64){ XP_LIN + 0x123 }, 8);
	memcpy(img[2] + 16, &(u64){ 0x7edcba987654ull }, 8);
	memcpy(ours, img[2], 512);
	memset(ours + 512, 0, 512);
	memset(img[1], 0, 512);
	memcpy(page, xp_restore, sizeof(xp_restore));
	((void (*)(u64, u8 *, u8 *))page)(0, img[2], img[1]);
	ran = xp_ours(xp_restore, sizeof(xp_restore), 0, XP_BUF_PA,
		      XP_BUF_PA + 512);
	if (!ran)
		memset(ours + 512, 0xee, 512);
	if (host_is_amd())	/* host_sse.h */
		printf("ok - diff64 fxrstor64 then fxsave64 # SKIP the host "
		       "is AMD: its FXSAVE stores FIP and FDP only with an "
		       "x87 exception pending\n");
	else
		bad += xp_compare("fxrstor64 then fxsave64", img[1],
				  ours + 512, all_from, all_to, 1);
	munmap(page, 0x2000);
	return bad;
}

/* --- comparing --- */

static const char *differs(const struct gen *g, const struct r64 *n,
			   const struct r64 *o)
{
	int i;

	if (n->vec != o->vec)
		return "exception";
	if (n->rip != o->rip)
		return "RIP";
	for (i = 0; i < 16; i++) {
		u64 m = (g->hi_undef & R_BIT(i)) ? 0xffffffffull : ~0ull;

		if ((n->r[i] ^ o->r[i]) & m)
			return "general registers";
	}
	/* A fault's frame has RF set, a trap's (INT3, INTO) has not. */
	if ((n->rfl ^ o->rfl) & (g->flag_mask | (n->vec >= 0 ? F_RF : 0)))
		return "RFLAGS";
	if (n->mxcsr != o->mxcsr)
		return "MXCSR";
	if (memcmp(n->xmm, o->xmm, sizeof(n->xmm)))
		return "XMM registers";
	if (memcmp(n->mm, o->mm, sizeof(n->mm)))
		return "MMX registers";
	for (i = 0; i < (int)DT_WIN_SIZE; i++) {
		if (g->skip_len[0] && i == (int)g->skip_off[0])
			i += (int)g->skip_len[0];
		if (g->skip_len[1] && i == (int)g->skip_off[1])
			i += (int)g->skip_len[1];
		if (n->win[i] != o->win[i])
			return "memory";
	}
	return NULL;
}

static void show_case(const struct c64 *k, const struct r64 *n,
		      const struct r64 *o, const char *what)
{
	int i;

	printf("#   bytes:");
	for (i = 0; i < k->len; i++)
		printf(" %02x", k->code[i]);
	printf("  (%s differ)\n#   in: rflags %03llx mxcsr %04x; host: vec %d"
	       " rip %llx rflags %03llx; ours: vec %d rip %llx rflags %03llx"
	       "\n", what, (unsigned long long)k->rfl, k->mxcsr, n->vec,
	       (unsigned long long)n->rip, (unsigned long long)n->rfl,
	       o->vec, (unsigned long long)o->rip,
	       (unsigned long long)o->rfl);
	for (i = 0; i < 16; i++)
		if (n->r[i] != o->r[i] || k->r[i] != n->r[i])
			printf("#   r%d in %016llx host %016llx ours %016llx\n",
			       i, (unsigned long long)k->r[i],
			       (unsigned long long)n->r[i],
			       (unsigned long long)o->r[i]);
	for (i = 0; i < 16; i++)
		if (memcmp(&n->xmm[i], &o->xmm[i], 16))
			printf("#   xmm%d in %016llx%016llx host %016llx%016llx"
			       " ours %016llx%016llx\n", i,
			       (unsigned long long)k->xmm[i].q[1],
			       (unsigned long long)k->xmm[i].q[0],
			       (unsigned long long)n->xmm[i].q[1],
			       (unsigned long long)n->xmm[i].q[0],
			       (unsigned long long)o->xmm[i].q[1],
			       (unsigned long long)o->xmm[i].q[0]);
	for (i = 0; i < 8; i++)
		if (n->mm[i] != o->mm[i])
			printf("#   mm%d in %016llx host %016llx ours %016llx\n",
			       i, (unsigned long long)k->mm[i],
			       (unsigned long long)n->mm[i],
			       (unsigned long long)o->mm[i]);
	for (i = 0; i < (int)DT_WIN_SIZE; i++)
		if (n->win[i] != o->win[i]) {
			printf("#   memory +%#x: in %02x host %02x ours %02x\n",
			       i, k->win[i], n->win[i], o->win[i]);
			break;
		}
}

int main(void)
{
	static struct c64 k;
	static struct r64 n, o;
	static struct gen g;
	unsigned ncases = 300, n_show = 3, i, fi, bad = 0, total = 0, nf = 0;
	const char *filter = getenv("CPU_TEST_FILTER"), *e;

	if ((e = getenv("CPU_TEST_CASES")))
		ncases = (unsigned)atoi(e);
	if ((e = getenv("CPU_TEST_SEED")))
		rng_state ^= (u64)atoll(e) * 0x9e3779b97f4a7c15ull;
	if ((e = getenv("CPU_TEST_SHOW")))
		n_show = (unsigned)atoi(e);
	setvbuf(stdout, NULL, _IOLBF, 0);
	forms_init();
	if (native_init() || ram_init()) {
		printf("not ok - tests/cpu: diff64 cannot set up\n");
		return 1;
	}
	enter_long_mode(cpu);
	if (!cpu_64bit(cpu)) {
		printf("not ok - tests/cpu: diff64: not in 64-bit mode\n");
		return 1;
	}
	printf("# form | cases | faulted | mismatches | oracle\n");
	for (fi = 0; fi < nforms; fi++) {
		struct form *f = &forms[fi];
		unsigned shown = 0;

		if (filter && !strstr(f->name, filter))
			continue;
		nf++;
		for (i = 0; i < ncases; i++) {
			const char *why;

			gen_case(f, &k, &g);
			native_run(&k, &n, f->sled);
			ours_run(&k, &o);
			f->cases++;
			if (n.vec >= 0)
				f->faults++;
			why = differs(&g, &n, &o);
			if (!why)
				continue;
			f->bad++;
			if (shown++ < n_show) {
				printf("# %s: %s differ\n", f->name, why);
				show_case(&k, &n, &o, why);
			}
		}
		printf("%s - diff64 %s | %u | %u | %u | host\n",
		       f->bad ? "not ok" : "ok", f->name, f->cases, f->faults,
		       f->bad);
		bad += f->bad;
		total += f->cases;
	}
	if (!filter || strstr("x87 pointers fxsave64", filter))
		bad += x87_pointers();
	printf("# %u forms, %u cases, %u mismatches (oracle: host CPU, "
	       "x86-64)\n", nf, total, bad);
	return bad ? 1 : 0;
}
