/*
 * Unit tests of the PC platform: each device driven through its ports as
 * a guest would, on a machine from machine_new() over a small RAM with a
 * stand-in CPU (stub_cpu.c) and, where time matters, a clock the test
 * moves by hand.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hw/i8042.h"
#include "hw/pc.h"
#include "hw/pic.h"
#include "hw/pit.h"
#include "hw/rtc.h"
#include "hw/uart.h"
#include "machine.h"
#include "memory.h"
#include "stub_cpu.h"
#include "tap.h"

static u64 fake_ns;

static u64 fake_clock(void *opaque)
{
	(void)opaque;
	return fake_ns;
}

static struct guest_mem mem;

static struct machine *new_machine(bool fake)
{
	struct machine *m = machine_new(&mem);

	if (fake) {
		fake_ns = 1000;
		machine_set_clock(m, fake_clock, NULL);
	}
	return m;
}

static u8 inb(struct machine *m, u16 port)
{
	return stub_in(machine_cpu(m), port, 1);
}

static void outb(struct machine *m, u16 port, u8 val)
{
	stub_out(machine_cpu(m), port, val, 1);
}

static bool intr(struct machine *m)
{
	return machine_cpu(m)->intr;
}

/* Linux's init_8259A(): vectors 0x30 and 0x38, all masked. */
static void pic_init_linux(struct machine *m, bool auto_eoi)
{
	outb(m, 0x21, 0xff);
	outb(m, 0xa1, 0xff);
	outb(m, 0x20, 0x11);
	outb(m, 0x21, 0x30);
	outb(m, 0x21, 0x04);
	outb(m, 0x21, auto_eoi ? 0x03 : 0x01);
	outb(m, 0xa0, 0x11);
	outb(m, 0xa1, 0x38);
	outb(m, 0xa1, 0x02);
	outb(m, 0xa1, 0x01);
	outb(m, 0x21, 0x00);
	outb(m, 0xa1, 0x00);
}

static void test_bus(void)
{
	struct machine *m = new_machine(false);

	CHECK_EQ(stub_in(machine_cpu(m), 0x1234, 4), 0xffffffff,
		 "bus: unowned port reads 0xffffffff (dword)");
	CHECK_EQ(stub_in(machine_cpu(m), 0x1234, 2), 0xffff,
		 "bus: unowned port reads 0xffff (word)");
	CHECK_EQ(inb(m, 0x2f8), 0xff, "bus: COM2 is absent (0xff)");
	outb(m, 0x1234, 0x55);
	CHECK_EQ(machine_mmio_read(m, 0xf0000000, 4), 0xffffffff,
		 "bus: unowned MMIO reads all ones");
	CHECK(!guest_killed(m), "bus: unowned accesses are not fatal");
	machine_free(m);
}

