/*
 * Paging: page tables switched on and used, page faults (CR2 and error
 * codes) returned from, CR0.WP, user/supervisor and read/write checks
 * combined across PDE and PTE, accessed and dirty bits, 4 MiB pages,
 * global pages across CR3 reloads, INVLPG.  (The PAE format is pae.c's;
 * CR4 bits of absent features are features.c's.)
 */
#include "faults.h"

#define V(n) (0x600000u + (n) * 0x1000u)	/* test pages: pt[1][512+n] */
#define P(n) (0x300000u + (n) * 0x1000u)	/* their frames */

static u32 *pte(int n)
{
	return &pt[1][512 + n];
}

static void map(int n, u32 frame, u32 bits)
{
	*pte(n) = frame | bits;
	invlpg(V(n));
}

/* A #PF on page 1 maps it and retries the access. */
static void map_on_fault(struct frame *f)
{
	if (f->vec == 14 && (read_cr2() & ~0xfffu) == V(1))
		map(1, P(1), PTE_P | PTE_W);
}

static void basic(void)
{
	u32 v = 0;

	paging_build();
	paging_on();
	check(read_cr0() & 0x80000000u, "CR0.PG is set and we still run");
	wr32(P(0), 0x11223344);
	map(0, P(0), PTE_P | PTE_W);
	check_eq(rd32(V(0)), 0x11223344, "a 4 KiB page maps another frame");

	wr32(P(1) + 8, 0xcafef00d);
	map(1, 0, 0);
	last.count = 0;
	trap_hook = map_on_fault;
	v = rd32(V(1) + 8);
	trap_hook = 0;
	check_eq(last.count, 1, "a read of a not-present page faults once");
	check_eq(last.vec, 14, "... with #PF");
	check_eq(last.cr2, V(1) + 8, "... CR2 is the address");
	check_eq(last.err, 0, "... error code 0 (supervisor read, not present)");
	check_eq(v, 0xcafef00d, "... and the retried read sees the new page");

	map(1, 0, 0);
	check(try_wr(V(1) + 12, 1) && last.err == 2,
	      "a write to a not-present page: error code 2");
}

static void wp(void)
{
	u32 cr0 = read_cr0();

	map(2, P(2), PTE_P);	/* read-only, supervisor */
	write_cr0(cr0 & ~0x10000u);
	check(!try_wr(V(2), 0x55) && rd32(P(2)) == 0x55,
	      "CR0.WP=0: the supervisor writes a read-only page");
	write_cr0(cr0 | 0x10000u);
	check(try_wr(V(2), 0x66) && last.err == 3 && last.cr2 == V(2) &&
	      rd32(P(2)) == 0x55,
	      "CR0.WP=1: the same write faults with error code 3");
	/* Read-only in the PDE, writable in the PTE: still read-only. */
	map(2, P(2), PTE_P | PTE_W);
	pd[1] &= ~PTE_W;
	invlpg(V(2));
	check(try_wr(V(2), 0x77) && last.err == 3,
	      "R/W is combined across PDE and PTE");
	pd[1] |= PTE_W;
	invlpg(V(2));
	write_cr0(cr0);
}

/* Eight times, all of which must fault: the first may run on the
 * interpreter (a time slice ending), the later ones in translated code. */
static void user_read_super(void)
{
	u32 v, err = 0;
	int i;

	for (i = 0; i < 8; i++) {
		if (!try_rd(V(3), &v))
			user_exit(-1);
		err |= last.err;
	}
	user_exit((int)err);
}

static void user_write_ro(void)
{
	user_exit(try_wr(V(4), 1) ? (int)last.err : -1);
}

static void user_write_rw(void)
{
	user_exit(try_wr(V(5), 0x1234) ? (int)last.err : 0);
}

/*
 * A jump to addr, whose code jumps back through back_to: 1 if it
 * trapped.  Translated code follows an indirect jump to its target's
 * block without leaving, through the TLB of the CPL it runs at, and
 * links the jump to where it went last: one function for both rings,
 * so that ring 3 finds the link the supervisor made.
 */
volatile u32 back_to;

static __attribute__((noinline)) int try_jmp(u32 addr)
{
	int f;

	asm volatile("movl $1f, resume\n\t"
		     "movl $3f, back_to\n\t"
		     "jmp *%1\n"
		     "3:\tmovl $0, resume\n\t"
		     "xorl %0, %0\n\t"
		     "jmp 2f\n"
		     "1:\tmovl $1, %0\n"
		     "2:"
		     : "=&r"(f) : "r"(addr) : "eax", "memory");
	return f;
}

