/*
 * REP string instructions against the run loop's budget: every iteration
 * counts as an instruction (icount), so cpu_run(budget) comes back after
 * at most budget iterations, however large ECX is.  A chunk of 4096
 * iterations that counted as one would let a guest stretch a slice 4096
 * times (src/cpu/exec_string.c).
 *
 * Each case is a tiny flat 32-bit program: MOV ECX, count; the REP
 * instruction; HLT.  It runs with the interpreter (LGUEST_JIT=0) and with
 * the translator, which hands REP forms to the interpreter: in small
 * budgets, checking after each cpu_run() that no budget was overrun and
 * that icount moved exactly with the iterations, then to the end,
 * checking the result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/cpu.h"
#include "../unit/tap.h"

#define RAM_SIZE	(32u << 20)
#define CODE		0x1000u
#define SRC		0x100000u
#define DST		0x800000u
#define COUNT		(4096u * 50)	/* 50 chunks */
#define BUDGET		1000u

struct rep_case {
	const char *name;
	u8 insn[3];
	int len;
	u32 eax;
};

/* EAX for most cases: scas looks for AL (load() fills its buffer with it). */
#define AL_ALL		0x5a5a5a5au

/* The stores of a pattern whose bytes differ, next to those of one whose
 * bytes are all alike: the two take different roads in exec_string.c.
 * rep lodsb stays fifth and rep outsb last (time_case(), stop_case()). */
static const struct rep_case cases[] = {
	{ "rep stosb", { 0xf3, 0xaa }, 2, AL_ALL },
	{ "rep stosd", { 0xf3, 0xab }, 2, AL_ALL },
	{ "rep movsb", { 0xf3, 0xa4 }, 2, AL_ALL },
	{ "rep movsw", { 0xf3, 0x66, 0xa5 }, 3, AL_ALL },
	{ "rep lodsb", { 0xf3, 0xac }, 2, AL_ALL },
	{ "repe cmpsb", { 0xf3, 0xa6 }, 2, AL_ALL },
	{ "repe scasb", { 0xf3, 0xae }, 2, AL_ALL },
	{ "rep stosd of 0x12345678", { 0xf3, 0xab }, 2, 0x12345678u },
	{ "rep stosw of 0xa55a", { 0xf3, 0x66, 0xab }, 3, 0xdeada55au },
	{ "rep stosd of 0", { 0xf3, 0xab }, 2, 0 },
	{ "rep outsb", { 0xf3, 0x6e }, 2, AL_ALL },
};

static u32 outs, stop_after;
static struct cpu *the_cpu;

