/*
 * MMX, SSE and SSE2 from the system's side: what the operating system
 * switches on and off (CR4.OSFXSR and OSXMMEXCPT, CR0.EM, TS and NE), the
 * exceptions that follow (#UD, #NM, #MF, #XM, #GP for a misaligned
 * operand or a bad MXCSR), the FXSAVE image and FXRSTOR, and the MMX
 * registers living in the x87's.  The instructions' results themselves
 * are judged by the host CPU in tests/cpu/test_simd.sh; this program runs
 * on qemu-system-i386 as well (tests/cpusys/test_qemu.sh).
 */
#include "faults.h"

#define NM_VECTOR 7
#define UD_VECTOR 6
#define GP_VECTOR 13
#define MF_VECTOR 16
#define XM_VECTOR 19

#define CR0_MP 0x02u
#define CR0_EM 0x04u
#define CR0_TS 0x08u
#define CR0_NE 0x20u
#define CR4_OSFXSR 0x200u
#define CR4_OSXMMEXCPT 0x400u

static u8 buf[1024] __attribute__((aligned(16)));
static u8 img[512] __attribute__((aligned(16)));

/* Run insn with EAX = buf; the vector it raised, or -1 if it ran. */
#define TRY(insn) ({							\
	int _f;								\
	u32 _a = (u32)buf;						\
	last.count = 0;							\
	asm volatile("movl $1f, resume\n\t"				\
		     insn "\n\t"					\
		     "movl $0, resume\n\t"				\
		     "xorl %0, %0\n\t"					\
		     "jmp 2f\n"						\
		     "1:\tmovl $1, %0\n"				\
		     "2:"						\
		     : "=&r"(_f), "+a"(_a) : : "ecx", "edx", "memory");	\
	_f ? (int)last.vec : -1;					\
})

static void cpuid1(u32 r[4])
{
	asm volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
		     : "a"(1), "c"(0));
}

static void wr_buf32(int off, u32 v)
{
	buf[off] = (u8)v;
	buf[off + 1] = (u8)(v >> 8);
	buf[off + 2] = (u8)(v >> 16);
	buf[off + 3] = (u8)(v >> 24);
}

static u32 get32(const u8 *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (u32)p[3] << 24;
}

static u32 stmxcsr(void)
{
	u32 v;

	asm volatile("stmxcsr %0" : "=m"(v));
	return v;
}

static void ldmxcsr(u32 v)
{
	asm volatile("ldmxcsr %0" : : "m"(v));
}

static void features(void)
{
	u32 r[4];

	cpuid1(r);
	check((r[3] >> 23 & 1) && (r[3] >> 24 & 1) && (r[3] >> 25 & 1) &&
	      (r[3] >> 26 & 1), "CPUID 1: MMX, FXSR, SSE and SSE2");
	check(r[3] >> 19 & 1, "CPUID 1: CLFLUSH");
}

/* Without CR4.OSFXSR the XMM forms are #UD; MMX and FXSAVE do not care. */
static void without_osfxsr(void)
{
	write_cr4(read_cr4() & ~(CR4_OSFXSR | CR4_OSXMMEXCPT));
	check_eq(TRY("movaps %%xmm0, %%xmm1"), UD_VECTOR,
		 "MOVAPS is #UD without CR4.OSFXSR");
	check_eq(TRY("stmxcsr (%%eax)"), UD_VECTOR,
		 "STMXCSR is #UD without CR4.OSFXSR");
	check_eq(TRY("paddb %%xmm0, %%xmm1"), UD_VECTOR,
		 "PADDB xmm is #UD without CR4.OSFXSR");
	check_eq(TRY("movq %%mm0, %%mm1"), -1,
		 "MOVQ mm runs without CR4.OSFXSR");
	asm volatile("emms");
	check_eq(TRY("fxsave (%%eax)"), -1,
		 "FXSAVE runs without CR4.OSFXSR");
	check_eq(TRY("sfence"), -1, "SFENCE runs without CR4.OSFXSR");
	write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
	check((read_cr4() & (CR4_OSFXSR | CR4_OSXMMEXCPT)) ==
	      (CR4_OSFXSR | CR4_OSXMMEXCPT), "CR4.OSFXSR and OSXMMEXCPT set");
	check_eq(TRY("movaps %%xmm0, %%xmm1"), -1, "... then MOVAPS runs");
	check_eq(TRY("mfence\n\tlfence\n\tclflush (%%eax)"), -1,
		 "MFENCE, LFENCE and CLFLUSH run");
}

