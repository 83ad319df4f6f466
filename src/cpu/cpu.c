/*
 * The run loop of the software CPU: instruction boundaries, interrupts,
 * exceptions, HLT, and the public interface of cpu.h.
 *
 * cpu_run() executes one instruction at a time through cpu_exec_one().
 * Between two instructions it looks at the INTR pin, and after one it
 * takes the single-step trap.  Faults do not return: anything deep inside
 * an instruction calls cpu_raise(), which longjmps back here.  We put EIP
 * and ESP back to where the instruction began (the instruction leaves no
 * other trace; see cpu_internal.h) and deliver the exception through the
 * IDT.  A fault while delivering one is where double and triple faults come
 * from: the table in the SDM (vol. 3, 6.15, "Interrupt 8") decides.
 *
 * The longjmp carries the vector and the error code packed into its int,
 * so nothing in struct cpu is needed for that.  Triple-fault shutdown is
 * remembered as exc_pending == EXC_SHUTDOWN; the description of the chain
 * that led there is built in c->error once a double fault happens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

#define EXC_SHUTDOWN (-2)
#define DR6_BS 0x4000u

/*
 * The guest-EIP profile, for finding what the guest spends its
 * instructions on.  With LGUEST_PROFILE=file in the environment, the run
 * loop writes down the linear EIP (CS base + EIP) every PROF_PERIOD
 * instructions, and cpu_free() appends them to file (opened when the
 * CPU is made, before the sandbox forbids opening files), one hex address
 * a line.  bench/guest_profile.py turns that into a table of kernel
 * functions.  The sampling costs nothing per instruction: it only shortens
 * the runs of the loop to end at the next sample.
 */
#define PROF_PERIOD 16384u

struct cpu_prof {
	const char *path;
	FILE *f;	/* opened at once: the sandbox allows no open later */
	u32 *eip;
	size_t n, cap;
	u64 next;	/* icount of the next sample */
};

static void prof_init(struct cpu *c)
{
	const char *path = getenv("LGUEST_PROFILE");

	if (!path || !*path)
		return;
	c->prof = calloc(1, sizeof(*c->prof));
	if (c->prof) {
		c->prof->path = path;
		c->prof->f = fopen(path, "a");
		if (!c->prof->f)
			perror(path);
		c->prof->next = PROF_PERIOD;
	}
}

static void prof_sample(struct cpu *c)
{
	struct cpu_prof *p = c->prof;
	u32 *n;

	p->next = icount_of(c) + PROF_PERIOD;
	if (p->n == p->cap) {
		n = realloc(p->eip, (p->cap * 2 + 4096) * sizeof(*n));
		if (!n)
			return;
		p->eip = n;
		p->cap = p->cap * 2 + 4096;
	}
	p->eip[p->n++] = c->seg[S_CS].base + c->eip;
}

static void prof_free(struct cpu *c)
{
	struct cpu_prof *p = c->prof;
	FILE *f;
	size_t i;

	if (!p)
		return;
	f = p->f;
	if (f) {
		for (i = 0; i < p->n; i++)
			fprintf(f, "%08x\n", p->eip[i]);
		fclose(f);
	}
	free(p->eip);
	free(p);
	c->prof = NULL;
}

struct cpu *cpu_new(u8 *ram, u32 ram_size, const struct cpu_bus *bus)
{
	struct cpu *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ram = ram;
	c->ram_size = ram_size;
	c->bus = *bus;
	cpu_dcache_init(c);
	jit_init(c);
	cpu_reset_flat32(c, 0);
	prof_init(c);
	return c;
}

void cpu_free(struct cpu *c)
{
	if (c) {
		fpu_sync(c);	/* give the host its x87 back */
		cpu_dcache_free(c);
		jit_free(c);
		prof_free(c);
	}
	free(c);
}

