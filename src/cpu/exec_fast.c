/*
 * The decoded-instruction cache: the interpreter's fast path.
 *
 * Decoding an x86 instruction (prefixes, ModRM, SIB, displacement and
 * immediate, each byte fetched through the code window) costs more than
 * running the common ones.  So the run loop first looks the instruction up
 * here, by the host address of its first byte (that is, by its physical
 * address).  An entry keeps the instruction's bytes and what they decode
 * to: a handler for this exact form and its operands.  A hit runs the
 * handler; a miss decodes, fills the entry and runs it.  Only the most
 * common forms of 32-bit code have handlers (MOV, LEA, the ALU group,
 * TEST, Jcc, JMP, CALL, RET, PUSH, POP, INC, DEC, MOVZX, MOVSX, SETcc,
 * CMOVcc, IMUL, shifts); for every other instruction the entry says "slow" and
 * cpu_exec_one() decodes it as always.
 *
 * Guest code can change under us: the guest rewrites it (the kernel patches
 * its own text), a device DMAs a disk block into a page that held code, or
 * a test harness copies new code into RAM.  Instead of tracking every
 * writer, a hit compares the bytes the entry was decoded from with the
 * bytes in RAM now (one or two 8-byte loads: the instruction must then
 * lie at least 16 bytes before the end of its page, else it takes the slow
 * path).  So there is no invalidation to get wrong, and nothing outside the
 * CPU has to tell us about writes to guest RAM.
 *
 * The handlers keep the rules of exec.c: every read and every check before
 * the first change of state (faults unwind to the run loop, which puts EIP
 * and ESP back), and EIP moves last.  The difftest (tests/cpu) runs through
 * this path for the forms it covers.
 */
#include <stdlib.h>

#include "exec.h"

#define DC_NONE 8	/* no base or index register */

struct dinsn {
	const u8 *host;		/* where the bytes were, NULL when empty */
	u64 raw[2];		/* the instruction's bytes, zero-padded */
	void (*fn)(struct cpu *c, const struct dinsn *di);
	u32 disp;		/* displacement, or moffs */
	u32 imm;		/* immediate, or rel for branches */
	u8 len;			/* 0: slow entry (raw[0] holds the first byte) */
	u8 op;			/* ALU op, condition code, shift op */
	u8 size;		/* operand size in bytes */
	u8 reg, rm;		/* ModRM reg; rm register for mod 3 */
	u8 base, index, scale;	/* memory operand; DC_NONE if absent */
	u8 seg;
};

#define DC_SIZE 16384

typedef void (*dc_fn)(struct cpu *c, const struct dinsn *di);

struct dcache {
	struct dinsn e[DC_SIZE];
};

/* --- Operands --- */

static inline u32 dc_ea(const struct cpu *c, const struct dinsn *di)
{
	u32 ea = di->disp;

	if (di->base != DC_NONE)
		ea += c->r[di->base];
	if (di->index != DC_NONE)
		ea += c->r[di->index] << di->scale;
	return ea;
}

static inline u32 dc_next(const struct cpu *c, const struct dinsn *di)
{
	return c->eip + di->len;
}

static inline void dc_jump(struct cpu *c, u32 target)
{
	if (unlikely(target > c->seg[S_CS].limit))
		cpu_gp(c, 0);
	c->eip = target;
}

/* --- Handlers: r = register form (mod 3), m = memory form --- */

static void h_mov_rm_r_r(struct cpu *c, const struct dinsn *di)
{
	set_reg(c, di->rm, get_reg(c, di->reg, di->size), di->size);
	c->eip = dc_next(c, di);
}

static void h_mov_rm_r_m(struct cpu *c, const struct dinsn *di)
{
	mem_write_fast(c, di->seg, dc_ea(c, di), get_reg(c, di->reg, di->size),
		  di->size);
	c->eip = dc_next(c, di);
}

static void h_mov_r_rm_r(struct cpu *c, const struct dinsn *di)
{
	set_reg(c, di->reg, get_reg(c, di->rm, di->size), di->size);
	c->eip = dc_next(c, di);
}

