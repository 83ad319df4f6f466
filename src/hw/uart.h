/*
 * A 16550A UART (8 ports at base, one IRQ line).  COM1 (0x3f8, IRQ 4) is
 * the guest's serial console, joined to the host terminal (src/term.c).
 */
#ifndef LGUEST_HW_UART_H
#define LGUEST_HW_UART_H

#include "../machine.h"

struct term;
struct uart;

/* term may be NULL: output is then dropped and no input comes. */
struct uart *uart_new(struct machine *m, u16 base, int irq, struct term *t);

#endif
