/*
 * Network backends: where the frames of a virtio NIC go on the host.
 *
 * The NIC (src/virtio/net.c) speaks virtio to the guest and knows nothing
 * of the host; a backend moves Ethernet frames between the NIC and one
 * host network:
 *
 *	tap.c		a TAP device (--tunnet): the host kernel's stack
 *	sharenet.c	a shared mmap'd file (--sharenet): guest to guest
 *	slirp.c		libslirp (--net=user): a private NAT, no root
 *
 * Frames from the guest go out with ops->send(), which never blocks: a
 * frame the host cannot take now is dropped, as a wire would.  A backend
 * whose host side can finish checksums or cut up large TCP frames (the
 * TAP device; a sharenet file, whose receivers finish checksums) says so
 * (offloads) and takes frames with their virtio-net header instead
 * (ops->send_vnet), and hands frames to the guest with one: the guests
 * then move 64 KiB at a time without checksumming it, which on a
 * software CPU is most of the cost of a byte.  Frames for
 * the guest are pulled, not pushed: the backend asks the NIC whether the
 * guest has a receive buffer (client.can_receive) and only then takes a
 * frame from its own bounded queue (the TAP device's queue in the host
 * kernel, the senders' rings in the shared file) and hands it over with
 * client.receive.  When the guest has no buffer the frame waits there, and
 * when that queue is full the host side drops it.  The NIC calls
 * ops->rx_resume() when the guest posts buffers again.  Nothing grows
 * without bound, and nothing blocks the run loop.
 *
 * Constructors check everything the user gave before the guest starts:
 * they return NULL with one line (without "lguest: ") in err on failure.
 */
#ifndef LGUEST_NET_NET_H
#define LGUEST_NET_NET_H

#include <stddef.h>
#include <sys/uio.h>

#include <linux/virtio_net.h>

#include "../machine.h"
#include "../types.h"

#define ETH_ALEN_	6
/* The usual MTU (a backend may announce a larger one, net_backend.mtu),
 * and its largest frame: the Ethernet header and one VLAN tag more. */
#define NET_MTU		1500
#define NET_MAX_FRAME	(NET_MTU + 14 + 4)
/* The largest frame with segmentation offload: a 64 KiB IP packet (the
 * most a GSO frame may carry) and the Ethernet header with a VLAN tag. */
#define NET_MAX_GSO_FRAME	(65535 + 14 + 4)
/* The transmit offloads a backend with offloads takes: partial checksums
 * and TCP segmentation (IPv4, IPv6, with ECN), as a TAP device does. */
#define NET_TX_OFFLOADS	((1ull << VIRTIO_NET_F_CSUM) |			\
			 (1ull << VIRTIO_NET_F_HOST_TSO4) |		\
			 (1ull << VIRTIO_NET_F_HOST_TSO6) |		\
			 (1ull << VIRTIO_NET_F_HOST_ECN))
/* The receive offloads such a backend may take (set_rx_offloads): frames
 * for the guest with their checksum left to it (or already checked), and
 * TCP segments of up to 64 KiB that the guest need not reassemble. */
#define NET_RX_OFFLOADS	((1ull << VIRTIO_NET_F_GUEST_CSUM) |	\
			 (1ull << VIRTIO_NET_F_GUEST_TSO4) |	\
			 (1ull << VIRTIO_NET_F_GUEST_TSO6) |	\
			 (1ull << VIRTIO_NET_F_GUEST_ECN))

/*N:100
 * The last chapter is about where a guest's frames go, and it rests on
 * one rule: frames for the guest are pulled, not pushed.  A backend never
 * hands the NIC a frame the guest has no buffer for; it asks first
 * (can_receive) and otherwise leaves the frame in its own bounded queue:
 * the TAP device's queue in the host kernel, the senders' rings in a
 * sharenet file.  When that fills, the host side drops, as a switch does.
 * Frames from the guest go the other way with send(), which never blocks
 * and drops what the host cannot take now.  So nothing grows without
 * bound in lguest, nothing ever blocks the run loop, and a guest that
 * stops reading its network costs the host nothing.
 */
