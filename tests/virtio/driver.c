/*
 * The tests' virtio-pci driver: see driver.h.
 */
#include <stdlib.h>

#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include "driver.h"

char kill_reason[256];

void __real_guest_kill(struct machine *m, const char *fmt, ...);

void __wrap_guest_kill(struct machine *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(kill_reason, sizeof(kill_reason), fmt, ap);
	va_end(ap);
	__real_guest_kill(m, "%s", kill_reason);
}

static void fake_set_irq(void *opaque, int irq, int level)
{
	struct drv *d = opaque;

	d->irq[irq] = level;
}

static u8 fake_ack(void *opaque)
{
	(void)opaque;
	return 0;
}

void drv_machine(struct drv *d)
{
	static struct irq_chip chip;

	memset(d, 0, sizeof(*d));
	kill_reason[0] = 0;
	if (guest_mem_init(&d->mem, RAM_SIZE))
		abort();
	d->m = machine_new(&d->mem);
	chip = (struct irq_chip){ d, fake_set_irq, fake_ack };
	machine_set_irq_chip(d->m, &chip);
	d->bus = pci_init(d->m);
}

void drv_free(struct drv *d)
{
	pci_free(d->bus);
	machine_free(d->m);
	guest_mem_free(&d->mem);
}

static void cfg_addr(struct drv *d, int slot, u32 off)
{
	pci_io_write(d->bus, 0xcf8, 0x80000000u | slot << 11 | (off & 0xfc), 4);
}

u32 cfg_read(struct drv *d, int slot, u32 off, int size)
{
	cfg_addr(d, slot, off);
	return pci_io_read(d->bus, 0xcfc + (off & 3), size);
}

void cfg_write(struct drv *d, int slot, u32 off, u32 val, int size)
{
	cfg_addr(d, slot, off);
	pci_io_write(d->bus, 0xcfc + (off & 3), val, size);
}

bool drv_probe(struct drv *d, int slot)
{
	u32 cap;

	d->slot = slot;
	d->bar = cfg_read(d, slot, PCI_BASE_ADDRESS_0, 4) & ~0xfu;
	if (!(cfg_read(d, slot, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return false;
	for (cap = cfg_read(d, slot, PCI_CAPABILITY_LIST, 1); cap;
	     cap = cfg_read(d, slot, cap + 1, 1)) {
		u32 type = cfg_read(d, slot, cap + 3, 1);
		u32 off = cfg_read(d, slot, cap + 8, 4);

		if (cfg_read(d, slot, cap, 1) != PCI_CAP_ID_VNDR)
			continue;
		if (cfg_read(d, slot, cap + 4, 1) != 0)
			return false;	/* all in BAR 0 */
		switch (type) {
		case VIRTIO_PCI_CAP_COMMON_CFG:
			d->common = d->bar + off;
			break;
		case VIRTIO_PCI_CAP_NOTIFY_CFG:
			d->notify = d->bar + off;
			d->notify_mult = cfg_read(d, slot, cap + 16, 4);
			break;
		case VIRTIO_PCI_CAP_ISR_CFG:
			d->isr = d->bar + off;
			break;
		case VIRTIO_PCI_CAP_DEVICE_CFG:
			d->device = d->bar + off;
			break;
		}
	}
	return d->common && d->notify && d->isr;
}

u32 common_rd(struct drv *d, u32 off, int size)
{
	return machine_mmio_read(d->m, d->common + off, size);
}

void common_wr(struct drv *d, u32 off, u32 val, int size)
{
	machine_mmio_write(d->m, d->common + off, val, size);
}

u8 drv_negotiate(struct drv *d, u64 features)
{
	common_wr(d, VIRTIO_PCI_COMMON_STATUS, 0, 1);
	common_wr(d, VIRTIO_PCI_COMMON_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE, 1);
	common_wr(d, VIRTIO_PCI_COMMON_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE |
		  VIRTIO_CONFIG_S_DRIVER, 1);
	common_wr(d, VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
	common_wr(d, VIRTIO_PCI_COMMON_GF, features, 4);
	common_wr(d, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
	common_wr(d, VIRTIO_PCI_COMMON_GF, features >> 32, 4);
	common_wr(d, VIRTIO_PCI_COMMON_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE |
		  VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK, 1);
	return common_rd(d, VIRTIO_PCI_COMMON_STATUS, 1);
}

static void wr64(struct drv *d, u32 lo, u64 v)
{
	common_wr(d, lo, v, 4);
	common_wr(d, lo + 4, v >> 32, 4);
}

void drv_queue(struct drv *d, u16 q, u16 size)
{
	u64 base = (u64)q * 0x10000;

	d->qsize = size;
	d->desc = DESC_GPA + base;
	d->avail = AVAIL_GPA + base;
	d->used = USED_GPA + base;
	d->avail_idx = 0;
	common_wr(d, VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
	common_wr(d, VIRTIO_PCI_COMMON_Q_SIZE, size, 2);
	wr64(d, VIRTIO_PCI_COMMON_Q_DESCLO, d->desc);
	wr64(d, VIRTIO_PCI_COMMON_Q_AVAILLO, d->avail);
	wr64(d, VIRTIO_PCI_COMMON_Q_USEDLO, d->used);
	common_wr(d, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
}

void drv_driver_ok(struct drv *d)
{
	common_wr(d, VIRTIO_PCI_COMMON_STATUS,
		  common_rd(d, VIRTIO_PCI_COMMON_STATUS, 1) |
		  VIRTIO_CONFIG_S_DRIVER_OK, 1);
}

void *gp(struct drv *d, u64 gpa, u64 len)
{
	void *p = guest_ptr(&d->mem, gpa, len);

	if (!p)
		abort();
	return p;
}

void set_desc(struct drv *d, u64 table, u16 i, u64 addr, u32 len,
	      u16 flags, u16 next)
{
	u8 *p = gp(d, table + 16ull * i, 16);

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

void drv_kick(struct drv *d, u16 q, u16 head)
{
	u8 *avail = gp(d, d->avail, 6 + 2 * d->qsize);
	u16 slot = d->avail_idx % d->qsize;

	memcpy(avail + 4 + 2 * slot, &head, 2);
	d->avail_idx++;
	memcpy(avail + 2, &d->avail_idx, 2);
	machine_mmio_write(d->m, d->notify + q * d->notify_mult, q, 2);
}

u16 used_idx(struct drv *d)
{
	u16 v;

	memcpy(&v, gp(d, d->used + 2, 2), 2);
	return v;
}

void used_elem(struct drv *d, u16 i, u32 *id, u32 *len)
{
	u8 *p = gp(d, d->used + 4 + 8 * (i % d->qsize), 8);

	memcpy(id, p, 4);
	memcpy(len, p + 4, 4);
}

u8 isr_read(struct drv *d)
{
	return machine_mmio_read(d->m, d->isr, 1);
}
