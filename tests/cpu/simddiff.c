/*
 * The differential test of MMX, SSE and SSE2 (test_simd.sh): every form
 * runs on the host CPU and on ours from the same general registers,
 * EFLAGS, XMM0-7, MM0-7, MXCSR and memory window, and all of them must
 * agree afterwards, as must the exception (#UD, #GP on a misaligned
 * operand, #XM with the MXCSR flags an unmasked exception leaves).
 *
 * It is the SIMD half of difftest (same window address, same flat 32-bit
 * guest with an IDT whose gate v halts at HANDLERS + 16 * v), kept apart
 * because a case here carries 200 bytes of register state that the
 * integer cases and their qemu-i386 reference executor have no use for.
 * Every form has a 64-bit twin with the same bytes, so the host is the
 * only oracle.
 *
 * Operands come from palettes of edge cases mixed with random bits:
 * signed zeros, infinities, quiet and signalling NaNs, denormals, the
 * largest and smallest normals, halves for rounding, the integer limits
 * of the conversions, saturation limits, shift counts 0, 1, width-1,
 * width and beyond; MXCSR with every rounding mode, DAZ and FTZ, and
 * sometimes unmasked exceptions.
 *
 * Usage: simddiff  (environment: CPU_TEST_CASES per form, default 400;
 * CPU_TEST_SEED; CPU_TEST_FILTER=substring of a form name; CPU_TEST_SHOW
 * mismatches printed per form).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "difftest.h"
#include "host_sse.h"
#include "../../src/cpu/cpu_internal.h"

#define RAM_SIZE	(32u * 1024 * 1024)
#define IDT_ADDR	0x10000u
#define GDT_ADDR	0x11000u
#define HANDLERS	0x12000u
#define CODE_EIP	0x00400000u
#define STACK_TOP	(DT_WIN_BASE + 0x1f00u)

/* The native stub's state block, in the low mapping. */
#define ST_ADDR		(DT_WIN_BASE + 0x10000u)
#define ST_EFL		(ST_ADDR + 32)
#define ST_MXCSR	(ST_ADDR + 36)
#define ST_MXDEF	(ST_ADDR + 40)
#define ST_XMM		(ST_ADDR + 64)
#define ST_MM		(ST_ADDR + 192)
#define LOW_MAP_SIZE	0x20000u

/* What names a ModRM field: an XMM, MMX or general register. */
enum { K_X, K_M, K_G };
/* Memory operand: none, either, memory only. */
enum { MEM_NO, MEM_ANY, MEM_ONLY };

struct sform {
	const char *name;
	u8 pfx;			/* 0, 0x66, 0xf3, 0xf2 */
	u8 op;
	s8 ext;			/* ModRM reg fixed (groups), else -1 */
	u8 regk, rmk;		/* K_* of ModRM reg and rm */
	u8 mem, msize;		/* MEM_*, bytes */
	u8 imm;
	unsigned cases, bad, faults;
};

/* Shorthands for the table. */
#define F(n, p, o, rk, mk, m, sz, i) { n, p, o, -1, rk, mk, m, sz, i, 0, 0, 0 }
#define XX(n, p, o) F(n, p, o, K_X, K_X, MEM_ANY, 16, 0)
#define XS(n, p, o) F(n, p, o, K_X, K_X, MEM_ANY, 4, 0)
#define XD(n, p, o) F(n, p, o, K_X, K_X, MEM_ANY, 8, 0)
#define MM(n, p, o) F(n, p, o, K_M, K_M, MEM_ANY, 8, 0)
#define INT(n, o) MM(n " mm,mm/m64", 0, o), XX(n " xmm,xmm/m128", 0x66, o)
#define G(n, p, o, ext, k) { n, p, o, ext, K_X, k, MEM_NO, 0, 1, 0, 0, 0 }