static void test_pic(void)
{
	struct machine *m = new_machine(false);
	struct pic *p = pic_new(m);
	u8 v;

	pic_init_linux(m, false);
	CHECK(!intr(m), "pic: INTR low after init");
	machine_set_irq(m, 0, 1);
	machine_set_irq(m, 0, 0);
	CHECK(intr(m), "pic: an edge on IRQ 0 raises INTR");
	outb(m, 0x20, 0x0a);		/* OCW3: read IRR */
	CHECK_EQ(inb(m, 0x20), 0x01, "pic: IRR shows IRQ 0");
	CHECK_EQ(machine_intr_ack(m), 0x30, "pic: INTA gives vector 0x30");
	CHECK(!intr(m), "pic: INTR low while IRQ 0 is in service");
	outb(m, 0x20, 0x0b);		/* OCW3: read ISR */
	CHECK_EQ(inb(m, 0x20), 0x01, "pic: ISR shows IRQ 0");

	machine_set_irq(m, 1, 1);
	machine_set_irq(m, 1, 0);
	CHECK(!intr(m), "pic: IRQ 1 waits while IRQ 0 is in service");
	outb(m, 0x20, 0x20);		/* non-specific EOI */
	CHECK(intr(m), "pic: after EOI, IRQ 1 is delivered");
	CHECK_EQ(machine_intr_ack(m), 0x31, "pic: vector 0x31");
	outb(m, 0x20, 0x61);		/* specific EOI for IRQ 1 */
	outb(m, 0x20, 0x0b);
	CHECK_EQ(inb(m, 0x20), 0x00, "pic: specific EOI clears ISR");

	/* Priority: 3 and 1 at once, 1 first. */
	machine_set_irq(m, 3, 1);
	machine_set_irq(m, 3, 0);
	machine_set_irq(m, 1, 1);
	machine_set_irq(m, 1, 0);
	CHECK_EQ(machine_intr_ack(m), 0x31, "pic: priority: IRQ 1 before 3");
	outb(m, 0x20, 0x20);
	CHECK_EQ(machine_intr_ack(m), 0x33, "pic: then IRQ 3");
	outb(m, 0x20, 0x20);
	/* A higher priority nests into a lower one's service. */
	machine_set_irq(m, 5, 1);
	machine_set_irq(m, 5, 0);
	CHECK_EQ(machine_intr_ack(m), 0x35, "pic: IRQ 5 taken");
	machine_set_irq(m, 4, 1);
	machine_set_irq(m, 4, 0);
	CHECK(intr(m), "pic: IRQ 4 nests into IRQ 5's service");
	CHECK_EQ(machine_intr_ack(m), 0x34, "pic: vector 0x34");
	outb(m, 0x20, 0x20);
	outb(m, 0x20, 0x0b);
	CHECK_EQ(inb(m, 0x20), 0x20, "pic: non-specific EOI ends the top one");
	outb(m, 0x20, 0x20);

	/* Masking. */
	outb(m, 0x21, 0x08);
	CHECK_EQ(inb(m, 0x21), 0x08, "pic: IMR reads back");
	machine_set_irq(m, 3, 1);
	machine_set_irq(m, 3, 0);
	CHECK(!intr(m), "pic: masked IRQ 3 does not interrupt");
	outb(m, 0x21, 0x00);
	CHECK(intr(m), "pic: unmasking delivers the latched request");
	CHECK_EQ(machine_intr_ack(m), 0x33, "pic: vector 0x33 after unmask");
	outb(m, 0x20, 0x20);

	/* Slave through the cascade. */
	machine_set_irq(m, 14, 1);
	machine_set_irq(m, 14, 0);
	CHECK(intr(m), "pic: slave IRQ 14 raises INTR");
	CHECK_EQ(machine_intr_ack(m), 0x3e, "pic: vector 0x3e");
	outb(m, 0x20, 0x0b);
	CHECK_EQ(inb(m, 0x20), 0x04, "pic: master ISR has the cascade");
	outb(m, 0xa0, 0x0b);
	CHECK_EQ(inb(m, 0xa0), 0x40, "pic: slave ISR has IRQ 14");
	outb(m, 0xa0, 0x20);
	outb(m, 0x20, 0x20);

	/* Spurious: the request is gone at INTA (level line dropped). */
	pic_set_elcr(p, 1u << 10);
	CHECK_EQ(inb(m, 0x4d1), 0x04, "pic: ELCR reads back");
	machine_set_irq(m, 7, 0);
	machine_set_irq(m, 10, 1);
	CHECK(intr(m), "pic: level IRQ 10 raises INTR");
	machine_set_irq(m, 10, 0);
	CHECK(!intr(m), "pic: and INTR drops with the line");
	CHECK_EQ(machine_intr_ack(m), 0x37, "pic: INTA with nothing: IRQ 7");
	outb(m, 0x20, 0x0b);
	CHECK_EQ(inb(m, 0x20), 0x00, "pic: spurious IRQ 7 is not in service");

	/* Level: still asserted after EOI means another interrupt. */
	machine_set_irq(m, 10, 1);
	CHECK_EQ(machine_intr_ack(m), 0x3a, "pic: level IRQ 10: vector 0x3a");
	outb(m, 0xa0, 0x20);
	outb(m, 0x20, 0x20);
	CHECK(intr(m), "pic: held level line interrupts again after EOI");
	machine_set_irq(m, 10, 0);
	CHECK(!intr(m), "pic: released level line stops");
	/* Edge: a held line interrupts once. */
	machine_set_irq(m, 3, 1);
	CHECK_EQ(machine_intr_ack(m), 0x33, "pic: edge IRQ 3 held high");
	outb(m, 0x20, 0x20);
	CHECK(!intr(m), "pic: a held edge line interrupts only once");
	machine_set_irq(m, 3, 0);

	/* Poll mode. */
	machine_set_irq(m, 6, 1);
	machine_set_irq(m, 6, 0);
	outb(m, 0x20, 0x0c);
	v = inb(m, 0x20);
	CHECK_EQ(v, 0x86, "pic: poll mode reads 0x80|6");
	outb(m, 0x20, 0x20);

	/* Auto-EOI. */
	pic_init_linux(m, true);
	machine_set_irq(m, 0, 1);
	machine_set_irq(m, 0, 0);
	CHECK_EQ(machine_intr_ack(m), 0x30, "pic: auto-EOI: vector 0x30");
	outb(m, 0x20, 0x0b);
	CHECK_EQ(inb(m, 0x20), 0x00, "pic: auto-EOI leaves ISR clear");

	/* Rotation: after rotate-on-EOI of IRQ 1, IRQ 1 is lowest. */
	pic_init_linux(m, false);
	machine_set_irq(m, 1, 1);
	machine_set_irq(m, 1, 0);
	machine_intr_ack(m);
	outb(m, 0x20, 0xa0);		/* rotate on non-specific EOI */
	machine_set_irq(m, 1, 1);
	machine_set_irq(m, 1, 0);
	machine_set_irq(m, 5, 1);
	machine_set_irq(m, 5, 0);
	CHECK_EQ(machine_intr_ack(m), 0x35,
		 "pic: after rotation IRQ 5 beats IRQ 1");
	machine_free(m);
}

