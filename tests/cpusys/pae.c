/*
 * PAE paging and NX: the three-level walk with 64-bit entries (4 KiB and
 * 2 MiB pages), accessed and dirty bits written into 64-bit entries,
 * reserved bits (#PF with RSVD; MAXPHYADDR 36), the PDPTEs loaded by a
 * MOV to CR3 (#GP on a reserved bit, no effect of later stores until the
 * next load), global pages and INVLPG, and EFER.NXE with bit 63: a fetch
 * from an NX page faults with the I/D bit, also when the page ran before
 * (the translator and the decoded-instruction cache must not run it from
 * what they kept), while without NXE bit 63 is a reserved bit.
 *
 * Its own page tables, not lib.c's two-level ones: 0-4 MiB identity
 * mapped with 4 KiB pages, 4-6 MiB with one 2 MiB page; test pages at
 * V(n), through pt_test, on frames P(n); a 2 MiB test page at 8 MiB.
 */
#include "faults.h"

#define V(n) (0x600000u + (n) * 0x1000u)	/* test pages: pt_test[n] */
#define P(n) (0x300000u + (n) * 0x1000u)	/* their frames */
#define BIG 0x800000u				/* the 2 MiB test page */
#define HI1 0x40000000u				/* through pdpt[1] */

#define NX_HI 0x80000000u	/* bit 63, in an entry's high half */
#define MSR_EFER 0xc0000080u
#define EFER_NXE 0x800u

static u64 pdpt[4] __attribute__((aligned(32)));
static u64 pdpt_bad[4] __attribute__((aligned(32)));
static u64 pd0[512] __attribute__((aligned(4096)));
static u64 pd1[512] __attribute__((aligned(4096)));
static u64 pd1b[512] __attribute__((aligned(4096)));
static u64 pt_low[2][512] __attribute__((aligned(4096)));
static u64 pt_test[512] __attribute__((aligned(4096)));

static u32 lo(u64 v)
{
	return (u32)v;
}

static u32 hi(u64 v)
{
	return (u32)(v >> 32);
}

static u64 rdmsr(u32 msr)
{
	u32 a, d;

	asm volatile("rdmsr" : "=a"(a), "=d"(d) : "c"(msr));
	return (u64)d << 32 | a;
}

static void wrmsr(u32 msr, u64 v)
{
	asm volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)));
}

static void set_nxe(int on)
{
	u64 efer = rdmsr(MSR_EFER);

	wrmsr(MSR_EFER, on ? efer | EFER_NXE : efer & ~(u64)EFER_NXE);
}

static void map(int n, u64 frame, u32 bits, u32 high)
{
	pt_test[n] = frame | bits | (u64)high << 32;
	invlpg(V(n));
}

/* MOV to CR3 that may fault. */
static int try_cr3(u32 v)
{
	int f;

	asm volatile("movl $1f, resume\n\t"
		     "movl %1, %%cr3\n\t"
		     "movl $0, resume\n\t"
		     "xorl %0, %0\n\t"
		     "jmp 2f\n"
		     "1:\tmovl $1, %0\n"
		     "2:"
		     : "=&r"(f) : "r"(v) : "memory");
	return f;
}

/*
 * Jump to code at addr, which must end with "jmp *%ecx": returns 1 if
 * the jump (or the code) trapped, else 0 with *eax the code's EAX.
 */
static int try_run(u32 addr, u32 *eax)
{
	int f;
	u32 a = 0;

	asm volatile("movl $1f, resume\n\t"
		     "movl $3f, %%ecx\n\t"
		     "jmp *%2\n"
		     "3:\tmovl $0, resume\n\t"
		     "xorl %0, %0\n\t"
		     "jmp 2f\n"
		     "1:\tmovl $1, %0\n"
		     "2:"
		     : "=&r"(f), "+a"(a) : "r"(addr) : "ecx", "memory");
	*eax = a;
	return f;
}

/* "mov $v, %eax; jmp *%ecx" at physical address pa. */
static void put_code(u32 pa, u32 v)
{
	static const u8 tail[2] = { 0xff, 0xe1 };
	u8 *p = (u8 *)pa;
	int i;

	p[0] = 0xb8;
	for (i = 0; i < 4; i++)
		p[1 + i] = (u8)(v >> (8 * i));
	p[5] = tail[0];
	p[6] = tail[1];
}

