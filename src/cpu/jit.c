/*
 * The translator: guest code turned into host code a block at a time.
 *
 * The interpreter's fast path (exec_fast.c) still pays, for every guest
 * instruction, a cache lookup, a compare of the instruction's bytes and an
 * indirect call that the host's branch predictor mostly gets wrong.  Here
 * a path of guest instructions through one page (a block: on past its
 * conditional jumps, whose taken way leaves it, and along direct jumps
 * forward within the page, up to a call, an indirect transfer or RET, a
 * jump back or out of the page, an instruction without a fast handler,
 * the end of the page or JIT_MAX_INSNS) becomes one piece of x86-64 code.
 * The commonest forms are written out as host instructions that work on struct
 * cpu and on guest registers cached in host registers within the block (MOV,
 * LEA, the ALU, TEST, shifts, loads and stores through the TLB, Jcc, and many
 * more); every other form is a call of its handler.  Blocks end by jumping
 * straight to the next block when it lies in the same page (chaining), and a
 * RET, an indirect jump or a jump to another page finds its target's block
 * through the TLB without leaving translated code (e_find()), so the kernel's
 * loops and calls run without coming back here; a jump back to an
 * instruction of its own block goes round inside it (loop_heads()).
 *
 * The guest chooses only the values in the code we write (immediates,
 * displacements, register numbers, all decoded into fixed fields), never
 * a host address: every access to guest memory goes through a TLB entry
 * that mmu.c filled, or out to the same checked helpers the interpreter
 * uses.  The code lives in one arena, emptied whole when it fills (or
 * grown, when it fills too fast: see "The arena" at the end), and
 * no page of it is ever both writable and executable (W^X): the arena is
 * one memfd mapped twice, an executable view the code runs from and,
 * JIT_ARENA_MAX above it, a writable view that every byte of code is
 * written through (see JIT_W below).  A bug that lets a guest steer a
 * host write can then not land in code that runs, short of knowing
 * where the writable view is.
 *
 * Blocks are kept by the host address of their first byte (that is, by
 * physical address) and are position-independent: EIP only ever moves by
 * the handlers' relative updates, so one block serves every linear address
 * that maps its page.  A block does not check its bytes when it runs:
 * instead every write to a page that holds translated code is seen, and
 * drops that page's blocks ("Watching code for writes" below).  The CPU's
 * own writes are seen because no TLB entry of such a page is writable
 * (mmu.c), so they take the slow path to phys_write(); every other writer
 * of guest RAM (a device's DMA, the loader, a test) reports its range
 * through cpu_mem_written().  So the guest patching its text, a disk read
 * into a page that held code or a store into the block that is running
 * (which then leaves after that store, as a real CPU would) all just work.
 *
 * The translated code keeps the host's rbx pointing into struct cpu, r12
 * holding the EIP the block began at, r13 the TLB its accesses use and
 * five more guest registers, from one block to the next along chains
 * (see "Host registers" below).  The handlers keep their rules (a
 * fault leaves EIP and ESP as the instruction found them), so a fault
 * inside a block unwinds with longjmp as from the interpreter, and
 * c->jit_active tells the fault path that EIP and ESP are already right.
 * icount is charged for a whole block when it starts; a fault part way
 * through over-counts the rest of the block, a few instructions per fault.
 *
 * Only x86-64 hosts translate; elsewhere jit_init() leaves c->jit NULL and
 * the interpreter runs everything.  LGUEST_JIT=0 in the environment does
 * the same, for comparing the two.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "exec.h"
#include "fast.h"

#if defined(__x86_64__)

/* The arena's address space, and the sizes its limit moves between. */
#define JIT_ARENA_MAX (64u << 20)
#define JIT_ARENA_FIRST (4u << 20)
#define JIT_ARENA_MIN (256u << 10)
#define JIT_TAB_SIZE 65536
#define JIT_RECENT_BITS 14
#define JIT_RECENT (1u << JIT_RECENT_BITS)
#define JIT_MAX_INSNS 64

/* Windows (win_plan()) */
#define WIN_ROOM 16		/* the most an access in a window reads */
#define WIN_SPAN_MAX 1024	/* the widest window worth a check */
#define WIN_FAILS 32
#define WIN_NOT 64		/* blocks remembered to have none */
#define WIN_KEYS (8 * (JIT_MAX_INSNS + 1))	/* the most a block makes */
#define JIT_MAX_RUN 8		/* PUSHes or POPs made one access */
/*
 * Room a block may need: its descriptor and its code, whose longest forms
 * (an x87 one with a memory operand: its checks, its access, the
 * pointers it notes and the status word, and its cold path; an ADC to
 * memory on flags the block does not know) take under 450 bytes, and its
 * end (two exits that look their targets up in host code).
 */
#define JIT_BLOCK_ROOM (sizeof(struct jblock) + \
			JIT_MAX_INSNS * (sizeof(struct dinsn) + 512) + 2048)

/*
 * Every address the translator keeps or emits (j->p, b->code, the
 * epilogue, a chain's rel32 field) is in the executable view, because
 * that is where the code runs and where relative jumps are measured.  A
 * byte of code is stored at the same offset of the writable view, which
 * jit_init() places exactly JIT_ARENA_MAX above the executable one, so
 * the store needs no struct jit.  The block descriptors that share the
 * arena with the code are plain data, kept in the writable view only.
 */
#define JIT_W(p) ((u8 *)(p) + JIT_ARENA_MAX)

/* Why translated code returned (in eax). */
enum {
	JX_NORMAL,	/* at an instruction boundary: look again */
	JX_CHAIN,	/* as NORMAL, and the exit may be chained */
	JX_BUDGET,	/* the block does not fit in what is left */
};

/* A block's bytes lie in at most this many pages of RAM. */
#define JIT_BLOCK_PAGES 2

/* Guest registers cached in host registers (see "The register cache"). */
#define RC_SLOTS 5

/*
 * The most a chain's adapter takes (emit_adapter()): five stores, five
 * moves or loads and the two moves a cycle of them may add, and a jump.
 * A chain's jump and its way out to the dispatcher, which the adapter is
 * written over, take at least as much (emit_chain()).
 */
#define JIT_ADAPTER_MAX 96

/* Which guest register each cache slot holds (-1: none), and which of
 * them c->r lacks (a bit per slot): at a jump that leaves the block, or
 * at a block's hot entry (b->entry). */
struct rc_state {
	s8 reg[RC_SLOTS];
	u8 dirty;
};

struct jblock {
	struct jblock *next;	/* in its hash chain */
	const u8 *host;		/* first byte in guest RAM */
	u8 *code;		/* entry; NULL: the first instruction is slow */
	/* ... the entries from a chain (chain_entry()), which hands on
	 * its register cache as entry says (link_chain()) */
	u8 *check, *hot;
	u8 *spill;		/* where those lead once it is dropped */
	struct rc_state entry;
	u32 need;		/* the segments its entry checks are flat */
	u8 raw[MAX_INSN_LEN];	/* slow entries: the bytes that were slow */
	u8 nraw;		/* ... as many as the page held */
	u8 mode;		/* 4: 32-bit code, 8: 64-bit code */
	bool dropped;		/* its code changed: its entry leads away */
	/* The pages of RAM its bytes lie in (page numbers; NO_PAGE for
	 * none), and the next block in each one's list. */
	u32 page[JIT_BLOCK_PAGES];
	struct jblock *page_next[JIT_BLOCK_PAGES];
	/* The page its last instruction runs on into, or NULL
	 * (straddle_decode()) */
	const u8 *straddle;
	/* It stops short of an instruction that runs on into a page the
	 * TLB did not have: lookup() makes it again once the TLB has it. */
	bool retry;
	/* A call of a PIC thunk it runs in line (thunk_inline()): its
	 * first instruction, and if the thunk is in another page, where
	 * its code must still be (emit_thunk_check()). */
	u32 thunk_i;
	u32 thunk_off;
	const u8 *thunk_host;
	/* Times its windows could not be set up (emit_win_check()) */
	u32 win_fails;
	u32 n;
	struct dinsn d[];	/* each one's host: where its bytes are */
};

#define NO_PAGE 0xffffffffu

static void rc_touched(size_t field);
static const u8 *rc_merge(const u8 *target);
static void rc_called(void);
static void rc_flush_cur(void);

struct jit {
	u8 *arena, *end, *p;	/* code and block descriptors; end is the
				 * limit, at most JIT_ARENA_MAX in */
	u8 *start;		/* after the trampolines: what a flush keeps */
	u8 *high;		/* the most of the arena written since the
				 * last time its memory was given back */
	u64 filled_at;		/* icount at the last flush or growth */
	u64 bytes;		/* written in all, for cpu_jit_stats() */
	unsigned grown;		/* times the limit doubled */
	unsigned trims;		/* times cpu_jit_trim() emptied it */
	size_t first;		/* the limit it started at */
	int (*enter)(struct cpu *c, const u8 *code);
	u8 *epilogue;
	u8 *dropped;		/* where a dropped block's entry leads */
	u8 *flags_in;		/* emit_flags_in(): the guest's flags made
				 * the host's, for any lazy state */
	unsigned generation;	/* flushes so far */
	FILE *perf_map;		/* LGUEST_PERFMAP's, or NULL */
	/* Per page of RAM, the blocks made from it since the last flush
	 * (through page_next[]); c->code_pages has its bit set while the
	 * list is not empty. */
	struct jblock **page_blocks;
	u32 npages;
	u64 code_writes;	/* writes that found a page of code */
	u64 drops;		/* blocks they dropped */
	/* Blocks made again without windows (win_give_up()), the
	 * oldest forgotten first. */
	const u8 *no_win[WIN_NOT];
	u32 no_win_next;
	u64 write_through;	/* blocks made again with a write-through
				 * cache (emit_block()) */
	u64 adapters;		/* emit_adapter()'s, since the start */
	u64 hot_links;		/* link_chain()'s to a hot entry */
	bool strict;		/* LGUEST_JIT_STRICT=1: abort() instead */
	/* The blocks looked up last, by address: most lookups hit here and
	 * stay in the host's caches, where the table's chains would not.
	 * Translated code reads it too (e_find()). */
	struct jrecent {
		const u8 *host;
		const u8 *code;		/* b->code, without touching b */
		struct jblock *b;
		u8 mode;		/* b->mode, the same */
	} recent[JIT_RECENT];
	/* An empty TLB, for blocks whose segments rule out inline access. */
	struct tlb no_tlb;
	struct jblock *tab[JIT_TAB_SIZE];
};

static u32 min_u32(u32 a, u32 b)
{
	return a < b ? a : b;
}

/* --- x86-64 encoding --- */

static void e8(struct jit *j, u8 v)
{
	*JIT_W(j->p) = v;
	j->p++;
}

static void e32(struct jit *j, u32 v)
{
	memcpy(JIT_W(j->p), &v, 4);
	j->p += 4;
}

static void e64(struct jit *j, u64 v)
{
	memcpy(JIT_W(j->p), &v, 8);
	j->p += 8;
}

static void ebytes(struct jit *j, const char *b, size_t n)
{
	memcpy(JIT_W(j->p), b, n);
	j->p += n;
}

/* A rel32 field at at, made to reach target. */
static void set_rel32(u8 *at, const u8 *target)
{
	s32 rel;

	target = rc_merge(target);
	rel = (s32)(target - (at + 4));
	memcpy(JIT_W(at), &rel, 4);
}

/* jcc/jmp rel32 to target, or to be fixed later (target NULL): returns
 * the rel32 field. */
static u8 *e_jump(struct jit *j, u8 cc, const u8 *target)
{
	u8 *at;

	rc_flush_cur();
	if (cc == 0xe9) {
		e8(j, 0xe9);
	} else {
		e8(j, 0x0f);
		e8(j, cc);
	}
	at = j->p;
	e32(j, 0);
	if (target)
		set_rel32(at, target);
	return at;
}

#define JCC_JE 0x84
#define JCC_JNE 0x85
#define JCC_JA 0x87
#define JCC_JB 0x82
#define JCC_JG 0x8f
#define JMP 0xe9
#define CALL 0xe8

/* movabs reg, imm64 (reg: 0 rax, 1 rcx, 2 rdx, 6 rsi) */
static void e_movabs(struct jit *j, int reg, u64 v)
{
	e8(j, 0x48);
	e8(j, (u8)(0xb8 + reg));
	e64(j, v);
}

/* Does a displacement fit in the one signed byte of the short form? */
static bool disp8_fits(u32 disp)
{
	return (s32)disp == (s8)disp;
}

/*
 * A ModRM of mod 2 (a 32-bit displacement) and the displacement, in the
 * short form (mod 1, 8 bits) where it fits.  Code that takes less room
 * runs faster: it is fetched from fewer cache lines.
 */
static void e_disp(struct jit *j, u8 modrm, u32 disp)
{
	if (disp8_fits(disp)) {
		e8(j, (u8)((modrm & 0x3f) | 0x40));
		e8(j, (u8)disp);
		return;
	}
	e8(j, modrm);
	e32(j, disp);
}

/*
 * Translated code keeps rbx this far into struct cpu, so that the fields
 * it uses most, the first 256 bytes (the registers, EIP, the lazy flags,
 * the budget), are each a displacement of one byte away.
 */
#define JIT_RBX_BIAS 128
_Static_assert(offsetof(struct cpu, stop) < 2 * JIT_RBX_BIAS &&
	       offsetof(struct cpu, jit_tlb) < 2 * JIT_RBX_BIAS,
	       "the fields translated code uses most are near rbx");

/* A ModRM of mod 2 and base rbx, and field's displacement from rbx. */
static void e_field(struct jit *j, u8 modrm, size_t field)
{
	e_disp(j, modrm, (u32)field - JIT_RBX_BIAS);
}

/* lea rdi, [rbx - bias]: struct cpu, a C call's first argument. */
static void e_cpu_arg(struct jit *j)
{
	ebytes(j, "\x48\x8d\x7b", 3);
	e8(j, (u8)-JIT_RBX_BIAS);
}

/* An instruction on [rbx + offset of a struct cpu field]. */
static void e_rbx(struct jit *j, const char *op, size_t n, u8 modrm,
		  size_t field)
{
	rc_touched(field);
	ebytes(j, op, n);
	e_field(j, modrm, field);
}

#define CPU_FIELD(f) offsetof(struct cpu, f)

/* cmp word [rbx + intr], 0: INTR or a stop request. */
static u8 *e_check_intr(struct jit *j)
{
	e_rbx(j, "\x66\x83", 2, 0xbb, CPU_FIELD(intr));
	e8(j, 0);
	return e_jump(j, JCC_JNE, NULL);
}

_Static_assert(offsetof(struct cpu, stop) == offsetof(struct cpu, intr) + 1,
	       "intr and stop are tested as one word");

/* mov eax, reason; jmp epilogue */
static void e_exit(struct jit *j, int reason)
{
	e8(j, 0xb8);
	e32(j, (u32)reason);
	e_jump(j, JMP, j->epilogue);
}

/* --- Trampolines --- */

static const u8 *find(struct cpu *c);

static const u8 *forward(struct cpu *c, u8 *after);

/*
 * Where the entry of a dropped block leads (drop_block() writes a call
 * here over it).  Whatever still jumps there (a chain patched into it, a
 * link kept to it) does so at a block boundary, with c->eip synced and
 * INTR checked, and always for the same guest code: so we go on to the
 * block now at c->eip if find() has one, and forward() makes the dropped
 * entry jump straight there from then on; else out to the dispatcher,
 * which translates it (and the next entry here finds that).
 */
static void emit_dropped(struct jit *j)
{
	u8 *none;

	j->dropped = j->p;
	ebytes(j, "\x5e", 1);				/* pop rsi: after */
	e_cpu_arg(j);
	e_movabs(j, 0, (u64)(uintptr_t)forward);
	ebytes(j, "\xff\xd0\x48\x85\xc0", 5);	/* call rax; test rax */
	none = e_jump(j, JCC_JE, NULL);
	ebytes(j, "\xff\xe0", 2);			/* jmp rax */
	set_rel32(none, j->p);
	e_exit(j, JX_NORMAL);
}

static void emit_flags_in(struct jit *j);

static void emit_trampolines(struct jit *j)
{
	/* enter(c, code): save what the SysV ABI says we must (rbp too,
	 * which holds a cached guest register), keep c in rbx (JIT_RBX_BIAS
	 * bytes in), jump to the block.  Six pushes and 8 bytes more keep
	 * calls 16-byte aligned. */
	j->enter = (int (*)(struct cpu *, const u8 *))(void *)j->p;
	ebytes(j, "\x55\x53\x41\x54\x41\x55\x41\x56\x41\x57", 10);
	ebytes(j, "\x48\x83\xec\x08", 4);	/* sub rsp, 8 */
	ebytes(j, "\x48\x8d\x9f", 3);		/* lea rbx, [rdi+bias] */
	e32(j, JIT_RBX_BIAS);
	e_rbx(j, "\x4c\x8b", 2, 0xab, CPU_FIELD(jit_tlb)); /* mov r13, [] */
	ebytes(j, "\xff\xe6", 2);		/* jmp rsi */
	j->epilogue = j->p;
	ebytes(j, "\x48\x83\xc4\x08", 4);	/* add rsp, 8 */
	ebytes(j, "\x41\x5f\x41\x5e\x41\x5d\x41\x5c\x5b\x5d\xc3", 11);
	emit_dropped(j);
	emit_flags_in(j);
	/* Blocks begin with their descriptors: aligned. */
	j->p = (u8 *)(((uintptr_t)j->p + 15) & ~(uintptr_t)15);
	j->start = j->p;
}

/* --- Blocks --- */

static u32 tab_index(const struct cpu *c, const u8 *h)
{
	u32 pa = (u32)(h - c->ram);

	return (pa * 2654435761u) >> 16;
}

/*
 * Where j->recent keeps the block at h: a multiplicative hash, as
 * e_find() computes it too.  The busybox shell loop of bench/run.sh runs
 * some thousands of hot blocks across the kernel and busybox; with 4096
 * entries and an xor of the page number one lookup in 25 missed and
 * walked the table, with these 16384 one in 200.
 */
static u32 recent_index(const u8 *h)
{
	return ((u32)(uintptr_t)h * 2654435761u) >> (32 - JIT_RECENT_BITS);
}

static struct jblock *tab_find(struct cpu *c, const u8 *h)
{
	struct jit *j = c->jit;
	u32 r = recent_index(h);
	struct jblock *b;

	if (j->recent[r].host == h)
		return j->recent[r].b;
	for (b = j->tab[tab_index(c, h)]; b; b = b->next)
		if (b->host == h)
			break;
	if (b) {
		j->recent[r].host = h;
		j->recent[r].b = b;
		j->recent[r].code = b->code;
		j->recent[r].mode = b->mode;
	}
	return b;
}

/* Put b in the table, in place of any older block at the same address. */
static void tab_insert(struct cpu *c, struct jblock *b)
{
	struct jblock **p = &c->jit->tab[tab_index(c, b->host)];
	u32 r = recent_index(b->host);

	c->jit->recent[r].host = b->host;
	c->jit->recent[r].b = b;
	c->jit->recent[r].code = b->code;
	c->jit->recent[r].mode = b->mode;
	b->next = *p;
	*p = b;
	for (p = &b->next; *p; p = &(*p)->next) {
		if ((*p)->host == b->host) {
			*p = (*p)->next;
			break;
		}
	}
}

/* Forget every block: the table, and the page lists with their bits
 * (TLB entries that lost the right to write get it back on their next
 * write, by a walk). */
static void flush(struct cpu *c)
{
	struct jit *j = c->jit;
	u32 w, bits;

	j->p = j->start;
	memset(j->tab, 0, sizeof(j->tab));
	memset(j->recent, 0, sizeof(j->recent));
	for (w = 0; w < (j->npages + 31) / 32; w++) {
		for (bits = c->code_pages[w]; bits; bits &= bits - 1)
			j->page_blocks[32 * w + __builtin_ctz(bits)] = NULL;
		c->code_pages[w] = 0;
	}
	j->generation++;
}

static void arena_full(struct cpu *c);

/* Room for a block descriptor, which is data: in the writable view. */
static void *take(struct jit *j, size_t n)
{
	u8 *p = j->p;

	j->p += (n + 15) & ~(size_t)15;
	return JIT_W(p);
}

/* Load r12 with EIP (RIP in 64-bit code). */
static void emit_eip_in(struct jit *j, bool wide)
{
	if (wide)
		e_rbx(j, "\x4c\x8b", 2, 0xa3, CPU_FIELD(rip)); /* mov r12, [] */
	else
		e_rbx(j, "\x44\x8b", 2, 0xa3, CPU_FIELD(eip)); /* mov r12d */
}

/*
 * Charge the block's n instructions: c->ictr is the count less jit_end
 * (icount_of()), so the sum's sign says whether it passed the end, and
 * the jump returned is taken if it did, to where they are given back
 * (e_uncharge()).
 */
static u8 *emit_budget(struct jit *j, u32 n)
{
	e_rbx(j, "\x48\x81", 2, 0x83, CPU_FIELD(ictr)); /* add [], n */
	e32(j, n);
	return e_jump(j, JCC_JG, NULL);
}

/* Give n instructions back: charged for, but not run. */
static void e_uncharge(struct jit *j, u32 n)
{
	e_rbx(j, "\x48\x81", 2, 0xab, CPU_FIELD(ictr)); /* sub [], n */
	e32(j, n);
}

/*
 * Host registers in translated code: rbx = struct cpu, JIT_RBX_BIAS
 * bytes in, r12d = the EIP the block began at, r13 = the TLB that inline
 * memory accesses use, r8d = the new ESP of a PUSH or POP in flight, r14
 * a window (win_plan()),
 * r9b a carry in flight; rax, rcx, rdx, rsi, r9 are scratch; rbp, r10,
 * r11, r15 and rdi cache guest registers (below).  Guest registers live
 * in c->r, or newer in the cache, which is stored before anything else
 * can look, so a handler called in between always sees the truth.  EIP
 * lags too: c->eip is written before each call out and at each way out
 * of the block.
 */
enum { H_EAX, H_ECX, H_EDX, H_EBX, H_ESP, H_EBP, H_ESI, H_EDI };

#define GREG(n) (CPU_FIELD(r) + sizeof(union gpr) * (size_t)(n))

/* The guest register whose c->r field (or a byte of it) field is, or -1
 * for any other field of struct cpu. */
static int greg_of(size_t field)
{
	return field - GREG(0) < GREG(16) - GREG(0) ?
	       (int)((field - GREG(0)) / sizeof(union gpr)) : -1;
}

/* mov h32, [rbx + field] and back */
static void e_load(struct jit *j, int h, size_t field)
{
	e_rbx(j, "\x8b", 1, (u8)(0x83 | h << 3), field);
}

static void e_store(struct jit *j, int h, size_t field)
{
	e_rbx(j, "\x89", 1, (u8)(0x83 | h << 3), field);
}

/* mov qword [rbx + field], h: for the 64-bit lazy-flag fields, whose
 * upper half must be as clear as the 32-bit value in h leaves it. */
static void e_store_q(struct jit *j, int h, size_t field)
{
	e_rbx(j, "\x48\x89", 2, (u8)(0x83 | h << 3), field);
}

/* mov dword [rbx + field], imm32 */
static void e_store_imm(struct jit *j, size_t field, u32 v)
{
	e_rbx(j, "\xc7", 1, 0x83, field);
	e32(j, v);
}

/* c->eip = block start + off: 32 bits wide, wrapping, in 32-bit code,
 * 64 in 64-bit code (where a block never reaches a non-canonical
 * address: it lies in one page). */
static void e_sync_eip(struct jit *j, u32 off, bool wide)
{
	if (wide) {
		ebytes(j, "\x49\x8d\x84\x24", 4);	/* lea rax, [r12+off] */
		e32(j, off);
		e_store_q(j, H_EAX, CPU_FIELD(rip));
		return;
	}
	ebytes(j, "\x41\x8d\x84\x24", 4);		/* lea eax, [r12+off] */
	e32(j, off);
	e_store(j, H_EAX, CPU_FIELD(eip));
}

static void e_call_fn(struct jit *j, const struct dinsn *di, const void *fn)
{
	rc_flush_cur();
	e_cpu_arg(j);
	e_movabs(j, 6, (u64)(uintptr_t)di);
	e_movabs(j, 0, (u64)(uintptr_t)fn);
	ebytes(j, "\xff\xd0", 2);			/* call rax */
	rc_called();
}

/*
 * Guest registers cached in host registers: rbp, r10, r11,
 * r15 and rdi, which no form uses otherwise (rdi only for a call's first
 * argument, and a call empties the cache).  A cached register holds what
 * a load of the guest's register would: its low 32 bits zero-extended in
 * 32-bit code, all 64 in 64-bit code.
 *
 * The cache is write-back: a form that changes a guest register changes
 * its host register only, and c->r gets the value where something other
 * than the block's own code can look (rc_flush()): before a call out,
 * before a jump within the block or out of it, before a label where two
 * ways meet, when a slot is reused.  A jump to a cold path or a side exit
 * stores nothing on the way: the code it jumps to, after the block, stores
 * what c->r lacked at the jump (emit_rc_stores()) before a handler, a
 * fault or the next block can look.  So a chain of register forms in an
 * unrolled loop like SHA-256's stores each register once, at the end, and
 * not after every form as the write-through cache before it did.
 *
 * Anything the translator cannot follow empties the cache: a call out
 * (C code may change c->r, and takes r10 and r11), a label where two ways
 * meet, and a form that reaches c->r by itself (e_rbx() on a register's
 * field), which must find c->r whole there: those forms store the
 * register first (rc_flush_reg()).  A cold path runs its handler and
 * loads the registers the cache held at its way back before it jumps
 * there.
 *
 * The cache lasts across a chain from one block to the next in its page.
 * Each block says what it wants at its start (b->entry, rc_entry_plan()):
 * the registers its first instructions read, each in a slot, and which
 * of them may come with c->r lacking them.  Its full entry, with c->r
 * whole, loads them; a chain jumps past that.  A chain's jump leaves
 * with the cache as it is, and once linked, goes through a few moves
 * written beside it (emit_adapter(): the stores of what the next block
 * does not take dirty, the moves into its slots, the loads of what the
 * cache lacked) or, where the slots already agree, as in most loops,
 * straight to the next block.  So a loop that is one block, or a few
 * chained, keeps its registers in host registers from one turn to the
 * next, and stores them when it leaves.  Only the chain's ways back to
 * the dispatcher (unlinked, INTR, the budget) store them before.
 */
static const u8 rc_host[RC_SLOTS] = { 5, 10, 11, 15, 7 };

/* What the translator knows about the lazy flags at this point. */
enum { FK_UNKNOWN, FK_ADD, FK_SUB, FK_LOGIC, FK_EFLAGS, FK_HOST, FK_PEND };

/* Jumps to its cold path one instruction may have: an x87 form's three
 * checks and its access's three (e_access(), cold_add()); a REP MOVS's
 * seven (emit_rep_str()). */
#define JIT_MAX_COLD 7

/*
 * Which one-page cache an access uses (e_access()): ESP's for one
 * through ESP or of the stack without an address form (PUSH, POP,
 * LEAVE), EBP's for one through EBP, none for the rest (the TLB
 * straight away).  Other base registers point here and there: measured,
 * a cache for each lost more to its misses than it won.
 */
enum { L0_NONE = -2, L0_UNSET = -1 };

/* A deferred INC or DEC (incdec_deferred()), besides the LF_* kinds;
 * where the source is not a register. */
enum { DEFER_INC = 0x40, DEFER_DEC };
enum { DEFER_IMM = -1, DEFER_MEM = -2 };

/* Translation state of one block. */
struct jctx {
	struct jit *j;
	struct jblock *b;
	bool wide;		/* 64-bit code: RIP is 64 bits wide */
	u32 i;			/* the instruction being emitted */
	u32 off[JIT_MAX_INSNS];	/* each one's offset from the start */
	u32 next[JIT_MAX_INSNS];	/* ... and the offset just past it */
	int flags;		/* FK_*: who set the flags last */
	u8 *host_flags_at;	/* ... and the host's flags are theirs
				 * while the code ends here */
	u8 *host_cf_at;		/* the host's CF alone is the guest's
				 * while the code ends here (a BT) */
	bool alu_host_flags;	/* e_alu() left them in the host's */
	bool pend;		/* the guest's flags are the host's alone:
				 * not yet in memory (flags_pend()) */
	bool pend_logic;	/* ... from a logic form: AF is clear */
	int fsize;		/* ... at which operand size (1 to 8) */
	/* Is instruction i's effect on the flags ever seen? */
	bool flags_live[JIT_MAX_INSNS];
	/* Flags seen only by a fault on the way to the form that sets
	 * them again (flags_deferred()): not stored by the form that made
	 * them (deferred[i]), but made again from the registers, in
	 * memory, by each cold path before it (defer[m]). */
	bool deferred[JIT_MAX_INSNS];
	struct defer {
		bool on;
		u8 kind, size, dst;	/* kind: LF_* or DEFER_* */
		s8 src;			/* or DEFER_IMM, DEFER_MEM */
		u32 imm;
	} defer[JIT_MAX_INSNS];
	u8 *normal;		/* the shared way out, once emitted */
	u8 *tlb_bad, *tlb_back;	/* emit_tlb_choice()'s jump to the empty
				 * TLB, and where it comes back to */
	/* The accesses' ways to the TLB when their page is not the one
	 * cached (emit_l0_stub()), emitted after the block. */
	u32 nl0;
	int l0_slot;		/* e_ea()'s choice for e_access() */
	bool x87_ok;		/* emit_x87()'s checks hold here */
	bool x87_pending;	/* ... and its status word is not made */
	int x87_fds;		/* ... and FDS holds this segment's */
	struct {
		u8 *from, *back;
		u32 cold;		/* its instruction's cold path */
		u8 slot;
		u16 size;
		bool write;
	} l0[JIT_MAX_COLD * JIT_MAX_INSNS];
	/* Cold paths, emitted after the block: instruction i's handler,
	 * for when the inline access cannot go straight to RAM. */
	u32 ncold;
	struct {
		u8 *from, *back;
		u32 i;
		s8 rc[RC_SLOTS];	/* the cache at back (rc_reg) */
		bool host_flags;	/* the guest's flags into the
					 * host's before going back */
		u8 run;			/* instructions from i it runs */
		bool leave;		/* then leaves the block */
		bool rep;		/* ... charged as its last (first
					 * the refund, emit_rep_str()) */
		bool x87_sw;		/* first e_x87_sw() */
		struct rc_state at;	/* the cache at the jump */
	} cold[JIT_MAX_COLD * JIT_MAX_INSNS];
	/* Which guest register each of rc_host[] holds (-1: none), and
	 * when it was last used, for choosing one to reuse. */
	s8 rc_reg[RC_SLOTS];
	u32 rc_used[RC_SLOTS], rc_clock;
	u32 rc_insn_clock;	/* rc_clock as instruction i began */
	/* Slots whose value c->r does not have yet (rc_flush()); none
	 * unless wb: the block's cache is write-back.  A form that reached
	 * c->r of such a register by itself sets wb_failed, and the block
	 * is made again without (emit_block()). */
	u8 rc_dirty;
	bool wb, wb_failed;
	bool keep_dirty;	/* e_jump(): to a cold path or a side exit */
	/* emit_straddle_check()'s jumps out when the page is not it. */
	u8 *straddle_miss[3];
	u8 *thunk_miss[3];	/* ... and emit_thunk_check()'s */
	/* After instruction i a device may want us out: its exit. */
	u8 *intr_at[JIT_MAX_INSNS + 1];
	/* Windows (win_plan()): whether the block may have them; each
	 * instruction's key (-1: none), its register's move since the
	 * key's start (ESP's by PUSH and POP), and whether its operand
	 * goes through the window; each key's register, its window from
	 * the key's start, and whether it writes; the key r14 is set up
	 * for (-1: none); e_ea()'s word to e_access(); the checks' ways
	 * out. */
	bool win;
	s16 win_key[JIT_MAX_INSNS];
	s32 win_delta[JIT_MAX_INSNS];
	bool win_ok[JIT_MAX_INSNS];
	u8 win_reg[WIN_KEYS];
	s32 win_lo[WIN_KEYS];
	u32 win_span[WIN_KEYS];
	bool win_w[WIN_KEYS];
	int win_ready;
	bool win_use;
	u32 win_off;
	u32 nwin;
	struct {
		u8 *from;
		u32 cold;
	} winstub[JIT_MAX_INSNS];
	/* Conditional jumps inside the block (emit_side_exit()): the
	 * jump taken, to its way out after the block. */
	u32 nside;
	struct {
		u8 *from;
		u32 i;
		struct rc_state at;
		bool pend, pend_logic;	/* the flags still to be stored */
	} side[JIT_MAX_INSNS];
	/* The instructions that a jump back in the block goes to (loop
	 * heads, loop_heads()), and the head each jump goes back to (-1:
	 * none); where each head's code starts, and the cache there. */
	bool head[JIT_MAX_INSNS];
	s8 back_to[JIT_MAX_INSNS];
	u32 head_writes[JIT_MAX_INSNS];	/* win_regs_written() from there
					 * to the end */
	u8 *head_at[JIT_MAX_INSNS];
	struct rc_state head_rc[JIT_MAX_INSNS];
};

static void e_rexw(struct jit *j, int size);

/* The block being translated, for the cache's hooks in the encoders
 * (one per thread, as the block's jctx is). */
static __thread struct jctx *rc_cur;

static void e_mov_disp(struct jit *j, u8 op, int h, int base, u32 disp,
		       bool w);

static void rc_clear(struct jctx *x)
{
	if (x->rc_dirty)		/* nothing may drop what c->r lacks */
		x->wb_failed = true;
	memset(x->rc_reg, -1, sizeof(x->rc_reg));
	x->rc_dirty = 0;
}

/* The slot of reg[] (a cache's registers, by slot) that holds guest
 * register r, or -1. */
static int slot_of(const s8 *reg, int r)
{
	int k;

	for (k = 0; k < RC_SLOTS; k++)
		if (reg[k] == r)
			return k;
	return -1;
}

/* Guest register r's slot, or -1. */
static int rc_slot(const struct jctx *x, int r)
{
	return slot_of(x->rc_reg, r);
}

/* Guest register r is about to be written whole: the cache forgets it,
 * and what c->r lacked of it no longer matters. */
static void rc_forget(struct jctx *x, int r)
{
	int k = rc_slot(x, r);

	if (k >= 0) {
		x->rc_reg[k] = -1;
		x->rc_dirty &= (u8)~(1u << k);
	}
}

/* A form reaches field of struct cpu by itself: if that is a register
 * the cache has newer than c->r, the block must be made again
 * (emit_block()).  Forms that do store it first (rc_flush_reg()). */
static void rc_check_field(size_t field)
{
	int r = rc_cur ? greg_of(field) : -1;
	int k = r >= 0 ? rc_slot(rc_cur, r) : -1;

	if (k >= 0 && (rc_cur->rc_dirty & 1u << k))
		rc_cur->wb_failed = true;
}

