/*
 * The decoded-instruction cache: the interpreter's fast path.
 *
 * Decoding an x86 instruction (prefixes, ModRM, SIB, displacement and
 * immediate: decode.c) and then picking its handler costs more than
 * running the common ones.  So the run loop first looks the instruction up
 * here, by the host address of its first byte (that is, by its physical
 * address).  An entry keeps the instruction's bytes and what they decode
 * to: a handler for this exact form and its operands.  A hit runs the
 * handler; a miss decodes, fills the entry and runs it.  Only the common
 * forms of 32-bit code have handlers: MOV, LEA, the ALU group, TEST, Jcc,
 * JMP, CALL, RET, PUSH, POP, INC, DEC, MOVZX, MOVSX, SETcc, CMOVcc, IMUL,
 * shifts, and what a Linux boot profile showed next: LOCKed atomics, NOT,
 * NEG, MUL, DIV, the string instructions without REP, LEAVE, PUSHF,
 * indirect CALL and JMP, XCHG, CMPXCHG(8B), XADD, BT*, SHLD, SHRD, BSWAP,
 * CDQ, PAUSE, and 16-bit operands (66) where the handler honours the
 * size.  For every other instruction the entry says "slow" and
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
#include "fast.h"

#define DC_SIZE 16384

struct dcache {
	struct dinsn e[DC_SIZE];
};

/* --- Operands --- */

/* A near branch's target, checked (#GP) before anything changes. */
static inline u64 dc_target(struct cpu *c, const struct dinsn *di, u64 t)
{
	if (di->mode == 8) {
		if (unlikely(!canonical(t)))
			cpu_gp(c, 0);
		return t;
	}
	if (unlikely((u32)t > c->seg[S_CS].limit))
		cpu_gp(c, 0);
	return (u32)t;
}

static inline void dc_jump(struct cpu *c, const struct dinsn *di, u64 t)
{
	c->rip = dc_target(c, di, t);
}

/* The mask of a shift or rotate count: five bits, six for 64 bits. */
static inline u32 dc_count_mask(const struct dinsn *di)
{
	return di->size == 8 ? 63 : 31;
}

/* --- Handlers: r = register form (mod 3), m = memory form --- */

static void h_mov_rm_r_r(struct cpu *c, const struct dinsn *di)
{
	set_reg(c, di->rm, get_reg(c, di->reg, di->size), di->size);
	dc_advance(c, di);
}

static void h_mov_rm_r_m(struct cpu *c, const struct dinsn *di)
{
	mem_write_fast(c, di->seg, dc_ea(c, di), get_reg(c, di->reg, di->size),
		  di->size);
	dc_advance(c, di);
}

static void h_mov_r_rm_r(struct cpu *c, const struct dinsn *di)
{
	set_reg(c, di->reg, get_reg(c, di->rm, di->size), di->size);
	dc_advance(c, di);
}

static void h_mov_r_rm_m(struct cpu *c, const struct dinsn *di)
{
	u64 v = mem_read_fast(c, di->seg, dc_ea(c, di), di->size);

	set_reg(c, di->reg, v, di->size);
	dc_advance(c, di);
}

static void h_mov_rm_imm_r(struct cpu *c, const struct dinsn *di)
{
	set_reg(c, di->rm, di->imm, di->size);
	dc_advance(c, di);
}

static void h_mov_rm_imm_m(struct cpu *c, const struct dinsn *di)
{
	mem_write_fast(c, di->seg, dc_ea(c, di), di->imm, di->size);
	dc_advance(c, di);
}

static void h_lea(struct cpu *c, const struct dinsn *di)
{
	set_reg(c, di->reg, dc_ea(c, di), di->size);
	dc_advance(c, di);
}

/* MOV eAX/AL, moffs and back (32-bit code): disp is the offset. */
static void h_moffs_load(struct cpu *c, const struct dinsn *di)
{
	u64 v = mem_read_fast(c, di->seg, di->disp, di->size);

	set_reg(c, R_EAX, v, di->size);
	dc_advance(c, di);
}

static void h_moffs_store(struct cpu *c, const struct dinsn *di)
{
	mem_write_fast(c, di->seg, di->disp, get_reg(c, R_EAX, di->size),
		  di->size);
	dc_advance(c, di);
}

/* ALU op r/m, reg (00..39 with d = 0). */
static void h_alu_rm_r_r(struct cpu *c, const struct dinsn *di)
{
	u64 r = alu_arith(c, di->op, get_reg(c, di->rm, di->size),
			  get_reg(c, di->reg, di->size), di->size);

	if (di->op != 7)
		set_reg(c, di->rm, r, di->size);
	dc_advance(c, di);
}

static void h_alu_rm_r_m(struct cpu *c, const struct dinsn *di)
{
	u64 ea = dc_ea(c, di), a, r;

	if (di->op == 7) {
		a = mem_read_fast(c, di->seg, ea, di->size);
		alu_arith(c, 7, a, get_reg(c, di->reg, di->size), di->size);
	} else {
		a = mem_read_rmw(c, di->seg, ea, di->size);
		r = alu_arith(c, di->op, a, get_reg(c, di->reg, di->size),
			      di->size);
		mem_write_fast(c, di->seg, ea, r, di->size);
	}
	dc_advance(c, di);
}

/* ALU op reg, r/m (d = 1). */
static void h_alu_r_rm_r(struct cpu *c, const struct dinsn *di)
{
	u64 r = alu_arith(c, di->op, get_reg(c, di->reg, di->size),
			  get_reg(c, di->rm, di->size), di->size);

	if (di->op != 7)
		set_reg(c, di->reg, r, di->size);
	dc_advance(c, di);
}

static void h_alu_r_rm_m(struct cpu *c, const struct dinsn *di)
{
	u64 b = mem_read_fast(c, di->seg, dc_ea(c, di), di->size);
	u64 r = alu_arith(c, di->op, get_reg(c, di->reg, di->size), b,
			  di->size);

	if (di->op != 7)
		set_reg(c, di->reg, r, di->size);
	dc_advance(c, di);
}

/* ALU op r/m, imm (80 81 83, and 04.. 3D with rm = eAX). */
static void h_alu_rm_imm_r(struct cpu *c, const struct dinsn *di)
{
	u64 r = alu_arith(c, di->op, get_reg(c, di->rm, di->size), di->imm,
			  di->size);

	if (di->op != 7)
		set_reg(c, di->rm, r, di->size);
	dc_advance(c, di);
}

static void h_alu_rm_imm_m(struct cpu *c, const struct dinsn *di)
{
	u64 ea = dc_ea(c, di), a, r;

	if (di->op == 7) {
		a = mem_read_fast(c, di->seg, ea, di->size);
		alu_arith(c, 7, a, di->imm, di->size);
	} else {
		a = mem_read_rmw(c, di->seg, ea, di->size);
		r = alu_arith(c, di->op, a, di->imm, di->size);
		mem_write_fast(c, di->seg, ea, r, di->size);
	}
	dc_advance(c, di);
}

static void h_test_r(struct cpu *c, const struct dinsn *di)
{
	alu_logic_flags(c, get_reg(c, di->rm, di->size) &
			get_reg(c, di->reg, di->size), di->size);
	dc_advance(c, di);
}

static void h_test_m(struct cpu *c, const struct dinsn *di)
{
	u64 v = mem_read_fast(c, di->seg, dc_ea(c, di), di->size);

	alu_logic_flags(c, v & get_reg(c, di->reg, di->size), di->size);
	dc_advance(c, di);
}

static void h_test_imm_r(struct cpu *c, const struct dinsn *di)
{
	alu_logic_flags(c, get_reg(c, di->rm, di->size) & di->imm,
			di->size);
	dc_advance(c, di);
}

static void h_test_imm_m(struct cpu *c, const struct dinsn *di)
{
	u64 v = mem_read_fast(c, di->seg, dc_ea(c, di), di->size);

	alu_logic_flags(c, v & di->imm, di->size);
	dc_advance(c, di);
}

/* INC and DEC r32 (40..4F): 32-bit code only, where they are not REX. */
static void h_inc(struct cpu *c, const struct dinsn *di)
{
	c->r[di->reg].d = alu_inc(c, c->r[di->reg].d, 4);
	c->eip += di->len;
}

static void h_dec(struct cpu *c, const struct dinsn *di)
{
	c->r[di->reg].d = alu_dec(c, c->r[di->reg].d, 4);
	c->eip += di->len;
}

/* PUSH and POP: 4 bytes in 32-bit code, 8 in 64-bit code. */
static void h_push_r(struct cpu *c, const struct dinsn *di)
{
	cpu_push(c, get_reg(c, di->reg, di->size), di->size);
	dc_advance(c, di);
}

static void h_pop_r(struct cpu *c, const struct dinsn *di)
{
	u64 v = cpu_pop(c, di->size);

	set_reg(c, di->reg, v, di->size);
	dc_advance(c, di);
}