static void flat_seg(struct seg *s, u16 sel, u16 attr)
{
	s->sel = sel;
	s->base = 0;
	s->limit = 0xffffffffu;
	s->attr = attr;
}

void cpu_reset_flat32(struct cpu *c, u32 eip)
{
	int i;

	memset(c->r, 0, sizeof(c->r));
	c->rip = eip;
	c->eflags = F_FIXED1;
	cpu_set_eflags(c, F_FIXED1, ~0u);
	/* Present, DPL 0, 32-bit, 4 KiB granular: execute/read, read/write,
	 * both already accessed, as a boot loader's GDT would have them. */
	for (i = 0; i < 6; i++)
		flat_seg(&c->seg[i], 0x18, 0xc093);
	flat_seg(&c->seg[S_CS], 0x10, 0xc09b);
	memset(&c->ldtr, 0, sizeof(c->ldtr));
	c->tr.sel = 0;
	c->tr.base = 0;
	c->tr.limit = 0xffff;
	c->tr.attr = 0x8b;	/* busy 32-bit TSS, as after reset */
	c->gdtr.base = 0;
	c->gdtr.limit = 0xffff;
	c->idtr.base = 0;
	c->idtr.limit = 0x3ff;
	c->cr0 = CR0_PE | CR0_ET;
	c->cr2 = c->cr3 = c->cr4 = 0;
	memset(c->dr, 0, sizeof(c->dr));
	c->dr[6] = 0xffff0ff0u;
	c->dr[7] = 0x400;
	c->cpl = 0;
	c->sysenter_cs = c->sysenter_esp = c->sysenter_eip = 0;
	c->tsc_offset = 0;
	c->tsc_last = 0;
	sys_reset_msrs(c);
	c->halted = false;
	c->intr_shadow = false;
	c->stop = false;
	c->nmi_pending = c->nmi_blocked = false;
	c->intr &= ~INTR_NMI;
	c->exc_depth = 0;
	c->exc_pending = -1;
	c->error[0] = 0;
	mmu_flush(c, false);
	fpu_reset(c);
	sse_reset(c);
}

/*
 * The 64-bit boot protocol's state: long mode on with the page tables at
 * cr3 (built by the loader), CS the 64-bit code segment 0x10 and the data
 * segments 0x18 of a GDT the loader wrote at gdt, interrupts off.
 */
void cpu_reset_long64(struct cpu *c, u64 rip, u64 cr3, u64 gdt,
		      u16 gdt_limit)
{
	cpu_reset_flat32(c, 0);		/* data segments 0x18, flat */
	flat_seg(&c->seg[S_CS], 0x10, 0xa09b);	/* L: 64-bit code */
	c->gdtr.base = gdt;
	c->gdtr.limit = gdt_limit;
	c->cr4 = CR4_PAE;
	c->cr3 = cr3;
	c->efer = EFER_LME | EFER_LMA;
	c->cr0 = CR0_PE | CR0_ET | CR0_PG;
	c->rip = rip;
	mmu_flush(c, false);
}

void cpu_get_regs(const struct cpu *c, struct cpu_regs *r)
{
	int i;

	for (i = 0; i < 8; i++)
		r->gpr[i] = c->r[i].d;
	r->eip = c->eip;
	/* Folding the lazy flags in changes no architectural state. */
	r->eflags = cpu_get_eflags((struct cpu *)c);
	for (i = 0; i < 6; i++)
		r->sel[i] = c->seg[i].sel;
	r->cr0 = c->cr0;
	r->cr2 = c->cr2;
	r->cr3 = c->cr3;
	r->cr4 = c->cr4;
}

void cpu_set_regs(struct cpu *c, const struct cpu_regs *r)
{
	int i;

	for (i = 0; i < 8; i++)
		c->r[i].q = r->gpr[i];
	c->rip = r->eip;
	/* No virtual-8086 mode: VM stays clear whatever the caller says. */
	cpu_set_eflags(c, r->eflags, ~(u32)F_VM & 0x3f7fd7u);
}

