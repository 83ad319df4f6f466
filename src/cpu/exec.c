/*
 * Decode and execute one instruction.
 *
 * cpu_exec_one() reads the prefixes, then dispatches on the first opcode
 * byte; two-byte (0F xx) opcodes live in exec_0f.c and the string
 * instructions in exec_string.c.  Each handler fetches its own ModRM byte
 * and immediates through the helpers in exec.h, which keep the 15-byte
 * limit.
 *
 * The rule that keeps faults simple: a handler does every read, and every
 * check that a write will succeed, before it changes any register.  The run
 * loop restores EIP and ESP when cpu_raise() unwinds, so a faulting
 * instruction leaves no trace and can be restarted.
 *
 * EIP moves only at the very end: handlers move d->next (the decode
 * position) for branches, and cpu_exec_one() stores it.  Helpers that set
 * EIP themselves (far_call, cpu_interrupt, ...) get d->next synced back.
 */
#include <string.h>

#include "exec.h"

/* --- Fetching --- */

/*
 * Translating EIP once per instruction instead of once per byte: find the
 * host address of the rest of the code page.  A fault here is the one the
 * first byte's fetch would raise anyway; bytes past the page or the CS
 * limit go through code_read*(), which raise their own faults in order.
 */
static void code_window(struct cpu *c, struct insn *d)
{
	const struct seg *cs = &c->seg[S_CS];
	u32 lin = cs->base + d->start, len, pa;
	const struct tlb_entry *e;

	d->win_len = 0;
	if (d->start > cs->limit)
		return;
	len = 0x1000 - (lin & 0xfff);
	if (len > MAX_INSN_LEN)
		len = MAX_INSN_LEN;
	if (cs->limit - d->start < len - 1)
		len = cs->limit - d->start + 1;
	/* A TLB hit is the common case: the same lookup as mmu.c's (fetches
	 * need no rights beyond reading, as we have no NX). */
	e = &c->tlb[c->cpl == 3][(lin >> 12) & (TLB_SIZE - 1)];
	if (likely(e->vpage == (lin >> 12) + 1 && e->host)) {
		d->win = e->host + (lin & 0xfff);
		d->win_len = len;
		return;
	}
	pa = mmu_translate(c, lin, ACC_EXEC, c->cpl == 3);
	if (pa >= c->ram_size || c->ram_size - pa < len)
		return;
	d->win = c->ram + pa;
	d->win_len = len;
}

u32 fetch_imm(struct cpu *c, struct insn *d, int size)
{
	if (size == 1)
		return fetch8(c, d);
	return size == 2 ? fetch16(c, d) : fetch32(c, d);
}

/* --- ModRM --- */

static void modrm16(struct cpu *c, struct insn *d)
{
	static const u8 base[8] = { R_EBX, R_EBX, R_EBP, R_EBP,
				    R_ESI, R_EDI, R_EBP, R_EBX };
	static const s8 index[8] = { R_ESI, R_EDI, R_ESI, R_EDI,
				     -1, -1, -1, -1 };
	u32 ea = 0;
	int def = S_DS;

	if (d->mod == 0 && d->rm == 6) {
		ea = fetch16(c, d);
	} else {
		ea = c->r[base[d->rm]];
		if (index[d->rm] >= 0)
			ea += c->r[index[d->rm]];
		if (base[d->rm] == R_EBP)
			def = S_SS;
		if (d->mod == 1)
			ea += (u32)(s8)fetch8(c, d);
		else if (d->mod == 2)
			ea += fetch16(c, d);
	}
	d->ea = ea & 0xffff;
	d->seg = d->seg_override >= 0 ? d->seg_override : def;
}

static void modrm32(struct cpu *c, struct insn *d)
{
	u32 ea = 0;
	int def = S_DS, b = d->rm;

	if (b == 4) {
		u8 sib = fetch8(c, d);
		int idx = (sib >> 3) & 7;

		b = sib & 7;
		if (idx != 4)
			ea = c->r[idx] << (sib >> 6);
		if (b == 5 && d->mod == 0) {
			ea += fetch32(c, d);
			b = -1;
		}
	} else if (b == 5 && d->mod == 0) {
		ea = fetch32(c, d);
		b = -1;
	}
	if (b >= 0) {
		ea += c->r[b];
		if (b == R_ESP || b == R_EBP)
			def = S_SS;
	}
	if (d->mod == 1)
		ea += (u32)(s8)fetch8(c, d);
	else if (d->mod == 2)
		ea += fetch32(c, d);
	d->ea = ea;
	d->seg = d->seg_override >= 0 ? d->seg_override : def;
}

