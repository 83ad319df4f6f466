/*
 * The arithmetic unit and the flags it leaves behind.
 *
 * Almost every integer instruction sets CF, PF, AF, ZF, SF and OF, and
 * almost none of them is ever read: the next instruction overwrites them.
 * So we keep the flags lazily: the last flag-setting operation records its
 * kind, size, operands and result in c->lf_*, and the flags are worked out
 * only when someone asks (a Jcc, PUSHF, an interrupt).  This file is the
 * only code that knows the format; everyone else goes through
 * cpu_get_eflags(), cpu_set_eflags() and cpu_cond().
 *
 * c->eflags always holds the non-arithmetic bits (IF, DF, IOPL, ...).  Its
 * arithmetic bits are the truth only when lf_op is LF_NONE; for LF_RES the
 * CF, OF and AF bits in c->eflags are the truth and ZF/SF/PF come from the
 * result.  LF_HOST is the translator's: the host's flags as they stood
 * after it ran the very instruction (INC, ADC) on the host.  LF_NONE is
 * 0, so a zeroed struct cpu is consistent.  The translator may put a
 * rotate on top of any of these (LF_ROT(): its CF and OF replace theirs,
 * from its result in lf_rot), so that a ROL or ROR costs two stores where
 * working out the flags before it took thirty host instructions or a
 * call; and a BT on top of that (LF_BT_ON: its CF replaces theirs).
 */
#include "exec.h"

static inline u64 sign_bit(int size)
{
	return 1ull << (size * 8 - 1);
}

static inline void set_lazy(struct cpu *c, int kind, u64 a, u64 b, u64 res,
			    int size)
{
	c->lf_op = LF(kind, size);
	c->lf_src1 = a;
	c->lf_src2 = b;
	c->lf_res = res;
}

/* CF and OF of a rotate that left r: a ROL's CF is r's low bit and OF
 * its top bit XOR CF; a ROR's CF is the top bit and OF the top bit XOR
 * the one below, as rotate() sets them for every count. */
static u32 rot_flags(u32 op, u64 r)
{
	u64 sb = sign_bit(1 << ((op >> 10) & 3));
	bool cf, of;

	if (((op >> 8) & 3) == 1) {
		cf = r & 1;
		of = !(r & sb) != !cf;
	} else {
		cf = r & sb;
		of = !(r & sb) != !(r & (sb >> 1));
	}
	return (cf ? F_CF : 0) | (of ? F_OF : 0);
}

static u32 base_flags(struct cpu *c);

/* The arithmetic flags of the recorded operation. */
static u32 lazy_flags(struct cpu *c)
{
	u32 f;

	if (c->lf_op < 0x100)
		return base_flags(c);
	f = LF_BASE(c->lf_op) == LF_NONE ? c->eflags & F_ARITH : base_flags(c);
	if (c->lf_op & 0xff00)
		f = (f & ~(F_CF | F_OF)) | rot_flags(c->lf_op, c->lf_rot);
	if (c->lf_op & LF_BT_ON)
		f = (f & ~F_CF) | (c->lf_op & LF_BT_CF ? F_CF : 0);
	return f;
}

