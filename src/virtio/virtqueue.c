/*
 * The split virtqueue, written once for every device.
 *
 * The driver owns three areas in guest RAM: the descriptor table, the
 * available ring (what it offers us) and the used ring (what we give back).
 * When the driver enables a queue we check that all three lie in RAM,
 * aligned as the spec demands, and keep host pointers to them: guest RAM is
 * one mapping that never moves, so the check holds for the queue's life.
 *
 * Everything else the driver writes there is hostile until checked: the
 * available index may jump, a head or a next index may be out of range, a
 * chain may loop, a buffer may lie outside RAM or wrap around 4 GiB, an
 * indirect table may nest or be too long, a readable buffer may follow a
 * writable one.  Each of those kills the guest with a reason; no path
 * turns one of them into a host access outside RAM.
 *
 * Notification suppression both ways uses the event index when negotiated
 * (VIRTIO_RING_F_EVENT_IDX): we publish in avail_event how far we have
 * read, and interrupt only when the used index passes the driver's
 * used_event.  Without it, the avail ring's NO_INTERRUPT flag is honoured.
 *
 * A chain is the device's from vq_pop() until vq_push() gives it back, and
 * the driver may not offer its head again meanwhile.  We keep a bit per
 * head to hold it to that, which also bounds what a device can have in
 * flight to the queue's size, whatever the driver does.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "virtio_dev.h"

/* What a queue did in its life: the figures that say whether
 * notification suppression works both ways (a kick or an interrupt per
 * chain is the sign that it does not). */
struct vq_stats {
	u64 kicks;		/* notifications from the driver */
	u64 used;		/* chains put on the used ring */
	u64 irqs;		/* interrupts sent */
	u64 irqs_held;		/* interrupts the driver did not want */
};

struct virtqueue {
	struct virtio_dev *vd;
	unsigned int index;
	u16 max_size;
	struct vq_regs regs;	/* as the driver wrote them */
	bool enabled;
	bool broken;		/* the guest was killed over this queue */
	u16 size;		/* regs.size, once enabled */
	u8 *desc, *avail, *used;	/* host pointers, once enabled */
	u16 last_avail;		/* next avail ring slot to read */
	u16 used_idx;		/* our copy of used->idx */
	u16 signalled_used;	/* used_idx when we last decided to signal */
	bool signalled_valid;
	u8 *held;		/* a bit per head: popped, not yet pushed */
	struct vq_stats stats;	/* kept across resets */
};

/*
 * The guest may run on another thread one day (KVM): order our ring reads
 * and writes against its.  On the software CPU this costs one fence.
 */
#define ring_barrier() __atomic_thread_fence(__ATOMIC_SEQ_CST)

