/*
 * The virtual clock: see vclock.h.
 *
 * Two numbers steer it.  host_rate is what one guest instruction has cost the
 * host lately, in ns, measured over windows of VCLOCK_WINDOW_NS of running
 * (halts excluded, however many) and smoothed; it would keep virtual time in
 * step with the host's if the guest's speed never changed.  The error, host
 * time minus virtual time at the slice boundary, corrects what that misses:
 * the rate is host_rate * (1 + error / VCLOCK_CONVERGE_NS), held between half
 * and twice host_rate, so that a clock 10 ms behind runs 10% fast until it has
 * caught up.  The rate changes only at slice boundaries, and only by a little
 * from one to the next, so a guest timing a loop across one sees nothing
 * (Linux rejects a PIT calibration whose loop iterations differ by 10x).
 *
 * The base keeps the fraction of a nanosecond too, so that time is the
 * exact sum of rate times instructions however often the rate changes.
 */
#include "vclock.h"

/* 32.32 fixed point. */
#define ONE_NS (1ULL << 32)
#define RATE_MIN (ONE_NS / 256)
#define RATE_MAX (100000 * ONE_NS)
#define MIN_WINDOW_INSNS 10000

static u64 clamp_rate(unsigned __int128 r)
{
	if (r < RATE_MIN)
		return RATE_MIN;
	if (r > RATE_MAX)
		return RATE_MAX;
	return (u64)r;
}

/* Where the clock stands at icount, with its fraction of a ns. */
static unsigned __int128 now_fixed(const struct vclock *vc, u64 icount)
{
	return ((unsigned __int128)vc->base_ns << 32) + vc->base_frac +
	       (unsigned __int128)(icount - vc->base_icount) * vc->rate;
}

/* Moves the base to icount, at virtual time t (32.32). */
static void rebase(struct vclock *vc, u64 icount, unsigned __int128 t)
{
	vc->base_ns = (u64)(t >> 32);
	vc->base_frac = (u32)t;
	vc->base_icount = icount;
}

void vclock_init(struct vclock *vc, u64 icount, u64 host_ns,
		 u64 ns_per_insn)
{
	*vc = (struct vclock){ 0 };
	rebase(vc, icount, (unsigned __int128)host_ns << 32);
	vc->host_rate = clamp_rate((unsigned __int128)ns_per_insn << 32);
	vc->rate = vc->host_rate;
	vc->win_icount = icount;
	vc->mark_icount = icount;
	vc->mark_host = host_ns;
}

/* The host's time since the clock was last told it counts as running if
 * the guest ran instructions meanwhile, and as a halt if it did not: the
 * run loop tells the clock at every slice's end (vclock_sync()), when the
 * guest halts and when it is woken (vclock_idle()). */
static void account(struct vclock *vc, u64 icount, u64 host_ns)
{
	if (icount != vc->mark_icount && host_ns > vc->mark_host)
		vc->win_run += host_ns - vc->mark_host;
	vc->mark_icount = icount;
	vc->mark_host = host_ns;
}

/*M:270
 * The host's speed over the window that ends now, if it is long enough (10 ms
 * of running, halts excluded, and enough instructions to mean something).  The
 * running adds up across halts: a guest waiting for its disk halts every half
 * millisecond and seldom runs a whole slice, and what it runs between (the
 * kernel's loops over pages) may cost the host a tenth of what the boot before
 * it did; a window that a halt ended would never measure it, and the clock,
 * still at the boot's speed, ran ahead of the host by 100 ms in 0.6 s of disk
 * reads.  The first window is shorter: the guess it replaces (the machine's,
 * in machine.c) may be far off.  Later samples are averaged in, and a sample
 * that says the guest got much slower is believed only partly, since a host
 * stall inside the window looks exactly like that; the error term of M:260
 * takes care of the rest without a burst of fast time. :*/
static void measure(struct vclock *vc, u64 icount, u64 host_ns)
{
	u64 dh, di = icount - vc->win_icount;
	u64 window = vc->measured ? VCLOCK_WINDOW_NS : VCLOCK_WINDOW_NS / 10;
	u64 sample;

	account(vc, icount, host_ns);
	dh = vc->win_run;
	/* A few instructions say nothing of the guest's speed: a host
	 * stall in them would look like a very slow guest. */
	if ((s64)dh < (s64)window || di < MIN_WINDOW_INSNS)
		return;
	sample = clamp_rate(((unsigned __int128)dh << 32) / di);
	if (vc->measured) {
		/* A window with a host stall in it (we were preempted for
		 * 50 ms) is not the guest's speed: it moves the estimate
		 * up by at most 1.5x, and the error term catches up the
		 * rest without a burst of fast time.  A stall cannot make
		 * the host look faster: that direction is taken whole. */
		if (sample > vc->host_rate * 2)
			sample = vc->host_rate * 2;
		vc->host_rate = vc->host_rate / 2 + sample / 2;
	} else {
		vc->host_rate = sample;
	}
	vc->measured = true;
	vc->win_icount = icount;
	vc->win_run = 0;
}

