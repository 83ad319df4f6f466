/*
 * A few lines of TAP for the C tests (unit, virtio, net): ok(cond, fmt...)
 * prints "ok - ..." or "not ok - ...", and tap_done() makes the exit status
 * say whether anything failed.  tests/run-all.sh counts the lines.
 */
#ifndef TESTS_TAP_H
#define TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_failed;

static inline __attribute__((format(printf, 2, 3)))
int ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", cond ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failed = 1;
	return cond;
}

static inline int tap_done(void)
{
	return tap_failed;
}

#endif
