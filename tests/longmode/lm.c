/*
 * The long-mode test program: 64-bit code on a bare (software) CPU,
 * checking what an x86-64 kernel relies on, each as a TAP line on COM1,
 * with the number of failed checks as the verdict through the exit port
 * (0xf4, QEMU's isa-debug-exit and lguest's --exit-port).  The same ELF
 * runs on qemu-system-x86_64, which judges our expectations.
 *
 * start.S took us into 64-bit mode; here: 64-bit arithmetic and
 * RIP-relative data, CPUID's long-mode bits, the 16-byte IDT and its
 * frames, page faults on four-level tables, NX, #DF on an IST stack, a
 * round trip to ring 3 by IRETQ and back by SYSCALL and SYSRET, the
 * FS/GS bases with SWAPGS, 1 GiB pages, CR8 as the APIC's task priority,
 * 16-byte call gates (within ring 0 and from ring 3), MASKMOVQ's
 * destination at RDI, and LLDT and LTR refusing a non-canonical base.  (FXSAVE64's pointers are tests/cpu/diff64.c's:
 * QEMU's TCG keeps none.)
 */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define PTE_P 0x1ull
#define PTE_W 0x2ull
#define PTE_U 0x4ull
#define PTE_PS 0x80ull
#define PTE_NX (1ull << 63)

#define MSR_EFER 0xc0000080u
#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_SFMASK 0xc0000084u
#define MSR_FS_BASE 0xc0000100u
#define MSR_GS_BASE 0xc0000101u
#define MSR_KGS_BASE 0xc0000102u

extern u64 pml4[512], pdpt[512], pd[512];
extern u64 gdt[10];
extern char trap_stubs[], syscall_entry[], stack_top[];
extern char gate_target[], gate_jmp_target[];

struct kjmp {
	u64 rbx, rbp, r12, r13, r14, r15, rsp, rip;
};
int kjmp_set(struct kjmp *j);
void kjmp_go(struct kjmp *j, int val) __attribute__((noreturn));

/* What trap_common saved, lowest address first. */
struct frame {
	u64 r11, r10, r9, r8, rdi, rsi, rbp, rbx, rdx, rcx, rax;
	u64 vec, err, rip, cs, rflags, rsp, ss;
};

/* --- Ports, the console and the verdict --- */

static inline void outb(u16 port, u8 v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline u8 inb(u16 port)
{
	u8 v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void putc(char ch)
{
	int i;

	for (i = 0; i < 100000 && !(inb(0x3f8 + 5) & 0x20); i++)
		;
	outb(0x3f8, (u8)ch);
}

static void puts(const char *s)
{
	while (*s)
		putc(*s++);
}

static void puthex(u64 v)
{
	int i, started = 0;

	puts("0x");
	for (i = 60; i >= 0; i -= 4) {
		int d = (v >> i) & 15;

		if (d || started || i == 0) {
			putc("0123456789abcdef"[d]);
			started = 1;
		}
	}
}

static int failed;

static void check(int ok, const char *what)
{
	puts(ok ? "ok - " : "not ok - ");
	puts(what);
	putc('\n');
	failed += !ok;
}

static void check_eq(u64 got, u64 want, const char *what)
{
	puts(got == want ? "ok - " : "not ok - ");
	puts(what);
	if (got != want) {
		puts(": got ");
		puthex(got);
		puts(", want ");
		puthex(want);
	}
	putc('\n');
	failed += got != want;
}

static void __attribute__((noreturn)) finish(void)
{
	outb(0xf4, (u8)failed);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* --- Privileged helpers --- */

static u64 rdmsr(u32 msr)
{
	u32 lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (u64)hi << 32 | lo;
}

static void wrmsr(u32 msr, u64 v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v),
			 "d"((u32)(v >> 32)));
}

static u64 read_cr2(void)
{
	u64 v;

	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

static void invlpg(u64 a)
{
	__asm__ volatile("invlpg (%0)" : : "r"(a) : "memory");
}

static void cpuid(u32 leaf, u32 r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]),
			 "=d"(r[3]) : "a"(leaf), "c"(0));
}

/* --- The IDT and the TSS --- */

