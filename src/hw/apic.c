/*
 * The local APIC (xAPIC), as the SDM (vol. 3, chapter 11 "Advanced
 * Programmable Interrupt Controller") describes it, for a machine with one
 * CPU: APIC ID 0, the bootstrap processor.
 *
 * Interrupts wait in the IRR (256 bits), are taken by the CPU's
 * acknowledge into the ISR and leave it with a write to EOI.  Vectors are
 * ranked by priority class (vector / 16): one is offered to the CPU only
 * when its class is above the processor priority, PPR, which is the task
 * priority (TPR) or the class of the highest vector in service, whichever
 * is higher.  The TMR remembers which accepted interrupts were
 * level-triggered; their EOI is passed on to the IO-APIC, which clears the
 * pin's remote IRR (src/hw/ioapic.c).
 *
 * The six local vector table entries: the timer, thermal and performance
 * monitor (kept, never fire: we have neither sensor), LINT0 (the 8259
 * pair's output, ExtINT), LINT1 (NMI) and error (ESR).  The timer counts
 * down at the bus clock, which we make 1 GHz, the machine clock's own
 * nanoseconds, divided by TDCR; in TSC-deadline mode it fires when the TSC
 * reaches IA32_TSC_DEADLINE, which the CPU hands us already converted to
 * the machine clock (the TSC is that clock plus the CPU's offset).
 *
 * What a PC with one CPU never sees is left out, each said where: other
 * CPUs (an IPI to anyone but ourselves goes nowhere), INIT/SIPI/SMI to
 * ourselves, x2APIC, the arbitration priority, relocating the page onto
 * RAM (RAM wins: the CPU reads and writes RAM directly, M:130).
 */
#include <stdlib.h>
#include <string.h>

#include "apic.h"

#define MSR_APIC_BASE		0x01b
#define MSR_TSC_DEADLINE	0x6e0
#define BASE_BSP		(1u << 8)
#define BASE_X2APIC		(1u << 10)
#define BASE_ENABLE		(1u << 11)
#define BASE_ADDR_MASK		0xfffff000u	/* MAXPHYADDR is 32 */

/* Version 0x14 (an integrated APIC), six LVT entries (max index 5). */
#define APIC_VERSION		0x00050014u

/* Register offsets in the page. */
enum {
	REG_ID = 0x020, REG_VERSION = 0x030, REG_TPR = 0x080, REG_APR = 0x090,
	REG_PPR = 0x0a0, REG_EOI = 0x0b0, REG_RRD = 0x0c0, REG_LDR = 0x0d0,
	REG_DFR = 0x0e0, REG_SVR = 0x0f0, REG_ISR = 0x100, REG_TMR = 0x180,
	REG_IRR = 0x200, REG_ESR = 0x280, REG_ICR_LO = 0x300,
	REG_ICR_HI = 0x310, REG_LVT = 0x320, REG_TMICT = 0x380,
	REG_TMCCT = 0x390, REG_TDCR = 0x3e0,
};

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR,
       NR_LVT };

#define LVT_MASKED		(1u << 16)
#define LVT_LEVEL		(1u << 15)
#define LVT_REMOTE_IRR		(1u << 14)
#define LVT_TIMER_MODE(v)	(((v) >> 17) & 3)
enum { TIMER_ONESHOT, TIMER_PERIODIC, TIMER_DEADLINE };

/* The bits of each LVT entry software may write. */
static const u32 lvt_wmask[NR_LVT] = {
	[LVT_TIMER] = 0x000700ffu,	/* vector, mask, mode */
	[LVT_THERMAL] = 0x000107ffu,	/* vector, delivery mode, mask */
	[LVT_PERF] = 0x000107ffu,
	[LVT_LINT0] = 0x0001a7ffu,	/* + polarity, trigger */
	[LVT_LINT1] = 0x0001a7ffu,
	[LVT_ERROR] = 0x000100ffu,
};

