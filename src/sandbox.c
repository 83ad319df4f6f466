/*
 * The sandbox: chroot, a user without privileges, and a system call
 * filter, entered once the machine is built (sandbox.h says when).
 *
 * The filter is a list of what lguest does after its devices are open,
 * found by running the whole test suite under strace -f and under the
 * filter in its logging mode (LGUEST_SANDBOX=log), and nothing more.  Any
 * other system call kills the whole process (SCMP_ACT_KILL_PROCESS, so a
 * thread cannot be killed alone and leave the rest running with a lock
 * held).  Where the arguments are cheap to check they are: mmap and
 * mprotect never with PROT_EXEC (the translator's two views of its code
 * are made before, src/cpu/jit.c), ioctl only with the requests we make,
 * fcntl only with the commands we use, signals only to ourselves.  The
 * filter covers every thread (TSYNC): the disk's I/O threads were started
 * while its device was opened, before the filter exists.
 *
 * Guide (Documentation/guide.md, "The sandbox") lists the calls and why
 * each is there.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <pthread.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "sandbox.h"

/* The sanitizer build: ASan and UBSan report through system calls of
 * their own (see asan_calls below). */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

static struct {
	uid_t uid;
	gid_t gid;
} who;

void sandbox_check(const struct options *o)
{
	struct passwd *pw;
	struct stat st;

	if ((o->user || o->chroot_dir) && geteuid() != 0)
		die("--%s needs lguest to be started as root",
		    o->user ? "user" : "chroot");
	if (o->user) {
		errno = 0;
		pw = getpwnam(o->user);
		if (!pw && errno)
			die_errno("--user=%s: cannot look the user up",
				  o->user);
		if (!pw)
			die("--user=%s: no such user", o->user);
		who.uid = pw->pw_uid;
		who.gid = pw->pw_gid;
	}
	if (o->chroot_dir) {
		if (stat(o->chroot_dir, &st) < 0)
			die_errno("--chroot=%s", o->chroot_dir);
		if (!S_ISDIR(st.st_mode))
			die("--chroot=%s: not a directory", o->chroot_dir);
	}
}

/*L:210
 * With --chroot and --user, as the original launcher grew them, root's
 * part ends here: it was needed to open a TAP device or a disk the user
 * cannot, and everything is open now.  The process moves into DIR (whose
 * contents lguest never needs: every file it uses is already open) and
 * becomes NAME, with NAME's group and no supplementary groups.  Then we
 * check that root cannot be had back; a process that could would defeat
 * the point, so it ends instead.
 */
static void drop_privileges(const struct options *o)
{
	if (o->chroot_dir && (chroot(o->chroot_dir) < 0 || chdir("/") < 0))
		die_errno("--chroot=%s", o->chroot_dir);
	if (!o->user)
		return;
	if (setgroups(0, NULL) < 0 || setgid(who.gid) < 0 ||
	    setuid(who.uid) < 0)
		die_errno("--user=%s: cannot become %u:%u", o->user,
			  (unsigned)who.uid, (unsigned)who.gid);
	if (getuid() != who.uid || geteuid() != who.uid ||
	    getgid() != who.gid || getegid() != who.gid ||
	    getgroups(0, NULL) != 0)
		die("--user=%s: the change of user did not take", o->user);
	if (who.uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		die("--user=%s: root could be regained", o->user);
	verbose("running as uid %u gid %u%s%s", (unsigned)who.uid,
		(unsigned)who.gid, o->chroot_dir ? " in " : "",
		o->chroot_dir ? o->chroot_dir : "");
}
/* --chroot alone, still root, confines little (root can leave a chroot);
 * with the filter on it cannot make the calls that would. :*/

/*
 * The calls every run makes, whatever its devices.  The run loop: epoll
 * and its clock (clock_gettime is mostly the vDSO's, but not always); the
 * terminal and the eventfds: read and write; the disk's I/O thread:
 * p{read,write}v and fdatasync, fallocate for discard and write-zeroes,
 * getrusage for whether a write the run loop made slept (blk.c, V:225);
 * every thread: futex (mutexes, condition variables, sharenet's wake-ups);
 * the allocator: brk, munmap, mremap, madvise; virtio-rng: getrandom; the
 * ways out: exit, exit_group, and rt_sig* for the signal handlers that
 * give the terminal back (a signal re-raised goes through tgkill, below).
 * newfstatat and fstat: stdio asks what stderr is when it first prints.
 * rseq and set_robust_list: a thread's first calls.  The disk's and
 * sharenet's threads are made before the filter, but pthread_create()
 * returns before the new thread has run, so under load it meets the
 * filter (TSYNC hands it over at once) on its way in.
 */
static const int base_calls[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(preadv),
	SCMP_SYS(pwritev), SCMP_SYS(preadv2), SCMP_SYS(pwritev2),
	SCMP_SYS(fdatasync), SCMP_SYS(fsync), SCMP_SYS(fallocate),
	SCMP_SYS(getrusage), SCMP_SYS(lseek), SCMP_SYS(close),
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_pwait2),
	SCMP_SYS(epoll_ctl), SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(futex), SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday), SCMP_SYS(getrandom),
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(restart_syscall),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(sched_yield),
	SCMP_SYS(newfstatat), SCMP_SYS(fstat),
	SCMP_SYS(rseq), SCMP_SYS(set_robust_list),
	SCMP_SYS(exit), SCMP_SYS(exit_group),
};

