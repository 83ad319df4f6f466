/*
 * The virtio devices, as the launcher sees them.
 *
 * Each call plugs one virtio-pci function into the bus made by pci_init()
 * (src/hw/pci.h), in the order of the calls: the guest numbers its disks
 * vda, vdb, ... in that order.  Call them all before the guest runs.
 */
#ifndef LGUEST_VIRTIO_H
#define LGUEST_VIRTIO_H

#include <stddef.h>

#include "../hw/pci.h"
#include "../types.h"

struct virtio_blk;
struct virtio_console;
struct term;

/* A disk backed by path (a regular file or a host block device), opened
 * read-only and refusing writes if readonly.  On a bad file (missing,
 * a directory, unreadable, locked by another lguest) prints one line
 * "lguest: --block=FILE: why" and returns -1; the launcher then exits. */
int virtio_blk_add(struct pci_bus *bus, const char *path, bool readonly);
/* --block's argument: FILE, or FILE,ro for a read-only disk (kvmtool's
 * spelling; QEMU's readonly=on is longer for the same thing). */
int virtio_blk_add_spec(struct pci_bus *bus, const char *spec);
/* The same, returning the disk (NULL on error), for tests. */
struct virtio_blk *virtio_blk_open(struct pci_bus *bus, const char *path,
				   bool readonly);
/* Waits for the disk's I/O thread to finish every request handed to it
 * and completes them to the guest (tests, and before saving state). */
void virtio_blk_quiesce(struct virtio_blk *blk);

/* The virtio console (hvc0), on the host terminal (src/term.h) that the
 * UART shares.  With take_input it becomes the terminal's client and gets
 * the keys; give it them when the guest's console is hvc0 (the last
 * console= on its command line), else leave them to the UART.  The
 * terminal must outlive it: close the terminal after pci_free(). */
struct virtio_console *virtio_console_add(struct pci_bus *bus,
					  struct term *term, bool take_input);

/* The entropy device, fed by the host's getrandom(). */
void virtio_rng_add(struct pci_bus *bus);

#endif