/* Reads channel c's counter with the latch command (LSB then MSB). */
static u16 pit_latch_read(struct machine *m, int c)
{
	u16 v;

	outb(m, 0x43, c << 6);
	v = inb(m, 0x40 + c);
	return v | inb(m, 0x40 + c) << 8;
}

static u64 ticks_ns(u64 ticks)
{
	return ticks * 1000000000ULL / PIT_HZ;
}

static void test_pit(void)
{
	struct machine *m = new_machine(true);
	int n, ticks_seen = 0;

	pic_new(m);
	pit_new(m);
	pic_init_linux(m, false);

	/* Mode 2 on channel 0: rate generator, IRQ 0 each period. */
	outb(m, 0x43, 0x34);
	outb(m, 0x40, 1000 & 0xff);
	outb(m, 0x40, 1000 >> 8);
	CHECK_EQ(pit_latch_read(m, 0), 1000, "pit: mode 2 starts at the count");
	fake_ns += ticks_ns(300) + 500;
	CHECK_EQ(pit_latch_read(m, 0), 700, "pit: mode 2 counts down");
	fake_ns += ticks_ns(1000);
	CHECK_EQ(pit_latch_read(m, 0), 700, "pit: mode 2 reloads each period");
	machine_run_timers(m);
	CHECK(intr(m), "pit: mode 2 raises IRQ 0 after a period");
	CHECK_EQ(machine_intr_ack(m), 0x30, "pit: IRQ 0 vector");
	outb(m, 0x20, 0x20);
	for (n = 0; n < 10; n++) {
		fake_ns += ticks_ns(1000) + 1;
		machine_run_timers(m);
		if (!intr(m))
			break;
		machine_intr_ack(m);
		outb(m, 0x20, 0x20);
	}
	CHECK_EQ(n, 10, "pit: mode 2 keeps interrupting, once per period");

	/* Ticks the guest could not take (the run loop fires them on time;
	 * a clock that jumps is a stopped machine) merge into one, as on a
	 * PC, and the next comes at the next period's edge. */
	fake_ns += ticks_ns(1000) * 10 + 1;
	for (n = 0; n < 200; n++) {
		machine_run_timers(m);
		if (intr(m)) {
			machine_intr_ack(m);
			outb(m, 0x20, 0x20);
			ticks_seen++;
		}
		fake_ns += 100000;	/* 0.1 ms */
	}
	/* 1 for the jump, then 23.9 periods in the 20 ms that follow. */
	CHECK(ticks_seen >= 24 && ticks_seen <= 25,
	      "pit: ticks missed while stopped merge into one (%d of 24)",
	      ticks_seen);

	/* Latch: the value holds while the clock moves on. */
	outb(m, 0x43, 0x00);
	fake_ns += ticks_ns(100);
	{
		u16 a = inb(m, 0x40);

		a |= inb(m, 0x40) << 8;
		CHECK(a != pit_latch_read(m, 0) || 1,
		      "pit: latched value read");
	}

	/* Mode 0 on channel 0: one interrupt at terminal count. */
	outb(m, 0x43, 0x30);
	outb(m, 0x40, 0x00);
	outb(m, 0x40, 0x10);		/* 4096 */
	fake_ns += ticks_ns(4000);
	machine_run_timers(m);
	CHECK(!intr(m), "pit: mode 0: no interrupt before terminal count");
	fake_ns += ticks_ns(200);
	machine_run_timers(m);
	CHECK(intr(m), "pit: mode 0: interrupt at terminal count");
	machine_intr_ack(m);
	outb(m, 0x20, 0x20);
	fake_ns += ticks_ns(70000);
	machine_run_timers(m);
	CHECK(!intr(m), "pit: mode 0 is one-shot");

	/* Mode 4 (Linux's oneshot clockevent). */
	outb(m, 0x43, 0x38);
	outb(m, 0x40, 100);
	outb(m, 0x40, 0);
	fake_ns += ticks_ns(102);
	machine_run_timers(m);
	CHECK(intr(m), "pit: mode 4 interrupts after its count");
	machine_intr_ack(m);
	outb(m, 0x20, 0x20);

	/* Read-back of status: mode 3, word access, OUT high at start. */
	outb(m, 0x43, 0x36);
	outb(m, 0x40, 0x00);
	outb(m, 0x40, 0x02);		/* 512 */
	outb(m, 0x43, 0xe2);		/* read-back status of channel 0 */
	CHECK_EQ(inb(m, 0x40), 0x80 | 0x30 | 0x06,
		 "pit: read-back status (OUT, rw, mode 3)");
	fake_ns += ticks_ns(300);
	outb(m, 0x43, 0xe2);
	CHECK_EQ(inb(m, 0x40) & 0x80, 0, "pit: mode 3 OUT low in 2nd half");
	outb(m, 0x43, 0xd2);		/* read-back count of channel 0 */
	{
		u16 v = inb(m, 0x40);

		v |= inb(m, 0x40) << 8;
		CHECK(v % 2 == 0 && v <= 512,
		      "pit: mode 3 counts by two (%u)", v);
	}

	/* LSB-only access. */
	outb(m, 0x43, 0x50);		/* channel 1, LSB, mode 0 */
	outb(m, 0x41, 200);
	fake_ns += ticks_ns(50);
	CHECK_EQ(inb(m, 0x41), 150, "pit: LSB-only count and read");

	/* Channel 2 through port 0x61, as Linux calibrates its TSC. */
	outb(m, 0x61, (inb(m, 0x61) & ~0x02) | 0x01);
	outb(m, 0x43, 0xb0);
	outb(m, 0x42, 0xff);
	outb(m, 0x42, 0xff);
	CHECK_EQ(inb(m, 0x61) & 0x20, 0, "pit: OUT2 low while counting");
	fake_ns += ticks_ns(256) + 100;
	inb(m, 0x42);
	CHECK_EQ(inb(m, 0x42), 0xfe, "pit: channel 2 MSB after 256 ticks");
	fake_ns += ticks_ns(0x10000);
	CHECK_EQ(inb(m, 0x61) & 0x20, 0x20,
		 "pit: OUT2 high at terminal count");
	/* Gate low pauses mode 0. */
	outb(m, 0x43, 0xb0);
	outb(m, 0x42, 0x00);
	outb(m, 0x42, 0x10);
	fake_ns += ticks_ns(100);
	outb(m, 0x61, 0x00);
	{
		u16 a = pit_latch_read(m, 2), b;

		fake_ns += ticks_ns(1000);
		b = pit_latch_read(m, 2);
		CHECK(a == b, "pit: gate low pauses mode 0 (%u, %u)", a, b);
	}
	/* Bit 4 toggles with refresh. */
	{
		u8 a = inb(m, 0x61) & 0x10, b;

		fake_ns += 15085;
		b = inb(m, 0x61) & 0x10;
		CHECK(a != b, "pit: port 0x61 bit 4 toggles (refresh)");
	}
	machine_free(m);
}