/* ... of the operation alone, not LF_NONE. */
static u32 base_flags(struct cpu *c)
{
	int size = LF_SIZE(c->lf_op);
	u64 a = c->lf_src1, b = c->lf_src2, r = c->lf_res;
	u64 sb = sign_bit(size);
	u32 f = 0;

	/* LAHF's AH has the flags where EFLAGS' low byte has them. */
	if (LF_KIND(LF_BASE(c->lf_op)) == LF_HOST)
		return ((r >> 8) & (F_SF | F_ZF | F_AF | F_PF | F_CF)) |
		       (r & 1 ? F_OF : 0);
	if (r == 0)
		f |= F_ZF;
	if (r & sb)
		f |= F_SF;
	if (!__builtin_parity(r & 0xff))
		f |= F_PF;
	switch (LF_KIND(LF_BASE(c->lf_op))) {
	case LF_ADD:
		f |= (r < a) ? F_CF : 0;
		f |= ((a ^ r) & (b ^ r) & sb) ? F_OF : 0;
		f |= (a ^ b ^ r) & F_AF;
		break;
	case LF_ADC:
		f |= (r <= a) ? F_CF : 0;
		f |= ((a ^ r) & (b ^ r) & sb) ? F_OF : 0;
		f |= (a ^ b ^ r) & F_AF;
		break;
	case LF_SUB:
		f |= (a < b) ? F_CF : 0;
		f |= ((a ^ b) & (a ^ r) & sb) ? F_OF : 0;
		f |= (a ^ b ^ r) & F_AF;
		break;
	case LF_SBB:
		f |= (a <= b) ? F_CF : 0;
		f |= ((a ^ b) & (a ^ r) & sb) ? F_OF : 0;
		f |= (a ^ b ^ r) & F_AF;
		break;
	case LF_LOGIC:
		break;
	case LF_RES:
		f |= c->eflags & (F_CF | F_OF | F_AF);
		break;
	}
	return f;
}

/* Make c->eflags the whole truth again. */
static inline void fold(struct cpu *c)
{
	if (c->lf_op == LF_NONE)
		return;
	c->eflags = (c->eflags & ~F_ARITH) | lazy_flags(c);
	c->lf_op = LF_NONE;
}

/*C:160
 * Flags are lazy: an arithmetic instruction records what it did, and the
 * flags are worked out only when something reads them.  Most results are
 * overwritten before anyone looks, so most of that work never happens.
 * This file is the only one that knows how they are kept.
 :*/
u32 cpu_get_eflags(struct cpu *c)
{
	fold(c);
	return c->eflags | F_FIXED1;
}

/* Whatever the caller's mask, a reserved bit never becomes 1: a 16-bit
 * IRET in real mode loads all of FLAGS, and once set, bits 3, 5 and 15
 * were never cleared again by anything (kvm-unit-tests' realmode DAS and
 * SAHF checks saw them). */
void cpu_set_eflags(struct cpu *c, u32 val, u32 mask)
{
	if (mask & F_ARITH)
		fold(c);
	mask &= F_DEFINED;
	c->eflags = (c->eflags & ~mask) | (val & mask) | F_FIXED1;
}

bool alu_cf(struct cpu *c)
{
	switch (LF_KIND(c->lf_op)) {
	case LF_NONE:
	case LF_RES:
		return c->eflags & F_CF;
	case LF_LOGIC:
		return false;
	case LF_SUB:
		return c->lf_src1 < c->lf_src2;
	default:
		return lazy_flags(c) & F_CF;
	}
}

void alu_set_flag(struct cpu *c, u32 flag, bool on)
{
	if (flag & F_ARITH)
		fold(c);
	if (on)
		c->eflags |= flag;
	else
		c->eflags &= ~flag;
}

/* Signed comparison of the recorded SUB operands, sign-extended. */
static inline s64 sx(u64 v, int size)
{
	return (s64)sext(v, size);
}

bool cpu_cond(struct cpu *c, int cc)
{
	int kind = LF_KIND(c->lf_op), size = LF_SIZE(c->lf_op);
	u64 a = c->lf_src1, b = c->lf_src2;
	u32 f;
	bool r;

	/* CMP then Jcc is the common case: answer from the operands. */
	if (kind == LF_SUB) {
		switch (cc >> 1) {
		case 1: r = a < b; goto out;
		case 2: r = a == b; goto out;
		case 3: r = a <= b; goto out;
		case 6: r = sx(a, size) < sx(b, size); goto out;
		case 7: r = sx(a, size) <= sx(b, size); goto out;
		}
	} else if (kind == LF_LOGIC) {
		switch (cc >> 1) {
		case 0: case 1: r = false; goto out;
		case 2: case 3: r = c->lf_res == 0; goto out;
		case 4: case 6: r = c->lf_res & sign_bit(size); goto out;
		case 7:
			r = c->lf_res == 0 || (c->lf_res & sign_bit(size));
			goto out;
		}
	}
	f = c->lf_op == LF_NONE ? c->eflags : lazy_flags(c);
	switch (cc >> 1) {
	case 0: r = f & F_OF; break;
	case 1: r = f & F_CF; break;
	case 2: r = f & F_ZF; break;
	case 3: r = f & (F_CF | F_ZF); break;
	case 4: r = f & F_SF; break;
	case 5: r = f & F_PF; break;
	case 6: r = !(f & F_SF) != !(f & F_OF); break;
	default:
		r = (f & F_ZF) || (!(f & F_SF) != !(f & F_OF));
		break;
	}
out:
	return (cc & 1) ? !r : r;
}

