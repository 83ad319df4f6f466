/*
 * The 8259A pair.  Linux with `noapic` or `nolapic`, or without ACPI,
 * takes every interrupt through it (and the IO-APIC's check of the timer
 * starts with it), so the model follows the datasheet where Linux can
 * tell: the ICW1-ICW4 initialisation sequence, the mask (OCW1),
 * specific and non-specific EOI and priority rotation (OCW2), reads of IRR
 * or ISR and poll mode (OCW3), auto-EOI, special mask and special fully
 * nested modes, edge and level triggering per line (ELCR), and the
 * spurious IRQ 7 / IRQ 15 an INTA cycle gets when the request vanished.
 *
 * Each chip keeps the levels of its eight input pins.  An edge-triggered
 * line sets its IRR bit on a rising edge and keeps it until the INTA cycle
 * takes it; a level-triggered line's IRR bit follows the pin.
 */
#include <stdlib.h>
#include <string.h>

#include "pic.h"

struct pic_chip {
	u8 pins;		/* input levels as the devices drive them */
	u8 irr, isr, imr;
	u8 elcr, elcr_mask;
	u8 base;		/* vector of IRQ 0 (ICW2) */
	u8 lowest;		/* the line of lowest priority (rotation) */
	u8 init_step;		/* 0: running; 1-3: next is ICW2-ICW4 */
	bool need_icw4, single;
	bool auto_eoi, rotate_auto_eoi, sfnm;
	bool read_isr, poll, special_mask;
};

struct pic {
	struct machine *m;
	struct pic_chip c[2];	/* master, slave */
	void (*out)(void *opaque, bool level);	/* the INT output */
	void *out_opaque;
};

/* The priority (0 highest) of the highest pending line in mask, 8 if
 * none.  Priority 0 is the line after the lowest one. */
static int top_priority(const struct pic_chip *c, u8 mask)
{
	int p;

	for (p = 0; p < 8; p++)
		if (mask & (1u << ((c->lowest + 1 + p) & 7)))
			return p;
	return 8;
}

static int prio_line(const struct pic_chip *c, int prio)
{
	return (c->lowest + 1 + prio) & 7;
}

/* The line this chip would interrupt with now, or -1. */
static int chip_pending(const struct pic_chip *c, bool master)
{
	u8 in_service = c->isr;
	int req = top_priority(c, c->irr & ~c->imr);

	if (req == 8)
		return -1;
	/* Special fully nested: the slave may interrupt its own service. */
	if (master && c->sfnm)
		in_service &= ~(1u << 2);
	if (c->special_mask)
		in_service &= ~c->imr;
	if (req < top_priority(c, in_service))
		return prio_line(c, req);
	return -1;
}

/*D:110
 * An interrupt's journey starts here: a device calls machine_set_irq(),
 * the machine hands the line to this chip, and the chip decides whether
 * the CPU's INTR pin goes up.  Whether a line is edge- or level-triggered
 * matters more than anything else in this file.  The ISA devices (PIT,
 * UART, RTC) pulse their lines and want each rising edge remembered until
 * the CPU takes it; the PCI devices hold theirs while their status says
 * "interrupt", and several may share one line, so for them the request
 * must follow the pin or a shared line would fire once and never again.
 * pc_init() makes the PCI lines level-triggered in the ELCR, as PC
 * firmware does. :*/
static void chip_set_pin(struct pic_chip *c, int line, int level)
{
	u8 bit = 1u << line;

	if (level) {
		if (!(c->pins & bit) || (c->elcr & bit))
			c->irr |= bit;
		c->pins |= bit;
	} else {
		c->pins &= ~bit;
		if (c->elcr & bit)
			c->irr &= ~bit;
	}
}

/* The slave's INT output is the master's pin 2.  It is taken as a level
 * whatever the ELCR says: a slave request that goes away before INTA
 * takes the master's request with it, so the master answers that INTA
 * with its own spurious IRQ 7. */
static void update(struct pic *p)
{
	struct pic_chip *master = &p->c[0];

	if (chip_pending(&p->c[1], false) >= 0) {
		master->pins |= 1u << 2;
		master->irr |= 1u << 2;
	} else {
		master->pins &= ~(1u << 2);
		master->irr &= ~(1u << 2);
	}
	p->out(p->out_opaque, chip_pending(master, true) >= 0);
}

