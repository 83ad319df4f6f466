/*
 * System instructions: control and debug registers, MSRs, CPUID, RDTSC,
 * the I/O permission check, SYSENTER and SYSEXIT.
 *
 * This file is also where the processor says what it is.  CPUID describes
 * a family-6 i686 (a Pentium III by its model number, but without MMX or
 * SSE) with exactly the features we implement: FPU, PSE, TSC, MSR, CX8,
 * SEP, PGE, CMOV, and the APIC bit while the local APIC (a device on the
 * bus, src/hw/apic.c) is enabled.  No MTRRs, no PAE: Debian's 686 kernel
 * needs neither.  The hypervisor bit of leaf 1 is set and leaf 0x40000000
 * names us ("lguest"): it is honest, and it keeps Linux from probing for
 * microcode updates, which would touch MSRs a real Pentium III has and we
 * do not.
 *
 * The TSC counts the machine clock's nanoseconds: a 1 GHz TSC.
 */
#include <string.h>

#include "cpu_internal.h"

/* MSRs. */
#define MSR_TSC            0x010
#define MSR_PLATFORM_ID    0x017
#define MSR_BIOS_SIGN_ID   0x08b
#define MSR_SYSENTER_CS    0x174
#define MSR_SYSENTER_ESP   0x175
#define MSR_SYSENTER_EIP   0x176

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
#define CPUID_HYPERVISOR (1u << 31)	/* ECX */

#define MSR_APIC_BASE      0x01b
#define MSR_TSC_DEADLINE   0x6e0
#define APIC_BASE_ENABLE   (1u << 11)

#define CPUID_MAX_BASIC 1u
#define CPUID_HV_BASE   0x40000000u
#define CPUID_EXT_MAX   0x80000004u
/* Family 6, model 8, stepping 3. */
#define CPUID_SIGNATURE 0x00000683u

/* CR0 bits a guest may set; the rest of the low 32 read as zero (writes
 * to them are ignored, as on a P6).  ET is wired to 1. */
#define CR0_WRITABLE (CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_NE | CR0_WP | \
		      CR0_AM | CR0_NW | CR0_CD | CR0_PG)
/* CR4 bits for the features CPUID admits to; any other is #GP. */
#define CR4_VALID (CR4_TSD | CR4_PSE | CR4_PGE | CR4_PCE)
/* Changing these makes cached translations wrong. */
#define CR0_TLB_BITS (CR0_PG | CR0_WP | CR0_PE)
#define CR4_TLB_BITS (CR4_PSE | CR4_PGE)

#define DR6_FIXED 0xffff0ff0u
#define DR7_FIXED 0x00000400u

static void need_cpl0(struct cpu *c)
{
	if (cpu_pmode(c) && (cpu_vm86(c) || c->cpl != 0))
		cpu_gp(c, 0);
}

/* --- Control registers --- */