/*
 * --net=user: libslirp makes a host socket for each connection the guest
 * opens and each port it forwards, and reads /etc/resolv.conf when the
 * guest first asks its DNS proxy (10.0.2.3) and after that file changes.
 * So sockets stay allowed (IPv4 and IPv6 only), and so does opening a
 * file to read; with --chroot that is a file in DIR.
 */
static const int slirp_calls[] = {
	SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(listen),
	SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(setsockopt),
	SCMP_SYS(getsockopt), SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(sendmsg),
	SCMP_SYS(recvmsg), SCMP_SYS(shutdown),
};

/* The terminal (tcgetattr, tcsetattr, isatty), a disk on a block device
 * (discard, write-zeroes), non-blocking sockets, and a TAP device's
 * receive offloads (set when the guest's driver starts, N:127). */
static const unsigned long ioctls[] = {
	TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ, FIONBIO, FIONREAD,
	BLKZEROOUT, BLKDISCARD, TUNSETOFFLOAD,
};

/* Non-blocking fds, close-on-exec, sharenet's open-file locks. */
static const int fcntls[] = {
	F_GETFL, F_SETFL, F_GETFD, F_SETFD, F_OFD_SETLK, F_OFD_SETLKW,
	F_OFD_GETLK,
};

#ifdef SANITIZED
/*
 * The sanitizer build (lguest-asan) only, never ./lguest.  LeakSanitizer's
 * check at exit stops the threads from a helper task of its own: clone,
 * prctl, getppid, sigaltstack, reading /proc/self/task (open, getdents),
 * ptrace and wait4 (found with LGUEST_SANDBOX=log on the ASan tests).  A
 * new thread asks for its stack (pthread_getattr_np: sched_getaffinity).
 * A report reads /proc/self/maps and the executable's name (openat,
 * readlink) and tries to start a symbolizer (pipe2, then clone; the
 * child's execve is killed, and the report goes on without symbols).
 */
static const int asan_calls[] = {
	SCMP_SYS(clone), SCMP_SYS(prctl), SCMP_SYS(getppid),
	SCMP_SYS(sigaltstack), SCMP_SYS(open), SCMP_SYS(openat),
	SCMP_SYS(getdents), SCMP_SYS(getdents64), SCMP_SYS(ptrace),
	SCMP_SYS(wait4), SCMP_SYS(readlink), SCMP_SYS(readlinkat),
	SCMP_SYS(sched_getaffinity), SCMP_SYS(pipe2),
};
#endif

static void add(scmp_filter_ctx f, int nr, unsigned n,
		const struct scmp_arg_cmp *cmp)
{
	int r = seccomp_rule_add_array(f, SCMP_ACT_ALLOW, nr, n, cmp);

	/* -EOPNOTSUPP or similar for a call this host has not: skip it. */
	if (r < 0 && r != -EDOM)
		verbose("sandbox: rule for system call %d: %s", nr,
			strerror(-r));
}

static void add_all(scmp_filter_ctx f, const int *nr, size_t n)
{
	for (size_t i = 0; i < n; i++)
		add(f, nr[i], 0, NULL);
}

