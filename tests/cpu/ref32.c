/*
 * The 32-bit reference executor of the differential CPU test.
 *
 * Built with gcc -m32 -static and run under qemu-i386 (this machine runs no
 * 32-bit code natively): `ref32 CASES RESULTS` reads struct dt_case records,
 * runs each instruction for real in 32-bit mode and writes one struct
 * dt_result per case.  It judges what a 64-bit host cannot: BCD adjusts,
 * PUSHA/POPA and the other 32-bit stack forms, INC/DEC 0x40-0x4f, 16-bit
 * addressing, near calls and returns, LOOP/JECXZ.
 *
 * The instruction sits at the case's slot address, the address our CPU
 * runs it at, so pushed return addresses and branch targets agree.  The
 * stub around it is the 32-bit twin of the one in native.c.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "difftest.h"

#define STATE_ADDR	(DT_WIN_BASE + 0x10000u)
#define STATE_EFL	(STATE_ADDR + 32)
#define STATE_ESP	(STATE_ADDR + 40)

#define STATE_TARGET	(STATE_ADDR + 44)
#define STATE_SLED	(STATE_ADDR + 48)
#define BATCH		DT_NSLOTS

static u8 *code_page, *slots;
static u8 win_init[DT_WIN_SIZE], low_init[DT_LOW_SIZE];
static u8 *low_win;
static sigjmp_buf fault_jmp;
static volatile sig_atomic_t in_stub;
static struct dt_result *fault_res;
static u32 epilogue;

/* op ModRM(reg, [disp32]) disp32. */
static u8 *emit_abs(u8 *p, u8 op, int reg, u32 addr)
{
	*p++ = op;
	*p++ = (u8)(reg << 3 | 5);
	memcpy(p, &addr, 4);
	return p + 4;
}

/*
 * The prologue (at DT_CODE_PAGE) loads the state and jumps to the slot of
 * the case; the slot holds the instruction, the sled and a jump to the
 * epilogue, which stores the state back.
 */
static void build_stubs(void)
{
	u8 *p = code_page;
	int i;

	*p++ = 0x53;			/* push ebx, ebp, esi, edi */
	*p++ = 0x55;
	*p++ = 0x56;
	*p++ = 0x57;
	p = emit_abs(p, 0x89, 4, STATE_ESP);
	p = emit_abs(p, 0xff, 6, STATE_EFL);	/* push dword [efl] */
	*p++ = 0x9d;				/* popfd */
	for (i = 0; i < 8; i++)
		p = emit_abs(p, 0x8b, i, STATE_ADDR + 4 * i);
	p = emit_abs(p, 0xff, 4, STATE_TARGET);	/* jmp [target] */

	epilogue = (u32)(uintptr_t)p;
	for (i = 0; i < 8; i++)
		p = emit_abs(p, 0x89, i, STATE_ADDR + 4 * i);
	p = emit_abs(p, 0x8b, 4, STATE_ESP);
	*p++ = 0x9c;				/* pushfd */
	*p++ = 0x58;				/* pop eax */
	p = emit_abs(p, 0x89, 0, STATE_EFL);
	*p++ = 0xfc;				/* cld */
	*p++ = 0x5f;
	*p++ = 0x5e;
	*p++ = 0x5d;
	*p++ = 0x5b;
	*p++ = 0xc3;
}

static bool slot_ok(const struct dt_case *k)
{
	return k->eip >= DT_SLOT_BASE && k->len <= sizeof(k->code) &&
	       k->eip - DT_SLOT_BASE <= (DT_NSLOTS - 1) * DT_SLOT_SIZE &&
	       (k->eip - DT_SLOT_BASE) % DT_SLOT_SIZE == 0;
}

static void write_slot(const struct dt_case *k)
{
	/* mov byte [STATE_SLED], 1; nop: the same length as native.c's */
	static const u8 sled[DT_SLED_LEN] = { 0xc6, 0x05,
		STATE_SLED & 0xff, (STATE_SLED >> 8) & 0xff,
		(STATE_SLED >> 16) & 0xff, STATE_SLED >> 24, 1, 0x90 };
	u8 *p = slots + (k->eip - DT_SLOT_BASE);
	u32 rel;

	memcpy(p, k->code, k->len);
	p += k->len;
	if (k->sled) {
		memcpy(p, sled, sizeof(sled));
		p += sizeof(sled);
	}
	*p++ = 0xe9;
	rel = epilogue - ((u32)(uintptr_t)p + 4);
	memcpy(p, &rel, 4);
}

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	greg_t *g = uc->uc_mcontext.gregs;
	static const int map[8] = { REG_EAX, REG_ECX, REG_EDX, REG_EBX,
				    REG_ESP, REG_EBP, REG_ESI, REG_EDI };
	int i;

	(void)si;
	if (!in_stub)
		_exit(3);
	for (i = 0; i < 8; i++)
		fault_res->r[i] = (u32)g[map[i]];
	fault_res->eflags = (u32)g[REG_EFL];
	fault_res->sig = sig;
	fault_res->trapno = (s32)g[REG_TRAPNO];
	siglongjmp(fault_jmp, 1);
}