/* ... by e_rbx(), which may change it: the cache forgets it too. */
static void rc_touched(size_t field)
{
	rc_check_field(field);
	if (rc_cur && greg_of(field) >= 0)
		rc_forget(rc_cur, greg_of(field));
}

/* C code may change any register, and takes r10 and r11 (the call out
 * came after rc_flush()). */
static void rc_called(void)
{
	if (rc_cur)
		rc_clear(rc_cur);
}

/* mov [c->r of guest register r], slot k's host register, at the
 * cache's width. */
static void e_rc_store(struct jctx *x, int k, int r)
{
	e_mov_disp(x->j, 0x89, rc_host[k], 3, (u32)GREG(r), x->wide);
}

/* Slot k's guest register into c->r, if c->r lacks it.  A store, which
 * leaves the host's flags as they are. */
static void rc_flush_slot(struct jctx *x, int k)
{
	struct jit *j = x->j;
	bool flags = x->host_flags_at == j->p;

	if (!(x->rc_dirty & 1u << k))
		return;
	x->rc_dirty &= (u8)~(1u << k);
	e_rc_store(x, k, x->rc_reg[k]);
	if (flags)
		x->host_flags_at = j->p;
}

/* All of them: before anything that reads c->r, calls out or leaves. */
static void rc_flush(struct jctx *x)
{
	int k;

	for (k = 0; k < RC_SLOTS; k++)
		rc_flush_slot(x, k);
}

static void rc_flush_reg(struct jctx *x, int r)
{
	int k = rc_slot(x, r);

	if (k >= 0)
		rc_flush_slot(x, k);
}

/* e_jump()'s: a jump to anything but a cold path or a side exit (which
 * store what c->r lacks themselves, emit_rc_stores()) finds c->r whole. */
static void rc_flush_cur(void)
{
	if (rc_cur && !rc_cur->keep_dirty)
		rc_flush(rc_cur);
}

/* A label where two ways meet (set_rel32() to the current position): the
 * way falling through stores what c->r lacks before it, the jump did
 * before it jumped, and the cache starts again empty after.  Returns
 * where the label is. */
static const u8 *rc_merge(const u8 *target)
{
	if (!rc_cur || target != rc_cur->j->p)
		return target;
	rc_flush(rc_cur);
	rc_clear(rc_cur);
	return rc_cur->j->p;
}

/* The slot holding guest register r, or -1; marks it used. */
static int rc_find(struct jctx *x, int r)
{
	int k = rc_slot(x, r);

	if (k >= 0)
		x->rc_used[k] = ++x->rc_clock;
	return k;
}

/* regs_written()'s answer for a form it does not know */
#define REGS_UNKNOWN 0xffffffffu

static u32 regs_read_guess(const struct dinsn *di);
static u32 regs_written(const struct dinsn *di);

/*
 * How far ahead of instruction x->i the block next reads guest register
 * r: the count of instructions to it, or the block's length and more
 * where none does before a call out (which empties the cache) or before
 * a form writes it whole (its value is dead).  A guess, as
 * regs_read_guess() is: it chooses which slot to give up, never what a
 * register holds.
 */
static u32 rc_next_read(const struct jctx *x, int r)
{
	const struct dinsn *di;
	u32 i, w, never = 2 * x->b->n + 2;

	for (i = x->i + 1; i < x->b->n; i++) {
		di = &x->b->d[i];
		if (regs_read_guess(di) & 1u << r)
			return i - x->i;
		w = regs_written(di);
		if (di->kind == DK_CALL || (w != REGS_UNKNOWN && w & 1u << r))
			return never;
	}
	return never;
}

/*
 * A slot for guest register r: an empty one, else the one whose register
 * the block reads again last (Belady's choice, which LRU gets exactly
 * wrong for a loop over more registers than there are slots), a clean
 * one before a dirty one as far ahead; never one that this instruction
 * has used already.  Its value goes to c->r first if c->r lacks it.
 */
static int rc_take(struct jctx *x, int r)
{
	int k, best = -1, lru = 0;
	u32 key, best_key = 0;

	rc_forget(x, r);
	for (k = 0; k < RC_SLOTS; k++) {
		if (x->rc_reg[k] < 0) {
			best = k;
			break;
		}
		if (x->rc_used[k] < x->rc_used[lru])
			lru = k;
		if (x->rc_used[k] > x->rc_insn_clock)
			continue;
		key = 2 * rc_next_read(x, x->rc_reg[k]) +
		      !(x->rc_dirty & 1u << k);
		if (best < 0 || key > best_key) {
			best = k;
			best_key = key;
		}
	}
	if (best < 0)
		best = lru;
	rc_flush_slot(x, best);
	x->rc_reg[best] = (s8)r;
	x->rc_used[best] = ++x->rc_clock;
	return best;
}

/* What a jump to a cold path or a side exit leaves behind, for its code
 * after the block to store (emit_rc_stores()). */
static struct rc_state rc_state_now(const struct jctx *x)
{
	struct rc_state st;

	memcpy(st.reg, x->rc_reg, sizeof(st.reg));
	st.dirty = x->rc_dirty;
	return st;
}

/* The first deed of code that a jump left the block for: c->r made
 * whole from the cache as it was at the jump. */
static void emit_rc_stores(struct jctx *x, const struct rc_state *st)
{
	int k;

	for (k = 0; k < RC_SLOTS; k++)
		if (st->dirty & 1u << k)
			e_rc_store(x, k, st->reg[k]);
}

static bool rc_state_same(const struct rc_state *a, const struct rc_state *b)
{
	int k;

	if (a->dirty != b->dirty)
		return false;
	for (k = 0; k < RC_SLOTS; k++)
		if ((a->dirty & 1u << k) && a->reg[k] != b->reg[k])
			return false;
	return true;
}

/* st as one word, for a chain's way out to leave in c->jit_chain_rc:
 * the slots' registers (0xff: none), then the dirty bits, then the
 * width of the code (4 or 8); and back. */
static u64 rc_state_code(const struct rc_state *st, bool wide)
{
	u64 v = 0;

	memcpy(&v, st->reg, RC_SLOTS);
	return v | (u64)st->dirty << 40 | (u64)(wide ? 8 : 4) << 48;
}

/* A cache that holds nothing. */
static void rc_state_empty(struct rc_state *st)
{
	memset(st->reg, -1, sizeof(st->reg));
	st->dirty = 0;
}

static int rc_state_decode(u64 v, struct rc_state *st)
{
	memcpy(st->reg, &v, RC_SLOTS);
	st->dirty = (u8)(v >> 40);
	return (int)(v >> 48);
}

/* e_jump() to a cold path or a side exit, whose code after the block
 * stores what c->r lacks (emit_rc_stores()), to be set later. */
static u8 *e_jump_cold(u8 cc)
{
	struct jctx *x = rc_cur;
	u8 *at;

	x->keep_dirty = true;
	at = e_jump(x->j, cc, NULL);
	x->keep_dirty = false;
	return at;
}

/* The REX prefix, if one is needed, of an operation of 64 bits (w) whose
 * ModRM names host registers reg and rm (or SIB base rm, and index). */
static void e_rex(struct jit *j, bool w, int reg, int index, int rm)
{
	u8 rex = (u8)(0x40 | w << 3 | (reg >= 8) << 2 | (index >= 8) << 1 |
		      (rm >= 8));

	if (rex != 0x40)
		e8(j, rex);
}

/* op dst, src between host registers 0-15 at size 4 or 8: the ALU's
 * 32-bit opcode (ADD 01, OR 09, AND 21, SUB 29, XOR 31, CMP 39, TEST 85,
 * MOV 89); at 4 it clears dst's upper half. */
static void e_op_rr(struct jit *j, u8 op, int dst, int src, int size)
{
	e_rex(j, size == 8, src, 0, dst);
	e8(j, op);
	e8(j, (u8)(0xc0 | (src & 7) << 3 | (dst & 7)));
}

/* mov dst, src between host registers. */
static void e_mov_rr(struct jit *j, int dst, int src, int size)
{
	e_op_rr(j, 0x89, dst, src, size);
}

/* The width of a cached register: the block's. */
static int rc_size(const struct jctx *x)
{
	return x->wide ? 8 : 4;
}

/* A MOV (op 8B, a load; 89, a store) between host register h (0-15) and
 * [base + disp] (base rbx, disp then a field of struct cpu, or rsi), of
 * 64 bits if w, past the cache's hook. */
static void e_mov_disp(struct jit *j, u8 op, int h, int base, u32 disp,
		       bool w)
{
	e_rex(j, w, h, 0, 0);
	e8(j, op);
	e_disp(j, (u8)(0x80 | (h & 7) << 3 | base),
	       base == 3 ? disp - JIT_RBX_BIAS : disp);
}

/* The same with [rbx + field], a field of struct cpu. */
static void e_rbx_h(struct jit *j, u8 op, int h, size_t field, bool w)
{
	rc_check_field(field);
	e_mov_disp(j, op, h, 3, (u32)field, w);
}

/* host = guest register r, at the cache's width. */
static void e_rc_fill(struct jctx *x, int host, int r)
{
	e_rbx_h(x->j, 0x8b, host, GREG(r), x->wide);
}

/* Guest register r = host, its slot's register, at the cache's width:
 * c->r lacks it now (write-back), or has it stored at once. */
static void e_rc_spill(struct jctx *x, int host, int r)
{
	int k = rc_slot(x, r);

	if (x->wb && k >= 0 && rc_host[k] == host) {
		x->rc_dirty |= (u8)(1u << k);
		return;
	}
	e_mov_disp(x->j, 0x89, host, 3, (u32)GREG(r), x->wide);
}

/* mov qword [rbx + field], host (0-15): a lazy-flag field from a cache
 * or a scratch register, whose value is zero-extended already. */
static void e_rc_q(struct jctx *x, int host, size_t field)
{
	e_rbx_h(x->j, 0x89, host, field, true);
}

static void e_sahf_eflags(struct jit *j);

/* eax = cpu_get_eflags(c): the guest's flags folded into c->eflags. */
static void e_get_eflags(struct jit *j)
{
	rc_flush_cur();
	e_cpu_arg(j);
	e_movabs(j, 0, (u64)(uintptr_t)cpu_get_eflags);
	ebytes(j, "\xff\xd0", 2);			/* call rax */
}

/* After a cold path's handler, whose fast path left the guest's flags in
 * the host's: the same from memory. */
static void e_host_flags_in(struct jit *j)
{
	e_get_eflags(j);
	e_sahf_eflags(j);
}

/* After a cold path's handler: the cache as it was at the way back. */
static void e_rc_reload(struct jctx *x, const s8 *rc)
{
	int k;

	for (k = 0; k < RC_SLOTS; k++)
		if (rc[k] >= 0)
			e_rc_fill(x, rc_host[k], rc[k]);
}

/* The host register holding guest register r, loaded if need be. */
static int rc_reg_of(struct jctx *x, int r)
{
	int k = rc_find(x, r);

	if (k < 0) {
		k = rc_take(x, r);
		e_rc_fill(x, rc_host[k], r);
	}
	return rc_host[k];
}

/* Guest register r now has host register h's value (at the cache's
 * width), stored already: the cache takes it too. */
static void rc_note(struct jctx *x, int r, int h)
{
	e_mov_rr(x->j, rc_host[rc_take(x, r)], h, rc_size(x));
}

/*
 * h (0-7) = guest register r of size 4 (zero-extended) or 8: from the
 * cache, else loaded, and cached if the load is of the cache's width.
 */
static void e_load_greg(struct jctx *x, int h, int r, int size)
{
	int k = rc_find(x, r);

	if (k >= 0) {
		e_mov_rr(x->j, h, rc_host[k], size);
		return;
	}
	e_rexw(x->j, size);
	e_rbx(x->j, "\x8b", 1, (u8)(0x83 | h << 3), GREG(r));
	if (size == rc_size(x))
		rc_note(x, r, h);
}

/*
 * Guest register r = host register h (0-15), all of the cache's width
 * (in 64-bit code a 32-bit result has its upper half clear): stored to
 * c->r, and cached.
 */
static void e_store_greg(struct jctx *x, int h, int r)
{
	int k;

	if (x->wb) {
		k = rc_take(x, r);
		e_mov_rr(x->j, rc_host[k], h, rc_size(x));
		x->rc_dirty |= (u8)(1u << k);
		return;
	}
	e_mov_disp(x->j, 0x89, h, 3, (u32)GREG(r), x->wide);
	rc_note(x, r, h);
}

/* A jump (from) to the current instruction's cold path, made already.
 * The array holds JIT_MAX_COLD for each instruction, the most any form
 * makes: more is the translator's own bug, never the guest's doing. */
static void cold_add(struct jctx *x, u8 *from)
{
	if (x->ncold >= ARRAY_SIZE(x->cold))
		abort();
	x->cold[x->ncold].from = from;
	x->cold[x->ncold].back = NULL;
	x->cold[x->ncold].host_flags = false;
	x->cold[x->ncold].run = 1;
	x->cold[x->ncold].leave = false;
	x->cold[x->ncold].rep = false;
	x->cold[x->ncold].x87_sw = x->x87_pending;
	x->cold[x->ncold].at = rc_state_now(x);
	x->cold[x->ncold++].i = x->i;
}

/* After a block's entry that began at start: room for drop_block()'s
 * call or jump over it, if it holds anything. */
static void e_entry_room(struct jit *j, const u8 *start)
{
	while (j->p != start && j->p - start < 5)
		e8(j, 0x90);				/* nop */
}

/* Whether the block at h is to be made without windows. */
static bool win_refused(const struct jit *j, const u8 *h)
{
	u32 k;

	for (k = 0; k < WIN_NOT; k++)
		if (j->no_win[k] == h)
			return true;
	return false;
}

static bool win_word(struct jctx *x, const struct dinsn *di);

/*
 * eax (rax in 64-bit code) = the effective address of di's memory operand
 * (no segment, not RIP-relative): disp + base + index << scale by one LEA
 * of the cached registers (of 32 bits in 32-bit code, where it wraps as
 * the guest's address does).
 */
static void e_ea(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	int b = -1, ix = -1;
	bool short8;

	if (di->base != DC_NONE)
		b = rc_reg_of(x, di->base);
	if (di->index != DC_NONE)
		ix = rc_reg_of(x, di->index);
	x->l0_slot = di->base == R_ESP ? 0 : di->base == R_EBP ? 1 : L0_NONE;
	if (win_word(x, di))
		return;
	e_rex(j, x->wide, 0, ix, b);
	if (b < 0 && ix < 0) {				/* mov eax, disp */
		ebytes(j, "\xc7\xc0", 2);
		e32(j, di->disp);
		return;
	}
	/* The shortest form: code that takes less room runs faster. */
	short8 = b >= 0 && disp8_fits(di->disp);
	if (ix < 0 && !di->disp) {			/* mov eax, b */
		e8(j, 0x8b);
		e8(j, (u8)(0xc0 | (b & 7)));
		return;
	}
	e8(j, 0x8d);					/* lea eax, [...] */
	if (ix < 0) {		/* [b + disp]: no slot needs a SIB */
		e8(j, (u8)((short8 ? 0x40 : 0x80) | (b & 7)));
	} else {		/* [b + ix << scale + disp], or no b */
		e8(j, b < 0 ? 0x04 : short8 ? 0x44 : 0x84);
		e8(j, (u8)(di->scale << 6 | (ix & 7) << 3 |
			   (b < 0 ? 5 : b & 7)));
	}
	if (short8)
		e8(j, (u8)di->disp);
	else
		e32(j, di->disp);
}

/* REX.W for a 64-bit operation (8 bytes), none for a 32-bit one. */
static void e_rexw(struct jit *j, int size)
{
	if (size == 8)
		e8(j, 0x48);
}


/*
 * A host operation on size bytes (1, 2, 4 or 8) whose 32-bit opcode is
 * op32: MOV, the ALU, TEST and CMP, whose byte forms are op32 - 1.
 */
static void e_op_sz(struct jit *j, int size, u8 op32)
{
	if (size == 2)
		e8(j, 0x66);
	e_rexw(j, size);
	e8(j, size == 1 ? (u8)(op32 - 1) : op32);
}

/* Where the inline access left its operand: rsi + rcx, or rsi once the
 * form has added them (to free rcx for a source). */
enum { AT_RSI_RCX, AT_RSI };

/* The ModRM (and SIB) of host register h with that operand. */
static void e_at(struct jit *j, int h, int at)
{
	if (at == AT_RSI) {
		e8(j, (u8)(0x06 | h << 3));
	} else {
		e8(j, (u8)(0x04 | h << 3));
		e8(j, 0x0e);
	}
}

/* h = the size bytes at the operand, zero-extended to 32 bits (to 64 for
 * size 8), as the lazy flags keep values. */
static void e_loadz_at(struct jit *j, int h, int size, int at)
{
	if (size < 4) {					/* movzx h, [] */
		e8(j, 0x0f);
		e8(j, size == 1 ? 0xb6 : 0xb7);
	} else {					/* mov h, [] */
		e_op_sz(j, size, 0x8b);
	}
	e_at(j, h, at);
}

/* The operand's size bytes = the low ones of h. */
static void e_store_at(struct jit *j, int h, int size, int at)
{
	e_op_sz(j, size, 0x89);
	e_at(j, h, at);
}

/*
 * Where guest register r of size bytes lives in struct cpu: a byte
 * register is AL..BH by number, or with REG8_REX the low byte of any of
 * the sixteen (cpu_internal.h).
 */
static size_t greg_sz(int r, int size)
{
	if (size != 1)
		return GREG(r);
	if (r & REG8_REX)
		return GREG(r & 15);
	return r < 4 ? GREG(r) : GREG(r - 4) + 1;
}

/* h (0-3) = guest register r of size bytes, zero-extended: a byte or a
 * word out of the cache's copy when it has one. */
static void e_loadz_reg(struct jctx *x, int h, int r, int size)
{
	struct jit *j = x->j;
	u8 modrm = (u8)(0x83 | h << 3);
	int reg = size == 1 ? greg_of(greg_sz(r, 1)) : r;
	bool high = size == 1 && (greg_sz(r, 1) & 1);

	if (size >= 4) {
		e_load_greg(x, h, r, size);
		return;
	}
	if (rc_find(x, reg) >= 0) {
		e_load_greg(x, h, reg, 4);
		if (high) {				/* shr h, 8 */
			e8(j, 0xc1);
			e8(j, (u8)(0xe8 | h));
			e8(j, 8);
		}
		e8(j, 0x0f);				/* movzx h, h8/h16 */
		e8(j, size == 1 ? 0xb6 : 0xb7);
		e8(j, (u8)(0xc0 | h << 3 | h));
		return;
	}
	if (size == 1)
		e_rbx(j, "\x0f\xb6", 2, modrm, greg_sz(r, 1));
	else
		e_rbx(j, "\x0f\xb7", 2, modrm, GREG(r));
}

/* Guest register r = eax, all of the cache's width (in 64-bit code a
 * 32-bit result has its upper half clear). */
static void e_store_reg(struct jctx *x, int r)
{
	e_store_greg(x, H_EAX, r);
}

/*
 * Guest register r of size bytes = eax's low ones: a byte or a word
 * leaves the rest of the register alone; a dword clears the upper half in
 * 64-bit code, as the guest's own does.
 */
static void e_store_reg_sz(struct jctx *x, int r, int size)
{
	size_t at = greg_sz(r, size);
	int h;

	if (size >= 4) {
		e_store_reg(x, r);
		return;
	}
	/* A low byte or a word goes into the cache's copy of the whole
	 * register, which a write-back cache then has newer than c->r: a
	 * byte compare loop no longer stores a byte and loads it back. */
	if (x->wb && !(at & 1)) {
		r = greg_of(at);
		h = rc_reg_of(x, r);
		if (size == 2)
			e8(x->j, 0x66);
		e8(x->j, (u8)(0x40 | (h >= 8)));	/* mov h8/h16, al/ax */
		e8(x->j, size == 1 ? 0x88 : 0x89);
		e8(x->j, (u8)(0xc0 | (h & 7)));
		x->rc_dirty |= (u8)(1u << rc_slot(x, r));
		return;
	}
	/* The rest of the register stays: c->r must have it first. */
	rc_flush_reg(x, greg_of(at));
	rc_touched(at);
	e_op_sz(x->j, size, 0x89);			/* mov [], al/ax */
	e_field(x->j, 0x83, greg_sz(r, size));
}

/* A slot's struct tlb_info is this far after its struct tlb_entry, in
 * r13's TLB: the two are of a size. */
#define TLB_INFO_OFF ((u32)offsetof(struct tlb, info))
_Static_assert(sizeof(struct tlb_entry) == 16 &&
	       sizeof(struct tlb_info) == 16, "TLB slot parts");

/* Where r13's TLB keeps the one-page cache (struct tlb_l0) of slot. */
static s32 l0_field(int slot, size_t field)
{
	return (s32)(offsetof(struct tlb, l0) + field +
		     (size_t)slot * sizeof(struct tlb_l0));
}

/* Does the window (win_word() said it would be used) serve this access
 * of size bytes?  Asked once: the word is spent either way. */
static bool win_serves(struct jctx *x, bool write, int size)
{
	bool use = x->win_use;

	x->win_use = false;
	return use && size <= WIN_ROOM &&
	       (!write || x->win_w[x->win_ready]) &&
	       x->win_off + (u32)size <= x->win_span[x->win_ready];
}

/*
 * The inline access of size bytes to segment seg at offset eax (rax in
 * 64-bit code): straight to RAM when the page is the one that r13's TLB
 * has in its one-page cache for this kind of access (the address less
 * the page is then at most 4096 - size), else by way of the TLB proper
 * (emit_l0_stub(), after the block), else to the cold path (the whole
 * instruction, by its handler).  Leaves the host address in rsi + rcx:
 * the page and the offset in it; changes rdx too.  For flat segments
 * only, with base 0 but for FS and GS: the block's entry points r13 at an
 * empty TLB when a segment it uses is not that and plainly usable.  In
 * 64-bit code there are no segment checks, and a TLB hit also says the
 * address is canonical (the TLB holds no other), so any other address
 * takes the cold path, whose handler raises the #GP.
 */
static u8 *e_tlb_check(struct jctx *x, bool write, int size);

static void e_access(struct jctx *x, int seg, bool write, int size)
{
	struct jit *j = x->j;
	int w = x->wide ? 8 : 4;	/* e_rexw(): 64-bit addresses */
	int slot = x->l0_slot != L0_UNSET ? x->l0_slot :
		   seg == S_SS ? 0 : L0_NONE;
	u8 *again;

	if (win_serves(x, write, size)) {
		ebytes(j, "\x4c\x89\xf6", 3);		/* mov rsi, r14 */
		e8(j, 0xb9);				/* mov ecx, off */
		e32(j, x->win_off);
		return;
	}
	if (seg == S_FS || seg == S_GS) {		/* add eax, base */
		e_rexw(j, w);
		e_rbx(j, "\x03", 1, 0x83, CPU_FIELD(seg) +
		      (size_t)seg * sizeof(struct seg) +
		      offsetof(struct seg, base));
	}
	if (x->wide || slot == L0_NONE || size > 64) {
		cold_add(x, e_tlb_check(x, write, size));
		ebytes(j, "\x48\x89\xc1", 3);		/* mov rcx, rax */
		return;
	}
	again = j->p;
	ebytes(j, "\x89\xc1", 2);			/* mov ecx, eax */
	ebytes(j, "\x49\x2b\x8d", 3);		/* sub rcx, [r13+l0] */
	e32(j, (u32)l0_field(slot, write ? offsetof(struct tlb_l0, wpage) :
					   offsetof(struct tlb_l0, rpage)));
	ebytes(j, "\x48\x81\xf9", 3);			/* cmp rcx, room */
	e32(j, 0x1000 - (u32)size);
	if (x->nl0 >= ARRAY_SIZE(x->l0))
		abort();
	x->l0[x->nl0].from = e_jump_cold(JCC_JA);
	x->l0[x->nl0].back = again;
	x->l0[x->nl0].slot = (u8)slot;
	x->l0[x->nl0].write = write;
	x->l0[x->nl0].size = (u16)size;
	x->l0[x->nl0++].cold = x->ncold;
	cold_add(x, NULL);	/* from: the stub's, when it is made */
	ebytes(j, "\x49\x8b\xb5", 3);		/* mov rsi, [r13+host] */
	e32(j, (u32)l0_field(slot, offsetof(struct tlb_l0, host)));
}

/*
 * The TLB entry of the access at rax (hashed from its address) and its
 * tag, which must be the access's last byte's; returns the jump taken
 * when it is not, and else leaves the entry's addend in rsi.  An access
 * that crosses into the next page or wraps matches no entry (the tag is
 * never 0, an empty entry's).  A read compares with vpage, a write with
 * wpage (in the slot's struct tlb_info), which only a writable page of
 * RAM has (and vpage only one of RAM): one compare says the access may go
 * straight through.  Changes rcx and rdx.
 */
static u8 *e_tlb_check(struct jctx *x, bool write, int size)
{
	struct jit *j = x->j;
	int w = x->wide ? 8 : 4;
	u8 *miss;

	e_rexw(j, w);
	ebytes(j, "\x89\xc2", 2);			/* edx = the entry's */
	e_rexw(j, w);				/* offset in the TLB: */
	ebytes(j, "\xc1\xea\x08", 3);			/* eax >> 12 << 4 */
	ebytes(j, "\x81\xe2", 2);
	e32(j, (TLB_SIZE - 1) << 4);
	if (x->wide) {		/* rcx = (rax + size - 1 >> 12) + 1 */
		ebytes(j, "\x48\x8d\x48", 3);	/* lea rcx, [rax+...] */
		e8(j, (u8)(size - 1));
		ebytes(j, "\x48\xc1\xe9\x0c\x48\xff\xc1", 7);
	} else {		/* the same, rax being 32 bits wide */
		ebytes(j, "\x48\x8d\x88", 3);	/* lea rcx, [rax+...] */
		e32(j, 0x1000 + (u32)size - 1);
		ebytes(j, "\x48\xc1\xe9\x0c", 4);	/* shr rcx, 12 */
	}
	if (write) {		/* cmp [r13+rdx+info+wpage], rcx */
		ebytes(j, "\x49\x39\x8c\x15", 4);
		e32(j, TLB_INFO_OFF + offsetof(struct tlb_info, wpage));
	} else {		/* cmp [r13+rdx+vpage], rcx */
		ebytes(j, "\x49\x39\x4c\x15", 4);
		e8(j, offsetof(struct tlb_entry, vpage));
	}
	miss = e_jump_cold(JCC_JNE);
	ebytes(j, "\x49\x8b\x74\x15", 4);		/* mov rsi, [r13+rdx+ */
	e8(j, offsetof(struct tlb_entry, addend));	/* addend] */
	return miss;
}

/*
 * The way a 32-bit access goes when its page is not the one its cache
 * holds (e_access()): the TLB (e_tlb_check()), else the instruction's
 * cold path; the page then goes into the cache, and the access tries it
 * again.  A read leaves the cache's write page empty: a write to the page
 * after it comes here once more.  rax is the address, and stays so.
 */
static void emit_l0_stub(struct jctx *x, u32 k)
{
	struct jit *j = x->j;
	int slot = x->l0[k].slot;
	bool write = x->l0[k].write;

	set_rel32(x->l0[k].from, j->p);
	x->cold[x->l0[k].cold].from = e_tlb_check(x, write, x->l0[k].size);
	ebytes(j, "\x48\x89\xc1", 3);			/* mov rcx, rax */
	ebytes(j, "\x48\x81\xe1", 3);		/* and rcx, ~0xfff */
	e32(j, ~0xfffu);
	ebytes(j, "\x49\x89\x8d", 3);		/* mov [r13+rpage], */
	e32(j, (u32)l0_field(slot, offsetof(struct tlb_l0, rpage)));
	if (write) {
		ebytes(j, "\x49\x89\x8d", 3);	/* mov [r13+wpage], rcx */
	} else {		/* rdx, the entry's offset, is done with */
		e_movabs(j, H_EDX, TLB_L0_NONE);
		ebytes(j, "\x49\x89\x95", 3);	/* mov [r13+wpage], rdx */
	}
	e32(j, (u32)l0_field(slot, offsetof(struct tlb_l0, wpage)));
	ebytes(j, "\x48\x8d\x14\x0e", 4);	/* lea rdx, [rsi+rcx] */
	ebytes(j, "\x49\x89\x95", 3);		/* mov [r13+host], rdx */
	e32(j, (u32)l0_field(slot, offsetof(struct tlb_l0, host)));
	e_jump(j, JMP, x->l0[k].back);
}

/*
 * Windows.  32-bit code keeps its locals on the stack and reaches them as
 * [ESP + disp], a dozen times in a block, and a structure or an array
 * through a register that holds its address, [EBX + disp]: each access
 * goes through the TLB (or its one-page cache), a compare, a jump and a
 * load of the page's host address.  But within a block such a register
 * changes little.  A stretch of instructions over which it does not
 * change, or only by a PUSH or POP for ESP, whose amounts are known, is
 * a key; every [reg + disp] of a key is at a known distance from the
 * register's value at the key's start.  So the block checks once,
 * through the TLB, before the first access of a key that makes two or
 * more, that all of them lie in one page (one that may be written if any
 * of them writes: dirty, no code), and keeps the host address of the
 * lowest in r14, the window.  Each access is then r14 plus a constant: no
 * compare, no jump, no load, and none waits for the register.  There is
 * one window at a time: a key takes it when the one before has ended.
 *
 * r14 holds while the block runs: helpers keep it (the ABI's), nothing
 * in a block changes what a page maps to (what does, a CR3 or CR0 write,
 * INVLPG, a change of CPL, ends the block or leaves by a fault), and a
 * page cannot gain code while a block runs (only translate() does that,
 * between blocks).  Where the TLB has no such page, or the window runs
 * over a page's end, the instruction runs by its handler and the block
 * leaves (emit_win_stub()).  A block whose windows fail WIN_FAILS times
 * is made again without any (win_give_up()).
 */
static u32 reg_bit(int r, int size);

/* The guest registers (a bit each) that di may write; all of them where
 * not sure. */
static u32 win_regs_written(const struct dinsn *di)
{
	bool mem = di->rm == DC_NONE;

	switch (di->kind) {
	case DK_ALU_M_R:
	case DK_ALU_M_I:
	case DK_TEST_RR:
	case DK_TEST_RI:
	case DK_TEST_M_R:
	case DK_TEST_M_I:
	case DK_STORE:
	case DK_STORE_I:
	case DK_SHIFT_M:
	case DK_INCDEC_M:
	case DK_JCC:
	case DK_JMP:
	case DK_NOP:
	case DK_FENCE:
	case DK_CLD_STD:
	case DK_CLI_STI:
		return 0;
	case DK_LOAD:
	case DK_MOV_R_RM:
	case DK_ALU_R_M:
	case DK_ALU_R_RM:
	case DK_INC:
	case DK_DEC:
		return reg_bit(di->reg, di->size);
	case DK_MOV_RM_R:
	case DK_MOV_RI:
	case DK_ALU_RM_R:
	case DK_ALU_RI:
		return reg_bit(di->rm, di->size);
	case DK_SHIFT_RI:
	case DK_SHIFT_CL:
	case DK_NOT:
	case DK_NEG:
	case DK_BSWAP:
	case DK_SHXD:
		return mem ? 0 : reg_bit(di->rm, di->size);
	case DK_SETCC_R:
		return reg_bit(di->rm, 1);
	case DK_BT:
		return mem || !(di->op & 3) ? 0 : reg_bit(di->rm, di->size);
	case DK_REP_STR:
		return reg_bit(R_ECX, 4) | reg_bit(R_ESI, 4) | reg_bit(R_EDI, 4);
	case DK_LEA:
	case DK_LOADX:
	case DK_MOVX_R:
	case DK_IMUL:
	case DK_IMUL3:
	case DK_CMOV_RR:
	case DK_CMOV_RM:
	case DK_BITSCAN:
	case DK_XCHG_M:
		return reg_bit(di->reg, 4);
	case DK_MUL:
		return reg_bit(R_EAX, 4) | reg_bit(R_EDX, 4);
	case DK_CMPXCHG_M:
	case DK_X87:				/* FNSTSW AX */
		return reg_bit(R_EAX, 4);
	case DK_PUSH:
	case DK_PUSH_I:
	case DK_PUSH_M:
	case DK_PUSHF:
	case DK_CALLREL:
	case DK_RET:
	case DK_CALL_IND:
	case DK_JMP_IND:
		return reg_bit(R_ESP, 4);
	case DK_POP:
		return reg_bit(R_ESP, 4) | reg_bit(di->reg, 4);
	case DK_LEAVE:
		return reg_bit(R_ESP, 4) | reg_bit(R_EBP, 4);
	}
	return 0xff;
}

/* ESP's move by di where a key of ESP follows it: a PUSH or POP of 4
 * bytes (of another register than ESP). */
static bool esp_moves(const struct dinsn *di, s32 *by)
{
	if (di->size != 4 || di->flow != DF_NEXT)
		return false;
	if ((di->kind == DK_PUSH && di->reg != R_ESP) ||
	    di->kind == DK_PUSH_I) {
		*by = -4;
		return true;
	}
	if (di->kind == DK_POP && di->reg != R_ESP) {
		*by = 4;
		return true;
	}
	return false;
}

/* Is di's operand [reg + disp] in a flat segment (SS, DS or ES), of a
 * form with one access to it, which a window may serve?  And may the
 * form write it? */
static bool win_operand(const struct dinsn *di, bool *write)
{
	if (di->rm != DC_NONE || di->base >= 8 || di->index != DC_NONE ||
	    (di->seg != S_SS && di->seg != S_DS && di->seg != S_ES))
		return false;
	*write = true;
	switch (di->kind) {
	case DK_LOAD:
	case DK_LOADX:
	case DK_ALU_R_M:
	case DK_TEST_M_R:
	case DK_TEST_M_I:
	case DK_CMOV_RM:
	case DK_IMUL:
	case DK_IMUL3:
	case DK_MUL:
		*write = false;
		return true;
	case DK_ALU_M_R:
	case DK_ALU_M_I:
		*write = di->op != 7;
		return true;
	case DK_STORE:
	case DK_STORE_I:
	case DK_INCDEC_M:
	case DK_SHIFT_M:
	case DK_NOT:
	case DK_NEG:
	case DK_XCHG_M:
	case DK_CMPXCHG_M:
	case DK_X87:
		return true;
	}
	return false;
}

/* A new key for guest register r, alive to the block's end so far;
 * cnt[] and end[] are win_plan()'s. */
static u32 win_new_key(struct jctx *x, u32 r, u32 *nkey, u32 *cnt,
		       u32 *end)
{
	u32 k = (*nkey)++;

	if (k >= WIN_KEYS)
		abort();
	x->win_reg[k] = (u8)r;
	x->win_w[k] = false;
	cnt[k] = 0;
	end[k] = x->b->n;
	return k;
}

