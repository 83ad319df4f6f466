/*
 * Two-byte opcodes (0F xx): the instructions the 286, 386, 486 and P6
 * added after the 8086's one-byte map ran out: system instructions
 * (descriptor tables, control registers, MSRs), bit instructions, SETcc,
 * CMOVcc, long Jcc, double shifts, CMPXCHG and friends.  MMX, SSE and
 * SSE2 go to sse.c.
 *
 * The system ones only check what belongs to decoding (privilege, mode,
 * operand form) and hand the work to seg.c and sys.c.
 */
#include "exec.h"

/* 0F 00: SLDT STR LLDT LTR VERR VERW. */
static void exec_grp6(struct cpu *c, struct insn *d)
{
	u16 sel;

	need_pmode(c);
	insn_address(c, d);
	switch (d->reg) {
	case 0:
	case 1:
		sel = d->reg == 0 ? c->ldtr.sel : c->tr.sel;
		rm_write(c, d, sel, d->mod == 3 ? d->opsize : 2);
		return;
	case 2:
	case 3:
		need_cpl0(c);
		sel = (u16)rm_read(c, d, 2);
		if (d->reg == 2)
			seg_lldt(c, sel);
		else
			seg_ltr(c, sel);
		return;
	case 4:
	case 5:
		sel = (u16)rm_read(c, d, 2);
		alu_set_flag(c, F_ZF, d->reg == 4 ? seg_verr(c, sel) :
			     seg_verw(c, sel));
		return;
	default:
		cpu_ud(c);
	}
}

/* The pseudo-descriptor of SGDT/SIDT/LGDT/LIDT at the ModRM address: a
 * limit and a base of 4 bytes (of which 16-bit code keeps three), or of 8
 * in 64-bit code. */
static u64 dtr_base_at(const struct insn *d)
{
	u64 o2 = d->ea + 2;

	return d->adsize == 2 ? o2 & 0xffff : d->adsize == 4 ? (u32)o2 : o2;
}

static void store_dtr(struct cpu *c, struct insn *d, const struct dtr *t)
{
	int bs = d->mode == 8 ? 8 : 4;
	u64 base = d->opsize == 2 ? t->base & 0xffffff : t->base;
	u64 o2 = dtr_base_at(d);

	mem_check(c, d->seg, d->ea, 2, ACC_WRITE);
	mem_check(c, d->seg, o2, bs, ACC_WRITE);
	mem_write(c, d->seg, d->ea, t->limit, 2);
	mem_write(c, d->seg, o2, base, bs);
}

static void load_dtr(struct cpu *c, struct insn *d, struct dtr *t)
{
	int bs = d->mode == 8 ? 8 : 4;
	u16 limit = (u16)mem_read(c, d->seg, d->ea, 2);
	u64 base = mem_read(c, d->seg, dtr_base_at(d), bs);

	if (bs == 8 && !canonical(base))
		cpu_gp(c, 0);
	if (d->opsize == 2 && bs == 4)
		base &= 0xffffff;
	t->limit = limit;
	t->base = base;
}

/* 0F 01: SGDT SIDT LGDT LIDT SMSW LMSW INVLPG. */
static void exec_grp7(struct cpu *c, struct insn *d)
{
	u32 v;

	insn_address(c, d);
	if (d->mod == 3 && d->reg == 7 && (d->rm & 7) == 0 && d->mode == 8) {
		sys_swapgs(c);
		return;
	}
	if (d->mod == 3 && d->reg != 4 && d->reg != 6)
		cpu_ud(c);
	switch (d->reg) {
	case 0:
		store_dtr(c, d, &c->gdtr);
		return;
	case 1:
		store_dtr(c, d, &c->idtr);
		return;
	case 2:
		need_cpl0(c);
		load_dtr(c, d, &c->gdtr);
		return;
	case 3:
		need_cpl0(c);
		load_dtr(c, d, &c->idtr);
		return;
	case 4:
		rm_write(c, d, c->cr0, d->mod == 3 ? d->opsize : 2);
		return;
	case 6:
		need_cpl0(c);
		v = rm_read(c, d, 2) & 0xf;
		/* LMSW sets PE but never clears it. */
		sys_write_cr(c, 0, (c->cr0 & ~0xeu) | v);
		return;
	case 7:
		need_cpl0(c);
		mmu_invlpg(c, seg_linear(c, d->seg, d->ea));
		return;
	default:
		cpu_ud(c);
	}
}