static void h_push_imm(struct cpu *c, const struct dinsn *di)
{
	cpu_push(c, di->imm, di->size);
	dc_advance(c, di);
}

static void h_jcc(struct cpu *c, const struct dinsn *di)
{
	u64 next = dc_next(c, di);

	if (cpu_cond(c, di->op))
		dc_jump(c, di, next + di->imm);
	else
		c->rip = next;
}

static void h_jmp(struct cpu *c, const struct dinsn *di)
{
	dc_jump(c, di, dc_next(c, di) + di->imm);
}

static void h_call(struct cpu *c, const struct dinsn *di)
{
	u64 next = dc_next(c, di), target = dc_target(c, di, next + di->imm);

	cpu_push(c, next, di->size);
	c->rip = target;
}

/* A target that faults (not canonical) leaves RSP as RET found it: the
 * translator's fault path does not put it back. */
static void h_ret(struct cpu *c, const struct dinsn *di)
{
	u64 sp = c->r[R_ESP].q, t = cpu_pop(c, di->size);
	u64 nsp = c->r[R_ESP].q;

	c->r[R_ESP].q = sp;
	c->rip = dc_target(c, di, t);
	c->r[R_ESP].q = nsp;
}

/* MOVZX, MOVSX (op 1) and MOVSXD: size is the source's, osize the
 * destination's. */
static void h_movx_r(struct cpu *c, const struct dinsn *di)
{
	u64 v = get_reg(c, di->rm, di->size);

	set_reg(c, di->reg, di->op ? sext(v, di->size) : v, di->osize);
	dc_advance(c, di);
}

static void h_movx_m(struct cpu *c, const struct dinsn *di)
{
	u64 v = mem_read_fast(c, di->seg, dc_ea(c, di), di->size);

	set_reg(c, di->reg, di->op ? sext(v, di->size) : v, di->osize);
	dc_advance(c, di);
}

static void h_setcc_r(struct cpu *c, const struct dinsn *di)
{
	set_reg8(c, di->rm, cpu_cond(c, di->op));
	dc_advance(c, di);
}

static void h_setcc_m(struct cpu *c, const struct dinsn *di)
{
	mem_write_fast(c, di->seg, dc_ea(c, di), cpu_cond(c, di->op), 1);
	dc_advance(c, di);
}

/* CMOVcc writes its destination either way: in 64-bit code a 32-bit one
 * has its upper half cleared even when the condition fails. */
static void cmov(struct cpu *c, const struct dinsn *di, u64 v)
{
	if (!cpu_cond(c, di->op))
		v = get_reg(c, di->reg, di->size);
	set_reg(c, di->reg, v, di->size);
	dc_advance(c, di);
}

static void h_cmov_r(struct cpu *c, const struct dinsn *di)
{
	cmov(c, di, get_reg(c, di->rm, di->size));
}

static void h_cmov_m(struct cpu *c, const struct dinsn *di)
{
	cmov(c, di, mem_read_fast(c, di->seg, dc_ea(c, di), di->size));
}

/* Shifts by an immediate or 1 (C0 C1 D0 D1); imm is the masked count. */
static void h_shift_r(struct cpu *c, const struct dinsn *di)
{
	u64 r = alu_shift(c, di->op, get_reg(c, di->rm, di->size),
			  (u32)di->imm, di->size);

	set_reg(c, di->rm, r, di->size);
	dc_advance(c, di);
}

static void h_shift_m(struct cpu *c, const struct dinsn *di)
{
	u64 ea = dc_ea(c, di);
	u64 a = mem_read_rmw(c, di->seg, ea, di->size);

	mem_write_fast(c, di->seg, ea,
		       alu_shift(c, di->op, a, (u32)di->imm, di->size),
		       di->size);
	dc_advance(c, di);
}

/* The low half of the signed product of a and b (IMUL r, r/m and
 * IMUL r, r/m, imm); CF and OF say whether it lost anything. */
static void imul_to_reg(struct cpu *c, const struct dinsn *di, u64 a, u64 b)
{
	int size = di->size;
	__int128 p = (__int128)(s64)sext(a, size) * (s64)sext(b, size);
	u64 r = (u64)p & size_mask(size);

	set_reg(c, di->reg, r, size);
	alu_set_res(c, r, size,
		    (__int128)(s64)sext(r, size) != p ? F_CF | F_OF : 0);
	dc_advance(c, di);
}

static void h_imul_r(struct cpu *c, const struct dinsn *di)
{
	imul_to_reg(c, di, get_reg(c, di->rm, di->size),
		    get_reg(c, di->reg, di->size));
}

static void h_imul_m(struct cpu *c, const struct dinsn *di)
{
	imul_to_reg(c, di, mem_read_fast(c, di->seg, dc_ea(c, di), di->size),
		    get_reg(c, di->reg, di->size));
}

static void h_nop(struct cpu *c, const struct dinsn *di)
{
	dc_advance(c, di);
}

/*
 * The rarer forms, which come in register and memory flavours through one
 * handler: the operand helpers below pick the way at run time.  A
 * read-modify-write reads through mem_read_rmw(), which checks for writing
 * too, so the write that follows cannot fault.
 */
static inline bool dc_is_mem(const struct dinsn *di)
{
	return di->rm == DC_NONE;
}

static inline u64 dc_rm_read(struct cpu *c, const struct dinsn *di)
{
	if (dc_is_mem(di))
		return mem_read_fast(c, di->seg, dc_ea(c, di), di->size);
	return get_reg(c, di->rm, di->size);
}

static inline u64 dc_rm_rmw(struct cpu *c, const struct dinsn *di, u64 ea)
{
	if (dc_is_mem(di))
		return mem_read_rmw(c, di->seg, ea, di->size);
	return get_reg(c, di->rm, di->size);
}

static inline void dc_rm_write(struct cpu *c, const struct dinsn *di,
			       u64 ea, u64 v)
{
	if (dc_is_mem(di))
		mem_write_fast(c, di->seg, ea, v, di->size);
	else
		set_reg(c, di->rm, v, di->size);
}

/* INC and DEC r/m (FE FF /0 /1); op 1 is DEC.  The preempt count's
 * INC/DEC fs:[x] makes the memory form hot. */
static void h_incdec_r(struct cpu *c, const struct dinsn *di)
{
	u64 a = get_reg(c, di->rm, di->size);

	a = di->op ? alu_dec(c, a, di->size) : alu_inc(c, a, di->size);
	set_reg(c, di->rm, a, di->size);
	dc_advance(c, di);
}

static void h_incdec_m(struct cpu *c, const struct dinsn *di)
{
	u64 ea = dc_ea(c, di), a = mem_read_rmw(c, di->seg, ea, di->size);

	a = di->op ? alu_dec(c, a, di->size) : alu_inc(c, a, di->size);
	mem_write_fast(c, di->seg, ea, a, di->size);
	dc_advance(c, di);
}

/* Shifts by CL (D2 D3): the count is read when the instruction runs. */
static void h_shift_cl(struct cpu *c, const struct dinsn *di)
{
	u64 ea = dc_ea(c, di), a = dc_rm_rmw(c, di, ea);

	a = alu_shift(c, di->op, a, c->r[R_ECX].d & dc_count_mask(di),
		      di->size);
	dc_rm_write(c, di, ea, a);
	dc_advance(c, di);
}

/* F6 F7: NOT, NEG, MUL, IMUL, DIV, IDIV (TEST is h_test_imm_*). */
static void h_not(struct cpu *c, const struct dinsn *di)
{
	u64 ea = dc_ea(c, di);

	dc_rm_write(c, di, ea, ~dc_rm_rmw(c, di, ea));
	dc_advance(c, di);
}

static void h_neg(struct cpu *c, const struct dinsn *di)
{
	u64 ea = dc_ea(c, di);

	dc_rm_write(c, di, ea, alu_neg(c, dc_rm_rmw(c, di, ea), di->size));
	dc_advance(c, di);
}

/* One-operand MUL (op 0) and IMUL (op 1): eDX:eAX (AX) = eAX * r/m. */
static void h_mul(struct cpu *c, const struct dinsn *di)
{
	alu_mul(c, di->size, dc_rm_read(c, di), di->op);
	dc_advance(c, di);
}

/* DIV (op 0) and IDIV (op 1), #DE before anything changes. */
static void h_div(struct cpu *c, const struct dinsn *di)
{
	alu_div(c, di->size, dc_rm_read(c, di), di->op);
	dc_advance(c, di);
}

/* IMUL r, r/m, imm (69 6B); imm is already sign-extended. */
static void h_imul3(struct cpu *c, const struct dinsn *di)
{
	imul_to_reg(c, di, dc_rm_read(c, di), di->imm);
}