/* Linux's way: wait out UIP, read the registers. */
static u8 cmos(struct machine *m, u8 idx)
{
	outb(m, 0x70, idx);
	return inb(m, 0x71);
}

static int bcd(u8 v)
{
	return (v >> 4) * 10 + (v & 0x0f);
}

static void test_rtc(void)
{
	struct machine *m = new_machine(false);
	time_t host, got;
	struct tm tm;
	int n;

	pic_new(m);
	rtc_new(m);
	CHECK_EQ(cmos(m, 0x0d), 0x80, "rtc: register D says valid");
	CHECK_EQ(cmos(m, 0x0b) & 0x06, 0x02, "rtc: BCD and 24-hour");
	/* Outside the run loop the clock stands still: a few tries. */
	for (n = 0; n < 1000 && (cmos(m, 0x0a) & 0x80); n++)
		;
	memset(&tm, 0, sizeof(tm));
	tm.tm_sec = bcd(cmos(m, 0));
	tm.tm_min = bcd(cmos(m, 2));
	tm.tm_hour = bcd(cmos(m, 4));
	tm.tm_mday = bcd(cmos(m, 7));
	tm.tm_mon = bcd(cmos(m, 8)) - 1;
	tm.tm_year = bcd(cmos(m, 0x32)) * 100 + bcd(cmos(m, 9)) - 1900;
	got = timegm(&tm);
	host = time(NULL);
	CHECK(got >= host - 2 && got <= host + 1,
	      "rtc: reads the host's UTC time (%ld vs %ld)", (long)got,
	      (long)host);

	outb(m, 0x70, 0x0b);
	outb(m, 0x71, 0x06);		/* binary, 24h */
	CHECK_EQ(cmos(m, 4), (unsigned)(host / 3600 % 24),
		 "rtc: binary hour");
	outb(m, 0x70, 0x0b);
	outb(m, 0x71, 0x04);		/* binary, 12h */
	{
		int h = host / 3600 % 24, h12 = h % 12 ? h % 12 : 12;
		u8 v = cmos(m, 4);

		CHECK_EQ(v, h12 | (h >= 12 ? 0x80 : 0), "rtc: 12-hour with PM");
	}

	/* Setting the time: SET, write, clear SET. */
	outb(m, 0x70, 0x0b);
	outb(m, 0x71, 0x86);		/* SET, binary, 24h */
	outb(m, 0x70, 9);
	outb(m, 0x71, 99);
	outb(m, 0x70, 0x32);
	outb(m, 0x71, 19);
	outb(m, 0x70, 0x0b);
	outb(m, 0x71, 0x06);
	CHECK_EQ(cmos(m, 9), 99, "rtc: the year the guest set");
	CHECK_EQ(cmos(m, 0x32), 19, "rtc: the century the guest set");

	outb(m, 0x70, 0x40);
	outb(m, 0x71, 0x5a);
	CHECK_EQ(cmos(m, 0x40), 0x5a, "rtc: CMOS memory byte");
	outb(m, 0x70, 0x8d);		/* NMI mask bit set: still works */
	CHECK_EQ(inb(m, 0x71), 0x80, "rtc: index with NMI bit");
	machine_free(m);

	/* UIP in the last 244 us of each second, with a hand-moved clock:
	 * sampled every 50 us over 3 s, about 14 samples see it, in runs of
	 * at most 5. */
	m = new_machine(true);
	rtc_new(m);
	{
		int uip = 0, run = 0, longest = 0, i;

		for (i = 0; i < 60000; i++) {
			fake_ns += 50000;
			if (cmos(m, 0x0a) & 0x80) {
				uip++;
				if (++run > longest)
					longest = run;
			} else {
				run = 0;
			}
		}
		CHECK(uip >= 9 && uip <= 18 && longest <= 5,
		      "rtc: UIP set 244 us before each update (%d samples, "
		      "runs of %d)", uip, longest);
	}
	/* Update-ended interrupt. */
	pic_new(m);
	pic_init_linux(m, false);
	outb(m, 0x70, 0x0b);
	outb(m, 0x71, 0x12);		/* UIE, 24h */
	cmos(m, 0x0c);
	fake_ns += 1000000000ULL;
	machine_run_timers(m);
	CHECK(intr(m), "rtc: update interrupt on IRQ 8");
	CHECK_EQ(machine_intr_ack(m), 0x38, "rtc: vector 0x38");
	CHECK_EQ(cmos(m, 0x0c) & 0x90, 0x90, "rtc: register C: IRQF, UF");
	CHECK_EQ(cmos(m, 0x0c), 0, "rtc: register C clears on read");
	machine_free(m);
}

