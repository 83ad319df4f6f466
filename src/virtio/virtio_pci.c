/*
 * The virtio 1.x PCI transport ("modern" virtio-pci, virtio spec 4.1).
 *
 * Each device is a PCI function 1af4:1040+type, revision 1, with one 16 KiB
 * memory BAR that holds four windows, found through vendor capabilities in
 * configuration space:
 *
 *	0x0000	common configuration (features, status, queue registers)
 *	0x1000	ISR status: reading it acknowledges the interrupt
 *	0x2000	the device's own configuration (disk capacity, ...)
 *	0x3000	queue notifications, 4 bytes per queue
 *
 * plus the PCI configuration access capability the spec asks for, a window
 * onto the BAR through configuration space.  There is no local APIC, so no
 * MSI-X: the interrupt is INTx, held while any ISR bit is set.
 *
 * The common configuration is served from a snapshot of its 56 bytes: a
 * read takes bytes from it, a write patches it and then acts on every
 * field the write touched, so any access width behaves sensibly.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "virtio_dev.h"

#define BAR_SIZE	0x4000
#define COMMON_OFF	0x0000
#define COMMON_LEN	0x38
#define ISR_OFF		0x1000
#define DEVICE_OFF	0x2000
#define NOTIFY_OFF	0x3000
#define NOTIFY_MULT	4
#define REGION_LEN	0x1000

/* The transport's own feature bits, offered to every driver. */
#define TRANSPORT_FEATURES ((1ull << VIRTIO_F_VERSION_1) |		\
			    (1ull << VIRTIO_RING_F_INDIRECT_DESC) |	\
			    (1ull << VIRTIO_RING_F_EVENT_IDX))

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *opaque;
	struct machine *m;
	struct pci_dev *pci;
	u8 *config;
	u64 offered, accepted;
	u32 dfselect, gfselect;
	u8 status, generation, isr;
	u16 queue_sel;
	u8 cfg_cap;		/* offset of the PCI access capability */
	struct virtqueue **vqs;
};

void *virtio_opaque(struct virtio_dev *vd)
{
	return vd->opaque;
}

struct machine *virtio_machine(struct virtio_dev *vd)
{
	return vd->m;
}

struct pci_dev *virtio_pci_dev(struct virtio_dev *vd)
{
	return vd->pci;
}

struct virtqueue *virtio_vq(struct virtio_dev *vd, unsigned int n)
{
	return n < vd->ops->nr_queues ? vd->vqs[n] : NULL;
}

bool virtio_has_feature(struct virtio_dev *vd, unsigned int bit)
{
	return bit < 64 && (vd->accepted >> bit) & 1;
}

bool virtio_driver_ok(struct virtio_dev *vd)
{
	return vd->status & VIRTIO_CONFIG_S_DRIVER_OK;
}

void virtio_interrupt(struct virtio_dev *vd, u8 isr_bits)
{
	vd->isr |= isr_bits;
	pci_set_irq(vd->pci, 1);
}

void virtio_config_changed(struct virtio_dev *vd)
{
	vd->generation++;
	if (virtio_driver_ok(vd))
		virtio_interrupt(vd, VIRTIO_ISR_CONFIG);
}

