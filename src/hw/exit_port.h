/*
 * The test-exit port, QEMU's isa-debug-exit as test harnesses use it
 * (-device isa-debug-exit,iobase=0xf4,iosize=0x04): a guest write of V
 * ends lguest at once with status (V << 1) | 1.  Only with --exit-port;
 * otherwise these ports belong to nobody.
 */
#ifndef LGUEST_HW_EXIT_PORT_H
#define LGUEST_HW_EXIT_PORT_H

#include "../machine.h"

#define EXIT_PORT_BASE	0xf4
#define EXIT_PORT_LEN	4	/* 0xf4-0xf7: one 1-, 2- or 4-byte register */

/* The status a write of val ends lguest with, as its parent sees it. */
int exit_port_status(u32 val);

void exit_port_init(struct machine *m);

#endif