static u32 io_in(void *o, u16 port, int size)
{
	(void)o;
	(void)port;
	return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

static void io_out(void *o, u16 port, u32 val, int size)
{
	(void)o;
	(void)port;
	(void)val;
	(void)size;
	if (++outs == stop_after)
		cpu_stop(the_cpu);
}

static u32 mmio_read(void *o, u32 gpa, int size)
{
	(void)o;
	(void)gpa;
	(void)size;
	return 0;
}

static void mmio_write(void *o, u32 gpa, u32 val, int size)
{
	(void)o;
	(void)gpa;
	(void)val;
	(void)size;
}

static u8 intr_ack(void *o)
{
	(void)o;
	return 0xff;
}

static const struct cpu_bus bus = {
	.io_in = io_in, .io_out = io_out, .mmio_read = mmio_read,
	.mmio_write = mmio_write, .intr_ack = intr_ack,
};

/* A CPU at CODE running: mov ecx, count; the instruction; hlt. */
static struct cpu *load(u8 *ram, const struct rep_case *k, u32 count)
{
	struct cpu_regs r;
	u8 *p = ram + CODE;
	struct cpu *c;

	memset(ram, 0, RAM_SIZE);
	/* A little past the longest case, for the byte after its end. */
	for (u32 i = 0; i < COUNT * 4 + 16; i++)
		ram[SRC + i] = (u8)(i * 7 + (i >> 12));
	memcpy(ram + DST, ram + SRC, COUNT * 4 + 16);	/* cmps: all equal */
	if (k->insn[1] == 0xae)
		memset(ram + DST, 0x5a, COUNT);		/* scas: all AL */
	*p++ = 0xb9;
	memcpy(p, &count, 4);
	p += 4;
	memcpy(p, k->insn, k->len);
	p[k->len] = 0xf4;
	c = cpu_new(ram, RAM_SIZE, &bus);
	if (!c)
		abort();
	cpu_reset_flat32(c, CODE);
	cpu_get_regs(c, &r);
	r.gpr[R_ESI] = SRC;
	r.gpr[R_EDI] = DST;
	r.gpr[R_EAX] = k->eax;
	r.gpr[R_EDX] = 0x80;
	cpu_set_regs(c, &r);
	the_cpu = c;
	return c;
}

static u32 ecx(struct cpu *c)
{
	struct cpu_regs r;

	cpu_get_regs(c, &r);
	return r.gpr[R_ECX];
}

/* REP STOS stored COUNT copies of EAX's low bytes, in the guest's byte
 * order, and not a byte more. */
static void stos_check(const char *mode, const u8 *ram,
		       const struct rep_case *k)
{
	u8 op = k->insn[k->len - 1];
	u32 size = op == 0xaa ? 1 : k->insn[1] == 0x66 ? 2 : 4;
	u32 bytes = COUNT * size, bad = 0;

	for (u32 i = 0; i < bytes; i++)
		bad += ram[DST + i] != (u8)(k->eax >> 8 * (i % size));
	ok(!bad && ram[DST + bytes] == ram[SRC + bytes],
	   "%s: %s: filled exactly %u bytes (%u wrong)", mode, k->name,
	   bytes, bad);
}

static void run_case(const char *mode, u8 *ram, const struct rep_case *k)
{
	struct cpu *c = load(ram, k, COUNT);
	u64 worst = 0, runs = 0, skew = 0;
	enum cpu_event ev;
	bool done = false;

	/* The MOV first: from then on only the REP runs. */
	cpu_run(c, 1);
	while (!done && runs < 2 * COUNT) {
		u32 before = ecx(c), did;
		u64 i0 = cpu_icount(c);

		ev = cpu_run(c, BUDGET);
		did = before - ecx(c);
		done = ev != CPU_BUDGET || ecx(c) == 0;
		if (cpu_icount(c) - i0 > worst)
			worst = cpu_icount(c) - i0;
		/* The HLT may end the last run, which then counts one more
		 * instruction than iterations. */
		if (!done && cpu_icount(c) - i0 != did)
			skew++;
		if (did > BUDGET)
			skew++;
		runs++;
	}
	ok(worst <= BUDGET && !skew && runs >= COUNT / BUDGET,
	   "%s: %s of %u: each cpu_run(%u) does at most %u iterations and "
	   "counts each (%llu runs, most %llu, %llu bad)", mode, k->name,
	   COUNT, BUDGET, BUDGET, (unsigned long long)runs,
	   (unsigned long long)worst, (unsigned long long)skew);
	cpu_run(c, 10);
	ok(ecx(c) == 0 && cpu_icount(c) == 1 + COUNT + 1,
	   "%s: %s: ECX 0 at the end, icount = MOV + %u iterations + HLT "
	   "(%llu)", mode, k->name, COUNT,
	   (unsigned long long)cpu_icount(c));
	if ((k->insn[k->len - 1] & ~1) == 0xaa)
		stos_check(mode, ram, k);
	if (k->insn[1] == 0xa4)
		ok(!memcmp(ram + DST, ram + SRC, COUNT),
		   "%s: %s: copied %u bytes", mode, k->name, COUNT);
	cpu_free(c);
}

/* A device that stops the CPU part way through a REP OUTS: cpu_run()
 * returns after that iteration, not at the end of a chunk. */
static void stop_case(const char *mode, u8 *ram)
{
	struct cpu *c = load(ram, &cases[ARRAY_SIZE(cases) - 1], COUNT);
	enum cpu_event ev;

	cpu_run(c, 1);
	outs = 0;
	stop_after = 10;
	ev = cpu_run(c, 1000000);
	ok(ev == CPU_STOPPED && outs == 10 && ecx(c) == COUNT - 10,
	   "%s: rep outsb: a device's cpu_stop() ends it after that "
	   "iteration (%u outs)", mode, outs);
	stop_after = 0;
	cpu_free(c);
}

/* Wall time: one cpu_run() of a budget that is a few ms of ordinary
 * instructions, over the slowest REP form, with ECX near 4 G. */
static void time_case(const char *mode, u8 *ram)
{
	struct cpu *c = load(ram, &cases[4], 0xfffffff0u);	/* lodsb */
	struct timespec t0, t1;
	double ms;

	cpu_run(c, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cpu_run(c, 1000000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	ok(0xfffffff0u - ecx(c) <= 1000000 && ms < 1000,
	   "%s: rep lodsb with ECX 0xfffffff0: cpu_run(1000000) returns "
	   "after %u iterations, in %.1f ms", mode, 0xfffffff0u - ecx(c),
	   ms);
	cpu_free(c);
}

int main(void)
{
	u8 *ram = calloc(1, RAM_SIZE);
	static const char *const modes[] = { "interpreter", "translator" };

	if (!ram)
		abort();
	for (int m = 0; m < 2; m++) {
		setenv("LGUEST_JIT", m ? "1" : "0", 1);
		for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++)
			run_case(modes[m], ram, &cases[i]);
		stop_case(modes[m], ram);
		time_case(modes[m], ram);
	}
	free(ram);
	return tap_done();
}
