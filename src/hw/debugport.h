/*
 * Port 0x80 (POST codes, Linux's I/O delay) and the boot-time mark port
 * (BOOT_MARK_PORT in pc.h).
 */
#ifndef LGUEST_HW_DEBUGPORT_H
#define LGUEST_HW_DEBUGPORT_H

#include "../machine.h"

/* print_boot_time: print the mark even without --verbose. */
void debugport_init(struct machine *m, bool print_boot_time);

#endif
