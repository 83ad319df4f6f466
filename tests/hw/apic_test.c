/*
 * Unit tests of the local APIC, the IO-APIC, the ACPI tables and the ACPI
 * PM registers, on the PC that pc_init_with() builds, with the stand-in
 * CPU (stub_cpu.c) and a clock the test moves by hand.  The rules checked
 * are the SDM's (vol. 3, chapter 11), the 82093AA datasheet's and the
 * ACPI specification's; each check names the rule.
 */
#include <stdlib.h>
#include <string.h>

#include "hw/acpi.h"
#include "hw/apic.h"
#include "hw/ioapic.h"
#include "hw/pc.h"
#include "machine.h"
#include "memory.h"
#include "stub_cpu.h"
#include "tap.h"

#define A 0xfee00000u		/* the APIC page */
#define MSR_APIC_BASE 0x1b
#define MSR_TSC_DEADLINE 0x6e0

static u64 fake_ns;
static struct guest_mem mem;

static u64 fake_clock(void *opaque)
{
	(void)opaque;
	return fake_ns;
}

static struct machine *new_pc(void)
{
	struct machine *m = machine_new(&mem);

	memset(mem.base, 0, mem.size);
	fake_ns = 1000;
	machine_set_clock(m, fake_clock, NULL);
	pc_init_with(m, &(struct pc_options){ .no_console = true });
	return m;
}

static struct cpu *cpu(struct machine *m)
{
	return machine_cpu(m);
}

static u32 rd(struct machine *m, u32 reg)
{
	return machine_mmio_read(m, A + reg, 4);
}

static void wr(struct machine *m, u32 reg, u32 val)
{
	machine_mmio_write(m, A + reg, val, 4);
}

static bool rdmsr(struct machine *m, u32 msr, u64 *v)
{
	return cpu(m)->bus.rdmsr(cpu(m)->bus.opaque, msr, v);
}

static bool wrmsr(struct machine *m, u32 msr, u64 v)
{
	return cpu(m)->bus.wrmsr(cpu(m)->bus.opaque, msr, v);
}

static bool intr(struct machine *m)
{
	return cpu(m)->intr;
}

static u8 ack(struct machine *m)
{
	return machine_intr_ack(m);
}

static bool irr(struct machine *m, u8 vec)
{
	return rd(m, 0x200 + (vec >> 5) * 0x10) & (1u << (vec & 31));
}

static bool isr(struct machine *m, u8 vec)
{
	return rd(m, 0x100 + (vec >> 5) * 0x10) & (1u << (vec & 31));
}

static bool tmr(struct machine *m, u8 vec)
{
	return rd(m, 0x180 + (vec >> 5) * 0x10) & (1u << (vec & 31));
}

static void self_ipi(struct machine *m, u8 vec)
{
	wr(m, 0x300, 0x40000 | vec);	/* shorthand self, fixed */
}

/* Software-enabled, spurious vector 0xff, TPR 0: as Linux leaves it. */
static struct machine *new_pc_enabled(void)
{
	struct machine *m = new_pc();

	wr(m, 0xf0, 0x1ff);
	return m;
}

static u32 ioapic_rd(struct machine *m, u8 reg)
{
	machine_mmio_write(m, IOAPIC_BASE, reg, 4);
	return machine_mmio_read(m, IOAPIC_BASE + 0x10, 4);
}

static void ioapic_wr(struct machine *m, u8 reg, u32 val)
{
	machine_mmio_write(m, IOAPIC_BASE, reg, 4);
	machine_mmio_write(m, IOAPIC_BASE + 0x10, val, 4);
}

static void rte(struct machine *m, int pin, u32 lo, u32 hi)
{
	ioapic_wr(m, 0x11 + 2 * pin, hi);
	ioapic_wr(m, 0x10 + 2 * pin, lo);
}

