/*
 * virtio-net: the guest's Ethernet card.
 *
 * Two queues, as the spec numbers them: 0 receives (the guest posts empty
 * buffers, we fill them with frames), 1 transmits (the guest posts frames,
 * we hand them to the host).  Where the frames go is the backend's business
 * (src/net/: a TAP device, a shared file, user networking); this file only
 * speaks virtio.
 *
 * We offer what we can honour without touching a payload: the MAC, a link
 * that is always up, and an MTU of 1500 (so that every frame fits a
 * sharenet cell and a plain receive buffer).  Checksum and segmentation
 * offload on transmit only when the backend's host side finishes them (a
 * TAP device does): then the guest hands us up to 64 KiB of TCP at a time
 * with no checksum, and we pass frame and header to the backend as they
 * are, after checking the header against what was negotiated.  Otherwise
 * every virtio_net_hdr we take must say "nothing to do".  What we write
 * to the guest always says "nothing to do": full checksums, frames no
 * longer than the MTU.  Without VIRTIO_NET_F_MRG_RXBUF each frame goes
 * into one receive chain, header first.
 *
 * A frame for a guest that has posted no buffer waits in the backend's own
 * bounded queue, or is dropped there: never here, never in a list that
 * grows, and never by blocking.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

#include "../net/net.h"
#include "../net/virtio_net.h"
#include "virtio_dev.h"

#define QUEUE_MAX	256
#define RX_QUEUE	0
#define TX_QUEUE	1
#define HDR_LEN		sizeof(struct virtio_net_hdr_v1)
/* How long sent frames' buffers wait before they go back to the guest
 * (guest time, N:115). */
#define TX_DELAY_NS	1000000ULL
/* The configuration up to and including the MTU. */
#define CONFIG_LEN	offsetof(struct virtio_net_config, speed)

struct virtio_net {
	struct virtio_dev *vd;
	struct net_backend *nb;
	struct virtio_net_config cfg;
	struct vq_elem *rx, *tx;
	struct iovec *tx_iov;	/* a transmit frame's pieces, for send_vnet */
	struct timer *tx_timer;	/* returns the sent chains (N:115) */
	u16 tx_held[QUEUE_MAX];	/* heads of chains sent, not yet returned */
	unsigned int nr_held;
	bool rx_held;		/* rx holds a chain popped for the next frame */
	u64 rx_dropped, tx_dropped;
	u8 frame[NET_MAX_FRAME];
};

u64 virtio_net_rx_dropped(struct virtio_net *n)
{
	return n->rx_dropped;
}

u64 virtio_net_tx_dropped(struct virtio_net *n)
{
	return n->tx_dropped;
}

/*
 * Receiving: the backend asks whether there is a buffer, then gives one
 * frame.  The chain is popped ahead and kept until a frame comes.
 */
static bool net_can_receive(void *opaque)
{
	struct virtio_net *n = opaque;
	struct virtqueue *vq = virtio_vq(n->vd, RX_QUEUE);

	if (n->rx_held)
		return true;
	if (!virtio_driver_ok(n->vd) || !vq_ready(vq))
		return false;
	n->rx_held = vq_pop(vq, n->rx) > 0;
	return n->rx_held;
}

static bool net_receive(void *opaque, const void *frame, size_t len)
{
	struct virtio_net *n = opaque;
	struct virtqueue *vq = virtio_vq(n->vd, RX_QUEUE);
	struct virtio_net_hdr_v1 hdr = { .num_buffers = htole16(1) };

	if (!net_can_receive(n) || n->rx->in_len < HDR_LEN + len) {
		/* A buffer too small for this frame may fit the next one:
		 * keep it. */
		n->rx_dropped++;
		return false;
	}
	vq_elem_write(n->rx, 0, &hdr, HDR_LEN);
	vq_elem_write(n->rx, HDR_LEN, frame, len);
	n->rx_held = false;
	vq_push(vq, n->rx, HDR_LEN + len);
	vq_notify_guest(vq);
	return true;
}

/*
 * Transmitting: each chain is a header and one frame.  A header that asks
 * for an offload that was not negotiated, a checksum position outside the
 * frame, or a frame longer than the MTU we announced (64 KiB with
 * segmentation offload) is a driver bug: the frame is dropped (and
 * counted), the chain returned, the guest lives on.
 */
static bool has(struct virtio_net *n, unsigned int bit)
{
	return virtio_has_feature(n->vd, bit);
}

