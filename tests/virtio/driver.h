/*
 * A tiny virtio-pci driver for the tests: it plays the guest's part from
 * the host side, through the same doors a guest uses (configuration
 * mechanism #1, MMIO in the BAR, rings in guest RAM), so a test can build
 * any queue state by hand, good or hostile, and look at what the device
 * did with it.
 */
#ifndef TESTS_VIRTIO_DRIVER_H
#define TESTS_VIRTIO_DRIVER_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hw/pci.h"
#include "machine.h"
#include "memory.h"
#include "virtio/virtio.h"
#include "virtio/virtio_dev.h"
#include "../unit/tap.h"

#define RAM_SIZE	(16 * MiB)
#define DESC_GPA	0x10000
#define AVAIL_GPA	0x14000
#define USED_GPA	0x18000
#define BUF_GPA		0x100000

/* The last kill reason, caught by wrapping guest_kill (-Wl,--wrap). */
extern char kill_reason[256];

/* One machine with a PCI bus, a fake interrupt controller that records
 * line levels, and a driver's view of one device. */
struct drv {
	struct guest_mem mem;
	struct machine *m;
	struct pci_bus *bus;
	int irq[MACHINE_IRQS];
	int slot;
	u32 bar, common, notify, isr, device, notify_mult;
	u16 qsize;
	u64 desc, avail, used;	/* of the queue set up last */
	u16 avail_idx;
};

void drv_machine(struct drv *d);
void drv_free(struct drv *d);
u32 cfg_read(struct drv *d, int slot, u32 off, int size);
void cfg_write(struct drv *d, int slot, u32 off, u32 val, int size);
/* Finds the virtio capabilities of slot and the BAR. */
bool drv_probe(struct drv *d, int slot);
u32 common_rd(struct drv *d, u32 off, int size);
void common_wr(struct drv *d, u32 off, u32 val, int size);
/* Reset, ACK, DRIVER, features; returns the status read back. */
u8 drv_negotiate(struct drv *d, u64 features);
/* Sets up queue q with size entries at DESC/AVAIL/USED_GPA (+q*64K) and
 * enables it. */
void drv_queue(struct drv *d, u16 q, u16 size);
void drv_driver_ok(struct drv *d);
void set_desc(struct drv *d, u64 table, u16 i, u64 addr, u32 len,
	      u16 flags, u16 next);
/* Makes head available on the queue set up last and notifies queue q. */
void drv_kick(struct drv *d, u16 q, u16 head);
u16 used_idx(struct drv *d);
void used_elem(struct drv *d, u16 i, u32 *id, u32 *len);
u8 isr_read(struct drv *d);
void *gp(struct drv *d, u64 gpa, u64 len);

#endif
