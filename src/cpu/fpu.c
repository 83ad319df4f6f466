/*
 * The x87 floating-point unit.
 *
 * exec.c decodes the D8..DF escapes, checks CR0.EM/TS (#NM) and hands us
 * the opcode byte, the ModRM byte and, for memory forms, the operand's
 * segment and offset.  The guest's registers live in struct fpu as host
 * long doubles, which on x86-64 are the same 80-bit extended format.
 *
 * Why the host does the arithmetic: an x87 is full of corners (precision
 * control, double rounding, denormals, pseudo-denormals and unnormals, NaN
 * propagation, C1 on rounding, transcendental accuracy, stack faults).  The
 * host has a real x87, so every computing instruction is run on it,
 * literally: the guest's state is put into an FNSAVE image (its control
 * word, so rounding, precision and exception masks are the guest's own;
 * its status word with the exception flags cleared, so nothing is pending),
 * FRSTOR loads it, and the very same opcode and ModRM byte run (a memory
 * operand is a host buffer addressed through RSI).  The state then stays
 * on the host for the guest's next x87 instruction (x87 code comes in
 * runs, and FRSTOR/FNSAVE cost far more than the instruction): after each
 * one FNSTSW takes the status word, whose new exception flags are merged
 * into the guest's sticky ones, and FNCLEX leaves nothing pending on the
 * host.  Whatever needs the registers themselves (the environment and
 * save formats, FLDCW, FNINIT, a test looking in) first calls fpu_sync(),
 * whose FNSAVE takes them back and leaves the host FPU initialised.  No
 * other code of ours uses the x87 (host floating point is SSE), so it
 * can hold the guest's state meanwhile.  Because the guest's masks are
 * live on the host, the unmasked responses come out exactly as hardware
 * makes them:
 * destination untouched for invalid and divide-by-zero, the exponent-biased
 * result for overflow and underflow, ES and B set.  #MF is then raised by
 * the next waiting instruction of the guest (see fpu_check_pending()).
 *
 * What the host is not trusted with: anything that touches guest memory
 * layout or the state itself (FLDENV, FRSTOR, FNSTENV, FNSAVE, FLDCW,
 * FNSTCW, FNSTSW, FNCLEX, FNINIT) is done here in C, following the
 * behaviour of a P6: tags are kept in full form but, as on every CPU since
 * the Pentium Pro, only "empty" is remembered from FLDENV/FRSTOR; the rest
 * is recomputed from the register contents.
 */
#include <string.h>

#include "cpu_internal.h"

/* Status word bits. */
#define SW_IE 0x0001u
#define SW_DE 0x0002u
#define SW_ZE 0x0004u
#define SW_OE 0x0008u
#define SW_UE 0x0010u
#define SW_PE 0x0020u
#define SW_SF 0x0040u
#define SW_ES 0x0080u
#define SW_C0 0x0100u
#define SW_C1 0x0200u
#define SW_C2 0x0400u
#define SW_TOP 0x3800u
#define SW_C3 0x4000u
#define SW_B  0x8000u
#define SW_FLAGS 0x007fu	/* the sticky exception flags, SF included */
#define SW_CC (SW_C0 | SW_C1 | SW_C2 | SW_C3)

/* Control word: bit 6 reads as one, bits 13..15 as zero. */
#define CW_MASK 0x1f3fu
#define CW_ONES 0x0040u

/*
 * The FNSAVE image in the 32-bit protected-mode layout, which is what a
 * 64-bit host process uses.  Registers are in stack order: st[0] is ST(0).
 */
struct x87_image {
	u32 cw, sw, tw;
	u32 fip, fcs_fop, fdp, fds;
	u8 st[8][10];
} __attribute__((packed));

/*
 * The CPU whose state is on this thread's x87.  One thread may run more
 * than one CPU (the tests do): the state of the one before is taken back
 * first.
 */
static __thread struct cpu *host_owner;

/*
 * The instructions that run on the host, keyed (op << 8) | modrm.  Memory
 * forms use ModRM 00 reg 110, which in 64-bit mode addresses [RSI].
 * The flags the FCMOVs read and FCOMI writes pass through AH (SAHF/LAHF).
 */
