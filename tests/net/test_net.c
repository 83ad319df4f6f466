/*
 * virtio-net and its backends, driven through the NIC's queues by a test
 * playing the guest (nic.c), with the host side real: a TAP device in the
 * test's own network namespace (test_net.sh makes it), sharenet files in a
 * scratch folder, libslirp talking to listeners on the namespace's
 * loopback.  Nothing leaves the namespace.
 *
 *	test_net tap		TAP: frames both ways, no buffers, hostile tx,
 *				offloads, transmit coalescing
 *	test_net sharenet DIR	the shared file: one process and several,
 *				and a hostile peer (sharenet_hostile)
 *	test_net slirp		user networking: ARP, DHCP, TCP both ways
 *	test_net noperm		must be run without CAP_NET_ADMIN: dies with
 *				the one-line message (test_net.sh checks it)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "nic.h"

const char *tap_ifname(struct net_backend *nb);

static const u8 bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const u8 peer_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 };

/*
 * TAP.
 */
static int packet_socket_for(const char *ifname, u16 proto)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET, .sll_protocol = htons(proto),
		.sll_ifindex = if_nametoindex(ifname),
	};
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(proto));

	if (s < 0 || bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		abort();
	return s;
}

static int packet_socket(const char *ifname)
{
	return packet_socket_for(ifname, ETH_TEST);
}

struct wait_rx {
	struct nic *n;
	int want;
	int got;
	u32 first_seq, last_seq;
	int bad;
};

static bool rx_count(void *opaque)
{
	struct wait_rx *w = opaque;
	u8 buf[BUF_SIZE];
	u16 nb;
	int len;
	u32 seq;

	while ((len = nic_rx(w->n, buf, &nb)) != -1) {
		if (len < 0 || nb != 1) {
			w->bad++;
			continue;
		}
		if (!is_test_frame(buf, len, &seq))
			continue;	/* the host's own chatter */
		if (!w->got)
			w->first_seq = seq;
		w->last_seq = seq;
		w->got++;
	}
	return w->got >= w->want;
}

struct wait_sock {
	int s;
	u8 buf[BUF_SIZE];
	int len;
};

static bool sock_readable(void *opaque)
{
	struct wait_sock *w = opaque;

	w->len = recv(w->s, w->buf, sizeof(w->buf), 0);
	return w->len > 0;
}

static bool if_has(const char *ifname, const char *ip)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	bool r;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	r = ioctl(s, SIOCGIFADDR, &ifr) == 0 &&
	    ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr ==
	    inet_addr(ip) && ioctl(s, SIOCGIFFLAGS, &ifr) == 0 &&
	    (ifr.ifr_flags & IFF_UP);
	close(s);
	return r;
}

static void test_tap_args(void)
{
	char err[256];
	struct nic *n;

	ok(!nic_new(tap_open, "10.9.9.255", err, sizeof(err)) &&
	   strstr(err, ".1 to .253"), "tap: an address with no next host is "
	   "refused: %s", err);
	ok(!nic_new(tap_open, "nonsense", err, sizeof(err)) &&
	   strstr(err, "not an IPv4 address"), "tap: a bad value is refused: "
	   "%s", err);
	ok(!nic_new(tap_open, "bridge:nobr0", err, sizeof(err)) &&
	   strstr(err, "no bridge"), "tap: a missing bridge is refused: %s",
	   err);
	ok(!nic_new(tap_open, "10.9.8.1,mac=01:00:00:00:00:01", err,
		    sizeof(err)) && strstr(err, "unicast"),
	   "tap: a multicast MAC is refused: %s", err);
	n = nic_new(tap_open, "bridge:br0", err, sizeof(err));
	if (ok(n != NULL, "tap: bridge:br0 makes a TAP device in br0 (%s)",
	       n ? "" : err)) {
		char path[128], link[64] = "";

		snprintf(path, sizeof(path), "/sys/class/net/%s/master",
			 tap_ifname(n->nb));
		readlink(path, link, sizeof(link) - 1);
		ok(strstr(link, "/br0") != NULL, "tap: %s is a port of br0 "
		   "(%s)", tap_ifname(n->nb), link);
		nic_free(n);
	}
	n = nic_new(tap_open, "tap:lgt7,mac=02:11:22:33:44:55", err,
		    sizeof(err));
	if (ok(n != NULL, "tap: tap:lgt7 attaches to a named TAP device")) {
		u8 mac[6];

		nic_config_mac(n, mac);
		ok(!strcmp(tap_ifname(n->nb), "lgt7") &&
		   !memcmp(mac, "\x02\x11\x22\x33\x44\x55", 6),
		   "tap: named device, and the MAC the user gave");
		nic_free(n);
	}
}

static void test_tap(void)
{
	char err[256];
	struct nic *n = nic_new(tap_open, "10.9.0.1", err, sizeof(err));
	u8 mac[6], f[1514], want_mac[6] = { 2, 0x4c, 10, 9, 0, 2 };
	struct wait_sock ws;
	struct wait_rx wr;
	struct virtio_net_hdr_v1 gso = { .gso_type = VIRTIO_NET_HDR_GSO_TCPV4 };
	int s, sent = 0;

	if (!ok(n != NULL, "tap: --tunnet=10.9.0.1 opens (%s)", n ? "" : err))
		return;
	ok(if_has(tap_ifname(n->nb), "10.9.0.1"),
	   "tap: %s has 10.9.0.1 and is up", tap_ifname(n->nb));
	nic_config_mac(n, mac);
	ok(!memcmp(mac, want_mac, 6), "tap: the guest's MAC is 02:4c and its "
	   "address 10.9.0.2");
	ok(machine_mmio_read(n->d.m, n->d.device + 6, 2) ==
	   VIRTIO_NET_S_LINK_UP && machine_mmio_read(n->d.m, n->d.device +
						     10, 2) == 1500,
	   "tap: link up, MTU 1500 in the configuration");

	/* Guest to host. */
	s = packet_socket(tap_ifname(n->nb));
	make_frame(f, sizeof(f), bcast, mac, 42);
	nic_tx(n, f, sizeof(f), NULL);
	ws.s = s;
	ok(loop_run(2000, sock_readable, &ws) && ws.len == sizeof(f) &&
	   !memcmp(ws.buf, f, sizeof(f)) && nic_tx_used(n) == 1,
	   "tap: a 1514-byte frame from the guest appears on the TAP device");

	/* Hostile transmissions: dropped, counted, guest alive. */
	nic_tx(n, f, sizeof(f), &gso);
	nic_tx(n, f, 4, NULL);
	ok(nic_tx_used(n) == 3 && virtio_net_tx_dropped(n->n) == 2 &&
	   !guest_killed(n->d.m) && !loop_run(200, sock_readable, &ws),
	   "tap: a GSO header and a runt are dropped, chains returned");

	/* Host to guest. */
	nic_post_rx(n, 8, BUF_SIZE);
	make_frame(f, 200, mac, peer_mac, 7);
	send(s, f, 200, 0);
	wr = (struct wait_rx){ n, 1, 0, 0, 0, 0 };
	ok(loop_run(2000, rx_count, &wr) && wr.first_seq == 7 && !wr.bad,
	   "tap: a frame written to the TAP device reaches the guest's rx "
	   "buffer, num_buffers 1");

	/* No buffers: the host carries on, the kernel's queue holds a
	 * bounded number, the rest is dropped. */
	wr = (struct wait_rx){ n, 1000000, 0, 0, 0, 0 };
	for (int i = 0; i < 7 + 2; i++) {	/* use up the 7 left */
		make_frame(f, 100, mac, peer_mac, 1000 + i);
		send(s, f, 100, MSG_DONTWAIT);
	}
	loop_run(300, rx_count, &wr);
	for (int i = 0; i < 3000; i++) {
		make_frame(f, 100, mac, peer_mac, 2000 + i);
		sent += send(s, f, 100, MSG_DONTWAIT) > 0;
	}
	loop_run(300, NULL, NULL);
	ok(wr.got == 7 && !guest_killed(n->d.m), "tap: with no rx buffers "
	   "the run loop goes on (%d frames sent, none taken)", sent);
	wr.got = 0;
	for (int round = 0; round < 40; round++) {
		nic_post_rx(n, 128, BUF_SIZE);
		wr.want = wr.got + 128;
		if (!loop_run(300, rx_count, &wr))
			break;
	}
	ok(wr.got > 100 && wr.got <= 1100 && wr.got < sent,
	   "tap: afterwards the guest gets what the TAP queue kept (%d "
	   "frames, from seq %u), the rest was dropped by the host", wr.got,
	   wr.first_seq);

	close(s);
	nic_free(n);
}