void virtio_kill(struct virtio_dev *vd, const char *fmt, ...)
{
	char reason[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	guest_kill(vd->m, "%s: %s", vd->ops->name, reason);
}

/* The driver wrote 0 to the status: back to the state after power-on. */
static void reset(struct virtio_dev *vd)
{
	if (vd->ops->reset)
		vd->ops->reset(vd);
	for (unsigned int i = 0; i < vd->ops->nr_queues; i++)
		vq_reset(vd->vqs[i]);
	vd->status = 0;
	vd->accepted = 0;
	vd->dfselect = vd->gfselect = 0;
	vd->queue_sel = 0;
	vd->isr = 0;
	pci_set_irq(vd->pci, 0);
}

/*V:110
 * The driver's side of the handshake goes through the status byte:
 * ACKNOWLEDGE, DRIVER, then the features it accepts, then FEATURES_OK,
 * which it reads back to learn whether we agreed, then DRIVER_OK.  We
 * agree only to a subset of what we offered that includes VERSION_1; if
 * not, FEATURES_OK does not stick, and the driver gives up cleanly.  A
 * DRIVER_OK without FEATURES_OK sets NEEDS_RESET instead.  Writing 0
 * resets the device: every queue forgotten, the interrupt line lowered.
 * Nothing a driver writes here can harm the host, so nothing here kills
 * the guest.
 */
static void set_status(struct virtio_dev *vd, u8 new)
{
	u8 old = vd->status;

	if (!new) {
		reset(vd);
		return;
	}
	/* FEATURES_OK sticks only for a subset of ours with VERSION_1:
	 * the driver reads it back to learn whether we agreed. */
	if ((new & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(old & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    (!(vd->accepted & (1ull << VIRTIO_F_VERSION_1)) ||
	     (vd->accepted & ~vd->offered)))
		new &= ~VIRTIO_CONFIG_S_FEATURES_OK;
	if ((new & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(new & VIRTIO_CONFIG_S_FEATURES_OK)) {
		new &= ~VIRTIO_CONFIG_S_DRIVER_OK;
		new |= VIRTIO_CONFIG_S_NEEDS_RESET;
	}
	vd->status = new;
	if ((new & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(old & VIRTIO_CONFIG_S_DRIVER_OK)) {
		/* Buffers made available before DRIVER_OK wait until now. */
		for (unsigned int i = 0; i < vd->ops->nr_queues; i++)
			if (vq_ready(vd->vqs[i]))
				vd->ops->notify(vd, vd->vqs[i]);
	}
}
/* Until DRIVER_OK no notify reaches a device (V:125), so the first
 * buffers are looked at here. :*/

static struct virtqueue *selected_vq(struct virtio_dev *vd)
{
	return virtio_vq(vd, vd->queue_sel);
}

static void common_snapshot(struct virtio_dev *vd, u8 *s)
{
	struct virtqueue *vq = selected_vq(vd);
	struct vq_regs *r;

	memset(s, 0, COMMON_LEN);
	put_le32(s + VIRTIO_PCI_COMMON_DFSELECT, vd->dfselect);
	if (vd->dfselect < 2)
		put_le32(s + VIRTIO_PCI_COMMON_DF,
		      vd->offered >> (32 * vd->dfselect));
	put_le32(s + VIRTIO_PCI_COMMON_GFSELECT, vd->gfselect);
	if (vd->gfselect < 2)
		put_le32(s + VIRTIO_PCI_COMMON_GF,
		      vd->accepted >> (32 * vd->gfselect));
	put_le16(s + VIRTIO_PCI_COMMON_MSIX, VIRTIO_MSI_NO_VECTOR);
	put_le16(s + VIRTIO_PCI_COMMON_NUMQ, vd->ops->nr_queues);
	s[VIRTIO_PCI_COMMON_STATUS] = vd->status;
	s[VIRTIO_PCI_COMMON_CFGGENERATION] = vd->generation;
	put_le16(s + VIRTIO_PCI_COMMON_Q_SELECT, vd->queue_sel);
	if (!vq)
		return;	/* size 0: no such queue */
	r = vq_regs(vq);
	put_le16(s + VIRTIO_PCI_COMMON_Q_SIZE, r->size);
	put_le16(s + VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR);
	put_le16(s + VIRTIO_PCI_COMMON_Q_ENABLE, vq_ready(vq));
	put_le16(s + VIRTIO_PCI_COMMON_Q_NOFF, vd->queue_sel);
	put_le32(s + VIRTIO_PCI_COMMON_Q_DESCLO, r->desc);
	put_le32(s + VIRTIO_PCI_COMMON_Q_DESCHI, r->desc >> 32);
	put_le32(s + VIRTIO_PCI_COMMON_Q_AVAILLO, r->avail);
	put_le32(s + VIRTIO_PCI_COMMON_Q_AVAILHI, r->avail >> 32);
	put_le32(s + VIRTIO_PCI_COMMON_Q_USEDLO, r->used);
	put_le32(s + VIRTIO_PCI_COMMON_Q_USEDHI, r->used >> 32);
}

static void set_half(u64 *v, int hi, u32 half)
{
	int shift = hi ? 32 : 0;

	*v = (*v & ~(0xffffffffull << shift)) | (u64)half << shift;
}

/* A queue register write; ignored once the queue runs, as the spec
 * forbids the driver to make it then. */
static void queue_field(struct virtio_dev *vd, u32 field, const u8 *s)
{
	struct virtqueue *vq = selected_vq(vd);
	struct vq_regs *r;

	if (!vq || vq_ready(vq))
		return;
	r = vq_regs(vq);
	switch (field) {
	case VIRTIO_PCI_COMMON_Q_SIZE:
		r->size = s[field] | s[field + 1] << 8;
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		if (s[field] & 1)
			vq_enable(vq);
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
	case VIRTIO_PCI_COMMON_Q_DESCHI:
		set_half(&r->desc, field == VIRTIO_PCI_COMMON_Q_DESCHI,
			 get_le32(s + field));
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
		set_half(&r->avail, field == VIRTIO_PCI_COMMON_Q_AVAILHI,
			 get_le32(s + field));
		break;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		set_half(&r->used, field == VIRTIO_PCI_COMMON_Q_USEDHI,
			 get_le32(s + field));
		break;
	}
}

static void common_field(struct virtio_dev *vd, u32 field, const u8 *s)
{
	switch (field) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		vd->dfselect = get_le32(s + field);
		break;
	case VIRTIO_PCI_COMMON_GFSELECT:
		vd->gfselect = get_le32(s + field);
		break;
	case VIRTIO_PCI_COMMON_GF:
		if (vd->gfselect < 2 &&
		    !(vd->status & VIRTIO_CONFIG_S_FEATURES_OK))
			set_half(&vd->accepted, vd->gfselect, get_le32(s + field));
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		set_status(vd, s[field]);
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		vd->queue_sel = s[field] | s[field + 1] << 8;
		break;
	default:
		queue_field(vd, field, s);
		break;
	}
}

/* Start and width of each writable field of the common configuration. */
static const u8 common_fields[][2] = {
	{ VIRTIO_PCI_COMMON_DFSELECT, 4 }, { VIRTIO_PCI_COMMON_GFSELECT, 4 },
	{ VIRTIO_PCI_COMMON_GF, 4 }, { VIRTIO_PCI_COMMON_STATUS, 1 },
	{ VIRTIO_PCI_COMMON_Q_SELECT, 2 }, { VIRTIO_PCI_COMMON_Q_SIZE, 2 },
	{ VIRTIO_PCI_COMMON_Q_DESCLO, 4 }, { VIRTIO_PCI_COMMON_Q_DESCHI, 4 },
	{ VIRTIO_PCI_COMMON_Q_AVAILLO, 4 }, { VIRTIO_PCI_COMMON_Q_AVAILHI, 4 },
	{ VIRTIO_PCI_COMMON_Q_USEDLO, 4 }, { VIRTIO_PCI_COMMON_Q_USEDHI, 4 },
	/* Enable last: a dword write of size and enable sets the size
	 * first (the MSI-X vector between them is read-only here). */
	{ VIRTIO_PCI_COMMON_Q_ENABLE, 2 },
};

static void common_write(struct virtio_dev *vd, u32 off, u32 val, int size)
{
	u8 s[COMMON_LEN];

	common_snapshot(vd, s);
	for (int i = 0; i < size && off + i < COMMON_LEN; i++)
		s[off + i] = val >> (8 * i);
	for (unsigned int i = 0; i < ARRAY_SIZE(common_fields); i++) {
		u32 f = common_fields[i][0], len = common_fields[i][1];

		if (off < f + len && f < off + size)
			common_field(vd, f, s);
	}
}

static u32 bytes_read(const u8 *s, u32 len, u32 off, int size)
{
	u32 val = 0;

	for (int i = 0; i < size; i++)
		if (off + i < len)
			val |= (u32)s[off + i] << (8 * i);
	return val;
}

static u32 bar_read(void *opaque, u32 off, int size)
{
	struct virtio_dev *vd = opaque;
	u8 s[COMMON_LEN];
	u32 val;

	if (off < COMMON_OFF + REGION_LEN) {
		common_snapshot(vd, s);
		return bytes_read(s, COMMON_LEN, off - COMMON_OFF, size);
	}
	if (off < ISR_OFF + REGION_LEN) {
		if (off != ISR_OFF)
			return 0;
		val = vd->isr;
		vd->isr = 0;
		pci_set_irq(vd->pci, 0);
		return val;
	}
	if (off < DEVICE_OFF + REGION_LEN)
		return bytes_read(vd->config, vd->ops->config_len,
				  off - DEVICE_OFF, size);
	return 0;
}

/*V:125
 * The kick.  A driver that has made buffers available writes the queue's
 * number into the notify window of the BAR (0x3000 + 4 * queue); that
 * store is an ordinary mov to an address above RAM, which the CPU hands
 * to the machine's bus (M:130), which finds this BAR's region and calls
 * bar_write() below, which sends a store in the notify window here.  A
 * kick for a queue that does not exist or is not
 * enabled, or before DRIVER_OK, is ignored, as hardware would.
 */
static void notify(struct virtio_dev *vd, u32 off)
{
	struct virtqueue *vq = virtio_vq(vd, off / NOTIFY_MULT);

	if (vq && vq_ready(vq) && virtio_driver_ok(vd)) {
		vq_kicked(vq);
		vd->ops->notify(vd, vq);
	}
}
/* The device's notify runs on the run loop's thread, inside the guest's
 * store instruction: it must not block, and blk.c hands slow work to a
 * thread (V:200). :*/

static void bar_write(void *opaque, u32 off, u32 val, int size)
{
	struct virtio_dev *vd = opaque;

	if (off < COMMON_OFF + REGION_LEN) {
		common_write(vd, off - COMMON_OFF, val, size);
	} else if (off >= DEVICE_OFF && off < DEVICE_OFF + REGION_LEN) {
		off -= DEVICE_OFF;
		if (!vd->ops->config_write || off >= vd->ops->config_len)
			return;
		for (int i = 0; i < size && off + i < vd->ops->config_len; i++)
			vd->config[off + i] = val >> (8 * i);
		vd->ops->config_write(vd, off, size);
	} else if (off >= NOTIFY_OFF) {
		notify(vd, off - NOTIFY_OFF);
	}
}

/*
 * The PCI configuration access capability: the driver sets bar, offset and
 * length in the capability, then reads or writes its data field, and that
 * becomes an access to the BAR.
 */
static bool cfg_cap_access(struct virtio_dev *vd, u32 off, int size,
			   u32 *boff, int *blen)
{
	const u8 *cfg = pci_config(vd->pci);
	u32 data = vd->cfg_cap + offsetof(struct virtio_pci_cfg_cap,
					  pci_cfg_data);
	u32 len = get_le32(cfg + vd->cfg_cap + VIRTIO_PCI_CAP_LENGTH);

	if (off >= data + 4 || off + size <= data)
		return false;
	*boff = get_le32(cfg + vd->cfg_cap + VIRTIO_PCI_CAP_OFFSET);
	*blen = len;
	return cfg[vd->cfg_cap + VIRTIO_PCI_CAP_BAR] == 0 &&
	       (len == 1 || len == 2 || len == 4) && !(*boff & (len - 1)) &&
	       *boff < BAR_SIZE;
}

/* The pci_cfg_data window of the PCI access capability. */
static u8 *cfg_cap_data(struct virtio_dev *vd)
{
	return pci_config(vd->pci) + vd->cfg_cap +
	       offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
}

static bool cfg_read_hook(void *opaque, u32 off, int size, u32 *val)
{
	struct virtio_dev *vd = opaque;
	u8 *data = cfg_cap_data(vd);
	u32 boff;
	int blen;

	(void)val;
	if (cfg_cap_access(vd, off, size, &boff, &blen))
		put_le32(data, bar_read(vd, boff, blen));
	return false;	/* the bytes are in place: read them as usual */
}

static void cfg_write_hook(void *opaque, u32 off, u32 val, int size)
{
	struct virtio_dev *vd = opaque;
	u8 *data = cfg_cap_data(vd);
	u32 boff;
	int blen;

	(void)val;
	if (cfg_cap_access(vd, off, size, &boff, &blen))
		bar_write(vd, boff, get_le32(data), blen);
}

static const struct pci_cfg_hooks cfg_hooks = {
	.cfg_read = cfg_read_hook,
	.cfg_write = cfg_write_hook,
};

static u8 add_cap(struct virtio_dev *vd, u8 type, u32 off, u32 len,
		  u8 cap_len, u8 wr_from, u32 extra)
{
	u8 body[20] = { PCI_CAP_ID_VNDR, 0, cap_len, type, 0 };

	put_le32(body + VIRTIO_PCI_CAP_OFFSET, off);
	put_le32(body + VIRTIO_PCI_CAP_LENGTH, len);
	put_le32(body + 16, extra);
	return pci_add_cap(vd->pci, body, cap_len, wr_from);
}

static void add_caps(struct virtio_dev *vd)
{
	u8 plain = sizeof(struct virtio_pci_cap);
	u8 ncap = sizeof(struct virtio_pci_notify_cap);
	u8 ccap = sizeof(struct virtio_pci_cfg_cap);

	add_cap(vd, VIRTIO_PCI_CAP_COMMON_CFG, COMMON_OFF, COMMON_LEN, plain,
		plain, 0);
	add_cap(vd, VIRTIO_PCI_CAP_NOTIFY_CFG, NOTIFY_OFF,
		NOTIFY_MULT * vd->ops->nr_queues, ncap, ncap, NOTIFY_MULT);
	add_cap(vd, VIRTIO_PCI_CAP_ISR_CFG, ISR_OFF, 1, plain, plain, 0);
	if (vd->ops->config_len)
		add_cap(vd, VIRTIO_PCI_CAP_DEVICE_CFG, DEVICE_OFF,
			vd->ops->config_len, plain, plain, 0);
	/* bar, offset, length and data are the driver's to write. */
	vd->cfg_cap = add_cap(vd, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, ccap,
			      VIRTIO_PCI_CAP_BAR, 0);
}

static void free_dev(void *opaque)
{
	struct virtio_dev *vd = opaque;
	/* The ops may live in the device's own state (virtio-net's do):
	 * nothing of them is touched after ops->free. */
	unsigned int nr_queues = vd->ops->nr_queues;
	const char *name = vd->ops->name;	/* a literal */

	if (vd->ops->free)
		vd->ops->free(vd);
	for (unsigned int i = 0; i < nr_queues; i++) {
		vq_report(vd->vqs[i], name);
		vq_free(vd->vqs[i]);
	}
	free(vd->vqs);
	free(vd);
}

/*V:100
 * Virtio is the original lguest's I/O model grown up: the guest hands the
 * device buffers by their physical addresses in a ring, the device uses
 * them and says how many bytes it wrote, and an interrupt tells the guest.
 * Here a device model becomes a PCI function the guest's virtio-pci driver
 * finds: vendor 1af4, device 1040 plus the virtio type, one 16 KiB memory
 * BAR with the four windows the capabilities point at, and INTA.  The
 * model itself (blk.c, net.c, rng.c, console.c) fills in a struct
 * virtio_dev_ops, its features, queues and config, and never sees PCI; its
 * queues are made here, all the same code (V:120 on).
 */
struct virtio_dev *virtio_pci_add(struct pci_bus *bus,
				  const struct virtio_dev_ops *ops,
				  void *opaque, u8 *config)
{
	struct virtio_dev *vd = calloc(1, sizeof(*vd));
	struct pci_dev_info info = {
		.vendor = 0x1af4, .device = 0x1040 + ops->type,
		.subsys_vendor = 0x1af4, .subsys_id = 0x1040 + ops->type,
		.revision = 1, .class_code = ops->class_code, .intx = true,
		.opaque = vd, .hooks = &cfg_hooks, .free = free_dev,
		.bars[0] = { BAR_SIZE, bar_read, bar_write },
	};

	if (!vd || ops->config_len > REGION_LEN ||
	    ops->nr_queues > REGION_LEN / NOTIFY_MULT)
		abort();
	vd->ops = ops;
	vd->opaque = opaque;
	vd->m = pci_bus_machine(bus);
	vd->config = config;
	vd->offered = ops->features | TRANSPORT_FEATURES;
	vd->vqs = calloc(ops->nr_queues, sizeof(*vd->vqs));
	if (!vd->vqs)
		abort();
	for (unsigned int i = 0; i < ops->nr_queues; i++)
		vd->vqs[i] = vq_new(vd, i, ops->queue_max);
	vd->pci = pci_add_device(bus, &info);
	add_caps(vd);
	return vd;
}
/* Every device offers the transport's features on top of its own:
 * VERSION_1 (we speak only virtio 1.x, so a driver that does not accept
 * it has FEATURES_OK refused, V:110), indirect descriptors and the event
 * index. :*/
