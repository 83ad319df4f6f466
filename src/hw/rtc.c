/*
 * The CMOS RTC.  The guest's wall clock is the host's realtime clock at
 * machine start plus machine_clock_ns() (so it advances with the one time
 * source) plus an offset the guest sets by writing the time registers.
 *
 * Register B chooses BCD or binary and 12- or 24-hour format, and its SET
 * bit freezes the registers while the guest writes a new time; register A
 * shows the update-in-progress bit during the last 244 us of each second,
 * which Linux waits out before it reads; register D says the battery is
 * good.  Periodic, alarm and update-ended interrupts come on IRQ 8 with
 * their flags in register C, which a read clears.  The other 114 bytes are
 * plain CMOS memory; a few hold what a BIOS would leave there.
 */
#include <stdlib.h>
#include <time.h>

#include "rtc.h"

enum {
	SEC, SEC_ALARM, MIN, MIN_ALARM, HOUR, HOUR_ALARM, WDAY, MDAY, MONTH,
	YEAR, REG_A, REG_B, REG_C, REG_D, CENTURY = 0x32,
};

#define A_UIP 0x80
#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_DM_BINARY 0x04
#define B_24H 0x02
#define C_IRQF 0x80
#define D_VRT 0x80

#define NS 1000000000LL
#define UIP_NS 244000LL

struct rtc {
	struct machine *m;
	u8 index;
	u8 cmos[128];
	s64 realtime_at_start;	/* host realtime (ns) at machine clock 0 */
	s64 offset;		/* guest time - host time, ns */
	u8 flags;		/* register C's PF, AF, UF */
	s64 flags_seen;		/* guest time of the last C read */
	struct timer *timer;
};

static s64 guest_ns(struct rtc *r)
{
	return r->realtime_at_start + (s64)machine_clock_ns(r->m) + r->offset;
}

static u8 encode(struct rtc *r, int v)
{
	if (r->cmos[REG_B] & B_DM_BINARY)
		return v;
	return (v / 10) << 4 | v % 10;
}

static int decode(struct rtc *r, u8 v)
{
	if (r->cmos[REG_B] & B_DM_BINARY)
		return v;
	return (v >> 4) * 10 + (v & 0x0f);
}

static u8 encode_hour(struct rtc *r, int h)
{
	bool pm = h >= 12;

	if (r->cmos[REG_B] & B_24H)
		return encode(r, h);
	h %= 12;
	return encode(r, h ? h : 12) | (pm ? 0x80 : 0);
}

static int decode_hour(struct rtc *r, u8 v)
{
	int h;

	if (r->cmos[REG_B] & B_24H)
		return decode(r, v);
	h = decode(r, v & 0x7f) % 12;
	return (v & 0x80) ? h + 12 : h;
}

/* Writes the time registers from the clock. */
static void snapshot(struct rtc *r)
{
	time_t secs = guest_ns(r) / NS;
	struct tm tm;

	gmtime_r(&secs, &tm);
	r->cmos[SEC] = encode(r, tm.tm_sec);
	r->cmos[MIN] = encode(r, tm.tm_min);
	r->cmos[HOUR] = encode_hour(r, tm.tm_hour);
	r->cmos[WDAY] = encode(r, tm.tm_wday + 1);
	r->cmos[MDAY] = encode(r, tm.tm_mday);
	r->cmos[MONTH] = encode(r, tm.tm_mon + 1);
	r->cmos[YEAR] = encode(r, tm.tm_year % 100);
	r->cmos[CENTURY] = encode(r, 19 + tm.tm_year / 100);
}

