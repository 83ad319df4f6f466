/*
 * A guest played from the fuzzer's bytes, for the virtio targets.
 *
 * fg_new() builds a machine with 1 MiB of RAM, a PCI bus, a fake
 * interrupt controller and a clock that moves only when the script says
 * so; the target plugs one device into slot 1.  fg_run() then reads the
 * input as a script of guest actions, one opcode byte and its operands at
 * a time (the FG_* list below), all made through the doors a guest has:
 * configuration mechanism #1 on ports 0xcf8-0xcff, loads and stores in
 * the device's BAR (wherever the script has moved it), bytes, descriptors
 * and ring entries written into guest RAM, notifies.  A few opcodes are
 * macros of what a good driver does (set up a queue, negotiate, make a
 * chain available and kick) so that the fuzzer reaches deep states fast;
 * every other byte may still say anything.
 *
 * The script ends when the input does or when the guest is killed, as the
 * run loop would stop the CPU.  A kill must come from the device under
 * test, through virtio_kill() ("<device>: ..."); anything else, and any
 * crash, sanitizer report, die(), exit() or hang, is a finding.
 */
#ifndef TESTS_FUZZ_FUZZ_GUEST_H
#define TESTS_FUZZ_FUZZ_GUEST_H

#include "fuzz.h"
#include "hw/pci.h"
#include "machine.h"
#include "memory.h"

#define FG_RAM		(1 * MiB)
#define FG_SLOT		1		/* the device under test */
#define FG_QUEUES	4		/* queues the driver macros know */
#define FG_RING_BASE	0x10000		/* queue q's rings: +q*0x2000 */
#define FG_INDIRECT	0x40000		/* indirect tables */
#define FG_BUF		0x80000		/* where the seeds put buffers */

struct fguest;

/* The device's own part of the script. */
struct fg_device {
	const char *name;	/* kill reasons must start "<name>: " */
	/* After each step: let the device finish what it was given (an
	 * I/O thread's requests), so that an input replays the same way. */
	void (*settle)(struct fguest *g);
	/* FG_HOST: something from the host side (a frame, a key). */
	void (*host)(struct fguest *g, struct fuzz_in *in);
	/* At the end, after the bus (and so the device) is freed and
	 * before the machine is: what the device was given to use. */
	void (*cleanup)(struct fguest *g);
	void *opaque;
};

struct fguest {
	struct guest_mem mem;
	struct machine *m;
	struct pci_bus *bus;
	u64 now;
	int irq[MACHINE_IRQS];
	struct fg_device dev;
	/* The driver's view of its queues (set up by FG_QUEUE). */
	u16 qsize[FG_QUEUES];
	u16 avail_idx[FG_QUEUES];
};

/* The opcodes, as the seed generator (mkseeds.c) writes them. */
enum fg_op {
	FG_CFG_WRITE,	/* slot u8, off u8, size u8, val u32 */
	FG_CFG_READ,	/* slot u8, off u8, size u8 */
	FG_BAR_WRITE,	/* off u16, size u8, val u32 */
	FG_BAR_READ,	/* off u16, size u8 */
	FG_NOTIFY,	/* queue u16 */
	FG_RAM_WRITE,	/* addr (see fg_addr), len u8, bytes */
	FG_DESC,	/* table u8, index u16, addr, len u32, flags u16,
			 * next u16 */
	FG_AVAIL,	/* queue u8, head u16: add to the avail ring */
	FG_QUEUE,	/* queue u8, size-log2 u8: set up at FG_RING_BASE */
	FG_FEATURES,	/* u64: reset, ACK, DRIVER, features, FEATURES_OK */
	FG_DRIVER_OK,
	FG_RESET,
	FG_ISR,		/* read ISR */
	FG_TICK,	/* u16 microseconds pass, fds and timers run */
	FG_HOST,	/* the device's own (fg_device.host) */
	FG_AVAIL_RAW,	/* queue u8, flags u16, idx u16 */
	FG_USED_EVENT,	/* queue u8, u16 */
	FG_KICK,	/* queue u8, head u16: FG_AVAIL then FG_NOTIFY */
	FG_NR_OPS
};

/* Addresses in a script: a byte hi and a u16 lo make hi << 16 | lo (RAM
 * is hi < 16); hi 0xff is followed by a raw u64 instead. */
u64 fg_addr(struct fuzz_in *in);

struct fguest *fg_new(void);
/* Runs the script; returns when the input ends or the guest is dead. */
void fg_run(struct fguest *g, struct fuzz_in *in);
void fg_free(struct fguest *g);

/* The device's BAR 0 as configuration space says now. */
u32 fg_bar(struct fguest *g);

#endif
