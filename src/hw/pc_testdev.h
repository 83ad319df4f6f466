/*
 * QEMU's pc-testdev (-device pc-testdev), the test hooks kvm-unit-tests'
 * x86 tests use: a scratch register at ports 0xe0-0xe3 (and byte-wise at
 * 0xe8-0xeb), a page-flush port at 0xe4, interrupt lines at 0x2000 + n,
 * and 64 KiB of scratch memory at 0xff000000.  Only with --exit-port.
 */
#ifndef LGUEST_HW_PC_TESTDEV_H
#define LGUEST_HW_PC_TESTDEV_H

#include "../machine.h"

#define TESTDEV_DATA_PORT	0xe0
#define TESTDEV_FLUSH_PORT	0xe4
#define TESTDEV_BYTE_PORT	0xe8
#define TESTDEV_IRQ_PORT	0x2000
#define TESTDEV_IRQ_LINES	24	/* an IO-APIC's worth of ports, */
#define TESTDEV_ISA_LINES	16	/* of which these reach the machine */
#define TESTDEV_IOMEM_BASE	0xff000000u
#define TESTDEV_IOMEM_LEN	0x10000u

void pc_testdev_init(struct machine *m);

#endif