static struct sform forms[] = {
	XX("movups xmm,xmm/m128", 0, 0x10), XX("movupd xmm,xmm/m128", 0x66, 0x10),
	XS("movss xmm,xmm/m32", 0xf3, 0x10), XD("movsd xmm,xmm/m64", 0xf2, 0x10),
	XX("movups xmm/m128,xmm", 0, 0x11), XX("movupd xmm/m128,xmm", 0x66, 0x11),
	XS("movss xmm/m32,xmm", 0xf3, 0x11), XD("movsd xmm/m64,xmm", 0xf2, 0x11),
	XD("movlps/movhlps xmm,xmm/m64", 0, 0x12),
	F("movlpd xmm,m64", 0x66, 0x12, K_X, K_X, MEM_ONLY, 8, 0),
	F("movlps m64,xmm", 0, 0x13, K_X, K_X, MEM_ONLY, 8, 0),
	F("movlpd m64,xmm", 0x66, 0x13, K_X, K_X, MEM_ONLY, 8, 0),
	XX("unpcklps", 0, 0x14), XX("unpcklpd", 0x66, 0x14),
	XX("unpckhps", 0, 0x15), XX("unpckhpd", 0x66, 0x15),
	XD("movhps/movlhps xmm,xmm/m64", 0, 0x16),
	F("movhpd xmm,m64", 0x66, 0x16, K_X, K_X, MEM_ONLY, 8, 0),
	F("movhps m64,xmm", 0, 0x17, K_X, K_X, MEM_ONLY, 8, 0),
	F("movhpd m64,xmm", 0x66, 0x17, K_X, K_X, MEM_ONLY, 8, 0),
	XX("movaps xmm,xmm/m128", 0, 0x28), XX("movapd xmm,xmm/m128", 0x66, 0x28),
	XX("movaps xmm/m128,xmm", 0, 0x29), XX("movapd xmm/m128,xmm", 0x66, 0x29),
	F("cvtpi2ps xmm,mm/m64", 0, 0x2a, K_X, K_M, MEM_ANY, 8, 0),
	F("cvtpi2pd xmm,mm/m64", 0x66, 0x2a, K_X, K_M, MEM_ANY, 8, 0),
	F("cvtsi2ss xmm,r/m32", 0xf3, 0x2a, K_X, K_G, MEM_ANY, 4, 0),
	F("cvtsi2sd xmm,r/m32", 0xf2, 0x2a, K_X, K_G, MEM_ANY, 4, 0),
	F("movntps m128,xmm", 0, 0x2b, K_X, K_X, MEM_ONLY, 16, 0),
	F("movntpd m128,xmm", 0x66, 0x2b, K_X, K_X, MEM_ONLY, 16, 0),
	F("cvttps2pi mm,xmm/m64", 0, 0x2c, K_M, K_X, MEM_ANY, 8, 0),
	F("cvttpd2pi mm,xmm/m128", 0x66, 0x2c, K_M, K_X, MEM_ANY, 16, 0),
	F("cvttss2si r32,xmm/m32", 0xf3, 0x2c, K_G, K_X, MEM_ANY, 4, 0),
	F("cvttsd2si r32,xmm/m64", 0xf2, 0x2c, K_G, K_X, MEM_ANY, 8, 0),
	F("cvtps2pi mm,xmm/m64", 0, 0x2d, K_M, K_X, MEM_ANY, 8, 0),
	F("cvtpd2pi mm,xmm/m128", 0x66, 0x2d, K_M, K_X, MEM_ANY, 16, 0),
	F("cvtss2si r32,xmm/m32", 0xf3, 0x2d, K_G, K_X, MEM_ANY, 4, 0),
	F("cvtsd2si r32,xmm/m64", 0xf2, 0x2d, K_G, K_X, MEM_ANY, 8, 0),
	XS("ucomiss", 0, 0x2e), XD("ucomisd", 0x66, 0x2e),
	XS("comiss", 0, 0x2f), XD("comisd", 0x66, 0x2f),
	F("movmskps r32,xmm", 0, 0x50, K_G, K_X, MEM_NO, 0, 0),
	F("movmskpd r32,xmm", 0x66, 0x50, K_G, K_X, MEM_NO, 0, 0),
	XX("sqrtps", 0, 0x51), XX("sqrtpd", 0x66, 0x51),
	XS("sqrtss", 0xf3, 0x51), XD("sqrtsd", 0xf2, 0x51),
	XX("rsqrtps", 0, 0x52), XS("rsqrtss", 0xf3, 0x52),
	XX("rcpps", 0, 0x53), XS("rcpss", 0xf3, 0x53),
	XX("andps", 0, 0x54), XX("andpd", 0x66, 0x54),
	XX("andnps", 0, 0x55), XX("andnpd", 0x66, 0x55),
	XX("orps", 0, 0x56), XX("orpd", 0x66, 0x56),
	XX("xorps", 0, 0x57), XX("xorpd", 0x66, 0x57),
	XX("addps", 0, 0x58), XX("addpd", 0x66, 0x58),
	XS("addss", 0xf3, 0x58), XD("addsd", 0xf2, 0x58),
	XX("mulps", 0, 0x59), XX("mulpd", 0x66, 0x59),
	XS("mulss", 0xf3, 0x59), XD("mulsd", 0xf2, 0x59),
	XD("cvtps2pd", 0, 0x5a), XX("cvtpd2ps", 0x66, 0x5a),
	XS("cvtss2sd", 0xf3, 0x5a), XD("cvtsd2ss", 0xf2, 0x5a),
	XX("cvtdq2ps", 0, 0x5b), XX("cvtps2dq", 0x66, 0x5b),
	XX("cvttps2dq", 0xf3, 0x5b),
	XX("subps", 0, 0x5c), XX("subpd", 0x66, 0x5c),
	XS("subss", 0xf3, 0x5c), XD("subsd", 0xf2, 0x5c),
	XX("minps", 0, 0x5d), XX("minpd", 0x66, 0x5d),
	XS("minss", 0xf3, 0x5d), XD("minsd", 0xf2, 0x5d),
	XX("divps", 0, 0x5e), XX("divpd", 0x66, 0x5e),
	XS("divss", 0xf3, 0x5e), XD("divsd", 0xf2, 0x5e),
	XX("maxps", 0, 0x5f), XX("maxpd", 0x66, 0x5f),
	XS("maxss", 0xf3, 0x5f), XD("maxsd", 0xf2, 0x5f),
	F("punpcklbw mm,mm/m32", 0, 0x60, K_M, K_M, MEM_ANY, 4, 0),
	F("punpcklwd mm,mm/m32", 0, 0x61, K_M, K_M, MEM_ANY, 4, 0),
	F("punpckldq mm,mm/m32", 0, 0x62, K_M, K_M, MEM_ANY, 4, 0),
	XX("punpcklbw xmm", 0x66, 0x60), XX("punpcklwd xmm", 0x66, 0x61),
	XX("punpckldq xmm", 0x66, 0x62),
	INT("packsswb", 0x63), INT("pcmpgtb", 0x64), INT("pcmpgtw", 0x65),
	INT("pcmpgtd", 0x66), INT("packuswb", 0x67), INT("punpckhbw", 0x68),
	INT("punpckhwd", 0x69), INT("punpckhdq", 0x6a), INT("packssdw", 0x6b),
	XX("punpcklqdq", 0x66, 0x6c), XX("punpckhqdq", 0x66, 0x6d),
	F("movd mm,r/m32", 0, 0x6e, K_M, K_G, MEM_ANY, 4, 0),
	F("movd xmm,r/m32", 0x66, 0x6e, K_X, K_G, MEM_ANY, 4, 0),
	MM("movq mm,mm/m64", 0, 0x6f), XX("movdqa xmm,xmm/m128", 0x66, 0x6f),
	XX("movdqu xmm,xmm/m128", 0xf3, 0x6f),
	F("pshufw mm,mm/m64,imm8", 0, 0x70, K_M, K_M, MEM_ANY, 8, 1),
	F("pshufd", 0x66, 0x70, K_X, K_X, MEM_ANY, 16, 1),
	F("pshufhw", 0xf3, 0x70, K_X, K_X, MEM_ANY, 16, 1),
	F("pshuflw", 0xf2, 0x70, K_X, K_X, MEM_ANY, 16, 1),
	{ "psrlw mm,imm8", 0, 0x71, 2, K_M, K_M, MEM_NO, 0, 1, 0, 0, 0 },
	{ "psraw mm,imm8", 0, 0x71, 4, K_M, K_M, MEM_NO, 0, 1, 0, 0, 0 },
	{ "psllw mm,imm8", 0, 0x71, 6, K_M, K_M, MEM_NO, 0, 1, 0, 0, 0 },
	{ "psrld mm,imm8", 0, 0x72, 2, K_M, K_M, MEM_NO, 0, 1, 0, 0, 0 },
	{ "psrad mm,imm8", 0, 0x72, 4, K_M, K_M, MEM_NO, 0, 1, 0, 0, 0 },
	{ "pslld mm,imm8", 0, 0x72, 6, K_M, K_M, MEM_NO, 0, 1, 0, 0, 0 },
	{ "psrlq mm,imm8", 0, 0x73, 2, K_M, K_M, MEM_NO, 0, 1, 0, 0, 0 },
	{ "psllq mm,imm8", 0, 0x73, 6, K_M, K_M, MEM_NO, 0, 1, 0, 0, 0 },
	G("psrlw xmm,imm8", 0x66, 0x71, 2, K_X),
	G("psraw xmm,imm8", 0x66, 0x71, 4, K_X),
	G("psllw xmm,imm8", 0x66, 0x71, 6, K_X),
	G("psrld xmm,imm8", 0x66, 0x72, 2, K_X),
	G("psrad xmm,imm8", 0x66, 0x72, 4, K_X),
	G("pslld xmm,imm8", 0x66, 0x72, 6, K_X),
	G("psrlq xmm,imm8", 0x66, 0x73, 2, K_X),
	G("psrldq xmm,imm8", 0x66, 0x73, 3, K_X),
	G("psllq xmm,imm8", 0x66, 0x73, 6, K_X),
	G("pslldq xmm,imm8", 0x66, 0x73, 7, K_X),
	INT("pcmpeqb", 0x74), INT("pcmpeqw", 0x75), INT("pcmpeqd", 0x76),
	F("movd r/m32,mm", 0, 0x7e, K_M, K_G, MEM_ANY, 4, 0),
	F("movd r/m32,xmm", 0x66, 0x7e, K_X, K_G, MEM_ANY, 4, 0),
	XD("movq xmm,xmm/m64", 0xf3, 0x7e),
	MM("movq mm/m64,mm", 0, 0x7f), XX("movdqa xmm/m128,xmm", 0x66, 0x7f),
	XX("movdqu xmm/m128,xmm", 0xf3, 0x7f),
	F("cmpps", 0, 0xc2, K_X, K_X, MEM_ANY, 16, 1),
	F("cmppd", 0x66, 0xc2, K_X, K_X, MEM_ANY, 16, 1),
	F("cmpss", 0xf3, 0xc2, K_X, K_X, MEM_ANY, 4, 1),
	F("cmpsd", 0xf2, 0xc2, K_X, K_X, MEM_ANY, 8, 1),
	F("movnti m32,r32", 0, 0xc3, K_G, K_G, MEM_ONLY, 4, 0),
	F("pinsrw mm,r32/m16,imm8", 0, 0xc4, K_M, K_G, MEM_ANY, 2, 1),
	F("pinsrw xmm,r32/m16,imm8", 0x66, 0xc4, K_X, K_G, MEM_ANY, 2, 1),
	F("pextrw r32,mm,imm8", 0, 0xc5, K_G, K_M, MEM_NO, 0, 1),
	F("pextrw r32,xmm,imm8", 0x66, 0xc5, K_G, K_X, MEM_NO, 0, 1),
	F("shufps", 0, 0xc6, K_X, K_X, MEM_ANY, 16, 1),
	F("shufpd", 0x66, 0xc6, K_X, K_X, MEM_ANY, 16, 1),
	INT("psrlw", 0xd1), INT("psrld", 0xd2), INT("psrlq", 0xd3),
	INT("paddq", 0xd4), INT("pmullw", 0xd5),
	XD("movq xmm/m64,xmm", 0x66, 0xd6),
	F("movq2dq xmm,mm", 0xf3, 0xd6, K_X, K_M, MEM_NO, 0, 0),
	F("movdq2q mm,xmm", 0xf2, 0xd6, K_M, K_X, MEM_NO, 0, 0),
	F("pmovmskb r32,mm", 0, 0xd7, K_G, K_M, MEM_NO, 0, 0),
	F("pmovmskb r32,xmm", 0x66, 0xd7, K_G, K_X, MEM_NO, 0, 0),
	INT("psubusb", 0xd8), INT("psubusw", 0xd9), INT("pminub", 0xda),
	INT("pand", 0xdb), INT("paddusb", 0xdc), INT("paddusw", 0xdd),
	INT("pmaxub", 0xde), INT("pandn", 0xdf), INT("pavgb", 0xe0),
	INT("psraw", 0xe1), INT("psrad", 0xe2), INT("pavgw", 0xe3),
	INT("pmulhuw", 0xe4), INT("pmulhw", 0xe5),
	XX("cvttpd2dq", 0x66, 0xe6), XD("cvtdq2pd", 0xf3, 0xe6),
	XX("cvtpd2dq", 0xf2, 0xe6),
	F("movntq m64,mm", 0, 0xe7, K_M, K_M, MEM_ONLY, 8, 0),
	F("movntdq m128,xmm", 0x66, 0xe7, K_X, K_X, MEM_ONLY, 16, 0),
	INT("psubsb", 0xe8), INT("psubsw", 0xe9), INT("pminsw", 0xea),
	INT("por", 0xeb), INT("paddsb", 0xec), INT("paddsw", 0xed),
	INT("pmaxsw", 0xee), INT("pxor", 0xef), INT("psllw", 0xf1),
	INT("pslld", 0xf2), INT("psllq", 0xf3), INT("pmuludq", 0xf4),
	INT("pmaddwd", 0xf5), INT("psadbw", 0xf6),
	F("maskmovq mm,mm", 0, 0xf7, K_M, K_M, MEM_NO, 0, 0),
	F("maskmovdqu xmm,xmm", 0x66, 0xf7, K_X, K_X, MEM_NO, 0, 0),
	INT("psubb", 0xf8), INT("psubw", 0xf9), INT("psubd", 0xfa),
	INT("psubq", 0xfb), INT("paddb", 0xfc), INT("paddw", 0xfd),
	INT("paddd", 0xfe),
	/* Prefixes that name no form: #UD on both. */
	XX("(66) 0f 52: #UD", 0x66, 0x52), XX("(f3) 0f 54: #UD", 0xf3, 0x54),
	XX("(f2) 0f 6f: #UD", 0xf2, 0x6f), XX("(f3) 0f 60: #UD", 0xf3, 0x60),
	F("(66) 0f 12 reg: #UD", 0x66, 0x12, K_X, K_X, MEM_NO, 0, 0),
	{ "(0f 71 /0): #UD", 0, 0x71, 0, K_M, K_M, MEM_NO, 0, 1, 0, 0, 0 },
	{ "(0f 73 /3): #UD", 0, 0x73, 3, K_M, K_M, MEM_NO, 0, 1, 0, 0, 0 },
	{ "(66 0f 72 /7): #UD", 0x66, 0x72, 7, K_X, K_X, MEM_NO, 0, 1, 0, 0, 0 },
	F("ldmxcsr/stmxcsr", 0, 0xae, K_X, K_X, MEM_ONLY, 4, 0),
	/* The fences: any rm, nothing changes (the translator keeps them
	 * in its blocks). */
	{ "lfence", 0, 0xae, 5, K_X, K_X, MEM_NO, 0, 0, 0, 0, 0 },
	{ "mfence", 0, 0xae, 6, K_X, K_X, MEM_NO, 0, 0, 0, 0, 0 },
	{ "sfence", 0, 0xae, 7, K_X, K_X, MEM_NO, 0, 0, 0, 0, 0 },
};

