/*
 * The instruction forms the differential test covers, and how a case of
 * each is made.
 *
 * forms_init() builds the table: every integer form that means the same in
 * 64-bit mode (without REX) is judged by the host CPU; the ones that do not
 * exist there, or mean something else (32-bit stack, 16-bit addressing,
 * BCD, INC/DEC 0x40-0x4f, disp32-only addressing, which is RIP-relative in
 * 64-bit mode) by qemu-i386.
 *
 * gen_case() draws registers, flags and memory (random with edge values
 * mixed in), builds the ModRM/SIB bytes so that every memory operand lands
 * in the window with the same register values natively and in the guest
 * (no 32-bit wrap-around, which 64-bit address arithmetic would not do),
 * and works out which flags and register bits the Intel SDM defines for
 * these inputs.
 */
#include <cpuid.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "../../src/cpu/cpu_internal.h"

struct form *forms;
unsigned nforms;
bool gen_gs = true;
static unsigned cap;

enum {
	K_PLAIN, K_SHIFT, K_SHXD, K_MUL1, K_DIV, K_IMUL, K_BT, K_BTI, K_BSF,
	K_CMPXCHG, K_CX8B, K_STR, K_XLAT, K_JCC, K_LEA, K_AAM, K_BCD,
	K_STACK, K_POPF, K_ENTER, K_BOUND, K_LOOP, K_CALL, K_RET, K_BRIND,
	K_MOFFS, K_SAHF, K_PAIR,
};

/* K_PAIR consumers: what reads the flags a producer left. */
enum { C_SETCC, C_JCC, C_CMOV, C_ADC, C_LAHF, C_NCONS };

#define IMM_Z	5	/* 2 or 4 bytes by operand size (1 for byte ops) */
#define IMM_ENTER 3	/* iw, ib */
#define EXT_OPREG (-2)	/* register in the opcode's low 3 bits */

static const u32 arith = F_ARITH;

/* --- random numbers: splitmix64, fixed seed, reproducible --- */

static u64 rng_state;

void rng_seed(u64 seed)
{
	rng_state = seed;
}

static u32 rnd(void)
{
	u64 z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (u32)((z ^ (z >> 31)) >> 16);
}

static u32 rnd_n(u32 n)
{
	return rnd() % n;
}

/* A register or memory value: random, with edge cases mixed in. */
static u32 rand_val(void)
{
	static const u32 edge[] = {
		0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff,
		0x10000, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe,
		0xffffffff, 0xff80, 0xff7f, 0x8080, 0x7f7f7f7f, 0x80808080,
		0xffff8000, 0x00ff00ff,
	};
	u32 p = rnd_n(100);

	if (p < 25)
		return edge[rnd_n(ARRAY_SIZE(edge))];
	if (p < 35)
		return rnd_n(32);
	if (p < 40)
		return (u32)-(s32)rnd_n(32);
	return rnd();
}

static u32 rand_count(void)
{
	static const u32 edge[] = { 0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33,
				    63, 255 };

	return rnd_n(3) ? edge[rnd_n(ARRAY_SIZE(edge))] : rnd_n(256);
}

/* --- the table --- */

static struct form *add(const char *group, const char *name, int osz,
			const u8 *op, int oplen, int ext, int rm, int imm,
			int kind, int oracle, u32 undef)
{
	struct form *f;
	const char *s;
	char *d;
	char w[4];

	if (nforms == cap) {
		cap = cap ? cap * 2 : 256;
		forms = realloc(forms, cap * sizeof(*forms));
		if (!forms)
			abort();
	}
	f = &forms[nforms++];
	memset(f, 0, sizeof(*f));
	f->group = group;
	/* '#' in a name stands for the operand width in bits */
	snprintf(w, sizeof(w), "%d", osz * 8);
	for (s = name, d = f->name; *s && d < f->name + sizeof(f->name) - 3;
	     s++) {
		if (*s == '#') {
			strcpy(d, w);
			d += strlen(w);
		} else {
			*d++ = *s;
		}
	}
	*d = 0;
	memcpy(f->op, op, oplen);
	f->oplen = (u8)oplen;
	f->ext = (s8)ext;
	f->rm = (u8)rm;
	f->imm = (u8)imm;
	f->osz = (u8)osz;
	f->kind = (u8)kind;
	f->oracle = (u8)oracle;
	f->undef = undef;
	f->segv_vec = EXC_GP;
	return f;
}

/* The same form at operand sizes 16 and 32. */
static void add_v(const char *group, const char *name, const u8 *op,
		  int oplen, int ext, int rm, int imm, int kind, int oracle,
		  u32 undef)
{
	add(group, name, 2, op, oplen, ext, rm, imm, kind, oracle, undef);
	add(group, name, 4, op, oplen, ext, rm, imm, kind, oracle, undef);
}

#define OP1(a)		(const u8[]){ a }, 1
#define OP2(a, b)	(const u8[]){ a, b }, 2

static const char *const alu_name[8] = {
	"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp",
};

static void add_alu(void)
{
	char n[48];
	int i;

	for (i = 0; i < 8; i++) {
		const char *m = alu_name[i];
		u32 u = (i == 1 || i == 4 || i == 6) ? F_AF : 0;
		u8 b = (u8)(i * 8);

		snprintf(n, sizeof(n), "%s r/m8,r8", m);
		add("alu", n, 1, OP1(b), 8, RM_ANY, 0, K_PLAIN, OR_HOST, u);
		snprintf(n, sizeof(n), "%s r/m#,r#", m);
		add_v("alu", n, OP1(b + 1), 8, RM_ANY, 0, K_PLAIN, OR_HOST, u);
		snprintf(n, sizeof(n), "%s r8,r/m8", m);
		add("alu", n, 1, OP1(b + 2), 8, RM_ANY, 0, K_PLAIN, OR_HOST, u);
		snprintf(n, sizeof(n), "%s r#,r/m#", m);
		add_v("alu", n, OP1(b + 3), 8, RM_ANY, 0, K_PLAIN, OR_HOST, u);
		snprintf(n, sizeof(n), "%s al,imm8", m);
		add("alu", n, 1, OP1(b + 4), -1, RM_ANY, 1, K_PLAIN, OR_HOST,
		    u);
		snprintf(n, sizeof(n), "%s eax,imm# (%02x)", m, b + 5);
		add_v("alu", n, OP1(b + 5), -1, RM_ANY, IMM_Z, K_PLAIN,
		      OR_HOST, u);
		snprintf(n, sizeof(n), "%s r/m8,imm8 (80)", m);
		add("alu", n, 1, OP1(0x80), i, RM_ANY, 1, K_PLAIN, OR_HOST, u);
		snprintf(n, sizeof(n), "%s r/m#,imm# (81)", m);
		add_v("alu", n, OP1(0x81), i, RM_ANY, IMM_Z, K_PLAIN, OR_HOST,
		      u);
		snprintf(n, sizeof(n), "%s r/m#,imm8 (83)", m);
		add_v("alu", n, OP1(0x83), i, RM_ANY, 1, K_PLAIN, OR_HOST, u);
		/* 82 is 80 again, but only outside 64-bit mode */
		snprintf(n, sizeof(n), "%s r/m8,imm8 (82)", m);
		add("alu", n, 1, OP1(0x82), i, RM_ANY, 1, K_PLAIN, OR_QEMU, u);
	}
	add("logic", "test r/m8,r8", 1, OP1(0x84), 8, RM_ANY, 0, K_PLAIN,
	    OR_HOST, F_AF);
	add_v("logic", "test r/m#,r#", OP1(0x85), 8, RM_ANY, 0, K_PLAIN,
	      OR_HOST, F_AF);
	add("logic", "test al,imm8", 1, OP1(0xa8), -1, RM_ANY, 1, K_PLAIN,
	    OR_HOST, F_AF);
	add_v("logic", "test eax,imm#", OP1(0xa9), -1, RM_ANY, IMM_Z, K_PLAIN,
	      OR_HOST, F_AF);
	add("logic", "test r/m8,imm8", 1, OP1(0xf6), 0, RM_ANY, 1, K_PLAIN,
	    OR_HOST, F_AF);
	add_v("logic", "test r/m#,imm#", OP1(0xf7), 0, RM_ANY, IMM_Z, K_PLAIN,
	      OR_HOST, F_AF);
	add("logic", "test r/m8,imm8 (f6 /1)", 1, OP1(0xf6), 1, RM_ANY, 1,
	    K_PLAIN, OR_HOST, F_AF);
	add("unary", "not r/m8", 1, OP1(0xf6), 2, RM_ANY, 0, K_PLAIN,
	    OR_HOST, 0);
	add_v("unary", "not r/m#", OP1(0xf7), 2, RM_ANY, 0, K_PLAIN, OR_HOST,
	      0);
	add("unary", "neg r/m8", 1, OP1(0xf6), 3, RM_ANY, 0, K_PLAIN,
	    OR_HOST, 0);
	add_v("unary", "neg r/m#", OP1(0xf7), 3, RM_ANY, 0, K_PLAIN, OR_HOST,
	      0);
	add("unary", "inc r/m8", 1, OP1(0xfe), 0, RM_ANY, 0, K_PLAIN,
	    OR_HOST, 0);
	add("unary", "dec r/m8", 1, OP1(0xfe), 1, RM_ANY, 0, K_PLAIN,
	    OR_HOST, 0);
	add_v("unary", "inc r/m#", OP1(0xff), 0, RM_ANY, 0, K_PLAIN, OR_HOST,
	      0);
	add_v("unary", "dec r/m#", OP1(0xff), 1, RM_ANY, 0, K_PLAIN, OR_HOST,
	      0);
	add_v("unary", "inc r# (40+r)", OP1(0x40), EXT_OPREG, RM_REG, 0,
	      K_PLAIN, OR_QEMU, 0);
	add_v("unary", "dec r# (48+r)", OP1(0x48), EXT_OPREG, RM_REG, 0,
	      K_PLAIN, OR_QEMU, 0);
}