void decode_modrm(struct cpu *c, struct insn *d)
{
	d->modrm = fetch8(c, d);
	d->mod = d->modrm >> 6;
	d->reg = (d->modrm >> 3) & 7;
	d->rm = d->modrm & 7;
	if (d->mod == 3)
		return;
	if (d->adsize == 2)
		modrm16(c, d);
	else
		modrm32(c, d);
}

/* --- Checks --- */

void need_cpl0(struct cpu *c)
{
	if (!cpu_pmode(c))
		return;
	if (cpu_vm86(c) || c->cpl != 0)
		cpu_gp(c, 0);
}

void need_pmode(struct cpu *c)
{
	if (!cpu_pmode(c) || cpu_vm86(c))
		cpu_ud(c);
}

void no_lock(struct cpu *c, struct insn *d)
{
	if (d->lock)
		cpu_ud(c);
}

/*
 * LOCK is allowed only on read-modify-write instructions with a memory
 * destination.  We look ahead at the opcode and ModRM before running
 * anything, so no handler has to care.
 */
static void check_lock(struct cpu *c, struct insn *d, u8 op)
{
	u32 p = d->next;
	bool ok = false;
	u8 m, reg;

	if (op == 0x0f) {
		u8 op2 = code_read8(c, p++);

		m = code_read8(c, p);
		reg = (m >> 3) & 7;
		switch (op2) {
		case 0xab: case 0xb3: case 0xbb:	/* BTS BTR BTC */
		case 0xb0: case 0xb1:			/* CMPXCHG */
		case 0xc0: case 0xc1:			/* XADD */
			ok = true;
			break;
		case 0xba:
			ok = reg >= 5;
			break;
		case 0xc7:
			ok = reg == 1;
			break;
		}
	} else {
		m = code_read8(c, p);
		reg = (m >> 3) & 7;
		if (op < 0x38 && (op & 7) < 2)
			ok = true;
		else if (op >= 0x80 && op <= 0x83)
			ok = reg != 7;
		else if (op == 0x86 || op == 0x87)
			ok = true;
		else if (op == 0xf6 || op == 0xf7)
			ok = reg == 2 || reg == 3;
		else if (op == 0xfe || op == 0xff)
			ok = reg < 2;
	}
	if (!ok || (m >> 6) == 3)
		cpu_ud(c);
}

/* --- Branches and the stack --- */

static u32 branch_target(struct cpu *c, struct insn *d, u32 target)
{
	if (d->opsize == 2)
		target &= 0xffff;
	if (target > c->seg[S_CS].limit)
		cpu_gp(c, 0);
	return target;
}

void jump_near(struct cpu *c, struct insn *d, u32 target)
{
	d->next = branch_target(c, d, target);
}

static void call_near(struct cpu *c, struct insn *d, u32 target)
{
	target = branch_target(c, d, target);
	cpu_push(c, d->next, d->opsize);
	d->next = target;
}

static u32 sp_mask(const struct cpu *c)
{
	return stack32(c) ? 0xffffffffu : 0xffff;
}

static void set_sp(struct cpu *c, u32 v)
{
	u32 m = sp_mask(c);

	c->r[R_ESP] = (c->r[R_ESP] & ~m) | (v & m);
}

/* A far pointer m16:16 or m16:32 at the ModRM address. */
static void read_far_ptr(struct cpu *c, struct insn *d, u32 *off, u16 *sel)
{
	u32 o2 = d->ea + d->opsize;

	if (d->adsize == 2)
		o2 &= 0xffff;
	*off = mem_read(c, d->seg, d->ea, d->opsize);
	*sel = (u16)mem_read(c, d->seg, o2, 2);
}

/* --- Instruction groups --- */

/* 00..3F with (op & 7) < 6: the eight ALU operations in six forms. */
static void exec_alu(struct cpu *c, struct insn *d, u8 op)
{
	int aop = op >> 3, size = (op & 1) ? d->opsize : 1;
	u32 a, b, r;

	switch (op & 7) {
	case 0:
	case 1:	/* Ev, Gv */
		decode_modrm(c, d);
		b = get_reg(c, d->reg, size);
		if (aop == 7) {
			a = rm_read(c, d, size);
			alu_arith(c, aop, a, b, size);
			return;
		}
		a = rm_read_rmw(c, d, size);
		r = alu_arith(c, aop, a, b, size);
		rm_write(c, d, r, size);
		return;
	case 2:
	case 3:	/* Gv, Ev */
		decode_modrm(c, d);
		b = rm_read(c, d, size);
		a = get_reg(c, d->reg, size);
		r = alu_arith(c, aop, a, b, size);
		if (aop != 7)
			set_reg(c, d->reg, r, size);
		return;
	default:	/* AL/eAX, imm */
		b = fetch_imm(c, d, size);
		a = get_reg(c, R_EAX, size);
		r = alu_arith(c, aop, a, b, size);
		if (aop != 7)
			set_reg(c, R_EAX, r, size);
		return;
	}
}

