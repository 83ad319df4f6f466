/*
 * The PCI host bridge and the configuration space of every function.
 *
 * Bus 0 only, one function per slot, no bridges: the smallest bus a PC
 * kernel accepts.  The host bridge at 00:00.0 calls itself an Intel 440FX
 * (8086:1237, class 0x0600), which is what makes Linux's conf1 sanity check
 * pass without a BIOS.  Each function keeps its 256 configuration bytes and
 * a mask of the bits the guest may change; the few registers with side
 * effects (Command, the BARs) are handled after the bytes are stored, so a
 * byte, word or dword access behaves the same way.
 *
 * Firmware's jobs are done when a device is added: BARs get addresses in
 * the MMIO window above RAM, memory decoding is on, and INTA is put on
 * one of PIRQA-D by slot (machine lines 16-19: IO-APIC pins 16-19, and
 * the PIC lines 11, 10, 9, 5 a PC leaves free for PCI, as a PIIX routes
 * them, made level-triggered in the PIC's ELCR; D:300).  Lines are
 * wire-ORed: a line is high while any function on it holds its INTx, so
 * sharing a line (a fifth device) works as on a PC.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pci_regs.h>

#include "pci.h"

#define PCI_MAX_SLOTS 32
#define CFG_ADDR_PORT 0xcf8
#define CFG_DATA_PORT 0xcfc
#define RESET_CONTROL_PORT 0xcf9
#define ELCR_PORT 0x4d0

/* The 8259 lines of PIRQA-D; 0 (PIT), 1/12 (i8042), 2 (cascade), 4 (UART)
 * and 8 (RTC) are the platform's. */
const int pci_pirq_isa[PCI_NR_PIRQ] = { 11, 10, 9, 5 };

struct pci_bar {
	struct pci_bar_info info;
	int mmio_id;		/* machine's region id, -1 when not decoded */
	u32 mapped_at;
};

struct pci_dev {
	struct pci_bus *bus;
	int slot;
	int irq;		/* machine line (a PIRQ), -1 without INTx */
	bool irq_level;		/* what the device asks for */
	bool irq_asserted;	/* what the line sees (after INTx disable) */
	void *opaque;
	const struct pci_cfg_hooks *hooks;
	void (*free)(void *opaque);
	struct pci_bar bars[PCI_NUM_BARS];
	u8 cap_end;		/* next free byte for a capability */
	u8 last_cap;		/* offset of the last capability, 0: none */
	u8 cfg[256];
	u8 wmask[256];
};

struct pci_bus {
	struct machine *m;
	u32 addr;		/* the 0xcf8 register */
	u32 next_mmio;		/* where the next BAR goes */
	int nr_slots;
	struct pci_dev *slots[PCI_MAX_SLOTS];
	int line_users[MACHINE_IRQS];	/* functions holding each line */
};

