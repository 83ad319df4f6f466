/*
 * MMX, SSE and SSE2: the 0F opcodes that work on the MMX registers (the
 * x87's, see fpu.c) and on the XMM registers, with 66, F3 and F2 as
 * mandatory prefixes that pick the form (ADDPS, ADDPD, ADDSS, ADDSD).
 *
 * Two halves.  The decode glue (sse_exec) looks a form up in one table by
 * prefix and opcode; a row says what the operands are (an XMM, MMX or
 * general register, or memory of so many bytes, aligned or not), and
 * sse_exec() fetches them, checks everything that can fault, calls the
 * row's function and only then writes the result back.  The functions
 * know nothing of instruction bytes: they take the destination's old
 * value and the source's value (struct sop) and leave the result there.
 * When the one decoder (decode.c) arrives, each row becomes a row there.
 *
 * Why the host computes: SIMD floating point is as full of corners as the
 * x87 (rounding modes, DAZ and FTZ, which NaN comes out, the flags of each
 * lane, what CVTTSS2SI gives for 1e10).  The host is an x86-64 with all
 * of SSE2, so the computing forms run there: the guest's MXCSR (rounding,
 * DAZ, FTZ) with every exception masked and the flags clear is loaded
 * around the very same instruction with the operands in XMM0/XMM1 (MM0/MM1
 * for MMX forms), and the flags it raises are the guest's.  An unmasked
 * one then raises #XM (or #UD without CR4.OSXMMEXCPT) and the destination
 * keeps its value, as on hardware.  Which flags an unmasked exception
 * leaves is not what a masked run shows (an unmasked underflow counts
 * exact tiny results too; precision beside an unmasked overflow or
 * underflow is judged before the exponent's limits): simd_compute() and
 * post_flags() work it out, and tests/cpu/simddiff.c holds them to the
 * host's own #XM.  The moves, shuffles and inserts whose immediate picks
 * lanes are done here in C: they cannot raise anything.
 *
 * Host MMX code uses the host's x87, so it runs only after fpu.c has
 * given the host its x87 back, and ends with EMMS.
 *
 * Translated blocks (jit.c, through exec_fast.c) keep a form decoded
 * once: sse_form() puts what sse_exec() would find in a struct insn into
 * the entry (struct dinsn, fast.h), and h_sse() runs it through the same
 * simd_run(), so the checks are made once in one place.  In the state
 * programs run in (SSE on, every SIMD exception masked) h_sse_x(),
 * h_sse_x_store() and h_sse_g() take a shorter way for the XMM forms.
 */
#include <string.h>

#include "exec.h"
#include "fast.h"

/*
 * Where an instruction's operands are, as simd_run() takes them: from a
 * struct insn just decoded (sse_exec()) or from an entry of the fast
 * path, decoded once (h_sse()).
 */
struct sargs {
	u64 ea;			/* the memory operand's offset */
	u8 seg;			/* its segment; MASKMOV's: DS or the override */
	u8 reg, rm;		/* ModRM reg and rm, REX included */
	u8 imm;
	u8 adsize;		/* MASKMOV's address size: 2, 4 or 8 */
	bool mem;		/* the ModRM operand is memory */
	bool rex_w;
};

/* The operands of one instruction, as the row functions see them. */
struct sop {
	union v128 d;		/* destination: old value in, result out */
	union v128 s;		/* source */
	u64 g;			/* a general register, m32 or m64 */
	u32 mx_in, mx_out;	/* MXCSR the host ran with, and after */
	u64 fl;			/* the host's RFLAGS after (COMISS...) */
	u8 imm, reg;		/* immediate; ModRM reg (group extension) */
	bool mem;		/* the ModRM operand is memory */
	const struct sargs *a;	/* for MASKMOVQ's implicit DS:EDI */
};

typedef void (*sop_fn)(struct cpu *c, struct sop *o);

/* Operand types. */
enum { T_N, T_X, T_M, T_G, T_E, T_F };
/* Row flags. */
#define R_STORE	0x01	/* ModRM rm is the destination, reg the source */
#define R_MEM	0x02	/* memory operand only */
#define R_REG	0x04	/* register operand only */
#define R_UNAL	0x08	/* a 16-byte memory operand may be misaligned */
#define R_IMM	0x10	/* an immediate byte follows */
#define R_MMX	0x20	/* switches the x87 to MMX use even from memory */

struct row {
	sop_fn fn;
	u8 dst, src;		/* T_*: what reg and rm name (see R_STORE) */
	u8 msize;		/* bytes of the memory operand */
	u8 flags;
	u8 fp;			/* FP_*: forms that can overflow or underflow */
	u8 exts;		/* groups: the ModRM reg values that exist */
};

/* The forms whose results can overflow or underflow, as operation and
 * lane shape (see post_flags()). */
enum { FP_NONE, FP_ADD, FP_SUB, FP_MUL, FP_DIV, FP_CVT };
enum { L_PS = 1, L_PD = 2, L_SS = 3, L_SD = 4 };
#define FP(op, shape) ((op) << 3 | (shape))
#define FP_OP(fp) ((fp) >> 3)
#define FP_SHAPE(fp) ((fp) & 7)

/* MXCSR bits. */
#define MX_IE 0x01u
#define MX_DE 0x02u
#define MX_ZE 0x04u
#define MX_OE 0x08u
#define MX_UE 0x10u
#define MX_PE 0x20u
#define MX_DAZ 0x0040u
#define MX_FTZ 0x8000u
#define MX_FLAGS 0x3fu
#define MX_MASKS 0x1f80u
/* Detected before computing: an unmasked one stops the computation. */
#define MX_PRE (MX_IE | MX_DE | MX_ZE)

/* --- The host runs the computing forms --- */

/*
 * The body of a host-run form.  load_mm puts the MMX operands in MM0 and
 * MM1; bytes is the instruction with ModRM C1 (reg 0, rm 1: XMM0/MM0 or
 * EAX as the destination, XMM1/MM1 as the source) or C0 (EAX as the
 * source); store takes the result.  RFLAGS is read last, below the red
 * zone, after every memory operand has been used.  The MMX forms run
 * only once fpu_host_release() has taken any guest's x87 state off the
 * host.
 */
#define HOST_BODY(load_mm, bytes, store)				\
	u32 save;							\
	u64 fl;								\
	asm volatile("stmxcsr %[save]\n\t"				\
		     "ldmxcsr %[mxin]\n\t"				\
		     "movdqu %[d], %%xmm0\n\t"				\
		     "movdqu %[s], %%xmm1\n\t"				\
		     load_mm						\
		     ".byte " bytes "\n\t"				\
		     store						\
		     "stmxcsr %[mxout]\n\t"				\
		     "ldmxcsr %[save]\n\t"				\
		     "lea -128(%%rsp), %%rsp\n\t"			\
		     "pushfq\n\t"					\
		     "popq %[fl]\n\t"					\
		     "lea 128(%%rsp), %%rsp"				\
		     : [d] "+m" (o->d), [mxout] "=m" (o->mx_out),	\
		       [save] "=m" (save), [fl] "=&r" (fl), "+a" (o->g)	\
		     : [s] "m" (o->s), [mxin] "m" (o->mx_in)		\
		     : "xmm0", "xmm1", "mm0", "mm1", "cc", "memory");	\
	o->fl = fl;

/*
 * The forms that raise no SIMD exception whatever their operands
 * (integer, logical, unpacks, sign masks): nothing to do with MXCSR,
 * whose loads and stores cost more than the instruction.
 */
#define HOST_BODY_QUIET(load_mm, bytes, store)				\
	asm volatile("movdqu %[d], %%xmm0\n\t"				\
		     "movdqu %[s], %%xmm1\n\t"				\
		     load_mm						\
		     ".byte " bytes "\n\t"				\
		     store						\
		     : [d] "+m" (o->d), "+a" (o->g)			\
		     : [s] "m" (o->s)					\
		     : "xmm0", "xmm1", "mm0", "mm1", "memory");		\
	o->mx_out = 0;

#define LOAD_MM "movq %[d], %%mm0\n\tmovq %[s], %%mm1\n\t"
#define STORE_X "movdqu %%xmm0, %[d]\n\t"
#define STORE_M "movq %%mm0, %[d]\n\temms\n\t"

/* XMM forms; MMX forms (MM0 the destination); XMM from MMX (CVTPI2PS). */
#define HOST_FN(name)							\
	static __attribute__((noinline)) void				\
	name(struct cpu *c, struct sop *o)
#define HX(name, bytes)							\
	HOST_FN(name) { (void)c; HOST_BODY("", bytes, STORE_X) }
#define HM(name, bytes)							\
	HOST_FN(name) { (void)c; HOST_BODY(LOAD_MM, bytes, STORE_M) }
#define HMX(name, bytes)						\
	HOST_FN(name) { (void)c; HOST_BODY(LOAD_MM, bytes, STORE_X "emms\n\t") }
#define HXQ(name, bytes)						\
	HOST_FN(name) { (void)c; HOST_BODY_QUIET("", bytes, STORE_X) }