/* Eight jumps into a supervisor page of code that the supervisor has
 * run just before, from its translated block: each must fault. */
static void user_jmp_super(void)
{
	u32 err = 0;
	int i;

	for (i = 0; i < 8; i++) {
		if (!try_jmp(V(9)))
			user_exit(-1);
		err |= last.err;
	}
	user_exit((int)err);
}

static void user_pages(void)
{
	static const u8 code[] = {
		0xb8, 0x2a, 0, 0, 0,		/* mov eax, 42 */
		0xff, 0x25, 0, 0, 0, 0,		/* jmp [back_to] */
	};
	u8 *p = (u8 *)P(9);
	u32 at = (u32)&back_to;
	int i, ran = 0;

	map(3, P(3), PTE_P | PTE_W);		/* supervisor only */
	map(4, P(4), PTE_P | PTE_U);		/* user, read-only */
	map(5, P(5), PTE_P | PTE_W | PTE_U);	/* user, writable */
	/* After the supervisor's own read: a TLB entry for the page that
	 * ring 3 must not use (lguest keeps one TLB per privilege). */
	check_eq(rd32(V(3)), rd32(P(3)), "the supervisor reads its page");
	check_eq(run_user(user_read_super), 5,
		 "ring 3 reading a supervisor page: #PF error code 5");
	check_eq(run_user(user_write_ro), 7,
		 "ring 3 writing a read-only page: #PF error code 7");
	check(run_user(user_write_rw) == 0 && rd32(P(5)) == 0x1234,
	      "ring 3 writes a user-writable page");
	pd[1] &= ~PTE_U;
	invlpg(V(5));
	check_eq(run_user(user_write_rw), 7,
		 "U/S is combined across PDE and PTE");
	pd[1] |= PTE_U;
	invlpg(V(5));

	for (i = 0; i < (int)sizeof(code); i++)
		p[i] = code[i];
	for (i = 0; i < 4; i++)
		p[7 + i] = (u8)(at >> (8 * i));
	map(9, P(9), PTE_P | PTE_W);		/* supervisor only */
	for (i = 0; i < 8; i++)
		ran += !try_jmp(V(9));
	check_eq(ran, 8, "the supervisor runs code in its own page");
	check_eq(run_user(user_jmp_super), 5,
		 "ring 3 jumping into a supervisor page: #PF error code 5");
}

static void accessed_dirty(void)
{
	map(6, P(6), PTE_P | PTE_W);
	pd[1] &= ~PTE_A;
	invlpg(V(6));
	(void)rd32(V(6));
	check((*pte(6) & (PTE_A | PTE_D)) == PTE_A && (pd[1] & PTE_A),
	      "a read sets A in the PTE and PDE, not D");
	wr32(V(6), 9);
	check((*pte(6) & (PTE_A | PTE_D)) == (PTE_A | PTE_D),
	      "a write sets D");
	*pte(6) &= ~PTE_D;
	invlpg(V(6));
	wr32(V(6), 10);
	check(*pte(6) & PTE_D, "after INVLPG, the next write sets D again");
}

static void large_pages(void)
{
	write_cr4(read_cr4() | 0x10);	/* PSE */
	pd[2] = 0x400000u | PTE_P | PTE_W | PTE_PS;
	invlpg(0x800000u);
	wr32(0x800000u + 0x3ff004u, 0xabcd);
	check_eq(rd32(0x400000u + 0x3ff004u), 0xabcd,
		 "a 4 MiB page maps 4 MiB of frames");
	check((pd[2] & (PTE_A | PTE_D)) == (PTE_A | PTE_D),
	      "a write through a 4 MiB page sets A and D in the PDE");
	wr32(0x400000u + 0x10, 0x1111);
	(void)rd32(0x800010u);
	pd[2] = 0x000000u | PTE_P | PTE_W | PTE_PS;
	invlpg(0x800000u + 0x200000u);
	check_eq(rd32(0x800010u), rd32(0x10),
		 "INVLPG anywhere in a 4 MiB page drops all of it");
	pd[2] = 0;
	invlpg(0x800000u);
	check(try_wr(0x800000u, 1) && last.cr2 == 0x800000u,
	      "an empty PDE faults");
}