static void cr0_bits(void)
{
	u32 cr0 = read_cr0();

	write_cr0(cr0 | CR0_TS);
	check_eq(TRY("movaps %%xmm0, %%xmm1"), NM_VECTOR,
		 "MOVAPS is #NM with CR0.TS");
	write_cr0(cr0 | CR0_TS);
	check_eq(TRY("movq %%mm0, %%mm1"), NM_VECTOR,
		 "MOVQ mm is #NM with CR0.TS");
	write_cr0(cr0 | CR0_TS);
	check_eq(TRY("fxsave (%%eax)"), NM_VECTOR,
		 "FXSAVE is #NM with CR0.TS");
	write_cr0(cr0 | CR0_TS);
	check_eq(TRY("ldmxcsr (%%eax)"), NM_VECTOR,
		 "LDMXCSR is #NM with CR0.TS");
	write_cr0(cr0 | CR0_TS);
	check_eq(TRY("emms"), NM_VECTOR, "EMMS is #NM with CR0.TS");
	write_cr0(cr0 | CR0_TS);
	check_eq(TRY("sfence"), -1, "SFENCE runs with CR0.TS");
	write_cr0(cr0 | CR0_EM);
	check_eq(TRY("movaps %%xmm0, %%xmm1"), UD_VECTOR,
		 "MOVAPS is #UD with CR0.EM");
	check_eq(TRY("paddb %%mm0, %%mm1"), UD_VECTOR,
		 "PADDB mm is #UD with CR0.EM");
	check_eq(TRY("stmxcsr (%%eax)"), UD_VECTOR,
		 "STMXCSR is #UD with CR0.EM");
	write_cr0(cr0 | CR0_EM | CR0_TS);
	check_eq(TRY("movaps %%xmm0, %%xmm1"), UD_VECTOR,
		 "MOVAPS is #UD with CR0.EM and TS (#UD first)");
	write_cr0(cr0);
}

/* DIVSS by zero with ZE unmasked: #XM, or #UD without OSXMMEXCPT. */
static int divss_by_zero(u32 *xmm0_lo)
{
	static const u32 one = 0x3f800000u, zero = 0;
	int v;

	asm volatile("movss %0, %%xmm0\n\tmovss %1, %%xmm1"
		     : : "m"(one), "m"(zero));
	ldmxcsr(0x1f80 & ~0x200u);	/* ZM clear */
	v = TRY("divss %%xmm1, %%xmm0");
	asm volatile("movd %%xmm0, %0" : "=r"(*xmm0_lo));
	return v;
}

static void simd_exceptions(void)
{
	u32 x, m;

	check_eq(divss_by_zero(&x), XM_VECTOR,
		 "DIVSS by zero, ZE unmasked: #XM with CR4.OSXMMEXCPT");
	m = stmxcsr();
	check_eq(m & 0x3f, 0x04, "... MXCSR.ZE set, no other flag");
	check_eq(x, 0x3f800000u, "... the destination keeps its value");
	write_cr4(read_cr4() & ~CR4_OSXMMEXCPT);
	check_eq(divss_by_zero(&x), UD_VECTOR,
		 "... and #UD without CR4.OSXMMEXCPT");
	write_cr4(read_cr4() | CR4_OSXMMEXCPT);
	ldmxcsr(0x1f80);
	asm volatile("movss %1, %%xmm0\n\tmovss %2, %%xmm1\n\t"
		     "divss %%xmm1, %%xmm0\n\tmovd %%xmm0, %0"
		     : "=r"(x) : "m"((u32){ 0x3f800000u }), "m"((u32){ 0 }));
	check_eq(x, 0x7f800000u, "DIVSS by zero, masked: +infinity");
	check_eq(stmxcsr() & 0x3f, 0x04, "... and MXCSR.ZE");
	ldmxcsr(0x1f80);
	wr_buf32(0, 0x1f80 | 1u << 16);
	check_eq(TRY("ldmxcsr (%%eax)"), GP_VECTOR,
		 "LDMXCSR with reserved bit 16 is #GP");
	check_eq(last.err, 0, "... #GP(0)");
	check_eq(stmxcsr(), 0x1f80, "... MXCSR unchanged");
}

