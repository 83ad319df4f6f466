/*
 * Tests of the virtual clock (src/vclock.c) and of the run loop that
 * drives it (src/machine.c).
 *
 * The first half drives the clock's arithmetic with a simulated host: any
 * speed, stalls and preemptions, in no time at all.  The second half runs
 * the machine's real run loop on the stand-in CPU (stub_cpu.c) against the
 * host's real clock: timers firing at their virtual instant, the PIT's tick
 * on time, an idle guest following the host, a busy one staying with it,
 * Linux's PIT calibration loop surviving a host stall, and a halted
 * guest's periodic tick taken two at a time.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hw/pic.h"
#include "hw/pit.h"
#include "machine.h"
#include "memory.h"
#include "stub_cpu.h"
#include "tap.h"
#include "vclock.h"

#define MS 1000000ULL

/*
 * A simulated host: runs the guest in slices, an instruction costing
 * host_ns_per_insn of host time, and calls vclock_sync() at each boundary.
 */
struct sim {
	struct vclock vc;
	u64 icount, host;
	double host_ns_per_insn;
	double host_frac;
	bool backwards;		/* the clock ever went back */
	bool step_bad;		/* a step bigger than the clamp allows */
	double min_rate, max_rate;	/* ns per instruction seen */
};

static void sim_init(struct sim *s, u64 guess, double host_rate)
{
	memset(s, 0, sizeof(*s));
	vclock_init(&s->vc, 0, 0, guess);
	s->host_ns_per_insn = host_rate;
	s->min_rate = 1e30;
}

static void sim_note_rate(struct sim *s)
{
	double r = vclock_ns_per_insn(&s->vc);

	if (r < s->min_rate)
		s->min_rate = r;
	if (r > s->max_rate)
		s->max_rate = r;
}

/* One slice of n instructions, then a sync, checking the clock on the
 * way: it never goes back, and a sync without a jump does not move it. */
static void sim_slice(struct sim *s, u64 n)
{
	u64 before = vclock_now(&s->vc, s->icount), after, jumps;
	double h;

	s->icount += n;
	h = n * s->host_ns_per_insn + s->host_frac;
	s->host += (u64)h;
	s->host_frac = h - (u64)h;
	after = vclock_now(&s->vc, s->icount);
	if (after < before)
		s->backwards = true;
	jumps = s->vc.jumps;
	vclock_sync(&s->vc, s->icount, s->host);
	if (vclock_now(&s->vc, s->icount) != after &&
	    s->vc.jumps == jumps)
		s->backwards = true;
	if (vclock_now(&s->vc, s->icount) < after)
		s->backwards = true;
	sim_note_rate(s);
}

/* Runs for host time ns in slices of about slice_ns of host time. */
static void sim_run(struct sim *s, u64 ns, u64 slice_ns)
{
	u64 end = s->host + ns;

	while (s->host < end) {
		u64 n = (u64)(slice_ns / s->host_ns_per_insn);

		sim_slice(s, n ? n : 1);
	}
}

static s64 sim_error(struct sim *s)
{
	return (s64)(s->host - vclock_now(&s->vc, s->icount));
}

static double fabs_(double x)
{
	return x < 0 ? -x : x;
}

static void test_smooth(void)
{
	struct vclock vc;
	u64 i, t0;
	bool exact = true;

	vclock_init(&vc, 1000, 5 * MS, 37);
	t0 = vclock_now(&vc, 1000);
	CHECK_EQ(t0, 5 * MS, "vclock: starts at the time it is given");
	for (i = 0; i < 100000; i++)
		if (vclock_now(&vc, 1000 + i) != t0 + 37 * i)
			exact = false;
	CHECK(exact, "vclock: time advances exactly with the instructions "
	      "(37 ns each)");

	/* A fractional rate: still the exact sum, across many rebases. */
	vclock_sync(&vc, 1000, 5 * MS + 3 * MS);	/* 3 ms behind */
	{
		double r = vclock_ns_per_insn(&vc);
		u64 a = vclock_now(&vc, 1000), b = vclock_now(&vc, 1001000);
		double want = 1000000 * r;

		CHECK(r > 37 && r < 37 * 1.05,
		      "vclock: 3 ms behind: runs a little fast (%.3f ns)", r);
		CHECK(fabs_((double)(b - a) - want) <= 1,
		      "vclock: a million instructions take rate x 1e6 (%llu vs "
		      "%.1f)", (unsigned long long)(b - a), want);
	}
}

