/*
 * The runtime of the cpusys test programs: reporting through the debug
 * ports, descriptor tables, paging, traps, and a way into ring 3 and back.
 *
 * The harness (run.c) gives the program RAM, prints what it writes to
 * port 0xe9, raises the interrupt vector written to port 0xf0 on the
 * INTR pin, and ends with the status written to port 0xf4.
 */
#ifndef CPUSYS_LIB_H
#define CPUSYS_LIB_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define PORT_CONSOLE 0xe9
#define PORT_IRQ     0xf0
#define PORT_EXIT    0xf4
#define IRQ_PORT_MAGIC 0x4c47	/* what the harness's port 0xf0 reads */

/* Selectors of the GDT lib.c builds. */
#define KCODE 0x08
#define KDATA 0x10
#define UCODE 0x1b
#define UDATA 0x23
#define TSS_MAIN 0x28
#define TSS_DF   0x30
#define SEL_NP   0x38	/* a data segment marked not present */
#define SEL_EXPDN 0x40	/* expand-down data, limit 0xfff */
#define SEL_CALLGATE 0x4b	/* DPL-3 call gate to kernel code (RPL 3) */
#define SEL_LDT  0x50
#define SEL_CODE16 0x58	/* 16-bit code and data, base 0, limit 64 KiB: */
#define SEL_DATA16 0x60	/* the way down to real mode */
#define GDT_ENTRIES 13

/* Page-table bits. */
#define PTE_P 0x001
#define PTE_W 0x002
#define PTE_U 0x004
#define PTE_A 0x020
#define PTE_D 0x040
#define PTE_PS 0x080
#define PTE_G 0x100

struct frame {
	u32 es, ds;
	u32 edi, esi, ebp, esp0, ebx, edx, ecx, eax;
	u32 vec, err;
	u32 eip, cs, eflags;
	u32 esp, ss;	/* only after a privilege change */
};

/* What the last trap saw. */
struct trap_rec {
	u32 count, vec, err, eip, cs, cr2, eflags, ss, esp;
};
extern volatile struct trap_rec last;
/* If set, the next trap returns there instead of to the faulting
 * instruction (and resume is cleared). */
extern volatile u32 resume;
/* If set, called for every trap after it is recorded. */
extern void (*volatile trap_hook)(struct frame *f);

struct kjmp {
	u32 ebx, esi, edi, ebp, esp, eip;
};
int kjmp_set(struct kjmp *j);
void kjmp_go(struct kjmp *j, int val) __attribute__((noreturn));

extern u32 pd[1024], pt[2][1024];
extern u64 gdt[GDT_ENTRIES];
extern u64 idt[256];
extern u32 tss_main[26 + 9], tss_df[26];

static inline void outb(u16 port, u8 v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(u16 port, u32 v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline u32 read_cr0(void)
{
	u32 v;

	asm volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static inline u32 read_cr2(void)
{
	u32 v;

	asm volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

static inline u32 read_cr3(void)
{
	u32 v;

	asm volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static inline u32 read_cr4(void)
{
	u32 v;

	asm volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static inline void write_cr0(u32 v)
{
	asm volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

static inline void write_cr3(u32 v)
{
	asm volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static inline void write_cr4(u32 v)
{
	asm volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

static inline void invlpg(u32 addr)
{
	asm volatile("invlpg (%0)" : : "r"(addr) : "memory");
}

static inline u16 str(void)
{
	u16 v;

	asm volatile("str %0" : "=r"(v));
	return v;
}

static inline u32 get_eflags(void)
{
	u32 v;

	asm volatile("pushfl; popl %0" : "=r"(v));
	return v;
}

/* Through asm, so that the compiler has no opinion about addresses such
 * as 0x10. */
static inline u32 rd32(u32 addr)
{
	u32 v;

	asm volatile("movl (%1), %0" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

static inline void wr32(u32 addr, u32 v)
{
	asm volatile("movl %1, (%0)" : : "r"(addr), "r"(v) : "memory");
}

void puts(const char *s);
void put_hex(u32 v);
/* One TAP line; returns cond.  Counts failures for the exit status. */
int check(int cond, const char *what);
/* As check(), printing got/want on failure. */
int check_eq(u32 got, u32 want, const char *what);

u64 seg_desc(u32 base, u32 limit, u32 type_dpl_p, u32 flags);
void set_gate(int vec, u32 type_dpl_p, u16 sel, void (*fn)(void));
void trap_gate_default(int vec, u32 type_dpl_p);
void load_tables(void);
/* Identity-map 0..8 MiB with 4 KiB user-writable pages; paging off. */
void paging_build(void);
void paging_on(void);
/* Run fn in ring 3 on its own stack; returns the value it passed to
 * user_exit() (int 0x80 with EAX = 0). */
int run_user(void (*fn)(void));
void user_exit(int v) __attribute__((noreturn));
/* The same, entering ring 3 by SYSEXIT (the SYSENTER MSRs must be set). */
int run_user_sysexit(void (*fn)(void));
void pt_reset_trap(void);

/* Back to run_user()'s caller from ring-0 code entered from ring 3. */
void user_return(int v) __attribute__((noreturn));
extern volatile u32 cg_param, cg_cs, cg_mycs, cg_esp;
void sysenter_target(void);
#define PORT_SCRATCH 0xf8	/* the harness ignores it */

/* Each program's body. */
void test_main(void);

#endif
