/*
 * The differential test of our software CPU's integer instructions.
 *
 * Every form in forms.c gets CPU_TEST_CASES cases (fixed seed).  Each case
 * runs on an oracle (the host CPU, or qemu-i386 running ref32 for forms
 * with no 64-bit equivalent) and on our CPU, single-stepped in a flat
 * 32-bit guest whose RAM holds the same memory window at the same address;
 * then registers, the flags the SDM defines, EIP, the exception vector and
 * every changed byte of the window must agree.
 *
 * Exceptions in our CPU go through an IDT whose gate for vector v points
 * at HANDLERS + 16 * v, so the EIP after the step names the vector, and
 * the frame on the stack tells where it faulted.
 *
 * Some cases are pairs: a flag-setting instruction, then one that reads
 * the flags, so that the lazy-flags short cuts are judged too.
 *
 * The forms run in a child process; if our CPU aborts (not implemented
 * yet) or crashes on one, that form fails alone and a new child goes on
 * with the rest.
 *
 * Usage: difftest REF32   (environment: CPU_TEST_CASES, CPU_TEST_SEED,
 * CPU_TEST_FILTER=substring, CPU_TEST_SHOW=mismatches printed per form,
 * CPU_TEST_SELFCHECK=1 to judge the host forms by qemu-i386 instead of our
 * CPU, which checks the harness itself and finds qemu's own bugs).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "../../src/cpu/cpu_internal.h"
#include "../../src/cpu/fast.h"

#define RAM_SIZE	(32u * 1024 * 1024)
#define IDT_ADDR	0x10000u
#define GDT_ADDR	0x11000u
#define HANDLERS	0x12000u
#define STEP_LIMIT	100000

static u8 *ram;
static struct cpu *cpu;
static unsigned n_cases = 500, n_show = 3;
static const char *filter;
static bool selfcheck;

/* What our CPU did with a case. */
struct ours {
	struct dt_result res;
	u32 eip;
	int vec;		/* -1: none, -2: shutdown, -3: never finished */
	u32 frame_eip;		/* the EIP an exception frame holds */
	bool frame_ok;		/* ESP pointed into RAM: frame_eip is valid */
};

/* --- our CPU --- */

static u32 bus_in(void *o, u16 port, int size)
{
	(void)o, (void)port, (void)size;
	return 0xffffffffu;
}

static void bus_out(void *o, u16 port, u32 val, int size)
{
	(void)o, (void)port, (void)val, (void)size;
}

static u32 bus_mrd(void *o, u32 gpa, int size)
{
	(void)o, (void)gpa, (void)size;
	return 0xffffffffu;
}

static void bus_mwr(void *o, u32 gpa, u32 val, int size)
{
	(void)o, (void)gpa, (void)val, (void)size;
}

static u8 bus_ack(void *o)
{
	(void)o;
	return 0x20;
}

static u64 bus_clock(void *o)
{
	(void)o;
	return 0;
}

static const struct cpu_bus bus = {
	.io_in = bus_in, .io_out = bus_out, .mmio_read = bus_mrd,
	.mmio_write = bus_mwr, .intr_ack = bus_ack, .clock_ns = bus_clock,
};

static void put32(u32 gpa, u32 v)
{
	memcpy(ram + gpa, &v, 4);
}

/* GDT (flat code 0x10, flat data 0x18), IDT and one HLT per vector. */
static void ram_init(void)
{
	int v;

	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED) {
		perror("difftest: guest RAM");
		exit(1);
	}
	put32(GDT_ADDR + 0x10, 0x0000ffff);
	put32(GDT_ADDR + 0x14, 0x00cf9a00);
	put32(GDT_ADDR + 0x18, 0x0000ffff);
	put32(GDT_ADDR + 0x1c, 0x00cf9200);
	for (v = 0; v < 256; v++) {
		u32 h = HANDLERS + 16 * v;

		put32(IDT_ADDR + 8 * v, 0x00100000 | (h & 0xffff));
		put32(IDT_ADDR + 8 * v + 4, (h & 0xffff0000u) | 0x8e00);
		memset(ram + h, 0xf4, 16);
	}
}

