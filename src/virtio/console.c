/*
 * virtio-console: the guest's hvc0, on the host terminal.
 *
 * One port, no multiport: queue 0 carries the user's keys to the guest,
 * queue 1 the guest's output to the terminal.  The terminal itself (raw
 * mode, buffering, the three-^C escape) is src/term.c, shared with the
 * UART: both consoles print to it, and exactly one of them takes its input.
 * The launcher decides which: hvc0 takes the keys when the guest's own
 * console (the last console= on its command line) is hvc0; otherwise the
 * UART, ttyS0, keeps them and hvc0 is output only.
 *
 * Output never blocks the run loop: when the terminal's buffer is full the
 * chain being written stays ours, with how far we got, until there is room
 * again; the guest sees its write complete only when all of it is queued.
 */
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>

#include "../term.h"
#include "virtio.h"
#include "virtio_dev.h"

#define QUEUE_MAX	64
#define RX_QUEUE	0
#define TX_QUEUE	1
#define RETRY_NS	(2 * 1000 * 1000)	/* full terminal: look again */

struct virtio_console {
	struct virtio_dev *vd;
	struct term *term;
	struct timer *retry;
	struct virtio_console_config cfg;
	struct vq_elem *rx, *tx;
	bool client;		/* the terminal's client: it calls us */
	bool tx_busy;		/* tx holds a chain partly written */
	unsigned int tx_iov;	/* how far: the buffer being written... */
	size_t tx_off;		/* ...and the bytes of it already written */
	u8 in[256];		/* keys read from the terminal, not yet given */
	size_t in_len, in_pos;
};

/*
 * Writes what it can of the chain in tx, straight from its buffers, from
 * where the last call stopped; true when all is written.  The work is one
 * term_write() per buffer and the bytes the terminal takes, never more:
 * once the terminal's reader has gone, term_write() takes everything at
 * once, so a guest that sends gigabytes in overlapping buffers of all its
 * RAM costs a call per buffer, not a copy per byte of them.
 */
static bool write_out(struct virtio_console *con)
{
	struct vq_elem *e = con->tx;

	for (; con->tx_iov < e->nr_out; con->tx_iov++, con->tx_off = 0) {
		const struct iovec *v = &e->iov[con->tx_iov];
		size_t left = v->iov_len - con->tx_off;
		size_t took = term_write(con->term,
					 (const u8 *)v->iov_base + con->tx_off,
					 left);

		con->tx_off += took;
		if (took < left)
			return false;
	}
	return true;
}

/*V:310
 * The virtio console, hvc0, shares the user's terminal with the UART
 * (D:150, D:170): both print to it, and the launcher gives the keys to
 * exactly one of them (L:100).  Its output must never block the run loop,
 * yet must not lose a byte either.  So when the terminal's buffer is full
 * the chain being written stays ours, with how far we got, and a timer (or
 * the terminal saying it has room) tries again; the guest sees its write
 * complete only when all of it is queued, which is the back-pressure a
 * real serial line gives.  Input goes the other way: keys wait in a small
 * buffer here until the guest has posted a receive buffer for them.
 */
static void do_tx(struct virtio_console *con)
{
	struct virtqueue *vq = virtio_vq(con->vd, TX_QUEUE);
	bool pushed = false;

	for (;;) {
		if (!con->tx_busy) {
			if (vq_pop(vq, con->tx) <= 0)
				break;
			con->tx_busy = true;
			con->tx_iov = 0;
			con->tx_off = 0;
		}
		if (!write_out(con)) {
			timer_mod(con->retry, machine_clock_ns(
				  virtio_machine(con->vd)) + RETRY_NS);
			break;
		}
		con->tx_busy = false;
		vq_push(vq, con->tx, 0);
		pushed = true;
	}
	if (pushed)
		vq_notify_guest(vq);
}
/* The used length of an output chain is 0: the device wrote nothing into
 * it. :*/

/* Hands the waiting keys to the guest, as far as it gave us buffers. */
static void do_rx(struct virtio_console *con)
{
	struct virtqueue *vq = virtio_vq(con->vd, RX_QUEUE);
	bool pushed = false;

	for (;;) {
		size_t n;

		if (con->in_pos == con->in_len) {
			con->in_pos = 0;
			con->in_len = term_read(con->term, con->in,
						sizeof(con->in));
			if (!con->in_len)
				break;
		}
		if (vq_pop(vq, con->rx) <= 0)
			break;
		n = vq_elem_write(con->rx, 0, con->in + con->in_pos,
				  con->in_len - con->in_pos);
		con->in_pos += n;
		vq_push(vq, con->rx, n);
		pushed = true;
	}
	if (pushed)
		vq_notify_guest(vq);
}

static void con_notify(struct virtio_dev *vd, struct virtqueue *vq)
{
	struct virtio_console *con = virtio_opaque(vd);

	if (vq_index(vq) == TX_QUEUE)
		do_tx(con);
	else
		do_rx(con);
}

static void con_reset(struct virtio_dev *vd)
{
	struct virtio_console *con = virtio_opaque(vd);

	con->tx_busy = false;
	timer_del(con->retry);
}

/* The terminal may outlive us (lguest closes it after the bus, with a
 * last flush that finds room again): it must not call us then. */
static void con_free(struct virtio_dev *vd)
{
	struct virtio_console *con = virtio_opaque(vd);

	if (con->client)
		term_set_client(con->term, NULL, NULL, NULL);
	timer_del(con->retry);
	free(con->rx);
	free(con->tx);
	free(con);
}

static void input_ready(void *opaque)
{
	do_rx(opaque);
}

static void output_room(void *opaque)
{
	do_tx(opaque);
}

static void retry(void *opaque)
{
	do_tx(opaque);
}

static const struct virtio_dev_ops con_ops = {
	.name = "virtio-console",
	.type = VIRTIO_ID_CONSOLE,
	.class_code = 0x078000,		/* communication, other */
	.nr_queues = 2,
	.queue_max = QUEUE_MAX,
	.config_len = sizeof(struct virtio_console_config),
	.notify = con_notify,
	.reset = con_reset,
	.free = con_free,
};

struct virtio_console *virtio_console_add(struct pci_bus *bus,
					  struct term *term, bool take_input)
{
	struct virtio_console *con = calloc(1, sizeof(*con));

	if (!con)
		abort();
	con->term = term;
	con->retry = timer_new(pci_bus_machine(bus), retry, con);
	con->vd = virtio_pci_add(bus, &con_ops, con, (u8 *)&con->cfg);
	con->rx = vq_elem_new(virtio_vq(con->vd, RX_QUEUE));
	con->tx = vq_elem_new(virtio_vq(con->vd, TX_QUEUE));
	if (take_input)
		term_set_client(term, input_ready, output_room, con);
	con->client = take_input;
	return con;
}
