/*
 * The program generator of the translator's 64-bit differential test
 * (jitdiff64.c): random 64-bit code with REX prefixes, all sixteen
 * registers and the REX byte registers, every operand size, RIP-relative
 * and SIB addressing through 64-bit bases in four aliases of memory (see
 * jitdiff64.h), forward branches, counted loops, calls and returns with
 * 8-byte slots, indirect jumps and calls (through registers, memory and
 * targets put in the lazy pages' PRESET area before the run), jumps to an
 * island in another page and back, stack frames left by LEAVE and LEAVEs
 * of any RBP, string instructions, CMPXCHG8B/16B,
 * SSE2 moves and arithmetic on XMM0-15, self-modifying loops, and faults on purpose: accesses to non-canonical
 * addresses, branches to non-canonical targets (from registers and from
 * memory), LEAVE of a non-canonical RBP and divisions that
 * overflow.
 *
 * Programs must not fault except on purpose, so the generator keeps some
 * registers under its control: RSP is the stack; RBP and R13 point into
 * the data pages at exactly known values (each through an alias of its
 * own); RDI points into them within a margin (STOS moves it); RSI, R9 and
 * R12 are indexes of 0..63; the other nine take random 64-bit values.
 * A write of BPL or SIL is followed by one that puts RBP or RSI right.  A
 * loop counts in RCX, so its body may not write RCX.  A planted fault
 * first stores where to go on in GP_RESUME (through R11, which is never
 * kept), and the handler goes on there.
 */
#include <stdlib.h>
#include <string.h>

#include "jitdiff64.h"
#include "rep_range.h"
#include "sse_forms.h"

enum {
	RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI,
	R8, R9, R10, R11, R12, R13, R14, R15,
};
#define BIT(r)		(1u << (r))
#define W_ALL		(BIT(RAX) | BIT(RCX) | BIT(RDX) | BIT(RBX) | BIT(R8) | \
			 BIT(R10) | BIT(R11) | BIT(R14) | BIT(R15))
#define NOREG		(-1)
#define AH		20	/* byte registers AH..BH: 20..23, no REX */

struct gen {
	u64 rng;
	struct prog64 *p;
	struct buf64 *b;	/* where instructions go: main or fn */
	u32 wmask;		/* registers the code may write */
	bool in_fn;		/* in a called function: stack balanced */
	int depth;		/* nesting of control items */
	int a_bp, a_13, a_sp;	/* the aliases RBP, R13 and RSP point in */
};

