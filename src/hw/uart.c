/*
 * The 16550A UART, as Linux's 8250 driver probes and drives it.
 *
 * The line is infinitely fast: a byte written to THR goes to the host
 * terminal's output queue at once, so THR and the transmitter are empty
 * again straight away.  They stay busy only while the terminal's queue is
 * full (a reader that does not read); THRE is reported only when a whole
 * FIFO's worth fits, because Linux writes 16 bytes per THRE interrupt
 * without looking again.  Received bytes are pulled from the terminal only
 * as the receive FIFO has room, so input is never overrun; loopback mode
 * (MCR bit 4) feeds THR into the receive FIFO instead, as the driver's
 * probe expects.
 *
 * Interrupts follow the chip's priorities (line status, received data or
 * its timeout, THR empty, modem status) and are seen in IIR.  The IRQ
 * line is high while an enabled interrupt is pending and OUT2 is set
 * (OUT2 gates the IRQ on PC boards), and low in loopback.
 */
#include <stdlib.h>

#include "../term.h"
#include "uart.h"

enum { RBR_THR, IER, IIR_FCR, LCR, MCR, LSR, MSR, SCR };

#define FIFO_SIZE 16

#define IER_RDI 0x01
#define IER_THRI 0x02
#define IER_RLSI 0x04
#define IER_MSI 0x08

#define LCR_DLAB 0x80
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define IIR_NONE 0x01

struct uart {
	struct machine *m;
	struct term *term;
	u16 base;
	int irq;
	u8 ier, lcr, mcr, scr, dll, dlm;
	u8 lsr_err;		/* OE/PE/FE/BI, cleared when LSR is read */
	u8 msr_delta;		/* MSR bits 0-3, cleared when MSR is read */
	bool fifo_on;
	u8 trigger;
	u8 rx[FIFO_SIZE];
	int rx_head, rx_count;
	bool thr_ipending;
	bool irq_level;
};

/*D:150
 * The serial line is infinitely fast.  A real 16550A at 115200 baud
 * takes 87 us a byte, and modelling that would only slow the guest's
 * console down for nobody's benefit: a byte written to THR goes straight
 * into the terminal's output queue (term.c), and the transmitter is
 * empty again at once.  The one thing that can make it busy is a host
 * reader that does not read: then the terminal's queue fills, THRE stays
 * clear, and the guest's driver waits, so nothing it was told was sent
 * is lost. :*/
static int rx_capacity(struct uart *u)
{
	return u->fifo_on ? FIFO_SIZE : 1;
}

static bool tx_ready(struct uart *u)
{
	if ((u->mcr & MCR_LOOP) || !u->term)
		return true;
	return term_write_room(u->term) >= FIFO_SIZE;
}

static u8 pending_iid(struct uart *u)
{
	if ((u->ier & IER_RLSI) && u->lsr_err)
		return 0x06;
	if ((u->ier & IER_RDI) && u->rx_count)
		return u->fifo_on && u->rx_count < u->trigger ? 0x0c : 0x04;
	if ((u->ier & IER_THRI) && u->thr_ipending)
		return 0x02;
	if ((u->ier & IER_MSI) && u->msr_delta)
		return 0x00;
	return IIR_NONE;
}

/*D:160
 * On a PC board the UART's interrupt reaches the PIC only while OUT2 in
 * the modem control register is set, and Linux's 8250 driver is written
 * for such boards: it sets OUT2 when it wants interrupts, and probes the
 * chip with it clear.  Loopback mode cuts the line as well.  The line is only moved when its level really
 * changes, so a register read that leaves things as they were costs the
 * PIC nothing. :*/
static void update_irq(struct uart *u)
{
	bool level = pending_iid(u) != IIR_NONE && (u->mcr & MCR_OUT2) &&
		     !(u->mcr & MCR_LOOP);

	if (level == u->irq_level)
		return;
	u->irq_level = level;
	machine_set_irq(u->m, u->irq, level);
}

static void rx_push(struct uart *u, u8 byte)
{
	if (u->rx_count >= rx_capacity(u)) {
		u->lsr_err |= LSR_OE;
		return;
	}
	u->rx[(u->rx_head + u->rx_count++) % FIFO_SIZE] = byte;
}

/* Takes as much terminal input as the receiver has room for. */
static void rx_pull(struct uart *u)
{
	u8 buf[FIFO_SIZE];
	size_t i, n;

	if (!u->term || (u->mcr & MCR_LOOP))
		return;
	n = term_read(u->term, buf, rx_capacity(u) - u->rx_count);
	for (i = 0; i < n; i++)
		rx_push(u, buf[i]);
}

static void input_ready(void *opaque)
{
	struct uart *u = opaque;

	rx_pull(u);
	update_irq(u);
}

static void output_room(void *opaque)
{
	struct uart *u = opaque;

	if (tx_ready(u))
		u->thr_ipending = true;
	update_irq(u);
}