static void add_muldiv(void)
{
	const u32 mu = F_SF | F_ZF | F_AF | F_PF;

	add("mul", "mul r/m8", 1, OP1(0xf6), 4, RM_ANY, 0, K_MUL1, OR_HOST,
	    mu);
	add_v("mul", "mul r/m#", OP1(0xf7), 4, RM_ANY, 0, K_MUL1, OR_HOST, mu);
	add("mul", "imul r/m8", 1, OP1(0xf6), 5, RM_ANY, 0, K_MUL1, OR_HOST,
	    mu);
	add_v("mul", "imul r/m#", OP1(0xf7), 5, RM_ANY, 0, K_MUL1, OR_HOST,
	      mu);
	add_v("mul", "imul r#,r/m#", OP2(0x0f, 0xaf), 8, RM_ANY, 0, K_IMUL,
	      OR_HOST, mu);
	add_v("mul", "imul r#,r/m#,imm#", OP1(0x69), 8, RM_ANY, IMM_Z, K_IMUL,
	      OR_HOST, mu);
	add_v("mul", "imul r#,r/m#,imm8", OP1(0x6b), 8, RM_ANY, 1, K_IMUL,
	      OR_HOST, mu);
	add("div", "div r/m8", 1, OP1(0xf6), 6, RM_ANY, 0, K_DIV, OR_HOST,
	    arith);
	add_v("div", "div r/m#", OP1(0xf7), 6, RM_ANY, 0, K_DIV, OR_HOST,
	      arith);
	add("div", "idiv r/m8", 1, OP1(0xf6), 7, RM_ANY, 0, K_DIV, OR_HOST,
	    arith);
	add_v("div", "idiv r/m#", OP1(0xf7), 7, RM_ANY, 0, K_DIV, OR_HOST,
	      arith);
}

static void add_shifts(void)
{
	static const char *const sh[8] = {
		"rol", "ror", "rcl", "rcr", "shl", "shr", "sal(/6)", "sar",
	};
	char n[48];
	int i;

	for (i = 0; i < 8; i++) {
		snprintf(n, sizeof(n), "%s r/m8,imm8", sh[i]);
		add("shift", n, 1, OP1(0xc0), i, RM_ANY, 1, K_SHIFT, OR_HOST,
		    0);
		snprintf(n, sizeof(n), "%s r/m#,imm8", sh[i]);
		add_v("shift", n, OP1(0xc1), i, RM_ANY, 1, K_SHIFT, OR_HOST, 0);
		snprintf(n, sizeof(n), "%s r/m8,1", sh[i]);
		add("shift", n, 1, OP1(0xd0), i, RM_ANY, 0, K_SHIFT, OR_HOST,
		    0);
		snprintf(n, sizeof(n), "%s r/m#,1", sh[i]);
		add_v("shift", n, OP1(0xd1), i, RM_ANY, 0, K_SHIFT, OR_HOST, 0);
		snprintf(n, sizeof(n), "%s r/m8,cl", sh[i]);
		add("shift", n, 1, OP1(0xd2), i, RM_ANY, 0, K_SHIFT, OR_HOST,
		    0);
		snprintf(n, sizeof(n), "%s r/m#,cl", sh[i]);
		add_v("shift", n, OP1(0xd3), i, RM_ANY, 0, K_SHIFT, OR_HOST, 0);
	}
	add_v("shift", "shld r/m#,r#,imm8", OP2(0x0f, 0xa4), 8, RM_ANY, 1,
	      K_SHXD, OR_HOST, 0);
	add_v("shift", "shld r/m#,r#,cl", OP2(0x0f, 0xa5), 8, RM_ANY, 0,
	      K_SHXD, OR_HOST, 0);
	add_v("shift", "shrd r/m#,r#,imm8", OP2(0x0f, 0xac), 8, RM_ANY, 1,
	      K_SHXD, OR_HOST, 0);
	add_v("shift", "shrd r/m#,r#,cl", OP2(0x0f, 0xad), 8, RM_ANY, 0,
	      K_SHXD, OR_HOST, 0);
}

static void add_bits(void)
{
	static const char *const bt[4] = { "bt", "bts", "btr", "btc" };
	const u32 bu = F_OF | F_SF | F_AF | F_PF;
	char n[48];
	int i;

	for (i = 0; i < 4; i++) {
		snprintf(n, sizeof(n), "%s r/m#,r#", bt[i]);
		add_v("bit", n, OP2(0x0f, (u8)(0xa3 + 8 * i)), 8, RM_ANY, 0,
		      K_BT, OR_HOST, bu);
		snprintf(n, sizeof(n), "%s r/m#,imm8", bt[i]);
		add_v("bit", n, OP2(0x0f, 0xba), 4 + i, RM_ANY, 1, K_BTI,
		      OR_HOST, bu);
	}
	add_v("bit", "bsf r#,r/m#", OP2(0x0f, 0xbc), 8, RM_ANY, 0, K_BSF,
	      OR_HOST, arith & ~F_ZF);
	add_v("bit", "bsr r#,r/m#", OP2(0x0f, 0xbd), 8, RM_ANY, 0, K_BSF,
	      OR_HOST, arith & ~F_ZF);
	add("bit", "bswap r32", 4, OP2(0x0f, 0xc8), EXT_OPREG, RM_REG, 0,
	    K_PLAIN, OR_HOST, 0);
	for (i = 0; i < 16; i++) {
		snprintf(n, sizeof(n), "set%x r/m8", i);
		add("setcc", n, 1, OP2(0x0f, (u8)(0x90 + i)), 0, RM_ANY, 0,
		    K_PLAIN, OR_HOST, 0);
		snprintf(n, sizeof(n), "cmov%x r#,r/m#", i);
		add_v("cmov", n, OP2(0x0f, (u8)(0x40 + i)), 8, RM_ANY, 0,
		      K_PLAIN, OR_HOST, 0);
		snprintf(n, sizeof(n), "j%x rel8", i);
		add("jcc", n, 4, OP1((u8)(0x70 + i)), -1, RM_ANY, 1, K_JCC,
		    OR_HOST, 0);
		snprintf(n, sizeof(n), "j%x rel32", i);
		add("jcc", n, 4, OP2(0x0f, (u8)(0x80 + i)), -1, RM_ANY, 4,
		    K_JCC, OR_HOST, 0);
	}
}