static void test_insns_until(void)
{
	struct sim s;
	int i, bad = 0;

	sim_init(&s, 20, 33.3);
	srand(1);
	for (i = 0; i < 20000; i++) {
		u64 now, dl, k;

		sim_slice(&s, 1 + rand() % 50000);
		now = vclock_now(&s.vc, s.icount);
		dl = now + 1 + rand() % (2 * MS);
		k = vclock_insns_until(&s.vc, s.icount, dl);
		if (vclock_now(&s.vc, s.icount + k) < dl ||
		    (k && vclock_now(&s.vc, s.icount + k - 1) >= dl))
			bad++;
	}
	CHECK_EQ(bad, 0, "vclock: a budget ends on the instruction that "
		 "reaches the deadline (20000 random cases)");
	CHECK_EQ(vclock_insns_until(&s.vc, s.icount,
				    vclock_now(&s.vc, s.icount)), 0,
		 "vclock: no instructions to a deadline that has come");
}

static void test_converge(void)
{
	struct sim s;
	double r;

	/* Guessed 20 ns per instruction; the host takes 37. */
	sim_init(&s, 20, 37.0);
	sim_run(&s, 1000 * MS, MS / 2);
	r = vclock_ns_per_insn(&s.vc);
	CHECK(fabs_((double)sim_error(&s)) < 1 * MS,
	      "vclock: within 1 ms of the host after 1 s (%.3f ms)",
	      sim_error(&s) / 1e6);
	CHECK(fabs_(r - 37.0) < 37.0 * 0.01,
	      "vclock: the rate settles on the host's speed (%.2f ns)", r);
	CHECK(!s.backwards, "vclock: never backwards while converging");
	CHECK_EQ(s.vc.jumps, 0, "vclock: no jumps while converging");

	/* The guest gets twice as slow (page faults, I/O), then fast. */
	s.host_ns_per_insn = 74.0;
	sim_run(&s, 500 * MS, MS / 2);
	CHECK(fabs_((double)sim_error(&s)) < 2 * MS,
	      "vclock: within 2 ms 0.5 s after the guest slowed (%.3f ms)",
	      sim_error(&s) / 1e6);
	s.host_ns_per_insn = 10.0;
	sim_run(&s, 500 * MS, MS / 2);
	CHECK(fabs_((double)sim_error(&s)) < 2 * MS,
	      "vclock: within 2 ms 0.5 s after it sped up (%.3f ms)",
	      sim_error(&s) / 1e6);
	CHECK(!s.backwards, "vclock: never backwards when the speed changes");
	CHECK(s.vc.max_ahead > 0 && s.vc.max_ahead < 60 * (s64)MS,
	      "vclock: ran ahead a little when the guest sped up 7x "
	      "(%.1f ms), and slowed down", s.vc.max_ahead / 1e6);
}

/* The host stops us for a while in the middle of a run: a preemption
 * (10 ms) is caught up smoothly, a long stall (1 s) by a jump. */
static void test_stalls(void)
{
	struct sim s;
	double lo, hi;

	sim_init(&s, 37, 37.0);
	sim_run(&s, 500 * MS, MS / 2);
	s.host += 10 * MS;		/* preempted */
	s.min_rate = 1e30;
	s.max_rate = 0;
	sim_run(&s, 500 * MS, MS / 2);
	lo = s.min_rate;
	hi = s.max_rate;
	CHECK(hi / lo < 3,
	      "vclock: a 10 ms preemption changes the rate by under 3x "
	      "(%.1f-%.1f ns)", lo, hi);
	CHECK(fabs_((double)sim_error(&s)) < 1 * MS,
	      "vclock: caught up 0.5 s after a 10 ms preemption (%.3f ms)",
	      sim_error(&s) / 1e6);
	CHECK_EQ(s.vc.jumps, 0, "vclock: no jump for a preemption");

	/* 50 ms: a loaded host.  The clock catches up without running far
	 * ahead afterwards (a stall is not the guest's speed). */
	s.vc.max_ahead = 0;
	s.host += 50 * MS;
	sim_run(&s, 500 * MS, MS / 2);
	CHECK(s.vc.max_ahead < 10 * (s64)MS,
	      "vclock: after a 50 ms stall, never more than 10 ms ahead "
	      "(%.1f ms)", s.vc.max_ahead / 1e6);
	CHECK(fabs_((double)sim_error(&s)) < 1 * MS,
	      "vclock: caught up 0.5 s after a 50 ms stall (%.3f ms)",
	      sim_error(&s) / 1e6);

	s.host += 1000 * MS;		/* stopped (SIGSTOP, a laptop lid) */
	sim_slice(&s, 1000);
	CHECK_EQ(s.vc.jumps, 1, "vclock: a 1 s stall is one jump forward");
	CHECK(fabs_((double)sim_error(&s)) < 1 * MS,
	      "vclock: back with the host at once after the jump (%.3f ms)",
	      sim_error(&s) / 1e6);
	CHECK(!s.backwards, "vclock: never backwards through the stalls");
}

