/*
 * The machine state a PC BIOS leaves for a Multiboot kernel (as SeaBIOS
 * does under QEMU): the 8259s initialised, the 8254 ticking, a real-mode
 * interrupt vector table.  Linux boots without it.
 */
#ifndef LGUEST_HW_BIOS_H
#define LGUEST_HW_BIOS_H

#include "../machine.h"

/* After the PC devices exist and the kernel is loaded: image_start and
 * image_end (exclusive) are where the loader put the kernel, which the
 * vector table and its handlers must not overwrite. */
void bios_multiboot_state(struct machine *m, u32 image_start, u32 image_end);

#endif
