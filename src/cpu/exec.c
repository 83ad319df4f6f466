/*
 * Execute one instruction.
 *
 * cpu_exec_one() hands the bytes at EIP to the decoder (decode.c), which
 * reads prefixes, opcode, ModRM, SIB, displacement and immediates into a
 * struct insn, then dispatches on the opcode; two-byte (0F xx) opcodes
 * live in exec_0f.c and the string instructions in exec_string.c.  A
 * handler finds its operands in the decoded form and only computes.
 *
 * The rule that keeps faults simple: a handler does every read, and every
 * check that a write will succeed, before it changes any register.  The run
 * loop restores EIP and ESP when cpu_raise() unwinds, so a faulting
 * instruction leaves no trace and can be restarted.
 *
 * EIP moves only at the very end: handlers move d->next (the EIP after the
 * instruction) for branches, and cpu_exec_one() stores it.  Helpers that
 * set EIP themselves (far_call, cpu_interrupt, ...) get d->next synced back.
 */
#include <string.h>

#include "exec.h"

/* --- Fetching --- */

/*
 * Translating EIP once per instruction instead of once per byte: find the
 * host address of the rest of the code page, at most 15 bytes.  A fault
 * here is the one the first byte's fetch would raise anyway; bytes past
 * the page or the CS limit go through code_read8(), which raises its own
 * faults in order, and only if the decoder asks for them.
 */
static const u8 *code_window(struct cpu *c, u64 eip, u32 *avail)
{
	const struct seg *cs = &c->seg[S_CS];
	bool wide = cpu_64bit(c);
	u64 lin = wide ? eip : (u32)(cs->base + eip), pa;
	u32 len;
	const struct tlb_entry *e;

	*avail = 0;
	if (wide ? !canonical(eip) : eip > cs->limit)
		return NULL;
	len = 0x1000 - (lin & 0xfff);
	if (len > MAX_INSN_LEN)
		len = MAX_INSN_LEN;
	if (!wide && cs->limit - eip < len - 1)
		len = cs->limit - (u32)eip + 1;
	/* A TLB hit is the common case: the same lookup as mmu.c's, which
	 * an NX page's entry misses. */
	e = tlb_entry_for(c, lin);
	if (likely(tlb_fetch_hit(c, lin))) {
		*avail = len;
		return tlb_host(e, lin);
	}
	pa = mmu_translate(c, lin, ACC_EXEC, c->cpl == 3);
	if (pa >= c->ram_size || c->ram_size - pa < len)
		return NULL;
	*avail = len;
	return c->ram + pa;
}

/* The code size: 16-bit in real and virtual-8086 mode and in a code
 * segment without the D bit, 64-bit in a 64-bit segment in long mode. */
static int code_size(const struct cpu *c)
{
	if (cpu_64bit(c))
		return 8;
	return cpu_pmode(c) && !cpu_vm86(c) && SEG_DB(c->seg[S_CS].attr) ?
	       4 : 2;
}

/*
 * Decode the instruction at RIP into d: from the code window when it holds
 * the whole instruction, else byte by byte past it (into the next page or
 * up to the CS limit, each fetch with its own fault).  An undefined
 * opcode is #UD, more than 15 bytes #GP(0).
 */
static void fetch_and_decode(struct cpu *c, struct insn *d)
{
	u8 buf[MAX_INSN_LEN];
	u64 eip = cpu_64bit(c) ? c->rip : c->eip;
	u32 avail;
	const u8 *win = code_window(c, eip, &avail);
	int mode = code_size(c);
	int n = win ? decode(win, avail, mode, d) : DECODE_MORE;

	if (n == DECODE_MORE) {
		if (avail)
			memcpy(buf, win, avail);
		do {
			buf[avail] = code_read8(c, eip + avail);
			avail++;
			n = decode(buf, avail, mode, d);
		} while (n == DECODE_MORE);
	}
	if (n == DECODE_UD)
		cpu_ud(c);
	if (n == DECODE_LONG)
		cpu_gp(c, 0);
	d->start = eip;
	d->next = mode == 8 ? eip + (u32)n : (u32)(eip + (u32)n);
	d->seg = d->seg_override >= 0 ? d->seg_override : S_DS;
	d->ea = 0;
}

/* --- Memory operands --- */