static void add_xchg_mov(void)
{
	add("xchg", "cmpxchg r/m8,r8", 1, OP2(0x0f, 0xb0), 8, RM_ANY, 0,
	    K_CMPXCHG, OR_HOST, 0);
	add_v("xchg", "cmpxchg r/m#,r#", OP2(0x0f, 0xb1), 8, RM_ANY, 0,
	      K_CMPXCHG, OR_HOST, 0);
	add("xchg", "cmpxchg8b m64", 4, OP2(0x0f, 0xc7), 1, RM_MEM, 0,
	    K_CX8B, OR_HOST, 0);
	add("xchg", "lock cmpxchg8b m64", 4, OP2(0x0f, 0xc7), 1, RM_MEM, 0,
	    K_CX8B, OR_HOST, 0)->prefix = 0xf0;
	add("xchg", "xadd r/m8,r8", 1, OP2(0x0f, 0xc0), 8, RM_ANY, 0, K_PLAIN,
	    OR_HOST, 0);
	add_v("xchg", "xadd r/m#,r#", OP2(0x0f, 0xc1), 8, RM_ANY, 0, K_PLAIN,
	      OR_HOST, 0);
	add("xchg", "xchg r/m8,r8", 1, OP1(0x86), 8, RM_ANY, 0, K_PLAIN,
	    OR_HOST, 0);
	add_v("xchg", "xchg r/m#,r#", OP1(0x87), 8, RM_ANY, 0, K_PLAIN,
	      OR_HOST, 0);
	add_v("xchg", "xchg eax,r# (90+r)", OP1(0x90), EXT_OPREG, RM_REG, 0,
	      K_PLAIN, OR_HOST, 0);

	add("mov", "mov r/m8,r8", 1, OP1(0x88), 8, RM_ANY, 0, K_PLAIN,
	    OR_HOST, 0);
	add_v("mov", "mov r/m#,r#", OP1(0x89), 8, RM_ANY, 0, K_PLAIN, OR_HOST,
	      0);
	add("mov", "mov r8,r/m8", 1, OP1(0x8a), 8, RM_ANY, 0, K_PLAIN,
	    OR_HOST, 0);
	add_v("mov", "mov r#,r/m#", OP1(0x8b), 8, RM_ANY, 0, K_PLAIN, OR_HOST,
	      0);
	add("mov", "mov r/m8,imm8", 1, OP1(0xc6), 0, RM_ANY, 1, K_PLAIN,
	    OR_HOST, 0);
	add_v("mov", "mov r/m#,imm#", OP1(0xc7), 0, RM_ANY, IMM_Z, K_PLAIN,
	      OR_HOST, 0);
	add("mov", "mov r8,imm8 (b0+r)", 1, OP1(0xb0), EXT_OPREG, RM_REG, 1,
	    K_PLAIN, OR_HOST, 0);
	add_v("mov", "mov r#,imm# (b8+r)", OP1(0xb8), EXT_OPREG, RM_REG,
	      IMM_Z, K_PLAIN, OR_HOST, 0);
	add_v("mov", "movzx r#,r/m8", OP2(0x0f, 0xb6), 8, RM_ANY, 0, K_PLAIN,
	      OR_HOST, 0);
	add_v("mov", "movzx r#,r/m16", OP2(0x0f, 0xb7), 8, RM_ANY, 0, K_PLAIN,
	      OR_HOST, 0);
	add_v("mov", "movsx r#,r/m8", OP2(0x0f, 0xbe), 8, RM_ANY, 0, K_PLAIN,
	      OR_HOST, 0);
	add_v("mov", "movsx r#,r/m16", OP2(0x0f, 0xbf), 8, RM_ANY, 0, K_PLAIN,
	      OR_HOST, 0);
	add_v("mov", "lea r#,m", OP1(0x8d), 8, RM_MEM, 0, K_LEA, OR_HOST, 0);
	add_v("mov", "mov eax,moffs#", OP1(0xa1), -1, RM_ANY, 0, K_MOFFS,
	      OR_QEMU, 0);
	add_v("mov", "mov moffs#,eax", OP1(0xa3), -1, RM_ANY, 0, K_MOFFS,
	      OR_QEMU, 0);
	add("mov", "mov al,moffs8", 1, OP1(0xa0), -1, RM_ANY, 0, K_MOFFS,
	    OR_QEMU, 0);
	add("mov", "mov moffs8,al", 1, OP1(0xa2), -1, RM_ANY, 0, K_MOFFS,
	    OR_QEMU, 0);
	add_v("mov", "nop (0f 1f /0)", OP2(0x0f, 0x1f), 0, RM_ANY, 0,
	      K_PLAIN, OR_HOST, 0);
	add("mov", "nop (0f 1f /r)", 4, OP2(0x0f, 0x1f), 8, RM_ANY, 0,
	    K_PLAIN, OR_HOST, 0);
}

static void add_misc(void)
{
	add_v("misc", "cbw/cwde (o#)", OP1(0x98), -1, RM_ANY, 0, K_PLAIN,
	      OR_HOST, 0);
	add_v("misc", "cwd/cdq (o#)", OP1(0x99), -1, RM_ANY, 0, K_PLAIN,
	      OR_HOST, 0);
	add("misc", "lahf", 4, OP1(0x9f), -1, RM_ANY, 0, K_PLAIN, OR_HOST, 0);
	add("misc", "sahf", 4, OP1(0x9e), -1, RM_ANY, 0, K_SAHF, OR_HOST, 0);
	add("misc", "clc", 4, OP1(0xf8), -1, RM_ANY, 0, K_PLAIN, OR_HOST, 0);
	add("misc", "stc", 4, OP1(0xf9), -1, RM_ANY, 0, K_PLAIN, OR_HOST, 0);
	add("misc", "pause (f3 90)", 4, OP1(0x90), -1, RM_ANY, 0, K_PLAIN,
	    OR_HOST, 0)->prefix = 0xf3;
	add("misc", "cmc", 4, OP1(0xf5), -1, RM_ANY, 0, K_PLAIN, OR_HOST, 0);
	add("misc", "cld", 4, OP1(0xfc), -1, RM_ANY, 0, K_PLAIN, OR_HOST, 0);
	add("misc", "std", 4, OP1(0xfd), -1, RM_ANY, 0, K_PLAIN, OR_HOST, 0);
	add("misc", "xlat", 1, OP1(0xd7), -1, RM_ANY, 0, K_XLAT, OR_HOST, 0);
	add("misc", "ud2 (UD)", 4, OP2(0x0f, 0x0b), -1, RM_ANY, 0, K_PLAIN,
	    OR_HOST, 0);
	add("misc", "lea r32,r32 (UD)", 4, OP1(0x8d), 8, RM_REG, 0, K_PLAIN,
	    OR_HOST, 0);
	add("misc", "cmpxchg8b r (UD)", 4, OP2(0x0f, 0xc7), 1, RM_REG, 0,
	    K_PLAIN, OR_HOST, 0);
}

static void add_strings(void)
{
	static const struct { const char *n; u8 op; bool cmp; } s[] = {
		{ "movs", 0xa4, false }, { "cmps", 0xa6, true },
		{ "stos", 0xaa, false }, { "lods", 0xac, false },
		{ "scas", 0xae, true },
	};
	static const u8 pfx[3] = { 0, 0xf3, 0xf2 };
	static const char *const pn[3] = { "", "rep ", "repne " };
	char n[48];
	unsigned i, p;
	struct form *f;

	for (i = 0; i < ARRAY_SIZE(s); i++) {
		for (p = 0; p < 3; p++) {
			if (p == 2 && !s[i].cmp)
				continue;
			snprintf(n, sizeof(n), "%s%sb", pn[p], s[i].n);
			f = add("string", n, 1, OP1(s[i].op), -1, RM_ANY, 0,
				K_STR, OR_HOST, 0);
			f->prefix = pfx[p];
			snprintf(n, sizeof(n), "%s%s#", pn[p], s[i].n);
			f = add("string", n, 2, OP1(s[i].op + 1), -1, RM_ANY,
				0, K_STR, OR_HOST, 0);
			f->prefix = pfx[p];
			f = add("string", n, 4, OP1(s[i].op + 1), -1, RM_ANY,
				0, K_STR, OR_HOST, 0);
			f->prefix = pfx[p];
		}
	}
}

/*
 * LOCK on read-modify-write forms: a register operand must raise #UD, and
 * so must LOCK on anything that is not a read-modify-write (CMP, BT, MOV,
 * MUL, PUSH).  The kernel's atomics (LOCK ADD, INC, DEC, XADD, CMPXCHG,
 * BTS...) run through the fast path, so each ALU operation and size is
 * here, with the #UD forms that must stay off it.
 */
