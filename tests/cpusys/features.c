/*
 * What the processor says it is, and that it keeps its word.
 *
 * Every instruction whose CPUID feature bit is clear must raise #UD (and
 * every CR4 bit of an absent feature #GP); an instruction whose bit is
 * set must run.  These checks take their expectations from CPUID itself,
 * so they hold on any x86 that tells the truth.  Then the MSRs and CPUID
 * leaves this CPU model has for Linux and kvm-unit-tests: EFER before
 * long mode, IA32_MISC_ENABLE (with its CPUID limit), PAT, MCG_CAP, the
 * basic leaves up to 7, PAE and NX, the brand string and address sizes,
 * IA32_TSC_ADJUST where leaf 7 offers it (SDM vol. 3, 18.17.3), and #GP
 * for MSRs it lacks.
 */
#include "faults.h"

#define UD_VECTOR 6
#define GP_VECTOR 13

static u8 scratch[1024] __attribute__((aligned(64)));

static void cpuid(u32 leaf, u32 r[4])
{
	asm volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
		     : "a"(leaf), "c"(0));
}

/* Run the bytes with EAX pointing at scratch; the vector of the trap it
 * raised, or -1 if it ran.  ECX is 1 and EDX 0 on the way in; EAX comes
 * back in *eax_out. */
#define TRY_BYTES(bytes, eax_out) ({					\
	u32 _a = (u32)scratch, _c = 1, _d = 0;				\
	int _f;								\
	last.count = 0;							\
	asm volatile("movl $1f, resume\n\t"				\
		     ".byte " bytes "\n\t"				\
		     "movl $0, resume\n\t"				\
		     "xorl %0, %0\n\t"					\
		     "jmp 2f\n"						\
		     "1:\tmovl $1, %0\n"				\
		     "2:"						\
		     : "=&D"(_f), "+a"(_a), "+c"(_c), "+d"(_d)		\
		     : : "ebx", "esi", "memory");			\
	*(eax_out) = _a;						\
	_f ? (int)last.vec : -1;					\
})

struct insn {
	const char *what;
	u32 leaf;		/* CPUID leaf (subleaf 0) of its feature */
	int reg;		/* 0 EAX .. 3 EDX */
	int bit;
};

/* Each entry's bytes are in insn_run() below, by index. */
static const struct insn insns[] = {
	{ "MOVQ mm0, mm0 is #UD without MMX", 1, 3, 23 },
	{ "EMMS is #UD without MMX", 1, 3, 23 },
	{ "MOVAPS xmm0, xmm0 is #UD without SSE", 1, 3, 25 },
	{ "SFENCE is #UD without SSE", 1, 3, 25 },
	{ "STMXCSR is #UD without SSE", 1, 3, 25 },
	{ "MOVDQA xmm0, xmm0 is #UD without SSE2", 1, 3, 26 },
	{ "LFENCE is #UD without SSE2", 1, 3, 26 },
	{ "MFENCE is #UD without SSE2", 1, 3, 26 },
	{ "FXSAVE is #UD without FXSR", 1, 3, 24 },
	{ "CLFLUSH is #UD without CLFSH", 1, 3, 19 },
	{ "LDDQU is #UD without SSE3", 1, 2, 0 },
	{ "MONITOR is #UD without MONITOR", 1, 2, 3 },
	{ "MWAIT is #UD without MONITOR", 1, 2, 3 },
	{ "PSHUFB mm0, mm0 is #UD without SSSE3", 1, 2, 9 },
	{ "PTEST is #UD without SSE4.1", 1, 2, 19 },
	{ "MOVBE is #UD without MOVBE", 1, 2, 22 },
	{ "POPCNT is #UD without POPCNT", 1, 2, 23 },
	{ "XSAVE is #UD without XSAVE", 1, 2, 26 },
	{ "XGETBV is #UD without OSXSAVE", 1, 2, 27 },
	{ "RDRAND is #UD without RDRAND", 1, 2, 30 },
	{ "RDSEED is #UD without RDSEED", 7, 1, 18 },
	{ "STAC is #UD without SMAP", 7, 1, 20 },
	{ "CLAC is #UD without SMAP", 7, 1, 20 },
	{ "INVPCID is #UD without INVPCID", 7, 1, 10 },
	{ "RDPID is #UD without RDPID", 7, 2, 22 },
	{ "RDTSCP is #UD without RDTSCP", 0x80000001, 3, 27 },
	{ "SYSCALL is #UD without SYSCALL", 0x80000001, 3, 11 },
};

