/*
 * What a virtio device model sees: the transport and the virtqueues.
 *
 * A device file (blk.c, console.c, rng.c, ...) fills in a struct
 * virtio_dev_ops and calls virtio_pci_add(); the transport (virtio_pci.c)
 * does feature negotiation, status, reset, the queue registers and the
 * interrupt, and calls ops->notify when the driver kicks a queue.  The
 * device then takes requests with vq_pop(), answers with vq_push() and
 * tells the guest with vq_notify_guest() (virtqueue.c).
 *
 * Everything here runs on the run loop's thread.  A device with an I/O
 * thread lets that thread touch only the buffers (guest RAM does not move)
 * and hands completions back through an eventfd.
 */
#ifndef LGUEST_VIRTIO_DEV_H
#define LGUEST_VIRTIO_DEV_H

#include <sys/uio.h>

#include "../hw/pci.h"
#include "../machine.h"
#include "../types.h"

struct virtio_dev;
struct virtqueue;

struct virtio_dev_ops {
	const char *name;	/* "virtio-blk": starts every kill reason */
	u32 type;		/* VIRTIO_ID_* */
	u32 class_code;		/* PCI class for lspci's sake */
	u64 features;		/* device bits; the transport adds its own */
	u16 nr_queues;
	u16 queue_max;		/* largest queue size offered */
	u32 config_len;		/* bytes of device configuration */
	/* The driver made buffers available on vq (or DRIVER_OK came). */
	void (*notify)(struct virtio_dev *vd, struct virtqueue *vq);
	/* The driver reset the device: forget every request in flight.
	 * Called before the queues are cleared. */
	void (*reset)(struct virtio_dev *vd);
	/* The driver wrote device configuration (config already updated). */
	void (*config_write)(struct virtio_dev *vd, u32 off, int size);
	/* pci_free(): release the device's own state. */
	void (*free)(struct virtio_dev *vd);
};

/* Plugs a virtio-pci function into bus.  config is the device's
 * configuration bytes (ops->config_len of them), owned by the device. */
struct virtio_dev *virtio_pci_add(struct pci_bus *bus,
				  const struct virtio_dev_ops *ops,
				  void *opaque, u8 *config);

void *virtio_opaque(struct virtio_dev *vd);
struct machine *virtio_machine(struct virtio_dev *vd);
struct pci_dev *virtio_pci_dev(struct virtio_dev *vd);
struct virtqueue *virtio_vq(struct virtio_dev *vd, unsigned int n);
/* True if the driver accepted feature bit (VIRTIO_F_*, VIRTIO_*_F_*). */
bool virtio_has_feature(struct virtio_dev *vd, unsigned int bit);
bool virtio_driver_ok(struct virtio_dev *vd);
#define VIRTIO_ISR_QUEUE	1
#define VIRTIO_ISR_CONFIG	2

/* Sets ISR bits and raises the INTx line until the driver reads ISR. */
void virtio_interrupt(struct virtio_dev *vd, u8 isr_bits);
/* The device configuration changed under the driver. */
void virtio_config_changed(struct virtio_dev *vd);
/* guest_kill() with "<name>: " in front. */
void virtio_kill(struct virtio_dev *vd, const char *fmt, ...)
	printf_like(2, 3);

/* One request taken off a queue: its device-readable buffers (out) come
 * first in iov, then its device-writable ones (in).  Every iovec points
 * into guest RAM, checked. */
struct vq_elem {
	u16 head;
	unsigned int nr_out, nr_in;
	u64 out_len, in_len;
	unsigned int cap;	/* room in iov */
	struct iovec iov[];
};

/* An element big enough for any chain vq_pop() accepts on vq. */
struct vq_elem *vq_elem_new(struct virtqueue *vq);

/* Takes the next available chain.  Returns 1 with *e filled, 0 when the
 * queue is empty (or not ready), -1 when the chain was malformed and the
 * guest has been killed (the queue refuses all work until reset).  The
 * chain's head is the device's until vq_push(): the driver offering it
 * again before then kills the guest, so a device never holds more than
 * the queue's size of requests. */
int vq_pop(struct virtqueue *vq, struct vq_elem *e);
/* Returns a chain to the driver, len bytes written into its in part.  A
 * head the device does not hold (pushed twice, or popped before a reset)
 * is not put on the used ring.  Reports the in part as written first
 * (vq_elem_written()). */
void vq_push(struct virtqueue *vq, const struct vq_elem *e, u32 len);
/* The device may have written all of e's in part: tell the memory layer
 * (mem_written()), so that code translated from it goes.  On the run
 * loop's thread; vq_push() does it, a device that drops a chain it wrote
 * into without pushing it (a reset) calls it itself. */
void vq_elem_written(struct virtqueue *vq, const struct vq_elem *e);
/* Interrupts the driver if it asked for one (event index / flags). */
void vq_notify_guest(struct virtqueue *vq);
bool vq_ready(const struct virtqueue *vq);
unsigned int vq_index(const struct virtqueue *vq);

/* Copies between a flat buffer and the out (readable) or in (writable)
 * part of an element, from byte off on.  Return the bytes copied. */
size_t vq_elem_read(const struct vq_elem *e, u64 off, void *buf,
		    size_t len);
size_t vq_elem_write(const struct vq_elem *e, u64 off, const void *buf,
		     size_t len);
/* Fills dst with the iovecs of [off, off+len) of the out (in == false) or
 * in part.  Returns the count (at most max). */
unsigned int vq_elem_slice(const struct vq_elem *e, bool in, u64 off,
			   u64 len, struct iovec *dst, unsigned int max);

/* For virtio_pci.c only. */
struct virtqueue *vq_new(struct virtio_dev *vd, unsigned int index,
			 u16 max_size);
void vq_free(struct virtqueue *vq);
void vq_reset(struct virtqueue *vq);
/* The driver kicked the queue (counted for vq_report()). */
void vq_kicked(struct virtqueue *vq);
/* With --verbose: what went through the queue in its life (kicks, chains
 * used, interrupts sent and held back), a line under the device's name. */
void vq_report(const struct virtqueue *vq, const char *name);
/* The driver's registers for the queue, and the enable that checks them:
 * returns false (and has killed the guest) if they are not acceptable. */
struct vq_regs {
	u16 size;
	u64 desc, avail, used;
};
struct vq_regs *vq_regs(struct virtqueue *vq);
bool vq_enable(struct virtqueue *vq);

#endif
