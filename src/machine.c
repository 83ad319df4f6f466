/*
 * The machine: the bus between the CPU and the devices, the interrupt line
 * into the CPU, the clock, the timers, and the run loop that drives them.
 *
 * Port I/O goes through a 64K-entry table of region numbers, so the CPU's
 * IN and OUT cost one array load before the device's callback.  MMIO
 * regions are few (one per PCI BAR) and searched in order.  A port nobody
 * owns reads all ones, as on a PC where nothing drives the bus, and is
 * reported once under --verbose: Linux probes many ports that a small
 * machine leaves empty.
 *
 * Interrupts travel device -> machine_set_irq() -> the interrupt controller
 * that pc_init() plugs in (the board's wiring to the 8259 pair and the
 * IO-APIC, then the local APIC: src/hw/pc.c) -> machine_set_intr() -> the
 * CPU's INTR pin.  The CPU asks the controller for the vector when it
 * takes the interrupt.  The MSRs the CPU does not keep (the APIC's) come
 * here too, and go to the device that claimed them.
 *
 * The run loop (machine_run() at the end) is the one thread that runs the
 * guest: a slice of instructions, then due timers and ready host fds; when
 * the guest halts it sleeps in epoll until the next timer or input, which
 * is what makes an idle guest cost the host next to nothing.
 *
 * The clock is virtual (src/vclock.c): while the CPU runs, time is counted
 * in instructions, so the guest sees it move smoothly whatever the host
 * does; at each slice boundary the run loop reads the host's clock and the
 * virtual clock adjusts its rate to stay with it; while the guest is
 * halted, time follows the host's.  A slice ends exactly at the next
 * timer's deadline (its budget is the instructions until then), so a
 * timer fires at its virtual instant, never late: the PIT's tick arrives
 * after the instruction during which it was due, as on hardware.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "machine.h"
#include "vclock.h"

#define MAX_PORT_REGIONS 255	/* region 0 of the index means "nobody" */
#define MAX_MMIO 64
#define MAX_FDS 32
#define MAX_IDLE_POLLS 8
/* How long a halted guest's run loop looks for a completion in flight
 * before it sleeps (M:257). */
#define IDLE_POLL_NS 50000ULL

/* The longest slice of guest time between two looks at timers and the
 * host's clock (slices end sooner, at each timer's deadline): the look
 * costs a host clock read and a list peek, nothing next to the slice. */
#define SLICE_NS 500000ULL
/* A timer already due that the last round could not fire (one re-armed
 * at "now" from its own callback) waits this many instructions. */
#define MIN_BUDGET 1000ULL
#define MAX_BUDGET 4000000ULL
/* With a test's clock, which does not follow instructions. */
#define TEST_BUDGET 10000ULL
/* The host's speed we assume until the first measurement (50 MIPS). */
#define FIRST_NS_PER_INSN 20
/* How often the running guest's host fds are polled without blocking. */
#define FD_POLL_NS 2000000ULL
/* The longest a halted guest sleeps without looking around. */
#define MAX_SLEEP_NS 1000000000ULL
/* The most a halted guest's periodic tick may wait, in host time, so
 * that one wake-up of the host serves several ticks (M:255); and, once
 * the guest has shown no sign of life but its ticks for a while, what
 * that may grow to: a DEEP_SHARE-th of the while, up to
 * DEEP_COALESCE_NS. */
#define COALESCE_NS 4000000ULL
#define DEEP_COALESCE_NS 64000000ULL
#define DEEP_SHARE 16
/* A guest that has not run a whole slice for this long is idle: the
 * translator may give back the memory of the code it ran before. */
#define TRIM_IDLE_NS 2000000000ULL

struct port_region {
	u16 base, len;
	void *dev;
	io_read_fn rd;
	io_write_fn wr;
};

struct mmio_region {
	bool used;
	u32 base, len;
	void *dev;
	mmio_read_fn rd;
	mmio_write_fn wr;
};

struct timer {
	struct machine *m;
	timer_fn fn;
	void *opaque;
	u64 deadline;
	bool armed;
	bool may_coalesce;	/* the guest's tick: timer_may_coalesce() */
	u64 fired;		/* the deadline it last fired at */
	u64 period;		/* from the firing before to that one */
	u64 tick;		/* its period, if the deadline is the guest's
				 * periodic tick (learn_period()), else 0 */
	struct timer *next;	/* in the machine's armed list, by deadline */
	struct timer *all_next;	/* every timer, for machine_free() */
};

struct fd_watch {
	int fd;			/* -1: free slot */
	u32 events;
	bool always_ready;	/* a regular file: epoll refuses it */
	fd_fn fn;
	void *opaque;
};

struct cleanup {
	void (*fn)(void *opaque);
	void *opaque;
	struct cleanup *next;
};

struct machine {
	struct guest_mem *mem;
	struct cpu *cpu;
	struct cpu_bus bus;

	u8 port_index[65536];
	struct port_region ports[MAX_PORT_REGIONS + 1];
	int nr_ports;
	u8 port_reported[65536 / 8];

	struct mmio_region mmio[MAX_MMIO];
	int mmio_last;		/* last region hit: accesses come in runs */
	bool mmio_reported;

	struct irq_chip chip;
	bool intr;
	void *msr_dev;
	msr_read_fn msr_rd;
	msr_write_fn msr_wr;
	void *tpr_dev;
	tpr_read_fn tpr_rd;
	tpr_write_fn tpr_wr;

