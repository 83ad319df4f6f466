/*
 * The shared-file network (--sharenet=FILE): every guest started with the
 * same FILE is on one Ethernet segment, with no daemon and no root.
 *
 * The file is the segment, and every process on it can write every byte
 * of it, truncate it, or sleep on any word of it: another guest on the
 * file is as hostile as our own guest (DESIGN.md, "Peers are hostile
 * too").  So the file holds only plain numbers and frames, never a lock,
 * a pthread object or a pointer, and each part of it has one writer:
 *
 *	header	[4 KiB: magic, version, geometry]
 *	slot 0	[4 KiB control: head, wake, active, MAC, promisc,
 *		 reserve]
 *		[SN_CELLS cells of SN_CELL bytes: a ring of frames, each
 *		 seq, length, virtio-net header, frame, in as many cells
 *		 as it needs]
 *	slot 1	...
 *
 * Each slot is its owner's transmit ring.  Only the owner writes the
 * ring and the control page (the wake word aside, which senders bump);
 * every other guest reads it, keeping its own read position in its own
 * memory, and takes the frames whose destination is its MAC (broadcast
 * and multicast frames, and everything for a promiscuous slot).  Why
 * this and not the alternatives:
 *
 *  - A receive ring per guest that every sender writes (what this file
 *    did until format 2) needs the senders to agree on who writes next: a
 *    lock in the file (it was a process-shared pthread mutex), whose
 *    owner a peer can forge, or a lock-free reservation, where a peer
 *    that reserves a cell and never fills it stalls everyone behind it
 *    until a timeout, and a peer that spins on the reservation index
 *    starves honest senders.
 *  - A ring per (sender, receiver) pair has one writer too, but 16 x 16
 *    rings cost 16 times the memory or 16 times fewer cells, and a
 *    broadcast is copied 15 times.
 *  - A transmit ring per sender is one writer, one copy per frame
 *    however many receive it, and no state written by a receiver at all.
 *    A receiver that falls more than SN_CELLS of a sender's frames
 *    behind loses the oldest (the sender overwrites them) instead of the
 *    newest, as a switch port's queue would: the same loss, at the other
 *    end.
 *
 * Reading a frame another process may be rewriting is a seqlock on the
 * ring (N:132): the writer says how far it is about to write (reserve)
 * before it writes, and moves its head after.  A reader that wants the
 * frame starting at cell n takes its first word (its cell number, which
 * must be n, and its length, checked), copies the frame out, and takes
 * reserve: if the writer has reserved past n + SN_CELLS, it may have
 * written over what we copied, and the frame is dropped.  Every number
 * read from the file is read once, into a local, and checked before use;
 * the worst a peer can make of it is a dropped or a garbled frame.
 *
 * A guest owns a slot while it holds an open-file-description lock on
 * the slot's byte in the lock area (byte 1 + slot): the kernel drops the
 * lock when the guest's process dies, however it dies, and the slot is
 * free.  Locks live in the kernel, where no peer can forge them.  The
 * file is created, and an empty file initialised, under a lock on byte 0,
 * which we wait for SN_INIT_WAIT_S at most: a peer may hold it for ever.
 *
 * Waking: a sender bumps the wake word of each guest its frame is for and
 * wakes every sleeper on the word, so a peer sleeping there cannot take
 * our wake-up.  Each guest has a small thread that sleeps on its own wake
 * word and turns a change into an eventfd write that the run loop
 * watches.  It never sleeps longer than SN_WAIT_MS, so nothing a peer
 * does to the word (wake us for nothing, requeue us onto another word,
 * forge our MAC so that no sender wakes us) holds it; on each timeout it
 * looks for frames that came without a wake-up, and puts back its own
 * control page and the header if a peer rewrote them.
 *
 * A peer may truncate the file: touching the mapping beyond the file's
 * end raises SIGBUS.  Every access to the mapping runs under a guard (a
 * thread-local sigjmp_buf and the mapping's bounds); a SIGBUS inside it
 * drops the frame and marks the file broken, and while it is broken
 * nothing touches the mapping: the waker looks at the file's size every
 * SN_WAIT_MS and takes it back into use once it is whole again.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

#define SN_MAGIC	"LGSHNET\n"
#define SN_VERSION	3
#define SN_SLOTS	16
#define SN_CELLS	1024
#define SN_CELL		2048
/* A frame's record: cell number and length (one word), the virtio-net
 * header, padding to a word; then the frame. */