/* A global 4 MiB page, 4 KiB pieces of which the TLB holds: INVLPG of
 * another piece drops them all.  (Called with CR4.PGE set.) */
static void global_large(void)
{
	write_cr4(read_cr4() | 0x10);	/* PSE */
	wr32(0x400000u + 0x5010u, 0x5151);
	wr32(0x000000u + 0x5010u, 0x5252);
	pd[2] = 0x400000u | PTE_P | PTE_W | PTE_PS | PTE_G;
	invlpg(0x800000u);
	(void)rd32(0x800000u + 0x5010u);
	(void)rd32(0x800000u + 0x9010u);
	pd[2] = 0x000000u | PTE_P | PTE_W | PTE_PS | PTE_G;
	invlpg(0x800000u + 0x300000u);
	check_eq(rd32(0x800000u + 0x5010u), 0x5252,
		 "INVLPG anywhere in a global 4 MiB page drops all of it");
	pd[2] = 0;
	invlpg(0x800000u);
}

static void global_pages(void)
{
	u32 cr4 = read_cr4();

	write_cr4(cr4 | 0x80);		/* PGE */
	wr32(P(8), 0x8888);
	wr32(P(9), 0x9999);
	wr32(P(10), 0xaaaa);
	wr32(P(11), 0xbbbb);
	map(8, P(8), PTE_P | PTE_W | PTE_G);
	map(10, P(10), PTE_P | PTE_W);
	(void)rd32(V(8));
	(void)rd32(V(10));
	*pte(8) = P(9) | PTE_P | PTE_W | PTE_G;
	*pte(10) = P(11) | PTE_P | PTE_W;
	write_cr3(read_cr3());
	check_eq(rd32(V(8)), 0x8888,
		 "a global page's translation survives a CR3 reload");
	check_eq(rd32(V(10)), 0xbbbb,
		 "a non-global page's does not");
	invlpg(V(8));
	check_eq(rd32(V(8)), 0x9999, "INVLPG drops a global page");
	*pte(8) = P(8) | PTE_P | PTE_W | PTE_G;
	write_cr4(cr4);
	write_cr4(cr4 | 0x80);
	check_eq(rd32(V(8)), 0x8888, "toggling CR4.PGE flushes global pages");
	global_large();
	write_cr4(cr4);
}

/*
 * Remapping again and again, so that the translator runs it: its inline
 * accesses keep the page they found last in front of the TLB, and
 * INVLPG, a CR3 reload and a page that comes to hold code must each
 * empty that as they empty the TLB.  Each read or write just before the
 * change goes through the translation the TLB may still hold (which one
 * is the CPU's business, so only the access after the change is
 * checked), and is the last access of its kind before it.
 */
static u8 code_page[4096] __attribute__((aligned(4096)));

static void remap_again(void)
{
	u32 i, v, inv = 0, cr3 = 0, wr = 0, code = 0;
	u32 (*fn)(void) = (u32 (*)(void))(void *)code_page;

	wr32(P(12), 0x1212);
	wr32(P(13), 0x1313);
	map(12, P(12), PTE_P | PTE_W);
	for (i = 0; i < 64; i++) {
		*pte(12) = P(13) | PTE_P | PTE_W;
		(void)rd32(V(12));
		invlpg(V(12));
		v = rd32(V(12));
		inv += v != 0x1313;
		*pte(12) = P(12) | PTE_P | PTE_W;
		(void)rd32(V(12));
		write_cr3(read_cr3());
		v = rd32(V(12));
		cr3 += v != 0x1212;
		*pte(12) = P(13) | PTE_P | PTE_W;
		wr32(V(12), 0x5555);
		invlpg(V(12));
		wr32(V(12), i);
		v = rd32(P(13));
		wr += v != i;
		*pte(12) = P(12) | PTE_P | PTE_W;
		invlpg(V(12));
		wr32(P(12), 0x1212);
		wr32(P(13), 0x1313);
	}
	for (i = 0; i < 64; i++) {	/* mov eax, i; ret */
		code_page[0] = 0xb8;
		code_page[1] = (u8)i;
		code_page[2] = code_page[3] = code_page[4] = 0;
		code_page[5] = 0xc3;
		code += fn() != i;
	}
	check_eq(inv, 0, "a read after INVLPG, 64 times, sees the new page");
	check_eq(cr3, 0, "a read after a CR3 reload, 64 times, sees the new "
		 "page");
	check_eq(wr, 0, "a write after INVLPG, 64 times, goes to the new page");
	check_eq(code, 0, "code written, run, written again, 64 times: the "
		 "new code runs");
}