static void test_reset_state(void)
{
	struct machine *m = new_pc();
	u64 v = 0;

	CHECK(rdmsr(m, MSR_APIC_BASE, &v) && v == 0xfee00900u,
	      "apic: IA32_APIC_BASE is 0xfee00900 (enabled, BSP) (%#llx)",
	      (unsigned long long)v);
	CHECK_EQ(rd(m, 0x30), 0x00050014, "apic: version 0x14, 6 LVTs");
	CHECK_EQ(rd(m, 0x20), 0, "apic: APIC ID 0");
	CHECK_EQ(rd(m, 0xf0), 0xff, "apic: SVR 0xff (software disabled)");
	CHECK_EQ(rd(m, 0xe0), 0xffffffff, "apic: DFR flat model");
	CHECK_EQ(rd(m, 0x320), 0x10000, "apic: timer LVT masked");
	CHECK_EQ(rd(m, 0x350), 0x700, "apic: LINT0 ExtINT (firmware)");
	CHECK_EQ(rd(m, 0x360), 0x400, "apic: LINT1 NMI (firmware)");
	CHECK_EQ(rd(m, 0x370), 0x10000, "apic: error LVT masked");
	CHECK(!rdmsr(m, 0x12345, &v), "apic: unknown MSR is #GP");
	machine_free(m);
}

static void test_fixed_and_priority(void)
{
	struct machine *m = new_pc_enabled();

	self_ipi(m, 0x40);
	CHECK(irr(m, 0x40) && intr(m), "apic: self IPI sets IRR, raises INTR");
	CHECK_EQ(ack(m), 0x40, "apic: INTA gives the vector");
	CHECK(!irr(m, 0x40) && isr(m, 0x40) && !intr(m),
	      "apic: INTA moves IRR to ISR");
	CHECK_EQ(rd(m, 0xa0), 0x40, "apic: PPR is the class in service");
	self_ipi(m, 0x45);
	CHECK(irr(m, 0x45) && !intr(m),
	      "apic: same class as in service waits (11.8.3)");
	self_ipi(m, 0x51);
	CHECK(intr(m), "apic: a higher class interrupts the one in service");
	CHECK_EQ(ack(m), 0x51, "apic: the highest vector first");
	wr(m, 0xb0, 0);
	CHECK(!isr(m, 0x51) && isr(m, 0x40),
	      "apic: EOI clears the highest ISR bit only");
	CHECK(!intr(m), "apic: 0x45 still waits for 0x40's EOI");
	wr(m, 0xb0, 0);
	CHECK(intr(m), "apic: after EOI the waiting vector is offered");
	CHECK_EQ(ack(m), 0x45, "apic: ... and taken");
	wr(m, 0xb0, 0);

	wr(m, 0x80, 0x50);
	self_ipi(m, 0x5f);
	CHECK(!intr(m), "apic: TPR class 5 holds vector 0x5f back");
	CHECK_EQ(rd(m, 0xa0), 0x50, "apic: PPR = TPR with nothing in service");
	wr(m, 0x80, 0x4f);
	CHECK(intr(m), "apic: lowering TPR releases it");
	wr(m, 0x80, 0x60);
	CHECK_EQ(ack(m), 0xff,
		 "apic: a request gone before INTA is the spurious vector");
	CHECK(!isr(m, 0xff) && irr(m, 0x5f),
	      "apic: the spurious vector sets no ISR bit");
	wr(m, 0x80, 0);
	CHECK_EQ(ack(m), 0x5f, "apic: TPR 0 lets it through");
	wr(m, 0xb0, 0);
	CHECK(!tmr(m, 0x5f), "apic: an IPI is edge-triggered (TMR clear)");
	machine_free(m);
}

static void test_errors(void)
{
	struct machine *m = new_pc_enabled();

	wr(m, 0x370, 0xfe);		/* error LVT, vector 0xfe */
	wr(m, 0x300, 0x40005);		/* self IPI, vector 5 */
	CHECK(!irr(m, 5), "apic: vectors 0-15 are never accepted");
	CHECK(irr(m, 0xfe), "apic: the error LVT fires on a new error");
	wr(m, 0x280, 0);
	CHECK_EQ(rd(m, 0x280), 0x20,
		 "apic: ESR shows 'send illegal vector' after a write");
	wr(m, 0x280, 0);
	CHECK_EQ(rd(m, 0x280), 0, "apic: the next ESR write clears it");
	wr(m, 0x320, 0x00003);		/* timer, vector 3 */
	wr(m, 0x3e0, 0xb);
	wr(m, 0x380, 10);
	fake_ns += 10;
	machine_run_timers(m);
	wr(m, 0x280, 0);
	CHECK_EQ(rd(m, 0x280), 0x40,
		 "apic: a local vector below 16 is 'receive illegal vector'");
	machine_free(m);
}