#define SN_REC		24
#define SN_RING_WORDS	(SN_CELLS * SN_CELL / 8)
/* The MTU on a sharenet segment: one IP packet of the largest size, so
 * that guest-to-guest TCP moves 64 KiB per frame (N:131). */
#define SN_MTU		65535
#define SN_MAX_FRAME	(SN_MTU + 14 + 4)
#define SN_PAGE		4096
#define SN_SLOT_SIZE	(SN_PAGE + SN_CELLS * SN_CELL)
#define SN_SIZE		(SN_PAGE + (u64)SN_SLOTS * SN_SLOT_SIZE)
#define SN_INIT_LOCK	0		/* byte locked while initialising */
#define SN_SLOT_LOCK(i)	(1 + (i))	/* byte held by slot i's owner */
/* The longest the waker sleeps: the worst delay a peer that forges our
 * MAC or flags can add to a frame, and how often a broken file is
 * looked at again. */
#define SN_WAIT_MS	100
/* The longest we wait for another opener to set the file up. */
#define SN_INIT_WAIT_S	10
/* Frames handed to the guest per wake-up, and cells looked at (frames
 * for others included): the guest runs in between. */
#define RX_BATCH	64
#define RX_SCAN		(2 * SN_CELLS)
#define MAC_MASK	0xffffffffffffull

struct sn_header {
	char magic[8];
	u32 version;
	u32 nslots, ncells, cell_size, slot_size, header_size;
};

/*N:130
 * The original lguest connected guests through a shared file too; ours is
 * a fresh design on the same idea, built for a file that any process on it
 * may scribble on.  The file is the Ethernet segment: a 4 KiB header
 * (magic, version, and the geometry, so a file of another kind is refused
 * and never written), then 16 slots, one per guest.  A slot is its owner's
 * transmit ring: a 4 KiB control page (below) and 1024 cells of 2 KiB, in
 * which each frame takes as many cells as it needs after a small record
 * (N:131).  Each guest writes only its own
 * slot and reads everyone else's, keeping its read positions in its own
 * memory, so there is nothing in the file for two writers to agree on and
 * no lock in it: a slot belongs to the process holding a lock on its byte
 * of the file, which lives in the kernel and is released however that
 * process dies.  A peer that writes our slot only garbles frames; every
 * number we read back is checked.
 */
struct sn_ctl {
	u32 head;		/* cells written: the next frame starts here */
	u32 pad0[15];		/* wake is written by others: own line */
	u32 wake;		/* bumped by senders to wake the owner */
	u32 pad1[15];
	u32 active;		/* owned (a hint for whom to wake) */
	u32 promisc;		/* takes every frame (ditto) */
	u64 mac;		/* the owner's MAC, low 48 bits (ditto) */
	u32 reserve;		/* cells being written, up to here */
};
/* head and reserve are free-running cell numbers: cell n is at
 * n % SN_CELLS, and a frame may wrap round the ring's end. :*/

/*N:131
 * Frames on a sharenet segment may be as long as one IP packet can be:
 * the NIC announces an MTU of 65535, so the guests' TCP sends 64 KiB per
 * frame instead of 1500 bytes, which on a software CPU is most of the
 * cost of a byte; and partial checksums pass through, with the
 * virtio-net header in the record, so that neither guest checksums
 * anything (a receiver that did not accept GUEST_CSUM has it finished by
 * its NIC).  No segmentation offload: there is nothing to cut up, the
 * frames are as large as segments would be.  A frame takes as many 2 KiB
 * cells as it needs, after a 24-byte record (its first cell number, its
 * length, the header), so a ring of 1024 cells holds 1024 small frames or
 * 31 of the largest, and a reader far behind loses the oldest.
 */
struct sn_rec {
	u32 seq;		/* the cell it starts at */
	u32 len;		/* of the frame */
	struct virtio_net_hdr_v1 hdr;
	u32 pad;
};

