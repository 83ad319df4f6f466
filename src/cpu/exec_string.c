/*
 * The string instructions: MOVS CMPS STOS LODS SCAS INS OUTS, with and
 * without REP.
 *
 * A REP instruction is a loop that may fault or be interrupted half way, so
 * every iteration leaves ECX, ESI and EDI (or CX, SI, DI with a 16-bit
 * address size) consistent: a fault restarts the instruction with what is
 * left.  Long loops are cut into chunks: after REP_CHUNK iterations EIP
 * stays on the instruction, the run loop gets a chance to take an
 * interrupt, and the next step carries on where this one stopped.
 *
 * Each iteration counts as an instruction against the run loop's budget
 * (icount), as if the loop were written out: otherwise a guest whose every
 * instruction is a 4096-iteration chunk would stretch a slice 4096 times,
 * to seconds, with timers, host fds and the user's three ^C unserved.  So
 * a chunk also ends where the budget does, and sooner when a device asked
 * the CPU to stop or an interrupt can be taken.  The virtual clock, made
 * of icount, then moves with the iterations too, which is time the guest
 * really spent.
 */
#include <string.h>

#include "exec.h"

#define REP_CHUNK 4096

struct str_state {
	int size;
	int adsize;	/* 2, 4 or 8: which part of rSI, rDI, rCX counts */
	u64 am;		/* address mask for that size */
	u64 step;	/* +size or -size */
	int src;	/* source segment */
};

static u64 reg_addr(struct cpu *c, int r, const struct str_state *s)
{
	return c->r[r].q & s->am;
}

/* r += step within the address size (a 32-bit result clears the upper
 * half, as every 32-bit write does in 64-bit code). */
static void reg_step(struct cpu *c, int r, const struct str_state *s,
		     u64 step)
{
	u64 v = c->r[r].q;

	if (s->adsize == 2)
		c->r[r].q = (v & ~0xffffull) | ((v + step) & 0xffff);
	else if (s->adsize == 4)
		c->r[r].q = (u32)(v + step);
	else
		c->r[r].q = v + step;
}

static void advance(struct cpu *c, int r, const struct str_state *s)
{
	reg_step(c, r, s, s->step);
}

/* One iteration, registers updated only once it cannot fault. */
static void string_once(struct cpu *c, u8 op,
			const struct str_state *s)
{
	int size = s->size;
	u64 a, b;
	u16 port;

	switch (op & ~1) {
	case 0xa4:	/* MOVS */
		a = mem_read(c, s->src, reg_addr(c, R_ESI, s), size);
		mem_write(c, S_ES, reg_addr(c, R_EDI, s), a, size);
		advance(c, R_ESI, s);
		advance(c, R_EDI, s);
		break;
	case 0xa6:	/* CMPS */
		a = mem_read(c, s->src, reg_addr(c, R_ESI, s), size);
		b = mem_read(c, S_ES, reg_addr(c, R_EDI, s), size);
		alu_arith(c, 7, a, b, size);
		advance(c, R_ESI, s);
		advance(c, R_EDI, s);
		break;
	case 0xaa:	/* STOS */
		mem_write(c, S_ES, reg_addr(c, R_EDI, s),
			  get_reg(c, R_EAX, size), size);
		advance(c, R_EDI, s);
		break;
	case 0xac:	/* LODS */
		a = mem_read(c, s->src, reg_addr(c, R_ESI, s), size);
		set_reg(c, R_EAX, a, size);
		advance(c, R_ESI, s);
		break;
	case 0xae:	/* SCAS */
		b = mem_read(c, S_ES, reg_addr(c, R_EDI, s), size);
		alu_arith(c, 7, get_reg(c, R_EAX, size), b, size);
		advance(c, R_EDI, s);
		break;
	case 0x6c:	/* INS: check everything before the device sees it */
		port = (u16)c->r[R_EDX].d;
		if (cpu_pmode(c))
			sys_io_check(c, port, size);
		mem_check(c, S_ES, reg_addr(c, R_EDI, s), size, ACC_WRITE);
		a = exec_in(c, port, size);
		mem_write(c, S_ES, reg_addr(c, R_EDI, s), a, size);
		advance(c, R_EDI, s);
		break;
	default:	/* 0x6e OUTS */
		port = (u16)c->r[R_EDX].d;
		a = mem_read(c, s->src, reg_addr(c, R_ESI, s), size);
		exec_out(c, port, a, size);
		advance(c, R_ESI, s);
		break;
	}
}

