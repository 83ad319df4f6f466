/*
 * Inside the software CPU: the state and the helpers the CPU's own files
 * share.  Nothing outside src/cpu/ (and the CPU tests) includes this.
 *
 * The files, in reading order:
 *   cpu.c     the run loop: instruction boundaries, interrupts, exceptions
 *             (double and triple faults), HLT, the public interface
 *   decode.c  the decoder: bytes to a struct insn (prefixes, REX, opcode
 *             maps, ModRM, SIB, immediates), one table row per opcode;
 *             everything below that runs instructions starts from it
 *   exec.c    execute one instruction: every integer instruction; calls
 *             out for the system ones
 *   alu.c     arithmetic and the flags it leaves (the only code that knows
 *             how flags are stored)
 *   mmu.c     linear addresses to physical: paging, the software TLB;
 *             segmented reads and writes with limit and type checks; stack
 *             pushes and pops
 *   seg.c     protected mode: descriptors, segment loads, far jumps, calls
 *             and returns, interrupt and exception delivery through gates,
 *             IRET, task switches, privilege changes through the TSS
 *   sys.c     system instructions: control and debug registers, MSRs,
 *             CPUID, RDTSC, I/O permission, LAR/LSL/VERR/VERW, SYSENTER
 *   fpu.c     the x87
 *   sse.c     MMX, SSE and SSE2: the 0F forms with mandatory prefixes,
 *             MXCSR, FXSAVE/FXRSTOR
 *   exec_fast.c  the fast path: the common forms decoded once into
 *             handlers (fast.h), cached by physical address
 *   jit.c     the translator: blocks of those forms as x86-64 host code
 *
 * Faults unwind with longjmp: a helper deep inside an instruction calls
 * cpu_raise(), the run loop catches it, puts EIP and ESP back to where the
 * instruction started and delivers the exception.  So an instruction must
 * not change architectural state (registers other than ESP, memory) before
 * its last possible fault, except where the manuals say the partial state is
 * visible (REP string iterations, which leave ECX/ESI/EDI consistent).
 */
#ifndef LGUEST_CPU_INTERNAL_H
#define LGUEST_CPU_INTERNAL_H

#include <setjmp.h>
#include <string.h>

#include "cpu.h"

/* EFLAGS bits. */
#define F_CF   0x00000001u
#define F_PF   0x00000004u
#define F_AF   0x00000010u
#define F_ZF   0x00000040u
#define F_SF   0x00000080u
#define F_TF   0x00000100u
#define F_IF   0x00000200u
#define F_DF   0x00000400u
#define F_OF   0x00000800u
#define F_IOPL 0x00003000u
#define F_NT   0x00004000u
#define F_RF   0x00010000u
#define F_VM   0x00020000u
#define F_AC   0x00040000u
#define F_VIF  0x00080000u
#define F_VIP  0x00100000u
#define F_ID   0x00200000u
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)
#define F_FIXED1 0x00000002u	/* bit 1 always reads as 1 */
/* The bits that exist: 3, 5, 15 and 22-31 always read as 0. */
#define F_DEFINED (F_ARITH | F_FIXED1 | F_TF | F_IF | F_DF | F_IOPL | F_NT | \
		   F_RF | F_VM | F_AC | F_VIF | F_VIP | F_ID)

/* Control register bits. */
#define CR0_PE 0x00000001u
#define CR0_MP 0x00000002u
#define CR0_EM 0x00000004u
#define CR0_TS 0x00000008u
#define CR0_ET 0x00000010u
#define CR0_NE 0x00000020u
#define CR0_WP 0x00010000u
#define CR0_AM 0x00040000u
#define CR0_NW 0x20000000u
#define CR0_CD 0x40000000u
#define CR0_PG 0x80000000u
#define CR4_VME 0x0001u
#define CR4_PVI 0x0002u
#define CR4_TSD 0x0004u
#define CR4_DE  0x0008u
#define CR4_PSE 0x0010u
#define CR4_PAE 0x0020u
#define CR4_MCE 0x0040u
#define CR4_PGE 0x0080u
#define CR4_PCE 0x0100u
#define CR4_OSFXSR     0x0200u
#define CR4_OSXMMEXCPT 0x0400u

/* Exception vectors. */
enum {
	EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4,
	EXC_BR = 5, EXC_UD = 6, EXC_NM = 7, EXC_DF = 8, EXC_TS = 10,
	EXC_NP = 11, EXC_SS = 12, EXC_GP = 13, EXC_PF = 14, EXC_MF = 16,
	EXC_AC = 17, EXC_MC = 18, EXC_XM = 19,
};

/* Page-fault error code bits. */
#define PF_P    0x01u	/* protection violation (else not present) */
#define PF_W    0x02u	/* write access */
#define PF_U    0x04u	/* CPL 3 access */
#define PF_RSVD 0x08u
#define PF_I    0x10u	/* instruction fetch (PAE paging with EFER.NXE) */

/* EFER bits (MSR 0xc0000080). */
#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