static void test_idle(void)
{
	struct vclock vc;
	u64 t;

	vclock_init(&vc, 0, 0, 50);
	vclock_idle(&vc, 1000, 80 * MS, UINT64_MAX);	/* behind */
	CHECK_EQ(vclock_now(&vc, 1000), 80 * MS,
		 "vclock: a halted guest is at the host's time");
	vclock_idle(&vc, 1000, 95 * MS, 84 * MS);
	CHECK_EQ(vclock_now(&vc, 1000), 84 * MS,
		 "vclock: ...but not past the next timer's deadline");
	vclock_init(&vc, 0, 0, 50);
	t = vclock_now(&vc, 4000000);		/* 200 ms */
	vclock_idle(&vc, 4000000, 150 * MS, UINT64_MAX);	/* ahead */
	CHECK_EQ(vclock_now(&vc, 4000000), t,
		 "vclock: a halted guest that is ahead waits for the host");
	vclock_idle(&vc, 4000000, 250 * MS, UINT64_MAX);
	CHECK_EQ(vclock_now(&vc, 4000000), 250 * MS,
		 "vclock: ...and then follows it");
}

/*
 * A guest waiting for its disk, as dd with O_DIRECT makes it (measured):
 * it runs about 0.37 ms of host time, kicks the disk and halts; the run
 * loop carries out the read in 0.13 ms while it is halted (blk.c, V:225)
 * and the guest goes on at once, a completion pending.  So it seldom runs
 * a whole slice, and what it runs (the kernel's loops over pages) costs
 * the host 2 ns an instruction where the boot before it cost 20.  The
 * clock must learn that speed across the halts: it ran ahead of the host
 * by 100 ms in 0.6 s of such reads, and the guest's own clock, which the
 * benchmarks read, said they took 30% longer than they did.
 */
static void sim_advance(struct sim *s, u64 n)
{
	double h = n * s->host_ns_per_insn + s->host_frac;

	s->icount += n;
	s->host += (u64)h;
	s->host_frac = h - (u64)h;
}

/* run_ns of running (in slices of 0.5 ms of virtual time, each ending
 * in a sync), a halt of halt_ns that ends at once (the clock told twice,
 * as the run loop does: when the guest halts, and when it is woken). */
static void sim_io(struct sim *s, u64 run_ns, u64 halt_ns)
{
	u64 left = (u64)(run_ns / s->host_ns_per_insn), before, n;

	while (left) {
		n = vclock_insns_until(&s->vc, s->icount,
				       vclock_now(&s->vc, s->icount) + MS / 2);
		if (n >= left) {
			sim_advance(s, left);
			break;
		}
		sim_slice(s, n);
		left -= n;
	}
	before = vclock_now(&s->vc, s->icount);
	vclock_idle(&s->vc, s->icount, s->host, s->host + 4 * MS);
	s->host += halt_ns;
	vclock_idle(&s->vc, s->icount, s->host, s->host + 4 * MS);
	if (vclock_now(&s->vc, s->icount) < before)
		s->backwards = true;
	sim_note_rate(s);
}

static void test_io_halts(void)
{
	struct sim s;
	s64 worst = 0, err;
	double r;

	sim_init(&s, 20, 20.0);
	sim_run(&s, 200 * MS, MS / 2);
	s.host_ns_per_insn = 2.0;
	s.min_rate = 1e30;
	s.max_rate = 0;
	for (int i = 0; i < 4000; i++) {	/* 2 s */
		sim_io(&s, 370000, 130000);
		err = sim_error(&s);
		if (i >= 400 && (err < 0 ? -err : err) > worst)
			worst = err < 0 ? -err : err;
	}
	r = vclock_ns_per_insn(&s.vc);
	CHECK(worst < 2 * (s64)MS,
	      "vclock: a guest that halts for its disk every 0.5 ms stays "
	      "within 2 ms of the host after its first 0.2 s (%.3f ms)",
	      worst / 1e6);
	CHECK(r > 1.5 && r < 2.5,
	      "vclock: ...its rate is what its instructions cost there "
	      "(%.2f ns, 2 ns)", r);
	CHECK(!s.backwards, "vclock: ...never backwards");
}