static u16 ld16(const u8 *p)
{
	u16 v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static void st16(u8 *p, u16 v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static void st32(u8 *p, u32 v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

struct desc {
	u64 addr;
	u32 len;
	u16 flags, next;
};

static void ld_desc(const u8 *table, unsigned int i, struct desc *d)
{
	struct vring_desc raw;

	memcpy(&raw, table + 16 * i, sizeof(raw));
	d->addr = le64toh(raw.addr);
	d->len = le32toh(raw.len);
	d->flags = le16toh(raw.flags);
	d->next = le16toh(raw.next);
}

/* avail: flags, idx, ring[size], used_event.  used: flags, idx,
 * ring[size] of {id, len}, avail_event. */
#define AVAIL_IDX(vq)		((vq)->avail + 2)
#define AVAIL_RING(vq, i)	((vq)->avail + 4 + 2 * (i))
#define USED_EVENT(vq)		AVAIL_RING(vq, (vq)->size)
#define USED_IDX(vq)		((vq)->used + 2)
#define USED_RING(vq, i)	((vq)->used + 4 + 8 * (i))
#define AVAIL_EVENT(vq)		USED_RING(vq, (vq)->size)

static size_t held_bytes(u16 max_size)
{
	return (max_size + 7u) / 8;
}

static bool is_held(const struct virtqueue *vq, u16 head)
{
	return vq->held[head / 8] & (1u << (head % 8));
}

static void set_held(struct virtqueue *vq, u16 head, bool on)
{
	if (on)
		vq->held[head / 8] |= 1u << (head % 8);
	else
		vq->held[head / 8] &= ~(1u << (head % 8));
}

struct virtqueue *vq_new(struct virtio_dev *vd, unsigned int index,
			 u16 max_size)
{
	struct virtqueue *vq = calloc(1, sizeof(*vq));

	if (!vq)
		abort();
	vq->vd = vd;
	vq->index = index;
	vq->max_size = max_size;
	vq->held = calloc(held_bytes(max_size), 1);
	if (!vq->held)
		abort();
	vq_reset(vq);
	return vq;
}

void vq_free(struct virtqueue *vq)
{
	free(vq->held);
	free(vq);
}

/* The device has forgotten every request (ops->reset ran first), so
 * every head is the driver's again. */
void vq_reset(struct virtqueue *vq)
{
	struct virtio_dev *vd = vq->vd;
	unsigned int index = vq->index;
	u16 max_size = vq->max_size;
	u8 *held = vq->held;
	struct vq_stats stats = vq->stats;

	memset(vq, 0, sizeof(*vq));
	vq->stats = stats;
	vq->vd = vd;
	vq->index = index;
	vq->max_size = max_size;
	vq->regs.size = max_size;
	vq->held = held;
	memset(held, 0, held_bytes(max_size));
}

struct vq_regs *vq_regs(struct virtqueue *vq)
{
	return &vq->regs;
}

bool vq_ready(const struct virtqueue *vq)
{
	return vq->enabled && !vq->broken;
}

unsigned int vq_index(const struct virtqueue *vq)
{
	return vq->index;
}

/* A ring area: in RAM and aligned, or the guest dies. */
static u8 *ring_area(struct virtqueue *vq, const char *what, u64 gpa,
		     u64 len, u64 align)
{
	u8 *p;

	if (gpa & (align - 1)) {
		virtio_kill(vq->vd, "queue %u %s at %#llx is not %llu-byte "
			    "aligned", vq->index, what,
			    (unsigned long long)gpa,
			    (unsigned long long)align);
		return NULL;
	}
	p = guest_ptr(machine_mem(virtio_machine(vq->vd)), gpa, len);
	if (!p)
		virtio_kill(vq->vd, "queue %u %s %#llx+%#llx outside guest "
			    "memory", vq->index, what,
			    (unsigned long long)gpa, (unsigned long long)len);
	return p;
}

/*V:120
 * The driver enables a queue after writing its size and the addresses of
 * its three areas.  This is the only time those are checked, and the
 * only time they need to be: the size must be a power of two no larger
 * than we offered, and the descriptor table, the available ring and the
 * used ring must each lie wholly in guest RAM, aligned as the spec says.
 * We then keep host pointers to them for the queue's life, which is safe
 * because guest RAM is one mapping that never moves (M:100), and the
 * transport ignores writes to an enabled queue's registers.  A queue the
 * guest cannot describe properly kills it: no real driver gets this wrong.
 */
bool vq_enable(struct virtqueue *vq)
{
	u16 size = vq->regs.size;

	if (vq->enabled)
		return true;
	if (size == 0 || (size & (size - 1))) {
		virtio_kill(vq->vd, "queue %u size %u is not a power of two",
			    vq->index, size);
		return false;
	}
	if (size > vq->max_size) {
		virtio_kill(vq->vd, "queue %u size %u is larger than %u",
			    vq->index, size, vq->max_size);
		return false;
	}
	vq->size = size;
	vq->desc = ring_area(vq, "descriptor table", vq->regs.desc,
			     16ull * size, 16);
	if (!vq->desc)
		return false;
	vq->avail = ring_area(vq, "available ring", vq->regs.avail,
			      6 + 2ull * size, 2);
	if (!vq->avail)
		return false;
	vq->used = ring_area(vq, "used ring", vq->regs.used,
			     6 + 8ull * size, 4);
	if (!vq->used)
		return false;
	vq->enabled = true;
	return true;
}
/* The ring areas' lengths include the event-index words, whether or not
 * the driver accepts that feature: the spec has them in the layout. :*/

struct vq_elem *vq_elem_new(struct virtqueue *vq)
{
	/* A direct chain holds at most size - 1 descriptors besides an
	 * indirect one, whose table holds at most max_size. */
	unsigned int cap = 2u * vq->max_size;
	struct vq_elem *e = calloc(1, sizeof(*e) + cap * sizeof(e->iov[0]));

	if (!e)
		abort();
	e->cap = cap;
	return e;
}

/* Kill the guest over this queue and refuse further work on it. */
#define vq_fail(vq, ...) do {					\
		virtio_kill((vq)->vd, __VA_ARGS__);		\
		(vq)->broken = true;				\
	} while (0)

/*V:150
 * One descriptor becomes one host iovec, here and only here.  The spec
 * puts the device-readable buffers first; a readable one after a writable
 * one is refused, so a device can trust that the first out_len bytes are
 * the request and the rest is room for its answer.  The buffer's address
 * and length go through guest_ptr() (M:120), which refuses anything not
 * wholly in RAM, wrap-around past 4 GiB and 64-bit addresses included.
 * Only after this may a device touch the bytes, and then only through the
 * element (vq_elem_read(), vq_elem_write()), which never goes past its
 * iovecs.  An empty buffer is skipped: it holds nothing to check. :*/
static int add_buffer(struct virtqueue *vq, struct vq_elem *e,
		      const struct desc *d)
{
	bool writable = d->flags & VRING_DESC_F_WRITE;
	void *p;

	if (!writable && e->nr_in) {
		vq_fail(vq, "queue %u: device-readable descriptor after a "
			"device-writable one", vq->index);
		return -1;
	}
	if (e->nr_out + e->nr_in >= e->cap) {
		vq_fail(vq, "queue %u: descriptor chain longer than %u",
			vq->index, e->cap);
		return -1;
	}
	if (!d->len)
		return 0;
	p = guest_ptr(machine_mem(virtio_machine(vq->vd)), d->addr, d->len);
	if (!p) {
		vq_fail(vq, "queue %u: descriptor %#llx+%#x outside guest "
			"memory", vq->index, (unsigned long long)d->addr,
			d->len);
		return -1;
	}
	e->iov[e->nr_out + e->nr_in] = (struct iovec){ p, d->len };
	if (writable) {
		e->nr_in++;
		e->in_len += d->len;
	} else {
		e->nr_out++;
		e->out_len += d->len;
	}
	return 0;
}

/* Switches the walk to the indirect table d points at. */
static const u8 *enter_indirect(struct virtqueue *vq, const struct desc *d,
				bool nested, unsigned int *entries)
{
	const u8 *table;

	if (!virtio_has_feature(vq->vd, VIRTIO_RING_F_INDIRECT_DESC)) {
		vq_fail(vq, "queue %u: indirect descriptor not negotiated",
			vq->index);
		return NULL;
	}
	if (nested) {
		vq_fail(vq, "queue %u: indirect descriptor inside an indirect "
			"table", vq->index);
		return NULL;
	}
	if (d->flags & VRING_DESC_F_NEXT) {
		vq_fail(vq, "queue %u: indirect descriptor with NEXT set",
			vq->index);
		return NULL;
	}
	if (d->len == 0 || d->len % 16 || d->len / 16 > vq->max_size) {
		vq_fail(vq, "queue %u: indirect table of %u bytes (not a "
			"multiple of 16, or over %u entries)", vq->index,
			d->len, vq->max_size);
		return NULL;
	}
	table = guest_ptr(machine_mem(virtio_machine(vq->vd)), d->addr,
			  d->len);
	if (!table) {
		vq_fail(vq, "queue %u: indirect table %#llx+%#x outside guest "
			"memory", vq->index, (unsigned long long)d->addr,
			d->len);
		return NULL;
	}
	*entries = d->len / 16;
	return table;
}

/*V:140
 * Walks the chain from head.  Every index is checked against the table
 * it indexes (the head and each next), and in each table (the ring's,
 * then perhaps one indirect table) a chain cannot visit more entries than
 * the table has without going round in a circle, which is how a loop is
 * caught without remembering where it has been.  An indirect descriptor
 * switches the walk to its own table, once: it must have been negotiated,
 * may not sit inside another indirect table or have NEXT set, and its
 * table must be whole 16-byte entries, no more than the queue's size, in
 * guest RAM (enter_indirect() above).
 */
static int walk_chain(struct virtqueue *vq, u16 head, struct vq_elem *e)
{
	const u8 *table = vq->desc;
	unsigned int entries = vq->size, visited = 0, i = head;
	bool indirect = false;
	struct desc d;

	e->head = head;
	e->nr_out = e->nr_in = 0;
	e->out_len = e->in_len = 0;
	for (;;) {
		if (++visited > entries) {
			vq_fail(vq, "queue %u: descriptor chain loops (longer "
				"than %u)", vq->index, entries);
			return -1;
		}
		ld_desc(table, i, &d);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			table = enter_indirect(vq, &d, indirect, &entries);
			if (!table)
				return -1;
			indirect = true;
			visited = 0;
			i = 0;
			continue;
		}
		if (add_buffer(vq, e, &d) < 0)
			return -1;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= entries) {
			vq_fail(vq, "queue %u: next descriptor %u out of range "
				"(%u)", vq->index, i, entries);
			return -1;
		}
	}
}
/* Each descriptor is copied out of guest memory once (ld_desc()) before
 * it is looked at, so a guest changing it under us changes nothing we
 * have checked. :*/