/*
 * 8-byte accesses through a flat data segment whose base is odd, where
 * 32-bit linear addresses wrap at 4 GiB: one that crosses the wrap (its
 * first half at the top page, its second at linear 0), and one whose
 * offsets cross 2^32 while its linear bytes sit inside one page.  A 4 GiB
 * limit does not fault on either (Bochs' rule; QEMU's too); reads by
 * MOVQ and CMPXCHG8B, a write by MOVQ.
 */
static u32 top_pt[1024] __attribute__((aligned(4096)));

static u64 es_movq_rd(u32 off)
{
	u32 lo, hi;

	asm volatile("movq %%es:(%2), %%mm0\n\t"
		     "movd %%mm0, %0\n\tpsrlq $32, %%mm0\n\tmovd %%mm0, %1\n\t"
		     "emms" : "=r"(lo), "=r"(hi) : "r"(off) : "memory");
	return (u64)hi << 32 | lo;
}

static void es_movq_wr(u32 off, u32 lo, u32 hi)
{
	asm volatile("movd %1, %%mm0\n\tmovd %2, %%mm1\n\t"
		     "punpckldq %%mm1, %%mm0\n\tmovq %%mm0, %%es:(%0)\n\t"
		     "emms" : : "r"(off), "r"(lo), "r"(hi) : "memory");
}

/* The same by MOVQ to and from XMM0 (with CR4.OSFXSR set), which the
 * CPU runs through mem_read_fast() and mem_write_fast(). */
static u64 es_movq_xmm_rd(u32 off)
{
	u32 lo, hi;

	asm volatile("movq %%es:(%2), %%xmm0\n\t"
		     "movd %%xmm0, %0\n\tpsrlq $32, %%xmm0\n\tmovd %%xmm0, %1"
		     : "=r"(lo), "=r"(hi) : "r"(off) : "memory");
	return (u64)hi << 32 | lo;
}

static void es_movq_xmm_wr(u32 off, u32 lo, u32 hi)
{
	asm volatile("movd %1, %%xmm0\n\tmovd %2, %%xmm1\n\t"
		     "punpckldq %%xmm1, %%xmm0\n\tmovq %%xmm0, %%es:(%0)"
		     : : "r"(off), "r"(lo), "r"(hi) : "memory");
}

/* CMPXCHG8B with EDX:EAX that cannot match: loads the qword (and writes
 * it back unchanged). */
static u64 es_cx8_rd(u32 off)
{
	u32 lo = 0x5a5a5a5a, hi = 0xa5a5a5a5;

	asm volatile("lock cmpxchg8b %%es:(%2)" : "+a"(lo), "+d"(hi)
		     : "r"(off), "b"(0), "c"(0) : "memory", "cc");
	return (u64)hi << 32 | lo;
}

/* The same through FS, which translated code reaches inline whatever its
 * base: a dword and an x87 qword (FLD, then FSTP to plain memory) across
 * the wrap and over 2^32, and a dword store across the wrap. */
static void fs_wrap(u32 cross, u32 over, u32 out[6])
{
	asm volatile("movl %%fs:(%1), %%eax\n\tmovl %%eax, (%0)\n\t"
		     "movl %%fs:(%2), %%eax\n\tmovl %%eax, 4(%0)\n\t"
		     "fldl %%fs:(%1)\n\tfstpl 8(%0)\n\t"
		     "fldl %%fs:(%2)\n\tfstpl 16(%0)\n\t"
		     "movl $0x5a5b5c5d, %%fs:2(%1)"
		     : : "r"(out), "r"(cross), "r"(over) : "eax", "memory");
}