/* LAR, LSL: ZF says whether the selector qualified. */
static void exec_lar_lsl(struct cpu *c, struct insn *d, bool lsl)
{
	u32 v = 0;
	u16 sel;
	bool ok;

	need_pmode(c);
	insn_address(c, d);
	sel = (u16)rm_read(c, d, 2);
	ok = lsl ? seg_lsl(c, sel, &v) : seg_lar(c, sel, &v);
	if (ok)
		set_reg(c, d->reg, v, d->opsize);
	alu_set_flag(c, F_ZF, ok);
}

static void exec_mov_crdr(struct cpu *c, struct insn *d, u8 op)
{
	insn_address(c, d);	/* mod is ignored: always a register */
	need_cpl0(c);
	/* 64-bit code moves all of the register. */
	switch (op) {
	case 0x20:
		set_reg(c, d->rm, sys_read_cr(c, d->reg), d->mode == 8 ? 8 : 4);
		return;
	case 0x21:
		set_reg(c, d->rm, sys_read_dr(c, d->reg), d->mode == 8 ? 8 : 4);
		return;
	case 0x22:
		sys_write_cr(c, d->reg, d->mode == 8 ? c->r[d->rm].q :
						      c->r[d->rm].d);
		return;
	default:
		sys_write_dr(c, d->reg, c->r[d->rm].d);
		return;
	}
}

/*
 * BT BTS BTR BTC.  With a register bit offset and a memory operand the
 * offset is signed and may reach outside the operand: it selects the word,
 * dword or qword it falls in.  An immediate offset is taken modulo the
 * size.
 */
static void exec_bt(struct cpu *c, struct insn *d, int kind, u64 bit,
		    bool reg_offset)
{
	int sz = d->opsize, bits = sz * 8;
	u64 v, mask;

	if (reg_offset && d->mod != 3) {
		s64 off = (s64)sext(bit, sz);

		d->ea += (u64)((off >> __builtin_ctz((unsigned)bits)) * sz);
		if (d->adsize == 2)
			d->ea &= 0xffff;
		else if (d->adsize == 4)
			d->ea = (u32)d->ea;
	}
	mask = 1ull << (bit & (bits - 1));
	if (kind == 0) {
		v = rm_read(c, d, sz);
	} else {
		v = rm_read_rmw(c, d, sz);
		if (kind == 1)
			rm_write(c, d, v | mask, sz);
		else if (kind == 2)
			rm_write(c, d, v & ~mask, sz);
		else
			rm_write(c, d, v ^ mask, sz);
	}
	alu_set_flag(c, F_CF, v & mask);
}

static void exec_bsf_bsr(struct cpu *c, struct insn *d, bool rev)
{
	int sz = d->opsize;
	u64 v;

	insn_address(c, d);
	v = rm_read(c, d, sz);
	if (v == 0) {
		alu_set_flag(c, F_ZF, true);
		return;
	}
	reg_write(c, d, rev ? 63 - __builtin_clzll(v) : __builtin_ctzll(v),
		  sz);
	alu_set_flag(c, F_ZF, false);
}

static void exec_shxd(struct cpu *c, struct insn *d, u8 op)
{
	int sz = d->opsize;
	u32 count;
	u64 a, r;

	insn_address(c, d);
	count = (op & 1) ? c->r[R_ECX].d : (u8)d->imm;
	count &= sz == 8 ? 63 : 31;
	a = rm_read_rmw(c, d, sz);
	if (op < 0xa8)
		r = alu_shld(c, a, reg_read(c, d, sz), count, sz);
	else
		r = alu_shrd(c, a, reg_read(c, d, sz), count, sz);
	rm_write(c, d, r, sz);
}

