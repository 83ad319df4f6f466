/*
 * The translator (src/cpu/jit.c) against the interpreter: random programs
 * (gen.c) run on fresh CPUs, one made with LGUEST_JIT=0 (the interpreter
 * and its decoded-instruction cache) and one with the translator, from
 * the same RAM image and registers; at the program's HLT the registers,
 * EFLAGS, EIP, CR2, all of RAM and what went to the bus must agree.
 *
 * The one-instruction difftest (tests/cpu) cannot see what is the
 * translator's own: blocks, dead flags, chaining, the Jcc that redoes a
 * CMP on the host, inline memory accesses and their cold paths, faults
 * part way through a block, budgets that end inside a chain, code that
 * changes under a block.  So programs here are whole: up to 40 items
 * (instructions, forward branches, counted loops, calls, self-modifying
 * loops), with paging on for half of them and a #PF handler that maps the
 * "lazy" data pages on first touch.  Every other program also runs in
 * small random budgets on a second pair of CPUs, compared after every
 * cpu_run() until the first page fault (a fault inside a block charges
 * the rest of the block, so the counts part there by design).
 *
 * Output is TAP; a failing program prints its seed, number and bytes,
 * and "jitdiff -s SEED -p N" runs it alone with a disassembly command.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "jitdiff.h"
#include "watchdog.h"

#define MAX_STEPS 200000u	/* a program runs a few thousand at most */
#define MAX_SHOW 4		/* failing programs printed per group */

/* One CPU with its RAM and what it said on the bus. */
struct vm {
	struct cpu *c;
	u8 *ram;
	u64 bus_hash;
	u32 bus_n;
	u32 clock_reads;	/* RDTSC's calls of bus_clock() */
	bool stops;		/* ... each third of which asks to stop */
	enum cpu_event ev;
};

static u8 *tmpl;		/* the RAM image every run starts from */
static u8 *rams[4];

/*
 * Every program makes four CPUs, each with a megabyte or two of tables
 * that the sanitizer's allocator would map afresh and hold in its
 * quarantine: with a small one, the run is twice as fast.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=16";
}

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

/*
 * A device asking the CPU to stop, as a real one does from its own
 * thread at any moment: the translator sees it only where it looks
 * (after a handler that may reach a device, at a jump back or to another
 * page), so it leaves from wherever its block is then, with whatever
 * registers it has not yet stored; the interpreter stops after the
 * instruction.  Both must end the program alike (run_stopping()).
 */
static u64 bus_clock(void *o)
{
	struct vm *v = o;

	if (v->stops && ++v->clock_reads % 3 == 0)
		cpu_stop(v->c);
	return 0;
}

static void put32(u8 *ram, u32 gpa, u32 v)
{
	memcpy(ram + gpa, &v, 4);
}

/*
 * The #PF handler: set the present bit of the PTE of CR2's page, INVLPG
 * it, count the fault and IRET to the instruction, which runs again.
 * The arithmetic flags the fault saved go into a hash: the translator
 * must have them exact at a fault even where the instruction run again
 * sets them all (it defers making them, and its cold paths make them).
 * SS overrides: DS may have a base.
 */
static const u8 pf_handler[] = {
	0x50,					/* push eax */
	0x8b, 0x44, 0x24, 0x10,			/* mov eax, [esp+16] */
	0x25, 0xd5, 0x08, 0, 0,			/* and eax, 0x8d5 */
	0x36, 0x31, 0x05,			/* xor ss:[PF_FLAGS], eax */
	PF_FLAGS & 0xff, PF_FLAGS >> 8 & 0xff, 0, 0,
	0x36, 0xc1, 0x05,			/* rol dword ss:[], 5 */
	PF_FLAGS & 0xff, PF_FLAGS >> 8 & 0xff, 0, 0, 5,
	0x0f, 0x20, 0xd0,			/* mov eax, cr2 */
	0xc1, 0xe8, 0x0c,			/* shr eax, 12 */
	0x36, 0x83, 0x0c, 0x85,			/* or ss:[eax*4+PT], 1 */
	PT_ADDR & 0xff, PT_ADDR >> 8 & 0xff, 0, 0, 0x01,
	0x0f, 0x20, 0xd0,			/* mov eax, cr2 */
	0x0f, 0x01, 0x38,			/* invlpg [eax] */
	0x36, 0xff, 0x05,			/* inc dword ss:[PF_COUNT] */
	PF_COUNT & 0xff, PF_COUNT >> 8 & 0xff, 0, 0,
	0x58,					/* pop eax */
	0x83, 0xc4, 0x04,			/* add esp, 4 */
	0xcf,					/* iret */
};