/* One case: everything the instruction can read. */
struct scase {
	u8 code[16];
	u8 len;
	u32 r[8];
	u32 eflags;
	u32 mxcsr;
	union v128 xmm[8];
	u64 mm[8];
	u8 win[DT_WIN_SIZE];
};

struct sres {
	u32 r[8];
	u32 eflags;
	u32 mxcsr;
	union v128 xmm[8];
	u64 mm[8];
	int vec;		/* -1 none */
	u8 win[DT_WIN_SIZE];
};

/* --- random numbers and palettes --- */

static u64 rng_state = 0x853c49e6748fea9bull;

static u64 rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static const u32 f32_pal[] = {
	0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000,
	0xffc00000, 0x7fa00000, 0xff800001, 0x7f800001, 0x00000001,
	0x80000001, 0x007fffff, 0x00800000, 0x80800000, 0x7f7fffff,
	0xff7fffff, 0x3f800000, 0xbf800000, 0x3f000000, 0x3fc00000,
	0x40200000, 0xbfc00000, 0x4f000000, 0xcf000000, 0x4effffff,
	0xcf000001, 0x5f000000, 0x3eaaaaab, 0x00400000, 0x40490fdb,
	0x7fffffff, 0x34000000, 0x0c000000, 0x72000000,
};