/* CBW/CWDE/CDQE (98) and CWD/CDQ/CQO (99). */
static void h_cbw(struct cpu *c, const struct dinsn *di)
{
	int half = di->size / 2;

	set_reg(c, R_EAX, sext(get_reg(c, R_EAX, half), half), di->size);
	dc_advance(c, di);
}

static void h_cwd(struct cpu *c, const struct dinsn *di)
{
	u64 a = get_reg(c, R_EAX, di->size);

	set_reg(c, R_EDX, (a >> (di->size * 8 - 1)) ? ~0ull : 0, di->size);
	dc_advance(c, di);
}

/* XCHG r/m, r (86 87); with memory it is locked anyway, which one CPU
 * need not show. */
static void h_xchg(struct cpu *c, const struct dinsn *di)
{
	u64 ea = dc_ea(c, di), v = dc_rm_rmw(c, di, ea);

	dc_rm_write(c, di, ea, get_reg(c, di->reg, di->size));
	set_reg(c, di->reg, v, di->size);
	dc_advance(c, di);
}

/* CMPXCHG (0F B0 B1): a memory destination is written even when it
 * differs, as on the real thing (so a read-only page faults either way);
 * a register one is not (in 64-bit code its upper half stays). */
static void h_cmpxchg(struct cpu *c, const struct dinsn *di)
{
	u64 ea = dc_ea(c, di), dst = dc_rm_rmw(c, di, ea);
	u64 acc = get_reg(c, R_EAX, di->size);

	alu_arith(c, 7, acc, dst, di->size);
	if (acc == dst) {
		dc_rm_write(c, di, ea, get_reg(c, di->reg, di->size));
	} else {
		if (dc_is_mem(di))
			mem_write_fast(c, di->seg, ea, dst, di->size);
		set_reg(c, R_EAX, dst, di->size);
	}
	dc_advance(c, di);
}

/* XADD (0F C0 C1).  Memory is written before the register changes;
 * with the same register twice, the sum wins. */
static void h_xadd(struct cpu *c, const struct dinsn *di)
{
	u64 ea = dc_ea(c, di), dst = dc_rm_rmw(c, di, ea);
	u64 sum = alu_arith(c, 0, dst, get_reg(c, di->reg, di->size),
			    di->size);

	if (dc_is_mem(di)) {
		mem_write_fast(c, di->seg, ea, sum, di->size);
		set_reg(c, di->reg, dst, di->size);
	} else {
		set_reg(c, di->reg, dst, di->size);
		set_reg(c, di->rm, sum, di->size);
	}
	dc_advance(c, di);
}

/*
 * BT BTS BTR BTC: op & 3 is which, op & 4 an immediate bit offset (0F BA)
 * rather than a register (0F A3 AB B3 BB).  A register offset with a
 * memory operand is signed and picks the word, dword or qword it falls in.
 */
static void h_bt(struct cpu *c, const struct dinsn *di)
{
	int size = di->size, kind = di->op & 3;
	int shift = size == 2 ? 4 : size == 4 ? 5 : 6;
	u64 bit = di->op & 4 ? di->imm : get_reg(c, di->reg, size);
	u64 ea = dc_ea(c, di), v, mask;

	if (!(di->op & 4) && dc_is_mem(di)) {
		ea += (u64)(((s64)sext(bit, size) >> shift) * size);
		if (di->mode != 8)
			ea = (u32)ea;
	}
	mask = 1ull << (bit & (size * 8 - 1));
	if (kind == 0) {
		v = dc_is_mem(di) ? mem_read_fast(c, di->seg, ea, size) :
		    get_reg(c, di->rm, size);
	} else {
		v = dc_rm_rmw(c, di, ea);
		dc_rm_write(c, di, ea, kind == 1 ? v | mask :
				       kind == 2 ? v & ~mask : v ^ mask);
	}
	alu_set_flag(c, F_CF, v & mask);
	dc_advance(c, di);
}

/* XCHG eAX, r (91..97, and 90 with REX.B). */
static void h_xchg_eax(struct cpu *c, const struct dinsn *di)
{
	u64 v = get_reg(c, di->rm, di->size);

	set_reg(c, di->rm, get_reg(c, R_EAX, di->size), di->size);
	set_reg(c, R_EAX, v, di->size);
	dc_advance(c, di);
}

/* SHLD and SHRD (0F A4 A5 AC AD): op 1 is SHRD, op 2 a count in CL
 * rather than imm. */
static void h_shxd(struct cpu *c, const struct dinsn *di)
{
	u64 ea = dc_ea(c, di), a = dc_rm_rmw(c, di, ea);
	u64 b = get_reg(c, di->reg, di->size);
	u32 count = (u32)(di->op & 2 ? c->r[R_ECX].d : di->imm) &
		    dc_count_mask(di);

	a = di->op & 1 ? alu_shrd(c, a, b, count, di->size) :
	    alu_shld(c, a, b, count, di->size);
	dc_rm_write(c, di, ea, a);
	dc_advance(c, di);
}

/* CMPXCHG8B m64 (0F C7 /1): the whole quadword is checked for writing
 * first, and written back even when it differs. */
static void h_cmpxchg8b(struct cpu *c, const struct dinsn *di)
{
	u64 ea = dc_ea(c, di);
	u64 v, cmp = (u64)c->r[R_EDX].d << 32 | c->r[R_EAX].d;

	mem_check(c, di->seg, ea, 8, ACC_WRITE);
	v = mem_read64(c, di->seg, ea);
	if (v == cmp) {
		mem_write64(c, di->seg, ea,
			    (u64)c->r[R_ECX].d << 32 | c->r[R_EBX].d);
	} else {
		mem_write64(c, di->seg, ea, v);
		set_reg(c, R_EAX, (u32)v, 4);
		set_reg(c, R_EDX, (u32)(v >> 32), 4);
	}
	alu_set_flag(c, F_ZF, v == cmp);
	dc_advance(c, di);
}

/* BSF and BSR (0F BC, BD; with REP too, which a CPU without TZCNT and
 * LZCNT, as ours, ignores): op 1 is BSR.  A source of 0 sets ZF and
 * leaves the destination as it was; the other flags stay (exec_0f.c). */
static void h_bitscan(struct cpu *c, const struct dinsn *di)
{
	u64 v = dc_rm_read(c, di);

	if (v)
		set_reg(c, di->reg, di->op ? 63 - __builtin_clzll(v) :
				   __builtin_ctzll(v), di->size);
	alu_set_flag(c, F_ZF, !v);
	dc_advance(c, di);
}

static void h_bswap(struct cpu *c, const struct dinsn *di)
{
	if (di->size == 8)
		c->r[di->rm].q = __builtin_bswap64(c->r[di->rm].q);
	else
		set_reg(c, di->rm, __builtin_bswap32(c->r[di->rm].d), 4);
	dc_advance(c, di);
}

/* MOVZX and MOVSX to a 16-bit register (66 0F B6..BF); op 1: MOVSX. */
static void h_movx16(struct cpu *c, const struct dinsn *di)
{
	u64 v = dc_rm_read(c, di);

	set_reg16(c, di->reg, (u16)(di->op ? sext(v, di->size) : v));
	dc_advance(c, di);
}

/*
 * The string instructions without REP: one iteration, eSI and eDI moved
 * only after the accesses (REP forms and 16-bit addresses go to
 * exec_string.c).  The destination is always ES:eDI.  The index registers
 * are 32 bits wide in 32-bit code, 64 in 64-bit code.
 */
static inline u64 str_index(const struct cpu *c, const struct dinsn *di,
			    int r)
{
	return di->mode == 8 ? c->r[r].q : c->r[r].d;
}

static inline void str_step(struct cpu *c, const struct dinsn *di, int r)
{
	u64 step = (c->eflags & F_DF) ? -(u64)di->size : di->size;

	if (di->mode == 8)
		c->r[r].q += step;
	else
		c->r[r].d += (u32)step;
}

static void h_movs(struct cpu *c, const struct dinsn *di)
{
	u64 v = mem_read_fast(c, di->seg, str_index(c, di, R_ESI), di->size);

	mem_write_fast(c, S_ES, str_index(c, di, R_EDI), v, di->size);
	str_step(c, di, R_ESI);
	str_step(c, di, R_EDI);
	dc_advance(c, di);
}

static void h_cmps(struct cpu *c, const struct dinsn *di)
{
	u64 a = mem_read_fast(c, di->seg, str_index(c, di, R_ESI), di->size);
	u64 b = mem_read_fast(c, S_ES, str_index(c, di, R_EDI), di->size);

	alu_arith(c, 7, a, b, di->size);
	str_step(c, di, R_ESI);
	str_step(c, di, R_EDI);
	dc_advance(c, di);
}

static void h_stos(struct cpu *c, const struct dinsn *di)
{
	mem_write_fast(c, S_ES, str_index(c, di, R_EDI),
		       get_reg(c, R_EAX, di->size), di->size);
	str_step(c, di, R_EDI);
	dc_advance(c, di);
}

