/*
 * The host terminal: raw mode for the guest's console and its restoration
 * on every exit path, non-blocking buffered input and output driven by the
 * machine's run loop, and the three-^C escape.  See term.h.
 *
 * The terminal's settings belong to the process, not to a machine, so the
 * saved settings are the one piece of global state here: the atexit and
 * signal handlers need them.
 *
 * We never set O_NONBLOCK on fd 0 or 1 themselves: that flag lives in the
 * open file description, which the user's shell shares, and a shell whose
 * terminal turned non-blocking breaks after we exit.  A tty or a pipe is
 * reopened through /proc/self/fd instead, which gives a description of our
 * own; a regular file never blocks anyway.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "term.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/common_interface_defs.h>
#endif

#define IN_BUF 4096
#define OUT_BUF 65536

struct term {
	struct machine *m;
	int in_fd, out_fd;
	bool own_in, own_out;	/* reopened by us: close them */
	bool watching_in, in_eof;
	bool watching_out, out_broken;
	bool is_tty;

	u8 in[IN_BUF];
	size_t in_pos, in_len;

	u8 out[OUT_BUF];	/* a ring */
	size_t out_head, out_len;
	bool room_wanted;	/* a client saw no room: tell it when there is */
	struct timer *flush_timer;

	u64 ctrl_c[3];		/* times of the last three ^C */
	int nr_ctrl_c;

	void (*input_ready)(void *opaque);
	void (*output_room)(void *opaque);
	void *opaque;
};

static struct termios saved_termios;
static int saved_fd = -1;
static struct term *the_term;	/* for the flush at exit */

void term_restore(void)
{
	if (saved_fd >= 0)
		tcsetattr(saved_fd, TCSANOW, &saved_termios);
}

/*
 * A signal that ends us: give the terminal back, then die of the same
 * signal.  Only async-signal-safe calls (tcsetattr() and raise()), since
 * it may interrupt anything, malloc included, on any thread.  The handler
 * is installed with SA_RESETHAND, so it is gone once it runs: the signal
 * raised here is blocked until we return and then takes its default
 * action, and a fault that is not raise()d (SIGSEGV, SIGBUS, SIGFPE,
 * SIGILL) simply happens again on return, now with its default action.
 * Either way the shell sees how lguest really ended, and a core is
 * dumped where the user asked for one.
 */
static void restore_and_die(int sig)
{
	int saved_errno = errno;

	term_restore();
	raise(sig);
	errno = saved_errno;
}

/* What the guest wrote last is worth a second's wait for a slow reader,
 * not more.  The machine may be gone by now: plain poll() and write(). */
static void flush_at_exit(struct term *t)
{
	struct pollfd pfd = { .fd = t->out_fd, .events = POLLOUT };
	int waits = 0;

	while (t->out_len && !t->out_broken && waits < 10) {
		size_t chunk = OUT_BUF - t->out_head;
		ssize_t n;

		if (chunk > t->out_len)
			chunk = t->out_len;
		n = write(t->out_fd, t->out + t->out_head, chunk);
		if (n < 0 && errno == EAGAIN) {
			poll(&pfd, 1, 100);
			waits++;
			continue;
		}
		if (n <= 0 && errno != EINTR)
			break;
		if (n > 0) {
			t->out_head = (t->out_head + n) % OUT_BUF;
			t->out_len -= n;
		}
	}
}

static void at_exit(void)
{
	if (the_term)
		flush_at_exit(the_term);
	term_restore();
}

static void on_signals(const int *sigs, size_t n, int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = restore_and_die;
	sa.sa_flags = SA_RESETHAND | flags;
	for (size_t i = 0; i < n; i++)
		sigaction(sigs[i], &sa, NULL);
}

static void catch_signals(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };

	on_signals(sigs, ARRAY_SIZE(sigs), 0);
	/* A reader that went away must not kill us: writes say EPIPE. */
	signal(SIGPIPE, SIG_IGN);
}

/* A stack that overflowed cannot run the handler: give the fault one of
 * its own, unless someone (a sanitizer) already did. */
static void alt_stack(void)
{
	static u8 stack[64 * 1024];
	stack_t ss;

	if (sigaltstack(NULL, &ss) < 0 || !(ss.ss_flags & SS_DISABLE))
		return;
	ss = (stack_t){ .ss_sp = stack, .ss_size = sizeof(stack) };
	sigaltstack(&ss, NULL);
}