/*
 * The run loop, on the stand-in CPU and the host's clock.
 */
static struct guest_mem mem;

static u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

/* A guest instruction costs the host this much: the stand-in CPU spins
 * for it, as a slow interpreter would (and, as one, it is slower still
 * when the host preempts it). */
#define STUB_NS_PER_INSN 40

static void spin(u64 insns)
{
	u64 want = mono_ns() + insns * STUB_NS_PER_INSN;

	while (mono_ns() < want)
		;
}

/* Runs the budget 100 instructions at a time (so that cpu_stop() is
 * seen), taking interrupts as they come, at STUB_NS_PER_INSN. */
static void (*on_chunk)(struct cpu *c);
static void (*on_intr)(struct cpu *c, u8 vec);

static enum cpu_event run_busy(struct cpu *c, u64 budget)
{
	u64 end = c->icount + budget;

	while (c->icount < end) {
		u64 n = end - c->icount < 100 ? end - c->icount : 100;

		if (c->intr) {
			u8 vec = machine_intr_ack(c->bus.opaque);

			if (on_intr)
				on_intr(c, vec);
		}
		c->icount += n;
		spin(n);
		if (on_chunk)
			on_chunk(c);
		if (c->stop) {
			c->stop = false;
			return CPU_STOPPED;
		}
	}
	return CPU_BUDGET;
}

static struct machine *new_machine(void)
{
	struct machine *m = machine_new(&mem);

	on_chunk = NULL;
	on_intr = NULL;
	return m;
}

/* Linux's init_8259A(): vectors 0x30 and 0x38, all unmasked. */
static void pic_setup(struct machine *m)
{
	static const u8 seq[][2] = {
		{ 0x20, 0x11 }, { 0x21, 0x30 }, { 0x21, 0x04 }, { 0x21, 0x01 },
		{ 0xa0, 0x11 }, { 0xa1, 0x38 }, { 0xa1, 0x02 }, { 0xa1, 0x01 },
		{ 0x21, 0x00 }, { 0xa1, 0x00 },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(seq); i++)
		machine_io_out(m, seq[i][0], seq[i][1], 1);
}

/* Timers fire at their virtual instant: the slice ends on the deadline. */
static struct machine *tm;
static u64 fired_at[16];
static int nr_fired;

static void record_fire(void *opaque)
{
	(void)opaque;
	if (nr_fired < 16)
		fired_at[nr_fired] = machine_clock_ns(tm);
	nr_fired++;
	if (nr_fired == 5)
		machine_request_exit(tm, 0);
}

static struct timer *five[5];
static u64 dl[5] = { 3 * MS, 3 * MS + 17, 7 * MS + 333, 7 * MS + 334,
		     40 * MS };

/* Armed by the guest, from its first chunk of instructions: time stands
 * still before the run loop starts, then jumps to the host's. */
static void arm_five(struct cpu *c)
{
	u64 now = machine_clock_ns(c->bus.opaque);
	int i;

	if (nr_fired || timer_pending(five[0]) || dl[0] > 3 * MS)
		return;
	for (i = 0; i < 5; i++) {
		dl[i] += now;
		timer_mod(five[i], dl[i]);
	}
}

static void test_timer_deadline(void)
{
	int i, late = 0, early = 0;
	double step;

	tm = new_machine();
	stub_run = run_busy;
	on_chunk = arm_five;
	nr_fired = 0;
	for (i = 0; i < 5; i++)
		five[i] = timer_new(tm, record_fire, NULL);
	CHECK_EQ(machine_run(tm), 0, "loop: busy guest with five timers");
	stub_run = NULL;
	/* One stub chunk is 100 instructions: a deadline in the middle of
	 * one is seen at its end. */
	step = 100 * 2.0 * STUB_NS_PER_INSN;
	for (i = 0; i < 5; i++) {
		if (fired_at[i] < dl[i])
			early++;
		if (fired_at[i] > dl[i] + step)
			late++;
	}
	CHECK(!early && !late, "loop: each timer fires at its deadline, not "
	      "early nor late (%llu for %llu, %llu for %llu, ...)",
	      (unsigned long long)fired_at[0], (unsigned long long)dl[0],
	      (unsigned long long)fired_at[2], (unsigned long long)dl[2]);
	machine_free(tm);
}