/* SET was cleared: the registers hold the guest's new time. */
static void take_guest_time(struct rtc *r)
{
	struct tm tm = { 0 };
	time_t secs;

	tm.tm_sec = decode(r, r->cmos[SEC]);
	tm.tm_min = decode(r, r->cmos[MIN]);
	tm.tm_hour = decode_hour(r, r->cmos[HOUR]);
	tm.tm_mday = decode(r, r->cmos[MDAY]);
	tm.tm_mon = decode(r, r->cmos[MONTH]) - 1;
	tm.tm_year = decode(r, r->cmos[CENTURY]) * 100 +
		     decode(r, r->cmos[YEAR]) - 1900;
	secs = timegm(&tm);
	if (secs == (time_t)-1)
		return;		/* nonsense: keep the clock as it was */
	r->offset += (s64)secs * NS - guest_ns(r) / NS * NS;
}

static s64 period_ns(struct rtc *r)
{
	int rate = r->cmos[REG_A] & 0x0f;

	if (!rate)
		return 0;
	if (rate <= 2)
		rate += 7;	/* 1 and 2 repeat 8 and 9, as on the chip */
	return ((s64)1 << (rate - 1)) * NS / 32768;
}

static bool alarm_matches(struct rtc *r)
{
	static const int pairs[3][2] = {
		{ SEC_ALARM, SEC }, { MIN_ALARM, MIN }, { HOUR_ALARM, HOUR },
	};
	int i;

	for (i = 0; i < 3; i++) {
		u8 a = r->cmos[pairs[i][0]];

		if ((a & 0xc0) != 0xc0 && a != r->cmos[pairs[i][1]])
			return false;	/* 0xc0-0xff: don't care */
	}
	return true;
}

/* Brings register C's flags up to now: the seconds and periods passed
 * since they were last read set UF and PF whether or not they interrupt. */
static void catch_up_flags(struct rtc *r, s64 now)
{
	s64 p = period_ns(r);

	if (now / NS != r->flags_seen / NS)
		r->flags |= 0x10;
	if (p && now / p != r->flags_seen / p)
		r->flags |= 0x40;
}

static bool running(struct rtc *r)
{
	return !(r->cmos[REG_B] & B_SET) && (r->cmos[REG_A] & 0x70) == 0x20;
}

static void arm(struct rtc *r)
{
	u8 b = r->cmos[REG_B];
	s64 now = guest_ns(r), next = INT64_MAX, p = period_ns(r);

	if ((b & B_PIE) && p)
		next = (now / p + 1) * p;
	if ((b & (B_UIE | B_AIE)) && running(r) && (now / NS + 1) * NS < next)
		next = (now / NS + 1) * NS;
	if (next == INT64_MAX) {
		timer_del(r->timer);
		return;
	}
	timer_mod(r->timer, machine_clock_ns(r->m) + (u64)(next - now));
}

static void tick(void *opaque)
{
	struct rtc *r = opaque;
	u8 b = r->cmos[REG_B];
	s64 now = guest_ns(r);

	catch_up_flags(r, now);
	r->flags_seen = now;
	if ((r->flags & 0x10) && running(r)) {
		snapshot(r);
		if (alarm_matches(r))
			r->flags |= 0x20;
	}
	if (r->flags & b & (B_PIE | B_AIE | B_UIE)) {
		machine_set_irq(r->m, 8, 1);
		machine_set_irq(r->m, 8, 0);
	}
	arm(r);
}

static u8 read_reg(struct rtc *r, u8 idx)
{
	s64 now = guest_ns(r);
	u8 v;

	switch (idx) {
	case SEC:
	case MIN:
	case HOUR:
	case WDAY:
	case MDAY:
	case MONTH:
	case YEAR:
	case CENTURY:
		if (running(r))
			snapshot(r);
		return r->cmos[idx];
	case REG_A:
		v = r->cmos[REG_A] & 0x7f;
		if (running(r) && now % NS >= NS - UIP_NS)
			v |= A_UIP;
		return v;
	case REG_C:
		catch_up_flags(r, now);
		r->flags_seen = now;
		v = r->flags;
		if (v & r->cmos[REG_B] & (B_PIE | B_AIE | B_UIE))
			v |= C_IRQF;
		r->flags = 0;
		return v;
	case REG_D:
		return D_VRT;
	default:
		return r->cmos[idx];
	}
}