static void h_mov_r_rm_m(struct cpu *c, const struct dinsn *di)
{
	u32 v = mem_read_fast(c, di->seg, dc_ea(c, di), di->size);

	set_reg(c, di->reg, v, di->size);
	c->eip = dc_next(c, di);
}

static void h_mov_rm_imm_r(struct cpu *c, const struct dinsn *di)
{
	set_reg(c, di->rm, di->imm, di->size);
	c->eip = dc_next(c, di);
}

static void h_mov_rm_imm_m(struct cpu *c, const struct dinsn *di)
{
	mem_write_fast(c, di->seg, dc_ea(c, di), di->imm, di->size);
	c->eip = dc_next(c, di);
}

static void h_lea(struct cpu *c, const struct dinsn *di)
{
	c->r[di->reg] = dc_ea(c, di);
	c->eip = dc_next(c, di);
}

/* MOV eAX/AL, moffs and back: disp is the offset, reg says the way. */
static void h_moffs_load(struct cpu *c, const struct dinsn *di)
{
	u32 v = mem_read_fast(c, di->seg, di->disp, di->size);

	set_reg(c, R_EAX, v, di->size);
	c->eip = dc_next(c, di);
}

static void h_moffs_store(struct cpu *c, const struct dinsn *di)
{
	mem_write_fast(c, di->seg, di->disp, get_reg(c, R_EAX, di->size),
		  di->size);
	c->eip = dc_next(c, di);
}

/* ALU op r/m, reg (00..39 with d = 0). */
static void h_alu_rm_r_r(struct cpu *c, const struct dinsn *di)
{
	u32 r = alu_arith(c, di->op, get_reg(c, di->rm, di->size),
			  get_reg(c, di->reg, di->size), di->size);

	if (di->op != 7)
		set_reg(c, di->rm, r, di->size);
	c->eip = dc_next(c, di);
}

static void h_alu_rm_r_m(struct cpu *c, const struct dinsn *di)
{
	u32 ea = dc_ea(c, di), a, r;

	if (di->op == 7) {
		a = mem_read_fast(c, di->seg, ea, di->size);
		alu_arith(c, 7, a, get_reg(c, di->reg, di->size), di->size);
	} else {
		a = mem_read_rmw(c, di->seg, ea, di->size);
		r = alu_arith(c, di->op, a, get_reg(c, di->reg, di->size),
			      di->size);
		mem_write_fast(c, di->seg, ea, r, di->size);
	}
	c->eip = dc_next(c, di);
}

/* ALU op reg, r/m (d = 1). */
static void h_alu_r_rm_r(struct cpu *c, const struct dinsn *di)
{
	u32 r = alu_arith(c, di->op, get_reg(c, di->reg, di->size),
			  get_reg(c, di->rm, di->size), di->size);

	if (di->op != 7)
		set_reg(c, di->reg, r, di->size);
	c->eip = dc_next(c, di);
}

static void h_alu_r_rm_m(struct cpu *c, const struct dinsn *di)
{
	u32 b = mem_read_fast(c, di->seg, dc_ea(c, di), di->size);
	u32 r = alu_arith(c, di->op, get_reg(c, di->reg, di->size), b,
			  di->size);

	if (di->op != 7)
		set_reg(c, di->reg, r, di->size);
	c->eip = dc_next(c, di);
}

/* ALU op r/m, imm (80 81 83, and 04.. 3D with rm = eAX). */
static void h_alu_rm_imm_r(struct cpu *c, const struct dinsn *di)
{
	u32 r = alu_arith(c, di->op, get_reg(c, di->rm, di->size), di->imm,
			  di->size);

	if (di->op != 7)
		set_reg(c, di->rm, r, di->size);
	c->eip = dc_next(c, di);
}