/*V:130
 * Taking a request off a queue.  A device calls vq_pop() until it says 0:
 * each call reads the driver's available index, takes the next head from
 * the ring, and walks its chain (V:140) into an element: a list of host
 * iovecs, the device-readable ones first, every one checked.  The
 * available index is the guest's to write, so it may say anything: more
 * than a queue's size ahead of what we have taken is impossible for an
 * honest driver and kills the guest.  With the event index negotiated we
 * publish how far we have read (avail_event), which tells the driver when
 * it must kick us again; while we are still taking requests it need not.
 * A head the device still holds (popped, not yet pushed) may not be
 * offered again: a driver that re-posts its heads after every kick would
 * otherwise have the device take the same buffers again and again, and a
 * device with an I/O thread queue up work without end.  So each head is
 * ours at most once, which bounds every device's requests in flight by
 * the queue's size.  A queue that killed the guest once stays broken: it
 * returns -1 and the device stops.
 */
int vq_pop(struct virtqueue *vq, struct vq_elem *e)
{
	bool event_idx = virtio_has_feature(vq->vd, VIRTIO_RING_F_EVENT_IDX);
	u16 avail_idx, pending, head;

	if (vq->broken)
		return -1;
	if (!vq->enabled || !virtio_driver_ok(vq->vd))
		return 0;
	avail_idx = ld16(AVAIL_IDX(vq));
	if (avail_idx == vq->last_avail && event_idx) {
		/* Kick us when anything beyond this is added; then look
		 * again, for a driver on another thread (KVM) may have
		 * added one before it could see that. */
		st16(AVAIL_EVENT(vq), vq->last_avail);
		ring_barrier();
		avail_idx = ld16(AVAIL_IDX(vq));
	}
	pending = avail_idx - vq->last_avail;
	if (pending > vq->size) {
		vq_fail(vq, "queue %u: available index jumped from %u to %u "
			"(size %u)", vq->index, vq->last_avail, avail_idx,
			vq->size);
		return -1;
	}
	if (!pending)
		return 0;
	ring_barrier();
	head = ld16(AVAIL_RING(vq, vq->last_avail & (vq->size - 1)));
	vq->last_avail++;
	if (event_idx)
		st16(AVAIL_EVENT(vq), vq->last_avail);
	if (head >= vq->size) {
		vq_fail(vq, "queue %u: head descriptor %u out of range (size "
			"%u)", vq->index, head, vq->size);
		return -1;
	}
	if (is_held(vq, head)) {
		vq_fail(vq, "queue %u: head %u made available again while the "
			"device still holds it", vq->index, head);
		return -1;
	}
	if (walk_chain(vq, head, e) < 0)
		return -1;
	set_held(vq, head, true);
	return 1;
}
/* The barrier between reading the index and reading the ring matters
 * only if the guest ever runs on another thread (a KVM vCPU); on our
 * software CPU it is one fence. :*/

