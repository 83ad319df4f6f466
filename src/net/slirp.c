/*
 * User networking (--net=user): a private NAT in the launcher, through
 * libslirp, as QEMU's "-nic user".  No root, no host configuration.
 *
 * The guest sees the network QEMU users know: it is 10.0.2.15 (by DHCP),
 * the gateway 10.0.2.2 is the host itself (a connection to 10.0.2.2:PORT
 * reaches 127.0.0.1:PORT on the host), 10.0.2.3 answers DNS.  Host ports
 * are forwarded into the guest with hostfwd=tcp:HADDR:HPORT-GADDR:GPORT,
 * as in QEMU, except that an empty HADDR means 127.0.0.1 here (QEMU's is
 * every address): a guest service is not offered to the world by default.
 *
 * Slirp owns host sockets (one per connection) whose set changes all the
 * time.  They live in a private epoll set; the run loop watches only that
 * set's fd (the machine has few fd slots to give).  Whenever it is ready,
 * and on slirp's own timers, we "pump": ask slirp for its sockets and their
 * events, poll them without waiting, let slirp act on the answers, and
 * bring the private set up to date.  Frames from the guest are handed to
 * slirp at once, and a pump follows at the next run-loop turn.
 *
 * Frames for the guest are dropped when it has no receive buffer (slirp's
 * TCP retransmits them, at a gentler pace).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <slirp/libslirp.h>

#include "net.h"

#define MAX_POLL_MS	1000	/* look at slirp at least this often */
#define OPT_LEN		128

struct slirp_net {
	struct net_backend nb;
	Slirp *slirp;
	int epfd;
	struct timer *pump_timer;
	struct pollfd *pfd;	/* from the last fill */
	int npfd, cap;
	int *watched;		/* fds in the private epoll set */
	int nwatched, wcap;
	bool pumping;
	bool again;		/* slirp asked for a pump during one */
};

struct slirp_timer {
	struct slirp_net *sn;
	struct timer *t;
	SlirpTimerCb cb;
	void *cb_opaque;
};

/*
 * Slirp's callbacks.
 */
static ssize_t send_packet(const void *buf, size_t len, void *opaque)
{
	struct slirp_net *sn = opaque;
	const struct net_client *c = &sn->nb.client;

	if (len <= NET_MAX_FRAME && c->can_receive(c->opaque))
		c->receive(c->opaque, NULL, buf, len);
	return len;
}

static void guest_error(const char *msg, void *opaque)
{
	(void)opaque;
	verbose("--net=user: %s", msg);
}

static int64_t clock_ns(void *opaque)
{
	struct slirp_net *sn = opaque;

	return machine_clock_ns(sn->nb.m);
}

static void pump(struct slirp_net *sn);

static void slirp_timer_fire(void *opaque)
{
	struct slirp_timer *st = opaque;

	st->cb(st->cb_opaque);
	pump(st->sn);
}

static void *slirp_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct slirp_timer *st = calloc(1, sizeof(*st));
	struct slirp_net *sn = opaque;

	if (!st)
		abort();
	*st = (struct slirp_timer){ sn, NULL, cb, cb_opaque };
	st->t = timer_new(sn->nb.m, slirp_timer_fire, st);
	return st;
}

static void slirp_timer_free(void *timer, void *opaque)
{
	struct slirp_timer *st = timer;

	(void)opaque;
	/* The machine frees its timers; this one just never fires. */
	timer_del(st->t);
	free(st);
}

static void slirp_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct slirp_timer *st = timer;

	(void)opaque;
	timer_mod(st->t, expire_ms < 0 ? 0 : (u64)expire_ms * 1000000);
}

static void reg_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
}

/* Slirp has something to do (more room in a socket buffer): pump soon. */
static void notify(void *opaque)
{
	struct slirp_net *sn = opaque;

	if (sn->pumping)
		sn->again = true;
	else
		timer_mod(sn->pump_timer, machine_clock_ns(sn->nb.m));
}

static const SlirpCb callbacks = {
	.send_packet = send_packet,
	.guest_error = guest_error,
	.clock_get_ns = clock_ns,
	.timer_new = slirp_timer_new,
	.timer_free = slirp_timer_free,
	.timer_mod = slirp_timer_mod,
	.register_poll_fd = reg_fd,
	.unregister_poll_fd = reg_fd,
	.notify = notify,
};

/*
 * Polling slirp's sockets.
 */
static int add_poll(int fd, int events, void *opaque)
{
	struct slirp_net *sn = opaque;
	short ev = 0;

	if (sn->npfd == sn->cap) {
		sn->cap = sn->cap ? 2 * sn->cap : 16;
		sn->pfd = realloc(sn->pfd, sn->cap * sizeof(*sn->pfd));
		if (!sn->pfd)
			abort();
	}
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	sn->pfd[sn->npfd] = (struct pollfd){ .fd = fd, .events = ev };
	return sn->npfd++;
}

