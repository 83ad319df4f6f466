/*
 * Fuzz target: virtio-net (src/virtio/net.c) through the PCI transport
 * and the virtqueue, driven by a scripted guest (fuzz_guest.h), on a
 * backend of our own that plays the host's network.  The first byte of
 * the input says what the backend takes: every offload (as a TAP device
 * does), partial checksums with an MTU of 65535 (as a sharenet file
 * does), or plain frames (user networking); FG_HOST hands the guest a
 * frame from the host, with a header of the fuzzer's choosing (checked
 * by the NIC, which may finish its checksum), as a backend does once the
 * NIC says the guest has room.
 *
 * The backend checks what the NIC promises it: a plain frame is an
 * Ethernet frame no longer than the MTU allows; with offloads, the header
 * asks only for what the backend takes, and the frame's pieces lie in
 * guest RAM and add up to no more than NET_MAX_GSO_FRAME (the MTU's
 * frame without segmentation).
 */
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_net.h>

#include "fuzz_guest.h"
#include "net/net.h"
#include "net/virtio_net.h"

struct fake {
	struct net_backend nb;
	struct fguest *g;
	u8 last[NET_MAX_FRAME];
};

static size_t max_frame(const struct net_backend *nb)
{
	return (nb->mtu ? nb->mtu : NET_MTU) + 18;
}

static void fake_send(struct net_backend *nb, const void *frame, size_t len)
{
	struct fake *f = (struct fake *)nb;

	if (nb->offloads)
		fuzz_fail("plain send on a backend with offloads");
	if (len < 14 || len > max_frame(nb))
		fuzz_fail("a %zu-byte frame sent", len);
	memcpy(f->last, frame, len < NET_MAX_FRAME ? len : NET_MAX_FRAME);
}

static bool in_ram(const struct guest_mem *mem, const void *p, size_t len)
{
	const u8 *b = p;

	return b >= mem->base && len <= mem->size &&
	       (size_t)(b - mem->base) <= mem->size - len;
}

static void fake_send_vnet(struct net_backend *nb,
			   const struct virtio_net_hdr_v1 *hdr,
			   const struct iovec *iov, unsigned int iovcnt)
{
	struct fake *f = (struct fake *)nb;
	u64 total = 0;

	if (!nb->offloads)
		fuzz_fail("send_vnet on a backend without offloads");
	if (hdr->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		fuzz_fail("header flags %#x passed on", hdr->flags);
	for (unsigned int i = 0; i < iovcnt; i++) {
		if (!in_ram(&f->g->mem, iov[i].iov_base, iov[i].iov_len))
			fuzz_fail("a frame piece outside guest RAM");
		/* Touch it all, as a TAP device's writev would. */
		if (iov[i].iov_len)
			memcpy(f->last, iov[i].iov_base, 1);
		total += iov[i].iov_len;
	}
	if (total > (hdr->gso_type ? NET_MAX_GSO_FRAME : max_frame(nb)))
		fuzz_fail("a %llu-byte frame sent", (unsigned long long)total);
	if (hdr->gso_type &&
	    !(nb->offloads & (1ull << VIRTIO_NET_F_HOST_TSO4)))
		fuzz_fail("a TCP segment for a backend that cannot cut it");
}

static void fake_rx_resume(struct net_backend *nb)
{
	(void)nb;
}

static void fake_free(struct net_backend *nb)
{
	free(nb);
}

/* The NIC tells a backend with offloads what the guest accepted on
 * receive: this one takes all of it, as a TAP device does. */
static u64 fake_set_rx_offloads(struct net_backend *nb, u64 guest)
{
	if (!nb->offloads)
		fuzz_fail("receive offloads set on a backend without offloads");
	if (guest & ~(nb->offloads & NET_RX_OFFLOADS))
		fuzz_fail("receive offloads %#llx asked for",
			  (unsigned long long)guest);
	return guest;
}

static const struct net_backend_ops fake_ops = {
	.send = fake_send,
	.send_vnet = fake_send_vnet,
	.set_rx_offloads = fake_set_rx_offloads,
	.rx_resume = fake_rx_resume,
	.free = fake_free,
};

/* A frame from the host, if the guest has room: plain, or (from a
 * backend with offloads) with a header of the fuzzer's choosing, up to a
 * 64 KiB TCP segment, which the NIC must check against what the guest
 * negotiated and spread over mergeable buffers. */
static void frame_in(struct fguest *g, struct fuzz_in *in)
{
	static u8 frame[NET_MAX_GSO_FRAME + 16];
	struct net_backend *nb = g->dev.opaque;
	struct virtio_net_hdr_v1 hdr = { 0 };
	u8 kind = in_u8(in);
	size_t len = in_u16(in);

	if (kind & 1)
		len += (size_t)(kind >> 1) * 1024;
	len %= sizeof(frame);
	memset(frame, 0xab, len);
	in_bytes(in, frame, len < 64 ? len : 64);
	in_bytes(in, &hdr, sizeof(hdr));
	if (nb->client.can_receive(nb->client.opaque))
		nb->client.receive(nb->client.opaque,
				   nb->offloads && (kind & 1) ? &hdr : NULL,
				   frame, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fguest *g = fg_new();
	struct fake *f = calloc(1, sizeof(*f));
	u8 kind = in_u8(&in);

	if (!f)
		abort();
	f->g = g;
	f->nb = (struct net_backend){ .ops = &fake_ops, .m = g->m,
				      .mac = { 2, 0, 0, 0, 0, 1 },
				      .what = "fuzz" };
	if (kind & 1) {
		f->nb.offloads = NET_TX_OFFLOADS | NET_RX_OFFLOADS;
	} else if (kind & 2) {
		f->nb.offloads = (1ull << VIRTIO_NET_F_CSUM) |
				 (1ull << VIRTIO_NET_F_GUEST_CSUM);
		f->nb.mtu = 65535;
	}
	g->dev = (struct fg_device){ .name = "virtio-net", .host = frame_in,
				     .opaque = &f->nb };
	virtio_net_new(g->bus, &f->nb);
	fg_run(g, &in);
	fg_free(g);
	return 0;
}