static void test_sw_disable(void)
{
	struct machine *m = new_pc_enabled();

	wr(m, 0x320, 0xec);
	CHECK_EQ(rd(m, 0x320), 0xec, "apic: LVT written unmasked");
	wr(m, 0xf0, 0xff);
	CHECK_EQ(rd(m, 0x320), 0x100ec,
		 "apic: software disable masks every LVT (11.4.7.2)");
	wr(m, 0x320, 0xec);
	CHECK_EQ(rd(m, 0x320), 0x100ec,
		 "apic: and the mask cannot be cleared while disabled");
	self_ipi(m, 0x40);
	CHECK(!irr(m, 0x40), "apic: a software-disabled APIC takes no "
	      "fixed interrupt");
	machine_free(m);
}

static void test_timer(void)
{
	struct machine *m = new_pc_enabled();
	static const u32 div[8] = { 2, 4, 8, 16, 32, 64, 128, 1 };
	u64 v;
	int i;

	wr(m, 0x3e0, 0xb);		/* divide by 1 */
	wr(m, 0x320, 0x60);		/* one-shot, vector 0x60 */
	wr(m, 0x380, 1000);
	fake_ns += 400;
	CHECK_EQ(rd(m, 0x390), 600, "timer: the count falls at 1 GHz / 1");
	machine_run_timers(m);
	CHECK(!irr(m, 0x60), "timer: no interrupt before zero");
	fake_ns += 600;
	machine_run_timers(m);
	CHECK(irr(m, 0x60), "timer: one-shot interrupts at zero");
	CHECK_EQ(rd(m, 0x390), 0, "timer: one-shot stays at zero");
	ack(m);
	wr(m, 0xb0, 0);
	fake_ns += 5000;
	machine_run_timers(m);
	CHECK(!irr(m, 0x60), "timer: one-shot fires once");

	wr(m, 0x320, 0x20061);		/* periodic, vector 0x61 */
	wr(m, 0x3e0, 0x0);		/* divide by 2 */
	wr(m, 0x380, 100);		/* period 200 ns */
	fake_ns += 50;
	CHECK_EQ(rd(m, 0x390), 75, "timer: divide by 2 counts every 2 ns");
	fake_ns += 150;
	machine_run_timers(m);
	CHECK(irr(m, 0x61), "timer: periodic interrupts at zero");
	CHECK_EQ(rd(m, 0x390), 100, "timer: periodic reloads the count");
	ack(m);
	wr(m, 0xb0, 0);
	fake_ns += 200;
	machine_run_timers(m);
	CHECK(irr(m, 0x61), "timer: and interrupts again a period later");
	ack(m);
	wr(m, 0xb0, 0);
	wr(m, 0x320, 0x30061);		/* masked */
	fake_ns += 200;
	machine_run_timers(m);
	CHECK(!irr(m, 0x61), "timer: masked, the count runs silently");
	wr(m, 0x380, 0);
	CHECK_EQ(rd(m, 0x390), 0, "timer: initial count 0 stops it");

	for (i = 0; i < 8; i++) {
		u32 tdcr = (i & 3) | (i & 4) << 1;

		wr(m, 0x3e0, tdcr);
		wr(m, 0x380, 100000);
		fake_ns += 1280;
		CHECK_EQ(rd(m, 0x390), 100000 - 1280 / div[i],
			 "timer: TDCR %#x divides by %u", tdcr, div[i]);
	}
	wr(m, 0x380, 0);

	/* TSC-deadline mode (11.5.4.1). */
	wr(m, 0x320, 0x40062);
	CHECK(rdmsr(m, MSR_TSC_DEADLINE, &v) && v == 0,
	      "deadline: the MSR reads 0 when disarmed");
	wr(m, 0x380, 50);
	CHECK_EQ(rd(m, 0x380), 0, "deadline: TMICT writes are ignored");
	wrmsr(m, MSR_TSC_DEADLINE, fake_ns + 300);
	fake_ns += 299;
	machine_run_timers(m);
	CHECK(!irr(m, 0x62), "deadline: not before the deadline");
	fake_ns += 1;
	machine_run_timers(m);
	CHECK(irr(m, 0x62), "deadline: interrupts at the deadline");
	CHECK(rdmsr(m, MSR_TSC_DEADLINE, &v) && v == 0,
	      "deadline: the MSR reads 0 once it fired");
	ack(m);
	wr(m, 0xb0, 0);
	wrmsr(m, MSR_TSC_DEADLINE, fake_ns);
	CHECK(irr(m, 0x62) && intr(m),
	      "deadline: one the clock has reached interrupts at the write");
	CHECK(rdmsr(m, MSR_TSC_DEADLINE, &v) && v == 0,
	      "deadline: ...and the MSR reads 0 at once");
	ack(m);
	wr(m, 0xb0, 0);
	wrmsr(m, MSR_TSC_DEADLINE, fake_ns - 500);
	CHECK(irr(m, 0x62), "deadline: so does one already past");
	ack(m);
	wr(m, 0xb0, 0);
	wrmsr(m, MSR_TSC_DEADLINE, fake_ns + 100);
	wrmsr(m, MSR_TSC_DEADLINE, fake_ns + 400);
	fake_ns += 100;
	machine_run_timers(m);
	CHECK(!irr(m, 0x62), "deadline: a new deadline replaces the old one");
	fake_ns += 300;
	machine_run_timers(m);
	CHECK(irr(m, 0x62), "deadline: ...and interrupts at its own instant");
	ack(m);
	wr(m, 0xb0, 0);
	wrmsr(m, MSR_TSC_DEADLINE, fake_ns + 100);
	wrmsr(m, MSR_TSC_DEADLINE, 0);
	fake_ns += 200;
	machine_run_timers(m);
	CHECK(!irr(m, 0x62), "deadline: writing 0 disarms it");
	wrmsr(m, MSR_TSC_DEADLINE, fake_ns + 100);
	wr(m, 0x320, 0x00062);		/* back to one-shot: disarmed */
	fake_ns += 200;
	machine_run_timers(m);
	CHECK(!irr(m, 0x62), "deadline: leaving the mode disarms it");
	wrmsr(m, MSR_TSC_DEADLINE, fake_ns + 100);
	CHECK(rdmsr(m, MSR_TSC_DEADLINE, &v) && v == 0,
	      "deadline: the MSR is ignored outside the mode");
	machine_free(m);
}

