/*
 * The 8254 PIT.  A channel keeps no running counter: it remembers the
 * machine-clock tick at which it (re)started counting from its reload
 * value, and computes the counter and its OUT pin from the ticks elapsed
 * since.  Channel 0 arms a machine timer for its next rising OUT edge,
 * which is IRQ 0.
 *
 * Modes 0-5 are modelled, with binary or BCD counts, LSB/MSB/word access,
 * the counter-latch and read-back commands.  The gate matters only for
 * channel 2 (channels 0 and 1 have theirs tied high): low pauses modes 0
 * and 4 and stops modes 2 and 3 with OUT high; a rising edge triggers
 * modes 1 and 5 and restarts modes 2 and 3.
 *
 * Port 0x61 lives here because it is channel 2's other half: bit 0 drives
 * the gate, bit 5 reads OUT2, bit 4 toggles with the DRAM refresh every
 * 15.085 us (some code times short delays by it).
 */
#include <stdlib.h>

#include "pit.h"

enum { RW_LATCH, RW_LSB, RW_MSB, RW_WORD };

struct pit_channel {
	struct pit *pit;
	int idx;
	u32 count;		/* reload value in binary: 1 .. 0x10000 */
	u8 mode, rw;
	bool bcd;
	bool gate;
	bool loaded;		/* a count came after the control word */
	bool triggered;		/* modes 1 and 5: the gate rose */
	u64 start;		/* tick at which counting began */
	u64 frozen;		/* elapsed ticks while the gate holds it */
	bool write_msb;		/* word access: next write is the MSB */
	u8 write_lsb;
	bool read_msb;		/* word access: next read is the MSB */
	u8 latch_left;		/* bytes of the latch left to read: 0-2 */
	u16 latch;
	bool status_latched;
	u8 status;
	struct timer *timer;	/* channel 0 only */
};

struct pit {
	struct machine *m;
	struct pit_channel ch[3];
	u8 port61;		/* the bits of port 0x61 the guest wrote */
};

static u64 now_tick(struct pit *p)
{
	return (unsigned __int128)machine_clock_ns(p->m) * PIT_HZ /
	       1000000000ULL;
}

/* The first nanosecond at which tick t has begun. */
static u64 tick_ns(u64 t)
{
	return ((unsigned __int128)t * 1000000000ULL + PIT_HZ - 1) / PIT_HZ;
}

static bool gate_pauses(const struct pit_channel *c)
{
	return !c->gate && c->mode != 1 && c->mode != 5;
}

/* Ticks counted since the count was loaded (or the trigger). */
static u64 elapsed(struct pit_channel *c, u64 now)
{
	if (!c->loaded)
		return 0;
	if ((c->mode == 1 || c->mode == 5) && !c->triggered)
		return 0;
	if (gate_pauses(c))
		return c->frozen;
	return now - c->start;
}

static u32 modulus(const struct pit_channel *c)
{
	return c->bcd ? 10000 : 0x10000;
}

/* The counter as the guest reads it, in binary. */
static u32 counter(struct pit_channel *c, u64 now)
{
	u64 d = elapsed(c, now);
	u32 n = c->count, mod = modulus(c);

	if (!c->loaded)
		return n % mod;
	switch (c->mode) {
	case 2:
		return (n - d % n) % mod;
	case 3:
		return (n - (2 * d) % n) % mod;
	case 1:
	case 5:
		if (!c->triggered)
			return n % mod;
		/* fall through */
	default:		/* 0, 4: counts on through zero, wrapping */
		return (u32)((n + mod - d % mod) % mod);
	}
}

static bool out_pin(struct pit_channel *c, u64 now)
{
	u64 d = elapsed(c, now);
	u32 n = c->count;

	if (!c->loaded)
		return c->mode != 0;
	switch (c->mode) {
	case 0:
		return d >= n;
	case 1:
		return !c->triggered || d >= n;
	case 2:
		return !c->gate || n < 2 || d % n != n - 1;
	case 3:
		return !c->gate || d % n < (n + 1) / 2;
	case 4:
		return d != n;
	default:		/* 5 */
		return !c->triggered || d != n;
	}
}

