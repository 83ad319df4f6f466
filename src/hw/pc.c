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

/*D:100
 * The PC that every guest gets, whatever the command line says: the
 * devices Linux's i386 kernel expects to find on any PC and probes for
 * without asking firmware.  The 8259 pair first, since it must be the
 * machine's interrupt controller before any device raises a line, with
 * the PCI lines set level-triggered; then the 8254 timer, the CMOS clock,
 * the user's terminal and the one UART on it (COM1, ttyS0), the i8042 for
 * its reset line, and two small ports for POST codes and the boot-time
 * mark.  Each device is one file in src/hw/ and one call here; none of
 * them knows of another, only of the machine (M:130).  The PCI bus and the
 * devices the user asked for come after this, from the launcher (L:100).
 */
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
/* A test builds a PC without a terminal (no_console), or with its own
 * options; the devices are the same. :*/

void pc_init(struct machine *m)
{
	pc_init_with(m, NULL);
}
