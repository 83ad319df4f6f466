/*
 * Protected mode: descriptors, segment loads, far transfers, interrupt
 * delivery, IRET and task switches.
 *
 * Everything here follows the pseudo-code of the SDM (vol. 2 for JMP,
 * CALL, RET, INT n, IRET, LAR, LSL, VERR/VERW, LLDT, LTR; vol. 3 ch. 5-7
 * for the rules behind them).  The pattern in every function is the same:
 * read and check everything first (descriptors, the new stack, the room
 * on it), raising the fault the SDM names with the selector as its error
 * code; then commit all at once.  That keeps the promise of
 * cpu_internal.h that a faulting instruction changes nothing but the
 * accessed bits of descriptors it has looked at.  A task switch is the
 * one exception the SDM itself makes: once the new task's registers are
 * loaded, a fault belongs to the new task (see task_switch()).
 *
 * Only 32-bit TSSs are supported (Linux uses nothing else), and there is
 * no virtual-8086 mode: an IRET or task switch into it raises #GP(0).
 */
#include "cpu_internal.h"

/* The EXT bit of an error code: the fault happened while delivering an
 * event the program did not ask for (an interrupt or an exception). */
#define ERR_EXT 1u
#define ERR_IDT 2u

/* tr.attr / descriptor type of a busy TSS has this bit set. */
#define TSS_BUSY 0x2u

struct desc {
	u32 lo, hi;
	u64 addr;	/* linear address of the descriptor */
};

enum { TS_JMP, TS_CALL, TS_IRET, TS_INT };

static noreturn void fault_sel(struct cpu *c, int vec, u16 sel, u32 ext)
{
	cpu_raise(c, vec, (sel & 0xfffcu) | ext);
}

static u16 desc_attr(const struct desc *d)
{
	return (d->hi >> 8) & 0xf0ff;
}

static u32 desc_base(const struct desc *d)
{
	return (d->lo >> 16) | ((d->hi & 0xff) << 16) | (d->hi & 0xff000000u);
}

static u32 desc_limit(const struct desc *d)
{
	u32 lim = (d->lo & 0xffff) | (d->hi & 0xf0000u);

	if (d->hi & (1u << 23))
		lim = (lim << 12) | 0xfff;
	return lim;
}

/* Read the descriptor sel names from the GDT or LDT.  False if it lies
 * beyond the table's limit (the caller raises its own fault). */
static bool desc_read(struct cpu *c, u16 sel, struct desc *d)
{
	const struct seg *ldt = &c->ldtr;
	u64 base;
	u32 limit;

	if (sel & 4) {
		if (!SEG_P(ldt->attr))
			return false;
		base = ldt->base;
		limit = ldt->limit;
	} else {
		base = c->gdtr.base;
		limit = c->gdtr.limit;
	}
	if ((u32)(sel | 7) > limit)
		return false;
	d->addr = base + (sel & ~7u);
	d->lo = lin_read(c, d->addr, 4, true);
	d->hi = lin_read(c, d->addr + 4, 4, true);
	return true;
}

static void desc_write_hi(struct cpu *c, struct desc *d, u32 hi)
{
	d->hi = hi;
	lin_write(c, d->addr + 4, hi, 4, true);
}

/* Code and data segments record that they were used. */
static void set_accessed(struct cpu *c, struct desc *d)
{
	if (!(d->hi & 0x100))
		desc_write_hi(c, d, d->hi | 0x100);
}

static void seg_from_desc(struct seg *s, u16 sel, const struct desc *d)
{
	s->sel = sel;
	s->base = desc_base(d);
	s->limit = desc_limit(d);
	s->attr = desc_attr(d);
}

static void seg_null(struct seg *s, u16 sel)
{
	s->sel = sel;
	s->base = 0;
	s->limit = 0;
	s->attr = 0;
}

static bool is_null(u16 sel)
{
	return (sel & ~3u) == 0;
}

static bool is_code(u16 a)
{
	return SEG_S(a) && SEG_CODE(a);
}

static bool is_writable_data(u16 a)
{
	return SEG_S(a) && !SEG_CODE(a) && SEG_RW(a);
}

/* Real mode (and the unused virtual-8086 mode): the selector is the base
 * divided by 16.  A register emptied in protected mode becomes usable. */
static void seg_load_real(struct seg *s, u16 sel)
{
	s->sel = sel;
	s->base = (u32)sel << 4;
	if (!SEG_P(s->attr)) {
		s->limit = 0xffff;
		s->attr = 0x93;
	}
}

/* Virtual-8086 mode, on entry: every segment register becomes its
 * selector times 16, a present, writable 16-bit segment of privilege 3
 * with a 64 KiB limit, whatever protected mode left in it. */
static void enter_vm86(struct cpu *c, const u16 sel[6])
{
	int i;

	for (i = 0; i < 6; i++) {
		c->seg[i].sel = sel[i];
		c->seg[i].base = (u32)sel[i] << 4;
		c->seg[i].limit = 0xffff;
		c->seg[i].attr = i == S_CS ? 0xfb : 0xf3;
	}
	c->cpl = 3;
}

/*
 * Long mode: system descriptors (LDT, TSS, gates) are 16 bytes, the
 * second half holding base bits 63..32 and a zero type field.  Returns
 * those base bits, shifted into place; #GP(sel) if the second half is not
 * within the table or has a type.
 */
static u64 desc_base_high(struct cpu *c, u16 sel)
{
	struct desc hi;

	if (!desc_read(c, (u16)(sel + 8), &hi) || ((hi.hi >> 8) & 0x1f))
		fault_sel(c, EXC_GP, sel, 0);
	return (u64)hi.lo << 32;
}

/*
 * The whole 64-bit base of the LDT or TSS descriptor d at sel in long
 * mode: #GP(sel) when it is not canonical (LLDT and LTR check it, as
 * KVM's emulator does and the SDM's LLDT and LTR pages say; the
 * kvm-unit-tests la57 entry tries both), before anything is loaded.
 */
static u64 desc_base_long(struct cpu *c, u16 sel, const struct desc *d)
{
	u64 base = desc_base_high(c, sel) | desc_base(d);

	if (!canonical(base))
		fault_sel(c, EXC_GP, sel, 0);
	return base;
}

/* --- Segment loads --- */

/*
 * The checks for a stack segment loaded at privilege level cpl.  vec is
 * #GP for MOV/POP SS and #TS for loads from a TSS; not-present is #SS.
 */
static void check_stack_seg(struct cpu *c, u16 sel, struct desc *d, int cpl,
			    int vec, u32 ext)
{
	u16 a;

	if (is_null(sel))
		cpu_raise(c, vec, ext);
	if ((sel & 3) != cpl || !desc_read(c, sel, d))
		fault_sel(c, vec, sel, ext);
	a = desc_attr(d);
	if (!is_writable_data(a) || SEG_DPL(a) != cpl)
		fault_sel(c, vec, sel, ext);
	if (!SEG_P(a))
		fault_sel(c, EXC_SS, sel, ext);
}

/* The checks for DS, ES, FS, GS; false for a null selector. */
static bool check_data_seg(struct cpu *c, u16 sel, struct desc *d, int cpl,
			   int vec)
{
	u16 a;

	if (is_null(sel))
		return false;
	if (!desc_read(c, sel, d))
		fault_sel(c, vec, sel, 0);
	a = desc_attr(d);
	if (!SEG_S(a) || (SEG_CODE(a) && !SEG_RW(a)))
		fault_sel(c, vec, sel, 0);
	if ((!SEG_CODE(a) || !SEG_CONF(a)) &&
	    ((int)(sel & 3) > SEG_DPL(a) || cpl > SEG_DPL(a)))
		fault_sel(c, vec, sel, 0);
	if (!SEG_P(a))
		fault_sel(c, EXC_NP, sel, 0);
	return true;
}