static void h_alu_rm_imm_m(struct cpu *c, const struct dinsn *di)
{
	u32 ea = dc_ea(c, di), a, r;

	if (di->op == 7) {
		a = mem_read_fast(c, di->seg, ea, di->size);
		alu_arith(c, 7, a, di->imm, di->size);
	} else {
		a = mem_read_rmw(c, di->seg, ea, di->size);
		r = alu_arith(c, di->op, a, di->imm, di->size);
		mem_write_fast(c, di->seg, ea, r, di->size);
	}
	c->eip = dc_next(c, di);
}

static void h_test_r(struct cpu *c, const struct dinsn *di)
{
	alu_logic_flags(c, get_reg(c, di->rm, di->size) &
			get_reg(c, di->reg, di->size), di->size);
	c->eip = dc_next(c, di);
}

static void h_test_m(struct cpu *c, const struct dinsn *di)
{
	u32 v = mem_read_fast(c, di->seg, dc_ea(c, di), di->size);

	alu_logic_flags(c, v & get_reg(c, di->reg, di->size), di->size);
	c->eip = dc_next(c, di);
}

static void h_test_imm_r(struct cpu *c, const struct dinsn *di)
{
	alu_logic_flags(c, get_reg(c, di->rm, di->size) & di->imm,
			di->size);
	c->eip = dc_next(c, di);
}

static void h_test_imm_m(struct cpu *c, const struct dinsn *di)
{
	u32 v = mem_read_fast(c, di->seg, dc_ea(c, di), di->size);

	alu_logic_flags(c, v & di->imm, di->size);
	c->eip = dc_next(c, di);
}

static void h_inc(struct cpu *c, const struct dinsn *di)
{
	c->r[di->reg] = alu_inc(c, c->r[di->reg], 4);
	c->eip = dc_next(c, di);
}

static void h_dec(struct cpu *c, const struct dinsn *di)
{
	c->r[di->reg] = alu_dec(c, c->r[di->reg], 4);
	c->eip = dc_next(c, di);
}

static void h_push_r(struct cpu *c, const struct dinsn *di)
{
	cpu_push(c, c->r[di->reg], 4);
	c->eip = dc_next(c, di);
}

static void h_pop_r(struct cpu *c, const struct dinsn *di)
{
	u32 v = cpu_pop(c, 4);

	c->r[di->reg] = v;
	c->eip = dc_next(c, di);
}

static void h_push_imm(struct cpu *c, const struct dinsn *di)
{
	cpu_push(c, di->imm, 4);
	c->eip = dc_next(c, di);
}

static void h_jcc(struct cpu *c, const struct dinsn *di)
{
	u32 next = dc_next(c, di);

	if (cpu_cond(c, di->op))
		dc_jump(c, next + di->imm);
	else
		c->eip = next;
}

static void h_jmp(struct cpu *c, const struct dinsn *di)
{
	dc_jump(c, dc_next(c, di) + di->imm);
}

static void h_call(struct cpu *c, const struct dinsn *di)
{
	u32 next = dc_next(c, di), target = next + di->imm;

	if (unlikely(target > c->seg[S_CS].limit))
		cpu_gp(c, 0);
	cpu_push(c, next, 4);
	c->eip = target;
}

static void h_ret(struct cpu *c, const struct dinsn *di)
{
	(void)di;
	dc_jump(c, cpu_pop(c, 4));
}

static void h_movx_r(struct cpu *c, const struct dinsn *di)
{
	u32 v = get_reg(c, di->rm, di->size);

	c->r[di->reg] = di->op ? sext(v, di->size) : v;
	c->eip = dc_next(c, di);
}

static void h_movx_m(struct cpu *c, const struct dinsn *di)
{
	u32 v = mem_read_fast(c, di->seg, dc_ea(c, di), di->size);

	c->r[di->reg] = di->op ? sext(v, di->size) : v;
	c->eip = dc_next(c, di);
}

static void h_setcc_r(struct cpu *c, const struct dinsn *di)
{
	set_reg8(c, di->rm, cpu_cond(c, di->op));
	c->eip = dc_next(c, di);
}

static void h_setcc_m(struct cpu *c, const struct dinsn *di)
{
	mem_write_fast(c, di->seg, dc_ea(c, di), cpu_cond(c, di->op), 1);
	c->eip = dc_next(c, di);
}