/* 80..83: ALU op r/m, imm. */
static void exec_grp1(struct cpu *c, struct insn *d, u8 op)
{
	int size = (op & 1) ? d->opsize : 1;
	u32 a, b, r;

	decode_modrm(c, d);
	if (op == 0x83)
		b = sext(fetch8(c, d), 1);
	else
		b = fetch_imm(c, d, size);
	if (d->reg == 7) {
		a = rm_read(c, d, size);
		alu_arith(c, 7, a, b, size);
		return;
	}
	a = rm_read_rmw(c, d, size);
	r = alu_arith(c, d->reg, a, b, size);
	rm_write(c, d, r, size);
}

/* C0 C1 D0..D3: shifts and rotates. */
static void exec_grp2(struct cpu *c, struct insn *d, u8 op)
{
	int size = (op & 1) ? d->opsize : 1;
	u32 count, a, r;

	decode_modrm(c, d);
	if (op <= 0xc1)
		count = fetch8(c, d);
	else if (op <= 0xd1)
		count = 1;
	else
		count = c->r[R_ECX];
	count &= 0x1f;
	a = rm_read_rmw(c, d, size);
	r = alu_shift(c, d->reg, a, count, size);
	rm_write(c, d, r, size);
}


/* F6 F7: TEST NOT NEG MUL IMUL DIV IDIV. */
static void exec_grp3(struct cpu *c, struct insn *d, u8 op)
{
	int size = (op & 1) ? d->opsize : 1;
	u32 a;

	decode_modrm(c, d);
	switch (d->reg) {
	case 0:
	case 1:
		a = rm_read(c, d, size);
		alu_logic_flags(c, a & fetch_imm(c, d, size), size);
		return;
	case 2:
		a = rm_read_rmw(c, d, size);
		rm_write(c, d, ~a, size);
		return;
	case 3:
		a = rm_read_rmw(c, d, size);
		rm_write(c, d, alu_neg(c, a, size), size);
		return;
	case 4:
	case 5:
		alu_mul(c, size, rm_read(c, d, size), d->reg == 5);
		return;
	default:
		alu_div(c, size, rm_read(c, d, size), d->reg == 7);
		return;
	}
}

/* FE FF: INC DEC, and FF's CALL JMP PUSH. */
static void exec_grp45(struct cpu *c, struct insn *d, u8 op)
{
	int size = op == 0xfe ? 1 : d->opsize;
	u32 a, off;
	u16 sel;

	decode_modrm(c, d);
	if (op == 0xfe && d->reg > 1)
		cpu_ud(c);
	switch (d->reg) {
	case 0:
		a = rm_read_rmw(c, d, size);
		rm_write(c, d, alu_inc(c, a, size), size);
		return;
	case 1:
		a = rm_read_rmw(c, d, size);
		rm_write(c, d, alu_dec(c, a, size), size);
		return;
	case 2:
		call_near(c, d, rm_read(c, d, size));
		return;
	case 3:
		need_mem(c, d);
		read_far_ptr(c, d, &off, &sel);
		far_call(c, sel, off, d->opsize, d->next);
		d->next = c->eip;
		return;
	case 4:
		jump_near(c, d, rm_read(c, d, size));
		return;
	case 5:
		need_mem(c, d);
		read_far_ptr(c, d, &off, &sel);
		far_jmp(c, sel, off, d->next);
		d->next = c->eip;
		return;
	case 6:
		cpu_push(c, rm_read(c, d, size), size);
		return;
	default:
		cpu_ud(c);
	}
}

/* --- BCD --- */