static bool tx_csum_ok(struct virtio_net *n,
		       const struct virtio_net_hdr_v1 *h, u64 len)
{
	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return false;
	if (!h->flags)
		return true;
	return has(n, VIRTIO_NET_F_CSUM) &&
	       (u64)le16toh(h->csum_start) + le16toh(h->csum_offset) + 2 <=
	       len;
}

static bool tx_hdr_ok(struct virtio_net *n,
		      const struct virtio_net_hdr_v1 *h, u64 len)
{
	if (!tx_csum_ok(n, h, len))
		return false;
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
	    !has(n, VIRTIO_NET_F_HOST_ECN))
		return false;
	switch (h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return h->gso_type == VIRTIO_NET_HDR_GSO_NONE &&
		       len <= NET_MAX_FRAME;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (!has(n, VIRTIO_NET_F_HOST_TSO4))
			return false;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (!has(n, VIRTIO_NET_F_HOST_TSO6))
			return false;
		break;
	default:
		return false;
	}
	/* A frame to cut up must say where its checksum goes. */
	return h->flags && h->gso_size && len <= NET_MAX_GSO_FRAME;
}

static void tx_one(struct virtio_net *n, const struct vq_elem *e)
{
	struct virtio_net_hdr_v1 hdr;
	u64 len = e->out_len - HDR_LEN;
	unsigned int cnt;

	if (e->out_len < HDR_LEN + 14 ||
	    e->out_len > HDR_LEN + NET_MAX_GSO_FRAME) {
		n->tx_dropped++;
		return;
	}
	/* The header is checked in our copy: the guest may change its own
	 * under us, but not what we pass on. */
	vq_elem_read(e, 0, &hdr, HDR_LEN);
	if (!tx_hdr_ok(n, &hdr, len)) {
		n->tx_dropped++;
		return;
	}
	if (n->nb->offloads) {
		hdr.num_buffers = 0;
		cnt = vq_elem_slice(e, false, HDR_LEN, len, n->tx_iov,
				    n->tx->cap);
		n->nb->ops->send_vnet(n->nb, &hdr, n->tx_iov, cnt);
		return;
	}
	vq_elem_read(e, HDR_LEN, n->frame, len);
	n->nb->ops->send(n->nb, n->frame, len);
}

/* Gives every sent chain back to the guest, with one interrupt. */
static void tx_return(struct virtio_net *n)
{
	struct virtqueue *vq = virtio_vq(n->vd, TX_QUEUE);

	if (!n->nr_held)
		return;
	for (unsigned int i = 0; i < n->nr_held; i++) {
		n->tx->head = n->tx_held[i];
		vq_push(vq, n->tx, 0);
	}
	n->nr_held = 0;
	vq_notify_guest(vq);
}

static void tx_timer_fire(void *opaque)
{
	tx_return(opaque);
}

/*N:115
 * A frame goes to the backend the moment the guest kicks, but its buffers
 * go back to the guest a little later (TX_DELAY_NS of guest time), all
 * that were sent meanwhile together, with one interrupt: what a real NIC
 * calls transmit interrupt coalescing.  Until a frame's buffers are back,
 * its socket buffer counts against the guest's socket, and Linux's TCP
 * then holds back ("autocorks") the small writes that follow and sends
 * them as one larger frame when the buffers come back.  A device that
 * returns every frame the moment it is kicked makes the guest send one
 * frame per write: with busybox nc writing 1 KiB at a time, a frame, an
 * interrupt and an ACK per KiB, each costing the guest thousands of
 * instructions on our CPU.  Nothing waits to be sent, so latency does
 * not suffer.  Half a ring of held chains goes back at once, so that the
 * guest never runs out.
 :*/
static void do_tx(struct virtio_net *n)
{
	struct virtqueue *vq = virtio_vq(n->vd, TX_QUEUE);
	struct machine *m = virtio_machine(n->vd);

	while (vq_pop(vq, n->tx) > 0) {
		tx_one(n, n->tx);
		n->tx_held[n->nr_held++] = n->tx->head;
		if (n->nr_held >= QUEUE_MAX / 2)
			tx_return(n);
	}
	if (n->nr_held && !timer_pending(n->tx_timer))
		timer_mod(n->tx_timer, machine_clock_ns(m) + TX_DELAY_NS);
}

static void net_notify(struct virtio_dev *vd, struct virtqueue *vq)
{
	struct virtio_net *n = virtio_opaque(vd);

	if (vq_index(vq) == TX_QUEUE)
		do_tx(n);
	else
		n->nb->ops->rx_resume(n->nb);
}

