/*
 * Fuzz target: virtio-blk (src/virtio/blk.c) through the PCI transport
 * (virtio_pci.c) and the virtqueue (virtqueue.c), driven by a scripted
 * guest (fuzz_guest.h).  The disk is a 64 KiB file in $TMPDIR, zeroed
 * before every input; the first byte of the input says whether it is
 * read-only.  After each step the I/O threads are waited for (quiesce),
 * so that each step starts from settled state (within a step, requests
 * the four threads carry out at once may finish in any order, as on a
 * real disk).
 *
 * Besides what every virtio target checks (no crash, no sanitizer report,
 * no die/exit/abort, no hang; a kill only with "virtio-blk: ..."), the
 * file must not change size: a request past the end is an I/O error.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_guest.h"
#include "virtio/virtio.h"

#define DISK_SIZE	(64 * 1024)

static char path[256];
static int disk_fd = -1;

static void settle(struct fguest *g)
{
	virtio_blk_quiesce(g->dev.opaque);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc, (void)argv;
	snprintf(path, sizeof(path), "%s/lguest-fuzz-blk-XXXXXX",
		 tmp ? tmp : "/tmp");
	disk_fd = mkstemp(path);
	if (disk_fd < 0)
		abort();
	/* Gone when the fuzzer ends; our fd and the device's keep it. */
	unlink(path);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", disk_fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	bool ro = in_u8(&in) & 1;
	struct fguest *g;
	struct stat st;

	if (ftruncate(disk_fd, 0) || ftruncate(disk_fd, DISK_SIZE))
		abort();
	g = fg_new();
	g->dev = (struct fg_device){ .name = "virtio-blk", .settle = settle };
	g->dev.opaque = virtio_blk_open(g->bus, path, ro);
	if (!g->dev.opaque)
		abort();
	fg_run(g, &in);
	fg_free(g);
	if (fstat(disk_fd, &st) || st.st_size != DISK_SIZE)
		fuzz_fail("the disk is %lld bytes, not %d",
			  (long long)st.st_size, DISK_SIZE);
	return 0;
}
