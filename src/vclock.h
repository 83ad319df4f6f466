/*
 * The virtual clock: the guest's time, counted from the instructions it
 * runs and kept in step with the host's real time.
 *
 * While the CPU runs, time is base_ns + (icount - base_icount) * rate, so
 * every guest read of the PIT or the TSC sees time move exactly with the
 * instructions it has run: no host stall, preemption or slice boundary
 * ever shows inside the guest as a jump.  That is what Linux's PIT
 * calibration of the TSC needs, and what a deterministic replay would.
 *
 * The machine's run loop tells the clock where the host's time stands at
 * each slice boundary (vclock_sync()); the clock then sets its rate (ns
 * per instruction) so that it meets the host's time within about
 * VCLOCK_CONVERGE_NS, as QEMU's icount "shift=auto" does.  While the guest
 * is halted, time follows the host's (vclock_idle()).  The clock never goes
 * backwards; after a long host stall it jumps forward at a slice boundary.
 *
 * This file is pure arithmetic: the caller passes the instruction count and
 * the host's time (ns since the machine was made), so the tests can drive
 * it with any host they like.
 */
#ifndef LGUEST_VCLOCK_H
#define LGUEST_VCLOCK_H

#include "types.h"

/* Virtual time meets the host's over about this long. */
#define VCLOCK_CONVERGE_NS 100000000ULL
/* Behind by more than this at a slice boundary: jump to the host's time. */
#define VCLOCK_JUMP_NS 200000000ULL
/* The host's speed is measured over windows at least this long. */
#define VCLOCK_WINDOW_NS 10000000ULL

struct vclock {
	u64 base_ns;		/* virtual time at base_icount... */
	u32 base_frac;		/* ...and its fraction of a ns (2^-32) */
	u64 base_icount;
	u64 rate;		/* ns per instruction, 32.32 fixed point */
	u64 host_rate;		/* the host's measured ns per instruction */
	u64 win_icount;		/* the speed window opened here... */
	u64 win_run;		/* ...and the guest has run this long since */
	u64 mark_icount;	/* where the clock was last told the... */
	u64 mark_host;		/* ...host's time */
	bool measured;		/* host_rate is a measurement, not a guess */
	/* For --verbose and the tests. */
	u64 syncs, jumps;
	s64 max_behind, max_ahead;	/* host - virtual at a sync, ns */
};

/* Virtual time host_ns at instruction icount, a first guess of the host's
 * speed in ns per instruction. */
void vclock_init(struct vclock *vc, u64 icount, u64 host_ns,
		 u64 ns_per_insn);

/* The guest's time after icount instructions. */
static inline u64 vclock_now(const struct vclock *vc, u64 icount)
{
	return vc->base_ns + (u64)(((unsigned __int128)(icount -
				     vc->base_icount) * vc->rate +
				    vc->base_frac) >> 32);
}

/* A slice boundary while the CPU runs: measure the host's speed, set the
 * rate for the next slice (or jump after a long stall). */
void vclock_sync(struct vclock *vc, u64 icount, u64 host_ns);

/* The CPU is halted (or not running yet): time follows the host's, never
 * going back, but not past limit_ns (the next timer's deadline: a guest
 * that fell behind catches up one timer at a time, and takes every tick
 * on the way, as it would on hardware).  Also restarts the speed
 * measurement. */
void vclock_idle(struct vclock *vc, u64 icount, u64 host_ns, u64 limit_ns);

/* How many instructions from icount until the clock reaches deadline_ns
 * (0 if it has): the slice budget that ends on a timer's deadline. */
u64 vclock_insns_until(const struct vclock *vc, u64 icount,
		       u64 deadline_ns);

/* The current rate in ns per instruction, as a double (for reports). */
double vclock_ns_per_insn(const struct vclock *vc);

#endif