void seg_load(struct cpu *c, int sreg, u16 sel)
{
	struct desc d;

	if (!cpu_pmode(c) || cpu_vm86(c)) {
		seg_load_real(&c->seg[sreg], sel);
		return;
	}
	if (sreg == S_SS && cpu_64bit(c) && is_null(sel) && c->cpl < 3 &&
	    (sel & 3) == c->cpl) {
		/* 64-bit mode needs no stack segment below ring 3. */
		seg_null(&c->seg[S_SS], sel);
		return;
	}
	if (sreg == S_SS) {
		check_stack_seg(c, sel, &d, c->cpl, EXC_GP, 0);
	} else if (!check_data_seg(c, sel, &d, c->cpl, EXC_GP)) {
		seg_null(&c->seg[sreg], sel);
		return;
	}
	set_accessed(c, &d);
	seg_from_desc(&c->seg[sreg], sel, &d);
}

/* After a return to an outer level: data segment registers the new CPL
 * may not use are emptied, so that the kernel's segments do not leak.
 * Only the selector and the rights go (the SDM's IRET and RET): the base
 * stays, and 64-bit code, which checks neither, still uses FS's and GS's
 * (kvm-unit-tests' emulator64 relies on it, as QEMU and KVM do). */
static void drop_inner_segs(struct cpu *c)
{
	static const int regs[] = { S_ES, S_DS, S_FS, S_GS };
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(regs); i++) {
		struct seg *s = &c->seg[regs[i]];
		u16 a = s->attr;

		if (!SEG_P(a) || (SEG_CODE(a) && SEG_CONF(a)))
			continue;
		if (SEG_DPL(a) < c->cpl) {
			u64 base = s->base;

			seg_null(s, 0);
			s->base = base;
		}
	}
}

/* Load CS from a checked descriptor; the selector's RPL becomes cpl. */
static void load_cs(struct cpu *c, u16 sel, struct desc *d, int cpl)
{
	set_accessed(c, d);
	seg_from_desc(&c->seg[S_CS], (sel & ~3u) | cpl, d);
	c->cpl = cpl;
}

/* --- Stacks of other privilege levels --- */

/*
 * Write a frame of n values below esp on stack ss (the first value at the
 * highest address, as successive pushes would put it), after checking the
 * segment limit (#SS(err)) and the pages.  Returns the new ESP.
 */
static u32 push_frame(struct cpu *c, const struct seg *ss, u32 esp,
		      const u32 *v, int n, int size, bool user, u32 err)
{
	bool big = SEG_DB(ss->attr);
	u32 bytes = (u32)n * size, nsp, off, lin;
	int i;

	nsp = big ? esp - bytes : (esp & 0xffff0000u) | ((esp - bytes) & 0xffff);
	off = big ? nsp : nsp & 0xffff;
	if (!seg_limit_ok(ss, off, bytes) || (!big && off + bytes > 0x10000))
		cpu_raise(c, EXC_SS, err);
	for (i = 0; i < n; i++) {
		lin = ss->base + off + (u32)(n - 1 - i) * size;
		mmu_translate(c, lin, ACC_WRITE, user);
		mmu_translate(c, lin + size - 1, ACC_WRITE, user);
	}
	for (i = 0; i < n; i++) {
		lin = ss->base + off + (u32)(n - 1 - i) * size;
		lin_write(c, lin, v[i], size, !user);
	}
	return nsp;
}

/* Read the size-byte value k bytes above the top of the current stack. */
static u32 stack_peek(struct cpu *c, u32 k, int size)
{
	u32 off = c->r[R_ESP].d + k;

	return mem_read(c, S_SS, stack32(c) ? off : off & 0xffff, size);
}

static void stack_drop(struct cpu *c, u32 bytes)
{
	u32 esp = c->r[R_ESP].d;

	if (stack32(c))
		c->r[R_ESP].d = esp + bytes;
	else
		c->r[R_ESP].d = (esp & 0xffff0000u) | ((esp + bytes) & 0xffff);
}

static u32 tss_read(struct cpu *c, u32 off, int size)
{
	return lin_read(c, c->tr.base + off, size, true);
}

/* The stack for privilege level dpl, from the current TSS. */
static void tss_stack(struct cpu *c, int dpl, u32 ext, struct seg *ss,
		      u32 *esp)
{
	u32 off = 4 + (u32)dpl * 8;
	struct desc d;
	u16 sel;

	if (!(c->tr.attr & 8) || off + 5 > c->tr.limit)
		fault_sel(c, EXC_TS, c->tr.sel, ext);
	*esp = tss_read(c, off, 4);
	sel = (u16)tss_read(c, off + 4, 2);
	check_stack_seg(c, sel, &d, dpl, EXC_TS, ext);
	set_accessed(c, &d);
	seg_from_desc(ss, sel, &d);
}

/* --- Far jumps, calls and returns --- */

/* Long mode's versions, at the end of the file. */
static void far_long(struct cpu *c, u16 sel, u64 off, int opsize,
		     u64 next_rip, bool call);
static void far_ret_long(struct cpu *c, int opsize, u16 pop_bytes);
/* Commit a long-mode return: CS:RIP, and SS (null when sd is NULL). */
static void commit_return_long(struct cpu *c, u16 cs, struct desc *cd,
			       u64 rip, u16 ss, struct desc *sd)
{
	load_cs(c, cs, cd, cs & 3);
	c->rip = SEG_L(desc_attr(cd)) ? rip : (u32)rip;
	if (sd) {
		set_accessed(c, sd);
		seg_from_desc(&c->seg[S_SS], ss, sd);
	} else {
		seg_null(&c->seg[S_SS], ss);
	}
}

static void iret_long(struct cpu *c, int opsize);
static void interrupt_long(struct cpu *c, int vec, enum int_kind kind,
			   u32 err);

static void task_switch(struct cpu *c, u16 sel, struct desc *d, int how,
			bool has_err, u32 err, u32 ext);

/* The checks on a code segment reached directly by JMP or CALL. */
static void check_code_direct(struct cpu *c, u16 sel, struct desc *d)
{
	u16 a = desc_attr(d);

	if (!is_code(a))
		fault_sel(c, EXC_GP, sel, 0);
	if (SEG_CONF(a) ? SEG_DPL(a) > c->cpl
			: ((int)(sel & 3) > c->cpl || SEG_DPL(a) != c->cpl))
		fault_sel(c, EXC_GP, sel, 0);
	if (!SEG_P(a))
		fault_sel(c, EXC_NP, sel, 0);
}

static void check_eip(struct cpu *c, u32 eip, const struct desc *d)
{
	if (eip > desc_limit(d))
		cpu_gp(c, 0);
}

/* JMP or CALL to a TSS or through a task gate. */
static void jump_to_task(struct cpu *c, u16 sel, struct desc *d, int how,
			 u32 next_eip)
{
	u16 a = desc_attr(d), tsel = sel;
	struct desc td = *d;

	if (SEG_DPL(a) < c->cpl || SEG_DPL(a) < (int)(sel & 3))
		fault_sel(c, EXC_GP, sel, 0);
	if (!SEG_P(a))
		fault_sel(c, EXC_NP, sel, 0);
	if (SEG_TYPE(a) == 5) {
		tsel = (u16)(d->lo >> 16);
		if ((tsel & 4) || !desc_read(c, tsel, &td))
			fault_sel(c, EXC_GP, tsel, 0);
		a = desc_attr(&td);
		if (SEG_S(a) || SEG_TYPE(a) != 9)
			fault_sel(c, EXC_GP, tsel, 0);
		if (!SEG_P(a))
			fault_sel(c, EXC_NP, tsel, 0);
	} else if (SEG_TYPE(a) != 9) {
		fault_sel(c, EXC_GP, sel, 0);	/* busy, or 16-bit */
	}
	c->eip = next_eip;
	task_switch(c, tsel, &td, how, false, 0, 0);
}

