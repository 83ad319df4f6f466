/*
 * System instructions: control and debug registers, MSRs, CPUID, RDTSC,
 * the I/O permission check, SYSENTER and SYSEXIT, and long mode's
 * SYSCALL, SYSRET and SWAPGS.
 *
 * This file is also where the processor says what it is.  CPUID describes
 * a family-6 processor (a Pentium III by its model number) with exactly
 * the features we implement: FPU, PSE, TSC, MSR, PAE, CX8, SEP, PGE,
 * CMOV, PAT, MMX, FXSR, SSE, SSE2, CLFLUSH, CX16, and in leaf 0x80000001
 * NX, SYSCALL, long mode (LM, LAHF in 64-bit code) and its 1 GiB pages
 * (PDPE1GB), plus the APIC bit
 * while the local APIC (a device on the bus, src/hw/apic.c) is enabled.
 * No MTRRs: Debian's 686 and 686-pae kernels do without.  A feature not
 * listed is not there: its instructions raise #UD and its control bits
 * #GP, as on a processor without it.  The hypervisor bit of leaf 1 is set
 * and leaf 0x40000000 names us ("lguest"): it is honest, and it keeps
 * Linux from probing for microcode updates, which would touch MSRs a real
 * Pentium III has and we do not.
 *
 * The TSC counts the machine clock's nanoseconds: a 1 GHz TSC.
 *
 * What a tickless Linux needs to sleep long is said too, each bit only
 * because it is true of this machine: the TSC is invariant (it runs at
 * one rate, halted or not: leaf 0x80000007), it has IA32_TSC_ADJUST
 * (leaf 7), the local APIC's timer keeps running while the CPU halts
 * (ARAT, leaf 6) and has TSC-deadline mode (leaf 1), whenever there is a
 * local APIC on the bus.
 */
#include <string.h>

#include "cpu_internal.h"

/* MSRs.  Any other index raises #GP, as an unimplemented MSR does on
 * hardware (Linux and kvm-unit-tests probe with a #GP handler ready). */
#define MSR_TSC            0x010
#define MSR_TSC_ADJUST     0x03b
#define MSR_PLATFORM_ID    0x017
#define MSR_BIOS_SIGN_ID   0x08b
#define MSR_SYSENTER_CS    0x174
#define MSR_SYSENTER_ESP   0x175
#define MSR_SYSENTER_EIP   0x176
#define MSR_MCG_CAP        0x179
#define MSR_MISC_ENABLE    0x1a0
#define MSR_PAT            0x277
#define MSR_EFER           0xc0000080u
#define MSR_STAR           0xc0000081u
#define MSR_LSTAR          0xc0000082u
#define MSR_CSTAR          0xc0000083u
#define MSR_SFMASK         0xc0000084u
#define MSR_FS_BASE        0xc0000100u
#define MSR_GS_BASE        0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u

/* IA32_MISC_ENABLE: the bits software may change (fast strings, automatic
 * thermal control, EIST, MONITOR FSM, limit CPUID maxval, xTPR disable,
 * XD disable) and the read-only ones (performance monitoring available,
 * BTS and PEBS unavailable).  The rest are reserved: setting one is #GP.
 * Only LIMIT_CPUID changes what we do; the others have nothing to act on
 * here and are kept as written. */
#define MISC_FAST_STRING   (1ull << 0)
#define MISC_BTS_UNAVAIL   (1ull << 11)
#define MISC_PEBS_UNAVAIL  (1ull << 12)
#define MISC_LIMIT_CPUID   (1ull << 22)
#define MISC_RW  (MISC_FAST_STRING | 1ull << 3 | 1ull << 16 | 1ull << 18 | \
		  MISC_LIMIT_CPUID | 1ull << 23 | 1ull << 34)
#define MISC_RO  (1ull << 7 | MISC_BTS_UNAVAIL | MISC_PEBS_UNAVAIL)
#define MISC_RESET (MISC_FAST_STRING | MISC_BTS_UNAVAIL | MISC_PEBS_UNAVAIL)

/* PAT: eight memory types, one a byte; 2, 3 and 8 and above are
 * reserved.  The types change nothing for a software CPU: every access
 * goes to memory in order, whatever its type. */
#define PAT_RESET 0x0007040600070406ull

/* EFER (bits in cpu_internal.h): SCE and NXE may be set.  LME and LMA
 * belong to long mode, which this CPU does not have.  SCE is kept but
 * enables nothing: SYSCALL is #UD outside 64-bit mode on an Intel
 * processor, SCE or not.  NXE makes bit 63 of PAE entries NX (mmu.c). */
