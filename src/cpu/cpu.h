/*
 * The CPU interface: all the rest of lguest knows of the processor.
 *
 * Today the processor is a software i686 (in src/cpu/).  A KVM vCPU can later
 * stand behind the same few calls: make one over guest RAM with bus
 * callbacks, set its registers, run it for a budget of instructions or until
 * something happens, and drive its INTR pin.
 *
 * Guest RAM is one contiguous host mapping; physical addresses below
 * ram_size are RAM, everything else goes to the mmio callbacks.
 */
#ifndef LGUEST_CPU_H
#define LGUEST_CPU_H

#include "../types.h"

struct cpu;

/*C:100
 * The original lguest ran its guests on the real processor, with a
 * kernel module to switch to them.  Our hosts offer no hardware help (no
 * /dev/kvm here), so the processor is ours too: a software i686 in
 * src/cpu/, read in the order cpu_internal.h lists.  What the rest of
 * lguest sees of it is this header and nothing else.  Guest RAM is
 * handed over as a host pointer and a size; every other physical address,
 * every port, the interrupt acknowledge and the clock are calls through
 * struct cpu_bus, which the machine fills in (see M:130).  That is the
 * seam where a KVM vCPU would one day stand instead. :*/
/* What the CPU calls out to.  All run on the thread that called cpu_run(). */
struct cpu_bus {
	void *opaque;
	u32 (*io_in)(void *opaque, u16 port, int size);
	void (*io_out)(void *opaque, u16 port, u32 val, int size);
	u32 (*mmio_read)(void *opaque, u32 gpa, int size);
	void (*mmio_write)(void *opaque, u32 gpa, u32 val, int size);
	/* Interrupt acknowledge: called when INTR is high and the CPU takes
	 * the interrupt; returns the vector (the PIC's INTA cycle). */
	u8 (*intr_ack)(void *opaque);
	/* The machine clock in ns: the TSC counts it. */
	u64 (*clock_ns)(void *opaque);
	/* MSRs the processor does not keep itself but a device on its bus
	 * does (the local APIC's IA32_APIC_BASE and TSC deadline): false
	 * for an MSR nobody has, and RDMSR or WRMSR raises #GP. */
	bool (*rdmsr)(void *opaque, u32 msr, u64 *val);
	bool (*wrmsr)(void *opaque, u32 msr, u64 val);
	/* The local APIC's task priority register, which 64-bit code also
	 * reaches as CR8 (its bits 7:4): false when no device has one, and
	 * MOV to or from CR8 raises #UD. */
	bool (*tpr_read)(void *opaque, u8 *tpr);
	bool (*tpr_write)(void *opaque, u8 tpr);
};

/*C:110
 * The CPU does not own the loop that drives it.  The machine's run loop
 * calls cpu_run() with a budget of instructions, never more than take
 * the guest to the next timer deadline, and the CPU comes back when the
 * budget is spent or when something needs the machine: HLT (the machine
 * decides whether that is an idle wait or, with interrupts off, a
 * power-off), a device that asked to stop after this instruction, or a
 * triple fault, which kills the guest.  The instruction count it keeps
 * is what the guest's clock is made of. :*/
/* Why cpu_run() returned. */
enum cpu_event {
	CPU_BUDGET,	/* ran the whole budget */
	CPU_HALT,	/* HLT: waiting for an interrupt (see cpu_regs.eflags IF) */
	CPU_STOPPED,	/* cpu_stop() was called from a callback */
	CPU_SHUTDOWN,	/* triple fault: cpu_error() says why */
};

/* Registers as a debugger or a KVM backend sees them. */
enum { R_EAX, R_ECX, R_EDX, R_EBX, R_ESP, R_EBP, R_ESI, R_EDI };
enum { S_ES, S_CS, S_SS, S_DS, S_FS, S_GS };

struct cpu_regs {
	u32 gpr[8];
	u32 eip;
	u32 eflags;
	u16 sel[6];
	u32 cr0, cr2, cr3, cr4;
};