u64 alu_arith(struct cpu *c, int op, u64 a, u64 b, int size)
{
	u64 m = size_mask(size), r;

	a &= m;
	b &= m;
	switch (op) {
	case 0: /* ADD */
		r = (a + b) & m;
		set_lazy(c, LF_ADD, a, b, r, size);
		return r;
	case 2: /* ADC */
		if (alu_cf(c)) {
			r = (a + b + 1) & m;
			set_lazy(c, LF_ADC, a, b, r, size);
		} else {
			r = (a + b) & m;
			set_lazy(c, LF_ADD, a, b, r, size);
		}
		return r;
	case 3: /* SBB */
		if (alu_cf(c)) {
			r = (a - b - 1) & m;
			set_lazy(c, LF_SBB, a, b, r, size);
		} else {
			r = (a - b) & m;
			set_lazy(c, LF_SUB, a, b, r, size);
		}
		return r;
	case 5: /* SUB */
	case 7: /* CMP */
		r = (a - b) & m;
		set_lazy(c, LF_SUB, a, b, r, size);
		return r;
	case 1: r = a | b; break;
	case 4: r = a & b; break;
	default: r = a ^ b; break;
	}
	set_lazy(c, LF_LOGIC, a, b, r, size);
	return r;
}

void alu_logic_flags(struct cpu *c, u64 res, int size)
{
	set_lazy(c, LF_LOGIC, 0, 0, res & size_mask(size), size);
}

/* Store CF/OF/AF eagerly, keep ZF/SF/PF lazy in res. */
static void set_res(struct cpu *c, u64 res, int size, u32 cf_of_af)
{
	c->eflags = (c->eflags & ~(F_CF | F_OF | F_AF)) |
		    (cf_of_af & (F_CF | F_OF | F_AF));
	set_lazy(c, LF_RES, 0, 0, res & size_mask(size), size);
}

void alu_set_res(struct cpu *c, u64 res, int size, u32 cf_of_af)
{
	set_res(c, res, size, cf_of_af);
}

/* INC and DEC leave CF alone: it moves into c->eflags first. */
u64 alu_inc(struct cpu *c, u64 a, int size)
{
	u64 m = size_mask(size), r;
	u32 f = alu_cf(c) ? F_CF : 0;

	a &= m;
	r = (a + 1) & m;
	if (r == sign_bit(size))
		f |= F_OF;
	f |= (a ^ r) & F_AF;
	set_res(c, r, size, f);
	return r;
}

u64 alu_dec(struct cpu *c, u64 a, int size)
{
	u64 m = size_mask(size), r;
	u32 f = alu_cf(c) ? F_CF : 0;

	a &= m;
	r = (a - 1) & m;
	if (a == sign_bit(size))
		f |= F_OF;
	f |= (a ^ r) & F_AF;
	set_res(c, r, size, f);
	return r;
}

u64 alu_neg(struct cpu *c, u64 a, int size)
{
	u64 m = size_mask(size), r;

	a &= m;
	r = (0 - a) & m;
	set_lazy(c, LF_SUB, 0, a, r, size);
	return r;
}

/*
 * Rotates change only CF and OF; the other flags stay as they were, so
 * the lazy state is folded first.  OF is defined only for a count of 1;
 * for larger counts we compute it by the same formula, as the host does.
 */
