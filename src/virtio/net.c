/*
 * virtio-net: the guest's Ethernet card.
 *
 * Two queues, as the spec numbers them: 0 receives (the guest posts empty
 * buffers, we fill them with frames), 1 transmits (the guest posts frames,
 * we hand them to the host).  Where the frames go is the backend's business
 * (src/net/: a TAP device, a shared file, user networking); this file only
 * speaks virtio.
 *
 * We offer the MAC, a link that is always up, the backend's MTU (1500, or
 * 65535 on a sharenet segment), mergeable receive buffers, and the
 * offloads the backend's host side takes (N:110): partial checksums and
 * TCP segmentation both ways on a TAP device, partial checksums on a
 * sharenet file.  Frame and header go to the backend as they are, after
 * the header is checked against what was negotiated; a header from the
 * backend is checked the same way before the guest sees it (N:112).
 * Without VIRTIO_NET_F_MRG_RXBUF each frame goes into one receive chain,
 * header first; with it, over as many chains as it needs.
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
	struct vq_elem *tx;
	struct vq_elem *rxq[QUEUE_MAX];	/* chains popped, then spares */
	unsigned int rx_n;	/* chains popped, not yet used */
	u64 rx_room;		/* their writable bytes */
	bool rx_set;		/* the backend was told the rx offloads */
	bool rx_gso;		/* it may hand over 64 KiB TCP segments */
	struct iovec *tx_iov;	/* a transmit frame's pieces, for send_vnet */
	struct timer *tx_timer;	/* returns the sent chains (N:115) */
	u16 tx_held[QUEUE_MAX];	/* heads of chains sent, not yet returned */
	unsigned int nr_held;
	u64 rx_dropped, tx_dropped;
	struct virtio_dev_ops ops;	/* features follow the backend's */
	u8 frame[NET_MAX_GSO_FRAME];
};

/* The longest frame without segmentation offload: the backend's MTU (the
 * one we announce), the Ethernet header and a VLAN tag. */
static u64 max_frame(const struct virtio_net *n)
{
	return (n->nb->mtu ? n->nb->mtu : NET_MTU) + 14 + 4;
}

u64 virtio_net_rx_dropped(struct virtio_net *n)
{
	return n->rx_dropped;
}

u64 virtio_net_tx_dropped(struct virtio_net *n)
{
	return n->tx_dropped;
}

/*N:112
 * Receiving.  The backend asks whether the guest has room for the largest
 * frame it may hand over, then gives one frame.  We pop chains ahead into
 * a pool and keep them until frames come.  Without mergeable buffers a
 * frame goes into one chain, header first.  With them
 * (VIRTIO_NET_F_MRG_RXBUF) the guest posts small buffers and a frame
 * spreads over as many chains as it needs, the header's num_buffers
 * saying how many: that is how a 64 KiB TCP segment from the host
 * (receive offload, below) reaches a guest that posts page-sized buffers.
 * "Room" is the sum of the pooled chains' writable bytes, so a backend
 * reads a frame only when it will fit: nothing is read to be dropped
 * while the guest is merely slow to post buffers.  The pool holds at
 * most a queue's worth of chains, which the held bits (V:130) bound too.
 */
static bool has(struct virtio_net *n, unsigned int bit)
{
	return virtio_has_feature(n->vd, bit);
}

/* The largest header and frame the backend may give us now. */
static u64 rx_need(const struct virtio_net *n)
{
	return HDR_LEN + (n->rx_gso ? NET_MAX_GSO_FRAME : max_frame(n));
}

/* Pops chains into the pool until it holds need bytes of room (or just
 * one chain without mergeable buffers).  False if it still does not. */
static bool rx_fill(struct virtio_net *n, u64 need)
{
	struct virtqueue *vq = virtio_vq(n->vd, RX_QUEUE);
	bool mrg = has(n, VIRTIO_NET_F_MRG_RXBUF);

	while (n->rx_n < QUEUE_MAX && (mrg ? n->rx_room < need : !n->rx_n)) {
		if (!n->rxq[n->rx_n])
			n->rxq[n->rx_n] = vq_elem_new(vq);
		if (vq_pop(vq, n->rxq[n->rx_n]) <= 0)
			break;
		n->rx_room += n->rxq[n->rx_n]->in_len;
		n->rx_n++;
	}
	return mrg ? n->rx_room >= need : n->rx_n > 0;
}

static bool net_can_receive(void *opaque)
{
	struct virtio_net *n = opaque;

	if (!virtio_driver_ok(n->vd) || !vq_ready(virtio_vq(n->vd, RX_QUEUE)))
		return false;
	return rx_fill(n, rx_need(n));
}