/*
 * A segment register's hidden part, as loaded from its descriptor.  limit
 * is in bytes with granularity already applied; attr holds bits 8..23 of the
 * descriptor's high dword: type (4 bits), S, DPL (2), P, then (bits 12..15 of
 * attr) AVL, L, D/B, G.  A data segment register loaded with a null selector
 * has attr 0 (not present): using it faults with #GP(0).
 */
struct seg {
	u16 sel;
	u64 base;	/* 64 bits for FS and GS in long mode */
	u32 limit;
	u16 attr;
};

#define SEG_TYPE(a)  ((a) & 0xf)
#define SEG_S(a)     (((a) >> 4) & 1)	/* 1: code/data, 0: system */
#define SEG_DPL(a)   (((a) >> 5) & 3)
#define SEG_P(a)     (((a) >> 7) & 1)
#define SEG_L(a)     (((a) >> 13) & 1)	/* code: 64-bit (long mode) */
#define SEG_DB(a)    (((a) >> 14) & 1)
#define SEG_G(a)     (((a) >> 15) & 1)
/* For code/data (S=1) types: */
#define SEG_CODE(a)  (((a) >> 3) & 1)
#define SEG_CONF(a)  (((a) >> 2) & 1)	/* code: conforming */
#define SEG_EXPDN(a) (((a) >> 2) & 1)	/* data: expand-down */
#define SEG_RW(a)    (((a) >> 1) & 1)	/* code: readable, data: writable */

struct dtr {
	u64 base;
	u16 limit;
};

/* Segment accesses, for the checks in mmu.c. */
enum { ACC_READ, ACC_WRITE, ACC_EXEC };

/*
 * The software TLB: one direct-mapped entry per hashed virtual page, for
 * user and supervisor accesses separately.  An entry caches the translation
 * and the rights it was filled with; a miss or a rights mismatch walks the
 * page tables.  Owned by mmu.c.  It is large (4 GiB of guest memory in
 * each, 32 MiB of host memory, of which only the pages of slots ever
 * filled are touched): a page walk's loads miss the host's caches, and
 * xz's or a database's working set is hundreds of MiB (xz -9 of 64 MiB
 * ran 11% faster with 2^18 entries than with 2^16, and 1% faster again
 * with 2^20).  What a flush costs does not grow with it: the slots
 * filled are listed (struct tlb_used).
 */
#define TLB_BITS 20
#define TLB_SIZE (1u << TLB_BITS)

/*
 * A slot is in two parts, in two arrays: what a read's hit needs, 16
 * bytes, so that four slots share a cache line (xz's match finder reads
 * pages all over hundreds of MiB, and waits for each slot to come in
 * before the byte it points at); and the rest (struct tlb_info), which a
 * write's hit reads too.
 */
struct tlb_entry {
	u64 vpage;	/* linear page number + 1, 0 = empty; a page that is
			 * not RAM is never kept (mmu.c's tlb_fill()) */
	uintptr_t addend;	/* host address of the page less its linear
				 * one: a hit's host byte is addend + lin */
};

struct tlb_info {
	u64 wpage;	/* vpage if a write may go straight through (D
			 * already set, no translated code in the page),
			 * else 0: a write's tag, so one compare says it */
	u32 ppage;	/* physical address of the page, bits 31..12 */
	u8 global;
	u8 noexec;	/* no fetch may hit: NX page (PAE with EFER.NXE) */
	u8 pa_high;	/* physical address bits 35..32 (PAE): nonzero is
			 * above 4 GiB, where there is nothing (mmu.c) */
	u8 listed;	/* the lists of struct tlb_used it is on, a bit
			 * each */
};

/*
 * In front of each TLB, for translated 32-bit code alone (jit.c's
 * e_access()): the page that the stack's accesses (through ESP, and
 * through EBP) found last, so that the next one to the same page costs a
 * subtraction and a compare, not a hashed lookup.  It is a copy of what an
 * entry said, never more: a read may use rpage's page, a write wpage's
 * (the entry's wpage, a page of RAM that is dirty and holds no code), each
 * TLB_L0_NONE when there is none, a value no 32-bit address is ever within
 * a page of.  Whatever empties or narrows an entry empties these
 * (tlb_l0_drop()), and so does jit_run() before it runs any block.
 */
#define TLB_L0_NONE (1ull << 63)
#define TLB_L0_SLOTS 2		/* ESP's, EBP's */
struct tlb_l0 {
	u64 rpage, wpage;	/* linear address of the page */
	uintptr_t host;		/* host address of its first byte */
	u64 pad;
};

/* A TLB: the entries' two parts, then the one-page caches in front. */
struct tlb {
	struct tlb_entry e[TLB_SIZE];
	struct tlb_info info[TLB_SIZE];
	struct tlb_l0 l0[TLB_L0_SLOTS];
};

/*
 * The slots of a TLB that may be filled, so that a flush or a search looks
 * at those alone: [0] those filled with a non-global page (what a CR3
 * write drops), [1] with a global one.  A slot is on a list once
 * (tlb_entry.listed) and stays there, filled or not, until a flush.
 */
