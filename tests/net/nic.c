/*
 * The network tests' guest and run loop: see nic.h.
 */
#include <poll.h>
#include <stdlib.h>
#include <time.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "nic.h"

#define MAX_WATCH	64
#define MAX_MACHINES	16

struct watch {
	struct machine *m;
	int fd;
	fd_fn fn;
	void *opaque;
};

static struct watch watches[MAX_WATCH];
static int nwatch;
static struct machine *machines[MAX_MACHINES];

void __real_machine_add_fd(struct machine *m, int fd, u32 events, fd_fn fn,
			   void *opaque);
void __real_machine_del_fd(struct machine *m, int fd);

void __wrap_machine_add_fd(struct machine *m, int fd, u32 events, fd_fn fn,
			   void *opaque)
{
	int i;

	__real_machine_add_fd(m, fd, events, fn, opaque);
	for (i = 0; i < nwatch; i++)
		if (watches[i].m == m && watches[i].fd == fd)
			break;
	if (i == nwatch) {
		if (nwatch == MAX_WATCH)
			abort();
		nwatch++;
	}
	watches[i] = (struct watch){ m, fd, fn, opaque };
}

void __wrap_machine_del_fd(struct machine *m, int fd)
{
	__real_machine_del_fd(m, fd);
	for (int i = 0; i < nwatch; i++)
		if (watches[i].m == m && watches[i].fd == fd) {
			watches[i] = watches[--nwatch];
			return;
		}
}

static u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static void loop_once(int timeout_ms)
{
	struct pollfd p[MAX_WATCH];
	struct watch w[MAX_WATCH];
	int n = nwatch;

	for (int i = 0; i < MAX_MACHINES; i++)
		if (machines[i])
			machine_run_timers(machines[i]);
	/* Callbacks may change the list: call from a copy, and only those
	 * still watched. */
	memcpy(w, watches, n * sizeof(w[0]));
	for (int i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = w[i].fd, .events = POLLIN };
	if (poll(p, n, timeout_ms) <= 0)
		return;
	for (int i = 0; i < n; i++) {
		bool still = false;

		if (!p[i].revents)
			continue;
		for (int j = 0; j < nwatch; j++)
			still |= watches[j].fd == w[i].fd &&
				 watches[j].m == w[i].m;
		if (still)
			w[i].fn(w[i].opaque, w[i].fd, p[i].revents);
	}
}

bool loop_run(int ms, bool (*done)(void *), void *arg)
{
	u64 end = now_ms() + ms;

	do {
		if (done && done(arg))
			return true;
		loop_once(1);
	} while (now_ms() < end);
	return done && done(arg);
}

/* The machines' clock: the host's, as no CPU counts instructions here
 * (the NIC's transmit waits on a timer, N:115). */
static u64 host_clock(void *opaque)
{
	struct timespec ts;

	(void)opaque;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static u64 q_base(int q)
{
	return (u64)q * 0x10000;
}

struct nic *nic_new(nic_open_fn open, const char *arg, char *err,
		    size_t errlen)
{
	return nic_new_features(open, arg, 0, err, errlen);
}

struct nic *nic_new_features(nic_open_fn open, const char *arg, u64 more,
			     char *err, size_t errlen)
{
	struct nic *n = calloc(1, sizeof(*n));
	u64 f = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_MAC) |
		(1ull << VIRTIO_NET_F_STATUS) | (1ull << VIRTIO_NET_F_MTU) |
		more;

	drv_machine(&n->d);
	machine_set_clock(n->d.m, host_clock, NULL);
	n->nb = open(n->d.m, arg, err, errlen);
	if (!n->nb) {
		drv_free(&n->d);
		free(n);
		return NULL;
	}
	n->n = virtio_net_new(n->d.bus, n->nb);
	if (!drv_probe(&n->d, 1) ||
	    !(drv_negotiate(&n->d, f) & VIRTIO_CONFIG_S_FEATURES_OK))
		abort();
	drv_queue(&n->d, 0, NIC_QSIZE);
	drv_queue(&n->d, 1, NIC_QSIZE);
	drv_driver_ok(&n->d);
	for (int i = 0; i < MAX_MACHINES; i++)
		if (!machines[i]) {
			machines[i] = n->d.m;
			break;
		}
	return n;
}