/* Run the case's instructions: until EIP leaves [k->eip, end). */
static void ours_run(const struct dt_case *k, u32 end, struct ours *o)
{
	static u8 win_init[DT_WIN_SIZE], low_init[DT_LOW_SIZE];
	struct cpu_regs r;
	enum cpu_event ev = CPU_BUDGET;
	int i;

	memset(o, 0, sizeof(*o));
	o->vec = -1;
	o->res.trapno = -1;
	cpu_reset_flat32(cpu, k->eip);
	cpu->gdtr.base = GDT_ADDR;
	cpu->gdtr.limit = 0x1f;
	cpu->idtr.base = IDT_ADDR;
	cpu->idtr.limit = 256 * 8 - 1;
	cpu->seg[S_GS].base = DT_GS_BASE;
	cpu_get_regs(cpu, &r);
	memcpy(r.gpr, k->r, 32);
	r.eip = k->eip;
	r.eflags = k->eflags | F_IF | F_FIXED1;
	cpu_set_regs(cpu, &r);

	memset(ram + k->eip, 0xf4, DT_SLOT_SIZE);
	memcpy(ram + k->eip, k->code, k->len);
	dt_fill(win_init, k->low ? low_init : NULL, k);
	memcpy(ram + DT_WIN_BASE, win_init, DT_WIN_SIZE);
	if (k->low)
		memcpy(ram + DT_LOW_BASE, low_init, DT_LOW_SIZE);
	/* New code where the last case's was: the translator must know. */
	cpu_mem_written(cpu, k->eip, DT_SLOT_SIZE);
	cpu_mem_written(cpu, DT_WIN_BASE, DT_WIN_SIZE);
	if (k->low)
		cpu_mem_written(cpu, DT_LOW_BASE, DT_LOW_SIZE);

	/* A REP string instruction may take one step per iteration. */
	for (i = 0; i < STEP_LIMIT; i++) {
		ev = cpu_run(cpu, 1);
		cpu_get_regs(cpu, &r);
		if (ev != CPU_BUDGET || r.eip < k->eip || r.eip >= end)
			break;
	}
	memcpy(o->res.r, r.gpr, 32);
	o->res.eflags = r.eflags;
	o->eip = r.eip;
	if (ev == CPU_SHUTDOWN)
		o->vec = -2;
	else if (i == STEP_LIMIT)
		o->vec = -3;
	else if (r.eip >= HANDLERS && r.eip < HANDLERS + 256 * 16 &&
		 (r.eip - HANDLERS) % 16 == 0) {
		o->vec = (int)(r.eip - HANDLERS) / 16;
		o->frame_ok = r.gpr[R_ESP] <= RAM_SIZE - 12 &&
			      k->r[R_ESP] >= 12 && k->r[R_ESP] <= RAM_SIZE;
		if (o->frame_ok)
			memcpy(&o->frame_eip, ram + r.gpr[R_ESP], 4);
	}
	dt_diff_one(win_init, ram + DT_WIN_BASE, DT_WIN_SIZE, 0, &o->res);
	if (k->low)
		dt_diff_one(low_init, ram + DT_LOW_BASE, DT_LOW_SIZE,
			    DT_WIN_SIZE, &o->res);
}

/* --- comparing --- */

static const char *const reg_name[8] = {
	"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
};

struct report {
	char buf[2048];
	size_t len;
};

static void say(struct report *rp, const char *fmt, ...) printf_like(2, 3);

static void say(struct report *rp, const char *fmt, ...)
{
	va_list ap;

	if (rp->len >= sizeof(rp->buf) - 1)
		return;
	va_start(ap, fmt);
	rp->len += vsnprintf(rp->buf + rp->len, sizeof(rp->buf) - rp->len,
			     fmt, ap);
	va_end(ap);
	if (rp->len > sizeof(rp->buf) - 1)
		rp->len = sizeof(rp->buf) - 1;
}

/* The vector a native signal stands for. */
static int sig_vector(const struct form *f, const struct dt_result *n)
{
	switch (n->sig) {
	case DT_SIGFPE:
		return EXC_DE;
	case DT_SIGILL:
		return EXC_UD;
	case DT_SIGTRAP:
		return EXC_BP;
	case DT_SIGSEGV:
	case DT_SIGBUS:
		return f->segv_vec;
	default:
		return -1;
	}
}

static void show_flags(struct report *rp, u32 f)
{
	say(rp, "%#x[%s%s%s%s%s%s%s]", f, f & F_OF ? "O" : "",
	    f & F_DF ? "D" : "", f & F_SF ? "S" : "", f & F_ZF ? "Z" : "",
	    f & F_AF ? "A" : "", f & F_PF ? "P" : "", f & F_CF ? "C" : "");
}

