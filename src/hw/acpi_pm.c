/*
 * ACPI's fixed power-management hardware, on the ports the FADT names
 * (src/hw/acpi.c):
 *
 *	0x600	PM1a_STS	status: TMR_STS (bit 0), write 1 to clear
 *	0x602	PM1a_EN		enables: TMR_EN (bit 0) raises the SCI; the
 *			global lock, button and RTC enables are kept, and
 *			their events never happen
 *	0x604	PM1a_CNT	control: SCI_EN (reads 1), SLP_TYP, SLP_EN
 *	0x608	PM_TMR		a 32-bit counter at 3.579545 MHz
 *
 * The PM timer is the machine clock (M:220) counted at 3.579545 MHz, so
 * it agrees with the TSC, the PIT and the APIC timer by construction.
 * TMR_STS is set each time the counter's top bit changes; with TMR_EN set
 * it raises the SCI, IRQ 9 (Linux never asks for it: the PM timer is a
 * clocksource, read, not an interrupt).  Writing SLP_TYP 5 (the DSDT's
 * \_S5) with SLP_EN powers the machine off, which is how Linux powers off
 * once it has ACPI; other sleep states are not offered in the DSDT, and a
 * request for one is ignored.
 *
 * Every register is reached a byte at a time, so an access of any size at
 * any offset does what the bytes it covers would.
 */
#include <stdlib.h>

#include "acpi.h"

#define TMR_STS		(1u << 0)
/* The enables the OS may set: timer, global lock, power and sleep
 * buttons, RTC alarm.  Only the timer's event ever happens. */
#define PM1_EN_MASK	0x0721u
#define SCI_EN		(1u << 0)
#define SLP_EN		(1u << 13)
#define TMR_TOP_BIT	31

struct acpi_pm {
	struct machine *m;
	u16 en;
	u64 tmr_cleared;	/* counter epoch (top bit count) at last clear */
	u16 cnt;		/* SLP_TYP as written, for reading back */
	struct timer *timer;	/* for TMR_STS while TMR_EN is set */
};

static u64 ticks(struct acpi_pm *p)
{
	return (unsigned __int128)machine_clock_ns(p->m) * ACPI_PM_TMR_HZ /
	       1000000000ULL;
}

static u16 status(struct acpi_pm *p)
{
	return (ticks(p) >> TMR_TOP_BIT) != p->tmr_cleared ? TMR_STS : 0;
}

/* The first ns at which the counter's top bit changes again. */
static u64 next_toggle_ns(struct acpi_pm *p)
{
	u64 t = ((ticks(p) >> TMR_TOP_BIT) + 1) << TMR_TOP_BIT;

	return ((unsigned __int128)t * 1000000000ULL + ACPI_PM_TMR_HZ - 1) /
	       ACPI_PM_TMR_HZ;
}

static void update_sci(struct acpi_pm *p)
{
	bool sci = status(p) & p->en & TMR_STS;

	machine_set_irq(p->m, ACPI_SCI_IRQ, sci);
	if ((p->en & TMR_STS) && !sci)
		timer_mod(p->timer, next_toggle_ns(p));
	else
		timer_del(p->timer);
}

static void toggled(void *opaque)
{
	update_sci(opaque);
}

static u8 read_byte(struct acpi_pm *p, unsigned off)
{
	u32 v;

	switch (off & ~1u) {
	case 0:
		v = status(p);
		break;
	case 2:
		v = p->en;
		break;
	case 4:
		v = p->cnt | SCI_EN;
		break;
	case 8:
	case 10:
		return (u8)(ticks(p) >> (8 * (off - 8)));
	default:
		return 0;
	}
	return (u8)(v >> (8 * (off & 1)));
}

static void sleep_request(struct acpi_pm *p)
{
	unsigned typ = (p->cnt >> 10) & 7;

	if (typ == ACPI_S5_TYP) {
		verbose("acpi: S5 requested: powered off");
		machine_request_exit(p->m, end_status(END_POWEROFF));
	} else {
		verbose("acpi: sleep type %u requested: ignored", typ);
	}
}

static void write_byte(struct acpi_pm *p, unsigned off, u8 v)
{
	switch (off) {
	case 0:			/* PM1a_STS, low: TMR_STS is write-1-clear */
		if (v & TMR_STS)
			p->tmr_cleared = ticks(p) >> TMR_TOP_BIT;
		break;
	case 2:			/* PM1a_EN */
		p->en = (p->en & 0xff00) | (v & PM1_EN_MASK);
		break;
	case 3:
		p->en = (p->en & 0x00ff) | ((v << 8) & PM1_EN_MASK);
		break;
	case 4:			/* PM1a_CNT, low: SCI_EN is fixed */
		break;
	case 5:			/* PM1a_CNT, high: SLP_TYP, SLP_EN */
		p->cnt = (u16)((v & 0x1c) << 8);
		if (v & (SLP_EN >> 8))
			sleep_request(p);
		break;
	default:		/* the timer is read-only; the rest reserved */
		break;
	}
	update_sci(p);
}

static u32 pm_read(void *opaque, u16 port, int size)
{
	struct acpi_pm *p = opaque;
	unsigned off = port - ACPI_PM_BASE;
	u32 v = 0;
	int i;

	for (i = 0; i < size && off + i < ACPI_PM_LEN; i++)
		v |= (u32)read_byte(p, off + i) << (8 * i);
	return v;
}

static void pm_write(void *opaque, u16 port, u32 val, int size)
{
	struct acpi_pm *p = opaque;
	unsigned off = port - ACPI_PM_BASE;
	int i;

	for (i = 0; i < size && off + i < ACPI_PM_LEN; i++)
		write_byte(p, off + i, (u8)(val >> (8 * i)));
}

void acpi_pm_new(struct machine *m)
{
	struct acpi_pm *p = calloc(1, sizeof(*p));

	if (!p)
		die("out of memory");
	p->m = m;
	p->timer = timer_new(m, toggled, p);
	machine_add_ports(m, ACPI_PM_BASE, ACPI_PM_LEN, p, pm_read, pm_write);
	machine_add_cleanup(m, free, p);
}