void cpu_stop(struct cpu *c)
{
	c->stop = true;
}

void cpu_set_intr(struct cpu *c, bool level)
{
	c->intr = (c->intr & ~INTR_PIN) | (level ? INTR_PIN : 0);
}

static void nmi_update(struct cpu *c)
{
	bool take = c->nmi_pending && !c->nmi_blocked;

	c->intr = (c->intr & ~INTR_NMI) | (take ? INTR_NMI : 0);
}

/*C:145
 * NMI is an edge: one that arrives while another is pending is the same
 * one.  Taking it blocks further NMIs until the handler's IRET, so that
 * a second NMI cannot nest inside the first; one that arrives meanwhile
 * waits, and is taken right after that IRET.  Unlike INTR it ignores IF
 * and wakes a halted CPU.
 :*/
void cpu_set_nmi(struct cpu *c)
{
	c->nmi_pending = true;
	nmi_update(c);
}

void cpu_nmi_unblock(struct cpu *c)
{
	if (c->nmi_blocked) {
		c->nmi_blocked = false;
		nmi_update(c);
	}
}

void cpu_mem_written(struct cpu *c, u64 pa, u64 len)
{
	if (!c->code_pages || !len || pa >= c->ram_size)
		return;
	if (len > c->ram_size - pa)
		len = c->ram_size - pa;
	jit_code_written(c, (u32)pa, (u32)len);
}

u64 cpu_icount(const struct cpu *c)
{
	return icount_of(c);
}

const char *cpu_error(const struct cpu *c)
{
	return c->error;
}

/*C:130
 * A fault deep inside an instruction unwinds with longjmp to the run loop,
 * which puts EIP and ESP back to where the instruction began, so that the
 * instruction can run again once the guest's handler has fixed things.
 * The SDM's table decides when a fault during delivery becomes a double
 * fault, and a fault during that a triple fault: the machine then kills
 * the guest with the chain of faults as the reason (M:140).
 :*/
noreturn void cpu_raise(struct cpu *c, int vec, u32 err)
{
	/* Error codes are selectors or page-fault bits: 16 bits suffice. */
	longjmp(c->jmp, (int)(((err & 0xffff) << 9) | ((u32)vec << 1) | 1));
}

noreturn void cpu_gp(struct cpu *c, u32 err)
{
	cpu_raise(c, EXC_GP, err);
}

noreturn void cpu_ud(struct cpu *c)
{
	cpu_raise(c, EXC_UD, 0);
}

static const char *const exc_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "vector 9", "#TS", "#NP", "#SS", "#GP", "#PF", "vector 15",
	"#MF", "#AC", "#MC", "#XM",
};

static const char *exc_name(int vec)
{
	if (vec >= 0 && vec < 32 && exc_names[vec])
		return exc_names[vec];
	return "an exception";
}

static bool has_error_code(int vec)
{
	return vec == EXC_DF || (vec >= EXC_TS && vec <= EXC_PF) ||
	       vec == EXC_AC;
}

enum { BENIGN, CONTRIBUTORY, PAGE_FAULT, DOUBLE_FAULT };

static int exc_class(int vec)
{
	switch (vec) {
	case EXC_DE: case EXC_TS: case EXC_NP: case EXC_SS: case EXC_GP:
		return CONTRIBUTORY;
	case EXC_PF:
		return PAGE_FAULT;
	case EXC_DF:
		return DOUBLE_FAULT;
	default:
		return BENIGN;
	}
}

/* Does fault vec, raised while delivering prev, make a double fault? */
static bool makes_double_fault(int prev, int vec)
{
	int p = exc_class(prev), v = exc_class(vec);

	if (p == CONTRIBUTORY)
		return v == CONTRIBUTORY;
	if (p == PAGE_FAULT)
		return v == CONTRIBUTORY || v == PAGE_FAULT;
	return false;
}

