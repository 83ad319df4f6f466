/*
 * The TAP backend (--tunnet): the guest's frames go into the host kernel's
 * network stack through a TAP device, as in the original lguest.
 *
 * --tunnet=IPADDR makes a new TAP device, gives its host side IPADDR/24 and
 * brings it up; the guest is meant to take IPADDR+1 (the launcher tells it
 * so with an ip= kernel argument, see virtio_net_tunnet_ip_arg()).  Its MAC
 * is 02:4c followed by that guest address, so it is stable from run to run
 * and differs between guests on different addresses.
 * --tunnet=tap:NAME attaches to a TAP device someone else set up (or makes
 * one by that name, left unconfigured), and --tunnet=bridge:NAME makes a
 * new TAP device and adds it to an existing bridge: both leave addresses to
 * the user, and their MAC is 02:4c:47 and three bytes hashed from NAME.
 *
 * Frames for the guest wait in the TAP device's queue in the host kernel
 * (txqueuelen frames, then the kernel drops): we stop watching the fd while
 * the guest has no receive buffer, and watch it again when it posts some.
 *
 * Every frame crosses the device with a virtio-net header in front
 * (IFF_VNET_HDR), the same header the guest's driver writes: so the guest
 * may leave its checksums to the host kernel and send 64 KiB TCP frames
 * that the host kernel cuts up or takes whole (N:110); and once the
 * guest accepts receive offloads, frames to the guest come as 64 KiB TCP
 * segments with partial checksums too (N:127).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/sockios.h>

#include "net.h"
#include "virtio_net.h"

/* Frames taken from the device per wake-up: the guest runs in between. */
#define RX_BATCH	64

struct tap {
	struct net_backend nb;
	int fd;
	bool watching;
	char ifname[IFNAMSIZ];
	struct virtio_net_hdr_v1 hdr;	/* of the frame read last */
	u8 buf[NET_MAX_GSO_FRAME + 1];
	u8 gather[NET_MAX_GSO_FRAME];	/* a frame in too many pieces */
};

#define VNET_HDR_LEN	((int)sizeof(struct virtio_net_hdr_v1))

static void tap_readable(void *opaque, int fd, u32 events);

static void watch(struct tap *t, bool on)
{
	if (on && !t->watching)
		machine_add_fd(t->nb.m, t->fd, EPOLLIN, tap_readable, t);
	else if (!on && t->watching)
		machine_del_fd(t->nb.m, t->fd);
	t->watching = on;
}

/*N:125
 * Pulling (N:100) from a TAP device: read a frame only when the guest has
 * a buffer for it.  When it has none we stop watching the fd, so the run
 * loop does not wake for frames we will not take, and they wait in the
 * host kernel's queue; rx_resume watches it again.  At most 64 frames per
 * wake-up, so a flood from the host cannot keep the guest from running.
 */
static void tap_readable(void *opaque, int fd, u32 events)
{
	struct tap *t = opaque;
	const struct net_client *c = &t->nb.client;
	struct iovec iov[2] = {
		{ &t->hdr, VNET_HDR_LEN }, { t->buf, sizeof(t->buf) }
	};

	(void)events;
	for (int i = 0; i < RX_BATCH; i++) {
		ssize_t n;

		if (!c->can_receive(c->opaque)) {
			watch(t, false);
			return;
		}
		n = readv(fd, iov, 2) - VNET_HDR_LEN;
		if (n < 0)
			return;
		if (n <= NET_MAX_GSO_FRAME)
			c->receive(c->opaque, &t->hdr, t->buf, n);
	}
}
/* A frame longer than the guest can take (the TAP device's own MTU may
 * be larger) is read whole and dropped, never cut short: the NIC checks
 * the host kernel's header and the length against what the guest
 * negotiated (src/virtio/net.c). :*/

/*N:127
 * Receive offloads: once the guest's driver has said which it takes, the
 * TAP device is told (TUNSETOFFLOAD), and the host kernel then hands us
 * TCP segments of up to 64 KiB with their checksum left partial, or
 * marked as already checked, instead of cutting them into checksummed
 * 1500-byte frames.  A guest on a software CPU then runs its TCP stack
 * once per 64 KiB and never checksums a byte.  Segmentation needs the
 * checksum offload too, as the host kernel insists; after a reset the
 * device goes back to plain frames.
 */
