/*
 * A stand-in for the software CPU, for the platform tests: the devices and
 * the run loop are tested on their own, whatever state the real CPU is in.
 * It implements src/cpu/cpu.h; cpu_run() calls the test's script.
 */
#ifndef LGUEST_TESTS_HW_STUB_CPU_H
#define LGUEST_TESTS_HW_STUB_CPU_H

#include "cpu/cpu.h"

struct cpu {
	struct cpu_bus bus;
	bool intr;
	int nmis;		/* NMI edges seen */
	bool stop;
	u64 icount;
	u32 eflags;
};

/* What cpu_run() does: the test's function, or "ran the budget". */
extern enum cpu_event (*stub_run)(struct cpu *c, u64 budget);

/* Port I/O as the guest would do it, through the machine's bus. */
u32 stub_in(struct cpu *c, u16 port, int size);
void stub_out(struct cpu *c, u16 port, u32 val, int size);

#endif