u32 sys_read_cr(struct cpu *c, int n)
{
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

static void write_cr0(struct cpu *c, u32 val)
{
	u32 old = c->cr0;

	val = (val & CR0_WRITABLE) | CR0_ET;
	if ((val & CR0_PG) && !(val & CR0_PE))
		cpu_gp(c, 0);
	if ((val & CR0_NW) && !(val & CR0_CD))
		cpu_gp(c, 0);
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
	c->cr4 = val;
	if ((old ^ val) & CR4_TLB_BITS)
		mmu_flush(c, false);
}

void sys_write_cr(struct cpu *c, int n, u32 val)
{
	if (n == 1 || n > 4)
		cpu_ud(c);
	need_cpl0(c);
	switch (n) {
	case 0:
		write_cr0(c, val);
		return;
	case 2:
		c->cr2 = val;
		return;
	case 3:
		c->cr3 = val & 0xfffff018u;
		mmu_flush(c, c->cr4 & CR4_PGE);
		return;
	default:
		write_cr4(c, val);
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
	u64 ns = c->bus.clock_ns ? c->bus.clock_ns(c->bus.opaque) : c->icount;

	return ns + c->tsc_offset;
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

void sys_rdmsr(struct cpu *c)
{
	u64 v;

	need_cpl0(c);
	switch (c->r[R_ECX]) {
	case MSR_TSC:
		v = tsc_now(c);
		break;
	case MSR_PLATFORM_ID:
	case MSR_BIOS_SIGN_ID:	/* no microcode update loaded */
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
	default:
		/* The local APIC's MSRs are the APIC's: the bus has them.
		 * Linux probes others with rdmsr_safe(). */
		if (!c->bus.rdmsr || !c->bus.rdmsr(c->bus.opaque,
						   c->r[R_ECX], &v))
			cpu_gp(c, 0);
		if (c->r[R_ECX] == MSR_TSC_DEADLINE && v)
			v += c->tsc_offset;
	}
	c->r[R_EAX] = (u32)v;
	c->r[R_EDX] = (u32)(v >> 32);
}

void sys_wrmsr(struct cpu *c)
{
	u64 v = (u64)c->r[R_EDX] << 32 | c->r[R_EAX];

	need_cpl0(c);
	switch (c->r[R_ECX]) {
	case MSR_TSC:
		c->tsc_offset = v - (tsc_now(c) - c->tsc_offset);
		return;
	case MSR_BIOS_SIGN_ID:
		return;		/* Linux clears it before reading it */
	case MSR_SYSENTER_CS:
		c->sysenter_cs = (u32)v & 0xffff;
		return;
	case MSR_SYSENTER_ESP:
		c->sysenter_esp = (u32)v;
		return;
	case MSR_SYSENTER_EIP:
		c->sysenter_eip = (u32)v;
		return;
	default:
		if (c->r[R_ECX] == MSR_TSC_DEADLINE)
			v = tsc_to_clock(c, v);
		if (!c->bus.wrmsr || !c->bus.wrmsr(c->bus.opaque,
						   c->r[R_ECX], v))
			cpu_gp(c, 0);
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
 * The APIC's TSC-deadline mode works, but leaf 1 does not offer it (ECX
 * bit 24): Linux orders the deadline MSR write with MFENCE, an SSE2
 * instruction this processor does not have.  It comes with SSE2.
 :*/
static void cpuid_apic_bits(struct cpu *c, u32 r[4])
{
	u64 v;

	if (c->bus.rdmsr && c->bus.rdmsr(c->bus.opaque, MSR_APIC_BASE, &v) &&
	    (v & APIC_BASE_ENABLE))
		r[3] |= CPUID_APIC;
}

static void cpuid_leaf(struct cpu *c, u32 leaf, u32 r[4])
{
	static const char brand[48] = "lguest software i686 CPU";
	u32 w[3];

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
	if ((leaf > CPUID_MAX_BASIC && leaf < CPUID_HV_BASE) ||
	    leaf > CPUID_EXT_MAX)
		leaf = CPUID_MAX_BASIC;
	switch (leaf) {
	case 0:
		r[0] = CPUID_MAX_BASIC;
		cpuid_str(w, "GenuineIntel", 3);
		r[1] = w[0];	/* "Genu" */
		r[3] = w[1];	/* "ineI" */
		r[2] = w[2];	/* "ntel" */
		return;
	case 1:
		r[0] = CPUID_SIGNATURE;
		r[2] = CPUID_HYPERVISOR;
		r[3] = CPUID_FPU | CPUID_PSE | CPUID_TSC | CPUID_MSR |
		       CPUID_CX8 | CPUID_SEP | CPUID_PGE | CPUID_CMOV;
		cpuid_apic_bits(c, r);
		return;
	case 0x80000000u:
		r[0] = CPUID_EXT_MAX;
		return;
	case 0x80000002u:
	case 0x80000003u:
	case 0x80000004u:
		memcpy(r, brand + (leaf - 0x80000002u) * 16, 16);
		return;
	default:
		return;		/* 0x80000001: no extended features */
	}
}

void sys_cpuid(struct cpu *c)
{
	u32 r[4];

	cpuid_leaf(c, c->r[R_EAX], r);
	c->r[R_EAX] = r[0];
	c->r[R_EBX] = r[1];
	c->r[R_ECX] = r[2];
	c->r[R_EDX] = r[3];
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
	t = tsc_now(c);
	c->r[R_EAX] = (u32)t;
	c->r[R_EDX] = (u32)(t >> 32);
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
	flat(&c->seg[S_CS], cs & 0xfffc, 0xc09b);
	flat(&c->seg[S_SS], (cs & 0xfffc) + 8, 0xc093);
	c->cpl = 0;
	c->r[R_ESP] = c->sysenter_esp;
	c->eip = c->sysenter_eip;
}

void sys_sysexit(struct cpu *c)
{
	u16 cs = (u16)c->sysenter_cs;

	if (!cpu_pmode(c) || cpu_vm86(c) || c->cpl != 0 ||
	    is_null_sysenter_cs(cs))
		cpu_gp(c, 0);
	flat(&c->seg[S_CS], ((cs + 16) & 0xfffc) | 3, 0xc0fb);
	flat(&c->seg[S_SS], ((cs + 24) & 0xfffc) | 3, 0xc0f3);
	c->cpl = 3;
	c->r[R_ESP] = c->r[R_ECX];
	c->eip = c->r[R_EDX];
}