static void transmit(struct uart *u, u8 byte)
{
	if (u->mcr & MCR_LOOP)
		rx_push(u, byte);
	else if (u->term)
		term_write(u->term, &byte, 1);
	u->thr_ipending = tx_ready(u);
}

/* MSR's upper half: the modem lines, or in loopback the MCR outputs. */
static u8 modem_lines(struct uart *u)
{
	u8 mcr = u->mcr;

	if (!(mcr & MCR_LOOP))
		return 0xb0;	/* DCD, DSR, CTS: a modem that is there */
	return (mcr & MCR_RTS ? 0x10 : 0) | (mcr & MCR_DTR ? 0x20 : 0) |
	       (mcr & MCR_OUT1 ? 0x40 : 0) | (mcr & MCR_OUT2 ? 0x80 : 0);
}

static void write_mcr(struct uart *u, u8 val)
{
	u8 before = modem_lines(u), after, changed;

	u->mcr = val & 0x1f;
	after = modem_lines(u);
	changed = before ^ after;
	u->msr_delta |= (changed >> 4) & 0x0b;	/* DCTS, DDSR, DDCD */
	if ((before & 0x40) && !(after & 0x40))
		u->msr_delta |= 0x04;		/* TERI: RI fell */
	if (!(u->mcr & MCR_LOOP))
		rx_pull(u);
}

static void write_fcr(struct uart *u, u8 val)
{
	static const u8 triggers[4] = { 1, 4, 8, 14 };
	bool on = val & 1;

	if (on != u->fifo_on || (val & 2)) {
		u->rx_count = 0;
		u->rx_head = 0;
	}
	u->fifo_on = on;
	u->trigger = triggers[val >> 6];
	rx_pull(u);
}

static void write_ier(struct uart *u, u8 val)
{
	u8 changed = (u->ier ^ val) & IER_THRI;

	u->ier = val & 0x0f;
	/* Enabling the THRE interrupt with THR empty raises it at once. */
	if (changed)
		u->thr_ipending = (u->ier & IER_THRI) && tx_ready(u);
}

static u8 read_rbr(struct uart *u)
{
	u8 byte;

	if (!u->rx_count)
		return 0;
	byte = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % FIFO_SIZE;
	u->rx_count--;
	rx_pull(u);
	return byte;
}

static u8 read_iir(struct uart *u)
{
	u8 iid = pending_iid(u);

	/* Reading IIR acknowledges a THRE interrupt it reports. */
	if (iid == 0x02)
		u->thr_ipending = false;
	return iid | (u->fifo_on ? 0xc0 : 0);
}

static u8 read_lsr(struct uart *u)
{
	u8 v = u->lsr_err;

	u->lsr_err = 0;
	if (u->rx_count)
		v |= LSR_DR;
	if (tx_ready(u))
		v |= LSR_THRE | LSR_TEMT;
	return v;
}

static u32 uart_read(void *opaque, u16 port, int size)
{
	struct uart *u = opaque;
	u8 v;

	(void)size;
	switch (port - u->base) {
	case RBR_THR:
		v = u->lcr & LCR_DLAB ? u->dll : read_rbr(u);
		break;
	case IER:
		v = u->lcr & LCR_DLAB ? u->dlm : u->ier;
		break;
	case IIR_FCR:
		v = read_iir(u);
		break;
	case LCR:
		v = u->lcr;
		break;
	case MCR:
		v = u->mcr;
		break;
	case LSR:
		v = read_lsr(u);
		break;
	case MSR:
		v = modem_lines(u) | u->msr_delta;
		u->msr_delta = 0;
		break;
	default:
		v = u->scr;
		break;
	}
	update_irq(u);
	return v;
}

static void uart_write(void *opaque, u16 port, u32 val, int size)
{
	struct uart *u = opaque;

	(void)size;
	val &= 0xff;
	switch (port - u->base) {
	case RBR_THR:
		if (u->lcr & LCR_DLAB)
			u->dll = val;
		else
			transmit(u, val);
		break;
	case IER:
		if (u->lcr & LCR_DLAB)
			u->dlm = val;
		else
			write_ier(u, val);
		break;
	case IIR_FCR:
		write_fcr(u, val);
		break;
	case LCR:
		u->lcr = val;
		break;
	case MCR:
		write_mcr(u, val);
		break;
	case LSR:
	case MSR:
		break;		/* read-only (factory test) */
	default:
		u->scr = val;
		break;
	}
	update_irq(u);
}

struct uart *uart_new(struct machine *m, u16 base, int irq, struct term *t)
{
	struct uart *u = calloc(1, sizeof(*u));

	if (!u)
		die("out of memory");
	u->m = m;
	u->term = t;
	u->base = base;
	u->irq = irq;
	u->trigger = 1;
	u->dll = 12;		/* 9600 baud, as a BIOS leaves it */
	u->lcr = 0x03;		/* 8N1 */
	if (t)
		term_set_client(t, input_ready, output_room, u);
	machine_add_ports(m, base, 8, u, uart_read, uart_write);
	machine_add_cleanup(m, free, u);
	return u;
}
