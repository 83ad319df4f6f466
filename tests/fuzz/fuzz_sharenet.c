/*
 * Fuzz target: the receive side of a sharenet ring (src/net/sharenet.c)
 * as a hostile peer leaves it.  The backend is opened once, on a file in
 * $TMPDIR; the target then maps the same file, as any other guest on the
 * segment does, and for each input writes our slot's head and tail and
 * some cells (lengths and bytes) from the input, and asks the backend to
 * deliver (rx_resume) to a NIC of its own with a budget of receive
 * buffers the input picks.  Every frame delivered must be one a NIC can
 * take: 14 to NET_MAX_FRAME bytes, readable.
 *
 * Only the fields a receiver reads are written; the slot's lock word is
 * left alone, because today's file format keeps a pthread mutex there
 * that a peer can wedge (issue 14, finding 1, being rewritten).  The file
 * layout below mirrors sharenet.c and must follow it when it changes.
 */
#include <fcntl.h>
#include <stdio.h>
#include <pthread.h>
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
#define SN_CELLS	256
#define SN_CELL		2048
#define SN_SLOTS	16
#define SN_SLOT_SIZE	(SN_PAGE + SN_CELLS * SN_CELL)
#define SN_SIZE		(SN_PAGE + (u64)SN_SLOTS * SN_SLOT_SIZE)

struct sn_slot {
	pthread_mutex_t lock;
	u32 futex, waiting, head, tail, dropped;
	u8 mac[6];
	u8 active, promisc;
};

static struct guest_mem mem;
static struct machine *m;
static struct net_backend *nb;
static u8 *peer;		/* our own mapping of the file */
static int budget;		/* receive buffers the guest has */
static u8 frame[SN_CELL];

static bool can_receive(void *opaque)
{
	(void)opaque;
	return budget > 0;
}

static bool receive(void *opaque, const void *f, size_t len)
{
	(void)opaque;
	if (budget <= 0)
		fuzz_fail("a frame with no buffer");
	if (len < 14 || len > NET_MAX_FRAME)
		fuzz_fail("a %zu-byte frame delivered", len);
	memcpy(frame, f, len);
	budget--;
	return true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char path[256], err[256];
	int fd;

	(void)argc, (void)argv;
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
	close(fd);
	unlink(path);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	int me = sharenet_slot(nb);
	u8 *base = peer + SN_PAGE + (u64)me * SN_SLOT_SIZE;
	struct sn_slot *sl = (struct sn_slot *)base;

	sl->head = in_u32(&in);
	sl->tail = in_u32(&in);
	budget = in_u8(&in);
	while (!in_empty(&in)) {
		u8 *c = base + SN_PAGE + (u64)in_u8(&in) * SN_CELL;
		u32 len = in_u32(&in);

		memcpy(c, &len, 4);
		in_bytes(&in, c + 4, in_u8(&in) % 64);
		if (in_u8(&in) & 1)
			nb->ops->rx_resume(nb);
	}
	nb->ops->rx_resume(nb);
	return 0;
}