static void show_case(struct report *rp, const struct gcase *g)
{
	const struct dt_case *k = &g->k;
	int i;

	say(rp, "  bytes:");
	for (i = 0; i < k->len; i++)
		say(rp, " %02x", k->code[i]);
	say(rp, "\n  in:");
	for (i = 0; i < 8; i++)
		say(rp, " %s=%08x", reg_name[i], k->r[i]);
	say(rp, " eflags=");
	show_flags(rp, k->eflags);
	for (i = 0; i < k->npatch; i++)
		say(rp, " [%#x]=%08x", DT_WIN_BASE + k->patch_off[i],
		    k->patch_val[i]);
	say(rp, " (window seed %#x)\n", k->seed);
}

static void show_chg(struct report *rp, const char *who,
		     const struct dt_result *r)
{
	u32 i;

	say(rp, "  %s writes %u bytes:", who, r->nchg);
	for (i = 0; i < r->nchg && i < 16; i++)
		say(rp, " [%#x]=%02x", r->chg_off[i] < DT_WIN_SIZE ?
		    DT_WIN_BASE + r->chg_off[i] :
		    DT_LOW_BASE + r->chg_off[i] - DT_WIN_SIZE, r->chg_val[i]);
	say(rp, "\n");
}

static bool same_chg(const struct dt_result *a, const struct dt_result *b)
{
	u32 n = a->nchg < DT_MAXCHG ? a->nchg : DT_MAXCHG;

	return a->nchg == b->nchg &&
	       !memcmp(a->chg_off, b->chg_off, n * sizeof(a->chg_off[0])) &&
	       !memcmp(a->chg_val, b->chg_val, n);
}

/*
 * Compare; on a mismatch, describe it in rp and return false.  nat is the
 * oracle's result (modified: a taken/not-taken sled is folded away).
 */
static bool compare(const struct form *f, const struct gcase *g,
		    struct dt_result *nat, const struct ours *o,
		    const char *oracle, struct report *rp)
{
	const struct dt_case *k = &g->k;
	u32 want_eip = g->next_eip, fm = g->flag_mask;
	int want_vec = nat->sig ? sig_vector(f, nat) : -1;
	bool ok = true;
	int i;

	if (k->sled && !nat->sig && !nat->sled_ran)
		want_eip += DT_SLED_LEN;	/* taken */
	if (want_vec != o->vec) {
		say(rp, "  vector: %s %d (signal %d), ours %d%s%s\n", oracle,
		    want_vec, nat->sig, o->vec, o->vec == -2 ? ": " : "",
		    o->vec == -2 ? cpu_error(cpu) : "");
		ok = false;
	}
	if (want_vec >= 0 && o->vec == want_vec) {
		/* a fault: state as before it, EIP of the instruction; a
		 * trap: EIP of the next one */
		u32 fe = f->trap ? g->next_eip : k->eip;

		if (o->frame_ok && o->frame_eip != fe) {
			say(rp, "  exception frame EIP %#x, want %#x\n",
			    o->frame_eip, fe);
			ok = false;
		}
		for (i = 0; i < 8; i++)
			if (i != R_ESP && nat->r[i] != o->res.r[i]) {
				say(rp, "  %s at fault: %s %08x, ours %08x\n",
				    reg_name[i], oracle, nat->r[i],
				    o->res.r[i]);
				ok = false;
			}
		return ok;
	}
	if (!ok)
		return false;
	for (i = 0; i < 8; i++) {
		u32 m = g->reg_mask[i];

		if ((nat->r[i] & m) != (o->res.r[i] & m)) {
			say(rp, "  %s: %s %08x, ours %08x", reg_name[i], oracle,
			    nat->r[i], o->res.r[i]);
			if (m != 0xffffffffu)
				say(rp, " (mask %08x)", m);
			say(rp, "\n");
			ok = false;
		}
	}
	if ((nat->eflags & fm) != (o->res.eflags & fm)) {
		say(rp, "  eflags: %s ", oracle);
		show_flags(rp, nat->eflags & fm);
		say(rp, ", ours ");
		show_flags(rp, o->res.eflags & fm);
		say(rp, " (compared ");
		show_flags(rp, fm);
		say(rp, ")\n");
		ok = false;
	}
	if (o->eip != want_eip) {
		say(rp, "  eip: want %#x, ours %#x\n", want_eip, o->eip);
		ok = false;
	}
	if (!same_chg(nat, &o->res)) {
		show_chg(rp, oracle, nat);
		show_chg(rp, "ours", &o->res);
		ok = false;
	}
	return ok;
}

/* --- running forms --- */