/* Append "#GP(0x10) at eip 0x..." for the fault in flight to c->error.
 * with_err is false for the fault that was being delivered, whose error
 * code (and CR2) we no longer know. */
static void describe(struct cpu *c, int vec, u32 err, bool with_err)
{
	size_t n = strlen(c->error);
	char *p = c->error + n;
	size_t room = sizeof(c->error) - n;

	if (!with_err) {
		snprintf(p, room, "%s%s at eip %#llx", n ? ", then " : "",
			 exc_name(vec), (unsigned long long)c->insn_eip);
		return;
	}
	if (vec == EXC_PF)
		snprintf(p, room, "%s#PF(%#x) at eip %#llx, cr2 %#llx",
			 n ? ", then " : "", err,
			 (unsigned long long)c->insn_eip,
			 (unsigned long long)c->cr2);
	else
		snprintf(p, room, "%s%s(%#x) at eip %#llx", n ? ", then " : "",
			 exc_name(vec), err, (unsigned long long)c->insn_eip);
}

static void shutdown(struct cpu *c, int vec, u32 err)
{
	size_t n;

	if (c->exc_depth == 0)
		c->error[0] = 0;
	describe(c, vec, err, true);
	n = strlen(c->error);
	snprintf(c->error + n, sizeof(c->error) - n,
		 " while delivering #DF: triple fault");
	c->exc_pending = EXC_SHUTDOWN;
}

/*
 * Deliver the fault that cpu_raise() packed into code.  Returns true if
 * it shut the processor down.  A fault raised in here longjmps back to
 * cpu_run(), which calls us again with exc_pending still set: that is how
 * the double-fault decision sees both.
 */
static bool deliver_fault(struct cpu *c, int code)
{
	int vec = (code >> 1) & 0xff, prev = c->exc_pending;
	u32 err = (u32)code >> 9;

	/* Translated code does not keep insn_eip: its handlers leave EIP
	 * and ESP as the faulting instruction found them. */
	if (c->jit_active) {
		c->jit_active = false;
		cpu_insn_begins(c);
	}
	c->rip = c->insn_eip;
	c->r[R_ESP].q = c->insn_esp;
	if (prev == EXC_DF || c->exc_depth > 4) {
		shutdown(c, vec, err);
		return true;
	}
	if (prev >= 0 && makes_double_fault(prev, vec)) {
		c->error[0] = 0;
		describe(c, prev, 0, false);
		describe(c, vec, err, true);
		vec = EXC_DF;
		err = 0;
		c->exc_depth = 1;
	} else {
		c->exc_depth++;
	}
	c->exc_pending = vec;
	cpu_interrupt(c, vec, has_error_code(vec) ? INT_EXC_ERR : INT_EXC,
		      err);
	c->exc_pending = -1;
	c->exc_depth = 0;
	return false;
}

/*C:140
 * An external interrupt is taken only at an instruction boundary, with IF
 * set and not in the one-instruction shadow after STI, MOV SS or POP SS;
 * the vector comes from the interrupt controller's acknowledge cycle, over
 * the bus (D:120).
 :*/
static void take_interrupt(struct cpu *c)
{
	u8 vec;

	cpu_insn_begins(c);
	vec = c->bus.intr_ack ? c->bus.intr_ack(c->bus.opaque) : 0xff;
	cpu_interrupt(c, vec, INT_HW, 0);
}

/* The single-step trap, after an instruction that began with TF set. */
static void single_step(struct cpu *c)
{
	cpu_insn_begins(c);
	c->dr[6] |= DR6_BS;
	c->exc_pending = EXC_DB;
	cpu_interrupt(c, EXC_DB, INT_EXC, 0);
	c->exc_pending = -1;
}

/* NMI, vector 2, comes through the IDT as an external event: no gate
 * DPL check, no error code. */
