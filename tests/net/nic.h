/*
 * The network tests' side of a guest: a virtio-net NIC on a machine of its
 * own, driven through its queues by tests/virtio/driver.c, with a stand-in
 * for the run loop (the test wraps machine_add_fd and machine_del_fd and
 * polls the fds itself, and fires the machines' timers), so that the
 * backends' host side runs exactly as under lguest without a CPU.
 */
#ifndef TESTS_NET_NIC_H
#define TESTS_NET_NIC_H

#include "../virtio/driver.h"
#include "net/net.h"
#include "net/virtio_net.h"

#define NIC_QSIZE	256
#define RXBUF_GPA	0x100000
#define TXBUF_GPA	0x200000
#define BUF_SIZE	2048
#define ETH_TEST	0x88b5	/* IEEE "local experimental" ethertype */

struct nic {
	struct drv d;
	struct virtio_net *n;
	struct net_backend *nb;
	u16 avail[2];		/* next avail index, per queue */
	u16 rx_seen;		/* rx used entries read so far */
};

/* A machine, then the backend made by open (NULL: the error is in err and
 * the nic is freed), then a NIC driven to DRIVER_OK with both queues. */
typedef struct net_backend *(*nic_open_fn)(struct machine *m,
					   const char *arg, char *err,
					   size_t errlen);
struct nic *nic_new(nic_open_fn open, const char *arg, char *err,
		    size_t errlen);
/* The same, the driver accepting feature bits more as well. */
struct nic *nic_new_features(nic_open_fn open, const char *arg, u64 more,
			     char *err, size_t errlen);
/* The feature bits the device offers. */
u64 nic_device_features(struct nic *n);
void nic_free(struct nic *n);
/* The MAC in the device's configuration space. */
void nic_config_mac(struct nic *n, u8 mac[6]);
/* Posts count receive buffers of len bytes each. */
void nic_post_rx(struct nic *n, int count, u32 len);
/* The next received frame (without the virtio header) into buf: its
 * length, or -1 if none.  *hdr gets the header's num_buffers. */
int nic_rx(struct nic *n, u8 *buf, u16 *num_buffers);
/* The same for a frame spread over mergeable buffers: reads num_buffers
 * used entries, puts the frame (at most max bytes) into buf and its header
 * into *hdr.  The frame's length, -1 if none, -2 if the entries are not
 * what a device may give. */
int nic_rx_merged(struct nic *n, u8 *buf, size_t max,
		  struct virtio_net_hdr_v1 *hdr);
/* Sends a frame with the given virtio header (NULL: all zeros) and waits
 * (running the loop) until the device has taken it. */
void nic_tx(struct nic *n, const void *frame, size_t len, const void *hdr);
/* The same with the frame cut into pieces descriptors, from guest address
 * BIG_GPA (a frame of up to 64 KiB and a bit). */
#define BIG_GPA		0x400000
void nic_tx_pieces(struct nic *n, const void *frame, size_t len,
		   const void *hdr, unsigned int pieces);
/* The same without waiting: at most NIC_QSIZE frames in flight. */
void nic_tx_queue(struct nic *n, const void *frame, size_t len,
		  const void *hdr);
u16 nic_tx_used(struct nic *n);

/* Runs every machine's timers and every watched fd for ms milliseconds,
 * or until done(arg) is true (done may be NULL).  True if done. */
bool loop_run(int ms, bool (*done)(void *), void *arg);

/* In a child after fork(): forget the parent's machines and fds, which
 * are not ours to run. */
void nic_forget_all(void);

/* An Ethernet frame of len bytes: dst, src, ETH_TEST, then a pattern
 * seeded by seq. */
void make_frame(u8 *f, size_t len, const u8 dst[6], const u8 src[6],
		u32 seq);
bool is_test_frame(const u8 *f, int len, u32 *seq);

#endif
