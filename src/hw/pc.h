/*
 * The PC platform: the legacy devices every PC kernel expects, made and
 * wired to the machine in one call.
 *
 * pc_init() plugs the 8259 pair, the local APIC and the IO-APIC in as
 * the machine's interrupt controllers, writes the ACPI tables, and adds
 * ACPI's PM registers, the 8254 PIT (with port 0x61), the CMOS RTC, COM1
 * on the host terminal, the i8042 (as far as reset), port 0x80 and the
 * boot-time debug port.  The PCI host bridge (src/hw/pci.c) and virtio devices are added by
 * the launcher after this.
 */
#ifndef LGUEST_HW_PC_H
#define LGUEST_HW_PC_H

#include "../machine.h"

/* The boot-time mark, as Firecracker has it: a guest that writes
 * BOOT_MARK_MAGIC to port BOOT_MARK_PORT makes lguest print the time since
 * launch (with --verbose or pc_options.boot_time).  Port 0x440 is unused
 * on a PC; 123 is Firecracker's magic value. */
#define BOOT_MARK_PORT 0x440
#define BOOT_MARK_MAGIC 123

struct pc_options {
	bool boot_time;		/* print the mark even without --verbose */
	bool no_console;	/* COM1 not on the host terminal (tests) */
	struct term **term;	/* if set, gets the host terminal (or NULL),
				 * for the virtio console to share */
};

/* With the default options. */
void pc_init(struct machine *m);
void pc_init_with(struct machine *m, const struct pc_options *opt);

#endif