#define EFER_VALID (EFER_SCE | EFER_LME | EFER_NXE)


/* CPUID leaf 1 EDX bits we set. */
#define CPUID_FPU   (1u << 0)
#define CPUID_PSE   (1u << 3)
#define CPUID_TSC   (1u << 4)
#define CPUID_MSR   (1u << 5)
#define CPUID_CX8   (1u << 8)
#define CPUID_APIC  (1u << 9)
#define CPUID_SEP   (1u << 11)
#define CPUID_PGE   (1u << 13)
#define CPUID_CMOV  (1u << 15)
#define CPUID_PAT   (1u << 16)
#define CPUID_PAE   (1u << 6)
#define CPUID_CLFSH (1u << 19)
#define CPUID_MMX   (1u << 23)
#define CPUID_FXSR  (1u << 24)
#define CPUID_SSE   (1u << 25)
#define CPUID_SSE2  (1u << 26)
/* EBX[15:8]: CLFLUSH's line, in 8-byte units (64 bytes, as every SSE2
 * processor has). */
#define CPUID_CLFLUSH_LINE (8u << 8)
#define CPUID_HYPERVISOR (1u << 31)	/* ECX */
/* Leaf 0x80000001 EDX. */
#define CPUID_EXT_NX (1u << 20)
#define CPUID_EXT_SYSCALL (1u << 11)
#define CPUID_EXT_LM (1u << 29)
#define CPUID_EXT_PDPE1GB (1u << 26)	/* 1 GiB pages in long mode */
#define CPUID_EXT_LAHF_LM (1u << 0)	/* ECX: LAHF and SAHF in 64-bit code */
#define CPUID_CX16 (1u << 13)		/* leaf 1 ECX: CMPXCHG16B */
#define CPUID_TSC_DEADLINE (1u << 24)	/* leaf 1 ECX */
#define CPUID_ARAT (1u << 2)		/* leaf 6 EAX: APIC timer always runs */
#define CPUID_TSC_ADJUST (1u << 1)	/* leaf 7.0 EBX: IA32_TSC_ADJUST */
#define CPUID_INVARIANT_TSC (1u << 8)	/* leaf 0x80000007 EDX */
/* Leaf 0x80000008 EAX: 48 linear address bits (long mode's four levels)
 * and MAXPHYADDR 36, the P6 family's physical address width. */
#define CPUID_ADDR_SIZES ((48u << 8) | 36u)

#define MSR_APIC_BASE      0x01b
#define MSR_TSC_DEADLINE   0x6e0
#define APIC_BASE_ENABLE   (1u << 11)

/* The basic leaves: 2 (cache and TLB descriptors), 6 (power management:
 * only ARAT) and 7 (structured features: only TSC_ADJUST) are the ones
 * past 1 that Linux and kvm-unit-tests read; 3-5 are all zero (no serial
 * number, no deterministic cache leaves, no MONITOR). */
#define CPUID_MAX_BASIC 7u
#define CPUID_LIMITED_MAX 2u	/* with MISC_ENABLE.LIMIT_CPUID */
#define CPUID_HV_BASE   0x40000000u
#define CPUID_EXT_MAX   0x80000008u
/* Family 6, model 8, stepping 3. */
#define CPUID_SIGNATURE 0x00000683u
/* Leaf 2 of a Pentium III (Coppermine): one round; 4 KiB and 4 MiB
 * instruction and data TLBs, 16 KiB L1 instruction and data caches and a
 * 256 KiB L2, all with 32-byte lines. */
#define CPUID_LEAF2_EAX 0x03020101u
#define CPUID_LEAF2_EDX 0x0c040882u

/* CR0 bits a guest may set; the rest of the low 32 read as zero (writes
 * to them are ignored, as on a P6).  ET is wired to 1. */
#define CR0_WRITABLE (CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_NE | CR0_WP | \
		      CR0_AM | CR0_NW | CR0_CD | CR0_PG)
/* CR4 bits for the features CPUID admits to; any other is #GP. */
#define CR4_VALID (CR4_TSD | CR4_PSE | CR4_PAE | CR4_PGE | CR4_PCE | \
		   CR4_OSFXSR | CR4_OSXMMEXCPT)
/* Changing these makes cached translations wrong. */
#define CR0_TLB_BITS (CR0_PG | CR0_WP | CR0_PE)
#define CR4_TLB_BITS (CR4_PSE | CR4_PAE | CR4_PGE)
/* With PAE paging on, a write changing these reloads the PDPTEs (SDM
 * vol. 3, 4.4.1). */
