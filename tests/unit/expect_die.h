/*
 * For the loader tests: a user error must end lguest the way die() does,
 * with status 1 and exactly one line "lguest: ..." on stderr.  The load
 * runs in a child (die() exits), whose stderr we capture and judge.
 */
#ifndef TESTS_EXPECT_DIE_H
#define TESTS_EXPECT_DIE_H

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot.h"
#include "memory.h"
#include "tap.h"

/* Maps mem bytes of guest RAM in the child and hands them to load. */
typedef void (*load_fn)(struct guest_mem *m, const void *arg);

static inline void expect_die_loading(const char *what, load_fn load,
				      const void *arg, u64 mem,
				      const char *needle)
{
	char buf[1024] = "";
	ssize_t n, got = 0;
	int pfd[2], status;
	pid_t pid;
	char *nl;

	if (pipe(pfd))
		abort();
	pid = fork();
	if (pid == 0) {
		struct guest_mem m;

		dup2(pfd[1], 2);
		close(pfd[0]);
		if (guest_mem_init(&m, mem))
			_exit(99);
		load(&m, arg);
		_exit(0);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	buf[got] = '\0';
	close(pfd[0]);
	waitpid(pid, &status, 0);
	nl = strchr(buf, '\n');
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 1 &&
	   strncmp(buf, "lguest: ", 8) == 0 && nl && !nl[1] &&
	   strstr(buf, needle),
	   "%s is refused: %.*s", what, (int)strcspn(buf, "\r\n"), buf);
}

#endif