static int insn_run(int i, u32 *eax)
{
	switch (i) {
	case 0: return TRY_BYTES("0x0f,0x6f,0xc0", eax);
	case 1: return TRY_BYTES("0x0f,0x77", eax);
	case 2: return TRY_BYTES("0x0f,0x28,0xc0", eax);
	case 3: return TRY_BYTES("0x0f,0xae,0xf8", eax);
	case 4: return TRY_BYTES("0x0f,0xae,0x18", eax);
	case 5: return TRY_BYTES("0x66,0x0f,0x6f,0xc0", eax);
	case 6: return TRY_BYTES("0x0f,0xae,0xe8", eax);
	case 7: return TRY_BYTES("0x0f,0xae,0xf0", eax);
	case 8: return TRY_BYTES("0x0f,0xae,0x00", eax);
	case 9: return TRY_BYTES("0x0f,0xae,0x38", eax);
	case 10: return TRY_BYTES("0xf2,0x0f,0xf0,0x00", eax);
	case 11: return TRY_BYTES("0x0f,0x01,0xc8", eax);
	case 12: return TRY_BYTES("0x0f,0x01,0xc9", eax);
	case 13: return TRY_BYTES("0x0f,0x38,0x00,0xc0", eax);
	case 14: return TRY_BYTES("0x66,0x0f,0x38,0x17,0xc0", eax);
	case 15: return TRY_BYTES("0x0f,0x38,0xf0,0x00", eax);
	case 16: return TRY_BYTES("0xf3,0x0f,0xb8,0xc0", eax);
	case 17: return TRY_BYTES("0x0f,0xae,0x20", eax);
	case 18: return TRY_BYTES("0x0f,0x01,0xd0", eax);
	case 19: return TRY_BYTES("0x0f,0xc7,0xf0", eax);
	case 20: return TRY_BYTES("0x0f,0xc7,0xf8", eax);
	case 21: return TRY_BYTES("0x0f,0x01,0xcb", eax);
	case 22: return TRY_BYTES("0x0f,0x01,0xca", eax);
	case 23: return TRY_BYTES("0x66,0x0f,0x38,0x82,0x00", eax);
	case 24: return TRY_BYTES("0xf3,0x0f,0xc7,0xf8", eax);
	case 25: return TRY_BYTES("0x0f,0x01,0xf9", eax);
	default: return TRY_BYTES("0x0f,0x05", eax);
	}
}

static int has(u32 leaf, int reg, int bit)
{
	u32 r[4], max[4];

	cpuid(leaf & 0x80000000u, max);
	if (leaf > max[0])
		return 0;
	cpuid(leaf, r);
	return (r[reg] >> bit) & 1;
}

static void absent_features_fault(void)
{
	unsigned i;
	u32 eax;
	int v;

	for (i = 0; i < sizeof(insns) / sizeof(insns[0]); i++) {
		const struct insn *n = &insns[i];

		if (has(n->leaf, n->reg, n->bit)) {
			puts("ok - ");
			puts(n->what);
			puts(" # SKIP CPUID has the feature\n");
			continue;
		}
		v = insn_run((int)i, &eax);
		if (v != UD_VECTOR) {
			puts("# vector ");
			put_hex((u32)v);
			puts(" (0xffffffff: it ran)\n");
		}
		check(v == UD_VECTOR, n->what);
	}
}

/* LZCNT and TZCNT are REP-prefixed BSR and BSF: without the feature the
 * prefix is ignored, as on every processor before them. */
static void rep_bsr_bsf(void)
{
	u32 eax;

	if (!has(0x80000001, 2, 5)) {
		/* ECX = 1: BSR gives 0 where LZCNT would give 31. */
		check(TRY_BYTES("0xf3,0x0f,0xbd,0xc1", &eax) == -1 &&
		      eax == 0, "REP BSR without LZCNT is BSR");
	}
	if (!has(7, 1, 3)) {
		/* ECX = 1 and EAX = 3: BSF gives 0, as TZCNT would; with
		 * EDX = 0 as source, BSF leaves EAX alone where TZCNT gives
		 * 32. */
		check(TRY_BYTES("0xf3,0x0f,0xbc,0xc2", &eax) == -1 &&
		      eax == (u32)scratch, "REP BSF of 0 without BMI1 "
		      "leaves the destination");
	}
}