static void build(void)
{
	int i, j;

	for (i = 0; i < 2; i++)
		for (j = 0; j < 512; j++)
			pt_low[i][j] = ((u64)(i * 512 + j) << 12) |
				       PTE_P | PTE_W | PTE_U;
	pd0[0] = (u32)pt_low[0] | PTE_P | PTE_W | PTE_U;
	pd0[1] = (u32)pt_low[1] | PTE_P | PTE_W | PTE_U;
	pd0[2] = 0x400000u | PTE_P | PTE_W | PTE_U | PTE_PS;
	pd0[3] = (u32)pt_test | PTE_P | PTE_W | PTE_U;
	pd1[0] = 0x200000u | PTE_P | PTE_W | PTE_PS;
	pd1b[0] = 0x400000u | PTE_P | PTE_W | PTE_PS;
	pdpt[0] = (u32)pd0 | PTE_P;
	pdpt[1] = (u32)pd1 | PTE_P;
	pdpt_bad[0] = (u32)pd0 | PTE_P;
	pdpt_bad[1] = (u32)pd1 | PTE_P | PTE_W;	/* bit 1: reserved */
}

static void cpuid_bits(void)
{
	u32 a, b, c, d;

	asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1));
	check(d & 0x40, "CPUID.1:EDX says PAE");
	asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
		     : "a"(0x80000000u));
	check(a >= 0x80000001u, "CPUID.80000000h covers leaf 80000001h");
	asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
		     : "a"(0x80000001u));
	check(d & (1u << 20), "CPUID.80000001h:EDX says NX");
}

static void enable(void)
{
	build();
	write_cr3((u32)pdpt);
	write_cr4(read_cr4() | 0x20);
	write_cr0(read_cr0() | 0x80000000u);
	check((read_cr0() & 0x80000000u) && (read_cr4() & 0x20),
	      "CR0.PG and CR4.PAE are set and we still run");
	check_eq(read_cr3(), (u32)pdpt,
		 "CR3 keeps the PDPT address (bits 11..5)");
}

static void walk(void)
{
	u32 v;

	wr32(P(0), 0x11223344);
	map(0, P(0), PTE_P | PTE_W, 0);
	check_eq(rd32(V(0) + 0), 0x11223344,
		 "a 4 KiB PAE page maps another frame");
	wr32(P(1) + 8, 0x55667788);
	map(0, P(1), PTE_P | PTE_W, 0);
	check_eq(rd32(V(0) + 8), 0x55667788,
		 "INVLPG after a PTE change: the new frame");

	map(1, 0, 0, 0);
	check(try_rd(V(1) + 4, &v) && last.vec == 14 && last.err == 0 &&
	      last.cr2 == V(1) + 4,
	      "a not-present PTE: #PF, error code 0, CR2 the address");
	check(try_wr(V(1), 1) && last.err == 2,
	      "... a write: error code 2");

	pd0[4] = BIG | PTE_P | PTE_W | PTE_PS;
	/* frame 2 MiB: written through the 4 KiB identity map */
	wr32(0x200000u + 0x1ff004u, 0xabcd);
	pd0[4] = 0x200000u | PTE_P | PTE_W | PTE_PS;
	invlpg(BIG);
	check_eq(rd32(BIG + 0x1ff004u), 0xabcd,
		 "a 2 MiB page maps 2 MiB of frames");
	wr32(BIG + 0x10, 0x2222);
	check((lo(pd0[4]) & (PTE_A | PTE_D)) == (PTE_A | PTE_D) &&
	      hi(pd0[4]) == 0,
	      "a write through a 2 MiB page sets A and D in its PDE");
	check_eq(rd32(0x200010u), 0x2222, "... and lands in its frame");
	pd0[4] = 0x400000u | PTE_P | PTE_W | PTE_PS;
	invlpg(BIG + 0x123000u);
	check_eq(rd32(BIG + 0x10), rd32(0x400010u),
		 "INVLPG anywhere in a 2 MiB page drops all of it");
	pd0[4] = 0;
	invlpg(BIG);
	check(try_rd(BIG + 0x40, &v) && last.err == 0 && last.cr2 == BIG + 0x40,
	      "an empty PDE faults");
}