#define HOST_RUN(bytes)							\
	asm volatile("sahf\n\t"						\
		     ".byte " bytes "\n\t"				\
		     "lahf\n\t"					\
		     "fnstsw %[sw]\n\t"				\
		     "fnclex"						\
		     : [sw] "=m" (*sw), "+a" (ax)			\
		     : "S" (mem)					\
		     : "memory", "cc", "st", "st(1)", "st(2)", "st(3)",	\
		       "st(4)", "st(5)", "st(6)", "st(7)")
#define R1(op, m) case ((op) << 8 | (m)): HOST_RUN(#op "," #m); break;
#define R8(op, m) R1(op, m+0) R1(op, m+1) R1(op, m+2) R1(op, m+3)	\
		  R1(op, m+4) R1(op, m+5) R1(op, m+6) R1(op, m+7)
#define M1(op, reg) case ((op) << 8 | ((reg) << 3 | 6)):		\
		HOST_RUN(#op ",6+8*" #reg); break;

/* Returns false if the form is not one we run on the host. */
static __attribute__((noinline)) bool
host_run(u16 key, u16 *sw, void *mem, u16 *flags)
{
	u16 ax = *flags;

	switch (key) {
	/* D8: arithmetic with ST(i) and m32real. */
	R8(0xd8, 0xc0) R8(0xd8, 0xc8) R8(0xd8, 0xd0) R8(0xd8, 0xd8)
	R8(0xd8, 0xe0) R8(0xd8, 0xe8) R8(0xd8, 0xf0) R8(0xd8, 0xf8)
	M1(0xd8, 0) M1(0xd8, 1) M1(0xd8, 2) M1(0xd8, 3)
	M1(0xd8, 4) M1(0xd8, 5) M1(0xd8, 6) M1(0xd8, 7)
	/* D9: FLD, FXCH, FNOP, FSTP1, FCHS..FXAM, constants, the rest. */
	R8(0xd9, 0xc0) R8(0xd9, 0xc8) R1(0xd9, 0xd0) R8(0xd9, 0xd8)
	R1(0xd9, 0xe0) R1(0xd9, 0xe1) R1(0xd9, 0xe4) R1(0xd9, 0xe5)
	R1(0xd9, 0xe8) R1(0xd9, 0xe9) R1(0xd9, 0xea) R1(0xd9, 0xeb)
	R1(0xd9, 0xec) R1(0xd9, 0xed) R1(0xd9, 0xee)
	R8(0xd9, 0xf0) R8(0xd9, 0xf8)
	M1(0xd9, 0) M1(0xd9, 2) M1(0xd9, 3)
	/* DA: FCMOVB/E/BE/U, FUCOMPP, m32int arithmetic. */
	R8(0xda, 0xc0) R8(0xda, 0xc8) R8(0xda, 0xd0) R8(0xda, 0xd8)
	R1(0xda, 0xe9)
	M1(0xda, 0) M1(0xda, 1) M1(0xda, 2) M1(0xda, 3)
	M1(0xda, 4) M1(0xda, 5) M1(0xda, 6) M1(0xda, 7)
	/* DB: FCMOVNB/NE/NBE/NU, FUCOMI, FCOMI, m32int and m80 moves. */
	R8(0xdb, 0xc0) R8(0xdb, 0xc8) R8(0xdb, 0xd0) R8(0xdb, 0xd8)
	R8(0xdb, 0xe8) R8(0xdb, 0xf0)
	M1(0xdb, 0) M1(0xdb, 2) M1(0xdb, 3) M1(0xdb, 5) M1(0xdb, 7)
	/* DC: arithmetic into ST(i), m64real. */
	R8(0xdc, 0xc0) R8(0xdc, 0xc8) R8(0xdc, 0xd0) R8(0xdc, 0xd8)
	R8(0xdc, 0xe0) R8(0xdc, 0xe8) R8(0xdc, 0xf0) R8(0xdc, 0xf8)
	M1(0xdc, 0) M1(0xdc, 1) M1(0xdc, 2) M1(0xdc, 3)
	M1(0xdc, 4) M1(0xdc, 5) M1(0xdc, 6) M1(0xdc, 7)
	/* DD: FFREE, FXCH4, FST, FSTP, FUCOM, FUCOMP, m64real moves. */
	R8(0xdd, 0xc0) R8(0xdd, 0xc8) R8(0xdd, 0xd0) R8(0xdd, 0xd8)
	R8(0xdd, 0xe0) R8(0xdd, 0xe8)
	M1(0xdd, 0) M1(0xdd, 2) M1(0xdd, 3)
	/* DE: the popping arithmetic, FCOMP5, FCOMPP, m16int arithmetic. */
	R8(0xde, 0xc0) R8(0xde, 0xc8) R8(0xde, 0xd0) R1(0xde, 0xd9)
	R8(0xde, 0xe0) R8(0xde, 0xe8) R8(0xde, 0xf0) R8(0xde, 0xf8)
	M1(0xde, 0) M1(0xde, 1) M1(0xde, 2) M1(0xde, 3)
	M1(0xde, 4) M1(0xde, 5) M1(0xde, 6) M1(0xde, 7)
	/* DF: FFREEP, FXCH7, FSTP8/9, FUCOMIP, FCOMIP, m16/m64int, BCD. */
	R8(0xdf, 0xc0) R8(0xdf, 0xc8) R8(0xdf, 0xd0) R8(0xdf, 0xd8)
	R8(0xdf, 0xe8) R8(0xdf, 0xf0)
	M1(0xdf, 0) M1(0xdf, 2) M1(0xdf, 3) M1(0xdf, 4)
	M1(0xdf, 5) M1(0xdf, 6) M1(0xdf, 7)
	default:
		return false;
	}
	*flags = ax;
	return true;
}

/*
 * Memory operands of the host-run forms, in bytes: positive for a load,
 * negative for a store, 0 for forms done in C or undefined.  Indexed
 * [op & 7][reg].
 */
static const s8 mem_forms[8][8] = {
	{ 4, 4, 4, 4, 4, 4, 4, 4 },		/* D8: m32real arithmetic */
	{ 4, 0, -4, -4, 0, 0, 0, 0 },		/* D9: FLD, FST, FSTP m32 */
	{ 4, 4, 4, 4, 4, 4, 4, 4 },		/* DA: m32int arithmetic */
	{ 4, 0, -4, -4, 0, 10, 0, -10 },	/* DB: FILD, FIST(P), m80 */
	{ 8, 8, 8, 8, 8, 8, 8, 8 },		/* DC: m64real arithmetic */
	{ 8, 0, -8, -8, 0, 0, 0, 0 },		/* DD: FLD, FST, FSTP m64 */
	{ 2, 2, 2, 2, 2, 2, 2, 2 },		/* DE: m16int arithmetic */
	{ 2, 0, -2, -2, 10, 8, -10, -8 },	/* DF: m16, BCD, m64int */
};

static u16 fpu_sw(const struct fpu *f)
{
	return (f->sw & ~SW_TOP) | (f->top << 11);
}

/* The full tag of a non-empty register, from its contents. */
static int tag_of(const long double *v)
{
	u8 b[10];
	u64 mant;
	u16 exp;

	memcpy(b, v, 10);
	memcpy(&mant, b, 8);
	exp = (b[8] | b[9] << 8) & 0x7fff;
	if (exp == 0x7fff)
		return 2;
	if (exp == 0)
		return mant ? 2 : 1;
	return mant >> 63 ? 0 : 2;
}

/* After FLDENV/FRSTOR: keep "empty", recompute the rest, as a P6 does. */
static void retag(struct fpu *f)
{
	u16 tw = 0;
	int i;

	for (i = 0; i < 8; i++) {
		int t = (f->tw >> (2 * i)) & 3;

		if (t != 3)
			t = tag_of(&f->st[i]);
		tw |= t << (2 * i);
	}
	f->tw = tw;
}

/* ES (and its mirror B) is set while an unmasked exception flag is. */
static void update_es(struct fpu *f)
{
	if (f->sw & ~f->cw & 0x3f)
		f->sw |= SW_ES | SW_B;
	else
		f->sw &= ~(SW_ES | SW_B);
}

void fpu_reset(struct cpu *c)
{
	struct fpu *f = &c->fpu;

	if (f->live) {
		asm volatile("fninit");
		host_owner = NULL;
	}
	f->live = false;
	f->cw = 0x037f;
	f->sw = 0;
	f->top = 0;
	f->tw = 0xffff;
	f->fop = 0;
	f->fip = f->fdp = 0;
	f->fcs = f->fds = 0;
}

/*
 * A waiting instruction finds an unmasked exception pending: #MF when
 * CR0.NE is set.  With NE clear a PC would assert FERR# and take IRQ13
 * through the PIC; we have no such wire (the CPU knows nothing of the
 * PIC), so the exception is left pending and the instruction goes on.
 * Linux sets CR0.NE on every CPU that has it.
 */
static void fpu_check_pending(struct cpu *c)
{
	if ((c->fpu.sw & SW_ES) && (c->cr0 & CR0_NE))
		cpu_raise(c, EXC_MF, 0);
}

void fpu_wait(struct cpu *c)
{
	fpu_check_pending(c);
}

/*
 * Guest memory for the long operands, in 4- and 2-byte pieces.  A store
 * has been checked whole with mem_check() first, so it cannot fault half
 * way; a load that faults half way has changed nothing.
 */
static void read_bytes(struct cpu *c, int seg, u64 off, u8 *buf, int len)
{
	int i = 0;

	for (; i + 4 <= len; i += 4) {
		u32 v = mem_read_fast(c, seg, off + i, 4);

		memcpy(buf + i, &v, 4);
	}
	for (; i + 2 <= len; i += 2) {
		u16 v = mem_read(c, seg, off + i, 2);

		memcpy(buf + i, &v, 2);
	}
}

static void write_bytes(struct cpu *c, int seg, u64 off, const u8 *buf,
			int len)
{
	int i = 0;

	for (; i + 4 <= len; i += 4) {
		u32 v;

		memcpy(&v, buf + i, 4);
		mem_write(c, seg, off + i, v, 4);
	}
	for (; i + 2 <= len; i += 2) {
		u16 v;

		memcpy(&v, buf + i, 2);
		mem_write(c, seg, off + i, v, 2);
	}
}

/* The last non-control instruction, for FNSTENV and FNSAVE. */
static void note_insn(struct cpu *c, u8 op, u8 modrm, int seg, u64 off)
{
	struct fpu *f = &c->fpu;

	f->fop = (op & 7) << 8 | modrm;
	f->fip = cpu_64bit(c) ? c->insn_eip : (u32)c->insn_eip;
	f->fcs = c->seg[S_CS].sel;
	if ((modrm >> 6) != 3) {
		f->fdp = off;
		f->fds = c->seg[seg].sel;
	}
}

/* DA/DB C0..DF read EFLAGS; DB/DF E8..F7 write ZF, PF, CF. */
static bool is_fcmov(u16 key)
{
	u8 op = key >> 8;

	return (op == 0xda || op == 0xdb) && (key & 0xe0) == 0xc0;
}

static bool is_fcomi(u16 key)
{
	u8 op = key >> 8, m = key & 0xf8;

	return (op == 0xdb || op == 0xdf) && (m == 0xe8 || m == 0xf0);
}

/* Put the guest's state on the host's x87. */
static void load_host(struct cpu *c)
{
	struct fpu *f = &c->fpu;
	struct x87_image img;
	int i;

	if (host_owner)
		fpu_sync(host_owner);
	host_owner = c;
	memset(&img, 0, sizeof(img));
	img.cw = f->cw;
	img.sw = fpu_sw(f) & ~(SW_FLAGS | SW_ES | SW_B);
	img.tw = f->tw;
	for (i = 0; i < 8; i++)
		memcpy(img.st[i], &f->st[(f->top + i) & 7], 10);
	asm volatile("frstor %0" : : "m" (img));
	f->live = true;
}

void fpu_sync(struct cpu *c)
{
	struct fpu *f = &c->fpu;
	struct x87_image img;
	int i;

	if (!f->live)
		return;
	asm volatile("fnsave %0" : "=m" (img));
	host_owner = NULL;
	f->top = (img.sw >> 11) & 7;
	for (i = 0; i < 8; i++)
		memcpy(&f->st[(f->top + i) & 7], img.st[i], 10);
	f->tw = img.tw;
	f->live = false;
}

/*
 * Run one instruction on the host and take its results.  Returns the
 * exceptions it raised that the guest has unmasked.
 */
static u16 run_on_host(struct cpu *c, u16 key, u8 *mem)
{
	struct fpu *f = &c->fpu;
	u16 ax = 0x0200, old_sw = f->sw, sw, host_sw;

	if (!f->live)
		load_host(c);
	if (is_fcmov(key))
		ax |= (cpu_get_eflags(c) & (F_ARITH & ~F_OF)) << 8;
	if (!host_run(key, &host_sw, mem, &ax))
		cpu_ud(c);	/* not reached: callers check the form */

	f->top = (host_sw >> 11) & 7;
	sw = (host_sw & (SW_CC | SW_FLAGS)) | (old_sw & SW_FLAGS);
	if ((old_sw & SW_ES) || (sw & ~f->cw & 0x3f))
		sw |= SW_ES | SW_B;
	f->sw = sw | (f->top << 11);
	if (is_fcomi(key))
		cpu_set_eflags(c, (ax >> 8) & (F_ZF | F_PF | F_CF),
			       F_ZF | F_PF | F_CF | F_OF | F_SF | F_AF);
	return host_sw & ~f->cw & 0x3f;
}

/* --- The environment: FLDENV, FNSTENV, FRSTOR, FNSAVE --- */

static bool real_layout(const struct cpu *c)
{
	return !cpu_pmode(c) || cpu_vm86(c);
}

/* The environment image: 14 bytes with a 16-bit operand size, else 28. */
static int env_store(struct cpu *c, u8 *buf, int opsize)
{
	struct fpu *f = &c->fpu;
	bool real = real_layout(c);
	u32 ip = real ? f->fcs * 16u + (u32)f->fip : (u32)f->fip;
	u32 dp = real ? f->fds * 16u + (u32)f->fdp : (u32)f->fdp;

	if (opsize == 2) {
		put_le16(buf + 0, f->cw);
		put_le16(buf + 2, fpu_sw(f));
		put_le16(buf + 4, f->tw);
		put_le16(buf + 6, ip);
		if (real) {
			put_le16(buf + 8, (ip >> 16 & 0xf) << 12 | f->fop);
			put_le16(buf + 10, dp);
			put_le16(buf + 12, (dp >> 16 & 0xf) << 12);
		} else {
			put_le16(buf + 8, f->fcs);
			put_le16(buf + 10, dp);
			put_le16(buf + 12, f->fds);
		}
		return 14;
	}
	/* The reserved upper halves read as ones, as the hardware writes. */
	put_le32(buf + 0, 0xffff0000u | f->cw);
	put_le32(buf + 4, 0xffff0000u | fpu_sw(f));
	put_le32(buf + 8, 0xffff0000u | f->tw);
	if (real) {
		put_le32(buf + 12, 0xffff0000u | (ip & 0xffff));
		put_le32(buf + 16, (ip >> 16) << 12 | f->fop);
		put_le32(buf + 20, 0xffff0000u | (dp & 0xffff));
		put_le32(buf + 24, (dp >> 16) << 12);
	} else {
		put_le32(buf + 12, ip);
		put_le32(buf + 16, (u32)f->fop << 16 | f->fcs);
		put_le32(buf + 20, dp);
		put_le32(buf + 24, 0xffff0000u | f->fds);
	}
	return 28;
}

static int env_load(struct cpu *c, const u8 *buf, int opsize)
{
	struct fpu *f = &c->fpu;
	bool real = real_layout(c);
	u16 sw;

	if (opsize == 2) {
		f->cw = (get_le16(buf + 0) & CW_MASK) | CW_ONES;
		sw = get_le16(buf + 2);
		f->tw = get_le16(buf + 4);
		if (real) {
			f->fip = get_le16(buf + 6) | (u32)(get_le16(buf + 8) >> 12) << 16;
			f->fop = get_le16(buf + 8) & 0x7ff;
			f->fdp = get_le16(buf + 10) | (u32)(get_le16(buf + 12) >> 12) << 16;
			f->fcs = f->fds = 0;
		} else {
			f->fip = get_le16(buf + 6);
			f->fcs = get_le16(buf + 8);
			f->fdp = get_le16(buf + 10);
			f->fds = get_le16(buf + 12);
		}
	} else {
		f->cw = (get_le16(buf + 0) & CW_MASK) | CW_ONES;
		sw = get_le16(buf + 4);
		f->tw = get_le16(buf + 8);
		if (real) {
			f->fip = get_le16(buf + 12) | (get_le32(buf + 16) >> 12) << 16;
			f->fop = get_le32(buf + 16) & 0x7ff;
			f->fdp = get_le16(buf + 20) | (get_le32(buf + 24) >> 12) << 16;
			f->fcs = f->fds = 0;
		} else {
			f->fip = get_le32(buf + 12);
			f->fcs = get_le16(buf + 16);
			f->fop = get_le32(buf + 16) >> 16 & 0x7ff;
			f->fdp = get_le32(buf + 20);
			f->fds = get_le16(buf + 24);
		}
	}
	f->top = (sw >> 11) & 7;
	f->sw = sw;
	update_es(f);
	return opsize == 2 ? 14 : 28;
}

static void fldenv(struct cpu *c, int seg, u64 off, int opsize)
{
	u8 buf[28];

	read_bytes(c, seg, off, buf, opsize == 2 ? 14 : 28);
	env_load(c, buf, opsize);
	retag(&c->fpu);
}

static void fnstenv(struct cpu *c, int seg, u64 off, int opsize)
{
	u8 buf[28];
	int len = env_store(c, buf, opsize);

	mem_check(c, seg, off, len, ACC_WRITE);
	write_bytes(c, seg, off, buf, len);
	/* FNSTENV masks every exception once the image is out. */
	c->fpu.cw |= 0x3f;
	update_es(&c->fpu);
}

static void frstor(struct cpu *c, int seg, u64 off, int opsize)
{
	struct fpu *f = &c->fpu;
	u8 buf[108];
	int len = opsize == 2 ? 14 : 28, i;

	read_bytes(c, seg, off, buf, len + 80);
	env_load(c, buf, opsize);
	for (i = 0; i < 8; i++) {
		long double *r = &f->st[(f->top + i) & 7];

		memset(r, 0, sizeof(*r));
		memcpy(r, buf + len + 10 * i, 10);
	}
	retag(f);
}

static void fnsave(struct cpu *c, int seg, u64 off, int opsize)
{
	struct fpu *f = &c->fpu;
	u8 buf[108];
	int len = env_store(c, buf, opsize), i;

	for (i = 0; i < 8; i++)
		memcpy(buf + len + 10 * i, &f->st[(f->top + i) & 7], 10);
	mem_check(c, seg, off, len + 80, ACC_WRITE);
	write_bytes(c, seg, off, buf, len + 80);
	fpu_reset(c);
}

/* --- Dispatch --- */

/* Memory forms: the control ones here, the computing ones on the host. */
static void exec_mem(struct cpu *c, u8 op, u8 modrm, int seg, u64 off,
		     int opsize)
{
	int reg = (modrm >> 3) & 7;
	u16 key = op << 8 | reg << 3 | 6;
	int size = mem_forms[op & 7][reg];
	bool store = size < 0;
	u8 buf[16];
	u16 unmasked;

	switch (key) {
	case 0xd926:		/* D9 /4: FLDENV */
		fpu_sync(c);
		fpu_check_pending(c);
		fldenv(c, seg, off, opsize);
		return;
	case 0xd92e:		/* D9 /5: FLDCW */
		fpu_sync(c);	/* the host's control word is the old */
		fpu_check_pending(c);
		c->fpu.cw = (mem_read(c, seg, off, 2) & CW_MASK) | CW_ONES;
		update_es(&c->fpu);
		return;
	case 0xd936:		/* D9 /6: FNSTENV */
		fpu_sync(c);
		fnstenv(c, seg, off, opsize);
		return;
	case 0xd93e:		/* D9 /7: FNSTCW */
		mem_write(c, seg, off, c->fpu.cw, 2);
		return;
	case 0xdd26:		/* DD /4: FRSTOR */
		fpu_sync(c);
		fpu_check_pending(c);
		frstor(c, seg, off, opsize);
		return;
	case 0xdd36:		/* DD /6: FNSAVE */
		fpu_sync(c);
		fnsave(c, seg, off, opsize);
		return;
	case 0xdd3e:		/* DD /7: FNSTSW m16 */
		mem_write(c, seg, off, fpu_sw(&c->fpu), 2);
		return;
	}
	if (!size)		/* FISTTP (SSE3) and the holes */
		cpu_ud(c);

	fpu_check_pending(c);
	memset(buf, 0, sizeof(buf));
	if (store) {
		size = -size;
		mem_check(c, seg, off, size, ACC_WRITE);
	} else {
		read_bytes(c, seg, off, buf, size);
	}
	note_insn(c, op, modrm, seg, off);
	unmasked = run_on_host(c, key, buf);
	/* An unmasked exception other than precision stores nothing. */
	if (store && !(unmasked & ~SW_PE))
		write_bytes(c, seg, off, buf, size);
}

/*
 * Register forms an i686 has, bit (modrm - 0xc0) per escape byte.  Besides
 * the documented ones this includes the aliases every P6 executes (FSTP1,
 * FCOM2, FCOMP3, FXCH4, FCOMP5, FFREEP, FXCH7, FSTP8, FSTP9) and the
 * 8087/287 leftovers FNENI, FNDISI, FNSETPM, which are no-ops.
 */
static const u64 reg_forms[8] = {
	~0ull,					/* D8 */
	0xffff7f33ff01ffffull,			/* D9 */
	0x00000200ffffffffull,			/* DA */
	0x00ffff1fffffffffull,			/* DB */
	~0ull,					/* DC */
	0x0000ffffffffffffull,			/* DD */
	0xffffffff02ffffffull,			/* DE */
	0x00ffff01ffffffffull,			/* DF */
};

/* Register forms that are not plain computations. */
static bool exec_reg_special(struct cpu *c, u8 op, u8 modrm)
{
	switch (op << 8 | modrm) {
	case 0xdfe0:		/* FNSTSW AX */
		set_reg16(c, R_EAX, fpu_sw(&c->fpu));
		return true;
	case 0xdbe2:		/* FNCLEX */
		c->fpu.sw &= ~(SW_FLAGS | SW_ES | SW_B);
		return true;
	case 0xdbe3:		/* FNINIT */
		fpu_reset(c);
		return true;
	case 0xdbe0:		/* FNENI, FNDISI, FNSETPM: no-ops since */
	case 0xdbe1:		/* the 387 */
	case 0xdbe4:
		return true;
	}
	return false;
}

/*
 * For the translator (jit.c), which runs the commonest x87 forms on the
 * host straight from translated code, as run_on_host() would: may this
 * form go that way (a computation, neither FCMOVcc, which reads EFLAGS,
 * nor FCOMI, which writes it, nor one done here in C), and how many bytes
 * its memory operand has (negative for a store; 0 for a register form).
 */
bool fpu_inline_form(u8 op, u8 modrm, int *size)
{
	static const u16 in_c[] = {	/* exec_mem()'s own, by key */
		0xd926, 0xd92e, 0xd936, 0xd93e, 0xdd26, 0xdd36, 0xdd3e,
	};
	u16 key = op << 8 | modrm;
	int reg = (modrm >> 3) & 7;
	size_t i;

	*size = 0;
	if ((modrm >> 6) == 3)
		return (reg_forms[op & 7] >> (modrm - 0xc0) & 1) &&
		       !is_fcmov(key) && !is_fcomi(key) &&
		       !(op == 0xdf && modrm == 0xe0) &&	/* FNSTSW AX */
		       !(op == 0xdb && modrm >= 0xe0 && modrm <= 0xe4);
	key = op << 8 | reg << 3 | 6;
	for (i = 0; i < ARRAY_SIZE(in_c); i++)
		if (key == in_c[i])
			return false;
	*size = mem_forms[op & 7][reg];
	return *size != 0;
}

/*C:210
 * The x87 keeps 80-bit precision by running the very same opcode on the
 * host's own x87, loaded with the guest's registers and control word; only
 * the environment and save formats are written out by hand.
 :*/
void fpu_exec(struct cpu *c, u8 op, u8 modrm, int seg, u64 off, int opsize)
{
	u8 buf[16];
	u16 key = op << 8 | modrm;

	if ((modrm >> 6) != 3) {
		exec_mem(c, op, modrm, seg, off, opsize);
		return;
	}
	if (exec_reg_special(c, op, modrm))
		return;
	if (!(reg_forms[op & 7] >> (modrm - 0xc0) & 1))
		cpu_ud(c);
	fpu_check_pending(c);
	note_insn(c, op, modrm, seg, off);
	run_on_host(c, key, buf);
}

/* --- MMX and FXSAVE --- */

/*
 * The MMX registers are the x87's physical registers: MMn is R n's
 * mantissa, whatever TOP says.  MMX code runs on the host's own MMX unit
 * (sse.c), which is the host's x87: whoever's state is live there is
 * given back first.
 */
void fpu_host_release(void)
{
	if (host_owner)
		fpu_sync(host_owner);
}

void fpu_mmx_switch(struct cpu *c)
{
	struct fpu *f = &c->fpu;

	fpu_sync(c);
	f->top = 0;
	f->sw &= ~SW_TOP;
	/* No register is empty; their tags, as FNSTENV shows them, follow
	 * their contents. */
	f->tw = 0;
	retag(f);
}

u64 fpu_mm_read(struct cpu *c, int n)
{
	u64 v;

	fpu_sync(c);
	memcpy(&v, &c->fpu.st[n & 7], 8);
	return v;
}

void fpu_mm_write(struct cpu *c, int n, u64 v)
{
	u8 *p = (u8 *)&c->fpu.st[n & 7];

	fpu_sync(c);
	memcpy(p, &v, 8);
	p[8] = 0xff;
	p[9] = 0xff;
	retag(&c->fpu);
}

void fpu_emms(struct cpu *c)
{
	fpu_sync(c);
	c->fpu.tw = 0xffff;
}

void fpu_fxsave(struct cpu *c, u8 *img, bool wide)
{
	struct fpu *f = &c->fpu;
	u8 ftw = 0;
	int i;

	fpu_sync(c);
	for (i = 0; i < 8; i++)
		if (((f->tw >> (2 * i)) & 3) != 3)
			ftw |= 1 << i;
	put_le16(img + 0, f->cw);
	put_le16(img + 2, fpu_sw(f));
	img[4] = ftw;
	img[5] = 0;
	put_le16(img + 6, f->fop);
	if (wide) {
		put_le64(img + 8, f->fip);
		put_le64(img + 16, f->fdp);
	} else {
		put_le32(img + 8, (u32)f->fip);
		put_le32(img + 12, f->fcs);
		put_le32(img + 16, (u32)f->fdp);
		put_le32(img + 20, f->fds);
	}
	for (i = 0; i < 8; i++) {
		memset(img + 32 + 16 * i, 0, 16);
		memcpy(img + 32 + 16 * i, &f->st[(f->top + i) & 7], 10);
	}
}

void fpu_fxrstor(struct cpu *c, const u8 *img, bool wide)
{
	struct fpu *f = &c->fpu;
	u16 tw = 0;
	int i;

	fpu_sync(c);
	f->cw = (get_le16(img + 0) & CW_MASK) | CW_ONES;
	f->sw = get_le16(img + 2);
	f->top = (f->sw >> 11) & 7;
	for (i = 0; i < 8; i++)
		if (!(img[4] >> i & 1))
			tw |= 3 << (2 * i);
	f->tw = tw;
	f->fop = get_le16(img + 6) & 0x7ff;
	if (wide) {
		/* No selectors in this layout: they read as 0 after. */
		f->fip = get_le64(img + 8);
		f->fdp = get_le64(img + 16);
		f->fcs = f->fds = 0;
	} else {
		f->fip = get_le32(img + 8);
		f->fcs = get_le16(img + 12);
		f->fdp = get_le32(img + 16);
		f->fds = get_le16(img + 20);
	}
	for (i = 0; i < 8; i++) {
		long double *r = &f->st[(f->top + i) & 7];

		memset(r, 0, sizeof(*r));
		memcpy(r, img + 32 + 16 * i, 10);
	}
	retag(f);
	update_es(f);
}