u64 rng64(u64 *s)
{
	u64 z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static u32 rnd(struct gen *g, u32 n)
{
	return (u32)(rng64(&g->rng) % n);
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

static void spoil(struct gen *g)
{
	g->b->n = g->b->cap + 1;	/* the program is dropped */
}

static void b8(struct gen *g, u64 v)
{
	if (g->b->n < g->b->cap)
		g->b->code[g->b->n] = (u8)v;
	g->b->n++;
}

static void bn(struct gen *g, u64 v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		b8(g, v >> (8 * i));
}

static u64 here(const struct gen *g)
{
	return g->b->lin + g->b->n;
}

static void patch32(struct gen *g, u32 at, u64 v)
{
	u32 x = (u32)v;

	if (at + 4 <= g->b->cap)
		memcpy(g->b->code + at, &x, 4);
}

/* --- Values --- */

static u64 rnd_val(struct gen *g)
{
	static const u64 special[] = {
		0, 1, ~0ull, 0x8000000000000000ull, 0x7fffffffffffffffull,
		0xffffffffull, 0x80000000ull, 0x7fffffffull, 0x100000000ull,
		0xffffffff00000000ull, 0xffffffff80000000ull, 0x7f, 0x80,
		0xff, 0xffff, 0x8000, 63, 64, 31, 32,
	};
	u32 k = rnd(g, 100);

	if (k < 25)
		return special[rnd(g, sizeof(special) / sizeof(special[0]))];
	if (k < 40)
		return (u64)(s64)(s32)(rnd(g, 256) - 128);
	if (k < 55)
		return (u32)rng64(&g->rng);
	return rng64(&g->rng);
}

/* A value that is not a canonical address: bits 63..47 not all equal. */
static u64 noncanonical(struct gen *g)
{
	static const u64 nc[] = {
		0x0000800000000000ull, 0xffff7fffffffffffull,
		0x8000000000000000ull, 0x7fffffffffffffffull,
		0x00007ffffffff000ull + 0x100000000000ull,
		0x1234567812345678ull,
	};
	u64 v = rng64(&g->rng);

	if (chance(g, 50))
		return nc[rnd(g, sizeof(nc) / sizeof(nc[0]))];
	if (((v >> 47) + 1) <= 1)	/* 0 or all ones: canonical */
		v ^= 1ull << 50;
	return v;
}

/* --- Operands --- */

/* A memory operand. base, index: 0..15, NOREG, or (base) RIP. */
#define RIP 16
struct ea {
	int base, index, scale;
	s64 disp;
	u64 target;		/* RIP: the linear address meant */
	int seg;		/* S_FS, S_GS, another override, or -1 */
	bool a32;		/* 67: 32-bit addressing */
};

/*
 * One instruction: legacy prefixes, REX (W and whatever the registers
 * need), the opcode (with a register in its low bits, opreg), a ModRM
 * with reg (a register or a /digit) and either a register rm or the
 * memory operand m, then an immediate.  Byte registers (reg8, rm8) are
 * 0..15, where 4..7 are SPL..DIL and need a REX, or AH..BH, which must
 * have none: a clash spoils the program.
 */
struct enc {
	u8 pfx[2];
	int npfx;
	bool w, rex;		/* REX.W; an empty REX even if not needed */
	u8 op[3];
	int nop;
	int opreg;		/* -1: none */
	bool modrm, digit;	/* digit: reg is an opcode extension */
	int reg, rm;
	bool reg8, rm8;
	const struct ea *m;
	u64 imm;
	int nimm;
};

static u8 reg_bits(int r, bool is8, bool *need, bool *forbid)
{
	if (is8 && r >= AH) {
		*forbid = true;
		return (u8)(r - AH + 4);
	}
	if (is8 && r >= 4 && r <= 7)
		*need = true;
	return (u8)r;
}

static void emit_modrm(struct gen *g, u8 reg, const struct enc *e, u8 rm)
{
	const struct ea *m = e->m;
	u8 base = m && m->base >= 0 && m->base < RIP ? (u8)m->base : 5;
	u8 idx = m && m->index >= 0 ? (u8)m->index : 4;
	u32 at;
	int mod;

	if (!m) {
		b8(g, 0xc0 | (reg & 7) << 3 | (rm & 7));
	} else if (m->base == RIP) {
		b8(g, (reg & 7) << 3 | 5);
		at = g->b->n;
		bn(g, 0, 4);
		bn(g, e->imm, e->nimm);
		patch32(g, at, m->target - here(g));
		return;
	} else if (m->base < 0) {	/* [index*s + disp32], [disp32] */
		b8(g, (reg & 7) << 3 | 4);
		b8(g, (u32)m->scale << 6 | (idx & 7) << 3 | 5);
		bn(g, (u64)m->disp, 4);
	} else {
		if (m->disp == 0 && (base & 7) != 5 && !chance(g, 10))
			mod = 0;
		else if (m->disp >= -128 && m->disp <= 127 && !chance(g, 5))
			mod = 1;
		else
			mod = 2;
		if (m->index >= 0 || (base & 7) == 4 || chance(g, 10)) {
			b8(g, (u32)mod << 6 | (reg & 7) << 3 | 4);
			b8(g, (u32)m->scale << 6 | (idx & 7) << 3 |
			      (base & 7));
		} else {
			b8(g, (u32)mod << 6 | (reg & 7) << 3 | (base & 7));
		}
		bn(g, (u64)m->disp, mod == 1 ? 1 : mod == 2 ? 4 : 0);
	}
	bn(g, e->imm, e->nimm);
}

static void emit(struct gen *g, const struct enc *e)
{
	static const u8 seg_pfx[6] = { 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65 };
	bool need = e->w || e->rex, forbid = false;
	const struct ea *m = e->m;
	u8 reg = 0, rm = 0, b = 0, x = 0, last;
	int i;

	if (e->modrm) {
		reg = e->digit ? (u8)e->reg :
			reg_bits(e->reg, e->reg8, &need, &forbid);
		if (m) {
			b = m->base >= 0 && m->base < RIP ? (u8)m->base : 0;
			x = m->index >= 0 ? (u8)m->index : 0;
		} else {
			rm = b = reg_bits(e->rm, e->rm8, &need, &forbid);
		}
	} else if (e->opreg >= 0) {
		b = reg_bits(e->opreg, e->rm8, &need, &forbid);
	}
	need = need || reg >> 3 || x >> 3 || b >> 3;
	if (need && forbid) {
		spoil(g);
		return;
	}
	if (m && m->seg >= 0)
		b8(g, seg_pfx[m->seg]);
	if (m && m->a32)
		b8(g, 0x67);
	for (i = 0; i < e->npfx; i++)
		b8(g, e->pfx[i]);
	if (need)
		b8(g, 0x40u | e->w << 3 | (reg >> 3) << 2 | (x >> 3) << 1 |
		      b >> 3);
	for (i = 0; i + 1 < e->nop; i++)
		b8(g, e->op[i]);
	last = e->op[e->nop - 1];
	if (!e->modrm && e->opreg >= 0)
		last |= b & 7;
	b8(g, last);
	if (e->modrm)
		emit_modrm(g, reg, e, rm);
	else
		bn(g, e->imm, e->nimm);
}

/* An instruction of operand size 1, 2, 4 or 8: the 66 prefix, REX.W,
 * byte registers. */
static struct enc sized(int size, u8 op0, u8 op1, int nop)
{
	struct enc e = { .opreg = -1, .nop = nop };

	e.op[0] = op0;
	e.op[1] = op1;
	if (size == 2)
		e.pfx[e.npfx++] = 0x66;
	e.w = size == 8;
	e.reg8 = e.rm8 = size == 1;
	return e;
}

/* op reg, rm: both registers. */
static void rr(struct gen *g, int size, u8 op, int reg, int rm)
{
	struct enc e = sized(size, op, 0, 1);

	e.modrm = true;
	e.reg = reg;
	e.rm = rm;
	e.rex = size == 1 && reg < AH && rm < AH && chance(g, 15);
	emit(g, &e);
}

/* op /digit, rm register, with an immediate. */
static void dr(struct gen *g, int size, u8 op, int digit, int rm, u64 imm,
	       int nimm)
{
	struct enc e = sized(size, op, 0, 1);

	e.modrm = e.digit = true;
	e.reg = digit;
	e.rm = rm;
	e.imm = imm;
	e.nimm = nimm;
	e.rex = size == 1 && rm < AH && chance(g, 15);
	emit(g, &e);
}

/* op reg, [m] (or /digit with digit), with an immediate. */
static void rm_mem(struct gen *g, struct enc e, int reg, bool digit,
		   const struct ea *m, u64 imm, int nimm)
{
	e.modrm = true;
	e.digit = digit;
	e.reg = reg;
	e.m = m;
	e.imm = imm;
	e.nimm = nimm;
	emit(g, &e);
}

/* op+r (B8+r, 50+r...), with an immediate. */
static void oreg(struct gen *g, int size, u8 op, int r, u64 imm, int nimm)
{
	struct enc e = sized(size, op, 0, 1);

	e.opreg = r;
	e.imm = imm;
	e.nimm = nimm;
	e.rex = size == 1 && r < AH && chance(g, 15);
	emit(g, &e);
}

/* --- Registers --- */

static int pick_mask(struct gen *g, u32 mask)
{
	int r;

	if (!mask)
		return -1;
	do
		r = (int)rnd(g, 16);
	while (!(mask & BIT(r)));
	return r;
}

static int pick_w(struct gen *g)
{
	return pick_mask(g, g->wmask);
}

static int pick_any(struct gen *g)
{
	return (int)rnd(g, 16);
}

static int size_pick(struct gen *g)
{
	static const int sizes[] = { 1, 2, 4, 4, 8, 8, 8 };

	return sizes[rnd(g, sizeof(sizes) / sizeof(sizes[0]))];
}

static int imm_bytes(int size)
{
	return size == 8 ? 4 : size;
}

/*
 * A byte register to write: the low byte of a writable register, AH..BH
 * for a legacy one sometimes, or BPL, SIL, DIL, which fix_byte() then
 * puts right.
 */
static int pick_w8(struct gen *g)
{
	int r = pick_w(g);

	if (r < 4 && chance(g, 25))
		return AH + r;
	if (chance(g, 12))
		return RBP + (int)rnd(g, 3);
	return r;
}

/* A byte register to read beside with (no REX ones beside AH..BH). */
static int pick_r8(struct gen *g, int with)
{
	int r = pick_any(g);

	if (with >= AH || (with >= 0 && with < 4 && chance(g, 20)))
		return chance(g, 50) ? AH + (int)rnd(g, 4) : (int)rnd(g, 4);
	return r;
}

/* The full register a byte register is part of. */
static int full_reg(int r8)
{
	return r8 >= AH ? r8 - AH : r8;
}

/* After a write of byte register r: RSI back to an index, RBP back to
 * its value (RDI moves within its margin). */
static void fix_byte(struct gen *g, int r)
{
	if (r == RSI)
		dr(g, 4, 0x83, 4, RSI, 63, 1);		/* and esi, 63 */
	else if (r == RBP)
		oreg(g, 1, 0xb0, RBP, g->p->r[RBP] & 0xff, 1);
}

/* --- Memory operands --- */

/*
 * The operand at exactly physical address pa, through one of the ways
 * that reach it: RBP or R13 plus a displacement, RIP-relative, an
 * absolute disp32 (aliases 0 and 2: it is sign-extended), or FS or GS
 * with an absolute disp32.
 */
static void ea_exact(struct gen *g, struct ea *m, u32 pa)
{
	const struct prog64 *p = g->p;
	u32 k = rnd(g, 100);

	m->index = NOREG;
	m->scale = 0;
	m->seg = -1;
	m->a32 = false;
	if (k < 25) {
		m->base = RBP;
		m->disp = (s64)(alias_lin(g->a_bp, pa) - p->r[RBP]);
	} else if (k < 40) {
		m->base = R13;
		m->disp = (s64)(alias_lin(g->a_13, pa) - p->r[R13]);
	} else if (k < 65) {
		m->base = RIP;
		m->target = alias_lin(p->code_alias, pa);
	} else if (k < 82) {
		m->base = NOREG;
		m->disp = (s32)alias_lin(chance(g, 50) ? 0 : 2, pa);
		if (chance(g, 10))
			m->seg = (int)rnd(g, 4);	/* ignored in 64-bit */
	} else {
		bool fs = chance(g, 50);
		u64 sb = fs ? p->fs_base : p->gs_base;

		m->seg = fs ? S_FS : S_GS;
		m->base = NOREG;
		m->disp = (s64)pa - (s64)(sb & 0x1fffff);
	}
}

/*
 * A memory operand of size bytes (writable if write): in the data pages,
 * at a page end, in a lazy page, MMIO, on the stack, or a base plus an
 * index register.
 */
static void gen_ea(struct gen *g, struct ea *m, u32 size, bool write)
{
	static const int idx[3] = { RSI, R9, R12 };
	const struct prog64 *p = g->p;
	u32 k = rnd(g, 100), pa, lo, hi;

	if (k < 35) {
		ea_exact(g, m, DATA + rnd(g, 0x2000 - size + 1));
	} else if (k < 47) {	/* the last bytes of a page */
		pa = (chance(g, 50) || !p->lazy ? DATA + 0x1000 :
		      DATA + 0x2000) - size + rnd(g, size);
		ea_exact(g, m, pa);
	} else if (k < 55) {
		/* below PRESET, which only loads reach */
		ea_exact(g, m, LAZY + rnd(g, PRESET - LAZY - size + 1));
	} else if (k < 59) {
		ea_exact(g, m, MMIO_PAGE + rnd(g, 0x1000 - size + 1));
	} else if (k < 78) {	/* base + index * scale + disp */
		m->seg = -1;
		m->a32 = false;
		m->index = idx[rnd(g, 3)];
		m->scale = (int)rnd(g, 4);
		lo = DATA + 600;
		hi = DATA + 0x2000 - 600 - (63u << m->scale) - size;
		pa = lo + rnd(g, hi - lo);
		switch (rnd(g, 5)) {
		case 0:
			m->base = RBP;
			m->disp = (s64)(alias_lin(g->a_bp, pa) - p->r[RBP]);
			break;
		case 1:
			m->base = R13;
			m->disp = (s64)(alias_lin(g->a_13, pa) - p->r[R13]);
			break;
		case 2:		/* RDI: in alias 0, so 67 may truncate it */
			m->base = RDI;
			m->disp = (s64)pa - (s64)p->r[RDI];
			m->a32 = chance(g, 25);
			break;
		case 3:		/* an index as the base (R12: a SIB byte) */
			m->base = m->index == R12 ? RSI : R12;
			m->disp = (s32)alias_lin(chance(g, 50) ? 0 : 2, pa);
			break;
		default:
			m->base = NOREG;
			m->disp = (s32)alias_lin(chance(g, 50) ? 0 : 2, pa);
		}
	} else if (k < 90 && (!write || !g->in_fn)) {	/* the stack */
		m->base = RSP;
		m->index = NOREG;
		m->scale = 0;
		m->seg = -1;
		m->a32 = false;
		m->disp = chance(g, 70) ? 8 * rnd(g, 8) : rnd(g, 64);
	} else {
		ea_exact(g, m, DATA + rnd(g, 0x2000 - size + 1));
	}
}

/* Any address at all, for LEA and the long NOP that never touch it. */
static void gen_ea_any(struct gen *g, struct ea *m)
{
	m->seg = -1;
	m->a32 = chance(g, 25);
	m->base = chance(g, 10) ? NOREG : chance(g, 10) ? RIP : pick_any(g);
	if (m->base == RIP)	/* with 67: EIP-relative, 32 bits */
		m->target = here(g) + (u64)(s64)(s32)rng64(&g->rng);
	do
		m->index = chance(g, 40) ? NOREG : pick_any(g);
	while (m->index == RSP || (m->base == RIP && m->index >= 0));
	m->scale = (int)rnd(g, 4);
	m->disp = chance(g, 40) ? (s64)rnd(g, 256) - 128 : (s32)rnd_val(g);
}

/*
 * A qword of the lazy pages' PRESET area, put there before the program
 * runs, for an indirect JMP or CALL to be the first to read (a #PF when
 * the pages are lazy; through alias 3 a level up too): its operand in m,
 * and the p->preset[] that takes the target; -1 when none is left.
 */
static int preset_ea(struct gen *g, struct ea *m)
{
	struct prog64 *p = g->p;
	u32 pa;

	if (p->npreset >= MAX_PRESET)
		return -1;
	pa = PRESET + 16 * p->npreset + (chance(g, 30) ? 1 + rnd(g, 7) : 0);
	ea_exact(g, m, pa);
	p->preset_at[p->npreset] = pa;
	return (int)p->npreset++;
}

/* --- Planted faults --- */

/*
 * LEA R11, [RIP + resume]; MOV [GP_RESUME], R11 before an instruction
 * that faults or may: the handler goes on at resume, which resume_here()
 * then sets to the point reached.
 */
static u32 plant(struct gen *g)
{
	u32 at;

	bn(g, 0x1d8d4c, 3);			/* lea r11, [rip+rel32] */
	at = g->b->n;
	bn(g, 0, 4);
	bn(g, 0x251c894c, 4);			/* mov [abs32], r11 */
	bn(g, GP_RESUME, 4);
	g->p->faults++;
	return at;
}

static void resume_here(struct gen *g, u32 at)
{
	patch32(g, at, here(g) - (g->b->lin + at + 4));
}

/* MOV r, imm64 */
static void mov_imm64(struct gen *g, int r, u64 v)
{
	oreg(g, 8, 0xb8, r, v, 8);
}

static bool is_canonical(u64 v)
{
	return (v >> 47) == 0 || (v >> 47) == 0x1ffff;
}

/* A load or store at a non-canonical address: #GP, or #SS through RBP. */
static void gen_nc_access(struct gen *g)
{
	struct ea m = { .index = NOREG, .seg = -1 };
	int r = pick_w(g), t = pick_w(g), size = size_pick(g);
	int k = (int)rnd(g, 4);
	u64 v, add = k == 1 ? g->p->r[RBP] : k == 2 ? g->p->fs_base : 0;
	struct enc e;
	u32 at;

	if (r == R11 || t == R11 || r < 0)
		return;
	do
		v = noncanonical(g);
	while (is_canonical(v + add));
	if (k < 3)
		mov_imm64(g, r, v);
	at = plant(g);
	if (k == 0) {
		m.base = r;
	} else if (k == 1) {	/* SS: #SS */
		m.base = RBP;
		m.index = r;
	} else if (k == 2) {
		m.base = r;
		m.seg = S_FS;
	} else {		/* MOV rAX, moffs64 and back */
		e = sized(size, (g->wmask & BIT(RAX)) && chance(g, 50) ?
			  0xa1 : 0xa3, 0, 1);
		if (size == 1)
			e.op[0] &= (u8)~1;
		e.imm = v;
		e.nimm = 8;
		emit(g, &e);
		resume_here(g, at);
		return;
	}
	if (chance(g, 50)) {
		e = sized(size, size == 1 ? 0x8a : 0x8b, 0, 1);
		rm_mem(g, e, size == 1 ? full_reg(t) : t, false, &m, 0, 0);
	} else {
		e = sized(size, size == 1 ? 0x88 : 0x89, 0, 1);
		rm_mem(g, e, pick_any(g), false, &m, 0, 0);
	}
	resume_here(g, at);
}

/*
 * A JMP, CALL or RET to a non-canonical address: #GP at the branch, with
 * RSP as it was.  JMP and CALL take it from a register or from memory:
 * stored first, or put in PRESET before the run (a #PF first, if lazy).
 */
static void gen_nc_branch(struct gen *g)
{
	int r = pick_w(g), pre;
	u64 v = noncanonical(g);
	u32 at, k = rnd(g, 5);
	struct ea m;

	if (r == R11 || r < 0)
		return;
	if (k >= 3 && chance(g, 50) && (pre = preset_ea(g, &m)) >= 0) {
		g->p->preset[pre] = v;
	} else if (k >= 3) {
		mov_imm64(g, r, v);
		ea_exact(g, &m, DATA + rnd(g, 0x2000 - 8 + 1));
		rm_mem(g, sized(8, 0x89, 0, 1), r, false, &m, 0, 0);
	} else {
		mov_imm64(g, r, v);
	}
	at = plant(g);
	switch (k) {
	case 0:
		dr(g, 4, 0xff, 4, r, 0, 0);		/* jmp r */
		break;
	case 1:
		dr(g, 4, 0xff, 2, r, 0, 0);		/* call r */
		break;
	case 3:						/* jmp [m] */
	case 4:						/* call [m] */
		rm_mem(g, sized(4, 0xff, 0, 1), k == 3 ? 4 : 2, true, &m, 0,
		       0);
		break;
	default:			/* push r; ret; and pop r11 after */
		oreg(g, 4, 0x50, r, 0, 0);
		b8(g, 0xc3);
		resume_here(g, at);
		oreg(g, 4, 0x58, R11, 0, 0);
		return;
	}
	resume_here(g, at);
}

/*
 * Only in main code in the alias below the canonical hole: a Jcc, JMP or
 * CALL rel32 to past 0x00007fffffffffff (#GP if taken: a Jcc may not
 * be), or a RIP-relative load from there.
 */
static void gen_nc_rel(struct gen *g)
{
	u64 to = 0x0000800000000000ull + rnd(g, 0x100000);
	int k = (int)rnd(g, 4), r = pick_w(g);
	struct ea m = { .base = RIP, .index = NOREG, .seg = -1, .target = to };
	u32 at;

	if (g->p->code_alias != 1 || g->in_fn || r < 0)
		return;
	at = plant(g);
	if (k == 0) {
		b8(g, 0x0f);
		b8(g, 0x80 | rnd(g, 16));
	} else if (k == 1) {
		b8(g, 0xe9);
	} else if (k == 2) {
		b8(g, 0xe8);
	} else {
		rm_mem(g, sized(8, 0x8b, 0, 1), r, false, &m, 0, 0);
		resume_here(g, at);
		return;
	}
	bn(g, to - (here(g) + 4), 4);
	resume_here(g, at);
}

/* DIV or IDIV (F6/F7 /6 /7) of RDX:RAX, planted: it may overflow. */
static void gen_div(struct gen *g)
{
	int size = size_pick(g), digit = 6 + (int)rnd(g, 2);
	u32 at;
	struct ea m;

	if ((g->wmask & (BIT(RAX) | BIT(RDX))) != (BIT(RAX) | BIT(RDX)))
		return;
	if (chance(g, 40))
		rr(g, 4, 0x31, RDX, RDX);		/* xor edx, edx */
	else if (chance(g, 30))
		b8(g, 0x48), b8(g, 0x99);		/* cqo */
	at = plant(g);
	if (chance(g, 60)) {
		dr(g, size, size == 1 ? 0xf6 : 0xf7, digit,
		   size == 1 ? pick_r8(g, -1) : pick_any(g), 0, 0);
	} else {
		gen_ea(g, &m, (u32)size, false);
		rm_mem(g, sized(size, size == 1 ? 0xf6 : 0xf7, 0, 1), digit,
		       true, &m, 0, 0);
	}
	resume_here(g, at);
}

/* --- Register instructions --- */

/* Destination of size: a writable register (a byte one for size 1). */
static int dst_reg(struct gen *g, int size)
{
	return size == 1 ? pick_w8(g) : pick_w(g);
}

static int src_reg(struct gen *g, int size, int with)
{
	return size == 1 ? pick_r8(g, with) : pick_any(g);
}

static void gen_mov_rr(struct gen *g)
{
	int size = size_pick(g), d = dst_reg(g, size), s = src_reg(g, size, d);

	if (chance(g, 50))
		rr(g, size, size == 1 ? 0x88 : 0x89, s, d);
	else
		rr(g, size, size == 1 ? 0x8a : 0x8b, d, s);
	if (size == 1)
		fix_byte(g, d);
}

/* B0+r, B8+r (imm32 zero-extended, or imm64 with REX.W), C7 /0. */
static void gen_mov_ri(struct gen *g)
{
	int size = size_pick(g), d = dst_reg(g, size);
	u64 v = rnd_val(g);

	if (size == 8 && chance(g, 40))
		dr(g, 8, 0xc7, 0, d, v, 4);
	else if (size == 1 && chance(g, 30))
		dr(g, 1, 0xc6, 0, d, v, 1);
	else
		oreg(g, size, size == 1 ? 0xb0 : 0xb8, d, v,
		     size == 8 ? 8 : size);
	if (size == 1)
		fix_byte(g, d);
}

static void gen_alu_rr(struct gen *g, int op)
{
	int size = size_pick(g);
	int d = op == 7 ? src_reg(g, size, -1) : dst_reg(g, size);
	int s = src_reg(g, size, d);
	u8 base = (u8)(op << 3 | (size == 1 ? 0 : 1));

	if (chance(g, 50))
		rr(g, size, base, s, d);
	else
		rr(g, size, base | 2, d, s);
	if (size == 1 && op != 7)
		fix_byte(g, d);
}

static void gen_alu_ri(struct gen *g, int op)
{
	int size = size_pick(g);
	int d = op == 7 ? src_reg(g, size, -1) : dst_reg(g, size);
	u64 v = rnd_val(g);
	struct enc e;

	if (d == RAX && chance(g, 25)) {	/* 04/05 + op: rAX, imm */
		e = sized(size, (u8)(op << 3 | (size == 1 ? 4 : 5)), 0, 1);
		e.imm = v;
		e.nimm = imm_bytes(size);
		emit(g, &e);
	} else if (size == 1) {
		dr(g, 1, 0x80, op, d, v, 1);
	} else if (chance(g, 60)) {
		dr(g, size, 0x83, op, d, v, 1);
	} else {
		dr(g, size, 0x81, op, d, v, imm_bytes(size));
	}
	if (size == 1 && op != 7)
		fix_byte(g, d);
}

static void gen_test(struct gen *g)
{
	int size = size_pick(g), a = src_reg(g, size, -1);
	struct enc e;

	if (chance(g, 50)) {
		rr(g, size, size == 1 ? 0x84 : 0x85, src_reg(g, size, a), a);
	} else if (a == RAX && chance(g, 40)) {
		e = sized(size, size == 1 ? 0xa8 : 0xa9, 0, 1);
		e.imm = rnd_val(g);
		e.nimm = imm_bytes(size);
		emit(g, &e);
	} else {
		dr(g, size, size == 1 ? 0xf6 : 0xf7, 0, a, rnd_val(g),
		   imm_bytes(size));
	}
}

/* Shifts and rotates by 1, an immediate or CL, at every size. */
static void gen_shift(struct gen *g)
{
	int size = size_pick(g), d = dst_reg(g, size), op = (int)rnd(g, 8);
	u32 k = rnd(g, 3);
	u8 one = size == 1 ? 0xd0 : 0xd1;

	if (k == 0)
		dr(g, size, one, op, d, 0, 0);
	else if (k == 1)
		dr(g, size, one + 2, op, d, 0, 0);	/* by CL */
	else
		dr(g, size, size == 1 ? 0xc0 : 0xc1, op, d,
		   chance(g, 30) ? rnd(g, 256) : rnd(g, 66), 1);
	if (size == 1)
		fix_byte(g, d);
}

static void gen_incdec(struct gen *g)
{
	int size = size_pick(g), d = dst_reg(g, size);

	dr(g, size, size == 1 ? 0xfe : 0xff, (int)rnd(g, 2), d, 0, 0);
	if (size == 1)
		fix_byte(g, d);
}

static void gen_lea(struct gen *g)
{
	static const int sizes[] = { 2, 4, 8, 8 };
	struct ea m;

	gen_ea_any(g, &m);
	rm_mem(g, sized(sizes[rnd(g, 4)], 0x8d, 0, 1), pick_w(g), false, &m,
	       0, 0);
}

/* MOVZX, MOVSX (from r8, r16) and MOVSXD, into 16, 32 or 64 bits. */
static void gen_movx_r(struct gen *g)
{
	int dsize = 2 << rnd(g, 3), d = pick_w(g), s;
	struct enc e;

	if (chance(g, 25)) {				/* MOVSXD */
		e = sized(chance(g, 85) ? 8 : 4, 0x63, 0, 1);
		e.modrm = true;
		e.reg = d;
		e.rm = pick_any(g);
		emit(g, &e);
		return;
	}
	e = sized(dsize, 0x0f, (u8)(0xb6 | rnd(g, 2) | 8 * rnd(g, 2)), 2);
	e.modrm = true;
	e.reg = d;
	e.reg8 = false;
	e.rm8 = !(e.op[1] & 1);
	s = e.rm8 ? pick_r8(g, -1) : pick_any(g);
	e.rm = s;
	emit(g, &e);
}

/* Two-byte register forms: CMOVcc, SETcc, BSWAP, BT*, SHLD/SHRD,
 * IMUL, XADD, CMPXCHG, BSF/BSR. */
static void gen_0f(struct gen *g)
{
	int size = 2 << rnd(g, 3), d = pick_w(g), s = pick_any(g);
	struct enc e;

	e = sized(size, 0x0f, 0, 2);
	e.modrm = true;
	e.reg = d;
	e.rm = s;
	e.reg8 = e.rm8 = false;
	switch (rnd(g, 10)) {
	case 0:
		e.op[1] = (u8)(0x40 | rnd(g, 16));		/* CMOVcc */
		break;
	case 1:						/* SETcc */
		e.op[1] = (u8)(0x90 | rnd(g, 16));
		e.digit = true;
		e.reg = 0;
		e.rm = pick_w8(g);
		e.rm8 = true;
		e.pfx[0] = 0;
		e.npfx = 0;
		e.w = false;
		e.rex = e.rm < AH && chance(g, 15);
		emit(g, &e);
		fix_byte(g, e.rm);
		return;
	case 2:						/* BSWAP */
		e.modrm = false;
		e.op[1] = 0xc8;
		e.opreg = d;
		if (size == 2)
			e.npfx = 0;
		break;
	case 3:						/* BT* r, imm8 */
		e.op[1] = 0xba;
		e.digit = true;
		e.reg = 4 + (int)rnd(g, 4);
		e.rm = d;
		e.imm = rnd(g, 256);
		e.nimm = 1;
		break;
	case 4:						/* BT* r, r */
		e.op[1] = (u8)(0xa3 | rnd(g, 4) << 3);
		e.reg = s;
		e.rm = d;
		break;
	case 5:						/* SHLD/SHRD */
		e.op[1] = (u8)((chance(g, 50) ? 0xa4 : 0xac) | rnd(g, 2));
		e.reg = s;
		e.rm = d;
		if (!(e.op[1] & 1)) {
			e.imm = rnd(g, 70);
			e.nimm = 1;
		}
		break;
	case 6:
		e.op[1] = 0xaf;				/* IMUL r, r/m */
		break;
	case 7:						/* XADD */
		e.op[1] = 0xc1;
		e.reg = pick_w(g);
		e.rm = d;
		break;
	case 8:						/* CMPXCHG */
		if (!(g->wmask & BIT(RAX)))
			return;
		e.op[1] = 0xb1;
		e.reg = s;
		e.rm = d;
		break;
	default:					/* BSF, BSR */
		e.op[1] = chance(g, 50) ? 0xbc : 0xbd;
		if (chance(g, 30)) {	/* of 0: the destination stays */
			e.rm = pick_w(g);
			rr(g, 4, 0x31, e.rm, e.rm);
		}
	}
	emit(g, &e);
}

/* Group 3 and the one-byte rest: NOT, NEG, MUL, IMUL (one and three
 * operands), CBW/CWDE/CDQE, CWD/CDQ/CQO, XCHG, XCHG with rAX, NOP. */
static void gen_misc(struct gen *g)
{
	int size = size_pick(g), d = dst_reg(g, size), s;
	bool ad = (g->wmask & (BIT(RAX) | BIT(RDX))) ==
		  (BIT(RAX) | BIT(RDX));
	struct enc e;
	struct ea m;

	switch (rnd(g, 10)) {
	case 0:
		dr(g, size, size == 1 ? 0xf6 : 0xf7, 2 + (int)rnd(g, 2), d, 0,
		   0);
		break;
	case 1:						/* MUL, IMUL */
		if (!ad)
			return;
		dr(g, size, size == 1 ? 0xf6 : 0xf7, 4 + (int)rnd(g, 2),
		   src_reg(g, size, -1), 0, 0);
		return;
	case 2:						/* IMUL r, r/m, imm */
		if (size == 1)
			size = 8;
		d = pick_w(g);
		s = pick_any(g);
		if (chance(g, 50)) {
			e = sized(size, 0x6b, 0, 1);
			e.imm = rnd(g, 256);
			e.nimm = 1;
		} else {
			e = sized(size, 0x69, 0, 1);
			e.imm = rnd_val(g);
			e.nimm = imm_bytes(size);
		}
		e.modrm = true;
		e.reg = d;
		e.rm = s;
		emit(g, &e);
		return;
	case 3:						/* CBW..CQO */
		if (!ad || size == 1)
			return;
		e = sized(size, chance(g, 50) ? 0x98 : 0x99, 0, 1);
		emit(g, &e);
		return;
	case 4:						/* XCHG r, r */
		s = size == 1 ? pick_w8(g) : pick_w(g);
		if (size == 1 && ((s >= AH) != (d >= AH)))
			s = d;
		rr(g, size, size == 1 ? 0x86 : 0x87, s, d);
		if (size == 1)
			fix_byte(g, s);
		break;
	case 5:					/* XCHG rAX, r (90+r) */
		if (!(g->wmask & BIT(RAX)) || size == 1)
			return;
		oreg(g, size, 0x90, pick_w(g), 0, 0);
		return;
	case 6:					/* NOPs: 90, 0F 1F /0 */
		if (chance(g, 50)) {
			b8(g, 0x90);
		} else {
			gen_ea_any(g, &m);
			rm_mem(g, sized(chance(g, 50) ? 4 : 2, 0x0f, 0x1f, 2),
			       0, true, &m, 0, 0);
		}
		return;
	case 7:					/* ADC, SBB after CLC/STC/CMC */
		b8(g, (u32[]){ 0xf8, 0xf9, 0xf5 }[rnd(g, 3)]);
		gen_alu_rr(g, 2 + (int)rnd(g, 2));
		return;
	case 8:					/* LAHF, SAHF */
		if (g->wmask & BIT(RAX))
			b8(g, chance(g, 50) ? 0x9f : 0x9e);
		return;
	default:				/* PUSHF; POP r */
		if (g->in_fn)
			return;
		b8(g, 0x9c);
		oreg(g, 4, 0x58, pick_w(g), 0, 0);
		return;
	}
	if (size == 1)
		fix_byte(g, d);
}

/* The indexes: new values, or an ALU op and AND 63 after it. */
static void gen_index(struct gen *g)
{
	static const int idx[3] = { RSI, R9, R12 };
	int r = idx[rnd(g, 3)], size = size_pick(g);

	if (chance(g, 40)) {
		oreg(g, 4, 0xb8, r, rnd(g, 64), 4);
		return;
	}
	if (size == 1)
		size = 4;
	dr(g, size, chance(g, 50) ? 0x83 : 0xc1, (int)rnd(g, 8), r,
	   rnd(g, 64), 1);
	dr(g, 4, 0x83, 4, r, 63, 1);
}

/* --- Memory instructions --- */

static void gen_simple(struct gen *g);
static void patch8(struct gen *g, u32 at);

static void gen_mem(struct gen *g)
{
	int size = size_pick(g), op = (int)rnd(g, 8);
	int r = dst_reg(g, size), s = src_reg(g, size, -1);
	u8 one = size == 1 ? 0 : 1;
	struct ea m;

	switch (rnd(g, 17)) {
	case 0:
	case 1:						/* MOV r, m */
		gen_ea(g, &m, (u32)size, false);
		rm_mem(g, sized(size, 0x8a | one, 0, 1), r, false, &m, 0, 0);
		break;
	case 2:
	case 3:						/* MOV m, r */
		gen_ea(g, &m, (u32)size, true);
		rm_mem(g, sized(size, 0x88 | one, 0, 1), s, false, &m, 0, 0);
		return;
	case 4:						/* MOV m, imm */
		gen_ea(g, &m, (u32)size, true);
		rm_mem(g, sized(size, 0xc6 | one, 0, 1), 0, true, &m,
		       rnd_val(g), imm_bytes(size));
		return;
	case 5:						/* ALU r, m */
		gen_ea(g, &m, (u32)size, false);
		rm_mem(g, sized(size, (u8)(op << 3 | 2 | one), 0, 1),
		       op == 7 ? s : r, false, &m, 0, 0);
		break;
	case 6:						/* ALU m, r */
		gen_ea(g, &m, (u32)size, op != 7);
		rm_mem(g, sized(size, (u8)(op << 3 | one), 0, 1), s, false,
		       &m, 0, 0);
		return;
	case 7:						/* ALU m, imm */
		gen_ea(g, &m, (u32)size, op != 7);
		if (size > 1 && chance(g, 50))
			rm_mem(g, sized(size, 0x83, 0, 1), op, true, &m,
			       rnd(g, 256), 1);
		else
			rm_mem(g, sized(size, 0x80 | one, 0, 1), op, true, &m,
			       rnd_val(g), imm_bytes(size));
		return;
	case 8:						/* TEST m, r / imm */
		gen_ea(g, &m, (u32)size, false);
		if (chance(g, 50))
			rm_mem(g, sized(size, 0x84 | one, 0, 1), s, false, &m,
			       0, 0);
		else
			rm_mem(g, sized(size, 0xf6 | one, 0, 1), 0, true, &m,
			       rnd_val(g), imm_bytes(size));
		return;
	case 9:			/* INC, DEC, NOT, NEG, shifts of memory */
		gen_ea(g, &m, (u32)size, true);
		if (chance(g, 40))
			rm_mem(g, sized(size, 0xfe | one, 0, 1),
			       (int)rnd(g, 2), true, &m, 0, 0);
		else if (chance(g, 30))
			rm_mem(g, sized(size, 0xf6 | one, 0, 1),
			       2 + (int)rnd(g, 2), true, &m, 0, 0);
		else if (chance(g, 50))
			rm_mem(g, sized(size, 0xc0 | one, 0, 1), op, true, &m,
			       rnd(g, 70), 1);
		else
			rm_mem(g, sized(size, 0xd2 | one, 0, 1), op, true, &m,
			       0, 0);
		return;
	case 10:
	case 16: {	/* XCHG, XADD, CMPXCHG m, LOCKed sometimes;
			 * CMPXCHG often with rAX loaded from the operand
			 * first (they match: even MMIO reads the same
			 * twice), and its ZF tested by a Jcc */
		struct enc e;
		u32 at;

		gen_ea(g, &m, (u32)size, true);
		if (chance(g, 35)) {
			e = sized(size, 0x86 | one, 0, 1);
			if (chance(g, 30))
				e.pfx[e.npfx++] = 0xf0;
			rm_mem(g, e, r, false, &m, 0, 0);
		} else if (chance(g, 40)) {
			rm_mem(g, sized(size, 0x0f, 0xc0 | one, 2), r, false,
			       &m, 0, 0);
		} else if (g->wmask & BIT(RAX)) {
			if (chance(g, 50))
				rm_mem(g, sized(size, 0x8a | one, 0, 1), RAX,
				       false, &m, 0, 0);
			e = sized(size, 0x0f, 0xb0 | one, 2);
			if (chance(g, 30))
				e.pfx[e.npfx++] = 0xf0;
			rm_mem(g, e, s, false, &m, 0, 0);
			if (chance(g, 40)) {	/* jz/jnz over one */
				b8(g, 0x74 | rnd(g, 2));
				at = g->b->n;
				b8(g, 0);
				gen_simple(g);
				patch8(g, at);
			}
		}
		break;
	}
	case 11: {		/* MOVZX/MOVSX r, m8/m16; MOVSXD r, m32 */
		struct enc e;
		int d = pick_w(g);

		if (chance(g, 30)) {
			gen_ea(g, &m, 4, false);
			rm_mem(g, sized(8, 0x63, 0, 1), d, false, &m, 0, 0);
			return;
		}
		e = sized(2 << rnd(g, 3), 0x0f,
			  (u8)(0xb6 | rnd(g, 2) | 8 * rnd(g, 2)), 2);
		e.reg8 = false;
		gen_ea(g, &m, e.op[1] & 1 ? 2 : 1, false);
		rm_mem(g, e, d, false, &m, 0, 0);
		return;
	}
	case 12: {		/* CMOVcc r, m; SETcc m; BT* m, imm */
		int sz = 2 << rnd(g, 3);

		if (chance(g, 40)) {
			gen_ea(g, &m, (u32)sz, false);
			rm_mem(g, sized(sz, 0x0f, (u8)(0x40 | rnd(g, 16)), 2),
			       pick_w(g), false, &m, 0, 0);
		} else if (chance(g, 50)) {
			gen_ea(g, &m, 1, true);
			rm_mem(g, sized(1, 0x0f, (u8)(0x90 | rnd(g, 16)), 2),
			       0, true, &m, 0, 0);
		} else {
			gen_ea(g, &m, (u32)sz, true);
			rm_mem(g, sized(sz, 0x0f, 0xba, 2),
			       4 + (int)rnd(g, 4), true, &m, rnd(g, 256), 1);
		}
		return;
	}
	case 13: {		/* BT* m, r: an index as the bit offset */
		static const int idx[3] = { RSI, R9, R12 };
		int sz = 2 << rnd(g, 3);

		gen_ea(g, &m, 16, true);
		rm_mem(g, sized(sz, 0x0f, (u8)(0xa3 | rnd(g, 4) << 3), 2),
		       idx[rnd(g, 3)], false, &m, 0, 0);
		return;
	}
	case 14: {		/* CMPXCHG8B, CMPXCHG16B (aligned) */
		bool w = chance(g, 40);

		if ((g->wmask & (BIT(RAX) | BIT(RDX))) !=
		    (BIT(RAX) | BIT(RDX)))
			return;
		ea_exact(g, &m, DATA + (w ? 16 * rnd(g, 0x200) :
					8 * rnd(g, 0x400) + rnd(g, 2)));
		rm_mem(g, sized(w ? 8 : 4, 0x0f, 0xc7, 2), 1, true, &m, 0,
		       0);
		return;
	}
	default: {		/* MOV rAX, moffs64 and back, any alias */
		struct enc e;
		u32 pa = DATA + rnd(g, 0x2000 - (u32)size + 1);
		bool load = (g->wmask & BIT(RAX)) && chance(g, 50);

		e = sized(size, (u8)((load ? 0xa0 : 0xa2) | one), 0, 1);
		e.imm = alias_lin((int)rnd(g, NALIAS), pa);
		e.nimm = 8;
		emit(g, &e);
		return;
	}
	}
	if (size == 1)
		fix_byte(g, r);
}

/* PUSH and POP, 8 bytes a slot (2 with 66). */
static void gen_stack(struct gen *g)
{
	struct ea m;

	switch (rnd(g, 7)) {
	case 0:
	case 1:
		oreg(g, 4, 0x50, pick_any(g), 0, 0);
		break;
	case 2:
		if (chance(g, 50)) {
			b8(g, 0x6a);
			b8(g, rnd(g, 256));
		} else {
			b8(g, 0x68);
			bn(g, rnd_val(g), 4);
		}
		break;
	case 3:						/* PUSH m64 */
		gen_ea(g, &m, 8, false);
		rm_mem(g, sized(4, 0xff, 0, 1), 6, true, &m, 0, 0);
		break;
	case 4:						/* POP m64 */
		gen_ea(g, &m, 8, true);
		if (m.base == RSP || m.index == RSP)
			return;
		rm_mem(g, sized(4, 0x8f, 0, 1), 0, true, &m, 0, 0);
		break;
	case 5:						/* 66: 2 bytes */
		if (chance(g, 50)) {
			oreg(g, 2, 0x50, pick_any(g), 0, 0);
		} else {
			oreg(g, 2, 0x58, pick_w(g), 0, 0);
		}
		break;
	default:
		oreg(g, 4, 0x58, pick_w(g), 0, 0);
	}
}

/*
 * A string instruction: RDI (and RSI, saved on the stack around it)
 * moved to the data pages first, sometimes a REP with a small RCX, and
 * with 67 the 32-bit registers.
 */
static void gen_string(struct gen *g)
{
	static const u8 ops[] = { 0xa4, 0xa6, 0xaa, 0xac, 0xae };
	u8 op = ops[rnd(g, sizeof(ops) / sizeof(ops[0]))];
	int size = size_pick(g);
	bool rsi = op == 0xa4 || op == 0xa6 || op == 0xac;
	bool rep = (g->wmask & BIT(RCX)) && chance(g, 50);
	struct enc e;

	if (op == 0xac && !(g->wmask & BIT(RAX)))	/* LODS */
		return;
	oreg(g, 4, 0xb8, RDI, g->p->r[RDI] - 64 + 8 * rnd(g, 16), 4);
	if (rsi) {
		oreg(g, 4, 0x50, RSI, 0, 0);		/* push rsi */
		oreg(g, 4, 0xb8, RSI, DATA + 0x600 + rnd(g, 0xc00), 4);
	}
	if (rep)
		oreg(g, 4, 0xb8, RCX, rnd(g, 9), 4);
	e = sized(size, op | (size == 1 ? 0 : 1), 0, 1);
	if (rep) {
		e.pfx[e.npfx++] = chance(g, 50) ? 0xf3 : 0xf2;
	}
	if (chance(g, 20))
		b8(g, 0x67);
	emit(g, &e);
	if (rsi)
		oreg(g, 4, 0x58, RSI, 0, 0);		/* pop rsi */
}

/*
 * REP MOVS or REP STOS of 1, 2, 4 or 8 bytes, up or down, over a range
 * of the data pages (across their middle at times), a copy overlapping
 * its source now and then, and counts of 0 to a page's worth, with
 * 64-bit addresses (the data pages through any of their first three
 * aliases) or (67) 32-bit ones (through the first): RSI and RDI are
 * added into a register, then put back as they were.
 */
static void gen_rep_big(struct gen *g)
{
	static const u32 sizes[] = { 1, 2, 4, 8, 8 };
	bool movs = chance(g, 60), down = chance(g, 15), a32 = chance(g, 10);
	u32 size = sizes[rnd(g, 5)];
	struct rep_range at;
	struct enc e;
	int r;

	if (!(g->wmask & BIT(RCX)))
		return;
	at = rep_range_pick(rnd_any, g, size, down, DATA, 0x2000);
	oreg(g, 4, 0x50, RSI, 0, 0);		/* push rsi; push rdi */
	oreg(g, 4, 0x50, RDI, 0, 0);
	b8(g, down ? 0xfd : 0xfc);		/* STD or CLD */
	/* mov rsi, src; mov rdi, dst: through any alias, but the first
	 * with 32-bit addresses */
	oreg(g, 8, 0xb8, RSI, alias_lin(a32 ? 0 : (int)rnd(g, 3), at.src), 8);
	oreg(g, 8, 0xb8, RDI, alias_lin(a32 ? 0 : (int)rnd(g, 3), at.dst), 8);
	oreg(g, 4, 0xb8, RCX, at.n, 4);
	e = sized((int)size, (movs ? 0xa4 : 0xaa) | (size > 1), 0, 1);
	e.pfx[e.npfx++] = chance(g, 85) ? 0xf3 : 0xf2;
	if (a32)
		b8(g, 0x67);
	emit(g, &e);
	if (chance(g, 50))			/* CLD */
		b8(g, 0xfc);
	r = pick_w(g);		/* where RSI and RDI end shows after */
	if (r != RSI && r != RDI && r != RSP) {
		rr(g, 8, 0x01, RDI, r);		/* add r, rdi */
		rr(g, 8, 0x31, RSI, r);		/* xor r, rsi */
	}
	oreg(g, 4, 0x58, RDI, 0, 0);		/* pop rdi; pop rsi */
	oreg(g, 4, 0x58, RSI, 0, 0);
}

/* Flags: CLC, STC, CMC, CLD, STD, PUSH imm; POPF. */
static void gen_flags(struct gen *g)
{
	if (chance(g, 70) || g->in_fn) {
		b8(g, (u32[]){ 0xf8, 0xf9, 0xf5, 0xfc, 0xfd }[rnd(g, 5)]);
		return;
	}
	b8(g, 0x68);
	bn(g, (rnd(g, 0x1000) & (F_ARITH | F_DF)) | F_FIXED1, 4);
	b8(g, 0x9d);
}

/* One instruction that does not transfer control (or a planted fault). */
/* --- MMX/SSE/SSE2 (XMM registers) --- */

/* prefix 0F op /r and nimm bytes of imm: reg and rm XMM or general
 * registers, or m for rm. */
static void sse_op_n(struct gen *g, u8 pfx, bool w, u8 op, int reg, int rm,
		     const struct ea *m, u32 imm, int nimm)
{
	struct enc e = { .opreg = -1, .nop = 2 };

	if (pfx)
		e.pfx[e.npfx++] = pfx;
	e.w = w;
	e.op[0] = 0x0f;
	e.op[1] = op;
	e.modrm = true;
	e.reg = reg;
	e.rm = rm;
	e.m = m;
	e.imm = imm;
	e.nimm = nimm;
	e.rex = chance(g, 10);
	emit(g, &e);
}

static void sse_op(struct gen *g, u8 pfx, bool w, u8 op, int reg, int rm,
		   const struct ea *m)
{
	sse_op_n(g, pfx, w, op, reg, rm, m, 0, 0);
}

/* 66 0F op /r ib: PINSRW, PEXTRW. */
static void sse_op_imm(struct gen *g, u8 op, int reg, int rm,
		       const struct ea *m, u32 imm)
{
	sse_op_n(g, 0x66, false, op, reg, rm, m, imm, 1);
}

/*
 * A 16-byte operand of a form that must be aligned, at an aligned
 * address; in programs that want faults, three times in ten not, planted
 * for the #GP the handler raises.
 */
static void sse_aligned(struct gen *g, u8 pfx, u8 op, int x)
{
	u32 pa = DATA + 16 * rnd(g, 0x1ff), at = 0;
	bool mis = g->p->want_faults && chance(g, 30);
	struct ea m;

	if (mis) {
		pa += 1 + rnd(g, 15);
		at = plant(g);
	}
	ea_exact(g, &m, pa);
	sse_op(g, pfx, false, op, x, 0, &m);
	if (mis)
		resume_here(g, at);
}

/* mov dword [pa], v; ldmxcsr [pa] */
static void ldmxcsr_imm(struct gen *g, u32 pa, u32 v)
{
	struct ea m;

	ea_exact(g, &m, pa);
	rm_mem(g, sized(4, 0xc7, 0, 1), 0, true, &m, v, 4);
	ea_exact(g, &m, pa);
	rm_mem(g, sized(4, 0x0f, 0xae, 2), 2, true, &m, 0, 0);
}

/*
 * MXCSR states: other rounding modes, FTZ and DAZ, sticky flags already
 * set (the translator's inline forms run with the guest's MXCSR and must
 * leave it exact); or, for a moment, exceptions unmasked, which sends the
 * forms that could raise one to their handler: on zeros, which raise
 * nothing, or (in programs that want faults) a division by zero with
 * ZE unmasked, planted for its #XM; then every exception is masked again.
 */
static void gen_ldmxcsr(struct gen *g)
{
	u32 pa = DATA + 4 * rnd(g, 0x7ff);
	int x = (int)rnd(g, 16), y = (int)rnd(g, 16), i = (int)rnd(g, 4);

	int r = pick_w(g);
	u32 at;

	if (g->p->want_faults && r >= 0 && r != R11 && chance(g, 50)) {
		/* 1.0 / 0 with ZE unmasked: #XM, planted */
		y = (x + 1 + (int)rnd(g, 15)) & 15;
		mov_imm64(g, r, 0x3ff0000000000000ull);
		sse_op(g, 0x66, true, 0x6e, x, r, NULL);	/* movq x, r */
		ldmxcsr_imm(g, pa, 0x1d80 | rnd(g, 4) << 13);
		sse_op(g, 0x66, false, 0xef, y, y, NULL);	/* pxor y, y */
		at = plant(g);
		sse_op(g, 0xf2, false, 0x5e, x, y, NULL);	/* divsd x, y */
		resume_here(g, at);
		ldmxcsr_imm(g, pa, 0x1f80);
		return;
	}
	if (chance(g, 60)) {
		ldmxcsr_imm(g, pa, mxcsr_states[rnd(g,
						 ARRAY_SIZE(mxcsr_states))]);
		return;
	}
	ldmxcsr_imm(g, pa, (rnd(g, 0x3f) << 7 | rnd(g, 4) << 13) & 0x7f80);
	sse_op(g, 0x66, false, 0xef, x, x, NULL);	/* pxor x, x */
	sse_op(g, 0x66, false, 0xef, y, y, NULL);
	sse_op(g, mxcsr_fp[i][0], false, mxcsr_fp[i][1], x, y, NULL);
	ldmxcsr_imm(g, pa, mxcsr_states[rnd(g,
						 ARRAY_SIZE(mxcsr_states))]);
}

/*
 * CR0.TS set around an XMM form, planted for its #NM (which the inline
 * form must leave to its handler), then CLTS.
 */
static void gen_ts_plant(struct gen *g, int x, int y)
{
	struct enc e = { .opreg = -1, .nop = 2, .modrm = true,
			 .digit = true };
	int r = pick_w(g);
	u32 at;

	if (r < 0 || r == R11)
		return;
	e.op[0] = 0x0f;
	e.op[1] = 0x20;					/* mov r, cr0 */
	e.rm = r;
	emit(g, &e);
	dr(g, 8, 0x83, 1, r, 8, 1);			/* or r, TS */
	e.op[1] = 0x22;					/* mov cr0, r */
	emit(g, &e);
	at = plant(g);
	sse_op(g, 0x66, false, 0xef, x, y, NULL);	/* pxor x, y */
	resume_here(g, at);
	bn(g, 0x060f, 2);				/* clts */
}

/*
 * The forms 64-bit code uses most, as the translator runs them from
 * entries decoded once (sse.c's h_sse_x() and friends), against the
 * interpreter's fresh decode: values in and out of general registers,
 * 16-, 8- and 4-byte loads and stores anywhere gen_ea() puts them (page
 * ends, lazy pages, MMIO, the stack), integer and floating-point
 * arithmetic, the forms the translator runs inline (jit.c's emit_sse())
 * in each of its shapes, and the states that send them to their handler
 * (MXCSR, CR0.TS, a misaligned MOVDQA).
 */
static void gen_sse(struct gen *g)
{
	int x = (int)rnd(g, 16), y = (int)rnd(g, 16), i;
	bool dbl = chance(g, 50);
	struct ea m;

	static const u8 fpm64[4] = { 0x58, 0x59, 0x5c, 0x5e };
	bool w = chance(g, 50);

	switch (rnd(g, 23)) {
	case 22:	/* PSHUFD, SHUFPD: all of x made from y's lanes */
		sse_op_imm(g, dbl ? 0x70 : 0xc6, x, y, NULL, rnd(g, 256));
		break;
	case 12:		/* PAND POR PANDN PCMPEQW/D PADDD PSUB* ... */
		sse_op(g, 0x66, false, sse_intop2[rnd(g, 10)], x, y, NULL);
		break;
	case 13:		/* SUBSD MULSD DIVSD ADDSS MOVSD MOVSS XORP* */
		i = (int)rnd(g, 8);
		sse_op(g, sse_fpop2[i][0], false, sse_fpop2[i][1], x, y, NULL);
		break;
	case 14:		/* MOVDQA MOVAPS PXOR PCMPEQB PAND xmm, m128 */
		i = (int)rnd(g, 5);
		sse_aligned(g, sse_al16[i][0], sse_al16[i][1], x);
		break;
	case 15:				/* MOVDQA, MOVAPS m128, xmm */
		sse_aligned(g, dbl ? 0x66 : 0, dbl ? 0x7f : 0x29, x);
		break;
	case 16:		/* the store forms between registers */
		i = (int)rnd(g, 4);
		sse_op(g, sse_st_rr[i][0], false, sse_st_rr[i][1], y, x, NULL);
		break;
	case 17:	/* CVTSI2SD xmm, r/m; CVTTSD2SI, CVTSD2SI r, xmm/m */
		if (dbl && chance(g, 50)) {
			sse_op(g, 0xf2, w, 0x2a, x, src_reg(g, w ? 8 : 4, -1),
			       NULL);
		} else if (dbl) {
			gen_ea(g, &m, w ? 8 : 4, false);
			sse_op(g, 0xf2, w, 0x2a, x, 0, &m);
		} else if (chance(g, 50)) {
			sse_op(g, 0xf2, w, chance(g, 50) ? 0x2c : 0x2d,
			       dst_reg(g, w ? 8 : 4), y, NULL);
		} else {
			gen_ea(g, &m, 8, false);
			sse_op(g, 0xf2, w, 0x2c, dst_reg(g, w ? 8 : 4), 0,
			       &m);
		}
		break;
	case 18:		/* PEXTRW r32, xmm, imm; PINSRW xmm, r32, imm */
		if (dbl)
			sse_op_imm(g, 0xc5, dst_reg(g, 4), x, NULL,
				   rnd(g, 256));
		else
			sse_op_imm(g, 0xc4, x, src_reg(g, 4, -1), NULL,
				   rnd(g, 256));
		break;
	case 19:
		if (g->p->want_faults && chance(g, 30))
			gen_ts_plant(g, x, y);
		else
			gen_ldmxcsr(g);
		break;
	case 20:		/* MOVQ, MOVD r/m, xmm; PINSRW from memory */
		if (dbl) {
			gen_ea(g, &m, w ? 8 : 4, true);
			sse_op(g, 0x66, w, 0x7e, x, 0, &m);
		} else {
			gen_ea(g, &m, 2, false);
			sse_op_imm(g, 0xc4, x, 0, &m, rnd(g, 256));
		}
		break;
	case 21:		/* SUBSD, DIVSD, MULSD, ADDSD xmm, m64 */
		gen_ea(g, &m, 8, false);
		sse_op(g, 0xf2, false, fpm64[rnd(g, 4)], x, 0, &m);
		break;
	case 0:						/* MOVQ xmm, r64 */
		sse_op(g, 0x66, true, 0x6e, x, src_reg(g, 8, -1), NULL);
		break;
	case 1:						/* MOVQ r64, xmm */
		sse_op(g, 0x66, true, 0x7e, x, dst_reg(g, 8), NULL);
		break;
	case 2:					/* PMOVMSKB r32, xmm */
		sse_op(g, 0x66, false, 0xd7, dst_reg(g, 4), x, NULL);
		break;
	case 3:				/* MOVDQU, MOVUPS, MOVUPD xmm, m */
		i = (int)rnd(g, 3);
		gen_ea(g, &m, 16, false);
		sse_op(g, sse_ld16[i][0], false, sse_ld16[i][1], x, 0, &m);
		break;
	case 4:
		i = (int)rnd(g, 3);
		gen_ea(g, &m, 16, true);
		sse_op(g, sse_st16[i][0], false, sse_st16[i][1], x, 0, &m);
		break;
	case 5:					/* MOVSD, MOVQ xmm, m64 */
		gen_ea(g, &m, 8, false);
		sse_op(g, dbl ? 0xf2 : 0xf3, false, dbl ? 0x10 : 0x7e, x, 0,
		       &m);
		break;
	case 6:					/* MOVSD, MOVQ m64, xmm */
		gen_ea(g, &m, 8, true);
		sse_op(g, dbl ? 0xf2 : 0x66, false, dbl ? 0x11 : 0xd6, x, 0,
		       &m);
		break;
	case 7:		/* PXOR PADDQ PCMPEQB PUNPCKLBW PADDB PSUBD */
		sse_op(g, 0x66, false, sse_intop[rnd(g, 6)], x, y, NULL);
		break;
	case 8:				/* ADDSD MULPD SUBPS DIVSS */
		i = (int)rnd(g, 4);
		sse_op(g, sse_fpop[i][0], false, sse_fpop[i][1], x, y, NULL);
		break;
	case 9:			/* ADDSD, MULSS xmm, m64/m32: no alignment */
		gen_ea(g, &m, dbl ? 8 : 4, false);
		sse_op(g, dbl ? 0xf2 : 0xf3, false, dbl ? 0x58 : 0x59, x, 0,
		       &m);
		break;
	case 10:				/* MOVAPS, MOVDQA xmm, xmm */
		sse_op(g, dbl ? 0 : 0x66, false, dbl ? 0x28 : 0x6f, x, y,
		       NULL);
		break;
	default:				/* MOVD xmm, m32; m32, xmm */
		gen_ea(g, &m, 4, !dbl);
		sse_op(g, 0x66, false, dbl ? 0x6e : 0x7e, x, 0, &m);
		break;
	}
}

static void gen_simple(struct gen *g)
{
	u32 k = rnd(g, 100);

	if (k < 8)
		gen_mov_rr(g);
	else if (k < 14)
		gen_mov_ri(g);
	else if (k < 26)
		gen_alu_rr(g, (int)rnd(g, 8));
	else if (k < 34)
		gen_alu_ri(g, (int)rnd(g, 8));
	else if (k < 38)
		gen_test(g);
	else if (k < 43)
		gen_shift(g);
	else if (k < 46)
		gen_incdec(g);
	else if (k < 49)
		gen_lea(g);
	else if (k < 52)
		gen_movx_r(g);
	else if (k < 58)
		gen_0f(g);
	else if (k < 63)
		gen_misc(g);
	else if (k < 66)
		gen_index(g);
	else if (k < 72 && !g->in_fn)
		gen_stack(g);
	else if (k < 74)
		gen_flags(g);
	else if (k < 76)
		chance(g, 50) ? gen_string(g) : gen_rep_big(g);
	else if (k < 79 && g->p->want_faults)
		gen_div(g);
	else if (k < 81 && g->p->want_faults)
		gen_nc_access(g);
	else if (k < 82 && g->p->want_faults)
		gen_nc_branch(g);
	else if (k < 83 && g->p->want_faults)
		gen_nc_rel(g);
	else if (k < 88)
		gen_sse(g);
	else
		gen_mem(g);
}

/* --- Control --- */

static void gen_flag_setter(struct gen *g)
{
	switch (rnd(g, 4)) {
	case 0:
		gen_alu_rr(g, 7);
		break;
	case 1:
		gen_alu_ri(g, 7);
		break;
	case 2:
		gen_test(g);
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
		spoil(g);
	else if (at < g->b->cap)
		g->b->code[at] = (u8)dist;
}

/* Jcc or JMP forward over a few items, short or near. */
static void gen_forward(struct gen *g, bool jcc)
{
	bool near = chance(g, 30);
	int depth = g->depth;
	u32 at;

	if (jcc && chance(g, 60))
		gen_flag_setter(g);
	if (jcc && near) {
		b8(g, 0x0f);
		b8(g, 0x80 | rnd(g, 16));
	} else if (jcc) {
		b8(g, 0x70 | rnd(g, 16));
	} else {
		b8(g, near ? 0xe9 : 0xeb);
	}
	at = g->b->n;
	bn(g, 0, near ? 4 : 1);
	g->depth = near ? depth + 1 : 2;
	gen_items(g, 1 + rnd(g, 4));
	g->depth = depth;
	if (near)
		patch32(g, at, g->b->n - (at + 4));
	else
		patch8(g, at);
}

/* The end of a counted loop: RCX or ECX down by one, back if not zero. */
static void gen_loop_end(struct gen *g, u64 label)
{
	s64 rel;

	switch (rnd(g, 5)) {
	case 0:
		dr(g, chance(g, 50) ? 8 : 4, 0xff, 1, RCX, 0, 0); /* DEC */
		break;
	case 1:
		dr(g, 8, 0x83, 5, RCX, 1, 1);		/* SUB RCX, 1 */
		break;
	case 2:
		dr(g, 4, 0x83, 0, RCX, 0xff, 1);	/* ADD ECX, -1 */
		break;
	case 3:				/* DEC; TEST or CMP */
		dr(g, 8, 0xff, 1, RCX, 0, 0);
		if (chance(g, 50))
			rr(g, 8, 0x85, RCX, RCX);
		else
			dr(g, 4, 0x83, 7, RCX, 0, 1);
		break;
	default:			/* LOOP */
		rel = (s64)(label - (here(g) + 2));
		if (rel >= -128) {
			b8(g, 0xe2);
			b8(g, (u64)rel);
			return;
		}
		dr(g, 8, 0xff, 1, RCX, 0, 0);
	}
	rel = (s64)(label - (here(g) + 2));
	if (rel >= -128 && chance(g, 70)) {
		b8(g, 0x75);
		b8(g, (u64)rel);
	} else {
		b8(g, 0x0f);
		b8(g, 0x85);
		bn(g, label - (here(g) + 4), 4);
	}
}

static void gen_loop(struct gen *g)
{
	u32 saved = g->wmask;
	u64 label;
	int size = chance(g, 30) ? 8 : 4;

	oreg(g, size, 0xb8, RCX, 1 + rnd(g, 6), size);	/* mov rcx, n */
	label = here(g);
	g->wmask &= ~BIT(RCX);
	g->depth++;
	gen_items(g, 1 + rnd(g, 7));
	g->depth--;
	gen_loop_end(g, label);
	g->wmask = saved;
}

/*
 * CALL a function in the fn area: directly, through a register (in this
 * alias or another: the same code at another address) or through memory
 * (stored first, put in PRESET before the run, or pushed: CALL [RSP],
 * read before the CALL's push, whose slot RET 8 then drops); RET or RET
 * 8 after a pushed argument.
 */
static void gen_call(struct gen *g)
{
	struct buf64 *main = g->b, *fn = &g->p->fn;
	bool arg = chance(g, 25), at_rsp = false;
	u64 target;
	u32 k = rnd(g, 4);
	int a = (int)rnd(g, NALIAS), pre;
	struct ea m;

	if (!room(g, 40) || fn->n + 100 > fn->cap)
		return;
	if (arg)
		b8(g, 0x6a), b8(g, rnd(g, 256));
	target = fn->lin + fn->n;
	if (k == 3 && !arg && chance(g, 50)) {
		b8(g, 0x4c), b8(g, 0x8d), b8(g, 0x1d);	/* lea r11, [f] */
		bn(g, target - (here(g) + 4), 4);
		oreg(g, 4, 0x50, R11, 0, 0);		/* push r11 */
		b8(g, 0xff), b8(g, 0x14), b8(g, 0x24);	/* call [rsp] */
		at_rsp = true;
	} else if (k == 3 && (pre = preset_ea(g, &m)) >= 0) {
		g->p->preset[pre] = target;
		rm_mem(g, sized(4, 0xff, 0, 1), 2, true, &m, 0, 0);
	} else if (k == 1 && (g->wmask & BIT(RDX))) {
		mov_imm64(g, RDX, alias_lin(a, target -
					    alias_lin(g->p->code_alias, 0)));
		dr(g, 4, 0xff, 2, RDX, 0, 0);		/* call rdx */
	} else if (k == 2) {		/* lea r11; mov [m], r11; call [m] */
		u32 pa = DATA + 8 * rnd(g, 0x400);

		b8(g, 0x4c), b8(g, 0x8d), b8(g, 0x1d);
		bn(g, target - (here(g) + 4), 4);
		ea_exact(g, &m, pa);
		rm_mem(g, sized(8, 0x89, 0, 1), R11, false, &m, 0, 0);
		ea_exact(g, &m, pa);
		rm_mem(g, sized(4, 0xff, 0, 1), 2, true, &m, 0, 0);
	} else {
		b8(g, 0xe8);
		bn(g, target - (here(g) + 4), 4);
	}
	g->b = fn;
	g->in_fn = true;
	g->depth++;
	gen_items(g, 1 + rnd(g, 6));
	g->depth--;
	if (arg || at_rsp) {
		b8(g, 0xc2);
		bn(g, 8, 2);
	} else {
		b8(g, 0xc3);
	}
	g->in_fn = false;
	g->b = main;
}

/* MOV r, target; JMP r, or JMP [m] (stored first, or put in PRESET
 * before the run): forward over a few items. */
static void gen_jmp_indirect(struct gen *g)
{
	u32 at = 0, pa = DATA + 8 * rnd(g, 0x400);
	bool mem = chance(g, 40);
	int pre = -1;
	struct ea m;

	if (!(g->wmask & BIT(RDX)) && !mem)
		return;
	if (mem && chance(g, 40))
		pre = preset_ea(g, &m);
	if (pre >= 0) {
		rm_mem(g, sized(4, 0xff, 0, 1), 4, true, &m, 0, 0);
	} else if (mem) {
		b8(g, 0x4c), b8(g, 0x8d), b8(g, 0x1d);	/* lea r11, [] */
		at = g->b->n;
		bn(g, 0, 4);
		ea_exact(g, &m, pa);
		rm_mem(g, sized(8, 0x89, 0, 1), R11, false, &m, 0, 0);
		ea_exact(g, &m, pa);
		rm_mem(g, sized(4, 0xff, 0, 1), 4, true, &m, 0, 0);
	} else {
		b8(g, 0x48), b8(g, 0x8d), b8(g, 0x15);	/* lea rdx, [] */
		at = g->b->n;
		bn(g, 0, 4);
		dr(g, 4, 0xff, 4, RDX, 0, 0);
	}
	g->depth++;
	gen_items(g, 1 + rnd(g, 3));
	g->depth--;
	if (pre >= 0)
		g->p->preset[pre] = here(g);
	else
		patch32(g, at, here(g) - (g->b->lin + at + 4));
}

/*
 * Four bytes of whole instructions that write only RBX, RDX, R8, R10, R14
 * or R15, never fault and fall through: what a self-modifying loop
 * stores over its site.
 */
static u32 site_bytes(struct gen *g)
{
	static const int regs[] = { RBX, RDX, R8, R10, R14, R15 };
	int r1 = regs[rnd(g, 6)], r2 = regs[rnd(g, 6)], s = pick_any(g);
	u8 b[4] = { 0x90, 0x90, 0x90, 0x90 };
	u8 w = (u8)(0x48 | (r1 >> 3));
	u32 v;

	switch (rnd(g, 9)) {
	case 0:				/* op r1, s (64-bit) */
		b[0] = (u8)(w | (s >> 3) << 2);
		b[1] = (u8)(rnd(g, 8) << 3 | 1);
		b[2] = (u8)(0xc0 | (s & 7) << 3 | (r1 & 7));
		break;
	case 1:				/* op r1, imm8 */
		b[0] = w;
		b[1] = 0x83;
		b[2] = (u8)(0xc0 | rnd(g, 8) << 3 | (r1 & 7));
		b[3] = (u8)rnd(g, 256);
		break;
	case 2:				/* CMC, CLC or STC; ADC or SBB */
		b[0] = (u8[]){ 0xf5, 0xf8, 0xf9 }[rnd(g, 3)];
		b[1] = (u8)(w | (s >> 3) << 2);
		b[2] = (u8)(chance(g, 50) ? 0x11 : 0x19);
		b[3] = (u8)(0xc0 | (s & 7) << 3 | (r1 & 7));
		break;
	case 3:				/* shift r1, imm8 */
		b[0] = w;
		b[1] = 0xc1;
		b[2] = (u8)(0xc0 | rnd(g, 8) << 3 | (r1 & 7));
		b[3] = (u8)rnd(g, 64);
		break;
	case 4:				/* LEA r1, [r2 + s*k] */
		if ((r2 & 7) == 5 || s == RSP)
			break;
		b[0] = (u8)(0x48 | (r1 >> 3) << 2 | (s >> 3) << 1 | r2 >> 3);
		b[1] = 0x8d;
		b[2] = (u8)(0x04 | (r1 & 7) << 3);
		b[3] = (u8)(rnd(g, 4) << 6 | (s & 7) << 3 | (r2 & 7));
		break;
	case 5:				/* IMUL r1, s */
		b[0] = (u8)(0x48 | (r1 >> 3) << 2 | s >> 3);
		b[1] = 0x0f;
		b[2] = 0xaf;
		b[3] = (u8)(0xc0 | (r1 & 7) << 3 | (s & 7));
		break;
	case 6:				/* 32-bit op: the upper half cleared */
		b[0] = (u8)(0x40 | (s >> 3) << 2 | r1 >> 3);
		b[1] = (u8)(rnd(g, 8) << 3 | 1);
		b[2] = (u8)(0xc0 | (s & 7) << 3 | (r1 & 7));
		break;
	case 7:				/* PUSHF; POP r1 */
		b[0] = 0x9c;
		b[1] = (u8)(0x40 | r1 >> 3);
		b[2] = (u8)(0x58 | (r1 & 7));
		break;
	default:			/* 16-bit op */
		b[0] = 0x66;
		b[1] = (u8)(0x40 | (s >> 3) << 2 | r1 >> 3);
		b[2] = (u8)(rnd(g, 8) << 3 | 1);
		b[3] = (u8)(0xc0 | (s & 7) << 3 | (r1 & 7));
	}
	memcpy(&v, b, 4);
	return v;
}

/* MOV [site], EAX: RIP-relative, absolute through alias 0 or 2, or by
 * moffs64 through any alias (code seen at another address). */
static void store_site(struct gen *g, u32 *at, int *how)
{
	struct ea m = { .index = NOREG, .seg = -1 };

	*how = (int)rnd(g, 3);
	if (*how == 0) {
		m.base = RIP;
		m.target = here(g);	/* patched: disp at the end */
		rm_mem(g, sized(4, 0x89, 0, 1), RAX, false, &m, 0, 0);
		*at = g->b->n - 4;
	} else if (*how == 1) {
		m.base = NOREG;
		m.disp = 0;
		rm_mem(g, sized(4, 0x89, 0, 1), RAX, false, &m, 0, 0);
		*at = g->b->n - 4;
	} else {
		b8(g, 0xa3);
		*at = g->b->n;
		bn(g, 0, 8);
	}
}

static void patch_site(struct gen *g, struct buf64 *store_buf, u32 at,
		       int how, u64 site)
{
	struct buf64 *b = g->b;
	u64 pa = site - alias_lin(g->p->code_alias, 0);
	int a = (int)rnd(g, NALIAS);

	g->b = store_buf;
	if (how == 0) {
		patch32(g, at, site - (store_buf->lin + at + 4));
	} else if (how == 1) {
		patch32(g, at, alias_lin(chance(g, 50) ? 0 : 2, pa));
	} else {
		patch32(g, at, alias_lin(a, pa));
		patch32(g, at + 4, alias_lin(a, pa) >> 32);
	}
	g->b = b;
}

/*
 * A loop that rewrites an instruction of its own on every pass, with a
 * new value from a table indexed by RCX: in a block it runs later (a
 * JMP, a CALL or the back edge between them), or a few straight
 * instructions after the store, in the same block (which must leave
 * after the store and run the new bytes, as a real CPU does).
 */
static void gen_smc(struct gen *g)
{
	struct prog64 *p = g->p;
	struct buf64 *main = g->b, *fn = &p->fn;
	u32 saved = g->wmask, n = 2 + rnd(g, 5), tab, i, at = 0, jat;
	int kind = (int)rnd(g, 4), how = 0;
	u64 label, site = 0;
	struct ea m = { .base = NOREG, .index = RCX, .scale = 2, .seg = -1 };

	if (p->ntab + 8 > MAX_TAB || !(g->wmask & BIT(RAX)) ||
	    !(g->wmask & BIT(RCX)) || g->in_fn || fn->n + 64 > fn->cap)
		return;
	tab = TABLE + 4 * p->ntab;
	oreg(g, 4, 0xb8, RCX, n, 4);
	label = here(g);
	g->wmask &= ~(BIT(RCX) | BIT(RAX));
	g->depth++;
	if (kind == 0) {		/* site; items; store; back edge */
		gen_items(g, rnd(g, 3));
		site = here(g);
		bn(g, site_bytes(g), 4);
		gen_items(g, rnd(g, 3));
	}
	/* MOV EAX, [RCX*4 + tab - 4] */
	m.disp = (s32)alias_lin(chance(g, 50) ? 0 : 2, tab - 4);
	rm_mem(g, sized(4, 0x8b, 0, 1), RAX, false, &m, 0, 0);
	store_site(g, &at, &how);
	if (kind == 1) {		/* store; JMP; site */
		b8(g, 0xeb);
		jat = g->b->n;
		b8(g, 0);
		if (chance(g, 50))
			gen_simple(g);		/* never runs */
		patch8(g, jat);
		site = here(g);
		bn(g, site_bytes(g), 4);
		gen_items(g, rnd(g, 3));
	} else if (kind == 2) {	/* store; CALL f, where f has the site */
		b8(g, 0xe8);
		bn(g, fn->lin + fn->n - (here(g) + 4), 4);
		g->b = fn;
		g->in_fn = true;
		gen_items(g, rnd(g, 3));
		site = here(g);
		bn(g, site_bytes(g), 4);
		gen_items(g, rnd(g, 3));
		b8(g, 0xc3);
		g->in_fn = false;
		g->b = main;
	} else if (kind == 3) {		/* store; straight code; site */
		for (i = rnd(g, 3); i; i--)
			gen_simple(g);
		site = here(g);
		bn(g, site_bytes(g), 4);
	}
	patch_site(g, main, at, how, site);
	for (i = 0; i < n; i++) {
		u32 v = site_bytes(g);

		memcpy(p->table + 4 * (p->ntab + i), &v, 4);
	}
	p->ntab += n;
	g->depth--;
	g->wmask = saved & ~BIT(RAX);
	gen_loop_end(g, label);
	g->wmask = saved;
	p->smc++;
}

/*
 * JMP rel32 to an island in the fn area (another page, often), a few
 * items there, JMP rel32 back: direct jumps between pages both ways.
 */
static void gen_island(struct gen *g)
{
	struct buf64 *main = g->b, *fn = &g->p->fn;
	u64 back;

	if (fn->n + 100 > fn->cap)
		return;
	b8(g, 0xe9);
	bn(g, fn->lin + fn->n - (here(g) + 4), 4);
	back = here(g);
	g->b = fn;
	g->in_fn = true;
	g->depth++;
	gen_items(g, 1 + rnd(g, 4));
	g->depth--;
	b8(g, 0xe9);
	bn(g, back - (here(g) + 4), 4);
	g->in_fn = false;
	g->b = main;
}

/* A frame: PUSH RBP; MOV RBP, RSP; SUB RSP, n; stores and loads at
 * [RBP-8k]; LEAVE, which puts RSP and RBP back. */
static void gen_frame(struct gen *g)
{
	u32 n = 1 + rnd(g, 4), i;
	struct ea m = { .base = RBP, .index = NOREG, .seg = -1 };

	oreg(g, 4, 0x50, RBP, 0, 0);
	rr(g, 8, 0x89, RSP, RBP);
	dr(g, 8, 0x83, 5, RSP, 8 * n, 1);
	for (i = 0; i < n; i++) {
		m.disp = -8 * (s64)(1 + rnd(g, n));
		if (chance(g, 50))
			rm_mem(g, sized(8, 0x89, 0, 1), pick_any(g), false,
			       &m, 0, 0);
		else
			rm_mem(g, sized(8, 0x8b, 0, 1), pick_w(g), false, &m,
			       0, 0);
	}
	b8(g, 0xc9);
}

/*
 * LEAVE with RBP pointed for a moment at data (through any alias), across
 * a page end, into a lazy page (#PF), at MMIO or, planted, at a
 * non-canonical address (#SS), and RSP kept in a register: PUSH RBP; MOV
 * t, RSP; MOV RBP, v; LEAVE; MOV RSP, t; POP RBP.
 */
static void gen_leave(struct gen *g)
{
	int t = pick_w(g), a = (int)rnd(g, NALIAS);
	u32 k = rnd(g, 5), at = ~0u;
	u64 v;

	if (t < 0 || t == R11 || (k == 4 && !g->p->want_faults))
		return;
	if (k == 0)
		v = alias_lin(a, DATA + rnd(g, 0x2000 - 8 + 1));
	else if (k == 1)
		v = alias_lin(a, (chance(g, 50) || !g->p->lazy ? DATA + 0x1000 :
				  DATA + 0x2000) - 8 + rnd(g, 8));
	else if (k == 2)
		v = alias_lin(a, LAZY + rnd(g, PRESET - LAZY - 8 + 1));
	else if (k == 3)
		v = alias_lin(a, MMIO_PAGE + rnd(g, 0x1000 - 8 + 1));
	else
		v = noncanonical(g);
	oreg(g, 4, 0x50, RBP, 0, 0);			/* push rbp */
	rr(g, 8, 0x89, RSP, t);				/* mov t, rsp */
	mov_imm64(g, RBP, v);
	if (k == 4)
		at = plant(g);
	b8(g, 0xc9);					/* leave */
	if (at != ~0u)
		resume_here(g, at);
	rr(g, 8, 0x89, t, RSP);				/* mov rsp, t */
	oreg(g, 4, 0x58, RBP, 0, 0);			/* pop rbp */
}

static void gen_item(struct gen *g)
{
	u32 k = rnd(g, 100);

	if (!room(g, 200))
		return;
	if (g->depth >= 2 || k < 60)
		gen_simple(g);
	else if (k < 72)
		gen_forward(g, true);
	else if (k < 75)
		gen_forward(g, false);
	else if (k < 82 && (g->wmask & BIT(RCX)) && !g->in_fn)
		gen_loop(g);
	else if (k < 88 && !g->in_fn)
		gen_call(g);
	else if (k < 90)
		gen_jmp_indirect(g);
	else if (k < 92 && !g->in_fn)
		gen_island(g);
	else if (k < 93 && chance(g, 50))
		gen_frame(g);
	else if (k < 93)
		gen_leave(g);
	else if (g->p->want_smc)
		gen_smc(g);
	else
		gen_simple(g);
}

static void gen_items(struct gen *g, u32 n)
{
	while (n--)
		gen_item(g);
}

/*
 * Make the program of seed: its set-up (aliases, registers, lazy pages)
 * and its code.  Returns false if it did not fit (the caller takes the
 * next one).
 */
bool gen_prog64(struct prog64 *p, u64 seed)
{
	static const int keep[] = { RSI, R9, R12 };
	struct gen g = { .rng = seed, .p = p };
	u32 n, i, base;

	memset(p, 0, sizeof(*p));
	p->seed = seed;
	p->lazy = chance(&g, 50);
	p->want_smc = chance(&g, 30);
	p->want_faults = chance(&g, 40);
	p->code_alias = (int)rnd(&g, NALIAS);
	g.a_bp = (int)rnd(&g, NALIAS);
	g.a_13 = (int)rnd(&g, NALIAS);
	g.a_sp = (int)rnd(&g, NALIAS);
	p->fs_base = alias_lin((int)rnd(&g, NALIAS),
			       0x18000 + 8 * rnd(&g, 0x100));
	p->gs_base = alias_lin((int)rnd(&g, NALIAS), DATA);
	for (i = 0; i < 16; i++)
		p->r[i] = rnd_val(&g);
	for (i = 0; i < 3; i++)
		p->r[keep[i]] = rnd(&g, 64);
	p->r[RBP] = alias_lin(g.a_bp, DATA + rnd(&g, 0x2000));
	p->r[R13] = alias_lin(g.a_13, DATA + rnd(&g, 0x2000));
	p->r[RDI] = DATA + 800 + rnd(&g, 0x2000 - 1600 - 512);
	/* Near a page end, sometimes misaligned: pushes cross pages. */
	p->r[RSP] = alias_lin(g.a_sp, STACK + 0x1000 +
			      (chance(&g, 50) ? 0 : 0x800) + 8 * rnd(&g, 8) +
			      (chance(&g, 20) ? rnd(&g, 8) : 0));
	p->rflags = (rnd(&g, 0x1000) & F_ARITH) | F_FIXED1 |
		    (chance(&g, 20) ? F_DF : 0);
	p->data_seed = rng64(&g.rng);
	base = CODE + (chance(&g, 30) ? 0x1000 - 0x40 + rnd(&g, 0x40) :
		       rnd(&g, 0x1000));
	p->rip = alias_lin(p->code_alias, base);
	p->main.code = p->main_code;
	p->main.cap = MAIN_MAX;
	p->main.lin = p->rip;
	p->fn.code = p->fn_code;
	p->fn.cap = FN_MAX;
	p->fn.lin = p->rip + MAIN_MAX;
	g.wmask = W_ALL;
	g.b = &p->main;
	n = 2 + rnd(&g, 39);
	while (n-- && room(&g, 200))
		gen_item(&g);
	p->hlt = here(&g);
	b8(&g, 0xf4);
	return p->main.n <= p->main.cap && p->fn.n <= p->fn.cap;
}