/*
 * The host side's header (a TAP device's, from the host kernel; a
 * sharenet peer's, who is hostile) is checked before the guest sees it:
 * a partial checksum inside the frame; a TCP segment only of the kinds
 * the guest takes, with a segment size.  Anything else is a frame this
 * guest cannot take (it may have been queued before the guest
 * renegotiated): dropped.  A partial checksum for a guest that did not
 * accept GUEST_CSUM is finished here (rx_csum() below), and "data valid"
 * is kept only for a guest that understands it.
 */
static bool rx_hdr_ok(struct virtio_net *n,
		      const struct virtio_net_hdr_v1 *h, size_t len)
{
	u8 gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	if (h->flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM |
			 VIRTIO_NET_HDR_F_DATA_VALID))
		return false;
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (u64)le16toh(h->csum_start) + le16toh(h->csum_offset) + 2 > len)
		return false;
	if (gso == VIRTIO_NET_HDR_GSO_NONE)
		return h->gso_type == VIRTIO_NET_HDR_GSO_NONE &&
		       len <= max_frame(n);
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
	    !has(n, VIRTIO_NET_F_GUEST_ECN))
		return false;
	if (!(gso == VIRTIO_NET_HDR_GSO_TCPV4 &&
	      has(n, VIRTIO_NET_F_GUEST_TSO4)) &&
	    !(gso == VIRTIO_NET_HDR_GSO_TCPV6 &&
	      has(n, VIRTIO_NET_F_GUEST_TSO6)))
		return false;
	return (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && h->gso_size &&
	       len <= NET_MAX_GSO_FRAME;
}

/* The Internet checksum of the frame from csum_start to its end, put at
 * csum_start + csum_offset, where the sender left the pseudo-header's
 * sum (what the host kernel does for a device without the offload).
 * rx_hdr_ok() checked that both lie in the frame. */
static void rx_csum(u8 *f, size_t len, const struct virtio_net_hdr_v1 *h)
{
	size_t start = le16toh(h->csum_start);
	size_t at = start + le16toh(h->csum_offset);
	u64 sum = 0;
	u16 r;

	for (size_t i = start; i + 1 < len; i += 2)
		sum += (u32)f[i] << 8 | f[i + 1];
	if ((len - start) & 1)
		sum += (u32)f[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	r = ~sum & 0xffff;
	if (!r)
		r = 0xffff;	/* 0 means "no checksum" to UDP */
	f[at] = r >> 8;
	f[at + 1] = r;
}

/* Puts the first count chains of the pool on the used ring, each with
 * its share of total bytes, and moves their elements to the pool's end
 * for reuse. */
static void rx_push(struct virtio_net *n, unsigned int count, u64 total)
{
	struct virtqueue *vq = virtio_vq(n->vd, RX_QUEUE);
	struct vq_elem *used[QUEUE_MAX];

	for (unsigned int i = 0; i < count; i++) {
		struct vq_elem *e = n->rxq[i];
		u64 chunk = e->in_len < total ? e->in_len : total;

		vq_push(vq, e, chunk);
		total -= chunk;
		n->rx_room -= e->in_len;
		used[i] = e;
	}
	memmove(n->rxq, n->rxq + count,
		(QUEUE_MAX - count) * sizeof(n->rxq[0]));
	memcpy(n->rxq + QUEUE_MAX - count, used, count * sizeof(used[0]));
	n->rx_n -= count;
}

static bool net_receive(void *opaque, const struct virtio_net_hdr_v1 *hdr,
			const void *frame, size_t len)
{
	struct virtio_net *n = opaque;
	struct virtio_net_hdr_v1 h = { 0 };
	u64 total = HDR_LEN + len, off = HDR_LEN;
	unsigned int count = 0;

	if (hdr)
		h = *hdr;
	if (len < 14 || !rx_hdr_ok(n, &h, len) || !rx_fill(n, total) ||
	    n->rxq[0]->in_len < HDR_LEN ||
	    (has(n, VIRTIO_NET_F_MRG_RXBUF) ? n->rx_room
					    : n->rxq[0]->in_len) < total) {
		/* Buffers too small for this frame may fit the next one:
		 * keep them. */
		n->rx_dropped++;
		return false;
	}
	if (!has(n, VIRTIO_NET_F_GUEST_CSUM)) {
		if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
			memcpy(n->frame, frame, len);
			rx_csum(n->frame, len, &h);
			frame = n->frame;
		}
		h.flags = 0;
	}
	/* The frame, then the header with the count of chains it took. */
	while (off < total && count < n->rx_n) {
		const struct vq_elem *e = n->rxq[count];
		u64 skip = count ? 0 : HDR_LEN;

		if (e->in_len > skip)
			off += vq_elem_write(e, skip, (const u8 *)frame +
					     off - HDR_LEN, total - off);
		count++;
	}
	h.num_buffers = htole16(count);
	vq_elem_write(n->rxq[0], 0, &h, HDR_LEN);
	rx_push(n, count, total);
	vq_notify_guest(virtio_vq(n->vd, RX_QUEUE));
	return true;
}
/* The header goes in last, once the count of chains is known: the guest
 * reads none of it before the used index moves (vq_push()). :*/