static void net_reset(struct virtio_dev *vd)
{
	struct virtio_net *n = virtio_opaque(vd);

	n->rx_held = false;
	n->nr_held = 0;
	timer_del(n->tx_timer);
}

static void net_free(struct virtio_dev *vd)
{
	struct virtio_net *n = virtio_opaque(vd);

	timer_del(n->tx_timer);
	n->nb->ops->free(n->nb);
	free(n->rx);
	free(n->tx);
	free(n->tx_iov);
	free(n);
}

/*N:110
 * The network card offers the fewest features a Linux driver is happy
 * with: a MAC, a link status that is always up, and an MTU of 1500; and,
 * when the backend's host side can finish them (a TAP device: the host
 * kernel does it), checksum and TCP segmentation offload on transmit.
 * Those are most of the speed of sending: on a software CPU every byte
 * the guest checksums and every 1500-byte frame it pushes through its
 * TCP stack and driver costs dearly, and with them the guest checksums
 * nothing and sends 64 KiB per frame.  We never compute a checksum or cut
 * up a frame ourselves: a backend of plain frames (sharenet, user
 * networking) gets no offloads, and every header the guest sends it must
 * say "nothing to do" (tx_hdr_ok() above).  What we give the guest is
 * always plain: full checksums, frames no larger than the MTU, which fit
 * a sharenet cell and a plain receive buffer, and no mergeable receive
 * buffers: each frame goes into one receive chain, header first.
 */
#define NET_OPS(offloads) {						\
	.name = "virtio-net",						\
	.type = VIRTIO_ID_NET,						\
	.class_code = 0x020000,		/* network, Ethernet */		\
	.features = (1ull << VIRTIO_NET_F_MAC) |			\
		    (1ull << VIRTIO_NET_F_STATUS) |			\
		    (1ull << VIRTIO_NET_F_MTU) | (offloads),		\
	.nr_queues = 2,							\
	.queue_max = QUEUE_MAX,						\
	.config_len = CONFIG_LEN,					\
	.notify = net_notify,						\
	.reset = net_reset,						\
	.free = net_free,						\
}
static const struct virtio_dev_ops net_ops = NET_OPS(0);
static const struct virtio_dev_ops net_ops_offload = NET_OPS(NET_TX_OFFLOADS);
/* A frame that breaks these rules is the driver's bug, not a protocol
 * violation: it is dropped and counted, and the guest lives on. :*/

struct virtio_net *virtio_net_new(struct pci_bus *bus, struct net_backend *nb)
{
	struct virtio_net *n = calloc(1, sizeof(*n));

	if (!n)
		abort();
	n->nb = nb;
	memcpy(n->cfg.mac, nb->mac, 6);
	n->cfg.status = htole16(VIRTIO_NET_S_LINK_UP);
	n->cfg.mtu = htole16(NET_MTU);
	n->tx_timer = timer_new(pci_bus_machine(bus), tx_timer_fire, n);
	n->vd = virtio_pci_add(bus, nb->offloads ? &net_ops_offload :
			       &net_ops, n, (u8 *)&n->cfg);
	n->rx = vq_elem_new(virtio_vq(n->vd, RX_QUEUE));
	n->tx = vq_elem_new(virtio_vq(n->vd, TX_QUEUE));
	n->tx_iov = calloc(n->tx->cap, sizeof(*n->tx_iov));
	if (!n->tx_iov)
		abort();
	nb->client = (struct net_client){ n, net_can_receive, net_receive };
	verbose("%s: virtio-net %02x:%02x:%02x:%02x:%02x:%02x", nb->what,
		nb->mac[0], nb->mac[1], nb->mac[2], nb->mac[3], nb->mac[4],
		nb->mac[5]);
	return n;
}

/*
 * The launcher's entry points: open the backend or explain in one line
 * why not, then plug the NIC in.
 */
typedef struct net_backend *(*open_fn)(struct machine *m, const char *arg,
				       char *err, size_t errlen);

static void add(struct pci_bus *bus, const char *arg, open_fn open)
{
	char err[256] = "";
	struct net_backend *nb = open(pci_bus_machine(bus), arg, err,
				      sizeof(err));

	if (!nb)
		die("%s", err);
	virtio_net_new(bus, nb);
}

void virtio_net_add_tap(struct pci_bus *bus, const char *arg)
{
	add(bus, arg, tap_open);
}

void virtio_net_add_sharenet(struct pci_bus *bus, const char *arg)
{
	add(bus, arg, sharenet_open);
}

void virtio_net_add_user(struct pci_bus *bus, const char *arg)
{
	add(bus, arg, slirp_open);
}