#define SVR_ENABLE		(1u << 8)
#define SVR_WMASK		0x000003ffu	/* vector, enable, focus */

/* ESR bits. */
#define ESR_SEND_ILLEGAL	(1u << 5)
#define ESR_RECV_ILLEGAL	(1u << 6)

/* ICR. */
#define ICR_WMASK		0x000ccfffu
#define ICR_LOGICAL		(1u << 11)
#define ICR_SHORTHAND(v)	(((v) >> 18) & 3)
enum { SH_NONE, SH_SELF, SH_ALL, SH_OTHERS };

struct apic {
	struct machine *m;
	int mmio_id;
	u32 base;		/* IA32_APIC_BASE, low half (the high is 0) */

	u32 id, tpr, ldr, dfr, svr;
	u32 esr;		/* what the guest reads */
	u32 esr_pending;	/* errors since the last ESR write */
	u32 icr_lo, icr_hi;
	u32 lvt[NR_LVT];
	u32 irr[8], isr[8], tmr[8];

	u32 tmict, tdcr;
	u64 t_start;		/* when the count was last loaded (ns) */
	u64 deadline;		/* TSC deadline on the machine clock; 0: none */
	struct timer *timer;

	bool lint[2];		/* the LINT pins' levels */
	u8 (*extint_ack)(void *opaque);
	void *extint_opaque;
	void (*eoi)(void *opaque, u8 vec);
	void *eoi_opaque;
};

static bool hw_enabled(const struct apic *a)
{
	return a->base & BASE_ENABLE;
}

static bool sw_enabled(const struct apic *a)
{
	return a->svr & SVR_ENABLE;
}

/*
 * The 256-bit registers.
 */
static void bit_set(u32 *r, u8 vec)
{
	r[vec >> 5] |= 1u << (vec & 31);
}

static void bit_clear(u32 *r, u8 vec)
{
	r[vec >> 5] &= ~(1u << (vec & 31));
}

static bool bit_test(const u32 *r, u8 vec)
{
	return r[vec >> 5] & (1u << (vec & 31));
}

/* The highest vector set, or -1. */
static int highest(const u32 *r)
{
	int i;

	for (i = 7; i >= 0; i--)
		if (r[i])
			return i * 32 + 31 - __builtin_clz(r[i]);
	return -1;
}

/*
 * Priorities and the INTR pin.
 */

/* PPR: the TPR, unless the class in service is higher (SDM 11.8.3.1). */
static u32 ppr(const struct apic *a)
{
	int isrv = highest(a->isr);
	u32 isr_class = isrv < 0 ? 0 : (u32)isrv & 0xf0;

	if ((a->tpr & 0xf0) >= isr_class)
		return a->tpr & 0xff;
	return isr_class;
}

/* The vector to offer the CPU, or -1. */
static int deliverable(const struct apic *a)
{
	int v = highest(a->irr);

	if (v < 0 || ((u32)v & 0xf0) <= (ppr(a) & 0xf0))
		return -1;
	return v;
}

/* LINT0 in ExtINT mode passes the 8259's request straight through. */
static bool extint_pending(const struct apic *a)
{
	u32 e = a->lvt[LVT_LINT0];

	return a->lint[0] && !(e & LVT_MASKED) &&
	       ((e >> 8) & 7) == APIC_DM_EXTINT;
}

/*D:310
 * The CPU's INTR pin is the APIC's output.  Globally disabled (in
 * IA32_APIC_BASE) the APIC steps aside and LINT0 is the pin itself, the
 * 8259's output as on a processor without an APIC.  Enabled, INTR is up
 * while LINT0 brings an ExtINT request (the 8259 pair in "virtual wire"
 * mode, which is how firmware leaves it and how Linux runs with `noapic`),
 * or while the highest requested vector is in a priority class above
 * PPR.  The acknowledge then takes the 8259's vector, or moves the APIC's
 * from IRR to ISR; a request that vanished in between gets the spurious
 * vector, which touches no ISR bit.
 :*/