#define CR0_PDPTE_BITS (CR0_PG | CR0_CD | CR0_NW)
#define CR4_PDPTE_BITS (CR4_PSE | CR4_PAE | CR4_PGE)

#define DR6_FIXED 0xffff0ff0u
#define DR7_FIXED 0x00000400u

static void need_cpl0(struct cpu *c)
{
	if (cpu_pmode(c) && (cpu_vm86(c) || c->cpl != 0))
		cpu_gp(c, 0);
}

/* --- Control registers --- */

/*
 * CR8, the task priority in 64-bit mode: bits 3:0 are the local APIC's
 * TPR bits 7:4, and a write sets the TPR's low four bits to 0 (SDM vol.
 * 3, 10.8.6.1).  Only a REX prefix names it, so other modes never see
 * it; with no APIC on the bus it is #UD, like any register not there.
 */
static u64 read_cr8(struct cpu *c)
{
	u8 tpr;

	if (!c->bus.tpr_read || !c->bus.tpr_read(c->bus.opaque, &tpr))
		cpu_ud(c);
	need_cpl0(c);
	return tpr >> 4;
}

static void write_cr8(struct cpu *c, u64 val)
{
	u8 tpr;

	if (!c->bus.tpr_read || !c->bus.tpr_write ||
	    !c->bus.tpr_read(c->bus.opaque, &tpr))
		cpu_ud(c);
	need_cpl0(c);
	if (val >> 4)
		cpu_gp(c, 0);	/* bits 63:4 are reserved */
	c->bus.tpr_write(c->bus.opaque, (u8)(val << 4));
}

static bool is_cr8(const struct cpu *c, int n)
{
	return n == 8 && cpu_64bit(c);
}

u64 sys_read_cr(struct cpu *c, int n)
{
	if (is_cr8(c, n))
		return read_cr8(c);
	if (n == 1 || n > 4)
		cpu_ud(c);
	need_cpl0(c);
	switch (n) {
	case 0:
		return c->cr0;
	case 2:
		return c->cr2;
	case 3:
		return c->cr3;
	default:
		return c->cr4;
	}
}

/*
 * PAE paging keeps the four PDPTEs in registers.  A write to CR0, CR3 or
 * CR4 that leaves PAE paging on (and, for CR0 and CR4, changes a bit that
 * matters) loads them from CR3; a present one with a reserved bit makes
 * the write #GP(0), with nothing changed.
 */
static void load_pdptes(struct cpu *c, u32 cr0, u64 cr3, u32 cr4)
{
	u64 e[4];

	/* Long mode's four levels keep no PDPTEs in registers. */
	if (!(cr0 & CR0_PG) || !(cr4 & CR4_PAE) || (c->efer & EFER_LME))
		return;
	if (!mmu_read_pdptes(c, cr3, e))
		cpu_gp(c, 0);
	memcpy(c->pdpte, e, sizeof(e));
}

static void write_cr0(struct cpu *c, u32 val)
{
	u32 old = c->cr0;

	val = (val & CR0_WRITABLE) | CR0_ET;
	if ((val & CR0_PG) && !(val & CR0_PE))
		cpu_gp(c, 0);
	if ((val & CR0_NW) && !(val & CR0_CD))
		cpu_gp(c, 0);
	if ((val & CR0_PG) && !(old & CR0_PG) && (c->efer & EFER_LME)) {
		/* Paging on with LME: long mode, which needs PAE and may
		 * not start from a 64-bit code segment. */
		if (!(c->cr4 & CR4_PAE) || SEG_L(c->seg[S_CS].attr))
			cpu_gp(c, 0);
		c->efer |= EFER_LMA;
	} else if (!(val & CR0_PG) && (old & CR0_PG) &&
		   (c->efer & EFER_LMA)) {
		if (cpu_64bit(c))
			cpu_gp(c, 0);	/* only from compatibility mode */
		c->efer &= ~EFER_LMA;
	}
	if ((old ^ val) & CR0_PDPTE_BITS)
		load_pdptes(c, val, c->cr3, c->cr4);
	c->cr0 = val;
	if ((old ^ val) & CR0_TLB_BITS)
		mmu_flush(c, false);
	if (!(val & CR0_PE))
		c->cpl = 0;
}

static void write_cr4(struct cpu *c, u32 val)
{
	u32 old = c->cr4;

	if (val & ~CR4_VALID)
		cpu_gp(c, 0);
	if ((c->efer & EFER_LMA) && !(val & CR4_PAE))
		cpu_gp(c, 0);
	if ((old ^ val) & CR4_PDPTE_BITS)
		load_pdptes(c, c->cr0, c->cr3, val);
	c->cr4 = val;
	if ((old ^ val) & CR4_TLB_BITS)
		mmu_flush(c, false);
}

