/*
 * virtio-rng: entropy for the guest, from the host's getrandom().
 *
 * The guest hands us buffers; we fill them and give them back.  The user
 * asks for it with --rng: a guest on a software CPU has few sources of
 * entropy to seed its own pool, and Linux's hwrng thread feeds what it
 * reads here into it.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include <linux/virtio_ids.h>

#include "virtio.h"
#include "virtio_dev.h"

#define QUEUE_MAX	64
#define MAX_FILL	(64 * 1024)	/* per request: bounds the time spent */

struct virtio_rng {
	struct vq_elem *e;
};

/* Fills up to max bytes of the chain's writable part. */
static u32 fill(const struct vq_elem *e, size_t max)
{
	u32 done = 0;

	for (unsigned int i = e->nr_out; i < e->nr_out + e->nr_in; i++) {
		u8 *p = e->iov[i].iov_base;
		size_t len = e->iov[i].iov_len;

		if (len > max - done)
			len = max - done;
		while (len) {
			ssize_t n = getrandom(p, len, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return done;
			p += n;
			len -= n;
			done += n;
		}
		if (done == max)
			break;
	}
	return done;
}

/*V:300
 * The smallest complete device, and the one to copy when writing a new
 * one: a table of ops (name, type, queues), an add function that calls
 * virtio_pci_add(), and a notify that pops every request (V:130), does
 * the work, pushes each back with the number of bytes written and then
 * asks once whether to interrupt (V:160).  Everything a guest could get
 * wrong has been checked by the time a request reaches fill(), which only
 * writes into the writable iovecs.  Each request is capped at 64 KiB, so a
 * guest asking for gigabytes cannot hold the run loop.
 */
static void rng_notify(struct virtio_dev *vd, struct virtqueue *vq)
{
	struct virtio_rng *rng = virtio_opaque(vd);
	bool pushed = false;

	while (vq_pop(vq, rng->e) > 0) {
		vq_push(vq, rng->e, fill(rng->e, MAX_FILL));
		pushed = true;
	}
	if (pushed)
		vq_notify_guest(vq);
}

static void rng_free(struct virtio_dev *vd)
{
	struct virtio_rng *rng = virtio_opaque(vd);

	free(rng->e);
	free(rng);
}

static const struct virtio_dev_ops rng_ops = {
	.name = "virtio-rng",
	.type = VIRTIO_ID_RNG,
	.class_code = 0xff0000,		/* unclassified */
	.nr_queues = 1,
	.queue_max = QUEUE_MAX,
	.notify = rng_notify,
	.free = rng_free,
};

void virtio_rng_add(struct pci_bus *bus)
{
	struct virtio_rng *rng = calloc(1, sizeof(*rng));
	struct virtio_dev *vd;

	if (!rng)
		abort();
	vd = virtio_pci_add(bus, &rng_ops, rng, NULL);
	rng->e = vq_elem_new(virtio_vq(vd, 0));
}
/* One element is enough: notify is never re-entered, and each request is
 * finished before the next is popped. :*/