struct gate {
	u16 off0, sel;
	u8 ist, type;
	u16 off1;
	u32 off2, zero;
};

static struct gate idt[32] __attribute__((aligned(16)));
static u32 tss[26] __attribute__((aligned(16)));
static u8 ist1_stack[4096] __attribute__((aligned(16)));

static void set_gate(int vec, u64 handler, int ist, int present)
{
	struct gate *g = &idt[vec];

	g->off0 = (u16)handler;
	g->sel = 0x08;
	g->ist = (u8)ist;
	g->type = present ? 0x8e : 0x0e;	/* 64-bit interrupt gate */
	g->off1 = (u16)(handler >> 16);
	g->off2 = (u32)(handler >> 32);
	g->zero = 0;
}

static void tables(void)
{
	struct {
		u16 limit;
		u64 base;
	} __attribute__((packed)) p = { sizeof(idt) - 1, (u64)idt };
	u64 t = (u64)tss, ist1 = (u64)ist1_stack + sizeof(ist1_stack);
	int i;

	for (i = 0; i < 32; i++)
		set_gate(i, (u64)trap_stubs + 16 * i, 0, 1);
	__asm__ volatile("lidt %0" : : "m"(p));
	/* RSP0 at offset 4, IST1 at offset 36 (both 8 bytes, unaligned). */
	tss[1] = (u32)(u64)stack_top;
	tss[2] = (u32)((u64)stack_top >> 32);
	tss[9] = (u32)ist1;
	tss[10] = (u32)(ist1 >> 32);
	tss[25] = sizeof(tss) << 16;	/* I/O map base past the limit */
	gdt[6] = (sizeof(tss) - 1) | (t & 0xffffff) << 16 |
		 0x89ull << 40 | ((t >> 24) & 0xff) << 56;
	gdt[7] = t >> 32;
	__asm__ volatile("ltr %w0" : : "r"(0x30));
}

/* --- Traps --- */

static volatile struct {
	u64 count, vec, err, rip, cs, rsp, ss, cr2, frame_rsp;
} last;
static struct kjmp *volatile trap_jmp;	/* a trap goes back there */
static volatile u64 skip;		/* else RIP moves on this much */

void trap(struct frame *f)
{
	last.count++;
	last.vec = f->vec;
	last.err = f->err;
	last.rip = f->rip;
	last.cs = f->cs;
	last.rsp = f->rsp;
	last.ss = f->ss;
	last.cr2 = read_cr2();
	last.frame_rsp = (u64)f;
	if (trap_jmp) {
		struct kjmp *j = trap_jmp;

		trap_jmp = 0;
		kjmp_go(j, 1);
	}
	f->rip += skip;
}

/* --- The checks --- */

static u64 rip_data __attribute__((used)) = 0x1122334455667788ull;

static void basics(void)
{
	u64 v = 0x123456789ull, efer = rdmsr(MSR_EFER);
	u32 r[4];
	u16 cs;

	check_eq(v >> 32, 1, "64-bit arithmetic: the upper half is there");
	__asm__ volatile("movq rip_data(%%rip), %0" : "=r"(v));
	check_eq(v, 0x1122334455667788ull, "a RIP-relative load");
	check((efer & 0x500) == 0x500, "EFER: LME and LMA are set");
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	check_eq(cs, 0x08, "CS is the 64-bit code segment");
	cpuid(0x80000000u, r);
	check(r[0] >= 0x80000001u, "CPUID has leaf 0x80000001");
	cpuid(0x80000001u, r);
	check(r[3] & (1u << 29), "CPUID 0x80000001: long mode (LM)");
	check(r[3] & (1u << 11), "CPUID 0x80000001: SYSCALL");
	check(r[3] & (1u << 20), "CPUID 0x80000001: NX");
	__asm__ volatile("movq $-1, %%rax; movl $1, %%eax; movq %%rax, %0"
			 : "=r"(v) : : "rax");
	check_eq(v, 1, "a 32-bit write clears the upper half");
	__asm__ volatile("movq $-1, %%rax; movw $1, %%ax; movq %%rax, %0"
			 : "=r"(v) : : "rax");
	check_eq(v, 0xffffffffffff0001ull, "a 16-bit write keeps the rest");
	__asm__ volatile("movq $0x1000, %%r9; movb $0x77, %%r9b; "
			 "movq %%r9, %0" : "=r"(v) : : "r9");
	check_eq(v, 0x1077, "R9B is R9's low byte (REX)");
}