static void add_lock(void)
{
	static const u32 bu = F_OF | F_SF | F_AF | F_PF;
	static const struct {
		const char *n;
		u8 op[2];
		u8 len, osz, imm, kind;
		s8 ext;
		u32 undef;
	} l[] = {
		{ "lock add r/m#,r#", { 0x01 }, 1, 4, 0, K_PLAIN, 8, 0 },
		{ "lock add r/m#,r#", { 0x01 }, 1, 2, 0, K_PLAIN, 8, 0 },
		{ "lock add r/m8,r8", { 0x00 }, 1, 1, 0, K_PLAIN, 8, 0 },
		{ "lock or r/m#,r#", { 0x09 }, 1, 4, 0, K_PLAIN, 8, F_AF },
		{ "lock adc r/m#,r#", { 0x11 }, 1, 4, 0, K_PLAIN, 8, 0 },
		{ "lock sbb r/m#,r#", { 0x19 }, 1, 4, 0, K_PLAIN, 8, 0 },
		{ "lock and r/m#,r#", { 0x21 }, 1, 4, 0, K_PLAIN, 8, F_AF },
		{ "lock sub r/m#,r#", { 0x29 }, 1, 4, 0, K_PLAIN, 8, 0 },
		{ "lock xor r/m#,r#", { 0x31 }, 1, 4, 0, K_PLAIN, 8, F_AF },
		{ "lock cmp r/m#,r# (UD)", { 0x39 }, 1, 4, 0, K_PLAIN, 8, 0 },
		{ "lock sub r/m#,imm8", { 0x83 }, 1, 4, 1, K_PLAIN, 5, 0 },
		{ "lock or r/m#,imm8", { 0x83 }, 1, 4, 1, K_PLAIN, 1, F_AF },
		{ "lock and r/m#,imm#", { 0x81 }, 1, 4, IMM_Z, K_PLAIN, 4,
		  F_AF },
		{ "lock add r/m8,imm8", { 0x80 }, 1, 1, 1, K_PLAIN, 0, 0 },
		{ "lock cmp r/m#,imm8 (UD)", { 0x83 }, 1, 4, 1, K_PLAIN, 7,
		  0 },
		{ "lock inc r/m#", { 0xff }, 1, 4, 0, K_PLAIN, 0, 0 },
		{ "lock dec r/m#", { 0xff }, 1, 4, 0, K_PLAIN, 1, 0 },
		{ "lock dec r/m#", { 0xff }, 1, 2, 0, K_PLAIN, 1, 0 },
		{ "lock inc r/m8", { 0xfe }, 1, 1, 0, K_PLAIN, 0, 0 },
		{ "lock dec r/m8", { 0xfe }, 1, 1, 0, K_PLAIN, 1, 0 },
		{ "lock not r/m#", { 0xf7 }, 1, 4, 0, K_PLAIN, 2, 0 },
		{ "lock neg r/m#", { 0xf7 }, 1, 4, 0, K_PLAIN, 3, 0 },
		{ "lock mul r/m# (UD)", { 0xf7 }, 1, 4, 0, K_PLAIN, 4, 0 },
		{ "lock push r/m# (UD)", { 0xff }, 1, 4, 0, K_PLAIN, 6, 0 },
		{ "lock bts r/m#,r#", { 0x0f, 0xab }, 2, 4, 0, K_BT, 8, bu },
		{ "lock btr r/m#,r#", { 0x0f, 0xb3 }, 2, 4, 0, K_BT, 8, bu },
		{ "lock btc r/m#,r#", { 0x0f, 0xbb }, 2, 4, 0, K_BT, 8, bu },
		{ "lock bt r/m#,r# (UD)", { 0x0f, 0xa3 }, 2, 4, 0, K_BT, 8,
		  bu },
		{ "lock bts r/m#,imm8", { 0x0f, 0xba }, 2, 4, 1, K_BTI, 5,
		  bu },
		{ "lock bt r/m#,imm8 (UD)", { 0x0f, 0xba }, 2, 4, 1, K_BTI,
		  4, bu },
		{ "lock xadd r/m#,r#", { 0x0f, 0xc1 }, 2, 4, 0, K_PLAIN, 8,
		  0 },
		{ "lock xadd r/m8,r8", { 0x0f, 0xc0 }, 2, 1, 0, K_PLAIN, 8,
		  0 },
		{ "lock xchg r/m#,r#", { 0x87 }, 1, 4, 0, K_PLAIN, 8, 0 },
		{ "lock cmpxchg r/m#,r#", { 0x0f, 0xb1 }, 2, 4, 0, K_CMPXCHG,
		  8, 0 },
		{ "lock cmpxchg r/m8,r8", { 0x0f, 0xb0 }, 2, 1, 0, K_CMPXCHG,
		  8, 0 },
		{ "lock mov r/m#,r# (UD)", { 0x89 }, 1, 4, 0, K_PLAIN, 8, 0 },
	};
	unsigned i;
	struct form *f;

	for (i = 0; i < ARRAY_SIZE(l); i++) {
		f = add("lock", l[i].n, l[i].osz, l[i].op, l[i].len,
			l[i].ext, RM_ANY, l[i].imm, l[i].kind, OR_HOST,
			l[i].undef);
		f->prefix = 0xf0;
	}
}

/* What has no 64-bit form: judged by qemu-i386. */
static void add_qemu(void)
{
	struct form *f;

	add("bcd", "daa", 1, OP1(0x27), -1, RM_ANY, 0, K_BCD, OR_QEMU, F_OF);
	add("bcd", "das", 1, OP1(0x2f), -1, RM_ANY, 0, K_BCD, OR_QEMU, F_OF);
	add("bcd", "aaa", 1, OP1(0x37), -1, RM_ANY, 0, K_BCD, OR_QEMU,
	    F_OF | F_SF | F_ZF | F_PF);
	add("bcd", "aas", 1, OP1(0x3f), -1, RM_ANY, 0, K_BCD, OR_QEMU,
	    F_OF | F_SF | F_ZF | F_PF);
	add("bcd", "aam imm8", 1, OP1(0xd4), -1, RM_ANY, 1, K_AAM, OR_QEMU,
	    F_OF | F_AF | F_CF);
	add("bcd", "aad imm8", 1, OP1(0xd5), -1, RM_ANY, 1, K_AAM, OR_QEMU,
	    F_OF | F_AF | F_CF);

	add_v("stack", "push r# (50+r)", OP1(0x50), EXT_OPREG, RM_REG, 0,
	      K_STACK, OR_QEMU, 0);
	add_v("stack", "pop r# (58+r)", OP1(0x58), EXT_OPREG, RM_REG, 0,
	      K_STACK, OR_QEMU, 0);
	add_v("stack", "push imm#", OP1(0x68), -1, RM_ANY, IMM_Z, K_STACK,
	      OR_QEMU, 0);
	add_v("stack", "push imm8 (o#)", OP1(0x6a), -1, RM_ANY, 1, K_STACK,
	      OR_QEMU, 0);
	add_v("stack", "push r/m#", OP1(0xff), 6, RM_ANY, 0, K_STACK, OR_QEMU,
	      0);
	add_v("stack", "pop r/m#", OP1(0x8f), 0, RM_ANY, 0, K_STACK, OR_QEMU,
	      0);
	add_v("stack", "pusha (o#)", OP1(0x60), -1, RM_ANY, 0, K_STACK,
	      OR_QEMU, 0);
	add_v("stack", "popa (o#)", OP1(0x61), -1, RM_ANY, 0, K_STACK,
	      OR_QEMU, 0);
	add_v("stack", "pushf (o#)", OP1(0x9c), -1, RM_ANY, 0, K_STACK,
	      OR_QEMU, 0);
	add_v("stack", "popf (o#)", OP1(0x9d), -1, RM_ANY, 0, K_POPF,
	      OR_QEMU, 0);
	add_v("stack", "enter imm16,imm8 (o#)", OP1(0xc8), -1, RM_ANY,
	      IMM_ENTER, K_ENTER, OR_QEMU, 0);
	add_v("stack", "leave (o#)", OP1(0xc9), -1, RM_ANY, 0, K_ENTER,
	      OR_QEMU, 0);
	f = add("stack", "bound r32,m32&32", 4, OP1(0x62), 8, RM_MEM, 0,
		K_BOUND, OR_QEMU, 0);
	f->segv_vec = EXC_BR;
	f = add("stack", "bound r16,m16&16", 2, OP1(0x62), 8, RM_MEM, 0,
		K_BOUND, OR_QEMU, 0);
	f->segv_vec = EXC_BR;

	f = add("stack", "bound r32,r32 (UD)", 4, OP1(0x62), 8, RM_REG, 0,
		K_PLAIN, OR_QEMU, 0);
	add("misc", "arpl r/m16,r16", 4, OP1(0x63), 8, RM_ANY, 0, K_PLAIN,
	    OR_QEMU, 0);
	f = add("misc", "int3", 4, OP1(0xcc), -1, RM_ANY, 0, K_PLAIN, OR_QEMU,
		0);
	f->trap = 1;
	f = add("misc", "into", 4, OP1(0xce), -1, RM_ANY, 0, K_PLAIN, OR_QEMU,
		0);
	f->trap = 1;
	f->segv_vec = EXC_OF;

	add("branch", "call rel32", 4, OP1(0xe8), -1, RM_ANY, 4, K_CALL,
	    OR_QEMU, 0);
	add("branch", "call r/m32", 4, OP1(0xff), 2, RM_ANY, 0, K_BRIND,
	    OR_QEMU, 0);
	add("branch", "jmp r/m32", 4, OP1(0xff), 4, RM_ANY, 0, K_BRIND,
	    OR_QEMU, 0);
	add("branch", "ret", 4, OP1(0xc3), -1, RM_ANY, 0, K_RET, OR_QEMU, 0);
	add("branch", "ret imm16", 4, OP1(0xc2), -1, RM_ANY, 2, K_RET,
	    OR_QEMU, 0);
	add("branch", "jmp rel8", 4, OP1(0xeb), -1, RM_ANY, 1, K_JCC,
	    OR_QEMU, 0);
	add("branch", "jmp rel32", 4, OP1(0xe9), -1, RM_ANY, 4, K_JCC,
	    OR_QEMU, 0);
	add("branch", "loop rel8", 4, OP1(0xe2), -1, RM_ANY, 1, K_LOOP,
	    OR_QEMU, 0);
	add("branch", "loope rel8", 4, OP1(0xe1), -1, RM_ANY, 1, K_LOOP,
	    OR_QEMU, 0);
	add("branch", "loopne rel8", 4, OP1(0xe0), -1, RM_ANY, 1, K_LOOP,
	    OR_QEMU, 0);
	add("branch", "jecxz rel8", 4, OP1(0xe3), -1, RM_ANY, 1, K_LOOP,
	    OR_QEMU, 0);
	f = add("branch", "loop rel8 (a16: cx)", 4, OP1(0xe2), -1, RM_ANY, 1,
		K_LOOP, OR_QEMU, 0);
	f->asz16 = 1;
	f = add("branch", "jcxz rel8", 4, OP1(0xe3), -1, RM_ANY, 1, K_LOOP,
		OR_QEMU, 0);
	f->asz16 = 1;
}