static u64 rotate(struct cpu *c, int op, u64 a, u32 count, int size)
{
	int bits = size * 8;
	u64 m = size_mask(size), sb = sign_bit(size), r;
	bool cf, of;

	a &= m;
	fold(c);
	cf = c->eflags & F_CF;
	switch (op) {
	case 0: /* ROL */
		if (!count)
			return a;
		count %= bits;
		r = count ? ((a << count) | (a >> (bits - count))) & m : a;
		cf = r & 1;
		of = !!(r & sb) != cf;
		break;
	case 1: /* ROR */
		if (!count)
			return a;
		count %= bits;
		r = count ? ((a >> count) | (a << (bits - count))) & m : a;
		cf = r & sb;
		of = !!(r & sb) != !!(r & (sb >> 1));
		break;
	case 2: /* RCL */
		count %= bits + 1;
		if (!count)
			return a;
		r = a;
		while (count--) {
			bool out = r & sb;

			r = ((r << 1) | cf) & m;
			cf = out;
		}
		of = !!(r & sb) != cf;
		break;
	default: /* RCR */
		count %= bits + 1;
		if (!count)
			return a;
		r = a;
		of = !!(r & sb) != cf;
		while (count--) {
			bool out = r & 1;

			r = (r >> 1) | (cf ? sb : 0);
			cf = out;
		}
		break;
	}
	c->eflags = (c->eflags & ~(F_CF | F_OF)) | (cf ? F_CF : 0) |
		    (of ? F_OF : 0);
	return r;
}

u64 alu_shift(struct cpu *c, int op, u64 a, u32 count, int size)
{
	int bits = size * 8;
	u64 m = size_mask(size), sb = sign_bit(size), r;
	bool cf, of;

	if (op < 4)
		return rotate(c, op, a, count, size);
	a &= m;
	if (!count)
		return a;
	switch (op) {
	case 4: /* SHL */
	case 6: /* SAL */
		if (count > (u32)bits) {
			r = 0;
			cf = false;
		} else {
			/* count = bits (8- and 16-bit operands) shifts all out */
			r = count == 64 ? 0 : (a << count) & m;
			cf = (a >> (bits - count)) & 1;
		}
		of = !!(r & sb) != cf;
		break;
	case 5: /* SHR */
		r = count >= (u32)bits ? 0 : a >> count;
		cf = count > (u32)bits ? false : (a >> (count - 1)) & 1;
		of = a & sb;
		break;
	default: { /* SAR */
		s64 s = (s64)sext(a, size);

		r = (u64)(s >> (count > 63 ? 63 : count)) & m;
		cf = (s >> (count - 1 > 63 ? 63 : count - 1)) & 1;
		of = false;
		break;
	}
	}
	/* AF is undefined; the host leaves it clear. */
	set_res(c, r, size, (cf ? F_CF : 0) | (of ? F_OF : 0));
	return r;
}

/*
 * SHLD/SHRD: count is masked (to 5 bits, 6 for 64-bit operands) by the
 * caller.  A count larger than a 16-bit operand leaves an undefined
 * result; we shift through the concatenation as far as it goes, like the
 * host.
 */
u64 alu_shld(struct cpu *c, u64 a, u64 b, u32 count, int size)
{
	u64 m = size_mask(size), r;
	bool cf;

	a &= m;
	b &= m;
	if (!count)
		return a;
	if (size == 8) {
		r = a << count | b >> (64 - count);
		cf = (a >> (64 - count)) & 1;
	} else if (size == 4) {
		u64 cat = a << 32 | b;

		r = (u32)((cat << count) >> 32);
		cf = (a >> (32 - count)) & 1;
	} else {
		/* a:b:a, as 48 bits, the host's behaviour for counts > 16 */
		u64 cat = a << 32 | b << 16 | a;

		r = ((cat << count) >> 32) & m;
		cf = ((cat << (count - 1)) >> 47) & 1;
	}
	set_res(c, r, size, (cf ? F_CF : 0) |
		(((r ^ a) & sign_bit(size)) ? F_OF : 0));
	return r;
}