static void add_arg_rules(scmp_filter_ctx f)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ioctls); i++)
		add(f, SCMP_SYS(ioctl), 1, &SCMP_A1(SCMP_CMP_MASKED_EQ,
						    0xffffffffu, ioctls[i]));
	for (i = 0; i < ARRAY_SIZE(fcntls); i++)
		add(f, SCMP_SYS(fcntl), 1, &SCMP_A1(SCMP_CMP_EQ,
						    (unsigned)fcntls[i], 0));
	/* Memory, never executable: W^X holds from here on. */
	add(f, SCMP_SYS(mmap), 1, &SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	add(f, SCMP_SYS(mprotect), 1,
	    &SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/* A fatal signal re-raised after the terminal is given back,
	 * abort(): to ourselves only. */
	add(f, SCMP_SYS(tgkill), 1,
	    &SCMP_A0(SCMP_CMP_EQ, (unsigned)getpid(), 0));
}

static void add_slirp_rules(scmp_filter_ctx f)
{
	add_all(f, slirp_calls, ARRAY_SIZE(slirp_calls));
	add(f, SCMP_SYS(socket), 1, &SCMP_A0(SCMP_CMP_EQ, AF_INET, 0));
	add(f, SCMP_SYS(socket), 1, &SCMP_A0(SCMP_CMP_EQ, AF_INET6, 0));
	add(f, SCMP_SYS(openat), 1,
	    &SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC |
		     O_APPEND, O_RDONLY));
}

static bool wants(const struct options *o, enum dev_kind kind)
{
	for (int i = 0; i < o->ndev; i++)
		if (o->dev[i].kind == kind)
			return true;
	return false;
}

/*
 * For the tests: LGUEST_SANDBOX_PROBE=execve makes the main thread, and
 * =thread a thread started before the filter, try execve() once the
 * filter is on.  The filter must kill the process with SIGSYS; without
 * it (--no-sandbox) the probe runs echo, which prints its name.
 */
static void probe_exec(void)
{
	char *argv[] = { "/bin/echo", "lguest-sandbox-probe-ran", NULL };
	char *envp[] = { NULL };

	execve(argv[0], argv, envp);
}

static int probe_go[2] = { -1, -1 }, probe_ready[2] = { -1, -1 };

static void *probe_thread(void *arg)
{
	char c = 'r';

	(void)arg;
	if (write(probe_ready[1], &c, 1) == 1 &&
	    read(probe_go[0], &c, 1) == 1)
		probe_exec();
	return NULL;
}

/* The thread is running, and waiting, before the filter goes on: it must
 * be the execve that the filter kills, not the thread's start. */
static void probe_start(const char *probe)
{
	pthread_t t;
	char c;

	if (strcmp(probe, "thread") != 0)
		return;
	if (pipe(probe_go) < 0 || pipe(probe_ready) < 0 ||
	    pthread_create(&t, NULL, probe_thread, NULL) != 0 ||
	    read(probe_ready[0], &c, 1) != 1)
		die_errno("LGUEST_SANDBOX_PROBE");
	pthread_detach(t);
}

static void probe_run(const char *probe)
{
	if (!strcmp(probe, "execve"))
		probe_exec();
	else if (!strcmp(probe, "thread") && write(probe_go[1], "x", 1))
		for (;;)
			sleep(1);	/* the thread's execve ends us */
}

static void load_filter(const struct options *o)
{
	const char *mode = getenv("LGUEST_SANDBOX");
	bool log = mode && !strcmp(mode, "log");
	scmp_filter_ctx f;
	int r;

	f = seccomp_init(log ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS);
	if (!f)
		die("sandbox: cannot make a seccomp filter");
	if (seccomp_attr_set(f, SCMP_FLTATR_CTL_TSYNC, 1) < 0)
		die("sandbox: seccomp cannot cover every thread here "
		    "(--no-sandbox runs without the filter)");
	add_all(f, base_calls, ARRAY_SIZE(base_calls));
	add_arg_rules(f);
	if (wants(o, DEV_NET_USER))
		add_slirp_rules(f);
#ifdef SANITIZED
	add_all(f, asan_calls, ARRAY_SIZE(asan_calls));
#endif
	r = seccomp_load(f);
	seccomp_release(f);
	if (r < 0)
		die("sandbox: cannot load the seccomp filter: %s "
		    "(--no-sandbox runs without it)", strerror(-r));
	verbose("sandbox: system call filter on%s",
		log ? " (logging only: LGUEST_SANDBOX=log)" : "");
}

void sandbox_enter(const struct options *o)
{
	const char *probe = getenv("LGUEST_SANDBOX_PROBE");

	drop_privileges(o);
	if (probe)
		probe_start(probe);
	if (!o->no_sandbox)
		load_filter(o);
	if (probe)
		probe_run(probe);
}
