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
 * sharenet cell and a plain receive buffer).  No checksum or segmentation
 * offload: the guest computes its own checksums and sends frames no longer
 * than the MTU, so every virtio_net_hdr we see must say "nothing to do",
 * and every one we write says the same.  Without VIRTIO_NET_F_MRG_RXBUF each
 * frame goes into one receive chain, header first.
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
/* The configuration up to and including the MTU. */
#define CONFIG_LEN	offsetof(struct virtio_net_config, speed)

struct virtio_net {
	struct virtio_dev *vd;
	struct net_backend *nb;
	struct virtio_net_config cfg;
	struct vq_elem *rx, *tx;
	bool rx_held;		/* rx holds a chain popped for the next frame */
	u64 rx_dropped, tx_dropped;
	u8 frame[HDR_LEN + NET_MAX_FRAME];
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
 * for an offload we never offered, or a frame longer than the MTU we
 * announced, is a driver bug: the frame is dropped (and counted), the
 * chain returned, the guest lives on.
 */
static bool tx_hdr_ok(const struct virtio_net_hdr_v1 *h)
{
	return h->flags == 0 && h->gso_type == VIRTIO_NET_HDR_GSO_NONE;
}

static void tx_one(struct virtio_net *n, const struct vq_elem *e)
{
	struct virtio_net_hdr_v1 hdr;
	u64 len;

	if (e->out_len < HDR_LEN + 14 || e->out_len > sizeof(n->frame)) {
		n->tx_dropped++;
		return;
	}
	len = vq_elem_read(e, 0, n->frame, e->out_len);
	memcpy(&hdr, n->frame, HDR_LEN);
	if (len != e->out_len || !tx_hdr_ok(&hdr)) {
		n->tx_dropped++;
		return;
	}
	n->nb->ops->send(n->nb, n->frame + HDR_LEN, len - HDR_LEN);
}

static void do_tx(struct virtio_net *n)
{
	struct virtqueue *vq = virtio_vq(n->vd, TX_QUEUE);
	bool pushed = false;

	while (vq_pop(vq, n->tx) > 0) {
		tx_one(n, n->tx);
		vq_push(vq, n->tx, 0);
		pushed = true;
	}
	if (pushed)
		vq_notify_guest(vq);
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
}

static void net_free(struct virtio_dev *vd)
{
	struct virtio_net *n = virtio_opaque(vd);

	n->nb->ops->free(n->nb);
	free(n->rx);
	free(n->tx);
	free(n);
}

/*N:110
 * The network card offers the fewest features a Linux driver is happy
 * with: a MAC, a link status that is always up, and an MTU of 1500.  No
 * checksum offload and no segmentation offload, because each would have
 * us compute checksums or cut up 64 KiB frames on the host for every
 * backend, and because a frame no larger than the MTU always fits a
 * sharenet cell and a plain receive buffer.  The guest computes its own
 * checksums.  So every header the guest sends must say "nothing to do"
 * (tx_hdr_ok() above), and every one we write says the same.  No
 * mergeable receive buffers either: each frame goes into one receive
 * chain, header first.
 */
static const struct virtio_dev_ops net_ops = {
	.name = "virtio-net",
	.type = VIRTIO_ID_NET,
	.class_code = 0x020000,		/* network, Ethernet */
	.features = (1ull << VIRTIO_NET_F_MAC) |
		    (1ull << VIRTIO_NET_F_STATUS) |
		    (1ull << VIRTIO_NET_F_MTU),
	.nr_queues = 2,
	.queue_max = QUEUE_MAX,
	.config_len = CONFIG_LEN,
	.notify = net_notify,
	.reset = net_reset,
	.free = net_free,
};
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
	n->vd = virtio_pci_add(bus, &net_ops, n, (u8 *)&n->cfg);
	n->rx = vq_elem_new(virtio_vq(n->vd, RX_QUEUE));
	n->tx = vq_elem_new(virtio_vq(n->vd, TX_QUEUE));
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