static const u64 f64_pal[] = {
	0x0ull, 0x8000000000000000ull, 0x7ff0000000000000ull,
	0xfff0000000000000ull, 0x7ff8000000000000ull, 0xfff8000000000000ull,
	0x7ff4000000000000ull, 0x7ff0000000000001ull, 0x0000000000000001ull,
	0x800fffffffffffffull, 0x0010000000000000ull, 0x7fefffffffffffffull,
	0x3ff0000000000000ull, 0xbff0000000000000ull, 0x3fe0000000000000ull,
	0x3ff8000000000000ull, 0x4004000000000000ull, 0xc1e0000000000000ull,
	0x41e0000000000000ull, 0x41dfffffffc00000ull, 0xc1e0000000200000ull,
	0x41efffffffe00000ull, 0x3fd5555555555555ull, 0x47efffffe0000000ull,
	0x36a0000000000000ull, 0x3810000000000000ull, 0x380fffffffffffffull,
	0x400921fb54442d18ull, 0x4330000000000000ull, 0x3ca0000000000000ull,
};

static const u16 int_pal[] = {
	0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0xfffe,
	0x00ff, 0xff00, 15, 16, 31, 32, 63, 64, 0x8001, 0x7ffe,
};

static void fill(u8 *p, int n)
{
	int mode = rnd() % 6, i;

	for (i = 0; i < n; i += 8) {
		u64 v = rnd();

		switch (mode) {
		case 0:
			break;
		case 1: {
			u32 a = f32_pal[rnd() % ARRAY_SIZE(f32_pal)];
			u32 b = f32_pal[rnd() % ARRAY_SIZE(f32_pal)];

			if (rnd() & 1)
				a ^= (u32)rnd() & 0x7fff;
			v = (u64)b << 32 | a;
			break;
		}
		case 2:
			v = f64_pal[rnd() % ARRAY_SIZE(f64_pal)];
			if (rnd() & 1)
				v ^= rnd() & 0xffff;
			break;
		case 3: {
			int j;

			for (j = 0; j < 4; j++) {
				v &= ~(0xffffull << 16 * j);
				v |= (u64)int_pal[rnd() % ARRAY_SIZE(int_pal)]
				     << 16 * j;
			}
			break;
		}
		case 4:	/* a shift count, or a small integer */
			v = rnd() % 80;
			break;
		default:	/* small numbers: exact conversions */
			v = (rnd() % 2000) - 1000;
			v = (u64)(u32)v << 32 | (u32)(s32)v;
			break;
		}
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

static u32 gen_mxcsr(void)
{
	u32 m = MXCSR_RESET | (rnd() & 0x6000);	/* rounding */

	if (rnd() % 4 == 0)
		m |= 0x0040;			/* DAZ */
	if (rnd() % 4 == 0)
		m |= 0x8000;			/* FTZ */
	if (rnd() % 4 == 0)
		m &= ~(u32)(rnd() & 0x1f80);	/* some unmasked */
	if (rnd() % 4 == 0)
		m |= rnd() & 0x3f;		/* sticky flags already */
	return m;
}

/* --- making a case --- */

static const int gprs[7] = { 0, 1, 2, 3, 5, 6, 7 };	/* not ESP */

static void gen_case(const struct sform *f, struct scase *k)
{
	int reg, rm, base, i, n = 0;
	bool mem;
	u32 off;

	memset(k, 0, sizeof(*k));
	for (i = 0; i < 8; i++) {
		fill(k->xmm[i].b, 16);
		fill((u8 *)&k->mm[i], 8);
		k->r[i] = (u32)rnd();
		if (rnd() % 3 == 0)
			k->r[i] = (u32)(s32)((rnd() % 2000) - 1000);
		if (rnd() % 5 == 0)
			k->r[i] = 0x80000000u - (u32)(rnd() % 3);
	}
	k->r[R_ESP] = STACK_TOP;
	k->eflags = (u32)(rnd() & (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)) |
		    F_FIXED1;
	k->mxcsr = gen_mxcsr();
	for (i = 0; i < (int)DT_WIN_SIZE; i += 16)
		fill(k->win + i, 16);

	reg = f->ext >= 0 ? f->ext : (f->regk == K_G ? gprs[rnd() % 7] :
				      (int)(rnd() % 8));
	rm = f->rmk == K_G ? gprs[rnd() % 7] : (int)(rnd() % 8);
	mem = f->mem == MEM_ONLY || (f->mem == MEM_ANY && (rnd() & 1));
	/* Now and then a 66 that F2 or F3 overrides, or a DS override. */
	if ((f->pfx == 0xf3 || f->pfx == 0xf2) && rnd() % 8 == 0)
		k->code[n++] = 0x66;
	if (rnd() % 8 == 0)
		k->code[n++] = 0x3e;
	if (f->pfx)
		k->code[n++] = f->pfx;
	k->code[n++] = 0x0f;
	k->code[n++] = f->op;
	if (!mem) {
		k->code[n++] = (u8)(0xc0 | reg << 3 | rm);
	} else {
		/* [base + disp8]: base points into the window; mostly
		 * aligned to 16, sometimes not (then 16-byte forms #GP). */
		base = gprs[rnd() % 7];
		while (base == R_EBP)
			base = gprs[rnd() % 7];
		if (f->op == 0xae)
			reg = rnd() & 1 ? 2 : 3;
		off = 0x100 + (u32)(rnd() % 0x1c00);
		off &= rnd() % 8 ? ~15u : ~0u;
		k->r[base] = DT_WIN_BASE + off - 0x40;
		k->code[n++] = (u8)(0x40 | reg << 3 | base);
		k->code[n++] = 0x40;
		if (f->regk == K_G && reg == base)
			k->r[base] = DT_WIN_BASE + off - 0x40;
		if (f->op == 0xae && reg == 2)	/* LDMXCSR: mostly valid */
			memcpy(k->win + off, &(u32){ gen_mxcsr() |
			       (rnd() % 8 ? 0 : mxcsr_reserved_bit(rnd())) },
			       4);
	}
	if (f->imm) {
		u8 imm = (u8)rnd();
		static const u8 counts[] = { 0, 1, 3, 7, 8, 15, 16, 17, 31,
					     32, 33, 63, 64, 65, 128, 255 };

		if (rnd() & 1)
			imm = counts[rnd() % ARRAY_SIZE(counts)];
		k->code[n++] = imm;
	}
	if (f->op == 0xf7)	/* MASKMOVQ/DQU: EDI into the window */
		k->r[R_EDI] = DT_WIN_BASE + 0x100 + (u32)(rnd() % 0x1c00);
	k->len = (u8)n;
}

/* --- the host --- */

static u8 *code_page;
static sigjmp_buf fault_jmp;
static volatile sig_atomic_t in_stub;
static struct sres *fault_res;
static char altstack[256 * 1024];
static struct sigaction old_act[32];

static u8 *emit(u8 *p, const void *b, int n)
{
	memcpy(p, b, n);
	return p + n;
}

/* op... ModRM(reg, [abs32]): the opcode bytes given, then SIB disp32. */
static u8 *emit_abs(u8 *p, const u8 *op, int nop, int reg, u32 addr)
{
	p = emit(p, op, nop);
	*p++ = (u8)(reg << 3 | 4);
	*p++ = 0x25;
	memcpy(p, &addr, 4);
	return p + 4;
}

static void build_stub(const struct scase *k)
{
	static const u8 save[] = { 0x53, 0x55, 0x41, 0x54, 0x41, 0x55,
				   0x41, 0x56, 0x41, 0x57 };
	static const u8 restore[] = { 0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d,
				      0x41, 0x5c, 0x5d, 0x5b, 0xc3 };
	static const u8 ldmx[] = { 0x0f, 0xae }, movdqu_ld[] = { 0xf3, 0x0f,
		0x6f }, movdqu_st[] = { 0xf3, 0x0f, 0x7f }, movq_ld[] = {
		0x0f, 0x6f }, movq_st[] = { 0x0f, 0x7f }, push[] = { 0xff },
		mov_ld[] = { 0x8b }, mov_st[] = { 0x89 };
	u8 *p = code_page;
	int i;

	p = emit(p, save, sizeof(save));
	p = emit_abs(p, ldmx, 2, 2, ST_MXCSR);
	for (i = 0; i < 8; i++) {
		p = emit_abs(p, movdqu_ld, 3, i, ST_XMM + 16 * i);
		p = emit_abs(p, movq_ld, 2, i, ST_MM + 8 * i);
	}
	p = emit_abs(p, push, 1, 6, ST_EFL);
	*p++ = 0x9d;					/* popfq */
	for (i = 0; i < 8; i++)
		if (i != R_ESP)
			p = emit_abs(p, mov_ld, 1, i, ST_ADDR + 4 * i);
	p = emit(p, k->code, k->len);
	for (i = 0; i < 8; i++)
		if (i != R_ESP)
			p = emit_abs(p, mov_st, 1, i, ST_ADDR + 4 * i);
	*p++ = 0x9c;					/* pushfq */
	*p++ = 0x58;					/* pop rax */
	p = emit_abs(p, mov_st, 1, 0, ST_EFL);
	for (i = 0; i < 8; i++) {
		p = emit_abs(p, movdqu_st, 3, i, ST_XMM + 16 * i);
		p = emit_abs(p, movq_st, 2, i, ST_MM + 8 * i);
	}
	p = emit_abs(p, ldmx, 2, 3, ST_MXCSR);		/* stmxcsr */
	p = emit_abs(p, ldmx, 2, 2, ST_MXDEF);
	*p++ = 0x0f;					/* emms */
	*p++ = 0x77;
	*p++ = 0xfc;					/* cld */
	emit(p, restore, sizeof(restore));
}

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	greg_t *g = uc->uc_mcontext.gregs;
	int trap = (int)g[REG_TRAPNO];

	(void)si;
	if (!in_stub) {
		sigaction(sig, &old_act[sig], NULL);
		return;
	}
	fault_res->vec = sig == SIGILL ? EXC_UD : sig == SIGFPE ? trap :
			 trap == 13 ? EXC_GP : 100 + trap;
	/* What the hardware left in MXCSR: the flags of an #XM. */
	fault_res->mxcsr = uc->uc_mcontext.fpregs->mxcsr;
	siglongjmp(fault_jmp, 1);
}

static int native_init(void)
{
	struct sigaction sa;
	stack_t ss;
	void *low;
	int sigs[] = { SIGFPE, SIGILL, SIGSEGV, SIGBUS };
	unsigned i;

	low = mmap((void *)(uintptr_t)DT_WIN_BASE, LOW_MAP_SIZE,
		   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
		   MAP_FIXED_NOREPLACE, -1, 0);
	if (low != (void *)(uintptr_t)DT_WIN_BASE) {
		fprintf(stderr, "simddiff: cannot map the window: %s\n",
			strerror(errno));
		return -1;
	}
	code_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code_page == MAP_FAILED)
		return -1;
	ss.ss_sp = altstack;
	ss.ss_size = sizeof(altstack);
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL))
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, &old_act[sigs[i]]);
	return 0;
}