/* The rate for what runs next: host_rate, corrected by err (host time
 * minus virtual time) over VCLOCK_CONVERGE_NS (M:260). */
static void steer(struct vclock *vc, s64 err)
{
	s64 span = VCLOCK_CONVERGE_NS;

	if (err > span)
		err = span;
	if (err < -span * 3 / 4)
		err = -span * 3 / 4;
	vc->rate = clamp_rate((unsigned __int128)vc->host_rate *
			      (u64)(span + err) / (u64)span);
}

/*M:260
 * The virtual clock, at a slice boundary.  Why not simply read the host's
 * clock?  Because Linux calibrates its TSC by timing a loop against the
 * PIT, and rejects the result when two runs of the loop disagree; on a
 * host that preempts us for a few milliseconds now and then, a clock that
 * jumps with the host's would make every calibration fail or come out
 * wrong.  So inside a slice time is base + instructions * rate, smooth by
 * construction, and only here, between slices, does it look at the host.
 *
 * Two numbers steer it: host_rate, what an instruction has cost the host
 * lately (M:270), and the error, host time minus virtual time now.  The
 * next slice runs at host_rate * (1 + error / 100 ms), held between a
 * quarter of host_rate and twice it: a clock 10 ms behind runs 10% fast
 * until it has caught up, one ahead runs slow, and neither ever goes
 * backwards.  A clock more than 200 ms behind (the host stopped us: a
 * debugger, a suspended laptop, a very loaded machine) jumps to the
 * host's time instead, because catching up that much by running fast would
 * mean seconds of skewed time.  This is QEMU's icount "shift=auto" idea.
 */
void vclock_sync(struct vclock *vc, u64 icount, u64 host_ns)
{
	unsigned __int128 t = now_fixed(vc, icount);
	s64 err = (s64)(host_ns - (u64)(t >> 32));

	vc->syncs++;
	if (err > vc->max_behind)
		vc->max_behind = err;
	if (-err > vc->max_ahead)
		vc->max_ahead = -err;
	measure(vc, icount, host_ns);
	if (err > (s64)VCLOCK_JUMP_NS) {
		/* The host stopped us for a long while: catching up by
		 * running fast would take seconds of skewed time. */
		t = (unsigned __int128)host_ns << 32;
		err = 0;
		vc->jumps++;
	}
	rebase(vc, icount, t);
	steer(vc, err);
}
/* The base moves to this instant with its fraction of a nanosecond, so
 * time stays the exact sum of rate times instructions however often the
 * rate changes. :*/

/*M:265
 * A halt.  Time follows the host's, up to the next deadline; a clock that
 * is ahead stays where it is (it never goes back) and waits for the host,
 * if the guest sleeps.  But a halt may end at once: a disk request the
 * run loop carried out while the guest waited (M:257) leaves its
 * interrupt pending, and the guest goes on.  So the halt is a slice
 * boundary too: the speed the guest ran at since the last one is
 * counted (M:270), and what runs next gets its rate from the error as
 * at a sync, so that a clock ahead slows down instead of staying ahead
 * for as long as the guest keeps waking at once. :*/
void vclock_idle(struct vclock *vc, u64 icount, u64 host_ns, u64 limit_ns)
{
	unsigned __int128 t;
	u64 to = host_ns < limit_ns ? host_ns : limit_ns;

	measure(vc, icount, host_ns);
	t = now_fixed(vc, icount);
	if ((u64)(t >> 32) < to)
		t = (unsigned __int128)to << 32;
	rebase(vc, icount, t);
	steer(vc, (s64)(host_ns - (u64)(t >> 32)));
}

u64 vclock_insns_until(const struct vclock *vc, u64 icount, u64 deadline_ns)
{
	unsigned __int128 want = (unsigned __int128)deadline_ns << 32, have;

	have = now_fixed(vc, icount);
	if (have >= want)
		return 0;
	return (u64)((want - have + vc->rate - 1) / vc->rate);
}

double vclock_ns_per_insn(const struct vclock *vc)
{
	return (double)vc->rate / ONE_NS;
}