static void h_cmov_r(struct cpu *c, const struct dinsn *di)
{
	if (cpu_cond(c, di->op))
		c->r[di->reg] = c->r[di->rm];
	c->eip = dc_next(c, di);
}

static void h_cmov_m(struct cpu *c, const struct dinsn *di)
{
	u32 v = mem_read_fast(c, di->seg, dc_ea(c, di), 4);

	if (cpu_cond(c, di->op))
		c->r[di->reg] = v;
	c->eip = dc_next(c, di);
}

/* Shifts by an immediate or 1 (C0 C1 D0 D1); imm is the masked count. */
static void h_shift_r(struct cpu *c, const struct dinsn *di)
{
	u32 r = alu_shift(c, di->op, get_reg(c, di->rm, di->size), di->imm,
			  di->size);

	set_reg(c, di->rm, r, di->size);
	c->eip = dc_next(c, di);
}

static void h_shift_m(struct cpu *c, const struct dinsn *di)
{
	u32 ea = dc_ea(c, di);
	u32 a = mem_read_rmw(c, di->seg, ea, di->size);

	mem_write_fast(c, di->seg, ea, alu_shift(c, di->op, a, di->imm, di->size),
		  di->size);
	c->eip = dc_next(c, di);
}

static void imul2(struct cpu *c, const struct dinsn *di, u32 a)
{
	s64 p = (s64)(s32)a * (s32)c->r[di->reg];

	c->r[di->reg] = (u32)p;
	alu_set_res(c, (u32)p, 4, p != (s32)(u32)p ? F_CF | F_OF : 0);
	c->eip = dc_next(c, di);
}

static void h_imul_r(struct cpu *c, const struct dinsn *di)
{
	imul2(c, di, c->r[di->rm]);
}

static void h_imul_m(struct cpu *c, const struct dinsn *di)
{
	imul2(c, di, mem_read_fast(c, di->seg, dc_ea(c, di), 4));
}

static void h_nop(struct cpu *c, const struct dinsn *di)
{
	c->eip = dc_next(c, di);
}

/*
 * 32-bit forms of the commonest handlers: most kernel code is 32-bit, and
 * without the operand size to look at these are a few host instructions.
 */
static void h_mov_rm_r_r32(struct cpu *c, const struct dinsn *di)
{
	c->r[di->rm] = c->r[di->reg];
	c->eip = dc_next(c, di);
}

static void h_mov_rm_r_m32(struct cpu *c, const struct dinsn *di)
{
	mem_write_fast(c, di->seg, dc_ea(c, di), c->r[di->reg], 4);
	c->eip = dc_next(c, di);
}

static void h_mov_r_rm_m32(struct cpu *c, const struct dinsn *di)
{
	c->r[di->reg] = mem_read_fast(c, di->seg, dc_ea(c, di), 4);
	c->eip = dc_next(c, di);
}

static void h_alu_rm_r_r32(struct cpu *c, const struct dinsn *di)
{
	u32 r = alu_arith(c, di->op, c->r[di->rm], c->r[di->reg], 4);

	if (di->op != 7)
		c->r[di->rm] = r;
	c->eip = dc_next(c, di);
}

static void h_alu_r_rm_r32(struct cpu *c, const struct dinsn *di)
{
	u32 r = alu_arith(c, di->op, c->r[di->reg], c->r[di->rm], 4);

	if (di->op != 7)
		c->r[di->reg] = r;
	c->eip = dc_next(c, di);
}

static void h_alu_r_rm_m32(struct cpu *c, const struct dinsn *di)
{
	u32 b = mem_read_fast(c, di->seg, dc_ea(c, di), 4);
	u32 r = alu_arith(c, di->op, c->r[di->reg], b, 4);

	if (di->op != 7)
		c->r[di->reg] = r;
	c->eip = dc_next(c, di);
}

static void h_alu_rm_imm_r32(struct cpu *c, const struct dinsn *di)
{
	u32 r = alu_arith(c, di->op, c->r[di->rm], di->imm, 4);

	if (di->op != 7)
		c->r[di->rm] = r;
	c->eip = dc_next(c, di);
}