/* The line's level follows the number of functions asserting it. */
static void update_intx(struct pci_dev *d)
{
	struct pci_bus *bus = d->bus;
	bool on = d->irq_level &&
		  !(get_le16(d->cfg + PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE);
	u16 status = get_le16(d->cfg + PCI_STATUS);

	status &= ~PCI_STATUS_INTERRUPT;
	if (d->irq_level)
		status |= PCI_STATUS_INTERRUPT;
	put_le16(d->cfg + PCI_STATUS, status);

	if (d->irq < 0 || on == d->irq_asserted)
		return;
	d->irq_asserted = on;
	if (on) {
		if (bus->line_users[d->irq]++ == 0)
			machine_set_irq(bus->m, d->irq, 1);
	} else {
		if (--bus->line_users[d->irq] == 0)
			machine_set_irq(bus->m, d->irq, 0);
	}
}

void pci_set_irq(struct pci_dev *d, int level)
{
	d->irq_level = level != 0;
	update_intx(d);
}

static u32 bar_guest_addr(const struct pci_dev *d, int n)
{
	return get_le32(d->cfg + PCI_BASE_ADDRESS_0 + 4 * n) &
	       PCI_BASE_ADDRESS_MEM_MASK;
}

/* Would BAR n of d, placed at base, collide with another decoded BAR? */
static bool bar_overlaps(const struct pci_dev *d, int n, u32 base)
{
	const struct pci_bus *bus = d->bus;
	u64 end = (u64)base + d->bars[n].info.size;

	for (int s = 0; s < bus->nr_slots; s++) {
		const struct pci_dev *o = bus->slots[s];

		for (int i = 0; i < PCI_NUM_BARS; i++) {
			const struct pci_bar *b = &o->bars[i];

			if ((o == d && i == n) || b->mmio_id < 0)
				continue;
			if (base < (u64)b->mapped_at + b->info.size &&
			    b->mapped_at < end)
				return true;
		}
	}
	return false;
}

/*
 * Decode BAR n where the guest put it, or stop decoding it.  A BAR is
 * decoded while memory space is enabled and its address lies wholly in the
 * window; a BAR being sized (all ones written) is far above the window and
 * so is not decoded, and one that would overlap another BAR is left off,
 * which is as undefined as on real hardware but harmless.
 */
static void update_bar(struct pci_dev *d, int n)
{
	struct pci_bar *b = &d->bars[n];
	struct machine *m = d->bus->m;
	u32 base = bar_guest_addr(d, n);
	bool want = (get_le16(d->cfg + PCI_COMMAND) & PCI_COMMAND_MEMORY) &&
		    base >= GUEST_MMIO_BASE &&
		    (u64)base + b->info.size <= GUEST_MMIO_END &&
		    !bar_overlaps(d, n, base);

	if (!b->info.size)
		return;
	if (!want) {
		if (b->mmio_id >= 0) {
			machine_remove_mmio(m, b->mmio_id);
			b->mmio_id = -1;
			verbose("pci %02x.0: BAR%d off", d->slot, n);
		}
		return;
	}
	if (b->mmio_id >= 0) {
		if (b->mapped_at != base) {
			machine_move_mmio(m, b->mmio_id, base);
			b->mapped_at = base;
			verbose("pci %02x.0: BAR%d moved to %#x", d->slot, n,
				base);
		}
		return;
	}
	b->mmio_id = machine_add_mmio(m, base, b->info.size, d->opaque,
				      b->info.rd, b->info.wr);
	if (b->mmio_id >= 0)
		b->mapped_at = base;
	else
		verbose("pci %02x.0: BAR%d at %#x refused", d->slot, n, base);
}

static void update_bars(struct pci_dev *d)
{
	for (int i = 0; i < PCI_NUM_BARS; i++)
		update_bar(d, i);
}

static void cfg_write(struct pci_dev *d, u32 off, u32 val, int size)
{
	for (int i = 0; i < size; i++) {
		u8 mask = d->wmask[off + i];
		u8 byte = val >> (8 * i);

		d->cfg[off + i] = (d->cfg[off + i] & ~mask) | (byte & mask);
	}
	/* The BARs: low bits read back as the size mask (and type 0). */
	for (int n = 0; n < PCI_NUM_BARS; n++) {
		u32 reg = PCI_BASE_ADDRESS_0 + 4 * n;
		u32 bar_size = d->bars[n].info.size;

		if (!bar_size || off >= reg + 4 || off + size <= reg)
			continue;
		put_le32(d->cfg + reg, get_le32(d->cfg + reg) & ~(bar_size - 1));
		update_bar(d, n);
	}
	if (off < PCI_COMMAND + 2 && off + size > PCI_COMMAND) {
		update_bars(d);
		update_intx(d);
	}
	if (d->hooks && d->hooks->cfg_write)
		d->hooks->cfg_write(d->opaque, off, val, size);
}

static u32 cfg_read(struct pci_dev *d, u32 off, int size)
{
	u32 val = 0;

	if (d->hooks && d->hooks->cfg_read &&
	    d->hooks->cfg_read(d->opaque, off, size, &val))
		return val;
	for (int i = 0; i < size; i++)
		val |= (u32)d->cfg[off + i] << (8 * i);
	return val;
}

/* The function the 0xcf8 register points at, or NULL (reads all ones). */
static struct pci_dev *addressed_dev(struct pci_bus *bus)
{
	u32 a = bus->addr;
	u32 busnr = (a >> 16) & 0xff, slot = (a >> 11) & 0x1f,
	    fn = (a >> 8) & 7;

	if (!(a & 0x80000000u) || busnr || fn || (int)slot >= bus->nr_slots)
		return NULL;
	return bus->slots[slot];
}

u32 pci_io_read(struct pci_bus *bus, u16 port, int size)
{
	u32 ones = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
	struct pci_dev *d;
	u32 off;

	if (port < CFG_DATA_PORT) {
		/* Only a dword access at 0xcf8 is the address register. */
		return port == CFG_ADDR_PORT && size == 4 ? bus->addr : ones;
	}
	d = addressed_dev(bus);
	off = (bus->addr & 0xfc) + (port - CFG_DATA_PORT);
	if (!d || off + size > 256)
		return ones;
	return cfg_read(d, off, size);
}

void pci_io_write(struct pci_bus *bus, u16 port, u32 val, int size)
{
	struct pci_dev *d;
	u32 off;

	if (port < CFG_DATA_PORT) {
		/* Byte writes to 0xcf8-0xcfb are mechanism #2's registers
		 * (Linux probes them); we have none, except the PIIX's
		 * reset control at 0xcf9 (reboot=pci): a CPU reset. */
		if (port == CFG_ADDR_PORT && size == 4)
			bus->addr = val & 0x80fffffcu;
		else if (port == RESET_CONTROL_PORT && size == 1 && (val & 4))
			machine_reset(bus->m, "PCI reset control 0xcf9");
		return;
	}
	d = addressed_dev(bus);
	off = (bus->addr & 0xfc) + (port - CFG_DATA_PORT);
	if (d && off + size <= 256)
		cfg_write(d, off, val, size);
}

static u32 io_read(void *dev, u16 port, int size)
{
	return pci_io_read(dev, port, size);
}

static void io_write(void *dev, u16 port, u32 val, int size)
{
	pci_io_write(dev, port, val, size);
}

static struct pci_dev *new_dev(struct pci_bus *bus,
			       const struct pci_dev_info *info)
{
	struct pci_dev *d;

	if (bus->nr_slots >= PCI_MAX_SLOTS) {
		fprintf(stderr, "lguest: too many PCI devices\n");
		abort();
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		abort();
	d->bus = bus;
	d->slot = bus->nr_slots;
	d->irq = -1;
	d->opaque = info->opaque;
	d->hooks = info->hooks;
	d->free = info->free;
	d->cap_end = 0x40;
	put_le16(d->cfg + PCI_VENDOR_ID, info->vendor);
	put_le16(d->cfg + PCI_DEVICE_ID, info->device);
	d->cfg[PCI_REVISION_ID] = info->revision;
	d->cfg[PCI_CLASS_PROG] = info->class_code;
	put_le16(d->cfg + PCI_CLASS_DEVICE, info->class_code >> 8);
	put_le16(d->cfg + PCI_SUBSYSTEM_VENDOR_ID, info->subsys_vendor);
	put_le16(d->cfg + PCI_SUBSYSTEM_ID, info->subsys_id);
	put_le16(d->wmask + PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY |
	      PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | PCI_COMMAND_SERR |
	      PCI_COMMAND_INTX_DISABLE);
	d->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	d->wmask[PCI_LATENCY_TIMER] = 0xff;
	d->wmask[PCI_INTERRUPT_LINE] = 0xff;
	for (int i = 0; i < PCI_NUM_BARS; i++)
		d->bars[i].mmio_id = -1;
	bus->slots[bus->nr_slots++] = d;
	return d;
}

/* Firmware's part: an aligned place in the window for each BAR. */
static void place_bars(struct pci_dev *d, const struct pci_dev_info *info)
{
	struct pci_bus *bus = d->bus;

	for (int i = 0; i < PCI_NUM_BARS; i++) {
		u32 size = info->bars[i].size;
		u64 base;

		if (!size)
			continue;
		if (size < 16 || (size & (size - 1)))
			abort();	/* a device model's bug */
		base = ((u64)bus->next_mmio + size - 1) & ~(u64)(size - 1);
		if (base + size > GUEST_MMIO_END) {
			fprintf(stderr, "lguest: PCI MMIO window full\n");
			abort();
		}
		d->bars[i].info = info->bars[i];
		put_le32(d->wmask + PCI_BASE_ADDRESS_0 + 4 * i, 0xffffffffu);
		put_le32(d->cfg + PCI_BASE_ADDRESS_0 + 4 * i, base);
		bus->next_mmio = base + size;
	}
}

/* Firmware's part: a line shared by PCI functions is level-triggered, set
 * in the ELCR (0x4d0: IRQ 0-7, 0x4d1: IRQ 8-15) as a BIOS would. */
static void make_level_triggered(struct machine *m, int irq)
{
	u16 port = ELCR_PORT + irq / 8;

	machine_io_out(m, port, machine_io_in(m, port, 1) | 1u << (irq % 8),
		       1);
}

/*D:200
 * A PC kernel expects firmware to have set the PCI bus up before it runs,
 * and there is no firmware here, so adding a device does firmware's jobs
 * at once.  Each BAR gets an address in the MMIO window above RAM
 * (0xe0000000 up, which the e820 map leaves as a gap), aligned to its
 * size, and memory decoding is switched on.  INTA is put by slot on one
 * of PIRQA-D, which reach IO-APIC pins 16-19 and the PIC lines 11, 10, 9
 * and 5, the lines a PC leaves free for PCI, the way a PIIX routes them;
 * the PIC line is written into the Interrupt Line register, which is
 * where Linux without ACPI looks for it, and made level-triggered in the
 * ELCR (D:110), because PCI lines are shared and held.  With ACPI, Linux
 * reads the routing from the DSDT's _PRT instead (D:360).  A fifth device
 * shares PIRQA with the first, as on a PC.
 * Slots are given out in the order devices are added: the host bridge is
 * 00:00.0, then the user's devices in command-line order (L:130).
 */
struct pci_dev *pci_add_device(struct pci_bus *bus,
			       const struct pci_dev_info *info)
{
	struct pci_dev *d = new_dev(bus, info);

	place_bars(d, info);
	if (info->intx) {
		int pirq = (d->slot - 1) % PCI_NR_PIRQ;

		d->irq = PCI_IRQ_BASE + pirq;
		d->cfg[PCI_INTERRUPT_PIN] = 1;
		d->cfg[PCI_INTERRUPT_LINE] = pci_pirq_isa[pirq];
		make_level_triggered(bus->m, pci_pirq_isa[pirq]);
	}
	put_le16(d->cfg + PCI_COMMAND, PCI_COMMAND_MEMORY);
	update_bars(d);
	verbose("pci 00:%02x.0: %04x:%04x, BAR0 %#x, irq %d", d->slot,
		info->vendor, info->device, pci_bar_addr(d, 0), d->irq);
	return d;
}
/* Linux may move a BAR later (it rarely does); the Command and BAR writes
 * that would move it are handled in cfg_write(), and the machine's MMIO
 * region follows. :*/

u8 pci_add_cap(struct pci_dev *d, const u8 *body, u8 len, u8 wr_from)
{
	u8 off = d->cap_end;

	if (len < 2 || off + len > 256 || wr_from > len)
		abort();	/* a device model's bug */
	memcpy(d->cfg + off, body, len);
	d->cfg[off + 1] = 0;
	memset(d->wmask + off + wr_from, 0xff, len - wr_from);
	if (d->last_cap)
		d->cfg[d->last_cap + 1] = off;
	else
		d->cfg[PCI_CAPABILITY_LIST] = off;
	put_le16(d->cfg + PCI_STATUS,
	      get_le16(d->cfg + PCI_STATUS) | PCI_STATUS_CAP_LIST);
	d->last_cap = off;
	d->cap_end = (off + len + 3) & ~3;
	return off;
}

u8 *pci_config(struct pci_dev *d)
{
	return d->cfg;
}

u32 pci_bar_read(struct pci_dev *d, int bar, u32 off, int size)
{
	const struct pci_bar_info *b;

	if (bar < 0 || bar >= PCI_NUM_BARS)
		return 0xffffffffu;
	b = &d->bars[bar].info;
	if (!b->rd || (u64)off + size > b->size)
		return 0xffffffffu;
	return b->rd(d->opaque, off, size);
}

void pci_bar_write(struct pci_dev *d, int bar, u32 off, u32 val, int size)
{
	const struct pci_bar_info *b;

	if (bar < 0 || bar >= PCI_NUM_BARS)
		return;
	b = &d->bars[bar].info;
	if (b->wr && (u64)off + size <= b->size)
		b->wr(d->opaque, off, val, size);
}

int pci_dev_irq(struct pci_dev *d)
{
	return d->irq;
}

int pci_dev_slot(struct pci_dev *d)
{
	return d->slot;
}

u32 pci_bar_addr(struct pci_dev *d, int n)
{
	return d->bars[n].mmio_id >= 0 ? d->bars[n].mapped_at : 0;
}

struct machine *pci_bus_machine(struct pci_bus *bus)
{
	return bus->m;
}

struct pci_bus *pci_init(struct machine *m)
{
	struct pci_bus *bus = calloc(1, sizeof(*bus));
	struct pci_dev_info host = {
		.vendor = 0x8086, .device = 0x1237, .revision = 2,
		.class_code = 0x060000,
	};

	if (!bus)
		abort();
	bus->m = m;
	bus->next_mmio = GUEST_MMIO_BASE;
	new_dev(bus, &host);
	machine_add_ports(m, CFG_ADDR_PORT, 8, bus, io_read, io_write);
	return bus;
}

void pci_free(struct pci_bus *bus)
{
	for (int s = 0; s < bus->nr_slots; s++) {
		struct pci_dev *d = bus->slots[s];

		if (d->free)
			d->free(d->opaque);
		free(d);
	}
	free(bus);
}
