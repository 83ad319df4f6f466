/*
 * The shared-file network (--sharenet=FILE): every guest started with the
 * same FILE is on one Ethernet segment, with no daemon and no root.
 *
 * The file is the segment.  It opens with a header (magic, version and the
 * geometry below, so that a file of any other kind is refused and never
 * written) and holds SN_SLOTS slots, one per guest.  A slot is its owner's
 * MAC, a receive ring of fixed-size cells and a futex word:
 *
 *	header	[4 KiB]
 *	slot 0	[4 KiB control: mutex, futex, head, tail, MAC, flags]
 *		[SN_CELLS cells of SN_CELL bytes: length, frame]
 *	slot 1	...
 *
 * A guest owns a slot while it holds an open-file-description lock on the
 * slot's byte in the lock area (byte 1 + slot): the kernel drops the lock
 * when the guest's process dies, however it dies, and the slot is free.
 * The new owner empties the ring and writes its MAC.  The file is created,
 * and an empty file initialised, under a lock on byte 0.
 *
 * Sending is copying: for each other active slot whose MAC is the frame's
 * destination (every slot for broadcast and multicast, and promiscuous
 * slots for everything), the sender takes the slot's mutex, copies the
 * frame into the next free cell, moves the head, and bumps the futex word,
 * waking the owner if it sleeps there.  A full ring drops the frame: the
 * sender never waits for a receiver.  The mutex is a robust, process-shared
 * pthread mutex, so a sender that dies holding it does not wedge the slot:
 * the next sender is told, and the head was never moved over a half-copied
 * cell.
 *
 * Receiving: the owner's ring is read only by the owner, on the run loop's
 * thread, and only as far as the guest has receive buffers; frames wait in
 * the ring meanwhile.  A small thread sleeps on the futex word and turns
 * every change into a write to an eventfd that the run loop watches.
 *
 * Everything read from the shared mapping is checked before use (lengths,
 * ring indices): another process on the file may be broken.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "net.h"

#define SN_MAGIC	"LGSHNET\n"
#define SN_VERSION	1
#define SN_SLOTS	16
#define SN_CELLS	256
#define SN_CELL		2048
#define SN_PAGE		4096
#define SN_SLOT_SIZE	(SN_PAGE + SN_CELLS * SN_CELL)
#define SN_SIZE		(SN_PAGE + (u64)SN_SLOTS * SN_SLOT_SIZE)
#define SN_INIT_LOCK	0		/* byte locked while initialising */
#define SN_SLOT_LOCK(i)	(1 + (i))	/* byte held by slot i's owner */
/* Frames read from our ring per wake-up: the guest runs in between. */
#define RX_BATCH	64

struct sn_header {
	char magic[8];
	u32 version;
	u32 nslots, ncells, cell_size, slot_size, header_size;
	u32 mutex_size;		/* sizeof(pthread_mutex_t) of its maker */
};

struct sn_cell {
	u32 len;
	u8 frame[SN_CELL - 4];
};

/*N:130
 * The original lguest connected guests through a shared file too; ours is
 * a fresh design on the same idea.  The file is the Ethernet segment: a
 * 4 KiB header (magic, version, and the geometry, so a file of another
 * kind or another build is refused and never written), then 16 slots, one
 * per guest.  A slot is a 4 KiB control page (below) and a receive ring
 * of 256 cells of 2 KiB, each a length and one frame.  Everyone writes
 * into other guests' rings and reads only its own.  A slot belongs to the
 * process holding a lock on its byte of the file, which the kernel
 * releases however that process dies, so a crashed guest's slot is free
 * again without anyone cleaning up.  The head moves only after a whole
 * frame is in its cell, the tail only after the owner has taken it.
 */
struct sn_slot {
	pthread_mutex_t lock;	/* senders into this ring */
	u32 futex;		/* bumped after each frame */
	u32 waiting;		/* the owner may be asleep on futex */
	u32 head;		/* next cell to fill (under lock) */
	u32 tail;		/* next cell to read (owner only) */
	u32 dropped;		/* frames refused: ring full */
	u8 mac[6];
	u8 active, promisc;
};
/* head and tail are free-running counters: head - tail is the number of
 * frames waiting, and a cell is counter % SN_CELLS. :*/

_Static_assert(sizeof(struct sn_slot) <= SN_PAGE, "slot control too big");
_Static_assert(NET_MAX_FRAME <= SN_CELL - 4, "cells too small");