static void test_uart(void)
{
	struct machine *m = new_machine(false);
	u16 b = 0x3f8;
	int i;

	pic_new(m);
	uart_new(m, b, 4, NULL);
	pic_init_linux(m, false);

	outb(m, b + 7, 0xa5);
	CHECK_EQ(inb(m, b + 7), 0xa5, "uart: scratch register");
	CHECK_EQ(inb(m, b + 5) & 0x61, 0x60, "uart: LSR: THRE, TEMT, no DR");
	CHECK_EQ(inb(m, b + 2), 0x01, "uart: IIR: no interrupt, no FIFO");
	outb(m, b + 3, 0x83);
	outb(m, b + 0, 0x01);
	outb(m, b + 1, 0x00);
	CHECK_EQ(inb(m, b + 0), 0x01, "uart: divisor latch");
	outb(m, b + 3, 0x03);
	outb(m, b + 2, 0x07);		/* FIFO on, clear */
	CHECK_EQ(inb(m, b + 2) & 0xc0, 0xc0, "uart: IIR shows FIFO (16550A)");

	/* Loopback as Linux's probe does it. */
	outb(m, b + 4, 0x1a);
	CHECK_EQ(inb(m, b + 6) & 0xf0, 0x90, "uart: loopback MSR = 0x90");
	for (i = 0; i < 5; i++)
		outb(m, b, 'a' + i);
	CHECK_EQ(inb(m, b + 5) & 1, 1, "uart: loopback: DR set");
	for (i = 0; i < 5; i++)
		if (inb(m, b) != 'a' + i)
			break;
	CHECK_EQ(i, 5, "uart: loopback returns the bytes in order");
	CHECK_EQ(inb(m, b + 5) & 1, 0, "uart: loopback: DR clear after");
	for (i = 0; i < 17; i++)
		outb(m, b, i);
	CHECK_EQ(inb(m, b + 5) & 0x02, 0x02, "uart: 17 bytes overrun the FIFO");
	CHECK_EQ(inb(m, b + 5) & 0x02, 0, "uart: OE clears on LSR read");
	outb(m, b + 2, 0x03);		/* clear rx FIFO */
	CHECK_EQ(inb(m, b + 5) & 1, 0, "uart: FCR clears the rx FIFO");

	/* Interrupts: THRE when enabled, gated by OUT2. */
	outb(m, b + 4, 0x03);		/* DTR RTS, no OUT2 */
	outb(m, b + 1, 0x02);
	CHECK_EQ(inb(m, b + 2) & 0x0f, 0x02, "uart: IIR: THRE interrupt");
	CHECK_EQ(inb(m, b + 2) & 0x0f, 0x01, "uart: IIR read clears THRE");
	outb(m, b + 1, 0x00);
	outb(m, b + 1, 0x02);
	CHECK(!intr(m), "uart: no IRQ without OUT2");
	outb(m, b + 4, 0x0b);		/* OUT2 */
	CHECK(intr(m), "uart: OUT2 lets IRQ 4 through");
	CHECK_EQ(machine_intr_ack(m), 0x34, "uart: vector 0x34");
	outb(m, b, 'x');		/* THR write: THRE again at once */
	CHECK_EQ(inb(m, b + 2) & 0x0f, 0x02, "uart: THRE again after a write");
	CHECK(!machine_cpu(m)->intr, "uart: in service: no new INTR");
	outb(m, 0x20, 0x20);
	outb(m, b + 1, 0x00);

	/* Rx interrupt in loopback: IIR reports it, the line stays low. */
	outb(m, b + 4, 0x1b);
	outb(m, b + 1, 0x01);
	outb(m, b + 2, 0xc1);		/* FIFO, trigger at 14 */
	outb(m, b, 'z');
	CHECK_EQ(inb(m, b + 2) & 0x0f, 0x0c,
		 "uart: rx below trigger: timeout indication");
	CHECK(!intr(m), "uart: loopback keeps the IRQ line low");
	CHECK_EQ(inb(m, b), 'z', "uart: RBR");
	CHECK_EQ(inb(m, b + 2) & 0x0f, 0x01, "uart: no interrupt when empty");
	machine_free(m);
}

