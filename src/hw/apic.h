/*
 * The local APIC of our one CPU, in xAPIC mode: its registers at
 * 0xfee00000 on the machine's bus, IA32_APIC_BASE and IA32_TSC_DEADLINE
 * through the machine's MSR hook, its timer on the machine's clock.
 *
 * It stands between every interrupt source and the CPU's INTR pin, as on
 * any PC since the Pentium: the 8259 pair's output comes in on LINT0
 * (ExtINT, "virtual wire"), the IO-APIC sends it messages, and the CPU's
 * interrupt acknowledge lands here.  An NMI (LINT1, an NMI message, an
 * NMI IPI) goes to the CPU's NMI input.  With the APIC disabled in
 * IA32_APIC_BASE, LINT0 and LINT1 are the CPU's INTR and NMI pins.
 */
#ifndef LGUEST_HW_APIC_H
#define LGUEST_HW_APIC_H

#include "../machine.h"

#define APIC_DEFAULT_BASE 0xfee00000u
#define APIC_MMIO_SIZE 0x1000u

/* Delivery modes, as ICR, LVT and IO-APIC entries encode them. */
enum apic_dm {
	APIC_DM_FIXED = 0,
	APIC_DM_LOWEST = 1,
	APIC_DM_SMI = 2,
	APIC_DM_NMI = 4,
	APIC_DM_INIT = 5,
	APIC_DM_STARTUP = 6,
	APIC_DM_EXTINT = 7,
};

struct apic;

/* Makes the APIC and claims its MMIO page and MSRs; it drives the CPU's
 * INTR pin (machine_set_intr()) and NMI.  The state is what PC firmware
 * leaves: enabled in IA32_APIC_BASE, software disabled (SVR 0xff), LINT0
 * ExtINT and LINT1 NMI, the rest masked. */
struct apic *apic_new(struct machine *m);

/* The CPU's interrupt acknowledge: the vector it takes. */
u8 apic_intack(struct apic *a);

/* The 8259 pair's INTA cycle, for an ExtINT interrupt. */
void apic_set_extint_ack(struct apic *a, u8 (*ack)(void *opaque),
			 void *opaque);
/* Who hears the EOI of a level-triggered interrupt (the IO-APIC). */
void apic_set_eoi_listener(struct apic *a, void (*eoi)(void *opaque, u8 vec),
			   void *opaque);

/* The LINT0 (lint 0) and LINT1 (lint 1) pins. */
void apic_set_lint(struct apic *a, int lint, bool level);

/* An interrupt message (from the IO-APIC): delivered if dest, in the
 * given destination mode (logical: true), names this APIC. */
void apic_deliver(struct apic *a, bool logical, u8 dest, enum apic_dm dm,
		  u8 vec, bool level_trig);

#endif