static u64 tap_set_rx_offloads(struct net_backend *nb, u64 guest)
{
	struct tap *t = (struct tap *)nb;
	unsigned long tun = 0;
	u64 got = 0;

	if (guest & (1ull << VIRTIO_NET_F_GUEST_CSUM)) {
		tun |= TUN_F_CSUM;
		got |= 1ull << VIRTIO_NET_F_GUEST_CSUM;
		if (guest & (1ull << VIRTIO_NET_F_GUEST_TSO4)) {
			tun |= TUN_F_TSO4;
			got |= 1ull << VIRTIO_NET_F_GUEST_TSO4;
		}
		if (guest & (1ull << VIRTIO_NET_F_GUEST_TSO6)) {
			tun |= TUN_F_TSO6;
			got |= 1ull << VIRTIO_NET_F_GUEST_TSO6;
		}
		if ((tun & (TUN_F_TSO4 | TUN_F_TSO6)) &&
		    (guest & (1ull << VIRTIO_NET_F_GUEST_ECN))) {
			tun |= TUN_F_TSO_ECN;
			got |= 1ull << VIRTIO_NET_F_GUEST_ECN;
		}
	}
	if (ioctl(t->fd, TUNSETOFFLOAD, tun) < 0) {
		verbose("%s: receive offloads refused: %m", nb->what);
		ioctl(t->fd, TUNSETOFFLOAD, 0ul);
		return 0;
	}
	return got;
}
/* Frames the host kernel queued before a change keep the header they
 * were made with: the NIC checks each against what the guest took. :*/

static void tap_send_vnet(struct net_backend *nb,
			  const struct virtio_net_hdr_v1 *hdr,
			  const struct iovec *iov, unsigned int iovcnt)
{
	struct tap *t = (struct tap *)nb;
	struct iovec v[1 + 64];
	unsigned int n = 1;

	v[0] = (struct iovec){ (void *)hdr, VNET_HDR_LEN };
	/* A frame in more pieces than we pass to writev() (the guest's
	 * driver uses at most MAX_SKB_FRAGS + 2, but a driver may use a
	 * piece per byte) is gathered first.  The NIC let through no frame
	 * longer than NET_MAX_GSO_FRAME, so any it sends fits. */
	if (iovcnt >= ARRAY_SIZE(v)) {
		size_t len = 0;

		for (unsigned int i = 0; i < iovcnt; i++) {
			if (iov[i].iov_len > sizeof(t->gather) - len)
				return;
			memcpy(t->gather + len, iov[i].iov_base,
			       iov[i].iov_len);
			len += iov[i].iov_len;
		}
		v[n++] = (struct iovec){ t->gather, len };
	} else {
		memcpy(v + 1, iov, iovcnt * sizeof(*iov));
		n += iovcnt;
	}
	/* A full or downed device refuses the frame: it is dropped, and so
	 * is a header the host kernel finds wrong (EINVAL). */
	if (writev(t->fd, v, n) < 0)
		verbose("%s: frame dropped: %m", nb->what);
}

/* A plain frame: "nothing to do" in its header. */
static void tap_send(struct net_backend *nb, const void *frame, size_t len)
{
	static const struct virtio_net_hdr_v1 none;
	struct iovec v = { (void *)frame, len };

	tap_send_vnet(nb, &none, &v, 1);
}

static void tap_rx_resume(struct net_backend *nb)
{
	struct tap *t = (struct tap *)nb;

	if (!t->watching) {
		watch(t, true);
		tap_readable(t, t->fd, EPOLLIN);
	}
}

static void tap_free(struct net_backend *nb)
{
	struct tap *t = (struct tap *)nb;

	watch(t, false);
	close(t->fd);
	free(t);
}

static const struct net_backend_ops tap_ops = {
	.send = tap_send,
	.send_vnet = tap_send_vnet,
	.set_rx_offloads = tap_set_rx_offloads,
	.rx_resume = tap_rx_resume,
	.free = tap_free,
};

static u32 fnv1a(const char *s)
{
	u32 h = 2166136261u;

	while (*s)
		h = (h ^ (u8)*s++) * 16777619u;
	return h;
}

