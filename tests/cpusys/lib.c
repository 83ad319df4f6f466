/*
 * The runtime of the cpusys test programs (see lib.h): it sets up a flat
 * GDT with user segments and TSSs, an IDT whose every vector lands in
 * trap(), identity page tables, and reports results as TAP lines through
 * the harness's console port.
 */
#include "lib.h"

u32 pd[1024] __attribute__((aligned(4096)));
u32 pt[2][1024] __attribute__((aligned(4096)));
u64 gdt[GDT_ENTRIES] __attribute__((aligned(8)));
u64 idt[256] __attribute__((aligned(8)));
/* The main TSS carries an I/O bitmap for ports 0..0xff after its 104
 * bytes; the last byte of a bitmap must be all ones. */
u32 tss_main[26 + 9] __attribute__((aligned(128)));
u32 tss_df[26] __attribute__((aligned(128)));
static u64 ldt[2];

static u8 trap_stack[8192] __attribute__((aligned(16)));
static u8 user_stack[8192] __attribute__((aligned(16)));
static u8 df_stack[4096] __attribute__((aligned(16)));

volatile struct trap_rec last;
volatile u32 resume;
void (*volatile trap_hook)(struct frame *f);

static struct kjmp user_jmp;
static int failures;

extern char trap_stubs[];
extern void df_task_entry(void);

void puts(const char *s)
{
	while (*s)
		outb(PORT_CONSOLE, (u8)*s++);
}

void put_hex(u32 v)
{
	char buf[11];
	int i;

	buf[0] = '0';
	buf[1] = 'x';
	for (i = 0; i < 8; i++)
		buf[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 0xf];
	buf[10] = 0;
	puts(buf);
}

int check(int cond, const char *what)
{
	if (!cond)
		failures++;
	puts(cond ? "ok - " : "not ok - ");
	puts(what);
	puts("\n");
	return cond;
}

int check_eq(u32 got, u32 want, const char *what)
{
	if (got == want)
		return check(1, what);
	failures++;
	puts("not ok - ");
	puts(what);
	puts(": got ");
	put_hex(got);
	puts(", want ");
	put_hex(want);
	puts("\n");
	return 0;
}

u64 seg_desc(u32 base, u32 limit, u32 access, u32 flags)
{
	u32 lo = (limit & 0xffff) | (base << 16);
	u32 hi = ((base >> 16) & 0xff) | (access << 8) | (limit & 0xf0000) |
		 (flags << 20) | (base & 0xff000000);

	return (u64)hi << 32 | lo;
}

static u64 gate_desc(u32 off, u16 sel, u32 access, u32 params)
{
	u32 lo = (off & 0xffff) | ((u32)sel << 16);
	u32 hi = (off & 0xffff0000) | (access << 8) | params;

	return (u64)hi << 32 | lo;
}

void set_gate(int vec, u32 access, u16 sel, void (*fn)(void))
{
	idt[vec] = gate_desc((u32)fn, sel, access, 0);
}

void trap_gate_default(int vec, u32 access)
{
	idt[vec] = gate_desc((u32)(trap_stubs + 16 * vec), KCODE, access, 0);
}

extern void call_gate_target(void);

static void build_gdt(void)
{
	gdt[0] = 0;
	gdt[1] = seg_desc(0, 0xfffff, 0x9a, 0xc);
	gdt[2] = seg_desc(0, 0xfffff, 0x92, 0xc);
	gdt[3] = seg_desc(0, 0xfffff, 0xfa, 0xc);
	gdt[4] = seg_desc(0, 0xfffff, 0xf2, 0xc);
	gdt[5] = seg_desc((u32)tss_main, sizeof(tss_main) - 1, 0x89, 0);
	gdt[6] = seg_desc((u32)tss_df, sizeof(tss_df) - 1, 0x89, 0);
	gdt[7] = seg_desc(0, 0xfffff, 0x12, 0xc);	/* P = 0 */
	gdt[8] = seg_desc(0, 0xfff, 0x96, 0x4);	/* expand-down */
	gdt[9] = gate_desc((u32)call_gate_target, KCODE, 0xec, 1);
	gdt[10] = seg_desc((u32)ldt, sizeof(ldt) - 1, 0x82, 0);
	gdt[11] = seg_desc(0, 0xffff, 0x9a, 0);
	gdt[12] = seg_desc(0, 0xffff, 0x92, 0);
	ldt[0] = seg_desc(0x1000, 0xff, 0xf2, 0x4);	/* sel 0x07 */
	ldt[1] = 0;
}