static void *map_at(u32 addr, u32 size, int prot)
{
	void *p = mmap((void *)(uintptr_t)addr, size, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
		       -1, 0);

	return p == (void *)(uintptr_t)addr ? p : NULL;
}

static void run_one(const struct dt_case *k, struct dt_result *res)
{
	u8 *win = (u8 *)(uintptr_t)DT_WIN_BASE;
	u32 *state = (u32 *)(uintptr_t)STATE_ADDR;
	void (*stub)(void) = (void (*)(void))code_page;

	memset(res, 0, sizeof(*res));
	res->trapno = -1;
	if (!slot_ok(k)) {
		res->sig = -3;
		return;
	}
	if (k->low && !low_win) {
		res->sig = -2;	/* cannot map the low window here */
		return;
	}
	dt_fill(win_init, k->low ? low_init : NULL, k);
	memcpy(win, win_init, DT_WIN_SIZE);
	if (k->low)
		memcpy(low_win, low_init, DT_LOW_SIZE);
	memcpy(state, k->r, 32);
	state[8] = k->eflags;
	state[11] = k->eip;
	state[12] = 0;
	fault_res = res;
	if (sigsetjmp(fault_jmp, 1) == 0) {
		in_stub = 1;
		stub();
		in_stub = 0;
		memcpy(res->r, state, 32);
		res->eflags = state[8];
		res->sled_ran = state[12];
	} else {
		in_stub = 0;
	}
	dt_diff_one(win_init, win, DT_WIN_SIZE, 0, res);
	if (k->low)
		dt_diff_one(low_init, low_win, DT_LOW_SIZE, DT_WIN_SIZE, res);
}

int main(int argc, char **argv)
{
	static char altstack[64 * 1024];
	int sigs[] = { SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGTRAP };
	struct sigaction sa;
	static struct dt_case k[BATCH];
	struct dt_result res;
	stack_t ss;
	FILE *in, *out;
	unsigned i, n;
	bool trace;

	if (argc != 3) {
		fprintf(stderr, "usage: ref32 CASES RESULTS\n");
		return 2;
	}
	if (!map_at(DT_WIN_BASE, 0x20000, PROT_READ | PROT_WRITE)) {
		perror("ref32: map window");
		return 1;
	}
	code_page = map_at(DT_CODE_PAGE, 4096,
			   PROT_READ | PROT_WRITE | PROT_EXEC);
	slots = map_at(DT_SLOT_BASE, DT_NSLOTS * DT_SLOT_SIZE,
		       PROT_READ | PROT_WRITE | PROT_EXEC);
	if (!code_page || !slots) {
		perror("ref32: map code page");
		return 1;
	}
	low_win = map_at(DT_LOW_BASE, DT_LOW_SIZE, PROT_READ | PROT_WRITE);
	ss.ss_sp = altstack;
	ss.ss_size = sizeof(altstack);
	ss.ss_flags = 0;
	sigaltstack(&ss, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);

	in = fopen(argv[1], "rb");
	out = fopen(argv[2], "wb");
	if (!in || !out) {
		perror("ref32: open");
		return 1;
	}
	trace = getenv("REF32_TRACE") != NULL;
	build_stubs();
	/* Write a batch of slots, then run them: code that does not change
	 * once translated keeps qemu fast. */
	while ((n = fread(k, sizeof(k[0]), BATCH, in)) > 0) {
		for (i = 0; i < n; i++)
			if (slot_ok(&k[i]))
				write_slot(&k[i]);
		for (i = 0; i < n; i++) {
			if (trace)
				fprintf(stderr, "%u\n", i);
			run_one(&k[i], &res);
			if (fwrite(&res, sizeof(res), 1, out) != 1) {
				perror("ref32: write");
				return 1;
			}
		}
	}
	return fclose(out) ? 1 : 0;
}