static bool selected(const struct form *f)
{
	/* qemu-i386 8.x aborts (tcg fatal error) on LOCK with a register
	 * operand, so the self-check leaves those out */
	if (selfcheck && !strcmp(f->group, "lock"))
		return false;
	return !filter || strstr(f->name, filter) || !strcmp(f->group, filter);
}

static const char *oracle_name(const struct form *f)
{
	return f->oracle == OR_HOST ? "host" : "qemu-i386";
}

/* The cases of the qemu-judged forms, made and run in one batch. */
static struct gcase *qcase;
static struct dt_result *qres;
static size_t *qfirst;		/* per form: index of its first case */

static int prepare_qemu(const char *ref32)
{
	size_t n = 0, i;
	unsigned j;

	qfirst = calloc(nforms, sizeof(*qfirst));
	for (j = 0; j < nforms; j++)
		if (selected(&forms[j]) && (forms[j].oracle == OR_QEMU ||
					    selfcheck))
			n += n_cases;
	if (!n)
		return 0;
	qcase = calloc(n, sizeof(*qcase));
	qres = calloc(n, sizeof(*qres));
	struct dt_case *ks = calloc(n, sizeof(*ks));
	if (!qcase || !qres || !ks || !qfirst)
		return -1;
	n = 0;
	for (j = 0; j < nforms; j++) {
		struct form *f = &forms[j];

		if (!selected(f) || (f->oracle != OR_QEMU && !selfcheck))
			continue;
		rng_seed(strtoull(getenv("CPU_TEST_SEED") ?: "1", NULL, 0) *
			 7919 + j);
		qfirst[j] = n;
		for (i = 0; i < n_cases; i++, n++) {
			gen_case(f, &qcase[n]);
			ks[n] = qcase[n].k;
		}
	}
	i = qemu_run(ref32, ks, n, qres);
	free(ks);
	return (int)i;
}

/* Does the fast path (exec_fast.c, and so the translator) take the
 * case's first instruction, or leave it to the full decoder? */
static bool fast_form(const struct dt_case *k)
{
	struct dinsn di;

	return dc_decode(k->code, sizeof(k->code), 4, &di) != 0;
}

/* Run one form's cases; print mismatches; return the mismatch count and
 * (in st) how many cases faulted and wrote memory on the oracle, and how
 * many the fast path decoded. */
static unsigned run_form(struct form *f, unsigned idx, unsigned *st)
{
	struct gcase g;
	struct dt_result nat, nat2;
	struct ours o;
	struct report rp;
	unsigned i, bad = 0;
	bool qemu = f->oracle == OR_QEMU;

	rng_seed(strtoull(getenv("CPU_TEST_SEED") ?: "1", NULL, 0) * 7919 +
		 idx);
	for (i = 0; i < n_cases; i++) {
		if (qemu || selfcheck) {
			g = qcase[qfirst[idx] + i];
			nat = qres[qfirst[idx] + i];
		} else {
			gen_case(f, &g);
			native_run(&g.k, &nat);
		}
		if (selfcheck) {
			if (qemu)
				continue;
			/* host is the oracle, qemu the subject */
			native_run(&g.k, &nat2);
			memset(&o, 0, sizeof(o));
			o.res = nat;
			o.vec = nat.sig ? sig_vector(f, &nat) : -1;
			o.eip = g.next_eip;
			o.frame_eip = f->trap ? g.next_eip : g.k.eip;
			if (g.k.sled && !nat.sig && !nat.sled_ran)
				o.eip += DT_SLED_LEN;
			nat = nat2;
		} else {
			ours_run(&g.k, g.next_eip, &o);
		}
		/* The oracle could not map the low window: the case did
		 * not run, and is a skip, never a match. */
		if (nat.sig == -2) {
			st[3]++;
			continue;
		}
		st[0] += nat.sig > 0;
		st[1] += nat.nchg > 0;
		st[2] += fast_form(&g.k);
		rp.len = 0;
		rp.buf[0] = 0;
		if (compare(f, &g, &nat, &o, selfcheck ? "host" :
			    oracle_name(f), &rp))
			continue;
		if (bad++ < n_show) {
			printf("# MISMATCH %s (case %u)\n", f->name, i);
			rp.len = 0;
			show_case(&rp, &g);
			compare(f, &g, &nat, &o, selfcheck ? "host" :
				oracle_name(f), &rp);
			fputs(rp.buf, stdout);
		}
	}
	return bad;
}

