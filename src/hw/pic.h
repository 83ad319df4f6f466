/*
 * The 8259A programmable interrupt controller pair of a PC: the master at
 * ports 0x20-0x21 (IRQ 0-7), the slave at 0xa0-0xa1 (IRQ 8-15) cascaded
 * on the master's IRQ 2, and the ELCR (ports 0x4d0-0x4d1) that makes a
 * line level-triggered.  pic_new() makes it the machine's interrupt
 * controller: machine_set_irq() lands here and the output drives the
 * CPU's INTR pin.  On the PC (src/hw/pc.c) the output goes to the local
 * APIC's LINT0 instead, and the board's wiring feeds it the lines.
 */
#ifndef LGUEST_HW_PIC_H
#define LGUEST_HW_PIC_H

#include "../machine.h"

struct pic;

struct pic *pic_new(struct machine *m);

/* Firmware's setting of the ELCR: bit n set makes IRQ n level-triggered. */
void pic_set_elcr(struct pic *p, u16 elcr);

/* For a platform with a local APIC (src/hw/pc.c): the pair's INT output
 * goes to out instead of the CPU's INTR pin, lines come in through
 * pic_set_irq(), and pic_intack(p) is the INTA cycle. */
void pic_set_output(struct pic *p, void (*out)(void *opaque, bool level),
		    void *opaque);
void pic_set_irq(struct pic *p, int irq, int level);
u8 pic_intack(void *p);

#endif