/* A call gate's target code segment, checked. */
static void gate_target(struct cpu *c, const struct desc *g, struct desc *d,
			u16 *sel, u32 *off)
{
	u16 a;

	*sel = (u16)(g->lo >> 16);
	*off = (g->hi & 0xffff0000u) | (g->lo & 0xffff);
	if (!(desc_attr(g) & 8))
		*off &= 0xffff;
	if (is_null(*sel))
		cpu_gp(c, 0);
	if (!desc_read(c, *sel, d))
		fault_sel(c, EXC_GP, *sel, 0);
	a = desc_attr(d);
	if (!is_code(a) || SEG_DPL(a) > c->cpl)
		fault_sel(c, EXC_GP, *sel, 0);
	if (!SEG_P(a))
		fault_sel(c, EXC_NP, *sel, 0);
}

static void check_call_gate(struct cpu *c, u16 sel, const struct desc *g)
{
	u16 a = desc_attr(g);

	if (SEG_DPL(a) < c->cpl || SEG_DPL(a) < (int)(sel & 3))
		fault_sel(c, EXC_GP, sel, 0);
	if (!SEG_P(a))
		fault_sel(c, EXC_NP, sel, 0);
}

void far_jmp(struct cpu *c, u16 sel, u64 off64, u64 next_rip)
{
	u32 off = (u32)off64, next_eip = (u32)next_rip;
	struct desc d, g;
	u16 a;

	if (c->efer & EFER_LMA) {
		far_long(c, sel, off64, 8, next_rip, false);
		return;
	}
	if (!cpu_pmode(c) || cpu_vm86(c)) {
		seg_load_real(&c->seg[S_CS], sel);
		c->eip = off;
		return;
	}
	if (is_null(sel))
		cpu_gp(c, 0);
	if (!desc_read(c, sel, &d))
		fault_sel(c, EXC_GP, sel, 0);
	a = desc_attr(&d);
	if (SEG_S(a)) {
		check_code_direct(c, sel, &d);
		check_eip(c, off, &d);
		load_cs(c, sel, &d, c->cpl);
		c->eip = off;
		return;
	}
	switch (SEG_TYPE(a)) {
	case 4:
	case 0xc:
		check_call_gate(c, sel, &d);
		g = d;
		gate_target(c, &g, &d, &sel, &off);
		a = desc_attr(&d);
		if (!SEG_CONF(a) && SEG_DPL(a) != c->cpl)
			fault_sel(c, EXC_GP, sel, 0);
		check_eip(c, off, &d);
		load_cs(c, sel, &d, c->cpl);
		c->eip = off;
		return;
	case 5:
	case 9:
	case 0xb:
		jump_to_task(c, sel, &d, TS_JMP, next_eip);
		return;
	default:
		fault_sel(c, EXC_GP, sel, 0);
	}
}

/* CALL through a call gate to a more privileged, non-conforming segment:
 * the stack of that level comes from the TSS, and the gate's parameter
 * count says how many words or dwords to copy across. */
static void call_gate_inner(struct cpu *c, const struct desc *g, u16 sel,
			    struct desc *d, u32 off, u32 next_eip)
{
	int dpl = SEG_DPL(desc_attr(d)), size = (desc_attr(g) & 8) ? 4 : 2;
	int n = g->hi & 0x1f, i, k = 0;
	u32 v[4 + 31], esp;
	struct seg ss;

	tss_stack(c, dpl, 0, &ss, &esp);
	v[k++] = c->seg[S_SS].sel;
	v[k++] = c->r[R_ESP].d;
	for (i = n - 1; i >= 0; i--)
		v[k++] = stack_peek(c, (u32)i * size, size);
	v[k++] = c->seg[S_CS].sel;
	v[k++] = next_eip;
	check_eip(c, off, d);
	esp = push_frame(c, &ss, esp, v, k, size, false, ss.sel & 0xfffc);
	c->seg[S_SS] = ss;
	c->r[R_ESP].d = esp;
	load_cs(c, sel, d, dpl);
	c->eip = off;
}

/* Push the return address of a far call on the current stack. */
static void push_return(struct cpu *c, int size, u32 next_eip)
{
	u32 v[2] = { c->seg[S_CS].sel, next_eip };

	c->r[R_ESP].d = push_frame(c, &c->seg[S_SS], c->r[R_ESP].d, v, 2, size,
				 c->cpl == 3, 0);
}

void far_call(struct cpu *c, u16 sel, u64 off64, int opsize, u64 next_rip)
{
	u32 off = (u32)off64, next_eip = (u32)next_rip;
	struct desc d, g;
	u16 a;

	if (c->efer & EFER_LMA) {
		far_long(c, sel, off64, opsize, next_rip, true);
		return;
	}
	if (!cpu_pmode(c) || cpu_vm86(c)) {
		push_return(c, opsize, next_eip);
		seg_load_real(&c->seg[S_CS], sel);
		c->eip = off;
		return;
	}
	if (is_null(sel))
		cpu_gp(c, 0);
	if (!desc_read(c, sel, &d))
		fault_sel(c, EXC_GP, sel, 0);
	a = desc_attr(&d);
	if (SEG_S(a)) {
		check_code_direct(c, sel, &d);
		check_eip(c, off, &d);
		push_return(c, opsize, next_eip);
		load_cs(c, sel, &d, c->cpl);
		c->eip = off;
		return;
	}
	switch (SEG_TYPE(a)) {
	case 4:
	case 0xc:
		check_call_gate(c, sel, &d);
		g = d;
		gate_target(c, &g, &d, &sel, &off);
		a = desc_attr(&d);
		if (!SEG_CONF(a) && SEG_DPL(a) < c->cpl) {
			call_gate_inner(c, &g, sel, &d, off, next_eip);
			return;
		}
		check_eip(c, off, &d);
		push_return(c, (desc_attr(&g) & 8) ? 4 : 2, next_eip);
		load_cs(c, sel, &d, c->cpl);
		c->eip = off;
		return;
	case 5:
	case 9:
	case 0xb:
		jump_to_task(c, sel, &d, TS_CALL, next_eip);
		return;
	default:
		fault_sel(c, EXC_GP, sel, 0);
	}
}

/* The checks on the code segment a RET or IRET returns to. */
static void check_return_cs(struct cpu *c, u16 sel, struct desc *d)
{
	u16 a;
	int rpl = sel & 3;

	if (is_null(sel))
		cpu_gp(c, 0);
	if (!desc_read(c, sel, d))
		fault_sel(c, EXC_GP, sel, 0);
	a = desc_attr(d);
	if (!is_code(a) || rpl < c->cpl)
		fault_sel(c, EXC_GP, sel, 0);
	if (SEG_CONF(a) ? SEG_DPL(a) > rpl : SEG_DPL(a) != rpl)
		fault_sel(c, EXC_GP, sel, 0);
	if (!SEG_P(a))
		fault_sel(c, EXC_NP, sel, 0);
}