static void test_nmi_and_lint(void)
{
	struct machine *m = new_pc();
	int n = cpu(m)->nmis;

	wr(m, 0x300, 0x40400);		/* self, NMI */
	CHECK_EQ(cpu(m)->nmis, n + 1,
		 "nmi: an NMI IPI reaches the CPU's NMI input, even with "
		 "the APIC software-disabled");
	wr(m, 0xf0, 0x1ff);
	wr(m, 0x310, 0x00000000);
	wr(m, 0x300, 0x00400);		/* physical, destination 0 */
	CHECK_EQ(cpu(m)->nmis, n + 2, "nmi: an NMI IPI to our own APIC ID");
	wr(m, 0x310, 0x05000000);
	wr(m, 0x300, 0x00400);
	CHECK_EQ(cpu(m)->nmis, n + 2, "nmi: one to another ID goes nowhere");
	wr(m, 0x300, 0xc0400);		/* all excluding self */
	CHECK_EQ(cpu(m)->nmis, n + 2, "nmi: 'all but self' is nobody");
	machine_free(m);
}

/* The 8259 pair as Linux sets it up: vectors 0x30 and 0x38. */
static void pic_init(struct machine *m)
{
	static const u8 seq[][2] = {
		{ 0x20, 0x11 }, { 0x21, 0x30 }, { 0x21, 0x04 }, { 0x21, 0x01 },
		{ 0xa0, 0x11 }, { 0xa1, 0x38 }, { 0xa1, 0x02 }, { 0xa1, 0x01 },
		{ 0x21, 0x00 }, { 0xa1, 0x00 },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(seq); i++)
		machine_io_out(m, seq[i][0], seq[i][1], 1);
}