struct sharenet {
	struct net_backend nb;
	char path[256];
	int fd, efd;
	u8 *map;
	int me;			/* our slot */
	bool user_mac;		/* mac= given: nb.mac is the user's */
	pthread_t thread;
	bool thread_started;
	volatile bool stop;
};

static struct sn_slot *slot(struct sharenet *s, int i)
{
	return (struct sn_slot *)(s->map + SN_PAGE + (u64)i * SN_SLOT_SIZE);
}

static struct sn_cell *cell(struct sharenet *s, int i, u32 n)
{
	return (struct sn_cell *)((u8 *)slot(s, i) + SN_PAGE +
				  (u64)(n % SN_CELLS) * SN_CELL);
}

static long futex(u32 *addr, int op, u32 val)
{
	return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

/* Takes a slot's sender mutex; a holder that died left nothing half-done
 * that matters (the head moves last), so its state is declared sound. */
static void slot_lock(struct sn_slot *sl)
{
	if (pthread_mutex_lock(&sl->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&sl->lock);
}

/*
 * Sending.
 */
static void put(struct sn_slot *sl, struct sharenet *s, int i,
		const void *frame, size_t len)
{
	u32 head, tail;
	struct sn_cell *c;

	slot_lock(sl);
	head = sl->head;
	tail = __atomic_load_n(&sl->tail, __ATOMIC_ACQUIRE);
	if (head - tail >= SN_CELLS) {
		sl->dropped++;
		pthread_mutex_unlock(&sl->lock);
		return;
	}
	c = cell(s, i, head);
	c->len = len;
	memcpy(c->frame, frame, len);
	__atomic_store_n(&sl->head, head + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&sl->lock);
	/* Bump, then look for a sleeper: the owner sets waiting before it
	 * sleeps and sleeps only if the word is unchanged. */
	__atomic_add_fetch(&sl->futex, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&sl->waiting, __ATOMIC_SEQ_CST))
		futex(&sl->futex, FUTEX_WAKE, 1);
}

/*N:135
 * Sending is copying, and a switch's rules decide where: a broadcast or
 * multicast frame goes to every other active slot, a unicast one to the
 * slot whose MAC it names, and promiscuous slots get everything.  put()
 * above copies into the receiver's ring under its mutex (a robust one: a
 * sender that dies holding it does not wedge the slot) and wakes the
 * receiver through a futex word; a full ring drops the frame, so a sender
 * never waits for a slow receiver.  On the receiving side a small thread
 * sleeps on that futex and turns each wake into an eventfd write the run
 * loop watches, and drain() below reads the ring only as far as the guest
 * has buffers (N:100).  Every length and index read from the file is
 * checked before use: another process on it may be broken.
 */
static void sn_send(struct net_backend *nb, const void *frame, size_t len)
{
	struct sharenet *s = (struct sharenet *)nb;
	const u8 *dst = frame;
	bool group = dst[0] & 1;

	if (len > NET_MAX_FRAME)
		return;
	for (int i = 0; i < SN_SLOTS; i++) {
		struct sn_slot *sl = slot(s, i);

		if (i == s->me || !__atomic_load_n(&sl->active,
						    __ATOMIC_ACQUIRE))
			continue;
		if (group || sl->promisc || !memcmp(sl->mac, dst, 6))
			put(sl, s, i, frame, len);
	}
}
/* A guest never receives its own frames back, as on a real segment. :*/

/*
 * Receiving, on the run loop's thread.
 */
static void drain(struct sharenet *s)
{
	struct sn_slot *sl = slot(s, s->me);
	const struct net_client *c = &s->nb.client;

	for (int n = 0; n < RX_BATCH; n++) {
		u32 tail = sl->tail;
		u32 head = __atomic_load_n(&sl->head, __ATOMIC_ACQUIRE);
		struct sn_cell *ce;
		u32 len;

		if (head == tail)
			return;
		if (head - tail > SN_CELLS) {
			/* Only a broken peer moves the head like that. */
			__atomic_store_n(&sl->tail, head, __ATOMIC_RELEASE);
			return;
		}
		if (!c->can_receive(c->opaque))
			return;
		ce = cell(s, s->me, tail);
		len = ce->len;
		if (len >= 14 && len <= NET_MAX_FRAME)
			c->receive(c->opaque, ce->frame, len);
		__atomic_store_n(&sl->tail, tail + 1, __ATOMIC_RELEASE);
	}
	/* More may wait: look again soon. */
	eventfd_write(s->efd, 1);
}

static void sn_readable(void *opaque, int fd, u32 events)
{
	eventfd_t v;

	(void)events;
	eventfd_read(fd, &v);
	drain(opaque);
}

static void sn_rx_resume(struct net_backend *nb)
{
	drain((struct sharenet *)nb);
}

/* The waker: sleeps on our slot's futex word, and tells the run loop. */
static void *waker(void *opaque)
{
	struct sharenet *s = opaque;
	struct sn_slot *sl = slot(s, s->me);
	u32 seen = __atomic_load_n(&sl->futex, __ATOMIC_SEQ_CST);

	eventfd_write(s->efd, 1);
	while (!s->stop) {
		u32 now;

		__atomic_store_n(&sl->waiting, 1, __ATOMIC_SEQ_CST);
		futex(&sl->futex, FUTEX_WAIT, seen);
		__atomic_store_n(&sl->waiting, 0, __ATOMIC_SEQ_CST);
		now = __atomic_load_n(&sl->futex, __ATOMIC_SEQ_CST);
		if (now != seen) {
			seen = now;
			eventfd_write(s->efd, 1);
		}
	}
	return NULL;
}

static void sn_free(struct net_backend *nb)
{
	struct sharenet *s = (struct sharenet *)nb;
	struct sn_slot *sl = slot(s, s->me);

	if (s->thread_started) {
		s->stop = true;
		__atomic_add_fetch(&sl->futex, 1, __ATOMIC_SEQ_CST);
		futex(&sl->futex, FUTEX_WAKE, 1);
		pthread_join(s->thread, NULL);
	}
	slot_lock(sl);
	__atomic_store_n(&sl->active, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&sl->lock);
	machine_del_fd(nb->m, s->efd);
	close(s->efd);
	munmap(s->map, SN_SIZE);
	close(s->fd);		/* drops the slot's lock */
	free(s);
}

static const struct net_backend_ops sn_ops = {
	.send = sn_send,
	.rx_resume = sn_rx_resume,
	.free = sn_free,
};

/*
 * Opening: the file, its header, a slot.
 */
static int ofd_lock(int fd, off_t byte, bool wait)
{
	struct flock fl = {
		.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte,
		.l_len = 1,
	};

	return fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
}

static void ofd_unlock(int fd, off_t byte)
{
	struct flock fl = {
		.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = byte,
		.l_len = 1,
	};

	fcntl(fd, F_OFD_SETLK, &fl);
}

static void fill_header(struct sn_header *h)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, SN_MAGIC, 8);
	h->version = SN_VERSION;
	h->nslots = SN_SLOTS;
	h->ncells = SN_CELLS;
	h->cell_size = SN_CELL;
	h->slot_size = SN_SLOT_SIZE;
	h->header_size = SN_PAGE;
	h->mutex_size = sizeof(pthread_mutex_t);
}