static void h_lods(struct cpu *c, const struct dinsn *di)
{
	u64 v = mem_read_fast(c, di->seg, str_index(c, di, R_ESI), di->size);

	set_reg(c, R_EAX, v, di->size);
	str_step(c, di, R_ESI);
	dc_advance(c, di);
}

static void h_scas(struct cpu *c, const struct dinsn *di)
{
	u64 b = mem_read_fast(c, S_ES, str_index(c, di, R_EDI), di->size);

	alu_arith(c, 7, get_reg(c, R_EAX, di->size), b, di->size);
	str_step(c, di, R_EDI);
	dc_advance(c, di);
}

/* LEAVE: read the saved frame pointer first, so that a fault finds the
 * stack pointer untouched. */
static void h_leave(struct cpu *c, const struct dinsn *di)
{
	u32 ebp = c->r[R_EBP].d, v;

	if (di->mode == 8) {
		u64 rbp = c->r[R_EBP].q;

		c->r[R_EBP].q = mem_read_fast(c, S_SS, rbp, 8);
		c->r[R_ESP].q = rbp + 8;
		c->rip += di->len;
		return;
	}
	if (likely(stack32(c))) {
		v = mem_read_fast(c, S_SS, ebp, 4);
		c->r[R_ESP].d = ebp + 4;
	} else {
		v = mem_read_fast(c, S_SS, ebp & 0xffff, 4);
		c->r[R_ESP].d = (c->r[R_ESP].d & 0xffff0000u) |
			      ((ebp + 4) & 0xffff);
	}
	c->r[R_EBP].d = v;
	c->eip += di->len;
}

/* PUSHFD and PUSHFQ.  Both fast paths run only outside virtual-8086 mode,
 * where PUSHF has no IOPL check; the image has VM and RF clear. */
static void h_pushf(struct cpu *c, const struct dinsn *di)
{
	cpu_push(c, cpu_get_eflags(c) & ~(F_VM | F_RF), di->size);
	dc_advance(c, di);
}

/* FF /2 /4 /6: CALL, JMP and PUSH r/m, 4 bytes in 32-bit code and 8 in
 * 64-bit code.  The operand is read before the stack pointer moves (so
 * [esp+n] means the old ESP). */
static void h_call_ind(struct cpu *c, const struct dinsn *di)
{
	u64 target = dc_target(c, di, dc_rm_read(c, di));

	cpu_push(c, dc_next(c, di), di->size);
	c->rip = target;
}

static void h_jmp_ind(struct cpu *c, const struct dinsn *di)
{
	dc_jump(c, di, dc_rm_read(c, di));
}

static void h_push_rm(struct cpu *c, const struct dinsn *di)
{
	cpu_push(c, dc_rm_read(c, di), di->size);
	dc_advance(c, di);
}

/*
 * 32-bit forms of the commonest handlers, for 32-bit code: most kernel
 * code is 32-bit, and without the operand size or the mode to look at these
 * are a few host instructions.  (They leave the upper halves alone, which
 * only 64-bit code may see.)
 */
static void h_mov_rm_r_r32(struct cpu *c, const struct dinsn *di)
{
	c->r[di->rm].d = c->r[di->reg].d;
	c->eip += di->len;
}

static void h_mov_rm_r_m32(struct cpu *c, const struct dinsn *di)
{
	mem_write_fast(c, di->seg, dc_ea(c, di), c->r[di->reg].d, 4);
	c->eip += di->len;
}

static void h_mov_r_rm_m32(struct cpu *c, const struct dinsn *di)
{
	c->r[di->reg].d = mem_read_fast(c, di->seg, dc_ea(c, di), 4);
	c->eip += di->len;
}

static void h_alu_rm_r_r32(struct cpu *c, const struct dinsn *di)
{
	u32 r = alu_arith(c, di->op, c->r[di->rm].d, c->r[di->reg].d, 4);

	if (di->op != 7)
		c->r[di->rm].d = r;
	c->eip += di->len;
}

static void h_alu_r_rm_r32(struct cpu *c, const struct dinsn *di)
{
	u32 r = alu_arith(c, di->op, c->r[di->reg].d, c->r[di->rm].d, 4);

	if (di->op != 7)
		c->r[di->reg].d = r;
	c->eip += di->len;
}

static void h_alu_r_rm_m32(struct cpu *c, const struct dinsn *di)
{
	u32 b = mem_read_fast(c, di->seg, dc_ea(c, di), 4);
	u32 r = alu_arith(c, di->op, c->r[di->reg].d, b, 4);

	if (di->op != 7)
		c->r[di->reg].d = r;
	c->eip += di->len;
}

static void h_alu_rm_imm_r32(struct cpu *c, const struct dinsn *di)
{
	u32 r = alu_arith(c, di->op, c->r[di->rm].d, di->imm, 4);

	if (di->op != 7)
		c->r[di->rm].d = r;
	c->eip += di->len;
}