static void update(struct apic *a)
{
	bool out;

	if (!hw_enabled(a))
		out = a->lint[0];
	else
		out = extint_pending(a) || deliverable(a) >= 0;
	machine_set_intr(a->m, out);
}

static u8 ack_extint(struct apic *a)
{
	return a->extint_ack ? a->extint_ack(a->extint_opaque) : 0xff;
}

u8 apic_intack(struct apic *a)
{
	int v;
	u8 vec;

	if (!hw_enabled(a) || extint_pending(a)) {
		vec = ack_extint(a);
	} else if ((v = deliverable(a)) >= 0) {
		bit_clear(a->irr, (u8)v);
		bit_set(a->isr, (u8)v);
		vec = (u8)v;
	} else {
		vec = a->svr & 0xff;	/* spurious: no ISR bit */
	}
	update(a);
	return vec;
}

static void fire_lvt(struct apic *a, int lvt);

/* An error for the ESR, and the error LVT's interrupt when it is new. */
static void error(struct apic *a, u32 bit)
{
	if (a->esr_pending & bit)
		return;
	a->esr_pending |= bit;
	fire_lvt(a, LVT_ERROR);
}

/* A fixed interrupt arrives.  Vectors 0-15 are illegal (SDM 11.5.2).
 * A software-disabled APIC accepts none (SDM 11.4.7.2). */
static void accept(struct apic *a, u8 vec, bool level)
{
	if (!hw_enabled(a) || !sw_enabled(a))
		return;
	if (vec < 16) {
		error(a, ESR_RECV_ILLEGAL);
		return;
	}
	bit_set(a->irr, vec);
	if (level)
		bit_set(a->tmr, vec);
	else
		bit_clear(a->tmr, vec);
	update(a);
}

/* An interrupt addressed to us, whatever its source. */
static void deliver(struct apic *a, enum apic_dm dm, u8 vec, bool level)
{
	switch (dm) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWEST:	/* the lowest of one CPU is that CPU */
		accept(a, vec, level);
		break;
	case APIC_DM_NMI:
		machine_set_nmi(a->m);
		break;
	default:
		/* SMI, INIT, SIPI to the one CPU, ExtINT by message: no PC
		 * with one CPU and this APIC's firmware state sends them. */
		verbose("apic: delivery mode %d ignored", dm);
		break;
	}
}

/* A local interrupt (timer, error, a LINT pin in fixed or NMI mode). */
static void fire_lvt(struct apic *a, int lvt)
{
	u32 e = a->lvt[lvt];
	enum apic_dm dm = APIC_DM_FIXED;

	if (!hw_enabled(a) || (e & LVT_MASKED))
		return;
	if (lvt != LVT_TIMER && lvt != LVT_ERROR)
		dm = (e >> 8) & 7;
	deliver(a, dm, e & 0xff, false);
}

static void eoi(struct apic *a)
{
	int v = highest(a->isr);

	if (v < 0)
		return;
	bit_clear(a->isr, (u8)v);
	if (bit_test(a->tmr, (u8)v) && a->eoi)
		a->eoi(a->eoi_opaque, (u8)v);
	update(a);
}

/*
 * The timer.
 */
static u32 divisor(const struct apic *a)
{
	u32 v = (a->tdcr & 3) | ((a->tdcr >> 1) & 4);

	return 1u << ((v + 1) & 7);	/* 0: 2, 1: 4 ... 6: 128, 7: 1 */
}

static int timer_mode(const struct apic *a)
{
	return LVT_TIMER_MODE(a->lvt[LVT_TIMER]);
}

static u64 now_ns(const struct apic *a)
{
	return machine_clock_ns(a->m);
}