static void present_features_run(void)
{
	u32 eax;

	check(TRY_BYTES("0x0f,0x40,0xc1", &eax) == -1, "CMOVO runs (CMOV)");
	check(TRY_BYTES("0x0f,0xc7,0x08", &eax) == -1,
	      "CMPXCHG8B runs (CX8)");
	check(TRY_BYTES("0x0f,0x31", &eax) == -1, "RDTSC runs (TSC)");
	check(TRY_BYTES("0x0f,0x1f,0x00", &eax) == -1, "NOPL runs");
	check(TRY_BYTES("0xf3,0x90", &eax) == -1, "PAUSE runs");
}

static int try_cr4(u32 v)
{
	int f;

	asm volatile("movl $1f, resume\n\t"
		     "movl %1, %%cr4\n\t"
		     "movl $0, resume\n\t"
		     "xorl %0, %0\n\t"
		     "jmp 2f\n"
		     "1:\tmovl $1, %0\n"
		     "2:"
		     : "=&r"(f) : "r"(v) : "memory");
	return f;
}

static const struct {
	int bit;
	u32 leaf;
	int reg, fbit;
	const char *name;
} cr4_bits[] = {
	{ 0, 1, 3, 1, "CR4.VME" }, { 1, 1, 3, 1, "CR4.PVI" },
	{ 3, 1, 3, 2, "CR4.DE" }, { 5, 1, 3, 6, "CR4.PAE" },
	{ 6, 1, 3, 7, "CR4.MCE" }, { 9, 1, 3, 24, "CR4.OSFXSR" },
	{ 10, 1, 3, 25, "CR4.OSXMMEXCPT" }, { 11, 7, 2, 2, "CR4.UMIP" },
	{ 12, 7, 2, 16, "CR4.LA57" }, { 13, 1, 2, 5, "CR4.VMXE" },
	{ 14, 1, 2, 6, "CR4.SMXE" }, { 16, 7, 1, 0, "CR4.FSGSBASE" },
	{ 17, 1, 2, 17, "CR4.PCIDE" }, { 18, 1, 2, 26, "CR4.OSXSAVE" },
	{ 20, 7, 1, 7, "CR4.SMEP" }, { 21, 7, 1, 20, "CR4.SMAP" },
	{ 22, 7, 2, 3, "CR4.PKE" },
};

static void absent_cr4_bits_fault(void)
{
	u32 cr4 = read_cr4();
	unsigned i;

	for (i = 0; i < sizeof(cr4_bits) / sizeof(cr4_bits[0]); i++) {
		if (has(cr4_bits[i].leaf, cr4_bits[i].reg, cr4_bits[i].fbit))
			continue;
		last.count = 0;
		if (!check(try_cr4(cr4 | 1u << cr4_bits[i].bit) &&
			   last.vec == GP_VECTOR, cr4_bits[i].name))
			write_cr4(cr4);
	}
}

static int try_rdmsr(u32 msr, u64 *v)
{
	u32 lo = 0, hi = 0;
	int f;

	last.count = 0;
	asm volatile("movl $1f, resume\n\t"
		     "rdmsr\n\t"
		     "movl $0, resume\n\t"
		     "xorl %0, %0\n\t"
		     "jmp 2f\n"
		     "1:\tmovl $1, %0\n"
		     "2:"
		     : "=&r"(f), "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
	*v = (u64)hi << 32 | lo;
	return f ? (int)last.vec : -1;
}

static int try_wrmsr(u32 msr, u64 v)
{
	int f;

	last.count = 0;
	asm volatile("movl $1f, resume\n\t"
		     "wrmsr\n\t"
		     "movl $0, resume\n\t"
		     "xorl %0, %0\n\t"
		     "jmp 2f\n"
		     "1:\tmovl $1, %0\n"
		     "2:"
		     : "=&r"(f) : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32))
		     : "memory");
	return f ? (int)last.vec : -1;
}

/* rdmsr that must work: the value, or a failed check. */
static u64 rdmsr_ok(u32 msr, const char *what)
{
	u64 v = 0;

	check(try_rdmsr(msr, &v) == -1, what);
	return v;
}

#define MSR_MCG_CAP	0x179
#define MSR_MISC_ENABLE	0x1a0
#define MSR_PAT		0x277
#define MSR_EFER	0xc0000080u