/* A buffer too small for the frame: frame dropped, buffer kept. */
static void test_tap_small_buffer(void)
{
	char err[256];
	struct nic *n = nic_new(tap_open, "10.9.1.1", err, sizeof(err));
	u8 f[1000], mac[6];
	int s;

	if (!ok(n != NULL, "tap: a second TAP device (%s)", n ? "" : err))
		return;
	nic_config_mac(n, mac);
	s = packet_socket(tap_ifname(n->nb));
	nic_post_rx(n, 1, 100);
	make_frame(f, sizeof(f), mac, peer_mac, 5);
	send(s, f, sizeof(f), 0);
	loop_run(300, NULL, NULL);
	ok(virtio_net_rx_dropped(n->n) == 1 && nic_rx(n, f, NULL) == -1 &&
	   !guest_killed(n->d.m),
	   "tap: a frame larger than the rx buffer is dropped, the buffer "
	   "kept");
	make_frame(f, 60, mac, peer_mac, 6);
	send(s, f, 60, 0);
	loop_run(300, NULL, NULL);
	ok(nic_rx(n, f, NULL) == 60 && is_test_frame(f, 60, NULL),
	   "tap: ... and the next frame that fits goes into it");

	/* A hostile receive buffer, outside guest RAM: the guest dies with
	 * a reason, the host carries on. */
	set_desc(&n->d, DESC_GPA, 5, RAM_SIZE - 16, BUF_SIZE,
		 VRING_DESC_F_WRITE, 0);
	{
		u8 *avail = gp(&n->d, AVAIL_GPA, 6 + 2 * NIC_QSIZE);
		u16 idx = n->avail[0], head = 5;

		memcpy(avail + 4 + 2 * (idx % NIC_QSIZE), &head, 2);
		idx++;
		memcpy(avail + 2, &idx, 2);
		machine_mmio_write(n->d.m, n->d.notify, 0, 2);
	}
	send(s, f, 60, 0);
	loop_run(300, NULL, NULL);
	ok(guest_killed(n->d.m) && strstr(kill_reason, "virtio-net"),
	   "tap: an rx buffer outside guest RAM kills the guest: %s",
	   kill_reason);
	close(s);
	nic_free(n);
}

/*
 * Sharenet.
 */
static char dir[200];

static void path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static bool file_is(const char *p, const char *content, time_t mtime)
{
	char buf[256] = "";
	struct stat st;
	int fd = open(p, O_RDONLY);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	close(fd);
	return n == (ssize_t)strlen(content) && !strcmp(buf, content) &&
	       stat(p, &st) == 0 && st.st_mtime == mtime;
}

/* A file of the previous format (2: 256 cells a slot, a frame a cell),
 * as an older lguest on the same segment made it: refused with a word
 * saying so, never written. */
