/*
 * The machine: what ties the CPU, guest RAM and the devices together.
 *
 * The CPU knows nothing of devices.  It reads and writes RAM directly and
 * calls the machine for port I/O and for physical addresses that are not RAM
 * (the MMIO window).  Devices register port and MMIO ranges here, raise and
 * lower IRQ lines here, arm timers here and hand host file descriptors to
 * the run loop here.  Neither side sees the other's internals.
 *
 * Time has one source: machine_clock_ns().  Every device and the CPU's TSC
 * read it.  It is the virtual clock of vclock.c: counted in instructions
 * while the CPU runs (so no host stall shows inside the guest), the host's
 * time while the guest is halted, and steered to stay within ~100 ms of the
 * host's.  A fully deterministic clock would replace only that file.
 *
 * A guest that does something only a broken or hostile guest does is killed
 * with guest_kill(): the reason is kept, the CPU is told to stop, and the run
 * loop ends with "lguest: guest killed: <reason>" and a non-zero status.
 * The host process itself carries on until it returns from main().
 */
#ifndef LGUEST_MACHINE_H
#define LGUEST_MACHINE_H

#include "memory.h"
#include "types.h"

struct cpu;
struct machine;

typedef u32 (*io_read_fn)(void *dev, u16 port, int size);
typedef void (*io_write_fn)(void *dev, u16 port, u32 val, int size);
typedef u32 (*mmio_read_fn)(void *dev, u32 offset, int size);
typedef void (*mmio_write_fn)(void *dev, u32 offset, u32 val, int size);
typedef void (*timer_fn)(void *opaque);
typedef void (*fd_fn)(void *opaque, int fd, u32 epoll_events);

/*M:150
 * How a run ends, seen from the shell that started lguest.  Everything
 * that ends a run asks the run loop to stop (machine_request_exit()) and
 * names a status; the CPU stops at the next instruction boundary and
 * machine_run() returns the status, which main() returns in turn, so the
 * terminal is restored and every device is freed on the way out.  The
 * ends: the guest powered off; it was killed (see M:140), or lguest
 * refused to start it; it reset itself (see D:180), which a Linux that
 * panicked does too (M:155); the user typed three ^C (see D:175); and
 * with --exit-port, whatever the guest wrote there, shifted as QEMU
 * shifts it.  Each end's status comes from one table (L:197): 0, 1, 2
 * and 130 as they always were, and with --exit-port an even status
 * apiece, so that only the guest's own write ends odd.  lguest(1) lists
 * them too. :*/

struct machine;

/* Build a machine around already-initialised guest RAM, with its CPU (in
 * reset state) and no devices yet. */
struct machine *machine_new(struct guest_mem *mem);
void machine_free(struct machine *m);

struct guest_mem *machine_mem(struct machine *m);
struct cpu *machine_cpu(struct machine *m);

/*M:130
 * The bus is the whole contract between the CPU and the devices.  The CPU
 * calls machine_io_in()/out() for IN and OUT and machine_mmio_*() for a
 * physical address that is not RAM; a device claims its ports or its MMIO
 * range here with two callbacks, and that is all either side knows of the
 * other.  Adding a device therefore never touches the CPU: it claims
 * ports, raises a line with machine_set_irq(), arms a timer or hands the
 * run loop a host fd, all with the calls below. :*/
/* Port I/O: [base, base+len) goes to dev.  Overlaps are a programming error
 * (abort).  A port nobody owns reads all ones and is reported by verbose(). */
void machine_add_ports(struct machine *m, u16 base, u16 len, void *dev,
		       io_read_fn rd, io_write_fn wr);
/* MMIO in the window above RAM: offsets passed to the callbacks are relative
 * to base.  A region may be moved (PCI BAR programming) or removed. */
int machine_add_mmio(struct machine *m, u32 base, u32 len, void *dev,
		     mmio_read_fn rd, mmio_write_fn wr);
void machine_move_mmio(struct machine *m, int id, u32 new_base);
void machine_remove_mmio(struct machine *m, int id);

/* Interrupt lines: 0..15 are the ISA lines (to the 8259 pair and the
 * IO-APIC), 16..23 the PCI interrupt lines PIRQA..D and beyond (see
 * src/hw/pc.c for the wiring).  Edge-triggered devices pulse (raise then
 * lower); level-triggered ones hold the line. */
#define MACHINE_IRQS 24
void machine_set_irq(struct machine *m, int irq, int level);

/* The machine's clock, in nanoseconds since the machine was made. */
u64 machine_clock_ns(struct machine *m);

/* Timers on the machine clock.  A timer fires once at its deadline, from the
 * run loop's thread; re-arm it from the callback for periodic work. */
struct timer *timer_new(struct machine *m, timer_fn fn, void *opaque);
void timer_mod(struct timer *t, u64 deadline_ns);
void timer_del(struct timer *t);
/* t is the guest's tick (the APIC timer, the PIT): while the guest is
 * halted, a deadline armed at the same period as the last one may be
 * served a little late, so that one wake-up of the host takes several
 * ticks (machine.c, M:255).  Never for a device's own timers. */
void timer_may_coalesce(struct timer *t);

/* Host file descriptors the run loop waits on (epoll): fn is called from the
 * run loop's thread when fd is ready for events (EPOLLIN etc.). */
void machine_add_fd(struct machine *m, int fd, u32 events, fd_fn fn,
		    void *opaque);
void machine_del_fd(struct machine *m, int fd);