/* The PIT's tick, in a busy guest: on time in virtual time, none lost. */
static u64 tick_at[1100];
static int nr_ticks;

static void take_tick(struct cpu *c, u8 vec)
{
	struct machine *m = c->bus.opaque;

	if (vec == 0x30 && nr_ticks < 1100)
		tick_at[nr_ticks++] = machine_clock_ns(m);
	machine_io_out(m, 0x20, 0x20, 1);
	if (nr_ticks >= 250)
		machine_request_exit(m, 0);
}

static void test_pit_ticks(void)
{
	struct machine *m = new_machine();
	u64 period = (4773 * 1000000000ULL + PIT_HZ - 1) / PIT_HZ;
	int i, bad = 0;
	u64 worst = 0;

	pic_new(m);
	pit_new(m);
	pic_setup(m);
	machine_io_out(m, 0x43, 0x34, 1);	/* mode 2, 250 Hz */
	machine_io_out(m, 0x40, 4773 & 0xff, 1);
	machine_io_out(m, 0x40, 4773 >> 8, 1);
	nr_ticks = 0;
	on_intr = take_tick;
	stub_run = run_busy;
	machine_run(m);
	stub_run = NULL;
	/* The PIT started counting at time 0, before the run loop, whose
	 * start brought the clock to the host's: the first tick comes then,
	 * and each other at a multiple of the period, plus at most a chunk
	 * (a deadline within one is seen at its end), one period apart. */
	for (i = 1; i < nr_ticks; i++) {
		u64 k = (unsigned __int128)tick_at[i] * PIT_HZ /
			(4773 * 1000000000ULL), d;
		u64 want = ((unsigned __int128)k * 4773 * 1000000000ULL +
			    PIT_HZ - 1) / PIT_HZ;

		d = tick_at[i] - want;
		if (i > 1 && tick_at[i] - tick_at[i - 1] > period + d + 1000)
			d = tick_at[i] - tick_at[i - 1];	/* one lost */
		if (d > worst)
			worst = d;
		if (d > 100 * 2 * STUB_NS_PER_INSN + 1000) {
			bad++;
		}
	}
	CHECK(nr_ticks == 250 && !bad,
	      "loop: 250 Hz PIT ticks come on time in a busy guest, none "
	      "lost (%d ticks, worst %llu ns off)", nr_ticks,
	      (unsigned long long)worst);
	machine_free(m);
}

/* A port write that arms a timer mid-slice (PIT mode 4, Linux's oneshot
 * clockevent) ends the slice, so the interrupt comes on time. */
static u64 oneshot_armed, oneshot_irq;
static int chunks;

static void arm_oneshot(struct cpu *c)
{
	struct machine *m = c->bus.opaque;

	if (++chunks != 50)
		return;
	machine_io_out(m, 0x43, 0x38, 1);	/* mode 4 */
	machine_io_out(m, 0x40, 120, 1);	/* 120 ticks: 100.6 us */
	machine_io_out(m, 0x40, 0, 1);
	oneshot_armed = machine_clock_ns(m);
}

static void oneshot_irq_taken(struct cpu *c, u8 vec)
{
	struct machine *m = c->bus.opaque;

	if (vec == 0x30 && !oneshot_irq) {
		oneshot_irq = machine_clock_ns(m);
		machine_request_exit(m, 0);
	}
	machine_io_out(m, 0x20, 0x20, 1);
}

static void test_oneshot(void)
{
	struct machine *m = new_machine();
	s64 d;

	pic_new(m);
	pit_new(m);
	pic_setup(m);
	chunks = 0;
	oneshot_armed = oneshot_irq = 0;
	on_chunk = arm_oneshot;
	on_intr = oneshot_irq_taken;
	stub_run = run_busy;
	machine_run(m);
	stub_run = NULL;
	d = (s64)(oneshot_irq - oneshot_armed);
	CHECK(d >= 100000 && d <= 100600 + 100 * 2 * STUB_NS_PER_INSN,
	      "loop: a one-shot armed mid-slice interrupts on time "
	      "(100.6 us asked, %lld ns)", (long long)d);
	machine_free(m);
}

/* A busy guest stays with the host's clock; a host stall in the middle of
 * Linux's PIT calibration loop does not show in it. */
static u64 cal_last_tsc, cal_last_icount;
static double cal_min, cal_max;
static int cal_iters, cal_stage;

