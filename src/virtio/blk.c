/*
 * virtio-blk: a disk backed by a host file or block device (--block=FILE).
 *
 * A request is a chain: a 16-byte header (type, sector) the device reads,
 * then data (read or written), then one status byte the device writes.
 * The run loop's thread takes requests off the queue and hands them to a
 * small pool of I/O threads, so a slow disk (or an fdatasync) never stalls
 * the CPU or the console, and several requests are carried out at once;
 * the I/O threads read and write guest RAM directly (they are the disk's
 * DMA) and signal an eventfd, and the run loop puts every finished request
 * on the used ring in one go and interrupts the guest once for them.
 *
 * The disk ends where the file ends, rounded down to a 512-byte sector.
 * A request that reaches past the end, or that writes to a read-only disk,
 * fails with IOERR without touching the file; FLUSH completes only after
 * fdatasync() has returned, so a write the guest was told is safe is on
 * the disk.  A host disk that fails (EIO, ENOSPC, EFBIG) fails that
 * request with IOERR and nothing else: lguest says so once on stderr and
 * the guest runs on (V:215).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>

#include "virtio.h"
#include "virtio_dev.h"

#define SECTOR		512
/* Linux pins a 1 MiB O_DIRECT buffer as 256 pages that are rarely
 * neighbours in guest RAM, so with seg_max 254 it cuts each 1 MiB write
 * of dd in two requests, 1016 KiB and 8 KiB (measured).  A queue of 512
 * (seg_max 510; a chain may not be longer than the queue) made them one,
 * and made dd's 256 MiB onto a fresh image take twice as long on the
 * test host: a 1 MiB pwritev() at a 1 MiB offset has the host's page
 * cache (ext4's large folios) look for 1 MiB of free memory at once,
 * which there came from memory the host had given back to its own
 * hypervisor and took 2.7 ms a time to get (560 ms of pwritev() against
 * 186 ms for the same bytes in two pieces each).  So 256 it stays. */
#define QUEUE_MAX	256
#define SEG_MAX		(QUEUE_MAX - 2)	/* plus the header and status */
#define SIZE_MAX_SEG	(1u << 20)	/* bytes per segment, as offered */
/* The most data one read or write may carry: what seg_max and size_max
 * let a driver build.  It keeps a used length well inside 32 bits and
 * bounds the time one request (and so a reset) can take. */
#define RW_MAX		((u64)SEG_MAX * SIZE_MAX_SEG)
#define RANGE_MAX_SECTORS (1u << 22)	/* per discard/zeroes range */
#define RANGE_MAX_SEGS	16
/* I/O threads per disk: requests carried out at once (V:220). */
#define IO_THREADS	4
/* The run loop's own place among the workers (V:225). */
#define RUN_LOOP	IO_THREADS
/* The largest read or write the run loop carries out itself (V:225):
 * what it may copy while the guest is halted, its timers and console
 * waiting. */
#define HELP_MAX	(2u << 20)
/* How long a lone request waits for the guest to halt before an I/O
 * thread is woken for it (V:225), in guest time. */
#define HELP_WAIT_NS	30000ULL
/* A write the run loop carried out that slept (the host made the writer
 * wait: dirty pages throttled, a busy journal, reclaim) and took longer
 * than HELP_SLOW_NS of host time: writes then go to the threads for
 * HELP_BACKOFF_NS.  Time alone is no sign: a megabyte into pages the
 * host's page cache has just had to find (a fresh file, memory the host
 * had given back) took 2.7 ms at the median, and on a busy host the run
 * loop may lose the CPU for 20 ms and more in the middle of a write
 * that never waited for anything. */
#define HELP_SLOW_NS	5000000ULL
#define HELP_BACKOFF_NS	1000000000ULL
/* do_rw(): the data is not in the host's page cache yet (V:225). */
#define WOULD_BLOCK	0xff

struct blk_req {
	struct blk_req *next;
	struct vq_elem *e;
	u64 seq;		/* order in which the driver offered it */
	u32 len;		/* bytes written into the guest's buffers */
};

struct virtio_blk;

struct blk_worker {
	struct virtio_blk *blk;
	pthread_t thread;
	struct iovec *scratch;
	u64 seq;		/* of the request it carries out; 0: none */
	bool nowait;		/* the run loop: never wait for the disk */
};

struct virtio_blk {
	struct virtio_dev *vd;
	char *path;
	int fd;
	bool readonly, blkdev;
	u64 sectors;
	char id[VIRTIO_BLK_ID_BYTES];
	struct virtio_blk_config cfg;
	struct blk_req *spare;	/* run loop thread only */
	struct timer *wake_timer;	/* wakes a thread for a lone request */
	u64 help_writes_after;	/* host time; run loop thread only */
	u64 slow_helps;		/* writes that turned it on (V:225) */