static void test_extint(void)
{
	struct machine *m = new_pc();
	u64 v;

	pic_init(m);
	machine_set_irq(m, 3, 1);
	CHECK(intr(m), "extint: the 8259 reaches INTR through LINT0");
	CHECK_EQ(ack(m), 0x33, "extint: INTA is the 8259's");
	CHECK(!isr(m, 0x33), "extint: ExtINT sets no ISR bit");
	machine_set_irq(m, 3, 0);
	machine_io_out(m, 0x20, 0x20, 1);
	wr(m, 0xf0, 0x1ff);
	wr(m, 0x350, 0x10700);		/* LINT0 masked */
	machine_set_irq(m, 3, 1);
	CHECK(!intr(m), "extint: a masked LINT0 blocks the 8259");
	machine_set_irq(m, 3, 0);

	/* Globally disabled: LINT0 is INTR itself. */
	CHECK(wrmsr(m, MSR_APIC_BASE, 0xfee00000u),
	      "base: clearing the enable bit");
	CHECK_EQ(rd(m, 0x30), 0xffffffff,
		 "base: a disabled APIC's page is gone");
	CHECK(intr(m), "base: disabled, the 8259 drives INTR directly "
	      "(IRQ 3, held while LINT0 was masked)");
	CHECK_EQ(ack(m), 0x33, "base: ... and answers INTA");
	machine_io_out(m, 0x20, 0x20, 1);
	machine_set_irq(m, 4, 1);
	CHECK_EQ(ack(m), 0x34, "base: the next one too");
	machine_set_irq(m, 4, 0);
	machine_io_out(m, 0x20, 0x20, 1);
	CHECK(wrmsr(m, MSR_APIC_BASE, 0xfed00800u),
	      "base: enable again, moved to 0xfed00000");
	CHECK_EQ(machine_mmio_read(m, 0xfed00030u, 4), 0x00050014,
		 "base: the page answers at its new address");
	CHECK_EQ(rd(m, 0x30), 0xffffffff, "base: and not at the old one");
	CHECK_EQ(machine_mmio_read(m, 0xfed00350u, 4), 0x10000,
		 "base: re-enabled, it is in its power-up state (masked)");
	CHECK(rdmsr(m, MSR_APIC_BASE, &v) && v == 0xfed00900u,
	      "base: reads back with the BSP bit");
	CHECK(!wrmsr(m, MSR_APIC_BASE, 0xfee00c00u),
	      "base: the x2APIC enable is #GP (no x2APIC)");
	CHECK(!wrmsr(m, MSR_APIC_BASE, 0x1fee00800ull),
	      "base: address bits above MAXPHYADDR 32 are #GP");
	CHECK(!wrmsr(m, MSR_APIC_BASE, 0xfee00801u),
	      "base: reserved low bits are #GP");
	machine_free(m);
}