/* The INTA cycle's work on one chip. */
static void chip_ack(struct pic_chip *c, int line)
{
	u8 bit = 1u << line;

	if (c->auto_eoi) {
		if (c->rotate_auto_eoi)
			c->lowest = line;
	} else {
		c->isr |= bit;
	}
	if (!(c->elcr & bit))
		c->irr &= ~bit;
}

/*D:120
 * The CPU takes an interrupt by asking for its vector (the INTA cycle),
 * through the bus, at an instruction boundary.  Between the moment INTR
 * went up and this call the request may have gone away (a level line
 * dropped, a mask was written): real 8259s answer that with a spurious
 * IRQ 7, or 15 on the slave, and Linux knows to count and ignore it, so
 * we answer the same way rather than invent a vector. :*/
static u8 pic_ack(void *opaque)
{
	struct pic *p = opaque;
	int line = chip_pending(&p->c[0], true), sline;
	u8 vec;

	if (line < 0) {
		/* The request went away before INTA: IRQ 7, not in service. */
		vec = p->c[0].base + 7;
	} else if (line == 2 && !p->c[0].single) {
		sline = chip_pending(&p->c[1], false);
		if (sline >= 0) {
			chip_ack(&p->c[1], sline);
			vec = p->c[1].base + sline;
		} else {
			vec = p->c[1].base + 7;	/* spurious IRQ 15 */
		}
		chip_ack(&p->c[0], 2);
	} else {
		chip_ack(&p->c[0], line);
		vec = p->c[0].base + line;
	}
	update(p);
	return vec;
}

static void chip_set_irq(void *opaque, int irq, int level)
{
	struct pic *p = opaque;

	if (irq < 0 || irq > 15)
		return;
	chip_set_pin(&p->c[irq >> 3], irq & 7, level);
	update(p);
}

void pic_set_irq(struct pic *p, int irq, int level)
{
	chip_set_irq(p, irq, level);
}

u8 pic_intack(void *opaque)
{
	return pic_ack(opaque);
}

static void out_to_cpu(void *opaque, bool level)
{
	machine_set_intr(opaque, level);
}

void pic_set_output(struct pic *p, void (*out)(void *opaque, bool level),
		    void *opaque)
{
	p->out = out;
	p->out_opaque = opaque;
	update(p);
}

/* ICW1: start of initialisation.  The mask, the ISR and the edge latches
 * are cleared, IRQ 7 becomes lowest priority and reads give the IRR. */
static void chip_icw1(struct pic_chip *c, u8 val)
{
	c->need_icw4 = val & 1;
	c->single = val & 2;
	c->imr = 0;
	c->isr = 0;
	c->irr = c->pins & c->elcr;	/* a held level is still a request */
	c->lowest = 7;
	c->read_isr = c->poll = c->special_mask = false;
	c->auto_eoi = c->rotate_auto_eoi = c->sfnm = false;
	c->init_step = 1;
}

static void chip_eoi(struct pic_chip *c, int line, bool rotate)
{
	c->isr &= ~(1u << line);
	if (rotate)
		c->lowest = line;
}

/* OCW2: end of interrupt and rotation. */
static void chip_ocw2(struct pic_chip *c, u8 val)
{
	int prio = top_priority(c, c->isr), line = val & 7;

	switch (val >> 5) {
	case 0:			/* rotate in auto-EOI mode: clear */
		c->rotate_auto_eoi = false;
		break;
	case 4:			/* rotate in auto-EOI mode: set */
		c->rotate_auto_eoi = true;
		break;
	case 1:			/* non-specific EOI */
	case 5:			/* the same, then rotate */
		if (prio < 8)
			chip_eoi(c, prio_line(c, prio), val >> 5 == 5);
		break;
	case 3:			/* specific EOI */
		chip_eoi(c, line, false);
		break;
	case 7:			/* specific EOI and rotate */
		chip_eoi(c, line, true);
		break;
	case 6:			/* set priority: line becomes lowest */
		c->lowest = line;
		break;
	default:		/* 2: no operation */
		break;
	}
}