static void exceptions(void)
{
	u64 here;

	skip = 2;
	last.count = 0;
	__asm__ volatile("lea 0(%%rip), %0; ud2" : "=r"(here));
	check_eq(last.count, 1, "UD2 raises one exception");
	check_eq(last.vec, 6, "... #UD");
	check_eq(last.rip, here, "... its RIP is UD2's");
	check_eq(last.cs, 0x08, "... the frame's CS");
	check_eq(last.ss, 0x10, "... the frame holds SS too");
	check_eq((last.frame_rsp + sizeof(struct frame)) & 15, 0,
		 "... the CPU aligned its frame to 16 bytes");
	skip = 0;
}

/* The 2 MiB page at 8 MiB, made of 4 KiB pages for these checks. */
static u64 pt[512] __attribute__((aligned(4096)));
#define TPAGE(n) (0x800000ull + (n) * 0x1000ull)

static void paging(void)
{
	volatile u64 *p = (volatile u64 *)TPAGE(1);
	struct kjmp j;
	int i;

	for (i = 0; i < 512; i++)
		pt[i] = (0x800000ull + i * 0x1000ull) | PTE_P | PTE_W;
	pd[4] = (u64)pt | PTE_P | PTE_W | PTE_U;
	invlpg(TPAGE(0));
	*(volatile u64 *)TPAGE(0) = 0x5a5a;
	check_eq(*(volatile u64 *)TPAGE(0), 0x5a5a,
		 "a 4 KiB page through four levels");
	pt[1] = 0;
	invlpg(TPAGE(1));
	last.count = 0;
	if (!kjmp_set(&j)) {
		trap_jmp = &j;
		(void)*p;
	}
	trap_jmp = 0;
	check_eq(last.vec, 14, "a read of a not-present page: #PF");
	check_eq(last.err, 0, "... error code 0");
	check_eq(last.cr2, TPAGE(1), "... CR2 is the address");
	pt[1] = TPAGE(1) | PTE_P;
	invlpg(TPAGE(1));
	last.count = 0;
	if (!kjmp_set(&j)) {
		trap_jmp = &j;
		*p = 1;
	}
	trap_jmp = 0;
	check_eq(last.err, 3, "a write to a read-only page: error code 3");
	pt[1] = TPAGE(1) | PTE_P | PTE_W;
	pdpt[1] = 0x12345000ull | PTE_P | (1ull << 51);	/* reserved */
	last.count = 0;
	if (!kjmp_set(&j)) {
		trap_jmp = &j;
		(void)*(volatile u64 *)0x40000000ull;
	}
	trap_jmp = 0;
	check_eq(last.err, 9, "a reserved bit in a PDPTE: error code 9 (P, RSVD)");
	pdpt[1] = 0;
}

static void nx(void)
{
	u8 *code = (u8 *)TPAGE(2);
	struct kjmp j;

	code[0] = 0xc3;			/* ret */
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 0x800);
	((void (*)(void))code)();
	check(1, "code runs from a page without NX");
	pt[2] |= PTE_NX;
	invlpg(TPAGE(2));
	last.count = 0;
	if (!kjmp_set(&j)) {
		trap_jmp = &j;
		((void (*)(void))code)();
	}
	trap_jmp = 0;
	check_eq(last.vec, 14, "a jump to an NX page: #PF");
	check_eq(last.err, 0x11, "... error code 0x11 (P, I/D)");
	check_eq(last.cr2, TPAGE(2), "... CR2 is the target");
	check_eq(last.rip, TPAGE(2), "... RIP is the target");
	pt[2] &= ~PTE_NX;
	invlpg(TPAGE(2));
}