static void h_shift_r32(struct cpu *c, const struct dinsn *di)
{
	c->r[di->rm].d = alu_shift(c, di->op, c->r[di->rm].d, (u32)di->imm,
				   4);
	c->eip += di->len;
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

/* --- From the decoded form to a handler --- */

/*
 * The decoder (decode.c) has read the instruction; what is left is to
 * pick the handler for its exact form and copy its operands into the
 * entry.  di->rm is DC_NONE for a memory operand, whose address is
 * base + index << scale + disp in segment seg.
 */
static void dc_operands(const struct insn *d, struct dinsn *di)
{
	di->mode = d->mode;
	di->osize = d->opsize;
	di->reg = d->reg;
	di->rm = d->rm;
	di->base = di->index = DC_NONE;
	di->scale = 0;
	di->disp = 0;
	di->seg = d->seg_override >= 0 ? d->seg_override : S_DS;
	if (!d->has_modrm || d->mod == 3)
		return;
	if (d->base == DR_RIP)
		di->base = DC_RIP;
	else if (d->base != DR_NONE)
		di->base = d->base;
	if (d->index != DR_NONE) {
		di->index = d->index;
		di->scale = d->scale;
	}
	di->disp = (u32)d->disp;
	if (d->seg_override < 0)
		di->seg = d->def_seg;
	di->rm = DC_NONE;	/* marks the memory form */
}

/* Pick the register or memory form of a ModRM instruction. */
static dc_fn by_mod(const struct dinsn *di, dc_fn r, dc_fn m)
{
	return di->rm == DC_NONE ? m : r;
}

/* An Ib operand sign-extended (83, 6A, 6B, Jb), to 64 bits: the
 * handlers use the operand size's worth of it. */
static u64 imm8s(const struct insn *d)
{
	return (u64)(s64)(s8)d->imm;
}

/* F6 F7: TEST, NOT, NEG, MUL, IMUL, DIV, IDIV. */
static dc_fn form_grp3(const struct insn *d, struct dinsn *di)
{
	switch (di->reg) {
	case 0: case 1:
		di->imm = imm_z(d);
		return by_mod(di, h_test_imm_r, h_test_imm_m);
	case 2:
		return h_not;
	case 3:
		return h_neg;
	case 4: case 5:
		di->op = di->reg & 1;
		return h_mul;
	default:
		di->op = di->reg & 1;
		return h_div;
	}
}

/* FE FF: INC, DEC; FF's near CALL, JMP and PUSH. */
static dc_fn form_grp45(struct dinsn *di, u8 op)
{
	di->op = di->reg & 1;
	if (di->reg < 2)
		return by_mod(di, h_incdec_r, h_incdec_m);
	if (op == 0xfe)
		return NULL;
	switch (di->reg) {
	case 2: return h_call_ind;
	case 4: return h_jmp_ind;
	case 6: return h_push_rm;
	}
	return NULL;	/* far CALL and JMP change CS: never here */
}

/* The two-byte map, 0F xx. */
static dc_fn form_0f(const struct insn *d, struct dinsn *di)
{
	u8 op2 = d->op;

	switch (op2) {
	case 0x1f:	/* the long NOP: the operand is never accessed */
		return h_nop;
	case 0x40 ... 0x4f:
		di->op = op2 & 15;
		return by_mod(di, h_cmov_r, h_cmov_m);
	case 0x80 ... 0x8f:
		di->op = op2 & 15;
		di->imm = rel_z(d);
		return h_jcc;
	case 0x90 ... 0x9f:
		di->op = op2 & 15;
		di->size = 1;
		return by_mod(di, h_setcc_r, h_setcc_m);
	case 0xa3: case 0xab: case 0xb3: case 0xbb:
		di->op = (op2 >> 3) & 3;
		return h_bt;
	case 0xa4: case 0xa5: case 0xac: case 0xad:
		di->op = (op2 >> 3 & 1) | (op2 & 1) << 1;
		if (!(op2 & 1))
			di->imm = (u8)d->imm;
		return h_shxd;
	case 0xaf:
		return by_mod(di, h_imul_r, h_imul_m);
	case 0xb0: case 0xb1:
		di->size = op2 & 1 ? di->size : 1;
		return h_cmpxchg;
	case 0xb6: case 0xb7: case 0xbe: case 0xbf:
		di->op = op2 >= 0xbe;
		di->size = (op2 & 1) ? 2 : 1;
		if (d->opsize_prefix)
			return h_movx16;
		return by_mod(di, h_movx_r, h_movx_m);
	case 0xba:
		di->op = 4 | (di->reg & 3);
		di->imm = (u8)d->imm;
		return h_bt;
	case 0xc0: case 0xc1:
		di->size = op2 & 1 ? di->size : 1;
		return h_xadd;
	case 0xc7:	/* /1 m; /6 and /7 are RDRAND and RDSEED */
		return di->reg == 1 && dc_is_mem(di) && di->size != 8 ?
		       h_cmpxchg8b : NULL;	/* not CMPXCHG16B */
	case 0xbc: case 0xbd:
		di->op = op2 & 1;
		return h_bitscan;
	case 0xc8 ... 0xcf:
		di->rm = op_reg(d);
		return h_bswap;
	}
	return NULL;
}

/* The one-byte map; vs is the operand size of the "v" forms (2 or 4). */
static dc_fn form_1b(const struct insn *d, struct dinsn *di)
{
	u8 op = d->op;
	int vs = di->size;

	if (op < 0x40 && (op & 7) < 4) {
		di->op = op >> 3;
		di->size = (op & 1) ? vs : 1;
		if (op & 2)
			return by_mod(di, h_alu_r_rm_r, h_alu_r_rm_m);
		return by_mod(di, h_alu_rm_r_r, h_alu_rm_r_m);
	}
	if (op < 0x40 && (op & 7) < 6) {
		di->op = op >> 3;
		di->size = (op & 1) ? vs : 1;
		di->imm = (op & 1) ? imm_z(d) : d->imm;
		di->rm = R_EAX;
		return h_alu_rm_imm_r;
	}
	if (op >= 0x70 && op <= 0x7f) {
		di->op = op & 15;
		di->imm = imm8s(d);
		return h_jcc;
	}
	switch (op) {
	case 0x40 ... 0x47:	/* REX prefixes in 64-bit code */
		di->reg = op & 7;
		return h_inc;
	case 0x48 ... 0x4f:
		di->reg = op & 7;
		return h_dec;
	case 0x50 ... 0x57:
		di->reg = op_reg(d);
		return h_push_r;
	case 0x58 ... 0x5f:
		di->reg = op_reg(d);
		return h_pop_r;
	case 0x63:		/* ARPL outside 64-bit code: not here */
		if (d->mode != 8)
			return NULL;
		di->op = 1;
		di->size = 4;
		return by_mod(di, h_movx_r, h_movx_m);	/* MOVSXD */
	case 0x68:
		di->imm = imm_z(d);
		return h_push_imm;
	case 0x69: case 0x6b:
		di->imm = op == 0x6b ? imm8s(d) : imm_z(d);
		return h_imul3;
	case 0x6a:
		di->imm = imm8s(d);
		return h_push_imm;
	case 0x80: case 0x81: case 0x83:
		di->size = op == 0x80 ? 1 : vs;
		di->op = di->reg;
		di->imm = op == 0x83 ? imm8s(d) : op == 0x81 ? imm_z(d) : d->imm;
		return by_mod(di, h_alu_rm_imm_r, h_alu_rm_imm_m);
	case 0x84: case 0x85:
		di->size = op == 0x84 ? 1 : vs;
		return by_mod(di, h_test_r, h_test_m);
	case 0x86: case 0x87:
		di->size = op == 0x86 ? 1 : vs;
		return h_xchg;
	case 0x88: case 0x89:
		di->size = op == 0x88 ? 1 : vs;
		return by_mod(di, h_mov_rm_r_r, h_mov_rm_r_m);
	case 0x8a: case 0x8b:
		di->size = op == 0x8a ? 1 : vs;
		return by_mod(di, h_mov_r_rm_r, h_mov_r_rm_m);
	case 0x8d:
		return h_lea;		/* the decoder let only m through */
	case 0x90:
		if (!(d->rex & 1))
			return h_nop;
		__attribute__((fallthrough));	/* REX.B: XCHG r8, rAX */
	case 0x91 ... 0x97:
		di->rm = op_reg(d);
		return h_xchg_eax;
	case 0x98:
		return h_cbw;
	case 0x99:
		return h_cwd;
	case 0x9c:
		return h_pushf;
	case 0xa0 ... 0xa3:
		if (d->mode == 8)	/* a 64-bit moffs */
			return NULL;
		di->size = (op & 1) ? vs : 1;
		di->disp = (u32)d->imm;
		/* As MOV eAX, [disp32], for the translator. */
		di->reg = R_EAX;
		return (op & 2) ? h_moffs_store : h_moffs_load;
	case 0xa4 ... 0xa7: case 0xaa ... 0xaf: {
		static const dc_fn str[6] = {
			h_movs, h_cmps, NULL, h_stos, h_lods, h_scas,
		};

		di->size = (op & 1) ? vs : 1;
		return str[(op - 0xa4) >> 1];
	}
	case 0xa8: case 0xa9:
		di->size = op == 0xa8 ? 1 : vs;
		di->imm = op == 0xa8 ? d->imm : imm_z(d);
		di->rm = R_EAX;
		return h_test_imm_r;
	case 0xb0 ... 0xb7:
		di->size = 1;
		di->rm = op_reg(d);
		di->imm = (u8)d->imm;
		return h_mov_rm_imm_r;
	case 0xb8 ... 0xbf:	/* Iv: eight bytes with REX.W */
		di->rm = op_reg(d);
		di->imm = d->imm;
		return h_mov_rm_imm_r;
	case 0xc0: case 0xc1: case 0xd0: case 0xd1:
		di->size = (op & 1) ? vs : 1;
		di->op = di->reg;
		di->imm = (op <= 0xc1 ? (u8)d->imm : 1) & dc_count_mask(di);
		return by_mod(di, h_shift_r, h_shift_m);
	case 0xc3:
		return h_ret;
	case 0xc6: case 0xc7:
		di->size = op == 0xc6 ? 1 : vs;
		di->imm = op == 0xc6 ? d->imm : imm_z(d);
		return by_mod(di, h_mov_rm_imm_r, h_mov_rm_imm_m);
	case 0xc9:
		return h_leave;
	case 0xd2: case 0xd3:
		di->size = (op & 1) ? vs : 1;
		di->op = di->reg;
		return h_shift_cl;
	case 0xe8:
		di->imm = rel_z(d);
		return h_call;
	case 0xe9:
		di->imm = rel_z(d);
		return h_jmp;
	case 0xeb:
		di->imm = imm8s(d);
		return h_jmp;
	case 0xf6: case 0xf7:
		di->size = op == 0xf6 ? 1 : vs;
		return form_grp3(d, di);
	case 0xfe: case 0xff:
		di->size = op == 0xfe ? 1 : vs;
		return form_grp45(di, d->op);
	}
	return NULL;
}

/* The handlers that honour di->size = 2, for a 66 prefix. */
static bool dc_o16_ok(dc_fn fn)
{
	static const dc_fn ok[] = {
		h_alu_rm_r_r, h_alu_rm_r_m, h_alu_r_rm_r, h_alu_r_rm_m,
		h_alu_rm_imm_r, h_alu_rm_imm_m, h_test_r, h_test_m,
		h_test_imm_r, h_test_imm_m, h_mov_rm_r_r, h_mov_rm_r_m,
		h_mov_r_rm_r, h_mov_r_rm_m, h_mov_rm_imm_r, h_mov_rm_imm_m,
		h_moffs_load, h_moffs_store, h_shift_r, h_shift_m,
		h_shift_cl, h_incdec_r, h_incdec_m, h_not, h_neg, h_mul,
		h_div, h_imul3, h_cbw, h_cwd, h_xchg, h_cmpxchg, h_xadd,
		h_bt, h_movx16, h_nop, h_movs, h_cmps, h_stos, h_lods,
		h_scas, h_xchg_eax, h_shxd, h_bitscan,
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ok); i++)
		if (fn == ok[i])
			return true;
	return false;
}

/*
 * With a REX prefix, byte registers 4..7 are SPL, BPL, SIL and DIL, not
 * AH..BH: the entry's byte-register operands say so (REG8_REX).  MOVZX
 * and MOVSX have a byte source only; their reg is the wide destination.
 */
static void rex_byte_regs(const struct insn *d, struct dinsn *di, dc_fn fn)
{
	if (!d->rex || di->size != 1)
		return;
	if (di->rm != DC_NONE)
		di->rm |= REG8_REX;
	if (fn != h_movx_r && fn != h_movx_m)
		di->reg |= REG8_REX;
}