/* Only once the terminal is raw: without one there is nothing to give
 * back, and a sanitizer's own report of the crash is worth more. */
static void catch_faults(void)
{
	static const int sigs[] = {
		SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGSYS, SIGXCPU
	};

	alt_stack();
	on_signals(sigs, ARRAY_SIZE(sigs), SA_ONSTACK);
#ifdef __SANITIZE_ADDRESS__
	/* A sanitizer's report ends the process without atexit. */
	__sanitizer_set_death_callback(term_restore);
#endif
}

/*D:170
 * The terminal is the user's, lent to the guest.  In raw mode every key,
 * ^C and ^Z included, goes to the guest's console, which is what a
 * serial console must do; the price is that we must give the terminal
 * back as we found it on every way out.  Normal exits and die() pass
 * through atexit; SIGTERM, SIGINT, SIGHUP and SIGQUIT are caught by a
 * handler that restores the settings and dies of the same signal, so the
 * shell still sees how lguest ended.  So are the signals of a crash,
 * ours or a library's: SIGSEGV, SIGBUS, SIGABRT (every abort()), SIGFPE
 * and SIGILL, on a stack of their own in case the crash was the stack's,
 * and those of a limit: SIGSYS (a system call a seccomp filter traps)
 * and SIGXCPU (ulimit -t).
 * A SIGKILL cannot be caught: after one, `stty sane` (or `reset`) gives
 * the terminal back. :*/
/* Raw mode, but only for a terminal we are the foreground of: a
 * background lguest touching the terminal would be stopped (SIGTTOU). */
static void make_raw(int fd)
{
	struct termios raw;

	if (!isatty(fd) || tcgetpgrp(fd) != getpgrp())
		return;
	if (tcgetattr(fd, &saved_termios) < 0)
		return;
	raw = saved_termios;
	cfmakeraw(&raw);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	saved_fd = fd;
	catch_faults();
	tcsetattr(fd, TCSANOW, &raw);
}

/* An fd of our own, non-blocking, for a tty or pipe; else fd itself. */
static int own_fd(int fd, int flags, bool *own)
{
	struct stat st;
	char path[64];
	int nfd;

	*own = false;
	if (fstat(fd, &st) < 0 || !(S_ISCHR(st.st_mode) ||
				    S_ISFIFO(st.st_mode)))
		return fd;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (nfd < 0)
		return fd;
	*own = true;
	return nfd;
}

/*
 * Output.
 */
static void watch_out(struct term *t, bool on);

static void flush_out(struct term *t)
{
	while (t->out_len && !t->out_broken) {
		size_t chunk = OUT_BUF - t->out_head;
		ssize_t n;

		if (chunk > t->out_len)
			chunk = t->out_len;
		n = write(t->out_fd, t->out + t->out_head, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			watch_out(t, true);
			return;
		}
		if (n <= 0) {
			/* The reader is gone: the guest carries on, its
			 * console output goes nowhere. */
			t->out_broken = true;
			verbose("console output: %s: discarding from now on",
				n < 0 ? strerror(errno) : "closed");
			break;
		}
		t->out_head = (t->out_head + n) % OUT_BUF;
		t->out_len -= n;
	}
	if (t->out_broken)
		t->out_len = 0;
	watch_out(t, false);
	if (t->room_wanted && t->out_len < OUT_BUF / 2) {
		t->room_wanted = false;
		if (t->output_room)
			t->output_room(t->opaque);
	}
}

static void out_ready(void *opaque, int fd, u32 events)
{
	(void)fd;
	(void)events;
	flush_out(opaque);
}

static void watch_out(struct term *t, bool on)
{
	if (on == t->watching_out)
		return;
	t->watching_out = on;
	if (on)
		machine_add_fd(t->m, t->out_fd, EPOLLOUT, out_ready, t);
	else
		machine_del_fd(t->m, t->out_fd);
}

static void flush_timer_fn(void *opaque)
{
	flush_out(opaque);
}

size_t term_write_room(struct term *t)
{
	size_t room = OUT_BUF - t->out_len;

	/* A client that finds little room will wait for output_room(). */
	if (room < 256)
		t->room_wanted = true;
	return room;
}