	u64 clock_start;	/* the host's monotonic clock at machine_new() */
	struct vclock vc;
	u64 clock_last;		/* the latest machine_clock_ns() gave */
	clock_fn clock;		/* a test's clock instead */
	void *clock_opaque;
	bool in_slice;		/* inside cpu_run() */
	u64 max_slice;		/* LGUEST_SLICE: at most this many
				 * instructions a slice (a stress knob) */
	u64 slice_end;		/* the virtual time the slice runs to */
	bool halted;		/* sleeping in idle(): time follows the host */
	u64 host_reads;		/* for --verbose */
	u64 busy_ns;		/* the host's time at the last whole slice */
	u64 quiet_ns;		/* ... at the guest's last sign of life but
				 * its tick: a busy slice, a host fd's
				 * event (M:255) */
	bool trimmed;		/* cpu_jit_trim() since then */
	u64 sleeps;		/* ... idle() calls that waited in epoll */
	u64 fd_wakes;		/* ... of them, woken by a host fd */

	struct cleanup *cleanups;	/* newest first */
	struct timer *timers;	/* armed, soonest first */
	struct timer *all_timers;

	int epfd;
	struct fd_watch fds[MAX_FDS];
	int nr_always;
	struct {
		idle_poll_fn fn;
		void *opaque;
	} polls[MAX_IDLE_POLLS];
	int nr_polls;
	u64 poll_hits;		/* idle() calls a poll ended (--verbose) */

	bool exit_requested;
	int exit_status;
	bool mark_panics;	/* a Linux with reboot=panic_warm */
	bool killed;
	char kill_reason[256];
};

static u64 host_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

/* The host's time on the machine's scale: ns since machine_new(). */
static u64 host_ns(struct machine *m)
{
	m->host_reads++;
	return host_now_ns() - m->clock_start;
}

/*M:220
 * The guest's time.  Every device that keeps time (the PIT, the RTC, the
 * CPU's TSC) reads this one clock, so they can never disagree.  It is a
 * virtual clock (M:260): while the CPU runs it counts the guest's
 * instructions, so time inside the guest moves exactly with the work the
 * guest does and a host stall never shows as a jump; at every slice
 * boundary it looks at the host's clock and changes its rate to keep in
 * step with it; while the guest is halted, time simply follows the host's.
 * Tests may plug in a clock of their own (machine_set_clock()), which does
 * not move unless they move it.
 */
u64 machine_clock_ns(struct machine *m)
{
	u64 t;

	if (unlikely(m->clock))
		return m->clock(m->clock_opaque);
	t = vclock_now(&m->vc, cpu_icount(m->cpu));
	/* The count can step back a little (a translated block counts all
	 * its instructions when it starts and gives back those a jump out
	 * skipped); time must not. */
	if (t < m->clock_last)
		return m->clock_last;
	m->clock_last = t;
	return t;
}
/* Reading it costs no system call: it is arithmetic on the CPU's
 * instruction count. :*/

/* A slice boundary: the virtual clock looks at the host's.  The guest
 * ran a whole slice without halting: it is busy. */
static void clock_sync(struct machine *m)
{
	if (m->clock)
		return;
	m->busy_ns = host_ns(m);
	m->quiet_ns = m->busy_ns;
	m->trimmed = false;
	vclock_sync(&m->vc, cpu_icount(m->cpu), m->busy_ns);
}

static u64 next_deadline(struct machine *m);

/* The CPU is not running: time follows the host's, up to the next timer.
 * A periodic tick is never skipped: the guest (Linux in periodic mode
 * counts jiffies by them) takes each, then halts again, and time moves on
 * to the next. */
static void clock_follow_host(struct machine *m)
{
	if (!m->clock)
		vclock_idle(&m->vc, cpu_icount(m->cpu), host_ns(m),
			    next_deadline(m));
}

void machine_set_clock(struct machine *m, clock_fn fn, void *opaque)
{
	m->clock = fn;
	m->clock_opaque = opaque;
}

/*
 * Port I/O.
 */
static u32 size_mask(int size)
{
	return size >= 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
}

static void report_unowned(struct machine *m, u16 port, const char *what)
{
	u8 bit = 1u << (port & 7);

	if (m->port_reported[port >> 3] & bit)
		return;
	m->port_reported[port >> 3] |= bit;
	verbose("%s port %#x: no device (reported once)", what, port);
}

/* An access whose bytes fall in different regions (or off the end of the
 * port space) is split into single bytes, as an ISA bus would. */
static bool io_straddles(struct machine *m, u16 port, int size)
{
	unsigned last = (unsigned)port + size - 1;

	return last > 0xffff || m->port_index[last] != m->port_index[port];
}

static u32 io_in_byte(struct machine *m, u16 port)
{
	struct port_region *r = &m->ports[m->port_index[port]];

	if (!m->port_index[port] || !r->rd) {
		report_unowned(m, port, "read from");
		return 0xff;
	}
	return r->rd(r->dev, port, 1) & 0xff;
}

/*M:200
 * An IN instruction's path, and every port access is one.  The 64K-entry
 * table holds, for each port, the number of the region that owns it, so
 * the common case costs one array load before the device's callback.  An
 * access whose bytes fall to different owners (a word read across the
 * end of one device's ports) is split into bytes, each going to its own
 * owner, as an ISA bus would.  A port nobody owns reads all ones, which is
 * what a PC's floating bus gives and what Linux's probes expect to find
 * where there is no device; it is reported once, under --verbose, because
 * Linux probes dozens of ports a small machine leaves empty.  None of this
 * is an error of the guest's: probing is what drivers do.
 */