static void h_shift_r32(struct cpu *c, const struct dinsn *di)
{
	c->r[di->rm] = alu_shift(c, di->op, c->r[di->rm], di->imm, 4);
	c->eip = dc_next(c, di);
}

/* The 32-bit form of handler fn, if it has one. */
static dc_fn dc_fn32(dc_fn fn)
{
	static const struct { dc_fn any, d32; } forms[] = {
		{ h_mov_rm_r_r, h_mov_rm_r_r32 },
		{ h_mov_rm_r_m, h_mov_rm_r_m32 },
		{ h_mov_r_rm_m, h_mov_r_rm_m32 },
		{ h_alu_rm_r_r, h_alu_rm_r_r32 },
		{ h_alu_r_rm_r, h_alu_r_rm_r32 },
		{ h_alu_r_rm_m, h_alu_r_rm_m32 },
		{ h_alu_rm_imm_r, h_alu_rm_imm_r32 },
		{ h_shift_r, h_shift_r32 },
	};
	size_t i;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		if (forms[i].any == fn)
			return forms[i].d32;
	return fn;
}

/* --- Decoding --- */

/* The bytes of one instruction, as the decoder reads them. */
struct dbytes {
	const u8 *p;
	u32 n, avail;
	bool bad;
};

static u32 dget(struct dbytes *b, int size)
{
	u32 v = 0;
	int i;

	if (b->n + size > b->avail) {
		b->bad = true;
		return 0;
	}
	for (i = 0; i < size; i++)
		v |= (u32)b->p[b->n + i] << (8 * i);
	b->n += size;
	return v;
}

/* ModRM with 32-bit addressing; rm_handler or mem_handler by mod. */
static void dmodrm(struct dbytes *b, struct dinsn *di, int seg_override)
{
	u8 m = (u8)dget(b, 1), mod = m >> 6, sib;
	int def = S_DS;

	di->reg = (m >> 3) & 7;
	di->rm = m & 7;
	di->base = di->index = DC_NONE;
	di->scale = 0;
	di->disp = 0;
	if (mod == 3)
		return;
	if (di->rm == 4) {
		sib = (u8)dget(b, 1);
		if (((sib >> 3) & 7) != 4) {
			di->index = (sib >> 3) & 7;
			di->scale = sib >> 6;
		}
		di->base = sib & 7;
		if (di->base == 5 && mod == 0) {
			di->base = DC_NONE;
			di->disp = dget(b, 4);
		}
	} else if (di->rm == 5 && mod == 0) {
		di->disp = dget(b, 4);
	} else {
		di->base = di->rm;
	}
	if (di->base == R_ESP || di->base == R_EBP)
		def = S_SS;
	if (mod == 1)
		di->disp += (u32)(s32)(s8)dget(b, 1);
	else if (mod == 2)
		di->disp += dget(b, 4);
	di->seg = seg_override >= 0 ? seg_override : def;
	di->rm = DC_NONE;	/* marks the memory form */
}

/* Pick the register or memory form of a ModRM instruction. */
static dc_fn by_mod(const struct dinsn *di, dc_fn r, dc_fn m)
{
	return di->rm == DC_NONE ? m : r;
}

/* Decode the instruction at b (32-bit code) into di.  Returns its
 * handler, or NULL if it has none (or does not fit in b). */
