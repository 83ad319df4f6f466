/*
 * The oracles of the differential test: the host CPU itself, and qemu-i386
 * running ref32 for the forms that have no 64-bit equivalent.
 *
 * Natively, a case runs in a small stub of machine code built per case:
 * save the callee-saved registers and RSP, load EFLAGS and the eight 32-bit
 * registers from a state block at a fixed low address (absolute disp32
 * addressing, so no register is needed to find it), run the instruction
 * bytes, store the registers back, restore RSP, store EFLAGS, CLD, return.
 * A 32-bit register load zeroes the upper half, which is what lets a 32-bit
 * address in a register work as a 64-bit pointer into the low window.
 *
 * A faulting instruction (DIV by zero, LOCK on a register) ends in a signal
 * handler on an alternate stack, which records the registers at the fault
 * and jumps back out.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <asm/prctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "difftest.h"
#include "harness.h"

#define LOW_MAP_SIZE	0x20000u
/* The stub's state block: u32 r[8], eflags, pad, saved RSP, sled byte */
#define STATE_ADDR	(DT_WIN_BASE + 0x10000u)
#define STATE_EFL	(STATE_ADDR + 32)
#define STATE_RSP	(STATE_ADDR + 40)
#define STATE_SLED	(STATE_ADDR + 48)
#define CODE_SIZE	4096

static u8 *code_page;
static u8 win_init[DT_WIN_SIZE];
static sigjmp_buf fault_jmp;
static volatile sig_atomic_t in_stub;
static struct dt_result *fault_res;
static char altstack[256 * 1024];
static struct sigaction old_act[32];

static u8 *emit(u8 *p, const void *bytes, int n)
{
	memcpy(p, bytes, n);
	return p + n;
}

/* op ModRM(reg, [disp32]) disp32: a register against an absolute address. */
static u8 *emit_abs(u8 *p, int rex_w, u8 op, int reg, u32 addr)
{
	if (rex_w)
		*p++ = 0x48;
	*p++ = op;
	*p++ = (u8)(reg << 3 | 4);
	*p++ = 0x25;		/* SIB: no base, no index: disp32 */
	memcpy(p, &addr, 4);
	return p + 4;
}

static void build_stub(const struct dt_case *k)
{
	static const u8 save[] = { 0x53, 0x55, 0x41, 0x54, 0x41, 0x55,
				   0x41, 0x56, 0x41, 0x57 };
	static const u8 restore[] = { 0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d,
				      0x41, 0x5c, 0x5d, 0x5b, 0xc3 };
	/* mov byte [STATE_SLED], 1 */
	static const u8 sled[DT_SLED_LEN] = { 0xc6, 0x04, 0x25,
		STATE_SLED & 0xff, (STATE_SLED >> 8) & 0xff,
		(STATE_SLED >> 16) & 0xff, STATE_SLED >> 24, 1 };
	u8 *p = code_page;
	int i;

	p = emit(p, save, sizeof(save));
	p = emit_abs(p, 1, 0x89, 4, STATE_RSP);		/* mov [saved], rsp */
	p = emit_abs(p, 0, 0xff, 6, STATE_EFL);		/* push qword [efl] */
	*p++ = 0x9d;					/* popfq */
	for (i = 0; i < 8; i++)
		p = emit_abs(p, 0, 0x8b, i, STATE_ADDR + 4 * i);
	p = emit(p, k->code, k->len);
	if (k->sled)
		p = emit(p, sled, sizeof(sled));
	for (i = 0; i < 8; i++)
		p = emit_abs(p, 0, 0x89, i, STATE_ADDR + 4 * i);
	p = emit_abs(p, 1, 0x8b, 4, STATE_RSP);		/* mov rsp, [saved] */
	*p++ = 0x9c;					/* pushfq */
	*p++ = 0x58;					/* pop rax */
	p = emit_abs(p, 0, 0x89, 0, STATE_EFL);
	*p++ = 0xfc;					/* cld */
	emit(p, restore, sizeof(restore));
}

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	greg_t *g = uc->uc_mcontext.gregs;
	static const int map[8] = { REG_RAX, REG_RCX, REG_RDX, REG_RBX,
				    REG_RSP, REG_RBP, REG_RSI, REG_RDI };
	int i;

	(void)si;
	if (!in_stub) {
		/* Not ours: give it back to whoever had it (ASan) and let
		 * the instruction fault again. */
		sigaction(sig, &old_act[sig], NULL);
		return;
	}
	for (i = 0; i < 8; i++)
		fault_res->r[i] = (u32)g[map[i]];
	fault_res->eflags = (u32)g[REG_EFL];
	fault_res->sig = sig;
	fault_res->trapno = (s32)g[REG_TRAPNO];
	siglongjmp(fault_jmp, 1);
}