void sys_write_cr(struct cpu *c, int n, u64 val)
{
	if (is_cr8(c, n)) {
		write_cr8(c, val);
		return;
	}
	if (n == 1 || n > 4)
		cpu_ud(c);
	need_cpl0(c);
	switch (n) {
	case 0:
		write_cr0(c, (u32)val);
		return;
	case 2:
		c->cr2 = cpu_64bit(c) ? val : (u32)val;
		return;
	case 3:
		/* Bits 11..5 are the PDPT's address with PAE.  In long mode
		 * the table may lie anywhere below MAXPHYADDR. */
		if (c->efer & EFER_LMA) {
			if (val >> 36)
				cpu_gp(c, 0);
			val &= ~0xfe7ull;
		} else {
			val &= 0xfffffff8u;
		}
		load_pdptes(c, c->cr0, val, c->cr4);
		c->cr3 = val;
		mmu_flush(c, c->cr4 & CR4_PGE);
		return;
	default:
		write_cr4(c, (u32)val);
		return;
	}
}

/* --- Debug registers ---
 *
 * Kept, but no breakpoint fires from them: Linux only programs them for
 * ptrace and kgdb.  DR4 and DR5 are DR6 and DR7 unless CR4.DE is set
 * (which CPUID does not offer, so it never is). */

static int dr_index(struct cpu *c, int n)
{
	if (n == 4 || n == 5) {
		if (c->cr4 & CR4_DE)
			cpu_ud(c);
		return n + 2;
	}
	return n;
}

u32 sys_read_dr(struct cpu *c, int n)
{
	need_cpl0(c);
	n = dr_index(c, n & 7);
	if (n == 6)
		return c->dr[6] | DR6_FIXED;
	if (n == 7)
		return c->dr[7] | DR7_FIXED;
	return c->dr[n];
}

void sys_write_dr(struct cpu *c, int n, u32 val)
{
	need_cpl0(c);
	n = dr_index(c, n & 7);
	if (n == 6)
		val = (val & 0x0000e00fu) | DR6_FIXED;
	else if (n == 7)
		val = (val & 0xffff2fffu) | DR7_FIXED;
	c->dr[n] = val;
}

/* --- MSRs --- */

static u64 tsc_now(struct cpu *c)
{
	u64 ns = c->bus.clock_ns ? c->bus.clock_ns(c->bus.opaque) :
				   icount_of(c);

	return ns + c->tsc_offset;
}

/*
 * What the guest reads: the TSC as above, but never the same twice.  A
 * real TSC moves on between any two reads, and guests count on it: Linux
 * decides how many timer ticks a bit of boot-time entropy takes by how
 * many of 8191 reads in a row differ, and one pair alike doubles its
 * wait for /dev/urandom.  Our clock can stand still between two reads
 * (translated code counts a block's instructions when it starts, so every
 * read in a block sees one count) and can even step back a few
 * nanoseconds (a block left early gives back the count of what it
 * skipped), so a read is at least one past the one before.
 */
static u64 tsc_read(struct cpu *c)
{
	u64 t = tsc_now(c);

	if (t <= c->tsc_last)
		t = c->tsc_last + 1;
	c->tsc_last = t;
	return t;
}

/* The APIC's TSC deadline is kept on the machine clock: the TSC is that
 * clock plus our offset.  0 disarms; a deadline already behind the clock
 * is due at once. */
static u64 tsc_to_clock(struct cpu *c, u64 tsc)
{
	u64 now = tsc_now(c);

	if (!tsc)
		return 0;
	if (tsc <= now)
		return 1;
	return now - c->tsc_offset + (tsc - now);
}

/*C:195
 * A write to the TSC (MSR 0x10) or to IA32_TSC_ADJUST moves the TSC by
 * some amount, and the same amount is added to IA32_TSC_ADJUST (SDM vol.
 * 3, 18.17.3): so TSC_ADJUST says how far software has moved the TSC
 * from the count it started with, and reads 0 while nobody has.  The
 * machine clock does not move: only our offset to it does.  A deadline
 * armed in the APIC's TSC-deadline mode is a value of the TSC, kept by
 * the APIC on the machine clock (tsc_to_clock()), so it is moved along:
 * it still fires when the TSC reaches it.
 :*/