static void set_ifname(struct ifreq *ifr, const char *name)
{
	size_t n = strnlen(name, IFNAMSIZ - 1);

	memcpy(ifr->ifr_name, name, n);
	ifr->ifr_name[n] = 0;
}

/* "--tunnet=IPADDR": the address, or false if the value is not one. */
static bool parse_ip(const char *arg, struct in_addr *ip)
{
	char base[INET_ADDRSTRLEN];
	size_t len = strcspn(arg, ",");

	if (len >= sizeof(base))
		return false;
	memcpy(base, arg, len);
	base[len] = 0;
	return inet_pton(AF_INET, base, ip) == 1;
}

bool virtio_net_tunnet_ip_arg(const char *arg, char *buf, size_t len)
{
	struct in_addr host, guest;
	char h[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];

	if (!parse_ip(arg, &host))
		return false;
	guest.s_addr = htonl(ntohl(host.s_addr) + 1);
	inet_ntop(AF_INET, &host, h, sizeof(h));
	inet_ntop(AF_INET, &guest, g, sizeof(g));
	snprintf(buf, len, "ip=%s::%s:255.255.255.0::eth0:off", g, h);
	return true;
}

static int fail(char *err, size_t errlen, const char *what, int e)
{
	snprintf(err, errlen, "--tunnet: %s: %s%s", what, strerror(e),
		 e == EPERM || e == EACCES ? " (needs CAP_NET_ADMIN)" : "");
	return -1;
}

/* Opens /dev/net/tun and attaches to (or makes) a TAP device: name may be
 * a template ("lguest%d"). */
static int open_tap(struct tap *t, const char *name, char *err, size_t errlen)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int hdr_len = VNET_HDR_LEN;

	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		snprintf(err, errlen, "--tunnet: cannot open /dev/net/tun: %m");
		return -1;
	}
	set_ifname(&ifr, name);
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;

		close(t->fd);
		t->fd = -1;
		return fail(err, errlen, strchr(name, '%') ?
			    "cannot create a TAP device" :
			    "cannot attach to the TAP device", e);
	}
	memcpy(t->ifname, ifr.ifr_name, IFNAMSIZ);
	t->ifname[IFNAMSIZ - 1] = 0;
	/* The header as virtio 1.x lays it out (12 bytes, little-endian
	 * like this host), and no receive offloads: frames for the guest
	 * come checksummed and no longer than the device's MTU. */
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdr_len) < 0 ||
	    ioctl(t->fd, TUNSETOFFLOAD, 0ul) < 0) {
		int e = errno;

		close(t->fd);
		t->fd = -1;
		return fail(err, errlen, "cannot set the TAP device's virtio "
			    "header", e);
	}
	return 0;
}

/* SIOCSIFADDR and friends, on a throw-away socket. */
static int if_ioctl(unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r, e;

	if (s < 0)
		return -1;
	r = ioctl(s, req, ifr);
	e = errno;
	close(s);
	errno = e;
	return r;
}

static int set_addr(const char *ifname, unsigned long req, in_addr_t a)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

	set_ifname(&ifr, ifname);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = a;
	return if_ioctl(req, &ifr);
}

