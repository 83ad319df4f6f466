/*
 * The 8254 programmable interval timer at ports 0x40-0x43, with system
 * control port B (0x61) that gates channel 2 and reads back its output.
 * Channel 0 interrupts on IRQ 0.  Counting follows machine_clock_ns() at
 * the PC's 1.193182 MHz, so a guest that times one against the other (as
 * Linux calibrates its TSC against channel 2) sees them agree.
 */
#ifndef LGUEST_HW_PIT_H
#define LGUEST_HW_PIT_H

#include "../machine.h"

#define PIT_HZ 1193182ULL

struct pit;

struct pit *pit_new(struct machine *m);

#endif
