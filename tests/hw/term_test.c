/*
 * The host terminal under a pseudo-terminal, as a user would have it:
 * raw mode while lguest runs, restored on SIGTERM, on a crash (SIGSEGV,
 * SIGBUS, SIGFPE, SIGILL, SIGABRT) and on the three-^C exit,
 * a single ^C passed to the guest; and with stdin from /dev/null or a
 * pipe, or stdout into a pipe nobody reads, the guest runs on.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "types.h"
#include "tap.h"

static const char *child_path;

/* Reads from fd into buf until want appears or ms pass. */
static bool expect(int fd, char *buf, size_t size, const char *want, int ms)
{
	size_t len = strlen(buf);
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (!strstr(buf, want) && ms > 0) {
		ssize_t n;

		if (poll(&p, 1, 50) <= 0) {
			ms -= 50;
			continue;
		}
		n = read(fd, buf + len, size - 1 - len);
		if (n <= 0)
			break;
		len += n;
		buf[len] = 0;
	}
	return strstr(buf, want) != NULL;
}

static bool slave_cooked(int master)
{
	struct termios t;
	int fd = open(ptsname(master), O_RDWR | O_NOCTTY);
	bool cooked;

	if (fd < 0)
		return false;
	tcgetattr(fd, &t);
	cooked = (t.c_lflag & ICANON) && (t.c_lflag & ECHO);
	close(fd);
	return cooked;
}

static pid_t spawn_pty(int *master, const char *mode, const char *ms)
{
	pid_t pid = forkpty(master, NULL, NULL, NULL);

	if (pid == 0) {
		/* The crash tests must not leave cores behind. */
		struct rlimit no_core = { 0, 0 };

		setrlimit(RLIMIT_CORE, &no_core);
		execl(child_path, child_path, mode, ms, (char *)NULL);
		_exit(97);
	}
	return pid;
}

static int wait_status(pid_t pid, int ms)
{
	int st;

	while (ms > 0) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return st;
		usleep(10000);
		ms -= 10;
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static void test_pty_sigterm(void)
{
	char buf[4096] = "";
	int master, st;
	pid_t pid = spawn_pty(&master, "echo", "20000");

	CHECK(expect(master, buf, sizeof(buf), "hello", 5000),
	      "term: guest output reaches the terminal");
	CHECK(!slave_cooked(master), "term: raw mode while running");
	write(master, "abc\r", 4);
	CHECK(expect(master, buf, sizeof(buf), "abc\r", 3000),
	      "term: keys reach the guest unchanged (echoed back)");
	write(master, "\003", 1);
	CHECK(expect(master, buf, sizeof(buf), "\003", 3000),
	      "term: a single ^C goes to the guest");
	CHECK(waitpid(pid, &st, WNOHANG) == 0, "term: and lguest runs on");
	kill(pid, SIGTERM);
	st = wait_status(pid, 5000);
	CHECK(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM,
	      "term: SIGTERM ends lguest");
	CHECK(slave_cooked(master), "term: terminal restored after SIGTERM");
	close(master);
}

/* lguest crashes while the terminal is raw: the terminal comes back, and
 * lguest still dies of the signal that crashed it. */
static void test_pty_crash(const char *kind, int sig)
{
	char buf[4096] = "";
	int master, st;
	pid_t pid = spawn_pty(&master, kind, "20000");

	expect(master, buf, sizeof(buf), "hello", 5000);
	CHECK(!slave_cooked(master), "term: %s: raw mode while running",
	      kind);
	write(master, "!", 1);
	st = wait_status(pid, 5000);
	CHECK(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == sig,
	      "term: %s: lguest dies of %s (status %#x)", kind,
	      strsignal(sig), st);
	CHECK(slave_cooked(master), "term: %s: terminal restored", kind);
	close(master);
}

/* The sanitizer's report ends the process its own way (status 1, no
 * atexit): the terminal comes back all the same.  (term_child is built
 * with ASan.) */
static void test_pty_asan(void)
{
	char buf[8192] = "";
	int master, st;
	pid_t pid = spawn_pty(&master, "asan", "20000");

	expect(master, buf, sizeof(buf), "hello", 5000);
	write(master, "!", 1);
	expect(master, buf, sizeof(buf), "heap-use-after-free", 5000);
	st = wait_status(pid, 5000);
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
	      strstr(buf, "heap-use-after-free"),
	      "term: asan: the sanitizer's report ends lguest (status %#x)",
	      st);
	CHECK(slave_cooked(master), "term: asan: terminal restored");
	close(master);
}