static void test_ioapic(void)
{
	struct machine *m = new_pc_enabled();
	int n;

	CHECK_EQ(ioapic_rd(m, 1), 0x00170020,
		 "ioapic: version 0x20, 24 entries");
	ioapic_wr(m, 1, 0);
	CHECK_EQ(ioapic_rd(m, 1), 0x00170020, "ioapic: version is read-only");
	ioapic_wr(m, 0, 0xffffffff);
	CHECK_EQ(ioapic_rd(m, 0), 0x0f000000,
		 "ioapic: only ID bits 24-27 are writable");
	CHECK_EQ(ioapic_rd(m, 2), 0x0f000000,
		 "ioapic: arbitration ID follows the ID");
	CHECK_EQ(ioapic_rd(m, 0x10), 0x10000, "ioapic: entries reset masked");

	/* ISA IRQ 0 is on pin 2; edge-triggered. */
	rte(m, 2, 0x30, 0);
	machine_set_irq(m, 0, 1);
	machine_set_irq(m, 0, 0);
	CHECK(irr(m, 0x30), "ioapic: IRQ 0 arrives on pin 2");
	CHECK(!tmr(m, 0x30), "ioapic: edge: TMR clear");
	ack(m);
	wr(m, 0xb0, 0);
	rte(m, 4, 0x10051, 0);		/* masked */
	machine_set_irq(m, 4, 1);
	rte(m, 4, 0x51, 0);
	CHECK(!irr(m, 0x51), "ioapic: an edge while masked is lost");
	machine_set_irq(m, 4, 0);
	machine_set_irq(m, 4, 1);
	CHECK(irr(m, 0x51), "ioapic: the next rising edge is delivered");
	machine_set_irq(m, 4, 0);
	ack(m);
	wr(m, 0xb0, 0);

	/* PIRQA, level, on pin 16. */
	rte(m, 16, 0xa061, 0);		/* level, active low, vector 0x61 */
	machine_set_irq(m, 16, 1);
	CHECK(irr(m, 0x61) && tmr(m, 0x61),
	      "ioapic: level: delivered with TMR set");
	CHECK(ioapic_rd(m, 0x30) & 0x4000, "ioapic: remote IRR set");
	CHECK_EQ(ack(m), 0x61, "ioapic: taken");
	wr(m, 0xb0, 0);
	CHECK(irr(m, 0x61), "ioapic: EOI with the line still up: again");
	ack(m);
	machine_set_irq(m, 16, 0);
	wr(m, 0xb0, 0);
	CHECK(!(ioapic_rd(m, 0x30) & 0x4000) && !irr(m, 0x61),
	      "ioapic: EOI after the line fell clears remote IRR, no more");
	rte(m, 16, 0x1a061, 0);		/* masked */
	machine_set_irq(m, 16, 1);
	CHECK(!irr(m, 0x61), "ioapic: level, masked: nothing");
	rte(m, 16, 0xa061, 0);
	CHECK(irr(m, 0x61), "ioapic: unmasked while asserted: delivered");
	ack(m);
	machine_mmio_write(m, IOAPIC_BASE + 0x40, 0x61, 4);
	CHECK(irr(m, 0x61) && (ioapic_rd(m, 0x30) & 0x4000),
	      "ioapic: the EOI register redelivers a held level");
	ack(m);
	wr(m, 0xb0, 0);
	wr(m, 0xb0, 0);
	machine_set_irq(m, 16, 0);
	wr(m, 0xb0, 0);

	/* Logical destination, flat model. */
	wr(m, 0xd0, 0x02000000);
	rte(m, 5, 0x870, 0x02000000);
	machine_set_irq(m, 5, 1);
	machine_set_irq(m, 5, 0);
	CHECK(irr(m, 0x70), "ioapic: logical destination matching LDR");
	ack(m);
	wr(m, 0xb0, 0);
	rte(m, 5, 0x870, 0x04000000);
	machine_set_irq(m, 5, 1);
	machine_set_irq(m, 5, 0);
	CHECK(!irr(m, 0x70), "ioapic: one that does not match: nothing");
	rte(m, 5, 0x71, 0x03000000);
	machine_set_irq(m, 5, 1);
	machine_set_irq(m, 5, 0);
	CHECK(!irr(m, 0x71), "ioapic: physical destination 3 is not us");

	n = cpu(m)->nmis;
	rte(m, 6, 0x400, 0);		/* NMI */
	machine_set_irq(m, 6, 1);
	CHECK_EQ(cpu(m)->nmis, n + 1, "ioapic: NMI delivery mode");
	machine_free(m);
}

/* PIRQs reach the 8259 on their routed line too (PIC mode). */
static void test_pirq_to_pic(void)
{
	struct machine *m = new_pc();

	pic_init(m);
	machine_set_irq(m, 16, 1);
	CHECK(intr(m), "pirq: PIRQA raises the 8259's line 11");
	CHECK_EQ(ack(m), 0x3b, "pirq: vector of IRQ 11");
	machine_set_irq(m, 16, 0);
	machine_io_out(m, 0xa0, 0x20, 1);
	machine_io_out(m, 0x20, 0x20, 1);
	machine_set_irq(m, 18, 1);
	machine_set_irq(m, 9, 1);
	machine_set_irq(m, 18, 0);
	CHECK(machine_io_in(m, 0xa0, 1) & 0x02,
	      "pirq: IRQ 9 is the OR of the SCI and PIRQC");
	machine_free(m);
}

/* ACPI: the tables as the OS reads them. */
static const u8 *gp(u32 gpa)
{
	return guest_ptr(&mem, gpa, 1);
}