void insn_address(struct cpu *c, struct insn *d)
{
	u64 ea = (u64)(s64)d->disp;

	if (d->mod == 3)
		return;
	if (d->base == DR_RIP)
		ea += d->next;	/* the end of this instruction */
	else if (d->base != DR_NONE)
		ea += c->r[d->base].q;
	if (d->index != DR_NONE)
		ea += c->r[d->index].q << d->scale;
	d->ea = d->adsize == 2 ? ea & 0xffff :
		d->adsize == 4 ? (u32)ea : ea;
	d->seg = d->seg_override >= 0 ? d->seg_override : d->def_seg;
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

/* --- Branches and the stack --- */

static u64 branch_target(struct cpu *c, struct insn *d, u64 target)
{
	if (d->opsize == 2)
		target &= 0xffff;
	else if (d->opsize == 4)
		target = (u32)target;
	if (cpu_64bit(c) ? !canonical(target) :
			   target > c->seg[S_CS].limit)
		cpu_gp(c, 0);
	return target;
}

void jump_near(struct cpu *c, struct insn *d, u64 target)
{
	d->next = branch_target(c, d, target);
}

static void call_near(struct cpu *c, struct insn *d, u64 target)
{
	target = branch_target(c, d, target);
	cpu_push(c, d->next, d->opsize);
	d->next = target;
}

static u64 sp_mask(const struct cpu *c)
{
	return cpu_64bit(c) ? ~0ull : stack32(c) ? 0xffffffffu : 0xffff;
}

static void set_sp(struct cpu *c, u64 v)
{
	u64 m = sp_mask(c);

	c->r[R_ESP].q = (c->r[R_ESP].q & ~m) | (v & m);
}

/* A far pointer m16:16, m16:32 or m16:64 at the ModRM address. */
static void read_far_ptr(struct cpu *c, struct insn *d, u64 *off, u16 *sel)
{
	u64 o2 = d->ea + d->opsize;

	if (d->adsize == 2)
		o2 &= 0xffff;
	else if (d->adsize == 4)
		o2 = (u32)o2;
	*off = mem_read(c, d->seg, d->ea, d->opsize);
	*sel = (u16)mem_read(c, d->seg, o2, 2);
}

/* --- Instruction groups --- */

/* 00..3F with (op & 7) < 6: the eight ALU operations in six forms. */
static void exec_alu(struct cpu *c, struct insn *d, u8 op)
{
	int aop = op >> 3, size = (op & 1) ? d->opsize : 1;
	u64 a, b, r;

	switch (op & 7) {
	case 0:
	case 1:	/* Ev, Gv */
		insn_address(c, d);
		b = reg_read(c, d, size);
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
		insn_address(c, d);
		b = rm_read(c, d, size);
		a = reg_read(c, d, size);
		r = alu_arith(c, aop, a, b, size);
		if (aop != 7)
			reg_write(c, d, r, size);
		return;
	default:	/* AL/eAX, imm */
		b = imm_z(d);
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
	u64 a, b, r;

	insn_address(c, d);
	if (op == 0x83)
		b = sext((u8)d->imm, 1);
	else
		b = imm_z(d);
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
	u32 count;
	u64 a, r;

	insn_address(c, d);
	if (op <= 0xc1)
		count = (u8)d->imm;
	else if (op <= 0xd1)
		count = 1;
	else
		count = c->r[R_ECX].d;
	count &= size == 8 ? 0x3f : 0x1f;
	a = rm_read_rmw(c, d, size);
	r = alu_shift(c, d->reg, a, count, size);
	rm_write(c, d, r, size);
}


/* F6 F7: TEST NOT NEG MUL IMUL DIV IDIV. */
static void exec_grp3(struct cpu *c, struct insn *d, u8 op)
{
	int size = (op & 1) ? d->opsize : 1;
	u64 a;

	insn_address(c, d);
	switch (d->reg) {
	case 0:
	case 1:
		a = rm_read(c, d, size);
		alu_logic_flags(c, a & imm_z(d), size);
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
	u64 a, off;
	u16 sel;

	insn_address(c, d);
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
		d->next = c->rip;
		return;
	case 4:
		jump_near(c, d, rm_read(c, d, size));
		return;
	case 5:
		need_mem(c, d);
		read_far_ptr(c, d, &off, &sel);
		far_jmp(c, sel, off, d->next);
		d->next = c->rip;
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
	u8 al = (u8)c->r[R_EAX].d, old = al;
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
	u16 ax = (u16)c->r[R_EAX].d;
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
	u8 al = (u8)c->r[R_EAX].d;

	if (base == 0)
		cpu_raise(c, EXC_DE, 0);
	set_reg16(c, R_EAX, (u16)((al / base) << 8 | (al % base)));
	alu_logic_flags(c, al % base, 1);
}

static void exec_aad(struct cpu *c, u8 base)
{
	u16 ax = (u16)c->r[R_EAX].d;
	u8 al = (u8)((ax & 0xff) + (ax >> 8) * base);

	set_reg16(c, R_EAX, al);
	alu_logic_flags(c, al, 1);
}

/* --- Stack frames and flags --- */

static void exec_pusha(struct cpu *c, struct insn *d)
{
	int sz = d->opsize, i;
	u32 esp = c->r[R_ESP].d;

	mem_check(c, S_SS, (esp - 8 * sz) & sp_mask(c), 8 * sz, ACC_WRITE);
	for (i = 0; i < 8; i++)
		cpu_push(c, i == R_ESP ? esp : c->r[i].d, sz);
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
	u16 alloc = (u16)d->imm;
	int level = d->imm2 & 31, sz = d->opsize, i;
	u64 m = sp_mask(c), esp = c->r[R_ESP].q, ebp = c->r[R_EBP].q, frame;

	esp -= sz;
	mem_write(c, S_SS, esp & m, ebp, sz);
	frame = esp;
	if (level) {
		for (i = 1; i < level; i++) {
			u64 v;

			ebp -= sz;
			v = mem_read(c, S_SS, ebp & m, sz);
			esp -= sz;
			mem_write(c, S_SS, esp & m, v, sz);
		}
		esp -= sz;
		mem_write(c, S_SS, esp & m, frame, sz);
	}
	esp -= alloc;
	set_reg(c, R_EBP, frame & m, sz);
	set_sp(c, esp);
}

static void exec_leave(struct cpu *c, struct insn *d)
{
	u64 v;

	set_sp(c, c->r[R_EBP].q);
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
	v = (u32)cpu_pop(c, d->opsize);
	if (!cpu_pmode(c) || (!cpu_vm86(c) && c->cpl == 0))
		mask |= F_IOPL | F_IF;
	else if (cpu_vm86(c) || c->cpl <= iopl(c))
		mask |= F_IF;
	if (d->opsize == 2)
		mask &= 0xffff;
	cpu_set_eflags(c, v, mask);
}

void exec_cli_sti(struct cpu *c, bool sti)
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
	int size = (op & 1) ? (d->opsize == 2 ? 2 : 4) : 1;
	u16 port = op < 0xe8 ? (u8)d->imm : (u16)c->r[R_EDX].d;

	if (op & 2)
		exec_out(c, port, get_reg(c, R_EAX, size), size);
	else
		set_reg(c, R_EAX, exec_in(c, port, size), size);
}

/* --- Interrupts --- */

static void soft_int(struct cpu *c, struct insn *d, int vec, enum int_kind k)
{
	c->rip = d->next;
	cpu_interrupt(c, vec, k, 0);
	d->next = c->rip;
}

static void exec_x87(struct cpu *c, struct insn *d, u8 op)
{
	if (c->cr0 & (CR0_EM | CR0_TS))
		cpu_raise(c, EXC_NM, 0);
	insn_address(c, d);
	fpu_exec(c, op, d->modrm, d->seg, d->ea, d->opsize);
}

/* --- Moves --- */

static void exec_mov_sreg(struct cpu *c, struct insn *d, u8 op)
{
	insn_address(c, d);
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
	u64 off;
	u16 sel;

	insn_address(c, d);
	need_mem(c, d);
	read_far_ptr(c, d, &off, &sel);
	seg_load(c, sreg, sel);
	reg_write(c, d, off, d->opsize);
}

static void exec_moffs(struct cpu *c, struct insn *d, u8 op)
{
	int size = (op & 1) ? d->opsize : 1;
	u64 off = d->imm;

	if (op & 2)
		mem_write(c, data_seg(d), off, get_reg(c, R_EAX, size), size);
	else
		set_reg(c, R_EAX, mem_read(c, data_seg(d), off, size), size);
}

static void exec_bound(struct cpu *c, struct insn *d)
{
	s32 idx, lo, hi;
	u32 o2;

	insn_address(c, d);
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
	insn_address(c, d);
	dst = (u16)rm_read_rmw(c, d, 2);
	src = (u16)reg_read(c, d, 2);
	if ((dst & 3) < (src & 3)) {
		rm_write(c, d, (dst & ~3) | (src & 3), 2);
		alu_set_flag(c, F_ZF, true);
	} else {
		alu_set_flag(c, F_ZF, false);
	}
}

/* IMUL with two or three operands: the low half of the signed product,
 * CF and OF set when it does not hold the whole. */
void exec_imul(struct cpu *c, struct insn *d, u64 a, u64 b)
{
	int sz = d->opsize;
	__int128 p = (__int128)(s64)sext(a, sz) * (s64)sext(b, sz);
	u64 lo = (u64)p & size_mask(sz);

	reg_write(c, d, lo, sz);
	alu_set_res(c, lo, sz, p != (__int128)(s64)sext(lo, sz) ?
			       F_CF | F_OF : 0);
}

static void exec_imul3(struct cpu *c, struct insn *d, u8 op)
{
	u64 a;

	insn_address(c, d);
	a = rm_read(c, d, d->opsize);
	exec_imul(c, d, a, op == 0x6b ? sext((u8)d->imm, 1) : imm_z(d));
}

/* LOOP, LOOPE, LOOPNE, JCXZ: the count is CX or ECX by address size. */
static void exec_loop(struct cpu *c, struct insn *d, u8 op)
{
	u64 rel = sext((u8)d->imm, 1);
	u64 m = size_mask(d->adsize);
	u64 cnt = c->r[R_ECX].q & m;
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
		set_reg(c, R_ECX, (c->r[R_ECX].q & ~m) | cnt,
			d->adsize == 2 ? 2 : d->adsize);
}

static void exec_ret(struct cpu *c, struct insn *d, u16 pop)
{
	u64 target = cpu_pop(c, d->opsize);

	jump_near(c, d, target);
	if (pop)
		set_sp(c, c->r[R_ESP].q + pop);
}

/* --- The dispatch --- */

static void exec_op(struct cpu *c, struct insn *d, u8 op)
{
	u64 v;
	int sz = d->opsize;

	if (op < 0x40 && (op & 7) < 6) {
		exec_alu(c, d, op);
		return;
	}
	if (op >= 0x70 && op <= 0x7f) {
		v = sext((u8)d->imm, 1);
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
		cpu_push(c, get_reg(c, op_reg(d), sz), sz);
		return;
	case 0x58 ... 0x5f:
		v = cpu_pop(c, sz);
		set_reg(c, op_reg(d), v, sz);
		return;
	case 0x60: exec_pusha(c, d); return;
	case 0x61: exec_popa(c, d); return;
	case 0x62: exec_bound(c, d); return;
	case 0x63:
		if (!cpu_64bit(c)) {
			exec_arpl(c, d);
			return;
		}
		insn_address(c, d);	/* MOVSXD */
		reg_write(c, d, sext(rm_read(c, d, 4), 4), sz);
		return;
	case 0x68:
		cpu_push(c, imm_z(d), sz);
		return;
	case 0x6a:
		cpu_push(c, sext((u8)d->imm, 1), sz);
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

		insn_address(c, d);
		v = rm_read(c, d, s);
		alu_logic_flags(c, v & reg_read(c, d, s), s);
		return;
	}
	case 0x86: case 0x87: {
		int s = op & 1 ? sz : 1;

		insn_address(c, d);
		v = rm_read_rmw(c, d, s);
		rm_write(c, d, reg_read(c, d, s), s);
		reg_write(c, d, v, s);
		return;
	}
	case 0x88: case 0x89: {
		int s = op & 1 ? sz : 1;

		insn_address(c, d);
		rm_write(c, d, reg_read(c, d, s), s);
		return;
	}
	case 0x8a: case 0x8b: {
		int s = op & 1 ? sz : 1;

		insn_address(c, d);
		reg_write(c, d, rm_read(c, d, s), s);
		return;
	}
	case 0x8c: case 0x8e:
		exec_mov_sreg(c, d, op);
		return;
	case 0x8d:
		insn_address(c, d);
		need_mem(c, d);
		reg_write(c, d, d->ea, sz);
		return;
	case 0x8f:
		/* The address is computed with ESP already incremented. */
		v = cpu_pop(c, sz);
		insn_address(c, d);
		if (d->reg)
			cpu_ud(c);
		rm_write(c, d, v, sz);
		return;
	case 0x90:
		if (!(d->rex & 1))
			return;	/* NOP, and PAUSE with F3 */
		__attribute__((fallthrough));	/* REX.B: XCHG R8, rAX */
	case 0x91 ... 0x97:
		v = get_reg(c, op_reg(d), sz);
		set_reg(c, op_reg(d), get_reg(c, R_EAX, sz), sz);
		set_reg(c, R_EAX, v, sz);
		return;
	case 0x98:	/* CBW, CWDE, CDQE */
		set_reg(c, R_EAX, sext(get_reg(c, R_EAX, sz / 2), sz / 2), sz);
		return;
	case 0x99:	/* CWD, CDQ, CQO */
		v = (get_reg(c, R_EAX, sz) >> (sz * 8 - 1)) ? ~0ull : 0;
		set_reg(c, R_EDX, v, sz);
		return;
	case 0x9a: case 0xea: {
		u64 off = d->imm;
		u16 sel = d->imm2;

		if (op == 0x9a)
			far_call(c, sel, off, sz, d->next);
		else
			far_jmp(c, sel, off, d->next);
		d->next = c->rip;
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
		cpu_set_eflags(c, c->r[R_EAX].d >> 8,
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

		v = imm_z(d);
		alu_logic_flags(c, v & get_reg(c, R_EAX, s), s);
		return;
	}
	case 0xb0 ... 0xb7:
		set_reg8(c, reg_for(d, op_reg(d), 1), (u8)d->imm);
		return;
	case 0xb8 ... 0xbf:	/* eight bytes of immediate with REX.W */
		set_reg(c, op_reg(d), d->imm, sz);
		return;
	case 0xc0: case 0xc1: case 0xd0 ... 0xd3:
		exec_grp2(c, d, op);
		return;
	case 0xc2:
		exec_ret(c, d, (u16)d->imm);
		return;
	case 0xc3:
		exec_ret(c, d, 0);
		return;
	case 0xc4: exec_load_far(c, d, S_ES); return;
	case 0xc5: exec_load_far(c, d, S_DS); return;
	case 0xc6: case 0xc7: {
		int s = op & 1 ? sz : 1;

		insn_address(c, d);
		if (d->reg)
			cpu_ud(c);
		rm_write(c, d, imm_z(d), s);
		return;
	}
	case 0xc8: exec_enter(c, d); return;
	case 0xc9: exec_leave(c, d); return;
	case 0xca: case 0xcb:
		v = op == 0xca ? (u16)d->imm : 0;
		c->rip = d->next;
		far_ret(c, sz, (u16)v);
		d->next = c->rip;
		return;
	case 0xcc:
		soft_int(c, d, EXC_BP, INT_SOFT);
		return;
	case 0xcd:
		v = (u8)d->imm;
		vm86_iopl_check(c);
		soft_int(c, d, v, INT_SOFT);
		return;
	case 0xce:
		if (cpu_cond(c, 0))
			soft_int(c, d, EXC_OF, INT_SOFT);
		return;
	case 0xcf:
		vm86_iopl_check(c);
		c->rip = d->next;
		cpu_iret(c, sz);
		d->next = c->rip;
		return;
	case 0xd4: exec_aam(c, (u8)d->imm); return;
	case 0xd5: exec_aad(c, (u8)d->imm); return;
	case 0xd6:	/* SALC, undocumented but on every P6 */
		set_reg8(c, R_EAX, alu_cf(c) ? 0xff : 0);
		return;
	case 0xd7:
		v = (c->r[R_EBX].q + (u8)c->r[R_EAX].d) &
		    size_mask(d->adsize);
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
		call_near(c, d, d->next + rel_z(d));
		return;
	case 0xe9:
		jump_near(c, d, d->next + rel_z(d));
		return;
	case 0xeb:
		v = sext((u8)d->imm, 1);
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
 * One instruction: the decoder reads its bytes into a struct insn
 * (decode.c: prefixes, opcode, ModRM, SIB, displacement, immediates, and
 * the checks that belong to the form, such as where LOCK may stand),
 * then one switch over the opcode runs it.  Every read and every check
 * comes before the first change to a register, so a faulting instruction
 * leaves nothing half done (C:130).  System instructions go out to sys.c
 * and seg.c, the x87 to fpu.c.
 :*/
void cpu_exec_one(struct cpu *c)
{
	struct insn d;

	fetch_and_decode(c, &d);
	if (d.map == MAP_1B)
		exec_op(c, &d, d.op);
	else if (d.map == MAP_0F)
		exec_0f(c, &d);
	else
		cpu_ud(c);	/* 0F 38, 0F 3A: SSSE3 and later */
	c->rip = d.next;
}
