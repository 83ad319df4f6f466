/*
 * A micro benchmark of the software CPU alone, without a machine: how many
 * guest instructions per second the interpreter retires on plain integer
 * work, for profiling the CPU (perf, callgrind) in seconds rather than a
 * whole kernel boot.  Not part of `make check`; see bench/rules.mk.
 *
 *   make build/bench/cpu_mips && build/bench/cpu_mips [ROUNDS]
 *
 * This one file is built twice.  With -DGUEST (gcc -m32 -ffreestanding) it
 * is the guest: it turns on paging (identity-mapped 4 KiB pages, as a
 * kernel runs), then does ROUNDS of a table CRC-32, a quicksort, byte and
 * REP MOVSD copies and a string scan, and halts with a checksum in EAX.
 * Without GUEST it is the host harness: it loads the guest's flat binary
 * into RAM, runs it on cpu_run() and prints the instruction count, the
 * time and MIPS; and it runs the same work natively, so that a wrong
 * checksum from the guest shows at once.
 */
typedef unsigned int u32g;
typedef unsigned char u8g;

#define N_SORT 4096
#define N_BUF 16384

struct work {
	u32g crc_table[256];
	u32g arr[N_SORT];
	u8g src[N_BUF], dst[N_BUF];
};

static void crc_init(struct work *w)
{
	u32g i, j, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		w->crc_table[i] = c;
	}
}

static u32g crc32(const struct work *w, const u8g *p, u32g n)
{
	u32g c = ~0u;

	while (n--)
		c = w->crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

static void qsort_u32(u32g *a, int lo, int hi)
{
	while (lo < hi) {
		u32g p = a[(lo + hi) / 2], t;
		int i = lo, j = hi;

		while (i <= j) {
			while (a[i] < p)
				i++;
			while (a[j] > p)
				j--;
			if (i <= j) {
				t = a[i];
				a[i++] = a[j];
				a[j--] = t;
			}
		}
		if (j - lo < hi - i) {
			qsort_u32(a, lo, j);
			lo = i;
		} else {
			qsort_u32(a, i, hi);
			hi = j;
		}
	}
}

static u32g run_work(struct work *w, u32g rounds)
{
	u32g sum = 0, seed = 12345, r, i, n;

	crc_init(w);
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < N_BUF; i++) {
			seed = seed * 1103515245u + 12345u;
			w->src[i] = (u8g)(seed >> 16);
		}
		sum += crc32(w, w->src, N_BUF);
		for (i = 0; i < N_SORT; i++) {
			seed = seed * 1103515245u + 12345u;
			w->arr[i] = seed;
		}
		qsort_u32(w->arr, 0, N_SORT - 1);
		for (i = 1; i < N_SORT; i++)
			sum += w->arr[i] >= w->arr[i - 1];
		for (i = 0; i < N_BUF; i++)
			((volatile u8g *)w->dst)[i] = w->src[N_BUF - 1 - i];
		__builtin_memcpy(w->src, w->dst, N_BUF);
		w->src[N_BUF - 1] = 0;
		for (n = 0; w->src[n] && n < N_BUF; n++)
			;
		sum = sum * 31 + n + crc32(w, w->src, 1024);
	}
	return sum;
}

#ifdef GUEST

#define PD_ADDR 0x200000u
#define PT_ADDR 0x201000u
#define WORK_ADDR 0x300000u

void *memcpy(void *d, const void *s, unsigned long n)
{
	void *r = d;

	asm volatile("rep movsl; mov %3, %%ecx; rep movsb"
		     : "+D"(d), "+S"(s), "=c"(n)
		     : "r"((u32g)n & 3), "2"(n >> 2) : "memory");
	return r;
}

void start(void) __attribute__((section(".text.startup"), noreturn));

void start(void)
{
	u32g *pd = (u32g *)PD_ADDR, *pt = (u32g *)PT_ADDR, i, rounds, sum;

	/* 8 MiB identity-mapped with 4 KiB pages, supervisor read/write. */
	for (i = 0; i < 2048; i++)
		pt[i] = (i << 12) | 3;
	for (i = 0; i < 1024; i++)
		pd[i] = i < 2 ? (PT_ADDR + (i << 12)) | 3 : 0;
	asm volatile("mov %0, %%cr3; mov %%cr0, %%eax; or $0x80000000, %%eax;"
		     "mov %%eax, %%cr0" : : "r"(PD_ADDR) : "eax", "memory");
	rounds = *(volatile u32g *)0x1000;
	sum = run_work((struct work *)WORK_ADDR, rounds);
	asm volatile("hlt" : : "a"(sum));
	for (;;)
		;
}

#else

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/cpu.h"

#define RAM_SIZE (16u << 20)
#define LOAD_ADDR 0x100000u

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_time(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const struct cpu_bus bus;
	u32g rounds = argc > 1 ? (u32g)atoi(argv[1]) : 20, want;
	const char *img = argc > 2 ? argv[2] : "build/bench/cpu_mips_guest.bin";
	u8 *ram = calloc(1, RAM_SIZE);
	struct work *w = malloc(sizeof(*w));
	struct cpu_regs r;
	struct cpu *c;
	double t0, c0, t, ct;
	FILE *f;
	size_t n;

	f = fopen(img, "rb");
	if (!ram || !w || !f) {
		perror(img);
		return 1;
	}
	n = fread(ram + LOAD_ADDR, 1, 0x100000, f);
	fclose(f);
	if (!n)
		return 1;
	memcpy(ram + 0x1000, &rounds, 4);
	c = cpu_new(ram, RAM_SIZE, &bus);
	cpu_reset_flat32(c, LOAD_ADDR);
	cpu_get_regs(c, &r);
	r.gpr[R_ESP] = 0x1f0000;
	cpu_set_regs(c, &r);
	t0 = now();
	c0 = cpu_time();
	while (cpu_run(c, 100000) == CPU_BUDGET)
		;
	t = now() - t0;
	ct = cpu_time() - c0;
	cpu_get_regs(c, &r);
	want = run_work(w, rounds);
	printf("%llu instructions, %.3f s (cpu %.3f s), %.1f MIPS; "
	       "checksum %#x, native %#x: %s\n",
	       (unsigned long long)cpu_icount(c), t, ct,
	       cpu_icount(c) / ct / 1e6, r.gpr[R_EAX], want,
	       r.gpr[R_EAX] == want ? "ok" : "WRONG");
	cpu_free(c);
	return r.gpr[R_EAX] != want;
}

#endif