struct tlb_used {
	u32 n[2];
	u32 slot[2][TLB_SIZE];
};

/* The host address of linear address lin, through an entry it hits. */
static inline u8 *tlb_host(const struct tlb_entry *e, u64 lin)
{
	return (u8 *)(e->addend + (uintptr_t)lin);
}

/* The x87, owned by fpu.c.  Registers are kept as host long double (x87
 * extended precision on x86-64) in physical order; st(i) is
 * st[(top + i) & 7]. */
struct fpu {
	long double st[8];
	u16 cw, sw, tw;		/* tw in the full 2-bit-per-register form */
	u8 top;
	u16 fop;
	u64 fip, fdp;		/* 64-bit in 64-bit code (FXSAVE64 keeps
				 * them whole; other images their low half) */
	u16 fcs, fds;
	/* The registers, TOP's tags and the control word are on the
	 * host's x87 (fpu.c): st[] and tw here are stale until fpu_sync(). */
	bool live;
};

/*
 * A general register: 64 bits, of which 32-bit code sees the low half (d).
 * Outside 64-bit mode the upper half is never read; what is in it there
 * is, as the SDM says, undefined.  Little-endian, so d, w and b are the
 * low bytes of q, as on the hardware.
 */
union gpr {
	u64 q;
	u32 d;
	u16 w;
	u8 b;
};

/* A 128-bit XMM register (and the scratch form of a 64-bit MMX one). */
union v128 {
	u8 b[16];
	u16 w[8];
	u32 d[4];
	u64 q[2];
};

/* MXCSR after reset: every exception masked, round to nearest. */
#define MXCSR_RESET 0x1f80u
/* The MXCSR bits that exist (DAZ included); any other is #GP(0). */
#define MXCSR_MASK  0xffffu

struct cpu {
	/* Architectural state. */
	union gpr r[16];	/* RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI,
				 * R8..R15 (the last eight: 64-bit mode) */
	union {
		u64 rip;
		u32 eip;	/* all that code outside 64-bit mode sees */
	};
	u32 eflags;		/* see cpu_get_eflags(): arithmetic flags
				 * may live elsewhere (alu.c) */

	/*
	 * What translated code reads and writes most, next to the
	 * registers: it reaches struct cpu through a pointer 128 bytes in
	 * (jit.c's JIT_RBX_BIAS), and so these first 256 bytes with a
	 * displacement of one byte.
	 */
	/* Lazy flags state, owned by alu.c. */
	u64 lf_res, lf_src1, lf_src2;	/* as wide as the operation */
	u32 lf_op;		/* which operation last set the flags */
	u64 lf_rot;		/* the result of a rotate (LF_ROT()) */
	u64 ictr;		/* instructions run (cpu.c), less jit_end */
	u64 jit_end;		/* icount no translated block may pass */
	/* Set before translated code runs, which changes neither the
	 * segments nor the CPL: which segments its inline accesses may not
	 * use unchecked (bit s: reads, bit 8 + s: writes; the complement,
	 * so that one TEST asks) and the TLB they use. */
	u32 jit_unflat;
	const struct tlb *jit_tlb;
	u8 intr;		/* INTR_PIN | INTR_NMI | INTR_CODE: nonzero
				 * ends a run of instructions at the next
				 * boundary */
	volatile bool stop;	/* cpu_stop() */
	struct seg seg[6];	/* ES, CS, SS, DS, FS, GS */
	struct seg ldtr, tr;	/* tr.attr type: 9/0xb (available/busy) */
	struct dtr gdtr, idtr;
	u32 cr0, cr4;
	u64 cr2, cr3;		/* CR2: a linear address, 64 bits in long mode */
	u64 pdpte[4];		/* PAE: the PDPT, loaded with CR3 */
	u32 dr[8];
	int cpl;
	u32 sysenter_cs;
	u64 sysenter_esp, sysenter_eip;
	u64 tsc_offset;		/* TSC = clock_ns + tsc_offset */
	u64 tsc_last;		/* the guest's last read (tsc_read()) */
	u64 tsc_adjust;		/* IA32_TSC_ADJUST: the TSC's writes, summed */
	u64 efer, misc_enable, pat;	/* MSRs that only hold a value */
	u64 star, lstar, cstar, kernel_gs_base;	/* long mode's */
	u32 sfmask;
	struct fpu fpu;
	/* SSE (sse.c).  Sixteen registers, of which 32-bit code reaches
	 * eight; the MMX registers are the x87's (fpu.c). */
	union v128 xmm[16] __attribute__((aligned(16)));
	u32 mxcsr;