/* Ticks of the divided bus clock since the count was loaded. */
static u64 elapsed(const struct apic *a)
{
	return (now_ns(a) - a->t_start) / divisor(a);
}

static u32 current_count(const struct apic *a)
{
	u64 e;

	if (!a->tmict || timer_mode(a) == TIMER_DEADLINE)
		return 0;
	e = elapsed(a);
	if (timer_mode(a) == TIMER_PERIODIC)
		return a->tmict - (u32)(e % a->tmict);
	return e >= a->tmict ? 0 : a->tmict - (u32)e;
}

/*D:320
 * The APIC timer is a machine timer armed for the instant the count
 * reaches zero: the run loop stops the CPU right there (M:230), so the
 * interrupt comes when the guest's clock says it is due, however slow or
 * busy the host.  The count itself is never stepped: it is computed from
 * the time it was loaded, as the PIT's is (D:130).  Periodic mode arms
 * the next period from the same origin, so periods never drift; a guest
 * that fell several periods behind (a host stall) gets one interrupt, as
 * a real APIC gives one IRR bit.  In TSC-deadline mode the deadline is
 * the instant itself.
 :*/
static void timer_arm(struct apic *a)
{
	u64 period, e;

	if (timer_mode(a) == TIMER_DEADLINE) {
		if (a->deadline)
			timer_mod(a->timer, a->deadline);
		else
			timer_del(a->timer);
		return;
	}
	if (!a->tmict || timer_mode(a) == 3) {
		timer_del(a->timer);
		return;
	}
	period = (u64)a->tmict * divisor(a);
	e = now_ns(a) - a->t_start;
	if (timer_mode(a) == TIMER_ONESHOT) {
		if (e < period)
			timer_mod(a->timer, a->t_start + period);
		else
			timer_del(a->timer);
		return;
	}
	timer_mod(a->timer, a->t_start + (e / period + 1) * period);
}

static void timer_expired(void *opaque)
{
	struct apic *a = opaque;

	if (timer_mode(a) == TIMER_DEADLINE) {
		if (!a->deadline || now_ns(a) < a->deadline) {
			timer_arm(a);
			return;
		}
		a->deadline = 0;	/* the MSR reads 0 once it fired */
	}
	fire_lvt(a, LVT_TIMER);
	timer_arm(a);
}

/* A new divisor continues the count where it stands. */
static void write_tdcr(struct apic *a, u32 val)
{
	u32 cc = current_count(a);
	u64 now = now_ns(a);

	a->tdcr = val & 0xb;
	if (a->tmict && cc)
		a->t_start = now - (u64)(a->tmict - cc) * divisor(a);
	timer_arm(a);
}

static void write_tmict(struct apic *a, u32 val)
{
	if (timer_mode(a) == TIMER_DEADLINE)
		return;		/* ignored in TSC-deadline mode */
	a->tmict = val;
	a->t_start = now_ns(a);
	timer_arm(a);
}

/*
 * Registers.
 */
static void mask_all_lvt(struct apic *a)
{
	int i;

	for (i = 0; i < NR_LVT; i++)
		a->lvt[i] |= LVT_MASKED;
}

static void write_lvt(struct apic *a, int i, u32 val)
{
	u32 old = a->lvt[i];

	val = (old & ~lvt_wmask[i]) | (val & lvt_wmask[i]);
	if (!sw_enabled(a))
		val |= LVT_MASKED;	/* SDM 11.4.7.2 */
	a->lvt[i] = val;
	if (i == LVT_TIMER &&
	    (LVT_TIMER_MODE(old) == TIMER_DEADLINE) !=
	    (LVT_TIMER_MODE(val) == TIMER_DEADLINE)) {
		/* Into or out of TSC-deadline mode: disarmed (11.5.4.1). */
		a->tmict = 0;
		a->deadline = 0;
	}
	if (i == LVT_TIMER)
		timer_arm(a);
	update(a);
}

