/*
 * Fuzz target: the receive side of --sharenet (src/net/sharenet.c) as
 * hostile peers leave the file.  Our backend is opened once, on a file in
 * $TMPDIR; the target maps the same file, as every other guest on the
 * segment does, and each input is a list of what peers do: write a
 * ring's head or reserve, a frame record (first cell, length, virtio-net
 * header, bytes) at any cell, a control page
 * (active, promisc, MAC; ours too), or cut the file short and grow it
 * back; and, in between, the guest posts a number of receive buffers and
 * the backend delivers (rx_resume) to a NIC of the target's own.
 *
 * Every frame delivered must be one a NIC can take (14 bytes up to the
 * segment's MTU of 65535 and an Ethernet header with a VLAN tag) and only
 * while the guest has a buffer; the process must survive a file cut
 * short under it (the backend's SIGBUS guard).  The layout below mirrors
 * sharenet.c (format 3) and must follow it when it changes.
 *
 * The backend lives across inputs, as a receiver lives across what its
 * peers do (its read positions, and a file it still counts as cut short
 * until its waker sees it whole, up to 100 ms on): opening one per input
 * would cost that wait for every cut.  A finding may therefore need the
 * inputs before it; libFuzzer's crash file is where to start.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "machine.h"
#include "memory.h"
#include "net/net.h"

/* The file, as sharenet.c lays it out. */
#define SN_PAGE		4096
#define SN_CELLS	1024
#define SN_CELL		2048
#define SN_SLOTS	16
#define SN_SLOT_SIZE	(SN_PAGE + SN_CELLS * SN_CELL)
#define SN_SIZE		(SN_PAGE + (u64)SN_SLOTS * SN_SLOT_SIZE)
#define CTL_HEAD	0
#define CTL_ACTIVE	128
#define CTL_PROMISC	132
#define CTL_MAC		136
#define CTL_RESERVE	144
#define CELL_SEQ	0
#define CELL_LEN	4
#define CELL_HDR	8
#define CELL_FRAME	24
#define MAX_FRAME	(65535 + 14 + 4)

static struct guest_mem mem;
static struct machine *m;
static struct net_backend *nb;
static int fd = -1;
static u8 *peer;		/* the peers' mapping of the file */
static int budget;		/* receive buffers the guest has */
static int delivered;		/* frames, in this input */
static u8 frame[MAX_FRAME];

static bool can_receive(void *opaque)
{
	(void)opaque;
	return budget > 0;
}

static bool receive(void *opaque, const struct virtio_net_hdr_v1 *hdr,
		    const void *f, size_t len)
{
	(void)opaque;
	if (budget <= 0)
		fuzz_fail("a frame with no buffer");
	if (!hdr)
		fuzz_fail("a frame without its header");
	if (len < 14 || len > MAX_FRAME)
		fuzz_fail("a %zu-byte frame delivered", len);
	memcpy(frame, f, len);
	budget--;
	delivered++;
	return true;
}

/* Opened on the first input, not in LLVMFuzzerInitialize: the backend's
 * SIGBUS handler must go in after libFuzzer's, which it hands on to. */
static void open_once(void)
{
	const char *tmp = getenv("TMPDIR");
	char path[256], err[256];

	if (nb)
		return;
	snprintf(path, sizeof(path), "%s/lguest-fuzz-sn-XXXXXX",
		 tmp ? tmp : "/tmp");
	fd = mkstemp(path);
	if (fd < 0 || guest_mem_init(&mem, 2 * MiB))
		abort();
	m = machine_new(&mem);
	nb = sharenet_open(m, path, err, sizeof(err));
	if (!nb) {
		fprintf(stderr, "fuzz_sharenet: %s\n", err);
		abort();
	}
	nb->client = (struct net_client){ NULL, can_receive, receive };
	peer = mmap(NULL, SN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (peer == MAP_FAILED)
		abort();
	unlink(path);
}

static u8 *slot(struct fuzz_in *in)
{
	return peer + SN_PAGE + (u64)(in_u8(in) % SN_SLOTS) * SN_SLOT_SIZE;
}

static void put32(u8 *p, u32 v)
{
	__atomic_store_n((u32 *)p, v, __ATOMIC_RELAXED);
}

static void step(struct fuzz_in *in)
{
	u8 *s, *c;

	switch (in_u8(in) % 6) {
	case 0:
		s = slot(in);
		put32(s + CTL_HEAD, in_u32(in));
		break;
	case 5:
		s = slot(in);
		put32(s + CTL_RESERVE, in_u32(in));
		break;
	case 1:
		s = slot(in);
		c = s + SN_PAGE + (u64)(in_u16(in) % SN_CELLS) * SN_CELL;
		put32(c + CELL_SEQ, in_u32(in));
		put32(c + CELL_LEN, in_u32(in));
		in_bytes(in, c + CELL_HDR, 12);
		in_bytes(in, c + CELL_FRAME, in_u8(in) % 64);
		break;
	case 2:
		budget = in_u8(in);
		nb->ops->rx_resume(nb);
		break;
	case 3:
		s = slot(in);
		put32(s + CTL_ACTIVE, in_u32(in));
		put32(s + CTL_PROMISC, in_u32(in));
		__atomic_store_n((u64 *)(s + CTL_MAC), in_u64(in),
				 __ATOMIC_RELAXED);
		break;
	case 4:
		/* Cut short under a delivery, then whole again; the backend
		 * takes it back when its waker sees the size. */
		if (ftruncate(fd, in_u32(in) % SN_SIZE))
			abort();
		budget = 8;
		nb->ops->rx_resume(nb);
		if (ftruncate(fd, SN_SIZE))
			abort();
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };

	open_once();
	delivered = 0;
	while (!in_empty(&in))
		step(&in);
	budget = 64;
	nb->ops->rx_resume(nb);
	fuzz_note("sharenet: %d frames delivered", delivered);
	return 0;
}