	/* Memory. */
	u8 *ram;
	u32 ram_size;
	struct tlb tlb[2];	/* [0] supervisor, [1] user */
	struct tlb_used tlb_used[2];
	/* A bit per page of RAM: the page holds translated code (jit.c
	 * sets it, mmu_watch_code()); NULL without the translator.  No
	 * TLB entry of such a page is writable, so every write to it
	 * comes to phys_write(), which tells the translator. */
	u32 *code_pages;
	u32 tlb_large[32];	/* 4 MiB regions the TLB may hold large-page
				 * entries of, a bit each, the region's
				 * number taken modulo 1024 (mmu.c) */
	u64 tlb_huge[4];	/* 1 GiB regions (lin >> 30, + 1; 0 = none)
				 * it may hold 1 GiB-page entries of */
	bool tlb_huge_many;	/* more of them than tlb_huge holds */
	struct dcache *dcache;	/* decoded instructions (exec_fast.c) */

	/* Outside world. */
	struct cpu_bus bus;
	bool nmi_pending;	/* an NMI edge not yet taken */
	bool nmi_blocked;	/* an NMI handler runs: no NMI until IRET */

	/* Run-loop state, owned by cpu.c. */
	u64 insn_eip, insn_esp;	/* where the current instruction began
				 * (RIP and RSP: 64 bits in long mode) */
	bool halted;
	bool intr_shadow;	/* after STI, MOV SS, POP SS: no interrupt
				 * before the next instruction completes */
	int exc_depth;		/* faults nested while delivering one */
	int exc_pending;	/* vector in flight, -1 when none */
	u64 budget_end;		/* icount where this run's budget ends:
				 * a REP loop stops there (exec_string.c) */
	jmp_buf jmp;
	char error[160];

	/* The translator (jit.c); jit is NULL when it is off. */
	struct jit *jit;
	u8 *jit_chain_at;	/* after a chain exit: the jump to patch */
	const u8 *jit_chain_host;	/* ... and the code it should reach */
	u32 jit_chain_need;	/* ... and the segments its block checked */
	u64 jit_chain_rc;	/* ... and its register cache (jit.c) */
	void *jit_win_drop;	/* a block to make again without windows
				 * (jit.c's win_give_up()), or NULL */
	bool jit_active;	/* in translated code: a fault's EIP and ESP
				 * are still the instruction's own */

	/* Guest-EIP profile (cpu.c, LGUEST_PROFILE): NULL when off. */
	struct cpu_prof *prof;
};

/*
 * The count of instructions run is kept as its distance from jit_end (mod
 * 2^64), so that translated code charges a block with one addition to
 * memory whose sign says whether it passed the end (jit.c's
 * emit_budget()).  jit_run() moves the end, and the distance with it.
 */
static inline u64 icount_of(const struct cpu *c)
{
	return c->jit_end + c->ictr;
}

static inline void icount_end_at(struct cpu *c, u64 end)
{
	c->ictr += c->jit_end - end;
	c->jit_end = end;
}

/* Register access by size. */
/*
 * Byte registers: 0..7 are AL, CL, DL, BL, AH, CH, DH, BH; with a REX
 * prefix the same numbers (and 8..15) name the low bytes of the sixteen
 * registers instead (SPL, BPL, SIL, DIL, R8B...), which the executor
 * says by adding REG8_REX (exec.h: byte_reg()).
 */
#define REG8_REX 16

static inline u8 get_reg8(const struct cpu *c, int r)
{
	if (r & REG8_REX)
		return c->r[r & 15].b;
	return r < 4 ? (u8)c->r[r].d : (u8)(c->r[r - 4].d >> 8);
}

static inline void set_reg8(struct cpu *c, int r, u8 v)
{
	if (r & REG8_REX)
		c->r[r & 15].b = v;
	else if (r < 4)
		c->r[r].d = (c->r[r].d & ~0xffu) | v;
	else
		c->r[r - 4].d = (c->r[r - 4].d & ~0xff00u) | ((u32)v << 8);
}

static inline void set_reg16(struct cpu *c, int r, u16 v)
{
	c->r[r & 15].w = v;
}

/* An instruction begins at EIP: a fault in it puts EIP and ESP back to
 * what they are now. */
static inline void cpu_insn_begins(struct cpu *c)
{
	c->insn_eip = c->rip;
	c->insn_esp = c->r[R_ESP].q;
}

static inline bool cpu_pmode(const struct cpu *c)
{
	return c->cr0 & CR0_PE;
}

static inline bool cpu_vm86(const struct cpu *c)
{
	return c->eflags & F_VM;
}

/* True if the stack segment is 32-bit (ESP) rather than 16-bit (SP). */
static inline bool stack32(const struct cpu *c)
{
	return SEG_DB(c->seg[S_SS].attr);
}

/* --- cpu.c --- */

/* The bits of c->intr: the INTR pin is high; an NMI is pending and not
 * blocked. */
#define INTR_PIN 1u
#define INTR_NMI 2u
/* Not an interrupt: a write dropped translated code while translated code
 * ran (jit.c), which must leave its block at the next boundary, in case
 * the code dropped was its own.  jit_run() clears it. */
#define INTR_CODE 4u

/* IRET ends NMI blocking (SDM vol. 3, 6.7.1). */
void cpu_nmi_unblock(struct cpu *c);