int native_init(void)
{
	struct sigaction sa;
	stack_t ss;
	void *low;
	int sigs[] = { SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGTRAP };
	unsigned i;

	low = mmap((void *)(uintptr_t)DT_WIN_BASE, LOW_MAP_SIZE,
		   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
		   MAP_FIXED_NOREPLACE, -1, 0);
	if (low != (void *)(uintptr_t)DT_WIN_BASE) {
		fprintf(stderr, "difftest: cannot map the window at %#x: %s\n",
			DT_WIN_BASE, strerror(errno));
		return -1;
	}
	/* GS overrides: nothing in a 64-bit Linux process uses GS */
	if (syscall(SYS_arch_prctl, ARCH_SET_GS, DT_GS_BASE)) {
		perror("difftest: arch_prctl(ARCH_SET_GS)");
		return -1;
	}
	code_page = mmap(NULL, CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code_page == MAP_FAILED) {
		perror("difftest: mmap code page");
		return -1;
	}
	ss.ss_sp = altstack;
	ss.ss_size = sizeof(altstack);
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL)) {
		perror("difftest: sigaltstack");
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, &old_act[sigs[i]]);
	return 0;
}

void native_run(const struct dt_case *k, struct dt_result *res)
{
	u8 *win = (u8 *)(uintptr_t)DT_WIN_BASE;
	u32 *state = (u32 *)(uintptr_t)STATE_ADDR;
	void (*stub)(void) = (void (*)(void))code_page;

	memset(res, 0, sizeof(*res));
	res->trapno = -1;
	dt_fill(win_init, NULL, k);
	memcpy(win, win_init, DT_WIN_SIZE);
	memcpy(state, k->r, 32);
	state[8] = k->eflags;
	state[9] = 0;
	state[12] = 0;
	build_stub(k);
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
}

/*
 * qemu-i386: write every case to a file, run ref32 over it once, read the
 * results back.  Returns 0, or -1 if qemu or ref32 could not run (the
 * caller reports that as a failure, never as a pass).
 */
int qemu_run(const char *ref32, const struct dt_case *k, size_t n,
	     struct dt_result *res)
{
	char in[] = "/tmp/difftest-in-XXXXXX";
	char out[] = "/tmp/difftest-out-XXXXXX";
	char cmd[1024];
	FILE *f;
	int fd, rc, ok = -1;

	fd = mkstemp(in);
	if (fd < 0)
		return -1;
	f = fdopen(fd, "wb");
	if (!f || fwrite(k, sizeof(*k), n, f) != n) {
		if (f)
			fclose(f);
		goto out_in;
	}
	fclose(f);
	fd = mkstemp(out);
	if (fd < 0)
		goto out_in;
	close(fd);
	snprintf(cmd, sizeof(cmd), "qemu-i386 '%s' '%s' '%s'", ref32, in, out);
	rc = system(cmd);
	if (rc != 0) {
		fprintf(stderr, "difftest: '%s' failed (status %d)\n", cmd, rc);
		goto out_out;
	}
	f = fopen(out, "rb");
	if (!f)
		goto out_out;
	if (fread(res, sizeof(*res), n, f) == n)
		ok = 0;
	else
		fprintf(stderr, "difftest: ref32 returned too few results\n");
	fclose(f);
out_out:
	unlink(out);
out_in:
	if (getenv("CPU_TEST_KEEP"))
		fprintf(stderr, "difftest: cases kept in %s\n", in);
	else
		unlink(in);
	return ok;
}