static void alignment(void)
{
	check_eq(TRY("movaps 16(%%eax), %%xmm0"), -1,
		 "MOVAPS from a 16-byte-aligned address runs");
	check_eq(TRY("movaps 8(%%eax), %%xmm0"), GP_VECTOR,
		 "MOVAPS from a misaligned address is #GP");
	check_eq(last.err, 0, "... #GP(0)");
	check_eq(TRY("movdqa %%xmm0, 4(%%eax)"), GP_VECTOR,
		 "MOVDQA to a misaligned address is #GP");
	check_eq(TRY("addps 1(%%eax), %%xmm0"), GP_VECTOR,
		 "ADDPS with a misaligned m128 is #GP");
	check_eq(TRY("movups 1(%%eax), %%xmm0\n\tmovdqu %%xmm0, 3(%%eax)"),
		 -1, "MOVUPS and MOVDQU take any address");
	check_eq(TRY("addss 1(%%eax), %%xmm0"), -1,
		 "ADDSS with a misaligned m32 runs");
	check_eq(TRY("paddb 1(%%eax), %%mm0\n\temms"), -1,
		 "PADDB with a misaligned m64 runs");
	check_eq(TRY("fxsave 8(%%eax)"), GP_VECTOR,
		 "FXSAVE to a misaligned address is #GP");
	check_eq(TRY("fxrstor 8(%%eax)"), GP_VECTOR,
		 "FXRSTOR from a misaligned address is #GP");
}

static const u32 xmm0_val[4] = { 0x11111111, 0x22222222, 0x33333333,
				 0x44444444 };
static const u32 xmm7_val[4] = { 0xa1a2a3a4, 0xb1b2b3b4, 0xc1c2c3c4,
				 0xd1d2d3d4 };

static void fxsave_layout(void)
{
	int i;

	asm volatile("fninit\n\tfld1\n\tfldpi");
	asm volatile("movups %0, %%xmm0\n\tmovups %1, %%xmm7"
		     : : "m"(xmm0_val), "m"(xmm7_val));
	ldmxcsr(0x3f80 | 0x01);		/* RC down, IE already flagged */
	for (i = 0; i < 512; i++)
		img[i] = 0xcc;
	asm volatile("fxsave %0" : "=m"(img));
	check_eq(img[0] | img[1] << 8, 0x037f, "FXSAVE: FCW at 0");
	check_eq((img[2] | img[3] << 8) & 0x3800, 6 << 11,
		 "FXSAVE: FSW at 2 with TOP = 6");
	check_eq(img[4], 0xc0, "FXSAVE: abridged FTW at 4 (R6, R7 valid)");
	check_eq(get32(img + 24), 0x3f81, "FXSAVE: MXCSR at 24");
	check(get32(img + 28) == 0xffff || get32(img + 28) == 0xffbf,
	      "FXSAVE: MXCSR_MASK at 28");
	/* pi in extended precision: c90fdaa2 2168c235, exponent 4000. */
	check(get32(img + 32) == 0x2168c235 && get32(img + 36) == 0xc90fdaa2 &&
	      (img[40] | img[41] << 8) == 0x4000, "FXSAVE: ST0 (pi) at 32");
	check(get32(img + 48 + 4) == 0x80000000 &&
	      (img[56] | img[57] << 8) == 0x3fff, "FXSAVE: ST1 (1.0) at 48");
	check(get32(img + 160) == 0x11111111 && get32(img + 172) == 0x44444444,
	      "FXSAVE: XMM0 at 160");
	check(get32(img + 272) == 0xa1a2a3a4 && get32(img + 284) == 0xd1d2d3d4,
	      "FXSAVE: XMM7 at 272");
	check(img[464] == 0xcc && img[511] == 0xcc,
	      "FXSAVE leaves bytes 464-511 alone");
}

static void fxrstor(void)
{
	u32 x, m;
	u16 sw, tw;
	u8 env[28];

	/* From the image above: XMM1 from bytes 176, MXCSR changed. */
	img[176] = 0x5a;
	img[24] = 0x80;
	img[25] = 0x1f;
	asm volatile("fninit\n\tpxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1"
		     ::: "memory");
	ldmxcsr(0x1f80);
	asm volatile("fxrstor %0" : : "m"(img));
	asm volatile("movd %%xmm0, %0" : "=r"(x));
	check_eq(x, 0x11111111, "FXRSTOR: XMM0");
	asm volatile("movd %%xmm1, %0" : "=r"(x));
	check_eq(x & 0xff, 0x5a, "FXRSTOR: XMM1 as changed");
	m = stmxcsr();
	check_eq(m, 0x1f80, "FXRSTOR: MXCSR");
	asm volatile("fnstsw %0\n\tfnstenv %1" : "=m"(sw), "=m"(env));
	tw = env[8] | env[9] << 8;
	check_eq(sw & 0x3800, 6 << 11, "FXRSTOR: TOP");
	check_eq(tw, 0x0fff, "FXRSTOR: full tags from the abridged ones");
	img[26] = 1;			/* MXCSR bit 16: reserved */
	asm volatile("fninit");
	check_eq(TRY("fxrstor img"), GP_VECTOR,
		 "FXRSTOR with a reserved MXCSR bit is #GP");
	img[26] = 0;
	asm volatile("fninit");
}