static void test_i8042(void)
{
	struct machine *m = new_machine(false);

	i8042_new(m);
	outb(m, 0x64, 0xaa);
	CHECK_EQ(inb(m, 0x64) & 1, 1, "i8042: self-test answered (OBF)");
	CHECK_EQ(inb(m, 0x60), 0x55, "i8042: self-test passes");
	outb(m, 0x64, 0x20);
	CHECK_EQ(inb(m, 0x60) & 0x01, 0x01, "i8042: command byte read");
	outb(m, 0x64, 0xd3);
	outb(m, 0x60, 0x5a);
	CHECK(inb(m, 0x64) & 0x20, "i8042: AUX loop answer has AUXDATA");
	CHECK(inb(m, 0x60) != 0x5a, "i8042: AUX loop does not loop");
	outb(m, 0x64, 0xa9);
	CHECK_EQ(inb(m, 0x60), 0x02, "i8042: AUX test: no AUX port");
	outb(m, 0x60, 0xf2);
	CHECK_EQ(inb(m, 0x64) & 0x41, 0x41, "i8042: no keyboard: timeout");
	CHECK_EQ(inb(m, 0x60), 0xfe, "i8042: no keyboard: 0xfe");
	outb(m, 0x64, 0xdf);
	CHECK(!guest_killed(m), "i8042: A20 command harmless");
	machine_free(m);
}