#define HMQ(name, bytes)						\
	HOST_FN(name) { (void)c; HOST_BODY_QUIET(LOAD_MM, bytes, STORE_M) }

/* 0F xx with no prefix, 66, F3, F2. */
#define NP(op)  "0x0f," #op ",0xc1"
#define P66(op) "0x66,0x0f," #op ",0xc1"
#define PF3(op) "0xf3,0x0f," #op ",0xc1"
#define PF2(op) "0xf2,0x0f," #op ",0xc1"

/* SSE: packed and scalar single. */
HXQ(unpcklps, NP(0x14)) HXQ(unpckhps, NP(0x15))
HX(ucomiss, NP(0x2e)) HX(comiss, NP(0x2f))
HXQ(movmskps, NP(0x50))
HX(sqrtps, NP(0x51)) HX(rsqrtps, NP(0x52)) HX(rcpps, NP(0x53))
HXQ(andps, NP(0x54)) HXQ(andnps, NP(0x55)) HXQ(orps, NP(0x56))
HXQ(xorps, NP(0x57)) HX(addps, NP(0x58)) HX(mulps, NP(0x59))
HX(cvtps2pd, NP(0x5a)) HX(cvtdq2ps, NP(0x5b)) HX(subps, NP(0x5c))
HX(minps, NP(0x5d)) HX(divps, NP(0x5e)) HX(maxps, NP(0x5f))
HX(sqrtss, PF3(0x51)) HX(rsqrtss, PF3(0x52)) HX(rcpss, PF3(0x53))
HX(addss, PF3(0x58)) HX(mulss, PF3(0x59)) HX(cvtss2sd, PF3(0x5a))
HX(cvttps2dq, PF3(0x5b)) HX(subss, PF3(0x5c)) HX(minss, PF3(0x5d))
HX(divss, PF3(0x5e)) HX(maxss, PF3(0x5f)) HX(cvtdq2pd, PF3(0xe6))
HX(cvtsi2ss, "0xf3,0x0f,0x2a,0xc0")
HX(cvttss2si, PF3(0x2c)) HX(cvtss2si, PF3(0x2d))
/* With REX.W (64-bit mode): a 64-bit integer in or out, in RAX. */
HX(cvtsi2ss_q, "0xf3,0x48,0x0f,0x2a,0xc0")
HX(cvttss2si_q, "0xf3,0x48,0x0f,0x2c,0xc1")
HX(cvtss2si_q, "0xf3,0x48,0x0f,0x2d,0xc1")
HMX(cvtpi2ps, NP(0x2a)) HM(cvttps2pi, NP(0x2c)) HM(cvtps2pi, NP(0x2d))

/* SSE2: packed and scalar double, conversions. */
HXQ(unpcklpd, P66(0x14)) HXQ(unpckhpd, P66(0x15))
HX(ucomisd, P66(0x2e)) HX(comisd, P66(0x2f))
HXQ(movmskpd, P66(0x50)) HX(sqrtpd, P66(0x51))
HXQ(andpd, P66(0x54)) HXQ(andnpd, P66(0x55)) HXQ(orpd, P66(0x56))
HXQ(xorpd, P66(0x57)) HX(addpd, P66(0x58)) HX(mulpd, P66(0x59))
HX(cvtpd2ps, P66(0x5a)) HX(cvtps2dq, P66(0x5b)) HX(subpd, P66(0x5c))
HX(minpd, P66(0x5d)) HX(divpd, P66(0x5e)) HX(maxpd, P66(0x5f))
HX(cvttpd2dq, P66(0xe6))
HX(sqrtsd, PF2(0x51)) HX(addsd, PF2(0x58)) HX(mulsd, PF2(0x59))
HX(cvtsd2ss, PF2(0x5a)) HX(subsd, PF2(0x5c)) HX(minsd, PF2(0x5d))
HX(divsd, PF2(0x5e)) HX(maxsd, PF2(0x5f)) HX(cvtpd2dq, PF2(0xe6))
HX(cvtsi2sd, "0xf2,0x0f,0x2a,0xc0")
HX(cvttsd2si, PF2(0x2c)) HX(cvtsd2si, PF2(0x2d))
HX(cvtsi2sd_q, "0xf2,0x48,0x0f,0x2a,0xc0")
HX(cvttsd2si_q, "0xf2,0x48,0x0f,0x2c,0xc1")
HX(cvtsd2si_q, "0xf2,0x48,0x0f,0x2d,0xc1")
HM(cvttpd2pi, P66(0x2c)) HM(cvtpd2pi, P66(0x2d))

/*
 * The integer forms, in MMX (no prefix) and SSE2 (66) flavours.  Each
 * INT(op) line makes both: mm_<op> and x_<op>.
 */
#define INT2(op) HMQ(mm_##op, NP(op)) HXQ(x_##op, P66(op))
INT2(0x60) INT2(0x61) INT2(0x62) INT2(0x63) INT2(0x64) INT2(0x65)
INT2(0x66) INT2(0x67) INT2(0x68) INT2(0x69) INT2(0x6a) INT2(0x6b)
HXQ(x_0x6c, P66(0x6c)) HXQ(x_0x6d, P66(0x6d))
INT2(0x74) INT2(0x75) INT2(0x76)
INT2(0xd1) INT2(0xd2) INT2(0xd3) INT2(0xd4) INT2(0xd5) INT2(0xd7)
INT2(0xd8) INT2(0xd9) INT2(0xda) INT2(0xdb) INT2(0xdc) INT2(0xdd)
INT2(0xde) INT2(0xdf) INT2(0xe0) INT2(0xe1) INT2(0xe2) INT2(0xe3)
INT2(0xe4) INT2(0xe5) INT2(0xe8) INT2(0xe9) INT2(0xea) INT2(0xeb)
INT2(0xec) INT2(0xed) INT2(0xee) INT2(0xef) INT2(0xf1) INT2(0xf2)
INT2(0xf3) INT2(0xf4) INT2(0xf5) INT2(0xf6) INT2(0xf8) INT2(0xf9)
INT2(0xfa) INT2(0xfb) INT2(0xfc) INT2(0xfd) INT2(0xfe)

/*
 * CMPPS, CMPPD, CMPSS, CMPSD: the predicate is the immediate's low three
 * bits (a legacy-SSE processor ignores the rest), one host form each.
 */