static int set_up(const char *ifname)
{
	struct ifreq ifr = { 0 };

	set_ifname(&ifr, ifname);
	if (if_ioctl(SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	ifr.ifr_flags |= IFF_UP;
	return if_ioctl(SIOCSIFFLAGS, &ifr);
}

static int add_to_bridge(const char *bridge, const char *ifname)
{
	struct ifreq ifr = { 0 };

	set_ifname(&ifr, bridge);
	ifr.ifr_ifindex = if_nametoindex(ifname);
	return if_ioctl(SIOCBRADDIF, &ifr);
}

/* Host side IPADDR/24, up.  The guest's address must be a host of that
 * /24 too. */
static int setup_ip(struct tap *t, struct in_addr ip, char *err,
		    size_t errlen)
{
	u32 h = ntohl(ip.s_addr);

	if ((h & 0xff) == 0 || (h & 0xff) >= 254) {
		snprintf(err, errlen, "--tunnet: the guest takes the next "
			 "address: IPADDR must end in .1 to .253");
		return -1;
	}
	if (set_addr(t->ifname, SIOCSIFADDR, ip.s_addr) < 0)
		return fail(err, errlen, "cannot set the TAP device's address",
			    errno);
	if (set_addr(t->ifname, SIOCSIFNETMASK, htonl(0xffffff00)) < 0)
		return fail(err, errlen, "cannot set the TAP device's netmask",
			    errno);
	t->nb.mac[0] = 0x02;
	t->nb.mac[1] = 0x4c;
	h++;
	for (int i = 0; i < 4; i++)
		t->nb.mac[2 + i] = h >> (24 - 8 * i);
	return 0;
}

static void hashed_mac(u8 mac[6], const char *name)
{
	u32 h = fnv1a(name);

	mac[0] = 0x02;
	mac[1] = 0x4c;
	mac[2] = 0x47;
	mac[3] = h >> 16;
	mac[4] = h >> 8;
	mac[5] = h;
}

/*N:120
 * The original lguest's network: a TAP device, a network interface on
 * the host whose other end is a file descriptor, so frames the guest sends
 * enter the host kernel's stack and frames the host routes there come
 * back out to the guest.  --tunnet=IPADDR makes a new device (lguest0,
 * lguest1, ...), gives its host side IPADDR/24 and brings it up, and the
 * guest is meant to take the next address; its MAC is 02:4c and that
 * address, stable from run to run.  tap:NAME and bridge:NAME leave
 * addresses to the user.  All of it needs CAP_NET_ADMIN, and every failure
 * says which step failed and why, before the guest starts.
 */
static int setup(struct tap *t, const char *arg, char *err, size_t errlen)
{
	char name[IFNAMSIZ + 8];
	size_t len = strcspn(arg, ",");
	struct in_addr ip;

	if (len >= sizeof(name))
		len = sizeof(name) - 1;
	memcpy(name, arg, len);
	name[len] = 0;
	if (!strncmp(name, "tap:", 4)) {
		if (!name[4] || strlen(name + 4) >= IFNAMSIZ ||
		    strchr(name + 4, '%'))
			goto bad;
		hashed_mac(t->nb.mac, name);
		return open_tap(t, name + 4, err, errlen);
	}
	if (!strncmp(name, "bridge:", 7)) {
		if (!name[7] || !if_nametoindex(name + 7)) {
			snprintf(err, errlen, "--tunnet: no bridge '%s'",
				 name + 7);
			return -1;
		}
		hashed_mac(t->nb.mac, name);
		if (open_tap(t, "lguest%d", err, errlen) < 0)
			return -1;
		if (add_to_bridge(name + 7, t->ifname) < 0)
			return fail(err, errlen, "cannot add the TAP device to "
				    "the bridge", errno);
	} else {
		if (!parse_ip(arg, &ip))
			goto bad;
		if (open_tap(t, "lguest%d", err, errlen) < 0 ||
		    setup_ip(t, ip, err, errlen) < 0)
			return -1;
	}
	if (set_up(t->ifname) < 0)
		return fail(err, errlen, "cannot bring the TAP device up",
			    errno);
	return 0;
bad:
	snprintf(err, errlen, "--tunnet: '%s' is not an IPv4 address, "
		 "tap:NAME or bridge:NAME", name);
	return -1;
}
/* Forwarding and masquerading to the world are the host's business, not
 * the launcher's: the guide gives the two commands. :*/

struct net_backend *tap_open(struct machine *m, const char *arg, char *err,
			     size_t errlen)
{
	struct tap *t = calloc(1, sizeof(*t));
	char mac[32];

	if (!t)
		abort();
	t->fd = -1;
	t->nb = (struct net_backend){
		.ops = &tap_ops, .m = m, .what = "--tunnet",
		.offloads = NET_TX_OFFLOADS | NET_RX_OFFLOADS,
	};
	if (setup(t, arg, err, errlen) < 0)
		goto fail;
	if (net_opt(arg, "mac", mac, sizeof(mac)) &&
	    net_parse_mac(mac, t->nb.mac) < 0) {
		snprintf(err, errlen, "--tunnet: '%s' is not a unicast MAC "
			 "address", mac);
		goto fail;
	}
	verbose("--tunnet: TAP device %s", t->ifname);
	watch(t, true);
	return &t->nb;
fail:
	if (t->fd >= 0)
		close(t->fd);
	free(t);
	return NULL;
}

const char *tap_ifname(struct net_backend *nb)
{
	return ((struct tap *)nb)->ifname;
}