/* The keys of the block, and which of them take the window, where. */
static void win_plan(struct jctx *x)
{
	u32 key[8], nkey = 0, i, r, k, written;
	s32 delta = 0, by, off, hi[WIN_KEYS];
	u32 cnt[WIN_KEYS], end[WIN_KEYS];
	bool write;
	int active = -1;

	x->win_ready = -1;
	x->nwin = 0;
	for (r = 0; r < 8; r++)
		key[r] = win_new_key(x, r, &nkey, cnt, end);
	for (i = 0; i < x->b->n; i++) {
		const struct dinsn *di = &x->b->d[i];

		/* A jump back may come here with other values: a key
		 * with an access before it ends, if its register may be
		 * written on the way round (one without has taken no
		 * window yet, and its first access is after; one whose
		 * register nothing writes lasts to the end, and so does
		 * its window). */
		for (r = 0; r < 8 && x->head[i]; r++) {
			if (!cnt[key[r]] || !(x->head_writes[i] & 1u << r))
				continue;
			end[key[r]] = i - 1;
			key[r] = win_new_key(x, r, &nkey, cnt, end);
			if (r == R_ESP)
				delta = 0;
		}
		x->win_key[i] = -1;
		if (x->win && win_operand(di, &write)) {
			k = key[di->base];
			off = (di->base == R_ESP ? delta : 0) + (s32)di->disp;
			if (!cnt[k] || off < x->win_lo[k])
				x->win_lo[k] = off;
			if (!cnt[k] || off + WIN_ROOM > hi[k])
				hi[k] = off + WIN_ROOM;
			cnt[k]++;
			x->win_w[k] |= write;
			x->win_key[i] = (s16)k;
			x->win_delta[i] = di->base == R_ESP ? delta : 0;
		}
		written = win_regs_written(di);
		for (r = 0; r < 8; r++) {
			if (!(written & 1u << r))
				continue;
			if (r == R_ESP && esp_moves(di, &by)) {
				delta += by;
				continue;
			}
			end[key[r]] = i;
			key[r] = win_new_key(x, r, &nkey, cnt, end);
			if (r == R_ESP)
				delta = 0;
		}
	}
	for (k = 0; k < nkey; k++)
		x->win_span[k] = cnt[k] ? (u32)(hi[k] - x->win_lo[k]) : 0;
	/* A key takes the window at its first access once the last key to
	 * take it has ended; its accesses after that use it. */
	for (i = 0; i < x->b->n; i++) {
		x->win_ok[i] = false;
		if (active >= 0 && i > end[active])
			active = -1;
		k = (u32)x->win_key[i];
		if (x->win_key[i] < 0 || cnt[k] < 2 ||
		    x->win_span[k] > WIN_SPAN_MAX)
			continue;
		if (active < 0)
			active = (int)k;
		x->win_ok[i] = active == (int)k;
	}
}

/*
 * Does instruction i reach memory through a window taken before it, as
 * r14 plus a constant (win_word() and win_serves() will say so when it
 * is made)?  Then its access cannot fault and changes no host flag.  For
 * the loads, stores and ALU forms that flags_liveness() and pend_safe()
 * ask about; the first access of a key takes the window by a check,
 * which may fail, and is never such.
 */
static bool win_safe(const struct jctx *x, u32 i)
{
	const struct dinsn *di = &x->b->d[i];
	u32 k, m, off;
	bool write;

	if (x->wide || !x->win_ok[i])
		return false;
	k = (u32)x->win_key[i];
	for (m = 0; m < i; m++)
		if (x->win_ok[m] && x->win_key[m] == x->win_key[i])
			break;
	if (m == i || !win_operand(di, &write))
		return false;
	switch (di->kind) {
	case DK_LOAD:
	case DK_LOADX:
	case DK_ALU_R_M:
	case DK_TEST_M_R:
	case DK_TEST_M_I:
	case DK_ALU_M_R:
	case DK_ALU_M_I:
	case DK_STORE:
	case DK_STORE_I:
		break;
	default:
		return false;
	}
	off = (u32)(x->win_delta[i] + (s32)di->disp - x->win_lo[k]);
	return di->size <= WIN_ROOM && (!write || x->win_w[k]) &&
	       off + (u32)di->size <= x->win_span[k];
}

/*
 * e_ea()'s word to e_access(): this operand goes through the window.
 * True where the address in eax is not wanted either: these forms use
 * only what e_access() leaves (rsi + rcx), and it will take the window.
 */
static bool win_word(struct jctx *x, const struct dinsn *di)
{
	u32 i = x->i, k;

	x->win_use = false;
	if (x->wide || i >= x->b->n || di != &x->b->d[i] || !x->win_ok[i] ||
	    x->win_ready != x->win_key[i])
		return false;
	k = (u32)x->win_key[i];
	x->win_use = true;
	x->win_off = (u32)(x->win_delta[i] + (s32)di->disp - x->win_lo[k]);
	if (di->size > WIN_ROOM || x->win_off + di->size > x->win_span[k])
		return false;
	switch (di->kind) {
	case DK_LOAD:
	case DK_LOADX:
	case DK_ALU_R_M:
	case DK_TEST_M_R:
	case DK_TEST_M_I:
		return true;
	case DK_STORE:
	case DK_STORE_I:
	case DK_ALU_M_R:
	case DK_ALU_M_I:
		return x->win_w[k];
	}
	return false;
}

/*
 * Before instruction x->i, the first of its key to use the window: r14 =
 * the host address of the window's first byte, reg + low, if all of it
 * is in one page that the TLB has (for writing, if the key writes).
 */
static void emit_win_check(struct jctx *x)
{
	struct jit *j = x->j;
	u32 i = x->i, k = (u32)x->win_key[i];
	int reg = rc_reg_of(x, x->win_reg[k]);
	s32 low = x->win_lo[k] - x->win_delta[i];

	if (x->nwin >= ARRAY_SIZE(x->winstub))
		abort();
	e_rex(j, false, H_EAX, 0, reg);			/* lea eax, */
	e8(j, 0x8d);					/* [reg+low] */
	e8(j, (u8)(0x80 | H_EAX << 3 | (reg & 7)));
	e32(j, (u32)low);
	x->winstub[x->nwin].from = e_tlb_check(x, x->win_w[k],
					       (int)x->win_span[k]);
	x->winstub[x->nwin++].cold = x->ncold;
	cold_add(x, NULL);	/* from: the stub's, when it is made */
	x->cold[x->ncold - 1].leave = true;
	ebytes(j, "\x4c\x8d\x34\x06", 4);		/* lea r14, [rsi+rax] */
	x->win_ready = (int)k;
}

/*
 * A window's check that failed: the block gives up one more time, and
 * its instruction runs by its handler, then it leaves (the cold path).
 */
static void emit_win_stub(struct jctx *x, u32 k)
{
	struct jit *j = x->j;
	u8 *under;

	set_rel32(x->winstub[k].from, j->p);
	e_movabs(j, H_EAX, (u64)(uintptr_t)&x->b->win_fails);
	ebytes(j, "\x83\x00\x01", 3);		/* add dword [rax], 1 */
	ebytes(j, "\x83\x38", 2);			/* cmp dword [rax], */
	e8(j, WIN_FAILS);
	under = e_jump(j, JCC_JB, NULL);
	e_movabs(j, H_EAX, (u64)(uintptr_t)x->b);
	e_rbx(j, "\x48\x89", 2, 0x83, CPU_FIELD(jit_win_drop));
	set_rel32(under, j->p);
	x->cold[x->winstub[k].cold].from = e_jump(j, JMP, NULL);
}

/* The cold paths of instruction x->i from its first on: their handlers
 * leave the flags in memory, and their stubs load them into the host's
 * (e_host_flags_in()) before coming back. */
static void cold_host_flags(struct jctx *x, u32 first)
{
	for (; first < x->ncold; first++)
		x->cold[first].host_flags = true;
}

/*
 * The host's flags are the guest's here, at the end of instruction x->i
 * (on its cold paths' way too, cold_host_flags()), for the next form to
 * use as they are, until it emits anything else.
 */
static void host_flags_valid(struct jctx *x, u32 first)
{
	cold_host_flags(x, first);
	x->host_flags_at = x->j->p;
}

/* e_access() of the stack at the new ESP in eax (rax), which it also
 * leaves in r8d (r8) for the form to store when the access is done. */
static void e_access_esp(struct jctx *x, bool write, int size)
{
	ebytes(x->j, x->wide ? "\x49\x89\xc0" : "\x41\x89\xc0", 3);
	x->l0_slot = 0;
	e_access(x, S_SS, write, size);			/* r8 = rax */
}

/* The cold paths just made now come back here. */
static void cold_back_here(struct jctx *x, u32 from)
{
	for (; from < x->ncold; from++) {
		x->cold[from].back = x->j->p;
		memcpy(x->cold[from].rc, x->rc_reg, sizeof(x->rc_reg));
	}
}

/* Lazy flags of a 32-bit op of kind (LF_*) on eax (src1), ecx (src2). */
static void e_flags_in(struct jit *j, int kind)
{
	if (kind != LF_LOGIC) {
		e_store_q(j, H_EAX, CPU_FIELD(lf_src1));
		e_store_q(j, H_ECX, CPU_FIELD(lf_src2));
	}
}

static void e_flags_out(struct jit *j, int kind, int size)
{
	e_store_q(j, H_EAX, CPU_FIELD(lf_res));
	e_store_imm(j, CPU_FIELD(lf_op), LF(kind, size));
}

static void e_flags_from_host(struct jctx *x);
static void e_flags_save(struct jctx *x);
static void e_flags_save_code(struct jit *j);
static void e_host_cf(struct jctx *x);
static bool e_flags_known(struct jctx *x);

/* ADC and SBB read CF; the other six do not. */
static bool alu_reads_cf(int op)
{
	return op == 2 || op == 3;
}

/* OR, AND and XOR: logic forms, whose flags come from the result alone
 * (AF clear, in alu.c). */
static bool alu_is_logic(int op)
{
	return op == 1 || op == 4 || op == 6;
}

/*
 * Flags kept in the host's alone.  A form whose flags are seen need not
 * store them when the forms after it neither change the host's flags nor
 * have a way out before the next that sets them all: moves between
 * registers, SETcc, CMOVcc between registers (emit_setcc_cmov(): the 4
 * and 8-byte forms, the only ones exec_fast.c marks) and Jcc, whose taken
 * way stores them on its way out (emit_side_exits()); in 32-bit code
 * also LEA, MOVZX and MOVSX, and INC and DEC (which update the host's as
 * the guest's).  The first form that is none of these stores them before
 * it begins (flags_settle(): LAHF and SETO, two stores), as does the
 * block's end; not if nothing sees them before the next form that sets
 * them all (flags_settle_before()).  A CMP, a Jcc on it and two INCs, a
 * string loop's turn, then store the flags once where they stored them
 * three times.
 */
static bool x87_transparent(const struct dinsn *di);

static bool pend_safe(const struct jctx *x, u32 i)
{
	const struct dinsn *di = &x->b->d[i];

	if (i >= x->b->n || (i + 1 == x->b->n && x->b->straddle) ||
	    (i == x->b->thunk_i && x->b->thunk_host) ||
	    (x->x87_pending && !x87_transparent(di)))	/* e_x87_flush() */
		return false;
	if (win_safe(x, i))	/* moves of the window (e_win_rr()) */
		return di->kind == DK_STORE_I ||
		       ((di->kind == DK_LOAD || di->kind == DK_STORE) &&
			di->size == 4);
	switch (di->kind) {
	case DK_JCC:
	case DK_JMP:
	case DK_NOP:
	case DK_SETCC_R:
	case DK_CMOV_RR:	/* emit_setcc_cmov() */
		return true;
	case DK_MOV_RM_R:
	case DK_MOV_R_RM:
		return di->size >= 4;	/* bytes may need a shift */
	case DK_MOV_RI:
		return di->size == 4;
	case DK_LEA:			/* (64-bit code's are its own) */
		return !x->wide;
	case DK_MOVX_R:			/* but not out of AH..BH */
		return !x->wide &&
		       (di->size == 2 || !(greg_sz(di->rm, 1) & 1));
	case DK_INC:
	case DK_DEC:
		return x->flags_live[i] && !x->deferred[i];
	}
	return false;
}

/* May the form being made leave its flags in the host's alone? */
static bool flags_pend(struct jctx *x)
{
	return pend_safe(x, x->i + 1);
}

/*
 * Store flags kept in the host's alone, which they still are.  After a
 * logic form the guest's AF is clear (alu.c), where the host's is left
 * undefined: it is cleared in what was stored, and the host's flags are
 * then no longer known to be the guest's.
 */
static void e_pend_store(struct jit *j, bool logic)
{
	e_flags_save_code(j);
	if (logic) {				/* and [lf_res + 1], ~AF */
		e_rbx(j, "\x80", 1, 0xa3, CPU_FIELD(lf_res) + 1);
		e8(j, (u8)~F_AF);
	}
}

static void flags_settle(struct jctx *x)
{
	if (!x->pend)
		return;
	e_pend_store(x->j, x->pend_logic);
	x->flags = FK_HOST;
	x->host_flags_at = x->pend_logic ? NULL : x->j->p;
	x->pend = false;
}

/*
 * Before instruction i, which would change the host's flags: store the
 * guest's, kept in the host's alone, unless nothing sees them before
 * what sets them all again (flags_live[] of the one before i).  A CMP,
 * a Jcc and another CMP then store nothing: the Jcc's taken way out
 * stores them, as it always does.
 */
static void flags_settle_before(struct jctx *x, u32 i)
{
	if (i > 0 && !x->flags_live[i - 1]) {
		x->pend = false;
		x->flags = FK_UNKNOWN;
		return;
	}
	flags_settle(x);
}

/*
 * Before an ADC or SBB loads its operands: the guest's CF into r9b,
 * where the loads and the inline access, which change the host's flags,
 * leave it (they use rax, rcx, rdx and rsi; a cold path runs the whole
 * instruction, and no carry is wanted after it).
 */
static void e_carry_in(struct jctx *x, int op)
{
	if (!alu_reads_cf(op))
		return;
	e_host_cf(x);
	ebytes(x->j, "\x41\x0f\x92\xc1", 4);		/* setc r9b */
}

/*
 * ADC or SBB eax, ecx (rax, rcx), CF from r9b (e_carry_in()); the flags,
 * all of them the host's, are saved as they are (e_flags_save()).  A
 * memory form's cold path leaves them lazy in its handler's way instead,
 * so after one the translator no longer knows which it has.
 */
static void e_adc_sbb(struct jctx *x, int op, int size)
{
	struct jit *j = x->j;

	ebytes(j, "\x41\x0f\xba\xe1\x00", 5);		/* bt r9d, 0 */
	e_op_sz(j, size, op == 2 ? 0x11 : 0x19);	/* adc/sbb eax, ecx */
	e8(j, 0xc8);
	if (!x->flags_live[x->i]) {
		x->flags = FK_UNKNOWN;
		return;
	}
	ebytes(j, "\x49\x89\xc1", 3);			/* mov r9, rax */
	e_flags_save(x);
	ebytes(j, "\x4c\x89\xc8", 3);			/* mov rax, r9 */
	x->alu_host_flags = true;
	if (x->ncold && x->cold[x->ncold - 1].i == x->i)
		x->flags = FK_UNKNOWN;
}

/* eax = eax op ecx at size (al, cl for 1; rax, rcx for 8), with the
 * flags, for the eight ALU operations (ADC and SBB after e_carry_in()).
 * The operands come zero-extended, and so does the result. */
static bool e_alu(struct jctx *x, int op, int size)
{
	static const u8 host_op[8] = { 0x01, 0x09, 0, 0, 0x21, 0x29, 0x31,
				       0x29 };
	static const u8 kind[8] = { LF_ADD, LF_LOGIC, 0, 0, LF_LOGIC, LF_SUB,
				    LF_LOGIC, LF_SUB };
	static const u8 fk[8] = { FK_ADD, FK_LOGIC, 0, 0, FK_LOGIC, FK_SUB,
				  FK_LOGIC, FK_SUB };

	const struct dinsn *di = &x->b->d[x->i];
	bool live = x->flags_live[x->i], pend;

	x->alu_host_flags = false;
	if (alu_reads_cf(op)) {
		e_adc_sbb(x, op, size);
		return true;
	}
	/* (not for the others that use it: CMPXCHG, SCAS) */
	pend = live && (di->kind == DK_ALU_RM_R || di->kind == DK_ALU_R_RM ||
			di->kind == DK_ALU_RI || di->kind == DK_ALU_R_M ||
			di->kind == DK_ALU_M_R || di->kind == DK_ALU_M_I) &&
	       flags_pend(x);
	if (live && !pend)
		e_flags_in(x->j, kind[op]);
	e_op_sz(x->j, size, host_op[op]);		/* op eax, ecx */
	e8(x->j, 0xc8);
	if (live && !pend)
		e_flags_out(x->j, kind[op], size);
	x->flags = pend ? FK_PEND : live ? fk[op] : FK_UNKNOWN;
	x->fsize = size;
	x->alu_host_flags = live;
	x->pend = pend;
	x->pend_logic = kind[op] == LF_LOGIC;
	return op != 7;
}

/* TEST: the flags of eax & (imm or r[reg]) at the operand's size; rax
 * for size 8, where imm is sign-extended.  eax comes zero-extended from a
 * byte or a word, and an AND of its low ones leaves it so. */
static void e_test(struct jctx *x, const struct dinsn *di, bool imm)
{
	struct jit *j = x->j;
	bool live = x->flags_live[x->i], pend = live && flags_pend(x);

	if (imm) {
		e_op_sz(j, di->size, 0x25);		/* and eax, imm */
		if (di->size == 1)
			e8(j, (u8)di->imm);
		else if (di->size == 2)
			ebytes(j, (const char *)&(u16){ (u16)di->imm }, 2);
		else
			e32(j, (u32)di->imm);
	} else {					/* and eax, ecx */
		e_loadz_reg(x, H_ECX, di->reg, di->size);
		e_op_sz(j, di->size, 0x21);
		e8(j, 0xc8);
	}
	if (live && !pend)
		e_flags_out(j, LF_LOGIC, di->size);
	x->flags = pend ? FK_PEND : live ? FK_LOGIC : FK_UNKNOWN;
	x->fsize = di->size;
	x->alu_host_flags = live;
	x->pend = pend;
	x->pend_logic = true;
}


static void e_ea_wide(struct jctx *x, const struct dinsn *di);
static void e_loadx(struct jit *j, const struct dinsn *di);

/* The effective address of di's memory operand into eax (rax in 64-bit
 * code, where it is 64 bits wide). */
static void e_ea_any(struct jctx *x, const struct dinsn *di)
{
	if (x->wide)
		e_ea_wide(x, di);
	else
		e_ea(x, di);
}

/* ecx (rcx) = an ALU form's immediate at size: sign-extended to 64 bits
 * for 8, else zero-extended from the operand's size, as the lazy flags
 * keep values. */
static void e_imm_ecx(struct jit *j, const struct dinsn *di, int size)
{
	if (size == 8) {				/* mov rcx, simm32 */
		ebytes(j, "\x48\xc7\xc1", 3);
		e32(j, (u32)di->imm);
	} else {					/* mov ecx, imm */
		e8(j, 0xb9);
		e32(j, (u32)(di->imm & size_mask(size)));
	}
}

/* The host's arithmetic flags = those of the EFLAGS value in eax: OF by
 * an ADD that overflows when bit 11 (moved to 31) is set, the rest by
 * SAHF, whose AH has SF, ZF, AF, PF and CF where EFLAGS' low byte has
 * them.  No POPF, which is slow. */
static void e_sahf_eflags(struct jit *j)
{
	ebytes(j, "\x89\xc1\xc1\xe1\x14", 5);		/* ecx = eax << 20 */
	ebytes(j, "\x81\xc1", 2);			/* add ecx, 1 << 31 */
	e32(j, 0x80000000u);
	ebytes(j, "\x88\xc4\x9e", 3);			/* mov ah, al; sahf */
}

/*
 * INC or DEC of memory: the host's own on the operand, which leaves CF
 * alone, so the guest's CF goes into the host's first (through r9b, as
 * for ADC) when the flags are seen; they are saved as they come out.
 */
static void e_incdec_m(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	bool live = x->flags_live[x->i];

	if (live)
		e_carry_in(x, 2);
	e_ea_any(x, di);
	e_access(x, di->seg, true, di->size);
	if (live)					/* bt r9d, 0 */
		ebytes(j, "\x41\x0f\xba\xe1\x00", 5);
	e_op_sz(j, di->size, 0xff);			/* inc/dec [] */
	e_at(j, di->op ? 1 : 0, AT_RSI_RCX);
	if (live)
		e_flags_save(x);
	x->flags = FK_UNKNOWN;	/* the cold path's handler: lazy flags */
}

static bool emit_shift_flags(struct jctx *x, const struct dinsn *di, u8 ext,
			     u32 count, bool mem);

/* ROL ROR RCL RCR SHL SHR SAL SAR as the ModRM of the host's C1 or D3
 * /n on eax; 0: none written inline (RCL and RCR read CF). */
static const u8 shift_ext[8] = { 0xc0, 0xc8, 0, 0, 0xe0, 0xe8, 0xe0, 0xf8 };

/*
 * A shift or rotate of memory by a constant (any size): unseen flags,
 * the host's own on the operand; seen, SHL, SHR and SAR as on a register
 * (emit_shift_flags()).  A count of 0 (which still checks the operand
 * may be written), a count that shifts a byte or word out whole, RCL, RCR
 * and rotates with their flags seen go to the handler.
 */
static bool emit_shift_m(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	bool live = x->flags_live[x->i];
	u32 count = (u32)di->imm;

	if (!count || !shift_ext[di->op] || (live && di->op < 4) ||
	    count >= (u32)di->size * 8)	/* all out: alu.c's own rules */
		return false;
	e_ea_any(x, di);
	e_access(x, di->seg, true, di->size);
	ebytes(j, "\x48\x01\xce", 3);			/* rsi += rcx */
	if (live)
		return emit_shift_flags(x, di, shift_ext[di->op], count, true);
	e_op_sz(j, di->size, 0xc1);			/* op [rsi], count */
	e8(j, (u8)((shift_ext[di->op] & 0x38) | 0x06));
	e8(j, (u8)count);
	x->flags = FK_UNKNOWN;
	return true;
}

/*
 * PUSH and POP of a register, an immediate or memory, of 4 bytes (8 in
 * 64-bit code), through the TLB; ESP moves after the access, from r8
 * (which e_access() set), and a POP ESP then loads the popped value over
 * it.  PUSH of memory reads first (into r9), then writes.
 */
static void e_fold(struct jctx *x);

/*
 * PUSHF (PUSHFQ): the flags made whole in c->eflags first (e_fold(), as
 * cpu_get_eflags() would), then pushed without VM and RF, as h_pushf()
 * pushes them (its cold path, which folds them again: no change).
 */
static void e_pushf(struct jctx *x)
{
	struct jit *j = x->j;
	int w = x->wide ? 8 : 4;

	e_fold(x);
	e_rbx(j, "\x44\x8b", 2, 0x8b, CPU_FIELD(eflags)); /* mov r9d, [] */
	ebytes(j, "\x41\x81\xe1", 3);			/* and r9d, ~ */
	e32(j, ~(u32)(F_VM | F_RF));
	e_load_greg(x, H_EAX, R_ESP, w);
	e_rexw(j, w);					/* sub eax, w */
	ebytes(j, "\x83\xe8", 2);
	e8(j, (u8)w);
	e_access_esp(x, true, w);
	ebytes(j, "\x4c\x89\xca", 3);			/* mov rdx, r9 */
	e_store_at(j, H_EDX, w, AT_RSI_RCX);
	e_store_greg(x, 8, R_ESP);			/* ESP = r8 */
}

static void e_push_pop(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	int w = x->wide ? 8 : 4;

	if (di->kind == DK_PUSH_M) {
		e_ea_any(x, di);
		e_access(x, di->seg, false, w);
		e_loadz_at(j, H_EDX, w, AT_RSI_RCX);
		ebytes(j, "\x49\x89\xd1", 3);		/* mov r9, rdx */
	}
	e_load_greg(x, H_EAX, R_ESP, w);
	if (di->kind == DK_POP) {
		e_access_esp(x, false, w);
		e_loadz_at(j, H_EAX, w, AT_RSI_RCX);
		e8(j, x->wide ? 0x49 : 0x41);		/* add r8, w */
		ebytes(j, "\x83\xc0", 2);
		e8(j, (u8)w);
	} else {
		e_rexw(j, w);				/* sub eax, w */
		ebytes(j, "\x83\xe8", 2);
		e8(j, (u8)w);
		e_access_esp(x, true, w);
		if (di->kind == DK_PUSH) {
			e_load_greg(x, H_EDX, di->reg, w);
		} else if (di->kind == DK_PUSH_M) {	/* mov rdx, r9 */
			ebytes(j, "\x4c\x89\xca", 3);
		} else {				/* mov edx, imm */
			e_rexw(j, w);
			ebytes(j, "\xc7\xc2", 2);
			e32(j, (u32)di->imm);
		}
		e_store_at(j, H_EDX, w, AT_RSI_RCX);
	}
	e_store_greg(x, 8, R_ESP);			/* ESP = r8 */
	if (di->kind == DK_POP)
		e_store_reg(x, di->reg);
}

/* A lazy-flag operand from host register h (a cache or ecx) at size:
 * zero-extended, as the lazy flags keep it, which in 64-bit code a
 * cached register of 4 bytes is not (through edx). */
static void e_flag_src(struct jctx *x, int h, size_t field, int size)
{
	if (size == 4 && x->wide && h != H_ECX) {
		e_mov_rr(x->j, H_EDX, h, 4);
		h = H_EDX;
	}
	e_rc_q(x, h, field);
}

/* test dst, imm32 (sign-extended at size 8) */
static void e_test_ri(struct jit *j, int dst, u32 imm, int size)
{
	e_rex(j, size == 8, 0, 0, dst);
	e8(j, 0xf7);
	e8(j, (u8)(0xc0 | (dst & 7)));
	e32(j, imm);
}

/* op dst, imm32 (sign-extended at size 8): ALU operation number ext. */
static void e_op_ri(struct jit *j, int ext, int dst, u32 imm, int size)
{
	e_rex(j, size == 8, 0, 0, dst);
	e8(j, 0x81);
	e8(j, (u8)(0xc0 | ext << 3 | (dst & 7)));
	e32(j, imm);
}

/*
 * The ALU core on cached registers: guest register dst op= the source at
 * 4 or 8 bytes, which is host register sr (a cache, or ecx holding a
 * value from memory, zero-extended) or with sr -1 the immediate.  With
 * keep (CMP, TEST), dst is not written.  The flags go lazily to memory
 * where seen, from the registers themselves.
 */
static void e_alu_cached(struct jctx *x, const struct dinsn *di, int op,
			 int dst, int sr, bool keep)
{
	static const u8 host_op[8] = { 0x01, 0x09, 0, 0, 0x21, 0x29, 0x31,
				       0x29 };
	static const u8 kind[8] = { LF_ADD, LF_LOGIC, 0, 0, LF_LOGIC, LF_SUB,
				    LF_LOGIC, LF_SUB };
	static const u8 fk[8] = { FK_ADD, FK_LOGIC, 0, 0, FK_LOGIC, FK_SUB,
				  FK_LOGIC, FK_SUB };
	struct jit *j = x->j;
	int size = di->size, d = rc_reg_of(x, dst), res = d;
	bool live = x->flags_live[x->i] && !x->deferred[x->i];

	x->flags = FK_UNKNOWN;
	if (live && flags_pend(x)) {
		x->flags = FK_PEND;
		x->pend = true;
		x->pend_logic = kind[op] == LF_LOGIC;
		live = false;		/* nothing stored */
	}
	if (keep && !live) {		/* CMP or TEST for the host's flags */
		if (sr >= 0)
			e_op_rr(j, op == 7 ? 0x39 : 0x85, d, sr, size);
		else if (op == 7)
			e_op_ri(j, 7, d, (u32)di->imm, size);
		else					/* test d, imm */
			e_test_ri(j, d, (u32)di->imm, size);
		return;
	}
	if (live && kind[op] != LF_LOGIC) {
		e_flag_src(x, d, CPU_FIELD(lf_src1), size);
		if (sr < 0) {
			e_imm_ecx(j, di, size);
			sr = H_ECX;
		}
		e_flag_src(x, sr, CPU_FIELD(lf_src2), size);
	}
	if (keep) {
		e_mov_rr(j, H_EAX, d, size);
		res = H_EAX;
	}
	if (sr >= 0)
		e_op_rr(j, host_op[op], res, sr, size);
	else
		e_op_ri(j, op, res, (u32)di->imm, size);
	if (live) {
		e_rc_q(x, res, CPU_FIELD(lf_res));
		e_store_imm(j, CPU_FIELD(lf_op), LF(kind[op], size));
		x->flags = fk[op];
		x->fsize = size;
	}
	if (!keep)
		e_rc_spill(x, d, dst);
}

/*
 * The ALU (but ADC and SBB), TEST and MOV between registers or with an
 * immediate, at 4 or 8 bytes, worked on the cached registers in place:
 * ADD EAX, ECX is the host's ADD of the two caches and a store of the
 * result, and its flags, where seen, go lazily to memory from there.  CMP
 * and TEST work on a copy in eax.  The host's flags are then the guest's
 * for a Jcc (x->host_flags_at), until the next form changes them.
 */
static bool emit_reg_cached(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	int size = di->size, op = di->op, dst = di->rm, src = -1;
	int d, sr = -1;
	bool keep;

	if (size < 4)
		return false;
	switch (di->kind) {
	case DK_MOV_RM_R:
	case DK_MOV_R_RM:
		dst = di->kind == DK_MOV_RM_R ? di->rm : di->reg;
		sr = rc_reg_of(x, di->kind == DK_MOV_RM_R ? di->reg : di->rm);
		d = rc_host[rc_take(x, dst)];
		if (d != sr || (x->wide && size == 4))	/* clears the top */
			e_op_rr(j, 0x89, d, sr, size);
		e_rc_spill(x, d, dst);
		return true;
	case DK_MOV_RI:
		if (size != 4)
			return false;
		d = rc_host[rc_take(x, dst)];
		if (d >= 8)				/* mov d, imm */
			e8(j, 0x41);
		e8(j, (u8)(0xb8 + (d & 7)));
		e32(j, (u32)di->imm);
		e_rc_spill(x, d, dst);
		return true;
	case DK_ALU_R_RM:
		dst = di->reg;
		src = di->rm;
		break;
	case DK_ALU_RM_R:
		src = di->reg;
		break;
	case DK_TEST_RR:
		src = di->reg;
		op = 4;
		break;
	case DK_ALU_RI:
		break;
	case DK_TEST_RI:
		op = 4;
		break;
	default:
		return false;
	}
	if (alu_reads_cf(op))
		return false;
	keep = op == 7 || di->kind == DK_TEST_RR || di->kind == DK_TEST_RI;
	e_alu_cached(x, di, op, dst, src >= 0 ? rc_reg_of(x, src) : -1,
		     keep);
	if (x->flags != FK_UNKNOWN)
		x->host_flags_at = x->j->p;
	return true;
}

/*
 * What an ALU form that stored no flag left in the host's: the guest's,
 * pending (flags_pend()), or flags nothing sees.
 */
static void alu_left_host_flags(struct jctx *x, bool pend, int size, int op)
{
	x->flags = pend ? FK_PEND : FK_UNKNOWN;
	x->fsize = size;
	x->alu_host_flags = pend;
	x->pend = pend;
	x->pend_logic = alu_is_logic(op);
}

/*
 * The guest register of byte or word operand r in the cache's terms, or
 * -1 for AH..BH, which are no host register's low byte.
 */
static int narrow_greg(int r, int size)
{
	size_t at = greg_sz(r, size);

	return at & 1 ? -1 : greg_of(at);
}

/*
 * The ALU (but ADC and SBB) and TEST on a byte or a word of registers,
 * worked on the caches in place: OR AL, DL is the host's OR of the two
 * caches' low bytes, where the generic way (emit_reg_both()) copies
 * both zero-extended into eax and ecx, works there and puts the result
 * back, five or six instructions for one.  Only where no flag has to be
 * stored (dead, or left in the host's: flags_pend()), for low bytes, and
 * for a form that writes, where the cache may be newer than c->r (x->wb,
 * as e_store_reg_sz() has it).  The host's flags of a byte or word
 * operation are the guest's.
 */
static bool emit_reg_narrow(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	int size = di->size, dst = di->rm, src = -1, d, s = -1;
	bool test = di->kind == DK_TEST_RR || di->kind == DK_TEST_RI;
	bool imm = di->kind == DK_ALU_RI || di->kind == DK_TEST_RI;
	bool live = x->flags_live[x->i], pend, keep;
	int op = test ? 4 : di->op;

	switch (di->kind) {
	case DK_ALU_RM_R:
	case DK_ALU_R_RM:
	case DK_ALU_RI:
	case DK_TEST_RR:
	case DK_TEST_RI:
		break;
	default:
		return false;
	}
	if (size > 2 || alu_reads_cf(op))
		return false;
	if (di->kind == DK_ALU_R_RM) {
		dst = di->reg;
		src = di->rm;
	} else if (!imm) {
		src = di->reg;
	}
	keep = test || op == 7;
	pend = live && flags_pend(x);
	if ((live && !pend) || (!keep && !x->wb))
		return false;
	dst = narrow_greg(dst, size);
	if (dst < 0 || (src >= 0 && (src = narrow_greg(src, size)) < 0))
		return false;
	d = rc_reg_of(x, dst);
	if (src >= 0)
		s = rc_reg_of(x, src);
	if (size == 2)
		e8(j, 0x66);
	if (size == 1 || d >= 8 || s >= 8)	/* a REX: bpl, dil, not ch, bh */
		e8(j, (u8)(0x40 | (s >= 8) << 2 | (d >= 8)));
	if (imm) {		/* op r/m, imm8 or imm16; test r/m, imm */
		e8(j, test ? (size == 1 ? 0xf6 : 0xf7) :
		      (size == 1 ? 0x80 : 0x81));
		e8(j, (u8)(0xc0 | (test ? 0 : op) << 3 | (d & 7)));
		if (size == 1)
			e8(j, (u8)di->imm);
		else
			ebytes(j, (const char *)&(u16){ (u16)di->imm }, 2);
	} else {		/* op r/m, r: ADD 00, OR 08 ... TEST 84 */
		e8(j, (u8)((test ? 0x84 : op << 3) + (size == 2)));
		e8(j, (u8)(0xc0 | (s & 7) << 3 | (d & 7)));
	}
	if (!keep)
		e_rc_spill(x, d, dst);
	alu_left_host_flags(x, pend, size, op);
	if (pend)
		x->host_flags_at = j->p;
	return true;
}

/* mov h, [rsi+rcx] (load) or mov [rsi+rcx], h, h any host register,
 * at 4 or 8 bytes. */
static void e_at_rr(struct jit *j, int h, int size, bool load)
{
	e_rex(j, size == 8, h, 0, 0);
	e8(j, load ? 0x8b : 0x89);
	e8(j, (u8)(0x04 | (h & 7) << 3));
	e8(j, 0x0e);
}