static void tsc_move(struct cpu *c, u64 delta)
{
	u64 dl = 0;
	bool armed = c->bus.rdmsr &&
		     c->bus.rdmsr(c->bus.opaque, MSR_TSC_DEADLINE, &dl) && dl;

	dl += c->tsc_offset;
	c->tsc_offset += delta;
	c->tsc_last = 0;	/* written: it counts on from the new value */
	c->tsc_adjust += delta;
	if (armed && c->bus.wrmsr)
		c->bus.wrmsr(c->bus.opaque, MSR_TSC_DEADLINE,
			     tsc_to_clock(c, dl));
}

void sys_reset_msrs(struct cpu *c)
{
	c->tsc_adjust = 0;
	c->efer = 0;
	c->misc_enable = MISC_RESET;
	c->pat = PAT_RESET;
}

static bool pat_valid(u64 v)
{
	int i;

	for (i = 0; i < 64; i += 8) {
		u8 type = (u8)(v >> i);

		if (type == 2 || type == 3 || type > 7)
			return false;
	}
	return true;
}

/* The long-mode MSRs: the system-call entries and the segment bases. */
static u64 rdmsr_long(const struct cpu *c, u32 msr)
{
	switch (msr) {
	case MSR_STAR:
		return c->star;
	case MSR_LSTAR:
		return c->lstar;
	case MSR_CSTAR:
		return c->cstar;
	case MSR_SFMASK:
		return c->sfmask;
	case MSR_FS_BASE:
		return c->seg[S_FS].base;
	case MSR_GS_BASE:
		return c->seg[S_GS].base;
	default:
		return c->kernel_gs_base;
	}
}

void sys_rdmsr(struct cpu *c)
{
	u64 v;

	need_cpl0(c);
	switch (c->r[R_ECX].d) {
	case MSR_TSC:
		v = tsc_read(c);
		break;
	case MSR_TSC_ADJUST:
		v = c->tsc_adjust;
		break;
	case MSR_PLATFORM_ID:
	case MSR_BIOS_SIGN_ID:	/* no microcode update loaded */
	case MSR_MCG_CAP:	/* no machine-check banks */
		v = 0;
		break;
	case MSR_SYSENTER_CS:
		v = c->sysenter_cs;
		break;
	case MSR_SYSENTER_ESP:
		v = c->sysenter_esp;
		break;
	case MSR_SYSENTER_EIP:
		v = c->sysenter_eip;
		break;
	case MSR_MISC_ENABLE:
		v = c->misc_enable;
		break;
	case MSR_PAT:
		v = c->pat;
		break;
	case MSR_EFER:
		v = c->efer;
		break;
	case MSR_STAR:
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_SFMASK:
	case MSR_FS_BASE:
	case MSR_GS_BASE:
	case MSR_KERNEL_GS_BASE:
		v = rdmsr_long(c, c->r[R_ECX].d);
		break;
	default:
		/* The local APIC's MSRs are the APIC's: the bus has them.
		 * Linux probes others with rdmsr_safe(). */
		if (!c->bus.rdmsr || !c->bus.rdmsr(c->bus.opaque,
						   c->r[R_ECX].d, &v))
			cpu_gp(c, 0);
		if (c->r[R_ECX].d == MSR_TSC_DEADLINE && v)
			v += c->tsc_offset;
	}
	c->r[R_EAX].q = (u32)v;
	c->r[R_EDX].q = (u32)(v >> 32);
}

/* The MSRs that hold a linear address: it must be canonical. */
static void wrmsr_address(struct cpu *c, u32 msr, u64 v)
{
	if (!canonical(v))
		cpu_gp(c, 0);
	switch (msr) {
	case MSR_LSTAR:
		c->lstar = v;
		return;
	case MSR_CSTAR:
		c->cstar = v;
		return;
	case MSR_FS_BASE:
		c->seg[S_FS].base = v;
		return;
	case MSR_GS_BASE:
		c->seg[S_GS].base = v;
		return;
	default:
		c->kernel_gs_base = v;
	}
}

