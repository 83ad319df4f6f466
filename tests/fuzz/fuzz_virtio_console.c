/*
 * Fuzz target: virtio-console (src/virtio/console.c) on a host terminal
 * (src/term.c) made of two pipes, through the PCI transport and the
 * virtqueue, driven by a scripted guest (fuzz_guest.h).  FG_HOST is the
 * user, one of: empty the output pipe and type keys into the input pipe
 * (then the run loop's fds are polled); go away (close the output's
 * reader: EPIPE from then on); or end the input.  Between two readings
 * the output is left to fill, so that a terminal that takes nothing (the
 * retry path) is reached too.  The first byte of the input says whether
 * the console takes the keys.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_guest.h"
#include "term.h"
#include "virtio/virtio.h"

static int in_pipe[2], out_pipe[2];

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void user(struct fguest *g, struct fuzz_in *in)
{
	u8 buf[256];
	size_t n;

	switch (in_u8(in) % 3) {
	case 0:		/* reads what was printed, and types */
		n = in_bytes(in, buf, in_u8(in));
		if (out_pipe[0] >= 0)
			drain(out_pipe[0]);
		/* A full pipe loses the keys, as a line would. */
		if (n && in_pipe[1] >= 0 && write(in_pipe[1], buf, n) < 0)
			n = 0;
		break;
	case 1:
		close_fd(&out_pipe[0]);
		break;
	case 2:
		close_fd(&in_pipe[1]);
		break;
	}
	machine_poll(g->m);
}

static void cleanup(struct fguest *g)
{
	term_close(g->dev.opaque);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	bool take_input = in_u8(&in) & 1;
	struct fguest *g;
	struct term *t;

	if (pipe2(in_pipe, O_NONBLOCK) || pipe2(out_pipe, O_NONBLOCK))
		abort();
	g = fg_new();
	t = term_open(g->m, in_pipe[0], out_pipe[1]);
	g->dev = (struct fg_device){ .name = "virtio-console",
				     .host = user,
				     .cleanup = cleanup, .opaque = t };
	virtio_console_add(g->bus, t, take_input);
	fg_run(g, &in);
	fg_free(g);
	for (int i = 0; i < 2; i++) {
		close_fd(&in_pipe[i]);
		close_fd(&out_pipe[i]);
	}
	return 0;
}