static void exec_daa_das(struct cpu *c, bool sub)
{
	u8 al = (u8)c->r[R_EAX], old = al;
	bool cf = alu_cf(c), af = cpu_get_eflags(c) & F_AF;
	u32 f = 0;

	if ((al & 0xf) > 9 || af) {
		f |= F_AF;
		if (sub) {
			f |= (cf || al < 6) ? F_CF : 0;
			al -= 6;
		} else {
			f |= (cf || al > 0xf9) ? F_CF : 0;
			al += 6;
		}
	}
	if (old > 0x99 || cf) {
		al = sub ? al - 0x60 : al + 0x60;
		f |= F_CF;
	} else if (!sub) {
		f &= ~F_CF;	/* DAS keeps the borrow of its first step */
	}
	set_reg8(c, R_EAX, al);
	alu_set_res(c, al, 1, f);
}

static void exec_aaa_aas(struct cpu *c, bool sub)
{
	u16 ax = (u16)c->r[R_EAX];
	u32 f = 0;

	if ((ax & 0xf) > 9 || (cpu_get_eflags(c) & F_AF)) {
		/* As the SDM and P6 do it: a borrow from AL reaches AH. */
		if (sub)
			ax -= 0x106;
		else
			ax += 0x106;
		f = F_AF | F_CF;
	}
	ax &= 0xff0f;
	set_reg16(c, R_EAX, ax);
	alu_set_res(c, ax & 0xff, 1, f);
}

static void exec_aam(struct cpu *c, u8 base)
{
	u8 al = (u8)c->r[R_EAX];

	if (base == 0)
		cpu_raise(c, EXC_DE, 0);
	set_reg16(c, R_EAX, (u16)((al / base) << 8 | (al % base)));
	alu_logic_flags(c, al % base, 1);
}

static void exec_aad(struct cpu *c, u8 base)
{
	u16 ax = (u16)c->r[R_EAX];
	u8 al = (u8)((ax & 0xff) + (ax >> 8) * base);

	set_reg16(c, R_EAX, al);
	alu_logic_flags(c, al, 1);
}

/* --- Stack frames and flags --- */

static void exec_pusha(struct cpu *c, struct insn *d)
{
	int sz = d->opsize, i;
	u32 esp = c->r[R_ESP];

	mem_check(c, S_SS, (esp - 8 * sz) & sp_mask(c), 8 * sz, ACC_WRITE);
	for (i = 0; i < 8; i++)
		cpu_push(c, i == R_ESP ? esp : c->r[i], sz);
}

static void exec_popa(struct cpu *c, struct insn *d)
{
	u32 v[8];
	int i;

	for (i = 7; i >= 0; i--)
		v[i] = cpu_pop(c, d->opsize);
	for (i = 0; i < 8; i++)
		if (i != R_ESP)
			set_reg(c, i, v[i], d->opsize);
}

static void exec_enter(struct cpu *c, struct insn *d)
{
	u16 alloc = fetch16(c, d);
	int level = fetch8(c, d) & 31, sz = d->opsize, i;
	u32 m = sp_mask(c), esp = c->r[R_ESP], ebp = c->r[R_EBP], frame;

	esp -= sz;
	mem_write(c, S_SS, esp & m, ebp, sz);
	frame = esp;
	if (level) {
		for (i = 1; i < level; i++) {
			u32 v;

			ebp -= sz;
			v = mem_read(c, S_SS, ebp & m, sz);
			esp -= sz;
			mem_write(c, S_SS, esp & m, v, sz);
		}
		esp -= sz;
		mem_write(c, S_SS, esp & m, frame, sz);
	}
	esp -= alloc;
	set_reg(c, R_EBP, stack32(c) ? frame : frame & 0xffff, sz);
	set_sp(c, esp);
}

static void exec_leave(struct cpu *c, struct insn *d)
{
	u32 v;

	set_sp(c, c->r[R_EBP]);
	v = cpu_pop(c, d->opsize);
	set_reg(c, R_EBP, v, d->opsize);
}

/* IOPL-sensitive instructions in virtual-8086 mode (no VME). */
static void vm86_iopl_check(struct cpu *c)
{
	if (cpu_vm86(c) && iopl(c) < 3)
		cpu_gp(c, 0);
}

static void exec_pushf(struct cpu *c, struct insn *d)
{
	vm86_iopl_check(c);
	cpu_push(c, cpu_get_eflags(c) & ~(F_VM | F_RF), d->opsize);
}

static void exec_popf(struct cpu *c, struct insn *d)
{
	u32 mask = F_ARITH | F_TF | F_DF | F_NT | F_AC | F_ID, v;

	vm86_iopl_check(c);
	v = cpu_pop(c, d->opsize);
	if (!cpu_pmode(c) || (!cpu_vm86(c) && c->cpl == 0))
		mask |= F_IOPL | F_IF;
	else if (cpu_vm86(c) || c->cpl <= iopl(c))
		mask |= F_IF;
	if (d->opsize == 2)
		mask &= 0xffff;
	cpu_set_eflags(c, v, mask);
}