static void write_svr(struct apic *a, u32 val)
{
	a->svr = val & SVR_WMASK;
	if (!sw_enabled(a))
		mask_all_lvt(a);
	update(a);
}

static bool dest_is_us(const struct apic *a, bool logical, u8 dest)
{
	u8 ldr = a->ldr >> 24;

	if (!logical)
		return dest == 0xff || dest == (u8)a->id;
	if ((a->dfr >> 28) == 0xf)		/* flat model */
		return dest & ldr;
	/* Cluster model: the high nibble is the cluster (15: all). */
	return ((dest >> 4) == 0xf || (dest >> 4) == (ldr >> 4)) &&
	       (dest & ldr & 0xf);
}

/*D:330
 * An IPI with one CPU goes to ourselves or nowhere: the self shorthand,
 * "all including self", or a destination that names our APIC ID (or the
 * broadcast 0xff, or our logical ID).  kvm-unit-tests and Linux use self
 * IPIs to test interrupt delivery and NMI.  A fixed IPI with a vector
 * below 16 is refused with the ESR's "send illegal vector" bit.
 :*/
static void send_ipi(struct apic *a)
{
	u32 lo = a->icr_lo;
	enum apic_dm dm = (lo >> 8) & 7;
	u8 vec = lo & 0xff, dest = a->icr_hi >> 24;
	bool to_us;

	if ((dm == APIC_DM_FIXED || dm == APIC_DM_LOWEST) && vec < 16) {
		error(a, ESR_SEND_ILLEGAL);
		return;
	}
	switch (ICR_SHORTHAND(lo)) {
	case SH_SELF:
	case SH_ALL:
		to_us = true;
		break;
	case SH_OTHERS:
		to_us = false;
		break;
	default:
		to_us = dest_is_us(a, lo & ICR_LOGICAL, dest);
		break;
	}
	if (to_us)
		deliver(a, dm, vec, false);
}

static u32 reg_read(struct apic *a, u32 reg)
{
	if (reg >= REG_ISR && reg < REG_ISR + 0x80)
		return a->isr[(reg - REG_ISR) >> 4];
	if (reg >= REG_TMR && reg < REG_TMR + 0x80)
		return a->tmr[(reg - REG_TMR) >> 4];
	if (reg >= REG_IRR && reg < REG_IRR + 0x80)
		return a->irr[(reg - REG_IRR) >> 4];
	if (reg >= REG_LVT && reg < REG_LVT + 0x10 * NR_LVT)
		return a->lvt[(reg - REG_LVT) >> 4];
	switch (reg) {
	case REG_ID:
		return a->id << 24;
	case REG_VERSION:
		return APIC_VERSION;
	case REG_TPR:
		return a->tpr;
	case REG_PPR:
		return ppr(a);
	case REG_LDR:
		return a->ldr;
	case REG_DFR:
		return a->dfr;
	case REG_SVR:
		return a->svr;
	case REG_ESR:
		return a->esr;
	case REG_ICR_LO:
		return a->icr_lo;	/* delivery status: always idle */
	case REG_ICR_HI:
		return a->icr_hi;
	case REG_TMICT:
		return a->tmict;
	case REG_TMCCT:
		return current_count(a);
	case REG_TDCR:
		return a->tdcr;
	default:		/* APR, EOI, RRD, reserved */
		return 0;
	}
}

