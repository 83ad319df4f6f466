/*
 * Virtual-8086 mode, the way kvm-unit-tests' taskswitch2 and a DOS box
 * use it: a task switch into a TSS whose EFLAGS has VM set, an INT from
 * there through a 32-bit interrupt gate to ring 0 (which pushes the
 * 8086's segment registers and empties them) and the IRET back, then an
 * exception whose task gate leads back to the first task.
 *
 * The 8086 code sits at VM_CODE; the second TSS (the cpusys library's
 * spare, TSS_DF) holds the 8086 task.
 */
#include "faults.h"

#define VM_CODE		0x8000	/* CS 0x800, IP 0 */
#define VM_VEC		0x30

/* The 8086 code: INT 0x30, then note that it came back, then UD2. */
static const u8 vm_code[] = {
	0xcd, VM_VEC,			/* int $0x30 */
	0xb8, 0x34, 0x12,		/* mov $0x1234, %ax */
	0x0f, 0x0b,			/* ud2 */
};
#define VM_UD2_IP 5

static u8 ring0_stack[1024] __attribute__((aligned(16)));
static volatile u32 seen[9];		/* the frame, from EIP up */
static volatile u32 seen_fs, seen_gs, seen_count;

static void note_vm86_frame(struct frame *f)
{
	const u32 *p = &f->eip;
	int i;

	if (f->vec != VM_VEC)
		return;
	for (i = 0; i < 9; i++)
		seen[i] = p[i];
	asm volatile("movl %%fs, %0; movl %%gs, %1"
		     : "=r"(seen_fs), "=r"(seen_gs));
	seen_count++;
}

static u64 saved_ud;

void test_main(void)
{
	u8 *code = (u8 *)VM_CODE;
	unsigned i;

	for (i = 0; i < sizeof(vm_code); i++)
		code[i] = vm_code[i];
	for (i = 0; i < 26; i++)
		tss_df[i] = 0;
	tss_df[1] = (u32)(ring0_stack + sizeof(ring0_stack));	/* ESP0 */
	tss_df[2] = KDATA;					/* SS0 */
	tss_df[0x20 / 4] = 0;				/* EIP */
	tss_df[0x24 / 4] = 0x00023002;		/* VM, IOPL 3 */
	tss_df[0x38 / 4] = 0x0ffe;			/* ESP */
	tss_df[0x48 / 4] = 0x2345;			/* ES */
	tss_df[0x4c / 4] = VM_CODE >> 4;		/* CS */
	tss_df[0x50 / 4] = 0x0700;			/* SS */
	tss_df[0x54 / 4] = 0x1234;			/* DS */
	tss_df[0x58 / 4] = 0x3456;			/* FS */
	tss_df[0x5c / 4] = 0x4567;			/* GS */
	tss_df[0x28 / 4] = 0x5555;			/* EAX */

	trap_gate_default(VM_VEC, 0xee);	/* 32-bit, DPL 3 */
	saved_ud = idt[6];
	set_gate(6, 0x85, TSS_MAIN, 0);		/* #UD: home by task gate */
	trap_hook = note_vm86_frame;
	asm volatile("ljmp %0, $0" : : "i"(TSS_DF) : "memory");
	trap_hook = 0;
	idt[6] = saved_ud;

	check_eq(str(), TSS_MAIN, "into a virtual-8086 task by JMP, and back "
		 "through #UD's task gate");
	check_eq(seen_count, 1, "INT 0x30 in virtual-8086 mode reaches the "
		 "ring-0 handler once");
	check_eq(seen[0], 2, "... the frame's EIP is past the INT");
	check_eq(seen[1], VM_CODE >> 4, "... its CS is the 8086's");
	check(seen[2] & 0x20000, "... its EFLAGS has VM set");
	check_eq(seen[3], 0x0ffe, "... then the 8086's ESP");
	check_eq(seen[4], 0x0700, "... SS");
	check(seen[5] == 0x2345 && seen[6] == 0x1234 && seen[7] == 0x3456 &&
	      seen[8] == 0x4567, "... then ES, DS, FS and GS");
	check(seen_fs == 0 && seen_gs == 0,
	      "... and the handler runs with FS and GS emptied");
	check_eq(tss_df[0x20 / 4], VM_UD2_IP,
		 "the 8086 task's TSS holds the IP of its UD2");
	check(tss_df[0x24 / 4] & 0x20000, "... and EFLAGS with VM");
	check_eq(tss_df[0x28 / 4] & 0xffff, 0x1234,
		 "... and AX as the code after the IRET set it");
	check(tss_df[0x54 / 4] == 0x1234 && tss_df[0x48 / 4] == 0x2345,
	      "... and its DS and ES, which the IRET put back");
	check_eq(tss_df[0x4c / 4], VM_CODE >> 4, "... and its CS");
}