/* Raise a fault or abort: unwinds to the run loop, which restores EIP and
 * ESP to the instruction's start and delivers vector vec (with err if the
 * vector carries one: 8, 10-14, 17).  Double and triple faults are decided
 * there.  Never returns. */
noreturn void cpu_raise(struct cpu *c, int vec, u32 err);
/* Shorthands. */
noreturn void cpu_gp(struct cpu *c, u32 err);
noreturn void cpu_ud(struct cpu *c);

/* --- alu.c: flags --- */

/* All of EFLAGS, with lazily kept arithmetic flags folded in. */
u32 cpu_get_eflags(struct cpu *c);
/* Replace EFLAGS bits in mask with those of val (no privilege checks: the
 * caller, e.g. POPF or IRET, decides the mask).  Bit 1 stays set; VM, RF
 * and the reserved bits are the caller's business too. */
void cpu_set_eflags(struct cpu *c, u32 val, u32 mask);
/* Condition code cc (0..15, the low nibble of Jcc/SETcc/CMOVcc). */
bool cpu_cond(struct cpu *c, int cc);

/* --- exec.c --- */

/* Decode and execute the instruction at CS:EIP. */
void cpu_exec_one(struct cpu *c);

/* --- exec_fast.c: the decoded-instruction cache --- */

/* The same, through the cache of decoded instructions when it can. */
void cpu_exec_cached(struct cpu *c);
/* Run from CS:EIP up to icount end; counts what it ran (exec_fast.c). */
void cpu_exec_run(struct cpu *c, u64 end);
void cpu_dcache_init(struct cpu *c);	/* cpu_new(): may fail, then unused */
void cpu_dcache_free(struct cpu *c);

/* --- jit.c: the translator to host code --- */

/* Set up c->jit (left NULL where there is no translator, or with
 * LGUEST_JIT=0 in the environment); free it. */
void jit_init(struct cpu *c);
void jit_free(struct cpu *c);
/* Like cpu_exec_run(), through translated blocks. */
void jit_run(struct cpu *c, u64 end);
/* RAM in [pa, pa + len) (within RAM) is being written, and a page of it
 * holds translated code: that code goes, and the pages' bits with it. */
void jit_code_written(struct cpu *c, u32 pa, u32 len);

/* --- mmu.c: memory --- */

/* Translate a linear address for an access of the given kind (ACC_*) at
 * the given privilege (user = true for CPL 3 data accesses; descriptor
 * table and TSS accesses are supervisor accesses whatever the CPL).  Sets
 * accessed and dirty bits, raises #PF with CR2 set on failure.  Without
 * paging it returns lin.  With PAE the result may lie above 4 GiB (up to
 * MAXPHYADDR, 36 bits), where there is no RAM and no device. */
u64 mmu_translate(struct cpu *c, u64 lin, int acc, bool user);
/* Drop the TLB: all entries, or all but global ones (CR3 write). */
void mmu_flush(struct cpu *c, bool keep_global);
/* Empty the one-page caches in front of both TLBs (struct tlb_l0). */
void tlb_l0_drop(struct cpu *c);
/* True when paging uses the PAE format (CR0.PG and CR4.PAE). */
static inline bool mmu_pae(const struct cpu *c)
{
	return (c->cr0 & CR0_PG) && (c->cr4 & CR4_PAE);
}
/* PAE: read the four PDPTEs at cr3 into out, for a MOV to CR3 (or to
 * CR0/CR4 that enters PAE paging, or a task switch) to load into
 * c->pdpte.  Returns false if a present one has a reserved bit set: the
 * caller then raises #GP(0) and changes nothing. */
bool mmu_read_pdptes(struct cpu *c, u32 cr3, u64 out[4]);
void mmu_invlpg(struct cpu *c, u64 lin);

/* Does the page of RAM at pa hold translated code (c->code_pages)? */
static inline bool page_has_code(const struct cpu *c, u32 pa)
{
	return c->code_pages &&
	       (c->code_pages[pa >> 17] >> ((pa >> 12) & 31) & 1);
}

/* The translator made code from the page of RAM at pa: mark it, and take
 * the right to write from every TLB entry that maps it (through any
 * linear address, large pages too), so that a write to it is seen. */
void mmu_watch_code(struct cpu *c, u32 pa);

/* Physical accesses: RAM, or the bus's mmio callbacks outside RAM. */
u64 phys_read(struct cpu *c, u32 pa, int size);
void phys_write(struct cpu *c, u32 pa, u64 val, int size);

/* Linear accesses (may cross a page boundary), at CPL privilege unless
 * sys is true (implicit supervisor access: GDT, IDT, LDT, TSS). */
u64 lin_read(struct cpu *c, u64 lin, int size, bool sys);
void lin_write(struct cpu *c, u64 lin, u64 val, int size, bool sys);

/* Segmented data accesses: seg is S_ES..S_GS, off the effective address.
 * Check the segment's presence, type and limit (#GP(0), or #SS(0) for SS),
 * then the page.  size is 1, 2 or 4. */