static void accessed_dirty(void)
{
	set_nxe(1);
	map(2, P(2), PTE_P | PTE_W, NX_HI);
	pd0[3] &= ~(u64)PTE_A;
	invlpg(V(2));
	(void)rd32(V(2));
	check((lo(pt_test[2]) & (PTE_A | PTE_D)) == PTE_A &&
	      (lo(pd0[3]) & PTE_A),
	      "a read sets A in the 64-bit PTE and PDE, not D");
	wr32(V(2), 9);
	check((lo(pt_test[2]) & (PTE_A | PTE_D)) == (PTE_A | PTE_D),
	      "a write sets D");
	check_eq(hi(pt_test[2]), NX_HI,
		 "... and leaves the entry's high half (NX) alone");
	pt_test[2] &= ~(u64)PTE_D;
	invlpg(V(2));
	wr32(V(2), 10);
	check(lo(pt_test[2]) & PTE_D,
	      "after INVLPG, the next write sets D again");
	set_nxe(0);
}

/*
 * Did the last access fault with RSVD and error code bits want (W, U,
 * I/D)?  P is left out here: QEMU leaves it clear, where the SDM (vol. 3,
 * 4.7) has it set, since reserved bits count only in present entries; one
 * check of its own says so.
 */
static int rsvd_fault(int trapped, u32 want)
{
	return trapped && last.vec == 14 && (last.err & ~1u) == (want | 8);
}

static void reserved(void)
{
	u32 v;
	int f;

	map(3, P(3), PTE_P | PTE_W, 0x100);	/* bit 40: > MAXPHYADDR */
	f = try_rd(V(3), &v);
	check(rsvd_fault(f, 0) && last.cr2 == V(3),
	      "PTE bit 40 (above MAXPHYADDR 36): #PF with RSVD, CR2 set");
	check_eq(last.err, 9,
		 "... its error code is 9: P is set, the entry was present");
	check(rsvd_fault(try_wr(V(3), 1), 2), "... a write: RSVD and W");
	map(3, P(3), PTE_P | PTE_W, 0x80000);	/* bit 51 */
	check(rsvd_fault(try_rd(V(3), &v), 0), "PTE bit 51: RSVD");
	map(3, P(3), PTE_P | PTE_W, 0x100000);	/* bit 52 */
	check(rsvd_fault(try_rd(V(3), &v), 0),
	      "PTE bit 52: RSVD (PAE has no ignored high bits)");
	map(3, P(3), PTE_P | PTE_W, 0xf);	/* bits 35..32 */
	check(!try_rd(V(3), &v), "PTE bits 35..32 are address bits");
	map(3, P(3), PTE_P | PTE_W, 0);
	pd0[3] |= (u64)0x100 << 32;
	invlpg(V(3));
	check(rsvd_fault(try_rd(V(3), &v), 0), "PDE bit 40: #PF with RSVD");
	pd0[3] &= ~((u64)0x100 << 32);
	pd0[4] = 0x200000u | PTE_P | PTE_W | PTE_PS | 0x2000u;
	invlpg(BIG);
	check(rsvd_fault(try_rd(BIG, &v), 0) && last.cr2 == BIG,
	      "2 MiB PDE bit 13 (reserved): #PF with RSVD");
	pd0[4] = 0;
	invlpg(BIG);
	map(3, P(3), PTE_P | PTE_W, NX_HI);
	check(rsvd_fault(try_rd(V(3), &v), 0),
	      "without EFER.NXE, bit 63 is reserved: RSVD");
	map(3, 0, 0, 0);
}

/* A page above 4 GiB: no RAM there, and no alias of RAM below it. */
static void above_4g(void)
{
	u32 v;

	wr32(P(4), 0x4444);
	map(4, P(4), PTE_P | PTE_W, 0x1);
	check(!try_wr(V(4), 0x5555) && !try_rd(V(4), &v),
	      "a page at 4 GiB + P: no fault");
	check_eq(rd32(P(4)), 0x4444, "... and its writes do not reach P");
	map(4, 0, 0, 0);
}