/* GDT, IDT (#PF to the handler, every other vector to a HLT of its own),
 * the handler: what does not change from one program to the next. */
static void tmpl_init(void)
{
	u32 v, h;

	tmpl = calloc(1, RAM_SIZE);
	if (!tmpl)
		exit(1);
	put32(tmpl, GDT_ADDR + 0x10, 0x0000ffff);
	put32(tmpl, GDT_ADDR + 0x14, 0x00cf9b00);
	put32(tmpl, GDT_ADDR + 0x18, 0x0000ffff);
	put32(tmpl, GDT_ADDR + 0x1c, 0x00cf9300);
	put32(tmpl, GDT_ADDR + GDT_DS_1000, 0x1000ffff);
	put32(tmpl, GDT_ADDR + GDT_DS_1000 + 4, 0x00cf9300);
	put32(tmpl, GDT_ADDR + GDT_DS_OTHER, DS_OTHER_BASE << 16 | 0xffff);
	put32(tmpl, GDT_ADDR + GDT_DS_OTHER + 4, 0x00cf9300);
	for (v = 0; v < 256; v++) {
		h = v == EXC_PF ? PF_HANDLER : STUBS + 16 * v;
		put32(tmpl, IDT_ADDR + 8 * v, 0x00100000 | (h & 0xffff));
		put32(tmpl, IDT_ADDR + 8 * v + 4, (h & 0xffff0000u) | 0x8e00);
		tmpl[STUBS + 16 * v] = 0xf4;
	}
	memcpy(tmpl + PF_HANDLER, pf_handler, sizeof(pf_handler));
	put32(tmpl, PD_ADDR, PT_ADDR | 3);
}