static void test_sharenet_old_format(void)
{
	u32 h[8] = { 0, 0, 2, 16, 256, 2048, 4096 + 256 * 2048, 4096 };
	off_t size = 4096 + 16 * (off_t)(4096 + 256 * 2048);
	char p[256], err[256] = "";
	struct stat st, st2;
	int fd;

	memcpy(h, "LGSHNET\n", 8);
	path(p, sizeof(p), "format2");
	fd = open(p, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (fd < 0 || write(fd, h, sizeof(h)) != sizeof(h) ||
	    ftruncate(fd, size) < 0)
		abort();
	close(fd);
	stat(p, &st);
	sleep(1);
	ok(!nic_new(sharenet_open, p, err, sizeof(err)) &&
	   strstr(err, "format 2, ours is 3"),
	   "sharenet: a file of the previous format is refused: %s", err);
	stat(p, &st2);
	ok(st2.st_size == size && st2.st_mtime == st.st_mtime,
	   "sharenet: ... and left as it is");
}

static void test_sharenet_refuse(void)
{
	char p[256], err[256];
	const char *text = "not a network, just a file\n";
	struct stat st;
	int fd;

	path(p, sizeof(p), "plain");
	fd = open(p, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	write(fd, text, strlen(text));
	close(fd);
	stat(p, &st);
	sleep(1);	/* a write now would show in mtime */
	ok(!nic_new(sharenet_open, p, err, sizeof(err)) &&
	   strstr(err, "not a sharenet file"),
	   "sharenet: a file that is not a sharenet file is refused: %s", err);
	ok(file_is(p, text, st.st_mtime), "sharenet: ... and left unchanged");
	ok(!nic_new(sharenet_open, dir, err, sizeof(err)),
	   "sharenet: a directory is refused: %s", err);
	test_sharenet_old_format();
}

struct wait_any {
	struct nic **n;
	int count;
	int got[8];
	u32 seq[8];
};

static bool rx_any(void *opaque)
{
	struct wait_any *w = opaque;
	u8 buf[BUF_SIZE];
	int len;

	for (int i = 0; i < w->count; i++)
		while ((len = nic_rx(w->n[i], buf, NULL)) != -1)
			if (len > 0 && is_test_frame(buf, len, &w->seq[i]))
				w->got[i]++;
	return false;
}

static void test_sharenet_local(void)
{
	char p[256], err[256];
	struct nic *n[4];
	u8 mac[4][6], f[1514];
	struct wait_any w = { n, 4, { 0 }, { 0 } };
	int i;

	path(p, sizeof(p), "net1");
	for (i = 0; i < 3; i++)
		n[i] = nic_new(sharenet_open, p, err, sizeof(err));
	snprintf(p + strlen(p), 20, ",promisc");
	n[3] = nic_new(sharenet_open, p, err, sizeof(err));
	if (!ok(n[0] && n[1] && n[2] && n[3], "sharenet: four NICs on a new "
		"file (%s)", err))
		return;
	for (i = 0; i < 4; i++) {
		nic_config_mac(n[i], mac[i]);
		nic_post_rx(n[i], 64, BUF_SIZE);
	}
	ok(sharenet_slot(n[0]->nb) == 0 && sharenet_slot(n[1]->nb) == 1 &&
	   sharenet_slot(n[3]->nb) == 3 && mac[0][5] == 0 && mac[1][5] == 1 &&
	   memcmp(mac[0], mac[1], 6) && mac[0][0] == 2,
	   "sharenet: slots 0..3, MACs differ by slot, locally administered");

	make_frame(f, sizeof(f), mac[1], mac[0], 11);
	nic_tx(n[0], f, sizeof(f), NULL);
	loop_run(300, rx_any, &w);
	ok(w.got[1] == 1 && w.seq[1] == 11 && !w.got[0] && !w.got[2] &&
	   w.got[3] == 1, "sharenet: unicast reaches its target (and the "
	   "promiscuous slot) only");

	memset(w.got, 0, sizeof(w.got));
	make_frame(f, 60, bcast, mac[2], 12);
	nic_tx(n[2], f, 60, NULL);
	loop_run(300, rx_any, &w);
	ok(w.got[0] == 1 && w.got[1] == 1 && !w.got[2] && w.got[3] == 1,
	   "sharenet: broadcast reaches every other slot, not the sender");

	for (i = 0; i < 4; i++)
		nic_free(n[i]);
}

static bool tx_all_back(void *opaque);

/* No buffers: the sender's ring keeps its last SN_CELLS frames, the
 * older ones are overwritten (the sender never waits for a receiver). */
static void test_sharenet_full_ring(void)
{
	char p[256], err[256];
	struct nic *n[2];
	u8 mac[2][6], f[100];
	struct wait_rx wr;
	int i;

	path(p, sizeof(p), "net4");
	n[0] = nic_new(sharenet_open, p, err, sizeof(err));
	n[1] = nic_new(sharenet_open, p, err, sizeof(err));
	if (!n[0] || !n[1])
		abort();
	nic_config_mac(n[0], mac[0]);
	nic_config_mac(n[1], mac[1]);
	for (i = 0; i < 1100; i++) {
		make_frame(f, sizeof(f), mac[1], mac[0], i);
		nic_tx_queue(n[0], f, sizeof(f), NULL);
		if (i % 64 == 0)
			loop_run(1000, tx_all_back, n[0]);
	}
	loop_run(1000, tx_all_back, n[0]);
	ok(nic_tx_used(n[0]) == 1100 && nic_rx(n[1], f, NULL) == -1,
	   "sharenet: 1100 frames to a guest with no buffers: the sender "
	   "carries on");
	wr = (struct wait_rx){ n[1], 0, 0, 0, 0, 0 };
	for (i = 0; i < 4; i++) {
		nic_post_rx(n[1], 256, BUF_SIZE);
		wr.want += 256;
		loop_run(500, rx_count, &wr);
	}
	loop_run(100, NULL, NULL);
	ok(wr.got == 1024 && wr.first_seq == 76 && wr.last_seq == 1099 &&
	   nic_rx(n[1], f, NULL) == -1, "sharenet: the sender's ring kept "
	   "the last 1024 (a cell each), the older were lost (got %d, seq "
	   "%u..%u)", wr.got, wr.first_seq, wr.last_seq);
	nic_free(n[0]);
	nic_free(n[1]);
}

/* A child that takes a slot, says which, and waits to be killed. */
static pid_t slot_child(const char *p, int *slot)
{
	int fds[2];
	pid_t pid;

	if (pipe(fds) < 0)
		abort();
	pid = fork();
	if (!pid) {
		char err[256];
		struct nic *n;

		nic_forget_all();
		n = nic_new(sharenet_open, p, err, sizeof(err));
		int s = n ? sharenet_slot(n->nb) : -1;

		write(fds[1], &s, sizeof(s));
		for (;;)
			pause();
	}
	close(fds[1]);
	if (read(fds[0], slot, sizeof(*slot)) != sizeof(*slot))
		*slot = -1;
	close(fds[0]);
	return pid;
}

/* A child guest that answers every test frame sent to it, to its
 * sender, with seq + 1000. */
static pid_t echo_child(const char *p)
{
	pid_t pid = fork();
	struct nic *n;
	char err[256];
	u8 buf[BUF_SIZE], mac[6];
	int len;
	u32 seq;

	if (pid)
		return pid;
	nic_forget_all();
	n = nic_new(sharenet_open, p, err, sizeof(err));
	if (!n)
		_exit(1);
	nic_config_mac(n, mac);
	nic_post_rx(n, 200, BUF_SIZE);
	for (int t = 0; t < 1000; t++) {
		loop_run(10, NULL, NULL);
		while ((len = nic_rx(n, buf, NULL)) != -1) {
			if (len <= 0 || !is_test_frame(buf, len, &seq))
				continue;
			make_frame(buf, len, buf + 6, mac, seq + 1000);
			nic_tx(n, buf, len, NULL);
		}
	}
	_exit(0);
}

static void test_sharenet_procs(void)
{
	char p[256], err[256];
	int slot_a, slot_b, st;
	pid_t a, b, e;
	struct nic *n;
	u8 mac[6], f[1000];
	struct wait_rx wr;

	path(p, sizeof(p), "net2");
	a = slot_child(p, &slot_a);
	b = slot_child(p, &slot_b);
	ok(slot_a == 0 && slot_b == 1, "sharenet: two processes take slots "
	   "%d and %d", slot_a, slot_b);
	kill(a, SIGKILL);
	waitpid(a, &st, 0);
	n = nic_new(sharenet_open, p, err, sizeof(err));
	ok(n && sharenet_slot(n->nb) == 0,
	   "sharenet: a process killed with SIGKILL frees its slot");
	kill(b, SIGKILL);
	waitpid(b, &st, 0);
	if (!n)
		return;

	/* Frames to the dead slot 1: they go round our ring, nothing else. */
	nic_config_mac(n, mac);
	for (int i = 0; i < 300; i++) {
		u8 dead[6] = { mac[0], mac[1], mac[2], mac[3], mac[4], 1 };

		make_frame(f, 100, dead, mac, i);
		nic_tx(n, f, 100, NULL);
	}
	ok(!guest_killed(n->d.m), "sharenet: frames to a dead slot are "
	   "dropped, and the sender carries on");

	e = echo_child(p);
	nic_post_rx(n, 64, BUF_SIZE);
	loop_run(300, NULL, NULL);	/* the child starts */
	make_frame(f, sizeof(f), bcast, mac, 77);
	nic_tx(n, f, sizeof(f), NULL);
	wr = (struct wait_rx){ n, 1, 0, 0, 0, 0 };
	ok(loop_run(5000, rx_count, &wr) && wr.first_seq == 1077,
	   "sharenet: two processes on one file exchange frames (futex wake "
	   "across processes)");
	wr = (struct wait_rx){ n, 50, 0, 0, 0, 0 };
	for (int i = 0; i < 50; i++) {
		make_frame(f, sizeof(f), bcast, mac, 2000 + i);
		nic_tx(n, f, sizeof(f), NULL);
	}
	ok(loop_run(5000, rx_count, &wr) && wr.last_seq == 3049,
	   "sharenet: 50 frames there and back, in order");
	kill(e, SIGKILL);
	waitpid(e, &st, 0);
	nic_free(n);
}

static void test_sharenet_full_slots(void)
{
	char p[256], err[256];
	struct nic *n[17];
	int i;

	path(p, sizeof(p), "net3");
	for (i = 0; i < 17; i++)
		n[i] = nic_new(sharenet_open, p, err, sizeof(err));
	ok(n[15] && !n[16] && strstr(err, "slots are taken"),
	   "sharenet: a 17th guest is refused: %s", err);
	for (i = 0; i < 16; i++)
		if (n[i])
			nic_free(n[i]);
}

/*
 * Sharenet against a hostile peer: build/tests/net/sharenet_hostile (next
 * to this program) on the same file, doing what DESIGN.md says a peer may
 * do.  The worst it may cost is frames: this process must not die, hang
 * or stop receiving once it is gone.
 */
static char hostile[300];

static void hung(int sig)
{
	static const char msg[] = "not ok - sharenet: hung against a hostile "
				  "peer (no answer in 60 s)\n";

	(void)sig;
	write(1, msg, sizeof(msg) - 1);
	_exit(1);
}

static pid_t run_hostile(const char *mode, const char *file,
			 const char *secs)
{
	pid_t pid = fork();

	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		execl(hostile, hostile, mode, file, secs, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* One frame a->b, then the loop until it (or a later one) arrives or ms
 * pass; b's receive buffers are topped up as they are used. */
static bool one_frame(struct nic *a, struct nic *b, const u8 *dst,
		      const u8 *src, u32 seq, int ms)
{
	struct wait_rx wr = { b, 1, 0, 0, 0, 0 };
	u8 f[600];
	bool got;

	make_frame(f, sizeof(f), dst, src, seq);
	nic_tx(a, f, sizeof(f), NULL);
	got = loop_run(ms, rx_count, &wr);
	if (wr.got + wr.bad)
		nic_post_rx(b, wr.got + wr.bad, BUF_SIZE);
	return got && wr.last_seq >= seq;
}

static void test_sharenet_attack(const char *mode, const char *what)
{
	char p[256], err[256];
	struct nic *n[2];
	u8 mac[2][6];
	pid_t h;
	int st, sent = 0, after = 0;
	bool flows = false;

	snprintf(p, sizeof(p), "%s/hostile-%s", dir, mode);
	n[0] = nic_new(sharenet_open, p, err, sizeof(err));
	n[1] = nic_new(sharenet_open, p, err, sizeof(err));
	if (!n[0] || !n[1])
		abort();
	nic_config_mac(n[0], mac[0]);
	nic_config_mac(n[1], mac[1]);
	nic_post_rx(n[1], 128, BUF_SIZE);
	h = run_hostile(mode, p, "1.5");
	while (waitpid(h, &st, WNOHANG) == 0)
		one_frame(n[0], n[1], mac[1], mac[0], sent++, 10);
	/* The peer is gone: frames must flow again, soon. */
	for (after = 0; after < 30 && !flows; after++)
		flows = one_frame(n[0], n[1], mac[1], mac[0], 100000 + after,
				  100);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0 && flows,
	   "sharenet: a hostile peer (%s) for 1.5 s while we sent %d "
	   "frames: we live, and a frame gets through again (try %d)", what,
	   sent, after);
	nic_free(n[0]);
	nic_free(n[1]);
}

/* A peer asleep on every word of our control pages must take no wake-up
 * from us: frames arrive promptly, and closing (which wakes our own
 * waker thread to end it) does not hang. */
static void test_sharenet_waiters(void)
{
	char p[256], err[256];
	struct nic *n[2];
	u8 mac[2][6];
	struct timespec t0, t1;
	int prompt = 0, st;
	double ms;
	pid_t h;

	path(p, sizeof(p), "hostile-waiters");
	n[0] = nic_new(sharenet_open, p, err, sizeof(err));
	n[1] = nic_new(sharenet_open, p, err, sizeof(err));
	if (!n[0] || !n[1])
		abort();
	nic_config_mac(n[0], mac[0]);
	nic_config_mac(n[1], mac[1]);
	nic_post_rx(n[1], 128, BUF_SIZE);
	h = run_hostile("waiters", p, "60");
	usleep(500000);		/* its sleepers are in place */
	for (int i = 0; i < 40; i++)
		prompt += one_frame(n[0], n[1], mac[1], mac[0], i, 150);
	ok(prompt >= 38, "sharenet: with a peer's sleepers on our futex "
	   "words, %d of 40 frames arrive within 150 ms", prompt);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	nic_free(n[1]);
	nic_free(n[0]);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	ok(ms < 1000, "sharenet: ... and closing both takes %.0f ms", ms);
	kill(h, SIGTERM);
	waitpid(h, &st, 0);
}

/* HOSTILE_MODES="owners truncate" runs those attacks only (as the
 * end-to-end test takes it): to see each fail alone on older code. */
static bool want_attack(const char *mode)
{
	const char *only = getenv("HOSTILE_MODES");

	return !only || strstr(only, mode);
}

/* A peer that holds the set-up lock for ever: we give up, with a
 * reason, instead of waiting for ever. */
static void test_sharenet_initlock(void)
{
	char p[256], err[256] = "";
	struct nic *n, *m;
	struct timespec t0, t1;
	pid_t h;
	int st;

	path(p, sizeof(p), "hostile-initlock");
	n = nic_new(sharenet_open, p, err, sizeof(err));
	if (!n)
		abort();
	h = run_hostile("initlock", p, "30");
	usleep(300000);		/* it holds the lock */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	m = nic_new(sharenet_open, p, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ok(!m && strstr(err, "set-up lock"), "sharenet: a peer holding the "
	   "set-up lock for 30 s: we give up after %.1f s: %s",
	   t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9, err);
	if (m)
		nic_free(m);
	kill(h, SIGTERM);
	waitpid(h, &st, 0);
	nic_free(n);
}

static void test_sharenet_hostile(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');

	snprintf(hostile, sizeof(hostile), "%.*ssharenet_hostile",
		 slash ? (int)(slash - argv0 + 1) : 0, argv0);
	if (access(hostile, X_OK) < 0) {
		ok(false, "sharenet: %s is built", hostile);
		return;
	}
	signal(SIGALRM, hung);
	alarm(60);
	if (want_attack("owners"))
		test_sharenet_attack("owners",
				     "fake lock owners, indices, lengths");
	if (want_attack("garbage"))
		test_sharenet_attack("garbage", "random bytes in every byte");
	if (want_attack("truncate"))
		test_sharenet_attack("truncate",
				     "the file cut to 0 and grown back");
	if (want_attack("waiters"))
		test_sharenet_waiters();
	if (want_attack("initlock"))
		test_sharenet_initlock();
	alarm(0);
}

/*
 * Slirp: frames built by hand, as a guest stack would send them.
 */
static const u8 guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
#define GUEST_IP	0x0a00020f
#define HOST_IP		0x0a000202

static u16 csum(const void *p, size_t len, u32 sum)
{
	const u8 *b = p;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

static void put16(u8 *p, u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(u8 *p, u32 v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static u32 get32(const u8 *p)
{
	return (u32)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* Ethernet + IPv4 header for a payload of len bytes; returns the IP
 * header's start. */
static u8 *ip_frame(u8 *f, const u8 dst[6], u8 proto, u32 src, u32 dstip,
		    size_t len)
{
	u8 *ip = f + 14;

	memcpy(f, dst, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, 20 + len);
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, src);
	put32(ip + 16, dstip);
	put16(ip + 10, csum(ip, 20, 0));
	return ip;
}

static void dhcp_discover(struct nic *n)
{
	u8 f[14 + 20 + 8 + 300] = { 0 };
	u8 *udp = ip_frame(f, bcast, 17, 0, 0xffffffff, 8 + 300) + 20;
	u8 *b = udp + 8;

	put16(udp, 68);
	put16(udp + 2, 67);
	put16(udp + 4, 8 + 300);
	b[0] = 1;		/* BOOTREQUEST */
	b[1] = 1;
	b[2] = 6;
	put32(b + 4, 0x1234abcd);
	memcpy(b + 28, guest_mac, 6);
	put32(b + 236, 0x63825363);
	b[240] = 53;
	b[241] = 1;
	b[242] = 1;		/* DISCOVER */
	b[243] = 255;
	nic_tx(n, f, sizeof(f), NULL);
}

static void arp_request(struct nic *n, u32 target)
{
	u8 f[42];

	memcpy(f, bcast, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0806);
	put16(f + 14, 1);
	put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, 1);
	memcpy(f + 22, guest_mac, 6);
	put32(f + 28, GUEST_IP);
	memset(f + 32, 0, 6);
	put32(f + 38, target);
	nic_tx(n, f, sizeof(f), NULL);
}

static void arp_reply(struct nic *n, const u8 *req)
{
	u8 f[42];

	memcpy(f, req + 6, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0806);
	memcpy(f + 14, req + 14, 6);
	put16(f + 20, 2);
	memcpy(f + 22, guest_mac, 6);
	put32(f + 28, GUEST_IP);
	memcpy(f + 32, req + 22, 10);
	nic_tx(n, f, sizeof(f), NULL);
}

static u8 gw_mac[6];

static void tcp_send(struct nic *n, u32 dstip, u16 sport, u16 dport,
		     u32 seq, u32 ack, u8 flags, const void *data, size_t len)
{
	u8 f[14 + 20 + 20 + 256], ph[12];
	u8 *tcp = ip_frame(f, gw_mac, 6, GUEST_IP, dstip, 20 + len) + 20;
	u32 sum = 0;

	memset(tcp, 0, 20);
	put16(tcp, sport);
	put16(tcp + 2, dport);
	put32(tcp + 4, seq);
	put32(tcp + 8, ack);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	put16(tcp + 14, 65535);
	if (len)
		memcpy(tcp + 20, data, len);
	put32(ph, GUEST_IP);
	put32(ph + 4, dstip);
	ph[8] = 0;
	ph[9] = 6;
	put16(ph + 10, 20 + len);
	for (int i = 0; i < 12; i += 2)
		sum += ph[i] << 8 | ph[i + 1];
	put16(tcp + 16, csum(tcp, 20 + len, sum));
	nic_tx(n, f, 14 + 20 + 20 + len, NULL);
}

struct wait_frame {
	struct nic *n;
	bool (*match)(struct wait_frame *w, const u8 *f, int len);
	u8 f[BUF_SIZE];
	int len;
	u32 arg;
};

/* Waits for a frame that match() accepts, answering slirp's ARP
 * requests for the guest's address meanwhile. */
static bool frame_wait(void *opaque)
{
	struct wait_frame *w = opaque;
	int len;

	while ((len = nic_rx(w->n, w->f, NULL)) != -1) {
		if (len >= 42 && w->f[12] == 8 && w->f[13] == 6 &&
		    w->f[21] == 1 && get32(w->f + 38) == GUEST_IP)
			arp_reply(w->n, w->f);
		if (len > 0 && w->match(w, w->f, len)) {
			w->len = len;
			return true;
		}
	}
	return false;
}

static bool is_arp_reply(struct wait_frame *w, const u8 *f, int len)
{
	(void)w;
	return len >= 42 && f[12] == 8 && f[13] == 6 && f[21] == 2 &&
	       get32(f + 28) == HOST_IP;
}

static bool is_dhcp_offer(struct wait_frame *w, const u8 *f, int len)
{
	(void)w;
	return len > 14 + 20 + 8 + 240 && f[12] == 8 && f[13] == 0 &&
	       f[23] == 17 && f[14 + 20 + 2] == 0 && f[14 + 20 + 3] == 68 &&
	       get32(f + 42 + 16) == GUEST_IP;
}

/* A TCP segment to the guest with the flags in w->arg (port in the upper
 * half). */
static bool is_tcp(struct wait_frame *w, const u8 *f, int len)
{
	const u8 *tcp = f + 34;

	return len >= 54 && f[12] == 8 && f[13] == 0 && f[23] == 6 &&
	       (u32)(tcp[2] << 8 | tcp[3]) == w->arg >> 16 &&
	       (tcp[13] & (w->arg & 0xff)) == (w->arg & 0xffu);
}

static int listener(u16 *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(s, 4) < 0 ||
	    getsockname(s, (struct sockaddr *)&a, &al) < 0)
		abort();
	*port = ntohs(a.sin_port);
	return s;
}

struct wait_accept {
	int ls, cs;
	char buf[64];
	int len;
};

static bool accepted(void *opaque)
{
	struct wait_accept *w = opaque;

	if (w->cs < 0)
		w->cs = accept4(w->ls, NULL, NULL, SOCK_NONBLOCK);
	if (w->cs >= 0 && w->len <= 0)
		w->len = recv(w->cs, w->buf, sizeof(w->buf) - 1, 0);
	return w->cs >= 0 && w->len > 0;
}

static void test_slirp_args(void)
{
	char err[256];

	ok(!nic_new(slirp_open, "user,hostfwd=tcp:1.2.3:x-:22", err,
		    sizeof(err)) && strstr(err, "hostfwd"),
	   "slirp: a bad hostfwd is refused: %s", err);
	ok(!nic_new(slirp_open, "user,bogus=1", err, sizeof(err)) &&
	   strstr(err, "unknown option"), "slirp: an unknown option is "
	   "refused: %s", err);
	ok(!nic_new(slirp_open, "tap", err, sizeof(err)),
	   "slirp: --net=tap is refused: %s", err);
}

static void test_slirp(void)
{
	char err[256];
	u16 lport, fport = 22222;
	struct wait_accept wa = { .cs = -1 };
	struct wait_frame w;
	struct nic *n;
	u32 seq = 1000, their;
	int cs;
	char spec[80];
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	wa.ls = listener(&lport);
	snprintf(spec, sizeof(spec), "user,hostfwd=tcp:127.0.0.1:%u-:22",
		 fport);
	n = nic_new(slirp_open, spec, err, sizeof(err));
	if (!ok(n != NULL, "slirp: --net=%s opens (%s)", spec, n ? "" : err))
		return;
	nic_post_rx(n, 200, BUF_SIZE);
	w = (struct wait_frame){ .n = n, .match = is_arp_reply };
	arp_request(n, HOST_IP);
	ok(loop_run(2000, frame_wait, &w), "slirp: ARP for 10.0.2.2 is "
	   "answered");
	memcpy(gw_mac, w.f + 22, 6);

	w.match = is_dhcp_offer;
	dhcp_discover(n);
	ok(loop_run(2000, frame_wait, &w), "slirp: DHCP offers 10.0.2.15");

	/* Guest to host loopback through the gateway. */
	tcp_send(n, HOST_IP, 40000, lport, seq, 0, 0x02, NULL, 0);
	w.match = is_tcp;
	w.arg = 40000u << 16 | 0x12;	/* SYN+ACK */
	if (ok(loop_run(3000, frame_wait, &w), "slirp: SYN to 10.0.2.2:%u "
	       "is answered with SYN-ACK", lport)) {
		their = get32(w.f + 34 + 4);
		tcp_send(n, HOST_IP, 40000, lport, seq + 1, their + 1, 0x10,
			 NULL, 0);
		tcp_send(n, HOST_IP, 40000, lport, seq + 1, their + 1, 0x18,
			 "hello", 5);
		ok(loop_run(3000, accepted, &wa) && wa.len == 5 &&
		   !memcmp(wa.buf, "hello", 5), "slirp: the host's loopback "
		   "listener accepts the connection and reads the data");
	}
	if (wa.cs >= 0)
		close(wa.cs);

	/* Host port to guest port. */
	a.sin_port = htons(fport);
	cs = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	connect(cs, (struct sockaddr *)&a, sizeof(a));
	w.arg = 22u << 16 | 0x02;	/* SYN, to port 22 */
	w.match = is_tcp;
	ok(loop_run(3000, frame_wait, &w) && get32(w.f + 30) == GUEST_IP,
	   "slirp: hostfwd: a connection to 127.0.0.1:%u arrives as a SYN "
	   "to 10.0.2.15:22", fport);
	close(cs);
	close(wa.ls);
	nic_free(n);
}

/* An Ethernet + IPv4 + TCP frame of len bytes from the guest to the
 * TAP device's host side, its TCP checksum left to the host (the
 * pseudo-header sum in its place, as Linux leaves it for NEEDS_CSUM). */
static void tcp_frame(u8 *f, size_t len, const u8 src[6])
{
	u8 *ip = f + 14, *tcp = ip + 20;

	memset(f, 0, len);
	memset(f, 0xff, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, len - 14);
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	put32(ip + 12, 0x0a090002);
	put32(ip + 16, 0x0a090001);
	put16(ip + 10, csum(ip, 20, 0));
	put16(tcp, 40000);
	put16(tcp + 2, 9);
	tcp[12] = 5 << 4;
	tcp[13] = 0x18;		/* PSH, ACK */
	put16(tcp + 14, 65535);
	for (size_t i = 54; i < len; i++)
		f[i] = (u8)i;
}

#define OFFLOADS ((1ull << VIRTIO_NET_F_CSUM) | \
		  (1ull << VIRTIO_NET_F_HOST_TSO4))

static bool tx_all_back(void *opaque)
{
	struct nic *n = opaque;

	return nic_tx_used(n) == n->avail[1];
}

/* A TCP segment of len bytes from the host side of the TAP device, with
 * a virtio-net header asking for segmentation (a packet socket with
 * PACKET_VNET_HDR, as QEMU's or a VM's host side would send one). */
static bool host_sends_tso(const char *ifname, const u8 *f, size_t len)
{
	struct virtio_net_hdr h = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		.hdr_len = 54, .gso_size = 1448,
		.csum_start = 34, .csum_offset = 16,
	};
	struct iovec v[2] = { { &h, sizeof(h) }, { (void *)f, len } };
	int s = packet_socket_for(ifname, 0x0800), on = 1;
	bool r;

	r = setsockopt(s, SOL_PACKET, PACKET_VNET_HDR, &on, sizeof(on)) == 0 &&
	    writev(s, v, 2) == (ssize_t)(sizeof(h) + len);
	close(s);
	return r;
}

struct wait_used {
	struct nic *n;
	u16 want;
};

static u16 rx_used(struct nic *n)
{
	u16 v;

	memcpy(&v, gp(&n->d, USED_GPA + 2, 2), 2);
	return v;
}

static bool rx_used_moved(void *opaque)
{
	struct wait_used *w = opaque;

	return rx_used(w->n) != w->want;
}

/*
 * Receive offloads and mergeable buffers (N:112, N:127): a guest that
 * accepts them gets a 20 KiB TCP segment from the host as it is, with a
 * partial checksum, spread over its 2 KiB buffers; a guest that does not
 * gets the host kernel's 1500-byte frames, each in one buffer.
 */
static void test_tap_rx_offload(void)
{
	u64 rx = NET_RX_OFFLOADS | (1ull << VIRTIO_NET_F_MRG_RXBUF);
	char err[256];
	struct nic *n = nic_new_features(tap_open, "10.9.6.1", OFFLOADS | rx,
					 err, sizeof(err));
	struct virtio_net_hdr_v1 h;
	size_t len = 14 + 20 + 20 + 20000;
	u8 *f = malloc(len), *got = malloc(len + 4096), mac[6];
	struct wait_used w;
	int r, segs = 0, bytes = 0;

	if (!ok(n != NULL, "tap rx offload: opens (%s)", n ? "" : err))
		return;
	nic_config_mac(n, mac);
	tcp_frame(f, len, peer_mac);
	memcpy(f, mac, 6);
	nic_post_rx(n, 64, BUF_SIZE);
	w = (struct wait_used){ n, rx_used(n) };
	ok(host_sends_tso(tap_ifname(n->nb), f, len) &&
	   loop_run(2000, rx_used_moved, &w),
	   "tap rx offload: the host sends a 20 KiB TCP segment");
	loop_run(50, NULL, NULL);
	r = nic_rx_merged(n, got, len + 4096, &h);
	ok(r == (int)len && !memcmp(got + 54, f + 54, len - 54) &&
	   h.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 && h.gso_size == 1448 &&
	   (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	   h.num_buffers == (len + sizeof(h) + BUF_SIZE - 1) / BUF_SIZE &&
	   virtio_net_rx_dropped(n->n) == 0,
	   "tap rx offload: it reaches the guest whole (%d bytes), TSO4 with "
	   "MSS 1448 and a partial checksum, in %u mergeable buffers", r,
	   h.num_buffers);
	nic_free(n);

	/* The same to a guest without receive offloads: segments. */
	n = nic_new_features(tap_open, "10.9.7.1", OFFLOADS, err,
			     sizeof(err));
	if (!ok(n != NULL, "tap rx offload: a plain NIC (%s)",
		n ? "" : err))
		goto out;
	nic_config_mac(n, mac);
	memcpy(f, mac, 6);
	nic_post_rx(n, 64, BUF_SIZE);
	w = (struct wait_used){ n, rx_used(n) };
	ok(host_sends_tso(tap_ifname(n->nb), f, len) &&
	   loop_run(2000, rx_used_moved, &w),
	   "tap rx offload: the host sends the same segment to a plain NIC");
	loop_run(100, NULL, NULL);
	while ((r = nic_rx(n, got, NULL)) >= 0) {
		segs += r <= NET_MAX_FRAME;
		bytes += r - 54;
	}
	ok(segs == (20000 + 1447) / 1448 && bytes == 20000,
	   "tap rx offload: ... which gets it in %d frames of at most 1500 "
	   "bytes", segs);
	nic_free(n);
out:
	free(f);
	free(got);
}

/*
 * Large frames on a sharenet segment (N:131): the NIC announces an MTU of
 * 65535, and a 60 KiB TCP frame with a partial checksum crosses whole,
 * header and all, to a guest that takes partial checksums (which gets
 * it as it is) and to one that does not (whose NIC finishes it).
 */
static void test_sharenet_big(void)
{
	u64 mrg = 1ull << VIRTIO_NET_F_MRG_RXBUF;
	char p[256], err[256];
	struct nic *n[3];
	struct virtio_net_hdr_v1 h = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.csum_start = htole16(34), .csum_offset = htole16(16),
	};
	size_t len = 14 + 20 + 20 + 60000;
	u8 *f = malloc(len), *got = malloc(len + 4096), mac[6];
	struct wait_used w1, w2;
	u32 sum = 0;
	int r;

	path(p, sizeof(p), "net9");
	n[0] = nic_new_features(sharenet_open, p, 1ull << VIRTIO_NET_F_CSUM,
				err, sizeof(err));
	n[1] = nic_new_features(sharenet_open, p, mrg |
				1ull << VIRTIO_NET_F_GUEST_CSUM, err,
				sizeof(err));
	n[2] = nic_new_features(sharenet_open, p, mrg, err, sizeof(err));
	if (!n[0] || !n[1] || !n[2])
		abort();
	ok(machine_mmio_read(n[0]->d.m, n[0]->d.device + 10, 2) == 65535 &&
	   (nic_device_features(n[0]) & (1ull << VIRTIO_NET_F_CSUM)) &&
	   !(nic_device_features(n[0]) & (1ull << VIRTIO_NET_F_HOST_TSO4)),
	   "sharenet big: MTU 65535 and partial checksums, no segmentation");
	nic_config_mac(n[0], mac);
	tcp_frame(f, len, mac);
	/* The pseudo-header's sum where the checksum goes, as a sender
	 * with the offload leaves it. */
	for (int i = 26; i < 34; i += 2)
		sum += f[i] << 8 | f[i + 1];
	sum += 6 + (len - 34);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(f + 50, sum);
	nic_post_rx(n[1], 64, BUF_SIZE);
	nic_post_rx(n[2], 64, BUF_SIZE);
	w1 = (struct wait_used){ n[1], rx_used(n[1]) };
	w2 = (struct wait_used){ n[2], rx_used(n[2]) };
	nic_tx_pieces(n[0], f, len, &h, 8);
	ok(loop_run(2000, rx_used_moved, &w1) &&
	   loop_run(2000, rx_used_moved, &w2) &&
	   virtio_net_tx_dropped(n[0]->n) == 0,
	   "sharenet big: a 60054-byte frame goes out");
	loop_run(50, NULL, NULL);
	r = nic_rx_merged(n[1], got, len + 4096, &h);
	ok(r == (int)len && !memcmp(got, f, len) &&
	   h.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM && h.csum_start == 34 &&
	   h.csum_offset == 16 && h.num_buffers == 30,
	   "sharenet big: a guest with GUEST_CSUM gets it whole, checksum "
	   "partial, in %u buffers (%d bytes)", h.num_buffers, r);
	r = nic_rx_merged(n[2], got, len + 4096, &h);
	ok(r == (int)len && !memcmp(got + 54, f + 54, len - 54) &&
	   h.flags == 0 && csum(got + 34, len - 34, sum) == 0,
	   "sharenet big: a guest without it gets it whole, the TCP "
	   "checksum finished by its NIC (%d bytes)", r);
	for (int i = 0; i < 3; i++)
		nic_free(n[i]);
	free(f);
	free(got);
}

/*
 * The largest TSO frame an IPv4 header can describe (65535 bytes of IP,
 * 65549 with the Ethernet header), in 100 pieces: more than the TAP
 * backend hands to writev() as they are, so it is gathered, and must
 * reach the host whole.
 */
static void test_tap_big_tso(void)
{
	char err[256];
	struct nic *n = nic_new_features(tap_open, "10.9.5.1", OFFLOADS, err,
					 sizeof(err));
	struct virtio_net_hdr_v1 h = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		.hdr_len = htole16(54), .gso_size = htole16(1448),
		.csum_start = htole16(34), .csum_offset = htole16(16),
	};
	size_t len = 14 + 65535;
	u8 *f = malloc(len), *got = malloc(len + 1), mac[6];
	ssize_t r = -1;
	int s;

	if (!ok(n != NULL, "tap offload: a NIC for large frames (%s)",
		n ? "" : err))
		return;
	s = packet_socket_for(tap_ifname(n->nb), 0x0800);
	nic_config_mac(n, mac);
	tcp_frame(f, len, mac);
	nic_tx_pieces(n, f, len, &h, 100);
	for (int i = 0; i < 200 && r < 0; i++) {
		loop_run(10, NULL, NULL);
		r = recv(s, got, len + 1, MSG_TRUNC);
	}
	ok(r == (ssize_t)len && !memcmp(got + 54, f + 54, len - 54) &&
	   virtio_net_tx_dropped(n->n) == 0,
	   "tap offload: a %zu-byte TSO frame in 100 pieces reaches the "
	   "host whole (%zd bytes)", len, r);
	close(s);
	free(f);
	free(got);
	nic_free(n);
}

/* Checksum and segmentation offload over TAP, and what stays refused. */
static void test_tap_offload(void)
{
	char err[256];
	struct nic *n = nic_new_features(tap_open, "10.9.3.1", OFFLOADS, err,
					 sizeof(err));
	struct virtio_net_hdr_v1 h = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		.hdr_len = htole16(54), .gso_size = htole16(1000),
		.csum_start = htole16(34), .csum_offset = htole16(16),
	};
	u8 mac[6], f[2000];
	struct wait_sock ws;
	u64 df;
	int s;

	if (!ok(n != NULL, "tap offload: opens (%s)", n ? "" : err))
		return;
	df = nic_device_features(n);
	ok((df & OFFLOADS) == OFFLOADS &&
	   (df & (1ull << VIRTIO_NET_F_HOST_TSO6)) &&
	   (df & NET_RX_OFFLOADS) == NET_RX_OFFLOADS &&
	   (df & (1ull << VIRTIO_NET_F_MRG_RXBUF)) &&
	   !(df & (1ull << VIRTIO_NET_F_GUEST_UFO)),
	   "tap offload: the NIC offers checksum and TSO both ways, and "
	   "mergeable receive buffers, and no UDP fragmentation offload");
	nic_config_mac(n, mac);
	ws.s = packet_socket_for(tap_ifname(n->nb), 0x0800);
	tcp_frame(f, sizeof(f), mac);
	nic_tx(n, f, sizeof(f), &h);
	ok(loop_run(2000, sock_readable, &ws) && ws.len == sizeof(f) &&
	   !memcmp(ws.buf + 54, f + 54, sizeof(f) - 54) &&
	   virtio_net_tx_dropped(n->n) == 0,
	   "tap offload: a 2000-byte TSO frame (MSS 1000) reaches the host "
	   "whole");

	/* Each of these is a driver bug: dropped, the guest lives on. */
	h.csum_start = htole16(sizeof(f) - 17);
	nic_tx(n, f, sizeof(f), &h);
	h.csum_start = htole16(34);
	h.flags = 0;
	nic_tx(n, f, sizeof(f), &h);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	nic_tx(n, f, sizeof(f), &h);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	nic_tx(n, f, sizeof(f), &h);
	h.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	nic_tx(n, f, sizeof(f), &h);
	h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	nic_tx(n, f, 1000, &h);
	ok(virtio_net_tx_dropped(n->n) == 6 && !guest_killed(n->d.m) &&
	   !loop_run(200, sock_readable, &ws),
	   "tap offload: checksum outside the frame, TSO without NEEDS_CSUM, "
	   "ECN or TSO6 not negotiated, a plain frame over the MTU, an "
	   "unknown flag: dropped");

	/* Transmit coalescing (N:115): sent at once, given back together. */
	close(ws.s);
	ws.s = s = packet_socket(tap_ifname(n->nb));
	for (int i = 0; i < 3; i++) {
		make_frame(f, 100, bcast, mac, i);
		nic_tx_queue(n, f, 100, NULL);
	}
	ok(loop_run(0, sock_readable, &ws) && nic_tx_used(n) == 7,
	   "tap: frames leave at the kick, their buffers are not back yet");
	ok(loop_run(100, tx_all_back, n) && nic_tx_used(n) == 10,
	   "tap: ... and all three come back together soon after");
	close(s);
	nic_free(n);

	n = nic_new(tap_open, "10.9.4.1", err, sizeof(err));
	if (ok(n != NULL, "tap: a NIC whose driver takes no offloads (%s)",
	       n ? "" : err)) {
		h = (struct virtio_net_hdr_v1){
			.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
			.csum_start = htole16(34), .csum_offset = htole16(16),
		};
		nic_tx(n, f, 100, &h);
		ok(virtio_net_tx_dropped(n->n) == 1,
		   "tap: ... may not ask for a checksum");
		nic_free(n);
	}
}

int main(int argc, char **argv)
{
	char err[256];

	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && !strcmp(argv[1], "noperm")) {
		struct drv d;

		drv_machine(&d);
		virtio_net_add_tap(d.bus, "10.9.0.1");
		return 0;	/* test_net.sh: this is a failure */
	}
	if (argc >= 2 && !strcmp(argv[1], "tap")) {
		test_tap_args();
		test_tap();
		test_tap_offload();
		test_tap_big_tso();
		test_tap_rx_offload();
		test_tap_small_buffer();
	} else if (argc >= 3 && !strcmp(argv[1], "sharenet")) {
		snprintf(dir, sizeof(dir), "%s", argv[2]);
		test_sharenet_refuse();
		test_sharenet_local();
		test_sharenet_full_ring();
		test_sharenet_big();
		test_sharenet_procs();
		test_sharenet_full_slots();
		test_sharenet_hostile(argv[0]);
	} else if (argc >= 2 && !strcmp(argv[1], "slirp")) {
		test_slirp_args();
		test_slirp();
	} else {
		fprintf(stderr, "usage: test_net tap|sharenet DIR|slirp|"
			"noperm\n");
		return 2;
	}
	(void)err;
	return tap_failed;
}