static void native_run(const struct scase *k, struct sres *res)
{
	u8 *win = (u8 *)(uintptr_t)DT_WIN_BASE;
	u8 *st = (u8 *)(uintptr_t)ST_ADDR;
	u32 def = MXCSR_RESET;

	memset(res, 0, sizeof(*res));
	res->vec = -1;
	memcpy(win, k->win, DT_WIN_SIZE);
	memcpy(st, k->r, 32);
	memcpy(st + 32, &k->eflags, 4);
	memcpy(st + 36, &k->mxcsr, 4);
	memcpy(st + 40, &def, 4);
	memcpy(st + 64, k->xmm, 128);
	memcpy(st + 192, k->mm, 64);
	build_stub(k);
	fault_res = res;
	if (sigsetjmp(fault_jmp, 1) == 0) {
		in_stub = 1;
		((void (*)(void))code_page)();
		in_stub = 0;
		memcpy(res->r, st, 32);
		memcpy(&res->eflags, st + 32, 4);
		memcpy(&res->mxcsr, st + 36, 4);
		memcpy(res->xmm, st + 64, 128);
		memcpy(res->mm, st + 192, 64);
	} else {
		/* A fault changes no register (nor memory). */
		in_stub = 0;
		asm volatile("ldmxcsr %0\n\temms" : : "m" (def));
		memcpy(res->r, k->r, 32);
		res->eflags = k->eflags;
		memcpy(res->xmm, k->xmm, 128);
		memcpy(res->mm, k->mm, 64);
	}
	res->r[R_ESP] = k->r[R_ESP];
	memcpy(res->win, win, DT_WIN_SIZE);
}