static void reg_write(struct apic *a, u32 reg, u32 val)
{
	if (reg >= REG_LVT && reg < REG_LVT + 0x10 * NR_LVT) {
		write_lvt(a, (reg - REG_LVT) >> 4, val);
		return;
	}
	switch (reg) {
	case REG_ID:
		a->id = val >> 24;
		break;
	case REG_TPR:
		a->tpr = val & 0xff;
		update(a);
		break;
	case REG_EOI:
		eoi(a);
		break;
	case REG_LDR:
		a->ldr = val & 0xff000000u;
		break;
	case REG_DFR:
		a->dfr = val | 0x0fffffffu;
		break;
	case REG_SVR:
		write_svr(a, val);
		break;
	case REG_ESR:
		/* A write makes the errors since the last one readable. */
		a->esr = a->esr_pending;
		a->esr_pending = 0;
		break;
	case REG_ICR_LO:
		a->icr_lo = val & ICR_WMASK;
		send_ipi(a);
		break;
	case REG_ICR_HI:
		a->icr_hi = val & 0xff000000u;
		break;
	case REG_TMICT:
		write_tmict(a, val);
		break;
	case REG_TDCR:
		write_tdcr(a, val);
		break;
	default:		/* read-only or reserved: ignored */
		break;
	}
}

/* Registers are 32 bits on 16-byte boundaries.  A narrower read sees its
 * bytes of the register; a write that is not a whole aligned register
 * is dropped (the SDM leaves it undefined). */
static u32 apic_mmio_read(void *opaque, u32 off, int size)
{
	struct apic *a = opaque;
	u32 in = off & 0xf;

	(void)size;
	if (in >= 4)
		return 0;
	return reg_read(a, off & 0xff0) >> (in * 8);
}

static void apic_mmio_write(void *opaque, u32 off, u32 val, int size)
{
	struct apic *a = opaque;

	if (size != 4 || (off & 0xf))
		return;
	reg_write(a, off & 0xff0, val);
}

/*
 * Reset states and IA32_APIC_BASE.
 */

/* Power-up (SDM 11.4.7.1): every LVT masked, software disabled. */
static void power_up(struct apic *a)
{
	a->id = 0;
	a->tpr = a->ldr = 0;
	a->dfr = 0xffffffffu;
	a->svr = 0xff;
	a->esr = a->esr_pending = 0;
	a->icr_lo = a->icr_hi = 0;
	memset(a->irr, 0, sizeof(a->irr));
	memset(a->isr, 0, sizeof(a->isr));
	memset(a->tmr, 0, sizeof(a->tmr));
	memset(a->lvt, 0, sizeof(a->lvt));
	mask_all_lvt(a);
	a->tmict = a->tdcr = 0;
	a->deadline = 0;
	timer_del(a->timer);
}

/*D:340
 * IA32_APIC_BASE holds the page's address, the bootstrap-processor bit and
 * the global enable.  Moving the page moves our MMIO region; clearing the
 * enable hides the page, takes the APIC off the CPU's INTR pin (LINT0
 * becomes the pin) and clears CPUID's APIC bit, and on the way back the
 * APIC is in its power-up state, everything masked, as a Pentium 4's is.
 * Reserved bits, and the x2APIC enable (we have no x2APIC), raise #GP.
 :*/
static bool write_base(struct apic *a, u64 val)
{
	u32 was = a->base;

	if (val >> 32 || (val & ~(u64)(BASE_ADDR_MASK | BASE_ENABLE |
				       BASE_BSP)))
		return false;
	a->base = ((u32)val & (BASE_ADDR_MASK | BASE_ENABLE)) | BASE_BSP;
	if ((was & BASE_ENABLE) && !hw_enabled(a)) {
		power_up(a);
		machine_remove_mmio(a->m, a->mmio_id);
		a->mmio_id = -1;
	} else if (hw_enabled(a)) {
		if (a->mmio_id < 0)
			a->mmio_id = machine_add_mmio(a->m,
						      a->base & BASE_ADDR_MASK,
						      APIC_MMIO_SIZE, a,
						      apic_mmio_read,
						      apic_mmio_write);
		else
			machine_move_mmio(a->m, a->mmio_id,
					  a->base & BASE_ADDR_MASK);
	}
	update(a);
	return true;
}

