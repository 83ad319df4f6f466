/*
 * The script-driven guest of the virtio fuzz targets: see fuzz_guest.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include "fuzz_guest.h"

/* The transport's BAR layout (virtio_pci.c), as a driver learns it from
 * the capabilities; fixed here so that a script can aim at it. */
#define COMMON	0x0000
#define ISR	0x1000
#define NOTIFY	0x3000

static void fake_set_irq(void *opaque, int irq, int level)
{
	struct fguest *g = opaque;

	if (irq < 0 || irq >= MACHINE_IRQS)
		fuzz_fail("IRQ line %d", irq);
	g->irq[irq] = level;
}

static u8 fake_ack(void *opaque)
{
	(void)opaque;
	return 0;
}

static u64 fake_clock(void *opaque)
{
	return ((struct fguest *)opaque)->now;
}

struct fguest *fg_new(void)
{
	struct fguest *g = calloc(1, sizeof(*g));
	static struct irq_chip chip;

	if (!g || guest_mem_init(&g->mem, FG_RAM))
		abort();
	fuzz_kill_clear();
	g->m = machine_new(&g->mem);
	chip = (struct irq_chip){ g, fake_set_irq, fake_ack };
	machine_set_irq_chip(g->m, &chip);
	machine_set_clock(g->m, fake_clock, g);
	g->bus = pci_init(g->m);
	return g;
}

void fg_free(struct fguest *g)
{
	pci_free(g->bus);
	if (g->dev.cleanup)
		g->dev.cleanup(g);
	machine_free(g->m);
	guest_mem_free(&g->mem);
	free(g);
}

u32 fg_bar(struct fguest *g)
{
	machine_io_out(g->m, 0xcf8, 0x80000000u | FG_SLOT << 11 |
		       PCI_BASE_ADDRESS_0, 4);
	return machine_io_in(g->m, 0xcfc, 4) & ~0xfu;
}

u64 fg_addr(struct fuzz_in *in)
{
	u8 hi = in_u8(in);

	if (hi == 0xff)
		return in_u64(in);
	return (u64)hi << 16 | in_u16(in);
}

static void cfg(struct fguest *g, bool write, struct fuzz_in *in)
{
	u8 slot = in_u8(in) & 7, off = in_u8(in);
	int size = in_size(in);

	machine_io_out(g->m, 0xcf8, 0x80000000u | slot << 11 | (off & 0xfc),
		       4);
	if (write)
		machine_io_out(g->m, 0xcfc + (off & 3), in_u32(in), size);
	else
		machine_io_in(g->m, 0xcfc + (off & 3), size);
}

static void common_wr(struct fguest *g, u32 off, u32 val, int size)
{
	machine_mmio_write(g->m, fg_bar(g) + COMMON + off, val, size);
}

static u32 common_rd(struct fguest *g, u32 off, int size)
{
	return machine_mmio_read(g->m, fg_bar(g) + COMMON + off, size);
}

static void settle(struct fguest *g)
{
	if (g->dev.settle)
		g->dev.settle(g);
}

static void notify(struct fguest *g, u16 q)
{
	machine_mmio_write(g->m, fg_bar(g) + NOTIFY + 4u * q, q, 2);
}

static void ram_write(struct fguest *g, u64 gpa, const void *p, u64 len)
{
	/* The guest's CPU can write only RAM: outside it, nothing. */
	guest_write(&g->mem, gpa, p, len);
}

static void put16(struct fguest *g, u64 gpa, u16 v)
{
	u8 b[2] = { (u8)v, (u8)(v >> 8) };

	ram_write(g, gpa, b, 2);
}

static u64 ring(u8 q)
{
	return FG_RING_BASE + 0x2000ull * (q % FG_QUEUES);
}

#define DESC(q)		ring(q)
#define AVAIL(q)	(ring(q) + 0x1000)
#define USED(q)		(ring(q) + 0x1400)

static void desc(struct fguest *g, struct fuzz_in *in)
{
	u8 t = in_u8(in);
	u16 i = in_u16(in);
	u64 table = t >= FG_QUEUES ? FG_INDIRECT : DESC(t);
	u8 d[16];

	put_le64(d, fg_addr(in));
	put_le32(d + 8, in_u32(in));
	put_le16(d + 12, in_u16(in));
	put_le16(d + 14, in_u16(in));
	ram_write(g, table + 16ull * (i & 0x3ff), d, 16);
}

static void avail(struct fguest *g, u8 q, u16 head)
{
	u16 size = g->qsize[q % FG_QUEUES];
	u16 *idx = &g->avail_idx[q % FG_QUEUES];

	put16(g, AVAIL(q) + 4 + 2ull * (size ? *idx % size : 0), head);
	++*idx;
	put16(g, AVAIL(q) + 2, *idx);
}

static void wr64(struct fguest *g, u32 lo, u64 v)
{
	common_wr(g, lo, (u32)v, 4);
	common_wr(g, lo + 4, (u32)(v >> 32), 4);
}