/*
 * e_access() for a form that can take its operand from the window as
 * [r14 + off] (e_win_rr()): true if the window serves it, and then
 * nothing is emitted, not even the mov rsi, r14 and mov ecx, off that
 * the other forms need.
 */
static bool e_access_win(struct jctx *x, int seg, bool write, int size)
{
	if (win_serves(x, write, size))
		return true;
	e_access(x, seg, write, size);
	return false;
}

/* mov h, [r14 + off] (load) or mov [r14 + off], h: size 4 or 8, h any
 * of the sixteen. */
static void e_win_rr(struct jctx *x, int h, int size, bool load)
{
	struct jit *j = x->j;

	e8(j, (u8)(0x41 | (size == 8) << 3 | (h >= 8) << 2));
	e8(j, load ? 0x8b : 0x89);
	e8(j, (u8)(0x86 | (h & 7) << 3));
	e32(j, x->win_off);
}

/*
 * A run of PUSHes of registers or immediates, or of POPs to registers
 * (a function's prologue and epilogue), as one access through the TLB
 * for all of them: ESP moves once, at the end.  PUSH ESP and POP ESP,
 * which see ESP move, stay single.  The run's cold path runs each
 * instruction by its handler in turn (cold[].run), so a fault in one
 * finds those before it done and EIP and ESP at it.  Returns how many
 * instructions it took, or 0.
 */
static bool stack_run_member(const struct dinsn *di, u8 kind)
{
	return di->kind == kind && di->flow == DF_NEXT &&
	       (kind == DK_PUSH_I || di->reg != R_ESP);
}

static u32 emit_stack_run(struct jctx *x)
{
	struct jit *j = x->j;
	const struct dinsn *d = &x->b->d[x->i];
	u8 kind = d->kind == DK_PUSH_I ? DK_PUSH : d->kind;
	u32 n = 0, first = x->ncold, m, k;
	int w = x->wide ? 8 : 4, esp, h;

	if (kind != DK_PUSH && kind != DK_POP)
		return 0;
	while (x->i + n + 1 < x->b->n && n < JIT_MAX_RUN &&
	       (!n || x->i + n != x->b->thunk_i || !x->b->thunk_host) &&
	       (!n || !x->head[x->i + n]) &&
	       (stack_run_member(&d[n], kind) ||
		(kind == DK_PUSH && stack_run_member(&d[n], DK_PUSH_I))))
		n++;
	if (n < 2)
		return 0;
	esp = rc_reg_of(x, R_ESP);
	e_rex(j, w == 8, 0, 0, esp);			/* lea eax, */
	e8(j, 0x8d);						/* [esp+] */
	e8(j, (u8)(0x80 | (esp & 7)));
	e32(j, kind == DK_PUSH ? (u32)-(s32)(n * (u32)w) : 0);
	e_access_esp(x, kind == DK_PUSH, (int)(n * (u32)w));
	ebytes(j, "\x48\x01\xce", 3);			/* rsi += rcx */
	for (m = 0; m < n; m++) {
		/* The first PUSH goes highest; the first POP takes lowest. */
		k = kind == DK_PUSH ? n - 1 - m : m;
		if (kind == DK_POP) {
			h = rc_host[rc_take(x, d[m].reg)];
			e_mov_disp(j, 0x8b, h, 6, k * (u32)w, w == 8);
			e_rc_spill(x, h, d[m].reg);
			continue;
		}
		if (d[m].kind == DK_PUSH_I) {		/* mov edx, imm */
			e_rexw(j, w);
			ebytes(j, "\xc7\xc2", 2);
			e32(j, (u32)d[m].imm);
			h = H_EDX;
		} else {
			h = rc_reg_of(x, d[m].reg);
		}
		e_mov_disp(j, 0x89, h, 6, k * (u32)w, w == 8);
	}
	if (kind == DK_POP) {				/* add r8, n * w */
		e8(j, x->wide ? 0x49 : 0x41);
		ebytes(j, "\x81\xc0", 2);
		e32(j, n * (u32)w);
	}
	e_store_greg(x, 8, R_ESP);			/* ESP = r8 */
	cold_back_here(x, first);
	for (m = first; m < x->ncold; m++)
		x->cold[m].run = (u8)n;
	return n;
}

/*
 * The ALU (but ADC and SBB) and TEST with memory as the first operand, at
 * 4 or 8 bytes, as the host's own form on the operand where it lies:
 * CMP [ESP+0x44], EBX is cmp [r14+0x44], ebp in a window, or cmp
 * [rsi+rcx], ebp through the TLB, rather than the operand loaded into
 * eax, the register copied to ecx and the two compared there.  Only where
 * no flag has to be stored: dead, or left in the host's (flags_pend()).
 */
static bool emit_mem_alu(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	u32 first = x->ncold;
	int size = di->size, op = di->op, s = 0;
	bool test = di->kind == DK_TEST_M_R || di->kind == DK_TEST_M_I;
	bool imm = di->kind == DK_ALU_M_I || di->kind == DK_TEST_M_I;
	bool live = x->flags_live[x->i] && !x->deferred[x->i], pend, win;

	if (test)
		op = 4;
	if (alu_reads_cf(op))
		return false;
	pend = live && flags_pend(x);
	if (live && !pend)
		return false;
	e_ea_any(x, di);
	win = e_access_win(x, di->seg, !test && op != 7, size);
	if (!imm)
		s = rc_reg_of(x, di->reg);
	e_rex(j, size == 8, s, 0, win ? 14 : 0);
	if (imm)	/* op [], imm32; test [], imm32 */
		e8(j, test ? 0xf7 : 0x81);
	else		/* op [], r: ADD 01, OR 09 ... CMP 39; TEST 85 */
		e8(j, test ? 0x85 : (u8)(op << 3 | 1));
	if (imm)
		s = test ? 0 : op;	/* ModRM's reg: the extension */
	if (win) {					/* [r14 + off] */
		e8(j, (u8)(0x86 | (s & 7) << 3));
		e32(j, x->win_off);
	} else {					/* [rsi + rcx] */
		e8(j, (u8)(0x04 | (s & 7) << 3));
		e8(j, 0x0e);
	}
	if (imm)
		e32(j, (u32)di->imm);
	alu_left_host_flags(x, pend, size, op);
	cold_back_here(x, first);
	if (pend)
		host_flags_valid(x, first);
	return true;
}

/*
 * MOV to and from memory and the ALU from memory (but ADC and SBB), at 4
 * or 8 bytes, on the cached registers: the load goes straight into the
 * destination's cache, the store straight from the source's.  The cold
 * path loads the caches back from c->r (cold_back_here()).
 */
static bool emit_mem_cached(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	u32 first = x->ncold;
	int size = di->size, h;
	bool win;

	if (size < 4)
		return false;
	switch (di->kind) {
	case DK_LOAD:
		e_ea_any(x, di);
		win = e_access_win(x, di->seg, false, size);
		h = rc_host[rc_take(x, di->reg)];
		if (win)
			e_win_rr(x, h, size, true);
		else
			e_at_rr(j, h, size, true);
		e_rc_spill(x, h, di->reg);
		break;
	case DK_STORE:
		e_ea_any(x, di);
		win = e_access_win(x, di->seg, true, size);
		h = rc_reg_of(x, di->reg);
		if (win)
			e_win_rr(x, h, size, false);
		else
			e_at_rr(j, h, size, false);
		break;
	case DK_ALU_R_M:
		if (alu_reads_cf(di->op))
			return false;
		e_ea_any(x, di);
		if (e_access_win(x, di->seg, false, size))
			e_win_rr(x, H_ECX, size, true);
		else
			e_loadz_at(j, H_ECX, size, AT_RSI_RCX);
		if (x->deferred[x->i] && (di->op == 0 || di->op == 5))
			e_rc_q(x, H_ECX, CPU_FIELD(lf_src2));
		e_alu_cached(x, di, di->op, di->reg, H_ECX, di->op == 7);
		cold_back_here(x, first);
		if (x->flags_live[x->i])
			host_flags_valid(x, first);
		return true;
	case DK_ALU_M_R:
	case DK_ALU_M_I:
	case DK_TEST_M_R:
	case DK_TEST_M_I:
		return emit_mem_alu(x, di);
	default:
		return false;
	}
	cold_back_here(x, first);
	return true;
}

static bool emit_mem_swap(struct jctx *x, const struct dinsn *di);
static void emit_bt_m(struct jctx *x, const struct dinsn *di);
static void emit_str(struct jctx *x, const struct dinsn *di);

/*
 * Forms that touch memory, at any operand size (a byte register by the
 * guest's numbering, greg_sz()): emit, or return false for a handler
 * call.  Values are zero-extended in the host's registers, as the lazy
 * flags keep them; a result goes back at its size.
 */
static bool emit_mem_form(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	u32 first = x->ncold;
	int size = di->size;
	bool host_flags = false;	/* the form left the guest's there */

	if (emit_mem_cached(x, di) || emit_mem_swap(x, di))
		return true;
	switch (di->kind) {
	case DK_LOAD:
		e_ea_any(x, di);
		e_access(x, di->seg, false, size);
		e_loadz_at(j, H_EAX, size, AT_RSI_RCX);
		e_store_reg_sz(x, di->reg, size);
		break;
	case DK_STORE:
		e_ea_any(x, di);
		e_access(x, di->seg, true, size);
		e_loadz_reg(x, H_EDX, di->reg, size);
		e_store_at(j, H_EDX, size, AT_RSI_RCX);
		break;
	case DK_STORE_I:
		e_ea_any(x, di);
		e_access(x, di->seg, true, size);
		if (size == 2)
			e8(j, 0x66);
		e_rexw(j, size);			/* mov [rsi+rcx], imm */
		e8(j, size == 1 ? 0xc6 : 0xc7);
		e_at(j, 0, AT_RSI_RCX);
		if (size == 1)
			e8(j, (u8)di->imm);
		else if (size == 2)
			ebytes(j, (const char *)&(u16){ (u16)di->imm }, 2);
		else
			e32(j, (u32)di->imm);
		break;
	case DK_ALU_R_M:
		e_carry_in(x, di->op);
		e_ea_any(x, di);
		e_access(x, di->seg, false, size);
		e_loadz_at(j, H_ECX, size, AT_RSI_RCX);
		e_loadz_reg(x, H_EAX, di->reg, size);
		if (e_alu(x, di->op, size))
			e_store_reg_sz(x, di->reg, size);
		host_flags = x->alu_host_flags;
		break;
	case DK_ALU_M_R:
	case DK_ALU_M_I:
		e_carry_in(x, di->op);
		e_ea_any(x, di);
		e_access(x, di->seg, di->op != 7, size);
		ebytes(j, "\x48\x01\xce", 3);		/* rsi += rcx */
		e_loadz_at(j, H_EAX, size, AT_RSI);
		if (di->kind == DK_ALU_M_R)
			e_loadz_reg(x, H_ECX, di->reg, size);
		else
			e_imm_ecx(j, di, size);
		if (e_alu(x, di->op, size))
			e_store_at(j, H_EAX, size, AT_RSI);
		host_flags = x->alu_host_flags;
		break;
	case DK_TEST_M_R:
	case DK_TEST_M_I:
		e_ea_any(x, di);
		e_access(x, di->seg, false, size);
		e_loadz_at(j, H_EAX, size, AT_RSI_RCX);
		e_test(x, di, di->kind == DK_TEST_M_I);
		host_flags = x->alu_host_flags;
		break;
	case DK_SHIFT_M:
		if (!emit_shift_m(x, di))
			return false;
		break;
	case DK_INCDEC_M:
		e_incdec_m(x, di);
		host_flags = x->flags_live[x->i];
		break;
	case DK_LOADX:
		e_ea_any(x, di);
		e_access(x, di->seg, false, size);
		e_loadx(j, di);
		e_store_reg_sz(x, di->reg, di->osize);
		break;
	case DK_PUSH:
	case DK_PUSH_I:
	case DK_PUSH_M:
	case DK_POP:
		e_push_pop(x, di);
		break;
	case DK_PUSHF:
		e_pushf(x);
		break;
	case DK_BT:
		emit_bt_m(x, di);
		return true;
	case DK_MOVS:
	case DK_STOS:
	case DK_LODS:
		emit_str(x, di);
		break;
	default:
		return false;
	}
	cold_back_here(x, first);
	if (host_flags)
		host_flags_valid(x, first);
	return true;
}

static bool emit_shift(struct jctx *x, const struct dinsn *di);
static bool emit_shift_cl(struct jctx *x, const struct dinsn *di);

/* The guest's CF into the host's CF (only loads and the ALU may come
 * after this before the instruction that uses it). */
static void e_flags_unknown(struct jctx *x, int cc);

static void e_host_cf(struct jctx *x)
{
	if (x->host_cf_at == x->j->p)	/* a BT left it */
		return;
	if (e_flags_known(x))	/* all the flags, CF among them */
		return;
	e_flags_unknown(x, -1);
}

/* The host's arithmetic flags become the guest's, in c->eflags. */
static void e_flags_from_host(struct jctx *x)
{
	struct jit *j = x->j;

	ebytes(j, "\x9f\x0f\x90\xc2", 4);		/* lahf; seto dl */
	ebytes(j, "\x0f\xb6\xcc\x0f\xb6\xd2", 6);	/* ecx = ah, edx = dl */
	ebytes(j, "\xc1\xe2\x0b\x09\xd1", 5);		/* ecx |= edx << 11 */
	e_load(j, H_EAX, CPU_FIELD(eflags));
	e8(j, 0x25);					/* and eax, ~ARITH */
	e32(j, ~F_ARITH);
	ebytes(j, "\x09\xc8", 2);			/* or eax, ecx */
	e_store(j, H_EAX, CPU_FIELD(eflags));
	e_store_imm(j, CPU_FIELD(lf_op), LF_NONE);
	x->flags = FK_EFLAGS;
}

/*
 * The host's arithmetic flags become the guest's lazily (LF_HOST): what
 * LAHF and SETO make of them, stored as they are.  Four instructions
 * that leave the host's flags alone, for a Jcc after, where folding them
 * into c->eflags took fifteen and five more to have them back.  Changes
 * eax.
 */
static void e_flags_save_code(struct jit *j)
{
	ebytes(j, "\x9f\x0f\x90\xc0", 4);		/* lahf; seto al */
	ebytes(j, "\x66\x89", 2);			/* mov [lf_res], ax */
	e_field(j, 0x83, CPU_FIELD(lf_res));
	e_store_imm(j, CPU_FIELD(lf_op), LF(LF_HOST, 4));
}

static void e_flags_save(struct jctx *x)
{
	e_flags_save_code(x->j);
	x->flags = FK_HOST;
	x->host_flags_at = x->j->p;
}

/* With the 64-bit forms and the block ends, below. */
static bool emit_reg_wide(struct jctx *x, const struct dinsn *di);
static void e_ea_wide(struct jctx *x, const struct dinsn *di);
static void e_cond_al(struct jctx *x, int cc);

/*
 * CMOVcc between registers while the host's flags are the guest's, with a
 * write-back cache: the host's CMOVcc of the two caches in place, one
 * instruction where copies through eax and ecx took four.  At 4 bytes in
 * 64-bit code the host's, like the guest's, clears the upper half whether
 * or not it moves.  Loading a register into the cache changes no flag.
 */
static bool emit_cmov_cached(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	int s = rc_reg_of(x, di->rm), d = rc_reg_of(x, di->reg);

	e_rex(j, di->size == 8, d, 0, s);		/* cmovcc d, s */
	e8(j, 0x0f);
	e8(j, (u8)(0x40 | di->op));
	e8(j, (u8)(0xc0 | (d & 7) << 3 | (s & 7)));
	e_rc_spill(x, d, di->reg);
	x->host_flags_at = j->p;
	return true;
}

/*
 * SETcc on a register, CMOVcc from a register or memory: the condition
 * into al as a Jcc would test it, then a byte store, or the host's CMOVNE
 * (which in 64-bit code clears a 32-bit destination's upper half either
 * way, as the guest's does).  CMOVcc reads its memory operand whatever the
 * condition, as the processor does; the condition waits in r9b meanwhile.
 * CMOVcc between registers while the host's flags are the guest's is the
 * host's own CMOVcc on them instead, which leaves them so (pend_safe()):
 * a CMP and a CMOV then store no flags at all when nothing sees them
 * after.
 */
static bool emit_setcc_cmov(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	u32 first = x->ncold;
	bool host = di->kind == DK_CMOV_RR && x->host_flags_at == j->p;

	if (host && x->wb && di->size >= 4)
		return emit_cmov_cached(x, di);
	if (!host)
		e_cond_al(x, di->op);
	if (di->kind == DK_SETCC_R) {
		e_store_reg_sz(x, di->rm, 1);
		return true;
	}
	if (di->kind == DK_CMOV_RM) {
		ebytes(j, "\x41\x89\xc1", 3);		/* mov r9d, eax */
		e_ea_any(x, di);
		e_access(x, di->seg, false, di->size);
		e_loadz_at(j, H_ECX, di->size, AT_RSI_RCX);
		ebytes(j, "\x44\x89\xc8", 3);		/* mov eax, r9d */
	} else {
		e_load_greg(x, H_ECX, di->rm, di->size);
	}
	if (!host)
		ebytes(j, "\x84\xc0", 2);		/* test al, al */
	e_load_greg(x, H_EAX, di->reg, di->size);
	e_rexw(j, di->size);			/* cmovcc (or ne) eax, ecx */
	e8(j, 0x0f);
	e8(j, (u8)(0x40 | (host ? di->op : JCC_JNE & 15)));
	e8(j, 0xc1);
	e_store_reg(x, di->reg);
	cold_back_here(x, first);
	if (host)
		x->host_flags_at = j->p;
	return true;
}

/*
 * After a multiplication whose overflow is in cl (1 or 0) and whose low
 * half is in rax: the flags as alu.c's alu_set_res() keeps them, CF and
 * OF in c->eflags, AF clear, the rest lazily from the low half.
 */
static void e_mul_flags(struct jctx *x, int size)
{
	struct jit *j = x->j;

	x->flags = FK_UNKNOWN;
	if (!x->flags_live[x->i])
		return;
	ebytes(j, "\x0f\xb6\xc9", 3);			/* movzx ecx, cl */
	ebytes(j, "\x69\xc9", 2);			/* imul ecx, ecx, CF|OF */
	e32(j, F_CF | F_OF);
	e_load(j, H_EDX, CPU_FIELD(eflags));
	ebytes(j, "\x81\xe2", 2);			/* and edx, ~... */
	e32(j, ~(F_CF | F_OF | F_AF));
	ebytes(j, "\x09\xca", 2);			/* or edx, ecx */
	e_store(j, H_EDX, CPU_FIELD(eflags));
	e_store_q(j, H_EAX, CPU_FIELD(lf_res));
	e_store_imm(j, CPU_FIELD(lf_op), LF(LF_RES, size));
}

/*
 * IMUL r, r/m and IMUL r, r/m, imm of 4 or 8 bytes, on a register or
 * through the TLB: the host's own, whose CF and OF are the guest's.
 */
static bool emit_imul(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	u32 first = x->ncold;
	int size = di->size;

	if (di->rm == DC_NONE) {
		e_ea_any(x, di);
		e_access(x, di->seg, false, size);
		e_loadz_at(j, H_ECX, size, AT_RSI_RCX);
	} else {
		e_load_greg(x, H_ECX, di->rm, size);
	}
	if (di->kind == DK_IMUL3) {
		e_rexw(j, size);			/* imul eax, ecx, imm */
		ebytes(j, "\x69\xc1", 2);
		e32(j, (u32)di->imm);
	} else {
		e_load_greg(x, H_EAX, di->reg, size);
		e_rexw(j, size);			/* imul eax, ecx */
		ebytes(j, "\x0f\xaf\xc1", 3);
	}
	ebytes(j, "\x0f\x90\xc1", 3);			/* seto cl */
	e_store_reg(x, di->reg);
	e_mul_flags(x, size);
	cold_back_here(x, first);
	return true;
}

/*
 * One-operand MUL and IMUL of 4 or 8 bytes, on a register or through the
 * TLB: the host's own, with the flags kept as alu_mul() keeps them (CF and
 * OF in c->eflags, AF clear, the rest from the low half, lazily).
 */
static bool emit_mul(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	u32 first = x->ncold;
	int size = di->size;
	u8 ext = di->op ? 0x28 : 0x20;			/* /5 IMUL, /4 MUL */
	int h;

	if (di->rm == DC_NONE) {
		e_ea_any(x, di);
		e_access(x, di->seg, false, size);
		e_load_greg(x, H_EAX, R_EAX, size);
		e_rexw(j, size);			/* mul [rsi+rcx] */
		ebytes(j, "\xf7", 1);
		e8(j, (u8)(0x04 | ext));
		e8(j, 0x0e);
	} else {
		e_load_greg(x, H_EAX, R_EAX, size);
		h = rc_reg_of(x, di->rm);		/* mul rm */
		e_rex(j, size == 8, 0, 0, h);
		e8(j, 0xf7);
		e8(j, (u8)(0xc0 | ext | (h & 7)));
	}
	ebytes(j, "\x0f\x90\xc1", 3);			/* seto cl */
	e_store_greg(x, H_EAX, R_EAX);
	e_store_greg(x, H_EDX, R_EDX);
	e_mul_flags(x, size);
	cold_back_here(x, first);
	return true;
}

/*
 * NOT and NEG of a register or of memory (through the TLB), at any size.
 * NOT changes no flag; NEG is SUB from 0, with the flags alu.c's
 * alu_neg() records (the translator's SUB's).
 */
static bool emit_not_neg(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	u32 first = x->ncold;
	int size = di->size, at = AT_RSI;

	if (di->rm == DC_NONE) {
		e_ea_any(x, di);
		e_access(x, di->seg, true, size);
		ebytes(j, "\x48\x01\xce", 3);		/* rsi += rcx */
		e_loadz_at(j, H_ECX, size, at);
	} else {
		e_loadz_reg(x, H_ECX, di->rm, size);
	}
	if (di->kind == DK_NOT) {
		e_op_sz(j, size, 0xf7);			/* not ecx */
		e8(j, 0xd1);
		e_rexw(j, size);			/* mov eax, ecx */
		ebytes(j, "\x89\xc8", 2);
	} else {
		ebytes(j, "\x31\xc0", 2);		/* xor eax, eax */
		e_alu(x, 5, size);			/* sub eax, ecx */
	}
	if (di->rm == DC_NONE)
		e_store_at(j, H_EAX, size, at);
	else
		e_store_reg_sz(x, di->rm, size);
	cold_back_here(x, first);
	return true;
}

/* A jump to instruction i's cold path (its handler), taken on cc. */
static void e_cold_if(struct jctx *x, u8 cc)
{
	cold_add(x, e_jump_cold(cc));
}

/* The same, to a cold path that leaves the block after the handler
 * instead of coming back. */
static void e_cold_leave_if(struct jctx *x, u8 cc)
{
	e_cold_if(x, cc);
	x->cold[x->ncold - 1].leave = true;
}

/*
 * A jump (from) to a REP string's cold path: its handler, as though the
 * REP were the block's last instruction (the rest refunded first, so
 * that it stops where the interpreter's would), then out of the block.
 */
static void cold_rep(struct jctx *x, u8 *from)
{
	cold_add(x, from);
	x->cold[x->ncold - 1].leave = true;
	x->cold[x->ncold - 1].rep = true;
}

/* test dword [eflags], DF: a string form going down takes its handler. */
static void e_test_df(struct jit *j)
{
	e_rbx(j, "\xf7", 1, 0x83, CPU_FIELD(eflags));
	e32(j, F_DF);
}

/* Guest register r += size, for a string form going up. */
static void e_str_step(struct jctx *x, int r, int size)
{
	int h = rc_reg_of(x, r);

	e_op_ri(x->j, 0, h, (u32)size, 4);		/* add h, size */
	e_rc_spill(x, h, r);
}

/*
 * MOVS, STOS and LODS without REP, of 32-bit code: with DF clear, the
 * accesses through the TLB (the source's value waits in r9d while the
 * destination's is found) and ESI and EDI moved on; with DF set, or
 * where an access cannot go straight to RAM, the handler.  A cold path
 * runs the whole instruction: nothing has been written before the last
 * access.
 */
static void emit_str(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	int size = di->size;

	x->l0_slot = L0_NONE;	/* ESI and EDI are not the stack's */
	e_test_df(j);
	e_cold_if(x, JCC_JNE);
	if (di->kind != DK_STOS) {
		e_load_greg(x, H_EAX, R_ESI, 4);
		e_access(x, di->seg, false, size);
		e_loadz_at(j, di->kind == DK_MOVS ? H_EDX : H_EAX, size,
			   AT_RSI_RCX);
	}
	if (di->kind == DK_LODS) {
		e_store_reg_sz(x, R_EAX, size);
	} else {
		if (di->kind == DK_MOVS)
			ebytes(j, "\x41\x89\xd1", 3);	/* mov r9d, edx */
		e_load_greg(x, H_EAX, R_EDI, 4);
		e_access(x, S_ES, true, size);
		if (di->kind == DK_MOVS)
			ebytes(j, "\x44\x89\xca", 3);	/* mov edx, r9d */
		else
			e_loadz_reg(x, H_EDX, R_EAX, size);
		e_store_at(j, H_EDX, size, AT_RSI_RCX);
		e_str_step(x, R_EDI, size);
	}
	if (di->kind != DK_STOS)
		e_str_step(x, R_ESI, size);
}

/* lea eax, [h - 1]: a REP's count less one, from cache register h (rax,
 * all of RCX, in 64-bit code). */
static void e_count_less1(struct jit *j, int h, bool wide)
{
	e_rex(j, wide, H_EAX, 0, h);
	e8(j, 0x8d);
	e8(j, (u8)(0x40 | (h & 7)));	/* (no slot is rsp or r12) */
	e8(j, 0xff);
}

/*
 * REP MOVS and REP STOS of 32-bit code with 32-bit addresses or 64-bit
 * code with 64-bit ones, as memcpy(), memset(), copy_to_user() and (going
 * down) memmove() use them: when the count is 1 to a page's worth, the
 * elements each of source and destination covers lie within one page
 * that the TLB has (so no fault can come, and no store reaches a page of
 * translated code: its write tag says so), and the budget has room for
 * every iteration, the host's own REP MOVS or STOS straight on RAM, with
 * the guest's DF, which copies element by element as the guest's does,
 * overlap or not; ESI and EDI then move by what the host's RSI and RDI
 * moved.  Else the handler (exec_rep_quick() or exec_string()), and the
 * block ends there, as it did for every REP string.  ECX, ESI and EDI are
 * loaded first, so that every check leaves the cache alike and all share
 * one cold path.  Changes rax, rcx, rdx, rsi, r8 and r9, and leaves the
 * host's DF clear, as the ABI wants it.
 */
static void emit_rep_str(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	bool movs = (di->op & ~1) == 0xa4, w = x->wide;
	int size = di->op & 1 ? di->osize : 1;
	int sh = size == 8 ? 3 : size == 4 ? 2 : size - 1, aw = w ? 8 : 4;
	int hc = rc_reg_of(x, R_ECX), hd = rc_reg_of(x, R_EDI);
	int hs = movs ? rc_reg_of(x, R_ESI) : -1;
	int ha = movs ? -1 : rc_reg_of(x, R_EAX);

	e_count_less1(j, hc, w);
	e_rexw(j, aw);
	e8(j, 0x3d);				/* cmp eax, a page - 1 */
	e32(j, (0x1000u >> sh) - 1);
	cold_rep(x, e_jump_cold(JCC_JA));		/* (or none) */
	e_mov_rr(j, H_ECX, hc, 4);			/* ecx = bytes */
	if (sh)
		ebytes(j, (const char[]){ '\xc1', '\xe1', (char)sh }, 3);
	/* edx = how far below the first element the last one starts:
	 * bytes - size going down, else 0 */
	e_load(j, H_EDX, CPU_FIELD(eflags));
	ebytes(j, "\xc1\xea\x0a\x83\xe2\x01\xf7\xda", 8); /* DF ? -1 : 0 */
	ebytes(j, "\x8d\x41", 2);		/* lea eax, [rcx-size] */
	e8(j, (u8)-size);
	ebytes(j, "\x21\xc2", 2);			/* and edx, eax */
	for (int k = 0; k < (movs ? 2 : 1); k++) {	/* each in a page */
		e_mov_rr(j, H_EAX, k ? hs : hd, 4);
		ebytes(j, "\x29\xd0", 2);		/* sub eax, edx */
		ebytes(j, "\x25\xff\x0f\x00\x00", 5);	/* and eax, */
		ebytes(j, "\x01\xc8", 2);		/* add eax, ecx */
		ebytes(j, "\x3d\x00\x10\x00\x00", 5);	/* cmp eax, 4096 */
		cold_rep(x, e_jump_cold(JCC_JA));
	}
	for (int k = 0; k < (movs ? 2 : 1); k++) {	/* r8, r9 = RAM */
		e_mov_rr(j, H_EAX, k ? hs : hd, aw);
		cold_rep(x, e_tlb_check(x, !k, 1));
		ebytes(j, k ? "\x4c\x8d\x0c\x06" : "\x4c\x8d\x04\x06", 4);
	}
	e_count_less1(j, hc, w);
	e_rbx_h(j, 0x8b, H_EDX, CPU_FIELD(ictr), true);
	ebytes(j, "\x48\x01\xc2", 3);		/* add rdx, rax */
	cold_rep(x, e_jump_cold(JCC_JG));		/* past jit_end */
	e_rbx_h(j, 0x89, H_EDX, CPU_FIELD(ictr), true);	/* charged */
	if (movs) {
		e_mov_rr(j, H_ECX, hc, 4);
		ebytes(j, "\x48\x89\xf8", 3);		/* rax = rdi */
		ebytes(j, "\x4c\x89\xc7\x4c\x89\xce", 6); /* r8, r9 */
	} else {
		ebytes(j, "\x49\x89\xf9", 3);		/* r9 = rdi */
		e_mov_rr(j, H_EAX, ha, size == 8 ? 8 : 4);
		e_mov_rr(j, H_ECX, hc, 4);
		ebytes(j, "\x4c\x89\xc7", 3);		/* rdi = r8 */
	}
	e_test_df(j);
	ebytes(j, "\x74\x01\xfd", 3);		/* jz over: std */
	if (size == 2)
		e8(j, 0x66);
	e8(j, 0xf3);				/* rep movs / rep stos */
	if (size == 8)
		e8(j, 0x48);
	e8(j, (u8)((movs ? 0xa4 : 0xaa) | (size > 1)));
	e8(j, 0xfc);					/* cld */
	ebytes(j, "\x48\x89\xfa\x4c\x29\xc2", 6);	/* rdx = rdi - r8 */
	ebytes(j, movs ? "\x48\x89\xc7" : "\x4c\x89\xcf", 3); /* rdi back */
	e_op_rr(j, 0x01, hd, H_EDX, aw);		/* EDI += how far */
	e_rc_spill(x, hd, R_EDI);
	if (movs) {
		ebytes(j, "\x4c\x29\xce", 3);		/* rsi -= r9 */
		e_op_rr(j, 0x01, hs, 6, aw);		/* ESI += how far */
		e_rc_spill(x, hs, R_ESI);
	}
	e_op_rr(j, 0x31, hc, hc, 4);			/* ECX = 0 */
	e_rc_spill(x, hc, R_ECX);
}

#define FPU_FIELD(f) (CPU_FIELD(fpu) + offsetof(struct fpu, f))

/*
 * The commonest x87 forms in 32-bit blocks (fpu_inline_form() says
 * which): the very instruction on the host's x87, as fpu.c's
 * run_on_host() runs it, straight from translated code, its memory
 * operand addressed through the TLB.  Only while the fast case holds, else
 * the handler: CR0.EM and TS clear, the guest's state live on the host,
 * no exception pending (ES) and every exception masked, so that none can
 * come of it.  Then the status word is the host's condition codes and TOP
 * with the new exception flags added to the guest's sticky ones, and the
 * last instruction's pointers are noted as note_insn() notes them.
 *
 * The checks are made once for a run of x87 forms in a block: what they
 * check changes only by a handler (emit_call()) or an MMX form, and when
 * one fails, its cold path runs the instruction by its handler and leaves
 * the block, so the code after a check runs only where it held.  The
 * selectors noted (FCS, FDS) are the same all along the run, but for a
 * data segment of another register.  The cold path of an access does not
 * change what was checked: the handler runs the same form on the host.
 */
static bool emit_x87(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	u32 first = x->ncold;
	u8 op = di->op, modrm = (u8)di->imm;
	bool mem = di->rm == DC_NONE, checked = x->x87_ok;
	int size;

	if (x->wide || !fpu_inline_form(op, modrm, &size))
		return false;
	if (!checked) {
		e_rbx(j, "\xf7", 1, 0x83, CPU_FIELD(cr0)); /* test cr0, */
		e32(j, CR0_EM | CR0_TS);			/* EM|TS */
		e_cold_leave_if(x, JCC_JNE);
		e_rbx(j, "\x80", 1, 0xbb, FPU_FIELD(live)); /* cmp live, 0 */
		e8(j, 0);
		e_cold_leave_if(x, JCC_JE);
		e_rbx(j, "\x0f\xb7", 2, 0x83, FPU_FIELD(sw)); /* eax = sw */
		e_rbx(j, "\x0f\xb7", 2, 0x8b, FPU_FIELD(cw)); /* ecx = cw */
		ebytes(j, "\xf7\xd1\x83\xe1\x3f", 5); /* ~cw & 0x3f */
		ebytes(j, "\x25\x80\x00\x00\x00", 5);	/* and eax, ES */
		ebytes(j, "\x09\xc8", 2);		/* or eax, ecx */
		e_cold_leave_if(x, JCC_JNE);
		x->x87_ok = true;
		x->x87_fds = -1;
	}
	if (mem) {
		e_ea(x, di);
		ebytes(j, "\x41\x89\xc1", 3);		/* mov r9d, eax */
		e_access(x, di->seg, size < 0, size < 0 ? -size : size);
	}
	/* fop, fip, fcs (and fdp, fds) */
	e_rbx(j, "\x66\xc7", 2, 0x83, FPU_FIELD(fop));
	ebytes(j, (const char *)&(u16){ (u16)((op & 7) << 8 | modrm) }, 2);
	ebytes(j, "\x41\x8d\x84\x24", 4);		/* lea eax, [r12+off] */
	e32(j, x->off[x->i]);
	e_store_q(j, H_EAX, FPU_FIELD(fip));
	if (!checked) {
		e_rbx(j, "\x0f\xb7", 2, 0x83, CPU_FIELD(seg[S_CS].sel));
		e_rbx(j, "\x66\x89", 2, 0x83, FPU_FIELD(fcs)); /* [fcs] = ax */
	}
	if (mem)
		e_rbx(j, "\x4c\x89", 2, 0x8b, FPU_FIELD(fdp)); /* mov [], r9 */
	if (mem && x->x87_fds != di->seg) {
		e_rbx(j, "\x0f\xb7", 2, 0x83,
		      CPU_FIELD(seg) + (size_t)di->seg * sizeof(struct seg) +
		      offsetof(struct seg, sel));
		e_rbx(j, "\x66\x89", 2, 0x83, FPU_FIELD(fds));
		x->x87_fds = di->seg;
	}
	e8(j, op);					/* the instruction */
	if (mem) {
		e8(j, (u8)((modrm & 0x38) | 0x04));	/* [rsi+rcx] */
		e8(j, 0x0e);
	} else {
		e8(j, modrm);
	}
	x->x87_pending = true;
	cold_back_here(x, first);
	return true;
}