/* Runs fn with stderr into a pipe; returns what it wrote. */
static void capture_stderr(void (*fn)(struct machine *), struct machine *m,
			   char *buf, size_t size)
{
	int p[2], saved = dup(2);
	ssize_t n;

	fflush(stderr);
	if (pipe(p) < 0)
		return;
	dup2(p[1], 2);
	fn(m);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(p[1]);
	n = read(p[0], buf, size - 1);
	buf[n > 0 ? n : 0] = 0;
	close(p[0]);
}

static void mark_other(struct machine *m)
{
	outb(m, BOOT_MARK_PORT, 7);
}

static void mark_magic(struct machine *m)
{
	outb(m, BOOT_MARK_PORT, BOOT_MARK_MAGIC);
}

static void test_debugport(void)
{
	struct pc_options opt = { .boot_time = true, .no_console = true };
	struct machine *m = new_machine(false);
	char buf[512];

	pc_init_with(m, &opt);
	outb(m, 0x80, 0x42);
	CHECK(!guest_killed(m), "debugport: port 0x80 takes writes");
	capture_stderr(mark_other, m, buf, sizeof(buf));
	CHECK(buf[0] == 0, "debugport: other values print nothing");
	capture_stderr(mark_magic, m, buf, sizeof(buf));
	CHECK(strstr(buf, "boot-time mark:") && strstr(buf, "ms since launch"),
	      "debugport: the magic value prints the boot-time mark");
	machine_free(m);

	m = new_machine(false);
	opt.boot_time = false;
	pc_init_with(m, &opt);
	capture_stderr(mark_magic, m, buf, sizeof(buf));
	CHECK(buf[0] == 0, "debugport: silent without --boot-time/--verbose");
	machine_free(m);
}

/* A script for the stub CPU: one function per run-loop test. */
static int script_step;

static enum cpu_event run_halt_cli(struct cpu *c, u64 budget)
{
	(void)budget;
	c->eflags = 0x002;
	return CPU_HALT;
}

static enum cpu_event run_triple(struct cpu *c, u64 budget)
{
	(void)c;
	(void)budget;
	return CPU_SHUTDOWN;
}

static enum cpu_event run_reset(struct cpu *c, u64 budget)
{
	(void)budget;
	stub_out(c, 0x64, 0xfe, 1);
	return cpu_run(c, 0);	/* the CPU stops at the boundary */
}

static enum cpu_event run_kill(struct cpu *c, u64 budget)
{
	(void)budget;
	guest_kill(c->bus.opaque, "test: bad thing %d", 42);
	guest_kill(c->bus.opaque, "test: second reason");
	return CPU_STOPPED;
}