static void take_nmi(struct cpu *c)
{
	cpu_insn_begins(c);
	c->nmi_pending = false;
	c->nmi_blocked = true;
	nmi_update(c);
	cpu_interrupt(c, EXC_NMI, INT_HW, 0);
}

static bool can_take_intr(const struct cpu *c)
{
	return ((c->intr & INTR_PIN) && (c->eflags & F_IF)) ||
	       (c->intr & INTR_NMI);
}

/* At an instruction boundary: NMI first, then INTR. */
static void take_event(struct cpu *c)
{
	if (c->intr & INTR_NMI)
		take_nmi(c);
	else
		take_interrupt(c);
}

/*
 * The loop proper, out of line and free of setjmp so that the compiler
 * may keep what it likes in registers.  No SLP vectorising: it turns the
 * copies of EIP and ESP into 8-byte loads of what the instruction has just
 * stored 4 bytes at a time, and the failed store forwarding cost a fifth
 * of the interpreter's time.
 */
/*C:120
 * The run loop is a loop over instruction boundaries.  At each one the CPU
 * may take an interrupt (C:140); then it runs instructions, a cached block
 * of them at a time when no single-stepping is going on (C:155), until the
 * budget from the machine is spent, HLT, or a device asked to stop.
 :*/
static __attribute__((noinline, optimize("no-tree-slp-vectorize")))
enum cpu_event run_insns(struct cpu *c, u64 end)
{
	bool tf, alone;

	if (c->halted) {
		if (!can_take_intr(c))
			return CPU_HALT;
		c->halted = false;
	}
	c->budget_end = end;
	while (icount_of(c) < end) {
		alone = false;
		if (c->intr_shadow) {
			c->intr_shadow = false;
			/* The one instruction the shadow covers runs on its
			 * own when an interrupt waits: it is taken right
			 * after, not at the end of a block. */
			alone = c->intr;
		} else if (can_take_intr(c)) {
			take_event(c);
		}
		cpu_insn_begins(c);
		tf = c->eflags & F_TF;
		if (likely(!(c->eflags & (F_TF | F_RF)) && !alone)) {
			if (c->jit)
				jit_run(c, end);
			else
				cpu_exec_run(c, end);
		} else {
			cpu_exec_cached(c);
			c->ictr++;
		}
		/* RF lasts one instruction (we have no instruction
		 * breakpoints for it to suppress, but IRET can set it). */
		if (unlikely(c->eflags & F_RF))
			c->eflags &= ~F_RF;
		if (unlikely(tf))
			single_step(c);
		if (unlikely(c->halted))
			return CPU_HALT;
		if (unlikely(c->stop)) {
			c->stop = false;
			return CPU_STOPPED;
		}
	}
	return CPU_BUDGET;
}

enum cpu_event cpu_run(struct cpu *c, u64 budget)
{
	/* Changed after setjmp, so volatile (C11 7.13.2.1). */
	volatile u64 end = icount_of(c) + budget;
	int code;

	if (c->exc_pending == EXC_SHUTDOWN)
		return CPU_SHUTDOWN;
	code = setjmp(c->jmp);
	if (code) {
		if (deliver_fault(c, code))
			return CPU_SHUTDOWN;
		/* A fault costs budget too, so a guest that does nothing
		 * but fault still returns to the machine's loop. */
		if (end > icount_of(c))
			end = end - 1;
		if (c->stop) {
			c->stop = false;
			return CPU_STOPPED;
		}
	}
	if (!c->prof)
		return run_insns(c, end);
	/* Profiling: run up to each sample point in turn. */
	for (;;) {
		enum cpu_event ev;
		u64 stop = end < c->prof->next ? end : c->prof->next;

		ev = run_insns(c, stop);
		if (icount_of(c) >= c->prof->next)
			prof_sample(c);
		if (ev != CPU_BUDGET || icount_of(c) >= end)
			return ev;
	}
}