static void write_reg(struct rtc *r, u8 idx, u8 val)
{
	u8 old;

	switch (idx) {
	case REG_A:
		r->cmos[REG_A] = val & 0x7f;
		break;
	case REG_B:
		old = r->cmos[REG_B];
		if (!(old & B_SET) && (val & B_SET)) {
			snapshot(r);
			val &= ~B_UIE;	/* SET clears UIE, says the sheet */
		}
		r->cmos[REG_B] = val;
		if ((old & B_SET) && !(val & B_SET))
			take_guest_time(r);
		else if ((old ^ val) & (B_DM_BINARY | B_24H))
			snapshot(r);
		break;
	case REG_C:
	case REG_D:
		break;		/* read-only */
	default:
		r->cmos[idx] = val;
		break;
	}
	arm(r);
}

static u32 rtc_read(void *opaque, u16 port, int size)
{
	struct rtc *r = opaque;

	(void)size;
	if (port == 0x70)
		return r->index;
	return read_reg(r, r->index);
}

static void rtc_write(void *opaque, u16 port, u32 val, int size)
{
	struct rtc *r = opaque;

	(void)size;
	if (port == 0x70)
		r->index = val & 0x7f;	/* bit 7 masks NMI: we have none */
	else
		write_reg(r, r->index, val & 0xff);
}

/* What a BIOS leaves in CMOS that a kernel might look at. */
static void bios_bytes(struct rtc *r)
{
	u64 ext = machine_mem(r->m)->size;
	u64 kb = ext > MiB ? (ext - MiB) / KiB : 0;
	u64 blocks = ext > 16 * MiB ? (ext - 16 * MiB) / (64 * KiB) : 0;

	if (kb > 0xffff)
		kb = 0xffff;
	if (blocks > 0xffff)
		blocks = 0xffff;
	r->cmos[0x10] = 0;		/* no floppy drives */
	r->cmos[0x14] = 0x06;		/* equipment: FPU, display */
	r->cmos[0x15] = 640 & 0xff;	/* base memory, KiB */
	r->cmos[0x16] = 640 >> 8;
	r->cmos[0x17] = r->cmos[0x30] = kb & 0xff;
	r->cmos[0x18] = r->cmos[0x31] = kb >> 8;
	r->cmos[0x34] = blocks & 0xff;
	r->cmos[0x35] = blocks >> 8;
}

/*D:140
 * The CMOS clock is where a PC guest learns the date.  Its wall clock is
 * the host's real time when the machine was made, moved on by the
 * machine's clock (M:220), plus whatever offset the guest set by writing
 * the time registers: one time source for everything, so the guest's date
 * and its timer ticks never drift apart, and a guest that sets its clock
 * changes its own idea of the time and never the host's.  The rest of
 * CMOS holds what a BIOS would leave there (memory sizes, no floppy), in
 * case a kernel looks.
 */
struct rtc *rtc_new(struct machine *m)
{
	struct rtc *r = calloc(1, sizeof(*r));
	struct timespec ts;

	if (!r)
		die("out of memory");
	r->m = m;
	clock_gettime(CLOCK_REALTIME, &ts);
	r->realtime_at_start = (s64)ts.tv_sec * NS + ts.tv_nsec -
			       (s64)machine_clock_ns(m);
	r->cmos[REG_A] = 0x26;		/* 32.768 kHz time base, 1024 Hz */
	r->cmos[REG_B] = B_24H;		/* BCD, 24 hours, no interrupts */
	bios_bytes(r);
	snapshot(r);
	r->flags_seen = guest_ns(r);
	r->timer = timer_new(m, tick, r);
	machine_add_ports(m, 0x70, 2, r, rtc_read, rtc_write);
	machine_add_cleanup(m, free, r);
	return r;
}
/* It starts in BCD with a 24-hour clock and no interrupts, as a BIOS
 * leaves it; Linux reads register B and copes with either. :*/