static void fill_random(u8 *p, u32 n, u64 *s)
{
	u64 v;
	u32 i;

	for (i = 0; i < n; i += 8) {
		v = rng_next(s);
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

static void tmpl_prog(const struct prog *p)
{
	u64 s = p->data_seed;
	u32 i, pa;

	for (i = 0; i < 1024; i++) {
		pa = i << 12;
		if (p->paging && pa >= CODE_ALIAS &&
		    pa < CODE_ALIAS + (CODE_END - CODE)) {
			/* Accessed and dirty already: the first access
			 * through the alias, a load, may fill a TLB entry
			 * that lets stores through. */
			put32(tmpl, PT_ADDR + 4 * i,
			      (CODE + (pa - CODE_ALIAS)) | 0x63);
			continue;
		}
		put32(tmpl, PT_ADDR + 4 * i,
		      pa | (p->paging && (pa == LAZY || pa == LAZY + 0x1000) ?
			    2 : 3));
	}
	put32(tmpl, PF_COUNT, 0);
	put32(tmpl, PF_FLAGS, 0);
	memset(tmpl + CODE, 0xf4, CODE_END - CODE);
	memcpy(tmpl + p->main.addr, p->main.code, p->main.n);
	memcpy(tmpl + p->fn.addr, p->fn.code, p->fn.n);
	fill_random(tmpl + DATA, 0x4000, &s);
	memcpy(tmpl + TABLE, p->table, sizeof(p->table));
	for (i = 0; i < p->npreset; i++)
		put32(tmpl, p->preset_at[i], p->preset[i]);
	fill_random(tmpl + STACK, 0x2000, &s);
}

static struct cpu *new_cpu(struct vm *v, u8 *ram, const struct prog *p,
			   bool jit)
{
	struct cpu_bus bus = {
		.opaque = v, .io_in = bus_io_in, .io_out = bus_io_out,
		.mmio_read = bus_mmio_read, .mmio_write = bus_mmio_write,
		.intr_ack = bus_ack, .clock_ns = bus_clock,
	};
	struct cpu_regs r;
	struct cpu *c;

	memset(v, 0, sizeof(*v));
	memcpy(ram, tmpl, RAM_SIZE);
	v->ram = ram;
	if (!jit)
		setenv("LGUEST_JIT", "0", 1);
	c = cpu_new(ram, RAM_SIZE, &bus);
	if (!jit)
		unsetenv("LGUEST_JIT");
	if (!c) {
		fprintf(stderr, "jitdiff: cpu_new failed\n");
		exit(1);
	}
	if (jit != (c->jit != NULL)) {
		printf("not ok - jit: the translator is %s where it should "
		       "be %s\n", c->jit ? "on" : "off", jit ? "on" : "off");
		exit(1);
	}
	cpu_reset_flat32(c, p->base);
	c->gdtr.base = GDT_ADDR;
	c->gdtr.limit = GDT_DS_OTHER + 7;
	c->idtr.base = IDT_ADDR;
	c->idtr.limit = 0x7ff;
	c->seg[S_DS].base = p->seg_base[S_DS];
	/* The selector of a segment of that base, for a POP DS to load. */
	c->seg[S_DS].sel = p->seg_base[S_DS] == 0x1000 ? GDT_DS_1000 : 0x18;
	c->seg[S_FS].base = p->seg_base[S_FS];
	c->seg[S_GS].base = p->seg_base[S_GS];
	c->seg[S_GS].limit = 0x1fff;		/* byte granular */
	c->seg[S_GS].attr = 0x4093;
	c->cr4 |= CR4_OSFXSR | CR4_OSXMMEXCPT;
	if (p->paging) {
		c->cr3 = PD_ADDR;
		c->cr0 |= CR0_PG;
		mmu_flush(c, false);
	}
	cpu_get_regs(c, &r);
	memcpy(r.gpr, p->r, sizeof(r.gpr));
	r.eip = p->base;
	r.eflags = p->eflags;
	cpu_set_regs(c, &r);
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

static const char *const reg_names[8] = {
	"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
};

/*
 * The x87: both brought back from the host's x87 first (fpu_sync()), then
 * the control, status and tag words, TOP, the last instruction's pointers
 * and opcode, and every register the tags say is not empty.  The
 * translator runs most forms on the host and makes the status word
 * exact only where something can look: here is one such place.
 */
static int diff_x87(struct vm *a, struct vm *b, struct report *o)
{
	const struct fpu *x = &a->c->fpu, *y = &b->c->fpu;
	int bad = 0, i;

	fpu_sync(a->c);
	fpu_sync(b->c);
	if (x->cw != y->cw || x->sw != y->sw || x->tw != y->tw ||
	    x->top != y->top) {
		say(o, " x87 cw/sw/tw/top %#x %#x %#x %u/%#x %#x %#x %u",
		    x->cw, x->sw, x->tw, x->top, y->cw, y->sw, y->tw, y->top);
		bad++;
	}
	if (x->fop != y->fop || x->fip != y->fip || x->fdp != y->fdp ||
	    x->fcs != y->fcs || x->fds != y->fds) {
		say(o, " x87 fop/fip/fdp %#x %#llx %#llx/%#x %#llx %#llx",
		    x->fop, (unsigned long long)x->fip,
		    (unsigned long long)x->fdp, y->fop,
		    (unsigned long long)y->fip, (unsigned long long)y->fdp);
		bad++;
	}
	for (i = 0; i < 8; i++)
		if (((x->tw >> (2 * i)) & 3) != 3 &&
		    memcmp(&x->st[i], &y->st[i], 10)) {
			say(o, " st(phys %d) differs", i);
			bad++;
		}
	return bad;
}

/* Registers, EIP, EFLAGS, XMM0-7, MXCSR, the x87, CR2 and (if counted)
 * icount: 0 if equal. */
static int diff_regs(struct vm *a, struct vm *b, bool counted,
		     struct report *o)
{
	struct cpu_regs x, y;
	int bad = 0, i;

	cpu_get_regs(a->c, &x);
	cpu_get_regs(b->c, &y);
	for (i = 0; i < 8; i++)
		if (x.gpr[i] != y.gpr[i]) {
			say(o, " %s %#x/%#x", reg_names[i], x.gpr[i],
			    y.gpr[i]);
			bad++;
		}
	if (x.eip != y.eip) {
		say(o, " eip %#x/%#x", x.eip, y.eip);
		bad++;
	}
	if (x.eflags != y.eflags) {
		say(o, " eflags %#x/%#x (differ %#x)", x.eflags, y.eflags,
		    x.eflags ^ y.eflags);
		bad++;
	}
	for (i = 0; i < 8; i++)
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
	bad += diff_x87(a, b, o);
	if (x.cr2 != y.cr2) {
		say(o, " cr2 %#x/%#x", x.cr2, y.cr2);
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
	int bad = 0;

	if (!memcmp(a->ram, b->ram, RAM_SIZE))
		return 0;
	for (i = 0; i < RAM_SIZE; i += 4) {
		u32 x, y;

		memcpy(&x, a->ram + i, 4);
		memcpy(&y, b->ram + i, 4);
		if (x == y)
			continue;
		bad++;
		if (shown++ < 6)
			say(o, " [%#x] %08x/%08x", i, x, y);
	}
	if (shown > 6)
		say(o, " (%u words differ)", shown);
	return bad;
}

/* Everything at the end of a run. */
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

/* A #PF taken (the handler counts only when it is done). */
static bool faulted(const struct vm *v)
{
	return v->c->cr2 != 0;
}

static u32 faults(const struct vm *v)
{
	u32 n;

	memcpy(&n, v->ram + PF_COUNT, 4);
	return n;
}

/* --- Running --- */

enum { G_FLAT, G_PAGING, G_SMC, G_BUDGET, G_SPLIT, G_GEN, NGROUPS };

static const char *const group_names[NGROUPS] = {
	"programs without paging agree with the interpreter",
	"programs with paging and #PF agree with the interpreter",
	"self-modifying programs agree with the interpreter",
	"programs run in small budgets agree at every budget end",
	"programs with #PF run in slices of every size agree at the end",
	"reference runs end at the program's HLT",
};

struct stats {
	unsigned progs[NGROUPS], bad[NGROUPS], shown[NGROUPS];
	unsigned rejected, with_faults, with_bus;
	u64 insns;
};

static u64 run_seed;
static bool chatty;
static unsigned split_progs = 40;	/* faulting programs split */

static void hex(const char *what, const struct buf *b)
{
	u32 i;

	printf("#   %s at %#x (%u bytes):", what, b->addr, b->n);
	for (i = 0; i < b->n; i++)
		printf("%s%02x", i % 32 ? " " : "\n#     ", b->code[i]);
	printf("\n");
}

static void print_prog(unsigned idx, const struct prog *p)
{
	printf("#   paging %d, DS base %#x, FS base %#x, esp %#x, "
	       "eflags %#x, HLT at %#x\n", p->paging, p->seg_base[S_DS],
	       p->seg_base[S_FS], p->r[R_ESP], p->eflags, p->hlt);
	hex("main", &p->main);
	if (p->fn.n)
		hex("functions", &p->fn);
	printf("#   again: build/tests/jit/jitdiff -s %llu -p %u\n",
	       (unsigned long long)run_seed, idx);
}

static void show(struct stats *st, int g, unsigned idx,
		 const struct prog *p, const char *what,
		 const struct report *o)
{
	st->bad[g]++;
	if (!chatty && st->shown[g]++ >= MAX_SHOW)
		return;
	printf("# FAIL (%s) seed %llu program %u: %s:%s\n", group_names[g],
	       (unsigned long long)run_seed, idx, what, o->s);
	print_prog(idx, p);
}

/* Run in chunks of random size on an interpreter and a translator CPU
 * side by side, comparing at each chunk's end until a fault. */
static void run_budgets(struct stats *st, unsigned idx,
			const struct prog *p, struct vm *ref)
{
	struct vm a, b;
	struct report o = { .n = 0 };
	u64 s = p->seed ^ 0x5bd1e995u, total = 0;
	bool lockstep = true;
	u32 k;

	new_cpu(&a, rams[2], p, false);
	new_cpu(&b, rams[3], p, true);
	a.ev = b.ev = CPU_BUDGET;
	while ((a.ev == CPU_BUDGET || b.ev == CPU_BUDGET) &&
	       total < MAX_STEPS) {
		k = (u32)(rng_next(&s) % 100 < 70 ? 1 + rng_next(&s) % 8 :
			  1 + rng_next(&s) % 64);
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
			char what[96];

			snprintf(what, sizeof(what),
				 "after %llu instructions (chunk of %u)",
				 (unsigned long long)cpu_icount(a.c), k);
			say(&o, " event %d/%d", a.ev, b.ev);
			show(st, G_BUDGET, idx, p, what, &o);
			lockstep = false;
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

/*
 * A program that takes #PF, run by the translator in slices of k
 * instructions for every k up to MAX_SPLIT, to its end: the run must end
 * as the interpreter's did.  A slice that ends inside a chain of blocks,
 * just before an instruction that faults, is what a real guest meets
 * once per time slice; the random chunks of run_budgets() hit that exact
 * point only by luck, and stop comparing at the first fault.
 */
#define MAX_SPLIT 64u

static void run_splits(struct stats *st, unsigned idx,
		       const struct prog *p, struct vm *ref)
{
	struct report o;
	struct vm b;
	u64 k, total;

	for (k = 1; k <= MAX_SPLIT; k++) {
		new_cpu(&b, rams[3], p, true);
		b.ev = CPU_BUDGET;
		for (total = 0; b.ev == CPU_BUDGET && total < MAX_STEPS;
		     total += k)
			b.ev = cpu_run(b.c, k);
		o.n = 0;
		o.s[0] = 0;
		if (diff_all(ref, &b, false, &o)) {
			char what[64];

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

/* cpu_run() for MAX_STEPS in all, on past the stops bus_clock() asks
 * for. */
static void run_stopping(struct vm *v)
{
	u64 end = cpu_icount(v->c) + MAX_STEPS;

	v->stops = true;
	do
		v->ev = cpu_run(v->c, end - cpu_icount(v->c));
	while (v->ev == CPU_STOPPED && cpu_icount(v->c) < end);
	v->stops = false;
}

static void run_prog(struct stats *st, unsigned idx, const struct prog *p)
{
	struct vm ref, jit;
	struct report o = { .n = 0 };
	struct cpu_regs r;
	int g = p->smc ? G_SMC : p->paging ? G_PAGING : G_FLAT;

	tmpl_prog(p);
	new_cpu(&ref, rams[0], p, false);
	new_cpu(&jit, rams[1], p, true);
	run_stopping(&ref);
	run_stopping(&jit);
	st->insns += cpu_icount(ref.c);
	st->with_faults += faults(&ref) != 0;
	st->with_bus += ref.bus_n != 0;
	cpu_get_regs(ref.c, &r);
	st->progs[G_GEN]++;
	if (ref.ev != CPU_HALT || r.eip != p->hlt + 1) {
		say(&o, " ended with event %d at eip %#x (vector %d?)",
		    ref.ev, r.eip, r.eip >= STUBS && r.eip < STUBS + 4096 ?
		    (int)((r.eip - STUBS) / 16) : -1);
		show(st, G_GEN, idx, p, "the interpreter", &o);
		o.n = 0;
		o.s[0] = 0;
	}
	st->progs[g]++;
	if (diff_all(&ref, &jit, !faults(&ref), &o))
		show(st, g, idx, p, "interpreter/translator", &o);
	else if (chatty)
		printf("# program %u: %llu instructions, %u faults, agree\n",
		       idx, (unsigned long long)cpu_icount(ref.c),
		       faults(&ref));
	/* Half the programs suffice here: fresh CPUs are the cost. */
	if (idx % 2 || chatty)
		run_budgets(st, idx, p, &ref);
	if (faults(&ref) && (st->progs[G_SPLIT] < split_progs || chatty))
		run_splits(st, idx, p, &ref);
	cpu_free(ref.c);
	cpu_free(jit.c);
}

static void dump(const char *who, struct vm *v)
{
	struct cpu_regs r;
	int i;

	cpu_get_regs(v->c, &r);
	printf("#   %-11s", who);
	for (i = 0; i < 8; i++)
		printf(" %s=%08x", reg_names[i], r.gpr[i]);
	printf(" eip=%08x eflags=%08x icount=%llu", r.eip, r.eflags,
	       (unsigned long long)cpu_icount(v->c));
	for (i = 0; i < 6 && r.eip + i < RAM_SIZE; i++)
		printf(" %02x", v->ram[r.eip + i]);
	printf("\n");
}

/*
 * For -p: the first instruction count N at which a translator CPU run
 * for N instructions in one go differs from the interpreter stepped N
 * times (up to the first fault), with the EIPs that led there.
 */
static void bisect(const struct prog *p)
{
	struct vm ref, jit;
	struct report o;
	struct cpu_regs r;
	u32 eips[MAX_STEPS < 4096 ? MAX_STEPS : 4096], n, i;

	tmpl_prog(p);
	for (n = 1; n < 4096; n++) {
		new_cpu(&ref, rams[2], p, false);
		new_cpu(&jit, rams[3], p, true);
		for (i = 0; i < n; i++) {
			cpu_get_regs(ref.c, &r);
			eips[i] = r.eip;
			ref.ev = cpu_run(ref.c, 1);
			if (getenv("JIT_TEST_TRACE") &&
			    n == (u32)atoi(getenv("JIT_TEST_TRACE")))
				dump("step", &ref);
			if (ref.ev != CPU_BUDGET || faulted(&ref))
				break;
		}
		jit.ev = cpu_run(jit.c, n);
		o.n = 0;
		o.s[0] = 0;
		if (i == n && !faulted(&jit) &&
		    diff_all(&ref, &jit, true, &o)) {
			printf("# first difference after %u instructions:%s\n",
			       n, o.s);
			dump("interpreter", &ref);
			dump("translator", &jit);
			printf("# the last EIPs:");
			for (i = n > 8 ? n - 8 : 0; i < n; i++)
				printf(" %#x", eips[i]);
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
	       " objdump -D -b binary -mi386 --adjust-vma=%#x p.bin\n",
	       p->main.addr);
}

static u64 prog_seed(unsigned idx)
{
	u64 s = run_seed * 0x2545f4914f6cdd1dull + idx;

	return rng_next(&s);
}

/* -x: the program is given as hex bytes (ending with HLT, f4); the rest
 * of the set-up is program 0's of the seed, without paging. */
static bool prog_from_hex(struct prog *p, const char *hex)
{
	unsigned v;

	if (!gen_prog(p, prog_seed(0)))
		return false;
	p->paging = false;
	p->smc = 0;
	p->npreset = 0;
	p->fn.n = 0;
	p->main.n = 0;
	while (*hex && p->main.n < p->main.cap) {
		if (*hex == ' ') {
			hex++;
			continue;
		}
		if (sscanf(hex, "%2x", &v) != 1)
			return false;
		p->main.code[p->main.n++] = (u8)v;
		hex += hex[1] ? 2 : 1;
	}
	p->hlt = p->main.addr + p->main.n - 1;
	return p->main.n && p->main.code[p->main.n - 1] == 0xf4;
}

/*
 * Hand-written programs, with paging: the shapes that once went wrong.
 * The first walks ESI over two data pages and then the two lazy ones in a
 * loop of two blocks chained by a JMP; each pass counts in EBX, so a
 * fault that resumes at the wrong block shows as a wrong count.  A
 * budget that ended where the chain entered the second block, just before
 * its load from a lazy page, did exactly that: the interpreter ran the
 * load with the fault's return point left at the first block.
 *
 * The next three remap the page that translated code leaves for (by a
 * RET, by a JMP to another page, and by that JMP again with the TLB
 * entry refilled) while the blocks there are translated and known to the
 * fast lookup.  They write their code first, with SS-relative stores: at
 * 0x8000 a function f, at 0x9000 (page L) a CALL (a JMP) to f followed by
 * MOV EAX, 0x11111111; RET, and at 0xa000 the same with 0x22222222.  Main
 * calls L three times; the third time (ECX 1) f points L's PTE at 0xa000
 * and INVLPGs it (and in the last program reads from L, so that the TLB
 * holds the new mapping, and jumps to the block that ran the JMP the
 * first two times), then returns (jumps) to L+5: EAX must be
 * 0x22222222.  A lookup that trusted the TLB entry's old host page, or
 * its own memory of where the jump went last, would run the old block.
 *
 * Then an ADD EBX, 1 of six bytes that runs over from page 0x8000 into
 * 0x9000, the last instruction of a block at 0x8ff8, called five times;
 * after the third call main stores 0x10 over its immediate's low byte,
 * in 0x9000, which the block's page does not see: EBX must end at 0x23.
 * A block that ran its old bytes would make 5.
 *
 * The last is 80 x87 instructions with memory operands (FLD and FSTP
 * through ESI), so that wherever the page ends there is a block of 32 of
 * them, each with the most jumps to its cold path any form has: the
 * translator once kept room for fewer, and wrote past it.
 */
static const char *const directed[] = {
	"be 00 00 02 00 b9 04 00 00 00 31 db 83 c3 01 eb 00 8b 06 "
	"81 c6 00 10 00 00 49 75 f0 f4",
	"36 c7 05 00 80 00 00 85 c9 74 13 36 c7 05 04 80 00 00 36 "
	"c7 05 24 36 c7 05 08 80 00 00 50 00 00 03 36 c7 05 0c 80 "
	"00 00 a0 00 00 36 36 c7 05 10 80 00 00 0f 01 3d 00 36 c7 "
	"05 14 80 00 00 90 00 00 c3 36 c7 05 00 90 00 00 e8 fb ef "
	"ff 36 c7 05 04 90 00 00 ff b8 11 11 36 c7 05 08 90 00 00 "
	"11 11 c3 f4 36 c7 05 00 a0 00 00 90 90 90 90 36 c7 05 04 "
	"a0 00 00 90 b8 22 22 36 c7 05 08 a0 00 00 22 22 c3 f4 31 "
	"c9 ba 00 90 00 00 ff d2 89 c3 ff d2 41 ff d2 f4",
	"36 c7 05 00 80 00 00 85 c9 74 13 36 c7 05 04 80 00 00 36 "
	"c7 05 24 36 c7 05 08 80 00 00 50 00 00 03 36 c7 05 0c 80 "
	"00 00 a0 00 00 36 36 c7 05 10 80 00 00 0f 01 3d 00 36 c7 "
	"05 14 80 00 00 90 00 00 e9 36 c7 05 18 80 00 00 e9 0f 00 "
	"00 36 c7 05 00 90 00 00 e9 fb ef ff 36 c7 05 04 90 00 00 "
	"ff b8 11 11 36 c7 05 08 90 00 00 11 11 c3 f4 36 c7 05 00 "
	"a0 00 00 90 90 90 90 36 c7 05 04 a0 00 00 90 b8 22 22 36 "
	"c7 05 08 a0 00 00 22 22 c3 f4 31 c9 ba 00 90 00 00 ff d2 "
	"89 c3 ff d2 41 ff d2 f4",
	"36 c7 05 00 80 00 00 85 c9 74 1b 36 c7 05 04 80 00 00 36 "
	"c7 05 24 36 c7 05 08 80 00 00 50 00 00 03 36 c7 05 0c 80 "
	"00 00 a0 00 00 36 36 c7 05 10 80 00 00 0f 01 3d 00 36 c7 "
	"05 14 80 00 00 90 00 00 36 36 c7 05 18 80 00 00 a1 00 90 "
	"00 36 c7 05 1c 80 00 00 00 eb 00 e9 36 c7 05 20 80 00 00 "
	"e1 0f 00 00 36 c7 05 00 90 00 00 e9 fb ef ff 36 c7 05 04 "
	"90 00 00 ff b8 11 11 36 c7 05 08 90 00 00 11 11 c3 f4 36 "
	"c7 05 00 a0 00 00 90 90 90 90 36 c7 05 04 a0 00 00 90 b8 "
	"22 22 36 c7 05 08 a0 00 00 22 22 c3 f4 31 c9 ba 00 90 00 "
	"00 ff d2 89 c3 ff d2 41 ff d2 f4",
	"36 c7 05 f8 8f 00 00 90 90 90 90 36 c7 05 fc 8f 00 00 90 90 "
	"81 c3 36 c7 05 00 90 00 00 01 00 00 00 36 c7 05 04 90 00 00 "
	"c3 90 90 90 31 db b9 05 00 00 00 ba f8 8f 00 00 ff d2 83 f9 "
	"03 75 08 36 c6 05 00 90 00 00 10 49 75 ee f4",
	"be 00 00 02 00 "
	"d9 06 d9 5e 04 d9 06 d9 5e 04 d9 06 d9 5e 04 d9 06 d9 5e 04 "
	"d9 06 d9 5e 04 d9 06 d9 5e 04 d9 06 d9 5e 04 d9 06 d9 5e 04 "
	"d9 06 d9 5e 04 d9 06 d9 5e 04 d9 06 d9 5e 04 d9 06 d9 5e 04 "
	"d9 06 d9 5e 04 d9 06 d9 5e 04 d9 06 d9 5e 04 d9 06 d9 5e 04 "
	"d9 06 d9 5e 04 d9 06 d9 5e 04 d9 06 d9 5e 04 d9 06 d9 5e 04 "
	"d9 06 d9 5e 04 d9 06 d9 5e 04 d9 06 d9 5e 04 d9 06 d9 5e 04 "
	"d9 06 d9 5e 04 d9 06 d9 5e 04 d9 06 d9 5e 04 d9 06 d9 5e 04 "
	"d9 06 d9 5e 04 d9 06 d9 5e 04 d9 06 d9 5e 04 d9 06 d9 5e 04 "
	"d9 06 d9 5e 04 d9 06 d9 5e 04 d9 06 d9 5e 04 d9 06 d9 5e 04 "
	"d9 06 d9 5e 04 d9 06 d9 5e 04 d9 06 d9 5e 04 d9 06 d9 5e 04 "
	"f4",
};

static void run_directed(struct stats *st)
{
	static struct prog p;
	size_t i;

	for (i = 0; i < sizeof(directed) / sizeof(directed[0]); i++) {
		if (!prog_from_hex(&p, directed[i])) {
			printf("not ok - jit: directed program %zu does not "
			       "parse\n", i);
			exit(1);
		}
		p.paging = true;
		p.r[R_ESP] = STACK + 0x1000;
		watchdog_arm("jit", 100000 + (unsigned)i);
		run_prog(st, 100000 + (unsigned)i, &p);
		alarm(0);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: jitdiff [-n programs] [-s seed] "
		"[-p program | -x hex] [-v]\n"
		"  defaults from JIT_TEST_PROGS and JIT_TEST_SEED\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct prog p;
	struct stats st;
	unsigned n = 1200, idx, only = ~0u, i;
	const char *e, *hex = NULL;
	bool ok;
	int g;

	if ((e = getenv("JIT_TEST_PROGS")))
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
			perror("jitdiff: RAM");
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
			   gen_prog(&p, prog_seed(idx));
		if (!ok) {
			st.rejected++;
			if (only != ~0u)
				printf("# program %u does not fit\n", idx);
		} else {
			if (only != ~0u)
				print_prog(idx, &p);
			watchdog_arm("jit", idx);
			run_prog(&st, idx, &p);
			alarm(0);
			if (only != ~0u)
				bisect(&p);
		}
		if (only != ~0u)
			break;
	}
	printf("# seed %llu: %u programs (%u did not fit), %llu "
	       "instructions; %u took #PF, %u used the bus\n",
	       (unsigned long long)run_seed, st.progs[G_GEN], st.rejected,
	       (unsigned long long)st.insns, st.with_faults, st.with_bus);
	for (g = 0; g < NGROUPS; g++)
		if (only == ~0u || st.progs[g])
			printf("%s - jit: %u %s%s (%u differ)\n",
			       st.bad[g] || !st.progs[g] ? "not ok" : "ok",
			       st.progs[g], group_names[g],
			       st.progs[g] ? "" : " (none ran)", st.bad[g]);
	for (g = 0; g < NGROUPS; g++)
		if (st.bad[g] || (only == ~0u && !st.progs[g]))
			return 1;
	return 0;
}