/* MMn is the mantissa of physical register n; tags and TOP follow. */
static void mmx_aliasing(void)
{
	static const u64 v = 0x0123456789abcdefull;
	u8 env[28], st[10];
	u16 tw, sw;
	int i, empty = 0;

	asm volatile("fninit\n\tfld1\n\tmovq %0, %%mm0" : : "m"(v));
	asm volatile("fnstenv %0" : "=m"(env));
	tw = env[8] | env[9] << 8;
	sw = env[4] | env[5] << 8;
	for (i = 0; i < 8; i++)
		empty += ((tw >> (2 * i)) & 3) == 3;
	check_eq(empty, 0, "after MOVQ mm0: no register empty");
	check_eq(tw & 3, 2, "... R0 (MM0, exponent all ones) tagged special");
	check_eq(sw & 0x3800, 0, "after MOVQ mm0: TOP = 0");
	asm volatile("fstpt %0" : "=m"(st));
	check(get32(st) == 0x89abcdef && get32(st + 4) == 0x01234567 &&
	      (st[8] | st[9] << 8) == 0xffff,
	      "ST0 holds MM0 with exponent and sign all ones");
	asm volatile("fninit\n\tmovq %0, %%mm3\n\temms" : : "m"(v));
	asm volatile("fnstenv %0" : "=m"(env));
	check_eq(env[8] | env[9] << 8, 0xffff, "after EMMS: every tag empty");
	asm volatile("fninit\n\tfldpi\n\tfld1\n\tmovq %%mm7, %0"
		     : "=m"(st) : : "memory");
	check(get32(st) == 0x2168c235 && get32(st + 4) == 0xc90fdaa2,
	      "MM7 reads R7 (pi, pushed first)");
	asm volatile("emms\n\tfninit\n\tfld1\n\tcvtpi2pd %1, %%xmm0\n\t"
		     "fnstsw %0" : "=m"(sw) : "m"(v));
	check_eq(sw & 0x3800, 7 << 11,
		 "CVTPI2PD from memory leaves the x87 as it was");
	asm volatile("fninit\n\tfld1\n\tcvtpi2ps %1, %%xmm0\n\t"
		     "fnstsw %0" : "=m"(sw) : "m"(v));
	check_eq(sw & 0x3800, 0,
		 "CVTPI2PS from memory switches the x87 to MMX use");
	asm volatile("emms\n\tfninit");
}

/* An MMX instruction that faults leaves the x87 as it was. */
static void mmx_fault_no_switch(void)
{
	u16 sw;
	int v;

	/* 0..8 MiB mapped: 9 MiB is not. */
	paging_build();
	paging_on();
	asm volatile("fninit\n\tfld1");
	v = TRY("movq 0x900000, %%mm0");
	asm volatile("fnstsw %0" : "=m"(sw));
	write_cr0(read_cr0() & ~0x80000000u);
	check_eq(v, 14, "MOVQ mm from an unmapped page is #PF");
	check_eq(sw & 0x3800, 7 << 11, "... and leaves TOP as it was");
	asm volatile("fninit");
}

/* A pending unmasked x87 exception: the next MMX instruction takes #MF. */
static void mmx_mf(void)
{
	u16 cw = 0x037f & ~0x04;	/* ZM clear */
	u32 cr0 = read_cr0();

	write_cr0(cr0 | CR0_NE);
	asm volatile("fninit\n\tfldcw %0\n\tfldz\n\tfld1\n\t"
		     "fdiv %%st(1), %%st" : : "m"(cw));
	check_eq(TRY("movq %%mm0, %%mm1"), MF_VECTOR,
		 "MOVQ mm with an x87 exception pending is #MF");
	asm volatile("fnclex\n\tfninit");
	check_eq(TRY("movq %%mm0, %%mm1\n\temms"), -1,
		 "... and runs once FNCLEX cleared it");
	write_cr0(cr0);
}

void test_main(void)
{
	features();
	without_osfxsr();
	cr0_bits();
	simd_exceptions();
	alignment();
	fxsave_layout();
	fxrstor();
	mmx_aliasing();
	mmx_fault_no_switch();
	mmx_mf();
}