static void double_fault(void)
{
	struct kjmp j;
	u64 ist_top = (u64)ist1_stack + sizeof(ist1_stack);

	/* #GP's gate not present: a #GP becomes #NP, and two contributory
	 * faults make #DF, which runs on IST1. */
	set_gate(13, (u64)trap_stubs + 16 * 13, 0, 0);
	set_gate(8, (u64)trap_stubs + 16 * 8, 1, 1);
	last.count = 0;
	if (!kjmp_set(&j)) {
		trap_jmp = &j;
		__asm__ volatile("mov %0, %%es" : : "r"(0x1234));
	}
	trap_jmp = 0;
	check_eq(last.vec, 8, "#GP through a not-present gate: #DF");
	check_eq(last.err, 0, "... error code 0");
	check(last.frame_rsp < ist_top &&
	      last.frame_rsp >= (u64)ist1_stack,
	      "... on the IST1 stack");
	set_gate(13, (u64)trap_stubs + 16 * 13, 0, 1);
	set_gate(8, (u64)trap_stubs + 16 * 8, 0, 1);
}

/* --- Ring 3 and back --- */

struct kjmp user_jmp;
u64 sys_rcx, sys_r11, sys_rsp;
u16 sys_cs, sys_ss;
u32 sys_count;
static u8 user_stack[4096] __attribute__((aligned(16)));

/* Ring 3: two system calls, the first returned from by SYSRET, the
 * second (RAX = 0) ends the visit. */
static void __attribute__((used, noinline)) user_code(void)
{
	__asm__ volatile("movq $7, %%rax; syscall; "
			 "movq %%rax, %%rax; "
			 "xorl %%eax, %%eax; syscall"
			 : : : "rax", "rcx", "r11", "memory");
	for (;;)
		;
}

static void syscalls(void)
{
	u64 user_rsp = (u64)user_stack + sizeof(user_stack);
	u16 cs;

	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1);		/* SCE */
	wrmsr(MSR_STAR, (u64)0x18 << 48 | (u64)0x08 << 32);
	wrmsr(MSR_LSTAR, (u64)syscall_entry);
	wrmsr(MSR_SFMASK, 0x200);			/* IF */
	sys_count = 0;
	if (!kjmp_set(&user_jmp)) {
		/* IRETQ to ring 3: SS, RSP, RFLAGS, CS, RIP. */
		__asm__ volatile("pushq $0x23; pushq %0; pushq $0x2; "
				 "pushq $0x2b; pushq %1; iretq"
				 : : "r"(user_rsp), "r"((u64)user_code));
	}
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	check_eq(sys_count, 2, "ring 3 made two SYSCALLs");
	check_eq(sys_cs, 0x08, "SYSCALL: CS from STAR[47:32]");
	check_eq(sys_ss, 0x10, "SYSCALL: SS is that + 8");
	check(sys_rsp <= user_rsp && sys_rsp > user_rsp - 256,
	      "SYSCALL keeps the user's RSP");
	check(sys_rcx > (u64)user_code && sys_rcx < (u64)user_code + 64,
	      "SYSCALL: RCX is the return address");
	check_eq(sys_r11 & 0x3, 0x2, "SYSCALL: R11 holds RFLAGS");
	check_eq(cs, 0x08, "back in ring 0");
}

static void segment_bases(void)
{
	static u64 a = 0xaaaa, b = 0xbbbb;
	u64 v;

	wrmsr(MSR_GS_BASE, (u64)&a);
	wrmsr(MSR_KGS_BASE, (u64)&b);
	__asm__ volatile("movq %%gs:0, %0" : "=r"(v));
	check_eq(v, 0xaaaa, "GS_BASE: a GS-relative load");
	__asm__ volatile("swapgs");
	__asm__ volatile("movq %%gs:0, %0" : "=r"(v));
	check_eq(v, 0xbbbb, "SWAPGS: GS now uses KERNEL_GS_BASE");
	check_eq(rdmsr(MSR_KGS_BASE), (u64)&a, "... and the old base moved there");
	__asm__ volatile("swapgs");
	wrmsr(MSR_FS_BASE, (u64)&b);
	__asm__ volatile("movq %%fs:0, %0" : "=r"(v));
	check_eq(v, 0xbbbb, "FS_BASE: an FS-relative load");
}

/* --- 1 GiB pages --- */

#define GIB2 0x80000000ull		/* pdpt[2]: the 1 GiB page tested */
#define HIGH 0x8000000000ull		/* pml4[1]: physical 0 above 4 GiB */
static u64 pdpt_high[512] __attribute__((aligned(4096)));
static volatile u64 huge_probe = 0x600dcafe;