/*
 * Run forms list[0..n) in a child process, which reports each form as it
 * finishes.  If our CPU crashes or aborts on a form (not implemented yet),
 * that form is marked crashed and a new child goes on with the next.
 */
static void run_isolated(const unsigned *list, unsigned n)
{
	unsigned done = 0, i, rec[6];
	int fd[2], st;
	pid_t pid;
	FILE *in;

	while (done < n) {
		fflush(stdout);
		if (pipe(fd)) {
			perror("pipe");
			exit(1);
		}
		pid = fork();
		if (pid == 0) {
			close(fd[0]);
			if (!selfcheck)
				cpu = cpu_new(ram, RAM_SIZE, &bus);
			for (i = done; i < n; i++) {
				memset(rec, 0, sizeof(rec));
				rec[0] = list[i];
				rec[1] = run_form(&forms[list[i]], list[i],
						  rec + 2);
				fflush(stdout);
				if (write(fd[1], rec, sizeof(rec)) !=
				    sizeof(rec))
					_exit(2);
			}
			_exit(0);
		}
		close(fd[1]);
		in = fdopen(fd[0], "rb");
		while (in && fread(rec, sizeof(rec), 1, in) == 1) {
			struct form *f = &forms[rec[0]];

			f->cases = n_cases;
			f->bad = rec[1];
			f->faults = rec[2];
			f->writes = rec[3];
			f->fast = rec[4];
			f->nomap = rec[5];
			done++;
		}
		if (in)
			fclose(in);
		waitpid(pid, &st, 0);
		if (done < n && (!WIFEXITED(st) || WEXITSTATUS(st))) {
			struct form *f = &forms[list[done]];

			printf("# %s: crashed (%s %d)\n", f->name,
			       WIFSIGNALED(st) ? "signal" : "status",
			       WIFSIGNALED(st) ? WTERMSIG(st) :
			       WEXITSTATUS(st));
			f->cases = n_cases;
			f->bad = n_cases;
			f->skipped = 1;	/* marks a crash in the table */
			done++;
		}
	}
}

/*
 * The forms a Linux boot runs most that once went the slow way (full
 * decoder, and the end of a translated block): each must now have a fast
 * handler, for every case or for the cases that do not #UD (LOCK with a
 * register destination, 'some').  A form dropped from the fast path by
 * mistake shows here before it shows in a boot profile.
 */
static void report_fast(void)
{
	static const struct { const char *name; bool all; } want[] = {
		{ "lock add r/m32,r32", false },
		{ "lock sub r/m32,imm8", false },
		{ "lock inc r/m32", false }, { "lock dec r/m32", false },
		{ "lock xadd r/m32,r32", false },
		{ "lock cmpxchg r/m32,r32", false },
		{ "lock bts r/m32,r32", false },
		{ "inc r/m32", true }, { "dec r/m32", true },
		{ "inc r/m8", true }, { "lodsb", true }, { "scasb", true },
		{ "stosb", true }, { "stos32", true }, { "movs32", true },
		{ "cmpsb", true }, { "pause (f3 90)", true },
		{ "not r/m32", true }, { "neg r/m32", true },
		{ "mul r/m32", true }, { "imul r/m32", true },
		{ "div r/m32", true }, { "idiv r/m32", true },
		{ "leave (o32)", true }, { "call r/m32", true },
		{ "jmp r/m32", true }, { "push r/m32", true },
		{ "shl r/m32,1", true }, { "shl r/m16,1", true },
		{ "sar r/m32,cl", true }, { "mov r/m16,r16", true },
		{ "mov r16,r/m16", true }, { "mov r/m16,imm16", true },
		{ "movzx r16,r/m8", true }, { "add r/m16,r16", true },
		{ "pushf (o32)", true }, { "imul r32,r/m32,imm8", true },
		{ "imul r32,r/m32,imm32", true }, { "cwd/cdq (o32)", true },
		{ "xchg r/m32,r32", true }, { "bt r/m32,r32", true },
		{ "bt r/m32,imm8", true }, { "bswap r32", true },
		{ "nop (0f 1f /0)", true }, { "xchg eax,r32 (90+r)", true },
		{ "shld r/m32,r32,cl", true }, { "shrd r/m32,r32,imm8", true },
		{ "cmpxchg8b m64", true }, { "lock cmpxchg8b m64", true },
	};
	unsigned i, j, missing = 0;

	for (i = 0; i < ARRAY_SIZE(want); i++) {
		for (j = 0; j < nforms; j++) {
			const struct form *f = &forms[j];

			if (!f->cases || strcmp(f->name, want[i].name))
				continue;
			if (want[i].all ? f->fast == f->cases : f->fast > 0)
				continue;
			printf("# fast path: %s: %u of %u cases\n", f->name,
			       f->fast, f->cases);
			missing++;
		}
	}
	if (!filter)
		printf("%s - fast path decodes the hot forms (%u missing)\n",
		       missing ? "not ok" : "ok", missing);
}

