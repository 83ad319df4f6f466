/*
 * Fuzz target: the PCI host bridge and configuration space (src/hw/pci.c)
 * and the machine's port and MMIO dispatch (src/machine.c) under them.
 * Two functions of our own sit on the bus, with memory BARs of sizes from
 * 16 bytes to 1 MiB (and empty BARs between them).  The input is a list
 * of accesses, as a guest CPU makes them: IN and OUT of any width at any
 * port from 0xcf8 to 0xcff (straddling ones included), and loads and
 * stores in the MMIO window, at a BAR's current address plus an offset
 * or anywhere.  (The virtio targets reach the configuration hooks of the
 * virtio capabilities through the same ports.)
 *
 * After every access these must hold: a BAR callback is only ever given
 * an offset and width inside its own BAR; every decoded BAR lies in the
 * MMIO window, aligned to its size, and overlaps no other; the read-only
 * identity registers read back as they were made; an IRQ line is 0-15.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hw/pci.h"
#include "machine.h"
#include "memory.h"

#define NDEV	2
#define NBARS	PCI_NUM_BARS
#define NB	(NDEV * NBARS)

/* BAR b of device b / NBARS; 0: no BAR. */
static const u32 bar_size[NB] = {
	16, 4096, 0, 1 << 20, 256, 65536,
	0x4000, 0, 128, 0, 0, 0,
};
static const u32 dev_id[NDEV] = { 0xbeef1234u, 0xcafe1234u };
static struct pci_dev *devs[NDEV];

/* The bus hands each callback its device's opaque; one function per BAR
 * tells them apart. */
static void bar_check(int b, u32 off, int size)
{
	if (size != 1 && size != 2 && size != 4)
		fuzz_fail("BAR %d access of width %d", b, size);
	if ((u64)off + size > bar_size[b])
		fuzz_fail("BAR %d (%u bytes) accessed at %#x+%d", b,
			  bar_size[b], off, size);
}

#define BAR_FNS(n)							\
static u32 rd##n(void *o, u32 off, int size)				\
{									\
	(void)o;							\
	bar_check(n, off, size);					\
	return off * 0x01010101u;					\
}									\
static void wr##n(void *o, u32 off, u32 val, int size)			\
{									\
	(void)o, (void)val;						\
	bar_check(n, off, size);					\
}
BAR_FNS(0) BAR_FNS(1) BAR_FNS(3) BAR_FNS(4) BAR_FNS(5) BAR_FNS(6)
BAR_FNS(8)

static const mmio_read_fn rds[NB] = {
	rd0, rd1, NULL, rd3, rd4, rd5, rd6, NULL, rd8,
};
static const mmio_write_fn wrs[NB] = {
	wr0, wr1, NULL, wr3, wr4, wr5, wr6, NULL, wr8,
};

static u8 ack(void *opaque)
{
	(void)opaque;
	return 0;
}

static void set_irq(void *opaque, int irq, int level)
{
	(void)opaque, (void)level;
	if (irq < 0 || irq > 15)
		fuzz_fail("IRQ line %d", irq);
}

static u32 bar_at(int b)
{
	return pci_bar_addr(devs[b / NBARS], b % NBARS);
}

static u32 cfg_id(struct machine *m, int slot)
{
	machine_io_out(m, 0xcf8, 0x80000000u | slot << 11, 4);
	return machine_io_in(m, 0xcfc, 4);
}

/* Looking leaves the address register as the guest had it. */
static void check(struct machine *m)
{
	u32 addr = machine_io_in(m, 0xcf8, 4);

	for (int i = 0; i < NB; i++) {
		u32 a = bar_at(i);

		if (!a)
			continue;
		if (!bar_size[i] || a < GUEST_MMIO_BASE ||
		    (u64)a + bar_size[i] > GUEST_MMIO_END ||
		    a & (bar_size[i] - 1))
			fuzz_fail("BAR %d decoded at %#x", i, a);
		for (int j = 0; j < NB; j++) {
			u32 b = bar_at(j);

			if (j != i && b && a < (u64)b + bar_size[j] &&
			    b < (u64)a + bar_size[i])
				fuzz_fail("BAR %d at %#x overlaps BAR %d at "
					  "%#x", i, a, j, b);
		}
	}
	for (int d = 0; d < NDEV; d++)
		if (cfg_id(m, 1 + d) != dev_id[d])
			fuzz_fail("the identity of 00:%02x.0 changed", 1 + d);
	machine_io_out(m, 0xcf8, addr, 4);
}

static void step(struct machine *m, struct fuzz_in *in)
{
	u8 op = in_u8(in) % 5;
	int size = in_size(in);
	u32 addr;

	switch (op) {
	case 0:		/* the address register, as Linux writes it */
		addr = in_u8(in) % 4;
		machine_io_out(m, 0xcf8, 0x80000000u | addr << 11 | in_u8(in),
			       4);
		break;
	case 1:
		addr = in_u8(in) & 7;
		machine_io_out(m, 0xcf8 + addr, in_u32(in), size);
		break;
	case 2:
		machine_io_in(m, 0xcf8 + (in_u8(in) & 7), size);
		break;
	default:
		addr = in_u8(in);
		if (addr < NB && bar_at(addr))
			addr = bar_at(addr) + in_u32(in) % (bar_size[addr] + 8);
		else
			addr = GUEST_MMIO_BASE + in_u32(in) %
			       (GUEST_MMIO_END - GUEST_MMIO_BASE);
		if (op == 3)
			machine_mmio_write(m, addr, in_u32(in), size);
		else
			machine_mmio_read(m, addr, size);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct irq_chip chip = { NULL, set_irq, ack };
	struct guest_mem mem;
	struct machine *m;
	struct pci_bus *bus;

	if (guest_mem_init(&mem, 2 * MiB))
		abort();
	fuzz_kill_clear();
	m = machine_new(&mem);
	machine_set_irq_chip(m, &chip);
	bus = pci_init(m);
	for (int d = 0; d < NDEV; d++) {
		struct pci_dev_info info = {
			.vendor = (u16)dev_id[d], .device = dev_id[d] >> 16,
			.class_code = 0xff0000, .intx = true,
		};

		for (int i = 0; i < NBARS; i++)
			info.bars[i] = (struct pci_bar_info){
				bar_size[d * NBARS + i], rds[d * NBARS + i],
				wrs[d * NBARS + i] };
		devs[d] = pci_add_device(bus, &info);
	}
	check(m);
	while (!in_empty(&in)) {
		step(m, &in);
		check(m);
	}
	if (guest_killed(m))
		fuzz_fail("guest killed: %s", fuzz_kill_reason);
	pci_free(bus);
	machine_free(m);
	guest_mem_free(&mem);
	return 0;
}