/* Touch addr (a write when write is set): the vector it raised, or -1. */
static long probe(u64 addr, int write)
{
	struct kjmp j;

	last.count = 0;
	if (!kjmp_set(&j)) {
		trap_jmp = &j;
		if (write)
			*(volatile u64 *)addr = 0x5eed;
		else
			(void)*(volatile u64 *)addr;
	}
	trap_jmp = 0;
	return last.count ? (long)last.vec : -1;
}

static void huge_pages(void)
{
	u64 alias = GIB2 + (u64)&huge_probe;
	u32 r[4];

	cpuid(0x80000001u, r);
	check(r[3] & (1u << 26), "CPUID 0x80000001: 1 GiB pages (PDPE1GB)");
	pdpt[2] = PTE_P | PTE_W | PTE_PS;	/* 2 GiB: physical 0 */
	invlpg(alias);
	check_eq(*(volatile u64 *)alias, 0x600dcafe,
		 "a read through a 1 GiB page");
	*(volatile u64 *)alias = 0x5eed;
	check_eq(huge_probe, 0x5eed, "... a write through it");
	check_eq(pdpt[2] & 0x60, 0x60, "... set A and D in the PDPTE");
	/* A translation cached from the page goes with an INVLPG of any
	 * address in it, here 512 MiB away. */
	pdpt[2] &= ~PTE_W;
	invlpg(GIB2 + 0x20000000ull);
	check_eq(probe(alias, 1), 14,
		 "INVLPG anywhere in a 1 GiB page drops all of it");
	check_eq(last.err, 3, "... a write to it, now read-only: error code 3");
	pdpt[2] = PTE_P | PTE_W | PTE_PS | (1ull << 13);
	invlpg(alias);
	check_eq(probe(alias, 0), 14, "a 1 GiB page with bit 13 set: #PF");
	check_eq(last.err & 8, 8, "... with RSVD");
	pdpt[2] = 0;
	invlpg(alias);
	pml4[1] = (u64)pdpt | PTE_P | PTE_W | PTE_PS;
	check_eq(probe(HIGH, 0), 14, "PS in a PML4 entry: #PF");
	check_eq(last.err & 8, 8, "... with RSVD");
	/* Physical memory at 512 GiB as well. */
	pdpt_high[0] = PTE_P | PTE_W | PTE_PS;
	pml4[1] = (u64)pdpt_high | PTE_P | PTE_W;
	invlpg(HIGH);
	check_eq(*(volatile u64 *)(HIGH + (u64)&huge_probe), 0x5eed,
		 "a 1 GiB page above 4 GiB");
}

/* --- MASKMOVQ and MASKMOVDQU: RDI, not EDI --- */

static u8 mask_buf[16] __attribute__((aligned(16)));

/* MASKMOVQ (MASKMOVDQU with sse) of every byte to [rdi], or with addr32
 * to [edi]; the vector it raised, or -1. */
static long maskmov_at(u64 rdi, int sse, int addr32)
{
	u64 data = 0x8877665544332211ull, mask = ~0ull;
	struct kjmp j;

	last.count = 0;
	if (!kjmp_set(&j)) {
		trap_jmp = &j;
		if (sse && addr32)
			__asm__ volatile("movq %0, %%xmm0; movq %1, %%xmm1; "
					 ".byte 0x67; maskmovdqu %%xmm1, %%xmm0"
					 : : "r"(data), "r"(mask), "D"(rdi)
					 : "memory");
		else if (sse)
			__asm__ volatile("movq %0, %%xmm0; movq %1, %%xmm1; "
					 "maskmovdqu %%xmm1, %%xmm0"
					 : : "r"(data), "r"(mask), "D"(rdi)
					 : "memory");
		else if (addr32)
			__asm__ volatile("movq %0, %%mm0; movq %1, %%mm1; "
					 ".byte 0x67; maskmovq %%mm1, %%mm0"
					 : : "r"(data), "r"(mask), "D"(rdi)
					 : "memory");
		else
			__asm__ volatile("movq %0, %%mm0; movq %1, %%mm1; "
					 "maskmovq %%mm1, %%mm0"
					 : : "r"(data), "r"(mask), "D"(rdi)
					 : "memory");
	}
	trap_jmp = 0;
	__asm__ volatile("emms");
	return last.count ? (long)last.vec : -1;
}

