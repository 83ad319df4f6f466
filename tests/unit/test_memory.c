/*
 * Unit tests for guest RAM (src/memory.c): the mapping starts zeroed and
 * fenced by guard pages, and no address or length, however chosen, gets a
 * helper to touch a byte outside it.
 */
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memory.h"
#include "tap.h"

static const struct {
	u64 gpa, len;
	bool ok;
} ranges[] = {
	{ 0, 0, true },
	{ 0, 64 * MiB, true },
	{ 64 * MiB, 0, true },
	{ 64 * MiB - 1, 1, true },
	{ 64 * MiB - 1, 2, false },
	{ 64 * MiB, 1, false },
	{ 64 * MiB + 1, 0, false },
	{ 0, 64 * MiB + 1, false },
	{ 1, 64 * MiB, false },
	{ UINT64_MAX, 2, false },		/* gpa + len wraps to 1 */
	{ 2, UINT64_MAX, false },		/* so does this */
	{ UINT64_MAX - 0xfff, 0x2000, false },
	{ 0xfffff000, 0x2000, false },		/* wraps in 32 bits */
	{ UINT64_MAX, 0, false },
};

static void on_segv(int sig)
{
	(void)sig;
	_exit(42);
}

/* Run fn in a child; true if it took a SIGSEGV (our handler, not ASan's
 * slower report, turns that into exit status 42). */
static bool child_faults(void (*fn)(const struct guest_mem *),
			 const struct guest_mem *m)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		struct sigaction sa = { .sa_handler = on_segv };

		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGBUS, &sa, NULL);
		fn(m);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 42;
}

static void touch_below(const struct guest_mem *m)
{
	*(volatile u8 *)(m->base - 1) = 1;
}

static void touch_above(const struct guest_mem *m)
{
	*(volatile u8 *)(m->base + m->size) = 1;
}

static void touch_inside(const struct guest_mem *m)
{
	*(volatile u8 *)(m->base + m->size - 1) = 1;
}

static void test_ranges(const struct guest_mem *m)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ranges); i++) {
		u64 gpa = ranges[i].gpa, len = ranges[i].len;
		void *p = guest_ptr(m, gpa, len);

		ok(guest_range_ok(m, gpa, len) == ranges[i].ok &&
		   (p != NULL) == ranges[i].ok &&
		   (!p || p == m->base + gpa),
		   "range 0x%llx+0x%llx is %s", (unsigned long long)gpa,
		   (unsigned long long)len, ranges[i].ok ? "inside" : "refused");
	}
}

static void test_copies(const struct guest_mem *m)
{
	u8 buf[16], back[16];
	u32 v = 0;

	memset(buf, 0xab, sizeof(buf));
	memset(back, 0x5a, sizeof(back));
	ok(guest_write(m, m->size - 16, buf, 16) == 0 &&
	   guest_read(m, m->size - 16, back, 16) == 0 &&
	   memcmp(buf, back, 16) == 0, "write and read back the last bytes");
	memset(back, 0x5a, sizeof(back));
	ok(guest_read(m, m->size - 15, back, 16) == -1 && back[0] == 0x5a,
	   "a read that crosses the end copies nothing");
	ok(guest_write(m, m->size - 15, buf, 16) == -1 &&
	   m->base[m->size - 16] == 0xab, "so does a write");
	ok(guest_write(m, UINT64_MAX - 3, buf, 8) == -1,
	   "a write whose end wraps is refused");
	ok(guest_write32(m, 0x1001, 0x11223344) == 0 &&
	   m->base[0x1001] == 0x44 && m->base[0x1004] == 0x11 &&
	   guest_read32(m, 0x1001, &v) == 0 && v == 0x11223344,
	   "32-bit stores are little-endian, unaligned is fine");
	v = 7;
	ok(guest_read32(m, m->size - 3, &v) == -1 && v == 7 &&
	   guest_write32(m, m->size - 3, 1) == -1 &&
	   guest_read32(m, m->size - 4, &v) == 0,
	   "32-bit access at the very end: last whole word only");
}