static void exec_cli_sti(struct cpu *c, bool sti)
{
	if (cpu_pmode(c) && (cpu_vm86(c) ? iopl(c) < 3 : c->cpl > iopl(c)))
		cpu_gp(c, 0);
	if (sti) {
		if (!(c->eflags & F_IF))
			c->intr_shadow = true;
		c->eflags |= F_IF;
	} else {
		c->eflags &= ~F_IF;
	}
}

/* --- Input and output --- */

u32 exec_in(struct cpu *c, u16 port, int size)
{
	if (cpu_pmode(c))
		sys_io_check(c, port, size);
	if (!c->bus.io_in)
		return size_mask(size);
	return c->bus.io_in(c->bus.opaque, port, size) & size_mask(size);
}

void exec_out(struct cpu *c, u16 port, u32 v, int size)
{
	if (cpu_pmode(c))
		sys_io_check(c, port, size);
	if (c->bus.io_out)
		c->bus.io_out(c->bus.opaque, port, v & size_mask(size), size);
}

static void exec_io(struct cpu *c, struct insn *d, u8 op)
{
	int size = (op & 1) ? d->opsize : 1;
	u16 port = op < 0xe8 ? fetch8(c, d) : (u16)c->r[R_EDX];

	if (op & 2)
		exec_out(c, port, get_reg(c, R_EAX, size), size);
	else
		set_reg(c, R_EAX, exec_in(c, port, size), size);
}

/* --- Interrupts --- */

static void soft_int(struct cpu *c, struct insn *d, int vec, enum int_kind k)
{
	c->eip = d->next;
	cpu_interrupt(c, vec, k, 0);
	d->next = c->eip;
}

static void exec_x87(struct cpu *c, struct insn *d, u8 op)
{
	if (c->cr0 & (CR0_EM | CR0_TS))
		cpu_raise(c, EXC_NM, 0);
	decode_modrm(c, d);
	fpu_exec(c, op, d->modrm, d->seg, d->ea, d->opsize);
}

/* --- Moves --- */

static void exec_mov_sreg(struct cpu *c, struct insn *d, u8 op)
{
	decode_modrm(c, d);
	if (d->reg > S_GS)
		cpu_ud(c);
	if (op == 0x8c) {
		u16 sel = c->seg[d->reg].sel;

		/* A register destination takes the whole operand size. */
		rm_write(c, d, sel, d->mod == 3 ? d->opsize : 2);
		return;
	}
	if (d->reg == S_CS)
		cpu_ud(c);
	seg_load(c, d->reg, (u16)rm_read(c, d, 2));
	if (d->reg == S_SS)
		c->intr_shadow = true;
}

void exec_load_far(struct cpu *c, struct insn *d, int sreg)
{
	u32 off;
	u16 sel;

	decode_modrm(c, d);
	need_mem(c, d);
	read_far_ptr(c, d, &off, &sel);
	seg_load(c, sreg, sel);
	set_reg(c, d->reg, off, d->opsize);
}

static void exec_moffs(struct cpu *c, struct insn *d, u8 op)
{
	int size = (op & 1) ? d->opsize : 1;
	u32 off = fetch_imm(c, d, d->adsize);

	if (op & 2)
		mem_write(c, data_seg(d), off, get_reg(c, R_EAX, size), size);
	else
		set_reg(c, R_EAX, mem_read(c, data_seg(d), off, size), size);
}

static void exec_bound(struct cpu *c, struct insn *d)
{
	s32 idx, lo, hi;
	u32 o2;

	decode_modrm(c, d);
	need_mem(c, d);
	o2 = d->ea + d->opsize;
	if (d->adsize == 2)
		o2 &= 0xffff;
	idx = (s32)sext(get_reg(c, d->reg, d->opsize), d->opsize);
	lo = (s32)sext(mem_read(c, d->seg, d->ea, d->opsize), d->opsize);
	hi = (s32)sext(mem_read(c, d->seg, o2, d->opsize), d->opsize);
	if (idx < lo || idx > hi)
		cpu_raise(c, EXC_BR, 0);
}

static void exec_arpl(struct cpu *c, struct insn *d)
{
	u16 dst, src;

	need_pmode(c);
	decode_modrm(c, d);
	dst = (u16)rm_read_rmw(c, d, 2);
	src = (u16)get_reg(c, d->reg, 2);
	if ((dst & 3) < (src & 3)) {
		rm_write(c, d, (dst & ~3) | (src & 3), 2);
		alu_set_flag(c, F_ZF, true);
	} else {
		alu_set_flag(c, F_ZF, false);
	}
}