/* The stack segment a return to an outer level loads. */
static void check_return_ss(struct cpu *c, u16 sel, int rpl, struct desc *d)
{
	u16 a;

	if (is_null(sel))
		cpu_gp(c, 0);
	if ((sel & 3) != rpl || !desc_read(c, sel, d))
		fault_sel(c, EXC_GP, sel, 0);
	a = desc_attr(d);
	if (!is_writable_data(a) || SEG_DPL(a) != rpl)
		fault_sel(c, EXC_GP, sel, 0);
	if (!SEG_P(a))
		fault_sel(c, EXC_SS, sel, 0);
}

/* Commit a return to an outer privilege level. */
static void return_outer(struct cpu *c, u16 cs, struct desc *cd, u32 eip,
			 u16 ss, struct desc *sd, u32 esp)
{
	int rpl = cs & 3;

	load_cs(c, cs, cd, rpl);
	c->eip = eip;
	set_accessed(c, sd);
	seg_from_desc(&c->seg[S_SS], ss, sd);
	c->r[R_ESP].d = esp;
	drop_inner_segs(c);
}

void far_ret(struct cpu *c, int opsize, u16 pop_bytes)
{
	struct desc cd, sd;
	u32 eip, esp;
	u16 cs, ss;

	if (c->efer & EFER_LMA) {
		far_ret_long(c, opsize, pop_bytes);
		return;
	}
	eip = stack_peek(c, 0, opsize);
	cs = (u16)stack_peek(c, opsize, 2);
	if (!cpu_pmode(c) || cpu_vm86(c)) {
		stack_drop(c, 2 * opsize + pop_bytes);
		seg_load_real(&c->seg[S_CS], cs);
		c->eip = eip;
		return;
	}
	check_return_cs(c, cs, &cd);
	if ((cs & 3) == c->cpl) {
		check_eip(c, eip, &cd);
		stack_drop(c, 2 * opsize + pop_bytes);
		load_cs(c, cs, &cd, c->cpl);
		c->eip = eip;
		return;
	}
	esp = stack_peek(c, 2 * opsize + pop_bytes, opsize);
	ss = (u16)stack_peek(c, 3 * opsize + pop_bytes, 2);
	check_return_ss(c, ss, cs & 3, &sd);
	check_eip(c, eip, &cd);
	if (opsize == 2)
		esp = (c->r[R_ESP].d & 0xffff0000u) | (esp & 0xffff);
	esp += pop_bytes;
	return_outer(c, cs, &cd, eip, ss, &sd, esp);
}

/* --- IRET --- */

/* The EFLAGS bits an IRET at the current CPL may change. */
static u32 iret_mask(const struct cpu *c, int opsize)
{
	u32 m = F_ARITH | F_TF | F_DF | F_NT | F_RF | F_AC | F_ID;
	int iopl = (c->eflags & F_IOPL) >> 12;

	if (c->cpl == 0)
		m |= F_IOPL | F_IF | F_VIF | F_VIP;
	else if (c->cpl <= iopl)
		m |= F_IF;
	return opsize == 2 ? m & 0xffff : m;
}

/* IRET in real mode, or in virtual-8086 mode (with IOPL 3: exec.c has
 * checked), where IOPL cannot change. */
static void iret_real(struct cpu *c, int opsize)
{
	u32 eip = stack_peek(c, 0, opsize), fl;
	u16 cs = (u16)stack_peek(c, opsize, 2);
	u32 mask = opsize == 2 ? 0xffff : 0x257fd5u;

	if (cpu_vm86(c))
		mask &= ~F_IOPL;

	fl = stack_peek(c, 2 * opsize, opsize);
	if (eip > c->seg[S_CS].limit && opsize == 4)
		cpu_gp(c, 0);
	stack_drop(c, 3 * opsize);
	seg_load_real(&c->seg[S_CS], cs);
	c->eip = eip;
	cpu_set_eflags(c, fl, mask);
}

/* IRET from ring 0 to virtual-8086 mode: the frame an interrupt from
 * there pushed (EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS), all read
 * before anything changes. */
static void iret_to_vm86(struct cpu *c)
{
	u32 v[9];
	u16 sel[6];
	int i;

	for (i = 0; i < 9; i++)
		v[i] = stack_peek(c, 4 * (u32)i, 4);
	if (v[0] > 0xffff)
		cpu_gp(c, 0);
	sel[S_CS] = (u16)v[1];
	sel[S_SS] = (u16)v[4];
	sel[S_ES] = (u16)v[5];
	sel[S_DS] = (u16)v[6];
	sel[S_FS] = (u16)v[7];
	sel[S_GS] = (u16)v[8];
	cpu_set_eflags(c, v[2], F_DEFINED);
	enter_vm86(c, sel);
	c->r[R_ESP].d = v[3];
	c->eip = v[0];
}

/* IRET with NT set: back to the task that called or interrupted us. */
static void iret_task(struct cpu *c)
{
	u16 sel = (u16)tss_read(c, 0, 2);
	struct desc d;
	u16 a;

	if ((sel & 4) || !desc_read(c, sel, &d))
		fault_sel(c, EXC_TS, sel, 0);
	a = desc_attr(&d);
	if (SEG_S(a) || SEG_TYPE(a) != 0xb)
		fault_sel(c, EXC_TS, sel, 0);
	if (!SEG_P(a))
		fault_sel(c, EXC_NP, sel, 0);
	task_switch(c, sel, &d, TS_IRET, false, 0, 0);
}

void cpu_iret(struct cpu *c, int opsize)
{
	struct desc cd, sd;
	u32 eip, fl, esp, mask;
	u16 cs, ss;

	cpu_nmi_unblock(c);
	if (c->efer & EFER_LMA) {
		iret_long(c, opsize);
		return;
	}
	if (!cpu_pmode(c) || cpu_vm86(c)) {
		iret_real(c, opsize);
		return;
	}
	if (c->eflags & F_NT) {
		iret_task(c);
		return;
	}
	eip = stack_peek(c, 0, opsize);
	cs = (u16)stack_peek(c, opsize, 2);
	fl = stack_peek(c, 2 * opsize, opsize);
	if (opsize == 4 && (fl & F_VM) && c->cpl == 0) {
		iret_to_vm86(c);
		return;
	}
	check_return_cs(c, cs, &cd);
	mask = iret_mask(c, opsize);
	if ((cs & 3) == c->cpl) {
		check_eip(c, eip, &cd);
		stack_drop(c, 3 * opsize);
		load_cs(c, cs, &cd, c->cpl);
		c->eip = eip;
		cpu_set_eflags(c, fl, mask);
		return;
	}
	esp = stack_peek(c, 3 * opsize, opsize);
	ss = (u16)stack_peek(c, 4 * opsize, 2);
	check_return_ss(c, ss, cs & 3, &sd);
	check_eip(c, eip, &cd);
	if (opsize == 2)
		esp = (c->r[R_ESP].d & 0xffff0000u) | (esp & 0xffff);
	cpu_set_eflags(c, fl, mask);
	return_outer(c, cs, &cd, eip, ss, &sd, esp);
}

/* --- Interrupts and exceptions --- */

static void interrupt_real(struct cpu *c, int vec)
{
	u32 at = (u32)vec * 4;
	u32 v[3];
	u16 cs, ip;

	if (at + 3 > c->idtr.limit)
		cpu_gp(c, 0);
	ip = (u16)lin_read(c, c->idtr.base + at, 2, true);
	cs = (u16)lin_read(c, c->idtr.base + at + 2, 2, true);
	v[0] = cpu_get_eflags(c);
	v[1] = c->seg[S_CS].sel;
	v[2] = c->eip;
	c->r[R_ESP].d = push_frame(c, &c->seg[S_SS], c->r[R_ESP].d, v, 3, 2,
				 false, 0);
	c->eflags &= ~(F_IF | F_TF | F_AC | F_RF);
	seg_load_real(&c->seg[S_CS], cs);
	c->eip = ip;
}