static void pdptes(void)
{
	u32 v;

	wr32(0x200100u, 0xaaaa0001u);
	wr32(0x400100u, 0xbbbb0002u);
	check_eq(rd32(HI1 + 0x100), 0xaaaa0001u,
		 "PDPTE 1 maps 1 GiB up through its own directory");
	check(try_cr3((u32)pdpt_bad) && last.vec == 13 && last.err == 0,
	      "MOV CR3 with a reserved bit in a present PDPTE: #GP(0)");
	check_eq(read_cr3(), (u32)pdpt, "... and CR3 is unchanged");
	/* Where the load went through after all (QEMU): back to ours. */
	write_cr3((u32)pdpt);
	pdpt[1] = (u32)pd1b | PTE_P;
	invlpg(HI1 + 0x100);
	check(!try_rd(HI1 + 0x100, &v) && v == 0xaaaa0001u,
	      "a PDPTE stored in memory counts only from the next CR3 load");
	write_cr3((u32)pdpt);
	check(!try_rd(HI1 + 0x100, &v) && v == 0xbbbb0002u,
	      "... which loads it");
	pdpt[1] = 0;
	write_cr3((u32)pdpt);
	check(try_rd(HI1, &v) && last.err == 0 && last.cr2 == HI1,
	      "a not-present PDPTE: #PF, error code 0");
	pdpt[1] = (u32)pd1 | PTE_P;
	write_cr3((u32)pdpt);
}

static void global_pages(void)
{
	u32 cr4 = read_cr4();

	write_cr4(cr4 | 0x80);		/* PGE */
	wr32(P(8), 0x8888);
	wr32(P(9), 0x9999);
	wr32(P(10), 0xaaaa);
	wr32(P(11), 0xbbbb);
	map(8, P(8), PTE_P | PTE_W | PTE_G, 0);
	map(10, P(10), PTE_P | PTE_W, 0);
	(void)rd32(V(8));
	(void)rd32(V(10));
	pt_test[8] = P(9) | PTE_P | PTE_W | PTE_G;
	pt_test[10] = P(11) | PTE_P | PTE_W;
	write_cr3(read_cr3());
	check_eq(rd32(V(8)), 0x8888,
		 "PAE: a global page's translation survives a CR3 reload");
	check_eq(rd32(V(10)), 0xbbbb, "PAE: a non-global page's does not");
	invlpg(V(8));
	check_eq(rd32(V(8)), 0x9999, "PAE: INVLPG drops a global page");
	write_cr4(cr4);
}

/* Ring 3 jumps to V(15): the code's EAX, or the #PF error code. */
static void user_fetch(void)
{
	u32 v;

	user_exit(try_run(V(15), &v) ? (int)last.err : (int)v);
}