/* The tick of OUT's next rising edge after now, or 0 if none comes. */
static u64 next_edge(struct pit_channel *c, u64 now)
{
	u64 d = elapsed(c, now);
	u32 n = c->count;

	if (!c->loaded || gate_pauses(c))
		return 0;
	switch (c->mode) {
	case 0:
		return d < n ? c->start + n : 0;
	case 2:
	case 3:
		return c->start + (d / n + 1) * n;
	case 4:
		return d <= n ? c->start + n + 1 : 0;
	default:
		return 0;
	}
}

static void arm(struct pit_channel *c)
{
	u64 edge;

	if (!c->timer)
		return;
	edge = next_edge(c, now_tick(c->pit));
	if (edge)
		timer_mod(c->timer, tick_ns(edge));
	else
		timer_del(c->timer);
}

/* Channel 0's tick.  The run loop ends its slice on the deadline of the
 * machine's virtual clock, so the tick comes on time; one the guest cannot
 * take yet (interrupts off) waits in the PIC, and a second one merges with
 * it, as on a PC.  The next is the next rising edge after now. */
static void channel0_fire(void *opaque)
{
	struct pit_channel *c = opaque;

	machine_set_irq(c->pit->m, 0, 1);
	machine_set_irq(c->pit->m, 0, 0);
	arm(c);
}

static u32 from_bcd(u32 v)
{
	return (v >> 12 & 0xf) * 1000 + (v >> 8 & 0xf) * 100 +
	       (v >> 4 & 0xf) * 10 + (v & 0xf);
}

static u32 to_bcd(u32 v)
{
	return (v / 1000 % 10) << 12 | (v / 100 % 10) << 8 |
	       (v / 10 % 10) << 4 | v % 10;
}

static void load_count(struct pit_channel *c, u32 raw)
{
	u32 n = c->bcd ? from_bcd(raw) : raw;

	if (n == 0)
		n = modulus(c);
	c->count = n;
	c->loaded = true;
	c->triggered = false;
	c->start = now_tick(c->pit);
	c->frozen = 0;
	arm(c);
}

static void write_counter(struct pit_channel *c, u8 val)
{
	switch (c->rw) {
	case RW_LSB:
		load_count(c, val);
		break;
	case RW_MSB:
		load_count(c, (u32)val << 8);
		break;
	default:
		if (!c->write_msb) {
			c->write_lsb = val;
			c->write_msb = true;
			/* Mode 0 stops counting on the first byte. */
			if (c->mode == 0) {
				c->loaded = false;
				arm(c);
			}
		} else {
			c->write_msb = false;
			load_count(c, c->write_lsb | (u32)val << 8);
		}
		break;
	}
}

static u16 visible(struct pit_channel *c, u32 v)
{
	return c->bcd ? to_bcd(v) : (u16)v;
}

static void latch_count(struct pit_channel *c)
{
	if (c->latch_left)
		return;		/* an unread latch holds */
	c->latch = visible(c, counter(c, now_tick(c->pit)));
	c->latch_left = c->rw == RW_WORD ? 2 : 1;
}

static void latch_status(struct pit_channel *c)
{
	if (c->status_latched)
		return;
	c->status = (out_pin(c, now_tick(c->pit)) << 7) | (!c->loaded << 6) |
		    (c->rw << 4) | (c->mode << 1) | c->bcd;
	c->status_latched = true;
}

static u8 read_counter(struct pit_channel *c)
{
	u16 v;
	bool msb;

	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	if (c->latch_left) {
		msb = c->rw == RW_MSB || (c->rw == RW_WORD &&
					   c->latch_left == 1);
		c->latch_left--;
		return msb ? c->latch >> 8 : c->latch & 0xff;
	}
	v = visible(c, counter(c, now_tick(c->pit)));
	if (c->rw == RW_WORD) {
		msb = c->read_msb;
		c->read_msb = !c->read_msb;
	} else {
		msb = c->rw == RW_MSB;
	}
	return msb ? v >> 8 : v & 0xff;
}

