/*
 * Fuzz target: virtio-rng (src/virtio/rng.c) through the PCI transport
 * and the virtqueue, driven by a scripted guest (fuzz_guest.h).  The
 * smallest device, so the one where the transport and the ring get the
 * most executions per second.
 */
#include "fuzz_guest.h"
#include "virtio/virtio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fguest *g = fg_new();

	g->dev = (struct fg_device){ .name = "virtio-rng" };
	virtio_rng_add(g->bus);
	fg_run(g, &in);
	fg_free(g);
	return 0;
}