static void exec_cmpxchg(struct cpu *c, struct insn *d, u8 op)
{
	int sz = (op & 1) ? d->opsize : 1;
	u64 dst, acc;

	insn_address(c, d);
	dst = rm_read_rmw(c, d, sz);
	acc = get_reg(c, R_EAX, sz);
	alu_arith(c, 7, acc, dst, sz);
	if (acc == dst) {
		rm_write(c, d, reg_read(c, d, sz), sz);
	} else {
		/* A memory destination is written back even on failure; a
		 * register one is left alone (a 32-bit one is not
		 * zero-extended in 64-bit mode, as the host shows). */
		if (d->mod != 3)
			rm_write(c, d, dst, sz);
		set_reg(c, R_EAX, dst, sz);
	}
}

/* CMPXCHG8B, and with REX.W CMPXCHG16B (a 16-byte aligned operand). */
static void exec_cmpxchg8b(struct cpu *c, struct insn *d)
{
	int half = d->opsize == 8 ? 8 : 4;
	u64 lo, hi, e_lo, e_hi;
	bool eq;

	if (d->reg != 1)
		cpu_ud(c);
	need_mem(c, d);
	/* The linear address must be aligned (FS or GS may have a base
	 * that is not), as the host's CPU shows. */
	if (half == 8 && (seg_linear(c, d->seg, d->ea) & 15))
		cpu_gp(c, 0);
	mem_check(c, d->seg, d->ea, 2 * half, ACC_WRITE);
	lo = mem_read(c, d->seg, d->ea, half);
	hi = mem_read(c, d->seg, d->ea + half, half);
	e_lo = get_reg(c, R_EAX, half);
	e_hi = get_reg(c, R_EDX, half);
	eq = lo == e_lo && hi == e_hi;
	if (eq) {
		lo = get_reg(c, R_EBX, half);
		hi = get_reg(c, R_ECX, half);
	}
	/* The memory is written either way, as a locked cycle would. */
	mem_write(c, d->seg, d->ea, lo, half);
	mem_write(c, d->seg, d->ea + half, hi, half);
	if (!eq) {
		set_reg(c, R_EAX, lo, half);
		set_reg(c, R_EDX, hi, half);
	}
	alu_set_flag(c, F_ZF, eq);
}

static void exec_xadd(struct cpu *c, struct insn *d, u8 op)
{
	int sz = (op & 1) ? d->opsize : 1;
	u64 dst, src, sum;

	insn_address(c, d);
	dst = rm_read_rmw(c, d, sz);
	src = reg_read(c, d, sz);
	sum = alu_arith(c, 0, dst, src, sz);
	reg_write(c, d, dst, sz);
	rm_write(c, d, sum, sz);
}

static void exec_imul2(struct cpu *c, struct insn *d)
{
	u64 a;

	insn_address(c, d);
	a = rm_read(c, d, d->opsize);
	exec_imul(c, d, a, reg_read(c, d, d->opsize));
}

static void exec_rdtsc(struct cpu *c)
{
	if ((c->cr4 & CR4_TSD) && cpu_pmode(c) &&
	    (cpu_vm86(c) || c->cpl != 0))
		cpu_gp(c, 0);
	sys_rdtsc(c);
}

static void exec_rdpmc(struct cpu *c)
{
	if (!(c->cr4 & CR4_PCE) && cpu_pmode(c) &&
	    (cpu_vm86(c) || c->cpl != 0))
		cpu_gp(c, 0);
	if (c->r[R_ECX].d > 1)
		cpu_gp(c, 0);
	/* No performance counters: they read as zero. */
	c->r[R_EAX].q = 0;
	c->r[R_EDX].q = 0;
}

/* SYSENTER and SYSEXIT set EIP themselves. */
static void exec_sysenter_exit(struct cpu *c, struct insn *d, bool exit)
{
	c->rip = d->next;
	if (exit)
		sys_sysexit(c, d->opsize);
	else
		sys_sysenter(c);
	d->next = c->rip;
}