/* The NIC, as a backend sees it. */
struct net_client {
	void *opaque;
	/* True if the guest has receive buffers ready now for the largest
	 * frame the backend may hand over (64 KiB and a bit once receive
	 * segmentation offload is on, else NET_MAX_FRAME). */
	bool (*can_receive)(void *opaque);
	/* Hands one frame to the guest.  hdr is the host side's virtio-net
	 * header for it (a backend with offloads), or NULL for a plain,
	 * fully checksummed frame; the NIC checks it against what the guest
	 * negotiated.  False if the frame was dropped (no buffer, a buffer
	 * too small, or a header the guest cannot take). */
	bool (*receive)(void *opaque, const struct virtio_net_hdr_v1 *hdr,
			const void *frame, size_t len);
};

struct net_backend;

struct net_backend_ops {
	/* One frame from the guest; dropped if the host cannot take it. */
	void (*send)(struct net_backend *nb, const void *frame, size_t len);
	/* For a backend with offloads (below): one frame from the guest
	 * with its virtio-net header, already checked against what was
	 * negotiated; with segmentation offload the frame may be up to
	 * NET_MAX_GSO_FRAME long.  The iovecs point into guest RAM. */
	void (*send_vnet)(struct net_backend *nb,
			  const struct virtio_net_hdr_v1 *hdr,
			  const struct iovec *iov, unsigned int iovcnt);
	/* For a backend with offloads: the guest accepted these receive
	 * offloads (NET_RX_OFFLOADS bits; 0 after a reset).  Returns the
	 * ones the host side will now use: frames that follow may need
	 * them, frames already queued may still need the old ones. */
	u64 (*set_rx_offloads)(struct net_backend *nb, u64 guest);
	/* The guest posted receive buffers: deliver what waits. */
	void (*rx_resume)(struct net_backend *nb);
	/* Closes everything (the NIC is going away). */
	void (*free)(struct net_backend *nb);
};
/* rx_resume is the other half of pulling: the NIC calls it when the
 * guest posts receive buffers, and the backend delivers what waited. :*/

struct net_backend {
	const struct net_backend_ops *ops;
	struct machine *m;
	struct net_client client;	/* set by the NIC before rx starts */
	u8 mac[6];		/* the guest's MAC, chosen by the backend */
	const char *what;	/* "--tunnet" ...: for messages */
	/* The offloads the host side takes (VIRTIO_NET_F_* bits among
	 * NET_TX_OFFLOADS and NET_RX_OFFLOADS): a TAP device all of them,
	 * a sharenet file partial checksums both ways.  The NIC offers
	 * these to the guest and, if any, hands every frame over with its
	 * header (send_vnet).  0: plain frames, send. */
	u64 offloads;
	/* The MTU the NIC announces (0: NET_MTU); frames may be up to
	 * mtu + 18 bytes without segmentation offload. */
	u16 mtu;
};

/* Parses "aa:bb:cc:dd:ee:ff" (a unicast address).  Returns 0 or -1. */
int net_parse_mac(const char *s, u8 mac[6]);

/* Splits "base,key=val,key=val": looks for key in the options after the
 * first comma.  Copies its value to out (NUL-terminated) and returns true
 * if found.  Used by every backend for the mac= suffix. */
bool net_opt(const char *arg, const char *key, char *out, size_t outlen);

/*
 * The backends.  arg is the option's value as the user wrote it.
 */

/* --tunnet=IPADDR[,mac=M]: a new TAP device whose host side gets IPADDR/24
 * and is brought up; the guest is meant to take IPADDR+1.
 * --tunnet=tap:NAME[,mac=M]: the existing (or new) TAP device NAME, as is.
 * --tunnet=bridge:NAME[,mac=M]: a new TAP device added to bridge NAME. */
struct net_backend *tap_open(struct machine *m, const char *arg, char *err,
			     size_t errlen);
/* The TAP device's name (tests). */
const char *tap_ifname(struct net_backend *nb);

/* --sharenet=FILE[,mac=M][,promisc]: a slot in the shared file. */
struct net_backend *sharenet_open(struct machine *m, const char *arg,
				  char *err, size_t errlen);
/* The slot taken in the file (tests). */
int sharenet_slot(struct net_backend *nb);

/* --net=user[,hostfwd=tcp:HADDR:HPORT-GADDR:GPORT]...[,mac=M]. */
struct net_backend *slirp_open(struct machine *m, const char *arg, char *err,
			       size_t errlen);

#endif
