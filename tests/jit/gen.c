/*
 * The program generator of the translator's differential test (see
 * jitdiff.c): random straight-line code, forward branches, counted loops,
 * calls, indirect jumps and self-modifying loops, over the forms that
 * exec_fast.c has handlers for (x87 and SSE2 among them) and a few that
 * it has not.
 *
 * Programs must never fault except on purpose (a not-present "lazy" page
 * that the #PF handler maps), so the generator keeps a few registers
 * under its control: ESP is the stack, EBP and EDI point into the data
 * pages (EBP exactly, EDI within a margin since STOS moves it), ESI is an
 * index of 0..63, and only EAX, EBX, ECX and EDX take random values.  A
 * loop counts in ECX, so its body may not write ECX.  A LEAVE may point
 * EBP and ESP elsewhere for a moment, and puts both back right after.
 * The lazy pages' last 256 bytes (PRESET) hold jump targets set before
 * the run, which no store reaches: an indirect JMP or CALL may be the
 * first to touch a lazy page.
 */
#include <stdlib.h>
#include <string.h>

#include "jitdiff.h"
#include "rep_range.h"
#include "sse_forms.h"

struct gen {
	u64 rng;
	struct prog *p;
	struct buf *b;		/* where instructions go: main or fn */
	u8 wmask;		/* registers the code may write */
	bool in_fn;		/* in a called function: stack balanced */
	bool no_mmio;		/* gen_ea(): memory that reads back */
	int depth;		/* nesting of control items */
};