struct cpu *cpu_new(u8 *ram, u32 ram_size, const struct cpu_bus *bus);
void cpu_free(struct cpu *c);

/* The state a 32-bit boot protocol enters with: protected mode, paging off,
 * interrupts off, CS a flat 4 GiB code segment (selector 0x10) and DS, ES,
 * SS, FS, GS flat data segments (selector 0x18), eip as given.  Other
 * registers zero; the caller then sets ESI/EAX/EBX as its protocol wants. */
void cpu_reset_flat32(struct cpu *c, u32 eip);

/* The state of the 64-bit boot protocol: long mode, paging on with the
 * tables at cr3, CS 0x10 a 64-bit code segment and the data segments 0x18
 * of the GDT at gdt (which the caller wrote), at rip. */
void cpu_reset_long64(struct cpu *c, u64 rip, u64 cr3, u64 gdt,
		      u16 gdt_limit);

void cpu_get_regs(const struct cpu *c, struct cpu_regs *r);
/* Sets general registers, eip and eflags only (segments stay as loaded). */
void cpu_set_regs(struct cpu *c, const struct cpu_regs *r);

/* Run at most budget instructions.  Returns early on HLT, cpu_stop() or a
 * triple fault.  Calling it again after CPU_HALT resumes only once an
 * interrupt can be taken; until then it returns CPU_HALT at once. */
enum cpu_event cpu_run(struct cpu *c, u64 budget);

/* From a bus callback: return from cpu_run() after this instruction. */
void cpu_stop(struct cpu *c);

/* The INTR pin, driven by the interrupt controller. */
void cpu_set_intr(struct cpu *c, bool level);

/* An NMI (the local APIC's LINT1 or an NMI IPI): taken at the next
 * instruction boundary, whatever IF says, unless an NMI handler is still
 * running (then right after its IRET). */
void cpu_set_nmi(struct cpu *c);

/* Instructions retired since cpu_new(). */
u64 cpu_icount(const struct cpu *c);

/* The translator's arena (src/cpu/jit.c), for --verbose and the tests;
 * all zero when the interpreter runs alone. */
struct cpu_jit_stats {
	size_t limit;		/* what the arena may fill to now, bytes */
	size_t used;		/* ... and is filled to */
	u64 bytes;		/* code and descriptors written in all */
	unsigned flushes;	/* times it was emptied */
	unsigned grown;		/* times its limit doubled */
	unsigned trims;		/* times cpu_jit_trim() emptied it */
	size_t resident;	/* written since its memory was last given
				 * back: what it costs the host */
	u64 code_writes;	/* writes that found a page of translated
				 * code (which went) */
	u64 drops;		/* blocks those writes dropped */
	u64 write_through;	/* blocks made again without a write-back
				 * register cache (a translator's bug) */
	u64 adapters;		/* chains given an adapter between two
				 * blocks' register caches */
	u64 hot_links;		/* chains linked that hand on a cache */
};
void cpu_jit_stats(const struct cpu *c, struct cpu_jit_stats *st);

/* The guest has been idle for a while: the translator may give back the
 * memory of code it will most likely never run again (it translates what
 * the guest runs next afresh). */
void cpu_jit_trim(struct cpu *c);

/*
 * Guest RAM in [pa, pa + len) has been written by something other than
 * the CPU: a device's DMA, the loader, a test putting new code in place.
 * The translator drops what it made from those bytes (the CPU's own
 * writes it sees by itself).  Every such writer must call this before
 * the guest can know of the write, and on the CPU's thread: between
 * cpu_run()s or from a bus callback.  The part outside RAM is ignored.
 */
void cpu_mem_written(struct cpu *c, u64 pa, u64 len);

/* After CPU_SHUTDOWN: a sentence naming the faults that led to it. */
const char *cpu_error(const struct cpu *c);

#endif