u32 machine_io_in(struct machine *m, u16 port, int size)
{
	struct port_region *r;
	u32 val = 0;
	int i;

	if (size != 1 && size != 2 && size != 4)
		size = 1;
	if (unlikely(io_straddles(m, port, size))) {
		for (i = 0; i < size; i++)
			val |= io_in_byte(m, (u16)(port + i)) << (8 * i);
		return val;
	}
	r = &m->ports[m->port_index[port]];
	if (!m->port_index[port] || !r->rd) {
		report_unowned(m, port, "read from");
		return size_mask(size);
	}
	return r->rd(r->dev, port, size) & size_mask(size);
}
/* The value is masked to the access size: a device that returns stray
 * high bits cannot leak them into the guest's register. :*/

void machine_io_out(struct machine *m, u16 port, u32 val, int size)
{
	struct port_region *r;
	int i;

	if (size != 1 && size != 2 && size != 4)
		size = 1;
	val &= size_mask(size);
	if (unlikely(io_straddles(m, port, size))) {
		for (i = 0; i < size; i++)
			machine_io_out(m, (u16)(port + i),
				       (val >> (8 * i)) & 0xff, 1);
		return;
	}
	r = &m->ports[m->port_index[port]];
	if (!m->port_index[port] || !r->wr) {
		report_unowned(m, port, "write to");
		return;
	}
	r->wr(r->dev, port, val, size);
}

void machine_add_ports(struct machine *m, u16 base, u16 len, void *dev,
		       io_read_fn rd, io_write_fn wr)
{
	struct port_region *r;
	unsigned p;

	if (len == 0 || (unsigned)base + len > 0x10000 ||
	    m->nr_ports >= MAX_PORT_REGIONS) {
		fprintf(stderr, "lguest: bad port range %#x+%u\n", base, len);
		abort();
	}
	for (p = base; p < (unsigned)base + len; p++) {
		if (m->port_index[p]) {
			fprintf(stderr, "lguest: port %#x claimed twice\n", p);
			abort();
		}
	}
	r = &m->ports[++m->nr_ports];
	*r = (struct port_region){ base, len, dev, rd, wr };
	for (p = base; p < (unsigned)base + len; p++)
		m->port_index[p] = (u8)m->nr_ports;
}

/*
 * MMIO: physical addresses that are not RAM.
 */
static struct mmio_region *mmio_find(struct machine *m, u32 gpa)
{
	struct mmio_region *r = &m->mmio[m->mmio_last];
	int i;

	if (r->used && gpa - r->base < r->len)
		return r;
	for (i = 0; i < MAX_MMIO; i++) {
		r = &m->mmio[i];
		if (r->used && gpa - r->base < r->len) {
			m->mmio_last = i;
			return r;
		}
	}
	return NULL;
}

static void report_unowned_mmio(struct machine *m, u32 gpa, const char *what)
{
	if (m->mmio_reported)
		return;
	m->mmio_reported = true;
	verbose("%s physical %#x: no RAM or device (only the first is "
		"reported)", what, gpa);
}

u32 machine_mmio_read(struct machine *m, u32 gpa, int size)
{
	struct mmio_region *r = mmio_find(m, gpa);

	if (size != 1 && size != 2 && size != 4)
		size = 4;
	if (!r || !r->rd || gpa - r->base + size > r->len) {
		report_unowned_mmio(m, gpa, "read from");
		return size_mask(size);
	}
	return r->rd(r->dev, gpa - r->base, size) & size_mask(size);
}

void machine_mmio_write(struct machine *m, u32 gpa, u32 val, int size)
{
	struct mmio_region *r = mmio_find(m, gpa);

	if (size != 1 && size != 2 && size != 4)
		size = 4;
	if (!r || !r->wr || gpa - r->base + size > r->len) {
		report_unowned_mmio(m, gpa, "write to");
		return;
	}
	r->wr(r->dev, gpa - r->base, val & size_mask(size), size);
}

int machine_add_mmio(struct machine *m, u32 base, u32 len, void *dev,
		     mmio_read_fn rd, mmio_write_fn wr)
{
	int i;

	for (i = 0; i < MAX_MMIO; i++) {
		if (!m->mmio[i].used) {
			m->mmio[i] = (struct mmio_region){ true, base, len,
							   dev, rd, wr };
			return i;
		}
	}
	fprintf(stderr, "lguest: too many MMIO regions\n");
	abort();
}

void machine_move_mmio(struct machine *m, int id, u32 new_base)
{
	if (id >= 0 && id < MAX_MMIO && m->mmio[id].used)
		m->mmio[id].base = new_base;
}

void machine_remove_mmio(struct machine *m, int id)
{
	if (id >= 0 && id < MAX_MMIO)
		m->mmio[id].used = false;
}

/*
 * Interrupts.
 */
void machine_set_irq_chip(struct machine *m, const struct irq_chip *chip)
{
	m->chip = *chip;
}

/*M:210
 * An interrupt's path.  A device raises or lowers a line here (0-15 ISA,
 * 16-19 PCI's PIRQs), knowing nothing of who listens; the machine hands
 * the line to the interrupt controller pc_init() plugged in, which is
 * the board's wiring to the 8259 pair and the IO-APIC (D:300); the local
 * APIC at the end of both decides whether the CPU's INTR pin goes up and
 * says so through machine_set_intr() (D:310).  The CPU looks at the pin
 * at its next instruction boundary and, with IF set, asks for the vector
 * through the bus (machine_intr_ack(), then the APIC's acknowledge, or
 * the PIC's INTA, D:120).  A line number out of range is a device
 * model's bug, not the guest's, and is dropped.  NMIs take a path of
 * their own, machine_set_nmi(), to the CPU's NMI input.
 */