static void test_pty_ctrl_c(void)
{
	char buf[4096] = "";
	int master, st;
	pid_t pid = spawn_pty(&master, "echo", "20000");

	expect(master, buf, sizeof(buf), "hello", 5000);
	write(master, "\003\003\003", 3);
	st = wait_status(pid, 5000);
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 130,
	      "term: three ^C end lguest with status 130 (%#x)", st);
	CHECK(slave_cooked(master), "term: terminal restored after ^C^C^C");
	close(master);
}

static void test_pty_exit(void)
{
	char buf[4096] = "";
	int master, st;
	pid_t pid = spawn_pty(&master, "echo", "300");

	st = wait_status(pid, 5000);
	expect(master, buf, sizeof(buf), "hello", 1000);
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "term: normal exit status 0");
	CHECK(slave_cooked(master), "term: terminal restored after exit");
	close(master);
}

/* Runs the child with the given stdin/stdout fds; returns its status. */
static int run_plain(int in, int out, int err, const char *mode,
		     const char *ms, int timeout_ms)
{
	pid_t pid = fork();

	if (pid == 0) {
		dup2(in, 0);
		dup2(out, 1);
		dup2(err, 2);
		execl(child_path, child_path, mode, ms, (char *)NULL);
		_exit(97);
	}
	return wait_status(pid, timeout_ms);
}

static void test_plain(void)
{
	int nul = open("/dev/null", O_RDWR);
	int out[2], in[2], err[2], st;
	char buf[8192] = "";
	struct timespec t0, t1;
	double secs;

	pipe(out);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	st = run_plain(nul, out[1], nul, "echo", "500", 5000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(out[1]);
	expect(out[0], buf, sizeof(buf), "hello", 1000);
	secs = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK(st == 0 && secs >= 0.45,
	      "term: stdin /dev/null: the guest runs on after EOF (%.2f s)",
	      secs);
	CHECK(strstr(buf, "hello") != NULL, "term: output into a pipe");
	close(out[0]);

	pipe(in);
	pipe(out);
	write(in[1], "xyz", 3);
	close(in[1]);
	buf[0] = 0;
	st = run_plain(in[0], out[1], nul, "echo", "500", 5000);
	close(in[0]);
	close(out[1]);
	expect(out[0], buf, sizeof(buf), "xyz", 1000);
	CHECK(st == 0 && strstr(buf, "hello\r\nxyz"),
	      "term: stdin from a pipe reaches the guest, EOF is harmless");
	close(out[0]);

	/* A reader that never reads: the guest must not hang the host. */
	pipe(out);
	pipe(err);
	st = run_plain(nul, out[1], err[1], "flood", "500", 8000);
	close(err[1]);
	buf[0] = 0;
	expect(err[0], buf, sizeof(buf), "\n", 1000);
	CHECK(st == 0, "term: stdout into a full pipe does not block lguest");
	CHECK(strstr(buf, "bytes=") && strtoull(strstr(buf, "bytes=") + 6,
						 NULL, 10) >= 65536,
	      "term: the guest sent until the queue filled (%s)",
	      strtok(buf, "\n"));
	close(out[0]);
	close(out[1]);
	close(err[0]);
	close(nul);
}

int main(int argc, char **argv)
{
	(void)argc;
	child_path = "build/tests/hw/term_child";
	if (argv[1])
		child_path = argv[1];
	signal(SIGPIPE, SIG_IGN);
	test_pty_sigterm();
	test_pty_crash("segv", SIGSEGV);
	test_pty_crash("bus", SIGBUS);
	test_pty_crash("fpe", SIGFPE);
	test_pty_crash("ill", SIGILL);
	test_pty_crash("abrt", SIGABRT);
	test_pty_crash("xcpu", SIGXCPU);
	test_pty_asan();
	test_pty_ctrl_c();
	test_pty_exit();
	test_plain();
	return tap_failed ? 1 : 0;
}