u64 mem_read(struct cpu *c, int seg, u64 off, int size);
void mem_write(struct cpu *c, int seg, u64 off, u64 val, int size);
/* The read half of a read-modify-write: checks for writing, so that the
 * fault (and its error code) comes before anything changes. */
u64 mem_read_rmw(struct cpu *c, int seg, u64 off, int size);
u64 mem_read64(struct cpu *c, int seg, u64 off);
void mem_write64(struct cpu *c, int seg, u64 off, u64 val);
/* Check that [off, off+len) may be accessed (ACC_READ/ACC_WRITE) without
 * faulting, raising the fault if not: for instructions that must check all
 * before writing any (ENTER, PUSHA, FSAVE, far calls). */
void mem_check(struct cpu *c, int seg, u64 off, u32 len, int acc);

/* Instruction fetch at CS:eip (limit-checked, #PF on fetch). */
u8 code_read8(struct cpu *c, u64 eip);
u16 code_read16(struct cpu *c, u64 eip);
u32 code_read32(struct cpu *c, u64 eip);

/* True if [off, off+len) lies within segment s's limit (expand-down
 * aware); for seg.c, which checks stacks it has not loaded yet. */
bool seg_limit_ok(const struct seg *s, u64 off, u32 len);

/*
 * The fast paths of mem_read() and mem_write(), inline for the executor:
 * a segment whose checks cannot fail (present, data, not expand-down,
 * 4 GiB limit: what every flat protected-mode segment is, whatever its
 * base; in 64-bit code, any: there are no segment checks), and a TLB hit
 * on RAM for an access within one page (which in 64-bit code also says
 * the address is canonical: the TLB holds none that is not).  Anything
 * else takes the full path in mmu.c, which does every check in order.
 */
#define SEG_FAST_MASK  0x9eu	/* P, S, code, expand-down, writable */
#define SEG_FAST_READ  0x90u	/* present data (the W bit is masked out) */
#define SEG_FAST_WRITE 0x92u	/* present writable data */

static inline const struct tlb_entry *tlb_entry_for(const struct cpu *c,
						    u64 lin)
{
	return &c->tlb[c->cpl == 3].e[(lin >> 12) & (TLB_SIZE - 1)];
}

static inline const struct tlb_info *tlb_info_for(const struct cpu *c,
						  u64 lin)
{
	return &c->tlb[c->cpl == 3].info[(lin >> 12) & (TLB_SIZE - 1)];
}

/* May code at lin be fetched through the TLB without a walk?  An entry
 * filled by a data access to an NX page may not: every fetch path
 * (code_host(), exec.c's code window, the translator) asks this. */
static inline bool tlb_fetch_hit(const struct cpu *c, u64 lin)
{
	return tlb_entry_for(c, lin)->vpage == (lin >> 12) + 1 &&
	       !tlb_info_for(c, lin)->noexec;
}

/* May a write to lin's page go straight through its TLB entry? */
static inline bool tlb_write_hit(const struct cpu *c, u64 lin)
{
	return tlb_info_for(c, lin)->wpage == (lin >> 12) + 1;
}

/* The host address of the code byte at linear address lin, or NULL if it
 * is not in RAM.  A TLB miss walks the page tables, with the #PF that the
 * fetch of that byte would raise (NX included). */
static inline const u8 *code_host(struct cpu *c, u64 lin)
{
	const struct tlb_entry *e = tlb_entry_for(c, lin);

	if (unlikely(!tlb_fetch_hit(c, lin)))
		mmu_translate(c, lin, ACC_EXEC, c->cpl == 3);
	return e->vpage == (lin >> 12) + 1 ? tlb_host(e, lin) : NULL;
}

static inline u64 host_ld(const u8 *p, int size)
{
	u16 h;
	u32 w;
	u64 q;

	if (size == 1)
		return *p;
	if (size == 2) {
		memcpy(&h, p, 2);
		return h;
	}
	if (size == 4) {
		memcpy(&w, p, 4);
		return w;
	}
	memcpy(&q, p, 8);
	return q;
}

static inline void host_st(u8 *p, u64 v, int size)
{
	u16 h = (u16)v;
	u32 w = (u32)v;

	if (size == 1)
		*p = (u8)v;
	else if (size == 2)
		memcpy(p, &h, 2);
	else if (size == 4)
		memcpy(p, &w, 4);
	else
		memcpy(p, &v, 8);
}

/* A 64-bit linear address is canonical when bits 63..47 are all equal
 * (48-bit linear addresses). */
static inline bool canonical(u64 lin)
{
	return (u64)((s64)(lin << 16) >> 16) == lin;
}

/* Running 64-bit code: long mode active and CS a 64-bit segment. */
static inline bool cpu_64bit(const struct cpu *c)
{
	return (c->efer & EFER_LMA) && SEG_L(c->seg[S_CS].attr);
}

/* The linear address of sreg:off, segment checks aside: 32 bits wide
 * outside 64-bit code, where it wraps; in 64-bit code only FS and GS
 * have a base. */
