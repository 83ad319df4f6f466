/*
 * Builds the PC platform around a machine: see pc.h.  The PIC comes first,
 * since it must be the machine's interrupt controller before any device
 * raises a line.
 */
#include <unistd.h>

#include "../term.h"
#include "debugport.h"
#include "i8042.h"
#include "pc.h"
#include "pic.h"
#include "pit.h"
#include "rtc.h"
#include "uart.h"


/* The PCI INTx lines (src/hw/pci.c routes INTA to 11, 10, 9, 5) are
 * level-triggered, as PC firmware programs the ELCR for them. */
#define PCI_LEVEL_IRQS ((1u << 11) | (1u << 10) | (1u << 9) | (1u << 5))

static void close_term(void *opaque)
{
	term_close(opaque);
}

void pc_init_with(struct machine *m, const struct pc_options *opt)
{
	static const struct pc_options defaults;
	struct term *t = NULL;
	struct pic *pic;

	if (!opt)
		opt = &defaults;
	pic = pic_new(m);
	pic_set_elcr(pic, PCI_LEVEL_IRQS);
	pit_new(m);
	rtc_new(m);
	if (!opt->no_console)
		t = term_open(m, STDIN_FILENO, STDOUT_FILENO);
	if (opt->term)
		*opt->term = t;
	/* COM1; COM2-4 are left empty, so their ports read all ones and
	 * Linux's probe finds no UART there. */
	uart_new(m, 0x3f8, 4, t);
	/* Closed before the UART goes: its last flush may call the UART. */
	if (t)
		machine_add_cleanup(m, close_term, t);
	i8042_new(m);
	debugport_init(m, opt->boot_time);
}

void pc_init(struct machine *m)
{
	pc_init_with(m, NULL);
}