/*
 * The status word of the x87 forms run on the host since the last time:
 * the host's condition codes and TOP, and the exception flags they raised
 * (the host's sticky ones, cleared again) added to the guest's.  A run
 * of inline forms leaves this to whatever comes after it that could look
 * (x87_transparent()), or to the cold path of an access in between.
 * Changes rax, rcx, rdx and the host's flags.
 */
static void e_x87_sw(struct jit *j)
{
	ebytes(j, "\xdf\xe0\xdb\xe2", 4);		/* fnstsw ax; fnclex */
	ebytes(j, "\x0f\xb7\xc0\x89\xc1", 5);	/* eax = ecx = sw */
	ebytes(j, "\xc1\xe9\x0b\x83\xe1\x07", 6);	/* ecx = TOP */
	e_rbx(j, "\x88", 1, 0x8b, FPU_FIELD(top));	/* mov [top], cl */
	e_rbx(j, "\x0f\xb7", 2, 0x93, FPU_FIELD(sw));	/* movzx edx, sw */
	ebytes(j, "\x83\xe2\x7f", 3);			/* and edx, FLAGS */
	e8(j, 0x25);					/* and eax, CC|TOP|FLAGS */
	e32(j, 0x7f7f);
	ebytes(j, "\x09\xd0", 2);			/* or eax, edx */
	e_rbx(j, "\x66\x89", 2, 0x83, FPU_FIELD(sw));	/* mov [sw], ax */
}

static void e_x87_flush(struct jctx *x)
{
	if (!x->x87_pending)
		return;
	e_x87_sw(x->j);
	x->x87_pending = false;
}

/*
 * Forms that may come between two inline x87 forms without the status
 * word made exact first: they read nothing of the x87's, and their only
 * way out is a cold path, which makes it exact itself (cold_add()).  A
 * form of these kinds that goes to its handler after all does so through
 * emit_call(), which makes it exact too.
 */
static bool x87_transparent(const struct dinsn *di)
{
	switch (di->kind) {
	case DK_MOV_RM_R: case DK_MOV_R_RM: case DK_MOV_RI: case DK_LEA:
	case DK_LOAD: case DK_STORE: case DK_STORE_I: case DK_LOADX:
	case DK_MOVX_R: case DK_ALU_RM_R: case DK_ALU_R_RM: case DK_ALU_RI:
	case DK_ALU_R_M: case DK_ALU_M_R: case DK_ALU_M_I:
	case DK_TEST_RR: case DK_TEST_RI: case DK_TEST_M_R: case DK_TEST_M_I:
	case DK_INC: case DK_DEC: case DK_SHIFT_RI: case DK_NOP: case DK_X87:
	case DK_JMP:	/* followed: nothing of its own */
		return true;
	}
	return false;
}

#define XMM_FIELD(n) (CPU_FIELD(xmm) + sizeof(union v128) * (size_t)(n))

/* movups xmm<h>, [rbx + field] and back (struct cpu is no promise of
 * alignment; on aligned data the two cost the same). */
static void e_xmm_load(struct jit *j, int h, size_t field)
{
	e_rbx(j, "\x0f\x10", 2, (u8)(0x83 | h << 3), field);
}

static void e_xmm_store(struct jit *j, int h, size_t field)
{
	e_rbx(j, "\x0f\x11", 2, (u8)(0x83 | h << 3), field);
}

/*
 * The guest's own MMX/SSE instruction on host operands: its mandatory
 * prefix, REX.W if it had it, 0F op, a ModRM whose reg field is reg
 * (xmm0 or eax: 0) and whose rm is host register rm (mod 3) or, for
 * rm < 0, the inline access's [rsi+rcx]; its immediate.
 */
static void e_sse_insn(struct jit *j, const struct dinsn *di,
		       const struct sse_jit *f, int reg, int rm)
{
	if (f->prefix)
		e8(j, f->prefix);
	if (f->rex_w)
		e8(j, 0x48);
	e8(j, 0x0f);
	e8(j, di->op);
	if (rm < 0) {
		e8(j, (u8)(0x04 | reg << 3));
		e8(j, 0x0e);
	} else {
		e8(j, (u8)(0xc0 | reg << 3 | rm));
	}
	if (f->imm)
		e8(j, (u8)di->imm);
}

/*
 * The same, for a form that may raise a SIMD exception: with the guest's
 * MXCSR on the host, every exception masked (checked) so that none is
 * taken, and the flags it raises added to the guest's sticky ones there,
 * exactly as on the guest's own CPU.  The host keeps the guest's MXCSR
 * afterwards: LDMXCSR of a value other than the one in force costs this
 * host some 7 ns, of the same value next to nothing (putting the host's
 * back after each form made cpubench's matmul of doubles ten times
 * slower, through [rsp] thirty).  That is safe because the check
 * also asks for the control bits C code runs with (round to nearest, no
 * FTZ or DAZ, all masked: 0x1f80); what differs is only the flags, which
 * no C code reads (sse.c loads the MXCSR it wants around each form).
 */
static void e_sse_fp(struct jit *j, const struct dinsn *di,
		     const struct sse_jit *f, int reg, int rm)
{
	if (!f->fp) {
		e_sse_insn(j, di, f, reg, rm);
		return;
	}
	e_rbx(j, "\x0f\xae", 2, 0x93, CPU_FIELD(mxcsr));	/* ldmxcsr */
	e_sse_insn(j, di, f, reg, rm);
	e_rbx(j, "\x0f\xae", 2, 0x9b, CPU_FIELD(mxcsr));	/* stmxcsr */
}

/*
 * The commonest SSE and SSE2 forms, in 32-bit and 64-bit blocks: the XMM
 * ones that h_sse_x(), h_sse_x_store() and h_sse_g() run (sse_jit_form()
 * says which), as the very same instruction on the host, the guest's XMM
 * registers loaded into xmm0 and xmm1 (a general one into eax) and the
 * result stored back, a memory operand reached through the TLB.  Only
 * while the fast case holds, else the handler: CR0.EM and TS clear,
 * CR4.OSFXSR set and, for a form that can raise a SIMD exception, every
 * one masked in MXCSR, rounding to nearest, no FTZ or DAZ (e_sse_fp()
 * says why; programs run so, and the handler takes the rest as fast as
 * before).  A 16-byte operand that must
 * be aligned and is not goes to the handler too, for its #GP (the host's
 * instruction would fault in our hands).  The host's xmm registers are
 * the caller's to save: nothing lives in them between forms.
 */
static bool emit_sse(struct jctx *x, const struct dinsn *di)
{
	/* Its status word is made already: DK_SSE is not x87_transparent() */
	x->x87_ok = false;	/* MMX shares the x87's registers */
	struct jit *j = x->j;
	u32 first = x->ncold;
	bool mem = di->rm == DC_NONE;
	struct sse_jit f;

	if (!sse_jit_form(di, &f))
		return false;
	e_rbx(j, "\xf7", 1, 0x83, CPU_FIELD(cr0));	/* test cr0, EM|TS */
	e32(j, CR0_EM | CR0_TS);
	e_cold_if(x, JCC_JNE);
	e_rbx(j, "\xf7", 1, 0x83, CPU_FIELD(cr4));	/* test cr4, OSFXSR */
	e32(j, CR4_OSFXSR);
	e_cold_if(x, JCC_JE);
	if (f.fp) {		/* MXCSR's control bits: 0x1f80 */
		e_load(j, H_EAX, CPU_FIELD(mxcsr));
		ebytes(j, "\x25\xc0\xff\x00\x00", 5);	/* and eax, ~0x3f */
		ebytes(j, "\x3d\x80\x1f\x00\x00", 5);	/* cmp eax, 0x1f80 */
		e_cold_if(x, JCC_JNE);
	}
	if (mem) {
		e_ea_any(x, di);
		e_access(x, di->seg, f.write, f.msize);
		if (f.align) {				/* test cl, 15 */
			ebytes(j, "\xf6\xc1\x0f", 3);
			e_cold_if(x, JCC_JNE);
		}
	}
	switch (f.shape) {
	case SJ_XX:
		e_xmm_load(j, 0, XMM_FIELD(di->reg));
		if (!mem)
			e_xmm_load(j, 1, XMM_FIELD(di->rm));
		e_sse_fp(j, di, &f, 0, mem ? -1 : 1);
		e_xmm_store(j, 0, XMM_FIELD(di->reg));
		break;
	case SJ_XSTORE:
		e_xmm_load(j, 0, XMM_FIELD(di->reg));
		if (mem) {
			e_sse_fp(j, di, &f, 0, -1);
			break;
		}
		e_xmm_load(j, 1, XMM_FIELD(di->rm));
		e_sse_fp(j, di, &f, 0, 1);
		e_xmm_store(j, 1, XMM_FIELD(di->rm));
		break;
	case SJ_GIN:
		e_xmm_load(j, 0, XMM_FIELD(di->reg));
		if (!mem)
			e_load_greg(x, H_EAX, di->rm, f.rex_w ? 8 : 4);
		e_sse_fp(j, di, &f, 0, mem ? -1 : H_EAX);
		e_xmm_store(j, 0, XMM_FIELD(di->reg));
		break;
	case SJ_GOUT:
		if (!mem)
			e_xmm_load(j, 1, XMM_FIELD(di->rm));
		e_sse_fp(j, di, &f, H_EAX, mem ? -1 : 1);
		e_store_greg(x, H_EAX, di->reg);
		break;
	case SJ_EOUT:
		e_xmm_load(j, 0, XMM_FIELD(di->reg));
		e_sse_fp(j, di, &f, 0, mem ? -1 : H_EAX);
		if (!mem)
			e_store_greg(x, H_EAX, di->rm);
		break;
	}
	cold_back_here(x, first);
	return true;
}

/* The accesses of an inline SSE form, for emit_tlb_choice(): 1 a read,
 * 2 a write, 0 none. */
static int sse_tlb_use(const struct dinsn *di)
{
	struct sse_jit f;

	if (di->kind != DK_SSE || di->rm != DC_NONE || !sse_jit_form(di, &f))
		return 0;
	return f.write ? 2 : 1;
}

/*
 * The register forms that 32-bit and 64-bit blocks write alike, at the
 * entry's size: MOV, the ALU and TEST at every size (bytes by the
 * guest's numbering, greg_sz()), shifts at 4 or 8.
 */
/*
 * SHLD and SHRD of registers whose flags nobody sees: the host's own on
 * the destination's cache, the source in edx, CL in ecx; the host masks
 * the count as the guest does, and a count of 0 changes nothing but a
 * 64-bit upper half, which the MOV after a 32-bit one clears as alu.c
 * does (this host clears it itself; the SDM does not say all will).
 * With the flags seen, the handler.
 */
static bool emit_shxd(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	bool cl = di->op & 2;
	int h;

	if (x->flags_live[x->i])
		return false;
	e_load_greg(x, H_EDX, di->reg, di->size);
	if (cl)
		e_loadz_reg(x, H_ECX, R_ECX, 1);	/* movzx ecx, cl */
	h = rc_reg_of(x, di->rm);
	e_rex(j, di->size == 8, H_EDX, 0, h);
	e8(j, 0x0f);					/* shld/shrd h, edx */
	e8(j, (u8)((di->op & 1 ? 0xac : 0xa4) | cl));
	e8(j, (u8)(0xc0 | H_EDX << 3 | (h & 7)));
	if (!cl)
		e8(j, (u8)di->imm);
	if (x->wide && di->size == 4)
		e_mov_rr(j, h, h, 4);			/* mov h32, h32 */
	e_rc_spill(x, h, di->rm);
	x->flags = FK_UNKNOWN;
	return true;
}

/*
 * BSF and BSR of registers whose flags nobody sees (as SHLD above): the
 * host's own into edx, then CMOVNZ into the destination's old value, for
 * a source of 0 leaves the destination as it was, all of it (a 32-bit
 * result in 64-bit code clears the upper half only when it is written).
 * The host's REP-less form, whatever the guest wrote: ours has no TZCNT
 * or LZCNT.  With the flags seen, the handler.
 */
static bool emit_bitscan(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;

	if (x->flags_live[x->i])
		return false;
	e_load_greg(x, H_ECX, di->rm, di->size);
	e_load_greg(x, H_EAX, di->reg, rc_size(x));
	e_rex(j, di->size == 8, H_EDX, 0, H_ECX);
	e8(j, 0x0f);				/* bsf/bsr edx, ecx */
	e8(j, (u8)(0xbc | di->op));
	e8(j, (u8)(0xc0 | H_EDX << 3 | H_ECX));
	e_rex(j, x->wide, H_EAX, 0, H_EDX);
	e8(j, 0x0f);				/* cmovnz eax, edx */
	e8(j, 0x45);
	e8(j, (u8)(0xc0 | H_EAX << 3 | H_EDX));
	e_store_greg(x, H_EAX, di->reg);
	x->flags = FK_UNKNOWN;
	return true;
}

/*
 * After the host's own BT, BTS, BTR or BTC, whose CF is the guest's: if
 * the flags are seen, that CF goes on top of the lazy state in memory as
 * alu.c reads it (LF_BT_ON), and the host's CF stays the guest's for a
 * JC, JNC, SETC or ADC after it.  The host leaves OF, SF, AF and PF
 * undefined where the guest's keep their values, so they stay in memory.
 */
static void e_bt_flags(struct jctx *x)
{
	struct jit *j = x->j;

	x->flags = FK_UNKNOWN;
	if (!x->flags_live[x->i])
		return;
	_Static_assert(LF_BT_ON == 1u << 16 && LF_BT_CF == 2u << 16,
		       "BT's byte of lf_op");
	ebytes(j, "\x0f\x92\xc0", 3);		/* setc al */
	ebytes(j, "\x8d\x44\x00\x01", 4);	/* lea eax, [rax*2+1] */
	e_rbx(j, "\x88", 1, 0x83, CPU_FIELD(lf_op) + 2);	/* mov [], al */
	x->host_cf_at = j->p;
}

/*
 * BT, BTS, BTR and BTC of a register, by a constant or by a register:
 * the host's own on the destination's cache, which takes the offset
 * modulo the width as the guest's does.
 */
static bool emit_bt_r(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	int kind = di->op & 3, hb = -1, h;

	if (!(di->op & 4))
		hb = rc_reg_of(x, di->reg);
	h = rc_reg_of(x, di->rm);
	e_rex(j, di->size == 8, hb < 0 ? 0 : hb, 0, h);
	e8(j, 0x0f);
	if (hb < 0) {				/* bt* h, imm8 */
		e8(j, 0xba);
		e8(j, (u8)(0xc0 | (4 + kind) << 3 | (h & 7)));
		e8(j, (u8)di->imm);
	} else {				/* bt* h, hb */
		e8(j, (u8)(0xa3 | kind << 3));
		e8(j, (u8)(0xc0 | (hb & 7) << 3 | (h & 7)));
	}
	if (kind)
		e_rc_spill(x, h, di->rm);
	e_bt_flags(x);
	return true;
}

/*
 * The same of memory, through the TLB.  A register offset picks the
 * word it falls in first, signed (rax += offset >> 5 << 2, or >> 6 << 3
 * for 8 bytes), and is then taken modulo the width, for the host's BT of
 * memory would reach as far as the offset says.
 */
static void emit_bt_m(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	int kind = di->op & 3, size = di->size;
	bool imm = di->op & 4;
	u32 first = x->ncold;

	e_ea_any(x, di);
	if (!imm) {
		e_load_greg(x, H_EDX, di->reg, size);
		if (size == 8)	/* sar rdx, 6; lea rax, [rax+rdx*8] */
			ebytes(j, "\x48\xc1\xfa\x06\x48\x8d\x04\xd0", 8);
		else if (x->wide) /* movsxd rdx, edx; sar rdx, 5; lea */
			ebytes(j, "\x48\x63\xd2\x48\xc1\xfa\x05"
			       "\x48\x8d\x04\x90", 11);
		else		/* sar edx, 5; lea eax, [rax+rdx*4] */
			ebytes(j, "\xc1\xfa\x05\x8d\x04\x90", 6);
	}
	e_access(x, di->seg, kind != 0, size);
	if (!imm) {
		e_load_greg(x, H_EDX, di->reg, size);
		ebytes(j, "\x83\xe2", 2);	/* and edx, width - 1 */
		e8(j, (u8)(size * 8 - 1));
	}
	e_rexw(j, size);
	e8(j, 0x0f);
	if (imm) {				/* bt* [rsi+rcx], imm8 */
		e8(j, 0xba);
		e_at(j, 4 + kind, AT_RSI_RCX);
		e8(j, (u8)di->imm);
	} else {				/* bt* [rsi+rcx], edx */
		e8(j, (u8)(0xa3 | kind << 3));
		e_at(j, H_EDX, AT_RSI_RCX);
	}
	e_bt_flags(x);
	cold_back_here(x, first);
	if (x->flags_live[x->i])	/* the cold paths' CF too */
		cold_host_flags(x, first);
}

static bool emit_reg_both(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	int size = di->size, dst;

	if (emit_reg_cached(x, di) || emit_reg_narrow(x, di))
		return true;
	switch (di->kind) {
	case DK_SHXD:
		return emit_shxd(x, di);
	case DK_BITSCAN:
		return emit_bitscan(x, di);
	case DK_BT:
		return di->rm != DC_NONE && emit_bt_r(x, di);
	case DK_MOV_RM_R:
	case DK_MOV_R_RM:
		e_loadz_reg(x, H_EAX, di->kind == DK_MOV_RM_R ? di->reg :
			    di->rm, size);
		e_store_reg_sz(x, di->kind == DK_MOV_RM_R ? di->rm : di->reg,
			       size);
		return true;
	case DK_MOV_RI:
		if (size > 2)
			return false;	/* the modes' own, below */
		e8(j, 0xb8);				/* mov eax, imm */
		e32(j, (u32)di->imm);
		e_store_reg_sz(x, di->rm, size);
		return true;
	case DK_ALU_RM_R:
	case DK_ALU_R_RM:
	case DK_ALU_RI:
		dst = di->kind == DK_ALU_R_RM ? di->reg : di->rm;
		e_carry_in(x, di->op);
		e_loadz_reg(x, H_EAX, dst, size);
		if (di->kind == DK_ALU_RI)
			e_imm_ecx(j, di, size);
		else
			e_loadz_reg(x, H_ECX, di->kind == DK_ALU_R_RM ?
				    di->rm : di->reg, size);
		if (e_alu(x, di->op, size))
			e_store_reg_sz(x, dst, size);
		if (x->alu_host_flags)
			x->host_flags_at = j->p;
		return true;
	case DK_TEST_RR:
	case DK_TEST_RI:
		e_loadz_reg(x, H_EAX, di->rm, size);
		e_test(x, di, di->kind == DK_TEST_RI);
		return true;
	case DK_SHIFT_RI:
		return emit_shift(x, di);
	case DK_SHIFT_CL:
		return emit_shift_cl(x, di);
	case DK_SETCC_R:
	case DK_CMOV_RR:
	case DK_CMOV_RM:
		return emit_setcc_cmov(x, di);
	case DK_MUL:
		return emit_mul(x, di);
	case DK_IMUL:
	case DK_IMUL3:
		return emit_imul(x, di);
	case DK_NOT:
	case DK_NEG:
		return emit_not_neg(x, di);
	case DK_X87:
		return emit_x87(x, di);
	case DK_SSE:
		return emit_sse(x, di);
	}
	return false;
}

/* Register forms: emit, or return false for a handler call. */
static bool emit_reg_form(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;

	if (emit_reg_both(x, di))
		return true;
	if (x->wide)
		return emit_reg_wide(x, di);
	switch (di->kind) {
	case DK_MOV_RI:
		e8(j, 0xb8);				/* mov eax, imm */
		e32(j, (u32)di->imm);
		e_store_reg(x, di->rm);
		return true;
	case DK_LEA:
		e_ea(x, di);
		e_store_reg(x, di->reg);
		return true;
	case DK_MOVX_R:
		e_loadz_reg(x, H_EAX, di->rm, di->size);
		if (di->op) {				/* movsx eax, al/ax */
			e8(j, 0x0f);
			e8(j, di->size == 2 ? 0xbf : 0xbe);
			e8(j, 0xc0);
		}
		e_store_reg(x, di->reg);
		return true;
	case DK_INC:
	case DK_DEC:
		if (x->flags_live[x->i] && !x->deferred[x->i]) {
			/* The host's INC/DEC, with the guest's CF put in
			 * first, leaves the flags the guest's would. */
			e_host_cf(x);
			e_load_greg(x, H_EAX, di->reg, 4);
			ebytes(j, di->kind == DK_INC ? "\xff\xc0" : "\xff\xc8",
			       2);			/* inc/dec eax */
			e_store_reg(x, di->reg);
			x->pend = flags_pend(x);
			x->pend_logic = false;
			if (!x->pend) {
				e_flags_save(x);
				return true;
			}
			x->flags = FK_PEND;
			x->host_flags_at = j->p;
			return true;
		}
		e_load_greg(x, H_EAX, di->reg, 4);	/* add/sub eax, 1 */
		ebytes(j, di->kind == DK_INC ? "\x83\xc0\x01" : "\x83\xe8\x01",
		       3);
		e_store_reg(x, di->reg);
		x->flags = FK_UNKNOWN;
		return true;
	}
	return false;
}

/*
 * SHL, SHR or SAR by a constant, with the flags kept as alu.c keeps them
 * (LF_RES: CF and OF in c->eflags, AF clear): CF is the host's, OF is
 * worked out as alu_shift() does, where the SDM leaves it undefined.  Of
 * a register, or with mem of the operand at rsi (the access made).  A
 * count of 0 means by CL, which the caller has found is not 0 (masked).
 */
static bool emit_shift_flags(struct jctx *x, const struct dinsn *di, u8 ext,
			     u32 count, bool mem)
{
	struct jit *j = x->j;
	int size = di->size;
	u8 top = (u8)(size * 8 - 1);

	if (mem)
		e_loadz_at(j, H_EAX, size, AT_RSI);
	else
		e_loadz_reg(x, H_EAX, di->rm, size);
	e_rexw(j, size);
	ebytes(j, "\x89\xc2", 2);			/* edx = eax */
	e_op_sz(j, size, count ? 0xc1 : 0xd3);		/* op eax, count/cl */
	e8(j, ext);
	if (count)
		e8(j, (u8)count);
	ebytes(j, "\x0f\x92\xc1\x0f\xb6\xc9", 6);	/* ecx = CF */
	if (mem)
		e_store_at(j, H_EAX, size, AT_RSI);
	else
		e_store_reg_sz(x, di->rm, size);
	e_store_q(j, H_EAX, CPU_FIELD(lf_res));
	e_store_imm(j, CPU_FIELD(lf_op), LF(LF_RES, size));
	if (di->op == 7) {				/* OF = 0 */
		ebytes(j, "\x31\xd2", 2);
	} else {		/* OF = old top bit; SHL: new top bit != CF */
		if (di->op != 5) {
			e_rexw(j, size);
			ebytes(j, "\x89\xc2", 2);	/* edx = eax */
		}
		e_rexw(j, size);
		ebytes(j, "\xc1\xea", 2);		/* shr edx, top */
		e8(j, top);
		if (di->op != 5)
			ebytes(j, "\x31\xca", 2);	/* xor edx, ecx */
	}
	ebytes(j, "\xc1\xe2\x0b\x09\xd1", 5);		/* ecx |= edx << 11 */
	e_load(j, H_EAX, CPU_FIELD(eflags));
	e8(j, 0x25);					/* and eax, ~... */
	e32(j, ~(F_CF | F_OF | F_AF));
	ebytes(j, "\x09\xc8", 2);			/* or eax, ecx */
	e_store(j, H_EAX, CPU_FIELD(eflags));
	x->flags = FK_UNKNOWN;
	return true;
}


/*
 * c->eflags made the whole truth, as alu.c's fold() makes it: from the
 * host's redo where the translator knows who set the flags, else by
 * cpu_get_eflags().  A logic result's AF is clear in alu.c, and left
 * undefined by the host's TEST, so it is cleared here.
 */
static void e_fold(struct jctx *x)
{
	struct jit *j = x->j;
	bool logic = x->flags == FK_LOGIC;

	if (x->flags == FK_EFLAGS)
		return;
	if (x->flags != FK_UNKNOWN && e_flags_known(x)) {
		e_flags_from_host(x);
		if (logic) {				/* and [eflags], ~AF */
			e_rbx(j, "\x83", 1, 0xa3, CPU_FIELD(eflags));
			e8(j, (u8)~F_AF);
		}
		return;
	}
	e_get_eflags(j);
	rc_clear(x);
	x->flags = FK_EFLAGS;
}

static void e_shift_cached(struct jctx *x, const struct dinsn *di, u8 op,
			   u32 count);

/*
 * ROL or ROR by a constant, with the flags seen.  SF, ZF, PF and AF stay
 * as they were and CF and OF come from the result, so the flags are left
 * lazy: the result goes to lf_rot and the second byte of lf_op says a
 * rotate came last (LF_ROT()), on top of whatever state c holds (which
 * is consistent: the flags before a rotate whose flags are seen are seen
 * too, and never deferred).  alu.c works them out if anyone asks, which
 * is almost never: they are seen mostly because a fault could see them.
 */
static bool emit_rotate_flags(struct jctx *x, const struct dinsn *di,
			      u32 count)
{
	struct jit *j = x->j;

	e_shift_cached(x, di, 0xc1, count);
	e_rc_q(x, rc_reg_of(x, di->rm), CPU_FIELD(lf_rot));
	/* mov word [lf_op + 1]: the rotate, and no BT above it */
	e_rbx(j, "\x66\xc7", 2, 0x83, CPU_FIELD(lf_op) + 1);
	e8(j, (u8)(LF_ROT(di->op, di->size) >> 8));
	e8(j, 0);
	x->flags = FK_UNKNOWN;
	return true;
}


/*
 * A shift or rotate of a word or a low byte register (32-bit code), by a
 * constant below its width: the host's own on the low part of the
 * register's cache, which leaves the rest of it as the guest's does, or
 * with the flags seen (SHL, SHR, SAR) as a word or byte of memory has
 * them.  AH to BH, the rotates with their flags seen and counts of the
 * width or more (where alu.c makes up what the SDM leaves undefined) go
 * to the handler.
 */
static bool emit_shift_narrow(struct jctx *x, const struct dinsn *di,
			      u32 count, bool live)
{
	if (!shift_ext[di->op] || (live && di->op < 4) ||
	    count >= (u32)di->size * 8 || (di->size == 1 && di->rm >= 4))
		return false;
	if (live)
		return emit_shift_flags(x, di, shift_ext[di->op], count,
					false);
	e_shift_cached(x, di, 0xc1, count);
	return true;
}

/*
 * A shift or rotate by a constant, in 32-bit or 64-bit code: with its
 * flags seen, SHL, SHR, SAR and the rotates as above; RCL and RCR then by
 * their handler.  Unseen, just the host's own.
 */
static bool emit_shift(struct jctx *x, const struct dinsn *di)
{
	u32 count = (u32)di->imm;	/* masked by the decoder */
	bool live = x->flags_live[x->i];

	if (!count) {	/* changes nothing but a 64-bit upper half */
		if (x->wide && di->size == 4) {
			e_load_greg(x, H_EAX, di->rm, 4);
			e_store_reg(x, di->rm);
		}
		return true;
	}
	if (di->size < 4)
		return emit_shift_narrow(x, di, count, live);
	if (live && di->op >= 4)
		return emit_shift_flags(x, di, shift_ext[di->op], count,
					false);
	if (live && di->op < 2)
		return emit_rotate_flags(x, di, count);
	if (live || !shift_ext[di->op])
		return false;
	e_shift_cached(x, di, 0xc1, count);
	return true;
}

/* A shift or rotate of a register whose flags go unseen, on its cache in
 * place: C1 /n by count, or D3 /n by cl (C0 and D2 for a low byte, which
 * in rbp or rdi needs a REX, and a 66 for a word: the rest of the
 * register stays). */
static void e_shift_cached(struct jctx *x, const struct dinsn *di, u8 op,
			   u32 count)
{
	struct jit *j = x->j;
	int h = rc_reg_of(x, di->rm);

	if (di->size == 2)
		e8(j, 0x66);
	if (di->size == 1 && h >= 4 && h < 8)
		e8(j, 0x40);
	else
		e_rex(j, di->size == 8, 0, 0, h);
	e8(j, di->size == 1 ? (u8)(op - 1) : op);
	e8(j, (u8)(shift_ext[di->op] | (h & 7)));
	if (op == 0xc1)
		e8(j, (u8)count);
	e_rc_spill(x, h, di->rm);
	x->flags = FK_UNKNOWN;
}

/*
 * A shift or rotate of a register by CL whose flags nobody sees: the
 * host's own, which masks the count as the guest's does (and with a
 * count of 0 changes nothing but a 64-bit upper half, as the guest's).
 * With the flags seen, SHL, SHR and SAR as by a constant, behind a test
 * of the masked count: 0 changes no flag (the ones before are in memory,
 * as the liveness makes them seen too).  Rotates with theirs seen go to
 * the handler.
 */
static bool emit_shift_cl(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	u8 *zero;

	if (!shift_ext[di->op] || (x->flags_live[x->i] && di->op < 4))
		return false;
	e_loadz_reg(x, H_ECX, R_ECX, 1);		/* movzx ecx, cl */
	if (!x->flags_live[x->i]) {
		e_shift_cached(x, di, 0xd3, 0);
		return true;
	}
	if (x->wide && di->size == 4) {	/* even a count of 0 clears it */
		e_load_greg(x, H_EAX, di->rm, 4);
		e_store_reg(x, di->rm);
	}
	ebytes(j, "\x83\xe1", 2);			/* and ecx, mask */
	e8(j, di->size == 8 ? 63 : 31);
	zero = e_jump(j, JCC_JE, NULL);
	emit_shift_flags(x, di, shift_ext[di->op], 0, false);
	set_rel32(zero, j->p);
	x->flags = FK_UNKNOWN;
	return true;
}

/*
 * 64-bit code.  The same forms as above, at operand size 4 or 8 (the
 * entry's size; dc_kind() gives no other), with 64-bit addresses.  Two
 * rules of the mode shape the code: a 32-bit result is stored as 64 bits
 * with its upper half clear (the host's 32-bit operations leave rax so),
 * and an address is computed in 64 bits, RIP-relative ones from r12.
 * There are no segment checks: FS and GS add their base, and a TLB hit
 * also says the address is canonical (the TLB holds no other), so any
 * other address takes the cold path, whose handler raises the #GP.
 */

/* rax = the effective address of di's memory operand, RIP-relative
 * ones (which have no index) from the block's RIP. */
static void e_ea_wide(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;

	if (di->base != DC_RIP) {
		e_ea(x, di);
		return;
	}
	ebytes(j, "\x49\x8d\x84\x24", 4);	/* lea rax, [r12 + next] */
	e32(j, x->next[x->i]);
	if (di->disp) {					/* add rax, disp */
		ebytes(j, "\x48\x05", 2);
		e32(j, di->disp);
	}
}

/* movzx/movsx eax (rax for sign extension to 8 bytes) from the byte,
 * word or (MOVSXD) dword at rsi+rcx; op 1: sign. */
static void e_loadx(struct jit *j, const struct dinsn *di)
{
	if (di->size == 4) {
		if (di->op && di->osize == 8)
			ebytes(j, "\x48\x63\x04\x0e", 4); /* movsxd rax, [] */
		else
			ebytes(j, "\x8b\x04\x0e", 3);	/* mov eax, [] */
		return;
	}
	if (di->op)
		e_rexw(j, di->osize);
	e8(j, 0x0f);
	e8(j, (u8)((di->op ? 0xbe : 0xb6) | (di->size == 2)));
	ebytes(j, "\x04\x0e", 2);
}

static bool emit_reg_wide(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	int size = di->size;

	switch (di->kind) {
	case DK_MOV_RI:
		if (size == 8) {
			e_movabs(j, 0, di->imm);
		} else {
			e8(j, 0xb8);			/* mov eax, imm */
			e32(j, (u32)di->imm);
		}
		e_store_reg(x, di->rm);
		return true;
	case DK_LEA:
		e_ea_wide(x, di);
		if (size == 4)
			ebytes(j, "\x89\xc0", 2);	/* mov eax, eax */
		e_store_reg(x, di->reg);
		return true;
	case DK_MOVX_R:
		/* from c->r, which must have the register */
		rc_flush_reg(x, greg_of(greg_sz(di->rm, di->size)));
		if (di->size == 4) {	/* MOVSXD */
			e_rexw(j, di->osize);
			e_rbx(j, di->osize == 8 ? "\x63" : "\x8b", 1, 0x83,
			      GREG(di->rm));
		} else {	/* movzx/movsx eax or rax, [rbx + src] */
			char op[2] = { 0x0f, (char)((di->op ? 0xbe : 0xb6) |
						    (di->size == 2)) };

			if (di->op)
				e_rexw(j, di->osize);
			e_rbx(j, op, 2, 0x83, greg_sz(di->rm, di->size));
		}
		e_store_reg(x, di->reg);
		return true;
	}
	return false;
}

/*
 * CALL rel and RET, the stack part: the return address pushed or popped
 * through the TLB as PUSH and POP are, the new EIP stored for RET (the
 * block's end, emit_end(), then chains to a CALL's target or looks up
 * RET's).  In 64-bit code a popped RIP must be canonical, else the
 * handler raises the #GP; a CALL whose target leaves the page is left to
 * its handler too (far_branch_by_handler()).
 */
/* A CALL's push of the address past it (x->next): ESP moves down by
 * size, the access through SS leaves the new ESP in r8 (stored by the
 * caller once nothing can fault any more). */
static void e_push_next(struct jctx *x, int size)
{
	struct jit *j = x->j;

	e_load_greg(x, H_EAX, R_ESP, size);
	e_rexw(j, size);				/* sub eax, size */
	ebytes(j, "\x83\xe8", 2);
	e8(j, (u8)size);
	e_access_esp(x, true, size);
	/* lea edx, [r12+next] (rdx in 64-bit code) */
	ebytes(j, x->wide ? "\x49\x8d\x94\x24" : "\x41\x8d\x94\x24", 4);
	e32(j, x->next[x->i]);
	e_store_at(j, H_EDX, size, AT_RSI_RCX);
}

/* In 64-bit code, to the cold path unless host register h (0-15) holds a
 * canonical address: rdx = h << 16 >> 16 must be h. */