void sys_wrmsr(struct cpu *c)
{
	u64 v = (u64)c->r[R_EDX].d << 32 | c->r[R_EAX].d;

	need_cpl0(c);
	switch (c->r[R_ECX].d) {
	case MSR_TSC:
		tsc_move(c, v - tsc_now(c));
		return;
	case MSR_TSC_ADJUST:
		tsc_move(c, v - c->tsc_adjust);
		return;
	case MSR_BIOS_SIGN_ID:
		return;		/* Linux clears it before reading it */
	case MSR_SYSENTER_CS:
		c->sysenter_cs = (u32)v & 0xffff;
		return;
	case MSR_SYSENTER_ESP:
		if (!canonical(v))
			cpu_gp(c, 0);
		c->sysenter_esp = v;
		return;
	case MSR_SYSENTER_EIP:
		if (!canonical(v))
			cpu_gp(c, 0);
		c->sysenter_eip = v;
		return;
	case MSR_MISC_ENABLE:
		/* Read-only bits keep their value whatever is written. */
		if (v & ~(MISC_RW | MISC_RO))
			cpu_gp(c, 0);
		c->misc_enable = (v & MISC_RW) | (c->misc_enable & MISC_RO);
		return;
	case MSR_PAT:
		if (!pat_valid(v))
			cpu_gp(c, 0);
		c->pat = v;
		return;
	case MSR_EFER:
		if (v & ~(EFER_VALID | EFER_LMA))
			cpu_gp(c, 0);
		/* LMA only reports; LME may change only with paging off. */
		v = (v & ~EFER_LMA) | (c->efer & EFER_LMA);
		if (((v ^ c->efer) & EFER_LME) && (c->cr0 & CR0_PG))
			cpu_gp(c, 0);
		/* NX bits in the TLB were decided under the old NXE. */
		if ((v ^ c->efer) & EFER_NXE)
			mmu_flush(c, false);
		c->efer = v;
		return;
	case MSR_STAR:
		c->star = v;
		return;
	case MSR_SFMASK:
		c->sfmask = (u32)v;
		return;
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_FS_BASE:
	case MSR_GS_BASE:
	case MSR_KERNEL_GS_BASE:
		wrmsr_address(c, c->r[R_ECX].d, v);
		return;
	default:
		if (c->r[R_ECX].d == MSR_TSC_DEADLINE)
			v = tsc_to_clock(c, v);
		if (!c->bus.wrmsr || !c->bus.wrmsr(c->bus.opaque,
						   c->r[R_ECX].d, v))
			cpu_gp(c, 0);	/* unknown, or read-only (MCG_CAP) */
	}
}

/* --- CPUID --- */

static void cpuid_str(u32 *out, const char *s, int words)
{
	char buf[48] = { 0 };

	strncpy(buf, s, sizeof(buf));
	memcpy(out, buf, (size_t)words * 4);
}

/*C:205
 * The local APIC is a device on the bus, not part of this processor, but
 * CPUID leaf 1 speaks for it: the APIC bit is set while IA32_APIC_BASE
 * says the APIC is globally enabled (it clears when the guest disables
 * it, as on hardware).  So the CPU asks the bus, the way RDMSR would.
 * Its timer's TSC-deadline mode (ECX bit 24) is the APIC's too, so it
 * is offered whenever there is an APIC, enabled or not, as on hardware.
 * Linux then programs each wake-up with one WRMSR (ordered by MFENCE
 * and LFENCE, sse.c) and needs no calibration of the APIC's clock.
 :*/
static void cpuid_apic_bits(const struct cpu *c, u32 r[4])
{
	u64 v;

	if (!c->bus.rdmsr || !c->bus.rdmsr(c->bus.opaque, MSR_APIC_BASE, &v))
		return;
	r[2] |= CPUID_TSC_DEADLINE;
	if (v & APIC_BASE_ENABLE)
		r[3] |= CPUID_APIC;
}

static u32 cpuid_max_basic(const struct cpu *c)
{
	return c->misc_enable & MISC_LIMIT_CPUID ? CPUID_LIMITED_MAX :
						   CPUID_MAX_BASIC;
}