/* --- our CPU --- */

static u8 *ram;
static struct cpu *cpu;

static void put32(u32 gpa, u32 v)
{
	memcpy(ram + gpa, &v, 4);
}

static int ram_init(void)
{
	static const struct cpu_bus bus;
	int v;

	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		return -1;
	put32(GDT_ADDR + 0x10, 0x0000ffff);
	put32(GDT_ADDR + 0x14, 0x00cf9a00);
	put32(GDT_ADDR + 0x18, 0x0000ffff);
	put32(GDT_ADDR + 0x1c, 0x00cf9200);
	for (v = 0; v < 256; v++) {
		u32 h = HANDLERS + 16 * v;

		put32(IDT_ADDR + 8 * v, 0x00100000 | (h & 0xffff));
		put32(IDT_ADDR + 8 * v + 4, (h & 0xffff0000u) | 0x8e00);
		memset(ram + h, 0xf4, 16);
	}
	cpu = cpu_new(ram, RAM_SIZE, &bus);
	return cpu ? 0 : -1;
}

static void ours_run(const struct scase *k, struct sres *res)
{
	struct cpu_regs r;
	int i;

	memset(res, 0, sizeof(*res));
	res->vec = -1;
	cpu_reset_flat32(cpu, CODE_EIP);
	cpu->gdtr.base = GDT_ADDR;
	cpu->gdtr.limit = 0x1f;
	cpu->idtr.base = IDT_ADDR;
	cpu->idtr.limit = 256 * 8 - 1;
	cpu->cr4 |= CR4_OSFXSR | CR4_OSXMMEXCPT;
	cpu_get_regs(cpu, &r);
	memcpy(r.gpr, k->r, 32);
	r.eip = CODE_EIP;
	r.eflags = k->eflags | F_FIXED1;
	cpu_set_regs(cpu, &r);
	memcpy(cpu->xmm, k->xmm, 128);
	for (i = 0; i < 8; i++)
		fpu_mm_write(cpu, i, k->mm[i]);
	fpu_emms(cpu);
	cpu->mxcsr = k->mxcsr;
	memset(ram + CODE_EIP, 0xf4, 32);
	memcpy(ram + CODE_EIP, k->code, k->len);
	memcpy(ram + DT_WIN_BASE, k->win, DT_WIN_SIZE);
	/* New code where the last case's was: the translator must know. */
	cpu_mem_written(cpu, CODE_EIP, 32);
	cpu_mem_written(cpu, DT_WIN_BASE, DT_WIN_SIZE);

	cpu_run(cpu, 1);
	cpu_get_regs(cpu, &r);
	if (r.eip >= HANDLERS && r.eip < HANDLERS + 256 * 16) {
		res->vec = (int)(r.eip - HANDLERS) / 16;
		r.gpr[R_ESP] = k->r[R_ESP];	/* the frame went there */
		memcpy(ram + STACK_TOP - 16, k->win + STACK_TOP - 16 -
		       DT_WIN_BASE, 16);
		r.eflags = (r.eflags & ~0xfffu) | (k->eflags & 0xfff);
	}
	memcpy(res->r, r.gpr, 32);
	res->eflags = r.eflags;
	res->mxcsr = cpu->mxcsr;
	memcpy(res->xmm, cpu->xmm, 128);
	for (i = 0; i < 8; i++)
		res->mm[i] = fpu_mm_read(cpu, i);
	memcpy(res->win, ram + DT_WIN_BASE, DT_WIN_SIZE);
}