static void e_canonical_or_cold(struct jctx *x, int h)
{
	struct jit *j = x->j;

	e_mov_rr(j, H_EDX, h, 8);
	ebytes(j, "\x48\xc1\xe2\x10\x48\xc1\xfa\x10", 8);
	e_op_rr(j, 0x39, H_EDX, h, 8);			/* cmp rdx, h */
	cold_add(x, e_jump_cold(JCC_JNE));
}

static bool emit_call_ret(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	u32 first = x->ncold;
	int size = x->wide ? 8 : 4;

	if (di->kind != DK_CALLREL && di->kind != DK_RET)
		return false;
	if (di->kind == DK_CALLREL) {
		e_push_next(x, size);
	} else {
		e_load_greg(x, H_EAX, R_ESP, size);
		e_access_esp(x, false, size);
		e_rexw(j, size);
		ebytes(j, "\x8b\x04\x0e", 3);		/* mov eax, [rsi+rcx] */
		if (x->wide)
			e_canonical_or_cold(x, H_EAX);
		/* RIP; a 32-bit EIP was zero-extended by its load */
		e_store_q(j, H_EAX, CPU_FIELD(rip));
		ebytes(j, "\x49\x83\xc0", 3);	/* add r8, size */
		e8(j, (u8)size);
	}
	/* mov [ESP], r8d (r8 in 64-bit code) */
	e_store_greg(x, 8, R_ESP);
	cold_back_here(x, first);
	x->flags = FK_UNKNOWN;
	return true;
}

/*
 * JMP and CALL r/m of the mode's width (FF /4, FF /2), at the end of
 * their block: the target from the register cache or read by one inline
 * access (its cold path the handler, as for every memory form), kept in
 * r9 while CALL pushes the return address as DK_CALLREL does; then RIP =
 * target, and the block's end looks the target's block up as after a RET
 * (emit_find()).  In 64-bit code the target must be canonical: any other
 * takes the cold path before the stack is touched, whose handler raises
 * the #GP with ESP as the instruction found it.  32-bit blocks run only
 * with a 4 GiB CS (lookup()): no limit to check there.
 */
static bool emit_ind_branch(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	u32 first = x->ncold;
	int size = x->wide ? 8 : 4;

	if (di->kind != DK_JMP_IND && di->kind != DK_CALL_IND)
		return false;
	if (di->rm == DC_NONE) {
		e_ea_any(x, di);
		e_access(x, di->seg, false, size);
		e_at_rr(j, 9, size, true);		/* mov r9, [rsi+rcx] */
	} else {
		e_mov_rr(j, 9, rc_reg_of(x, di->rm), size);
	}
	if (x->wide)
		e_canonical_or_cold(x, 9);
	if (di->kind == DK_CALL_IND) {
		e_push_next(x, size);
		e_store_greg(x, 8, R_ESP);		/* ESP = r8 */
	}
	/* RIP = r9; a 32-bit target is zero-extended already */
	e_rbx_h(j, 0x89, 9, CPU_FIELD(rip), true);
	cold_back_here(x, first);
	x->flags = FK_UNKNOWN;
	return true;
}

/*
 * LEAVE (a 32-bit stack, whose flatness emit_tlb_choice() checks, or
 * 64-bit code), XCHG and CMPXCHG with memory, of 4 bytes (8 in 64-bit
 * code), each with one inline access; the cold path is the handler.
 * LEAVE reads the saved EBP through the stack before it writes ESP and
 * EBP, as h_leave() does.  XCHG swaps the operand with a register.
 * CMPXCHG is the interpreter's: the flags of CMP EAX, [m] (lazily, as
 * the ALU forms store them: e_alu()), then [m] = ZF ? r : [m] (written
 * back even when it differs, which in RAM is no change: the access
 * checked that the page may be written) and EAX = ZF ? EAX : [m], both
 * chosen by CMOVs on the host's ZF, so the register cache holds on.  In
 * 64-bit code a dword CMPXCHG that differs clears RAX's upper half, one
 * that matches leaves RAX alone: the CMOV is of all of RAX.  A LOCK
 * prefix shows nowhere with one CPU, here as in the handlers.
 */
static bool emit_mem_swap(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	u32 first = x->ncold;
	int size = di->size, w = rc_size(x), h;

	switch (di->kind) {
	case DK_LEAVE:
		e_load_greg(x, H_EAX, R_EBP, w);
		e_access(x, S_SS, false, w);
		h = rc_host[rc_take(x, R_EBP)];
		e_at_rr(j, h, w, true);			/* EBP = [EBP] */
		e_rc_spill(x, h, R_EBP);
		e_rexw(j, w);				/* lea edx, [rax+w] */
		ebytes(j, "\x8d\x50", 2);
		e8(j, (u8)w);
		e_store_greg(x, H_EDX, R_ESP);
		break;
	case DK_XCHG_M:
		e_ea_any(x, di);
		e_access(x, di->seg, true, size);
		h = rc_reg_of(x, di->reg);
		e_loadz_at(j, H_EDX, size, AT_RSI_RCX);
		e_at_rr(j, h, size, false);
		e_store_greg(x, H_EDX, di->reg);
		break;
	case DK_CMPXCHG_M:
		e_ea_any(x, di);
		e_access(x, di->seg, true, size);
		ebytes(j, "\x48\x01\xce", 3);		/* rsi += rcx */
		e_loadz_at(j, H_ECX, size, AT_RSI);	/* the operand */
		e_load_greg(x, H_EAX, R_EAX, size);
		e_alu(x, 7, size);			/* its flags, ZF */
		e_mov_rr(j, H_EAX, rc_reg_of(x, di->reg), size);
		e_rex(j, size == 8, H_EAX, 0, H_ECX);	/* cmovne eax, ecx */
		ebytes(j, "\x0f\x45\xc1", 3);
		e_store_at(j, H_EAX, size, AT_RSI);
		e_mov_rr(j, H_EDX, rc_reg_of(x, R_EAX), w);
		e_rex(j, w == 8, H_EDX, 0, H_ECX);	/* cmovne edx, ecx */
		ebytes(j, "\x0f\x45\xd1", 3);
		e_store_greg(x, H_EDX, R_EAX);
		cold_back_here(x, first);
		if (x->alu_host_flags)
			host_flags_valid(x, first);
		return true;
	default:
		return false;
	}
	cold_back_here(x, first);
	return true;
}

/* Any other form: its handler, with c->eip where it expects it. */
static void emit_call(struct jctx *x, const struct dinsn *di)
{
	e_x87_flush(x);
	x->x87_ok = false;	/* any handler may change what it checked */
	e_sync_eip(x->j, x->off[x->i], x->wide);
	e_call_fn(x->j, di, di->fn);
	x->flags = FK_UNKNOWN;
	if (di->mem && x->i + 1 < x->b->n)
		x->intr_at[x->i] = e_check_intr(x->j);
}

static const u8 *find(struct cpu *c);

/* rax = the linear address of CS:EIP (RIP in 64-bit code), as find()
 * makes it: in 32-bit code the sum wraps at 4 GiB. */
static void e_fetch_lin(struct jctx *x)
{
	struct jit *j = x->j;

	if (x->wide) {					/* mov rax, [rip] */
		e_rbx(j, "\x48\x8b", 2, 0x83, CPU_FIELD(rip));
		return;
	}
	e_load(j, H_EAX, CPU_FIELD(eip));
	e_rbx(j, "\x03", 1, 0x83, CPU_FIELD(seg) +	/* add eax, CS.base */
	      (size_t)S_CS * sizeof(struct seg) + offsetof(struct seg, base));
}

#define RECENT_FIELD(f) offsetof(struct jrecent, f)

/*
 * rsi = the host address of the code at linear address rax, through the
 * CPL's TLB (r13, which the trampoline loads, or the empty one a block
 * whose segments rule the TLB out put there: then find() looks) as
 * code_host() would find it without a walk: the entry must
 * be this page's (which in 64-bit code also says rax is canonical: the
 * TLB holds no other, and only pages of RAM) and not a data access's to
 * an NX page.  Either not so jumps to the returned rel32 fields (two of
 * them, in miss[]), where find() decides.
 */
static void e_fetch_tlb(struct jit *j, u8 **miss)
{
	ebytes(j, "\x48\x89\xc1", 3);			/* mov rcx, rax */
	ebytes(j, "\x48\xc1\xe9\x0c", 4);		/* shr rcx, 12 */
	ebytes(j, "\x89\xce", 2);			/* mov esi, ecx */
	ebytes(j, "\x81\xe6", 2);			/* and esi, 1023 */
	e32(j, TLB_SIZE - 1);
	ebytes(j, "\xc1\xe6\x04", 3);			/* shl esi, 4 */
	ebytes(j, "\x49\x8d\x54\x35\x00", 5);	/* lea rdx, [r13+rsi] */
	ebytes(j, "\x48\xff\xc1", 3);			/* inc rcx */
	ebytes(j, "\x48\x39\x8a", 3);			/* cmp [rdx+vpage], rcx */
	e32(j, (u32)offsetof(struct tlb_entry, vpage));
	miss[0] = e_jump(j, JCC_JNE, NULL);
	ebytes(j, "\x80\xba", 2);			/* cmp byte [noexec], 0 */
	e32(j, TLB_INFO_OFF + offsetof(struct tlb_info, noexec));
	e8(j, 0);
	miss[1] = e_jump(j, JCC_JNE, NULL);
	ebytes(j, "\x48\x8b\xb2", 3);		/* mov rsi, [rdx+addend] */
	e32(j, (u32)offsetof(struct tlb_entry, addend));
	ebytes(j, "\x48\x01\xc6", 3);			/* add rsi, rax */
}

/*
 * From rsi, the host address of CS:EIP: on to its block if j->recent has
 * it, of this block's mode; out to the dispatcher if the block there
 * starts with a slow instruction; else to miss[0] or miss[1].
 */
static void e_recent(struct jctx *x, u8 **miss)
{
	struct jit *j = x->j;

	_Static_assert(sizeof(struct jrecent) == 32, "j->recent entry size");
	ebytes(j, "\x69\xd6", 2);			/* imul edx, esi, K */
	e32(j, 2654435761u);
	ebytes(j, "\xc1\xea", 2);			/* shr edx, 32 - bits */
	e8(j, 32 - JIT_RECENT_BITS);
	ebytes(j, "\xc1\xe2\x05", 3);			/* shl edx, 5 */
	e_movabs(j, 1, (u64)(uintptr_t)j->recent);
	ebytes(j, "\x48\x01\xd1", 3);			/* add rcx, rdx */
	ebytes(j, "\x48\x39\x71", 3);			/* cmp [rcx+host], rsi */
	e8(j, RECENT_FIELD(host));
	miss[0] = e_jump(j, JCC_JNE, NULL);
	ebytes(j, "\x80\x79", 2);			/* cmp byte [mode], */
	e8(j, RECENT_FIELD(mode));
	e8(j, x->wide ? 8 : 4);
	miss[1] = e_jump(j, JCC_JNE, NULL);
	ebytes(j, "\x48\x8b\x41", 3);			/* mov rax, [rcx+code] */
	e8(j, RECENT_FIELD(code));
	ebytes(j, "\x48\x85\xc0", 3);			/* test rax, rax */
	e_jump(j, JCC_JE, x->normal);
	ebytes(j, "\xff\xe0", 2);			/* jmp rax */
}

static const u8 *find_link(struct cpu *c, u8 *ic);

/* The n jumps in miss come here, to find() (to find_link(c, ic) if ic),
 * and on to the code it returns, or out to the dispatcher. */
static void e_call_find(struct jctx *x, u8 **miss, int n, u8 *ic)
{
	struct jit *j = x->j;

	while (n--)
		set_rel32(miss[n], j->p);
	e_cpu_arg(j);
	if (ic)
		e_movabs(j, 6, (u64)(uintptr_t)ic);	/* mov rsi, ic */
	e_movabs(j, 0, ic ? (u64)(uintptr_t)find_link :
		     (u64)(uintptr_t)find);
	ebytes(j, "\xff\xd0\x48\x85\xc0", 5);	/* call rax; test rax */
	e_jump(j, JCC_JE, x->normal);
	ebytes(j, "\xff\xe0", 2);			/* jmp rax */
}

/* In e_find()'s code, from the linked host address (the movabs's
 * immediate) to the rel32 of the jump to the linked entry: the immediate,
 * cmp rsi, rcx (3) and jne rel32 (6), then the jump's opcode. */
#define JIT_LINK_REL (8 + 3 + 6 + 1)

/*
 * On to the block at CS:EIP without leaving translated code, after a RET,
 * an indirect jump or call, or a jump to another page.  This is find()
 * written out in host code, for its common case, with a link for the
 * commonest of all: the exit that goes where it went last.
 *
 * First the CPL's TLB entry for CS:EIP must be the page's, with RAM
 * behind it; then the host address it leads to is compared with the one
 * linked into this code (its movabs), and if they are equal, the jump
 * after it goes straight to the block there.  The link is made by
 * find_link() the first time a lookup from here succeeds, and kept, not
 * moved, so that a RET that returns to many places does not patch its
 * code back and forth: those (half the RETs in the busybox shell loop,
 * against a tenth of the indirect jumps and none of the jumps to other
 * pages) go on to j->recent, of this block's mode, and jump to what it
 * holds.  Anything else, find() itself, called from here, decides: it
 * may still find the block in the table; if not, out to the dispatcher,
 * which translates.
 *
 * Both ways are as safe as find(): the TLB entry is the page's as the
 * guest maps it now (a remap or INVLPG empties it), and the block at
 * that host address is the one the table holds, or one that stays right
 * for it: a block whose bytes change is caught by its own check on
 * entry, and a translation in its place patches the old entry into a
 * jump to the new one.  A flush empties j->recent and the arena, the
 * links with it.  Nothing a translated block runs changes the mode, CS
 * or the CPL (those are the interpreter's, and the dispatcher looks
 * again after them).  Each exit has its own copy, so that the host's
 * predictor learns each one's targets apart.
 */
static void e_find(struct jctx *x)
{
	struct jit *j = x->j;
	u8 *miss[4], *ic, *other, *unlinked;

	e_fetch_lin(x);
	e_fetch_tlb(j, miss);
	ic = j->p + 2;
	e_movabs(j, 1, 0);			/* mov rcx, linked host (none) */
	ebytes(j, "\x48\x39\xce", 3);			/* cmp rsi, rcx */
	other = e_jump(j, JCC_JNE, NULL);
	if (e_jump(j, JMP, x->normal) != ic + JIT_LINK_REL)
		abort();				/* jmp linked entry */
	set_rel32(other, j->p);
	ebytes(j, "\x48\x85\xc9", 3);			/* test rcx, rcx */
	unlinked = e_jump(j, JCC_JE, NULL);
	e_recent(x, miss + 2);
	e_call_find(x, miss, 4, NULL);
	set_rel32(unlinked, j->p);
	e_call_find(x, NULL, 0, ic);
}

/*
 * Leave for the block at page offset off of this page (block offset
 * boff): in the page, by a jump that the dispatcher patches (JX_CHAIN) to
 * go straight there once it has the block; in another page, through
 * e_find(), whose TLB lookup the page's mapping needs.
 *
 * A device's INTR or stop request is looked at here only where the guest
 * could otherwise go round for ever without it: on a jump back (to this
 * block or before it) and on one to another page.  A run of jumps forward
 * within a page gets to the page's end, or to one of those, in a few
 * blocks, each of which charges the budget on entry.
 *
 * st is the register cache at the jump.  A chain in the page hands it
 * on: only its ways back to the dispatcher store what c->r lacks, and
 * the jump, once patched, goes to the next block's hot entry with the
 * registers where that block wants them (link_chain()).  The way to
 * another page stores them all first.
 */
static void emit_chain(struct jctx *x, const u8 *page, s64 off, u32 boff,
		       const struct rc_state *st)
{
	struct jit *j = x->j;
	bool far = off < 0 || off > 0xfff;
	u8 *at, *intr = NULL;

	e_sync_eip(j, boff, x->wide);
	if (far) {
		emit_rc_stores(x, st);
		set_rel32(e_check_intr(j), x->normal);
		e_find(x);		/* another page */
		return;
	}
	if ((s32)boff <= 0)
		intr = e_check_intr(j);
	/* mov r12, rax: the target's EIP, for its chain entry */
	ebytes(j, x->wide ? "\x49\x89\xc4" : "\x41\x89\xc4", 3);
	at = e_jump(j, JMP, NULL);
	set_rel32(at, j->p);
	emit_rc_stores(x, st);
	e_movabs(j, 0, (u64)(uintptr_t)at);
	e_rbx(j, "\x48\x89", 2, 0x83, CPU_FIELD(jit_chain_at));
	e_movabs(j, 0, (u64)(uintptr_t)(page + off));
	e_rbx(j, "\x48\x89", 2, 0x83, CPU_FIELD(jit_chain_host));
	e_rbx(j, "\xc7", 1, 0x83, CPU_FIELD(jit_chain_need));
	e32(j, x->b->need);
	e_movabs(j, 0, rc_state_code(st, x->wide));
	e_rbx(j, "\x48\x89", 2, 0x83, CPU_FIELD(jit_chain_rc));
	e_exit(j, JX_CHAIN);
	while (j->p - (at - 1) < JIT_ADAPTER_MAX)
		e8(j, 0xcc);		/* int3: room for link_chain() */
	if (!intr)
		return;
	set_rel32(intr, j->p);
	emit_rc_stores(x, st);
	e_jump(j, JMP, x->normal);
}

/* After RET or an indirect jump: on to the block at the new EIP if there
 * is one already, else out to the dispatcher. */
static void emit_find(struct jctx *x)
{
	set_rel32(e_check_intr(x->j), x->normal);
	e_find(x);
}

/* setcc al, for condition cc */
static void e_setcc(struct jit *j, int cc)
{
	e8(j, 0x0f);
	e8(j, (u8)(0x90 | cc));
	e8(j, 0xc0);
}

/*
 * The host's flags made those of a lazy state of kind (LF_SUB, LF_ADD,
 * LF_LOGIC or LF_HOST) and size from its fields: the CMP or ADD of src1
 * and src2 redone, a TEST of the result, or the saved flags loaded back
 * (OF by an ADD to the byte SETO made that overflows just when it is 1).
 * Changes rax.
 */
static void e_redo_flags(struct jit *j, int kind, int size)
{
	if (kind == LF_HOST) {		/* eax = the saved AH:OF */
		ebytes(j, "\x0f\xb7", 2);	/* movzx eax, word [] */
		e_field(j, 0x83, CPU_FIELD(lf_res));
		ebytes(j, "\x04\x7f\x9e", 3);	/* add al, 127; sahf */
		return;
	}
	e_rexw(j, size);				/* mov eax, [] */
	e_rbx(j, "\x8b", 1, 0x83, kind == LF_LOGIC ? CPU_FIELD(lf_res) :
					       CPU_FIELD(lf_src1));
	if (kind == LF_LOGIC) {				/* test eax, eax */
		e_op_sz(j, size, 0x85);
		e8(j, 0xc0);
		return;
	}
	/* cmp or add eax, src2 (al, ax or rax by the size) */
	e_op_sz(j, size, kind == LF_SUB ? 0x3b : 0x03);
	e_field(j, 0x83, CPU_FIELD(lf_src2));
}

/*
 * The host's flags made the guest's, for a condition, where the translator
 * knows who set them last in the block: by redoing the operation on the
 * host (at its size), or from c->eflags.  False where it does not know.
 */
static bool e_flags_known(struct jctx *x)
{
	struct jit *j = x->j;

	if (x->host_flags_at == j->p)
		return true;	/* nothing since has changed them */
	switch (x->flags) {
	case FK_SUB:
	case FK_ADD:
	case FK_LOGIC:
		e_redo_flags(j, x->flags == FK_SUB ? LF_SUB :
			     x->flags == FK_ADD ? LF_ADD : LF_LOGIC, x->fsize);
		return true;
	case FK_HOST:
		e_redo_flags(j, LF_HOST, 4);
		return true;
	case FK_EFLAGS:
		e_load(j, H_EAX, CPU_FIELD(eflags));
		e_sahf_eflags(j);
		return true;
	case FK_PEND:	/* the host's changed before they were kept */
		abort();
	}
	return false;
}

/*
 * A routine that translated code calls where it must test the guest's
 * flags without knowing which lazy state they are in (at a block's start,
 * after a handler): it makes them the host's, all six, and returns.  The
 * states blocks leave most are told apart here and the operation redone
 * on the host at its size (a CMP or SUB, a logic result, an ADD, or the
 * flags whole in c->eflags); any other is folded by cpu_get_eflags(),
 * around which the cached registers that C may clobber are kept; from
 * c->eflags as e_sahf_eflags() makes them.  One copy for all blocks,
 * where an inline one took 175 bytes at each use.  It changes rax and
 * rcx.
 */
static void emit_flags_in(struct jit *j)
{
	static const struct { u8 kind, size; } redo[] = {
		{ LF_SUB, 4 }, { LF_LOGIC, 4 }, { LF_SUB, 1 }, { LF_LOGIC, 1 },
		{ LF_ADD, 4 }, { LF_SUB, 8 }, { LF_LOGIC, 8 }, { LF_HOST, 4 },
	};
	u8 *not_this, *from_eflags, *eflags;
	size_t k;

	j->flags_in = j->p;
	e_load(j, H_ECX, CPU_FIELD(lf_op));
	ebytes(j, "\x85\xc9", 2);			/* test ecx, ecx */
	_Static_assert(LF_NONE == 0, "LF_NONE tested as zero");
	from_eflags = e_jump(j, JCC_JE, NULL);
	for (k = 0; k < ARRAY_SIZE(redo); k++) {
		int size = redo[k].size;

		e8(j, 0x81);				/* cmp ecx, op */
		e8(j, 0xf9);
		e32(j, (u32)LF(redo[k].kind, size));
		not_this = e_jump(j, JCC_JNE, NULL);
		e_redo_flags(j, redo[k].kind, size);
		e8(j, 0xc3);				/* ret */
		set_rel32(not_this, j->p);
	}
	/* Entered by a call: rsp is 8 off the 16 a call out needs. */
	ebytes(j, "\x57\x41\x52\x41\x53", 5);	/* push rdi, r10, r11 */
	e_get_eflags(j);
	ebytes(j, "\x41\x5b\x41\x5a\x5f", 5);	/* pop r11, r10, rdi */
	eflags = e_jump(j, JMP, NULL);
	set_rel32(from_eflags, j->p);
	e_load(j, H_EAX, CPU_FIELD(eflags));
	set_rel32(eflags, j->p);
	e_sahf_eflags(j);
	e8(j, 0xc3);					/* ret */
}

/*
 * The guest's flags on entry to a block, or after a handler, which the
 * translator does not know: made the host's by emit_flags_in()'s routine
 * (which keeps the cached registers), then al = condition cc, or for cc
 * -1 just the host's CF.  The host's flags are the guest's after it.
 */
static void e_flags_unknown(struct jctx *x, int cc)
{
	struct jit *j = x->j;
	s32 rel;

	e8(j, 0xe8);					/* call flags_in */
	rel = (s32)(j->flags_in - (j->p + 4));
	e32(j, (u32)rel);
	x->host_flags_at = j->p;
	if (cc >= 0)
		e_setcc(j, cc);
}

/* Does condition cc read CF alone (B, AE), which a BT just left in the
 * host's CF (host_cf_at)? */
static bool cf_ready(const struct jctx *x, int cc)
{
	return (cc & 15) >> 1 == 1 && x->host_cf_at == x->j->p;
}

/* al = condition cc, 1 or 0. */
static void e_cond_al(struct jctx *x, int cc)
{
	if (cf_ready(x, cc) || e_flags_known(x))
		e_setcc(x->j, cc);
	else
		e_flags_unknown(x, cc);
}

/* Jcc: returns the jump taken. */
static u8 *emit_cond_jump(struct jctx *x, const struct dinsn *di)
{
	if (!cf_ready(x, di->op) && !e_flags_known(x))
		e_flags_unknown(x, -1);
	return e_jump_cold((u8)(0x80 | di->op));
}

/*
 * CLI and STI, which the kernel runs around every lock that interrupts
 * take too: inline at CPL 0, where neither can fault; elsewhere (IOPL
 * decides) the handler, as a cold path.  STI that finds IF clear opens
 * the interrupt shadow, as exec_cli_sti() does, and the block looks for
 * an interrupt after it (the run loop takes one past the shadow).
 */
static void emit_cli_sti(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	u32 first = x->ncold;

	e_rbx(j, "\x83", 1, 0xbb, CPU_FIELD(cpl));	/* cmp [cpl], 0 */
	e8(j, 0);
	e_cold_if(x, JCC_JNE);
	if (di->op == 0xfa) {				/* and [], ~IF */
		e_rbx(j, "\x81", 1, 0xa3, CPU_FIELD(eflags));
		e32(j, ~(u32)F_IF);
	} else {
		e_load(j, H_EAX, CPU_FIELD(eflags));
		e8(j, 0xa9);				/* test eax, IF */
		e32(j, F_IF);
		ebytes(j, "\x0f\x94\xc2", 3);		/* sete dl */
		e_rbx(j, "\x08", 1, 0x93, CPU_FIELD(intr_shadow));
		e8(j, 0x0d);				/* or eax, IF */
		e32(j, F_IF);
		e_store(j, H_EAX, CPU_FIELD(eflags));
	}
	cold_back_here(x, first);
	if (di->op == 0xfb && x->i + 1 < x->b->n) {
		e_sync_eip(j, x->next[x->i], x->wide);	/* the way out's */
		x->intr_at[x->i] = e_check_intr(j);
	}
}

/*
 * Forms that need no more than a host instruction or none, in 32-bit and
 * 64-bit code alike: NOP and PAUSE (one guest CPU: nothing to pause
 * for), the fences, BSWAP on the register's cache, and CLD and STD on
 * c->eflags (which holds DF whatever the lazy flags are doing).  Only
 * MFENCE is kept, as the host's: the virtio rings are shared with the
 * I/O threads, and the guest's barrier between its store of an index
 * and its load of the other side's must hold on the host too.  LFENCE
 * and SFENCE order nothing that the host's own ordering does not.
 */
static bool emit_simple_form(struct jctx *x, const struct dinsn *di)
{
	struct jit *j = x->j;
	bool host_flags = x->host_flags_at == j->p;
	int h;

	switch (di->kind) {
	case DK_NOP:
		break;
	case DK_FENCE:
		if (di->op == 6)
			ebytes(j, "\x0f\xae\xf0", 3);	/* mfence */
		break;
	case DK_BSWAP:
		h = rc_reg_of(x, di->rm);
		e_rex(j, di->size == 8, 0, 0, h);
		e8(j, 0x0f);
		e8(j, (u8)(0xc8 | (h & 7)));		/* bswap h */
		e_rc_spill(x, h, di->rm);
		break;
	case DK_CLD_STD:
		if (di->op == 0xfc) {			/* and [], ~DF */
			e_rbx(j, "\x81", 1, 0xa3, CPU_FIELD(eflags));
			e32(j, ~(u32)F_DF);
		} else {				/* or [], DF */
			e_rbx(j, "\x81", 1, 0x8b, CPU_FIELD(eflags));
			e32(j, F_DF);
		}
		return true;
	case DK_CLI_STI:
		emit_cli_sti(x, di);
		return true;
	default:
		return false;
	}
	if (host_flags)
		x->host_flags_at = j->p;
	return true;
}

/* A way out after instruction i: the budget the block charged on entry
 * for the instructions after it given back. */
static void e_refund(struct jctx *x, u32 i)
{
	e_uncharge(x->j, x->b->n - 1 - i);
}

static bool e_adapt(struct jit *j, const struct rc_state *from,
		    const struct rc_state *to, bool wide);

/*
 * Loops within a block.  A jump back to an instruction of its own block
 * (a loop's, whose body the block holds from that instruction on) goes
 * there inside the block, not out and in again by a chain: it checks for
 * an interrupt, charges the budget for the instructions from there to
 * the end (less those it did not run after itself), moves the cached
 * registers to where the code there has them, and jumps.  What the
 * translator knows on the way through such a head (the flags' state, the
 * host's flags, the x87's checks) it forgets there, as at a block's
 * start, since the jump back brings its own; the flags in memory are
 * whole there on both ways, or dead on both.  The window goes too, unless
 * nothing on the way round writes its register: the stack frame's window
 * of a loop that moves no ESP is checked once, before the loop.  The
 * registers, r12 (the block's EIP) and r13 (its TLB) hold on the way back
 * as they did.  Only the way out by a chain is left where the budget runs
 * out or an interrupt waits.
 */

/* The loop heads of the block: its instructions that a Jcc or the last
 * JMP goes back to (a jump forward to one leaves by a chain). */
static void loop_heads(struct jctx *x)
{
	const struct dinsn *di;
	u32 i, m, to, w;

	memset(x->back_to, -1, sizeof(x->back_to));
	if (x->b->thunk_host)	/* offsets out of order */
		return;
	for (i = 0; i < x->b->n; i++) {
		di = &x->b->d[i];
		if (di->kind != DK_JCC &&
		    (di->kind != DK_JMP || i + 1 != x->b->n))
			continue;
		to = x->next[i] + (u32)di->imm;
		for (m = 0; m + 1 < x->b->n && x->off[m] <= x->off[i]; m++)
			if (x->off[m] == to) {
				x->head[m] = true;
				x->back_to[i] = (s8)m;
			}
	}
	for (i = x->b->n, w = 0; i-- > 0;) {
		w |= win_regs_written(&x->b->d[i]);
		x->head_writes[i] = w;
	}
}

/* The straight way through loop head x->i: the state both ways share. */
static void loop_head_here(struct jctx *x)
{
	if (x->pend) {
		x->host_flags_at = x->j->p;
		flags_settle_before(x, x->i);
	}
	e_x87_flush(x);
	x->pend = false;
	x->flags = FK_UNKNOWN;
	x->host_flags_at = NULL;
	x->host_cf_at = NULL;
	x->alu_host_flags = false;
	x->x87_ok = false;
	if (x->win_ready >= 0 &&
	    x->head_writes[x->i] & 1u << x->win_reg[x->win_ready])
		x->win_ready = -1;	/* its key ended (win_plan()) */
	x->head_at[x->i] = x->j->p;
	x->head_rc[x->i] = rc_state_now(x);
}

/*
 * The jump back of instruction i, with cache st, to loop head m: round
 * again, or where an interrupt waits or the budget is spent, the chain's
 * way out (emit_chain(), after the refund of what i did not run).
 */
static void emit_loop_back(struct jctx *x, u32 i, u32 m,
			   const struct rc_state *st, const u8 *page,
			   u32 off, u32 to)
{
	struct jit *j = x->j;
	u8 *intr, *over;

	intr = e_check_intr(j);
	over = emit_budget(j, i + 1 - m);
	e_adapt(j, st, &x->head_rc[m], x->wide);
	e_jump(j, JMP, x->head_at[m]);
	set_rel32(over, j->p);
	e_uncharge(j, i + 1 - m);
	set_rel32(intr, j->p);
	if (i + 1 < x->b->n)
		e_refund(x, i);
	emit_chain(x, page, (s64)off + to, to, st);
}

/*
 * A conditional jump that does not end its block: the block goes on with
 * the instruction after it, where the guest falls through, and the jump
 * taken leaves by a way out of its own after the block (emit_side_exits()),
 * as the end's would (or goes round a loop in the block, emit_loop_back()).
 * The way on is entered only from the jump, so what the translator knows
 * about the registers and the flags holds on past it, and the host's
 * flags, which a Jcc does not change, stay the guest's.  Blocks run on
 * past their jumps forward and back alike: the code after a loop's jump
 * back is usually the loop's end, run once.
 */
static void emit_side_exit(struct jctx *x, const struct dinsn *di)
{
	bool host_flags = x->host_flags_at == x->j->p;

	x->side[x->nside].i = x->i;
	x->side[x->nside].pend = x->pend;
	x->side[x->nside].pend_logic = x->pend_logic;
	x->side[x->nside].from = emit_cond_jump(x, di);
	x->side[x->nside++].at = rc_state_now(x);
	if (host_flags)
		x->host_flags_at = x->j->p;
}

/*
 * The side exits' ways out: the block charged the budget for all its
 * instructions on entry, so each gives back those it did not run, then
 * leaves for the jump's target as the end of a block would.
 */
static void emit_side_exits(struct jctx *x, const u8 *page, u32 off)
{
	struct jit *j = x->j;
	const struct dinsn *di;
	u32 k, i, to;

	for (k = 0; k < x->nside; k++) {
		i = x->side[k].i;
		di = &x->b->d[i];
		to = x->next[i] + (u32)di->imm;
		set_rel32(x->side[k].from, j->p);
		if (x->side[k].pend)	/* the host's are still theirs */
			e_pend_store(j, x->side[k].pend_logic);
		if (x->back_to[i] >= 0) {
			emit_loop_back(x, i, (u32)x->back_to[i],
				       &x->side[k].at, page, off, to);
			continue;
		}
		e_refund(x, i);
		emit_chain(x, page, (s64)off + (s32)to, to, &x->side[k].at);
	}
}

/* The way out after the last instruction, by what it does to EIP. */
static void emit_end(struct jctx *x, const u8 *page, u32 off, bool slow_next,
		     const struct rc_state *st)
{
	struct jit *j = x->j;
	const struct dinsn *last = &x->b->d[x->b->n - 1];
	u32 fall = x->next[x->b->n - 1], taken = fall + (u32)last->imm;
	u8 *to_taken;
	int head;

	switch (last->kind) {
	case DK_JCC:
		to_taken = emit_cond_jump(x, last);
		if (x->pend)
			e_pend_store(j, x->pend_logic);
		emit_chain(x, page, (s64)off + fall, fall, st);
		set_rel32(to_taken, j->p);
		if (x->pend)
			e_pend_store(j, x->pend_logic);
		x->pend = false;
		/* fall through */
	case DK_JMP:
		head = x->back_to[x->b->n - 1];
		if (head >= 0)
			emit_loop_back(x, x->b->n - 1, (u32)head, st, page,
				       off, taken);
		else
			emit_chain(x, page, (s64)off + fall + (s32)last->imm,
				   taken, st);
		return;
	}
	if (last->flow == DF_CALL) {
		emit_chain(x, page, (s64)off + fall + (s32)last->imm, taken,
			   st);
		return;
	}
	if (last->flow == DF_NEXT && !slow_next) {
		emit_chain(x, page, (s64)off + fall, fall, st);
		return;
	}
	emit_rc_stores(x, st);
	if (last->flow == DF_NEXT) {
		e_sync_eip(j, fall, x->wide);	/* the dispatcher's next */
		e_jump(j, JMP, x->normal);
	} else if (last->flow == DF_LEAVE) {	/* jit_run() sets up */
		e_jump(j, JMP, x->normal);
	} else {
		emit_find(x);			/* EIP from the handler */
	}
}

/*
 * Which segments inline accesses may use straight through the TLB (the
 * others are c->jit_unflat): those flat and plainly usable (base 0 but for
 * FS and GS, a 4 GiB limit, present data, writable for bit 8 + s; a
 * 32-bit stack for SS).  Worked out before translated code runs, which
 * loads no segment and changes no CPL (the instructions that do end their
 * block, DF_LEAVE, or are the interpreter's, between blocks).
 */