/*
 * The EFLAGS an event pushes: a fault's have RF set, so that the
 * instruction it goes back to is not stopped again by an instruction
 * breakpoint (SDM vol. 3, 17.3.1.1); traps, aborts, interrupts and INT n
 * push EFLAGS as they are.  (#DB is a trap here: we have no instruction
 * breakpoints.)
 */
static u32 pushed_eflags(struct cpu *c, int vec, enum int_kind kind)
{
	u32 fl = cpu_get_eflags(c);

	if ((kind == INT_EXC || kind == INT_EXC_ERR) && vec != EXC_DB &&
	    vec != EXC_DF && vec != EXC_MC)
		fl |= F_RF;
	return fl;
}

/* Through an interrupt or trap gate: gate is the IDT entry. */
static void interrupt_gate(struct cpu *c, const struct desc *gate, int vec,
			   enum int_kind kind, u32 err, u32 ext)
{
	u16 ga = desc_attr(gate), sel = (u16)(gate->lo >> 16), a;
	u32 off = (gate->hi & 0xffff0000u) | (gate->lo & 0xffff);
	int size = (ga & 8) ? 4 : 2, n = 0, dpl;
	u32 v[10], esp, ss_err = ext;
	struct desc d;
	struct seg ss;

	if (size == 2)
		off &= 0xffff;
	if (is_null(sel))
		cpu_gp(c, ext);
	if (!desc_read(c, sel, &d))
		fault_sel(c, EXC_GP, sel, ext);
	a = desc_attr(&d);
	if (!is_code(a) || SEG_DPL(a) > c->cpl)
		fault_sel(c, EXC_GP, sel, ext);
	if (!SEG_P(a))
		fault_sel(c, EXC_NP, sel, ext);
	check_eip(c, off, &d);
	if (cpu_vm86(c)) {
		/* Out of virtual-8086 mode only to ring 0, with the data
		 * segment registers saved on the frame and then emptied. */
		if (SEG_CONF(a) || SEG_DPL(a) != 0)
			fault_sel(c, EXC_GP, sel, ext);
		dpl = 0;
		tss_stack(c, 0, ext, &ss, &esp);
		ss_err |= ss.sel & 0xfffcu;
		v[n++] = c->seg[S_GS].sel;
		v[n++] = c->seg[S_FS].sel;
		v[n++] = c->seg[S_DS].sel;
		v[n++] = c->seg[S_ES].sel;
		v[n++] = c->seg[S_SS].sel;
		v[n++] = c->r[R_ESP].d;
	} else if (!SEG_CONF(a) && SEG_DPL(a) < c->cpl) {
		dpl = SEG_DPL(a);
		tss_stack(c, dpl, ext, &ss, &esp);
		ss_err |= ss.sel & 0xfffcu;
		v[n++] = c->seg[S_SS].sel;
		v[n++] = c->r[R_ESP].d;
	} else {
		dpl = c->cpl;
		ss = c->seg[S_SS];
		esp = c->r[R_ESP].d;
	}
	v[n++] = pushed_eflags(c, vec, kind);
	v[n++] = c->seg[S_CS].sel;
	v[n++] = c->eip;
	if (kind == INT_EXC_ERR)
		v[n++] = err;
	esp = push_frame(c, &ss, esp, v, n, size, dpl == 3, ss_err);
	if (cpu_vm86(c)) {
		seg_null(&c->seg[S_GS], 0);
		seg_null(&c->seg[S_FS], 0);
		seg_null(&c->seg[S_DS], 0);
		seg_null(&c->seg[S_ES], 0);
	}
	c->seg[S_SS] = ss;
	c->r[R_ESP].d = esp;
	load_cs(c, sel, &d, dpl);
	c->eip = off;
	c->eflags &= ~(F_TF | F_NT | F_RF | F_VM);
	if (!(ga & 1))
		c->eflags &= ~F_IF;	/* interrupt gate, not trap gate */
}

static void interrupt_task(struct cpu *c, const struct desc *gate,
			   enum int_kind kind, u32 err, u32 ext)
{
	u16 sel = (u16)(gate->lo >> 16), a;
	struct desc d;

	if ((sel & 4) || !desc_read(c, sel, &d))
		fault_sel(c, EXC_GP, sel, ext);
	a = desc_attr(&d);
	if (SEG_S(a) || SEG_TYPE(a) != 9)
		fault_sel(c, EXC_GP, sel, ext);
	if (!SEG_P(a))
		fault_sel(c, EXC_NP, sel, ext);
	task_switch(c, sel, &d, TS_INT, kind == INT_EXC_ERR, err, ext);
}

/*C:190
 * Interrupts and exceptions go through the IDT's gates: an interrupt or
 * trap gate to ring 0 switches to the stack the TSS names, a task gate
 * switches task (Linux takes double faults that way).  Every descriptor is
 * checked before anything is pushed.
 :*/
void cpu_interrupt(struct cpu *c, int vec, enum int_kind kind, u32 err)
{
	u32 ext = kind == INT_SOFT ? 0 : ERR_EXT;
	u32 idt_err = (u32)vec * 8 + ERR_IDT + ext;
	struct desc g;
	u16 a;

	if (!cpu_pmode(c)) {
		interrupt_real(c, vec);
		return;
	}
	if (c->efer & EFER_LMA) {
		interrupt_long(c, vec, kind, err);
		return;
	}
	if ((u32)vec * 8 + 7 > c->idtr.limit)
		cpu_gp(c, idt_err);
	g.addr = c->idtr.base + (u32)vec * 8;
	g.lo = lin_read(c, g.addr, 4, true);
	g.hi = lin_read(c, g.addr + 4, 4, true);
	a = desc_attr(&g);
	if (SEG_S(a) || (SEG_TYPE(a) != 5 && (SEG_TYPE(a) & 6) != 6))
		cpu_gp(c, idt_err);
	if (kind == INT_SOFT && SEG_DPL(a) < c->cpl)
		cpu_gp(c, idt_err);
	if (!SEG_P(a))
		cpu_raise(c, EXC_NP, idt_err);
	if (SEG_TYPE(a) == 5)
		interrupt_task(c, &g, kind, err, ext);
	else
		interrupt_gate(c, &g, vec, kind, err, ext);
}

/* --- Task switches --- */

/* The parts of a 32-bit TSS a switch loads (SDM vol. 3, 7.2.1). */
struct tss32 {
	u32 cr3, eip, eflags, r[8];
	u16 sel[6], ldt;
};

static void tss_load(struct cpu *c, u32 base, struct tss32 *t)
{
	int i;

	t->cr3 = lin_read(c, base + 0x1c, 4, true);
	t->eip = lin_read(c, base + 0x20, 4, true);
	t->eflags = lin_read(c, base + 0x24, 4, true);
	for (i = 0; i < 8; i++)
		t->r[i] = lin_read(c, base + 0x28 + 4 * i, 4, true);
	for (i = 0; i < 6; i++)
		t->sel[i] = (u16)lin_read(c, base + 0x48 + 4 * i, 2, true);
	t->ldt = (u16)lin_read(c, base + 0x60, 2, true);
}

