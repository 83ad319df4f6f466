/*
 * A tiny lguest for the terminal tests: the PC platform with COM1 on this
 * process's stdin and stdout, and a stand-in CPU whose "guest" talks to
 * the UART through its ports.
 *
 *   term_child echo MS    prints "hello", then echoes every byte it gets
 *   term_child flood MS   writes to the console as fast as THRE allows
 *   term_child SIG MS     echoes like echo, but a '!' from the terminal
 *                         makes it crash: SIG is segv (a store to a page
 *                         it may not write), bus (a read past the end of
 *                         a mapped file), fpe (a division by zero), ill
 *                         (ud2), abrt (abort()), xcpu (a CPU time
 *                         limit, ulimit -t 1, then a busy loop) or asan
 *                         (a use after
 *                         free, which the sanitizer reports and ends
 *                         with status 1)
 *
 * Either ends with status 0 after MS milliseconds of machine time (or
 * earlier by three ^C, a signal, ...), printing "bytes=N" on stderr: the
 * number of bytes the guest got to send.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "hw/pc.h"
#include "machine.h"
#include "memory.h"
#include "stub_cpu.h"

static bool flood;
static const char *crash_kind;	/* NULL: do not crash */
static u64 sent;
static const char *banner = "hello\r\n";

static bool thre(struct cpu *c)
{
	return stub_in(c, 0x3fd, 1) & 0x20;
}

/* Crashes as crash_kind says, the real way: a fault, not raise(). */
static void crash(void)
{
	char path[] = "/tmp/lguest-term-XXXXXX";
	volatile u8 *p;
	int fd;

	if (!strcmp(crash_kind, "segv")) {
		p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
		p[0] = 1;
	} else if (!strcmp(crash_kind, "bus")) {
		fd = mkstemp(path);
		if (fd < 0 || ftruncate(fd, 4096) < 0)
			abort();
		p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		unlink(path);
		if (ftruncate(fd, 0) < 0)
			abort();
		(void)p[0];
	} else if (!strcmp(crash_kind, "fpe")) {
		asm volatile("xor %%ecx, %%ecx; div %%ecx"
			     ::: "eax", "ecx", "edx");
	} else if (!strcmp(crash_kind, "ill")) {
		asm volatile("ud2");
	} else if (!strcmp(crash_kind, "xcpu")) {
		struct rlimit cpu;

		getrlimit(RLIMIT_CPU, &cpu);
		cpu.rlim_cur = 1;
		setrlimit(RLIMIT_CPU, &cpu);
		for (volatile u64 spin = 0; ; spin++)
			;
	} else if (!strcmp(crash_kind, "asan")) {
		/* Through a volatile, so the compiler lets it by. */
		static u8 *volatile freed;

		freed = malloc(8);
		free(freed);
		p = freed;
		(void)p[0];
	} else {
		abort();
	}
	_exit(96);	/* not reached */
}

static enum cpu_event guest(struct cpu *c, u64 budget)
{
	int i;

	(void)budget;
	while (*banner && thre(c)) {
		stub_out(c, 0x3f8, *banner++, 1);
		sent++;
	}
	while (!*banner && (stub_in(c, 0x3fd, 1) & 1) && thre(c)) {
		u32 key = stub_in(c, 0x3f8, 1);

		if (key == '!' && crash_kind)
			crash();
		stub_out(c, 0x3f8, key, 1);
		sent++;
	}
	if (flood) {
		for (i = 0; i < 64 && thre(c); i++) {
			stub_out(c, 0x3f8, 'A' + sent % 26, 1);
			sent++;
		}
		return CPU_BUDGET;
	}
	c->eflags = 0x202;	/* sti; hlt */
	return CPU_HALT;
}

static void time_up(void *opaque)
{
	machine_request_exit(opaque, 0);
}

int main(int argc, char **argv)
{
	struct guest_mem mem;
	struct machine *m;
	struct timer *t;
	int rc;

	if (argc != 3)
		return 99;
	flood = !strcmp(argv[1], "flood");
	if (strcmp(argv[1], "flood") && strcmp(argv[1], "echo"))
		crash_kind = argv[1];
	if (guest_mem_init(&mem, 4 * MiB) < 0)
		return 98;
	m = machine_new(&mem);
	pc_init(m);
	t = timer_new(m, time_up, m);
	timer_mod(t, machine_clock_ns(m) + strtoull(argv[2], NULL, 0) *
		  1000000ULL);
	stub_run = guest;
	rc = machine_run(m);
	fprintf(stderr, "bytes=%llu\n", (unsigned long long)sent);
	machine_free(m);
	guest_mem_free(&mem);
	return rc;
}