/* Address-size forms: 16-bit addressing, and disp32-only operands. */
static void add_addr16(void)
{
	static const struct { const char *n; u8 op; int osz; int kind; } a[] = {
		{ "a16 add r/m#,r#", 0x01, 4, K_PLAIN },
		{ "a16 add r#,r/m#", 0x03, 2, K_PLAIN },
		{ "a16 mov r#,r/m#", 0x8b, 4, K_PLAIN },
		{ "a16 mov r/m8,r8", 0x88, 1, K_PLAIN },
		{ "a16 lea r#,m", 0x8d, 4, K_LEA },
		{ "a16 lea r#,m", 0x8d, 2, K_LEA },
	};
	unsigned i;
	struct form *f;

	for (i = 0; i < ARRAY_SIZE(a); i++) {
		f = add("addr16", a[i].n, a[i].osz, OP1(a[i].op), 8,
			a[i].kind == K_LEA ? RM_MEM : RM_ANY, 0, a[i].kind,
			OR_QEMU, 0);
		f->asz16 = 1;
	}
	f = add("addr16", "a16 movsb", 1, OP1(0xa4), -1, RM_ANY, 0, K_STR,
		OR_QEMU, 0);
	f->asz16 = 1;
	f = add("addr16", "a16 rep stosw", 2, OP1(0xab), -1, RM_ANY, 0, K_STR,
		OR_QEMU, 0);
	f->asz16 = 1;
	f->prefix = 0xf3;
	/* base + index * scale + disp past 4 GiB wraps in 32-bit mode */
	f = add("addr16", "wrap add r32,r/m32", 4, OP1(0x03), 8, RM_MEM, 0,
		K_PLAIN, OR_QEMU, 0);
	f->wrap = 1;
	f = add("addr16", "wrap mov r/m32,r32", 4, OP1(0x89), 8, RM_MEM, 0,
		K_PLAIN, OR_QEMU, 0);
	f->wrap = 1;
	/* ModRM mod=00 rm=101: [disp32], RIP-relative in 64-bit mode */
	add_v("addr16", "add r#,[disp32]", OP1(0x03), 8, RM_MEM, 0, K_PLAIN,
	      OR_QEMU, 0);
	add_v("addr16", "lea r#,[disp32]", OP1(0x8d), 8, RM_MEM, 0, K_LEA,
	      OR_QEMU, 0);
}

/*
 * Pairs: a random flag-setting form of one group, then an instruction
 * that reads the flags (SETcc, Jcc, CMOVcc, ADC/SBB, LAHF).  Single steps
 * read the flags through cpu_get_eflags(); pairs also go through whatever
 * short cuts the condition and carry code takes from lazily kept flags.
 */
static void add_pairs(void)
{
	static const char *const groups[] = {
		"alu", "logic", "unary", "mul", "shift", "bit", "xchg",
		"misc", "string",
	};
	static const char *const cons[C_NCONS] = {
		"setcc", "jcc", "cmovcc", "adc/sbb", "lahf",
	};
	char n[48];
	unsigned g, c;
	struct form *f;

	for (g = 0; g < ARRAY_SIZE(groups); g++) {
		for (c = 0; c < C_NCONS; c++) {
			snprintf(n, sizeof(n), "%s ; %s", groups[g], cons[c]);
			f = add("pair", n, 4, OP1(0x90), -1, RM_ANY, 0, K_PAIR,
				OR_HOST, 0);
			f->pgroup = groups[g];
			f->cons = (u8)c;
		}
	}
}

/* LAHF and SAHF exist in 64-bit mode only with CPUID LAHF-LM. */
static void check_lahf(void)
{
	unsigned a, b, c, d, i;

	if (__get_cpuid(0x80000001, &a, &b, &c, &d) && (c & 1))
		return;
	for (i = 0; i < nforms; i++)
		if (!strcmp(forms[i].name, "lahf") ||
		    !strcmp(forms[i].name, "sahf"))
			forms[i].oracle = OR_QEMU;
}

void forms_init(void)
{
	add_alu();
	add_muldiv();
	add_shifts();
	add_bits();
	add_xchg_mov();
	add_misc();
	add_strings();
	add_lock();
	add_qemu();
	add_addr16();
	add_pairs();
	check_lahf();
}

/* --- making a case --- */

struct gen {
	struct form *f;
	struct gcase *g;
	u8 *p;			/* next instruction byte */
	bool mem;		/* ModRM names memory */
	int reg, rm;		/* ModRM fields */
	u32 ea;			/* memory operand's address */
	bool low;		/* ea is in the low (16-bit) window */
	bool gs;		/* a GS override: offsets are ea - DT_GS_BASE */
	u8 win[DT_WIN_SIZE];
};

static void put8(struct gen *s, u32 v)
{
	*s->p++ = (u8)v;
}

static void put(struct gen *s, u32 v, int n)
{
	memcpy(s->p, &v, n);
	s->p += n;
}

static void patch(struct gen *s, u32 ea, u32 val)
{
	struct dt_case *k = &s->g->k;
	u32 off = ea - DT_WIN_BASE, i;

	if (ea < DT_WIN_BASE || off > DT_WIN_SIZE - 4)
		return;
	for (i = 0; i < k->npatch; i++)
		if (k->patch_off[i] == off)
			break;
	if (i == 2)
		i = 1;
	k->patch_off[i] = off;
	k->patch_val[i] = val;
	if (i == k->npatch)
		k->npatch++;
}