/* --- comparing --- */

static unsigned n_show = 3;

static void show_case(const struct scase *k, const struct sres *n,
		      const struct sres *o, const char *what)
{
	int i;

	printf("#   bytes:");
	for (i = 0; i < k->len; i++)
		printf(" %02x", k->code[i]);
	printf("  mxcsr %08x  %s\n", k->mxcsr, what);
	printf("#   host: vec %d mxcsr %08x eflags %08x   ours: vec %d "
	       "mxcsr %08x eflags %08x\n", n->vec, n->mxcsr, n->eflags,
	       o->vec, o->mxcsr, o->eflags);
	for (i = 0; i < 8; i++) {
		if (memcmp(&n->xmm[i], &o->xmm[i], 16) ||
		    memcmp(&k->xmm[i], &n->xmm[i], 16))
			printf("#   xmm%d in %016llx%016llx host %016llx%016llx"
			       " ours %016llx%016llx\n", i,
			       (unsigned long long)k->xmm[i].q[1],
			       (unsigned long long)k->xmm[i].q[0],
			       (unsigned long long)n->xmm[i].q[1],
			       (unsigned long long)n->xmm[i].q[0],
			       (unsigned long long)o->xmm[i].q[1],
			       (unsigned long long)o->xmm[i].q[0]);
		if (n->mm[i] != o->mm[i] || k->mm[i] != n->mm[i])
			printf("#   mm%d in %016llx host %016llx ours %016llx\n",
			       i, (unsigned long long)k->mm[i],
			       (unsigned long long)n->mm[i],
			       (unsigned long long)o->mm[i]);
		if (n->r[i] != o->r[i])
			printf("#   r%d in %08x host %08x ours %08x\n", i,
			       k->r[i], n->r[i], o->r[i]);
	}
}