static dc_fn decode_fast(struct dbytes *b, struct dinsn *di)
{
	int seg = -1;
	u8 op, op2;

	for (;;) {
		op = (u8)dget(b, 1);
		if (op == 0x26 || op == 0x2e || op == 0x36 || op == 0x3e)
			seg = (op >> 3) & 3;
		else if (op == 0x64 || op == 0x65)
			seg = op - 0x64 + S_FS;
		else
			break;
		if (b->bad)
			return NULL;
	}
	di->size = 4;
	di->seg = seg >= 0 ? seg : S_DS;
	if (op < 0x40 && (op & 7) < 4) {
		di->op = op >> 3;
		di->size = (op & 1) ? 4 : 1;
		dmodrm(b, di, seg);
		if (op & 2)
			return by_mod(di, h_alu_r_rm_r, h_alu_r_rm_m);
		return by_mod(di, h_alu_rm_r_r, h_alu_rm_r_m);
	}
	if (op < 0x40 && (op & 7) < 6) {
		di->op = op >> 3;
		di->size = (op & 1) ? 4 : 1;
		di->imm = dget(b, di->size);
		di->rm = R_EAX;
		return h_alu_rm_imm_r;
	}
	if (op >= 0x70 && op <= 0x7f) {
		di->op = op & 15;
		di->imm = (u32)(s32)(s8)dget(b, 1);
		return h_jcc;
	}
	switch (op) {
	case 0x40 ... 0x47:
		di->reg = op & 7;
		return h_inc;
	case 0x48 ... 0x4f:
		di->reg = op & 7;
		return h_dec;
	case 0x50 ... 0x57:
		di->reg = op & 7;
		return h_push_r;
	case 0x58 ... 0x5f:
		di->reg = op & 7;
		return h_pop_r;
	case 0x68:
		di->imm = dget(b, 4);
		return h_push_imm;
	case 0x6a:
		di->imm = (u32)(s32)(s8)dget(b, 1);
		return h_push_imm;
	case 0x80: case 0x81: case 0x83:
		di->size = op == 0x80 ? 1 : 4;
		dmodrm(b, di, seg);
		di->op = di->reg;
		di->imm = op == 0x83 ? (u32)(s32)(s8)dget(b, 1) :
			  dget(b, di->size);
		return by_mod(di, h_alu_rm_imm_r, h_alu_rm_imm_m);
	case 0x84: case 0x85:
		di->size = op == 0x84 ? 1 : 4;
		dmodrm(b, di, seg);
		return by_mod(di, h_test_r, h_test_m);
	case 0x88: case 0x89:
		di->size = op == 0x88 ? 1 : 4;
		dmodrm(b, di, seg);
		return by_mod(di, h_mov_rm_r_r, h_mov_rm_r_m);
	case 0x8a: case 0x8b:
		di->size = op == 0x8a ? 1 : 4;
		dmodrm(b, di, seg);
		return by_mod(di, h_mov_r_rm_r, h_mov_r_rm_m);
	case 0x8d:
		dmodrm(b, di, seg);
		return by_mod(di, NULL, h_lea);
	case 0x90:
		return h_nop;
	case 0xa0 ... 0xa3:
		di->size = (op & 1) ? 4 : 1;
		di->disp = dget(b, 4);
		return (op & 2) ? h_moffs_store : h_moffs_load;
	case 0xa8: case 0xa9:
		di->size = op == 0xa8 ? 1 : 4;
		di->imm = dget(b, di->size);
		di->rm = R_EAX;
		return h_test_imm_r;
	case 0xb0 ... 0xb7:
		di->size = 1;
		di->rm = op & 7;
		di->imm = dget(b, 1);
		return h_mov_rm_imm_r;
	case 0xb8 ... 0xbf:
		di->rm = op & 7;
		di->imm = dget(b, 4);
		return h_mov_rm_imm_r;
	case 0xc0: case 0xc1: case 0xd0: case 0xd1:
		di->size = (op & 1) ? 4 : 1;
		dmodrm(b, di, seg);
		di->op = di->reg;
		di->imm = (op <= 0xc1 ? dget(b, 1) : 1) & 0x1f;
		return by_mod(di, h_shift_r, h_shift_m);
	case 0xc3:
		return h_ret;
	case 0xc6: case 0xc7:
		di->size = op == 0xc6 ? 1 : 4;
		dmodrm(b, di, seg);
		if (di->reg)
			return NULL;
		di->imm = dget(b, di->size);
		return by_mod(di, h_mov_rm_imm_r, h_mov_rm_imm_m);
	case 0xe8:
		di->imm = dget(b, 4);
		return h_call;
	case 0xe9:
		di->imm = dget(b, 4);
		return h_jmp;
	case 0xeb:
		di->imm = (u32)(s32)(s8)dget(b, 1);
		return h_jmp;
	case 0xf6: case 0xf7:
		di->size = op == 0xf6 ? 1 : 4;
		dmodrm(b, di, seg);
		if (di->reg > 1)
			return NULL;
		di->imm = dget(b, di->size);
		return by_mod(di, h_test_imm_r, h_test_imm_m);
	case 0x0f:
		break;
	default:
		return NULL;
	}
	op2 = (u8)dget(b, 1);
	switch (op2) {
	case 0x40 ... 0x4f:
		di->op = op2 & 15;
		dmodrm(b, di, seg);
		return by_mod(di, h_cmov_r, h_cmov_m);
	case 0x80 ... 0x8f:
		di->op = op2 & 15;
		di->imm = dget(b, 4);
		return h_jcc;
	case 0x90 ... 0x9f:
		di->op = op2 & 15;
		di->size = 1;
		dmodrm(b, di, seg);
		return by_mod(di, h_setcc_r, h_setcc_m);
	case 0xaf:
		dmodrm(b, di, seg);
		return by_mod(di, h_imul_r, h_imul_m);
	case 0xb6: case 0xb7: case 0xbe: case 0xbf:
		di->op = op2 >= 0xbe;
		di->size = (op2 & 1) ? 2 : 1;
		dmodrm(b, di, seg);
		return by_mod(di, h_movx_r, h_movx_m);
	}
	return NULL;
}