static u32 mem_val(struct gen *s, u32 ea)
{
	u32 v;

	dt_fill(s->win, NULL, &s->g->k);
	memcpy(&v, s->win + (ea - DT_WIN_BASE), 4);
	return v;
}

static u32 mask_of(int size)
{
	return size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
}

static u32 get_r(struct gen *s, int r, int size)
{
	u32 *R = s->g->k.r;

	if (size == 1)
		return r < 4 ? R[r] & 0xff : (R[r - 4] >> 8) & 0xff;
	return R[r] & mask_of(size);
}

static void set_r(struct gen *s, int r, u32 v, int size)
{
	u32 *R = s->g->k.r;

	if (size == 1 && r >= 4)
		R[r - 4] = (R[r - 4] & ~0xff00u) | (v & 0xff) << 8;
	else
		R[r] = (R[r] & ~mask_of(size)) | (v & mask_of(size));
}

/* The r/m operand's value and a way to set it. */
static u32 get_rm(struct gen *s, int size)
{
	if (!s->mem)
		return get_r(s, s->rm, size);
	return mem_val(s, s->ea) & mask_of(size);
}

static void set_rm(struct gen *s, u32 v, int size)
{
	if (!s->mem)
		set_r(s, s->rm, v, size);
	else
		patch(s, s->ea, (mem_val(s, s->ea) & ~mask_of(size)) |
			 (v & mask_of(size)));
}

/* Registers a form needs for itself, which addressing must not take. */
static u32 reserved_regs(struct gen *s)
{
	switch (s->f->kind) {
	case K_MUL1:
	case K_DIV:
		return 1u << R_EAX | 1u << R_EDX;
	case K_SHIFT:
	case K_SHXD:
		return (s->f->op[s->f->oplen - 1] & 0x0f) == 0x02 ||
		       (s->f->op[s->f->oplen - 1] & 0x0f) == 0x03 ||
		       (s->f->op[s->f->oplen - 1] & 0x0f) == 0x05 ||
		       (s->f->op[s->f->oplen - 1] & 0x0f) == 0x0d ?
		       1u << R_ECX : 0;
	case K_BT:
		return 1u << s->reg;
	case K_CMPXCHG:
		return 1u << R_EAX;
	case K_CX8B:
		return 0x0f;
	case K_STACK:
		return 1u << R_ESP;
	case K_ENTER:
	case K_POPF:
	case K_RET:
		return 1u << R_ESP | 1u << R_EBP;
	case K_BRIND:
		return 1u << R_ESP;
	case K_BOUND:
		return 1u << s->reg;
	default:
		return 0;
	}
}

/* 16-bit addressing: rm picks BX/BP + SI/DI; offsets stay in the low
 * window. */
static void modrm_mem16(struct gen *s, int mod)
{
	static const s8 base[8] = { R_EBX, R_EBX, R_EBP, R_EBP, -1, -1, R_EBP,
				    R_EBX };
	static const s8 idx[8] = { R_ESI, R_EDI, R_ESI, R_EDI, R_ESI, R_EDI,
				   -1, -1 };
	u32 *R = s->g->k.r;
	u32 ea = DT_LOW_BASE + 0x400 + rnd_n(0x1000);
	u32 iv = 0, disp = 0, bv;
	int rm = rnd_n(8);

	if (mod == 0 && rm == 6)
		mod = 1;	/* rm 6 alone is disp16: covered below */
	if (mod == 1)
		disp = (u32)(s32)(s8)rnd();
	else if (mod == 2)
		disp = rnd_n(0x10000);
	if (idx[rm] >= 0 && base[rm] >= 0) {
		iv = rnd_n(0x10000);
		R[idx[rm]] = (R[idx[rm]] & 0xffff0000u) | iv;
	}
	bv = (ea - iv - disp) & 0xffff;
	if (base[rm] >= 0)
		R[base[rm]] = (R[base[rm]] & 0xffff0000u) | bv;
	else
		R[idx[rm]] = (R[idx[rm]] & 0xffff0000u) | bv;
	put8(s, (u32)(mod << 6 | s->reg << 3 | rm));
	if (mod == 1)
		put8(s, disp);
	else if (mod == 2)
		put(s, disp, 2);
	s->ea = ea;
	s->low = true;
	s->g->k.low = 1;
}

static u32 pick_free(u32 avail)
{
	u32 r;

	do
		r = rnd_n(8);
	while (!(avail & 1u << r));
	return r;
}

/*
 * A memory operand at ea: choose an addressing form and set its base and
 * index registers.  LEA keeps random register values (nothing is
 * accessed), so the address arithmetic wraps freely there.
 */
static void modrm_mem(struct gen *s, u32 ea, u32 avail)
{
	u32 *R = s->g->k.r;
	bool lea = s->f->kind == K_LEA;
	int shape = rnd_n(4), mod, base, index, sc;
	u32 disp = 0, iv = 0, bv;

	if (s->f->asz16 && s->f->kind != K_STR && s->f->kind != K_LOOP) {
		modrm_mem16(s, rnd_n(3));
		if (lea)
			s->g->k.low = 0;
		return;
	}
	s->ea = ea;
	if (strstr(s->f->name, "disp32")) {
		put8(s, (u32)(s->reg << 3 | 5));
		put(s, lea ? rnd() : ea, 4);
		return;
	}
	mod = rnd_n(3);
	if (mod == 1)
		disp = (u32)(s32)(s8)rnd();
	else if (mod == 2)
		disp = lea || s->f->wrap ? rnd() :
		       (u32)(s32)(rnd_n(0x20000) - 0x10000);
	if (shape < 2) {	/* [base + disp] */
		avail &= ~(1u << R_ESP);
		if (mod == 0)
			avail &= ~(1u << R_EBP);
		base = pick_free(avail);
		if (!lea)
			R[base] = ea - disp;
		put8(s, (u32)(mod << 6 | s->reg << 3 | base));
	} else {		/* SIB */
		base = pick_free(avail | (mod == 0 ? 1u << 5 : 0));
		index = pick_free((avail & ~(1u << R_ESP)) | 1u << 4);
		sc = rnd_n(4);
		if (mod == 0 && base == 5) {
			/* no base: disp32 */
			disp = lea ? rnd() : 0;
			base = -1;
		}
		if (!lea) {
			if (index != 4 && index == base) {
				iv = rnd_n(0x100);
				R[index] = iv;
				disp = ea - iv * ((1u << sc) + 1);
				if (mod == 1 || mod == 0)
					mod = 2;	/* needs a disp32 */
			} else {
				if (index != 4) {
					iv = s->f->wrap ? rnd() : rnd_n(0x200);
					R[index] = iv;
				}
				bv = ea - (iv << sc) - disp;
				if (base >= 0)
					R[base] = bv;
				else
					disp = bv;
			}
		}
		put8(s, (u32)(mod << 6 | s->reg << 3 | 4));
		put8(s, (u32)(sc << 6 | index << 3 | (base < 0 ? 5 : base)));
		if (base < 0 && mod == 0) {
			put(s, disp, 4);
			return;
		}
	}
	if (mod == 1)
		put8(s, disp);
	else if (mod == 2)
		put(s, disp, 4);
}

static void emit_modrm(struct gen *s)
{
	struct form *f = s->f;
	u32 ea;

	do	/* #BR pushes its frame on ESP: keep that a stack */
		s->reg = f->ext == 8 ? (int)rnd_n(8) : f->ext;
	while (f->kind == K_BOUND && s->reg == R_ESP);
	s->mem = f->rm == RM_MEM || (f->rm == RM_ANY && rnd_n(2));
	if (!s->mem) {
		do	/* an indirect branch through ESP would push on code */
			s->rm = rnd_n(8);
		while (f->kind == K_BRIND && s->rm == R_ESP);
		put8(s, (u32)(0xc0 | s->reg << 3 | s->rm));
		return;
	}
	ea = DT_WIN_BASE + 0x800 + rnd_n(0x1000);
	if (f->kind == K_STACK && rnd_n(3) == 0) {
		/* [esp+disp8]: PUSH and POP address it after moving ESP */
		u32 d = 4 * rnd_n(8);

		put8(s, (u32)(0x44 | s->reg << 3));
		put8(s, 0x24);
		put8(s, d);
		s->ea = s->g->k.r[R_ESP] + d;
		return;
	}
	if (s->gs && f->kind != K_LEA) {
		modrm_mem(s, ea - DT_GS_BASE, 0xffu & ~reserved_regs(s));
		s->ea = ea;
	} else {
		modrm_mem(s, ea, 0xffu & ~reserved_regs(s));
	}
	if (!s->low && rnd_n(2))
		patch(s, s->ea, rand_val());
}