	/* Shared with the I/O threads, under lock. */
	struct blk_worker workers[IO_THREADS + 1];	/* + the run loop */
	pthread_mutex_t lock;
	pthread_cond_t wake, idle;
	struct blk_req *todo, **todo_tail;
	struct blk_req *done, **done_tail;
	unsigned int busy;	/* handed to the threads, not yet done */
	unsigned int running, max_running;	/* being carried out */
	u64 next_seq, served;
	u64 helped;		/* carried out by the run loop (V:225) */
	u64 handed_back;	/* ... left to a thread: not cached */
	u64 helped_writes;	/* of the helped, writes */
	bool stop;
	int efd;
	/* Requests the host failed (under lock), and whether a flush did
	 * (then no later flush may say the data is safe): under flush_lock,
	 * which also keeps flushes one at a time. */
	unsigned long failures;
	pthread_mutex_t flush_lock;
	bool flush_failed;
};

static u64 le64(u64 v)
{
	return le64toh(v);
}

/* Reads or writes all of iov at off, or fails: a short transfer (the file
 * shrank under us) is an error, never a partial success.  A read with
 * nowait takes only what the host has cached, and returns -2 (errno
 * EAGAIN) when it would have to wait for the disk. */
static int rw_all(int fd, struct iovec *iov, unsigned int n, off_t off,
		  bool write, bool nowait)
{
	while (n) {
		ssize_t r = write ? pwritev(fd, iov, n, off)
			  : nowait ? preadv2(fd, iov, n, off, RWF_NOWAIT)
				   : preadv(fd, iov, n, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (nowait && r < 0 &&
		    (errno == EAGAIN || errno == EOPNOTSUPP))
			return -2;
		if (r <= 0)
			return -1;
		off += r;
		while (n && (size_t)r >= iov->iov_len) {
			r -= iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (u8 *)iov->iov_base + r;
			iov->iov_len -= r;
		}
	}
	return 0;
}

static bool in_disk(struct virtio_blk *blk, u64 sector, u64 count)
{
	return sector <= blk->sectors && count <= blk->sectors - sector;
}

/*V:215
 * The host's disk may fail under a guest that did nothing wrong: a file
 * system that is full (ENOSPC), a file past its size limit (EFBIG), a
 * disk that returns EIO.  The request that met it fails with IOERR, as a
 * real disk's would, and the guest's file system decides what to do; the
 * guest and lguest run on.  The user hears of it once per disk, on
 * stderr (the guest may retry a thousand times), with the promise that
 * still holds: each write the guest was told had completed is in the
 * file, since a completion is only sent after pwritev() returned (and,
 * for a flush, fdatasync()).  One failure of fdatasync() is different:
 * Linux may have dropped the dirty pages it could not write, and a later
 * fdatasync() would succeed without them.  So after it every flush
 * fails, and the guest never hears "safe" for data that may be lost.
 * (A SIGSEGV of lguest's, or SIGKILL, loses nothing the guest was told
 * was written either: the data is in the host's page cache, and flushed
 * data on the disk; tests/virtio/test_e2e_durable.sh kills lguest
 * mid-write to check.)
 */
static void host_failed(struct virtio_blk *blk, const char *what, u64 sector,
			u64 len)
{
	int err = errno;
	bool first;

	pthread_mutex_lock(&blk->lock);
	first = !blk->failures++;
	pthread_mutex_unlock(&blk->lock);
	if (!first)
		return;
	errno = err;
	notice("--block=%s: %s of %llu bytes at sector %llu failed: %s; the "
	       "guest got an I/O error, and no write it was told had "
	       "completed is lost (further failures on this disk are "
	       "counted, not shown)", blk->path, what,
	       (unsigned long long)len, (unsigned long long)sector,
	       strerror(errno));
}
/* SIGXFSZ, sent for a write past RLIMIT_FSIZE, is ignored (when a disk is
 * opened, and from the start of main(), for the translator's memfd too),
 * so that it reaches us as EFBIG here instead of killing lguest. :*/

static u8 do_rw(struct blk_worker *w, const struct vq_elem *e, u64 sector,
		bool write, u32 *written)
{
	struct virtio_blk *blk = w->blk;
	u64 len = write ? e->out_len - sizeof(struct virtio_blk_outhdr)
			: e->in_len - 1;
	unsigned int n;

	/* A read has nothing but the header to read; anything else in the
	 * readable part means a data buffer the guest did not let us
	 * write. */
	if (!write && e->out_len != sizeof(struct virtio_blk_outhdr))
		return VIRTIO_BLK_S_IOERR;
	if (write && blk->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (len % SECTOR || len > RW_MAX || !in_disk(blk, sector, len / SECTOR))
		return VIRTIO_BLK_S_IOERR;
	n = vq_elem_slice(e, !write,
			  write ? sizeof(struct virtio_blk_outhdr) : 0, len,
			  w->scratch, e->cap);
	switch (rw_all(blk->fd, w->scratch, n, sector * SECTOR, write,
		       w->nowait && !write)) {
	case 0:
		break;
	case -2:
		return WOULD_BLOCK;
	default:
		host_failed(blk, write ? "a write" : "a read", sector, len);
		return VIRTIO_BLK_S_IOERR;
	}
	if (!write)
		*written = (u32)len;	/* <= RW_MAX */
	return VIRTIO_BLK_S_OK;
}

static int zero_range(struct virtio_blk *blk, u64 off, u64 len, bool unmap)
{
	static const u8 zeroes[64 * 1024];
	u64 range[2] = { off, len };

	if (blk->blkdev) {
		if (!ioctl(blk->fd, BLKZEROOUT, range))
			return 0;
	} else {
		int mode = unmap ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
				 : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;

		if (!fallocate(blk->fd, mode, off, len))
			return 0;
	}
	/* The file system cannot: write the zeroes ourselves. */
	while (len) {
		size_t chunk = len < sizeof(zeroes) ? len : sizeof(zeroes);
		ssize_t r = pwrite(blk->fd, zeroes, chunk, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		off += r;
		len -= r;
	}
	return 0;
}

static int discard_range(struct virtio_blk *blk, u64 off, u64 len)
{
	u64 range[2] = { off, len };

	if (blk->blkdev)
		ioctl(blk->fd, BLKDISCARD, range);
	else
		fallocate(blk->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			  off, len);
	/* Discard is a hint: a file system that cannot punch holes has
	 * still done all a discard promises. */
	return 0;
}

static u8 do_ranges(struct virtio_blk *blk, const struct vq_elem *e,
		    bool zeroes)
{
	u64 hdr = sizeof(struct virtio_blk_outhdr);
	u64 len = e->out_len - hdr;
	struct virtio_blk_discard_write_zeroes r;

	if (blk->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (!len || len % sizeof(r) || len / sizeof(r) > RANGE_MAX_SEGS)
		return VIRTIO_BLK_S_UNSUPP;
	for (u64 off = hdr; off < e->out_len; off += sizeof(r)) {
		u64 sector, count;
		int err;

		vq_elem_read(e, off, &r, sizeof(r));
		sector = le64(r.sector);
		count = le32toh(r.num_sectors);
		if (count > RANGE_MAX_SECTORS || !in_disk(blk, sector, count))
			return VIRTIO_BLK_S_IOERR;
		if (zeroes)
			err = zero_range(blk, sector * SECTOR, count * SECTOR,
					 le32toh(r.flags) &
					 VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
		else
			err = discard_range(blk, sector * SECTOR,
					    count * SECTOR);
		if (err) {
			host_failed(blk, zeroes ? "a write of zeroes" :
				    "a discard", sector, count * SECTOR);
			return VIRTIO_BLK_S_IOERR;
		}
	}
	return VIRTIO_BLK_S_OK;
}

/* Waits until every request the driver offered before w's is done. */
static void wait_earlier(struct blk_worker *w)
{
	struct virtio_blk *blk = w->blk;

	pthread_mutex_lock(&blk->lock);
	for (;;) {
		bool earlier = false;

		for (unsigned int i = 0; i <= RUN_LOOP; i++)
			earlier |= blk->workers[i].seq &&
				   blk->workers[i].seq < w->seq;
		if (!earlier)
			break;
		pthread_cond_wait(&blk->idle, &blk->lock);
	}
	pthread_mutex_unlock(&blk->lock);
}

/*V:217
 * A flush with several requests in flight.  The spec asks only that a
 * flush make durable the writes that had completed when it was made; we
 * promise a little more, and it costs nothing worth counting: a flush
 * first waits for every request the driver offered before it (the
 * threads take requests in the ring's order, so those are done or being
 * carried out by another thread), then calls fdatasync().  A driver that
 * relied on the old one-at-a-time order loses nothing.  Flushes run one
 * at a time, and see V:215: once fdatasync() has failed, data may be gone
 * for good; the lock keeps a second flush from succeeding between the
 * first one's failure and its saying so. :*/
static u8 do_flush(struct blk_worker *w)
{
	struct virtio_blk *blk = w->blk;
	bool first;
	int err;

	if (blk->readonly)
		return VIRTIO_BLK_S_OK;
	wait_earlier(w);
	pthread_mutex_lock(&blk->flush_lock);
	if (!blk->flush_failed && fdatasync(blk->fd) == 0) {
		pthread_mutex_unlock(&blk->flush_lock);
		return VIRTIO_BLK_S_OK;
	}
	err = errno;
	pthread_mutex_lock(&blk->lock);
	first = !blk->flush_failed && !blk->failures;
	blk->failures++;
	pthread_mutex_unlock(&blk->lock);
	if (first)
		notice("--block=%s: a flush failed: %s; the guest got an I/O "
		       "error, and every later flush fails too (what was "
		       "written since the last flush may be lost)", blk->path,
		       strerror(err));
	blk->flush_failed = true;
	pthread_mutex_unlock(&blk->flush_lock);
	return VIRTIO_BLK_S_IOERR;
}

/*V:210
 * Carries out one request, on the I/O thread; returns the used length.
 * Unlike the ring's own rules (V:140), nothing in a request's contents is
 * a protocol violation: a read past the end of the disk, a length that is
 * not whole sectors, a write to a read-only disk, a type we do not know
 * are all mistakes a guest can recover from, and each is answered with a
 * status (IOERR or UNSUPP) in the last writable byte, the file untouched.
 * A read or write goes straight between the file and the guest's buffers
 * with preadv/pwritev (do_rw() above), looping over short transfers; one
 * that cannot complete is an error, never a partial success, and one
 * that carries more than seg_max segments of size_max bytes could make
 * (RW_MAX) is refused: no driver builds one, and its used length would
 * not fit the ring's 32 bits.  A FLUSH
 * completes only after fdatasync() returns, so a write the guest was told
 * is safe is on the disk (V:217).
 */
static u32 execute(struct blk_worker *w, const struct vq_elem *e)
{
	struct virtio_blk *blk = w->blk;
	struct virtio_blk_outhdr hdr;
	u32 written = 0;
	u8 status;

	if (e->out_len < sizeof(hdr)) {
		status = VIRTIO_BLK_S_IOERR;
		goto out;
	}
	vq_elem_read(e, 0, &hdr, sizeof(hdr));
	switch (le32toh(hdr.type)) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		status = do_rw(w, e, le64(hdr.sector),
			       le32toh(hdr.type) == VIRTIO_BLK_T_OUT,
			       &written);
		break;
	case VIRTIO_BLK_T_FLUSH:
		status = do_flush(w);
		break;
	case VIRTIO_BLK_T_GET_ID:
		written = vq_elem_write(e, 0, blk->id,
					e->in_len - 1 < sizeof(blk->id) ?
					e->in_len - 1 : sizeof(blk->id));
		status = VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_DISCARD:
		status = do_ranges(blk, e, false);
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		status = do_ranges(blk, e, true);
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
out:
	vq_elem_write(e, e->in_len - 1, &status, 1);
	return written + 1;
}
/* The used length counts the status byte: the driver checks it. :*/

/*V:220
 * The I/O threads are the disk's DMA engine: they touch the guest's
 * buffers (already checked, already host iovecs) and the file, and
 * nothing else of the machine; the rings, the interrupt and the guest's
 * state stay with the run loop.  Each takes the oldest request, carries
 * it out, puts it on the done list, and writes to an eventfd if that
 * list was empty.  The run loop watches that fd (M:130's host fds) and
 * calls complete() below, which puts every finished chain on the used
 * ring and then asks once whether the driver wants an interrupt (V:160):
 * four requests that finish together cost the guest one interrupt.
 *
 * Why threads and not io_uring: the disk is a file in the host's page
 * cache, where io_uring does the copy in the submitting thread (the run
 * loop: the guest's CPU) or punts it to kernel workers that are threads
 * too; the sandbox (sandbox.c) would have to allow io_uring_enter, whose
 * operations no seccomp filter sees; and io_uring may be disabled on a
 * host (sysctl kernel.io_uring_disabled, container profiles), so the
 * threads would be needed anyway as the fallback.  A guest on our CPU
 * keeps a few requests queued at most (lguest --verbose says how many
 * ran at once), and four threads cover that; one that waits in
 * fdatasync() leaves the others to read.
 */
/* Under the lock: w has carried req out; it goes on the done list. */
static void finished(struct blk_worker *w, struct blk_req *req)
{
	struct virtio_blk *blk = w->blk;

	w->seq = 0;
	blk->running--;
	blk->served++;
	req->next = NULL;
	*blk->done_tail = req;
	blk->done_tail = &req->next;
	blk->busy--;
	pthread_cond_broadcast(&blk->idle);
}

/* Under the lock: w takes the oldest request. */
static struct blk_req *take(struct blk_worker *w)
{
	struct virtio_blk *blk = w->blk;
	struct blk_req *req = blk->todo;

	blk->todo = req->next;
	if (!blk->todo)
		blk->todo_tail = &blk->todo;
	w->seq = req->seq;
	if (++blk->running > blk->max_running)
		blk->max_running = blk->running;
	return req;
}

static void *io_thread(void *opaque)
{
	struct blk_worker *w = opaque;
	struct virtio_blk *blk = w->blk;
	u64 one = 1;
	ssize_t ret;

	pthread_mutex_lock(&blk->lock);
	for (;;) {
		struct blk_req *req;
		bool wake;

		while (!blk->todo && !blk->stop)
			pthread_cond_wait(&blk->wake, &blk->lock);
		if (!blk->todo)
			break;
		req = take(w);
		pthread_mutex_unlock(&blk->lock);

		req->len = execute(w, req->e);

		pthread_mutex_lock(&blk->lock);
		wake = !blk->done;
		finished(w, req);
		/* Fails only when the counter is full: a wakeup is pending
		 * then anyway. */
		if (wake)
			ret = write(blk->efd, &one, sizeof(one));
		(void)ret;
	}
	pthread_mutex_unlock(&blk->lock);
	return NULL;
}
/* A stopping thread first empties the list: at power-off every request
 * the guest made is carried out (blk_free() drops them only for a guest
 * that was killed). */

static struct blk_req *get_req(struct virtio_blk *blk, struct virtqueue *vq)
{
	struct blk_req *req = blk->spare;

	if (req) {
		blk->spare = req->next;
		return req;
	}
	req = calloc(1, sizeof(*req));
	if (!req)
		abort();
	req->e = vq_elem_new(vq);
	return req;
}

static void put_req(struct virtio_blk *blk, struct blk_req *req)
{
	req->next = blk->spare;
	blk->spare = req;
}

/* The run loop: hand finished requests back to the guest. */
static void complete(struct virtio_blk *blk)
{
	struct virtqueue *vq = virtio_vq(blk->vd, 0);
	struct blk_req *list, *next;

	pthread_mutex_lock(&blk->lock);
	list = blk->done;
	blk->done = NULL;
	blk->done_tail = &blk->done;
	pthread_mutex_unlock(&blk->lock);
	if (!list)
		return;
	for (; list; list = next) {
		next = list->next;
		vq_push(vq, list->e, list->len);
		put_req(blk, list);
	}
	vq_notify_guest(vq);
}

/* One wakeup may stand for several requests: the counter is read once and
 * the whole done list handed back. :*/
static void eventfd_ready(void *opaque, int fd, u32 events)
{
	u64 count;

	(void)events;
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	complete(opaque);
}

/* The host's monotonic clock, for how long a write the run loop carried
 * out took: a fact about the host, which the guest never sees (its time
 * is the machine's clock). */
static u64 host_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ull + (u64)ts.tv_nsec;
}

/* Times this thread has slept (given up the CPU of its own accord). */
static long sleeps(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) ? 0 : ru.ru_nvcsw;
}

/* A request the run loop may carry out itself: a read or (unless a slow
 * one lately said not to, V:225) a write, of at most HELP_MAX; its
 * sector goes to *sector, its direction to *write.  (do_rw() checks the
 * rest.)  Run loop thread only. */
static bool helpable(struct virtio_blk *blk, const struct vq_elem *e,
		     u64 *sector, bool *write)
{
	struct virtio_blk_outhdr hdr;

	if (e->out_len < sizeof(hdr))
		return false;
	vq_elem_read(e, 0, &hdr, sizeof(hdr));
	*sector = le64(hdr.sector);
	switch (le32toh(hdr.type)) {
	case VIRTIO_BLK_T_IN:
		*write = false;
		return e->out_len == sizeof(hdr) && e->in_len - 1 <= HELP_MAX;
	case VIRTIO_BLK_T_OUT:
		*write = true;
		if (blk->help_writes_after) {
			if (host_ns() < blk->help_writes_after)
				return false;
			blk->help_writes_after = 0;
		}
		return e->out_len - sizeof(hdr) <= HELP_MAX;
	default:
		return false;
	}
}

/*V:225
 * The guest halted, and a request it made is still waiting for an I/O
 * thread: on a busy host a thread woken for it may take a hundred
 * microseconds to run, and its completion as long again to wake the run
 * loop (measured for 1 MiB writes: 270 us from the kick to the thread's
 * start, 120 us from its end to the run loop, beside 350 us of
 * pwritev()); and the guest, halted, has nothing to do but wait for it.
 * So a lone request (nothing else in flight: a reader or writer that
 * waits for each request, such as dd) wakes no thread at once
 * (blk_notify() below); when the guest halts (M:257) the run loop takes
 * the oldest request itself, if it is a read or a write of a megabyte or
 * two, and carries it out at once, in the worker's place kept for it (a
 * flush waits for it as for any worker, V:217).
 *
 * A read never waits for the host's disk: it takes only what the host
 * has cached (RWF_NOWAIT), and a read that would wait goes back to the
 * head of the list, for a thread, as if the run loop had never touched
 * it.  What it read so far is in the guest's buffers, which the guest
 * may not look at before the request completes; the thread reads it all
 * again.  A write cannot be asked not to wait (ext4 refuses RWF_NOWAIT
 * for buffered writes), and usually does not: pwritev() copies into the
 * host's page cache.  When the host does make writers wait (too many
 * dirty pages, a journal commit), the halted guest would wait for that
 * write anyway, but the run loop's timers, console and network would
 * wait with it; so a write during which the run loop slept and that took
 * longer than HELP_SLOW_NS turns the run loop's writes off for
 * HELP_BACKOFF_NS, and the threads take them, as before.  A flush is
 * always a thread's (fdatasync() waits for the disk by design).
 *
 * A guest that does not halt within HELP_WAIT_NS of its kick gets a
 * thread then (wake_timer_fire()), and with several requests in flight
 * the threads are woken at once, as before: they carry those out side by
 * side. :*/
static bool help(struct virtio_blk *blk)
{
	struct blk_worker *w = &blk->workers[RUN_LOOP];
	struct blk_req *req;
	u64 sector, t0 = 0;
	long slept = 0;
	bool write;
	u8 status;

	pthread_mutex_lock(&blk->lock);
	if (!blk->todo || !helpable(blk, blk->todo->e, &sector, &write)) {
		pthread_mutex_unlock(&blk->lock);
		return false;
	}
	req = take(w);
	pthread_mutex_unlock(&blk->lock);

	req->len = 0;
	if (write) {
		t0 = host_ns();
		slept = sleeps();
	}
	status = do_rw(w, req->e, sector, write, &req->len);
	if (write && host_ns() - t0 > HELP_SLOW_NS && sleeps() != slept) {
		blk->help_writes_after = host_ns() + HELP_BACKOFF_NS;
		blk->slow_helps++;
	}

	pthread_mutex_lock(&blk->lock);
	if (status == WOULD_BLOCK) {
		blk->handed_back++;
		w->seq = 0;
		blk->running--;
		req->next = blk->todo;
		blk->todo = req;
		if (!req->next)
			blk->todo_tail = &req->next;
		pthread_cond_signal(&blk->wake);
		pthread_cond_broadcast(&blk->idle);
		pthread_mutex_unlock(&blk->lock);
		return false;
	}
	vq_elem_write(req->e, req->e->in_len - 1, &status, 1);
	req->len++;
	blk->helped++;
	blk->helped_writes += write;
	finished(w, req);
	pthread_mutex_unlock(&blk->lock);
	complete(blk);
	return true;
}

/* The run loop's look before a halted guest sleeps (M:257): finished
 * requests go back to the guest at once, and a waiting read is carried
 * out here (V:225).  busy and done are read without the lock, as a hint
 * that complete() and help() then follow under it. */
static enum idle_poll blk_idle_poll(void *opaque)
{
	struct virtio_blk *blk = opaque;

	if (__atomic_load_n(&blk->done, __ATOMIC_ACQUIRE)) {
		eventfd_ready(blk, blk->efd, EPOLLIN);
		return IDLE_POLL_DONE;
	}
	if (!__atomic_load_n(&blk->busy, __ATOMIC_RELAXED))
		return IDLE_POLL_NONE;
	if (__atomic_load_n(&blk->todo, __ATOMIC_RELAXED) && help(blk))
		return IDLE_POLL_DONE;
	return IDLE_POLL_WAIT;
}

/*V:200
 * A disk write's journey (the guide tells it whole) passes here first.
 * The guest kicked queue 0; we are on the run loop's thread, inside the
 * guest's store (V:125), and must not block.  So each request is only
 * taken off the ring (checked, V:130) and put on the I/O thread's list;
 * the CPU goes on running the guest while the disk works.  A request with
 * no writable byte has nowhere for its status to go, and nothing we could
 * answer would reach the driver: that is a broken driver, and the guest is
 * killed.
 */
static void blk_notify(struct virtio_dev *vd, struct virtqueue *vq)
{
	struct virtio_blk *blk = virtio_opaque(vd);
	u64 sector;
	bool lone, write;

	for (;;) {
		struct blk_req *req = get_req(blk, vq);

		if (vq_pop(vq, req->e) <= 0) {
			put_req(blk, req);
			return;
		}
		if (!req->e->in_len) {
			virtio_kill(vd, "request without a status byte");
			put_req(blk, req);
			return;
		}
		pthread_mutex_lock(&blk->lock);
		lone = !blk->busy && machine_in_guest(virtio_machine(vd)) &&
		       helpable(blk, req->e, &sector, &write);
		req->next = NULL;
		req->seq = ++blk->next_seq;
		*blk->todo_tail = req;
		blk->todo_tail = &req->next;
		blk->busy++;
		if (!lone)
			pthread_cond_signal(&blk->wake);
		pthread_mutex_unlock(&blk->lock);
		if (lone)
			timer_mod(blk->wake_timer, machine_clock_ns(
					  virtio_machine(vd)) + HELP_WAIT_NS);
	}
}

/* A lone request the guest did not halt for (V:225): a thread takes
 * it. */
static void wake_timer_fire(void *opaque)
{
	struct virtio_blk *blk = opaque;

	pthread_mutex_lock(&blk->lock);
	if (blk->todo)
		pthread_cond_signal(&blk->wake);
	pthread_mutex_unlock(&blk->lock);
}
/* The threads start requests in the ring's order but may finish them in
 * any: the driver orders what it must by waiting for completions, which
 * is what a real disk with a queue asks of it too. :*/

static void wait_idle(struct virtio_blk *blk)
{
	pthread_mutex_lock(&blk->lock);
	while (blk->busy)
		pthread_cond_wait(&blk->idle, &blk->lock);
	pthread_mutex_unlock(&blk->lock);
}

void virtio_blk_quiesce(struct virtio_blk *blk)
{
	wait_idle(blk);
	complete(blk);
}

/*V:230
 * A reset must not let the I/O threads write into memory the guest has
 * taken back: a driver that resets the device may reuse its buffers at
 * once.  Requests no thread has started are simply dropped (the guest
 * was never told they completed, and a reset abandons them); then we wait
 * for those being carried out, IO_THREADS at most, each bounded by
 * RW_MAX, and forget the finished requests instead of completing them
 * (the rings they would go on are being reset too).  The queue's size
 * bounds how many there can be (V:130), so a reset never waits on a
 * backlog a guest has built. :*/
static void blk_reset(struct virtio_dev *vd)
{
	struct virtio_blk *blk = virtio_opaque(vd);
	struct blk_req *todo, *list, *next;

	pthread_mutex_lock(&blk->lock);
	todo = blk->todo;
	blk->todo = NULL;
	blk->todo_tail = &blk->todo;
	for (list = todo; list; list = list->next)
		blk->busy--;
	pthread_mutex_unlock(&blk->lock);
	wait_idle(blk);
	pthread_mutex_lock(&blk->lock);
	list = blk->done;
	blk->done = NULL;
	blk->done_tail = &blk->done;
	pthread_mutex_unlock(&blk->lock);
	for (; todo; todo = next) {
		next = todo->next;
		put_req(blk, todo);
	}
	for (; list; list = next) {
		next = list->next;
		/* Carried out: its DMA happened, though nobody is told. */
		vq_elem_written(virtio_vq(vd, 0), list->e);
		put_req(blk, list);
	}
}

static void free_list(struct blk_req *r)
{
	struct blk_req *next;

	for (; r; r = next) {
		next = r->next;
		free(r->e);
		free(r);
	}
}

static void blk_free(struct virtio_dev *vd)
{
	struct virtio_blk *blk = virtio_opaque(vd);
	struct blk_req *dropped = NULL;

	timer_del(blk->wake_timer);
	pthread_mutex_lock(&blk->lock);
	if (guest_killed(virtio_machine(vd))) {
		dropped = blk->todo;
		blk->todo = NULL;
		blk->todo_tail = &blk->todo;
	}
	blk->stop = true;
	pthread_cond_broadcast(&blk->wake);
	pthread_mutex_unlock(&blk->lock);
	for (unsigned int i = 0; i < IO_THREADS; i++)
		pthread_join(blk->workers[i].thread, NULL);
	for (unsigned int i = 0; i <= RUN_LOOP; i++)
		free(blk->workers[i].scratch);
	verbose("virtio-blk: %s: %llu requests, up to %u carried out at once, "
		"%llu by the run loop while the guest waited (V:225), %llu "
		"left to a thread for the host's disk; the run loop's writes: "
		"%llu, %llu of them slow (then left to the threads for a "
		"while)", blk->path,
		(unsigned long long)blk->served, blk->max_running,
		(unsigned long long)blk->helped,
		(unsigned long long)blk->handed_back,
		(unsigned long long)blk->helped_writes,
		(unsigned long long)blk->slow_helps);
	if (blk->failures > 1)
		notice("--block=%s: %lu requests failed in all", blk->path,
		       blk->failures);
	machine_del_fd(virtio_machine(vd), blk->efd);
	close(blk->efd);
	close(blk->fd);
	free_list(dropped);
	free_list(blk->done);
	free_list(blk->spare);
	pthread_mutex_destroy(&blk->lock);
	pthread_mutex_destroy(&blk->flush_lock);
	pthread_cond_destroy(&blk->wake);
	pthread_cond_destroy(&blk->idle);
	free(blk->path);
	free(blk);
}

/* Read-only disks offer RO and no discard: the two differ in features. */
#define BLK_FEATURES (1ull << VIRTIO_BLK_F_SIZE_MAX |			\
		      1ull << VIRTIO_BLK_F_SEG_MAX |			\
		      1ull << VIRTIO_BLK_F_BLK_SIZE |			\
		      1ull << VIRTIO_BLK_F_FLUSH)
#define BLK_OPS(feat) {							\
	.name = "virtio-blk",						\
	.type = VIRTIO_ID_BLOCK,					\
	.class_code = 0x018000,		/* mass storage, other */	\
	.features = BLK_FEATURES | (feat),				\
	.nr_queues = 1,							\
	.queue_max = QUEUE_MAX,						\
	.config_len = sizeof(struct virtio_blk_config),			\
	.notify = blk_notify,						\
	.reset = blk_reset,						\
	.free = blk_free,						\
}

static const struct virtio_dev_ops rw_ops =
	BLK_OPS(1ull << VIRTIO_BLK_F_DISCARD |
		1ull << VIRTIO_BLK_F_WRITE_ZEROES);
static const struct virtio_dev_ops ro_ops = BLK_OPS(1ull << VIRTIO_BLK_F_RO);

static void say(const char *path, const char *what, const char *why)
{
	fprintf(stderr, "lguest: --block=%s: %s%s%s\n", path, what,
		why ? ": " : "", why ? why : "");
}

/* Opens and sizes the backing file; -1 after saying why not. */
static int open_backing(struct virtio_blk *blk, const char *path, u64 *size,
			u32 *blksize)
{
	struct stat st;
	int fd;

	fd = open(path, (blk->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		say(path, "cannot open", strerror(errno));
		if (errno == EACCES || errno == EROFS)
			fprintf(stderr, "lguest: (use --block=%s,ro for a "
				"read-only disk)\n", path);
		return -1;
	}
	if (fstat(fd, &st) < 0 ||
	    (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
		say(path, S_ISDIR(st.st_mode) ? "is a directory" :
			  "not a regular file or block device", NULL);
		goto fail;
	}
	if (flock(fd, (blk->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		say(path, "in use by another lguest", NULL);
		goto fail;
	}
	blk->blkdev = S_ISBLK(st.st_mode);
	*size = st.st_size;
	if (blk->blkdev && ioctl(fd, BLKGETSIZE64, size) < 0) {
		say(path, "cannot get the size", strerror(errno));
		goto fail;
	}
	*blksize = st.st_blksize;
	return fd;
fail:
	close(fd);
	return -1;
}

static void fill_config(struct virtio_blk *blk, u32 fs_block)
{
	struct virtio_blk_config *c = &blk->cfg;
	u32 align = fs_block >= SECTOR ? fs_block / SECTOR : 1;

	c->capacity = htole64(blk->sectors);
	c->size_max = htole32(SIZE_MAX_SEG);
	c->seg_max = htole32(SEG_MAX);
	c->blk_size = htole32(SECTOR);
	c->max_discard_sectors = htole32(RANGE_MAX_SECTORS);
	c->max_discard_seg = htole32(RANGE_MAX_SEGS);
	c->discard_sector_alignment = htole32(align);
	c->max_write_zeroes_sectors = htole32(RANGE_MAX_SECTORS);
	c->max_write_zeroes_seg = htole32(RANGE_MAX_SEGS);
	c->write_zeroes_may_unmap = 1;
}

struct virtio_blk *virtio_blk_open(struct pci_bus *bus, const char *path,
				   bool readonly)
{
	struct virtio_blk *blk = calloc(1, sizeof(*blk));
	const char *base = strrchr(path, '/');
	u64 size;
	u32 fs_block;

	if (!blk)
		abort();
	blk->readonly = readonly;
	blk->fd = open_backing(blk, path, &size, &fs_block);
	if (blk->fd < 0) {
		free(blk);
		return NULL;
	}
	if (size % SECTOR)
		fprintf(stderr, "lguest: warning: --block=%s: size %llu is not "
			"a multiple of 512; the guest sees %llu bytes\n", path,
			(unsigned long long)size,
			(unsigned long long)(size / SECTOR * SECTOR));
	blk->sectors = size / SECTOR;
	blk->path = strdup(path);
	/* The serial number (/dev/disk/by-id): the file's own name, cut to
	 * 20 bytes and, as the spec allows, not NUL-terminated then. */
	base = base ? base + 1 : path;
	memcpy(blk->id, base, strnlen(base, sizeof(blk->id)));
	fill_config(blk, fs_block);

	blk->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (blk->efd < 0 || !blk->path)
		abort();
	/* Under a file size limit (ulimit -f) a write past it raises
	 * SIGXFSZ, which would end lguest at the guest's say: ignored, the
	 * write fails with EFBIG and the guest gets IOERR. */
	signal(SIGXFSZ, SIG_IGN);
	pthread_mutex_init(&blk->lock, NULL);
	pthread_mutex_init(&blk->flush_lock, NULL);
	pthread_cond_init(&blk->wake, NULL);
	pthread_cond_init(&blk->idle, NULL);
	blk->todo_tail = &blk->todo;
	blk->done_tail = &blk->done;

	blk->vd = virtio_pci_add(bus, readonly ? &ro_ops : &rw_ops, blk,
				 (u8 *)&blk->cfg);
	for (unsigned int i = 0; i <= RUN_LOOP; i++) {
		struct blk_worker *w = &blk->workers[i];

		w->blk = blk;
		w->nowait = i == RUN_LOOP;
		w->scratch = calloc(2 * QUEUE_MAX, sizeof(*w->scratch));
		if (!w->scratch ||
		    (i < IO_THREADS &&
		     pthread_create(&w->thread, NULL, io_thread, w)))
			abort();
	}
	machine_add_idle_poll(pci_bus_machine(bus), blk_idle_poll, blk);
	blk->wake_timer = timer_new(pci_bus_machine(bus), wake_timer_fire, blk);
	machine_add_fd(pci_bus_machine(bus), blk->efd, EPOLLIN, eventfd_ready,
		       blk);
	verbose("virtio-blk: %s: %llu sectors%s", path,
		(unsigned long long)blk->sectors, readonly ? ", read-only" : "");
	return blk;
}

int virtio_blk_add(struct pci_bus *bus, const char *path, bool readonly)
{
	return virtio_blk_open(bus, path, readonly) ? 0 : -1;
}

int virtio_blk_add_spec(struct pci_bus *bus, const char *spec)
{
	size_t n = strlen(spec);
	bool readonly = n > 3 && !strcmp(spec + n - 3, ",ro");
	char *path = strndup(spec, readonly ? n - 3 : n);
	int ret;

	if (!path)
		abort();
	ret = virtio_blk_add(bus, path, readonly);
	free(path);
	return ret;
}