static void calibrate_chunk(struct cpu *c)
{
	struct machine *m = c->bus.opaque;
	double per;
	u64 tsc;

	switch (cal_stage) {
	case 0:
		/* Once the clock has settled (Linux calibrates some 0.1 s
		 * into its boot)... */
		if (machine_clock_ns(m) < 100 * MS)
			return;
		/* ...pit_calibrate_tsc(): gate on, speaker off, mode 0, a
		 * 10 ms count on channel 2. */
		machine_io_out(m, 0x61, 0x01, 1);
		machine_io_out(m, 0x43, 0xb0, 1);
		machine_io_out(m, 0x42, 11932 & 0xff, 1);
		machine_io_out(m, 0x42, 11932 >> 8, 1);
		cal_last_tsc = c->bus.clock_ns(c->bus.opaque);
		cal_last_icount = c->icount;
		cal_min = 1e30;
		cal_max = 0;
		cal_stage = 1;
		return;
	case 1:
		/* while ((inb(0x61) & 0x20) == 0): one loop iteration per
		 * chunk, the TSC read each time.  A chunk is 100
		 * instructions, or fewer at the end of a slice: what Linux
		 * compares (the same loop each time) is TSC per instruction. */
		tsc = c->bus.clock_ns(c->bus.opaque);
		per = (double)(tsc - cal_last_tsc) /
		      (c->icount - cal_last_icount);
		if (per < cal_min)
			cal_min = per;
		if (per > cal_max)
			cal_max = per;
		cal_last_tsc = tsc;
		cal_last_icount = c->icount;
		if (++cal_iters == 40)
			usleep(3000);	/* the host preempts us */
		if (machine_io_in(m, 0x61, 1) & 0x20)
			cal_stage = 2;
		return;
	default:
		return;
	}
}

static void test_busy_guest(void)
{
	struct machine *m = new_machine();
	u64 t0 = mono_ns(), host, virt;
	s64 err;

	pic_new(m);
	pit_new(m);
	cal_stage = cal_iters = 0;
	on_chunk = calibrate_chunk;
	stub_run = run_busy;
	/* A second of busy guest: it ends on a timer. */
	tm = m;
	nr_fired = 4;
	timer_mod(timer_new(m, record_fire, NULL), 1000 * MS);
	machine_run(m);
	stub_run = NULL;
	host = mono_ns() - t0;
	virt = machine_clock_ns(m);
	err = (s64)(host - virt);
	CHECK(cal_stage == 2 && cal_max < 3 * cal_min,
	      "loop: PIT calibration loop with a 3 ms host stall: TSC "
	      "per loop instruction %.1f-%.1f ns (Linux wants max < 10x "
	      "min)", cal_min, cal_max);
	CHECK(err > -50 * (s64)MS && err < 50 * (s64)MS,
	      "loop: a busy guest's clock stays with the host's (%.2f ms "
	      "apart after 1 s)", err / 1e6);
	machine_free(m);
}

/* An idle guest: time follows the host's, so a timer 200 ms ahead fires
 * after 200 ms of host time. */
static u64 idle_fired_host;

static void idle_fire(void *opaque)
{
	(void)opaque;
	idle_fired_host = mono_ns();
	machine_request_exit(tm, 0);
}

static enum cpu_event run_halt(struct cpu *c, u64 budget)
{
	(void)budget;
	c->icount += 10;
	return CPU_HALT;
}

static void test_idle_follows_host(void)
{
	struct machine *m = new_machine();
	u64 t0, v;
	s64 d;

	tm = m;
	timer_mod(timer_new(m, idle_fire, NULL), 200 * MS);
	stub_run = run_halt;
	t0 = mono_ns();
	machine_run(m);
	stub_run = NULL;
	v = machine_clock_ns(m);
	d = (s64)(idle_fired_host - t0);
	CHECK(d >= 195 * (s64)MS && d < 260 * (s64)MS,
	      "loop: an idle guest's 200 ms timer fires after 200 ms of "
	      "host time (%.1f ms)", d / 1e6);
	CHECK(v >= 200 * MS && v < 260 * MS,
	      "loop: and its clock says so (%.1f ms)", v / 1e6);
	machine_free(m);
}

/* A guest that halts while its clock is behind the host's (here after a
 * 60 ms host stall) still takes every periodic tick: Linux in periodic
 * mode counts jiffies by them. */
static int lag_ticks, lag_step;

static enum cpu_event run_lag(struct cpu *c, u64 budget)
{
	struct machine *m = c->bus.opaque;