static void exec_imul3(struct cpu *c, struct insn *d, u8 op)
{
	int sz = d->opsize;
	u32 a, b;
	s64 p;

	decode_modrm(c, d);
	a = rm_read(c, d, sz);
	b = op == 0x6b ? sext(fetch8(c, d), 1) : fetch_imm(c, d, sz);
	p = (s64)(s32)sext(a, sz) * (s32)sext(b, sz);
	set_reg(c, d->reg, (u32)p, sz);
	alu_set_res(c, (u32)p, sz,
		    p != (s32)sext((u32)p & size_mask(sz), sz) ?
		    F_CF | F_OF : 0);
}

/* LOOP, LOOPE, LOOPNE, JCXZ: the count is CX or ECX by address size. */
static void exec_loop(struct cpu *c, struct insn *d, u8 op)
{
	u32 rel = sext(fetch8(c, d), 1);
	u32 m = d->adsize == 2 ? 0xffff : 0xffffffffu;
	u32 cnt = c->r[R_ECX] & m;
	bool take;

	if (op == 0xe3) {
		take = cnt == 0;
	} else {
		cnt = (cnt - 1) & m;
		take = cnt != 0;
		if (op == 0xe0)
			take = take && !cpu_cond(c, 4);
		else if (op == 0xe1)
			take = take && cpu_cond(c, 4);
	}
	if (take)
		jump_near(c, d, d->next + rel);
	if (op != 0xe3)
		c->r[R_ECX] = (c->r[R_ECX] & ~m) | cnt;
}

static void exec_ret(struct cpu *c, struct insn *d, u16 pop)
{
	u32 target = cpu_pop(c, d->opsize);

	jump_near(c, d, target);
	if (pop)
		set_sp(c, c->r[R_ESP] + pop);
}

/* --- The dispatch --- */

