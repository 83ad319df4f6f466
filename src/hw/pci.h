/*
 * The PCI bus: a host bridge at 00:00.0 and the functions behind it.
 *
 * The guest finds its virtio devices the way it finds them on a PC: through
 * configuration mechanism #1 (an address written to port 0xcf8, data at
 * 0xcfc-0xcff).  There is no BIOS, so this file also does what firmware
 * would: it gives each memory BAR an address in the MMIO window above RAM,
 * enables memory decoding and writes the PIC line it routed INTA to into
 * the Interrupt Line register (the IO-APIC pin is in the ACPI tables).
 * Linux takes both as it finds them.
 *
 * A device (today only virtio, see src/virtio/) describes its identity and
 * its BARs in a struct pci_dev_info and gets back a struct pci_dev; it
 * raises its interrupt with pci_set_irq() and never sees port 0xcf8.
 */
#ifndef LGUEST_HW_PCI_H
#define LGUEST_HW_PCI_H

#include "../machine.h"
#include "../types.h"

struct pci_bus;
struct pci_dev;

#define PCI_NUM_BARS 6

/* INTA of slot s is on PIRQ (s - 1) % 4, machine line PCI_IRQ_BASE + pirq
 * (IO-APIC pin 16-19); firmware routed the PIRQs to these 8259 lines,
 * which is what the Interrupt Line register says. */
#define PCI_IRQ_BASE 16
#define PCI_NR_PIRQ 4
extern const int pci_pirq_isa[PCI_NR_PIRQ];

/* One 32-bit, non-prefetchable memory BAR.  size is a power of two of at
 * least 16 bytes (0: no BAR).  Offsets given to rd/wr are relative to the
 * BAR's start. */
struct pci_bar_info {
	u32 size;
	mmio_read_fn rd;
	mmio_write_fn wr;
};

/* Optional hooks into configuration space, for capabilities that do
 * something when touched (virtio's PCI configuration access window).
 * cfg_read returns true if it produced *val itself; cfg_write is called
 * after the generic write has updated the writable bytes. */
struct pci_cfg_hooks {
	bool (*cfg_read)(void *opaque, u32 off, int size, u32 *val);
	void (*cfg_write)(void *opaque, u32 off, u32 val, int size);
};

struct pci_dev_info {
	u16 vendor, device;
	u16 subsys_vendor, subsys_id;
	u8 revision;
	u32 class_code;		/* base class, sub class, prog-if: 24 bits */
	bool intx;		/* uses INTA (routed to a PIC line) */
	void *opaque;		/* handed to the BAR and hook callbacks */
	struct pci_bar_info bars[PCI_NUM_BARS];
	const struct pci_cfg_hooks *hooks;
	void (*free)(void *opaque);	/* called by pci_free() */
};

/* Makes the bus and its host bridge, and claims ports 0xcf8-0xcff.  Call
 * once per machine, before adding devices. */
struct pci_bus *pci_init(struct machine *m);
struct machine *pci_bus_machine(struct pci_bus *bus);
/* Frees the bus and every device on it (their free hooks first: a disk's
 * I/O thread stops).  Call just before machine_free(): the machine's port
 * and MMIO entries still point at them. */
void pci_free(struct pci_bus *bus);

/* Plugs a function into the next free slot (00:01.0, 00:02.0, ...).  Its
 * BARs are placed in the MMIO window and decoded at once.  Aborts when the
 * bus or the window is full: that is a launcher limit, not a guest error. */
struct pci_dev *pci_add_device(struct pci_bus *bus,
			       const struct pci_dev_info *info);

/* Appends a capability to the function's list.  body[0] is the capability
 * ID; body[1] (next) is filled in here.  The bytes from wr_from to len are
 * writable by the guest (wr_from == len: read-only).  Returns the
 * capability's offset in configuration space. */
u8 pci_add_cap(struct pci_dev *d, const u8 *body, u8 len, u8 wr_from);

/* Raw access to the function's configuration bytes (for hooks). */
u8 *pci_config(struct pci_dev *d);

/* Calls the function's BAR callbacks as a guest access would (for
 * capabilities that forward to a BAR).  Out-of-range access reads ones. */
u32 pci_bar_read(struct pci_dev *d, int bar, u32 off, int size);
void pci_bar_write(struct pci_dev *d, int bar, u32 off, u32 val, int size);

/* The function's INTx: held while level is 1.  Functions that share a PIC
 * line are wire-ORed.  Ignored while the Command register disables INTx. */
void pci_set_irq(struct pci_dev *d, int level);
int pci_dev_irq(struct pci_dev *d);	/* machine line (PIRQ), or -1 */
int pci_dev_slot(struct pci_dev *d);

/* Where BAR n is decoded now (0 when it is not). */
u32 pci_bar_addr(struct pci_dev *d, int n);

/* Configuration mechanism #1 as the CPU sees it, for tests: the same
 * handlers the ports 0xcf8-0xcff call. */
u32 pci_io_read(struct pci_bus *bus, u16 port, int size);
void pci_io_write(struct pci_bus *bus, u16 port, u32 val, int size);

#endif