_Static_assert(sizeof(struct sn_ctl) <= SN_PAGE, "slot control too big");
_Static_assert(sizeof(struct sn_rec) == SN_REC, "record size");
_Static_assert(SN_MAX_FRAME <= NET_MAX_GSO_FRAME, "frames too long");
_Static_assert((SN_REC + SN_MAX_FRAME) / SN_CELL < SN_CELLS / 8,
	       "ring too small");
/* A reader looks at a record's first word (where the frame starts, how
 * long it is) and its destination MAC before it copies anything: frames
 * for other guests cost it two loads, however long they are. :*/

/* A frame being received (on the run loop's thread). */
struct rx {
	struct virtio_net_hdr_v1 hdr;
	u32 len;
	int scan;		/* cells still to look at */
	u8 buf[SN_MAX_FRAME + 8];
};

struct sharenet {
	struct net_backend nb;
	char path[256];
	int fd, efd;
	u8 *map;
	int me;			/* our slot */
	bool user_mac;		/* mac= given: nb.mac is the user's */
	bool promisc;
	u64 mac;		/* nb.mac as a number, as the file has it */
	u32 head;		/* our next free cell: the file's is a copy */
	u32 cur[SN_SLOTS];	/* next cell to read in each ring */
	int rr;			/* ring to look at first: fairness */
	bool broken;		/* the file shrank: leave it alone (atomic) */
	bool said_broken, said_whole;
	pthread_t thread;
	bool thread_started;
	bool stop;		/* atomic */
	u8 txbuf[SN_MAX_FRAME + 8];	/* a frame from its pieces */
	struct rx rx;
};

static struct sn_ctl *ctl(struct sharenet *s, int i)
{
	return (struct sn_ctl *)(s->map + SN_PAGE + (u64)i * SN_SLOT_SIZE);
}

static u64 *ring(struct sharenet *s, int i)
{
	return (u64 *)((u8 *)ctl(s, i) + SN_PAGE);
}

/* Word w of the frame record that starts at cell n, round the ring. */
static u64 *rec_word(u64 *r, u32 n, u32 w)
{
	return r + ((u64)(n % SN_CELLS) * (SN_CELL / 8) + w) % SN_RING_WORDS;
}

static u32 cells_for(u32 len)
{
	return (SN_REC + len + SN_CELL - 1) / SN_CELL;
}

static u32 ld(const u32 *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void st(u32 *p, u32 v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static u64 mac_of(const u8 *m)
{
	u64 v = 0;

	memcpy(&v, m, 6);	/* little-endian, as the host */
	return v;
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
}

/*
 * Guarding every touch of the mapping against a file that shrank.
 *
 * The handler acts only on a SIGBUS raised on this thread, inside a
 * guarded call, at an address in that call's mapping: any other SIGBUS
 * goes to the handler that was there before ours (the terminal's, or the
 * default), by putting it back and letting the access fault again.
 */
struct sn_guard {
	sigjmp_buf jb;
	const u8 *lo, *hi;
};

static __thread struct sn_guard *sn_guard;
static struct sigaction old_sigbus;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	struct sn_guard *g = sn_guard;
	const u8 *a = si->si_addr;

	(void)uc;
	if (g && si->si_code > 0 && a >= g->lo && a < g->hi)
		siglongjmp(g->jb, 1);
	sigaction(SIGBUS, &old_sigbus, NULL);
	if (si->si_code <= 0)
		raise(sig);	/* sent, not a fault: it will not recur */
}

static void install_sigbus(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	/* NODEFER: leaving the handler by siglongjmp must not leave SIGBUS
	 * blocked (a fault while it is blocked kills the process). */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old_sigbus);
}

static void catch_sigbus(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, install_sigbus);
}

static bool is_broken(struct sharenet *s)
{
	return __atomic_load_n(&s->broken, __ATOMIC_ACQUIRE);
}

/* A SIGBUS in a guarded call: the file is shorter than our mapping. */
static void file_broke(struct sharenet *s)
{
	__atomic_store_n(&s->broken, true, __ATOMIC_RELEASE);
	if (__atomic_exchange_n(&s->said_broken, true, __ATOMIC_ACQ_REL))
		return;
	fprintf(stderr, "lguest: --sharenet=%s: another process cut the file "
		"short; frames are dropped until it is whole again%s",
		s->path, isatty(2) ? "\r\n" : "\n");
}

