/*
 * The i8042 keyboard controller, with no keyboard and no mouse behind it.
 *
 * What matters is what Linux's i8042 driver does at boot: it flushes the
 * output buffer, reads and writes the command byte, runs the controller's
 * self-tests and probes the AUX (mouse) port with a loopback.  Each of
 * those gets an answer at once, since an unanswered command costs the
 * guest a timeout of half a second.  The AUX port answers the loopback with
 * a wrong byte and its interface test with "clock line stuck", which makes
 * Linux decide, quietly, that there is none.  A byte sent to the keyboard
 * gets 0xfe with the timeout bit, which is how a controller reports an
 * empty socket, so atkbd gives up at once.
 *
 * The reset line: command 0xfe (pulse output port bit 0), a write of the
 * output port with bit 0 clear, and bit 0 of port 0x92 all reset the CPU.
 * We have no reset to offer, so the run ends as a reset (M:155) and the
 * caller decides (lguest exits with status 2, see README).
 */
#include <stdlib.h>

#include "i8042.h"

#define STS_OBF 0x01
#define STS_SYS 0x04
#define STS_CMD 0x08
#define STS_UNLOCKED 0x10
#define STS_AUXDATA 0x20
#define STS_TIMEOUT 0x40

#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE 0x40

#define QUEUE 16

struct i8042 {
	struct machine *m;
	u8 ctr;			/* the command byte */
	u8 outport;		/* bit 0: reset (high: run), bit 1: A20 */
	u8 status;		/* STS_CMD, STS_TIMEOUT of the last access */
	u8 pending;		/* command awaiting its data byte, or 0 */
	u8 q[QUEUE];		/* output buffer queue ... */
	u8 qflags[QUEUE];	/* ... with each byte's status bits */
	int qhead, qlen;
	u8 port92;
};

/*D:180
 * The i8042 is here for its reset line more than for a keyboard (there
 * is none: the user types on the serial console).  Linux reboots through
 * it (or through the PCI reset port 0xcf9, which pci.c treats the same
 * way), and so does a kernel that panics with panic=-1, which the launcher
 * adds to a Linux kernel's command line for that very reason: a panicked
 * guest then ends lguest at once instead of sitting there forever.  We
 * have no firmware to restart the guest with, so a reset ends the run
 * with status 2 (M:155) and the caller decides what a reboot means to it. :*/
static void reset_line(struct i8042 *k, const char *why)
{
	machine_reset(k->m, why);
}

/* A byte for the guest to read.  Keyboard bytes interrupt (IRQ 1) when
 * the command byte allows; controller replies do not, because Linux polls
 * for them. */
static void put(struct i8042 *k, u8 byte, u8 flags, bool from_kbd)
{
	if (k->qlen == QUEUE)
		return;
	k->q[(k->qhead + k->qlen) % QUEUE] = byte;
	k->qflags[(k->qhead + k->qlen) % QUEUE] = flags;
	k->qlen++;
	if (from_kbd && (k->ctr & CTR_KBDINT)) {
		machine_set_irq(k->m, 1, 1);
		machine_set_irq(k->m, 1, 0);
	}
}