static void tss_save(struct cpu *c, u32 base, u32 eflags)
{
	int i;

	lin_write(c, base + 0x20, c->eip, 4, true);
	lin_write(c, base + 0x24, eflags, 4, true);
	for (i = 0; i < 8; i++)
		lin_write(c, base + 0x28 + 4 * i, c->r[i].d, 4, true);
	for (i = 0; i < 6; i++)
		lin_write(c, base + 0x48 + 4 * i, c->seg[i].sel, 2, true);
}

static void set_busy(struct cpu *c, u16 sel, bool busy)
{
	struct desc d;

	if (!desc_read(c, sel, &d))
		return;
	desc_write_hi(c, &d, busy ? d.hi | (TSS_BUSY << 8)
				  : d.hi & ~(TSS_BUSY << 8));
}

/* Load the new task's LDT and segment registers, after the commit point:
 * faults here are the new task's (#TS with the selector, #NP, #SS). */
static void task_load_segs(struct cpu *c, const struct tss32 *t)
{
	static const int data[] = { S_DS, S_ES, S_FS, S_GS };
	int cpl = t->sel[S_CS] & 3;
	struct desc d;
	unsigned i;
	u16 a;

	seg_null(&c->ldtr, t->ldt);
	if (!is_null(t->ldt)) {
		if ((t->ldt & 4) || !desc_read(c, t->ldt, &d))
			fault_sel(c, EXC_TS, t->ldt, 0);
		a = desc_attr(&d);
		if (SEG_S(a) || SEG_TYPE(a) != 2 || !SEG_P(a))
			fault_sel(c, EXC_TS, t->ldt, 0);
		seg_from_desc(&c->ldtr, t->ldt, &d);
	}
	if (t->eflags & F_VM) {
		enter_vm86(c, t->sel);
		return;
	}
	c->cpl = cpl;
	if (is_null(t->sel[S_CS]) || !desc_read(c, t->sel[S_CS], &d))
		fault_sel(c, EXC_TS, t->sel[S_CS], 0);
	a = desc_attr(&d);
	if (!is_code(a) ||
	    (SEG_CONF(a) ? SEG_DPL(a) > cpl : SEG_DPL(a) != cpl))
		fault_sel(c, EXC_TS, t->sel[S_CS], 0);
	if (!SEG_P(a))
		fault_sel(c, EXC_NP, t->sel[S_CS], 0);
	load_cs(c, t->sel[S_CS], &d, cpl);
	check_stack_seg(c, t->sel[S_SS], &d, cpl, EXC_TS, 0);
	set_accessed(c, &d);
	seg_from_desc(&c->seg[S_SS], t->sel[S_SS], &d);
	for (i = 0; i < ARRAY_SIZE(data); i++) {
		u16 sel = t->sel[data[i]];

		if (!check_data_seg(c, sel, &d, cpl, EXC_TS)) {
			seg_null(&c->seg[data[i]], sel);
			continue;
		}
		set_accessed(c, &d);
		seg_from_desc(&c->seg[data[i]], sel, &d);
	}
}

/*
 * Switch to the task whose (checked, present) TSS descriptor d names:
 * save our state in the current TSS, load the new one's.  how says who
 * asked: JMP and IRET free the old task (clear its busy bit), CALL and
 * interrupts nest the new one (back link, NT).  For interrupts, an error
 * code goes on the new task's stack.
 */
static void task_switch(struct cpu *c, u16 sel, struct desc *d, int how,
			bool has_err, u32 err, u32 ext)
{
	u32 base = desc_base(d), old_base = c->tr.base, eflags;
	u16 old_sel = c->tr.sel;
	struct tss32 t;
	u64 pdpte[4];
	int i;

	if (!(desc_attr(d) & 8) || desc_limit(d) < 0x67)
		fault_sel(c, EXC_TS, sel, ext);
	if (!(c->tr.attr & 8) || c->tr.limit < 0x67)
		fault_sel(c, EXC_TS, old_sel, ext);
	tss_load(c, base, &t);
	/* The new CR3's PDPTEs, checked before anything changes. */
	if (mmu_pae(c) && !mmu_read_pdptes(c, t.cr3, pdpte))
		cpu_gp(c, 0);
	/* Every write below must succeed once the first is done. */
	mmu_translate(c, old_base + 0x20, ACC_WRITE, false);
	mmu_translate(c, old_base + 0x5f, ACC_WRITE, false);
	if (how == TS_CALL || how == TS_INT)
		mmu_translate(c, base, ACC_WRITE, false);

	eflags = cpu_get_eflags(c);
	if (how == TS_IRET)
		eflags &= ~F_NT;
	tss_save(c, old_base, eflags);
	if (how == TS_JMP || how == TS_IRET)
		set_busy(c, old_sel, false);
	if (how == TS_CALL || how == TS_INT) {
		lin_write(c, base, old_sel, 2, true);
		t.eflags |= F_NT;
	}
	if (how != TS_IRET)
		set_busy(c, sel, true);
	seg_from_desc(&c->tr, sel, d);
	c->tr.attr |= TSS_BUSY;
	c->cr0 |= CR0_TS;

	/* The commit point: from here on we are the new task. */
	if (c->cr0 & CR0_PG) {
		c->cr3 = t.cr3;
		if (mmu_pae(c))
			memcpy(c->pdpte, pdpte, sizeof(pdpte));
		mmu_flush(c, c->cr4 & CR4_PGE);
	}
	for (i = 0; i < 8; i++)
		c->r[i].d = t.r[i];
	c->eip = t.eip;
	cpu_set_eflags(c, t.eflags | F_FIXED1, F_DEFINED);
	for (i = 0; i < 6; i++)
		seg_null(&c->seg[i], t.sel[i]);
	cpu_insn_begins(c);
	task_load_segs(c, &t);
	if (has_err) {
		cpu_push(c, err, 4);
		c->insn_esp = c->r[R_ESP].q;
	}
	if (c->eip > c->seg[S_CS].limit)
		cpu_gp(c, 0);
}

/* --- LLDT, LTR and the descriptor tests --- */

void seg_lldt(struct cpu *c, u16 sel)
{
	struct desc d;
	u16 a;

	if (c->cpl != 0)
		cpu_gp(c, 0);
	if (is_null(sel)) {
		seg_null(&c->ldtr, sel);
		return;
	}
	if ((sel & 4) || !desc_read(c, sel, &d))
		fault_sel(c, EXC_GP, sel, 0);
	a = desc_attr(&d);
	if (SEG_S(a) || SEG_TYPE(a) != 2)
		fault_sel(c, EXC_GP, sel, 0);
	if (!SEG_P(a))
		fault_sel(c, EXC_NP, sel, 0);
	if (c->efer & EFER_LMA) {
		u64 base = desc_base_long(c, sel, &d);

		seg_from_desc(&c->ldtr, sel, &d);
		c->ldtr.base = base;
		return;
	}
	seg_from_desc(&c->ldtr, sel, &d);
}

void seg_ltr(struct cpu *c, u16 sel)
{
	struct desc d;
	u16 a;

	if (c->cpl != 0)
		cpu_gp(c, 0);
	if (is_null(sel))
		cpu_gp(c, 0);
	if ((sel & 4) || !desc_read(c, sel, &d))
		fault_sel(c, EXC_GP, sel, 0);
	a = desc_attr(&d);
	if (SEG_S(a) || (SEG_TYPE(a) != 9 && SEG_TYPE(a) != 1))
		fault_sel(c, EXC_GP, sel, 0);
	if (!SEG_P(a))
		fault_sel(c, EXC_NP, sel, 0);
	if (c->efer & EFER_LMA) {
		u64 base = desc_base_long(c, sel, &d);

		if (SEG_TYPE(a) != 9)	/* no 16-bit TSS in long mode */
			fault_sel(c, EXC_GP, sel, 0);
		desc_write_hi(c, &d, d.hi | (TSS_BUSY << 8));
		seg_from_desc(&c->tr, sel, &d);
		c->tr.base = base;
		return;
	}
	desc_write_hi(c, &d, d.hi | (TSS_BUSY << 8));
	seg_from_desc(&c->tr, sel, &d);
}