#define CMP(pfx, n) pfx "0x0f,0xc2,0xc1," #n
#define CMP8(name, pfx)							\
	HX(name##0, CMP(pfx, 0)) HX(name##1, CMP(pfx, 1))		\
	HX(name##2, CMP(pfx, 2)) HX(name##3, CMP(pfx, 3))		\
	HX(name##4, CMP(pfx, 4)) HX(name##5, CMP(pfx, 5))		\
	HX(name##6, CMP(pfx, 6)) HX(name##7, CMP(pfx, 7))		\
	static void name(struct cpu *c, struct sop *o)			\
	{								\
		static const sop_fn f[8] = { name##0, name##1, name##2,	\
			name##3, name##4, name##5, name##6, name##7 };	\
		f[o->imm & 7](c, o);					\
	}
CMP8(cmpps, "") CMP8(cmppd, "0x66,") CMP8(cmpss, "0xf3,") CMP8(cmpsd, "0xf2,")

/* --- Moves, shuffles and inserts, in C --- */

static void mov128(struct cpu *c, struct sop *o)
{
	(void)c;
	o->d = o->s;
}

/* MOVSS, MOVSD: a load from memory clears the rest of the register. */
static void movss(struct cpu *c, struct sop *o)
{
	(void)c;
	o->d.d[0] = o->s.d[0];
}

static void movss_load(struct cpu *c, struct sop *o)
{
	(void)c;
	if (o->mem)
		memset(&o->d, 0, sizeof(o->d));
	o->d.d[0] = o->s.d[0];
}

static void movsd_load(struct cpu *c, struct sop *o)
{
	(void)c;
	if (o->mem)
		memset(&o->d, 0, sizeof(o->d));
	o->d.q[0] = o->s.q[0];
}

/* The low quadword; also MOVLPS/MOVLPD and every 8-byte store. */
static void movlq(struct cpu *c, struct sop *o)
{
	(void)c;
	o->d.q[0] = o->s.q[0];
}

/* 0F 12: MOVLPS from memory, MOVHLPS from a register. */
static void movlps(struct cpu *c, struct sop *o)
{
	(void)c;
	o->d.q[0] = o->s.q[o->mem ? 0 : 1];
}

/* 0F 16: MOVHPS from memory, MOVLHPS from a register: the same. */
static void movhps(struct cpu *c, struct sop *o)
{
	(void)c;
	o->d.q[1] = o->s.q[0];
}

/* MOVHPS/MOVHPD to memory. */
static void movhps_st(struct cpu *c, struct sop *o)
{
	(void)c;
	o->d.q[0] = o->s.q[1];
}

/* A quadword into a cleared XMM register: MOVQ, MOVQ2DQ. */
static void movq_zx(struct cpu *c, struct sop *o)
{
	(void)c;
	o->d.q[0] = o->s.q[0];
	o->d.q[1] = 0;
}

/* MOVD into an MMX or XMM register: the rest cleared. */
static void movd_in(struct cpu *c, struct sop *o)
{
	(void)c;
	memset(&o->d, 0, sizeof(o->d));
	o->d.d[0] = o->g;
}

static void movd_out(struct cpu *c, struct sop *o)
{
	(void)c;
	o->g = o->s.d[0];
}

/* MOVQ with REX.W: a general register or m64 in or out. */
static void movq_in(struct cpu *c, struct sop *o)
{
	(void)c;
	memset(&o->d, 0, sizeof(o->d));
	o->d.q[0] = o->g;
}

static void movq_out(struct cpu *c, struct sop *o)
{
	(void)c;
	o->g = o->s.q[0];
}

/*
 * CVTPI2PD: two int32 to double, always exact, so no flags.  In C rather
 * than on the host because its memory form must leave the x87 alone (no
 * switch to MMX use, SDM), and the host's MMX registers are its x87.
 */
static void cvtpi2pd(struct cpu *c, struct sop *o)
{
	double lo = (s32)o->s.d[0], hi = (s32)o->s.d[1];

	(void)c;
	memcpy(&o->d.q[0], &lo, 8);
	memcpy(&o->d.q[1], &hi, 8);
}

/* MOVNTI: the general register goes to memory as it is. */
static void movnti(struct cpu *c, struct sop *o)
{
	(void)c;
	(void)o;
}

static void pshufw(struct cpu *c, struct sop *o)
{
	union v128 s = o->s;
	int i;

	(void)c;
	for (i = 0; i < 4; i++)
		o->d.w[i] = s.w[(o->imm >> (2 * i)) & 3];
}

static void pshufd(struct cpu *c, struct sop *o)
{
	union v128 s = o->s;
	int i;

	(void)c;
	for (i = 0; i < 4; i++)
		o->d.d[i] = s.d[(o->imm >> (2 * i)) & 3];
}

/* PSHUFLW shuffles the low four words, PSHUFHW the high four. */
static void pshuflw(struct cpu *c, struct sop *o)
{
	union v128 s = o->s;
	int i;

	(void)c;
	o->d = s;
	for (i = 0; i < 4; i++)
		o->d.w[i] = s.w[(o->imm >> (2 * i)) & 3];
}

static void pshufhw(struct cpu *c, struct sop *o)
{
	union v128 s = o->s;
	int i;

	(void)c;
	o->d = s;
	for (i = 0; i < 4; i++)
		o->d.w[4 + i] = s.w[4 + ((o->imm >> (2 * i)) & 3)];
}

/* SHUFPS: two lanes from the destination, two from the source. */
static void shufps(struct cpu *c, struct sop *o)
{
	union v128 a = o->d;

	(void)c;
	o->d.d[0] = a.d[o->imm & 3];
	o->d.d[1] = a.d[(o->imm >> 2) & 3];
	o->d.d[2] = o->s.d[(o->imm >> 4) & 3];
	o->d.d[3] = o->s.d[(o->imm >> 6) & 3];
}

static void shufpd(struct cpu *c, struct sop *o)
{
	union v128 a = o->d;

	(void)c;
	o->d.q[0] = a.q[o->imm & 1];
	o->d.q[1] = o->s.q[(o->imm >> 1) & 1];
}

/* PINSRW takes the low word of a register or an m16. */
static void pinsrw_mm(struct cpu *c, struct sop *o)
{
	(void)c;
	o->d.w[o->imm & 3] = (u16)o->g;
}

static void pinsrw_x(struct cpu *c, struct sop *o)
{
	(void)c;
	o->d.w[o->imm & 7] = (u16)o->g;
}

static void pextrw_mm(struct cpu *c, struct sop *o)
{
	(void)c;
	o->g = o->s.w[o->imm & 3];
}

static void pextrw_x(struct cpu *c, struct sop *o)
{
	(void)c;
	o->g = o->s.w[o->imm & 7];
}

/*
 * The shift groups 0F 71, 72, 73 (count in the immediate) are the shifts
 * by a register count with the count made from the immediate.  66 0F 73
 * /3 and /7 shift the whole register by bytes.
 */
static void shift_imm(struct cpu *c, struct sop *o, const sop_fn fn[8])
{
	memset(&o->s, 0, sizeof(o->s));
	o->s.b[0] = o->imm;
	fn[o->reg](c, o);
}

static void grp71_mm(struct cpu *c, struct sop *o)
{
	static const sop_fn f[8] = { [2] = mm_0xd1, [4] = mm_0xe1,
				     [6] = mm_0xf1 };
	shift_imm(c, o, f);
}

static void grp72_mm(struct cpu *c, struct sop *o)
{
	static const sop_fn f[8] = { [2] = mm_0xd2, [4] = mm_0xe2,
				     [6] = mm_0xf2 };
	shift_imm(c, o, f);
}

static void grp73_mm(struct cpu *c, struct sop *o)
{
	static const sop_fn f[8] = { [2] = mm_0xd3, [6] = mm_0xf3 };
	shift_imm(c, o, f);
}

static void grp71_x(struct cpu *c, struct sop *o)
{
	static const sop_fn f[8] = { [2] = x_0xd1, [4] = x_0xe1,
				     [6] = x_0xf1 };
	shift_imm(c, o, f);
}

static void grp72_x(struct cpu *c, struct sop *o)
{
	static const sop_fn f[8] = { [2] = x_0xd2, [4] = x_0xe2,
				     [6] = x_0xf2 };
	shift_imm(c, o, f);
}

static void psrldq(struct cpu *c, struct sop *o)
{
	union v128 a = o->d;
	int i, n = o->imm > 16 ? 16 : o->imm;

	(void)c;
	for (i = 0; i < 16; i++)
		o->d.b[i] = i + n < 16 ? a.b[i + n] : 0;
}

static void pslldq(struct cpu *c, struct sop *o)
{
	union v128 a = o->d;
	int i, n = o->imm > 16 ? 16 : o->imm;

	(void)c;
	for (i = 0; i < 16; i++)
		o->d.b[i] = i >= n ? a.b[i - n] : 0;
}

static void grp73_x(struct cpu *c, struct sop *o)
{
	static const sop_fn f[8] = { [2] = x_0xd3, [3] = psrldq,
				     [6] = x_0xf3, [7] = pslldq };
	if (o->reg == 3 || o->reg == 7) {
		f[o->reg](c, o);
		return;
	}
	shift_imm(c, o, f);
}

/*
 * MASKMOVQ, MASKMOVDQU: the bytes of the destination register whose mask
 * byte has its top bit set go to DS:rDI (DS may be overridden), the
 * address size saying which of DI, EDI and RDI (64-bit code: RDI, EDI
 * with a 0x67 prefix).  All are checked before any is written; an
 * all-zero mask touches nothing.
 */
static void maskmov(struct cpu *c, struct sop *o, int n)
{
	int seg = o->a->seg, i;
	u64 di = o->a->adsize == 8 ? c->r[R_EDI].q :
		 o->a->adsize == 4 ? c->r[R_EDI].d : c->r[R_EDI].w;
	bool any = false;

	for (i = 0; i < n; i++)
		any |= o->s.b[i] >> 7;
	if (!any)
		return;
	mem_check(c, seg, di, n, ACC_WRITE);
	for (i = 0; i < n; i++)
		if (o->s.b[i] >> 7)
			mem_write(c, seg, di + i, o->d.b[i], 1);
}

static void maskmovq(struct cpu *c, struct sop *o)
{
	maskmov(c, o, 8);
}

static void maskmovdqu(struct cpu *c, struct sop *o)
{
	maskmov(c, o, 16);
}

/* --- The table --- */

enum { PX_NP, PX_66, PX_F3, PX_F2 };

#define ROW(f, d, s, m, fl) { f, T_##d, T_##s, m, fl, FP_NONE, 0 }
/* The arithmetic that can overflow and underflow. */
#define ARITH(f, op, shape, m) \
	{ f, T_X, T_X, m, 0, FP(FP_##op, L_##shape), 0 }
/* The shift groups: the register is ModRM rm, the immediate the count. */
#define GRP(f, t, exts) \
	{ f, T_##t, T_N, 0, R_STORE | R_REG | R_IMM, FP_NONE, exts }
/* The common shapes: xmm, xmm/m128 (aligned); mm, mm/m64. */
#define XX(f)  ROW(f, X, X, 16, 0)
#define MM(f)  ROW(f, M, M, 8, 0)
#define XS(f)  ROW(f, X, X, 4, 0)	/* scalar single */
#define XD(f)  ROW(f, X, X, 8, 0)	/* scalar double, m64 */
#define INT_ROWS(op) [PX_NP][op] = MM(mm_##op), [PX_66][op] = XX(x_##op)

static const struct row rows[4][256] = {
	/* Moves. */
	[PX_NP][0x10] = ROW(mov128, X, X, 16, R_UNAL),
	[PX_66][0x10] = ROW(mov128, X, X, 16, R_UNAL),
	[PX_F3][0x10] = ROW(movss_load, X, X, 4, 0),
	[PX_F2][0x10] = ROW(movsd_load, X, X, 8, 0),
	[PX_NP][0x11] = ROW(mov128, X, X, 16, R_STORE | R_UNAL),
	[PX_66][0x11] = ROW(mov128, X, X, 16, R_STORE | R_UNAL),
	[PX_F3][0x11] = ROW(movss, X, X, 4, R_STORE),
	[PX_F2][0x11] = ROW(movlq, X, X, 8, R_STORE),
	[PX_NP][0x12] = ROW(movlps, X, X, 8, 0),
	[PX_66][0x12] = ROW(movlq, X, X, 8, R_MEM),
	[PX_NP][0x13] = ROW(movlq, X, X, 8, R_STORE | R_MEM),
	[PX_66][0x13] = ROW(movlq, X, X, 8, R_STORE | R_MEM),
	[PX_NP][0x14] = XX(unpcklps), [PX_66][0x14] = XX(unpcklpd),
	[PX_NP][0x15] = XX(unpckhps), [PX_66][0x15] = XX(unpckhpd),
	[PX_NP][0x16] = ROW(movhps, X, X, 8, 0),
	[PX_66][0x16] = ROW(movhps, X, X, 8, R_MEM),
	[PX_NP][0x17] = ROW(movhps_st, X, X, 8, R_STORE | R_MEM),
	[PX_66][0x17] = ROW(movhps_st, X, X, 8, R_STORE | R_MEM),
	[PX_NP][0x28] = XX(mov128), [PX_66][0x28] = XX(mov128),
	[PX_NP][0x29] = ROW(mov128, X, X, 16, R_STORE),
	[PX_66][0x29] = ROW(mov128, X, X, 16, R_STORE),
	/* Conversions with MMX and general registers, compares to EFLAGS. */
	[PX_NP][0x2a] = ROW(cvtpi2ps, X, M, 8, R_MMX),
	[PX_66][0x2a] = ROW(cvtpi2pd, X, M, 8, 0),
	[PX_F3][0x2a] = ROW(cvtsi2ss, X, E, 4, 0),
	[PX_F2][0x2a] = ROW(cvtsi2sd, X, E, 4, 0),
	[PX_NP][0x2b] = ROW(mov128, X, X, 16, R_STORE | R_MEM),
	[PX_66][0x2b] = ROW(mov128, X, X, 16, R_STORE | R_MEM),
	[PX_NP][0x2c] = ROW(cvttps2pi, M, X, 8, 0),
	[PX_66][0x2c] = ROW(cvttpd2pi, M, X, 16, 0),
	[PX_F3][0x2c] = ROW(cvttss2si, G, X, 4, 0),
	[PX_F2][0x2c] = ROW(cvttsd2si, G, X, 8, 0),
	[PX_NP][0x2d] = ROW(cvtps2pi, M, X, 8, 0),
	[PX_66][0x2d] = ROW(cvtpd2pi, M, X, 16, 0),
	[PX_F3][0x2d] = ROW(cvtss2si, G, X, 4, 0),
	[PX_F2][0x2d] = ROW(cvtsd2si, G, X, 8, 0),
	[PX_NP][0x2e] = ROW(ucomiss, F, X, 4, 0),
	[PX_66][0x2e] = ROW(ucomisd, F, X, 8, 0),
	[PX_NP][0x2f] = ROW(comiss, F, X, 4, 0),
	[PX_66][0x2f] = ROW(comisd, F, X, 8, 0),
	/* Arithmetic and logic. */
	[PX_NP][0x50] = ROW(movmskps, G, X, 0, R_REG),
	[PX_66][0x50] = ROW(movmskpd, G, X, 0, R_REG),
	[PX_NP][0x51] = XX(sqrtps), [PX_66][0x51] = XX(sqrtpd),
	[PX_F3][0x51] = XS(sqrtss), [PX_F2][0x51] = XD(sqrtsd),
	[PX_NP][0x52] = XX(rsqrtps), [PX_F3][0x52] = XS(rsqrtss),
	[PX_NP][0x53] = XX(rcpps), [PX_F3][0x53] = XS(rcpss),
	[PX_NP][0x54] = XX(andps), [PX_66][0x54] = XX(andpd),
	[PX_NP][0x55] = XX(andnps), [PX_66][0x55] = XX(andnpd),
	[PX_NP][0x56] = XX(orps), [PX_66][0x56] = XX(orpd),
	[PX_NP][0x57] = XX(xorps), [PX_66][0x57] = XX(xorpd),
	[PX_NP][0x58] = ARITH(addps, ADD, PS, 16),
	[PX_66][0x58] = ARITH(addpd, ADD, PD, 16),
	[PX_F3][0x58] = ARITH(addss, ADD, SS, 4),
	[PX_F2][0x58] = ARITH(addsd, ADD, SD, 8),
	[PX_NP][0x59] = ARITH(mulps, MUL, PS, 16),
	[PX_66][0x59] = ARITH(mulpd, MUL, PD, 16),
	[PX_F3][0x59] = ARITH(mulss, MUL, SS, 4),
	[PX_F2][0x59] = ARITH(mulsd, MUL, SD, 8),
	[PX_NP][0x5a] = XD(cvtps2pd),
	[PX_66][0x5a] = ARITH(cvtpd2ps, CVT, PD, 16),
	[PX_F3][0x5a] = XS(cvtss2sd), [PX_F2][0x5a] = ARITH(cvtsd2ss, CVT, SD, 8),
	[PX_NP][0x5b] = XX(cvtdq2ps), [PX_66][0x5b] = XX(cvtps2dq),
	[PX_F3][0x5b] = XX(cvttps2dq),
	[PX_NP][0x5c] = ARITH(subps, SUB, PS, 16),
	[PX_66][0x5c] = ARITH(subpd, SUB, PD, 16),
	[PX_F3][0x5c] = ARITH(subss, SUB, SS, 4),
	[PX_F2][0x5c] = ARITH(subsd, SUB, SD, 8),
	[PX_NP][0x5d] = XX(minps), [PX_66][0x5d] = XX(minpd),
	[PX_F3][0x5d] = XS(minss), [PX_F2][0x5d] = XD(minsd),
	[PX_NP][0x5e] = ARITH(divps, DIV, PS, 16),
	[PX_66][0x5e] = ARITH(divpd, DIV, PD, 16),
	[PX_F3][0x5e] = ARITH(divss, DIV, SS, 4),
	[PX_F2][0x5e] = ARITH(divsd, DIV, SD, 8),
	[PX_NP][0x5f] = XX(maxps), [PX_66][0x5f] = XX(maxpd),
	[PX_F3][0x5f] = XS(maxss), [PX_F2][0x5f] = XD(maxsd),
	/* Integer: unpacks and packs (MMX unpack-lows read an m32). */
	[PX_NP][0x60] = ROW(mm_0x60, M, M, 4, 0), [PX_66][0x60] = XX(x_0x60),
	[PX_NP][0x61] = ROW(mm_0x61, M, M, 4, 0), [PX_66][0x61] = XX(x_0x61),
	[PX_NP][0x62] = ROW(mm_0x62, M, M, 4, 0), [PX_66][0x62] = XX(x_0x62),
	INT_ROWS(0x63), INT_ROWS(0x64), INT_ROWS(0x65), INT_ROWS(0x66),
	INT_ROWS(0x67), INT_ROWS(0x68), INT_ROWS(0x69), INT_ROWS(0x6a),
	INT_ROWS(0x6b),
	[PX_66][0x6c] = XX(x_0x6c), [PX_66][0x6d] = XX(x_0x6d),
	[PX_NP][0x6e] = ROW(movd_in, M, E, 4, 0),
	[PX_66][0x6e] = ROW(movd_in, X, E, 4, 0),
	[PX_NP][0x6f] = MM(movlq),
	[PX_66][0x6f] = XX(mov128),
	[PX_F3][0x6f] = ROW(mov128, X, X, 16, R_UNAL),
	[PX_NP][0x70] = ROW(pshufw, M, M, 8, R_IMM),
	[PX_66][0x70] = ROW(pshufd, X, X, 16, R_IMM),
	[PX_F3][0x70] = ROW(pshufhw, X, X, 16, R_IMM),
	[PX_F2][0x70] = ROW(pshuflw, X, X, 16, R_IMM),
	[PX_NP][0x71] = GRP(grp71_mm, M, 0x54),	/* /2 /4 /6 */
	[PX_66][0x71] = GRP(grp71_x, X, 0x54),
	[PX_NP][0x72] = GRP(grp72_mm, M, 0x54),
	[PX_66][0x72] = GRP(grp72_x, X, 0x54),
	[PX_NP][0x73] = GRP(grp73_mm, M, 0x44),	/* /2 /6 */
	[PX_66][0x73] = GRP(grp73_x, X, 0xcc),	/* /2 /3 /6 /7 */
	INT_ROWS(0x74), INT_ROWS(0x75), INT_ROWS(0x76),
	[PX_NP][0x7e] = ROW(movd_out, E, M, 4, R_STORE),
	[PX_66][0x7e] = ROW(movd_out, E, X, 4, R_STORE),
	[PX_F3][0x7e] = ROW(movq_zx, X, X, 8, 0),
	[PX_NP][0x7f] = ROW(movlq, M, M, 8, R_STORE),
	[PX_66][0x7f] = ROW(mov128, X, X, 16, R_STORE),
	[PX_F3][0x7f] = ROW(mov128, X, X, 16, R_STORE | R_UNAL),
	/* Compares with a predicate, inserts, shuffles. */
	[PX_NP][0xc2] = ROW(cmpps, X, X, 16, R_IMM),
	[PX_66][0xc2] = ROW(cmppd, X, X, 16, R_IMM),
	[PX_F3][0xc2] = ROW(cmpss, X, X, 4, R_IMM),
	[PX_F2][0xc2] = ROW(cmpsd, X, X, 8, R_IMM),
	[PX_NP][0xc3] = ROW(movnti, E, G, 4, R_STORE | R_MEM),
	[PX_NP][0xc4] = ROW(pinsrw_mm, M, E, 2, R_IMM),
	[PX_66][0xc4] = ROW(pinsrw_x, X, E, 2, R_IMM),
	[PX_NP][0xc5] = ROW(pextrw_mm, G, M, 0, R_REG | R_IMM),
	[PX_66][0xc5] = ROW(pextrw_x, G, X, 0, R_REG | R_IMM),
	[PX_NP][0xc6] = ROW(shufps, X, X, 16, R_IMM),
	[PX_66][0xc6] = ROW(shufpd, X, X, 16, R_IMM),
	/* Integer arithmetic, shifts by a register, logic. */
	INT_ROWS(0xd1), INT_ROWS(0xd2), INT_ROWS(0xd3), INT_ROWS(0xd4),
	INT_ROWS(0xd5),
	[PX_66][0xd6] = ROW(movq_zx, X, X, 8, R_STORE),
	[PX_F3][0xd6] = ROW(movq_zx, X, M, 0, R_REG),
	[PX_F2][0xd6] = ROW(movlq, M, X, 0, R_REG),
	[PX_NP][0xd7] = ROW(mm_0xd7, G, M, 0, R_REG),
	[PX_66][0xd7] = ROW(x_0xd7, G, X, 0, R_REG),
	INT_ROWS(0xd8), INT_ROWS(0xd9), INT_ROWS(0xda), INT_ROWS(0xdb),
	INT_ROWS(0xdc), INT_ROWS(0xdd), INT_ROWS(0xde), INT_ROWS(0xdf),
	INT_ROWS(0xe0), INT_ROWS(0xe1), INT_ROWS(0xe2), INT_ROWS(0xe3),
	INT_ROWS(0xe4), INT_ROWS(0xe5),
	[PX_66][0xe6] = XX(cvttpd2dq), [PX_F3][0xe6] = XD(cvtdq2pd),
	[PX_F2][0xe6] = XX(cvtpd2dq),
	[PX_NP][0xe7] = ROW(movlq, M, M, 8, R_STORE | R_MEM),
	[PX_66][0xe7] = ROW(mov128, X, X, 16, R_STORE | R_MEM),
	INT_ROWS(0xe8), INT_ROWS(0xe9), INT_ROWS(0xea), INT_ROWS(0xeb),
	INT_ROWS(0xec), INT_ROWS(0xed), INT_ROWS(0xee), INT_ROWS(0xef),
	INT_ROWS(0xf1), INT_ROWS(0xf2), INT_ROWS(0xf3), INT_ROWS(0xf4),
	INT_ROWS(0xf5), INT_ROWS(0xf6),
	[PX_NP][0xf7] = ROW(maskmovq, M, M, 0, R_REG),
	[PX_66][0xf7] = ROW(maskmovdqu, X, X, 0, R_REG),
	INT_ROWS(0xf8), INT_ROWS(0xf9), INT_ROWS(0xfa), INT_ROWS(0xfb),
	INT_ROWS(0xfc), INT_ROWS(0xfd), INT_ROWS(0xfe),
};

/* --- Checks, operands, write-back --- */

/* An unmasked SIMD floating-point exception. */
static noreturn void simd_fault(struct cpu *c)
{
	if (c->cr4 & CR4_OSXMMEXCPT)
		cpu_raise(c, EXC_XM, 0);
	cpu_ud(c);
}

/*
 * The checks every form makes before touching an operand, in the order
 * the SDM lists them: CR0.EM (#UD), CR4.OSFXSR for forms with an XMM
 * operand (#UD), CR0.TS (#NM), then, for forms with an MMX register, a
 * pending x87 exception (#MF).  The switch of the x87 to MMX use comes
 * only once nothing can fault (fpu_mmx_switch() in simd_run()).
 */
static void simd_checks(struct cpu *c, bool xmm, bool mmx)
{
	if (c->cr0 & CR0_EM)
		cpu_ud(c);
	if (xmm && !(c->cr4 & CR4_OSFXSR))
		cpu_ud(c);
	if (c->cr0 & CR0_TS)
		cpu_raise(c, EXC_NM, 0);
	if (mmx)
		fpu_wait(c);
}

/* Memory operands up to 16 bytes, little-endian into v. */
static void read_mem(struct cpu *c, int seg, u64 ea, union v128 *v, int n,
		     bool align)
{
	if (align && (seg_linear(c, seg, ea) & 15))
		cpu_gp(c, 0);
	memset(v, 0, sizeof(*v));
	if (n == 16) {
		v->q[0] = mem_read64(c, seg, ea);
		v->q[1] = mem_read64(c, seg, ea + 8);
	} else if (n == 8) {
		v->q[0] = mem_read64(c, seg, ea);
	} else {
		v->d[0] = mem_read(c, seg, ea, n);
	}
}

static void write_mem(struct cpu *c, int seg, u64 ea, const union v128 *v,
		      int n, bool align)
{
	if (align && (seg_linear(c, seg, ea) & 15))
		cpu_gp(c, 0);
	mem_check(c, seg, ea, n, ACC_WRITE);
	if (n == 16) {
		mem_write64(c, seg, ea, v->q[0]);
		mem_write64(c, seg, ea + 8, v->q[1]);
	} else if (n == 8) {
		mem_write64(c, seg, ea, v->q[0]);
	} else {
		mem_write(c, seg, ea, v->d[0], n);
	}
}

/* A register operand of type t, number n, into v (or g). */
static void read_reg(struct cpu *c, int t, int n, union v128 *v, u64 *g)
{
	memset(v, 0, sizeof(*v));
	if (t == T_X || t == T_F)	/* COMISS compares with XMM reg */
		*v = c->xmm[n];
	else if (t == T_M)
		v->q[0] = fpu_mm_read(c, n & 7);	/* REX does not reach MMX */
	else if (t == T_G || t == T_E)
		*g = c->r[n].q;	/* forms without REX.W use the low half */
}

static void write_reg(struct cpu *c, int t, int n, const struct sop *o,
		      bool rex_w)
{
	if (t == T_X)
		c->xmm[n] = o->d;
	else if (t == T_M)
		fpu_mm_write(c, n & 7, o->d.q[0]);
	else if (t == T_G || t == T_E)
		c->r[n].q = rex_w ? o->g : (u32)o->g;	/* zero-extended */
	else if (t == T_F)	/* COMISS and friends: ZF PF CF, the rest 0 */
		cpu_set_eflags(c, (u32)o->fl & (F_ZF | F_PF | F_CF), F_ARITH);
}

/*
 * Whether rounding a to the lane's precision, with an exponent range
 * without limits, is inexact: the precision flag hardware reports beside
 * an unmasked overflow or underflow (whose result is never delivered).
 * The host's x87 knows: set to 24 or 53 bits of precision with MXCSR's
 * rounding, its 15-bit exponent holds any float or double result.
 */
static bool unbounded_inexact(int op, bool dbl, u64 a, u64 b, u32 mxcsr)
{
	/* Precision control: 0 single, 2 double (a conversion's result is
	 * single). */
	int pc = dbl && op != FP_CVT ? 2 : 0;
	u16 cw = 0x7f | pc << 8 | ((mxcsr >> 13) & 3) << 10, sw;
	u32 fa = (u32)a, fb = (u32)b;

	fpu_host_release();
	asm volatile("fninit\n\tfldcw %0" : : "m"(cw));
	if (op == FP_CVT)	/* a double to single precision */
		asm volatile("fldl %0\n\tfld1\n\tfmulp" : : "m"(a));
	else if (dbl)
		asm volatile("fldl %0" : : "m"(a));
	else
		asm volatile("flds %0" : : "m"(fa));
	switch (op * 2 + dbl) {
	case FP_ADD * 2: asm volatile("fadds %0" : : "m"(fb)); break;
	case FP_SUB * 2: asm volatile("fsubs %0" : : "m"(fb)); break;
	case FP_MUL * 2: asm volatile("fmuls %0" : : "m"(fb)); break;
	case FP_DIV * 2: asm volatile("fdivs %0" : : "m"(fb)); break;
	case FP_ADD * 2 + 1: asm volatile("faddl %0" : : "m"(b)); break;
	case FP_SUB * 2 + 1: asm volatile("fsubl %0" : : "m"(b)); break;
	case FP_MUL * 2 + 1: asm volatile("fmull %0" : : "m"(b)); break;
	case FP_DIV * 2 + 1: asm volatile("fdivl %0" : : "m"(b)); break;
	}
	asm volatile("fnstsw %0\n\tfninit" : "=m"(sw));
	return sw & MX_PE;
}

/* DAZ: a denormal operand is a zero of its sign. */
static u64 daz(u64 v, bool dbl, u32 mxcsr)
{
	if (!(mxcsr & MX_DAZ))
		return v;
	if (dbl)
		return (v & 0x7ff0000000000000ull) ? v : v & (1ull << 63);
	return (v & 0x7f800000u) ? v : v & 0x80000000u;
}

/*
 * The flags of a form with an unmasked overflow or underflow, lane by
 * lane: each lane runs alone as the scalar form (with FTZ too, to find a
 * tiny result), and a lane that overflows or underflows with that
 * exception unmasked flags it with precision only if its result was
 * inexact before the exponent's limits came in (unbounded_inexact());
 * every other lane flags what it flags when masked.
 */
static u32 post_flags(struct cpu *c, const struct row *r,
		      const struct sop *in)
{
	static const sop_fn scalar[2][6] = {
		{ NULL, addss, subss, mulss, divss, NULL },
		{ NULL, addsd, subsd, mulsd, divsd, cvtsd2ss },
	};
	int op = FP_OP(r->fp), shape = FP_SHAPE(r->fp), i;
	bool dbl = shape == L_PD || shape == L_SD;
	int lanes = shape == L_PS ? 4 : shape == L_PD ? 2 : 1;
	u32 masks = (c->mxcsr >> 7) & MX_FLAGS, f = 0;
	sop_fn fn = scalar[dbl][op];

	for (i = 0; i < lanes; i++) {
		struct sop t = *in, z;
		u64 a = dbl ? in->d.q[i] : in->d.d[i];
		u64 b = dbl ? in->s.q[i] : in->s.d[i];
		u32 lf;

		memset(&t.d, 0, sizeof(t.d));
		memset(&t.s, 0, sizeof(t.s));
		if (dbl) {
			t.d.q[0] = a;
			t.s.q[0] = b;
		} else {
			t.d.d[0] = (u32)a;
			t.s.d[0] = (u32)b;
		}
		if (!(masks & MX_UE))
			t.mx_in &= ~MX_FTZ;
		z = t;
		z.mx_in |= MX_FTZ;
		fn(c, &t);
		fn(c, &z);
		lf = t.mx_out & MX_FLAGS;
		if ((lf & MX_OE) && !(masks & MX_OE))
			lf &= ~(MX_PE | MX_UE);
		else if ((z.mx_out & MX_UE) && !(masks & MX_UE))
			lf = (lf & ~MX_PE) | MX_UE;
		else {
			f |= lf;
			continue;
		}
		if (op == FP_CVT)
			a = b;
		if (unbounded_inexact(op, dbl, daz(a, dbl, c->mxcsr),
				      daz(b, dbl, c->mxcsr), c->mxcsr))
			lf |= MX_PE;
		f |= lf;
	}
	return f;
}

/*
 * The flags the host raised become the guest's.  With one of them
 * unmasked nothing is written, and an unmasked invalid, denormal or
 * divide by zero, found before computing, leaves only those flags (SDM
 * vol. 1, 11.5.2); an unmasked overflow or underflow has its precision
 * flag worked out by post_flags().
 */
static void simd_flags(struct cpu *c, const struct row *r, u32 f,
		       const struct sop *in)
{
	u32 unmasked = f & ~(c->mxcsr >> 7) & MX_FLAGS;

	if (!unmasked) {
		c->mxcsr |= f;
		return;
	}
	if (unmasked & MX_PRE)
		f &= MX_PRE;
	else if ((unmasked & (MX_OE | MX_UE)) && r->fp)
		f = post_flags(c, r, in);
	c->mxcsr |= f;
	simd_fault(c);
}

/*
 * Compute, and return the flags raised.  An unmasked underflow is the
 * catch: it is raised for any tiny result, exact or not, where a masked
 * one counts only a tiny result that is also inexact, and FTZ does not
 * apply.  So with underflow unmasked the result comes from a run without
 * FTZ (any tiny result faults anyway), and a second run with FTZ, which
 * flags every tiny result, says whether there was one.
 */
static u32 simd_compute(struct cpu *c, const struct row *r, struct sop *o)
{
	struct sop t;

	if (c->mxcsr & (MX_UE << 7)) {
		r->fn(c, o);
		return o->mx_out & MX_FLAGS;
	}
	t = *o;
	t.mx_in |= MX_FTZ;
	o->mx_in &= ~MX_FTZ;
	r->fn(c, o);
	r->fn(c, &t);
	return (o->mx_out & MX_FLAGS) | (t.mx_out & MX_UE);
}

static bool is_mm(int t)
{
	return t == T_M;
}

/* Forms that are #UD whatever the machine's state: a register operand
 * where the form takes only memory, or the reverse, or a group's
 * extension that does not exist. */
static bool row_undefined(const struct row *r, bool mem, u8 reg)
{
	return (mem && (r->flags & R_REG)) || (!mem && (r->flags & R_MEM)) ||
	       (r->exts && !(r->exts >> reg & 1));
}

/*C:220
 * One MMX or SSE form: the table row says what its operands are; the
 * operands are fetched (memory with its alignment check), the row's
 * function computes, the flags it raised are judged, and only then is
 * the result written, to a register or (checked first) to memory.
 :*/
static void simd_run(struct cpu *c, const struct row *r,
		     const struct sargs *a)
{
	bool store = r->flags & R_STORE, mem = a->mem;
	int rt = store ? r->src : r->dst;	/* the ModRM reg operand */
	int mt = store ? r->dst : r->src;	/* the ModRM rm operand */
	bool align = r->msize == 16 && !(r->flags & R_UNAL), mmx;
	struct sop o, in;

	memset(&o, 0, sizeof(o));
	if (r->flags & R_IMM)
		o.imm = a->imm;
	mmx = is_mm(rt) || (is_mm(mt) && !mem) || (r->flags & R_MMX);
	simd_checks(c, r->dst == T_X || r->src == T_X, mmx);
	if (mmx)	/* the host's MMX registers are its x87 */
		fpu_host_release();
	o.reg = a->reg;
	o.mem = mem;
	o.a = a;
	o.mx_in = (c->mxcsr & ~(MX_FLAGS | MX_MASKS)) | MX_MASKS;
	if (store) {
		read_reg(c, rt, a->reg, &o.s, &o.g);
		if (!mem)
			read_reg(c, mt, a->rm, &o.d, &o.g);
	} else {
		read_reg(c, rt, a->reg, &o.d, &o.g);
		if (!mem)
			read_reg(c, mt, a->rm, &o.s, &o.g);
		else if (mt == T_E)
			o.g = mem_read(c, a->seg, a->ea, r->msize);
		else
			read_mem(c, a->seg, a->ea, &o.s, r->msize, align);
	}
	in = o;
	simd_flags(c, r, simd_compute(c, r, &o), &in);
	if (!store)
		write_reg(c, rt, a->reg, &o, a->rex_w);
	else if (!mem)
		write_reg(c, mt, a->rm, &o, a->rex_w);
	else if (mt == T_E)
		mem_write(c, a->seg, a->ea, o.g, r->msize);
	else
		write_mem(c, a->seg, a->ea, &o.d, r->msize, align);
	if (mmx)
		fpu_mmx_switch(c);
}

/* --- 0F AE and EMMS: the state itself --- */

/* The 512-byte FXSAVE image; 32-bit code saves XMM0..7 (up to 288),
 * 64-bit code all sixteen (up to 416). */
#define FX_SIZE 512
#define FX_USED 416

static int fx_nxmm(const struct cpu *c)
{
	return cpu_64bit(c) ? 16 : 8;
}

/*
 * FXSAVE and FXRSTOR's 16-byte alignment: #GP(0) if it is not, but in
 * 64-bit mode a non-canonical address faults first, #SS(0) if it is on
 * the stack.  (The host CPU does so; for MOVAPS and the other aligned
 * operands, read_mem() and write_mem(), misalignment comes first.)
 */
static void check_align16(struct cpu *c, struct insn *d, u32 n)
{
	u64 lin = seg_linear(c, d->seg, d->ea);

	if (cpu_64bit(c) && (!canonical(lin) || !canonical(lin + n - 1)))
		cpu_raise(c, d->seg == S_SS ? EXC_SS : EXC_GP, 0);
	if (lin & 15)
		cpu_gp(c, 0);
}

static void fxsave(struct cpu *c, struct insn *d)
{
	u8 img[FX_USED];
	int i;

	check_align16(c, d, FX_SIZE);
	mem_check(c, d->seg, d->ea, FX_SIZE, ACC_WRITE);
	memset(img, 0, sizeof(img));
	fpu_fxsave(c, img, d->rex & 8);
	put_le32(img + 24, c->mxcsr);
	put_le32(img + 28, MXCSR_MASK);
	for (i = 0; i < fx_nxmm(c); i++)
		memcpy(img + 160 + 16 * i, &c->xmm[i], 16);
	for (i = 0; i < 160 + 16 * fx_nxmm(c); i += 4)
		mem_write(c, d->seg, d->ea + i, get_le32(img + i), 4);
}

static void fxrstor(struct cpu *c, struct insn *d)
{
	u8 img[FX_USED];
	u32 mx;
	int i;

	check_align16(c, d, FX_SIZE);
	mem_check(c, d->seg, d->ea, FX_SIZE, ACC_READ);
	for (i = 0; i < 160 + 16 * fx_nxmm(c); i += 4)
		put_le32(img + i, mem_read(c, d->seg, d->ea + i, 4));
	mx = get_le32(img + 24);
	if (mx & ~MXCSR_MASK)
		cpu_gp(c, 0);
	fpu_fxrstor(c, img, d->rex & 8);
	c->mxcsr = mx;
	for (i = 0; i < fx_nxmm(c); i++)
		memcpy(&c->xmm[i], img + 160 + 16 * i, 16);
}

/* 0F AE: FXSAVE FXRSTOR LDMXCSR STMXCSR CLFLUSH and the fences. */
static void exec_grp15(struct cpu *c, struct insn *d, int pfx)
{
	u32 v;

	insn_address(c, d);
	if (pfx != PX_NP)
		cpu_ud(c);
	if (d->mod == 3) {
		/* LFENCE MFENCE SFENCE: one CPU, in order: nothing to do. */
		if (d->reg < 5)
			cpu_ud(c);
		return;
	}
	switch (d->reg) {
	case 0:
	case 1:
		if (c->cr0 & (CR0_EM | CR0_TS))
			cpu_raise(c, EXC_NM, 0);
		if (d->reg == 0)
			fxsave(c, d);
		else
			fxrstor(c, d);
		return;
	case 2:
		simd_checks(c, true, false);
		v = mem_read(c, d->seg, d->ea, 4);
		if (v & ~MXCSR_MASK)
			cpu_gp(c, 0);
		c->mxcsr = v;
		return;
	case 3:
		simd_checks(c, true, false);
		mem_write(c, d->seg, d->ea, c->mxcsr, 4);
		return;
	case 7:
		/* CLFLUSH: no cache, but the address must be readable. */
		mem_read(c, d->seg, d->ea, 1);
		return;
	default:
		cpu_ud(c);	/* XSAVE and friends: not offered */
	}
}

static void exec_emms(struct cpu *c, int pfx)
{
	if (pfx != PX_NP || (c->cr0 & CR0_EM))
		cpu_ud(c);
	if (c->cr0 & CR0_TS)
		cpu_raise(c, EXC_NM, 0);
	fpu_wait(c);
	fpu_emms(c);
}

/* --- The entry from exec_0f.c --- */

bool sse_opcode(u8 op)
{
	return (op >= 0x10 && op <= 0x17) || (op >= 0x28 && op <= 0x2f) ||
	       (op >= 0x50 && op <= 0x7f) || op == 0xae ||
	       (op >= 0xc2 && op <= 0xc6) || op >= 0xd0;
}

/*
 * The forms REX.W changes (64-bit mode only): a 64-bit general register
 * or m64 where the others take 32 bits.  REX.W on any other form is
 * ignored, as on the hardware.
 */
static const struct row rows_w[4][256] = {
	[PX_NP][0x6e] = ROW(movq_in, M, E, 8, 0),
	[PX_66][0x6e] = ROW(movq_in, X, E, 8, 0),
	[PX_NP][0x7e] = ROW(movq_out, E, M, 8, R_STORE),
	[PX_66][0x7e] = ROW(movq_out, E, X, 8, R_STORE),
	[PX_F3][0x2a] = ROW(cvtsi2ss_q, X, E, 8, 0),
	[PX_F2][0x2a] = ROW(cvtsi2sd_q, X, E, 8, 0),
	[PX_F3][0x2c] = ROW(cvttss2si_q, G, X, 4, 0),
	[PX_F3][0x2d] = ROW(cvtss2si_q, G, X, 4, 0),
	[PX_F2][0x2c] = ROW(cvttsd2si_q, G, X, 8, 0),
	[PX_F2][0x2d] = ROW(cvtsd2si_q, G, X, 8, 0),
	[PX_NP][0xc3] = ROW(movnti, E, G, 8, R_STORE | R_MEM),
};

/* The mandatory prefix: F2 and F3 win over 66; the last of F2 and F3
 * counts. */
static int sse_prefix(const struct insn *d)
{
	return d->rep == 0xf3 ? PX_F3 : d->rep == 0xf2 ? PX_F2 :
	       d->opsize_prefix ? PX_66 : PX_NP;
}

/* The row of opcode op with prefix pfx, REX.W given or not. */
static const struct row *row_for(int pfx, bool rex_w, u8 op)
{
	if (rex_w && rows_w[pfx][op].fn)
		return &rows_w[pfx][op];
	return &rows[pfx][op];
}

void sse_exec(struct cpu *c, struct insn *d, u8 op)
{
	int pfx = sse_prefix(d);
	const struct row *r = row_for(pfx, d->rex & 8, op);
	struct sargs a;

	if (op == 0xae) {
		exec_grp15(c, d, pfx);
		return;
	}
	if (op == 0x77) {
		exec_emms(c, pfx);
		return;
	}
	insn_address(c, d);
	if (!r->fn || row_undefined(r, d->mod != 3, d->reg))
		cpu_ud(c);
	/* With mod 3, d->seg is DS or the override: MASKMOV's segment. */
	a = (struct sargs){ .ea = d->ea, .seg = (u8)d->seg, .reg = d->reg,
			    .rm = d->rm, .imm = (u8)d->imm,
			    .adsize = d->adsize, .mem = d->mod != 3,
			    .rex_w = d->rex & 8 };
	simd_run(c, r, &a);
}

/* --- Forms decoded once (fast.h) --- */

/*
 * A form the fast path keeps: the entry holds what sse_exec() finds in
 * a struct insn (the operands, the opcode in op, the prefix in size,
 * REX.W as osize 8, the immediate), so running it again decodes nothing;
 * the checks that depend on the machine's state (CR0, CR4, the x87, the
 * segment, the page, the alignment) are simd_run()'s, as for sse_exec().
 */
static void h_sse(struct cpu *c, const struct dinsn *di)
{
	bool mem = di->rm == DC_NONE;
	struct sargs a = {
		.ea = mem ? dc_ea(c, di) : 0, .seg = di->seg,
		.reg = di->reg, .rm = di->rm, .imm = (u8)di->imm,
		.adsize = di->mode, .mem = mem, .rex_w = di->osize == 8,
	};

	simd_run(c, row_for(di->size, a.rex_w, di->op), &a);
	dc_advance(c, di);
}

/*
 * The forms between XMM registers and memory, which are most of what
 * 64-bit code runs (its floating point, memcpy, strlen): a shorter way
 * for the state almost every program runs in, SSE enabled and every
 * SIMD exception masked.  Then nothing the row's function does can
 * fault, its flags only add to MXCSR (simd_flags()), one run gives the
 * result (simd_compute()), and an XMM operand is a plain copy; a memory
 * operand within one page of RAM is one host access after the checks
 * mem_read_fast() and mem_write_fast() make.  In any other state the
 * entry takes h_sse(), with every check in its place.
 */
static bool sse_plain(const struct cpu *c)
{
	return !(c->cr0 & (CR0_EM | CR0_TS)) && (c->cr4 & CR4_OSFXSR) &&
	       (c->mxcsr & MX_MASKS) == MX_MASKS;
}

static const struct row *xrow(const struct dinsn *di)
{
	return &rows[di->size][di->op];
}

/* The ModRM operand of an XMM form from memory: as read_mem() does. */
static void x_load(struct cpu *c, const struct row *r,
		   const struct dinsn *di, union v128 *v)
{
	u64 ea = dc_ea(c, di);
	bool align = r->msize == 16 && !(r->flags & R_UNAL);
	const u8 *h;

	if (r->msize == 8) {
		v->q[0] = mem_read_fast(c, di->seg, ea, 8);
		v->q[1] = 0;
		return;
	}
	if (r->msize == 16 && !(align && (seg_linear(c, di->seg, ea) & 15))) {
		h = mem_host_fast(c, di->seg, ea, 16, false);
		if (likely(h)) {
			memcpy(v, h, 16);
			return;
		}
	}
	read_mem(c, di->seg, ea, v, r->msize, align);
}

/*
 * xmm[reg] = xmm[reg] op xmm/m (loads, arithmetic, logic, shuffles);
 * COMISS and friends, which set EFLAGS instead.  The host runs with the
 * guest's MXCSR as it is, sticky flags included (they come out as they
 * went in, with the new ones added): that is the value the translator's
 * inline forms leave on the host (jit.c, e_sse_fp()), and LDMXCSR of the
 * value already there is cheap where a change costs some 7 ns.
 */
static void h_sse_x(struct cpu *c, const struct dinsn *di)
{
	const struct row *r = xrow(di);
	struct sop o;

	if (unlikely(!sse_plain(c))) {
		h_sse(c, di);
		return;
	}
	if (di->rm == DC_NONE) {
		x_load(c, r, di, &o.s);
		o.mem = true;
	} else {
		o.s = c->xmm[di->rm];
		o.mem = false;
	}
	o.d = c->xmm[di->reg];
	o.g = 0;
	o.imm = (u8)di->imm;
	o.mx_in = c->mxcsr;	/* flags and all: see below */
	o.mx_out = 0;
	r->fn(c, &o);
	c->mxcsr |= o.mx_out & MX_FLAGS;
	if (r->dst == T_F)
		cpu_set_eflags(c, (u32)o.fl & (F_ZF | F_PF | F_CF), F_ARITH);
	else
		c->xmm[di->reg] = o.d;
	dc_advance(c, di);
}

/*
 * The forms between an XMM and a general register or memory: MOVD and
 * MOVQ in and out, PMOVMSKB, MOVMSKPS, PEXTRW, PINSRW, the conversions
 * to and from integers.  A general register is written as write_reg()
 * does: 32 bits zero-extended, 64 with REX.W.
 */
static void h_sse_g(struct cpu *c, const struct dinsn *di)
{
	bool w = di->osize == 8;
	const struct row *r = row_for(di->size, w, di->op);
	struct sop o;

	if (unlikely(!sse_plain(c))) {
		h_sse(c, di);
		return;
	}
	memset(&o.s, 0, sizeof(o.s));
	o.mem = di->rm == DC_NONE;
	o.imm = (u8)di->imm;
	o.mx_in = c->mxcsr;	/* flags and all: see below */
	o.mx_out = 0;
	if (r->flags & R_STORE) {		/* r/m = xmm */
		o.s = c->xmm[di->reg];
		o.g = 0;
		r->fn(c, &o);
		if (o.mem)
			mem_write_fast(c, di->seg, dc_ea(c, di), o.g, r->msize);
		else
			c->r[di->rm].q = w ? o.g : (u32)o.g;
	} else if (r->dst == T_X) {		/* xmm = r/m */
		o.d = c->xmm[di->reg];
		o.g = o.mem ? mem_read_fast(c, di->seg, dc_ea(c, di),
					    r->msize) : c->r[di->rm].q;
		r->fn(c, &o);
		c->xmm[di->reg] = o.d;
	} else {				/* reg = xmm/m */
		memset(&o.d, 0, sizeof(o.d));
		if (o.mem)
			x_load(c, r, di, &o.s);
		else
			o.s = c->xmm[di->rm];
		o.g = c->r[di->reg].q;
		r->fn(c, &o);
		c->r[di->reg].q = w ? o.g : (u32)o.g;
	}
	c->mxcsr |= o.mx_out & MX_FLAGS;
	dc_advance(c, di);
}

/* xmm/m = xmm[reg]: the stores (MOVAPS, MOVUPS, MOVDQA, MOVDQU, MOVSD,
 * MOVSS, MOVQ, MOVLPS, the non-temporal ones). */
static void h_sse_x_store(struct cpu *c, const struct dinsn *di)
{
	const struct row *r = xrow(di);
	bool align = r->msize == 16 && !(r->flags & R_UNAL);
	struct sop o;
	u64 ea;
	u8 *h;

	if (unlikely(!sse_plain(c))) {
		h_sse(c, di);
		return;
	}
	o.s = c->xmm[di->reg];
	o.mem = di->rm == DC_NONE;
	if (!o.mem) {
		o.d = c->xmm[di->rm];
		r->fn(c, &o);
		c->xmm[di->rm] = o.d;
		dc_advance(c, di);
		return;
	}
	memset(&o.d, 0, sizeof(o.d));
	r->fn(c, &o);
	ea = dc_ea(c, di);
	h = NULL;
	if (r->msize == 16 && !(align && (seg_linear(c, di->seg, ea) & 15)))
		h = mem_host_fast(c, di->seg, ea, 16, true);
	if (h)
		memcpy(h, &o.d, 16);
	else if (r->msize == 8)
		mem_write_fast(c, di->seg, ea, o.d.q[0], 8);
	else
		write_mem(c, di->seg, ea, &o.d, r->msize, align);
	dc_advance(c, di);
}

/* Does the row fit h_sse_x(), h_sse_x_store() or h_sse_g()?  No
 * group, no MMX (whose state is the x87's), not MASKMOVDQU (memory
 * through DS:EDI). */
static dc_fn x_handler(const struct row *r, bool rex_w)
{
	bool store = r->flags & R_STORE;

	if (r->exts || (r->flags & R_MMX) || r->fn == maskmovdqu)
		return NULL;
	if ((r->dst == T_X && r->src == T_E && !store) ||
	    (r->dst == T_G && r->src == T_X && !store) ||
	    (r->dst == T_E && r->src == T_X && store))
		return h_sse_g;
	if (r->dst == T_F && r->src == T_X)
		return h_sse_x;
	if (rex_w || r->dst != T_X || r->src != T_X)
		return NULL;
	if (!(r->flags & R_STORE))
		return h_sse_x;
	/* Stores whose function makes the destination from the source
	 * alone (MOVHPS's store keeps the high half: not one). */
	if (r->fn == mov128 || r->fn == movlq || r->fn == movss ||
	    r->fn == movq_zx)
		return h_sse_x_store;
	return NULL;
}

/*
 * The forms that can raise a SIMD floating-point exception: the
 * arithmetic, square roots, reciprocals, comparisons and conversions.
 * The moves, logic, unpacks, sign masks and integer forms cannot.
 */
static bool sse_fp_op(u8 op)
{
	return (op >= 0x2a && op <= 0x2f) || op == 0xc2 || op == 0xe6 ||
	       (op >= 0x51 && op <= 0x5f && !(op >= 0x54 && op <= 0x57));
}

/*
 * For the translator: the forms h_sse_x(), h_sse_x_store() and h_sse_g()
 * take, but those that write EFLAGS (COMISS and friends).  Each runs on
 * the host as itself, which is what the row's function does or (for the
 * moves done in C) what it copies; the entry's handler stays the cold
 * path for every state but SSE on and every exception masked.
 */
bool sse_jit_form(const struct dinsn *di, struct sse_jit *f)
{
	static const u8 pfx[4] = { 0, 0x66, 0xf3, 0xf2 };
	bool w = di->osize == 8;
	const struct row *r;
	dc_fn fn;

	if (di->size > PX_F2)
		return false;
	r = row_for(di->size, w, di->op);
	fn = r->fn ? x_handler(r, w) : NULL;
	if (!fn || r->dst == T_F)
		return false;
	if (!f)
		return true;
	if (fn == h_sse_x)
		f->shape = SJ_XX;
	else if (fn == h_sse_x_store)
		f->shape = SJ_XSTORE;
	else if (r->flags & R_STORE)
		f->shape = SJ_EOUT;
	else
		f->shape = r->dst == T_X ? SJ_GIN : SJ_GOUT;
	f->prefix = pfx[di->size];
	f->msize = r->msize;
	f->align = r->msize == 16 && !(r->flags & R_UNAL);
	f->write = r->flags & R_STORE;
	f->fp = sse_fp_op(di->op);
	f->imm = r->flags & R_IMM;
	f->rex_w = w;
	return true;
}

/* LFENCE, MFENCE, SFENCE: one CPU, in order, so nothing to wait for
 * (exec_grp15()); the kernel's clock reads put LFENCE before RDTSC. */
static void h_fence(struct cpu *c, const struct dinsn *di)
{
	dc_advance(c, di);
}

dc_fn sse_form(const struct insn *d, struct dinsn *di)
{
	int pfx = sse_prefix(d);
	const struct row *r = row_for(pfx, d->rex & 8, d->op);

	if (d->map == MAP_0F && d->op == 0xae && d->mod == 3 &&
	    pfx == PX_NP && d->reg >= 5)
		return h_fence;
	if (d->map != MAP_0F || !sse_opcode(d->op) || d->op == 0xae ||
	    d->op == 0x77 || d->adsize != d->mode || !r->fn ||
	    row_undefined(r, d->mod != 3, d->reg))
		return NULL;
	di->op = d->op;
	di->size = (u8)pfx;
	di->osize = d->rex & 8 ? 8 : 4;
	di->imm = (u8)d->imm;
	return x_handler(r, d->rex & 8) ?: h_sse;
}

void sse_reset(struct cpu *c)
{
	memset(c->xmm, 0, sizeof(c->xmm));
	c->mxcsr = MXCSR_RESET;
}