/*
 * Transmitting: each chain is a header and one frame.  A header that asks
 * for an offload that was not negotiated, a checksum position outside the
 * frame, or a frame longer than the MTU we announced (64 KiB with
 * segmentation offload) is a driver bug: the frame is dropped (and
 * counted), the chain returned, the guest lives on.
 */
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
		       len <= max_frame(n);
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

/* Once the driver is ready: which receive offloads the backend may use
 * (the guest accepted them, and its host side can). */
static void rx_offloads(struct virtio_net *n)
{
	u64 want = 0, got;

	if (n->rx_set || !n->nb->offloads || !n->nb->ops->set_rx_offloads)
		return;
	for (unsigned int bit = 0; bit < 64; bit++)
		if ((NET_RX_OFFLOADS & (1ull << bit)) && has(n, bit))
			want |= 1ull << bit;
	got = n->nb->ops->set_rx_offloads(n->nb, want) & want;
	n->rx_gso = got & ((1ull << VIRTIO_NET_F_GUEST_TSO4) |
			   (1ull << VIRTIO_NET_F_GUEST_TSO6));
	n->rx_set = true;
}

static void net_notify(struct virtio_dev *vd, struct virtqueue *vq)
{
	struct virtio_net *n = virtio_opaque(vd);

	rx_offloads(n);
	if (vq_index(vq) == TX_QUEUE)
		do_tx(n);
	else
		n->nb->ops->rx_resume(n->nb);
}

static void net_reset(struct virtio_dev *vd)
{
	struct virtio_net *n = virtio_opaque(vd);

	n->rx_n = 0;
	n->rx_room = 0;
	n->nr_held = 0;
	if (n->rx_set && n->nb->offloads && n->nb->ops->set_rx_offloads)
		n->nb->ops->set_rx_offloads(n->nb, 0);
	n->rx_set = false;
	n->rx_gso = false;
	timer_del(n->tx_timer);
}

static void net_free(struct virtio_dev *vd)
{
	struct virtio_net *n = virtio_opaque(vd);

	timer_del(n->tx_timer);
	n->nb->ops->free(n->nb);
	for (unsigned int i = 0; i < QUEUE_MAX; i++)
		free(n->rxq[i]);
	free(n->tx);
	free(n->tx_iov);
	free(n);
}

/*N:110
 * The network card offers what a Linux driver is happy with: a MAC, a
 * link status that is always up, the backend's MTU (1500, or 65535 on a
 * sharenet segment, N:131), and mergeable receive buffers (N:112); and,
 * as far as the backend's host side can take them, the offloads: partial
 * checksums both ways (TAP, sharenet), and TCP segmentation both ways
 * (TAP: the host kernel cuts up or takes whole what the guest sends, and
 * hands it 64 KiB segments).  Those are most of the speed of a network on
 * a software CPU: every byte the guest checksums and every 1500-byte
 * frame it pushes through its TCP stack and driver costs dearly, and with
 * them the guest checksums nothing and moves 64 KiB per frame.  We never
 * cut up a frame ourselves: a backend without segmentation gets no
 * segmentation offload, and every header the guest sends it is checked
 * against what was negotiated (tx_hdr_ok() above).  The one thing we
 * finish for the guest is a partial checksum from a sharenet peer for a
 * guest that did not accept GUEST_CSUM (rx_csum()).
 */
static const struct virtio_dev_ops net_ops = {
	.name = "virtio-net",
	.type = VIRTIO_ID_NET,
	.class_code = 0x020000,		/* network, Ethernet */
	.features = (1ull << VIRTIO_NET_F_MAC) |
		    (1ull << VIRTIO_NET_F_STATUS) |
		    (1ull << VIRTIO_NET_F_MTU) |
		    (1ull << VIRTIO_NET_F_MRG_RXBUF),
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
	n->cfg.mtu = htole16(nb->mtu ? nb->mtu : NET_MTU);
	n->ops = net_ops;
	n->ops.features |= nb->offloads & (NET_TX_OFFLOADS | NET_RX_OFFLOADS);
	n->tx_timer = timer_new(pci_bus_machine(bus), tx_timer_fire, n);
	n->vd = virtio_pci_add(bus, &n->ops, n, (u8 *)&n->cfg);
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
