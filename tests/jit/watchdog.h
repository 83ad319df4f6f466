/*
 * A program that runs for ever is the translator's failure (a loop whose
 * blocks never charge the budget, a jump to itself that never looks at
 * it), not something to wait out: jitdiff and jitdiff64 give each
 * program WATCHDOG_S seconds, which is minutes more than any takes, and
 * then say which one hung and stop with a failure.
 */
#ifndef JIT_WATCHDOG_H
#define JIT_WATCHDOG_H

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#define WATCHDOG_S 300

static char watchdog_msg[160];
static size_t watchdog_len;

static void watchdog_fire(int sig)
{
	(void)sig;
	if (write(STDOUT_FILENO, watchdog_msg, watchdog_len) < 0)
		_exit(2);
	_exit(1);
}

/* From now, program idx of the test what has WATCHDOG_S seconds. */
static void watchdog_arm(const char *what, unsigned idx)
{
	int n = snprintf(watchdog_msg, sizeof(watchdog_msg),
			 "not ok - %s: program %u still runs after %d s "
			 "(a hang)\n", what, idx, WATCHDOG_S);

	watchdog_len = n > 0 && (size_t)n < sizeof(watchdog_msg) ?
		       (size_t)n : 0;
	signal(SIGALRM, watchdog_fire);
	alarm(WATCHDOG_S);
}

#endif