typedef int (*sn_fn)(struct sharenet *s, void *arg);

/* Runs fn, which touches the mapping and nothing else that a jump out of
 * it could leave half-done.  Returns what fn returns, or -1 if the file
 * was cut short under it. */
static int guarded(struct sharenet *s, sn_fn fn, void *arg)
{
	struct sn_guard g = { .lo = s->map, .hi = s->map + SN_SIZE };
	volatile int r = -1;

	if (sigsetjmp(g.jb, 0)) {
		sn_guard = NULL;
		file_broke(s);
		return -1;
	}
	sn_guard = &g;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	r = fn(s, arg);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	sn_guard = NULL;
	return r;
}

static long futex(u32 *addr, int op, u32 val, const struct timespec *ts)
{
	return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

/*
 * Sending.
 */
struct frame {
	const struct virtio_net_hdr_v1 *hdr;
	const u8 *data;
	u32 len;
};

/*N:132
 * Writing a frame into our ring: say how far we will write (reserve),
 * write the record and the frame a word at a time, then move the head.
 * A reader checks reserve after copying a frame: the fences pair up so
 * that if it saw any word of a newer frame, it sees the reserve that
 * came before it too, and drops what it copied.
 */
static void put(struct sharenet *s, const struct frame *f)
{
	u32 n = s->head, k = cells_for(f->len), words = (f->len + 7) / 8;
	struct sn_rec rec = { .seq = n, .len = f->len, .hdr = *f->hdr };
	u64 *r = ring(s, s->me), w;

	__atomic_store_n(&ctl(s, s->me)->reserve, n + k, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (u32 i = 0; i < SN_REC / 8; i++) {
		memcpy(&w, (u8 *)&rec + 8 * i, 8);
		__atomic_store_n(rec_word(r, n, i), w, __ATOMIC_RELAXED);
	}
	for (u32 i = 0; i < words; i++) {
		u32 left = f->len - 8 * i;

		w = 0;
		memcpy(&w, f->data + 8 * i, left < 8 ? left : 8);
		__atomic_store_n(rec_word(r, n, SN_REC / 8 + i), w,
				 __ATOMIC_RELAXED);
	}
	s->head = n + k;
	/* A peer may have written our head: this puts it right, too. */
	__atomic_store_n(&ctl(s, s->me)->head, n + k, __ATOMIC_RELEASE);
}
/* The reader's side is take() below: one check of reserve after the
 * copy covers every cell of the frame, since a writer reaches the
 * frame's later cells only after its first. :*/

/* Wakes each guest the frame is for, as far as its control page says:
 * what a peer wrote there can only cost that guest a prompt wake-up. */
static void wake(struct sharenet *s, u64 dst)
{
	bool group = dst & 1;

	for (int i = 0; i < SN_SLOTS; i++) {
		struct sn_ctl *c = ctl(s, i);

		if (i == s->me || !ld(&c->active))
			continue;
		if (!group && !ld(&c->promisc) &&
		    (__atomic_load_n(&c->mac, __ATOMIC_RELAXED) & MAC_MASK) !=
		    dst)
			continue;
		/* The owner sleeps only while wake is as it last read it;
		 * every sleeper is woken, so none can take its wake-up. */
		__atomic_add_fetch(&c->wake, 1, __ATOMIC_SEQ_CST);
		futex(&c->wake, FUTEX_WAKE, INT_MAX, NULL);
	}
}

static int send_guarded(struct sharenet *s, void *arg)
{
	const struct frame *f = arg;

	put(s, f);
	wake(s, mac_of(f->data));
	return 0;
}

static void send_frame(struct sharenet *s, const struct frame *f)
{
	if (f->len < 14 || f->len > SN_MAX_FRAME || is_broken(s))
		return;
	guarded(s, send_guarded, (void *)f);
}

/*N:135
 * Sending is one copy into our own ring, whoever the frame is for, and a
 * wake-up for each guest the frame is for (by the MACs the control pages
 * show: a broadcast wakes everyone).  A sender never waits: its ring
 * simply overwrites its oldest frame.  Receiving is reading the other
 * guests' rings: a small thread sleeps on our wake word (never longer than
 * a tenth of a second, so that nothing a peer does to that word can hold
 * it) and turns a change into an eventfd write the run loop watches, and
 * drain() below reads the rings only as far as the guest has buffers
 * (N:100), keeping the frames whose destination is our MAC.
 */
static void sn_send(struct net_backend *nb, const void *frame, size_t len)
{
	static const struct virtio_net_hdr_v1 none;
	struct frame f = { &none, frame, len };

	if (len <= SN_MAX_FRAME)
		send_frame((struct sharenet *)nb, &f);
}

/* A frame with a header (a partial checksum, checked by the NIC), in
 * pieces in guest RAM: gathered first, as it goes into the ring a word
 * at a time. */
static void sn_send_vnet(struct net_backend *nb,
			 const struct virtio_net_hdr_v1 *hdr,
			 const struct iovec *iov, unsigned int iovcnt)
{
	struct sharenet *s = (struct sharenet *)nb;
	struct frame f = { hdr, s->txbuf, 0 };

	for (unsigned int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SN_MAX_FRAME - f.len)
			return;
		memcpy(s->txbuf + f.len, iov[i].iov_base, iov[i].iov_len);
		f.len += iov[i].iov_len;
	}
	send_frame(s, &f);
}
/* A guest never receives its own frames back, as on a real segment: it
 * does not read its own ring. :*/

/*
 * Receiving, on the run loop's thread.
 */
enum { RX_NONE, RX_FRAME, RX_MORE };


static bool for_us(struct sharenet *s, u64 dst)
{
	return (dst & 1) || s->promisc || dst == s->mac;
}

/*
 * The frame starting at cell n of ring i into rx if it is whole and for
 * us.  Returns how many cells to step over: the frame's, or 1 where no
 * frame starts (a reader put back into the window lands anywhere).
 * *got says whether rx holds the frame.
 */
static u32 take(struct sharenet *s, int i, u32 n, u32 avail, struct rx *rx,
		bool *got)
{
	u64 *r = ring(s, i), w;
	u32 seq, len, k, words;

	*got = false;
	w = __atomic_load_n(rec_word(r, n, 0), __ATOMIC_ACQUIRE);
	seq = (u32)w;
	len = w >> 32;
	if (seq != n || len < 14 || len > SN_MAX_FRAME)
		return 1;	/* overwritten, or never a frame's start */
	k = cells_for(len);
	if (k > avail)
		return 1;	/* past the head: not one the owner wrote */
	if (!for_us(s, __atomic_load_n(rec_word(r, n, SN_REC / 8),
				       __ATOMIC_RELAXED) & MAC_MASK))
		return k;
	for (u32 j = 1; j < SN_REC / 8; j++) {
		w = __atomic_load_n(rec_word(r, n, j), __ATOMIC_RELAXED);
		memcpy((u8 *)&rx->hdr + 8 * (j - 1), &w,
		       j * 8 <= sizeof(rx->hdr) ? 8 : sizeof(rx->hdr) % 8);
	}
	words = (len + 7) / 8;
	for (u32 j = 0; j < words; j++) {
		w = __atomic_load_n(rec_word(r, n, SN_REC / 8 + j),
				    __ATOMIC_RELAXED);
		memcpy(rx->buf + 8 * j, &w, 8);
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (ld(&ctl(s, i)->reserve) - n > SN_CELLS)
		return k;	/* the sender lapped us while we copied */
	rx->len = len;
	*got = true;
	return k;
}

/* How many cells ring i holds for us to look at, after putting our read
 * position back in the ring's window if the sender lapped us or its head
 * went backwards (a new file, or a peer's scribble). */
static u32 pending(struct sharenet *s, int i)
{
	u32 head = __atomic_load_n(&ctl(s, i)->head, __ATOMIC_ACQUIRE);
	u32 d = head - s->cur[i];

	if ((int32_t)d < 0) {
		s->cur[i] = head;
		return 0;
	}
	if (d > SN_CELLS) {
		s->cur[i] = head - SN_CELLS;
		d = SN_CELLS;
	}
	return d;
}

/* The next frame for us from any ring, taking the rings in turn. */
static int next_frame(struct sharenet *s, void *arg)
{
	struct rx *rx = arg;

	for (int k = 0; k < SN_SLOTS; k++) {
		int i = (s->rr + k) % SN_SLOTS;
		u32 left, step;
		bool got;

		if (i == s->me)
			continue;
		while ((left = pending(s, i))) {
			if (rx->scan-- <= 0)
				return RX_MORE;
			step = take(s, i, s->cur[i], left, rx, &got);
			s->cur[i] += step;
			if (got) {
				s->rr = i + 1;
				return RX_FRAME;
			}
		}
	}
	return RX_NONE;
}

static void drain(struct sharenet *s)
{
	const struct net_client *c = &s->nb.client;
	struct rx *rx = &s->rx;

	rx->scan = RX_SCAN;

	for (int n = 0; n < RX_BATCH; n++) {
		int r;

		if (is_broken(s) || !c->can_receive(c->opaque))
			return;
		r = guarded(s, next_frame, rx);
		if (r != RX_FRAME) {
			if (r == RX_MORE)
				break;
			return;
		}
		c->receive(c->opaque, &rx->hdr, rx->buf, rx->len);
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

/*
 * The waker thread.
 */
struct watch {
	u32 wake;		/* our wake word */
	u32 heads;		/* a sum of the other rings' heads */
};

/* Puts our control page, and the header, back as they should be (a peer
 * may have written them, or the file been cut and grown back), and reads
 * what the waker watches.  The head is left to the next put(): this
 * thread could only write back a value the run loop has just passed. */
static int assert_slot(struct sharenet *s, void *arg)
{
	struct watch *w = arg;
	struct sn_ctl *c = ctl(s, s->me);
	struct sn_header h;

	fill_header(&h);
	for (size_t i = 0; i < sizeof(h); i += 4) {
		u32 want, *p = (u32 *)(s->map + i);

		memcpy(&want, (u8 *)&h + i, 4);
		if (ld(p) != want)
			st(p, want);
	}
	if (__atomic_load_n(&c->mac, __ATOMIC_RELAXED) != s->mac)
		__atomic_store_n(&c->mac, s->mac, __ATOMIC_RELAXED);
	if (ld(&c->promisc) != s->promisc)
		st(&c->promisc, s->promisc);
	if (ld(&c->active) != 1)
		__atomic_store_n(&c->active, 1, __ATOMIC_RELEASE);
	w->heads = 0;
	for (int i = 0; i < SN_SLOTS; i++)
		if (i != s->me)
			w->heads += ld(&ctl(s, i)->head) * (2 * i + 1);
	w->wake = __atomic_load_n(&c->wake, __ATOMIC_SEQ_CST);
	return 0;
}

/* While the file is broken: is it whole again?  Only its size says. */
static void check_whole(struct sharenet *s)
{
	struct stat sb;

	poll(NULL, 0, SN_WAIT_MS);
	if (fstat(s->fd, &sb) < 0 || sb.st_size < (off_t)SN_SIZE)
		return;
	__atomic_store_n(&s->broken, false, __ATOMIC_RELEASE);
	eventfd_write(s->efd, 1);
	if (s->said_whole)
		return;
	s->said_whole = true;
	fprintf(stderr, "lguest: --sharenet=%s: the file is whole again%s",
		s->path, isatty(2) ? "\r\n" : "\n");
}

/* A change of the wake word means frames for us; so does a change of
 * the heads after a quiet SN_WAIT_MS, which is how frames arrive whose
 * sender a peer misled (a forged MAC or flag in our control page). */
static void *waker(void *opaque)
{
	struct sharenet *s = opaque;
	const struct timespec ts = { 0, SN_WAIT_MS * 1000000L };
	struct watch w, last = { 0, 0 };
	bool quiet = false;

	eventfd_write(s->efd, 1);
	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		if (is_broken(s)) {
			check_whole(s);
			continue;
		}
		if (guarded(s, assert_slot, &w) < 0)
			continue;
		if (w.wake != last.wake || (quiet && w.heads != last.heads))
			eventfd_write(s->efd, 1);
		last = w;
		/* Back after SN_WAIT_MS at the latest, whatever a peer does
		 * to the word; EFAULT at once if the file was cut short,
		 * which assert_slot() then finds. */
		quiet = futex(&ctl(s, s->me)->wake, FUTEX_WAIT, w.wake,
			      &ts) < 0 && errno == ETIMEDOUT;
	}
	return NULL;
}

static int bump_and_leave(struct sharenet *s, void *arg)
{
	struct sn_ctl *c = ctl(s, s->me);

	(void)arg;
	__atomic_add_fetch(&c->wake, 1, __ATOMIC_SEQ_CST);
	futex(&c->wake, FUTEX_WAKE, INT_MAX, NULL);
	return 0;
}

static int leave(struct sharenet *s, void *arg)
{
	(void)arg;
	__atomic_store_n(&ctl(s, s->me)->active, 0, __ATOMIC_RELEASE);
	return 0;
}

static void sn_free(struct net_backend *nb)
{
	struct sharenet *s = (struct sharenet *)nb;

	if (s->thread_started) {
		/* The waker sleeps SN_WAIT_MS at most: the join is
		 * bounded even if this wake-up went astray. */
		__atomic_store_n(&s->stop, true, __ATOMIC_RELEASE);
		if (!is_broken(s))
			guarded(s, bump_and_leave, NULL);
		pthread_join(s->thread, NULL);
	}
	if (!is_broken(s))
		guarded(s, leave, NULL);
	machine_del_fd(nb->m, s->efd);
	close(s->efd);
	munmap(s->map, SN_SIZE);
	close(s->fd);		/* drops the slot's lock */
	free(s);
}

static const struct net_backend_ops sn_ops = {
	.send = sn_send,
	.send_vnet = sn_send_vnet,
	.rx_resume = sn_rx_resume,
	.free = sn_free,
};

/*
 * Opening: the file, its header, a slot.
 */
static int ofd_lock(int fd, off_t byte)
{
	struct flock fl = {
		.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte,
		.l_len = 1,
	};

	return fcntl(fd, F_OFD_SETLK, &fl);
}

/* The set-up lock is held for a moment by an honest opener; a peer may
 * hold it for ever, so we wait for it SN_INIT_WAIT_S seconds at most. */
static int init_lock(int fd)
{
	for (int i = 0; i < SN_INIT_WAIT_S * 1000 / SN_WAIT_MS; i++) {
		if (ofd_lock(fd, SN_INIT_LOCK) == 0)
			return 0;
		if (errno != EAGAIN && errno != EACCES)
			return -1;
		poll(NULL, 0, SN_WAIT_MS);
	}
	errno = EAGAIN;
	return -1;
}

static void ofd_unlock(int fd, off_t byte)
{
	struct flock fl = {
		.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = byte,
		.l_len = 1,
	};

	fcntl(fd, F_OFD_SETLK, &fl);
}

/* A new (empty) file: size it and write the header, with write(), so
 * that a half-made file is never taken for a sharenet file.  The rest
 * is zeros, which is an empty ring. */
static int init_file(struct sharenet *s)
{
	struct sn_header h;

	fill_header(&h);
	if (ftruncate(s->fd, SN_SIZE) < 0 ||
	    pwrite(s->fd, &h, sizeof(h), 0) != sizeof(h))
		return -1;
	return 0;
}

/* An existing file: ours only if header and size say so exactly.  One
 * of another version of this format (version 1 kept a pthread mutex in
 * each slot) is refused too, with a word saying so. */
static bool is_sharenet(struct sharenet *s, off_t size, char *err,
			size_t errlen)
{
	struct sn_header want, got;

	fill_header(&want);
	if (size >= (off_t)sizeof(got) &&
	    pread(s->fd, &got, sizeof(got), 0) == sizeof(got) &&
	    !memcmp(want.magic, got.magic, 8) &&
	    got.version != SN_VERSION) {
		snprintf(err, errlen, "--sharenet=%s: made by another lguest "
			 "(format %u, ours is %u); left as it is", s->path,
			 got.version, SN_VERSION);
		return false;
	}
	snprintf(err, errlen, "--sharenet=%s: not a sharenet file (left as "
		 "it is)", s->path);
	return size == (off_t)SN_SIZE && !memcmp(&want, &got, sizeof(got));
}

static int open_file(struct sharenet *s, char *err, size_t errlen)
{
	struct stat sb;
	int r = -1;

	s->fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (s->fd < 0) {
		snprintf(err, errlen, "--sharenet=%s: %m", s->path);
		return -1;
	}
	if (init_lock(s->fd) < 0) {
		if (errno == EAGAIN)
			snprintf(err, errlen, "--sharenet=%s: another process "
				 "has held the file's set-up lock for %d s",
				 s->path, SN_INIT_WAIT_S);
		else
			snprintf(err, errlen, "--sharenet=%s: %m", s->path);
		return -1;
	}
	if (fstat(s->fd, &sb) < 0) {
		snprintf(err, errlen, "--sharenet=%s: %m", s->path);
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "--sharenet=%s: not a regular file",
			 s->path);
	} else if (sb.st_size == 0 && init_file(s) < 0) {
		snprintf(err, errlen, "--sharenet=%s: cannot make it: %m",
			 s->path);
	} else if (sb.st_size && !is_sharenet(s, sb.st_size, err, errlen)) {
		/* err says why */
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
		s->nb.mac[3] = (sb.st_ino ^ sb.st_dev) >> 8;
		s->nb.mac[4] = sb.st_ino ^ (sb.st_dev >> 8);
	}
	return r;
}

/* Our ring goes on from its head (receivers' positions stay good), and
 * we read the others' from where they are now: what they sent before we
 * came is not ours. */
static int claim(struct sharenet *s, void *arg)
{
	struct sn_ctl *c = ctl(s, s->me);

	(void)arg;
	s->head = __atomic_load_n(&c->head, __ATOMIC_ACQUIRE);
	__atomic_store_n(&c->reserve, s->head, __ATOMIC_RELAXED);
	for (int i = 0; i < SN_SLOTS; i++)
		s->cur[i] = __atomic_load_n(&ctl(s, i)->head,
					    __ATOMIC_ACQUIRE);
	__atomic_store_n(&c->mac, s->mac, __ATOMIC_RELAXED);
	st(&c->promisc, s->promisc);
	__atomic_store_n(&c->active, 1, __ATOMIC_RELEASE);
	return 0;
}

static int take_slot(struct sharenet *s, char *err, size_t errlen)
{
	for (s->me = 0; s->me < SN_SLOTS; s->me++)
		if (ofd_lock(s->fd, SN_SLOT_LOCK(s->me)) == 0)
			break;
	if (s->me == SN_SLOTS) {
		snprintf(err, errlen, "--sharenet=%s: all %d slots are taken",
			 s->path, SN_SLOTS);
		return -1;
	}
	if (!s->user_mac)
		s->nb.mac[5] = s->me;
	s->mac = mac_of(s->nb.mac);
	s->rr = (s->me + 1) % SN_SLOTS;
	if (guarded(s, claim, NULL) < 0) {
		snprintf(err, errlen, "--sharenet=%s: the file was cut short "
			 "while we opened it", s->path);
		return -1;
	}
	return 0;
}

static int parse(struct sharenet *s, const char *arg, char *err,
		 size_t errlen)
{
	size_t len = strcspn(arg, ",");
	char mac[32], flag[4];

	if (!len || len >= sizeof(s->path)) {
		snprintf(err, errlen, "--sharenet: a file name, please");
		return -1;
	}
	memcpy(s->path, arg, len);
	s->path[len] = 0;
	s->promisc = net_opt(arg, "promisc", flag, sizeof(flag));
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

	if (!s)
		abort();
	s->nb = (struct net_backend){
		.ops = &sn_ops, .m = m, .what = "--sharenet", .mtu = SN_MTU,
		.offloads = (1ull << VIRTIO_NET_F_CSUM) |
			    (1ull << VIRTIO_NET_F_GUEST_CSUM),
	};
	s->fd = s->efd = -1;
	s->map = MAP_FAILED;
	catch_sigbus();
	if (parse(s, arg, err, errlen) < 0)
		goto fail;
	if (open_file(s, err, errlen) < 0 || take_slot(s, err, errlen) < 0)
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