static void nx(void)
{
	u32 v = 0, i, ok = 1;

	put_code(P(12), 0x1234);
	/* The page's last bytes: fetched by the full decoder, not the
	 * decoded-instruction cache (which keeps off a page's last 16). */
	put_code(P(12) + 0xff8, 0x4321);
	put_code(P(13), 0x5678);
	map(12, P(12), PTE_P | PTE_W, 0);
	check(!try_run(V(12), &v) && v == 0x1234,
	      "code runs from a PAE page");

	/* Without NXE: a fetch fault has no I/D bit. */
	map(14, 0, 0, 0);
	check(try_run(V(14), &v) && last.vec == 14 && last.err == 0 &&
	      last.cr2 == V(14) && last.eip == V(14),
	      "EFER.NXE=0: a fetch from a not-present page, error code 0");

	check(!(rdmsr(MSR_EFER) & EFER_NXE), "EFER.NXE is 0 at first");
	set_nxe(1);
	check(rdmsr(MSR_EFER) & EFER_NXE, "EFER.NXE can be set (CPUID NX)");
	check(try_run(V(14), &v) && last.err == 0x10 && last.cr2 == V(14),
	      "EFER.NXE=1: the same fetch, error code 0x10 (I/D)");

	/* Hot code first: the translator and the decoded cache keep it. */
	for (i = 0; i < 200; i++) {
		if (try_run(V(12), &v) || v != 0x1234)
			ok = 0;
		if (try_run(V(12) + 0xff8, &v) || v != 0x4321)
			ok = 0;
	}
	check(ok, "the page runs 200 times with NXE set and bit 63 clear");
	map(12, P(12), PTE_P | PTE_W, NX_HI);
	check(try_run(V(12), &v) && last.vec == 14 && last.err == 0x11 &&
	      last.cr2 == V(12) && last.eip == V(12),
	      "marked NX (PTE + INVLPG): a jump there faults, error 0x11");
	check(!try_rd(V(12), &v) && v == 0x001234b8u,
	      "... while reading it still works");
	check(try_run(V(12), &v) && last.err == 0x11,
	      "... and a fetch after that read (a data TLB fill) faults too");
	check(!try_wr(V(12) + 0x100, 7) && try_run(V(12), &v) &&
	      last.err == 0x11,
	      "... and after a write");
	check(try_run(V(12) + 0xff8, &v) && last.err == 0x11 &&
	      last.cr2 == V(12) + 0xff8,
	      "... and at the page's last bytes");
	map(12, P(13), PTE_P | PTE_W, 0);
	check(!try_run(V(12), &v) && v == 0x5678,
	      "mapped to another frame, without NX: runs the new code");
	map(12, P(12), PTE_P | PTE_W, 0);
	check(!try_run(V(12), &v) && v == 0x1234, "... and back");

	/* NX in the PDE covers every page under it. */
	pd0[3] |= (u64)NX_HI << 32;
	invlpg(V(12));
	check(try_run(V(12), &v) && last.err == 0x11,
	      "NX in the PDE: the fetch faults, error code 0x11");
	pd0[3] &= ~((u64)NX_HI << 32);
	invlpg(V(12));
	check(!try_run(V(12), &v) && v == 0x1234,
	      "... and runs once it is clear");

	/* A 2 MiB NX page. */
	put_code(0x200000u + 0x3000u, 0x9abc);
	pd0[4] = 0x200000u | PTE_P | PTE_W | PTE_PS | (u64)NX_HI << 32;
	invlpg(BIG);
	check(try_run(BIG + 0x3000u, &v) && last.err == 0x11 &&
	      last.cr2 == BIG + 0x3000u,
	      "a 2 MiB NX page: the fetch faults, error code 0x11");
	pd0[4] = 0x200000u | PTE_P | PTE_W | PTE_PS;
	invlpg(BIG);
	check(!try_run(BIG + 0x3000u, &v) && v == 0x9abc,
	      "... and runs once bit 63 is clear");
	pd0[4] = 0;
	invlpg(BIG);

	/* Ring 3: U/S as ever, and NX gives error code 0x15 (U|I/D|P). */
	map(15, P(12), PTE_P | PTE_W | PTE_U, 0);
	check_eq(run_user(user_fetch), 0x1234,
		 "ring 3 runs code from a user page");
	map(15, P(12), PTE_P | PTE_W | PTE_U, NX_HI);
	check_eq(run_user(user_fetch), 0x15,
		 "ring 3 jumping to an NX user page: #PF error code 0x15");
	map(15, P(12), PTE_P | PTE_W, 0);
	check_eq(run_user(user_fetch), 0x15,
		 "ring 3 jumping to a supervisor page: error code 0x15 too");
	map(15, 0, 0, 0);

	/* Turning NXE off again: bit 63 is reserved once more. */
	map(12, P(12), PTE_P | PTE_W, NX_HI);
	set_nxe(0);
	check(rsvd_fault(try_run(V(12), &v), 0),
	      "EFER.NXE cleared: bit 63 makes the fetch a RSVD fault, no I/D");
	map(12, P(12), PTE_P | PTE_W, 0);
}

void test_main(void)
{
	cpuid_bits();
	enable();
	walk();
	accessed_dirty();
	reserved();
	above_4g();
	pdptes();
	global_pages();
	nx();
}