/* A REP prefix that changes nothing: F3 90 is PAUSE, and F2 or F3 on
 * BSF and BSR is ignored by a CPU without TZCNT and LZCNT. */
static bool rep_ignored(const struct insn *d)
{
	if (d->map == MAP_0F)
		return d->op == 0xbc || d->op == 0xbd;
	return d->rep == 0xf3 && d->op == 0x90 && d->map == MAP_1B;
}

/*
 * The handler for the decoded instruction d (32-bit or 64-bit code), or
 * NULL if it has none.  Prefixes: segment overrides, REX, 66 where the
 * handler honours the operand size, LOCK wherever the decoder let it
 * stand (a read-modify-write of memory: with one CPU the lock shows
 * nowhere), and REP only where rep_ignored(); REP string forms and 67
 * (the other address size) go to the full interpreter.
 */
static dc_fn fast_form(const struct insn *d, struct dinsn *di)
{
	dc_fn fn;

	if (d->adsize != d->mode || (d->rep && !rep_ignored(d)))
		return NULL;
	di->size = d->opsize;
	dc_operands(d, di);
	if (d->map == MAP_1B)
		fn = form_1b(d, di);
	else if (d->map == MAP_0F)
		fn = form_0f(d, di);
	else
		return NULL;
	if (fn && d->opsize_prefix && !dc_o16_ok(fn))
		return NULL;
	if (fn)
		rex_byte_regs(d, di, fn);
	return fn;
}

/* Decode the bytes at h (code of the given mode) and find their fast
 * form. */
static dc_fn decode_fast(const u8 *h, u32 avail, int mode, struct insn *d,
			 struct dinsn *di)
{
	if (decode(h, avail, mode, d) <= 0)
		return NULL;
	return fast_form(d, di);
}

/* The handler an entry runs: the 32-bit form where 32-bit code has one. */
static dc_fn dc_pick(const struct dinsn *di, dc_fn fn)
{
	return di->size == 4 && di->mode == 4 ? dc_fn32(fn) : fn;
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

static inline bool dc_same(const struct dinsn *di, const u8 *h, int mode)
{
	u32 len = di->len ? di->len : 1;

	if (di->mode != mode)
		return false;
	if ((load64(h) ^ di->raw[0]) & len_mask(len))
		return false;
	return len <= 8 || !((load64(h + 8) ^ di->raw[1]) & len_mask(len - 8));
}

static void slow(struct cpu *c, const struct dinsn *di)
{
	(void)di;
	cpu_exec_one(c);
}

static u8 dc_flow(dc_fn fn)
{
	if (fn == h_jcc)
		return DF_JCC;
	if (fn == h_jmp)
		return DF_JMP;
	if (fn == h_call)
		return DF_CALL;
	if (fn == h_ret)
		return DF_RET;
	if (fn == h_call_ind || fn == h_jmp_ind)
		return DF_INDIRECT;
	return DF_NEXT;
}

/* Does the form reach memory (and so, maybe, a device)? */
static bool dc_mem(const struct dinsn *di, dc_fn fn)
{
	static const dc_fn always[] = {
		h_moffs_load, h_moffs_store, h_push_r, h_pop_r, h_push_imm,
		h_call, h_ret, h_call_ind, h_push_rm, h_pushf, h_leave,
		h_movs, h_cmps, h_stos, h_lods, h_scas,
	};
	size_t i;

	if (fn == h_lea || fn == h_nop)	/* 0F 1F: an operand never read */
		return false;
	for (i = 0; i < ARRAY_SIZE(always); i++)
		if (fn == always[i])
			return true;
	return dc_is_mem(di);
}

/*
 * The forms the translator writes at every operand size, bytes and words
 * too (the loops of real programs compare, count and copy bytes: gzip's,
 * the shell's); 0 for another form.
 */
static u8 dc_kind_any_size(const struct dinsn *di)
{
	static const struct { dc_fn fn; u8 kind; } kinds[] = {
		{ h_mov_rm_r_r, DK_MOV_RM_R },
		{ h_mov_r_rm_r, DK_MOV_R_RM },
		{ h_mov_rm_imm_r, DK_MOV_RI },
		{ h_alu_rm_r_r, DK_ALU_RM_R },
		{ h_alu_r_rm_r, DK_ALU_R_RM },
		{ h_alu_rm_imm_r, DK_ALU_RI },
		{ h_test_r, DK_TEST_RR },
		{ h_test_imm_r, DK_TEST_RI },
		{ h_mov_r_rm_m, DK_LOAD },
		{ h_mov_r_rm_m32, DK_LOAD },
		{ h_mov_rm_r_m, DK_STORE },
		{ h_mov_rm_r_m32, DK_STORE },
		{ h_mov_rm_imm_m, DK_STORE_I },
		{ h_alu_r_rm_m, DK_ALU_R_M },
		{ h_alu_r_rm_m32, DK_ALU_R_M },
		{ h_alu_rm_r_m, DK_ALU_M_R },
		{ h_alu_rm_imm_m, DK_ALU_M_I },
		{ h_test_m, DK_TEST_M_R },
		{ h_test_imm_m, DK_TEST_M_I },
		{ h_incdec_m, DK_INCDEC_M },
		{ h_not, DK_NOT },
		{ h_neg, DK_NEG },
		{ h_moffs_load, DK_LOAD },
		{ h_moffs_store, DK_STORE },
		{ h_nop, DK_NOP },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(kinds); i++)
		if (kinds[i].fn == di->fn)
			return kinds[i].kind;
	return 0;
}

static u8 dc_kind(const struct dinsn *di)
{
	static const struct { dc_fn fn; u8 kind; } kinds[] = {
		{ h_mov_rm_r_r32, DK_MOV_RM_R },
		{ h_lea, DK_LEA },
		{ h_alu_rm_r_r32, DK_ALU_RM_R },
		{ h_alu_r_rm_r32, DK_ALU_R_RM },
		{ h_alu_rm_imm_r32, DK_ALU_RI },
		{ h_inc, DK_INC },
		{ h_dec, DK_DEC },
		{ h_push_r, DK_PUSH },
		{ h_push_imm, DK_PUSH_I },
		{ h_pop_r, DK_POP },
		{ h_jcc, DK_JCC },
		{ h_jmp, DK_JMP },
		{ h_call, DK_CALLREL },
		{ h_ret, DK_RET },
		{ h_shift_r32, DK_SHIFT_RI },
		{ h_imul_r, DK_IMUL },
		{ h_imul_m, DK_IMUL },
		{ h_imul3, DK_IMUL3 },
		{ h_cmov_m, DK_CMOV_RM },
		/* 64-bit code has no 32-bit forms (dc_pick()) */
		{ h_shift_r, DK_SHIFT_RI },
	};
	size_t i;
	u8 any = dc_kind_any_size(di);

	if (any)
		return any;
	if (di->mode == 8 && di->osize < 4)	/* 66 in 64-bit code */
		return DK_CALL;
	if (di->fn == h_setcc_r)
		return DK_SETCC_R;
	if (di->fn == h_bswap)
		return di->size >= 4 ? DK_BSWAP : DK_CALL;
	if (di->fn == h_pushf)
		return di->size == di->mode ? DK_PUSHF : DK_CALL;
	if (di->fn == h_shxd)
		return di->rm != DC_NONE && di->size >= 4 ? DK_SHXD : DK_CALL;
	if (di->fn == h_bitscan)
		return di->rm != DC_NONE && di->size >= 4 ? DK_BITSCAN :
		       DK_CALL;
	if (di->fn == h_bt)
		return di->size >= 4 ? DK_BT : DK_CALL;
	if (di->mode == 4 && (di->fn == h_movs || di->fn == h_stos ||
			      di->fn == h_lods))
		return di->fn == h_movs ? DK_MOVS :
		       di->fn == h_stos ? DK_STOS : DK_LODS;
	if (di->fn == h_cmov_r && (di->size == 4 || di->size == 8))
		return DK_CMOV_RR;
	if (di->fn == h_mul && (di->size == 4 || di->size == 8))
		return DK_MUL;
	if (di->fn == h_movx_r)
		return DK_MOVX_R;
	if (di->fn == h_movx_m)
		return DK_LOADX;
	if (di->fn == h_shift_m)
		return di->size != 8 || di->mode == 8 ? DK_SHIFT_M : DK_CALL;
	if (di->fn == h_shift_cl)	/* registers of 4 or 8 bytes */
		return di->rm != DC_NONE && di->size >= 4 ? DK_SHIFT_CL :
		       DK_CALL;
	if (di->fn == h_push_rm)	/* the stack's width, from memory */
		return di->rm == DC_NONE && di->size == di->mode ?
		       DK_PUSH_M : DK_CALL;
	if (di->fn == h_jmp_ind || di->fn == h_call_ind)
		return di->size != di->mode ? DK_CALL :
		       di->fn == h_jmp_ind ? DK_JMP_IND : DK_CALL_IND;
	if (di->fn == h_leave)
		return di->size == di->mode ? DK_LEAVE : DK_CALL;
	if (di->fn == h_shift_r)	/* any size but 64-bit code's 66 */
		return DK_SHIFT_RI;
	if (di->size != 4 && (di->size != 8 || di->mode != 8))
		return DK_CALL;
	if ((di->fn == h_xchg || di->fn == h_cmpxchg) && di->rm == DC_NONE)
		return di->fn == h_xchg ? DK_XCHG_M : DK_CMPXCHG_M;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].fn == di->fn)
			return kinds[i].kind;
	return DK_CALL;
}