static void exec_op(struct cpu *c, struct insn *d, u8 op)
{
	u32 v;
	int sz = d->opsize;

	if (op < 0x40 && (op & 7) < 6) {
		exec_alu(c, d, op);
		return;
	}
	if (op >= 0x70 && op <= 0x7f) {
		v = sext(fetch8(c, d), 1);
		if (cpu_cond(c, op & 15))
			jump_near(c, d, d->next + v);
		return;
	}
	switch (op) {
	case 0x06: case 0x0e: case 0x16: case 0x1e:
		cpu_push(c, c->seg[op >> 3].sel, sz);
		return;
	case 0x07: case 0x17: case 0x1f:
		v = cpu_pop(c, sz);
		seg_load(c, op >> 3, (u16)v);
		if (op == 0x17)
			c->intr_shadow = true;
		return;
	case 0x0f:
		exec_0f(c, d);
		return;
	case 0x27: exec_daa_das(c, false); return;
	case 0x2f: exec_daa_das(c, true); return;
	case 0x37: exec_aaa_aas(c, false); return;
	case 0x3f: exec_aaa_aas(c, true); return;
	case 0x40 ... 0x47:
		set_reg(c, op & 7, alu_inc(c, get_reg(c, op & 7, sz), sz), sz);
		return;
	case 0x48 ... 0x4f:
		set_reg(c, op & 7, alu_dec(c, get_reg(c, op & 7, sz), sz), sz);
		return;
	case 0x50 ... 0x57:
		cpu_push(c, get_reg(c, op & 7, sz), sz);
		return;
	case 0x58 ... 0x5f:
		v = cpu_pop(c, sz);
		set_reg(c, op & 7, v, sz);
		return;
	case 0x60: exec_pusha(c, d); return;
	case 0x61: exec_popa(c, d); return;
	case 0x62: exec_bound(c, d); return;
	case 0x63: exec_arpl(c, d); return;
	case 0x68:
		cpu_push(c, fetch_imm(c, d, sz), sz);
		return;
	case 0x6a:
		cpu_push(c, sext(fetch8(c, d), 1), sz);
		return;
	case 0x69: case 0x6b:
		exec_imul3(c, d, op);
		return;
	case 0x6c ... 0x6f:
	case 0xa4 ... 0xa7:
	case 0xaa ... 0xaf:
		exec_string(c, d, op);
		return;
	case 0x80 ... 0x83:
		exec_grp1(c, d, op);
		return;
	case 0x84: case 0x85: {
		int s = op & 1 ? sz : 1;

		decode_modrm(c, d);
		v = rm_read(c, d, s);
		alu_logic_flags(c, v & get_reg(c, d->reg, s), s);
		return;
	}
	case 0x86: case 0x87: {
		int s = op & 1 ? sz : 1;

		decode_modrm(c, d);
		v = rm_read_rmw(c, d, s);
		rm_write(c, d, get_reg(c, d->reg, s), s);
		set_reg(c, d->reg, v, s);
		return;
	}
	case 0x88: case 0x89: {
		int s = op & 1 ? sz : 1;

		decode_modrm(c, d);
		rm_write(c, d, get_reg(c, d->reg, s), s);
		return;
	}
	case 0x8a: case 0x8b: {
		int s = op & 1 ? sz : 1;

		decode_modrm(c, d);
		set_reg(c, d->reg, rm_read(c, d, s), s);
		return;
	}
	case 0x8c: case 0x8e:
		exec_mov_sreg(c, d, op);
		return;
	case 0x8d:
		decode_modrm(c, d);
		need_mem(c, d);
		set_reg(c, d->reg, d->ea, sz);
		return;
	case 0x8f:
		/* The address is computed with ESP already incremented. */
		v = cpu_pop(c, sz);
		decode_modrm(c, d);
		if (d->reg)
			cpu_ud(c);
		rm_write(c, d, v, sz);
		return;
	case 0x90:
		return;		/* NOP, and PAUSE with F3 */
	case 0x91 ... 0x97:
		v = get_reg(c, op & 7, sz);
		set_reg(c, op & 7, get_reg(c, R_EAX, sz), sz);
		set_reg(c, R_EAX, v, sz);
		return;
	case 0x98:
		if (sz == 2)
			set_reg16(c, R_EAX, (u16)sext(c->r[R_EAX], 1));
		else
			c->r[R_EAX] = sext(c->r[R_EAX], 2);
		return;
	case 0x99:
		v = (get_reg(c, R_EAX, sz) >> (sz * 8 - 1)) ? 0xffffffffu : 0;
		set_reg(c, R_EDX, v, sz);
		return;
	case 0x9a: case 0xea: {
		u32 off = fetch_imm(c, d, sz);
		u16 sel = fetch16(c, d);

		if (op == 0x9a)
			far_call(c, sel, off, sz, d->next);
		else
			far_jmp(c, sel, off, d->next);
		d->next = c->eip;
		return;
	}
	case 0x9b:
		if ((c->cr0 & (CR0_TS | CR0_MP)) == (CR0_TS | CR0_MP))
			cpu_raise(c, EXC_NM, 0);
		fpu_wait(c);
		return;
	case 0x9c: exec_pushf(c, d); return;
	case 0x9d: exec_popf(c, d); return;
	case 0x9e:
		cpu_set_eflags(c, c->r[R_EAX] >> 8,
			       F_SF | F_ZF | F_AF | F_PF | F_CF);
		return;
	case 0x9f:
		set_reg8(c, 4, (u8)(cpu_get_eflags(c) & 0xd7) | F_FIXED1);
		return;
	case 0xa0 ... 0xa3:
		exec_moffs(c, d, op);
		return;
	case 0xa8: case 0xa9: {
		int s = op & 1 ? sz : 1;

		v = fetch_imm(c, d, s);
		alu_logic_flags(c, v & get_reg(c, R_EAX, s), s);
		return;
	}
	case 0xb0 ... 0xb7:
		set_reg8(c, op & 7, fetch8(c, d));
		return;
	case 0xb8 ... 0xbf:
		set_reg(c, op & 7, fetch_imm(c, d, sz), sz);
		return;
	case 0xc0: case 0xc1: case 0xd0 ... 0xd3:
		exec_grp2(c, d, op);
		return;
	case 0xc2:
		exec_ret(c, d, fetch16(c, d));
		return;
	case 0xc3:
		exec_ret(c, d, 0);
		return;
	case 0xc4: exec_load_far(c, d, S_ES); return;
	case 0xc5: exec_load_far(c, d, S_DS); return;
	case 0xc6: case 0xc7: {
		int s = op & 1 ? sz : 1;

		decode_modrm(c, d);
		if (d->reg)
			cpu_ud(c);
		rm_write(c, d, fetch_imm(c, d, s), s);
		return;
	}
	case 0xc8: exec_enter(c, d); return;
	case 0xc9: exec_leave(c, d); return;
	case 0xca: case 0xcb:
		v = op == 0xca ? fetch16(c, d) : 0;
		c->eip = d->next;
		far_ret(c, sz, (u16)v);
		d->next = c->eip;
		return;
	case 0xcc:
		soft_int(c, d, EXC_BP, INT_SOFT);
		return;
	case 0xcd:
		v = fetch8(c, d);
		vm86_iopl_check(c);
		soft_int(c, d, v, INT_SOFT);
		return;
	case 0xce:
		if (cpu_cond(c, 0))
			soft_int(c, d, EXC_OF, INT_SOFT);
		return;
	case 0xcf:
		vm86_iopl_check(c);
		c->eip = d->next;
		cpu_iret(c, sz);
		d->next = c->eip;
		return;
	case 0xd4: exec_aam(c, fetch8(c, d)); return;
	case 0xd5: exec_aad(c, fetch8(c, d)); return;
	case 0xd6:	/* SALC, undocumented but on every P6 */
		set_reg8(c, R_EAX, alu_cf(c) ? 0xff : 0);
		return;
	case 0xd7:
		v = c->r[R_EBX] + (u8)c->r[R_EAX];
		if (d->adsize == 2)
			v &= 0xffff;
		set_reg8(c, R_EAX, (u8)mem_read(c, data_seg(d), v, 1));
		return;
	case 0xd8 ... 0xdf:
		exec_x87(c, d, op);
		return;
	case 0xe0 ... 0xe3:
		exec_loop(c, d, op);
		return;
	case 0xe4 ... 0xe7: case 0xec ... 0xef:
		exec_io(c, d, op);
		return;
	case 0xe8:
		v = fetch_imm(c, d, sz);
		call_near(c, d, d->next + v);
		return;
	case 0xe9:
		v = fetch_imm(c, d, sz);
		jump_near(c, d, d->next + v);
		return;
	case 0xeb:
		v = sext(fetch8(c, d), 1);
		jump_near(c, d, d->next + v);
		return;
	case 0xf1:	/* ICEBP: a debug trap, not a software INT */
		soft_int(c, d, EXC_DB, INT_EXC);
		return;
	case 0xf4:
		need_cpl0(c);
		c->halted = true;
		return;
	case 0xf5: alu_set_flag(c, F_CF, !alu_cf(c)); return;
	case 0xf6: case 0xf7: exec_grp3(c, d, op); return;
	case 0xf8: alu_set_flag(c, F_CF, false); return;
	case 0xf9: alu_set_flag(c, F_CF, true); return;
	case 0xfa: exec_cli_sti(c, false); return;
	case 0xfb: exec_cli_sti(c, true); return;
	case 0xfc: c->eflags &= ~F_DF; return;
	case 0xfd: c->eflags |= F_DF; return;
	case 0xfe: case 0xff: exec_grp45(c, d, op); return;
	default:
		cpu_ud(c);
	}
}

