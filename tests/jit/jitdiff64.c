/*
 * The 64-bit half of the translator's differential test (test_jit64.sh):
 * random programs of 64-bit code (gen64.c) run in long mode on three
 * fresh CPUs from the same RAM image and registers: the plain interpreter
 * (exec.c alone: no translator, no decoded-instruction cache), the
 * interpreter with its cache (LGUEST_JIT=0: exec_fast.c's handlers) and
 * the translator.  At the program's HLT the sixteen registers, RIP,
 * RFLAGS, XMM0-15, MXCSR, CR2, all of RAM and what went to the bus must
 * agree.  The plain interpreter is the reference: tests/cpu/diff64 holds
 * it to the host CPU one instruction at a time.
 *
 * The CPUs start in long mode as tests/cpu/diff64.c puts them there, with
 * four-level page tables that show the same 2 MiB at four addresses (see
 * jitdiff64.h), a #PF handler that maps the "lazy" data pages on first
 * touch (and, three levels up, the PDPT entry of alias 3, so that code,
 * stack and data there fault too) and a #GP/#SS/#DE handler that goes on
 * where the program said (GP_RESUME) after a fault it planted on purpose.
 * The handlers add each fault's error code, RIP, RFLAGS and RSP into
 * FAULT_SUM in RAM, so a fault taken at another instruction or with
 * other flags shows.
 *
 * As in the 32-bit half (jitdiff.c), every other program also runs in
 * small random budgets on a translator CPU beside an interpreter one,
 * compared after every cpu_run() until the first fault, and programs
 * with faults run on the translator in slices of every size up to 64.
 *
 * Hand-written programs (directed[]) come first: one runs the same bytes
 * as 64-bit code and as 32-bit code in compatibility mode.
 *
 * Output is TAP; a failing program prints its seed, number and bytes,
 * and "jitdiff64 -s SEED -p N" runs it alone and finds the first
 * instruction count at which the translator and the interpreter part.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "jitdiff64.h"
#include "watchdog.h"

#define MAX_STEPS 200000u
#define MAX_SHOW 4
#define MAX_SPLIT 64u

enum { M_PLAIN, M_CACHE, M_JIT };	/* how a CPU runs */

struct vm {
	struct cpu *c;
	u8 *ram;
	u64 bus_hash;
	u32 bus_n;
	enum cpu_event ev;
};

static u8 *tmpl;
static u8 *rams[4];

const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=16";
}

/* --- The bus: every access hashed, reads answered from the hash --- */