static void chip_ocw3(struct pic_chip *c, u8 val)
{
	if (val & 0x40)
		c->special_mask = val & 0x20;
	if (val & 0x04)
		c->poll = true;
	if (val & 0x02)
		c->read_isr = val & 1;
}

static void chip_write_data(struct pic_chip *c, u8 val)
{
	switch (c->init_step) {
	case 0:			/* OCW1 */
		c->imr = val;
		break;
	case 1:			/* ICW2: the vector base */
		c->base = val & 0xf8;
		c->init_step = c->single ? (c->need_icw4 ? 3 : 0) : 2;
		break;
	case 2:			/* ICW3: cascade wiring, fixed on a PC */
		c->init_step = c->need_icw4 ? 3 : 0;
		break;
	default:		/* ICW4 */
		c->sfnm = val & 0x10;
		c->auto_eoi = val & 0x02;
		c->init_step = 0;
		break;
	}
}

/* Poll mode: the read is the INTA cycle, answered as a status byte. */
static u8 chip_poll(struct pic *p, int chip)
{
	struct pic_chip *c = &p->c[chip];
	int line = chip_pending(c, chip == 0);

	c->poll = false;
	if (line < 0)
		return 0;
	chip_ack(c, line);
	if (chip == 0 && line == 2) {
		int sline = chip_pending(&p->c[1], false);

		if (sline >= 0)
			chip_ack(&p->c[1], sline);
	}
	update(p);
	return 0x80 | line;
}

static u32 pic_read(void *opaque, u16 port, int size)
{
	struct pic *p = opaque;
	int chip = port >= 0xa0;
	struct pic_chip *c = &p->c[chip];

	(void)size;
	if (port & 1)
		return c->imr;
	if (c->poll)
		return chip_poll(p, chip);
	return c->read_isr ? c->isr : c->irr;
}

static void pic_write(void *opaque, u16 port, u32 val, int size)
{
	struct pic *p = opaque;
	struct pic_chip *c = &p->c[port >= 0xa0];

	(void)size;
	val &= 0xff;
	if (port & 1)
		chip_write_data(c, val);
	else if (val & 0x10)
		chip_icw1(c, val);
	else if (val & 0x08)
		chip_ocw3(c, val);
	else
		chip_ocw2(c, val);
	update(p);
}

static u32 elcr_read(void *opaque, u16 port, int size)
{
	struct pic *p = opaque;

	(void)size;
	return p->c[port & 1].elcr;
}

static void elcr_apply(struct pic *p, int chip, u8 val)
{
	struct pic_chip *c = &p->c[chip];

	c->elcr = val & c->elcr_mask;
	/* A line turned level-triggered requests exactly while it is high. */
	c->irr = (c->irr & ~c->elcr) | (c->pins & c->elcr);
}

static void elcr_write(void *opaque, u16 port, u32 val, int size)
{
	struct pic *p = opaque;

	(void)size;
	elcr_apply(p, port & 1, val & 0xff);
	update(p);
}

void pic_set_elcr(struct pic *p, u16 elcr)
{
	elcr_apply(p, 0, elcr & 0xff);
	elcr_apply(p, 1, elcr >> 8);
	update(p);
}

struct pic *pic_new(struct machine *m)
{
	struct pic *p = calloc(1, sizeof(*p));
	struct irq_chip chip = { p, chip_set_irq, pic_ack };

	if (!p)
		die("out of memory");
	p->m = m;
	p->out = out_to_cpu;
	p->out_opaque = m;
	/* IRQ 0, 1, 2 (timer, keyboard, cascade) and 8, 13 (RTC, FPU) are
	 * edge-only on a PIIX. */
	p->c[0].elcr_mask = 0xf8;
	p->c[1].elcr_mask = 0xde;
	p->c[0].lowest = p->c[1].lowest = 7;
	machine_set_irq_chip(m, &chip);
	machine_add_ports(m, 0x20, 2, p, pic_read, pic_write);
	machine_add_ports(m, 0xa0, 2, p, pic_read, pic_write);
	machine_add_ports(m, 0x4d0, 2, p, elcr_read, elcr_write);
	machine_add_cleanup(m, free, p);
	return p;
}