void nic_free(struct nic *n)
{
	for (int i = 0; i < MAX_MACHINES; i++)
		if (machines[i] == n->d.m)
			machines[i] = NULL;
	drv_free(&n->d);
	free(n);
}

void nic_config_mac(struct nic *n, u8 mac[6])
{
	for (int i = 0; i < 6; i++)
		mac[i] = machine_mmio_read(n->d.m, n->d.device + i, 1);
}

static void avail_add(struct nic *n, int q, u16 head)
{
	u8 *avail = gp(&n->d, AVAIL_GPA + q_base(q), 6 + 2 * NIC_QSIZE);
	u16 idx = n->avail[q];

	memcpy(avail + 4 + 2 * (idx % NIC_QSIZE), &head, 2);
	idx++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	memcpy(avail + 2, &idx, 2);
	n->avail[q] = idx;
}

static void notify(struct nic *n, int q)
{
	machine_mmio_write(n->d.m, n->d.notify + q * n->d.notify_mult, q, 2);
}

void nic_post_rx(struct nic *n, int count, u32 len)
{
	for (int i = 0; i < count; i++) {
		u16 head = n->avail[0] % NIC_QSIZE;

		set_desc(&n->d, DESC_GPA + q_base(0), head,
			 RXBUF_GPA + head * BUF_SIZE, len, VRING_DESC_F_WRITE,
			 0);
		avail_add(n, 0, head);
	}
	notify(n, 0);
}

static u16 used_idx_q(struct nic *n, int q)
{
	u16 v;

	memcpy(&v, gp(&n->d, USED_GPA + q_base(q) + 2, 2), 2);
	return v;
}

int nic_rx(struct nic *n, u8 *buf, u16 *num_buffers)
{
	struct virtio_net_hdr_v1 hdr;
	u32 id, len;
	u8 *e;

	if (used_idx_q(n, 0) == n->rx_seen)
		return -1;
	e = gp(&n->d, USED_GPA + 4 + 8 * (n->rx_seen % NIC_QSIZE), 8);
	memcpy(&id, e, 4);
	memcpy(&len, e + 4, 4);
	n->rx_seen++;
	if (id >= NIC_QSIZE || len < sizeof(hdr) || len > BUF_SIZE)
		return -2;
	memcpy(&hdr, gp(&n->d, RXBUF_GPA + id * BUF_SIZE, sizeof(hdr)),
	       sizeof(hdr));
	if (num_buffers)
		*num_buffers = hdr.num_buffers;
	len -= sizeof(hdr);
	memcpy(buf, gp(&n->d, RXBUF_GPA + id * BUF_SIZE + sizeof(hdr), len),
	       len);
	return len;
}

/* The next used entry of the receive queue: its buffer and length. */
static int used_rx(struct nic *n, u8 **buf)
{
	u32 id, len;
	u8 *e;

	if (used_idx_q(n, 0) == n->rx_seen)
		return -1;
	e = gp(&n->d, USED_GPA + 4 + 8 * (n->rx_seen % NIC_QSIZE), 8);
	memcpy(&id, e, 4);
	memcpy(&len, e + 4, 4);
	n->rx_seen++;
	if (id >= NIC_QSIZE || len > BUF_SIZE)
		return -2;
	*buf = gp(&n->d, RXBUF_GPA + id * BUF_SIZE, BUF_SIZE);
	return len;
}

int nic_rx_merged(struct nic *n, u8 *buf, size_t max,
		  struct virtio_net_hdr_v1 *hdr)
{
	size_t got = 0;
	u8 *p;
	int len = used_rx(n, &p);

	if (len < (int)sizeof(*hdr))
		return len < 0 ? len : -2;
	memcpy(hdr, p, sizeof(*hdr));
	len -= sizeof(*hdr);
	p += sizeof(*hdr);
	for (u16 i = 0;; ) {
		if (got + len > max)
			return -2;
		memcpy(buf + got, p, len);
		got += len;
		if (++i >= hdr->num_buffers)
			return got;
		len = used_rx(n, &p);
		if (len < 0)
			return -2;
	}
}