/* 64-bit code addresses the destination with all of RDI: at 4 GiB up
 * (nothing mapped there) it must fault, where EDI would have reached
 * mask_buf; with a 0x67 prefix EDI alone, which does. */
static void maskmov(void)
{
	u64 high = (1ull << 32) | (u64)mask_buf;
	volatile u64 *q = (volatile u64 *)mask_buf;
	u64 cr4;

	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | 0x200));	/* OSFXSR */
	q[0] = q[1] = 0;
	check_eq(maskmov_at(high, 0, 0), 14,
		 "MASKMOVQ to RDI at 4 GiB (unmapped): #PF");
	check_eq(last.cr2, high, "... CR2 is RDI, all 64 bits");
	check_eq(q[0], 0, "... and EDI's bytes are untouched");
	check_eq(maskmov_at(high, 1, 0), 14,
		 "MASKMOVDQU to RDI at 4 GiB (unmapped): #PF");
	check_eq(last.cr2, high, "... CR2 is RDI, all 64 bits");
	check_eq(q[0] | q[1], 0, "... and EDI's bytes are untouched");
	check_eq(maskmov_at(high, 0, 1), -1,
		 "MASKMOVQ with 0x67: EDI, no fault");
	check_eq(q[0], 0x8877665544332211ull, "... the bytes at EDI");
	q[0] = 0;
	check_eq(maskmov_at(high, 1, 1), -1,
		 "MASKMOVDQU with 0x67: EDI, no fault");
	check_eq(q[0], 0x8877665544332211ull, "... the bytes at EDI");
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
}

/* --- CR8 and MMIO --- */

#define APIC_TPR 0xfee00080ull
#define TESTDEV_RAM 0xff000000ull	/* pc-testdev's scratch memory */
static u64 pd_high[512] __attribute__((aligned(4096)));	/* 3..4 GiB */

/* 8-byte accesses to a device's memory go through whole (QEMU and
 * lguest both have pc-testdev's RAM there). */
static void mmio64(void)
{
	volatile u64 *p = (volatile u64 *)TESTDEV_RAM;

	*p = 0x1122334455667788ull;
	check_eq(*p, 0x1122334455667788ull,
		 "an 8-byte MMIO write and read");
	check_eq(*(volatile u32 *)(TESTDEV_RAM + 4), 0x11223344,
		 "... the device got its upper half");
}

static u64 read_cr8(void)
{
	u64 v;

	__asm__ volatile("mov %%cr8, %0" : "=r"(v));
	return v;
}

static void cr8(void)
{
	volatile u32 *tpr = (volatile u32 *)APIC_TPR;

	/* The APIC's page and the test device's memory, uncached, as 2 MiB
	 * pages at 0xfee00000 and 0xff000000. */
	pd_high[0x1f7] = 0xfee00000ull | PTE_P | PTE_W | PTE_PS | 0x18;
	pd_high[0x1f8] = 0xff000000ull | PTE_P | PTE_W | PTE_PS | 0x18;
	pdpt[3] = (u64)pd_high | PTE_P | PTE_W;
	invlpg(APIC_TPR);
	invlpg(TESTDEV_RAM);
	mmio64();
	__asm__ volatile("mov %0, %%cr8" : : "r"(0xbull));
	check_eq(*tpr & 0xff, 0xb0, "MOV to CR8 sets the APIC's TPR[7:4]");
	*tpr = 0x5f;
	check_eq(read_cr8(), 5, "MOV from CR8 reads TPR[7:4]");
	skip = 4;			/* 44 0f 22 c0 */
	last.count = 0;
	__asm__ volatile("mov %%rax, %%cr8" : : "a"(0x10ull));
	skip = 0;
	check_eq(last.vec, 13, "MOV to CR8 with bit 4 set: #GP");
	check_eq(last.err, 0, "... #GP's error code is 0");
	check_eq(read_cr8(), 5, "... and CR8 is unchanged");
	__asm__ volatile("mov %0, %%cr8" : : "r"(0ull));
	check_eq(*tpr & 0xff, 0, "MOV to CR8 clears TPR[3:0] too");
}