static void cpuid_leaf(const struct cpu *c, u32 leaf, u32 r[4])
{
	static const char brand[48] = "lguest software x86-64 CPU";
	u32 w[3], max = cpuid_max_basic(c);

	memset(r, 0, 4 * sizeof(u32));
	if (leaf >= CPUID_HV_BASE && leaf < 0x80000000u) {
		if (leaf == CPUID_HV_BASE) {
			r[0] = CPUID_HV_BASE;
			cpuid_str(w, "lguest", 3);
			r[1] = w[0];
			r[2] = w[1];
			r[3] = w[2];
		}
		return;
	}
	/* Beyond the last leaf of a range: the last basic leaf, as Intel
	 * processors do. */
	if ((leaf > max && leaf < CPUID_HV_BASE) || leaf > CPUID_EXT_MAX)
		leaf = max;
	switch (leaf) {
	case 0:
		r[0] = max;
		cpuid_str(w, "GenuineIntel", 3);
		r[1] = w[0];	/* "Genu" */
		r[3] = w[1];	/* "ineI" */
		r[2] = w[2];	/* "ntel" */
		return;
	case 1:
		r[0] = CPUID_SIGNATURE;
		r[2] = CPUID_HYPERVISOR | CPUID_CX16;
		r[1] = CPUID_CLFLUSH_LINE;
		r[3] = CPUID_FPU | CPUID_PSE | CPUID_TSC | CPUID_MSR |
		       CPUID_PAE | CPUID_CX8 | CPUID_SEP | CPUID_PGE |
		       CPUID_CMOV | CPUID_PAT | CPUID_CLFSH | CPUID_MMX |
		       CPUID_FXSR | CPUID_SSE | CPUID_SSE2;
		cpuid_apic_bits(c, r);
		return;
	case 2:
		r[0] = CPUID_LEAF2_EAX;
		r[3] = CPUID_LEAF2_EDX;
		return;
	case 6:
		r[0] = CPUID_ARAT;
		return;
	case 7:
		/* Subleaf 0 only: EAX, the last subleaf, is 0. */
		if (c->r[R_ECX].d == 0)
			r[1] = CPUID_TSC_ADJUST;
		return;
	case 0x80000000u:
		r[0] = CPUID_EXT_MAX;
		return;
	case 0x80000001u:
		r[3] = CPUID_EXT_NX | CPUID_EXT_LM | CPUID_EXT_SYSCALL |
		       CPUID_EXT_PDPE1GB;
		r[2] = CPUID_EXT_LAHF_LM;
		return;
	case 0x80000002u:
	case 0x80000003u:
	case 0x80000004u:
		memcpy(r, brand + (leaf - 0x80000002u) * 16, 16);
		return;
	case 0x80000007u:
		r[3] = CPUID_INVARIANT_TSC;
		return;
	case 0x80000008u:
		r[0] = CPUID_ADDR_SIZES;
		return;
	default:
		/* 3-5 and 0x80000005-6: nothing. */
		return;
	}
}

void sys_cpuid(struct cpu *c)
{
	u32 r[4];

	cpuid_leaf(c, c->r[R_EAX].d, r);
	c->r[R_EAX].q = r[0];
	c->r[R_EBX].q = r[1];
	c->r[R_ECX].q = r[2];
	c->r[R_EDX].q = r[3];
}

/*C:200
 * The TSC counts the machine's clock in nanoseconds: a 1 GHz TSC that
 * agrees with the PIT by construction (D:130, M:220).
 :*/
void sys_rdtsc(struct cpu *c)
{
	u64 t;

	if ((c->cr4 & CR4_TSD) && cpu_pmode(c) && c->cpl != 0)
		cpu_gp(c, 0);
	t = tsc_read(c);
	c->r[R_EAX].q = (u32)t;
	c->r[R_EDX].q = (u32)(t >> 32);
}

/* --- I/O permission --- */

void sys_io_check(struct cpu *c, u16 port, int size)
{
	u32 iopl = (c->eflags & F_IOPL) >> 12, base, at, bits;

	if (!cpu_pmode(c) || (!cpu_vm86(c) && (u32)c->cpl <= iopl))
		return;
	/* The I/O permission bitmap of a 32-bit TSS. */
	if ((c->tr.attr & 0x1f) != 0xb || c->tr.limit < 0x67)
		cpu_gp(c, 0);
	base = lin_read(c, c->tr.base + 0x66, 2, true);
	at = base + port / 8;
	if (at + 1 > c->tr.limit)
		cpu_gp(c, 0);
	bits = lin_read(c, c->tr.base + at, 2, true);
	if ((bits >> (port & 7)) & ((1u << size) - 1))
		cpu_gp(c, 0);
}

/* --- SYSENTER and SYSEXIT ---
 *
 * Fast system calls: no descriptor is read; CS and SS become flat
 * segments whose selectors come from the SYSENTER_CS MSR. */

static bool is_null_sysenter_cs(u16 cs)
{
	return (cs & 0xfffc) == 0;
}

static void flat(struct seg *s, u16 sel, u16 attr)
{
	s->sel = sel;
	s->base = 0;
	s->limit = 0xffffffffu;
	s->attr = attr;
}