/*C:150
 * The decoder: prefixes, the ModRM and SIB bytes, then one switch over the
 * opcode.  Every read and every check comes before the first change to a
 * register, so a faulting instruction leaves nothing half done (C:130).
 * System instructions go out to sys.c and seg.c, the x87 to fpu.c.
 :*/
void cpu_exec_one(struct cpu *c)
{
	struct insn d;
	bool big = cpu_pmode(c) && !cpu_vm86(c) &&
		   SEG_DB(c->seg[S_CS].attr);
	u8 op;

	d.start = d.next = c->eip;
	d.opsize = d.adsize = big ? 4 : 2;
	d.seg_override = -1;
	d.rep = 0;
	d.pfx66 = false;
	d.lock = false;
	d.mod = 3;
	d.seg = S_DS;
	d.ea = 0;
	code_window(c, &d);
	for (;;) {
		op = fetch8(c, &d);
		switch (op) {
		case 0x26: case 0x2e: case 0x36: case 0x3e:
			d.seg_override = (op >> 3) & 3;
			continue;
		case 0x64: case 0x65:
			d.seg_override = op - 0x64 + S_FS;
			continue;
		case 0x66:
			d.opsize = big ? 2 : 4;
			d.pfx66 = true;
			continue;
		case 0x67:
			d.adsize = big ? 2 : 4;
			continue;
		case 0xf0:
			d.lock = true;
			continue;
		case 0xf2: case 0xf3:
			d.rep = op;
			continue;
		}
		break;
	}
	if (d.lock)
		check_lock(c, &d, op);
	exec_op(c, &d, op);
	c->eip = d.next;
}