/*V:155
 * A device writes its answer into a chain's writable buffers (that is
 * its DMA), on the run loop's thread or, for the disk, on an I/O thread;
 * the guest learns that the answer is there from the used ring.  So
 * before the used index moves, on the run loop's thread, which is the
 * CPU's, the buffers are reported to the memory layer (M:125), and any
 * code the CPU translated from those bytes is dropped: the guest cannot
 * run a page that a disk read filled with what was there before.  An I/O
 * thread has finished writing before the run loop is handed its request
 * (blk.c's done list, under its lock), so nothing is written after the
 * report; code translated from a buffer while the device was still
 * writing it is dropped by the report too.  The whole of the writable
 * part is reported, not only the used length: a request that failed
 * part way may have written some of it. :*/
void vq_elem_written(struct virtqueue *vq, const struct vq_elem *e)
{
	struct guest_mem *mem = machine_mem(virtio_machine(vq->vd));
	unsigned int i;

	for (i = e->nr_out; i < e->nr_out + e->nr_in; i++)
		mem_written(mem, (u64)((u8 *)e->iov[i].iov_base - mem->base),
			    e->iov[i].iov_len);
}

void vq_push(struct virtqueue *vq, const struct vq_elem *e, u32 len)
{
	u8 *slot;

	/* Written even if the head is not put back (a reset came first). */
	vq_elem_written(vq, e);
	if (!vq->enabled || vq->broken || e->head >= vq->size ||
	    !is_held(vq, e->head))
		return;
	set_held(vq, e->head, false);
	slot = USED_RING(vq, vq->used_idx & (vq->size - 1));
	st32(slot, e->head);
	st32(slot + 4, len);
	ring_barrier();
	vq->used_idx++;
	st16(USED_IDX(vq), vq->used_idx);
	ring_barrier();
	vq->stats.used++;
}