/* A new (empty) file: size it, make the mutexes, and write the header
 * last, so that a half-made file is never taken for a sharenet file. */
static int init_file(struct sharenet *s)
{
	pthread_mutexattr_t a;
	struct sn_header h;

	if (ftruncate(s->fd, SN_SIZE) < 0)
		return -1;
	s->map = mmap(NULL, SN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      s->fd, 0);
	if (s->map == MAP_FAILED)
		return -1;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	for (int i = 0; i < SN_SLOTS; i++)
		pthread_mutex_init(&slot(s, i)->lock, &a);
	pthread_mutexattr_destroy(&a);
	fill_header(&h);
	memcpy(s->map, &h, sizeof(h));
	return 0;
}

/* An existing file: ours only if header and size say so exactly. */
static bool is_sharenet(int fd, off_t size)
{
	struct sn_header want, got;

	fill_header(&want);
	return size == (off_t)SN_SIZE &&
	       pread(fd, &got, sizeof(got), 0) == sizeof(got) &&
	       !memcmp(&want, &got, sizeof(got));
}

static int open_file(struct sharenet *s, char *err, size_t errlen)
{
	struct stat st;
	int r = -1;

	s->fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (s->fd < 0) {
		snprintf(err, errlen, "--sharenet=%s: %m", s->path);
		return -1;
	}
	if (ofd_lock(s->fd, SN_INIT_LOCK, true) < 0 || fstat(s->fd, &st) < 0) {
		snprintf(err, errlen, "--sharenet=%s: %m", s->path);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "--sharenet=%s: not a regular file",
			 s->path);
	} else if (st.st_size == 0) {
		r = init_file(s);
		if (r < 0)
			snprintf(err, errlen, "--sharenet=%s: cannot make it: "
				 "%m", s->path);
	} else if (!is_sharenet(s->fd, st.st_size)) {
		snprintf(err, errlen, "--sharenet=%s: not a sharenet file "
			 "(left as it is)", s->path);
	} else {
		s->map = mmap(NULL, SN_SIZE, PROT_READ | PROT_WRITE,
			      MAP_SHARED, s->fd, 0);
		r = s->map == MAP_FAILED ? -1 : 0;
		if (r < 0)
			snprintf(err, errlen, "--sharenet=%s: %m", s->path);
	}
	ofd_unlock(s->fd, SN_INIT_LOCK);
	/* 02:4c:53, two bytes that name the file (so that a guest with two
	 * sharenet NICs has two MACs even in equal slots), the slot. */
	if (!s->user_mac) {
		s->nb.mac[0] = 0x02;
		s->nb.mac[1] = 0x4c;
		s->nb.mac[2] = 0x53;
		s->nb.mac[3] = (st.st_ino ^ st.st_dev) >> 8;
		s->nb.mac[4] = st.st_ino ^ (st.st_dev >> 8);
	}
	return r;
}