static void control_word(struct pit *p, u8 val)
{
	struct pit_channel *c;
	int i;

	if ((val >> 6) == 3) {		/* read-back */
		for (i = 0; i < 3; i++) {
			if (!(val & (2 << i)))
				continue;
			if (!(val & 0x20))
				latch_count(&p->ch[i]);
			if (!(val & 0x10))
				latch_status(&p->ch[i]);
		}
		return;
	}
	c = &p->ch[val >> 6];
	if (((val >> 4) & 3) == RW_LATCH) {
		latch_count(c);
		return;
	}
	c->rw = (val >> 4) & 3;
	c->mode = (val >> 1) & 7;
	if (c->mode > 5)
		c->mode -= 4;	/* 6 and 7 are aliases of 2 and 3 */
	c->bcd = val & 1;
	c->loaded = false;
	c->triggered = false;
	c->write_msb = c->read_msb = false;
	c->latch_left = 0;
	c->status_latched = false;
	arm(c);
}

static void set_gate(struct pit_channel *c, bool gate)
{
	u64 now = now_tick(c->pit);

	if (gate == c->gate)
		return;
	if (!gate) {
		c->frozen = elapsed(c, now);
		c->gate = false;
		return;
	}
	c->gate = true;
	if (!c->loaded)
		return;
	switch (c->mode) {
	case 0:
	case 4:			/* resume where the count stood */
		c->start = now - c->frozen;
		break;
	case 1:
	case 5:
		c->triggered = true;
		/* fall through */
	default:		/* 2, 3: reload and start a period */
		c->start = now;
		break;
	}
	arm(c);
}

static u32 pit_read(void *opaque, u16 port, int size)
{
	struct pit *p = opaque;

	(void)size;
	if (port == 0x43)
		return 0xff;	/* the control register is write-only */
	return read_counter(&p->ch[port - 0x40]);
}

static void pit_write(void *opaque, u16 port, u32 val, int size)
{
	struct pit *p = opaque;

	(void)size;
	if (port == 0x43)
		control_word(p, val & 0xff);
	else
		write_counter(&p->ch[port - 0x40], val & 0xff);
}

static u32 port61_read(void *opaque, u16 port, int size)
{
	struct pit *p = opaque;
	u64 ns = machine_clock_ns(p->m);
	u8 v = p->port61 & 0x0f;

	(void)port;
	(void)size;
	if ((ns / 15085) & 1)
		v |= 0x10;
	if (out_pin(&p->ch[2], now_tick(p)))
		v |= 0x20;
	return v;
}

/*D:130
 * Channel 2 and port 0x61 are here for one reader above all: Linux, which
 * at boot measures how fast the TSC runs by timing it against the PIT.  It
 * sets channel 2's gate through bit 0 of port 0x61, loads a count, and
 * reads the TSC until bit 5 (OUT2) says the count has run out; it does
 * this several times and refuses a result whose runs disagree.  Both the
 * PIT and the TSC read the machine's one clock (M:220), and that clock
 * moves with the instructions the guest runs, so the measurement comes
 * out the same every time, however busy the host is: the reason the
 * clock is virtual at all (M:260).  Bit 4 toggles with the DRAM refresh
 * every 15.085 us, for the older code that times short delays by it.
 */
static void port61_write(void *opaque, u16 port, u32 val, int size)
{
	struct pit *p = opaque;

	(void)port;
	(void)size;
	p->port61 = val & 0x0f;
	set_gate(&p->ch[2], val & 1);
}
/* Bit 1 would drive the PC speaker from OUT2; it is kept, so the guest
 * reads back what it wrote, and the speaker stays silent. :*/

struct pit *pit_new(struct machine *m)
{
	struct pit *p = calloc(1, sizeof(*p));
	int i;

	if (!p)
		die("out of memory");
	p->m = m;
	for (i = 0; i < 3; i++) {
		struct pit_channel *c = &p->ch[i];

		c->pit = p;
		c->idx = i;
		c->count = 0x10000;
		c->rw = RW_WORD;
		c->mode = 3;
		c->gate = i != 2;
	}
	p->ch[0].timer = timer_new(m, channel0_fire, &p->ch[0]);
	timer_may_coalesce(p->ch[0].timer);
	machine_add_ports(m, 0x40, 4, p, pit_read, pit_write);
	machine_add_ports(m, 0x61, 1, p, port61_read, port61_write);
	machine_add_cleanup(m, free, p);
	return p;
}