/*V:160
 * After vq_push() has put finished requests on the used ring, the device
 * asks whether the driver wants an interrupt for them.  With the event
 * index, the driver said in used_event which used index it wants to hear
 * about, and we interrupt only when the index has moved past it since we
 * last decided; without it, the driver's NO_INTERRUPT flag says "not
 * now".  Fewer interrupts is much of virtio's speed, and on a software
 * CPU every instruction the guest's handler runs is paid for.  The
 * interrupt itself is the device's ISR bit and its INTx line (V:100,
 * D:200, M:210).
 */
void vq_notify_guest(struct virtqueue *vq)
{
	u16 old, new;

	if (!vq->enabled || vq->broken)
		return;
	if (!virtio_has_feature(vq->vd, VIRTIO_RING_F_EVENT_IDX)) {
		if (ld16(vq->avail) & VRING_AVAIL_F_NO_INTERRUPT) {
			vq->stats.irqs_held++;
			return;
		}
		vq->stats.irqs++;
		virtio_interrupt(vq->vd, VIRTIO_ISR_QUEUE);
		return;
	}
	old = vq->signalled_used;
	new = vq->used_idx;
	vq->signalled_used = new;
	if (vq->signalled_valid &&
	    !vring_need_event(ld16(USED_EVENT(vq)), new, old)) {
		vq->stats.irqs_held++;
		return;
	}
	vq->signalled_valid = true;
	vq->stats.irqs++;
	virtio_interrupt(vq->vd, VIRTIO_ISR_QUEUE);
}
/* The first decision always interrupts: until then there is no "last
 * time" to compare with. :*/

void vq_kicked(struct virtqueue *vq)
{
	vq->stats.kicks++;
}

void vq_report(const struct virtqueue *vq, const char *name)
{
	const struct vq_stats *st = &vq->stats;

	if (!st->kicks && !st->used)
		return;
	verbose("%s: queue %u: %llu kicks, %llu chains used, %llu "
		"interrupts (%llu more held back by the driver's wish)", name,
		vq->index, (unsigned long long)st->kicks,
		(unsigned long long)st->used, (unsigned long long)st->irqs,
		(unsigned long long)st->irqs_held);
}

/* Walks the out or in part of e from byte off, calling fn on pieces. */
static size_t elem_copy(const struct vq_elem *e, bool in, u64 off,
			u8 *buf, size_t len, bool to_guest)
{
	unsigned int first = in ? e->nr_out : 0;
	unsigned int n = in ? e->nr_in : e->nr_out;
	size_t done = 0;

	for (unsigned int i = first; i < first + n && done < len; i++) {
		const struct iovec *v = &e->iov[i];
		size_t chunk;

		if (off >= v->iov_len) {
			off -= v->iov_len;
			continue;
		}
		chunk = v->iov_len - off;
		if (chunk > len - done)
			chunk = len - done;
		if (to_guest)
			memcpy((u8 *)v->iov_base + off, buf + done, chunk);
		else
			memcpy(buf + done, (u8 *)v->iov_base + off, chunk);
		done += chunk;
		off = 0;
	}
	return done;
}

size_t vq_elem_read(const struct vq_elem *e, u64 off, void *buf, size_t len)
{
	return elem_copy(e, false, off, buf, len, false);
}

size_t vq_elem_write(const struct vq_elem *e, u64 off, const void *buf,
		     size_t len)
{
	return elem_copy(e, true, off, (u8 *)buf, len, true);
}

unsigned int vq_elem_slice(const struct vq_elem *e, bool in, u64 off,
			   u64 len, struct iovec *dst, unsigned int max)
{
	unsigned int first = in ? e->nr_out : 0;
	unsigned int n = in ? e->nr_in : e->nr_out, count = 0;

	for (unsigned int i = first; i < first + n && len && count < max;
	     i++) {
		const struct iovec *v = &e->iov[i];
		u64 chunk;

		if (off >= v->iov_len) {
			off -= v->iov_len;
			continue;
		}
		chunk = v->iov_len - off;
		if (chunk > len)
			chunk = len;
		dst[count++] = (struct iovec){ (u8 *)v->iov_base + off, chunk };
		len -= chunk;
		off = 0;
	}
	return count;
}