/* --- Lookup --- */

static inline u64 load64(const u8 *p)
{
	u64 v;

	memcpy(&v, p, 8);
	return v;
}

static inline u64 len_mask(u32 len)
{
	return len >= 8 ? ~0ull : (1ull << (8 * len)) - 1;
}

static inline bool dc_same(const struct dinsn *di, const u8 *h)
{
	u32 len = di->len ? di->len : 1;

	if ((load64(h) ^ di->raw[0]) & len_mask(len))
		return false;
	return len <= 8 || !((load64(h + 8) ^ di->raw[1]) & len_mask(len - 8));
}

static void slow(struct cpu *c, const struct dinsn *di)
{
	(void)di;
	cpu_exec_one(c);
}

static void dc_fill(struct dinsn *di, const u8 *h, u32 avail)
{
	struct dbytes b = { h, 0, avail, false };
	dc_fn fn = decode_fast(&b, di);

	di->host = h;
	if (!fn || b.bad) {
		di->fn = slow;
		di->len = 0;
		di->raw[0] = h[0];
		return;
	}
	di->fn = di->size == 4 ? dc_fn32(fn) : fn;
	di->len = (u8)b.n;
	di->raw[0] = load64(h) & len_mask(b.n);
	di->raw[1] = b.n > 8 ? load64(h + 8) & len_mask(b.n - 8) : 0;
}

/*
 * Find the entry for the instruction at CS:EIP, through the cache when we
 * can: 32-bit protected-mode code, its first byte in RAM through a TLB
 * hit, at least 16 bytes before the end of its page, and within CS's
 * limit.  Returns NULL when the instruction must go to cpu_exec_one(), else
 * the (filled) entry and, in *page, the host address of its page.
 */
static inline struct dinsn *dc_slot(const struct cpu *c, const u8 *h)
{
	u32 pa = (u32)(h - c->ram);

	return &c->dcache->e[(pa ^ (pa >> 14)) & (DC_SIZE - 1)];
}

static struct dinsn *dc_lookup(struct cpu *c, const u8 **page)
{
	const struct seg *cs = &c->seg[S_CS];
	u32 eip = c->eip, lin = cs->base + eip, off = lin & 0xfff;
	const struct tlb_entry *e = tlb_entry_for(c, lin);
	struct dinsn *di;
	const u8 *h;