static const char *differs(const struct sres *n, const struct sres *o)
{
	const u32 fl = F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF;

	if (n->vec != o->vec)
		return "exception";
	if (memcmp(n->r, o->r, 32))
		return "general registers";
	if ((n->eflags ^ o->eflags) & fl)
		return "EFLAGS";
	if (n->mxcsr != o->mxcsr)
		return "MXCSR";
	if (memcmp(n->xmm, o->xmm, 128))
		return "XMM registers";
	if (memcmp(n->mm, o->mm, 64))
		return "MMX registers";
	if (memcmp(n->win, o->win, DT_WIN_SIZE))
		return "memory";
	return NULL;
}

int main(void)
{
	static struct scase k;
	static struct sres n, o;
	unsigned ncases = 400, i, fi, bad = 0, total = 0, nf = 0;
	const char *filter = getenv("CPU_TEST_FILTER"), *e;

	if ((e = getenv("CPU_TEST_CASES")))
		ncases = (unsigned)atoi(e);
	if ((e = getenv("CPU_TEST_SEED")))
		rng_state ^= (u64)atoll(e) * 0x9e3779b97f4a7c15ull;
	if ((e = getenv("CPU_TEST_SHOW")))
		n_show = (unsigned)atoi(e);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (native_init() || ram_init()) {
		printf("not ok - tests/cpu: simddiff cannot set up\n");
		return 1;
	}
	printf("# form | cases | faulted | mismatches  (oracle: host CPU)\n");
	for (fi = 0; fi < ARRAY_SIZE(forms); fi++) {
		struct sform *f = &forms[fi];
		unsigned shown = 0;

		if (filter && !strstr(f->name, filter))
			continue;
		nf++;
		for (i = 0; i < ncases; i++) {
			const char *why;

			gen_case(f, &k);
			native_run(&k, &n);
			ours_run(&k, &o);
			f->cases++;
			if (n.vec >= 0)
				f->faults++;
			why = differs(&n, &o);
			if (!why)
				continue;
			f->bad++;
			if (shown++ < n_show) {
				printf("# %s: %s differ\n", f->name, why);
				show_case(&k, &n, &o, why);
			}
		}
		printf("%s - simd %s | %u | %u | %u\n", f->bad ? "not ok" : "ok",
		       f->name, f->cases, f->faults, f->bad);
		bad += f->bad;
		total += f->cases;
	}
	printf("# %u forms, %u cases, %u mismatches\n", nf, total, bad);
	return bad ? 1 : 0;
}
