/*
 * QEMU's pc-testdev, as kvm-unit-tests uses it (see pc_testdev.h).
 *
 * The device is a handful of test hooks that the suite's x86 tests reach
 * for: a 32-bit scratch register behind ports 0xe0-0xe3 (and, a byte at a
 * time, 0xe8-0xeb) that realmode and emulator read back through IN, OUT
 * and string I/O; a "flush this page" port at 0xe4 that eventinj writes a
 * physical address to; one port per interrupt line at 0x2000 + n that
 * sets the line to the value written; and 64 KiB of memory-mapped scratch
 * at 0xff000000 that the emulator test maps to run instructions against
 * a page that is not RAM.  Written from the facts of QEMU's device, not
 * its code.
 *
 * None of it holds anything but the guest's own bytes, so no value the
 * guest writes needs a check beyond the offset, which the bus has already
 * bounded to the region.
 */
#include <stdlib.h>
#include <string.h>

#include "pc_testdev.h"

struct pc_testdev {
	struct machine *m;
	u32 data;			/* the scratch register, ports 0xe0-3 */
	u8 iomem[TESTDEV_IOMEM_LEN];
};

/* The scratch register: an access of size bytes at byte offset off of the
 * register.  Bytes that would fall past its fourth are not there. */
static u32 data_read(struct pc_testdev *t, unsigned off, int size)
{
	u32 v = t->data >> (8 * off);

	return size < 4 ? v & ((1u << (8 * size)) - 1) : v;
}

static void data_write(struct pc_testdev *t, unsigned off, u32 val, int size)
{
	int i;

	for (i = 0; i < size && off + i < 4; i++) {
		t->data &= ~(0xffu << (8 * (off + i)));
		t->data |= ((val >> (8 * i)) & 0xff) << (8 * (off + i));
	}
}

static u32 port_read(void *opaque, u16 port, int size)
{
	struct pc_testdev *t = opaque;

	if (port >= TESTDEV_DATA_PORT && port < TESTDEV_DATA_PORT + 4)
		return data_read(t, port - TESTDEV_DATA_PORT, size);
	if (port >= TESTDEV_BYTE_PORT && port < TESTDEV_BYTE_PORT + 4)
		return data_read(t, port - TESTDEV_BYTE_PORT, size);
	return 0;	/* the flush port and the IRQ ports are write-only */
}

/*D:196
 * With --exit-port, besides the exit port itself (D:190), come the other
 * test hooks of QEMU's test machine that kvm-unit-tests expects: its
 * pc-testdev and, for the one number the suite's start-up code asks the
 * firmware (how many CPUs), a fw_cfg interface (D:197).  pc-testdev's
 * ports are a scratch register to read back through IN and OUT in every
 * size, a port per interrupt line that sets the line to the value
 * written, and a page-flush port.  The last asks QEMU to drop its host
 * mapping of a guest page so that KVM's next access faults; our CPU keeps
 * no host mapping of guest memory that could be stale, so the write is
 * accepted and changes nothing the guest can see, as under QEMU's own
 * software CPU.
 */
static void port_write(void *opaque, u16 port, u32 val, int size)
{
	struct pc_testdev *t = opaque;

	if (port >= TESTDEV_DATA_PORT && port < TESTDEV_DATA_PORT + 4)
		data_write(t, port - TESTDEV_DATA_PORT, val, size);
	else if (port >= TESTDEV_BYTE_PORT && port < TESTDEV_BYTE_PORT + 4)
		data_write(t, port - TESTDEV_BYTE_PORT, val, size);
	else if (port >= TESTDEV_IRQ_PORT &&
		 port < TESTDEV_IRQ_PORT + TESTDEV_ISA_LINES)
		machine_set_irq(t->m, port - TESTDEV_IRQ_PORT, val != 0);
}
/* QEMU's device has a port for each of an IO-APIC's 24 inputs.  The ISA
 * lines 0-15 are the machine's lines 0-15; 16-23 are IO-APIC inputs with
 * no ISA line behind them, which the machine does not number (its lines
 * past 15, if any, are not those), so writes there are taken and do
 * nothing.  Only the suite's IO-APIC test, a 64-bit one, uses them. :*/

/* The memory window: the bus hands us offsets inside the region, so only
 * an access that runs past its last byte needs care. */
static u32 iomem_read(void *opaque, u32 off, int size)
{
	struct pc_testdev *t = opaque;
	u32 v = 0;
	int i;

	for (i = 0; i < size && off + i < TESTDEV_IOMEM_LEN; i++)
		v |= (u32)t->iomem[off + i] << (8 * i);
	return v;
}

static void iomem_write(void *opaque, u32 off, u32 val, int size)
{
	struct pc_testdev *t = opaque;
	int i;

	for (i = 0; i < size && off + i < TESTDEV_IOMEM_LEN; i++)
		t->iomem[off + i] = (u8)(val >> (8 * i));
}

void pc_testdev_init(struct machine *m)
{
	struct pc_testdev *t = calloc(1, sizeof(*t));

	if (!t)
		die("out of memory");
	t->m = m;
	machine_add_ports(m, TESTDEV_DATA_PORT, 4, t, port_read, port_write);
	machine_add_ports(m, TESTDEV_FLUSH_PORT, 4, t, port_read, port_write);
	machine_add_ports(m, TESTDEV_BYTE_PORT, 4, t, port_read, port_write);
	machine_add_ports(m, TESTDEV_IRQ_PORT, TESTDEV_IRQ_LINES, t,
			  port_read, port_write);
	machine_add_mmio(m, TESTDEV_IOMEM_BASE, TESTDEV_IOMEM_LEN, t,
			 iomem_read, iomem_write);
	machine_add_cleanup(m, free, t);
}