	if (unlikely(!c->dcache || !SEG_DB(cs->attr) || cpu_vm86(c) ||
		     !cpu_pmode(c) || off > 0x1000 - 16 ||
		     (cs->limit != 0xffffffffu && cs->limit - eip < 15) ||
		     eip > cs->limit))
		return NULL;
	/* A TLB miss: the walk (and its #PF) is the one the first byte's
	 * fetch would make; it fills this very entry. */
	if (unlikely(e->vpage != (lin >> 12) + 1))
		mmu_translate(c, lin, ACC_EXEC, c->cpl == 3);
	if (unlikely(!e->host))
		return NULL;
	*page = e->host;
	h = e->host + off;
	di = dc_slot(c, h);
	if (unlikely(di->host != h || !dc_same(di, h)))
		dc_fill(di, h, 15);
	return di;
}

void cpu_exec_cached(struct cpu *c)
{
	const u8 *page;
	struct dinsn *di = dc_lookup(c, &page);

	if (di)
		di->fn(c, di);
	else
		cpu_exec_one(c);
}

/*
 * Run a stretch of instructions for the run loop, which has made its
 * checks (interrupt, TF, RF) for the first one; counts them in icount.
 * After the first, we go on only with instructions that have handlers:
 * those change neither EFLAGS.IF, TF nor RF, nor CS, nor paging, so the
 * run loop's checks would find nothing new, and the code page the TLB
 * gave for the first one is still the one a fetch would use.  What a
 * handler can change for the run loop is on the bus: a device callback
 * may stop the CPU or raise INTR, so we return on either.  We return too
 * when EIP leaves the page (or its last 15 bytes), at the budget's end and
 * before an instruction without a handler.  Faults longjmp out as from a
 * single instruction: EIP, ESP and icount are then right for it.
 */
/*C:155
 * The fast path: instructions decoded once and kept by physical address,
 * each entry with the bytes it was decoded from.  Before an entry runs its
 * bytes are compared with guest RAM, so self-modifying code, the loader
 * and a disk read into a code page all need no invalidation hook.  Forms
 * without a fast handler fall back to the full decoder (C:150).
 :*/
void cpu_exec_run(struct cpu *c, u64 end)
{
	const u8 *page, *h;
	struct dinsn *di = dc_lookup(c, &page), *next;
	u32 page_eip, off, eip, len;
	u64 n = c->icount;

	if (!di || !di->len) {
		if (di)
			di->fn(c, di);
		else
			cpu_exec_one(c);
		c->icount++;
		return;
	}
	/* The EIP of the page's first byte; flat CS only, so that the
	 * page's end is the one limit check needed. */
	off = (c->seg[S_CS].base + c->eip) & 0xfff;
	page_eip = c->eip - off;
	if (c->seg[S_CS].limit != 0xffffffffu)
		end = n + 1;
	h = page + off;
	for (;;) {
		/* Find the entry of the next instruction in line before this
		 * one runs: most do not jump, and the lookup then need not
		 * wait for the handler's EIP. */
		eip = c->eip;
		len = di->len;
		next = dc_slot(c, h + len);
		/* An idle guest wakes to a tick every 4 ms and finds the
		 * entries out of the host's caches: start the load of the
		 * next one while this handler runs (idle CPU ~15% lower). */
		__builtin_prefetch(next);
		di->fn(c, di);
		c->icount = ++n;
		if (unlikely(n >= end || c->stop || c->intr))
			return;
		if (likely(c->eip == eip + len)) {
			off += len;
			h += len;
			di = next;
		} else {
			off = c->eip - page_eip;
			h = page + off;
			di = dc_slot(c, h);
		}
		if (unlikely(off > 0x1000 - 16))
			return;
		if (unlikely(di->host != h || !dc_same(di, h))) {
			dc_fill(di, h, 15);
			if (!di->len)
				return;
		} else if (unlikely(!di->len)) {
			return;
		}
		c->insn_eip = c->eip;
		c->insn_esp = c->r[R_ESP];
	}
}

void cpu_dcache_init(struct cpu *c)
{
	c->dcache = calloc(1, sizeof(*c->dcache));
}

void cpu_dcache_free(struct cpu *c)
{
	free(c->dcache);
	c->dcache = NULL;
}