/* What mem_written() passed on, last call and count. */
static u64 seen_gpa, seen_len;
static unsigned seen_calls;

static void seen(void *opaque, u64 gpa, u64 len)
{
	(void)opaque;
	seen_gpa = gpa;
	seen_len = len;
	seen_calls++;
}

/* Writers that bypass the CPU report through mem_written(): the listener
 * (the CPU, in a machine) hears every write inside RAM, and nothing of a
 * range outside it. */
static void test_written(struct guest_mem *m)
{
	u8 buf[16] = { 0 };

	m->written = seen;
	mem_written(m, 0x2000, 0x100);
	ok(seen_calls == 1 && seen_gpa == 0x2000 && seen_len == 0x100,
	   "mem_written passes a range in RAM on");
	mem_written(m, m->size - 8, 64);
	ok(seen_calls == 2 && seen_gpa == m->size - 8 && seen_len == 8,
	   "mem_written cuts a range at the end of RAM");
	mem_written(m, m->size, 8);
	mem_written(m, UINT64_MAX - 3, 8);
	mem_written(m, 0x3000, 0);
	ok(seen_calls == 2, "mem_written passes nothing outside RAM on");
	ok(guest_write(m, 0x1234, buf, 16) == 0 && seen_calls == 3 &&
	   seen_gpa == 0x1234 && seen_len == 16,
	   "guest_write reports what it wrote");
	ok(guest_write(m, m->size - 8, buf, 16) == -1 && seen_calls == 3,
	   "a refused guest_write reports nothing");
	m->written = NULL;
}

static bool all_zero(const u8 *p, u64 len)
{
	u64 i;

	for (i = 0; i < len; i += 4093)
		if (p[i])
			return false;
	return p[len - 1] == 0;
}

/* The flags the kernel keeps for the mapping that holds p ("hg": huge
 * pages asked for), from /proc/self/smaps; "" if not found. */
static const char *vm_flags(const void *p)
{
	static char flags[256];
	char line[256];
	unsigned long lo, hi, at = (unsigned long)p;
	bool in = false;
	FILE *f = fopen("/proc/self/smaps", "r");

	flags[0] = 0;
	if (!f)
		return flags;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' '))
			in = lo <= at && at < hi;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(flags, sizeof(flags), "%s", line + 8);
			flags[strcspn(flags, "\n")] = 0;
			break;
		}
	}
	fclose(f);
	return flags;
}

int main(void)
{
	struct guest_mem m, big;

	ok(guest_mem_init(&m, 64 * MiB) == 0 && m.base && m.size == 64 * MiB,
	   "map 64 MiB of guest RAM");
	ok(all_zero(m.base, m.size), "guest RAM starts zeroed");
	ok(((uintptr_t)m.base & (2 * MiB - 1)) == 0,
	   "guest RAM starts on a 2 MiB boundary");
	ok(strstr(vm_flags(m.base), " hg") != NULL,
	   "guest RAM asks the host for huge pages (VmFlags:%s)",
	   vm_flags(m.base));
	test_ranges(&m);
	test_copies(&m);
	test_written(&m);
	ok(!child_faults(touch_inside, &m), "the last byte of RAM is usable");
	ok(child_faults(touch_below, &m), "the byte below RAM is a guard page");
	ok(child_faults(touch_above, &m), "the byte above RAM is a guard page");
	guest_mem_free(&m);
	ok(m.base == NULL && m.size == 0, "guest_mem_free forgets the mapping");

	ok(guest_mem_init(&big, GUEST_MEM_MAX) == 0 &&
	   big.size == GUEST_MEM_MAX && big.base[GUEST_MEM_MAX - 1] == 0,
	   "the largest guest (%llu MiB) maps without committing memory",
	   GUEST_MEM_MAX / MiB);
	guest_mem_free(&big);
	ok(guest_mem_init(&big, 0) == -1 && !big.base,
	   "a zero-sized guest is refused");
	ok(guest_mem_init(&big, GUEST_MEM_MAX + 4096) == -1 && !big.base,
	   "a guest above GUEST_MEM_MAX is refused");
	return tap_done();
}