static int imm_size(struct form *f)
{
	if (f->imm == IMM_Z)
		return f->osz == 1 ? 1 : f->osz;
	return f->imm;
}

static u32 cnt_of(struct gen *s, u32 imm)
{
	u8 op = s->f->op[s->f->oplen - 1];

	if (s->f->kind == K_SHIFT) {
		if (op == 0xd0 || op == 0xd1)
			return 1;
		if (op == 0xd2 || op == 0xd3)
			return s->g->k.r[R_ECX] & 0xff;
		return imm;
	}
	return (op == 0xa5 || op == 0xad) ? s->g->k.r[R_ECX] & 0xff : imm;
}

/* Flags the SDM leaves undefined for a shift or rotate by cnt. */
static u32 shift_undef(struct gen *s, u32 cnt)
{
	int op = s->reg, bits = s->f->osz * 8;
	u32 u = 0;

	cnt &= 0x1f;
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

/*
 * The quotients at the edge of the destination: the largest that fits,
 * and the first that does not (#DE), for DIV and IDIV at each size.
 */
static void div_edge(struct gen *s)
{
	int sz = s->f->osz, bits = sz * 8;
	u32 m = mask_of(sz), min = 1u << (bits - 1), hi, lo, d;

	switch (rnd_n(6)) {
	case 0:		/* DIV: hi = d - 1, lo all ones: fits */
		d = 1 + rnd_n(m);
		hi = d - 1;
		lo = m;
		break;
	case 1:		/* DIV: hi = d: overflow */
		d = 1 + rnd_n(m);
		hi = d;
		lo = rnd();
		break;
	case 2:		/* IDIV: MIN / -1: overflow */
		hi = m;
		lo = min;
		d = m;
		break;
	case 3:		/* IDIV: +2^(n-1) / 1: overflow; -2^(n-1) / 1 fits */
		hi = rnd_n(2) ? m : 0;
		lo = min;
		d = 1;
		break;
	case 4:		/* IDIV: -2^n / 2 fits, / -2 overflows */
		hi = m;
		lo = 0;
		d = rnd_n(2) ? 2 : m - 1;
		break;
	default:	/* IDIV: +(2^(n-1) - 1) * d + r: fits */
		d = 2 + rnd_n(100);
		hi = 0;
		lo = (min - 1) * d + rnd_n(d);
		if (sz < 4) {
			hi = lo >> bits;
			lo &= m;
		} else {
			u64 x = (u64)(min - 1) * d + rnd_n(d);

			hi = (u32)(x >> 32);
			lo = (u32)x;
		}
		break;
	}
	if (sz == 1) {
		set_r(s, R_EAX, (hi & 0xff) << 8 | (lo & 0xff), 2);
	} else {
		set_r(s, R_EAX, lo, sz);
		set_r(s, R_EDX, hi, sz);
	}
	set_rm(s, d, sz);
}

/* Kind-specific inputs, and what they leave undefined. */
static void setup_kind(struct gen *s, u32 imm, int imm_at)
{
	struct gcase *g = s->g;
	u32 *R = g->k.r;
	int sz = s->f->osz, bits = sz * 8;
	u32 v, cnt;

	switch (s->f->kind) {
	case K_SHIFT:
		if (s->f->op[0] == 0xd2 || s->f->op[0] == 0xd3)
			R[R_ECX] = (R[R_ECX] & ~0xffu) | rand_count();
		g->flag_mask &= ~shift_undef(s, cnt_of(s, imm));
		break;
	case K_SHXD:
		if (s->f->op[1] == 0xa5 || s->f->op[1] == 0xad)
			R[R_ECX] = (R[R_ECX] & ~0xffu) | rand_count();
		cnt = cnt_of(s, imm);
		/* a 16-bit count beyond 16 leaves the result undefined */
		if (sz == 2 && (cnt & 0x1f) > 16) {
			cnt -= 16;
			if (imm_at >= 0)
				g->k.code[imm_at] = (u8)cnt;
			else
				R[R_ECX] = (R[R_ECX] & ~0xffu) | cnt;
		}
		cnt &= 0x1f;
		if (cnt)
			g->flag_mask &= ~(F_AF | (cnt != 1 ? F_OF : 0));
		break;
	case K_DIV:
		if (rnd_n(10) == 0) {
			div_edge(s);
			break;
		}
		v = get_rm(s, sz);
		if (rnd_n(10) == 0) {
			set_rm(s, 0, sz);
			break;
		}
		if (v == 0)
			set_rm(s, v = 1 + rnd_n(mask_of(sz)), sz);
		if (rnd_n(10) < 2)
			break;		/* random dividend: overflow likely */
		if (s->reg == 6) {	/* DIV: high part below the divisor */
			u32 hi = rnd_n(v);
			if (sz == 1)
				R[R_EAX] = (R[R_EAX] & ~0xff00u) | hi << 8;
			else
				set_r(s, R_EDX, hi, sz);
		} else {		/* IDIV: sign-extended dividend */
			u32 lo = get_r(s, R_EAX, sz);
			u32 hi = (lo >> (bits - 1)) & 1 ? mask_of(sz) : 0;
			if (sz == 1)
				R[R_EAX] = (R[R_EAX] & ~0xff00u) |
					   (hi & 0xff) << 8;
			else
				set_r(s, R_EDX, hi, sz);
		}
		break;
	case K_BT:
		if (s->mem) {
			v = rnd_n(0x400 * 8) - 0x200 * 8;
			set_r(s, s->reg, v, sz);
		}
		break;
	case K_BSF:
		if (rnd_n(5) == 0)
			set_rm(s, 0, sz);
		if (get_rm(s, sz) == 0)
			g->reg_mask[s->reg] &= ~mask_of(sz);
		break;
	case K_CMPXCHG:
		if (rnd_n(2))
			set_r(s, R_EAX, get_rm(s, sz), sz);
		break;
	case K_CX8B:
		if (rnd_n(2)) {
			patch(s, s->ea, R[R_EAX]);
			patch(s, s->ea + 4, R[R_EDX]);
		}
		break;
	default:
		break;
	}
}

/* String operations: ESI and EDI in the window, a short count. */
static void setup_string(struct gen *s)
{
	u32 *R = s->g->k.r;
	bool rep = s->f->prefix != 0;
	u32 lo = s->f->asz16 ? DT_LOW_BASE : DT_WIN_BASE;

	R[R_ESI] = lo + 0x800 + rnd_n(0x800);
	switch (rnd_n(4)) {
	case 0:			/* the same buffer */
		R[R_EDI] = R[R_ESI];
		break;
	case 1:			/* overlapping, either way */
		R[R_EDI] = R[R_ESI] + rnd_n(17) - 8;
		break;
	default:
		R[R_EDI] = lo + 0x800 + rnd_n(0x800);
		break;
	}
	if (rep)
		R[R_ECX] = rnd_n(8) ? rnd_n(24) : 0;
	if (s->f->asz16) {
		/* only SI, DI and CX count: the upper halves are junk */
		R[R_ESI] = (rnd() & 0xffff0000u) | (R[R_ESI] & 0xffff);
		R[R_EDI] = (rnd() & 0xffff0000u) | (R[R_EDI] & 0xffff);
		R[R_ECX] = (rnd() & 0xffff0000u) | (R[R_ECX] & 0xffff);
		s->g->k.low = 1;
	}
	if ((s->f->op[0] & 0xfe) == 0xae && rnd_n(4) == 0 && !s->f->asz16)
		patch(s, R[R_EDI], R[R_EAX]);
}

/* The forms qemu-i386 judges: stacks, branches, BCD, BOUND. */
static void gen_case_qemu(struct gen *s)
{
	struct gcase *g = s->g;
	u32 *R = g->k.r;
	int sz = s->f->osz;
	s32 lo, hi, v;

	switch (s->f->kind) {
	case K_BCD:
		if (rnd_n(2))
			R[R_EAX] = (R[R_EAX] & ~0xffu) | rnd_n(10) << 4 |
				   rnd_n(10);
		break;
	case K_POPF:
		patch(s, R[R_ESP], (rnd() & (F_ARITH | F_DF)) | F_FIXED1);
		break;
	case K_ENTER:
		R[R_EBP] = DT_WIN_MID + rnd_n(0x400);
		if (s->f->op[0] == 0xc9 && rnd_n(2))
			R[R_EBP] = R[R_ESP] + 4 * rnd_n(16);
		break;
	case K_BOUND:
		lo = (s32)rnd_n(200) - 100;
		hi = lo + (s32)rnd_n(200);
		v = (s32)rnd_n(400) - 200;
		set_r(s, s->reg, (u32)v, sz);
		if (sz == 4) {
			patch(s, s->ea, (u32)lo);
			patch(s, s->ea + 4, (u32)hi);
		} else {
			patch(s, s->ea, ((u32)lo & 0xffff) | (u32)hi << 16);
		}
		break;
	case K_LOOP:
		if (rnd_n(3) == 0)
			R[R_ECX] = (R[R_ECX] &
				    (s->f->asz16 ? 0xffff0000u : 0)) | rnd_n(2);
		break;
	case K_RET:
		patch(s, R[R_ESP], g->next_eip);
		break;
	case K_BRIND:
		set_rm(s, g->next_eip, 4);
		break;
	default:
		break;
	}
}

static bool producer_ok(const struct form *p, const char *group)
{
	return p->oracle == OR_HOST && !strcmp(p->group, group) &&
	       p->kind != K_DIV && p->kind != K_JCC && p->kind != K_PAIR &&
	       p->prefix != 0xf0 && !strstr(p->name, "(UD)");
}

/* The flags condition code cc reads. */
static u32 cc_flags(int cc)
{
	static const u32 f[8] = {
		F_OF, F_CF, F_ZF, F_CF | F_ZF, F_SF, F_PF, F_SF | F_OF,
		F_ZF | F_SF | F_OF,
	};

	return f[cc >> 1];
}

static void gen_pair(struct form *f, struct gcase *g)
{
	struct dt_case *k = &g->k;
	struct form *p;
	u32 defined;
	int cons = f->cons, cc, i, tries = 0;
	bool regs_defined = true;
	u8 *q;

	do
		p = &forms[rnd_n(nforms)];
	while (!producer_ok(p, f->pgroup));
	do
		gen_case(p, g);
	while (k->len > 11 && ++tries < 100);
	if (k->len > 11) {
		gen_case(p, g);
		return;		/* cannot happen with today's forms */
	}
	defined = g->flag_mask & F_ARITH;
	for (i = 0; i < 8; i++)
		regs_defined &= g->reg_mask[i] == 0xffffffffu;
	if ((cons == C_CMOV || cons == C_ADC) && !regs_defined)
		cons = C_SETCC;
	if (cons == C_ADC && !(defined & F_CF))
		cons = C_SETCC;
	for (tries = 0; tries < 64; tries++) {
		cc = (int)rnd_n(16);
		if ((cc_flags(cc) & defined) == cc_flags(cc))
			break;
	}
	if (tries == 64)
		cons = C_LAHF;

	q = k->code + k->len;
	switch (cons) {
	case C_SETCC:
		*q++ = 0x0f;
		*q++ = (u8)(0x90 + cc);
		*q++ = (u8)(0xc0 | rnd_n(8));
		break;
	case C_JCC:
		*q++ = (u8)(0x70 + cc);
		*q++ = DT_SLED_LEN;
		k->sled = 1;
		break;
	case C_CMOV:
		*q++ = 0x0f;
		*q++ = (u8)(0x40 + cc);
		*q++ = (u8)(0xc0 | rnd_n(64));
		break;
	case C_ADC:
		*q++ = rnd_n(2) ? 0x11 : 0x19;
		*q++ = (u8)(0xc0 | rnd_n(64));
		g->flag_mask = F_ARITH | F_DF;
		break;
	default:
		*q++ = 0x9f;
		g->reg_mask[R_EAX] &= ~((~defined & 0xd5u) << 8);
		break;
	}
	k->len = (u8)(q - k->code);
	g->next_eip = k->eip + k->len;
}

void gen_case(struct form *f, struct gcase *g)
{
	static struct gen s;
	static u32 slot;

	if (f->kind == K_PAIR) {
		gen_pair(f, g);
		return;
	}
	struct dt_case *k = &g->k;
	u32 imm = 0;
	int i, n, imm_at = -1, npf = 0;
	u8 pf[4];

	memset(g, 0, sizeof(*g));
	memset(&s, 0, sizeof(s));
	s.f = f;
	s.g = g;
	s.p = k->code;
	s.reg = f->ext >= 0 && f->ext < 8 ? f->ext : 0;
	for (i = 0; i < 8; i++) {
		k->r[i] = rand_val();
		g->reg_mask[i] = 0xffffffffu;
	}
	k->r[R_ESP] = DT_STACK - 4 * rnd_n(64);
	k->seed = rnd();
	k->eflags = F_FIXED1 | (rnd() & F_ARITH) | (rnd_n(2) ? F_DF : 0);
	g->flag_mask = (F_ARITH | F_DF) & ~f->undef;

	/* prefixes, in any order; a segment override now and then (all
	 * segments are flat here, and ignored in 64-bit mode) */
	if (f->asz16)
		pf[npf++] = 0x67;
	if (f->osz == 2)
		pf[npf++] = 0x66;
	if (f->prefix)
		pf[npf++] = f->prefix;
	if ((f->ext >= 0 || f->kind == K_STR || f->kind == K_XLAT) &&
	    f->rm != RM_REG && rnd_n(8) == 0) {
		s.gs = gen_gs && f->oracle == OR_HOST && f->ext >= 0 &&
		       rnd_n(2);
		pf[npf++] = s.gs ? 0x65 : "\x26\x36\x3e"[rnd_n(3)];
	}
	for (i = npf - 1; i > 0; i--) {
		int j = (int)rnd_n((u32)i + 1);
		u8 t = pf[i];

		pf[i] = pf[j];
		pf[j] = t;
	}
	for (i = 0; i < npf; i++)
		put8(&s, pf[i]);

	for (i = 0; i < f->oplen; i++)
		put8(&s, f->op[i]);
	if (f->ext == EXT_OPREG) {
		s.rm = rnd_n(8);
		s.p[-1] += (u8)s.rm;
		/* bswap of ESP is fine; 90 is xchg eax,eax */
	} else if (f->ext >= 0) {
		emit_modrm(&s);
	}

	n = imm_size(f);
	if (f->kind == K_SHIFT || f->kind == K_SHXD)
		imm = rand_count();
	else if (f->kind == K_AAM)
		imm = rnd_n(4) ? 10 : (rnd_n(8) ? rnd() & 0xff : 0);
	else if (f->kind == K_JCC || f->kind == K_LOOP)
		imm = DT_SLED_LEN;
	else if (f->kind == K_CALL)
		imm = 0;	/* call the next instruction */
	else if (f->kind == K_RET)
		imm = rnd_n(0x8000);	/* qemu sign-extends a larger one */
	else
		imm = rand_val();
	if (n == IMM_ENTER) {
		put(&s, rnd_n(3) ? rnd_n(64) : rnd() & 0xffff, 2);
		imm_at = (int)(s.p - k->code);
		put8(&s, rnd_n(4) ? rnd_n(4) : rnd_n(40));
	} else if (f->kind == K_MOFFS) {
		imm = DT_WIN_BASE + 0x800 + rnd_n(0x1000);
		put(&s, imm, 4);
		if (rnd_n(2))
			patch(&s, imm, rand_val());
	} else if (n) {
		imm_at = (int)(s.p - k->code);
		put(&s, imm, n);
		imm &= mask_of(n);
	}
	k->len = (u8)(s.p - k->code);
	k->eip = DT_SLOT_BASE + (slot++ % DT_NSLOTS) * DT_SLOT_SIZE;
	g->next_eip = k->eip + k->len;
	setup_kind(&s, imm, n == 1 ? imm_at : -1);
	if (f->kind == K_STR)
		setup_string(&s);
	if (f->kind == K_XLAT)
		k->r[R_EBX] = DT_WIN_MID - rnd_n(0x100);
	if (f->kind == K_JCC || f->kind == K_LOOP)
		k->sled = 1;
	gen_case_qemu(&s);
}