/*
 * The x87 (D8-DF): its instructions change nothing that a translated
 * block depends on (CS, EFLAGS.IF, paging), so a block may go on through
 * them.  Decoded here are the escape byte (op), the ModRM byte (imm) and
 * the memory operand; fpu.c does the rest, as from exec.c.
 */
static void h_x87(struct cpu *c, const struct dinsn *di)
{
	cpu_insn_begins(c);	/* the x87 keeps EIP as FIP */
	if (c->cr0 & (CR0_EM | CR0_TS))
		cpu_raise(c, EXC_NM, 0);
	fpu_exec(c, di->op, (u8)di->imm, di->seg,
		 di->rm == DC_NONE ? dc_ea(c, di) : 0, 4);
	c->eip = dc_next(c, di);
}

static u32 min_u32(u32 a, u32 b)
{
	return a < b ? a : b;
}

static u32 x87_form(const struct insn *d, const u8 *h, struct dinsn *di)
{
	if (d->map != MAP_1B || d->op < 0xd8 || d->op > 0xdf ||
	    d->opsize_prefix || d->mode != 4 || d->adsize != 4 || d->rep)
		return 0;
	dc_operands(d, di);
	di->op = d->op;
	di->imm = d->modrm;
	di->fn = h_x87;
	di->flow = DF_NEXT;
	di->mem = di->rm == DC_NONE;
	di->kind = DK_X87;
	di->len = d->len;
	di->host = h;
	return d->len;
}

/*
 * A few system instructions go inside translated blocks too, run by the
 * interpreter (exec.c) where they stand, because they are frequent and change
 * nothing a block depends on (CS, EFLAGS.IF and TF, paging, HLT): RDTSC
 * (the kernel's delays and clocks), CPUID, IN and OUT (a device they
 * reach may raise INTR or stop us: mem makes the block check after), and
 * INVLPG (inline accesses check every TLB entry they use).  So do the
 * MMX, SSE and SSE2 forms that simd_form() leaves out (0F AE, EMMS, the
 * 67 prefix, forms that are #UD).
 */
static void h_full(struct cpu *c, const struct dinsn *di)
{
	(void)di;
	cpu_insn_begins(c);
	cpu_exec_one(c);
}

/*
 * An instruction that runs over the end of its page, at the end of a
 * block (jit.c's translate()), which would otherwise leave translated
 * code each time.  Its bytes in the next page, which nothing watches for
 * the block, are read again (with the faults that fetching them raises)
 * and must be those the block was made from: then it is one of the forms
 * a block may run, and the interpreter runs it.  If they are not, it does
 * not run: the block leaves (INTR_CODE) with its count put back, and the
 * dispatcher runs whatever is there now.
 */
void h_straddle(struct cpu *c, const struct dinsn *di)
{
	bool wide = di->mode == 8;
	u64 eip = wide ? c->rip : c->eip;
	u64 lin = wide ? eip : (u32)(c->seg[S_CS].base + eip);
	u32 k = 0x1000 - (u32)(lin & 0xfff);
	u8 raw[sizeof(di->raw)];

	memcpy(raw, di->raw, sizeof(raw));
	cpu_insn_begins(c);
	for (; k < di->len; k++) {
		if (code_read8(c, wide ? eip + k : (u32)(eip + k)) != raw[k]) {
			c->intr |= INTR_CODE;
			c->ictr--;
			return;
		}
	}
	cpu_exec_one(c);
}

/* RDTSC, the most frequent of them (the kernel's clock): sys_rdtsc()
 * makes its one check (CR4.TSD), no need to decode it again each time. */
static void h_rdtsc(struct cpu *c, const struct dinsn *di)
{
	sys_rdtsc(c);
	dc_advance(c, di);
}

/* The entry of the instruction d at h that calls fn (DK_CALL), with
 * di->mem already said; returns its length. */
static u32 call_entry(const struct insn *d, const u8 *h, struct dinsn *di,
		      dc_fn fn, u8 flow)
{
	dc_operands(d, di);
	di->fn = fn;
	di->flow = flow;
	di->kind = DK_CALL;
	di->len = d->len;
	di->host = h;
	return d->len;
}

static u32 full_form(const struct insn *d, const u8 *h, struct dinsn *di)
{
	u8 op = d->op;

	if (d->map == MAP_1B && ((op >= 0xe4 && op <= 0xe7) ||
				 (op >= 0xec && op <= 0xef)))
		di->mem = true;
	else if (d->map == MAP_0F && sse_opcode(op))	/* and MMX */
		di->mem = true;	/* (0F AE /7 mod 3: SFENCE; no harm) */
	else if (d->map != MAP_0F ||
		 !(op == 0x31 || op == 0xa2 ||			/* RDTSC, CPUID */
		   (op == 0x01 && d->reg == 7 && d->mod != 3)))	/* INVLPG m */
		return 0;
	return call_entry(d, h, di, d->map == MAP_0F && op == 0x31 ?
				    h_rdtsc : h_full, DF_NEXT);
}

/*
 * The segment registers, which every entry to Linux's 32-bit kernel and
 * every return from it pushes, loads and pops (entry_32.S), with IRET at
 * the end: run in a block by the interpreter, where they would otherwise
 * each leave translated code.  Reading a selector (MOV r/m, Sreg; PUSH
 * Sreg) changes nothing a block depends on.  Loading DS, ES, FS or GS
 * and IRET may (the segments a block's accesses take as flat, the CPL),
 * so the block ends with them and the dispatcher looks again (DF_LEAVE).
 * MOV SS and POP SS are left out: the interrupt shadow they set is the
 * run loop's to keep.
 */
static u32 seg_form(const struct insn *d, const u8 *h, struct dinsn *di)
{
	u8 op = d->op, flow = DF_NEXT;
	bool legacy = d->mode == 4 && d->map == MAP_1B;
	bool data_seg = d->reg == 0 || (d->reg >= 3 && d->reg <= 5);

	if ((legacy && (op == 0x06 || op == 0x0e || op == 0x16 ||
			op == 0x1e)) ||			/* PUSH ES..DS */
	    (d->map == MAP_0F && (op == 0xa0 || op == 0xa8)) ||
	    (d->map == MAP_1B && op == 0x8c && d->reg < 6))
		di->mem = op != 0x8c || d->mod != 3;
	else if ((legacy && (op == 0x07 || op == 0x1f)) ||	/* POP ES */
		 (d->map == MAP_0F && (op == 0xa1 || op == 0xa9)) ||
		 (d->map == MAP_1B && op == 0x8e && data_seg) ||
		 (d->map == MAP_1B && op == 0xcf)) {		/* IRET */
		di->mem = true;
		flow = DF_LEAVE;
	} else {
		return 0;
	}
	return call_entry(d, h, di, h_full, flow);
}

/*
 * MMX, SSE and SSE2 (sse.c), which 64-bit code uses for all its floating
 * point and its string functions, and 32-bit code for its string
 * functions: they change nothing a block depends on either, and sse.c
 * runs them from the entry, decoded once (sse_form()).  MASKMOVQ and
 * MASKMOVDQU write memory through a register form.
 */
static u32 simd_form(const struct insn *d, const u8 *h, struct dinsn *di)
{
	dc_fn fn;

	if (d->map != MAP_0F)
		return 0;
	dc_operands(d, di);
	fn = sse_form(d, di);
	if (!fn) {
		memset(di, 0, sizeof(*di));
		return 0;
	}
	di->fn = fn;
	di->flow = DF_NEXT;
	di->kind = sse_jit_form(di, NULL) ? DK_SSE : DK_CALL;
	if (d->op == 0xae) {		/* sse_form() takes only the fences */
		di->kind = DK_FENCE;
		di->op = d->reg;
	}
	di->mem = di->rm == DC_NONE || d->op == 0xf7;
	di->len = d->len;
	di->host = h;
	return d->len;
}

/*
 * CLI, STI, CLD and STD as exec.c runs them, and the REP string
 * instructions through exec_string() itself, without decoding them again
 * each time: from what interp_form() kept (for a string, the REP prefix
 * in reg and the address size in scale).
 */
