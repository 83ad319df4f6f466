/*
 * The launcher's ways of speaking: die() for a user error, verbose() for the
 * layout and events that --verbose shows.  Every message starts "lguest: "
 * so that it stands out from what the guest prints on the same terminal.
 * Exiting through exit() runs the atexit handlers, which is how the host
 * terminal gets restored whatever way we leave (see term.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "types.h"

int lguest_verbose;

/*L:197
 * How lguest ends, as the shell that started it sees it.  Every way out
 * names one of these ends, and this table turns it into a status.  Two
 * tables, because of --exit-port: a harness written for QEMU's
 * isa-debug-exit reads every odd status as the guest's own verdict,
 * (V << 1) | 1, where 1 is PASS and 77 SKIP to kvm-unit-tests.  So with
 * --exit-port nothing but the guest's own write to port 0xf4 may end odd:
 * each of lguest's own ends gets a distinct even status, and a guest that
 * crashed, was killed or never started can never read as a pass.  Without
 * the option the statuses stay the ones users have always had.  lguest(1)
 * and the guide's "Exit status" carry the same table. :*/
static bool statuses_even;

static const int status_plain[] = {
	[END_POWEROFF] = 0, [END_RESET] = 2, [END_PANIC] = 2,
	[END_KILLED] = 1, [END_REFUSED] = 1, [END_CTRL_C] = 130,
};

static const int status_even[] = {
	[END_POWEROFF] = 0, [END_RESET] = 2, [END_PANIC] = 4,
	[END_KILLED] = 6, [END_REFUSED] = 8, [END_CTRL_C] = 130,
};

void exit_statuses_even(void)
{
	statuses_even = true;
}

int end_status(enum lguest_end end)
{
	return statuses_even ? status_even[end] : status_plain[end];
}

/*L:195
 * Every message starts with "lguest: ", because the guest's console
 * shares the terminal and the user must tell our voice from the guest's.
 * On a terminal it ends with "\r\n": the terminal may be in raw mode when
 * we speak (term.c puts it there and restores it only at exit), and there
 * a bare newline leaves the next line starting where this one ended.  A
 * log file gets a plain newline, so that tests can match whole lines. :*/
static void vsay(const char *fmt, va_list ap, const char *tail)
{
	/* One line, even when a disk's I/O thread speaks at once. */
	flockfile(stderr);
	fputs("lguest: ", stderr);
	vfprintf(stderr, fmt, ap);
	if (tail)
		fprintf(stderr, ": %s", tail);
	/* A terminal may be in raw mode (the guest's console), where a bare
	 * \n would not return the carriage; a file or pipe gets plain \n. */
	fputs(isatty(STDERR_FILENO) ? "\r\n" : "\n", stderr);
	funlockfile(stderr);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap, NULL);
	va_end(ap);
	exit(end_status(END_REFUSED));
}

void die_errno(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap, err);
	va_end(ap);
	exit(end_status(END_REFUSED));
}

void verbose(const char *fmt, ...)
{
	va_list ap;

	if (!lguest_verbose)
		return;
	va_start(ap, fmt);
	vsay(fmt, ap, NULL);
	va_end(ap);
}

void notice(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap, NULL);
	va_end(ap);
}