u16 nic_tx_used(struct nic *n)
{
	return used_idx_q(n, 1);
}

static bool tx_done(void *opaque)
{
	struct nic *n = opaque;

	return nic_tx_used(n) == n->avail[1];
}

void nic_tx_queue(struct nic *n, const void *frame, size_t len,
		  const void *hdr)
{
	static const u8 zero[sizeof(struct virtio_net_hdr_v1)];
	u16 head = n->avail[1] % NIC_QSIZE;
	u64 gpa = TXBUF_GPA + head * BUF_SIZE;
	u8 *p = gp(&n->d, gpa, sizeof(zero) + len);

	memcpy(p, hdr ? hdr : zero, sizeof(zero));
	memcpy(p + sizeof(zero), frame, len);
	set_desc(&n->d, DESC_GPA + q_base(1), head, gpa, sizeof(zero) + len,
		 0, 0);
	avail_add(n, 1, head);
	notify(n, 1);
}

void nic_tx(struct nic *n, const void *frame, size_t len, const void *hdr)
{
	nic_tx_queue(n, frame, len, hdr);
	/* The device gives frames back a little after it sent them
	 * (N:115); a driver never reuses a descriptor before that. */
	loop_run(1000, tx_done, n);
}

void nic_tx_pieces(struct nic *n, const void *frame, size_t len,
		   const void *hdr, unsigned int pieces)
{
	static const u8 zero[sizeof(struct virtio_net_hdr_v1)];
	u16 head = n->avail[1] % NIC_QSIZE, d = head;
	u8 *p = gp(&n->d, BIG_GPA, sizeof(zero) + len);
	size_t off = 0;

	memcpy(p, hdr ? hdr : zero, sizeof(zero));
	memcpy(p + sizeof(zero), frame, len);
	set_desc(&n->d, DESC_GPA + q_base(1), d, BIG_GPA, sizeof(zero),
		 VRING_DESC_F_NEXT, (d + 1) % NIC_QSIZE);
	for (unsigned int i = 0; i < pieces; i++) {
		size_t piece = (len - off) / (pieces - i);

		d = (d + 1) % NIC_QSIZE;
		set_desc(&n->d, DESC_GPA + q_base(1), d,
			 BIG_GPA + sizeof(zero) + off, piece,
			 i + 1 < pieces ? VRING_DESC_F_NEXT : 0,
			 (d + 1) % NIC_QSIZE);
		off += piece;
	}
	avail_add(n, 1, head);
	notify(n, 1);
	loop_run(1000, tx_done, n);
}

u64 nic_device_features(struct nic *n)
{
	u64 f;

	common_wr(&n->d, VIRTIO_PCI_COMMON_DFSELECT, 0, 4);
	f = common_rd(&n->d, VIRTIO_PCI_COMMON_DF, 4);
	common_wr(&n->d, VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
	return f | (u64)common_rd(&n->d, VIRTIO_PCI_COMMON_DF, 4) << 32;
}

void make_frame(u8 *f, size_t len, const u8 dst[6], const u8 src[6],
		u32 seq)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = ETH_TEST >> 8;
	f[13] = ETH_TEST & 0xff;
	memcpy(f + 14, &seq, 4);
	for (size_t i = 18; i < len; i++)
		f[i] = (u8)(i * 7 + seq);
}

bool is_test_frame(const u8 *f, int len, u32 *seq)
{
	u32 s;

	if (len < 18 || f[12] != ETH_TEST >> 8 || f[13] != (ETH_TEST & 0xff))
		return false;
	memcpy(&s, f + 14, 4);
	for (int i = 18; i < len; i++)
		if (f[i] != (u8)(i * 7 + s))
			return false;
	if (seq)
		*seq = s;
	return true;
}

void nic_forget_all(void)
{
	nwatch = 0;
	memset(machines, 0, sizeof(machines));
}