static void report(double secs)
{
	unsigned j, k, forms_run = 0, bad_forms = 0;
	unsigned long cases = 0, bad = 0;

	/* TAP: one line per group and oracle */
	for (j = 0; j < nforms; j++) {
		struct form *f = &forms[j];
		unsigned nf = 0, nb = 0, bf = 0, nx = 0, nm = 0;
		unsigned long nc = 0;
		bool seen = false;

		if (!f->cases)
			continue;
		for (k = 0; k < j; k++)
			if (forms[k].cases && forms[k].group == f->group &&
			    forms[k].oracle == f->oracle)
				seen = true;
		if (seen)
			continue;
		for (k = j; k < nforms; k++) {
			struct form *h = &forms[k];

			if (!h->cases || h->group != f->group ||
			    h->oracle != f->oracle)
				continue;
			nf++;
			nc += h->cases;
			nb += h->bad;
			bf += h->bad != 0;
			nx += h->skipped;
			nm += h->nomap;
		}
		if (nm)
			printf("ok - %s: %u cases not run # SKIP the oracle "
			       "could not map the low window at %#x here\n",
			       f->group, nm, DT_LOW_BASE);
		if (nm == nc) {
			printf("ok - %s (%u forms, %s) # SKIP no case ran\n",
			       f->group, nf, oracle_name(f));
			continue;
		}
		nc -= nm;
		printf("%s - %s (%u forms, %lu cases, %s)",
		       nb ? "not ok" : "ok", f->group, nf, nc,
		       selfcheck && f->oracle == OR_HOST ?
		       "host vs qemu-i386" : oracle_name(f));
		if (nb)
			printf(": %u mismatches in %u forms", nb, bf);
		if (nx)
			printf(" (%u crashed)", nx);
		printf("\n");
	}

	report_fast();
	printf("#\n# %-32s %-10s %7s %7s %7s %7s %10s\n", "form", "oracle",
	       "cases", "faults", "writes", "fast", "mismatches");
	for (j = 0; j < nforms; j++) {
		struct form *f = &forms[j];

		if (!f->cases)
			continue;
		forms_run++;
		cases += f->cases - f->nomap;
		bad += f->bad;
		bad_forms += f->bad != 0;
		printf("# %-32s %-10s %7u %7u %7u %7u %10u%s\n", f->name,
		       oracle_name(f), f->cases, f->faults, f->writes,
		       f->fast, f->bad, f->skipped ? " (crashed)" : "");
	}
	printf("# total: %u forms, %lu cases, %lu mismatches in %u forms, "
	       "%.1f s\n", forms_run, cases, bad, bad_forms, secs);
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	unsigned j, n = 0, *list;
	int q;

	if (argc != 2) {
		fprintf(stderr, "usage: difftest REF32\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("CPU_TEST_CASES"))
		n_cases = (unsigned)strtoul(getenv("CPU_TEST_CASES"), NULL, 0);
	if (getenv("CPU_TEST_SHOW"))
		n_show = (unsigned)strtoul(getenv("CPU_TEST_SHOW"), NULL, 0);
	filter = getenv("CPU_TEST_FILTER");
	selfcheck = getenv("CPU_TEST_SELFCHECK") &&
		    atoi(getenv("CPU_TEST_SELFCHECK"));
	gen_gs = !selfcheck;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	forms_init();
	if (native_init())
		return 1;
	ram_init();

	q = prepare_qemu(argv[1]);
	if (q) {
		printf("not ok - qemu-i386 could not run %s\n", argv[1]);
		for (j = 0; j < nforms; j++)
			if (forms[j].oracle == OR_QEMU || selfcheck)
				forms[j].oracle = 0xff;
	}
	list = calloc(nforms, sizeof(*list));
	for (j = 0; j < nforms; j++) {
		struct form *f = &forms[j];

		if (!selected(f) || f->oracle == 0xff)
			continue;
		if (selfcheck && f->oracle == OR_QEMU)
			continue;
		list[n++] = j;
	}
	run_isolated(list, n);
	free(list);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	report((double)(t1.tv_sec - t0.tv_sec) +
	       (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