static u32 flat_segments(const struct cpu *c)
{
	u32 ok = 0, big;
	int s;

	for (s = 0; s < 6; s++) {
		const struct seg *g = &c->seg[s];

		big = s == S_SS ? 0x4000u : 0;
		if (g->limit != 0xffffffffu ||
		    (s != S_FS && s != S_GS && (u32)g->base))
			continue;
		if ((g->attr & ((SEG_FAST_MASK & ~2u) | big)) ==
		    (SEG_FAST_READ | big))
			ok |= 1u << s;
		if ((g->attr & (SEG_FAST_MASK | big)) == (SEG_FAST_WRITE | big))
			ok |= 0x100u << s;
	}
	return ok;
}

/* What the blocks about to run take as given (c->jit_unflat, jit_tlb). */
static void jit_prepare(struct cpu *c)
{
	c->jit_unflat = cpu_64bit(c) ? 0 : ~flat_segments(c);
	c->jit_tlb = &c->tlb[c->cpl == 3];
}

/* The segments that emit_ind_branch()'s and emit_mem_swap()'s accesses
 * read (rd) and write (wr), a bit each. */
static void swap_branch_tlb_use(const struct dinsn *di, u32 *rd, u32 *wr)
{
	switch (di->kind) {
	case DK_CALL_IND:
		*wr |= 1u << S_SS;
		__attribute__((fallthrough));
	case DK_JMP_IND:
		if (di->rm == DC_NONE)
			*rd |= 1u << di->seg;
		break;
	case DK_LEAVE:
		*rd |= 1u << S_SS;
		break;
	case DK_XCHG_M:
	case DK_CMPXCHG_M:
		*wr |= 1u << di->seg;
		break;
	}
}

/*
 * Which TLB the block's inline accesses use: the CPL's, unless a segment
 * they go through is not flat and plainly usable (c->jit_unflat), when it
 * is an empty one and every access takes its cold path.
 */
static void emit_tlb_choice(struct jctx *x)
{
	struct jit *j = x->j;
	u32 rd = 0, wr = 0, i, need;
	int x87_size;
	u8 *bad, *done;
	const struct dinsn *di;

	for (i = 0; i < x->b->n; i++) {
		di = &x->b->d[i];
		if (di->kind == DK_PUSH_M)
			rd |= 1u << di->seg;
		if (sse_tlb_use(di))
			*(sse_tlb_use(di) == 2 ? &wr : &rd) |= 1u << di->seg;
		if (di->kind == DK_X87 && di->rm == DC_NONE &&
		    fpu_inline_form(di->op, (u8)di->imm, &x87_size))
			*(x87_size < 0 ? &wr : &rd) |= 1u << di->seg;
		if (di->kind == DK_LOAD || di->kind == DK_ALU_R_M ||
		    di->kind == DK_LOADX || di->kind == DK_TEST_M_R ||
		    di->kind == DK_TEST_M_I ||
		    (di->rm == DC_NONE && (di->kind == DK_MUL ||
					   di->kind == DK_IMUL ||
					   di->kind == DK_IMUL3 ||
					   di->kind == DK_CMOV_RM)) ||
		    ((di->kind == DK_ALU_M_R || di->kind == DK_ALU_M_I) &&
		     di->op == 7))
			rd |= 1u << di->seg;
		else if (di->kind == DK_STORE || di->kind == DK_STORE_I ||
			 di->kind == DK_ALU_M_R || di->kind == DK_ALU_M_I ||
			 di->kind == DK_INCDEC_M || di->kind == DK_SHIFT_M ||
			 (di->rm == DC_NONE && (di->kind == DK_NOT ||
						di->kind == DK_NEG)))
			wr |= 1u << di->seg;
		else if (di->kind == DK_PUSH || di->kind == DK_PUSH_I ||
			 di->kind == DK_PUSH_M || di->kind == DK_PUSHF ||
			 di->kind == DK_POP || di->kind == DK_CALLREL ||
			 di->kind == DK_RET)
			wr |= 1u << S_SS;
		swap_branch_tlb_use(di, &rd, &wr);
		if (di->kind == DK_BT && di->rm == DC_NONE)
			*(di->op & 3 ? &wr : &rd) |= 1u << di->seg;
		if (di->kind == DK_MOVS || di->kind == DK_LODS)
			rd |= 1u << di->seg;
		if (di->kind == DK_MOVS || di->kind == DK_STOS)
			wr |= 1u << S_ES;
		if (di->kind == DK_REP_STR) {
			wr |= 1u << S_ES;
			if ((di->op & ~1) == 0xa4)
				rd |= 1u << ((s8)di->seg >= 0 ? di->seg : S_DS);
		}
	}
	x->b->need = 0;
	if (!(rd | wr))
		return;
	/* mov r13, [jit_tlb]: the CPL's */
	e_rbx(j, "\x4c\x8b", 2, 0xab, CPU_FIELD(jit_tlb));
	if (x->wide)
		return;
	need = rd | wr << 8;
	x->b->need = need;
	e_rbx(j, "\xf7", 1, 0x83, CPU_FIELD(jit_unflat)); /* test [], need */
	e32(j, need);
	bad = e_jump(j, JCC_JNE, NULL);
	done = j->p;
	/* Out of line, after the block: r13 = the empty TLB. */
	x->tlb_bad = bad;
	x->tlb_back = done;
}

/*
 * Whether the flags before di are seen, given whether those after it are
 * (live): di sets them all (not seen), passes them on (as after), or may
 * fault or read them (seen).
 */
static bool flags_live_before(const struct dinsn *di, bool live)
{
	switch (di->kind) {
	case DK_MOV_RM_R:
	case DK_MOV_R_RM:
	case DK_MOV_RI:
	case DK_LEA:
	case DK_MOVX_R:
	case DK_NOP:
	case DK_FENCE:
	case DK_BSWAP:
	case DK_JMP:
	case DK_SHXD:	/* a count of 0 changes no flag */
	case DK_BITSCAN: /* ZF only: the others pass */
		break;
	case DK_BT:	/* CF only: the others pass */
		live = live || di->rm == DC_NONE;	/* may fault */
		break;
	case DK_ALU_RM_R:
	case DK_ALU_R_RM:
	case DK_ALU_RI:
		live = alu_reads_cf(di->op);
		break;
	case DK_TEST_RR:
	case DK_TEST_RI:
		live = false;
		break;
	case DK_SHIFT_RI:
		if (!di->imm)	/* masked to 5 or 6 bits */
			break;		/* no change at all */
		if (di->op >= 4)	/* SHL SHR SAR: all defined */
			live = false;
		else if (di->op >= 2)	/* RCL RCR read CF */
			live = true;
		/* ROL, ROR keep SF ZF PF AF: read if seen */
		break;
	case DK_MUL:
	case DK_IMUL:
	case DK_IMUL3:
	case DK_NEG:
		live = di->rm == DC_NONE;	/* may fault */
		break;
	case DK_NOT:
		live = live || di->rm == DC_NONE;
		break;
	case DK_SHIFT_CL:	/* a count of 0 changes no flag; */
		live = live || di->op == 2 || di->op == 3; /* RCL RCR */
		break;
	case DK_INC:
	case DK_DEC:
		/* Seen: the handler reads the old flags.  Unseen:
		 * inline, and the old ones pass through unseen. */
		break;
	default:
		live = true;
		break;
	}
	return live;
}

/* The same for a form whose access goes through the window (win_safe()),
 * which cannot fault: as its form of registers would. */
static bool flags_live_before_win(const struct dinsn *di, bool live)
{
	switch (di->kind) {
	case DK_ALU_R_M:
	case DK_ALU_M_R:
	case DK_ALU_M_I:
		return alu_reads_cf(di->op);
	case DK_TEST_M_R:
	case DK_TEST_M_I:
		return false;
	}
	return live;	/* a load or a store: they pass */
}

/*
 * Which instructions' flags are ever seen: walking back from the block's
 * end (where anyone may look), flags die at each inline form that sets
 * them all.  They are seen before anything that may fault or call out, so
 * that an exception finds them exact, as on the real thing.
 */
static void flags_liveness(struct jctx *x)
{
	bool live = true;
	const struct dinsn *di;
	u32 i;

	for (i = x->b->n; i-- > 0;) {
		di = &x->b->d[i];
		x->flags_live[i] = live;
		live = win_safe(x, i) ? flags_live_before_win(di, live) :
		       flags_live_before(di, live);
		/* The check before an instruction that runs on into the
		 * next page may leave (emit_straddle_check()). */
		if (i + 1 == x->b->n && x->b->straddle)
			live = true;
		if (i == x->b->thunk_i && x->b->thunk_host)
			live = true;	/* emit_thunk_check() may leave */
	}
}

/* The bit of the guest register that holds r of size bytes (greg_sz()). */
static u32 reg_bit(int r, int size)
{
	return 1u << greg_of(greg_sz(r, size));
}

/*
 * The guest registers (a bit each) that an instruction of the forms
 * below writes; REGS_UNKNOWN for forms this does not know.
 */
static u32 regs_written(const struct dinsn *di)
{
	switch (di->kind) {
	case DK_STORE:
	case DK_STORE_I:
	case DK_TEST_RR:
	case DK_TEST_RI:
	case DK_TEST_M_R:
	case DK_TEST_M_I:
		return 0;
	case DK_ALU_M_R:
	case DK_ALU_M_I:
		return alu_reads_cf(di->op) ? REGS_UNKNOWN : 0;
	case DK_LOAD:
		return reg_bit(di->reg, di->size);
	case DK_LOADX:
	case DK_LEA:
		return reg_bit(di->reg, 4);
	case DK_PUSH:
	case DK_PUSH_I:
		return reg_bit(R_ESP, 4);
	case DK_POP:
		return reg_bit(R_ESP, 4) | reg_bit(di->reg, 4);
	case DK_ALU_R_M:
	case DK_ALU_R_RM:
		return alu_reads_cf(di->op) ? REGS_UNKNOWN :
		       reg_bit(di->reg, di->size);
	case DK_MOV_R_RM:
		return reg_bit(di->reg, di->size);
	case DK_MOV_RM_R:
	case DK_MOV_RI:
		return reg_bit(di->rm, di->size);
	case DK_NOT:		/* of memory: its cold path, no register */
		return di->rm == DC_NONE ? 0 : reg_bit(di->rm, di->size);
	case DK_ALU_RM_R:
	case DK_ALU_RI:
		return alu_reads_cf(di->op) ? REGS_UNKNOWN :
		       reg_bit(di->rm, di->size);
	}
	return REGS_UNKNOWN;
}

/* reg_bit() of a register operand, or 0 where there is none. */
static u32 reg_mask(int r, int size)
{
	if (r >= DC_NONE || (size != 1 && r >= 16))
		return 0;
	return reg_bit(r, size);
}

/*
 * The guest registers di reads, a bit each, as a guess for
 * rc_entry_plan(): its address's, its operands' but for one it only
 * writes whole, and those its kind implies (ESP, EAX, ECX).  A wrong
 * guess costs a load at the block's entry, never the truth: what the
 * cache holds there is always the register's value.
 */
static u32 regs_read_guess(const struct dinsn *di)
{
	u32 m = reg_mask(di->base, 4) | reg_mask(di->index, 4);
	u32 reg = reg_mask(di->reg, di->size), rm = reg_mask(di->rm, di->size);
	u32 esp = reg_mask(R_ESP, 4);
	bool part = di->size < 4;	/* a write that keeps the rest */

	switch (di->kind) {
	case DK_MOV_RI:
		return part ? rm : 0;
	case DK_LOAD:
	case DK_LOADX:
	case DK_LEA:
		return m | (part && di->kind == DK_LOAD ? reg : 0);
	case DK_MOV_R_RM:
	case DK_MOVX_R:
		return rm | (part && di->kind == DK_MOV_R_RM ? reg : 0);
	case DK_MOV_RM_R:
		return reg | (part ? rm : 0);
	case DK_PUSH:
		return esp | reg;
	case DK_PUSH_I:
	case DK_PUSHF:
	case DK_POP:
	case DK_CALLREL:
	case DK_RET:
		return esp;
	case DK_PUSH_M:
		return esp | m;
	case DK_CALL_IND:
		return esp | m | rm;
	case DK_JMP_IND:
		return m | rm;
	case DK_LEAVE:
		return esp | reg_mask(R_EBP, 4);
	case DK_MUL:
		return m | rm | reg_mask(R_EAX, 4);
	case DK_SHIFT_CL:
		return rm | reg_mask(R_ECX, 4);
	case DK_SHXD:
		return rm | reg | (di->op & 2 ? reg_mask(R_ECX, 4) : 0);
	case DK_BT:
		return m | rm | (di->op & 4 ? 0 : reg);
	case DK_REP_STR:	/* ECX, EDI, and ESI or EAX */
		return reg_mask(R_ECX, 4) | reg_mask(R_EDI, 4) |
		       reg_mask((di->op & ~1) == 0xa4 ? R_ESI : R_EAX, 4);
	case DK_SHIFT_RI:
	case DK_NOT:
	case DK_NEG:
	case DK_BSWAP:
	case DK_SETCC_R:
		return m | rm;
	case DK_INC:
	case DK_DEC:
		return reg;
	case DK_X87:
	case DK_SSE:
	case DK_STORE_I:
	case DK_ALU_M_I:
	case DK_TEST_M_I:
	case DK_INCDEC_M:
	case DK_SHIFT_M:
		return m;
	case DK_JCC:
	case DK_JMP:
	case DK_NOP:
	case DK_FENCE:
	case DK_CLD_STD:
	case DK_CLI_STI:
		return 0;
	}
	return m | reg | rm;
}

/*
 * The cache a block takes from a chain (b->entry, link_chain()): the
 * registers its instructions read before anything writes them whole, in
 * the order they first do, one to a slot, up to the first call out
 * (which empties the cache: nothing carried would last past it).  Those
 * it also writes before that call may come dirty, c->r lacking them:
 * the block stores them at its ways out anyway.  The rest must come
 * clean, so that a block that only reads a register never stores it.
 */
static void rc_entry_plan(struct jctx *x, struct rc_state *e)
{
	const struct dinsn *di;
	u32 seen = 0, written = 0, rd, w, i;
	int n = 0, r, k;

	rc_state_empty(e);
	if (!x->wb)		/* only a write-back cache hands on */
		return;
	for (i = 0; i < x->b->n && n < RC_SLOTS; i++) {
		di = &x->b->d[i];
		if (di->kind == DK_CALL)
			break;
		rd = regs_read_guess(di);
		for (r = 0; r < (x->wide ? 16 : 8) && n < RC_SLOTS; r++)
			if (rd & ~seen & 1u << r)
				e->reg[n++] = (s8)r;
		w = regs_written(di);
		seen |= rd | (w == REGS_UNKNOWN ? 0 : w);
		written |= w;
	}
	for (; i < x->b->n && x->b->d[i].kind != DK_CALL; i++)
		written |= regs_written(&x->b->d[i]);
	for (k = 0; k < n; k++)
		if (written & 1u << e->reg[k])
			e->dirty |= (u8)(1u << k);
}

/* Does di set every flag without reading any (the end of a deferral)? */
static bool flags_killer(const struct dinsn *di)
{
	switch (di->kind) {
	case DK_ALU_RM_R:
	case DK_ALU_R_RM:
	case DK_ALU_RI:
	case DK_ALU_R_M:
	case DK_ALU_M_R:
	case DK_ALU_M_I:
		return !alu_reads_cf(di->op);
	case DK_TEST_RR:
	case DK_TEST_RI:
	case DK_TEST_M_R:
	case DK_TEST_M_I:
		return true;
	case DK_SHIFT_RI:	/* SHL SHR SAR by a count of 1 or more */
		return di->op >= 4 && di->imm;
	}
	return false;
}

/*
 * The form at k that ends a deferral of flags made at i, whose result is
 * in the registers of uses: the next that sets them all, with only moves
 * between (which leave those registers alone), else 0.
 */
static u32 defer_end(struct jctx *x, u32 i, u32 uses)
{
	const struct dinsn *m;
	u32 k;

	for (k = i + 1; k + 1 < x->b->n; k++) {
		m = &x->b->d[k];
		if (k == x->b->thunk_i && x->b->thunk_host)
			return 0;	/* a way out without a cold path */
		if (x->head[k])
			return 0;	/* a way in from after */
		if (flags_killer(m))
			return k;
		if (m->flow != DF_NEXT || regs_written(m) == REGS_UNKNOWN)
			return 0;
		if (!(regs_written(m) & uses))
			continue;
		/* A form that writes one of those may still be the last
		 * before the setter (its own cold path comes before it
		 * writes), if the setter has no cold path after it. */
		m = &x->b->d[k + 1];
		return k + 2 < x->b->n && flags_killer(m) && !m->mem &&
		       !x->head[k + 1] ? k + 1 : 0;
	}
	return 0;
}

/*
 * INC or DEC of a register (32-bit code), seen only by the faults before
 * the next form that sets the flags: like the ALU's below, but what its
 * cold paths need besides the result is the CF from before it, and that
 * is the lazy state in memory that it would have replaced.  Deferred, the
 * form is a plain ADD or SUB of 1, and at a block's start it no longer
 * needs the guest's flags in the host's at all.
 */
static void incdec_deferred(struct jctx *x, u32 i)
{
	const struct dinsn *di = &x->b->d[i];
	u32 k = defer_end(x, i, reg_bit(di->reg, 4));

	if (!k)
		return;
	x->deferred[i] = true;
	for (; k > i; k--) {
		x->defer[k].on = true;
		x->defer[k].kind = di->kind == DK_INC ? DEFER_INC : DEFER_DEC;
		x->defer[k].size = 4;
		x->defer[k].dst = (u8)di->reg;
	}
}

/*
 * An ALU form on registers (but ADC, SBB and CMP) whose flags are live
 * only because the loads, stores and moves after it may fault, before
 * the form that sets them all again: its flags are not stored; each of
 * those forms' cold paths (the only way out before the next setter, the
 * setter's own included) makes them in memory first, from the
 * destination's value in c->r (the result, which the cold path's own
 * stores put there first) and the source's or the immediate, which
 * nothing in between writes.  A source in memory is gone by then: the
 * form stores its value (in lf_src2) and nothing else.
 */
static void flags_deferred(struct jctx *x)
{
	const struct dinsn *di;
	u32 i, k, w, uses;
	bool logic;
	int src;

	for (i = 0; i < x->b->n; i++) {
		di = &x->b->d[i];
		if (!x->flags_live[i])
			continue;
		if (di->kind == DK_INC || di->kind == DK_DEC) {
			incdec_deferred(x, i);
			continue;
		}
		if (di->size < 4 ||
		    (di->kind != DK_ALU_RM_R && di->kind != DK_ALU_R_RM &&
		     di->kind != DK_ALU_RI && di->kind != DK_ALU_R_M) ||
		    alu_reads_cf(di->op) || di->op == 7)
			continue;
		src = di->kind == DK_ALU_RI ? DEFER_IMM :
		      di->kind == DK_ALU_R_M ? DEFER_MEM :
		      di->kind == DK_ALU_R_RM ? di->rm : di->reg;
		w = regs_written(di);
		logic = alu_is_logic(di->op);
		/* A logic result's flags come from it alone. */
		uses = w | (src >= 0 && !logic ? reg_bit(src, 4) : 0);
		if (w == REGS_UNKNOWN || (src >= 0 && uses == w && !logic))
			continue;	/* ADD/SUB of itself: src2 is gone */
		k = defer_end(x, i, uses);
		if (!k)
			continue;
		x->deferred[i] = true;
		for (; k > i; k--) {
			x->defer[k].on = true;
			x->defer[k].kind = di->op == 0 ? LF_ADD :
					   di->op == 5 ? LF_SUB : LF_LOGIC;
			x->defer[k].size = di->size;
			x->defer[k].dst = (u8)__builtin_ctz(w);
			x->defer[k].src = (s8)src;
			x->defer[k].imm = (u32)di->imm;
		}
	}
}

/*
 * A cold path's first deed where flags were deferred (flags_deferred()):
 * the lazy flags of that form made from the registers in c->r.
 */
static void e_defer_flags(struct jctx *x, const struct defer *f)
{
	struct jit *j = x->j;
	struct dinsn imm = { .imm = f->imm };

	if (f->kind == DEFER_INC || f->kind == DEFER_DEC) {
		e_flags_unknown(x, -1);	/* the flags before it */
		e_rbx_h(j, 0x8b, H_EAX, GREG(f->dst), false);
		ebytes(j, f->kind == DEFER_INC ?	/* lea eax, [rax-1] */
		       "\x8d\x40\xff\xff\xc0" :	/* inc eax */
		       "\x8d\x40\x01\xff\xc8", 5);	/* lea +1; dec eax */
		/* (in code after the block: what the translator knows
		 * of the flags where the block ends stays as it is) */
		e_flags_save_code(j);
		return;
	}

	if (f->size == 8)
		imm.imm = (u64)(s64)(s32)f->imm;
	e_rbx_h(j, 0x8b, H_EAX, GREG(f->dst), f->size == 8);
	e_store_q(j, H_EAX, CPU_FIELD(lf_res));
	if (f->kind != LF_LOGIC) {
		if (f->src >= 0)			/* mov ecx, [src] */
			e_rbx_h(j, 0x8b, H_ECX, GREG(f->src), f->size == 8);
		else if (f->src == DEFER_MEM)	/* the form stored it */
			e_rbx_h(j, 0x8b, H_ECX, CPU_FIELD(lf_src2),
				f->size == 8);
		else
			e_imm_ecx(j, &imm, f->size);
		e_store_q(j, H_ECX, CPU_FIELD(lf_src2));
		e_rexw(j, f->size);	/* src1 = res - src2, or + for SUB */
		ebytes(j, f->kind == LF_ADD ? "\x29\xc8" : "\x01\xc8", 2);
		e_store_q(j, H_EAX, CPU_FIELD(lf_src1));
	}
	e_store_imm(j, CPU_FIELD(lf_op), LF(f->kind, f->size));
}

static void e_code_at(struct jctx *x, u32 off, const u8 *want, u8 **miss);

/*
 * Before a last instruction that runs on into the next page (b->straddle,
 * straddle_decode()): that page must still be the one it was made from,
 * as a fetch through the CPL's TLB (r13) would find it.  Its bytes cannot
 * have changed unseen, as the block watches the page, but its mapping
 * can.  Where it is not (or the TLB has no entry), the block leaves before
 * the instruction, and the dispatcher has the interpreter run it
 * (emit_leave_before()), whose fetch walks the page tables.
 */
static void emit_straddle_check(struct jctx *x, u32 off)
{
	e_code_at(x, 0x1000 - off, x->b->straddle, x->straddle_miss);
}

/*
 * Before a PIC thunk's call run in line (thunk_inline()) whose thunk is in
 * another page than the block's start: the thunk's code must still be
 * where it was, as a fetch through the CPL's TLB would find it (its page
 * is watched).  Where it is not, the block leaves before the call, and
 * the interpreter runs the call (emit_leave_before()).
 */
static void emit_thunk_check(struct jctx *x)
{
	e_code_at(x, x->b->thunk_off, x->b->thunk_host, x->thunk_miss);
}

/*
 * Both checks: the code at off from the block's start (r12, and CS's base
 * in 32-bit code) must be at host address want; the three jumps in miss
 * are taken where it is not.  They leave the block: the x87's state and
 * c->r are made whole first.
 */
static void e_code_at(struct jctx *x, u32 off, const u8 *want, u8 **miss)
{
	struct jit *j = x->j;

	e_x87_flush(x);
	rc_flush(x);
	ebytes(j, x->wide ? "\x49\x8d\x84\x24" : "\x41\x8d\x84\x24", 4);
	e32(j, off);				/* lea eax, [r12+off] */
	if (!x->wide)				/* add eax, CS.base */
		e_rbx(j, "\x03", 1, 0x83, CPU_FIELD(seg) +
		      (size_t)S_CS * sizeof(struct seg) +
		      offsetof(struct seg, base));
	e_fetch_tlb(j, miss);
	e_movabs(j, 1, (u64)(uintptr_t)want);
	ebytes(j, "\x48\x39\xce", 3);			/* cmp rsi, rcx */
	miss[2] = e_jump(j, JCC_JNE, NULL);
}

/* Their way out, for the three jumps in miss: EIP at instruction i, the
 * count of i and those after it given back, and the interpreter runs i. */
static void emit_leave_before(struct jctx *x, u32 i, u8 **miss)
{
	struct jit *j = x->j;
	u32 k;

	for (k = 0; k < 3; k++)
		set_rel32(miss[k], j->p);
	e_sync_eip(j, x->off[i], x->wide);
	e_uncharge(j, x->b->n - i);
	e_exit(j, JX_BUDGET);
}

/* The block's code, after its descriptor, with a write-back cache if wb;
 * false if it had to give that up. */
static bool emit_block_as(struct jit *j, struct jblock *b, const u8 *h,
			  bool slow_next, bool wb)
{
	/* Big, so not on the stack; one per thread, as each CPU runs on
	 * one thread and translates one block at a time. */
	static __thread struct jctx x;
	u8 *over, *skip, *cold_at = NULL;
	u32 i, off = (u32)((uintptr_t)h & 0xfff);
	bool end_flags, end_pend;
	struct rc_state end_rc;
	const u8 *page = h - off;
	const struct dinsn *di;
	u32 run;

	memset(&x, 0, sizeof(x));
	x.j = j;
	x.b = b;
	x.wb = wb;
	rc_clear(&x);
	rc_cur = &x;
	x.wide = b->mode == 8;
	for (i = 0; i < b->n; i++) {
		x.off[i] = (u32)(b->d[i].host - b->host);
		x.next[i] = x.off[i] + b->d[i].len;
	}
	loop_heads(&x);
	x.win = !x.wide && !win_refused(j, b->host);
	win_plan(&x);
	flags_liveness(&x);
	flags_deferred(&x);
	/*
	 * The entries: code, with c->r whole, loads the registers a chain
	 * would hand on (b->entry); check, where a chain hands them on,
	 * sets up r12 and r13 and checks the segments, touching no cache
	 * register; hot, where a chain that needs none of that goes
	 * (chain_entry()).  drop_block() writes a call or a jump over the
	 * first 5 bytes of each, so they must hold no call and no jump (a
	 * load is the first instruction of each), and each runs on into
	 * the next.
	 */
	rc_clear(&x);
	rc_entry_plan(&x, &b->entry);
	b->code = j->p;
	for (i = 0; i < RC_SLOTS; i++)
		if (b->entry.reg[i] >= 0)
			e_rc_fill(&x, rc_host[i], b->entry.reg[i]);
	e_entry_room(j, b->code);
	b->check = j->p;
	emit_eip_in(j, x.wide);
	emit_tlb_choice(&x);
	e_entry_room(j, b->check);
	b->hot = j->p;
	over = emit_budget(j, b->n);
	memcpy(x.rc_reg, b->entry.reg, sizeof(x.rc_reg));
	x.rc_dirty = b->entry.dirty;
	/* The first to go is the one whose first use comes last. */
	for (i = 0; i < RC_SLOTS; i++)
		x.rc_used[i] = RC_SLOTS - i;
	x.rc_clock = RC_SLOTS;
	for (i = 0; i + 1 < b->n || (i < b->n && b->d[i].flow == DF_NEXT);
	     i++) {
		x.i = i;
		x.rc_insn_clock = x.rc_clock;
		x.l0_slot = L0_UNSET;
		x.win_use = false;
		di = &b->d[i];
		if (x.head[i])
			loop_head_here(&x);
		if (x.pend) {	/* what came last left them alone */
			x.host_flags_at = j->p;
			if (!pend_safe(&x, i))
				flags_settle_before(&x, i);
		}
		if (!x87_transparent(di))
			e_x87_flush(&x);
		if (i + 1 == b->n && b->straddle)
			emit_straddle_check(&x, off);
		if (i == b->thunk_i && b->thunk_host)
			emit_thunk_check(&x);
		if (x.win_ok[i] && x.win_ready != x.win_key[i]) {
			if (win_safe(&x, i))
				abort();	/* the translator's own bug */
			emit_win_check(&x);
		}
		run = emit_stack_run(&x);
		if (run) {
			i += run - 1;
			continue;
		}
		if (di->kind == DK_JCC) {
			emit_side_exit(&x, di);
			continue;
		}
		if (di->kind == DK_JMP)		/* followed (translate()) */
			continue;
		/* A PIC thunk's call, which goes on in the block */
		if (di->kind == DK_CALLREL && emit_call_ret(&x, di))
			continue;
		if (di->kind == DK_REP_STR) {	/* the rest as its own */
			emit_rep_str(&x, di);
			continue;
		}
		if (emit_simple_form(&x, di))
			continue;
		if (!emit_reg_form(&x, di) && !emit_mem_form(&x, di))
			emit_call(&x, di);
	}
	/* A Jcc that ends the block tests the host's flags as they are;
	 * each of its ways out then stores them (emit_end()). */
	end_pend = x.pend && i + 1 == b->n && b->d[i].kind == DK_JCC &&
		   !x.x87_pending;
	if (x.pend) {
		x.host_flags_at = j->p;
		if (!end_pend)
			flags_settle(&x);
	}
	x.pend = false;		/* nothing after cares till emit_end() */
	if (end_pend)
		x.flags = FK_UNKNOWN;
	e_x87_flush(&x);	/* every way out of the block comes after */
	/* The last instruction, if it moves EIP, is part of the end. */
	if (i < b->n && b->d[i].kind != DK_JCC && b->d[i].kind != DK_JMP) {
		x.i = i;
		x.rc_insn_clock = x.rc_clock;
		x.l0_slot = L0_UNSET;
		x.win_use = false;
		if (!emit_call_ret(&x, &b->d[i]) &&
		    !emit_ind_branch(&x, &b->d[i]))
			emit_call(&x, &b->d[i]);
	}
	end_flags = x.host_flags_at == j->p;
	end_rc = rc_state_now(&x);	/* emit_end() stores or hands on */
	skip = e_jump_cold(JMP);
	x.rc_dirty = 0;
	rc_clear(&x);	/* what comes after has states of its own */
	/* The shared exits, the cold paths, then the end proper. */
	x.normal = j->p;
	e_exit(j, JX_NORMAL);
	set_rel32(over, j->p);
	e_uncharge(j, b->n);
	emit_rc_stores(&x, &b->entry);
	e_exit(j, JX_BUDGET);
	b->spill = j->p;		/* drop_block() */
	emit_rc_stores(&x, &b->entry);
	e_jump(j, JMP, b->code);
	for (i = 0; i < x.nl0; i++)
		emit_l0_stub(&x, i);
	for (i = 0; i < x.nwin; i++)
		emit_win_stub(&x, i);
	for (i = 0; i < x.ncold; i++) {
		u32 k = x.cold[i].i, m;
		u8 *exits[JIT_MAX_RUN];

		if (i && x.cold[i - 1].i == k &&	/* same stub */
		    x.cold[i - 1].leave == x.cold[i].leave &&
		    x.cold[i - 1].rep == x.cold[i].rep &&
		    x.cold[i - 1].x87_sw == x.cold[i].x87_sw &&
		    rc_state_same(&x.cold[i - 1].at, &x.cold[i].at)) {
			set_rel32(x.cold[i].from, cold_at);
			continue;
		}
		cold_at = j->p;
		set_rel32(x.cold[i].from, j->p);
		emit_rc_stores(&x, &x.cold[i].at);
		if (x.cold[i].x87_sw)
			e_x87_sw(j);
		if (x.defer[k].on)
			e_defer_flags(&x, &x.defer[k]);
		if (x.cold[i].rep)
			e_refund(&x, k);
		for (m = k; m < k + x.cold[i].run; m++) {
			e_sync_eip(j, x.off[m], x.wide);
			e_call_fn(j, &b->d[m], b->d[m].fn);
			/* A device may have raised INTR or asked us to
			 * stop; a store may have reached this code. */
			exits[m - k] = m + 1 < b->n && !x.cold[i].rep ?
				       e_check_intr(j) : NULL;
		}
		if (x.cold[i].leave) {
			if (!x.cold[i].rep)
				e_refund(&x, k + x.cold[i].run - 1);
			e_jump(j, JMP, x.normal);
		} else {
			if (x.cold[i].host_flags)
				e_host_flags_in(j);
			e_rc_reload(&x, x.cold[i].rc);
			e_jump(j, JMP, x.cold[i].back);
		}
		for (m = k; m < k + x.cold[i].run; m++) {
			if (!exits[m - k])
				continue;
			set_rel32(exits[m - k], j->p);
			e_refund(&x, m);
			e_jump(j, JMP, x.normal);
		}
	}
	emit_side_exits(&x, page, off);
	if (x.tlb_bad) {		/* r13 = the empty TLB */
		set_rel32(x.tlb_bad, j->p);
		e_movabs(j, 0, (u64)(uintptr_t)&j->no_tlb);
		ebytes(j, "\x49\x89\xc5", 3);		/* mov r13, rax */
		e_jump(j, JMP, x.tlb_back);
	}
	/* INTR after a handler that touched memory. */
	for (i = 0; i < b->n; i++) {
		if (!x.intr_at[i])
			continue;
		set_rel32(x.intr_at[i], j->p);
		e_refund(&x, i);
		e_jump(j, JMP, x.normal);
	}
	if (b->straddle)
		emit_leave_before(&x, b->n - 1, x.straddle_miss);
	if (b->thunk_host)
		emit_leave_before(&x, b->thunk_i, x.thunk_miss);
	set_rel32(skip, j->p);
	x.host_flags_at = end_flags ? j->p : NULL;
	x.pend = end_pend;
	emit_end(&x, page, off, slow_next, &end_rc);
	rc_cur = NULL;
	return !x.wb_failed;
}

/*
 * The block's code.  Its cache is write-back: c->r gets a register's new
 * value only where something can look (rc_flush()).  A form that reaches
 * c->r by itself must have what it reads stored first, and does where
 * the translator knows it; should one not, the block is made again with
 * a write-through cache (which tests/jit's LGUEST_JIT_STRICT=1 turns into
 * an abort(), so that none goes unseen).
 */
static void emit_block(struct jit *j, struct jblock *b, const u8 *h,
		       bool slow_next)
{
	u8 *start = j->p;

	if (emit_block_as(j, b, h, slow_next, true))
		return;
	if (j->strict)
		abort();
	j->write_through++;
	j->p = start;
	emit_block_as(j, b, h, slow_next, false);
}

/*
 * In 64-bit code a branch must not leave the canonical addresses: its
 * handler checks that, so a Jcc, JMP or CALL whose target (end, the page
 * offset past it, plus its displacement) lies outside the block's page
 * runs there (and the block ends by looking the target up).  A target
 * within the page is as canonical as the block.
 */
static void far_branch_by_handler(struct dinsn *di, u32 end)
{
	s64 to = (s64)end + (s32)di->imm;

	if ((di->kind == DK_JCC || di->kind == DK_JMP ||
	     di->kind == DK_CALLREL) && (to < 0 || to > 0xfff))
		di->kind = DK_CALL;
}