static inline u64 seg_linear(const struct cpu *c, int sreg, u64 off)
{
	if (cpu_64bit(c))
		return (sreg >= S_FS ? c->seg[sreg].base : 0) + off;
	return (u32)(c->seg[sreg].base + off);
}

static inline u64 mem_read_fast(struct cpu *c, int seg, u64 off, int size)
{
	const struct seg *s = &c->seg[seg];
	u64 lin = seg_linear(c, seg, off);
	const struct tlb_entry *e = tlb_entry_for(c, lin);

	if (likely(((s->limit == 0xffffffffu &&
		     (s->attr & (SEG_FAST_MASK & ~2u)) == SEG_FAST_READ) ||
		    cpu_64bit(c)) &&
		   e->vpage == (lin >> 12) + 1 &&
		   (lin & 0xfff) <= 0x1000u - size))
		return host_ld(tlb_host(e, lin), size);
	return mem_read(c, seg, off, size);
}

static inline void mem_write_fast(struct cpu *c, int seg, u64 off, u64 val,
				  int size)
{
	const struct seg *s = &c->seg[seg];
	u64 lin = seg_linear(c, seg, off);
	const struct tlb_entry *e = tlb_entry_for(c, lin);

	if (likely(((s->limit == 0xffffffffu &&
		     (s->attr & SEG_FAST_MASK) == SEG_FAST_WRITE) ||
		    cpu_64bit(c)) &&
		   tlb_write_hit(c, lin) &&
		   (lin & 0xfff) <= 0x1000u - size)) {
		host_st(tlb_host(e, lin), val, size);
		return;
	}
	mem_write(c, seg, off, val, size);
}

/*
 * The host address of [off, off + size) when an access to all of it in
 * one piece would take mem_read_fast()'s fast path (write:
 * mem_write_fast()'s), for accesses wider than 8 bytes (sse.c); NULL
 * when it must go through mem_read() or mem_write() and their checks.
 */
static inline u8 *mem_host_fast(struct cpu *c, int seg, u64 off, u32 size,
				bool write)
{
	const struct seg *s = &c->seg[seg];
	u64 lin = seg_linear(c, seg, off);
	const struct tlb_entry *e = tlb_entry_for(c, lin);
	u32 type = write ? SEG_FAST_WRITE : SEG_FAST_READ;
	u32 mask = write ? SEG_FAST_MASK : SEG_FAST_MASK & ~2u;

	if (likely(((s->limit == 0xffffffffu && (s->attr & mask) == type &&
		     off + size - 1 <= s->limit) || cpu_64bit(c)) &&
		   (write ? tlb_write_hit(c, lin) :
			    e->vpage == (lin >> 12) + 1) &&
		   (lin & 0xfff) <= 0x1000u - size))
		return tlb_host(e, lin);
	return NULL;
}

/* Stack: push and pop at SS:ESP (or SP with a 16-bit stack, RSP in
 * 64-bit code), size 2, 4 or 8. */
static inline void cpu_push(struct cpu *c, u64 val, int size)
{
	u32 esp = c->r[R_ESP].d;

	if (unlikely(cpu_64bit(c))) {
		u64 rsp = c->r[R_ESP].q - size;

		mem_write_fast(c, S_SS, rsp, val, size);
		c->r[R_ESP].q = rsp;
		return;
	}
	if (likely(stack32(c))) {
		esp -= size;
		mem_write_fast(c, S_SS, esp, val, size);
	} else {
		esp = (esp & 0xffff0000u) | ((esp - size) & 0xffff);
		mem_write_fast(c, S_SS, esp & 0xffff, val, size);
	}
	c->r[R_ESP].d = esp;
}

static inline u64 cpu_pop(struct cpu *c, int size)
{
	u32 esp = c->r[R_ESP].d;
	u64 v;

	if (unlikely(cpu_64bit(c))) {
		v = mem_read_fast(c, S_SS, c->r[R_ESP].q, size);
		c->r[R_ESP].q += size;
		return v;
	}
	if (likely(stack32(c))) {
		v = mem_read_fast(c, S_SS, esp, size);
		c->r[R_ESP].d = esp + size;
	} else {
		v = mem_read_fast(c, S_SS, esp & 0xffff, size);
		c->r[R_ESP].d = (esp & 0xffff0000u) | ((esp + size) & 0xffff);
	}
	return v;
}

/* --- seg.c: protected mode --- */

/* Load a segment register (MOV, POP, LDS..LGS) with every protected-mode
 * check, or the real-mode rule base = sel << 4. */
void seg_load(struct cpu *c, int sreg, u16 sel);
/* Load CS:EIP for a far JMP or CALL (through call gates and task gates
 * too), or return.  opsize is 2 or 4; next_eip is the return address. */
void far_jmp(struct cpu *c, u16 sel, u64 off, u64 next_rip);
void far_call(struct cpu *c, u16 sel, u64 off, int opsize, u64 next_rip);
void far_ret(struct cpu *c, int opsize, u16 pop_bytes);
void cpu_iret(struct cpu *c, int opsize);