	if (lag_step++ == 0) {
		c->icount += budget;
		usleep(60000);		/* the host stalls us */
		return CPU_BUDGET;
	}
	if (c->intr) {
		if (machine_intr_ack(m) == 0x30)
			lag_ticks++;
		machine_io_out(m, 0x20, 0x20, 1);
	}
	c->icount += 500;		/* the tick handler */
	if (machine_clock_ns(m) >= 400 * MS)
		machine_request_exit(m, 0);
	return CPU_HALT;
}

static void test_idle_takes_every_tick(void)
{
	struct machine *m = new_machine();
	u64 period = (4773 * 1000000000ULL + PIT_HZ - 1) / PIT_HZ, v;

	pic_new(m);
	pit_new(m);
	pic_setup(m);
	lag_ticks = lag_step = 0;
	stub_run = run_lag;
	/* Programmed from the run: time stands still before it. */
	on_chunk = NULL;
	machine_io_out(m, 0x43, 0x34, 1);
	machine_io_out(m, 0x40, 4773 & 0xff, 1);
	machine_io_out(m, 0x40, 4773 >> 8, 1);
	machine_run(m);
	stub_run = NULL;
	v = machine_clock_ns(m);
	/* The PIT started at 0; the run's start brought the clock to the
	 * host's (a few us), so about v / period ticks, none skipped. */
	CHECK(lag_ticks >= (int)(v / period) - 1 &&
	      lag_ticks <= (int)(v / period) + 1,
	      "loop: a halted guest behind the host takes every tick (%d "
	      "ticks in %.1f ms)", lag_ticks, v / 1e6);
	machine_free(m);
}

/*
 * A halted guest's periodic tick (M:255).  A timer re-armed from its own
 * callback at fixed periods, as the PIT's channel 0 and Linux's tick on
 * the APIC timer are, runs 400 ticks against the host's clock; each
 * firing notes the host's time and the guest's.  Every tick must come,
 * each at its own instant of the guest's clock; with timer_may_coalesce()
 * the host wakes for two at a time at first, taking the second right
 * after the first, and for 17 once the guest has been quiet a second (the
 * last 100 ticks), and none is served later after its instant than the
 * machine allows (4 ms, or a 16th of the quiet so far, up to 64 ms; plus
 * what a loaded host adds); without it, and for a deadline that does not
 * repeat its period, the host wakes for each.
 */
#define CO_TICKS 400
#define CO_TAIL 100

static struct timer *co_timer;
static u64 co_deadline;
static const u64 *co_period;	/* the periods to arm, in turn */
static int co_nperiods, co_n;
static u64 co_host[CO_TICKS];	/* the host's time at each firing */
static u64 co_dl[CO_TICKS];	/* ... its deadline */
static u64 co_guest[CO_TICKS];	/* ... and the guest's clock then */

static void co_fire(void *opaque)
{
	(void)opaque;
	co_host[co_n] = mono_ns();
	co_dl[co_n] = co_deadline;
	co_guest[co_n] = machine_clock_ns(tm);
	if (++co_n == CO_TICKS) {
		machine_request_exit(tm, 0);
		return;
	}
	co_deadline += co_period[co_n % co_nperiods];
	timer_mod(co_timer, co_deadline);
	/* A guest may write the same deadline twice. */
	timer_mod(co_timer, co_deadline);
}

/* How late in host time the machine may serve a tick due at dl ns of a
 * guest quiet since 0 (machine.c's coalesce_window()). */
static s64 co_allowed(u64 dl)
{
	u64 w = dl / 16;

	return (s64)(w < 4 * MS ? 4 * MS : w > 64 * MS ? 64 * MS : w);
}

/*
 * Runs CO_TICKS ticks of the given periods in turn; returns how many
 * times the host woke for them (a tick more than 0.5 ms of host time
 * after the one before), in *tail for the last CO_TAIL of them, with in
 * *late the most a tick came after its instant in host time past what
 * co_allowed() allows, and in *off the most the guest's clock at a tick
 * was past its deadline (or, as a negative, before it).
 */