/* The privilege test LAR, LSL, VERR and VERW share: conforming code
 * segments pass; everything else needs DPL >= CPL and DPL >= RPL. */
static bool visible(const struct cpu *c, u16 sel, u16 a)
{
	if (is_code(a) && SEG_CONF(a))
		return true;
	return SEG_DPL(a) >= c->cpl && SEG_DPL(a) >= (int)(sel & 3);
}

static bool lookup(struct cpu *c, u16 sel, struct desc *d)
{
	return !is_null(sel) && desc_read(c, sel, d) &&
	       visible(c, sel, desc_attr(d));
}

bool seg_lar(struct cpu *c, u16 sel, u32 *attr)
{
	struct desc d;
	u16 a;

	if (!lookup(c, sel, &d))
		return false;
	a = desc_attr(&d);
	if (!SEG_S(a)) {
		switch (SEG_TYPE(a)) {
		case 1: case 2: case 3: case 4: case 5:
		case 9: case 0xb: case 0xc:
			break;
		default:
			return false;
		}
	}
	*attr = d.hi & 0x00f0ff00u;
	return true;
}

bool seg_lsl(struct cpu *c, u16 sel, u32 *limit)
{
	struct desc d;
	u16 a;

	if (!lookup(c, sel, &d))
		return false;
	a = desc_attr(&d);
	if (!SEG_S(a)) {
		switch (SEG_TYPE(a)) {
		case 1: case 2: case 3: case 9: case 0xb:
			break;
		default:
			return false;
		}
	}
	*limit = desc_limit(&d);
	return true;
}

bool seg_verr(struct cpu *c, u16 sel)
{
	struct desc d;
	u16 a;

	if (!lookup(c, sel, &d))
		return false;
	a = desc_attr(&d);
	return SEG_S(a) && (!SEG_CODE(a) || SEG_RW(a));
}

bool seg_verw(struct cpu *c, u16 sel)
{
	struct desc d;

	if (!lookup(c, sel, &d))
		return false;
	return is_writable_data(desc_attr(&d));
}

/* --- Long mode --- */

/*
 * In IA-32e mode (EFER.LMA) interrupts go through 16-byte gates to 64-bit
 * code only, and always push SS:RSP, on a stack aligned to 16 bytes: the
 * current one, the TSS's RSP0-2 for a change of privilege, or one of its
 * seven IST stacks when the gate names one (Linux runs #DF, NMI and #MC
 * there).  The 64-bit TSS holds nothing else of interest: there are no
 * task switches in long mode.  IRET pops the same five values back; SS
 * may be null below ring 3.
 */
#define TSS64_RSP0 4u
#define TSS64_IST1 36u

/* An 8-byte value of the 64-bit TSS; #TS(TR) outside its limit. */
static u64 tss64_read(struct cpu *c, u32 off, u32 ext)
{
	if ((c->tr.attr & 0xd) != 9 || off + 7 > c->tr.limit)
		fault_sel(c, EXC_TS, c->tr.sel, ext);
	return lin_read(c, c->tr.base + off, 8, true);
}

/* Push n quads at rsp (already aligned): every page checked first. */
static u64 push_quads(struct cpu *c, u64 rsp, const u64 *v, int n, bool user)
{
	u64 top = rsp - 8 * (u64)n;
	int i;

	if (!canonical(top) || !canonical(rsp - 1))
		cpu_raise(c, EXC_SS, 0);
	mmu_translate(c, top, ACC_WRITE, user);
	mmu_translate(c, rsp - 1, ACC_WRITE, user);
	for (i = 0; i < n; i++)
		lin_write(c, rsp - 8 * (u64)(i + 1), v[i], 8, !user);
	return top;
}

static void interrupt_long(struct cpu *c, int vec, enum int_kind kind,
			   u32 err)
{
	u32 ext = kind == INT_SOFT ? 0 : ERR_EXT;
	u32 idt_err = (u32)vec * 8 + ERR_IDT + ext;
	u64 at = c->idtr.base + (u64)vec * 16, lo, hi, off, rsp, v[6];
	u16 sel, a;
	int type, ist, dpl, n = 0;
	struct desc d;

	if ((u32)vec * 16 + 15 > c->idtr.limit)
		cpu_gp(c, idt_err);
	lo = lin_read(c, at, 8, true);
	hi = lin_read(c, at + 8, 8, true);
	type = (lo >> 40) & 0x1f;		/* S and type */
	if (type != 0xe && type != 0xf)
		cpu_gp(c, idt_err);
	if (kind == INT_SOFT && (int)((lo >> 45) & 3) < c->cpl)
		cpu_gp(c, idt_err);
	if (!((lo >> 47) & 1))
		cpu_raise(c, EXC_NP, idt_err);
	sel = (u16)(lo >> 16);
	ist = (lo >> 32) & 7;
	off = (lo & 0xffff) | ((lo >> 32) & 0xffff0000u) | hi << 32;
	if (is_null(sel))
		cpu_gp(c, ext);
	if (!desc_read(c, sel, &d))
		fault_sel(c, EXC_GP, sel, ext);
	a = desc_attr(&d);
	if (!is_code(a) || !SEG_L(a) || SEG_DB(a) || SEG_DPL(a) > c->cpl)
		fault_sel(c, EXC_GP, sel, ext);
	if (!SEG_P(a))
		fault_sel(c, EXC_NP, sel, ext);
	if (!canonical(off))
		cpu_gp(c, ext);
	dpl = SEG_CONF(a) ? c->cpl : SEG_DPL(a);
	if (ist)
		rsp = tss64_read(c, TSS64_IST1 + 8 * (u32)(ist - 1), ext);
	else if (dpl < c->cpl)
		rsp = tss64_read(c, TSS64_RSP0 + 8 * (u32)dpl, ext);
	else
		rsp = cpu_64bit(c) ? c->r[R_ESP].q : c->r[R_ESP].d;
	rsp &= ~15ull;
	v[n++] = c->seg[S_SS].sel;
	v[n++] = cpu_64bit(c) ? c->r[R_ESP].q : c->r[R_ESP].d;
	v[n++] = pushed_eflags(c, vec, kind);
	v[n++] = c->seg[S_CS].sel;
	v[n++] = cpu_64bit(c) ? c->rip : c->eip;
	if (kind == INT_EXC_ERR)
		v[n++] = err;
	rsp = push_quads(c, rsp, v, n, dpl == 3);
	if (dpl != c->cpl)
		seg_null(&c->seg[S_SS], (u16)dpl);
	load_cs(c, sel, &d, dpl);
	c->r[R_ESP].q = rsp;
	c->rip = off;
	c->eflags &= ~(F_TF | F_NT | F_RF | F_VM);
	if (type == 0xe)
		c->eflags &= ~F_IF;	/* interrupt gate, not trap gate */
}

/* The value k bytes above RSP, for IRET and RET far in long mode. */
static u64 stack_peek_long(struct cpu *c, u64 k, int size)
{
	u64 rsp = cpu_64bit(c) ? c->r[R_ESP].q : c->r[R_ESP].d;

	return mem_read(c, S_SS, cpu_64bit(c) ? rsp + k : (u32)(rsp + k),
			size);
}