static bool apic_rdmsr(void *opaque, u32 msr, u64 *val)
{
	struct apic *a = opaque;

	switch (msr) {
	case MSR_APIC_BASE:
		*val = a->base;
		return true;
	case MSR_TSC_DEADLINE:
		*val = hw_enabled(a) && timer_mode(a) == TIMER_DEADLINE ?
		       a->deadline : 0;
		return true;
	default:
		return false;
	}
}

static bool apic_wrmsr(void *opaque, u32 msr, u64 val)
{
	struct apic *a = opaque;

	switch (msr) {
	case MSR_APIC_BASE:
		return write_base(a, val);
	case MSR_TSC_DEADLINE:
		/* Ignored outside TSC-deadline mode (SDM 11.5.4.1). */
		if (!hw_enabled(a) || timer_mode(a) != TIMER_DEADLINE)
			return true;
		a->deadline = val;
		/* A deadline the clock has reached interrupts at once,
		 * not at the end of the CPU's slice (M:230): the guest may
		 * look for the interrupt right after a serializing
		 * instruction. */
		if (val && val <= now_ns(a))
			timer_expired(a);
		else
			timer_arm(a);
		return true;
	default:
		return false;
	}
}

/* CR8: the CPU's way to the TPR, which works with the APIC disabled too
 * (it is the same register; only the priority it sets needs the APIC). */
static u8 apic_tpr_read(void *opaque)
{
	return (u8)((struct apic *)opaque)->tpr;
}

static void apic_tpr_write(void *opaque, u8 tpr)
{
	struct apic *a = opaque;

	a->tpr = tpr;
	update(a);
}

/*
 * The platform's side.
 */
void apic_set_lint(struct apic *a, int lint, bool level)
{
	bool rising;
	u32 e;

	lint &= 1;
	rising = level && !a->lint[lint];
	a->lint[lint] = level;
	if (!hw_enabled(a)) {
		if (lint == 1 && rising)
			machine_set_nmi(a->m);	/* LINT1 is the NMI pin */
		update(a);
		return;
	}
	e = a->lvt[LVT_LINT0 + lint];
	if (((e >> 8) & 7) != APIC_DM_EXTINT && rising)
		fire_lvt(a, LVT_LINT0 + lint);
	update(a);
}

void apic_deliver(struct apic *a, bool logical, u8 dest, enum apic_dm dm,
		  u8 vec, bool level_trig)
{
	if (hw_enabled(a) && dest_is_us(a, logical, dest))
		deliver(a, dm, vec, level_trig);
}

void apic_set_extint_ack(struct apic *a, u8 (*ack)(void *opaque),
			 void *opaque)
{
	a->extint_ack = ack;
	a->extint_opaque = opaque;
}

void apic_set_eoi_listener(struct apic *a, void (*fn)(void *opaque, u8 vec),
			   void *opaque)
{
	a->eoi = fn;
	a->eoi_opaque = opaque;
}

struct apic *apic_new(struct machine *m)
{
	struct apic *a = calloc(1, sizeof(*a));

	if (!a)
		die("out of memory");
	a->m = m;
	a->timer = timer_new(m, timer_expired, a);
	timer_may_coalesce(a->timer);
	power_up(a);
	/* What PC firmware leaves for the OS: virtual wire through LINT0,
	 * NMI on LINT1 (the MADT says so too). */
	a->lvt[LVT_LINT0] = APIC_DM_EXTINT << 8;
	a->lvt[LVT_LINT1] = APIC_DM_NMI << 8;
	a->base = APIC_DEFAULT_BASE | BASE_BSP | BASE_ENABLE;
	a->mmio_id = machine_add_mmio(m, APIC_DEFAULT_BASE, APIC_MMIO_SIZE, a,
				      apic_mmio_read, apic_mmio_write);
	machine_set_msr_handler(m, a, apic_rdmsr, apic_wrmsr);
	machine_set_tpr_handler(m, a, apic_tpr_read, apic_tpr_write);
	machine_add_cleanup(m, free, a);
	return a;
}