static void command(struct i8042 *k, u8 cmd)
{
	k->status |= STS_CMD;
	switch (cmd) {
	case 0x20:			/* read command byte */
		put(k, k->ctr, 0, false);
		break;
	case 0x60:			/* write command byte */
	case 0xd1:			/* write output port */
	case 0xd2:			/* write keyboard output buffer */
	case 0xd3:			/* write AUX output buffer (loop) */
	case 0xd4:			/* write to AUX device */
		k->pending = cmd;
		break;
	case 0xa7:			/* disable AUX */
		k->ctr |= CTR_AUXDIS;
		break;
	case 0xa8:			/* enable AUX */
		k->ctr &= ~CTR_AUXDIS;
		break;
	case 0xa9:			/* test AUX port: clock stuck low */
		put(k, 0x02, 0, false);
		break;
	case 0xaa:			/* self-test: passed */
		put(k, 0x55, 0, false);
		break;
	case 0xab:			/* test keyboard port: fine */
		put(k, 0x00, 0, false);
		break;
	case 0xad:			/* disable keyboard */
		k->ctr |= CTR_KBDDIS;
		break;
	case 0xae:			/* enable keyboard */
		k->ctr &= ~CTR_KBDDIS;
		break;
	case 0xc0:			/* read input port */
		put(k, 0xa0, 0, false);
		break;
	case 0xd0:			/* read output port */
		put(k, k->outport, 0, false);
		break;
	case 0xdd:			/* A20 off */
		k->outport &= ~0x02;
		break;
	case 0xdf:			/* A20 on */
		k->outport |= 0x02;
		break;
	default:
		/* 0xf0-0xff pulse output port bits low for 6 us: bit 0 is
		 * the CPU's reset line. */
		if (cmd >= 0xf0 && !(cmd & 1))
			reset_line(k, "i8042 command 0xfe");
		break;
	}
}

static void data(struct i8042 *k, u8 val)
{
	u8 cmd = k->pending;

	k->pending = 0;
	k->status &= ~STS_CMD;
	switch (cmd) {
	case 0x60:
		k->ctr = val;
		break;
	case 0xd1:
		k->outport = val;
		if (!(val & 1))
			reset_line(k, "i8042 output port");
		break;
	case 0xd2:
		put(k, val, 0, true);
		break;
	case 0xd3:
		/* A loopback that does not loop: Linux then asks 0xa9. */
		put(k, val ^ 0xff, STS_AUXDATA, false);
		break;
	case 0xd4:
		put(k, 0xfe, STS_AUXDATA | STS_TIMEOUT, false);
		break;
	default:
		/* To the keyboard, which is not there. */
		put(k, 0xfe, STS_TIMEOUT, true);
		break;
	}
}

static u32 i8042_read(void *opaque, u16 port, int size)
{
	struct i8042 *k = opaque;
	u8 v;

	(void)size;
	if (port == 0x64) {
		v = STS_SYS | STS_UNLOCKED | (k->status & STS_CMD);
		if (k->qlen)
			v |= STS_OBF | k->qflags[k->qhead];
		return v;
	}
	if (!k->qlen)
		return 0;	/* the last byte again on a real chip */
	v = k->q[k->qhead];
	k->qhead = (k->qhead + 1) % QUEUE;
	k->qlen--;
	return v;
}

static void i8042_write(void *opaque, u16 port, u32 val, int size)
{
	struct i8042 *k = opaque;

	(void)size;
	if (port == 0x64)
		command(k, val & 0xff);
	else
		data(k, val & 0xff);
}

static u32 port92_read(void *opaque, u16 port, int size)
{
	struct i8042 *k = opaque;

	(void)port;
	(void)size;
	return (k->port92 & ~1) | (k->outport & 0x02);
}

static void port92_write(void *opaque, u16 port, u32 val, int size)
{
	struct i8042 *k = opaque;

	(void)port;
	(void)size;
	k->port92 = val & 0x02;
	k->outport = (k->outport & ~0x02) | (val & 0x02);
	if (val & 1)
		reset_line(k, "port 0x92");
}

struct i8042 *i8042_new(struct machine *m)
{
	struct i8042 *k = calloc(1, sizeof(*k));

	if (!k)
		die("out of memory");
	k->m = m;
	k->ctr = CTR_KBDINT | CTR_SYS | CTR_XLATE;
	k->outport = 0x03;		/* running, A20 on */
	machine_add_ports(m, 0x60, 1, k, i8042_read, i8042_write);
	machine_add_ports(m, 0x64, 1, k, i8042_read, i8042_write);
	machine_add_ports(m, 0x92, 1, k, port92_read, port92_write);
	machine_add_cleanup(m, free, k);
	return k;
}