static void efer(void)
{
	u32 eax;
	u64 v;

	check(rdmsr_ok(MSR_EFER, "EFER reads") == 0,
	      "... as 0 (long mode and NX off)");
	check(try_wrmsr(MSR_EFER, 1) == -1 &&
	      try_rdmsr(MSR_EFER, &v) == -1 && v == 1,
	      "EFER.SCE can be set and reads back");
	if (has(0x80000001, 3, 29))
		check(try_wrmsr(MSR_EFER, 1u << 8) == -1 &&
		      try_rdmsr(MSR_EFER, &v) == -1 && v == 1u << 8 &&
		      try_wrmsr(MSR_EFER, 0) == -1,
		      "EFER.LME can be set where CPUID says LM (paging off)");
	else
		check(try_wrmsr(MSR_EFER, 1u << 8) == GP_VECTOR,
		      "EFER.LME is #GP without long mode");
	if (has(0x80000001, 3, 20))
		check(try_wrmsr(MSR_EFER, 1u << 11) == -1 &&
		      try_rdmsr(MSR_EFER, &v) == -1 && v == 1u << 11,
		      "EFER.NXE can be set where CPUID says NX");
	else
		check(try_wrmsr(MSR_EFER, 1u << 11) == GP_VECTOR,
		      "EFER.NXE is #GP without NX");
	check(try_wrmsr(MSR_EFER, 1ull << 32) == GP_VECTOR,
	      "EFER bit 32 is #GP");
	try_wrmsr(MSR_EFER, 0);
	check(TRY_BYTES("0x0f,0x05", &eax) == UD_VECTOR,
	      "SYSCALL is #UD in 32-bit mode (EFER.SCE clear)");
}

static void misc_enable(void)
{
	u64 orig = rdmsr_ok(MSR_MISC_ENABLE, "IA32_MISC_ENABLE reads"), v;
	u32 r[4];

	check((orig & 0x1800) == 0x1800, "... BTS and PEBS unavailable");
	/* What kvm-unit-tests' msr test writes (its read-only bits kept). */
	v = (0x400c50809ull & ~0x1880ull) | (orig & 0x1880);
	check(try_wrmsr(MSR_MISC_ENABLE, v) == -1 &&
	      try_rdmsr(MSR_MISC_ENABLE, &v) == -1 &&
	      v == ((0x400c50809ull & ~0x1880ull) | (orig & 0x1880)),
	      "IA32_MISC_ENABLE keeps its read-write bits");
	cpuid(0, r);
	check_eq(r[0], 2, "... LIMIT_CPUID (bit 22) caps CPUID 0 at 2");
	check(try_wrmsr(MSR_MISC_ENABLE, orig | 2) == GP_VECTOR,
	      "IA32_MISC_ENABLE reserved bit 1 is #GP");
	check(try_wrmsr(MSR_MISC_ENABLE, orig & ~0x1800ull) == -1 &&
	      try_rdmsr(MSR_MISC_ENABLE, &v) == -1 && v == orig,
	      "IA32_MISC_ENABLE read-only bits ignore writes");
	cpuid(0, r);
	check(r[0] >= 7, "CPUID 0 reports leaf 7 again without the limit");
}

static void pat(void)
{
	u64 v;

	check(rdmsr_ok(MSR_PAT, "PAT reads") == 0x0007040600070406ull,
	      "... its power-on value");
	check(try_wrmsr(MSR_PAT, 0x0007010600070106ull) == -1 &&
	      try_rdmsr(MSR_PAT, &v) == -1 && v == 0x0007010600070106ull,
	      "PAT takes Linux's value");
	check(try_wrmsr(MSR_PAT, 0x0007040600070402ull) == GP_VECTOR,
	      "PAT memory type 2 is #GP");
	check(try_wrmsr(MSR_PAT, 0x0807040600070406ull) == GP_VECTOR,
	      "PAT memory type 8 is #GP");
	try_wrmsr(MSR_PAT, 0x0007040600070406ull);
}

static void other_msrs(void)
{
	static const u32 absent[] = {
		0x48,		/* SPEC_CTRL */
		0x400,		/* MC0_CTL: MCG_CAP says no banks */
		0x800,		/* x2APIC */
		0xc0000103,	/* TSC_AUX: no RDTSCP */
	};
	unsigned i;
	u64 v;

	check(rdmsr_ok(MSR_MCG_CAP, "MCG_CAP reads") == 0,
	      "... 0: no machine-check banks");
	check(try_wrmsr(MSR_MCG_CAP, 0) == GP_VECTOR,
	      "MCG_CAP is read-only");
	for (i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
		puts("# MSR ");
		put_hex(absent[i]);
		puts("\n");
		check(try_rdmsr(absent[i], &v) == GP_VECTOR &&
		      try_wrmsr(absent[i], 0) == GP_VECTOR,
		      "an MSR this CPU lacks is #GP to read and write");
	}
}