static void h_flag_insn(struct cpu *c, const struct dinsn *di)
{
	if (di->op == 0xfc)
		c->eflags &= ~F_DF;
	else if (di->op == 0xfd)
		c->eflags |= F_DF;
	else
		exec_cli_sti(c, di->op == 0xfb);
	dc_advance(c, di);
}

static void h_rep_string(struct cpu *c, const struct dinsn *di)
{
	u64 eip = di->mode == 8 ? c->rip : c->eip;
	u8 op = di->op;
	struct insn d = {
		.mode = di->mode,
		.opsize = di->osize,
		.adsize = di->scale,
		.rep = di->reg,
		.seg_override = (s8)di->seg,
		.start = eip,
		.next = di->mode == 8 ? eip + di->len : (u32)(eip + di->len),
	};

	if (di->scale == 4 && di->mode == 4 &&
	    ((op & ~1) == 0xa4 || (op & ~1) == 0xaa) &&
	    exec_rep_quick(c, op, op & 1 ? di->osize : 1,
			   (s8)di->seg >= 0 ? (s8)di->seg : S_DS)) {
		c->rip = d.next;
		return;
	}
	cpu_insn_begins(c);
	exec_string(c, &d, op);
	c->rip = d.next;
}

/*
 * More instructions the interpreter runs inside translated blocks, for
 * they are frequent and would otherwise end a block each time: CLD, STD
 * and CLI (a block depends on none of DF, or IF being set), STI (which
 * sets IF: the block checks for an interrupt right after, so one waiting
 * is taken past the instruction STI's shadow covers, by the run loop),
 * and the REP string instructions.  A REP instruction may
 * stop part way (a chunk, the budget, an interrupt), with EIP left on it,
 * so the block ends there and goes on to whatever EIP says.
 */
static u32 interp_form(const struct insn *d, const u8 *h, struct dinsn *di)
{
	u8 op = d->op;
	bool string = op >= 0xa4 && op <= 0xaf && op != 0xa8 && op != 0xa9;
	bool flag = op >= 0xfa && op <= 0xfd;

	if (d->map != MAP_1B || !(flag ? !d->rep : string && d->rep))
		return 0;
	call_entry(d, h, di, flag ? h_flag_insn : h_rep_string,
		   d->rep ? DF_INDIRECT : DF_NEXT);
	di->op = op;
	di->mem = !flag || op == 0xfb;
	if (!flag) {
		di->reg = d->rep;
		di->scale = d->adsize;
		if ((d->mode == 4 || d->mode == 8) &&
		    d->adsize == d->mode &&	/* 32 bits, or 64 */
		    ((op & ~1) == 0xa4 || (op & ~1) == 0xaa) &&
		    d->seg_override != S_FS && d->seg_override != S_GS &&
		    d->seg_override != S_CS)	/* a base of 0 */
			di->kind = DK_REP_STR;
	} else {
		di->kind = op >= 0xfc ? DK_CLD_STD : DK_CLI_STI;
	}
	return d->len;
}

u32 dc_decode(const u8 *h, u32 avail, int mode, struct dinsn *di)
{
	struct insn d;
	dc_fn fn;

	memset(di, 0, sizeof(*di));
	if (decode(h, min_u32(avail, MAX_INSN_LEN), mode, &d) <= 0)
		return 0;
	fn = fast_form(&d, di);
	if (!fn) {
		memset(di, 0, sizeof(*di));
		return x87_form(&d, h, di) ?: simd_form(&d, h, di) ?:
		       full_form(&d, h, di) ?: seg_form(&d, h, di) ?:
		       interp_form(&d, h, di);
	}
	di->flow = dc_flow(fn);
	di->mem = dc_mem(di, fn);
	di->fn = dc_pick(di, fn);
	di->len = d.len;
	di->host = h;
	di->kind = dc_kind(di);
	return d.len;
}

static void dc_fill(struct dinsn *di, const u8 *h, u32 avail, int mode)
{
	struct insn d;
	dc_fn fn = decode_fast(h, min_u32(avail, MAX_INSN_LEN), mode, &d, di);

	di->host = h;
	di->mode = (u8)mode;
	if (!fn) {
		di->fn = slow;
		di->len = 0;
		di->raw[0] = h[0];
		return;
	}
	di->fn = dc_pick(di, fn);
	di->len = d.len;
	di->raw[0] = load64(h) & len_mask(d.len);
	di->raw[1] = d.len > 8 ? load64(h + 8) & len_mask(d.len - 8) : 0;
}

/*
 * Find the entry for the instruction at CS:EIP, through the cache when we
 * can: 64-bit code, or 32-bit protected-mode code within CS's limit, its
 * first byte in RAM through a TLB hit, at least 16 bytes before the end
 * of its page.  Returns NULL when the instruction must go to
 * cpu_exec_one(), else the (filled) entry, in *page the host address of
 * its page and in *mode the kind of code (4 or 8).
 */
static inline struct dinsn *dc_slot(const struct cpu *c, const u8 *h)
{
	u32 pa = (u32)(h - c->ram);

	return &c->dcache->e[(pa ^ (pa >> 14)) & (DC_SIZE - 1)];
}

static struct dinsn *dc_lookup(struct cpu *c, const u8 **page, int *mode)
{
	const struct seg *cs = &c->seg[S_CS];
	u32 eip = c->eip;
	u64 lin;
	struct dinsn *di;
	const u8 *h;

	if (unlikely(!c->dcache))
		return NULL;
	if (unlikely(cpu_64bit(c))) {
		lin = c->rip;
		*mode = 8;
		if (unlikely(!canonical(lin)))	/* the fetch faults */
			return NULL;
	} else if (likely(SEG_DB(cs->attr) && !cpu_vm86(c) && cpu_pmode(c) &&
			  eip <= cs->limit &&
			  (cs->limit == 0xffffffffu || cs->limit - eip >= 15))) {
		lin = (u32)(cs->base + eip);
		*mode = 4;
	} else {
		return NULL;
	}
	if (unlikely((lin & 0xfff) > 0x1000 - 16))
		return NULL;
	h = code_host(c, lin);
	if (unlikely(!h))
		return NULL;
	*page = h - (lin & 0xfff);
	di = dc_slot(c, h);
	if (unlikely(di->host != h || !dc_same(di, h, *mode)))
		dc_fill(di, h, 15, *mode);
	return di;
}

void cpu_exec_cached(struct cpu *c)
{
	const u8 *page;
	int mode;
	struct dinsn *di = dc_lookup(c, &page, &mode);

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
 * without a fast handler fall back to the interpreter (C:150).
 :*/
void cpu_exec_run(struct cpu *c, u64 end)
{
	const u8 *page, *h;
	int mode;
	struct dinsn *di = dc_lookup(c, &page, &mode), *next;
	u64 page_eip, off, eip;
	u32 len;
	u64 stop;	/* end, as c->ictr counts */

	if (!di || !di->len) {
		if (di)
			di->fn(c, di);
		else
			cpu_exec_one(c);
		c->ictr++;
		return;
	}
	/* The EIP of the page's first byte; flat CS only, so that the
	 * page's end is the one limit check needed.  (In 64-bit code RIP
	 * is the linear address.) */
	if (mode == 8) {
		off = c->rip & 0xfff;
		page_eip = c->rip - off;
	} else {
		off = (c->seg[S_CS].base + c->eip) & 0xfff;
		page_eip = (u32)(c->eip - off);
		if (c->seg[S_CS].limit != 0xffffffffu)
			end = icount_of(c) + 1;
	}
	stop = end - c->jit_end;
	h = page + off;
	for (;;) {
		/* Find the entry of the next instruction in line before this
		 * one runs: most do not jump, and the lookup then need not
		 * wait for the handler's EIP. */
		eip = c->rip;
		len = di->len;
		next = dc_slot(c, h + len);
		/* An idle guest wakes to a tick every 4 ms and finds the
		 * entries out of the host's caches: start the load of the
		 * next one while this handler runs (idle CPU ~15% lower). */
		__builtin_prefetch(next);
		di->fn(c, di);
		/* A REP handler counts its iterations too, so the count is
		 * read back, not kept here. */
		if (unlikely((s64)(++c->ictr - stop) >= 0 || c->stop ||
			     c->intr))
			return;
		if (likely(c->rip == eip + len)) {
			off += len;
			h += len;
			di = next;
		} else {
			/* Another page: off wraps to a huge value. */
			off = (mode == 8 ? c->rip : c->eip) - page_eip;
			if (unlikely(off > 0x1000 - 16))
				return;
			h = page + off;
			di = dc_slot(c, h);
		}
		if (unlikely(off > 0x1000 - 16))
			return;
		if (unlikely(di->host != h || !dc_same(di, h, mode))) {
			dc_fill(di, h, 15, mode);
			if (!di->len)
				return;
		} else if (unlikely(!di->len)) {
			return;
		}
		cpu_insn_begins(c);
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