static int take_slot(struct sharenet *s, bool promisc, char *err,
		     size_t errlen)
{
	struct sn_slot *sl;

	for (s->me = 0; s->me < SN_SLOTS; s->me++)
		if (ofd_lock(s->fd, SN_SLOT_LOCK(s->me), false) == 0)
			break;
	if (s->me == SN_SLOTS) {
		snprintf(err, errlen, "--sharenet=%s: all %d slots are taken",
			 s->path, SN_SLOTS);
		return -1;
	}
	if (!s->user_mac)
		s->nb.mac[5] = s->me;
	sl = slot(s, s->me);
	slot_lock(sl);
	/* A dead owner's frames are not ours: start empty. */
	__atomic_store_n(&sl->tail, sl->head, __ATOMIC_RELEASE);
	memcpy(sl->mac, s->nb.mac, 6);
	sl->promisc = promisc;
	sl->dropped = 0;
	__atomic_store_n(&sl->active, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&sl->lock);
	return 0;
}

static int parse(struct sharenet *s, const char *arg, bool *promisc,
		 char *err, size_t errlen)
{
	size_t len = strcspn(arg, ",");
	char mac[32], flag[4];

	if (!len || len >= sizeof(s->path)) {
		snprintf(err, errlen, "--sharenet: a file name, please");
		return -1;
	}
	memcpy(s->path, arg, len);
	s->path[len] = 0;
	*promisc = net_opt(arg, "promisc", flag, sizeof(flag));
	s->user_mac = net_opt(arg, "mac", mac, sizeof(mac));
	if (s->user_mac && net_parse_mac(mac, s->nb.mac) < 0) {
		snprintf(err, errlen, "--sharenet: '%s' is not a unicast MAC "
			 "address", mac);
		return -1;
	}
	return 0;
}

struct net_backend *sharenet_open(struct machine *m, const char *arg,
				  char *err, size_t errlen)
{
	struct sharenet *s = calloc(1, sizeof(*s));
	bool promisc;

	if (!s)
		abort();
	s->nb = (struct net_backend){ .ops = &sn_ops, .m = m,
				      .what = "--sharenet" };
	s->fd = s->efd = -1;
	s->map = MAP_FAILED;
	if (parse(s, arg, &promisc, err, errlen) < 0)
		goto fail;
	if (open_file(s, err, errlen) < 0 ||
	    take_slot(s, promisc, err, errlen) < 0)
		goto fail;
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0 ||
	    pthread_create(&s->thread, NULL, waker, s) != 0) {
		snprintf(err, errlen, "--sharenet=%s: %m", s->path);
		goto fail;
	}
	s->thread_started = true;
	machine_add_fd(m, s->efd, EPOLLIN, sn_readable, s);
	verbose("--sharenet=%s: slot %d", s->path, s->me);
	return &s->nb;
fail:
	if (s->efd >= 0)
		close(s->efd);
	if (s->map != MAP_FAILED)
		munmap(s->map, SN_SIZE);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	return NULL;
}

int sharenet_slot(struct net_backend *nb)
{
	return ((struct sharenet *)nb)->me;
}