/* What a driver does to bring up queue q: size, three areas, enable. */
static void queue(struct fguest *g, u8 q, u8 log2)
{
	u16 size = (u16)(1u << (log2 % 10));

	q %= FG_QUEUES;
	g->qsize[q] = size;
	g->avail_idx[q] = 0;
	put16(g, AVAIL(q) + 2, 0);
	common_wr(g, VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
	common_wr(g, VIRTIO_PCI_COMMON_Q_SIZE, size, 2);
	wr64(g, VIRTIO_PCI_COMMON_Q_DESCLO, DESC(q));
	wr64(g, VIRTIO_PCI_COMMON_Q_AVAILLO, AVAIL(q));
	wr64(g, VIRTIO_PCI_COMMON_Q_USEDLO, USED(q));
	common_wr(g, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
}

static void features(struct fguest *g, u64 f)
{
	u8 s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	common_wr(g, VIRTIO_PCI_COMMON_STATUS, 0, 1);
	memset(g->avail_idx, 0, sizeof(g->avail_idx));
	common_wr(g, VIRTIO_PCI_COMMON_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE, 1);
	common_wr(g, VIRTIO_PCI_COMMON_STATUS, s, 1);
	common_wr(g, VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
	common_wr(g, VIRTIO_PCI_COMMON_GF, (u32)f, 4);
	common_wr(g, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
	common_wr(g, VIRTIO_PCI_COMMON_GF, (u32)(f >> 32), 4);
	common_wr(g, VIRTIO_PCI_COMMON_STATUS,
		  s | VIRTIO_CONFIG_S_FEATURES_OK, 1);
}

static void tick(struct fguest *g, u16 us)
{
	g->now += us * 1000ull;
	machine_poll(g->m);
}

static void step(struct fguest *g, struct fuzz_in *in)
{
	u8 op = in_u8(in) % FG_NR_OPS, q, buf[256];
	u16 off, v;
	u32 len;
	int size;

	switch (op) {
	case FG_CFG_WRITE:
	case FG_CFG_READ:
		cfg(g, op == FG_CFG_WRITE, in);
		break;
	case FG_BAR_WRITE:
		off = in_u16(in) & 0x3fff;
		size = in_size(in);
		machine_mmio_write(g->m, fg_bar(g) + off, in_u32(in), size);
		break;
	case FG_BAR_READ:
		off = in_u16(in) & 0x3fff;
		machine_mmio_read(g->m, fg_bar(g) + off, in_size(in));
		break;
	case FG_NOTIFY:
		notify(g, in_u16(in));
		break;
	case FG_RAM_WRITE: {
		u64 gpa = fg_addr(in);

		len = in_bytes(in, buf, in_u8(in));
		ram_write(g, gpa, buf, len);
		break;
	}
	case FG_DESC:
		desc(g, in);
		break;
	case FG_AVAIL:
		q = in_u8(in);
		avail(g, q, in_u16(in));
		break;
	case FG_QUEUE:
		q = in_u8(in);
		queue(g, q, in_u8(in));
		break;
	case FG_FEATURES:
		features(g, in_u64(in));
		break;
	case FG_DRIVER_OK:
		common_wr(g, VIRTIO_PCI_COMMON_STATUS,
			  common_rd(g, VIRTIO_PCI_COMMON_STATUS, 1) |
			  VIRTIO_CONFIG_S_DRIVER_OK, 1);
		break;
	case FG_RESET:
		common_wr(g, VIRTIO_PCI_COMMON_STATUS, 0, 1);
		memset(g->avail_idx, 0, sizeof(g->avail_idx));
		break;
	case FG_ISR:
		machine_mmio_read(g->m, fg_bar(g) + ISR, 1);
		break;
	case FG_TICK:
		tick(g, in_u16(in));
		break;
	case FG_HOST:
		if (g->dev.host)
			g->dev.host(g, in);
		break;
	case FG_AVAIL_RAW:
		q = in_u8(in);
		put16(g, AVAIL(q), in_u16(in));
		v = in_u16(in);
		g->avail_idx[q % FG_QUEUES] = v;
		put16(g, AVAIL(q) + 2, v);
		break;
	case FG_USED_EVENT:
		q = in_u8(in);
		put16(g, AVAIL(q) + 4 + 2ull * g->qsize[q % FG_QUEUES],
		      in_u16(in));
		break;
	case FG_KICK:
		q = in_u8(in);
		avail(g, q, in_u16(in));
		notify(g, q % FG_QUEUES);
		break;
	}
}

void fg_run(struct fguest *g, struct fuzz_in *in)
{
	size_t n = strlen(g->dev.name);

	while (!in_empty(in) && !guest_killed(g->m)) {
		step(g, in);
		settle(g);
	}
	fuzz_note("%s: used %u %u, killed: %s", g->dev.name,
		  get_le16(g->mem.base + USED(0) + 2),
		  get_le16(g->mem.base + USED(1) + 2), fuzz_kill_reason);
	if (guest_killed(g->m) &&
	    (strncmp(fuzz_kill_reason, g->dev.name, n) ||
	     strncmp(fuzz_kill_reason + n, ": ", 2)))
		fuzz_fail("guest killed, but not by %s: \"%s\"", g->dev.name,
			  fuzz_kill_reason);
}