static u64 mix(u64 h, u64 v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

static void bus_log(struct vm *v, u32 kind, u32 gpa, u32 val, int size)
{
	v->bus_hash = mix(mix(mix(v->bus_hash, kind), gpa),
			  (u64)val << 8 | (u32)size);
	v->bus_n++;
}

static u32 size_mask(int size)
{
	return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

static u32 bus_mmio_read(void *o, u32 gpa, int size)
{
	u32 val = (u32)mix(gpa, (u64)size) & size_mask(size);

	bus_log(o, 'r', gpa, val, size);
	return val;
}

static void bus_mmio_write(void *o, u32 gpa, u32 val, int size)
{
	bus_log(o, 'w', gpa, val, size);
}

static u32 bus_io_in(void *o, u16 port, int size)
{
	bus_log(o, 'i', port, 0, size);
	return size_mask(size);
}

static void bus_io_out(void *o, u16 port, u32 val, int size)
{
	bus_log(o, 'o', port, val, size);
}

static u8 bus_ack(void *o)
{
	(void)o;
	return 0xff;
}

static u64 bus_clock(void *o)
{
	(void)o;
	return 0;
}

/* --- The RAM image --- */

static void put64(u8 *ram, u32 gpa, u64 v)
{
	memcpy(ram + gpa, &v, 8);
}

#define LE32(v) (v) & 0xff, (v) >> 8 & 0xff, (v) >> 16 & 0xff, (v) >> 24

/*
 * #PF: add the error code, RIP and RFLAGS to FAULT_SUM; if the PDPT entry
 * of alias 3 is not present, set its present bit (a fault three levels
 * up, on any access through alias 3, code fetches too); else if CR2 is
 * in a lazy page (whichever alias: they share the page table) set its
 * PTE's present bit; else HLT.  Then INVLPG, count and IRETQ to the
 * instruction.
 */
#define LAZY_PDPTE (PDPT_LO + 8 * ALIAS_X_PDPT)
static const u8 pf_handler[] = {
	0x50,					/* push rax */
	0x48, 0x8b, 0x44, 0x24, 0x08,		/* mov rax, [rsp+8] */
	0x48, 0x01, 0x04, 0x25, LE32(FAULT_SUM),	/* add [], rax */
	0x48, 0x8b, 0x44, 0x24, 0x10,		/* mov rax, [rsp+16] */
	0x48, 0x01, 0x04, 0x25, LE32(FAULT_SUM),
	0x48, 0x8b, 0x44, 0x24, 0x20,		/* mov rax, [rsp+32] */
	0x48, 0x01, 0x04, 0x25, LE32(FAULT_SUM),
	0xf6, 0x04, 0x25, LE32(LAZY_PDPTE), 0x01,	/* test byte [], 1 */
	0x75, 0x0a,				/* jnz pte */
	0x80, 0x0c, 0x25, LE32(LAZY_PDPTE), 0x01,	/* or byte [], 1 */
	0xeb, 0x1d,				/* jmp flush */
	0x0f, 0x20, 0xd0,			/* pte: mov rax, cr2 */
	0x48, 0xc1, 0xe8, 0x0c,			/* shr rax, 12 */
	0x25, 0xff, 0x01, 0x00, 0x00,		/* and eax, 0x1ff */
	0x83, 0xe8, LAZY >> 12,			/* sub eax, LAZY >> 12 */
	0x83, 0xf8, 0x01,			/* cmp eax, 1 */
	0x77, 0x1d,				/* ja hlt */
	0x48, 0x83, 0x0c, 0xc5,			/* or qword [rax*8+], 1 */
	LE32(PT_ADDR + 8 * (LAZY >> 12)), 0x01,
	0x0f, 0x20, 0xd0,			/* flush: mov rax, cr2 */
	0x0f, 0x01, 0x38,			/* invlpg [rax] */
	0xff, 0x04, 0x25, LE32(PF_COUNT),	/* inc dword [] */
	0x58,					/* pop rax */
	0x48, 0x83, 0xc4, 0x08,			/* add rsp, 8 */
	0x48, 0xcf,				/* iretq */
	0xf4,					/* hlt */
};

/* #GP and #SS (with an error code; #DE: without, hence the offsets):
 * add the error code, RIP, RFLAGS and RSP to FAULT_SUM, count and go on
 * at GP_RESUME. */
#define RESUME_HANDLER(e, count)					\
	0x50,							\
	0x48, 0x8b, 0x44, 0x24, 0x08,	/* error code, or RIP */	\
	0x48, 0x01, 0x04, 0x25, LE32(FAULT_SUM),			\
	0x48, 0x8b, 0x44, 0x24, 0x08 + (e),	/* RIP */		\
	0x48, 0x01, 0x04, 0x25, LE32(FAULT_SUM),			\
	0x48, 0x8b, 0x44, 0x24, 0x18 + (e),	/* RFLAGS */	\
	0x48, 0x01, 0x04, 0x25, LE32(FAULT_SUM),			\
	0x48, 0x8b, 0x44, 0x24, 0x20 + (e),	/* RSP */	\
	0x48, 0x01, 0x04, 0x25, LE32(FAULT_SUM),			\
	0x48, 0x8b, 0x04, 0x25, LE32(GP_RESUME),	/* mov rax, [] */ \
	0x48, 0x89, 0x44, 0x24, 0x08 + (e),	/* mov [rip], rax */	\
	0xff, 0x04, 0x25, LE32(count),				\
	0x58

static const u8 gp_handler[] = {
	RESUME_HANDLER(8, GP_COUNT),
	0x48, 0x83, 0xc4, 0x08,			/* add rsp, 8 */
	0x48, 0xcf,				/* iretq */
};

static const u8 de_handler[] = {
	RESUME_HANDLER(0, DE_COUNT),
	0x48, 0xcf,				/* iretq */
};

static void set_gate(int v, u64 h)
{
	/* present 64-bit interrupt gate, CS 0x10, IST 1 */
	put64(tmpl, IDT_ADDR + 16 * (u32)v, (h & 0xffff) | 0x10ull << 16 |
	      1ull << 32 | 0x8eull << 40 | (h >> 16 & 0xffff) << 48);
	put64(tmpl, IDT_ADDR + 16 * (u32)v + 8, h >> 32);
}

/* The four chains of tables to the one PT (jitdiff64.h). */
static void tables_init(void)
{
	put64(tmpl, PML4_ADDR, PDPT_LO | 3);
	put64(tmpl, PDPT_LO, PD_LO | 3);
	put64(tmpl, PD_LO, PT_ADDR | 3);
	put64(tmpl, PDPT_LO + 8 * ALIAS_X_PDPT, PD_X | 3);
	put64(tmpl, PD_X + 8 * ALIAS_X_PD, PT_ADDR | 3);
	put64(tmpl, PML4_ADDR + 8 * 255, PDPT_MID | 3);
	put64(tmpl, PDPT_MID + 8 * 511, PD_MID | 3);
	put64(tmpl, PD_MID + 8 * 511, PT_ADDR | 3);
	put64(tmpl, PML4_ADDR + 8 * 511, PDPT_HI | 3);
	put64(tmpl, PDPT_HI + 8 * 511, PD_HI | 3);
	put64(tmpl, PD_HI + 8 * 511, PT_ADDR | 3);
}

static void tmpl_init(void)
{
	int v;

	tmpl = calloc(1, RAM_SIZE);
	if (!tmpl)
		exit(1);
	put64(tmpl, GDT_ADDR + 0x10, 0x00af9b000000ffffull);
	put64(tmpl, GDT_ADDR + 0x18, 0x00cf93000000ffffull);
	put64(tmpl, GDT_ADDR + 0x30, 0x00cf9b000000ffffull);	/* 32-bit */
	put64(tmpl, GDT_ADDR + 0x20, 0x0000890000000067ull |
	      (u64)TSS_ADDR << 16);
	put64(tmpl, TSS_ADDR + 36, IST_TOP);		/* IST1 */
	for (v = 0; v < 256; v++) {
		set_gate(v, STUBS + 16 * (u32)v);
		tmpl[STUBS + 16 * v] = 0xf4;
	}
	set_gate(EXC_PF, PF_HANDLER);
	set_gate(EXC_GP, GP_HANDLER);
	set_gate(EXC_SS, GP_HANDLER);
	set_gate(EXC_DE, DE_HANDLER);
	set_gate(EXC_XM, DE_HANDLER);	/* no error code either */
	set_gate(EXC_NM, DE_HANDLER);
	memcpy(tmpl + PF_HANDLER, pf_handler, sizeof(pf_handler));
	memcpy(tmpl + GP_HANDLER, gp_handler, sizeof(gp_handler));
	memcpy(tmpl + DE_HANDLER, de_handler, sizeof(de_handler));
	tables_init();
}

static void fill_random(u8 *p, u32 n, u64 *s)
{
	u64 v;
	u32 i;

	for (i = 0; i < n; i += 8) {
		v = rng64(s);
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

static u32 phys(const struct prog64 *p, u64 lin)
{
	return (u32)(lin - alias_lin(p->code_alias, 0));
}

static void tmpl_prog(const struct prog64 *p)
{
	u64 s = p->data_seed;
	u32 i, pa;

	for (i = 0; i < 512; i++) {
		pa = i << 12;
		if (pa >= RAM_SIZE)
			put64(tmpl, PT_ADDR + 8 * i, 0);
		else
			put64(tmpl, PT_ADDR + 8 * i, pa |
			      (p->lazy && (pa == LAZY || pa == LAZY + 0x1000) ?
			       2 : 3));
	}
	put64(tmpl, PT_ADDR + 8 * (MMIO_PAGE >> 12), MMIO_PHYS | 3);
	put64(tmpl, LAZY_PDPTE, PD_X | (p->lazy ? 2 : 3));
	memset(tmpl + PF_COUNT, 0, 0x100);
	memset(tmpl + IST_TOP - 0x200, 0, 0x200);
	memset(tmpl + CODE, 0xf4, CODE_END - CODE);
	memcpy(tmpl + phys(p, p->main.lin), p->main.code, p->main.n);
	memcpy(tmpl + phys(p, p->fn.lin), p->fn.code, p->fn.n);
	fill_random(tmpl + DATA, 0x4000, &s);
	memcpy(tmpl + TABLE, p->table, sizeof(p->table));
	for (i = 0; i < p->npreset; i++)
		put64(tmpl, p->preset_at[i], p->preset[i]);
	fill_random(tmpl + STACK, 0x2000, &s);
}

/* A CPU in long mode at the program's start, run as mode says. */
static struct cpu *new_cpu(struct vm *v, u8 *ram, const struct prog64 *p,
			   int mode)
{
	struct cpu_bus bus = {
		.opaque = v, .io_in = bus_io_in, .io_out = bus_io_out,
		.mmio_read = bus_mmio_read, .mmio_write = bus_mmio_write,
		.intr_ack = bus_ack, .clock_ns = bus_clock,
	};
	struct cpu_regs r;
	struct cpu *c;
	int i;

	memset(v, 0, sizeof(*v));
	memcpy(ram, tmpl, RAM_SIZE);
	v->ram = ram;
	if (mode != M_JIT)
		setenv("LGUEST_JIT", "0", 1);
	c = cpu_new(ram, RAM_SIZE, &bus);
	if (mode != M_JIT)
		unsetenv("LGUEST_JIT");
	if (!c) {
		fprintf(stderr, "jitdiff64: cpu_new failed\n");
		exit(1);
	}
	if ((mode == M_JIT) != (c->jit != NULL)) {
		printf("not ok - jit64: the translator is %s where it should "
		       "be %s\n", c->jit ? "on" : "off",
		       mode == M_JIT ? "on" : "off");
		exit(1);
	}
	if (mode == M_PLAIN)
		cpu_dcache_free(c);	/* exec.c alone */
	cpu_reset_flat32(c, 0);
	c->gdtr.base = GDT_ADDR;
	c->gdtr.limit = 0x37;
	c->idtr.base = IDT_ADDR;
	c->idtr.limit = 256 * 16 - 1;
	c->tr.sel = 0x20;
	c->tr.base = TSS_ADDR;
	c->tr.limit = 0x67;
	c->tr.attr = 0x8b;
	c->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	c->cr3 = PML4_ADDR;
	c->efer = EFER_LME | EFER_LMA | EFER_SCE | EFER_NXE;
	c->cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	c->seg[S_CS].sel = 0x10;
	c->seg[S_CS].attr = 0xaf9b;
	/* Bases that 64-bit code must not see. */
	c->seg[S_DS].base = 0x1000;
	c->seg[S_ES].base = 0x3000;
	c->seg[S_SS].base = 0x2000;
	c->seg[S_FS].base = p->fs_base;
	c->seg[S_GS].base = p->gs_base;
	mmu_flush(c, false);
	cpu_get_regs(c, &r);
	r.eflags = (u32)p->rflags;
	cpu_set_regs(c, &r);
	for (i = 0; i < 16; i++)
		c->r[i].q = p->r[i];
	c->rip = p->rip;
	v->c = c;
	return c;
}

/* --- Comparing --- */

struct report {
	char s[2048];
	size_t n;
};

static void say(struct report *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(struct report *o, const char *fmt, ...)
{
	va_list ap;

	if (o->n >= sizeof(o->s) - 1)
		return;
	va_start(ap, fmt);
	o->n += (size_t)vsnprintf(o->s + o->n, sizeof(o->s) - o->n, fmt, ap);
	va_end(ap);
	if (o->n > sizeof(o->s) - 1)
		o->n = sizeof(o->s) - 1;
}

static void clear(struct report *o)
{
	o->n = 0;
	o->s[0] = 0;
}

static const char *const reg_names[16] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

static int diff_regs(struct vm *a, struct vm *b, bool counted,
		     struct report *o)
{
	struct cpu_regs x, y;
	int bad = 0, i;

	for (i = 0; i < 16; i++)
		if (a->c->r[i].q != b->c->r[i].q) {
			say(o, " %s %#llx/%#llx", reg_names[i],
			    (unsigned long long)a->c->r[i].q,
			    (unsigned long long)b->c->r[i].q);
			bad++;
		}
	if (a->c->rip != b->c->rip) {
		say(o, " rip %#llx/%#llx", (unsigned long long)a->c->rip,
		    (unsigned long long)b->c->rip);
		bad++;
	}
	cpu_get_regs(a->c, &x);
	cpu_get_regs(b->c, &y);
	if (x.eflags != y.eflags) {
		say(o, " rflags %#x/%#x (differ %#x)", x.eflags, y.eflags,
		    x.eflags ^ y.eflags);
		bad++;
	}
	for (i = 0; i < 16; i++)
		if (memcmp(&a->c->xmm[i], &b->c->xmm[i], 16)) {
			say(o, " xmm%d %016llx%016llx/%016llx%016llx", i,
			    (unsigned long long)a->c->xmm[i].q[1],
			    (unsigned long long)a->c->xmm[i].q[0],
			    (unsigned long long)b->c->xmm[i].q[1],
			    (unsigned long long)b->c->xmm[i].q[0]);
			bad++;
		}
	if (a->c->mxcsr != b->c->mxcsr) {
		say(o, " mxcsr %#x/%#x", a->c->mxcsr, b->c->mxcsr);
		bad++;
	}
	if (a->c->cr2 != b->c->cr2) {
		say(o, " cr2 %#llx/%#llx", (unsigned long long)a->c->cr2,
		    (unsigned long long)b->c->cr2);
		bad++;
	}
	if (counted && cpu_icount(a->c) != cpu_icount(b->c)) {
		say(o, " icount %llu/%llu",
		    (unsigned long long)cpu_icount(a->c),
		    (unsigned long long)cpu_icount(b->c));
		bad++;
	}
	return bad;
}

static int diff_ram(struct vm *a, struct vm *b, struct report *o)
{
	u32 i, shown = 0;
	u64 x, y;

	if (!memcmp(a->ram, b->ram, RAM_SIZE))
		return 0;
	for (i = 0; i < RAM_SIZE; i += 8) {
		memcpy(&x, a->ram + i, 8);
		memcpy(&y, b->ram + i, 8);
		if (x != y && shown++ < 6)
			say(o, " [%#x] %016llx/%016llx", i,
			    (unsigned long long)x, (unsigned long long)y);
	}
	if (shown > 6)
		say(o, " (%u words differ)", shown);
	return 1;
}

static int diff_all(struct vm *a, struct vm *b, bool counted,
		    struct report *o)
{
	int bad = 0;

	if (a->ev != b->ev) {
		say(o, " event %d/%d", a->ev, b->ev);
		bad++;
	}
	bad += diff_regs(a, b, counted, o);
	bad += diff_ram(a, b, o);
	if (a->bus_hash != b->bus_hash || a->bus_n != b->bus_n) {
		say(o, " bus: %u/%u accesses, hash %llx/%llx", a->bus_n,
		    b->bus_n, (unsigned long long)a->bus_hash,
		    (unsigned long long)b->bus_hash);
		bad++;
	}
	return bad;
}

static u32 count_at(const struct vm *v, u32 gpa)
{
	u32 n;

	memcpy(&n, v->ram + gpa, 4);
	return n;
}

/* A fault taken so far: a handler counts it only when it is done, so
 * CR2 and RIP inside a handler tell too.  (The translator charges a
 * whole block when it starts, so the counts part at a fault.) */
static bool faulted(const struct vm *v)
{
	return v->c->cr2 != 0 || count_at(v, GP_COUNT) ||
	       count_at(v, DE_COUNT) ||
	       (v->c->rip >= PF_HANDLER && v->c->rip < STUBS + 0x1000);
}

static u32 faults(const struct vm *v)
{
	return count_at(v, PF_COUNT) + count_at(v, GP_COUNT) +
	       count_at(v, DE_COUNT);
}

/* --- Running --- */

enum {
	G_FLAT, G_LAZY, G_FAULTS, G_SMC, G_CACHE, G_BUDGET, G_SPLIT, G_GEN,
	NGROUPS
};

static const char *const group_names[NGROUPS] = {
	"64-bit programs without faults agree with the interpreter",
	"64-bit programs with #PF agree with the interpreter",
	"64-bit programs with #GP, #SS, #DE agree with the interpreter",
	"64-bit self-modifying programs agree with the interpreter",
	"64-bit programs agree between the interpreter and its cache",
	"64-bit programs run in small budgets agree at every budget end",
	"64-bit programs with faults run in slices of every size agree",
	"64-bit reference runs end at the program's HLT",
};

struct stats {
	unsigned progs[NGROUPS], bad[NGROUPS], shown[NGROUPS];
	unsigned rejected, with_pf, with_gp, with_bus, smc;
	u64 insns, jit_bytes;
};

static u64 run_seed;
static bool chatty;
static unsigned split_progs = 25;

static void hex(const char *what, const struct buf64 *b)
{
	u32 i;

	printf("#   %s at %#llx (%u bytes):", what,
	       (unsigned long long)b->lin, b->n);
	for (i = 0; i < b->n; i++)
		printf("%s%02x", i % 32 ? " " : "\n#     ", b->code[i]);
	printf("\n");
}

static void print_prog(unsigned idx, const struct prog64 *p)
{
	int i;

	printf("#   lazy %d, code alias %d, FS %#llx, GS %#llx, rflags "
	       "%#llx, HLT at %#llx\n#  ", p->lazy, p->code_alias,
	       (unsigned long long)p->fs_base,
	       (unsigned long long)p->gs_base,
	       (unsigned long long)p->rflags, (unsigned long long)p->hlt);
	for (i = 0; i < 16; i++)
		printf(" %s=%llx", reg_names[i], (unsigned long long)p->r[i]);
	printf("\n");
	hex("main", &p->main);
	if (p->fn.n)
		hex("functions", &p->fn);
	printf("#   again: build/tests/jit/jitdiff64 -s %llu -p %u\n",
	       (unsigned long long)run_seed, idx);
}

static void show(struct stats *st, int g, unsigned idx,
		 const struct prog64 *p, const char *what,
		 const struct report *o)
{
	st->bad[g]++;
	if (!chatty && st->shown[g]++ >= MAX_SHOW)
		return;
	printf("# FAIL (%s) seed %llu program %u: %s:%s\n", group_names[g],
	       (unsigned long long)run_seed, idx, what, o->s);
	print_prog(idx, p);
}

static void run_budgets(struct stats *st, unsigned idx,
			const struct prog64 *p, struct vm *ref)
{
	struct vm a, b;
	struct report o = { .n = 0 };
	u64 s = p->seed ^ 0x5bd1e995u, total = 0;
	bool lockstep = true;
	char what[96];
	u32 k;

	new_cpu(&a, rams[2], p, M_CACHE);
	new_cpu(&b, rams[3], p, M_JIT);
	a.ev = b.ev = CPU_BUDGET;
	while ((a.ev == CPU_BUDGET || b.ev == CPU_BUDGET) &&
	       total < MAX_STEPS) {
		k = (u32)(rng64(&s) % 100 < 70 ? 1 + rng64(&s) % 8 :
			  1 + rng64(&s) % 64);
		total += k;
		if (a.ev == CPU_BUDGET)
			a.ev = cpu_run(a.c, k);
		if (b.ev == CPU_BUDGET)
			b.ev = cpu_run(b.c, k);
		if (!lockstep)
			continue;
		if (faulted(&a) || faulted(&b)) {
			lockstep = false;
			continue;
		}
		if (a.ev != b.ev || diff_regs(&a, &b, true, &o)) {
			snprintf(what, sizeof(what),
				 "after %llu instructions (chunk of %u)",
				 (unsigned long long)cpu_icount(a.c), k);
			say(&o, " event %d/%d", a.ev, b.ev);
			show(st, G_BUDGET, idx, p, what, &o);
			goto out;
		}
	}
	if (diff_all(ref, &b, !faults(ref), &o))
		show(st, G_BUDGET, idx, p, "translator in budgets, at the end",
		     &o);
	else if (diff_all(ref, &a, !faults(ref), &o))
		show(st, G_BUDGET, idx, p,
		     "interpreter in budgets, at the end", &o);
out:
	st->progs[G_BUDGET]++;
	cpu_free(a.c);
	cpu_free(b.c);
}

/* A program with faults, on the translator in slices of k instructions
 * for every k up to MAX_SPLIT: it must end as the interpreter's did. */
static void run_splits(struct stats *st, unsigned idx,
		       const struct prog64 *p, struct vm *ref)
{
	struct report o;
	char what[64];
	struct vm b;
	u64 k, total;

	for (k = 1; k <= MAX_SPLIT; k++) {
		new_cpu(&b, rams[3], p, M_JIT);
		b.ev = CPU_BUDGET;
		for (total = 0; b.ev == CPU_BUDGET && total < MAX_STEPS;
		     total += k)
			b.ev = cpu_run(b.c, k);
		clear(&o);
		if (diff_all(ref, &b, false, &o)) {
			snprintf(what, sizeof(what), "in slices of %llu",
				 (unsigned long long)k);
			show(st, G_SPLIT, idx, p, what, &o);
			cpu_free(b.c);
			break;
		}
		cpu_free(b.c);
	}
	st->progs[G_SPLIT]++;
}

static int prog_group(const struct prog64 *p, const struct vm *ref)
{
	if (p->smc)
		return G_SMC;
	if (count_at(ref, GP_COUNT) || count_at(ref, DE_COUNT))
		return G_FAULTS;
	return count_at(ref, PF_COUNT) ? G_LAZY : G_FLAT;
}

static void run_prog(struct stats *st, unsigned idx, const struct prog64 *p)
{
	struct vm ref, dc, jit;
	struct report o = { .n = 0 };
	struct cpu_jit_stats js;
	int g;

	tmpl_prog(p);
	new_cpu(&ref, rams[0], p, M_PLAIN);
	new_cpu(&dc, rams[1], p, M_CACHE);
	ref.ev = cpu_run(ref.c, MAX_STEPS);
	dc.ev = cpu_run(dc.c, MAX_STEPS);
	st->insns += cpu_icount(ref.c);
	st->with_pf += count_at(&ref, PF_COUNT) != 0;
	st->with_gp += count_at(&ref, GP_COUNT) + count_at(&ref, DE_COUNT) != 0;
	st->with_bus += ref.bus_n != 0;
	st->smc += p->smc != 0;
	st->progs[G_GEN]++;
	if (ref.ev != CPU_HALT || ref.c->rip != p->hlt + 1) {
		say(&o, " ended with event %d at rip %#llx (vector %d?)",
		    ref.ev, (unsigned long long)ref.c->rip,
		    ref.c->rip > STUBS && ref.c->rip <= STUBS + 4096 ?
		    (int)((ref.c->rip - STUBS - 1) / 16) : -1);
		show(st, G_GEN, idx, p, "the interpreter", &o);
		clear(&o);
	}
	st->progs[G_CACHE]++;
	if (diff_all(&ref, &dc, !faults(&ref), &o))
		show(st, G_CACHE, idx, p, "interpreter/its cache", &o);
	cpu_free(dc.c);
	clear(&o);
	new_cpu(&jit, rams[1], p, M_JIT);
	jit.ev = cpu_run(jit.c, MAX_STEPS);
	g = prog_group(p, &ref);
	st->progs[g]++;
	if (diff_all(&ref, &jit, !faults(&ref), &o))
		show(st, g, idx, p, "interpreter/translator", &o);
	else if (chatty)
		printf("# program %u: %llu instructions, %u faults, agree\n",
		       idx, (unsigned long long)cpu_icount(ref.c),
		       faults(&ref));
	cpu_jit_stats(jit.c, &js);
	st->jit_bytes += js.bytes;
	cpu_free(jit.c);
	if (idx % 2 || chatty)
		run_budgets(st, idx, p, &ref);
	if (faults(&ref) && (st->progs[G_SPLIT] < split_progs || chatty))
		run_splits(st, idx, p, &ref);
	cpu_free(ref.c);
}

static void dump(const char *who, struct vm *v)
{
	struct cpu_regs r;
	int i;

	cpu_get_regs(v->c, &r);
	printf("#   %-11s", who);
	for (i = 0; i < 16; i++)
		printf(" %s=%llx", reg_names[i],
		       (unsigned long long)v->c->r[i].q);
	printf(" rip=%llx rflags=%x icount=%llu\n",
	       (unsigned long long)v->c->rip, r.eflags,
	       (unsigned long long)cpu_icount(v->c));
}

/*
 * For -p: the first instruction count N at which a translator CPU run
 * for N instructions in one go differs from the plain interpreter
 * stepped N times (up to the first fault), with the RIPs that led there.
 */
static void bisect(const struct prog64 *p)
{
	static u64 rips[4096];
	struct vm ref, jit;
	struct report o;
	u32 n, i;

	tmpl_prog(p);
	for (n = 1; n < 4096; n++) {
		new_cpu(&ref, rams[2], p, M_PLAIN);
		new_cpu(&jit, rams[3], p, M_JIT);
		for (i = 0; i < n; i++) {
			rips[i] = ref.c->rip;
			ref.ev = cpu_run(ref.c, 1);
			if (ref.ev != CPU_BUDGET || faulted(&ref))
				break;
		}
		jit.ev = cpu_run(jit.c, n);
		clear(&o);
		if (i == n && !faulted(&jit) &&
		    diff_all(&ref, &jit, true, &o)) {
			printf("# first difference after %u instructions:%s\n",
			       n, o.s);
			dump("interpreter", &ref);
			dump("translator", &jit);
			printf("# the last RIPs:");
			for (i = n > 8 ? n - 8 : 0; i < n; i++)
				printf(" %#llx", (unsigned long long)rips[i]);
			printf("\n");
			n = 4096;
		} else if (i < n) {
			printf("# no difference before the end or a fault\n");
			n = 4096;
		}
		cpu_free(ref.c);
		cpu_free(jit.c);
	}
	printf("# disassemble: printf '%%s' '<main hex>' | xxd -r -p >p.bin;"
	       " objdump -D -b binary -mi386:x86-64 --adjust-vma=%#llx "
	       "p.bin\n", (unsigned long long)p->main.lin);
}

static u64 prog_seed(unsigned idx)
{
	u64 s = run_seed * 0x2545f4914f6cdd1dull + idx + 0x64;

	return rng64(&s);
}

/* -x: the program is given as hex bytes (ending with HLT, f4); the rest
 * of the set-up is program 0's of the seed, with the code and the stack
 * in alias 0 (below 4 GiB, where 32-bit code can run too). */
static bool prog_from_hex(struct prog64 *p, const char *hex)
{
	unsigned v, k = 0;

	/* Any generated program gives the machine (page tables, aliases):
	 * the first of the seed's that fits. */
	while (!gen_prog64(p, prog_seed(k)))
		if (++k == 1000)
			return false;
	p->rip = phys(p, p->rip);
	p->main.lin = p->rip;
	p->code_alias = 0;
	p->r[R_ESP] = STACK + 0x1000;
	p->smc = 0;
	p->npreset = 0;
	p->fn.n = 0;
	p->main.n = 0;
	while (*hex && p->main.n < p->main.cap) {
		if (isspace((unsigned char)*hex)) {
			hex++;
			continue;
		}
		if (sscanf(hex, "%2x", &v) != 1)
			return false;
		p->main.code[p->main.n++] = (u8)v;
		hex += hex[1] ? 2 : 1;
	}
	p->hlt = p->main.lin + p->main.n - 1;
	return p->main.n && p->main.code[p->main.n - 1] == 0xf4;
}

/*
 * Hand-written programs.  The first runs the same bytes S (48 83 c0 05
 * ff e3) as 64-bit code (ADD RAX, 5; JMP RBX), as 32-bit code in
 * compatibility mode (DEC EAX; ADD EAX, 5; JMP EBX), reached by a RETFQ
 * to a 32-bit code segment, and after a RETF back as 64-bit code again:
 * a block or a decoded entry kept for one mode must not run in the other.
 * It clears RAX and RCX first: the translator's 32-bit code leaves the
 * upper halves of the registers it writes in compatibility mode, where
 * the interpreter (and the host CPU) clear them; without the XORs this
 * program shows that.
 */
static const char *const directed[] = {
	"31 c0 31 c9 "				/* xor eax, eax; xor ecx, ecx */
	"eb 06 48 83 c0 05 ff e3 "		/* jmp over S; S */
	"48 8d 1d 05 00 00 00 e9 ee ff ff ff "	/* lea rbx, [back1]; jmp S */
	"48 8d 05 05 00 00 00 6a 30 50 48 cb "	/* push 0x30, compat; retfq */
	"e8 00 00 00 00 5b 8d 4b 10 83 c3 0c "	/* ebx, ecx: back2, entry64 */
	"e9 d1 ff ff ff "			/* jmp S */
	"6a 10 51 cb "				/* push 0x10, entry64; retf */
	"48 8d 1d 05 00 00 00 e9 c1 ff ff ff "	/* lea rbx, [back3]; jmp S */
	"f4",
};

static void run_directed(struct stats *st)
{
	static struct prog64 p;
	size_t i;

	for (i = 0; i < sizeof(directed) / sizeof(directed[0]); i++) {
		if (!prog_from_hex(&p, directed[i])) {
			printf("not ok - jit64: directed program %zu does not "
			       "parse\n", i);
			exit(1);
		}
		watchdog_arm("jit64", 100000 + (unsigned)i);
		run_prog(st, 100000 + (unsigned)i, &p);
		alarm(0);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: jitdiff64 [-n programs] [-s seed] "
		"[-p program | -x hex] [-v]\n"
		"  defaults from JIT64_TEST_PROGS and JIT_TEST_SEED\n");
	exit(2);
}

static void summary(const struct stats *st, bool all)
{
	int g;

	printf("# seed %llu: %u programs (%u did not fit), %llu "
	       "instructions; %u took #PF, %u #GP/#SS/#DE, %u modified "
	       "their code, %u used the bus\n",
	       (unsigned long long)run_seed, st->progs[G_GEN], st->rejected,
	       (unsigned long long)st->insns, st->with_pf, st->with_gp,
	       st->smc, st->with_bus);
	printf("# the translator wrote %llu bytes of code and "
	       "descriptors\n", (unsigned long long)st->jit_bytes);
	if (all)
		printf("%s - jit64: the translator translated\n",
		       st->jit_bytes ? "ok" : "not ok");
	for (g = 0; g < NGROUPS; g++)
		if (all || st->progs[g])
			printf("%s - jit64: %u %s%s (%u differ)\n",
			       st->bad[g] || !st->progs[g] ? "not ok" : "ok",
			       st->progs[g], group_names[g],
			       st->progs[g] ? "" : " (none ran)", st->bad[g]);
}

int main(int argc, char **argv)
{
	static struct prog64 p;
	struct stats st;
	unsigned n = 600, idx, only = ~0u, i;
	const char *e, *hex = NULL;
	bool ok;
	int g;

	if ((e = getenv("JIT64_TEST_PROGS")))
		n = (unsigned)strtoul(e, NULL, 0);
	run_seed = (e = getenv("JIT_TEST_SEED")) ? strtoull(e, NULL, 0) : 1;
	for (i = 1; i < (unsigned)argc; i++) {
		if (!strcmp(argv[i], "-v"))
			chatty = true;
		else if (i + 1 < (unsigned)argc && !strcmp(argv[i], "-n"))
			n = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (i + 1 < (unsigned)argc && !strcmp(argv[i], "-s"))
			run_seed = strtoull(argv[++i], NULL, 0);
		else if (i + 1 < (unsigned)argc && !strcmp(argv[i], "-p"))
			only = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (i + 1 < (unsigned)argc && !strcmp(argv[i], "-x"))
			hex = argv[++i], only = 0;
		else
			usage();
	}
	memset(&st, 0, sizeof(st));
	tmpl_init();
	for (i = 0; i < 4; i++) {
		rams[i] = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (rams[i] == MAP_FAILED) {
			perror("jitdiff64: RAM");
			return 1;
		}
	}
	if (only == ~0u)
		run_directed(&st);
	for (idx = 0; idx < n || only != ~0u; idx++) {
		if (only != ~0u) {
			idx = only;
			chatty = true;
		}
		ok = hex ? prog_from_hex(&p, hex) :
			   gen_prog64(&p, prog_seed(idx));
		if (!ok) {
			st.rejected++;
			if (only != ~0u)
				printf("# program %u does not fit\n", idx);
		} else {
			if (only != ~0u)
				print_prog(idx, &p);
			watchdog_arm("jit64", idx);
			run_prog(&st, idx, &p);
			alarm(0);
			if (only != ~0u)
				bisect(&p);
		}
		if (only != ~0u)
			break;
	}
	summary(&st, only == ~0u);
	for (g = 0; g < NGROUPS; g++)
		if (st.bad[g] || (only == ~0u && !st.progs[g]))
			return 1;
	return st.jit_bytes ? 0 : 1;
}