void machine_set_irq(struct machine *m, int irq, int level)
{
	if (irq < 0 || irq >= MACHINE_IRQS || !m->chip.set_irq)
		return;
	m->chip.set_irq(m->chip.opaque, irq, level);
}

void machine_set_intr(struct machine *m, bool level)
{
	if (m->intr == level)
		return;
	m->intr = level;
	cpu_set_intr(m->cpu, level);
}
/* Only a change of the pin reaches the CPU. :*/

bool machine_intr(struct machine *m)
{
	return m->intr;
}

void machine_set_nmi(struct machine *m)
{
	cpu_set_nmi(m->cpu);
}

void machine_set_msr_handler(struct machine *m, void *dev, msr_read_fn rd,
			     msr_write_fn wr)
{
	m->msr_dev = dev;
	m->msr_rd = rd;
	m->msr_wr = wr;
}

void machine_set_tpr_handler(struct machine *m, void *dev, tpr_read_fn rd,
			     tpr_write_fn wr)
{
	m->tpr_dev = dev;
	m->tpr_rd = rd;
	m->tpr_wr = wr;
}

u8 machine_intr_ack(struct machine *m)
{
	if (!m->chip.ack)
		return 0x0f;	/* nothing plugged in: a spurious vector */
	return m->chip.ack(m->chip.opaque);
}

/*
 * The CPU's bus: thin shims from the CPU's opaque pointer to the machine.
 */
static u32 bus_io_in(void *o, u16 port, int size)
{
	return machine_io_in(o, port, size);
}

static void bus_io_out(void *o, u16 port, u32 val, int size)
{
	machine_io_out(o, port, val, size);
}

static u32 bus_mmio_read(void *o, u32 gpa, int size)
{
	return machine_mmio_read(o, gpa, size);
}

static void bus_mmio_write(void *o, u32 gpa, u32 val, int size)
{
	machine_mmio_write(o, gpa, val, size);
}

static u8 bus_intr_ack(void *o)
{
	return machine_intr_ack(o);
}

static u64 bus_clock_ns(void *o)
{
	return machine_clock_ns(o);
}

static bool bus_rdmsr(void *o, u32 msr, u64 *val)
{
	struct machine *m = o;

	return m->msr_rd && m->msr_rd(m->msr_dev, msr, val);
}

static bool bus_wrmsr(void *o, u32 msr, u64 val)
{
	struct machine *m = o;

	return m->msr_wr && m->msr_wr(m->msr_dev, msr, val);
}

static bool bus_tpr_read(void *o, u8 *tpr)
{
	struct machine *m = o;

	if (!m->tpr_rd)
		return false;
	*tpr = m->tpr_rd(m->tpr_dev);
	return true;
}

static bool bus_tpr_write(void *o, u8 tpr)
{
	struct machine *m = o;

	if (!m->tpr_wr)
		return false;
	m->tpr_wr(m->tpr_dev, tpr);
	return true;
}

/*
 * Timers: a list sorted by deadline.  A machine has a handful (PIT, RTC,
 * UART output, the terminal), so a list beats a heap.
 */
struct timer *timer_new(struct machine *m, timer_fn fn, void *opaque)
{
	struct timer *t = calloc(1, sizeof(*t));

	if (!t)
		die("out of memory");
	t->m = m;
	t->fn = fn;
	t->opaque = opaque;
	t->all_next = m->all_timers;
	m->all_timers = t;
	return t;
}