static void segment_wrap(void)
{
	u64 saved = gdt[SEL_NP / 8];
	u32 base = 0x1003, low0 = rd32(0), v;
	u32 cross = 0xfffffffcu - base;		/* linear 0xfffffffc */
	u32 over = 0xfffffffdu;			/* linear 0x1000 */
	u32 out[6];
	u64 q;
	int i, n;

	top_pt[1023] = P(6) | PTE_P | PTE_W;
	pd[1023] = (u32)top_pt | PTE_P | PTE_W;
	invlpg(0xfffff000u);
	wr32(P(6) + 0xffc, 0x44332211);
	wr32(0, 0x88776655);
	for (i = 0; i < 2; i++)
		wr32(0x1000 + 4 * i, 0x0f0e0d0c + i * 0x04040404);
	gdt[SEL_NP / 8] = seg_desc(base, 0xfffff, 0x92, 0xc);
	asm volatile("movw %w0, %%es" : : "r"(SEL_NP));
	last.count = 0;
	q = es_movq_rd(cross);
	check_eq((u32)q, 0x44332211,
		 "MOVQ across the 4 GiB wrap (odd base): the top page's half");
	check_eq((u32)(q >> 32), 0x88776655, "... and linear 0's half");
	q = es_cx8_rd(cross);
	check_eq((u32)q, 0x44332211, "CMPXCHG8B across the wrap: low half");
	check_eq((u32)(q >> 32), 0x88776655, "... high half");
	q = es_movq_rd(over);
	check_eq((u32)q, 0x0f0e0d0c,
		 "MOVQ whose offsets cross 2^32 (odd base): linear 0x1000");
	check_eq((u32)(q >> 32), 0x13121110, "... and 0x1004");
	q = es_cx8_rd(over);
	check_eq((u32)q, 0x0f0e0d0c, "CMPXCHG8B whose offsets cross 2^32");
	check_eq((u32)(q >> 32), 0x13121110, "... high half");
	write_cr4(read_cr4() | 0x200);	/* OSFXSR */
	q = es_movq_xmm_rd(cross);
	check_eq((u32)q, 0x44332211, "MOVQ xmm across the wrap: low half");
	check_eq((u32)(q >> 32), 0x88776655, "... high half");
	q = es_movq_xmm_rd(over);
	check_eq((u32)q, 0x0f0e0d0c, "MOVQ xmm whose offsets cross 2^32");
	check_eq((u32)(q >> 32), 0x13121110, "... high half");
	es_movq_xmm_wr(cross, 0x01020304, 0x05060708);
	check_eq(rd32(P(6) + 0xffc), 0x01020304,
		 "a MOVQ xmm store across the wrap: the top page's half");
	check_eq(rd32(0), 0x05060708, "... and linear 0's half");
	es_movq_xmm_wr(over, 0x21222324, 0x25262728);
	check_eq(rd32(0x1000), 0x21222324,
		 "a MOVQ xmm store whose offsets cross 2^32: linear 0x1000");
	check_eq(rd32(0x1004), 0x25262728, "... and 0x1004");
	write_cr4(read_cr4() & ~0x200u);
	es_movq_wr(cross, 0xaabbccdd, 0x11223344);
	check_eq(last.count, 0, "none of them faulted");
	asm volatile("movw %w0, %%es" : : "r"(KDATA));
	check_eq(rd32(P(6) + 0xffc), 0xaabbccdd,
		 "a MOVQ store across the wrap: the top page's half");
	v = rd32(0);
	check_eq(v, 0x11223344, "... and linear 0's half");
	for (i = 0; i < 2; i++)
		wr32(0x1000 + 4 * i, 0x0f0e0d0c + i * 0x04040404);
	asm volatile("movw %w0, %%fs" : : "r"(SEL_NP));
	for (i = 0, n = 0; i < 8; i++) {
		wr32(P(6) + 0xffc, 0x44332211);
		wr32(0, 0x88776655);
		fs_wrap(cross, over, out);
		n += out[0] == 0x44332211 && out[1] == 0x0f0e0d0c &&
		     out[2] == 0x44332211 && out[3] == 0x88776655 &&
		     out[4] == 0x0f0e0d0c && out[5] == 0x13121110 &&
		     rd32(P(6) + 0xffc) == 0x5c5d2211 &&
		     rd32(0) == 0x88775a5b;
	}
	asm volatile("movw %w0, %%fs" : : "r"(KDATA));
	check_eq(n, 8, "FS with an odd base: dwords, FLD qword and a store "
		 "across the wrap and over 2^32, eight times over");
	check_eq(last.count, 0, "... without a fault");
	wr32(0, low0);
	gdt[SEL_NP / 8] = saved;
	pd[1023] = 0;
	invlpg(0xfffff000u);
}

void test_main(void)
{
	basic();
	wp();
	user_pages();
	accessed_dirty();
	large_pages();
	global_pages();
	remap_again();
	segment_wrap();
}
