/*
 * Fuzz target: the split virtqueue (src/virtio/virtqueue.c) and the PCI
 * transport (virtio_pci.c) under a device of our own, "virtio-fuzzq",
 * driven by a scripted guest (fuzz_guest.h).  The real devices trust
 * what vq_pop() hands them; this device checks it instead:
 *
 *  - every element's head is inside its queue, it has no more pieces
 *    than vq_elem_new() made room for, every piece is non-empty and lies
 *    wholly in guest RAM, and out_len and in_len are the sums of them;
 *  - vq_elem_read(), vq_elem_write() and vq_elem_slice(), at offsets
 *    and lengths the input chooses, move exactly the bytes a plain walk
 *    over the pieces says they should.
 *
 * The input also decides whether each element is returned at once or
 * held and returned later, in reverse order, so that the used ring sees
 * completions out of order as with a real disk.
 */
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include "fuzz_guest.h"
#include "virtio/virtio_dev.h"

#define NQ		FG_QUEUES
#define QMAX		64
#define HOLD_MAX	8

struct fuzzq {
	struct fguest *g;
	struct fuzz_in *in;
	struct vq_elem *held[NQ][HOLD_MAX];
	u32 held_len[NQ][HOLD_MAX];
	int nr_held[NQ];
	struct vq_elem *spare[NQ];
	u8 a[65536], b[65536];
};

static struct fuzzq fq;

static bool in_ram(const void *p, size_t len)
{
	const struct guest_mem *mem = &fq.g->mem;
	const u8 *b = p;

	return b >= mem->base && len <= mem->size &&
	       (size_t)(b - mem->base) <= mem->size - len;
}

static void check_elem(struct virtqueue *vq, const struct vq_elem *e)
{
	u64 out = 0, in = 0;

	if (e->head >= vq_regs(vq)->size)
		fuzz_fail("head %u in a queue of %u", e->head,
			  vq_regs(vq)->size);
	if (e->nr_out + e->nr_in > e->cap)
		fuzz_fail("%u+%u pieces, room for %u", e->nr_out, e->nr_in,
			  e->cap);
	for (unsigned int i = 0; i < e->nr_out + e->nr_in; i++) {
		if (!e->iov[i].iov_len || !in_ram(e->iov[i].iov_base,
						  e->iov[i].iov_len))
			fuzz_fail("piece %u (%zu bytes) not in guest RAM", i,
				  e->iov[i].iov_len);
		*(i < e->nr_out ? &out : &in) += e->iov[i].iov_len;
	}
	if (out != e->out_len || in != e->in_len)
		fuzz_fail("lengths %llu/%llu, pieces add up to %llu/%llu",
			  (unsigned long long)e->out_len,
			  (unsigned long long)e->in_len,
			  (unsigned long long)out, (unsigned long long)in);
}

/* The bytes [off, off+len) of a part, gathered piece by piece. */
static size_t gather(const struct vq_elem *e, bool in, u64 off, u8 *buf,
		     size_t len)
{
	unsigned int first = in ? e->nr_out : 0;
	unsigned int end = first + (in ? e->nr_in : e->nr_out);
	u64 pos = 0;
	size_t done = 0;

	for (unsigned int i = first; i < end && done < len; i++) {
		u64 l = e->iov[i].iov_len, from = off > pos ? off - pos : 0;

		if (from < l) {
			size_t n = l - from < len - done ? l - from :
							   len - done;

			memcpy(buf + done, (u8 *)e->iov[i].iov_base + from, n);
			done += n;
		}
		pos += l;
	}
	return done;
}

static size_t expect(u64 part, u64 off, size_t len)
{
	return off >= part ? 0 : part - off < len ? part - off : len;
}

static void exercise(struct vq_elem *e)
{
	struct fuzz_in *in = fq.in;
	bool to_in = in_u8(in) & 1;
	u64 part = to_in ? e->in_len : e->out_len;
	u64 off = in_u32(in) % (part + 2);
	size_t len = in_u16(in), n, got;
	struct iovec iov[16];
	unsigned int cnt;
	u64 sum = 0;

	if (to_in) {
		memset(fq.a, in_u8(in), len);
		n = vq_elem_write(e, off, fq.a, len);
		got = gather(e, true, off, fq.b, n);
	} else {
		n = vq_elem_read(e, off, fq.a, len);
		got = gather(e, false, off, fq.b, n);
	}
	if (n != expect(part, off, len) || got != n || memcmp(fq.a, fq.b, n))
		fuzz_fail("%s of %zu at %llu moved %zu bytes (of %llu)",
			  to_in ? "write" : "read", len,
			  (unsigned long long)off, n, (unsigned long long)part);
	cnt = vq_elem_slice(e, to_in, off, len, iov, 1 + in_u8(in) % 16);
	for (unsigned int i = 0; i < cnt; i++) {
		if (!in_ram(iov[i].iov_base, iov[i].iov_len))
			fuzz_fail("a slice outside guest RAM");
		sum += iov[i].iov_len;
	}
	if (sum > expect(part, off, len))
		fuzz_fail("a slice of %llu bytes, asked %zu",
			  (unsigned long long)sum, len);
}

static void push_held(struct virtqueue *vq)
{
	unsigned int q = vq_index(vq);
	bool any = fq.nr_held[q] > 0;

	while (fq.nr_held[q] > 0) {
		int i = --fq.nr_held[q];

		vq_push(vq, fq.held[q][i], fq.held_len[q][i]);
		if (!fq.spare[q])
			fq.spare[q] = fq.held[q][i];
		else
			free(fq.held[q][i]);
	}
	if (any)
		vq_notify_guest(vq);
}

static void fq_notify(struct virtio_dev *vd, struct virtqueue *vq)
{
	unsigned int q = vq_index(vq);
	struct vq_elem *e;
	u32 len;
	int r;

	(void)vd;
	push_held(vq);
	for (;;) {
		e = fq.spare[q] ? fq.spare[q] : vq_elem_new(vq);
		fq.spare[q] = NULL;
		r = vq_pop(vq, e);
		if (r <= 0)
			break;
		check_elem(vq, e);
		exercise(e);
		len = in_u32(fq.in);
		len = e->in_len ? len % (e->in_len + 1) : 0;
		if ((in_u8(fq.in) & 1) && fq.nr_held[q] < HOLD_MAX) {
			fq.held[q][fq.nr_held[q]] = e;
			fq.held_len[q][fq.nr_held[q]++] = len;
			continue;
		}
		vq_push(vq, e, len);
		vq_notify_guest(vq);
		fq.spare[q] = e;
	}
	fq.spare[q] = e;
}

static void fq_reset(struct virtio_dev *vd)
{
	(void)vd;
	for (int q = 0; q < NQ; q++)
		while (fq.nr_held[q] > 0)
			free(fq.held[q][--fq.nr_held[q]]);
}

static void fq_free(struct virtio_dev *vd)
{
	fq_reset(vd);
	for (int q = 0; q < NQ; q++) {
		free(fq.spare[q]);
		fq.spare[q] = NULL;
	}
}

static const struct virtio_dev_ops fq_ops = {
	.name = "virtio-fuzzq",
	.type = 42,
	.class_code = 0xff0000,
	.nr_queues = NQ,
	.queue_max = QMAX,
	.notify = fq_notify,
	.reset = fq_reset,
	.free = fq_free,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fguest *g = fg_new();

	fq.g = g;
	fq.in = &in;
	g->dev = (struct fg_device){ .name = "virtio-fuzzq" };
	virtio_pci_add(g->bus, &fq_ops, NULL, NULL);
	fg_run(g, &in);
	fg_free(g);
	return 0;
}