/* A device whose work is in flight on a host thread (a disk read) is
 * asked, when the guest halts, whether that work is done, again and again
 * for a few tens of microseconds, before the run loop sleeps (M:257):
 * fn returns IDLE_POLL_NONE with nothing in flight, IDLE_POLL_WAIT with
 * work in flight, IDLE_POLL_DONE when it has just completed some. */
/* True while the run loop is running the guest (a device called from one
 * of its instructions): the loop will come back to its timers and to
 * the idle polls.  False for a device driven from elsewhere (a test). */
bool machine_in_guest(struct machine *m);
enum idle_poll { IDLE_POLL_NONE, IDLE_POLL_WAIT, IDLE_POLL_DONE };
typedef enum idle_poll (*idle_poll_fn)(void *opaque);
void machine_add_idle_poll(struct machine *m, idle_poll_fn fn, void *opaque);

/*M:140
 * The original lguest called it kill_guest(), and the rule is the same:
 * a value that only a broken or hostile guest would produce ends the
 * guest, not the host.  guest_kill() returns, so the device that found
 * the problem unwinds normally (no longjmp through device code, no
 * half-updated state left behind), and the run loop ends at the next
 * instruction boundary with "lguest: guest killed: <reason>" and status
 * 1 (6 with --exit-port).  Only the first reason is kept: it is the cause, the rest are
 * consequences.  Mistakes the guest can recover from are not kills: a
 * disk request past the end of the disk fails with an I/O error, and the
 * guest carries on. :*/
/* A guest-only error: remember the first reason, stop the CPU, end the run
 * loop with END_KILLED's status.  Returns, so a device can unwind normally. */
void guest_kill(struct machine *m, const char *fmt, ...) printf_like(2, 3);
bool guest_killed(struct machine *m);

/* Ask the run loop to end with the given status (poweroff, reset, exit
 * port).  The CPU stops at the next instruction boundary. */
void machine_request_exit(struct machine *m, int status);

/* The guest pulled a reset line (the i8042's, port 0xcf9): the run ends
 * with END_RESET's status, or END_PANIC's when the guest is a Linux told
 * to mark its panics (machine_mark_panics()) and this reset is one. */
void machine_reset(struct machine *m, const char *why);

/* Tell a Linux panic's reset from any other (M:155): the loader gave the
 * kernel reboot=panic_warm, so a panicking kernel leaves the BIOS
 * warm-boot flag (0x1234 at 0x472) just before it resets. */
void machine_mark_panics(struct machine *m);

/* Run the guest until it ends; the loader has already set the CPU's entry
 * state through machine_cpu().  Returns the process exit status. */
int machine_run(struct machine *m);

/*
 * For the platform's own plumbing (src/hw/pic.c, src/hw/pc.c) and tests.
 */

/* The interrupt controller plugs in here: machine_set_irq() goes to
 * set_irq, the CPU's interrupt acknowledge to ack (which returns the
 * vector).  The controller drives the CPU's INTR pin with
 * machine_set_intr(). */
struct irq_chip {
	void *opaque;
	void (*set_irq)(void *opaque, int irq, int level);
	u8 (*ack)(void *opaque);
};
void machine_set_irq_chip(struct machine *m, const struct irq_chip *chip);
void machine_set_intr(struct machine *m, bool level);
bool machine_intr(struct machine *m);		/* INTR pin now */
u8 machine_intr_ack(struct machine *m);		/* what the CPU calls */
/* An edge on the CPU's NMI input (the local APIC's doing). */
void machine_set_nmi(struct machine *m);

/* The MSRs a device keeps for the CPU (the local APIC's): rd and wr
 * return false for an MSR the device does not have (the CPU raises #GP). */
typedef bool (*msr_read_fn)(void *dev, u32 msr, u64 *val);
typedef bool (*msr_write_fn)(void *dev, u32 msr, u64 val);
void machine_set_msr_handler(struct machine *m, void *dev, msr_read_fn rd,
			     msr_write_fn wr);
/* The same device's task priority register, CR8 to 64-bit code. */
typedef u8 (*tpr_read_fn)(void *dev);
typedef void (*tpr_write_fn)(void *dev, u8 tpr);
void machine_set_tpr_handler(struct machine *m, void *dev, tpr_read_fn rd,
			     tpr_write_fn wr);

/* The bus as the CPU sees it (the CPU's callbacks land here). */
u32 machine_io_in(struct machine *m, u16 port, int size);
void machine_io_out(struct machine *m, u16 port, u32 val, int size);
u32 machine_mmio_read(struct machine *m, u32 gpa, int size);
void machine_mmio_write(struct machine *m, u32 gpa, u32 val, int size);

/* Replaces the virtual clock (tests).  While
 * it is set, a halted guest does not sleep. */
typedef u64 (*clock_fn)(void *opaque);
void machine_set_clock(struct machine *m, clock_fn fn, void *opaque);

/* Devices belong to their machine: machine_free() calls fn(opaque) for
 * each, last added first. */
void machine_add_cleanup(struct machine *m, void (*fn)(void *opaque),
			 void *opaque);

bool timer_pending(struct timer *t);
/* Fires the timers that are due now (the run loop does this itself). */
void machine_run_timers(struct machine *m);
/* One turn of the run loop without the CPU and without waiting: calls
 * the callbacks of host fds that are ready now, then fires due timers
 * (tests and fuzz targets that play the guest from outside). */
void machine_poll(struct machine *m);

#endif