u64 rng_next(u64 *s)
{
	u64 z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static u32 rnd(struct gen *g, u32 n)
{
	return (u32)(rng_next(&g->rng) % n);
}

static bool chance(struct gen *g, u32 percent)
{
	return rnd(g, 100) < percent;
}

/* rnd() for code that knows no struct gen (rep_range.h). */
static u32 rnd_any(void *g, u32 n)
{
	return rnd(g, n);
}

/* --- Emission --- */

static bool room(const struct gen *g, u32 n)
{
	return g->b->n + n <= g->b->cap;
}

static void b8(struct gen *g, u32 v)
{
	if (g->b->n < g->b->cap)
		g->b->code[g->b->n] = (u8)v;
	g->b->n++;
}

static void b32(struct gen *g, u32 v)
{
	int i;

	for (i = 0; i < 4; i++)
		b8(g, v >> (8 * i));
}

static void b16(struct gen *g, u32 v)
{
	b8(g, v);
	b8(g, v >> 8);
}

static u32 here(const struct gen *g)
{
	return g->b->addr + g->b->n;
}

static void patch32(struct buf *b, u32 at, u32 v)
{
	if (at + 4 <= b->cap)
		memcpy(b->code + at, &v, 4);
}

static void modrm(struct gen *g, int mod, int reg, int rm)
{
	b8(g, (u32)(mod << 6 | (reg & 7) << 3 | (rm & 7)));
}

/* --- Registers --- */

static int pick_w(struct gen *g)
{
	int r;

	do
		r = (int)rnd(g, 8);
	while (!(g->wmask & (1u << r)));
	return r;
}

static int pick_any(struct gen *g)
{
	return (int)rnd(g, 8);
}

/* A byte register (AL..BH) whose full register may be written. */
static int pick_w8(struct gen *g)
{
	int r;

	do
		r = (int)rnd(g, 8);
	while (!(g->wmask & (1u << (r & 3))));
	return r;
}

static u32 rnd_imm(struct gen *g)
{
	static const u32 special[] = {
		0, 1, 0xffffffffu, 0x80000000u, 0x7fffffffu, 0x7f, 0x80, 0xff,
		0x100, 0xffff, 0x10000, 31, 32,
	};

	if (chance(g, 30))
		return special[rnd(g, sizeof(special) / sizeof(special[0]))];
	if (chance(g, 30))
		return rnd(g, 256) - 128;
	return (u32)rng_next(&g->rng);
}

/* --- Memory operands --- */

struct ea {
	int base, index, scale;	/* -1: none */
	u32 disp;
	int seg;		/* override, -1 none */
	bool sib;		/* SIB byte even when not needed */
};

static int ea_seg(const struct ea *m)
{
	if (m->seg >= 0)
		return m->seg;
	return m->base == R_EBP || m->base == R_ESP ? S_SS : S_DS;
}

static void put_prefix(struct gen *g, const struct ea *m)
{
	static const u8 pfx[6] = { 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65 };

	if (m->seg >= 0)
		b8(g, pfx[m->seg]);
}

static bool fits8(u32 v)
{
	return (s32)v >= -128 && (s32)v <= 127;
}

static void put_ea(struct gen *g, int reg, const struct ea *m)
{
	bool sib = m->sib || m->index >= 0 || m->base == R_ESP;
	int idx = m->index >= 0 ? m->index : 4, mod;

	if (m->base < 0) {
		if (sib) {
			modrm(g, 0, reg, 4);
			b8(g, (u32)(m->scale << 6 | idx << 3 | 5));
		} else {
			modrm(g, 0, reg, 5);
		}
		b32(g, m->disp);
		return;
	}
	if (m->disp == 0 && m->base != R_EBP && !chance(g, 10))
		mod = 0;
	else
		mod = fits8(m->disp) ? 1 : 2;
	if (sib) {
		modrm(g, mod, reg, 4);
		b8(g, (u32)(m->scale << 6 | idx << 3 | m->base));
	} else {
		modrm(g, mod, reg, m->base);
	}
	if (mod == 1)
		b8(g, m->disp);
	else if (mod == 2)
		b32(g, m->disp);
}

/* An operand at exactly linear address lin, through a base we know. */
static void ea_exact(struct gen *g, struct ea *m, u32 lin)
{
	const struct prog *p = g->p;

	m->index = -1;
	m->scale = 0;
	m->sib = chance(g, 15);
	m->base = chance(g, 50) ? R_EBP : -1;
	if (m->base < 0 && chance(g, 25)) {
		/* [esi*0 ...] is not a thing; an index of ESI needs range */
		m->sib = true;
	}
	m->disp = lin - p->seg_base[ea_seg(m)] -
		  (m->base == R_EBP ? p->r[R_EBP] : 0);
}

/*
 * A memory operand of size bytes, fit for writing if write: somewhere in
 * the data pages, across a page end, in a lazy page, MMIO, on the stack,
 * or through a segment that is not flat.
 */
static void gen_ea(struct gen *g, struct ea *m, u32 size, bool write)
{
	const struct prog *p = g->p;
	u32 k = rnd(g, 100), lin, lo, hi;

	m->seg = -1;
	m->sib = false;
	if (k < 40) {
		ea_exact(g, m, DATA + rnd(g, 0x2000 - size + 1));
		return;
	}
	if (k < 52) {		/* the last bytes of a page: 0xffd..0xfff */
		lin = (chance(g, 50) ? DATA + 0x1000 : DATA + 0x2000) - size +
		      rnd(g, size);
		if (!p->paging && lin + size > LAZY)
			lin = DATA + 0x1000 - size + rnd(g, size);
		ea_exact(g, m, lin);
		return;
	}
	if (k < 60) {		/* below PRESET, which only loads reach */
		ea_exact(g, m, LAZY + rnd(g, PRESET - LAZY - size + 1));
		return;
	}
	if (k < 64) {
		lin = rnd(g, 0x1000 - size + 1);
		ea_exact(g, m, g->no_mmio ? DATA + lin : MMIO + lin);
		return;
	}
	if (k < 78) {		/* base + ESI * scale + disp */
		m->base = chance(g, 50) ? R_EBP : R_EDI;
		m->index = R_ESI;
		m->scale = (int)rnd(g, 4);
		lo = DATA + 800;
		hi = DATA + 0x2000 - 800 - (63u << m->scale) - size;
		lin = lo + rnd(g, hi - lo);
		m->disp = lin - p->seg_base[ea_seg(m)] - p->r[m->base];
		return;
	}
	if (k < 88 && (!write || !g->in_fn)) {	/* the stack */
		m->base = R_ESP;
		m->index = -1;
		m->scale = 0;
		m->disp = chance(g, 70) ? 4 * rnd(g, 16) : rnd(g, 64);
		return;
	}
	/* Segment overrides: FS (based, flat), GS (limited), ES, SS, and CS
	 * for reads. */
	k = rnd(g, write ? 4 : 5);
	m->seg = k == 0 ? S_FS : k == 1 ? S_GS : k == 2 ? S_ES : k == 3 ?
		 S_SS : S_CS;
	lin = DATA + rnd(g, 0x2000 - size + 1);
	m->index = -1;
	m->scale = 0;
	m->base = chance(g, 40) ? R_EBP : -1;
	m->disp = lin - p->seg_base[m->seg] -
		  (m->base == R_EBP ? p->r[R_EBP] : 0);
}

/* Any address at all, for LEA and the long NOP that never touch it. */
static void gen_ea_any(struct gen *g, struct ea *m)
{
	m->seg = -1;
	m->sib = chance(g, 20);
	m->base = chance(g, 20) ? -1 : pick_any(g);
	do
		m->index = chance(g, 40) ? -1 : pick_any(g);
	while (m->index == R_ESP);
	m->scale = (int)rnd(g, 4);
	m->disp = chance(g, 40) ? rnd(g, 256) - 128 : rnd_imm(g);
}

/* opcode bytes (with the prefix first) then the operand. */
static void op_mem(struct gen *g, const u8 *op, int n, int reg,
		   const struct ea *m)
{
	int i;

	put_prefix(g, m);
	for (i = 0; i < n; i++)
		b8(g, op[i]);
	put_ea(g, reg, m);
}

static void op1_mem(struct gen *g, u8 op, int reg, const struct ea *m)
{
	op_mem(g, &op, 1, reg, m);
}

static void op2_mem(struct gen *g, u8 op2, int reg, const struct ea *m)
{
	u8 op[2] = { 0x0f, op2 };

	op_mem(g, op, 2, reg, m);
}

/* --- Instructions --- */

/* ALU op r, r (either direction); CMP may name any destination. */
static void gen_alu_rr(struct gen *g, int op)
{
	int dst = op == 7 ? pick_any(g) : pick_w(g), src = pick_any(g);

	if (chance(g, 50)) {
		b8(g, (u32)(op << 3 | 1));
		modrm(g, 3, src, dst);
	} else {
		b8(g, (u32)(op << 3 | 3));
		modrm(g, 3, dst, src);
	}
}

static void gen_alu_ri(struct gen *g, int op)
{
	int dst = op == 7 ? pick_any(g) : pick_w(g);
	u32 imm = rnd_imm(g);

	if (dst == R_EAX && chance(g, 30)) {
		b8(g, (u32)(op << 3 | 5));
		b32(g, imm);
	} else if (fits8(imm) && chance(g, 70)) {
		b8(g, 0x83);
		modrm(g, 3, op, dst);
		b8(g, imm);
	} else {
		b8(g, 0x81);
		modrm(g, 3, op, dst);
		b32(g, imm);
	}
}

/* JIT_TEST_NO_RCX=1: no RCL/RCR by an immediate, to look past a bug
 * there (their CF input is not a flags use for jit.c's liveness). */
static int shift_op(struct gen *g)
{
	static int no_rcx = -1;
	int op;

	if (no_rcx < 0)
		no_rcx = getenv("JIT_TEST_NO_RCX") != NULL;
	do
		op = (int)rnd(g, 8);
	while (no_rcx && (op == 2 || op == 3));
	return op;
}

static void gen_shift_ri(struct gen *g)
{
	int op = shift_op(g), r = pick_w(g);
	u32 count = chance(g, 30) ? 1 : rnd(g, 40);

	if (count == 1 && chance(g, 50)) {
		b8(g, 0xd1);
		modrm(g, 3, op, r);
		return;
	}
	b8(g, 0xc1);
	modrm(g, 3, op, r);
	b8(g, count);
}

/* Register forms with handlers of their own in exec_fast.c. */
/*
 * A shift or rotate of a byte register or (the caller has written the 66)
 * a word register r, by 1 or a count mostly below the width (which jit.c writes
 * inline), often followed by a TEST, so that nothing sees its flags (the
 * host's own shift on part of a register then).
 */
static void gen_shift_narrow(struct gen *g, int size, int r)
{
	u32 width = (u32)size * 8;

	if (chance(g, 20)) {
		b8(g, size == 1 ? 0xd0 : 0xd1);
		modrm(g, 3, shift_op(g), r);
	} else {
		b8(g, size == 1 ? 0xc0 : 0xc1);
		modrm(g, 3, shift_op(g), r);
		b8(g, chance(g, 80) ? rnd(g, width) : rnd(g, 32));
	}
	if (chance(g, 60)) {
		b8(g, 0x85);
		modrm(g, 3, pick_any(g), pick_any(g));
	}
}

static void gen_reg_misc(struct gen *g)
{
	int r = pick_w(g), s = pick_any(g);
	u32 k;

	switch (rnd(g, 19)) {
	case 0:		/* SETcc r8 */
		b8(g, 0x0f);
		b8(g, 0x90 | rnd(g, 16));
		modrm(g, 3, 0, pick_w8(g));
		break;
	case 1:		/* CMOVcc */
		b8(g, 0x0f);
		b8(g, 0x40 | rnd(g, 16));
		modrm(g, 3, r, s);
		break;
	case 2:		/* MOVZX/MOVSX from r8, r16 */
		b8(g, 0x0f);
		b8(g, 0xb6 | rnd(g, 2) | 8 * rnd(g, 2));
		modrm(g, 3, r, s);
		break;
	case 3:
		b8(g, 0x0f);
		b8(g, 0xc8 | r);
		break;
	case 4:		/* NOT, NEG */
		b8(g, 0xf7);
		modrm(g, 3, 2 + (int)rnd(g, 2), r);
		break;
	case 5:		/* IMUL r, r/m */
		b8(g, 0x0f);
		b8(g, 0xaf);
		modrm(g, 3, r, s);
		break;
	case 6:		/* IMUL r, r/m, imm */
		if (chance(g, 50)) {
			b8(g, 0x6b);
			modrm(g, 3, r, s);
			b8(g, rnd(g, 256));
		} else {
			b8(g, 0x69);
			modrm(g, 3, r, s);
			b32(g, rnd_imm(g));
		}
		break;
	case 7:		/* CDQ, CWDE */
		if ((g->wmask & 5) == 5)
			b8(g, chance(g, 50) ? 0x99 : 0x98);
		break;
	case 8:		/* BT/BTS/BTR/BTC r, imm or r, r */
		b8(g, 0x0f);
		if (chance(g, 50)) {
			b8(g, 0xba);
			modrm(g, 3, 4 + (int)rnd(g, 4), r);
			b8(g, rnd(g, 256));
		} else {
			b8(g, 0xa3 | rnd(g, 4) << 3);
			modrm(g, 3, s, r);
		}
		if (chance(g, 30)) {	/* a rotate's CF on top of BT's */
			b8(g, 0xc1);
			modrm(g, 3, (int)rnd(g, 2), pick_w(g));
			b8(g, 1 + rnd(g, 31));
		}
		if (chance(g, 50))	/* ADC r, r: CF read */
			gen_alu_rr(g, 2);
		break;
	case 9:		/* shifts by CL */
		b8(g, 0xd3);
		modrm(g, 3, (int)rnd(g, 8), r);
		break;
	case 10:	/* SHLD/SHRD by imm or CL */
		k = chance(g, 30);
		b8(g, 0x0f);
		b8(g, (chance(g, 50) ? 0xa4 : 0xac) | k);
		modrm(g, 3, s, r);
		if (!k)
			b8(g, rnd(g, 32));
		break;
	case 11: {	/* XADD, XCHG: both written */
		int t = pick_w(g);

		if (chance(g, 50)) {
			b8(g, 0x0f);
			b8(g, 0xc1);
		} else {
			b8(g, 0x87);
		}
		modrm(g, 3, t, r);
		break;
	}
	case 12:	/* XCHG EAX, r */
		if (g->wmask & 1)
			b8(g, 0x90 | r);
		break;
	case 13:	/* CMPXCHG r/m, r: writes EAX too */
		if (g->wmask & 1) {
			b8(g, 0x0f);
			b8(g, 0xb1);
			modrm(g, 3, s, r);
		}
		break;
	case 14:	/* 8-bit ALU, TEST and MOV */
		if (chance(g, 20)) {	/* TEST r/m8, r8 or imm8 */
			if (chance(g, 50)) {
				b8(g, 0x84);
				modrm(g, 3, pick_any(g), pick_any(g));
			} else {
				b8(g, 0xf6);
				modrm(g, 3, 0, pick_any(g));
				b8(g, rnd(g, 256));
			}
			b8(g, 0x0f);	/* SETcc: SF, of a byte's bit 7 */
			b8(g, 0x90 | rnd(g, 16));
			modrm(g, 3, 0, pick_w8(g));
		} else if (chance(g, 50)) {
			b8(g, rnd(g, 8) << 3);
			modrm(g, 3, pick_any(g), pick_w8(g));
		} else if (chance(g, 50)) {
			b8(g, 0x80);
			modrm(g, 3, (int)rnd(g, 8), pick_w8(g));
			b8(g, rnd(g, 256));
		} else if (chance(g, 50)) {
			b8(g, 0xb0 | pick_w8(g));
			b8(g, rnd(g, 256));
		} else {
			gen_shift_narrow(g, 1, pick_w8(g));
		}
		break;
	case 15:	/* 16-bit ALU, TEST, MOV, shift */
		b8(g, 0x66);
		switch (rnd(g, 4)) {
		case 0:
			b8(g, rnd(g, 8) << 3 | 1);
			modrm(g, 3, s, r);
			break;
		case 3:
			b8(g, 0x85);
			modrm(g, 3, s, pick_any(g));
			break;
		case 1:
			b8(g, 0xb8 | r);
			b16(g, rnd(g, 65536));
			break;
		default:
			gen_shift_narrow(g, 2, r);
		}
		break;
	case 16:	/* INC/DEC through FF */
		b8(g, 0xff);
		modrm(g, 3, (int)rnd(g, 2), r);
		break;
	case 17:	/* MUL, IMUL r/m: EDX:EAX = EAX * r */
		b8(g, 0xf7);
		modrm(g, 3, 4 + (int)rnd(g, 2), s);
		break;
	default:	/* NOPs: 90, and 0F 1F with an operand never read */
		if (chance(g, 50)) {
			b8(g, 0x90);
		} else {
			struct ea m;

			gen_ea_any(g, &m);
			op2_mem(g, 0x1f, 0, &m);
		}
	}
}

/* Forms without a fast handler: the interpreter's, inside blocks. */
/*
 * The segment registers as a 32-bit kernel's entry and exit use them
 * (the translator runs these in its blocks, and ends a block at a load):
 * selectors read (MOV r, Sreg; PUSH Sreg), reloaded as they were (PUSH
 * ES; POP ES), an IRET to the next instruction, and DS loaded for a
 * moment with a segment based elsewhere (GDT_DS_OTHER), a load through
 * it, then DS back as it was: code after that load that took DS as flat,
 * as it was before, would read another byte.
 */
static void gen_segs(struct gen *g, int r)
{
	u32 lin = DATA + rnd(g, 0x2000 - 4), op;

	switch (rnd(g, 5)) {
	case 0:		/* MOV r, ES/CS/SS/DS/FS/GS */
		b8(g, 0x8c);
		modrm(g, 3, (int)rnd(g, 6), r);
		break;
	case 1:		/* PUSH ES/CS/SS/DS or FS/GS; POP r */
		if (chance(g, 50)) {
			b8(g, 0x06 + 8 * rnd(g, 4));
		} else {
			b8(g, 0x0f);
			b8(g, chance(g, 50) ? 0xa0 : 0xa8);
		}
		b8(g, 0x58 | r);
		break;
	case 2:		/* PUSH ES; POP ES or PUSH DS; POP DS */
		op = chance(g, 50) ? 0x06 : 0x1e;
		b8(g, op);
		b8(g, op + 1);
		break;
	case 3:		/* PUSHFD; PUSH CS; PUSH next; IRET */
		b8(g, 0x9c);
		b8(g, 0x0e);
		b8(g, 0x68);
		b32(g, here(g) + 5);
		b8(g, 0xcf);
		break;
	default:	/* PUSH DS; MOV DS, r; MOV r, [lin]; POP DS */
		b8(g, 0x1e);
		b8(g, 0xb8 | r);
		b32(g, GDT_DS_OTHER);
		b8(g, 0x8e);
		modrm(g, 3, S_DS, r);
		b8(g, 0x8b);
		modrm(g, 0, r, 5);
		b32(g, lin - DS_OTHER_BASE);
		b8(g, 0x1f);
	}
}

static void gen_slow(struct gen *g)
{
	int r = pick_w(g);

	switch (rnd(g, 10)) {
	case 8:
		gen_segs(g, r);
		break;
	case 0:		/* CLC, STC, CMC, then often ADC or SBB */
		b8(g, (u32[]){ 0xf8, 0xf9, 0xf5 }[rnd(g, 3)]);
		if (chance(g, 70))
			gen_alu_rr(g, 2 + (int)rnd(g, 2));
		break;
	case 1:		/* LAHF, SAHF */
		if (g->wmask & 1)
			b8(g, chance(g, 50) ? 0x9f : 0x9e);
		break;
	case 2:		/* PUSHF; POP r */
		b8(g, 0x9c);
		b8(g, 0x58 | r);
		break;
	case 3: {	/* PUSH flags; POPF */
		u32 f = rnd(g, 0x1000) & (F_ARITH | F_DF);

		b8(g, 0x68);
		b32(g, f | F_FIXED1);
		b8(g, 0x9d);
		break;
	}
	case 4: {	/* BSF, BSR, some with REP (TZCNT, LZCNT) */
		int s = pick_any(g);

		if (chance(g, 30)) {	/* of 0: the destination stays */
			s = pick_w(g);
			b8(g, 0x31);
			modrm(g, 3, s, s);
		}
		if (chance(g, 30))
			b8(g, 0xf3);
		b8(g, 0x0f);
		b8(g, chance(g, 50) ? 0xbc : 0xbd);
		modrm(g, 3, r, s);
		break;
	}
	case 5:		/* LEA r, [bx+d8] with a 16-bit address */
		b8(g, 0x67);
		b8(g, 0x8d);
		modrm(g, 1, r, 7);
		b8(g, rnd(g, 256));
		break;
	case 6:		/* STD, CLD, CLI, STI; LFENCE, MFENCE, SFENCE;
			 * RDTSC, whose clock read may ask the CPU to stop
			 * (jitdiff.c's bus_clock()) */
		if ((g->wmask & (1u << R_EAX | 1u << R_EDX)) ==
		    (1u << R_EAX | 1u << R_EDX) && chance(g, 30)) {
			b8(g, 0x0f);
			b8(g, 0x31);
		} else if (chance(g, 70)) {
			b8(g, 0xfa + rnd(g, 4));
		} else {
			b8(g, 0x0f);
			b8(g, 0xae);
			b8(g, 0xe8 + 8 * rnd(g, 3));
		}
		break;
	case 7:		/* ADC r8, r8 */
		b8(g, 0x12);
		modrm(g, 3, pick_w8(g), pick_any(g));
		break;
	default:	/* ADC/SBB r, imm after a flag setter */
		gen_alu_ri(g, 2 + (int)rnd(g, 2));
	}
}

/*
 * LEAVE: at the end of a frame (PUSH EBP; MOV EBP, ESP; SUB ESP, 4n;
 * accesses at [EBP-4k]), or with EBP pointed for a moment at data, across
 * a page end, into a lazy page (#PF) or at MMIO, and ESP kept in a
 * register: PUSH EBP; MOV t, ESP; MOV EBP, lin; LEAVE; MOV ESP, t; POP
 * EBP.
 */
static void gen_leave(struct gen *g)
{
	u32 n = 1 + rnd(g, 4), i, lin, k = rnd(g, 5);
	int t = pick_w(g);

	b8(g, 0x55);					/* push ebp */
	if (k == 0 || k == 1) {
		b8(g, 0x89);				/* mov ebp, esp */
		modrm(g, 3, R_ESP, R_EBP);
		b8(g, 0x83);				/* sub esp, 4n */
		modrm(g, 3, 5, R_ESP);
		b8(g, 4 * n);
		for (i = 0; i < n; i++) {
			if (chance(g, 50)) {		/* mov [ebp-4k], r */
				b8(g, 0x89);
				modrm(g, 1, pick_any(g), R_EBP);
			} else {			/* mov r, [ebp-4k] */
				b8(g, 0x8b);
				modrm(g, 1, pick_w(g), R_EBP);
			}
			b8(g, -4 * (1 + rnd(g, n)));
		}
		b8(g, 0xc9);				/* leave */
		return;
	}
	if (k == 2)
		lin = DATA + rnd(g, 0x2000 - 4 + 1);
	else if (k == 3)
		lin = DATA + 0x1000 - 4 + rnd(g, 4);
	else if (chance(g, 60))
		lin = LAZY + rnd(g, PRESET - LAZY - 4 + 1);
	else
		lin = MMIO + rnd(g, 0x1000 - 4 + 1);
	b8(g, 0x89);					/* mov t, esp */
	modrm(g, 3, R_ESP, t);
	b8(g, 0xbd);					/* mov ebp, lin */
	b32(g, lin);
	b8(g, 0xc9);					/* leave */
	b8(g, 0x89);					/* mov esp, t */
	modrm(g, 3, t, R_ESP);
	b8(g, 0x5d);					/* pop ebp */
}

static void gen_stack(struct gen *g)
{
	struct ea m;

	switch (rnd(g, 7)) {
	case 6:
		gen_leave(g);
		break;
	case 0:
	case 1:
		b8(g, 0x50 | pick_any(g));
		break;
	case 2:
		if (chance(g, 50)) {
			b8(g, 0x6a);
			b8(g, rnd(g, 256));
		} else {
			b8(g, 0x68);
			b32(g, rnd_imm(g));
		}
		break;
	case 3:		/* PUSH r/m32 */
		gen_ea(g, &m, 4, false);
		op1_mem(g, 0xff, 6, &m);
		break;
	case 4:		/* POP r/m32 (no fast handler) */
		gen_ea(g, &m, 4, true);
		if (m.base == R_ESP) {	/* [esp+d] after the pop: not that */
			m.base = R_EBP;
			m.disp = DATA + 0x800 - g->p->r[R_EBP];
			m.seg = -1;
		}
		op1_mem(g, 0x8f, 0, &m);
		break;
	default:
		b8(g, 0x58 | pick_w(g));
	}
}

/* One form with memory operand m: a load, a store or an ALU form. */
static void gen_mem_op(struct gen *g, const struct ea *m)
{
	switch (rnd(g, 5)) {
	case 0:						/* mov r, [m] */
		op1_mem(g, 0x8b, pick_w(g), m);
		break;
	case 1:						/* mov [m], r */
		op1_mem(g, 0x89, pick_any(g), m);
		break;
	case 2:						/* op r, [m] */
		op1_mem(g, (u8)(rnd(g, 8) << 3 | 3), pick_w(g), m);
		break;
	case 3:						/* op [m], r */
		op1_mem(g, (u8)(rnd(g, 8) << 3 | 1), pick_any(g), m);
		break;
	default:					/* op [m], imm8 */
		op1_mem(g, 0x83, (int)rnd(g, 8), m);
		b8(g, rnd(g, 256));
	}
}

/*
 * A function's frame as i686 code keeps it: PUSHes, then loads, stores
 * and ALU forms on [ESP + d], within what was pushed and above it, then
 * POPs.  The translator reaches all of them through one window on the
 * stack (jit.c, win_plan()), whose place it works out from the PUSHes
 * and POPs; ESP starts near a page's end, so the window often runs over
 * it, and the PUSHes may take the stack below it.
 */
static void gen_frame(struct gen *g)
{
	int n = (int)rnd(g, 4), k = 2 + (int)rnd(g, 5), i;
	struct ea m;

	if (!room(g, (u32)(8 * n + 12 * k)))
		return;
	for (i = 0; i < n; i++)
		b8(g, 0x50 | pick_any(g));		/* push r */
	for (i = 0; i < k; i++) {
		m.base = R_ESP;
		m.index = -1;
		m.scale = 0;
		m.seg = -1;
		m.sib = false;
		m.disp = chance(g, 80) ? 4 * rnd(g, (u32)n + 8) :
			 rnd(g, 4 * (u32)n + 32);
		gen_mem_op(g, &m);
	}
	for (i = 0; i < n; i++)
		b8(g, 0x58 | pick_w(g));		/* pop r */
}

/*
 * A pointer that moves between accesses through it, as a loop over an
 * array does: [EDI + d] forms, EDI moved by ADD, LEA, INC or DEC, more
 * of them, and EDI put back.  The translator's windows (jit.c,
 * win_plan()) must see each move; EDI lies near the data's page end at
 * times, so a window may run over it.
 */
static void gen_walk(struct gen *g)
{
	int steps = 1 + (int)rnd(g, 3), i, k;
	s32 moved = 0, by;
	struct ea m;

	if (!room(g, (u32)(steps * 40 + 20)))
		return;
	m.base = R_EDI;
	m.index = -1;
	m.scale = 0;
	m.seg = -1;
	m.sib = false;
	for (i = 0; i <= steps; i++) {
		for (k = 1 + (int)rnd(g, 3); k > 0; k--) {
			m.disp = 4 * rnd(g, 16) +
				 (chance(g, 20) ? rnd(g, 4) : 0);
			gen_mem_op(g, &m);
		}
		if (i == steps)
			break;
		switch (rnd(g, 3)) {
		case 0:					/* add edi, by */
			by = (s32)(4 * rnd(g, 8)) - 16;
			b8(g, 0x83);
			modrm(g, 3, 0, R_EDI);
			b8(g, (u32)by & 0xff);
			break;
		case 1:					/* lea edi, [edi+by] */
			by = (s32)(4 * rnd(g, 8)) - 16;
			b8(g, 0x8d);
			modrm(g, 1, R_EDI, R_EDI);
			b8(g, (u32)by & 0xff);
			break;
		default:				/* inc or dec edi */
			by = chance(g, 50) ? 1 : -1;
			b8(g, by > 0 ? 0x47 : 0x4f);
		}
		moved += by;
	}
	b8(g, 0x81);					/* add edi, -moved */
	modrm(g, 3, 0, R_EDI);
	b32(g, (u32)-moved);
}

static void gen_simple(struct gen *g);
static void gen_deferred(struct gen *g);
static void patch8(struct gen *g, u32 at);

/*
 * REP MOVS or REP STOS of 1, 2 or 4 bytes, up or down, over a range of
 * the data pages (across their middle at times), a copy overlapping its
 * source now and then, and counts of 0 to a page's worth; or one MOVS,
 * STOS or LODS: where ESI and EDI end is added into a register, then
 * they are put back as they were.
 */
static void gen_rep_string(struct gen *g)
{
	bool movs = chance(g, 60), down = chance(g, 15), rep = chance(g, 70);
	bool lods = !rep && (g->wmask & 1) && chance(g, 50);
	u32 size = 1u << rnd(g, 3);
	struct rep_range at;
	int r;

	if (!(g->wmask & 2))		/* ECX */
		return;
	at = rep_range_pick(rnd_any, g, size, down, DATA, 0x2000);
	b8(g, 0x56);				/* PUSH ESI; PUSH EDI */
	b8(g, 0x57);
	b8(g, down ? 0xfd : 0xfc);		/* STD or CLD */
	b8(g, 0xbe);				/* MOV ESI, src */
	b32(g, at.src - g->p->seg_base[S_DS]);
	b8(g, 0xbf);				/* MOV EDI, dst */
	b32(g, at.dst - g->p->seg_base[S_ES]);
	b8(g, 0xb9);				/* MOV ECX, n */
	b32(g, at.n);
	if (size == 2)
		b8(g, 0x66);
	if (rep)
		b8(g, chance(g, 80) ? 0xf3 : 0xf2);
	b8(g, (lods ? 0xac : movs ? 0xa4 : 0xaa) | (size > 1));
	if (chance(g, 50))			/* CLD */
		b8(g, 0xfc);
	r = pick_w(g);		/* where ESI and EDI end shows after */
	if (r != R_ESP && r != R_ESI && r != R_EDI) {
		b8(g, 0x01);			/* ADD r, EDI */
		modrm(g, 3, R_EDI, r);
		b8(g, 0x31);			/* XOR r, ESI */
		modrm(g, 3, R_ESI, r);
	}
	b8(g, 0x5f);				/* POP EDI; POP ESI */
	b8(g, 0x5e);
}

static void gen_mem(struct gen *g)
{
	struct ea m;
	int r = pick_w(g), s = pick_any(g), op = (int)rnd(g, 8);
	u32 k;

	switch (rnd(g, 19)) {
	case 18:
		gen_rep_string(g);
		break;
	case 0:
	case 1:		/* MOV r, m */
		gen_ea(g, &m, 4, false);
		op1_mem(g, 0x8b, r, &m);
		break;
	case 2:
	case 3:		/* MOV m, r */
		gen_ea(g, &m, 4, true);
		op1_mem(g, 0x89, s, &m);
		break;
	case 4:		/* MOV m, imm */
		gen_ea(g, &m, 4, true);
		op1_mem(g, 0xc7, 0, &m);
		b32(g, rnd_imm(g));
		break;
	case 5:
	case 6:		/* ALU r, m */
		gen_ea(g, &m, 4, false);
		op1_mem(g, (u8)(op << 3 | 3), op == 7 ? s : r, &m);
		break;
	case 7:		/* ALU m, r */
		gen_ea(g, &m, 4, op != 7);
		op1_mem(g, (u8)(op << 3 | 1), s, &m);
		break;
	case 8:		/* ALU m, imm */
		gen_ea(g, &m, 4, op != 7);
		if (chance(g, 50)) {
			op1_mem(g, 0x83, op, &m);
			b8(g, rnd(g, 256));
		} else {
			op1_mem(g, 0x81, op, &m);
			b32(g, rnd_imm(g));
		}
		break;
	case 9:		/* TEST m, r; TEST m, imm; MUL, IMUL m */
		gen_ea(g, &m, 4, false);
		if (chance(g, 20)) {
			op1_mem(g, 0xf7, 4 + (int)rnd(g, 2), &m);
		} else if (chance(g, 50)) {
			op1_mem(g, 0x85, s, &m);
		} else {
			op1_mem(g, 0xf7, 0, &m);
			b32(g, rnd_imm(g));
		}
		break;
	case 10:	/* INC, DEC, NOT, NEG, shifts of memory */
		gen_ea(g, &m, 4, true);
		if (chance(g, 40)) {
			op1_mem(g, 0xff, (int)rnd(g, 2), &m);
		} else if (chance(g, 40)) {
			op1_mem(g, 0xf7, 2 + (int)rnd(g, 2), &m);
		} else if (chance(g, 50)) {
			op1_mem(g, 0xc1, op, &m);
			b8(g, rnd(g, 32));
		} else {		/* of a byte or word, by 1 or imm */
			k = 1 + rnd(g, 2);
			if (k == 2)
				b8(g, 0x66);
			if (chance(g, 50)) {
				op1_mem(g, k == 1 ? 0xd0 : 0xd1, op, &m);
			} else {
				op1_mem(g, k == 1 ? 0xc0 : 0xc1, op, &m);
				b8(g, rnd(g, 20));
			}
		}
		break;
	case 11:	/* byte and word moves, ALU, INC/DEC, TEST */
		switch (rnd(g, 14)) {
		case 0:
			gen_ea(g, &m, 1, false);
			op1_mem(g, 0x8a, pick_w8(g), &m);
			break;
		case 1:
			gen_ea(g, &m, 1, true);
			op1_mem(g, 0x88, s, &m);
			break;
		case 2:
			gen_ea(g, &m, 2, true);
			b8(g, 0x66);
			op1_mem(g, 0x89, s, &m);
			break;
		case 3:
			gen_ea(g, &m, 2, false);
			op2_mem(g, 0xb6 | rnd(g, 2) | 8 * rnd(g, 2), r, &m);
			break;
		case 4:
			gen_ea(g, &m, 1, op != 7);
			op1_mem(g, 0x80, op, &m);
			b8(g, rnd(g, 256));
			break;
		case 5:		/* op m8, r8 */
			gen_ea(g, &m, 1, op != 7);
			op1_mem(g, (u8)(op << 3), pick_any(g), &m);
			break;
		case 6:		/* op r8, m8 */
			gen_ea(g, &m, 1, false);
			op1_mem(g, (u8)(op << 3 | 2), pick_w8(g), &m);
			break;
		case 7:		/* op m16, r16 or r16, m16 */
			gen_ea(g, &m, 2, op != 7);
			b8(g, 0x66);
			if (chance(g, 50))
				op1_mem(g, (u8)(op << 3 | 1), s, &m);
			else
				op1_mem(g, (u8)(op << 3 | 3), r, &m);
			break;
		case 8:		/* op m16, imm16 or simm8 */
			gen_ea(g, &m, 2, op != 7);
			b8(g, 0x66);
			if (chance(g, 50)) {
				op1_mem(g, 0x81, op, &m);
				b16(g, rnd_imm(g));
			} else {
				op1_mem(g, 0x83, op, &m);
				b8(g, rnd(g, 256));
			}
			break;
		case 9:		/* MOV r16, m16 */
			gen_ea(g, &m, 2, false);
			b8(g, 0x66);
			op1_mem(g, 0x8b, r, &m);
			break;
		case 10:	/* MOV m8, imm8; MOV m16, imm16 */
			if (chance(g, 50)) {
				gen_ea(g, &m, 1, true);
				op1_mem(g, 0xc6, 0, &m);
				b8(g, rnd(g, 256));
			} else {
				gen_ea(g, &m, 2, true);
				b8(g, 0x66);
				op1_mem(g, 0xc7, 0, &m);
				b16(g, rnd_imm(g));
			}
			break;
		case 11:	/* INC, DEC of a byte or a word */
			if (chance(g, 50)) {
				gen_ea(g, &m, 1, true);
				op1_mem(g, 0xfe, (int)rnd(g, 2), &m);
			} else {
				gen_ea(g, &m, 2, true);
				b8(g, 0x66);
				op1_mem(g, 0xff, (int)rnd(g, 2), &m);
			}
			break;
		case 12:	/* TEST m8, r8 or imm8 */
			gen_ea(g, &m, 1, false);
			if (chance(g, 50)) {
				op1_mem(g, 0x84, pick_any(g), &m);
			} else {
				op1_mem(g, 0xf6, 0, &m);
				b8(g, rnd(g, 256));
			}
			break;
		default:	/* TEST m16, r16 or imm16 */
			gen_ea(g, &m, 2, false);
			b8(g, 0x66);
			if (chance(g, 50)) {
				op1_mem(g, 0x85, s, &m);
			} else {
				op1_mem(g, 0xf7, 0, &m);
				b16(g, rnd_imm(g));
			}
		}
		break;
	case 12:
	case 16:	/* XCHG, XADD, CMPXCHG with memory, LOCKed
			 * sometimes; CMPXCHG often with EAX loaded from the
			 * operand first (they match: even MMIO reads the
			 * same twice), and its ZF tested by a Jcc */
		gen_ea(g, &m, 4, true);
		if (chance(g, 35)) {
			if (chance(g, 30))
				b8(g, 0xf0);
			op1_mem(g, 0x87, r, &m);
		} else if (chance(g, 40)) {
			op2_mem(g, 0xc1, r, &m);
		} else if (g->wmask & 1) {
			u32 at;

			if (chance(g, 50))
				op1_mem(g, 0x8b, R_EAX, &m);
			if (chance(g, 30))
				b8(g, 0xf0);
			op2_mem(g, 0xb1, s, &m);
			if (chance(g, 40)) {	/* jz/jnz over one */
				b8(g, 0x74 | rnd(g, 2));
				at = g->b->n;
				b8(g, 0);
				gen_simple(g);
				patch8(g, at);
			}
		}
		break;
	case 13:	/* STOSD, STOSB; REP STOS after EDI is put back
			 * near its start, with a small ECX */
		if ((g->wmask & 2) && chance(g, 30)) {
			b8(g, 0xbf);
			b32(g, g->p->r[R_EDI] - 64 + 8 * rnd(g, 16));
			b8(g, 0xb9);
			b32(g, rnd(g, 9));
			b8(g, chance(g, 50) ? 0xf3 : 0xf2);
		}
		b8(g, chance(g, 50) ? 0xab : 0xaa);
		break;
	case 14:	/* MOV EAX (AX, AL), moffs and back */
		k = rnd(g, 3);		/* 4, 2 or 1 bytes */
		if (k == 1)
			b8(g, 0x66);
		if (chance(g, 50) && (g->wmask & 1)) {
			b8(g, k == 2 ? 0xa0 : 0xa1);
		} else {
			b8(g, k == 2 ? 0xa2 : 0xa3);
		}
		b32(g, DATA + rnd(g, 0x2000 - 4) - g->p->seg_base[S_DS]);
		break;
	case 15: {	/* BT* m, r: a signed bit offset, -64 to 447 */
		int t = pick_w(g);

		b8(g, 0xb8 | t);			/* MOV t, offset */
		b32(g, rnd(g, 512) - 64);
		gen_ea(g, &m, 64, true);
		op2_mem(g, 0xa3 | rnd(g, 4) << 3, t, &m);
		break;
	}
	default:	/* CMOVcc r, m; IMUL r, m (, imm); SETcc m; BT m, imm */
		gen_ea(g, &m, 4, true);
		if (chance(g, 40)) {
			op2_mem(g, 0x40 | rnd(g, 16), r, &m);
		} else if (chance(g, 20)) {
			op2_mem(g, 0xaf, r, &m);
		} else if (chance(g, 20)) {
			op1_mem(g, 0x6b, r, &m);
			b8(g, rnd(g, 256));
		} else if (chance(g, 50)) {
			op2_mem(g, 0x90 | rnd(g, 16), 0, &m);
		} else {
			op2_mem(g, 0xba, 4 + (int)rnd(g, 4), &m);
			b8(g, rnd(g, 256));
		}
	}
}

/* mov dword [lin], v */
static void store_imm(struct gen *g, u32 lin, u32 v)
{
	static const u8 movi[1] = { 0xc7 };
	struct ea m;

	m.seg = -1;
	ea_exact(g, &m, lin);
	op_mem(g, movi, 1, 0, &m);
	b32(g, v);
}

/* A one-byte opcode with ModRM reg (an extension) on [lin]. */
static void op_at(struct gen *g, u8 op, int reg, u32 lin)
{
	struct ea m;

	m.seg = -1;
	ea_exact(g, &m, lin);
	op_mem(g, &op, 1, reg, &m);
}

/* FLDCW of cw, stored at lin first. */
static void fldcw_imm(struct gen *g, u32 lin, u16 cw)
{
	store_imm(g, lin, cw);
	op_at(g, 0xd9, 5, lin);
}

/*
 * For a moment an x87 exception unmasked (precision), and raised: an
 * inexact 1/3.  Translated code runs its x87 forms on the host only
 * with every exception masked: here each form must go to its handler,
 * and the status word FNSTSW reads (into AX) must show ES and PE as the
 * interpreter leaves them.  FNCLEX follows before any waiting form can
 * take the #MF, and FNINIT first makes room on the stack.
 */
static void gen_x87_unmasked(struct gen *g)
{
	u32 lin = DATA + 8 * rnd(g, 0x3ff);

	b8(g, 0xdb);					/* FNINIT */
	b8(g, 0xe3);
	fldcw_imm(g, lin, 0x035f);			/* PE unmasked */
	b8(g, 0xd9);					/* FLD1 */
	b8(g, 0xe8);
	store_imm(g, lin, 0);				/* 3.0 */
	store_imm(g, lin + 4, 0x40080000);
	op_at(g, 0xdd, 0, lin);				/* FLD m64 */
	b8(g, 0xde);					/* FDIVP */
	b8(g, 0xf9);
	b8(g, 0xdf);					/* FNSTSW AX */
	b8(g, 0xe0);
	b8(g, 0xdb);					/* FNCLEX */
	b8(g, 0xe2);
	fldcw_imm(g, lin, 0x037f);			/* all masked */
}

/*
 * The x87, on registers and on memory: the translator runs these inside
 * its blocks through the fast path's decoding (h_x87), the interpreter
 * through exec.c's.  FCOMIP and FCMOVB tie them to EFLAGS.
 */
static void gen_x87(struct gen *g)
{
	static const u8 regs[][2] = {
		{ 0xd9, 0xe8 },		/* FLD1 */
		{ 0xd9, 0xee },		/* FLDZ */
		{ 0xd9, 0xc9 },		/* FXCH ST1 */
		{ 0xde, 0xc1 },		/* FADDP */
		{ 0xde, 0xc9 },		/* FMULP */
		{ 0xd9, 0xe0 },		/* FCHS */
		{ 0xdf, 0xf1 },		/* FCOMIP ST1 */
		{ 0xda, 0xc1 },		/* FCMOVB ST1 */
		{ 0xdd, 0xd8 },		/* FSTP ST0 */
	};
	static const struct { u8 op, reg, size, write; } mems[] = {
		{ 0xdd, 0, 8, 0 },	/* FLD m64 */
		{ 0xd9, 0, 4, 0 },	/* FLD m32 */
		{ 0xdb, 0, 4, 0 },	/* FILD m32 */
		{ 0xdc, 0, 8, 0 },	/* FADD m64 */
		{ 0xdc, 1, 8, 0 },	/* FMUL m64 */
		{ 0xd8, 4, 4, 0 },	/* FSUB m32 */
		{ 0xdd, 3, 8, 1 },	/* FSTP m64 */
		{ 0xdb, 3, 4, 1 },	/* FISTP m32 */
		{ 0xdd, 2, 8, 1 },	/* FST m64 */
	};
	struct ea m;
	u32 k;

	if (chance(g, 2)) {
		gen_x87_unmasked(g);
		return;
	}
	if (chance(g, 40)) {
		k = rnd(g, sizeof(regs) / sizeof(regs[0]));
		b8(g, regs[k][0]);
		b8(g, regs[k][1]);
		return;
	}
	k = rnd(g, sizeof(mems) / sizeof(mems[0]));
	gen_ea(g, &m, mems[k].size, mems[k].write);
	op1_mem(g, mems[k].op, mems[k].reg, &m);
}

/* One instruction that does not transfer control. */
/*
 * SSE2 on XMM0-7, which translated blocks run from entries decoded once
 * (sse.c) and the interpreter from exec.c's decode: values in and out of
 * general registers, 16-, 8- and 4-byte loads and stores wherever
 * gen_ea() puts them (page ends, lazy pages, MMIO, the stack, based and
 * limited segments), integer and floating-point arithmetic, the forms
 * the translator runs inline (jit.c's emit_sse()) in each of its shapes;
 * the forms with an alignment check get aligned operands.
 */
static void sse_rr(struct gen *g, u8 pfx, u8 op, int reg, int rm)
{
	if (pfx)
		b8(g, pfx);
	b8(g, 0x0f);
	b8(g, op);
	modrm(g, 3, reg, rm);
}

static void sse_m(struct gen *g, u8 pfx, u8 op, int reg, bool write,
		  u32 size)
{
	u8 bytes[3] = { pfx, 0x0f, op };
	struct ea m;

	gen_ea(g, &m, size, write);
	op_mem(g, pfx ? bytes : bytes + 1, pfx ? 3 : 2, reg, &m);
}

/* A 16-byte operand of a form that must be aligned, at an aligned address
 * in the data pages (no fault but #PF is planned here: gen64.c has the
 * misaligned ones). */
static void sse_m_aligned(struct gen *g, u8 pfx, u8 op, int reg)
{
	u8 bytes[3] = { pfx, 0x0f, op };
	struct ea m;

	m.seg = -1;
	ea_exact(g, &m, DATA + 16 * rnd(g, 0x1ff));
	op_mem(g, pfx ? bytes : bytes + 1, pfx ? 3 : 2, reg, &m);
}

/* mov dword [lin], v; ldmxcsr [lin] */
static void ldmxcsr_imm(struct gen *g, u32 lin, u32 v)
{
	static const u8 ld[2] = { 0x0f, 0xae };
	struct ea m;

	store_imm(g, lin, v);
	m.seg = -1;
	ea_exact(g, &m, lin);
	op_mem(g, ld, 2, 2, &m);
}

/*
 * MXCSR states: other rounding modes, FTZ and DAZ, sticky flags already
 * set (the translator's inline forms run with the guest's MXCSR and must
 * leave it exact); or, for a moment, exceptions unmasked, which sends
 * the forms that could raise one to their handler: on zeros, which raise
 * nothing (a fault other than #PF has no place in these programs), and
 * then every exception is masked again.
 */
static void gen_ldmxcsr(struct gen *g)
{
	u32 lin = DATA + 4 * rnd(g, 0x7ff);
	int x = (int)rnd(g, 8), y = (int)rnd(g, 8), i = (int)rnd(g, 4);

	if (chance(g, 70)) {
		ldmxcsr_imm(g, lin, mxcsr_states[rnd(g,
						 ARRAY_SIZE(mxcsr_states))]);
		return;
	}
	ldmxcsr_imm(g, lin, (rnd(g, 0x3f) << 7 | rnd(g, 4) << 13) & 0x7f80);
	sse_rr(g, 0x66, 0xef, x, x);			/* pxor x, x */
	sse_rr(g, 0x66, 0xef, y, y);
	sse_rr(g, mxcsr_fp[i][0], mxcsr_fp[i][1], x, y);
	ldmxcsr_imm(g, lin, mxcsr_states[rnd(g,
						 ARRAY_SIZE(mxcsr_states))]);
}

static void gen_sse(struct gen *g)
{
	int x = (int)rnd(g, 8), y = (int)rnd(g, 8), i = (int)rnd(g, 3);
	bool dbl = chance(g, 50);

	switch (rnd(g, 21)) {
	case 20:	/* PSHUFD, SHUFPD: all of x made from y's lanes */
		sse_rr(g, 0x66, dbl ? 0x70 : 0xc6, x, y);
		b8(g, rnd(g, 256));
		break;
	case 12:		/* PAND POR PANDN PCMPEQW/D PADDD PSUB* ... */
		sse_rr(g, 0x66, sse_intop2[rnd(g, 10)], x, y);
		break;
	case 13:		/* SUBSD MULSD DIVSD ADDSS MOVSD MOVSS XORP* */
		i = (int)rnd(g, 8);
		sse_rr(g, sse_fpop2[i][0], sse_fpop2[i][1], x, y);
		break;
	case 14:		/* MOVDQA MOVAPS PXOR PCMPEQB PAND xmm, m128 */
		i = (int)rnd(g, 5);
		sse_m_aligned(g, sse_al16[i][0], sse_al16[i][1], x);
		break;
	case 15:				/* MOVDQA, MOVAPS m128, xmm */
		sse_m_aligned(g, dbl ? 0x66 : 0, dbl ? 0x7f : 0x29, x);
		break;
	case 16:		/* the store forms between registers */
		i = (int)rnd(g, 4);
		sse_rr(g, sse_st_rr[i][0], sse_st_rr[i][1], y, x);
		break;
	case 17:		/* CVTSI2SD xmm, r32; CVTTSD2SI r32, xmm */
		if (dbl)
			sse_rr(g, 0xf2, 0x2a, x, pick_any(g));
		else
			sse_rr(g, 0xf2, 0x2c, pick_w(g), x);
		break;
	case 18:		/* PEXTRW r32, xmm, imm; PINSRW xmm, r32, imm */
		if (dbl)
			sse_rr(g, 0x66, 0xc5, pick_w(g), x);
		else
			sse_rr(g, 0x66, 0xc4, x, pick_any(g));
		b8(g, rnd(g, 256));
		break;
	case 19:
		gen_ldmxcsr(g);
		break;
	case 0:						/* MOVD xmm, r32 */
		sse_rr(g, 0x66, 0x6e, x, pick_any(g));
		break;
	case 1:						/* MOVD r32, xmm */
		sse_rr(g, 0x66, 0x7e, x, pick_w(g));
		break;
	case 2:					/* PMOVMSKB r32, xmm */
		sse_rr(g, 0x66, 0xd7, pick_w(g), x);
		break;
	case 3:				/* MOVDQU, MOVUPS, MOVUPD xmm, m */
		sse_m(g, sse_ld16[i][0], sse_ld16[i][1], x, false, 16);
		break;
	case 4:
		sse_m(g, sse_st16[i][0], sse_st16[i][1], x, true, 16);
		break;
	case 5:					/* MOVSD, MOVQ xmm, m64 */
		sse_m(g, dbl ? 0xf2 : 0xf3, dbl ? 0x10 : 0x7e, x, false, 8);
		break;
	case 6:					/* MOVSD, MOVQ m64, xmm */
		sse_m(g, dbl ? 0xf2 : 0x66, dbl ? 0x11 : 0xd6, x, true, 8);
		break;
	case 7:		/* PXOR PADDQ PCMPEQB PUNPCKLBW PADDB PSUBD */
		sse_rr(g, 0x66, sse_intop[rnd(g, 6)], x, y);
		break;
	case 8:				/* ADDSD MULPD SUBPS DIVSS */
		i = (int)rnd(g, 4);
		sse_rr(g, sse_fpop[i][0], sse_fpop[i][1], x, y);
		break;
	case 9:			/* ADDSD, MULSS xmm, m64/m32: no alignment */
		sse_m(g, dbl ? 0xf2 : 0xf3, dbl ? 0x58 : 0x59, x, false,
		      dbl ? 8 : 4);
		break;
	case 10:				/* MOVAPS, MOVDQA xmm, xmm */
		sse_rr(g, dbl ? 0 : 0x66, dbl ? 0x28 : 0x6f, x, y);
		break;
	default:				/* MOVD xmm, m32; m32, xmm */
		sse_m(g, 0x66, dbl ? 0x6e : 0x7e, x, !dbl, 4);
		break;
	}
}

static void gen_simple(struct gen *g)
{
	u32 k = rnd(g, 100);
	struct ea m;
	int r;

	if (k < 10) {
		r = pick_w(g);
		if (chance(g, 50)) {
			int src = pick_any(g);

			if (chance(g, 50)) {
				b8(g, 0x89);
				modrm(g, 3, src, r);
			} else {
				b8(g, 0x8b);
				modrm(g, 3, r, src);
			}
		} else if (chance(g, 70)) {
			b8(g, 0xb8 | r);
			b32(g, rnd_imm(g));
		} else {
			b8(g, 0xc7);
			modrm(g, 3, 0, r);
			b32(g, rnd_imm(g));
		}
	} else if (k < 28) {
		gen_alu_rr(g, (int)rnd(g, 8));
	} else if (k < 38) {
		gen_alu_ri(g, (int)rnd(g, 8));
	} else if (k < 43) {
		r = pick_any(g);
		if (chance(g, 30)) {	/* a byte's or a word's: its SF */
			if (chance(g, 30))
				b8(g, 0x66);
			b8(g, chance(g, 50) ? 0x84 : 0x85);
			modrm(g, 3, pick_any(g), r);
		} else if (chance(g, 60)) {
			b8(g, 0x85);
			modrm(g, 3, pick_any(g), r);
		} else if (r == R_EAX && chance(g, 50)) {
			b8(g, 0xa9);
			b32(g, rnd_imm(g));
		} else {
			b8(g, 0xf7);
			modrm(g, 3, 0, r);
			b32(g, rnd_imm(g));
		}
	} else if (k < 49) {
		b8(g, (chance(g, 50) ? 0x40 : 0x48) | pick_w(g));
	} else if (k < 56) {
		gen_shift_ri(g);
	} else if (k < 59) {
		gen_ea_any(g, &m);
		m.seg = -1;
		op1_mem(g, 0x8d, pick_w(g), &m);
	} else if (k < 66) {
		gen_reg_misc(g);
	} else if (k < 72) {
		gen_slow(g);
	} else if (k < 80) {
		if (g->in_fn)
			gen_alu_rr(g, (int)rnd(g, 8));
		else if (chance(g, 30))
			gen_frame(g);
		else if (chance(g, 30))
			gen_walk(g);
		else
			gen_stack(g);
	} else if (k < 82) {	/* ESI stays an index of 0..63 */
		if (chance(g, 50)) {
			b8(g, 0xbe);
			b32(g, rnd(g, 64));
		} else {
			b8(g, 0x83);
			modrm(g, 3, 4, R_ESI);
			b8(g, rnd(g, 64));
		}
	} else if (k < 86) {
		gen_x87(g);
	} else if (k < 90) {
		gen_sse(g);
	} else if (k < 96) {
		gen_mem(g);
	} else {
		gen_deferred(g);
	}
}

/*
 * A form whose flags only a fault could see before the next form sets
 * them all: INC, DEC or the ALU on a register (from memory too), loads
 * and NOTs (of its own registers too), then a compare with memory or of
 * registers.  The translator makes such flags only on its cold paths, and
 * a fault on a lazy page (whose handler hashes the flags it saw) or MMIO
 * takes one.
 */
static void gen_deferred(struct gen *g)
{
	int r = pick_w(g), i, n = (int)rnd(g, 3);
	struct ea m;

	switch (rnd(g, 5)) {
	case 0:
		b8(g, (chance(g, 50) ? 0x40 : 0x48) | r);
		break;
	case 1:
		gen_alu_rr(g, (int)rnd(g, 7));
		break;
	case 2:					/* op r, [m] */
		gen_ea(g, &m, 4, false);
		op1_mem(g, (u8)((int)rnd(g, 7) << 3 | 3), r, &m);
		break;
	default:
		gen_alu_ri(g, (int)rnd(g, 7));
		break;
	}
	for (i = 0; i < n; i++) {
		if (chance(g, 20)) {				/* not r */
			b8(g, 0xf7);
			modrm(g, 3, 2, pick_w(g));
			continue;
		}
		gen_ea(g, &m, 4, false);
		op1_mem(g, 0x8b, pick_w(g), &m);
	}
	if (chance(g, 30)) {		/* a setter without memory */
		b8(g, chance(g, 50) ? 0x39 : 0x29);
		modrm(g, 3, pick_any(g), pick_w(g));
		return;
	}
	gen_ea(g, &m, 4, false);
	if (chance(g, 50)) {				/* cmp [m], imm8 */
		op1_mem(g, 0x83, 7, &m);
		b8(g, rnd(g, 256));
	} else {				/* cmp r, [m] or test */
		op1_mem(g, chance(g, 70) ? 0x3b : 0x85, pick_any(g), &m);
	}
}

/* --- Control --- */

/* Something that sets the flags a Jcc then tests. */
static void gen_flag_setter(struct gen *g)
{
	static const int ops[4] = { 0, 4, 5, 7 };	/* ADD AND SUB CMP */
	int op = ops[rnd(g, 4)];

	switch (rnd(g, 7)) {
	case 4:		/* op r8, r8 or imm8 */
		if (chance(g, 50)) {
			b8(g, (u32)(op << 3));
			modrm(g, 3, pick_any(g), pick_w8(g));
		} else {
			b8(g, 0x80);
			modrm(g, 3, op, pick_w8(g));
			b8(g, rnd(g, 256));
		}
		break;
	case 5:		/* op r16, r16 */
		b8(g, 0x66);
		b8(g, (u32)(op << 3 | 1));
		modrm(g, 3, pick_any(g), pick_w(g));
		break;
	case 0:
		gen_alu_rr(g, 7);
		break;
	case 1:
		gen_alu_ri(g, 7);
		break;
	case 2:
		b8(g, 0x85);
		modrm(g, 3, pick_any(g), pick_any(g));
		break;
	case 3:
		gen_alu_rr(g, chance(g, 50) ? 0 : 5);
		break;
	default:
		gen_simple(g);
	}
}

static void gen_items(struct gen *g, u32 n);

/* The rel8 of a short jump at at, to here; unusable if out of reach. */
static void patch8(struct gen *g, u32 at)
{
	u32 dist = g->b->n - (at + 1);

	if (dist > 127)
		g->b->n = g->b->cap + 1;	/* the program is dropped */
	else if (at < g->b->cap)
		g->b->code[at] = (u8)dist;
}

/* Jcc or JMP forward over a few items; short (over simple ones only, so
 * that rel8 reaches) or near. */
static void gen_forward(struct gen *g, bool jcc)
{
	bool near = chance(g, 30);
	int depth = g->depth;
	u32 at;

	if (jcc && chance(g, 60))
		gen_flag_setter(g);
	if (jcc) {
		u32 cc = rnd(g, 16);

		if (near) {
			b8(g, 0x0f);
			b8(g, 0x80 | cc);
		} else {
			b8(g, 0x70 | cc);
		}
	} else {
		b8(g, near ? 0xe9 : 0xeb);
	}
	at = g->b->n;
	if (near)
		b32(g, 0);
	else
		b8(g, 0);
	g->depth = near ? depth + 1 : 2;
	gen_items(g, 1 + rnd(g, 5));
	g->depth = depth;
	if (near)
		patch32(g->b, at, g->b->n - (at + 4));
	else
		patch8(g, at);
}

/* The end of a counted loop: ECX down by one, back while not zero. */
static void gen_loop_end(struct gen *g, u32 label)
{
	s32 rel;

	switch (rnd(g, 6)) {
	case 0:
		b8(g, 0x49);			/* DEC ECX */
		break;
	case 1:
		b8(g, 0x83);			/* SUB ECX, 1 */
		modrm(g, 3, 5, R_ECX);
		b8(g, 1);
		break;
	case 2:
		b8(g, 0x83);			/* ADD ECX, -1 */
		modrm(g, 3, 0, R_ECX);
		b8(g, 0xff);
		break;
	case 3:
		b8(g, 0x49);			/* DEC; TEST ECX, ECX */
		b8(g, 0x85);
		modrm(g, 3, R_ECX, R_ECX);
		break;
	case 4:
		b8(g, 0x49);			/* DEC; CMP ECX, 0 */
		b8(g, 0x83);
		modrm(g, 3, 7, R_ECX);
		b8(g, 0);
		break;
	default:			/* LOOP: no fast handler */
		rel = (s32)(label - (here(g) + 2));
		if (rel >= -128) {
			b8(g, 0xe2);
			b8(g, (u32)rel);
			return;
		}
		b8(g, 0x49);
	}
	rel = (s32)(label - (here(g) + 2));
	if (rel >= -128 && chance(g, 70)) {
		b8(g, 0x75);
		b8(g, (u32)rel);
	} else {
		b8(g, 0x0f);
		b8(g, 0x85);
		b32(g, (u32)(s32)(label - (here(g) + 4)));
	}
}

/*
 * A loop over an array: [EDI + d] forms before it, then on each pass
 * more of them and EDI moved on, and EDI put back after.  A jump back
 * within a block (jit.c's loop heads) finds EDI moved since the pass
 * before: a window that the accesses before the loop took must not serve
 * the pass after.
 */
static void gen_loop_walk(struct gen *g, u32 n)
{
	struct ea m = { .base = R_EDI, .index = -1, .seg = -1 };
	s32 by = chance(g, 50) ? 4 : -4;
	u32 label, k;

	for (k = 1 + rnd(g, 2); k > 0; k--) {
		m.disp = 4 * rnd(g, 12);
		gen_mem_op(g, &m);
	}
	label = here(g);
	for (k = 1 + rnd(g, 3); k > 0; k--) {
		m.disp = 4 * rnd(g, 12);
		gen_mem_op(g, &m);
	}
	b8(g, 0x83);					/* add edi, by */
	modrm(g, 3, 0, R_EDI);
	b8(g, (u32)by & 0xff);
	gen_loop_end(g, label);
	b8(g, 0x81);					/* add edi, -moved */
	modrm(g, 3, 0, R_EDI);
	b32(g, (u32)(-by * (s32)n));
}

static void gen_loop(struct gen *g)
{
	u8 saved = g->wmask;
	u32 label, n = 1 + rnd(g, 6);

	b8(g, 0xb9);				/* MOV ECX, n */
	b32(g, n);
	g->wmask &= (u8)~(1u << R_ECX);
	if (chance(g, 30)) {
		gen_loop_walk(g, n);
		g->wmask = saved;
		return;
	}
	label = here(g);
	g->depth++;
	gen_items(g, 1 + rnd(g, 8));
	g->depth--;
	gen_loop_end(g, label);
	g->wmask = saved;
}

/*
 * The operand of an indirect JMP or CALL (FF /4, /2) and where its
 * target goes once known (ind_target()): EDX, set by a MOV; a dword
 * that a MOV [m], imm32 stores first, anywhere gen_ea() goes but MMIO;
 * or one put in the lazy pages' PRESET area before the program runs, so
 * that the JMP or CALL is the first to read there (#PF, with paging).
 */
struct ind {
	bool reg;
	struct ea m;
	u32 at;		/* the imm32 to patch, or ~0u */
	int preset;	/* the p->preset[] to set, or -1 */
};

static bool ind_operand(struct gen *g, struct ind *t)
{
	struct prog *p = g->p;
	u32 k = rnd(g, 3), lin;

	t->reg = false;
	t->at = ~0u;
	t->preset = -1;
	if (k == 0) {
		if (!(g->wmask & (1u << R_EDX)))
			return false;
		t->reg = true;
		b8(g, 0xba);				/* MOV EDX, target */
		t->at = g->b->n;
		b32(g, 0);
		return true;
	}
	if (k == 1 || p->npreset >= MAX_PRESET) {
		g->no_mmio = true;
		gen_ea(g, &t->m, 4, true);
		g->no_mmio = false;
		op1_mem(g, 0xc7, 0, &t->m);		/* MOV [m], target */
		t->at = g->b->n;
		b32(g, 0);
		return true;
	}
	lin = PRESET + 8 * p->npreset + (chance(g, 30) ? 1 + rnd(g, 3) : 0);
	t->m.seg = -1;
	ea_exact(g, &t->m, lin);
	t->preset = (int)p->npreset;
	p->preset_at[p->npreset++] = lin;
	return true;
}

/* FF /digit through the operand. */
static void ind_insn(struct gen *g, const struct ind *t, int digit)
{
	if (t->reg) {
		b8(g, 0xff);
		modrm(g, 3, digit, R_EDX);
	} else {
		op1_mem(g, 0xff, digit, &t->m);
	}
}

static void ind_target(struct gen *g, const struct ind *t, u32 target)
{
	if (t->at != ~0u)
		patch32(g->b, t->at, target);
	if (t->preset >= 0)
		g->p->preset[t->preset] = target;
}

/*
 * CALL a function in the fn area: directly, or indirectly (ind_operand(),
 * or PUSH f; CALL [ESP], read before the CALL's push, whose slot the RET
 * 4 then drops); RET or RET 4 after a pushed argument.
 */
/*
 * A call of a PIC thunk, MOV r, [ESP]; RET, as i686 code makes at the
 * start of its functions (the translator runs it in line: thunk_inline()),
 * and the result used as an address would be, to add.  ESP lies near a
 * page's end in half the programs, so the push may cross it.
 */
static void gen_thunk(struct gen *g)
{
	struct buf *main = g->b, *fn = &g->p->fn;
	int r = pick_w(g);
	u32 target;

	if (!room(g, 20) || fn->n + 8 > fn->cap || r == R_ESP || g->in_fn)
		return;
	target = fn->addr + fn->n;
	b8(g, 0xe8);
	b32(g, target - (here(g) + 4));
	g->b = fn;
	b8(g, 0x8b);				/* mov r, [esp]; ret */
	b8(g, (u8)(0x04 | r << 3));
	b8(g, 0x24);
	b8(g, 0xc3);
	g->b = main;
	if (chance(g, 50)) {				/* add r, imm */
		b8(g, 0x81);
		modrm(g, 3, 0, r);
		b32(g, rnd_imm(g));
	}
}

static void gen_call(struct gen *g, bool indirect)
{
	struct buf *main = g->b, *fn = &g->p->fn;
	bool arg = !g->in_fn && chance(g, 30);
	bool was_fn = g->in_fn, at_esp = false;
	struct ind t;
	u32 target;

	if (!room(g, 40) || fn->n + 64 > fn->cap)
		return;
	if (arg) {
		b8(g, 0x6a);
		b8(g, rnd(g, 256));
	}
	target = fn->addr + fn->n;
	if (indirect && !arg && chance(g, 25)) {
		b8(g, 0x68);				/* PUSH f */
		b32(g, target);
		b8(g, 0xff);				/* CALL [ESP] */
		modrm(g, 0, 2, 4);
		b8(g, 0x24);
		at_esp = true;
	} else if (indirect && ind_operand(g, &t)) {
		ind_target(g, &t, target);
		ind_insn(g, &t, 2);
	} else {
		b8(g, 0xe8);
		b32(g, target - (here(g) + 4));
	}
	g->b = fn;
	g->in_fn = true;
	g->depth++;
	gen_items(g, 1 + rnd(g, 6));
	g->depth--;
	if (arg || at_esp) {
		b8(g, 0xc2);
		b16(g, 4);
	} else {
		b8(g, 0xc3);
	}
	g->in_fn = was_fn;
	g->b = main;
}

/* JMP r/m32 (ind_operand()) forward over a few items. */
static void gen_jmp_indirect(struct gen *g)
{
	struct ind t;

	if (!ind_operand(g, &t))
		return;
	ind_insn(g, &t, 4);
	g->depth++;
	gen_items(g, 1 + rnd(g, 3));
	g->depth--;
	ind_target(g, &t, here(g));
}

/*
 * Four bytes of whole instructions that write only registers the code may
 * write other than ECX (and EAX: the loop loads the next value there),
 * fault never and fall through: what a self-modifying loop stores over
 * its site.
 */
static u32 site_bytes(struct gen *g)
{
	static const int regs[2] = { R_EBX, R_EDX };
	int r1 = regs[rnd(g, 2)], r2 = regs[rnd(g, 2)], s = pick_any(g);
	u8 b[4] = { 0x90, 0x90, 0x90, 0x90 };
	u32 v;

	switch (rnd(g, 10)) {
	case 0:
		b[0] = (u8)(rnd(g, 8) << 3 | 1);
		b[1] = (u8)(0xc0 | s << 3 | r1);
		b[2] = (u8)(rnd(g, 8) << 3 | 3);
		b[3] = (u8)(0xc0 | r2 << 3 | pick_any(g));
		break;
	case 1:
		b[0] = 0x83;
		b[1] = (u8)(0xc0 | rnd(g, 8) << 3 | r1);
		b[2] = (u8)rnd(g, 256);
		break;
	case 2:		/* CMC, CLC or STC; ADC or SBB */
		b[0] = (u8[]){ 0xf5, 0xf8, 0xf9 }[rnd(g, 3)];
		b[1] = (u8)(chance(g, 50) ? 0x11 : 0x19);
		b[2] = (u8)(0xc0 | s << 3 | r1);
		break;
	case 3:
		b[0] = 0xc1;
		b[1] = (u8)(0xc0 | shift_op(g) << 3 | r1);
		b[2] = (u8)rnd(g, 32);
		b[3] = (u8)(0x40 | 8 * rnd(g, 2) | r2);
		break;
	case 4:
		b[0] = 0x8d;				/* LEA r, [esp+d8] */
		b[1] = (u8)(0x44 | r1 << 3);
		b[2] = 0x24;
		b[3] = (u8)rnd(g, 256);
		break;
	case 5:
		b[0] = 0x0f;
		b[1] = 0xaf;
		b[2] = (u8)(0xc0 | r1 << 3 | s);
		break;
	case 6:
		b[0] = 0xd1;
		b[1] = (u8)(0xc0 | shift_op(g) << 3 | r1);
		b[2] = 0xd1;
		b[3] = (u8)(0xc0 | shift_op(g) << 3 | r2);
		break;
	case 7:
		b[0] = 0x66;
		b[1] = (u8)(rnd(g, 8) << 3 | 1);
		b[2] = (u8)(0xc0 | s << 3 | r1);
		break;
	case 8:
		b[0] = 0x9c;				/* PUSHF; POP r */
		b[1] = (u8)(0x58 | r1);
		break;
	default:	/* DEC r; INC r; TEST r, r */
		b[0] = (u8)(0x48 | r1);
		b[1] = (u8)(0x40 | r2);
		b[2] = 0x85;
		b[3] = (u8)(0xc0 | r1 << 3 | r2);
	}
	memcpy(&v, b, 4);
	return v;
}

/*
 * A loop that rewrites an instruction of its own on every pass, with a
 * value from a table indexed by ECX.  The site lies after the back edge
 * (seen when its block is entered again), after a JMP or in a called
 * function (a later block), or a few straight instructions after the
 * store, in the same block as it: the block must leave after the store
 * and run the new bytes, as a real CPU does.  With paging the store may
 * go through CODE_ALIAS, another linear address of the same page.
 */
static void gen_smc(struct gen *g)
{
	struct prog *p = g->p;
	u8 saved = g->wmask;
	u32 n = 2 + rnd(g, 5), label, tab, site = 0, i, at = 0, at_ld = 0;
	int how = (int)rnd(g, 4);
	bool via_moffs = chance(g, 30);
	bool via_alias = p->paging && chance(g, 40);

	if (p->ntab + 8 > MAX_TAB || !(g->wmask & 1) || g->in_fn)
		return;
	tab = TABLE + 4 * p->ntab;
	b8(g, 0xb9);
	b32(g, n);
	label = here(g);
	g->wmask &= (u8)~(1u << R_ECX | 1u << R_EAX);
	g->depth++;
	if (how == 0) {			/* site; items; store; back edge */
		gen_items(g, rnd(g, 3));
		site = here(g);
		b32(g, site_bytes(g));
		gen_items(g, rnd(g, 3));
	}
	/* MOV EAX, [tab + ECX*4 - 4]; MOV [site], EAX */
	b8(g, 0x8b);
	modrm(g, 0, R_EAX, 4);
	b8(g, 2 << 6 | R_ECX << 3 | 5);
	b32(g, tab - 4 - p->seg_base[S_DS]);
	/* CMP [site], EAX first, sometimes: the load fills a TLB entry for
	 * the page after its code was translated, which must still not let
	 * the store through unseen. */
	if (chance(g, 50)) {
		b8(g, 0x39);
		modrm(g, 0, R_EAX, 5);
		at_ld = g->b->n;
		b32(g, 0);
	}
	if (via_moffs) {
		b8(g, 0xa3);
	} else {
		b8(g, 0x89);
		modrm(g, 0, R_EAX, 5);
	}
	at = g->b->n;
	b32(g, 0);
	if (how == 1) {			/* store; JMP; site */
		u32 jat;

		b8(g, 0xeb);
		jat = g->b->n;
		b8(g, 0);
		if (chance(g, 50))
			gen_simple(g);		/* never runs */
		patch8(g, jat);
		site = here(g);
		b32(g, site_bytes(g));
		gen_items(g, rnd(g, 3));
	} else if (how == 2) {	/* store; CALL f, where f has the site */
		struct buf *main = g->b, *fn = &p->fn;

		if (fn->n + 64 > fn->cap) {
			g->b->n = g->b->cap + 1;
		} else {
			b8(g, 0xe8);
			b32(g, fn->addr + fn->n - (here(g) + 4));
			g->b = fn;
			g->in_fn = true;
			gen_items(g, rnd(g, 3));
			site = here(g);
			b32(g, site_bytes(g));
			gen_items(g, rnd(g, 3));
			b8(g, 0xc3);
			g->in_fn = false;
			g->b = main;
		}
	} else if (how == 3) {		/* store; straight code; site */
		for (i = rnd(g, 3); i; i--)
			gen_simple(g);
		site = here(g);
		b32(g, site_bytes(g));
	}
	if (via_alias)
		site = CODE_ALIAS + (site - CODE);
	patch32(g->b, at, site - p->seg_base[S_DS]);
	if (at_ld)
		patch32(g->b, at_ld, site - p->seg_base[S_DS]);
	for (i = 0; i < n; i++) {
		u32 v = site_bytes(g);

		memcpy(p->table + 4 * (p->ntab + i), &v, 4);
	}
	p->ntab += n;
	g->depth--;
	g->wmask = saved;
	gen_loop_end(g, label);
	p->smc++;
}

/*
 * A call from one site in a loop to a function whose page is written
 * once midway, beside its code (a word after its RET): the translator
 * drops the function's blocks then, and the call's link into them must
 * go on to the function made again (jit.c's forward()), every time
 * after.  ECX counts 10 down; the store is at 6.
 */
static void gen_relink(struct gen *g)
{
	struct prog *p = g->p;
	struct buf *main = g->b, *fn = &p->fn;
	u8 saved = g->wmask;
	u32 f, slot, label, jat;

	if (g->in_fn || fn->n + 64 > fn->cap)
		return;
	g->wmask &= (u8)~(1u << R_ECX);
	g->b = fn;
	g->in_fn = true;
	f = here(g);
	gen_items(g, rnd(g, 3));
	b8(g, 0xc3);
	slot = here(g);
	b32(g, 0);
	g->in_fn = false;
	g->b = main;
	b8(g, 0xb9);					/* MOV ECX, 10 */
	b32(g, 10);
	label = here(g);
	g->depth++;
	b8(g, 0xe8);					/* CALL f */
	b32(g, f - (here(g) + 4));
	b8(g, 0x83);					/* CMP ECX, 6 */
	modrm(g, 3, 7, R_ECX);
	b8(g, 6);
	b8(g, 0x75);					/* JNE over */
	jat = g->b->n;
	b8(g, 0);
	b8(g, 0x89);					/* MOV [slot], ECX */
	modrm(g, 0, R_ECX, 5);
	b32(g, slot - p->seg_base[S_DS]);
	patch8(g, jat);
	g->depth--;
	g->wmask = saved;
	gen_loop_end(g, label);
}

static void gen_item(struct gen *g)
{
	u32 k = rnd(g, 100);

	if (!room(g, 200))
		return;
	if (g->depth >= 2 || k < 62) {
		gen_simple(g);
	} else if (k < 74) {
		gen_forward(g, true);
	} else if (k < 77) {
		gen_forward(g, false);
	} else if (k < 84 && (g->wmask & (1u << R_ECX)) && !g->in_fn) {
		gen_loop(g);
	} else if (k < 88 && !g->in_fn) {
		gen_call(g, chance(g, 25));
	} else if (k < 90 && !g->in_fn) {
		gen_thunk(g);
	} else if (k < 93) {
		gen_jmp_indirect(g);
	} else if (g->p->want_smc && (g->wmask & (1u << R_ECX))) {
		if (chance(g, 30) && !g->in_fn)
			gen_relink(g);
		else
			gen_smc(g);
	} else {
		gen_simple(g);
	}
}

static void gen_items(struct gen *g, u32 n)
{
	while (n--)
		gen_item(g);
}

/*
 * Make program number idx of a run with seed: its set-up (paging,
 * segments, registers) and its code.  Returns false if it did not fit
 * (the caller takes the next one).
 */
bool gen_prog(struct prog *p, u64 seed)
{
	struct gen g = { .rng = seed, .p = p };
	u32 n, i;

	memset(p, 0, sizeof(*p));
	p->seed = seed;
	p->paging = chance(&g, 50);
	p->want_smc = chance(&g, 30);
	for (i = 0; i < 6; i++)
		p->seg_base[i] = 0;
	if (chance(&g, 25))
		p->seg_base[S_DS] = 0x1000;
	p->seg_base[S_FS] = 0x18000 + 4 * rnd(&g, 0x100);
	p->seg_base[S_GS] = DATA;
	for (i = 0; i < 4; i++)
		p->r[i] = rnd_imm(&g);
	p->r[R_ESI] = rnd(&g, 64);
	p->r[R_EBP] = DATA + rnd(&g, 0x2000);
	p->r[R_EDI] = DATA + 800 + rnd(&g, 0x2000 - 1600 - 512);
	/* Near a page end, sometimes misaligned: pushes cross pages. */
	p->r[R_ESP] = STACK + 0x1000 + (chance(&g, 50) ? 0 : 0x800) +
		      (chance(&g, 30) ? rnd(&g, 4) : 0) + 4 * rnd(&g, 8);
	p->eflags = (rnd(&g, 0x1000) & F_ARITH) | F_FIXED1 |
		    (chance(&g, 20) ? F_DF : 0);
	p->data_seed = rng_next(&g.rng);
	p->base = CODE + (chance(&g, 30) ? 0x1000 - 0x40 + rnd(&g, 0x40) :
			  rnd(&g, 0x1000));
	p->main.code = p->main_code;
	p->main.cap = MAIN_MAX;
	p->main.addr = p->base;
	p->fn.code = p->fn_code;
	p->fn.cap = FN_MAX;
	p->fn.addr = p->base + MAIN_MAX;
	g.wmask = 1u << R_EAX | 1u << R_ECX | 1u << R_EDX | 1u << R_EBX;
	g.b = &p->main;
	n = 2 + rnd(&g, 39);
	while (n-- && room(&g, 200))
		gen_item(&g);
	p->hlt = here(&g);
	b8(&g, 0xf4);
	return p->main.n <= p->main.cap && p->fn.n <= p->fn.cap;
}