void sys_sysenter(struct cpu *c)
{
	u16 cs = (u16)c->sysenter_cs;

	if (!cpu_pmode(c) || is_null_sysenter_cs(cs))
		cpu_gp(c, 0);
	c->eflags &= ~(F_VM | F_IF | F_RF);
	/* In long mode the kernel side is 64-bit code, with the MSRs'
	 * whole 64-bit stack and entry. */
	flat(&c->seg[S_CS], cs & 0xfffc,
	     (c->efer & EFER_LMA) ? 0xa09b : 0xc09b);
	flat(&c->seg[S_SS], (cs & 0xfffc) + 8, 0xc093);
	c->cpl = 0;
	if (c->efer & EFER_LMA) {
		c->r[R_ESP].q = c->sysenter_esp;
		c->rip = c->sysenter_eip;
	} else {
		c->r[R_ESP].d = (u32)c->sysenter_esp;
		c->rip = (u32)c->sysenter_eip;
	}
}

/* SYSEXIT: to 32-bit code, or with REX.W (opsize 8) to 64-bit code. */
void sys_sysexit(struct cpu *c, int opsize)
{
	u16 cs = (u16)c->sysenter_cs;

	if (!cpu_pmode(c) || cpu_vm86(c) || c->cpl != 0 ||
	    is_null_sysenter_cs(cs))
		cpu_gp(c, 0);
	if (opsize == 8) {
		if (!canonical(c->r[R_EDX].q) || !canonical(c->r[R_ECX].q))
			cpu_gp(c, 0);
		flat(&c->seg[S_CS], ((cs + 32) & 0xfffc) | 3, 0xa0fb);
		flat(&c->seg[S_SS], ((cs + 40) & 0xfffc) | 3, 0xc0f3);
		c->r[R_ESP].q = c->r[R_ECX].q;
		c->rip = c->r[R_EDX].q;
	} else {
		flat(&c->seg[S_CS], ((cs + 16) & 0xfffc) | 3, 0xc0fb);
		flat(&c->seg[S_SS], ((cs + 24) & 0xfffc) | 3, 0xc0f3);
		c->r[R_ESP].q = c->r[R_ECX].d;
		c->rip = c->r[R_EDX].d;
	}
	c->cpl = 3;
}

/* --- SYSCALL, SYSRET and SWAPGS (long mode) ---
 *
 * The 64-bit system call: no descriptor is read and no stack switched.
 * CS and SS become flat segments whose selectors come from STAR, RCX and
 * R11 keep RIP and RFLAGS, and SFMASK clears the RFLAGS bits the kernel
 * wants clear (IF, at least).  The kernel finds its stack itself, through
 * SWAPGS and its per-CPU area. */

#define ATTR_CODE64_K 0xa09b	/* G, L, P, DPL 0, code read/accessed */
#define ATTR_CODE64_U 0xa0fb
#define ATTR_CODE32_U 0xc0fb
#define ATTR_DATA_K   0xc093
#define ATTR_DATA_U   0xc0f3

void sys_syscall(struct cpu *c, u64 next_rip)
{
	u16 cs = (u16)(c->star >> 32) & 0xfffc;

	if (!(c->efer & EFER_SCE) || !(c->efer & EFER_LMA))
		cpu_ud(c);
	c->r[R_ECX].q = next_rip;
	c->r[11].q = cpu_get_eflags(c) & ~(u32)F_RF;
	c->eflags &= ~(c->sfmask | F_RF);
	if (c->sfmask & F_ARITH)
		cpu_set_eflags(c, 0, c->sfmask & F_ARITH);
	c->rip = cpu_64bit(c) ? c->lstar : c->cstar;
	flat(&c->seg[S_CS], cs, ATTR_CODE64_K);
	flat(&c->seg[S_SS], cs + 8, ATTR_DATA_K);
	c->cpl = 0;
}

void sys_sysret(struct cpu *c, int opsize)
{
	u16 sel = (u16)(c->star >> 48);

	if (!(c->efer & EFER_SCE))
		cpu_ud(c);
	if (c->cpl != 0 ||
	    (opsize == 8 && !canonical(c->r[R_ECX].q)))
		cpu_gp(c, 0);
	if (opsize == 8) {
		flat(&c->seg[S_CS], (sel + 16) | 3, ATTR_CODE64_U);
		c->rip = c->r[R_ECX].q;
	} else {
		flat(&c->seg[S_CS], sel | 3, ATTR_CODE32_U);
		c->rip = c->r[R_ECX].d;
	}
	flat(&c->seg[S_SS], (sel + 8) | 3, ATTR_DATA_U);
	cpu_set_eflags(c, (u32)c->r[11].q, F_DEFINED & ~(F_VM | F_RF));
	c->cpl = 3;
}

void sys_swapgs(struct cpu *c)
{
	u64 t = c->seg[S_GS].base;

	if (c->cpl != 0)
		cpu_gp(c, 0);
	c->seg[S_GS].base = c->kernel_gs_base;
	c->kernel_gs_base = t;
}