/* --- Call gates --- */

struct farptr {
	u32 off;
	u16 sel;
} __attribute__((packed));

#define SEL_GATE 0x40
struct farptr gate_ptr = { 0, SEL_GATE };	/* the gate ignores off */
u64 gate_rsp, gate_frame[4], gate_back, user_gs_val;
u16 gate_cs, gate_ss, user_gs_sel;
static u64 gs_probe = 0x6a5eba5e;
u32 gate_count;
static u8 gate_stack[4096] __attribute__((aligned(16)));

/* A 16-byte call gate at SEL_GATE to target in the 64-bit code segment. */
static void set_call_gate(u64 target, int dpl, int type)
{
	gdt[8] = (target & 0xffff) | (u64)0x08 << 16 |
		 (u64)(0x80 | dpl << 5 | type) << 40 |
		 ((target >> 16) & 0xffff) << 48;
	gdt[9] = target >> 32;
}

/* Ring 3: what GS holds after IRETQ, a far call through the gate into
 * ring 0 and back, then a SYSCALL with RAX = 0 ends the visit
 * (syscall_entry). */
static void __attribute__((used, noinline)) user_gate_code(void)
{
	__asm__ volatile("movw %%gs, user_gs_sel(%%rip); "
			 "movq %%gs:0, %%rax; movq %%rax, user_gs_val(%%rip); "
			 "lcall *gate_ptr(%%rip); "
			 "xorl %%eax, %%eax; syscall"
			 : : : "rax", "rcx", "r11", "memory");
	for (;;)
		;
}

/* The far call through a gate that should fault: its vector, or -1. */
static long gate_fault(void)
{
	struct kjmp j;

	last.count = 0;
	if (!kjmp_set(&j)) {
		trap_jmp = &j;
		__asm__ volatile("lcall *gate_ptr(%%rip)" : : : "rax",
				 "memory");
	}
	trap_jmp = 0;
	return last.count ? (long)last.vec : -1;
}

static void call_gates(void)
{
	u64 ret, sp, user_rsp = (u64)user_stack + sizeof(user_stack);
	u64 ring0_rsp = (u64)gate_stack + sizeof(gate_stack);

	set_call_gate((u64)gate_target, 3, 0xc);
	gate_count = 0;
	__asm__ volatile("leaq 1f(%%rip), %0; movq %%rsp, %1; "
			 "lcall *gate_ptr(%%rip); 1:"
			 : "=&r"(ret), "=&r"(sp) : : "rax", "memory");
	check_eq(gate_count, 1, "CALL far through a 64-bit call gate");
	check_eq(gate_cs, 0x08, "... lands in the gate's code segment");
	check_eq(gate_rsp, sp - 16, "... having pushed 16 bytes");
	check_eq(gate_frame[0], ret, "... the return RIP, 8 bytes");
	check_eq(gate_frame[1], 0x08, "... and CS, 8 bytes");
	set_call_gate((u64)gate_jmp_target, 0, 0xc);
	__asm__ volatile("leaq 1f(%%rip), %%rax; movq %%rax, gate_back(%%rip); "
			 "movq %%rsp, %0; ljmp *gate_ptr(%%rip); 1:"
			 : "=&r"(sp) : : "rax", "memory");
	check_eq(gate_count, 2, "JMP far through the call gate");
	check_eq(gate_rsp, sp, "... pushes nothing");
	set_call_gate((u64)gate_target, 3, 0xc);
	/* From ring 3: the stack of ring 0 comes from the TSS. */
	tss[1] = (u32)ring0_rsp;
	tss[2] = (u32)(ring0_rsp >> 32);
	/* GS: ring 0's data segment, with a base of its own. */
	__asm__ volatile("mov %0, %%gs" : : "r"(0x10));
	wrmsr(MSR_GS_BASE, (u64)&gs_probe);
	user_gs_sel = 0xffff;
	if (!kjmp_set(&user_jmp)) {
		__asm__ volatile("pushq $0x23; pushq %0; pushq $0x2; "
				 "pushq $0x2b; pushq %1; iretq"
				 : : "r"(user_rsp), "r"((u64)user_gate_code));
	}
	tss[1] = (u32)(u64)stack_top;
	tss[2] = (u32)((u64)stack_top >> 32);
	check_eq(gate_count, 3, "ring 3 called ring 0 through the gate");
	check_eq(gate_rsp, ring0_rsp - 32, "... on the TSS's RSP0 stack");
	check_eq(gate_frame[1], 0x2b, "... the frame: ring 3's CS");
	check_eq(gate_frame[2], user_rsp, "... its RSP");
	check_eq(gate_frame[3], 0x23, "... and its SS");
	check_eq(gate_ss, 0, "... SS is the null selector");
	check_eq(gate_cs, 0x08, "... CS the gate's");
	check_eq(sys_count, 3, "... and LRETQ went back to ring 3");
	check_eq(user_gs_sel, 0, "IRETQ to ring 3 nulls GS (DPL 0)");
	check_eq(user_gs_val, 0x6a5eba5e, "... but keeps its base");
	set_call_gate((u64)gate_target, 3, 0x4);
	check_eq(gate_fault(), 13, "a 16-bit call gate in long mode: #GP");
	check_eq(last.err, SEL_GATE, "... with the gate's selector");
	set_call_gate((u64)gate_target, 3, 0xc);
	gdt[9] |= 0xcull << 40;
	check_eq(gate_fault(), 13, "a type in the gate's upper half: #GP");
	check_eq(last.err, SEL_GATE, "... with the gate's selector");
	set_call_gate((u64)gate_target, 3, 0xc);
	gdt[8] &= ~(1ull << 47);
	check_eq(gate_fault(), 11, "a not-present call gate: #NP");
	check_eq(last.err, SEL_GATE, "... with the gate's selector");
	gdt[8] = gdt[9] = 0;
}