/* The host address of lin if the TLB maps its page to RAM with the rights
 * asked for, else NULL (the same lookup as mmu.c's). */
static u8 *tlb_host_for(struct cpu *c, u64 lin, bool write)
{
	const struct tlb_entry *e = tlb_entry_for(c, lin);

	if (write ? !tlb_write_hit(c, lin) : e->vpage != (lin >> 12) + 1)
		return NULL;
	return tlb_host(e, lin);
}

/*
 * REP STOS's bytes: bytes (a multiple of size, 1, 2 or 4) copies of the
 * low size bytes of v.  A value whose bytes are all alike is a memset():
 * zero above all, which Linux's clear_user() stores with REP STOSL for
 * every read of /dev/zero and every page it zeroes for a user.  Any other
 * is laid down once and then doubled, so a page costs a dozen memcpy()s
 * and not one per element (a call per 4 bytes was most of the host's time
 * under dd if=/dev/zero in the guest).
 */
static void fill(u8 *dst, u32 v, u32 size, u32 bytes)
{
	u32 done, chunk;

	if (size == 1 || (size == 2 && (u16)v == (u8)v * 0x0101u) ||
	    v == (u8)v * 0x01010101u) {
		memset(dst, (u8)v, bytes);
		return;
	}
	memcpy(dst, &v, size);	/* the guest's byte order is the host's */
	for (done = size; done < bytes; done += chunk) {
		chunk = done < bytes - done ? done : bytes - done;
		memcpy(dst + done, dst, chunk);
	}
}

/* How many elements of size a REP MOVS (movs) or STOS going up may do
 * before its source or its destination reaches the end of its page. */
static u32 rep_room(const struct cpu *c, bool movs, u32 size, int src)
{
	u32 room = 0x1000 - ((c->seg[S_ES].base + c->r[R_EDI].d) & 0xfff);
	u32 sroom = 0x1000 - ((c->seg[src].base + c->r[R_ESI].d) & 0xfff);

	return (movs && sroom < room ? sroom : room) / size;
}

/*
 * n iterations of REP MOVS (movs) or STOS going up with 32-bit addresses,
 * all within the current source and destination pages (rep_room()), in
 * one go, if the segments and the TLB allow them straight to RAM; else
 * nothing is done and 0 returned.  With check, everything that could
 * fault is checked first and faults just as the first iteration would
 * (same pages, same segments).
 */
static u32 rep_pages(struct cpu *c, bool movs, u32 size, int seg, u32 n,
		     bool check)
{
	u32 esi = c->r[R_ESI].d, edi = c->r[R_EDI].d, bytes = n * size, i;
	u8 *dst, *src = NULL;

	if (!seg_limit_ok(&c->seg[S_ES], edi, bytes) ||
	    (movs && !seg_limit_ok(&c->seg[seg], esi, bytes)))
		return 0;
	if (check && movs)
		mem_check(c, seg, esi, bytes, ACC_READ);
	if (check)
		mem_check(c, S_ES, edi, bytes, ACC_WRITE);
	dst = tlb_host_for(c, c->seg[S_ES].base + edi, true);
	if (movs)
		src = tlb_host_for(c, c->seg[seg].base + esi, false);
	if (!dst || (movs && !src))
		return 0;
	if (movs && (dst <= src || dst >= src + bytes)) {
		memmove(dst, src, bytes);
	} else if (movs) {
		/* Overlapping upwards: the CPU replicates the pattern, one
		 * element at a time (wider ones go the slow way). */
		if (size != 1)
			return 0;
		for (i = 0; i < bytes; i++)
			dst[i] = src[i];
	} else {
		fill(dst, c->r[R_EAX].d, size, bytes);
	}
	c->r[R_EDI].d = edi + bytes;
	if (movs)
		c->r[R_ESI].d = esi + bytes;
	c->r[R_ECX].d -= n;
	return n;
}