static int co_run(const u64 *periods, int n, bool coalesce, s64 *late,
		  s64 *off, int *tail)
{
	struct machine *m = new_machine();
	/* The machine's clock counts from machine_new(), just before. */
	u64 host0 = mono_ns();
	int i, wakes = 1;

	tm = m;
	co_period = periods;
	co_nperiods = n;
	co_n = 0;
	co_timer = timer_new(m, co_fire, NULL);
	if (coalesce)
		timer_may_coalesce(co_timer);
	stub_run = run_halt;
	co_deadline = 10 * MS;
	timer_mod(co_timer, co_deadline);
	machine_run(m);
	stub_run = NULL;
	*late = INT64_MIN;
	*off = 0;
	*tail = 0;
	for (i = 0; i < co_n; i++) {
		s64 l = (s64)(co_host[i] - host0 - co_dl[i]) -
			co_allowed(co_dl[i]);
		s64 o = (s64)(co_guest[i] - co_dl[i]);

		if (i && co_host[i] - co_host[i - 1] > MS / 2) {
			wakes++;
			*tail += i >= CO_TICKS - CO_TAIL;
		}
		if (l > *late)
			*late = l;
		if (*off >= 0 && (o < 0 || o > *off))
			*off = o;	/* a negative one stays */
	}
	machine_free(m);
	return co_n == CO_TICKS ? wakes : -1;
}

static void test_idle_coalesces_ticks(void)
{
	static const u64 tick[] = { 4 * MS };
	static const u64 uneven[] = { 3 * MS / 2, 5 * MS / 2 };
	u64 watchdog[40];
	s64 late, off;
	int i, w, tail;

	w = co_run(tick, 1, true, &late, &off, &tail);
	CHECK(w <= CO_TICKS / 2,
	      "loop: a halted guest's 4 ms tick wakes the host for two or "
	      "more at a time (%d wake-ups for %d ticks)", w, CO_TICKS);
	CHECK(tail >= 2 && tail <= CO_TAIL / 10,
	      "loop: for 17 at a time once it has been quiet a second (%d "
	      "wake-ups for the last %d)", tail, CO_TAIL);
	CHECK(off >= 0 && off < 100000,
	      "loop: and each tick comes at its own instant of the guest's "
	      "clock (at most %.3f ms past it)", off / 1e6);
	/* What more a loaded host adds, as in test_idle_follows_host. */
	CHECK(late < 16 * (s64)MS,
	      "loop: and none comes much later in host time than a 16th of "
	      "the quiet before it (4 to 64 ms) allows (%.1f ms past at "
	      "most)", late / 1e6);
	/* Every 40th deadline is another timer's, not the tick's: it
	 * fires on time, and the ticks go on coalescing after it. */
	for (i = 0; i < 39; i++)
		watchdog[i] = 4 * MS;
	watchdog[39] = 5 * MS / 2;
	w = co_run(watchdog, 40, true, &late, &off, &tail);
	CHECK(tail <= CO_TAIL / 5 && late < 16 * (s64)MS,
	      "loop: another timer of the guest's now and then is no sign "
	      "of life (%d wake-ups for the last %d ticks, %.1f ms past)",
	      tail, CO_TAIL, late / 1e6);
	w = co_run(tick, 1, false, &late, &off, &tail);
	CHECK(w >= CO_TICKS * 3 / 4,
	      "loop: a device's own periodic timer wakes the host for each "
	      "firing (%d wake-ups for %d)", w, CO_TICKS);
	w = co_run(uneven, 2, true, &late, &off, &tail);
	CHECK(w >= CO_TICKS * 3 / 4,
	      "loop: a tick device's deadlines that do not repeat their "
	      "period wake the host on time (%d wake-ups for %d)", w,
	      CO_TICKS);
	CHECK(off >= 0 && off < 100000,
	      "loop: each at its instant of the guest's clock (at most %.3f "
	      "ms past it)", off / 1e6);
}

/* A test's clock still replaces the virtual one. */
static u64 fake_ns;

static u64 fake_clock(void *opaque)
{
	(void)opaque;
	return fake_ns;
}

static void test_set_clock(void)
{
	struct machine *m = machine_new(&mem);

	fake_ns = 123456789;
	machine_set_clock(m, fake_clock, NULL);
	CHECK_EQ(machine_clock_ns(m), 123456789ULL,
		 "clock: machine_set_clock() replaces the clock");
	machine_free(m);
}

int main(void)
{
	if (guest_mem_init(&mem, 4 * MiB) < 0) {
		printf("not ok - guest_mem_init\n");
		return 1;
	}
	test_smooth();
	test_insns_until();
	test_converge();
	test_stalls();
	test_idle();
	test_io_halts();
	test_timer_deadline();
	test_pit_ticks();
	test_oneshot();
	test_busy_guest();
	test_idle_follows_host();
	test_idle_takes_every_tick();
	test_idle_coalesces_ticks();
	test_set_clock();
	return tap_failed ? 1 : 0;
}
