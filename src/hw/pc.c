/*
 * Builds the PC platform around a machine: see pc.h.  The interrupt
 * controllers come first (the 8259 pair, the local APIC, the IO-APIC and
 * the wiring between them, D:300), since they must be in place before any
 * device raises a line, then the ACPI tables that describe them.
 */
#include <stdlib.h>
#include <unistd.h>

#include "../term.h"
#include "acpi.h"
#include "apic.h"
#include "debugport.h"
#include "i8042.h"
#include "ioapic.h"
#include "pc.h"
#include "pci.h"
#include "pic.h"
#include "pit.h"
#include "rtc.h"
#include "uart.h"


/* The PCI INTx lines (src/hw/pci.c routes INTA to 11, 10, 9, 5) are
 * level-triggered, as PC firmware programs the ELCR for them; so is the
 * ACPI SCI on 9. */
#define PCI_LEVEL_IRQS ((1u << 11) | (1u << 10) | (1u << 9) | (1u << 5))

/* The board's interrupt wiring. */
struct pc_irq {
	struct pic *pic;
	struct apic *apic;
	struct ioapic *ioapic;
	u32 levels;		/* of the machine's lines 0..23 */
};

/* An 8259 input is the ISA line of its number, wire-ORed with the PIRQs
 * routed to it. */
static bool pic_input(const struct pc_irq *r, int isa)
{
	int n;

	if (r->levels & (1u << isa))
		return true;
	for (n = 0; n < PCI_NR_PIRQ; n++)
		if (pci_pirq_isa[n] == isa &&
		    (r->levels & (1u << (PCI_IRQ_BASE + n))))
			return true;
	return false;
}

/*D:300
 * The wiring of a PC's interrupt lines since the IO-APIC, which is two
 * controllers listening to the same wires.  ISA line n goes to the 8259
 * pair's input n and to IO-APIC pin n, except the PIT's line 0, which is
 * on pin 2 (the MADT says so).  PCI's PIRQA-D (machine lines 16-19) go to
 * IO-APIC pins 16-19 and, through the chipset's PIRQ router, to the 8259
 * lines 11, 10, 9 and 5.  The OS masks the controller it does not use.
 * The 8259 pair's output is the local APIC's LINT0, and the local APIC
 * drives the CPU: the CPU's interrupt acknowledge goes to it (D:310).
 :*/
static void pc_set_irq(void *opaque, int irq, int level)
{
	struct pc_irq *r = opaque;
	int isa = -1;

	if (level)
		r->levels |= 1u << irq;
	else
		r->levels &= ~(1u << irq);
	if (irq < 16)
		isa = irq;
	else if (irq < PCI_IRQ_BASE + PCI_NR_PIRQ)
		isa = pci_pirq_isa[irq - PCI_IRQ_BASE];
	ioapic_set_irq(r->ioapic, irq == 0 ? 2 : irq, level);
	if (isa >= 0)
		pic_set_irq(r->pic, isa, pic_input(r, isa));
}

static u8 pc_ack(void *opaque)
{
	struct pc_irq *r = opaque;

	return apic_intack(r->apic);
}

static void pic_to_lint0(void *opaque, bool level)
{
	apic_set_lint(opaque, 0, level);
}

/* What PC firmware leaves in the 8259 pair: initialised with the BIOS's
 * vectors (0x08, 0x70) and every line masked but the cascade, so that
 * nothing reaches LINT0 until the OS sets the pair up for itself. */
static void pic_firmware_init(struct machine *m)
{
	static const u8 seq[][2] = {
		{ 0x20, 0x11 }, { 0x21, 0x08 }, { 0x21, 0x04 }, { 0x21, 0x01 },
		{ 0xa0, 0x11 }, { 0xa1, 0x70 }, { 0xa1, 0x02 }, { 0xa1, 0x01 },
		{ 0x21, 0xfb }, { 0xa1, 0xff },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(seq); i++)
		machine_io_out(m, seq[i][0], seq[i][1], 1);
}

static void interrupts_init(struct machine *m)
{
	struct pc_irq *r = calloc(1, sizeof(*r));
	struct irq_chip chip = { r, pc_set_irq, pc_ack };

	if (!r)
		die("out of memory");
	r->pic = pic_new(m);
	pic_set_elcr(r->pic, PCI_LEVEL_IRQS);
	pic_firmware_init(m);
	r->apic = apic_new(m);
	r->ioapic = ioapic_new(m, r->apic);
	apic_set_extint_ack(r->apic, pic_intack, r->pic);
	pic_set_output(r->pic, pic_to_lint0, r->apic);
	machine_set_irq_chip(m, &chip);
	machine_add_cleanup(m, free, r);
}

static void close_term(void *opaque)
{
	term_close(opaque);
}

/*D:100
 * The PC that every guest gets, whatever the command line says: the
 * devices Linux's i386 kernel expects to find on any PC and probes for
 * without asking firmware.  The interrupt controllers first, since they
 * must be in place before any device raises a line: the 8259 pair, with
 * the PCI lines set level-triggered, the local APIC and the IO-APIC; the
 * ACPI tables that describe the machine and ACPI's PM registers; then
 * the 8254 timer, the CMOS clock,
 * the user's terminal and the one UART on it (COM1, ttyS0), the i8042 for
 * its reset line, and two small ports for POST codes and the boot-time
 * mark.  Each device is one file in src/hw/ and one call here; none of
 * them knows of another, only of the machine (M:130).  The PCI bus and the
 * devices the user asked for come after this, from the launcher (L:100).
 */
void pc_init_with(struct machine *m, const struct pc_options *opt)
{
	static const struct pc_options defaults;
	struct term *t = NULL;

	if (!opt)
		opt = &defaults;
	interrupts_init(m);
	acpi_build_tables(m);
	acpi_pm_new(m);
	pit_new(m);
	rtc_new(m);
	if (!opt->no_console)
		t = term_open(m, STDIN_FILENO, STDOUT_FILENO);
	if (opt->term)
		*opt->term = t;
	/* COM1; COM2-4 are left empty, so their ports read all ones and
	 * Linux's probe finds no UART there. */
	uart_new(m, 0x3f8, 4, t);
	/* Closed before the UART goes: its last flush may call the UART. */
	if (t)
		machine_add_cleanup(m, close_term, t);
	i8042_new(m);
	debugport_init(m, opt->boot_time);
}
/* A test builds a PC without a terminal (no_console), or with its own
 * options; the devices are the same. :*/

void pc_init(struct machine *m)
{
	pc_init_with(m, NULL);
}