static bool sums_to_zero(const u8 *p, u32 n)
{
	u8 s = 0;

	while (n--)
		s += *p++;
	return s == 0;
}

static const u8 *table(const u8 *rsdt, const char *sig)
{
	u32 n = (get_le32(rsdt + 4) - 36) / 4, i;

	for (i = 0; i < n; i++) {
		const u8 *t = gp(get_le32(rsdt + 36 + 4 * i));

		if (!memcmp(t, sig, 4))
			return t;
	}
	return NULL;
}

static bool madt_has(const u8 *madt, u8 type, const u8 *body, u8 len)
{
	u32 off = 44, end = get_le32(madt + 4);

	while (off + 2 <= end && madt[off + 1] >= 2) {
		if (madt[off] == type && madt[off + 1] == len &&
		    !memcmp(madt + off + 2, body, len - 2))
			return true;
		off += madt[off + 1];
	}
	return false;
}

static void test_acpi_tables(void)
{
	struct machine *m = new_pc();
	const u8 *rsdp = gp(ACPI_RSDP_ADDR), *rsdt, *xsdt, *fadt, *madt, *dsdt;

	CHECK(!memcmp(rsdp, "RSD PTR ", 8) && (ACPI_RSDP_ADDR & 15) == 0 &&
	      ACPI_RSDP_ADDR >= 0xe0000,
	      "acpi: RSDP on a 16-byte boundary in 0xe0000-0xfffff");
	CHECK(sums_to_zero(rsdp, 20) && sums_to_zero(rsdp, 36),
	      "acpi: RSDP checksum and extended checksum");
	rsdt = gp(get_le32(rsdp + 16));
	xsdt = gp((u32)get_le64(rsdp + 24));
	CHECK(!memcmp(rsdt, "RSDT", 4) && sums_to_zero(rsdt, get_le32(rsdt + 4)),
	      "acpi: RSDT");
	CHECK(!memcmp(xsdt, "XSDT", 4) && sums_to_zero(xsdt, get_le32(xsdt + 4))
	      && get_le32(xsdt + 4) == 36 + 2 * 8 &&
	      get_le64(xsdt + 36) == get_le32(rsdt + 36),
	      "acpi: XSDT, the same tables as the RSDT");
	fadt = table(rsdt, "FACP");
	madt = table(rsdt, "APIC");
	CHECK(fadt && sums_to_zero(fadt, get_le32(fadt + 4)) &&
	      get_le32(fadt + 4) == 244, "acpi: FADT (revision 3, 244 bytes)");
	CHECK(madt && sums_to_zero(madt, get_le32(madt + 4)), "acpi: MADT");
	if (!fadt || !madt) {
		machine_free(m);
		return;
	}
	CHECK_EQ(get_le16(fadt + 46), 9, "acpi: SCI on IRQ 9");
	CHECK_EQ(get_le32(fadt + 48), 0, "acpi: no SMI_CMD (ACPI always on)");
	CHECK_EQ(get_le32(fadt + 56), ACPI_PM1_EVT, "acpi: PM1a_EVT_BLK");
	CHECK_EQ(get_le32(fadt + 64), ACPI_PM1_CNT, "acpi: PM1a_CNT_BLK");
	CHECK_EQ(get_le32(fadt + 76), ACPI_PM_TMR, "acpi: PM_TMR_BLK");
	CHECK_EQ(fadt[91], 4, "acpi: PM_TMR_LEN 4");
	CHECK(get_le32(fadt + 112) & (1u << 8), "acpi: TMR_VAL_EXT (32-bit)");
	CHECK(!memcmp(gp(get_le32(fadt + 36)), "FACS", 4) &&
	      (get_le32(fadt + 36) & 63) == 0, "acpi: FACS, 64-byte aligned");
	CHECK_EQ(get_le64(fadt + 208 + 4), ACPI_PM_TMR,
		 "acpi: X_PM_TMR_BLK agrees");
	dsdt = gp(get_le32(fadt + 40));
	CHECK(!memcmp(dsdt, "DSDT", 4) && sums_to_zero(dsdt, get_le32(dsdt + 4))
	      && get_le64(fadt + 140) == get_le32(fadt + 40), "acpi: DSDT");
	CHECK(memmem(dsdt, get_le32(dsdt + 4), "_S5_\x12", 5) &&
	      memmem(dsdt, get_le32(dsdt + 4), "\x41\xd0\x0a\x03", 4),
	      "acpi: DSDT has \\_S5 and a PNP0A03 host bridge");
	CHECK_EQ(get_le32(madt + 36), 0xfee00000, "acpi: MADT local APIC");
	CHECK(madt_has(madt, 0, (const u8 *)"\x00\x00\x01\x00\x00\x00", 8),
	      "acpi: MADT: processor 0, APIC ID 0, enabled");
	CHECK(madt_has(madt, 1, (const u8 *)"\x01\x00\x00\x00\xc0\xfe"
		       "\x00\x00\x00\x00", 12),
	      "acpi: MADT: IO-APIC ID 1 at 0xfec00000, GSI base 0");
	CHECK(madt_has(madt, 2, (const u8 *)"\x00\x00\x02\x00\x00\x00\x00\x00",
		       10), "acpi: MADT: ISA IRQ 0 is GSI 2");
	CHECK(madt_has(madt, 4, (const u8 *)"\xff\x00\x00\x01", 6),
	      "acpi: MADT: LINT1 is NMI");
	machine_free(m);
}