void timer_del(struct timer *t)
{
	struct timer **pp;

	if (!t->armed)
		return;
	for (pp = &t->m->timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->armed = false;
	t->next = NULL;
}

void timer_may_coalesce(struct timer *t)
{
	t->may_coalesce = true;
}

/* How far t's deadline lies after its last firing, 0 if not after one. */
static u64 since_fired(const struct timer *t)
{
	return t->fired && t->deadline > t->fired ? t->deadline - t->fired :
						    0;
}

/*
 * A deadline as far after the last firing as that was after the one
 * before (within 1/64: the guest converts its nanoseconds to TSC cycles
 * and back) is a tick.  It may wait as many whole periods as fit in the
 * window (wake_time()); anything else, such as a one-shot timer of the
 * guest's, the first ticks or a period too long to double up, waits for
 * nothing.  Only firings count, so arming the same deadline again changes
 * nothing.
 */
static void learn_period(struct timer *t)
{
	u64 iv = since_fired(t);
	u64 diff = iv > t->period ? iv - t->period : t->period - iv;

	t->tick = 0;
	if (iv && t->period && diff <= t->period / 64 &&
	    iv <= DEEP_COALESCE_NS)
		t->tick = iv;
}

/*M:230
 * Devices keep time with timers on the guest's clock: a callback and a
 * deadline in ns.  The run loop never runs the CPU past the next deadline
 * (M:240), so a timer fires at its virtual instant: the PIT's tick comes
 * after the instruction during which it was due, as on hardware.  One
 * case needs care.  A deadline armed from inside a slice (a device's port
 * write), before the slice's end, would be late: the CPU stops after this
 * instruction and the run loop starts a slice that ends on it.  A deadline
 * that is already due (a device asking to be called "soon", as the
 * terminal does to gather a burst of output into one write) waits for the
 * slice's end. :*/
void timer_mod(struct timer *t, u64 deadline_ns)
{
	struct machine *m = t->m;
	struct timer **pp;

	if (m->in_slice && deadline_ns < m->slice_end &&
	    deadline_ns > machine_clock_ns(m))
		cpu_stop(m->cpu);
	timer_del(t);
	t->deadline = deadline_ns;
	if (t->may_coalesce)
		learn_period(t);
	for (pp = &t->m->timers; *pp; pp = &(*pp)->next)
		if ((*pp)->deadline > deadline_ns)
			break;
	t->next = *pp;
	*pp = t;
	t->armed = true;
}

bool timer_pending(struct timer *t)
{
	return t->armed;
}

/* Fires every timer due at now.  A callback that re-arms at or before now
 * would loop here forever; the cap makes it wait for the next round. */
void machine_run_timers(struct machine *m)
{
	u64 now = machine_clock_ns(m);
	int n;

	for (n = 0; n < 64 && m->timers && m->timers->deadline <= now; n++) {
		struct timer *t = m->timers;

		m->timers = t->next;
		t->next = NULL;
		t->armed = false;
		t->period = since_fired(t);
		t->fired = t->deadline;
		t->fn(t->opaque);
	}
}

/* The next deadline, or UINT64_MAX with no timer armed. */
static u64 next_deadline(struct machine *m)
{
	return m->timers ? m->timers->deadline : UINT64_MAX;
}

/* How long, at host time host, a halted guest's tick may wait (M:255). */
static u64 coalesce_window(const struct machine *m, u64 host)
{
	u64 quiet = host > m->quiet_ns ? host - m->quiet_ns : 0;

	if (quiet / DEEP_SHARE < COALESCE_NS)
		return COALESCE_NS;
	return quiet / DEEP_SHARE < DEEP_COALESCE_NS ? quiet / DEEP_SHARE :
						       DEEP_COALESCE_NS;
}

/* When a halted guest must be woken: the first deadline, unless a tick
 * may wait for the ones after it (M:255). */
static u64 wake_time(struct machine *m, u64 host)
{
	u64 best = UINT64_MAX, window = coalesce_window(m, host), slack;
	struct timer *t;

	for (t = m->timers; t && t->deadline < best; t = t->next) {
		/* (a 64th over: a 4 ms window is one 4 ms tick, whichever
		 * way the guest's conversions rounded it) */
		slack = t->tick ? (window + t->tick / 64) / t->tick * t->tick :
				  0;
		if (t->deadline + slack < best)
			best = t->deadline + slack;
	}
	return best;
}

/*
 * Host file descriptors.
 */
static struct fd_watch *fd_find(struct machine *m, int fd)
{
	int i;

	for (i = 0; i < MAX_FDS; i++)
		if (m->fds[i].fd == fd)
			return &m->fds[i];
	return NULL;
}

void machine_add_fd(struct machine *m, int fd, u32 events, fd_fn fn,
		    void *opaque)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	struct fd_watch *w = fd_find(m, fd);

	if (w) {
		/* Watching again: new events and callback. */
		w->events = events;
		w->fn = fn;
		w->opaque = opaque;
		if (!w->always_ready &&
		    epoll_ctl(m->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
			die_errno("epoll_ctl(MOD, %d)", fd);
		return;
	}
	w = fd_find(m, -1);
	if (!w)
		die("too many host file descriptors to watch");
	*w = (struct fd_watch){ fd, events, false, fn, opaque };
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		/* Regular files (and /dev/null) are always ready, and epoll
		 * says EPERM: we call them on every poll instead. */
		if (errno != EPERM) {
			w->fd = -1;
			die_errno("epoll_ctl(ADD, %d)", fd);
		}
		w->always_ready = true;
		m->nr_always++;
	}
}

void machine_del_fd(struct machine *m, int fd)
{
	struct fd_watch *w = fd_find(m, fd);

	if (!w || fd < 0)
		return;
	if (w->always_ready)
		m->nr_always--;
	else
		epoll_ctl(m->epfd, EPOLL_CTL_DEL, fd, NULL);
	w->fd = -1;
}

/* Waits up to timeout_ns (0: just look) and calls the callbacks of ready
 * fds.  The callbacks may add and remove fds: each is looked up afresh.
 * Returns how many epoll reported ready. */
static int poll_fds(struct machine *m, u64 timeout_ns)
{
	struct epoll_event evs[MAX_FDS];
	struct timespec ts;
	int i, n;

	if (m->nr_always)
		timeout_ns = 0;
	ts.tv_sec = timeout_ns / 1000000000ULL;
	ts.tv_nsec = timeout_ns % 1000000000ULL;
	n = epoll_pwait2(m->epfd, evs, MAX_FDS, &ts, NULL);
	if (n < 0 && errno == ENOSYS)
		n = epoll_wait(m->epfd, evs, MAX_FDS,
			       (int)((timeout_ns + 999999) / 1000000));
	/* Input that woke a halted guest comes at the host's time. */
	if (m->halted)
		clock_follow_host(m);
	if (n > 0)
		m->quiet_ns = host_ns(m);
	for (i = 0; i < n; i++) {
		struct fd_watch *w = fd_find(m, evs[i].data.fd);

		if (w)
			w->fn(w->opaque, w->fd, evs[i].events);
	}
	for (i = 0; m->nr_always && i < MAX_FDS; i++) {
		struct fd_watch *w = &m->fds[i];

		if (w->fd >= 0 && w->always_ready)
			w->fn(w->opaque, w->fd,
			      w->events & (EPOLLIN | EPOLLOUT));
	}
	return n;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

bool machine_in_guest(struct machine *m)
{
	return m->in_slice && !m->clock;
}

void machine_add_idle_poll(struct machine *m, idle_poll_fn fn, void *opaque)
{
	if (m->nr_polls == MAX_IDLE_POLLS)
		die("too many devices poll when the guest halts");
	m->polls[m->nr_polls].fn = fn;
	m->polls[m->nr_polls].opaque = opaque;
	m->nr_polls++;
}

/*M:257
 * A guest that halts while a disk request is in flight on an I/O thread
 * usually waits for just that request, and the thread is about to finish
 * it: the copy of a cached megabyte takes a hundred microseconds or so.
 * Sleeping in epoll and being woken by the thread's eventfd adds a
 * wake-up and a trip through the host's scheduler to every such wait,
 * which on a busy host is as long as the copy itself.  So before the
 * sleep, the run loop asks the devices that have work in flight whether
 * it is done, for up to IDLE_POLL_NS (or until the next timer, if
 * sooner), and a completion raises its interrupt at once; with nothing in
 * flight it sleeps straight away, so an idle guest costs nothing more.
 * (QEMU polls its event sources the same way before it blocks.)  A
 * device may also do the work itself here, if it can without waiting
 * for the host (the disk's lone reads, V:225).  idle_poll() returns true
 * when an interrupt is pending for the guest. :*/
static bool idle_poll(struct machine *m, u64 max_ns)
{
	u64 start = 0, now;

	if (!m->nr_polls)
		return false;
	if (max_ns > IDLE_POLL_NS)
		max_ns = IDLE_POLL_NS;
	for (;;) {
		bool wait = false;

		for (int i = 0; i < m->nr_polls; i++)
			if (m->polls[i].fn(m->polls[i].opaque) != IDLE_POLL_NONE)
				wait = true;
		if (m->intr) {
			m->poll_hits++;
			m->quiet_ns = host_ns(m);
			return true;
		}
		if (!wait)
			return false;
		now = host_now_ns();
		if (!start)
			start = now;
		else if (now - start >= max_ns)
			return false;
		cpu_relax();
	}
}

void machine_poll(struct machine *m)
{
	poll_fds(m, 0);
	machine_run_timers(m);
}

/*
 * Making and ending.
 */

/*
 * LGUEST_SLICE=N caps every slice at N instructions.  Slices end where a
 * translated block does not fit, so tiny ones turn the rare meeting of a
 * slice's end with a fault into a frequent one: a stress knob for the
 * CPU's state at the seams, for hunting bugs by hand.
 */
static u64 max_slice_from_env(void)
{
	const char *e = getenv("LGUEST_SLICE");
	unsigned long long n;
	char *end;

	if (!e || !*e)
		return MAX_BUDGET;
	n = strtoull(e, &end, 10);
	if (*end || n < 1 || n > MAX_BUDGET)
		die("LGUEST_SLICE=%s: want a count of instructions from 1 to %llu",
		    e, (unsigned long long)MAX_BUDGET);
	return n;
}

static void mem_written_cpu(void *opaque, u64 gpa, u64 len)
{
	cpu_mem_written(opaque, gpa, len);
}

struct machine *machine_new(struct guest_mem *mem)
{
	struct machine *m = calloc(1, sizeof(*m));
	int i;

	if (!m)
		die("out of memory");
	m->mem = mem;
	m->clock_start = host_now_ns();
	m->max_slice = max_slice_from_env();
	for (i = 0; i < MAX_FDS; i++)
		m->fds[i].fd = -1;
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (m->epfd < 0)
		die_errno("epoll_create1");
	m->bus = (struct cpu_bus){
		.opaque = m,
		.io_in = bus_io_in,
		.io_out = bus_io_out,
		.mmio_read = bus_mmio_read,
		.mmio_write = bus_mmio_write,
		.intr_ack = bus_intr_ack,
		.clock_ns = bus_clock_ns,
		.rdmsr = bus_rdmsr,
		.wrmsr = bus_wrmsr,
		.tpr_read = bus_tpr_read,
		.tpr_write = bus_tpr_write,
	};
	m->cpu = cpu_new(mem->base, (u32)mem->size, &m->bus);
	if (!m->cpu)
		die("cannot make the CPU");
	/* Writes that bypass the CPU (M:125) reach its translator. */
	mem->written = mem_written_cpu;
	mem->written_opaque = m->cpu;
	/* Time stands still until machine_run() (devices are being made),
	 * which then brings it to the host's. */
	vclock_init(&m->vc, cpu_icount(m->cpu), 0, FIRST_NS_PER_INSN);
	return m;
}

void machine_add_cleanup(struct machine *m, void (*fn)(void *opaque),
			 void *opaque)
{
	struct cleanup *c = calloc(1, sizeof(*c));

	if (!c)
		die("out of memory");
	*c = (struct cleanup){ fn, opaque, m->cleanups };
	m->cleanups = c;
}

void machine_free(struct machine *m)
{
	struct timer *t, *next;
	struct cleanup *c;

	if (!m)
		return;
	while ((c = m->cleanups)) {
		m->cleanups = c->next;
		c->fn(c->opaque);
		free(c);
	}
	for (t = m->all_timers; t; t = next) {
		next = t->all_next;
		free(t);
	}
	m->mem->written = NULL;
	cpu_free(m->cpu);
	close(m->epfd);
	free(m);
}

struct guest_mem *machine_mem(struct machine *m)
{
	return m->mem;
}

struct cpu *machine_cpu(struct machine *m)
{
	return m->cpu;
}

void guest_kill(struct machine *m, const char *fmt, ...)
{
	va_list ap;

	if (!m->killed) {
		m->killed = true;
		va_start(ap, fmt);
		vsnprintf(m->kill_reason, sizeof(m->kill_reason), fmt, ap);
		va_end(ap);
	}
	machine_request_exit(m, end_status(END_KILLED));
}

bool guest_killed(struct machine *m)
{
	return m->killed;
}

void machine_request_exit(struct machine *m, int status)
{
	if (!m->exit_requested) {
		m->exit_requested = true;
		m->exit_status = status;
	}
	cpu_stop(m->cpu);
}

void machine_mark_panics(struct machine *m)
{
	m->mark_panics = true;
}

/*M:155
 * A reset is the end of the run (we have no firmware to start again
 * with), and so is a Linux panic: the loader gives Linux panic=-1, and a
 * panicking kernel resets at once through the same lines as a reboot.
 * To tell the two apart under --exit-port, the loader also gives it
 * reboot=panic_warm: Linux then writes the BIOS warm-boot flag, 0x1234 at
 * 0x472, just before a panic's reset, and 0 before any other (x86's
 * emergency restart writes the flag every time, warm or cold).  The flag
 * is the guest's word and is trusted with nothing but the choice between
 * two even statuses. :*/
#define BIOS_RESET_FLAG	0x472
#define BIOS_WARM_BOOT	0x1234

void machine_reset(struct machine *m, const char *why)
{
	const u8 *flag = guest_ptr(m->mem, BIOS_RESET_FLAG, 2);
	bool panic = m->mark_panics && flag &&
		     get_le16(flag) == BIOS_WARM_BOOT;

	verbose("guest reset (%s)%s", why, panic ? ": a Linux panic" : "");
	machine_request_exit(m, end_status(panic ? END_PANIC : END_RESET));
}

/*
 * The run loop.
 */

/* The instructions until the next deadline, or a whole slice: the slice
 * ends on the instruction during which the deadline passes. */
static u64 slice_budget(struct machine *m)
{
	u64 now = machine_clock_ns(m), end = now + SLICE_NS, b;

	if (next_deadline(m) < end)
		end = next_deadline(m);
	m->slice_end = end;
	if (m->clock)
		return TEST_BUDGET;
	if (end <= now)
		b = MIN_BUDGET;
	else
		b = vclock_insns_until(&m->vc, cpu_icount(m->cpu), end);
	if (b < 1)
		b = 1;
	if (b > m->max_slice)
		b = m->max_slice;
	return b;
}

/*M:250
 * HLT with IF=1: the guest has nothing to do until a timer or input, and
 * neither have we.  An interrupt that is already pending needs no sleep at
 * all.  Otherwise time follows the host's, and we sleep in epoll until the
 * host's clock reaches the next deadline or a host fd wakes us: an idle
 * guest costs the host next to nothing, which a polling emulator cannot
 * say.  A guest that fell behind (a long tick missed while the host was
 * busy) is not made to skip ticks: time moves only to the next deadline,
 * the guest takes that tick and halts again, and so on until it has
 * caught up, as Linux in periodic mode, counting jiffies by ticks, wants.
 * :*/
/*M:255
 * A periodic tick need not wake the host each time.  Debian's 686 kernel
 * ticks 250 times a second whatever it is doing; each tick runs a few
 * thousand guest instructions, and what costs the host is less those
 * than waking for them: the system call and the switch into the process,
 * and the translated code, the TLB and the tables gone cold in the host's
 * caches in the 4 ms between (perf, idle at the prompt: a tick taken
 * alone cost three times one taken right after another).  So a deadline
 * that the guest's tick device (the APIC timer, the PIT: they ask with
 * timer_may_coalesce()) has armed at the same period as the last one may
 * wait, while the guest is halted, up to COALESCE_NS of host time, in
 * whole periods: at 250 Hz the host wakes every other tick and the guest
 * takes the two back to back, each at its own instant of the guest's
 * clock (time moves to one deadline, then the next, as above), so the
 * guest sees every tick where it was due and counts no lost time.  What
 * the world outside sees is a halted guest's timers served up to one
 * such wait late; input is not delayed (a host fd ends the sleep at
 * once, and the guest's clock moves to the host's, or to the first tick
 * due, as ever).  A one-shot deadline, or any other device's timer, ends
 * the sleep on time, and a tickless guest, whose deadlines do not repeat,
 * is not touched.
 *
 * Two ticks a wake-up still cost an idle 686 guest 2.5% of a host CPU
 * (120 us for the first tick, run cold, 16 us for the second).  So the
 * wait grows with how long the guest has shown no sign of life but its
 * ticks (no host fd's event, no busy slice): a 16th of that while, whole
 * periods of it, up to DEEP_COALESCE_NS (after 1 s: a wake-up for 17
 * ticks; under 1% of a host CPU, where a wait of 64 ms all the time
 * measured 0.75%).  A timer of the guest's own that is not the tick
 * (Linux's soft-lockup watchdog, every 4 s; a program's sleep) fires on
 * time but is no sign of life: nobody outside waits on it, and what it
 * sets off, if it is work, shows as busy slices.  Counting it started
 * the while again every 4 s, and an idle 686 guest woke the host 22
 * times a second where it now does 14.  A timer the guest set inside its
 * kernel, behind the next tick where we cannot see it, may then fire
 * that much later in host time (at its own instant of the guest's clock,
 * as every tick): at most a 16th of the quiet before it, as Linux's own
 * timer wheel rounds a timeout far off by up to an eighth.  Any sign of
 * life brings the wait back to COALESCE_NS at once.
 * :*/
static void idle(struct machine *m)
{
	u64 host, now, dl = next_deadline(m), wait;

	if (m->intr)
		return;
	if (m->clock) {		/* a test's clock does not move by itself */
		poll_fds(m, 0);
		return;
	}
	host = host_ns(m);
	if (!m->trimmed && host - m->busy_ns > TRIM_IDLE_NS) {
		/* Idle a while: what the boot or the last program
		 * translated can go back to the host. */
		cpu_jit_trim(m->cpu);
		m->trimmed = true;
	}
	vclock_idle(&m->vc, cpu_icount(m->cpu), host, dl);
	now = machine_clock_ns(m);
	/* Behind the host, time has moved to the deadline: no sleep.
	 * Otherwise it is the host's time or ahead of it (then it waits for
	 * the host), and the sleep lasts until the host reaches dl, or the
	 * later instant a tick may wait for (M:255). */
	wait = dl <= now ? 0 : wake_time(m, host) - host;
	if (wait > MAX_SLEEP_NS)
		wait = MAX_SLEEP_NS;
	m->halted = true;
	if (wait && idle_poll(m, wait)) {
		clock_follow_host(m);
		m->halted = false;
		return;
	}
	if (poll_fds(m, wait) > 0)
		m->fd_wakes++;
	m->sleeps++;
	m->halted = false;
}

static bool guest_if(struct machine *m)
{
	struct cpu_regs r;

	cpu_get_regs(m->cpu, &r);
	return r.eflags & 0x200;
}

static void report_clock(struct machine *m)
{
	const struct vclock *vc = &m->vc;
	struct cpu_jit_stats js;

	if (m->clock)
		return;
	verbose("clock: %llu host clock reads, %llu slice syncs, %llu "
		"jumps; behind the host by up to %.1f ms, ahead by up to "
		"%.1f ms; %.2f ns per instruction at the end",
		(unsigned long long)m->host_reads,
		(unsigned long long)vc->syncs, (unsigned long long)vc->jumps,
		vc->max_behind / 1e6, vc->max_ahead / 1e6,
		vclock_ns_per_insn(vc));
	verbose("run loop: %llu guest instructions, %llu sleeps in epoll "
		"(%llu woken by a host fd, the rest by a timer)",
		(unsigned long long)cpu_icount(m->cpu),
		(unsigned long long)m->sleeps,
		(unsigned long long)m->fd_wakes);
	if (m->nr_polls)
		verbose("run loop: %llu halts ended by a completion seen "
			"while polling (M:257)",
			(unsigned long long)m->poll_hits);
	cpu_jit_stats(m->cpu, &js);
	if (js.limit)
		verbose("translator: arena filled to %zu of %zu KiB (%zu KiB "
			"resident), %llu KiB written, %u times emptied (%u "
			"while idle), %u times grown",
			js.used >> 10, js.limit >> 10, js.resident >> 10,
			(unsigned long long)(js.bytes >> 10), js.flushes,
			js.trims, js.grown);
	if (js.limit)
		verbose("translator: %llu writes found a page of translated "
			"code, %llu blocks dropped, %llu blocks made with a "
			"write-through cache, %llu chains hand on registers "
			"(%llu through an adapter)",
			(unsigned long long)js.code_writes,
			(unsigned long long)js.drops,
			(unsigned long long)js.write_through,
			(unsigned long long)js.hot_links,
			(unsigned long long)js.adapters);
}

/*M:240
 * The run loop: the one thread that runs the guest.  Each turn fires the
 * timers that are due, looks at the host's fds every 2 ms of guest time
 * without waiting (a disk completion, a network frame, a key), then gives
 * the CPU a budget of instructions that ends exactly on the next timer's
 * deadline, or after half a millisecond of guest time, whichever is first.
 * The CPU comes back when the budget is spent or something needs the
 * machine (C:110): then the virtual clock meets the host's (M:260), or the
 * guest halts and the machine waits for it (M:250), or the guest has
 * triple-faulted and is killed (M:140).  A HLT with interrupts off is how
 * Linux without ACPI powers off, and nothing could ever wake such a CPU,
 * so it ends the run with status 0.  Everything else that ends a run
 * (M:150) asks for it, and the loop stops at the next turn.
 */
int machine_run(struct machine *m)
{
	u64 last_poll = 0;

	/* Making the machine took the host's time, not the guest's. */
	clock_follow_host(m);
	while (!m->exit_requested) {
		u64 now, budget;
		enum cpu_event ev;

		machine_run_timers(m);
		now = machine_clock_ns(m);
		if (now - last_poll >= FD_POLL_NS) {
			poll_fds(m, 0);
			last_poll = now;
		}
		if (m->exit_requested)
			break;
		budget = slice_budget(m);
		m->in_slice = true;
		ev = cpu_run(m->cpu, budget);
		m->in_slice = false;
		switch (ev) {
		case CPU_BUDGET:
		case CPU_STOPPED:
			clock_sync(m);
			break;
		case CPU_HALT:
			/* Linux without ACPI powers off with cli; hlt.  Only
			 * an NMI could wake this CPU, and none of our devices
			 * raises one by itself (an NMI IPI is the CPU's own
			 * doing, taken before HLT). */
			if (!guest_if(m)) {
				verbose("guest halted with interrupts off: "
					"powered off");
				machine_request_exit(m,
						     end_status(END_POWEROFF));
				break;
			}
			idle(m);
			last_poll = machine_clock_ns(m);
			break;
		case CPU_SHUTDOWN:
			guest_kill(m, "triple fault: %s", cpu_error(m->cpu));
			break;
		}
	}
	report_clock(m);
	if (m->killed) {
		fprintf(stderr, "lguest: guest killed: %s\r\n", m->kill_reason);
		return end_status(END_KILLED);
	}
	return m->exit_status;
}
/* The kill reason is printed here, once the loop has stopped, not where
 * the problem was found: by then the CPU is still and the message cannot
 * land in the middle of the guest's own output. :*/