size_t term_write(struct term *t, const u8 *buf, size_t len)
{
	size_t i, room = OUT_BUF - t->out_len;

	if (t->out_broken)
		return len;
	if (len > room) {
		len = room;
		t->room_wanted = true;
	}
	for (i = 0; i < len; i++)
		t->out[(t->out_head + t->out_len + i) % OUT_BUF] = buf[i];
	t->out_len += len;
	/* Written out on the run loop's next round, so a burst of bytes
	 * from the guest becomes one write(). */
	if (len && !t->watching_out && !timer_pending(t->flush_timer))
		timer_mod(t->flush_timer, machine_clock_ns(t->m));
	return len;
}

/*
 * Input.
 */
static void watch_in(struct term *t, bool on);

/*D:175
 * With every key going to the guest, the user needs one way out that the
 * guest cannot take away: three ^C within a second, the original
 * launcher's escape.  One ^C is the guest's (it interrupts the guest's
 * shell, as it should).  This only counts keys from a terminal: when
 * stdin is a pipe or a file, a ^C byte in it is data.  The run then ends
 * with status 130, which is what a shell reports for a command ended by
 * ^C. :*/
/* Three ^C within a second: the user wants out, whatever the guest does. */
static void count_ctrl_c(struct term *t, const u8 *buf, size_t len)
{
	u64 now;
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] != 3)
			continue;
		now = machine_clock_ns(t->m);
		t->ctrl_c[t->nr_ctrl_c++ % 3] = now;
		if (t->nr_ctrl_c >= 3 &&
		    now - t->ctrl_c[t->nr_ctrl_c % 3] <= 1000000000ULL) {
			fprintf(stderr, "\r\nlguest: three ^C: stopping\r\n");
			machine_request_exit(t->m, end_status(END_CTRL_C));
		}
	}
}

static void in_ready(void *opaque, int fd, u32 events)
{
	struct term *t = opaque;
	ssize_t n;

	(void)events;
	if (t->in_pos < t->in_len) {
		/* The guest has not taken the last lot: wait for it. */
		watch_in(t, false);
		return;
	}
	n = read(fd, t->in, IN_BUF);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* End of input: the guest runs on without a keyboard. */
		verbose("console input: %s", n ? strerror(errno) : "end");
		t->in_eof = true;
		watch_in(t, false);
		return;
	}
	t->in_pos = 0;
	t->in_len = n;
	if (t->is_tty)
		count_ctrl_c(t, t->in, n);
	if (t->input_ready)
		t->input_ready(t->opaque);
}

static void watch_in(struct term *t, bool on)
{
	if (on && t->in_eof)
		return;
	if (on == t->watching_in)
		return;
	t->watching_in = on;
	if (on)
		machine_add_fd(t->m, t->in_fd, EPOLLIN, in_ready, t);
	else
		machine_del_fd(t->m, t->in_fd);
}

size_t term_read(struct term *t, u8 *buf, size_t max)
{
	size_t n = t->in_len - t->in_pos;

	if (n > max)
		n = max;
	memcpy(buf, t->in + t->in_pos, n);
	t->in_pos += n;
	if (t->in_pos == t->in_len)
		watch_in(t, true);
	return n;
}

void term_set_client(struct term *t, void (*input_ready)(void *opaque),
		     void (*output_room)(void *opaque), void *opaque)
{
	t->input_ready = input_ready;
	t->output_room = output_room;
	t->opaque = opaque;
}

struct term *term_open(struct machine *m, int in_fd, int out_fd)
{
	struct term *t = calloc(1, sizeof(*t));
	static bool registered;

	if (!t)
		die("out of memory");
	t->m = m;
	t->is_tty = isatty(in_fd);
	make_raw(in_fd);
	if (!registered) {
		atexit(at_exit);
		catch_signals();
		registered = true;
	}
	t->in_fd = own_fd(in_fd, O_RDONLY, &t->own_in);
	t->out_fd = own_fd(out_fd, O_WRONLY, &t->own_out);
	t->flush_timer = timer_new(m, flush_timer_fn, t);
	the_term = t;
	watch_in(t, true);
	return t;
}

void term_close(struct term *t)
{
	if (!t)
		return;
	flush_out(t);
	watch_in(t, false);
	watch_out(t, false);
	if (t->own_in)
		close(t->in_fd);
	if (t->own_out)
		close(t->out_fd);
	if (the_term == t)
		the_term = NULL;
	free(t);
}
