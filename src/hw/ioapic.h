/*
 * The IO-APIC at 0xfec00000: 24 input pins, each with a redirection
 * table entry that turns the pin's interrupt into a message to the local
 * APIC (src/hw/apic.h).  The platform (src/hw/pc.c) wires the ISA lines
 * and the PCI interrupt lines to its pins.
 */
#ifndef LGUEST_HW_IOAPIC_H
#define LGUEST_HW_IOAPIC_H

#include "../machine.h"
#include "apic.h"

#define IOAPIC_BASE 0xfec00000u
#define IOAPIC_PINS 24

struct ioapic;

/* Made with every pin masked, as at reset; messages go to apic, whose
 * EOIs of level-triggered vectors come back here. */
struct ioapic *ioapic_new(struct machine *m, struct apic *apic);

/* A pin's input level (asserted or not: see ioapic.c on polarity). */
void ioapic_set_irq(struct ioapic *io, int pin, bool level);

#endif