static int get_revents(int idx, void *opaque)
{
	struct slirp_net *sn = opaque;
	short r;
	int ev = 0;

	if (idx < 0 || idx >= sn->npfd)
		return 0;
	r = sn->pfd[idx].revents;
	if (r & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (r & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (r & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (r & (POLLERR | POLLNVAL))
		ev |= SLIRP_POLL_ERR;
	if (r & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

static u32 fill(struct slirp_net *sn)
{
	u32 timeout = MAX_POLL_MS;

	sn->npfd = 0;
	slirp_pollfds_fill(sn->slirp, &timeout, add_poll, sn);
	return timeout;
}

static bool in_fill(struct slirp_net *sn, int fd)
{
	for (int i = 0; i < sn->npfd; i++)
		if (sn->pfd[i].fd == fd)
			return true;
	return false;
}

/* Makes the private epoll set what the last fill asked for.  An fd number
 * that was closed and reused is not in the set any more (epoll forgets
 * closed files), so MOD fails and we ADD it afresh. */
static void sync_epoll(struct slirp_net *sn)
{
	for (int i = 0; i < sn->nwatched; i++)
		if (!in_fill(sn, sn->watched[i]))
			epoll_ctl(sn->epfd, EPOLL_CTL_DEL, sn->watched[i], NULL);
	if (sn->npfd > sn->wcap) {
		sn->wcap = sn->npfd;
		sn->watched = realloc(sn->watched,
				      sn->wcap * sizeof(*sn->watched));
		if (!sn->watched)
			abort();
	}
	sn->nwatched = 0;
	for (int i = 0; i < sn->npfd; i++) {
		struct epoll_event ev = {
			.events = sn->pfd[i].events, .data.fd = sn->pfd[i].fd,
		};

		if (epoll_ctl(sn->epfd, EPOLL_CTL_MOD, ev.data.fd, &ev) < 0 &&
		    epoll_ctl(sn->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
			continue;
		sn->watched[sn->nwatched++] = ev.data.fd;
	}
}

/*N:140
 * User networking is a whole TCP/IP stack in the launcher, libslirp's:
 * the guest's frames are parsed there and turned into ordinary host
 * sockets, so the guest reaches the world as the user running lguest,
 * with no root and no host configuration.  The one difficulty is that
 * slirp's set of sockets changes all the time, and the machine watches
 * few fds.  So slirp's sockets live in a private epoll set and the run
 * loop watches that one fd; when it is ready, or slirp's timer is due, we
 * pump: ask slirp which sockets and events it wants, poll them without
 * waiting, let slirp act on the answers, and bring the private set up to
 * date.  Frames slirp makes for a guest with no receive buffer are
 * dropped, and TCP sends them again, at a gentler pace.
 */
static void pump(struct slirp_net *sn)
{
	int r;
	u32 timeout;

	if (sn->pumping)	/* slirp called us back from inside */
		return;
	sn->pumping = true;
	sn->again = false;
	fill(sn);
	r = poll(sn->pfd, sn->npfd, 0);
	slirp_pollfds_poll(sn->slirp, r < 0, get_revents, sn);
	timeout = fill(sn);
	sync_epoll(sn);
	if (sn->again)
		timeout = 0;
	timer_mod(sn->pump_timer, machine_clock_ns(sn->nb.m) +
		  (u64)timeout * 1000000);
	sn->pumping = false;
}
/* Slirp's timeouts are in the guest's time, like every timer here: a
 * guest that is slow to run sees TCP's timers run slow with it. :*/

static void pump_timer(void *opaque)
{
	pump(opaque);
}

static void epfd_ready(void *opaque, int fd, u32 events)
{
	(void)fd;
	(void)events;
	pump(opaque);
}

/*
 * The backend.
 */
static void sl_send(struct net_backend *nb, const void *frame, size_t len)
{
	struct slirp_net *sn = (struct slirp_net *)nb;

	slirp_input(sn->slirp, frame, len);
	/* It may have made a socket or queued data: pump after this
	 * burst of frames. */
	notify(sn);
}

static void sl_rx_resume(struct net_backend *nb)
{
	(void)nb;
}

static void sl_free(struct net_backend *nb)
{
	struct slirp_net *sn = (struct slirp_net *)nb;

	machine_del_fd(nb->m, sn->epfd);
	timer_del(sn->pump_timer);
	slirp_cleanup(sn->slirp);
	close(sn->epfd);
	free(sn->pfd);
	free(sn->watched);
	free(sn);
}

static const struct net_backend_ops sl_ops = {
	.send = sl_send,
	.rx_resume = sl_rx_resume,
	.free = sl_free,
};

/* "tcp:HADDR:HPORT-GADDR:GPORT" (either address may be empty). */
static int hostfwd(struct slirp_net *sn, const char *spec, char *err,
		   size_t errlen)
{
	char proto[4], haddr[32] = "", gaddr[32] = "", tail;
	unsigned int hport, gport;
	struct in_addr h, g;
	int udp;

	if (sscanf(spec, "%3[a-z]:%31[0-9.]:%u-%31[0-9.]:%u%c", proto, haddr,
		   &hport, gaddr, &gport, &tail) != 5 &&
	    sscanf(spec, "%3[a-z]::%u-%31[0-9.]:%u%c", proto, &hport, gaddr,
		   &gport, &tail) != 4 &&
	    sscanf(spec, "%3[a-z]:%31[0-9.]:%u-:%u%c", proto, haddr, &hport,
		   &gport, &tail) != 4 &&
	    sscanf(spec, "%3[a-z]::%u-:%u%c", proto, &hport, &gport,
		   &tail) != 3)
		goto bad;
	udp = !strcmp(proto, "udp");
	if ((!udp && strcmp(proto, "tcp")) || !hport || hport > 65535 ||
	    !gport || gport > 65535 ||
	    !inet_pton(AF_INET, *haddr ? haddr : "127.0.0.1", &h) ||
	    !inet_pton(AF_INET, *gaddr ? gaddr : "10.0.2.15", &g))
		goto bad;
	if (slirp_add_hostfwd(sn->slirp, udp, h, hport, g, gport) < 0) {
		snprintf(err, errlen, "--net=user: hostfwd=%s: cannot listen "
			 "there: %m", spec);
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "--net=user: hostfwd=%s: not "
		 "tcp|udp:[HADDR]:HPORT-[GADDR]:GPORT", spec);
	return -1;
}

/* Every option after "user": hostfwd= (repeatable) and mac=. */
static int options(struct slirp_net *sn, const char *arg, char *err,
		   size_t errlen)
{
	const char *p = strchr(arg, ',');

	while (p) {
		const char *item = p + 1;
		size_t len = strcspn(item, ",");
		char opt[OPT_LEN];

		if (len >= sizeof(opt))
			len = sizeof(opt) - 1;
		memcpy(opt, item, len);
		opt[len] = 0;
		p = strchr(item, ',');
		if (!strncmp(opt, "hostfwd=", 8)) {
			if (hostfwd(sn, opt + 8, err, errlen) < 0)
				return -1;
		} else if (!strncmp(opt, "mac=", 4)) {
			if (net_parse_mac(opt + 4, sn->nb.mac) < 0) {
				snprintf(err, errlen, "--net=user: '%s' is not "
					 "a unicast MAC address", opt + 4);
				return -1;
			}
		} else {
			snprintf(err, errlen, "--net=user: unknown option "
				 "'%s' (hostfwd=, mac=)", opt);
			return -1;
		}
	}
	return 0;
}

struct net_backend *slirp_open(struct machine *m, const char *arg, char *err,
			       size_t errlen)
{
	static const u8 qemu_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	struct slirp_net *sn;
	SlirpConfig cfg = {
		.version = 3,
		.in_enabled = true,
		.vnetwork.s_addr = htonl(0x0a000200),	/* 10.0.2.0 */
		.vnetmask.s_addr = htonl(0xffffff00),
		.vhost.s_addr = htonl(0x0a000202),	/* 10.0.2.2 */
		.vdhcp_start.s_addr = htonl(0x0a00020f),	/* .15 */
		.vnameserver.s_addr = htonl(0x0a000203),	/* .3 */
		.vhostname = "lguest",
	};

	if (strncmp(arg, "user", 4) || (arg[4] && arg[4] != ',')) {
		snprintf(err, errlen, "--net: '%s' is not a network type "
			 "(only 'user')", arg);
		return NULL;
	}
	sn = calloc(1, sizeof(*sn));
	if (!sn)
		abort();
	sn->nb = (struct net_backend){ .ops = &sl_ops, .m = m,
				       .what = "--net=user" };
	memcpy(sn->nb.mac, qemu_mac, 6);
	sn->epfd = epoll_create1(EPOLL_CLOEXEC);
	sn->slirp = slirp_new(&cfg, &callbacks, sn);
	if (sn->epfd < 0 || !sn->slirp) {
		snprintf(err, errlen, "--net=user: cannot start libslirp");
		goto fail;
	}
	if (options(sn, arg, err, errlen) < 0)
		goto fail;
	sn->pump_timer = timer_new(m, pump_timer, sn);
	machine_add_fd(m, sn->epfd, EPOLLIN, epfd_ready, sn);
	pump(sn);
	return &sn->nb;
fail:
	if (sn->slirp)
		slirp_cleanup(sn->slirp);
	if (sn->epfd >= 0)
		close(sn->epfd);
	free(sn);
	return NULL;
}