/*
 * REP MOVS and REP STOS going up with 32-bit addresses, as memcpy(),
 * memset() and clear_page() use them: do the iterations that stay within
 * the current source and destination pages in one go (rep_pages()); a
 * range the segment limit cuts goes the slow way.  Returns the iterations
 * done, 0 to take the slow path.
 */
static u32 rep_fast(struct cpu *c, u8 op, const struct str_state *s,
		    u32 max)
{
	bool movs = (op & ~1) == 0xa4;
	u32 n;

	if (s->step != (u64)s->size || s->adsize != 4 || cpu_64bit(c))
		return 0;
	n = rep_room(c, movs, (u32)s->size, s->src);
	if (n > max)
		n = max;
	if (n > c->r[R_ECX].d)
		n = c->r[R_ECX].d;
	if (n < 2)
		return 0;
	return rep_pages(c, movs, (u32)s->size, s->src, n, true);
}

/* Iterations this step may do: a chunk, but no more than the budget has
 * left, and always one so that the instruction moves on. */
static u32 rep_limit(const struct cpu *c)
{
	u64 now = icount_of(c);
	u64 left = c->budget_end > now ? c->budget_end - now : 0;

	if (left >= REP_CHUNK)
		return REP_CHUNK;
	return left ? (u32)left : 1;
}

/* The run loop has something to do before the next iteration. */
static bool rep_break(const struct cpu *c)
{
	return c->stop || (c->intr && (c->eflags & F_IF));
}

/*
 * REP MOVS or REP STOS in 32-bit code going up, all of it within one page
 * of source and one of destination that the TLB has, no more iterations
 * than the budget allows: what exec_string() would do in one rep_fast()
 * step, without its set-up, which cost more than the copy itself for the
 * 64 bytes that Linux's copy_to_user() moves at a time (/dev/urandom's
 * every ChaCha block).  A TLB hit says no fault can come (the entries
 * hold only what the walk allowed, and no store reaches a page of
 * translated code by them).  Returns false, having done nothing, for
 * anything else.
 */
bool exec_rep_quick(struct cpu *c, u8 op, u32 size, int src)
{
	bool movs = (op & ~1) == 0xa4;
	u32 n = c->r[R_ECX].d;

	if (!n || (c->eflags & F_DF) || n > rep_limit(c) || cpu_64bit(c) ||
	    n > rep_room(c, movs, size, src) ||
	    rep_pages(c, movs, size, src, n, false) != n)
		return false;
	c->ictr += n - 1;
	return true;
}

void exec_string(struct cpu *c, struct insn *d, u8 op)
{
	struct str_state s;
	bool cmp = (op & ~1) == 0xa6 || (op & ~1) == 0xae;
	u32 n, limit, step;

	s.size = (op & 1) ? d->opsize : 1;
	if ((op & ~1) == 0x6c || (op & ~1) == 0x6e)
		s.size = s.size > 4 ? 4 : s.size;	/* no 64-bit I/O */
	s.adsize = d->adsize;
	s.am = size_mask(d->adsize);
	s.step = (c->eflags & F_DF) ? -(u64)s.size : (u64)s.size;
	s.src = data_seg(d);
	if (!d->rep) {
		string_once(c, op, &s);
		return;
	}
	limit = rep_limit(c);
	for (n = 0; ; n += step) {
		if ((c->r[R_ECX].q & s.am) == 0)
			return;
		if (n && (n >= limit || rep_break(c))) {
			d->next = d->start;
			return;
		}
		step = 0;
		if (!cmp && (op & ~1) != 0x6c && (op & ~1) != 0x6e &&
		    (op & ~1) != 0xac)
			step = rep_fast(c, op, &s, limit - n);
		if (!step) {
			string_once(c, op, &s);
			reg_step(c, R_ECX, &s, -1ull);
			step = 1;
		}
		/* The run loop counts the instruction once; each further
		 * iteration is charged as it completes, so a fault part way
		 * through still pays for the iterations before it. */
		c->ictr += n ? step : step - 1;
		if (cmp && cpu_cond(c, 4) != (d->rep == 0xf3))
			return;
	}
}