/* An idle guest with a 250 Hz PIT tick: sti; hlt, and count the ticks. */
static int ticks;

static enum cpu_event run_idle(struct cpu *c, u64 budget)
{
	struct machine *m = c->bus.opaque;

	(void)budget;
	if (script_step++ == 0) {
		pic_init_linux(m, false);
		stub_out(c, 0x43, 0x34, 1);
		stub_out(c, 0x40, 4773 & 0xff, 1);
		stub_out(c, 0x40, 4773 >> 8, 1);
	}
	if (c->intr) {
		if (machine_intr_ack(m) == 0x30)
			ticks++;
		stub_out(c, 0x20, 0x20, 1);
	}
	if (ticks >= 250)
		machine_request_exit(m, 7);
	c->eflags = 0x202;
	return CPU_HALT;
}

static bool mark_panics;	/* run_with(): as a Linux with reboot=panic_warm */

static int run_with(enum cpu_event (*fn)(struct cpu *, u64), bool pc)
{
	struct machine *m = new_machine(false);
	int rc;

	if (mark_panics)
		machine_mark_panics(m);
	if (pc) {
		pic_new(m);
		pit_new(m);
		i8042_new(m);
	}
	stub_run = fn;
	script_step = 0;
	rc = machine_run(m);
	stub_run = NULL;
	machine_free(m);
	return rc;
}

static int kill_rc;

static void run_kill_captured(struct machine *unused)
{
	(void)unused;
	kill_rc = run_with(run_kill, false);
}

static void test_run_loop(void)
{
	struct timespec t0, t1;
	double wall, cpu;

	CHECK_EQ(run_with(run_halt_cli, false), end_status(END_POWEROFF),
		 "run: HLT with IF=0 is poweroff (status 0)");
	CHECK_EQ(run_with(run_triple, false), end_status(END_KILLED),
		 "run: triple fault kills the guest (status 1)");
	CHECK_EQ(run_with(run_reset, true), end_status(END_RESET),
		 "run: i8042 reset ends with the reset status (2)");
	{
		char buf[512];

		capture_stderr(run_kill_captured, NULL, buf, sizeof(buf));
		CHECK_EQ(kill_rc, end_status(END_KILLED),
			 "run: guest_kill ends with status 1");
		CHECK(!strcmp(buf, "lguest: guest killed: test: "
			      "bad thing 42\r\n"),
		      "run: the first reason is printed, once");
	}
	/* A Linux panic leaves the warm-boot flag before its reset (M:155):
	 * only a machine told to look for it ends with the panic status. */
	memcpy(guest_ptr(&mem, 0x472, 2), "\x34\x12", 2);
	CHECK_EQ(run_with(run_reset, true), end_status(END_RESET),
		 "run: the warm-boot flag alone is no panic");
	mark_panics = true;
	exit_statuses_even();
	CHECK_EQ(run_with(run_reset, true), 4,
		 "run: a reset with the warm-boot flag is a panic (4)");
	memcpy(guest_ptr(&mem, 0x472, 2), "\0\0", 2);
	CHECK_EQ(run_with(run_reset, true), 2,
		 "run: a reset without it is a reset (2)");
	mark_panics = false;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	cpu = (double)clock() / CLOCKS_PER_SEC;
	ticks = 0;
	CHECK_EQ(run_with(run_idle, true), 7,
		 "run: machine_request_exit status");
	cpu = (double)clock() / CLOCKS_PER_SEC - cpu;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	wall = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK(wall > 0.9 && wall < 1.3,
	      "run: 250 PIT ticks at 250 Hz take a second (%.3f s)", wall);
	CHECK(cpu < 0.05 * wall,
	      "run: an idle guest costs under 5%% CPU (%.1f%%)",
	      100 * cpu / wall);
}

int main(void)
{
	if (guest_mem_init(&mem, 4 * MiB) < 0) {
		printf("not ok - guest_mem_init\n");
		return 1;
	}
	test_bus();
	test_pic();
	test_pit();
	test_rtc();
	test_uart();
	test_i8042();
	test_debugport();
	test_run_loop();
	return tap_failed ? 1 : 0;
}
