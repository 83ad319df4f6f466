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
	exit(1);
}

void die_errno(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap, err);
	va_end(ap);
	exit(1);
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