static void build_tss(void)
{
	int i;

	tss_main[1] = (u32)(trap_stack + sizeof(trap_stack));
	tss_main[2] = KDATA;
	tss_main[25] = 104u << 16;		/* I/O bitmap at 104 */
	for (i = 26; i < 26 + 8; i++)
		tss_main[i] = 0xffffffff;	/* every port denied ... */
	/* ... but the console and exit ports. */
	((u8 *)tss_main)[104 + PORT_CONSOLE / 8] &= ~(1 << (PORT_CONSOLE & 7));
	((u8 *)tss_main)[104 + PORT_SCRATCH / 8] &= ~(1 << (PORT_SCRATCH & 7));
	tss_main[34] = 0xffffffff;

	tss_df[0x1c / 4] = 0;			/* cr3: set by the test */
	tss_df[0x20 / 4] = (u32)df_task_entry;
	tss_df[0x24 / 4] = 2;
	tss_df[0x38 / 4] = (u32)(df_stack + sizeof(df_stack));
	tss_df[0x4c / 4] = KCODE;
	tss_df[0x48 / 4] = tss_df[0x50 / 4] = tss_df[0x54 / 4] = KDATA;
	tss_df[0x58 / 4] = tss_df[0x5c / 4] = KDATA;
	tss_df[25] = 104u << 16;
}

void load_tables(void)
{
	struct {
		u16 limit;
		u32 base;
	} __attribute__((packed)) g = { sizeof(gdt) - 1, (u32)gdt },
				   i = { sizeof(idt) - 1, (u32)idt };

	asm volatile("lgdt %0" : : "m"(g));
	asm volatile("lidt %0" : : "m"(i));
	asm volatile("ljmp %0, $1f\n1:\n"
		     "movl %1, %%eax\n"
		     "movl %%eax, %%ds\n movl %%eax, %%es\n movl %%eax, %%ss\n"
		     "movl %%eax, %%fs\n movl %%eax, %%gs\n"
		     : : "i"(KCODE), "i"(KDATA) : "eax", "memory");
	asm volatile("ltr %w0" : : "r"(TSS_MAIN));
}

void paging_build(void)
{
	int i, j;

	for (i = 0; i < 1024; i++)
		pd[i] = 0;
	for (i = 0; i < 2; i++) {
		for (j = 0; j < 1024; j++)
			pt[i][j] = ((u32)(i * 1024 + j) << 12) |
				   PTE_P | PTE_W | PTE_U;
		pd[i] = (u32)pt[i] | PTE_P | PTE_W | PTE_U;
	}
}

void paging_on(void)
{
	write_cr3((u32)pd);
	write_cr0(read_cr0() | 0x80000000u);
}

/* Called by trap_common for every vector. */
void trap(struct frame *f)
{
	last.count++;
	last.vec = f->vec;
	last.err = f->err;
	last.eip = f->eip;
	last.cs = f->cs;
	last.eflags = f->eflags;
	last.cr2 = read_cr2();
	if (f->cs & 3) {
		last.ss = f->ss;
		last.esp = f->esp;
	}
	if (trap_hook)
		trap_hook(f);
	if (f->vec == 0x80 && f->eax == 0)
		kjmp_go(&user_jmp, (int)f->ebx);
	if (f->vec == 0x80)
		f->eax = f->ebx + 1;	/* a "system call" */
	if (resume) {
		f->eip = resume;
		resume = 0;
	}
}

int run_user_sysexit(void (*fn)(void))
{
	int v = kjmp_set(&user_jmp);

	if (v)
		return v - 1;
	asm volatile("movl %0, %%eax\n"
		     "movl %%eax, %%ds\n movl %%eax, %%es\n"
		     "sysexit"
		     : : "i"(UDATA), "c"(user_stack + sizeof(user_stack)),
		       "d"(fn) : "eax", "memory");
	__builtin_unreachable();
}

int run_user(void (*fn)(void))
{
	int v = kjmp_set(&user_jmp);

	if (v)
		return v - 1;
	asm volatile("movl %0, %%eax\n"
		     "movl %%eax, %%ds\n movl %%eax, %%es\n"
		     "pushl %0\n pushl %1\n pushfl\n pushl %2\n pushl %3\n"
		     "iret"
		     : : "i"(UDATA), "r"(user_stack + sizeof(user_stack)),
		       "i"(UCODE), "r"(fn) : "eax", "memory");
	__builtin_unreachable();
}

void user_return(int v)
{
	kjmp_go(&user_jmp, v + 1);
}

void user_exit(int v)
{
	asm volatile("int $0x80" : : "a"(0), "b"(v + 1));
	__builtin_unreachable();
}

void lib_main(void)
{
	int i;

	build_gdt();
	build_tss();
	for (i = 0; i < 256; i++)
		trap_gate_default(i, 0x8e);
	trap_gate_default(0x80, 0xef);	/* trap gate, DPL 3 */
	load_tables();
	test_main();
	outl(PORT_EXIT, failures);
	for (;;)
		asm volatile("cli; hlt");
}