u64 alu_shrd(struct cpu *c, u64 a, u64 b, u32 count, int size)
{
	u64 m = size_mask(size), r;
	bool cf;

	a &= m;
	b &= m;
	if (!count)
		return a;
	if (size == 8) {
		r = a >> count | b << (64 - count);
		cf = (a >> (count - 1)) & 1;
	} else if (size == 4) {
		u64 cat = b << 32 | a;

		r = (u32)(cat >> count);
		cf = (a >> (count - 1)) & 1;
	} else {
		/* b:a with a again above, for counts > 16 */
		u64 cat = a << 32 | b << 16 | a;

		r = (cat >> count) & m;
		cf = (cat >> (count - 1)) & 1;
	}
	set_res(c, r, size, (cf ? F_CF : 0) |
		(((r ^ a) & sign_bit(size)) ? F_OF : 0));
	return r;
}

/*
 * One-operand MUL and IMUL: rDX:rAX (AX) = rAX * b; DIV and IDIV of
 * rDX:rAX (AX) by b, #DE for a zero divisor and for a quotient that does
 * not fit, both before anything changes (the flags stay: the SDM leaves
 * them undefined).  The products and dividends of 64-bit operands need
 * 128 bits, which GCC gives us.  For the interpreter and the fast path
 * alike.
 */
void alu_mul(struct cpu *c, int size, u64 b, bool sign)
{
	u64 a = get_reg(c, R_EAX, size), m = size_mask(size), lo, hi;
	int bits = size * 8;
	bool over;

	if (!sign) {
		unsigned __int128 p = (unsigned __int128)(a & m) * (b & m);

		lo = (u64)p & m;
		hi = (u64)(p >> bits) & m;
		over = hi != 0;
	} else {
		__int128 p = (__int128)(s64)sext(a, size) * (s64)sext(b, size);

		lo = (u64)p & m;
		hi = (u64)((unsigned __int128)p >> bits) & m;
		over = p != (__int128)(s64)sext(lo, size);
	}
	if (size == 1) {
		set_reg16(c, R_EAX, (u16)(hi << 8 | lo));
	} else {
		set_reg(c, R_EAX, lo, size);
		set_reg(c, R_EDX, hi, size);
	}
	alu_set_res(c, lo, size, over ? F_CF | F_OF : 0);
}

void alu_div(struct cpu *c, int size, u64 b, bool sign)
{
	int bits = size * 8;
	u64 m = size_mask(size), q, r;
	unsigned __int128 n;

	b &= m;
	if (size == 1)
		n = (u16)c->r[R_EAX].d;
	else
		n = (unsigned __int128)get_reg(c, R_EDX, size) << bits |
		    get_reg(c, R_EAX, size);
	if (b == 0)
		cpu_raise(c, EXC_DE, 0);
	if (!sign) {
		unsigned __int128 qq = n / b;

		if (qq > m)
			cpu_raise(c, EXC_DE, 0);
		q = (u64)qq;
		r = (u64)(n % b);
	} else {
		/* The dividend, 2 * bits wide, sign-extended to 128. */
		__int128 sn = (__int128)(n << (128 - 2 * bits)) >>
			      (128 - 2 * bits);
		__int128 sb = (s64)sext(b, size), qq;
		__int128 lim = (__int128)1 << (bits - 1);

		/* -2^127 / -1, the one quotient __int128 cannot hold */
		if (sb == -1 && sn == -(__int128)(~(unsigned __int128)0 >> 1) - 1)
			cpu_raise(c, EXC_DE, 0);
		qq = sn / sb;
		if (qq >= lim || qq < -lim)
			cpu_raise(c, EXC_DE, 0);
		q = (u64)qq & m;
		r = (u64)(sn % sb) & m;
	}
	if (size == 1) {
		set_reg16(c, R_EAX, (u16)(r << 8 | q));
	} else {
		set_reg(c, R_EAX, q, size);
		set_reg(c, R_EDX, r, size);
	}
}