/* May a return go to rip in the code segment d describes? */
static void check_return_rip(struct cpu *c, u64 rip, const struct desc *d)
{
	if (SEG_L(desc_attr(d)) ? !canonical(rip) : rip > desc_limit(d))
		cpu_gp(c, 0);
}

/* The stack segment of a return in long mode: null is fine for 64-bit
 * code below ring 3. */
static bool long_return_ss(struct cpu *c, u16 ss, int rpl,
			   const struct desc *cd, struct desc *sd)
{
	if (is_null(ss) && SEG_L(desc_attr(cd)) && rpl < 3)
		return false;
	check_return_ss(c, ss, rpl, sd);
	return true;
}

static void iret_long(struct cpu *c, int opsize)
{
	struct desc cd, sd;
	u64 rip, rsp;
	u32 fl;
	u16 cs, ss;
	bool has_ss;
	int rpl;

	if (c->eflags & F_NT)
		cpu_gp(c, 0);		/* no task returns in long mode */
	rip = stack_peek_long(c, 0, opsize);
	cs = (u16)stack_peek_long(c, (u64)opsize, 2);
	fl = (u32)stack_peek_long(c, 2 * (u64)opsize, opsize);
	rsp = stack_peek_long(c, 3 * (u64)opsize, opsize);
	ss = (u16)stack_peek_long(c, 4 * (u64)opsize, 2);
	check_return_cs(c, cs, &cd);
	rpl = cs & 3;
	has_ss = long_return_ss(c, ss, rpl, &cd, &sd);
	check_return_rip(c, rip, &cd);
	cpu_set_eflags(c, fl, iret_mask(c, opsize) & ~F_VM);
	commit_return_long(c, cs, &cd, rip, ss, has_ss ? &sd : NULL);
	c->r[R_ESP].q = opsize == 8 ? rsp : (u32)rsp;
	drop_inner_segs(c);
}

/* RET far in long mode: to the same privilege, or out to an outer one
 * (then SS:RSP come off the stack too). */
static void far_ret_long(struct cpu *c, int opsize, u16 pop_bytes)
{
	struct desc cd, sd;
	u64 rip, rsp, k = 2 * (u64)opsize + pop_bytes;
	u64 cur = cpu_64bit(c) ? c->r[R_ESP].q : c->r[R_ESP].d;
	u16 cs, ss;
	bool has_ss;
	int rpl;

	rip = stack_peek_long(c, 0, opsize);
	cs = (u16)stack_peek_long(c, (u64)opsize, 2);
	check_return_cs(c, cs, &cd);
	rpl = cs & 3;
	check_return_rip(c, rip, &cd);
	if (rpl == c->cpl) {
		load_cs(c, cs, &cd, rpl);
		c->rip = SEG_L(desc_attr(&cd)) ? rip : (u32)rip;
		c->r[R_ESP].q = cpu_64bit(c) ? cur + k : (u32)(cur + k);
		return;
	}
	rsp = stack_peek_long(c, k, opsize);
	ss = (u16)stack_peek_long(c, k + (u64)opsize, 2);
	has_ss = long_return_ss(c, ss, rpl, &cd, &sd);
	commit_return_long(c, cs, &cd, rip, ss, has_ss ? &sd : NULL);
	c->r[R_ESP].q = (opsize == 8 ? rsp : (u32)rsp) + pop_bytes;
	drop_inner_segs(c);
}

/*
 * A call gate in IA-32e mode: 16 bytes (the second half holds offset bits
 * 63..32 and a zero type), type 0xc only, and its target a 64-bit code
 * segment.  A CALL pushes 8-byte CS and RIP whatever the operand size,
 * and one to an inner ring takes RSP from the TSS, copies no parameters
 * and loads a null SS with the new RPL, after pushing the old SS:RSP.
 * (SDM vol. 3, 5.8.3.1, and the CALL and JMP pseudocode.)
 */
static void call_gate_long(struct cpu *c, u16 gsel, const struct desc *g,
			   u64 next_rip, bool call)
{
	u16 a = desc_attr(g), sel = (u16)(g->lo >> 16);
	u64 off = (g->lo & 0xffff) | (g->hi & 0xffff0000u);
	u64 cur = cpu_64bit(c) ? c->r[R_ESP].q : c->r[R_ESP].d, rsp = cur;
	struct desc d;
	int dpl;
	u64 v[4];
	int n = 0;

	if (SEG_TYPE(a) != 0xc)
		fault_sel(c, EXC_GP, gsel, 0);	/* no 16-bit gates */
	check_call_gate(c, gsel, g);
	off |= desc_base_high(c, gsel);
	if (is_null(sel))
		cpu_gp(c, 0);
	if (!desc_read(c, sel, &d))
		fault_sel(c, EXC_GP, sel, 0);
	a = desc_attr(&d);
	if (!is_code(a) || SEG_DPL(a) > c->cpl || !SEG_L(a) || SEG_DB(a))
		fault_sel(c, EXC_GP, sel, 0);
	if (!call && !SEG_CONF(a) && SEG_DPL(a) != c->cpl)
		fault_sel(c, EXC_GP, sel, 0);
	if (!SEG_P(a))
		fault_sel(c, EXC_NP, sel, 0);
	dpl = SEG_CONF(a) ? c->cpl : SEG_DPL(a);
	if (call && dpl < c->cpl) {
		rsp = tss64_read(c, TSS64_RSP0 + 8 * (u32)dpl, 0);
		v[n++] = c->seg[S_SS].sel;
		v[n++] = cur;
	}
	if (!canonical(off))
		cpu_gp(c, 0);
	if (call) {
		v[n++] = c->seg[S_CS].sel;
		v[n++] = next_rip;
		rsp = push_quads(c, rsp, v, n, dpl == 3);
		if (dpl != c->cpl)
			seg_null(&c->seg[S_SS], (u16)dpl);
		c->r[R_ESP].q = rsp;
	}
	load_cs(c, sel, &d, dpl);
	c->rip = off;
}

/* JMP or CALL far in long mode: to a code segment or through a call
 * gate (there are no task switches in long mode). */
static void far_long(struct cpu *c, u16 sel, u64 off, int opsize,
		     u64 next_rip, bool call)
{
	struct desc d;
	u64 v[2];

	if (is_null(sel))
		cpu_gp(c, 0);
	if (!desc_read(c, sel, &d))
		fault_sel(c, EXC_GP, sel, 0);
	if (!SEG_S(desc_attr(&d))) {
		call_gate_long(c, sel, &d, next_rip, call);
		return;
	}
	check_code_direct(c, sel, &d);
	check_return_rip(c, off, &d);
	if (call) {
		u64 rsp = cpu_64bit(c) ? c->r[R_ESP].q : c->r[R_ESP].d;

		v[0] = c->seg[S_CS].sel;
		v[1] = next_rip;
		if (opsize == 8) {
			rsp = push_quads(c, rsp, v, 2, c->cpl == 3);
		} else {
			mem_check(c, S_SS, (u32)(rsp - 2 * (u64)opsize),
				  2 * (u32)opsize, ACC_WRITE);
			mem_write(c, S_SS, (u32)(rsp - opsize), v[0], opsize);
			mem_write(c, S_SS, (u32)(rsp - 2 * (u64)opsize), v[1],
				  opsize);
			rsp = (u32)(rsp - 2 * (u64)opsize);
		}
		c->r[R_ESP].q = rsp;
	}
	load_cs(c, sel, &d, c->cpl);
	c->rip = SEG_L(desc_attr(&d)) ? off : (u32)off;
}