/* Deliver an interrupt or exception through the IDT (or the real-mode IVT).
 * EIP must already hold the return address.  kind says who asked, which
 * decides the gate DPL check and whether an error code is pushed. */
enum int_kind {
	INT_HW,		/* external interrupt (INTR) or NMI */
	INT_SOFT,	/* INT n, INT3, INTO: gate DPL checked against CPL */
	INT_EXC,	/* exception without error code */
	INT_EXC_ERR,	/* exception with error code err */
};
void cpu_interrupt(struct cpu *c, int vec, enum int_kind kind, u32 err);

/* LLDT, LTR, and the descriptor checks of LAR, LSL, VERR, VERW: lar and
 * lsl return false (ZF=0) when the selector does not qualify. */
void seg_lldt(struct cpu *c, u16 sel);
void seg_ltr(struct cpu *c, u16 sel);
bool seg_lar(struct cpu *c, u16 sel, u32 *attr);
bool seg_lsl(struct cpu *c, u16 sel, u32 *limit);
bool seg_verr(struct cpu *c, u16 sel);
bool seg_verw(struct cpu *c, u16 sel);
/* ARPL is done in exec.c; it needs nothing from here. */

/* --- sys.c --- */

u64 sys_read_cr(struct cpu *c, int n);	/* #UD for CR1, CR5..8 */
void sys_write_cr(struct cpu *c, int n, u64 val);	/* #GP on bad bits */
u32 sys_read_dr(struct cpu *c, int n);
void sys_write_dr(struct cpu *c, int n, u32 val);
void sys_rdmsr(struct cpu *c);		/* ECX -> EDX:EAX, #GP if unknown */
void sys_wrmsr(struct cpu *c);
void sys_cpuid(struct cpu *c);
void sys_rdtsc(struct cpu *c);
/* #GP(0) unless CPL <= IOPL or the TSS I/O bitmap allows all size bytes
 * from port. */
void sys_io_check(struct cpu *c, u16 port, int size);
/* The MSRs' values after RESET. */
void sys_reset_msrs(struct cpu *c);
void sys_sysenter(struct cpu *c);
void sys_sysexit(struct cpu *c, int opsize);
/* Long mode: SYSCALL (next_rip: the instruction after it), SYSRET with
 * operand size 4 or 8, SWAPGS. */
void sys_syscall(struct cpu *c, u64 next_rip);
void sys_sysret(struct cpu *c, int opsize);
void sys_swapgs(struct cpu *c);

/* --- fpu.c --- */

void fpu_reset(struct cpu *c);	/* FNINIT state */
/* Make struct fpu the whole truth again (and free the host's x87), before
 * anyone outside fpu.c reads or changes it. */
void fpu_sync(struct cpu *c);
/* Execute x87 opcode op (0xd8..0xdf) with its ModRM byte.  For memory forms
 * (mod != 3) seg:off is the operand's address; opsize (2 or 4) matters for
 * FNSTENV/FLDENV/FNSAVE/FRSTOR.  exec.c has already checked CR0.EM/TS
 * (#NM). */
void fpu_exec(struct cpu *c, u8 op, u8 modrm, int seg, u64 off, int opsize);
bool fpu_inline_form(u8 op, u8 modrm, int *size);
/* FWAIT: #MF (CR0.NE) if an unmasked exception is pending. */
void fpu_wait(struct cpu *c);
/*
 * MMX.  MMn is the low 64 bits (the mantissa) of physical register n.
 * Every MMX instruction but EMMS first takes a pending x87 exception
 * (fpu_wait(), #MF), and once it can no longer fault switches the x87 to
 * MMX use: fpu_mmx_switch() sets TOP to 0 and no register empty.  A
 * write sets the register's sign and exponent to all ones, as hardware
 * does.
 */
void fpu_mmx_switch(struct cpu *c);
/* Give the host its x87 back, whichever CPU's state is on it: before the
 * host runs MMX code for a guest, or borrows its x87 (sse.c). */
void fpu_host_release(void);
u64 fpu_mm_read(struct cpu *c, int n);
void fpu_mm_write(struct cpu *c, int n, u64 v);
void fpu_emms(struct cpu *c);
/* The x87 half of the FXSAVE image: bytes 0..23 and the registers at
 * 32..159; FXRSTOR's reverse (the caller has checked MXCSR).  With wide
 * (REX.W: FXSAVE64, FXRSTOR64) FIP and FDP are 8 bytes each, at 8 and
 * 16, where the other layout has 4-byte offsets and FCS, FDS. */
void fpu_fxsave(struct cpu *c, u8 *img, bool wide);
void fpu_fxrstor(struct cpu *c, const u8 *img, bool wide);

/* --- sse.c --- */

void sse_reset(struct cpu *c);	/* power-on: registers 0, MXCSR_RESET */
/* The 0F opcodes that belong to MMX, SSE and SSE2 (with whatever prefix);
 * sse_exec() runs one, d->next just past the 0F xx bytes. */
bool sse_opcode(u8 op);
struct insn;
void sse_exec(struct cpu *c, struct insn *d, u8 op);

#endif