void exec_0f(struct cpu *c, struct insn *d)
{
	u8 op = d->op;
	int sz = d->opsize;
	u64 v;

	if (sse_opcode(op)) {
		sse_exec(c, d, op);
		return;
	}
	switch (op) {
	case 0x00: exec_grp6(c, d); return;
	case 0x01: exec_grp7(c, d); return;
	case 0x05:	/* SYSCALL (64-bit code only: the decoder said so) */
		sys_syscall(c, d->next);
		d->next = c->rip;
		return;
	case 0x07:	/* SYSRET */
		sys_sysret(c, sz);
		d->next = c->rip;
		return;
	case 0x02: exec_lar_lsl(c, d, false); return;
	case 0x03: exec_lar_lsl(c, d, true); return;
	case 0x06:
		need_cpl0(c);
		c->cr0 &= ~CR0_TS;
		return;
	case 0x08: case 0x09:	/* INVD, WBINVD: we have no cache */
		need_cpl0(c);
		return;
	case 0x18 ... 0x1f:	/* hint NOPs (0F 1F is the long NOP) */
		insn_address(c, d);
		return;
	case 0x20 ... 0x23:
		exec_mov_crdr(c, d, op);
		return;
	case 0x30:
		need_cpl0(c);
		sys_wrmsr(c);
		return;
	case 0x31: exec_rdtsc(c); return;
	case 0x32:
		need_cpl0(c);
		sys_rdmsr(c);
		return;
	case 0x33: exec_rdpmc(c); return;
	case 0x34: exec_sysenter_exit(c, d, false); return;
	case 0x35: exec_sysenter_exit(c, d, true); return;
	case 0x40 ... 0x4f:
		insn_address(c, d);
		v = rm_read(c, d, sz);
		/* A 32-bit CMOV in 64-bit code clears the upper half of
		 * its destination even when it does not move. */
		if (cpu_cond(c, op & 15))
			reg_write(c, d, v, sz);
		else if (sz == 4 && d->mode == 8)
			reg_write(c, d, reg_read(c, d, 4), 4);
		return;
	case 0x80 ... 0x8f:
		if (cpu_cond(c, op & 15))
			jump_near(c, d, d->next + rel_z(d));
		return;
	case 0x90 ... 0x9f:
		insn_address(c, d);
		rm_write(c, d, cpu_cond(c, op & 15), 1);
		return;
	case 0xa0: case 0xa8:
		cpu_push(c, c->seg[op == 0xa0 ? S_FS : S_GS].sel, sz);
		return;
	case 0xa1: case 0xa9:
		v = cpu_pop(c, sz);
		seg_load(c, op == 0xa1 ? S_FS : S_GS, (u16)v);
		return;
	case 0xa2: sys_cpuid(c); return;
	case 0xa3: case 0xab: case 0xb3: case 0xbb:
		insn_address(c, d);
		exec_bt(c, d, (op >> 3) & 3, reg_read(c, d, sz), true);
		return;
	case 0xa4: case 0xa5: case 0xac: case 0xad:
		exec_shxd(c, d, op);
		return;
	case 0xaf: exec_imul2(c, d); return;
	case 0xb0: case 0xb1: exec_cmpxchg(c, d, op); return;
	case 0xb2: exec_load_far(c, d, S_SS); return;
	case 0xb4: exec_load_far(c, d, S_FS); return;
	case 0xb5: exec_load_far(c, d, S_GS); return;
	case 0xb6: case 0xb7: case 0xbe: case 0xbf: {
		int s = (op & 1) ? 2 : 1;

		insn_address(c, d);
		v = rm_read(c, d, s);
		reg_write(c, d, op >= 0xbe ? sext(v, s) : v, sz);
		return;
	}
	case 0xba:
		insn_address(c, d);
		if (d->reg < 4)
			cpu_ud(c);
		v = (u8)d->imm;
		exec_bt(c, d, d->reg - 4, v, false);
		return;
	case 0xbc: exec_bsf_bsr(c, d, false); return;
	case 0xbd: exec_bsf_bsr(c, d, true); return;
	case 0xc0: case 0xc1: exec_xadd(c, d, op); return;
	case 0xc7:
		insn_address(c, d);
		exec_cmpxchg8b(c, d);
		return;
	case 0xc8 ... 0xcf:
		if (sz == 2)	/* undefined; P6 and later clear the word */
			set_reg16(c, op_reg(d), 0);
		else if (sz == 4)
			set_reg(c, op_reg(d),
				__builtin_bswap32(c->r[op_reg(d)].d), 4);
		else
			c->r[op_reg(d)].q = __builtin_bswap64(c->r[op_reg(d)].q);
		return;
	default:
		cpu_ud(c);	/* UD2 and everything unknown */
	}
}