/* --- LLDT and LTR: the 16-byte descriptor's base must be canonical --- */

/* A system descriptor of type at SEL_GATE (gdt[8] and gdt[9]). */
static void set_sys_desc(u64 base, u64 type)
{
	gdt[8] = 0xfffull | (base & 0xffffff) << 16 | (0x80 | type) << 40 |
		 ((base >> 24) & 0xff) << 56;
	gdt[9] = base >> 32;
}

/* LLDT (ltr: LTR) of SEL_GATE; the vector it raised, or -1. */
static long load_sys(int ltr)
{
	struct kjmp j;

	last.count = 0;
	last.err = 0;
	if (!kjmp_set(&j)) {
		trap_jmp = &j;
		if (ltr)
			__asm__ volatile("ltr %w0" : : "r"(SEL_GATE) : "memory");
		else
			__asm__ volatile("lldt %w0" : : "r"(SEL_GATE)
					 : "memory");
	}
	trap_jmp = 0;
	return last.count ? (long)last.vec : -1;
}

static void sys_bases(void)
{
	u64 bad = 0x0000800000001000ull, good = 0xffff800000001000ull;
	u16 tr;

	set_sys_desc(bad, 2);
	check_eq(load_sys(0), 13, "LLDT of a non-canonical base: #GP");
	check_eq(last.err, SEL_GATE, "... LLDT's error code is the selector");
	set_sys_desc(good, 2);
	check_eq(load_sys(0), -1, "LLDT of a canonical upper-half base");
	__asm__ volatile("lldt %w0" : : "r"(0));
	set_sys_desc(bad, 9);
	check_eq(load_sys(1), 13, "LTR of a non-canonical base: #GP");
	check_eq(last.err, SEL_GATE, "... LTR's error code is the selector");
	check_eq((gdt[8] >> 40) & 0xf, 9, "... the TSS is not marked busy");
	__asm__ volatile("str %w0" : "=r"(tr));
	check_eq(tr, 0x30, "... and TR is the one before");
	gdt[8] = gdt[9] = 0;
}

void lm_main(void)
{
	tables();
	basics();
	exceptions();
	paging();
	nx();
	double_fault();
	syscalls();
	segment_bases();
	huge_pages();
	maskmov();
	cr8();
	call_gates();
	sys_bases();
	finish();
}