static int pm_runs;

static enum cpu_event count_run(struct cpu *c, u64 budget)
{
	(void)c;
	(void)budget;
	pm_runs++;
	return CPU_STOPPED;
}

static void test_acpi_pm(void)
{
	struct machine *m = new_pc();
	u32 t0;

	fake_ns = 1000000000ULL;
	CHECK_EQ(machine_io_in(m, ACPI_PM_TMR, 4), 3579545,
		 "pm: the PM timer counts 3.579545 MHz of the machine clock");
	t0 = machine_io_in(m, ACPI_PM_TMR, 4);
	fake_ns += 1000;
	CHECK_EQ(machine_io_in(m, ACPI_PM_TMR, 4) - t0, 3,
		 "pm: 1 us later, 3 ticks more");
	CHECK_EQ(machine_io_in(m, ACPI_PM1_CNT, 2) & 1, 1,
		 "pm: SCI_EN reads 1");
	machine_io_out(m, ACPI_PM1_EVT + 2, 0x20, 2);
	CHECK_EQ(machine_io_in(m, ACPI_PM1_EVT + 2, 2), 0x20,
		 "pm: the global lock enable reads back");
	fake_ns = (((1ull << 31) * 1000000000ull) / ACPI_PM_TMR_HZ) + 10;
	CHECK_EQ(machine_io_in(m, ACPI_PM1_EVT, 2) & 1, 1,
		 "pm: TMR_STS after the counter's top bit changed");
	machine_io_out(m, ACPI_PM1_EVT, 1, 2);
	CHECK_EQ(machine_io_in(m, ACPI_PM1_EVT, 2) & 1, 0,
		 "pm: TMR_STS is write-1-to-clear");

	machine_io_out(m, ACPI_PM1_CNT, (3 << 10) | (1 << 13), 2);
	machine_request_exit(m, 7);
	CHECK_EQ(machine_run(m), 7, "pm: a sleep type other than S5 is "
		 "ignored");
	machine_free(m);

	m = new_pc();
	stub_run = count_run;
	pm_runs = 0;
	machine_io_out(m, ACPI_PM1_CNT, (ACPI_S5_TYP << 10) | (1 << 13), 2);
	CHECK_EQ(machine_run(m), end_status(END_POWEROFF),
		 "pm: S5 powers off (status 0)");
	CHECK_EQ(pm_runs, 0, "pm: ... before the CPU runs again");
	stub_run = NULL;
	machine_free(m);
}

int main(void)
{
	if (guest_mem_init(&mem, 4 * MiB) < 0) {
		printf("not ok - guest_mem_init\n");
		return 1;
	}
	test_reset_state();
	test_fixed_and_priority();
	test_errors();
	test_sw_disable();
	test_timer();
	test_nmi_and_lint();
	test_extint();
	test_ioapic();
	test_pirq_to_pic();
	test_acpi_tables();
	test_acpi_pm();
	return tap_failed ? 1 : 0;
}
