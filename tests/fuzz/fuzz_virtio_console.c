/*
 * Fuzz target: virtio-console (src/virtio/console.c) on a host terminal
 * (src/term.c) made of two pipes, through the PCI transport and the
 * virtqueue, driven by a scripted guest (fuzz_guest.h).  FG_HOST is the
 * user: it empties the output pipe, then types keys into the input pipe,
 * and the run loop's fds are polled.  Between two FG_HOSTs the output is
 * left to fill, so that a terminal that takes nothing (the retry path)
 * is reached too.  The first byte of the input says whether
 * the console takes the keys.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_guest.h"
#include "term.h"
#include "virtio/virtio.h"

static int in_pipe[2], out_pipe[2];

static void drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* The user reads what was printed, and types. */
static void keys(struct fguest *g, struct fuzz_in *in)
{
	u8 buf[256];
	size_t n = in_bytes(in, buf, in_u8(in));

	drain(out_pipe[0]);
	if (n && write(in_pipe[1], buf, n) < 0)
		return;	/* full: the keys are lost, as on a real line */
	machine_poll(g->m);
}

static void cleanup(struct fguest *g)
{
	term_close(g->dev.opaque);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	if (pipe2(in_pipe, O_NONBLOCK) || pipe2(out_pipe, O_NONBLOCK))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	bool take_input = in_u8(&in) & 1;
	struct fguest *g;
	struct term *t;

	drain(in_pipe[0]);
	drain(out_pipe[0]);
	g = fg_new();
	t = term_open(g->m, in_pipe[0], out_pipe[1]);
	g->dev = (struct fg_device){ .name = "virtio-console",
				     .host = keys,
				     .cleanup = cleanup, .opaque = t };
	virtio_console_add(g->bus, t, take_input);
	fg_run(g, &in);
	fg_free(g);
	return 0;
}