#define MSR_TSC		0x010
#define MSR_TSC_ADJUST	0x03b
#define SECOND		1000000000ull	/* of a 1 GHz TSC: a bound */

static u64 rdtsc(void)
{
	u32 lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (u64)hi << 32 | lo;
}

/* IA32_TSC_ADJUST: what a write to either MSR moves the TSC by is added
 * to the other.  Without CPUID.7.0:EBX[1] the MSR is not there. */
static void tsc_adjust(void)
{
	const u64 big = 100 * SECOND;
	u64 t1, t2, adj, v;
	u32 r[4];

	cpuid(7, r);
	if (!(r[1] & 2)) {
		check(try_rdmsr(MSR_TSC_ADJUST, &v) == GP_VECTOR &&
		      try_wrmsr(MSR_TSC_ADJUST, 0) == GP_VECTOR,
		      "no TSC_ADJUST in CPUID 7: the MSR is #GP");
		return;
	}
	check(rdmsr_ok(MSR_TSC_ADJUST, "TSC_ADJUST reads") == 0,
	      "... 0 after reset");
	t1 = rdtsc();
	check(try_wrmsr(MSR_TSC_ADJUST, big) == -1, "TSC_ADJUST writes");
	t2 = rdtsc();
	check(t2 - t1 >= big && t2 - t1 < big + SECOND,
	      "... and moves the TSC by what it added");
	check(rdmsr_ok(MSR_TSC_ADJUST, "TSC_ADJUST reads") == big,
	      "... and reads back");
	try_wrmsr(MSR_TSC_ADJUST, 0);
	t1 = rdtsc();
	check(t1 < t2 && t2 - t1 > big - SECOND,
	      "writing it 0 moves the TSC back");
	t1 = rdtsc();
	check(try_wrmsr(MSR_TSC, big) == -1, "the TSC writes");
	t2 = rdtsc();
	adj = rdmsr_ok(MSR_TSC_ADJUST, "TSC_ADJUST reads");
	check(t2 >= big && t2 - big < SECOND,
	      "... and counts on from what was written");
	check(big - adj >= t1 && big - adj <= t2,
	      "a TSC write adds to TSC_ADJUST what it moved the TSC by");
	try_wrmsr(MSR_TSC_ADJUST, 0);
	check(rdtsc() < big, "... and TSC_ADJUST 0 takes the move back");
}

static void leaves(void)
{
	u32 r[4], brand[12];
	int i;

	cpuid(0, r);
	check(r[0] >= 7, "CPUID 0: basic leaves up to 7 at least");
	cpuid(2, r);
	check((r[0] & 0xff) == 1, "CPUID 2: one round of descriptors");
	cpuid(7, r);
	check(r[0] == 0 && (r[1] & ~2u) == 0 && r[2] == 0 && r[3] == 0,
	      "CPUID 7: no structured extended features but TSC_ADJUST");
	cpuid(0x80000000u, r);
	check(r[0] >= 0x80000008u,
	      "CPUID 0x80000000: brand string and address size leaves");
	cpuid(0x80000001u, r);
	check((r[3] & (1u << 29)) && (r[3] & (1u << 20)) &&
	      (r[3] & (1u << 11)),
	      "CPUID 0x80000001: NX, SYSCALL and long mode");
	cpuid(0x80000008u, r);
	check_eq(r[0], 0x3024,
		 "CPUID 0x80000008: 36 physical and 48 linear address bits");
	cpuid(1, r);
	check(r[3] & (1u << 6), "CPUID 1: PAE");
	for (i = 0; i < 3; i++)
		cpuid(0x80000002u + i, brand + 4 * i);
	check(((char *)brand)[0] > ' ', "CPUID 0x80000002-4: a brand string");
}

void test_main(void)
{
	leaves();
	absent_features_fault();
	rep_bsr_bsf();
	present_features_run();
	absent_cr4_bits_fault();
	efer();
	misc_enable();
	pat();
	other_msrs();
	tsc_adjust();
}
