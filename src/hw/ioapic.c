/*
 * The IO-APIC, as Intel's 82093AA datasheet and later PC chipsets (ICH,
 * version 0x20, with its EOI register) have it.  Two registers in the
 * MMIO page, IOREGSEL at 0x00 and IOWIN at 0x10, reach the ID, version
 * and arbitration registers and the 24 redirection table entries.
 *
 * An entry says what its pin's interrupt becomes: vector, delivery mode,
 * destination (physical APIC ID or logical), edge or level trigger, and a
 * mask.  An edge-triggered pin sends its message on each rising edge seen
 * while unmasked (an edge while masked is lost, as the datasheet says).
 * A level-triggered pin sends while it is asserted, then sets the entry's
 * remote IRR and sends no more until the local APIC's EOI for that vector
 * comes back (or a write to our EOI register); if the pin is still
 * asserted then, it sends again.  That is what lets a PCI line shared by
 * several devices work.
 *
 * Pin levels are logical: "asserted" is what the device drives.  The
 * polarity bit is kept for the guest to read back; which electrical level
 * a board's wire asserts is the board's business, and our devices are
 * wired to say "asserted" directly (QEMU models it the same way).
 */
#include <stdlib.h>

#include "ioapic.h"

#define IOAPIC_VERSION	0x00170020u	/* 24 entries (max index 23), v0x20 */

#define RTE_MASKED	(1ull << 16)
#define RTE_LEVEL	(1ull << 15)
#define RTE_REMOTE_IRR	(1ull << 14)
#define RTE_LOGICAL	(1ull << 11)
/* Vector, delivery mode, destination mode, polarity, trigger, mask, and
 * the destination byte; delivery status and remote IRR are read-only. */
#define RTE_WMASK	(0xff00000000000000ull | 0x1afffull)

enum { REG_ID = 0, REG_VERSION = 1, REG_ARB = 2, REG_TABLE = 0x10 };
enum { MMIO_REGSEL = 0x00, MMIO_WIN = 0x10, MMIO_EOI = 0x40 };

struct ioapic {
	struct machine *m;
	struct apic *apic;
	u8 id;			/* 4 bits */
	u8 regsel;
	u32 pins;		/* input levels */
	u64 rte[IOAPIC_PINS];
};

static void send(struct ioapic *io, int pin)
{
	u64 e = io->rte[pin];

	apic_deliver(io->apic, e & RTE_LOGICAL, (u8)(e >> 56),
		     (enum apic_dm)((e >> 8) & 7), (u8)e, e & RTE_LEVEL);
}

/* A level-triggered pin that is asserted, unmasked and not waiting for
 * an EOI sends its message. */
static void service_level(struct ioapic *io, int pin)
{
	u64 *e = &io->rte[pin];

	if (!(*e & RTE_LEVEL) || (*e & (RTE_MASKED | RTE_REMOTE_IRR)) ||
	    !(io->pins & (1u << pin)))
		return;
	*e |= RTE_REMOTE_IRR;
	send(io, pin);
}

void ioapic_set_irq(struct ioapic *io, int pin, bool level)
{
	u32 bit = 1u << pin;
	bool rising;

	if (pin < 0 || pin >= IOAPIC_PINS)
		return;
	rising = level && !(io->pins & bit);
	if (level)
		io->pins |= bit;
	else
		io->pins &= ~bit;
	if (io->rte[pin] & RTE_LEVEL)
		service_level(io, pin);
	else if (rising && !(io->rte[pin] & RTE_MASKED))
		send(io, pin);
}

/* The local APIC's EOI for a level-triggered vector (or our own EOI
 * register): the entries with that vector may send again. */
static void eoi(void *opaque, u8 vec)
{
	struct ioapic *io = opaque;
	int pin;

	for (pin = 0; pin < IOAPIC_PINS; pin++) {
		u64 *e = &io->rte[pin];

		if ((u8)*e != vec || !(*e & RTE_REMOTE_IRR))
			continue;
		*e &= ~RTE_REMOTE_IRR;
		service_level(io, pin);
	}
}

static u32 reg_read(struct ioapic *io, u8 reg)
{
	int pin = (reg - REG_TABLE) / 2;

	switch (reg) {
	case REG_ID:
	case REG_ARB:		/* loaded from the ID, read-only */
		return (u32)io->id << 24;
	case REG_VERSION:
		return IOAPIC_VERSION;
	}
	if (reg < REG_TABLE || pin >= IOAPIC_PINS)
		return 0;
	return (u32)(io->rte[pin] >> (reg & 1 ? 32 : 0));
}

static void write_rte(struct ioapic *io, int pin, bool high, u32 val)
{
	u64 *e = &io->rte[pin];
	u64 v = high ? (*e & 0xffffffffull) | (u64)val << 32
		     : (*e & ~0xffffffffull) | val;

	*e = (*e & ~RTE_WMASK) | (v & RTE_WMASK);
	if (!(*e & RTE_LEVEL))
		*e &= ~RTE_REMOTE_IRR;	/* meaningless for an edge pin */
	/* Unmasked, or made level-triggered, with the pin held: it sends. */
	service_level(io, pin);
}

static void reg_write(struct ioapic *io, u8 reg, u32 val)
{
	int pin = (reg - REG_TABLE) / 2;

	if (reg == REG_ID) {
		io->id = (val >> 24) & 0xf;
		return;
	}
	if (reg < REG_TABLE || pin >= IOAPIC_PINS)
		return;		/* version, arbitration: read-only */
	write_rte(io, pin, reg & 1, val);
}

static u32 ioapic_read(void *opaque, u32 off, int size)
{
	struct ioapic *io = opaque;

	(void)size;
	switch (off) {
	case MMIO_REGSEL:
		return io->regsel;
	case MMIO_WIN:
		return reg_read(io, io->regsel);
	default:
		return 0;
	}
}

static void ioapic_write(void *opaque, u32 off, u32 val, int size)
{
	struct ioapic *io = opaque;

	switch (off) {
	case MMIO_REGSEL:
		io->regsel = (u8)val;
		break;
	case MMIO_WIN:
		if (size == 4)
			reg_write(io, io->regsel, val);
		break;
	case MMIO_EOI:
		eoi(io, (u8)val);
		break;
	default:
		break;
	}
}

struct ioapic *ioapic_new(struct machine *m, struct apic *apic)
{
	struct ioapic *io = calloc(1, sizeof(*io));
	int i;

	if (!io)
		die("out of memory");
	io->m = m;
	io->apic = apic;
	for (i = 0; i < IOAPIC_PINS; i++)
		io->rte[i] = RTE_MASKED;
	machine_add_mmio(m, IOAPIC_BASE, 0x1000, io, ioapic_read, ioapic_write);
	apic_set_eoi_listener(apic, eoi, io);
	machine_add_cleanup(m, free, io);
	return io;
}