/*
 * Watching code for writes.  Each block is put in the list of every page
 * of RAM its bytes lie in (today one: a block ends at its page's end),
 * and the page is marked (mmu_watch_code()), which makes every TLB entry
 * of it read-only to the inline stores.  A write to a marked page, by
 * the CPU (phys_write()) or by anyone else (cpu_mem_written()), comes to
 * jit_code_written() before it lands: every block of the page is dropped
 * and the mark goes, so the writes after it run at full speed until the
 * page holds code again.  Dropping a block takes it out of the table and
 * the recent lookups, and writes over its entry a call to j->dropped, so
 * that chains and anything else that kept its entry go on to the block
 * made again in its place (forward()); its code stays in the arena
 * (unreachable) until the next flush.
 *
 * The block that is running may be the one dropped (it stored into its
 * own code, or a handler in it reached a device that DMAed there): the
 * rest of it must not run.  Only a call out can drop code (an inline
 * store never reaches a marked page), and after every call out that may
 * touch memory a block checks c->intr (or ends): INTR_CODE set there
 * makes it leave at once, after that instruction, with EIP and icount
 * right, as a real CPU makes the new code seen.
 */
static void watch_block(struct cpu *c, struct jblock *b)
{
	struct jit *j = c->jit;
	u32 k;

	for (k = 0; k < JIT_BLOCK_PAGES && b->page[k] != NO_PAGE; k++) {
		b->page_next[k] = j->page_blocks[b->page[k]];
		j->page_blocks[b->page[k]] = b;
		mmu_watch_code(c, b->page[k] << 12);
	}
}

static void drop_block(struct cpu *c, struct jblock *b)
{
	struct jit *j = c->jit;
	u32 r = recent_index(b->host);
	struct jblock **p;

	if (b->dropped)
		return;
	b->dropped = true;
	if (j->recent[r].b == b)
		memset(&j->recent[r], 0, sizeof(j->recent[r]));
	for (p = &j->tab[tab_index(c, b->host)]; *p; p = &(*p)->next) {
		if (*p == b) {
			*p = b->next;
			break;
		}
	}
	*JIT_W(b->code) = CALL;
	set_rel32(b->code + 1, j->dropped);
	/* The entries from chains store what c->r lacks, on to code. */
	if (b->check != b->code) {
		*JIT_W(b->check) = JMP;
		set_rel32(b->check + 1, b->spill);
	}
	*JIT_W(b->hot) = JMP;
	set_rel32(b->hot + 1, b->spill);
	j->drops++;
}

/*
 * From a dropped block's entry, whose call to j->dropped returns to
 * after: the code of the block now at CS:EIP (the same guest code, made
 * again), and the entry then jumps there itself, so that the chains and
 * links into the dropped block cost a jump, not a lookup, each time.
 */
static const u8 *forward(struct cpu *c, u8 *after)
{
	const u8 *code = find(c);

	if (code) {
		*JIT_W(after - 5) = JMP;
		set_rel32(after - 4, code);
	}
	return code;
}

/*
 * A block whose window failed WIN_FAILS times (emit_win_stub()): a stack
 * frame that runs over a page's end, say, which each call finds again.
 * It is made again, without one, the next time it runs.
 */
static void win_give_up(struct cpu *c, struct jblock *b)
{
	struct jit *j = c->jit;

	j->no_win[j->no_win_next++ % WIN_NOT] = b->host;
	drop_block(c, b);
}

/* Called only for a range within RAM. */
void jit_code_written(struct cpu *c, u32 pa, u32 len)
{
	struct jit *j = c->jit;
	u32 pg, last = (pa + len - 1) >> 12, k;
	struct jblock *b, *next;
	bool any = false;

	for (pg = pa >> 12; pg <= last; pg++) {
		if (!page_has_code(c, pg << 12))
			continue;
		c->code_pages[pg >> 5] &= ~(1u << (pg & 31));
		for (b = j->page_blocks[pg]; b; b = next) {
			for (k = 0; b->page[k] != pg; k++)
				;
			next = b->page_next[k];
			drop_block(c, b);
		}
		j->page_blocks[pg] = NULL;
		j->code_writes++;
		any = true;
	}
	if (any && c->jit_active)
		c->intr |= INTR_CODE;
}

/* The linear address of the page after CS:EIP's. */
static u64 next_page_lin(const struct cpu *c, int mode)
{
	u64 lin = mode == 8 ? c->rip : (u32)(c->seg[S_CS].base + c->eip);

	lin = (lin | 0xfff) + 1;
	return mode == 8 ? lin : (u32)lin;
}

/* Has the TLB the page after CS:EIP's, for a fetch (b->retry)? */
static bool next_page_fetchable(struct cpu *c, int mode)
{
	u64 lin = next_page_lin(c, mode);

	return tlb_fetch_hit(c, lin);
}

/*
 * The instruction at h, first bytes before the end of its page, which runs
 * over into the next page: decoded into di from those bytes and the next
 * page's (as the TLB has it now, else not at all), as the block's last
 * instruction, if the decoder has a form for it that blocks may run.  One
 * that goes on to the next instruction runs as any other form does, and
 * *page2 is its second page, in RAM: the block watches that page too,
 * and checks before the instruction that the page is still mapped there
 * (emit_straddle_check()).  A branch runs by h_straddle(), which compares
 * its bytes each time.  The block starts in the page of CS:EIP
 * (translate() is called from lookup()).  Returns its length, or 0, with
 * *no_tlb set if that was for want of the next page in the TLB: the
 * block is then made again once the TLB has it (lookup()), for a block
 * that stops short of the instruction leaves for the dispatcher each
 * time, and one that would start with it is the interpreter's.
 */
static u32 straddle_decode(struct cpu *c, const u8 *h, u32 first, int mode,
			   struct dinsn *di, const u8 **page2, bool *no_tlb)
{
	u8 buf[2 * MAX_INSN_LEN];
	u64 lin = next_page_lin(c, mode);
	const struct tlb_entry *e = tlb_entry_for(c, lin);
	u32 len;

	if (first >= MAX_INSN_LEN)
		return 0;
	if (!tlb_fetch_hit(c, lin)) {
		*no_tlb = true;
		return 0;
	}
	memcpy(buf, h, first);
	memcpy(buf + first, tlb_host(e, lin), MAX_INSN_LEN);
	len = dc_decode(buf, first + MAX_INSN_LEN, mode, di);
	if (len <= first)
		return 0;
	di->host = h;
	if (di->flow == DF_NEXT && di->kind != DK_JCC) {
		*page2 = tlb_host(e, lin);
		return len;
	}
	memset(di->raw, 0, sizeof(di->raw));
	memcpy(di->raw, buf, len);
	di->mode = (u8)mode;
	di->fn = h_straddle;
	di->kind = DK_CALL;
	/* EIP from the interpreter, and what the block takes as given
	 * made again after a form that may change it. */
	di->flow = di->flow == DF_LEAVE ? DF_LEAVE : DF_INDIRECT;
	di->mem = 1;
	return len;
}

/*
 * A call of a PIC thunk (mov reg, [esp]; ret), which i686 code makes
 * to find its own address at the start of almost every function
 * (__x86.get_pc_thunk.bx and the like): made three forms in line, which
 * do what the call, the MOV and the RET do, one instruction each:
 * the call itself, which pushes the return address but goes on in the
 * block (DF_NEXT), the MOV from the thunk's bytes (at its EIP, for a
 * fault), LEA ESP, [ESP+4] for the RET (at whatever EIP: it cannot fault;
 * its end is the call's), and the block goes on after the call.  The
 * return address is worked out at run time from the block's EIP (r12),
 * as every call's is, never taken from the linear address the block was
 * made for: a block serves every linear address that maps its page, and
 * a shared library's page or the vDSO's is mapped at another address in
 * each process (a PUSH of that address once made ping's clock_gettime()
 * read another process's vvar page).  Where the thunk lies in another
 * page, the block watches that page and checks where it is before the
 * call (*t: its host address, its offset from the block's start, its
 * page).  32-bit code; the thunk as the TLB has it now, else not at all.
 */
struct thunk {
	const u8 *host;
	u32 off, page;
	bool check;
};

static bool thunk_inline(struct cpu *c, const u8 *h, s32 pos,
			 struct dinsn *d, struct thunk *t)
{
	u32 eip = c->eip, ret = (u32)(eip + (u32)pos);
	u32 to = (u32)(ret + (u32)d->imm);
	u32 base = (u32)c->seg[S_CS].base, lin = base + to;
	const struct tlb_entry *e = tlb_entry_for(c, lin);
	u8 lea[4] = { 0x8d, 0x64, 0x24, 0x04 };
	struct dinsn f[3];
	const u8 *tb;

	if (d->kind != DK_CALLREL || d->mode != 4 ||
	    !tlb_fetch_hit(c, lin) || (lin & 0xfff) > 0x1000 - 4)
		return false;
	tb = tlb_host(e, lin);
	if (tb[0] != 0x8b || (tb[1] & 0xc7) != 0x04 || tb[1] == 0x24 ||
	    tb[2] != 0x24 || tb[3] != 0xc3)
		return false;
	f[0] = *d;
	f[0].flow = DF_NEXT;
	if (dc_decode(tb, 4, 4, &f[1]) != 3 ||
	    dc_decode(lea, sizeof(lea), 4, &f[2]) != 4)
		return false;
	f[1].host = (const u8 *)((uintptr_t)h + (to - eip));
	f[2].host = h + pos - 4;	/* its end: after the call */
	memcpy(d, f, sizeof(f));
	t->host = tb;
	t->off = to - eip;
	t->page = (u32)(tb - c->ram) >> 12;
	t->check = (lin >> 12) != ((base + eip) >> 12);
	return true;
}

/*
 * A direct JMP forward to a place in the same page: the block goes on
 * there, where the guest goes (past an else, to a shared tail).  A jump
 * back stays a block's end, so that a loop's head stays where its blocks
 * start: following the back edge of SHA-256's 60-instruction round loop
 * made each block a different turn of the loop and sha256sum ran at half
 * speed.  Following calls into the callee was no faster either.
 */
static bool follow(const struct dinsn *d, u32 off, s32 pos)
{
	s64 to = (s64)pos + (s32)d->imm;

	return d->kind == DK_JMP && to > pos && (s64)off + to <= 0xfff;
}

/*
 * Translate the block at h.  The page's bytes are copied first, so that
 * what we decode is what was there when the page was marked: a write
 * after that drops the block.  They are copied a window at a time, from
 * where the path goes (it goes only forward), not the whole page for each
 * block: a boot translates a million blocks.  A block is a path through one page: it
 * runs on past conditional jumps (their taken way leaves it) and follows
 * jumps forward within the page (follow()), so an instruction's place is
 * kept (in its dinsn's host), not worked out from the lengths before it.
 */
static struct jblock *translate(struct cpu *c, const u8 *h, int mode)
{
	struct jit *j = c->jit;
	u32 off = (u32)((uintptr_t)h & 0xfff), n = 0, len, p;
	s32 pos = 0;		/* from h: negative after a jump back */
	struct dinsn d[JIT_MAX_INSNS];
	u8 bytes[512];
	u32 wbase = 0, wend = 0;	/* the page's bytes held in bytes[] */
	bool slow_next = false;
	struct jblock *b;
	u8 *start;
	u32 k, thunk_i = 0, page0 = (u32)(h - c->ram) >> 12;
	const u8 *page2 = NULL;
	bool retry = false;
	struct thunk thunk = { NULL, 0, 0, false };

	while (n < JIT_MAX_INSNS && (p = off + (u32)pos) < 0x1000) {
		if (p < wbase || (p + MAX_INSN_LEN > wend && wend < 0x1000)) {
			wbase = p;
			wend = min_u32(p + sizeof(bytes), 0x1000);
			memcpy(bytes, h - off + p, wend - wbase);
		}
		len = dc_decode(bytes + (p - wbase), wend - p, mode, &d[n]);
		/* Over the page's end, as the last?  As the first too, if it
		 * goes on to the next instruction: its check's miss leaves
		 * for the interpreter, where h_straddle()'s would come
		 * straight back to it. */
		if (!len && !(thunk.host && thunk.page != page0)) {
			len = straddle_decode(c, h + pos, 0x1000 - p, mode,
					      &d[n], &page2, &retry);
			if (len && !n && !page2)
				len = 0;
		}
		if (!len) {
			slow_next = true;
			break;
		}
		d[n].host = h + pos;	/* not the copy's */
		pos += (s32)len;
		if (mode == 8)
			far_branch_by_handler(&d[n], off + (u32)pos);
		if (d[n].flow == DF_CALL && !thunk.host &&
		    n + 4 <= JIT_MAX_INSNS &&
		    thunk_inline(c, h, pos, &d[n], &thunk)) {
			thunk_i = n;
			n += 3;
			continue;
		}
		if (d[n].flow == DF_NEXT || d[n].kind == DK_JCC ||
		    d[n].kind == DK_REP_STR) {
			n++;
			continue;
		}
		if (n + 1 < JIT_MAX_INSNS && follow(&d[n], off, pos)) {
			pos += (s32)d[n].imm;
			n++;
			continue;
		}
		n++;
		break;
	}
	if ((size_t)(j->end - j->p) < JIT_BLOCK_ROOM)
		arena_full(c);
	start = j->p;
	b = take(j, sizeof(*b) + n * sizeof(struct dinsn));
	b->host = h;
	b->mode = (u8)mode;
	b->dropped = false;
	for (k = 0; k < JIT_BLOCK_PAGES; k++)
		b->page[k] = NO_PAGE;
	b->n = n;
	memcpy(b->d, d, n * sizeof(struct dinsn));
	b->code = NULL;
	b->straddle = page2;
	b->retry = retry;
	b->thunk_i = thunk_i;
	b->thunk_off = thunk.off;
	b->thunk_host = thunk.check ? thunk.host : NULL;
	if (n == 0) {
		/* No code: lookup() compares these bytes instead. */
		b->nraw = min_u32(0x1000 - off, MAX_INSN_LEN);
		memcpy(b->raw, bytes + (off - wbase), b->nraw);
	} else {
		emit_block(j, b, h, slow_next);
		j->p = (u8 *)(((uintptr_t)j->p + 15) & ~(uintptr_t)15);
		b->page[0] = page0;
		if (page2 && (u32)(page2 - c->ram) >> 12 != b->page[0])
			b->page[1] = (u32)(page2 - c->ram) >> 12;
		if (thunk.host && thunk.page != page0)
			b->page[1] = thunk.page;
		watch_block(c, b);
		if (j->perf_map)
			fprintf(j->perf_map, "%lx %lx lg_%08x\n",
				(unsigned long)b->code,
				(unsigned long)(j->p - b->code),
				(u32)(h - c->ram));
	}
	/* JIT_BLOCK_ROOM is what the emitters can write at most. */
	if ((size_t)(j->p - start) > JIT_BLOCK_ROOM)
		abort();
	j->bytes += (size_t)(j->p - start);
	if (j->p > j->high)
		j->high = j->p;
	tab_insert(c, b);
	return b;
}

static bool slow_still(const struct jblock *b, const u8 *h)
{
	return !memcmp(h, b->raw, b->nraw);
}

/*
 * From translated code: the code of the block at CS:EIP if it is there
 * and may be entered straight away (CS, the mode and the run loop's checks
 * are as they were when we came in), else NULL; its host address in *hp.
 */
static const u8 *find_at(struct cpu *c, const u8 **hp)
{
	bool wide = cpu_64bit(c);
	u64 lin = wide ? c->rip : (u32)(c->seg[S_CS].base + c->eip);
	const struct tlb_entry *e = tlb_entry_for(c, lin);
	const struct jblock *b;
	const u8 *h;
	u32 r;

	if (!tlb_fetch_hit(c, lin))
		return NULL;
	*hp = h = tlb_host(e, lin);
	r = recent_index(h);
	if (c->jit->recent[r].host == h)
		return c->jit->recent[r].mode == (wide ? 8 : 4) ?
		       c->jit->recent[r].code : NULL;
	b = tab_find(c, h);
	return b && b->mode == (wide ? 8 : 4) ? b->code : NULL;
}

static const u8 *find(struct cpu *c)
{
	const u8 *h;

	return find_at(c, &h);
}

/* find() for e_find()'s exit whose link is at ic: the block it
 * finds, if any, is linked there for next time. */
static const u8 *find_link(struct cpu *c, u8 *ic)
{
	const u8 *h, *code = find_at(c, &h);

	if (code) {
		memcpy(JIT_W(ic), &h, sizeof(h));
		set_rel32(ic + JIT_LINK_REL, code);
	}
	return code;
}

/*
 * The block for CS:EIP, or NULL where translated code may not run: 64-bit
 * code, or 32-bit protected-mode code with a 4 GiB CS.  A block is kept
 * for the mode it was translated in; the same bytes run in the other
 * mode are translated again in its place.
 */
static struct jblock *lookup(struct cpu *c)
{
	const struct seg *cs = &c->seg[S_CS];
	struct jblock *b;
	const u8 *h;
	int mode;

	if (cpu_64bit(c)) {
		/* A fetch at a non-canonical RIP faults: the interpreter's. */
		if (unlikely(!canonical(c->rip)))
			return NULL;
		mode = 8;
		h = code_host(c, c->rip);
	} else if (likely(cs->limit == 0xffffffffu && SEG_DB(cs->attr) &&
			  !cpu_vm86(c) && cpu_pmode(c))) {
		mode = 4;
		h = code_host(c, (u32)(cs->base + c->eip));
	} else {
		return NULL;
	}
	if (unlikely(!h))
		return NULL;
	b = tab_find(c, h);
	if (unlikely(b && b->retry) && next_page_fetchable(c, mode)) {
		if (b->code)
			drop_block(c, b);
		return translate(c, h, mode);
	}
	if (likely(b) && b->mode == mode && (b->code || slow_still(b, h)))
		return b;
	return translate(c, h, mode);
}

/* lookup() at an instruction boundary, with the interpreter's notion of
 * where the instruction began kept, for a fault in the lookup itself. */
static struct jblock *lookup_here(struct cpu *c)
{
	cpu_insn_begins(c);
	return lookup(c);
}

/*
 * Where a chain from a block in the same page (emit_chain()) may enter b.
 * Its entry loads EIP into r12, r13 with the TLB and checks that the
 * segments its accesses use are flat (emit_tlb_choice()); a chain has
 * already set r12, and r13 is what its block checked.  So it may jump
 * past all that, to the budget's charge (b->hot), when b needs no
 * segment its block did not check; else to the checks (b->check).  (A
 * block whose check failed had the empty TLB in r13, which its chain
 * then carries on: every access takes its cold path, which checks it
 * all.)
 */
static u8 *chain_entry(const struct cpu *c, const struct jblock *b)
{
	return b->need & ~c->jit_chain_need ? b->check : b->hot;
}

/* An adapter's moves: src[k], the slot whose register slot k takes (a
 * slot, RC_SLOTS for rax, else ADAPT_LOAD or ADAPT_NONE), made as
 * parallel moves: a register another move still reads is written last,
 * and a cycle goes round through rax. */
enum { ADAPT_LOAD = -1, ADAPT_NONE = -2 };

static int adapt_host(int k)
{
	return k == RC_SLOTS ? H_EAX : rc_host[k];
}

static void e_adapt_moves(struct jit *j, s8 *src)
{
	int k, m, left;

	for (;;) {
		left = -1;
		for (k = 0; k < RC_SLOTS; k++) {
			if (src[k] < 0)
				continue;
			left = k;
			for (m = 0; m < RC_SLOTS; m++)
				if (m != k && src[m] == k)
					break;
			if (m == RC_SLOTS)
				break;
		}
		if (left < 0)
			return;
		if (k == RC_SLOTS) {	/* a cycle: left's value to rax */
			e_mov_rr(j, H_EAX, rc_host[left], 8);
			for (m = 0; m < RC_SLOTS; m++)
				if (src[m] == left)
					src[m] = RC_SLOTS;
			continue;
		}
		e_mov_rr(j, rc_host[k], adapt_host(src[k]), 8);
		src[k] = ADAPT_NONE;
	}
}

/*
 * The code between a chain's jump, whose cache is from, and the entry
 * target of a block whose cache must be to: the registers c->r lacks
 * and to does not take dirty stored, the rest moved to their slots in
 * to, and those from lacks loaded, then a jump to target.  It is written
 * at jmp, over the chain's jump and its way out to the dispatcher, which
 * it no longer needs, so that it sits beside the block it leaves, in the
 * same lines of the host's cache.  False, and nothing written, if
 * nothing needs doing.
 */
static bool emit_adapter(struct jit *j, u8 *jmp, const struct rc_state *from,
			 const struct rc_state *to, bool wide,
			 const u8 *target)
{
	u8 *p = j->p;

	j->p = jmp;
	if (!e_adapt(j, from, to, wide)) {
		j->p = p;
		return false;
	}
	e_jump(j, JMP, target);
	if (j->p - jmp > JIT_ADAPTER_MAX)
		abort();		/* the translator's own bug */
	j->p = p;
	j->adapters++;
	return true;
}

/* An adapter's stores, moves and loads, from cache from to cache to, here;
 * false if there are none. */
static bool e_adapt(struct jit *j, const struct rc_state *from,
		    const struct rc_state *to, bool wide)
{
	s8 src[RC_SLOTS];
	u8 store = 0;
	int k, d, r;

	for (k = 0; k < RC_SLOTS; k++) {
		d = slot_of(to->reg, from->reg[k]);
		if ((from->dirty & 1u << k) &&
		    (d < 0 || !(to->dirty & 1u << d)))
			store |= (u8)(1u << k);
	}
	for (d = 0; d < RC_SLOTS; d++) {
		r = to->reg[d];
		k = r < 0 ? ADAPT_NONE : slot_of(from->reg, r);
		src[d] = (s8)(r >= 0 && k < 0 ? ADAPT_LOAD :
			      k == d ? ADAPT_NONE : k);
		if (src[d] != ADAPT_NONE)
			store |= 0x80;
	}
	if (!store)
		return false;
	for (k = 0; k < RC_SLOTS; k++)
		if (store & 1u << k)
			e_mov_disp(j, 0x89, rc_host[k], 3,
				   (u32)GREG(from->reg[k]), wide);
	e_adapt_moves(j, src);
	for (d = 0; d < RC_SLOTS; d++)
		if (src[d] == ADAPT_LOAD)
			e_mov_disp(j, 0x8b, rc_host[d], 3,
				   (u32)GREG(to->reg[d]), wide);
	return true;
}

/*
 * Patch the chain's jump that just came out (c->jit_chain_at) to go to b
 * from now on.  Its cache (c->jit_chain_rc) goes to b's entry from a
 * chain (chain_entry()), through an adapter where the registers are not
 * already where b wants them.  (Should the modes differ, which nothing
 * that chains can do, it is stored and the jump goes to b's full entry.)
 */
static void link_chain(struct cpu *c, struct jblock *b)
{
	struct rc_state from, none;
	int mode = rc_state_decode(c->jit_chain_rc, &from);
	bool same = mode == b->mode;
	const u8 *to = same ? chain_entry(c, b) : b->code;

	rc_state_empty(&none);
	if (!emit_adapter(c->jit, c->jit_chain_at - 1, &from,
			  same ? &b->entry : &none, mode == 8, to))
		set_rel32(c->jit_chain_at, to);
	if (same && (from.dirty || b->check != b->code))
		c->jit->hot_links++;
}

/*C:157
 * With the translator, the run loop hands whole chains of blocks to
 * jit_run(): each block charges its instructions, calls
 * the handlers one after another and jumps to the next block in the page.
 * It comes back here for an interrupt, the end of the budget, a return or
 * an indirect jump, and for each instruction without a fast handler,
 * which the interpreter then runs.
 :*/
void jit_run(struct cpu *c, u64 end)
{
	struct jit *j = c->jit;
	struct jblock *b;
	unsigned gen;
	int why = JX_NORMAL;

	icount_end_at(c, end);
	c->intr &= ~INTR_CODE;
	/* Whatever happened to the TLBs outside, their caches start empty
	 * (a struct cpu set up or copied whole may hold anything there). */
	tlb_l0_drop(c);
	b = lookup_here(c);
	while (b && b->code) {
		gen = j->generation;
		jit_prepare(c);
		c->jit_active = true;
		why = j->enter(c, b->code);
		c->jit_active = false;
		c->intr &= ~INTR_CODE;	/* it has left */
		if (c->jit_win_drop) {
			if (j->generation == gen)
				win_give_up(c, c->jit_win_drop);
			c->jit_win_drop = NULL;
		}
		if (why == JX_BUDGET)
			break;
		if (c->intr || c->stop || icount_of(c) >= end ||
		    (c->eflags & (F_TF | F_RF)))	/* after an IRET */
			return;
		b = lookup_here(c);
		/* The exit came from a jump that may now go straight here. */
		if (why == JX_CHAIN && b && b->code &&
		    j->generation == gen && b->host == c->jit_chain_host)
			link_chain(c, b);
	}
	/*
	 * One instruction the translator leaves to the interpreter, or after
	 * a block too long for what is left of the budget, that rest: its
	 * fast path runs up to the budget's end (or the page's), where one
	 * instruction at a time would come back here and look the same
	 * block up again for each (2% of xz's time with blocks of 64).
	 * After a budget exit EIP may be blocks past the last lookup (chains
	 * ran on without one), so the interpreter's notion of where the
	 * instruction began is brought up to date: a fault in it must return
	 * the guest here, not to where the chain started: the guest's #PF
	 * handler would resume it there, with ESP as it was then, and run
	 * again what had already run (tests/jit's slices find it).
	 */
	if (icount_of(c) < end) {
		cpu_insn_begins(c);
		if (why == JX_BUDGET) {
			cpu_exec_run(c, end);
			return;
		}
		cpu_exec_cached(c);
		c->ictr++;
	}
}

/*C:158
 * The arena.  Its address space is reserved whole at the start, both
 * views of JIT_ARENA_MAX, so that the distance between them never
 * changes; the memfd behind them is sparse, so a page of it costs the
 * host memory only once code has been written there.  What moves is the
 * limit the translator fills to (j->end).  It starts at JIT_ARENA_FIRST
 * (LGUEST_JIT_ARENA=size in the environment sets another, for tests),
 * and when the arena is full one of two things happens:
 *
 *  - It filled within JIT_GROW_INSNS guest instructions of the last time:
 *    what the guest runs does not fit, and emptying it would only have the
 *    same code translated again at once.  The limit doubles, up to
 *    JIT_ARENA_MAX, and every block stays.
 *  - Otherwise the code in it is mostly old (a boot's, a program that has
 *    ended): it is emptied, and its memory given back to the host, so an
 *    idle guest keeps only what it has translated since.  If filling it
 *    took more than JIT_SHRINK_INSNS, the limit halves too (not below
 *    where it started).
 *
 * A guest that has booted and sits idle translates nothing new, so the
 * arena never fills again and would keep what the boot needed (tens of
 * MiB) for ever.  So the machine tells us when the guest has been idle a
 * while (cpu_jit_trim()), and an arena holding more than JIT_TRIM_FLOOR
 * and more than its first limit is emptied and given back then, its
 * limit back to where it started: what the idle guest still runs (its
 * timer tick, the shell waiting for a key) is translated again within a
 * tick or two, and is small.  Small, but not nothing: Debian's 686 guest
 * idling at its prompt runs about 3 MiB of translated code, and the
 * machine calls again after each stretch of the guest's periodic work
 * that fills a whole slice, every few seconds.  An arena no bigger than
 * it started holds no more than that, and emptying it again would only
 * cost the translating of it all once more (5 ms or so of the host's
 * time, every few seconds, and the ticks after it run cold).
 *
 * Neither needs a system call that the sandbox would have to allow beyond
 * madvise(MADV_REMOVE), which the allocator has anyway; no page is mapped
 * or made executable after the start.
 :*/
#define JIT_GROW_INSNS 200000000ULL
#define JIT_SHRINK_INSNS (16 * JIT_GROW_INSNS)
#define JIT_TRIM_FLOOR (1u << 20)

/* Hands the pages of [from, j->high) back to the host: they read as zero
 * afterwards, in both views. */
static void arena_release(struct jit *j, u8 *from)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	u8 *a = (u8 *)(((uintptr_t)from + page - 1) & ~(page - 1));

	if (j->high > a)
		madvise(JIT_W(a), (size_t)(j->high - a), MADV_REMOVE);
	j->high = from;
}

static void arena_full(struct cpu *c)
{
	struct jit *j = c->jit;
	u64 took = icount_of(c) - j->filled_at;
	size_t limit = (size_t)(j->end - j->arena);

	j->filled_at = icount_of(c);
	if (took < JIT_GROW_INSNS && limit < JIT_ARENA_MAX) {
		j->end = j->arena + 2 * limit;
		j->grown++;
		return;
	}
	if (took > JIT_SHRINK_INSNS && limit / 2 >= j->first)
		j->end = j->arena + limit / 2;
	flush(c);
	arena_release(j, j->start);
}

void cpu_jit_trim(struct cpu *c)
{
	struct jit *j = c->jit;

	if (!j || (size_t)(j->high - j->start) <= JIT_TRIM_FLOOR ||
	    j->high <= j->arena + j->first)
		return;
	j->end = j->arena + j->first;
	j->filled_at = icount_of(c);
	flush(c);
	arena_release(j, j->start);
	j->trims++;
}

/* LGUEST_JIT_ARENA: the arena's first limit, in bytes or with a k or m
 * suffix, between JIT_ARENA_MIN and JIT_ARENA_MAX. */
static size_t first_limit(void)
{
	const char *env = getenv("LGUEST_JIT_ARENA");
	unsigned long long v;
	char *end;

	if (!env || !*env)
		return JIT_ARENA_FIRST;
	v = strtoull(env, &end, 0);
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	if (*end || v < JIT_ARENA_MIN || v > JIT_ARENA_MAX) {
		fprintf(stderr, "lguest: LGUEST_JIT_ARENA=%s: want a size "
			"from %uk to %um\n", env, JIT_ARENA_MIN >> 10,
			JIT_ARENA_MAX >> 20);
		exit(1);
	}
	return (size_t)v;
}

/*
 * The arena's two views of one memfd: executable at the returned address,
 * writable JIT_ARENA_MAX above it (JIT_W).  The address space for both
 * is reserved first, so that the distance is fixed.  NULL if the host
 * will not have it (no memfd_create): then the interpreter runs alone,
 * rather than from memory both writable and executable.
 */
static u8 *map_arena(void)
{
	size_t size = JIT_ARENA_MAX;
	u8 *base, *x, *w;
	int fd;

	fd = memfd_create("lguest-jit", MFD_CLOEXEC);
	if (fd < 0)
		return NULL;
	base = mmap(NULL, 2 * size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (base == MAP_FAILED || ftruncate(fd, (off_t)size) < 0)
		goto fail;
	x = mmap(base, size, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED,
		 fd, 0);
	w = mmap(base + size, size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, fd, 0);
	if (x != base || w != base + size)
		goto fail;
	close(fd);
	return base;
fail:
	if (base != MAP_FAILED)
		munmap(base, 2 * size);
	close(fd);
	return NULL;
}

/*
 * LGUEST_PERFMAP=1 names each block for perf (perf's /tmp/perf-PID.map:
 * "lg_" and the guest physical address of its first byte), so that
 * `perf report` shows where in the guest the translated code's time goes.
 * A tool for developers: it is opened before the sandbox closes the file
 * system, and an arena emptied and filled again names addresses twice.
 */
static void open_perf_map(struct jit *j)
{
	const char *env = getenv("LGUEST_PERFMAP");
	char path[64];

	if (!env || strcmp(env, "1"))
		return;
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	j->perf_map = fopen(path, "w");
	if (!j->perf_map) {
		perror(path);
		return;
	}
	setvbuf(j->perf_map, NULL, _IOLBF, 0);
}

void jit_init(struct cpu *c)
{
	const char *env = getenv("LGUEST_JIT");
	size_t first = first_limit();
	struct jit *j;
	int k;

	c->jit = NULL;
	if (env && !strcmp(env, "0"))
		return;
	j = calloc(1, sizeof(*j));
	if (!j)
		return;
	env = getenv("LGUEST_JIT_STRICT");
	j->strict = env && !strcmp(env, "1");
	j->npages = (u32)(((u64)c->ram_size + 0xfff) >> 12);
	j->page_blocks = calloc(j->npages, sizeof(*j->page_blocks));
	c->code_pages = calloc((j->npages + 31) / 32, sizeof(u32));
	j->arena = map_arena();
	if (!j->arena || !j->page_blocks || !c->code_pages) {
		if (j->arena)
			munmap(j->arena, 2 * (size_t)JIT_ARENA_MAX);
		free(j->page_blocks);
		free(c->code_pages);
		c->code_pages = NULL;
		free(j);
		return;
	}
	for (k = 0; k < TLB_L0_SLOTS; k++) {	/* nothing, ever */
		j->no_tlb.l0[k].rpage = TLB_L0_NONE;
		j->no_tlb.l0[k].wpage = TLB_L0_NONE;
	}
	j->first = first;
	j->end = j->arena + first;
	j->p = j->arena;
	emit_trampolines(j);
	c->jit = j;
	flush(c);
	j->high = j->p;
	open_perf_map(j);
}

void jit_free(struct cpu *c)
{
	struct jit *j = c->jit;

	if (!j)
		return;
	munmap(j->arena, 2 * (size_t)JIT_ARENA_MAX);
	if (j->perf_map)
		fclose(j->perf_map);
	free(j->page_blocks);
	free(c->code_pages);
	c->code_pages = NULL;
	free(j);
	c->jit = NULL;
}

void cpu_jit_stats(const struct cpu *c, struct cpu_jit_stats *st)
{
	const struct jit *j = c->jit;

	*st = (struct cpu_jit_stats){ 0 };
	if (!j)
		return;
	st->limit = (size_t)(j->end - j->arena);
	st->used = (size_t)(j->p - j->arena);
	st->bytes = j->bytes;
	st->flushes = j->generation - 1;
	st->grown = j->grown;
	st->trims = j->trims;
	st->resident = (size_t)(j->high - j->arena);
	st->code_writes = j->code_writes;
	st->drops = j->drops;
	st->write_through = j->write_through;
	st->adapters = j->adapters;
	st->hot_links = j->hot_links;
}

#else	/* no translator for this host */

void jit_init(struct cpu *c)
{
	c->jit = NULL;
}

void jit_free(struct cpu *c)
{
	(void)c;
}

void jit_run(struct cpu *c, u64 end)
{
	cpu_exec_run(c, end);
}

/* Never called: without a translator no page is marked. */
void jit_code_written(struct cpu *c, u32 pa, u32 len)
{
	(void)c;
	(void)pa;
	(void)len;
}

void cpu_jit_stats(const struct cpu *c, struct cpu_jit_stats *st)
{
	(void)c;
	*st = (struct cpu_jit_stats){ 0 };
}

void cpu_jit_trim(struct cpu *c)
{
	(void)c;
}

#endif
