/*
 * QEMU's fw_cfg interface at ports 0x510-0x511, reduced to the items that
 * kvm-unit-tests' start-up code reads (the number of CPUs, the RAM size).
 * Only with --exit-port: Linux does not look for it on a PC.
 */
#ifndef LGUEST_HW_FW_CFG_H
#define LGUEST_HW_FW_CFG_H

#include "../machine.h"

#define FW_CFG_PORT	0x510	/* selector; 0x511 is the data byte */

void fw_cfg_init(struct machine *m);

#endif
